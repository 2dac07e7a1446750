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
        @Option(help: "Print this many of the fitted model's misses on the test split (relevant pairs left out, irrelevant ones let in).")
        var misses: Int = 0
        @Flag(name: .customLong("misses-on-tune"), help: "Print the misses on the tune split instead.")
        var missesOnTune = false
        @Option(help: "Use this threshold instead of the chosen one (to study the trade-off).")
        var threshold: Double?

        func run() async throws {
            let embedder: SentenceEncoder? = noEncoder ? nil
                : try SentenceEncoder(directory: SentenceEncoder.locate(explicit: encoder, environment: ProcessInfo.processInfo.environment))
            let calibration = RelevanceCalibration(embedder: embedder)
            let tune = try calibration.samples(QAUsers(split: .tune, users: users, seed: seed).generate())
            let test = try calibration.samples(QAUsers(split: .test, users: users, seed: seed &+ 1).generate())
            let weights = RelevanceCalibration.fit(tune)
            var fitted = RelevanceModel.calibrated
            if noEncoder { fitted.lexicalOnly = weights } else { fitted.dense = weights }
            let chosen = threshold ?? RelevanceCalibration.threshold(for: fitted, tune)
            if noEncoder { fitted.lexicalThreshold = chosen } else { fitted.denseThreshold = chosen }
            print("fitted \(noEncoder ? "lexical-only" : "dense") weights (bias, \(noEncoder ? "" : "cosine, lead, ")coverage; the same for first-person questions; first-person advice): "
                  + weights.map { String(format: "%.3f", $0) }.joined(separator: ", ")
                  + String(format: "; threshold %.2f (the most personal notes found with memory for at most 1 percent of tune general questions)", chosen))
            print("")
            print("| model | split | pairs | precision | recall | personal questions with their note | general questions with any memory |")
            print("|---|---|---|---|---|---|---|")
            if misses > 0 {
                let wrong = (missesOnTune ? tune : test).filter { s in
                    fitted.accepts(similarity: s.similarity, lead: s.lead, coverage: s.coverage, selfReference: s.selfReference,
                                   asksAdvice: s.asksAdvice) != s.relevant
                }
                for s in wrong.prefix(misses) {
                    print(String(format: "%@ p=%.2f cos=%.2f lead=%.2f cov=%.2f  %@  ←  %@", s.relevant ? "missed " : "let in ",
                                 fitted.probability(similarity: s.similarity, lead: s.lead, coverage: s.coverage, selfReference: s.selfReference,
                                                    asksAdvice: s.asksAdvice),
                                 s.similarity ?? -1, s.lead, s.coverage, s.question, s.note))
                }
                print("")
            }
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
