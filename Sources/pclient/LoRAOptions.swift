import ArgumentParser
import Tuning

/// Where `pclient train` and `pclient train-adapter` differ in the options they share: the longest
/// sequence, the shortest one accepted, and what an epoch passes over.
protocol LoRATrainingDefaults {
    static var maxSeq: Int { get }
    static var minimumMaxSeq: Int { get }
    static var maxSeqHelp: String { get }
    static var epochsHelp: String { get }
}

/// The adapter's shape (rank, alpha, targets) and the training schedule (epochs, learning rate,
/// sequence length), as both training commands take them.
struct LoRAOptions<Defaults: LoRATrainingDefaults>: ParsableArguments {
    @Option(help: "LoRA rank.")
    var rank: Int = 8
    @Option(help: "LoRA alpha (the update is scaled by alpha / rank).")
    var alpha: Float = 16
    @Option(help: "Layers to adapt, comma-separated from q,k,v,o,gate,up,down, or \"all\".")
    var targets: String = "all"
    @Option(help: ArgumentHelp(Defaults.epochsHelp))
    var epochs: Int = 5
    @Option(help: "Peak learning rate (linear decay after a 10% warm-up).")
    var lr: Float = 1e-3
    @Option(name: .customLong("max-seq"), help: ArgumentHelp(Defaults.maxSeqHelp))
    var maxSeq: Int = Defaults.maxSeq

    func validate() throws {
        guard rank >= 1, rank <= 256 else { throw ValidationError("Please give a --rank between 1 and 256.") }
        guard epochs >= 1, lr > 0, maxSeq >= Defaults.minimumMaxSeq else {
            throw ValidationError("Please give --epochs ≥ 1, --lr > 0 and --max-seq ≥ \(Defaults.minimumMaxSeq).")
        }
        _ = try targetList()
    }

    func targetList() throws -> [LoRATarget] { try LoRATarget.list(targets) }
}
