import SQLKit
import LinliCore
import LinliStore

/// What one request adds to its community's figures for the month and the day it was made in:
/// the dashboards' unit (`request_rollup`, `request_rollup_day`), counted exactly as a period's
/// figures are.
typealias RequestTally = AreaRequestCounts

/// The whole months inside [from, to) and the parts left at either edge: a period's figures are
/// the rollup's months plus its edges, read by whole days from the day rollup and, for a part of
/// a day (never on the dashboards, whose periods are days), live (`RequestsService.areaCounts`).
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

    /// The whole China-time days inside an edge (day numbers) and the parts of a day left at
    /// either end.
    static func days(of edge: Range<Int64>) -> (days: ClosedRange<Int64>?, parts: [Range<Int64>]) {
        guard !edge.isEmpty else { return (nil, []) }
        let first = LocalDay.start(LocalDay.of(edge.lowerBound)) == edge.lowerBound ? LocalDay.of(edge.lowerBound) : LocalDay.of(edge.lowerBound) + 1
        let end = LocalDay.of(edge.upperBound)   // the day the edge ends in: whole only up to the one before
        guard first < end else { return (nil, [edge]) }
        return (first...(end - 1), [edge.lowerBound..<LocalDay.start(first), LocalDay.start(end)..<edge.upperBound].filter { !$0.isEmpty })
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

    /// The two rollups: by the month a request was made (`month`, YYYYMM), for a period's whole
    /// months, and by the day (`day`, the China-time day number), for its edge days, so that no
    /// dashboard period reads the requests table itself (on a month's last day "this month so
    /// far" would otherwise group a month of a city's requests at page time).
    enum Rollup: String, CaseIterable, Sendable {
        case month, day
        var table: String { self == .month ? "request_rollup" : "request_rollup_day" }
        /// The unit of an instant, as the steps compute it.
        func key(_ epoch: Int64) -> Int64 { self == .month ? Int64(RequestsService.monthKey(epoch)) : LocalDay.of(epoch) }
        /// The same in SQL. The day: `created_at` is never negative, so integer division is the floor.
        func key(column: String, _ dialect: Dialect) -> String {
            self == .month ? dialect.monthKey(column) : "((\(column) + \(ChinaTime.utcOffset)) / 86400)"
        }
        /// The rollup's rows counted from the requests table.
        func select(_ dialect: Dialect) -> String {
            "SELECT community_id, \(key(column: "created_at", dialect)) AS \(rawValue), \(RequestsService.tallyColumns) FROM requests GROUP BY community_id, \(key(column: "created_at", dialect))"
        }
        /// Filled from the requests table (the migrations, a recount).
        func fill(_ dialect: Dialect) -> String {
            "INSERT INTO \(table) (community_id, \(rawValue), made, escalated, rating_sum, rated, resolved, on_time) " + select(dialect)
        }
    }

    /// `made = request_rollup.made + excluded.made, …` for each figure.
    static func rollupAdds(_ table: String) -> String {
        ["made", "escalated", "rating_sum", "rated", "resolved", "on_time"].map { "\($0) = \(table).\($0) + excluded.\($0)" }.joined(separator: ", ")
    }

    /// Adds changes to both rollups in the step that made them: one statement per community and
    /// month, and per community and day.
    static func addToRollup(_ db: any SQLDatabase, _ dialect: Dialect, _ changes: [(community: Int64, createdAt: Int64, delta: RequestTally)],
                            with more: [BoundSQL] = []) async throws {
        try await db.runAll(rollupAdditions(dialect, changes) + more, dialect)
    }

    /// The statements `addToRollup` runs: one per community and month, and per community and day.
    static func rollupAdditions(_ dialect: Dialect, _ changes: [(community: Int64, createdAt: Int64, delta: RequestTally)]) -> [BoundSQL] {
        let shard = dialect.counterShard()
        var out: [BoundSQL] = []
        for rollup in Rollup.allCases {
            var sums: [Int64: [Int64: RequestTally]] = [:]
            for c in changes where !c.delta.isZero { sums[c.community, default: [:]][rollup.key(c.createdAt), default: RequestTally()] += c.delta }
            // Always built in one sorted order, so that two transactions adding to the same rows
            // take their locks alike (PostgreSQL would otherwise let two sweeps deadlock); run as
            // one statement there, whose executor takes them in one (reversed) order for every
            // caller. Should two ever meet crosswise, PostgreSQL refuses one and it is retried.
            for (community, units) in sums.sorted(by: { $0.key < $1.key }) {
                for (unit, t) in units.sorted(by: { $0.key < $1.key }) where !t.isZero {
                    out.append("""
                        INSERT INTO \(unsafeRaw: rollup.table) (community_id, \(unsafeRaw: rollup.rawValue), shard, made, escalated, rating_sum, rated, resolved, on_time)
                        VALUES (\(community), \(unit), \(shard), \(t.made), \(t.escalated), \(t.ratingSum), \(t.rated), \(t.resolved), \(t.onTime))
                        ON CONFLICT (community_id, \(unsafeRaw: rollup.rawValue), shard) DO UPDATE SET \(unsafeRaw: Self.rollupAdds(rollup.table))
                        """)
                }
            }
        }
        return out
    }

    /// Where a rollup and the requests table disagree, by community and month or day (`linli
    /// figures-check`): nothing should, but a write to `requests` outside the use cases, or an
    /// older server during a rolling upgrade, would leave it wrong until counted afresh.
    public func checkRollup() async throws -> [(community: Int64, unit: String, key: Int64, kept: [Int64], counted: [Int64])] {
        try await store.read { db in
            var out: [(community: Int64, unit: String, key: Int64, kept: [Int64], counted: [Int64])] = []
            for rollup in Rollup.allCases {
                func rows(_ sql: String) async throws -> [[Int64]: AreaRequestCounts] {
                    var out: [[Int64]: AreaRequestCounts] = [:]
                    for r in try await db.raw("\(unsafeRaw: sql)").all() {
                        out[[try r.decode(column: "community_id", as: Int64.self), try r.decode(column: rollup.rawValue, as: Int64.self)]] = try AreaRequestCounts(r)
                    }
                    return out
                }
                let kept = try await rows("""
                    SELECT community_id, \(rollup.rawValue), CAST(SUM(made) AS BIGINT) AS made, CAST(SUM(escalated) AS BIGINT) AS escalated,
                           CAST(SUM(rating_sum) AS BIGINT) AS rating_sum, CAST(SUM(rated) AS BIGINT) AS rated, CAST(SUM(resolved) AS BIGINT) AS resolved,
                           CAST(SUM(on_time) AS BIGINT) AS on_time
                    FROM \(rollup.table) GROUP BY community_id, \(rollup.rawValue)
                    """)
                let counted = try await rows(rollup.select(store.dialect))
                for key in Set(kept.keys).union(counted.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    let k = kept[key] ?? AreaRequestCounts(), n = counted[key] ?? AreaRequestCounts()
                    if k != n { out.append((key[0], rollup.rawValue, key[1], k.values, n.values)) }
                }
            }
            return out
        }
    }

    /// Counts both rollups and the map's spots afresh from the requests table (after the benchmark's generator wrote
    /// requests in bulk, around the use cases, or to repair what `checkRollup` found).
    public func recountRollup() async throws {
        try await store.transaction { db in
            for rollup in Rollup.allCases {
                try await db.raw("DELETE FROM \(unsafeRaw: rollup.table)").run()
                try await db.raw("\(unsafeRaw: rollup.fill(store.dialect))").run()
            }
            try await db.raw("DELETE FROM request_spots").run()
            try await db.raw("\(unsafeRaw: Self.spotsFill(store.dialect))").run()
        }
    }
}

extension RequestsService.Row {
    var tally: RequestTally { RequestTally(missed: !missed.isEmpty, rating: rating, resolvedAt: resolvedAt, resolveDue: resolveDue) }
}
