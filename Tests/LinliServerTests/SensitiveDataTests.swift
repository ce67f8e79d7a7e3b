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

/// Sensitive tags by purpose (PIPL art. 28–29): worked examples of the rules.
@Suite struct SensitiveRulesTests {
    static func day(_ s: String) -> Int64 { Input.day(s)! }

    @Test func monthsAddUpToTheSameDayOrTheMonthsLast() {
        #expect(ChinaTime.addingMonths(1, to: Self.day("2026-01-31")) == Self.day("2026-02-28"))
        #expect(ChinaTime.addingMonths(1, to: Self.day("2028-01-31")) == Self.day("2028-02-29"))
        #expect(ChinaTime.addingMonths(12, to: Self.day("2026-03-15")) == Self.day("2027-03-15"))
        #expect(ChinaTime.addingMonths(-6, to: Self.day("2026-08-31")) == Self.day("2026-02-28"))
        #expect(ChinaTime.addingMonths(-13, to: Self.day("2026-01-10")) == Self.day("2024-12-10"))
    }

    @Test func eachKindIsKeptForItsPeriod() {
        let d = Self.day("2026-03-01")
        // Living alone and hardship: a year; disability: three years.
        #expect(SensitiveRules.keepUntil("elderly_alone", from: d, birthDate: "1940-05-05") == Self.day("2027-03-01"))
        #expect(SensitiveRules.keepUntil("low_income", from: d, birthDate: "1980-05-05") == Self.day("2027-03-01"))
        #expect(SensitiveRules.keepUntil("disabled", from: d, birthDate: "1980-05-05") == Self.day("2029-03-01"))
        // A child's tag ends the day before the 18th birthday when that comes first.
        #expect(SensitiveRules.keepUntil("child", from: d, birthDate: "2008-06-10") == Self.day("2026-06-09"))
        #expect(SensitiveRules.keepUntil("child", from: d, birthDate: "2015-06-10") == Self.day("2027-03-01"))
        // Already 18 (a tag left on by mistake): kept no later than today.
        #expect(SensitiveRules.keepUntil("child", from: d, birthDate: "2000-01-01") == d)
    }

    @Test func purposesNameWhoMaySee() {
        let grid = SensitiveRules.served(by: [Role.gridWorker])
        let office = SensitiveRules.served(by: [Role.communityStaff])
        #expect(grid == [.careVisits])
        #expect(office == Set(SensitivePurpose.allCases))
        #expect(SensitiveRules.served(by: [Role.volunteer, .propertyCompany, .resident]).isEmpty)
        #expect(!SensitiveRules.visible([.assistance], servedBy: grid))
        #expect(SensitiveRules.visible([.assistance, .careVisits], servedBy: grid))
        #expect(SensitiveRules.defaultPurposes("low_income") == [.careVisits, .assistance])
        #expect(SensitiveRules.defaultPurposes("elderly_alone") == [.careVisits])
        #expect(!SensitiveRules.isSensitive("veteran") && !SensitiveRules.isSensitive("elderly") && SensitiveRules.isSensitive("child"))
    }

    @Test func recordsAreCheckedNamingTheField() throws {
        func field(_ records: [String: SensitiveRecordInput], tags: [String]?) -> String? {
            do { _ = try SensitiveRules.validate(records, tags: tags); return nil }
            catch let e as LinliError { return e.field }
            catch { return "other" }
        }
        #expect(field(["veteran": .init(purposes: ["care_visits"])], tags: ["veteran"]) == "tag_records.veteran")
        #expect(field(["disabled": .init(purposes: ["care_visits"])], tags: ["elderly"]) == "tag_records.disabled")
        #expect(field(["disabled": .init(purposes: [])], tags: ["disabled"]) == "tag_records.disabled.purposes")
        #expect(field(["disabled": .init(purposes: ["marketing"])], tags: ["disabled"]) == "tag_records.disabled.purposes")
        #expect(field(["disabled": .init(purposes: ["assistance"], basis: "because")], tags: ["disabled"]) == "tag_records.disabled.basis")
        let ok = try SensitiveRules.validate(["low_income": .init(purposes: ["assistance", "assistance"], basis: "consent")], tags: ["low_income"])
        #expect(ok["low_income"] == SensitiveRecord(purposes: [.assistance], basis: .consent))
        // No basis given: the office's duty.
        #expect(try SensitiveRules.validate(["child": .init(purposes: ["care_visits"])], tags: nil)["child"]?.basis == .legalDuty)
    }
}

/// Sensitive tags end to end on both databases: who sees them, edits that keep what the editor
/// cannot see, visit plans made only from care purposes, renewal, withdrawal and the retention job.
@Suite struct SensitiveDataTests {
    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func purposesDecideWhoSeesATagAndTheJobEndsIt(_ backend: Backend) async throws {
        let clock = TestClock("2026-03-01T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let l = f.linli, reg = f.linli.registry
            let staff = try await f.actor("community"), grid = try await f.actor("grid"), me = try await f.actor("resident")
            // The demo's tags were recorded on the office's duty and dated.
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM residents WHERE (',' || tags || ',') LIKE '%,disabled,%'")
                    == (try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts WHERE tag = 'disabled' AND basis = 'legal_duty' AND keep_until > 0")))

            // A resident of the grid worker's grid: hardship kept for assistance only, on consent.
            let (rid, hid) = try await l.store.read { db in
                let r = try await db.raw("""
                    SELECT r.id, r.household_id FROM residents r JOIN households h ON h.id = r.household_id
                    WHERE h.grid_id = \(bind: f.demo.firstGridID) AND r.tags = '' ORDER BY r.id LIMIT 1
                    """).first()!
                return (try r.decode(column: "id", as: Int64.self), try r.decode(column: "household_id", as: Int64.self))
            }
            var input = ResidentInput()
            input.tags = ["low_income", "disabled"]
            input.tagRecords = ["low_income": SensitiveRecordInput(purposes: ["assistance"], basis: "consent")]
            #expect(Set(try await reg.updateResident(rid, input, actor: staff).tags) == ["low_income", "disabled"])
            #expect(try await reg.resident(rid, actor: grid).tags == ["disabled"])
            #expect(try await reg.household(hid, actor: grid).residents.first { $0.id == rid }?.tags == ["disabled"])
            #expect(try await reg.sensitiveFacts(rid, actor: grid).map(\.tag) == ["disabled"])
            let facts = try await reg.sensitiveFacts(rid, actor: staff)
            #expect(facts.map(\.tag) == ["disabled", "low_income"])
            #expect(facts[1].purposes == ["assistance"] && facts[1].basis == "consent" && facts[1].keepUntil == "2027-03-01")
            #expect(facts[0].purposes == ["care_visits", "assistance"] && facts[0].basis == "legal_duty" && facts[0].keepUntil == "2029-03-01")
            // No visit plan is made from a tag kept for assistance only.
            let others = try await Self.count(f, "SELECT COUNT(*) AS n FROM residents WHERE household_id = \(hid) AND id <> \(rid) AND (',' || tags || ',') LIKE '%,low_income,%'")
            let situations = try await l.store.read { db in try await reg.householdFacts(db, ids: [hid], careOnly: true) }[0].situations
            #expect(situations.contains("disabled"))
            if others == 0 { #expect(!situations.contains("low_income")) }
            // Other services (an activity's audience, a meal's subsidy) still see every situation.
            #expect(try await l.store.read { db in try await reg.householdFacts(db, ids: [hid], careOnly: false) }[0].situations.contains("low_income"))
            // The grid worker's edit keeps what it could not see; a tag it sees but the office also
            // keeps for assistance loses only the care purpose, never the office's record.
            input = ResidentInput(); input.tags = ["elderly"]
            _ = try await reg.updateResident(rid, input, actor: grid)
            #expect(Set(try await reg.resident(rid, actor: staff).tags) == ["elderly", "low_income", "disabled"])
            #expect(try await reg.sensitiveFacts(rid, actor: staff).map(\.purposes) == [["assistance"], ["assistance"]])
            #expect(try await reg.resident(rid, actor: grid).tags == ["elderly"])
            // The office takes the disabled tag off.
            input = ResidentInput(); input.tags = ["elderly", "low_income"]
            _ = try await reg.updateResident(rid, input, actor: staff)
            #expect(try await reg.sensitiveFacts(rid, actor: staff).map(\.tag) == ["low_income"])
            // Ticked again by the grid worker (their own finding), it is kept for care too; unticked
            // by them later, it loses only their purpose, never the office's record.
            input = ResidentInput(); input.tags = ["elderly", "low_income"]
            _ = try await reg.updateResident(rid, input, actor: grid)
            #expect(try await reg.resident(rid, actor: grid).tags.contains("low_income"))
            #expect(try await reg.sensitiveFacts(rid, actor: staff).first { $0.tag == "low_income" }?.purposes == ["assistance", "care_visits"])
            input = ResidentInput(); input.tags = ["elderly"]
            _ = try await reg.updateResident(rid, input, actor: grid)
            #expect(Set(try await reg.resident(rid, actor: staff).tags) == ["elderly", "low_income"])
            #expect(try await reg.sensitiveFacts(rid, actor: staff).first { $0.tag == "low_income" }?.purposes == ["assistance"])
            #expect(!(try await reg.resident(rid, actor: grid).tags.contains("low_income")))
            // Renewal: by the office, not by a grid worker who cannot see the tag.
            await #expect(throws: LinliError.notFound) { _ = try await reg.renewSensitive(rid, tag: "low_income", actor: grid) }
            clock.advance(hours: 24 * 40)
            #expect(try await reg.renewSensitive(rid, tag: "low_income", actor: staff)[0].keepUntil == "2027-04-10")

            // The resident withdraws what they agreed to; what the office keeps by duty stays.
            let mine = me.grants[0].residentID!
            input = ResidentInput()
            input.tags = Array(Set(try await reg.resident(mine, actor: staff).tags + ["low_income", "disabled"]))
            input.tagRecords = ["low_income": SensitiveRecordInput(purposes: ["assistance"], basis: "consent"),
                                "disabled": SensitiveRecordInput(purposes: ["assistance"], basis: "legal_duty")]
            _ = try await reg.updateResident(mine, input, actor: staff)
            // Someone acting as the resident (代办) is not the resident: no sensitive tags while acting.
            var acting = me
            acting.acting = ActingBy(sessionID: 1, userID: staff.userID, username: "community", displayName: "社区工作者", expiresAt: 0)
            #expect(!RegistryService.isSubject(acting, mine) && RegistryService.isSubject(me, mine))
            // The resident sees their own records, whatever their purposes.
            #expect(Set(try await reg.sensitiveFacts(mine, actor: me).map(\.tag)).isSuperset(of: ["low_income", "disabled"]))
            await #expect(throws: LinliError.self) { _ = try await reg.withdrawSensitive(mine, tag: "low_income", actor: staff) }
            do { _ = try await reg.withdrawSensitive(mine, tag: "disabled", actor: me); Issue.record("a duty's record was withdrawn") }
            catch let e as LinliError { #expect(e.code == "not_consent") }
            let left = try await reg.withdrawSensitive(mine, tag: "low_income", actor: me)
            #expect(!left.map(\.tag).contains("low_income"))
            #expect(!(try await reg.resident(mine, actor: staff).tags.contains("low_income")))
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'resident.sensitive_withdraw' AND object_id = \(mine)") == 1)

            // The retention job: thirteen months on, yearly tags not confirmed are taken off.
            input = ResidentInput(); input.tags = ["elderly_alone", "low_income"]
            _ = try await reg.updateResident(rid, input, actor: staff)
            let alone = try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts WHERE tag = 'elderly_alone'")
            #expect(alone > 0)
            // A month before its date the office sees it due; a grid worker has no such list.
            clock.advance(hours: 24 * 350)
            let due = try await reg.sensitiveDue(community: f.demo.firstCommunityID, actor: staff)
            #expect(due.contains { $0.residentID == rid && $0.tag == "elderly_alone" })
            await #expect(throws: LinliError.self) { _ = try await reg.sensitiveDue(community: f.demo.firstCommunityID, actor: grid) }
            // The hourly job tells the office of it once: one note for the community leading to
            // the list, not one per record, and not again an hour later.
            let early = try await reg.sweepSensitive()
            let toldSQL = """
                SELECT COUNT(*) AS n FROM notifications WHERE kind = 'sensitive_due' AND user_id = \(staff.userID)
                AND link = '/communities/\(f.demo.firstCommunityID)/sensitive-due'
                """
            #expect(try await Self.count(f, toldSQL) == 1)
            clock.advance(hours: 1)
            _ = try await reg.sweepSensitive()
            #expect(try await Self.count(f, toldSQL) == 1)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts WHERE resident_id = \(rid) AND tag = 'elderly_alone' AND due_told_at IS NOT NULL") == 1)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM notifications WHERE kind = 'sensitive_due' AND user_id = \(grid.userID)") == 0)
            clock.advance(hours: 24 * 50)
            let removed = try await reg.sweepSensitive() + early
            #expect(removed >= alone)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM residents WHERE (',' || tags || ',') LIKE '%,elderly_alone,%'") == 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts WHERE tag = 'elderly_alone'") == 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'resident.sensitive_expired'") == removed)
            // Disability (three years) stays; the kept situation counts still agree.
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts WHERE tag = 'disabled'") > 0)
            #expect(try await reg.checkSituations().isEmpty)
            #expect(try await reg.sweepSensitive() == 0)
        }
    }

    @Test(arguments: Backend.available)
    func theAPIRefusesBadRecordsByNameAndWritesNothing(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens(), ids = try await f.ids()
            try await built.app.test(.router) { client in
                func send(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/json"],
                                             body: body.map { ByteBuffer(string: $0) })
                }
                let before = try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts")
                let rid = ids.insideResident
                var res = try await send(.patch, "/api/v1/residents/\(rid)", "community", #"{"tag_records":{"veteran":{"purposes":["care_visits"]}}}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("tag_records.veteran"))
                res = try await send(.patch, "/api/v1/residents/\(rid)", "community", #"{"tags":["elderly"],"tag_records":{"disabled":{"purposes":["assistance"]}}}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("tag_records.disabled"))
                res = try await send(.patch, "/api/v1/residents/\(rid)", "community", #"{"tags":["disabled"],"tag_records":{"disabled":{"purposes":[]}}}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("tag_records.disabled.purposes"))
                res = try await send(.patch, "/api/v1/residents/\(rid)", "community", #"{"tags":["disabled"],"tag_records":{"disabled":{"purposes":["assistance"],"basis":"whim"}}}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("tag_records.disabled.basis"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM sensitive_facts") == before)
                // A good one, then the list, the renewal, and who may ask.
                res = try await send(.patch, "/api/v1/residents/\(rid)", "community", #"{"tags":["disabled"],"tag_records":{"disabled":{"purposes":["assistance"],"basis":"consent"}}}"#)
                #expect(res.status == .ok)
                res = try await send(.get, "/api/v1/residents/\(rid)/sensitive", "community")
                #expect(res.status == .ok && res.body.text.contains(#""tag":"disabled""#) && res.body.text.contains(#""basis":"consent""#))
                res = try await send(.post, "/api/v1/residents/\(rid)/sensitive/disabled/renew", "community")
                #expect(res.status == .ok && res.body.text.contains("keep_until"))
                res = try await send(.post, "/api/v1/residents/\(rid)/sensitive/elderly/renew", "community")
                #expect(res.status == .notFound)
                res = try await send(.post, "/api/v1/residents/\(ids.outsideResident)/sensitive/disabled/renew", "community")
                #expect(res.status == .notFound)
                res = try await send(.post, "/api/v1/residents/\(rid)/sensitive/disabled/withdraw", "community")
                #expect(res.status == .forbidden && res.body.text.contains("not_subject"))
                // The resident's page shows the records with their purposes to the office.
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/residents/\(rid)", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("id=\"sensitive-disabled\"") && res.body.text.contains("救助、补贴与为老助残服务") && res.body.text.contains("本人单独同意"))
            }
        }
    }
}
