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
    ///
    /// Whole months come from the kept spots (`request_spots`) when the scale is one of the map's
    /// (`spotScales`), the days at either edge live; `kept` false reads it all live (the tests
    /// compare the two).
    public func requestCells(communities: [Int64], from: Int64, to: Int64, category: String?, openOnly: Bool, perDegree: Double,
                             kept: Bool = true) async throws -> [RequestCell] {
        guard !communities.isEmpty else { return [] }
        let k = String(perDegree), scale = Int(perDegree)
        let range = LocalDay.start(from)..<LocalDay.start(to)
        let split = kept && Self.spotScales.contains(scale) && Double(scale) == perDegree
            ? MonthSplit.of(from: range.lowerBound, to: range.upperBound) : MonthSplit(months: nil, edges: range.isEmpty ? [] : [range])
        return try await store.readHeavy { db in
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
            // Squares by their rounded corner numbers, places by id: the kept months and the
            // live edges add up per spot.
            var squares: [[Int64]: Int] = [:], places: [Int64: Int] = [:]
            if let months = split.months {
                for c in try await Self.keptSpots(db, communities: communities, months: months, codes: codes, openOnly: openOnly, scale: scale) {
                    if c.place { places[c.y, default: 0] += c.n } else { squares[[c.y, c.x], default: 0] += c.n }
                }
            }
            for edge in split.edges {
                let filter: BoundSQL = """
                    r.category IN (\(list: codes)) AND r.community_id IN (\(list: communities))
                    AND r.created_at >= \(edge.lowerBound) AND r.created_at < \(edge.upperBound)\(unsafeRaw: openOnly ? " AND r.status IN (\(Self.openStatusList))" : "")
                    """
                for r in try await db.query("""
                    SELECT CAST(ROUND(r.lat * \(unsafeRaw: k)) AS BIGINT) AS y, CAST(ROUND(r.lng * \(unsafeRaw: k)) AS BIGINT) AS x, COUNT(*) AS n FROM requests r
                    WHERE \(filter) AND r.lat IS NOT NULL AND r.lng IS NOT NULL
                    GROUP BY ROUND(r.lat * \(unsafeRaw: k)), ROUND(r.lng * \(unsafeRaw: k))
                    """).all() {
                    squares[[try r.decode(column: "y", as: Int64.self), try r.decode(column: "x", as: Int64.self)], default: 0] += try r.decode(column: "n", as: Int.self)
                }
                for r in try await db.query("""
                    SELECT COALESCE(r.compound_id, r.community_id) AS place, COUNT(*) AS n FROM requests r
                    WHERE \(filter) AND (r.lat IS NULL OR r.lng IS NULL) GROUP BY COALESCE(r.compound_id, r.community_id)
                    """).all() {
                    places[try r.decode(column: "place", as: Int64.self), default: 0] += try r.decode(column: "n", as: Int.self)
                }
            }
            return squares.filter { $0.value != 0 }.map { RequestCell(lat: Double($0.key[0]) / perDegree, lng: Double($0.key[1]) / perDegree, placeID: nil, count: $0.value) }
                + places.filter { $0.value != 0 }.map { RequestCell(lat: nil, lng: nil, placeID: $0.key, count: $0.value) }
        }
    }
}
