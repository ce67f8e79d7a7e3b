import Foundation
import SQLKit
import LinliCore
import LinliStore
import LinliServer

/// Where a street's (or community's) walking network came from.
public struct WalkNetworkInfo: Codable, Sendable, Equatable {
    public var placeID: Int64
    public var nodes: Int
    public var edges: Int
    /// `osm` (imported from an OpenStreetMap extract) or `demo` (the demo's lattice).
    public var source: String
    public var importedAt: String
    public var by: String
    enum CodingKeys: String, CodingKey { case placeID = "place_id", nodes, edges, source, importedAt = "imported_at", by }
}

/// One kind of facility against the area's buildings: how many are beyond a 15-minute walk.
public struct CircleLine: Codable, Sendable, Equatable {
    public var kind: String
    public var label: String
    public var facilities: Int
    public var buildingsOutside: Int
    public var householdsOutside: Int
    public var residentsOutside: Int
    enum CodingKeys: String, CodingKey {
        case kind, label, facilities, buildingsOutside = "buildings_outside", householdsOutside = "households_outside", residentsOutside = "residents_outside"
    }
}

/// A building and its walk to the nearest facility of each kind (whole minutes; a kind left out
/// has none within reach along the network).
public struct CircleBuilding: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var lat: Double?
    public var lng: Double?
    public var households: Int
    public var residents: Int
    /// False when the building is further than `CircleRules.snapLimit` from every path.
    public var onNetwork: Bool
    public var minutes: [String: Int]
    enum CodingKeys: String, CodingKey { case id, name, lat, lng, households, residents, onNetwork = "on_network", minutes }
}

/// What a proposed facility would change: the buildings a 15-minute walk would newly reach.
public struct CircleProposal: Codable, Sendable, Equatable {
    public var kind: String
    public var label: String
    public var lat: Double
    public var lng: Double
    public var onNetwork: Bool
    public var buildingsBroughtIn: Int
    public var householdsBroughtIn: Int
    public var residentsBroughtIn: Int
    public var buildings: [String]
    enum CodingKeys: String, CodingKey {
        case kind, label, lat, lng, onNetwork = "on_network", buildingsBroughtIn = "buildings_brought_in", householdsBroughtIn = "households_brought_in",
             residentsBroughtIn = "residents_brought_in", buildings
    }
}

public struct CircleReport: Codable, Sendable, Equatable {
    public var placeID: Int64
    public var placeName: String
    public var minutes: Int
    public var metresPerMinute: Int
    public var network: WalkNetworkInfo?
    public var lines: [CircleLine]
    public var buildings: [CircleBuilding]
    public var facilities: [MapPoint]
    public var proposal: CircleProposal?
    /// Buildings without a point, or further than `CircleRules.snapLimit` from every path: their
    /// walks are unknown, and they are in no line's count.
    public var offNetwork: Int = 0
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", placeName = "place_name", minutes, metresPerMinute = "metres_per_minute", network, lines, buildings, facilities, proposal,
             offNetwork = "off_network"
    }
}

/// The 15-minute living circle (15分钟生活圈): from every building of a street or community,
/// the walk along its paths to the nearest facility of each kind; the office sees which
/// buildings and how many residents are beyond 15 minutes, and what a new facility would change.
/// The walking network is the area's own (imported from OpenStreetMap); staff of the area only.
public struct CircleService: Sendable {
    let store: any Store
    let registry: RegistryService
    let env: Env
    let audit: AuditLog

    public init(store: any Store, registry: RegistryService, env: Env) {
        self.store = store; self.registry = registry; self.env = env; self.audit = AuditLog(env: env)
    }

    /// Largest `.osm` extract taken (a street's few square kilometres are a few megabytes; the
    /// console's upload is a multipart form, whose bodies stop a little above this).
    public static let maxOSMBytes = 20 * 1024 * 1024

    /// The network of a place, or of the nearest place above it that has one (a community walks
    /// on its street's network).
    func network(_ db: any SQLDatabase, for place: SituationPlace) async throws -> (WalkNetworkInfo, WalkNetwork)? {
        let ids = PlacePath.ids(place.path)
        guard let r = try await db.query("""
            SELECT w.place_id, w.nodes, w.edges, w.node_count, w.edge_count, w.source, w.imported_at, w.by_name FROM walk_networks w
            JOIN places p ON p.id = w.place_id WHERE w.place_id IN (\(list: ids)) ORDER BY LENGTH(p.path) DESC LIMIT 1
            """).first() else { return nil }
        let info = WalkNetworkInfo(placeID: try r.decode(column: "place_id", as: Int64.self), nodes: try r.decode(column: "node_count", as: Int.self),
                                   edges: try r.decode(column: "edge_count", as: Int.self), source: try r.decode(column: "source", as: String.self),
                                   importedAt: LocalTime.text(try r.decode(column: "imported_at", as: Int64.self)), by: try r.decode(column: "by_name", as: String.self))
        return (info, CircleRules.network(nodes: try r.decode(column: "nodes", as: String.self), edges: try r.decode(column: "edges", as: String.self)))
    }

    /// The report; with a proposed facility (kind and point), what it would bring within reach.
    public func report(place id: Int64, proposedKind: String?, lat: String?, lng: String?, actor: Actor, lang: Lang) async throws -> CircleReport {
        try actor.require(.situationView)
        let place = try await registry.situationPlace(id, actor: actor, .situationView)
        // The proposal is checked before anything is counted: a wrong field is named.
        var proposed: (kind: FacilityKind, lat: Double, lng: Double)?
        if (proposedKind ?? "") != "" || (lat ?? "") != "" || (lng ?? "") != "" {
            var v = Validator()
            let kind = FacilityKind(rawValue: proposedKind ?? "")
            v.check(kind != nil, "proposed_kind", "invalid_choice", "请选择设施类别")
            let y = Double((lat ?? "").trimmingCharacters(in: .whitespaces)), x = Double((lng ?? "").trimmingCharacters(in: .whitespaces))
            v.check(y.map { (-90...90).contains($0) } ?? false, "lat", "out_of_range", "纬度应在 -90 到 90 之间（可在地图上点选）")
            v.check(x.map { (-180...180).contains($0) } ?? false, "lng", "out_of_range", "经度应在 -180 到 180 之间（可在地图上点选）")
            try v.throwIfAny()
            proposed = (kind!, y!, x!)
        }
        let found = try await store.read { db in try await network(db, for: place) }
        let blocks = try await registry.situationBlocks(place, fold: false)
        guard let (info, net) = found, !net.nodes.isEmpty else {
            return CircleReport(placeID: place.id, placeName: place.name, minutes: Int(CircleRules.minutes), metresPerMinute: Int(CircleRules.metresPerMinute),
                                network: nil, lines: [], buildings: blocks.map {
                                    CircleBuilding(id: $0.id, name: $0.name, lat: $0.lat, lng: $0.lng, households: $0.households, residents: $0.residents, onNetwork: false, minutes: [:])
                                }, facilities: [], proposal: nil)
        }
        // Facilities anywhere under the network's ground (a school across the boundary counts).
        // …and those a little beyond its last points, which a walk still reaches.
        let lats = net.nodes.map(\.lat), lngs = net.nodes.map(\.lng)
        let sw = boundingBox(lat: lats.min()!, lng: lngs.min()!, metres: CircleRules.snapLimit)
        let ne = boundingBox(lat: lats.max()!, lng: lngs.max()!, metres: CircleRules.snapLimit)
        let facilities = try await registry.facilities(south: sw.lat.lowerBound, west: sw.lng.lowerBound, north: ne.lat.upperBound,
                                                       east: ne.lng.upperBound, lang: lang)
        let snaps = blocks.map { b in b.lat.flatMap { lat in b.lng.flatMap { CircleRules.snap(net, lat: lat, lng: $0) } } }
        var buildings = blocks.enumerated().map { i, b in
            CircleBuilding(id: b.id, name: b.name, lat: b.lat, lng: b.lng, households: b.households, residents: b.residents, onNetwork: snaps[i] != nil, minutes: [:])
        }
        var lines: [CircleLine] = []
        var proposal: CircleProposal?
        for kind in FacilityKind.allCases {
            let mine = facilities.filter { $0.kind == kind.rawValue }
            let d = CircleRules.distances(net, from: mine.map { ($0.lat, $0.lng) })
            var line = CircleLine(kind: kind.rawValue, label: CircleCapability.words.label(kind.rawValue, lang), facilities: mine.count, buildingsOutside: 0, householdsOutside: 0, residentsOutside: 0)
            var outside: [Int] = []
            for (i, s) in snaps.enumerated() {
                let m = CircleRules.minutes(d, s)
                if let m { buildings[i].minutes[kind.rawValue] = m }
                // A building off the network (or without a point) is not known to be beyond: it
                // is counted apart (`offNetwork`), never as outside.
                if s != nil, !CircleRules.within(m) {
                    outside.append(i)
                    line.buildingsOutside += 1; line.householdsOutside += buildings[i].households; line.residentsOutside += buildings[i].residents
                }
            }
            lines.append(line)
            if let p = proposed, p.kind == kind {
                let with = CircleRules.distances(net, from: mine.map { ($0.lat, $0.lng) } + [(p.lat, p.lng)])
                let brought = outside.filter { CircleRules.within(CircleRules.minutes(with, snaps[$0])) }
                proposal = CircleProposal(kind: kind.rawValue, label: line.label, lat: p.lat, lng: p.lng, onNetwork: CircleRules.snap(net, lat: p.lat, lng: p.lng) != nil,
                                          buildingsBroughtIn: brought.count, householdsBroughtIn: brought.reduce(0) { $0 + buildings[$1].households },
                                          residentsBroughtIn: brought.reduce(0) { $0 + buildings[$1].residents }, buildings: brought.map { buildings[$0].name })
            }
        }
        return CircleReport(placeID: place.id, placeName: place.name, minutes: Int(CircleRules.minutes), metresPerMinute: Int(CircleRules.metresPerMinute),
                            network: info, lines: lines, buildings: buildings, facilities: facilities, proposal: proposal,
                            offNetwork: snaps.filter { $0 == nil }.count)
    }

    /// Replaces a street's or community's walking network with an OpenStreetMap extract's
    /// walkable ways, in one transaction with its audit row. The place's editors only.
    public func importNetwork(place id: Int64, osm: Data, actor: Actor) async throws -> WalkNetworkInfo {
        let place = try await registry.situationPlace(id, actor: actor, .situationView)
        try actor.require(.placeEdit, on: ObjectScope(path: place.path, gridIDs: []))
        guard !osm.isEmpty else { throw LinliError.invalid("file", "required", "请选择 .osm 文件") }
        guard osm.count <= Self.maxOSMBytes else { throw LinliError.invalid("file", "too_large", "文件不能超过 20 MB") }
        let net = try CircleRules.network(osm: osm)
        return try await store.transaction { db in
            try await save(db, place: place, net, source: "osm", by: actor.signature)
            try await audit.append(db, actor: actor, action: "circle.network", objectType: "place", objectID: place.id, path: place.path,
                                   detail: "\(net.nodes.count) nodes, \(net.edges.count) edges")
            return WalkNetworkInfo(placeID: place.id, nodes: net.nodes.count, edges: net.edges.count, source: "osm",
                                   importedAt: LocalTime.text(env.nowSeconds), by: actor.signature)
        }
    }

    func save(_ db: any SQLDatabase, place: SituationPlace, _ net: WalkNetwork, source: String, by: String) async throws {
        let text = CircleRules.text(net)
        // One statement: two imports at once leave the later one, never a duplicate key.
        try await db.query("""
            INSERT INTO walk_networks (place_id, nodes, edges, node_count, edge_count, source, imported_at, by_name)
            VALUES (\(place.id), \(text.nodes), \(text.edges), \(net.nodes.count), \(net.edges.count), \(source), \(env.nowSeconds), \(by))
            ON CONFLICT (place_id) DO UPDATE SET nodes = excluded.nodes, edges = excluded.edges, node_count = excluded.node_count,
                edge_count = excluded.edge_count, source = excluded.source, imported_at = excluded.imported_at, by_name = excluded.by_name
            """).run()
    }
}

enum CircleMigrations {
    static let all: [Migration] = [
        // A street's or community's walking network as text (points, then stretches): read whole
        // for each report, never queried by part.
        Migration("circle.001", [
            """
            CREATE TABLE walk_networks (
                place_id BIGINT PRIMARY KEY,
                nodes TEXT NOT NULL,
                edges TEXT NOT NULL,
                node_count INTEGER NOT NULL,
                edge_count INTEGER NOT NULL,
                source TEXT NOT NULL,
                imported_at BIGINT NOT NULL,
                by_name TEXT NOT NULL
            )
            """,
        ]),
    ]
}
