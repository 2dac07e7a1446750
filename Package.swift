// swift-tools-version: 6.1
// The privacy boundary is visible here: the coordinator targets (CoordinatorCore,
// CoordinatorServer, pcoord) depend on Federation, Seal and the GGUF metadata reader only, never
// on LLM, Tuning or Memory: they move and sum vectors and serve files.
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
        .executable(name: "pcoord", targets: ["pcoord"]),
        .executable(name: "peval", targets: ["peval"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // Already in the graph through Hummingbird; named here because the server's connection guard
        // is a NIO channel handler on HTTP parts.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Hand-written SIMD kernels with runtime CPU dispatch, and the worker pool that runs them.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),

        // ChaCha20 mask expansion for secure aggregation (Federation), with the same dispatch.
        .target(name: "CMask", cSettings: [.unsafeFlags(["-O3"])]),

        // Pure and dependency-free, below everything: the error shape every module's errors take,
        // and the seeded generator (SplitMix64) that data, benchmarks and tests share.
        .target(name: "Diagnostics", swiftSettings: swiftSettings),
        .target(name: "Randomness", swiftSettings: swiftSettings),

        // The ggml tensor formats (type table, block layouts, reference dequantizers and
        // quantizers): pure Swift, so that the GGUF reader, and the coordinator through it, link no
        // numeric kernels and no BLAS.
        .target(name: "QuantFormat", dependencies: ["Diagnostics"], swiftSettings: swiftSettings),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: swiftSettings),
        .target(name: "GGUF", dependencies: ["Diagnostics", "QuantFormat"], swiftSettings: swiftSettings),
        .target(name: "Tokenizer", dependencies: ["Diagnostics", "GGUF"], swiftSettings: swiftSettings),
        .target(name: "LLM", dependencies: ["Diagnostics", "Randomness", "Tensor", "QuantFormat", "GGUF", "Tokenizer"], swiftSettings: swiftSettings),
        .target(name: "Tuning", dependencies: ["Diagnostics", "LLM", "Tensor"], swiftSettings: swiftSettings),
        .target(name: "Seal", dependencies: ["Diagnostics", "CSodium", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .target(name: "Memory", dependencies: ["Diagnostics", "Seal", "CKernels", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        // Pure: no I/O. Both pclient and pcoord use it; it never imports model or memory code.
        .target(name: "Federation", dependencies: ["Diagnostics", "Seal", "CSodium", "CMask"], swiftSettings: swiftSettings),

        // pclient's library, one job per module: Vault (the home and everything sealed in it, bundles),
        // Transport (libcurl, the only place it is linked, and the loopback helper), FederatedClient
        // (taking part in rounds), Personalization (the assistant, the profile, the personal adapter).
        .target(name: "Vault", dependencies: ["Diagnostics", "Seal", "Memory", "Federation", "GGUF", "LLM", "Tuning", "Tensor"], swiftSettings: swiftSettings),
        .target(name: "Transport", dependencies: ["CCurl", "Diagnostics", "Federation", "Seal"], swiftSettings: swiftSettings),
        .target(
            name: "FederatedClient",
            dependencies: ["Diagnostics", "Vault", "Transport", "Federation", "Seal", "LLM", "Memory", "Tensor", "Tokenizer", "Tuning"],
            swiftSettings: swiftSettings
        ),
        .target(name: "Personalization", dependencies: ["Seal", "Diagnostics", "Vault", "Randomness", "LLM", "Memory", "Tuning", "Tokenizer", "Tensor"], swiftSettings: swiftSettings),
        .target(name: "Evaluation", dependencies: ["Diagnostics", "Randomness", "Personalization", "Vault", "Transport", "Memory", "Seal", "LLM", "Tuning"], swiftSettings: swiftSettings),

        // The coordinator: no LLM, Tuning or Memory here.
        .target(
            name: "CoordinatorCore",
            dependencies: ["Diagnostics", "Federation", "Seal", "GGUF", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CoordinatorServer",
            dependencies: ["CoordinatorCore", "Federation", "Seal",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTLS", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "HummingbirdCore", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "pclient",
            dependencies: ["Personalization", "FederatedClient", "Transport", "Vault", "Memory", "Seal", "LLM", "Tuning", "Tokenizer", "GGUF", "Tensor", "Federation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "pcoord",
            dependencies: ["Diagnostics", "CoordinatorServer", "CoordinatorCore", "Federation", "Seal",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "peval",
            dependencies: ["Diagnostics", "Evaluation", "Personalization", "Seal", "LLM", "Tensor",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "pbench",
            dependencies: ["Personalization", "Vault", "Transport", "LLM", "Tokenizer", "Tuning", "GGUF", "Tensor", "Memory", "Seal", "CoordinatorCore", "Federation", "Randomness",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // Test support shared by the test targets (a tiny random llama GGUF); no product links it.
        .target(name: "TestModels", dependencies: ["GGUF", "QuantFormat", "LLM", "Tensor", "Tokenizer"], path: "Tests/TestModels", swiftSettings: swiftSettings),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CKernels", "Randomness"], swiftSettings: swiftSettings),
        .testTarget(name: "QuantFormatTests", dependencies: ["Diagnostics", "QuantFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "QuantFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "TokenizerTests", dependencies: ["Diagnostics", "Tokenizer", "GGUF", "Randomness"], swiftSettings: swiftSettings),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics"], swiftSettings: swiftSettings),
        .testTarget(name: "RandomnessTests", dependencies: ["Randomness"], swiftSettings: swiftSettings),
        .testTarget(name: "SealTests", dependencies: ["Diagnostics", "Seal", "CSodium"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ClientTests",
            dependencies: ["Diagnostics", "TestModels", "Vault", "Transport", "FederatedClient", "Personalization", "Memory", "Seal", "Federation",
                           "LLM", "Tuning", "Tokenizer", "GGUF", "Tensor", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EvaluationTests", dependencies: ["Diagnostics", "TestModels", "Evaluation", "Personalization", "Vault", "Memory", "GGUF", "LLM", "Tokenizer", "Tensor"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["CoordinatorCore", "CoordinatorServer", "Federation", "Seal",
                           .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MemoryTests", dependencies: ["Diagnostics", "Memory", "Seal", "CKernels", "Randomness", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .testTarget(name: "TuningTests", dependencies: ["Diagnostics", "TestModels", "Tuning", "LLM", "Tensor", "QuantFormat", "GGUF", "Tokenizer"], exclude: ["Vectors"], swiftSettings: swiftSettings),
        .testTarget(name: "FederationTests", dependencies: ["Diagnostics", "Federation", "Seal", "CMask", "CSodium"], swiftSettings: swiftSettings),
        .testTarget(name: "LLMTests", dependencies: ["Diagnostics", "TestModels", "LLM", "Tensor", "QuantFormat", "GGUF", "Tokenizer"], exclude: ["Vectors"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["TestModels", "Vault", "Transport", "FederatedClient", "CoordinatorCore", "Federation", "Seal"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
