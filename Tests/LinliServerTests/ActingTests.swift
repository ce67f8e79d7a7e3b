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

/// Acting for a resident (代办): the person confirmed and a reason given first, a 30-minute
/// session in which the member of staff is the resident, every step recorded as done for them,
/// and return visits (回访) for requests filed for people with no account.
@Suite struct ActingTests {
    @Test func aReasonIsNeededAndASessionLastsHalfAnHour() throws {
        #expect(throws: LinliError.self) { _ = try ActingRules.reason(" 老 ") }
        #expect(throws: LinliError.self) { _ = try ActingRules.reason(String(repeating: "长", count: 201)) }
        #expect(try ActingRules.reason("  老人来电反映漏水 ") == "老人来电反映漏水")
        #expect(ActingRules.seconds == 1800)
        #expect(ActingRules.live(expiresAt: 1800, endedAt: nil, now: 1799))
        #expect(!ActingRules.live(expiresAt: 1800, endedAt: nil, now: 1800))
        #expect(!ActingRules.live(expiresAt: 1800, endedAt: 900, now: 1000))
    }

    /// A resident of the demo's first household who has no account of their own, and their ID's last four.
    static func residentWithoutAccount(_ f: Fixture) async throws -> (id: Int64, last4: String, name: String, code: String) {
        try await f.linli.store.read { db in
            let r = try await db.raw("""
                SELECT r.id, r.id_last4, r.name, h.code FROM residents r JOIN households h ON h.id = r.household_id
                WHERE r.household_id = \(bind: f.demo.firstHouseholdWithResidents)
                  AND NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.resident_id = r.id) ORDER BY r.id
                """).first()!
            return (try r.decode(column: "id", as: Int64.self), try r.decode(column: "id_last4", as: String.self),
                    try r.decode(column: "name", as: String.self), try r.decode(column: "code", as: String.self))
        }
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func staffActForAnElderFromTheirPageAndEveryStepSaysSo(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let elder = try await Self.residentWithoutAccount(f)
            try await built.app.test(.router) { client in
                let staff = try await webLogin(client, "community")
                var res = try await client.execute(uri: "/residents/\(elder.id)", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("id=\"acting-form\""))
                let csrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: staff, .contentType: "application/x-www-form-urlencoded"]
                // The wrong last four, or no reason: refused with the field named, nothing written.
                let wrong = elder.last4 == "0000" ? "1111" : "0000"
                res = try await client.execute(uri: "/residents/\(elder.id)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(wrong)&reason=%E8%80%81%E4%BA%BA%E6%9D%A5%E7%94%B5"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("acting-last4-error"))
                res = try await client.execute(uri: "/residents/\(elder.id)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(elder.last4)&reason="))
                #expect(res.status == .unprocessableContent && res.body.text.contains("acting-reason-error"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM acting_sessions") == 0)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM users WHERE managed = 1") == 0)
                // Confirmed: the staff member's session becomes the elder's, with a banner saying so.
                res = try await client.execute(uri: "/residents/\(elder.id)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(elder.last4.lowercased())&reason=%E8%80%81%E4%BA%BA%E6%9D%A5%E7%94%B5"))
                #expect(res.status == .seeOther && res.headers[.location] == "/home")
                res = try await client.execute(uri: "/home", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("id=\"acting-bar\"") && res.body.text.contains(elder.name))
                #expect(!res.body.text.contains("href=\"/search\""), "acting, the member of staff has the resident's menu only")
                // A report made now is the elder's, and says who typed it for them.
                let lift = RequestsStoreTests.lift(f)
                let body = String(decoding: try JSONEncoder().encode(lift), as: UTF8.self)
                let json: HTTPFields = [.cookie: staff, .contentType: "application/json", .init("X-CSRF-Token")!: csrf]
                res = try await client.execute(uri: "/api/v1/requests", method: .post, headers: json, body: ByteBuffer(string: body))
                #expect(res.status == .created, "\(res.body.text)")
                let managed = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM users WHERE managed = 1").first()!.decode(column: "id", as: Int64.self)
                }
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE reporter_user_id = \(managed)") == 1)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE reporter_user_id = \(managed) AND channel = 'acting'") == 1,
                        "its source is 代办, not the resident's own report")
                let filed = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM requests WHERE reporter_user_id = \(bind: managed)").first()!.decode(column: "id", as: Int64.self)
                }
                res = try await client.execute(uri: "/requests/\(filed)", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("代办（工作人员或亲属代居民反映）") && !res.body.text.contains("居民自报"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM request_events WHERE kind = 'submitted' AND actor_name LIKE '%代办%'") == 1)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM acting_steps WHERE action = 'request.submit'") == 1)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.submit' AND username = 'community（代 managed-\(elder.id)）'") == 1)
                // The elder's account links are theirs: acting cannot bind it elsewhere.
                res = try await client.execute(uri: "/api/v1/bind", method: .post, headers: json, body: ByteBuffer(string: #"{"code":"ABCDEFGH","id_last4":"1234"}"#))
                #expect(res.status == .forbidden)
                // Nor start acting again from inside.
                res = try await client.execute(uri: "/residents/\(elder.id)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(elder.last4)&reason=xx"))
                #expect(res.status == .forbidden)
                // The record, as the elder will see it.
                res = try await client.execute(uri: "/acting", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("反映诉求") && res.body.text.contains("老人来电"))
                // Ending: the member of staff is themselves again, back on the elder's page.
                res = try await client.execute(uri: "/acting/end", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .seeOther && res.headers[.location] == "/residents/\(elder.id)")
                res = try await client.execute(uri: "/residents/\(elder.id)", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok && !res.body.text.contains("id=\"acting-bar\""))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('acting.start', 'acting.end')") == 2)
                // Nobody claims 代办 without acting.
                var claimed = lift
                claimed.channel = "acting"
                res = try await client.execute(uri: "/api/v1/requests", method: .post, headers: json,
                                               body: ByteBuffer(string: String(decoding: try JSONEncoder().encode(claimed), as: UTF8.self)))
                #expect(res.status == .unprocessableContent && res.body.text.contains("channel"))
                // The second time the same elder is acted for, the same account is used.
                res = try await client.execute(uri: "/residents/\(elder.id)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&household_code=\(String(elder.code.prefix(8)).uppercased())&reason=%E4%B8%8A%E9%97%A8"))
                #expect(res.status == .seeOther)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM users WHERE managed = 1") == 1)
            }
        }
    }

    @Test(arguments: Backend.available)
    func theAPIActsWithAShortTokenThatDiesWithTheSession(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let elder = try await Self.residentWithoutAccount(f)
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                func post(_ uri: String, _ token: String, _ body: String) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                             body: ByteBuffer(string: body))
                }
                // Outside the grid worker's area the resident does not exist; a resident may not act for anyone.
                var res = try await post("/api/v1/residents/\(ids.outsideResident)/acting", t["grid"]!, #"{"id_last4":"1234","reason":"来电"}"#)
                #expect(res.status == .notFound)
                res = try await post("/api/v1/residents/\(elder.id)/acting", t["resident"]!, #"{"id_last4":"\#(elder.last4)","reason":"来电"}"#)
                #expect(res.status == .forbidden)
                res = try await post("/api/v1/residents/\(elder.id)/acting", t["community"]!, #"{"household_code":"ZZZZZZZZ","reason":"来电"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("household_code"))
                res = try await post("/api/v1/residents/\(elder.id)/acting", t["community"]!, #"{"household_code":"\#(elder.code.prefix(8))","reason":"上门走访"}"#)
                #expect(res.status == .created)
                let session = try JSONDecoder().decode(ActingSessionView.self, from: Data(buffer: res.body))
                let acting = try #require(session.token)
                #expect(session.expiresAt - session.startedAt == 1800 && session.method == "household_code")
                res = try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer \(acting)"])
                #expect(res.status == .ok && res.body.text.contains(elder.name))
                // Acting lends the person's resident grants only: were their account also a member
                // of staff, the one acting for them would not become one.
                let account = try await f.linli.store.read { db in
                    try await db.raw("SELECT u.username FROM acting_sessions a JOIN users u ON u.id = a.resident_user_id ORDER BY a.id DESC").first()!.decode(column: "username", as: String.self)
                }
                try await f.linli.accounts.grant(username: account, role: .communityStaff, placeID: f.demo.firstCommunityID)
                res = try await client.execute(uri: "/api/v1/visits/due", method: .get, headers: [.authorization: "Bearer \(acting)"])
                #expect(res.status == .forbidden, "\(res.body.text)")
                // Thirty-one minutes later the token is dead.
                clock.advance(hours: 31.0 / 60)
                res = try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer \(acting)"])
                #expect(res.status == .unauthorized)
            }
        }
    }

    @Test(arguments: Backend.available)
    func aRequestFiledForSomeoneWithoutAnAccountIsClosedByAReturnVisit(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let community = try await f.actor("community"), property = try await f.actor("property"), grid = try await f.actor("grid")
            var phoned = RequestsStoreTests.lift(f)
            phoned.channel = "phone"; phoned.contactName = "王秀英"
            let a = try await r.submit(phoned, actor: grid).request
            var none = RequestsService.ActionInput()
            _ = try await r.perform(.accept, id: a.id, none, actor: property)
            _ = try await r.perform(.resolve, id: a.id, none, actor: property)
            // Routing staff see a return visit to record; the property company does not.
            let detail = try await r.detail(a.id, actor: community, lang: .zh)
            #expect(detail.abilities.confirm && detail.abilities.returnVisit)
            #expect(try await !r.detail(a.id, actor: property, lang: .zh).abilities.confirm)
            none.rating = 4; none.visitBy = "boat"
            await #expect(throws: LinliError.self) { _ = try await r.perform(.confirm, id: a.id, none, actor: community) }
            none.visitBy = "visit"; none.note = "老人说修好了"
            let closed = try await r.perform(.confirm, id: a.id, none, actor: community)
            #expect(closed.status == "closed" && closed.rating == 4)
            let events = try await r.detail(a.id, actor: community, lang: .zh).events
            #expect(events.last?.note == "上门回访：4★ 老人说修好了")
        }
    }
}
