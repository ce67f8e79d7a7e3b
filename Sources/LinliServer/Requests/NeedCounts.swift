import SQLKit
import LinliCore
import LinliStore

/// Requests of one category in one month (YYYYMM) somewhere: needs analysis's unit.
public struct NeedCount: Sendable, Equatable {
    public var communityID: Int64
    public var month: Int
    public var category: String
    public var count: Int
}

/// Requests of one category at one place (a household's unit or building, a compound) in a period.
public struct PlaceNeedCount: Sendable, Equatable {
    public var placeID: Int64
    public var category: String
    public var count: Int
}

extension RequestsService {
    /// The China-time month (YYYYMM) of an instant.
    static func monthKey(_ epoch: Int64) -> Int {
        let d = ChinaTime.civil(day: LocalDay.of(epoch))
        return Int(d.year * 100 + d.month)
    }

    /// One more request of a category in its community's month, in the step that files it.
    static func countNeed(_ db: any SQLDatabase, community: Int64, street: Int64, at: Int64, category: String) async throws {
        try await db.query("""
            INSERT INTO request_need_counts (community_id, street_id, month, category, n) VALUES (\(community), \(street), \(monthKey(at)), \(category), 1)
            ON CONFLICT (community_id, month, category) DO UPDATE SET n = request_need_counts.n + 1
            """).run()
    }

    /// Counts every stored request afresh (for requests written before the counts existed, or
    /// in bulk by the benchmark's generator), in one statement grouped by the database.
    func recountNeeds() async throws {
        let month = store.dialect.monthKey("created_at")
        let now = env.nowSeconds
        try await store.transaction { db in
            try await db.query("DELETE FROM request_need_counts").run()
            try await db.query("""
                INSERT INTO request_need_counts (community_id, street_id, month, category, n)
                SELECT community_id, MIN(street_id), \(unsafeRaw: month), category, COUNT(*) FROM requests
                GROUP BY community_id, \(unsafeRaw: month), category
                """).run()
            try await db.query("DELETE FROM request_need_synced").run()
            try await db.query("INSERT INTO request_need_synced (id, at) VALUES (1, \(now))").run()
        }
    }

    func ensureNeedCounts() async throws {
        let done = try await store.read { db in try await db.query("SELECT at FROM request_need_synced WHERE id = 1").first() != nil }
        if !done { try await recountNeeds() }
    }

    /// Requests per community, month and category for communities of one street (or every one of
    /// it when `communities` is nil), months [from, to] as YYYYMM.
    public func needCounts(street: Int64, communities: [Int64]?, fromMonth: Int, toMonth: Int) async throws -> [NeedCount] {
        try await ensureNeedCounts()
        return try await store.read { db in
            let only: BoundSQL = communities.map { "AND community_id IN (\(list: $0))" } ?? ""
            return try await db.query("""
                SELECT community_id, month, category, n FROM request_need_counts
                WHERE street_id = \(street) AND month >= \(fromMonth) AND month <= \(toMonth) \(only)
                """).all().map { r in
                NeedCount(communityID: try r.decode(column: "community_id", as: Int64.self), month: try r.decode(column: "month", as: Int.self),
                          category: try r.decode(column: "category", as: String.self), count: try r.decode(column: "n", as: Int.self))
            }
        }
    }

    /// Requests per place and category filed in [from, to) (local days) in some communities,
    /// where a place has at least `atLeast` of one category: through `requests_look_alikes`.
    public func placeNeedCounts(communities: [Int64], from: Int64, to: Int64, atLeast: Int) async throws -> [PlaceNeedCount] {
        guard !communities.isEmpty else { return [] }
        return try await store.read { db in
            let codes = try await db.query("SELECT code FROM request_categories ORDER BY code").all().map { try $0.decode(column: "code", as: String.self) }
            guard !codes.isEmpty else { return [] }
            return try await db.query("""
                SELECT r.place_id, r.category, COUNT(*) AS n FROM requests r
                WHERE r.category IN (\(list: codes)) AND r.community_id IN (\(list: communities))
                AND r.created_at >= \(LocalDay.start(from)) AND r.created_at < \(LocalDay.start(to))
                GROUP BY r.place_id, r.category HAVING COUNT(*) >= \(atLeast)
                """).all().map { r in
                PlaceNeedCount(placeID: try r.decode(column: "place_id", as: Int64.self), category: try r.decode(column: "category", as: String.self),
                               count: try r.decode(column: "n", as: Int.self))
            }
        }
    }
}
