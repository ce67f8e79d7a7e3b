import SQLKit
import LinliCore
import LinliStore

extension RequestsService {
    /// The requests made in [from, to) by community, counted as the figures page counts them
    /// (`AreaRequestCounts`): whole months from the month rollup and the days at either edge from
    /// the day rollup (both kept in each step), a part of a day read live; a city's two years are
    /// some 24,000 month rows plus at most 60 days per community, rather than every request
    /// grouped at page time.
    package static func areaCounts(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: AreaRequestCounts] {
        guard !communityIDs.isEmpty else { return [:] }
        let split = MonthSplit.of(from: from, to: to)
        var out: [Int64: AreaRequestCounts] = [:]
        func kept(_ rollup: Rollup, _ keys: ClosedRange<Int64>) async throws {
            for r in try await db.query("""
                SELECT community_id, CAST(SUM(made) AS BIGINT) AS made, CAST(SUM(escalated) AS BIGINT) AS escalated,
                       CAST(SUM(rating_sum) AS BIGINT) AS rating_sum, CAST(SUM(rated) AS BIGINT) AS rated, CAST(SUM(resolved) AS BIGINT) AS resolved,
                       CAST(SUM(on_time) AS BIGINT) AS on_time
                FROM \(unsafeRaw: rollup.table) WHERE community_id IN (\(list: communityIDs)) AND \(unsafeRaw: rollup.rawValue) BETWEEN \(keys.lowerBound) AND \(keys.upperBound)
                GROUP BY community_id
                """).all() {
                out[try r.decode(column: "community_id", as: Int64.self), default: AreaRequestCounts()] += try AreaRequestCounts(r)
            }
        }
        if let months = split.months { try await kept(.month, Int64(months.lowerBound)...Int64(months.upperBound)) }
        for edge in split.edges {
            let (days, parts) = MonthSplit.days(of: edge)
            if let days { try await kept(.day, days) }
            for part in parts {
                for (c, n) in try await liveAreaCounts(db, communityIDs: communityIDs, from: part.lowerBound, to: part.upperBound) {
                    out[c, default: AreaRequestCounts()] += n
                }
            }
        }
        return out.filter { $0.value.made != 0 }
    }

    /// The same counted from the requests table, through `requests_street_figures` (the area's
    /// streets, then the creation time): for a period's edges, and as the rollup's reference.
    static func liveAreaCounts(_ db: any SQLDatabase, communityIDs: [Int64], from: Int64, to: Int64) async throws -> [Int64: AreaRequestCounts] {
        guard !communityIDs.isEmpty, from < to else { return [:] }
        let streets = Set(try await db.query("SELECT path FROM places WHERE id IN (\(list: communityIDs))").all().compactMap { r -> Int64? in
            let ids = PlacePath.ids(try r.decode(column: "path", as: String.self))
            return ids.count > 2 ? ids[2] : nil
        })
        guard !streets.isEmpty else { return [:] }
        let wanted = Set(communityIDs)
        var out: [Int64: AreaRequestCounts] = [:]
        for r in try await db.query("""
            SELECT community_id, \(unsafeRaw: Self.tallyColumns)
            FROM requests WHERE street_id IN (\(list: Array(streets))) AND created_at >= \(from) AND created_at < \(to) GROUP BY community_id
            """).all() {
            let c = try r.decode(column: "community_id", as: Int64.self)
            guard wanted.contains(c) else { continue }
            out[c] = try AreaRequestCounts(r)
        }
        return out
    }
}

/// Requests counted as the dashboards count them: made; escalated (a deadline missed); rated, and
/// the stars; resolved; resolved by the deadline. Summed over a community's period, or (as
/// `RequestTally`) what one request adds to its community's month.
public struct AreaRequestCounts: Sendable, Equatable {
    public var made: Int64 = 0, escalated: Int64 = 0, ratingSum: Int64 = 0, rated: Int64 = 0, resolved: Int64 = 0, onTime: Int64 = 0

    init(made: Int64 = 0, escalated: Int64 = 0, ratingSum: Int64 = 0, rated: Int64 = 0, resolved: Int64 = 0, onTime: Int64 = 0) {
        self.made = made; self.escalated = escalated; self.ratingSum = ratingSum; self.rated = rated; self.resolved = resolved; self.onTime = onTime
    }

    /// One request's own contribution.
    init(missed: Bool, rating: Int?, resolvedAt: Int64?, resolveDue: Int64) {
        made = 1
        escalated = missed ? 1 : 0
        ratingSum = Int64(rating ?? 0)
        rated = rating == nil ? 0 : 1
        resolved = resolvedAt == nil ? 0 : 1
        onTime = resolvedAt.map { $0 <= resolveDue ? 1 : 0 } ?? 0
    }

    /// A row whose columns are named as `RequestsService.tallyColumns` names them.
    init(_ r: any SQLRow) throws {
        self.init(made: try r.decode(column: "made", as: Int64.self), escalated: try r.decode(column: "escalated", as: Int64.self),
                  ratingSum: try r.decode(column: "rating_sum", as: Int64.self), rated: try r.decode(column: "rated", as: Int64.self),
                  resolved: try r.decode(column: "resolved", as: Int64.self), onTime: try r.decode(column: "on_time", as: Int64.self))
    }

    var isZero: Bool { self == AreaRequestCounts() }
    /// In the order `linli figures-check` prints them.
    var values: [Int64] { [made, escalated, ratingSum, rated, resolved, onTime] }

    static func + (a: AreaRequestCounts, b: AreaRequestCounts) -> AreaRequestCounts {
        AreaRequestCounts(made: a.made + b.made, escalated: a.escalated + b.escalated, ratingSum: a.ratingSum + b.ratingSum, rated: a.rated + b.rated,
                          resolved: a.resolved + b.resolved, onTime: a.onTime + b.onTime)
    }

    static func += (a: inout AreaRequestCounts, b: AreaRequestCounts) { a = a + b }

    static func - (a: AreaRequestCounts, b: AreaRequestCounts) -> AreaRequestCounts {
        AreaRequestCounts(made: a.made - b.made, escalated: a.escalated - b.escalated, ratingSum: a.ratingSum - b.ratingSum, rated: a.rated - b.rated,
                          resolved: a.resolved - b.resolved, onTime: a.onTime - b.onTime)
    }
}

/// What an upper-level system (a city's 12345 platform) is sent of a request: what it is, where,
/// its state and clocks (China time) and who handles it — never the reporter's name or number.
public struct RequestPush: Codable, Sendable {
    public var id: Int64, category: String, description: String, address: String, status: String, channel: String
    public var party: String, level: Int, createdAt: String, resolveDue: String, resolvedAt: String?, rating: Int?
    /// For a 12345 ticket: its number (the hotline matches the push to its ticket by it), and a
    /// unit's objection to the dispatch (退单) with its reason, or the hotline's answer.
    public var hotline: Hotline?
    public struct Hotline: Codable, Sendable {
        public var ticketNo: String, objection: String, objectionReason: String, callback: String?
        enum CodingKeys: String, CodingKey { case ticketNo = "ticket_no", objection, objectionReason = "objection_reason", callback }
    }
    enum CodingKeys: String, CodingKey {
        case id, category, description, address, status, channel, party, level, createdAt = "created_at", resolveDue = "resolve_due", resolvedAt = "resolved_at", rating
        case hotline
    }
}

extension RequestsService {
    /// The paths of requests (to find the areas they belong to).
    package static func paths(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: String] = [:]
        for r in try await db.query("SELECT id, path FROM requests WHERE id IN (\(list: ids))").all() {
            out[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "path", as: String.self)
        }
        return out
    }

    package static func push(_ db: any SQLDatabase, id: Int64) async throws -> RequestPush? {
        try await db.query("""
            SELECT r.id, r.category, r.description, r.address, r.status, r.channel, r.party_name, r.level, r.created_at, r.resolve_due, r.resolved_at, r.rating,
                   h.ticket_no, h.objection, h.objection_reason, h.callback
            FROM requests r LEFT JOIN request_hotline h ON h.request_id = r.id WHERE r.id = \(id)
            """).first().map { r in
            RequestPush(id: id, category: try r.decode(column: "category", as: String.self), description: try r.decode(column: "description", as: String.self),
                        address: try r.decode(column: "address", as: String.self), status: try r.decode(column: "status", as: String.self),
                        channel: try r.decode(column: "channel", as: String.self), party: try r.decode(column: "party_name", as: String.self),
                        level: try r.decode(column: "level", as: Int.self), createdAt: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)),
                        resolveDue: LocalTime.text(try r.decode(column: "resolve_due", as: Int64.self)),
                        resolvedAt: try r.decode(column: "resolved_at", as: Int64?.self).map(LocalTime.text), rating: try r.decode(column: "rating", as: Int?.self),
                        hotline: try r.decode(column: "ticket_no", as: String?.self).map { no in
                            RequestPush.Hotline(ticketNo: no, objection: try r.decode(column: "objection", as: String?.self) ?? "",
                                                objectionReason: try r.decode(column: "objection_reason", as: String?.self) ?? "",
                                                callback: try r.decode(column: "callback", as: String?.self))
                        })
        }
    }
}

/// How a department handled the requests routed to it by name over a period: for the offices'
/// ratings and rankings (评价权: the requests capability's figures join the communities' ratings).
public struct DepartmentRequestFigures: Sendable, Equatable {
    public var routed = 0, resolved = 0, resolvedOnTime = 0, rated = 0, ratingSum = 0
    public init() {}
}

extension RequestsService {
    /// Requests made in [from, to) and routed to these departments now (withdrawn and merged ones
    /// left out), inside `areaPath` when given: how many, resolved, resolved by their deadline,
    /// and the residents' ratings. One grouped read over `requests_party_key`.
    package static func departmentFigures(_ db: any SQLDatabase, organisationIDs: [Int64], from: Int64, to: Int64, areaPath: String?) async throws
        -> [Int64: DepartmentRequestFigures] {
        guard !organisationIDs.isEmpty else { return [:] }
        let area: BoundSQL = areaPath.map { "AND path LIKE \($0 + "%")" } ?? ""
        var out: [Int64: DepartmentRequestFigures] = [:]
        for r in try await db.query("""
            SELECT party_key, COUNT(*) AS n, SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS resolved,
                   SUM(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= resolve_due THEN 1 ELSE 0 END) AS on_time,
                   COUNT(rating) AS rated, COALESCE(SUM(rating), 0) AS rating_sum
            FROM requests WHERE party_kind = 'department' AND party_key IN (\(list: organisationIDs.map { "org:\($0)" }))
              AND created_at >= \(from) AND created_at < \(to) AND status NOT IN ('withdrawn', 'merged') \(area)
            GROUP BY party_key
            """).all() {
            guard let id = Int64(try r.decode(column: "party_key", as: String.self).dropFirst(4)) else { continue }
            var f = DepartmentRequestFigures()
            f.routed = try r.decode(column: "n", as: Int.self)
            f.resolved = try r.decode(column: "resolved", as: Int.self)
            f.resolvedOnTime = try r.decode(column: "on_time", as: Int.self)
            f.rated = try r.decode(column: "rated", as: Int.self)
            f.ratingSum = try r.decode(column: "rating_sum", as: Int.self)
            out[id] = f
        }
        return out
    }
}
