import SQLKit
import LinliCore
import LinliStore

/// A building on the situation map (村情图), or at a street's scale a compound: how many
/// households it has and how many of them have each situation. Counts of a place, never which
/// household or person carries a tag.
public struct MapBlock: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var households: Int
    /// Situation (a resident tag) → households here with a resident who has it.
    public var situations: [String: Int]
    /// Grid → households of this block in it (a block may be split between grids).
    public var grids: [Int64: Int]
    public var residents: Int = 0
}

/// A compound and which of the three bodies a compound should have it has (property company,
/// owners' committee, party branch): the coverage page's and the situation map's data.
public struct CompoundCoverage: Sendable, Equatable {
    public var id: Int64
    public var path: String
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var hasProperty: Bool
    public var hasOwnersCommittee: Bool
    public var hasPartyBranch: Bool
    public var complete: Bool { hasProperty && hasOwnersCommittee && hasPartyBranch }
}

/// A place as the map needs it: its parent, kind, name and point (when it has one).
public struct PlaceSpot: Sendable, Equatable {
    public var parentID: Int64?
    public var kind: PlaceKind
    public var name: String
    public var lat: Double?
    public var lng: Double?
}

/// A place a page lets the actor choose (a community, or a street for the situation map).
public struct SituationPlace: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: PlaceKind
    public var path: String

    package init(id: Int64, name: String, kind: PlaceKind, path: String) {
        self.id = id; self.name = name; self.kind = kind; self.path = path
    }
}

extension RegistryService {
    /// Places of these kinds inside the actor's staff grants for `action` (at most 500 a grant),
    /// in path order (so a street comes before its communities).
    func grantedPlaces(actor: Actor, _ action: Action, kinds: [PlaceKind]) async throws -> [SituationPlace] {
        let kindList = kinds.map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try await store.read { db in
            var out: [SituationPlace] = []
            var seen = Set<Int64>()
            for g in actor.grants(for: action) where g.role.isStaff {
                let rows = try await db.query("""
                    SELECT id, name, kind, path FROM places WHERE kind IN (\(unsafeRaw: kindList))
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

    /// Streets and communities the situation map may show.
    public func situationPlaces(actor: Actor, _ action: Action) async throws -> [SituationPlace] {
        try await grantedPlaces(actor: actor, action, kinds: PlaceKind.allCases.filter { $0.rank == 2 || $0.rank == 3 })
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

    /// Households by situation per building (per compound when the place is a street), from the
    /// counts the registry keeps (SituationCounts.swift), found through the buildings under the
    /// place's path. The database folds a street's buildings into their compounds and turns each
    /// block's situation rows into one row: a street of 100,000 households has 17,000 kept rows,
    /// and decoding them one by one was most of the layer's time.
    /// `fold: false` keeps a street's buildings apart (the 15-minute circle walks from each).
    public func situationBlocks(_ place: SituationPlace, fold: Bool = true) async throws -> [MapBlock] {
        let situations = ["", Self.residentsRow] + ResidentTag.allCases.map(\.rawValue)
        let folded = fold && place.kind.rank == 2
        let block = folded ? "CASE WHEN p.kind = 'building' THEN p.parent_id ELSE p.id END" : "c.block_id"
        let sums = situations.enumerated().map { i, s in
            "CAST(SUM(CASE WHEN c.situation = '\(s)' THEN c.households ELSE 0 END) AS BIGINT) AS s\(i)"
        }.joined(separator: ", ")
        return try await store.readHeavy { db in
            let rows = try await db.query("""
                SELECT \(unsafeRaw: block) AS block, c.grid_id, \(unsafeRaw: sums) FROM situation_counts c JOIN places p ON p.id = c.block_id
                WHERE \(store.dialect.startsWith("p.path", place.path)) GROUP BY \(unsafeRaw: block), c.grid_id
                """).all()
            var blocks: [Int64: MapBlock] = [:]
            for r in rows {
                let id = try r.decode(column: "block", as: Int64.self)
                var b = blocks[id] ?? MapBlock(id: id, name: "", lat: nil, lng: nil, households: 0, situations: [:], grids: [:])
                let n = try r.decode(column: "s0", as: Int.self)
                b.households += n
                b.grids[try r.decode(column: "grid_id", as: Int64.self), default: 0] += n
                b.residents += try r.decode(column: "s1", as: Int.self)
                for i in 2..<situations.count {
                    let c = try r.decode(column: "s\(i)", as: Int.self)
                    if c > 0 { b.situations[situations[i], default: 0] += c }
                }
                blocks[id] = b
            }
            try await position(db, &blocks, upTo: folded ? 4 : 5)
            return blocks.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        }
    }

    /// Names and positions for blocks: a building is named with its compound ("阳光小区 3幢") and
    /// takes its compound's point when it has none of its own; at `upTo` 4 (a street's map)
    /// buildings are folded into their compounds.
    func position(_ db: any SQLDatabase, _ blocks: inout [Int64: MapBlock], upTo rank: Int) async throws {
        guard !blocks.isEmpty else { return }
        let own = try await placeSpots(db, Array(blocks.keys))
        let parents = try await placeSpots(db, Array(Set(own.values.compactMap { $0.kind == .building ? $0.parentID : nil })))
        var out: [Int64: MapBlock] = [:]
        for (id, b) in blocks {
            guard let p = own[id] else { continue }
            let parent = p.kind == .building ? p.parentID.flatMap { parents[$0] } : nil
            if rank == 4, p.kind == .building, let pid = p.parentID, let c = parent {
                // Fold the building into its compound.
                var m = out[pid] ?? MapBlock(id: pid, name: c.name, lat: c.lat, lng: c.lng, households: 0, situations: [:], grids: [:])
                m.households += b.households
                m.residents += b.residents
                m.situations.merge(b.situations, uniquingKeysWith: +)
                m.grids.merge(b.grids, uniquingKeysWith: +)
                out[pid] = m
                continue
            }
            var m = b
            m.name = parent.map { $0.name + " " + p.name } ?? p.name
            m.lat = p.lat ?? parent?.lat
            m.lng = p.lng ?? parent?.lng
            // A villager group holds households itself and may have buildings folded into it
            // already (or later: the dictionary's order is not fixed): add, never overwrite.
            if let folded = out[id] {
                m.households += folded.households
                m.residents += folded.residents
                m.situations.merge(folded.situations, uniquingKeysWith: +)
                m.grids.merge(folded.grids, uniquingKeysWith: +)
            }
            out[id] = m
        }
        blocks = out
    }

    /// A place's grids (every community's under a street), for names on the map.
    public func situationGrids(_ place: SituationPlace) async throws -> [GridSummary] {
        try await store.readHeavy { db in
            try await db.query("""
                SELECT g.id, g.name, g.level, g.parent_id FROM grids g JOIN places c ON c.id = g.community_id
                WHERE \(store.dialect.startsWith("c.path", place.path)) ORDER BY g.id
                """).all().map(Self.gridSummary)
        }
    }

    /// Compounds of the place without a property company, an owners' committee or a party branch.
    public func uncoveredCompounds(_ place: SituationPlace) async throws -> [CompoundCoverage] {
        try await store.readHeavy { db in try await compoundCoverage(db, under: place.path).filter { !$0.complete } }
    }

    /// Every compound under a path with which of the three bodies it has, in path order.
    func compoundCoverage(_ db: any SQLDatabase, under path: String) async throws -> [CompoundCoverage] {
        try await db.query("""
            SELECT c.id, c.path, c.name, c.lat, c.lng,
              CASE WHEN EXISTS (SELECT 1 FROM organisation_compounds oc WHERE oc.compound_id = c.id) THEN 1 ELSE 0 END AS has_property,
              CASE WHEN EXISTS (SELECT 1 FROM organisations o WHERE o.place_id = c.id AND o.kind = 'owners_committee') THEN 1 ELSE 0 END AS has_owners,
              CASE WHEN EXISTS (SELECT 1 FROM organisations o WHERE o.place_id = c.id AND o.kind = 'party_branch') THEN 1 ELSE 0 END AS has_branch
            FROM places c WHERE c.kind = 'compound' AND \(store.dialect.startsWith("c.path", path)) ORDER BY c.path
            """).all().map { r in
            CompoundCoverage(id: try r.decode(column: "id", as: Int64.self), path: try r.decode(column: "path", as: String.self),
                             name: try r.decode(column: "name", as: String.self),
                             lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self),
                             hasProperty: try r.decode(column: "has_property", as: Int.self) != 0,
                             hasOwnersCommittee: try r.decode(column: "has_owners", as: Int.self) != 0,
                             hasPartyBranch: try r.decode(column: "has_branch", as: Int.self) != 0)
        }
    }

    /// Places by id, as the map needs them (any number; read 500 at a time).
    func placeSpots(_ db: any SQLDatabase, _ ids: [Int64]) async throws -> [Int64: PlaceSpot] {
        var out: [Int64: PlaceSpot] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            for r in try await db.query("SELECT id, parent_id, kind, name, lat, lng FROM places WHERE id IN (\(list: chunk))").all() {
                out[try r.decode(column: "id", as: Int64.self)] = PlaceSpot(parentID: try r.decode(column: "parent_id", as: Int64?.self),
                    kind: PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .unit, name: try r.decode(column: "name", as: String.self),
                    lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self))
            }
        }
        return out
    }

    /// The same for another capability (the names of communities, the points of compounds).
    public func placeSpots(_ ids: [Int64]) async throws -> [Int64: PlaceSpot] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in try await placeSpots(db, ids) }
    }

    /// Facilities of a place, with positions.
    public func situationFacilities(_ place: SituationPlace, lang: Lang) async throws -> [MapPoint] {
        try await store.readHeavy { db in try await facilityPoints(db, under: place.path, lang: lang) }
    }

    /// The communities (and villages) under a path.
    public func communityIDs(under path: String) async throws -> [Int64] {
        try await store.read { db in
            try await db.query("""
                SELECT id FROM places WHERE kind IN ('community', 'village') AND \(store.dialect.startsWith("path", path)) ORDER BY id
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
        }
    }

    /// For each place, the block it belongs to (a unit's building; any other place itself) with
    /// a name a resident would say ("阳光小区 3幢"), and whether that is a building (or a
    /// villager group's or hamlet's households) rather than a compound or a community.
    public func blocks(of placeIDs: [Int64]) async throws -> [Int64: (id: Int64, name: String, isBuilding: Bool)] {
        guard !placeIDs.isEmpty else { return [:] }
        return try await store.read { db in
            let own = try await placeSpots(db, placeIDs)
            func block(_ id: Int64, _ p: PlaceSpot) -> Int64 { p.kind == .unit ? (p.parentID ?? id) : id }
            let blockIDs = Set(own.map { block($0.key, $0.value) })
            let blocks = try await placeSpots(db, Array(blockIDs.subtracting(own.keys))).merging(own) { a, _ in a }
            let parents = try await placeSpots(db, Array(Set(blocks.values.compactMap { $0.kind == .building ? $0.parentID : nil })))
            var out: [Int64: (id: Int64, name: String, isBuilding: Bool)] = [:]
            for (id, p) in own {
                guard let b = blocks[block(id, p)] else { continue }
                let prefix = b.kind == .building ? b.parentID.flatMap { parents[$0]?.name }.map { $0 + " " } ?? "" : ""
                out[id] = (block(id, p), prefix + b.name, b.kind == .building || b.kind == .villagerGroup || b.kind == .naturalVillage)
            }
            return out
        }
    }
}
