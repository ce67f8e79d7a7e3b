import SQLKit
import LinliCore
import LinliStore

/// Each community's headcount (households, residents), kept by the registry's own writes: the
/// offices' dashboards and assessments read it for a whole city, where counting 5,000,000
/// residents through their households at page time took most of a page's time.
extension RegistryService {
    /// The one statement that counts it from what is stored (the migration, a recount, the check).
    static let populationCount = """
        SELECT h.community_id, COUNT(DISTINCT h.id) AS households, COUNT(r.id) AS residents
        FROM households h LEFT JOIN residents r ON r.household_id = h.id
        """

    /// Adds to a community's headcount in the transaction that changed it (a household or a
    /// resident added, a resident moved to another community's household).
    package static func addToPopulation(_ db: any SQLDatabase, community: Int64, households: Int64 = 0, residents: Int64 = 0) async throws {
        guard households != 0 || residents != 0 else { return }
        try await db.query("""
            INSERT INTO community_population (community_id, households, residents) VALUES (\(community), \(households), \(residents))
            ON CONFLICT (community_id) DO UPDATE SET households = community_population.households + excluded.households,
                residents = community_population.residents + excluded.residents
            """).run()
    }

    /// Where the kept headcount and a fresh count disagree (`linli figures-check`).
    public func checkPopulation() async throws -> [(community: Int64, kept: [Int64], counted: [Int64])] {
        try await store.read { db in
            func rows(_ sql: String) async throws -> [Int64: [Int64]] {
                var out: [Int64: [Int64]] = [:]
                for r in try await db.raw("\(unsafeRaw: sql)").all() {
                    out[try r.decode(column: "community_id", as: Int64.self)] = [try r.decode(column: "households", as: Int64.self), try r.decode(column: "residents", as: Int64.self)]
                }
                return out
            }
            let kept = try await rows("SELECT community_id, households, residents FROM community_population")
            let counted = try await rows(Self.populationCount + " GROUP BY h.community_id")
            return Set(kept.keys).union(counted.keys).sorted().compactMap { c in
                let k = kept[c] ?? [0, 0], n = counted[c] ?? [0, 0]
                return k == n ? nil : (c, k, n)
            }
        }
    }

    /// Counts every community's headcount afresh (after the demo generator wrote households and
    /// residents in bulk, or to repair what `checkPopulation` found).
    public func recountPopulation() async throws {
        try await store.transaction { db in try await Self.countPopulationAfresh(db) }
    }

    static func countPopulationAfresh(_ db: any SQLDatabase) async throws {
        try await db.query("DELETE FROM community_population").run()
        try await db.raw("INSERT INTO community_population (community_id, households, residents) \(unsafeRaw: Self.populationCount) GROUP BY h.community_id").run()
    }
}
