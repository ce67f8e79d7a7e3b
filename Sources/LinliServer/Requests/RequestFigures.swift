import SQLKit
import LinliCore
import LinliStore

extension RequestsService {
    /// Requests resolved in [from, to) per community, and how many of them by their deadline:
    /// community id → (on time, resolved). Grouped in the database (an assessment reads a street's
    /// communities at once; a dashboard a city's).
    static func resolvedOnTime(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: (Int64, Int64)] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: (Int64, Int64)] = [:]
        for r in try await db.query("""
            SELECT community_id, COUNT(*) AS n, SUM(CASE WHEN resolved_at <= resolve_due THEN 1 ELSE 0 END) AS ok
            FROM requests WHERE community_id IN (\(list: communityIDs)) AND resolved_at >= \(from) AND resolved_at < \(to) GROUP BY community_id
            """).all() {
            out[try r.decode(column: "community_id", as: Int64.self)] = (try r.decode(column: "ok", as: Int64.self), try r.decode(column: "n", as: Int64.self))
        }
        return out
    }
}

extension RequestsService {
    /// Requests made in [from, to) per community: (made, escalated, sum of ratings, rated).
    static func madeAndRated(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: (made: Int64, escalated: Int64, ratingSum: Int64, rated: Int64)] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: (made: Int64, escalated: Int64, ratingSum: Int64, rated: Int64)] = [:]
        for r in try await db.query("""
            SELECT community_id, COUNT(*) AS n, SUM(CASE WHEN level > 0 THEN 1 ELSE 0 END) AS up,
                   CAST(COALESCE(SUM(rating), 0) AS BIGINT) AS rs, COUNT(rating) AS rn
            FROM requests WHERE community_id IN (\(list: communityIDs)) AND created_at >= \(from) AND created_at < \(to) AND merged_into IS NULL GROUP BY community_id
            """).all() {
            out[try r.decode(column: "community_id", as: Int64.self)] = (try r.decode(column: "n", as: Int64.self), try r.decode(column: "up", as: Int64.self),
                                                                         try r.decode(column: "rs", as: Int64.self), try r.decode(column: "rn", as: Int64.self))
        }
        return out
    }
}
