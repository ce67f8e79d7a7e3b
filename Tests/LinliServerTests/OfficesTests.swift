import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOConcurrencyHelpers
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The offices' rules, by worked examples.
@Suite struct OfficeRulesTests {
    @Test func theClockCountsWorkingDaysAroundHolidaysAndMadeUpDays() {
        let mon = Input.day("2026-12-07")!   // a Monday
        let plain = WorkCalendar()
        #expect(OfficeRules.addWorkingDays(0, to: mon, calendar: plain) == mon)
        #expect(ChinaTime.iso(day: OfficeRules.addWorkingDays(5, to: mon, calendar: plain)) == "2026-12-14", "a working week on")
        #expect(ChinaTime.iso(day: OfficeRules.addWorkingDays(4, to: Input.day("2026-12-11")!, calendar: plain)) == "2026-12-17", "Friday: the weekend does not count")
        // New Year's Day 2027 is a Friday off; Sunday 2027-01-03 made a working day (调休, for the example).
        let cal = WorkCalendar(holidays: [Input.day("2027-01-01")!], workdays: [Input.day("2027-01-03")!])
        let wed = Input.day("2026-12-30")!
        #expect(ChinaTime.iso(day: OfficeRules.addWorkingDays(2, to: wed, calendar: cal)) == "2027-01-03", "Thursday, then Sunday worked")
        #expect(OfficeRules.workingDays(from: wed, to: Input.day("2027-01-04")!, calendar: cal) == 3)
        #expect(OfficeRules.workingDays(from: wed, to: wed, calendar: cal) == 0)
        #expect(OfficeRules.workingDays(from: wed, to: wed - 5, calendar: cal) == 0)
        // Thirty working days from a Monday with no holidays: six weeks.
        #expect(ChinaTime.iso(day: OfficeRules.addWorkingDays(OfficeRules.defaultLeadDays, to: mon, calendar: plain)) == "2027-01-18")
    }

    @Test func onlyAdmissionAndAssistItemsAreAdmittedAndTheNegativeListIsNamed() {
        #expect(OfficeRules.admissionRefusal(.admission, entry: "A-01 垃圾分类", exceptionReason: "") == nil)
        #expect(OfficeRules.admissionRefusal(.assist, entry: "B-01", exceptionReason: "") == nil)
        let negative = OfficeRules.admissionRefusal(.negative, entry: "N-02 打分排名", exceptionReason: "急需")
        #expect(negative?.code == "negative_list" && negative?.field == "list_item_id" && negative!.message.contains("N-02 打分排名"),
                "a negative-list item is refused whatever the reason, naming the entry")
        #expect(OfficeRules.admissionRefusal(.autonomy, entry: "C-01", exceptionReason: "x")?.code == "autonomy_item")
        #expect(OfficeRules.admissionRefusal(nil, entry: "", exceptionReason: "")?.code == "not_listed", "an unlisted item needs a stated reason")
        #expect(OfficeRules.admissionRefusal(nil, entry: "", exceptionReason: "防汛紧急排查") == nil)
        // A community may refuse what the negative list names or no list holds; never a listed duty.
        #expect(OfficeRules.communityMayRefuse(nil) && OfficeRules.communityMayRefuse(.negative))
        #expect(!OfficeRules.communityMayRefuse(.admission) && !OfficeRules.communityMayRefuse(.assist))
    }

    @Test func departmentsMayNotTurnWorkIntoScoresOfCommunities() {
        #expect(OfficeRules.kindRefusal(item: .assessment, entryWorkKind: .assessment, listed: true, entry: "A-05 社区年度治理考核") == nil)
        let turned = OfficeRules.kindRefusal(item: .assessment, entryWorkKind: nil, listed: true, entry: "A-01 垃圾分类入户宣传")
        #expect(turned?.code == "scoring_not_admitted" && turned?.field == "kind" && turned!.message.contains("A-01"), "a task's entry never admits a scoring")
        #expect(OfficeRules.kindRefusal(item: .assessment, entryWorkKind: .task, listed: true, entry: "A-06")?.code == "scoring_not_admitted")
        #expect(OfficeRules.kindRefusal(item: .assessment, entryWorkKind: nil, listed: false, entry: "")?.code == "scoring_not_listed", "no exception for a scoring")
        let mismatch = OfficeRules.kindRefusal(item: .dataCollection, entryWorkKind: .task, listed: true, entry: "A-06 防汛物资清点")
        #expect(mismatch?.code == "kind_mismatch" && mismatch!.message.contains("工作任务") && mismatch!.message.contains("数据报表"))
        #expect(OfficeRules.kindRefusal(item: .dataCollection, entryWorkKind: nil, listed: true, entry: "A-02") == nil, "an entry without a kind admits any but a scoring")
        #expect(OfficeRules.kindRefusal(item: .meeting, entryWorkKind: nil, listed: false, entry: "") == nil)
    }

    @Test func moneyFollowsByUnitAndRefusesNonsense() {
        #expect(OfficeRules.fee(perUnit: 200, units: 300, stated: 0) == 60_000, "2 yuan a household, 300 households: 600 yuan")
        #expect(OfficeRules.fee(perUnit: nil, units: 1, stated: 5_000) == 5_000, "on no list the department states it")
        #expect(OfficeRules.fee(perUnit: 0, units: 10, stated: 9_999) == 0, "a listed item without money carries none, whatever is typed")
        #expect(OfficeRules.fee(perUnit: Int64.max / 2, units: 3, stated: 0) == nil)
        #expect(OfficeRules.fee(perUnit: 100, units: 0, stated: 0) == nil)
        #expect(OfficeRules.fee(perUnit: Fen.maximum, units: 2, stated: 0) == nil)
        #expect(OfficeRules.late(.sent, due: 10, today: 11) && !OfficeRules.late(.sent, due: 10, today: 10) && !OfficeRules.late(.done, due: 10, today: 20))
        #expect(OfficeRules.decisionOverdue(.submitted, decideBy: 5, today: 6) && !OfficeRules.decisionOverdue(.admitted, decideBy: 5, today: 6))
    }
}

@Suite struct OfficesStoreTests {
    /// 10:00 on Monday 2026-12-07, China time.
    static func clock() -> TestClock { TestClock("2026-12-07T02:00:00Z") }

    struct World {
        var street: Actor, dept: Actor, staff: Actor, staff2: Actor, admin: Actor
        var department: Int64, admissionList: Int64, negativeEntry: Int64, sortingEntry: Int64
        var first: Int64, second: Int64, outside: Int64
    }

    /// The street's lists (admission with a paid entry, negative), a five-day clock, and the
    /// communities of the first street and one of the second.
    static func world(_ f: Fixture) async throws -> World {
        let o = f.linli.offices
        _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
        let street = try await f.actor("street"), dept = try await f.actor("dept"), staff = try await f.actor("community"), admin = try await f.actor("admin")
        let department = dept.grants.first { $0.role == .departmentStaff }!.organisationID!
        var clock = OfficeSettingsInput()
        clock.leadDays = 5; clock.decideDays = 3
        try await o.setClock(placeID: f.demo.firstStreetID, clock, actor: street)
        var d = OfficeDraftInput()
        d.kind = .admission
        let adm = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: street)
        var i = OfficeListItemInput()
        i.code = "A-01"; i.title = "垃圾分类入户宣传"; i.basis = "街道准入办法"; i.departmentID = department; i.feePerUnit = "2"; i.unit = "户"
        let sorting = try await o.addListItem(listID: adm, i, actor: street)
        try await o.publish(listID: adm, OfficePublishInput(), actor: street)
        d.kind = .negative
        let neg = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: street)
        i = OfficeListItemInput()
        i.code = "N-02"; i.title = "要求社区为部门打分排名"
        let negative = try await o.addListItem(listID: neg, i, actor: street)
        try await o.publish(listID: neg, OfficePublishInput(), actor: street)
        let (first, second, outside) = try await f.linli.store.read { db in
            let ids = try await db.query("SELECT id FROM places WHERE kind IN ('community', 'village') AND path LIKE \((try await db.query("SELECT path FROM places WHERE id = \(f.demo.firstStreetID)").first()!.decode(column: "path", as: String.self)) + "%") ORDER BY id").all()
                .map { try $0.decode(column: "id", as: Int64.self) }
            return (ids[0], ids[1], f.demo.byStreet[1].firstCommunityID)
        }
        #expect(first == f.demo.firstCommunityID)
        return World(street: street, dept: dept, staff: staff, staff2: try await f.actor("community2"), admin: admin, department: department,
                     admissionList: adm, negativeEntry: negative, sortingEntry: sorting, first: first, second: second, outside: outside)
    }

    static func input(_ w: World, entry: Int64?, units: Int = 300, starts: String = "2026-12-14") -> WorkItemInput {
        var i = WorkItemInput()
        i.title = "垃圾分类入户宣传（第一季度）"; i.kind = .task; i.listItemID = entry; i.units = units
        i.communityIDs = [w.first, w.second]; i.startsOn = starts; i.dueOn = "2026-12-31"
        return i
    }

    static func ledger(_ f: Fixture, item: Int64) async throws -> [(String, Int64, Int64)] {
        try await f.linli.store.read { db in
            try await db.query("SELECT kind, community_id, amount FROM ledger_transactions WHERE idempotency_key LIKE \("workitem:\(item):%") ORDER BY id").all()
                .map { (try $0.decode(column: "kind", as: String.self), try $0.decode(column: "community_id", as: Int64.self), try $0.decode(column: "amount", as: Int64.self)) }
        }
    }

    @Test(arguments: Backend.available)
    func anAdmittedItemGoesToTheCommunitiesWithItsMoneyOnce(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            // Too soon for the street's clock (5 working days): refused naming the field, nothing written.
            await #expect(throws: LinliError.self) { try await o.submit(Self.input(w, entry: w.sortingEntry, starts: "2026-12-11"), actor: w.dept) }
            do { _ = try await o.submit(Self.input(w, entry: w.sortingEntry, starts: "2026-12-11"), actor: w.dept) } catch let e as LinliError {
                #expect(e.field == "starts_on" && e.message.contains("2026-12-14"), "\(e)")
            }
            // A community outside the department's area answers as a missing one.
            var outside = Self.input(w, entry: w.sortingEntry)
            outside.communityIDs = [w.first, w.outside]
            await #expect(throws: LinliError.notFound) { try await o.submit(outside, actor: w.dept) }
            // Only a department's staff submit, as their department.
            do { _ = try await o.submit(Self.input(w, entry: w.sortingEntry), actor: w.street); Issue.record("street staff submitted") } catch let e as LinliError {
                #expect(e.field == "department_id")
            }
            #expect(try await f.linli.store.read { db in try await db.query("SELECT COUNT(*) AS n FROM work_items").first()!.decode(column: "n", as: Int.self) } == 0)

            var first = Self.input(w, entry: w.sortingEntry)
            first.clientKey = "k1"
            let id = try await o.submit(first, actor: w.dept)
            #expect(try await o.submit(first, actor: w.dept) == id, "a retried submission is the same item")
            var v = try await o.item(id, actor: w.street)
            #expect(v.status == .submitted && v.decideBy == "2026-12-10" && v.fee == 60_000 && v.totalText == "1,200.00" && v.mayDecide)
            // Communities do not see an item before the street admits it.
            await #expect(throws: LinliError.notFound) { try await o.item(id, actor: w.staff) }
            #expect(try await o.items(actor: w.staff).isEmpty)

            // Money counts only when it has arrived: with an empty budget the admission is refused and nothing moves.
            do { try await o.admit(id, WorkItemDecisionInput(), actor: w.street); Issue.record("admitted without money") } catch let e as LinliError {
                #expect(e.field == "fee" && e.code == "budget_short", "\(e)")
            }
            #expect(try await o.item(id, actor: w.street).status == .submitted)
            #expect(try await Self.ledger(f, item: id).isEmpty)
            var fund = DepartmentFundingInput()
            fund.amount = "1000"; fund.clientKey = "tranche-1"
            try await o.fund(departmentID: w.department, fund, actor: w.street)
            try await o.fund(departmentID: w.department, fund, actor: w.street)   // a retried form: booked once
            #expect(try await o.budgets(actor: w.dept).first?.balance == 100_000)
            fund.clientKey = "tranche-2"; fund.amount = "500"
            try await o.fund(departmentID: w.department, fund, actor: w.street)

            try await o.admit(id, WorkItemDecisionInput(), actor: w.street)
            try await o.admit(id, WorkItemDecisionInput(), actor: w.street)   // retried: no second booking
            let moved = try await Self.ledger(f, item: id)
            #expect(moved.map(\.0) == ["task_fee", "task_fee"] && Set(moved.map(\.1)) == [w.first, w.second] && moved.allSatisfy { $0.2 == 60_000 })
            #expect(try await o.budgets(actor: w.dept).first?.balance == 30_000)
            // The community's public ledger shows the money with the item.
            let (_, lines, _) = try await f.linli.linkage.publicLedger(communityID: w.first, before: nil)
            #expect(lines.contains { $0.kind == "task_fee" && $0.amountText == "600.00" && $0.who.contains("垃圾分类") })

            // The community sees its own share, not the other community's; the other street sees nothing.
            v = try await o.item(id, actor: w.staff)
            #expect(v.shares.map(\.communityID) == [w.first] && v.mayAnswer && !v.communitiesMayRefuse && !v.mayDecide)
            await #expect(throws: LinliError.notFound) { try await o.item(id, actor: w.staff2) }
            #expect(try await o.items(actor: w.staff).first?.myShare == .sent)
            // A listed duty cannot be refused by the community; it is reported done with its evidence.
            var no = WorkItemAnswerInput()
            no.reason = "人手不够"
            do { try await o.decline(id, no, actor: w.staff); Issue.record("declined a listed duty") } catch let e as LinliError { #expect(e.field == "reason" && e.message.contains("A-01")) }
            var done = WorkItemAnswerInput()
            done.count = 287; done.evidence = ""
            await #expect(throws: LinliError.self) { try await o.report(id, done, actor: w.staff) }
            done.evidence = "入户宣传 287 户，照片和签到表已存档。"
            // A file that is not a picture is refused naming the photos, and nothing is written.
            done.photos = [TestImages.png, Array("%PDF-1.4 not a photo".utf8)]
            do { try await o.report(id, done, actor: w.staff); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "photos" && e.message.hasPrefix("第 2 张"), "\(e)")
            }
            #expect(try await o.item(id, actor: w.staff).shares[0].status == .sent)
            done.photos = [TestImages.png]
            done.photosBase64 = [Data(TestImages.png).base64EncodedString()]
            try await o.report(id, done, actor: w.staff)
            await #expect(throws: LinliError.self) { try await o.report(id, done, actor: w.staff) }
            // The photos, sealed on disk, to the community, its department and the street; the
            // other street gets 404; a look by anyone but the community is audited.
            let photos = try await o.item(id, actor: w.dept).shares.first { $0.communityID == w.first }!.photos
            #expect(photos.count == 2)
            let seen = try await o.evidencePhoto(photos[0], actor: w.staff)
            #expect(seen.starts(with: [0xFF, 0xD8]), "re-encoded as JPEG")
            #expect(try await o.evidencePhoto(photos[1], actor: w.dept) == seen)
            _ = try await o.evidencePhoto(photos[0], actor: w.street)
            await #expect(throws: LinliError.notFound) { _ = try await o.evidencePhoto(photos[0], actor: w.staff2) }
            let audited = try await f.linli.store.read { db in
                try await db.query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'workitem.evidence_view'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(audited == 2, "the department's and the street's looks")
            let onDisk = try FileManager.default.contentsOfDirectory(atPath: f.dataDir + "/evidence").filter { !$0.hasPrefix(".") }
            #expect(onDisk.count == 2 && !onDisk.contains { FileManager.default.contents(atPath: f.dataDir + "/evidence/" + $0)!.starts(with: [0xFF, 0xD8]) },
                    "sealed, not plain JPEG")
            // Files no report names (a report rolled back after its photos were flushed, a write cut
            // short) are swept an hour after they were written; the reports' own files stay.
            let now = Date(timeIntervalSince1970: TimeInterval(f.linli.config.environment.nowSeconds))
            let dir = f.dataDir + "/evidence/"
            for (name, age) in [("0badc0de0badc0de0badc0de0badc0de.jpg", 7200.0), (".tmp-halfwritten", 7200), ("1badc0de0badc0de0badc0de0badc0de.jpg", 60)] {
                try LinliFiles.writePrivate(Array("x".utf8), to: dir + name)
                try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: dir + name)
            }
            for name in onDisk { try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-7200)], ofItemAtPath: dir + name) }
            #expect(try await o.removeOrphanEvidence() == 2)
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == Set(onDisk + ["1badc0de0badc0de0badc0de0badc0de.jpg"]), "the young one may still be committing")

            // The list is revised: the item keeps the version it was admitted under.
            await #expect(throws: LinliError.self) { _ = try await o.addListItem(listID: w.admissionList, OfficeListItemInput(), actor: w.street) }
            var d = OfficeDraftInput()
            d.kind = .admission
            let v2 = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: w.street)
            try await o.removeListItem(try await f.linli.store.read { db in
                try await db.query("SELECT id FROM office_list_items WHERE list_id = \(v2)").first()!.decode(column: "id", as: Int64.self)
            }, actor: w.street)
            try await o.publish(listID: v2, OfficePublishInput(), actor: w.street)
            v = try await o.item(id, actor: w.dept)
            #expect(v.listVersion == 1 && v.listEntry == "A-01 垃圾分类入户宣传")
            let lists = try await o.lists(placeID: f.demo.firstStreetID, actor: nil)
            #expect(lists.current.first { $0.kind == .admission }?.version == 2 && lists.history.filter { $0.kind == .admission }.map(\.version) == [2, 1])
            #expect(lists.drafts.isEmpty && !lists.mayEdit, "the public sees no drafts")
            // A new item under the old version is refused: it is no longer in force.
            do { _ = try await o.submit(Self.input(w, entry: w.sortingEntry), actor: w.dept); Issue.record("submitted under a superseded list") } catch let e as LinliError {
                #expect(e.field == "list_item_id")
            }

            // Revoked: the community that has not finished gets its money back; the finished one keeps it.
            await #expect(throws: LinliError.self) { try await o.revoke(id, WorkItemDecisionInput(), actor: w.street) }
            var why = WorkItemDecisionInput()
            why.reason = "区里统一安排，街道不再单独下派"
            try await o.revoke(id, why, actor: w.street)
            let after = try await Self.ledger(f, item: id)
            #expect(after.count == 3 && after[2] == ("task_fee_refund", w.second, 60_000))
            #expect(try await o.budgets(actor: w.dept).first?.balance == 90_000)
            v = try await o.item(id, actor: w.street)
            #expect(v.status == .revoked && v.shares.map(\.status) == [.done, .revoked])
            #expect(try await f.linli.linkage.checkLedger().ok)
        }
    }

    @Test(arguments: Backend.available)
    func aScoringOfCommunitiesIsAdmittedOnlyUnderAnAssessmentEntry(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            var d = OfficeDraftInput()
            d.kind = .admission
            let draft = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: w.street)
            var e = OfficeListItemInput()
            e.code = "A-05"; e.title = "社区年度治理考核"; e.workKind = .assessment; e.departmentID = w.department
            let assess = try await o.addListItem(listID: draft, e, actor: w.street)
            e = OfficeListItemInput()
            e.code = "A-06"; e.title = "防汛物资清点"; e.workKind = .task; e.departmentID = w.department
            let task = try await o.addListItem(listID: draft, e, actor: w.street)
            try await o.publish(listID: draft, OfficePublishInput(), actor: w.street)
            let published = try await o.list(draft, actor: nil)
            // (Each entry is looked up outside #expect: with Swift 6.3 a `first { … }` inside the macro
            // and another just after it in the same scope got the macro's closure.)
            let byCode = Dictionary(uniqueKeysWithValues: published.items.map { ($0.code, $0) })
            #expect(byCode["A-05"]?.workKind == .assessment, "the public list says what kind of work an entry admits")
            let sorting = byCode["A-01"]!
            #expect(sorting.workKind == nil, "copied into the new version as it was")
            var reason = WorkItemDecisionInput()
            reason.reason = "区里要求"
            func refused(_ entry: Int64?, _ kind: WorkItemKind) async throws -> String? {
                var i = Self.input(w, entry: entry)
                i.kind = kind
                let id = try await o.submit(i, actor: w.dept)
                do { try await o.admit(id, reason, actor: w.street); return nil } catch let e as LinliError {
                    #expect(e.field == "kind")
                    #expect(try await o.item(id, actor: w.street).status == .submitted, "nothing written")
                    #expect(try await Self.ledger(f, item: id).isEmpty)
                    return e.code
                }
            }
            #expect(try await refused(sorting.id, .assessment) == "scoring_not_admitted", "a task admitted cannot come back as a scoring of communities")
            #expect(try await refused(nil, .assessment) == "scoring_not_listed", "nor as an exception")
            #expect(try await refused(task, .dataCollection) == "kind_mismatch")
            #expect(try await refused(assess, .assessment) == nil, "an assessment the list names is admitted")
            #expect(try await refused(task, .task) == nil)
        }
    }

    @Test(arguments: Backend.available)
    func theNegativeListIsRefusedAndUnlistedItemsMayBeDeclined(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            var scoring = Self.input(w, entry: w.negativeEntry)
            scoring.title = "社区配合执法情况打分"; scoring.kind = .assessment
            let id = try await o.submit(scoring, actor: w.dept)
            var reason = WorkItemDecisionInput()
            reason.reason = "确有需要"
            do { try await o.admit(id, reason, actor: w.street); Issue.record("admitted a negative-list item") } catch let e as LinliError {
                #expect(e.code == "negative_list" && e.message.contains("N-02"), "\(e)")
            }
            // Its department sees it and cannot decide it; a community's staff do not see it at all.
            await #expect(throws: LinliError.forbidden) { try await o.admit(id, reason, actor: w.dept) }
            await #expect(throws: LinliError.notFound) { try await o.refuse(id, reason, actor: w.staff) }
            await #expect(throws: LinliError.self) { try await o.refuse(id, WorkItemDecisionInput(), actor: w.street) }
            try await o.refuse(id, reason, actor: w.street)
            #expect(try await o.item(id, actor: w.dept).status == .refused)
            let told = try await f.linli.inbox.list(actor: w.dept, lang: .zh)
            #expect(told.contains { $0.link == "/work-items/\(id)" })

            // On no list: admitted only with a reason; then a community may refuse it and its money goes back.
            var ad = Self.input(w, entry: nil)
            ad.title = "防汛物资临时清点"; ad.fee = "100"
            let adHoc = try await o.submit(ad, actor: w.dept)
            var fund = DepartmentFundingInput()
            fund.amount = "300"
            try await o.fund(departmentID: w.department, fund, actor: w.street)
            do { try await o.admit(adHoc, WorkItemDecisionInput(), actor: w.street); Issue.record("admitted an unlisted item without a reason") } catch let e as LinliError {
                #expect(e.field == "reason" && e.code == "not_listed")
            }
            var because = WorkItemDecisionInput()
            because.reason = "台风预警，临时准入"
            try await o.admit(adHoc, because, actor: w.street)
            #expect(try await o.item(adHoc, actor: w.staff).communitiesMayRefuse)
            var no = WorkItemAnswerInput()
            no.reason = "本社区无防汛仓库"
            try await o.decline(adHoc, no, actor: w.staff)
            let moves = try await Self.ledger(f, item: adHoc)
            #expect(moves.map(\.0) == ["task_fee", "task_fee", "task_fee_refund"] && moves[2].1 == w.first)
            let v = try await o.item(adHoc, actor: w.dept)
            #expect(v.shares.first { $0.communityID == w.first }?.status == .refused && v.shares.first { $0.communityID == w.first }?.reason == "本社区无防汛仓库")
            #expect(try await f.linli.linkage.checkLedger().ok)
        }
    }

    @Test(arguments: Backend.available)
    func lateSharesAndOverdueDecisionsShow(_ backend: Backend) async throws {
        let clock = Self.clock()
        try await withFixture(backend, clock: clock) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            var i = Self.input(w, entry: w.sortingEntry, units: 1)
            i.dueOn = "2026-12-15"
            let late = try await o.submit(i, actor: w.dept)
            let waiting = try await o.submit(i, actor: w.dept)
            var fund = DepartmentFundingInput()
            fund.amount = "10"
            try await o.fund(departmentID: w.department, fund, actor: w.street)
            try await o.admit(late, WorkItemDecisionInput(), actor: w.street)
            clock.advance(hours: 24 * 9)   // Wednesday 2026-12-16
            let list = try await o.items(actor: w.street)
            #expect(list.first { $0.id == late }?.late == 2)
            #expect(list.first { $0.id == waiting }?.decisionOverdue == true, "decide by Thursday 12-10")
            #expect(try await o.item(late, actor: w.staff).shares.first?.late == true)
        }
    }

    @Test(arguments: Backend.available)
    func theListsAreEditedOnlyByTheirStreetAndBadInputIsNamed(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            var d = OfficeDraftInput()
            d.kind = .assist
            // A community's staff do not keep the street's lists (the street is outside their area).
            await #expect(throws: LinliError.notFound) { _ = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: w.staff) }
            await #expect(throws: LinliError.notFound) { _ = try await o.startDraft(placeID: f.demo.byStreet[1].firstStreetID, d, actor: w.street) }
            await #expect(throws: LinliError.notFound) { _ = try await o.lists(placeID: f.demo.firstCommunityID, actor: nil) }
            let draft = try await o.startDraft(placeID: f.demo.firstStreetID, d, actor: w.street)
            await #expect(throws: LinliError.notFound) { _ = try await o.list(draft, actor: nil) }
            var bad = OfficeListItemInput()
            bad.code = "A-01"; bad.feePerUnit = "-3"
            do { _ = try await o.addListItem(listID: draft, bad, actor: w.street); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["title", "fee_per_unit"])
            }
            var clock = OfficeSettingsInput()
            clock.leadDays = 500; clock.decideDays = 0
            do { try await o.setClock(placeID: f.demo.firstStreetID, clock, actor: w.street); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["lead_days", "decide_days"])
            }
            var i = Self.input(w, entry: w.sortingEntry)
            i.title = ""; i.units = 0; i.dueOn = "2026-12-01"; i.communityIDs = []
            do { _ = try await o.submit(i, actor: w.dept); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["title", "units", "due_on", "community_ids"])
            }
            i = Self.input(w, entry: w.sortingEntry)
            i.startsOn = "2026-02-30"
            await #expect(throws: LinliError.self) { _ = try await o.submit(i, actor: w.dept) }
            #expect(try await f.linli.store.read { db in try await db.query("SELECT COUNT(*) AS n FROM work_items").first()!.decode(column: "n", as: Int.self) } == 0)
        }
    }

    /// A district's bureau sends one item to communities of two streets: each street reviews
    /// its part under its own clock and lists, the items link to each other for those who see
    /// both, and a retry or a refusal writes nothing more.
    @Test(arguments: Backend.available)
    func aDistrictDepartmentsItemGoesToEachStreetUnderItsOwnLists(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let o = f.linli.offices
            let w = try await Self.world(f)
            let street2 = try await f.actor("street2"), secondStreet = f.demo.byStreet[1].firstStreetID
            let (district, bureau) = try await f.linli.store.transaction { db in
                let district = try await db.query("SELECT parent_id FROM places WHERE id = \(f.demo.firstStreetID)").first()!.decode(column: "parent_id", as: Int64.self)
                let bureau = try await db.query("INSERT INTO organisations (kind, name, place_id) VALUES ('gov_department', '示范区民政局', \(district)) RETURNING id")
                    .first()!.decode(column: "id", as: Int64.self)
                return (district, bureau)
            }
            _ = try await f.linli.accounts.createUser(username: "bureau", displayName: "民政局联络员", password: Fixture.password)
            try await f.linli.accounts.grant(username: "bureau", role: .departmentStaff, placeID: district, organisationID: bureau)
            let b = try await f.actor("bureau")
            // The district's admission list holds a survey for both streets; the second street's own list a paid one.
            func entry(_ place: Int64, _ code: String, _ title: String, fee: String?, by: Actor) async throws -> Int64 {
                var d = OfficeDraftInput()
                d.kind = .admission
                let list = try await o.startDraft(placeID: place, d, actor: by)
                var i = OfficeListItemInput()
                i.code = code; i.title = title; i.basis = "区准入目录"; i.departmentID = bureau; i.feePerUnit = fee; i.unit = "户"
                let id = try await o.addListItem(listID: list, i, actor: by)
                try await o.publish(listID: list, OfficePublishInput(), actor: by)
                return id
            }
            let survey = try await entry(district, "D-01", "困难群众走访摸底", fee: "1", by: w.admin)
            let own = try await entry(secondStreet, "B-01", "居家养老需求调查", fee: "3", by: street2)
            @Sendable func count() async throws -> Int {
                try await f.linli.store.read { db in try await db.query("SELECT COUNT(*) AS n FROM work_items").first()!.decode(column: "n", as: Int.self) }
            }
            var i = WorkItemInput()
            i.title = "困难群众走访摸底"; i.kind = .dataCollection; i.units = 100; i.listItemID = survey
            i.communityIDs = [w.first, w.outside]; i.startsOn = "2026-12-14"; i.dueOn = "2026-12-31"; i.clientKey = "b1"
            i.streetEntries = [.init(streetID: secondStreet, listItemID: own)]
            // The second street keeps the default clock (30 working days): refused naming it, nothing written.
            do { _ = try await o.submit(i, actor: b); Issue.record("too soon for the second street") } catch let e as LinliError {
                #expect(e.field == "starts_on" && e.message.hasPrefix("湖滨街道2：") && e.message.contains("30"), "\(e)")
            }
            var clock = OfficeSettingsInput()
            clock.leadDays = 5; clock.decideDays = 5
            try await o.setClock(placeID: secondStreet, clock, actor: street2)
            // The second street's own entry is in force there only: sent to both, refused naming the first.
            var wrong = i
            wrong.listItemID = own; wrong.streetEntries = nil
            do { _ = try await o.submit(wrong, actor: b); Issue.record("an entry out of force at the first street") } catch let e as LinliError {
                #expect(e.field == "list_item_id" && e.message.hasPrefix("湖滨街道："), "\(e)")
            }
            #expect(try await count() == 0)

            // Sent from the console's form: each street's communities and its own entry.
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let title = i.title!.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let input = i
            // (The application's end closes the store: everything after runs inside.)
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "bureau")
                var res = try await client.execute(uri: "/work-items", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("name=\"list_item_id_\(secondStreet)\"") && res.body.text.contains("分别报送各街道审核"))
                let csrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form = "_csrf=\(csrf)&client_key=b1&title=\(title)&kind=data_collection&units=100&community_ids=\(w.first)&community_ids=\(w.outside)"
                    + "&list_item_id_\(f.demo.firstStreetID)=\(survey)&list_item_id_\(secondStreet)=\(own)&starts_on=2026-12-14&due_on=2026-12-31"
                res = try await client.execute(uri: "/work-items", method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                                               body: ByteBuffer(string: form))
                #expect(res.status == .seeOther, "\(res.body.text.prefix(300))")
                let id = Int64(res.headers[.location]!.split(separator: "/").last!)!
                res = try await client.execute(uri: "/work-items/\(id)", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("id=\"together\"") && res.body.text.contains("湖滨街道2（待准入）"))
                // The API's retry of the same submission answers with the same item.
                let token = try await f.token("bureau")
                res = try await client.execute(uri: "/api/v1/work-items", method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"title":"困难群众走访摸底","kind":"data_collection","units":100,"list_item_id":\#(survey),"community_ids":[\#(w.first),\#(w.outside)],"starts_on":"2026-12-14","due_on":"2026-12-31","client_key":"b1","street_entries":[{"street_id":\#(secondStreet),"list_item_id":\#(own)}]}"#))
                #expect(res.status == .created && res.body.text.contains(#""id":\#(id),"#), "\(res.body.text.prefix(300))")
                #expect(try await o.submit(input, actor: b) == id, "a retry is the same submission")
                #expect(try await count() == 2, "one item for each street")
                let mine = try await o.item(id, actor: b)
                #expect(mine.streetID == f.demo.firstStreetID && mine.listItemID == survey && mine.fee == 10_000 && mine.shares.map(\.communityID) == [w.first])
                #expect(mine.together.count == 1, "the bureau sees both")
                let other = try await o.item(mine.together[0].id, actor: b)
                #expect(other.streetID == secondStreet && other.listItemID == own && other.fee == 30_000 && other.shares.map(\.communityID) == [w.outside] && other.decideBy == "2026-12-14")
                #expect(other.together.map(\.id) == [id])
                // Each street reviews its own part and sees nothing of the other's.
                let first = try await o.item(id, actor: w.street)
                #expect(first.mayDecide && first.together.isEmpty)
                await #expect(throws: LinliError.notFound) { try await o.item(other.id, actor: w.street) }
                #expect(try await o.item(other.id, actor: street2).mayDecide)
                var no = WorkItemDecisionInput()
                no.reason = "本街道本月已完成摸底"
                try await o.refuse(other.id, no, actor: street2)
                #expect(try await o.item(id, actor: b).together.first?.status == .refused)
                #expect(try await o.item(id, actor: w.street).status == .submitted, "the first street's part is its own to decide")
            }
        }
    }

    @Test(arguments: Backend.available)
    func theJSONTwinsAndThePublicListsAnswerOverHTTP(_ backend: Backend) async throws {
        try await withFixture(backend, clock: Self.clock()) { f in
            let w = try await Self.world(f)
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let dept = try await f.token("dept"), street = try await f.token("street")
            try await built.app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ token: String?, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [:]
                    if let token { h[.authorization] = "Bearer \(token)" }
                    if body != nil { h[.contentType] = "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                // Public, without signing in: the page and its JSON.
                let page = try await call(.get, "/lists/\(f.demo.firstStreetID)", nil)
                #expect(page.status == .ok && page.body.text.contains("垃圾分类入户宣传") && page.body.text.contains("N-02"))
                let json = try await call(.get, "/api/v1/lists/\(f.demo.firstStreetID)", nil)
                #expect(json.status == .ok && json.body.text.contains(#""kind":"negative""#))
                let bad = try await call(.post, "/api/v1/work-items", dept, #"{"title":"x","kind":"task","community_ids":[\#(w.first)],"starts_on":"2026-12-08","due_on":"2026-12-20"}"#)
                #expect(bad.status == .unprocessableContent && bad.body.text.contains("starts_on"))
                let made = try await call(.post, "/api/v1/work-items", dept,
                                          #"{"title":"入户宣传","kind":"task","list_item_id":\#(w.sortingEntry),"units":1,"community_ids":[\#(w.first)],"starts_on":"2026-12-14","due_on":"2026-12-20"}"#)
                #expect(made.status == .created, "\(made.body.text)")
                let id = String(made.body.text.firstMatch(of: /"id":(\d+)/)!.1)
                _ = try await call(.post, "/api/v1/departments/\(w.department)/funding", street, #"{"amount":"5","client_key":"a"}"#)
                let admitted = try await call(.post, "/api/v1/work-items/\(id)/admit", street)
                #expect(admitted.status == .ok && admitted.body.text.contains(#""status":"admitted""#))
                let notYours = try await call(.post, "/api/v1/work-items/\(id)/admit", dept)
                #expect(notYours.status == .forbidden)
            }
        }
    }
}

@Suite struct RatingRulesTests {
    @Test func departmentsRankByAverageThenFewerBadThenOnTime() {
        typealias F = RatingRules.Figures
        let a = F(departmentID: 1, ratings: 4, levelSum: 17, bad: 0, sharesDue: 10, sharesOnTime: 9)    // 4.25
        let b = F(departmentID: 2, ratings: 3, levelSum: 13, bad: 1, sharesDue: 4, sharesOnTime: 4)     // 4.33, one bad
        let c = F(departmentID: 3, ratings: 3, levelSum: 13, bad: 0)                                     // 4.33, none bad
        let none = F(departmentID: 4, sharesDue: 2, sharesOnTime: 1)
        #expect(a.averageCentis == 425 && b.averageCentis == 433 && b.badPercent == 33 && a.onTimePercent == 90)
        #expect(none.averageCentis == nil && none.badPercent == nil && none.onTimePercent == 50)
        #expect(RatingRules.rank([none, a, b, c]).map(\.departmentID) == [3, 2, 1, 4], "equal averages: fewer bad first; unrated last")
        #expect(RatingRules.isBad(1) && RatingRules.isBad(2) && !RatingRules.isBad(3))
        #expect(RatingRules.period(of: Input.day("2026-12-31")!) == "2026-12")
        // The requests routed to it join in: 7 of 8 resolved on time (88 %), residents' 4.5.
        var d = F(departmentID: 5, ratings: 3, levelSum: 13, bad: 0)
        d.requests.routed = 10; d.requests.resolved = 8; d.requests.resolvedOnTime = 7; d.requests.rated = 4; d.requests.ratingSum = 18
        #expect(d.requestsOnTimePercent == 88 && d.requestsRatingCentis == 450)
        #expect(RatingRules.rank([c, d]).map(\.departmentID) == [5, 3], "all else equal, requests on time decide")
    }
}

@Suite struct DepartmentRatingTests {
    @Test(arguments: Backend.available)
    func aBadRatingIsFixedOrAppealedAndTheDistrictDecides(_ backend: Backend) async throws {
        try await withFixture(backend, clock: OfficesStoreTests.clock()) { f in
            let o = f.linli.offices
            let w = try await OfficesStoreTests.world(f)
            var fund = DepartmentFundingInput()
            fund.amount = "2000"
            try await o.fund(departmentID: w.department, fund, actor: w.street)
            var i = OfficesStoreTests.input(w, entry: w.sortingEntry, units: 1)
            i.dueOn = "2026-12-18"
            let item = try await o.submit(i, actor: w.dept)
            try await o.admit(item, WorkItemDecisionInput(), actor: w.street)

            // A bad rating needs its reason; levels are 1–5; only a community the department serves rates.
            var r = RatingInput()
            r.itemID = item; r.level = 1; r.timeliness = 1; r.helpfulness = 9
            do { _ = try await o.rate(departmentID: w.department, r, actor: w.staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["helpfulness", "comment"])
            }
            r.helpfulness = 2; r.comment = "通知下达当天就要报数，没有留出入户时间。"
            await #expect(throws: LinliError.notFound) { _ = try await o.rate(departmentID: w.department, r, actor: w.staff2) }
            do { _ = try await o.rate(departmentID: w.department, r, actor: w.street); Issue.record("a street rated") } catch let e as LinliError { #expect(e.field == "community_id") }
            let bad = try await o.rate(departmentID: w.department, r, actor: w.staff)
            do { _ = try await o.rate(departmentID: w.department, r, actor: w.staff); Issue.record("rated twice") } catch let e as ValidationErrors {
                #expect(e.errors.contains { $0.code == "rated" })
            } catch let e as LinliError { #expect(e.code == "rated") }
            var general = RatingInput()
            general.level = 5; general.timeliness = 5; general.helpfulness = 4
            _ = try await o.rate(departmentID: w.department, general, actor: w.staff)

            var v = try await o.department(w.department, period: nil, actor: w.dept)
            #expect(v.ratings.count == 2 && v.figures.ratings == 2 && v.figures.average == "3.00" && v.figures.bad == 1 && v.figures.openFixes == 1)
            let shown = v.ratings.first { $0.id == bad }!
            #expect(shown.status == .fixing && shown.fixDue == "2026-12-28" && shown.mayAnswer && !shown.mayDecide, "15 working days from Monday 12-07")
            #expect(try await f.linli.inbox.list(actor: w.dept, lang: .zh).contains { $0.link?.hasPrefix("/departments/\(w.department)") == true })

            // The department appeals; the street cannot decide it, the district (here the city) can.
            var text = RatingAnswerInput()
            await #expect(throws: LinliError.self) { try await o.appealRating(bad, text, actor: w.dept) }
            text.text = "通知提前 5 个工作日下发，有签收记录。"
            do { try await o.appealRating(bad, text, actor: w.staff); Issue.record("a community appealed") } catch let e as LinliError { #expect(e.code == "department_answers") }
            try await o.appealRating(bad, text, actor: w.dept)
            var decision = RatingAnswerInput()
            decision.text = "有签收记录，但未留入户时间，评价维持。"; decision.uphold = true
            do { try await o.decideAppeal(bad, decision, actor: w.street); Issue.record("a street decided") } catch let e as LinliError { #expect(e.code == "district_decides") }
            try await o.decideAppeal(bad, decision, actor: w.admin)
            await #expect(throws: LinliError.self) { try await o.decideAppeal(bad, decision, actor: w.admin) }
            v = try await o.department(w.department, period: nil, actor: w.staff)
            #expect(v.ratings.first { $0.id == bad }?.status == .fixing && v.ratings.first { $0.id == bad }?.decision == decision.text)
            // The fix is answered on time, and counts so.
            text.text = "今后报数类事项至少提前 10 个工作日下发。"
            try await o.answerRating(bad, text, actor: w.dept)
            v = try await o.department(w.department, period: nil, actor: w.street)
            #expect(v.figures.fixedOnTime == 1 && v.figures.openFixes == 0)

            // The item done before its day counts on time in the street's ranking.
            var done = WorkItemAnswerInput()
            done.evidence = "已完成"
            try await o.report(item, done, actor: w.staff)
            let ranking = try await o.ranking(placeID: f.demo.firstStreetID, period: "2026-12", actor: w.street)
            #expect(ranking.rows.map(\.departmentID) == [w.department])
            #expect(ranking.rows[0].sharesDue == 2 && ranking.rows[0].onTimePercent == 50, "one of its two communities done by the day")
            await #expect(throws: LinliError.notFound) { _ = try await o.ranking(placeID: f.demo.byStreet[1].firstStreetID, period: nil, actor: w.street) }
            await #expect(throws: LinliError.self) { _ = try await o.ranking(placeID: f.demo.firstStreetID, period: "2026-13", actor: w.street) }

            // An overturned rating no longer counts.
            var again = RatingInput()
            again.level = 2; again.timeliness = 2; again.helpfulness = 2; again.comment = "数据口径反复变化。"
            var second = OfficesStoreTests.input(w, entry: w.sortingEntry, units: 1)
            second.communityIDs = [w.first]
            let item2 = try await o.submit(second, actor: w.dept)
            try await o.admit(item2, WorkItemDecisionInput(), actor: w.street)
            again.itemID = item2
            let unfair = try await o.rate(departmentID: w.department, again, actor: w.staff)
            text.text = "口径由市里统一调整，非本部门原因。"
            try await o.appealRating(unfair, text, actor: w.dept)
            decision.uphold = false; decision.text = "口径调整非部门原因，撤销。"
            try await o.decideAppeal(unfair, decision, actor: w.admin)
            v = try await o.department(w.department, period: nil, actor: w.street)
            #expect(v.figures.ratings == 2 && v.figures.bad == 1, "the overturned rating is left out")
        }
    }
}

@Suite struct IndicatorRulesTests {
    @Test func scoresAreWeighedAgainstTargets() {
        #expect(IndicatorRules.hundredths("12.5") == 1250 && IndicatorRules.hundredths("20") == 2000 && IndicatorRules.hundredths("7.25%") == 725)
        #expect(IndicatorRules.hundredths("-3") == nil && IndicatorRules.hundredths("1.234") == nil && IndicatorRules.hundredths("abc") == nil && IndicatorRules.hundredths("") == nil)
        #expect(IndicatorRules.text(1250) == "12.5" && IndicatorRules.text(725) == "7.25" && IndicatorRules.text(10000) == "100" && IndicatorRules.text(5) == "0.05")
        #expect(IndicatorRules.weightsAddUp([3000, 2000, 5000]) && !IndicatorRules.weightsAddUp([3000, 2000, 4000]) && !IndicatorRules.weightsAddUp([10000, 0]))
        #expect(!IndicatorRules.weightsAddUp([]))
        #expect(IndicatorRules.percent(45, 50) == 9000 && IndicatorRules.percent(0, 0) == nil && IndicatorRules.percent(1, 3) == 3333)
        // Full marks at the target, in proportion below, never above; no value, no automatic score.
        #expect(IndicatorRules.autoScore(value: 9000, target: 9500) == 9473)
        #expect(IndicatorRules.autoScore(value: 9800, target: 9500) == 10000)
        #expect(IndicatorRules.autoScore(value: nil, target: 9500) == nil)
        #expect(IndicatorRules.autoScore(value: 300, target: 400) == 7500, "3 meetings of the 4 aimed at")
        // The reviewer decides; the weighted total counts an unscored indicator as nothing.
        #expect(IndicatorRules.final(auto: 9473, review: 8000) == 8000 && IndicatorRules.final(auto: 9473, review: nil) == 9473)
        #expect(IndicatorRules.total([(3000, 10000), (2000, 5000), (5000, nil)]) == 4000)
        #expect(IndicatorRules.total([(3000, 9473), (7000, 10000)]) == 9841)
    }
}

@Suite struct AssessmentTests {
    @Test(arguments: Backend.available)
    func aStreetsCommunitiesAreAssessedComparablyAndTheResultIsPublic(_ backend: Backend) async throws {
        try await withFixture(backend, clock: OfficesStoreTests.clock()) { f in
            let o = f.linli.offices
            let w = try await OfficesStoreTests.world(f)
            var s = AssessmentInput()
            s.placeID = f.demo.firstStreetID; s.name = "2026 年度示范社区验收"; s.from = "2026-01-01"; s.to = "2026-12-31"; s.passMark = "60"
            await #expect(throws: LinliError.notFound) { _ = try await o.createAssessment(s, actor: w.staff) }
            let id = try await o.createAssessment(s, actor: w.street)
            func add(_ code: String, _ metric: IndicatorMetric, _ weight: String, _ target: String) async throws -> Int64 {
                var i = IndicatorInput()
                i.code = code; i.name = "指标\(code)"; i.metric = metric; i.weight = weight; i.target = target
                return try await o.addIndicator(setID: id, i, actor: w.street)
            }
            let property = try await add("1", .propertyCoverage, "40", "100")
            let special = try await add("2", .manual, "30", "1")
            // Weights of 70 %: refused at the start, naming the sum, nothing opened.
            do { try await o.openAssessment(id, actor: w.street); Issue.record("opened at 70 %") } catch let e as LinliError {
                #expect(e.field == "weight" && e.message.contains("70"))
            }
            #expect(try await o.assessment(id, actor: w.street).status == .draft)
            let visits = try await add("3", .householdsVisited, "30", "80")
            var bad = IndicatorInput()
            bad.code = "1"; bad.name = "x"; bad.metric = .manual; bad.weight = "0"; bad.target = ""
            do { _ = try await o.addIndicator(setID: id, bad, actor: w.street); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["weight", "target", "code"])
            }
            // Before publication: no public, and a community sees its own row only.
            await #expect(throws: LinliError.notFound) { _ = try await o.assessment(id, actor: nil) }
            try await o.openAssessment(id, actor: w.street)
            await #expect(throws: LinliError.self) { _ = try await o.addIndicator(setID: id, bad, actor: w.street) }
            var v = try await o.assessment(id, actor: w.street)
            #expect(v.rows.count == 2 && v.weightsTotal == "100")
            let expected = try await f.linli.store.read { db in try await RegistryService.compoundCoverage(db, communityIDs: [w.first], kind: .propertyCompany)[w.first]! }
            let cell = v.rows.first { $0.communityID == w.first }!.cells.first { $0.indicatorID == property }!
            #expect(cell.evidence == "\(expected.0)/\(expected.1)" && cell.value == IndicatorRules.percent(expected.0, expected.1).map { IndicatorRules.text($0) + "%" })
            #expect(try await o.assessment(id, actor: w.staff).rows.map(\.communityID) == [w.first])

            // Self-assessment of the community's own figure, and the reviewer's score that decides.
            var mine = AssessmentScoreInput()
            mine.indicatorID = special; mine.score = "100"
            do { try await o.selfAssess(id, mine, actor: w.staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["value", "note"])
            }
            mine.value = "1"; mine.note = "打造“邻里议事厅”品牌，获区级表彰（附文件）。"
            try await o.selfAssess(id, mine, actor: w.staff)
            await #expect(throws: LinliError.self) { try await o.review(id, mine, actor: w.staff) }
            var review = AssessmentScoreInput()
            review.indicatorID = visits; review.communityID = w.first; review.score = "150"
            await #expect(throws: LinliError.self) { try await o.review(id, review, actor: w.street) }
            review.score = "70"; review.note = "走访记录抽查有缺漏。"
            try await o.review(id, review, actor: w.street)
            v = try await o.assessment(id, actor: w.street)
            let row = v.rows.first { $0.communityID == w.first }!
            #expect(row.cells.first { $0.indicatorID == special }?.score == "100" && row.cells.first { $0.indicatorID == visits }?.score == "70")
            let propertyScore = IndicatorRules.autoScore(value: IndicatorRules.percent(expected.0, expected.1), target: 10_000) ?? 0
            #expect(row.total == IndicatorRules.text(Int64(IndicatorRules.total([(4000, propertyScore), (3000, 10_000), (3000, 7000)]))))
            #expect(v.rows.map(\.rank) == [1, 2])

            try await o.publishAssessment(id, actor: w.street)
            let public_ = try await o.assessment(id, actor: nil)
            #expect(public_.status == .published && public_.rows.count == 2 && !public_.mayReview)
            await #expect(throws: LinliError.self) { try await o.review(id, review, actor: w.street) }
            #expect(try await o.assessments(actor: w.staff2).allSatisfy { $0.id != id }, "another street's communities do not list it")
        }
    }
}

@Suite struct DashboardRulesTests {
    @Test func communitiesRollUpIntoThePlacesBelowTheArea() {
        var a = AreaFigures(); a.communities = 1; a.requests = 10; a.resolved = 8; a.onTime = 6; a.ratingSum = 9; a.rated = 2
        var b = AreaFigures(); b.communities = 1; b.requests = 5; b.resolved = 2; b.onTime = 2; b.compounds = 4; b.withProperty = 3
        var c = AreaFigures(); c.communities = 1; c.requests = 1
        let rolled = DashboardRules.roll([1: a, 2: b, 3: c, 4: c], childOf: [1: 100, 2: 100, 3: 200])
        #expect(rolled.count == 2 && rolled[100]?.requests == 15 && rolled[100]?.communities == 2 && rolled[200]?.requests == 1, "community 4 has no place below the area")
        #expect(DashboardRules.share(rolled[100]!.onTime, rolled[100]!.resolved) == "80%" && DashboardRules.share(0, 0) == "—")
        #expect(DashboardRules.share(3, 4) == "75%" && DashboardRules.share(1, 3) == "33.33%")
        #expect(DashboardRules.average(9, 2) == "4.5" && DashboardRules.average(0, 0) == "—")
        #expect((a + b).withProperty == 3 && (a + b).ratingSum == 9)
    }

    /// The dashboard's spreadsheet escapes as every export does: no cell runs as a formula
    /// (a tab or CR first too, which the dashboard's own escaping once let through), one BOM.
    @Test func theDashboardSpreadsheetRunsNoFormula() {
        func row(_ name: String) -> DashboardRow { DashboardRow(placeID: 1, name: name, kind: "community", link: "/", figures: AreaFigures()) }
        let v = DashboardView(placeID: 9, name: "街道", kind: "street", from: "2026-12-01", to: "2026-12-05", upID: nil, total: row("合计"),
                              rows: [row(#"=HYPERLINK("http://evil.example","点我")"#), row("\t=1+1"), row("\r@SUM(A1)"), row("-2+3"), row("金桂社区")])
        let csv = OfficesService.csv(v)
        #expect(csv.hasPrefix("\u{FEFF}地区,") && !csv.hasPrefix("\u{FEFF}\u{FEFF}"))
        let names = csv.split(separator: "\r\n").dropFirst().map { $0.hasPrefix("\"") ? String($0.dropFirst().prefix(6)) : String($0.prefix(6)) }
        #expect(names.prefix(4).allSatisfy { $0.hasPrefix("'") }, "\(names)")
        #expect(csv.contains("\r\n金桂社区,") && csv.contains("\r\n合计,"))
    }
}

@Suite struct DashboardTests {
    @Test(arguments: Backend.available)
    func aStreetAndItsDistrictSeeTheirPlacesAtAGlance(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli
            _ = try await l.loadRequestsDemo()
            _ = try await l.loadDeliberationDemo()
            _ = try await l.loadLinkageDemo()
            let street = try await f.actor("street"), admin = try await f.actor("admin"), staff = try await f.actor("community")
            let v = try await l.offices.dashboard(placeID: f.demo.firstStreetID, from: "2020-01-01", to: "2029-12-31", actor: street)
            let (requests, households, communities) = try await l.store.read { db in
                let path = try await db.query("SELECT path FROM places WHERE id = \(f.demo.firstStreetID)").first()!.decode(column: "path", as: String.self)
                return (try await db.query("SELECT COUNT(*) AS n FROM requests WHERE street_id = \(f.demo.firstStreetID) AND merged_into IS NULL").first()!.decode(column: "n", as: Int64.self),
                        try await db.query("SELECT COUNT(*) AS n FROM households WHERE path LIKE \(path + "%")").first()!.decode(column: "n", as: Int64.self),
                        try await db.query("SELECT COUNT(*) AS n FROM places WHERE kind IN ('community', 'village') AND path LIKE \(path + "%")").first()!.decode(column: "n", as: Int64.self))
            }
            #expect(v.rows.count == Int(communities) && v.total.figures.requests == requests && v.total.figures.households == households)
            #expect(requests > 0 && v.total.figures.volunteers > 0 && v.total.figures.compounds > 0)
            #expect(v.rows.first { $0.placeID == f.demo.firstCommunityID }?.link == "/places/\(f.demo.firstCommunityID)")
            #expect(v.upID == nil, "a street's staff do not see the district")
            // The district: one row per street, drilling down; the city's admin may go up.
            let district = try await l.store.read { db in
                try await db.query("SELECT parent_id FROM places WHERE id = \(f.demo.firstStreetID)").first()!.decode(column: "parent_id", as: Int64.self)
            }
            let d = try await l.offices.dashboard(placeID: district, from: "2020-01-01", to: "2029-12-31", actor: admin)
            #expect(d.rows.contains { $0.placeID == f.demo.firstStreetID && $0.link == "/dashboard/\(f.demo.firstStreetID)" && $0.figures.requests == requests })
            #expect(d.upID != nil)
            await #expect(throws: LinliError.notFound) { _ = try await l.offices.dashboard(placeID: f.demo.byStreet[1].firstStreetID, from: nil, to: nil, actor: street) }
            // A community's staff hold no dashboard right; above their area the street answers as missing.
            await #expect(throws: LinliError.notFound) { _ = try await l.offices.dashboard(placeID: f.demo.firstStreetID, from: nil, to: nil, actor: staff) }
            await #expect(throws: LinliError.self) { _ = try await l.offices.dashboard(placeID: f.demo.firstStreetID, from: "2026-12-31", to: "2026-01-01", actor: street) }
            let csv = OfficesService.csv(v)
            #expect(csv.hasPrefix("\u{FEFF}地区,") && csv.contains("\r\n\(v.total.name),") && csv.components(separatedBy: "\r\n").count == v.rows.count + 3)
        }
    }
}

@Suite struct WorkItemRaceTests {
    /// Steps on one item at the same moment (a double click on admit and refuse, a revoke while a
    /// community reports): the money always matches what the item and its shares say.
    @Test(arguments: Backend.available)
    func simultaneousStepsLeaveTheMoneyAsTheItemSays(_ backend: Backend) async throws {
        try await withFixture(backend, clock: OfficesStoreTests.clock()) { f in
            let o = f.linli.offices
            let w = try await OfficesStoreTests.world(f)
            var fund = DepartmentFundingInput()
            fund.amount = "100000"
            try await o.fund(departmentID: w.department, fund, actor: w.street)
            var why = WorkItemDecisionInput()
            why.reason = "重复"
            for round in 0..<4 {
                var i = OfficesStoreTests.input(w, entry: w.sortingEntry, units: 10)
                i.clientKey = "race-\(round)"
                let id = try await o.submit(i, actor: w.dept)
                async let a: Void = o.admit(id, WorkItemDecisionInput(), actor: w.street)
                async let b: Void = o.refuse(id, why, actor: w.street)
                _ = try? await a; _ = try? await b
                let v = try await o.item(id, actor: w.street)
                let paid = try await OfficesStoreTests.ledger(f, item: id).filter { $0.0 == "task_fee" }.count
                #expect(v.status == .admitted ? paid == 2 : (v.status == .refused && paid == 0), "round \(round): \(v.status) with \(paid) fees")
                guard v.status == .admitted else { continue }
                var done = WorkItemAnswerInput()
                done.evidence = "已完成"
                async let c: Void = o.report(id, done, actor: w.staff)
                async let d: Void = o.revoke(id, why, actor: w.street)
                _ = try? await c; _ = try? await d
                let after = try await o.item(id, actor: w.street)
                let refunds = try await OfficesStoreTests.ledger(f, item: id).filter { $0.0 == "task_fee_refund" }.map(\.1)
                // Exactly the shares taken back get their money back: never one reported done.
                #expect(Set(refunds) == Set(after.shares.filter { $0.status == .revoked }.map(\.communityID)) && refunds.count == Set(refunds).count)
            }
            #expect(try await f.linli.linkage.checkLedger().ok)
        }
    }
}

@Suite struct CertificateRulesTests {
    @Test func templatesAreFilledAndNumbersAreTheStreets() {
        #expect(CertificateRules.fill("兹证明{姓名}居住在{住址}，用于{用途}。{社区}（{日期}）{其他}", name: "王秀英", address: "金桂苑 1 幢 101", purpose: "入学",
                                      date: "2026-12-07", community: "西林寺社区") == "兹证明王秀英居住在金桂苑 1 幢 101，用于入学。西林寺社区（2026-12-07）{其他}")
        #expect(CertificateRules.number(street: "湖滨街道", year: 2026, seq: 7) == "湖滨〔2026〕第 0007 号")
        #expect(CertificateRules.number(street: "七里镇", year: 2027, seq: 12345) == "七里〔2027〕第 12345 号")
        #expect(CertificateRules.number(street: "镇", year: 2027, seq: 1) == "镇〔2027〕第 0001 号", "a name that is only a suffix stays")
    }
}

@Suite struct CertificateTests {
    @Test(arguments: Backend.available)
    func aCommunityIssuesWhatItsStreetAllowsAndAnyoneChecksIt(_ backend: Backend) async throws {
        try await withFixture(backend, clock: OfficesStoreTests.clock()) { f in
            let o = f.linli.offices
            let w = try await OfficesStoreTests.world(f)
            var k = CertificateKindInput()
            k.placeID = f.demo.firstStreetID; k.name = "居住证明"; k.body = "兹证明{姓名}居住在{住址}，用于{用途}。"
            await #expect(throws: LinliError.notFound) { _ = try await o.addCertificateKind(k, actor: w.staff) }
            let residence = try await o.addCertificateKind(k, actor: w.street)
            k = CertificateKindInput()
            k.placeID = f.demo.firstStreetID; k.name = "无犯罪记录证明"; k.refused = true
            do { _ = try await o.addCertificateKind(k, actor: w.street); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.compactMap(\.field)) == ["basis", "go_instead"])
            }
            k.basis = "负面清单第 3 项"; k.goInstead = "到户籍所在地公安派出所办理"
            let police = try await o.addCertificateKind(k, actor: w.street)
            let (resident, name, outsider) = try await f.linli.store.read { db in
                let r = try await db.query("SELECT r.id, r.name FROM residents r JOIN households h ON h.id = r.household_id WHERE h.community_id = \(w.first) ORDER BY r.id").first()!
                let o = try await db.query("SELECT r.id FROM residents r JOIN households h ON h.id = r.household_id WHERE h.community_id = \(w.outside) ORDER BY r.id").first()!
                return (try r.decode(column: "id", as: Int64.self), try r.decode(column: "name", as: String.self), try o.decode(column: "id", as: Int64.self))
            }
            var c = CertificateInput()
            c.kindID = police; c.residentID = resident; c.purpose = "应聘"
            do { _ = try await o.issueCertificate(c, actor: w.staff); Issue.record("issued a negative-list certificate") } catch let e as LinliError {
                #expect(e.field == "kind_id" && e.code == "negative_list" && e.message.contains("公安派出所"))
            }
            c.kindID = residence; c.residentID = outsider
            await #expect(throws: LinliError.notFound) { _ = try await o.issueCertificate(c, actor: w.staff) }
            c.residentID = resident
            let first = try await o.issueCertificate(c, actor: w.staff)
            let second = try await o.issueCertificate(c, actor: w.staff)
            let v = try await o.certificate(first, actor: w.staff)
            let secondNumber = try await o.certificate(second, actor: w.staff).number
            #expect(v.number.hasSuffix("〔2026〕第 0001 号") && secondNumber.hasSuffix("第 0002 号"))
            let address = try await f.linli.store.read { db in
                try await db.query("SELECT h.address FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(resident)").first()!.decode(column: "address", as: String.self)
            }
            #expect(v.text == "兹证明\(name)居住在\(address)，用于应聘。")
            // Sealed at rest; its reading is audited; another street's community does not see it.
            let (stored, views) = try await f.linli.store.read { db in
                (try await db.query("SELECT text_cipher FROM certificates WHERE id = \(first)").first()!.decode(column: "text_cipher", as: String.self),
                 try await db.query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'certificate.view' AND object_id = \(first)").first()!.decode(column: "n", as: Int.self))
            }
            #expect(!stored.contains(name) && views == 1)
            await #expect(throws: LinliError.notFound) { _ = try await o.certificate(first, actor: w.staff2) }
            // Anyone checks it by its code: the holder masked, nothing else of them.
            let check = try await o.verifyCertificate(code: v.code.uppercased())
            #expect(check.valid && check.number == v.number && check.holder == name.maskedName && check.holder != name)
            await #expect(throws: LinliError.notFound) { _ = try await o.verifyCertificate(code: "nosuchcode") }
            await #expect(throws: LinliError.self) { try await o.revokeCertificate(first, CertificateRevokeInput(), actor: w.staff) }
            var why = CertificateRevokeInput()
            why.reason = "用途写错"
            try await o.revokeCertificate(first, why, actor: w.staff)
            #expect(try await o.verifyCertificate(code: v.code).valid == false)
            await #expect(throws: LinliError.self) { try await o.revokeCertificate(first, why, actor: w.staff) }
        }
    }
}

@Suite struct OutboxRulesTests {
    @Test func retriesBackOffAndPushesAreSigned() {
        #expect([1, 2, 3, 4, 9, 10, 60].map { OutboxRules.backoff(attempts: $0) } == [60, 120, 240, 480, 15_360, 21_600, 21_600])
        #expect(OutboxRules.backoff(attempts: 0) == 0)
        // The same as Python's hmac.new(b"shared-secret-0123", b'1765000000.{"a":1}', hashlib.sha256).hexdigest().
        #expect(OutboxRules.signature(secret: Array("shared-secret-0123".utf8), timestamp: 1_765_000_000, body: Array(#"{"a":1}"#.utf8))
                == "t=1765000000,v1=c51475e8f3bbf18866218c38d7088ba227a27bbc83f0df69e61fef3b4fa9ad21")
    }
}

@Suite struct DepartmentRequestsTests {
    @Test(arguments: Backend.available)
    func requestsRoutedToADepartmentAreItsOwnAndJoinItsRanking(_ backend: Backend) async throws {
        try await withFixture(backend, clock: OfficesStoreTests.clock()) { f in
            let w = try await OfficesStoreTests.world(f)
            let rq = f.linli.requests
            let otherDepartment = try await f.actor("dept2").grants.first { $0.role == .departmentStaff }!.organisationID!
            // A rule names a department only for "a department", and one serving the place.
            do {
                try await rq.setRoutingRule(category: "street_public", placeID: f.demo.firstStreetID, partyKind: "residents_committee", organisationID: w.department, actor: w.street)
                Issue.record("accepted")
            } catch let e as LinliError { #expect(e.field == "organisation_id") }
            do {
                try await rq.setRoutingRule(category: "street_public", placeID: f.demo.firstStreetID, partyKind: "department", organisationID: otherDepartment, actor: w.street)
                Issue.record("accepted")
            } catch let e as LinliError { #expect(e.field == "organisation_id" && e.code == "not_serving") }
            try await rq.setRoutingRule(category: "street_public", placeID: f.demo.firstStreetID, partyKind: "department", organisationID: w.department, actor: w.street)
            #expect(try await rq.routingRules(actor: w.street, lang: .zh).contains { $0.organisationID == w.department && $0.organisationName?.contains("执法") == true })

            let resident = try await f.actor("resident")
            var r = RequestInput()
            r.category = "street_public"; r.householdID = f.demo.firstHouseholdWithResidents; r.description = "北门外的路灯坏了。"
            let id = try await rq.submit(r, actor: resident).request.id
            // The department's own queue; the street routes it but does not handle it; another department never sees it.
            #expect(try await rq.list(.queue, actor: w.dept, lang: .zh).map(\.id) == [id])
            let seen = try await rq.detail(id, actor: w.dept, lang: .zh)
            #expect(seen.request.partyName.contains("执法") && seen.abilities.accept)
            let street = try await rq.detail(id, actor: w.street, lang: .zh)
            #expect(!street.abilities.accept && street.abilities.reassign)
            #expect(try await rq.list(.queue, actor: w.street, lang: .zh).allSatisfy { $0.id != id }, "not the street's own queue")
            await #expect(throws: LinliError.notFound) { _ = try await rq.detail(id, actor: try await f.actor("dept2"), lang: .zh) }
            #expect(try await rq.list(.area, actor: w.dept, lang: .zh).isEmpty, "a department sees its own requests, not the area's")
            // The first step names the department, in words.
            #expect(seen.events.first { $0.kind == "assigned" }?.note.contains("执法") == true)
            // Re-assigned to a department that does not serve the place: refused naming the field.
            var move = RequestsService.ActionInput()
            move.partyKind = "department"; move.organisationID = otherDepartment
            do { _ = try await rq.perform(.reassign, id: id, move, actor: w.street); Issue.record("accepted") } catch let e as LinliError {
                #expect(e.field == "organisation_id")
            }
            // Handled by the department, confirmed by the resident: the ranking counts it.
            _ = try await rq.perform(.accept, id: id, RequestsService.ActionInput(), actor: w.dept)
            var done = RequestsService.ActionInput()
            done.note = "已更换灯泡。"
            _ = try await rq.perform(.resolve, id: id, done, actor: w.dept)
            var ok = RequestsService.ActionInput()
            ok.rating = 4
            _ = try await rq.perform(.confirm, id: id, ok, actor: resident)
            let row = try await f.linli.offices.ranking(placeID: f.demo.firstStreetID, period: "2026-12", actor: w.street).rows.first { $0.departmentID == w.department }!
            #expect(row.requestsRouted == 1 && row.requestsResolved == 1 && row.requestsOnTimePercent == 100 && row.requestsRating == "4.00")
            let page = try await f.linli.offices.department(w.department, period: "2026-12", actor: w.staff)
            #expect(page.figures.requestsRouted == 1)
            #expect(try await f.linli.offices.ranking(placeID: f.demo.firstStreetID, period: "2026-11", actor: w.street).rows.allSatisfy { $0.requestsRouted == 0 })
        }
    }
}

/// Records what would have been sent, answering as told.
final class RecordingSender: Sendable {
    let sent = NIOLockedValueBox<[(url: URL, body: [UInt8], headers: [String: String])]>([])
    let answers = NIOLockedValueBox<[Int]>([])
    var send: WebhookSender {
        { [self] url, body, headers in
            sent.withLockedValue { $0.append((url, body, headers)) }
            return answers.withLockedValue { $0.isEmpty ? 200 : $0.removeFirst() }
        }
    }
}

@Suite struct OutboxTests {
    @Test(arguments: Backend.available)
    func requestStepsArePushedSignedAndRetried(_ backend: Backend) async throws {
        let clock = OfficesStoreTests.clock()
        try await withFixture(backend, clock: clock) { f in
            let o = f.linli.offices
            let w = try await OfficesStoreTests.world(f)
            var e = WebhookEndpointInput()
            e.placeID = f.demo.firstStreetID; e.name = "市 12345 平台"; e.url = "http://hotline.example/push"; e.secret = "short"
            do { _ = try await o.addEndpoint(e, actor: w.street); Issue.record("accepted") } catch let err as ValidationErrors {
                #expect(Set(err.errors.compactMap(\.field)) == ["url", "secret"], "plain http only to this machine; a real secret")
            }
            e.url = "https://hotline.example/push"; e.secret = "shared-secret-0123456"
            await #expect(throws: LinliError.notFound) { _ = try await o.addEndpoint(e, actor: w.staff) }
            _ = try await o.addEndpoint(e, actor: w.street)
            var other = WebhookEndpointInput()
            other.placeID = f.demo.byStreet[1].firstStreetID; other.name = "另一街道"; other.url = "https://other.example/push"; other.secret = "another-secret-0123"
            _ = try await o.addEndpoint(other, actor: try await f.actor("street2"))

            var r = RequestInput()
            r.category = "noise"; r.description = "楼下广场舞音响太大。"; r.householdID = f.demo.firstHouseholdWithResidents
            r.contactName = "王秀英"; r.contactPhone = "13900001111"
            let request = try await f.linli.requests.submit(r, actor: try await f.actor("resident")).request.id
            let queued = try await o.outbox(actor: w.street)
            #expect(queued.items.count == 1 && queued.items[0].requestID == request && queued.items[0].kind == "submitted")
            #expect(try await o.outbox(actor: try await f.actor("street2")).items.isEmpty, "another street's system hears nothing of it")

            // The receiver is down: tried again a minute later, not before.
            let recorder = RecordingSender()
            recorder.answers.withLockedValue { $0 = [503] }
            var round = try await o.deliverOutbox(sender: recorder.send)
            #expect(round.sent == 0 && round.failed == 1)
            #expect(try await o.deliverOutbox(sender: recorder.send).sent == 0, "not due yet")
            clock.advance(hours: 0.02)
            round = try await o.deliverOutbox(sender: recorder.send)
            #expect(round.sent == 1)
            let v = try await o.outbox(actor: w.street)
            #expect(v.items[0].delivered && v.items[0].attempts == 2 && v.stuck == 0)
            // What went: the request without its reporter, signed with the shared secret.
            let pushes = recorder.sent.withLockedValue { $0 }
            #expect(pushes.count == 2 && pushes[1].url.absoluteString == "https://hotline.example/push")
            let body = String(decoding: pushes[1].body, as: UTF8.self)
            #expect(body.contains("\"id\":\(request)") && body.contains("广场舞") && !body.contains("王秀英") && !body.contains("13900001111"))
            let header = pushes[1].headers["X-Linli-Signature"]!
            let t = Int64(header.split(separator: ",")[0].dropFirst(2))!
            #expect(header == OutboxRules.signature(secret: Array("shared-secret-0123456".utf8), timestamp: t, body: pushes[1].body))
            // Later steps are pushed too.
            var note = RequestsService.ActionInput()
            note.note = "请网格员尽快处理。"
            _ = try await f.linli.requests.perform(.supervise, id: request, note, actor: w.street)
            #expect(try await o.outbox(actor: w.street).items.count == 2)
            // Switched off, a system is sent nothing new; what was queued stays.
            let endpoint = try await o.outbox(actor: w.street).endpoints[0].id
            await #expect(throws: LinliError.notFound) { try await o.setEndpointActive(endpoint, active: false, actor: try await f.actor("street2")) }
            try await o.setEndpointActive(endpoint, active: false, actor: w.street)
            _ = try await f.linli.requests.perform(.supervise, id: request, note, actor: w.street)
            let after = try await o.outbox(actor: w.street)
            #expect(after.items.count == 2 && !after.endpoints[0].active)
            // Moved to a new address with a new secret: what is queued goes there, signed with it.
            var move = OutboxView.Switch()
            move.url = "ftp://hotline.example"
            do { try await o.updateEndpoint(endpoint, move, actor: w.street); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "url") }
            move.url = "https://new.hotline.example/push"; move.secret = "a-new-shared-secret-42"; move.active = true
            await #expect(throws: LinliError.notFound) { try await o.updateEndpoint(endpoint, move, actor: try await f.actor("street2")) }
            await #expect(throws: LinliError.self) { try await o.updateEndpoint(endpoint, OutboxView.Switch(), actor: w.street) }
            try await o.updateEndpoint(endpoint, move, actor: w.street)
            let moved = try await o.outbox(actor: w.street).endpoints[0]
            #expect(moved.url == "https://new.hotline.example/push" && moved.active)
            let before = recorder.sent.withLockedValue { $0.count }
            #expect(try await o.deliverOutbox(sender: recorder.send).sent == 1)
            let last = recorder.sent.withLockedValue { $0[before] }
            let stamp = Int64(last.headers["X-Linli-Signature"]!.split(separator: ",")[0].dropFirst(2))!
            #expect(last.url.absoluteString == "https://new.hotline.example/push")
            #expect(last.headers["X-Linli-Signature"] == OutboxRules.signature(secret: Array("a-new-shared-secret-42".utf8), timestamp: stamp, body: last.body))
            let audited = try await f.linli.store.read { db in
                try await db.query("SELECT detail FROM audit_log WHERE action = 'webhook.edit' ORDER BY id").all().map { try $0.decode(column: "detail", as: String.self) }
            }
            #expect(audited == ["on, url new.hotline.example, secret"], "what changed (an address by its host), never the secret itself")
        }
    }
}
