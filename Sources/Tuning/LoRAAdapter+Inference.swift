public import LLM

extension LoRAAdapter {
    /// Adds this adapter to the model's linear maps for inference on any numeric path:
    /// y = W·x + scale · B(A x). The adapter's buffers are shared, not copied.
    public func attach(to model: LlamaModel) throws {
        try validate(against: model.config)
        for m in modules {
            try m.target.linear(in: model.blocks[m.block])
                .attach(LowRankUpdate(a: m.a, b: m.b, rank: m.rank, scale: scale))
        }
    }
}
