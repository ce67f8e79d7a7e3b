import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import LinliServer
import LinliCore
import LinliStore

/// Walks every registered route with every role, against an object inside and one outside the
/// role's scope, and checks the answer against the permission table: a role without the action
/// gets 403; an object on the other street answers exactly as a missing one (404 for a read; the
/// same refusal for a write whose body is checked first), so nothing outside one's scope is
/// seen, changed or even confirmed to exist; inside, a role with the action is served.
@Suite struct RouteMatrixTests {
    /// Roles whose scope covers the second street too.
    static let seesEverything: Set<Role> = [.cityAdmin, .auditor]
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
            let routes = built.routes
            var narrowMisses: [String] = []
            let (checked, misses) = try await built.app.test(.router) { client -> (Int, [String]) in
                var checked = 0, misses: [String] = []
                var deleted: Set<String> = []
                for route in routes {
                    guard let targets = Self.targets(route.path, world, ids) else {
                        Issue.record("\(route.method) \(route.path): no object of its kind in the matrix world; add it to MatrixWorld")
                        continue
                    }
                    // The widest roles last, so that a removal they may make leaves the object
                    // for the narrower roles first.
                    for role in Role.allCases.reversed() {
                        for which in [Which.inside, .outside] {
                            guard let uri = targets[which] else { continue }
                            var token = tokens[role]!
                            if Self.spendsToken.contains(route.path) { token = try await f.token(roleUser[role]!) }
                            let (body, contentType) = Self.body(route, ids, which == .inside)
                            func call(_ uri: String) async throws -> TestResponse {
                                var headers: HTTPFields = [.authorization: "Bearer \(token)"]
                                if let contentType { headers[.contentType] = contentType }
                                return try await client.execute(uri: uri, method: route.method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                            }
                            let res = try await call(uri)
                            let status = Int(res.status.code)
                            let context = "\(route.method) \(uri) as \(role.rawValue) (\(which)) → \(status): \(res.body.text.prefix(160))"
                            checked += 1
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
                            if which != .inside || Self.wholeCommunity.contains(role) { #expect(!accessRefused, "\(context)") }
                            switch which {
                            case .plain:
                                #expect(status != 404, "\(context)")
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
                                let removes = route.method == .delete || ["/remove", "/delete", "/revoke"].contains(where: route.path.hasSuffix)
                                if removes, (200..<400).contains(status) { deleted.insert(Self.objectKey(uri)) }
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
                return (checked, misses)
            }
            narrowMisses = misses
            // Narrower roles (a grid worker, a property company, a resident, a volunteer, an app)
            // see only part of the street: the objects of the first street they are refused are
            // declared here, so a change either way shows.
            let unexpected = Set(narrowMisses).subtracting(Self.narrowRefusals)
            let unused = Self.narrowRefusals.subtracting(narrowMisses)
            #expect(unexpected.isEmpty, "refused inside the street, not declared: \(unexpected.sorted().joined(separator: "\n"))")
            #expect(unused.isEmpty, "declared refusals no longer refused: \(unused.sorted().joined(separator: "\n"))")
            #expect(checked > 5000)
        }
    }

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
        case "code" where before == "h": return missing ? "nosuchcode" : (inside ? ids.insideCode : ids.outsideCode)
        case "code": return missing ? "nosuchcode" : "noise"  // a request category: one for the whole city
        case "file" where before == "services": return missing ? "nosuchcode.json" : "noise.json"
        case "file": return missing ? "999999999.json" : (w.inside["requests"]!) + ".json"
        case "id": break
        default: return nil
        }
        if missing { return "999999999" }
        var kind = before
        // Maps and needs are drawn for a street or community, not a compound.
        if path.contains("/situation") || path.hasSuffix("/needs") { kind = "communities" }
        switch kind {
        // A place's public notices: the demo's matters publish at the compound.
        case "places", "notices": return String(inside ? ids.insideCompound : ids.outsideCompound)
        case "households": return String(inside ? ids.insideHousehold : ids.outsideHousehold)
        case "residents": return String(inside ? ids.insideResident : ids.outsideResident)
        case "c", "ledger", "board", "coverage": kind = "communities"
        default: break
        }
        return inside ? w.inside[kind] : w.outside[kind]
    }

    /// `/api/v1/heads/7/…` → `heads/7`, the object a route acts on, so that removing it through
    /// one route is seen from another (`/heads/7/remove` then `DELETE /api/v1/heads/7`).
    static func objectKey(_ uri: String) -> String {
        let parts = uri.split(separator: "/").map(String.init)
        guard let i = parts.firstIndex(where: { Int($0) != nil }), i > 0 else { return uri }
        return parts[i - 1] + "/" + parts[i]
    }

    /// Scrubs ids out of a refusal so that two of them can be compared.
    static func scrub(_ s: String) -> String { s.replacing(/[0-9]+/, with: "#") }

    /// A body the route accepts where one is needed to reach the scope check; empty otherwise.
    static func body(_ route: RouteDeclaration, _ ids: Fixture.IDs, _ inside: Bool) -> (String?, String?) {
        let form = "application/x-www-form-urlencoded", json = "application/json"
        switch (route.method, route.path) {
        case (.get, _), (.delete, _): return (nil, nil)
        case (.post, "/places/:id/children"): return ("kind=building&name=%E6%B5%8B%E8%AF%95", form)
        case (.post, "/places/:id"): return ("name=%E6%94%B9%E5%90%8D", form)
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
    static let narrowRefusals: Set<String> = [
    ]
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
