import SQLKit
import LinliCore
import LinliStore

extension GridWorkService {
    /// Households visited in [from, to) per community (someone met: nobody home is an attempt,
    /// not a visit): community id → households.
    package static func householdsVisited(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: Int64] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: Int64] = [:]
        for r in try await db.query("""
            SELECT community_id, COUNT(DISTINCT household_id) AS n FROM visits
            WHERE community_id IN (\(list: communityIDs)) AND visited_at >= \(from) AND visited_at < \(to) AND outcome <> \(VisitOutcome.notHome.rawValue) GROUP BY community_id
            """).all() {
            out[try r.decode(column: "community_id", as: Int64.self)] = try r.decode(column: "n", as: Int64.self)
        }
        return out
    }
}
