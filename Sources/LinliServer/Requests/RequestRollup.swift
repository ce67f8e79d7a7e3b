import SQLKit
import LinliCore
import LinliStore

/// What one request adds to its community's figures for the month it was made in: the
/// dashboards' unit (`request_rollup`), counted exactly as a period's figures are.
typealias RequestTally = AreaRequestCounts

/// The whole months inside [from, to) and the parts left at either edge: a period's figures are
/// the rollup's months plus a live read of the edges (`RequestsService.areaCounts`).
struct MonthSplit: Sendable, Equatable {
    /// First and last whole month (YYYYMM), nil when none fits.
    var months: ClosedRange<Int>?
    /// The instants [from, to) read live: before the first whole month and after the last.
    var edges: [Range<Int64>]

    static func of(from: Int64, to: Int64) -> MonthSplit {
        guard from < to else { return MonthSplit(months: nil, edges: []) }
        // The first month starting at or after `from`, and the first starting after the last whole one.
        let firstDay = LocalDay.of(from)
        var (y, m, d) = ChinaTime.civil(day: firstDay)
        var start = LocalDay.start(firstDay)
        if d != 1 || start != from {
            (y, m) = m == 12 ? (y + 1, 1) : (y, m + 1)
            start = LocalDay.start(Input.dayNumber(y, m, 1))
        }
        var months: [Int] = []
        var cursor = start
        var (cy, cm) = (y, m)
        while true {
            let (ny, nm) = cm == 12 ? (cy + 1, Int64(1)) : (cy, cm + 1)
            let next = LocalDay.start(Input.dayNumber(ny, nm, 1))
            guard next <= to else { break }
            months.append(Int(cy * 100 + cm))
            cursor = next
            (cy, cm) = (ny, nm)
        }
        guard let first = months.first, let last = months.last else { return MonthSplit(months: nil, edges: [from..<to]) }
        return MonthSplit(months: first...last, edges: [from..<start, cursor..<to].filter { !$0.isEmpty })
    }
}

extension RequestsService {
    /// The dashboards' counts over a group of requests, named as `AreaRequestCounts(_:)` reads
    /// them: the one definition the live read, the rollup's own count and its check share.
    static let tallyColumns = """
        COUNT(*) AS made, CAST(SUM(CASE WHEN missed <> '' THEN 1 ELSE 0 END) AS BIGINT) AS escalated,
        CAST(COALESCE(SUM(rating), 0) AS BIGINT) AS rating_sum, COUNT(rating) AS rated, COUNT(resolved_at) AS resolved,
        CAST(SUM(CASE WHEN resolved_at <= resolve_due THEN 1 ELSE 0 END) AS BIGINT) AS on_time
        """

    /// The rollup's rows counted from the requests table (`month`: the dialect's month of `created_at`).
    static func rollupSelect(month: String) -> String {
        "SELECT community_id, \(month) AS month, \(tallyColumns) FROM requests GROUP BY community_id, \(month)"
    }

    /// Adds changes to the rollup in the step that made them: one statement per community and month.
    static func addToRollup(_ db: any SQLDatabase, _ changes: [(community: Int64, createdAt: Int64, delta: RequestTally)]) async throws {
        var sums: [Int64: [Int: RequestTally]] = [:]
        for c in changes where !c.delta.isZero { sums[c.community, default: [:]][monthKey(c.createdAt), default: RequestTally()] = sums[c.community, default: [:]][monthKey(c.createdAt), default: RequestTally()] + c.delta }
        // In a fixed order: two transactions adding to the same rows take their locks alike
        // (PostgreSQL would otherwise let two sweeps deadlock).
        for (community, months) in sums.sorted(by: { $0.key < $1.key }) {
            for (month, t) in months.sorted(by: { $0.key < $1.key }) where !t.isZero {
                try await db.query("""
                    INSERT INTO request_rollup (community_id, month, made, escalated, rating_sum, rated, resolved, on_time)
                    VALUES (\(community), \(month), \(t.made), \(t.escalated), \(t.ratingSum), \(t.rated), \(t.resolved), \(t.onTime))
                    ON CONFLICT (community_id, month) DO UPDATE SET made = request_rollup.made + excluded.made,
                        escalated = request_rollup.escalated + excluded.escalated, rating_sum = request_rollup.rating_sum + excluded.rating_sum,
                        rated = request_rollup.rated + excluded.rated, resolved = request_rollup.resolved + excluded.resolved,
                        on_time = request_rollup.on_time + excluded.on_time
                    """).run()
            }
        }
    }

    /// Where the rollup and the requests table disagree, by community and month (`linli
    /// figures-check`): nothing should, but a write to `requests` outside the use cases, or an
    /// older server during a rolling upgrade, would leave it wrong until counted afresh.
    public func checkRollup() async throws -> [(community: Int64, month: Int, kept: [Int64], counted: [Int64])] {
        try await store.read { db in
            func rows(_ sql: SQLQueryString) async throws -> [String: AreaRequestCounts] {
                var out: [String: AreaRequestCounts] = [:]
                for r in try await db.raw(sql).all() {
                    out["\(try r.decode(column: "community_id", as: Int64.self))/\(try r.decode(column: "month", as: Int.self))"] = try AreaRequestCounts(r)
                }
                return out
            }
            let kept = try await rows("SELECT community_id, month, made, escalated, rating_sum, rated, resolved, on_time FROM request_rollup")
            let counted = try await rows("\(unsafeRaw: Self.rollupSelect(month: store.dialect.monthKey("created_at")))")
            return Set(kept.keys).union(counted.keys).sorted().compactMap { key in
                let k = kept[key] ?? AreaRequestCounts(), n = counted[key] ?? AreaRequestCounts()
                guard k != n else { return nil }
                let parts = key.split(separator: "/")
                return (Int64(parts[0])!, Int(parts[1])!, k.values, n.values)
            }
        }
    }

    /// Counts the rollup afresh from the requests table (after the benchmark's generator wrote
    /// requests in bulk, around the use cases, or to repair what `checkRollup` found).
    public func recountRollup() async throws {
        try await store.transaction { db in
            try await db.query("DELETE FROM request_rollup").run()
            try await db.query("""
                INSERT INTO request_rollup (community_id, month, made, escalated, rating_sum, rated, resolved, on_time)
                \(unsafeRaw: Self.rollupSelect(month: store.dialect.monthKey("created_at")))
                """).run()
        }
    }
}

extension RequestsService.Row {
    var tally: RequestTally { RequestTally(missed: !missed.isEmpty, rating: rating, resolvedAt: resolvedAt, resolveDue: resolveDue) }
}
