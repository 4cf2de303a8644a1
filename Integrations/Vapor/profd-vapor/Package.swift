// swift-tools-version: 6.0
// ProfdVapor: profd's request profiling for Vapor 4 apps (a middleware and a lifecycle handler).
//
// It is a separate package so that the profd core never builds Vapor.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a clone can live in any folder.
let profdPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../..").standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "profd-vapor",
    products: [
        .library(name: "ProfdVapor", targets: ["ProfdVapor"]),
    ],
    dependencies: [
        .package(path: "../../.."),
        .package(url: "https://github.com/vapor/vapor", from: "4.100.0"),
    ],
    targets: [
        .target(
            name: "ProfdVapor",
            dependencies: [
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "Vapor", package: "vapor"),
            ]
        ),
        .testTarget(
            name: "ProfdVaporTests",
            dependencies: [
                "ProfdVapor",
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "ProfdTestSupport", package: profdPackage),
                .product(name: "Vapor", package: "vapor"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
