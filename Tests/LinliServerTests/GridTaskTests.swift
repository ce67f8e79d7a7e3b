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

/// The rules of a community's tasks to grid workers, by worked examples (today 2026-12-06).
@Suite struct GridTaskRulesTests {
    let today = Input.day("2026-12-06")!

    @Test func aTaskIsOpenUntilEveryHouseholdIsHandledAndOverdueAfterItsDay() {
        let due = Input.day("2026-12-10")!
        // 40 households, 25 done or with a problem, four days left: open.
        #expect(GridTaskRules.state(households: 40, settled: 25, deadline: due, today: today, closed: false) == .open)
        // The deadline day itself still counts as in time; the day after, overdue.
        #expect(GridTaskRules.state(households: 40, settled: 25, deadline: due, today: due, closed: false) == .open)
        #expect(GridTaskRules.state(households: 40, settled: 25, deadline: due, today: due + 1, closed: false) == .overdue)
        // Every household handled: complete, late or not.
        #expect(GridTaskRules.state(households: 40, settled: 40, deadline: due, today: due + 9, closed: false) == .complete)
        // Ended by the community: closed whatever is left.
        #expect(GridTaskRules.state(households: 40, settled: 3, deadline: due, today: due + 9, closed: true) == .closed)
    }

    @Test func anOutcomeMovesTheCountsOnceAndAChangeMovesBoth() {
        #expect(GridTaskRules.delta(from: nil, to: .done) == (1, 0))
        #expect(GridTaskRules.delta(from: nil, to: .absent) == (0, 0))
        #expect(GridTaskRules.delta(from: .absent, to: .problem) == (0, 1))
        // A second "done" (a double tap) adds nothing; done turned into a problem moves one across.
        #expect(GridTaskRules.delta(from: .done, to: .done) == (0, 0))
        #expect(GridTaskRules.delta(from: .done, to: .problem) == (-1, 1))
        #expect(GridTaskRules.delta(from: .problem, to: .done) == (1, -1))
    }

    @Test func aProblemSaysWhatItIsAndADeadlineIsThisYearsWork() {
        var v = Validator()
        #expect(GridTaskRules.check(outcome: "problem", feedback: "", &v) == .problem)
        #expect(v.errors.map(\.field) == ["feedback"])
        v = Validator()
        #expect(GridTaskRules.check(outcome: "gone", feedback: "", &v) == nil)
        #expect(v.errors.map(\.field) == ["outcome"])
        v = Validator()
        #expect(GridTaskRules.check(outcome: "done", feedback: "", &v) == .done && v.errors.isEmpty)
        v = Validator()
        _ = GridTaskRules.check(outcome: "done", feedback: String(repeating: "字", count: 501), &v)
        #expect(v.errors.map(\.code) == ["too_long"])
        v = Validator()
        GridTaskRules.checkDeadline(today, today: today, &v)
        GridTaskRules.checkDeadline(today + 366, today: today, &v)
        #expect(v.errors.isEmpty)
        GridTaskRules.checkDeadline(today - 1, today: today, &v)
        GridTaskRules.checkDeadline(today + 367, today: today, &v)
        GridTaskRules.checkDeadline(nil, today: today, &v)
        #expect(v.errors.map(\.code) == ["in_past", "too_far", "required"])
    }
}

/// Tasks end to end: the community gives one, the grid worker records household by household
/// (once, whatever the retries), the community follows each grid and the problems found.
@Suite struct GridTaskTests {
    static func post(_ client: some TestClientProtocol, _ path: String, _ token: String, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: ByteBuffer(string: body))
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func theCommunityGivesATaskAndEachGridRecordsItsHouseholdsOnce(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID, grid = f.demo.firstGridID
            let staffActor = try await f.actor("community")
            let emptyBuilding = try await f.linli.registry.createPlace(parentID: f.residentCompound, kind: "building", name: "空楼", communityType: nil, actor: staffActor)
            let (inGrid, elsewhere, otherGrid) = try await f.linli.store.read { db in
                (try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: grid) ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) },
                 try await db.raw("SELECT id FROM households WHERE community_id = \(bind: community) AND grid_id <> \(bind: grid) ORDER BY id").first()!.decode(column: "id", as: Int64.self),
                 try await db.raw("SELECT grid_id FROM households WHERE community_id = \(bind: community) AND grid_id <> \(bind: grid) ORDER BY id").first()!.decode(column: "grid_id", as: Int64.self))
            }
            let inCommunity = try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE community_id = \(community)")
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), worker = try await f.token("grid"), resident = try await f.token("resident")
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                // Refused, naming why, with nothing written: nobody in the building, a day gone by, no title.
                var res = try await Self.post(client, "/api/v1/grid-tasks", staff,
                    #"{"community_id":\#(community),"title":"空楼检查","deadline":"2026-12-20","audience_kind":"places","place_ids":[\#(emptyBuilding.id)]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("no_households"))
                res = try await Self.post(client, "/api/v1/grid-tasks", staff,
                    #"{"community_id":\#(community),"title":"","deadline":"2026-12-01","audience_kind":"community"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("in_past") && res.body.text.contains("title"))
                res = try await Self.post(client, "/api/v1/grid-tasks", staff,
                    #"{"community_id":\#(community),"title":"燃气","deadline":"2026-2-3","audience_kind":"community"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("deadline"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM grid_tasks") == 0)
                // A grid worker gives no tasks; a resident sees none.
                res = try await Self.post(client, "/api/v1/grid-tasks", worker,
                    #"{"community_id":\#(community),"title":"燃气","deadline":"2026-12-20","audience_kind":"community"}"#)
                #expect(res.status == .forbidden)
                #expect(try await get("/api/v1/grid-tasks", resident).status == .forbidden)

                res = try await Self.post(client, "/api/v1/grid-tasks", staff,
                    #"{"community_id":\#(community),"title":"燃气安全告知","body":"逐户告知燃气安全须知，查看软管是否老化。","deadline":"2026-12-10","audience_kind":"community"}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let task = try JSONDecoder().decode(GridTaskView.self, from: Data(buffer: res.body))
                #expect(task.counts == GridTaskCounts(households: inCommunity, done: 0, problems: 0) && task.state == .open && task.deadline == "2026-12-10")
                // The grid worker is told, and sees their grid's share only.
                #expect(try await get("/api/v1/inbox", worker).body.text.contains("/grid-tasks/\(task.id)"))
                res = try await get("/api/v1/grid-tasks", worker)
                let mine = try JSONDecoder().decode([GridTaskView].self, from: Data(buffer: res.body))
                #expect(mine.map(\.id) == [task.id] && mine[0].mine?.households == inGrid.count && mine[0].counts == nil)
                res = try await get("/api/v1/grid-tasks/\(task.id)", worker)
                var detail = try JSONDecoder().decode(GridTaskDetail.self, from: Data(buffer: res.body))
                #expect(Set(detail.households.map(\.householdID)) == Set(inGrid) && detail.grids.map(\.gridID) == [grid] && detail.problems.isEmpty)

                let first = inGrid[0], second = inGrid[1], third = inGrid[2]
                let path = "/api/v1/grid-tasks/\(task.id)/households/"
                // Done, and the retry of it: counted once.
                res = try await Self.post(client, path + "\(first)", worker, #"{"outcome":"done"}"#)
                #expect(res.status == .ok)
                res = try await Self.post(client, path + "\(first)", worker, #"{"outcome":"done"}"#)
                #expect(res.status == .ok)
                // A problem must say what it is; then it is kept, sealed at rest.
                res = try await Self.post(client, path + "\(second)", worker, #"{"outcome":"problem"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("feedback"))
                res = try await Self.post(client, path + "\(second)", worker, #"{"outcome":"problem","feedback":"软管老化开裂，已告知更换"}"#)
                #expect(res.status == .ok)
                let sealed = try await f.linli.store.read { db in
                    try await db.raw("SELECT feedback_cipher FROM grid_task_households WHERE household_id = \(bind: second)").first()!.decode(column: "feedback_cipher", as: String.self)
                }
                #expect(!sealed.contains("软管"))
                // Nobody home is an attempt: the household stays open; once reached, no longer "nobody home".
                res = try await Self.post(client, path + "\(third)", worker, #"{"outcome":"absent","feedback":"敲门无人应答"}"#)
                #expect(try JSONDecoder().decode(GridTaskHousehold.self, from: Data(buffer: res.body)).attempts == 1)
                // Tapped twice at the same door: one attempt, and the words stay.
                res = try await Self.post(client, path + "\(third)", worker, #"{"outcome":"absent"}"#)
                let again = try JSONDecoder().decode(GridTaskHousehold.self, from: Data(buffer: res.body))
                #expect(again.attempts == 1 && again.feedback == "敲门无人应答")
                res = try await Self.post(client, path + "\(first)", worker, #"{"outcome":"absent"}"#)
                #expect(res.status == .conflict)
                // Outside the worker's grid (in the task, or not even in the community): 404, nothing written.
                #expect(try await Self.post(client, path + "\(elsewhere)", worker, #"{"outcome":"done"}"#).status == .notFound)
                #expect(try await Self.post(client, path + "\(try await f.ids().outsideHousehold)", worker, #"{"outcome":"done"}"#).status == .notFound)
                #expect(try await get("/api/v1/grid-tasks/\(task.id)?grid=\(otherGrid)", worker).status == .notFound)

                // The community sees each grid and the problem found.
                res = try await get("/api/v1/grid-tasks/\(task.id)", staff)
                detail = try JSONDecoder().decode(GridTaskDetail.self, from: Data(buffer: res.body))
                #expect(detail.task.counts == GridTaskCounts(households: inCommunity, done: 1, problems: 1))
                #expect(detail.grids.first { $0.gridID == grid }?.counts == GridTaskCounts(households: inGrid.count, done: 1, problems: 1))
                #expect(detail.grids.first { $0.gridID == otherGrid }?.counts.done == 0)
                #expect(detail.problems.map(\.householdID) == [second] && detail.problems[0].feedback == "软管老化开裂，已告知更换")
                res = try await get("/api/v1/grid-tasks/\(task.id)?grid=\(otherGrid)", staff)
                #expect(try JSONDecoder().decode(GridTaskDetail.self, from: Data(buffer: res.body)).households.contains { $0.householdID == elsewhere })
                // A problem turned done moves both counts.
                res = try await Self.post(client, path + "\(second)", worker, #"{"outcome":"done","feedback":"已更换软管"}"#)
                res = try await get("/api/v1/grid-tasks?community=\(community)", staff)
                let listed = try JSONDecoder().decode([GridTaskView].self, from: Data(buffer: res.body))
                #expect(listed.first?.counts == GridTaskCounts(households: inCommunity, done: 2, problems: 0))
                // Another community's staff, and a resident, do not see it.
                #expect(try await get("/api/v1/grid-tasks/\(task.id)", try await f.token("resident")).status == .forbidden)
                #expect(try await get("/api/v1/grid-tasks/\(task.id)", try await f.token("community2")).status == .notFound)
                #expect(try await Self.post(client, path + "\(first)", try await f.token("grid2"), #"{"outcome":"done"}"#).status == .notFound)

                // Ended: nothing more is recorded; the worker still sees it on their list, ended.
                res = try await Self.post(client, "/api/v1/grid-tasks/\(task.id)/close", staff, "")
                let closed = try JSONDecoder().decode(GridTaskView.self, from: Data(buffer: res.body))
                #expect(res.status == .ok && closed.state == .closed)
                #expect(try await Self.post(client, "/api/v1/grid-tasks/\(task.id)/close", staff, "").status == .conflict)
                #expect(try await Self.post(client, path + "\(third)", worker, #"{"outcome":"done"}"#).status == .conflict)
                res = try await get("/api/v1/grid-tasks", worker)
                #expect(try JSONDecoder().decode([GridTaskView].self, from: Data(buffer: res.body)).first?.state == .closed)
                #expect(try await f.linli.gridWork.openTasks(actor: try await f.actor("grid")).isEmpty)
                // Each step left its audit row.
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'grid_task.%'") == 6)
            }
        }
    }

    @Test(arguments: Backend.available)
    func theConsoleGivesATaskAndTheGridWorkerTapsEachDoor(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let grid = f.demo.firstGridID, community = f.demo.firstCommunityID
            let household = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: grid) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                let staff = try await webLogin(client, "community")
                var res = try await client.execute(uri: "/grid-tasks", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok && res.body.text.contains("grid-task-form"))
                let csrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: staff, .contentType: "application/x-www-form-urlencoded"]
                // No deadline: the form comes back with the message beside the field, what was typed kept.
                res = try await client.execute(uri: "/grid-tasks", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&community_id=\(community)&title=%E7%83%9F%E6%84%9F&audience_kind=grids&grid_ids=\(grid)"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("deadline-error") && res.body.text.contains("value=\"烟感\""))
                res = try await client.execute(uri: "/grid-tasks", method: .post, headers: form, body: ByteBuffer(string:
                    "_csrf=\(csrf)&community_id=\(community)&title=%E7%83%9F%E6%84%9F%E6%8E%A2%E6%B5%8B%E5%99%A8%E6%A3%80%E6%9F%A5&deadline=2026-12-12&audience_kind=grids&grid_ids=\(grid)"))
                #expect(res.status == .seeOther)
                let location = try #require(res.headers[.location])
                let id = try #require(Int64(location.split(separator: "/").last!))
                res = try await client.execute(uri: "/grid-tasks", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("/grid-tasks/\(id)") && res.body.text.contains("烟感探测器检查"))

                // The grid worker finds it on their list and taps through a door.
                let worker = try await webLogin(client, "grid")
                res = try await client.execute(uri: "/grid-tasks", method: .get, headers: [.cookie: worker])
                #expect(res.status == .ok && res.body.text.contains("my-task-list") && res.body.text.contains("/grid-tasks/\(id)") && !res.body.text.contains("grid-task-form"))
                res = try await client.execute(uri: "/visits", method: .get, headers: [.cookie: worker])
                #expect(res.body.text.contains("/grid-tasks/\(id)"), "the due list names the open task")
                res = try await client.execute(uri: "/grid-tasks/\(id)", method: .get, headers: [.cookie: worker])
                #expect(res.status == .ok && res.body.text.contains("/grid-tasks/\(id)/households/\(household)"))
                let wcsrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let wform: HTTPFields = [.cookie: worker, .contentType: "application/x-www-form-urlencoded"]
                // A problem without a word: back, the message beside that household's field.
                res = try await client.execute(uri: "/grid-tasks/\(id)/households/\(household)", method: .post, headers: wform,
                                               body: ByteBuffer(string: "_csrf=\(wcsrf)&outcome=problem&feedback="))
                #expect(res.status == .unprocessableContent && res.body.text.contains("feedback-error-\(household)"))
                res = try await client.execute(uri: "/grid-tasks/\(id)/households/\(household)", method: .post, headers: wform,
                                               body: ByteBuffer(string: "_csrf=\(wcsrf)&outcome=problem&feedback=%E6%9C%AA%E8%A3%85%E7%83%9F%E6%84%9F"))
                #expect(res.status == .seeOther && res.headers[.location] == "/grid-tasks/\(id)#h\(household)")
                res = try await client.execute(uri: "/grid-tasks/\(id)", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("task-problems") && res.body.text.contains("未装烟感") && res.body.text.contains("/grid-tasks/\(id)?grid=\(grid)"))
                // The community ends it from the page.
                res = try await client.execute(uri: "/grid-tasks/\(id)/close", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .seeOther)
                res = try await client.execute(uri: "/grid-tasks/\(id)", method: .get, headers: [.cookie: worker])
                #expect(res.body.text.contains("已结束") && !res.body.text.contains("/grid-tasks/\(id)/households/"))
            }
        }
    }
}
