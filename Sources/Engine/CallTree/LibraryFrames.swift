import Foundation

/// Decides which frames are "library" frames that reports collapse into `[N frames hidden]`.
///
/// A frame is library code when it lives outside the profiled executable (libc, the Swift runtime,
/// Foundation, libdispatch, the kernel) or when its module is a well-known framework linked
/// statically into the executable (the standard library's specializations, NIO, Hummingbird, Vapor).
public struct LibraryFrameClassifier: Sendable {
    /// The profiled process's executable path; frames from any other binary are library frames.
    public var executablePath: String?
    /// Module prefixes treated as library code even inside the executable.
    public var libraryModulePrefixes: [String]

    public static let defaultLibraryModulePrefixes = [
        "Swift.", "_Concurrency.", "_StringProcessing.", "Foundation.", "FoundationEssentials.",
        "FoundationInternationalization.", "Dispatch.", "Synchronization.", "NIO", "_NIO", "Hummingbird",
        "Vapor.", "Logging.", "Metrics.", "ServiceLifecycle.", "AsyncAlgorithms.", "Atomics.",
        "ProfClient.", "ProfdProtocol.", "HTTPTypes.", "RoutingKit.",
        "(extension in Swift)", "(extension in NIO", "(extension in Hummingbird",
    ]

    public init(executablePath: String?, libraryModulePrefixes: [String] = Self.defaultLibraryModulePrefixes) {
        self.executablePath = executablePath
        self.libraryModulePrefixes = libraryModulePrefixes
    }

    public func isLibrary(_ frame: Frame) -> Bool {
        if frame.binary == ReportBuilder.routeBinary { return false }
        if let executablePath, frame.binary != executablePath { return true }
        if executablePath == nil && frame.binary.hasPrefix("[") { return true }
        return isLibraryName(Substring(frame.function))
    }

    private func isLibraryName(_ name: Substring) -> Bool {
        if name.hasPrefix(Self.witnessPrefix), let conformance = name.range(of: " in conformance ") {
            return isLibraryWitness(requirement: name[name.index(name.startIndex, offsetBy: Self.witnessPrefix.count)..<conformance.lowerBound],
                                    conformance: name[conformance.upperBound...])
        }
        let stripped = Self.strippingSpecializationPrefixes(name)
        return libraryModulePrefixes.contains { stripped.hasPrefix($0) }
    }

    private static let witnessPrefix = "protocol witness for "

    /// A witness (`protocol witness for P.f() in conformance T : P in M`) is the code of the conformance's
    /// module M. Simplified names end at `in conformance T`, without M; the conformance is then library
    /// code when both the protocol and the type are (`Swift.FixedWidthInteger… in conformance Swift.UInt`),
    /// and the app's when either is the app's (`Swift.Sequence… in conformance App.Ring`).
    private func isLibraryWitness(requirement: Substring, conformance: Substring) -> Bool {
        if let module = conformance.range(of: " in ", options: .backwards) {
            let name = conformance[module.upperBound...] + "."
            return libraryModulePrefixes.contains { name.hasPrefix($0) }
        }
        let type = conformance.split(separator: " ").first ?? conformance
        return isLibraryName(requirement) && isLibraryName(type)
    }

    /// Names such as `closure #1 in Swift.Array.map` belong to the module after the last ` in `.
    static func strippingSpecializationPrefixes(_ name: Substring) -> Substring {
        var rest = name
        while let range = rest.range(of: " in ") {
            let head = rest[..<range.lowerBound]
            // Only peel wrappers like "closure #1", "implicit closure #2", "partial apply for closure #1".
            guard head.contains("closure") || head.hasPrefix("(") || head.contains("partial apply") else { break }
            rest = rest[range.upperBound...]
        }
        return rest
    }
}
