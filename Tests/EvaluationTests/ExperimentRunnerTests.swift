import Diagnostics
import Foundation
import Testing
@testable import Evaluation

/// Answers from a table, and checks that it only ever sees the prepared user's own data.
struct FakeEngine: AnswerEngine {
    var name: String { "fake" }
    var answers: [String: String]
    var prepared: [(user: String, profile: [LaMPProfileItem], method: PersonalizationMethod, k: Int)] = []
    var violations: [String] = []
    /// The users of each prepareRun call, and how many users were prepared before it.
    var runs: [(users: [String], preparedBefore: Int)] = []

    mutating func prepareRun(users: [UserQuestions], settings: RunSettings) async throws {
        runs.append((users.map(\.user), prepared.count))
    }

    mutating func prepare(user: String, profile: [LaMPProfileItem], settings: RunSettings) async throws {
        prepared.append((user, profile, settings.method, settings.k))
    }

    mutating func answer(_ question: LaMPQuestion) async throws -> String {
        if prepared.last?.profile != question.profile { violations.append(question.id) }
        return answers[question.id] ?? "?"
    }
}

@Suite struct ExperimentRunnerTests {
    @Test func groupsByUserAndScoresPerUser() async throws {
        let (questions, outputs) = try SyntheticUsers(task: .movieTagging, users: 3, seed: 3, items: 12, questions: 4).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        // Right for u00 and u02, wrong for every question of u01.
        var table: [String: String] = [:]
        for e in examples { table[e.question.id] = e.question.id.hasPrefix("u01") ? "no idea" : "The tag is \(e.gold)." }
        var engine = FakeEngine(answers: table)
        let settings = RunSettings(task: .movieTagging, method: .oppuRag, k: 3, constrained: true)
        let report = try await ExperimentRunner(settings: settings).run(examples: examples, engine: &engine)
        #expect(engine.prepared.map(\.user) == ["u00", "u01", "u02"])
        #expect(engine.runs.count == 1)
        #expect(engine.runs.first?.users == ["u00", "u01", "u02"])
        #expect(engine.runs.first?.preparedBefore == 0)
        #expect(engine.prepared.allSatisfy { $0.method == .oppuRag && $0.k == 3 && $0.profile.count == 12 })
        #expect(engine.violations.isEmpty)
        #expect(report.users == 3)
        #expect(report.questions == 12)
        #expect(abs(report.metrics[0].value - 8.0 / 12.0) < 1e-12)
        #expect(report.perUser["u00"]?[0].value == 1)
        #expect(report.perUser["u01"]?[0].value == 0)
        #expect(report.engine == "fake")
        let table2 = ExperimentReport.table([report])
        #expect(table2.contains("oppu+rag"))
        #expect(table2.contains("0.6667"))
        #expect(table2.contains("accuracy"))
        #expect(table2.contains("yes"))   // choice-constrained
        #expect(report.settings == settings)
        // The report round-trips through JSON.
        let decoded = try JSONDecoder().decode(ExperimentReport.self, from: report.encoded())
        #expect(decoded == report)
        #expect(report.predictionsFile.golds.count == 12)
    }

    @Test func groupsForeignIdsByProfile() async throws {
        let p1 = [LaMPProfileItem(["text": "good", "score": "4"])]
        let p2 = [LaMPProfileItem(["text": "bad", "score": "1"])]
        let examples = [
            LaMPExample(question: LaMPQuestion(id: "310", input: "a", profile: p1), gold: "4"),
            LaMPExample(question: LaMPQuestion(id: "311", input: "b", profile: p2), gold: "1"),
            LaMPExample(question: LaMPQuestion(id: "312", input: "c", profile: p1), gold: "5"),
        ]
        let groups = UserGroups.group(examples)
        #expect(groups.map(\.user) == ["profile-1", "profile-2"])
        #expect(groups[0].examples.map(\.question.id) == ["310", "312"])
        var engine = FakeEngine(answers: ["310": "4", "311": "3", "312": "rather good"])
        let report = try await ExperimentRunner(task: .productRating, method: .none).run(examples: examples, engine: &engine)
        #expect(engine.violations.isEmpty)
        // errors 0, 2, and 4 for the unparsable answer to a gold of 5
        #expect(abs(report.metrics[0].value - 2) < 1e-12)
    }

    @Test func refusesProfilesOfAnotherTask() async throws {
        let (questions, outputs) = try SyntheticUsers(task: .movieTagging, users: 2, seed: 3, items: 8, questions: 1).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        var engine = FakeEngine(answers: [:])
        do {
            _ = try await ExperimentRunner(task: .productRating, method: .none).run(examples: examples, engine: &engine)
            Issue.record("LaMP-2 profiles were scored as LaMP-3")
        } catch let e as EvaluationError {
            #expect(e.code == .mismatch)
            #expect(e.message.contains("LaMP-3"))
        }
        #expect(engine.prepared.isEmpty)
    }

    @Test func bm25RanksTheMatchingItemsFirst() {
        let profile = [
            LaMPProfileItem(["description": "a quiet film about a painter", "tag": "romance"]),
            LaMPProfileItem(["description": "pirates bury a treasure on an island", "tag": "action"]),
            LaMPProfileItem(["description": "a treasure hunt in the city", "tag": "comedy"]),
        ]
        let input = LaMPTask.movieTagging.questionInput("the pirates and their island treasure")
        #expect(ProfileRetriever.topK(task: .movieTagging, input: input, profile: profile, k: 2) == [1, 2])
        #expect(ProfileRetriever.topK(task: .movieTagging, input: input, profile: profile, k: 0).isEmpty)
        #expect(ProfileRetriever.topK(task: .movieTagging, input: input, profile: [], k: 3).isEmpty)
    }

    @Test func referenceEnginesNeedNoModel() async throws {
        let (questions, outputs) = try SyntheticUsers(task: .movieTagging, users: 6, seed: 8).generate()
        let examples = try LaMPFile.join(questions: questions, outputs: outputs)
        var nearest = NearestItemEngine()
        let near = try await ExperimentRunner(task: .movieTagging, method: .rag).run(examples: examples, engine: &nearest)
        var majority = MajorityEngine()
        let major = try await ExperimentRunner(task: .movieTagging, method: .none).run(examples: examples, engine: &majority)
        // Copying the most similar history item finds the user's tag for that kind of film; the
        // user's most frequent tag is right only for one kind of six.
        #expect(near.metrics[0].value >= 0.9, "nearest: \(near.metrics)")
        #expect(major.metrics[0].value <= 0.4, "majority: \(major.metrics)")
    }
}
