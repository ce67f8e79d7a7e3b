import SQLKit
import LinliCore
import LinliStore

/// Households by situation per building and grid, kept by the registry's own writes. The
/// situation map's households and grids layers read these rows (a few thousand for a street of
/// 100,000 households) instead of grouping every household and resident at page time, which
/// took about 4 µs a household (≈400 ms for such a street).
///
/// A building's rows are counted afresh whenever one of its households changes (added, its grid
/// moved, a resident added, moved or re-tagged): the write paths already tell `householdsChanged`
/// of every such household, and a building holds a few hundred, so a recount is cheaper and
/// harder to get wrong than adding and subtracting each change.
extension RegistryService {
    /// The row of a block's residents (not a situation: no tag has this name).
    static let residentsRow = "#residents"

    /// The block a household's place belongs to: a unit's building, any other place itself.
    static let blockOfPlace = "CASE WHEN p.kind = 'unit' THEN p.parent_id ELSE p.id END"

    /// Counts from what is stored, for the households `filter` picks (alias `h`, place `p`):
    /// one row per block and grid for every household (situation ''), one for its residents
    /// ('#residents'), one per situation with a household whose resident has it. A tag is a
    /// whole item of the comma list ("elderly" is not "elderly_alone").
    ///
    /// One pass: each household is read once with its residents (how many, and which tags any
    /// of them has), then its block's rows are added up. The query this replaced
    /// (`situationCountQueryByUnion`, still the one `registry.0xx` ran) joined households,
    /// places and residents once per situation: nine passes, 30 s of a 5,000,000-resident
    /// street's load. A test compares the two on the demo street.
    static func situationCountQuery(_ filter: BoundSQL) -> BoundSQL {
        let tags = ResidentTag.allCases.map(\.rawValue)
        let flags = tags.enumerated().map { i, t in
            "MAX(CASE WHEN (',' || r.tags || ',') LIKE '%,\(t),%' THEN 1 ELSE 0 END) AS t\(i)"
        }.joined(separator: ", ")
        let situations = (["", residentsRow] + tags).map { "SELECT '\($0)' AS situation" }.joined(separator: " UNION ALL ")
        let count = "CASE s.situation WHEN '' THEN 1 WHEN '\(residentsRow)' THEN hh.residents "
            + tags.enumerated().map { i, t in "WHEN '\(t)' THEN hh.t\(i) " }.joined() + "END"
        return """
            SELECT block_id, grid_id, situation, households FROM (
                SELECT hh.block_id AS block_id, hh.grid_id AS grid_id, s.situation AS situation, CAST(SUM(\(unsafeRaw: count)) AS BIGINT) AS households
                FROM (SELECT \(unsafeRaw: blockOfPlace) AS block_id, h.grid_id AS grid_id, COUNT(r.id) AS residents, \(unsafeRaw: flags)
                      FROM households h JOIN places p ON p.id = h.place_id LEFT JOIN residents r ON r.household_id = h.id
                      WHERE \(filter) GROUP BY h.id, h.grid_id, \(unsafeRaw: blockOfPlace)) hh
                CROSS JOIN (\(unsafeRaw: situations)) s
                GROUP BY hh.block_id, hh.grid_id, s.situation
            ) counted WHERE situation = '' OR households > 0
            """
    }

    /// The nine-pass form of `situationCountQuery`, as the migration that made `situation_counts`
    /// ran it (a landed migration is not edited); the tests compare the two.
    static func situationCountQueryByUnion(_ filter: BoundSQL) -> BoundSQL {
        let from = "FROM households h JOIN places p ON p.id = h.place_id"
        let group = "GROUP BY \(blockOfPlace), h.grid_id"
        var sql: BoundSQL = """
            SELECT \(unsafeRaw: blockOfPlace) AS block_id, h.grid_id AS grid_id, '' AS situation, COUNT(*) AS households
            \(unsafeRaw: from) WHERE \(filter) \(unsafeRaw: group)
            """
        // Residents too (the 15-minute circle says how many people a building's distance concerns).
        sql = """
            \(sql) UNION ALL SELECT \(unsafeRaw: blockOfPlace), h.grid_id, '\(unsafeRaw: residentsRow)', COUNT(r.id)
            \(unsafeRaw: from) JOIN residents r ON r.household_id = h.id WHERE \(filter) \(unsafeRaw: group)
            """
        for t in ResidentTag.allCases {
            sql = """
                \(sql) UNION ALL SELECT \(unsafeRaw: blockOfPlace), h.grid_id, '\(unsafeRaw: t.rawValue)', COUNT(DISTINCT h.id)
                \(unsafeRaw: from) JOIN residents r ON r.household_id = h.id
                WHERE \(filter) AND (',' || r.tags || ',') LIKE '%,\(unsafeRaw: t.rawValue),%' \(unsafeRaw: group)
                """
        }
        return sql
    }

    /// Counts the buildings of these households afresh, in the transaction that changed them.
    package func recountSituations(_ db: any SQLDatabase, households ids: [Int64]) async throws {
        var blocks = Set<Int64>()
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            for r in try await db.query("""
                SELECT DISTINCT \(unsafeRaw: Self.blockOfPlace) AS block FROM households h JOIN places p ON p.id = h.place_id WHERE h.id IN (\(list: chunk))
                """).all() {
                blocks.insert(try r.decode(column: "block", as: Int64.self))
            }
        }
        try await recountSituations(db, blocks: blocks)
    }

    /// Counts these blocks afresh. Their places' rows are locked first, in id order: two
    /// transactions recounting one building (two residents of it edited at once, on PostgreSQL)
    /// take turns, the second deleting what the first wrote and counting again, instead of both
    /// inserting the same rows; the order keeps two buildings' recounts from waiting on each other.
    func recountSituations(_ db: any SQLDatabase, blocks: Set<Int64>) async throws {
        guard !blocks.isEmpty else { return }
        let sorted = blocks.sorted()
        if store.dialect == .postgres {
            _ = try await db.query("SELECT id FROM places WHERE id IN (\(list: sorted)) ORDER BY id\(unsafeRaw: store.dialect.lockForUpdate())").all()
        }
        let paths = try await placePaths(db, sorted)
        for block in sorted {
            guard let spot = paths[block] else { continue }
            // The block's households are under its path; the CASE keeps a compound's own
            // households apart from its buildings'.
            let filter: BoundSQL = "\(store.dialect.startsWith("h.path", spot)) AND \(unsafeRaw: Self.blockOfPlace) = \(block)"
            try await db.query("DELETE FROM situation_counts WHERE block_id = \(block)").run()
            try await db.query("""
                INSERT INTO situation_counts (block_id, grid_id, situation, households) \(Self.situationCountQuery(filter))
                """).run()
        }
    }

    func placePaths(_ db: any SQLDatabase, _ ids: [Int64]) async throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            for r in try await db.query("SELECT id, path FROM places WHERE id IN (\(list: chunk))").all() {
                out[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "path", as: String.self)
            }
        }
        return out
    }

    /// Every building counted afresh (the migration, the demo generator's bulk load, a repair).
    static func countSituationsAfresh(_ db: any SQLDatabase) async throws {
        try await db.query("DELETE FROM situation_counts").run()
        try await db.query("INSERT INTO situation_counts (block_id, grid_id, situation, households) \(situationCountQuery("1 = 1"))").run()
    }

    public func recountSituations() async throws {
        try await store.transaction { db in try await Self.countSituationsAfresh(db) }
    }

    /// Where the kept counts and a fresh count disagree (`linli figures-check`): block, grid,
    /// situation, kept, counted.
    public func checkSituations() async throws -> [(block: Int64, grid: Int64, situation: String, kept: Int, counted: Int)] {
        try await store.read { db in
            func rows(_ sql: BoundSQL) async throws -> [String: Int] {
                var out: [String: Int] = [:]
                for r in try await db.query(sql).all() {
                    let key = "\(try r.decode(column: "block_id", as: Int64.self)) \(try r.decode(column: "grid_id", as: Int64.self)) \(try r.decode(column: "situation", as: String.self))"
                    out[key] = try r.decode(column: "households", as: Int.self)
                }
                return out
            }
            let kept = try await rows("SELECT block_id, grid_id, situation, households FROM situation_counts")
            let counted = try await rows(Self.situationCountQuery("1 = 1"))
            return Set(kept.keys).union(counted.keys).sorted().compactMap { key in
                let k = kept[key] ?? 0, n = counted[key] ?? 0
                guard k != n else { return nil }
                let parts = key.split(separator: " ", omittingEmptySubsequences: false)
                return (Int64(parts[0])!, Int64(parts[1])!, String(parts[2]), k, n)
            }
        }
    }
}
