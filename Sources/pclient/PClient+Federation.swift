import ArgumentParser
import FederatedClient
import Federation
import Foundation
import LLM
import Seal
import Transport
import Vault

/// The client's privacy policy (`ClientPrivacyPolicy`), shared by `join` and `federation policy`;
/// an option left out keeps the current value (the defaults on a first join).
struct PrivacyPolicyOptions: ParsableArguments {
    @Option(help: "Refuse rounds whose sum would hold fewer participants than this (default \(ClientPrivacyPolicy.defaultMinimumCohort)).")
    var minCohort: Int?
    @Option(help: "Refuse rounds whose noise multiplier z is below this (default \(ClientPrivacyPolicy.defaultMinimumNoiseMultiplier)).")
    var minNoise: Double?
    @Option(help: "Refuse a round that costs more than this ε on its own, at q = 1 (default \(ClientPrivacyPolicy.defaultMaximumRoundEpsilon)).")
    var maxRoundEpsilon: Double?
    @Option(help: "Refuse a round that would bring this client's own ε past this total (default \(ClientPrivacyPolicy.defaultMaximumEpsilon)).")
    var maxEpsilon: Double?

    var isEmpty: Bool { minCohort == nil && minNoise == nil && maxRoundEpsilon == nil && maxEpsilon == nil }

    func validate() throws {
        if let minCohort, minCohort < 2 { throw ValidationError("Please give --min-cohort of at least 2.") }
        for (flag, v) in [("--min-noise", minNoise), ("--max-round-epsilon", maxRoundEpsilon), ("--max-epsilon", maxEpsilon)] {
            if let v, !(v > 0 && v.isFinite) { throw ValidationError("Please give a finite \(flag) > 0.") }
        }
    }

    func applied(to current: ClientPrivacyPolicy) throws -> ClientPrivacyPolicy {
        try ClientPrivacyPolicy(minimumNoiseMultiplier: minNoise ?? current.minimumNoiseMultiplier,
                                maximumRoundEpsilon: maxRoundEpsilon ?? current.maximumRoundEpsilon,
                                maximumEpsilon: maxEpsilon ?? current.maximumEpsilon,
                                minimumCohort: minCohort ?? current.minimumCohort, delta: current.delta)
    }
}

func describe(_ p: ClientPrivacyPolicy, ledger: PrivacyLedger?) -> [String] {
    let spent = ledger?.epsilon(delta: p.delta) ?? 0
    return [
        "Privacy policy:   z ≥ \(p.minimumNoiseMultiplier), cohort ≥ \(p.minimumCohort), ε ≤ \(p.maximumRoundEpsilon) per round, ε ≤ \(p.maximumEpsilon) in total (δ = \(p.delta), q = 1)",
        String(format: "Privacy spent:    ε = %.3g at δ = %.0e over %d rounds (this client's own count)", spent, p.delta, ledger?.roundsCharged ?? 0),
    ]
}

extension PClient {
    struct Join: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll with a coordinator (a one-time token from its operator) and pin its signing key.")

        @OptionGroup var homeOptions: HomeOptions

        @Argument(help: "The coordinator's base URL: https://… (plain http only to this machine, e.g. http://127.0.0.1:8443).")
        var url: String
        @Option(help: "The one-time enrollment token the operator gave you.")
        var token: String
        @Option(help: "A name the operator sees for this client (optional, at most 64 characters; nothing else about you is sent).")
        var name: String?
        @Flag(help: "Enroll again even though this home already joined a coordinator (replaces the pinned key).")
        var rejoin = false
        @OptionGroup var policyOptions: PrivacyPolicyOptions
        @Option(help: "The coordinator's signing key in hex, from its operator (`pcoord key`): join fails if the coordinator answers with another.")
        var expectKey: String?
        @Option(help: "PEM file of the certificate authority (or the self-signed certificate) to trust for the coordinator's https, instead of the system's.")
        var caCertificate: String?
        @Flag(help: "Allow plain http to another machine. Anyone on the network path can then read and change the traffic and pin their own key; every later command warns.")
        var insecure = false

        func validate() throws {
            guard !token.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("Please give the --token the operator gave you.") }
            if let name, name.count > 64 { throw ValidationError("Please give a --name of at most 64 characters.") }
            if let expectKey, (try? Hex.decode(expectKey.lowercased()))?.count != 32 {
                throw ValidationError("Please give --expect-key as the 64 hex digits `pcoord key` prints.")
            }
            if let caCertificate, !FileManager.default.isReadableFile(atPath: caCertificate) {
                throw ValidationError("Cannot read --ca-certificate \(caCertificate); give the PEM file the operator handed out.")
            }
        }

        func run() throws {
            let unlocked = try homeOptions.unlock()
            let home = unlocked.home
            if let existing = try CoordinatorLink.load(home), !rejoin {
                throw ValidationError("\(home.path) already joined \(existing.url) (key \(existing.keyFingerprint)). Pass --rejoin to enroll again and replace the pinned key.")
            }
            let pem = try caCertificate.map { path in
                guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }),
                      text.contains("-----BEGIN CERTIFICATE-----") else {
                    throw ValidationError("\(path) holds no PEM certificate (-----BEGIN CERTIFICATE-----).")
                }
                return text
            }
            var link = CoordinatorLink(url: url, clientID: "", coordinatorKey: Data(), lastManifestSequence: 0, name: name,
                                       caCertificate: pem, insecure: insecure && CoordinatorURL.isInsecure(url))
            let configuration = HTTPConfiguration(link: link)
            let response = try CoordinatorClient.enroll(url: url, token: token, identity: unlocked.identity, name: name, configuration: configuration)
            if let expectKey, (try? Hex.decode(expectKey.lowercased())).map({ Data($0) }) != response.coordinatorKey {
                warn("Error: the coordinator at \(url) answered with key \(Hex.encode(response.coordinatorKey)) " +
                     "(fingerprint \(CoordinatorLink.fingerprint(response.coordinatorKey))), not the --expect-key given: someone may sit " +
                     "between you and the coordinator, or the key is wrong. Nothing was saved; ask the operator for the key (`pcoord key`) and a new token.")
                throw ExitCode(3)
            }
            let manifest = try response.manifest.open(coordinatorKey: response.coordinatorKey)
            let existing = try CoordinatorLink.load(home)
            link.clientID = response.clientID
            link.coordinatorKey = response.coordinatorKey
            link.lastManifestSequence = manifest.sequence
            // A rejoin keeps the policy and the privacy already spent.
            link.ledger = existing?.ledger
            link.policy = policyOptions.isEmpty ? existing?.policy : try policyOptions.applied(to: existing?.effectivePolicy ?? .standard)
            try link.save(home)
            let api = try CoordinatorClient(url: url, identity: unlocked.identity, configuration: configuration)
            try SharedAdapterStore.install(response.manifest, manifest: manifest, home: home, api: api) { print($0) }
            print("Joined \(url) as client \(response.clientID).")
            if expectKey != nil {
                print("Pinned coordinator key \(link.keyFingerprint): it is the key you expected.")
            } else {
                print("Pinned coordinator key \(link.keyFingerprint): compare it with the operator's (`pcoord key`) over another channel.")
            }
            print("Shared adapter: version \(manifest.sharedAdapterVersion)" + (manifest.baseName.map { " for base \($0)" } ?? "") + ".")
            for line in describe(link.effectivePolicy, ledger: link.ledger) { print(line) }
        }
    }

    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take part in federated rounds: train the shared adapter on your long-term memory and send a masked, noised update.",
            discussion: """
            Nothing personal leaves this machine: the update is clipped, noised (distributed DP), encoded and \
            masked by secure aggregation before it is sent, so the coordinator only learns the sum over many clients.
            """)

        @OptionGroup var homeOptions: HomeOptions

        @Option(help: "The GGUF base model to train on (default: $PCLIENT_MODEL, then the cache); must be the coordinator's base.")
        var model: String?
        @Option(help: "Worker threads for training.")
        var threads: Int = 2
        @Option(help: "Rounds to take part in before stopping.")
        var rounds: Int = 1
        @Option(help: "Seconds to wait to be sampled into each round.")
        var timeout: Double = 3600
        @Option(name: .customLong("poll"), help: "Seconds between polls of the coordinator.")
        var pollInterval: Double = 2
        @Flag(help: "Keep taking part, round after round; connection errors (a coordinator restart) back off and retry.")
        var watch = false

        func validate() throws {
            guard rounds >= 1, timeout > 0, pollInterval > 0, threads >= 1 else {
                throw ValidationError("Please give --rounds ≥ 1, --timeout > 0, --poll > 0 and --threads ≥ 1.")
            }
        }

        func run() throws {
            let unlocked = try homeOptions.unlock()
            let link = try CoordinatorLink.require(unlocked.home)
            let modelPath = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
            let api = try CoordinatorClient(url: link.url, identity: unlocked.identity, configuration: HTTPConfiguration(link: link))
            let participant = FederatedParticipant(
                api: api, home: unlocked.home, identity: unlocked.identity, link: link,
                provider: MemoryUpdateProvider(memory: unlocked.memory, modelPath: modelPath, threads: threads),
                log: { line in say("[\(timestamp())] \(line)") })
            participant.pollInterval = pollInterval

            if watch {
                var backoff = 1.0
                while true {
                    do {
                        if let outcome = try participant.participateInNextRound(deadline: Date().addingTimeInterval(timeout)) {
                            say("[\(timestamp())] \(outcome)")
                        }
                        backoff = 1
                    } catch let e as HTTPError where e.isConnectionError || (e.status ?? 0) >= 500 {
                        say("[\(timestamp())] coordinator unreachable (\(e.message)); retrying in \(Int(backoff)) s")
                        Thread.sleep(forTimeInterval: backoff)
                        backoff = min(backoff * 2, 120)
                    }
                }
            }
            var failed = false
            for _ in 0..<rounds {
                guard let outcome = try participant.participateInNextRound(deadline: Date().addingTimeInterval(timeout)) else {
                    print("No round sampled this client within \(Int(timeout)) s; try again later or pass a longer --timeout.")
                    throw ExitCode(2)
                }
                say("[\(timestamp())] \(outcome)")
                if outcome.reason != nil { failed = true }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct FederationCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "federation",
            abstract: "The coordinator this home joined and the shared adapter it holds.",
            subcommands: [Status.self, Policy.self])

        struct Policy: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show or change what this client accepts of a round: minimum noise, cohort and ε limits (no passphrase needed).")

            @OptionGroup var homeOptions: HomeOptions
            @OptionGroup var policyOptions: PrivacyPolicyOptions

            func run() throws {
                let home = homeOptions.clientHome
                var link = try CoordinatorLink.require(home)
                if !policyOptions.isEmpty {
                    link.policy = try policyOptions.applied(to: link.effectivePolicy)
                    try link.save(home)
                }
                for line in describe(link.effectivePolicy, ledger: link.ledger) { print(line) }
            }
        }

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show the coordinator, its pinned key, the shared adapter version and the last round (no passphrase needed: all of it is public).")

            @OptionGroup var homeOptions: HomeOptions

            func run() throws {
                let home = homeOptions.clientHome
                guard let link = try CoordinatorLink.load(home) else {
                    print("Not joined: run `pclient join URL --token T`.")
                    return
                }
                if link.insecure == true { warn(CoordinatorURL.warning(link.url)) }
                print("Coordinator:      \(link.url)")
                print("Client id:        \(link.clientID)")
                print("Pinned key:       \(link.keyFingerprint)")
                print("Manifest:         #\(link.lastManifestSequence)")
                if let shared = try SharedAdapterStore.current(home) {
                    print("Shared adapter:   version \(shared.version) (rank \(shared.spec.rank), \(shared.spec.targets.joined(separator: ",")), \(shared.vector.count) values)")
                } else {
                    print("Shared adapter:   none yet (the coordinator has no base published)")
                }
                print("Last round:       \(link.lastRoundResult ?? "none")")
                for line in describe(link.effectivePolicy, ledger: link.ledger) { print(line) }
            }
        }
    }
}

extension HTTPConfiguration {
    /// What a link asks of the transport: its CA certificates and, for a link joined with
    /// --insecure, plain http to another machine, with the warning on stderr every time.
    init(link: CoordinatorLink) {
        self.init()
        caCertificatePEM = link.caCertificate
        if link.insecure == true {
            allowInsecureHTTP = true
            warn(CoordinatorURL.warning(link.url))
        }
    }
}

private func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Unbuffered, so progress lines and results appear in order even when stdout is a file.
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

private func timestamp() -> String {
    let f = DateFormatter()
    f.dateFormat = "HH:mm:ss"
    return f.string(from: Date())
}
