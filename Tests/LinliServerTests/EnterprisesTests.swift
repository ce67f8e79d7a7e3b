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

/// Community enterprises' rules, by worked examples.
@Suite struct EnterpriseRulesTests {
    @Test func aYearOwesItsShareOfAPositiveProfit() {
        // 12,345.67 yuan profit at 30% → 3,703.701 → 3,703.70 yuan.
        #expect(EnterpriseRules.due(profit: 1_234_567, percent: 30) == 370_370)
        // Half a fen rounds up: 5 fen at 10% is 0.5 fen → 1 fen; 4 fen at 10% → 0.
        #expect(EnterpriseRules.due(profit: 5, percent: 10) == 1)
        #expect(EnterpriseRules.due(profit: 4, percent: 10) == 0)
        // A loss or break-even owes nothing; nor does an agreement of 0%.
        #expect(EnterpriseRules.due(profit: -500_000, percent: 30) == 0)
        #expect(EnterpriseRules.due(profit: 0, percent: 30) == 0)
        #expect(EnterpriseRules.due(profit: 100_000, percent: 0) == 0)
        // The largest amount a person may type, at 100%, is owed whole.
        #expect(EnterpriseRules.due(profit: Fen.maximum, percent: 100) == Fen.maximum)
    }

    @Test func moneyArrivesUpToWhatIsOwedAndACorrectionNeverUndoesIt() {
        #expect(EnterpriseRules.mayReceive(3_000_000, due: 5_592_000, received: 0))
        #expect(EnterpriseRules.mayReceive(2_592_000, due: 5_592_000, received: 3_000_000), "the rest, exactly")
        #expect(!EnterpriseRules.mayReceive(2_592_001, due: 5_592_000, received: 3_000_000), "a fen too many")
        #expect(!EnterpriseRules.mayReceive(100, due: 0, received: 0), "a loss-making year owes nothing")
        #expect(!EnterpriseRules.mayReceive(0, due: 100, received: 0))
        #expect(EnterpriseRules.standing(due: 5_592_000, received: 3_000_000) == .outstanding)
        #expect(EnterpriseRules.standing(due: 5_592_000, received: 5_592_000) == .settled)
        #expect(EnterpriseRules.standing(due: 0, received: 0) == .nothingDue)
        #expect(EnterpriseRules.mayRestate(newDue: 3_000_000, received: 3_000_000))
        #expect(!EnterpriseRules.mayRestate(newDue: 2_999_999, received: 3_000_000))
    }

    @Test func creditCodesAreCheckedByTheirLastCharacter() {
        // Published codes of well-known companies (GB 32100-2015 check characters G, 6, F).
        for code in ["9144030071526726XG", "914403001922038216", "91330100716105852F", "91310000MA1FL4B24G", "9144030071526726xg"] {
            #expect(EnterpriseRules.creditCodeValid(code), "\(code)")
        }
        // One character changed, two swapped, a letter outside the set (O, I, Z, S, V), the wrong length.
        for code in ["9144030071526726XH", "914403001922038261", "91330100716105852O", "9144030071526726X", "9144030071526726XGG", "", "ABCDEFGHIJKLMNOPQR"] {
            #expect(!EnterpriseRules.creditCodeValid(code), "\(code)")
        }
    }

    @Test func revenueAndProfitAreTypedAsYuanAndMayBeZeroOrALoss() throws {
        #expect(try EnterpriseRules.signedFen("1,286,000", field: "revenue") == 128_600_000)
        #expect(try EnterpriseRules.signedFen("0", field: "profit") == 0)
        #expect(try EnterpriseRules.signedFen("0.00", field: "profit") == 0)
        #expect(try EnterpriseRules.signedFen("-12,000.50", field: "profit") == -1_200_050)
        #expect(try EnterpriseRules.signedFen("￥186400", field: "profit") == 18_640_000)
        for bad in ["", "abc", "1.234", "0.0.0", "--5", "十万"] {
            do { _ = try EnterpriseRules.signedFen(bad, field: "profit"); Issue.record("accepted \(bad)") } catch let e as LinliError { #expect(e.field == "profit", "\(bad)") }
        }
    }
}

/// Community enterprises on a real database: registered, reported, their returns booked on the
/// ledger only as they arrive, and a public report without private details.
@Suite struct EnterpriseStoreTests {
    static func ledgerTransactions(_ f: Fixture) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM ledger_transactions").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func anEnterpriseReturnsItsProfitToTheCommunityFund(_ backend: Backend) async throws {
        // 10:00 China time on 2026-03-20: last year (2025) is reported.
        let clock = TestClock("2026-03-20T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), admin = try await f.actor("admin"), resident = try await f.actor("resident")
            let community = f.demo.firstCommunityID
            // Refused input names its field and writes nothing.
            var i = EnterpriseInput()
            i.placeID = community; i.name = " "; i.business = "家政"; i.communityShare = 120; i.returnPercent = 30; i.creditCode = "9144030071526726XH"
            do { _ = try await a.registerEnterprise(i, actor: staff); Issue.record("accepted") } catch let e as ValidationErrors {
                #expect(Set(e.errors.map { $0.field ?? "" }) == ["name", "community_share", "credit_code"], "\(e.errors.map(\.field))")
            }
            i.name = "邻里家政服务有限公司"; i.communityShare = 51; i.creditCode = ""; i.contact = "王经理 13800001111"
            i.placeID = f.demo.firstStreetID
            do { _ = try await a.registerEnterprise(i, actor: staff); Issue.record("a street") } catch let e as LinliError { #expect(e.field == "place_id") }
            i.placeID = f.demo.byStreet[1].firstCommunityID
            do { _ = try await a.registerEnterprise(i, actor: staff); Issue.record("another street's community") } catch let e as LinliError {
                #expect(e.field == "place_id" && e.code == "not_found")
            }
            await #expect(throws: LinliError.forbidden) { _ = try await a.enterprises(actor: resident) }
            #expect(try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM community_enterprises").first()!.decode(column: "n", as: Int.self) } == 0)
            i.placeID = community
            let e = try await a.registerEnterprise(i, actor: staff)
            #expect(e.communityShare == 51 && e.returnPercent == 30 && e.years.isEmpty && e.returned == "0.00")

            // Money cannot arrive for a year not reported.
            var money = EnterpriseReturnInput()
            money.year = 2025; money.amount = "30000"; money.reference = "NSH-20260315-0088"; money.day = "2026-03-15"
            do { _ = try await a.receiveReturn(e.id, money, actor: staff); Issue.record("accepted") } catch let e as LinliError { #expect(e.field == "year" && e.code == "not_reported") }

            var y = EnterpriseYearInput()
            y.year = 2027; y.revenue = "1,286,000"; y.profit = "186,400"
            do { _ = try await a.reportYear(e.id, y, actor: staff); Issue.record("a year to come") } catch let e as LinliError { #expect(e.field == "year") }
            y.year = 2025; y.served = 5230; y.report = "全年上门保洁 2,140 次。"
            var shown = try await a.reportYear(e.id, y, actor: staff)
            #expect(shown.years.count == 1 && shown.years[0].due == "55,920.00" && shown.years[0].standing == .outstanding)

            let before = try await Self.ledgerTransactions(f)
            shown = try await a.receiveReturn(e.id, money, actor: staff)
            #expect(shown.years[0].received == "30,000.00" && shown.years[0].outstanding == "25,920.00" && shown.returned == "30,000.00")
            #expect(try await Self.ledgerTransactions(f) == before + 1)
            // The same bank reference again is refused, and writes nothing.
            do { _ = try await a.receiveReturn(e.id, money, actor: staff); Issue.record("booked twice") } catch let e as LinliError {
                #expect(e.status == .conflict && e.field == "reference")
            }
            // More than is still owed is refused; exactly the rest is taken.
            money.reference = "NSH-20260318-0102"; money.amount = "25,920.01"
            do { _ = try await a.receiveReturn(e.id, money, actor: staff); Issue.record("too much") } catch let e as LinliError { #expect(e.field == "amount" && e.code == "above_due") }
            money.day = "2024-12-31"; money.amount = "100"
            do { _ = try await a.receiveReturn(e.id, money, actor: staff); Issue.record("before the year") } catch let e as LinliError { #expect(e.field == "day") }
            money.day = "2026-03-21"
            do { _ = try await a.receiveReturn(e.id, money, actor: staff); Issue.record("tomorrow") } catch let e as LinliError { #expect(e.field == "day") }
            #expect(try await Self.ledgerTransactions(f) == before + 1)

            // A correction may not owe less than has arrived; one that owes more stands.
            y.profit = "99,999"
            do { _ = try await a.reportYear(e.id, y, actor: staff); Issue.record("below received") } catch let e as LinliError { #expect(e.field == "profit" && e.status == .conflict) }
            y.profit = "200,000"
            shown = try await a.reportYear(e.id, y, actor: staff)
            #expect(shown.years[0].due == "60,000.00" && shown.years[0].received == "30,000.00")
            money.day = "2026-03-20"; money.amount = "30000"
            shown = try await a.receiveReturn(e.id, money, actor: staff)
            #expect(shown.years[0].standing == .settled && shown.returned == "60,000.00" && shown.arrivals.count == 2)

            // On the community's public ledger, under the enterprise's name; the books balance.
            let ledger = try await f.linli.linkage.publicLedger(communityID: community, before: nil)
            let lines = ledger.lines.filter { $0.kind == "enterprise_return" }
            #expect(lines.count == 2 && lines.allSatisfy { $0.who == "邻里家政服务有限公司" } && ledger.totals["enterprise_return"] == "60,000.00")
            #expect(try await f.linli.linkage.checkLedger().ok)

            // The public report: no contact, no bank references.
            let report = try await a.enterpriseReport(e.id)
            #expect(report.contact == nil && report.arrivals.allSatisfy { $0.reference == nil } && report.returned == "60,000.00")
            #expect(try await a.communityEnterprises(community).enterprises.map(\.id) == [e.id])
            #expect(try await a.enterprise(e.id, actor: staff).contact == "王经理 13800001111")

            // Another street's enterprise is not there for this community's staff.
            var far = EnterpriseInput()
            far.placeID = f.demo.byStreet[1].firstCommunityID; far.name = "外街物业服务社"; far.business = "物业"; far.communityShare = 100; far.returnPercent = 50
            far.creditCode = "91330100716105852f"
            let other = try await a.registerEnterprise(far, actor: admin)
            #expect(other.creditCode == "91330100716105852F")
            await #expect(throws: LinliError.notFound) { _ = try await a.enterprise(other.id, actor: staff) }
            await #expect(throws: LinliError.notFound) { _ = try await a.reportYear(other.id, y, actor: staff) }
            #expect(try await a.enterprises(actor: staff).map(\.id) == [e.id])
            // A credit code is registered once.
            var again = EnterpriseInput()
            again.creditCode = "91330100716105852F"
            do { _ = try await a.updateEnterprise(e.id, again, actor: staff); Issue.record("same code twice") } catch let e as LinliError { #expect(e.field == "credit_code" && e.status == .conflict) }
            let audit = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'enterprise.%'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(audit == 6, "two registered, two reports, two arrivals, and nothing for refusals: \(audit)")
        }
    }

    @Test func theConsoleAndTheAPIDoTheSame() async throws {
        let clock = TestClock("2026-03-20T02:00:00Z")
        try await withFixture(.sqlite, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ who: String?, _ body: String? = nil, form: Bool = false) async throws -> TestResponse {
                    var h: HTTPFields = [:]
                    if let who { h[.authorization] = "Bearer \(t[who]!)" }
                    if body != nil { h[.contentType] = form ? "application/x-www-form-urlencoded" : "application/json" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                // The console's form: a refusal comes back on the page beside its field.
                var r = try await call(.post, "/enterprises", "community", "place_id=\(community)&name=&business=%E5%AE%B6%E6%94%BF&community_share=51&return_percent=30", form: true)
                #expect(r.status == .unprocessableContent && r.body.text.contains("请填写企业名称"))
                r = try await call(.post, "/enterprises", "community",
                                   "place_id=\(community)&name=%E9%82%BB%E9%87%8C%E5%AE%B6%E6%94%BF&business=%E5%AE%B6%E6%94%BF&community_share=51&return_percent=30&contact=Mr-Contact-77",
                                   form: true)
                #expect(r.status == .seeOther)
                let id = String(r.headers[.location]!.split(separator: "/").last!)
                r = try await call(.post, "/enterprises/\(id)/years", "community", "year=2025&revenue=1286000&profit=186400&served=5230&report=", form: true)
                #expect(r.status == .seeOther)
                r = try await call(.post, "/enterprises/\(id)/returns", "community", "year=2025&amount=70000&reference=REF-FIRST-1&day=2026-03-15", form: true)
                #expect(r.status == .unprocessableContent && r.body.text.contains("55,920.00"), "the page says what is still owed")
                r = try await call(.get, "/enterprises/\(id)", "community")
                #expect(r.status == .ok && r.body.text.contains("55,920.00") && r.body.text.contains("enterprise-return-form"))
                // The JSON twin: the rest arrives.
                r = try await call(.post, "/api/v1/enterprises/\(id)/returns", "community", #"{"year":2025,"amount":"55920","reference":"REF-SECOND-2","day":"2026-03-16"}"#)
                #expect(r.status == .created && r.body.text.contains(#""standing":"settled""#), "\(r.body.text)")
                r = try await call(.patch, "/api/v1/enterprises/\(id)", "community", #"{"return_percent":40,"active":false}"#)
                #expect(r.status == .ok && r.body.text.contains(#""return_percent":40"#) && r.body.text.contains(#""active":false"#))
                r = try await call(.post, "/api/v1/enterprises", "community", #"{"place_id":\#(community),"name":"x","business":"y","community_share":"lots","return_percent":1}"#)
                #expect(r.status.code == 400 || r.status.code == 422, "\(r.status)")
                // Residents may not run it; anyone may read the public report, which leaves the contact out.
                #expect(try await call(.get, "/api/v1/enterprises", "resident").status == .forbidden)
                r = try await call(.get, "/enterprises/\(id)/report", nil)
                #expect(r.status == .ok && r.body.text.contains("邻里家政") && r.body.text.contains("55,920.00") && !r.body.text.contains("REF-SECOND-2") && !r.body.text.contains("Mr-Contact-77"))
                r = try await call(.get, "/api/v1/communities/\(community)/enterprises", nil)
                #expect(r.status == .ok && r.body.text.contains("邻里家政") && !r.body.text.contains(#""contact""#))
                r = try await call(.get, "/ledger/\(community)", nil)
                #expect(r.body.text.contains("社区企业利润回馈") && r.body.text.contains("/communities/\(community)/enterprises"))
                #expect(try await call(.get, "/communities/999999/enterprises", nil).status == .notFound)
            }
        }
    }
}
