import Foundation
import HummingbirdBcrypt
import LinliCore
import LinliStore
import SQLKit

/// One acting session (代办) as staff and the resident see it.
public struct ActingSessionView: Sendable, Codable {
    public var id: Int64
    public var residentID: Int64
    public var residentName: String
    public var staffName: String
    public var method: String
    public var reason: String
    public var startedAt: Int64
    public var expiresAt: Int64
    public var endedAt: Int64?
    public var steps: [ActingStep]
    /// Only in the answer that opened a session through the API: a bearer token that acts for
    /// the resident until the session ends (it is never shown again).
    public var token: String?

    enum CodingKeys: String, CodingKey {
        case id, residentID = "resident_id", residentName = "resident_name", staffName = "staff_name", method, reason
        case startedAt = "started_at", expiresAt = "expires_at", endedAt = "ended_at", steps, token
    }
}

/// The rules of acting for a resident, apart from storage: how long a session lasts and what a
/// reason must be (worked examples in ModelTests).
public enum ActingRules {
    /// One short sitting with the resident, as the issue and Decidim's impersonation both have it.
    public static let seconds: Int64 = 30 * 60

    /// The reason, trimmed, or the field error.
    public static func reason(_ raw: String?) throws -> String {
        let r = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.count >= 2 else { throw LinliError.invalid("reason", "required", "请写明代办的原因（例如：老人来电，请代为反映）") }
        guard r.count <= 200 else { throw LinliError.invalid("reason", "too_long", "原因不能超过 200 字") }
        return r
    }

    /// Whether a session is still running at `now`.
    public static func live(expiresAt: Int64, endedAt: Int64?, now: Int64) -> Bool { endedAt == nil && now < expiresAt }
}

extension AccountService {
    /// The mobile number on an account, opened (for a call the account's owner agreed to).
    static func phone(_ db: any SQLDatabase, userID: Int64, cipher: PersonalDataCipher) async throws -> String? {
        try await db.raw("SELECT phone_cipher FROM users WHERE id = \(bind: userID)").first()?
            .decode(column: "phone_cipher", as: String?.self).map { try cipher.open($0) }
    }

    /// Starts acting for a resident whose person the registry has just confirmed (`target`).
    /// The resident's own account is used; one who has none gets a managed account (no password
    /// anyone knows, no phone) that their invitation later hands over. A browser session
    /// (`sessionToken`) switches to the resident; without one (the API) a bearer token for the
    /// session is returned. Written with its audit entry in one transaction.
    public func startActing(_ target: ActingTarget, reason rawReason: String?, actor: Actor, sessionToken: String?) async throws -> ActingSessionView {
        guard actor.acting == nil else { throw LinliError.conflict("acting", "already_acting", "您正在代办，请先结束当前代办") }
        let reason = try ActingRules.reason(rawReason)
        let now = env.nowSeconds, expires = now + ActingRules.seconds
        @Sendable func account(_ db: any SQLDatabase) async throws -> Int64? {
            try await db.raw("""
                SELECT g.user_id FROM role_grants g JOIN users u ON u.id = g.user_id
                WHERE g.role = 'resident' AND g.resident_id = \(bind: target.residentID) ORDER BY u.managed, g.user_id LIMIT 1
                """).first()?.decode(column: "user_id", as: Int64.self)
        }
        // A managed account's password is a secret nobody is ever given: it cannot sign in. The
        // hash (tens of milliseconds on purpose) is made only for someone with no account yet,
        // and before the write, so the writer never waits for it.
        var lockedHash: String?
        if try await store.read({ db in try await account(db) }) == nil {
            let cost = bcryptCost, secret = env.token(bytes: 24)
            lockedHash = try await Self.offload { Bcrypt.hash(secret, cost: cost) }
        }
        let apiToken = sessionToken == nil ? "lnl_" + env.token(bytes: 32) : nil
        let hash = lockedHash
        let id = try await store.transaction { db -> Int64 in
            let residentUser: Int64
            if let existing = try await account(db) {
                residentUser = existing
            } else {
                // Only if the account found a moment ago was removed since: nothing written, try again.
                guard let hash else { throw LinliError.conflict("resident_id", "retry", "请再试一次") }
                let username = "managed-\(target.residentID)"
                residentUser = try await insertUser(db, username, displayName: target.name, hash: hash, createdPath: target.path,
                                                    actor: actor, detail: username + " (代办)")
                try await db.raw("UPDATE users SET managed = 1 WHERE id = \(bind: residentUser)").run()
                try await grant(db, username: username, role: .resident, placeID: nil, gridID: nil, householdID: target.householdID,
                                residentID: target.residentID, actor: nil)
            }
            guard residentUser != actor.userID else { throw LinliError.invalid("resident_id", "self", "不能代自己办理") }
            let id = try await db.raw("""
                INSERT INTO acting_sessions (staff_user_id, resident_user_id, resident_id, household_id, path, method, reason, started_at, expires_at)
                VALUES (\(bind: actor.userID), \(bind: residentUser), \(bind: target.residentID), \(bind: target.householdID), \(bind: target.path),
                        \(bind: target.method), \(bind: reason), \(bind: now), \(bind: expires)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            if let sessionToken {
                try await db.raw("""
                    UPDATE sessions SET acting_id = \(bind: id) WHERE token_hash = \(bind: Self.hashToken(sessionToken)) AND user_id = \(bind: actor.userID)
                    """).run()
            } else if let apiToken {
                try await db.raw("""
                    INSERT INTO api_tokens (token_hash, user_id, name, created_at, expires_at, acting_id)
                    VALUES (\(bind: Self.hashToken(apiToken)), \(bind: actor.userID), '代办', \(bind: now), \(bind: expires), \(bind: id))
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "acting.start", objectType: "resident", objectID: target.residentID, path: target.path,
                                   reason: reason, detail: target.method)
            // The session's cached actor was the member of staff: every node must look again.
            try await endCachedAccess(db)
            return id
        }
        var view = ActingSessionView(id: id, residentID: target.residentID, residentName: target.name, staffName: actor.displayName,
                                     method: target.method, reason: reason, startedAt: now, expiresAt: expires, endedAt: nil, steps: [])
        view.token = apiToken
        return view
    }

    /// Ends the session the actor is acting in (the member of staff is themselves again at once).
    /// Returns the resident's registry id (the page the member of staff goes back to).
    @discardableResult
    public func endActing(actor: Actor) async throws -> Int64 {
        guard let acting = actor.acting else { throw LinliError.conflict("acting", "not_acting", "当前没有进行中的代办") }
        let now = env.nowSeconds
        return try await store.transaction { db in
            try await db.raw("UPDATE acting_sessions SET ended_at = \(bind: now) WHERE id = \(bind: acting.sessionID) AND ended_at IS NULL").run()
            try await db.raw("UPDATE sessions SET acting_id = NULL WHERE acting_id = \(bind: acting.sessionID)").run()
            try await db.raw("DELETE FROM api_tokens WHERE acting_id = \(bind: acting.sessionID)").run()
            let row = try await db.raw("SELECT path, resident_id FROM acting_sessions WHERE id = \(bind: acting.sessionID)").first()
            let path = try row?.decode(column: "path", as: String.self) ?? "/"
            var staff = actor
            staff.acting = nil
            staff.userID = acting.userID; staff.username = acting.username; staff.displayName = acting.displayName
            try await audit.append(db, actor: staff, action: "acting.end", objectType: "acting", objectID: acting.sessionID, path: path)
            try await endCachedAccess(db)
            return try row?.decode(column: "resident_id", as: Int64.self) ?? 0
        }
    }

    /// The resident as a credential acting for them sees them, if the session is still running;
    /// nil when it has ended or lapsed (the caller then falls back, or refuses).
    func actingActor(_ db: any SQLDatabase, actingID: Int64, staffUserID: Int64, now: Int64) async throws -> Actor? {
        guard let s = try await db.raw("""
            SELECT a.resident_user_id, a.expires_at, a.ended_at, a.method, u.username, u.display_name
            FROM acting_sessions a JOIN users u ON u.id = a.staff_user_id
            WHERE a.id = \(bind: actingID) AND a.staff_user_id = \(bind: staffUserID)
              AND (a.method <> 'relative' OR EXISTS (
                  SELECT 1 FROM relative_links l WHERE l.user_id = a.staff_user_id AND l.resident_id = a.resident_id AND l.status = 'approved'))
            """).first() else { return nil }
        let expires = try s.decode(column: "expires_at", as: Int64.self)
        guard ActingRules.live(expiresAt: expires, endedAt: try s.decode(column: "ended_at", as: Int64?.self), now: now),
              var resident = try await loadActor(db, userID: try s.decode(column: "resident_user_id", as: Int64.self)) else { return nil }
        // Staff act for the person, not for whatever else their account holds: a resident who is
        // also a grid worker or a member of staff lends only their resident grants.
        resident.grants.removeAll { $0.role != .resident }
        resident.acting = ActingBy(sessionID: actingID, userID: staffUserID, username: try s.decode(column: "username", as: String.self),
                                   displayName: try s.decode(column: "display_name", as: String.self), expiresAt: expires,
                                   byRelative: try s.decode(column: "method", as: String.self) == "relative")
        // A relative reports and confirms for the person; they do not open the household's
        // personal data or vote as the owner (that takes the owner, or staff with a signed proxy).
        if resident.acting?.byRelative == true { resident.withheld = [.residentUnmask, .voteCast, .voteRecord] }
        return resident
    }

    /// Acting sessions with their steps, newest first: for a resident, those done for them (their
    /// history says who acted, why and what was done); for staff, those they ran.
    public func actingSessions(actor: Actor, limit: Int = 50) async throws -> [ActingSessionView] {
        // Someone acting only for themselves (a resident, or staff acting as one) reads what was
        // done for them, and what they did for a relative they look after; staff read what they did.
        let me = String(actor.userID)
        let condition = actor.actsOnlyForThemselves ? "(a.resident_user_id = \(me) OR a.staff_user_id = \(me))" : "a.staff_user_id = \(me)"
        return try await store.read { db in
            let rows = try await db.raw("""
                SELECT a.id, a.resident_id, a.method, a.reason, a.started_at, a.expires_at, a.ended_at,
                       r.display_name AS resident_name, s.display_name AS staff_name
                FROM acting_sessions a JOIN users r ON r.id = a.resident_user_id JOIN users s ON s.id = a.staff_user_id
                WHERE \(unsafeRaw: condition)
                ORDER BY a.id DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 200))))
                """).all()
            let ids = try rows.map { try $0.decode(column: "id", as: Int64.self) }
            let steps = try await audit.actingSteps(db, sessions: ids)
            return try rows.map { r in
                let id = try r.decode(column: "id", as: Int64.self)
                return ActingSessionView(id: id, residentID: try r.decode(column: "resident_id", as: Int64.self),
                                         residentName: try r.decode(column: "resident_name", as: String.self),
                                         staffName: try r.decode(column: "staff_name", as: String.self),
                                         method: try r.decode(column: "method", as: String.self), reason: try r.decode(column: "reason", as: String.self),
                                         startedAt: try r.decode(column: "started_at", as: Int64.self),
                                         expiresAt: try r.decode(column: "expires_at", as: Int64.self),
                                         endedAt: try r.decode(column: "ended_at", as: Int64?.self), steps: steps[id] ?? [])
            }
        }
    }
}

extension AccountService {
    /// The accounts linked to these households as their residents (an announcement's inbox
    /// messages): household → users.
    package static func residentUsers(_ db: any SQLDatabase, households: [Int64]) async throws -> [(household: Int64, user: Int64)] {
        var out: [(Int64, Int64)] = []
        for start in stride(from: 0, to: households.count, by: 500) {
            let chunk = Array(households[start..<min(start + 500, households.count)])
            out += try await db.query("SELECT DISTINCT household_id, user_id FROM role_grants WHERE role = 'resident' AND household_id IN (\(list: chunk))")
                .all().map { (try $0.decode(column: "household_id", as: Int64.self), try $0.decode(column: "user_id", as: Int64.self)) }
        }
        return out
    }

    /// The grid workers (and micro-grid leaders with a grid worker's account) of these grids:
    /// whom a task from the community concerns.
    static func gridWorkers(_ db: any SQLDatabase, grids: [Int64]) async throws -> [Int64] {
        guard !grids.isEmpty else { return [] }
        return try await db.query("SELECT DISTINCT user_id FROM role_grants WHERE role = 'grid_worker' AND grid_id IN (\(list: grids))").all()
            .map { try $0.decode(column: "user_id", as: Int64.self) }
    }
}
