import ArgumentParser
import Foundation
import Hummingbird
import LinliServer
import LinliApp
import LinliServices
import LinliOffices
import LinliCircle
import Logging
import LinliCore
import LinliStore

@main
struct LinliCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linli",
        abstract: "邻里 Linli — community governance and services platform.",
        subcommands: [Serve.self, Migrate.self, Demo.self, City.self, Import.self, Export.self, User.self, Audit.self, BackupCommand.self, RestoreCommand.self, BenchTally.self, BenchAnnounce.self, BenchLinkage.self, LedgerCheck.self, FiguresCheck.self, GenerateRequests.self, BenchRequests.self])
}

/// Options every command shares; each may also come from LINLI_* environment variables.
struct Common: ParsableArguments {
    @Option(help: "Data directory for the SQLite file and the development key (LINLI_DATA_DIR).")
    var dataDir: String?
    @Option(help: "postgres://user:pass@host:port/db to use PostgreSQL (LINLI_DATABASE_URL).")
    var databaseURL: String?

    func config() -> AppConfig {
        var c = AppConfig.fromEnvironment()
        if let d = dataDir { c.dataDirectory = d }
        if let u = databaseURL { c.databaseURL = u }
        return c
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the web console and the API.")
    @OptionGroup var common: Common
    @Option var host: String?
    @Option var port: Int?

    func run() async throws {
        var c = common.config()
        if let host { c.host = host }
        if let port { c.port = port }
        if ProcessInfo.processInfo.environment["LINLI_PUBLIC_URL"] == nil { c.publicBaseURL = "http://\(c.host):\(c.port)" }
        let built = try await buildApplication(c)
        try await built.app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")
    @OptionGroup var common: Common
    func run() async throws {
        let linli = try await Linli.open(common.config())
        print("migrations up to date on \(linli.store.dialect)")
        await linli.store.shutdown()
    }
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
        try await linli.requireDisposableData("linli demo")
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

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import households and residents from a CSV file into a community.")
    @OptionGroup var common: Common
    @Option(help: "Community (or village) id to import into.") var community: Int64
    @Flag(help: "Keep the good rows when some rows are bad (default: import nothing if any row is bad).") var keepGood = false
    @Argument var file: String

    func run() async throws {
        let linli = try await Linli.open(common.config())
        defer { Task { await linli.store.shutdown() } }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let report = try await linli.registryCSV.importCSV(data, communityID: community, keepGood: keepGood)
        for e in report.errors { print("line \(e.line), column \(e.column): \(e.reason)") }
        print("imported \(report.imported) residents in \(report.householdsCreated) new households; \(report.errors.count) bad rows\(report.errors.isEmpty || keepGood ? "" : " — nothing imported")")
        if !report.errors.isEmpty { throw ExitCode(2) }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a community's households and residents as CSV (ID numbers and phones included: handle with care).")
    @OptionGroup var common: Common
    @Option var community: Int64
    @Option(help: "Output file (default: standard output).") var output: String?
    @Option(help: "Why the full personal data is exported (written to the audit log).") var reason: String

    func run() async throws {
        let linli = try await Linli.open(common.config())
        let csv = try await linli.registryCSV.exportCSV(communityID: community, reason: reason)
        // ID numbers and phones: the file is readable by its owner only, from the moment it exists.
        if let output { try LinliFiles.writePrivate(Array(csv.utf8), to: output) } else { print(csv, terminator: "") }
        await linli.store.shutdown()
    }
}

struct City: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Found a city: the top place of a new street's hierarchy.", subcommands: [Create.self])
    struct Create: AsyncParsableCommand {
        @OptionGroup var common: Common
        @Argument(help: "The city's name, e.g. 温州市.") var name: String
        func run() async throws {
            let linli = try await Linli.open(common.config())
            let city = try await linli.registry.createCity(name: name)
            print("created city \(city.name) (place #\(city.id)); next: linli user grant NAME city_admin --place \(city.id)")
            await linli.store.shutdown()
        }
    }
}

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create accounts, grant and revoke roles.",
                                                    subcommands: [Create.self, Grant.self, Revoke.self, Token.self, Password.self])

    struct Create: AsyncParsableCommand {
        @OptionGroup var common: Common
        @Argument var username: String
        @Option var name: String = ""
        @Option(help: "Password (at least 10 characters); asked for when omitted.") var password: String?
        func run() async throws {
            let linli = try await Linli.open(common.config())
            let pw = password ?? readPassword()
            let id = try await linli.accounts.createUser(username: username, displayName: name, password: pw)
            print("created user \(username) (#\(id))")
            await linli.store.shutdown()
        }
    }
    struct Grant: AsyncParsableCommand {
        @OptionGroup var common: Common
        @Argument var username: String
        @Argument(help: "city_admin, street_staff, community_staff, grid_worker, property_company, resident, volunteer, auditor, department_staff, social_organisation, party_branch")
        var role: String
        @Option(help: "Place id the role covers.") var place: Int64?
        @Option(help: "Grid id (grid workers).") var grid: Int64?
        @Option(help: "Household id (residents).") var household: Int64?
        @Option(help: "Organisation id (department staff, social organisations, party branches): the account serves from its place.") var organisation: Int64?
        func run() async throws {
            guard let r = Role(rawValue: role) else { throw ValidationError("unknown role \(role)") }
            let linli = try await Linli.open(common.config())
            // The command line speaks for the whole installation: any organisation, of the role's kind.
            let at = try await linli.registry.grantPlace(for: r, organisationID: organisation, within: ["/"]) ?? place
            try await linli.accounts.grant(username: username, role: r, placeID: at, gridID: grid, householdID: household, organisationID: organisation)
            print("granted \(role) to \(username)")
            await linli.store.shutdown()
        }
    }
    struct Revoke: AsyncParsableCommand {
        @OptionGroup var common: Common
        @Argument var username: String
        @Argument var role: String
        @Option var place: Int64?
        func run() async throws {
            guard let r = Role(rawValue: role) else { throw ValidationError("unknown role \(role)") }
            let linli = try await Linli.open(common.config())
            let n = try await linli.accounts.revoke(username: username, role: r, placeID: place)
            print("revoked \(n) grant(s)")
            await linli.store.shutdown()
        }
    }
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API bearer token for a user (it expires), or revoke all of theirs.")
        @OptionGroup var common: Common
        @Argument var username: String
        @Option var name: String = "cli"
        @Option(help: "Days the token is valid.") var days: Int = 90
        @Flag(help: "Revoke every token of the user instead (takes effect at once on every server).") var revoke = false
        func run() async throws {
            let linli = try await Linli.open(common.config())
            if revoke {
                print("revoked \(try await linli.accounts.revokeTokens(username: username)) token(s)")
            } else {
                print(try await linli.accounts.createAPIToken(username: username, name: name, days: days))
            }
            await linli.store.shutdown()
        }
    }
    struct Password: AsyncParsableCommand {
        @OptionGroup var common: Common
        @Argument var username: String
        @Option var password: String?
        func run() async throws {
            let linli = try await Linli.open(common.config())
            try await linli.accounts.setPassword(username: username, password: password ?? readPassword())
            print("password changed")
            await linli.store.shutdown()
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The audit log's chain of keyed seals.", subcommands: [Verify.self, Seal.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute every seal; exit 1 if any entry was changed, removed or slipped in.")
        @OptionGroup var common: Common
        func run() async throws {
            let linli = try await Linli.open(common.config())
            let v = try await linli.auditChain.verify()
            await linli.store.shutdown()
            print("audit chain: \(v.verified) entries verified, \(v.unsealed) not yet sealed, head #\(v.headID) \(v.head)")
            if !v.ok {
                print("BROKEN at entries: " + v.breaks.prefix(50).map(String.init).joined(separator: ", "))
                throw ExitCode(1)
            }
        }
    }
    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal the entries written since the last seal (the server does this every few seconds).")
        @OptionGroup var common: Common
        func run() async throws {
            let linli = try await Linli.open(common.config())
            let n = try await linli.auditChain.sealPending(batch: 1_000_000)
            await linli.store.shutdown()
            print("sealed \(n) entries")
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup",
        abstract: "Back up the database (online: SQLite's backup API, or pg_dump) and its files into a new directory. The data key is not included: keep it apart.")
    @OptionGroup var common: Common
    @Option(help: "A new or empty directory for the backup.") var output: String

    func run() async throws {
        let s = try Backup.backup(common.config(), to: output)
        print("backed up \(s.database) and \(s.files) files into \(output) (the data key is not in it)")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore",
        abstract: "Restore a backup into an empty data directory (or an empty PostgreSQL database), then check the ledger and the audit chain.")
    @OptionGroup var common: Common
    @Option(help: "The backup directory.") var from: String

    func run() async throws {
        let c = common.config()
        // Without the key the restored personal data cannot be read, and a fresh development key
        // would be made silently: refuse instead.
        guard c.dataKey != nil || FileManager.default.fileExists(atPath: c.dataDirectory + "/linli.key") else {
            throw ValidationError("set LINLI_DATA_KEY (or put the original linli.key in \(c.dataDirectory)) before restoring")
        }
        let s = try Backup.restore(c, from: from)
        let linli = try await Linli.open(c)
        let ledger = try await linli.linkage.checkLedger()
        let chain = try await linli.auditChain.verify()
        await linli.store.shutdown()
        print("restored \(s.database) and \(s.files) files; ledger \(ledger.ok ? "balanced" : "NOT balanced"); audit chain \(chain.ok ? "intact" : "BROKEN") (\(chain.verified) verified)")
        if !ledger.ok || !chain.ok { throw ExitCode(1) }
    }
}

func readPassword() -> String {
    print("password: ", terminator: "")
    return readLine(strippingNewline: true) ?? ""
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
        try await linli.requireDisposableData("linli bench-tally")
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
        try await linli.requireDisposableData("linli bench-announce")
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
        try await linli.requireDisposableData("linli bench-linkage")
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

struct LedgerCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger-check",
        abstract: "Recompute every community fund balance from its entries and check that every transaction sums to zero.")
    @OptionGroup var common: Common

    func run() async throws {
        let linli = try await Linli.open(common.config())
        let c = try await linli.linkage.checkLedger()
        await linli.store.shutdown()
        print("\(c.transactions) transactions, \(c.accounts) accounts")
        for t in c.unbalancedTransactions { print("transaction \(t) does not sum to zero") }
        for w in c.wrongBalances { print("account \(w.account): stored \(w.stored), entries sum to \(w.entries)") }
        for p in c.wrongTotals { print("project \(p): kept totals differ from its transactions") }
        if !c.ok { throw ExitCode(1) }
        print("ledger balanced: every stored balance equals the sum of its entries")
    }
}

struct FiguresCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "figures-check",
        abstract: "Count the dashboards' kept figures (requests by month and day and on the situation map, visit coverage per grid, each community's households and residents, each building's households by situation) afresh and compare; --repair replaces them with the fresh count.")
    @OptionGroup var common: Common
    @Flag(help: "Replace the kept figures with the fresh count.") var repair = false

    func run() async throws {
        let linli = try await Linli.open(common.config())
        let wrong = try await linli.requests.checkRollup()
        for w in wrong {
            print("community \(w.community), \(w.unit) \(w.key): kept \(w.kept), counted \(w.counted) (made, escalated, stars, rated, resolved, on time)")
        }
        let spots = try await linli.requests.checkSpots()
        for s in spots {
            print("community \(s.community), month \(s.month), map spot \(s.spot): kept \(s.kept), counted \(s.counted) (requests)")
        }
        let coverage = try await linli.gridWork.checkCoverage()
        for c in coverage {
            print("community \(c.community), grid \(c.grid), visit coverage \(c.key): kept \(c.kept), counted \(c.counted) (households)")
        }
        let people = try await linli.registry.checkPopulation()
        for p in people {
            print("community \(p.community): kept \(p.kept), counted \(p.counted) (households, residents)")
        }
        let situations = try await linli.registry.checkSituations()
        for s in situations {
            print("building \(s.block), grid \(s.grid), situation '\(s.situation)': kept \(s.kept), counted \(s.counted) (households)")
        }
        if !(wrong.isEmpty && spots.isEmpty), repair {
            try await linli.requests.recountRollup()
            print("repaired: the request figures were counted afresh")
        }
        if !coverage.isEmpty, repair {
            try await linli.gridWork.repairCoverage(communities: coverage.map(\.community))
            print("repaired: the visit coverage per grid was counted afresh")
        }
        if !people.isEmpty, repair {
            try await linli.registry.recountPopulation()
            print("repaired: the households and residents were counted afresh")
        }
        if !situations.isEmpty, repair {
            try await linli.registry.recountSituations()
            print("repaired: the households by situation per building were counted afresh")
        }
        await linli.store.shutdown()
        let agree = wrong.isEmpty && spots.isEmpty && coverage.isEmpty && people.isEmpty && situations.isEmpty
        if agree { print("figures agree: every community's requests by month and day and on the map, each grid's visit coverage, households and residents, and each building's households by situation as kept equal a fresh count") }
        if !agree, !repair { throw ExitCode(1) }
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
        try await linli.requireDisposableData("linli generate-requests")
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

struct BenchRequests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-requests",
        abstract: "Benchmark: each party's queue, a street's monthly figures and the escalation sweep (after generate-requests).")
    @OptionGroup var common: Common
    @Option(help: "Timed runs of the queue and the figures.") var runs: Int = 20
    @Option(help: "Street by name (default: the first).") var street: String?

    func run() async throws {
        let linli = try await Linli.open(common.config())
        try await linli.requireDisposableData("linli bench-requests")
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
