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
/// role's scope, and checks the answer against the permission table.
@Suite struct RouteMatrixTests {
    @Test(arguments: Backend.available)
    func everyRouteEveryRoleInsideAndOutsideScope(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            let byUser = try await f.tokens()
            let tokens = Dictionary(uniqueKeysWithValues: Fixture.demoUsers.map { ($0.1, byUser[$0.0]!) })
            // Roles whose scope covers the second street too.
            let seesEverything: Set<Role> = [.cityAdmin, .auditor]
            let routes = built.routes
            let tokensByRole = tokens
            let checked = try await built.app.test(.router) { client -> Int in
                var checked = 0
                for route in routes {
                    guard case .action(let action) = route.access else { continue }
                    // A request's own rules (reporter, assigned party, supervisors) are walked by RequestsHTTPTests
                    // and RequestsStoreTests; global settings are keyed by code, not place.
                    if route.path.contains("requests/:id") || route.path.hasPrefix("/settings/requests/") { continue }
                    // Matters, meetings, polls and milestones are keyed by their own ids; their
                    // scope rules are walked by DeliberationStoreTests and DeliberationHTTPTests.
                    if ["matters/:id", "meetings/:id", "polls/:id", "milestones/:id", "ballot-documents/:id", "/settings/deliberation/", "/users/:id",
                                 // Linkage objects are keyed by their own ids; LinkageStoreTests and LinkageHTTPTests walk their scope.
                                 "tasks/:id", "shifts/:id", "assignments/:id", "teams/:id", "rewards/:id", "needs/:id", "projects/:id",
                                 "project-milestones/:id", "expenses/:id", "pools/:id", "social-workers/:id", "volunteers/:id",
                                 "ventures/:id", "venture-applications/:id", "organisations/:id", "facilities/:id",
                                 // Grids and posts are keyed by their own ids; OnboardingTests walk their scope.
                                 "grids/:id", "heads/:id",
                                 // Binding requests are keyed by their own ids; PhoneAccountsTests walk their scope.
                                 "binds/:id",
                                 // Keyed by a community's or an announcement's id; GridWorkTests walk their scope.
                                 "communities/:id", "announcements/:id",
                                 // Keyed by a street's or community's id (a compound is no map's area); SituationTests walk their scope.
                                 "/situation/", "places/:id/needs"].contains(where: route.path.contains) { continue }
                    for role in Role.allCases {
                        for inside in [true, false] {
                            guard let (uri, body, contentType) = Self.request(route, inside: inside, ids) else { continue }
                            var headers: HTTPFields = [.authorization: "Bearer \(tokensByRole[role]!)"]
                            if let contentType { headers[.contentType] = contentType }
                            let res = try await client.execute(uri: uri, method: route.method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                            let status = Int(res.status.code)
                            let context = "\(route.method) \(uri) as \(role.rawValue) (\(inside ? "inside" : "outside")) → \(status)"
                            let allowed = PermissionTable.actions[role]!.contains(action)
                            if !allowed {
                                #expect(status == 403, "\(context)")
                            } else if inside || seesEverything.contains(role) || !Self.hasObject(route.path) {
                                #expect(![401, 403, 404, 500].contains(status), "\(context): \(res.body.text.prefix(200))")
                            } else {
                                #expect(status == 404, "\(context): \(res.body.text.prefix(200))")
                            }
                            checked += 1
                        }
                    }
                }
                // Without any credentials every protected API route answers 401.
                for route in routes where route.access != .open && route.path.hasPrefix("/api/") {
                    let uri = route.path.replacingOccurrences(of: ":id", with: "1")
                    let res = try await client.execute(uri: uri, method: route.method)
                    #expect(res.status == .unauthorized, "\(route.method) \(uri) unauthenticated")
                }
                return checked
            }
            #expect(checked > 300)
        }
    }

    static func hasObject(_ path: String) -> Bool { path.contains(":") }

    /// The URI and a valid body for a route, pointing at an object inside or outside the first street.
    static func request(_ route: RouteDeclaration, inside: Bool, _ ids: (insideHousehold: Int64, outsideHousehold: Int64, insideResident: Int64, outsideResident: Int64,
                                                                  insideCompound: Int64, outsideCompound: Int64, insideCode: String, outsideCode: String))
        -> (String, String?, String?)? {
        let p = route.path
        if !hasObject(p) && !inside { return nil }
        let id: Int64
        if p.contains("/households/") { id = inside ? ids.insideHousehold : ids.outsideHousehold }
        else if p.contains("/residents/") { id = inside ? ids.insideResident : ids.outsideResident }
        else { id = inside ? ids.insideCompound : ids.outsideCompound }
        let uri = p.replacingOccurrences(of: ":id", with: "\(id)")
        let form = "application/x-www-form-urlencoded", json = "application/json"
        switch (route.method, p) {
        case (.get, _): return (uri, nil, nil)
        case (.post, "/places/:id/children"): return (uri, "kind=building&name=%E6%B5%8B%E8%AF%95", form)
        case (.post, "/places/:id"): return (uri, "name=%E6%94%B9%E5%90%8D", form)
        case (.post, "/places/:id/households"): return (uri, "door=999&micro_grid_id=1", form)
        case (.post, "/households/:id"): return (uri, "door=888", form)
        case (.post, "/households/:id/residents"): return (uri, "name=%E6%B5%8B&id_number=110105200001010016&registration=registered&relation=family", form)
        case (.post, "/residents/:id/unmask"): return (uri, "reason=%E6%A0%B8%E5%AE%9E", form)
        case (.post, "/residents/:id"): return (uri, "name=%E6%94%B9", form)
        case (.post, "/api/v1/places"): return (uri, #"{"parent_id":\#(ids.insideCompound),"kind":"building","name":"楼"}"#, json)
        case (.patch, "/api/v1/places/:id"): return (uri, #"{"name":"改"}"#, json)
        case (.post, "/api/v1/households"): return (uri, #"{"place_id":\#(ids.insideCompound),"door":"1","micro_grid_id":1}"#, json)
        case (.patch, "/api/v1/households/:id"): return (uri, #"{"door":"777"}"#, json)
        case (.put, "/api/v1/households/:id/dwelling"): return (uri, #"{"part_no":"T-\#(id)","area_m2":"80"}"#, json)
        case (.post, "/api/v1/residents"): return (uri, #"{"household_id":\#(ids.insideHousehold),"name":"测","id_number":"110105200001010032","registration":"registered","relation":"family"}"#, json)
        case (.patch, "/api/v1/residents/:id"): return (uri, #"{"name":"改"}"#, json)
        case (.put, "/api/v1/places/:id/contact"): return (uri, #"{"address":"社区服务中心","phone":"0571-88886666","hours":"8:30-17:30"}"#, json)
        case (.post, "/api/v1/residents/:id/unmask"): return (uri, #"{"reason":"核实"}"#, json)
        // A check that cannot match: inside, the refusal names the field (422); outside, 404 first.
        case (.post, "/api/v1/residents/:id/acting"): return (uri, #"{"id_last4":"ZZZZ","reason":"来电"}"#, json)
        case (.post, "/residents/:id/acting"): return (uri, "id_last4=ZZZZ&reason=%E6%9D%A5%E7%94%B5", form)
        default: return (uri, "", form)
        }
    }
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
