import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct HelpPostInput: Codable, Sendable {
    /// "ask" (I need a hand) or "offer" (I can help).
    public var kind: String?
    public var title: String?
    public var detail: String?
    /// How long it should take, in minutes (the hours the time bank will move).
    public var minutes: Int?
    public init() {}
}

public struct HelpDoneInput: Codable, Sendable {
    /// The time it really took, in minutes (defaults to the estimate).
    public var minutes: Int?
    /// Staff: the community's pool pays instead of the person helped (an elder without hours).
    public var fromPool: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey { case minutes, fromPool = "from_pool" }
}

public struct HelpPostView: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var title: String
    public var detail: String
    public var minutes: Int
    public var status: String
    public var by: String
    public var helper: String?
    public var place: String
    public var mine: Bool
    /// The caller took it up.
    public var takenByMe: Bool
    public var sameBuilding: Bool
    enum CodingKeys: String, CodingKey {
        case id, kind, title, detail, minutes, status, by, helper, place, mine, takenByMe = "taken_by_me", sameBuilding = "same_building"
    }
}

public struct TimeEntryView: Codable, Sendable, Equatable {
    public var at: String
    public var minutes: Int
    public var memo: String
}

public struct TimeBankView: Codable, Sendable {
    /// The caller's balance in minutes (may be below zero down to the floor).
    public var balance: Int
    public var floor: Int
    public var ceiling: Int
    /// The community pool's balance (hours given to neighbours in need).
    public var pool: Int
    public var entries: [TimeEntryView]
    public var posts: [HelpPostView]
}

enum TimeBankLimits {
    /// Minutes a person may owe, and hold.
    static let floor = -600, ceiling = 60_000
    static let postMinutesMax = 8 * 60
}

/// Neighbours helping neighbours (邻里互助) and the time bank that counts it: asks and offers in a
/// building or unit, answered by a neighbour; when done, the minutes move from the one helped to
/// the helper as a balanced double entry (every transfer sums to zero, so all balances together
/// are always zero); gifts of time to the community's pool, which staff may let pay for an elder.
extension AffairsService {
    func timeAccount(_ db: any SQLDatabase, owner: String, community: Int64, name: String) async throws -> Int64 {
        if let r = try await db.query("SELECT id FROM time_accounts WHERE owner = \(owner)").first() { return try r.decode(column: "id", as: Int64.self) }
        try await db.query("""
            INSERT INTO time_accounts (owner, community_id, name, balance) VALUES (\(owner), \(community), \(name), 0) ON CONFLICT (owner) DO NOTHING
            """).run()
        return try await db.query("SELECT id FROM time_accounts WHERE owner = \(owner)").first()!.decode(column: "id", as: Int64.self)
    }

    /// Moves minutes between two accounts in one balanced transfer; refused (nothing written)
    /// when the payer would fall below the floor or the payee rise above the ceiling.
    func transfer(_ db: any SQLDatabase, from: Int64, to: Int64, minutes: Int, kind: String, post: Int64?, memo: String, actor: Actor) async throws {
        guard minutes > 0 else { throw LinliError.invalid("minutes", "invalid", "时长应大于零") }
        let payer = try await db.query("SELECT balance, owner FROM time_accounts WHERE id = \(from)").first()!
        let floor = try payer.decode(column: "owner", as: String.self).hasPrefix("c:") ? 0 : TimeBankLimits.floor
        guard try await db.query("UPDATE time_accounts SET balance = balance - \(minutes) WHERE id = \(from) AND balance - \(minutes) >= \(floor) RETURNING balance").first() != nil else {
            throw LinliError.conflict("minutes", "floor", floor == 0 ? "社区时间池余额不足" : "时间余额不足（最多可欠 \(-TimeBankLimits.floor / 60) 小时）")
        }
        guard try await db.query("UPDATE time_accounts SET balance = balance + \(minutes) WHERE id = \(to) AND balance + \(minutes) <= \(TimeBankLimits.ceiling) RETURNING balance").first() != nil else {
            throw LinliError.conflict("minutes", "ceiling", "对方的时间余额已到上限")
        }
        let tx = try await db.query("""
            INSERT INTO time_transfers (at, kind, post_id, memo, user_id) VALUES (\(env.nowSeconds), \(kind), \(post), \(memo), \(actor.userID)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        try await db.query("INSERT INTO time_entries (transfer_id, account_id, minutes) VALUES (\(tx), \(from), \(-minutes)), (\(tx), \(to), \(minutes))").run()
    }

    /// The actor's own household (help is between residents).
    func ownHousehold(_ db: any SQLDatabase, _ actor: Actor) async throws -> HouseholdFacts {
        guard let id = actor.grants.first(where: { $0.role == .resident })?.householdID,
              let h = try await registry.householdFacts(db, ids: [id], careOnly: false).first else {
            throw LinliError.invalid("household", "required", "邻里互助需先绑定您家的住户")
        }
        return h
    }

    public func postHelp(_ i: HelpPostInput, actor: Actor) async throws -> Int64 {
        var v = Validator()
        let title = Self.trimmed(i.title), detail = Self.trimmed(i.detail)
        v.check(i.kind == "ask" || i.kind == "offer", "kind", "invalid", "请选择“我需要帮忙”或“我能帮忙”")
        v.check(!title.isEmpty && title.count <= 60, "title", "required", "请写一句话说明（不超过 60 字）")
        v.check(detail.count <= 500, "detail", "too_long", "说明不超过 500 字")
        v.check((15...TimeBankLimits.postMinutesMax).contains(i.minutes ?? 60), "minutes", "invalid", "时长应为 15 分钟到 8 小时")
        try v.throwIfAny()
        let now = env.nowSeconds
        return try await store.transaction { db in
            let h = try await ownHousehold(db, actor)
            let row = try await db.query("""
                INSERT INTO help_posts (community_id, path, household_id, user_id, by_name, kind, title, detail, minutes, status, created_at)
                VALUES (\(h.communityID), \(h.path), \(h.id), \(actor.userID), \(actor.signature), \(i.kind!), \(title), \(detail), \(i.minutes ?? 60), 'open', \(now))
                RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "help.post", objectType: "help_post", objectID: id, path: h.path, detail: title)
            return id
        }
    }

    struct HelpRow { var id: Int64, communityID: Int64, path: String, kind: String, userID: Int64, helperID: Int64?, minutes: Int, status: String, title: String }

    func fetchHelp(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> HelpRow {
        guard let r = try await db.query("SELECT * FROM help_posts WHERE id = \(id)").first() else { throw LinliError.notFound }
        let path = try r.decode(column: "path", as: String.self)
        let community = try r.decode(column: "community_id", as: Int64.self)
        // Neighbours of the same community, and its staff.
        let seen = actor.grants.contains { g in
            (PermissionTable.allows(g.role, .affairApply) && PlacePath.ids(g.placePath).contains(community))
                || (PermissionTable.allows(g.role, .affairHandle) && path.hasPrefix(g.placePath))
        }
        guard seen else { throw LinliError.notFound }
        return HelpRow(id: id, communityID: community, path: path, kind: try r.decode(column: "kind", as: String.self), userID: try r.decode(column: "user_id", as: Int64.self),
                       helperID: try r.decode(column: "helper_user_id", as: Int64?.self), minutes: try r.decode(column: "minutes", as: Int.self),
                       status: try r.decode(column: "status", as: String.self), title: try r.decode(column: "title", as: String.self))
    }

    /// A neighbour takes up an ask (they will help) or an offer (they will be helped).
    public func answerHelp(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let p = try await fetchHelp(db, id, actor)
            _ = try await ownHousehold(db, actor)
            guard p.userID != actor.userID else { throw LinliError.conflict(nil, "own", "这是您自己发的") }
            guard try await db.query("""
                UPDATE help_posts SET status = 'matched', helper_user_id = \(actor.userID), helper_name = \(actor.signature) WHERE id = \(id) AND status = 'open' RETURNING id
                """).first() != nil else { throw LinliError.conflict(nil, "taken", "已有邻居接下了") }
            try await audit.append(db, actor: actor, action: "help.answer", objectType: "help_post", objectID: id, path: p.path)
            try await notifier.tell(db, [p.userID], except: actor.userID, at: env.nowSeconds) {
                OutgoingNotification(userID: $0, kind: "help_answered", requestID: nil, subject: p.title, link: "/help#post-\(id)")
            }
        }
    }

    /// The one helped says it is done; the minutes move to the helper (or the community's pool
    /// pays, when staff say so).
    public func finishHelp(_ id: Int64, _ i: HelpDoneInput, actor: Actor) async throws {
        try await store.transaction { db in
            let p = try await fetchHelp(db, id, actor)
            guard p.status == "matched", let other = p.helperID else { throw LinliError.conflict(nil, "wrong_state", "还没有邻居接下，或已经完成") }
            // Who was helped: the asker of an ask; the one who took up an offer.
            let helped = p.kind == "ask" ? p.userID : other, helper = p.kind == "ask" ? other : p.userID
            let staff = actor.may(.affairHandle, on: ObjectScope(path: p.path))
            // Only staff may let the community's pool pay; whatever else the body says.
            let fromPool = staff && i.fromPool == true
            guard actor.userID == helped || fromPool else {
                throw actor.userID == helper ? LinliError.forbidden : LinliError.notFound
            }
            let minutes = i.minutes ?? p.minutes
            guard (1...TimeBankLimits.postMinutesMax).contains(minutes) else { throw LinliError.invalid("minutes", "invalid", "时长应为 1 分钟到 8 小时") }
            let names = try await db.query("SELECT id, display_name FROM users WHERE id IN (\(list: [helped, helper]))").all()
                .reduce(into: [Int64: String]()) { $0[try $1.decode(column: "id", as: Int64.self)] = try $1.decode(column: "display_name", as: String.self) }
            // Done once: a second confirmation sent at the same moment finds it no longer matched.
            guard try await db.query("UPDATE help_posts SET status = 'done', done_at = \(env.nowSeconds) WHERE id = \(id) AND status = 'matched' RETURNING id").first() != nil else {
                throw LinliError.conflict(nil, "wrong_state", "已经完成")
            }
            let payer = fromPool
                ? try await timeAccount(db, owner: "c:\(p.communityID)", community: p.communityID, name: "社区时间池")
                : try await timeAccount(db, owner: "u:\(helped)", community: p.communityID, name: names[helped] ?? "")
            let payee = try await timeAccount(db, owner: "u:\(helper)", community: p.communityID, name: names[helper] ?? "")
            try await transfer(db, from: payer, to: payee, minutes: minutes, kind: "help", post: id, memo: p.title, actor: actor)
            try await audit.append(db, actor: actor, action: "help.done", objectType: "help_post", objectID: id, path: p.path,
                                   detail: "\(minutes)" + (fromPool ? " pool" : ""))
            // The helper hears that the time arrived.
            try await notifier.tell(db, [helper], except: actor.userID, at: env.nowSeconds) {
                OutgoingNotification(userID: $0, kind: "help_credited", requestID: nil, subject: p.title, link: "/help#history")
            }
        }
    }

    /// Gives some of one's own minutes to the community's pool, for neighbours in need.
    public func giveTime(minutes: Int?, actor: Actor) async throws {
        guard let m = minutes, (15...6000).contains(m) else { throw LinliError.invalid("minutes", "invalid", "请填写捐出的时长（15 分钟到 100 小时）") }
        try await store.transaction { db in
            let h = try await ownHousehold(db, actor)
            let me = try await timeAccount(db, owner: "u:\(actor.userID)", community: h.communityID, name: actor.displayName)
            let pool = try await timeAccount(db, owner: "c:\(h.communityID)", community: h.communityID, name: "社区时间池")
            try await transfer(db, from: me, to: pool, minutes: m, kind: "gift", post: nil, memo: "捐给社区时间池", actor: actor)
            try await audit.append(db, actor: actor, action: "help.gift", objectType: "time_account", objectID: pool, path: h.path, detail: "\(m)")
        }
    }

    public func timeBank(actor: Actor) async throws -> TimeBankView {
        try await store.read { db in
            let own = try? await ownHousehold(db, actor)
            // Residents and grid workers see their community's posts; staff those of their places.
            let communities = Set(actor.grants(for: .affairApply).compactMap { PlacePath.ids($0.placePath).count > 3 ? PlacePath.ids($0.placePath)[3] : nil })
            let staffPaths = actor.grants(for: .affairHandle).map(\.placePath)
            guard !communities.isEmpty || !staffPaths.isEmpty else { throw LinliError.forbidden }
            var conditions: [BoundSQL] = communities.map { "p.community_id = \($0)" }
            conditions += staffPaths.map { "p.path LIKE \($0 + "%")" }
            let any = conditions.dropFirst().reduce(conditions[0]) { "\($0) OR \($1)" }
            let staffHere = !staffPaths.isEmpty
            func shown(_ name: String, own: Bool) -> String { staffHere || own ? name : name.maskedName }
            let building = own.map { PlacePath.ids($0.path).prefix(6).map(String.init).joined(separator: "/") } ?? ""
            let posts = try await db.query("""
                SELECT p.id, p.kind, p.title, p.detail, p.minutes, p.status, p.by_name, p.helper_name, p.helper_user_id, p.user_id, p.path, h.address
                FROM help_posts p JOIN households h ON h.id = p.household_id
                WHERE (\(any)) AND p.status IN ('open', 'matched') ORDER BY p.id DESC LIMIT 100
                """).all().map { r in
                let path = try r.decode(column: "path", as: String.self)
                return HelpPostView(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                    title: try r.decode(column: "title", as: String.self), detail: try r.decode(column: "detail", as: String.self),
                                    minutes: try r.decode(column: "minutes", as: Int.self), status: try r.decode(column: "status", as: String.self),
                                    // Neighbours see a masked name and the compound; staff and the two people involved, the name.
                                    by: shown(try r.decode(column: "by_name", as: String.self), own: try r.decode(column: "user_id", as: Int64.self) == actor.userID),
                                    helper: try r.decode(column: "helper_name", as: String?.self).map {
                                        shown($0, own: try r.decode(column: "helper_user_id", as: Int64?.self) == actor.userID || r.decode(column: "user_id", as: Int64.self) == actor.userID)
                                    },
                                    place: String(try r.decode(column: "address", as: String.self).split(separator: " ").first ?? ""),
                                    mine: try r.decode(column: "user_id", as: Int64.self) == actor.userID,
                                    takenByMe: try r.decode(column: "helper_user_id", as: Int64?.self) == actor.userID,
                                    sameBuilding: !building.isEmpty && PlacePath.ids(path).prefix(6).map(String.init).joined(separator: "/") == building)
            }
            let me = try await db.query("SELECT id, balance FROM time_accounts WHERE owner = \("u:\(actor.userID)")").first()
            let entries = me == nil ? [] : try await db.query("""
                SELECT t.at, e.minutes, t.memo FROM time_entries e JOIN time_transfers t ON t.id = e.transfer_id WHERE e.account_id = \(try me!.decode(column: "id", as: Int64.self))
                ORDER BY e.id DESC LIMIT 50
                """).all().map { TimeEntryView(at: LocalTime.text(try $0.decode(column: "at", as: Int64.self)), minutes: try $0.decode(column: "minutes", as: Int.self),
                                               memo: try $0.decode(column: "memo", as: String.self)) }
            var pool: Int?
            if let h = own { pool = try await db.query("SELECT balance FROM time_accounts WHERE owner = \("c:\(h.communityID)")").first()?.decode(column: "balance", as: Int.self) }
            return TimeBankView(balance: try me?.decode(column: "balance", as: Int.self) ?? 0, floor: TimeBankLimits.floor, ceiling: TimeBankLimits.ceiling,
                                pool: pool ?? 0, entries: entries, posts: posts)
        }
    }
}
