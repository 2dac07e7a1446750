public import Diagnostics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Tensor

/// AdamW (Loshchilov & Hutter, arXiv 1711.05101) with decoupled weight decay, as PyTorch's
/// torch.optim.AdamW computes it:
///   p ← p − lr·λ·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
///   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
public final class AdamW {
    public struct Configuration: Sendable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0       // λ; Hugging Face's Trainer default is 0
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    public let configuration: Configuration
    public private(set) var stepCount = 0
    private let parameters: [(value: FloatBuffer, gradient: FloatBuffer)]
    private let m: [FloatBuffer]
    private let v: [FloatBuffer]

    public init(parameters: [(value: FloatBuffer, gradient: FloatBuffer)], configuration: Configuration = .init()) {
        self.parameters = parameters
        self.configuration = configuration
        m = parameters.map { FloatBuffer(count: $0.value.count) }
        v = parameters.map { FloatBuffer(count: $0.value.count) }
    }

    /// One update with the gradients as they are (clip them first).
    public func step(learningRate lr: Float) {
        stepCount += 1
        let c = configuration
        let t = Double(stepCount)
        let correction1 = Float(1 - pow(Double(c.beta1), t))
        let correction2 = Float(1 - pow(Double(c.beta2), t))
        for (i, p) in parameters.enumerated() {
            let w = p.value.pointer, g = p.gradient.pointer, mp = m[i].pointer, vp = v[i].pointer
            for j in 0..<p.value.count {
                w[j] -= lr * c.weightDecay * w[j]
                mp[j] = c.beta1 * mp[j] + (1 - c.beta1) * g[j]
                vp[j] = c.beta2 * vp[j] + (1 - c.beta2) * g[j] * g[j]
                let mHat = mp[j] / correction1
                let vHat = vp[j] / correction2
                w[j] -= lr * mHat / (vHat.squareRoot() + c.epsilon)
            }
        }
    }

    /// The optimizer's moments, for checkpoints: (m, v) per parameter in order.
    public var moments: [(m: FloatBuffer, v: FloatBuffer)] { zip(m, v).map { ($0, $1) } }

    /// Puts back a checkpointed state: the step count and the moments, which must match in shape.
    public func restore(stepCount: Int, moments saved: [(m: [Float], v: [Float])]) throws(TuningError) {
        guard stepCount >= 0, saved.count == m.count,
              zip(saved, m).allSatisfy({ $0.m.count == $1.count && $0.v.count == $1.count }) else {
            throw TuningError(.adapterMismatch, "the checkpoint's optimizer state does not fit these adapters (other targets or rank): start without it")
        }
        self.stepCount = stepCount
        for (i, s) in saved.enumerated() {
            m[i].pointer.update(from: s.m, count: s.m.count)
            v[i].pointer.update(from: s.v, count: s.v.count)
        }
    }
}

/// Learning rate over optimizer steps: linear warmup, then constant, linear or cosine decay to 0 at the
/// end, as Hugging Face's get_{linear,cosine}_schedule_with_warmup except that warmup step s runs at
/// (s+1)/(warmup+1) of the peak, so no step is spent at rate 0.
public enum LearningRateSchedule: String, Sendable, Equatable, CaseIterable {
    case constant, linear, cosine

    /// The rate for 0-based optimizer step `step` of `total`.
    public func rate(step: Int, total: Int, warmup: Int, peak: Float) -> Float {
        if step < warmup { return peak * Float(step + 1) / Float(warmup + 1) }
        let span = max(1, total - warmup)
        let progress = Double(step - warmup) / Double(span)
        switch self {
        case .constant: return peak
        case .linear: return peak * Float(max(0, 1 - progress))
        case .cosine: return peak * Float(0.5 * (1 + cos(Double.pi * min(1, progress))))
        }
    }
}

public enum GradientClipping {
    /// √(Σ g²) over every gradient buffer, in double precision.
    public static func globalNorm(_ gradients: [FloatBuffer]) -> Double {
        var sum = 0.0
        for g in gradients {
            for i in 0..<g.count { sum += Double(g[i]) * Double(g[i]) }
        }
        return sum.squareRoot()
    }

    /// Scales all gradients by maxNorm / norm when their global norm exceeds maxNorm (PyTorch's
    /// clip_grad_norm_). Returns the norm before clipping.
    @discardableResult
    public static func clip(_ gradients: [FloatBuffer], maxNorm: Double) -> Double {
        let norm = globalNorm(gradients)
        if norm > maxNorm, norm > 0 {
            let s = Float(maxNorm / (norm + 1e-6))
            for g in gradients {
                for i in 0..<g.count { g[i] *= s }
            }
        }
        return norm
    }
}
