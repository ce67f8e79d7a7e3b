import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A grid's visit coverage today: households with a plan, visited inside their current window,
/// and overdue (their previous window went by without a visit).
public struct GridCoverage: Sendable, Equatable {
    public var gridID: Int64
    public var planned: Int
    public var covered: Int
    public var overdue: Int
}

/// Coverage kept per community, grid, period and two windows (`visit_coverage`). Whether a
/// household is covered or overdue today depends only on its period, the window its last counted
/// visit fell in and the window its plan began in, because a period's windows cut the calendar
/// into fixed pieces (`VisitPeriod.window`):
/// - covered: last counted at or after the current window's first day ⇔ its window starts there or later;
/// - overdue: last counted before the previous window (or never) ⇔ its window starts before the
///   previous one's, and the plan began by the previous window's last day ⇔ its window starts
///   no later than the previous one's.
/// So each row carries those two windows' first days, and the counts per combination are kept by
/// triggers on `visit_due`; today's coverage is a few hundred kept rows to add up, not a street's
/// 100,000 households.
extension GridWorkService {
    /// The first days of the windows a row's coverage depends on (-1: never counted; both -1
    /// without a plan, which is not counted at all).
    static func coverageWindows(_ d: DueRow) -> (counted: Int64, since: Int64) {
        coverageWindows(period: d.period, lastCounted: d.facts.lastCounted, since: d.facts.since)
    }

    static func coverageWindows(period: VisitPeriod?, lastCounted: Int64?, since: Int64) -> (counted: Int64, since: Int64) {
        guard let p = period else { return (-1, -1) }
        return (lastCounted.map { p.window(containing: LocalDay.of($0)).first } ?? -1, p.window(containing: LocalDay.of(since)).first)
    }

    static let coverageKey = "community_id, grid_id, period, counted_window, since_window"
    /// The rows that count: a plan, and not reported gone.
    static let coverageCounted = "period IS NOT NULL AND moved_at IS NULL"

    /// The kept counts from the rows themselves (the migration, a recount).
    static let coverageFill = "INSERT INTO visit_coverage (\(coverageKey), n) SELECT \(coverageKey), COUNT(*) FROM visit_due WHERE \(coverageCounted) GROUP BY \(coverageKey)"

    /// SQLite: one trigger per kind of write. A row rewritten with the same key (most upserts)
    /// moves nothing. `WHERE` on the SELECTs also keeps SQLite's parser from reading the upsert's
    /// ON as a join's.
    static let coverageSQLiteTriggers: [String] = {
        let columns = coverageKey.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        func add(_ row: String, _ delta: Int) -> String {
            """
            INSERT INTO visit_coverage (\(coverageKey), n) SELECT \(columns.map { "\(row).\($0)" }.joined(separator: ", ")), \(delta)
            WHERE \(row).period IS NOT NULL AND \(row).moved_at IS NULL
            ON CONFLICT (\(coverageKey)) DO UPDATE SET n = n + excluded.n;
            """
        }
        let same = (columns.map { "OLD.\($0) IS NEW.\($0)" } + ["(OLD.moved_at IS NULL) = (NEW.moved_at IS NULL)"]).joined(separator: " AND ")
        return [
            "CREATE TRIGGER visit_due_coverage_insert AFTER INSERT ON visit_due BEGIN \(add("NEW", 1)) END",
            "CREATE TRIGGER visit_due_coverage_delete AFTER DELETE ON visit_due BEGIN \(add("OLD", -1)) END",
            "CREATE TRIGGER visit_due_coverage_update AFTER UPDATE ON visit_due WHEN NOT (\(same)) BEGIN \(add("OLD", -1)) \(add("NEW", 1)) END",
        ]
    }()

    /// PostgreSQL: one function for the three (OLD is NULL in an INSERT's trigger, NEW in a DELETE's).
    static let coveragePostgresFunction: String = {
        let columns = coverageKey.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        func add(_ row: String, _ delta: Int) -> String {
            """
            INSERT INTO visit_coverage AS c (\(coverageKey), n) VALUES (\(columns.map { "\(row).\($0)" }.joined(separator: ", ")), \(delta))
                ON CONFLICT (\(coverageKey)) DO UPDATE SET n = c.n + excluded.n;
            """
        }
        let key = { (row: String) in "(" + (columns.map { "\(row).\($0)" } + ["\(row).moved_at IS NULL"]).joined(separator: ", ") + ")" }
        let counts = { (row: String) in "\(row).period IS NOT NULL AND \(row).moved_at IS NULL" }
        let tuple = { (row: String) in "(" + columns.map { "\(row).\($0)" }.joined(separator: ", ") + ")" }
        // A row moving between two counts takes them in key order, whichever way it moves, so
        // that two steps moving households the opposite way between the same two counts lock
        // them alike.
        return """
            CREATE FUNCTION visit_due_coverage() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND \(key("OLD")) IS NOT DISTINCT FROM \(key("NEW")) THEN RETURN NULL; END IF;
                IF TG_OP = 'UPDATE' AND \(counts("OLD")) AND \(counts("NEW")) AND \(tuple("NEW")) < \(tuple("OLD")) THEN
                    \(add("NEW", 1))
                    \(add("OLD", -1))
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' AND \(counts("OLD")) THEN
                    \(add("OLD", -1))
                END IF;
                IF TG_OP <> 'DELETE' AND \(counts("NEW")) THEN
                    \(add("NEW", 1))
                END IF;
                RETURN NULL;
            END $$ LANGUAGE plpgsql
            """
    }()

    /// Coverage per grid of some communities today, from the kept counts (the situation map's
    /// coverage layer). Each period's current and previous windows are worked out here, once;
    /// the same arithmetic as `VisitPlan.due` for the plan's part (a test compares the two).
    public func gridCoverage(communities: [Int64]) async throws -> [GridCoverage] {
        guard !communities.isEmpty else { return [] }
        for c in communities { try await ensureSynced(community: c) }
        let today = LocalDay.of(env.nowSeconds)
        var covered: BoundSQL = "CASE"
        var overdue: BoundSQL = "CASE"
        for p in VisitPeriod.allCases {
            let w = p.window(containing: today), prev = p.window(containing: w.first - 1)
            covered = "\(covered) WHEN period = \(p.rawValue) AND counted_window >= \(w.first) THEN n"
            overdue = "\(overdue) WHEN period = \(p.rawValue) AND counted_window < \(prev.first) AND since_window <= \(prev.first) THEN n"
        }
        let coveredSQL = covered, overdueSQL = overdue
        return try await store.readHeavy { db in
            try await db.query("""
                SELECT grid_id, CAST(SUM(n) AS BIGINT) AS planned, CAST(SUM(\(coveredSQL) ELSE 0 END) AS BIGINT) AS covered,
                       CAST(SUM(\(overdueSQL) ELSE 0 END) AS BIGINT) AS overdue
                FROM visit_coverage WHERE community_id IN (\(list: communities)) GROUP BY grid_id HAVING SUM(n) <> 0 ORDER BY grid_id
                """).all().map { r in
                GridCoverage(gridID: try r.decode(column: "grid_id", as: Int64.self), planned: try r.decode(column: "planned", as: Int.self),
                             covered: try r.decode(column: "covered", as: Int.self), overdue: try r.decode(column: "overdue", as: Int.self))
            }
        }
    }

    /// Where the kept coverage and the households' rows disagree (`linli figures-check`). The
    /// rows' windows are worked out here again from their periods and dates, so that a row
    /// written without them (a server from before them, during a rolling upgrade) is found too,
    /// not counted as it stands.
    public func checkCoverage() async throws -> [(community: Int64, grid: Int64, key: String, kept: Int64, counted: Int64)] {
        try await store.read { db in
            typealias Key = CoverageKey
            var kept: [Key: Int64] = [:], counted: [Key: Int64] = [:]
            for r in try await db.raw("SELECT \(unsafeRaw: Self.coverageKey), CAST(SUM(n) AS BIGINT) AS n FROM visit_coverage GROUP BY \(unsafeRaw: Self.coverageKey) HAVING SUM(n) <> 0").all() {
                kept[Key(community: try r.decode(column: "community_id", as: Int64.self), grid: try r.decode(column: "grid_id", as: Int64.self),
                         period: try r.decode(column: "period", as: String.self), counted: try r.decode(column: "counted_window", as: Int64.self),
                         since: try r.decode(column: "since_window", as: Int64.self))] = try r.decode(column: "n", as: Int64.self)
            }
            for r in try await db.raw("SELECT community_id, grid_id, period, last_counted_at, since_at FROM visit_due WHERE \(unsafeRaw: Self.coverageCounted)").all() {
                let period = try r.decode(column: "period", as: String.self)
                let w = Self.coverageWindows(period: VisitPeriod(rawValue: period), lastCounted: try r.decode(column: "last_counted_at", as: Int64?.self),
                                             since: try r.decode(column: "since_at", as: Int64.self))
                counted[Key(community: try r.decode(column: "community_id", as: Int64.self), grid: try r.decode(column: "grid_id", as: Int64.self),
                            period: period, counted: w.counted, since: w.since), default: 0] += 1
            }
            return Set(kept.keys).union(counted.keys).sorted().compactMap { k in
                guard kept[k] != counted[k] else { return nil }
                return (k.community, k.grid, "\(k.period), counted window \(k.counted), plan from window \(k.since)", kept[k] ?? 0, counted[k] ?? 0)
            }
        }
    }

    /// Mends what `checkCoverage` found in some communities: their households' rows written
    /// afresh (with their windows; the triggers move the counts), then every count recounted.
    public func repairCoverage(communities: [Int64]) async throws {
        for c in Set(communities).sorted() { try await sync(community: c) }
        try await recountCoverage()
    }

    /// Counts the kept coverage afresh from the households' rows as they stand.
    public func recountCoverage() async throws {
        try await store.transaction { db in
            try await db.query("DELETE FROM visit_coverage").run()
            try await db.raw("\(unsafeRaw: Self.coverageFill)").run()
        }
    }
}

/// A kept coverage count's key.
struct CoverageKey: Hashable, Comparable {
    var community: Int64, grid: Int64, period: String, counted: Int64, since: Int64
    static func < (a: Self, b: Self) -> Bool { (a.community, a.grid, a.period, a.counted, a.since) < (b.community, b.grid, b.period, b.counted, b.since) }
}
