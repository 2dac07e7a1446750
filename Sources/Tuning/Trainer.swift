#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor
public import Diagnostics
import LLM

/// One supervised example: the model reads prompt + target and learns to produce the target.
public struct TrainingExample: Sendable, Equatable {
    public var prompt: [Int]
    public var target: [Int]
    public init(prompt: [Int], target: [Int]) {
        self.prompt = prompt
        self.target = target
    }
}

public struct TrainerConfiguration: Sendable, Equatable {
    public var epochs: Int = 1
    /// Sequences per micro-batch (sorted by length, so a batch holds sequences of similar length).
    public var batchSize: Int = 1
    /// Micro-batches whose gradients add up before one optimizer step.
    public var gradientAccumulation: Int = 1
    public var learningRate: Float = 2e-4
    public var warmupSteps: Int = 0
    public var schedule: LearningRateSchedule = .linear
    public var adam = AdamW.Configuration()
    /// Global-norm clipping before each step; nil turns it off.
    public var maxGradientNorm: Double? = 1
    /// Everything random (batch order, dropout masks) derives from it: same seed, same adapters.
    public var seed: UInt64 = 0
    /// Longer sequences keep their last `maxSequenceLength` positions (the end of the target).
    public var maxSequenceLength: Int = 512
    public var checkpointing = false
    /// Shuffle the order of the length-sorted batches each epoch.
    public var shuffle = true
    /// Checkpoints: where to keep them and how often (in optimizer steps); nil: none. Training that
    /// finds a checkpoint there resumes from it, so a run killed at any moment (kill -9 included)
    /// continues from its last checkpoint and ends with the same adapter as an uninterrupted run.
    public var checkpoint: CheckpointPolicy?
    /// Early stopping on held-out examples (passed to `train`): stop when the held-out loss has not
    /// improved for this many epochs, and keep the best epoch's parameters. nil: train every epoch.
    public var earlyStoppingPatience: Int?

    public init() {}
}

/// Where checkpoints go. The store decides how bytes are kept: a plain atomic file for a
/// command-line run (`FileCheckpointStore`), sealed in the vault for a personal adapter.
public protocol CheckpointStore: Sendable {
    func load() throws -> [UInt8]?
    func save(_ bytes: [UInt8]) throws
    func remove() throws
}

public struct CheckpointPolicy: Sendable {
    public var store: any CheckpointStore
    public var everySteps: Int

    public init(store: any CheckpointStore, everySteps: Int = 20) {
        self.store = store
        self.everySteps = everySteps
    }
}

extension CheckpointPolicy: Equatable {
    public static func == (a: CheckpointPolicy, b: CheckpointPolicy) -> Bool { a.everySteps == b.everySteps }
}

/// What one optimizer step did.
public struct StepReport: Sendable, Equatable {
    public var step: Int              // 1-based
    public var totalSteps: Int
    public var epoch: Int             // 0-based
    /// Mean loss over the step's scored tokens, before the update.
    public var loss: Double
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    /// Positions the model read, and positions the loss scored.
    public var tokens: Int
    public var targetTokens: Int
    public var seconds: Double
    /// Mean held-out loss, on the last step of an epoch when held-out examples were given.
    public var heldOutLoss: Double? = nil
}

/// Trains the trainable adapters of a `TrainingModel` on (prompt, target) examples.
public final class Trainer {
    public let model: TrainingModel
    public let configuration: TrainerConfiguration
    public let optimizer: AdamW
    private let parameters: [(value: FloatBuffer, gradient: FloatBuffer)]

    public init(model: TrainingModel, configuration: TrainerConfiguration) throws(TuningError) {
        let c = configuration
        guard c.epochs >= 0, c.batchSize > 0, c.gradientAccumulation > 0, c.maxSequenceLength > 1,
              c.warmupSteps >= 0, c.learningRate.isFinite, c.learningRate >= 0 else {
            throw TuningError(.badArgument, "trainer settings out of range: epochs ≥ 0, batch size and accumulation ≥ 1, max sequence length ≥ 2, learning rate ≥ 0")
        }
        self.model = model
        self.configuration = configuration
        parameters = model.adapters.flatMap(\.trainableParameters)
        guard !parameters.isEmpty else {
            throw TuningError(.badArgument, "no adapter to train: every active adapter is frozen")
        }
        optimizer = AdamW(parameters: parameters, configuration: configuration.adam)
    }

    /// The sequence an example becomes (truncated from the left to maxSequenceLength).
    public func sequence(_ e: TrainingExample) -> TrainingSequence {
        var s = TrainingSequence(prompt: e.prompt, target: e.target)
        let n = configuration.maxSequenceLength
        if s.count > n {
            s = TrainingSequence(inputs: Array(s.inputs.suffix(n)), labels: Array(s.labels.suffix(n)))
        }
        return s
    }

    /// Optimizer steps: each a list of sequences (batchSize × gradientAccumulation of them, similar
    /// lengths together), in a seeded order per epoch.
    public func plan(_ examples: [TrainingExample], epoch: Int) -> [[TrainingSequence]] {
        let sequences = examples.map(sequence).filter { $0.targetCount > 0 }
        let order = sequences.indices.sorted { (sequences[$0].count, $0) < (sequences[$1].count, $1) }
        let perStep = configuration.batchSize * configuration.gradientAccumulation
        var steps = stride(from: 0, to: order.count, by: perStep).map { start in
            order[start..<min(order.count, start + perStep)].map { sequences[$0] }
        }
        if configuration.shuffle {
            var rng = Xoshiro256(seed: configuration.seed &+ 0xA076_1D64_78BD_642F &* UInt64(epoch + 1))
            steps.shuffle(using: &rng)
        }
        return steps
    }

    /// Trains for the configured epochs, calling `onStep` after every optimizer step. With held-out
    /// examples, each epoch's last report carries their loss, and `earlyStoppingPatience` applies.
    /// With a checkpoint policy, it resumes from the stored checkpoint if there is one, saves one every
    /// `everySteps` steps and at each epoch's end, and removes it when training completes.
    @discardableResult
    public func train(_ examples: [TrainingExample], heldOut: [TrainingExample] = [],
                      onStep: (StepReport) throws -> Void = { _ in }) throws -> [StepReport] {
        let c = configuration
        let stepsPerEpoch = plan(examples, epoch: 0).count
        let total = stepsPerEpoch * c.epochs
        var reports: [StepReport] = []
        var step = 0
        var best: (loss: Double, values: [[Float]], epoch: Int)?
        var stale = 0
        let fingerprint = Self.fingerprint(examples: examples, configuration: c, parameters: parameters.map(\.value.count))
        if let policy = c.checkpoint, let bytes = try policy.store.load() {
            let state = try TrainerCheckpoint.decode(bytes)
            guard state.fingerprint == fingerprint else {
                throw TuningError(.badArgument, "the checkpoint belongs to another training run (other examples, settings or adapters): remove it or train with the same settings")
            }
            try state.restore(into: parameters.map(\.value), optimizer: optimizer)
            step = state.step
            best = state.best
            stale = state.stale
        }
        model.checkpointing = c.checkpointing
        epochs: for epoch in 0..<c.epochs {
            let batches = plan(examples, epoch: epoch)
            for (index, batch) in batches.enumerated() {
                if epoch * stepsPerEpoch + index < step { continue }      // done before the resume
                let start = monotonicSeconds()
                for a in model.adapters { a.zeroGradients() }
                let targets = batch.reduce(0) { $0 + $1.targetCount }
                var loss = LossSum()
                for (i, s) in batch.enumerated() {
                    // The step's gradient is that of the mean loss over all its scored tokens.
                    let dropoutSeed = c.seed ^ (UInt64(step) << 20 | UInt64(i)) &* 0x9FB2_1C65_1E98_DF25
                    loss = loss + (try model.forwardBackward(s, gradientScale: 1 / Float(targets), dropoutSeed: dropoutSeed))
                }
                let gradients = parameters.map(\.gradient)
                let norm = c.maxGradientNorm.map { GradientClipping.clip(gradients, maxNorm: $0) }
                    ?? GradientClipping.globalNorm(gradients)
                let lr = c.schedule.rate(step: step, total: total, warmup: c.warmupSteps, peak: c.learningRate)
                optimizer.step(learningRate: lr)
                step += 1
                var report = StepReport(
                    step: step, totalSteps: total, epoch: epoch, loss: loss.mean, learningRate: lr,
                    gradientNorm: norm, tokens: batch.reduce(0) { $0 + $1.count }, targetTokens: targets,
                    seconds: monotonicSeconds() - start)
                let endOfEpoch = index == batches.count - 1
                var stop = false
                if endOfEpoch && !heldOut.isEmpty {
                    let h = try evaluate(heldOut)
                    report.heldOutLoss = h
                    if best == nil || h < best!.loss {
                        best = (h, parameters.map(\.value.array), epoch)
                        stale = 0
                    } else {
                        stale += 1
                        if let patience = c.earlyStoppingPatience, stale >= patience { stop = true }
                    }
                }
                if let policy = c.checkpoint, step % max(1, policy.everySteps) == 0 || endOfEpoch {
                    try policy.store.save(TrainerCheckpoint(fingerprint: fingerprint, step: step, parameters: parameters.map(\.value.array),
                                                            optimizer: optimizer, best: best, stale: stale).encode())
                }
                reports.append(report)
                try onStep(report)
                if stop { break epochs }
            }
        }
        if c.earlyStoppingPatience != nil, let best {
            for (p, values) in zip(parameters, best.values) { p.value.pointer.update(from: values, count: values.count) }
        }
        if let policy = c.checkpoint { try policy.store.remove() }
        return reports
    }

    /// Identifies a training run, so a checkpoint is only resumed by the run that wrote it.
    static func fingerprint(examples: [TrainingExample], configuration c: TrainerConfiguration, parameters: [Int]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01B3 }
        for e in examples {
            mix(UInt64(e.prompt.count)); for t in e.prompt { mix(UInt64(t)) }
            mix(UInt64(e.target.count)); for t in e.target { mix(UInt64(t)) }
        }
        for n in parameters { mix(UInt64(n)) }
        for v in [UInt64(c.epochs), UInt64(c.batchSize), UInt64(c.gradientAccumulation), UInt64(c.learningRate.bitPattern),
                  UInt64(c.warmupSteps), c.seed, UInt64(c.maxSequenceLength), c.shuffle ? 1 : 0] { mix(v) }
        return h
    }

    /// Mean loss over the examples' scored tokens (no gradients, no dropout): for a held-out split.
    public func evaluate(_ examples: [TrainingExample]) throws -> Double {
        var total = LossSum()
        for e in examples {
            let s = sequence(e)
            if s.targetCount > 0 { total = total + (try model.loss(s)) }
        }
        return total.mean
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
