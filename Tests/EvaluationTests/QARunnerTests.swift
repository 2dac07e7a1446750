import Foundation
import LLM
import Memory
import Personalization
import Vault
import Tensor
import TestModels
import Testing
@testable import Evaluation

/// Small users: three facts (one replaced), one personal question each, three general ones.
func smallQAUsers(_ count: Int = 1, seed: UInt64 = 1) throws -> [QAUser] {
    try QAUsers(split: .tune, users: count, seed: seed, factsPerUser: 3, replacedPerUser: 1,
                generalPerUser: 3, relatedGeneralPerUser: 1).generate().map { user in
        var user = user
        var seen = Set<String>()
        user.questions = user.questions.filter { q in q.kind == .general || seen.insert(q.category ?? "").inserted }
        return user
    }
}

func temporaryFolder(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite(.serialized) struct QARunnerTests {
    @Test func methodsMapOntoAssistantSwitches() {
        let o = QARunOptions(methods: [.memory])
        let none = o.askOptions(.none)
        #expect(!none.useMemory && !none.useAdapters && !none.useProfile && none.k == 0 && none.maxTokens == 48)
        let memory = o.askOptions(.memory)
        #expect(memory.useMemory && !memory.useAdapters && !memory.remember && !memory.useWorkingMemory && memory.k == 4)
        #expect(memory.maxTokens == 48 && memory.sampling == none.sampling && memory.sampling == .answer)   // decoded as none and pclient ask
        #expect(o.askOptions(.memoryAdapter).useAdapters)
    }

    @Test func noneRunsFirstWheneverAModelMethodNeedsABase() throws {
        #expect(try QARunner(options: QARunOptions(methods: [.nearest])).methods == [.nearest])
        #expect(throws: EvaluationError.self) { try QARunner(options: QARunOptions(methods: [.memory])) }
        #expect(throws: EvaluationError.self) { try QARunner(options: QARunOptions(methods: [])) }
    }

    @Test func notesArriveOldestFirstAndReplacementsLast() throws {
        let scratch = try temporaryFolder("peval-qa-notes")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let user = try smallQAUsers()[0]
        let runner = try QARunner(options: QARunOptions(methods: [.nearest]))
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        let home = try runner.freshHome(at: scratch + "/home", notes: user.notes, now: now)
        let items = try home.memory.list(tiers: [.long], kind: .note).sorted { $0.created < $1.created }
        // Supersession may retire a replaced note; the ones that remain keep the order they came in.
        let order = user.notes.map(\.text)
        let kept = items.map(\.content.text)
        #expect(kept.allSatisfy(order.contains) && kept == order.filter(kept.contains))
        #expect(items.allSatisfy { $0.importance == 1 && $0.created < now })
        #expect(items.last?.content.text == user.notes.last?.text, "the replacement is the newest note")
    }

    /// The whole run on a tiny random model: every method's answers are scored, homes are deleted,
    /// and memory+adapter either trains or fails on its own without stopping the run.
    @Test func runsEveryMethodInFreshHomesAndCleansUp() throws {
        let modelPath = try TinyLlamaGGUF.chat().write()
        defer { try? FileManager.default.removeItem(atPath: modelPath) }
        let scratch = try temporaryFolder("peval-qa-run")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var options = QARunOptions(methods: [.nearest, .memoryAdapter, .memory], modelPath: modelPath)
        options.threads = 1
        options.maxTokens = 4
        options.useProfile = false
        options.scratch = scratch
        options.training.epochs = 1
        options.training.maxSequenceLength = 64
        let users = try smallQAUsers(2)
        let runner = try QARunner(options: options)
        #expect(runner.methods == [.none, .memory, .memoryAdapter, .nearest])

        let report = try runner.run(users: users)
        #expect(report.results.map(\.method) == ["none", "memory", "memory+adapter", "nearest"])
        #expect(report.search == "bm25" && report.users == ["u00", "u01"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "every home is deleted")
        let questions = users.reduce(0) { $0 + $1.questions.count }
        for r in report.results {
            let answered = report.answers.filter { $0.method == r.method }
            if r.method == "memory+adapter" && r.scores == nil {
                #expect(r.failures.count == 2 && answered.isEmpty, "a failed method answers nothing")
                continue
            }
            let s = try #require(r.scores, "\(r.method): \(r.failures)")
            #expect(answered.count == questions && s.personalQuestions == 6 && s.generalQuestions == 6)
            for x in [s.personalRecall, s.newestWins, s.generalRetention, s.leakage].compactMap({ $0 }) {
                #expect((0...1).contains(x))
            }
        }
        let none = try #require(report.results[0].scores)
        #expect(none.baseRightNowWrong == 0 && (none.generalRetention == nil || none.generalRetention == 1))
        // nearest answers with a note of that user, or nothing.
        for a in report.answers where a.method == "nearest" {
            let user = try #require(users.first { $0.id == a.user })
            #expect(a.answer.isEmpty || user.notes.contains { $0.text == a.answer })
        }
        #expect(report.answers.filter { $0.method == "none" }.allSatisfy { $0.retrieved == nil })
    }
}

/// Where the real model is: $PCLIENT_MODEL, else the cache scripts/setup fills.
enum RealQAModel {
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_MODEL"], !p.isEmpty { return p }
        return ModelLocation.cacheDirectory(environment: env) + "/models/" + ModelLocation.defaultFileName
    }

    static var present: Bool {
        FileManager.default.fileExists(atPath: path) || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"
    }
}

/// The runner on the real model (SmolLM2-135M-Instruct) with the real sentence encoder when it is
/// installed: one user, three personal and three general questions, none and memory.
@Suite(.serialized, .enabled(if: RealQAModel.present,
    "the model file is absent (run scripts/setup, or set PCLIENT_MODEL): the real-model QA test is skipped"))
struct RealQARunnerTests {
    @Test func aShortRunOnTheRealModelCompletesWithScoresInRange() throws {
        BLAS.setThreads(2)
        let scratch = try temporaryFolder("peval-qa-real")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var options = QARunOptions(methods: [.none, .memory], modelPath: RealQAModel.path)
        options.scratch = scratch
        options.encoderDirectory = try? SentenceEncoder.locate(explicit: nil, environment: ProcessInfo.processInfo.environment)
        let user = try smallQAUsers()[0]
        #expect(user.questions.filter { $0.kind == .personal }.count == 3 && user.questions.filter { $0.kind == .general }.count == 3)
        let report = try QARunner(options: options).run(users: [user])
        #expect(report.results.map(\.method) == ["none", "memory"])
        #expect(report.answers.count == 12)
        for r in report.results {
            let s = try #require(r.scores, "\(r.method) failed: \(r.failures)")
            for x in [s.personalRecall, s.newestWins, s.generalRetention, s.leakage].compactMap({ $0 }) {
                #expect((0...1).contains(x), "\(r.method)")
            }
        }
        let none = try #require(report.results[0].scores)
        #expect(none.baseRightNowWrong == 0)
        if (none.baseRight ?? 0) > 0 { #expect(none.generalRetention == 1, "none is its own base") }
        #expect(report.answers.filter { $0.method == "memory" }.contains { !($0.retrieved ?? []).isEmpty },
                "memory put notes in front of the model")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }
}
