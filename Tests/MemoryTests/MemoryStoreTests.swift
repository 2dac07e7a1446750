import Diagnostics
import Foundation
import Memory
import Seal
import Testing

final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { value } }
    func advance(days: Double) { lock.withLock { value += days * 86400 } }
}

/// A fresh store in its own temporary folder.
struct StoreFixture {
    let dir: URL
    let key = DataKey.generate()
    let clock = TestClock()
    var schedule = MemorySchedule()

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    var path: String { dir.appendingPathComponent("memory.sqlite").path }

    func open(key: DataKey? = nil) throws -> MemoryStore {
        let clock = self.clock
        return try MemoryStore(path: path, key: key ?? self.key, schedule: schedule, clock: { clock.now })
    }

    /// Every byte of every file in the folder.
    func allBytes() throws -> [(String, Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        return try names.map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

func note(_ text: String, importance: Double = 0.5, tier: Tier = .short) -> NewItem {
    NewItem(kind: .note, content: ItemContent(text: text, source: "test"), tier: tier, importance: importance)
}

struct MemoryStoreTests {
    @Test func itemsRoundTripSealed() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let behaviour = NewItem(kind: .behaviour, content: ItemContent(text: "A film about a heist in Lyon", output: "caper", source: "lamp2"))
        let id = try store.add(behaviour)
        let item = try store.item(id)
        #expect(item.content == behaviour.content)
        #expect(item.kind == .behaviour)
        #expect(item.tier == .short)
        // Reopening with the same key reads the same item.
        let again = try f.open()
        #expect(try again.item(id).content.output == "caper")
        #expect(throws: MemoryError.self) { try again.item(999) }
    }

    @Test func wrongKeyIsRefusedBeforeAnythingIsRead() throws {
        let f = try StoreFixture(); defer { f.remove() }
        _ = try f.open().add(note("my locker code is 4417"))
        do {
            _ = try f.open(key: DataKey.generate())
            Issue.record("another key must be refused")
        } catch let e as MemoryError {
            #expect(e.code == .wrongKey)
            #expect(!e.message.contains("4417"))
        }
    }

    @Test func repeatedItemsAreRehearsedNotDuplicated() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let a = try store.add(note("I prefer window seats on trains"))
        let b = try store.add(note("I prefer  WINDOW seats on trains"))
        #expect(a == b)
        #expect(try store.item(a).accessCount == 1)
        #expect(try store.list().count == 1)
    }

    @Test func searchRanksByRelevanceAndRehearses() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let ids = try store.add([
            note("My sister Alma lives in Porto and loves sardines"),
            note("The quarterly report is due on Friday"),
            note("Alma's birthday is on the ninth of May"),
            note("Buy sardines and bread"),
        ])
        let hits = try store.search("when is Alma's birthday")
        #expect(hits.first?.item.id == ids[2])
        #expect(Set(hits.map(\.item.id)).isSuperset(of: [ids[0], ids[2]]))
        #expect(!hits.contains { $0.item.id == ids[1] })
        #expect(try store.item(ids[2]).accessCount == 1)
        #expect(try store.search("nothing matches zzzz").isEmpty)
        #expect(try store.search("").isEmpty)
    }

    @Test func rehearsedItemsConsolidateIntoLongTermMemory() throws {
        var f = try StoreFixture(); defer { f.remove() }
        f.schedule.consolidateEvery = 5
        let store = try f.open()
        let pet = try store.add(note("My cat is called Pixel"))
        let other = try store.add(note("Parking is on level three"))
        let vip = try store.add(note("I am allergic to penicillin", importance: 0.95))
        #expect(try store.item(vip).tier == .long)       // important: straight to long-term
        for _ in 0..<3 { _ = try store.search("cat called") }
        for _ in 0..<5 { try store.recordInteraction() }  // the 5th interaction consolidates
        #expect(try store.item(pet).tier == .long)
        #expect(try store.item(other).tier == .short)
        #expect(try store.trainingSet().map(\.id) == [pet, vip].sorted())
        #expect(try store.stats().interactions == 5)
    }

    @Test func nearDuplicatesMergeOnConsolidation() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let first = try store.add(note("the espresso machine in the kitchen is broken again today", importance: 0.95))
        let twin = try store.add(note("the espresso machine in the kitchen is broken again today!", importance: 0.95))
        #expect(first == twin)   // identical terms: repetition
        let near = try store.add(note("the espresso machine in the kitchen is broken again today sadly"))
        for _ in 0..<3 { _ = try store.search("sadly") }
        let promoted = try store.consolidate()
        #expect(promoted.isEmpty)                         // merged, not promoted
        #expect(throws: MemoryError.self) { try store.item(near) }
        #expect(try store.item(first).accessCount >= 4)
    }

    @Test func refreshForgetsTheLowestValueShortTermItems() throws {
        var f = try StoreFixture(); defer { f.remove() }
        f.schedule.shortCapacity = 3
        let store = try f.open()
        let old = try store.add(note("an old unimportant remark", importance: 0.1))
        f.clock.advance(days: 60)
        let kept = try store.add([note("fresh remark one"), note("fresh remark two"), note("fresh remark three", importance: 0.8)])
        #expect(try store.refreshShortTerm() == 1)
        #expect(throws: MemoryError.self) { try store.item(old) }
        for id in kept { #expect(try store.item(id).tier == .short) }
    }

    @Test func workingMemoryMovesToShortTerm() throws {
        var f = try StoreFixture(); defer { f.remove() }
        f.schedule.workingCapacity = 2
        let store = try f.open()
        var ids: [Int64] = []
        for i in 0..<4 {
            f.clock.advance(days: 0.001)
            ids.append(try store.add(NewItem(kind: .chatTurn, content: ItemContent(text: "turn number \(i)", role: "user"), tier: .working)))
        }
        try store.trimWorkingMemory()
        #expect(try store.list(tiers: [.working]).map(\.id) == [ids[3], ids[2]])
        try store.endSession()
        #expect(try store.list(tiers: [.working]).isEmpty)
        #expect(try store.list(tiers: [.short]).count == 4)
    }

    /// A tampered row is an error naming the item, not garbage or a crash.
    @Test func tamperedContentIsDetected() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let a = try store.add(note("first secret"))
        let b = try store.add(note("second secret"))
        // Swap the two sealed blobs with a raw SQLite connection: associated data binds the row id.
        let raw = try SQLiteShell(path: f.path)
        try raw.run("UPDATE item SET content = (SELECT content FROM item WHERE id = \(b)) WHERE id = \(a)")
        do {
            _ = try store.item(a)
            Issue.record("a swapped row must fail authentication")
        } catch let e as MemoryError {
            #expect(e.code == .corrupt)
        }
    }

    /// Neither a canary nor any of its words appears in any file of the store, before and after
    /// forgetting it.
    @Test func noPlaintextOnDisk() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let canary = "zebracanary\(Int.random(in: 100000...999999))"
        let words = [canary, "quixotic", "marmalade"]
        let id = try store.add(NewItem(kind: .behaviour, content: ItemContent(
            text: "\(canary) quixotic marmalade", output: "marmalade", source: "canary-test")))
        _ = try store.search("quixotic marmalade")
        func scan() throws {
            for (name, bytes) in try f.allBytes() {
                for w in words {
                    #expect(bytes.range(of: Data(w.utf8)) == nil, "\(w) found in \(name)")
                    #expect(bytes.range(of: Data(w.uppercased().utf8)) == nil, "\(w) found in \(name)")
                }
            }
        }
        try scan()
        try store.forget([id])
        try scan()
        #expect(try store.list().isEmpty)
        #expect(throws: MemoryError.self) { try store.forget([id]) }
    }
}

/// Runs SQL on the store's file through its own connection, as an attacker with the file would.
struct SQLiteShell {
    let path: String
    init(path: String) throws { self.path = path }
    func run(_ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", path, sql]
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw MemoryError(.storage, "python sqlite3 failed") }
    }
}

/// In a large store, words found nearly everywhere are dropped from queries; rare words still find
/// their items, and a query of only common words still answers.
@Test func nearUniversalTermsAreDroppedFromLargeStores() throws {
    let f = try StoreFixture(); defer { f.remove() }
    let store = try f.open()
    var items = (0..<1200).map { note("weather report number \($0) with cloud cover") }
    items.append(note("weather report about a tornado near Wichita"))
    let ids = try store.add(items)
    let hits = try store.search("weather report tornado", limit: 3, rehearse: false)
    #expect(hits.first?.item.id == ids.last)
    #expect(try store.search("weather report", limit: 3, rehearse: false).count == 3)
}
