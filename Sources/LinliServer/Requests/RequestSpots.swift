import SQLKit
import LinliCore
import LinliStore

/// The situation map's density layer kept by the month a request was made (`request_spots`):
/// where requests were filed, counted per square at each of the map's two scales, or at their
/// compound (or community) when they had no point, by category and by whether they are still
/// open. A street's 90 days were 250,000 requests to group at page time; now their whole months
/// are a few thousand kept rows and only the days at the edges are read live
/// (`MonthSplit`, as the dashboards' figures are).
///
/// Kept in the steps that change it: a submission adds its request, and a step that opens or
/// closes one (`save`) moves it between open and closed. Nothing else changes what a spot
/// counts (a request's category, community, compound and point are fixed when it is filed).
extension RequestsService {
    /// The map's two scales in squares per degree of latitude (a street's, a community's). A
    /// layer at another scale is counted live.
    public static let spotScales: [Int] = [500, 2000]

    /// The columns a spot is keyed by, in the primary key's order. `scale` 0 is a place, with
    /// its id in `y`.
    static let spotKey = "community_id, month, scale, category, is_open, y, x"

    /// Counts every request's spots from the requests table (the migration, a recount). Squares
    /// are rounded by the database, with the same expression as the live read and the steps, so
    /// that a request is always in the same square.
    static func spotsFill(_ dialect: Dialect) -> String {
        let month = dialect.monthKey("created_at")
        let open = "CASE WHEN status IN (\(openStatusList)) THEN 1 ELSE 0 END"
        var parts = spotScales.map { k in
            """
            SELECT community_id, \(month) AS month, \(k) AS scale, category, \(open) AS is_open, CAST(ROUND(lat * \(k)) AS BIGINT) AS y, CAST(ROUND(lng * \(k)) AS BIGINT) AS x, COUNT(*) AS n
            FROM requests WHERE lat IS NOT NULL AND lng IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7
            """
        }
        parts.append("""
            SELECT community_id, \(month) AS month, 0 AS scale, category, \(open) AS is_open, COALESCE(compound_id, community_id) AS y, 0 AS x, COUNT(*) AS n
            FROM requests WHERE lat IS NULL OR lng IS NULL GROUP BY 1, 2, 3, 4, 5, 6, 7
            """)
        return "INSERT INTO request_spots (\(spotKey), n) " + parts.joined(separator: " UNION ALL ")
    }

    /// What a request adds to the spots (`by` 1 when filed or opened, -1 when it leaves that
    /// state): a row per scale, or one for its place.
    static func spotRows(_ dialect: Dialect, _ r: Row, open: Bool, by delta: Int) -> [BoundSQL] {
        let month = monthKey(r.createdAt), shard = dialect.counterShard(), isOpen = open ? 1 : 0
        guard let lat = r.lat, let lng = r.lng else {
            return ["(\(r.communityID), \(month), 0, \(r.category), \(isOpen), \(r.compoundID ?? r.communityID), 0, \(shard), \(delta))"]
        }
        return spotScales.map { k in
            """
            (\(r.communityID), \(month), \(k), \(r.category), \(isOpen), CAST(ROUND(\(lat) * \(unsafeRaw: String(k))) AS BIGINT),
             CAST(ROUND(\(lng) * \(unsafeRaw: String(k))) AS BIGINT), \(shard), \(delta))
            """
        }
    }

    /// One statement adding rows to the spots, in the order given (PostgreSQL takes their
    /// locks in that order).
    static func addToSpots(_ rows: [BoundSQL]) -> BoundSQL {
        var values: BoundSQL = ""
        for (i, row) in rows.enumerated() { values = i == 0 ? row : "\(values), \(row)" }
        return """
            INSERT INTO request_spots (\(unsafeRaw: spotKey), shard, n) VALUES \(values)
            ON CONFLICT (\(unsafeRaw: spotKey), shard) DO UPDATE SET n = request_spots.n + excluded.n
            """
    }

    /// What a filed request adds.
    static func spotAddition(_ dialect: Dialect, _ r: Row) -> BoundSQL { addToSpots(spotRows(dialect, r, open: true, by: 1)) }

    /// A step that took a request from open to closed or back moves it between the two, in one
    /// statement with the closed rows first whichever way it moves: two steps moving requests of
    /// one spot in opposite directions take the rows' locks alike on PostgreSQL, not crosswise.
    static func spotMoves(_ dialect: Dialect, _ r: Row, was old: Row) -> [BoundSQL] {
        guard r.status.isOpen != old.status.isOpen else { return [] }
        let closing = old.status.isOpen
        return [addToSpots(spotRows(dialect, r, open: false, by: closing ? 1 : -1) + spotRows(dialect, r, open: true, by: closing ? -1 : 1))]
    }

    /// Requests of some communities and categories counted per spot over whole months [first,
    /// last] (YYYYMM): squares at `scale` by their rounded numbers, and places (`place`, id in `y`).
    static func keptSpots(_ db: any SQLDatabase, communities: [Int64], months: ClosedRange<Int>, codes: [String], openOnly: Bool,
                          scale: Int) async throws -> [(place: Bool, y: Int64, x: Int64, n: Int)] {
        try await db.query("""
            SELECT scale, y, x, CAST(SUM(n) AS BIGINT) AS n FROM request_spots
            WHERE community_id IN (\(list: communities)) AND month >= \(months.lowerBound) AND month <= \(months.upperBound)
              AND scale IN (0, \(scale)) AND category IN (\(list: codes))\(unsafeRaw: openOnly ? " AND is_open = 1" : "")
            GROUP BY scale, y, x
            """).all().map { r in
            (try r.decode(column: "scale", as: Int.self) == 0, try r.decode(column: "y", as: Int64.self), try r.decode(column: "x", as: Int64.self),
             try r.decode(column: "n", as: Int.self))
        }
    }

    /// Where the kept spots and the requests table disagree (`linli figures-check`).
    public func checkSpots() async throws -> [(community: Int64, month: Int64, spot: String, kept: Int64, counted: Int64)] {
        try await store.read { db in
            func rows(_ sql: String) async throws -> [String: (community: Int64, month: Int64, n: Int64)] {
                var out: [String: (community: Int64, month: Int64, n: Int64)] = [:]
                for r in try await db.raw("\(unsafeRaw: sql)").all() {
                    let c = try r.decode(column: "community_id", as: Int64.self), m = try r.decode(column: "month", as: Int64.self)
                    let spot = "\(try r.decode(column: "category", as: String.self)), \(try r.decode(column: "is_open", as: Int64.self) == 1 ? "open" : "closed"), "
                        + (try r.decode(column: "scale", as: Int64.self) == 0
                           ? "place \(try r.decode(column: "y", as: Int64.self))"
                           : "scale \(try r.decode(column: "scale", as: Int64.self)) (\(try r.decode(column: "y", as: Int64.self)), \(try r.decode(column: "x", as: Int64.self)))")
                    out["\(c) \(m) \(spot)"] = (c, m, try r.decode(column: "n", as: Int64.self))
                }
                return out
            }
            let kept = try await rows("""
                SELECT \(Self.spotKey), CAST(SUM(n) AS BIGINT) AS n FROM request_spots GROUP BY \(Self.spotKey) HAVING SUM(n) <> 0
                """)
            let fill = Self.spotsFill(store.dialect)
            let counted = try await rows(String(fill[fill.range(of: "SELECT")!.lowerBound...]))
            return Set(kept.keys).union(counted.keys).sorted().compactMap { key in
                let k = kept[key], c = counted[key]
                guard k?.n != c?.n else { return nil }
                let at = k ?? c!
                return (at.community, at.month, String(key.split(separator: " ", maxSplits: 2)[2]), k?.n ?? 0, c?.n ?? 0)
            }
        }
    }
}
