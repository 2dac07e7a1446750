/// One sequence the trainer reads: the model sees `inputs` and at position t is scored on predicting
/// `labels[t]` (−1: not scored, as Hugging Face's −100). Prompt tokens are never scored.
public struct TrainingSequence: Sendable, Equatable {
    public var inputs: [Int]    // (T)
    public var labels: [Int]    // (T)

    public init(inputs: [Int], labels: [Int]) {
        precondition(inputs.count == labels.count, "one label per input position")
        self.inputs = inputs
        self.labels = labels
    }

    /// prompt + target read as one sequence; only the predictions of the target's tokens are scored.
    /// The last token is never an input (nothing follows it).
    public init(prompt: [Int], target: [Int]) {
        let tokens = prompt + target
        let n = max(0, tokens.count - 1)
        inputs = Array(tokens.prefix(n))
        labels = (0..<n).map { t in t + 1 >= prompt.count ? tokens[t + 1] : -1 }
    }

    /// Every next-token prediction scored (language modelling on the whole text).
    public init(tokens: [Int]) {
        self.init(prompt: Array(tokens.prefix(1)), target: Array(tokens.dropFirst()))
    }

    public var count: Int { inputs.count }
    /// Positions with a label: the tokens the loss averages over.
    public var targetCount: Int { labels.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}
