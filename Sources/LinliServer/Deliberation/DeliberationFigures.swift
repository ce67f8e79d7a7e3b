import SQLKit
import LinliCore
import LinliStore

extension DeliberationService {
    /// Meetings held in [from, to) on matters of each community: community id → count.
    static func meetingsHeld(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: Int64] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: Int64] = [:]
        for r in try await db.query("""
            SELECT p.id, COUNT(*) AS n FROM meetings m JOIN matters x ON x.id = m.matter_id JOIN places p ON x.path LIKE p.path || '%'
            WHERE p.id IN (\(list: communityIDs)) AND m.held_at >= \(from) AND m.held_at < \(to) GROUP BY p.id
            """).all() {
            out[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "n", as: Int64.self)
        }
        return out
    }
}
