public import Federation
import GGUF

/// What the coordinator reads from a base model: the dimensions that fix the shared adapter's
/// layout, from the GGUF metadata only (the weights are never interpreted here). The widths come
/// from GGUF's `LlamaShape`, which the client's model loader reads too.
public enum BaseModel {
    public static func dimensions(ofGGUFAt path: String) throws -> BaseDimensions {
        do {
            let s = try GGUFFile(path: path).llamaShape()
            guard s.blockCount > 0, s.embeddingLength > 0, s.headCount > 0, s.kvHeadCount > 0, s.feedForwardLength > 0,
                  s.embeddingLength % s.headCount == 0, s.headDim > 0 else {
                throw CoordinatorError(.baseFile, "The GGUF metadata gives impossible dimensions (blocks \(s.blockCount), embedding \(s.embeddingLength), heads \(s.headCount), kv heads \(s.kvHeadCount)).",
                                       remedy: "Publish a llama-architecture GGUF model.")
            }
            return BaseDimensions(blocks: s.blockCount, embedding: s.embeddingLength, keyValue: s.kvDim, feedForward: s.feedForwardLength)
        } catch let e as CoordinatorError {
            throw e
        } catch {
            throw CoordinatorError(.baseFile, "\(path) is not a readable GGUF model: \(error).", remedy: "Publish a llama-architecture GGUF file.")
        }
    }
}
