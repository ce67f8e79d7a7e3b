import Foundation
import LinliCore
import LinliStore
import SQLKit

/// A relative's link to a person they look after in another household (亲属绑定), as the
/// relative and the community office see it.
public struct RelativeLink: Sendable, Codable {
    public var id: Int64
    public var userID: Int64
    /// The relative's name as their account gives it (for the office's list).
    public var relativeName: String
    public var residentID: Int64
    /// "王**": the person looked after.
    public var maskedName: String
    public var address: String
    public var relation: String
    /// pending, approved, refused or ended.
    public var status: String
    public var reason: String?
    public var created: String

    enum CodingKeys: String, CodingKey {
        case id, userID = "user_id", relativeName = "relative_name", residentID = "resident_id", maskedName = "masked_name", address, relation, status, reason, created
    }
}

/// The rules of relatives' links, apart from storage.
public enum RelativeRules {
    public static let relations = ["child", "spouse", "grandchild", "sibling", "other"]

    public static func relation(_ raw: String?) throws -> String {
        guard let r = raw, relations.contains(r) else { throw LinliError.invalid("relation", "invalid", "请选择您与这位家人的关系") }
        return r
    }
}

extension AccountService {
    /// A signed-in person asks to look after a relative in another household: the household
    /// card's code and the relative's ID last four name the person (`lookup`, the registry).
    /// The community office confirms (usually by a call to the person); until then nothing may
    /// be done for them. A wrong code or wrong digits count against the account, as a binding's
    /// do, and say the same either way.
    public func askRelative(relation rawRelation: String?, actor: Actor, lookup: @Sendable () async throws -> RelativeCandidate?) async throws -> Int64 {
        guard actor.acting == nil else { throw LinliError.conflict("acting", "acting", "代办时不能绑定亲属") }
        let relation = try RelativeRules.relation(rawRelation)
        let now = env.nowSeconds, key = Self.guessKey(actor)
        let candidate = try await lookup()
        enum Step: Sendable { case refused(LinliError), done(Int64) }
        let step: Step = try await store.transaction { db in
            if let refused = try await guessesSpent(db, key: key, now: now) { return .refused(refused) }
            guard let c = candidate else {
                try await countFailure(db, key: key, now: now)
                return .refused(LinliError.invalid("household_code", "no_match", "户码或证件号后四位不正确，请核对家人户卡和证件"))
            }
            if actor.grants.contains(where: { $0.role == .resident && $0.residentID == c.residentID }) {
                return .refused(LinliError.invalid("household_code", "self", "这是您本人，不需要绑定"))
            }
            if try await db.raw("""
                SELECT id FROM relative_links WHERE user_id = \(bind: actor.userID) AND resident_id = \(bind: c.residentID) AND status IN ('pending', 'approved')
                """).first() != nil {
                return .refused(LinliError.conflict("household_code", "already", "您已绑定或申请绑定这位家人"))
            }
            let id = try await db.raw("""
                INSERT INTO relative_links (user_id, resident_id, household_id, path, masked_name, relation, status, created_at)
                VALUES (\(bind: actor.userID), \(bind: c.residentID), \(bind: c.householdID), \(bind: c.path), \(bind: c.maskedName), \(bind: relation), 'pending', \(bind: now))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "relative.ask", objectType: "resident", objectID: c.residentID, path: c.path, detail: relation)
            return .done(id)
        }
        switch step {
        case .refused(let e): throw e
        case .done(let id): return id
        }
    }

    /// The actor's own links (as the relative), and for the community office the links in its area.
    public func relativeLinks(actor: Actor, pendingOnly: Bool = false) async throws -> [RelativeLink] {
        var terms: [BoundSQL] = actor.grants(for: .userManage).map { store.dialect.startsWith("l.path", $0.placePath) }
        terms.append("l.user_id = \(actor.userID)")
        let condition = BoundSQL.joined(terms, separator: " OR ")
        return try await store.read { db in
            try await db.query("""
                SELECT l.id, l.user_id, u.display_name, l.resident_id, l.masked_name, h.address, l.relation, l.status, l.reason, l.created_at
                FROM relative_links l JOIN users u ON u.id = l.user_id JOIN households h ON h.id = l.household_id
                WHERE (\(condition)) \(unsafeRaw: pendingOnly ? "AND l.status = 'pending'" : "AND l.status IN ('pending', 'approved', 'refused')")
                ORDER BY l.id DESC LIMIT 500
                """).all().map { r in
                RelativeLink(id: try r.decode(column: "id", as: Int64.self), userID: try r.decode(column: "user_id", as: Int64.self),
                             relativeName: try r.decode(column: "display_name", as: String.self), residentID: try r.decode(column: "resident_id", as: Int64.self),
                             maskedName: try r.decode(column: "masked_name", as: String.self), address: try r.decode(column: "address", as: String.self),
                             relation: try r.decode(column: "relation", as: String.self), status: try r.decode(column: "status", as: String.self),
                             reason: try r.decode(column: "reason", as: String?.self), created: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)))
            }
        }
    }

    /// The community office confirms a link (having called the person) or refuses it with a
    /// reason the relative reads. Outside the office's area the link does not exist.
    public func decideRelative(_ id: Int64, approve: Bool, reason rawReason: String?, actor: Actor) async throws {
        let reason = (rawReason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !approve { guard reason.count >= 2 else { throw LinliError.invalid("reason", "required", "请填写不予绑定的原因（申请人可以看到）") } }
        guard reason.count <= 200 else { throw LinliError.invalid("reason", "too_long", "原因不能超过 200 字") }
        try await store.transaction { db in
            guard let r = try await db.raw("SELECT user_id, path, status, resident_id FROM relative_links WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            // Nobody confirms their own link: it would outlive their staff grant.
            guard actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }),
                  try r.decode(column: "user_id", as: Int64.self) != actor.userID else { throw LinliError.notFound }
            let changed = try await db.raw("""
                UPDATE relative_links SET status = \(bind: approve ? "approved" : "refused"), decided_by = \(bind: actor.userID), decided_at = \(bind: env.nowSeconds),
                       reason = \(bind: reason.isEmpty ? nil : reason)
                WHERE id = \(bind: id) AND status = 'pending' RETURNING id
                """).first()
            guard changed != nil else { throw LinliError.conflict("status", "already_decided", "该申请已处理") }
            try await audit.append(db, actor: actor, action: approve ? "relative.approve" : "relative.refuse", objectType: "resident",
                                   objectID: try r.decode(column: "resident_id", as: Int64.self), path: path, reason: reason)
        }
    }

    /// Ends a link: the relative themself, or the community office (a family falls out, the
    /// elder asks). Acting already running ends with it.
    public func endRelative(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            guard let r = try await db.raw("SELECT user_id, path, status, resident_id FROM relative_links WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self), owner = try r.decode(column: "user_id", as: Int64.self)
            let mine = owner == actor.userID && actor.acting == nil
            guard mine || actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
            let now = env.nowSeconds
            guard try await db.raw("""
                UPDATE relative_links SET status = 'ended', ended_at = \(bind: now) WHERE id = \(bind: id) AND status IN ('pending', 'approved') RETURNING id
                """).first() != nil else { throw LinliError.conflict("status", "already_ended", "该绑定已解除") }
            let resident = try r.decode(column: "resident_id", as: Int64.self)
            try await db.raw("""
                UPDATE acting_sessions SET ended_at = \(bind: now)
                WHERE staff_user_id = \(bind: owner) AND resident_id = \(bind: resident) AND method = 'relative' AND ended_at IS NULL
                """).run()
            try await audit.append(db, actor: actor, action: "relative.end", objectType: "resident", objectID: resident, path: path)
            try await endCachedAccess(db)
        }
    }

    /// The person moved house: their relatives' links (any state) now name the new household
    /// and path, so the new community's office handles them and the address shown is current.
    static func residentMoved(_ db: any SQLDatabase, resident: Int64, household: Int64, path: String) async throws {
        try await db.query("UPDATE relative_links SET household_id = \(household), path = \(path) WHERE resident_id = \(resident)").run()
    }

    /// The person a confirmed link lets this account act for (nil: no such link, or not yet
    /// confirmed; the caller answers 404).
    public func relativeResident(_ linkID: Int64, actor: Actor) async throws -> Int64? {
        try await store.read { db in
            try await db.raw("""
                SELECT resident_id FROM relative_links WHERE id = \(bind: linkID) AND user_id = \(bind: actor.userID) AND status = 'approved'
                """).first()?.decode(column: "resident_id", as: Int64.self)
        }
    }
}
