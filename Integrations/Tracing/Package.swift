// swift-tools-version: 6.0
// ProfdTracing: a swift-distributed-tracing `Tracer` that profiles every server span with profd.
//
// It is a separate package so that the profd core never builds swift-distributed-tracing, and so that
// Hummingbird (used only by the tests, to run a real server) never reaches an app that links ProfdTracing.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a clone can live in any folder.
let profdPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "profd-tracing",
    products: [
        .library(name: "ProfdTracing", targets: ["ProfdTracing"]),
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // Test only: a real server whose TracingMiddleware starts the server spans, and what runs it.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(
            name: "ProfdTracing",
            dependencies: [
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "ProfdTracingTests",
            dependencies: [
                "ProfdTracing",
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "ProfdTestSupport", package: profdPackage),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
