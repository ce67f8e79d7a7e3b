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

    /// One more request of a category in its community's month, in the step that files it. Kept
    /// by community only: a community moved to another street takes its history with it.
    static func countNeed(_ dialect: Dialect, community: Int64, at: Int64, category: String) -> BoundSQL {
        """
        INSERT INTO request_need_counts (community_id, month, category, shard, n) VALUES (\(community), \(monthKey(at)), \(category), \(dialect.counterShard()), 1)
        ON CONFLICT (community_id, month, category, shard) DO UPDATE SET n = request_need_counts.n + 1
        """
    }

    /// Counts every stored request afresh, in one statement grouped by the database: once, for
    /// requests written before the counts existed (`force` false: whoever writes the marker first
    /// does it, a second caller at the same moment waits for that and does nothing), or after the
    /// benchmark's generator wrote requests in bulk (`force`).
    func recountNeeds(force: Bool = true) async throws {
        let month = store.dialect.monthKey("created_at")
        let now = env.nowSeconds
        try await store.transaction { db in
            if force { try await db.query("DELETE FROM request_need_synced").run() }
            let mine = try await db.query("""
                INSERT INTO request_need_synced (id, at) VALUES (1, \(now)) ON CONFLICT (id) DO NOTHING RETURNING id
                """).first() != nil
            guard mine else { return }
            try await db.query("DELETE FROM request_need_counts").run()
            try await db.query("""
                INSERT INTO request_need_counts (community_id, month, category, n)
                SELECT community_id, \(unsafeRaw: month), category, COUNT(*) FROM requests
                GROUP BY community_id, \(unsafeRaw: month), category
                """).run()
        }
    }

    func ensureNeedCounts() async throws {
        let done = try await store.read { db in try await db.query("SELECT at FROM request_need_synced WHERE id = 1").first() != nil }
        if !done { try await recountNeeds(force: false) }
    }

    /// Requests per community, month and category for some communities, months [from, to] as YYYYMM.
    public func needCounts(communities: [Int64], fromMonth: Int, toMonth: Int) async throws -> [NeedCount] {
        guard !communities.isEmpty else { return [] }
        try await ensureNeedCounts()
        return try await store.readHeavy { db in
            try await db.query("""
                SELECT community_id, month, category, CAST(SUM(n) AS BIGINT) AS n FROM request_need_counts
                WHERE community_id IN (\(list: communities)) AND month >= \(fromMonth) AND month <= \(toMonth)
                GROUP BY community_id, month, category
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
        return try await store.readHeavy { db in
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
