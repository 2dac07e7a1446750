import Diagnostics
import Testing

/// An error of the shape every module's error has, to check the rendering they share.
private struct SampleError: CodedError {
    enum Code: String, ErrorCode { case broken }
    var code = Code.broken
    var message: String
    var remedy: String?
    var cause: (any Error)?
}

private struct Underlying: Error, CustomStringConvertible {
    var description: String { "disk full" }
}

struct CodedErrorTests {
    @Test func rendersMessageRemedyAndCause() {
        #expect(SampleError(message: "cannot save").description == "cannot save")
        #expect(SampleError(message: "cannot save", remedy: "free some space").description == "cannot save (free some space)")
        #expect(SampleError(message: "cannot save", cause: Underlying()).description == "cannot save [disk full]")
        #expect(SampleError(message: "cannot save", remedy: "free some space", cause: Underlying()).description
            == "cannot save (free some space) [disk full]")
        #expect(SampleError(message: "x").code.name == "broken")
    }

    /// A message that already quotes its cause does not say it twice.
    @Test func aCauseTheMessageQuotesIsNotRepeated() {
        #expect(SampleError(message: "cannot save: disk full", cause: Underlying()).description == "cannot save: disk full")
    }

    @Test func saysTheSameComparesMessageRemedyAndCause() {
        let a = SampleError(message: "m", remedy: "r", cause: Underlying())
        #expect(a.saysTheSame(as: SampleError(message: "m", remedy: "r", cause: Underlying())))
        #expect(!a.saysTheSame(as: SampleError(message: "m", remedy: "r")))
        #expect(!a.saysTheSame(as: SampleError(message: "m", cause: Underlying())))
    }
}
