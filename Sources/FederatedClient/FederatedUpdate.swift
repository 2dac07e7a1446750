import Diagnostics
public import Federation
import Foundation
public import LLM
public import Memory
import Tensor
public import Tokenizer
public import Tuning
import Vault

/// What a client's local training starts from in one round.
public struct UpdateContext: Sendable {
    public let round: UInt64
    public let spec: SharedAdapterSpec
    public let dimensions: BaseDimensions
    /// The shared version the round starts from, and its B vector.
    public let version: Int
    public let shared: [Float]
    /// localSteps, learningRate, maxSequence, dp, codec…
    public let config: RoundConfig

    public init(round: UInt64, spec: SharedAdapterSpec, dimensions: BaseDimensions, version: Int, shared: [Float], config: RoundConfig) {
        self.round = round
        self.spec = spec
        self.dimensions = dimensions
        self.version = version
        self.shared = shared
        self.config = config
    }
}

/// A client's raw contribution before privacy: ΔB = B_new − B_old, flattened in the shared order.
/// `FederatedParticipant` clips, noises, encodes and masks it; a provider never does.
public struct LocalUpdate: Sendable {
    public var delta: [Float]
    public var examples: Int
    public var steps: Int
    public var firstLoss: Double?
    public var lastLoss: Double?

    public init(delta: [Float], examples: Int, steps: Int, firstLoss: Double? = nil, lastLoss: Double? = nil) {
        self.delta = delta
        self.examples = examples
        self.steps = steps
        self.firstLoss = firstLoss
        self.lastLoss = lastLoss
    }
}

/// Produces this client's update for a round. The product uses `MemoryUpdateProvider` (local
/// training on the home's long-term memory); tests of the round logic pass a deterministic provider
/// so that they run without a model. Whatever the provider returns goes through the same clipping,
/// noise, encoding and masking.
public protocol UpdateProvider {
    func update(_ context: UpdateContext, log: (String) -> Void) throws -> LocalUpdate
}

/// Trains the shared adapter's B on the home's long-term memory (`memory.trainingSet()`), starting
/// from the round's published version, for exactly `localSteps` optimizer steps (one example per
/// step; the examples are cycled when there are fewer, a random subset is used when there are more)
/// at the round's learning rate (constant) and maximum sequence length.
///
/// Examples from memory items:
/// - behaviour: a chat turn, user = the item's input (`content.text`), assistant = the user's own
///   output (`content.output`) ended by <|im_end|>; only the answer is scored;
/// - note, and chat turns the user wrote: language modelling on the text itself (no prompt, every
///   token after the first scored), so the adapter learns the user's wording, not a made-up question;
/// - assistant chat turns are skipped (they are the model's words, not the user's).
///
/// The base model is loaded (with f32 weights) at the first round and reused by every later one:
/// training reads the loaded model and never changes it.
public final class MemoryUpdateProvider: UpdateProvider {
    public let memory: MemoryStore
    public let modelPath: String
    public let threads: Int
    private var loaded: TextGenerator?

    public init(memory: MemoryStore, modelPath: String, threads: Int = 2) {
        self.memory = memory
        self.modelPath = modelPath
        self.threads = threads
    }

    public func update(_ context: UpdateContext, log: (String) -> Void) throws -> LocalUpdate {
        let generator = try loaded ?? TextGenerator(model: LlamaModel(path: modelPath, numericPath: .exact, threads: threads))
        loaded = generator
        let llama = generator.model
        guard BaseDimensions(llama.config) == context.dimensions else {
            throw ClientError(.badInput, "the model \(modelPath) does not have the dimensions of the coordinator's base: use the base it publishes (pass --model)")
        }
        let items = try memory.trainingSet()
        let examples = Self.examples(items, tokenizer: generator.tokenizer, template: generator.template)
        guard !examples.isEmpty else {
            throw ClientError(.badInput, "long-term memory holds nothing to train on: add and consolidate memories first (`pclient remember`, `pclient memory consolidate`); nothing was sent")
        }
        let steps = max(1, context.config.localSteps)
        var rng = SodiumRandom()
        var chosen: [TrainingExample] = []
        if examples.count >= steps {
            chosen = Array(examples.shuffled(using: &rng).prefix(steps))
        } else {
            while chosen.count < steps { chosen.append(examples[chosen.count % examples.count]) }
        }

        let adapter = try LoRAAdapter.shared(spec: context.spec, vector: context.shared, model: llama.config)
        var config = TrainerConfiguration()
        config.epochs = 1
        config.batchSize = 1
        config.learningRate = Float(context.config.learningRate)
        config.schedule = .constant
        config.warmupSteps = 0
        config.maxSequenceLength = max(2, context.config.maxSequence)
        config.seed = rng.next()
        let trainingModel = try TrainingModel(model: llama, adapters: [adapter])
        // bf16 base products where the CPU has AVX512_BF16, as for the personal adapter (f32 elsewhere).
        trainingModel.precision = .bf16
        let trainer = try Trainer(model: trainingModel, configuration: config)
        let reports = try trainer.train(chosen) { r in
            if r.step == 1 || r.step == r.totalSteps || r.step % max(1, r.totalSteps / 5) == 0 {
                log(String(format: "training step %d/%d  loss %.4f", r.step, r.totalSteps, r.loss))
            }
        }
        let trained = adapter.flattenedB()
        let delta = zip(trained, context.shared).map { $0 - $1 }
        return LocalUpdate(delta: delta, examples: examples.count, steps: reports.count,
                           firstLoss: reports.first?.loss, lastLoss: reports.last?.loss)
    }

    /// Memory items as training examples (see the type's comment for the rules).
    public static func examples(_ items: [MemoryItem], tokenizer: BPETokenizer, template: ChatTemplate) -> [TrainingExample] {
        var out: [TrainingExample] = []
        let end = tokenizer.id(of: ChatTemplate.end)
        for item in items {
            switch item.kind {
            case .behaviour:
                guard let output = item.content.output, !output.isEmpty else { continue }
                let prompt = tokenizer.encode(template.render([ChatMessage(role: "user", content: item.content.text)]), parseSpecial: true)
                var target = tokenizer.encode(output, parseSpecial: false)
                if let end { target.append(end) }
                out.append(TrainingExample(prompt: prompt, target: target))
            case .reply:
                continue
            case .note, .chatTurn:
                // A replaced note no longer holds; the federated model should not learn it either.
                if !item.isCurrent { continue }
                let tokens = tokenizer.encode(item.content.text, parseSpecial: false)
                guard tokens.count >= 2 else { continue }
                out.append(TrainingExample(prompt: Array(tokens.prefix(1)), target: Array(tokens.dropFirst())))
            }
        }
        return out
    }
}
