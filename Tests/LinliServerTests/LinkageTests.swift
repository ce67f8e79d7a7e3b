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

@Suite struct LinkageRuleTests {
    @Test func moneyIsParsedToExactFenOrRefusedWithTheReason() throws {
        #expect(try Fen.parse("50", field: "amount") == 5000)
        #expect(try Fen.parse("12.5", field: "amount") == 1250)
        #expect(try Fen.parse("￥1,000.05", field: "amount") == 100_005)
        #expect(try Fen.parse("0.01", field: "amount") == 1)
        for (raw, code) in [("0", "not_positive"), ("0.00", "not_positive"), ("-5", "not_positive"), ("abc", "not_a_number"), ("1.2.3", "not_a_number"),
                            ("", "required"), ("1.234", "too_precise"), ("1e3", "not_a_number"), ("１２", "not_a_number"), ("9999999999", "too_large")] {
            #expect(throws: LinliError.self) { _ = try Fen.parse(raw, field: "amount") }
            do { _ = try Fen.parse(raw, field: "amount") } catch let e as LinliError { #expect(e.code == code && e.field == "amount", "\(raw): \(e)") }
        }
        #expect(Fen.text(123_456_789) == "1,234,567.89")
        #expect(Fen.text(5) == "0.05")
    }

    @Test func availabilityJoinsAdjacentPeriods() {
        let a = Availability.from(keys: ["1am", "1pm", "3eve", "9am", "1xx"])
        #expect(a.slots.count == 3)
        #expect(a.covers(weekday: 1, from: 11 * 60, to: 13 * 60))
        #expect(a.covers(weekday: 1, from: 8 * 60, to: 18 * 60))
        #expect(!a.covers(weekday: 1, from: 7 * 60, to: 9 * 60))
        #expect(!a.covers(weekday: 2, from: 9 * 60, to: 10 * 60))
        #expect(!a.covers(weekday: 3, from: 17 * 60, to: 19 * 60))
        // Monday's morning and afternoon are one period once merged; Wednesday's evening stands alone.
        #expect(a.merged[1].count == 1 && a.merged[1][0] == (8 * 60, 18 * 60) && a.merged[3].count == 1 && a.merged[2].isEmpty)
        // 2026-11-23 is a Monday.
        #expect(LocalDay.weekday(Input.day("2026-11-23")!) == 1)
        #expect(LocalDay.weekday(Input.day("2026-11-29")!) == 7)
    }

    /// A volunteer's place on a shift, step by step: staff propose, the volunteer answers, staff
    /// confirm, the volunteer checks in and out; a place given back may be offered again.
    @Test func aShiftPlaceMovesOnlyByItsSteps() {
        // Staff propose; the volunteer says yes; staff confirm; in; out.
        #expect(ShiftStep.propose.next(from: nil, checkedIn: false) == .proposed)
        #expect(ShiftStep.accept.next(from: .proposed, checkedIn: false) == .accepted)
        #expect(ShiftStep.confirm.next(from: .accepted, checkedIn: false) == .confirmed)
        #expect(ShiftStep.checkIn.next(from: .confirmed, checkedIn: false) == .confirmed)
        #expect(ShiftStep.checkOut.next(from: .confirmed, checkedIn: true) == .done)
        // Signing up oneself is a yes already; staff may still confirm it.
        #expect(ShiftStep.signUp.next(from: nil, checkedIn: false) == .accepted)
        // Checking in twice, out before in, or out twice: refused.
        #expect(ShiftStep.checkIn.next(from: .accepted, checkedIn: true) == nil)
        #expect(ShiftStep.checkOut.next(from: .accepted, checkedIn: false) == nil)
        #expect(ShiftStep.checkOut.next(from: .done, checkedIn: true) == nil)
        // Saying no: until checked in, even once confirmed.
        #expect(ShiftStep.decline.next(from: .confirmed, checkedIn: false) == .declined)
        #expect(ShiftStep.decline.next(from: .confirmed, checkedIn: true) == nil)
        #expect(ShiftStep.decline.next(from: .accepted, checkedIn: true) == nil, "a volunteer who came checks out")
        #expect(ShiftStep.accept.next(from: .declined, checkedIn: false) == nil)
        // A place given back may be offered or taken again; one held may not be taken twice.
        #expect(ShiftStep.propose.next(from: .declined, checkedIn: false) == .proposed)
        #expect(ShiftStep.signUp.next(from: .cancelled, checkedIn: false) == .accepted)
        #expect(ShiftStep.propose.next(from: .accepted, checkedIn: false) == nil)
        // Closing the task gives back places not begun; a shift served stays served.
        #expect(ShiftStep.cancel.next(from: .proposed, checkedIn: false) == .cancelled)
        #expect(ShiftStep.cancel.next(from: .confirmed, checkedIn: true) == nil)
        #expect(ShiftStep.cancel.next(from: .done, checkedIn: true) == nil)
        // The SQL lists come from the same machine.
        #expect(ShiftStatus.holdingSQL == "('proposed', 'accepted', 'confirmed', 'done')")
        #expect(ShiftStep.cancel.fromSQL == "('proposed', 'accepted', 'confirmed')")
        // No step leads out of a place given back except taking it again.
        for step in ShiftStep.allCases where ![.propose, .signUp].contains(step) {
            #expect(step.next(from: .declined, checkedIn: false) == nil && step.next(from: .cancelled, checkedIn: false) == nil, "\(step)")
        }
    }

    @Test func matchingStartsAtTheSeedStopsAtTheCapAndThePool() {
        #expect(MatchingRule.entitled(raised: 4_999, seed: 5_000, ratioPercent: 100, cap: 10_000) == 0)
        #expect(MatchingRule.entitled(raised: 5_000, seed: 5_000, ratioPercent: 100, cap: 10_000) == 5_000)
        #expect(MatchingRule.entitled(raised: 30_000, seed: 5_000, ratioPercent: 50, cap: 10_000) == 10_000)
        #expect(MatchingRule.due(raised: 8_000, matched: 5_000, seed: 5_000, ratioPercent: 100, cap: 10_000, pool: 1_000) == 1_000)
        #expect(MatchingRule.due(raised: 8_000, matched: 9_000, seed: 5_000, ratioPercent: 100, cap: 10_000, pool: 1_000) == 0)
        #expect(Posting.balanced([Posting(1, -5), Posting(2, 5)]))
        #expect(!Posting.balanced([Posting(1, -5), Posting(2, 4)]))
        #expect(PointsRule.points(minutes: 55, perHour: 10) == 9)
    }

    static func volunteers(_ n: Int, skills: Set<String> = ["delivery"], keys: [String] = ["1am", "2am", "3am", "4am", "5am"]) -> [VolunteerProfile] {
        (1...n).map { VolunteerProfile(id: Int64($0), skills: skills, availability: .from(keys: keys), lat: 30.25 + Double($0) * 0.001, lng: 120.15) }
    }

    @Test func fillingAMonthCoversEveryShiftFairlyWithoutDoubleBooking() {
        let first = Input.day("2026-12-01")!, last = Input.day("2026-12-31")!
        var shifts: [ShiftSlot] = []
        var id: Int64 = 0
        for task in 1...3 {
            for (s, e) in VolunteerMatching.occurrences(firstDay: first, lastDay: last, weekdays: [1, 2, 3, 4, 5], startMinute: 11 * 60, durationMinutes: 60) {
                id += 1
                shifts.append(ShiftSlot(id: id, taskID: Int64(task), startsAt: s, endsAt: e, headcount: 2))
            }
        }
        #expect(shifts.count == 3 * 23)
        let needs = Dictionary(uniqueKeysWithValues: (1...3).map { (Int64($0), TaskNeeds(taskID: Int64($0), skills: ["delivery"], lat: 30.25, lng: 120.15)) })
        let plan = VolunteerMatching.fill(shifts, needs: needs, volunteers: Self.volunteers(20), busy: [:], load: [:])
        #expect(plan.uncovered.isEmpty)
        #expect(plan.proposals.count == shifts.count * 2)
        // Nobody holds two shifts at the same time, nor one shift twice.
        let byID = Dictionary(uniqueKeysWithValues: shifts.map { ($0.id, $0) })
        var held: [Int64: [(Int64, Int64)]] = [:]
        for p in plan.proposals {
            let s = byID[p.shiftID]!
            #expect(!(held[p.volunteerID] ?? []).contains { $0.0 < s.endsAt && s.startsAt < $0.1 })
            held[p.volunteerID, default: []].append((s.startsAt, s.endsAt))
        }
        // Fair: 138 hours among 20 people, nobody far above the mean.
        let loads = held.values.map(\.count)
        #expect(loads.count == 20 && loads.max()! - loads.min()! <= 2)
    }

    @Test func shortShiftsAreReportedPlainly() {
        let day = Input.day("2026-12-07")!  // a Monday
        let s = LocalDay.start(day) + 11 * 3600
        let shifts = [ShiftSlot(id: 1, taskID: 1, startsAt: s, endsAt: s + 3600, headcount: 3), ShiftSlot(id: 2, taskID: 2, startsAt: s + 1800, endsAt: s + 5400, headcount: 1)]
        let needs: [Int64: TaskNeeds] = [1: TaskNeeds(taskID: 1, skills: ["delivery"], lat: nil, lng: nil), 2: TaskNeeds(taskID: 2, skills: ["carry"], lat: nil, lng: nil)]
        var people = Self.volunteers(2)
        people.append(VolunteerProfile(id: 9, skills: ["carry"], availability: .from(keys: ["2am"]), lat: nil, lng: nil))
        let plan = VolunteerMatching.fill(shifts, needs: needs, volunteers: people, busy: [:], load: [:])
        #expect(plan.proposals.count == 2)
        #expect(plan.uncovered.map(\.shiftID) == [1, 2] && plan.uncovered.map(\.missing) == [1, 1])
        // The ranking says why each one cannot.
        let ranked = VolunteerMatching.rank(people, needs[2]!, shifts[1], busy: [1: [(s, s + 3600)]], load: [:])
        #expect(ranked.first { $0.volunteerID == 9 }?.unfit == .unavailable)
        #expect(ranked.first { $0.volunteerID == 1 }?.unfit == .skills)
        // And the fill says it in sum: shift 2 lacks a carrier because two lack the skill and the
        // only carrier is free on Tuesdays; those already on a shift are no reason.
        #expect(VolunteerMatching.whyShort(people, needs[2]!, shifts[1], busy: [1: [(s, s + 3600)]], load: [:]) == ["skills": 2, "unavailable": 1])
        var held = shifts[0]
        held.holders = [1, 2]
        #expect(VolunteerMatching.whyShort(people, needs[1]!, held, busy: [:], load: [:]) == ["skills": 1])
        // The fill gives the same reasons from its own bookings (the two it put on shift 1 are on it).
        #expect(plan.uncovered.map(\.reasons) == [["skills": 1], ["skills": 2, "unavailable": 1]])
    }

    @Test func aShortShiftsReasonsCountTheBookingsTheFillJustMade() {
        // Two shifts at the same hour, one place each, one volunteer able for both: the first takes
        // her, so the second is short because she is busy then — not "everyone is already on it".
        let day = Input.day("2026-12-07")!  // a Monday
        let s = LocalDay.start(day) + 9 * 3600
        let shifts = [ShiftSlot(id: 1, taskID: 1, startsAt: s, endsAt: s + 3600, headcount: 1),
                      ShiftSlot(id: 2, taskID: 1, startsAt: s, endsAt: s + 3600, headcount: 1)]
        let needs: [Int64: TaskNeeds] = [1: TaskNeeds(taskID: 1, skills: ["delivery"], lat: nil, lng: nil)]
        let plan = VolunteerMatching.fill(shifts, needs: needs, volunteers: Array(Self.volunteers(1)), busy: [:], load: [:])
        #expect(plan.proposals.count == 1)
        #expect(plan.uncovered.count == 1 && plan.uncovered[0].reasons == ["busy": 1])
    }
}

/// Accounts for volunteers of the first community, each able to sign in.
func makeVolunteers(_ f: Fixture, _ n: Int, skills: [String] = ["delivery"], availability: [String] = ["1am", "2am", "3am", "4am", "5am"]) async throws -> [Actor] {
    var out: [Actor] = []
    for i in 1...n {
        let name = "v\(i)-\(UUID().uuidString.prefix(6))"
        _ = try await f.linli.accounts.createUser(username: name, displayName: "志愿者\(i)", password: Fixture.password)
        try await f.linli.accounts.grant(username: name, role: .volunteer, placeID: f.demo.firstCommunityID)
        let a = try await f.actor(name)
        var input = LinkageService.VolunteerInput()
        input.skills = skills; input.availability = availability
        _ = try await f.linli.linkage.registerVolunteer(input, actor: a)
        out.append(a)
    }
    return out
}

@Suite struct LinkageStoreTests {
    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw(SQLQueryString(sql)).first()!.decode(column: "n", as: Int.self) }
    }

    func lunchTask(_ f: Fixture, staff: Actor, households: [String] = [], headcount: Int = 2) async throws -> Int64 {
        var t = LinkageService.TaskInput()
        t.communityID = f.demo.firstCommunityID; t.title = "送餐"; t.kind = "recurring"; t.skills = ["delivery"]; t.placeID = f.demo.firstCommunityID
        t.firstDay = "2026-12-01"; t.lastDay = "2026-12-31"; t.weekdays = [1, 2, 3, 4, 5]; t.startTime = "11:00"; t.durationMinutes = 60
        t.headcount = headcount; t.households = households
        return try await f.linli.linkage.postTask(t, actor: staff)
    }

    @Test(arguments: Backend.available)
    func shiftsAreFilledAnsweredWorkedAndCredited(_ backend: Backend) async throws {
        let clock = TestClock("2026-11-20T00:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community")
            let people = try await makeVolunteers(f, 6)
            let code = try await f.linli.store.read { db in
                try await db.raw("SELECT code FROM households WHERE community_id = \(bind: f.demo.firstCommunityID) ORDER BY id").first()!.decode(column: "code", as: String.self)
            }
            let task = try await lunchTask(f, staff: staff, households: [code])
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM task_shifts WHERE task_id = \(task)") == 23)
            let result = try await l.fillMonth(communityID: nil, taskID: task, month: "2026-12", actor: staff)
            #expect(result.proposed == 46 && result.uncovered.isEmpty)
            // Filling again proposes nobody new: every place is held.
            #expect(try await l.fillMonth(communityID: nil, taskID: task, month: "2026-12", actor: staff).proposed == 0)
            // Each volunteer is told once, and sees their shifts.
            let mine = try await l.myShifts(actor: people[0])
            #expect(!mine.isEmpty && mine.allSatisfy { $0.status == "proposed" })
            let a = mine[0].assignmentID

            // A second task at the same time: proposing the same volunteer clashes.
            var other = LinkageService.TaskInput()
            other.communityID = f.demo.firstCommunityID; other.title = "探访"; other.kind = "one_off"; other.placeID = f.demo.firstCommunityID
            other.startsAt = String(mine[0].whenText.prefix(16)).replacingOccurrences(of: " ", with: "T")
            let visit = try await l.postTask(other, actor: staff)
            let visitShift = try await f.linli.store.read { db in try await db.raw("SELECT id FROM task_shifts WHERE task_id = \(bind: visit)").first()!.decode(column: "id", as: Int64.self) }
            let vid = try await f.linli.store.read { db in try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: people[0].userID)").first()!.decode(column: "id", as: Int64.self) }
            await expectCode("shift_overlap") { _ = try await l.propose(shiftID: visitShift, volunteerID: vid, actor: staff) }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM shift_assignments WHERE shift_id = \(visitShift)") == 0)

            try await l.answer(assignmentID: a, accept: true, actor: people[0])
            // Another volunteer cannot answer for them.
            await expectCode("not_found") { try await l.answer(assignmentID: a, accept: false, actor: people[1]) }
            try await l.confirmAssignment(a, actor: staff)
            await expectCode("not_checked_in") { try await l.checkOut(a, actor: people[0]) }
            clock.advance(hours: 24 * 20)  // into the shift's day
            let shiftStart = try await f.linli.store.read { db in try await db.raw("SELECT starts_at FROM shift_assignments WHERE id = \(bind: a)").first()!.decode(column: "starts_at", as: Int64.self) }
            let hours = Double(shiftStart - f.linli.config.environment.nowSeconds) / 3600 + 0.05
            clock.advance(hours: hours)
            await expectCode("not_served") { try await l.checkIn(a, code: "nope", actor: people[0]) }
            try await l.checkIn(a, code: code, actor: people[0])
            clock.advance(hours: 0.9)
            // Staff recording a check-out before the check-in is refused, naming the field.
            await expectCode("before_check_in") { try await l.checkOut(a, at: LocalTime.text(shiftStart - 600).replacingOccurrences(of: " ", with: "T"), actor: staff) }
            try await l.checkOut(a, actor: people[0])
            // Nobody confirms their own hours, even with the right to confirm.
            try await f.linli.accounts.grant(username: people[0].username, role: .communityStaff, placeID: f.demo.firstCommunityID)
            let volunteerAsStaff = try await f.actor(people[0].username)
            await expectCode("own_hours") { _ = try await l.confirmHours(a, minutes: nil, actor: volunteerAsStaff) }
            let points = try await l.confirmHours(a, minutes: nil, actor: staff)
            #expect(points == 9)
            await expectCode("already_confirmed") { _ = try await l.confirmHours(a, minutes: nil, actor: staff) }
            #expect(try await l.ownVolunteer(actor: people[0])?.points == 9)
            let cert = try await l.certificate(volunteerID: nil, actor: people[0])
            #expect(cert.lines.count == 1 && cert.hoursText == "0.9")

            // Points buy listed rewards, never more than one has.
            let cheap = try await l.addReward(communityID: f.demo.firstCommunityID, name: "理发券", points: 5, stock: 1, actor: staff)
            let dear = try await l.addReward(communityID: f.demo.firstCommunityID, name: "粮油", points: 50, stock: 3, actor: staff)
            await expectCode("not_enough_points") { try await l.redeem(rewardID: dear, actor: people[0]) }
            try await l.redeem(rewardID: cheap, actor: people[0])
            await expectCode("out_of_stock") { try await l.redeem(rewardID: cheap, actor: people[1]) }
            #expect(try await l.ownVolunteer(actor: people[0])?.points == 4)
        }
    }

    func rampProject(_ f: Fixture, staff: Actor, street: Actor, poolAmount: String = "10000", cap: String = "3000", seed: String = "1000") async throws -> (project: Int64, pool: Int64) {
        let l = f.linli.linkage
        var p = LinkageService.ProjectInput()
        p.communityID = f.demo.firstCommunityID; p.title = "坡道"; p.domain = "environment"; p.budget = "20000"
        let project = try await l.createProject(p, actor: staff)
        var pool = LinkageService.PoolInput()
        pool.placeID = f.demo.firstStreetID; pool.name = "配捐池"; pool.ratioPercent = 100; pool.projectCap = cap; pool.amount = poolAmount
        let poolID = try await l.createPool(pool, actor: street)
        try await l.openCampaign(projectID: project, goal: "20000", seed: seed, poolID: poolID, actor: staff)
        return (project, poolID)
    }

    func gift(_ amount: String, name: String = "张三", key: String? = nil) -> LinkageService.DonationInput {
        var d = LinkageService.DonationInput()
        d.amount = amount; d.name = name; d.idempotencyKey = key
        return d
    }

    @Test(arguments: Backend.available)
    func giftsAreMatchedWithinTheCapAndThePoolAndSpentWithApproval(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            let (project, _) = try await rampProject(f, staff: staff, street: street)
            for bad in ["0", "-10", "abc", "1.001", ""] {
                do { _ = try await l.donate(projectID: project, gift(bad), actor: resident); Issue.record("accepted \(bad)") }
                catch let e as LinliError { #expect(e.field == "amount" && e.status == .unprocessableContent) }
            }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'donation'") == 0)
            // Online: a pledge, on the ledger only when its money arrives. Below the seed: no match yet.
            var r = try await l.donate(projectID: project, gift("600", name: "", key: "k1"), actor: resident)
            #expect(r.matched == 0 && r.status == "pending" && r.transactionID == 0)
            // A retry with the same key records nothing.
            r = try await l.donate(projectID: project, gift("600", name: "", key: "k1"), actor: resident)
            #expect(r.repeated)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'donation'") == 0)
            _ = try await l.confirmPayment(ArrivedPayment(reference: r.reference!, amount: 60_000, provider: "bank", providerTransaction: "B-1"), actor: staff)
            r = try await l.donate(projectID: project, gift("500"), actor: staff)
            #expect(r.matched == 110_000)  // raised 1,100 ≥ seed 1,000: matched 1:1
            r = try await l.donate(projectID: project, gift("5000", name: "街角便利店"), actor: staff)
            #expect(r.matched == 190_000)  // up to the cap of 3,000
            await expectCode("beyond_cap") { _ = try await l.match(projectID: project, amount: "1", actor: staff) }
            var view = try await l.project(project, actor: staff).money
            #expect(view.raised == 610_000 && view.matched == 300_000 && view.left == 910_000)

            // Spending: a receipt, within the balance, approved by two others.
            let png = [UInt8](Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")!)
            await expectCode("beyond_balance") { _ = try await l.requestExpense(projectID: project, amount: "9100.01", payee: "施工队", purpose: "材料", receipt: png, actor: staff) }
            await expectCode("required") { _ = try await l.requestExpense(projectID: project, amount: "100", payee: "施工队", purpose: "材料", receipt: nil, actor: staff) }
            let e = try await l.requestExpense(projectID: project, amount: "9000", payee: "施工队", purpose: "材料", receipt: png, actor: staff)
            // Pending money is held back from further requests.
            await expectCode("beyond_balance") { _ = try await l.requestExpense(projectID: project, amount: "200", payee: "x", purpose: "y", receipt: png, actor: staff) }
            await expectCode("own_expense") { _ = try await l.approveExpense(e, actor: staff) }
            #expect(try await l.approveExpense(e, actor: street) == "pending")
            await expectCode("already_approved") { _ = try await l.approveExpense(e, actor: street) }
            let admin = try await f.actor("admin")
            #expect(try await l.approveExpense(e, actor: admin) == "paid")
            view = try await l.project(project, actor: staff).money
            #expect(view.spent == 900_000 && view.left == 10_000)

            // The public ledger masks givers who did not choose to be named.
            let ledger = try await l.publicLedger(communityID: f.demo.firstCommunityID, before: nil)
            #expect(ledger.lines.contains { $0.who == "张*" } && !ledger.lines.contains { $0.who == "张三" })
            let check = try await l.checkLedger()
            #expect(check.ok && check.transactions == 7)
        }
    }

    @Test(arguments: Backend.available)
    func concurrentGiftsNeverOverspendThePoolOrUnbalanceTheLedger(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street")
            // A pool of 2,500 shared by three projects each capped at 1,000.
            let (p1, pool) = try await rampProject(f, staff: staff, street: street, poolAmount: "2500", cap: "1000", seed: "100")
            var ps = [p1]
            for t in ["长椅", "路灯"] {
                var p = LinkageService.ProjectInput()
                p.communityID = f.demo.firstCommunityID; p.title = t; p.domain = "environment"; p.budget = "5000"
                let id = try await l.createProject(p, actor: staff)
                try await l.openCampaign(projectID: id, goal: "5000", seed: "100", poolID: pool, actor: staff)
                ps.append(id)
            }
            let projects = ps
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<60 {
                    g.addTask { _ = try await l.donate(projectID: projects[i % 3], gift("\(50 + i)"), actor: staff) }
                }
                try await g.waitForAll()
            }
            // On PostgreSQL a gift that found its project's match busy left it to the next one or
            // to the housekeeping job; run the job as the server would.
            _ = try await l.matchPending()
            let matched = try await f.linli.store.read { db in
                try await db.raw("SELECT project_id, CAST(SUM(amount) AS BIGINT) AS m FROM ledger_transactions WHERE kind = 'match' GROUP BY project_id").all()
                    .map { try $0.decode(column: "m", as: Int64.self) }
            }
            #expect(matched.allSatisfy { $0 <= 100_000 })
            #expect(matched.reduce(0, +) == 250_000)  // the pool is spent exactly, never more
            let pools = try await l.pools(communityPath: try await f.linli.store.read { db in
                try await db.raw("SELECT path FROM places WHERE id = \(bind: f.demo.firstCommunityID)").first()!.decode(column: "path", as: String.self)
            })
            #expect(pools.first { $0.id == pool }?.balance == 0)
            await expectCode("nothing_due") { _ = try await l.match(projectID: projects[0], amount: nil, actor: staff) }
            // The project the pool ran out on is still entitled, but the pool is empty.
            var short: Int64?
            for p in projects where try await l.project(p, actor: staff).money.matched < 100_000 { short = p }
            if let short { await expectCode("beyond_pool") { _ = try await l.match(projectID: short, amount: "1", actor: staff) } }
            #expect(short != nil)
            #expect(try await l.checkLedger().ok)
        }
    }

    /// Forty gifts to one project at once, with an expense asked for meanwhile: on PostgreSQL they
    /// book into shards of the project instead of queueing on one row, and the match, made by
    /// whichever gift holds it and then by the job for the ones that found it busy, comes to
    /// exactly what the rule gives for the total, up to the cap and never beyond.
    @Test(arguments: Backend.available)
    func crowdedGiftsToOneProjectPassEachOtherAndAreMatchedToTheCap(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street")
            let (project, _) = try await rampProject(f, staff: staff, street: street, poolAmount: "100000", cap: "3000", seed: "100")
            let first = try await l.donate(projectID: project, gift("200"), actor: staff)
            #expect(first.matched == 20_000)
            let png = [UInt8](Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")!)
            let (receipts, expense) = try await withThrowingTaskGroup(of: (LinkageService.DonationReceipt?, Int64?).self) { g in
                for i in 0..<40 { g.addTask { (try await l.donate(projectID: project, gift("80", name: "邻居\(i)"), actor: staff), nil) } }
                g.addTask { (nil, try await l.requestExpense(projectID: project, amount: "300", payee: "施工队", purpose: "材料", receipt: png, actor: staff)) }
                var r: [LinkageService.DonationReceipt] = [], e: Int64?
                for try await (d, x) in g { if let d { r.append(d) }; if let x { e = x } }
                return (r, e)
            }
            #expect(receipts.count == 40 && expense != nil)
            _ = try await l.matchPending()
            let money = try await l.project(project, actor: staff).money
            #expect(money.raised == 340_000)
            #expect(money.matched == 300_000, "the cap, exactly: \(money.matched)")
            #expect(money.left == 640_000)
            let byGifts = receipts.reduce(Int64(0)) { $0 + $1.matched }
            let (left, shards) = try await f.linli.store.read { db in
                (try await db.raw("SELECT COUNT(*) AS n FROM match_pending").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM project_totals WHERE project_id = \(bind: project) AND raised > 0").first()!.decode(column: "n", as: Int.self))
            }
            #expect(left == 0, "every note was matched")
            // SQLite's one writer: every gift makes its own match. PostgreSQL: some came later.
            if backend == .postgres { #expect(byGifts <= 280_000) } else { #expect(byGifts == 280_000) }
            if backend == .postgres { #expect(shards >= 2, "the crowd spread over the project's shards") } else { #expect(shards == 1) }
            #expect(try await l.checkLedger().ok)
            // The expense asked for meanwhile is paid from what is there.
            #expect(try await l.approveExpense(expense!, actor: street) == "pending")
            #expect(try await l.approveExpense(expense!, actor: try await f.actor("admin")) == "paid")
            #expect(try await l.project(project, actor: staff).money.left == 610_000)
            #expect(try await l.checkLedger().ok)
        }
    }

    /// The same gift sent several times at once (a phone that lost the answer and retried) is
    /// booked once; every sending is answered with that gift's receipt, none with an error.
    @Test(arguments: Backend.available)
    func oneGiftSentEightTimesAtOnceIsBookedOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street")
            let (project, _) = try await rampProject(f, staff: staff, street: street)
            let receipts = try await withThrowingTaskGroup(of: LinkageService.DonationReceipt.self) { g in
                for _ in 0..<8 { g.addTask { try await l.donate(projectID: project, gift("200", key: "slip-0042"), actor: staff) } }
                return try await g.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(receipts.map(\.transactionID)).count == 1, "one gift: \(receipts.map(\.transactionID))")
            #expect(receipts.filter { !$0.repeated }.count == 1)
            let gifts = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'donation' AND project_id = \(bind: project)").first()!.decode(column: "n", as: Int.self)
            }
            #expect(gifts == 1)
            #expect(try await l.checkLedger().ok)
        }
    }

    @Test(arguments: Backend.available)
    func aNeedBecomesAProjectThatRunsToEvaluation(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), resident = try await f.actor("resident"), volunteer = try await f.actor("volunteer"), street = try await f.actor("street")
            var n = LinkageService.NeedInput()
            n.kind = "proposal"; n.domain = "children"; n.title = "放学后托管"
            let need = try await l.postNeed(n, actor: resident)
            #expect(try await l.support(needID: need, actor: volunteer) == 2)
            #expect(try await l.support(needID: need, actor: volunteer) == 2)
            // Children's needs have no purchased service: a gap. Elderly care is bought and covers none of the needs.
            var s = LinkageService.ServiceInput()
            s.placeID = f.demo.firstStreetID; s.domain = "elderly"; s.name = "居家养老"; s.provider = "颐康"; s.communityIDs = [f.demo.firstCommunityID]
            _ = try await l.addService(s, actor: street)
            let gap = try await l.gap(communityID: f.demo.firstCommunityID, actor: staff)
            #expect(gap.first { $0.domain == "children" }?.gap == true && gap.first { $0.domain == "elderly" }?.gap == false)
            #expect(try await l.needs(communityID: f.demo.firstCommunityID, uncoveredOnly: true, actor: resident).map(\.id) == [need])

            var p = LinkageService.ProjectInput()
            p.needID = need; p.title = "四点半课堂"; p.domain = "children"; p.budget = "8000"
            let project = try await l.createProject(p, actor: staff)
            await expectCode("need_closed") { _ = try await l.support(needID: need, actor: staff) }
            await expectCode("required") { _ = try await l.advanceProject(project, note: "", evaluation: nil, rating: nil, actor: staff) }
            _ = try await l.advanceProject(project, note: "调研完成", evaluation: nil, rating: nil, actor: staff)
            _ = try await l.advanceProject(project, note: "居民议事通过", evaluation: nil, rating: nil, actor: staff)
            try await l.addProjectMilestone(project, title: "招募志愿者", dueDay: "2026-12-10", actor: staff)
            await expectCode("milestones_open") { _ = try await l.advanceProject(project, note: "执行完", evaluation: nil, rating: nil, actor: staff) }
            let ms = try await l.project(project, actor: staff).milestones[0].id
            _ = try await l.completeProjectMilestone(ms, actor: staff)
            _ = try await l.advanceProject(project, note: "执行完", evaluation: nil, rating: nil, actor: staff)
            await expectCode("invalid") { _ = try await l.advanceProject(project, note: "评估", evaluation: "孩子们很喜欢", rating: 7, actor: staff) }
            #expect(try await l.advanceProject(project, note: "评估", evaluation: "孩子们很喜欢", rating: 5, actor: staff) == .done)
            await expectCode("project_done") { _ = try await l.advanceProject(project, note: "再", evaluation: nil, rating: nil, actor: staff) }
            // Residents follow it; a resident cannot run it; nobody outside the street sees it.
            #expect(try await l.project(project, actor: resident).done)
            await expectCode("forbidden") { _ = try await l.advanceProject(project, note: "x", evaluation: nil, rating: nil, actor: resident) }
            let told = try await Self.count(f, "SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(resident.userID) AND link = '/projects/\(project)'")
            #expect(told >= 4)

            var w = LinkageService.WorkerInput()
            w.communityID = f.demo.firstCommunityID; w.name = "陈社工"; w.certificateLevel = "social_worker"
            let worker = try await l.addWorker(w, actor: staff)
            try await l.addTraining(workerID: worker, programme: "seed", title: "需求调研", hours: 16, day: "2026-10-01", actor: staff)
            await expectCode("invalid") { try await l.addTraining(workerID: worker, programme: "nope", title: "x", hours: 1, day: "2026-10-01", actor: staff) }
            #expect(try await l.workers(communityID: f.demo.firstCommunityID, actor: resident).first?.trainingHours == 16)
            do {
                let org = try #require(try await l.organisationWork(communityID: f.demo.firstCommunityID, actor: staff).first)
                try await l.addOrganisationMember(org.id, name: "周敏", role: "负责人", joined: "2025-03-01", actor: staff)
                await expectCode("required") { try await l.addOrganisationMember(org.id, name: " ", role: nil, joined: nil, actor: staff) }
                await expectCode("forbidden") { try await l.addOrganisationMember(org.id, name: "某", role: nil, joined: nil, actor: resident) }
                #expect(try await l.organisationWork(communityID: f.demo.firstCommunityID, actor: resident).first { $0.id == org.id }?.members == ["周敏（负责人）"])
            }
        }
    }
}

extension LinkageStoreTests {
    @Test(arguments: Backend.available)
    func aVentureRoundScoresAwardsWithinItsBudgetAndPaysInInstalments(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street"), admin = try await f.actor("admin")
            var p = LinkageService.ProjectInput()
            p.communityID = f.demo.firstCommunityID; p.title = "老年食堂志愿配送"; p.domain = "elderly"; p.budget = "8000"
            let project = try await l.createProject(p, actor: staff)
            p.title = "儿童阅读角"; p.domain = "children"
            let other = try await l.createProject(p, actor: street)
            var r = LinkageService.RoundInput()
            r.placeID = f.demo.firstStreetID; r.name = "2026 公益创投"; r.budget = "10000"; r.scoresNeeded = 2; r.instalments = 3
            await expectCode("out_of_scope") { var bad = r; bad.placeID = f.demo.cityID; _ = try await l.openRound(bad, actor: street) }
            let round = try await l.openRound(r, actor: street)
            await expectCode("beyond_budget") { _ = try await l.apply(roundID: round, projectID: project, requested: "10000.01", plan: "方案", actor: staff) }
            let a = try await l.apply(roundID: round, projectID: project, requested: "8000", plan: "每天送餐", actor: staff)
            await expectCode("already_applied") { _ = try await l.apply(roundID: round, projectID: project, requested: "100", plan: "再申请", actor: staff) }
            let b = try await l.apply(roundID: round, projectID: other, requested: "5000", plan: "阅读角", actor: street)
            await expectCode("not_scored") { try await l.award(applicationID: a, amount: "8000", actor: street) }
            await expectCode("own_application") { try await l.score(applicationID: b, score: 90, comment: nil, actor: street) }
            await expectCode("invalid") { try await l.score(applicationID: a, score: 101, comment: nil, actor: street) }
            try await l.score(applicationID: a, score: 88, comment: "需求明确", actor: street)
            await expectCode("already_scored") { try await l.score(applicationID: a, score: 80, comment: nil, actor: street) }
            try await l.score(applicationID: a, score: 92, comment: nil, actor: admin)
            await expectCode("forbidden") { try await l.score(applicationID: a, score: 92, comment: nil, actor: staff) }
            await expectCode("above_request") { try await l.award(applicationID: a, amount: "8000.01", actor: street) }
            try await l.award(applicationID: a, amount: "7000", actor: street)
            try await l.score(applicationID: b, score: 70, comment: nil, actor: admin)
            _ = try await f.linli.accounts.createUser(username: "reviewer", displayName: "评审", password: Fixture.password)
            try await f.linli.accounts.grant(username: "reviewer", role: .streetStaff, placeID: f.demo.firstStreetID)
            let second = try await f.actor("reviewer")
            try await l.score(applicationID: b, score: 75, comment: nil, actor: second)
            await expectCode("beyond_budget") { try await l.award(applicationID: b, amount: "3000.01", actor: street) }
            try await l.award(applicationID: b, amount: "3000", actor: street)
            // 7,000 in three instalments: 2,333.33, 2,333.33, then what remains.
            await expectCode("not_paid") { try await l.evaluateGrant(applicationID: a, evaluation: "好", rating: 5, actor: street) }
            for _ in 0..<3 { _ = try await l.payInstalment(applicationID: a, actor: street) }
            await expectCode("fully_paid") { _ = try await l.payInstalment(applicationID: a, actor: street) }
            let money = try await l.project(project, actor: staff).money
            #expect(money.granted == 700_000 && money.left == 700_000)
            try await l.evaluateGrant(applicationID: a, evaluation: "送餐 2,000 人次，老人满意", rating: 5, actor: street)
            let view = try await l.round(round, actor: staff)
            #expect(view.applications.count == 2 && !view.review && view.applications.allSatisfy { !$0.canScore && !$0.canPay })
            #expect(try await l.round(round, actor: street).applications.count == 2)
            #expect(try await l.checkLedger().ok)
            let grants = try await Self.count(f, "SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'grant' AND amount IN (233333, 233334)")
            #expect(grants == 3)
        }
    }
}

@Suite struct LinkageHTTPTests {
    @Test func pagesAndAPIAnswerOnlyThoseInScopeAndNameBadFields() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let tokens = try await f.tokens()
            let staff = try await f.actor("community"), street = try await f.actor("street")
            let (project, _) = try await LinkageStoreTests().rampProject(f, staff: staff, street: street)
            let outside = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM places WHERE kind = 'community' ORDER BY id DESC").first()!.decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                func call(_ uri: String, _ method: HTTPRequest.Method = .get, _ who: String?, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [:]
                    if let who { h[.authorization] = "Bearer \(tokens[who]!)" }
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                for page in ["/tasks", "/needs", "/projects", "/gap", "/funds", "/social-workers", "/ventures", "/projects/\(project)"] {
                    let r = try await call(page, .get, "community")
                    #expect(r.status == .ok, "\(page)")
                    #expect(!r.body.text.contains("{{"), "\(page)")
                }
                #expect(try await call("/volunteers", .get, "community").status == .ok)
                #expect(try await call("/volunteer", .get, "resident").status == .ok)
                #expect(try await call("/volunteer", .get, "community").status == .forbidden)
                // Another street's community is not there for this street's staff.
                #expect(try await call("/needs?community=\(outside)", .get, "community").status == .notFound)
                // A gift through the API: a bad amount names the field; a good one is acknowledged once.
                var r = try await call("/api/v1/projects/\(project)/donations", .post, "resident", #"{"amount":"-3"}"#)
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"amount""#))
                #expect(r.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                r = try await call("/api/v1/projects/\(project)/donations", .post, "resident", #"{"amount":"12.50","idempotency_key":"abc"}"#)
                #expect(r.status == .created && r.body.text.contains(#""amount":1250"#) && r.body.text.contains(#""status":"pending""#))
                let reference = String(r.body.text.firstMatch(of: /"reference":"(LL[A-Z2-7]{16})"/)!.1)
                r = try await call("/api/v1/projects/\(project)/donations", .post, "resident", #"{"amount":"12.50","idempotency_key":"abc"}"#)
                #expect(r.status == .ok && r.body.text.contains(#""repeated":true"#))
                // The money arrives by bank transfer; staff reconcile the statement.
                var h: HTTPFields = [.authorization: "Bearer \(tokens["community"]!)", .contentType: "text/csv"]
                r = try await client.execute(uri: "/api/v1/payments/bank-statement", method: .post, headers: h,
                                             body: ByteBuffer(string: "交易日期,流水号,金额,附言\n2026-12-05,B20261205001,12.50,捐款 \(reference)\n"))
                #expect(r.status == .ok && r.body.text.contains(#""outcome":"booked""#))
                h[.contentType] = nil
                // Property companies have no part in the fund; the public ledger needs no account.
                #expect(try await call("/api/v1/projects/\(project)/donations", .post, "property", #"{"amount":"1"}"#).status == .forbidden)
                r = try await call("/api/v1/ledger/\(f.demo.firstCommunityID)", .get, nil)
                #expect(r.status == .ok && r.body.text.contains("12.50"))
                let residentName = try await f.actor("resident").displayName
                #expect(!r.body.text.contains(#""who":"\#(residentName)""#) && r.body.text.contains(#""who":"\#(residentName.maskedName)""#))
                r = try await call("/api/v1/projects/\(project)", .get, "resident")
                #expect(r.status == .ok && r.body.text.contains(#""raised":1250"#))
            }
        }
    }
}

@Suite struct VolunteerCertificatePageTests {
    /// The volunteer's certificate of hours is a page of its own: the offices' certificates once
    /// took its template's name, and the volunteer's page came out with an empty heading.
    @Test func aVolunteersCertificateShowsTheirNameAndHours() async throws {
        try await withFixture(.sqlite) { f in
            _ = try await f.linli.loadLinkageDemo()
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "volunteer")
                let r = try await client.execute(uri: "/volunteer/certificate", method: .get, headers: [.cookie: cookie])
                #expect(r.status == .ok)
                #expect(r.body.text.contains("志愿服务时长证明") && r.body.text.contains(#"id="certificate""#), "\(r.body.text.prefix(600))")
                #expect(!r.body.text.contains("certificate-number"), "not the offices' certificate")
            }
        }
    }
}
