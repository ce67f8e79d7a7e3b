import ArgumentParser
import Foundation
import LinliServer
import LinliApp
import LinliDeliberation
import LinliServices
import LinliOffices
import LinliCircle
import LinliCore
import LinliCommandLine

/// The tools that make data rather than serve it: the demo street, the request history
/// generator and the benchmarks. They live in their own binary so that the one a city runs
/// (`linli`) has no command that fills a database with invented people.
@main
struct LinliBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linli-bench",
        abstract: "邻里 Linli — the demo street, generators and benchmarks (not for a city's own data).",
        subcommands: [Demo.self, GenerateRequests.self, BenchTally.self, BenchAnnounce.self, BenchLinkage.self, BenchRequests.self])
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a demo street (deterministic for a seed) and its demo accounts.")
    @OptionGroup var common: Common
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Number of streets (each about 25,000 residents).") var scale: Int = 1
    @Option(help: "Communities in each street (default 4, about 6,300 residents each; the offices' benchmark uses 20).") var communities: Int?
    @Option(help: "Password for every demo account (default: random, printed).") var password: String?
    @Flag(help: "Skip creating demo accounts.") var noAccounts = false
    @Flag(help: "Skip the year of request history (a bare street, quicker to load).") var noHistory = false

    func validate() throws {
        if let n = communities, !(1...200).contains(n) { throw ValidationError("--communities: from 1 to 200 a street") }
    }

    func run() async throws {
        var c = common.config()
        // The demo's year of history is written through the use cases at its own dates.
        let clock = DemoClock()
        c.environment = clock.env
        let linli = try await Linli.open(c)
        try await linli.requireDisposableData("linli-bench demo")
        let start = Date()
        let summary = try await linli.loadDemo(seed: seed, scale: scale, communities: communities) { print($0) }
        print(String(format: "demo loaded in %.1f s: %d streets, %d communities, %d compounds, %d households, %d residents",
                     Date().timeIntervalSince(start), summary.streets, summary.communities, summary.compounds, summary.households, summary.residents))
        if !noAccounts {
            let accounts = try await linli.createDemoAccounts(summary, password: password)
            print("\ndemo accounts (username / password / role):")
            for a in accounts { print("  \(a.username.padding(toLength: 10, withPad: " ", startingAt: 0)) \(a.password)  \(a.role)") }
            let lines = accounts.map { "\($0.username)\t\($0.password)\t\($0.role)" }.joined(separator: "\n")
            try? LinliFiles.writePrivate(lines + "\n", to: c.dataDirectory + "/demo-accounts.txt")
            let (key, made) = try await linli.loadRequestsDemo()
            print("\n\(made) demo requests; 2026 holiday calendar loaded")
            if !noHistory {
                let t = Date()
                let past = try await linli.loadRequestsHistory(seed: seed, clock: clock)
                print(String(format: "a year of the street's requests: %d reported, taken up, resolved and rated through the use cases (%.1f s)", past, Date().timeIntervalSince(t)))
            }
            print("\(try await linli.loadDeliberationDemo()) demo matters (a lift vote is open for the demo owner)")
            if !noHistory, let past = try await linli.loadDeliberationHistory(clock: clock, seed: seed) {
                print("a matter of five months ago carried through every stage to filing, its owners' vote closed with its tally (matter \(past))")
            }
            if try await linli.loadLinkageDemo() > 0 { print("Five-society linkage: volunteers, the canteen's lunch delivery filled for the month, a crowdfunded ramp project") }
            if !noHistory, try await linli.loadLinkageHistory(clock: clock) > 0 {
                print("the volunteers' past: a season of weekend patrols served and their hours confirmed; a children's project evaluated and rated")
            }
            if try await linli.loadCircleDemo() > 0 { print("15-minute circle: a walking network for each street (a 100 m lattice; import an .osm extract for a real one)") }
            if try await linli.loadGridWorkDemo() > 0 { print("Grid work: a gas-safety task for the grid worker's grid, the first doors recorded; two patrol routes, one walked today") }
            if try await linli.loadServicesDemo() > 0 { print("Service centre: three services with counter times; the demo resident has one application sent back and one booking") }
            if try await linli.loadOfficesDemo() > 0 { print("Offices: the street's four lists (admission revised once), the field office's budget, one item admitted, one awaiting the street, one refused") }
            if let key {
                print("Open311 API key (partner app): \(key)")
                print("  try: curl \(c.publicBaseURL)/open311/v2/services.json")
                try? LinliFiles.writePrivate(key + "\n", to: c.dataDirectory + "/open311-key.txt")
            }
        }
        await linli.store.shutdown()
    }
}

struct GenerateRequests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate-requests",
        abstract: "Add a history of requests to a loaded demo (every household and category, routed as the rules route them), for benchmarks.")
    @OptionGroup var common: Common
    @Option(help: "Requests to add.") var count: Int = 10_000_000
    @Option(help: "Months of history they spread over, up to now.") var months: Int = 120
    @Option(help: "Newest assigned requests left past their acceptance deadline, unswept.") var overdue: Int = 1_000

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli-bench generate-requests")
        let (n, ms): (Int, Double)
        do {
            (n, ms) = try await Stopwatch.milliseconds {
                try await linli.requests.generateHistory(count: count, months: months, overdue: overdue) { done in
                    if done % 1_000_000 == 0 { print("\(done) requests") }
                }
            }
        } catch {
            // A benchmark tool on the operator's own data: the database's own words help more than a generic message.
            FileHandle.standardError.write(Data((String(reflecting: error) + "\n").utf8))
            throw error
        }
        await linli.store.shutdown()
        print(String(format: "generated %d requests over %d months in %.0f s", n, months, ms / 1000))
    }
}

struct BenchTally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-tally",
        abstract: "Benchmark: tally an owners' vote over a building of N exclusive parts (adds the building to a loaded demo).")
    @OptionGroup var common: Common
    @Option(help: "Exclusive parts in the building.") var units: Int = 20_000
    @Option(help: "Share of parts that voted.") var turnout: Double = 0.8
    @Option(help: "Timed runs.") var runs: Int = 30

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli-bench bench-tally")
        let times = try await linli.benchmarkTally(units: units, turnout: turnout, runs: runs).sorted()
        await linli.store.shutdown()
        let median = times[times.count / 2], worst = times.last!
        print(String(format: "tally of %d parts (%.0f%% voted): median %.1f ms, p100 %.1f ms over %d runs", units, turnout * 100, median, worst, runs))
    }
}

struct BenchAnnounce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-announce",
        abstract: "Benchmark: an announcement to a whole community grown by N households (adds them to a loaded demo), and its read-receipt counts.")
    @OptionGroup var common: Common
    @Option(help: "Households added to the demo's first community.") var households: Int = 25_000
    @Option(help: "Share of the added households with a resident's account (each gets an inbox message).") var accounts: Double = 0.5
    @Option(help: "Timed runs.") var runs: Int = 5

    func validate() throws {
        guard runs >= 1, households >= 1, (0...1).contains(accounts) else { throw ValidationError("--runs and --households at least 1, --accounts from 0 to 1") }
    }

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli-bench bench-announce")
        let r = try await linli.benchmarkAnnouncement(households: households, accountShare: accounts, runs: runs)
        await linli.store.shutdown()
        let send = r.send.sorted(), counts = r.counts.sorted()
        print(String(format: "announcement to %d households (%d added accounts): median %.0f ms, slowest %.0f ms over %d runs; read-receipt counts: median %.1f ms, slowest %.1f ms",
                     r.reached, r.accounts, send[send.count / 2], send.last!, runs, counts[counts.count / 2], counts.last!))
    }
}

struct BenchLinkage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-linkage",
        abstract: "Benchmark: fill a month of daily shifts, then a community fund ledger's balances (adds data to a loaded demo).")
    @OptionGroup var common: Common
    @Option(help: "Volunteers to add.") var volunteers: Int = 2_000
    @Option(help: "Daily recurring tasks to add.") var tasks: Int = 50
    @Option(help: "Month to fill, e.g. 2027-01.") var month: String = "2027-01"
    @Option(help: "Ledger transactions to write (0 skips the ledger part).") var transactions: Int = 1_000_000
    @Option(help: "Projects they spread over.") var projects: Int = 1_000
    @Option(help: "Timed balance lookups.") var runs: Int = 200

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli-bench bench-linkage")
        let fill = try await linli.benchmarkFill(volunteers: volunteers, tasks: tasks, month: month)
        print(String(format: "fill %@: %d tasks, %d volunteers, %d shifts: %.0f ms (%d proposed, %d places uncovered)",
                     month, tasks, volunteers, fill.shifts, fill.milliseconds, fill.proposed, fill.uncovered))
        if transactions > 0 {
            let l = try await linli.benchmarkLedger(transactions: transactions, projects: projects, runs: runs)
            print(String(format: "ledger of %d transactions (written in %.0f s): project balance median %.2f ms, p99 %.2f ms; project money view median %.1f ms; recompute every balance %.0f ms; %@",
                         l.transactions, l.loadSeconds, l.balanceMedianMs, l.balanceP99Ms, l.moneyViewMedianMs, l.recomputeMs, l.ok ? "balances agree with the entries" : "MISMATCH"))
        }
        await linli.store.shutdown()
    }
}

struct BenchRequests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-requests",
        abstract: "Benchmark: each party's queue, a street's monthly figures and the escalation sweep (after generate-requests).")
    @OptionGroup var common: Common
    @Option(help: "Timed runs of the queue and the figures.") var runs: Int = 20
    @Option(help: "Street by name (default: the first).") var street: String?

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli-bench bench-requests")
        let b = try await linli.benchmarkRequests(runs: runs, street: street)
        await linli.store.shutdown()
        print("\(b.total) requests, \(b.openRequests) open")
        for (role, t) in b.queueMs.sorted(by: { $0.key < $1.key }) {
            print(String(format: "queue of a %@: median %.1f ms, slowest %.1f ms", role, t.median, t.worst))
        }
        print(String(format: "street figures for last month (%d requests): median %.1f ms, slowest %.1f ms", b.figuresReceived, b.figuresMedianMs, b.figuresWorstMs))
        print(String(format: "escalation sweep over the open requests: %.0f ms (%d escalated, %d auto-closed); again with nothing due: %.1f ms",
                     b.sweepMs, b.sweepEscalated, b.sweepAutoClosed, b.idleSweepMs))
    }
}
