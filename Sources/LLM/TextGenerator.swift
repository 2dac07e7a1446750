import Diagnostics
import Foundation
public import GGUF
public import Tokenizer

/// What one generation produced and how long it took.
public struct GenerationResult: Sendable {
    public enum StopReason: String, Sendable { case endOfGeneration, maxTokens, contextFull, cancelled }
    public var ids: [Int]
    public var text: String
    public var stopReason: StopReason
    public var promptTokens: Int
    public var promptSeconds: Double
    public var decodeSeconds: Double

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    /// Decode rate over the tokens after the first (the first comes from the prompt's logits).
    public var decodeTokensPerSecond: Double {
        decodeSeconds > 0 ? Double(max(ids.count - 1, 0)) / decodeSeconds : 0
    }
}

/// A model with its tokenizer and chat template: text in, streamed text out. Immutable: several tasks
/// generate from one generator at once, each in its own session with its own adapters.
public final class TextGenerator: Sendable {
    public let model: LlamaModel
    public let tokenizer: BPETokenizer
    public let template: ChatTemplate
    /// Tokens that end an answer: EOS and `<|im_end|>` where the vocabulary has them.
    public let endOfGeneration: Set<Int>

    public init(model: LlamaModel) throws {
        self.model = model
        tokenizer = try BPETokenizer(gguf: model.file)
        let jinja = model.file.metadata["tokenizer.chat_template"].flatMap { v -> String? in
            if case .string(let s) = v { return s } else { return nil }
        }
        template = try ChatTemplate(jinja: jinja)
        var stops = Set<Int>()
        if let eos = tokenizer.eosID { stops.insert(eos) }
        for name in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"] {
            if let id = tokenizer.id(of: name) { stops.insert(id) }
        }
        endOfGeneration = stops
    }

    public convenience init(modelPath: String, numericPath: NumericPath = .fastQ16, threads: Int = 2) throws {
        try self.init(model: LlamaModel(path: modelPath, numericPath: numericPath, threads: threads))
    }

    /// Generates after `prompt` (token ids) with `adapters`, in `session` when given (it continues from
    /// what the session holds and runs with the session's adapters: pass those, or none) or in a new one.
    /// `onToken` receives each new id and the text it completes (possibly empty while a UTF-8 sequence
    /// is split across tokens); return false to stop.
    public func generate(
        prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, adapters: AdapterStack = .none,
        stopAtEndOfGeneration: Bool = true, session existing: InferenceSession? = nil, threads: Int? = nil,
        onToken: (Int, String) -> Bool = { _, _ in true }
    ) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw LLMError(.badArgument, "the prompt is empty") }
        if let existing, !adapters.isEmpty, !adapters.isSame(as: existing.adapters) {
            throw LLMError(.badArgument, "the session runs with other adapters than the ones given: reset it with these adapters first")
        }
        let session = existing ?? InferenceSession(
            model: model, adapters: adapters, capacity: min(model.config.contextLength, prompt.count + maxTokens + 1),
            threads: threads)
        var sampler = Sampler(sampling)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var history = prompt
        var ids: [Int] = []
        var text = ""
        var reason = GenerationResult.StopReason.maxTokens

        let t0 = DispatchTime.now().uptimeNanoseconds
        var logits = try session.forward(prompt)
        let t1 = DispatchTime.now().uptimeNanoseconds
        while ids.count < maxTokens {
            let id = sampler.next(logits: logits, history: history, generated: ids)
            ids.append(id)
            history.append(id)
            if stopAtEndOfGeneration && endOfGeneration.contains(id) {
                reason = .endOfGeneration
                break
            }
            let piece = decoder.push(id)
            text += piece
            if !onToken(id, piece) { reason = .cancelled; break }
            if ids.count == maxTokens { break }
            if session.position >= session.capacity { reason = .contextFull; break }
            logits = try session.forward([id])
        }
        let tail = decoder.finish()
        if !tail.isEmpty {
            text += tail
            _ = onToken(-1, tail)
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        return GenerationResult(
            ids: ids, text: text, stopReason: reason, promptTokens: prompt.count,
            promptSeconds: Double(t1 - t0) / 1e9, decodeSeconds: Double(t2 - t1) / 1e9)
    }

    /// Renders `messages` with the chat template and answers as the assistant.
    public func chat(
        _ messages: [ChatMessage], maxTokens: Int = 512, sampling: SamplingParameters = .greedy,
        adapters: AdapterStack = .none, onToken: (Int, String) -> Bool = { _, _ in true }
    ) throws -> GenerationResult {
        let prompt = tokenizer.encode(template.render(messages, addGenerationPrompt: true), parseSpecial: true)
        return try generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, adapters: adapters, onToken: onToken)
    }
}
