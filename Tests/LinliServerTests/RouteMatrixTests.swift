import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Walks every registered route with every role, against an object inside and one outside the
/// role's scope, and checks the answer against the permission table: a role without the action
/// gets 403; an object on the other street answers exactly as a missing one (404 for a read; the
/// same refusal for a write whose body is checked first), so nothing outside one's scope is
/// seen, changed or even confirmed to exist; inside, a role with the action is served.
@Suite struct RouteMatrixTests {
    /// Roles whose scope covers the second street too.
    /// (The 12345 account's grant is the city's: it sees the tickets of both streets.)
    static let seesEverything: Set<Role> = [.cityAdmin, .auditor, .hotline]
    /// Roles over the whole first street's community or more: every object there is theirs.
    static let wholeCommunity: Set<Role> = [.cityAdmin, .streetStaff, .communityStaff, .auditor]
    /// Routes that end the credentials they are called with: each call gets a token of its own.
    static let spendsToken: Set<String> = ["/logout", "/api/v1/tokens/revoke"]

    @Test(arguments: Backend.available)
    func everyRouteEveryRoleInsideAndOutsideScope(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let world = try await MatrixWorld.make(f)
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            let byUser = try await f.tokens()
            let tokens = Dictionary(uniqueKeysWithValues: Fixture.demoUsers.map { ($0.1, byUser[$0.0]!) })
            let roleUser = Dictionary(uniqueKeysWithValues: Fixture.demoUsers.map { ($0.1, $0.0) })
            // Removals last, so that every other route meets its objects still there.
            let routes = built.routes.filter { !Self.removes($0) } + built.routes.filter(Self.removes)
            // On SQLite, a connection of its own whose `data_version` moves whenever any other
            // connection commits: a refused write that committed anything shows (finding 9: a
            // grid worker's move answered 403 and was kept).
            let probe: SQLiteStore? = backend == .sqlite ? try await SQLiteStore.open(path: f.config.sqlitePath, readers: 1, logger: Logger(label: "probe")) : nil
            let commits: @Sendable () async throws -> Int64 = {
                guard let probe else { return 0 }
                return try await probe.read { db in try await db.raw("PRAGMA data_version").first()!.decode(column: "data_version", as: Int64.self) }
            }
            let (checked, narrowMisses, wroteOnRefusal) = try await built.app.test(.router) { client -> (Int, [String], [String]) in
                var checked = 0, misses: [String] = [], wroteOnRefusal: [String] = []
                var deleted: Set<String> = []
                for route in routes {
                    guard let targets = Self.targets(route.path, world, ids) else {
                        Issue.record("\(route.method) \(route.path): no object of its kind in the matrix world; add it to MatrixWorld")
                        continue
                    }
                    // The widest roles last, so that a removal they may make leaves the object
                    // for the narrower roles first.
                    for role in Role.allCases.reversed() {
                        for which in [Which.plain, .inside, .outside] {
                            guard let uri = targets[which] else { continue }
                            var token = tokens[role]!
                            if Self.spendsToken.contains(route.path) { token = try await f.token(roleUser[role]!) }
                            let (body, contentType) = Self.body(route, ids, which == .inside)
                            func call(_ uri: String) async throws -> TestResponse {
                                var headers: HTTPFields = [.authorization: "Bearer \(token)"]
                                if let contentType { headers[.contentType] = contentType }
                                return try await client.execute(uri: uri, method: route.method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                            }
                            let before = route.method == .get ? 0 : try await commits()
                            let res = try await call(uri)
                            let status = Int(res.status.code)
                            let context = "\(route.method) \(uri) as \(role.rawValue) (\(which)) → \(status): \(res.body.text.prefix(160))"
                            checked += 1
                            // A refusal writes nothing.
                            if route.method != .get, status >= 400, !Self.countsRefusals.keys.contains("\(route.method) \(route.path)"),
                               try await commits() != before { wroteOnRefusal.append(context) }
                            #expect(status < 500, "\(context)")
                            let allowed: Bool
                            switch route.access {
                            case .open, .signedIn: allowed = true
                            case .action(let a): allowed = PermissionTable.actions[role]!.contains(a)
                            }
                            if !allowed { #expect(status == 403, "\(context)"); continue }
                            // A 403 of the object's own rules (not the assigned party, one's own
                            // expense) is an answer; the plain "没有权限" is the access refusal.
                            let accessRefused = status == 401 || (status == 403 && (res.body.text.contains("没有权限") || res.body.text.contains(#""code":"forbidden""#)))
                            // An open route's 401/404 answers its body (no credentials in it, a
                            // payment provider not configured), not who is calling.
                            if route.access != .open, which != .inside || Self.wholeCommunity.contains(role) { #expect(!accessRefused, "\(context)") }
                            switch which {
                            case .plain:
                                if route.access != .open { #expect(status != 404, "\(context)") }
                            case .outside where route.access == .open || Self.seesEverything.contains(role):
                                break
                            case .outside:
                                // The other street's object answers as one that does not exist.
                                let missing = try await call(targets[.missing]!)
                                #expect(status == Int(missing.status.code), "\(context) — a missing one: \(missing.status.code) \(missing.body.text.prefix(160))")
                                if route.method == .get { #expect(status == 404, "\(context)") }
                                if status == 404 {
                                    #expect(Self.scrub(res.body.text) == Self.scrub(missing.body.text), "\(context): the refusal differs from a missing object's")
                                }
                            case .inside:
                                // Once removed (by whichever route), an object answers 404 to the rest.
                                if Self.removes(route), (200..<400).contains(status) { deleted.insert(Self.objectKey(uri)) }
                                guard status == 404 || accessRefused, !deleted.contains(Self.objectKey(uri)) else { break }
                                // An auditor reads everything and writes nothing; open and personal
                                // routes answer by who one is, declared below like the narrower roles.
                                let mustServe = Self.wholeCommunity.contains(role) && (role != .auditor || route.method == .get)
                                if mustServe, case .action = route.access {
                                    Issue.record("\(context): an object inside the role's scope was refused")
                                } else {
                                    misses.append("\(route.method) \(route.path) \(role.rawValue) \(status)")
                                }
                            case .missing: break
                            }
                        }
                    }
                }
                // Without any credentials every protected API route answers 401.
                for route in routes where route.access != .open && route.path.hasPrefix("/api/") {
                    let uri = route.path.replacing(/:[a-z]+/, with: "1")
                    let res = try await client.execute(uri: uri, method: route.method)
                    #expect(res.status == .unauthorized, "\(route.method) \(uri) unauthenticated")
                }
                return (checked, misses, wroteOnRefusal)
            }
            // Narrower roles (a grid worker, a property company, a resident, a volunteer, an app)
            // see only part of the street: the objects of the first street they are refused are
            // declared here, so a change either way shows.
            let unexpected = Set(narrowMisses).subtracting(Self.narrowRefusals)
            let unused = Self.narrowRefusals.subtracting(narrowMisses)
            #expect(unexpected.isEmpty, "refused inside the street, not declared: \(unexpected.sorted().joined(separator: "\n"))")
            #expect(unused.isEmpty, "declared refusals no longer refused: \(unused.sorted().joined(separator: "\n"))")
            #expect(checked > 4000, "every route × role × inside/outside")
            #expect(wroteOnRefusal.isEmpty, "refused, but committed a change: \(wroteOnRefusal.joined(separator: "\n"))")
            await probe?.shutdown()
        }
    }

    /// Refusals that write on purpose, each with why; every other refused write commits nothing.
    static let countsRefusals: [String: String] = [
        "POST /bind": "a wrong household code or ID ending counts against the account's guesses",
        "POST /api/v1/bind": "the same, through the API",
        "POST /api/v1/tokens": "a failed sign-in is throttled and written to the audit log",
        "POST /certificates/:id/revoke": "the certificate's page shown again with the refusal writes the audited look at it",
    ]

    enum Which: String, CustomStringConvertible { case plain, inside, outside, missing; var description: String { rawValue } }

    /// The ids a route path names, for an object inside, outside and missing; nil when the matrix
    /// has no object of its kind (the test then fails: every route is walked).
    static func targets(_ path: String, _ w: MatrixWorld, _ ids: Fixture.IDs) -> [Which: String]? {
        guard path.contains(":") else { return [.plain: path] }
        var out: [Which: String] = [:]
        for which in [Which.inside, .outside, .missing] {
            var unknown = false
            let uri = path.split(separator: "/", omittingEmptySubsequences: false).enumerated().map { i, part -> String in
                guard part.hasPrefix(":") else { return String(part) }
                let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                let before = i > 0 ? String(parts[i - 1]) : ""
                guard let v = value(String(part.dropFirst()), before: before, path: path, which, w, ids) else { unknown = true; return "" }
                return v
            }.joined(separator: "/")
            if unknown { return nil }
            if which == .outside, uri == out[.inside] { continue }  // global objects have no other street
            out[which] = uri
        }
        return out
    }

    static func value(_ name: String, before: String, path: String, _ which: Which, _ w: MatrixWorld, _ ids: Fixture.IDs) -> String? {
        let inside = which == .inside, missing = which == .missing
        switch name {
        case "household": return missing ? "999999999" : String(inside ? ids.insideHousehold : ids.outsideHousehold)
        case "grant": return missing ? "999999999" : (inside ? w.insideGrant : w.outsideGrant)
        case "provider": return missing ? "nosuchprovider" : "tencent"  // an SMS provider: one for the whole city
        case "tag": return missing ? "nosuchtag" : "disabled"  // MatrixWorld gives both residents this sensitive tag
        case "code" where before == "h": return missing ? "nosuchcode" : (inside ? ids.insideCode : ids.outsideCode)
        case "code" where before == "verify": return missing ? "nosuchcode" : (inside ? w.inside["certificate-codes"] : w.outside["certificate-codes"])
        case "code": return missing ? "nosuchcode" : "noise"  // a request category: one for the whole city
        case "file" where before == "services": return missing ? "nosuchcode.json" : "noise.json"
        case "file": return missing ? "999999999.json" : (w.inside["requests"]!) + ".json"
        case "ticket": return missing ? "NOSUCH-0000" : (inside ? w.inside["tickets"] : w.outside["tickets"])
        case "id": break
        default: return nil
        }
        if missing { return "999999999" }
        var kind = before
        // Maps and needs are drawn for a street or community, not a compound.
        if path.contains("/situation") || path.hasSuffix("/needs") || path.hasSuffix("/circle") || path.hasSuffix("/walk-network") { kind = "communities" }
        // The hotline's steps on a request are walked on a 12345 ticket.
        if path.contains("/hotline/"), kind == "requests" { kind = "hotline-requests" }
        switch kind {
        // A place's public notices: the demo's matters publish at the compound.
        case "places", "notices": return String(inside ? ids.insideCompound : ids.outsideCompound)
        case "households": return String(inside ? ids.insideHousehold : ids.outsideHousehold)
        case "residents": return String(inside ? ids.insideResident : ids.outsideResident)
        default: kind = aliases[kind] ?? kind
        }
        return inside ? w.inside[kind] : w.outside[kind]
    }

    /// Whether a route takes its object away (then later routes on it may answer 404).
    static func removes(_ route: RouteDeclaration) -> Bool {
        route.method == .delete || ["/remove", "/delete", "/revoke"].contains(where: route.path.hasSuffix)
    }

    /// The last object the URI names (`/users/5/grants/7/revoke` acts on grant 7).
    static func objectKey(_ uri: String) -> String {
        let parts = uri.split(separator: "/").map(String.init)
        guard let i = parts.lastIndex(where: { Int($0) != nil }), i > 0 else { return uri }
        return (aliases[parts[i - 1]] ?? parts[i - 1]) + "/" + parts[i]
    }

    /// Route segments naming a kind of object by another name.
    static let aliases = ["rankings": "lists", "dashboard": "lists", "c": "communities", "ledger": "communities", "board": "communities", "coverage": "communities", "routing-rules": "rules"]

    /// Scrubs ids out of a refusal so that two of them can be compared.
    static func scrub(_ s: String) -> String { s.replacing(/[0-9]+/, with: "#") }

    /// A body the route accepts where one is needed to reach the scope check; empty otherwise.
    static func body(_ route: RouteDeclaration, _ ids: Fixture.IDs, _ inside: Bool) -> (String?, String?) {
        let form = "application/x-www-form-urlencoded", json = "application/json"
        switch (route.method, route.path) {
        case (.get, _), (.delete, _): return (nil, nil)
        case (.post, "/places/:id/children"): return ("kind=building&name=%E6%B5%8B%E8%AF%95", form)
        case (.post, "/places/:id"): return ("name=%E6%94%B9%E5%90%8D", form)
        case (.post, "/grid-tasks/:id/households/:household"): return ("outcome=absent", form)
        case (.post, "/patrol-routes/:id"): return ("name=%E4%B8%9C%E9%97%A8&period=week&point.1.label=%E4%B8%9C%E9%97%A8", form)
        case (.put, "/api/v1/patrol-routes/:id"): return (#"{"name":"东门","period":"week","points":[{"label":"东门"}]}"#, json)
        case (.post, "/api/v1/grid-tasks/:id/households/:household"): return (#"{"outcome":"absent"}"#, json)
        case (.post, "/places/:id/households"): return ("door=999&micro_grid_id=1", form)
        case (.post, "/households/:id"): return ("door=888", form)
        case (.post, "/households/:id/residents"): return ("name=%E6%B5%8B&id_number=110105200001010016&registration=registered&relation=family", form)
        case (.post, "/residents/:id/unmask"): return ("reason=%E6%A0%B8%E5%AE%9E", form)
        case (.post, "/residents/:id"): return ("name=%E6%94%B9", form)
        case (.post, "/api/v1/places"): return (#"{"parent_id":\#(ids.insideCompound),"kind":"building","name":"楼"}"#, json)
        case (.patch, "/api/v1/places/:id"): return (#"{"name":"改"}"#, json)
        case (.post, "/api/v1/households"): return (#"{"place_id":\#(ids.insideCompound),"door":"1","micro_grid_id":1}"#, json)
        case (.patch, "/api/v1/households/:id"): return (#"{"door":"777"}"#, json)
        case (.put, "/api/v1/households/:id/dwelling"): return (#"{"part_no":"T-\#(inside ? ids.insideHousehold : ids.outsideHousehold)","area_m2":"80"}"#, json)
        case (.post, "/api/v1/residents"): return (#"{"household_id":\#(ids.insideHousehold),"name":"测","id_number":"110105200001010032","registration":"registered","relation":"family"}"#, json)
        case (.patch, "/api/v1/residents/:id"): return (#"{"name":"改"}"#, json)
        case (.put, "/api/v1/places/:id/contact"): return (#"{"address":"社区服务中心","phone":"0571-88886666","hours":"8:30-17:30"}"#, json)
        case (.post, "/api/v1/residents/:id/unmask"): return (#"{"reason":"核实"}"#, json)
        // A check that cannot match: inside, the refusal names the field (422); outside, 404 first.
        case (.post, "/api/v1/residents/:id/acting"): return (#"{"id_last4":"ZZZZ","reason":"来电"}"#, json)
        case (.post, "/residents/:id/acting"): return ("id_last4=ZZZZ&reason=%E6%9D%A5%E7%94%B5", form)
        default: return (route.path.hasPrefix("/api/") ? "{}" : "", route.path.hasPrefix("/api/") ? json : form)
        }
    }

    /// (method path role) of first-street objects a narrower role is refused as missing: not its
    /// grid, not its household, not its own record. Filled from the walk and read line by line.
    /// A relative's link is acted on by its own relative (the matrix's is another account's), and
    /// ended by them or by the office that confirms links: everyone else finds no such link.
    static let relativeLinkRefusals: Set<String> = Set(Fixture.demoUsers.map(\.1).flatMap { role -> [String] in
        var out = ["POST /relatives/:id/acting", "POST /api/v1/relatives/:id/acting"].map { "\($0) \(role.rawValue) 404" }
        if !PermissionTable.actions[role]!.contains(.userManage) {
            out += ["POST /relatives/:id/end", "POST /api/v1/relatives/:id/end"].map { "\($0) \(role.rawValue) 404" }
        }
        return out
    })

    /// An owners' committee works only the requests routed to it (the matrix's went elsewhere),
    /// and sees no households, grids, announcements or assessments of its community.
    static let committeeRefusals: Set<String> = Set([
        "GET /requests/:id", "GET /api/v1/requests/:id", "GET /request-photos/:id",
        "POST /requests/:id/accept", "POST /api/v1/requests/:id/accept", "POST /requests/:id/resolve", "POST /api/v1/requests/:id/resolve",
        "POST /requests/:id/return", "POST /requests/:id/contact", "POST /api/v1/requests/:id/contact", "POST /requests/:id/contact/unmask",
        "POST /requests/:id/call", "POST /api/v1/requests/:id/call", "POST /requests/:id/note", "POST /requests/:id/hotline/objection",
        "GET /announcements/:id", "GET /api/v1/announcements/:id", "POST /announcements/:id/ack", "POST /api/v1/announcements/:id/ack",
        "GET /grids/:id", "GET /api/v1/grids/:id", "GET /assessments/:id", "GET /h/:code",
    ].map { "\($0) owners_committee 404" }).union([
        // Nor the live tally of a vote it may be a party to: it reads the result when it closes.
        "GET /api/v1/polls/:id/tally owners_committee 403",
    ])

    /// A social organisation's and a party branch's accounts read no registry, no request and
    /// no announcement, and run only their own activities (the matrix's is the community's).
    /// The party branch sits at a compound: the community's own grids, tasks, needs and projects
    /// are above it, and a vote's live tally is for the staff who run it.
    static let organisationRefusals: Set<String> = Set([Role.socialOrganisation, .partyBranch].flatMap { role -> [String] in
        var out = ["GET /request-photos/:id", "GET /announcements/:id", "GET /api/v1/announcements/:id", "POST /announcements/:id/ack",
                   "POST /api/v1/announcements/:id/ack", "GET /assessments/:id", "GET /h/:code"].map { "\($0) \(role.rawValue) 404" }
        out += ["POST /activities/:id/attend", "POST /activities/:id/cancel", "POST /api/v1/activities/:id/attendance",
                "POST /api/v1/activities/:id/cancel"].map { "\($0) \(role.rawValue) 403" }
        return out
    }).union([
        "GET /grids/:id", "GET /api/v1/grids/:id", "GET /tasks/:id", "GET /api/v1/tasks/:id", "GET /projects/:id", "GET /api/v1/projects/:id",
        "GET /expenses/:id/receipt", "POST /needs/:id/support", "POST /api/v1/needs/:id/support", "POST /projects/:id/donate",
    ].map { "\($0) party_branch 404" }).union(["GET /api/v1/polls/:id/tally party_branch 403"])

    static let narrowRefusals: Set<String> = relativeLinkRefusals.union(committeeRefusals).union(organisationRefusals).union(Role.allCases.map {
        // An SMS provider's reply hook exists only with the relay's secret, never with a sign-in.
        "POST /api/v1/sms/inbound/:provider \($0.rawValue) 404"
    }).union([
        // Laying out a community's micro-grids many households at a time is the office's work;
        // a grid worker moves single households within their own grid (the household's page).
        "POST /grids/:id/households grid_worker 403", "POST /api/v1/grids/:id/households grid_worker 403",
        "GET /api/v1/grids/:id/move-candidates grid_worker 403",
        "POST /places/:id/grid-moves grid_worker 403", "GET /places/:id/grid-moves/template.csv grid_worker 403",
        // What comes due among a community's sensitive tags is the office's list.
        "GET /communities/:id/sensitive-due grid_worker 403", "GET /api/v1/communities/:id/sensitive-due grid_worker 403",
        // Announcements are read by the households they went to, their senders and the grid
        // workers of those households; acknowledged only by the households. A grid worker
        // prints only the ones they sent (the matrix's is the community's).
        "GET /announcements/:id/print grid_worker 404",
        // A household's card is the resident's own; a building's cards are for those who keep its places.
        "GET /places/:id/cards resident 404", "GET /api/v1/places/:id/cards resident 404",
        // A poll's running tally is for the staff who run it; owners see the result when it closes.
        // An assignment is checked in by its own volunteer; the request's steps by its parties.
        // A room booking is cancelled by whoever made it, or by the staff who run the room.
        "POST /space-bookings/:id/cancel resident 404", "POST /api/v1/space-bookings/:id/cancel resident 404",
        "POST /space-bookings/:id/cancel grid_worker 404", "POST /api/v1/space-bookings/:id/cancel grid_worker 404",
        // A meal is marked delivered by a volunteer on that day's shift of the canteen's round
        // (the matrix's resident and volunteer hold no such shift).
        "POST /canteen-orders/:id/delivered resident 404", "POST /api/v1/canteen-orders/:id/delivered resident 404",
        "POST /canteen-orders/:id/delivered volunteer 404", "POST /api/v1/canteen-orders/:id/delivered volunteer 404",
        // A department's staff see places (to name communities) and their own work items, none
        // of the residents' things.
        "GET /request-photos/:id department_staff 404", "GET /h/:code department_staff 404",
        // …and of requests only those routed to their department by name (the matrix's is a resident's).
        "GET /requests/:id department_staff 404", "GET /api/v1/requests/:id department_staff 404",
        "POST /requests/:id/accept department_staff 404", "POST /api/v1/requests/:id/accept department_staff 404",
        "POST /requests/:id/contact department_staff 404", "POST /api/v1/requests/:id/contact department_staff 404",
        "POST /requests/:id/resolve department_staff 404", "POST /api/v1/requests/:id/resolve department_staff 404",
        "POST /requests/:id/call department_staff 404", "POST /api/v1/requests/:id/call department_staff 404",
        "POST /requests/:id/note department_staff 404", "POST /requests/:id/return department_staff 404",
        "POST /requests/:id/contact/unmask department_staff 404", "POST /requests/:id/hotline/objection department_staff 404",
        "GET /announcements/:id department_staff 404", "GET /api/v1/announcements/:id department_staff 404",
        "POST /announcements/:id/ack department_staff 404", "POST /api/v1/announcements/:id/ack department_staff 404",
        // An assessment is public once published; before that, the area's offices and communities.
        "GET /assessments/:id resident 404", "GET /assessments/:id grid_worker 404", "GET /assessments/:id property_company 404",
        "GET /assessments/:id department_staff 404", "GET /assessments/:id partner_app 404", "GET /assessments/:id volunteer 404",
        // The 12345 account reads the tickets it sent, no other request, as a partner app does;
        // a unit objects to the dispatch of a ticket it can see (the page shown again is the request's).
        "GET /h/:code hotline 404", "GET /announcements/:id hotline 404", "GET /api/v1/announcements/:id hotline 404",
        "POST /announcements/:id/ack hotline 404", "POST /api/v1/announcements/:id/ack hotline 404", "GET /assessments/:id hotline 404",
        "GET /requests/:id hotline 404", "GET /api/v1/requests/:id hotline 404", "GET /request-photos/:id hotline 404",
        "POST /requests/:id/confirm hotline 404", "POST /requests/:id/reject hotline 404", "POST /requests/:id/withdraw hotline 404",
        "POST /api/v1/requests/:id/withdraw hotline 404",
        "POST /requests/:id/hotline/objection property_company 404", "POST /requests/:id/hotline/objection grid_worker 404",
        "GET /announcements/:id auditor 404",
        "GET /announcements/:id partner_app 404",
        "GET /announcements/:id property_company 404",
        "GET /announcements/:id volunteer 404",
        "GET /api/v1/announcements/:id auditor 404",
        "GET /api/v1/announcements/:id partner_app 404",
        "GET /api/v1/announcements/:id property_company 404",
        "GET /api/v1/announcements/:id volunteer 404",
        "GET /api/v1/grids/:id property_company 404",
        "GET /api/v1/polls/:id/tally grid_worker 403",
        "GET /api/v1/polls/:id/tally property_company 403",
        "GET /api/v1/polls/:id/tally resident 403",
        "GET /api/v1/polls/:id/tally volunteer 403",
        "GET /api/v1/requests/:id partner_app 404",
        "GET /api/v1/requests/:id volunteer 404",
        "GET /grids/:id property_company 404",
        "GET /h/:code auditor 404",
        "GET /h/:code partner_app 404",
        "GET /h/:code volunteer 404",
        "GET /request-photos/:id partner_app 404",
        "GET /request-photos/:id property_company 404",
        "GET /request-photos/:id volunteer 404",
        "GET /requests/:id partner_app 404",
        "GET /requests/:id volunteer 404",
        "POST /announcements/:id/ack auditor 404",
        "POST /announcements/:id/ack city_admin 404",
        "POST /announcements/:id/ack community_staff 404",
        "POST /announcements/:id/ack grid_worker 404",
        "POST /announcements/:id/ack partner_app 404",
        "POST /announcements/:id/ack property_company 404",
        "POST /announcements/:id/ack street_staff 404",
        "POST /announcements/:id/ack volunteer 404",
        "POST /api/v1/announcements/:id/ack auditor 404",
        "POST /api/v1/announcements/:id/ack city_admin 404",
        "POST /api/v1/announcements/:id/ack community_staff 404",
        "POST /api/v1/announcements/:id/ack grid_worker 404",
        "POST /api/v1/announcements/:id/ack partner_app 404",
        "POST /api/v1/announcements/:id/ack property_company 404",
        "POST /api/v1/announcements/:id/ack street_staff 404",
        "POST /api/v1/announcements/:id/ack volunteer 404",
        "POST /api/v1/assignments/:id/check-in resident 403",
        "POST /api/v1/assignments/:id/check-out resident 403",
        "POST /api/v1/requests/:id/call grid_worker 403",
        "POST /api/v1/requests/:id/withdraw partner_app 404",
        "POST /api/v1/requests/:id/withdraw volunteer 404",
        "POST /assignments/:id/answer resident 404",
        "POST /assignments/:id/check-in resident 403",
        "POST /assignments/:id/check-out resident 403",
        "POST /requests/:id/call grid_worker 403",
        "POST /requests/:id/confirm partner_app 404",
        "POST /requests/:id/confirm volunteer 404",
        "POST /requests/:id/reject partner_app 404",
        "POST /requests/:id/reject volunteer 404",
        "POST /requests/:id/withdraw partner_app 404",
        "POST /requests/:id/withdraw volunteer 404",
    ])
}

@Suite struct HTTPTests {
    @Test func badInputAnswersProblemJSONNamingTheField() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let token = try await f.token("community")
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                let h: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
                var res = try await client.execute(uri: "/api/v1/residents", method: .post, headers: h,
                    body: ByteBuffer(string: #"{"household_id":\#(ids.insideHousehold),"name":"测","id_number":"110105194912310021","registration":"registered","relation":"family"}"#))
                #expect(res.status == .unprocessableContent)
                #expect(res.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                #expect(res.body.text.contains(#""field":"id_number""#))
                res = try await client.execute(uri: "/api/v1/residents", method: .post, headers: h, body: ByteBuffer(string: "{not json"))
                #expect(res.status == .badRequest)
                res = try await client.execute(uri: "/api/v1/residents", method: .post, headers: h, body: ByteBuffer(string: #"{"household_id":"x"}"#))
                #expect(res.status == .unprocessableContent && res.body.text.contains("household_id"))
                res = try await client.execute(uri: "/api/v1/residents", method: .post, headers: h, body: ByteBuffer(repeating: 0x20, count: 400_000))
                #expect(res.status == .contentTooLarge && res.body.text.contains("\"too_large\""), "handled, not logged as a bug")
                res = try await client.execute(uri: "/api/v1/households/99999999", method: .get, headers: h)
                #expect(res.status == .notFound)
            }
        }
    }

    @Test func sessionFormsNeedTheCSRFToken() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                // Without the sign-in form's token (another site posting the form) there is no session.
                let forgedLogin = try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                           body: ByteBuffer(string: "username=community&password=\(Fixture.password)"))
                #expect(forgedLogin.status == .forbidden && forgedLogin.headers[.setCookie] == nil)
                let cookie = try await webLogin(client, "community")
                let page = try await client.execute(uri: "/residents/\(ids.insideResident)", method: .get, headers: [.cookie: String(cookie)])
                #expect(page.status == .ok)
                let csrf = page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1
                let form: HTTPFields = [.cookie: String(cookie), .contentType: "application/x-www-form-urlencoded"]
                let forged = try await client.execute(uri: "/residents/\(ids.insideResident)/unmask", method: .post, headers: form, body: ByteBuffer(string: "reason=abc"))
                #expect(forged.status == .forbidden)
                let real = try await client.execute(uri: "/residents/\(ids.insideResident)/unmask", method: .post, headers: form, body: ByteBuffer(string: "reason=abc&_csrf=\(csrf)"))
                #expect(real.status == .ok)
                #expect(real.body.text.contains("unmasked-notice"))
            }
        }
    }

    @Test func householdCodeOpensOnlyForStaffOfItsCommunity() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            let staff = try await f.token("community"), volunteer = try await f.token("volunteer")
            try await built.app.test(.router) { client in
                var res = try await client.execute(uri: "/h/\(ids.insideCode)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(res.status == .seeOther && res.headers[.location] == "/households/\(ids.insideHousehold)")
                let outside = try await client.execute(uri: "/h/\(ids.outsideCode)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                let missing = try await client.execute(uri: "/h/nosuchcode", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(outside.status == .notFound && missing.status == .notFound)
                #expect(outside.body.text == missing.body.text, "an existing code reveals nothing more than a missing one")
                res = try await client.execute(uri: "/h/\(ids.insideCode)", method: .get, headers: [.authorization: "Bearer \(volunteer)"])
                #expect(res.status == .notFound)
                res = try await client.execute(uri: "/h/\(ids.insideCode)", method: .get)
                #expect(res.status == .notFound)
                res = try await client.execute(uri: "/households/\(ids.insideHousehold)/qr.svg", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(res.body.text.hasPrefix("<svg"))
            }
        }
    }
}

/// Every step of the console has a JSON route named as its twin, so that nothing is web-only.
/// That the twin calls the same use case is the code's shape (both routes call one service
/// function), checked by review and by the twins' own tests, not here.
@Suite struct TwinTests {
    /// Console write → its JSON twin, where the names differ.
    static let twins: [String: String] = [
        "POST /circle/network": "PUT /api/v1/places/:id/walk-network",
        "POST /places/:id/children": "POST /api/v1/places", "POST /places/:id": "PATCH /api/v1/places/:id",
        "POST /places/:id/remove": "DELETE /api/v1/places/:id", "POST /places/:id/contact": "PUT /api/v1/places/:id/contact",
        "POST /places/:id/households": "POST /api/v1/households", "POST /households/:id": "PATCH /api/v1/households/:id",
        "POST /households/:id/dwelling": "PUT /api/v1/households/:id/dwelling", "POST /households/:id/residents": "POST /api/v1/residents",
        "POST /residents/:id": "PATCH /api/v1/residents/:id", "POST /residents/:id/unmask": "POST /api/v1/residents/:id/unmask",
        "POST /residents/:id/invite": "POST /api/v1/residents/:id/invite", "POST /residents/:id/acting": "POST /api/v1/residents/:id/acting",
        "POST /places/:id/organisations": "POST /api/v1/organisations", "POST /organisations/:id": "PATCH /api/v1/organisations/:id",
        "POST /organisations/:id/remove": "DELETE /api/v1/organisations/:id", "POST /places/:id/facilities": "POST /api/v1/facilities",
        "POST /facilities/:id/remove": "DELETE /api/v1/facilities/:id", "POST /places/:id/import": "POST /api/v1/communities/:id/import",
        "POST /places/:id/export": "POST /api/v1/communities/:id/export",
        "POST /places/:id/grids": "POST /api/v1/grids", "POST /grids/:id/micro-grids": "POST /api/v1/grids", "POST /grids/:id": "PATCH /api/v1/grids/:id",
        "POST /grids/:id/remove": "DELETE /api/v1/grids/:id", "POST /grids/:id/contact": "PUT /api/v1/grids/:id/contact", "POST /grids/:id/boundary": "PUT /api/v1/grids/:id/boundary",
        "POST /grids/:id/leader": "POST /api/v1/heads", "POST /places/:id/heads": "POST /api/v1/heads", "POST /heads/:id/remove": "DELETE /api/v1/heads/:id",
        "POST /users": "POST /api/v1/users", "POST /users/:id/grants": "POST /api/v1/users/:id/grants",
        "POST /users/:id/grants/:grant/revoke": "DELETE /api/v1/users/:id/grants/:grant",
        "POST /binds/:id/approve": "POST /api/v1/binds/:id/approve", "POST /binds/:id/refuse": "POST /api/v1/binds/:id/refuse", "POST /bind": "POST /api/v1/bind",
        "POST /acting/end": "POST /api/v1/acting/end", "POST /register/phone": "POST /api/v1/register/phone", "POST /register/phone/code": "POST /api/v1/sms/code",
        "POST /password/reset": "POST /api/v1/password/reset", "POST /password/reset/code": "POST /api/v1/sms/code", "POST /register": "POST /api/v1/register",
        "POST /requests/:id/contact/unmask": "POST /api/v1/requests/:id/contact/unmask", "POST /requests/:id/call": "POST /api/v1/requests/:id/call",
        "POST /settings/requests/categories/:code": "PUT /api/v1/request-categories/:code", "POST /settings/requests/calendar": "POST /api/v1/calendar",
        "POST /settings/requests/rules": "POST /api/v1/routing-rules", "POST /settings/requests/rules/:id/delete": "DELETE /api/v1/routing-rules/:id",
        "POST /inbox/read": "POST /api/v1/inbox/read",
        "POST /activities/:id/sign-up": "POST /api/v1/activities/:id/sign-ups", "POST /activities/:id/withdraw": "POST /api/v1/activities/:id/sign-ups/cancel",
        "POST /activities/:id/attend": "POST /api/v1/activities/:id/attendance",
        "POST /spaces/:id/bookings": "POST /api/v1/spaces/:id/bookings",
        "POST /enterprises/:id": "PATCH /api/v1/enterprises/:id",
        "POST /canteens/subsidy-rules": "POST /api/v1/meal-subsidy-rules", "POST /canteen-menus/:id/order": "POST /api/v1/canteen-menus/:id/orders",
        "POST /affairs/:id": "PATCH /api/v1/affairs/:id", "POST /affairs/:id/apply": "POST /api/v1/affairs/:id/applications",
        "POST /polls/:id/vote": "POST /api/v1/polls/:id/ballots", "POST /polls/:id/ballots": "POST /api/v1/polls/:id/ballots",
        "POST /polls/:id/ballots/unmask": "POST /api/v1/polls/:id/ballots/unmask",
        "POST /settings/deliberation/rules": "POST /api/v1/vote-rules", "POST /settings/deliberation/processes": "POST /api/v1/processes",
        "POST /volunteer": "POST /api/v1/volunteer", "POST /tasks/fill": "POST /api/v1/communities/:id/fill",
        "POST /shifts/:id/sign-up": "POST /api/v1/shifts/:id/sign-up", "POST /projects/:id/donate": "POST /api/v1/projects/:id/donations", "POST /funds/reconcile": "POST /api/v1/payments/bank-statement",
        "POST /funds/held/:id/resolve": "POST /api/v1/payments/held/:id/resolve",
        "POST /funds/settings": "PUT /api/v1/communities/:id/fund-settings", "POST /ventures/:id/apply": "POST /api/v1/ventures/:id/applications",
        "POST /visits/plan": "PUT /api/v1/communities/:id/visit-rules", "POST /visits/retention": "PUT /api/v1/communities/:id/gridwork-retention",
        "POST /patrol-routes/:id": "PUT /api/v1/patrol-routes/:id",
        "POST /lists/:id/clock": "PUT /api/v1/lists/:id/clock", "POST /office-list-items/:id/remove": "DELETE /api/v1/office-list-items/:id",
        "POST /assessment-indicators/:id/remove": "DELETE /api/v1/assessment-indicators/:id",
        "POST /webhook-endpoints/:id/switch": "PATCH /api/v1/webhook-endpoints/:id",
        "POST /webhook-endpoints/:id": "PATCH /api/v1/webhook-endpoints/:id",
        ]
    /// Console writes with no twin, and why.
    static let browserOnly: [String: String] = [
        "POST /login": "a browser's session; an app asks for a token (POST /api/v1/tokens)",
        "POST /logout": "a browser's session; an app revokes its token (POST /api/v1/tokens/revoke)",
        "POST /bench/insert": "the bare write of the load scripts, not a console action",
    ]

    @Test func everyConsoleWriteHasItsJSONTwin() async throws {
        try await withFixture(.sqlite, accounts: false) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let registered = Set(built.routes.map { "\($0.method) \($0.path)" })
            var missing: [String] = []
            for r in built.routes where r.method != .get && !r.path.hasPrefix("/api/") && !r.path.hasPrefix("/open311/") {
                let key = "\(r.method) \(r.path)"
                if Self.browserOnly[key] != nil { continue }
                let twin = Self.twins[key] ?? "\(r.method) /api/v1\(r.path)"
                if !registered.contains(twin) { missing.append("\(key) → \(twin)") }
            }
            #expect(missing.isEmpty, "console steps without a JSON twin:\n\(missing.sorted().joined(separator: "\n"))")
            let stale = Self.twins.keys.filter { !registered.contains($0) }
            #expect(stale.isEmpty, "listed but no console route: \(stale.sorted())")
        }
    }
}

extension TwinTests {
    /// The twins added for the console's last web-only steps, each through its use case: it
    /// writes what the form writes, refuses what the form refuses (naming the field), and a
    /// role outside the community gets 404.
    @Test func theLastWebOnlyStepsWorkAsJSON() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            let community = f.demo.firstCommunityID
            _ = try await f.linli.loadRequestsDemo()
            _ = try await f.linli.loadLinkageDemo()
            try await built.app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [.authorization: "Bearer \(t[who]!)"]
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                func id(_ r: TestResponse) -> String { String(r.body.text.firstMatch(of: /"id":(\d+)/)?.1 ?? "0") }
                // Organisations and facilities of a place.
                var r = try await call(.post, "/api/v1/organisations", "community", #"{"place_id":\#(ids.insideCompound),"kind":"social_organisation","name":"邻里互助社","service_type":"service","registration":"filed"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let org = id(r)
                r = try await call(.patch, "/api/v1/organisations/\(org)", "community", #"{"name":"邻里互助服务社"}"#)
                #expect(r.status == .noContent)
                r = try await call(.post, "/api/v1/organisations/\(org)/members", "community", #"{"name":"王芳","role":"负责人","joined":"2026-03-01"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                r = try await call(.post, "/api/v1/organisations", "community", #"{"place_id":\#(ids.outsideCompound),"kind":"social_organisation","name":"外"}"#)
                #expect(r.status == .notFound, "another street's place")
                r = try await call(.get, "/api/v1/places/\(ids.insideCompound)", "community")
                #expect(r.body.text.contains("邻里互助服务社"))
                r = try await call(.post, "/api/v1/facilities", "community", #"{"place_id":\#(ids.insideCompound),"kind":"canteen","name":"长者食堂","lat":30.25,"lng":120.16}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let facility = id(r)
                r = try await call(.post, "/api/v1/facilities", "community", #"{"place_id":\#(ids.insideCompound),"kind":"spaceport","name":"x"}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"kind""#))
                r = try await call(.delete, "/api/v1/facilities/\(facility)", "grid")
                #expect(r.status == .forbidden)
                r = try await call(.delete, "/api/v1/facilities/\(facility)", "community")
                #expect(r.status == .noContent)
                // An organisation with members stays, saying why; an empty one goes.
                r = try await call(.delete, "/api/v1/organisations/\(org)", "community")
                #expect(r.status == .conflict, "\(r.body.text)")
                r = try await call(.post, "/api/v1/organisations", "community", #"{"place_id":\#(ids.insideCompound),"kind":"owners_committee","name":"业委会筹备组"}"#)
                r = try await call(.delete, "/api/v1/organisations/\(id(r))", "community")
                #expect(r.status == .noContent, "\(r.body.text)")
                // Accounts made by staff, their grants given and taken back.
                r = try await call(.post, "/api/v1/users", "admin", #"{"username":"helper1","display_name":"社区助理","password":"Lanterns-on-the-river-7"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let user = id(r)
                r = try await call(.post, "/api/v1/users/\(user)/grants", "admin", #"{"role":"community_staff","place_id":\#(community)}"#)
                #expect(r.status == .created, "\(r.body.text)")
                r = try await call(.post, "/api/v1/users/\(user)/grants", "admin", #"{"role":"mayor","place_id":\#(community)}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"role""#))
                let grant = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM role_grants WHERE user_id = \(unsafeRaw: user)").first()!.decode(column: "id", as: Int64.self)
                }
                // A grant is taken back from the account it belongs to, never through another's page.
                let other = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM users WHERE username = 'volunteer'").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.delete, "/api/v1/users/\(other)/grants/\(grant)", "admin")
                #expect(r.status == .notFound)
                r = try await call(.delete, "/api/v1/users/\(user)/grants/\(grant)", "admin")
                #expect(r.status == .noContent)
                // The requests settings: a routing rule, a holiday, a category's deadlines.
                r = try await call(.post, "/api/v1/routing-rules", "street", #"{"category":"noise","place_id":\#(community),"party_kind":"grid_worker"}"#)
                #expect(r.status == .noContent, "\(r.body.text)")
                r = try await call(.get, "/api/v1/routing-rules", "street")
                #expect(r.status == .ok && r.body.text.contains("grid_worker"))
                let rule = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM routing_rules WHERE place_id = \(unsafeRaw: String(community)) AND category_code = 'noise'").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.delete, "/api/v1/routing-rules/\(rule)", "street")
                #expect(r.status == .noContent)
                r = try await call(.post, "/api/v1/calendar", "admin", #"{"day":"2026-12-31","kind":"holiday","name":"跨年"}"#)
                #expect(r.status == .noContent, "\(r.body.text)")
                r = try await call(.put, "/api/v1/request-categories/noise", "admin", #"{"accept_hours":2,"contact_hours":24,"resolve_hours":72,"working_hours":true,"default_party":"residents_committee","active":true}"#)
                #expect(r.status == .noContent, "\(r.body.text)")
                r = try await call(.put, "/api/v1/request-categories/noise", "admin", #"{"accept_hours":-2,"contact_hours":24,"resolve_hours":72}"#)
                #expect(r.status == .unprocessableContent)
                // Unmasking a caller's contact needs a reason and is audited.
                let phoned = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM requests WHERE channel = 'phone' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.post, "/api/v1/requests/\(phoned)/contact/unmask", "community", #"{"reason":""}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains("reason"))
                r = try await call(.post, "/api/v1/requests/\(phoned)/contact/unmask", "community", #"{"reason":"回访老人"}"#)
                #expect(r.status == .ok && r.body.text.contains("13800138000"), "\(r.body.text)")
                // Volunteers: calling for help, social workers and their training, the month's fill.
                let task = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM volunteer_tasks ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.post, "/api/v1/tasks/\(task)/call", "community")
                #expect(r.status == .ok && r.body.text.contains("told"), "\(r.body.text)")
                r = try await call(.post, "/api/v1/social-workers", "community", #"{"community_id":\#(community),"name":"林社工","certificate_level":"assistant"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let worker = id(r)
                r = try await call(.post, "/api/v1/social-workers/\(worker)/trainings", "community", #"{"programme":"seed","title":"入职培训","hours":16,"day":"2026-11-30"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                r = try await call(.post, "/api/v1/social-workers/\(worker)/trainings", "community", #"{"programme":"seed","title":"入职培训","hours":0,"day":"2026-11-30"}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"hours""#))
                r = try await call(.post, "/api/v1/communities/\(community)/fill", "community", #"{"month":"2026-12"}"#)
                #expect(r.status == .ok, "\(r.body.text)")
                r = try await call(.put, "/api/v1/communities/\(community)/fund-settings", "community", #"{"approvals_needed":2}"#)
                #expect(r.status == .noContent, "\(r.body.text)")
                r = try await call(.put, "/api/v1/communities/\(community)/fund-settings", "community", #"{"approvals_needed":9}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains("approvals_needed"))
                // A project's milestone, done; an expense asked for and turned back.
                let project = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM micro_projects ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.post, "/api/v1/projects/\(project)/milestones", "community", #"{"title":"完成施工","due_day":"2027-01-15"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let milestone = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM project_milestones WHERE title = '完成施工'").first()!.decode(column: "id", as: Int64.self)
                }
                r = try await call(.post, "/api/v1/project-milestones/\(milestone)/done", "community")
                #expect(r.status == .ok && r.body.text.contains("\"project_id\":\(project)"))
                let receipt = Data(TestImages.png).base64EncodedString()
                r = try await call(.post, "/api/v1/projects/\(project)/expenses", "community", #"{"amount":"300","payee":"五金店","purpose":"扶手","receipt_base64":"\#(receipt)"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                r = try await call(.post, "/api/v1/expenses/\(id(r))/reject", "street", #"{"reason":"票据不清，请重拍"}"#)
                #expect(r.status == .noContent, "\(r.body.text)")
                // The registry's spreadsheet out (with a reason) and back in (a bad line named).
                r = try await call(.post, "/api/v1/communities/\(community)/export", "community", #"{"reason":"年度核对"}"#)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/csv") == true)
                let header = String(r.body.text.split(separator: "\n")[0])
                let bad = Data((header + "\n" + "金桂苑,1幢,1单元,101,张三,999,,,,,,,\n").utf8)
                let imported = try await client.execute(uri: "/api/v1/communities/\(community)/import", method: .post,
                                                        headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "text/csv"], body: ByteBuffer(data: bad))
                #expect(imported.status == .unprocessableContent && imported.body.text.contains(#""line":2"#), "\(imported.body.text)")
            }
        }
    }
}
