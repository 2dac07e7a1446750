import Foundation
import Testing
import TestModels
import Tokenizer
@testable import LLM

/// The n-gram ban inside generation, on the tiny random chat model (greedy, it loops at once).
struct NoRepeatNgramTests {
    let generator: TextGenerator

    init() throws { generator = try TextGenerator(model: TinyLlamaGGUF.chat().model()) }

    /// Whether some n-gram of `ids` occurs twice.
    func repeats(_ ids: [Int], n: Int) -> Bool {
        guard ids.count > n else { return false }
        var seen = Set<[Int]>()
        for i in 0...(ids.count - n) where !seen.insert(Array(ids[i..<i + n])).inserted { return true }
        return false
    }

    @Test func generationNeverRepeatsAGeneratedNgramAndZeroIsUnchanged() throws {
        let prompt = generator.tokenizer.encode("Tell me a story.", parseSpecial: false)
        let free = try generator.generate(prompt: prompt, maxTokens: 60, stopAtEndOfGeneration: false)
        try #require(repeats(free.ids, n: 3), "the tiny model should loop without the ban")
        var zero = SamplingParameters.greedy
        zero.noRepeatNgram = 0
        #expect(try generator.generate(prompt: prompt, maxTokens: 60, sampling: zero, stopAtEndOfGeneration: false).ids == free.ids)

        for n in [2, 3, 4] {
            var banned = SamplingParameters.greedy
            banned.noRepeatNgram = n
            let ids = try generator.generate(prompt: prompt, maxTokens: 60, sampling: banned, stopAtEndOfGeneration: false).ids
            #expect(!repeats(ids, n: n), "n = \(n)")
            // Greedy until the first token that would have completed a repeat.
            let firstRepeat = (n..<free.ids.count).first { k in
                Sampler.bannedTokens(generated: Array(free.ids[..<k]), n: n).contains(free.ids[k])
            }!
            #expect(Array(ids[..<firstRepeat]) == Array(free.ids[..<firstRepeat]))
            #expect(ids[firstRepeat] != free.ids[firstRepeat])

            var sampled = SamplingParameters()
            sampled.temperature = 0.3
            sampled.repetitionPenalty = 1
            sampled.noRepeatNgram = n
            let drawn = try generator.generate(prompt: prompt, maxTokens: 60, sampling: sampled, stopAtEndOfGeneration: false).ids
            #expect(!repeats(drawn, n: n), "sampled, n = \(n)")
        }
    }

    /// A loop already in the prompt does not ban its continuation: the prompt's n-grams do not
    /// count, neither in a new session nor in a reused one that holds earlier tokens.
    @Test func thePromptsNgramsMayBeCopied() throws {
        let prompt = generator.tokenizer.encode("Tell me a story.", parseSpecial: false)
        let free = try generator.generate(prompt: prompt, maxTokens: 60, stopAtEndOfGeneration: false).ids
        // The first position whose token continues a trigram seen earlier in the generated text.
        let k = try #require((3..<free.count).first { k in
            Sampler.bannedTokens(generated: Array(free[..<k]), n: 3).contains(free[k])
        })
        var banned = SamplingParameters.greedy
        banned.noRepeatNgram = 3
        let copied = try generator.generate(prompt: prompt + free[..<k], maxTokens: 1, sampling: banned, stopAtEndOfGeneration: false)
        #expect(copied.ids == [free[k]])

        let session = InferenceSession(model: generator.model, capacity: 256)
        try session.forward(prompt)
        let continued = try generator.generate(prompt: Array(free[..<k]), maxTokens: 1, sampling: banned,
                                               stopAtEndOfGeneration: false, session: session)
        #expect(continued.ids == [free[k]])
    }
}
