import Diagnostics
public import Tensor

/// Low-rank updates of some of a model's linear maps, applied by a forward pass on top of the frozen
/// base:  y = x·Wᵀ + Σ_a scale_a · (x·A_aᵀ)·B_aᵀ,  A: (r, in), B: (out, r), in the order they were added.
///
/// A value, built once per set of adapters and passed to each session: one loaded model serves
/// requests with different stacks at once, and nothing is attached to the model. The buffers are
/// shared, not copied (an adapter that is trained in place changes the stacks built from it).
public struct AdapterStack: Sendable {
    /// No adapters: the base model.
    public static let none = AdapterStack()

    private var bySlot: [[LowRankUpdate]] = []
    /// The map each slot's updates were added for, to refuse a stack built for another model.
    private var owners: [ObjectIdentifier?] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Adds `update` to `linear`'s map, after the updates already there.
    public mutating func add(_ update: LowRankUpdate, to linear: Linear) throws {
        guard update.rank > 0, update.a.count == update.rank * linear.inFeatures,
              update.b.count == linear.outFeatures * update.rank else {
            throw LLMError(.badTensorShape, "an adapter for \(linear.name) has A (\(update.a.count) values) or B (\(update.b.count)) that do not fit rank \(update.rank) and shape \(linear.outFeatures)×\(linear.inFeatures)")
        }
        reserve(slot: linear.slot)
        bySlot[linear.slot].append(update)
        owners[linear.slot] = ObjectIdentifier(linear)
        count += 1
    }

    /// This stack's updates followed by `other`'s.
    public func appending(_ other: AdapterStack) throws -> AdapterStack {
        var out = self
        for (slot, updates) in other.bySlot.enumerated() where !updates.isEmpty {
            out.reserve(slot: slot)
            if let mine = out.owners[slot], mine != other.owners[slot] {
                throw LLMError(.badArgument, "two adapter stacks built for different models cannot be combined")
            }
            out.bySlot[slot] += updates
            out.owners[slot] = other.owners[slot]
            out.count += updates.count
        }
        return out
    }

    private mutating func reserve(slot: Int) {
        guard bySlot.count <= slot else { return }
        bySlot += Array(repeating: [], count: slot + 1 - bySlot.count)
        owners += Array(repeating: nil, count: slot + 1 - owners.count)
    }

    /// The updates of `linear`'s map, in order (empty when it has none).
    @inline(__always)
    public func updates(for linear: Linear) -> [LowRankUpdate] {
        linear.slot < bySlot.count ? bySlot[linear.slot] : []
    }

    /// Throws unless every update was added for one of `model`'s own maps.
    public func validate(for model: LlamaModel) throws {
        let linears = model.allLinears
        for (slot, owner) in owners.enumerated() {
            guard let owner else { continue }
            guard slot < linears.count, ObjectIdentifier(linears[slot]) == owner else {
                throw LLMError(.badArgument, "these adapters were prepared for another loaded model: build the adapter stack from the model that runs it")
            }
        }
    }

    /// Whether two stacks hold the same updates (the same buffers and scales) in the same order.
    public func isSame(as other: AdapterStack) -> Bool {
        guard count == other.count else { return false }
        let n = max(bySlot.count, other.bySlot.count)
        for slot in 0..<n {
            let a = slot < bySlot.count ? bySlot[slot] : []
            let b = slot < other.bySlot.count ? other.bySlot[slot] : []
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.a !== y.a || x.b !== y.b || x.scale != y.scale { return false }
        }
        return true
    }
}
