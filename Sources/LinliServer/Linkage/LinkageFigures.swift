import SQLKit
import LinliCore
import LinliStore

extension LinkageService {
    /// Volunteer minutes confirmed in [from, to) on each community's tasks: community id → minutes.
    static func volunteerMinutes(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: Int64] {
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
