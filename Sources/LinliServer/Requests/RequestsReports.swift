import Foundation
import SQLKit
import LinliCore
import LinliStore

public struct FiguresRow: Sendable, Codable {
    public var key: String
    public var name: String
    public var kind: String
    public var received: Int
    public var responseRate: String
    public var onTimeRate: String
    public var satisfactionRate: String
    public var medianHours: String
    public var returned: Int
    public var escalated: Int
    public var figures: PartyFigures
    enum CodingKeys: String, CodingKey {
        case key, name, kind, received, responseRate = "response_rate", onTimeRate = "on_time_rate"
        case satisfactionRate = "satisfaction_rate", medianHours = "median_hours", returned, escalated, figures
    }

    init(_ f: PartyFigures) {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
        key = f.partyKey; name = f.partyName; kind = f.partyKind; received = f.received
        responseRate = pct(f.responseRate); onTimeRate = pct(f.onTimeRate); satisfactionRate = pct(f.satisfactionRate)
        medianHours = f.medianResolveHours.map { String(format: "%.1f", $0 / 3600) } ?? "—"
        returned = f.returned; escalated = f.escalated; figures = f
    }
}

public struct FiguresReport: Sendable, Codable {
    public var placeID: Int64
    public var placeName: String
    public var from: String
    public var to: String
    public var parties: [FiguresRow]
    public var areas: [FiguresRow]
    public var total: FiguresRow
    enum CodingKeys: String, CodingKey { case placeID = "place_id", placeName = "place_name", from, to, parties, areas, total }
}

/// One calendar month's totals ("2026-11").
public struct MonthFigures: Sendable, Codable {
    public var month: String
    public var total: FiguresRow
}

extension RequestsService {
    /// SQL restricting requests (alias r) to a place, using the indexed id columns where possible.
    static func placePredicate(_ path: String) -> SQLQueryString {
        let ids = PlacePath.ids(path)
        var q = SQLQueryString(" ")
        switch ids.count {
        case 3: q.appendInterpolation(unsafeRaw: "r.street_id = "); q.appendInterpolation(bind: ids[2])
        case 4:
            // Through the street's index, which holds the community column (requests.007).
            q.appendInterpolation(unsafeRaw: "(r.street_id = "); q.appendInterpolation(bind: ids[2])
            q.appendInterpolation(unsafeRaw: " AND r.community_id = "); q.appendInterpolation(bind: ids[3]); q.appendLiteral(")")
        case 5: q.appendInterpolation(unsafeRaw: "r.compound_id = "); q.appendInterpolation(bind: ids[4])
        default: q.appendInterpolation(unsafeRaw: "r.path LIKE "); q.appendInterpolation(bind: path + "%")
        }
        return q
    }

    /// Response, on-time, satisfaction, median time, returns and escalations of every party with
    /// requests at a place, and of each compound / community / street below it, for a period
    /// [from, to) in local days.
    public func figures(placeID: Int64, from: String, to: String, actor: Actor) async throws -> FiguresReport {
        guard let fromDay = Input.day(from) else { throw LinliError.invalid("from", "invalid", "开始日期格式应为 YYYY-MM-DD") }
        guard let toDay = Input.day(to), toDay >= fromDay else { throw LinliError.invalid("to", "invalid", "结束日期格式应为 YYYY-MM-DD，且不早于开始日期") }
        let start = fromDay * 86400 - ChinaTime.utcOffset, end = (toDay + 1) * 86400 - ChinaTime.utcOffset
        return try await store.readHeavy { db in
            guard let p = try await db.raw("SELECT name, path FROM places WHERE id = \(bind: placeID)").first() else { throw LinliError.notFound }
            let path = try p.decode(column: "path", as: String.self)
            let grants = actor.grants(for: .requestFigures)
            let staffScope = grants.contains { ![.propertyCompany].contains($0.role) && path.hasPrefix($0.placePath) }
            let propertyGrants = grants.filter { $0.role == .propertyCompany && ($0.placePath.hasPrefix(path) || path.hasPrefix($0.placePath)) }
            guard staffScope || !propertyGrants.isEmpty else { throw LinliError.notFound }
            var filter = Self.placePredicate(path)
            filter.appendInterpolation(unsafeRaw: " AND r.created_at >= "); filter.appendInterpolation(bind: start)
            filter.appendInterpolation(unsafeRaw: " AND r.created_at < "); filter.appendInterpolation(bind: end)
            filter.appendInterpolation(unsafeRaw: " AND r.status NOT IN ('merged', 'withdrawn')")
            if !staffScope {
                // A property company sees only its own figures.
                filter.appendInterpolation(unsafeRaw: " AND r.party_kind = 'property_company' AND (1=0")
                for g in propertyGrants { filter.appendInterpolation(unsafeRaw: " OR r.party_path LIKE "); filter.appendInterpolation(bind: g.placePath + "%") }
                filter.appendLiteral(")")
            }
            let ids = PlacePath.ids(path)
            let areaColumn: String? = switch ids.count { case 1, 2: "street_id"; case 3: "community_id"; case 4: "compound_id"; default: nil }
            let areaExpr = areaColumn.map { "CAST(r.\($0) AS TEXT)" } ?? "NULL"
            let counts = try await store.dialect == .postgres
                ? figureCountsInSQL(db, filter: filter, areaExpr: areaExpr, areaKind: areaColumn ?? "")
                : figureCountsInOnePass(db, filter: filter, areaExpr: areaExpr, areaKind: areaColumn ?? "")
            var parties = counts.parties
            let (byArea, total) = (counts.areas, counts.total)
            // Parties by their present names (the scan reads only the figures index).
            for (k, named) in try await partyNames(db, keys: Array(parties.keys)) {
                parties[k]?.partyName = named.name
                parties[k]?.partyKind = named.kind
            }
            var areas: [FiguresRow] = []
            if !byArea.isEmpty {
                let areaIDs = byArea.keys.compactMap { Int64($0) }
                var names: [Int64: String] = [:]
                if !areaIDs.isEmpty {
                    for n in try await db.select().columns("id", "name").from("places").where("id", .in, areaIDs).all() {
                        names[try n.decode(column: "id", as: Int64.self)] = try n.decode(column: "name", as: String.self)
                    }
                }
                areas = byArea.values.map { f in
                    var f = f
                    f.partyName = Int64(f.partyKey).flatMap { names[$0] } ?? "—"
                    return FiguresRow(f)
                }.sorted { $0.name < $1.name }
            }
            return FiguresReport(placeID: placeID, placeName: try p.decode(column: "name", as: String.self), from: from, to: to,
                                 parties: parties.values.map(FiguresRow.init).sorted { $0.received > $1.received }, areas: areas, total: FiguresRow(total))
        }
    }

    /// The totals of each of the `months` calendar months up to the one holding `to` (oldest
    /// first), each counted exactly as `figures` counts a period, with the same scope rules.
    public func monthlyFigures(placeID: Int64, through to: String, months: Int = 6, actor: Actor) async throws -> [MonthFigures] {
        guard let toDay = Input.day(to) else { throw LinliError.invalid("to", "invalid", "结束日期格式应为 YYYY-MM-DD") }
        var spans: [(Int64, Int64)] = []
        var day = toDay
        for _ in 0..<max(1, min(months, 24)) {
            let m = LocalDay.month(of: day)
            spans.insert((m.first, m.last), at: 0)
            day = m.first - 1
        }
        var out: [MonthFigures] = []
        for (first, last) in spans {
            let report = try await figures(placeID: placeID, from: ChinaTime.iso(day: first), to: ChinaTime.iso(day: last), actor: actor)
            out.append(MonthFigures(month: String(ChinaTime.iso(day: first).prefix(7)), total: report.total))
        }
        return out
    }

    typealias FigureCounts = (parties: [String: PartyFigures], areas: [String: PartyFigures], total: PartyFigures)

    /// SQLite: one pass over the period's requests, counted here by party, by area and in total
    /// (with the resolve durations for the medians), then the returns. At 10,000,000 requests a
    /// street's month is ~20,000 rows (BENCHMARKS.md).
    func figureCountsInOnePass(_ db: any SQLDatabase, filter: SQLQueryString, areaExpr: String, areaKind: String) async throws -> FigureCounts {
        var q = SQLQueryString("""
            SELECT r.party_key AS pk, \(unsafeRaw: areaExpr) AS ak, r.accepted_at, r.accept_due,
              r.resolved_at, r.resolve_due, r.rating, r.missed, r.returned_count, r.created_at FROM requests r WHERE
            """)
        q += filter
        var parties: [String: PartyFigures] = [:], byArea: [String: PartyFigures] = [:]
        var total = PartyFigures.empty("all")
        var durations: (party: [String: [Int64]], area: [String: [Int64]], all: [Int64]) = ([:], [:], [])
        for r in try await db.raw(q).all() {
            let pk = try r.decode(column: "pk", as: String?.self) ?? "—"
            let ak = try r.decode(column: "ak", as: String?.self)
            let acceptedAt = try r.decode(column: "accepted_at", as: Int64?.self), resolvedAt = try r.decode(column: "resolved_at", as: Int64?.self)
            let rating = try r.decode(column: "rating", as: Int?.self)
            var one = PartyFigures.empty(pk)
            one.received = 1
            if let acceptedAt, acceptedAt <= (try r.decode(column: "accept_due", as: Int64.self)) { one.acceptedOnTime = 1 }
            if let resolvedAt {
                one.resolved = 1
                if resolvedAt <= (try r.decode(column: "resolve_due", as: Int64.self)) { one.resolvedOnTime = 1 }
            }
            if let rating { one.rated = 1; one.satisfied = rating >= 4 ? 1 : 0 }
            if !(try r.decode(column: "missed", as: String.self)).isEmpty { one.escalated = 1 }
            one.returned = try r.decode(column: "returned_count", as: Int.self)
            total.add(one)
            if let ak { byArea[ak, default: .empty(ak, kind: areaKind)].add(one) }
            if parties[pk] == nil { parties[pk] = .empty(pk) }
            // A return counts against the party that returned it (`addReturns`), not the one that has it now.
            one.returned = 0
            parties[pk]!.add(one)
            if let resolvedAt {
                let d = resolvedAt - (try r.decode(column: "created_at", as: Int64.self))
                durations.party[pk, default: []].append(d)
                if let ak { durations.area[ak, default: []].append(d) }
                durations.all.append(d)
            }
        }
        for (k, d) in durations.party { parties[k]?.medianResolveHours = PartyFigures.median(d) }
        for (k, d) in durations.area { byArea[k]?.medianResolveHours = PartyFigures.median(d) }
        total.medianResolveHours = PartyFigures.median(durations.all)
        try await addReturns(db, filter: filter, to: &parties)
        return (parties, byArea, total)
    }

    /// PostgreSQL: the same figures counted by the server (grouping sets: by party, by area and in
    /// total, medians by percentile_cont), so that a few hundred rows cross the wire instead of a
    /// month's requests, each decoded through PostgresKit (BENCHMARKS.md); then the returns.
    func figureCountsInSQL(_ db: any SQLDatabase, filter: SQLQueryString, areaExpr: String, areaKind: String) async throws -> FigureCounts {
        var q = SQLQueryString("""
            SELECT GROUPING(pk) AS gp, GROUPING(ak) AS ga, pk, ak, COUNT(*) AS received,
              COUNT(*) FILTER (WHERE accepted_at <= accept_due) AS accepted_on_time,
              COUNT(resolved_at) AS resolved, COUNT(*) FILTER (WHERE resolved_at <= resolve_due) AS resolved_on_time,
              COUNT(rating) AS rated, COUNT(*) FILTER (WHERE rating >= 4) AS satisfied,
              COUNT(*) FILTER (WHERE missed <> '') AS escalated, CAST(SUM(returned_count) AS BIGINT) AS returned,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY resolved_at - created_at) AS median
            FROM (SELECT COALESCE(r.party_key, '—') AS pk, \(unsafeRaw: areaExpr) AS ak, r.accepted_at, r.accept_due, r.resolved_at, r.resolve_due,
                    r.rating, r.missed, r.returned_count, r.created_at FROM requests r WHERE
            """)
        q += filter
        q.appendInterpolation(unsafeRaw: ") r GROUP BY GROUPING SETS ((pk), (ak), ())")
        var parties: [String: PartyFigures] = [:], byArea: [String: PartyFigures] = [:]
        var total = PartyFigures.empty("all")
        for r in try await db.raw(q).all() {
            let byParty = try r.decode(column: "gp", as: Int.self) == 0, inArea = try r.decode(column: "ga", as: Int.self) == 0
            let key: String? = byParty ? try r.decode(column: "pk", as: String.self) : inArea ? try r.decode(column: "ak", as: String?.self) : "all"
            guard let key else { continue }  // requests with no area of that level
            var f = PartyFigures.empty(key, kind: inArea ? areaKind : "")
            f.received = try r.decode(column: "received", as: Int.self)
            f.acceptedOnTime = try r.decode(column: "accepted_on_time", as: Int.self)
            f.resolved = try r.decode(column: "resolved", as: Int.self)
            f.resolvedOnTime = try r.decode(column: "resolved_on_time", as: Int.self)
            f.rated = try r.decode(column: "rated", as: Int.self)
            f.satisfied = try r.decode(column: "satisfied", as: Int.self)
            f.escalated = try r.decode(column: "escalated", as: Int.self)
            // A return counts against the party that returned it (`addReturns`), not the one that has it now.
            f.returned = byParty ? 0 : try r.decode(column: "returned", as: Int?.self) ?? 0
            f.medianResolveHours = try r.decode(column: "median", as: Double?.self)
            if byParty { parties[key] = f } else if inArea { byArea[key] = f } else { total = f }
        }
        try await addReturns(db, filter: filter, to: &parties)
        return (parties, byArea, total)
    }

    /// Returns of the period's requests, counted against the party that returned each (from the
    /// return steps), not the one that has it now; a party that returned everything it got still
    /// shows. Requests first (CROSS JOIN keeps that order on SQLite): only those ever returned.
    func addReturns(_ db: any SQLDatabase, filter: SQLQueryString, to parties: inout [String: PartyFigures]) async throws {
        var q = SQLQueryString("""
            SELECT e.party_key AS k, COUNT(*) AS n FROM requests r CROSS JOIN request_events e
            WHERE e.request_id = r.id AND e.kind = 'return' AND r.returned_count > 0 AND
            """)
        q += filter
        q.appendInterpolation(unsafeRaw: " GROUP BY e.party_key")
        for r in try await db.raw(q).all() {
            guard let k = try r.decode(column: "k", as: String?.self) else { continue }
            parties[k, default: .empty(k)].returned += try r.decode(column: "n", as: Int.self)
        }
    }

    /// Name and kind of a party from its key ("org:12", "grid:3", "place:7").
    /// Names and kinds of parties by key ("org:1", "grid:2", "place:3"), one query per kind of key.
    func partyNames(_ db: any SQLDatabase, keys: [String]) async throws -> [String: (name: String, kind: String)] {
        var ids: [Substring: [Int64]] = [:]
        for key in keys {
            let parts = key.split(separator: ":")
            if parts.count == 2, let id = Int64(parts[1]) { ids[parts[0], default: []].append(id) }
        }
        // A key whose party is gone keeps the key as its name.
        var out: [String: (name: String, kind: String)] = [:]
        for key in keys where key.contains(":") { out[key] = (key, "") }
        if let orgs = ids["org"] {
            for r in try await db.select().columns("id", "name", "kind").from("organisations").where("id", .in, orgs).all() {
                out["org:\(try r.decode(column: "id", as: Int64.self))"] = (try r.decode(column: "name", as: String.self), try r.decode(column: "kind", as: String.self))
            }
        }
        if let grids = ids["grid"] {
            for r in try await db.select().columns("id", "name").from("grids").where("id", .in, grids).all() {
                out["grid:\(try r.decode(column: "id", as: Int64.self))"] = (try r.decode(column: "name", as: String.self), PartyKind.gridWorker.rawValue)
            }
        }
        if let places = ids["place"] {
            for r in try await db.select().columns("id", "name", "kind").from("places").where("id", .in, places).all() {
                let kind = try r.decode(column: "kind", as: String.self) == PlaceKind.street.rawValue ? PartyKind.department : .residentsCommittee
                out["place:\(try r.decode(column: "id", as: Int64.self))"] = (try r.decode(column: "name", as: String.self), kind.rawValue)
            }
        }
        return out
    }

    /// Building-level address for public eyes: the compound and building, never the door.
    func publicAddresses(_ db: any SQLDatabase, _ rows: [Row]) async throws -> [Int64: String] {
        try await publicAddresses(db, paths: rows.map { ($0.id, $0.path) })
    }

    func publicAddresses(_ db: any SQLDatabase, paths rows: [(id: Int64, path: String)]) async throws -> [Int64: String] {
        var needed = Set<Int64>()
        for r in rows { for id in PlacePath.ids(r.path).dropFirst(3).prefix(3) { needed.insert(id) } }
        var names: [Int64: (String, String)] = [:]
        if !needed.isEmpty {
            for n in try await db.select().columns("id", "name", "kind").from("places").where("id", .in, Array(needed)).all() {
                names[try n.decode(column: "id", as: Int64.self)] = (try n.decode(column: "name", as: String.self), try n.decode(column: "kind", as: String.self))
            }
        }
        var out: [Int64: String] = [:]
        for r in rows {
            let parts = PlacePath.ids(r.path).dropFirst(3).prefix(3).compactMap { names[$0] }
                .filter { $0.1 != PlaceKind.unit.rawValue }.map(\.0)
            out[r.id] = parts.joined()
        }
        return out
    }

    func publicView(_ r: Row, address: String, photos: [Int64], categories: [String: RequestCategory], lang: Lang, lastNote: String) -> PublicRequest {
        PublicRequest(id: r.id, category: r.category, categoryName: categories[r.category]?.name(lang) ?? r.category,
                      description: r.publicDetails ? r.description : nil, address: address,
                      lat: r.householdID == nil ? r.lat : nil, lng: r.householdID == nil ? r.lng : nil,
                      status: r.status.rawValue, open311Status: r.status.open311, partyName: r.partyName, createdAt: r.createdAt, updatedAt: r.updatedAt,
                      resolveDue: r.resolveDue, resolvedAt: r.resolvedAt, statusNotes: lastNote, createdText: LocalTime.text(r.createdAt),
                      photoIDs: r.publicDetails ? photos : [])
    }

    /// Public, published details of a set of rows (board and Open311).
    func publicViews(_ db: any SQLDatabase, _ rows: [Row], lang: Lang, now: Int64) async throws -> [PublicRequest] {
        guard !rows.isEmpty else { return [] }
        let cats = try await config.snapshot(db, now: now).categories
        let addresses = try await publicAddresses(db, rows)
        let ids = rows.map(\.id)
        var photos: [Int64: [Int64]] = [:]
        for p in try await db.select().columns("id", "request_id").from("request_photos").where("request_id", .in, ids).orderBy("id").all() {
            photos[try p.decode(column: "request_id", as: Int64.self), default: []].append(try p.decode(column: "id", as: Int64.self))
        }
        // The last step a member of staff marked as a public reply ("已派人维修") is the status
        // note; other notes are internal (they carry names, phones and doors).
        var notes: [Int64: String] = [:]
        for e in try await db.select().columns("request_id", "kind", "note").from("request_events").where("request_id", .in, ids)
            .where("public", .equal, 1).where("published", .equal, 1).where("kind", .in, ["accept", "note", "resolve"]).orderBy("id").all() {
            let note = try e.decode(column: "note", as: String.self)
            if !note.isEmpty { notes[try e.decode(column: "request_id", as: Int64.self)] = note }
        }
        return rows.map { publicView($0, address: addresses[$0.id] ?? "", photos: photos[$0.id] ?? [], categories: cats, lang: lang, lastNote: notes[$0.id] ?? "") }
    }

    /// The notice board of a compound or community: open requests and those resolved in the last 30 days.
    /// A community's or compound's public board: its newest open requests and those resolved in
    /// the last 30 days, `limit` of each (a page showing a few asks for a few; `resolved` false
    /// skips them).
    public func board(placeID: Int64, lang: Lang, limit: Int = 100, resolved withResolved: Bool = true) async throws
        -> (name: String, open: [PublicRequest], resolved: [PublicRequest]) {
        let now = env.nowSeconds
        return try await store.read { db in
            guard let p = try await db.raw("SELECT name, kind, path FROM places WHERE id = \(bind: placeID)").first(),
                  let kind = PlaceKind(rawValue: try p.decode(column: "kind", as: String.self)), kind.rank == 3 || kind.rank == 4 else {
                throw LinliError.notFound
            }
            let filter = Self.placePredicate(try p.decode(column: "path", as: String.self))
            var q1 = SQLQueryString("\(unsafeRaw: Self.columns) WHERE ")
            q1 += filter
            q1.appendInterpolation(unsafeRaw: " AND r.status IN (\(Self.openStatusList)) ORDER BY r.id DESC LIMIT \(limit)")
            var q2 = SQLQueryString("\(unsafeRaw: Self.columns) WHERE ")
            q2 += filter
            q2.appendInterpolation(unsafeRaw: " AND r.status IN ('resolved', 'closed') AND r.resolved_at >= ")
            q2.appendInterpolation(bind: now - 30 * 86400)
            q2.appendInterpolation(unsafeRaw: " ORDER BY r.resolved_at DESC LIMIT \(limit)")
            let openViews = try await publicViews(db, try await db.raw(q1).all().map(Self.row), lang: lang, now: now)
            let resolved = withResolved ? try await publicViews(db, try await db.raw(q2).all().map(Self.row), lang: lang, now: now) : []
            return (try p.decode(column: "name", as: String.self), openViews, resolved)
        }
    }
}
