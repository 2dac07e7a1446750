import ArgumentParser
import Foundation
import LLM
import Memory
import Personalization
import Seal
import Vault

/// Options of every command that opens the user's home.
struct HomeOptions: ParsableArguments {
    @Option(help: "The pclient home folder (default: $PCLIENT_HOME, then ~/.pclient).")
    var home: String?

    @Option(name: .customLong("passphrase-file"), help: "Read the passphrase from this file (default: $PCLIENT_PASSPHRASE, then a prompt).")
    var passphraseFile: String?

    var clientHome: ClientHome { ClientHome.resolve(explicit: home, environment: ProcessInfo.processInfo.environment) }

    func passphrase(prompt: String = "Passphrase: ") throws -> SecretBytes {
        if let passphraseFile { return try PassphraseSource.file(path: passphraseFile).read() }
        if ProcessInfo.processInfo.environment["PCLIENT_PASSPHRASE"] != nil {
            return try PassphraseSource.environment(name: "PCLIENT_PASSPHRASE").read()
        }
        guard isatty(STDIN_FILENO) != 0 else {
            throw ValidationError("Please give a passphrase file (--passphrase-file) or set PCLIENT_PASSPHRASE: standard input is not a terminal.")
        }
        return try PassphraseSource.prompt(message: prompt).read()
    }

    @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache). Without one, search is BM25 only.")
    var encoder: String?

    @Flag(name: .customLong("no-encoder"), help: "Do not load the sentence encoder: search is BM25 only and new items get no embedding (add them later with `memory reindex`).")
    var noEncoder = false

    /// The encoder when it is installed (scripts/setup puts it in the cache); memory works without it.
    func sentenceEncoder() throws -> SentenceEncoder? {
        if noEncoder { return nil }
        let env = ProcessInfo.processInfo.environment
        guard let dir = try? SentenceEncoder.locate(explicit: encoder, environment: env) else {
            if encoder != nil || env["PCLIENT_ENCODER"] != nil {
                _ = try SentenceEncoder.locate(explicit: encoder, environment: env)   // report why
            }
            return nil
        }
        return try SentenceEncoder(directory: dir)
    }

    func unlock() throws -> UnlockedHome {
        let home = clientHome
        if let limits = try? home.keyWrappingLimits(), limits.isWeakerThan(.interactive) {
            warnWeakKDF("\(home.keyPath) wraps the data key with a weak Argon2id cost (\(limits.memlimit >> 10) KiB, \(limits.opslimit) passes); `pclient passwd --kdf moderate` rewraps it")
        }
        return try home.unlock(passphrase: passphrase(), embedder: sentenceEncoder())
    }
}

extension PClient {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create your pclient home: a data key sealed by your passphrase, an identity, an empty memory.")

        @OptionGroup var homeOptions: HomeOptions

        @OptionGroup var kdf: KDFOptions

        func validate() throws { _ = try kdf.limits(warn: false) }

        func run() throws {
            let limits = try kdf.limits()
            let home = homeOptions.clientHome
            let unlocked = try home.initialize(passphrase: homeOptions.passphrase(prompt: "New passphrase: "), limits: limits)
            print("Created \(home.path)")
            print("Identity (Ed25519): \(unlocked.identity.publicKeys.signing.base64EncodedString())")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the passphrase (the data key is rewrapped; nothing is re-encrypted).")

        @OptionGroup var homeOptions: HomeOptions

        @Option(name: .customLong("new-passphrase-file"), help: "Read the new passphrase from this file (default: $PCLIENT_NEW_PASSPHRASE, then a prompt).")
        var newPassphraseFile: String?
        @Option(name: .customLong("kdf"), help: "Also change the Argon2id cost: moderate, sensitive, interactive (default: keep it).")
        var kdf: String?
        @Flag(name: .customLong("insecure-kdf"), help: "Allow --kdf minimum (tests only).")
        var insecureKDF = false

        func run() throws {
            let old = try homeOptions.passphrase(prompt: "Current passphrase: ")
            let new: SecretBytes
            if let newPassphraseFile {
                new = try PassphraseSource.file(path: newPassphraseFile).read()
            } else if ProcessInfo.processInfo.environment["PCLIENT_NEW_PASSPHRASE"] != nil {
                new = try PassphraseSource.environment(name: "PCLIENT_NEW_PASSPHRASE").read()
            } else {
                new = try PassphraseSource.prompt(message: "New passphrase: ").read()
            }
            let limits = try kdf.map { try KDFOptions.parse(["--kdf", $0] + (insecureKDF ? ["--insecure-kdf"] : [])).limits() }
            try homeOptions.clientHome.changePassphrase(old: old, new: new, limits: limits)
            print("Passphrase changed.")
        }
    }

    struct Remember: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a note to your private memory.")

        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "How important it is, 0…1; 0.9 and above (the default: you asked for it to be remembered) goes straight to long-term memory, below it short-term memory keeps it only if it is used.")
        var importance: Double = 0.9
        @Argument(help: "The text to remember.")
        var text: String

        func validate() throws {
            guard (0...1).contains(importance) else { throw ValidationError("Please give --importance between 0 and 1.") }
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("Please give some text to remember.") }
        }

        func run() throws {
            let home = try homeOptions.unlock()
            let result = try home.memory.remember([NewItem(kind: .note, content: ItemContent(text: text, source: "cli"), importance: importance)])[0]
            try home.memory.recordInteraction()
            print(result.stored ? "Remembered as item \(result.id)." : "Already remembered as item \(result.id) (rehearsed).")
            try printSuperseded(result, memory: home.memory)
        }
    }

    struct MemoryCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "memory",
            abstract: "Look after your private memory.",
            subcommands: [Import.self, Search.self, List.self, History.self, Edit.self, Forget.self, Stats.self, Consolidate.self, Reindex.self])
    }
}

extension PClient.MemoryCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a LaMP questions file's profile (any task's item shape) or JSONL notes/chat turns.")

        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "For a LaMP file with several questions: the question whose profile to import.")
        var question: String?
        @Flag(help: "For a LaMP file with several questions: import every profile (only if they are all yours).")
        var all = false
        @Option(help: "The tier the items enter: short (default: they must be rehearsed to reach long-term memory, as MaLP does) or long (your settled history, e.g. a LaMP profile: it trains your personal adapter at once).")
        var tier: String = "short"
        @Argument(help: "The file: .json (LaMP questions) or .jsonl (one {\"text\": …} per line).")
        var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("Cannot read \(file): check the path.")
            }
            guard let entryTier = Tier(rawValue: tier), entryTier != .working else {
                throw ValidationError("Please give --tier short or long.")
            }
            let source = URL(fileURLWithPath: file).lastPathComponent
            var items = file.hasSuffix(".jsonl")
                ? try MemoryImport.jsonLines(data, source: source)
                : try MemoryImport.lampQuestions(data, question: question, all: all, source: source)
            for i in items.indices where entryTier == .long { items[i].tier = .long }
            let home = try homeOptions.unlock()
            let ids = try home.memory.add(items)
            try home.memory.recordInteraction()
            print("Imported \(items.count) items (\(Set(ids).count) new or rehearsed).")
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search your memory (BM25 over sealed search tokens).")

        @OptionGroup var homeOptions: HomeOptions
        @Option(name: .short, help: "How many results.")
        var k: Int = 5
        @Flag(help: "Print JSON.")
        var json = false
        @Argument(help: "What to look for.")
        var query: String

        func run() throws {
            let home = try homeOptions.unlock()
            let hits = try home.memory.search(query, limit: k)
            try home.memory.recordInteraction()
            try printItems(hits.map(\.item), scores: hits.map(\.score), json: json)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List memory items, newest first.")

        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "Only this tier: working, short or long.")
        var tier: String?
        @Option(help: "At most this many items.")
        var limit: Int = 50
        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            if let tier, Tier(rawValue: tier) == nil { throw ValidationError("Please give --tier working, short or long.") }
        }

        func run() throws {
            let home = try homeOptions.unlock()
            let tiers = tier.flatMap(Tier.init(rawValue:)).map { Set([$0]) } ?? Set(Tier.allCases)
            try printItems(home.memory.list(tiers: tiers, limit: limit), scores: nil, json: json)
        }
    }

    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete items for good (secure_delete, index optimized, WAL truncated).")

        @OptionGroup var homeOptions: HomeOptions
        @Argument(help: "Item ids.")
        var ids: [Int64]

        func run() throws {
            let home = try homeOptions.unlock()
            try home.memory.forget(ids)
            print("Forgot \(ids.count) item(s).")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts per tier and kind.")

        @OptionGroup var homeOptions: HomeOptions

        func run() throws {
            let s = try homeOptions.unlock().memory.stats()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(s), as: UTF8.self))
        }
    }

    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Embed the items stored without a sentence embedding (e.g. before the encoder was installed).")

        @OptionGroup var homeOptions: HomeOptions

        func run() throws {
            let home = try homeOptions.unlock()
            guard home.memory.embedder != nil else {
                throw ValidationError("No sentence encoder found: run scripts/setup, or pass --encoder DIR.")
            }
            print("Embedded \(try home.memory.embedMissing()) item(s).")
        }
    }

    struct Consolidate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run MaLP's schedule now: promote rehearsed items to long-term memory, merge near-duplicates, refresh short-term.")

        @OptionGroup var homeOptions: HomeOptions

        func run() throws {
            let memory = try homeOptions.unlock().memory
            let promoted = try memory.consolidate()
            let forgotten = try memory.refreshShortTerm()
            print("Consolidated \(promoted.count) item(s) into long-term memory; forgot \(forgotten) short-term item(s).")
        }
    }
}

func printItems(_ items: [MemoryItem], scores: [Double]?, json: Bool) throws {
    if json {
        let rows: [[String: Any]] = items.enumerated().map { i, item in
            var row: [String: Any] = ["id": item.id, "kind": item.kind.rawValue, "tier": item.tier.rawValue,
                                      "text": item.content.text, "accessCount": item.accessCount,
                                      "importance": item.importance,
                                      "created": ISO8601DateFormatter().string(from: item.created)]
            if let o = item.content.output { row["output"] = o }
            if let scores { row["score"] = scores[i] }
            row["validFrom"] = ISO8601DateFormatter().string(from: item.validFrom)
            if let to = item.validTo { row["validTo"] = ISO8601DateFormatter().string(from: to) }
            if let by = item.replacedBy { row["replacedBy"] = by; row["replacement"] = item.replacement?.rawValue }
            return row
        }
        let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return
    }
    for item in items {
        var line = "[\(item.id)] \(item.tier.rawValue) \(item.kind.rawValue): \(item.content.text)"
        if let o = item.content.output { line += " → \(o)" }
        if let by = item.replacedBy { line += item.replacement == .edited ? "  (edited: see #\(by))" : "  (superseded by #\(by))" }
        print(line)
    }
}

extension PClient {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write everything personal (memory, personal adapter, profile, coordinator link and shared adapter, optionally your identity) into one sealed, signed bundle.")

        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "The bundle file to write.")
        var out: String
        @Flag(name: .customLong("include-identity"), help: "Also carry your identity keys (to keep the same identity on the other machine).")
        var includeIdentity = false
        @Option(name: .customLong("bundle-passphrase-file"), help: "Seal the bundle with this passphrase (default: $PCLIENT_BUNDLE_PASSPHRASE, then the home's).")
        var bundlePassphraseFile: String?
        @OptionGroup var kdf: KDFOptions

        func run() throws {
            let homePassphrase = try homeOptions.passphrase()
            let home = try homeOptions.clientHome.unlock(passphrase: homePassphrase)
            let passphrase = try bundlePassphrase(file: bundlePassphraseFile) ?? homePassphrase
            let bytes = try SealedBundle.export(home, passphrase: passphrase, includeIdentity: includeIdentity,
                                                limits: kdf.limits())
            try AtomicFile.write(bytes, to: out)
            print("Wrote \(out) (\(bytes.count) bytes).")
        }
    }

    struct ImportBundle: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import a bundle: verified completely before anything changes; all or nothing.")

        @OptionGroup var homeOptions: HomeOptions
        @Option(name: .customLong("bundle-passphrase-file"), help: "The bundle's passphrase (default: $PCLIENT_BUNDLE_PASSPHRASE, then the home's).")
        var bundlePassphraseFile: String?
        @OptionGroup var kdf: KDFOptions
        @Flag(help: "Import into a home whose identity differs from the bundle's signer.")
        var foreign = false
        @Argument(help: "The bundle file.")
        var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("Cannot read \(file): check the path.")
            }
            let homePassphrase = try homeOptions.passphrase()
            let passphrase = try bundlePassphrase(file: bundlePassphraseFile) ?? homePassphrase
            let contents = try SealedBundle.open(Array(data), passphrase: passphrase)
            let report = try SealedBundle.importContents(contents, into: homeOptions.clientHome, passphrase: homePassphrase,
                                                         limits: kdf.limits(), allowForeignIdentity: foreign)
            print("Imported \(contents.items.count) memory items (\(report.items) new or rehearsed).")
            if !report.installed.isEmpty { print("Installed: \(report.installed.joined(separator: ", ")).") }
            for skipped in report.notInstalled { print("Not installed: \(skipped).") }
        }
    }
}

func bundlePassphrase(file: String?) throws -> SecretBytes? {
    if let file { return try PassphraseSource.file(path: file).read() }
    if ProcessInfo.processInfo.environment["PCLIENT_BUNDLE_PASSPHRASE"] != nil {
        return try PassphraseSource.environment(name: "PCLIENT_BUNDLE_PASSPHRASE").read()
    }
    return nil
}

/// The Argon2id cost of wrapping a key (a home's, or a bundle's). The smallest cost libsodium allows
/// offers no protection against guessing and is refused unless asked for loudly.
struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("kdf"), help: "Argon2id cost: moderate (default, 256 MiB), sensitive (1 GiB), interactive (64 MiB), or minimum (8 KiB: tests only, needs --insecure-kdf). Default: $PCLIENT_KDF, then moderate.")
    var name: String = ProcessInfo.processInfo.environment["PCLIENT_KDF"] ?? "moderate"

    @Flag(name: .customLong("insecure-kdf"), help: "Allow --kdf minimum (also: PCLIENT_INSECURE_KDF=1). A stolen disk's passphrase can then be guessed fast.")
    var insecureFlag = false

    var insecure: Bool { insecureFlag || ProcessInfo.processInfo.environment["PCLIENT_INSECURE_KDF"] == "1" }

    /// The limits named; `minimum` only with `insecure`, and then with a warning on stderr.
    func limits(warn: Bool = true) throws -> Argon2Limits {
        switch name {
        case "moderate": return .moderate
        case "sensitive": return .sensitive
        case "interactive": return .interactive
        case "minimum":
            guard insecure else {
                throw ValidationError("--kdf minimum (Argon2id with 8 KiB and one pass) lets anyone holding the file guess passphrases fast: it is for tests. Add --insecure-kdf (or set PCLIENT_INSECURE_KDF=1) to use it anyway.")
            }
            if warn { warnWeakKDF("this key is wrapped with the minimum Argon2id cost (8 KiB, one pass), as --insecure-kdf asked") }
            return .minimum
        default: throw ValidationError("Please give --kdf moderate, sensitive, interactive or minimum.")
        }
    }
}

/// A loud warning on stderr about a weak key-derivation cost.
func warnWeakKDF(_ what: String) {
    FileHandle.standardError.write(Data("WARNING: \(what): a stolen copy of it can be opened by guessing passphrases quickly. Use it for tests only.\n".utf8))
}

extension PClient {
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the normalised sentence embedding (all-MiniLM-L6-v2) of a text as a JSON array.")

        @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache).")
        var encoder: String?
        @Argument(help: "The text.")
        var text: String

        func run() throws {
            let dir = try SentenceEncoder.locate(explicit: encoder, environment: ProcessInfo.processInfo.environment)
            let v = try SentenceEncoder(directory: dir).embed([text])[0]
            print("[" + v.map { String(format: "%.7g", $0) }.joined(separator: ", ") + "]")
        }
    }
}
