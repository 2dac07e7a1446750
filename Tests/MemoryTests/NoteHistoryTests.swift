import Diagnostics
import Foundation
import GRDB
import Memory
import Seal
import Testing

@Suite struct NoteFrameTests {
    @Test func readsSubjectRelationAndValue() throws {
        let dog = try #require(NoteFrame("My dog is called Biscuit."))
        #expect(dog.subject == ["my", "dog"] && dog.relation == ["named"] && dog.value == ["biscuit"])
        let name = try #require(NoteFrame("My dog's name is Rex."))
        #expect(name.key == dog.key && name.value == ["rex"])
        let live = try #require(NoteFrame("I now live in Lisbon."))
        #expect(live.subject == ["i"] && live.relation == ["live", "in"] && live.value == ["lisbon"] && live.marksChange)
        let moved = try #require(NoteFrame("Remember that I moved to Berlin"))
        #expect(moved.key == live.key && moved.marksChange)
        let work = try #require(NoteFrame("I'm working for Bosch these days."))
        #expect(work.relation == ["work", "at"] && work.value == ["bosch"] && work.marksChange)
        let birthday = try #require(NoteFrame("My wife's birthday is on March 3rd."))
        #expect(birthday.subject == ["my", "wife", "s", "birthday"] && birthday.relation == ["is", "on"])
        #expect(NoteFrame("What is my dog's name?") == nil)
        #expect(NoteFrame("The weather is nice today.") == nil)
        #expect(NoteFrame("My favourite") == nil)
    }

    @Test func supersedesOnlyTheSameSubjectAndRelation() throws {
        func s(_ new: String, _ old: String) -> Bool {
            NoteFrame.frames(in: new).contains { f in NoteFrame.frames(in: old).contains { f.supersedes($0) } }
        }
        #expect(s("I now live in Lisbon.", "I live in Porto."))
        #expect(s("I live in Lisbon.", "I live in Porto."))                          // one home at a time
        #expect(s("My dog is called Rex.", "My dog's name is Biscuit."))
        #expect(s("I work at Bosch.", "I work at Siemens in Munich."))
        #expect(s("My favourite colour is now green.", "My favourite colour is teal."))
        #expect(s("My hobby these days is embroidery.", "My hobby is woodworking."))
        #expect(s("These days my weekend sport is rowing.", "My weekend sport is fencing."))
        #expect(s("I moved, so my home is in Gothenburg these days.", "My home is in Krakow."))
        #expect(!s("My son Leo is allergic to cats.", "My daughter Emma is allergic to peanuts."))
        #expect(!s("My daughter is allergic to cats.", "My daughter is allergic to peanuts."))   // several allergies
        #expect(!s("I like jazz.", "I like tea."))                                    // several likes
        #expect(s("I now like jazz.", "I like tea."))                                 // unless it says it changed
        #expect(!s("I also play the piano.", "I play the cello."))
        #expect(!s("I work on Saturdays.", "I work at Siemens."))
        #expect(!s("I live in Porto.", "I live in Porto."))
        #expect(s("These days I'm employed by Renault.", "I'm employed by Lego."))
        #expect(NoteFrame("I am 34 years old.")!.isVague)
    }

    @Test func statementsBecomeNotesQuestionsAndRequestsDoNot() {
        #expect(NoteExtraction.statements(in: "My dog is called Biscuit. What should I feed him?") == ["My dog is called Biscuit."])
        #expect(NoteExtraction.statements(in: "Remember that my locker code is 4817.") == ["My locker code is 4817."])
        #expect(NoteExtraction.statements(in: "I want to know the capital of France.").isEmpty)
        #expect(NoteExtraction.statements(in: "I have a question about Dr. Patel's hours.").isEmpty)
        #expect(NoteExtraction.statements(in: "What is the capital of France?").isEmpty)
        #expect(NoteExtraction.statements(in: "I now live in Lisbon! My sister lives in Toronto.") == ["I now live in Lisbon!", "My sister lives in Toronto."])
    }
}

@Suite struct NoteHistoryTests {
    func note(_ text: String) -> NewItem { NewItem(kind: .note, content: ItemContent(text: text, source: "test"), tier: .long, importance: 0.9) }

    @Test func aNewerNoteSupersedesTheOlderOneWhichStaysInTheHistory() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        let store = try f.open()
        let porto = try store.add(note("I live in Porto."))
        let dog = try store.add(note("My dog is called Biscuit."))
        f.clock.advance(days: 30)
        let lisbon = try store.remember([note("I now live in Lisbon.")])[0]
        #expect(lisbon.stored && lisbon.superseded == [porto])

        let old = try store.item(porto)
        #expect(!old.isCurrent && old.replacedBy == lisbon.id && old.replacement == .superseded)
        #expect(old.validTo == (try store.item(lisbon.id)).validFrom)
        #expect(try store.item(dog).isCurrent)

        // Questions about now see the newer note only; the history sees both, oldest first.
        let hits = try store.search("Where do I live?", limit: 5, rehearse: false)
        #expect(hits.map(\.item.id).contains(lisbon.id) && !hits.map(\.item.id).contains(porto))
        let withHistory = try store.search("live Porto", limit: 5, includeReplaced: true, rehearse: false)
        #expect(withHistory.map(\.item.id).contains(porto))
        #expect(try store.history(lisbon.id).map(\.id) == [porto, lisbon.id])
        #expect(try store.history(porto).map(\.id) == [porto, lisbon.id])
        // The replaced note is not trained on, as long-term memory is consolidated.
        #expect(try store.consolidate().isEmpty)
    }

    @Test func editKeepsTheOldTextInTheHistorySealed() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        let canary = "Quetzalcoatl-\(UUID().uuidString.prefix(8))"
        let store = try f.open()
        let id = try store.add(note("My gym locker code is 4817 \(canary)."))
        let edited = try store.edit(id, text: "My gym locker code is 4871 \(canary)-fixed.")
        #expect(edited.stored && edited.superseded.isEmpty)
        let old = try store.item(id)
        #expect(old.replacement == .edited && old.replacedBy == edited.id && old.validTo == nil)
        #expect(try store.item(edited.id).validFrom == old.validFrom)
        #expect(try store.history(id).map(\.content.text) == ["My gym locker code is 4817 \(canary).", "My gym locker code is 4871 \(canary)-fixed."])
        #expect(throws: MemoryError.self) { try store.edit(id, text: "again") }        // edit the newest instead
        #expect(throws: MemoryError.self) { try store.edit(edited.id, text: "  ") }

        // Reopened: the same history; no file holds the text.
        let reopened = try f.open()
        #expect(try reopened.history(edited.id).count == 2)
        try reopened.compact()
        for (name, bytes) in try f.allBytes() {
            #expect(bytes.range(of: Data(canary.utf8)) == nil, "plaintext in \(name)")
        }
    }

    @Test func forgettingTheNewestDoesNotReviveTheOlder() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        let store = try f.open()
        let a = try store.add(note("My car is a Fiat Panda."))
        let b = try store.remember([note("My car is now a Volvo XC40.")])[0]
        let c = try store.remember([note("My car is now a Tesla Model 3.")])[0]
        #expect(b.superseded == [a] && c.superseded == [b.id])
        try store.forget([b.id])
        #expect(try store.item(a).replacedBy == c.id)           // relinked past the forgotten one
        try store.forget([c.id])
        #expect(try !store.item(a).isCurrent)
    }

    @Test func repliesAreNeverRetrievedAndOldStoresAreMigrated() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        var store: MemoryStore? = try f.open()
        let reply = try store!.add(NewItem(kind: .chatTurn, content: ItemContent(text: "Your zeppelin is called Hindenburg.", role: "assistant")))
        let question = try store!.add(NewItem(kind: .chatTurn, content: ItemContent(text: "What is my zeppelin called?", role: "user")))
        let fact = try store!.add(note("My zeppelin is called Graf."))
        #expect(try store!.item(reply).kind == .reply)
        #expect(try store!.search("zeppelin Hindenburg", limit: 10, rehearse: false).allSatisfy { $0.item.kind != .reply })
        #expect(try store!.search("zeppelin", limit: 10, kinds: ItemKind.retrievable, rehearse: false).map(\.item.id) == [fact])
        #expect(try store!.search("zeppelin", limit: 10, rehearse: false).map(\.item.id).contains(question))

        // A store written before replies and frames: the assistant turn stored as chat, no frame key.
        store = nil
        let db = try DatabaseQueue(path: f.path)
        try db.write { db in
            try db.execute(sql: "UPDATE item SET kind = 'chat' WHERE id = ?", arguments: [reply])
            try db.execute(sql: "UPDATE item SET frameKey = NULL")
            try db.execute(sql: "DELETE FROM meta WHERE key = 'content-version'")
        }
        try db.close()
        let migrated = try f.open()
        #expect(try migrated.item(reply).kind == .reply)
        let newer = try migrated.remember([note("My zeppelin is now called Akron.")])[0]
        #expect(newer.superseded == [fact])
    }

    @Test func relevanceKeepsOnlyRelatedItems() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        let store = try f.open()
        for text in ["My dog is called Biscuit.", "I work at Siemens in Munich.", "My gym locker code is 4817."] {
            try store.add(note(text))
        }
        let model = RelevanceModel.calibrated
        let personal = try store.search("What is my gym locker code?", limit: 4, relevance: model, rehearse: false)
        #expect(personal.map(\.item.content.text) == ["My gym locker code is 4817."])
        #expect(personal[0].relevance! >= model.lexicalThreshold && personal[0].coverage == 1)
        #expect(try store.search("What is the capital of France?", limit: 4, relevance: model, rehearse: false).isEmpty)
        #expect(RelevanceModel.refersToUser("Where do I work?") && !RelevanceModel.refersToUser("Where is Munich?"))
    }
}

