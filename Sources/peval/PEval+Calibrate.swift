import ArgumentParser
import Evaluation
import Foundation
import LLM
import Memory
import Personalization

extension PEval.QA {
    struct Calibrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fit the memory's relevance model on the tune split's labelled (question, note) pairs and check it on both splits.",
            discussion: """
            Each user's notes go into a fresh sealed store (with the sentence encoder unless --no-encoder), \
            every question is searched, and each pair's cosine, term coverage and first person are \
            labelled relevant or not. Prints the fitted weights (paste them into RelevanceModel.calibrated), \
            then, for the fitted and the built-in model, pair precision and recall, the share of personal \
            questions whose note passes, and the share of general questions that would get any memory.
            """)

        @Option(help: "Users per split.")
        var users: Int = 40
        @Option(help: "The random seed.")
        var seed: UInt64 = 1
        @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache).")
        var encoder: String?
        @Flag(name: .customLong("no-encoder"), help: "Calibrate the BM25-only model (no sentence encoder).")
        var noEncoder = false

        func run() async throws {
            let embedder: SentenceEncoder? = noEncoder ? nil
                : try SentenceEncoder(directory: SentenceEncoder.locate(explicit: encoder, environment: ProcessInfo.processInfo.environment))
            let calibration = RelevanceCalibration(embedder: embedder)
            let tune = try calibration.samples(QAUsers(split: .tune, users: users, seed: seed).generate())
            let test = try calibration.samples(QAUsers(split: .test, users: users, seed: seed &+ 1).generate())
            let weights = RelevanceCalibration.fit(tune)
            var fitted = RelevanceModel.calibrated
            if noEncoder { fitted.lexicalOnly = weights } else { fitted.dense = weights }
            fitted.threshold = RelevanceCalibration.threshold(for: fitted, tune)
            print("fitted \(noEncoder ? "lexical-only" : "dense") weights (bias, \(noEncoder ? "" : "cosine, ")coverage, first person): "
                  + weights.map { String(format: "%.3f", $0) }.joined(separator: ", ")
                  + String(format: "; threshold %.2f (the lowest at which no tune general question gets a memory)", fitted.threshold))
            print("")
            print("| model | split | pairs | precision | recall | personal questions with their note | general questions with any memory |")
            print("|---|---|---|---|---|---|---|")
            for (name, model) in [("fitted", fitted), ("built-in", RelevanceModel.calibrated)] {
                for (split, samples) in [("tune", tune), ("test", test)] {
                    let r = RelevanceCalibration.evaluate(model, samples)
                    print(String(format: "| %@ | %@ | %d | %.3f | %.3f | %.3f | %.3f |", name, split, r.pairs, r.precision, r.recall,
                                 r.personalFound, r.generalWithMemory))
                }
            }
        }
    }
}
