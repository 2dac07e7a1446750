/// One HTTP byte range (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or `bytes=-n`. Several ranges
/// in one header are not served (the whole file is sent instead, which RFC 9110 allows).
enum ByteRange: Equatable {
    case whole
    case part(ClosedRange<Int64>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int64) -> ByteRange {
        guard let header else { return .whole }
        let h = header.trimmingCharacters(in: " ")
        guard h.hasPrefix("bytes="), !h.contains(",") else { return .whole }
        let spec = h.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let n = Int64(last), n >= 0 else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - n)...(size - 1))
        }
        guard let a = Int64(first), a >= 0 else { return .whole }
        let b: Int64
        if last.isEmpty { b = size - 1 } else {
            guard let parsed = Int64(last), parsed >= a else { return .whole }
            b = min(parsed, size - 1)
        }
        guard a < size else { return .unsatisfiable }
        return .part(a...b)
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return String(s)
    }
}
