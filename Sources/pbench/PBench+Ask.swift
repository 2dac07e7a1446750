import ArgumentParser
import Foundation
import LLM
import Memory
import Personalization
import Randomness
import Seal
import Tensor
import Tokenizer
import Vault

/// Time to first token of `pclient ask` over a home with many notes, with memory and without.
struct AskBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Time to first token of a question with memory (retrieval over N notes) and without (--no-memory).",
        discussion: """
            Creates a temporary home, adds N generated first-person notes (embedded with the sentence \
            encoder when it is installed), and asks Q questions, half about some of the notes and half \
            general, through the assistant pclient builds (nothing is remembered). Cold: the home is \
            opened and the assistant built anew for each question, as in one `pclient ask` process (the \
            model and encoder stay loaded: their loading is not counted). Warm: one assistant answers \
            every question. Time to first token runs from calling ask to the first non-empty text.
            """)

    @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
    var model: String?
    @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache).")
    var encoder: String?
    @Flag(name: .customLong("no-encoder"), help: "Search with BM25 only, without the sentence encoder.")
    var noEncoder = false
    @Option(help: "Notes in the home.")
    var notes: Int = 1000
    @Option(help: "Questions asked in each variant (half about notes, half general).")
    var questions: Int = 20
    @Option(help: "Worker threads.")
    var threads: Int = 2
    @Option(help: "Seed of the generated notes and of the questions picked.")
    var seed: UInt64 = 14
    @Option(help: "Variants to run, comma-separated: cold, warm.")
    var variants: String = "cold,warm"
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard notes >= 1, questions >= 2 else { throw ValidationError("Please give --notes of 1 or more and --questions of 2 or more.") }
        guard threads >= 1 else { throw ValidationError("Please give --threads of 1 or more.") }
        guard !variantList.isEmpty, variantList.allSatisfy({ ["cold", "warm"].contains($0) }) else {
            throw ValidationError("Please give --variants as cold, warm or cold,warm.")
        }
    }

    var variantList: [String] { variants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    /// Milliseconds of one question, with and without memory.
    struct Sample: Codable {
        var question: String
        var personal: Bool
        var memoryTTFT: Double
        var noMemoryTTFT: Double
        var memoryPromptTokens: Int
        var noMemoryPromptTokens: Int
        /// Of the time to first token, the prompt's forward pass (the rest: opening the stores,
        /// retrieval, the profile, assembling the prompt, and the first token's sampling).
        var memoryPrefill: Double
        var noMemoryPrefill: Double
        /// Tokens of the profile summary in the prompt (0: none).
        var profileTokens: Int
        /// The same search alone, on a store opened the same way (cold: fresh; warm: already searched).
        var retrieval: Double
    }

    struct Summary: Codable {
        var variant: String
        var memoryMedian: Double
        var memoryP90: Double
        var noMemoryMedian: Double
        var noMemoryP90: Double
        var differenceMedian: Double
        var retrievalMedian: Double
        var retrievalP90: Double
        var memoryPromptTokensMedian: Int
        var noMemoryPromptTokensMedian: Int
        var memoryPrefillMedian: Double
        var noMemoryPrefillMedian: Double
        var profileTokensMedian: Int
        var samples: [Sample]
    }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        var builder = AssistantBuilder(modelPath: try ModelLocation.resolve(explicit: model, environment: env))
        builder.threads = threads
        BLAS.setThreads(threads)
        let generator = try builder.loadGenerator()
        let sha = try builder.baseModelSHA256()
        let sentenceEncoder: SentenceEncoder? = noEncoder ? nil : try SentenceEncoder(directory: SentenceEncoder.locate(explicit: encoder, environment: env))

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pbench-ask-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let passphrase = SecretBytes(utf8: "pbench only")
        let clientHome = ClientHome(path: folder)
        _ = try clientHome.initialize(passphrase: passphrase, limits: .minimum)
        let (texts, asked) = Self.notes(notes, seed: seed)
        var t = Date()
        do {
            let home = try clientHome.unlock(passphrase: passphrase, embedder: sentenceEncoder)
            for start in stride(from: 0, to: texts.count, by: 100) {
                try home.memory.add(texts[start..<min(texts.count, start + 100)].enumerated().map { i, text in
                    // About one note in five is important enough for long-term memory (and the profile).
                    NewItem(kind: .note, content: ItemContent(text: text, source: "pbench"), importance: (start + i) % 5 == 0 ? 0.95 : 0.5)
                })
            }
            let stats = try home.memory.stats()
            if !json {
                print(String(format: "home: %d notes added in %.1f s (%@), %@ items by tier, %.1f MB",
                             texts.count, Date().timeIntervalSince(t), sentenceEncoder == nil ? "BM25 only" : "embedded",
                             stats.byTier.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                             Double(stats.fileBytes) / 1e6))
            }
        }

        // Questions: half about notes (their own questions, `NoteQuestions`), half general.
        var rng = SplitMix64(seed: seed ^ 0x41534B)
        let personal = asked.shuffled(using: &rng).prefix(questions / 2).map { ($0, true) }
        let general = DistillationPrompts.all.shuffled(using: &rng).prefix(questions - personal.count).map { ($0, false) }
        var list: [(String, Bool)] = []
        for i in 0..<max(personal.count, general.count) {
            if i < personal.count { list.append(personal[i]) }
            if i < general.count { list.append(general[i]) }
        }

        var withMemory = AskOptions()      // as `pclient ask`: k 4, memory, profile, adapters
        withMemory.remember = false
        withMemory.maxTokens = 512
        var noMemory = withMemory        // as `pclient ask --no-memory`
        noMemory.k = 0
        noMemory.useMemory = false
        noMemory.remember = false

        /// Milliseconds from ask to the first non-empty text, and what it took.
        struct FirstToken { var ms: Double; var promptTokens: Int; var prefill: Double; var profileTokens: Int }
        func firstToken(_ assistant: Assistant, _ question: String, _ options: AskOptions) throws -> FirstToken {
            let start = DispatchTime.now().uptimeNanoseconds
            var first: UInt64?
            let answer = try assistant.ask(question, options: options) { piece in
                if piece.isEmpty { return true }
                first = DispatchTime.now().uptimeNanoseconds
                return false
            }
            assistant.resetSession()
            let profile = answer.explanation.profile.map { generator.tokenizer.encode($0, parseSpecial: false).count } ?? 0
            return FirstToken(ms: Double((first ?? DispatchTime.now().uptimeNanoseconds) - start) / 1e6,
                              promptTokens: answer.explanation.promptTokens,
                              prefill: (answer.generation?.promptSeconds ?? 0) * 1000, profileTokens: profile)
        }
        func open() throws -> (UnlockedHome, Assistant) {
            let home = try clientHome.unlock(passphrase: passphrase, embedder: sentenceEncoder)
            return (home, try builder.build(home: home, generator: generator, baseModelSHA256: sha))
        }
        func search(_ home: UnlockedHome, _ question: String) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try home.memory.search(question, limit: withMemory.k, tiers: withMemory.tiers)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }

        // One untimed question writes the profile summary (cached sealed from then on, as in a used home).
        t = Date()
        do {
            let (_, assistant) = try open()
            _ = try firstToken(assistant, "What do you know about me?", withMemory)
        }
        if !json { print(String(format: "warm-up question (writes the profile summary where the model is large enough to use one): %.1f s", Date().timeIntervalSince(t))) }

        var summaries: [Summary] = []
        for variant in variantList {
            var samples: [Sample] = []
            var warm: (UnlockedHome, Assistant)?
            if variant == "warm" {
                warm = try open()
                _ = try firstToken(warm!.1, "Hello!", withMemory)   // loads the search indexes
            }
            for (question, isPersonal) in list {
                let mem: FirstToken, plain: FirstToken
                let retrieval: Double
                if let (home, assistant) = warm {
                    mem = try firstToken(assistant, question, withMemory)
                    plain = try firstToken(assistant, question, noMemory)
                    retrieval = try search(home, question)
                } else {
                    mem = try { let (_, a) = try open(); return try firstToken(a, question, withMemory) }()
                    plain = try { let (_, a) = try open(); return try firstToken(a, question, noMemory) }()
                    retrieval = try { let (h, _) = try open(); return try search(h, question) }()
                }
                samples.append(Sample(question: question, personal: isPersonal, memoryTTFT: mem.ms, noMemoryTTFT: plain.ms,
                                      memoryPromptTokens: mem.promptTokens, noMemoryPromptTokens: plain.promptTokens,
                                      memoryPrefill: mem.prefill, noMemoryPrefill: plain.prefill, profileTokens: mem.profileTokens,
                                      retrieval: retrieval))
            }
            func percentile(_ v: [Double], _ p: Double) -> Double {
                let s = v.sorted()
                return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
            }
            let memory = samples.map(\.memoryTTFT), plain = samples.map(\.noMemoryTTFT)
            let summary = Summary(
                variant: variant, memoryMedian: percentile(memory, 0.5), memoryP90: percentile(memory, 0.9),
                noMemoryMedian: percentile(plain, 0.5), noMemoryP90: percentile(plain, 0.9),
                differenceMedian: percentile(memory, 0.5) - percentile(plain, 0.5),
                retrievalMedian: percentile(samples.map(\.retrieval), 0.5), retrievalP90: percentile(samples.map(\.retrieval), 0.9),
                memoryPromptTokensMedian: Int(percentile(samples.map { Double($0.memoryPromptTokens) }, 0.5)),
                noMemoryPromptTokensMedian: Int(percentile(samples.map { Double($0.noMemoryPromptTokens) }, 0.5)),
                memoryPrefillMedian: percentile(samples.map(\.memoryPrefill), 0.5),
                noMemoryPrefillMedian: percentile(samples.map(\.noMemoryPrefill), 0.5),
                profileTokensMedian: Int(percentile(samples.map { Double($0.profileTokens) }, 0.5)),
                samples: samples)
            summaries.append(summary)
            if !json {
                print(String(format: "%@: TTFT with memory median %.0f ms, p90 %.0f ms; --no-memory median %.0f ms, p90 %.0f ms; difference of medians %+.0f ms",
                             variant, summary.memoryMedian, summary.memoryP90, summary.noMemoryMedian, summary.noMemoryP90, summary.differenceMedian))
                print(String(format: "%@: prompt tokens median %d with memory (profile %d), %d without; their forward pass median %.0f ms and %.0f ms",
                             variant, summary.memoryPromptTokensMedian, summary.profileTokensMedian, summary.noMemoryPromptTokensMedian,
                             summary.memoryPrefillMedian, summary.noMemoryPrefillMedian))
                print(String(format: "%@: the rest of the time to first token median %.0f ms with memory, %.0f ms without; retrieval alone median %.0f ms, p90 %.0f ms",
                             variant, percentile(samples.map { $0.memoryTTFT - $0.memoryPrefill }, 0.5),
                             percentile(samples.map { $0.noMemoryTTFT - $0.noMemoryPrefill }, 0.5), summary.retrievalMedian, summary.retrievalP90))
                print("   TTFT memory / no memory, prefill memory / no memory, retrieval, prompt tokens, question (P personal, G general)")
                for s in samples {
                    print(String(format: "   %5.0f / %4.0f ms  %5.0f / %4.0f ms  %4.0f ms  %4d/%-4d tok  %@ %@", s.memoryTTFT, s.noMemoryTTFT,
                                 s.memoryPrefill, s.noMemoryPrefill, s.retrieval, s.memoryPromptTokens, s.noMemoryPromptTokens,
                                 s.personal ? "P" : "G", s.question))
                }
            }
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(summaries), as: UTF8.self))
        }
    }

    /// `count` varied first-person notes from templates (seeded), and questions about them
    /// (`NoteQuestions`, for notes whose frame gives one).
    static func notes(_ count: Int, seed: UInt64) -> (notes: [String], questions: [String]) {
        var rng = SplitMix64(seed: seed)
        func pick(_ list: [String]) -> String { list[Int(rng.next() % UInt64(list.count))] }
        let names = ["Anna", "Ben", "Chloe", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko", "Luca",
                     "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"]
        let relations = ["colleague", "neighbour", "friend", "cousin", "sister", "brother", "aunt", "uncle", "boss", "teacher",
                         "dentist", "landlord", "trainer", "classmate", "nephew", "niece"]
        let cities = ["Kyoto", "Lisbon", "Oslo", "Porto", "Krakow", "Seville", "Tallinn", "Ghent", "Bergen", "Lyon",
                      "Valencia", "Bologna", "Graz", "Utrecht", "Dublin", "Quebec", "Hanoi", "Cusco", "Nairobi", "Perth"]
        let colors = ["red", "blue", "green", "silver", "black", "white", "yellow", "orange"]
        let cars = ["Fiat", "Volvo", "Skoda", "Toyota", "Renault", "Tesla", "Mini", "Subaru"]
        let foods = ["lasagne", "ramen", "paella", "falafel", "risotto", "tacos", "curry", "dumplings"]
        let things = ["bicycle", "lamp", "jacket", "kettle", "backpack", "camera", "rug", "guitar"]
        let companies = ["Siemens", "Bosch", "Nokia", "Philips", "Lego", "Ikea", "Spotify", "Airbus"]
        let allergens = ["peanuts", "cats", "pollen", "shellfish", "penicillin", "dust", "eggs"]
        let instruments = ["violin", "cello", "drums", "flute", "piano", "trumpet", "harp"]
        let sports = ["tennis", "badminton", "chess", "squash", "volleyball", "padel"]
        let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        var notes: [String] = []
        var questions: [String] = []
        for i in 0..<count {
            let who = "\(pick(relations)) \(pick(names))"
            let text: String
            switch i % 12 {
            case 0: text = "My \(who) drives a \(pick(colors)) \(pick(cars))."
            case 1: text = "I visited \(pick(cities)) in \(2005 + Int(rng.next() % 20))."
            case 2: text = "My \(who) lives in \(pick(cities))."
            case 3: text = "My \(who) works at \(pick(companies))."
            case 4: text = "I had \(pick(foods)) with \(pick(names)) on \(pick(days)) in \(pick(cities))."
            case 5: text = "My \(who)'s birthday is on \(pick(months)) \(1 + Int(rng.next() % 28))."
            case 6: text = "My \(who) is allergic to \(pick(allergens))."
            case 7: text = "I play \(pick(sports)) with \(pick(names)) every \(pick(days))."
            case 8: text = "My \(who) plays the \(pick(instruments))."
            case 9: text = "I bought a \(pick(colors)) \(pick(things)) in \(pick(cities)) for \(10 + Int(rng.next() % 190)) euros."
            case 10: text = "I lent my \(pick(things)) to \(pick(names)) last \(pick(days))."
            default: text = "I met \(pick(names)) at a concert in \(pick(cities)) in \(pick(months))."
            }
            notes.append(text)
            if let q = NoteQuestions.pairs(for: text).first?.question { questions.append(q) }
        }
        return (notes, questions)
    }
}
