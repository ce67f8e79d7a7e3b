import Foundation
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The 12345 link's rules, by worked examples.
@Suite struct HotlineRulesTests {
    @Test func ticketNumbersAreTheHotlinesOwnShape() {
        #expect(HotlineRules.validTicketNo("HZ20261206-0001"))
        #expect(HotlineRules.validTicketNo("2026_12_06_17"))
        #expect(!HotlineRules.validTicketNo("HZ1"), "too short")
        #expect(!HotlineRules.validTicketNo(String(repeating: "9", count: 41)), "too long")
        #expect(!HotlineRules.validTicketNo("HZ 2026"), "no spaces")
        #expect(!HotlineRules.validTicketNo("工单2026120601"), "letters of the Latin alphabet only")
        #expect(!HotlineRules.validTicketNo("HZ/../1"))
    }

    @Test func theEarlierDeadlineHolds() {
        #expect(HotlineRules.resolveDue(policy: 1_000, hotline: 900) == 900, "the hotline's two days are shorter than our five")
        #expect(HotlineRules.resolveDue(policy: 1_000, hotline: 5_000) == 1_000, "our own rule is shorter")
    }

    @Test func dispatchAndDeadlineAreChecked() {
        let now: Int64 = 1_800_000_000
        #expect(HotlineRules.checkTimes(dispatched: now - 3600, due: now + 2 * 86400, now: now).isEmpty)
        #expect(HotlineRules.checkTimes(dispatched: now + 300, due: now + 86400, now: now).isEmpty, "five minutes ahead: the clocks disagree")
        #expect(HotlineRules.checkTimes(dispatched: now + 3600, due: now + 86400, now: now).map(\.code) == ["in_future"])
        #expect(HotlineRules.checkTimes(dispatched: now - 91 * 86400, due: now, now: now).map(\.code) == ["too_old"])
        #expect(HotlineRules.checkTimes(dispatched: now, due: now, now: now).map(\.field) == ["hotline_due_at"], "the deadline comes after the dispatch")
        #expect(HotlineRules.checkTimes(dispatched: now, due: now + 400 * 86400, now: now).map(\.field) == ["hotline_due_at"])
        #expect(HotlineRules.checkTimes(dispatched: nil, due: nil, now: now).map(\.field) == ["hotline_dispatched_at", "hotline_due_at"])
    }

    @Test func anObjectionComesOnceWhileOpenAndWithinADay() {
        let at: Int64 = 1_800_000_000
        #expect(HotlineRules.objectionRefusal(state: .none, open: true, dispatchedAt: at, now: at + 3600) == nil)
        #expect(HotlineRules.objectionRefusal(state: .none, open: true, dispatchedAt: at, now: at + 86400) == nil, "the 24th hour still counts")
        #expect(HotlineRules.objectionRefusal(state: .none, open: true, dispatchedAt: at, now: at + 86401)!.contains("24 小时"))
        #expect(HotlineRules.objectionRefusal(state: .refused, open: true, dispatchedAt: at, now: at)!.contains("已提出过"), "refused once, the unit handles it")
        #expect(HotlineRules.objectionRefusal(state: .pending, open: true, dispatchedAt: at, now: at) != nil)
        #expect(HotlineRules.objectionRefusal(state: .none, open: false, dispatchedAt: at, now: at)!.contains("不在办理中"))
    }

    @Test func aReturnCallIsRecordedOncePerResolution() {
        #expect(HotlineRules.mayRecordCallback(previous: nil, status: .assigned))
        #expect(!HotlineRules.mayRecordCallback(previous: .basic, status: .accepted), "recorded before it was handled: wait for the resolution")
        #expect(HotlineRules.mayRecordCallback(previous: .basic, status: .resolved), "…then call again")
        #expect(HotlineRules.mayRecordCallback(previous: .dissatisfied, status: .resolved), "reopened and resolved again: a new call")
        #expect(!HotlineRules.mayRecordCallback(previous: .satisfied, status: .closed), "a call that closed it is final")
    }

    @Test func theReturnCallClosesOrReopensOnlyAResolvedRequest() {
        #expect(HotlineRules.step(for: .satisfied, status: .resolved).map { "\($0.transition) \($0.rating)" } == "confirm 5")
        #expect(HotlineRules.step(for: .basic, status: .resolved).map { "\($0.transition) \($0.rating)" } == "confirm 4")
        #expect(HotlineRules.step(for: .dissatisfied, status: .resolved).map { "\($0.transition) \($0.rating)" } == "reject 2")
        #expect(HotlineRules.step(for: .satisfied, status: .accepted) == nil, "not yet handled: only recorded")
        #expect(HotlineRules.step(for: .dissatisfied, status: .closed) == nil)
    }
}

@Suite struct HotlineStoreTests {
    /// 10:00 on Monday 2026-12-07, China time.
    static func clock() -> TestClock { TestClock("2026-12-07T02:00:00Z") }

    static func ticket(_ no: String, place: Int64, due: String = "2026-12-08T10:00") -> RequestInput {
        var r = RequestInput()
        r.channel = "hotline"; r.hotlineTicketNo = no; r.hotlineDispatchedAt = "2026-12-07T09:30"; r.hotlineDueAt = due
        r.category = "noise"; r.description = "来电反映：小区北门工地夜间施工噪声。"; r.placeID = place
        r.contactName = "王先生"; r.contactPhone = "13800001111"
        return r
    }

    @Test(arguments: Backend.available)
    func aTicketComesInOnceWithTheHotlinesDeadline(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let rq = f.linli.requests
            let app = try await f.actor("hotline"), street = try await f.actor("street"), staff = try await f.actor("community")
            let first = try await rq.submit(Self.ticket("HZ20261207-0001", place: f.demo.firstCommunityID), actor: app)
            #expect(first.created && first.request.channel == "hotline")
            // The hotline's one day is shorter than the category's own rule: it is the clock.
            #expect(first.request.resolveDue == Input.localDateTime("2026-12-08T10:00")!)
            // Sent again (a retry): the same request, nothing new.
            let again = try await rq.submit(Self.ticket("HZ20261207-0001", place: f.demo.firstCommunityID), actor: app)
            #expect(!again.created && again.request.id == first.request.id)
            // The same number typed in at the street: refused, nothing written.
            let before = try await Self.count(f)
            do { _ = try await rq.submit(Self.ticket("HZ20261207-0001", place: f.demo.firstCommunityID), actor: street); Issue.record("accepted twice") } catch let e as LinliError {
                #expect(e.status == .conflict && e.field == "hotline_ticket_no", "\(e)")
            }
            #expect(try await Self.count(f) == before)
            // Only the hotline's account and the street's staff speak for the hotline.
            do { _ = try await rq.submit(Self.ticket("HZ20261207-0002", place: f.demo.firstCommunityID), actor: staff); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "channel", "\(e)")
            }
            // A ticket number on another channel, and times that make no sense, each name their field.
            var app2 = Self.ticket("HZ20261207-0003", place: f.demo.firstCommunityID)
            app2.channel = "phone"
            do { _ = try await rq.submit(app2, actor: street); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "hotline_ticket_no") }
            var late = Self.ticket("HZ20261207-0004", place: f.demo.firstCommunityID, due: "2026-12-07T09:00")
            do { _ = try await rq.submit(late, actor: app); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "hotline_due_at") }
            late.hotlineDispatchedAt = "2026-12-7 9:30"
            do { _ = try await rq.submit(late, actor: app); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "hotline_dispatched_at") }
            // A place outside the hotline account's grant is refused as any partner app's is; the
            // street types in tickets for its own area only.
            do { _ = try await rq.submit(Self.ticket("HZ20261207-0005", place: f.demo.byStreet[1].firstCommunityID), actor: street); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "place_id")
            }
            // A place-only ticket goes to the grid its households mostly belong to, or says in words why not.
            let assigned = try await rq.detail(first.request.id, actor: staff, lang: .zh).events.first { $0.kind == "assigned" }!.note
            #expect(!assigned.contains("no_"), "\(assigned)")
            // Staff see the hotline's fields; the push to an upper system carries the number.
            let d = try await rq.detail(first.request.id, actor: staff, lang: .zh)
            #expect(d.hotline?.ticketNo == "HZ20261207-0001" && d.hotline?.canObject == true && d.hotline?.canAnswer == false)
            let push = try await f.linli.store.read { db in try await RequestsService.push(db, id: first.request.id) }
            #expect(push?.hotline?.ticketNo == "HZ20261207-0001")
        }
    }

    static func count(_ f: Fixture) async throws -> Int {
        try await f.linli.store.read { db in
            try await db.query("SELECT COUNT(*) AS n FROM requests").first()!.decode(column: "n", as: Int.self)
                + db.query("SELECT COUNT(*) AS n FROM request_hotline").first()!.decode(column: "n", as: Int.self)
        }
    }

    @Test(arguments: Backend.available)
    func anObjectionIsAnsweredByTheHotlineNeverByTheObjector(_ backend: Backend) async throws {
        let clock = Self.clock()
        try await withFixture(backend, clock: clock) { f in
            let rq = f.linli.requests
            let app = try await f.actor("hotline"), street = try await f.actor("street"), staff = try await f.actor("community")
            let resident = try await f.actor("resident")
            let id = try await rq.submit(Self.ticket("HZ20261207-0101", place: f.demo.firstCommunityID), actor: app).request.id
            // Someone who neither handles nor routes it may not object; a reason is required.
            await #expect(throws: LinliError.notFound) { _ = try await rq.raiseHotlineObjection(id, HotlineObjectionInput(reason: "不是我的"), actor: resident) }
            do { _ = try await rq.raiseHotlineObjection(id, HotlineObjectionInput(reason: "  "), actor: staff); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "reason")
            }
            let raised = try await rq.raiseHotlineObjection(id, HotlineObjectionInput(reason: "工地在翠苑社区辖区，不属于本社区。"), actor: staff)
            #expect(raised.objection == "pending" && !raised.canObject)
            do { _ = try await rq.raiseHotlineObjection(id, HotlineObjectionInput(reason: "再提"), actor: staff); Issue.record("twice") } catch let e as LinliError {
                #expect(e.status == .conflict && e.field == "state")
            }
            // The hotline was told (its inbox), and refusing needs a reason.
            do { _ = try await rq.answerHotlineObjection(id, HotlineAnswerInput(accepted: false), actor: app); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "note")
            }
            await #expect(throws: LinliError.self) { _ = try await rq.answerHotlineObjection(id, HotlineAnswerInput(accepted: true), actor: staff) }
            let refused = try await rq.answerHotlineObjection(id, HotlineAnswerInput(accepted: false, note: "工地出入口在本社区，请继续办理。"), actor: app)
            #expect(refused.objection == "refused" && refused.objectionAnswer.contains("出入口"))
            #expect(try await rq.detail(id, actor: staff, lang: .zh).request.status == "assigned", "refused: still the community's")

            // The street objects to another ticket itself: it does not answer for the hotline (on
            // its own objection least of all).
            let other = try await rq.submit(Self.ticket("HZ20261207-0102", place: f.demo.firstCommunityID), actor: app).request.id
            _ = try await rq.raiseHotlineObjection(other, HotlineObjectionInput(reason: "应由城管处理。"), actor: street)
            do { _ = try await rq.answerHotlineObjection(other, HotlineAnswerInput(accepted: true), actor: street); Issue.record("answered own") } catch let e as LinliError {
                #expect(e.code == "not_your_request")
            }
            let agreed = try await rq.answerHotlineObjection(other, HotlineAnswerInput(accepted: true, note: "已改派城管。"), actor: app)
            #expect(agreed.objection == "accepted" && !agreed.canRecordCallback)
            let after = try await rq.detail(other, actor: staff, lang: .zh)
            #expect(after.request.status == "withdrawn" && after.events.contains { $0.kind == "hotline_returned" })
            await #expect(throws: LinliError.self) { _ = try await rq.hotlineCallback(other, HotlineCallbackInput(result: "satisfied"), actor: app) }

            // Typed in at the street for a resident's home: the hotline sees it, the resident sees
            // that it was objected to but not the units' reasons.
            var typed = Self.ticket("HZ20261207-0104", place: f.demo.firstCommunityID)
            typed.placeID = nil; typed.householdID = f.demo.firstHouseholdWithResidents
            let home = try await rq.submit(typed, actor: street).request.id
            #expect(try await rq.hotlineRequestID(ticketNo: "HZ20261207-0104", actor: app) == home)
            _ = try await rq.raiseHotlineObjection(home, HotlineObjectionInput(reason: "王家与物业的纠纷，应由物业处理。"), actor: staff)
            let theirs = try await rq.detail(home, actor: resident, lang: .zh)
            #expect(theirs.hotline?.objection == "pending" && theirs.hotline?.objectionReason == "")
            #expect(!theirs.events.contains { $0.kind == "hotline_objection" })
            #expect(try await rq.detail(home, actor: app, lang: .zh).hotline?.objectionReason.contains("物业") == true)
            _ = try await rq.answerHotlineObjection(home, HotlineAnswerInput(accepted: true, note: "已转物业热线。"), actor: app)
            let back = try await rq.detail(home, actor: resident, lang: .zh)
            #expect(back.events.contains { $0.kind == "hotline_back" } && !back.events.contains { $0.note.contains("物业热线") })

            // A day after the dispatch, the ticket is the unit's to handle.
            let third = try await rq.submit(Self.ticket("HZ20261207-0103", place: f.demo.firstCommunityID, due: "2026-12-10T10:00"), actor: app).request.id
            clock.advance(hours: 25)
            do { _ = try await rq.raiseHotlineObjection(third, HotlineObjectionInput(reason: "不属于本社区"), actor: staff); Issue.record("late") } catch let e as LinliError {
                #expect(e.status == .conflict && e.message.contains("24 小时"))
            }
            // Audit rows for each step.
            let audited = try await f.linli.store.read { db in
                try await db.query("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'request.hotline%'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(audited == 6)
        }
    }

    @Test(arguments: Backend.available)
    func theReturnCallClosesTheLoop(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let rq = f.linli.requests
            let app = try await f.actor("hotline"), street = try await f.actor("street"), staff = try await f.actor("community")
            func handled(_ no: String) async throws -> Int64 {
                let id = try await rq.submit(Self.ticket(no, place: f.demo.firstCommunityID), actor: app).request.id
                var done = RequestsService.ActionInput()
                done.note = "已与工地协调，夜间停工。"
                _ = try await rq.perform(.accept, id: id, RequestsService.ActionInput(), actor: staff)
                _ = try await rq.perform(.resolve, id: id, done, actor: staff)
                return id
            }
            let a = try await handled("HZ20261207-0201")
            // The community does not record the hotline's return call.
            await #expect(throws: LinliError.forbidden) { _ = try await rq.hotlineCallback(a, HotlineCallbackInput(result: "satisfied"), actor: staff) }
            let v = try await rq.hotlineCallback(a, HotlineCallbackInput(result: "satisfied"), actor: app)
            #expect(v.callback == "satisfied" && !v.canRecordCallback)
            let closed = try await rq.detail(a, actor: staff, lang: .zh).request
            #expect(closed.status == "closed" && closed.rating == 5)
            do { _ = try await rq.hotlineCallback(a, HotlineCallbackInput(result: "dissatisfied", note: "又吵了"), actor: app); Issue.record("twice") } catch let e as LinliError {
                #expect(e.status == .conflict)
            }
            // Dissatisfied: a reason, and the request goes back to the unit. The street, which routes
            // it, does not speak for the hotline; nor does the ticket's submitter close it by the
            // ordinary confirm.
            let b = try await handled("HZ20261207-0202")
            do { _ = try await rq.hotlineCallback(b, HotlineCallbackInput(result: "dissatisfied"), actor: app); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "note")
            }
            do { _ = try await rq.hotlineCallback(b, HotlineCallbackInput(result: "great"), actor: app); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "result")
            }
            do { _ = try await rq.hotlineCallback(b, HotlineCallbackInput(result: "satisfied"), actor: street); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.code == "not_your_request")
            }
            var five = RequestsService.ActionInput()
            five.rating = 5
            do { _ = try await rq.perform(.confirm, id: b, five, actor: app); Issue.record("closed by confirm") } catch let e as LinliError {
                #expect(e.code == "not_your_request")
            }
            _ = try await rq.hotlineCallback(b, HotlineCallbackInput(result: "dissatisfied", note: "夜里仍有施工。"), actor: app)
            let reopened = try await rq.detail(b, actor: staff, lang: .zh).request
            #expect(reopened.status == "accepted" && reopened.rating == 2)
            // Resolved again, the hotline calls again: satisfied this time, and it closes.
            var again = RequestsService.ActionInput()
            again.note = "已协调工地改为白天施工。"
            _ = try await rq.perform(.resolve, id: b, again, actor: staff)
            _ = try await rq.hotlineCallback(b, HotlineCallbackInput(result: "satisfied"), actor: app)
            #expect(try await rq.detail(b, actor: staff, lang: .zh).request.status == "closed")
            // Not yet handled: the answer is only recorded.
            let c = try await rq.submit(Self.ticket("HZ20261207-0203", place: f.demo.firstCommunityID), actor: app).request.id
            _ = try await rq.hotlineCallback(c, HotlineCallbackInput(result: "basically_satisfied"), actor: app)
            #expect(try await rq.detail(c, actor: staff, lang: .zh).request.status == "assigned")
            // A request that is not a ticket has no return call of the hotline's.
            var plain = RequestInput()
            plain.category = "noise"; plain.description = "楼下广场舞音响太大。"; plain.householdID = f.demo.firstHouseholdWithResidents
            let p = try await rq.submit(plain, actor: try await f.actor("resident")).request.id
            await #expect(throws: LinliError.notFound, "the hotline sees its tickets only") { _ = try await rq.hotlineCallback(p, HotlineCallbackInput(result: "satisfied"), actor: app) }
        }
    }
}
