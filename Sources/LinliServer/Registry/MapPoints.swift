import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A reference point for the map widget: a compound or village group with a position, or a facility.
public struct MapPoint: Sendable, Codable, Equatable {
    public var name: String
    /// Short text drawn beside the point (a facility's kind, a compound's name).
    public var label: String
    public var kind: String
    public var lat: Double
    public var lng: Double
}

extension RegistryService {
    /// The community around a place or household, as points with positions: what the map widget
    /// draws so that a resident can tap where a problem is. Facilities and compounds are not
    /// personal data, but they are still shown only to someone whose roles touch that community.
    public func mapPoints(placeID: Int64?, householdID: Int64?, actor: Actor, lang: Lang) async throws -> [MapPoint] {
        try await store.read { db in
            let path: String
            if let householdID {
                // Only a household the actor may see: any other id answers exactly like a missing one.
                guard let h = try await db.raw("SELECT path, grid_id, micro_grid_id FROM households WHERE id = \(bind: householdID)").first() else { throw LinliError.notFound }
                path = try h.decode(column: "path", as: String.self)
                let scope = ObjectScope(path: path, gridIDs: [try h.decode(column: "grid_id", as: Int64.self), try h.decode(column: "micro_grid_id", as: Int64.self)],
                                        householdID: householdID)
                guard actor.may(.householdView, on: scope) else { throw LinliError.notFound }
            } else if let placeID {
                guard let p = try await db.raw("SELECT path FROM places WHERE id = \(bind: placeID)").first() else { throw LinliError.notFound }
                path = try p.decode(column: "path", as: String.self)
            } else {
                throw LinliError.invalid("place_id", "required", "请指定地点")
            }
            let ids = PlacePath.ids(path)
            guard ids.count > 3 else { throw LinliError.invalid("place_id", "too_broad", "请选择社区或更具体的地点") }
            let community = "/" + ids.prefix(4).map(String.init).joined(separator: "/") + "/"
            let related = actor.grants.contains { community.hasPrefix($0.placePath) || $0.placePath.hasPrefix(community) }
            guard related else { throw LinliError.notFound }
            var points: [MapPoint] = []
            for r in try await db.raw("""
                SELECT name, kind, lat, lng FROM places WHERE \(store.dialect.startsWith("path", community))
                AND kind IN ('community', 'village', 'compound', 'villager_group') AND lat IS NOT NULL AND lng IS NOT NULL ORDER BY path
                """).all() {
                let name = try r.decode(column: "name", as: String.self)
                points.append(MapPoint(name: name, label: name, kind: try r.decode(column: "kind", as: String.self),
                                       lat: try r.decode(column: "lat", as: Double.self), lng: try r.decode(column: "lng", as: Double.self)))
            }
            return points + (try await facilityPoints(db, under: community, lang: lang))
        }
    }

    /// Facilities inside a box, whatever place they belong to: a school across the street's
    /// boundary is as near to walk to as one inside it.
    public func facilities(south: Double, west: Double, north: Double, east: Double, lang: Lang) async throws -> [MapPoint] {
        try await store.read { db in
            try await db.query("""
                SELECT name, kind, lat, lng FROM facilities WHERE lat BETWEEN \(south) AND \(north) AND lng BETWEEN \(west) AND \(east) ORDER BY id LIMIT 5000
                """).all().map { r in
                let kind = try r.decode(column: "kind", as: String.self)
                return MapPoint(name: try r.decode(column: "name", as: String.self), label: I18n.label(kind, lang), kind: kind,
                                lat: try r.decode(column: "lat", as: Double.self), lng: try r.decode(column: "lng", as: Double.self))
            }
        }
    }

    /// The facilities under a path with their points (a community's, or a street's for the
    /// situation map: at most 2,000).
    func facilityPoints(_ db: any SQLDatabase, under path: String, lang: Lang) async throws -> [MapPoint] {
        try await db.query("""
            SELECT f.name, f.kind, f.lat, f.lng FROM facilities f JOIN places p ON p.id = f.place_id
            WHERE \(store.dialect.startsWith("p.path", path)) ORDER BY f.kind, f.id LIMIT 2000
            """).all().map { r in
            let kind = try r.decode(column: "kind", as: String.self)
            return MapPoint(name: try r.decode(column: "name", as: String.self), label: I18n.label(kind, lang), kind: kind,
                            lat: try r.decode(column: "lat", as: Double.self), lng: try r.decode(column: "lng", as: Double.self))
        }
    }
}
