import Foundation
import SQLKit
import LinliCore
import LinliStore

/// The registry's use cases. Each checks the actor's permission on the object, then reads or
/// writes in one transaction; the HTML and JSON routes both call these.
public struct RegistryService: Sendable {
    let store: any Store
    let cipher: PersonalDataCipher
    let env: Env
    let audit: AuditLog
    /// Whether an open owners' vote holds a part (its owners may not change until it closes):
    /// set by deliberation, which owns the votes, when the app is put together.
    package var partLock: PartLock?
    /// Told, inside the same transaction, of households whose grid, address or residents'
    /// situations changed, so that work planned around them (grid work's visit plans) follows.
    var householdsChanged: @Sendable (any SQLDatabase, [Int64]) async throws -> Void = { _, _ in }
    /// Capabilities above the registry that name an organisation in their own tables: how many
    /// of their rows do, and what they are (an organisation is removed only when none do).
    package var organisationUses: [@Sendable (any SQLDatabase, Int64) async throws -> (Int, String)] = []
    /// Told, inside the same transaction, that a resident now lives in another household (at
    /// this path), so that what follows the person (a relative's link) moves with them.
    var residentMoved: @Sendable (any SQLDatabase, _ resident: Int64, _ household: Int64, _ path: String) async throws -> Void = { _, _, _, _ in }
    /// Told, inside the same transaction, that `count` sensitive records of a community come due
    /// within `SensitiveRules`' notice period, so that its office hears of them.
    var sensitiveComingDue: @Sendable (any SQLDatabase, _ community: Int64, _ count: Int) async throws -> Void = { _, _, _ in }

    public init(store: any Store, cipher: PersonalDataCipher, env: Env, partLock: PartLock? = nil) {
        self.store = store
        self.cipher = cipher
        self.env = env
        self.audit = AuditLog(env: env)
        self.partLock = partLock
    }

    // MARK: Places

    package struct PlaceRow: Sendable {
        package var id: Int64, parentID: Int64?, kind: PlaceKind, name: String, path: String, communityType: String?
        var summary: PlaceSummary { PlaceSummary(id: id, kind: kind.rawValue, name: name, communityType: communityType) }
        package var scope: ObjectScope { ObjectScope(path: path) }
    }

    static func placeRow(_ r: any SQLRow) throws -> PlaceRow {
        PlaceRow(id: try r.decode(column: "id", as: Int64.self), parentID: try r.decode(column: "parent_id", as: Int64?.self),
                 kind: PlaceKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .unit,
                 name: try r.decode(column: "name", as: String.self), path: try r.decode(column: "path", as: String.self),
                 communityType: try r.decode(column: "community_type", as: String?.self))
    }

    package func fetchPlace(_ db: any SQLDatabase, _ id: Int64) async throws -> PlaceRow? {
        try await db.query("SELECT id, parent_id, kind, name, path, community_type FROM places WHERE id = \(id)")
            .first().map(Self.placeRow)
    }

    func ancestors(_ db: any SQLDatabase, path: String) async throws -> [PlaceRow] {
        let ids = PlacePath.ids(path)
        guard !ids.isEmpty else { return [] }
        // Written out rather than built: SQLKit's builder quoted each identifier anew on every page view.
        let rows = try await db.query("SELECT id, parent_id, kind, name, path, community_type FROM places WHERE id IN (\(list: ids))")
            .all().map(Self.placeRow)
        return rows.sorted { $0.path.count < $1.path.count }
    }

    /// The top places this actor may browse from (the nodes of its grants).
    public func roots(actor: Actor) async throws -> [PlaceSummary] {
        let ids = Array(Set(actor.grants(for: .placeView).map(\.placeID)))
        guard !ids.isEmpty else { return [] }
        return try await store.read { db in
            try await db.raw("SELECT id, parent_id, kind, name, path, community_type FROM places WHERE id IN (\(binds: ids)) ORDER BY path")
                .all().map { try Self.placeRow($0).summary }
        }
    }

    public func place(_ id: Int64, actor: Actor) async throws -> PlaceDetail {
        try await store.read { db in
            guard let p = try await fetchPlace(db, id) else { throw LinliError.notFound }
            try actor.require(.placeView, on: p.scope)
            let crumbs = try await ancestors(db, path: p.path).filter { actor.may(.placeView, on: $0.scope) }.map(\.summary)
            let children = try await db.query("""
                SELECT c.id, c.kind, c.name, c.community_type,
                       (SELECT COUNT(*) FROM places g WHERE g.parent_id = c.id) AS child_count
                FROM places c WHERE c.parent_id = \(id) ORDER BY c.id
                """).all().map { r in
                PlaceSummary(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                             name: try r.decode(column: "name", as: String.self),
                             communityType: try r.decode(column: "community_type", as: String?.self),
                             childCount: try r.decode(column: "child_count", as: Int.self))
            }
            var households: [HouseholdSummary] = []
            let householdScope = scopedHouseholds(actor, .householdView, alias: "h")
            if p.kind.holdsHouseholds {
                households = try await db.query("""
                    SELECT h.id, h.door, h.address, (SELECT COUNT(*) FROM residents r WHERE r.household_id = h.id) AS n
                    FROM households h WHERE h.place_id = \(id) AND \(householdScope) ORDER BY h.door
                    """).all().map { r in
                    HouseholdSummary(id: try r.decode(column: "id", as: Int64.self), door: try r.decode(column: "door", as: String.self),
                                     address: try r.decode(column: "address", as: String.self), residentCount: try r.decode(column: "n", as: Int.self))
                }
            }
            let orgs = try await db.query("""
                SELECT o.id, o.kind, o.name, o.service_type, o.registration, o.parent_id, p.name AS parent_name FROM organisations o
                LEFT JOIN organisations p ON p.id = o.parent_id WHERE o.place_id = \(id) ORDER BY o.id
                """).all().map { r in
                OrganisationSummary(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                    name: try r.decode(column: "name", as: String.self),
                                    serviceType: try r.decode(column: "service_type", as: String?.self),
                                    registration: try r.decode(column: "registration", as: String?.self),
                                    parentName: try r.decode(column: "parent_name", as: String?.self), parentID: try r.decode(column: "parent_id", as: Int64?.self))
            }
            let serving = try await db.query("""
                SELECT o.id, o.kind, o.name, o.service_type, o.registration FROM organisations o
                JOIN organisation_compounds oc ON oc.organisation_id = o.id WHERE oc.compound_id = \(id)
                """).all().map { r in
                OrganisationSummary(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                    name: try r.decode(column: "name", as: String.self), serviceType: nil, registration: nil, serving: true)
            }
            let facilities = try await db.query("SELECT id, kind, name, lat, lng FROM facilities WHERE place_id = \(id) ORDER BY id")
                .all().map { r in
                    FacilitySummary(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                    name: try r.decode(column: "name", as: String.self), lat: try r.decode(column: "lat", as: Double.self),
                                    lng: try r.decode(column: "lng", as: Double.self))
                }
            let grids = p.kind.isCommunity ? try await gridsOf(db, community: id) : []
            return PlaceDetail(place: p.summary, parentID: p.parentID, breadcrumbs: crumbs, children: children,
                               households: households, organisations: orgs + serving, facilities: facilities, grids: grids)
        }
    }

    /// The micro-grids of a community, for the forms that put a household into one.
    public func microGrids(community: Int64, actor: Actor) async throws -> [GridSummary] {
        try await store.read { db in
            guard let p = try await fetchPlace(db, community), p.kind.isCommunity, actor.may(.placeView, on: p.scope) else { return [] }
            return try await gridsOf(db, community: community).filter { $0.level == "micro" }
        }
    }

    func gridsOf(_ db: any SQLDatabase, community: Int64) async throws -> [GridSummary] {
        try await db.query("SELECT id, name, level, parent_id FROM grids WHERE community_id = \(community) ORDER BY id").all().map(Self.gridSummary)
    }

    static func gridSummary(_ r: any SQLRow) throws -> GridSummary {
        GridSummary(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                    level: try r.decode(column: "level", as: String.self), parentID: try r.decode(column: "parent_id", as: Int64?.self))
    }

    /// A place's name as typed, trimmed, with its two rules (present, at most 60 characters).
    static func placeName(_ raw: String?, _ v: inout Validator) -> String {
        let name = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!name.isEmpty, "name", "required", "请填写名称")
        v.check(name.count <= 60, "name", "too_long", "名称不能超过 60 个字")
        return name
    }

    /// Creates a place under `parentID`; the kind must sit exactly one level below its parent.
    public func createPlace(parentID: Int64?, kind rawKind: String?, name rawName: String?, communityType: String?, actor: Actor) async throws -> PlaceSummary {
        var v = Validator()
        let name = Self.placeName(rawName, &v)
        let kind = PlaceKind(rawValue: rawKind ?? "")
        v.check(kind != nil, "kind", "invalid_choice", "未知的层级类型")
        var ctype: CommunityType?
        if let c = communityType, !c.isEmpty {
            ctype = CommunityType(rawValue: c)
            v.check(ctype != nil, "community_type", "invalid_choice", "未知的社区类型")
        }
        try v.throwIfAny()
        let kindValue = kind!
        let ctypeValue = ctype
        return try await store.transaction { db in
            var parent: PlaceRow?
            if let parentID {
                guard let p = try await fetchPlace(db, parentID) else { throw LinliError.invalid("parent_id", "not_found", "上级不存在") }
                try actor.require(.placeEdit, on: p.scope)
                parent = p
            } else {
                // Only a city admin scoped to nothing narrower may found a new city; none do by grant.
                throw LinliError.invalid("parent_id", "required", "请选择上级")
            }
            guard kindValue.canBeChild(of: parent?.kind) else {
                throw LinliError.invalid("kind", "wrong_level", "\(parent!.kind.rawValue) 下不能直接建立 \(kindValue.rawValue)")
            }
            let row = try await db.raw("""
                INSERT INTO places (parent_id, kind, name, path, community_type, created_at)
                VALUES (\(bind: parentID), \(bind: kindValue.rawValue), \(bind: name), '', \(bind: kindValue.isCommunity ? ctypeValue?.rawValue : nil), \(bind: env.nowSeconds))
                RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            let path = (parent?.path ?? "/") + "\(id)/"
            try await db.raw("UPDATE places SET path = \(bind: path) WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "place.create", objectType: "place", objectID: id, path: path, detail: name)
            return PlaceSummary(id: id, kind: kindValue.rawValue, name: name, communityType: ctypeValue?.rawValue)
        }
    }

    /// Renames a place and/or moves it under another parent; refuses cycles and wrong levels.
    public func updatePlace(_ id: Int64, name rawName: String?, parentID newParentID: Int64?, communityType rawType: String? = nil, actor: Actor) async throws -> PlaceSummary {
        let name = rawName?.trimmingCharacters(in: .whitespacesAndNewlines)
        var v = Validator()
        if let name { _ = Self.placeName(name, &v) }
        var ctype: CommunityType?
        if let rawType, !rawType.isEmpty {
            ctype = CommunityType(rawValue: rawType)
            v.check(ctype != nil, "community_type", "invalid_choice", "未知的社区类型")
        }
        try v.throwIfAny()
        let newType = ctype
        return try await store.transaction { db in
            guard var p = try await fetchPlace(db, id) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: p.scope)
            if let name, name != p.name {
                try await db.raw("UPDATE places SET name = \(bind: name) WHERE id = \(bind: id)").run()
                p.name = name
            }
            if let newType, newType.rawValue != p.communityType {
                guard p.kind.isCommunity else { throw LinliError.invalid("community_type", "not_community", "只有社区（村）有社区类型") }
                try await db.raw("UPDATE places SET community_type = \(bind: newType.rawValue) WHERE id = \(bind: id)").run()
                p.communityType = newType.rawValue
            }
            var movedBetween = Set<Int64>()
            if let newParentID, newParentID != p.parentID {
                guard let np = try await fetchPlace(db, newParentID), actor.may(.placeEdit, on: np.scope) else {
                    throw LinliError.invalid("parent_id", "not_found", "新的上级不存在")
                }
                if np.path.hasPrefix(p.path) {
                    throw LinliError.invalid("parent_id", "cycle", "不能把一个地点移到它自己或它的下级之下")
                }
                guard p.kind.canBeChild(of: np.kind) else {
                    throw LinliError.invalid("parent_id", "wrong_level", "\(np.kind.rawValue) 下不能直接放 \(p.kind.rawValue)")
                }
                if p.kind.rank > 3 || p.kind.isCommunity {
                    // Households keep their community: moving across communities would orphan grids.
                    let oldCommunity = try await communityOf(db, path: p.path)
                    let newCommunity = p.kind.isCommunity ? p.id : try await communityOf(db, path: np.path + "\(p.id)/")
                    if oldCommunity != newCommunity {
                        throw LinliError.invalid("parent_id", "other_community", "不能把小区或楼栋移到另一个社区（网格属于社区）")
                    }
                }
                let newPath = np.path + "\(p.id)/"
                // A unit's households belong to its building's counts: a unit moved to another
                // building moves them from one building's situation counts to the other's.
                if p.kind == .unit { movedBetween = Set([p.parentID, newParentID].compactMap { $0 }) }
                let cut = p.path.count + 1
                try await db.raw("UPDATE places SET path = \(bind: newPath) || substr(path, CAST(\(bind: cut) AS INTEGER)) WHERE \(store.dialect.startsWith("path", p.path))").run()
                try await db.raw("UPDATE households SET path = \(bind: newPath) || substr(path, CAST(\(bind: cut) AS INTEGER)) WHERE \(store.dialect.startsWith("path", p.path))").run()
                try await db.raw("UPDATE places SET parent_id = \(bind: newParentID) WHERE id = \(bind: id)").run()
                p.path = newPath
            }
            try await refreshAddresses(db, under: p.path)
            try await recountSituations(db, blocks: movedBetween)
            try await audit.append(db, actor: actor, action: "place.update", objectType: "place", objectID: id, path: p.path, detail: p.name)
            return p.summary
        }
    }

    /// Removes a place with nothing in it. Refused, with the reason, while places, households,
    /// organisations or facilities are under it, or while any other record (a request, a
    /// matter, an account's grant) refers to it.
    public func removePlace(_ id: Int64, actor: Actor) async throws -> Int64 {
        do {
            return try await store.transaction { db in
                guard let p = try await fetchPlace(db, id) else { throw LinliError.notFound }
                try actor.require(.placeEdit, on: p.scope)
                guard let parent = p.parentID else { throw LinliError.conflict("place", "top_level", "不能删除最上级地点") }
                func count(_ sql: BoundSQL) async throws -> Int { try await db.query(sql).first()!.decode(column: "n", as: Int.self) }
                if try await count("SELECT COUNT(*) AS n FROM places WHERE parent_id = \(id)") > 0 {
                    throw LinliError.conflict("place", "has_children", "“\(p.name)”下还有下级地点，请先删除或移走")
                }
                let n = try await count("SELECT COUNT(*) AS n FROM households WHERE place_id = \(id)")
                if n > 0 { throw LinliError.conflict("place", "has_households", "“\(p.name)”下还有 \(n) 户，请先删除或移走") }
                if try await count("SELECT COUNT(*) AS n FROM organisations WHERE place_id = \(id)") > 0 {
                    throw LinliError.conflict("place", "has_organisations", "“\(p.name)”还登记着组织，请先删除")
                }
                if try await count("SELECT COUNT(*) AS n FROM facilities WHERE place_id = \(id)") > 0 {
                    throw LinliError.conflict("place", "has_facilities", "“\(p.name)”还登记着设施，请先删除")
                }
                if try await count("SELECT COUNT(*) AS n FROM grids WHERE community_id = \(id)") > 0 {
                    throw LinliError.conflict("place", "has_grids", "“\(p.name)”还有网格，请先删除")
                }
                try await db.raw("DELETE FROM organisation_compounds WHERE compound_id = \(bind: id)").run()
                try await db.raw("DELETE FROM heads WHERE place_id = \(bind: id)").run()
                try await db.raw("DELETE FROM place_contacts WHERE place_id = \(bind: id)").run()
                try await db.raw("DELETE FROM places WHERE id = \(bind: id)").run()
                try await audit.append(db, actor: actor, action: "place.remove", objectType: "place", objectID: id, path: p.path, detail: p.name)
                return parent
            }
        } catch let error where isStillReferenced(error) {
            throw LinliError.conflict("place", "still_referenced", "仍有诉求、议事、授权等记录指向这个地点，不能删除")
        }
    }

    /// Founds a city: the top of a new hierarchy, made by an operator on the command line (no
    /// role can found one from the console). The first administrator is then granted over it.
    public func createCity(name rawName: String) async throws -> PlaceSummary {
        var v = Validator()
        let name = Self.placeName(rawName, &v)
        try v.throwIfAny()
        return try await store.transaction { db in
            if try await db.raw("SELECT id FROM places WHERE parent_id IS NULL AND name = \(bind: name)").first() != nil {
                throw LinliError.conflict("name", "duplicate_name", "已有名为“\(name)”的市")
            }
            let id = try await db.raw("""
                INSERT INTO places (parent_id, kind, name, path, created_at) VALUES (NULL, 'city', \(bind: name), '', \(bind: env.nowSeconds)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.raw("UPDATE places SET path = \(bind: "/\(id)/") WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: nil, action: "place.create", objectType: "place", objectID: id, path: "/\(id)/", detail: name)
            return PlaceSummary(id: id, kind: PlaceKind.city.rawValue, name: name, communityType: nil)
        }
    }

    func communityOf(_ db: any SQLDatabase, path: String) async throws -> Int64? {
        try await ancestors(db, path: path).first { $0.kind.isCommunity }?.id
    }

    /// Address text as a community office writes it: compound, building, unit, door.
    static func address(places: [PlaceRow], door: String) -> String {
        let parts = places.filter { $0.kind.rank >= 4 }.map(\.name)
        return (parts + [door]).joined(separator: " ")
    }

    func refreshAddresses(_ db: any SQLDatabase, under path: String) async throws {
        let rows = try await db.raw("SELECT id, place_id, door FROM households WHERE \(store.dialect.startsWith("path", path))").all()
        var cache: [Int64: [PlaceRow]] = [:]
        var changed: [Int64] = []
        for r in rows {
            let hid = try r.decode(column: "id", as: Int64.self), pid = try r.decode(column: "place_id", as: Int64.self)
            if cache[pid] == nil, let pl = try await fetchPlace(db, pid) { cache[pid] = try await ancestors(db, path: pl.path) }
            let addr = Self.address(places: cache[pid] ?? [], door: try r.decode(column: "door", as: String.self))
            try await db.raw("UPDATE households SET address = \(bind: addr) WHERE id = \(bind: hid)").run()
            changed.append(hid)
        }
        // Addresses only: a rename keeps every household in its building and grid, and so does a
        // move of anything but a unit (`updatePlace` recounts the two buildings of a unit's move).
        try await householdsChanged(db, changed)
    }

    /// Households added, moved to another grid, or whose residents changed: their buildings'
    /// situation counts are counted again, then the hook tells grid work.
    func householdsDidChange(_ db: any SQLDatabase, _ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await recountSituations(db, households: ids)
        try await householdsChanged(db, ids)
    }

    // MARK: Households

    package struct HouseholdRow: Sendable {
        package var id: Int64, placeID: Int64, communityID: Int64, path: String, door: String, address: String
        package var gridID: Int64, microGridID: Int64, code: String
        package var scope: ObjectScope { ObjectScope(path: path, gridIDs: [gridID, microGridID], householdID: id) }
    }

    /// The columns a household is looked up by.
    enum HouseholdKey: String { case id, code }

    package func fetchHousehold(_ db: any SQLDatabase, id: Int64) async throws -> HouseholdRow? {
        try await db.query("""
            SELECT id, place_id, community_id, path, door, address, grid_id, micro_grid_id, code FROM households WHERE id = \(id)
            """).first().map(Self.householdRow)
    }

    static func householdRow(_ r: any SQLRow) throws -> HouseholdRow {
        HouseholdRow(id: try r.decode(column: "id", as: Int64.self), placeID: try r.decode(column: "place_id", as: Int64.self),
                     communityID: try r.decode(column: "community_id", as: Int64.self), path: try r.decode(column: "path", as: String.self),
                     door: try r.decode(column: "door", as: String.self), address: try r.decode(column: "address", as: String.self),
                     gridID: try r.decode(column: "grid_id", as: Int64.self), microGridID: try r.decode(column: "micro_grid_id", as: Int64.self),
                     code: try r.decode(column: "code", as: String.self))
    }

    /// What a household's page shows beside its residents, read with the household in one statement.
    struct HouseholdHead {
        var row: HouseholdRow
        var gridName: String, microGridName: String
        var dwelling: DwellingView?
    }

    func fetchHouseholdHead(_ db: any SQLDatabase, where column: HouseholdKey, _ value: SQLValue) async throws -> HouseholdHead? {
        guard let r = try await db.query("""
            SELECT h.id, h.place_id, h.community_id, h.path, h.door, h.address, h.grid_id, h.micro_grid_id, h.code,
                   g.name AS grid_name, mg.name AS micro_grid_name, d.area_centi_m2, d.part_no, o.name AS owner_name, o.kind AS owner_kind,
                   (SELECT COUNT(*) FROM dwellings d2 WHERE d2.owner_id = o.id) AS owner_dwellings
            FROM households h LEFT JOIN grids g ON g.id = h.grid_id LEFT JOIN grids mg ON mg.id = h.micro_grid_id
            LEFT JOIN dwellings d ON d.household_id = h.id LEFT JOIN owners o ON o.id = d.owner_id
            WHERE h.\(unsafeRaw: column.rawValue) = \(value)
            """).first() else { return nil }
        var dwelling: DwellingView?
        if let centi = try r.decode(column: "area_centi_m2", as: Int64?.self) {
            dwelling = DwellingView(areaM2: Self.formatArea(centi: centi), partNo: try r.decode(column: "part_no", as: String?.self), ownerName: try r.decode(column: "owner_name", as: String?.self),
                                    ownerKind: try r.decode(column: "owner_kind", as: String?.self), ownerDwellings: try r.decode(column: "owner_dwellings", as: Int?.self))
        }
        return HouseholdHead(row: try Self.householdRow(r), gridName: try r.decode(column: "grid_name", as: String?.self) ?? "",
                             microGridName: try r.decode(column: "micro_grid_name", as: String?.self) ?? "", dwelling: dwelling)
    }

    /// A SQL predicate restricting households (alias `a`) to what the actor may see for `action`.
    func scopedHouseholds(_ actor: Actor, _ action: Action, alias a: String) -> BoundSQL {
        // Terms joined by OR with nothing else: SQLite can then follow an index for each term
        // (a constant `1=0 OR …` in front made it scan every household).
        var terms: [BoundSQL] = []
        for g in actor.grants(for: action) {
            switch g.role {
            case .resident:
                if let h = g.householdID { terms.append("\(unsafeRaw: a).id = \(h)") }
            case .gridWorker:
                if let grid = g.gridID { terms.append("\(unsafeRaw: a).grid_id = \(grid) OR \(unsafeRaw: a).micro_grid_id = \(grid)") }
            default:
                terms.append(store.dialect.startsWith("\(a).path", g.placePath))
            }
        }
        return terms.isEmpty ? "(1=0)" : "(\(BoundSQL.joined(terms, separator: " OR ")))"
    }

    public func household(_ id: Int64, actor: Actor) async throws -> HouseholdDetail {
        try await store.read { db in
            guard let head = try await fetchHouseholdHead(db, where: .id, .integer(id)) else { throw LinliError.notFound }
            return try await householdDetail(db, head, actor: actor)
        }
    }

    /// Opens a household by its printed code. Anyone without the right to see it learns nothing,
    /// not even whether the code exists.
    public func household(code: String, actor: Actor?) async throws -> HouseholdDetail {
        guard let actor, code.count <= 64 else { throw LinliError.notFound }
        return try await store.read { db in
            guard let head = try await fetchHouseholdHead(db, where: .code, .text(code)), actor.may(.householdView, on: head.row.scope) else {
                throw LinliError.notFound
            }
            return try await householdDetail(db, head, actor: actor)
        }
    }

    func householdDetail(_ db: any SQLDatabase, _ head: HouseholdHead, actor: Actor) async throws -> HouseholdDetail {
        let h = head.row
        try actor.require(.householdView, on: h.scope)
        var residents = actor.may(.residentView, on: h.scope)
            ? try await db.query("\(unsafeRaw: Self.residentColumns) WHERE r.household_id = \(h.id) ORDER BY r.id").all().map { try residentView($0, unmasked: nil) }
            : []
        residents = try await withSeenTags(db, residents, scopes: Dictionary(residents.map { ($0.id, h.scope) }, uniquingKeysWith: { a, _ in a }), actor: actor)
        let crumbs = try await ancestors(db, path: h.path).filter { actor.may(.placeView, on: $0.scope) }.map(\.summary)
        return HouseholdDetail(id: h.id, placeID: h.placeID, communityID: h.communityID, door: h.door, address: h.address, code: h.code,
                               gridName: head.gridName, microGridID: h.microGridID, microGridName: head.microGridName,
                               dwelling: head.dwelling, residents: residents, breadcrumbs: crumbs)
    }

    /// Creates a household in a unit (or villager group) and puts it in a micro-grid of its own community.
    public func createHousehold(placeID: Int64?, door rawDoor: String?, microGridID: Int64?, areaM2: String?, dwelling: DwellingInput? = nil, actor: Actor) async throws -> Int64 {
        var v = Validator()
        let door = (rawDoor ?? "").trimmingCharacters(in: .whitespaces)
        v.check(!door.isEmpty && door.count <= 20, "door", "required", "请填写门牌号（不超过 20 个字）")
        v.check(placeID != nil, "place_id", "required", "请选择所在单元")
        v.check(microGridID != nil, "micro_grid_id", "required", "请选择微网格")
        var areaCenti: Int64?
        if let a = areaM2, !a.isEmpty {
            areaCenti = Self.parseArea(a)
            v.check(areaCenti != nil, "area_m2", "invalid_area", "面积应为大于 0 的数字，最多两位小数")
        }
        var part: ValidatedDwelling?
        if var d = dwelling {
            if d.areaM2 == nil { d.areaM2 = areaM2 }
            do { part = try DwellingRules.validate(d) } catch let e as LinliError { v.add(e) } catch let e as ValidationErrors { e.errors.forEach { v.add($0) } }
        }
        try v.throwIfAny()
        let area = areaCenti, validPart = part
        return try await store.transaction { db in
            guard let place = try await fetchPlace(db, placeID!), actor.may(.placeView, on: place.scope) else {
                throw LinliError.notFound
            }
            guard place.kind.holdsHouseholds else { throw LinliError.invalid("place_id", "wrong_level", "户只能建在单元、楼栋或村民小组下") }
            let chain = try await ancestors(db, path: place.path)
            guard let community = chain.first(where: { $0.kind.isCommunity }) else { throw LinliError.invalid("place_id", "no_community", "所在地点不属于任何社区") }
            let (gridID, micro) = try await checkMicroGrid(db, microGridID!, community: community.id)
            let scope = ObjectScope(path: place.path, gridIDs: [gridID, micro])
            try actor.require(.householdEdit, on: scope)
            let code = env.token()
            let address = Self.address(places: chain, door: door)
            let exists = try await db.raw("SELECT id FROM households WHERE place_id = \(bind: place.id) AND door = \(bind: door)").first()
            if exists != nil { throw LinliError.conflict("door", "duplicate_door", "该单元已有此门牌号") }
            let row = try await db.raw("""
                INSERT INTO households (place_id, community_id, path, door, address, grid_id, micro_grid_id, code, created_at)
                VALUES (\(bind: place.id), \(bind: community.id), \(bind: place.path), \(bind: door), \(bind: address), \(bind: gridID), \(bind: micro), \(bind: code), \(bind: env.nowSeconds))
                RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await Self.addToPopulation(db, community: community.id, households: 1)
            if let validPart {
                let row = HouseholdRow(id: id, placeID: place.id, communityID: community.id, path: place.path, door: door, address: address,
                                       gridID: gridID, microGridID: micro, code: code)
                try await writeDwelling(db, household: row, validPart, actor: actor)
            } else if let area {
                try await db.raw("INSERT INTO dwellings (household_id, area_centi_m2) VALUES (\(bind: id), \(bind: area))").run()
            }
            try await audit.append(db, actor: actor, action: "household.create", objectType: "household", objectID: id, path: place.path, detail: address)
            try await householdsDidChange(db, [id])
            return id
        }
    }

    /// Moves a household to another micro-grid, which must belong to the household's own community.
    public func updateHousehold(_ id: Int64, microGridID: Int64?, door rawDoor: String?, actor: Actor) async throws {
        try await store.transaction { db in
            guard let h = try await fetchHousehold(db, id: id) else { throw LinliError.notFound }
            try actor.require(.householdEdit, on: h.scope)
            if let microGridID {
                let (grid, micro) = try await checkMicroGrid(db, microGridID, community: h.communityID)
                // The household must stay where the actor may still edit it: a grid worker moves
                // households between the micro-grids of their own grid, never out of it. Checked
                // before anything is written, so a refusal leaves the household where it was.
                try actor.require(.householdEdit, on: ObjectScope(path: h.path, gridIDs: [grid, micro], householdID: id))
                try await db.raw("UPDATE households SET grid_id = \(bind: grid), micro_grid_id = \(bind: micro) WHERE id = \(bind: id)").run()
                if micro != h.microGridID {
                    try await db.raw("""
                        INSERT INTO household_moves (household_id, from_micro_grid_id, to_micro_grid_id, moved_by, moved_at)
                        VALUES (\(bind: id), \(bind: h.microGridID), \(bind: micro), \(bind: actor.userID), \(bind: env.nowSeconds))
                        """).run()
                }
            }
            if let rawDoor {
                let door = rawDoor.trimmingCharacters(in: .whitespaces)
                guard !door.isEmpty, door.count <= 20 else { throw LinliError.invalid("door", "required", "请填写门牌号（不超过 20 个字）") }
                let clash = try await db.raw("SELECT id FROM households WHERE place_id = \(bind: h.placeID) AND door = \(bind: door) AND id <> \(bind: id)").first()
                if clash != nil { throw LinliError.conflict("door", "duplicate_door", "该单元已有此门牌号") }
                // Only this household's address changes (its unit's path is shared by its neighbours).
                let addr = Self.address(places: try await ancestors(db, path: h.path), door: door)
                try await db.raw("UPDATE households SET door = \(bind: door), address = \(bind: addr) WHERE id = \(bind: id)").run()
            }
            try await audit.append(db, actor: actor, action: "household.update", objectType: "household", objectID: id, path: h.path)
            try await householdsDidChange(db, [id])
        }
    }

    /// Returns (grid, micro-grid) or rejects a micro-grid of another community.
    func checkMicroGrid(_ db: any SQLDatabase, _ microGridID: Int64, community: Int64) async throws -> (Int64, Int64) {
        guard let g = try await db.raw("SELECT community_id, parent_id, level FROM grids WHERE id = \(bind: microGridID)").first() else {
            throw LinliError.invalid("micro_grid_id", "not_found", "微网格不存在")
        }
        guard try g.decode(column: "level", as: String.self) == "micro", let parent = try g.decode(column: "parent_id", as: Int64?.self) else {
            throw LinliError.invalid("micro_grid_id", "not_micro_grid", "户必须归入一个微网格")
        }
        guard try g.decode(column: "community_id", as: Int64.self) == community else {
            throw LinliError.invalid("micro_grid_id", "other_community", "不能把户划入其他社区的网格")
        }
        return (parent, microGridID)
    }

    /// An area in hundredths of a square metre as "130.56" (without `String(format:)`, which went
    /// through Foundation's formatter on every household page).
    package static func formatArea(centi: Int64) -> String {
        let frac = centi % 100
        return String(centi / 100) + (frac < 10 ? ".0" : ".") + String(frac)
    }

    static func parseArea(_ s: String) -> Int64? {
        let parts = s.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]), whole >= 0, whole < 100_000 else { return nil }
        var frac: Int64 = 0
        if parts.count == 2 {
            guard parts[1].count <= 2, parts[1].count > 0, let f = Int64(parts[1]) else { return nil }
            frac = parts[1].count == 1 ? f * 10 : f
        }
        let v = whole * 100 + frac
        return v > 0 ? v : nil
    }

    // MARK: Residents

    /// A resident as shown masked (lists, pages, search). The ciphertexts are read only to unmask:
    /// two long texts per row, and sixteen columns are looked up by name without hashing.
    static let residentColumns = """
        SELECT r.id, r.household_id, r.name, r.gender, r.birth_date, r.id_kind, r.id_last4, r.phone_masked, r.registration, r.relation,
               r.tags, r.party_member, r.in_service_party, r.sms_notices, h.address, h.path, h.grid_id, h.micro_grid_id
        FROM residents r JOIN households h ON h.id = r.household_id
        """
    static let residentColumnsWithCiphers = """
        SELECT r.id, r.household_id, r.name, r.gender, r.birth_date, r.id_kind, r.id_last4, r.phone_masked, r.registration, r.relation,
               r.tags, r.party_member, r.in_service_party, r.sms_notices, r.id_cipher, r.phone_cipher, h.address, h.path, h.grid_id, h.micro_grid_id
        FROM residents r JOIN households h ON h.id = r.household_id
        """

    func residentView(_ r: any SQLRow, unmasked: (String, String?)?) throws -> ResidentView {
        let birth = try r.decode(column: "birth_date", as: String.self)
        let kind = DocumentKind(rawValue: try r.decode(column: "id_kind", as: String.self)) ?? .idCard
        let maskedID = DocumentKind.masked(kind: kind, last4: try r.decode(column: "id_last4", as: String.self))
        let maskedPhone = try r.decode(column: "phone_masked", as: String?.self)
        return ResidentView(
            id: try r.decode(column: "id", as: Int64.self), householdID: try r.decode(column: "household_id", as: Int64.self),
            name: try r.decode(column: "name", as: String.self), gender: try r.decode(column: "gender", as: String.self),
            birthDate: birth, age: Self.age(birth: birth, now: env.now()),
            idNumber: unmasked?.0 ?? maskedID, idKind: kind.rawValue,
            phone: unmasked.map { $0.1 } ?? maskedPhone,
            registration: try r.decode(column: "registration", as: String.self), relation: try r.decode(column: "relation", as: String.self),
            tags: try r.decode(column: "tags", as: String.self).split(separator: ",").map(String.init),
            partyMember: try r.decode(column: "party_member", as: Int.self) != 0,
            inServiceParty: try r.decode(column: "in_service_party", as: Int.self) != 0,
            address: try r.decode(column: "address", as: String?.self), smsNotices: try r.decode(column: "sms_notices", as: Int.self) != 0)
    }

    static func residentScope(_ r: any SQLRow) throws -> ObjectScope {
        ObjectScope(path: try r.decode(column: "path", as: String.self),
                    gridIDs: [try r.decode(column: "grid_id", as: Int64.self), try r.decode(column: "micro_grid_id", as: Int64.self)],
                    householdID: try r.decode(column: "household_id", as: Int64.self))
    }

    /// Whole years from a `YYYY-MM-DD` birth date to today (read digit by digit: it runs for every
    /// resident of every list).
    static func age(birth: String, now: Date) -> Int {
        var parts = [0, 0, 0], part = 0, digits = 0
        for b in birth.utf8 {
            if b == UInt8(ascii: "-") {
                guard digits > 0, part < 2 else { return 0 }
                part += 1; digits = 0
            } else if b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9"), digits < 4 {
                parts[part] = parts[part] * 10 + Int(b - UInt8(ascii: "0")); digits += 1
            } else { return 0 }
        }
        guard part == 2, digits > 0 else { return 0 }
        let today = ChinaTime.localDate(now)
        var age = Int(today.year) - parts[0]
        if (Int(today.month), Int(today.day)) < (parts[1], parts[2]) { age -= 1 }
        return max(0, age)
    }

    public func resident(_ id: Int64, actor: Actor) async throws -> ResidentView {
        try await store.read { db in
            guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            return try await withSeenTags(db, [try residentView(r, unmasked: nil)], scopes: [id: scope], actor: actor)[0]
        }
    }

    /// Shows the full ID number and phone. Needs the permission and a stated reason; the view is
    /// written to the audit log in the same transaction, so there is no unmasked view without its record.
    public func unmaskResident(_ id: Int64, reason rawReason: String?, actor: Actor) async throws -> ResidentView {
        let reason = (rawReason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return try await store.transaction { db in
            guard let r = try await db.raw("\(unsafeRaw: Self.residentColumnsWithCiphers) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            try actor.require(.residentUnmask, on: scope)
            guard reason.count >= 2, reason.count <= 200 else { throw LinliError.invalid("reason", "reason_required", "查看完整信息须填写事由（2–200 字）") }
            let idNumber = try cipher.open(try r.decode(column: "id_cipher", as: String.self))
            let phone = try r.decode(column: "phone_cipher", as: String?.self).map { try cipher.open($0) }
            try await audit.append(db, actor: actor, action: "resident.unmask", objectType: "resident", objectID: id, path: scope.path,
                                   reason: reason, detail: "id_number,phone")
            return try await withSeenTags(db, [try residentView(r, unmasked: (idNumber, phone))], scopes: [id: scope], actor: actor)[0]
        }
    }

    /// The resident a member of staff is about to act for (代办), once the person is confirmed:
    /// the household card's code (scanned or typed; its first eight characters do) or the last
    /// four characters of their ID number. Outside the actor's area the resident does not exist;
    /// a check that does not match is refused with the field named, and nothing is written.
    public func actingTarget(_ id: Int64, code rawCode: String?, last4 rawLast4: String?, actor: Actor) async throws -> ActingTarget {
        let code = Self.normaliseHouseholdCode(rawCode ?? "")
        let last4 = (rawLast4 ?? "").uppercased().filter { !$0.isWhitespace }
        return try await store.read { db in
            guard let r = try await db.raw("""
                SELECT r.id, r.household_id, r.name, r.id_last4, h.path, h.grid_id, h.micro_grid_id, h.code, h.address
                FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(bind: id)
                """).first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            try actor.require(.residentActFor, on: scope)
            let method: String
            if !code.isEmpty {
                let full = try r.decode(column: "code", as: String.self)
                guard code.count >= 8, full.hasPrefix(code) else {
                    throw LinliError.invalid("household_code", "mismatch", "户码与这位居民的户不符，请核对户卡")
                }
                method = "household_code"
            } else if !last4.isEmpty {
                guard last4 == (try r.decode(column: "id_last4", as: String.self)).uppercased() else {
                    throw LinliError.invalid("id_last4", "mismatch", "证件号后四位与登记信息不符，请再问一次")
                }
                method = "id_last4"
            } else {
                throw LinliError.invalid("id_last4", "required", "请先核对本人：扫描户卡，或输入证件号后四位")
            }
            return ActingTarget(residentID: id, householdID: try r.decode(column: "household_id", as: Int64.self),
                                path: scope.path, name: try r.decode(column: "name", as: String.self),
                                address: try r.decode(column: "address", as: String.self), method: method)
        }
    }

    /// The household and name of a resident the actor may edit (for an invitation or an account
    /// linked to them); outside the actor's area the resident does not exist.
    public func editableResident(_ id: Int64, actor: Actor) async throws -> (household: Int64, name: String) {
        try await store.read { db in
            guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            try actor.require(.residentEdit, on: scope)
            return (try r.decode(column: "household_id", as: Int64.self), try r.decode(column: "name", as: String.self))
        }
    }

    public func createResident(_ input: ResidentInput, actor: Actor) async throws -> ResidentView {
        let v = try input.validate(creating: true, today: today)
        let id = try await store.transaction { db in
            guard let h = try await fetchHousehold(db, id: v.householdID!), actor.may(.householdView, on: h.scope) else {
                throw LinliError.invalid("household_id", "not_found", "户不存在")
            }
            try actor.require(.residentEdit, on: h.scope)
            let id = try await insertResident(db, v, household: h.id, path: h.path, actor: actor)
            try await householdsDidChange(db, [h.id])
            return id
        }
        return try await resident(id, actor: actor)
    }

    /// The unique index of a person within a community (see registry.002).
    func scopedIDIndex(key: String, community: Int64) -> String { cipher.index("id-in-community", key + "|" + String(community)) }

    /// Whether this ID is already registered in the community (and not as `except`). Only the
    /// actor's own community is ever asked, so the answer tells nothing about anywhere else.
    func idRegistered(_ db: any SQLDatabase, key: String, community: Int64, except: Int64? = nil) async throws -> Bool {
        try await db.raw("""
            SELECT r.id FROM residents r JOIN households h ON h.id = r.household_id
            WHERE r.id_key = \(bind: key) AND h.community_id = \(bind: community) AND r.id <> \(bind: except ?? 0)
            """).first() != nil
    }

    /// The keyed index of a document number. A resident ID card keeps the plain key (the rows
    /// written before other documents existed); other documents are keyed with their kind, so a
    /// passport and a permit with the same characters are different people; a resident with no
    /// document gets a key of their own that matches nobody.
    func documentKey(_ kind: DocumentKind, _ number: String) -> String {
        switch kind {
        case .idCard: return cipher.index("id", number)
        case .none: return cipher.index("none", env.token())
        default: return cipher.index("id", kind.rawValue + ":" + number)
        }
    }

    static func duplicateDocument(_ kind: DocumentKind) -> LinliError {
        LinliError.conflict("id_number", "duplicate_id_number", kind == .idCard ? "该身份证号已在本社区登记" : "该证件号码已在本社区登记")
    }

    /// Shared by the form, the API, the CSV import and the demo: encrypts, indexes, checks duplicates.
    /// `alreadyChecked`: the caller (the import, which reports every row before writing any)
    /// has asked `idRegistered` in this transaction already.
    /// `counted`: the caller (the import) adds its residents to the community's headcount once at the end.
    func insertResident(_ db: any SQLDatabase, _ v: ValidatedResident, household: Int64, path: String, actor: Actor?, alreadyChecked: Bool = false,
                        counted: Bool = false) async throws -> Int64 {
        let idNumber = v.idNumber!, kind = v.idKind ?? .idCard
        let idKey = documentKey(kind, idNumber)
        let community = PlacePath.communityID(path)
        if !alreadyChecked, try await idRegistered(db, key: idKey, community: community) { throw Self.duplicateDocument(kind) }
        let idIndex = scopedIDIndex(key: idKey, community: community)
        let phone = v.phone ?? nil
        let now = env.nowSeconds
        let row = try await db.raw("""
            INSERT INTO residents (household_id, name, gender, birth_date, id_kind, id_cipher, id_index, id_key, id_last4, phone_cipher, phone_index, phone_masked,
                                   registration, relation, tags, party_member, in_service_party, sms_notices, created_at, updated_at)
            VALUES (\(bind: household), \(bind: v.name!), \(bind: v.gender!), \(bind: v.birthDate!), \(bind: kind.rawValue),
                    \(bind: try cipher.seal(idNumber)), \(bind: idIndex), \(bind: idKey), \(bind: String(idNumber.suffix(4))),
                    \(bind: try phone.map { try cipher.seal($0) }), \(bind: phone.map { cipher.index("phone", $0) }), \(bind: phone.map(PhoneNumber.masked)),
                    \(bind: v.registration!.rawValue), \(bind: v.relation!.rawValue), \(bind: (v.tags ?? []).map(\.rawValue).joined(separator: ",")),
                    \(bind: (v.partyMember ?? false) ? 1 : 0), \(bind: (v.inServiceParty ?? false) ? 1 : 0), \(bind: (v.smsNotices ?? false) ? 1 : 0), \(bind: now), \(bind: now))
            RETURNING id
            """).first()
        let id = try row!.decode(column: "id", as: Int64.self)
        if !counted { try await Self.addToPopulation(db, community: community, residents: 1) }
        try await audit.append(db, actor: actor, action: "resident.create", objectType: "resident", objectID: id, path: path)
        try await writeSensitive(db, resident: id, before: [], after: (v.tags ?? []).map(\.rawValue), records: v.tagRecords,
                                 birthDate: v.birthDate!, path: path, actor: actor)
        return id
    }

    /// Today in China time, `YYYY-MM-DD`: the latest birth date anyone can have.
    var today: String { ChinaTime.iso(day: LocalDay.of(env.nowSeconds)) }

    public func updateResident(_ id: Int64, _ input: ResidentInput, actor: Actor) async throws -> ResidentView {
        let v = try input.validate(creating: false, today: today)
        try await store.transaction { db in
            // Holds the row before reading it (PostgreSQL): two moves of one resident at once
            // would otherwise both take them off the same household's community.
            try await db.raw("UPDATE residents SET updated_at = updated_at WHERE id = \(bind: id)").run()
            guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            try actor.require(.residentEdit, on: scope)
            var sets: [SQLQueryString] = []
            if let name = v.name { sets.append("name = \(bind: name)") }
            if let idNumber = v.idNumber, let kind = v.idKind {
                let key = documentKey(kind, idNumber)
                let community = PlacePath.communityID(scope.path)
                if try await idRegistered(db, key: key, community: community, except: id) { throw Self.duplicateDocument(kind) }
                sets.append("id_kind = \(bind: kind.rawValue)")
                sets.append("id_cipher = \(bind: try cipher.seal(idNumber))")
                sets.append("id_key = \(bind: key)")
                sets.append("id_index = \(bind: scopedIDIndex(key: key, community: community))")
                sets.append("id_last4 = \(bind: String(idNumber.suffix(4)))")
                sets.append("gender = \(bind: v.gender!)")
                sets.append("birth_date = \(bind: v.birthDate!)")
            }
            if let phone = v.phone {
                sets.append("phone_cipher = \(bind: try phone.map { try cipher.seal($0) })")
                sets.append("phone_index = \(bind: phone.map { cipher.index("phone", $0) })")
                sets.append("phone_masked = \(bind: phone.map(PhoneNumber.masked))")
            }
            if let x = v.registration { sets.append("registration = \(bind: x.rawValue)") }
            if let x = v.relation { sets.append("relation = \(bind: x.rawValue)") }
            let before = try r.decode(column: "tags", as: String.self).split(separator: ",").map(String.init)
            // Sensitive tags the actor may not see stay as they are (the form never showed them).
            let (hidden, shared, _) = try await protectedTags(db, id, tags: before, scope: scope, actor: actor)
            let sent = v.tags?.map(\.rawValue)
            // Shared tags the actor unticked stay (their other purposes remain).
            let dropped = Set(shared.keys).subtracting(sent ?? Array(shared.keys))
            let newTags = sent.map { t in t + before.filter { (hidden.contains($0) || dropped.contains($0)) && !t.contains($0) } }
            // Hidden tags the actor ticked, as their own finding.
            let claimed = hidden.intersection(sent ?? [])
            if let x = newTags { sets.append("tags = \(bind: x.joined(separator: ","))") }
            if let x = v.partyMember { sets.append("party_member = \(bind: x ? 1 : 0)") }
            if let x = v.inServiceParty { sets.append("in_service_party = \(bind: x ? 1 : 0)") }
            if let x = v.smsNotices { sets.append("sms_notices = \(bind: x ? 1 : 0)") }
            if let hid = v.householdID, hid != (try r.decode(column: "household_id", as: Int64.self)) {
                guard let nh = try await fetchHousehold(db, id: hid), actor.may(.residentEdit, on: nh.scope) else {
                    throw LinliError.invalid("household_id", "not_found", "户不存在")
                }
                sets.append("household_id = \(bind: nh.id)")
                try await residentMoved(db, id, nh.id, nh.path)
                let was = PlacePath.communityID(scope.path)
                if nh.communityID != was {
                    // In a fixed order, so that two moves the opposite way cannot deadlock.
                    for (community, n) in [(was, Int64(-1)), (nh.communityID, Int64(1))].sorted(by: { $0.0 < $1.0 }) {
                        try await Self.addToPopulation(db, community: community, residents: n)
                    }
                }
            }
            sets.append("updated_at = \(bind: env.nowSeconds)")
            var q = SQLQueryString("UPDATE residents SET ")
            for (i, s) in sets.enumerated() {
                if i > 0 { q.appendLiteral(", ") }
                q.appendInterpolation(s)
            }
            q.appendInterpolation(unsafeRaw: " WHERE id = ")
            q.appendInterpolation(bind: id)
            try await db.raw(q).run()
            try await audit.append(db, actor: actor, action: "resident.update", objectType: "resident", objectID: id, path: scope.path)
            try await writeSensitive(db, resident: id, before: before, after: newTags, records: v.tagRecords,
                                     birthDate: v.birthDate ?? (try r.decode(column: "birth_date", as: String.self)), path: scope.path, actor: actor,
                                     hidden: hidden, claimed: claimed, shared: shared, dropped: dropped)
            // Both homes when the resident moved between households.
            let home = try r.decode(column: "household_id", as: Int64.self)
            try await householdsDidChange(db, v.householdID.map { $0 == home ? [home] : [home, $0] } ?? [home])
        }
        return try await resident(id, actor: actor)
    }

    /// Finds residents by exact phone or ID number (through the HMAC index), by name prefix or by
    /// address text, within the actor's scope.
    public func search(_ rawQuery: String?, actor: Actor, limit: Int = 50) async throws -> [ResidentView] {
        let q = (rawQuery ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !q.isEmpty else { return [] }
        guard q.count <= 60 else { throw LinliError.invalid("q", "too_long", "搜索词不能超过 60 个字") }
        try actor.require(.residentView)
        let scope = scopedHouseholds(actor, .residentView, alias: "h")
        func query(_ condition: BoundSQL, order: String = "r.id") -> BoundSQL {
            "\(unsafeRaw: Self.residentColumns) WHERE \(condition) AND \(scope) ORDER BY \(unsafeRaw: order) LIMIT \(unsafeRaw: String(limit))"
        }
        var queries: [BoundSQL] = []
        let phone = PhoneNumber.normalise(q)
        if PhoneNumber.isValid(phone) {
            queries = [query("r.phone_index = \(cipher.index("phone", phone))")]
        } else if IDNumber.validate(q) == nil {
            queries = [query("r.id_key = \(cipher.index("id", IDNumber.normalise(q)))")]
        } else {
            // Two lookups that each follow an index: names by prefix, and addresses containing the
            // words among the households of the actor's own area (one OR made both full scans).
            // In the name index's own order, so a common surname stops after the first matches in the area.
            queries = [query(store.dialect.startsWith("r.name", q), order: "r.name, r.id"),
                       "\(unsafeRaw: Self.residentColumns) WHERE r.household_id IN (SELECT h.id FROM households h WHERE h.address LIKE \("%" + q + "%") AND \(scope)) ORDER BY r.id LIMIT \(unsafeRaw: String(limit))"]
        }
        let lookups = queries
        return try await store.read { db in
            var found: [Int64: ResidentView] = [:], scopes: [Int64: ObjectScope] = [:]
            for sql in lookups {
                for row in try await db.query(sql).all() {
                    let v = try residentView(row, unmasked: nil); found[v.id] = v; scopes[v.id] = try Self.residentScope(row)
                }
            }
            return try await withSeenTags(db, Array(found.values.sorted { $0.id < $1.id }.prefix(limit)), scopes: scopes, actor: actor)
        }
    }

    // MARK: Coverage

    /// Compounds with and without a property company, an owners' committee and a party branch,
    /// one row per community (or per street when asked at city or district level).
    public func coverage(placeID: Int64, actor: Actor) async throws -> (PlaceSummary, [CoverageRow], CoverageRow) {
        try await store.read { db in
            guard let p = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.coverageView, on: p.scope)
            // Group by the level just below the place (communities for a street, streets for a city or district).
            let groupRank = p.kind.rank < 2 ? 2 : 3
            let rows = try await compoundCoverage(db, under: p.path)
            var groups: [Int64: CoverageRow] = [:]
            var total = CoverageRow(placeID: p.id, name: p.name, compounds: 0, withProperty: 0, withOwnersCommittee: 0, withPartyBranch: 0)
            for r in rows {
                let ids = PlacePath.ids(r.path)
                let key = ids.count > groupRank ? ids[groupRank] : p.id
                var row = groups[key] ?? CoverageRow(placeID: key, name: "", compounds: 0, withProperty: 0, withOwnersCommittee: 0, withPartyBranch: 0)
                let a = r.hasProperty ? 1 : 0, b = r.hasOwnersCommittee ? 1 : 0, c = r.hasPartyBranch ? 1 : 0
                row.compounds += 1; row.withProperty += a; row.withOwnersCommittee += b; row.withPartyBranch += c
                total.compounds += 1; total.withProperty += a; total.withOwnersCommittee += b; total.withPartyBranch += c
                groups[key] = row
            }
            if !groups.isEmpty {
                let names = try await db.raw("SELECT id, name FROM places WHERE id IN (\(binds: Array(groups.keys)))").all()
                for n in names {
                    let id = try n.decode(column: "id", as: Int64.self)
                    groups[id]?.name = try n.decode(column: "name", as: String.self)
                }
            }
            return (p.summary, groups.values.sorted { $0.placeID < $1.placeID }, total)
        }
    }
}
