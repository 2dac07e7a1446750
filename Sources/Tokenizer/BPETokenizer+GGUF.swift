public import Diagnostics
public import GGUF

// Reading the vocabulary from a GGUF file's `tokenizer.*` metadata (llama.cpp's key names):
//   tokenizer.ggml.model          "gpt2" for byte-level BPE
//   tokenizer.ggml.pre            pre-tokenizer name ("smollm"); absent means "default"
//   tokenizer.ggml.tokens         token strings, by id
//   tokenizer.ggml.merges         "left right", best first
//   tokenizer.ggml.token_type     optional; 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id   optional
//   tokenizer.ggml.add_bos_token  optional
//   tokenizer.chat_template       optional Jinja template
extension BPETokenizer {
    public init(gguf: GGUFFile) throws(TokenizerError) {
        func read<T>(_ body: () throws(GGUFError) -> T) throws(TokenizerError) -> T {
            do {
                return try body()
            } catch {
                throw TokenizerError(
                    .malformedVocabulary,
                    "The model file's tokenizer metadata cannot be read: \(error.message). Use a GGUF converted by llama.cpp's convert_hf_to_gguf.py.",
                    cause: error
                )
            }
        }
        let model = try read { () throws(GGUFError) in try gguf.string("tokenizer.ggml.model") }
        guard model == "gpt2" else {
            throw TokenizerError(
                .unsupportedModel,
                "The vocabulary type '\(model)' (tokenizer.ggml.model) is not byte-level BPE; only 'gpt2' vocabularies are supported."
            )
        }
        let tokens = try read { () throws(GGUFError) in try gguf.strings("tokenizer.ggml.tokens") }
        let merges = try read { () throws(GGUFError) in try gguf.strings("tokenizer.ggml.merges") }
        let types: [Int] = gguf.metadata["tokenizer.ggml.token_type"] == nil
            ? []
            : try read { () throws(GGUFError) in try gguf.ints("tokenizer.ggml.token_type") }
        try self.init(
            tokens: tokens,
            merges: merges,
            tokenTypes: types,
            bos: gguf.optionalInt("tokenizer.ggml.bos_token_id"),
            eos: gguf.optionalInt("tokenizer.ggml.eos_token_id"),
            pre: gguf.optionalString("tokenizer.ggml.pre") ?? "default",
            unknown: gguf.optionalInt("tokenizer.ggml.unknown_token_id")
        )
        paddingID = gguf.optionalInt("tokenizer.ggml.padding_token_id")
        addBOSToken = gguf.optionalBool("tokenizer.ggml.add_bos_token")
        chatTemplate = gguf.optionalString("tokenizer.chat_template")
    }
}
