import Foundation
import Crypto
import HummingbirdBcrypt
import SQLKit
import LinliCore
import LinliStore

/// A printed one-time code with which a resident makes their own account.
public struct Invite: Sendable, Codable {
    public var id: Int64
    /// Shown once, to be printed or read out; only its hash is kept.
    public var code: String
    public var displayName: String
    public var householdID: Int64
    public var residentID: Int64
    public var expires: String
    enum CodingKeys: String, CodingKey { case id, code, displayName = "display_name", householdID = "household_id", residentID = "resident_id", expires }
}

extension AccountService {
    static let inviteDays = 30
    static let maxInviteFailuresPerAddress = 10
    /// No 0/O, 1/I/L: a code is read off paper by an elderly resident or over the phone.
    static let inviteAlphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")

    /// "K7QM-3XPA" from random bytes (40 bits; guesses are throttled per address).
    static func inviteCode(_ bytes: [UInt8]) -> String {
        let letters = bytes.prefix(8).map { inviteAlphabet[Int($0) % inviteAlphabet.count] }
        return String(letters.prefix(4)) + "-" + String(letters.dropFirst(4))
    }

    /// Upper case, without spaces or dashes, as the code is hashed.
    static func normaliseInvite(_ raw: String) -> String {
        String(raw.uppercased().filter { $0.isLetter || $0.isNumber }.prefix(16))
    }

    /// Makes a one-time code for one resident of a household. The caller has checked with the
    /// registry that the person lives there and that the actor may edit them; here the actor
    /// must also be able to grant the resident role over the household's place. A new code
    /// ends any unused one for the same person.
    public func createInvite(householdID: Int64, residentID: Int64, displayName: String, actor: Actor) async throws -> Invite {
        try Self.requireGrantable(.resident, by: actor)
        let code = Self.inviteCode(env.randomBytes(8))
        let now = env.nowSeconds, expires = now + Int64(Self.inviteDays) * 86400
        return try await store.transaction { db in
            try await insertInvite(db, code: code, householdID: householdID, residentID: residentID, name: displayName,
                                   path: try await invitePath(db, householdID: householdID, actor: actor), now: now, expires: expires, actor: actor, detail: "")
        }
    }

    /// A household's path, if the actor manages accounts there (404 otherwise): where its
    /// residents' invitations are made and audited.
    func invitePath(_ db: any SQLDatabase, householdID: Int64, actor: Actor) async throws -> String {
        guard let h = try await db.raw("SELECT path FROM households WHERE id = \(bind: householdID)").first() else { throw LinliError.notFound }
        let path = try h.decode(column: "path", as: String.self)
        guard actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
        return path
    }

    /// Most invitations one run makes (a large building's grown-ups; a compound of thousands is
    /// printed building by building).
    static let inviteBatchLimit = 400

    /// One-time codes for every person of a run who has no account yet (a building's residents,
    /// slips handed out door to door), in one transaction with an audit row each. Those who have
    /// an account are left out; a new code ends a person's unused one.
    public func createInvites(_ people: [(householdID: Int64, residentID: Int64, name: String)], actor: Actor) async throws -> [Invite] {
        try Self.requireGrantable(.resident, by: actor)
        let now = env.nowSeconds, expires = now + Int64(Self.inviteDays) * 86400
        let codes = people.map { _ in Self.inviteCode(env.randomBytes(8)) }
        return try await store.transaction { db in
            let ids = people.map(\.residentID)
            var withAccount = Set<Int64>()
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                // A managed account (made when staff acted for the person) is handed over by the
                // invitation: only an account of the person's own counts.
                withAccount.formUnion(try await db.query("""
                    SELECT DISTINCT g.resident_id FROM role_grants g JOIN users u ON u.id = g.user_id
                    WHERE g.role = 'resident' AND u.managed = 0 AND g.resident_id IN (\(list: chunk))
                    """)
                    .all().map { try $0.decode(column: "resident_id", as: Int64.self) })
            }
            let todo = people.enumerated().filter { !withAccount.contains($0.element.residentID) }
            guard todo.count <= Self.inviteBatchLimit else {
                throw LinliError.invalid("place_id", "invites_too_many", "一次最多生成 \(Self.inviteBatchLimit) 份邀请码，请按楼栋分批")
            }
            var out: [Invite] = []
            var paths: [Int64: String] = [:]
            for (i, person) in todo {
                // Once per household: a building's people share a few dozen doors.
                if paths[person.householdID] == nil { paths[person.householdID] = try await invitePath(db, householdID: person.householdID, actor: actor) }
                let path = paths[person.householdID]!
                out.append(try await insertInvite(db, code: codes[i], householdID: person.householdID, residentID: person.residentID, name: person.name,
                                                  path: path, now: now, expires: expires, actor: actor, detail: "batch"))
            }
            return out
        }
    }

    /// One person's new code, ending their unused one, with its audit row (one or a run).
    func insertInvite(_ db: any SQLDatabase, code: String, householdID: Int64, residentID: Int64, name: String, path: String,
                      now: Int64, expires: Int64, actor: Actor, detail: String) async throws -> Invite {
        try await db.raw("DELETE FROM invites WHERE resident_id = \(bind: residentID) AND used_at IS NULL").run()
        let id = try await db.raw("""
            INSERT INTO invites (code_hash, household_id, resident_id, display_name, created_by, created_at, expires_at)
            VALUES (\(bind: Self.hashToken(Self.normaliseInvite(code))), \(bind: householdID), \(bind: residentID), \(bind: String(name.prefix(40))),
                    \(bind: actor.userID), \(bind: now), \(bind: expires)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        try await audit.append(db, actor: actor, action: "invite.create", objectType: "resident", objectID: residentID, path: path, detail: detail)
        return Invite(id: id, code: code, displayName: name, householdID: householdID, residentID: residentID, expires: ChinaTime.iso(day: LocalDay.of(expires)))
    }

    /// A resident makes their account with the printed code: the account is theirs, linked to
    /// their household and to them, and they are signed in. A wrong, used or expired code gets
    /// one answer; an address that keeps guessing waits.
    public func redeemInvite(code rawCode: String, username: String, password: String, address: String?) async throws -> SessionInfo {
        let code = Self.normaliseInvite(rawCode)
        let now = env.nowSeconds
        let throttleKey = "i:" + (address ?? "local")
        var v = Validator()
        v.check(!code.isEmpty, "code", "required", "请填写邀请码")
        let u = Self.newCredentials(username, password, &v)
        try v.throwIfAny()
        let throttled = try await store.read { db in try await isThrottled(db, key: throttleKey, max: Self.maxInviteFailuresPerAddress, now: now) }
        if throttled { throw LinliError(.tooManyRequests, code: "throttled", field: "code", message: "尝试次数过多，请 15 分钟后再试") }
        let cost = bcryptCost
        let hash = try await Self.offload { Bcrypt.hash(password, cost: cost) }
        let codeHash = Self.hashToken(code)
        // The refusal is returned, not thrown, so that the counted failure is kept.
        enum Outcome: Sendable { case made(SessionInfo), badCode }
        let outcome = try await store.transaction { db -> Outcome in
            guard let inv = try await db.raw("""
                SELECT id, household_id, resident_id, display_name FROM invites
                WHERE code_hash = \(bind: codeHash) AND used_at IS NULL AND expires_at > \(bind: now)
                """).first() else {
                try await countFailure(db, key: throttleKey, now: now)
                try await audit.append(db, actor: nil, action: "invite.failed", objectType: "invite", objectID: nil, path: "/", detail: "from " + (address ?? "local"))
                return .badCode
            }
            let residentID = try inv.decode(column: "resident_id", as: Int64.self)
            let uid: Int64
            // Someone staff have acted for already has a managed account with their history: the
            // invitation hands that account over (their name and password from now on).
            if let managed = try await db.raw("""
                SELECT u.id FROM users u JOIN role_grants g ON g.user_id = u.id
                WHERE u.managed = 1 AND g.role = 'resident' AND g.resident_id = \(bind: residentID) ORDER BY u.id LIMIT 1
                """).first()?.decode(column: "id", as: Int64.self) {
                if try await db.raw("SELECT id FROM users WHERE username = \(bind: u)").first() != nil {
                    throw LinliError.conflict("username", "duplicate_username", "用户名已被使用，请换一个")
                }
                try await db.raw("UPDATE users SET username = \(bind: u), password_hash = \(bind: hash), managed = 0 WHERE id = \(bind: managed)").run()
                try await audit.append(db, actor: nil, action: "user.claim", objectType: "user", objectID: managed, path: "/", detail: u + " (invite)")
                uid = managed
            } else {
                uid = try await insertUser(db, u, displayName: try inv.decode(column: "display_name", as: String.self), hash: hash, createdPath: nil,
                                           actor: nil, detail: u + " (invite)")
            }
            try await grant(db, username: u, role: .resident, placeID: nil, gridID: nil, householdID: try inv.decode(column: "household_id", as: Int64.self),
                            residentID: residentID, actor: nil)
            try await db.raw("UPDATE invites SET used_at = \(bind: now), user_id = \(bind: uid) WHERE id = \(bind: try inv.decode(column: "id", as: Int64.self))").run()
            // Signed in with the account just made: no second password check (and no sign-in
            // throttle that could refuse an account already made).
            return .made(try await startSession(db, userID: uid))
        }
        guard case .made(let session) = outcome else { throw LinliError.invalid("code", "invalid_code", "邀请码不正确、已使用或已过期，请向社区工作人员索取新的邀请码") }
        return session
    }
}
