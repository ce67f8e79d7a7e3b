import Crypto
import Foundation
import NIOPosix
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import SQLKit
import LinliCore
import LinliStore

public struct SessionInfo: Sendable {
    public var token: String
    public var csrf: String
    public var actor: Actor
}

/// Accounts, password login with lock-out, server-side sessions and API tokens, and role grants.
public struct AccountService: Sendable {
    let store: any Store
    let env: Env
    let bcryptCost: UInt8
    let audit: AuditLog
    /// Short-lived cache of token → actor, so that the hot pages do not re-read grants each time.
    let cache: ActorCache
    /// The shared authorisation epoch: a cached actor is used only while it matches.
    let epoch: AuthEpoch
    /// A hash of nothing anyone knows, verified when the username is unknown, so that an unknown
    /// name costs exactly one bcrypt verification, as a known one does. Made at the first unknown
    /// name, not at start: every command line opens an account service.
    let decoy: DecoyHash
    /// Under LINLI_ENV=production the demo's accounts cannot sign in.
    var production = false
    /// Seals and indexes an account's phone (the registry's key, so residents' phones compare).
    var cipher: PersonalDataCipher?
    /// Where one-time codes go: the log in development, a provider in production.
    var sms: any SMSSender = NoSMS()

    /// Failed sign-ins tolerated per (account, address) and per address in one window, after
    /// which that address waits; the account itself is never locked for anyone else.
    public static let maxFailuresPerAccountAddress = 5
    public static let maxFailuresPerAddress = 30
    public static let throttleSeconds: Int64 = 15 * 60
    public static let sessionSeconds: Int64 = 12 * 3600
    public static let tokenDays = 90

    init(store: any Store, env: Env, bcryptCost: UInt8) {
        self.store = store
        self.env = env
        self.bcryptCost = bcryptCost
        self.audit = AuditLog(env: env)
        self.cache = ActorCache(limit: 10_000)
        self.epoch = AuthEpoch()
        self.decoy = DecoyHash()
    }

    /// Moves the shared epoch on, in the transaction of the change: every server's cached actors
    /// become stale at once (this one's now, the others' within `AuthEpoch.recheckSeconds`).
    func endCachedAccess(_ db: any SQLDatabase) async throws {
        let row = try await db.raw("UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch").first()
        cache.clear()
        if let e = try row?.decode(column: "epoch", as: Int64.self) { epoch.set(e) }
    }

    /// The epoch as last read (at most `AuthEpoch.recheckSeconds` old).
    func currentEpoch() async throws -> Int64 {
        if let e = epoch.fresh() { return e }
        let e = try await store.read { db in
            try await db.raw("SELECT epoch FROM auth_epoch WHERE id = 1").first()?.decode(column: "epoch", as: Int64.self) ?? 0
        }
        epoch.set(e)
        return e
    }

    static func hashToken(_ token: String) -> String { Hex.encode(SHA256.hash(data: Data(token.utf8))) }

    // MARK: Users and grants

    /// `actor` is nil for the command line (an operator on the server); from the console it must
    /// hold user.manage and is named in the audit log.
    public func createUser(username: String, displayName: String, password: String, actor: Actor? = nil) async throws -> Int64 {
        if let actor { try actor.require(.userManage) }
        var v = Validator()
        let u = Self.newCredentials(username, password, &v)
        try v.throwIfAny()
        let cost = bcryptCost
        let hash = try await Self.offload { Bcrypt.hash(password, cost: cost) }
        return try await store.transaction { db in
            let made = actor?.grants(for: .userManage).map(\.placePath).min { $0.count < $1.count }
            return try await insertUser(db, u, displayName: displayName.isEmpty ? u : displayName, hash: hash, createdPath: made, actor: actor, detail: u)
        }
    }

    /// Writes a new account (its name free, else 409) and its audit entry, in the caller's transaction.
    func insertUser(_ db: any SQLDatabase, _ u: String, displayName: String, hash: String, createdPath: String?, actor: Actor?, detail: String) async throws -> Int64 {
        if try await db.raw("SELECT id FROM users WHERE username = \(bind: u)").first() != nil {
            throw LinliError.conflict("username", "duplicate_username", "用户名已被使用，请换一个")
        }
        let id = try await db.raw("""
            INSERT INTO users (username, display_name, password_hash, created_at, created_path)
            VALUES (\(bind: u), \(bind: displayName), \(bind: hash), \(bind: env.nowSeconds), \(bind: createdPath)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        try await audit.append(db, actor: actor, action: "user.create", objectType: "user", objectID: id, path: "/", detail: detail)
        return id
    }

    /// A new account's username (trimmed) and password, checked by the same rules wherever an
    /// account is made (by staff, on the command line, or by a resident with an invitation).
    static func newCredentials(_ username: String, _ password: String, _ v: inout Validator) -> String {
        let u = username.trimmingCharacters(in: .whitespaces)
        v.check(u.count >= 2 && u.count <= 40 && u.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) },
                "username", "invalid_username", "用户名为 2–40 个字母、数字或 ._-")
        if let problem = PasswordPolicy.problem(password, username: u) { v.add(.invalid("password", "weak_password", problem)) }
        return u
    }

    /// A new password ends every session and API token of the account (whoever knew the old
    /// password may have made them); the change is audited.
    public func setPassword(username: String, password: String, actor: Actor? = nil) async throws {
        if let problem = PasswordPolicy.problem(password, username: username) { throw LinliError.invalid("password", "weak_password", problem) }
        let cost = bcryptCost
        let hash = try await Self.offload { Bcrypt.hash(password, cost: cost) }
        try await store.transaction { db in
            guard let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first() else { throw LinliError.notFound }
            let uid = try u.decode(column: "id", as: Int64.self)
            try await db.raw("UPDATE users SET password_hash = \(bind: hash), failed_logins = 0, locked_until = 0 WHERE id = \(bind: uid)").run()
            try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: uid)").run()
            try await db.raw("DELETE FROM api_tokens WHERE user_id = \(bind: uid)").run()
            try await audit.append(db, actor: actor, action: "user.password", objectType: "user", objectID: uid, path: "/", detail: username)
            try await endCachedAccess(db)
        }
    }

    /// Grants a role over a place. A grid worker's place is a grid's community plus the grid; a
    /// resident's is a household.
    /// From the console (`actor` given) a grant must lie inside the grantor's user.manage area and
    /// may not carry any action the grantor lacks: nobody hands out more than they hold.
    /// `residentID` links a resident's account to one person of the household; the caller has
    /// checked that the person lives there (the registry answers that).
    public func grant(username: String, role: Role, placeID: Int64?, gridID: Int64? = nil, householdID: Int64? = nil, residentID: Int64? = nil,
                      organisationID: Int64? = nil, actor: Actor? = nil) async throws {
        if let actor { try Self.requireGrantable(role, by: actor) }
        try await store.transaction { db in
            try await grant(db, username: username, role: role, placeID: placeID, gridID: gridID, householdID: householdID, residentID: residentID,
                            organisationID: organisationID, actor: actor)
        }
    }

    func grant(_ db: any SQLDatabase, username: String, role: Role, placeID: Int64?, gridID: Int64?, householdID: Int64?, residentID: Int64?,
               organisationID: Int64? = nil, actor: Actor?) async throws {
        guard let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first() else {
            throw LinliError.invalid("username", "not_found", "用户不存在")
        }
        let uid = try u.decode(column: "id", as: Int64.self)
        var place = placeID
        switch role {
        case .gridWorker:
            guard let gridID, let g = try await db.raw("SELECT community_id FROM grids WHERE id = \(bind: gridID)").first() else {
                throw LinliError.invalid("grid", "required", "网格员须指定网格")
            }
            place = try g.decode(column: "community_id", as: Int64.self)
        case .resident:
            guard let householdID, let h = try await db.raw("SELECT place_id FROM households WHERE id = \(bind: householdID)").first() else {
                throw LinliError.invalid("household", "required", "居民须指定户")
            }
            place = try h.decode(column: "place_id", as: Int64.self)
        case .departmentStaff, .socialOrganisation, .partyBranch:
            // The caller names the organisation and the place it sits at (the registry knows both).
            guard organisationID != nil, placeID != nil else { throw LinliError.invalid("organisation_id", "required", "请选择所属的部门或组织") }
        default:
            break
        }
        guard let place, let placeRow = try await db.raw("SELECT path, kind FROM places WHERE id = \(bind: place)").first() else {
            throw LinliError.invalid("place", "not_found", "地点不存在")
        }
        let path = try placeRow.decode(column: "path", as: String.self)
        // An owners' committee serves one compound: granted anywhere wider it would run every
        // compound's matters and hear every compound's committee requests.
        if role == .ownersCommittee, try placeRow.decode(column: "kind", as: String.self) != "compound" {
            throw LinliError.invalid("place", "not_compound", "业委会账号只能授予一个小区")
        }
        if let actor, !actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }) {
            throw LinliError.invalid("place", "outside_scope", "只能在自己管辖的范围内授权")
        }
        // An account speaks for one organisation at a place: another organisation there needs its
        // own account (granting it here would silently take the first one's place).
        if Self.organisationRoles.contains(role), let held = try await db.raw("""
            SELECT organisation_id FROM role_grants WHERE user_id = \(bind: uid) AND role = \(bind: role.rawValue) AND place_id = \(bind: place)
            """).first()?.decode(column: "organisation_id", as: Int64?.self), held != organisationID {
            throw LinliError.invalid("organisation_id", "one_per_place", "这个账号已代表这里的另一个组织；请为这个组织另建账号")
        }
        try await db.raw("DELETE FROM role_grants WHERE user_id = \(bind: uid) AND role = \(bind: role.rawValue) AND place_id = \(bind: place)").run()
        try await db.raw("""
            INSERT INTO role_grants (user_id, role, place_id, grid_id, household_id, resident_id, organisation_id)
            VALUES (\(bind: uid), \(bind: role.rawValue), \(bind: place), \(bind: role == .gridWorker ? gridID : nil), \(bind: role == .resident ? householdID : nil),
                    \(bind: role == .resident ? residentID : nil), \(bind: Self.organisationRoles.contains(role) ? organisationID : nil))
            """).run()
        try await audit.append(db, actor: actor, action: "user.grant", objectType: "user", objectID: uid, path: path, detail: "\(role.rawValue)@\(place)")
        try await endCachedAccess(db)
    }

    /// Roles held for an organisation (a grant names it), and the kinds of organisation each is
    /// held for: its staff act as that organisation.
    static let organisationKinds: [Role: [OrganisationKind]] = [
        .departmentStaff: [.department], .socialOrganisation: [.socialOrganisation], .partyBranch: [.partyCommittee, .partyBranch, .partyGroup],
    ]
    public static let organisationRoles: Set<Role> = Set(organisationKinds.keys)

    /// The accounts holding `role` at any of `placeIDs` (whom a step concerns, to tell them).
    package static func holders(_ db: any SQLDatabase, role: Role, placeIDs: [Int64]) async throws -> [Int64] {
        guard !placeIDs.isEmpty else { return [] }
        return try await db.query("SELECT DISTINCT user_id FROM role_grants WHERE role = \(role.rawValue) AND place_id IN (\(list: placeIDs))").all()
            .map { try $0.decode(column: "user_id", as: Int64.self) }
    }

    /// The accounts of a department's staff.
    package static func holders(_ db: any SQLDatabase, organisationID: Int64) async throws -> [Int64] {
        try await db.query("SELECT DISTINCT user_id FROM role_grants WHERE role = \(Role.departmentStaff.rawValue) AND organisation_id = \(organisationID)").all()
            .map { try $0.decode(column: "user_id", as: Int64.self) }
    }

    /// The roles whose every action the manager holds through a user.manage grant.
    public static func grantableRoles(by actor: Actor) -> [Role] {
        let mine = Set(actor.grants(for: .userManage).flatMap { PermissionTable.actions[$0.role] ?? [] })
        return Role.allCases.filter { (PermissionTable.actions[$0] ?? []).subtracting(PermissionTable.forOneself).isSubset(of: mine) }
    }

    static func requireGrantable(_ role: Role, by actor: Actor) throws {
        try actor.require(.userManage)
        guard grantableRoles(by: actor).contains(role) else {
            throw LinliError.invalid("role", "beyond_own_rights", "不能授予比自己更大的权限")
        }
    }

    /// Takes a grant back, only inside the actor's area; `userID` (the account page it was asked
    /// from) must be its holder.
    public func revoke(grantID: Int64, of userID: Int64? = nil, actor: Actor) async throws {
        try actor.require(.userManage)
        try await store.transaction { db in
            guard let g = try await db.raw("""
                SELECT g.user_id, g.role, p.path FROM role_grants g JOIN places p ON p.id = g.place_id WHERE g.id = \(bind: grantID)
                """).first(), try userID == nil || g.decode(column: "user_id", as: Int64.self) == userID else { throw LinliError.notFound }
            let path = try g.decode(column: "path", as: String.self)
            guard actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
            if let role = Role(rawValue: try g.decode(column: "role", as: String.self)) { try Self.requireGrantable(role, by: actor) }
            try await db.raw("DELETE FROM role_grants WHERE id = \(bind: grantID)").run()
            try await audit.append(db, actor: actor, action: "user.revoke", objectType: "user", objectID: try g.decode(column: "user_id", as: Int64.self),
                                   path: path, detail: try g.decode(column: "role", as: String.self))
            try await endCachedAccess(db)
        }
    }

    public struct UserRow: Sendable, Codable {
        public struct Grant: Sendable, Codable {
            public var id: Int64; public var role: String; public var placeID: Int64; public var placeName: String
            public var gridID: Int64?; public var householdID: Int64?
            /// A department's staff: the department they work for.
            public var organisationID: Int64? = nil
            enum CodingKeys: String, CodingKey {
                case id, role, placeID = "place_id", placeName = "place_name", gridID = "grid_id", householdID = "household_id", organisationID = "organisation_id"
            }
        }
        public var id: Int64
        public var username: String
        public var displayName: String
        public var locked: Bool
        public var grants: [Grant]
        enum CodingKeys: String, CodingKey { case id, username, displayName = "display_name", locked, grants }
    }

    /// Accounts the actor manages: those with a grant inside their area, and those with none yet.
    public func users(actor: Actor, query: String? = nil, userID: Int64? = nil, limit: Int = 100) async throws -> [UserRow] {
        let paths = actor.grants(for: .userManage).map(\.placePath)
        guard !paths.isEmpty else { throw LinliError.forbidden }
        let now = env.nowSeconds
        return try await store.read { db in
            // Accounts without a role yet: those made inside the manager's area (made on the command
            // line, only a city-level manager sees them); with roles: those holding one inside it.
            let cityLevel = paths.contains { PlacePath.ids($0).count == 1 }
            var q = SQLQueryString("SELECT u.id, u.username, u.display_name, u.locked_until FROM users u WHERE ((NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = u.id) AND (")
            q.appendLiteral(cityLevel ? "u.created_path IS NULL" : "1=0")
            for path in paths {
                q.appendLiteral(" OR u.created_path LIKE "); q.appendInterpolation(bind: path + "%")
            }
            q.appendLiteral(")) OR EXISTS (SELECT 1 FROM role_grants g JOIN places p ON p.id = g.place_id WHERE g.user_id = u.id AND (")
            for (i, path) in paths.enumerated() {
                if i > 0 { q.appendLiteral(" OR ") }
                q.appendLiteral("p.path LIKE "); q.appendInterpolation(bind: path + "%")
            }
            q.appendLiteral(")))")
            if let userID { q.appendLiteral(" AND u.id = "); q.appendInterpolation(bind: userID) }
            if let query, !query.isEmpty {
                q.appendLiteral(" AND (u.username LIKE "); q.appendInterpolation(bind: "%" + query + "%")
                q.appendLiteral(" OR u.display_name LIKE "); q.appendInterpolation(bind: "%" + query + "%"); q.appendLiteral(")")
            }
            q.appendInterpolation(unsafeRaw: " ORDER BY u.id LIMIT \(max(1, min(limit, 500)))")
            let users = try await db.raw(q).all()
            let ids = try users.map { try $0.decode(column: "id", as: Int64.self) }
            var grants: [Int64: [UserRow.Grant]] = [:]
            if !ids.isEmpty {
                for g in try await db.raw("""
                    SELECT g.id, g.user_id, g.role, g.place_id, p.name, g.grid_id, g.household_id, g.organisation_id
                    FROM role_grants g JOIN places p ON p.id = g.place_id
                    WHERE g.user_id IN (\(unsafeRaw: ids.map(String.init).joined(separator: ","))) ORDER BY g.id
                    """).all() {
                    grants[try g.decode(column: "user_id", as: Int64.self), default: []].append(
                        UserRow.Grant(id: try g.decode(column: "id", as: Int64.self), role: try g.decode(column: "role", as: String.self),
                                      placeID: try g.decode(column: "place_id", as: Int64.self), placeName: try g.decode(column: "name", as: String.self),
                                      gridID: try g.decode(column: "grid_id", as: Int64?.self), householdID: try g.decode(column: "household_id", as: Int64?.self),
                                      organisationID: try g.decode(column: "organisation_id", as: Int64?.self)))
                }
            }
            let rows = try users.map { r in
                let id = try r.decode(column: "id", as: Int64.self)
                return UserRow(id: id, username: try r.decode(column: "username", as: String.self), displayName: try r.decode(column: "display_name", as: String.self),
                               locked: try r.decode(column: "locked_until", as: Int64.self) > now, grants: grants[id] ?? [])
            }
            return rows
        }
    }

    public func revoke(username: String, role: Role, placeID: Int64?) async throws -> Int {
        let n = try await store.transaction { db in
            guard let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first() else {
                throw LinliError.invalid("username", "not_found", "用户不存在")
            }
            let uid = try u.decode(column: "id", as: Int64.self)
            var q = SQLQueryString("SELECT id FROM role_grants WHERE user_id = \(bind: uid) AND role = \(bind: role.rawValue)")
            if let placeID { q.appendInterpolation(unsafeRaw: " AND place_id = "); q.appendInterpolation(bind: placeID) }
            let ids = try await db.raw(q).all().map { try $0.decode(column: "id", as: Int64.self) }
            if !ids.isEmpty { try await db.delete(from: "role_grants").where("id", .in, ids).run() }
            try await audit.append(db, actor: nil, action: "user.revoke", objectType: "user", objectID: uid, path: "/", detail: role.rawValue)
            try await endCachedAccess(db)
            return ids.count
        }
        return n
    }

    package func loadActor(_ db: any SQLDatabase, userID: Int64) async throws -> Actor? {
        // Demo accounts do not exist in production: a session or token made for one before the
        // switch (or by hand) signs in no one, as password sign-in already refuses them.
        guard let u = try await db.raw("SELECT username, display_name FROM users WHERE id = \(bind: userID)\(unsafeRaw: production ? " AND demo = 0" : "")").first() else { return nil }
        let grants = try await db.raw("""
            SELECT g.role, g.place_id, p.path, g.grid_id, g.household_id, g.resident_id, g.organisation_id FROM role_grants g JOIN places p ON p.id = g.place_id
            WHERE g.user_id = \(bind: userID) ORDER BY g.id
            """).all().compactMap { r -> RoleGrant? in
            guard let role = Role(rawValue: try r.decode(column: "role", as: String.self)) else { return nil }
            return RoleGrant(role: role, placeID: try r.decode(column: "place_id", as: Int64.self), placePath: try r.decode(column: "path", as: String.self),
                             gridID: try r.decode(column: "grid_id", as: Int64?.self), householdID: try r.decode(column: "household_id", as: Int64?.self),
                             residentID: try r.decode(column: "resident_id", as: Int64?.self), organisationID: try r.decode(column: "organisation_id", as: Int64?.self))
        }
        return Actor(userID: userID, username: try u.decode(column: "username", as: String.self),
                     displayName: try u.decode(column: "display_name", as: String.self), grants: grants)
    }

    // MARK: Login, sessions, tokens

    /// bcrypt takes tens of milliseconds on purpose: it runs on NIO's blocking-work pool, not on
    /// the threads that serve every connection.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { work() }
    }

    /// Checks the password. Failures are counted per address and per (account, address): an
    /// address that keeps failing waits (429), but nobody can lock an account for anyone else.
    /// Unknown and known usernames get the same answers, the same throttle and the same time
    /// (one bcrypt verification each).
    public func login(username: String, password: String, address: String? = nil) async throws -> SessionInfo {
        let now = env.nowSeconds
        let from = address ?? "local"
        let pairKey = "u:" + username.lowercased() + "|" + from, addressKey = "a:" + from
        let (row, throttled) = try await store.read { db -> ((any SQLRow)?, Bool) in
            let pairOver = try await isThrottled(db, key: pairKey, max: Self.maxFailuresPerAccountAddress, now: now)
            let addressOver = try await isThrottled(db, key: addressKey, max: Self.maxFailuresPerAddress, now: now)
            let over = pairOver || addressOver
            // Demo accounts do not exist in production: same answer as an unknown name.
            // A mobile number signs in the account registered with it.
            let phone = PhoneNumber.normalise(username)
            if PhoneNumber.isValid(phone), let key = phoneIndex(phone),
               let byPhone = try await db.raw("SELECT id, password_hash FROM users WHERE phone_index = \(bind: key)\(unsafeRaw: production ? " AND demo = 0" : "")").first() {
                return (byPhone, over)
            }
            return (try await db.raw("SELECT id, password_hash FROM users WHERE username = \(bind: username)\(unsafeRaw: production ? " AND demo = 0" : "")").first(), over)
        }
        let wrong = LinliError(.unauthorized, code: "bad_credentials", field: "password", message: "用户名或密码不正确")
        if throttled {
            throw LinliError(.tooManyRequests, code: "throttled", field: "password", message: "尝试次数过多，请 15 分钟后再试")
        }
        let uid = try row?.decode(column: "id", as: Int64.self)
        let cost = bcryptCost, secret = env.token(bytes: 20), decoy = self.decoy
        let known = try row?.decode(column: "password_hash", as: String.self)
        let stored = try await Self.offload { known ?? decoy.hash(secret, cost: cost) }
        let ok = try await Self.offload { Bcrypt.verify(password, hash: stored) }
        guard ok, let uid else {
            try await store.transaction { db in
                for key in [pairKey, addressKey] { try await countFailure(db, key: key, now: now) }
                try await db.raw("DELETE FROM login_throttle WHERE window_start < \(bind: now - 2 * Self.throttleSeconds)").run()
                // The auditor sees every failed sign-in, known name or not, with the address.
                try await audit.append(db, actor: nil, action: "login.failed", objectType: "user", objectID: uid, path: "/",
                                       detail: String(username.prefix(60)) + " from " + from)
            }
            throw wrong
        }
        return try await store.transaction { db in
            try await db.raw("DELETE FROM login_throttle WHERE throttle_key = \(bind: pairKey)").run()
            return try await startSession(db, userID: uid)
        }
    }

    /// A session for an account that has proved itself (a password, a texted code, an
    /// invitation), in the caller's transaction; expired sessions are cleared on the way.
    func startSession(_ db: any SQLDatabase, userID uid: Int64) async throws -> SessionInfo {
        let token = env.token(bytes: 32), csrf = env.token(bytes: 20), now = env.nowSeconds
        try await db.raw("""
            INSERT INTO sessions (token_hash, user_id, csrf, expires_at) VALUES (\(bind: Self.hashToken(token)), \(bind: uid), \(bind: csrf), \(bind: now + Self.sessionSeconds))
            """).run()
        try await db.raw("DELETE FROM sessions WHERE expires_at < \(bind: now)").run()
        return SessionInfo(token: token, csrf: csrf, actor: try await loadActor(db, userID: uid)!)
    }

    /// Whether a throttle key has reached `max` failures in the current window.
    func isThrottled(_ db: any SQLDatabase, key: String, max: Int, now: Int64) async throws -> Bool {
        guard let r = try await db.raw("SELECT failures, window_start FROM login_throttle WHERE throttle_key = \(bind: key)").first() else { return false }
        return try r.decode(column: "window_start", as: Int64.self) > now - Self.throttleSeconds && r.decode(column: "failures", as: Int.self) >= max
    }

    /// Counts one failure (a wrong password, a wrong invitation code) against a throttle key. One
    /// statement on both databases: a new window starts when the old one has passed.
    func countFailure(_ db: any SQLDatabase, key: String, now: Int64) async throws {
        try await db.raw("""
            INSERT INTO login_throttle (throttle_key, failures, window_start) VALUES (\(bind: key), 1, \(bind: now))
            ON CONFLICT (throttle_key) DO UPDATE SET
                failures = CASE WHEN login_throttle.window_start > \(bind: now - Self.throttleSeconds) THEN login_throttle.failures + 1 ELSE 1 END,
                window_start = CASE WHEN login_throttle.window_start > \(bind: now - Self.throttleSeconds) THEN login_throttle.window_start ELSE \(bind: now) END
            """).run()
    }

    /// Marks accounts as the demo's (see accounts.003).
    func markDemo(_ usernames: [String]) async throws {
        guard !usernames.isEmpty else { return }
        try await store.transaction { db in
            try await db.raw("UPDATE users SET demo = 1 WHERE username IN (\(binds: usernames))").run()
        }
    }

    /// The token a sign-in form carries (20 random bytes, 32 characters).
    func newLoginToken() -> String { env.token(bytes: 20) }

    public func logout(token: String) async throws {
        let h = Self.hashToken(token)
        try await store.transaction { db in
            try await db.raw("DELETE FROM sessions WHERE token_hash = \(bind: h)").run()
            try await endCachedAccess(db)
        }
    }

    /// The actor and CSRF token of a live session.
    public func session(token: String) async throws -> (Actor, String)? {
        let now = env.nowSeconds
        let key = ActorCacheKey(kind: .session, token: token)
        let current = try await currentEpoch()
        if let hit = cache.get(key, valid: { $0.validUntil > now && $0.epoch == current }) { return (hit.actor, hit.csrf ?? "") }
        let h = Self.hashToken(token)
        let found: (Actor, String, Int64)? = try await store.read { db in
            guard let s = try await db.raw("SELECT user_id, csrf, expires_at, acting_id FROM sessions WHERE token_hash = \(bind: h)").first() else { return nil }
            let exp = try s.decode(column: "expires_at", as: Int64.self), uid = try s.decode(column: "user_id", as: Int64.self)
            guard exp > now else { return nil }
            // Acting for a resident: the resident, while the acting session runs; after it the
            // member of staff is themselves again.
            if let acting = try s.decode(column: "acting_id", as: Int64?.self),
               let resident = try await actingActor(db, actingID: acting, staffUserID: uid, now: now) {
                return (resident, try s.decode(column: "csrf", as: String.self), min(exp, resident.acting!.expiresAt))
            }
            guard let a = try await loadActor(db, userID: uid) else { return nil }
            return (a, try s.decode(column: "csrf", as: String.self), exp)
        }
        guard let found else { return nil }
        cache.put(key, ActorCacheEntry(actor: found.0, csrf: found.1, validUntil: min(now + 30, found.2), epoch: current))
        return (found.0, found.1)
    }

    /// An app that signed up gets an API token instead of the browser session the sign-up made:
    /// the session row goes (nobody ever held it, so no server's cache needs ending).
    func apiTokenReplacing(_ s: SessionInfo, name: String) async throws -> String {
        let h = Self.hashToken(s.token)
        try await store.transaction { db in try await db.raw("DELETE FROM sessions WHERE token_hash = \(bind: h)").run() }
        return try await createAPIToken(username: s.actor.username, name: name)
    }

    /// A bearer token for the API, valid for `days` (90 by default). Only its hash is kept.
    public func createAPIToken(username: String, name: String, days: Int = AccountService.tokenDays) async throws -> String {
        guard (1...3650).contains(days) else { throw LinliError.invalid("days", "out_of_range", "有效期应为 1–3650 天") }
        let token = "lnl_" + env.token(bytes: 32)
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)\(unsafeRaw: production ? " AND demo = 0" : "")").first() else {
                throw LinliError.invalid("username", "not_found", "用户不存在")
            }
            let uid = try u.decode(column: "id", as: Int64.self)
            try await db.raw("""
                INSERT INTO api_tokens (token_hash, user_id, name, created_at, expires_at)
                VALUES (\(bind: Self.hashToken(token)), \(bind: uid), \(bind: name), \(bind: now), \(bind: now + Int64(days) * 86400))
                """).run()
            try await audit.append(db, actor: nil, action: "token.create", objectType: "user", objectID: uid, path: "/", detail: "\(name), \(days) days")
        }
        return token
    }

    /// Revokes one token (the API's "sign me out of this token"); unknown tokens are no error.
    public func revokeToken(_ token: String) async throws {
        let h = Self.hashToken(token)
        try await store.transaction { db in
            guard let t = try await db.raw("SELECT user_id FROM api_tokens WHERE token_hash = \(bind: h)").first() else { return }
            try await db.raw("DELETE FROM api_tokens WHERE token_hash = \(bind: h)").run()
            try await audit.append(db, actor: nil, action: "token.revoke", objectType: "user", objectID: try t.decode(column: "user_id", as: Int64.self), path: "/")
            try await endCachedAccess(db)
        }
    }

    /// Revokes every token of an account (the command line); returns how many there were.
    public func revokeTokens(username: String) async throws -> Int {
        try await store.transaction { db in
            guard let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first() else {
                throw LinliError.invalid("username", "not_found", "用户不存在")
            }
            let uid = try u.decode(column: "id", as: Int64.self)
            let n = try await db.raw("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = \(bind: uid)").first()!.decode(column: "n", as: Int.self)
            try await db.raw("DELETE FROM api_tokens WHERE user_id = \(bind: uid)").run()
            try await audit.append(db, actor: nil, action: "token.revoke_all", objectType: "user", objectID: uid, path: "/", detail: "\(n)")
            try await endCachedAccess(db)
            return n
        }
    }

    public func bearer(token: String) async throws -> Actor? {
        let now = env.nowSeconds
        let key = ActorCacheKey(kind: .bearer, token: token)
        let current = try await currentEpoch()
        if let hit = cache.get(key, valid: { $0.validUntil > now && $0.epoch == current }) { return hit.actor }
        let h = Self.hashToken(token)
        let found: (Actor, Int64)? = try await store.read { db in
            guard let t = try await db.raw("SELECT user_id, expires_at, acting_id FROM api_tokens WHERE token_hash = \(bind: h)").first() else { return nil }
            let expires = try t.decode(column: "expires_at", as: Int64?.self) ?? 0, uid = try t.decode(column: "user_id", as: Int64.self)
            // A token made for an acting session is only ever the resident, and dies with the session.
            if let acting = try t.decode(column: "acting_id", as: Int64?.self) {
                guard let resident = try await actingActor(db, actingID: acting, staffUserID: uid, now: now) else { return nil }
                return (resident, min(expires, resident.acting!.expiresAt))
            }
            guard expires > now, let a = try await loadActor(db, userID: uid) else { return nil }
            return (a, expires)
        }
        guard let found else { return nil }
        cache.put(key, ActorCacheEntry(actor: found.0, csrf: nil, validUntil: min(now + 30, found.1), epoch: current))
        return found.0
    }
}

/// The actors of tokens, kept 30 seconds; any grant change clears them all. Keyed by the token as
/// sent (it lives only in this process's memory, as the request did), so that a hit costs no
/// SHA-256; a session's token never finds a bearer token's entry or the reverse.
typealias ActorCache = BoundedCache<ActorCacheKey, ActorCacheEntry>

struct ActorCacheKey: Hashable, Sendable {
    enum Kind: Hashable, Sendable { case session, bearer }
    var kind: Kind
    var token: String
}

struct ActorCacheEntry: Sendable { var actor: Actor; var csrf: String?; var validUntil: Int64; var epoch: Int64 }

/// The decoy bcrypt hash, made once on first use (bcrypt at cost 12 is a quarter of a second).
final class DecoyHash: Sendable {
    private let box = NIOLockedValueBox<String?>(nil)
    func hash(_ secret: String, cost: UInt8) -> String {
        box.withLockedValue { h in
            if let h { return h }
            let made = Bcrypt.hash(secret, cost: cost)
            h = made
            return made
        }
    }
}

/// The last authorisation epoch this process read, and when (monotonic time: a freshness bound
/// for a cache, not a domain time, so it does not follow the injected clock).
final class AuthEpoch: Sendable {
    /// How long another server's revocation may take to reach this one.
    static let recheckSeconds = 1.0
    private let box = NIOLockedValueBox<(value: Int64, at: Double)?>(nil)
    func fresh() -> Int64? {
        box.withLockedValue { v in
            guard let v, ProcessInfo.processInfo.systemUptime - v.at < Self.recheckSeconds else { return nil }
            return v.value
        }
    }
    func set(_ value: Int64) { box.withLockedValue { $0 = (value, ProcessInfo.processInfo.systemUptime) } }
}
