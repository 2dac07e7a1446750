import Foundation
import Testing
@testable import LLM

struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 2.9]

    @Test func greedyTakesTheArgmax() {
        var s = Sampler(.greedy)
        #expect(s.next(logits: logits, history: []) == 1)
    }

    @Test func topKOfOneIsGreedy() {
        var p = SamplingParameters()
        p.topK = 1
        p.temperature = 1.5
        var s = Sampler(p)
        for _ in 0..<20 { #expect(s.next(logits: logits, history: []) == 1) }
    }

    @Test func sameSeedSameDraws() {
        var p = SamplingParameters()
        p.temperature = 1.0
        p.topK = 0; p.topP = 1; p.minP = 0; p.repetitionPenalty = 1
        var a = Sampler(p), b = Sampler(p)
        let da = (0..<50).map { _ in a.next(logits: logits, history: []) }
        let db = (0..<50).map { _ in b.next(logits: logits, history: []) }
        #expect(da == db)
        p.seed = 99
        var c = Sampler(p)
        let dc = (0..<50).map { _ in c.next(logits: logits, history: []) }
        #expect(dc != da)
    }

    /// Draws follow softmax(logits / T): check the empirical frequency of each token.
    @Test func drawsFollowTheTemperedDistribution() {
        var p = SamplingParameters()
        p.temperature = 0.8
        p.topK = 0; p.topP = 1; p.minP = 0; p.repetitionPenalty = 1
        var s = Sampler(p)
        let n = 20000
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<n { counts[s.next(logits: logits, history: [])] += 1 }
        let expected = Sampler.softmax(logits.map { $0 / 0.8 })
        for i in logits.indices {
            #expect(abs(Double(counts[i]) / Double(n) - Double(expected[i])) < 0.015, "token \(i)")
        }
    }

    @Test func minPAndTopPCutTheTail() {
        var p = SamplingParameters()
        p.temperature = 1
        p.topK = 0; p.topP = 1; p.repetitionPenalty = 1
        p.minP = 0.5   // keeps tokens with prob ≥ half the best: ids 1 (3.0), 5 (2.9), 2 (2.5)
        var s = Sampler(p)
        let seen = Set((0..<500).map { _ in s.next(logits: logits, history: []) })
        #expect(seen == [1, 5, 2])
        p.minP = 0
        p.topP = 0.4   // the best token alone holds ~0.36; top-p keeps up to reaching 0.4: ids 1 and 5
        s = Sampler(p)
        let seen2 = Set((0..<500).map { _ in s.next(logits: logits, history: []) })
        #expect(seen2 == [1, 5])
    }

    @Test func repetitionPenaltyDemotesRecentTokens() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 1.5
        var s = Sampler(p)
        // 3.0 / 1.5 = 2.0 < 2.9: token 1 was just used, so 5 wins.
        #expect(s.next(logits: logits, history: [1]) == 5)
    }

    @Test func bannedTokensFollowEveryEarlierOccurrenceOfTheLastNMinusOneTokens() {
        // Last bigram prefix [7]: 7 was followed by 1 and by 2 earlier, so both are banned for n = 2.
        #expect(Sampler.bannedTokens(generated: [7, 1, 3, 7, 2, 7], n: 2) == [1, 2])
        // n = 3, last two tokens [3, 7]: followed once, by 2.
        #expect(Sampler.bannedTokens(generated: [7, 1, 3, 7, 2, 3, 7], n: 3) == [2])
        #expect(Sampler.bannedTokens(generated: [7, 1, 3, 7, 2, 3, 7], n: 4).isEmpty)
        #expect(Sampler.bannedTokens(generated: [4, 4, 5], n: 1) == [4, 5])
        #expect(Sampler.bannedTokens(generated: [7, 7, 7], n: 0).isEmpty)
        #expect(Sampler.bannedTokens(generated: [7], n: 2).isEmpty)
    }

    @Test func aBannedNgramIsNeverCompletedGreedyOrSampled() {
        var greedy = SamplingParameters.greedy
        greedy.noRepeatNgram = 2
        var s = Sampler(greedy)
        // Token 1 is the argmax, but [0, 1] was generated and the last token is 0: 5 wins.
        #expect(s.next(logits: logits, history: [0, 1, 0], generated: [0, 1, 0]) == 5)

        var sampled = SamplingParameters()
        sampled.temperature = 2
        sampled.topK = 0; sampled.topP = 1; sampled.minP = 0; sampled.repetitionPenalty = 1
        sampled.noRepeatNgram = 2
        var t = Sampler(sampled)
        let draws = (0..<500).map { _ in t.next(logits: logits, history: [0, 1, 0], generated: [0, 1, 0]) }
        #expect(!draws.contains(1))
        #expect(Set(draws).count == logits.count - 1)
    }

    @Test func theNgramsOfThePromptDoNotCount() {
        var p = SamplingParameters.greedy
        p.noRepeatNgram = 2
        var s = Sampler(p)
        // [0, 1] is in the history (the prompt) but not among the generated tokens.
        #expect(s.next(logits: logits, history: [0, 1, 0], generated: [0]) == 1)
    }

    @Test func noRepeatNgramZeroChangesNothing() {
        var p = SamplingParameters()
        p.temperature = 1
        var a = Sampler(p), b = Sampler(p)
        let generated = [1, 1, 1, 5, 1, 5, 1]
        let da = (0..<200).map { _ in a.next(logits: logits, history: generated) }
        let db = (0..<200).map { _ in b.next(logits: logits, history: generated, generated: generated) }
        #expect(da == db)
        var g = Sampler(.greedy)
        #expect(g.next(logits: logits, history: generated, generated: generated) == 1)
        #expect(SamplingParameters.answer.noRepeatNgram == SamplingParameters.answerNoRepeatNgram)
        #expect(SamplingParameters.answer.isGreedy && SamplingParameters.greedy.noRepeatNgram == 0)
    }

    @Test func topCandidatesMatchesAFullSort() {
        var rng = Xoshiro256(seed: 7)
        let big = (0..<5000).map { _ in Float(rng.nextDouble() * 10 - 5) }
        let fast = Sampler.topCandidates(big, k: 40).map(\.id)
        let slow = big.enumerated().sorted { $0.element > $1.element }.prefix(40).map(\.offset)
        #expect(fast == Array(slow))
    }
}

struct ChatTemplateTests {
    static let smolTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    /// Files store the newline after the role either escaped (`\\n`) or as a real newline.
    @Test(arguments: [false, true])
    func readsTheDefaultSystemMessage(realNewlines: Bool) throws {
        let jinja = realNewlines ? Self.smolTemplate.replacingOccurrences(of: "\\n", with: "\n") : Self.smolTemplate
        let t = try ChatTemplate(jinja: jinja)
        #expect(t.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    }

    @Test func rendersHistoryAndGenerationPrompt() throws {
        let t = try ChatTemplate(jinja: Self.smolTemplate)
        let text = t.render([
            ChatMessage(role: "system", content: "Be brief."),
            ChatMessage(role: "user", content: "Hi"),
            ChatMessage(role: "assistant", content: "Hello."),
            ChatMessage(role: "user", content: "Bye"),
        ])
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
        let noGen = t.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(noGen.hasPrefix("<|im_start|>system\nYou are a helpful"))
        #expect(noGen.hasSuffix("<|im_start|>user\nHi<|im_end|>\n"))
    }

    @Test func rejectsNonChatMLTemplates() {
        #expect(throws: LLMError.self) { try ChatTemplate(jinja: "[INST] {{ message }} [/INST]") }
    }
}
