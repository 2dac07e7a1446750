// Typed metadata accessors. The throwing ones name the key and the type found, so a model loader
// can report "llama.block_count is a string" instead of a generic failure.

extension GGUFFile {
    public func value(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let value = metadata[key] else {
            throw GGUFError(.missingKey, "no metadata key '\(key)'", path: path)
        }
        return value
    }

    public func string(_ key: String) throws(GGUFError) -> String {
        let v = try value(key)
        guard let s = v.stringValue else { throw wrongType(key, v, "a string") }
        return s
    }

    /// Any integer type, when the value fits in an `Int`.
    public func int(_ key: String) throws(GGUFError) -> Int {
        let v = try value(key)
        guard let i = v.intValue else { throw wrongType(key, v, "an integer") }
        return i
    }

    /// float32 or float64 (narrowed), or any integer.
    public func float(_ key: String) throws(GGUFError) -> Float {
        let v = try value(key)
        guard let f = v.floatValue else { throw wrongType(key, v, "a number") }
        return f
    }

    public func bool(_ key: String) throws(GGUFError) -> Bool {
        let v = try value(key)
        guard let b = v.boolValue else { throw wrongType(key, v, "a bool") }
        return b
    }

    public func strings(_ key: String) throws(GGUFError) -> [String] {
        try array(key, "an array of strings") { $0.stringValue }
    }

    public func ints(_ key: String) throws(GGUFError) -> [Int] {
        try array(key, "an array of integers") { $0.intValue }
    }

    public func floats(_ key: String) throws(GGUFError) -> [Float] {
        try array(key, "an array of numbers") { $0.floatValue }
    }

    /// nil when the key is absent or holds no integer that fits.
    public func optionalInt(_ key: String) -> Int? { metadata[key]?.intValue }
    /// nil when the key is absent or holds no number.
    public func optionalFloat(_ key: String) -> Float? { metadata[key]?.floatValue }
    /// nil when the key is absent or holds no string.
    public func optionalString(_ key: String) -> String? { metadata[key]?.stringValue }
    /// nil when the key is absent or holds no bool.
    public func optionalBool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    private func array<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws(GGUFError) -> [T] {
        let v = try value(key)
        guard case .array(let elements) = v else { throw wrongType(key, v, expected) }
        var out: [T] = []
        out.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let t = convert(element) else {
                throw GGUFError(.wrongType, "element \(index) of '\(key)' is \(element.typeName), expected \(expected)", path: path)
            }
            out.append(t)
        }
        return out
    }

    private func wrongType(_ key: String, _ value: GGUFValue, _ expected: String) -> GGUFError {
        GGUFError(.wrongType, "'\(key)' is \(value.typeName), expected \(expected)", path: path)
    }
}
