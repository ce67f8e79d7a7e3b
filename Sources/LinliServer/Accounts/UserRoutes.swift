import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Accounts and their roles, managed from the console by city and street staff inside their area.
struct UserRoutes {
    let accounts: AccountService
    let registry: RegistryService
    let renderer: Renderer

    func register(_ r: Routes) {
        r.get("/users", .action(.userManage)) { req, c in
            try await listPage(c, query: req.uri.queryParameters.get("q"), errors: [:])
        }
        r.post("/users", .action(.userManage)) { _, c in
            try await formOrErrors(prefix: "new") {
                let id = try await accounts.createUser(username: c.form["username"] ?? "", displayName: c.form["display_name"] ?? "",
                                                       password: c.form["password"] ?? "", actor: try c.requireActor())
                return redirect("/users/\(id)")
            } page: { errors in try await listPage(c, query: nil, errors: errors) }
        }
        r.get("/users/:id", .action(.userManage)) { _, c in try await userPage(c, id: try c.id("id"), errors: [:]) }
        r.post("/users/:id/grants", .action(.userManage)) { _, c in
            let id = try c.id("id")
            let actor = try c.requireActor()
            let user = try await visibleUser(id, actor)
            return try await formOrErrors(prefix: "grant") {
                try await grant(to: user, role: c.form["role"], placeID: try c.form.optionalID("place_id", "地点编号应为数字"),
                                gridID: try c.form.optionalID("grid_id", "网格编号应为数字"), householdID: try c.form.optionalID("household_id", "住户编号应为数字"),
                                residentID: try c.form.optionalID("resident_id", "居民编号应为数字"),
                                organisationID: try c.form.optionalID("organisation_id", "组织编号应为数字"), actor: actor)
                return redirect("/users/\(id)")
            } page: { errors in try await userPage(c, id: id, errors: errors) }
        }
        r.post("/users/:id/grants/:grant/revoke", .action(.userManage)) { _, c in
            let id = try c.id("id")
            guard let grant = c.parameters.get("grant").flatMap({ Int64($0) }) else { throw LinliError.notFound }
            try await accounts.revoke(grantID: grant, of: id, actor: try c.requireActor())
            return redirect("/users/\(id)")
        }

        // Pickers for the grant form: the organisation an account is for, a grid worker's grid.
        r.get("/api/v1/pick/organisations", .action(.userManage)) { req, c in
            try JSON.response(try await registry.pickOrganisations(req.uri.queryParameters.get("q").map { String($0) } ?? "", actor: try c.requireActor()))
        }
        r.get("/api/v1/pick/grids", .action(.userManage)) { req, c in
            try JSON.response(try await registry.pickGrids(req.uri.queryParameters.get("q").map { String($0) } ?? "", actor: try c.requireActor()))
        }

        // The same as JSON: an account made by staff, its grants given and taken back.
        struct PostUsersBody: Decodable { var username: String?; var display_name: String?; var password: String? }
        r.post("/api/v1/users", .action(.userManage), body: PostUsersBody.self) { req, c, b in
            let id = try await accounts.createUser(username: b.username ?? "", displayName: b.display_name ?? "", password: b.password ?? "", actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PostUsersGrantsBody: Decodable { var role: String?; var place_id: Int64?; var grid_id: Int64?; var household_id: Int64?; var resident_id: Int64?; var organisation_id: Int64? }
        r.post("/api/v1/users/:id/grants", .action(.userManage), body: PostUsersGrantsBody.self) { req, c, b in
            let actor = try c.requireActor()
            let user = try await visibleUser(try c.id("id"), actor)
            try await grant(to: user, role: b.role, placeID: b.place_id, gridID: b.grid_id, householdID: b.household_id, residentID: b.resident_id,
                            organisationID: b.organisation_id, actor: actor)
            return try JSON.response(["user_id": user.id], status: .created)
        }
        r.delete("/api/v1/users/:id/grants/:grant", .action(.userManage)) { _, c in
            let actor = try c.requireActor()
            let id = try c.id("id")
            _ = try await visibleUser(id, actor)
            guard let grant = c.parameters.get("grant").flatMap({ Int64($0) }) else { throw LinliError.notFound }
            try await accounts.revoke(grantID: grant, of: id, actor: actor)
            return Response(status: .noContent)
        }
    }

    /// Grants a role to a user the actor may see. A resident's account may name the person it is:
    /// the registry checks that the actor may edit them and says where they live (their household
    /// is then the grant's).
    func grant(to user: AccountService.UserRow, role rawRole: String?, placeID: Int64?, gridID: Int64?, householdID: Int64?, residentID: Int64?,
               organisationID: Int64? = nil, actor: Actor) async throws {
        guard let role = Role(rawValue: rawRole ?? "") else { throw LinliError.invalid("role", "invalid", "请选择角色") }
        var household = householdID
        var resident: Int64?
        if role == .resident, let rid = residentID {
            do { household = try await registry.editableResident(rid, actor: actor).household } catch let e as LinliError where e.status == .notFound || e.status == .forbidden {
                throw LinliError.invalid("resident_id", "not_found", "您管辖范围内没有这位居民")
            }
            resident = rid
        }
        let place = try await registry.grantPlace(for: role, organisationID: organisationID, within: actor.grants(for: .userManage).map(\.placePath)) ?? placeID
        try await accounts.grant(username: user.username, role: role, placeID: place, gridID: gridID, householdID: household, residentID: resident,
                                 organisationID: organisationID, actor: actor)
    }


    func visibleUser(_ id: Int64, _ actor: Actor) async throws -> AccountService.UserRow {
        guard let u = try await accounts.users(actor: actor, userID: id).first else { throw LinliError.notFound }
        return u
    }

    func rows(_ users: [AccountService.UserRow], _ lang: Lang) async throws -> [[String: Any]] {
        let names = try await registry.organisationRefs(ids: users.flatMap { $0.grants.compactMap(\.organisationID) })
        let grids = try await registry.gridNames(ids: users.flatMap { $0.grants.compactMap(\.gridID) })
        return users.map { u in
            ["id": u.id, "username": u.username, "display_name": u.displayName, "locked": u.locked,
             "grants": u.grants.map { g -> [String: Any] in
                ["id": g.id, "role_label": I18n.label("role_" + g.role, lang), "place_id": g.placeID, "place_name": g.placeName,
                 "grid_id": g.gridID.map { $0 as Any } ?? false, "grid_name": g.gridID.flatMap { grids[$0] } ?? "", "household_id": g.householdID.map { $0 as Any } ?? false,
                 "organisation_name": g.organisationID.flatMap { names[$0]?.name } ?? false]
             }]
        }
    }

    func listPage(_ c: AppContext, query: String?, errors: [String: String]) async throws -> Response {
        let users = try await accounts.users(actor: try c.requireActor(), query: query)
        var resp = renderer.page("users", ["users": try await rows(users, c.lang), "q": query ?? "", "errors": errors,
                                           "values": c.form.values.mapValues { $0.first ?? "" }, "empty": users.isEmpty],
                                 context: c, title: I18n.table(c.lang)["users"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func userPage(_ c: AppContext, id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let user = try await visibleUser(id, actor)
        let grantable = AccountService.grantableRoles(by: actor)
        return renderer.page("user", [
            "user": try await rows([user], c.lang)[0], "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
            "roles": grantable.map { ["value": $0.rawValue, "label": I18n.label("role_" + $0.rawValue, c.lang), "selected": $0.rawValue == c.form["role"]] },
        ], context: c, title: user.displayName)
    }
}

extension RegistryService {
    /// The place an organisation's account serves from, for a role held for an organisation (nil
    /// for other roles): never one typed beside it — a department its area, a social
    /// organisation its community, a party branch its compound. The organisation must lie within
    /// `paths` and be of a kind the role is held for. The console, the API and `linli user grant`
    /// all ask here.
    public func grantPlace(for role: Role, organisationID: Int64?, within paths: [String]) async throws -> Int64? {
        guard let kinds = AccountService.organisationKinds[role] else { return nil }
        guard let organisationID else { throw LinliError.invalid("organisation_id", "required", "请选择所属的部门或组织") }
        guard let d = try await organisation(organisationID, kinds: RegistryService.accountKinds, under: paths) else {
            throw LinliError.invalid("organisation_id", "outside_scope", "您管辖范围内没有这个部门或组织")
        }
        guard kinds.map(\.rawValue).contains(d.kind) else {
            throw LinliError.invalid("organisation_id", "wrong_kind", "\(d.name)是\(I18n.label(d.kind, .zh))，不能授予“\(I18n.label("role_" + role.rawValue, .zh))”角色")
        }
        return d.placeID
    }
}
