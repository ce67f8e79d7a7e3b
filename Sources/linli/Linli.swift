import ArgumentParser
import Foundation
import Hummingbird
import LinliServer
import LinliApp
import LinliDeliberation
import LinliServices
import LinliOffices
import LinliCircle
import Logging
import LinliCore
import LinliStore
import LinliCommandLine

@main
struct LinliCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linli",
        abstract: "邻里 Linli — community governance and services platform.",
        subcommands: [Serve.self, Migrate.self, City.self, Import.self, Export.self, User.self, Audit.self, BackupCommand.self, RestoreCommand.self, LedgerCheck.self, FiguresCheck.self])
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
        if c.pendingMatches > 0 { print("\(c.pendingMatches) gifts' matches wait for the housekeeping job (made within ten seconds of a running server)") }
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

