import Diagnostics
import ArgumentParser
import CoordinatorCore
import CoordinatorServer
import Federation
import Foundation
import Logging
import Seal

@main
struct PCoord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcoord",
        abstract: "The federation coordinator: enrolls clients, serves the base and the shared adapter, runs secure-aggregation rounds.",
        subcommands: [Init.self, Serve.self, Enroll.self, PublishBase.self, Status.self, Key.self])
}

/// --dir, or $PCOORD_DIR.
struct DirectoryOption: ParsableArguments {
    @Option(name: .long, help: "Coordinator directory (database, key file, blobs). Default: $PCOORD_DIR.")
    var dir: String?

    func validate() throws {
        if dir == nil && ProcessInfo.processInfo.environment["PCOORD_DIR"] == nil {
            throw ValidationError("Please give --dir or set PCOORD_DIR.")
        }
    }

    var path: String { dir ?? ProcessInfo.processInfo.environment["PCOORD_DIR"] ?? "." }
}

/// Prints a coordinator error as "what happened" and "what to do", then exits non-zero.
func reporting<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as CoordinatorError {
        FileHandle.standardError.write(Data("pcoord: \(e.message)\n  \(e.remedy ?? "")\n".utf8))
        throw ExitCode(2)
    } catch let e as FederationError {
        FileHandle.standardError.write(Data("pcoord: \(e.message)\n".utf8))
        throw ExitCode(2)
    }
}

extension PCoord {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a coordinator directory: settings, identity, blob store.")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Rank of the shared adapter.") var rank = 8
        @Option(help: "LoRA alpha of the shared adapter.") var alpha = 16.0
        @Option(help: "Targets of the shared adapter, comma-separated among q,k,v,o,gate,up,down.") var targets = "q,v"
        @Option(help: "Seed of the shared adapter's frozen A matrices (random when omitted).") var seed: UInt64?
        @Option(help: "Clients sampled per round.") var clientsPerRound = 4
        @Option(help: "Minimum clients: the fewest survivors of any stage; the SecAgg threshold is max(this, ⌊sampled/2⌋ + 1).") var minClients = 3
        @Option(help: "Seconds each stage stays open at most.") var stageTimeout = 120.0
        @Option(help: "Local training steps per round.") var localSteps = 10
        @Option(help: "Client learning rate.") var lr = 1e-3
        @Option(help: "Longest training sequence, tokens.") var maxSequence = 256
        @Option(help: "L2 clip norm C of each client's update.") var clip = 1.0
        @Option(help: "Noise multiplier z (> 0).") var noise = 1.0
        @Option(help: "δ of the privacy report.") var delta = 1e-5
        @Option(help: "Total ε the accountant may spend.") var epsilonBudget = 30.0
        @Option(help: "Aggregation: fedavg or fedadam.") var strategy = "fedavg"
        @Option(help: "Server learning rate (FedAvg step size or FedAdam η).") var serverLr = 1.0
        @Option(help: "Fixed-point range R (|update coordinates| < R).") var range = 16.0
        @Option(help: "Fixed-point scale bits k.") var scaleBits = 16
        @Option(help: "Seconds a poll keeps a client available for sampling.") var availability = 120.0
        @Option(help: "Seconds to wait for a full sample once the minimum is available.") var sampleWait = 30.0
        @Option(help: "SecAgg+: neighbours k of each participant (even; 0 = the complete graph of SecAgg).") var neighbours = 0
        @Option(help: "SecAgg+: shares needed within a neighbourhood (default ⌊k/2⌋ + 1).") var neighbourThreshold: Int?
        @Option(help: "Suspend a client from sampling once it was excluded for a refused message in this many rounds (0 = never).")
        var suspendAfter = CoordinatorSettings.defaultSuspendAfterExclusions

        func run() async throws {
            try await reporting {
                let spec = try SharedAdapterSpec(rank: rank, alpha: alpha, targets: targets.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) },
                                                 seed: seed ?? UInt64.random(in: 0...UInt64.max))
                let round = RoundConfig(clientsPerRound: clientsPerRound, minimumClients: minClients, stageTimeout: stageTimeout,
                                        localSteps: localSteps, learningRate: lr, maxSequence: maxSequence,
                                        dp: try DistributedGaussian(clipNorm: clip, noiseMultiplier: noise, minimumClients: minClients),
                                        codec: try FixedPointCodec(range: range, scaleBits: scaleBits, maxSummands: max(100, clientsPerRound)),
                                        strategy: strategy, serverLearningRate: serverLr,
                                        neighbours: neighbours == 0 ? nil : neighbours, neighbourThreshold: neighbourThreshold)
                guard noise > 0 else { throw ValidationError("--noise must be positive: the accountant needs a noise multiplier.") }
                let settings = try CoordinatorSettings(sharedAdapter: spec, round: round, epsilonBudget: epsilonBudget, delta: delta,
                                                       availabilityWindow: availability, sampleWait: sampleWait,
                                                       suspendAfterExclusions: suspendAfter)
                try Coordinator.initialise(directory: directory.path, settings: settings)
                let c = try Coordinator(directory: directory.path)
                print("Initialised \(directory.path)")
                print("coordinator key: \(Hex.encode(c.publicKey)) (fingerprint \(KeyFingerprint.of(c.publicKey)))")
                print("Hand it to each client out of band: pclient join URL --token T --expect-key \(Hex.encode(c.publicKey))")
                print("Next: pcoord publish-base --dir \(directory.path) MODEL.gguf")
            }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the HTTP API and run rounds.",
            discussion: """
            Every limit below applies before a request is authenticated (protocol/PROTOCOL.md §2.3). Over plain HTTP, \
            listen on loopback only and put a TLS-terminating proxy in front (server/README.md), or give --tls-certificate \
            and --tls-key.
            """)
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Address to listen on, HOST:PORT.") var listen = "127.0.0.1:8443"
        @Option(help: "Stop opening rounds after this many.") var rounds: Int?
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
        @Option(help: "PEM file of the TLS certificate chain (leaf first); with --tls-key, serve HTTPS only.") var tlsCertificate: String?
        @Option(help: "PEM file of the TLS private key (unencrypted, mode 0600).") var tlsKey: String?
        @Option(help: "Open connections at most; past it new ones wait in the listen backlog.") var maxConnections = 1024
        @Option(help: "Open connections at most from one IP address; past it a new one is closed at once.") var maxConnectionsPerAddress = 32
        @Option(help: "Seconds a connection may stay silent, or take to send a complete request head, before it is closed.") var idleTimeout = 30.0
        @Option(help: "Seconds a request body may take to arrive once its head has, before the connection is closed.") var bodyTimeout = 60.0
        @Option(help: "Requests per second from one IP address, of any kind, before authentication.") var addressRate = 100.0
        @Option(help: "Burst of requests from one IP address above --address-rate.") var addressBurst = 300.0
        @Option(help: "Signed requests per second per client.") var clientRate = 20.0
        @Option(help: "Burst of signed requests per client above --client-rate.") var clientBurst = 60.0

        func validate() throws {
            guard (tlsCertificate == nil) == (tlsKey == nil) else {
                throw ValidationError("Please give both --tls-certificate and --tls-key, or neither.")
            }
            guard maxConnections >= 1, maxConnectionsPerAddress >= 1, idleTimeout > 0, bodyTimeout > 0, addressRate > 0, addressBurst >= 1,
                  clientRate > 0, clientBurst >= 1 else {
                throw ValidationError("Please give positive limits: connections ≥ 1, timeouts and rates > 0, bursts ≥ 1.")
            }
        }

        func run() async throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw ValidationError("Please give --listen as HOST:PORT, e.g. 127.0.0.1:8443.")
            }
            var logger = Logger(label: "pcoord")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            try await reporting {
                let c = try Coordinator(directory: directory.path, roundsLimit: rounds, logger: logger)
                let config = ServerConfiguration(
                    host: String(listen[..<colon]), port: port, requestsPerSecond: clientRate, burst: clientBurst,
                    addressRequestsPerSecond: addressRate, addressBurst: addressBurst, maxConnections: maxConnections,
                    maxConnectionsPerAddress: maxConnectionsPerAddress, idleTimeout: idleTimeout, bodyTimeout: bodyTimeout,
                    tls: tlsCertificate.map { ServerConfiguration.TLSFiles(certificateChain: $0, privateKey: tlsKey ?? "") })
                logger.info("serving", metadata: ["listen": "\(listen)", "dir": "\(directory.path)", "tls": "\(config.tls != nil)"])
                try await serve(coordinator: c, configuration: config, logger: logger)
            }
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the coordinator's public signing key, to hand to clients out of band (pclient join --expect-key).")
        @OptionGroup var directory: DirectoryOption

        func run() async throws {
            try await reporting {
                let c = try Coordinator(directory: directory.path)
                print("hex          \(Hex.encode(c.publicKey))")
                print("base64       \(c.publicKey.base64EncodedString())")
                print("fingerprint  \(KeyFingerprint.of(c.publicKey))")
            }
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a one-time enrollment token and print it.")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Validity, e.g. 24h, 30m, 3600s or 7d.") var expires = "24h"
        @Option(help: "A label for the client (kept with the enrollment).") var name: String?

        func run() async throws {
            guard let seconds = parseDuration(expires) else { throw ValidationError("Please give --expires as a number with s, m, h or d, e.g. 24h.") }
            try await reporting {
                let c = try Coordinator(directory: directory.path)
                print(try await c.createEnrollmentToken(name: name, validFor: seconds, now: Date()))
            }
        }
    }

    struct PublishBase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "publish-base",
                                                        abstract: "Publish a GGUF base model and (re)create the shared adapter's version of zeros. Run it while serve is stopped.")
        @OptionGroup var directory: DirectoryOption
        @Argument(help: "The GGUF file.") var file: String

        func run() async throws {
            try await reporting {
                let c = try Coordinator(directory: directory.path)
                let r = try await c.publishBase(file: file, now: Date())
                print("base \(r.base.sha256) (\(r.base.size) bytes)")
                print("dimensions: blocks \(r.dimensions.blocks), embedding \(r.dimensions.embedding), kv \(r.dimensions.keyValue), ffn \(r.dimensions.feedForward)")
                print("shared adapter version \(r.adapterVersion): \(c.settings.sharedAdapter.vectorLength(r.dimensions)) parameters")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Clients, rounds and their outcomes, the current version and ε spent.")
        @OptionGroup var directory: DirectoryOption
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reporting {
                let c = try Coordinator(directory: directory.path)
                let report = try await StatusReport.make(c)
                if json {
                    let e = WireCoding.encoder()
                    e.outputFormatting = [.sortedKeys, .prettyPrinted]
                    print(String(decoding: try e.encode(report), as: UTF8.self))
                } else {
                    print(report.text)
                }
            }
        }
    }
}

func parseDuration(_ s: String) -> Double? {
    guard let unit = s.last, let n = Double(s.dropLast()), n > 0 else { return Double(s).flatMap { $0 > 0 ? $0 : nil } }
    switch unit {
    case "s": return n
    case "m": return n * 60
    case "h": return n * 3600
    case "d": return n * 86400
    default: return nil
    }
}
