import Crypto
import Foundation
import Hummingbird
import Logging
import LinliCore
import LinliStore

public struct AppConfig: Sendable, StoreLocation {
    public var host = "127.0.0.1"
    public var port = 8080
    /// `postgres://…` for PostgreSQL; otherwise the SQLite file at `sqlitePath` is used.
    public var databaseURL: String?
    /// A streaming replica of that PostgreSQL database for heavy reads (LINLI_REPLICA_URL):
    /// figures and dashboards. Its primary must run `synchronous_commit = remote_apply` (README).
    public var replicaURL: String?
    /// The same PostgreSQL database as its schema's owner (LINLI_MIGRATE_DATABASE_URL): when set,
    /// migrations run as that role and the server's own role (`databaseURL`'s) is given rows,
    /// not tables — it cannot truncate the audit log or drop its triggers (README, "Security").
    public var migrateDatabaseURL: String?
    public var dataDirectory = "./data"
    public var sqlitePath: String { dataDirectory + "/linli.sqlite" }
    /// Photos, receipts, ballot documents, papers and evidence (LINLI_FILES_DIR). Several
    /// servers sharing one PostgreSQL database point it at one shared directory (a network
    /// mount), so that any of them serves a file another wrote; alone, it is the data directory.
    public var filesDirectory: String { sharedFilesDirectory ?? dataDirectory }
    public var sharedFilesDirectory: String?
    /// Base64 of 32 bytes. In development a key is created under `dataDirectory` when missing.
    public var dataKey: String?
    public var production = false
    public var bcryptCost: UInt8 = 12
    public var publicBaseURL = "http://127.0.0.1:8080"
    /// Where people report a vulnerability of this deployment (LINLI_SECURITY_CONTACT: a
    /// `mailto:` or `https:` URI), published as `/.well-known/security.txt` (RFC 9116).
    public var securityContact: String?
    public var logLevel: Logger.Level = .info
    public var environment: Env = .live
    /// Registers the benchmark baselines that write (`LINLI_BENCH=1`); never on in production.
    public var benchRoutes = false
    /// Seconds between escalation sweeps; 0 turns the in-server job off (tests drive it by hand).
    public var sweepInterval = 60
    /// A reverse proxy (nginx) whose X-Forwarded-For names the client (sign-in throttle).
    public var trustedProxy: String?
    /// WeChat Pay API v3 (payment notifications): merchant id, APIv3 key, WeChat Pay's public key
    /// (PEM file) and its id (the Wechatpay-Serial it signs with). All four, or none.
    public var wechatPayMerchantID: String?
    public var wechatPayAPIv3Key: String?
    public var wechatPayPublicKeyFile: String?
    public var wechatPayPublicKeyID: String?
    /// One-time codes by SMS: LINLI_SMS=aliyun with its keys, or the log (development only).
    public var sms: (any SMSSender)?
    /// The shared secret the SMS provider's relay sends with a resident's reply
    /// (`X-Linli-SMS-Token` on `POST /api/v1/sms/inbound`); unset, replies are not taken.
    public var smsInboundToken: String?
    /// Map tiles: a URL template (`https://tiles.example/{z}/{x}/{y}.png`) for a city's own tile
    /// server or a provider, the coordinate system its tiles are drawn in (`gcj02` for most
    /// Chinese commercial maps, else `wgs84`), and the credit it asks for. None: the map draws
    /// the community's own places on a plain ground and needs no network.
    public var tileURL: String?
    public var tileCRS = "wgs84"
    public var tileAttribution = ""
    /// The origins tiles come from, the only other ones pages may load images from: Leaflet
    /// fills `{s}` with a, b and c by default, so a template with it names three hosts.
    public var tileOrigins: [String] {
        guard let url = tileURL else { return [] }
        let hosts = url.contains("{s}") ? ["a", "b", "c"].map { url.replacingOccurrences(of: "{s}", with: $0) } : [url]
        return hosts.compactMap { raw in
            guard let u = URL(string: raw.replacingOccurrences(of: "{", with: "%7B").replacingOccurrences(of: "}", with: "%7D")),
                  let scheme = u.scheme, let host = u.host else { return nil }
            return "\(scheme)://\(host)" + (u.port.map { ":\($0)" } ?? "")
        }
    }
    /// Where Debian's libjs-leaflet and libjs-chart.js put their files.
    public var scriptDirectory = "/usr/share/javascript"

    public init() {}

    /// Reads LINLI_* variables.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> AppConfig {
        var c = AppConfig()
        if let v = env["LINLI_HOST"] { c.host = v }
        if let v = env["LINLI_PORT"], let p = Int(v) { c.port = p }
        c.databaseURL = env["LINLI_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        c.replicaURL = env["LINLI_REPLICA_URL"].flatMap { $0.isEmpty ? nil : $0 }
        c.migrateDatabaseURL = env["LINLI_MIGRATE_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let v = env["LINLI_DATA_DIR"] { c.dataDirectory = v }
        c.sharedFilesDirectory = env["LINLI_FILES_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        c.dataKey = env["LINLI_DATA_KEY"]
        c.production = env["LINLI_ENV"] == "production"
        if let v = env["LINLI_BCRYPT_COST"], let n = UInt8(v), (4...31).contains(n) { c.bcryptCost = n }
        c.publicBaseURL = env["LINLI_PUBLIC_URL"] ?? "http://\(c.host):\(c.port)"
        c.securityContact = env["LINLI_SECURITY_CONTACT"].flatMap { $0.isEmpty ? nil : $0 }
        c.benchRoutes = env["LINLI_BENCH"] == "1" && !c.production
        if let v = env["LINLI_SWEEP_SECONDS"], let n = Int(v), n >= 0 { c.sweepInterval = n }
        if let v = env["LINLI_SMS_INBOUND_TOKEN"], v.count >= 16 { c.smsInboundToken = v }
        if let v = env["LINLI_LOG_LEVEL"], let l = Logger.Level(rawValue: v) { c.logLevel = l }
        c.trustedProxy = env["LINLI_TRUSTED_PROXY"].flatMap { $0.isEmpty ? nil : $0 }
        c.wechatPayMerchantID = env["LINLI_WECHATPAY_MCHID"]
        c.wechatPayAPIv3Key = env["LINLI_WECHATPAY_APIV3_KEY"]
        c.wechatPayPublicKeyFile = env["LINLI_WECHATPAY_PUBLIC_KEY_FILE"]
        c.wechatPayPublicKeyID = env["LINLI_WECHATPAY_PUBLIC_KEY_ID"]
        c.tileURL = env["LINLI_TILE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if env["LINLI_TILE_CRS"] == "gcj02" { c.tileCRS = "gcj02" }
        c.tileAttribution = env["LINLI_TILE_ATTRIBUTION"] ?? ""
        if let v = env["LINLI_JS_DIR"], !v.isEmpty { c.scriptDirectory = v }
        switch env["LINLI_SMS"] {
        case "aliyun"?:
            var templates: [SMSPurpose: String] = [:]
            // The one-code template serves registration and reset; a notice has its own (title and
            // code) or is not sent by text at all.
            for p in SMSPurpose.allCases {
                templates[p] = env["LINLI_SMS_TEMPLATE_" + p.rawValue.uppercased()] ?? (p == .notice ? nil : env["LINLI_SMS_TEMPLATE"])
            }
            c.sms = AliyunSMS(endpoint: URL(string: env["LINLI_SMS_ENDPOINT"] ?? "https://dysmsapi.aliyuncs.com/")!,
                              accessKeyID: env["LINLI_SMS_KEY_ID"] ?? "", accessKeySecret: env["LINLI_SMS_KEY_SECRET"] ?? "",
                              signName: env["LINLI_SMS_SIGN_NAME"] ?? "", templates: templates, env: c.environment)
        case "log"? where !c.production:
            c.sms = LogSMS()
        default:
            break
        }
        return c
    }

    /// The master key for personal data. Production refuses to start without one given explicitly.
    func masterKey() throws -> SymmetricKey {
        if let k = dataKey { return try PersonalDataCipher.masterKey(base64: k) }
        if production {
            throw LinliError(.internalServerError, code: "no_key", message: "LINLI_DATA_KEY must be set in production")
        }
        let path = dataDirectory + "/linli.key"
        if let s = try? String(contentsOfFile: path, encoding: .utf8) { return try PersonalDataCipher.masterKey(base64: s) }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let key = SymmetricKey(size: .bits256)
        let b64 = key.withUnsafeBytes { Data($0).base64EncodedString() }
        try LinliFiles.writePrivate(b64, to: path)
        return key
    }
}

/// A capability built in its own target above this one (the daily services first). The app is
/// put together (`LinliApp`) from this target's capabilities and these: each brings its
/// migrations, its text table and templates, makes its use cases over the platform's services
/// (setting the hooks by which they reach it), registers its routes and names its sweeps.
package protocol Capability: Sendable {
    /// Its tables, after the platform's and the capabilities' before it in the app's list.
    static var migrations: [Migration] { get }
    /// Its user-facing text, added to the app's catalogue (a key may be defined once in all).
    static var text: TextTable { get }
    /// The directory of its templates (its resource bundle's), if it has pages.
    static var templateDirectory: String? { get throws }
    /// Its use cases over the platform's; it may set the platform's hooks in `linli`.
    static func make(_ linli: inout Linli) throws -> Self
    /// Its HTML and JSON routes, each with its access rule.
    func register(_ routes: Routes, renderer: Renderer, linli: Linli)
    /// Housekeeping the server runs every sweep (files no row points at, …), by name.
    var sweeps: [(String, @Sendable () async throws -> Int)] { get }
    /// Small jobs every few seconds (delivering an outbox), each safe on several servers at once.
    var jobs: [(String, @Sendable () async throws -> Void)] { get }
    /// Once the store is migrated and every capability made: rows it must find in place (its
    /// built-in rules), written idempotently, since several servers may start at once.
    func start() async throws
}

extension Capability {
    package var sweeps: [(String, @Sendable () async throws -> Int)] { [] }
    package var jobs: [(String, @Sendable () async throws -> Void)] { [] }
    package func start() async throws {}

    /// `Resources/templates` of a capability's resource bundle (its target's `Bundle.module`).
    package static func templates(in bundle: Bundle) throws -> String {
        guard let dir = bundle.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("templates").path,
              FileManager.default.fileExists(atPath: dir) else {
            throw LinliError(.internalServerError, code: "templates_missing", message: "the templates of \(Self.self) are not in its resource bundle")
        }
        return dir
    }

    /// The words its own Swift code looks up: the built-in catalogue with its table added, as
    /// the app's renderer holds them. Merged anew on each call: keep it in a `static let`.
    package static var texts: Texts { I18n.texts.adding([text]) }
}

/// Everything the server and the command line share: one store and the capabilities' use cases.
public struct Linli: Sendable {
    public let config: AppConfig
    public let store: any Store
    /// Capabilities in their own targets add what of theirs names an organisation.
    public package(set) var registry: RegistryService
    public let accounts: AccountService
    public let audit: AuditLog
    public let cipher: PersonalDataCipher
    /// Capabilities in their own targets set hooks on it when they are made (the offices' outbox).
    public package(set) var requests: RequestsService
    public let inbox: Inbox
    /// Capabilities in their own targets set hooks on it when they are made.
    public package(set) var linkage: LinkageService
    public let auditChain: AuditChain
    public package(set) var gridWork: GridWorkService
    /// A resident's open owners' votes for their home page, set by deliberation when it is made.
    package var openVotes: @Sendable (Actor) async throws -> [OpenVote] = { _ in [] }
    /// The capabilities built in their own targets, as the app was put together.
    package private(set) var capabilities: [any Capability] = []

    /// The migrations of this target's capabilities (those in their own targets follow).
    public static let migrations: [Migration] = PlatformMigrations.all + RegistryMigrations.all + AccountsMigrations.all + AuditMigrations.all + RequestsMigrations.all + LinkageMigrations.all + GridWorkMigrations.all

    package static func migrations(_ capabilities: [any Capability.Type]) -> [Migration] {
        migrations + capabilities.flatMap { $0.migrations }
    }

    /// Applies pending migrations: as the schema's owner when `migrateDatabaseURL` is set (then
    /// the server's role is given what it needs and no more), otherwise as the server's role.
    static func migrate(_ config: AppConfig, _ store: any Store, _ capabilities: [any Capability.Type], logger: Logger) async throws {
        guard let ownerURL = config.migrateDatabaseURL, store.dialect == .postgres, let url = config.databaseURL else {
            try await Migrator.migrate(store, migrations(capabilities))
            return
        }
        guard let role = Migrator.role(ofURL: url), let ownerRole = Migrator.role(ofURL: ownerURL) else {
            throw LinliError(.internalServerError, code: "no_role", message: "LINLI_DATABASE_URL and LINLI_MIGRATE_DATABASE_URL must each name their role (postgres://role@host/db)")
        }
        guard ownerRole != role else {
            throw LinliError(.internalServerError, code: "same_role", message: "LINLI_MIGRATE_DATABASE_URL must sign in as the schema's owner, another role than LINLI_DATABASE_URL's")
        }
        let owner = try PostgresStore(url: ownerURL, logger: logger)
        do {
            try await Migrator.migrate(owner, migrations(capabilities))
            try await Migrator.grantApplication(owner, role: role)
        } catch {
            await owner.shutdown()
            throw error
        }
        await owner.shutdown()
    }

    /// A capability the app is always put together with (`LinliApp`): its accessor on `Linli`.
    package func required<C: Capability>(_ type: C.Type) -> C {
        guard let c = capability(type) else { preconditionFailure("the app was put together without \(C.self)") }
        return c
    }

    /// One capability built in its own target, as made when the app was put together.
    package func capability<C: Capability>(_ type: C.Type) -> C? {
        capabilities.lazy.compactMap { $0 as? C }.first
    }

    /// Opens the store, applies any pending migrations, and makes every capability's use cases
    /// (`capabilities`: those in their own targets, named by the app, `LinliApp`).
    package static func open(_ config: AppConfig, capabilities: [any Capability.Type], logger: Logger = Logger(label: "linli")) async throws -> Linli {
        let store = try await StoreFactory.open(databaseURL: config.databaseURL, replicaURL: config.replicaURL, sqlitePath: config.sqlitePath, logger: logger)
        try await migrate(config, store, capabilities, logger: logger)
        let masterKey = try config.masterKey()
        let cipher = PersonalDataCipher(masterKey: masterKey)
        var accounts = AccountService(store: store, env: config.environment, bcryptCost: config.bcryptCost)
        var requests = RequestsService(store: store, cipher: cipher, env: config.environment, photoDirectory: FileFolder.photos.path(in: config.filesDirectory))
        requests.accountPhone = { db, user in try await AccountService.phone(db, userID: user, cipher: cipher) }
        accounts.production = config.production
        accounts.cipher = cipher
        accounts.sms = config.sms ?? (config.production ? NoSMS() : LogSMS(logger: logger))
        var registry = RegistryService(store: store, cipher: cipher, env: config.environment)
        let linkage = LinkageService(store: store, env: config.environment, receiptDirectory: FileFolder.receipts.path(in: config.filesDirectory))
        // A request routed to a named department: who it is (the registry's) and who works there (accounts').
        requests.departments = { [registry] db, ids in try await registry.departments(db, ids: ids) }
        requests.departmentsAt = { [registry] db, places in try await registry.departments(db, at: places) }
        requests.departmentsUnder = { [registry] db, paths in try await registry.departments(db, under: paths) }
        requests.departmentStaff = { db, org in try await AccountService.holders(db, organisationID: org) }
        var gridWork = GridWorkService(store: store, cipher: cipher, env: config.environment, registry: registry,
                                       photoDirectory: FileFolder.gridworkPhotos.path(in: config.filesDirectory))
        gridWork.postNeed = { [linkage] input, actor in try await linkage.postNeed(input, actor: actor) }
        gridWork.sms = accounts.sms
        gridWork.smsInboundToken = config.smsInboundToken
        gridWork.requestCategories = { [requests] in
            try await requests.categories(lang: .zh).filter { $0.active && !$0.attributes.contains(where: \.required) }
        }
        // Visit plans follow the registry: a household's grid, address and situations, as they change.
        registry.householdsChanged = { [gridWork] db, ids in try await gridWork.householdsChanged(db, ids) }
        // A relative's link follows the person to their new home (and its community's office).
        registry.residentMoved = { db, resident, household, path in try await AccountService.residentMoved(db, resident: resident, household: household, path: path) }
        // Sensitive records coming due are the community office's to confirm or let go.
        registry.sensitiveComingDue = { [env = config.environment] db, community, count in
            let staff = try await AccountService.holders(db, role: .communityStaff, placeIDs: [community])
            try await InAppNotifier().deliver(db, staff.map {
                OutgoingNotification(userID: $0, kind: "sensitive_due", requestID: nil, subject: String(count), link: "/communities/\(community)/sensitive-due")
            }, at: env.nowSeconds)
        }
        var linli = Linli(config: config, store: store,
                          registry: registry,
                          accounts: accounts,
                          audit: AuditLog(env: config.environment), cipher: cipher,
                          requests: requests,
                          inbox: Inbox(store: store, env: config.environment),
                          linkage: linkage,
                          auditChain: AuditChain(store: store, env: config.environment, masterKey: masterKey), gridWork: gridWork)
        for c in capabilities { linli.capabilities.append(try c.make(&linli)) }
        for c in linli.capabilities { try await c.start() }
        // Set once the capabilities have set their hooks on requests (the outbox hears every
        // step): a visit's "needs help" becomes a request through the requests' own use case.
        linli.gridWork.fileRequest = { [requests = linli.requests] input, photos, actor in
            try await requests.submit(input, photos: photos, actor: actor).request.id
        }
        // The registry grid work was made with predates the hooks set since (deliberation's
        // part lock, the household and move hooks): it reads only, but keeps no stale copy.
        linli.gridWork.registry = linli.registry
        return linli
    }
}

extension Linli {
    /// Demo loading, history generation and benchmarks write made-up rows in bulk: they refuse
    /// production and any database that holds real data (an account the demo did not make, or an
    /// imported registry).
    public func requireDisposableData(_ command: String) async throws {
        if config.production {
            throw LinliError(.forbidden, code: "production", message: "\(command) is refused under LINLI_ENV=production")
        }
        let real = try await store.read { db in
            let users = try await db.raw("SELECT COUNT(*) AS n FROM users WHERE demo = 0").first()!.decode(column: "n", as: Int.self)
            let imports = try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'registry.import'").first()!.decode(column: "n", as: Int.self)
            return users + imports
        }
        if real > 0 {
            throw LinliError(.forbidden, code: "real_data", message: "\(command) is refused: this database holds real data (accounts or imports not made by the demo)")
        }
    }
}

/// The route table is exposed so that tests can walk every route.
public struct BuiltApplication<App: ApplicationProtocol> {
    public let app: App
    public let linli: Linli
    public let routes: [RouteDeclaration]
}

public func buildApplication(_ linli: Linli, logger: Logger) async throws -> BuiltApplication<some ApplicationProtocol> {
    // The app's catalogue and templates: this target's and those of capabilities in their own targets.
    let kinds = linli.capabilities.map { type(of: $0) }
    let renderer = try await Renderer.load(texts: I18n.texts.adding(kinds.map { $0.text }),
                                           templateDirectories: try kinds.compactMap { try $0.templateDirectory })
    let router = Router(context: AppContext.self)
    // Outermost, so that error pages carry the headers too.
    router.add(middleware: SecurityHeadersMiddleware(production: linli.config.production, imageSources: linli.config.tileOrigins))
    router.add(middleware: ErrorMiddleware(renderer: renderer))
    router.add(middleware: AuthMiddleware(accounts: linli.accounts))
    let routes = Routes(router: router)
    let accountRoutes = AccountRoutes(accounts: linli.accounts, renderer: renderer, secureCookies: linli.config.production, trustedProxy: linli.config.trustedProxy)
    accountRoutes.register(routes)
    PhoneRoutes(accounts: linli.accounts, registry: linli.registry, renderer: renderer, base: accountRoutes).register(routes)
    UserRoutes(accounts: linli.accounts, registry: linli.registry, renderer: renderer).register(routes)
    OnboardingRoutes(registry: linli.registry, accounts: linli.accounts, renderer: renderer, publicBaseURL: linli.config.publicBaseURL).register(routes)
    let registryRoutes = RegistryRoutes(registry: linli.registry, renderer: renderer, publicBaseURL: linli.config.publicBaseURL)
    registryRoutes.register(routes)
    ActingRoutes(accounts: linli.accounts, registry: linli.registry, renderer: renderer, residentPages: registryRoutes).register(routes)
    RelativeRoutes(accounts: linli.accounts, registry: linli.registry, renderer: renderer).register(routes)
    let gridWork = linli.gridWork
    RequestsRoutes(requests: linli.requests, inbox: linli.inbox, renderer: renderer, dueVisits: { actor, lang in
        // Only a grid worker's own grids: staff without one have no list of their own here.
        guard actor.grants(for: .visitLog).contains(where: { $0.gridID != nil }) else { return [] }
        return GridWorkRoutes.dueItems(try await gridWork.due(gridID: nil, actor: actor), lang)
    }).register(routes)
    Open311Routes(requests: linli.requests, accounts: linli.accounts, publicBaseURL: linli.config.publicBaseURL).register(routes)
    var wechatPay: WeChatPayV3?
    if let m = linli.config.wechatPayMerchantID, let k = linli.config.wechatPayAPIv3Key, let f = linli.config.wechatPayPublicKeyFile,
       let id = linli.config.wechatPayPublicKeyID {
        wechatPay = try WeChatPayV3(merchantID: m, apiV3Key: k, publicKeyPEM: try String(contentsOfFile: f, encoding: .utf8), publicKeyID: id)
    }
    LinkageRoutes(linkage: linli.linkage, renderer: renderer, wechatPay: wechatPay).register(routes)
    GridWorkRoutes(gridWork: linli.gridWork, requests: linli.requests, renderer: renderer).register(routes)
    for c in linli.capabilities { c.register(routes, renderer: renderer, linli: linli) }
    MapRoutes(config: linli.config).register(routes)
    HomeRoutes(registry: linli.registry, requests: linli.requests, openVotes: linli.openVotes, renderer: renderer).register(routes)
    AuditRoutes(audit: linli.audit, store: linli.store, renderer: renderer).register(routes)
    // The API's own description, made from the route table as it stands when asked.
    let publicBaseURL = linli.config.publicBaseURL
    routes.get("/api/v1/openapi.json", .open) { [routes] _, _ in
        JSON.response(bytes: OpenAPI.bytes(routes.table, baseURL: publicBaseURL), status: .ok)
    }
    // Where to report a vulnerability (RFC 9116), when the operator has said; it expires a year
    // from when it is asked, so a deployment that keeps running keeps it valid.
    if let contact = linli.config.securityContact {
        let env = linli.config.environment
        routes.get("/.well-known/security.txt", .open) { _, _ in
            let expires = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(env.nowSeconds + 365 * 86400)))
            let text = "Contact: \(contact)\nExpires: \(expires)\nPreferred-Languages: zh, en\nCanonical: \(publicBaseURL)/.well-known/security.txt\n"
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
    // Benchmark baseline: a constant string, to compare our pages with in the same load run (never in production).
    if !linli.config.production {
        routes.get("/bench/constant", .open) { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
    }
    if linli.config.benchRoutes {
        // The ceiling a write endpoint is judged against: one INSERT in one transaction, same store path.
        let store = linli.store
        try await store.transaction { db in
            try await db.raw("CREATE TABLE IF NOT EXISTS \(unsafeRaw: store.dialect.scratch("bench_rows")) (id \(unsafeRaw: store.dialect.idColumn), at BIGINT NOT NULL, body TEXT NOT NULL)").run()
        }
        routes.post("/bench/insert", .open) { _, _ in
            try await store.transaction { db in
                try await db.raw("INSERT INTO \(unsafeRaw: store.dialect.scratch("bench_rows")) (at, body) VALUES (\(bind: Int64(Date().timeIntervalSince1970)), 'x')").run()
            }
            return Response(status: .created)
        }
    }

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(linli.config.host, port: linli.config.port), serverName: "linli"),
        logger: logger)
    let store = linli.store
    if linli.config.sweepInterval > 0 {
        let sweeps: [(String, @Sendable () async throws -> Int)] = [
            ("grid-work photos", { [gridWork = linli.gridWork] in try await gridWork.removeOrphanPhotos() }),
            ("grid-work retention", { [gridWork = linli.gridWork] in try await gridWork.applyRetention() }),
            ("sensitive-data retention", { [registry = linli.registry] in try await registry.sweepSensitive() }),
        ]
        app.addServices(EscalationService(requests: linli.requests, interval: .seconds(linli.config.sweepInterval), logger: logger,
                                          orphanSweeps: linli.capabilities.flatMap(\.sweeps) + sweeps))
    }
    if linli.config.sweepInterval > 0 {
        let chain = linli.auditChain, linkage = linli.linkage
        let jobs: [(String, @Sendable () async throws -> Void)] = [
            ("audit seal", { _ = try await chain.sealPending() }),
            ("pledge expiry", { _ = try await linkage.expirePledges() }),
            ("gift matches left to the next", { _ = try await linkage.matchPending() }),
            ("acknowledgement reminders", { [gridWork = linli.gridWork] in _ = try await gridWork.remindUnacknowledged() }),
            ("notices by SMS", { [gridWork = linli.gridWork] in _ = try await gridWork.sendDueSMS() }),
            ("visit plan rows", { [gridWork = linli.gridWork] in _ = try await gridWork.syncPending() }),
        ]
        app.addServices(HousekeepingService(jobs: jobs + linli.capabilities.flatMap(\.jobs),
                                            interval: .seconds(min(10, linli.config.sweepInterval)), logger: logger))
    }
    app.addServices(StoreService(store: store))
    return BuiltApplication(app: app, linli: linli, routes: routes.table)
}

import ServiceLifecycle

/// Closes the store when the application stops.
struct StoreService: Service {
    let store: any Store
    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
    }
}

/// Small jobs every few seconds inside the server (sealing the audit log, expiring pledges).
/// Each is safe to run on several servers at once; a failure waits for the next round.
struct HousekeepingService: Service {
    let jobs: [(String, @Sendable () async throws -> Void)]
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for (name, job) in jobs {
                    do { try await job() } catch {
                        // Usually another server did the same work first; the next round continues.
                        logger.debug("\(name) skipped: \(error)")
                    }
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
