import SQLKit
import LinliCore
import LinliStore

/// A building on the situation map (村情图), or at a street's scale a compound: how many
/// households it has and how many of them have each situation. Counts of a place, never which
/// household or person carries a tag.
public struct MapBlock: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var households: Int
    /// Situation (a resident tag) → households here with a resident who has it.
    public var situations: [String: Int]
    /// Grid → households of this block in it (a block may be split between grids).
    public var grids: [Int64: Int]
}

/// A compound lacking one of the three bodies a compound should have (property company,
/// owners' committee, party branch): the situation map's "uncovered" layer.
public struct UncoveredCompound: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var hasProperty: Bool
    public var hasOwnersCommittee: Bool
    public var hasPartyBranch: Bool
    enum CodingKeys: String, CodingKey {
        case id, name, lat, lng, hasProperty = "has_property", hasOwnersCommittee = "has_owners_committee", hasPartyBranch = "has_party_branch"
    }
}

/// A community or street the situation map may show, with its positioned places' names.
public struct SituationPlace: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: PlaceKind
    public var path: String
}

extension RegistryService {
    /// Streets and communities inside the actor's grants for `action` (at most 500), streets first.
    public func situationPlaces(actor: Actor, _ action: Action) async throws -> [SituationPlace] {
        try await store.read { db in
            var out: [SituationPlace] = []
            var seen = Set<Int64>()
            for g in actor.grants(for: action) where g.role.isStaff {
                let rows = try await db.query("""
                    SELECT id, name, kind, path FROM places WHERE kind IN ('street', 'town', 'community', 'village')
                    AND \(store.dialect.startsWith("path", g.placePath)) ORDER BY path LIMIT 500
                    """).all()
                for r in rows {
                    let id = try r.decode(column: "id", as: Int64.self)
                    guard seen.insert(id).inserted, let kind = PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)) else { continue }
                    out.append(SituationPlace(id: id, name: try r.decode(column: "name", as: String.self), kind: kind,
                                              path: try r.decode(column: "path", as: String.self)))
                }
            }
            return out
        }
    }

    /// A street or community the actor may see the map of, or 404 (a place outside their grants
    /// answers exactly like a missing one; a building is not a map's area).
    public func situationPlace(_ id: Int64, actor: Actor, _ action: Action) async throws -> SituationPlace {
        try await store.read { db in
            guard let p = try await fetchPlace(db, id), p.kind.rank == 2 || p.kind.rank == 3, actor.may(action, on: p.scope) else {
                throw LinliError.notFound
            }
            return SituationPlace(id: p.id, name: p.name, kind: p.kind, path: p.path)
        }
    }

    /// Households by situation per building (per compound when the place is a street), counted
    /// in the database: one pass over the place's households and their residents.
    public func situationBlocks(_ place: SituationPlace) async throws -> [MapBlock] {
        let tags = ResidentTag.allCases.map(\.rawValue)
        // One count per tag; a tag is a whole item of the comma list ("elderly" is not "elderly_alone").
        let counts = tags.enumerated().map { i, t in
            "COUNT(DISTINCT CASE WHEN (',' || r.tags || ',') LIKE '%,\(t),%' THEN h.id END) AS t\(i)"
        }.joined(separator: ", ")
        return try await store.read { db in
            let rows = try await db.query("""
                SELECT CASE WHEN p.kind = 'unit' THEN p.parent_id ELSE p.id END AS block, h.grid_id, COUNT(DISTINCT h.id) AS households, \(unsafeRaw: counts)
                FROM households h JOIN places p ON p.id = h.place_id LEFT JOIN residents r ON r.household_id = h.id
                WHERE \(store.dialect.startsWith("h.path", place.path))
                GROUP BY CASE WHEN p.kind = 'unit' THEN p.parent_id ELSE p.id END, h.grid_id
                """).all()
            var blocks: [Int64: MapBlock] = [:]
            for r in rows {
                let id = try r.decode(column: "block", as: Int64.self)
                var b = blocks[id] ?? MapBlock(id: id, name: "", lat: nil, lng: nil, households: 0, situations: [:], grids: [:])
                let n = try r.decode(column: "households", as: Int.self)
                b.households += n
                b.grids[try r.decode(column: "grid_id", as: Int64.self), default: 0] += n
                for (i, t) in tags.enumerated() {
                    let c = try r.decode(column: "t\(i)", as: Int.self)
                    if c > 0 { b.situations[t, default: 0] += c }
                }
                blocks[id] = b
            }
            try await position(db, &blocks, upTo: place.kind.rank == 2 ? 4 : 5)
            return blocks.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        }
    }

    /// Names and positions for blocks: a building is named with its compound ("阳光小区 3幢") and
    /// takes its compound's point when it has none of its own; at `upTo` 4 (a street's map)
    /// buildings are folded into their compounds.
    func position(_ db: any SQLDatabase, _ blocks: inout [Int64: MapBlock], upTo rank: Int) async throws {
        guard !blocks.isEmpty else { return }
        struct P { var parent: Int64?; var kind: PlaceKind; var name: String; var lat: Double?; var lng: Double? }
        func load(_ ids: [Int64]) async throws -> [Int64: P] {
            var out: [Int64: P] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                for r in try await db.query("SELECT id, parent_id, kind, name, lat, lng FROM places WHERE id IN (\(list: chunk))").all() {
                    out[try r.decode(column: "id", as: Int64.self)] = P(parent: try r.decode(column: "parent_id", as: Int64?.self),
                        kind: PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .unit, name: try r.decode(column: "name", as: String.self),
                        lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self))
                }
            }
            return out
        }
        let own = try await load(Array(blocks.keys))
        let parents = try await load(Array(Set(own.values.compactMap { $0.kind == .building ? $0.parent : nil })))
        var out: [Int64: MapBlock] = [:]
        for (id, b) in blocks {
            guard let p = own[id] else { continue }
            let parent = p.kind == .building ? p.parent.flatMap { parents[$0] } : nil
            if rank == 4, p.kind == .building, let pid = p.parent, let c = parent {
                // Fold the building into its compound.
                var m = out[pid] ?? MapBlock(id: pid, name: c.name, lat: c.lat, lng: c.lng, households: 0, situations: [:], grids: [:])
                m.households += b.households
                m.situations.merge(b.situations, uniquingKeysWith: +)
                m.grids.merge(b.grids, uniquingKeysWith: +)
                out[pid] = m
                continue
            }
            var m = b
            m.name = parent.map { $0.name + " " + p.name } ?? p.name
            m.lat = p.lat ?? parent?.lat
            m.lng = p.lng ?? parent?.lng
            out[id] = m
        }
        blocks = out
    }

    /// A place's grids (every community's under a street), for names on the map.
    public func situationGrids(_ place: SituationPlace) async throws -> [GridSummary] {
        try await store.read { db in
            try await db.query("""
                SELECT g.id, g.name, g.level, g.parent_id FROM grids g JOIN places c ON c.id = g.community_id
                WHERE \(store.dialect.startsWith("c.path", place.path)) ORDER BY g.id
                """).all().map { r in
                GridSummary(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                            level: try r.decode(column: "level", as: String.self), parentID: try r.decode(column: "parent_id", as: Int64?.self))
            }
        }
    }

    /// Compounds of the place without a property company, an owners' committee or a party branch.
    public func uncoveredCompounds(_ place: SituationPlace) async throws -> [UncoveredCompound] {
        try await store.read { db in
            try await db.query("""
                SELECT c.id, c.name, c.lat, c.lng,
                  CASE WHEN EXISTS (SELECT 1 FROM organisation_compounds oc WHERE oc.compound_id = c.id) THEN 1 ELSE 0 END AS has_property,
                  CASE WHEN EXISTS (SELECT 1 FROM organisations o WHERE o.place_id = c.id AND o.kind = 'owners_committee') THEN 1 ELSE 0 END AS has_owners,
                  CASE WHEN EXISTS (SELECT 1 FROM organisations o WHERE o.place_id = c.id AND o.kind = 'party_branch') THEN 1 ELSE 0 END AS has_branch
                FROM places c WHERE c.kind = 'compound' AND \(store.dialect.startsWith("c.path", place.path)) ORDER BY c.path
                """).all().compactMap { r in
                let u = UncoveredCompound(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                                          lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self),
                                          hasProperty: try r.decode(column: "has_property", as: Int.self) != 0,
                                          hasOwnersCommittee: try r.decode(column: "has_owners", as: Int.self) != 0,
                                          hasPartyBranch: try r.decode(column: "has_branch", as: Int.self) != 0)
                return u.hasProperty && u.hasOwnersCommittee && u.hasPartyBranch ? nil : u
            }
        }
    }

    /// Positions of places by id (compounds where requests without a point of their own are drawn).
    public func placePositions(_ ids: [Int64]) async throws -> [Int64: (name: String, lat: Double, lng: Double)] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in
            var out: [Int64: (name: String, lat: Double, lng: Double)] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                for r in try await db.query("SELECT id, name, lat, lng FROM places WHERE id IN (\(list: chunk)) AND lat IS NOT NULL AND lng IS NOT NULL").all() {
                    out[try r.decode(column: "id", as: Int64.self)] = (try r.decode(column: "name", as: String.self),
                                                                       try r.decode(column: "lat", as: Double.self), try r.decode(column: "lng", as: Double.self))
                }
            }
            return out
        }
    }

    /// Facilities of a place, with positions.
    public func situationFacilities(_ place: SituationPlace, lang: Lang) async throws -> [MapPoint] {
        try await store.read { db in
            try await db.query("""
                SELECT f.name, f.kind, f.lat, f.lng FROM facilities f JOIN places p ON p.id = f.place_id
                WHERE \(store.dialect.startsWith("p.path", place.path)) ORDER BY f.kind, f.id LIMIT 2000
                """).all().map { r in
                let kind = try r.decode(column: "kind", as: String.self)
                return MapPoint(name: try r.decode(column: "name", as: String.self), label: I18n.label(kind, lang), kind: kind,
                                lat: try r.decode(column: "lat", as: Double.self), lng: try r.decode(column: "lng", as: Double.self))
            }
        }
    }
}

extension RegistryService {
    /// The communities (and villages) under a path.
    public func communityIDs(under path: String) async throws -> [Int64] {
        try await store.read { db in
            try await db.query("""
                SELECT id FROM places WHERE kind IN ('community', 'village') AND \(store.dialect.startsWith("path", path)) ORDER BY id
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
        }
    }
}

extension RegistryService {
    /// For each place, the block it belongs to (a unit's building; any other place itself) with
    /// a name a resident would say ("阳光小区 3幢"), and whether that is a building (or a
    /// villager group's or hamlet's households) rather than a compound or a community.
    public func blocks(of placeIDs: [Int64]) async throws -> [Int64: (id: Int64, name: String, isBuilding: Bool)] {
        guard !placeIDs.isEmpty else { return [:] }
        return try await store.read { db in
            struct P { var parent: Int64?; var kind: PlaceKind; var name: String }
            func load(_ ids: [Int64]) async throws -> [Int64: P] {
                var out: [Int64: P] = [:]
                for start in stride(from: 0, to: ids.count, by: 500) {
                    let chunk = Array(ids[start..<min(start + 500, ids.count)])
                    for r in try await db.query("SELECT id, parent_id, kind, name FROM places WHERE id IN (\(list: chunk))").all() {
                        out[try r.decode(column: "id", as: Int64.self)] = P(parent: try r.decode(column: "parent_id", as: Int64?.self),
                            kind: PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .unit, name: try r.decode(column: "name", as: String.self))
                    }
                }
                return out
            }
            let own = try await load(placeIDs)
            let blockIDs = Set(own.map { id, p in p.kind == .unit ? (p.parent ?? id) : id })
            let blocks = try await load(Array(blockIDs.subtracting(own.keys))).merging(own) { a, _ in a }
            let parents = try await load(Array(Set(blocks.values.compactMap { $0.kind == .building ? $0.parent : nil })))
            var out: [Int64: (id: Int64, name: String, isBuilding: Bool)] = [:]
            for (id, p) in own {
                let bid = p.kind == .unit ? (p.parent ?? id) : id
                guard let b = blocks[bid] else { continue }
                let prefix = b.kind == .building ? b.parent.flatMap { parents[$0]?.name }.map { $0 + " " } ?? "" : ""
                out[id] = (bid, prefix + b.name, b.kind == .building || b.kind == .villagerGroup || b.kind == .naturalVillage)
            }
            return out
        }
    }

    /// Names of places by id.
    public func placeNames(_ ids: [Int64]) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in
            var out: [Int64: String] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                for r in try await db.query("SELECT id, name FROM places WHERE id IN (\(list: chunk))").all() {
                    out[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "name", as: String.self)
                }
            }
            return out
        }
    }
}
