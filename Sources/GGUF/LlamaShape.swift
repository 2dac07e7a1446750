/// The widths of a llama-family transformer as its GGUF metadata gives them (`{arch}.*` keys, arch
/// from `general.architecture`). The model loader (LLM's `LlamaConfig`) and the federation's adapter
/// layout (`BaseDimensions`, on the client and on the coordinator) all read them here, so they
/// cannot disagree on a width. Plain integers: nothing is checked beyond the keys' presence and
/// types; each user validates what it relies on.
public struct LlamaShape: Sendable, Hashable {
    public var architecture: String     // general.architecture, "llama" when absent
    public var blockCount: Int          // {arch}.block_count
    public var embeddingLength: Int     // {arch}.embedding_length
    public var feedForwardLength: Int   // {arch}.feed_forward_length
    public var headCount: Int           // {arch}.attention.head_count
    public var kvHeadCount: Int         // {arch}.attention.head_count_kv, else head_count
    /// {arch}.attention.key_length when present, else embedding_length / head_count.
    public var headDim: Int

    /// Query width: heads × head dimension.
    public var qDim: Int { headCount * headDim }
    /// Key/value width: kv heads × head dimension.
    public var kvDim: Int { kvHeadCount * headDim }

    /// `kvHeadCount` nil: as many as `headCount`; `keyLength` nil: `embeddingLength / headCount`.
    public init(architecture: String = "llama", blockCount: Int, embeddingLength: Int, feedForwardLength: Int,
                headCount: Int, kvHeadCount: Int? = nil, keyLength: Int? = nil) {
        self.architecture = architecture
        self.blockCount = blockCount
        self.embeddingLength = embeddingLength
        self.feedForwardLength = feedForwardLength
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount ?? headCount
        self.headDim = keyLength ?? embeddingLength / max(headCount, 1)
    }
}

extension GGUFFile {
    /// The model's `LlamaShape`; throws when a required key is missing or not an integer.
    public func llamaShape() throws(GGUFError) -> LlamaShape {
        let arch = optionalString("general.architecture") ?? "llama"
        return LlamaShape(
            architecture: arch,
            blockCount: try int("\(arch).block_count"),
            embeddingLength: try int("\(arch).embedding_length"),
            feedForwardLength: try int("\(arch).feed_forward_length"),
            headCount: try int("\(arch).attention.head_count"),
            kvHeadCount: optionalInt("\(arch).attention.head_count_kv"),
            keyLength: optionalInt("\(arch).attention.key_length")
        )
    }
}
