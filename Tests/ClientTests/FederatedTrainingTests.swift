import FederatedClient
import Federation
import Foundation
import LLM
import Memory
import Seal
import Testing
import Vault

/// Local training of the shared adapter's B on a home's long-term memory, with SmolLM2-135M.
/// Slow, so it runs only with PCLIENT_FEDERATION_REAL=1 (and the model in the cache or
/// $PCLIENT_MODEL); build with -c release.
struct FederatedTrainingTests {
    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_MODEL"], !p.isEmpty { return p }
        return ModelLocation.cacheDirectory(environment: env) + "/models/" + ModelLocation.defaultFileName
    }
    static var enabled: Bool {
        ProcessInfo.processInfo.environment["PCLIENT_FEDERATION_REAL"] == "1" && FileManager.default.fileExists(atPath: modelPath)
    }

    @Test(.enabled(if: enabled)) func memoryTrainingProducesAFiniteUpdateOfTheSharedLength() throws {
        let home = ClientHome(path: temporaryFolder("fedtrain"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let unlocked = try home.initialize(passphrase: SecretBytes(utf8: "a passphrase for tests"), limits: .minimum)
        _ = try unlocked.memory.add([
            NewItem(kind: .behaviour, content: ItemContent(text: "Tag this article: new tomato varieties for cold climates", output: "gardening"), tier: .long),
            NewItem(kind: .note, content: ItemContent(text: "I prefer short answers with one example."), tier: .long),
            NewItem(kind: .chatTurn, content: ItemContent(text: "As an assistant I say things.", role: "assistant"), tier: .long),
        ])

        let llama = try LlamaModel(path: Self.modelPath, numericPath: .fastQ16, threads: 2)
        let dims = BaseDimensions(llama.config)
        let spec = try SharedAdapterSpec(rank: 4, alpha: 8, targets: ["q", "v"], seed: 99)
        var config = try FederatedTestFixtures.roundConfig()
        config.localSteps = 3
        config.learningRate = 1e-2
        config.maxSequence = 64
        let n = spec.vectorLength(dims)
        let context = UpdateContext(round: 1, spec: spec, dimensions: dims, version: 0, shared: [Float](repeating: 0, count: n), config: config)

        var lines: [String] = []
        let update = try MemoryUpdateProvider(memory: unlocked.memory, modelPath: Self.modelPath).update(context) { lines.append($0) }

        #expect(update.delta.count == n)
        #expect(update.examples == 2, "the assistant's own turn is not trained on")
        #expect(update.steps == 3)
        #expect(update.delta.allSatisfy { $0.isFinite })
        let norm = update.delta.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(norm > 0, "B started at zero and trained: it must have moved")
        #expect(update.firstLoss.map { $0.isFinite && $0 > 0 } == true)
        #expect(!lines.isEmpty)
        print("shared-adapter local training: \(n) parameters, ΔB norm \(norm), loss \(update.firstLoss ?? 0) → \(update.lastLoss ?? 0)")
    }
}
