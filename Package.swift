// swift-tools-version: 6.0
// profd: a per-request sampling profiler for Swift web services on Linux.
//
// The core package stays lean: swift-argument-parser, swift-log, and swift-service-lifecycle for the daemon.
// The Hummingbird demo server lives in its own package (Examples/profd-demo) so that
// linking ProfClient into an app never pulls in a web framework.
import PackageDescription

let package = Package(
    name: "profd",
    products: [
        .library(name: "ProfClient", targets: ["ProfClient"]),
        .library(name: "ProfdProtocol", targets: ["ProfdProtocol"]),
        .library(name: "ProfdEngine", targets: ["ProfdEngine"]),
        // For tests of integrations in other packages: a real profd, its reports, a bare HTTP client.
        .library(name: "ProfdTestSupport", targets: ["ProfdTestSupport"]),
        .executable(name: "profd", targets: ["profd"]),
        .executable(name: "profctl", targets: ["profctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // MARK: C shim — syscalls and macros Swift cannot call directly
        .target(
            name: "CProfdShim",
            path: "Sources/CShim"
        ),

        // MARK: libsystemd (sd_notify, socket activation, journald, sd_pid_get_unit), for the daemon only
        .target(
            name: "CSystemd",
            path: "Sources/CSystemd",
            linkerSettings: [.linkedLibrary("systemd")]
        ),

        // MARK: Wire protocol, shared by client, daemon and profctl
        .target(
            name: "ProfdProtocol",
            path: "Sources/Protocol"
        ),

        // MARK: Client library linked into the web app
        .target(
            name: "ProfClient",
            dependencies: ["ProfdProtocol", "CProfdShim"],
            path: "Sources/ProfClient"
        ),

        // MARK: Engine: sampling → attribution → symbolization → call tree → rendering
        .target(
            name: "ProfdEngine",
            dependencies: [
                "CProfdShim",
                "ProfdProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Engine"
        ),

        // MARK: Executables
        .executableTarget(
            name: "profd",
            dependencies: [
                "ProfdProtocol",
                "ProfdEngine",
                "CProfdShim",
                "CSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/profd"
        ),
        .executableTarget(
            name: "profctl",
            dependencies: [
                "ProfdEngine",
                "ProfdProtocol",
                "CProfdShim",  // SCM_RIGHTS: start passes the target's /proc/PID/maps to profd
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/profctl"
        ),

        // MARK: Test fixtures: real processes for the real-kernel tests
        .executableTarget(
            name: "profd-testload",
            dependencies: ["ProfClient"],
            path: "Tests/Fixtures/TestLoad"
        ),

        // MARK: Benchmarks (`swift run -c release profd-client-bench`)
        .executableTarget(
            name: "profd-client-bench",
            dependencies: ["ProfClient"],
            path: "benchmarks/client-cost"
        ),

        .executableTarget(
            name: "profd-render-bench",
            dependencies: ["ProfdEngine"],
            path: "benchmarks/render"
        ),

        // MARK: Tests
        .target(
            name: "ProfdTestSupport",
            dependencies: ["ProfdEngine"],
            path: "Sources/ProfdTestSupport"
        ),
        .target(
            name: "ProfdTestKit",
            dependencies: ["ProfdProtocol"],
            path: "Tests/ProfdTestKit"
        ),
        .testTarget(
            name: "ProfdProtocolTests",
            dependencies: ["ProfdProtocol"],
            path: "Tests/ProfdProtocolTests"
        ),
        .testTarget(
            name: "ProfClientTests",
            dependencies: ["ProfClient", "ProfdProtocol", "ProfdTestKit"],
            path: "Tests/ProfClientTests"
        ),
        .testTarget(
            name: "ProfdEngineTests",
            dependencies: ["ProfdEngine", "ProfdProtocol", "ProfdTestKit"],
            path: "Tests/ProfdEngineTests",
            exclude: ["Golden"]
        ),
        // The daemon's own pieces (journal fields, status line), by @testable import of the executable.
        .testTarget(
            name: "ProfdDaemonTests",
            dependencies: ["profd", "ProfdEngine", "ProfdProtocol", .product(name: "Logging", package: "swift-log")],
            path: "Tests/ProfdDaemonTests"
        ),
        .testTarget(
            name: "ProfdIntegrationTests",
            dependencies: ["ProfdProtocol", "ProfdEngine", "ProfdTestKit", "CProfdShim"],
            path: "Tests/ProfdIntegrationTests"
        ),
    ]
)
