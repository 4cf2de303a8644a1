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
        let name = Self.strippingSpecializationPrefixes(frame.function)
        return libraryModulePrefixes.contains { name.hasPrefix($0) }
    }

    /// Names such as `closure #1 in Swift.Array.map` belong to the module after the last ` in `.
    /// A witness (`protocol witness for P.f() in conformance T : P in M`) belongs to the conformance's
    /// module M: `Swift` for `UInt64 : FixedWidthInteger`, the app for the app's own conformances.
    static func strippingSpecializationPrefixes(_ name: String) -> Substring {
        if name.hasPrefix("protocol witness for "), let range = name.range(of: " in ", options: .backwards) {
            return Substring(name[range.upperBound...] + ".")
        }
        var rest = Substring(name)
        while let range = rest.range(of: " in ") {
            let head = rest[..<range.lowerBound]
            // Only peel wrappers like "closure #1", "implicit closure #2", "partial apply for closure #1".
            guard head.contains("closure") || head.hasPrefix("(") || head.contains("partial apply") else { break }
            rest = rest[range.upperBound...]
        }
        return rest
    }
}
