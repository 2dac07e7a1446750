import Testing
@testable import Evaluation

@Suite struct MetricsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance }

    @Test func accuracyAndMacroF1ByHand() {
        // golds a a b c, predictions a b b (none)
        // a: tp 1, fp 0, fn 1 -> F1 2/3; b: tp 1, fp 1, fn 0 -> 2/3; c: tp 0, fn 1 -> 0
        let golds = ["a", "a", "b", "c"]
        let predictions: [String?] = ["a", "b", "b", nil]
        #expect(Metrics.accuracy(predictions: predictions, golds: golds) == 0.5)
        #expect(close(Metrics.macroF1(predictions: predictions, golds: golds, labels: ["a", "b", "c"]), 4.0 / 9.0))
        // A label that no gold and no prediction names counts 0, as with scikit-learn's labels=…
        #expect(close(Metrics.macroF1(predictions: predictions, golds: golds, labels: ["a", "b", "c", "d"]), 1.0 / 3.0))
        #expect(Metrics.macroF1(predictions: golds, golds: golds, labels: ["a", "b", "c"]) == 1)
    }

    @Test func ratingErrorsCountUnparsableAsFarthest() {
        #expect(Metrics.farthestRating(from: 1) == 5)
        #expect(Metrics.farthestRating(from: 2) == 5)
        #expect(Metrics.farthestRating(from: 3) == 5)
        #expect(Metrics.farthestRating(from: 4) == 1)
        #expect(Metrics.farthestRating(from: 5) == 1)
        // errors 1, 2 (3 -> 5), 4 (5 -> 1), 0
        let e = Metrics.ratingErrors(predictions: [2, nil, nil, 2], golds: [1, 3, 5, 2])
        #expect(close(e.mae, 1.75))
        #expect(close(e.rmse, (21.0 / 4).squareRoot()))
    }

    /// Reference values from the `rouge_score` package 0.1.2 (`RougeScorer(["rouge1", "rougeL"],
    /// use_stemmer=False).score(reference, prediction)`), run once.
    @Test(arguments: [
        ("the cat sat on the mat", "the cat is on the mat", 0.8333333333, 0.8333333333),
        ("Breaking: Storm cuts power to 40 thousand homes in Oslo!", "Storm cuts power in Oslo - what we know", 0.5555555556, 0.5555555556),
        ("A B C D", "d c b a", 1.0, 0.25),
        ("", "nothing here", 0.0, 0.0),
        ("Café déjà-vu, naïve co-operation 3.5", "cafe deja vu naive cooperation 3 5", 0.3529411765, 0.3529411765),
        ("police police police", "the police arrested police", 0.5714285714, 0.5714285714),
    ])
    func rougeMatchesTheRougeScorePackage(prediction: String, reference: String, rouge1: Double, rougeL: Double) {
        #expect(close(Metrics.rouge1(prediction: prediction, reference: reference), rouge1, 1e-9))
        #expect(close(Metrics.rougeL(prediction: prediction, reference: reference), rougeL, 1e-9))
    }

    @Test func tokenisationIsRougeScores() {
        #expect(Metrics.rougeTokens("Hello, World! It's 2024.") == ["hello", "world", "it", "s", "2024"])
        #expect(Metrics.rougeTokens("Café") == ["caf"])
    }

    @Test func taskScoringParsesAnswers() throws {
        let tags = try LaMPTask.movieTagging.score(answers: ["Comedy.", "it is action", "no idea"], golds: ["comedy", "comedy", "action"])
        #expect(tags[0] == MetricValue("accuracy", 1.0 / 3.0))
        let ratings = try LaMPTask.productRating.score(answers: ["4", "I give it 2", "great"], golds: ["4", "3", "1"])
        // errors 0, 1, 4 (unparsable, gold 1 -> 5)
        #expect(close(ratings[0].value, 5.0 / 3.0))
        #expect(close(ratings[1].value, (17.0 / 3).squareRoot()))
        let rouge = try LaMPTask.newsHeadline.score(answers: ["  the cat sat on the mat\n", "x"], golds: ["the cat is on the mat", "y"])
        #expect(close(rouge[0].value, 0.8333333333 / 2, 1e-9))
        #expect(throws: EvaluationError.self) { try LaMPTask.productRating.score(answers: ["1"], golds: ["seven"]) }
    }

    @Test func predictionsFilesAreMatchedById() throws {
        let golds = LaMPOutputs(task: .movieTagging, golds: [LaMPGold(id: "1", output: "comedy"), LaMPGold(id: "2", output: "action")])
        let predictions = LaMPOutputs(task: .movieTagging, golds: [LaMPGold(id: "2", output: "action"), LaMPGold(id: "1", output: "romance")])
        #expect(try LaMPTask.movieTagging.score(predictions: predictions, golds: golds)[0].value == 0.5)
        let missing = LaMPOutputs(task: .movieTagging, golds: [LaMPGold(id: "2", output: "action")])
        #expect(throws: EvaluationError.self) { try LaMPTask.movieTagging.score(predictions: missing, golds: golds) }
        let otherTask = LaMPOutputs(task: .productRating, golds: predictions.golds)
        #expect(throws: EvaluationError.self) { try LaMPTask.movieTagging.score(predictions: otherTask, golds: golds) }
    }
}
