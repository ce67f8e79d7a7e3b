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

/// The government's meal subsidy for a canteen's month: billed from the month's subsidised meals
/// once it has ended, booked on the ledger only as it arrives, never more than is owed.
@Suite struct CanteenSubsidyPaymentTests {
    @Test(arguments: Backend.available)
    func aMonthsSubsidyIsPaidAsItArrives(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-08T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            var c = CanteenInput()
            c.placeID = f.demo.firstCommunityID; c.name = "邻里食堂"; c.cutoff = "09:30"
            let canteen = try await a.createCanteen(c, actor: staff)
            var rule = SubsidyRuleInput()
            rule.placeID = f.demo.firstStreetID; rule.label = "所有居民（测试）"; rule.from = "2020-01-01"; rule.minAge = 0; rule.subsidy = "5"; rule.minSpend = "3"
            _ = try await a.addSubsidyRule(rule, actor: street)
            var m = MenuInput()
            m.day = "2026-12-09"; m.meal = "lunch"; m.dishes = "红烧肉、青菜"; m.price = "12"; m.portions = 5
            let menu = try await a.setMenu(canteen.id, m, actor: staff)
            let people = try await f.linli.registry.household(f.demo.firstHouseholdWithResidents, actor: resident).residents
            for p in people.prefix(2) {
                var o = MealOrderInput()
                o.residentID = p.id
                _ = try await a.order(menu, o, actor: resident)
            }
            var pay = SubsidyPaymentInput()
            pay.month = "2026-12"; pay.amount = "6"; pay.reference = "财政 R1"; pay.day = "2026-12-08"
            do { _ = try await a.receiveSubsidy(canteen.id, pay, actor: staff); Issue.record("a month not ended") } catch let e as LinliError { #expect(e.field == "month" && e.code == "not_ended") }
            clock.advance(hours: 24 * 28)   // 2027-01-05
            var s = try await a.settlement(canteen.id, month: "2026-12", actor: staff)
            #expect(s.ended && s.total == "10.00" && s.received == "0.00" && s.outstanding == "10.00")
            pay.day = "2027-01-04"
            let asResident = pay
            await #expect(throws: LinliError.forbidden) { _ = try await a.receiveSubsidy(canteen.id, asResident, actor: resident) }
            pay.amount = "10"; pay.day = "2026-12-31"
            do { _ = try await a.receiveSubsidy(canteen.id, pay, actor: staff); Issue.record("paid inside the month") } catch let e as LinliError { #expect(e.field == "day") }
            pay.amount = "10.01"; pay.day = "2027-01-04"
            do { _ = try await a.receiveSubsidy(canteen.id, pay, actor: staff); Issue.record("too much") } catch let e as LinliError { #expect(e.field == "amount" && e.code == "above_due") }
            pay.amount = "6"
            s = try await a.receiveSubsidy(canteen.id, pay, actor: staff)
            #expect(s.received == "6.00" && s.outstanding == "4.00" && s.payments.map(\.reference) == ["财政 R1"])
            do { _ = try await a.receiveSubsidy(canteen.id, pay, actor: staff); Issue.record("booked twice") } catch let e as LinliError { #expect(e.status == .conflict && e.field == "reference") }
            pay.amount = "4"; pay.reference = "财政 R2"
            s = try await a.receiveSubsidy(canteen.id, pay, actor: staff)
            #expect(s.outstanding == "0.00")
            pay.amount = "1"; pay.reference = "财政 R3"
            do { _ = try await a.receiveSubsidy(canteen.id, pay, actor: staff); Issue.record("paid in full already") } catch let e as LinliError { #expect(e.field == "amount") }
            // On the community's public ledger, and the books balance.
            let ledger = try await f.linli.linkage.publicLedger(communityID: f.demo.firstCommunityID, before: nil)
            let lines = ledger.lines.filter { $0.kind == "meal_subsidy" }
            #expect(lines.count == 2 && lines.allSatisfy { $0.who == "邻里食堂 2026-12" } && ledger.totals["meal_subsidy"] == "10.00")
            #expect(try await f.linli.linkage.checkLedger().ok)

            // The console page and its twin.
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            try await built.app.test(.router) { client in
                var r = try await client.execute(uri: "/canteens/\(canteen.id)/settlement?month=2026-12", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(r.status == .ok && r.body.text.contains("10.00") && r.body.text.contains("财政 R2") && !r.body.text.contains("subsidy-pay-form"), "paid in full: no form")
                r = try await client.execute(uri: "/canteens/\(canteen.id)/settlement", method: .get, headers: [.authorization: "Bearer \(t["resident"]!)"])
                #expect(r.status == .forbidden)
                r = try await client.execute(uri: "/api/v1/canteens/\(canteen.id)/settlement", method: .post,
                                             headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "application/json"],
                                             body: ByteBuffer(string: #"{"month":"2026-11","amount":"1","reference":"X","day":"2027-01-04"}"#))
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"amount""#), "November had no subsidised meals: \(r.body.text)")
            }
        }
    }
}

/// A canteen's delivery round carried by volunteer shifts: the day's delivery orders appear on
/// the shift of the volunteer who took it, their doors' codes check the volunteer in, and the
/// volunteer marks each meal delivered; the kitchen sees who is on the round.
@Suite struct CanteenRoundTests {
    @Test(arguments: Backend.available)
    func theDaysDeliveriesRideOnTheRoundsShift(_ backend: Backend) async throws {
        // 10:00 China time, Tuesday 2026-12-08: tomorrow's lunch is still open to order.
        let clock = TestClock("2026-12-08T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs, l = f.linli.linkage
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            var c = CanteenInput()
            c.placeID = f.demo.firstCommunityID; c.name = "邻里食堂"; c.cutoff = "09:30"; c.deliveryFee = "2"
            let canteen = try await a.createCanteen(c, actor: staff)
            var m = MenuInput()
            m.day = "2026-12-09"; m.meal = "lunch"; m.dishes = "清蒸鲈鱼、麻婆豆腐"; m.price = "12"; m.portions = 10
            let menu = try await a.setMenu(canteen.id, m, actor: staff)
            let people = try await f.linli.registry.household(f.demo.firstHouseholdWithResidents, actor: resident).residents
            var o = MealOrderInput()
            o.residentID = people[0].id; o.delivery = true
            let order = try await a.order(menu, o, actor: resident)
            o.residentID = people[1].id; o.delivery = false
            _ = try await a.order(menu, o, actor: resident)

            // The round: a recurring delivery task, and two volunteers, one of whom takes Wednesday's shift.
            let volunteers = try await makeVolunteers(f, 2)
            var t = LinkageService.TaskInput()
            t.communityID = f.demo.firstCommunityID; t.title = "长者食堂送餐"; t.kind = "recurring"; t.skills = ["delivery"]; t.placeID = f.demo.firstCommunityID
            t.firstDay = "2026-12-08"; t.lastDay = "2026-12-31"; t.weekdays = [1, 2, 3, 4, 5]; t.startTime = "11:00"; t.durationMinutes = 60; t.headcount = 2
            let task = try await l.postTask(t, actor: staff)
            #expect(try await a.deliveryTaskChoices(canteen.id, actor: staff).map(\.id).contains(task))
            do { _ = try await a.setDeliveryTask(canteen.id, taskID: 999_999, actor: staff); Issue.record("a task not of the community") } catch let e as LinliError { #expect(e.field == "task_id") }
            await #expect(throws: LinliError.self) { _ = try await a.setDeliveryTask(canteen.id, taskID: task, actor: resident) }
            #expect(try await a.setDeliveryTask(canteen.id, taskID: task, actor: staff).deliveryTaskID == task)
            let (wednesday, vid) = try await f.linli.store.read { db in
                (try await db.raw("SELECT id FROM task_shifts WHERE task_id = \(bind: task) AND starts_at = \(bind: LocalTime.parse("2026-12-09T11:00")!)").first()!.decode(column: "id", as: Int64.self),
                 try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: volunteers[0].userID)").first()!.decode(column: "id", as: Int64.self))
            }
            var k = try await a.kitchen(canteen.id, day: Input.day("2026-12-09")!, actor: staff)
            #expect(k.roundByVolunteers && k.crew.isEmpty, "nobody on Wednesday's round yet")
            let assignment = try await l.propose(shiftID: wednesday, volunteerID: vid, actor: staff)
            // Only proposed: the list is not theirs yet.
            #expect(try await l.myShifts(actor: volunteers[0]).first { $0.assignmentID == assignment }!.deliveries.isEmpty)
            try await l.answer(assignmentID: assignment, accept: true, actor: volunteers[0])
            k = try await a.kitchen(canteen.id, day: Input.day("2026-12-09")!, actor: staff)
            #expect(k.crew.count == 1 && k.crew[0].hasSuffix("（待确认）"), "accepted, not yet confirmed: \(k.crew)")
            // Accepted (as anyone who signs up is) is not enough for the doors of elders: staff confirm first.
            #expect(try await l.myShifts(actor: volunteers[0]).first { $0.assignmentID == assignment }!.deliveries.isEmpty)
            try await l.confirmAssignment(assignment, actor: staff)
            k = try await a.kitchen(canteen.id, day: Input.day("2026-12-09")!, actor: staff)
            #expect(k.crew.count == 1 && k.crew[0].hasSuffix("*"), "family name only: \(k.crew)")

            // Anyone may sign up for the round's shift themselves; that alone shows them no doors.
            _ = try await l.signUp(shiftID: wednesday, actor: volunteers[1])
            #expect(try await l.myShifts(actor: volunteers[1]).allSatisfy { $0.deliveries.isEmpty })
            // Tuesday: tomorrow's list on the volunteer's shift (the delivered meal only), not yet markable.
            var mine = try await l.myShifts(actor: volunteers[0]).first { $0.assignmentID == assignment }!
            #expect(mine.deliveries.map(\.orderID) == [order.id] && !mine.deliveriesToday && mine.deliveries[0].diner.hasSuffix("*"))
            await #expect(throws: LinliError.notFound) { _ = try await a.deliverOrder(order.id, actor: volunteers[1]) }
            do { _ = try await a.deliverOrder(order.id, actor: volunteers[0]); Issue.record("a day early") } catch let e as LinliError { #expect(e.code == "not_yet") }

            // Wednesday 11:05: the door's code checks the volunteer in; "delivered" tells the one who ordered.
            clock.advance(hours: 25 + 5.0 / 60)
            mine = try await l.myShifts(actor: volunteers[0]).first { $0.assignmentID == assignment }!
            #expect(mine.deliveriesToday)
            let door = try await f.linli.store.read { db in
                try await db.raw("SELECT code FROM households WHERE id = \(bind: f.demo.firstHouseholdWithResidents)").first()!.decode(column: "code", as: String.self)
            }
            try await l.checkIn(assignment, code: door, actor: volunteers[0])
            let stop = try await a.deliverOrder(order.id, actor: volunteers[0])
            #expect(stop.served && stop.servedAt == "11:05")
            #expect(try await a.deliverOrder(order.id, actor: volunteers[0]).servedAt == "11:05", "a second tap changes nothing")
            // The other volunteer, who only signed up for the same shift, sees no doors and marks nothing.
            #expect(try await l.myShifts(actor: volunteers[1]).allSatisfy { $0.deliveries.isEmpty })
            await #expect(throws: LinliError.notFound) { _ = try await a.deliverOrder(order.id, actor: volunteers[1]) }
            let heard = try await f.linli.store.read { db in
                try await db.query("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(resident.userID) AND kind = 'canteen_served'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(heard == 1)
            // The stop's JSON never carries the door's code.
            #expect(!String(decoding: try JSON.bytes(stop), as: UTF8.self).contains(door))

            // The console: the volunteer's page lists the door; the kitchen names the crew.
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let onRound = k.crew[0]
            let vt = try await f.linli.accounts.createAPIToken(username: volunteers[0].username, name: "t")
            let st = try await f.token("community")
            try await built.app.test(.router) { client in
                var r = try await client.execute(uri: "/volunteer", method: .get, headers: [.authorization: "Bearer \(vt)"])
                #expect(r.status == .ok && r.body.text.contains("stop-\(order.id)") && r.body.text.contains("已送达"))
                // The meal by its name, not its code (the canteen's words once left the platform's catalogue).
                #expect(r.body.text.contains("午餐") && !r.body.text.contains("meal_lunch"), "the round names the meal")
                r = try await client.execute(uri: "/canteens/\(canteen.id)/kitchen?day=2026-12-09", method: .get, headers: [.authorization: "Bearer \(st)"])
                #expect(r.status == .ok && r.body.text.contains("id=\"round-crew\"") && r.body.text.contains(onRound) && !r.body.text.contains("round-no-crew"))
                r = try await client.execute(uri: "/canteens/\(canteen.id)/kitchen?day=2026-12-10", method: .get, headers: [.authorization: "Bearer \(st)"])
                #expect(r.status == .ok && r.body.text.contains("round-no-crew"), "nobody on Thursday's round")
                r = try await client.execute(uri: "/api/v1/canteens/\(canteen.id)/delivery-task", method: .post,
                                             headers: [.authorization: "Bearer \(st)", .contentType: "application/json"], body: ByteBuffer(string: #"{"task_id":null}"#))
                #expect(r.status == .ok && !r.body.text.contains("delivery_task_id\":\(task)"))
            }
        }
    }
}

/// An activity's helpers: a volunteer shift at its time and place, whose rule credits them.
@Suite struct ActivityHelpersTests {
    @Test(arguments: Backend.available)
    func helpersAreAShiftThatEarnsItsPoints(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-08T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs, l = f.linli.linkage
            let staff = try await f.actor("community"), org = try await f.actor("socialorg")
            var i = ActivityInput()
            i.placeID = f.demo.firstCommunityID; i.title = "周末亲子手工课"; i.venue = "党群服务中心二楼"; i.capacity = 12
            i.startsAt = "2026-12-12T09:30"; i.endsAt = "2026-12-12T11:00"; i.helpers = 51
            do { _ = try await a.createActivity(i, actor: staff); Issue.record("too many") } catch let e as LinliError { #expect(e.field == "helpers") }
            i.helpers = 2; i.helperPointsPerHour = 10
            let activity = try await a.createActivity(i, actor: staff)
            let task = try #require(activity.helperTaskID)
            let view = try await l.task(task, month: "2026-12", actor: staff)
            #expect(view.headcount == 2 && view.pointsPerHour == 10 && view.shifts.count == 1 && view.address == "党群服务中心二楼")
            // An organisation's account runs its own activities but does not post volunteer tasks.
            var theirs = i
            theirs.placeID = nil
            do { _ = try await a.createActivity(theirs, actor: org); Issue.record("an organisation posted helpers") } catch let e as LinliError { #expect(e.field == "helpers") }
            #expect(try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM activities").first()!.decode(column: "n", as: Int.self) } == 1,
                    "the refused activity is not written")

            // A volunteer takes the shift, works it, and the hours are credited at the activity's rule.
            let volunteer = try await makeVolunteers(f, 1, availability: ["6am"])[0]
            let assignment = try await l.signUp(shiftID: view.shifts[0].id, actor: volunteer)
            // Another activity with helpers, called off: its shift is released and its volunteer told.
            var other = i
            other.title = "冬至包饺子"; other.startsAt = "2026-12-21T14:00"; other.endsAt = "2026-12-21T16:00"
            let party = try await a.createActivity(other, actor: staff)
            let partyShift = try await l.task(party.helperTaskID!, month: "2026-12", actor: staff).shifts[0].id
            let held = try await l.signUp(shiftID: partyShift, actor: volunteer)
            _ = try await a.cancelActivity(party.id, actor: staff)
            let (status, taskStatus, told) = try await f.linli.store.read { db in
                (try await db.raw("SELECT status FROM shift_assignments WHERE id = \(bind: held)").first()!.decode(column: "status", as: String.self),
                 try await db.raw("SELECT status FROM volunteer_tasks WHERE id = \(bind: party.helperTaskID!)").first()!.decode(column: "status", as: String.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(bind: volunteer.userID) AND kind = 'shift_cancelled'").first()!.decode(column: "n", as: Int.self))
            }
            #expect(status == "cancelled" && taskStatus == "closed" && told == 1)
            await #expect(throws: LinliError.self) { _ = try await l.signUp(shiftID: partyShift, actor: volunteer) }
            clock.advance(hours: 4 * 24 + 2)   // 2026-12-12 12:00
            try await l.checkIn(assignment, code: nil, at: "2026-12-12T09:20", actor: staff)
            try await l.checkOut(assignment, at: "2026-12-12T11:20", actor: staff)
            #expect(try await l.confirmHours(assignment, minutes: nil, actor: staff) == 20, "two hours at 10 points an hour")
        }
    }
}

/// A walk-in with no household on the register: a ticket by name, sealed, the office's alone.
@Suite struct VisitorWalkInTests {
    @Test(arguments: Backend.available)
    func aVisitorWithoutAHouseholdGetsATicket(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            var s = AffairInput()
            s.placeID = f.demo.firstCommunityID; s.name = "居住证明"; s.mode = .both; s.promisedDays = 3
            let affair = try await a.createAffair(s, actor: staff)
            var i = ApplyInput()
            do { _ = try await a.walkIn(affair.id, i, actor: staff); Issue.record("nobody") } catch let e as LinliError { #expect(e.field == "household_code") }
            i.visitorPhone = "13800001111"
            do { _ = try await a.walkIn(affair.id, i, actor: staff); Issue.record("no name") } catch let e as LinliError { #expect(e.field == "visitor_name") }
            i.visitorName = "张三\n13900000000"
            do { _ = try await a.walkIn(affair.id, i, actor: staff); Issue.record("two lines") } catch let e as LinliError { #expect(e.field == "visitor_name") }
            i.visitorName = "张三"; i.visitorPhone = "138-0000-x"
            do { _ = try await a.walkIn(affair.id, i, actor: staff); Issue.record("a bad phone") } catch let e as LinliError { #expect(e.field == "visitor_phone") }
            i.visitorPhone = "13800001111"
            let ticket = try await a.walkIn(affair.id, i, actor: staff)
            #expect(ticket.status == .waiting && ticket.ticket != nil && ticket.householdID == 0)
            #expect(ticket.address == "来访：张三 · 138****1111", "the office reads who came, the phone masked: \(ticket.address)")
            let desk = try await a.desk(actor: staff)
            #expect(desk.waiting.contains { $0.id == ticket.id && $0.address == "来访者（未登记住户）" }, "lists do not name the visitor")
            // Sealed at rest; no resident, however near, sees it.
            let sealed = try await f.linli.store.read { db in
                try await db.query("SELECT visitor_cipher FROM affair_applications WHERE id = \(ticket.id)").first()!.decode(column: "visitor_cipher", as: String.self)
            }
            #expect(!sealed.contains("张三") && !sealed.contains("13800001111"))
            await #expect(throws: LinliError.notFound) { _ = try await a.application(ticket.id, actor: resident) }
            // Called and done like any ticket.
            _ = try await a.step(ticket.id, .call, AffairStepInput(), actor: staff)
            #expect(try await a.step(ticket.id, .done, AffairStepInput(), actor: staff).status == .done)
        }
    }
}
