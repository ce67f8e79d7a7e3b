import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The findings of the trust review (issue 17), one test each: every one of these failed on the
/// code before its fix.
@Suite struct InputParsingTests {
    @Test func daysAreExactAndInsideTheHandledYears() {
        #expect(Input.day("2026-02-28") == 20_512)  // days since 1970-01-01
        #expect(Input.day("2028-02-29") != nil)
        for bad in ["2026-02-29", "2026-2-3", "-2026-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "2026-13-01", "2026-00-10",
                    "2026-01-32", "２０２６-01-01", "2026-01-01T00:00", " 2026-01-01", ""] {
            #expect(Input.day(bad) == nil, "\(bad)")
        }
        // The hand-written civil date arithmetic agrees with Foundation's calendar over the range.
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(secondsFromGMT: 0)!
        for day in stride(from: Input.dayNumber(2000, 1, 1), through: Input.dayNumber(2099, 12, 31), by: 13) {
            let c = cal.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(day * 86400)))
            #expect(Input.dayNumber(Int64(c.year!), Int64(c.month!), Int64(c.day!)) == day)
        }
        // The month around any day number is total (an old row outside the range still renders).
        for day: Int64 in [-1_000_000, -1, 0, 2_932_896, 1_000_000_000] {
            let m = LocalDay.month(of: day)
            #expect(m.first <= day && day <= m.last && m.last - m.first < 31)
        }
        #expect(LocalDay.month("2099-12") != nil && LocalDay.month("2100-01") == nil && LocalDay.month("9999-12") == nil)
    }

    @Test func localTimesAndW3CDateTimes() {
        let t = Input.localDateTime("2026-12-01T18:00")!
        #expect(LocalTime.text(t) == "2026-12-01 18:00")
        #expect(Input.localDateTime("2026-12-01 18:00") == t && Input.localDateTime("2026-12-01T18:00:00") == t)
        #expect(Input.localDateTime("9999-12-31T09:00") == nil && Input.localDateTime("2026-12-01T24:00") == nil)
        // Every W3C form; fractions are cut to the second.
        let z = Input.w3cDateTime("2026-12-05T10:00:24Z")!
        for form in ["2026-12-05T10:00:24.5Z", "2026-12-05T10:00:24.629216+00:00", "2026-12-05T18:00:24+08:00", "2026-12-05T18:00:24.9+0800",
                     "2026-12-05T10:00:24,1Z", "2026-12-05T18:00:24"] {
            #expect(Input.w3cDateTime(form) == z, "\(form)")
        }
        #expect(Input.w3cDateTime("2026-12-05T10:00Z") == z - 24)
        #expect(Input.w3cDateTime("2026-12-05") == Input.w3cDateTime("2026-12-05T00:00:00+08:00"))
        #expect(Input.w3cDateTime("2026") != nil && Input.w3cDateTime("2026-12") != nil)
        for bad in ["2026-02-29", "2026-12-05T10:00:24.Z", "2026-12-05T10:00:24Q", "9999-01-01", "2026-12-05T25:00Z", "yesterday", ""] {
            #expect(Input.w3cDateTime(bad) == nil, "\(bad)")
        }
        #expect(ISO8601.parse("2026-12-05T10:00:24.5Z") == z)
    }

    @Test func integersAreBoundedBeforeAnyArithmetic() throws {
        #expect(try Input.int(nil, field: "limit", default: 50, in: 1...200) == 50)
        #expect(throws: LinliError.self) { try Input.int("0", field: "limit", default: 50, in: 1...200) }
        #expect(throws: LinliError.self) { try Input.int("9223372036854775808", field: "limit", default: 50, in: 1...200) }
        #expect(throws: LinliError.self) { try Input.page("9223372036854777", size: 1000) }
        #expect(throws: LinliError.self) { try Input.page("9223372036854775807", size: 50) }
        #expect(try Input.page("3", size: 50) == (50, 100))
        #expect(try Input.id("", field: "x") == nil)
        #expect(throws: LinliError.self) { try Input.id("-4", field: "x") }
    }

    @Test func onlySameSitePathsAfterSignIn() {
        #expect(AccountRoutes.safeNext("/requests?scope=mine") == "/requests?scope=mine")
        for bad in ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/\n/evil.example", "/ /evil", nil] {
            #expect(AccountRoutes.safeNext(bad) == "/console", "\(String(describing: bad))")
        }
    }
}

@Suite struct TrustHTTPTests {
    /// A second resident account living in the same compound as the demo resident, in another home.
    static func neighbour(_ f: Fixture) async throws -> (token: String, household: Int64) {
        let resident = try await f.actor("resident")
        let home = resident.grants.first { $0.role == .resident }!.householdID!
        let compoundPath = "/" + PlacePath.ids(resident.grants[0].placePath).prefix(5).map(String.init).joined(separator: "/") + "/"
        let other = try await f.linli.store.read { db in
            try await db.raw("SELECT id FROM households WHERE path LIKE \(bind: compoundPath + "%") AND id <> \(bind: home) ORDER BY id").first()!
                .decode(column: "id", as: Int64.self)
        }
        _ = try await f.linli.accounts.createUser(username: "neighbour", displayName: "邻居", password: Fixture.password)
        try await f.linli.accounts.grant(username: "neighbour", role: .resident, placeID: nil, householdID: other)
        return (try await f.token("neighbour"), other)
    }

    @Test func crashingInputsAreRefusedAndNothingTraps() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            try await built.app.test(.router) { client in
                func call(_ uri: String, _ method: HTTPRequest.Method = .get, _ who: String? = nil, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [.accept: "application/json"]
                    if let who { h[.authorization] = "Bearer \(t[who]!)" }
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                var r = try await call("/open311/v2/requests.json?page_size=1000&page=9223372036854777")
                #expect(r.status == .badRequest && r.body.text.contains("page"))
                r = try await call("/requests?scope=area&page=9223372036854775807", .get, "community")
                #expect(r.status == .unprocessableContent && r.body.text.contains("page"))
                for q in ["limit=0", "limit=-5", "offset=-1", "offset=99999999999999999999", "limit=abc"] {
                    r = try await call("/api/v1/requests?scope=area&\(q)", .get, "community")
                    #expect(r.status == .unprocessableContent, "\(q)")
                }
                r = try await call("/api/v1/matters?offset=-1", .get, "community")
                #expect(r.status == .unprocessableContent)
                // A task far in the future is refused at the door, naming the field.
                let place = f.demo.firstCommunityID
                r = try await call("/api/v1/tasks", .post, "community",
                                   #"{"community_id":\#(place),"title":"搬柜子","kind":"one_off","place_id":\#(place),"starts_at":"9999-12-31T09:00"}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"starts_at""#))
                for bad in ["-2026-01-01", "2026-2-3", "2026-02-29"] {
                    r = try await call("/api/v1/figures?place_id=\(place)&from=\(bad)", .get, "community")
                    #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"from""#), "\(bad)")
                }
                r = try await call("/open311/v2/requests.json?start_date=2026-02-29")
                #expect(r.status == .badRequest)
                // Found by schemathesis: an Open311 path without .json or .xml was a 500.
                for uri in ["/open311/v2/tokens/0", "/open311/v2/requests/7", "/open311/v2/services/noise"] {
                    r = try await call(uri)
                    #expect(r.status == .notFound, "\(uri)")
                }
                // The server still answers.
                #expect(try await call("/health").status == .ok)
            }
        }
    }

    @Test func open311FindsRequestsByAnyW3CDateTime() async throws {
        let clock = TestClock("2026-12-05T10:00:24Z")
        try await withFixture(.sqlite, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            var i = RequestInput()
            i.category = "sanitation"; i.description = "东门垃圾满了"; i.placeID = try await f.residentCompound; i.publicDetails = true
            _ = try await f.linli.requests.submit(i, actor: try await f.actor("resident"))
            try await built.app.test(.router) { client in
                let all = try await client.execute(uri: "/open311/v2/requests.json?start_date=2026-12-05T10:00:24Z", method: .get)
                #expect(all.status == .ok && all.body.text.contains("service_request_id"))
                for end in ["2026-12-05T10:00:24.5Z", "2026-12-05T10:00:24.629216%2B00:00", "2026-12-05T18:00:24%2B08:00"] {
                    let r = try await client.execute(uri: "/open311/v2/requests.json?start_date=2026-12-05T10:00:24Z&end_date=\(end)", method: .get)
                    #expect(r.status == .ok && r.body.text == all.body.text, "\(end)")
                }
                let bad = try await client.execute(uri: "/open311/v2/requests.json?end_date=2026-12-05T10:00:24.Z", method: .get)
                #expect(bad.status == .badRequest)
            }
        }
    }

    @Test func followingOrMergingNeverWidensWhoSeesARequest() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let resident = try await f.actor("resident")
            let home = resident.grants.first { $0.role == .resident }!.householdID!
            let (neighbourToken, _) = try await Self.neighbour(f)
            let compound = try await f.residentCompound
            // The resident's private request about their home, with a photo.
            var i = RequestInput()
            i.category = "water_leak"; i.description = "卫生间漏水，楼上王家不在家"; i.householdID = home; i.publicDetails = false
            let secret = try await f.linli.requests.submit(i, photos: [TestImages.png], actor: resident).request
            let photoID = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM request_photos WHERE request_id = \(bind: secret.id)").first()!.decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                let h: HTTPFields = [.authorization: "Bearer \(neighbourToken)", .contentType: "application/json"]
                #expect(try await client.execute(uri: "/api/v1/requests/\(secret.id)", method: .get, headers: h).status == .notFound)
                #expect(try await client.execute(uri: "/request-photos/\(photoID)", method: .get, headers: h).status == .notFound)
                // A throw-away request, withdrawn in favour of the neighbour's.
                let mine = try await client.execute(uri: "/api/v1/requests", method: .post, headers: h,
                                                    body: ByteBuffer(string: #"{"category":"water_leak","description":"漏水","place_id":\#(compound)}"#))
                #expect(mine.status == .created)
                let mineID = String(mine.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                let w = try await client.execute(uri: "/api/v1/requests/\(mineID)/withdraw", method: .post, headers: h,
                                                 body: ByteBuffer(string: #"{"target_id":\#(secret.id)}"#))
                #expect(w.status == .ok)
                // Following shows what the board shows: status and building, never the text, door or photo.
                let seen = try await client.execute(uri: "/api/v1/requests/\(secret.id)", method: .get, headers: h)
                #expect(seen.status == .ok)
                #expect(!seen.body.text.contains("楼上王家") && !seen.body.text.contains(secret.address))
                #expect(try await client.execute(uri: "/request-photos/\(photoID)", method: .get, headers: h).status == .notFound)
                let list = try await client.execute(uri: "/api/v1/requests?scope=mine", method: .get, headers: h)
                #expect(list.status == .ok && !list.body.text.contains("楼上王家") && !list.body.text.contains(secret.address))
                // The reporter still sees everything.
                let own = try await client.execute(uri: "/api/v1/requests/\(secret.id)", method: .get, headers: [.authorization: "Bearer \(try await f.token("resident"))"])
                #expect(own.body.text.contains("楼上王家"))
            }
        }
    }

    @Test func notesAreInternalUnlessMarkedAsAPublicReply() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let resident = try await f.actor("resident"), community = try await f.actor("community")
            var i = RequestInput()
            i.category = "sanitation"; i.description = "东门垃圾满了"; i.placeID = try await f.residentCompound; i.publicDetails = true
            let r = try await f.linli.requests.submit(i, actor: resident).request
            var privateNote = RequestsService.ActionInput()
            privateNote.note = "已联系王秀英 13800138000，3 栋 502"
            _ = try await f.linli.requests.perform(.note, id: r.id, privateNote, actor: community)
            try await built.app.test(.router) { client in
                var o = try await client.execute(uri: "/open311/v2/requests/\(r.id).json", method: .get)
                #expect(o.status == .ok && !o.body.text.contains("13800138000"))
                var board = try await client.execute(uri: "/board/\(r.boardPlaceID)", method: .get)
                #expect(!board.body.text.contains("13800138000"))
                // The reporter still sees the note on their own request.
                let own = try await f.linli.requests.detail(r.id, actor: resident, lang: .zh)
                #expect(own.events.contains { $0.note.contains("13800138000") })
                var reply = RequestsService.ActionInput()
                reply.note = "已安排保洁今天下午清运"; reply.publicReply = true
                _ = try await f.linli.requests.perform(.note, id: r.id, reply, actor: community)
                o = try await client.execute(uri: "/open311/v2/requests/\(r.id).json", method: .get)
                #expect(o.body.text.contains("已安排保洁今天下午清运"))
                board = try await client.execute(uri: "/board/\(r.boardPlaceID)", method: .get)
                #expect(board.body.text.contains("已安排保洁今天下午清运") && !board.body.text.contains("13800138000"))
            }
        }
    }

    @Test func staffFiledAndVulnerableRequestsNeedRecordedConsentToPublish() async throws {
        try await withFixture(.sqlite) { f in
            _ = try await f.linli.loadRequestsDemo()
            let community = try await f.actor("community")
            // A household where an elderly person lives alone (tagged in the registry).
            let vulnerable: Int64? = try await f.linli.store.transaction { db in
                guard let h = try await db.raw("""
                    SELECT h.id FROM households h WHERE h.path LIKE \(bind: "%/\(f.demo.firstCommunityID)/%")
                    AND EXISTS (SELECT 1 FROM residents r WHERE r.household_id = h.id) ORDER BY h.id DESC
                    """).first()?.decode(column: "id", as: Int64.self) else { return nil }
                try await db.raw("UPDATE residents SET tags = 'elderly_alone' WHERE household_id = \(bind: h)").run()
                return h
            }
            var i = RequestInput()
            i.category = "help"; i.description = "独居老人张阿婆来电，灯泡坏了"; i.householdID = f.demo.firstHouseholdWithResidents
            i.channel = "phone"; i.contactName = "张阿婆"; i.publicDetails = true
            do { _ = try await f.linli.requests.submit(i, actor: community); Issue.record("published without consent") }
            catch let e as LinliError { #expect(e.field == "resident_consent" && e.status == .unprocessableContent) }
            i.residentConsent = true
            let ok = try await f.linli.requests.submit(i, actor: community).request
            #expect(ok.publicDetails)
            if let vulnerable {
                var v = RequestInput()
                v.category = "help"; v.description = "老人行动不便"; v.householdID = vulnerable; v.channel = "app"; v.publicDetails = true
                do { _ = try await f.linli.requests.submit(v, actor: community); Issue.record("vulnerable household published without consent") }
                catch let e as LinliError { #expect(e.field == "resident_consent") }
            } else { Issue.record("the demo has no elderly person living alone in the first community") }
            // The demo's staff-filed request about an elderly resident is not on the public board.
            let board = try await f.linli.requests.board(placeID: f.demo.firstCommunityID, lang: .zh)
            #expect(!(board.open + board.resolved).contains { ($0.description ?? "").contains("王阿婆") })
        }
    }

    @Test func householdsCannotBeProbedOrNamedOutsideScope() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            let (neighbourToken, neighbourHome) = try await Self.neighbour(f)
            let address = try await f.linli.store.read { db in
                try await db.raw("SELECT address FROM households WHERE id = \(bind: ids.insideHousehold)").first()!.decode(column: "address", as: String.self)
            }
            try await built.app.test(.router) { client in
                func post(_ who: String?, token: String? = nil, _ body: String) async throws -> TestResponse {
                    try await client.execute(uri: "/api/v1/requests", method: .post,
                                             headers: [.authorization: "Bearer \(token ?? t[who!]!)", .contentType: "application/json"], body: ByteBuffer(string: body))
                }
                for who in ["app", "volunteer"] {
                    let r = try await post(who, #"{"category":"noise","description":"很吵","household_id":\#(ids.insideHousehold)}"#)
                    let missing = try await post(who, #"{"category":"noise","description":"很吵","household_id":99999999}"#)
                    #expect(r.status == .unprocessableContent && !r.body.text.contains(address), "\(who)")
                    #expect(r.body.text == missing.body.text, "\(who): an existing household answers like a missing one")
                }
                // Look-alikes show a neighbour's request without its door.
                var i = RequestInput()
                i.category = "water_leak"; i.description = "楼上卫生间漏水天花板滴水"; i.householdID = neighbourHome
                let theirs = try await f.linli.requests.submit(i, actor: try await f.actor("neighbour")).request
                let similar = try await client.execute(uri: "/api/v1/requests/similar", method: .post,
                                                       headers: [.authorization: "Bearer \(t["resident"]!)", .contentType: "application/json"],
                                                       body: ByteBuffer(string: #"{"category":"water_leak","description":"楼上卫生间漏水天花板滴水","place_id":\#(try await f.residentCompound)}"#))
                #expect(similar.status == .ok && similar.body.text.contains("\"id\":\(theirs.id)"))
                #expect(!similar.body.text.contains(theirs.address))
                // The map of a household: only one's own; any other id answers like a missing one.
                let resident = try await f.actor("resident")
                let home = resident.grants.first { $0.role == .resident }!.householdID!
                func map(_ id: Int64, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: "/api/v1/map-points?household_id=\(id)", method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                #expect(try await map(home, t["resident"]!).status == .ok)
                let probe = try await map(home, neighbourToken), gone = try await map(99_999_999, neighbourToken)
                #expect(probe.status == .notFound && probe.body.text == gone.body.text)
            }
        }
    }

    @Test func aRefusedHouseholdMoveWritesNothing() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let grid = try await f.actor("grid")
            let myGrid = grid.grants.first { $0.role == .gridWorker }!.gridID!
            let found: (Int64, Int64, Int64)? = try await f.linli.store.read { db in
                let h = try await db.raw("SELECT h.id, h.micro_grid_id, g.community_id FROM households h JOIN grids g ON g.id = h.grid_id WHERE h.grid_id = \(bind: myGrid) ORDER BY h.id").first()!
                let community = try h.decode(column: "community_id", as: Int64.self)
                guard let other = try await db.raw("SELECT id FROM grids WHERE level = 'micro' AND community_id = \(bind: community) AND parent_id <> \(bind: myGrid) ORDER BY id").first() else { return nil }
                return (try h.decode(column: "id", as: Int64.self), try h.decode(column: "micro_grid_id", as: Int64.self), try other.decode(column: "id", as: Int64.self))
            }
            guard let (household, before, otherMicro) = found else { Issue.record("the demo community has one grid"); return }
            try await built.app.test(.router) { client in
                let r = try await client.execute(uri: "/api/v1/households/\(household)", method: .patch,
                                                 headers: [.authorization: "Bearer \(try await f.token("grid"))", .contentType: "application/json"],
                                                 body: ByteBuffer(string: #"{"micro_grid_id":\#(otherMicro)}"#))
                #expect(r.status == .forbidden || r.status == .notFound)
                let after = try await f.linli.store.read { db in
                    try await db.raw("SELECT micro_grid_id FROM households WHERE id = \(bind: household)").first()!.decode(column: "micro_grid_id", as: Int64.self)
                }
                #expect(after == before)
            }
        }
    }

    @Test func idempotencyKeysBelongToTheirActorAndBody() async throws {
        try await withFixture(.sqlite) { f in
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            let (neighbourToken, _) = try await Self.neighbour(f)
            _ = neighbourToken
            let neighbour = try await f.actor("neighbour")
            let (project, _) = try await LinkageStoreTests().rampProject(f, staff: staff, street: street)
            let l = f.linli.linkage
            var gift = LinkageService.DonationInput()
            gift.amount = "10"; gift.idempotencyKey = "same"
            let a = try await l.donate(projectID: project, gift, actor: resident)
            let b = try await l.donate(projectID: project, gift, actor: neighbour)
            #expect(a.pledgeID != b.pledgeID && !b.repeated, "another person's gift with the same key is their own")
            #expect(try await l.donate(projectID: project, gift, actor: resident).repeated)
            gift.amount = "11"
            do { _ = try await l.donate(projectID: project, gift, actor: resident); Issue.record("same key, other amount") }
            catch let e as LinliError { #expect(e.field == "idempotency_key" && e.status == .unprocessableContent) }
            // Requests: the same key with another text is refused.
            var i = RequestInput()
            i.category = "noise"; i.description = "楼下很吵"; i.placeID = try await f.residentCompound; i.idempotencyKey = "k-1"
            let first = try await f.linli.requests.submit(i, actor: resident)
            #expect(try await f.linli.requests.submit(i, actor: resident).request.id == first.request.id)
            #expect(try await f.linli.requests.submit(i, actor: neighbour).request.id != first.request.id)
            i.description = "别的事"
            do { _ = try await f.linli.requests.submit(i, actor: resident); Issue.record("same key, other body") }
            catch let e as LinliError { #expect(e.field == "idempotency_key") }
        }
    }

    @Test func onlineGiversAreNamedOnlyByTheirOwnNameAndAreaMoneyStaysOffCommunityLedgers() async throws {
        try await withFixture(.sqlite) { f in
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            let (project, _) = try await LinkageStoreTests().rampProject(f, staff: staff, street: street)
            let l = f.linli.linkage
            var gift = LinkageService.DonationInput()
            gift.amount = "5"; gift.name = "王建国"; gift.publicName = true
            do { _ = try await l.donate(projectID: project, gift, actor: resident); Issue.record("a typed name was accepted") }
            catch let e as LinliError { #expect(e.field == "name") }
            // Named in public only as the registry knows them: an account bound to no registered
            // person (its name typed at sign-up) may give, but not be named.
            _ = try await f.linli.accounts.createUser(username: "typed.name", displayName: "王建国", password: "violet-harbour-17")
            let household = try #require(resident.grants.first { $0.role == .resident }?.householdID)
            _ = try await f.linli.accounts.grant(username: "typed.name", role: .resident, placeID: nil, householdID: household)
            let typed = try await f.linli.accounts.login(username: "typed.name", password: "violet-harbour-17").actor
            gift.name = nil
            await expectCode("not_verified") { _ = try await l.donate(projectID: project, gift, actor: typed) }
            gift.publicName = false
            _ = try await l.donate(projectID: project, gift, actor: typed)
            // The demo resident's account is bound to a person of the register: named as registered.
            let registered = try #require(try await f.linli.store.read { db in try await LinkageService.registeredName(db, resident) })
            gift.publicName = true
            _ = try await l.donate(projectID: project, gift, actor: resident)
            let pledged = try await f.linli.store.read { db in
                try await db.raw("SELECT donor_name FROM pledges ORDER BY id DESC LIMIT 1").first()?.decode(column: "donor_name", as: String.self)
            }
            #expect(pledged == registered)
            gift.publicName = false
            gift.name = "某某超市"; gift.donorKind = "merchant"
            _ = try await l.donate(projectID: project, gift, actor: staff)
            // The street's pool money is no community's: it shows on no community's public ledger.
            let communities = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM places WHERE kind = 'community' ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) }
            }
            for c in communities {
                let ledger = try await l.publicLedger(communityID: c, before: nil)
                #expect(!ledger.lines.contains { $0.kind == "pool_funding" || $0.kind == "venture_funding" }, "community \(c)")
            }
        }
    }

    @Test func responsesCarrySecurityHeadersAndCrossSiteChangesAreRefused() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                for uri in ["/login", "/no-such-page", "/api/v1/me"] {
                    let r = try await client.execute(uri: uri, method: .get)
                    let csp = r.headers[.contentSecurityPolicy] ?? ""
                    #expect(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"), "\(uri)")
                    #expect(r.headers[.xContentTypeOptions] == "nosniff" && r.headers[.init("Referrer-Policy")!] == "same-origin", "\(uri)")
                }
                // No page carries inline script any more.
                let cookie = try await webLogin(client, "community")
                for uri in ["/requests/new", "/console", "/login"] {
                    let page = try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie])
                    #expect(!page.body.text.contains("<script>") && !page.body.text.contains("onclick="), "\(uri)")
                }
                let token = try await f.token("community")
                let cross = try await client.execute(uri: "/api/v1/inbox/read", method: .post,
                                                     headers: [.authorization: "Bearer \(token)", .origin: "https://evil.example"])
                #expect(cross.status == .forbidden)
                let same = try await client.execute(uri: "/api/v1/inbox/read", method: .post, headers: [.authorization: "Bearer \(token)"])
                #expect(same.status != .forbidden)
            }
        }
    }

    /// A deployment says whom to tell of a vulnerability (RFC 9116) once its operator has said.
    @Test func aDeploymentPublishesItsSecurityContact() async throws {
        try await withFixture(.sqlite) { f in
            let without = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await without.app.test(.router) { client in
                let r = try await client.execute(uri: "/.well-known/security.txt", method: .get)
                #expect(r.status == .notFound)
            }
            var config = f.config
            config.securityContact = "mailto:security@city.example"
            let with = try await buildApplication(try await Linli.open(config), logger: Logger(label: "test"))
            try await with.app.test(.router) { client in
                let r = try await client.execute(uri: "/.well-known/security.txt", method: .get)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(r.body.text.contains("Contact: mailto:security@city.example\n") && r.body.text.contains("Expires: 20"), "\(r.body.text)")
            }
        }
    }

    /// A bug's 500 (an error no route expected) carries the same headers and says what happened
    /// in the person's words; the framework's bare 500 once went out without them.
    @Test func anUnexpectedErrorIsAnsweredWithTheHeadersToo() async throws {
        struct Boom: Error {}
        let router = Router(context: AppContext.self)
        router.add(middleware: SecurityHeadersMiddleware(production: true, imageSources: []))
        router.add(middleware: ErrorMiddleware(renderer: try await Renderer.load()))
        router.get("/boom") { _, _ -> Response in throw Boom() }
        router.get("/api/v1/boom") { _, _ -> Response in throw Boom() }
        let app = Application(router: router)
        try await app.test(.router) { client in
            for uri in ["/boom", "/api/v1/boom"] {
                let r = try await client.execute(uri: uri, method: .get)
                #expect(r.status == .internalServerError)
                #expect(r.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true && r.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                #expect(r.headers[.strictTransportSecurity] != nil && r.body.text.contains("服务器出了问题") && !r.body.text.contains("Boom"), "\(uri)")
            }
        }
    }
}

@Suite struct TrustFilesAndImagesTests {
    /// A PNG whose header claims `w` × `h` pixels, followed by a tiny (wrong) body.
    static func bigPNG(_ w: UInt32, _ h: UInt32) -> [UInt8] {
        TestImages.png(width: w, height: h, idat: [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
    }

    @Test func picturesAboveThePixelLimitAreRefusedBeforeDecoding() throws {
        let start = Date()
        do { _ = try PhotoStore.prepare(Self.bigPNG(30_000, 30_000)); Issue.record("a 900-megapixel picture was accepted") }
        catch let e as LinliError { #expect(e.code == "too_many_pixels" && e.field == "photos", "\(e)") }
        #expect(Date().timeIntervalSince(start) < 1, "refused from the header, without decoding")
        #expect(try PhotoStore.prepare(TestImages.png).width == 1)
        // The finding's own case: a few hundred bytes of JPEG whose frame header claims 65000×65000.
        var jpeg = try PhotoStore.prepare(TestImages.png).jpeg
        let sof = try #require((0..<(jpeg.count - 9)).first { jpeg[$0] == 0xFF && (0xC0...0xC2).contains(jpeg[$0 + 1]) })
        for (k, byte) in [UInt8(0xFD), 0xE8, 0xFD, 0xE8].enumerated() { jpeg[sof + 5 + k] = byte }   // height, width: 65000
        #expect(jpeg.count < 1_000)
        let jpegStart = Date()
        do { _ = try PhotoStore.prepare(jpeg); Issue.record("a 4-gigapixel JPEG header was accepted") }
        catch let e as LinliError { #expect(e.code == "too_many_pixels" && e.field == "photos", "\(e)") }
        #expect(Date().timeIntervalSince(jpegStart) < 1, "refused from the header, without decoding")
    }

    @Test func exportCellsNeverRunAsFormulasAndSecretsAreOwnerOnly() throws {
        for cell in ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            let out = CSVReader.escape(cell)
            #expect(out.hasPrefix("'") || out.hasPrefix("\"'"), "\(cell) → \(out)")
        }
        #expect(CSVReader.escape("张三") == "张三" && CSVReader.escape("a,b") == "\"a,b\"")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("linli-private-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        try LinliFiles.writePrivate("身份证号", to: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "身份证号")
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite struct AccountSecurityTests {
    @Test func passwordsAttackersTryFirstAreRefused() {
        for bad in ["aaaaaaaaaa", "1234567890", "qwertyuiop", "password123", "woaini1314", "abcdefghijk", "9876543210", "short",
                    "zhangsan123", "ababababab"] {
            #expect(PasswordPolicy.problem(bad, username: "zhangsan") != nil, "\(bad)")
        }
        for good in ["社区电梯-2026-春", "violet-harbour-17", "T7#kq2!mZp"] {
            #expect(PasswordPolicy.problem(good, username: "zhangsan") == nil, "\(good)")
        }
    }

    @Test(arguments: Backend.available)
    func passwordChangeEndsSessionsAndTokensAndTokensExpireAndRevoke(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-05T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.accounts
            let session = try await a.login(username: "community", password: Fixture.password)
            let token = try await a.createAPIToken(username: "community", name: "app", days: 1)
            let live = try await a.session(token: session.token), bearer = try await a.bearer(token: token)
            #expect(live != nil && bearer != nil)
            // A token's life ends at its expiry.
            clock.advance(hours: 25)
            #expect(try await a.bearer(token: token) == nil)
            let second = try await a.createAPIToken(username: "community", name: "app")
            #expect(try await a.bearer(token: second) != nil)
            try await a.revokeToken(second)
            #expect(try await a.bearer(token: second) == nil, "revoked at once")
            // A new password ends every session and token made with the old one.
            let third = try await a.createAPIToken(username: "community", name: "app")
            let s2 = try await a.login(username: "community", password: Fixture.password)
            #expect(try await a.session(token: s2.token) != nil)
            do { try await a.setPassword(username: "community", password: "aaaaaaaaaa"); Issue.record("weak password accepted") }
            catch let e as LinliError { #expect(e.code == "weak_password") }
            try await a.setPassword(username: "community", password: "violet-harbour-17")
            let oldSession = try await a.session(token: s2.token), oldToken = try await a.bearer(token: third)
            #expect(oldSession == nil && oldToken == nil)
        }
    }

    @Test(arguments: Backend.available)
    func aRevokedGrantEndsOnEveryServerSharingTheDatabase(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            // Two servers: each its own account service and cache, one database.
            let serverA = f.linli.accounts
            let serverB = AccountService(store: f.linli.store, env: f.config.environment, bcryptCost: 4)
            let token = try await serverA.createAPIToken(username: "street", name: "app")
            #expect(try await serverA.bearer(token: token)?.grants.isEmpty == false)
            #expect(try await serverB.bearer(token: token)?.grants.isEmpty == false, "cached on B")
            let grant = try await f.linli.store.read { db in
                try await db.raw("SELECT g.id FROM role_grants g JOIN users u ON u.id = g.user_id WHERE u.username = 'street'").first()!.decode(column: "id", as: Int64.self)
            }
            try await serverA.revoke(grantID: grant, actor: try await f.actor("admin"))
            #expect(try await serverA.bearer(token: token)?.grants.isEmpty == true, "at once where it was revoked")
            try await Task.sleep(for: .milliseconds(Int(AuthEpoch.recheckSeconds * 1000) + 100))
            #expect(try await serverB.bearer(token: token)?.grants.isEmpty == true, "within \(AuthEpoch.recheckSeconds) s on the other server")
        }
    }
}

@Suite struct ProductionTests {
    @Test func productionRefusesDemoAccountsBenchRoutesAndBulkCommands() async throws {
        try await withFixture(.sqlite) { f in
            // The fixture's accounts are the demo's: bulk commands may run here…
            try await f.linli.requireDisposableData("linli-bench bench-tally")
            _ = try await f.linli.accounts.createUser(username: "wang.li", displayName: "王丽", password: "violet-harbour-17")
            // …until a real account exists.
            do { try await f.linli.requireDisposableData("linli-bench bench-tally"); Issue.record("ran on real data") }
            catch let e as LinliError { #expect(e.code == "real_data") }
            // A demo session and API token made before the switch to production…
            let demoSession = try await f.linli.accounts.login(username: "admin", password: Fixture.password)
            let demoToken = try await f.linli.accounts.createAPIToken(username: "admin", name: "before")
            let before = try await f.linli.accounts.session(token: demoSession.token), bearerBefore = try await f.linli.accounts.bearer(token: demoToken)
            #expect(before != nil && bearerBefore != nil)
            var config = f.config
            config.production = true
            let prod = try await Linli.open(config)
            // …sign in no one there, and no new token is made for a demo account.
            #expect(try await prod.accounts.session(token: demoSession.token) == nil)
            #expect(try await prod.accounts.bearer(token: demoToken) == nil)
            await expectCode("not_found") { _ = try await prod.accounts.createAPIToken(username: "admin", name: "after") }
            do { try await prod.requireDisposableData("linli-bench generate-requests"); Issue.record("ran in production") }
            catch let e as LinliError { #expect(e.code == "production") }
            do { _ = try await prod.accounts.login(username: "admin", password: Fixture.password); Issue.record("a demo account signed in in production") }
            catch let e as LinliError { #expect(e.code == "bad_credentials") }
            _ = try await prod.accounts.login(username: "wang.li", password: "violet-harbour-17")
            let built = try await buildApplication(prod, logger: Logger(label: "test"))
            #expect(!built.routes.contains { $0.path.hasPrefix("/bench") })
            try await built.app.test(.router) { client in
                let r = try await client.execute(uri: "/login", method: .get)
                #expect(r.headers[.strictTransportSecurity]?.contains("max-age") == true)
            }
        }
    }
}

@Suite struct AuditChainTests {
    @Test(arguments: Backend.available)
    func anyChangeRemovalOrInsertionBreaksTheChain(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-05T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let chain = f.linli.auditChain
            // A few audited actions, then (on PostgreSQL after they settle) the seal.
            for _ in 0..<3 { _ = try? await f.linli.accounts.login(username: "nobody", password: "wrong-password-x", address: "192.0.2.1") }
            clock.advance(hours: 1)
            let sealed = try await chain.sealPending()
            #expect(sealed > 3)
            var v = try await chain.verify()
            #expect(v.ok && v.verified == sealed && v.unsealed == 0, "\(v.breaks)")
            let ids = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM audit_log ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) }
            }
            // The database refuses changes itself; on PostgreSQL the server's role (which owns
            // nothing) may neither TRUNCATE, nor drop the triggers, nor change a row.
            do { try await f.linli.store.transaction { db in try await db.raw("UPDATE audit_log SET detail = 'x'").run() }; Issue.record("updated") } catch {}
            if backend == .postgres {
                #expect(f.config.migrateDatabaseURL != nil, "the tests serve as a role that owns nothing")
                for attempt in ["TRUNCATE audit_log", "TRUNCATE audit_chain", "DROP TRIGGER audit_log_no_change ON audit_log",
                                "ALTER TABLE audit_log DISABLE TRIGGER ALL", "DELETE FROM audit_chain"] {
                    do { try await f.linli.store.transaction { db in try await db.raw(SQLQueryString(attempt)).run() }; Issue.record("the server's role did: \(attempt)") }
                    catch {}
                }
                #expect(try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM audit_log").first()!.decode(column: "n", as: Int.self) } == ids.count)
            }
            // Someone with the file (or the owner's rights) goes around the triggers: the chain shows it.
            let dropTriggers = backend == .sqlite ? ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
                : ["DROP TRIGGER audit_log_no_change ON audit_log"]
            try await f.asOwner { owner in
                try await owner.transaction { db in
                    for s in dropTriggers { try await db.raw(SQLQueryString(s)).run() }
                    try await db.raw("UPDATE audit_log SET detail = 'nothing happened' WHERE id = \(bind: ids[1])").run()
                    try await db.raw("DELETE FROM audit_log WHERE id = \(bind: ids[3])").run()
                }
            }
            v = try await chain.verify()
            #expect(v.breaks.contains(ids[1]) && v.breaks.contains(ids[3]), "\(v.breaks)")
            // An entry slipped in below the head.
            try await f.linli.store.transaction { db in
                try await db.raw("""
                    INSERT INTO audit_log (id, at, user_id, username, action, object_type, object_id, place_path, reason, detail)
                    VALUES (\(bind: ids[3]), 0, NULL, 'system', 'x', 'x', NULL, '/', '', '')
                    """).run()
            }
            v = try await chain.verify()
            #expect(v.breaks.contains(ids[3]))
        }
    }
}

import Crypto
import _CryptoExtras

@Suite struct PaymentTests {
    /// A local stand-in that signs and encrypts like WeChat Pay API v3.
    struct WeChatPayStandIn {
        let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
        let apiV3Key = "0123456789abcdefghijklmnopqrstuv"
        let serial = "PUB_KEY_ID_0114232134912410000000000000"
        let mchid = "1900000001"

        func verifier() throws -> WeChatPayV3 {
            try WeChatPayV3(merchantID: mchid, apiV3Key: apiV3Key, publicKeyPEM: key.publicKey.pemRepresentation, publicKeyID: serial)
        }

        func notification(reference: String, total: Int64, transaction: String, state: String = "SUCCESS", mchid: String? = nil,
                          at now: Int64) throws -> (headers: [String: String], body: [UInt8]) {
            let plain = #"{"mchid":"\#(mchid ?? self.mchid)","appid":"wx0000","out_trade_no":"\#(reference)","transaction_id":"\#(transaction)","trade_type":"JSAPI","trade_state":"\#(state)","amount":{"total":\#(total),"payer_total":\#(total),"currency":"CNY","payer_currency":"CNY"}}"#
            let nonce = "fdasflkja484"
            let box = try AES.GCM.seal(Data(plain.utf8), using: SymmetricKey(data: Data(apiV3Key.utf8)), nonce: AES.GCM.Nonce(data: Data(nonce.utf8)),
                                       authenticating: Data("transaction".utf8))
            let ciphertext = (box.ciphertext + box.tag).base64EncodedString()
            let body = #"{"id":"EV-2018022511223320873","create_time":"2026-12-05T10:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"\#(ciphertext)","associated_data":"transaction","nonce":"\#(nonce)"}}"#
            let timestamp = String(now), callNonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
            let message = Array((timestamp + "\n" + callNonce + "\n" + body + "\n").utf8)
            let signature = try key.signature(for: message, padding: .insecurePKCS1v1_5)
            return (["wechatpay-timestamp": timestamp, "wechatpay-nonce": callNonce, "wechatpay-signature": signature.rawRepresentation.base64EncodedString(),
                     "wechatpay-serial": serial], Array(body.utf8))
        }
    }

    @Test(arguments: Backend.available)
    func onlineGiftsCountOnlyWhenTheMoneyArrives(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-05T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            let (project, _) = try await LinkageStoreTests().rampProject(f, staff: staff, street: street)
            var gift = LinkageService.DonationInput()
            gift.amount = "5000"
            let pledge = try await l.donate(projectID: project, gift, actor: resident)
            // Typing 5,000 draws nothing from the pool and moves no total.
            #expect(pledge.status == "pending" && pledge.matched == 0 && pledge.reference != nil)
            var money = try await l.project(project, actor: staff).money
            #expect(money.raised == 0 && money.matched == 0)
            let ledger = try await l.publicLedger(communityID: f.demo.firstCommunityID, before: nil)
            #expect(!ledger.lines.contains { $0.kind == "donation" })

            // The provider's notification: forged, tampered, stale or foreign ones are refused.
            let wx = try WeChatPayStandIn(), v = try wx.verifier()
            let now = f.linli.linkage.env.nowSeconds
            var n = try wx.notification(reference: pledge.reference!, total: 500_000, transaction: "4200000001", at: now)
            var tampered = n
            tampered.body = Array(String(decoding: n.body, as: UTF8.self).replacingOccurrences(of: "EV-2018", with: "EV-2019").utf8)
            #expect(throws: LinliError.self) { try v.verify(headers: tampered.headers, body: tampered.body, now: now) }
            #expect(throws: LinliError.self) { try v.verify(headers: n.headers, body: n.body, now: now + 3600) }
            let impostor = try WeChatPayStandIn()
            let forged = try impostor.notification(reference: pledge.reference!, total: 500_000, transaction: "4200000001", at: now)
            #expect(throws: LinliError.self) { try v.verify(headers: forged.headers.merging(["wechatpay-serial": wx.serial]) { $1 }, body: forged.body, now: now) }
            let foreign = try wx.notification(reference: pledge.reference!, total: 500_000, transaction: "4200000001", mchid: "1900009999", at: now)
            #expect(throws: LinliError.self) { try v.verify(headers: foreign.headers, body: foreign.body, now: now) }
            let short = try wx.notification(reference: pledge.reference!, total: 100, transaction: "4200000002", at: now)
            do { _ = try await l.confirmPayment(try v.verify(headers: short.headers, body: short.body, now: now), actor: nil); Issue.record("a short payment booked") }
            catch let e as LinliError { #expect(e.code == "amount_mismatch") }

            // Through the server, configured with the stand-in's key: booked once, matched, the giver told.
            let dir = f.dataDir
            try wx.key.publicKey.pemRepresentation.write(toFile: dir + "/wechatpay.pem", atomically: true, encoding: .utf8)
            var config = f.config
            config.wechatPayMerchantID = wx.mchid; config.wechatPayAPIv3Key = wx.apiV3Key
            config.wechatPayPublicKeyFile = dir + "/wechatpay.pem"; config.wechatPayPublicKeyID = wx.serial
            let server = try await Linli.open(config)
            let built = try await buildApplication(server, logger: Logger(label: "test"))
            n = try wx.notification(reference: pledge.reference!, total: 500_000, transaction: "4200000001", at: now)
            let sent = n
            try await built.app.test(.router) { client in
                var h = HTTPFields()
                for (k, value) in sent.headers { h[.init(k)!] = value }
                h[.contentType] = "application/json"
                for _ in 0..<2 {  // WeChat Pay retries until it hears 2xx: the second is booked no more
                    let r = try await client.execute(uri: "/api/v1/payments/wechatpay/notify", method: .post, headers: h, body: ByteBuffer(bytes: sent.body))
                    #expect(r.status == .noContent, "\(r.body.text)")
                }
                var bad = h
                bad[.init("wechatpay-signature")!] = "AAAA"
                let r = try await client.execute(uri: "/api/v1/payments/wechatpay/notify", method: .post, headers: bad, body: ByteBuffer(bytes: sent.body))
                #expect(r.status == .unauthorized)
            }
            money = try await l.project(project, actor: staff).money
            #expect(money.raised == 500_000 && money.matched == 300_000)
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).contains { $0.kind == "payment_confirmed" })
            #expect(try await l.checkLedger().ok)

            // A bank statement: each line once, unknown references listed, never booked twice.
            gift.amount = "20"
            let second = try await l.donate(projectID: project, gift, actor: resident)
            let csv = "交易日期,流水号,金额,附言\n2026-12-05,B001,20.00,捐款\(second.reference!)\n2026-12-05,B002,30.00,转账 LLAAAAAAAAAAAAAAAA\n2026-12-05,B003,8.00,工资\n"
            var lines = try await l.reconcileBankStatement(csv, actor: staff)
            #expect(lines.map(\.outcome) == ["booked", "unknown_reference", "no_reference"])
            lines = try await l.reconcileBankStatement(csv, actor: staff)
            #expect(lines[0].outcome == "already_booked")
            #expect(try await l.project(project, actor: staff).money.raised == 502_000)
            // A resident cannot book (or learn of) the community's pledges.
            let outsider = try await f.actor("resident")
            await expectCode("forbidden") { _ = try await l.reconcileBankStatement(csv, actor: outsider) }

            // Unpaid pledges lapse; money that still arrives for one is booked all the same.
            let third = try await l.donate(projectID: project, gift, actor: resident)
            clock.advance(hours: 25)
            #expect(try await l.expirePledges() == 1)
            #expect(try await l.myPledges(actor: resident).first { $0.id == third.pledgeID }?.status == "expired")
            let late = try await l.confirmPayment(ArrivedPayment(reference: third.reference!, amount: 2_000, provider: "bank", providerTransaction: "B009"), actor: staff)
            #expect(late.0 == .booked)
        }
    }
}

@Suite struct RegistryOracleTests {
    @Test(arguments: Backend.available)
    func anIDNumberCheckTellsNothingBeyondOnesOwnCommunity(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let ids = try await f.ids()
            let admin = try await f.actor("admin"), community = try await f.actor("community")
            let elsewhere = try await f.linli.registry.unmaskResident(ids.outsideResident, reason: "核对测试", actor: admin).idNumber
            let inside = try await f.linli.registry.unmaskResident(ids.insideResident, reason: "核对测试", actor: admin).idNumber
            // Someone registered in another street's community: registering them here is no error
            // (a person may be 户籍 in one community and 常住 in another), so nothing is revealed.
            let here = try await f.linli.registry.createResident(ResidentInput(householdID: ids.insideHousehold, name: "流动人口", idNumber: elsewhere,
                                                                                registration: "resident", relation: "tenant"), actor: community)
            #expect(here.householdID == ids.insideHousehold)
            // Within one's own community a person is registered once.
            do {
                _ = try await f.linli.registry.createResident(ResidentInput(householdID: ids.insideHousehold, name: "重复", idNumber: inside,
                                                                           registration: "registered", relation: "family"), actor: community)
                Issue.record("registered twice in one community")
            } catch let e as LinliError { #expect(e.code == "duplicate_id_number" && e.status == .conflict) }
            // Exact search by ID finds both registrations for the city, only one's own for the community.
            #expect(try await f.linli.registry.search(elsewhere, actor: admin).count == 2)
            #expect(try await f.linli.registry.search(elsewhere, actor: community).map(\.id) == [here.id])
        }
    }
}

@Suite struct BackupDrillTests {
    /// Back up while residents keep submitting, restore into an empty place: every write
    /// acknowledged before the backup began is there, the ledger balances, the audit chain holds.
    @Test(arguments: Backend.available)
    func backupUnderWriteLoadRestoresEveryAcknowledgedWrite(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-05T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let resident = try await f.actor("resident")
            let home = resident.grants.first { $0.role == .resident }!.householdID!
            let requests = f.linli.requests
            func submit(_ i: Int) async throws -> Int64 {
                var r = RequestInput()
                r.category = "noise"; r.description = "备份演练 \(i)"; r.householdID = home; r.idempotencyKey = "drill-\(i)"
                return try await requests.submit(r, photos: i % 10 == 0 ? [TestImages.png] : [], actor: resident).request.id
            }
            var before: [Int64] = []
            for i in 0..<40 { before.append(try await submit(i)) }
            clock.advance(hours: 1)  // on PostgreSQL only settled entries are sealed
            _ = try await f.linli.auditChain.sealPending()
            let dir = f.dataDir + "-backup"
            // Writers keep going during the backup.
            let load = Task { var n = 40; while !Task.isCancelled && n < 400 { _ = try? await submit(n); n += 1 } }
            let summary = try Backup.backup(f.config, to: dir)
            load.cancel()
            _ = await load.value
            #expect(summary.files >= 4)
            #expect(!FileManager.default.fileExists(atPath: dir + "/linli.key"), "the key is never in a backup")
            // Restore into a new, empty place with the same key.
            var target = f.config
            target.dataDirectory = f.dataDir + "-restored"
            var dropDB: String?
            if backend == .postgres, let url = f.config.migrateDatabaseURL {
                // Restored by the schema's owner into a database it makes (the server's role may
                // create neither); the restored copy is then opened as the owner too.
                let name = "r_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
                try await f.asOwner { owner in try await owner.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() } }
                target.databaseURL = url.replacingOccurrences(of: url.split(separator: "/").last.map(String.init) ?? "", with: String(name))
                target.migrateDatabaseURL = nil
                dropDB = String(name)
            }
            _ = try Backup.restore(target, from: dir)
            do { _ = try Backup.restore(target, from: dir); if backend == .sqlite { Issue.record("restored over existing data") } } catch {}
            let restored = try await Linli.open(target)
            let acknowledged = before
            let found = try await restored.store.read { db in
                try await db.raw("SELECT id FROM requests WHERE id IN (\(unsafeRaw: acknowledged.map(String.init).joined(separator: ",")))").all().count
            }
            #expect(found == before.count)
            // The photos the rows name came along.
            let photos = try await restored.store.read { db in
                try await db.raw("SELECT stored_name FROM request_photos").all().map { try $0.decode(column: "stored_name", as: String.self) }
            }
            for name in photos { #expect(FileManager.default.fileExists(atPath: target.dataDirectory + "/photos/" + name), "\(name)") }
            #expect(try await restored.linkage.checkLedger().ok)
            let chain = try await restored.auditChain.verify()
            #expect(chain.ok && chain.verified > 0)
            await restored.store.shutdown()
            if let dropDB, let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"] {
                let s = try PostgresStore(url: admin, logger: Logger(label: "test"))
                _ = try? await s.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: dropDB) WITH (FORCE)").run() }
                await s.shutdown()
            }
            for d in [dir, target.dataDirectory] { try? FileManager.default.removeItem(atPath: d) }
        }
    }
}

@Suite struct OpenAPITests {
    /// Every query parameter the document declares is on a GET route that exists (the list is
    /// written by hand beside the routes; a renamed route must take its parameters along).
    @Test func declaredQueryParametersBelongToRoutes() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let gets = Set(built.routes.filter { $0.method == .get }.map { OpenAPI.openAPIPath($0.path).0 })
            let stray = OpenAPI.queries.keys.filter { !gets.contains($0) }.sorted()
            #expect(stray == [], "declared for no route: \(stray)")
            #expect(OpenAPI.queries.count > 30)
        }
    }

    /// A body refused before the route runs (an unreadable multipart) still answers an Open311
    /// client in GeoReport's error list, in the format the path names, not as a console page.
    @Test func open311RefusalsBeforeTheRouteAreGeoReportErrors() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let token = try await f.token("community")
            try await built.app.test(.router) { client in
                let body = "--b--\r\n"
                for (ext, media) in [("json", "application/json"), ("xml", "text/xml")] {
                    let r = try await client.execute(uri: "/open311/v2/requests.\(ext)", method: .post,
                                                     headers: [.authorization: "Bearer \(token)", .contentType: "multipart/form-data"],
                                                     body: ByteBuffer(string: body))
                    #expect(r.status.code >= 400 && r.status.code < 500)
                    #expect(r.headers[.contentType]?.hasPrefix(media) == true, "\(ext): \(r.headers[.contentType] ?? "")")
                    #expect(r.body.text.contains(ext == "json" ? #""description""# : "<description>"), "\(r.body.text.prefix(200))")
                }
            }
        }
    }

    /// Each route that creates an object links to the routes of that object, for schemathesis's
    /// stateful phase; every body-less 204 and non-JSON answer is documented as such.
    @Test func creationsLinkToTheirObjectsAndAnswersNameTheirMediaType() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let doc = try JSONSerialization.jsonObject(with: Data(OpenAPI.bytes(built.routes, baseURL: "http://x"))) as! [String: Any]
            let paths = doc["paths"] as! [String: [String: Any]]
            let create = paths["/api/v1/matters"]?["post"] as? [String: Any]
            let ok = (create?["responses"] as? [String: Any])?["2XX"] as? [String: Any]
            let links = try #require(ok?["links"] as? [String: [String: Any]])
            #expect(links["get_api_v1_matters_id"]?["parameters"] as? [String: String] == ["path.id": "$response.body#/id"])
            let export = ((paths["/api/v1/communities/{id}/export"]?["post"] as? [String: Any])?["responses"] as? [String: Any])?["2XX"] as? [String: Any]
            #expect((export?["content"] as? [String: Any])?["text/csv"] != nil)
        }
    }

    @Test func theDocumentListsEveryAPIRouteWithItsMethod() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let routes = built.routes
            try await built.app.test(.router) { client in
                let r = try await client.execute(uri: "/api/v1/openapi.json", method: .get)
                #expect(r.status == .ok)
                let doc = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! [String: Any]
                #expect(doc["openapi"] as? String == "3.1.0")
                let paths = doc["paths"] as! [String: [String: Any]]
                let api = routes.filter { $0.path.hasPrefix("/api/") || $0.path.hasPrefix("/open311/") }
                #expect(api.count > 80)
                for route in api {
                    let (path, _) = OpenAPI.openAPIPath(route.path)
                    #expect(paths[path]?[route.method.rawValue.lowercased()] != nil, "\(route.method) \(route.path) missing from the document")
                    // Every body a route declares is described whole (no type refused the probe).
                    if let body = route.body { #expect(body.isComplete, "\(route.method) \(route.path): \(body)") }
                }
                let typed = api.filter { $0.body != nil || !$0.rawBody.isEmpty }
                #expect(typed.count > 90, "\(typed.count) routes declare their body")
                // The JSON routes that change something and take no body at all (approve, withdraw,
                // delete…) are the rest; none of them is documented as taking one.
                func body(_ method: String, _ path: String) -> [String: Any]? {
                    let op = paths[path]?[method] as? [String: Any]
                    let content = (op?["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                    return (content?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                }
                let org = try #require(body("post", "/api/v1/organisations"))
                let props = try #require(org["properties"] as? [String: [String: Any]])
                #expect(props["place_id"]?["type"] as? String == "integer" && props["name"]?["type"] as? String == "string")
                let submit = try #require(body("post", "/api/v1/requests")?["properties"] as? [String: Any])
                #expect(submit["photos_base64"] != nil && submit["category"] != nil)
                #expect(body("post", "/api/v1/requests/{id}/withdraw") != nil, "an optional body is still described")
                let imp = (paths["/api/v1/communities/{id}/import"]?["post"] as? [String: Any])?["requestBody"] as? [String: Any]
                #expect((imp?["content"] as? [String: Any])?["text/csv"] != nil)
            }
        }
    }
}

/// Worked examples of reading a body's shape from its Swift type.
@Suite struct BodySchemaTests {
    enum Colour: String, Decodable, CaseIterable { case red, green }
    struct Line: Decodable { var amount: String; var note: String? }
    struct Example: Decodable {
        var name: String
        var count: Int64?
        var share: Double?
        var urgent: Bool?
        var colour: Colour?
        var lines: [Line]?
        var tags: [String: String]?
    }

    @Test func aTypeGivesItsFieldsTheirJSONTypesAndRequiredOnesAreListed() {
        let s = BodySchema.of(Example.self)
        #expect(s.isComplete)
        let j = s.jsonSchema
        #expect(j["type"] as? String == "object")
        #expect(j["required"] as? [String] == ["name"])
        let p = j["properties"] as! [String: [String: Any]]
        #expect(p["name"]?["type"] as? String == "string")
        #expect(p["count"]?["type"] as? String == "integer")
        #expect(p["share"]?["type"] as? String == "number")
        #expect(p["urgent"]?["type"] as? String == "boolean")
        #expect(p["colour"]?["enum"] as? [String] == ["red", "green"])
        let items = p["lines"]?["items"] as? [String: Any]
        #expect(items?["required"] as? [String] == ["amount"])
        #expect((items?["properties"] as? [String: Any])?.keys.sorted() == ["amount", "note"])
        // A dictionary names no keys: any field, as the server takes it.
        #expect(p["tags"]?["type"] as? String == "object" && p["tags"]?["properties"] == nil)
    }

    @Test func aHandWrittenDecoderIsSeenThroughItsListedKeys() {
        let j = BodySchema.of(RequestSubmission.self).jsonSchema
        let p = j["properties"] as! [String: [String: Any]]
        #expect(p["description"]?["type"] as? String == "string")
        #expect(p["place_id"]?["type"] as? String == "integer")
        #expect((p["photos_base64"]?["items"] as? [String: Any])?["type"] as? String == "string")
    }

    struct Stubborn: Decodable {
        var id: Int64
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: K.self)
            id = try c.decode(Int64.self, forKey: .id)
            guard id > 0 else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "positive")) }
        }
        enum K: String, CodingKey { case id }
    }

    @Test func aTypeThatRefusesTheProbeIsReportedIncomplete() {
        let s = BodySchema.of(Stubborn.self)
        #expect(!s.isComplete)
        #expect((s.jsonSchema["properties"] as? [String: Any])?["id"] != nil, "what was seen is still described")
    }
}

@Suite struct JSONTwinTests {
    /// The console's remaining actions each have a JSON route calling the same use case.
    @Test func everyConsoleActionHasItsJSONTwin() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            let (project, pool) = try await LinkageStoreTests().rampProject(f, staff: staff, street: street)
            var n = LinkageService.NeedInput()
            n.kind = "proposal"; n.domain = "children"; n.title = "放学后托管"
            let need = try await f.linli.linkage.postNeed(n, actor: resident)
            var v = LinkageService.VolunteerInput()
            v.name = "志愿者"; v.skills = []; v.availability = ["1am"]
            _ = try await f.linli.linkage.registerVolunteer(v, actor: try await f.actor("volunteer"))
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                func call(_ uri: String, _ method: HTTPRequest.Method = .post, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [.authorization: "Bearer \(t[who]!)"]
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                var r = try await call("/api/v1/teams", .post, "community", #"{"community_id":\#(community),"name":"红色星期天","kind":"community"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                r = try await call("/api/v1/teams", .post, "community", #"{"community_id":\#(community),"name":""}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"name""#))
                r = try await call("/api/v1/rewards", .post, "community", #"{"community_id":\#(community),"name":"理发券","points":50,"stock":10}"#)
                #expect(r.status == .created)
                let reward = String(r.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                r = try await call("/api/v1/rewards/\(reward)/redeem", .post, "volunteer")
                // A new volunteer has no points yet: refused for that reason, not for want of a route.
                #expect(r.status == .conflict && r.body.text.contains("not_enough_points"), "\(r.status) \(r.body.text)")
                r = try await call("/api/v1/needs/\(need)/support", .post, "volunteer")
                #expect(r.status == .ok && r.body.text.contains(#""supporters":2"#))
                r = try await call("/api/v1/projects/\(project)/advance", .post, "community", #"{"note":"走访 20 户，方案已定"}"#)
                #expect(r.status == .ok && r.body.text.contains("stage"), "\(r.body.text)")
                r = try await call("/api/v1/pools?community=\(community)", .get, "community")
                #expect(r.status == .ok && r.body.text.contains("\"id\":\(pool)"))
                r = try await call("/api/v1/pools/\(pool)/top-up", .post, "street", #"{"amount":"100"}"#)
                #expect(r.status == .noContent)
                r = try await call("/api/v1/pools/\(pool)/top-up", .post, "community", #"{"amount":"100"}"#)
                #expect(r.status == .forbidden)
                r = try await call("/api/v1/projects/\(project)/campaign/close", .post, "community")
                #expect(r.status == .noContent)
                r = try await call("/api/v1/projects/\(project)/campaign", .post, "community", #"{"goal":"20000","seed":"1000","pool_id":\#(pool)}"#)
                #expect(r.status == .noContent)
                r = try await call("/api/v1/volunteer/certificate", .get, "volunteer")
                #expect(r.status == .ok && r.body.text.contains("志愿者"), "\(r.status) \(r.body.text)")
            }
        }
    }
}

@Suite struct GroupCommitTests {
    /// A 1×1 PNG of the given colour (a stored deflate block, so any colour is a valid picture).
    static func png(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> [UInt8] {
        let raw: [UInt8] = [0, r, g, b]
        var a: UInt32 = 1, s: UInt32 = 0
        for x in raw { a = (a + UInt32(x)) % 65521; s = (s + a) % 65521 }
        return TestImages.png(width: 1, height: 1, idat: [0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF] + raw + TestImages.bigEndian((s << 16) | a))
    }

    /// Concurrent submissions with photos, some racing on one idempotency key so that a job fails
    /// inside a group-commit batch and the others are run again: every acknowledged submission is
    /// stored once, and no photo file is written twice or left without its row.
    @Test(arguments: Backend.available)
    func aFailingJobInABatchLeavesNoDuplicateSideEffects(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let resident = try await f.actor("resident")
            let home = resident.grants.first { $0.role == .resident }!.householdID!
            let requests = f.linli.requests
            for round in 0..<4 {
                let ids = try await withThrowingTaskGroup(of: Int64?.self) { group in
                    for i in 0..<12 {
                        group.addTask {
                            var r = RequestInput()
                            r.category = "noise"; r.description = "并发 \(round)-\(i)"; r.householdID = home
                            if i % 4 == 0 { r.idempotencyKey = "race-\(round)"; r.description = "并发 \(round)" }  // three race on one key
                            // Racers send the same photo (a retry would); everyone else their own.
                            let photo = i % 4 == 0 ? Self.png(UInt8(round * 40), 0, 200) : Self.png(UInt8(round * 40), UInt8(i * 20), 7)
                            return try? await requests.submit(r, photos: [photo], actor: resident).request.id
                        }
                    }
                    var out: [Int64] = []
                    for try await id in group { if let id { out.append(id) } }
                    return out
                }
                // The three racers got one request between them; the other nine their own.
                #expect(Set(ids).count == 10, "round \(round): \(ids)")
            }
            let named = Set(try await f.linli.store.read { db in
                try await db.raw("SELECT stored_name FROM request_photos").all().map { try $0.decode(column: "stored_name", as: String.self) }
            })
            let files = Set((try? FileManager.default.contentsOfDirectory(atPath: f.dataDir + "/photos")) ?? []).filter { $0.hasSuffix(".jpg") }
            // Every request has its one photo; no row lacks its file; the only files without a row
            // are those of racers that lost (at most two a round): jobs run again wrote nothing twice.
            let perRequest = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM request_photos GROUP BY request_id HAVING COUNT(*) <> 1").all().count
            }
            #expect(perRequest == 0 && named.count == 40)
            #expect(named.subtracting(files).isEmpty)
            #expect(files.subtracting(named).count <= 2 * 4, "orphans: \(files.subtracting(named).count)")
        }
    }
}

@Suite struct RequestPhotosAPITests {
    @Test func theJSONAPITakesPhotosAsBase64() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let token = try await f.token("resident")
            let compound = try await f.residentCompound
            try await built.app.test(.router) { client in
                let h: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
                let photo = Data(TestImages.png).base64EncodedString()
                var r = try await client.execute(uri: "/api/v1/requests", method: .post, headers: h, body: ByteBuffer(string:
                    #"{"category":"sanitation","description":"垃圾满了","place_id":\#(compound),"photos_base64":["\#(photo)","\#(photo)"]}"#))
                #expect(r.status == .created, "\(r.body.text)")
                let id = String(r.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                let detail = try await client.execute(uri: "/api/v1/requests/\(id)", method: .get, headers: h)
                #expect(detail.body.text.firstMatch(of: /"photos":\[\d+,\d+\]/) != nil, "\(detail.body.text.prefix(300))")
                r = try await client.execute(uri: "/api/v1/requests", method: .post, headers: h, body: ByteBuffer(string:
                    #"{"category":"sanitation","description":"垃圾满了","place_id":\#(compound),"photos_base64":["<html>"]}"#))
                #expect(r.status == .unprocessableContent && r.body.text.contains("photos"))
            }
        }
    }
}

extension TestImages {
    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// An RGB PNG with the given header size and compressed pixel data (chunks with their CRCs).
    static func png(width: UInt32, height: UInt32, idat: [UInt8]) -> [UInt8] {
        func crc(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for x in bytes { c ^= UInt32(x); for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let td = Array(type.utf8) + data
            return bigEndian(UInt32(data.count)) + td + bigEndian(crc(td))
        }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", idat) + chunk("IEND", [])
    }
}
