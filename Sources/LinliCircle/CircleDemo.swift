import Foundation
import SQLKit
import LinliCore
import LinliStore
import LinliServer

extension Linli {
    /// The demo's streets get a walking network: a lattice every 100 m over the ground their
    /// places stand on (300 m beyond it each way), as a new town's blocks are laid out. A real
    /// street imports its OpenStreetMap extract instead.
    public func loadCircleDemo() async throws -> Int {
        let circle = CircleService(store: store, registry: registry, env: config.environment)
        let streets: [(SituationPlace, [Double])] = try await store.read { db in
            var out: [(SituationPlace, [Double])] = []
            for r in try await db.query("SELECT id, name, kind, path FROM places WHERE kind IN ('street', 'town') ORDER BY id").all() {
                let path = try r.decode(column: "path", as: String.self)
                guard let kind = PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)),
                      try await db.query("SELECT place_id FROM walk_networks WHERE place_id = \(try r.decode(column: "id", as: Int64.self))").first() == nil,
                      let box = try await db.query("""
                        SELECT MIN(lat) AS s, MIN(lng) AS w, MAX(lat) AS n, MAX(lng) AS e FROM places WHERE lat IS NOT NULL AND lng IS NOT NULL
                        AND \(store.dialect.startsWith("path", path))
                        """).first(), let s = try box.decode(column: "s", as: Double?.self) else { continue }
                out.append((SituationPlace(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self), kind: kind, path: path),
                            [s, try box.decode(column: "w", as: Double.self), try box.decode(column: "n", as: Double.self), try box.decode(column: "e", as: Double.self)]))
            }
            return out
        }
        for (street, b) in streets {
            let sw = boundingBox(lat: b[0], lng: b[1], metres: 300), ne = boundingBox(lat: b[2], lng: b[3], metres: 300)
            let net = CircleRules.lattice(south: sw.lat.lowerBound, west: sw.lng.lowerBound, north: ne.lat.upperBound, east: ne.lng.upperBound, step: 100)
            try await store.transaction { db in try await circle.save(db, place: street, net, source: "demo", by: "演示程序") }
        }
        return streets.count
    }
}
