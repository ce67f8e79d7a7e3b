import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Points turned into rewards, and the certificate of confirmed service hours.
extension LinkageService {
    // MARK: Rewards

    public struct RewardView: Sendable, Codable { public var id: Int64; public var name: String; public var points: Int; public var stock: Int }

    public func addReward(communityID: Int64?, name rawName: String?, points: Int?, stock: Int?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let c = try await community(db, communityID, actor, .volunteerManage)
            let name = Self.trimmed(rawName)
            var v = Validator()
            v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写兑换项目（60 字以内）")
            v.check((points ?? 0) > 0 && (points ?? 0) <= 100_000, "points", "invalid", "所需积分应为正整数")
            v.check((stock ?? -1) >= 0 && (stock ?? 0) <= 100_000, "stock", "invalid", "数量应为 0 或正整数")
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO rewards (community_id, path, name, points, stock, created_at) VALUES (\(bind: c.id), \(bind: c.path), \(bind: name), \(bind: points!), \(bind: stock!), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "reward.add", objectType: "reward", objectID: id, path: c.path)
            return id
        }
    }

    public func rewards(communityID: Int64, actor: Actor) async throws -> [RewardView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            return try await db.raw("SELECT id, name, points, stock FROM rewards WHERE community_id = \(bind: c.id) ORDER BY points, id").all().map {
                RewardView(id: try $0.decode(column: "id", as: Int64.self), name: try $0.decode(column: "name", as: String.self),
                           points: try $0.decode(column: "points", as: Int.self), stock: try $0.decode(column: "stock", as: Int.self))
            }
        }
    }

    /// Spends the volunteer's points on a listed reward (time bank).
    public func redeem(rewardID: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let r = try await db.raw("SELECT path, name, points, stock FROM rewards WHERE id = \(bind: rewardID)\(unsafeRaw: lockRow)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            try Self.require(actor, .volunteerJoin, path)
            guard let v = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: actor.userID)\(unsafeRaw: lockRow)").first() else {
                throw LinliError.conflict(nil, "not_a_volunteer", "请先登记为志愿者")
            }
            let vid = try v.decode(column: "id", as: Int64.self), cost = try r.decode(column: "points", as: Int.self)
            guard try r.decode(column: "stock", as: Int.self) > 0 else { throw LinliError.conflict("reward_id", "out_of_stock", "已兑完") }
            let balance = try await db.raw("SELECT COALESCE(SUM(delta), 0) AS b FROM point_entries WHERE volunteer_id = \(bind: vid)").first()!.decode(column: "b", as: Int64.self)
            guard balance >= cost else { throw LinliError.conflict("reward_id", "not_enough_points", "积分不足：需要 \(cost)，现有 \(balance)") }
            try await db.raw("UPDATE rewards SET stock = stock - 1 WHERE id = \(bind: rewardID)").run()
            try await db.raw("""
                INSERT INTO point_entries (volunteer_id, delta, kind, reward_id, note, at) VALUES (\(bind: vid), \(bind: -cost), 'redeem', \(bind: rewardID), \(bind: try r.decode(column: "name", as: String.self)), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "points.redeem", objectType: "reward", objectID: rewardID, path: path)
        }
    }

    public struct Certificate: Sendable, Codable {
        public var name: String
        public var community: String
        public var hoursText: String
        public var shifts: Int
        public var issuedOn: String
        public var lines: [Line]
        public struct Line: Sendable, Codable { public var task: String; public var day: String; public var hoursText: String
            enum CodingKeys: String, CodingKey { case task, day, hoursText = "hours_text" } }
        enum CodingKeys: String, CodingKey { case name, community, hoursText = "hours_text", shifts, issuedOn = "issued_on", lines }
    }

    /// A certificate of confirmed service hours, for the volunteer themself or staff of their community.
    public func certificate(volunteerID: Int64?, actor: Actor) async throws -> Certificate {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let row: any SQLRow
            if let volunteerID {
                guard let r = try await db.raw("SELECT v.id, v.name, v.path, v.user_id, p.name AS community FROM volunteers v JOIN places p ON p.id = v.community_id WHERE v.id = \(bind: volunteerID)").first() else { throw LinliError.notFound }
                if try r.decode(column: "user_id", as: Int64.self) != actor.userID { try Self.require(actor, .volunteerManage, try r.decode(column: "path", as: String.self)) }
                row = r
            } else {
                guard let r = try await db.raw("SELECT v.id, v.name, v.path, v.user_id, p.name AS community FROM volunteers v JOIN places p ON p.id = v.community_id WHERE v.user_id = \(bind: actor.userID)").first() else {
                    throw LinliError.conflict(nil, "not_a_volunteer", "请先登记为志愿者")
                }
                row = r
            }
            let vid = try row.decode(column: "id", as: Int64.self)
            let lines = try await db.raw("""
                SELECT t.title, a.starts_at, a.minutes FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id
                WHERE a.volunteer_id = \(bind: vid) AND a.confirmed_at IS NOT NULL AND a.minutes > 0 ORDER BY a.starts_at
                """).all().map { r in
                Certificate.Line(task: try r.decode(column: "title", as: String.self), day: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "starts_at", as: Int64.self))),
                                 hoursText: Self.hours(try r.decode(column: "minutes", as: Int.self)))
            }
            let minutes = try await db.raw("SELECT COALESCE(SUM(minutes), 0) AS m FROM shift_assignments WHERE volunteer_id = \(bind: vid) AND confirmed_at IS NOT NULL").first()!.decode(column: "m", as: Int64.self)
            try await audit.append(db, actor: actor, action: "volunteer.certificate", objectType: "volunteer", objectID: vid, path: try row.decode(column: "path", as: String.self))
            return Certificate(name: try row.decode(column: "name", as: String.self), community: try row.decode(column: "community", as: String.self),
                               hoursText: Self.hours(Int(minutes)), shifts: lines.count, issuedOn: ChinaTime.iso(day: LocalDay.of(now)), lines: lines)
        }
    }
}
