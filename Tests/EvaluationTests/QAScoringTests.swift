import Testing
@testable import Evaluation

@Suite struct QAScoringTests {
    // MARK: Key words

    @Test func keyWordsMatchWholeWordsInAnyCaseAndPunctuation() {
        #expect(QAScoring.words("It's a Flat-White, please!") == ["it", "s", "a", "flat", "white", "please"])
        #expect(QAScoring.contains("Your dog is called BISCUIT.", key: "Biscuit"))
        #expect(QAScoring.contains("You usually order a flat white.", key: "flat white"))
        #expect(QAScoring.contains("You usually order a flat-white", key: "flat white"))
        #expect(!QAScoring.contains("a white flat", key: "flat white"), "the key's words in order")
        #expect(!QAScoring.contains("You live near Portobello Road.", key: "Porto"), "whole words only")
        #expect(!QAScoring.contains("Your shoe size is 42.", key: "4"), "whole numbers only")
        #expect(QAScoring.contains("Her birthday is on March 3rd.", key: "March 3"), "an ordinal's suffix goes")
        #expect(!QAScoring.contains("on March 31st", key: "March 3"))
        #expect(QAScoring.contains("H2O", key: "h2o") && !QAScoring.contains("anything", key: ""))
        #expect(QAScoring.containsAny("A week has 7 days.", keys: ["seven", "7"]))
        #expect(QAScoring.containsAny("There are twenty-four hours.", keys: ["24", "twenty-four"]))
        #expect(!QAScoring.containsAny("", keys: ["seven", "7"]))
    }

    // MARK: Judging one answer

    let moved = QAQuestion(id: "u00-p0", kind: .personal, text: "Which city do I live in?", expected: ["Lisbon"],
                           outdated: "Porto", category: "home-city")
    let dog = QAQuestion(id: "u00-p2", kind: .personal, text: "What is my dog's name?", expected: ["Biscuit"], category: "dog-name")
    let capital = QAQuestion(id: "u00-g0", kind: .general, text: "What is the capital of France?", expected: ["Paris"])
    let values = ["Porto", "Lisbon", "Biscuit"]

    @Test func newestWinsNeedsTheNewValueAndNotTheOld() {
        let new = QAScoring.judge("You live in Lisbon now.", question: moved, personalValues: values)
        #expect(new == QAJudgement(right: true, newestWins: true, leaked: nil))
        let both = QAScoring.judge("You lived in Porto and now in Lisbon.", question: moved, personalValues: values)
        #expect(both.right && both.newestWins == false, "recall counts it, newest-wins does not")
        let old = QAScoring.judge("You live in Porto.", question: moved, personalValues: values)
        #expect(!old.right && old.newestWins == false)
        let steady = QAScoring.judge("Your dog is Biscuit.", question: dog, personalValues: values)
        #expect(steady == QAJudgement(right: true, newestWins: nil, leaked: nil), "no newest-wins for a fact never replaced")
    }

    @Test func leakageIsAPersonalValueInAGeneralAnswer() {
        let clean = QAScoring.judge("The capital of France is Paris.", question: capital, personalValues: values)
        #expect(clean == QAJudgement(right: true, newestWins: nil, leaked: false))
        let spoilt = QAScoring.judge("You live in Porto, but the capital of France is Paris.", question: capital, personalValues: values)
        #expect(spoilt.right && spoilt.leaked == true)
        let outdated = QAScoring.judge("Lisbon.", question: capital, personalValues: values)
        #expect(!outdated.right && outdated.leaked == true)
    }

    // MARK: A method's figures

    func answer(_ q: QAQuestion, _ text: String, method: String = "memory") -> QAAnswer {
        QAAnswer(method: method, user: "u00", question: q, answer: text,
                 judgement: QAScoring.judge(text, question: q, personalValues: values), seconds: 1)
    }

    @Test func scoresOverHandWrittenAnswers() {
        let tower = QAQuestion(id: "u00-g1", kind: .general, text: "How many days are in a week?", expected: ["seven", "7"])
        let sky = QAQuestion(id: "u00-g2", kind: .general, text: "What colour is the sky on a clear day?", expected: ["blue"])
        let base = [answer(capital, "Paris.", method: "none"), answer(tower, "Seven.", method: "none"),
                    answer(sky, "Grey.", method: "none"), answer(moved, "I don't know.", method: "none"),
                    answer(dog, "I don't know.", method: "none")]
        let baseRight = Set(base.filter { $0.kind == .general && $0.judgement.right }.map(\.questionID))
        #expect(baseRight == ["u00-g0", "u00-g1"])

        let noneScores = QAScores.compute(base, baseRight: baseRight)
        #expect(noneScores.generalRetention == 1 && noneScores.baseRightNowWrong == 0, "none against itself keeps everything")
        #expect(noneScores.personalRecall == 0 && noneScores.newestWins == 0 && noneScores.leakage == 0)

        let memory = [answer(capital, "You live in Lisbon."), answer(tower, "Seven days."), answer(sky, "Blue, like Porto's sky."),
                      answer(moved, "Porto, then Lisbon."), answer(dog, "Biscuit!")]
        let s = QAScores.compute(memory, baseRight: baseRight)
        #expect(s.personalQuestions == 2 && s.replacedQuestions == 1 && s.generalQuestions == 3)
        #expect(s.personalRecall == 1)
        #expect(s.newestWins == 0, "the old city is still in the answer")
        #expect(s.generalRetention == 0.5 && s.baseRightNowWrong == 1 && s.baseRight == 2)
        #expect(s.leakage == 2.0 / 3.0, "Lisbon in one general answer, Porto in another")

        let unknown = QAScores.compute(memory, baseRight: nil)
        #expect(unknown.generalRetention == nil && unknown.baseRightNowWrong == nil)
        let empty = QAScores.compute([], baseRight: [])
        #expect(empty.personalRecall == nil && empty.generalRetention == nil && empty.leakage == nil)
    }

    @Test func theTableHasOneRowPerMethodAndSaysWhyOneFailed() {
        let q = [answer(capital, "Paris."), answer(dog, "Biscuit.")]
        let report = QAReport(users: ["u00"], search: "bm25", results: [
            QAMethodResult(method: "memory", scores: QAScores.compute(q, baseRight: ["u00-g0"]), failures: [:], seconds: 12.4),
            QAMethodResult(method: "memory+adapter", scores: nil, failures: ["u00": "no behaviour items"], seconds: 1),
        ])
        let lines = report.table().split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0] == "| method | recall | newest-wins | retention | base-right now wrong | leakage | seconds |")
        #expect(lines[2] == "| memory | 1.00 | – | 1.00 | 0 of 1 | 0.00 | 12 |")
        #expect(lines[3] == "| memory+adapter | failed: no behaviour items | | | | | 1 |")
    }
}
