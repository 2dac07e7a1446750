import Federation
import Foundation
import Memory
import Seal
import Testing
import Vault

/// kill -9 of `pclient import` at many moments: the home is always either as before or complete.
@Suite(.serialized) struct CrashSafetyTests {
    let passphrase = "crash test passphrase"
    var secret: SecretBytes { SecretBytes(utf8: passphrase) }

    func makeBundle(items: Int, at path: String) throws -> ClientHome {
        let home = ClientHome(path: temporaryFolder("crash-src"))
        let unlocked = try home.initialize(passphrase: secret, limits: .minimum)
        try unlocked.memory.add((0..<items).map {
            NewItem(kind: .note, content: ItemContent(text: "note number \($0) about topic \($0 % 97)"), importance: $0 % 10 == 0 ? 0.95 : 0.5)
        })
        // Every other entry kind too, so the import installs several files.
        try BundleFixtures.addPersonalState(to: unlocked)
        let bytes = try SealedBundle.export(unlocked, passphrase: secret, includeIdentity: true, limits: .minimum)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return home
    }

    func count(_ home: ClientHome) throws -> Int {
        try home.unlock(passphrase: secret).memory.list(limit: 1_000_000).count
    }

    /// The files besides memory a complete import brings, each opened under the home's key.
    func personalFiles(_ home: ClientHome) throws -> [String] {
        let h = try home.unlock(passphrase: secret)
        var found: [String] = []
        if try PersonalAdapterStore(home: h).load(model: BundleFixtures.tiny) != nil { found.append("adapter") }
        if try ProfileStore(home: h).cached() != nil { found.append("profile") }
        if try SharedAdapterStore.current(home) != nil { found.append("shared") }
        return found
    }

    /// Starts `pclient import`, kills it with SIGKILL after `delay` seconds.
    /// Returns early if the import ends first.
    func importAndKill(_ pclient: PClientBinary, bundle: String, home: ClientHome, delay: Double, foreign: Bool) throws {
        let p = Process()
        p.executableURL = pclient.url
        p.arguments = ["import", bundle] + (foreign ? ["--foreign"] : [])
        var env = ProcessInfo.processInfo.environment
        env["PCLIENT_HOME"] = home.path
        env["PCLIENT_PASSPHRASE"] = passphrase
        env["PCLIENT_KDF"] = "minimum"; env["PCLIENT_INSECURE_KDF"] = "1"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(delay)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    @Test func killDuringImportLeavesThePreviousState() throws {
        let pclient = try PClientBinary()
        let bundle = temporaryFolder("crash") + ".bundle"
        let n = 4000
        let src = try makeBundle(items: n, at: bundle)
        defer { try? FileManager.default.removeItem(atPath: src.path); try? FileManager.default.removeItem(atPath: bundle) }

        // How long a whole import takes here, so the kills land throughout it.
        let probe = ClientHome(path: temporaryFolder("crash-probe"))
        let start = Date()
        try importAndKill(pclient, bundle: bundle, home: probe, delay: 30, foreign: false)
        let duration = Date().timeIntervalSince(start)
        #expect(try count(probe) == n)
        try? FileManager.default.removeItem(atPath: probe.path)
        // Into an existing home it takes longer (the home is copied first).
        let probeOld = ClientHome(path: temporaryFolder("crash-probe-old"))
        try probeOld.initialize(passphrase: secret, limits: .minimum)
        let startOld = Date()
        try importAndKill(pclient, bundle: bundle, home: probeOld, delay: 30, foreign: true)
        let durationOld = Date().timeIntervalSince(startOld)
        #expect(try count(probeOld) == n)
        try? FileManager.default.removeItem(atPath: probeOld.path)

        var outcomes: [String: Int] = [:]
        for fraction in [0.0, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 1.0, 1.5] {
            let delay = duration * fraction
            // Into a new home: afterwards there is no home, or a complete one.
            let fresh = ClientHome(path: temporaryFolder("crash-new"))
            try importAndKill(pclient, bundle: bundle, home: fresh, delay: delay, foreign: false)
            if fresh.isInitialized {
                #expect(try count(fresh) == n, "delay \(delay): a partial home")
                #expect(try personalFiles(fresh) == ["adapter", "profile", "shared"], "delay \(delay): a partial home")
                outcomes["new home: complete", default: 0] += 1
            } else {
                #expect(!FileManager.default.fileExists(atPath: fresh.memoryPath), "delay \(delay): a half-made home")
                outcomes["new home: absent", default: 0] += 1
            }

            // Into an existing home with one item: afterwards 1 item, or 1 + n.
            let existing = ClientHome(path: temporaryFolder("crash-old"))
            try existing.initialize(passphrase: secret, limits: .minimum).memory
                .add(NewItem(kind: .note, content: ItemContent(text: "the one item before the import")))
            try importAndKill(pclient, bundle: bundle, home: existing, delay: durationOld * fraction, foreign: true)
            let c = try count(existing)
            #expect(c == 1 || c == 1 + n, "delay \(delay): \(c) items")
            // Another identity's bundle (--foreign): adapter and profile arrive with the memory, the
            // coordinator link does not.
            #expect(try personalFiles(existing) == (c == 1 ? [] : ["adapter", "profile"]), "delay \(delay): \(c) items")
            outcomes[c == 1 ? "existing home: unchanged" : "existing home: complete", default: 0] += 1

            let parent = URL(fileURLWithPath: fresh.path).deletingLastPathComponent().path
            for h in [fresh, existing] { try? FileManager.default.removeItem(atPath: h.path) }
            for stem in [fresh, existing].map({ URL(fileURLWithPath: $0.path).lastPathComponent }) {
                for leftover in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where leftover.hasPrefix(stem) {
                    try? FileManager.default.removeItem(atPath: parent + "/" + leftover)
                }
            }
        }
        print("kill -9 during import (a whole import takes \(duration) s into a new home, \(durationOld) s into an existing one): \(outcomes)")
    }

    /// kill -9 during `pclient memory import` (a large write): the store holds the items from before,
    /// or all of the new ones, and opens cleanly either way.
    @Test func killDuringAMemoryWriteLeavesThePreviousState() throws {
        let pclient = try PClientBinary()
        let home = ClientHome(path: temporaryFolder("crash-write"))
        let jsonl = temporaryFolder("crash-notes") + ".jsonl"
        defer { try? FileManager.default.removeItem(atPath: home.path); try? FileManager.default.removeItem(atPath: jsonl) }
        let n = 3000
        let lines = (0..<n).map { "{\"text\": \"imported note \($0) on subject \($0 % 89)\"}" }.joined(separator: "\n")
        try Data(lines.utf8).write(to: URL(fileURLWithPath: jsonl))
        try home.initialize(passphrase: secret, limits: .minimum).memory
            .add(NewItem(kind: .note, content: ItemContent(text: "written before the crash")))

        func run(killAfter delay: Double) throws {
            let p = Process()
            p.executableURL = pclient.url
            p.arguments = ["memory", "import", jsonl, "--no-encoder"]
            var env = ProcessInfo.processInfo.environment
            env["PCLIENT_HOME"] = home.path
            env["PCLIENT_PASSPHRASE"] = passphrase
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(delay)
            while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        // A run to completion (then forget the imported items) tells how long the write takes.
        let start = Date()
        try run(killAfter: 60)
        let duration = Date().timeIntervalSince(start)
        let store = try home.unlock(passphrase: secret).memory
        let imported = try store.list(limit: 1_000_000).filter { $0.content.text.hasPrefix("imported") }.map(\.id)
        #expect(imported.count == n)
        try store.forget(imported)

        var outcomes: [Int: Int] = [:]
        for fraction in [0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.97] {
            try run(killAfter: duration * fraction)
            let items = try home.unlock(passphrase: secret).memory.list(limit: 1_000_000)
            #expect(items.count == 1 || items.count == 1 + n, "after a kill at \(fraction): \(items.count) items")
            #expect(items.contains { $0.content.text == "written before the crash" })
            outcomes[items.count, default: 0] += 1
            let added = items.filter { $0.content.text.hasPrefix("imported") }.map(\.id)
            if !added.isEmpty { try home.unlock(passphrase: secret).memory.forget(added) }
        }
        print("kill -9 during memory import (\(duration) s): item counts after \(outcomes)")
    }
}
