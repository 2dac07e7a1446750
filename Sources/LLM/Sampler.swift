#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Randomness

/// How the next token is chosen from the logits. Temperature 0 means greedy (argmax).
/// Order of application, as llama.cpp's default chain: repetition penalty → n-gram ban → top-k →
/// top-p → min-p → temperature → draw.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0.7
    public var topK: Int = 40                 // 0 disables
    public var topP: Float = 0.95             // 1 disables
    public var minP: Float = 0.05             // 0 disables
    public var repetitionPenalty: Float = 1.1 // 1 disables
    public var repetitionWindow: Int = 64     // how many recent tokens the penalty looks at
    /// A token that would complete an n-gram of this length already present in the generated
    /// tokens is never chosen (Hugging Face's `no_repeat_ngram_size`); 0 disables. Only generated
    /// tokens count: copying a phrase of the prompt (a fact the answer quotes) stays possible.
    public var noRepeatNgram: Int = 0
    public var seed: UInt64 = 0x5EED

    public init() {}

    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        p.repetitionPenalty = 1
        return p
    }

    public var isGreedy: Bool { temperature <= 0 }

    /// The n-gram length answers ban from repeating. Measured on SmolLM2-135M-Instruct, greedy, 160
    /// tokens, on 22 prompts (open questions, and questions with facts in the prompt; issue 14):
    /// without the ban 10 answers looped (a line or list item repeated to the token limit); with 3,
    /// 4 or 5 none did. 3 also forbids the repeated openings lists need ("\n- My …" of a second fact,
    /// "high in vitamin C" of a second fruit) and garbled three lists; 5 let near-loops through ("a
    /// being of a being", a fruit listed twice). 4 left every short fact answer as it was without the ban.
    public static let answerNoRepeatNgram = 4

    /// Greedy with `answerNoRepeatNgram`: how answers are generated unless asked otherwise.
    public static var answer: SamplingParameters {
        var p = SamplingParameters.greedy
        p.noRepeatNgram = answerNoRepeatNgram
        return p
    }
}

/// A seeded draw from logits. Deterministic for a given seed and input.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: Xoshiro256

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = Xoshiro256(seed: parameters.seed)
    }

    /// Picks the next token from `logits` given the tokens seen so far (`history`, prompt and
    /// generated, for the penalty) and the tokens generated so far (`generated`, for the n-gram ban).
    public mutating func next(logits input: [Float], history: [Int], generated: [Int] = []) -> Int {
        var logits = input
        let p = parameters
        if p.repetitionPenalty != 1 {
            // CTRL-style penalty on tokens seen in the window: positive logits divided, negative multiplied.
            for id in Set(history.suffix(p.repetitionWindow)) where id >= 0 && id < logits.count {
                logits[id] = logits[id] > 0 ? logits[id] / p.repetitionPenalty : logits[id] * p.repetitionPenalty
            }
        }
        if p.noRepeatNgram > 0 {
            let banned = Sampler.bannedTokens(generated: generated, n: p.noRepeatNgram)
            // Should every token be banned (a vocabulary smaller than the n-grams generated), the
            // ban is dropped rather than the choice left to an arbitrary token.
            if banned.count < logits.count {
                for id in banned where id >= 0 && id < logits.count { logits[id] = -.infinity }
            }
        }
        if p.isGreedy { return Sampler.argmax(logits) }

        // Candidates sorted by logit, descending; top-k first so the sort stays small.
        var candidates: [(id: Int, logit: Float)]
        let k = p.topK > 0 ? min(p.topK, logits.count) : logits.count
        candidates = Sampler.topCandidates(logits, k: k)

        // Softmax over the candidates for top-p / min-p.
        var probs = Sampler.softmax(candidates.map(\.logit))
        if p.topP < 1 {
            var cumulative: Float = 0
            var keep = candidates.count
            for (i, pr) in probs.enumerated() {
                cumulative += pr
                if cumulative >= p.topP { keep = i + 1; break }
            }
            candidates = Array(candidates.prefix(keep)); probs = Array(probs.prefix(keep))
        }
        if p.minP > 0, let top = probs.first {
            let threshold = top * p.minP
            let keep = max(1, probs.firstIndex { $0 < threshold } ?? probs.count)
            candidates = Array(candidates.prefix(keep))
        }
        let tempered = Sampler.softmax(candidates.map { $0.logit / p.temperature })
        let u = Float(rng.nextDouble())
        var acc: Float = 0
        for (i, pr) in tempered.enumerated() {
            acc += pr
            if u < acc { return candidates[i].id }
        }
        return candidates.last!.id
    }

    /// The tokens that would complete an `n`-gram already present in `generated`: for every earlier
    /// occurrence of its last n − 1 tokens, the token that followed. With n = 1 every generated
    /// token is banned; with n = 0 or fewer tokens than n − 1, none.
    public static func bannedTokens(generated: [Int], n: Int) -> Set<Int> {
        guard n > 0, generated.count >= n else { return [] }
        let count = generated.count
        let prefixStart = count - (n - 1)
        var banned = Set<Int>()
        for start in 0...(count - n) {
            var matches = true
            for j in 0..<(n - 1) where generated[start + j] != generated[prefixStart + j] {
                matches = false
                break
            }
            if matches { banned.insert(generated[start + n - 1]) }
        }
        return banned
    }

    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue {
            best = i; bestValue = v
        }
        return best
    }

    /// The k largest (id, logit) pairs, largest first; ties by lower id.
    public static func topCandidates(_ logits: [Float], k: Int) -> [(id: Int, logit: Float)] {
        if k >= logits.count / 4 {
            return Array(logits.enumerated().map { (id: $0.offset, logit: $0.element) }
                .sorted { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }.prefix(k))
        }
        // Partial selection: keep a sorted buffer of k.
        var best: [(id: Int, logit: Float)] = []
        best.reserveCapacity(k + 1)
        for (i, v) in logits.enumerated() {
            if best.count == k, v <= best[k - 1].logit { continue }
            var lo = 0, hi = best.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if best[mid].logit >= v { lo = mid + 1 } else { hi = mid }
            }
            best.insert((i, v), at: lo)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    static func softmax(_ x: [Float]) -> [Float] {
        guard let m = x.max() else { return [] }
        let e = x.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast, and the same on every platform.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
