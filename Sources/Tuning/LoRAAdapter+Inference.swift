public import LLM

extension LoRAAdapter {
    /// This adapter's updates for `model`'s maps, for a session to apply on any numeric path:
    /// y = W·x + multiplier · scale · B(A x). The buffers are shared, not copied: training the adapter
    /// in place changes what the stack applies.
    public func stack(for model: LlamaModel, multiplier: Float = 1) throws -> AdapterStack {
        try validate(against: model.config)
        var stack = AdapterStack()
        for m in modules {
            try stack.add(LowRankUpdate(a: m.a, b: m.b, rank: m.rank, scale: multiplier * scale),
                          to: m.target.linear(in: model.blocks[m.block]))
        }
        return stack
    }
}

extension Sequence where Element == LoRAAdapter {
    /// The adapters' updates for `model`, summed in this order.
    public func stack(for model: LlamaModel) throws -> AdapterStack {
        try reduce(AdapterStack()) { try $0.appending($1.stack(for: model)) }
    }
}
