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

/// How far back a retention rule reaches, by worked examples.
@Suite struct RetentionRulesTests {
    static func day(_ s: String) -> Int64 { Input.day(s)! }

    @Test func theFirstKeptDayIsTheSameDaySoManyMonthsBack() {
        #expect(RetentionRules.firstKeptDay(today: Self.day("2026-12-06"), months: 36) == Self.day("2023-12-06"))
        #expect(RetentionRules.firstKeptDay(today: Self.day("2026-12-06"), months: 12) == Self.day("2025-12-06"))
        // Across the turn of a year, and into a shorter month: its last day.
        #expect(RetentionRules.firstKeptDay(today: Self.day("2026-03-06"), months: 6) == Self.day("2025-09-06"))
        #expect(RetentionRules.firstKeptDay(today: Self.day("2026-08-31"), months: 6) == Self.day("2026-02-28"))
        #expect(RetentionRules.firstKeptDay(today: Self.day("2028-08-31"), months: 6) == Self.day("2028-02-29"))
        #expect(RetentionRules.firstKeptDay(today: Self.day("2026-01-31"), months: 60) == Self.day("2021-01-31"))
    }
}

/// A patrol's track, by worked examples.
@Suite struct PatrolTrackRulesTests {
    @Test func aTrackIsMeasuredAlongTheGroundAndCheckedPointByPoint() {
        // A thousandth of a degree of latitude is about 111 m; of longitude at 30° north, about 96 m.
        #expect(PatrolRules.trackMetres([[30.0, 120.0], [30.001, 120.0]]) == 111)
        #expect(PatrolRules.trackMetres([[30.0, 120.0], [30.0, 120.001]]) == 96)
        #expect(PatrolRules.trackMetres([[30.0, 120.0], [30.001, 120.0], [30.0, 120.0]]) == 222)
        #expect(PatrolRules.trackMetres([[30.0, 120.0]]) == 0)
        var v = Validator()
        #expect(PatrolRules.checkTrack([[30.1234567, 120.7654321, 1_796_000_000]], &v) == [[30.123457, 120.765432]] && v.errors.isEmpty)
        _ = PatrolRules.checkTrack([[30.0, 120.0], [95.0, 120.0]], &v)
        #expect(v.errors.map(\.field) == ["track"] && v.errors[0].message.contains("第 2 个"))
    }
}

/// Photos on visits and patrol findings, a task's problem filed as a request in the same step,
/// and the community's retention rule erasing old notes and photos.
@Suite struct GridWorkRecordsTests {
    // The patrol tests' JSON sender and counter (a bearer token, a JSON body; a COUNT(*) AS n).
    static func send(_ client: some TestClientProtocol, _ path: String, _ token: String, _ body: String, method: HTTPRequest.Method = .post) async throws -> TestResponse {
        try await PatrolTests.send(client, path, token, body, method: method)
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int { try await PatrolTests.count(f, sql) }

    static let png64 = Data(TestImages.png).base64EncodedString()

    @Test(arguments: Backend.available)
    func aVisitsPhotosAreSealedAndSeenOnlyByTheGridAndTheCommunity(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let household = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: f.demo.firstGridID) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            try await built.app.test(.router) { client in
                let grid = try await f.token("grid"), staff = try await f.token("community"), otherStaff = try await f.token("community2")
                // Refused, naming the field, with nothing written: not a picture, four pictures.
                var res = try await Self.send(client, "/api/v1/visits", grid,
                    #"{"household_id":\#(household),"outcome":"well","photos_base64":["\#(Data("not a picture".utf8).base64EncodedString())"]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("photos") && res.body.text.contains("not_an_image"))
                let four = Array(repeating: "\"\(Self.png64)\"", count: 4).joined(separator: ",")
                res = try await Self.send(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"well","photos_base64":[\#(four)]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("too_many"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visits") == 0)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM gridwork_photos") == 0)

                // Needs help, with a photo of the broken stair light, filed as a request in one step.
                let body = #"{"household_id":\#(household),"outcome":"needs_help","note":"楼道灯坏了，老人夜里看不见","file_request":true,"request_category":"public_facility","client_key":"ph-1","photos_base64":["\#(Self.png64)"]}"#
                res = try await Self.send(client, "/api/v1/visits", grid, body)
                #expect(res.status == .created, "\(res.body.text)")
                let visit = try JSONDecoder().decode(VisitView.self, from: Data(buffer: res.body))
                #expect(visit.photos.count == 1 && visit.requestID != nil && !visit.erased)
                // Sent again: one visit, one photo.
                res = try await Self.send(client, "/api/v1/visits", grid, body)
                #expect(res.status == .ok)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM gridwork_photos") == 1)
                // Sealed at rest: the file is not a JPEG anyone can open.
                let name = try await f.linli.store.read { db in
                    try await db.raw("SELECT stored_name FROM gridwork_photos").first()!.decode(column: "stored_name", as: String.self)
                }
                let onDisk = try #require(FileManager.default.contents(atPath: f.dataDir + "/gridwork-photos/" + name))
                #expect(!onDisk.starts(with: [0xFF, 0xD8, 0xFF]))
                // The grid worker and the community see it; another street's community and a resident do not.
                let photo = visit.photos[0]
                for token in [grid, staff] {
                    res = try await client.execute(uri: "/gridwork-photos/\(photo)", method: .get, headers: [.authorization: "Bearer \(token)"])
                    #expect(res.status == .ok && Array(res.body.readableBytesView.prefix(3)) == [0xFF, 0xD8, 0xFF])
                }
                res = try await client.execute(uri: "/gridwork-photos/\(photo)", method: .get, headers: [.authorization: "Bearer \(otherStaff)"])
                #expect(res.status == .notFound)
                res = try await client.execute(uri: "/gridwork-photos/\(photo)", method: .get, headers: [.authorization: "Bearer \(try await f.token("resident"))"])
                #expect(res.status == .forbidden)
                // The household's record lists it; the request it filed does not carry it (taken
                // inside a home, it is not for the company or office the request goes to).
                res = try await client.execute(uri: "/api/v1/households/\(household)/visits", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(try JSONDecoder().decode([VisitView].self, from: Data(buffer: res.body)).first?.photos == [photo])
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM request_photos WHERE request_id = \(visit.requestID!)") == 0)
            }
        }
    }

    @Test(arguments: Backend.available)
    func aPatrolFindingKeepsItsPhotosAndItsRequestCarriesThem(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            try await built.app.test(.router) { client in
                let worker = try await f.token("grid")
                var res = try await Self.send(client, "/api/v1/patrol-routes", worker,
                    #"{"grid_id":\#(f.demo.firstGridID),"name":"消防通道","period":"week","points":[{"label":"东门"},{"label":"车库"}]}"#)
                let route = try JSONDecoder().decode(PatrolRouteView.self, from: Data(buffer: res.body))
                // A position no route has (the smallest integer) is refused, never a crash; nothing written.
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"checks":[{"position":-9223372036854775808,"result":"finding","photos_base64":["\#(Self.png64)"]},{"position":2,"result":"ok"}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("checks"))
                // Another grid's worker finds no such route before any picture is looked at.
                res = try await Self.send(client, "/api/v1/patrols", try await f.token("community2"),
                    #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"finding","photos_base64":["bm90IGEgcGljdHVyZQ=="]}]}"#)
                #expect(res.status == .notFound)
                // A photo on a point found fine is not kept; one too many on a finding names its point.
                let four = Array(repeating: "\"\(Self.png64)\"", count: 4).joined(separator: ",")
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"ok"},{"position":2,"result":"finding","finding":"hazard","note":"电线裸露","photos_base64":[\#(four)]}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("checks[1].photos"))
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"checks":[{"position":1,"result":"ok","photos_base64":["\#(Self.png64)"]},{"position":2,"result":"finding","finding":"hazard","note":"车库电线裸露","photos_base64":["\#(Self.png64)","\#(Self.png64)"]}]}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let patrol = try JSONDecoder().decode(PatrolView.self, from: Data(buffer: res.body))
                #expect(patrol.checks[0].photos.isEmpty && patrol.checks[1].photos.count == 2)
                let request = try #require(patrol.checks[1].requestID)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM request_photos WHERE request_id = \(request)") == 2)
                res = try await client.execute(uri: "/gridwork-photos/\(patrol.checks[1].photos[0])", method: .get, headers: [.authorization: "Bearer \(try await f.token("community"))"])
                #expect(res.status == .ok)

                // The track walked, when recorded: sealed at rest, on the patrol's own view, its length on the route's list.
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"client_key":"t-1","track":[[30.27,120.15,1796000000],[30.271,120.15,1796000060],[30.271,120.151,1796000120]],"checks":[{"position":1,"result":"ok"},{"position":2,"result":"skipped"}]}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let walked = try JSONDecoder().decode(PatrolView.self, from: Data(buffer: res.body))
                #expect(walked.track == [[30.27, 120.15], [30.271, 120.15], [30.271, 120.151]] && walked.trackMetres == 207)
                let sealed = try await f.linli.store.read { db in
                    try await db.raw("SELECT points_cipher FROM patrol_tracks WHERE patrol_id = \(bind: walked.id)").first()!.decode(column: "points_cipher", as: String.self)
                }
                #expect(!sealed.contains("30.27"))
                res = try await client.execute(uri: "/api/v1/patrol-routes/\(route.id)", method: .get, headers: [.authorization: "Bearer \(worker)"])
                #expect(res.body.text.contains("\"track_metres\":207") && !res.body.text.contains("\"track\":"))
                res = try await client.execute(uri: "/patrols/\(walked.id)", method: .get, headers: [.authorization: "Bearer \(worker)"])
                #expect(res.body.text.contains("id=\"track-map\"") && res.body.text.contains("0.2"))
                // A point off the globe is refused, naming the track; nothing written.
                res = try await Self.send(client, "/api/v1/patrols", worker,
                    #"{"route_id":\#(route.id),"track":[[300,120.15]],"checks":[{"position":1,"result":"ok"},{"position":2,"result":"ok"}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("track"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func aTasksProblemIsFiledAsARequestOnceInTheSameStep(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let household = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: f.demo.firstGridID) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), worker = try await f.token("grid")
                var res = try await Self.send(client, "/api/v1/grid-tasks", staff,
                    #"{"community_id":\#(f.demo.firstCommunityID),"title":"燃气安全告知","deadline":"2026-12-10","audience_kind":"community"}"#)
                let task = try JSONDecoder().decode(GridTaskView.self, from: Data(buffer: res.body))
                let path = "/api/v1/grid-tasks/\(task.id)/households/\(household)"
                // Only a problem is filed; an unknown category is named; nothing is written.
                res = try await Self.send(client, path, worker, #"{"outcome":"done","file_request":true}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("file_request"))
                res = try await Self.send(client, path, worker, #"{"outcome":"problem","feedback":"软管老化","file_request":true,"request_category":"nosuch"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("request_category"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM grid_task_households WHERE outcome IS NOT NULL") == 0)
                let body = #"{"outcome":"problem","feedback":"燃气软管老化开裂，需更换","file_request":true,"request_category":"public_facility"}"#
                res = try await Self.send(client, path, worker, body)
                #expect(res.status == .ok, "\(res.body.text)")
                let marked = try JSONDecoder().decode(GridTaskHousehold.self, from: Data(buffer: res.body))
                let request = try #require(marked.requestID)
                // Tapped twice: the same request.
                res = try await Self.send(client, path, worker, body)
                #expect(try JSONDecoder().decode(GridTaskHousehold.self, from: Data(buffer: res.body)).requestID == request)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE id = \(request) AND category = 'public_facility' AND household_id = \(household)") == 1)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE channel = 'visit'") == 1)
                // A filing that died after claiming a door (request_id 0) does not block it for good:
                // a minute on, the next tap files it.
                let other = try await f.linli.store.read { db in
                    try await db.raw("SELECT household_id FROM grid_task_households WHERE task_id = \(bind: task.id) AND household_id <> \(bind: household) ORDER BY household_id")
                        .first()!.decode(column: "household_id", as: Int64.self)
                }
                try await f.linli.store.transaction { db in
                    try await db.raw("UPDATE grid_task_households SET request_id = 0, request_claimed_at = \(bind: Int64(1_796_000_000)) WHERE task_id = \(bind: task.id) AND household_id = \(bind: other)").run()
                }
                res = try await Self.send(client, "/api/v1/grid-tasks/\(task.id)/households/\(other)", worker, #"{"outcome":"problem","feedback":"灶台旁堆放杂物","file_request":true}"#)
                #expect(try JSONDecoder().decode(GridTaskHousehold.self, from: Data(buffer: res.body)).requestID != nil)
                // The community's page of the task links it.
                res = try await client.execute(uri: "/grid-tasks/\(task.id)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(res.body.text.contains("/requests/\(request)"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func oldNotesAndPhotosGoUnderTheCommunitysRuleAndWhatHappenedStays(_ backend: Backend) async throws {
        let clock = TestClock("2026-01-10T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID
            let household = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: f.demo.firstGridID) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            let otherStreet = f.demo.byStreet[1]
            _ = try await f.linli.createDemoAccounts(otherStreet, password: Fixture.password, suffix: "2")
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), worker = try await f.token("grid")
                // Only the lengths offered; a grid worker sets none.
                var res = try await Self.send(client, "/api/v1/communities/\(community)/gridwork-retention", staff, #"{"months":7}"#, method: .put)
                #expect(res.status == .unprocessableContent && res.body.text.contains("months"))
                res = try await Self.send(client, "/api/v1/communities/\(community)/gridwork-retention", worker, #"{"months":6}"#, method: .put)
                #expect(res.status == .forbidden)
                res = try await client.execute(uri: "/api/v1/communities/\(community)/gridwork-retention", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(try JSONDecoder().decode(RetentionView.self, from: Data(buffer: res.body)) ==
                        RetentionView(communityID: community, months: 36, isDefault: true, keptFrom: "2023-01-10"))
                res = try await Self.send(client, "/api/v1/communities/\(community)/gridwork-retention", staff, #"{"months":6}"#, method: .put)
                #expect(res.status == .ok && res.body.text.contains("2025-07-10"))

                res = try await Self.send(client, "/api/v1/visits", worker,
                    #"{"household_id":\#(household),"outcome":"well","note":"老人身体好","photos_base64":["\#(Self.png64)"]}"#)
                let visit = try JSONDecoder().decode(VisitView.self, from: Data(buffer: res.body))
                let name = try await f.linli.store.read { db in
                    try await db.raw("SELECT stored_name FROM gridwork_photos").first()!.decode(column: "stored_name", as: String.self)
                }
                // Another street's visit, under the default three years.
                let elsewhere = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM households WHERE community_id = \(bind: otherStreet.firstCommunityID) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                var other = VisitInput()
                other.householdID = elsewhere; other.outcome = "well"; other.note = "一切正常"
                _ = try await f.linli.gridWork.logVisit(other, actor: try await f.actor("community2"))

                // Five months on: nothing goes.
                clock.advance(hours: 24 * 150)
                #expect(try await f.linli.gridWork.applyRetention() == 0)
                // Seven months on: the six-month community's note and photo go, what happened stays.
                clock.advance(hours: 24 * 60)
                #expect(try await f.linli.gridWork.applyRetention() == 1)
                #expect(try await f.linli.gridWork.applyRetention() == 0)
                // (A token from seven months ago has long expired.)
                let later = try await f.token("community")
                res = try await client.execute(uri: "/api/v1/households/\(household)/visits", method: .get, headers: [.authorization: "Bearer \(later)"])
                let kept = try #require(try JSONDecoder().decode([VisitView].self, from: Data(buffer: res.body)).first { $0.id == visit.id })
                #expect(kept.erased && kept.note.isEmpty && kept.photos.isEmpty && kept.outcome == "well")
                #expect(!FileManager.default.fileExists(atPath: f.dataDir + "/gridwork-photos/" + name))
                res = try await client.execute(uri: "/gridwork-photos/\(visit.photos[0])", method: .get, headers: [.authorization: "Bearer \(later)"])
                #expect(res.status == .notFound)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visits WHERE erased_at IS NULL AND note_cipher IS NOT NULL") == 1)
                // The console says so.
                res = try await client.execute(uri: "/households/\(household)/visits", method: .get, headers: [.authorization: "Bearer \(later)"])
                #expect(res.body.text.contains("保留期限"))
            }
        }
    }
}
