import Diagnostics
import Foundation

/// The hyper-parameters of a BERT encoder, from a Hugging Face `config.json`
/// (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, intermediate 1536, GELU, 512 positions,
/// LayerNorm eps 1e-12, vocabulary 30522).
public struct BertConfig: Sendable, Equatable {
    public var layers: Int
    public var hiddenSize: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var vocabularySize: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float

    public var headDim: Int { hiddenSize / heads }

    public init(
        layers: Int, hiddenSize: Int, heads: Int, intermediateSize: Int, maxPositions: Int,
        vocabularySize: Int, typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12
    ) throws {
        self.layers = layers
        self.hiddenSize = hiddenSize
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.vocabularySize = vocabularySize
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        let sizes = [layers, hiddenSize, heads, intermediateSize, maxPositions, vocabularySize, typeVocabularySize]
        guard sizes.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }), hiddenSize % heads == 0 else {
            throw LLMError(.unsupportedModel, "BERT config with layers \(layers), hidden \(hiddenSize), heads \(heads), intermediate \(intermediateSize), positions \(maxPositions), vocabulary \(vocabularySize) is not a shape this encoder runs.")
        }
    }

    /// Reads `config.json`; only absolute position embeddings and the erf form of GELU are run.
    public init(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LLMError(.modelNotFound, "Cannot read \(file); run scripts/setup to install the sentence encoder.")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LLMError(.unsupportedModel, "\(file) is not a JSON object; run scripts/setup to reinstall the sentence encoder.")
        }
        func int(_ key: String) throws -> Int {
            guard let v = json[key] as? Int else {
                throw LLMError(.unsupportedModel, "\(file) has no integer \(key); is it a BERT config?")
            }
            return v
        }
        if let type = json["model_type"] as? String, type != "bert" {
            throw LLMError(.unsupportedModel, "\(file) describes a \(type) model; the sentence encoder runs BERT only.")
        }
        if let act = json["hidden_act"] as? String, act != "gelu" {
            throw LLMError(.unsupportedModel, "\(file) asks for activation \(act); the sentence encoder implements gelu (erf form) only.")
        }
        if let pos = json["position_embedding_type"] as? String, pos != "absolute" {
            throw LLMError(.unsupportedModel, "\(file) asks for \(pos) position embeddings; only absolute ones are implemented.")
        }
        let eps = (json["layer_norm_eps"] as? Double) ?? 1e-12
        try self.init(
            layers: int("num_hidden_layers"), hiddenSize: int("hidden_size"), heads: int("num_attention_heads"),
            intermediateSize: int("intermediate_size"), maxPositions: int("max_position_embeddings"),
            vocabularySize: int("vocab_size"), typeVocabularySize: (json["type_vocab_size"] as? Int) ?? 2,
            layerNormEpsilon: Float(eps))
    }
}
