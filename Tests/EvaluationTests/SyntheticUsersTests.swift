import Foundation
import Testing
@testable import Evaluation

@Suite struct SyntheticUsersTests {
    // MARK: Determinism

    @Test(arguments: SyntheticUsers.supportedTasks)
    func sameSeedSameBytesOtherSeedOtherBytes(task: LaMPTask) throws {
        func bytes(_ seed: UInt64) throws -> (Data, Data) {
            let (q, o) = try SyntheticUsers(task: task, users: 4, seed: seed, items: 20, questions: 3).generate()
            return (try LaMPFile.encodeQuestions(q), try LaMPFile.encodeOutputs(o))
        }
        let a = try bytes(42), b = try bytes(42), c = try bytes(43)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(a.0 != c.0)
    }

    @Test func writesLaMPFilesThatReadBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peval-synth-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let synth = try SyntheticUsers(task: .movieTagging, users: 3, seed: 9, items: 12, questions: 2)
        try synth.write(to: dir)
        let first = try Data(contentsOf: URL(fileURLWithPath: dir + "/questions.json"))
        try synth.write(to: dir)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/questions.json")) == first)
        let examples = try LaMPFile.join(questions: LaMPFile.readQuestions(path: dir + "/questions.json"),
                                         outputs: LaMPFile.readOutputs(path: dir + "/outputs.json"))
        #expect(examples.count == 6)
        #expect(examples.map(\.question.id) == ["u00-q0", "u00-q1", "u01-q0", "u01-q1", "u02-q0", "u02-q1"])
        #expect(examples.allSatisfy { $0.question.profile.count == 12 })
        #expect(examples[0].question.profile[0]["id"] == "u00-p0")
    }

    @Test func addingUsersKeepsTheOthers() throws {
        let three = try SyntheticUsers(task: .productRating, users: 3, seed: 5).generate()
        let five = try SyntheticUsers(task: .productRating, users: 5, seed: 5).generate()
        #expect(Array(five.questions.prefix(three.questions.count)) == three.questions)
    }

    @Test func rejectsUnsupportedTasks() {
        #expect(throws: EvaluationError.self) { try SyntheticUsers(task: .citation, users: 2, seed: 1) }
        #expect(throws: EvaluationError.self) { try SyntheticUsers(task: .movieTagging, users: 0, seed: 1) }
    }

    // MARK: LaMP-2: each user's own tags

    /// The kind of film a description tells, by the signature words of the catalogue.
    func kind(of description: String) -> Int? {
        let words = Set(Metrics.rougeTokens(description))
        let hits = SyntheticCatalogue.filmKinds.map { $0.signature.intersection(words).count }
        guard let best = hits.max(), best > 0, hits.filter({ $0 == best }).count == 1 else { return nil }
        return hits.firstIndex(of: best)
    }

    @Test func filmKindsAreRecognisableFromTheirWords() {
        var rng = SeededRandom(seed: 1)
        for (k, kind) in SyntheticCatalogue.filmKinds.enumerated() {
            for template in kind.templates {
                for _ in 0..<5 { #expect(self.kind(of: SyntheticUsers.fill(template, &rng)) == k, "\(kind.name): \(template)") }
            }
        }
    }

    @Test func taggingGoldsFollowEachUsersOwnTags() throws {
        let (questions, outputs) = try SyntheticUsers(task: .movieTagging, users: 8, seed: 2024).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        var oracle: [String] = []
        var tagsByKind: [Int: [String: String]] = [:]   // kind -> user -> tag
        var allProfileTags: [String: Int] = [:]
        for group in UserGroups.group(examples) {
            var mine: [Int: String] = [:]
            for item in group.profile {
                let k = try #require(kind(of: item["description"] ?? ""))
                let tag = try #require(item["tag"])
                // Within a user, one kind always gets the same tag.
                #expect(mine[k] == nil || mine[k] == tag)
                mine[k] = tag
                allProfileTags[tag, default: 0] += 1
            }
            #expect(mine.count == SyntheticUsers.kindsPerUser)
            for (k, tag) in mine { tagsByKind[k, default: [:]][group.user] = tag }
            // The oracle: the tag of a profile item of the same kind.
            for e in group.examples {
                let k = try #require(kind(of: LaMPTask.movieTagging.retrievalQuery(e.question.input)))
                oracle.append(mine[k] ?? "")
            }
        }
        let golds = examples.map(\.gold)
        #expect(Metrics.accuracy(predictions: oracle, golds: golds) == 1)
        // A global majority tag does poorly: the users do not agree.
        let majority = try #require(allProfileTags.max { $0.value < $1.value }?.key)
        let baseline = Metrics.accuracy(predictions: golds.map { _ in majority }, golds: golds)
        #expect(baseline < 0.25, "global majority \(majority) scores \(baseline)")
        // The same kind gets different tags from different users.
        var disagreements = 0, agreements = 0
        for (_, byUser) in tagsByKind {
            let tags = Array(byUser.values)
            for i in tags.indices { for j in tags.indices where j > i { if tags[i] == tags[j] { agreements += 1 } else { disagreements += 1 } } }
        }
        #expect(disagreements > 4 * agreements, "\(disagreements) pairs of users disagree, \(agreements) agree")
    }

    // MARK: LaMP-3: each user's own bias

    /// The latent sentiment of a review, from the catalogue's phrases.
    func sentiment(of review: String) -> Int? {
        for (level, phrases) in SyntheticCatalogue.reviewPhrases.enumerated() {
            for phrase in phrases {
                let parts = phrase.components(separatedBy: "{p}")
                if review.hasPrefix(parts[0]) && review.contains(parts[1]) { return level + 1 }
            }
        }
        return nil
    }

    @Test func ratingGoldsFollowEachUsersBias() throws {
        let (questions, outputs) = try SyntheticUsers(task: .productRating, users: 10, seed: 77).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        var oracle: [String] = [], plain: [String] = []
        var biases = Set<Int>()
        for group in UserGroups.group(examples) {
            var scoreBySentiment: [Int: String] = [:]
            for item in group.profile {
                let s = try #require(sentiment(of: item["text"] ?? ""))
                let score = try #require(item["score"])
                #expect(scoreBySentiment[s] == nil || scoreBySentiment[s] == score)
                scoreBySentiment[s] = score
                if s > 1 && s < 5, let sc = Int(score) { biases.insert(sc - s) }
            }
            for e in group.examples {
                let s = try #require(sentiment(of: LaMPTask.productRating.retrievalQuery(e.question.input)))
                oracle.append(scoreBySentiment[s] ?? "")
                plain.append(String(s))   // what the review says, without the user's bias
            }
        }
        let golds = examples.map(\.gold)
        #expect(try LaMPTask.productRating.score(answers: oracle, golds: golds)[0].value == 0)
        let unbiased = try LaMPTask.productRating.score(answers: plain, golds: golds)[0].value
        #expect(unbiased >= 0.5, "reading the review alone gives MAE \(unbiased)")
        #expect(biases == [-1, 0, 1])
    }

    // MARK: LaMP-4, 5, 7: each user's own habits

    static func commonPrefixWords(_ texts: [String]) -> [Substring] {
        guard var prefix = texts.first.map({ $0.split(separator: " ") }) else { return [] }
        for t in texts.dropFirst() {
            let words = t.split(separator: " ")
            prefix = Array(zip(prefix, words).prefix { $0.0 == $0.1 }.map(\.0))
        }
        return prefix
    }

    @Test(arguments: [LaMPTask.newsHeadline, .scholarlyTitle, .tweetParaphrase])
    func generationGoldsFollowEachUsersHabit(task: LaMPTask) throws {
        let (questions, outputs) = try SyntheticUsers(task: task, users: 8, seed: 11).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        var leads = Set<String>()
        for group in UserGroups.group(examples) {
            let field = task == .tweetParaphrase ? "text" : "title"
            let own = group.profile.compactMap { $0[field] }
            #expect(own.count == group.profile.count)
            // The trivial rule: the user's outputs all open with the same words, and so do the golds.
            let lead = Self.commonPrefixWords(own)
            #expect(!lead.isEmpty)
            leads.insert(lead.joined(separator: " "))
            let leadText = lead.joined(separator: " ") + " "
            for e in group.examples {
                #expect(e.gold.hasPrefix(leadText), "\(e.question.id): \(e.gold) does not open with \(leadText)")
                // The question's own text is not in the profile.
                #expect(!group.profile.contains { task.retrievalDocument($0).contains(task.retrievalQuery(e.question.input)) })
            }
        }
        #expect(leads.count >= 4, "8 users share only \(leads.count) habits")
    }
}
