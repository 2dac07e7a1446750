import Diagnostics
import Foundation
import Testing
@testable import Evaluation

@Suite struct LaMPFileTests {
    let questionsJSON = """
    [
      {"id": "110", "input": "Which tag does this movie relate to among the following tags? Just answer with the tag name without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] description: A robot learns to paint.",
       "profile": [{"id": "1100", "description": "Two friends rob a bank.", "tag": "comedy"},
                   {"id": 1101, "description": "A ship sinks.", "tag": "true story", "date": "2001-02-03", "extra": [1, 2]}],
       "user_id": "u7"},
      {"id": 111, "input": "What is the score of the following review on a scale of 1 to 5? review: fine", "profile": [{"text": "bad", "score": 2}]}
    ]
    """

    @Test func readsQuestionsWithStringAndNumericIds() throws {
        let qs = try LaMPFile.decodeQuestions(Data(questionsJSON.utf8))
        #expect(qs.count == 2)
        #expect(qs[0].id == "110")
        #expect(qs[1].id == "111")
        #expect(qs[0].profile.count == 2)
        #expect(qs[0].profile[1]["id"] == "1101")
        #expect(qs[0].profile[1]["tag"] == "true story")
        #expect(qs[0].profile[1]["extra"] == nil)   // lists are ignored
        #expect(qs[1].profile[0]["score"] == "2")   // numbers become text
        #expect(qs[0].input.hasSuffix("description: A robot learns to paint."))
    }

    @Test func questionErrorsNameTheQuestionAndField() {
        let missingInput = #"[{"id": 1, "input": "x", "profile": []}, {"id": 2, "profile": []}]"#
        do {
            _ = try LaMPFile.decodeQuestions(Data(missingInput.utf8), file: "q.json")
            Issue.record("a question without input was accepted")
        } catch let e as EvaluationError {
            #expect(e.message.contains("q.json, question 2"))
            #expect(e.message.contains("`input`"))
        } catch { Issue.record("unexpected \(error)") }

        let badProfileItem = #"[{"id": "a", "input": "x", "profile": ["not an object"]}]"#
        #expect(throws: EvaluationError.self) { try LaMPFile.decodeQuestions(Data(badProfileItem.utf8)) }
        let noId = #"[{"input": "x", "profile": []}]"#
        do {
            _ = try LaMPFile.decodeQuestions(Data(noId.utf8))
            Issue.record("a question without id was accepted")
        } catch let e as EvaluationError {
            #expect(e.message.contains("`id`"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: EvaluationError.self) { try LaMPFile.decodeQuestions(Data(#"{"id": 1}"#.utf8)) }
        #expect(throws: EvaluationError.self) { try LaMPFile.decodeQuestions(Data("not json".utf8)) }
    }

    @Test func readsOutputsAndTaskNames() throws {
        let o = try LaMPFile.decodeOutputs(Data(#"{"task": "LaMP_3", "golds": [{"id": 111, "output": "4"}, {"id": "110", "output": 5}]}"#.utf8))
        #expect(o.task == .productRating)
        #expect(o.golds == [LaMPGold(id: "111", output: "4"), LaMPGold(id: "110", output: "5")])
        #expect(LaMPTask(name: "LaMP-2") == .movieTagging)
        #expect(LaMPTask(name: "lamp7") == .tweetParaphrase)
        #expect(LaMPTask(name: "LaMP_8") == nil)
        do {
            _ = try LaMPFile.decodeOutputs(Data(#"{"task": "LaMP_9", "golds": []}"#.utf8), file: "o.json")
            Issue.record("an unknown task was accepted")
        } catch let e as EvaluationError {
            #expect(e.message.contains("o.json"))
            #expect(e.message.contains("LaMP_9"))
        } catch { Issue.record("unexpected \(error)") }
        do {
            _ = try LaMPFile.decodeOutputs(Data(#"{"task": "LaMP_2", "golds": [{"id": "1"}]}"#.utf8), file: "o.json")
            Issue.record("a gold without output was accepted")
        } catch let e as EvaluationError {
            #expect(e.message.contains("gold 1"))
            #expect(e.message.contains("`output`"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func joinsQuestionsWithGolds() throws {
        let qs = try LaMPFile.decodeQuestions(Data(questionsJSON.utf8))
        let golds = LaMPOutputs(task: .movieTagging, golds: [LaMPGold(id: "111", output: "3"), LaMPGold(id: "110", output: "sci-fi")])
        let joined = try LaMPFile.join(questions: qs, outputs: golds)
        #expect(joined.map(\.gold) == ["sci-fi", "3"])
        #expect(joined.map(\.question.id) == ["110", "111"])

        let missing = LaMPOutputs(task: .movieTagging, golds: [LaMPGold(id: "110", output: "sci-fi")])
        #expect(throws: EvaluationError.self) { try LaMPFile.join(questions: qs, outputs: missing) }
        let extra = LaMPOutputs(task: .movieTagging, golds: golds.golds + [LaMPGold(id: "999", output: "comedy")])
        #expect(throws: EvaluationError.self) { try LaMPFile.join(questions: qs, outputs: extra) }
    }

    @Test func writesWhatItReads() throws {
        let qs = try LaMPFile.decodeQuestions(Data(questionsJSON.utf8))
        let bytes = try LaMPFile.encodeQuestions(qs)
        #expect(try LaMPFile.decodeQuestions(bytes) == qs)
        let o = LaMPOutputs(task: .newsHeadline, golds: [LaMPGold(id: "u1-q0", output: "A headline")])
        let ob = try LaMPFile.encodeOutputs(o)
        #expect(String(decoding: ob, as: UTF8.self).contains("\"LaMP_4\""))
        #expect(try LaMPFile.decodeOutputs(ob) == o)
    }
}
