// swift-tools-version: 6.1
// The privacy boundary is visible here: the coordinator targets (added with the federation
// issue) depend on Federation and Seal only, never on LLM, Tuning or Memory.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PersonalLLM",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pclient", targets: ["pclient"]),
        .executable(name: "pbench", targets: ["pbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Hand-written SIMD kernels with runtime CPU dispatch, and the worker pool that runs them.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),

        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: swiftSettings),
        .target(name: "GGUF", dependencies: ["Tensor"], swiftSettings: swiftSettings),
        .target(name: "Tokenizer", dependencies: ["GGUF"], swiftSettings: swiftSettings),
        .target(name: "LLM", dependencies: ["Tensor", "GGUF", "Tokenizer"], swiftSettings: swiftSettings),
        .target(name: "Tuning", dependencies: ["LLM", "Tensor", "GGUF"], swiftSettings: swiftSettings),
        .target(name: "Seal", dependencies: ["CSodium"], swiftSettings: swiftSettings),
        .target(name: "Memory", dependencies: ["Seal", "Tensor", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .target(name: "Client", dependencies: ["Seal", "Memory", "LLM"], swiftSettings: swiftSettings),
        // Pure: no I/O. Both pclient and pcoord use it; it never imports model or memory code.
        .target(name: "Federation", dependencies: ["Seal", "CSodium"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "pclient",
            dependencies: ["Client", "Memory", "Seal", "LLM", "Tuning", "Tokenizer", "GGUF", "Tensor", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "pbench",
            dependencies: ["Client", "LLM", "Tuning", "Tokenizer", "GGUF", "Tensor", "Memory", "Seal", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CKernels"], swiftSettings: swiftSettings),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "Tensor"], swiftSettings: swiftSettings),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF"], swiftSettings: swiftSettings),
        .testTarget(name: "SealTests", dependencies: ["Seal"], swiftSettings: swiftSettings),
        .testTarget(name: "ClientTests", dependencies: ["Client", "Memory", "Seal"], swiftSettings: swiftSettings),
        .testTarget(name: "MemoryTests", dependencies: ["Memory", "Seal"], swiftSettings: swiftSettings),
        .testTarget(name: "TuningTests", dependencies: ["Tuning", "LLM", "Tensor", "GGUF", "Tokenizer"], swiftSettings: swiftSettings),
        .testTarget(name: "FederationTests", dependencies: ["Federation", "Seal"], swiftSettings: swiftSettings),
        .testTarget(name: "LLMTests", dependencies: ["LLM", "Tensor", "GGUF", "Tokenizer"], exclude: ["Vectors"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
