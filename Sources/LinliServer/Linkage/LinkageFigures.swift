import SQLKit
import LinliCore
import LinliStore

extension LinkageService {
    /// Volunteer minutes confirmed in [from, to) on each community's tasks: community id → minutes.
    package static func volunteerMinutes(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: Int64] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: Int64] = [:]
        for r in try await db.query("""
            SELECT t.community_id, CAST(COALESCE(SUM(a.minutes), 0) AS BIGINT) AS m FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id
            WHERE t.community_id IN (\(list: communityIDs)) AND a.confirmed_at >= \(from) AND a.confirmed_at < \(to) AND a.minutes IS NOT NULL GROUP BY t.community_id
            """).all() {
            out[try r.decode(column: "community_id", as: Int64.self)] = try r.decode(column: "m", as: Int64.self)
        }
        return out
    }
}

extension LinkageService {
    /// Per community: registered volunteers, and money given and matched in [from, to) (fen).
    package static func linkageCounts(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: (volunteers: Int64, raised: Int64, matched: Int64)] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: (volunteers: Int64, raised: Int64, matched: Int64)] = [:]
        for r in try await db.query("SELECT community_id, COUNT(*) AS n FROM volunteers WHERE community_id IN (\(list: communityIDs)) GROUP BY community_id").all() {
            out[try r.decode(column: "community_id", as: Int64.self), default: (0, 0, 0)].volunteers = try r.decode(column: "n", as: Int64.self)
        }
        for r in try await db.query("""
            SELECT community_id, kind, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM ledger_transactions
            WHERE community_id IN (\(list: communityIDs)) AND kind IN ('donation', 'match') AND at >= \(from) AND at < \(to) GROUP BY community_id, kind
            """).all() {
            let c = try r.decode(column: "community_id", as: Int64.self), s = try r.decode(column: "s", as: Int64.self)
            if try r.decode(column: "kind", as: String.self) == "donation" { out[c, default: (0, 0, 0)].raised += s } else { out[c, default: (0, 0, 0)].matched += s }
        }
        return out
    }
}
