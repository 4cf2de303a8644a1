import Glibc

/// In-process demangling of Swift and C++ symbol names.
///
/// Swift names go through `swift_demangle` (exported by libswiftCore), C++ names (`_Z…`) through
/// `__cxa_demangle` (libstdc++, which libswiftCore links); both are found with `dlsym(RTLD_DEFAULT)`.
/// Names neither recognizes come back unchanged. Thread-safe.
public enum Demangler {
    /// The full demangled form of `name`, or `name` itself when it is not a mangled Swift or C++ name.
    public static func demangle(_ name: String) -> String {
        if isSwiftMangled(name) { return demangleSwift(name) ?? name }
        if name.hasPrefix("_Z") { return demangleCxx(name) ?? name }
        return name
    }

    /// True for the mangling prefixes of Swift 4 and later, Swift 3, and Embedded Swift.
    public static func isSwiftMangled(_ name: String) -> Bool {
        name.hasPrefix("$s") || name.hasPrefix("$S") || name.hasPrefix("_$s") || name.hasPrefix("_$S")
            || name.hasPrefix("$e") || name.hasPrefix("_$e") || name.hasPrefix("_T0")
    }

    /// `swift_demangle(mangled, length, nil, nil, 0)`; nil if unavailable or the name does not demangle.
    public static func demangleSwift(_ name: String) -> String? {
        guard let function = swiftDemangleFunction else { return nil }
        var name = name
        return name.withUTF8 { utf8 -> String? in
            guard let base = utf8.baseAddress else { return nil }
            let demangled = base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                function($0, utf8.count, nil, nil, 0)
            }
            guard let demangled else { return nil }
            defer { free(demangled) }
            return String(cString: demangled)
        }
    }

    /// `__cxa_demangle(mangled, nil, nil, &status)`; nil if unavailable or the name does not demangle.
    public static func demangleCxx(_ name: String) -> String? {
        guard let function = cxxDemangleFunction else { return nil }
        var status: Int32 = 0
        guard let demangled = function(name, nil, nil, &status) else { return nil }
        defer { free(demangled) }
        return status == 0 ? String(cString: demangled) : nil
    }
}

private typealias SwiftDemangleFunction = @convention(c) (
    UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UInt32
) -> UnsafeMutablePointer<CChar>?

private typealias CxxDemangleFunction = @convention(c) (
    UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>?

private let swiftDemangleFunction: SwiftDemangleFunction? = {
    // RTLD_DEFAULT is the null handle in glibc.
    guard let symbol = dlsym(nil, "swift_demangle") else { return nil }
    return unsafeBitCast(symbol, to: SwiftDemangleFunction.self)
}()

private let cxxDemangleFunction: CxxDemangleFunction? = {
    guard let symbol = dlsym(nil, "__cxa_demangle") else { return nil }
    return unsafeBitCast(symbol, to: CxxDemangleFunction.self)
}()
