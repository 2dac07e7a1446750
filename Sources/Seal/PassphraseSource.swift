import Diagnostics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a passphrase comes from. The CLI picks the source (a `--passphrase-file` option, an
/// environment variable such as `PCLIENT_PASSPHRASE`, or a prompt); this reads it straight into
/// guarded memory. Empty passphrases are refused.
public enum PassphraseSource: Sendable {
    /// A file's contents, with one trailing newline ("\n" or "\r\n") removed.
    case file(path: String)
    /// The value of an environment variable.
    case environment(name: String)
    /// Asks on the terminal with echo off; fails when standard input is not a terminal.
    case prompt(message: String)

    static let maximumBytes = 4096

    public func read() throws -> SecretBytes {
        let passphrase: SecretBytes
        switch self {
        case .file(let path):
            let raw = try POSIXFile.readSecret(path: path, maximum: Self.maximumBytes + 1, what: "read the passphrase file")
            guard raw.count <= Self.maximumBytes else {
                throw SealError(.passphraseUnavailable, "The passphrase file \(path) is longer than \(Self.maximumBytes) bytes. Put only the passphrase in it.")
            }
            passphrase = raw.slice(0..<Self.lengthWithoutNewline(raw))
        case .environment(let name):
            guard let value = getenv(name) else {
                throw SealError(.passphraseUnavailable, "The environment variable \(name) is not set. Set it, or give a passphrase file.")
            }
            let count = strlen(value)
            passphrase = SecretBytes(count: count) { out in
                if count > 0 { out.baseAddress!.copyMemory(from: value, byteCount: count) }
            }
        case .prompt(let message):
            passphrase = try Self.prompt(message)
        }
        guard passphrase.count > 0 else {
            throw SealError(.emptyPassphrase, "The passphrase from \(sourceName) is empty. Give a non-empty passphrase.")
        }
        return passphrase
    }

    private var sourceName: String {
        switch self {
        case .file(let path): "the file \(path)"
        case .environment(let name): "the environment variable \(name)"
        case .prompt: "the prompt"
        }
    }

    private static func lengthWithoutNewline(_ bytes: SecretBytes) -> Int {
        bytes.withUnsafeBytes { b in
            var n = b.count
            if n > 0, b[n - 1] == UInt8(ascii: "\n") {
                n -= 1
                if n > 0, b[n - 1] == UInt8(ascii: "\r") { n -= 1 }
            }
            return n
        }
    }

    private static func prompt(_ message: String) throws -> SecretBytes {
        guard isatty(STDIN_FILENO) == 1 else {
            throw SealError(.passphraseUnavailable, "No passphrase available: standard input is not a terminal, so there is no one to ask. Give a passphrase file or set the passphrase environment variable.")
        }
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else {
            throw POSIXFile.error("tcgetattr", path: "standard input", what: "read the terminal settings")
        }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent) == 0 else {
            throw POSIXFile.error("tcsetattr", path: "standard input", what: "turn off echo")
        }
        defer { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
        Array(message.utf8).withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }

        // Read byte by byte up to the newline, straight into guarded memory.
        var length = 0
        let buffer = try SecretBytes(count: maximumBytes) { out in
            while length < out.count {
                let n = try POSIXFile.readSome(STDIN_FILENO, UnsafeMutableRawBufferPointer(rebasing: out[length..<length + 1]), path: "standard input")
                if n == 0 || out[length] == UInt8(ascii: "\n") { break }
                length += 1
            }
        }
        let trimmed = length > 0 && buffer.withUnsafeBytes { $0[length - 1] } == UInt8(ascii: "\r") ? length - 1 : length
        return buffer.slice(0..<trimmed)
    }
}
