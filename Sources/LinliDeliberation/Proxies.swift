import LinliServer
import Foundation
import SQLKit
import LinliCore
import LinliStore

/// An owner appoints someone to vote for them (业主委托投票). The office records the signed
/// paper (its image is required) and names the proxy, a resident of the same community with an
/// account; the proxy then votes online for the owner's parts, until the date written on the
/// paper or until the office records its revocation. An owner's own vote is never overwritten
/// by their proxy's.
public enum ProxyRules {
    /// The longest an appointment runs: the usual term of an owners' committee.
    public static let maxMonths = 60

    /// The last day of an appointment, typed `YYYY-MM-DD`: from today up to five years on.
    public static func validUntil(_ raw: String?, today: Int64) throws -> Int64 {
        guard let day = try Input.day(raw, field: "valid_until") else {
            throw LinliError.invalid("valid_until", "required", "请填写委托书写明的截止日期")
        }
        guard day >= today else { throw LinliError.invalid("valid_until", "in_past", "截止日期不能早于今天") }
        guard day <= ChinaTime.addingMonths(maxMonths, to: today) else {
            throw LinliError.invalid("valid_until", "too_far", "委托期限最长五年")
        }
        return day
    }
}

public struct ProxyInput: Codable, Sendable {
    public var proxyResidentID: Int64?
    public var validUntil: String?
    public init(proxyResidentID: Int64? = nil, validUntil: String? = nil) { self.proxyResidentID = proxyResidentID; self.validUntil = validUntil }
    enum CodingKeys: String, CodingKey { case proxyResidentID = "proxy_resident_id", validUntil = "valid_until" }
}

public struct ProxyView: Codable, Sendable, Equatable {
    public var id: Int64
    public var ownerID: Int64
    public var ownerName: String
    public var proxyResidentID: Int64
    public var proxyName: String
    /// `YYYY-MM-DD`, the last day the proxy may vote.
    public var validUntil: String
    public var recordedBy: String
    public var recordedOn: String
    /// Within its dates and not revoked.
    public var active: Bool
    public var revokedOn: String?
    public var revokeReason: String?
    enum CodingKeys: String, CodingKey {
        case id, ownerID = "owner_id", ownerName = "owner_name", proxyResidentID = "proxy_resident_id", proxyName = "proxy_name"
        case validUntil = "valid_until", recordedBy = "recorded_by", recordedOn = "recorded_on", active, revokedOn = "revoked_on", revokeReason = "revoke_reason"
    }
}

extension DeliberationService {
    /// The owner, once the actor may record votes in their community (else they do not exist).
    private func proxyOwner(_ db: any SQLDatabase, _ ownerID: Int64, actor: Actor, _ action: Action) async throws -> OwnerFacts {
        guard let o = try await RegistryService.ownerFacts(db, ownerID),
              actor.grants(for: action).contains(where: { o.communityPath.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
        return o
    }

    static let proxyColumns = """
        SELECT id, owner_id, owner_name, proxy_resident_id, proxy_name, valid_until, created_by_name, created_at, revoked_at, revoke_reason
        FROM vote_proxies
        """

    func proxyView(_ r: any SQLRow, today: Int64) throws -> ProxyView {
        let until = try r.decode(column: "valid_until", as: Int64.self)
        let revoked = try r.decode(column: "revoked_at", as: Int64?.self)
        return ProxyView(id: try r.decode(column: "id", as: Int64.self), ownerID: try r.decode(column: "owner_id", as: Int64.self),
                         ownerName: try r.decode(column: "owner_name", as: String.self),
                         proxyResidentID: try r.decode(column: "proxy_resident_id", as: Int64.self), proxyName: try r.decode(column: "proxy_name", as: String.self),
                         validUntil: ChinaTime.iso(day: until), recordedBy: try r.decode(column: "created_by_name", as: String.self),
                         recordedOn: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "created_at", as: Int64.self))),
                         active: revoked == nil && until >= today, revokedOn: revoked.map { ChinaTime.iso(day: LocalDay.of($0)) },
                         revokeReason: try r.decode(column: "revoke_reason", as: String?.self))
    }

    /// An owner's appointments, newest first, with the owner's name.
    public func proxies(owner ownerID: Int64, actor: Actor) async throws -> (owner: OwnerFacts, proxies: [ProxyView]) {
        let today = LocalDay.of(env.nowSeconds)
        return try await store.read { db in
            let o = try await proxyOwner(db, ownerID, actor: actor, .voteRecord)
            let rows = try await db.query("\(unsafeRaw: Self.proxyColumns) WHERE owner_id = \(ownerID) ORDER BY id DESC").all()
            return (o, try rows.map { try proxyView($0, today: today) })
        }
    }

    /// Records an appointment from the signed paper: the proxy (a resident of the owner's
    /// community, not the owner), the last day, and the paper's image. An owner has one proxy at
    /// a time: a new appointment ends the one before, in the same step. The proxy's accounts are
    /// told.
    public func appointProxy(owner ownerID: Int64, _ input: ProxyInput, document: [UInt8]?, actor: Actor) async throws -> ProxyView {
        let now = env.nowSeconds, today = LocalDay.of(now)
        var v = Validator()
        v.check(input.proxyResidentID != nil, "proxy_resident_id", "required", "请选择受托人（本社区居民）")
        var until: Int64 = 0
        do { until = try ProxyRules.validUntil(input.validUntil, today: today) } catch let e as LinliError { v.add(e) }
        v.check(document?.isEmpty == false, "document", "required", "请上传业主签名的授权委托书照片")
        try v.throwIfAny()
        let lastDay = until
        let prepared: PreparedPhoto
        do { prepared = try PhotoStore.prepare(document!) } catch let e as LinliError { throw LinliError.invalid("document", e.code, e.message) }
        do { return try await store.transaction { db in
            let o = try await proxyOwner(db, ownerID, actor: actor, .voteRecord)
            guard let proxy = try await RegistryService.residentFacts(db, input.proxyResidentID!),
                  PlacePath.communityID(proxy.path) == PlacePath.communityID(o.communityPath) else {
                throw LinliError.invalid("proxy_resident_id", "not_in_community", "受托人须是本社区登记的居民")
            }
            guard proxy.ownerID != ownerID else { throw LinliError.invalid("proxy_resident_id", "is_owner", "受托人就是业主本人，不需要委托") }
            let ended = try await db.query("""
                UPDATE vote_proxies SET revoked_at = \(now), revoked_by_name = \(actor.signature), revoke_reason = '新的委托取代'
                WHERE owner_id = \(ownerID) AND revoked_at IS NULL RETURNING id
                """).all().count
            let name = try documents.write(prepared, env: env)
            let id = try await db.query("""
                INSERT INTO vote_proxies (owner_id, owner_name, community_path, proxy_resident_id, proxy_name, stored_name, valid_until,
                                          created_by, created_by_name, created_at)
                VALUES (\(ownerID), \(o.name), \(o.communityPath), \(input.proxyResidentID!), \(proxy.name), \(name), \(lastDay),
                        \(actor.acting?.userID ?? actor.userID), \(actor.signature), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "proxy.appoint", objectType: "owner", objectID: ownerID, path: o.communityPath,
                                   detail: "proxy \(id) resident \(input.proxyResidentID!) until \(ChinaTime.iso(day: lastDay))" + (ended > 0 ? " replaces \(ended)" : ""))
            let users = try await db.query("""
                SELECT DISTINCT g.user_id FROM role_grants g WHERE g.role = 'resident' AND g.resident_id = \(input.proxyResidentID!)
                """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
            try await notifier.tell(db, users, except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: "proxy_appointed", requestID: nil, subject: o.name + "（至 " + ChinaTime.iso(day: lastDay) + "）", matterID: nil)
            }
            return try proxyView(try await db.query("\(unsafeRaw: Self.proxyColumns) WHERE id = \(id)").first()!, today: today)
        } } catch where isUniqueViolation(error) {
            // Another appointment for this owner was recorded at the same moment.
            throw LinliError.conflict("proxy_resident_id", "recorded_meanwhile", "刚刚有人为这位业主登记了另一份委托，请刷新后核对")
        }
    }

    /// The office records that the owner took the appointment back (or it was entered wrongly).
    /// Ballots already cast by the proxy stand, as a paper proxy's would.
    public func revokeProxy(_ id: Int64, reason raw: String?, actor: Actor) async throws -> ProxyView {
        let reason = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let r = try await db.query("SELECT owner_id, revoked_at FROM vote_proxies WHERE id = \(id)").first() else { throw LinliError.notFound }
            let o = try await proxyOwner(db, try r.decode(column: "owner_id", as: Int64.self), actor: actor, .voteRecord)
            guard reason.count >= 2, reason.count <= 200 else { throw LinliError.invalid("reason", "required", "请写明撤销的原因（2–200 字）") }
            guard try r.decode(column: "revoked_at", as: Int64?.self) == nil else { throw LinliError.conflict("proxy", "already_revoked", "这份委托已经结束") }
            try await db.query("""
                UPDATE vote_proxies SET revoked_at = \(now), revoked_by_name = \(actor.signature), revoke_reason = \(reason) WHERE id = \(id)
                """).run()
            try await audit.append(db, actor: actor, action: "proxy.revoke", objectType: "owner", objectID: o.id, path: o.communityPath, reason: reason, detail: "proxy \(id)")
            return try proxyView(try await db.query("\(unsafeRaw: Self.proxyColumns) WHERE id = \(id)").first()!, today: LocalDay.of(now))
        }
    }

    /// The owner an appointment is for, once the actor may see it.
    public func proxyOwnerID(_ id: Int64, actor: Actor) async throws -> Int64 {
        try await store.read { db in
            guard let r = try await db.query("SELECT owner_id FROM vote_proxies WHERE id = \(id)").first() else { throw LinliError.notFound }
            return try await proxyOwner(db, try r.decode(column: "owner_id", as: Int64.self), actor: actor, .voteRecord).id
        }
    }

    /// The signed paper's image, for those who record votes in the owner's community.
    public func proxyDocument(_ id: Int64, actor: Actor) async throws -> [UInt8] {
        let name: String = try await store.read { db in
            guard let r = try await db.query("SELECT owner_id, stored_name FROM vote_proxies WHERE id = \(id)").first() else { throw LinliError.notFound }
            _ = try await proxyOwner(db, try r.decode(column: "owner_id", as: Int64.self), actor: actor, .voteRecord)
            return try r.decode(column: "stored_name", as: String.self)
        }
        return try documents.read(name)
    }

    /// The parts of a poll the actor votes for as someone's proxy today, each with its
    /// appointment and the owner's name (a part the actor owns too is theirs, not listed here).
    func proxiedParts(_ db: any SQLDatabase, _ pollID: Int64, _ actor: Actor) async throws -> [Int64: (proxy: Int64, owner: String)] {
        let residents = actor.grants(for: .voteCast).compactMap(\.residentID)
        guard !residents.isEmpty else { return [:] }
        let today = LocalDay.of(env.nowSeconds)
        let appointments = try await db.query("""
            SELECT id, owner_id, owner_name FROM vote_proxies
            WHERE proxy_resident_id IN (\(list: residents)) AND revoked_at IS NULL AND valid_until >= \(today) ORDER BY id
            """).all()
        guard !appointments.isEmpty else { return [:] }
        var byOwner: [Int64: (Int64, String)] = [:]
        for a in appointments {
            byOwner[try a.decode(column: "owner_id", as: Int64.self)] = (try a.decode(column: "id", as: Int64.self), try a.decode(column: "owner_name", as: String.self))
        }
        let held = try await RegistryService.partsHeld(db, owners: Array(byOwner.keys))
        guard !held.isEmpty else { return [:] }
        let inPoll = Set(try await db.query("""
            SELECT part_id FROM poll_parts WHERE poll_id = \(pollID) AND part_id IN (\(list: held.map(\.part)))
            """).all().map { try $0.decode(column: "part_id", as: Int64.self) })
        var out: [Int64: (proxy: Int64, owner: String)] = [:]
        for h in held where inPoll.contains(h.part) && out[h.part] == nil { out[h.part] = byOwner[h.owner] }
        return out
    }
}
