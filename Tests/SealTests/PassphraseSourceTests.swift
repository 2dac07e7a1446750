import Diagnostics
import Foundation
import Testing
@testable import Seal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PassphraseSourceTests {
    @Test func fileSourceStripsOneTrailingNewline() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let cases: [(String, String)] = [
            ("secret phrase\n", "secret phrase"),
            ("secret phrase\r\n", "secret phrase"),
            ("secret phrase", "secret phrase"),
            ("two newlines\n\n", "two newlines\n"),
            (" spaces kept \n", " spaces kept "),
        ]
        for (contents, expected) in cases {
            try Data(contents.utf8).write(to: URL(fileURLWithPath: folder.file("p")))
            #expect(try PassphraseSource.file(path: folder.file("p")).read() == SecretBytes(utf8: expected))
        }
        try Data("\n".utf8).write(to: URL(fileURLWithPath: folder.file("p")))
        #expect(sealError { _ = try PassphraseSource.file(path: folder.file("p")).read() }?.code == .emptyPassphrase)
        #expect(sealError { _ = try PassphraseSource.file(path: folder.file("missing")).read() }?.code == .io)
    }

    @Test func environmentSource() throws {
        let name = "SEAL_TEST_PASSPHRASE_\(UInt32.random(in: 0...UInt32.max))"
        #expect(sealError { _ = try PassphraseSource.environment(name: name).read() }?.code == .passphraseUnavailable)
        setenv(name, "from the environment", 1)
        defer { unsetenv(name) }
        #expect(try PassphraseSource.environment(name: name).read() == SecretBytes(utf8: "from the environment"))
    }

    @Test func promptWithoutATerminalIsAClearError() throws {
        try #require(isatty(STDIN_FILENO) == 0, "only meaningful when tests run without a terminal on stdin")
        let error = try #require(sealError { _ = try PassphraseSource.prompt(message: "Passphrase: ").read() })
        #expect(error.code == .passphraseUnavailable)
        #expect(error.message.contains("not a terminal"))
    }
}
