import SQLKit
import LinliCore
import LinliStore

/// Requests counted in a square of the map (the situation map's density layer), or, for
/// requests filed with no point of their own, at their compound (or community).
public struct RequestCell: Sendable, Equatable {
    public var lat: Double?
    public var lng: Double?
    /// Set when the requests had no point: where they are drawn instead.
    public var placeID: Int64?
    public var count: Int
}

extension RequestsService {
    /// Requests filed in [from, to) (local days) in some communities, counted per square of
    /// `1 / perDegree` degrees, in the database. Through `requests_look_alikes`, whose columns
    /// (category, community, created, status, compound, point) answer this without the table.
    public func requestCells(communities: [Int64], from: Int64, to: Int64, category: String?, openOnly: Bool, perDegree: Double) async throws -> [RequestCell] {
        guard !communities.isEmpty else { return [] }
        let k = String(perDegree)
        return try await store.read { db in
            var codes: [String]
            if let category {
                guard try await db.query("SELECT code FROM request_categories WHERE code = \(category)").first() != nil else {
                    throw LinliError.invalid("category", "invalid_choice", "未知的诉求类别")
                }
                codes = [category]
            } else {
                codes = try await db.query("SELECT code FROM request_categories ORDER BY code").all().map { try $0.decode(column: "code", as: String.self) }
            }
            guard !codes.isEmpty else { return [] }
            let filter: BoundSQL = """
                r.category IN (\(list: codes)) AND r.community_id IN (\(list: communities))
                AND r.created_at >= \(LocalDay.start(from)) AND r.created_at < \(LocalDay.start(to))\(unsafeRaw: openOnly ? " AND r.status IN (\(Self.openStatusList))" : "")
                """
            var out: [RequestCell] = []
            for r in try await db.query("""
                SELECT ROUND(r.lat * \(unsafeRaw: k)) AS y, ROUND(r.lng * \(unsafeRaw: k)) AS x, COUNT(*) AS n FROM requests r
                WHERE \(filter) AND r.lat IS NOT NULL AND r.lng IS NOT NULL
                GROUP BY ROUND(r.lat * \(unsafeRaw: k)), ROUND(r.lng * \(unsafeRaw: k))
                """).all() {
                out.append(RequestCell(lat: try r.decode(column: "y", as: Double.self) / perDegree, lng: try r.decode(column: "x", as: Double.self) / perDegree,
                                       placeID: nil, count: try r.decode(column: "n", as: Int.self)))
            }
            for r in try await db.query("""
                SELECT COALESCE(r.compound_id, r.community_id) AS place, COUNT(*) AS n FROM requests r
                WHERE \(filter) AND (r.lat IS NULL OR r.lng IS NULL) GROUP BY COALESCE(r.compound_id, r.community_id)
                """).all() {
                out.append(RequestCell(lat: nil, lng: nil, placeID: try r.decode(column: "place", as: Int64.self), count: try r.decode(column: "n", as: Int.self)))
            }
            return out
        }
    }
}
