import Tensor

/// A BERT encoder's weights in f32, as Hugging Face's `BertModel` names them. Linear weights keep
/// PyTorch's (out, in) layout; the query, key and value projections are fused into one (3·C, C)
/// matrix so a layer's attention inputs come from a single product.
struct BertWeights: @unchecked Sendable {
    struct Layer {
        /// (3C, C) rows: query, then key, then value; bias (3C).
        let qkv: FloatBuffer, qkvBias: FloatBuffer
        /// (C, C), bias (C).
        let attentionOut: FloatBuffer, attentionOutBias: FloatBuffer
        let attentionNorm: FloatBuffer, attentionNormBias: FloatBuffer
        /// (F, C), bias (F).
        let intermediate: FloatBuffer, intermediateBias: FloatBuffer
        /// (C, F), bias (C).
        let output: FloatBuffer, outputBias: FloatBuffer
        let outputNorm: FloatBuffer, outputNormBias: FloatBuffer
    }

    /// (V, C), (P, C), (types, C).
    let wordEmbeddings: FloatBuffer
    let positionEmbeddings: FloatBuffer
    let tokenTypeEmbeddings: FloatBuffer
    let embeddingNorm: FloatBuffer, embeddingNormBias: FloatBuffer
    let layers: [Layer]

    init(file: SafetensorsFile, config: BertConfig) throws {
        let c = config.hiddenSize, f = config.intermediateSize
        // Checkpoints saved from `BertModel` have no prefix; those saved from a task model have "bert.".
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func load(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
            let buffer = FloatBuffer(count: shape.reduce(1, *), zeroed: false)
            try file.read(prefix + name, shape: shape, into: buffer.pointer)
            return buffer
        }
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [config.vocabularySize, c])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [config.maxPositions, c])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [config.typeVocabularySize, c])
        embeddingNorm = try load("embeddings.LayerNorm.weight", [c])
        embeddingNormBias = try load("embeddings.LayerNorm.bias", [c])

        var layers: [Layer] = []
        for i in 0..<config.layers {
            let p = "encoder.layer.\(i)."
            let qkv = FloatBuffer(count: 3 * c * c, zeroed: false)
            let qkvBias = FloatBuffer(count: 3 * c, zeroed: false)
            for (j, part) in ["query", "key", "value"].enumerated() {
                try file.read(prefix + p + "attention.self.\(part).weight", shape: [c, c], into: qkv.pointer + j * c * c)
                try file.read(prefix + p + "attention.self.\(part).bias", shape: [c], into: qkvBias.pointer + j * c)
            }
            layers.append(Layer(
                qkv: qkv, qkvBias: qkvBias,
                attentionOut: try load(p + "attention.output.dense.weight", [c, c]),
                attentionOutBias: try load(p + "attention.output.dense.bias", [c]),
                attentionNorm: try load(p + "attention.output.LayerNorm.weight", [c]),
                attentionNormBias: try load(p + "attention.output.LayerNorm.bias", [c]),
                intermediate: try load(p + "intermediate.dense.weight", [f, c]),
                intermediateBias: try load(p + "intermediate.dense.bias", [f]),
                output: try load(p + "output.dense.weight", [c, f]),
                outputBias: try load(p + "output.dense.bias", [c]),
                outputNorm: try load(p + "output.LayerNorm.weight", [c]),
                outputNormBias: try load(p + "output.LayerNorm.bias", [c])))
        }
        self.layers = layers
    }
}
