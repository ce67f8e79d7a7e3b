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

/// The service centre's rules, by worked examples.
@Suite struct AffairRulesTests {
    @Test func stepsFollowTheApplicationsStates() {
        #expect(AffairRules.next(.submitted, .returnPapers) == .returned)
        #expect(AffairRules.next(.returned, .resubmit) == .submitted)
        #expect(AffairRules.next(.submitted, .accept) == .handling)
        #expect(AffairRules.next(.handling, .done) == .done)
        #expect(AffairRules.next(.booked, .arrive) == .waiting)
        #expect(AffairRules.next(.waiting, .call) == .handling)
        #expect(AffairRules.next(.booked, .noShow) == .noShow)
        #expect(AffairRules.next(.booked, .cancel) == .cancelled)
        // Nothing moves a finished application, and a booking is not "done" before it is handled.
        for s in [ApplicationStatus.done, .refused, .cancelled, .noShow] {
            #expect(ApplicationStep.allCases.allSatisfy { AffairRules.next(s, $0) == nil }, "\(s)")
        }
        #expect(AffairRules.next(.booked, .done) == nil)
        #expect(AffairRules.next(.handling, .cancel) == nil, "once the office works on it, the applicant cannot pull it back")
        #expect(AffairRules.steps(.submitted, staff: true) == [.accept, .returnPapers, .refuse])
        #expect(AffairRules.steps(.returned, staff: false) == [.resubmit, .cancel])
        #expect(AffairRules.steps(.returned, staff: true).isEmpty, "sent back: the next move is the applicant's")
    }

    @Test func aDayIsCutIntoWholeSlots() {
        let day = Input.day("2026-12-07")!   // a Monday
        let s = AffairRules.slots(day: day, from: 9 * 60, to: 11 * 60 + 30, every: 30)
        #expect(s.count == 5)
        #expect(LocalTime.text(s[0].start).hasSuffix("09:00") && LocalTime.text(s[4].end).hasSuffix("11:30"))
        // A slot that would run past the end is left out; nonsense gives none.
        #expect(AffairRules.slots(day: day, from: 9 * 60, to: 11 * 60 + 40, every: 30).count == 5)
        #expect(AffairRules.slots(day: day, from: 600, to: 540, every: 30).isEmpty)
        #expect(AffairRules.slots(day: day, from: 0, to: 60, every: 1).isEmpty)
    }

    @Test func theOfficeIsMeasuredByReturnsWaitsAndHandling() {
        let rows: [AffairRules.Finished] = [
            .init(affairID: 1, status: .done, returns: 0, waited: 600, handled: 3600),
            .init(affairID: 1, status: .done, returns: 1, waited: nil, handled: 3 * 86400),
            .init(affairID: 1, status: .refused, returns: 2, waited: 1200, handled: 7200),
            .init(affairID: 1, status: .noShow, returns: 0, waited: nil, handled: nil),
            .init(affairID: 1, status: .cancelled, returns: 0, waited: nil, handled: nil),
            .init(affairID: 2, status: .done, returns: 0, waited: nil, handled: 1800),
        ]
        let m = AffairRules.measures(rows)
        #expect(m.count == 2)
        #expect(m[0].finished == 3 && m[0].noShows == 1)
        #expect(m[0].returnsPerApplication == 1.0)
        #expect(abs(m[0].onceOnly - 1.0 / 3) < 1e-9)
        #expect(m[0].medianWaitMinutes == 10, "the lower middle of 10 and 20 minutes")
        #expect(m[0].medianHandlingHours == 2.0, "1 h, 2 h, 72 h")
        #expect(m[1].onceOnly == 1 && m[1].medianWaitMinutes == nil && m[1].medianHandlingHours == 0.5)
    }
}

/// The service centre on a real database: a resident applies with papers, the office sends them
/// back and finishes; bookings never pass a slot's capacity, even when made at once.
@Suite struct AffairsStoreTests {
    static func householdIDs(_ f: Fixture, _ n: Int) async throws -> [Int64] {
        try await f.linli.store.read { db in
            try await db.raw("SELECT id FROM households WHERE community_id = \(bind: f.demo.firstCommunityID) ORDER BY id LIMIT \(unsafeRaw: String(n))").all()
                .map { try $0.decode(column: "id", as: Int64.self) }
        }
    }

    static func affair(_ f: Fixture, _ mode: AffairMode, staff: Actor) async throws -> AffairView {
        var i = AffairInput()
        i.placeID = f.demo.firstCommunityID; i.name = "居住证明"; i.mode = mode; i.promisedDays = 3; i.materials = "身份证\n\n户口簿 \n"
        return try await f.linli.affairs.createAffair(i, actor: staff)
    }

    static func plan(_ f: Fixture, capacity: Int) -> SlotPlanInput {
        let today = LocalDay.of(f.linli.config.environment.nowSeconds)
        var p = SlotPlanInput()
        p.from = ChinaTime.iso(day: today + 1); p.to = ChinaTime.iso(day: today + 7); p.weekdays = [1, 2, 3, 4, 5, 6, 7]
        p.start = "09:00"; p.end = "10:00"; p.every = 30; p.capacity = capacity
        return p
    }

    @Test(arguments: Backend.available)
    func anApplicationIsSentBackForPapersThenDoneAndCounted(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            let service = try await Self.affair(f, .online, staff: staff)
            #expect(service.materials == ["身份证", "户口簿"], "blank lines and spaces dropped")
            #expect(try await a.catalogue(actor: resident).contains { $0.id == service.id })
            var apply = ApplyInput()
            apply.note = "孩子上学用"; apply.clientKey = "k1"
            let (sent, created) = try await a.apply(service.id, apply, papers: [TestImages.png], actor: resident)
            #expect(created && sent.status == .submitted && sent.papers.count == 1 && sent.note == "孩子上学用")
            // Sent twice (a retry): one application.
            let (again, createdAgain) = try await a.apply(service.id, apply, papers: [TestImages.png], actor: resident)
            #expect(!createdAgain && again.id == sent.id)
            // The same key for another service is a mistake, not that application.
            var otherInput = AffairInput()
            otherInput.placeID = f.demo.firstCommunityID; otherInput.name = "高龄津贴"; otherInput.mode = .online; otherInput.promisedDays = 5
            let otherService = try await a.createAffair(otherInput, actor: staff)
            await expectCode("reused") { _ = try await a.apply(otherService.id, apply, papers: [TestImages.png], actor: resident) }
            // The paper is encrypted at rest, and opens for the applicant.
            let name = try await f.linli.store.read { db in
                try await db.raw("SELECT stored_name FROM affair_papers WHERE id = \(bind: sent.papers[0])").first()!.decode(column: "stored_name", as: String.self)
            }
            let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f.dataDir + "/papers/" + name)))
            #expect(Array(onDisk.prefix(2)) != [0xFF, 0xD8], "not a plain JPEG on disk")
            #expect(Array(try await a.paper(sent.papers[0], actor: resident).prefix(2)) == [0xFF, 0xD8])
            // Sending back says what is missing; without a note nothing happens.
            await #expect(throws: LinliError.self) { _ = try await a.step(sent.id, .returnPapers, AffairStepInput(), actor: staff) }
            var back = AffairStepInput()
            back.note = "缺房产证"
            let returned = try await a.step(sent.id, .returnPapers, back, actor: staff)
            #expect(returned.status == .returned && returned.returns == 1)
            #expect(returned.steps == [.resubmit, .cancel], "sent back: only the applicant's steps are open")
            let inbox = try await f.linli.inbox.list(actor: resident, lang: .zh)
            #expect(inbox.first?.text.contains("补材料") == true && inbox.first?.link == "/affair-applications/\(sent.id)")
            // The resident cannot take the office's steps; the office cannot resubmit for them.
            await #expect(throws: LinliError.self) { _ = try await a.step(sent.id, .done, AffairStepInput(), actor: resident) }
            let resent = try await a.step(sent.id, .resubmit, AffairStepInput(), papers: [TestImages.png], actor: resident)
            #expect(resent.status == .submitted && resent.papers.count == 2)
            _ = try await a.step(sent.id, .accept, AffairStepInput(), actor: staff)
            let done = try await a.step(sent.id, .done, AffairStepInput(), actor: staff)
            #expect(done.status == .done && done.events.map(\.step) == ["apply", "return", "resubmit", "accept", "done"])
            // A second click on a finished step changes nothing.
            await #expect(throws: LinliError.self) { _ = try await a.step(sent.id, .done, AffairStepInput(), actor: staff) }
            let today = LocalDay.of(f.linli.config.environment.nowSeconds)
            let m = try await a.measures(placeID: f.demo.firstCommunityID, from: today - 1, to: today, actor: staff)
            #expect(m.first { $0.affairID == service.id } == AffairMeasureView(affairID: service.id, name: "居住证明", finished: 1, returnsPerApplication: 1,
                                                                            onceOnlyPercent: 0, noShows: 0, medianWaitMinutes: nil, medianHandlingHours: 0))
            // Someone of another street sees nothing of it.
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            let other = try await f.actor("resident2"), otherStaff = try await f.actor("community2")
            await #expect(throws: LinliError.notFound) { _ = try await a.application(sent.id, actor: other) }
            await #expect(throws: LinliError.notFound) { _ = try await a.paper(sent.papers[0], actor: otherStaff) }
            await #expect(throws: LinliError.notFound) { _ = try await a.affair(service.id, actor: otherStaff) }
            // The staff's look at the papers is recorded.
            _ = try await a.paper(sent.papers[0], actor: staff)
            let looked = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'affair.paper_view' AND object_id = \(bind: sent.id)").first()!.decode(column: "n", as: Int.self)
            }
            #expect(looked == 1)
        }
    }

    @Test(arguments: Backend.available)
    func bookingsNeverPassASlotsCapacityEvenAllAtOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community")
            let service = try await Self.affair(f, .counter, staff: staff)
            #expect(try await a.openSlots(service.id, Self.plan(f, capacity: 3), actor: staff) == 14)
            #expect(try await a.openSlots(service.id, Self.plan(f, capacity: 3), actor: staff) == 0, "open slots are kept, not doubled")
            let slot = try await a.slots(service.id, actor: staff)[0]
            let households = try await Self.householdIDs(f, 12)
            // Twelve households try the same slot of three at once: three get it.
            let results = await withTaskGroup(of: Bool.self) { group in
                for h in households {
                    group.addTask {
                        var i = ApplyInput()
                        i.householdID = h; i.slotID = slot.id
                        return (try? await a.apply(service.id, i, actor: staff)) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 3)
            #expect(try await a.slots(service.id, actor: staff)[0].left == 0)
            // A booked household cannot take a second time of the same service.
            let booked = try await f.linli.store.read { db in
                try await db.raw("SELECT id, household_id FROM affair_applications WHERE slot_id = \(bind: slot.id) ORDER BY id").all()
                    .map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "household_id", as: Int64.self)) }
            }
            var twice = ApplyInput()
            twice.householdID = booked[0].1; twice.slotID = try await a.slots(service.id, actor: staff)[1].id
            await #expect(throws: LinliError.self) { _ = try await a.apply(service.id, twice, actor: staff) }
            // Cancelling frees the place; online applications are refused for a counter service.
            _ = try await a.step(booked[0].0, .cancel, AffairStepInput(), actor: staff)
            #expect(try await a.slots(service.id, actor: staff)[0].left == 1)
            var online = ApplyInput()
            online.householdID = booked[1].1
            await #expect(throws: LinliError.self) { _ = try await a.apply(service.id, online, actor: staff) }
            // The counter: an arrival waits, is called, is done; a walk-in gets the next number.
            _ = try await a.step(booked[1].0, .arrive, AffairStepInput(), actor: staff)
            #expect(try await a.desk(actor: staff).waiting.map(\.id) == [booked[1].0])
            var walk = ApplyInput()
            walk.householdID = households[11]
            let t1 = try await a.walkIn(service.id, walk, actor: staff), t2 = try await a.walkIn(service.id, walk, actor: staff)
            #expect(t1.ticket == "\(service.id)-001" && t2.ticket == "\(service.id)-002" && t1.status == .waiting)
            #expect(try await a.desk(actor: staff).waiting.count == 3)
            // A no-show is marked only once the time has come.
            await #expect(throws: LinliError.self) { _ = try await a.step(booked[2].0, .noShow, AffairStepInput(), actor: staff) }

            // Staff applying for a household tell its people, and its people hear how it ends;
            // a resident applying for their own household tells no one else that staff did it.
            let resident = try await f.actor("resident")
            let home = resident.grants.first { $0.role == .resident }!.householdID!
            let paper = try await Self.affair(f, .online, staff: staff)
            var forThem = ApplyInput()
            forThem.householdID = home
            let (made, _) = try await a.apply(paper.id, forThem, actor: staff)
            func told(_ kind: String) async throws -> Int {
                try await f.linli.store.read { db in
                    try await db.query("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(resident.userID) AND kind = \(kind) AND link = \("/affair-applications/\(made.id)")")
                        .first()!.decode(column: "n", as: Int.self)
                }
            }
            #expect(try await told("affair_applied_for") == 1)
            _ = try await a.step(made.id, .accept, AffairStepInput(), actor: staff)
            _ = try await a.step(made.id, .done, AffairStepInput(), actor: staff)
            #expect(try await told("affair_done") == 1, "the household hears it is done, not only the grid worker who applied")
            let (own, _) = try await a.apply(paper.id, ApplyInput(), actor: resident)
            let ownTold = try await f.linli.store.read { db in
                try await db.query("SELECT COUNT(*) AS n FROM notifications WHERE link = \("/affair-applications/\(own.id)")").first()!.decode(column: "n", as: Int.self)
            }
            #expect(ownTold == 0)
        }
    }

    @Test(arguments: Backend.available)
    func badInputIsRefusedByFieldAndWritesNothing(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            var bad = AffairInput()
            bad.placeID = f.demo.firstCommunityID; bad.name = " "; bad.promisedDays = 900
            do { _ = try await a.createAffair(bad, actor: staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["name", "promised_days"])
            }
            bad.name = "证明"; bad.promisedDays = 1; bad.placeID = f.demo.byStreet[1].firstCommunityID
            await #expect(throws: LinliError.self) { _ = try await a.createAffair(bad, actor: staff) }
            await #expect(throws: LinliError.forbidden) { _ = try await a.desk(actor: resident) }
            let service = try await Self.affair(f, .both, staff: staff)
            var p = Self.plan(f, capacity: 0)
            p.start = "25:00"
            do { _ = try await a.openSlots(service.id, p, actor: staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["start", "capacity"])
            }
            var late = ApplyInput()
            late.slotID = 999_999
            await #expect(throws: LinliError.self) { _ = try await a.apply(service.id, late, actor: resident) }
            var junk = ApplyInput()
            junk.clientKey = "junk"
            await #expect(throws: LinliError.self) { _ = try await a.apply(service.id, junk, papers: [[1, 2, 3]], actor: resident) }
            let rows = try await f.linli.store.read { db in
                try await db.raw("SELECT (SELECT COUNT(*) FROM affair_applications) + (SELECT COUNT(*) FROM affair_slots) AS n").first()!.decode(column: "n", as: Int.self)
            }
            #expect(rows == 0)
        }
    }
}

/// The console's forms and the API reach the same use cases.
@Suite struct AffairsWebTests {
    @Test func aResidentAppliesFromThePageAndTheAPIAnswersTheSame() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            try await built.app.test(.router) { client in
                func api(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [.authorization: "Bearer \(t[who]!)"]
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                var r = try await api(.post, "/api/v1/affairs", "community", #"{"place_id":\#(f.demo.firstCommunityID),"name":"高龄津贴","mode":"both","materials":"身份证\n户口簿"}"#)
                #expect(r.status == .created, "\(r.body.text)")
                let id = String(r.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                r = try await api(.post, "/api/v1/affairs/\(id)/applications", "resident",
                                  #"{"note":"行动不便","papers_base64":["\#(Data(TestImages.png).base64EncodedString())"]}"#)
                #expect(r.status == .created && r.body.text.contains(#""status":"submitted""#), "\(r.body.text)")
                let app = String(r.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                r = try await api(.post, "/api/v1/affair-applications/\(app)/return", "community", #"{}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"note""#))
                r = try await api(.post, "/api/v1/affair-applications/\(app)/return", "community", #"{"note":"缺户口簿"}"#)
                #expect(r.status == .ok && r.body.text.contains(#""returns":1"#))
                r = try await api(.get, "/api/v1/affairs-desk", "community")
                #expect(r.status == .ok && r.body.text.contains("高龄津贴"))
                r = try await api(.get, "/api/v1/affairs-desk", "resident")
                #expect(r.status == .forbidden)
                // The resident's page shows what is missing, and the way to send it again.
                let cookie = try await webLogin(client, "resident")
                let page = try await client.execute(uri: "/affair-applications/\(app)", method: .get, headers: [.cookie: cookie])
                #expect(page.status == .ok && page.body.text.contains("缺户口簿") && page.body.text.contains("resubmit-form"))
                let list = try await client.execute(uri: "/affairs", method: .get, headers: [.cookie: cookie])
                #expect(list.body.text.contains("高龄津贴") && list.body.text.contains("my-applications"))
            }
        }
    }
}

/// Activities: the waiting list by worked examples, and sign-ups on a real database.
@Suite struct ActivityTests {
    @Test func theWaitingListMovesUpInOrder() {
        #expect(ActivityRules.promoted([(1, 2), (2, 1), (3, 1)], room: 3) == [1, 2])
        // A party too large for what freed stops the queue: no one behind it jumps ahead.
        #expect(ActivityRules.promoted([(1, 3), (2, 1)], room: 2) == [])
        #expect(ActivityRules.promoted([], room: 5) == [])
        #expect(ActivityRules.qualifies(["elderly_alone"], .elderly) && !ActivityRules.qualifies(["child"], .elderly))
        #expect(ActivityRules.qualifies([], .all))
    }

    static func activity(_ f: Fixture, capacity: Int, audience: ActivityAudience = .all, staff: Actor) async throws -> ActivityView {
        let tomorrow = ChinaTime.iso(day: LocalDay.of(f.linli.config.environment.nowSeconds) + 1)
        var i = ActivityInput()
        i.placeID = f.demo.firstCommunityID; i.title = "健康讲座"; i.venue = "活动室"; i.capacity = capacity; i.audience = audience
        i.startsAt = tomorrow + "T09:30"; i.endsAt = tomorrow + "T11:00"
        return try await f.linli.affairs.createActivity(i, actor: staff)
    }

    @Test(arguments: Backend.available)
    func manySignUpsAtOnceFillThePlacesAndTheRestWaitInOrder(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community")
            let act = try await Self.activity(f, capacity: 10, staff: staff)
            let households = try await AffairsStoreTests.householdIDs(f, 30)
            #expect(households.count == 30)
            await withTaskGroup(of: Void.self) { group in
                for h in households {
                    group.addTask {
                        var i = SignUpInput()
                        i.householdID = h
                        _ = try? await a.signUp(act.id, i, actor: staff)
                    }
                }
            }
            var view = try await a.activity(act.id, actor: staff)
            #expect(view.taken == 10 && view.waiting == 20)
            #expect(view.signUps.filter { $0.status == "confirmed" }.count == 10)
            let waiting = view.signUps.filter { $0.status == "waiting" }
            #expect(waiting.map(\.waitingPosition) == (1...20).map { Optional($0) }, "the waiting list is numbered in the order they came")
            // One confirmed household drops out: the first waiting one moves up and is told.
            let out = view.signUps.first { $0.status == "confirmed" }!
            var cancel = SignUpInput()
            cancel.householdID = out.householdID
            view = try await a.cancelSignUp(act.id, cancel, actor: staff)
            #expect(view.taken == 10 && view.waiting == 19)
            #expect(view.signUps.first { $0.id == waiting[0].id }?.status == "confirmed")
            let told = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'activity_promoted'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(told == 0, "staff signed them up, so staff are not told of their own step") // the actor is the staff member
            // At the door: a confirmed household checks in by its code; a waiting one is refused.
            let codes = try await f.linli.store.read { db in
                try await db.raw("SELECT id, code FROM households WHERE id IN (\(unsafeRaw: households.map(String.init).joined(separator: ",")))").all()
                    .reduce(into: [Int64: String]()) { $0[try $1.decode(column: "id", as: Int64.self)] = try $1.decode(column: "code", as: String.self) }
            }
            let came = try await a.attend(act.id, code: codes[waiting[0].householdID], actor: staff)
            #expect(came.attended)
            await #expect(throws: LinliError.self) { _ = try await a.attend(act.id, code: codes[waiting[1].householdID], actor: staff) }
        }
    }

    @Test(arguments: Backend.available)
    func aResidentSignsUpWaitsAndIsToldWhenAPlaceOpens(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            let act = try await Self.activity(f, capacity: 2, staff: staff)
            let other = try await AffairsStoreTests.householdIDs(f, 5).filter { $0 != f.demo.firstHouseholdWithResidents }
            var i = SignUpInput()
            i.householdID = other[0]; i.people = 2
            _ = try await a.signUp(act.id, i, actor: staff)
            let waiting = try await a.signUp(act.id, SignUpInput(), actor: resident)
            #expect(waiting.status == "waiting" && waiting.waitingPosition == 1)
            var mine = try await a.activity(act.id, actor: resident)
            #expect(mine.mine == waiting && mine.signUps.isEmpty, "a resident sees only their own")
            _ = try await a.cancelSignUp(act.id, i, actor: staff)
            mine = try await a.activity(act.id, actor: resident)
            #expect(mine.mine?.status == "confirmed")
            let inbox = try await f.linli.inbox.list(actor: resident, lang: .zh)
            #expect(inbox.first?.text.contains("候补转正") == true)
            // Nobody passes the waiting list: with 1 place left and a party of 2 waiting, a party of 1
            // waits behind them.
            let small = try await Self.activity(f, capacity: 3, staff: staff)
            let three = try await AffairsStoreTests.householdIDs(f, 6).filter { $0 != f.demo.firstHouseholdWithResidents }
            var p2 = SignUpInput()
            p2.householdID = three[0]; p2.people = 2
            #expect(try await a.signUp(small.id, p2, actor: staff).status == "confirmed")
            p2.householdID = three[1]
            #expect(try await a.signUp(small.id, p2, actor: staff).status == "waiting")
            var p1 = SignUpInput()
            p1.householdID = three[2]; p1.people = 1
            let late = try await a.signUp(small.id, p1, actor: staff)
            #expect(late.status == "waiting" && late.waitingPosition == 2)
            // Audience: an activity for the disabled refuses a household without such a resident.
            let only = try await Self.activity(f, capacity: 5, audience: .veteran, staff: staff)
            let facts = try await f.linli.store.read { db in try await f.linli.registry.householdFacts(db, ids: [f.demo.firstHouseholdWithResidents]) }
            if !facts[0].situations.contains("veteran") {
                do { _ = try await a.signUp(only.id, SignUpInput(), actor: resident); Issue.record("accepted") } catch let e as LinliError {
                    #expect(e.field == "household_code" && e.code == "audience")
                }
            }
            // Calling it off tells everyone signed up.
            _ = try await a.cancelActivity(act.id, actor: staff)
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).first?.text.contains("活动已取消") == true)
            await #expect(throws: LinliError.self) { _ = try await a.signUp(act.id, SignUpInput(), actor: resident) }
            // Bad input names its field.
            var bad = ActivityInput()
            bad.placeID = f.demo.firstCommunityID; bad.title = ""; bad.venue = "x"; bad.capacity = 0; bad.startsAt = "2020-01-01T09:00"; bad.endsAt = "nonsense"
            do { _ = try await a.createActivity(bad, actor: staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["title", "capacity", "starts_at", "ends_at"])
            }
        }
    }
}

/// Rooms: opening hours and overlaps by worked examples; bookings on a real database, where two
/// overlapping live bookings never both stand (on PostgreSQL the database's own constraint).
@Suite struct SpaceTests {
    @Test func bookingsKeepToOpeningHoursAndNeverOverlap() {
        let monday = Input.day("2026-12-07")!
        let at = { (d: Int64, m: Int) in LocalDay.start(d) + Int64(m) * 60 }
        let weekdays: Set<Int> = [1, 2, 3, 4, 5]
        #expect(SpaceRules.withinHours(start: at(monday, 9 * 60), end: at(monday, 11 * 60), opens: 8 * 60 + 30, closes: 21 * 60, openDays: weekdays))
        #expect(!SpaceRules.withinHours(start: at(monday, 8 * 60), end: at(monday, 9 * 60), opens: 8 * 60 + 30, closes: 21 * 60, openDays: weekdays))
        #expect(SpaceRules.withinHours(start: at(monday, 20 * 60), end: at(monday, 21 * 60), opens: 510, closes: 21 * 60, openDays: weekdays), "up to closing")
        #expect(!SpaceRules.withinHours(start: at(monday + 5, 9 * 60), end: at(monday + 5, 10 * 60), opens: 510, closes: 1260, openDays: weekdays), "Saturday is closed")
        #expect(!SpaceRules.withinHours(start: at(monday, 20 * 60), end: at(monday + 1, 9 * 60), opens: 0, closes: 1440, openDays: weekdays), "not across midnight")
        #expect(SpaceRules.overlaps((10, 20), (19, 30)) && !SpaceRules.overlaps((10, 20), (20, 30)), "back to back is fine")
        let tuesdays = SpaceRules.occurrences(weekday: 2, from: monday, to: monday + 27, start: 19 * 60, end: 21 * 60, except: [monday + 8])
        #expect(tuesdays.count == 3 && LocalTime.text(tuesdays[0].0).hasPrefix("2026-12-08 19:00"))
    }

    @Test(arguments: Backend.available)
    func aSeasonAndOneOffBookingsShareTheRoom(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            var room = SpaceInput()
            room.placeID = f.demo.firstCommunityID; room.name = "党群微家"; room.kind = .partyHome; room.opens = "08:30"; room.closes = "21:00"
            room.residentsMayBook = true; room.needsApproval = true
            let space = try await a.createSpace(room, actor: staff)
            let today = LocalDay.of(f.linli.config.environment.nowSeconds)
            let nextTuesday = (today + 1...today + 7).first { LocalDay.weekday($0) == 2 }!
            var season = SpaceBookingInput()
            season.day = ChinaTime.iso(day: today + 1); season.until = ChinaTime.iso(day: today + 60); season.weekday = 2
            season.start = "19:00"; season.end = "21:00"; season.purpose = "书法协会"; season.except = [ChinaTime.iso(day: nextTuesday + 7)]
            let made = try await a.book(space.id, season, actor: staff)
            #expect(made.count >= 7 && made.count <= 9)
            // A resident's booking over a Tuesday evening is refused, naming the clash; another time waits for approval.
            var mine = SpaceBookingInput()
            mine.day = ChinaTime.iso(day: nextTuesday); mine.start = "20:00"; mine.end = "20:30"; mine.purpose = "楼道议事"
            do { _ = try await a.book(space.id, mine, actor: resident); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.status == .conflict && e.field == "start")
            }
            mine.day = ChinaTime.iso(day: nextTuesday + 7)
            let skipped = try await a.book(space.id, mine, actor: resident)
            #expect(skipped.count == 1, "the skipped Tuesday is free")
            mine.start = "07:00"; mine.end = "08:00"; mine.day = ChinaTime.iso(day: nextTuesday + 1)
            do { _ = try await a.book(space.id, mine, actor: resident); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "start" && e.code == "closed")
            }
            var view = try await a.space(space.id, actor: resident)
            #expect(view.bookings.first { $0.id == skipped[0] }?.status == "pending")
            #expect(view.bookings.first { $0.id == made[0] }?.purpose == "", "a resident does not see who else booked or why")
            _ = try await a.decideBooking(skipped[0], to: "approved", actor: staff)
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).first?.text.contains("场地预约已同意") == true)
            // A resident may not approve, and may cancel only their own.
            await #expect(throws: LinliError.self) { try await a.decideBooking(made[1], to: "cancelled", actor: resident) }
            try await a.decideBooking(made[1], to: "cancelled", actor: staff)
            view = try await a.space(space.id, actor: staff)
            #expect(!view.bookings.contains { $0.id == made[1] })
            // Ten people want the same free hour at once: one gets it.
            var hour = SpaceBookingInput()
            hour.day = ChinaTime.iso(day: nextTuesday + 2); hour.start = "10:00"; hour.end = "11:00"; hour.purpose = "会议"
            let want = hour, roomID = space.id
            let wins = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 { group.addTask { (try? await a.book(roomID, want, actor: staff)) != nil } }
                return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(wins == 1)
        }
    }

    static func insertBooking(_ store: any Store, _ space: Int64, _ start: Int64) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO space_bookings (space_id, path, starts_at, ends_at, purpose, user_id, by_name, status, created_at)
                VALUES (\(bind: space), '/', \(bind: start), \(bind: start + 3600), 'x', 1, 'x', 'approved', 0)
                """).run()
        }
    }

    /// The database itself refuses an overlap on PostgreSQL, whatever the code above it checks.
    @Test func postgresRefusesOverlappingBookingsItself() async throws {
        guard Backend.available.contains(.postgres) else { return }
        try await withFixture(.postgres) { f in
            let staff = try await f.actor("community")
            var room = SpaceInput()
            room.placeID = f.demo.firstCommunityID; room.name = "会议室"
            let space = try await f.linli.affairs.createSpace(room, actor: staff)
            let store = f.linli.store, id = space.id
            try await Self.insertBooking(store, id, 10_000_000)
            do { try await Self.insertBooking(store, id, 10_001_800); Issue.record("the overlap was stored") } catch { #expect(isExclusionViolation(error)) }
            try await Self.insertBooking(store, id, 10_003_600)
        }
    }
}

/// The canteen: subsidies by rule as worked examples; orders on a real database.
@Suite struct CanteenTests {
    static let rules = [
        MealSubsidyRule(id: 1, label: "80 岁以上", fromDay: 100, toDay: nil, minAge: 80, situation: nil, subsidy: 600, deliverySubsidy: 200, minSpend: 300),
        MealSubsidyRule(id: 2, label: "低保", fromDay: 100, toDay: 199, minAge: nil, situation: "low_income", subsidy: 800, deliverySubsidy: 0, minSpend: 0),
        MealSubsidyRule(id: 3, label: "60 岁以上", fromDay: 100, toDay: nil, minAge: 60, situation: nil, subsidy: 200, deliverySubsidy: 0, minSpend: 0),
    ]

    @Test func theMostGenerousRuleThatFitsSetsThePrice() {
        // An 85-year-old: 12 yuan less 6, but pays at least 3 → 6; delivered (+2, subsidised 2) → still 6.
        #expect(MealRules.price(1200, deliveryFee: nil, rules: Self.rules, day: 150, age: 85, situations: []) == .init(price: 1200, subsidy: 600, pay: 600, ruleID: 1))
        #expect(MealRules.price(1200, deliveryFee: 200, rules: Self.rules, day: 150, age: 85, situations: []) == .init(price: 1400, subsidy: 800, pay: 600, ruleID: 1))
        // 低保 at 85: 8 yuan beats 6; the least-spend of the other rule does not apply.
        #expect(MealRules.price(1200, deliveryFee: nil, rules: Self.rules, day: 150, age: 85, situations: ["low_income"]).pay == 400)
        // The 低保 rule's period has ended by day 200; 60+ is then the best.
        #expect(MealRules.price(1200, deliveryFee: nil, rules: Self.rules, day: 200, age: 70, situations: ["low_income"]) == .init(price: 1200, subsidy: 200, pay: 1000, ruleID: 3))
        // Nobody's subsidy is larger than the meal, and a 40-year-old pays in full.
        #expect(MealRules.price(500, deliveryFee: nil, rules: Self.rules, day: 150, age: 70, situations: ["low_income"]).pay == 0)
        #expect(MealRules.price(1200, deliveryFee: nil, rules: Self.rules, day: 150, age: 40, situations: []) == .init(price: 1200, subsidy: 0, pay: 1200, ruleID: nil))
        // Before a rule starts it does not count.
        #expect(MealRules.price(1200, deliveryFee: nil, rules: Self.rules, day: 99, age: 90, situations: []).subsidy == 0)
        // Orders close at the cut-off of the meal's day.
        #expect(MealRules.open(day: 100, cutoff: 570, now: LocalDay.start(100) + 569 * 60) && !MealRules.open(day: 100, cutoff: 570, now: LocalDay.start(100) + 570 * 60))
        // A meal is marked served on its day or the next, never ahead, never later.
        #expect(MealRules.servable(day: 100, today: 100) && MealRules.servable(day: 100, today: 101))
        #expect(!MealRules.servable(day: 101, today: 100) && !MealRules.servable(day: 100, today: 102))
    }

    @Test(arguments: Backend.available)
    func ordersAreSubsidisedOncePortionsRunOutAndTheKitchenCounts(_ backend: Backend) async throws {
        // 10:00 China time on 2026-12-08; the lunch ordered is the next day's.
        let clock = TestClock("2026-12-08T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            var c = CanteenInput()
            c.placeID = f.demo.firstCommunityID; c.name = "邻里食堂"; c.cutoff = "09:30"; c.deliveryFee = "2"
            let canteen = try await a.createCanteen(c, actor: staff)
            var rule = SubsidyRuleInput()
            rule.placeID = f.demo.firstStreetID; rule.label = "所有居民（测试）"; rule.from = "2020-01-01"; rule.minAge = 0; rule.subsidy = "5"; rule.minSpend = "3"
            _ = try await a.addSubsidyRule(rule, actor: street)
            let tomorrow = ChinaTime.iso(day: LocalDay.of(f.linli.config.environment.nowSeconds) + 1)
            var m = MenuInput()
            m.day = tomorrow; m.meal = "lunch"; m.dishes = "红烧肉、青菜"; m.price = "12"; m.portions = 2
            let menu = try await a.setMenu(canteen.id, m, actor: staff)
            let people = try await f.linli.registry.household(f.demo.firstHouseholdWithResidents, actor: resident).residents
            #expect(people.count >= 2)
            var o = MealOrderInput()
            o.residentID = people[0].id; o.delivery = true
            let first = try await a.order(menu, o, actor: resident)
            #expect(first.price == "14.00" && first.subsidy == "5.00" && first.pay == "9.00" && first.diner.hasSuffix("*"))
            // The same order again (a phone retrying) is the order made, not a second portion…
            let again = try await a.order(menu, o, actor: resident)
            #expect(again.id == first.id && again.pay == first.pay)
            // …but the same diner cannot take the same meal (and its subsidy) twice: eaten in as
            // well, or ordered by someone else.
            o.delivery = false
            await expectCode("already_ordered") { _ = try await a.order(menu, o, actor: resident) }
            o.delivery = true
            await expectCode("already_ordered") { _ = try await a.order(menu, o, actor: staff) }
            o.residentID = people[1].id; o.delivery = false
            let second = try await a.order(menu, o, actor: resident)
            // Sold out: a third diner is refused; cancelling frees the portion.
            let other = try await AffairsStoreTests.householdIDs(f, 3).first { $0 != f.demo.firstHouseholdWithResidents }!
            let stranger = try await f.linli.registry.household(other, actor: staff).residents[0]
            o.residentID = stranger.id
            do { _ = try await a.order(menu, o, actor: staff); Issue.record("accepted") } catch let e as LinliError { #expect(e.code == "sold_out") }
            // A resident cannot order for someone of another household.
            await #expect(throws: LinliError.self) { _ = try await a.order(menu, o, actor: resident) }
            try await a.cancelOrder(first.id, actor: resident)
            o.delivery = true
            _ = try await a.order(menu, o, actor: staff)
            let k = try await a.kitchen(canteen.id, day: Input.day(tomorrow)!, actor: staff)
            #expect(k.meals.count == 1 && k.meals[0].dineIn == 1 && k.meals[0].delivery == 1 && k.meals[0].subsidy == "10.00")
            #expect(k.deliveries.count == 1)
            await #expect(throws: LinliError.forbidden) { _ = try await a.kitchen(canteen.id, day: 0, actor: resident) }
            // Portions cannot drop below what is ordered; bad money names its field.
            m.portions = 1
            await #expect(throws: LinliError.self) { _ = try await a.setMenu(canteen.id, m, actor: staff) }
            m.portions = 5; m.price = "12.345"
            do { _ = try await a.setMenu(canteen.id, m, actor: staff); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "price") }
            // The settlement bills only days already past: nothing before the lunch, both after it.
            #expect(try await a.settlement(canteen.id, month: String(tomorrow.prefix(7)), actor: staff).meals == 0)
            // Handed over on its day, once, by the canteen; whoever ordered hears; still counted.
            do { _ = try await a.serveOrder(second.id, actor: staff); Issue.record("served a day early") } catch let e as LinliError { #expect(e.code == "not_yet") }
            clock.advance(hours: 24)
            await #expect(throws: LinliError.forbidden) { _ = try await a.serveOrder(second.id, actor: resident) }
            let served = try await a.serveOrder(second.id, actor: staff)
            #expect(served.status == "served" && served.servedAt == "10:00")
            clock.advance(hours: 1)
            #expect(try await a.serveOrder(second.id, actor: staff).servedAt == "10:00", "a second tap changes nothing")
            do { try await a.cancelOrder(second.id, actor: resident); Issue.record("cancelled a served meal") } catch let e as LinliError { #expect(e.code == "served") }
            let counter = try await a.kitchen(canteen.id, day: Input.day(tomorrow)!, actor: staff)
            #expect(counter.meals[0].dineIn == 1 && counter.dineIns.map(\.id) == [second.id] && counter.dineIns[0].status == "served",
                    "the counter's list keeps the meal taken, marked")
            let heard = try await f.linli.store.read { db in
                try await db.query("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(resident.userID) AND kind = 'canteen_eaten'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(heard == 1)
            clock.advance(hours: 23)
            let s = try await a.settlement(canteen.id, month: String(tomorrow.prefix(7)), actor: staff)
            #expect(s.meals == 2 && s.total == "10.00" && s.lines.map(\.rule) == ["所有居民（测试）"])

        }
    }
}

/// The time bank: every transfer balanced, balances kept between floor and ceiling.
@Suite struct TimeBankTests {
    @Test(arguments: Backend.available)
    func helpMovesMinutesAsABalancedDoubleEntry(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let resident = try await f.actor("resident"), staff = try await f.actor("community")
            // A neighbour with an account of their own, in the same community.
            let other = try await AffairsStoreTests.householdIDs(f, 5).first { $0 != f.demo.firstHouseholdWithResidents }!
            _ = try await f.linli.accounts.createUser(username: "neighbour", displayName: "邻居", password: Fixture.password)
            try await f.linli.accounts.grant(username: "neighbour", role: .resident, placeID: f.demo.firstCommunityID, householdID: other)
            let neighbour = try await f.actor("neighbour")
            var ask = HelpPostInput()
            ask.kind = "ask"; ask.title = "搬沙发"; ask.minutes = 90
            let post = try await a.postHelp(ask, actor: resident)
            await #expect(throws: LinliError.self) { try await a.answerHelp(post, actor: resident) }
            try await a.answerHelp(post, actor: neighbour)
            await #expect(throws: LinliError.self) { try await a.answerHelp(post, actor: neighbour) }
            // The helper cannot credit themselves; the one helped confirms.
            await #expect(throws: LinliError.self) { try await a.finishHelp(post, HelpDoneInput(), actor: neighbour) }
            try await a.finishHelp(post, HelpDoneInput(), actor: resident)
            #expect(try await f.linli.inbox.list(actor: neighbour, lang: .zh).first?.text.contains("时间已记入") == true)
            #expect(try await a.timeBank(actor: resident).balance == -90)
            #expect(try await a.timeBank(actor: neighbour).balance == 90)
            // Past the floor (10 hours owed) a second ask cannot be paid; nothing moves.
            ask.minutes = 480
            let big = try await a.postHelp(ask, actor: resident)
            try await a.answerHelp(big, actor: neighbour)
            var done = HelpDoneInput()
            done.minutes = 480
            try await a.finishHelp(big, done, actor: resident)
            let again = try await a.postHelp(ask, actor: resident)
            try await a.answerHelp(again, actor: neighbour)
            do { try await a.finishHelp(again, done, actor: resident); Issue.record("paid past the floor") } catch let e as LinliError { #expect(e.code == "floor") }
            #expect(try await a.timeBank(actor: resident).balance == -570)
            // A gift to the pool, and the pool paying for the stuck ask (staff's call).
            try await a.giveTime(minutes: 300, actor: neighbour)
            var pool = HelpDoneInput()
            pool.fromPool = true; pool.minutes = 240
            try await a.finishHelp(again, pool, actor: staff)
            #expect(try await a.timeBank(actor: neighbour).balance == 90 + 480 - 300 + 240)
            #expect(try await a.timeBank(actor: resident).pool == 60)
            // The one helped cannot make the pool pay by saying so: their own balance pays.
            ask.minutes = 30
            let small = try await a.postHelp(ask, actor: neighbour)
            try await a.answerHelp(small, actor: resident)
            var sly = HelpDoneInput()
            sly.fromPool = true
            let poolBefore = try await a.timeBank(actor: resident).pool
            try await a.finishHelp(small, sly, actor: neighbour)
            #expect(try await a.timeBank(actor: resident).pool == poolBefore)
            #expect(try await a.timeBank(actor: resident).balance == -570 + 30)
            // A second confirmation does not pay twice.
            await #expect(throws: LinliError.self) { try await a.finishHelp(small, HelpDoneInput(), actor: neighbour) }
            // Neighbours see masked names; the people involved and staff see them whole.
            ask.title = "借梯子"
            let lend = try await a.postHelp(ask, actor: neighbour)
            let seen = try await a.timeBank(actor: resident).posts.first { $0.id == lend }
            #expect(seen?.by == "邻居".maskedName && seen?.mine == false)
            #expect(try await a.timeBank(actor: neighbour).posts.first { $0.id == lend }?.by == "邻居")
            #expect(try await a.timeBank(actor: staff).posts.first { $0.id == lend }?.by == "邻居")
            // Every transfer sums to zero; all balances together are zero.
            let (unbalanced, total) = try await f.linli.store.read { db in
                (try await db.raw("SELECT COUNT(*) AS n FROM (SELECT transfer_id FROM time_entries GROUP BY transfer_id HAVING SUM(minutes) <> 0) x").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COALESCE(CAST(SUM(balance) AS BIGINT), 0) AS s FROM time_accounts").first()!.decode(column: "s", as: Int64.self))
            }
            #expect(unbalanced == 0 && total == 0)
        }
    }
}
