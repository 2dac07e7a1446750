import Foundation
import Testing
@testable import Evaluation

@Suite struct QAUsersTests {
    func encoded(_ set: QADataset) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(set)
    }

    // MARK: Determinism

    @Test(arguments: QASplit.allCases)
    func sameSeedSameUsersOtherSeedOthers(split: QASplit) throws {
        let a = try QAUsers(split: split, users: 5, seed: 7).dataset()
        let b = try QAUsers(split: split, users: 5, seed: 7).dataset()
        let c = try QAUsers(split: split, users: 5, seed: 8).dataset()
        #expect(try encoded(a) == encoded(b))
        #expect(a.users != c.users)
    }

    @Test func addingUsersKeepsTheOthers() throws {
        let three = try QAUsers(split: .tune, users: 3, seed: 2).generate()
        let five = try QAUsers(split: .tune, users: 5, seed: 2).generate()
        #expect(Array(five.prefix(3)) == three)
    }

    @Test func theSplitsGiveDifferentUsersForOneSeed() throws {
        let tune = try QAUsers(split: .tune, users: 2, seed: 3).generate()
        let test = try QAUsers(split: .test, users: 2, seed: 3).generate()
        #expect(Set(tune.flatMap(\.facts).map(\.statement)).isDisjoint(with: test.flatMap(\.facts).map(\.statement)))
    }

    @Test func writesTheDataSetAsJSONThatReadsBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("peval-qa-\(UInt64.random(in: 0...UInt64.max)).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let synth = try QAUsers(split: .test, users: 2, seed: 11)
        try synth.write(to: path)
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        try synth.write(to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == first)
        let back = try JSONDecoder().decode(QADataset.self, from: first)
        #expect(back == synth.dataset())
        #expect(back.split == .test && back.users.map(\.id) == ["u00", "u01"])
    }

    // MARK: The splits share nothing

    @Test func splitsAreDisjointInTemplatesQuestionsAndValues() {
        func material(_ split: QASplit) -> (templates: Set<String>, questions: Set<String>, values: Set<String>, general: Set<String>) {
            let variants = QACatalogue.categories.compactMap { $0.variant(split) }
            return (Set(variants.flatMap { $0.templates.flatMap { [$0.statement] + ($0.replacement.map { [$0] } ?? []) } }),
                    Set(variants.flatMap(\.questions)),
                    Set(variants.flatMap(\.values).map { $0.lowercased() }),
                    Set(QACatalogue.general.filter { $0.split == split }.map(\.question)))
        }
        let tune = material(.tune), test = material(.test)
        #expect(tune.templates.isDisjoint(with: test.templates))
        #expect(tune.questions.isDisjoint(with: test.questions))
        #expect(tune.values.isDisjoint(with: test.values))
        #expect(tune.general.isDisjoint(with: test.general))
        // Half the kinds of fact belong to one split only.
        let tuneOnly = QACatalogue.categories.filter { $0.test == nil }.count
        let testOnly = QACatalogue.categories.filter { $0.tune == nil }.count
        #expect(tuneOnly >= 10 && testOnly >= 10)
        #expect(QACatalogue.categories.count >= 30)
        #expect(QACatalogue.general.count >= 40)
    }

    @Test func theCatalogueIsWellFormed() {
        #expect(Set(QACatalogue.categories.map(\.id)).count == QACatalogue.categories.count)
        for c in QACatalogue.categories {
            for v in [c.tune, c.test].compactMap({ $0 }) {
                #expect(v.templates.count >= 2 && v.questions.count == 2 && v.values.count >= 10, "\(c.id)")
                #expect(Set(v.values).count == v.values.count, "\(c.id) repeats a value")
                for t in v.templates {
                    #expect(t.statement.contains("{v}") && (t.replacement?.contains("{v}") ?? true), "\(c.id)")
                }
                // No value's words inside another's: an old and a new value are always told apart.
                for a in v.values {
                    for b in v.values where a != b {
                        #expect(!QAScoring.contains(a, key: b), "\(c.id): \(b) is inside \(a)")
                    }
                }
            }
        }
        for g in QACatalogue.general {
            let ids = QAUsers.categoryIDs(g.split)
            #expect(g.related.allSatisfy(ids.contains), "\(g.question) names a kind of fact outside its split")
            #expect(!g.keys.isEmpty)
        }
    }

    @Test func replacementsKeepTheSubjectAndSayItChanged() {
        let change = ["now", "moved", "switched", "these", "changed", "new"]
        for c in QACatalogue.categories {
            for v in [c.tune, c.test].compactMap({ $0 }) {
                for t in v.templates {
                    guard let r = t.replacement else { continue }
                    let words = QAScoring.words(r)
                    #expect(change.contains(where: words.contains), "\(r) does not say it changed")
                    let subject = QAScoring.words(t.statement.replacingOccurrences(of: "{v}", with: ""))
                    let shared = subject.filter(words.contains).count
                    #expect(shared * 2 >= subject.count, "\(r) keeps too few words of \(t.statement)")
                }
            }
        }
    }

    // MARK: Users

    @Test(arguments: QASplit.allCases)
    func usersHaveTheirShape(split: QASplit) throws {
        for user in try QAUsers(split: split, users: 20, seed: 5).generate() {
            #expect(user.facts.count == 12)
            #expect(Set(user.facts.map(\.category)).count == 12, "facts come from distinct kinds")
            #expect(user.facts.filter { $0.replacement != nil }.count == 3)
            let personal = user.questions.filter { $0.kind == .personal }
            let general = user.questions.filter { $0.kind == .general }
            #expect(personal.count == 24 && general.count == 10)
            #expect(personal.filter(\.isAboutReplacedFact).count == 6)
            #expect(Set(user.questions.map(\.id)).count == user.questions.count)
            #expect(general.contains { $0.related }, "each user gets some hard general questions")
            #expect(user.notes.count == 15 && user.notes.suffix(3).allSatisfy(\.isReplacement))
            // No two values of a user share a word; no general question mentions one.
            let words = user.personalValues.map(QAScoring.words)
            #expect(Set(words.flatMap { $0 }).count == words.reduce(0) { $0 + $1.count })
            for q in general {
                #expect(!QAScoring.containsAny(q.text + " " + q.expected.joined(separator: " "), keys: user.personalValues), "\(q.text)")
            }
        }
    }

    @Test(arguments: QASplit.allCases)
    func everyExpectedKeyWordIsInItsFactsStatement(split: QASplit) throws {
        for user in try QAUsers(split: split, users: 20, seed: 9).generate() {
            for q in user.questions where q.kind == .personal {
                let fact = try #require(user.facts.first { $0.category == q.category })
                let says = fact.replacement?.statement ?? fact.statement
                #expect(q.expected.allSatisfy { QAScoring.contains(says, key: $0) }, "\(q.expected) not in \(says)")
                if let old = q.outdated {
                    #expect(QAScoring.contains(fact.statement, key: old))
                    #expect(!QAScoring.contains(says, key: old), "the replacement must not repeat the old value")
                }
                #expect(fact.questions.contains(q.text))
            }
        }
    }

    @Test func relevancePairsLabelOwnFactsOnly() throws {
        let users = try QAUsers(split: .tune, users: 2, seed: 4).generate()
        let pairs = QAUsers.relevancePairs(users)
        let user = users[0]
        #expect(pairs.filter { $0.user == user.id }.count == user.questions.count * user.notes.count)
        for q in user.questions {
            let relevant = pairs.filter { $0.questionID == q.id && $0.relevant }.map(\.note)
            if q.kind == .general {
                #expect(relevant.isEmpty)
            } else {
                let fact = try #require(user.facts.first { $0.category == q.category })
                #expect(relevant == [fact.statement] + (fact.replacement.map { [$0.statement] } ?? []))
            }
        }
        #expect(pairs.filter { $0.user == users[1].id }.allSatisfy { p in users[1].notes.contains { $0.text == p.note } })
    }

    @Test func refusesImpossibleShapes() {
        #expect(throws: EvaluationError.self) { try QAUsers(split: .tune, users: 1, seed: 0, factsPerUser: 99) }
        #expect(throws: EvaluationError.self) { try QAUsers(split: .tune, users: 1, seed: 0, factsPerUser: 2, replacedPerUser: 3) }
        #expect(throws: EvaluationError.self) { try QAUsers(split: .test, users: 0, seed: 0) }
    }
}
