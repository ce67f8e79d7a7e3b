import LinliServer
import SQLKit
import LinliCore
import LinliStore

extension DeliberationService {
    /// Meetings held in [from, to) on matters of each community: community id → count.
    package static func meetingsHeld(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: Int64] {
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

extension DeliberationService {
    /// Under a path, per community, in [from, to): matters raised, votes closed, milestones of
    /// decisions done. Grouped by the matter's place in the database, summed per community here.
    package static func deliberationCounts(_ db: any SQLDatabase, under path: String, from: Int64, to: Int64) async throws -> [Int64: (matters: Int64, votes: Int64, done: Int64)] {
        var out: [Int64: (matters: Int64, votes: Int64, done: Int64)] = [:]
        func add(_ sql: BoundSQL, _ pick: WritableKeyPath<(matters: Int64, votes: Int64, done: Int64), Int64>) async throws {
            for r in try await db.query(sql).all() {
                let c = PlacePath.communityID(try r.decode(column: "path", as: String.self))
                guard c != 0 else { continue }
                out[c, default: (0, 0, 0)][keyPath: pick] += try r.decode(column: "n", as: Int64.self)
            }
        }
        try await add("SELECT path, COUNT(*) AS n FROM matters WHERE path LIKE \(path + "%") AND created_at >= \(from) AND created_at < \(to) GROUP BY path", \.matters)
        try await add("SELECT path, COUNT(*) AS n FROM polls WHERE path LIKE \(path + "%") AND closed_at >= \(from) AND closed_at < \(to) GROUP BY path", \.votes)
        try await add("""
            SELECT x.path, COUNT(*) AS n FROM milestones m JOIN matters x ON x.id = m.matter_id
            WHERE x.path LIKE \(path + "%") AND m.done_at >= \(from) AND m.done_at < \(to) GROUP BY x.path
            """, \.done)
        return out
    }
}
