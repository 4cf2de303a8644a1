// swift-tools-version: 6.0
// ProfdHummingbird: profd's middleware for Hummingbird 2.
//
// A separate package so that the profd core never builds Hummingbird. It lives in
// Integrations/Hummingbird/profd-hummingbird, not Integrations/Hummingbird: SwiftPM names a root package
// after its folder, and a folder named "Hummingbird" would take the identity of the hummingbird dependency.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a clone can live in any folder.
let profdPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../..").standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "ProfdHummingbird",
    products: [
        .library(name: "ProfdHummingbird", targets: ["ProfdHummingbird"]),
    ],
    dependencies: [
        .package(path: "../../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // Only for the tests, to shut the server down gracefully; Hummingbird depends on it anyway.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .target(
            name: "ProfdHummingbird",
            dependencies: [
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ProfdHummingbirdTests",
            dependencies: [
                "ProfdHummingbird",
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "ProfdTestSupport", package: profdPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
