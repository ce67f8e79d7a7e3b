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

/// Paying for a meal is a pledge, as a gift is: owed with a reference (LM…) from the order on,
/// counted as paid only when the money has arrived (the provider's signed notification, a bank
/// statement's line, or cash at the counter), booked into the canteen's account and on no public
/// ledger; a paid meal that is cancelled is owed back until the canteen hands the money back.
@Suite struct CanteenPaymentTests {
    @Test func payStatesFollowTheMoney() {
        // Worked examples of MealPayRules.
        #expect(MealPayRules.initial(pay: 700) == "unpaid" && MealPayRules.initial(pay: 0) == "none")
        #expect(MealPayRules.afterCancel("paid") == "refund_due" && MealPayRules.afterCancel("unpaid") == "none" && MealPayRules.afterCancel("none") == "none")
        // Money for a meal still on, or for one cancelled meanwhile (it is there all the same), is booked.
        #expect(MealPayRules.acceptsArrival(pay: "unpaid", order: "ordered", share: 700))
        #expect(MealPayRules.acceptsArrival(pay: "none", order: "cancelled", share: 700))
        #expect(!MealPayRules.acceptsArrival(pay: "none", order: "ordered", share: 0), "a fully subsidised meal owes nothing")
        #expect(MealPayRules.afterArrival(order: "served") == "paid" && MealPayRules.afterArrival(order: "cancelled") == "refund_due")
        #expect(MealPayRules.takesCash(pay: "unpaid", order: "served") && !MealPayRules.takesCash(pay: "unpaid", order: "cancelled")
                && !MealPayRules.takesCash(pay: "paid", order: "ordered"))
        // References: a gift's and a meal's, found in a bank remark; nothing else is one.
        #expect(PledgeRules.references(in: "午餐 lmabcdefghijklmnop 谢谢 LL234567ABCDEFGHIJ") == ["LMABCDEFGHIJKLMNOP", "LL234567ABCDEFGHIJ"])
        #expect(PledgeRules.references(in: "LX234567ABCDEFGHIJ LM2345") == [])
    }

    @Test func heldPaymentsGoToTheStaffOfTheirArea() {
        // A community's held payment to its own office and those above; another community's not.
        #expect(HeldPaymentRules.visible(path: "/1/2/3/4/", to: ["/1/2/3/4/"]) && HeldPaymentRules.visible(path: "/1/2/3/5/", to: ["/1/2/3/"]))
        #expect(!HeldPaymentRules.visible(path: "/1/2/3/5/", to: ["/1/2/3/4/"]))
        // A reference nobody knows: a district's office or the city traces it, a street's or community's does not.
        #expect(HeldPaymentRules.visible(path: nil, to: ["/1/2/"]) && !HeldPaymentRules.visible(path: nil, to: ["/1/2/3/"]))
    }

    @Test(arguments: Backend.available)
    func aMealCountsAsPaidOnlyWhenTheMoneyArrives(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-08T02:00:00Z")   // 10:00 in China, the 8th
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs, l = f.linli.linkage
            let staff = try await f.actor("community"), street = try await f.actor("street"), resident = try await f.actor("resident")
            var c = CanteenInput()
            c.placeID = f.demo.firstCommunityID; c.name = "付款测试食堂"; c.cutoff = "09:30"
            let canteen = try await a.createCanteen(c, actor: staff)
            var rule = SubsidyRuleInput()
            rule.placeID = f.demo.firstStreetID; rule.label = "所有居民（测试）"; rule.from = "2020-01-01"; rule.minAge = 0; rule.subsidy = "5"
            _ = try await a.addSubsidyRule(rule, actor: street)
            func menu(_ day: String, _ meal: String, _ price: String) async throws -> Int64 {
                var m = MenuInput()
                m.day = day; m.meal = meal; m.dishes = "家常菜"; m.price = price; m.portions = 10
                return try await a.setMenu(canteen.id, m, actor: staff)
            }
            let lunch9 = try await menu("2026-12-09", "lunch", "12"), cheap9 = try await menu("2026-12-09", "breakfast", "4")
            let lunch10 = try await menu("2026-12-10", "lunch", "12")
            let people = try await f.linli.registry.household(f.demo.firstHouseholdWithResidents, actor: resident).residents
            try #require(people.count >= 2)
            func order(_ menu: Int64, _ who: Int) async throws -> MealOrderView {
                var o = MealOrderInput()
                o.residentID = people[who].id
                return try await a.order(menu, o, actor: resident)
            }
            func mine(_ id: Int64) async throws -> MealOrderView { try await a.canteen(canteen.id, actor: resident).mine.first { $0.id == id }! }
            func balance(_ kind: String) async throws -> Int64 {
                try await f.linli.store.read { db in
                    try await db.raw("""
                        SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) AS balance FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.kind = \(bind: kind) AND a.ref_id = \(bind: canteen.id)
                        """).first()?.decode(column: "balance", as: Int64.self) ?? 0
                }
            }

            // Ordered: 12 less the 5 subsidy is owed, with a reference; nothing counted yet.
            let first = try await order(lunch9, 0)
            #expect(first.pay == "7.00" && first.payStatus == "unpaid" && PledgeRules.isReference(Substring(first.payReference ?? "")) && first.payReference!.hasPrefix("LM"))
            var k = try await a.kitchen(canteen.id, day: try Input.day("2026-12-09", field: "day")!, actor: staff)
            #expect(k.takings == MealTakings(online: "0.00", counter: "0.00", unpaid: "7.00", unpaidMeals: 1))
            #expect(try await balance("canteen") == 0)

            // The provider's notification: the exact amount only, each payment once.
            let ref = first.payReference!
            do { _ = try await l.confirmPayment(ArrivedPayment(reference: ref, amount: 600, provider: "wechatpay", providerTransaction: "T1"), actor: nil); Issue.record("short") }
            catch let e as LinliError { #expect(e.field == "amount" && e.code == "amount_mismatch") }
            let paid = try await l.confirmPayment(ArrivedPayment(reference: ref, amount: 700, provider: "wechatpay", providerTransaction: "T1"), actor: nil)
            #expect(paid.0 == .booked && paid.transactionID > 0)
            let again = try await l.confirmPayment(ArrivedPayment(reference: ref, amount: 700, provider: "wechatpay", providerTransaction: "T1"), actor: nil)
            #expect(again.0 == .alreadyBooked && again.transactionID == paid.transactionID, "a retried notification books nothing more")
            do { _ = try await l.confirmPayment(ArrivedPayment(reference: ref, amount: 700, provider: "wechatpay", providerTransaction: "T2"), actor: nil); Issue.record("paid twice") }
            catch let e as LinliError { #expect(e.status == .conflict && e.code == "already_paid") }
            do { _ = try await l.confirmPayment(ArrivedPayment(reference: "LMAAAAAAAAAAAAAAAA", amount: 700, provider: "wechatpay", providerTransaction: "T3"), actor: nil); Issue.record("unknown") }
            catch let e as LinliError { #expect(e.field == "reference" && e.code == "unknown_reference") }
            var o = try await mine(first.id)
            #expect(o.payStatus == "paid" && o.paidVia == "wechatpay")
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).contains { $0.kind == "canteen_paid" })
            #expect(try await balance("canteen") == 700)
            #expect(try await balance("diners") == -700)

            // Cash at the counter, by the canteen's staff only, once; a fully subsidised meal owes nothing.
            let second = try await order(lunch9, 1)
            await #expect(throws: LinliError.forbidden) { _ = try await a.payAtCounter(second.id, actor: resident) }
            o = try await a.payAtCounter(second.id, actor: staff)
            #expect(o.payStatus == "paid" && o.paidVia == "counter")
            do { _ = try await a.payAtCounter(second.id, actor: staff); Issue.record("cash twice") } catch let e as LinliError { #expect(e.code == "already_paid") }
            let free = try await order(cheap9, 0)
            #expect(free.pay == "0.00" && free.payStatus == "none" && free.payReference == nil)
            do { _ = try await a.payAtCounter(free.id, actor: staff); Issue.record("nothing to pay") } catch let e as LinliError { #expect(e.code == "nothing_to_pay") }
            k = try await a.kitchen(canteen.id, day: try Input.day("2026-12-09", field: "day")!, actor: staff)
            #expect(k.takings == MealTakings(online: "7.00", counter: "7.00", unpaid: "0.00", unpaidMeals: 0))

            // A paid meal cancelled before the cut-off is owed back until the canteen hands it back.
            try await a.cancelOrder(first.id, actor: resident)
            #expect(try await mine(first.id).payStatus == "refund_due")
            k = try await a.kitchen(canteen.id, day: try Input.day("2026-12-09", field: "day")!, actor: staff)
            #expect(k.refunds.map(\.id) == [first.id] && k.takings.online == "0.00")
            await #expect(throws: LinliError.forbidden) { _ = try await a.refundOrder(first.id, actor: resident) }
            o = try await a.refundOrder(first.id, actor: staff)
            #expect(o.payStatus == "refunded")
            do { _ = try await a.refundOrder(first.id, actor: staff); Issue.record("refunded twice") } catch let e as LinliError { #expect(e.code == "nothing_to_refund") }
            #expect(try await balance("canteen") == 700, "the counter's 7 stays; the refunded 7 left")

            // The bank statement books a meal as it books a gift; money for a meal cancelled meanwhile is booked and owed back.
            let third = try await order(lunch10, 0), fourth = try await order(lunch10, 1)
            try await a.cancelOrder(fourth.id, actor: resident)
            #expect(try await mine(fourth.id).payStatus == "none")
            let csv = "交易日期,流水号,金额,附言\n2026-12-08,B1,7.00,午餐 \(third.payReference!)\n2026-12-08,B2,7.00,\(fourth.payReference!)\n"
            let lines = try await l.reconcileBankStatement(csv, actor: staff)
            #expect(lines.map(\.outcome) == ["booked", "booked"], "\(lines.map(\.message))")
            let paidByBank = try await mine(third.id), owedBack = try await mine(fourth.id)
            #expect(paidByBank.payStatus == "paid" && paidByBank.paidVia == "bank" && owedBack.payStatus == "refund_due")
            #expect(try await l.reconcileBankStatement(csv, actor: staff).map(\.outcome) == ["already_booked", "already_booked"])

            // Diners' payments are the canteen's books, on no public ledger; the books balance.
            let ledger = try await l.publicLedger(communityID: f.demo.firstCommunityID, before: nil)
            #expect(!ledger.lines.contains { $0.kind.hasPrefix("meal_") } && ledger.totals["meal_payment"] == nil)
            #expect(try await l.checkLedger().ok)
            #expect(try await balance("canteen") == 2100)

            // Days later, what is still owed back stays on the household's list; what is settled leaves it.
            clock.advance(hours: 24 * 3)
            let later = try await a.canteen(canteen.id, actor: resident).mine.map(\.id)
            #expect(later.contains(fourth.id) && !later.contains(second.id) && !later.contains(third.id))
        }
    }

    @Test(arguments: Backend.available)
    func theProviderTheCounterAndTheResidentThroughTheServer(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-08T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.affairs
            let staff = try await f.actor("community"), resident = try await f.actor("resident")
            var c = CanteenInput()
            c.placeID = f.demo.firstCommunityID; c.name = "付款测试食堂"; c.cutoff = "18:00"
            let canteen = try await a.createCanteen(c, actor: staff)
            var m = MenuInput()
            m.day = "2026-12-08"; m.meal = "dinner"; m.dishes = "饺子"; m.price = "9.5"; m.portions = 10
            let menu = try await a.setMenu(canteen.id, m, actor: staff)
            let people = try await f.linli.registry.household(f.demo.firstHouseholdWithResidents, actor: resident).residents
            try #require(people.count >= 2)
            var i = MealOrderInput()
            i.residentID = people[0].id
            let online = try await a.order(menu, i, actor: resident)
            i.residentID = people[1].id
            let cash = try await a.order(menu, i, actor: resident)

            let wx = PaymentTests.WeChatPayStandIn()
            try wx.key.publicKey.pemRepresentation.write(toFile: f.dataDir + "/wechatpay.pem", atomically: true, encoding: .utf8)
            var config = f.config
            config.wechatPayMerchantID = wx.mchid; config.wechatPayAPIv3Key = wx.apiV3Key
            config.wechatPayPublicKeyFile = f.dataDir + "/wechatpay.pem"; config.wechatPayPublicKeyID = wx.serial
            let server = try await Linli.open(config)
            let built = try await buildApplication(server, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let sent = try wx.notification(reference: online.payReference!, total: 950, transaction: "4200000777", at: a.env.nowSeconds)
            try await built.app.test(.router) { client in
                // The resident sees what is owed and the reference to quote.
                var r = try await client.execute(uri: "/canteens/\(canteen.id)", method: .get, headers: [.authorization: "Bearer \(t["resident"]!)"])
                #expect(r.body.text.contains(online.payReference!) && r.body.text.contains("待付款") && r.body.text.contains("pay-how"))
                // WeChat Pay's notification for the meal, retried: booked once.
                var h = HTTPFields()
                for (k, value) in sent.headers { h[.init(k)!] = value }
                h[.contentType] = "application/json"
                for _ in 0..<2 {
                    r = try await client.execute(uri: "/api/v1/payments/wechatpay/notify", method: .post, headers: h, body: ByteBuffer(bytes: sent.body))
                    #expect(r.status == .noContent, "\(r.body.text)")
                }
                // The kitchen: the counter takes the other meal's money (the page and its twin).
                r = try await client.execute(uri: "/canteens/\(canteen.id)/kitchen?day=2026-12-08", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(r.body.text.contains("cash-\(cash.id)") && !r.body.text.contains("cash-\(online.id)") && r.body.text.contains("微信支付"))
                r = try await client.execute(uri: "/api/v1/canteen-orders/\(cash.id)/paid", method: .post, headers: [.authorization: "Bearer \(t["resident"]!)"])
                #expect(r.status == .forbidden)
                r = try await client.execute(uri: "/api/v1/canteen-orders/\(cash.id)/paid", method: .post, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(r.status == .ok && r.body.text.contains(#""pay_status":"paid""#) && r.body.text.contains(#""paid_via":"counter""#), "\(r.body.text)")
                r = try await client.execute(uri: "/api/v1/canteen-orders/\(cash.id)/paid", method: .post, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(r.status == .conflict)
                r = try await client.execute(uri: "/api/v1/canteens/\(canteen.id)/kitchen?day=2026-12-08", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(r.body.text.contains(#""online":"9.50""#) && r.body.text.contains(#""counter":"9.50""#), "\(r.body.text)")

                // WeChat Pay's money for the meal already paid in cash, and for a reference nobody
                // knows: authentic, so not dropped — held for the staff of its area, once each.
                func notify(_ reference: String, _ transaction: String) async throws -> HTTPResponse.Status {
                    let n = try wx.notification(reference: reference, total: 950, transaction: transaction, at: a.env.nowSeconds)
                    var h = HTTPFields()
                    for (k, value) in n.headers { h[.init(k)!] = value }
                    h[.contentType] = "application/json"
                    return try await client.execute(uri: "/api/v1/payments/wechatpay/notify", method: .post, headers: h, body: ByteBuffer(bytes: n.body)).status
                }
                for _ in 0..<2 { #expect(try await notify(cash.payReference!, "4200000888") == .noContent) }
                #expect(try await notify("LMAAAAAAAAAAAAAAAA", "4200000999") == .noContent)
                r = try await client.execute(uri: "/api/v1/payments/held", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                let held = try JSONDecoder().decode([HeldPayment].self, from: Data(r.body.text.utf8))
                #expect(held.map(\.reason) == ["already_paid"] && held[0].reference == cash.payReference && held[0].amountText == "9.50", "\(r.body.text)")
                r = try await client.execute(uri: "/api/v1/payments/held", method: .get, headers: [.authorization: "Bearer \(t["street"]!)"])
                #expect(try JSONDecoder().decode([HeldPayment].self, from: Data(r.body.text.utf8)).map(\.reason) == ["already_paid"])
                r = try await client.execute(uri: "/api/v1/payments/held", method: .get, headers: [.authorization: "Bearer \(t["admin"]!)"])
                #expect(Set(try JSONDecoder().decode([HeldPayment].self, from: Data(r.body.text.utf8)).map(\.reason)) == ["already_paid", "unknown_reference"],
                        "a reference nobody knows goes to the city")
                r = try await client.execute(uri: "/api/v1/payments/held", method: .get, headers: [.authorization: "Bearer \(t["resident"]!)"])
                #expect(r.status == .forbidden)
                // The community office says what it did with it, once.
                let resolve = "/api/v1/payments/held/\(held[0].id)/resolve"
                r = try await client.execute(uri: resolve, method: .post, headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "application/json"],
                                             body: ByteBuffer(string: #"{"note":" "}"#))
                #expect(r.status == .unprocessableContent && r.body.text.contains(#""field":"note""#))
                r = try await client.execute(uri: resolve, method: .post, headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "application/json"],
                                             body: ByteBuffer(string: #"{"note":"已在微信商户平台原路退回"}"#))
                #expect(r.status == .ok && r.body.text.contains("原路退回"))
                r = try await client.execute(uri: resolve, method: .post, headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "application/json"],
                                             body: ByteBuffer(string: #"{"note":"again"}"#))
                #expect(r.status == .conflict)
                let cookie = try await webLogin(client, "community")
                r = try await client.execute(uri: "/funds", method: .get, headers: [.cookie: cookie])
                #expect(r.body.text.contains("id=\"held-list\"") && r.body.text.contains("原路退回") && !r.body.text.contains("held-notice"), "resolved: no notice left")
            }
            #expect(try await a.canteen(canteen.id, actor: resident).mine.allSatisfy { $0.payStatus == "paid" })
            #expect(try await f.linli.linkage.checkLedger().ok)
            #expect(try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM held_payments").first()!.decode(column: "n", as: Int.self)
            } == 2, "a retried notification holds nothing twice")
        }
    }
}
