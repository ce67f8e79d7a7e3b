import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The databases the store suites run on: SQLite always, PostgreSQL when scripts/test started one.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [Backend] {
        ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }
}

/// A clock the test moves by hand (escalation, deadlines).
final class TestClock: Sendable {
    private let box: NIOLockedValueBox<Date>
    init(_ iso: String) { box = NIOLockedValueBox(ISO8601DateFormatter().date(from: iso)!) }
    var now: Date { box.withLockedValue { $0 } }
    func advance(hours: Double) { box.withLockedValue { $0 = $0.addingTimeInterval(hours * 3600) } }
}

struct Fixture {
    let linli: Linli
    let demo: DemoSummary
    let dataDir: String
    let config: AppConfig
    static let password = "test-password-1"

    /// The schema owner's own connection (PostgreSQL), for what only the owner may do (tests
    /// that play someone with the owner's rights); on SQLite the one store. Shut it down after.
    func asOwner<T>(_ body: (any Store) async throws -> T) async throws -> T {
        guard let url = config.migrateDatabaseURL else { return try await body(linli.store) }
        let owner = try PostgresStore(url: url, logger: Logger(label: "test"))
        do { let r = try await body(owner); await owner.shutdown(); return r } catch { await owner.shutdown(); throw error }
    }
}

/// A fresh database with a tiny demo (two streets, so that every role has something out of scope).
func withFixture<T>(_ backend: Backend, accounts: Bool = true, clock: TestClock? = nil, demoClock: DemoClock? = nil, _ body: (Fixture) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("linli-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var config = AppConfig()
    config.dataDirectory = dir
    config.bcryptCost = 4
    config.logLevel = .warning
    config.dataKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()
    if let clock { config.environment = Env(now: { clock.now }, randomBytes: Env.live.randomBytes) }
    if let demoClock { config.environment = demoClock.env }
    config.sweepInterval = 0
    config.smsInboundToken = "test-sms-inbound-secret-0001"
    var dbName: String?
    if backend == .postgres {
        let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"]!
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let store = try PostgresStore(url: admin, logger: Logger(label: "test"))
        try await store.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() }
        await store.shutdown()
        dbName = String(name)
        // As deployed: migrations as the schema's owner, the server as a role that owns nothing
        // (scripts/postgres makes linli_app), so every test shows serving needs no owner's right.
        let owner = admin.replacingOccurrences(of: "/linli_test", with: "/\(name)")
        config.migrateDatabaseURL = owner
        config.databaseURL = owner.replacingOccurrences(of: "://linli@", with: "://linli_app@")
    }
    let linli = try await Linli.open(config)
    let demo = try await linli.loadDemo(seed: 3, scale: 2, tiny: true)
    if accounts { _ = try await linli.createDemoAccounts(demo, password: Fixture.password) }
    do {
        let result = try await body(Fixture(linli: linli, demo: demo, dataDir: dir, config: config))
        await cleanup(linli, dbName, dir)
        return result
    } catch {
        await cleanup(linli, dbName, dir)
        throw error
    }
}

private func cleanup(_ linli: Linli, _ dbName: String?, _ dir: String) async {
    await linli.store.shutdown()
    if let dbName, let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"],
       let store = try? PostgresStore(url: admin, logger: Logger(label: "test")) {
        _ = try? await store.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: dbName) WITH (FORCE)").run() }
        await store.shutdown()
    }
    try? FileManager.default.removeItem(atPath: dir)
}

extension Fixture {
    func actor(_ username: String) async throws -> Actor {
        let s = try await linli.accounts.login(username: username, password: Fixture.password)
        return s.actor
    }
    func token(_ username: String) async throws -> String {
        try await linli.accounts.createAPIToken(username: username, name: "test")
    }
    /// The demo account of each role.
    static let demoUsers: [(String, Role)] = [("admin", .cityAdmin), ("street", .streetStaff), ("community", .communityStaff), ("grid", .gridWorker),
                                              ("property", .propertyCompany), ("resident", .resident), ("volunteer", .volunteer),
                                              ("auditor", .auditor), ("app", .partnerApp), ("dept", .departmentStaff),
                                              ("hotline", .hotline), ("committee", .ownersCommittee), ("socialorg", .socialOrganisation),
                                              ("branch", .partyBranch)]
    /// An API token for every demo account, by username.
    func tokens() async throws -> [String: String] {
        var out: [String: String] = [:]
        for (u, _) in Self.demoUsers { out[u] = try await token(u) }
        return out
    }
    /// The compound of the demo resident's household.
    var residentCompound: Int64 {
        get async throws { PlacePath.ids(try await actor("resident").grants[0].placePath)[4] }
    }
    /// Some object ids of the first and of the second street.
    typealias IDs = (insideHousehold: Int64, outsideHousehold: Int64, insideResident: Int64, outsideResident: Int64,
                     insideCompound: Int64, outsideCompound: Int64, insideCode: String, outsideCode: String)
    func ids() async throws -> IDs {
        let h = demo.firstHouseholdWithResidents
        return try await linli.store.read { db in
            let street2 = try await db.raw("SELECT path FROM places WHERE kind = 'street' ORDER BY id DESC").first()!.decode(column: "path", as: String.self)
            let oh = try await db.raw("SELECT h.id, h.code FROM households h WHERE h.path LIKE \(bind: street2 + "%") AND EXISTS (SELECT 1 FROM residents r WHERE r.household_id = h.id) ORDER BY h.id").first()!
            let ohID = try oh.decode(column: "id", as: Int64.self)
            let ir = try await db.raw("SELECT id FROM residents WHERE household_id = \(bind: h) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            let or = try await db.raw("SELECT id FROM residents WHERE household_id = \(bind: ohID) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            let ihRow = try await db.raw("SELECT path, code FROM households WHERE id = \(bind: h)").first()!
            let compound = PlacePath.ids(try ihRow.decode(column: "path", as: String.self))[4]
            let oc = try await db.raw("SELECT id FROM places WHERE kind = 'compound' AND path LIKE \(bind: street2 + "%") ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            return (h, ohID, ir, or, compound, oc, try ihRow.decode(column: "code", as: String.self), try oh.decode(column: "code", as: String.self))
        }
    }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

/// Signs in through the form as a browser does: the form's token and its cookie, then the POST.
/// Returns the session cookie (`linli_session=…`).
func webLogin(_ client: some TestClientProtocol, _ username: String, password: String = Fixture.password) async throws -> String {
    let form = try await client.execute(uri: "/login", method: .get, headers: [:], body: nil)
    let pre = String(form.headers[.setCookie]!.split(separator: ";")[0])
    let token = String(form.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
    let login = try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: pre],
                                         body: ByteBuffer(string: "username=\(username)&password=\(password)&_csrf=\(token)"))
    guard login.status == .seeOther, let set = login.headers[.setCookie] else { throw LinliError.unauthenticated }
    return String(set.split(separator: ";")[0])
}

/// `Sources/LinliServer` of this checkout, for tests that read the code and templates themselves.
let serverSources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/LinliServer")
/// `Sources/LinliDeliberation`: deliberation and owners' votes, a capability in its own target.
let deliberationSources = serverSources.deletingLastPathComponent().appendingPathComponent("LinliDeliberation")
/// `Sources/LinliServices`: the daily services, a capability in its own target.
let servicesSources = serverSources.deletingLastPathComponent().appendingPathComponent("LinliServices")
/// `Sources/LinliOffices`: the offices' side, a capability in its own target.
let officesSources = serverSources.deletingLastPathComponent().appendingPathComponent("LinliOffices")
/// `Sources/LinliSituation`: the situation map and needs analysis, a capability in its own target.
let situationSources = serverSources.deletingLastPathComponent().appendingPathComponent("LinliSituation")
/// `Sources/LinliCircle`: the 15-minute living circle, a capability in its own target.
let circleSources = serverSources.deletingLastPathComponent().appendingPathComponent("LinliCircle")
