import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Organisations and facilities added from a place's page.
extension RegistryService {
    /// Adds an organisation at a place (a party branch of a compound, a social organisation of a
    /// community, …); a property company also records the compound it serves.
    public func addOrganisation(placeID: Int64, kind rawKind: String?, name rawName: String?, serviceType rawService: String?,
                                registration rawRegistration: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            // Scope first: outside the actor's area the place does not exist, whatever the input.
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            var v = Validator()
            let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写组织名称（60 字以内）")
            let kind = OrganisationKind(rawValue: rawKind ?? "")
            v.check(kind != nil, "kind", "invalid_choice", "请选择组织类型")
            let service = rawService.flatMap { $0.isEmpty ? nil : $0 }
            let registration = rawRegistration.flatMap { $0.isEmpty ? nil : $0 }
            if kind == .socialOrganisation {
                v.check(["activity", "service", "rights"].contains(service ?? ""), "service_type", "invalid_choice", "请选择社会组织类别")
                v.check(["registered", "filed"].contains(registration ?? ""), "registration", "invalid_choice", "请选择登记或备案")
            }
            if kind == .department { v.check(place.kind.rank <= 2, "kind", "invalid_choice", "部门设在市、区或街道（乡镇），不设在社区以下") }
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO organisations (kind, name, place_id, parent_id, service_type, registration)
                VALUES (\(bind: kind!.rawValue), \(bind: name), \(bind: placeID), NULL, \(bind: kind == .socialOrganisation ? service : nil),
                        \(bind: kind == .socialOrganisation ? registration : nil)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            if kind == .propertyCompany, place.kind.rank == 4 {
                try await db.raw("INSERT INTO organisation_compounds (organisation_id, compound_id) VALUES (\(bind: id), \(bind: placeID))").run()
            }
            try await audit.append(db, actor: actor, action: "organisation.create", objectType: "organisation", objectID: id, path: place.path, detail: name)
            return id
        }
    }

    public func addFacility(placeID: Int64, kind rawKind: String?, name rawName: String?, lat rawLat: String?, lng rawLng: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            var v = Validator()
            let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写设施名称（60 字以内）")
            let kind = FacilityKind(rawValue: rawKind ?? "")
            v.check(kind != nil, "kind", "invalid_choice", "请选择设施类型")
            let lat = rawLat.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }, lng = rawLng.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            v.check(lat.map { (-90...90).contains($0) } ?? false, "lat", "invalid", "纬度应为 -90 到 90 的数字")
            v.check(lng.map { (-180...180).contains($0) } ?? false, "lng", "invalid", "经度应为 -180 到 180 的数字")
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO facilities (place_id, kind, name, lat, lng) VALUES (\(bind: placeID), \(bind: kind!.rawValue), \(bind: name), \(bind: lat!), \(bind: lng!))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "facility.create", objectType: "facility", objectID: id, path: place.path, detail: name)
            return id
        }
    }

    /// Organisations an organisation here may report to: those at this place or above it (a
    /// building's party group under its compound's branch, that under the community committee).
    public func parentChoices(placeID: Int64, actor: Actor) async throws -> [(Int64, String)] {
        try await store.read { db in
            guard let place = try await fetchPlace(db, placeID), actor.may(.placeEdit, on: place.scope) else { return [] }
            let ids = PlacePath.ids(place.path).map(String.init).joined(separator: ",")
            return try await db.raw("""
                SELECT o.id, o.name, p.name AS place FROM organisations o JOIN places p ON p.id = o.place_id
                WHERE o.place_id IN (\(unsafeRaw: ids)) ORDER BY p.path, o.id LIMIT 200
                """).all().map { (try $0.decode(column: "id", as: Int64.self), "\(try $0.decode(column: "place", as: String.self)) · \(try $0.decode(column: "name", as: String.self))") }
        }
    }

    /// Renames an organisation and sets what it reports to (none, or one at its place or above,
    /// never itself nor one below it). Returns its place.
    public func editOrganisation(_ id: Int64, name rawName: String?, parentID: Int64?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let o = try await db.raw("SELECT place_id, name FROM organisations WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
            let placeID = try o.decode(column: "place_id", as: Int64.self)
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 60 else { throw LinliError.invalid("name", "required", "请填写组织名称（60 字以内）") }
            if let parentID {
                guard try await db.raw("""
                    SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.id = \(bind: parentID) AND \(bind: place.path) LIKE p.path || '%'
                    """).first() != nil else { throw LinliError.invalid("parent_id", "invalid_parent", "上级组织应在本地或上级地点") }
                // Walk up from the new parent: meeting this organisation would make a loop.
                var cursor: Int64? = parentID
                var steps = 0
                while let c = cursor, steps < 50 {
                    if c == id { throw LinliError.invalid("parent_id", "cycle", "不能把组织设为自己或下级的下级") }
                    cursor = try await db.raw("SELECT parent_id FROM organisations WHERE id = \(bind: c)").first()?.decode(column: "parent_id", as: Int64?.self)
                    steps += 1
                }
            }
            try await db.raw("UPDATE organisations SET name = \(bind: name), parent_id = \(bind: parentID) WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "organisation.edit", objectType: "organisation", objectID: id, path: place.path,
                                   detail: "\(try o.decode(column: "name", as: String.self)) → \(name); parent=\(parentID.map(String.init) ?? "none")")
            return placeID
        }
    }

    /// Removes an organisation that nothing refers to (no organisations under it, no teams,
    /// projects, social workers, members or grant applications). Returns its place.
    public func removeOrganisation(_ id: Int64, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let o = try await db.raw("SELECT place_id, name FROM organisations WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
            let placeID = try o.decode(column: "place_id", as: Int64.self)
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            for (table, column, what) in [("organisations", "parent_id", "下级组织"), ("volunteer_teams", "organisation_id", "志愿者队伍"),
                                          ("micro_projects", "organisation_id", "微项目"), ("social_workers", "organisation_id", "社工"),
                                          ("organisation_members", "organisation_id", "成员"), ("venture_applications", "organisation_id", "创投申请"),
                                          // Its accounts and the activities it posted name it (SQLite may hand a
                                          // removed id to the next organisation, with them).
                                          ("role_grants", "organisation_id", "账号授权")] {
                let n = try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table) WHERE \(unsafeRaw: column) = \(bind: id)").first()!.decode(column: "n", as: Int.self)
                guard n == 0 else { throw LinliError.conflict(nil, "in_use", "该组织还有 \(n) 个\(what)，不能删除") }
            }
            // What capabilities built above the registry keep naming it (the activities it posted).
            for uses in organisationUses {
                let (n, what) = try await uses(db, id)
                guard n == 0 else { throw LinliError.conflict(nil, "in_use", "该组织还有 \(n) 个\(what)，不能删除") }
            }
            try await db.raw("DELETE FROM organisation_compounds WHERE organisation_id = \(bind: id)").run()
            try await db.raw("DELETE FROM organisations WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "organisation.remove", objectType: "organisation", objectID: id, path: place.path,
                                   detail: try o.decode(column: "name", as: String.self))
            return placeID
        }
    }

    public func removeFacility(_ id: Int64, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let f = try await db.raw("SELECT place_id, name FROM facilities WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
            let placeID = try f.decode(column: "place_id", as: Int64.self)
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            try await db.raw("DELETE FROM facilities WHERE id = \(bind: id)").run()
            try await audit.append(db, actor: actor, action: "facility.remove", objectType: "facility", objectID: id, path: place.path,
                                   detail: try f.decode(column: "name", as: String.self))
            return placeID
        }
    }
}

/// A government department (or field office) as other capabilities see it: its name and the
/// area it serves.
public struct DepartmentRef: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var placeID: Int64
    public var placeName: String
    public var placeKind: String
    public var path: String
    /// Its kind (`OrganisationKind`): a department, or another organisation that has accounts.
    public var kind: String = OrganisationKind.department.rawValue
}

extension RegistryService {
    package func departments(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Int64: DepartmentRef] {
        guard !ids.isEmpty else { return [:] }
        return try await departmentRows(db, "o.id IN (\(list: Array(Set(ids))))")
            .reduce(into: [:]) { $0[$1.id] = $1 }
    }

    /// Departments at or below any of `paths` (the areas a manager runs).
    package func departments(_ db: any SQLDatabase, under paths: [String]) async throws -> [DepartmentRef] {
        guard !paths.isEmpty else { return [] }
        return try await departmentRows(db, BoundSQL.joined(paths.map { "p.path LIKE \($0 + "%")" }, separator: " OR "))
    }

    /// Departments sitting at any of these places (a street's ancestors, say).
    package func departments(_ db: any SQLDatabase, at placeIDs: [Int64]) async throws -> [DepartmentRef] {
        guard !placeIDs.isEmpty else { return [] }
        return try await departmentRows(db, "o.place_id IN (\(list: placeIDs))")
    }

    public func departments(ids: [Int64]) async throws -> [Int64: DepartmentRef] { try await store.read { db in try await departments(db, ids: ids) } }
    public func departments(under paths: [String]) async throws -> [DepartmentRef] { try await store.read { db in try await departments(db, under: paths) } }

    private func departmentRows(_ db: any SQLDatabase, _ condition: BoundSQL, kinds: [OrganisationKind] = [.department],
                                order: BoundSQL = "p.path, o.name", limit: Int = 500) async throws -> [DepartmentRef] {
        try await db.query("""
            SELECT o.id, o.name, o.kind, p.id AS place_id, p.name AS place_name, p.kind AS place_kind, p.path FROM organisations o JOIN places p ON p.id = o.place_id
            WHERE o.kind IN (\(list: kinds.map(\.rawValue))) AND (\(condition)) ORDER BY \(order) LIMIT \(unsafeRaw: String(limit))
            """).all().map { r in
            DepartmentRef(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                          placeID: try r.decode(column: "place_id", as: Int64.self), placeName: try r.decode(column: "place_name", as: String.self),
                          placeKind: try r.decode(column: "place_kind", as: String.self), path: try r.decode(column: "path", as: String.self),
                          kind: try r.decode(column: "kind", as: String.self))
        }
    }

    /// Organisations whose staff may hold an account of their own: departments, social
    /// organisations and the party's organisations.
    public static let accountKinds: [OrganisationKind] = [.department, .socialOrganisation, .partyCommittee, .partyBranch, .partyGroup]

    /// Such organisations by id, whatever their kind (to name them beside a grant).
    public func organisationRefs(ids: [Int64]) async throws -> [Int64: DepartmentRef] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in
            try await departmentRows(db, "o.id IN (\(list: Array(Set(ids))))", kinds: Self.accountKinds).reduce(into: [:]) { $0[$1.id] = $1 }
        }
    }

    /// One organisation of `kinds` inside any of `paths` (a manager's areas), or nil.
    public func organisation(_ id: Int64, kinds: [OrganisationKind], under paths: [String]) async throws -> DepartmentRef? {
        try await store.read { db in
            try await departmentRows(db, "o.id = \(id)", kinds: kinds).first { d in paths.contains { d.path.hasPrefix($0) } }
        }
    }

    package func organisationName(_ db: any SQLDatabase, _ id: Int64) async throws -> String? {
        try await db.query("SELECT name FROM organisations WHERE id = \(id)").first()?.decode(column: "name", as: String.self)
    }

    /// `p.path` inside one of the areas where the actor manages accounts; nil if none.
    private func managedAreas(_ actor: Actor) -> BoundSQL? {
        let areas = actor.grants(for: .userManage).map(\.placePath)
        return areas.isEmpty ? nil : BoundSQL.joined(areas.map { store.dialect.startsWith("p.path", $0) }, separator: " OR ")
    }

    /// Organisations that may hold accounts, inside the actor's user-management areas, by name
    /// (from its start, else anywhere in it), for the grant form's picker.
    public func pickOrganisations(_ raw: String, actor: Actor) async throws -> [PickItem] {
        let q = raw.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.count <= 40, let within = managedAreas(actor) else { return [] }
        return try await store.read { db in
            var rows = try await departmentRows(db, "(\(within)) AND \(store.dialect.startsWith("o.name", q))", kinds: Self.accountKinds,
                                                order: "o.name, o.id", limit: Self.pickLimit)
            if rows.isEmpty {
                rows = try await departmentRows(db, "(\(within)) AND \(store.dialect.contains("o.name", q))", kinds: Self.accountKinds,
                                                order: "o.name, o.id", limit: Self.pickLimit)
            }
            return rows.map { PickItem(id: $0.id, label: $0.name, hint: I18n.label($0.kind, .zh) + " · " + $0.placeName) }
        }
    }

    /// Grids' names by id (to name a grid worker's grid beside their grant).
    public func gridNames(ids: [Int64]) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { db in
            try await db.query("SELECT id, name FROM grids WHERE id IN (\(list: Array(Set(ids))))").all().reduce(into: [:]) {
                $0[try $1.decode(column: "id", as: Int64.self)] = try $1.decode(column: "name", as: String.self)
            }
        }
    }

    /// Grids and micro-grids inside the actor's user-management areas, by name, for naming a
    /// grid worker's grid.
    public func pickGrids(_ raw: String, actor: Actor) async throws -> [PickItem] {
        let q = raw.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.count <= 40, let within = managedAreas(actor) else { return [] }
        return try await store.read { db in
            func rows(_ match: BoundSQL) async throws -> [any SQLRow] {
                try await db.query("""
                    SELECT g.id, g.name, g.level, p.name AS community FROM grids g JOIN places p ON p.id = g.community_id
                    WHERE (\(within)) AND \(match) ORDER BY g.name, g.id LIMIT \(unsafeRaw: String(Self.pickLimit))
                    """).all()
            }
            var found = try await rows(store.dialect.startsWith("g.name", q))
            if found.isEmpty { found = try await rows(store.dialect.contains("g.name", q)) }
            return try found.map { r in
                PickItem(id: try r.decode(column: "id", as: Int64.self), label: try r.decode(column: "name", as: String.self),
                         hint: (try r.decode(column: "level", as: String.self) == "micro" ? "微网格" : "网格") + " · " + (try r.decode(column: "community", as: String.self)))
            }
        }
    }
}

extension RegistryService {
    /// Per community: its compounds, and how many have an organisation of `kind` (a property
    /// company serving it, an owners' committee or party branch of it): id → (covered, compounds).
    package static func compoundCoverage(_ db: any SQLDatabase, communityIDs: [Int64], kind: OrganisationKind) async throws -> [Int64: (Int64, Int64)] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: (Int64, Int64)] = [:]
        for r in try await db.query("""
            SELECT parent_id, COUNT(*) AS n FROM places WHERE parent_id IN (\(list: communityIDs)) AND kind = \(PlaceKind.compound.rawValue) GROUP BY parent_id
            """).all() {
            out[try r.decode(column: "parent_id", as: Int64.self)] = (0, try r.decode(column: "n", as: Int64.self))
        }
        let covered: BoundSQL = kind == .propertyCompany
            ? "EXISTS (SELECT 1 FROM organisation_compounds oc JOIN organisations o ON o.id = oc.organisation_id WHERE oc.compound_id = c.id AND o.kind = \(kind.rawValue))"
            : "EXISTS (SELECT 1 FROM organisations o WHERE o.place_id = c.id AND o.kind = \(kind.rawValue))"
        for r in try await db.query("""
            SELECT c.parent_id, COUNT(*) AS n FROM places c WHERE c.parent_id IN (\(list: communityIDs)) AND c.kind = \(PlaceKind.compound.rawValue) AND \(covered) GROUP BY c.parent_id
            """).all() {
            let id = try r.decode(column: "parent_id", as: Int64.self)
            out[id] = (try r.decode(column: "n", as: Int64.self), out[id]?.1 ?? 0)
        }
        return out
    }

    /// Residents and households registered per community: id → (residents, households), as the
    /// registry keeps them (`community_population`, see Population.swift).
    package static func population(_ db: any SQLDatabase, communityIDs: [Int64]) async throws -> [Int64: (residents: Int64, households: Int64)] {
        guard !communityIDs.isEmpty else { return [:] }
        var out: [Int64: (residents: Int64, households: Int64)] = [:]
        for r in try await db.query("SELECT community_id, residents, households FROM community_population WHERE community_id IN (\(list: communityIDs))").all() {
            out[try r.decode(column: "community_id", as: Int64.self)] = (try r.decode(column: "residents", as: Int64.self), try r.decode(column: "households", as: Int64.self))
        }
        return out
    }
}

extension RegistryService {
    /// A resident's name and household, for a certificate issued by staff who may see them; a
    /// resident outside the actor's area does not exist.
    package func certificateHolder(_ db: any SQLDatabase, residentID: Int64, actor: Actor) async throws -> (name: String, householdID: Int64, communityID: Int64, path: String, address: String) {
        guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: residentID)").first() else { throw LinliError.notFound }
        try actor.require(.residentView, on: try Self.residentScope(r))
        guard let h = try await fetchHousehold(db, id: try r.decode(column: "household_id", as: Int64.self)) else { throw LinliError.notFound }
        return (try r.decode(column: "name", as: String.self), h.id, h.communityID, h.path, h.address)
    }
}
