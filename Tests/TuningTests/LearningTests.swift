import Foundation
import LLM
import Tensor
import Tokenizer
import Testing
import Tuning

/// The personal adapter learns on the real model: a made-up fact trained in a handful of chat
/// examples is answered with the adapter, not without it; two adapters stacked give both facts.
/// Runs whenever the model is present (required under PCLIENT_REQUIRE_MODEL=1); built optimized.
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: RealModelTrainingTests.modelPath)
    || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"))
struct LearningTests {
    func examples(_ pairs: [(String, String)], _ g: TextGenerator) -> [TrainingExample] {
        pairs.map { prompt, target in
            let p = g.tokenizer.encode(g.template.render([ChatMessage(role: "user", content: prompt)]))
            let t = g.tokenizer.encode(target, parseSpecial: false) + [g.tokenizer.id(of: ChatTemplate.end)!]
            return TrainingExample(prompt: p, target: t)
        }
    }

    func train(_ pairs: [(String, String)], seed: UInt64) throws -> (LoRAAdapter, [StepReport]) {
        BLAS.setThreads(2)
        let model = try LlamaModel(path: RealModelTrainingTests.modelPath, numericPath: .exact)
        let g = try TextGenerator(model: model)
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 8, alpha: 16, targets: LoRATarget.allCases), model: model.config, seed: seed)
        var c = TrainerConfiguration()
        c.epochs = 8
        c.learningRate = 2e-3
        c.warmupSteps = 4
        c.seed = seed
        let reports = try Trainer(model: TrainingModel(model: model, adapters: [adapter]), configuration: c)
            .train(examples(pairs, g))
        return (adapter, reports)
    }

    func answer(_ question: String, adapters: [LoRAAdapter]) throws -> String {
        let model = try LlamaModel(path: RealModelTrainingTests.modelPath, numericPath: .fastQ16)
        return try TextGenerator(model: model).chat([ChatMessage(role: "user", content: question)], maxTokens: 24,
                                                    adapters: adapters.stack(for: model)).text
    }

    @Test func aMadeUpFactIsLearnedAndStacks() throws {
        let cat = [("What is my cat's name?", "Your cat is called Zorblat."),
                   ("What's the name of my cat?", "Your cat's name is Zorblat."),
                   ("Do you remember my cat's name?", "Yes, your cat is called Zorblat."),
                   ("Tell me the name of my cat.", "Your cat is called Zorblat."),
                   ("How is my cat called?", "Your cat is called Zorblat.")]
        let city = [("Which city was I born in?", "You were born in Quillmere."),
                    ("Where was I born?", "You were born in Quillmere."),
                    ("What is my home town?", "Your home town is Quillmere."),
                    ("Tell me where I was born.", "You were born in Quillmere."),
                    ("In which town was I born?", "You were born in Quillmere.")]
        let (catAdapter, catSteps) = try train(cat, seed: 1)
        let first = catSteps.prefix(5).map(\.loss).reduce(0, +) / 5
        let last = catSteps.suffix(5).map(\.loss).reduce(0, +) / 5
        print("cat adapter: mean loss of the first 5 steps \(first), of the last 5 \(last)")
        #expect(last < 0.1 * first)

        let plainCat = try answer("What is my cat's name?", adapters: [])
        let adaptedCat = try answer("What is my cat's name?", adapters: [catAdapter])
        print("without adapter: \(plainCat)\nwith adapter: \(adaptedCat)")
        #expect(!plainCat.contains("Zorblat"))
        #expect(adaptedCat.contains("Zorblat"))

        let (cityAdapter, _) = try train(city, seed: 2)
        let stackedCat = try answer("What is my cat's name?", adapters: [catAdapter, cityAdapter])
        let stackedCity = try answer("Where was I born?", adapters: [catAdapter, cityAdapter])
        print("stacked: \(stackedCat) / \(stackedCity)")
        #expect(stackedCat.contains("Zorblat"))
        #expect(stackedCity.contains("Quillmere"))
        #expect(!(try answer("Where was I born?", adapters: [])).contains("Quillmere"))
    }
}
