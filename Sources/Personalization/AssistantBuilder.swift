import Foundation
public import LLM
import Seal
public import Vault
import Tuning

/// The one way to turn a model file, a home and the user's settings into a ready `Assistant`: the
/// commands, the evaluation and the server all build theirs here, so the same question is answered by
/// the same pipeline wherever it is asked.
public struct AssistantBuilder: Sendable {
    /// The GGUF file (resolve a user's choice with `ModelLocation.resolve`).
    public var modelPath: String
    public var numericPath: NumericPath = .fastQ16
    /// Worker threads a question uses unless it asks for another count.
    public var threads = 2
    /// PEFT adapter folders applied below the shared and personal adapters (`--adapter`), in order.
    public var adapterFolders: [String] = []
    public var style = PromptStyle.default
    /// Positions of the KV cache: prompt and answer together.
    public var contextWindow = 2048

    public init(modelPath: String) { self.modelPath = modelPath }

    /// Loads the model once; one generator serves any number of assistants and sessions.
    public func loadGenerator() throws -> TextGenerator {
        try TextGenerator(model: LlamaModel(path: modelPath, numericPath: numericPath, threads: threads))
    }

    /// The SHA-256 of the model file: what personal adapters record as their base.
    public func baseModelSHA256() throws -> String {
        try SHA256.hexOfFile(at: URL(fileURLWithPath: modelPath))
    }

    /// An assistant for `home` (nil: the model alone) over `generator` (loaded here when nil), with
    /// the home's shared and personal adapters and the `adapterFolders`.
    public func build(home: UnlockedHome?, generator: TextGenerator? = nil, baseModelSHA256: String? = nil) throws -> Assistant {
        let generator = try generator ?? loadGenerator()
        let extra = try adapterFolders.map { try LoRAAdapter.load(from: $0, model: generator.model.config, training: .frozen) }
        return Assistant(generator: generator, home: home, baseModelSHA256: try baseModelSHA256 ?? self.baseModelSHA256(),
                         sharedAdapter: home.map { sharedAdapterSource(for: $0.home) }, style: style,
                         extraAdapters: extra, contextWindow: contextWindow)
    }
}
