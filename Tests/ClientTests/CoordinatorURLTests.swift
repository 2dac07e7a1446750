import Federation
import Foundation
import Seal
import Testing
import Transport

/// Issue 16 item 7: the transport refuses plain http to another machine before connecting.
@Suite struct CoordinatorURLTests {
    @Test func plainHTTPIsRefusedExceptToThisMachine() throws {
        for url in ["http://192.0.2.10:8443", "http://coord.example.org", "http://10.0.0.1/prefix", "HTTP://[2001:db8::1]:80"] {
            #expect(CoordinatorURL.isInsecure(url), "\(url)")
            #expect(throws: HTTPError.self) { try HTTPTransport(baseURL: url, identity: nil) }
            var insecure = HTTPConfiguration()
            insecure.allowInsecureHTTP = true
            #expect(try HTTPTransport(baseURL: url, identity: nil, configuration: insecure).baseURL.lowercased().hasPrefix("http://"))
        }
        for url in ["http://127.0.0.1:8443", "http://127.1.2.3", "http://localhost:9", "http://[::1]:8443", "https://coord.example.org", "https://192.0.2.10"] {
            #expect(!CoordinatorURL.isInsecure(url), "\(url)")
            _ = try HTTPTransport(baseURL: url, identity: nil)
        }
        do {
            _ = try HTTPTransport(baseURL: "http://192.0.2.10", identity: nil)
        } catch let e as HTTPError {
            #expect(e.kind == .insecure && e.message.contains("--insecure"))
        }
    }

    /// A coordinator's error text reaches the user's terminal escaped (issue 16 item 11, client side).
    @Test func aCoordinatorsErrorTextIsShownEscaped() {
        let api = APIErrorBody(code: "x\u{1b}[2J", message: "owned\u{1b}]0;title\u{07}", remedy: "read \u{202e}txt.exe")
        let text = HTTPError(.status(401), "refused", api: api, request: "GET /v1/round").description
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\u{202e}" })
        #expect(text.contains(#"owned\u{1b}]0;title\u{7}"#) && text.contains(#"read \u{202e}txt.exe"#), "\(text)")
    }
}
