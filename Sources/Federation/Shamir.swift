/// GF(2^16) with the reduction polynomial x^16 + x^12 + x^3 + x + 1 (0x1100B), which is primitive:
/// x generates the multiplicative group, so log/exp tables over it cover every non-zero element.
/// Chosen over GF(2^8) so a round can hold up to 65 535 participants (share indices 1…65535).

import Diagnostics
enum GF65536 {
    static let polynomial: UInt32 = 0x1100B
    static let order = 65535

    /// exp has 2·order entries so a product never needs a modulo.
    static let tables: (exp: [UInt16], log: [UInt16]) = {
        var exp = [UInt16](repeating: 0, count: 2 * order)
        var log = [UInt16](repeating: 0, count: order + 1)
        var value: UInt32 = 1
        for i in 0..<order {
            exp[i] = UInt16(value)
            log[Int(value)] = UInt16(i)
            value <<= 1
            if value & 0x10000 != 0 { value ^= polynomial }
            precondition(value != 1 || i == order - 1, "GF(2^16) polynomial is not primitive")
        }
        for i in order..<2 * order { exp[i] = exp[i - order] }
        return (exp, log)
    }()

    @inline(__always)
    static func mul(_ a: UInt16, _ b: UInt16) -> UInt16 {
        if a == 0 || b == 0 { return 0 }
        let t = tables
        return t.exp[Int(t.log[Int(a)]) + Int(t.log[Int(b)])]
    }

    @inline(__always)
    static func div(_ a: UInt16, _ b: UInt16) -> UInt16 {
        precondition(b != 0, "division by zero in GF(2^16)")
        if a == 0 { return 0 }
        let t = tables
        return t.exp[Int(t.log[Int(a)]) + order - Int(t.log[Int(b)])]
    }
}

/// One Shamir share: the index x (never 0: the secret sits at x = 0) and the polynomial's value
/// there, element by element, in the same layout as the secret.
public struct ShamirShare: Codable, Sendable, Hashable {
    public let x: UInt16
    public let y: [UInt8]

    public init(x: UInt16, y: [UInt8]) {
        self.x = x
        self.y = y
    }
}

/// t-of-n Shamir secret sharing over GF(2^16), element-wise on the secret.
///
/// A secret of 2m bytes is m field elements, element j = byte[2j] | byte[2j+1] << 8 (little
/// endian). Each element is shared independently with its own polynomial
/// f_j(x) = s_j + a_1,j·x + … + a_(t−1),j·x^(t−1); coefficient a_i is given as 2m bytes in the same
/// layout. A share for index x is (x, f_j(x) for all j) in the same layout.
public enum Shamir {
    /// Splits `secret` for the indices `xs` with the polynomial coefficients `coefficients`
    /// (t − 1 byte strings, each as long as the secret). Deterministic: for test vectors.
    public static func split(secret: [UInt8], xs: [UInt16], coefficients: [[UInt8]]) throws -> [ShamirShare] {
        guard !secret.isEmpty, secret.count % 2 == 0 else {
            throw FederationError(.invalidArgument, "Shamir secrets must be a non-empty even number of bytes, got \(secret.count).")
        }
        guard coefficients.allSatisfy({ $0.count == secret.count }) else {
            throw FederationError(.invalidArgument, "Every Shamir coefficient must be as long as the secret.")
        }
        guard Set(xs).count == xs.count, !xs.contains(0) else {
            throw FederationError(.malformedShare, "Share indices must be distinct and non-zero.")
        }
        guard coefficients.count + 1 <= xs.count else {
            throw FederationError(.invalidArgument, "A threshold of \(coefficients.count + 1) needs at least as many shares, got \(xs.count).")
        }
        let s = elements(secret)
        let a = coefficients.map(elements)
        return xs.map { x in
            var y = [UInt16](repeating: 0, count: s.count)
            for j in 0..<s.count {
                // Horner from the highest coefficient down.
                var acc: UInt16 = 0
                for i in stride(from: a.count - 1, through: 0, by: -1) { acc = GF65536.mul(acc ^ a[i][j], x) }
                y[j] = acc ^ s[j]
            }
            return ShamirShare(x: x, y: bytes(y))
        }
    }

    /// Splits with t − 1 random coefficients drawn from `rng` (`bytes(count:)`, one per coefficient, in order).
    public static func split(secret: [UInt8], threshold: Int, xs: [UInt16],
                             using rng: inout some RandomNumberGenerator) throws -> [ShamirShare] {
        guard threshold >= 1 else { throw FederationError(.invalidArgument, "The Shamir threshold must be at least 1.") }
        let coefficients = (0..<(threshold - 1)).map { _ in rng.bytes(count: secret.count) }
        return try split(secret: secret, xs: xs, coefficients: coefficients)
    }

    /// Recovers the secret from at least `threshold` shares. With more than `threshold` shares,
    /// every share beyond the first `threshold` must lie on the polynomial those define, or
    /// `.inconsistentShares` is thrown (a lying participant is detected, though not identified).
    public static func combine(_ shares: [ShamirShare], threshold: Int) throws -> [UInt8] {
        guard threshold >= 1 else { throw FederationError(.invalidArgument, "The Shamir threshold must be at least 1.") }
        guard shares.count >= threshold else {
            throw FederationError(.notEnoughShares, "Recovery needs \(threshold) shares, only \(shares.count) arrived.")
        }
        let length = shares[0].y.count
        guard length > 0, length % 2 == 0, shares.allSatisfy({ $0.y.count == length }) else {
            throw FederationError(.malformedShare, "Shares have different or odd lengths.")
        }
        guard !shares.contains(where: { $0.x == 0 }), Set(shares.map(\.x)).count == shares.count else {
            throw FederationError(.malformedShare, "Share indices must be distinct and non-zero.")
        }
        let basis = Array(shares.prefix(threshold))
        let ys = basis.map { elements($0.y) }
        let secret = interpolate(xs: basis.map(\.x), ys: ys, at: 0)
        for extra in shares.dropFirst(threshold) {
            if interpolate(xs: basis.map(\.x), ys: ys, at: extra.x) != elements(extra.y) {
                throw FederationError(.inconsistentShares, "The shares do not lie on one polynomial: at least one participant sent a wrong share.")
            }
        }
        return bytes(secret)
    }

    /// Lagrange interpolation at `point`: Σ_i y_i · Π_{j≠i} (point − x_j)/(x_i − x_j); minus is xor.
    static func interpolate(xs: [UInt16], ys: [[UInt16]], at point: UInt16) -> [UInt16] {
        let m = ys[0].count
        var result = [UInt16](repeating: 0, count: m)
        for i in xs.indices {
            var weight: UInt16 = 1
            for j in xs.indices where j != i {
                weight = GF65536.mul(weight, GF65536.div(point ^ xs[j], xs[i] ^ xs[j]))
            }
            if weight == 0 { continue }
            for k in 0..<m { result[k] ^= GF65536.mul(weight, ys[i][k]) }
        }
        return result
    }

    static func elements(_ bytes: [UInt8]) -> [UInt16] {
        stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }

    static func bytes(_ elements: [UInt16]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(elements.count * 2)
        for e in elements { out.append(UInt8(e & 0xff)); out.append(UInt8(e >> 8)) }
        return out
    }
}
