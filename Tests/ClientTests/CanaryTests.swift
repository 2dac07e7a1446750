import Foundation
import Seal
import Testing
import Vault

/// Runs the real `pclient` binary, built beside this test bundle.
struct PClientBinary {
    let url: URL

    init() throws {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("pclient")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { url = candidate; return }
            dir = dir.deletingLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "pclient binary not found beside the tests; run swift build first"])
    }

    @discardableResult
    func run(_ args: [String], home: String, passphrase: String = "canary test passphrase",
             environment overrides: [String: String?] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = url
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PCLIENT_HOME"] = home
        env["PCLIENT_PASSPHRASE"] = passphrase
        env["PCLIENT_KDF"] = "minimum"; env["PCLIENT_INSECURE_KDF"] = "1"
        for (name, value) in overrides { env[name] = value }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A unique canary goes in through every memory command; no byte of any file under the home holds
/// it or any of its words, before and after `forget`.
@Suite(.serialized) struct CanaryTests {
    @Test func noCanaryInAnyFileTheClientWrote() throws {
        let pclient = try PClientBinary()
        let home = temporaryFolder("canary-home")
        let work = temporaryFolder("canary-input")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(atPath: work)
        }
        let canary = "Canary\(UInt32.random(in: 100_000...UInt32.max))"
        let words = [canary, "periwinkle", "xylophonist", "Zanzibar", "hovercraft"]

        #expect(try pclient.run(["init"], home: home).status == 0)
        #expect(try pclient.run(["remember", "\(canary) the periwinkle xylophonist", "--importance", "0.95"], home: home).status == 0)
        let lamp = """
            [{"id": "q1", "input": "Which tag?", "profile": [
              {"id": "p1", "description": "\(canary) a hovercraft race across Zanzibar", "tag": "periwinkle"},
              {"id": "p2", "description": "a quiet film about bees", "tag": "nature"}]}]
            """
        try Data(lamp.utf8).write(to: URL(fileURLWithPath: work + "/lamp.json"))
        #expect(try pclient.run(["memory", "import", work + "/lamp.json"], home: home).status == 0)
        let jsonl = "{\"text\": \"\(canary) hovercraft notes\", \"kind\": \"note\"}\n"
        try Data(jsonl.utf8).write(to: URL(fileURLWithPath: work + "/notes.jsonl"))
        #expect(try pclient.run(["memory", "import", work + "/notes.jsonl"], home: home).status == 0)

        let search = try pclient.run(["memory", "search", "hovercraft Zanzibar", "--json"], home: home)
        #expect(search.status == 0)
        #expect(search.out.contains(canary))       // the user sees their data …
        for _ in 0..<3 { try pclient.run(["memory", "search", "periwinkle"], home: home) }
        #expect(try pclient.run(["memory", "consolidate"], home: home).status == 0)
        // History: a superseding note and a correction, both about the canary.
        #expect(try pclient.run(["remember", "My xylophone is called \(canary)."], home: home).status == 0)
        let superseding = try pclient.run(["remember", "My xylophone is now called \(canary)-the-second."], home: home)
        #expect(superseding.status == 0 && superseding.out.contains("It replaces item"))
        let firstLine = superseding.out.split(separator: "\n").first.map(String.init) ?? ""   // "Remembered as item N."
        let newest = try #require(firstLine.split(separator: " ").last.flatMap { Int64($0.trimmingCharacters(in: .punctuationCharacters)) })
        #expect(try pclient.run(["memory", "edit", "\(newest)", "My xylophone is now called \(canary)-the-third."], home: home).status == 0)
        let history = try pclient.run(["memory", "history", "\(newest)"], home: home)
        #expect(history.status == 0 && history.out.contains("\(canary)-the-second") && history.out.contains("edited into"))

        // A profile summary and a personal adapter whose metadata hold the canary (training an
        // adapter on it would put it in weights, where no byte scan could find it).
        try BundleFixtures.addPersonalState(to: ClientHome(path: home).unlock(passphrase: SecretBytes(utf8: "canary test passphrase")),
                                            profileText: "The user, \(canary), loves periwinkle xylophonist tunes.",
                                            adapterNote: canary)
        let home2 = temporaryFolder("canary-home2")
        defer { try? FileManager.default.removeItem(atPath: home2) }

        func scanHome(_ home: String) throws {
            let files = try FileManager.default.subpathsOfDirectory(atPath: home)
            #expect(!files.isEmpty)
            for f in files {
                var isDir: ObjCBool = false
                FileManager.default.fileExists(atPath: home + "/" + f, isDirectory: &isDir)
                if isDir.boolValue { continue }
                let bytes = try Data(contentsOf: URL(fileURLWithPath: home + "/" + f))
                for w in words {
                    for form in Set([w, w.lowercased(), w.uppercased()]) {
                        #expect(bytes.range(of: Data(form.utf8)) == nil, "\"\(form)\" found in \(f)")
                    }
                }
            }
        }
        // The bundle, written into the home so the scan covers it too.
        #expect(try pclient.run(["export", "--out", home + "/export.bundle", "--include-identity"], home: home).status == 0)
        // Imported into a second home with another passphrase: every entry re-sealed there.
        try Data("canary test passphrase".utf8).write(to: URL(fileURLWithPath: work + "/bundle.pass"))
        let importRun = try pclient.run(["import", home + "/export.bundle", "--bundle-passphrase-file", work + "/bundle.pass"],
                                        home: home2, passphrase: "second home passphrase")
        #expect(importRun.status == 0, "\(importRun.err)")
        #expect(importRun.out.contains("personal adapter") && importRun.out.contains("profile"))
        let h2 = try ClientHome(path: home2).unlock(passphrase: SecretBytes(utf8: "second home passphrase"))
        #expect(try ProfileStore(home: h2).cached()?.text.contains(canary) == true)
        #expect(try PersonalAdapterStore(home: h2).metadata()?.baseModelSHA256 == canary)
        try scanHome(home)                          // … and the disk holds none of it
        try scanHome(home2)

        let list = try pclient.run(["memory", "list", "--json"], home: home)
        let ids = try (JSONSerialization.jsonObject(with: Data(list.out.utf8)) as! [[String: Any]])
            .filter { ($0["text"] as! String).contains(canary) }.map { "\($0["id"] as! Int)" }
        #expect(ids.count == 6)                     // 3 items, and a note with its superseded and edited versions
        #expect(try pclient.run(["memory", "forget"] + ids, home: home).status == 0)
        let after = try pclient.run(["memory", "list", "--json"], home: home)
        #expect(!after.out.contains(canary))
        try scanHome(home)

        let wrong = try pclient.run(["memory", "list"], home: home, passphrase: "wrong")
        #expect(wrong.status != 0)
        #expect(wrong.err.contains("passphrase"))
    }
}
