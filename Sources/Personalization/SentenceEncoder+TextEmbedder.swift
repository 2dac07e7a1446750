public import LLM
public import Memory

/// The MiniLM sentence encoder is the memory store's embedder (Memory itself knows no model code).
extension SentenceEncoder: TextEmbedder {}
