import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

/// Paying for meals as gifts are paid (`MealPayRules`): the diner's share is a pledge with a
/// reference (LM…) until the money has really arrived, by the payment provider's signed
/// notification, a bank statement's line (both through the fund's `confirmPayment`), or cash
/// at the counter. Only then is it booked on the ledger, into the canteen's account, and the
/// order marked paid. A paid meal that is cancelled is owed back until the canteen hands the
/// money back.
public struct MealTakings: Codable, Sendable, Equatable {
    /// Paid through the provider or the bank, and at the counter, for the day's meals.
    public var online: String
    public var counter: String
    /// Still owed for the day's meals, and by how many.
    public var unpaid: String
    public var unpaidMeals: Int
    enum CodingKeys: String, CodingKey { case online, counter, unpaid, unpaidMeals = "unpaid_meals" }
}

extension AffairsService {
    /// Row locks for a read-then-write on PostgreSQL; SQLite's writer is one at a time already.
    var lockRow: String { store.dialect == .postgres ? " FOR UPDATE" : "" }

    /// Books a diner's payment that the provider or the bank says has arrived, against the order
    /// quoting its reference: the amount must be the order's share; each provider payment is
    /// booked once (a retried notification answers `alreadyBooked`). `within` limits it to the
    /// canteens of an area (staff reconciling a statement). Money for an order cancelled
    /// meanwhile is booked all the same, and owed back.
    public func confirmMealPayment(_ pay: ArrivedPayment, actor: Actor?, within paths: [String]?) async throws -> (LinkageService.PaymentOutcome, transactionID: Int64) {
        let now = env.nowSeconds
        let unknown = LinliError.invalid("reference", "unknown_reference", "没有这个付款参考号的订餐")
        let paymentID = pay.provider + ":" + pay.providerTransaction
        return try await store.transaction { db in
            guard let o = try await db.query("""
                SELECT id, canteen_id, status, pay, pay_status, paid_txn, ledger_txn, user_id, day, diner FROM canteen_orders WHERE pay_reference = \(pay.reference)\(unsafeRaw: lockRow)
                """).first(), let c = try await canteenRow(db, try o.decode(column: "canteen_id", as: Int64.self)) else { throw unknown }
            // Outside the reconciling staff's area: exactly like an unknown reference.
            if let paths, !paths.contains(where: { c.path.hasPrefix($0) }) { throw unknown }
            let id = try o.decode(column: "id", as: Int64.self), status = try o.decode(column: "status", as: String.self)
            let payStatus = try o.decode(column: "pay_status", as: String.self), share = try o.decode(column: "pay", as: Int64.self)
            if ["paid", "refund_due", "refunded"].contains(payStatus) {
                guard try o.decode(column: "paid_txn", as: String?.self) == paymentID else {
                    throw LinliError.conflict("reference", "already_paid", "这份订餐已付过款，请核对是否重复付款")
                }
                return (.alreadyBooked, try o.decode(column: "ledger_txn", as: Int64?.self) ?? 0)
            }
            guard MealPayRules.acceptsArrival(pay: payStatus, order: status, share: share) else { throw unknown }
            guard pay.amount == share else {
                throw LinliError.invalid("amount", "amount_mismatch", "到账金额 \(Fen.text(pay.amount)) 元与应付 \(Fen.text(share)) 元不符")
            }
            if try await db.query("SELECT id FROM canteen_orders WHERE paid_txn = \(paymentID)").first() != nil {
                throw LinliError.conflict("provider_transaction", "already_used", "这笔付款已用于另一份订餐")
            }
            let txn = try await bookMeal(db, c, .mealPayment, amount: share, orderID: id, actor: actor)
            try await db.query("""
                UPDATE canteen_orders SET pay_status = \(MealPayRules.afterArrival(order: status)), paid_at = \(now), paid_via = \(pay.provider),
                    paid_txn = \(paymentID), ledger_txn = \(txn) WHERE id = \(id)
                """).run()
            try await audit.append(db, actor: actor, action: "canteen.paid", objectType: "canteen", objectID: c.id, path: c.path,
                                   detail: "order=\(id) \(pay.provider) \(pay.providerTransaction) amount=\(share)")
            try await tellPaid(db, o, c, kind: "canteen_paid", except: actor?.userID, now: now)
            return (.booked, txn)
        }
    }

    /// The area of the canteen whose meal quotes this reference, if any (for a payment held).
    public func mealReferencePath(_ reference: String) async throws -> String? {
        try await store.read { db in
            try await db.query("""
                SELECT c.path FROM canteen_orders o JOIN canteens c ON c.id = o.canteen_id WHERE o.pay_reference = \(reference)
                """).first()?.decode(column: "path", as: String.self)
        }
    }

    /// Cash (or a card) taken at the counter for a meal still on and unpaid: booked on the ledger
    /// and the order marked paid, once. The canteen's staff only.
    public func payAtCounter(_ id: Int64, actor: Actor) async throws -> MealOrderView {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (o, c) = try await staffOrder(db, id, actor)
            let status = try o.decode(column: "status", as: String.self), payStatus = try o.decode(column: "pay_status", as: String.self)
            guard MealPayRules.takesCash(pay: payStatus, order: status) else {
                switch payStatus {
                case "none": throw LinliError.conflict(nil, status == "cancelled" ? "wrong_state" : "nothing_to_pay",
                                                       status == "cancelled" ? "这份订餐已取消" : "这份餐全部由补贴支付，无需付款")
                case "unpaid": throw LinliError.conflict(nil, "wrong_state", "这份订餐已取消")
                default: throw LinliError.conflict(nil, "already_paid", "这份餐已付过款")
                }
            }
            let share = try o.decode(column: "pay", as: Int64.self)
            let txn = try await bookMeal(db, c, .mealPayment, amount: share, orderID: id, actor: actor)
            try await db.query("""
                UPDATE canteen_orders SET pay_status = 'paid', paid_at = \(now), paid_via = 'counter', paid_by = \(actor.signature), ledger_txn = \(txn) WHERE id = \(id)
                """).run()
            try await audit.append(db, actor: actor, action: "canteen.cash", objectType: "canteen", objectID: c.id, path: c.path, detail: "order=\(id) amount=\(share)")
            try await tellPaid(db, o, c, kind: "canteen_paid", except: actor.userID, now: now)
        }
        return try await orderView(id)
    }

    /// The money of a paid meal that was cancelled, handed back (at the counter, or through the
    /// provider's own refund): booked back out of the canteen's account, once.
    public func refundOrder(_ id: Int64, actor: Actor) async throws -> MealOrderView {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (o, c) = try await staffOrder(db, id, actor)
            guard try o.decode(column: "pay_status", as: String.self) == "refund_due" else {
                throw LinliError.conflict(nil, "nothing_to_refund", "这份订餐没有待退的款")
            }
            let share = try o.decode(column: "pay", as: Int64.self)
            _ = try await bookMeal(db, c, .mealRefund, amount: share, orderID: id, actor: actor)
            try await db.query("UPDATE canteen_orders SET pay_status = 'refunded' WHERE id = \(id)").run()
            try await audit.append(db, actor: actor, action: "canteen.refund", objectType: "canteen", objectID: c.id, path: c.path, detail: "order=\(id) amount=\(share)")
            try await tellPaid(db, o, c, kind: "canteen_refunded", except: actor.userID, now: now)
        }
        return try await orderView(id)
    }

    /// The order (locked on PostgreSQL) and its canteen, for the canteen's staff; 404 for an
    /// order of a canteen the actor cannot see, 403 for one they see but do not run.
    func staffOrder(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (any SQLRow, CanteenRow) {
        guard let o = try await db.query("""
            SELECT id, canteen_id, status, pay, pay_status, user_id, day, diner FROM canteen_orders WHERE id = \(id)\(unsafeRaw: lockRow)
            """).first() else { throw LinliError.notFound }
        let (c, _) = try await fetchCanteen(db, try o.decode(column: "canteen_id", as: Int64.self), actor)
        guard c.staff else { throw LinliError.forbidden }
        return (o, c)
    }

    /// One movement of a meal's money on the ledger: in (paid) or back out (refunded), once per order each way.
    func bookMeal(_ db: any SQLDatabase, _ c: CanteenRow, _ kind: FundArrival.Kind, amount: Int64, orderID: Int64, actor: Actor?) async throws -> Int64 {
        try await bookArrival(db, FundArrival(kind: kind, fromID: c.id, fromName: c.name, communityID: c.inCommunity ? c.placeID : nil, path: c.path,
                                              communityName: c.placeName, amount: amount, memo: "\(c.name) #\(orderID)",
                                              key: "meal:\(orderID)" + (kind == .mealRefund ? ":refund" : "")), actor)
    }

    /// Whoever ordered the meal hears that its payment arrived or was handed back.
    func tellPaid(_ db: any SQLDatabase, _ o: any SQLRow, _ c: CanteenRow, kind: String, except: Int64?, now: Int64) async throws {
        let subject = c.name + " " + ChinaTime.iso(day: try o.decode(column: "day", as: Int64.self)) + " " + (try o.decode(column: "diner", as: String.self))
            + " " + Fen.text(try o.decode(column: "pay", as: Int64.self)) + " 元"
        try await notifier.tell(db, [try o.decode(column: "user_id", as: Int64.self)], except: except, at: now) {
            OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: subject, link: "/canteens/\(c.id)#mine")
        }
    }

    /// A day's takings at a canteen: paid online or by bank, at the counter, and still owed.
    func takings(_ db: any SQLDatabase, canteenID: Int64, day: Int64) async throws -> MealTakings {
        let r = try await db.query("""
            SELECT CAST(COALESCE(SUM(CASE WHEN pay_status = 'paid' AND paid_via <> 'counter' THEN pay ELSE 0 END), 0) AS BIGINT) AS online,
                   CAST(COALESCE(SUM(CASE WHEN pay_status = 'paid' AND paid_via = 'counter' THEN pay ELSE 0 END), 0) AS BIGINT) AS counter,
                   CAST(COALESCE(SUM(CASE WHEN pay_status = 'unpaid' AND status <> 'cancelled' THEN pay ELSE 0 END), 0) AS BIGINT) AS unpaid,
                   CAST(COALESCE(SUM(CASE WHEN pay_status = 'unpaid' AND status <> 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS unpaid_meals
            FROM canteen_orders WHERE canteen_id = \(canteenID) AND day = \(day)
            """).first()!
        return MealTakings(online: Fen.text(try r.decode(column: "online", as: Int64.self)), counter: Fen.text(try r.decode(column: "counter", as: Int64.self)),
                           unpaid: Fen.text(try r.decode(column: "unpaid", as: Int64.self)), unpaidMeals: try r.decode(column: "unpaid_meals", as: Int.self))
    }

    /// Paid meals since cancelled, whose money the canteen still owes back (any day), oldest first.
    func refundsDue(_ db: any SQLDatabase, canteenID: Int64) async throws -> [MealOrderView] {
        try await db.query("""
            \(unsafeRaw: Self.orderColumns) WHERE o.canteen_id = \(canteenID) AND o.pay_status = 'refund_due' ORDER BY o.day, o.id LIMIT 200
            """).all().map(Self.orderView)
    }
}
