import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SwiftGraph
import LinliCore
import LinliServer

/// The paths people walk in an area: points and the stretches between them, each stretch's
/// length along the ground. Imported from an OpenStreetMap extract or, for the demo, laid out as
/// a lattice. Plain values: no I/O.
public struct WalkNetwork: Sendable, Equatable {
    public struct Node: Sendable, Equatable { public var lat: Double; public var lng: Double }
    public struct Edge: Sendable, Equatable { public var a: Int; public var b: Int; public var metres: Double }
    public var nodes: [Node]
    public var edges: [Edge]
}

/// The 15-minute living circle's rules (15分钟生活圈): how far a quarter of an hour's walk
/// reaches along the paths, and which buildings a facility of each kind is within it of.
public enum CircleRules {
    /// 80 m a minute (4.8 km/h), an unhurried adult's pace in the planning standard's sense; an
    /// elderly person's 15 minutes reach less, which the office reads off the minutes shown.
    public static let metresPerMinute = 80.0
    public static let minutes = 15.0
    public static var reach: Double { metresPerMinute * minutes }
    /// A building or facility further than this from every point of the network is not on it
    /// (the network does not cover it): its minutes are unknown, never guessed in a straight line.
    public static let snapLimit = 300.0
    /// The longest stretch an imported road is kept as.
    public static let pieceMetres = 50.0

    /// OpenStreetMap ways a person walks on (`highway=*`); motorways and trunk roads are not, and
    /// neither is any way marked `foot=no` or `access=private`/`no`.
    public static let walkable: Set<String> = [
        "footway", "path", "pedestrian", "living_street", "residential", "service", "unclassified", "road", "steps", "track", "cycleway",
        "tertiary", "tertiary_link", "secondary", "secondary_link", "primary", "primary_link", "corridor",
    ]

    // MARK: OpenStreetMap

    /// The walkable ways of an `.osm` extract (OSM XML), as a network: every node a kept way
    /// passes through, a stretch between each two consecutive ones. Refused naming `file` when
    /// the file is not OSM XML or holds no walkable way.
    public static func network(osm data: Data) throws -> WalkNetwork {
        // OSM extracts carry no document type; one that declares entities is refused before
        // the parser expands them (a few lines can grow to gigabytes).
        let head = data.prefix(64 * 1024)
        if head.range(of: Data("<!DOCTYPE".utf8)) != nil || head.range(of: Data("<!ENTITY".utf8)) != nil || data.range(of: Data("<!ENTITY".utf8)) != nil {
            throw LinliError.invalid("file", "doctype", "文件里有 DOCTYPE 或实体声明，不是 OpenStreetMap 导出的 .osm 文件")
        }
        let reader = OSMReader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse(), reader.sawOSM else {
            throw LinliError.invalid("file", "not_osm", "不是 OpenStreetMap 的 .osm 文件（XML）")
        }
        var index: [Int64: Int] = [:], nodes: [WalkNetwork.Node] = [], edges: [WalkNetwork.Edge] = []
        func node(_ id: Int64) -> Int? {
            if let i = index[id] { return i }
            guard let p = reader.points[id] else { return nil }
            index[id] = nodes.count
            nodes.append(.init(lat: p.0, lng: p.1))
            return nodes.count - 1
        }
        for way in reader.ways {
            guard way.count > 1 else { continue }
            for k in 1..<way.count {
                // A way may name a node the extract cut off at its edge: that stretch is left out.
                guard let a = node(way[k - 1]), let b = node(way[k]), a != b else { continue }
                // A straight road may have its points hundreds of metres apart: it is cut into
                // stretches of at most `pieceMetres`, so that a building beside its middle is
                // beside a point of the network too.
                let length = Geo.metres(nodes[a].lat, nodes[a].lng, nodes[b].lat, nodes[b].lng)
                let pieces = max(1, Int((length / pieceMetres).rounded(.up)))
                var from = a
                for i in 1..<pieces {
                    let f = Double(i) / Double(pieces)
                    nodes.append(.init(lat: nodes[a].lat + (nodes[b].lat - nodes[a].lat) * f, lng: nodes[a].lng + (nodes[b].lng - nodes[a].lng) * f))
                    edges.append(.init(a: from, b: nodes.count - 1, metres: length / Double(pieces)))
                    from = nodes.count - 1
                }
                edges.append(.init(a: from, b: b, metres: length / Double(pieces)))
            }
        }
        guard !edges.isEmpty else { throw LinliError.invalid("file", "no_paths", "文件里没有可步行的道路（highway）") }
        return WalkNetwork(nodes: nodes, edges: edges)
    }

    /// Reads nodes and ways as the parser goes (an extract of a few square kilometres is
    /// megabytes: nothing but points and the kept ways' node lists is held).
    final class OSMReader: NSObject, XMLParserDelegate {
        var points: [Int64: (Double, Double)] = [:]
        var ways: [[Int64]] = []
        var sawOSM = false
        private var way: [Int64]? = nil
        private var highway: String? = nil
        private var foot: String? = nil
        private var access: String? = nil

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
            switch name {
            case "osm": sawOSM = true
            case "node":
                if let id = a["id"].flatMap(Int64.init), let lat = a["lat"].flatMap(Double.init), let lon = a["lon"].flatMap(Double.init),
                   (-90...90).contains(lat), (-180...180).contains(lon) { points[id] = (lat, lon) }
            case "way": way = []; highway = nil; foot = nil; access = nil
            case "nd": if way != nil, let ref = a["ref"].flatMap(Int64.init) { way!.append(ref) }
            case "tag" where way != nil:
                let k = a["k"] ?? "", v = a["v"] ?? ""
                if k == "highway" { highway = v } else if k == "foot" { foot = v } else if k == "access" { access = v }
            default: break
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard name == "way", let w = way else { return }
            // Closed to walkers: foot=no, or access=no/private unless walkers are let through.
            let footAllowed = ["yes", "designated", "permissive"].contains(foot ?? "")
            let closed = foot == "no" || (["no", "private"].contains(access ?? "") && !footAllowed)
            if let h = highway, CircleRules.walkable.contains(h), !closed { ways.append(w) }
            way = nil
        }
    }

    /// The demo's network: a lattice of streets every `step` metres over a box (south, west,
    /// north, east), as a new town's blocks are laid out.
    public static func lattice(south: Double, west: Double, north: Double, east: Double, step: Double) -> WalkNetwork {
        // A step's degrees: half the box `step` metres around the middle.
        let one = boundingBox(lat: (south + north) / 2, lng: 0, metres: step)
        let dLat = (one.lat.upperBound - one.lat.lowerBound) / 2, dLng = (one.lng.upperBound - one.lng.lowerBound) / 2
        let rows = max(1, Int(((north - south) / dLat).rounded(.up))), cols = max(1, Int(((east - west) / dLng).rounded(.up)))
        var nodes: [WalkNetwork.Node] = [], edges: [WalkNetwork.Edge] = []
        for r in 0...rows { for c in 0...cols { nodes.append(.init(lat: south + Double(r) * dLat, lng: west + Double(c) * dLng)) } }
        func at(_ r: Int, _ c: Int) -> Int { r * (cols + 1) + c }
        for r in 0...rows {
            for c in 0...cols {
                for (r2, c2) in [(r, c + 1), (r + 1, c)] where r2 <= rows && c2 <= cols {
                    let a = at(r, c), b = at(r2, c2)
                    edges.append(.init(a: a, b: b, metres: Geo.metres(nodes[a].lat, nodes[a].lng, nodes[b].lat, nodes[b].lng)))
                }
            }
        }
        return WalkNetwork(nodes: nodes, edges: edges)
    }

    // MARK: Walking

    /// The network's point nearest to a place, and how far that is, or nil beyond `snapLimit`.
    public static func snap(_ n: WalkNetwork, lat: Double, lng: Double) -> (node: Int, metres: Double)? {
        var best: (Int, Double)?
        // A cheap box first: most points are outside it.
        let box = boundingBox(lat: lat, lng: lng, metres: snapLimit)
        for (i, p) in n.nodes.enumerated() {
            if !box.lat.contains(p.lat) || !box.lng.contains(p.lng) { continue }
            let d = Geo.metres(lat, lng, p.lat, p.lng)
            if d <= snapLimit, d < (best?.1 ?? .infinity) { best = (i, d) }
        }
        return best
    }

    /// Metres along the network from the nearest of some places (the facilities of one kind) to
    /// every point of it; nil where none can be reached. One shortest-path search from a point
    /// joined to each place by its walk onto the network (SwiftGraph's Dijkstra).
    public static func distances(_ n: WalkNetwork, from places: [(lat: Double, lng: Double)]) -> [Double?] {
        // Vertices are named by a type other than the index's, so that `dijkstra(root:)` means the index.
        let graph = WeightedGraph<UInt32, Double>(vertices: (0...n.nodes.count).map { UInt32($0) })
        for e in n.edges { graph.addEdge(fromIndex: e.a, toIndex: e.b, weight: e.metres, directed: false) }
        let root = n.nodes.count
        for p in places {
            guard let s = snap(n, lat: p.lat, lng: p.lng) else { continue }
            graph.addEdge(fromIndex: root, toIndex: s.node, weight: s.metres, directed: true)
        }
        let (found, _) = graph.dijkstra(root: root, startDistance: 0)
        return Array(found.prefix(n.nodes.count))
    }

    /// Whole minutes of walking from a building to the nearest of the places `distances` was
    /// counted from, or nil when the building is off the network or none can be reached.
    public static func minutes(_ n: WalkNetwork, _ distances: [Double?], lat: Double, lng: Double) -> Int? {
        minutes(distances, snap(n, lat: lat, lng: lng))
    }

    /// The same for a building already snapped to the network (a report snaps each once).
    public static func minutes(_ distances: [Double?], _ snapped: (node: Int, metres: Double)?) -> Int? {
        guard let s = snapped, let d = distances[s.node] else { return nil }
        return Int(((d + s.metres) / metresPerMinute).rounded(.up))
    }

    public static func within(_ minutes: Int?) -> Bool { minutes.map { Double($0) <= Self.minutes } ?? false }

    // MARK: Stored form

    /// "lat,lng" a line, then "a b metres" a line: compact, and readable by a person.
    public static func text(_ n: WalkNetwork) -> (nodes: String, edges: String) {
        (n.nodes.map { String(format: "%.6f,%.6f", $0.lat, $0.lng) }.joined(separator: "\n"),
         n.edges.map { String(format: "%d %d %.1f", $0.a, $0.b, $0.metres) }.joined(separator: "\n"))
    }

    public static func network(nodes: String, edges: String) -> WalkNetwork {
        let ns = nodes.split(separator: "\n").compactMap { line -> WalkNetwork.Node? in
            let p = line.split(separator: ",")
            guard p.count == 2, let lat = Double(p[0]), let lng = Double(p[1]) else { return nil }
            return .init(lat: lat, lng: lng)
        }
        let es = edges.split(separator: "\n").compactMap { line -> WalkNetwork.Edge? in
            let p = line.split(separator: " ")
            guard p.count == 3, let a = Int(p[0]), let b = Int(p[1]), let m = Double(p[2]), a < ns.count, b < ns.count else { return nil }
            return .init(a: a, b: b, metres: m)
        }
        return WalkNetwork(nodes: ns, edges: es)
    }
}
