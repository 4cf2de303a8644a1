// swift-tools-version: 6.0
// profd-demo: a real Hummingbird server that profiles itself with profd through ProfdMiddleware.
//
// It is a separate package so that the profd core never builds Hummingbird.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, and a clone can live in any folder.
let profdPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "profd-demo",
    products: [
        .executable(name: "profd-demo", targets: ["ProfdDemo"]),
    ],
    dependencies: [
        .package(path: "../.."),
        .package(path: "../../Integrations/Hummingbird/profd-hummingbird"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "ProfdDemo",
            dependencies: [
                .product(name: "ProfClient", package: profdPackage),
                .product(name: "ProfdHummingbird", package: "profd-hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
