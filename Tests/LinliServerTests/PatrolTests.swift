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

/// A route's state against its schedule, by worked examples (Sunday 2026-12-06).
@Suite struct PatrolRulesTests {
    static func day(_ s: String) -> Int64 { Input.day(s)! }
    let today = day("2026-12-06")

    @Test func aWeeklyRouteIsDoneOnceWalkedThisWeekAndOverdueAfterAMissedWeek() {
        let since = Self.day("2026-11-01")
        // Walked Monday of this week (30 Nov – 6 Dec): done.
        #expect(PatrolRules.state(period: .week, last: Self.day("2026-11-30"), since: since, today: today) == .done)
        // Walked last week only: due this week, not yet late.
        #expect(PatrolRules.state(period: .week, last: Self.day("2026-11-27"), since: since, today: today) == .due)
        // Nothing since the week before last: last week was missed.
        #expect(PatrolRules.state(period: .week, last: Self.day("2026-11-20"), since: since, today: today) == .overdue)
        #expect(PatrolRules.state(period: .week, last: nil, since: since, today: today) == .overdue)
        // A route laid out this week, or partway through last week, owes nothing for last week;
        // one there all last week does.
        #expect(PatrolRules.state(period: .week, last: nil, since: Self.day("2026-12-02"), today: today) == .due)
        #expect(PatrolRules.state(period: .week, last: nil, since: Self.day("2026-11-29"), today: today) == .due)
        #expect(PatrolRules.state(period: .week, last: nil, since: Self.day("2026-11-23"), today: today) == .overdue)
        #expect(PatrolRules.dueBy(period: .week, today: today) == today)
    }

    @Test func dailyAndMonthlyRoutesFollowTheirOwnWindows() {
        let since = Self.day("2026-10-01")
        #expect(PatrolRules.state(period: .day, last: today, since: since, today: today) == .done)
        #expect(PatrolRules.state(period: .day, last: today - 1, since: since, today: today) == .due)
        #expect(PatrolRules.state(period: .day, last: today - 2, since: since, today: today) == .overdue)
        // Monthly: walked in November, none yet in December: due by 31 December.
        #expect(PatrolRules.state(period: .month, last: Self.day("2026-11-03"), since: since, today: today) == .due)
        #expect(PatrolRules.dueBy(period: .month, today: today) == Self.day("2026-12-31"))
        #expect(PatrolRules.state(period: .month, last: Self.day("2026-10-31"), since: since, today: today) == .overdue)
    }

    @Test func aFindingSaysWhatAndWhereItIsFiledUnlessPutRightThere() {
        let cats: Set<String> = ["parking", "public_facility", "other"]
        var v = Validator()
        // Blocked fire passage: filed under parking unless the worker chose otherwise.
        let c = PatrolRules.checkPoint(0, result: "finding", finding: "fire_passage", note: "电动车堵住楼道", handled: false, category: nil, categories: cats, &v)
        #expect(c?.category == "parking" && v.errors.isEmpty)
        // Put right on the spot: recorded, nothing filed.
        #expect(PatrolRules.checkPoint(1, result: "finding", finding: "fire_passage", note: "已挪开", handled: true, category: nil, categories: cats, &v)?.category == nil)
        // A finding with no words, an unknown result, a category no request may have: each named.
        _ = PatrolRules.checkPoint(2, result: "finding", finding: "hazard", note: "", handled: false, category: nil, categories: cats, &v)
        _ = PatrolRules.checkPoint(3, result: "fine", finding: nil, note: "", handled: false, category: nil, categories: cats, &v)
        _ = PatrolRules.checkPoint(4, result: "finding", finding: "sanitation", note: "垃圾满溢", handled: false, category: nil, categories: cats, &v)
        #expect(v.errors.map(\.field) == ["checks[2].note", "checks[3].result", "checks[4].category"])
        v = Validator()
        _ = PatrolRules.checkRoute(name: "", period: "hourly", points: [PatrolRules.Point(label: "")], &v)
        #expect(v.errors.map(\.field) == ["name", "period", "points[0].label"])
    }
}

/// Patrols end to end: a route laid out, walked point by point, findings filed as requests once
/// whatever the retries, the record kept for the grid and the community only.
@Suite struct PatrolTests {
    static func send(_ client: some TestClientProtocol, _ path: String, _ token: String, _ body: String, method: HTTPRequest.Method = .post) async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: ByteBuffer(string: body))
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func aRouteIsWalkedAndItsFindingsBecomeRequestsOnce(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let grid = f.demo.firstGridID, community = f.demo.firstCommunityID
            let ids = try await f.ids()
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            let otherGrid = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'grid' AND id <> \(bind: grid) ORDER BY id").first()!
                    .decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                let worker = try await f.token("grid"), staff = try await f.token("community"), resident = try await f.token("resident")
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                // Refused, each field named: no name, an unknown period, no point; another grid's route is not theirs to lay.
                var res = try await Self.send(client, "/api/v1/patrol-routes", worker, #"{"grid_id":\#(grid),"name":"","period":"hourly","points":[]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("period") && res.body.text.contains("points") && res.body.text.contains("name"))
                res = try await Self.send(client, "/api/v1/patrol-routes", worker, #"{"grid_id":\#(otherGrid),"name":"别的网格","period":"week","points":[{"label":"东门"}]}"#)
                #expect(res.status == .notFound)
                res = try await Self.send(client, "/api/v1/patrol-routes", worker,
                    #"{"grid_id":\#(grid),"name":"金桂苑消防通道","period":"week","points":[{"label":"1幢楼道","place_id":\#(ids.outsideCompound)}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("points[0].place_id"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM patrol_routes") == 0)
                res = try await Self.send(client, "/api/v1/patrol-routes", worker,
                    #"{"grid_id":\#(grid),"name":"金桂苑消防通道","period":"week","points":[{"label":"1幢楼道","place_id":\#(ids.insideCompound)},{"label":"东门消防通道"},{"label":"地下车库"}]}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let route = try JSONDecoder().decode(PatrolRouteView.self, from: Data(buffer: res.body))
                #expect(route.points.count == 3 && route.state == .due && route.lastPatrol == nil)
                // The community sees it among its routes; a resident does not.
                res = try await get("/api/v1/patrol-routes?community=\(community)", staff)
                #expect(try JSONDecoder().decode([PatrolRouteView].self, from: Data(buffer: res.body)).map(\.id) == [route.id])
                #expect(try await get("/api/v1/patrol-routes/\(route.id)", resident).status == .forbidden)

                // Every point needs its result; a finding its words.
                res = try await Self.send(client, "/api/v1/patrols", worker, #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"ok"}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("incomplete"))
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"ok"},{"position":2,"result":"finding","finding":"fire_passage"},{"position":3,"result":"ok"}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("checks[1].note"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM patrols") == 0)
                let body = #"{"route_id":\#(route.id),"client_key":"p-1","checks":[{"position":1,"result":"ok"},{"position":2,"result":"finding","finding":"fire_passage","note":"三辆电动车堵住东门消防通道"},{"position":3,"result":"finding","finding":"sanitation","note":"车库积水，已通知保洁清扫","handled":true}]}"#
                res = try await Self.send(client, "/api/v1/patrols", worker, body)
                #expect(res.status == .created, "\(res.body.text)")
                let patrol = try JSONDecoder().decode(PatrolView.self, from: Data(buffer: res.body))
                #expect(patrol.findings == 2 && patrol.checks[1].requestID != nil && patrol.checks[2].requestID == nil && patrol.checks[2].handled)
                // The phone sends again: the same patrol, the same single request.
                res = try await Self.send(client, "/api/v1/patrols", worker, body)
                #expect(res.status == .ok)
                #expect(try JSONDecoder().decode(PatrolView.self, from: Data(buffer: res.body)).id == patrol.id)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM patrols") == 1)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE channel = 'patrol'") == 1)
                // The request is routed as usual, by the category the kind suggests, at the patrol's community.
                let requestID = try #require(patrol.checks[1].requestID)
                res = try await get("/api/v1/requests/\(requestID)", staff)
                #expect(res.status == .ok && res.body.text.contains("parking") && res.body.text.contains("东门消防通道"))
                // The notes are sealed at rest.
                let sealed = try await f.linli.store.read { db in
                    try await db.raw("SELECT note_cipher FROM patrol_checks WHERE position = 2").first()!.decode(column: "note_cipher", as: String.self)
                }
                #expect(!sealed.contains("电动车"))
                // Walked this week; the community reads the record, a resident and another street do not.
                res = try await get("/api/v1/patrol-routes/\(route.id)", worker)
                #expect(res.body.text.contains(#""state":"done""#))
                res = try await get("/api/v1/patrols/\(patrol.id)", staff)
                #expect(try JSONDecoder().decode(PatrolView.self, from: Data(buffer: res.body)).checks[1].note == "三辆电动车堵住东门消防通道")
                #expect(try await get("/api/v1/patrols/\(patrol.id)", resident).status == .forbidden)
                // Only staff file as from a patrol.
                res = try await Self.send(client, "/api/v1/requests", resident, #"{"category":"noise","description":"吵","household_id":\#(f.demo.firstHouseholdWithResidents),"channel":"patrol"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("channel"))
                #expect(try await get("/api/v1/patrols/\(patrol.id)", try await f.token("community2")).status == .notFound)
                // Retired: no more patrols on it, its record stays.
                res = try await Self.send(client, "/api/v1/patrol-routes/\(route.id)", worker,
                    #"{"name":"金桂苑消防通道","period":"week","points":[{"label":"东门消防通道"}],"active":false}"#, method: .put)
                #expect(res.status == .ok)
                res = try await Self.send(client, "/api/v1/patrols", worker, #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"ok"}]}"#)
                #expect(res.status == .conflict)
                #expect(try await get("/api/v1/patrols/\(patrol.id)", worker).status == .ok)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'patrol%'") == 3)
            }
        }
    }

    @Test(arguments: Backend.available)
    func theConsoleLaysARouteAndWalksItOnThePhone(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                let worker = try await webLogin(client, "grid")
                var res = try await client.execute(uri: "/patrol-routes/new", method: .get, headers: [.cookie: worker])
                #expect(res.status == .ok && res.body.text.contains("point.1.label"))
                let csrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: worker, .contentType: "application/x-www-form-urlencoded"]
                let grid = f.demo.firstGridID
                // No point named: the form again, the message shown, the name kept.
                res = try await client.execute(uri: "/patrol-routes", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&grid_id=\(grid)&name=%E4%B8%9C%E9%97%A8&period=week"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("points-error") && res.body.text.contains("value=\"东门\""))
                res = try await client.execute(uri: "/patrol-routes", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&grid_id=\(grid)&name=%E4%B8%9C%E9%97%A8&period=day&point.1.label=%E4%B8%9C%E9%97%A8&point.3.label=%E8%BD%A6%E5%BA%93"))
                #expect(res.status == .seeOther)
                let location = try #require(res.headers[.location])
                let id = try #require(Int64(location.split(separator: "/").last!))
                res = try await client.execute(uri: "/visits", method: .get, headers: [.cookie: worker])
                #expect(res.body.text.contains("/patrol-routes/\(id)/walk"), "the due list names the route not yet walked")
                res = try await client.execute(uri: "/patrol-routes/\(id)/walk", method: .get, headers: [.cookie: worker])
                #expect(res.status == .ok && res.body.text.contains("check.2.result"))
                let key = String(res.body.text.firstMatch(of: /name="client_key" value="([A-Za-z0-9_-]+)"/)!.1)
                // A point without a result: back, the message beside that point.
                res = try await client.execute(uri: "/patrols", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&route_id=\(id)&client_key=\(key)&check.1.result=ok&check.2.note="))
                #expect(res.status == .unprocessableContent && res.body.text.contains("point-2-result-error"))
                res = try await client.execute(uri: "/patrols", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&route_id=\(id)&client_key=\(key)&check.1.result=ok&check.2.result=finding&check.2.finding=hazard&check.2.note=%E8%BD%A6%E5%BA%93%E7%81%AF%E5%9D%8F%E4%BA%86&check.2.category="))
                #expect(res.status == .seeOther)
                let patrol = try #require(res.headers[.location])
                res = try await client.execute(uri: patrol, method: .get, headers: [.cookie: worker])
                #expect(res.status == .ok && res.body.text.contains("车库灯坏了") && res.body.text.contains("/requests/"))
                res = try await client.execute(uri: "/patrols", method: .get, headers: [.cookie: worker])
                #expect(res.body.text.contains("/patrol-routes/\(id)") && res.body.text.contains("本期已巡查"))
                // The community's list shows it too.
                let staff = try await webLogin(client, "community")
                res = try await client.execute(uri: "/patrols", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("route-table") && res.body.text.contains("/patrol-routes/\(id)"))
            }
        }
    }
}
