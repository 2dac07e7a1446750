public import Federation
import GGUF

/// What the coordinator reads from a base model: the dimensions that fix the shared adapter's
/// layout, from the GGUF metadata only (the weights are never interpreted here).
public enum BaseModel {
    public static func dimensions(ofGGUFAt path: String) throws -> BaseDimensions {
        do {
            let file = try GGUFFile(path: path)
            let arch = file.optionalString("general.architecture") ?? "llama"
            let blocks = try file.int("\(arch).block_count")
            let embedding = try file.int("\(arch).embedding_length")
            let heads = try file.int("\(arch).attention.head_count")
            let kvHeads = file.optionalInt("\(arch).attention.head_count_kv") ?? heads
            let ffn = try file.int("\(arch).feed_forward_length")
            guard blocks > 0, embedding > 0, heads > 0, kvHeads > 0, ffn > 0, embedding % heads == 0 else {
                throw CoordinatorError(.baseFile, "The GGUF metadata gives impossible dimensions (blocks \(blocks), embedding \(embedding), heads \(heads), kv heads \(kvHeads)).",
                                       remedy: "Publish a llama-architecture GGUF model.")
            }
            return BaseDimensions(blocks: blocks, embedding: embedding, keyValue: kvHeads * (embedding / heads), feedForward: ffn)
        } catch let e as CoordinatorError {
            throw e
        } catch {
            throw CoordinatorError(.baseFile, "\(path) is not a readable GGUF model: \(error).", remedy: "Publish a llama-architecture GGUF file.")
        }
    }
}
