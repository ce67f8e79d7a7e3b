import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A patrol route as typed: a grid, a name, how often, and its check points in walking order.
public struct PatrolRouteInput: Codable, Sendable {
    public var gridID: Int64?
    public var name: String?
    public var period: String?
    public var points: [PatrolRules.Point]?
    /// False retires the route (its patrols stay on record).
    public var active: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey { case gridID = "grid_id", name, period, points, active }
}

public struct PatrolRouteView: Codable, Sendable, Equatable {
    public var id: Int64
    public var gridID: Int64
    public var gridName: String
    public var name: String
    public var period: PatrolPeriod
    public var points: [PatrolRules.Point]
    public var active: Bool
    public var state: PatrolState
    public var dueBy: String
    public var lastPatrol: String?
    enum CodingKeys: String, CodingKey {
        case id, gridID = "grid_id", gridName = "grid_name", name, period, points, active, state, dueBy = "due_by", lastPatrol = "last_patrol"
    }
}

/// One point's result as sent from the phone.
public struct PatrolCheckInput: Codable, Sendable {
    public var position: Int?
    public var result: String?
    public var finding: String?
    public var note: String?
    /// Put right on the spot: recorded, no request filed.
    public var handled: Bool?
    public var requestCategory: String?
    /// Up to three photos of a finding, base64 (kept with the patrol and sent with its request).
    public var photosBase64: [String]?
    public init() {}
    enum CodingKeys: String, CodingKey { case position, result, finding, note, handled, requestCategory = "request_category", photosBase64 = "photos_base64" }
}

public struct PatrolInput: Codable, Sendable {
    public var routeID: Int64?
    public var checks: [PatrolCheckInput]?
    /// When it was walked (China time, `2026-12-06T09:30`), for a patrol sent later.
    public var patrolledAt: String?
    public var clientKey: String?
    /// The track walked, [lat, lng] (or [lat, lng, seconds]) per position, when the worker chose
    /// to record it.
    public var track: [[Double]]?
    public init() {}
    enum CodingKeys: String, CodingKey { case routeID = "route_id", checks, patrolledAt = "patrolled_at", clientKey = "client_key", track }
}

public struct PatrolCheckView: Codable, Sendable, Equatable {
    public var position: Int
    public var label: String
    public var result: PatrolResult
    public var finding: PatrolFinding?
    public var note: String
    public var handled: Bool
    public var requestID: Int64?
    /// Photo ids (read at `/gridwork-photos/{id}`).
    public var photos: [Int64] = []
    enum CodingKeys: String, CodingKey { case position, label, result, finding, note, handled, requestID = "request_id", photos }
}

public struct PatrolView: Codable, Sendable, Equatable {
    public var id: Int64
    public var routeID: Int64
    public var routeName: String
    public var by: String
    public var patrolledAt: String
    public var findings: Int
    public var checks: [PatrolCheckView]
    /// The notes and photos went under the community's retention rule.
    public var erased: Bool = false
    /// The track walked ([lat, lng] per point), on one patrol's view; its length in metres on any.
    public var track: [[Double]]? = nil
    public var trackMetres: Int? = nil
    enum CodingKeys: String, CodingKey {
        case id, routeID = "route_id", routeName = "route_name", by, patrolledAt = "patrolled_at", findings, checks, erased, track, trackMetres = "track_metres"
    }
}

extension GridWorkService {
    /// The grid a route is for, with its community, if the actor works it (404 otherwise): staff
    /// any grid of theirs; a grid worker their grid, the micro-grids under it, and (for one given
    /// a micro-grid) the grid above it: one family of grids walks the same routes. `routes` lists
    /// by the same rule.
    func patrolGrid(_ db: any SQLDatabase, _ gridID: Int64, actor: Actor) async throws -> (grid: RegistryService.GridRow, community: RegistryService.PlaceRow) {
        guard let g = try await registry.fetchGrid(db, gridID), let c = try await registry.fetchPlace(db, g.communityID) else { throw LinliError.notFound }
        let below = try await registry.gridsOf(db, community: c.id).filter { $0.parentID == g.id }.map(\.id)
        guard actor.may(.visitLog, on: ObjectScope(path: c.path, gridIDs: [g.id] + (g.parentID.map { [$0] } ?? []) + below)) else { throw LinliError.notFound }
        return (g, c)
    }

    /// The same family of grids as a list filter, for a worker's grids.
    static func routeFamily(_ own: [Int64]) -> BoundSQL {
        "(r.grid_id IN (\(list: own)) OR r.grid_id IN (SELECT parent_id FROM grids WHERE id IN (\(list: own))) OR r.grid_id IN (SELECT id FROM grids WHERE parent_id IN (\(list: own))))"
    }

    /// Creates a route (id nil) or replaces one's name, period, points and whether it is active.
    /// A point's place must be in the route's community. One transaction with its audit row.
    public func saveRoute(_ id: Int64?, _ input: PatrolRouteInput, actor: Actor) async throws -> PatrolRouteView {
        try actor.require(.visitLog)
        var v = Validator()
        let name = (input.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let points = (input.points ?? []).map { PatrolRules.Point(label: $0.label.trimmingCharacters(in: .whitespacesAndNewlines), placeID: $0.placeID) }
        let period = PatrolRules.checkRoute(name: name, period: input.period, points: points, &v)
        if id == nil { v.check(input.gridID != nil, "grid_id", "required", "请选择网格") }
        try v.throwIfAny()
        let now = env.nowSeconds
        let saved = try await store.transaction { db -> Int64 in
            var gridID = input.gridID
            if let id {
                guard let r = try await db.query("SELECT grid_id FROM patrol_routes WHERE id = \(id)").first() else { throw LinliError.notFound }
                let own = try r.decode(column: "grid_id", as: Int64.self)
                _ = try await patrolGrid(db, own, actor: actor)
                // A route stays in its grid: a new grid is a new route.
                gridID = own
            }
            let (g, c) = try await patrolGrid(db, gridID!, actor: actor)
            for (i, p) in points.enumerated() {
                guard let place = p.placeID else { continue }
                guard let row = try await registry.fetchPlace(db, place), row.path.hasPrefix(c.path) else {
                    throw LinliError.invalid("points[\(i)].place_id", "not_in_community", "第 \(i + 1) 个巡查点的地点不在本社区")
                }
            }
            let routeID: Int64
            if let id {
                try await db.query("""
                    UPDATE patrol_routes SET name = \(name), period = \(period!.rawValue), points_count = \(points.count), active = \(input.active == false ? 0 : 1),
                        updated_at = \(now) WHERE id = \(id)
                    """).run()
                try await db.query("DELETE FROM patrol_points WHERE route_id = \(id)").run()
                routeID = id
            } else {
                routeID = try await db.query("""
                    INSERT INTO patrol_routes (community_id, grid_id, path, name, period, points_count, active, user_id, created_at, updated_at)
                    VALUES (\(c.id), \(g.id), \(c.path), \(name), \(period!.rawValue), \(points.count), 1, \(actor.userID), \(now), \(now))
                    RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
            try await db.insertRows("INSERT INTO patrol_points (route_id, position, label, place_id) VALUES ", Array(points.enumerated())) { i, p in
                "(\(routeID), \(i + 1), \(p.label), \(p.placeID))"
            }
            try await audit.append(db, actor: actor, action: id == nil ? "patrol_route.create" : "patrol_route.update", objectType: "patrol_route",
                                   objectID: routeID, path: c.path, detail: "\(name): \(points.count) points, \(period!.rawValue)\(input.active == false ? ", retired" : "")")
            return routeID
        }
        return try await route(saved, actor: actor).route
    }

    /// The grids the actor may lay out a route in: a grid worker's own, staff's communities' grids.
    public func patrolGridChoices(actor: Actor) async throws -> [GridSummary] {
        try actor.require(.visitLog)
        let own = Self.workerGrids(actor)
        let communities = actor.may(.visitPlan) ? try await registry.communityChoices(actor: actor, .visitPlan) : []
        return try await store.read { db in
            var out: [GridSummary] = []
            for c in communities { out += try await registry.gridsOf(db, community: c.id).filter { $0.level == "grid" } }
            for g in own where !out.contains(where: { $0.id == g }) {
                if let row = try await registry.fetchGrid(db, g) { out.append(GridSummary(id: row.id, name: row.name, level: row.level, parentID: row.parentID)) }
            }
            return out
        }
    }

    /// Places' names by id (a route's points, for the form).
    func placeNames(_ ids: [Int64], actor: Actor) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in
            var out: [Int64: String] = [:]
            for r in try await db.query("SELECT id, name, path FROM places WHERE id IN (\(list: Array(Set(ids))))").all()
            where actor.may(.placeView, on: ObjectScope(path: try r.decode(column: "path", as: String.self))) {
                out[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "name", as: String.self)
            }
            return out
        }
    }

    static let routeColumns = """
        SELECT r.id, r.community_id, r.grid_id, r.path, r.name, r.period, r.active, r.created_at, r.last_patrol_at, g.name AS grid_name
        FROM patrol_routes r LEFT JOIN grids g ON g.id = r.grid_id
        """

    func routeView(_ r: any SQLRow, points: [PatrolRules.Point], today: Int64) throws -> PatrolRouteView {
        let period = PatrolPeriod(rawValue: try r.decode(column: "period", as: String.self)) ?? .week
        let last = try r.decode(column: "last_patrol_at", as: Int64?.self)
        let since = LocalDay.of(try r.decode(column: "created_at", as: Int64.self))
        return PatrolRouteView(id: try r.decode(column: "id", as: Int64.self), gridID: try r.decode(column: "grid_id", as: Int64.self),
                               gridName: try r.decode(column: "grid_name", as: String?.self) ?? "", name: try r.decode(column: "name", as: String.self),
                               period: period, points: points, active: try r.decode(column: "active", as: Int.self) != 0,
                               state: PatrolRules.state(period: period, last: last.map(LocalDay.of), since: since, today: today),
                               dueBy: ChinaTime.iso(day: PatrolRules.dueBy(period: period, today: today)),
                               lastPatrol: last.map(LocalTime.text))
    }

    func routePoints(_ db: any SQLDatabase, _ ids: [Int64]) async throws -> [Int64: [PatrolRules.Point]] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: [PatrolRules.Point]] = [:]
        for r in try await db.query("SELECT route_id, label, place_id FROM patrol_points WHERE route_id IN (\(list: ids)) ORDER BY route_id, position").all() {
            out[try r.decode(column: "route_id", as: Int64.self), default: []].append(
                PatrolRules.Point(label: try r.decode(column: "label", as: String.self), placeID: try r.decode(column: "place_id", as: Int64?.self)))
        }
        return out
    }

    /// Routes the actor walks or oversees: a grid worker's grids' (no argument), or a community's
    /// (its staff, or a grid worker for their grids in it). Retired routes only when asked.
    public func routes(community: Int64?, actor: Actor, retired: Bool = false) async throws -> [PatrolRouteView] {
        try actor.require(.visitLog)
        let today = LocalDay.of(env.nowSeconds)
        return try await store.read { db in
            let filter: BoundSQL
            if let community {
                guard let c = try await registry.fetchPlace(db, community), c.kind.isCommunity, actor.may(.placeView, on: c.scope) else { throw LinliError.notFound }
                if actor.may(.visitLog, on: c.scope) {
                    filter = "r.community_id = \(community)"
                } else {
                    let own = Self.workerGrids(actor)
                    guard !own.isEmpty else { throw LinliError.notFound }
                    filter = "r.community_id = \(community) AND \(Self.routeFamily(own))"
                }
            } else {
                return try await workerRoutes(db, actor: actor, retired: retired)
            }
            return try await routeViews(db, filter, retired: retired, today: today)
        }
    }

    /// The routes of a grid worker's own grids (none for anyone without a grid of their own).
    func workerRoutes(_ db: any SQLDatabase, actor: Actor, retired: Bool = false) async throws -> [PatrolRouteView] {
        let own = Self.workerGrids(actor)
        guard !own.isEmpty else { return [] }
        return try await routeViews(db, Self.routeFamily(own), retired: retired, today: LocalDay.of(env.nowSeconds))
    }

    func routeViews(_ db: any SQLDatabase, _ filter: BoundSQL, retired: Bool, today: Int64) async throws -> [PatrolRouteView] {
        let active: BoundSQL = retired ? "" : " AND r.active = 1"
        let rows = try await db.query("\(unsafeRaw: Self.routeColumns) WHERE \(filter)\(active) ORDER BY g.name, r.name LIMIT 500").all()
        let points = try await routePoints(db, try rows.map { try $0.decode(column: "id", as: Int64.self) })
        return try rows.map { try routeView($0, points: points[try $0.decode(column: "id", as: Int64.self)] ?? [], today: today) }
    }

    /// A route with its latest patrols (for the grid's staff and the community; 404 to others).
    public func route(_ id: Int64, actor: Actor) async throws -> (route: PatrolRouteView, patrols: [PatrolView]) {
        try actor.require(.visitLog)
        let today = LocalDay.of(env.nowSeconds)
        return try await store.read { db in
            guard let r = try await db.query("\(unsafeRaw: Self.routeColumns) WHERE r.id = \(id)").first() else { throw LinliError.notFound }
            _ = try await patrolGrid(db, try r.decode(column: "grid_id", as: Int64.self), actor: actor)
            let view = try routeView(r, points: try await routePoints(db, [id])[id] ?? [], today: today)
            let ids = try await db.query("SELECT id FROM patrols WHERE route_id = \(id) ORDER BY patrolled_at DESC, id DESC LIMIT 20").all()
                .map { try $0.decode(column: "id", as: Int64.self) }
            return (view, try await patrolViews(db, ids))
        }
    }

    func patrolViews(_ db: any SQLDatabase, _ ids: [Int64], tracks: Bool = false) async throws -> [PatrolView] {
        guard !ids.isEmpty else { return [] }
        var walked: [Int64: (points: [[Double]]?, metres: Int)] = [:]
        for r in try await db.query("""
            SELECT patrol_id, metres\(unsafeRaw: tracks ? ", points_cipher" : "") FROM patrol_tracks WHERE patrol_id IN (\(list: ids))
            """).all() {
            let points: [[Double]]? = tracks ? try JSONDecoder().decode([[Double]].self, from: Data(try cipher.open(try r.decode(column: "points_cipher", as: String.self)).utf8)) : nil
            walked[try r.decode(column: "patrol_id", as: Int64.self)] = (points, try r.decode(column: "metres", as: Int.self))
        }
        var checks: [Int64: [PatrolCheckView]] = [:]
        for c in try await db.query("""
            SELECT patrol_id, position, label, result, finding, note_cipher, handled, request_id FROM patrol_checks
            WHERE patrol_id IN (\(list: ids)) ORDER BY patrol_id, position
            """).all() {
            checks[try c.decode(column: "patrol_id", as: Int64.self), default: []].append(PatrolCheckView(
                position: try c.decode(column: "position", as: Int.self), label: try c.decode(column: "label", as: String.self),
                result: PatrolResult(rawValue: try c.decode(column: "result", as: String.self)) ?? .ok,
                finding: try c.decode(column: "finding", as: String?.self).flatMap(PatrolFinding.init(rawValue:)),
                note: try c.decode(column: "note_cipher", as: String?.self).map { try cipher.open($0) } ?? "",
                handled: try c.decode(column: "handled", as: Int.self) != 0, requestID: try c.decode(column: "request_id", as: Int64?.self)))
        }
        let photos = try await photoIDs(db, owner: .patrol, ids: ids)
        let rows = try await db.query("""
            SELECT id, route_id, route_name, by_name, patrolled_at, findings, erased_at FROM patrols WHERE id IN (\(list: ids)) ORDER BY patrolled_at DESC, id DESC
            """).all()
        return try rows.map { r in
            let id = try r.decode(column: "id", as: Int64.self)
            var list = checks[id] ?? []
            for i in list.indices { list[i].photos = photos[id]?[list[i].position] ?? [] }
            return PatrolView(id: id, routeID: try r.decode(column: "route_id", as: Int64.self), routeName: try r.decode(column: "route_name", as: String.self),
                              by: try r.decode(column: "by_name", as: String.self), patrolledAt: LocalTime.text(try r.decode(column: "patrolled_at", as: Int64.self)),
                              findings: try r.decode(column: "findings", as: Int.self), checks: list,
                              erased: try r.decode(column: "erased_at", as: Int64?.self) != nil, track: walked[id]?.points, trackMetres: walked[id]?.metres)
        }
    }

    /// One patrol, for the grid's staff and the community.
    public func patrol(_ id: Int64, actor: Actor) async throws -> PatrolView {
        try actor.require(.visitLog)
        return try await store.read { db in
            guard let r = try await db.query("SELECT grid_id FROM patrols WHERE id = \(id)").first() else { throw LinliError.notFound }
            _ = try await patrolGrid(db, try r.decode(column: "grid_id", as: Int64.self), actor: actor)
            return try await patrolViews(db, [id], tracks: true).first!
        }
    }

    /// Records a patrol walked on a route: a result for every check point (a finding says what
    /// and, unless put right there, is filed as a request routed as usual, at the point's place).
    /// A retry with the same `client_key` returns the first patrol and files nothing twice.
    /// `photos` are files sent with the form, by check point position (the API sends them as
    /// base64 in each check); only a finding keeps its photos.
    public func recordPatrol(_ input: PatrolInput, photos files: [Int: [[UInt8]]] = [:], actor: Actor) async throws -> (patrol: PatrolView, created: Bool) {
        try actor.require(.visitLog)
        let now = env.nowSeconds
        var v = Validator()
        v.check(input.routeID != nil, "route_id", "required", "请选择巡查路线")
        let key = input.clientKey?.trimmingCharacters(in: .whitespaces)
        if let key { v.check(!key.isEmpty && key.count <= 100, "client_key", "invalid", "client_key 长度应为 1–100") }
        var walked = now
        if let raw = input.patrolledAt, !raw.isEmpty {
            if let t = Input.localDateTime(raw) {
                v.check(t <= now + 300, "patrolled_at", "in_future", "巡查时间不能晚于现在")
                v.check(t >= now - 7 * 86400, "patrolled_at", "too_old", "只能补登 7 天内的巡查")
                walked = t
            } else {
                v.add(.invalid("patrolled_at", "invalid_datetime", "巡查时间格式应为 YYYY-MM-DDTHH:MM"))
            }
        }
        let track = PatrolRules.checkTrack(input.track ?? [], &v)
        try v.throwIfAny()
        if let key, let existing = try await patrol(byKey: key, actor: actor) {
            guard existing.routeID == input.routeID else { throw LinliError.invalid("client_key", "key_reused", "该 client_key 已用于另一次巡查") }
            return (try await fileFindings(existing, actor: actor), false)
        }
        let at = walked
        let routeID = input.routeID!
        // The route is the actor's (else 404) and its points are known before any picture is
        // decoded: libvips's work is only for a patrol that can be kept.
        let pointCount = try await store.read { db -> Int in
            guard let r = try await db.query("SELECT grid_id FROM patrol_routes WHERE id = \(routeID)").first() else { throw LinliError.notFound }
            _ = try await patrolGrid(db, try r.decode(column: "grid_id", as: Int64.self), actor: actor)
            return try await db.query("SELECT COUNT(*) AS n FROM patrol_points WHERE route_id = \(routeID)").first()!.decode(column: "n", as: Int.self)
        }
        // Each finding's photos, checked and re-encoded before the transaction; a refusal names
        // the point. A position the route does not have is refused below with the rest.
        var prepared: [Int: [PreparedPhoto]] = [:]
        for c in input.checks ?? [] {
            // Named like the point's other fields (points are numbered from 1).
            guard let position = c.position, (1...max(1, pointCount)).contains(position), c.result == PatrolResult.finding.rawValue else { continue }
            let list = try Self.preparePhotos(files: files[position] ?? [], base64: c.photosBase64, field: "checks[\(position - 1)].photos")
            if !list.isEmpty { prepared[position] = list }
        }
        let photos = prepared
        let categories = Set(try await requestCategories().map(\.code))
        let id: Int64
        do {
            id = try await store.transaction { db -> Int64 in
                guard let r = try await db.query("SELECT grid_id, community_id, path, name, active FROM patrol_routes WHERE id = \(routeID)").first() else {
                    throw LinliError.notFound
                }
                let grid = try r.decode(column: "grid_id", as: Int64.self)
                _ = try await patrolGrid(db, grid, actor: actor)
                guard try r.decode(column: "active", as: Int.self) != 0 else { throw LinliError.conflict("route_id", "retired", "这条巡查路线已停用") }
                let points = try await db.query("SELECT position, label, place_id FROM patrol_points WHERE route_id = \(routeID) ORDER BY position").all()
                // Every point answered once, by its position; anything else names the point.
                var v = Validator()
                let byPosition = Dictionary((input.checks ?? []).compactMap { c in c.position.map { ($0, c) } }, uniquingKeysWith: { a, _ in a })
                v.check((input.checks ?? []).count == points.count && byPosition.count == points.count, "checks", "incomplete",
                        "请为每个巡查点选择结果（共 \(points.count) 个）")
                var rows: [(Int, String, Int64?, PatrolRules.Check, Bool)] = []
                for (i, p) in points.enumerated() {
                    let position = try p.decode(column: "position", as: Int.self)
                    let c = byPosition[position] ?? PatrolCheckInput()
                    let note = (c.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                    if let checked = PatrolRules.checkPoint(i, result: c.result, finding: c.finding, note: note, handled: c.handled == true,
                                                            category: c.requestCategory.flatMap { $0.isEmpty ? nil : $0 }, categories: categories, &v) {
                        rows.append((position, try p.decode(column: "label", as: String.self), try p.decode(column: "place_id", as: Int64?.self), checked, c.handled == true))
                    }
                }
                try v.throwIfAny()
                let findings = rows.filter { $0.3.result == .finding }.count
                let path = try r.decode(column: "path", as: String.self)
                let id = try await db.query("""
                    INSERT INTO patrols (route_id, community_id, grid_id, path, route_name, user_id, by_name, client_key, patrolled_at, findings, created_at)
                    VALUES (\(routeID), \(try r.decode(column: "community_id", as: Int64.self)), \(grid), \(path), \(try r.decode(column: "name", as: String.self)),
                            \(actor.acting?.userID ?? actor.userID), \(actor.signature), \(key), \(at), \(findings), \(now))
                    RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
                // Notes are sealed at rest (a patrol names doors and people) before the rows are written.
                let sealed = try rows.map { $0.3.note.isEmpty ? nil : try cipher.seal($0.3.note) }
                try await db.insertRows("""
                    INSERT INTO patrol_checks (patrol_id, position, label, place_id, result, finding, note_cipher, handled, category) VALUES
                    """, Array(zip(rows, sealed))) { row, note in
                    let (position, label, place, c, handled) = row
                    return "(\(id), \(position), \(label), \(place), \(c.result.rawValue), \(c.finding?.rawValue), \(note), \(handled ? 1 : 0), \(c.category))"
                }
                let community = try r.decode(column: "community_id", as: Int64.self)
                if !track.isEmpty {
                    let text = String(decoding: try JSONEncoder().encode(track), as: UTF8.self)
                    try await db.query("""
                        INSERT INTO patrol_tracks (patrol_id, points_cipher, points, metres)
                        VALUES (\(id), \(try cipher.seal(text)), \(track.count), \(PatrolRules.trackMetres(track)))
                        """).run()
                }
                for (position, list) in photos.sorted(by: { $0.key < $1.key }) where rows.contains(where: { $0.0 == position && $0.3.result == .finding }) {
                    try await savePhotos(db, list, owner: .patrol, id: id, position: position, community: community, takenAt: at, now: now)
                }
                try await db.query("""
                    UPDATE patrol_routes SET last_patrol_at = \(at) WHERE id = \(routeID) AND (last_patrol_at IS NULL OR last_patrol_at < \(at))
                    """).run()
                try await audit.append(db, actor: actor, action: "patrol.record", objectType: "patrol_route", objectID: routeID, path: path,
                                       detail: "patrol \(id): \(rows.count) points, \(findings) findings")
                return id
            }
        } catch {
            // Two sends at once: the loser finds the winner's patrol.
            if let key, !(error is LinliError), !(error is ValidationErrors), let existing = try await patrol(byKey: key, actor: actor) {
                return (try await fileFindings(existing, actor: actor), false)
            }
            throw error
        }
        let saved = try await store.read { db in try await patrolViews(db, [id], tracks: true).first! }
        // The patrol is kept whatever happens next: a finding the requests capability refuses
        // now (its category retired meanwhile, a place gone) shows as not yet filed on the
        // record, with a button to file it again (`fileFindings(patrol:)`).
        return (try await fileFindings(saved, actor: actor, throwing: false), true)
    }

    /// Files again the findings of a patrol not yet filed as requests (after a refusal or a
    /// lost connection); those filed already are left alone.
    public func fileFindings(patrol id: Int64, actor: Actor) async throws -> PatrolView {
        try await fileFindings(try await patrol(id, actor: actor), actor: actor)
    }

    func patrol(byKey key: String, actor: Actor) async throws -> PatrolView? {
        try await store.read { db in
            guard let r = try await db.query("SELECT id FROM patrols WHERE user_id = \(actor.acting?.userID ?? actor.userID) AND client_key = \(key)").first() else {
                return nil
            }
            return try await patrolViews(db, [try r.decode(column: "id", as: Int64.self)], tracks: true).first
        }
    }

    /// Files each finding not put right on the spot as a request (the requests capability's own
    /// use case: routing, deadlines, notifications), idempotent by patrol and point, so a resend
    /// after a lost answer files what is missing and nothing twice.
    func fileFindings(_ p: PatrolView, actor: Actor, throwing: Bool = true) async throws -> PatrolView {
        var out = p
        var failure: (any Error)?
        let unfiled = p.checks.enumerated().filter { $0.element.result == .finding && !$0.element.handled && $0.element.requestID == nil }
        guard !unfiled.isEmpty else { return out }
        // Where and under what each finding is filed, read once for the patrol.
        let (community, filing) = try await store.read { db in
            let community = try await db.query("SELECT community_id FROM patrols WHERE id = \(p.id)").first()!.decode(column: "community_id", as: Int64.self)
            var filing: [Int: (place: Int64?, category: String?)] = [:]
            for r in try await db.query("SELECT position, place_id, category FROM patrol_checks WHERE patrol_id = \(p.id)").all() {
                filing[try r.decode(column: "position", as: Int.self)] = (try r.decode(column: "place_id", as: Int64?.self), try r.decode(column: "category", as: String?.self))
            }
            return (community, filing)
        }
        for (i, c) in unfiled {
            do {
                var input = RequestInput()
                input.category = filing[c.position]?.category ?? c.finding?.suggestedCategory ?? "other"
                input.description = "巡查发现（\(p.routeName) · \(c.label)）：\(c.note)"
                input.placeID = filing[c.position]?.place ?? community
                input.channel = "patrol"
                input.idempotencyKey = "patrol-\(p.id)-\(c.position)"
                // A finding's photos are of a public place (a blocked passage, a broken light) and
                // go with its request to whoever puts it right (the walk form says so).
                let requestID = try await fileRequest(input, try await photoBytes(owner: .patrol, id: p.id, position: c.position), actor)
                try await store.transaction { db in
                    try await db.query("UPDATE patrol_checks SET request_id = \(requestID) WHERE patrol_id = \(p.id) AND position = \(c.position)").run()
                }
                out.checks[i].requestID = requestID
            } catch {
                // One refused finding does not keep the others from being filed.
                failure = failure ?? error
            }
        }
        if throwing, let failure { throw failure }
        return out
    }
}
