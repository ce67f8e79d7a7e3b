import Foundation
import LinliCore
import LinliStore
import LinliServer

/// One building's (or, on a street's map, one compound's) households by situation.
public struct SituationBlockView: Codable, Sendable, Equatable {
    public struct Count: Codable, Sendable, Equatable { public var situation: String; public var label: String; public var households: Int }
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var households: Int
    public var situations: [Count]
}

/// A grid on the map: its buildings' squares, households and visit coverage.
public struct GridAreaView: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var households: Int
    public var planned: Int
    public var covered: Int
    public var overdue: Int
    /// Percent of planned households visited in their current window; nil when none is planned.
    public var rate: Int?
    public var band: String
    /// One square per building with a point ([[lat, lng] × 4] each); empty when none has one.
    public var squares: [[[Double]]]
    /// The boundary the community drew ([[lat, lng], …]), drawn instead of the squares when there is one.
    public var boundary: [[Double]]? = nil
}

/// Requests counted in one square of the map, or at a place when they had no point.
public struct RequestCellView: Codable, Sendable, Equatable {
    public var lat: Double
    public var lng: Double
    public var count: Int
    /// The compound (or community) they were drawn at, when they had no point of their own.
    public var place: String?
}

public struct RequestLayerView: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var category: String?
    public var openOnly: Bool
    /// The side of a square, in degrees of latitude.
    public var cell: Double
    public var total: Int
    /// Requests with neither a point nor a place with one (counted, not drawn).
    public var unplaced: Int
    public var cells: [RequestCellView]
    enum CodingKeys: String, CodingKey { case from, to, category, openOnly = "open_only", cell, total, unplaced, cells }
}

public struct UncoveredView: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    /// What it lacks, in words.
    public var missing: [String]
    public var lacks: [String]
}

/// The situation map (村情图): a street's or community's people, places, things, events and
/// organisations as layers, each counted where its data lives (the registry, requests, grid work)
/// and put together here. Staff only, inside their grants; other places answer 404.
public struct SituationService: Sendable {
    let registry: RegistryService
    let requests: RequestsService
    let gridWork: GridWorkService
    /// The needs pool and the purchased services that reach each community (the gap).
    let linkage: LinkageService
    let env: Env

    public init(registry: RegistryService, requests: RequestsService, gridWork: GridWorkService, linkage: LinkageService, env: Env) {
        self.registry = registry; self.requests = requests; self.gridWork = gridWork; self.linkage = linkage; self.env = env
    }

    /// The places the actor may see the map of (streets first, then communities).
    public func places(actor: Actor) async throws -> [SituationPlace] {
        try actor.require(.situationView)
        return try await registry.situationPlaces(actor: actor, .situationView)
    }

    public func place(_ id: Int64, actor: Actor) async throws -> SituationPlace {
        try actor.require(.situationView)
        return try await registry.situationPlace(id, actor: actor, .situationView)
    }

    // Each layer twice: by id for its API route (scope checked there), and from a place already
    // checked, for the page that shows them all.

    public func households(place id: Int64, actor: Actor, lang: Lang) async throws -> [SituationBlockView] {
        Self.views(try await blocks(try await place(id, actor: actor)), lang: lang)
    }

    func blocks(_ p: SituationPlace) async throws -> [MapBlock] { try await registry.situationBlocks(p) }

    static func views(_ blocks: [MapBlock], lang: Lang) -> [SituationBlockView] {
        blocks.map { b in
            SituationBlockView(id: b.id, name: b.name, lat: b.lat, lng: b.lng, households: b.households,
                               situations: ResidentTag.allCases.compactMap { t in
                                   b.situations[t.rawValue].map { .init(situation: t.rawValue, label: SituationCapability.words.label(t.rawValue, lang), households: $0) }
                               })
        }
    }

    public func grids(place id: Int64, actor: Actor) async throws -> [GridAreaView] {
        let p = try await place(id, actor: actor)
        // The buildings and the coverage are read side by side: at a street of 100,000
        // households each takes tens of milliseconds, and the store has several readers.
        async let counted = blocks(p)
        let read = try await coverage(p)
        return try await grids(p, blocks: try await counted, coverage: read)
    }

    /// Visit coverage per grid of the place's communities.
    func coverage(_ p: SituationPlace) async throws -> [GridCoverage] {
        try await gridWork.gridCoverage(communities: try await communities(p))
    }

    /// Grids from blocks already counted (the page counts them once for two layers).
    func grids(_ p: SituationPlace, blocks: [MapBlock], coverage known: [GridCoverage]? = nil) async throws -> [GridAreaView] {
        let grids = try await registry.situationGrids(p).filter { $0.parentID == nil }
        let read: [GridCoverage]
        if let known { read = known } else { read = try await coverage(p) }
        let coverage = Dictionary(read.map { ($0.gridID, $0) }, uniquingKeysWith: { a, _ in a })
        var points: [Int64: [(lat: Double, lng: Double)]] = [:], households: [Int64: Int] = [:]
        for b in blocks {
            for (g, n) in b.grids {
                households[g, default: 0] += n
                if let lat = b.lat, let lng = b.lng { points[g, default: []].append((lat, lng)) }
            }
        }
        let pad = p.kind.rank >= 3 ? 0.0001 : 0.0005
        let drawn = try await registry.gridBoundaries(ids: grids.map(\.id))
        return grids.map { g in
            let c = coverage[g.id]
            let rate = SituationModel.rate(covered: c?.covered ?? 0, planned: c?.planned ?? 0)
            return GridAreaView(id: g.id, name: g.name, households: households[g.id] ?? 0, planned: c?.planned ?? 0, covered: c?.covered ?? 0,
                                overdue: c?.overdue ?? 0, rate: rate, band: SituationModel.band(rate),
                                squares: SituationModel.squares(points[g.id] ?? [], pad: pad), boundary: drawn[g.id])
        }
    }

    public func requestLayer(place id: Int64, from: String?, to: String?, category: String?, openOnly: Bool, actor: Actor) async throws -> RequestLayerView {
        try await requestLayer(try await place(id, actor: actor), from: from, to: to, category: category, openOnly: openOnly)
    }

    func requestLayer(_ p: SituationPlace, from: String?, to: String?, category: String?, openOnly: Bool) async throws -> RequestLayerView {
        let period = try SituationModel.period(from: from, to: to, today: LocalDay.of(env.nowSeconds))
        let perDegree = SituationModel.perDegree(placeRank: p.kind.rank)
        let cleanCategory = category.flatMap { $0.isEmpty ? nil : $0 }
        let cells = try await requests.requestCells(communities: try await communities(p), from: period.from, to: period.to + 1,
                                                    category: cleanCategory, openOnly: openOnly, perDegree: perDegree)
        let places = try await registry.placeSpots(Array(Set(cells.compactMap(\.placeID))))
        var out: [RequestCellView] = [], unplaced = 0
        for c in cells {
            if let lat = c.lat, let lng = c.lng { out.append(RequestCellView(lat: lat, lng: lng, count: c.count, place: nil)) }
            else if let at = c.placeID.flatMap({ places[$0] }), let lat = at.lat, let lng = at.lng {
                out.append(RequestCellView(lat: lat, lng: lng, count: c.count, place: at.name))
            }
            else { unplaced += c.count }
        }
        out.sort { ($0.count, $1.lat, $1.lng) > ($1.count, $0.lat, $0.lng) }
        return RequestLayerView(from: ChinaTime.iso(day: period.from), to: ChinaTime.iso(day: period.to), category: cleanCategory, openOnly: openOnly,
                                cell: 1 / perDegree, total: cells.reduce(0) { $0 + $1.count }, unplaced: unplaced, cells: out)
    }

    public func facilities(place id: Int64, actor: Actor, lang: Lang) async throws -> [MapPoint] {
        try await registry.situationFacilities(try await place(id, actor: actor), lang: lang)
    }

    public func uncovered(place id: Int64, actor: Actor, lang: Lang) async throws -> [UncoveredView] {
        try await uncovered(try await place(id, actor: actor), lang: lang)
    }

    func uncovered(_ p: SituationPlace, lang: Lang) async throws -> [UncoveredView] {
        let t = SituationCapability.words.table(lang)
        return try await registry.uncoveredCompounds(p).map { u in
            var lacks: [String] = []
            if !u.hasProperty { lacks.append("property_company") }
            if !u.hasOwnersCommittee { lacks.append("owners_committee") }
            if !u.hasPartyBranch { lacks.append("party_branch") }
            return UncoveredView(id: u.id, name: u.name, lat: u.lat, lng: u.lng, missing: lacks.map { t["lacks_" + $0]! }, lacks: lacks)
        }
    }

    /// The communities of a place (itself when it is one).
    func communities(_ p: SituationPlace) async throws -> [Int64] {
        if p.kind.rank >= 3 { return [p.id] }
        return try await registry.communityIDs(under: p.path)
    }
}
