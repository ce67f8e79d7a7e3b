import SQLKit
import LinliCore
import LinliStore

/// What another capability may know of a household to plan its work around it (grid work's
/// visit plans): where it is, whose grid it is in, and its situations — the union of its
/// residents' tags, never which resident carries which.
public struct HouseholdFacts: Sendable, Equatable {
    public var id: Int64
    public var communityID: Int64
    public var gridID: Int64
    public var microGridID: Int64
    public var path: String
    public var address: String
    public var code: String
    public var situations: Set<String>

    var scope: ObjectScope { ObjectScope(path: path, gridIDs: [gridID, microGridID], householdID: id) }
}

extension RegistryService {
    static let factColumns = """
        SELECT h.id, h.community_id, h.grid_id, h.micro_grid_id, h.path, h.address, h.code, r.tags
        FROM households h LEFT JOIN residents r ON r.household_id = h.id
        """

    /// The facts of the households named (any number; read 500 at a time).
    func householdFacts(_ db: any SQLDatabase, ids: [Int64]) async throws -> [HouseholdFacts] {
        var out: [HouseholdFacts] = []
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            out += try Self.folded(try await db.query("\(unsafeRaw: Self.factColumns) WHERE h.id IN (\(list: chunk)) ORDER BY h.id").all())
        }
        return out
    }

    /// The facts of every household of a community.
    func householdFacts(_ db: any SQLDatabase, community: Int64) async throws -> [HouseholdFacts] {
        try Self.folded(try await db.query("\(unsafeRaw: Self.factColumns) WHERE h.community_id = \(community) ORDER BY h.id").all())
    }

    /// A household by its printed code: the whole code, the card's address (`…/h/CODE`), or its
    /// first eight characters as printed under the QR ("ABCD-EFGH"). Nil when none matches.
    func householdFacts(_ db: any SQLDatabase, code raw: String) async throws -> HouseholdFacts? {
        var text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if let r = text.range(of: "/h/", options: .backwards) { text = String(text[r.upperBound...]) }
        let code = Self.normaliseHouseholdCode(text)
        guard code.count >= 8 else { return nil }
        let rows = try await db.query("SELECT id FROM households WHERE \(store.dialect.startsWith("code", code)) LIMIT 2").all()
        // Eight characters of a random token name one household; two matches name none.
        guard rows.count == 1 else { return nil }
        return try await householdFacts(db, ids: [try rows[0].decode(column: "id", as: Int64.self)]).first
    }

    /// Rows of `factColumns`, one per resident, folded into one per household (in id order).
    static func folded(_ rows: [any SQLRow]) throws -> [HouseholdFacts] {
        var out: [HouseholdFacts] = []
        for r in rows {
            let id = try r.decode(column: "id", as: Int64.self)
            if out.last?.id != id {
                out.append(HouseholdFacts(id: id, communityID: try r.decode(column: "community_id", as: Int64.self),
                                          gridID: try r.decode(column: "grid_id", as: Int64.self),
                                          microGridID: try r.decode(column: "micro_grid_id", as: Int64.self),
                                          path: try r.decode(column: "path", as: String.self),
                                          address: try r.decode(column: "address", as: String.self),
                                          code: try r.decode(column: "code", as: String.self), situations: []))
            }
            if let tags = try r.decode(column: "tags", as: String?.self), !tags.isEmpty {
                for t in tags.split(separator: ",") { out[out.count - 1].situations.insert(String(t)) }
            }
        }
        return out
    }
}

extension RegistryService {
    /// Communities (and villages) inside the actor's grants for `action`, for a page's choice.
    func communityChoices(actor: Actor, _ action: Action) async throws -> [(id: Int64, name: String)] {
        try await store.read { db in
            var out: [(Int64, String)] = []
            var seen = Set<Int64>()
            let kinds = PlaceKind.allCases.filter(\.isCommunity).map { "'\($0.rawValue)'" }.joined(separator: ",")
            for g in actor.grants(for: action) where g.role.isStaff {
                let rows = try await db.query("""
                    SELECT id, name FROM places WHERE kind IN (\(unsafeRaw: kinds)) AND \(store.dialect.startsWith("path", g.placePath)) ORDER BY path LIMIT 500
                    """).all()
                for r in rows {
                    let id = try r.decode(column: "id", as: Int64.self)
                    if seen.insert(id).inserted { out.append((id, try r.decode(column: "name", as: String.self))) }
                }
            }
            return out
        }
    }
}
