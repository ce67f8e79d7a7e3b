import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Posts a community gives residents over a building, unit or micro-grid.
public enum HeadPost: String, Sendable, CaseIterable, Codable {
    case buildingHead = "building_head"     // 楼长
    case unitHead = "unit_head"             // 单元长
    case microGridLeader = "micro_grid_leader"  // 微网格长

    /// The kind of place (or a micro-grid, nil) the post is over.
    var placeKind: PlaceKind? {
        switch self { case .buildingHead: .building; case .unitHead: .unit; case .microGridLeader: nil }
    }
}

public struct HeadView: Sendable, Codable {
    public var id: Int64
    public var post: String
    public var residentID: Int64
    public var name: String
    public var over: String
    enum CodingKeys: String, CodingKey { case id, post, residentID = "resident_id", name, over }
}

public struct GridDetail: Sendable, Codable {
    public var id: Int64
    public var communityID: Int64
    public var communityName: String
    public var name: String
    public var level: String
    public var parentID: Int64?
    public var parentName: String?
    public var microGrids: [GridSummary]
    public var households: Int
    public var heads: [HeadView]
    public var moves: [HouseholdMove]
    /// The boundary drawn for it, [[lat, lng], …] (WGS-84), if any.
    public var boundary: [[Double]]?
    enum CodingKeys: String, CodingKey {
        case id, communityID = "community_id", communityName = "community_name", name, level, parentID = "parent_id", parentName = "parent_name"
        case microGrids = "micro_grids", households, heads, moves, boundary
    }
}

public struct HouseholdMove: Sendable, Codable {
    public var householdID: Int64
    public var address: String
    public var from: String
    public var to: String
    public var at: String
    enum CodingKeys: String, CodingKey { case householdID = "household_id", address, from, to, at }
}

extension RegistryService {
    struct GridRow { var id: Int64, communityID: Int64, parentID: Int64?, level: String, name: String }

    func fetchGrid(_ db: any SQLDatabase, _ id: Int64) async throws -> GridRow? {
        try await db.query("SELECT id, community_id, parent_id, level, name FROM grids WHERE id = \(id)").first().map { r in
            GridRow(id: try r.decode(column: "id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                    parentID: try r.decode(column: "parent_id", as: Int64?.self), level: try r.decode(column: "level", as: String.self),
                    name: try r.decode(column: "name", as: String.self))
        }
    }

    /// The community of a grid, checked against the actor: outside their area the grid does not exist.
    func gridAndCommunity(_ db: any SQLDatabase, _ id: Int64, actor: Actor, _ action: Action) async throws -> (GridRow, PlaceRow) {
        guard let g = try await fetchGrid(db, id), let c = try await fetchPlace(db, g.communityID), actor.may(.placeView, on: c.scope) else {
            throw LinliError.notFound
        }
        try actor.require(action, on: c.scope)
        return (g, c)
    }

    static func gridName(_ raw: String?, _ v: inout Validator) -> String {
        let name = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!name.isEmpty, "name", "required", "请填写网格名称")
        v.check(name.count <= 40, "name", "too_long", "网格名称不能超过 40 个字")
        return name
    }

    /// Creates a grid of a community, or a micro-grid inside one of its grids.
    public func createGrid(community: Int64, parentID: Int64?, name rawName: String?, actor: Actor) async throws -> GridSummary {
        var v = Validator()
        let name = Self.gridName(rawName, &v)
        try v.throwIfAny()
        return try await store.transaction { db in
            guard let c = try await fetchPlace(db, community), actor.may(.placeView, on: c.scope) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: c.scope)
            guard c.kind.isCommunity else { throw LinliError.invalid("community_id", "not_community", "网格只能建在社区（村）下") }
            var level = "grid"
            if let parentID {
                guard let p = try await fetchGrid(db, parentID), p.communityID == community else {
                    throw LinliError.invalid("parent_id", "other_community", "上级网格不属于本社区")
                }
                guard p.level == "grid" else { throw LinliError.invalid("parent_id", "not_grid", "微网格只能建在网格下") }
                level = "micro"
            }
            if try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND name = \(bind: name)").first() != nil {
                throw LinliError.conflict("name", "duplicate_name", "本社区已有名为“\(name)”的网格")
            }
            let id = try await db.raw("""
                INSERT INTO grids (community_id, parent_id, level, name) VALUES (\(bind: community), \(bind: parentID), \(bind: level), \(bind: name)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "grid.create", objectType: "grid", objectID: id, path: c.path, detail: name)
            return GridSummary(id: id, name: name, level: level, parentID: parentID)
        }
    }

    public func renameGrid(_ id: Int64, name rawName: String?, actor: Actor) async throws -> GridSummary {
        var v = Validator()
        let name = Self.gridName(rawName, &v)
        try v.throwIfAny()
        return try await store.transaction { db in
            let (g, c) = try await gridAndCommunity(db, id, actor: actor, .placeEdit)
            if try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: g.communityID) AND name = \(bind: name) AND id <> \(bind: id)").first() != nil {
                throw LinliError.conflict("name", "duplicate_name", "本社区已有名为“\(name)”的网格")
            }
            try await db.raw("UPDATE grids SET name = \(bind: name) WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "grid.rename", objectType: "grid", objectID: id, path: c.path, detail: name)
            return GridSummary(id: id, name: name, level: g.level, parentID: g.parentID)
        }
    }

    /// Draws (or, with nil or no points, clears) a grid's boundary, checked as a ring; one
    /// transaction with its audit row.
    public func setGridBoundary(_ id: Int64, points: [[Double]]?, actor: Actor) async throws -> [[Double]]? {
        let ring = (points ?? []).isEmpty ? nil : points
        if let ring {
            var v = Validator()
            GridBoundary.check(ring, field: "points", &v)
            try v.throwIfAny()
        }
        // Stored as read back: six decimals.
        let text = ring.map(GridBoundary.text)
        return try await store.transaction { db in
            let (_, c) = try await gridAndCommunity(db, id, actor: actor, .placeEdit)
            try await db.query("UPDATE grids SET boundary = \(text) WHERE id = \(id)").run()
            try await audit.append(db, actor: actor, action: ring == nil ? "grid.boundary_clear" : "grid.boundary", objectType: "grid", objectID: id,
                                   path: c.path, detail: ring.map { "\($0.count) points" } ?? "")
            return text.flatMap { GridBoundary.parse($0).points }
        }
    }

    /// Drawn boundaries of some grids, by id (grids without one are absent).
    func gridBoundaries(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Int64: [[Double]]] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: [[Double]]] = [:]
        for r in try await db.query("SELECT id, boundary FROM grids WHERE id IN (\(list: ids)) AND boundary IS NOT NULL").all() {
            if let points = GridBoundary.parse(try r.decode(column: "boundary", as: String.self)).points, !points.isEmpty {
                out[try r.decode(column: "id", as: Int64.self)] = points
            }
        }
        return out
    }

    public func gridBoundaries(ids: [Int64]) async throws -> [Int64: [[Double]]] {
        try await store.read { db in try await gridBoundaries(db, ids: ids) }
    }

    /// Removes an empty grid. While households, micro-grids or posts are in it the answer says
    /// which; a grid worker's grant or any other record that names it refuses it too.
    public func removeGrid(_ id: Int64, actor: Actor) async throws -> Int64 {
        do {
            return try await store.transaction { db in
                let (g, c) = try await gridAndCommunity(db, id, actor: actor, .placeEdit)
                let n = try await db.raw("SELECT COUNT(*) AS n FROM households WHERE grid_id = \(bind: id) OR micro_grid_id = \(bind: id)").first()!.decode(column: "n", as: Int.self)
                if n > 0 { throw LinliError.conflict("grid", "has_households", "网格内还有 \(n) 户，请先把它们划入其他微网格") }
                if try await db.raw("SELECT id FROM grids WHERE parent_id = \(bind: id)").first() != nil {
                    throw LinliError.conflict("grid", "has_micro_grids", "网格下还有微网格，请先删除或移走")
                }
                try await db.raw("DELETE FROM heads WHERE grid_id = \(bind: id)").run()
                try await db.raw("DELETE FROM grid_contacts WHERE grid_id = \(bind: id)").run()
                try await db.raw("DELETE FROM household_moves WHERE from_micro_grid_id = \(bind: id) OR to_micro_grid_id = \(bind: id)").run()
                try await db.raw("DELETE FROM grids WHERE id = \(bind: id)").run()
                try await audit.append(db, actor: actor, action: "grid.remove", objectType: "grid", objectID: id, path: c.path, detail: g.name)
                return g.communityID
            }
        } catch let error where isStillReferenced(error) {
            throw LinliError.conflict("grid", "still_referenced", "仍有账号授权或其他记录指向这个网格（如网格员的授权），请先撤销")
        }
    }

    public func grid(_ id: Int64, actor: Actor) async throws -> GridDetail {
        try await store.read { db in
            let (g, c) = try await gridAndCommunity(db, id, actor: actor, .placeView)
            let micro = try await db.query("SELECT id, name, level, parent_id FROM grids WHERE parent_id = \(id) ORDER BY id").all().map { r in
                GridSummary(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                            level: try r.decode(column: "level", as: String.self), parentID: try r.decode(column: "parent_id", as: Int64?.self))
            }
            let n = try await db.query("SELECT COUNT(*) AS n FROM households WHERE grid_id = \(id) OR micro_grid_id = \(id)").first()!.decode(column: "n", as: Int.self)
            var parentName: String?
            if let parent = g.parentID { parentName = try await fetchGrid(db, parent)?.name }
            let heads = try await headsOf(db, grid: id, place: nil)
            let moves = try await db.query("""
                SELECT m.household_id, h.address, f.name AS from_name, t.name AS to_name, m.moved_at FROM household_moves m
                JOIN households h ON h.id = m.household_id JOIN grids f ON f.id = m.from_micro_grid_id JOIN grids t ON t.id = m.to_micro_grid_id
                WHERE m.from_micro_grid_id = \(id) OR m.to_micro_grid_id = \(id) OR f.parent_id = \(id) OR t.parent_id = \(id)
                ORDER BY m.id DESC LIMIT 20
                """).all()
            let canSeeHouseholds = actor.may(.householdView, on: ObjectScope(path: c.path, gridIDs: [id]))
            return GridDetail(id: g.id, communityID: c.id, communityName: c.name, name: g.name, level: g.level, parentID: g.parentID, parentName: parentName,
                              microGrids: micro, households: n, heads: heads,
                              moves: canSeeHouseholds ? try moves.map(Self.move) : [], boundary: try await gridBoundaries(db, ids: [id])[id])
        }
    }

    static func move(_ r: any SQLRow) throws -> HouseholdMove {
        HouseholdMove(householdID: try r.decode(column: "household_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                      from: try r.decode(column: "from_name", as: String.self), to: try r.decode(column: "to_name", as: String.self),
                      at: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "moved_at", as: Int64.self))))
    }

    /// A household's moves between micro-grids, newest first (its edit page shows them).
    public func moves(household: Int64, actor: Actor) async throws -> [HouseholdMove] {
        try await store.read { db in
            guard let h = try await fetchHousehold(db, id: household) else { throw LinliError.notFound }
            try actor.require(.householdView, on: h.scope)
            return try await db.query("""
            SELECT m.household_id, h.address, f.name AS from_name, t.name AS to_name, m.moved_at FROM household_moves m
            JOIN households h ON h.id = m.household_id JOIN grids f ON f.id = m.from_micro_grid_id JOIN grids t ON t.id = m.to_micro_grid_id
            WHERE m.household_id = \(household) ORDER BY m.id DESC LIMIT 20
            """).all().map(Self.move)
        }
    }

    func headsOf(_ db: any SQLDatabase, grid: Int64?, place: Int64?) async throws -> [HeadView] {
        let condition: BoundSQL = grid != nil ? "x.grid_id = \(grid!)" : "x.place_id = \(place ?? 0)"
        return try await db.query("""
            SELECT x.id, x.post, x.resident_id, r.name, COALESCE(p.name, g.name) AS over FROM heads x JOIN residents r ON r.id = x.resident_id
            LEFT JOIN places p ON p.id = x.place_id LEFT JOIN grids g ON g.id = x.grid_id WHERE \(condition) ORDER BY x.id
            """).all().map { r in
            HeadView(id: try r.decode(column: "id", as: Int64.self), post: try r.decode(column: "post", as: String.self),
                     residentID: try r.decode(column: "resident_id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                     over: try r.decode(column: "over", as: String?.self) ?? "")
        }
    }

    /// Names a resident of the community 楼长, 单元长 or 微网格长. One person per post and place:
    /// naming another replaces the one before (kept in the audit log).
    public func appoint(post rawPost: String?, placeID: Int64?, gridID: Int64?, residentID: Int64?, actor: Actor) async throws -> HeadView {
        var v = Validator()
        let post = HeadPost(rawValue: rawPost ?? "")
        v.check(post != nil, "post", "invalid_choice", "请选择楼长、单元长或微网格长")
        v.check(residentID != nil, "resident_id", "required", "请选择居民")
        if post == .microGridLeader { v.check(gridID != nil, "grid_id", "required", "请选择微网格") }
        else if post != nil { v.check(placeID != nil, "place_id", "required", "请选择楼栋或单元") }
        try v.throwIfAny()
        return try await store.transaction { db in
            var community: PlaceRow
            var overName: String
            if post == .microGridLeader {
                let (g, c) = try await gridAndCommunity(db, gridID!, actor: actor, .placeEdit)
                guard g.level == "micro" else { throw LinliError.invalid("grid_id", "not_micro_grid", "微网格长只能设在微网格") }
                community = c; overName = g.name
            } else {
                guard let p = try await fetchPlace(db, placeID!), actor.may(.placeView, on: p.scope) else { throw LinliError.notFound }
                try actor.require(.placeEdit, on: p.scope)
                guard p.kind == post!.placeKind else { throw LinliError.invalid("place_id", "wrong_level", post == .buildingHead ? "楼长只能设在楼栋" : "单元长只能设在单元") }
                guard let c = try await ancestors(db, path: p.path).first(where: { $0.kind.isCommunity }) else { throw LinliError.invalid("place_id", "no_community", "所在地点不属于任何社区") }
                community = c; overName = p.name
            }
            guard let r = try await db.raw("""
                SELECT r.name FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(bind: residentID!) AND h.community_id = \(bind: community.id)
                """).first() else { throw LinliError.invalid("resident_id", "other_community", "只能从本社区的居民中任命") }
            let name = try r.decode(column: "name", as: String.self)
            if post == .microGridLeader {
                try await db.raw("DELETE FROM heads WHERE grid_id = \(bind: gridID!) AND post = \(bind: post!.rawValue)").run()
            } else {
                try await db.raw("DELETE FROM heads WHERE place_id = \(bind: placeID!) AND post = \(bind: post!.rawValue)").run()
            }
            let id = try await db.raw("""
                INSERT INTO heads (community_id, post, place_id, grid_id, resident_id, since)
                VALUES (\(bind: community.id), \(bind: post!.rawValue), \(bind: post == .microGridLeader ? nil : placeID), \(bind: post == .microGridLeader ? gridID : nil), \(bind: residentID!), \(bind: env.nowSeconds))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "head.appoint", objectType: "resident", objectID: residentID!, path: community.path,
                                   detail: "\(post!.rawValue)@\(overName)")
            return HeadView(id: id, post: post!.rawValue, residentID: residentID!, name: name, over: overName)
        }
    }

    public func removeHead(_ id: Int64, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let h = try await db.raw("SELECT community_id, place_id, grid_id FROM heads WHERE id = \(bind: id)").first(),
                  let c = try await fetchPlace(db, try h.decode(column: "community_id", as: Int64.self)), actor.may(.placeView, on: c.scope) else {
                throw LinliError.notFound
            }
            try actor.require(.placeEdit, on: c.scope)
            try await db.raw("DELETE FROM heads WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "head.remove", objectType: "head", objectID: id, path: c.path)
            return try h.decode(column: "grid_id", as: Int64?.self) ?? h.decode(column: "place_id", as: Int64?.self) ?? c.id
        }
    }
}

extension RegistryService {
    /// Residents living under a place or in a micro-grid, by address, for choosing a building or
    /// unit head or a micro-grid leader from a list (never by typing an id).
    public func residentChoices(placeID: Int64?, gridID: Int64?, actor: Actor, limit: Int = 300) async throws -> [(Int64, String)] {
        try await store.read { db in
            var condition: BoundSQL
            if let gridID {
                _ = try await gridAndCommunity(db, gridID, actor: actor, .placeView)
                condition = "h.micro_grid_id = \(gridID)"
            } else if let placeID, let p = try await fetchPlace(db, placeID), actor.may(.placeView, on: p.scope) {
                condition = store.dialect.startsWith("h.path", p.path)
            } else { throw LinliError.notFound }
            let scope = scopedHouseholds(actor, .residentView, alias: "h")
            return try await db.query("""
                SELECT r.id, r.name, h.address FROM residents r JOIN households h ON h.id = r.household_id
                WHERE \(condition) AND \(scope) ORDER BY h.address, r.id LIMIT \(unsafeRaw: String(limit))
                """).all().map { r in
                (try r.decode(column: "id", as: Int64.self), try r.decode(column: "name", as: String.self) + " · " + (try r.decode(column: "address", as: String.self)))
            }
        }
    }

    /// Heads named over a building or unit (for its page).
    public func heads(placeID: Int64, actor: Actor) async throws -> [HeadView] {
        try await store.read { db in
            guard let p = try await fetchPlace(db, placeID), actor.may(.placeView, on: p.scope) else { throw LinliError.notFound }
            return try await headsOf(db, grid: nil, place: placeID)
        }
    }
}
