import Foundation
import Hummingbird
import HTTPTypes
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

/// The visit plan's arithmetic, by worked examples (Saturday 2026-12-05 unless said).
@Suite struct VisitPlanTests {
    static func day(_ s: String) -> Int64 { Input.day(s)! }
    static func at(_ s: String) -> Int64 { LocalTime.parse(s)! }
    let today = day("2026-12-05")

    @Test func windowsFollowTheCalendar() {
        #expect(VisitPeriod.week.window(containing: today) == (Self.day("2026-11-30"), Self.day("2026-12-06")))
        #expect(VisitPeriod.week.window(containing: Self.day("2026-11-30")) == (Self.day("2026-11-30"), Self.day("2026-12-06")))
        #expect(VisitPeriod.month.window(containing: today) == (Self.day("2026-12-01"), Self.day("2026-12-31")))
        #expect(VisitPeriod.quarter.window(containing: today) == (Self.day("2026-10-01"), Self.day("2026-12-31")))
        #expect(VisitPeriod.quarter.window(containing: Self.day("2026-02-28")) == (Self.day("2026-01-01"), Self.day("2026-03-31")))
        #expect(VisitPeriod.year.window(containing: today) == (Self.day("2026-01-01"), Self.day("2026-12-31")))
        // Fortnights start on a Monday, the same for everyone, and follow each other without a gap.
        let f = VisitPeriod.fortnight.window(containing: today)
        #expect(f.last - f.first == 13 && LocalDay.weekday(f.first) == 1 && (f.first...f.last).contains(today))
        #expect(VisitPeriod.fortnight.window(containing: f.last + 1).first == f.last + 1)
        #expect(VisitPeriod.fortnight.window(containing: 0).first <= 0)
    }

    @Test func theMostFrequentFittingRuleWinsAndAGridsOwnReplacesTheCommunitys() {
        let rules = VisitDefaults.rules + [VisitRule(situation: "elderly_alone", period: .month, gridID: 7)]
        #expect(VisitPlan.rule(for: ["elderly_alone"], gridIDs: [3, 4], rules: rules) == VisitRule(situation: "elderly_alone", period: .week))
        #expect(VisitPlan.rule(for: ["elderly_alone"], gridIDs: [7, 8], rules: rules) == VisitRule(situation: "elderly_alone", period: .month, gridID: 7))
        #expect(VisitPlan.rule(for: ["disabled", "low_income"], gridIDs: [3, 4], rules: rules)?.period == .fortnight)
        // Nothing pressing: every household's yearly visit; a tag without a rule changes nothing.
        #expect(VisitPlan.rule(for: ["child"], gridIDs: [3, 4], rules: rules) == VisitRule(situation: "all", period: .year))
        #expect(VisitPlan.rule(for: [], gridIDs: [3], rules: [VisitRule(situation: "disabled", period: .week)]) == nil)
        // Two situations at one pace: the more pressing one is named.
        let even = [VisitRule(situation: "elderly", period: .month), VisitRule(situation: "low_income", period: .month)]
        #expect(VisitPlan.rule(for: ["elderly", "low_income"], gridIDs: [], rules: even)?.situation == "low_income")
    }

    @Test func aWeeklyHouseholdIsDueUntilVisitedThisWeek() {
        let sunday = Self.day("2026-12-06")
        // Never visited since long before last week: due Sunday, and overdue (last week was missed).
        #expect(VisitPlan.due(period: .week, facts: VisitFacts(since: Self.at("2026-11-01T09:00")), today: today)
                == DueItem(reason: .plan, dueDay: sunday, overdue: true, retryFrom: nil))
        // New this week: due, not yet overdue.
        #expect(VisitPlan.due(period: .week, facts: VisitFacts(since: Self.at("2026-12-02T09:00")), today: today)?.overdue == false)
        // Visited last week: due this week, not overdue.
        #expect(VisitPlan.due(period: .week, facts: VisitFacts(lastCounted: Self.at("2026-11-25T15:00"), since: 0), today: today)
                == DueItem(reason: .plan, dueDay: sunday, overdue: false, retryFrom: nil))
        // Visited on Monday: nothing due until next week.
        #expect(VisitPlan.due(period: .week, facts: VisitFacts(lastCounted: Self.at("2026-11-30T08:00"), since: 0), today: today) == nil)
        // Nobody home yesterday: still due, try again from tomorrow; a try three days ago is no reason to wait.
        let yesterday = VisitFacts(lastCounted: Self.at("2026-11-25T15:00"), lastAttempt: Self.at("2026-12-04T10:00"), since: 0)
        #expect(VisitPlan.due(period: .week, facts: yesterday, today: today)?.retryFrom == Self.day("2026-12-06"))
        let older = VisitFacts(lastCounted: Self.at("2026-11-25T15:00"), lastAttempt: Self.at("2026-12-01T10:00"), since: 0)
        #expect(VisitPlan.due(period: .week, facts: older, today: today)?.retryFrom == nil)
    }

    @Test func aFollowUpShowsThreeDaysAheadAndComesFirstWhenSooner() {
        let covered = VisitFacts(lastCounted: Self.at("2026-11-30T08:00"), followUpDay: Self.day("2026-12-08"), since: 0)
        #expect(VisitPlan.due(period: .week, facts: covered, today: today) == DueItem(reason: .followUp, dueDay: Self.day("2026-12-08"), overdue: false, retryFrom: nil))
        var later = covered
        later.followUpDay = Self.day("2026-12-20")
        #expect(VisitPlan.due(period: .week, facts: later, today: today) == nil)
        // A follow-up date that passed is overdue, with or without a plan.
        let missed = VisitFacts(followUpDay: Self.day("2026-12-03"), since: 0)
        #expect(VisitPlan.due(period: nil, facts: missed, today: today) == DueItem(reason: .followUp, dueDay: Self.day("2026-12-03"), overdue: true, retryFrom: nil))
    }

    @Test func theListReadsOnlyHouseholdsWhoseDayHasCome() {
        #expect(VisitPlan.showFrom(period: .week, facts: VisitFacts(lastCounted: Self.at("2026-12-01T08:00"), since: 0)) == Self.day("2026-12-07"))
        #expect(VisitPlan.showFrom(period: .month, facts: VisitFacts(since: Self.at("2026-12-02T08:00"))) == Self.day("2026-12-02"))
        #expect(VisitPlan.showFrom(period: .year, facts: VisitFacts(lastCounted: Self.at("2026-03-01T08:00"), followUpDay: Self.day("2026-12-08"), since: 0))
                == Self.day("2026-12-05"))
        #expect(VisitPlan.showFrom(period: nil, facts: VisitFacts(since: 0)) == Int64.max)
        // Whatever the facts, from the day they were true on, a household is never due before the day it shows from.
        let facts = [VisitFacts(lastCounted: Self.at("2026-12-01T08:00"), since: 0), VisitFacts(since: Self.at("2026-12-02T08:00")),
                     VisitFacts(lastCounted: Self.at("2026-11-20T08:00"), lastAttempt: Self.at("2026-12-04T08:00"), followUpDay: Self.day("2026-12-10"), since: 0)]
        for f in facts {
            for p in VisitPeriod.allCases {
                let known = [f.lastCounted, f.lastAttempt, f.since].compactMap { $0 }.map(LocalDay.of).max()!
                for d in known...Self.day("2027-01-31") where VisitPlan.due(period: p, facts: f, today: d) != nil {
                    #expect(d >= VisitPlan.showFrom(period: p, facts: f), "\(p) \(f) \(ChinaTime.iso(day: d))")
                }
            }
        }
    }

    @Test func theTwoWeekListReadsOnlyWhatItWillShow() {
        // A yearly household never visited comes within two weeks of 31 December on the 17th.
        #expect(VisitPlan.listFrom(period: .year, facts: VisitFacts(since: Self.at("2026-03-01T08:00")), horizon: 14) == Self.day("2026-12-17"))
        // Visited on 1 December, weekly: next week's window, from its first day.
        #expect(VisitPlan.listFrom(period: .week, facts: VisitFacts(lastCounted: Self.at("2026-12-01T08:00"), since: 0), horizon: 14) == Self.day("2026-12-07"))
        // A follow-up brings it forward.
        #expect(VisitPlan.listFrom(period: .year, facts: VisitFacts(followUpDay: Self.day("2026-06-10"), since: Self.at("2026-03-01T08:00")), horizon: 14)
                == Self.day("2026-06-07"))
        // Whatever the facts, an item on the list is never on it before its list day.
        let facts = [VisitFacts(lastCounted: Self.at("2026-12-01T08:00"), since: 0), VisitFacts(since: Self.at("2026-02-02T08:00")),
                     VisitFacts(lastCounted: Self.at("2026-11-20T08:00"), lastAttempt: Self.at("2026-12-04T08:00"), followUpDay: Self.day("2027-02-10"), since: 0),
                     VisitFacts(lastCounted: Self.at("2026-09-30T23:00"), since: Self.at("2026-01-01T08:00"))]
        for f in facts {
            for p in VisitPeriod.allCases {
                let known = [f.lastCounted, f.lastAttempt, f.since].compactMap { $0 }.map(LocalDay.of).max()!
                for d in known...Self.day("2027-12-31") {
                    if let item = VisitPlan.due(period: p, facts: f, today: d), VisitPlan.listed(item, today: d, horizon: 14) {
                        #expect(d >= VisitPlan.listFrom(period: p, facts: f, horizon: 14), "\(p) \(f) \(ChinaTime.iso(day: d))")
                    }
                }
            }
        }
    }

    @Test func overdueFirstThenWhatCanBeDoneTodayThenTheNearest() {
        let a = DueItem(reason: .plan, dueDay: today + 1, overdue: true, retryFrom: nil)
        let b = DueItem(reason: .plan, dueDay: today + 1, overdue: false, retryFrom: today + 1)
        let c = DueItem(reason: .plan, dueDay: today + 20, overdue: false, retryFrom: nil)
        let sorted = [c, b, a].sorted { VisitPlan.before($0, $1, today: today) }
        #expect(sorted == [a, c, b])
    }

    @Test func aVisitsFieldsAreCheckedAllAtOnce() throws {
        let now = Self.at("2026-12-05T10:00")
        var input = VisitInput()
        input.kind = "care"; input.followUpOn = "2026-12-05"; input.visitedAt = "2026-12-06T10:00"; input.fileRequest = true
        do {
            _ = try GridWorkService.validate(input, now: now)
            Issue.record("accepted")
        } catch let e as ValidationErrors {
            let fields = Set(e.errors.compactMap(\.field))
            #expect(fields.isSuperset(of: ["household_code", "outcome", "care_given", "follow_up_on", "visited_at", "file_request", "request_category", "note"]))
        }
        input = VisitInput()
        input.householdID = 1; input.outcome = "not_home"; input.visitedAt = "2026-12-05T09:40"
        let v = try GridWorkService.validate(input, now: now)
        #expect(v.visitedAt == Self.at("2026-12-05T09:40") && !v.outcome.counts && v.kind == "visit")
    }
}

/// Visits end to end: the grid worker's list, a visit and its retry, a finding filed as a
/// request, the community's plan and coverage, scope.
@Suite struct GridWorkTests {
    static func post(_ client: some TestClientProtocol, _ path: String, _ token: String, _ body: String, method: HTTPRequest.Method = .post) async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: ByteBuffer(string: body))
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    /// A household of the grid worker's grid with an elderly person living alone (tagged here).
    static func elderlyHousehold(_ f: Fixture) async throws -> (household: Int64, resident: Int64) {
        let community = try await f.actor("community")
        let rid = try await f.linli.store.read { db in
            try await db.raw("SELECT r.id FROM residents r JOIN households h ON h.id = r.household_id WHERE h.grid_id = \(bind: f.demo.firstGridID) ORDER BY r.id LIMIT 1")
                .first()!.decode(column: "id", as: Int64.self)
        }
        var edit = ResidentInput()
        edit.tags = ["elderly_alone"]
        let r = try await f.linli.registry.updateResident(rid, edit, actor: community)
        return (r.householdID, rid)
    }

    @Test(arguments: Backend.available)
    func aGridWorkerVisitsFromTheirListOnceEvenWhenTheRetryComesTwice(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-01T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let (household, _) = try await Self.elderlyHousehold(f)
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                let grid = try await f.token("grid")
                var res = try await client.execute(uri: "/api/v1/visits/due", method: .get, headers: [.authorization: "Bearer \(grid)"])
                #expect(res.status == .ok)
                var due = try JSONDecoder().decode(DueList.self, from: Data(buffer: res.body))
                let mine = try #require(due.items.first { $0.householdID == household })
                #expect(mine.period == "week" && mine.because == "elderly_alone" && mine.dueOn == "2026-12-06" && !mine.overdue)
                // Every household of the grid has its yearly visit due too: counted, not listed, until asked for.
                #expect(due.items.first?.householdID == household && due.later > 0)
                res = try await client.execute(uri: "/api/v1/visits/due?all=1", method: .get, headers: [.authorization: "Bearer \(grid)"])
                let everyone = try JSONDecoder().decode(DueList.self, from: Data(buffer: res.body))
                #expect(everyone.later == 0 && everyone.items.count == due.items.count + due.later && everyone.items.first?.householdID == household)

                let body = #"{"household_id":\#(household),"outcome":"well","note":"老人身体好，家里暖气正常","client_key":"k-1","visited_at":"2026-12-01T09:30"}"#
                res = try await Self.post(client, "/api/v1/visits", grid, body)
                #expect(res.status == .created)
                let first = try JSONDecoder().decode(VisitView.self, from: Data(buffer: res.body))
                #expect(first.note == "老人身体好，家里暖气正常" && first.visitedAt == "2026-12-01 09:30")
                // The phone never heard the answer and sends again: the same visit, stored once.
                res = try await Self.post(client, "/api/v1/visits", grid, body)
                #expect(res.status == .ok)
                #expect(try JSONDecoder().decode(VisitView.self, from: Data(buffer: res.body)).id == first.id)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visits") == 1)
                // The same key for another visit is refused, naming it.
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"refused","client_key":"k-1"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("client_key"))
                // The note is sealed at rest.
                let stored = try await f.linli.store.read { db in
                    try await db.raw("SELECT note_cipher FROM visits").first()!.decode(column: "note_cipher", as: String.self)
                }
                #expect(!stored.contains("暖气"))
                // Visited this week: off the list until next week.
                res = try await client.execute(uri: "/api/v1/visits/due", method: .get, headers: [.authorization: "Bearer \(grid)"])
                due = try JSONDecoder().decode(DueList.self, from: Data(buffer: res.body))
                #expect(!due.items.contains { $0.householdID == household })

                // Outside the grid: 404 by id, and by code the same answer as for no such code. Nothing written.
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(ids.outsideHousehold),"outcome":"well"}"#)
                #expect(res.status == .notFound)
                let outsideCode = try await f.linli.store.read { db in
                    try await db.raw("SELECT code FROM households WHERE id = \(bind: ids.outsideHousehold)").first()!.decode(column: "code", as: String.self)
                }
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_code":"\#(outsideCode)","outcome":"well"}"#)
                let outsideAnswer = res.body.text
                #expect(res.status == .unprocessableContent && outsideAnswer.contains("household_code"))
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_code":"zzzzzzzzzzzz","outcome":"well"}"#)
                #expect(res.status == .unprocessableContent && res.body.text == outsideAnswer)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visits") == 1)
                // A resident has no visits to log or read.
                let resident = try await f.token("resident")
                res = try await client.execute(uri: "/api/v1/households/\(household)/visits", method: .get, headers: [.authorization: "Bearer \(resident)"])
                #expect(res.status == .forbidden)
                // The community reads the visit, note and all.
                let community = try await f.token("community")
                res = try await client.execute(uri: "/api/v1/households/\(household)/visits", method: .get, headers: [.authorization: "Bearer \(community)"])
                #expect(try JSONDecoder().decode([VisitView].self, from: Data(buffer: res.body)).map(\.id) == [first.id])
            }
        }
    }

    @Test(arguments: Backend.available)
    func thoseWhoHaveNotAcknowledgedAreRemindedDailyThreeTimesAtMost(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), resident = try await f.token("resident"), owner = try await f.token("owner")
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                func reminders(_ token: String) async throws -> Int {
                    try await get("/api/v1/inbox", token).body.text.components(separatedBy: "次提醒").count - 1
                }
                var res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"燃气安全检查","body":"周六上门检查燃气，请回执。","audience_kind":"community","needs_ack":true}"#)
                let sent = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"周末义诊","body":"周日上午社区义诊。","audience_kind":"community"}"#)
                // Not before a day has passed.
                #expect(try await f.linli.gridWork.remindUnacknowledged() == 0)
                clock.advance(hours: 25)
                #expect(try await f.linli.gridWork.remindUnacknowledged() > 0)
                #expect(try await reminders(resident) == 1)
                #expect(try await reminders(owner) == 1)
                // The round is claimed: a second server running it now sends nothing.
                #expect(try await f.linli.gridWork.remindUnacknowledged() == 0)
                // The resident acknowledges (for her household, the owner's too): the next rounds
                // go on for the rest and skip them.
                #expect(try await Self.post(client, "/api/v1/announcements/\(sent.id)/ack", resident, "").status == .ok)
                func rounds() async throws -> Int? {
                    try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: try await get("/api/v1/announcements/\(sent.id)", staff).body)).reminders
                }
                clock.advance(hours: 24)
                _ = try await f.linli.gridWork.remindUnacknowledged()
                #expect(try await rounds() == 2)
                clock.advance(hours: 24)
                _ = try await f.linli.gridWork.remindUnacknowledged()
                #expect(try await rounds() == 3)
                #expect(try await reminders(resident) == 1)
                // Three rounds at most; the announcement without a request for acknowledgement never reminds.
                clock.advance(hours: 48)
                #expect(try await f.linli.gridWork.remindUnacknowledged() == 0)
                #expect(try await rounds() == 3)
                // The owner lives in the resident's household: reminded once, before she acknowledged.
                #expect(try await reminders(owner) == 1)
            }
        }
    }

    @Test func aReplyCodeIsFourDigitsStandingAlone() {
        #expect(GridWorkService.replyCodes("收到 1234") == ["1234"])
        #expect(GridWorkService.replyCodes("１２３４") == ["1234"])
        #expect(GridWorkService.replyCodes("12345").isEmpty)
        #expect(GridWorkService.replyCodes("2026年12月 回复5678") == ["2026", "5678"])
        #expect(GridWorkService.replyCodes("好的").isEmpty)
    }

    @Test(arguments: Backend.available)
    func aFeaturePhoneGetsTheNoticeByTextAndAcknowledgesByReplyingItsCode(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID, household = f.demo.firstHouseholdWithResidents
            let staffActor = try await f.actor("community")
            // An elder of the household with a feature phone, who agreed to notices by SMS.
            let elder = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM residents WHERE household_id = \(bind: household) ORDER BY id DESC").first()!.decode(column: "id", as: Int64.self)
            }
            var edit = ResidentInput()
            edit.phone = "13900001111"; edit.smsNotices = true
            let updated = try await f.linli.registry.updateResident(elder, edit, actor: staffActor)
            #expect(updated.smsNotices)
            let sms = try #require(f.linli.gridWork.sms as? LogSMS)
            try await built.app.test(.router) { client in
                let staff = try await f.token("community")
                func reply(_ phone: String, _ text: String, token: String = "test-sms-inbound-secret-0001") async throws -> TestResponse {
                    try await client.execute(uri: "/api/v1/sms/inbound", method: .post, headers: [HTTPField.Name("X-Linli-SMS-Token")!: token, .contentType: "application/json"],
                                             body: ByteBuffer(string: #"{"phone":"\#(phone)","content":"\#(text)"}"#))
                }
                var res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"周三停水","body":"周三 9:00–15:00 停水，请回执。","audience_kind":"community","needs_ack":true}"#)
                let sent = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                // Sent by the housekeeping job, not in the request; once, however often it runs.
                #expect(sms.lastCode(to: "13900001111") == nil)
                #expect(try await f.linli.gridWork.sendDueSMS() == 1)
                #expect(try await f.linli.gridWork.sendDueSMS() == 0)
                let code = try #require(sms.lastCode(to: "13900001111"))
                // Without the relay's secret the hook does not exist; a wrong code or another phone acknowledges nothing.
                #expect(try await reply("13900001111", code, token: "wrong-secret-wrong-secret").status == .notFound)
                res = try await client.execute(uri: "/api/v1/sms/inbound", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "not json"))
                #expect(res.status == .notFound, "without the secret, not even the body is looked at")
                // A notice is not a code anyone may ask to be texted.
                res = try await client.execute(uri: "/api/v1/sms/code", method: .post, headers: [.contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"phone":"13900001111","purpose":"notice"}"#))
                #expect(res.status == .unprocessableContent)
                res = try await reply("13900001111", code == "0000" ? "1111" : "0000")
                #expect(res.status == .ok && res.body.text.contains("false"))
                res = try await reply("13900002222", code)
                #expect(res.body.text.contains("false"))
                res = try await reply("139 0000 1111", "收到 \(code)")
                #expect(res.status == .ok && res.body.text.contains("true"))
                res = try await client.execute(uri: "/api/v1/announcements/\(sent.id)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                let counted = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(counted.acknowledged == 1 && counted.read == 1)
                // Another notice unanswered: the reminder round texts it again.
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"燃气检查","body":"周六上门检查燃气。","audience_kind":"community","needs_ack":true}"#)
                #expect(try await f.linli.gridWork.sendDueSMS() == 1)
                clock.advance(hours: 25)
                _ = try await f.linli.gridWork.remindUnacknowledged()
                #expect(try await f.linli.gridWork.sendDueSMS() == 1, "the first, acknowledged, is not sent again")
                // The providers' own callbacks, with the secret in the URL (they cannot add a header).
                func hook(_ provider: String, _ body: String, token: String = "test-sms-inbound-secret-0001") async throws -> TestResponse {
                    try await client.execute(uri: "/api/v1/sms/inbound/\(provider)?token=\(token)", method: .post, headers: [.contentType: "application/json"],
                                             body: ByteBuffer(string: body))
                }
                let gasCode = try #require(sms.lastCode(to: "13900001111"))
                let tencent = #"{"extend":"","mobile":"13900001111","nationcode":"86","sign":"邻里","text":"\#(gasCode)","time":1764554400}"#
                #expect(try await hook("tencent", tencent, token: "wrong-secret-wrong-secret").status == .notFound)
                #expect(try await hook("nokia", tencent).status == .notFound)
                res = try await hook("tencent", "[]")
                #expect(res.status == .unprocessableContent && res.body.text.contains("\"text\""))
                res = try await hook("tencent", tencent)
                #expect(res.status == .ok && res.body.text == #"{"result":0,"errmsg":"OK"}"#)
                let gas = try await f.linli.store.read { db in
                    try await db.query("SELECT acked_at FROM announcement_households x JOIN announcements a ON a.id = x.announcement_id WHERE a.title = '燃气检查' AND x.household_id = \(household)").first()!
                        .decode(column: "acked_at", as: Int64?.self)
                }
                #expect(gas != nil, "acknowledged through Tencent Cloud's callback")
                // Alibaba Cloud pushes a batch; a number with the country code is the same phone.
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"电梯维修","body":"周五电梯停用。","audience_kind":"community","needs_ack":true}"#)
                let lift = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(try await f.linli.gridWork.sendDueSMS() == 1)
                let liftCode = try #require(sms.lastCode(to: "13900001111"))
                res = try await hook("aliyun", #"[{"phone_number":"13900002222","content":"\#(liftCode)","send_time":"2026-12-01 10:00:00","dest_code":"1234","sequence_id":1},"#
                                     + #"{"phone_number":"8613900001111","content":"好的 \#(liftCode)","send_time":"2026-12-01 10:00:05","dest_code":"1234","sequence_id":"2"}]"#)
                #expect(res.status == .ok && res.body.text.contains(#""code":0"#))
                res = try await client.execute(uri: "/api/v1/announcements/\(lift.id)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body)).acknowledged == 1, "one of the batch matched")
                // The resident withdraws consent: the phone's replies no longer count.
                var withdraw = ResidentInput()
                withdraw.smsNotices = false
                _ = try await f.linli.registry.updateResident(elder, withdraw, actor: staffActor)
                #expect(try await reply("13900001111", try #require(sms.lastCode(to: "13900001111"))).body.text.contains("false"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func aHouseholdFoundGoneLeavesTheListsUntilTheOfficeSettlesIt(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-01T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let (household, _) = try await Self.elderlyHousehold(f)
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                let grid = try await f.token("grid"), staff = try await f.token("community")
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                func listed() async throws -> Bool {
                    let all = try JSONDecoder().decode(DueList.self, from: Data(buffer: try await get("/api/v1/visits/due?all=1", grid).body))
                    return all.items.contains { $0.householdID == household }
                }
                #expect(try await listed())
                var res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"moved","note":"邻居说上月已搬去女儿家"}"#)
                #expect(res.status == .created)
                // Off every list and out of coverage; the office sees it waiting, the worker cannot.
                #expect(try await !listed())
                let coverage = try JSONDecoder().decode([CoverageLine].self, from: Data(buffer: try await get("/api/v1/communities/\(community)/visit-coverage", staff).body))
                #expect(!coverage.contains { $0.situation == "elderly_alone" })
                res = try await get("/api/v1/communities/\(community)/moved-away", staff)
                #expect(try JSONDecoder().decode([MovedAwayHousehold].self, from: Data(buffer: res.body)).map(\.householdID) == [household])
                #expect(try await get("/api/v1/communities/\(community)/moved-away", grid).status == .forbidden)
                // A later visit that finds someone there puts it back.
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"well"}"#)
                #expect(try await get("/api/v1/communities/\(community)/moved-away", staff).body.text == "[]")
                // Gone again; the office says it is lived in: back on the list, once.
                res = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"moved"}"#)
                #expect(try await !listed())
                #expect(try await Self.post(client, "/api/v1/households/\(household)/still-there", grid, "").status == .forbidden)
                #expect(try await Self.post(client, "/api/v1/households/\(household)/still-there", staff, "").status == .noContent)
                #expect(try await Self.post(client, "/api/v1/households/\(household)/still-there", staff, "").status == .conflict)
                #expect(try await get("/api/v1/communities/\(community)/moved-away", staff).body.text == "[]")
                // The console's coverage page lists what is waiting, with its button.
                _ = try await Self.post(client, "/api/v1/visits", grid, #"{"household_id":\#(household),"outcome":"moved"}"#)
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/visits/coverage?community=\(community)", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("/households/\(household)/still-there"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func nobodyHomeIsAnAttemptAndAFollowUpComesBack(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let (household, _) = try await Self.elderlyHousehold(f)
            let grid = try await f.actor("grid")
            var v = VisitInput()
            v.householdID = household; v.outcome = "not_home"
            _ = try await f.linli.gridWork.logVisit(v, actor: grid)
            var item = try #require(try await f.linli.gridWork.due(gridID: nil, actor: grid).items.first { $0.householdID == household })
            #expect(item.retryFrom == "2026-12-03")
            // Found at home two days later; the worker wants to see how the leg heals next week.
            clock.advance(hours: 48)
            v.outcome = "needs_help"; v.note = "腿伤，行动不便"; v.followUpOn = "2026-12-10"; v.referralTo = "街道社工站"
            _ = try await f.linli.gridWork.logVisit(v, actor: grid)
            #expect(try await f.linli.gridWork.due(gridID: nil, actor: grid).items.contains { $0.householdID == household } == false)
            // Three days before the date it is back on the list, as a follow-up.
            clock.advance(hours: 24 * 4)
            item = try #require(try await f.linli.gridWork.due(gridID: nil, actor: grid).items.first { $0.householdID == household })
            #expect(item.reason == "follow_up" && item.dueOn == "2026-12-10")
            v = VisitInput()
            v.householdID = household; v.outcome = "well"; v.followResult = "better"
            _ = try await f.linli.gridWork.logVisit(v, actor: grid)
            let history = try await f.linli.gridWork.history(household: household, actor: grid).1
            #expect(history.map(\.outcome) == ["well", "needs_help", "not_home"])
            #expect(history[0].followResult == "better" && history[1].referralTo == "街道社工站")
            let followUpOf = try await f.linli.store.read { db in
                try await db.raw("SELECT follow_up_of FROM visits WHERE id = \(bind: history[0].id)").first()!.decode(column: "follow_up_of", as: Int64?.self)
            }
            #expect(followUpOf == history[1].id)
        }
    }

    @Test(arguments: Backend.available)
    func aNeedFoundAtTheDoorIsFiledAsARequestOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let (household, _) = try await Self.elderlyHousehold(f)
            let grid = try await f.actor("grid")
            var v = VisitInput()
            v.householdID = household; v.outcome = "needs_help"; v.note = "厨房水管漏水，老人自己修不了"
            v.fileRequest = true; v.requestCategory = "water_leak"; v.clientKey = "leak-1"
            let (visit, created) = try await f.linli.gridWork.logVisit(v, actor: grid)
            let requestID = try #require(visit.requestID)
            #expect(created)
            let again = try await f.linli.gridWork.logVisit(v, actor: grid)
            #expect(!again.created && again.visit.requestID == requestID)
            let r = try await f.linli.requests.detail(requestID, actor: grid, lang: .zh)
            #expect(r.request.channel == "visit" && r.request.description == "厨房水管漏水，老人自己修不了")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE channel = 'visit'") == 1)
        }
    }

    @Test(arguments: Backend.available)
    func aNeedFoundAtTheDoorGoesToTheNeedsPoolUnderAPublicTitleOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let (household, _) = try await Self.elderlyHousehold(f)
            let grid = try await f.actor("grid")
            var v = VisitInput()
            v.householdID = household; v.outcome = "well"; v.postNeed = true; v.needTitle = ""; v.needDomain = "space"
            // The box counts only with "needs help" (its fields are hidden otherwise): the visit is
            // kept, nothing goes to the pool — a visit typed offline is never lost to the box.
            let plain = try await f.linli.gridWork.logVisit(v, actor: grid)
            #expect(plain.visit.needID == nil)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM needs WHERE body = '网格员走访发现'") == 0)
            // Only the public title is checked: too long refuses, naming it, and writes nothing.
            v.outcome = "needs_help"; v.needTitle = String(repeating: "长", count: 61); v.clientKey = "long-1"
            do { _ = try await f.linli.gridWork.logVisit(v, actor: grid); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "need_title" && e.code == "too_long")
            }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visits") == 1, "a refused visit writes nothing")
            v.outcome = "needs_help"; v.note = "王阿婆腿脚不便，每天中午没人做饭"; v.needTitle = "独居老人需要午餐送餐"; v.needDomain = "elderly"; v.clientKey = "meal-1"
            let (visit, created) = try await f.linli.gridWork.logVisit(v, actor: grid)
            let needID = try #require(visit.needID)
            #expect(created)
            let again = try await f.linli.gridWork.logVisit(v, actor: grid)
            #expect(!again.created && again.visit.needID == needID, "a resend posts it once")
            let (title, body) = try await f.linli.store.read { db in
                let r = try await db.raw("SELECT title, body FROM needs WHERE id = \(bind: needID)").first()!
                return (try r.decode(column: "title", as: String.self), try r.decode(column: "body", as: String.self))
            }
            #expect(title == "独居老人需要午餐送餐" && !body.contains("王阿婆"), "the pool reads the public title, never the private note")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM needs WHERE title = '独居老人需要午餐送餐'") == 1)
        }
    }

    @Test(arguments: Backend.available)
    func aCommunitySetsItsPlanAndSeesEachGridAgainstIt(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-01T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let (household, _) = try await Self.elderlyHousehold(f)
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                let staff = try await f.token("community")
                var res = try await client.execute(uri: "/api/v1/communities/\(community)/visit-rules", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(try JSONDecoder().decode(VisitRulesView.self, from: Data(buffer: res.body)).defaults)
                // Refused rules name the rule and write nothing.
                res = try await Self.post(client, "/api/v1/communities/\(community)/visit-rules", staff,
                                          #"{"rules":[{"situation":"rich","period":"week"}]}"#, method: .put)
                #expect(res.status == .unprocessableContent && res.body.text.contains("rules[0].situation"))
                res = try await Self.post(client, "/api/v1/communities/\(community)/visit-rules", staff,
                                          #"{"rules":[{"situation":"disabled","period":"week","grid_id":999999}]}"#, method: .put)
                #expect(res.status == .unprocessableContent && res.body.text.contains("rules[0].grid_id"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM visit_rules") == 0)
                // This grid visits its elderly living alone monthly; the rest of the community weekly.
                let grid = f.demo.firstGridID
                res = try await Self.post(client, "/api/v1/communities/\(community)/visit-rules", staff,
                                          #"{"rules":[{"situation":"elderly_alone","period":"week"},{"situation":"elderly_alone","period":"month","grid_id":\#(grid)}]}"#, method: .put)
                #expect(res.status == .ok)
                let worker = try await f.token("grid")
                res = try await client.execute(uri: "/api/v1/visits/due?all=1", method: .get, headers: [.authorization: "Bearer \(worker)"])
                let due = try JSONDecoder().decode(DueList.self, from: Data(buffer: res.body))
                // No "every household" rule now: only the elderly household is due, monthly.
                #expect(due.items.map(\.householdID) == [household] && due.items[0].period == "month" && due.items[0].dueOn == "2026-12-31")
                res = try await client.execute(uri: "/api/v1/communities/\(community)/visit-coverage", method: .get, headers: [.authorization: "Bearer \(staff)"])
                var lines = try JSONDecoder().decode([CoverageLine].self, from: Data(buffer: res.body))
                #expect(lines.count == 1 && lines[0].gridID == grid && lines[0].households == 1 && lines[0].covered == 0 && lines[0].ownRule)
                res = try await Self.post(client, "/api/v1/visits", worker, #"{"household_id":\#(household),"outcome":"well"}"#)
                res = try await client.execute(uri: "/api/v1/communities/\(community)/visit-coverage", method: .get, headers: [.authorization: "Bearer \(staff)"])
                lines = try JSONDecoder().decode([CoverageLine].self, from: Data(buffer: res.body))
                #expect(lines[0].covered == 1)
                // Another street's community does not exist for this office.
                let elsewhere = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM places WHERE kind = 'community' AND id <> \(bind: community) ORDER BY id DESC").first()!.decode(column: "id", as: Int64.self)
                }
                res = try await client.execute(uri: "/api/v1/communities/\(elsewhere)/visit-coverage", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(res.status == .notFound)
                res = try await Self.post(client, "/api/v1/communities/\(elsewhere)/visit-rules", staff, #"{"rules":[]}"#, method: .put)
                #expect(res.status == .notFound)
                // A grid worker does not set the plan.
                res = try await Self.post(client, "/api/v1/communities/\(community)/visit-rules", worker, #"{"rules":[]}"#, method: .put)
                #expect(res.status == .forbidden)
            }
        }
    }

    @Test(arguments: Backend.available)
    func theConsoleShowsTheListTakesAVisitAndShowsTheRecord(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-01T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let (household, _) = try await Self.elderlyHousehold(f)
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "grid")
                var res = try await client.execute(uri: "/visits", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.body.text.contains("/visits/new?household=\(household)") && res.body.text.contains("独居老人"))
                res = try await client.execute(uri: "/today", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("id=\"today-visits\"") && res.body.text.contains("/visits/new?household=\(household)"))
                res = try await client.execute(uri: "/visits/new?household=\(household)", method: .get, headers: [.cookie: cookie])
                let page = res.body.text
                #expect(res.status == .ok && page.contains("name=\"client_key\""))
                let csrf = String(page.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let key = String(page.firstMatch(of: /name="client_key" value="([A-Za-z0-9_-]+)"/)!.1)
                let form: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
                // No outcome chosen: the form comes back with the message beside the field, nothing written.
                res = try await client.execute(uri: "/visits", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&household_id=\(household)&client_key=\(key)&note=x"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("outcome-error"))
                res = try await client.execute(uri: "/visits", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&household_id=\(household)&client_key=\(key)&kind=care&outcome=well&care_given=%E7%B1%B3%E4%B8%80%E8%A2%8B&care_paid_by=%E8%A1%97%E9%81%93"))
                #expect(res.status == .seeOther && res.headers[.location] == "/visits")
                res = try await client.execute(uri: "/households/\(household)/visits", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("慰问") && res.body.text.contains("米一袋（街道）"))
                // A typed code of a household elsewhere: the list again, the message beside the field.
                res = try await client.execute(uri: "/visits/new?code=zzzzzzzz", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .unprocessableContent && res.body.text.contains("visit-code-error"))
                // Community staff start from coverage and the plan.
                let staff = try await webLogin(client, "community")
                res = try await client.execute(uri: "/visits", method: .get, headers: [.cookie: staff])
                #expect(res.status == .seeOther && res.headers[.location] == "/visits/coverage")
                res = try await client.execute(uri: "/visits/coverage", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok && res.body.text.contains("visit-coverage"))
                res = try await client.execute(uri: "/visits/plan", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok && res.body.text.contains("rule.elderly_alone"))
                // The plan form: the community's rules and a grid's own, saved and shown again.
                let staffCSRF = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let staffForm: HTTPFields = [.cookie: staff, .contentType: "application/x-www-form-urlencoded"]
                let grid = f.demo.firstGridID, community = f.demo.firstCommunityID
                res = try await client.execute(uri: "/visits/plan", method: .post, headers: staffForm, body: ByteBuffer(string:
                    "_csrf=\(staffCSRF)&community_id=\(community)&rule.elderly_alone=week&rule.all=year&new_grid=\(grid)&new_situation=disabled&new_period=month"))
                #expect(res.status == .seeOther)
                let rules = try await f.linli.gridWork.rules(community: community, actor: try await f.actor("community")).rules
                #expect(Set(rules.map { "\($0.gridID ?? 0) \($0.situation) \($0.period.rawValue)" }) == ["0 elderly_alone week", "0 all year", "\(grid) disabled month"])
                res = try await client.execute(uri: "/visits/plan?community=\(community)", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("grid.\(grid).disabled"))
                res = try await client.execute(uri: "/visits/coverage?community=\(community)", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("/visits?grid=\(grid)"))
                // Staff open a grid's list; the household visited this week is not on it.
                res = try await client.execute(uri: "/visits?grid=\(grid)&all=1", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok && res.body.text.contains("/visits/new?household=") && !res.body.text.contains("/visits/new?household=\(household)\""))
            }
        }
    }

    @Test(arguments: Backend.available)
    func anAnnouncementReachesItsHouseholdsAndTheUnreadGoOnTheGridWorkersList(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let (household, _) = try await Self.elderlyHousehold(f)
            #expect(household == f.demo.firstHouseholdWithResidents, "the demo resident's household")
            let community = f.demo.firstCommunityID
            let staffActor = try await f.actor("community")
            let emptyBuilding = try await f.linli.registry.createPlace(parentID: f.residentCompound, kind: "building", name: "空楼", communityType: nil, actor: staffActor)
            let otherGrid = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'grid' AND id <> \(bind: f.demo.firstGridID) ORDER BY id").first()!
                    .decode(column: "id", as: Int64.self)
            }
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), resident = try await f.token("resident"), grid = try await f.token("grid")
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
                }
                // An audience with nobody in it is refused, naming why; nothing is sent.
                var res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"空楼通知","body":"测试","audience_kind":"places","place_ids":[\#(emptyBuilding.id)]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("no_households"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM announcements") == 0)
                // To the households with someone living alone in old age: the resident reads it, never why.
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"寒潮来袭","body":"周三起降温，请注意保暖。\n有困难请找网格员。","audience_kind":"tag","tag":"elderly_alone","needs_ack":true}"#)
                #expect(res.status == .created)
                let sent = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(sent.households == 1 && sent.read == 0 && sent.audience == "tag:elderly_alone")
                res = try await get("/api/v1/inbox", resident)
                #expect(res.body.text.contains("/announcements/\(sent.id)"))
                res = try await get("/api/v1/announcements/\(sent.id)", resident)
                #expect(res.status == .ok && !res.body.text.contains("elderly") && !res.body.text.contains("audience"))
                #expect(try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body)).readByMe == true)
                res = try await Self.post(client, "/api/v1/announcements/\(sent.id)/ack", resident, "")
                res = try await Self.post(client, "/api/v1/announcements/\(sent.id)/ack", resident, "")
                res = try await get("/api/v1/announcements/\(sent.id)", staff)
                let counted = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(counted.read == 1 && counted.acknowledged == 1)
                // Another grid's announcement does not exist for this resident.
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"二网格停水","body":"周二停水","audience_kind":"grids","grid_ids":[\#(otherGrid)]}"#)
                let elsewhere = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(try await get("/api/v1/announcements/\(elsewhere.id)", resident).status == .notFound)
                // The whole community; two days on, the grid worker's list has the households that have not read it.
                res = try await Self.post(client, "/api/v1/announcements", staff,
                    #"{"community_id":\#(community),"title":"燃气安全检查","body":"本周六上门检查燃气","audience_kind":"community","needs_ack":true}"#)
                let all = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                // The grid worker reads what went to their grid (nothing to acknowledge, nothing
                // marked read), and not what went only to another grid.
                res = try await get("/announcements/\(all.id)", grid)
                #expect(res.status == .ok && !res.body.text.contains("announcement-ack") && res.body.text.contains("/visits#unread"))
                #expect(try await get("/api/v1/announcements/\(elsewhere.id)", grid).status == .notFound)
                res = try await get("/api/v1/announcements/\(all.id)", staff)
                #expect(try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body)).read == 0)
                _ = try await get("/api/v1/announcements/\(all.id)", resident)
                res = try await get("/api/v1/visits/unread-notices", grid)
                #expect(try JSONDecoder().decode([UnreadNotice].self, from: Data(buffer: res.body)).isEmpty, "not yet two days")
                clock.advance(hours: 49)
                res = try await get("/api/v1/visits/unread-notices", grid)
                var unread = try JSONDecoder().decode([UnreadNotice].self, from: Data(buffer: res.body)).filter { $0.announcementID == all.id }
                // Read but not acknowledged: still to be told. Every household of the grid is listed.
                let inGrid = try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE grid_id = \(f.demo.firstGridID)")
                #expect(unread.count == inGrid && unread.contains { $0.householdID == household })
                let other = try #require(unread.first { $0.householdID != household })
                res = try await Self.post(client, "/api/v1/announcements/\(all.id)/households/\(other.householdID)/told", grid, "")
                #expect(res.status == .noContent)
                res = try await get("/api/v1/visits/unread-notices", grid)
                unread = try JSONDecoder().decode([UnreadNotice].self, from: Data(buffer: res.body)).filter { $0.announcementID == all.id }
                #expect(unread.count == inGrid - 1)
                // Outside the grid, telling is refused as not there.
                let outside = try await f.ids().outsideHousehold
                res = try await Self.post(client, "/api/v1/announcements/\(all.id)/households/\(outside)/told", grid, "")
                #expect(res.status == .notFound)
                // A grid worker sends to their own grid, and nowhere else; they follow who read theirs,
                // list only what they sent; the community's staff see it among the community's.
                res = try await Self.post(client, "/api/v1/announcements", grid,
                    #"{"community_id":\#(community),"title":"全网格","body":"x","audience_kind":"community"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("own_grid_only"))
                res = try await Self.post(client, "/api/v1/announcements", grid,
                    #"{"community_id":\#(community),"title":"别的网格","body":"x","audience_kind":"grids","grid_ids":[\#(otherGrid)]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("own_grid_only"))
                res = try await Self.post(client, "/api/v1/announcements", grid,
                    #"{"community_id":\#(community),"title":"本网格周四清洗水箱","body":"周四上午停水两小时。","audience_kind":"grids","grid_ids":[\#(f.demo.firstGridID)]}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let own = try JSONDecoder().decode(AnnouncementView.self, from: Data(buffer: res.body))
                #expect(own.households == inGrid && own.read == 0)
                res = try await get("/api/v1/announcements?community=\(community)", grid)
                #expect(try JSONDecoder().decode([AnnouncementView].self, from: Data(buffer: res.body)).map(\.id) == [own.id])
                res = try await get("/api/v1/announcements?community=\(community)", staff)
                #expect(try JSONDecoder().decode([AnnouncementView].self, from: Data(buffer: res.body)).contains { $0.id == own.id })
                res = try await get("/api/v1/inbox", resident)
                #expect(res.body.text.contains("/announcements/\(own.id)"), "the household in the grid is told")
                let gridPage = try await webLogin(client, "grid")
                res = try await client.execute(uri: "/announcements", method: .get, headers: [.cookie: gridPage])
                #expect(res.status == .ok && res.body.text.contains("id=\"grid-only\"") && !res.body.text.contains("value=\"\(otherGrid)\""))
                // The console: the staff page, the A4 copy, and the resident's list.
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/announcements", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.body.text.contains("/announcements/\(all.id)"))
                res = try await client.execute(uri: "/announcements/\(all.id)/print", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.body.text.contains("class=\"a4\"") && res.body.text.contains("燃气安全检查"))
                let page = try await client.execute(uri: "/announcements", method: .get, headers: [.cookie: cookie])
                let csrf = String(page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                res = try await client.execute(uri: "/announcements", method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                                               body: ByteBuffer(string: "_csrf=\(csrf)&community_id=\(community)&title=&body=x&audience_kind=community"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("title-error"))
                let home = try await webLogin(client, "resident")
                res = try await client.execute(uri: "/announcements", method: .get, headers: [.cookie: home])
                #expect(res.body.text.contains("寒潮来袭") && !res.body.text.contains("二网格停水"))
                let gridCookie = try await webLogin(client, "grid")
                res = try await client.execute(uri: "/visits", method: .get, headers: [.cookie: gridCookie])
                #expect(res.body.text.contains("id=\"unread-notices\""))
            }
        }
    }
}


/// The visits page's typed model gives the template exactly what the `[String: Any]` page data
/// it replaced gave (that builder is kept here as the reference), on a day with every list full.
@Suite struct VisitsPageModelTests {
    static func reference(_ list: DueList, _ unread: [UnreadNotice], _ tasks: [GridTaskView], _ routes: [PatrolRouteView], gridID: Int64?, canPlan: Bool, lang: Lang) -> TemplateValue {
        let items = list.items.map { d -> [String: Any] in
            var item: [String: Any] = ["household_id": d.householdID, "address": d.address, "overdue": d.overdue,
                                       "situations": d.situations.map { I18n.label($0, lang) }.joined(separator: "、"),
                                       "due_on": GridWorkRoutes.dayText(d.dueOn), "follow_up": d.reason == DueReason.followUp.rawValue,
                                       "period": d.period.map { I18n.label("period_" + $0, lang) } ?? "",
                                       "last": d.lastVisit.map(GridWorkRoutes.dayText) ?? I18n.table(lang)["visit_never"]!]
            if let r = d.retryFrom { item["retry_from"] = GridWorkRoutes.dayText(r) }
            return item
        }
        let unread = unread.map {
            ["announcement_id": $0.announcementID, "title": $0.title, "household_id": $0.householdID, "address": $0.address,
             "sent_on": GridWorkRoutes.dayText($0.sentOn)] as [String: Any]
        }
        let tasks = tasks.map { t -> [String: Any] in
            let n = t.counts ?? t.mine ?? GridTaskCounts(households: 0, done: 0, problems: 0)
            return ["id": t.id, "title": t.title, "deadline": GridWorkRoutes.dayText(t.deadline), "state": I18n.label("task_state_" + t.state.rawValue, lang),
                    "overdue": t.state == .overdue, "finished": t.state == .complete || t.state == .closed,
                    "households": n.households, "done": n.done, "problems": n.problems, "open": n.open, "has_problems": n.problems > 0,
                    "rate": n.households == 0 ? "—" : "\((n.done + n.problems) * 100 / n.households)%"]
        }
        let patrols = routes.map { r -> [String: Any] in
            ["id": r.id, "name": r.name, "grid": r.gridName, "period": I18n.label("patrol_period_" + r.period.rawValue, lang),
             "points": r.points.count, "state": I18n.label("patrol_state_" + r.state.rawValue, lang), "overdue": r.state == .overdue, "done": r.state == .done,
             "due_by": GridWorkRoutes.dayText(r.dueBy), "last": r.lastPatrol ?? I18n.table(lang)["patrol_never"]!, "active": r.active]
        }
        let data: [String: Any] = [
            "tasks": tasks, "has_tasks": !tasks.isEmpty, "due_heading": !tasks.isEmpty || !unread.isEmpty || !patrols.isEmpty,
            "patrols": patrols, "has_patrols": !patrols.isEmpty,
            "items": items, "none": items.isEmpty, "count": list.total, "overdue": list.overdue, "has_overdue": list.overdue > 0,
            "grid": gridID ?? 0, "has_grid": gridID != nil, "code": "", "error_code": "",
            "can_plan": canPlan, "unread": unread, "has_unread": !unread.isEmpty,
            "later": list.later, "has_later": list.later > 0, "all_href": "/visits?all=1" + (gridID.map { "&grid=\($0)" } ?? ""),
        ]
        return TemplateValue(any: data)
    }

    @Test(arguments: Backend.available)
    func theTypedPageGivesWhatTheDictionaryGave(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            _ = try await f.linli.loadGridWorkDemo()
            var a = AnnouncementInput()
            a.communityID = f.demo.firstCommunityID; a.audienceKind = "community"; a.needsAck = true
            a.title = "周三停水"; a.body = "周三 9:00–15:00 停水。"
            _ = try await f.linli.gridWork.announce(a, actor: try await f.actor("community"))
            clock.advance(hours: 50)
            let worker = try await f.actor("grid")
            for all in [false, true] {
                let (list, unread, tasks, routes) = try await f.linli.gridWork.visitsPage(gridID: nil, actor: worker, all: all)
                // The two-week list may be empty this week; the whole one is not.
                #expect((!all || !list.items.isEmpty) && !unread.isEmpty && !tasks.isEmpty && !routes.isEmpty, "every list has something")
                for lang in [Lang.zh, .en] {
                    let typed = TemplateValue.object(VisitsPage(list: list, unread: unread, tasks: tasks, routes: routes, gridID: nil, code: nil, errorCode: nil, canPlan: false).fields(lang))
                    let expected = Self.reference(list, unread, tasks, routes, gridID: nil, canPlan: false, lang: lang)
                    #expect(typed.firstDifference(from: expected) == nil, "\(lang) all=\(all): \(typed.firstDifference(from: expected) ?? "")")
                }
            }
        }
    }
}
