import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct CanteenInput: Codable, Sendable {
    public var placeID: Int64?
    public var name: String?
    /// Orders for a day close at this time of that day ("09:30").
    public var cutoff: String?
    /// Yuan per delivery ("2"); empty when the canteen does not deliver.
    public var deliveryFee: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case placeID = "place_id", name, cutoff, deliveryFee = "delivery_fee" }
}

public struct MenuInput: Codable, Sendable {
    public var day: String?
    public var meal: String?
    public var dishes: String?
    public var price: String?
    public var portions: Int?
    public init() {}
}

public struct SubsidyRuleInput: Codable, Sendable {
    public var placeID: Int64?
    public var label: String?
    public var from: String?
    public var to: String?
    public var minAge: Int?
    public var situation: String?
    public var subsidy: String?
    public var deliverySubsidy: String?
    public var minSpend: String?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", label, from, to, minAge = "min_age", situation, subsidy, deliverySubsidy = "delivery_subsidy", minSpend = "min_spend"
    }
}

public struct MealOrderInput: Codable, Sendable {
    /// Who eats: a resident of a household the caller may order for (their own, or as staff).
    public var residentID: Int64?
    public var delivery: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey { case residentID = "resident_id", delivery }
}

public struct MenuView: Codable, Sendable, Equatable {
    public var id: Int64
    public var day: String
    public var meal: String
    public var dishes: String
    public var price: String
    public var left: Int
    public var open: Bool
}

public struct MealOrderView: Codable, Sendable, Equatable {
    public var id: Int64
    public var canteenID: Int64
    public var menuID: Int64
    public var day: String
    public var meal: String
    public var diner: String
    public var address: String
    public var delivery: Bool
    public var price: String
    public var subsidy: String
    public var pay: String
    /// `ordered`, `served` (handed over or delivered), `cancelled`.
    public var status: String
    /// When it was handed over or delivered (China time, `12:05`).
    public var servedAt: String?
    /// The diner's share: `none` (nothing to pay), `unpaid`, `paid`, `refund_due`, `refunded`.
    public var payStatus: String = "none"
    /// The reference to quote when paying online or by bank transfer (LM…), while one is owed.
    public var payReference: String? = nil
    /// How it was paid: `wechatpay`, `bank` or `counter`.
    public var paidVia: String? = nil
    enum CodingKeys: String, CodingKey {
        case id, canteenID = "canteen_id", menuID = "menu_id", day, meal, diner, address, delivery, price, subsidy, pay, status, servedAt = "served_at"
        case payStatus = "pay_status", payReference = "pay_reference", paidVia = "paid_via"
    }
}

public struct CanteenView: Codable, Sendable {
    public var id: Int64
    public var name: String
    public var placeName: String
    public var cutoff: String
    public var deliveryFee: String?
    public var menus: [MenuView]
    /// The orders of the caller's household from today on, and older ones still to be paid or
    /// paid back (a transfer can take a working day after the meal).
    public var mine: [MealOrderView]
    /// The volunteer task whose shifts carry the delivery orders, if one is named.
    public var deliveryTaskID: Int64? = nil
    enum CodingKeys: String, CodingKey { case id, name, placeName = "place_name", cutoff, deliveryFee = "delivery_fee", menus, mine, deliveryTaskID = "delivery_task_id" }
}

/// A day in the kitchen: portions to cook per meal, and the delivery round by building.
public struct KitchenDay: Codable, Sendable {
    public struct Meal: Codable, Sendable {
        public var meal: String
        public var dishes: String
        public var dineIn: Int
        public var delivery: Int
        public var subsidy: String
        enum CodingKeys: String, CodingKey { case meal, dishes, dineIn = "dine_in", delivery, subsidy }
    }
    public var day: String
    public var meals: [Meal]
    /// Delivery orders in address order (masked names), for the volunteers who carry them.
    public var deliveries: [MealOrderView]
    /// Eat-in orders by name, for the counter to mark each meal taken.
    public var dineIns: [MealOrderView] = []
    /// Whether a volunteer task carries the round, and who is on its shift that day (family names).
    public var roundByVolunteers: Bool = false
    public var crew: [String] = []
    /// The day's money: paid online or by bank, at the counter, still owed.
    public var takings = MealTakings(online: "0.00", counter: "0.00", unpaid: "0.00", unpaidMeals: 0)
    /// Paid meals since cancelled (any day) whose money is still to be handed back.
    public var refunds: [MealOrderView] = []
    enum CodingKeys: String, CodingKey { case day, meals, deliveries, dineIns = "dine_ins", roundByVolunteers = "round_by_volunteers", crew, takings, refunds }
}

/// A month's subsidised meals of one canteen, by rule: what the government is asked to pay.
public struct SubsidySettlement: Codable, Sendable {
    public struct Line: Codable, Sendable, Equatable {
        public var rule: String
        public var meals: Int
        public var subsidy: String
    }
    /// One payment of the government's that has arrived for the month.
    public struct Payment: Codable, Sendable, Equatable {
        public var amount: String
        public var day: String
        public var reference: String
    }
    public var month: String
    public var lines: [Line]
    public var meals: Int
    public var total: String
    /// Whether the month has ended (only then is it billed and paid).
    public var ended: Bool = false
    public var received: String = "0.00"
    public var outstanding: String = "0.00"
    public var payments: [Payment] = []
    enum CodingKeys: String, CodingKey { case month, lines, meals, total, ended, received, outstanding, payments }
}

/// The government's payment of a canteen's month of meal subsidies, as it arrived.
public struct SubsidyPaymentInput: Sendable, Codable {
    public var month: String?
    public var amount: String?
    /// The bank's reference of the transfer: one booking per reference.
    public var reference: String?
    public var day: String?
    public init() {}
}

enum CanteenLimits {
    static let meals = ["breakfast", "lunch", "dinner"]
    static let portionsMax = 2000
    static let ordersAheadDays: Int64 = 14
}

/// The neighbourhood canteen (邻里食堂 / 老年食堂): menus, orders before the cut-off (dine-in or
/// delivered), meal subsidies by rule, the kitchen's counts and delivery round, and each month's
/// settlement of subsidies.
extension AffairsService {
    /// Runs a write that a UNIQUE constraint may refuse when two requests race; that refusal is a
    /// 409 naming the field, not a server error.
    static func once<T>(_ field: String, _ message: String, _ write: () async throws -> T) async throws -> T {
        do { return try await write() } catch where isUniqueViolation(error) { throw LinliError.conflict(field, "duplicate", message) }
    }

    /// An amount that may be left empty or zero ("0", "0.00"): 0 then, else it must be a real amount.
    static func fenOrNone(_ raw: String?, field: String) throws -> Int64 {
        let s = trimmed(raw)
        if s.isEmpty || (!s.contains(where: { $0 != "0" && $0 != "." }) && s.first == "0") { return 0 }
        return try Fen.parse(s, field: field)
    }


    public func createCanteen(_ i: CanteenInput, actor: Actor) async throws -> CanteenView {
        var v = Validator()
        let name = Self.trimmed(i.name)
        v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写食堂名称")
        let cutoff = LocalDay.parseHHMM(i.cutoff ?? "09:30")
        v.check(cutoff != nil, "cutoff", "invalid", "截止时间格式应为 09:30")
        try v.throwIfAny()
        let fee = try Self.trimmed(i.deliveryFee).isEmpty ? nil : Fen.parse(i.deliveryFee, field: "delivery_fee")
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let place = try await runPlace(db, i.placeID, actor, missing: "请选择食堂所在的社区")
            let row = try await db.query("""
                INSERT INTO canteens (place_id, path, name, cutoff, delivery_fee, created_at)
                VALUES (\(place.id), \(place.path), \(name), \(cutoff!), \(fee), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "canteen.create", objectType: "canteen", objectID: id, path: place.path, detail: name)
            return id
        }
        return try await canteen(id, actor: actor)
    }

    struct CanteenRow {
        var id: Int64, path: String, name: String, cutoff: Int, deliveryFee: Int64?, staff: Bool, deliveryTaskID: Int64? = nil
        /// Its place, and whether that is a community (whose public ledger lists its subsidy).
        var placeID: Int64 = 0, placeName = "", inCommunity = false
    }

    func fetchCanteen(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (CanteenRow, String) {
        guard var c = try await canteenRow(db, id) else { throw LinliError.notFound }
        c.staff = actor.may(.affairHandle, on: ObjectScope(path: c.path))
        // Residents of the places around it may order; a street's canteen serves its communities.
        guard c.staff || actor.grants.contains(where: { PermissionTable.allows($0.role, .affairApply) && ($0.placePath.hasPrefix(c.path) || c.path.hasPrefix($0.placePath)) }) else {
            throw LinliError.notFound
        }
        return (c, c.placeName)
    }

    /// The canteen's row, whoever asks (`staff` false): the caller has checked who may.
    func canteenRow(_ db: any SQLDatabase, _ id: Int64) async throws -> CanteenRow? {
        guard let r = try await db.query("SELECT c.*, p.name AS place_name, p.kind AS place_kind FROM canteens c JOIN places p ON p.id = c.place_id WHERE c.id = \(id)").first() else {
            return nil
        }
        return CanteenRow(id: id, path: try r.decode(column: "path", as: String.self), name: try r.decode(column: "name", as: String.self),
                          cutoff: try r.decode(column: "cutoff", as: Int.self), deliveryFee: try r.decode(column: "delivery_fee", as: Int64?.self), staff: false,
                          deliveryTaskID: try r.decode(column: "delivery_task_id", as: Int64?.self), placeID: try r.decode(column: "place_id", as: Int64.self),
                          placeName: try r.decode(column: "place_name", as: String.self),
                          inCommunity: PlaceKind(rawValue: try r.decode(column: "place_kind", as: String.self))?.isCommunity ?? false)
    }

    static func orderView(_ r: any SQLRow) throws -> MealOrderView {
        MealOrderView(id: try r.decode(column: "id", as: Int64.self), canteenID: try r.decode(column: "canteen_id", as: Int64.self), menuID: try r.decode(column: "menu_id", as: Int64.self),
                      day: ChinaTime.iso(day: try r.decode(column: "day", as: Int64.self)), meal: try r.decode(column: "meal", as: String.self),
                      diner: try r.decode(column: "diner", as: String.self), address: try r.decode(column: "address", as: String.self),
                      delivery: try r.decode(column: "mode", as: String.self) == "delivery", price: Fen.text(try r.decode(column: "price", as: Int64.self)),
                      subsidy: Fen.text(try r.decode(column: "subsidy", as: Int64.self)), pay: Fen.text(try r.decode(column: "pay", as: Int64.self)),
                      status: try r.decode(column: "status", as: String.self),
                      servedAt: try r.decode(column: "served_at", as: Int64?.self).map { LocalDay.hhmm(LocalDay.minute($0)) },
                      payStatus: try r.decode(column: "pay_status", as: String.self), payReference: try r.decode(column: "pay_reference", as: String?.self),
                      paidVia: try r.decode(column: "paid_via", as: String?.self))
    }

    static let orderColumns = """
        SELECT o.id, o.canteen_id, o.menu_id, o.day, m.meal, o.diner, h.address, o.mode, o.price, o.subsidy, o.pay, o.status, o.served_at,
               o.pay_status, o.pay_reference, o.paid_via
        FROM canteen_orders o JOIN canteen_menus m ON m.id = o.menu_id JOIN households h ON h.id = o.household_id
        """

    /// One order as it stands now (after the transaction that changed it).
    func orderView(_ id: Int64) async throws -> MealOrderView {
        try await store.read { db in try Self.orderView(try await db.query("\(unsafeRaw: Self.orderColumns) WHERE o.id = \(id)").first()!) }
    }

    public func canteen(_ id: Int64, actor: Actor) async throws -> CanteenView {
        let now = env.nowSeconds, today = LocalDay.of(now)
        return try await store.read { db in
            let (c, placeName) = try await fetchCanteen(db, id, actor)
            let menus = try await db.query("""
                SELECT id, day, meal, dishes, price, portions, ordered FROM canteen_menus
                WHERE canteen_id = \(id) AND day >= \(today) AND day <= \(today + CanteenLimits.ordersAheadDays) ORDER BY day, meal
                """).all().map { r in
                let day = try r.decode(column: "day", as: Int64.self)
                return MenuView(id: try r.decode(column: "id", as: Int64.self), day: ChinaTime.iso(day: day), meal: try r.decode(column: "meal", as: String.self),
                                dishes: try r.decode(column: "dishes", as: String.self), price: Fen.text(try r.decode(column: "price", as: Int64.self)),
                                left: try r.decode(column: "portions", as: Int.self) - r.decode(column: "ordered", as: Int.self),
                                open: MealRules.open(day: day, cutoff: c.cutoff, now: now))
            }
            let households = actor.grants.filter { $0.role == .resident }.compactMap(\.householdID)
            let mine = households.isEmpty ? [] : try await db.query("""
                \(unsafeRaw: Self.orderColumns) WHERE o.canteen_id = \(id) AND o.household_id IN (\(list: households))
                    AND (o.day >= \(today) OR o.pay_status IN ('unpaid', 'refund_due')) ORDER BY o.day, m.meal, o.id
                """).all().map(Self.orderView)
            return CanteenView(id: id, name: c.name, placeName: placeName, cutoff: LocalDay.hhmm(c.cutoff), deliveryFee: c.deliveryFee.map(Fen.text),
                               menus: menus, mine: mine, deliveryTaskID: c.staff ? c.deliveryTaskID : nil)
        }
    }

    public func canteens(actor: Actor) async throws -> [CanteenView] {
        guard let any = Self.around(actor, alias: "c") else { throw LinliError.forbidden }
        let ids: [Int64] = try await store.read { db in
            return try await db.query("SELECT c.id FROM canteens c WHERE \(any) ORDER BY c.id LIMIT 50").all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        var out: [CanteenView] = []
        for id in ids { out.append(try await canteen(id, actor: actor)) }
        return out
    }

    /// Sets (or changes) a day's meal: its dishes, price and portions. Portions never go below
    /// what is already ordered.
    public func setMenu(_ canteenID: Int64, _ i: MenuInput, actor: Actor) async throws -> Int64 {
        var v = Validator()
        let day = try Input.day(i.day, field: "day")
        v.check(day != nil, "day", "required", "请填写日期")
        if let d = day { v.check(d >= LocalDay.of(env.nowSeconds) && d <= LocalDay.of(env.nowSeconds) + 60, "day", "invalid", "菜单可排今天起 60 天内") }
        let meal = i.meal ?? "lunch"
        v.check(CanteenLimits.meals.contains(meal), "meal", "invalid", "餐次只能是早餐、午餐或晚餐")
        let dishes = Self.trimmed(i.dishes)
        v.check(!dishes.isEmpty && dishes.count <= 200, "dishes", "required", "请填写菜品")
        v.check((1...CanteenLimits.portionsMax).contains(i.portions ?? 0), "portions", "invalid", "份数应为 1 到 2000")
        try v.throwIfAny()
        let price = try Fen.parse(i.price, field: "price")
        return try await store.transaction { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            if let old = try await db.query("SELECT id, ordered FROM canteen_menus WHERE canteen_id = \(canteenID) AND day = \(day!) AND meal = \(meal)").first() {
                let id = try old.decode(column: "id", as: Int64.self)
                guard try old.decode(column: "ordered", as: Int.self) <= i.portions! else {
                    throw LinliError.invalid("portions", "below_ordered", "已订 \(try old.decode(column: "ordered", as: Int.self)) 份，份数不能更少")
                }
                try await db.query("UPDATE canteen_menus SET dishes = \(dishes), price = \(price), portions = \(i.portions!) WHERE id = \(id)").run()
                try await audit.append(db, actor: actor, action: "canteen.menu", objectType: "canteen", objectID: canteenID, path: c.path, detail: dishes)
                return id
            }
            let row = try await db.query("""
                INSERT INTO canteen_menus (canteen_id, day, meal, dishes, price, portions) VALUES (\(canteenID), \(day!), \(meal), \(dishes), \(price), \(i.portions!)) RETURNING id
                """).first()
            try await audit.append(db, actor: actor, action: "canteen.menu", objectType: "canteen", objectID: canteenID, path: c.path, detail: dishes)
            return try row!.decode(column: "id", as: Int64.self)
        }
    }

    /// Adds a subsidy rule for a district, street or community and a period.
    public func addSubsidyRule(_ i: SubsidyRuleInput, actor: Actor) async throws -> Int64 {
        var v = Validator()
        let label = Self.trimmed(i.label)
        v.check(!label.isEmpty && label.count <= 60, "label", "required", "请填写规则名称，如 80 岁以上老人")
        let from = try Input.day(i.from, field: "from"), to = try Input.day(i.to, field: "to")
        v.check(from != nil, "from", "required", "请填写起始日期")
        if let f = from, let t = to { v.check(t >= f, "to", "invalid", "结束日期不能早于起始日期") }
        if let a = i.minAge { v.check((0...120).contains(a), "min_age", "invalid", "年龄应为 0 到 120") }
        let situation = i.situation.map { Self.trimmed($0) }.flatMap { $0.isEmpty ? nil : $0 }
        if let s = situation { v.check(ResidentTag(rawValue: s) != nil, "situation", "invalid", "未知的居民情况") }
        v.check(i.minAge != nil || situation != nil, "min_age", "required", "请填写起始年龄或居民情况")
        try v.throwIfAny()
        let subsidy = try Fen.parse(i.subsidy, field: "subsidy")
        let delivery = try Self.fenOrNone(i.deliverySubsidy, field: "delivery_subsidy")
        let minSpend = try Self.fenOrNone(i.minSpend, field: "min_spend")
        let now = env.nowSeconds
        return try await store.transaction { db in
            let place = try await runPlace(db, i.placeID, actor, missing: "请选择适用的区、街道或社区", anyKind: true)
            let row = try await db.query("""
                INSERT INTO meal_subsidy_rules (place_id, path, label, from_day, to_day, min_age, situation, subsidy, delivery_subsidy, min_spend, created_at)
                VALUES (\(place.id), \(place.path), \(label), \(from!), \(to), \(i.minAge), \(situation), \(subsidy), \(delivery), \(minSpend), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "canteen.subsidy_rule", objectType: "meal_subsidy_rule", objectID: id, path: place.path, detail: label)
            return id
        }
    }

    func subsidyRules(_ db: any SQLDatabase, canteenPath: String) async throws -> [MealSubsidyRule] {
        try await db.query("SELECT * FROM meal_subsidy_rules WHERE \(canteenPath) LIKE path || '%' ORDER BY id").all().map { r in
            MealSubsidyRule(id: try r.decode(column: "id", as: Int64.self), label: try r.decode(column: "label", as: String.self),
                            fromDay: try r.decode(column: "from_day", as: Int64.self), toDay: try r.decode(column: "to_day", as: Int64?.self),
                            minAge: try r.decode(column: "min_age", as: Int?.self), situation: try r.decode(column: "situation", as: String?.self),
                            subsidy: try r.decode(column: "subsidy", as: Int64.self), deliverySubsidy: try r.decode(column: "delivery_subsidy", as: Int64.self),
                            minSpend: try r.decode(column: "min_spend", as: Int64.self))
        }
    }

    /// Orders a meal for one resident before the cut-off: one portion taken while any is left,
    /// the subsidy by rule, one order per diner and meal.
    public func order(_ menuID: Int64, _ i: MealOrderInput, actor: Actor) async throws -> MealOrderView {
        guard let residentID = i.residentID else { throw LinliError.invalid("resident_id", "required", "请选择为谁订餐") }
        // Age and situation come from the registry, which checks that the caller may see them.
        let diner: ResidentView
        do { diner = try await registry.resident(residentID, actor: actor) } catch let e as LinliError where e.status == .notFound || e.status == .forbidden {
            throw LinliError.invalid("resident_id", "not_found", "您可订餐的居民中没有这一位")
        }
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            guard let m = try await db.query("SELECT canteen_id, day, price FROM canteen_menus WHERE id = \(menuID)").first() else { throw LinliError.notFound }
            let (c, _) = try await fetchCanteen(db, try m.decode(column: "canteen_id", as: Int64.self), actor)
            let day = try m.decode(column: "day", as: Int64.self)
            guard MealRules.open(day: day, cutoff: c.cutoff, now: now) else {
                throw LinliError.conflict("menu_id", "closed", "这一餐的订餐已在 \(LocalDay.hhmm(c.cutoff)) 截止")
            }
            guard let h = try await registry.householdFacts(db, ids: [diner.householdID], careOnly: false).first, actor.may(.affairApply, on: h.scope) else {
                throw LinliError.invalid("resident_id", "not_found", "您可订餐的居民中没有这一位")
            }
            let delivery = i.delivery == true
            if delivery { guard c.deliveryFee != nil else { throw LinliError.invalid("delivery", "no_delivery", "这个食堂不送餐") } }
            let price = MealRules.price(try m.decode(column: "price", as: Int64.self), deliveryFee: delivery ? c.deliveryFee : nil,
                                        rules: try await subsidyRules(db, canteenPath: c.path), day: day, age: diner.age,
                                        // The subsidy follows every situation kept, even one the orderer may not see
                                        // (kept for assistance: a meal subsidy is assistance).
                                        situations: try await RegistryService.tags(db, resident: residentID))
            if let taken = try await db.query("""
                SELECT id, user_id, mode FROM canteen_orders WHERE menu_id = \(menuID) AND resident_id = \(residentID) AND status <> 'cancelled'
                """).first() {
                // The same order again from the same account (a phone retrying after a lost answer)
                // is the order it made; anyone else's, or another way of eating, is a second meal.
                if try taken.decode(column: "user_id", as: Int64.self) == actor.userID,
                   try taken.decode(column: "mode", as: String.self) == (delivery ? "delivery" : "dine_in") {
                    return try taken.decode(column: "id", as: Int64.self)
                }
                throw LinliError.conflict("resident_id", "already_ordered", "这位居民已订了这一餐")
            }
            guard try await db.query("UPDATE canteen_menus SET ordered = ordered + 1 WHERE id = \(menuID) AND ordered < portions RETURNING ordered").first() != nil else {
                throw LinliError.conflict("menu_id", "sold_out", "这一餐已订完")
            }
            let row = try await Self.once("resident_id", "这位居民已订了这一餐") { try await db.query("""
                INSERT INTO canteen_orders (menu_id, canteen_id, day, household_id, path, resident_id, diner, mode, price, subsidy, pay, rule_id, status, user_id, by_name,
                                            created_at, pay_status, pay_reference)
                VALUES (\(menuID), \(c.id), \(day), \(h.id), \(h.path), \(residentID), \(diner.name.maskedName), \(delivery ? "delivery" : "dine_in"),
                        \(price.price), \(price.subsidy), \(price.pay), \(price.ruleID), 'ordered', \(actor.userID), \(actor.signature), \(now),
                        \(MealPayRules.initial(pay: price.pay)), \(price.pay > 0 ? PledgeRules.mealPrefix + env.token(bytes: 10).uppercased() : nil)) RETURNING id
                """).first() }
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "canteen.order", objectType: "canteen", objectID: c.id, path: h.path, detail: String(id))
            return id
        }
        return try await orderView(id)
    }

    /// The canteen a menu belongs to (for the page an order form came from), if the actor may see it.
    public func canteenOf(menu: Int64, actor: Actor) async throws -> Int64 {
        try await store.read { db in
            guard let m = try await db.query("SELECT canteen_id FROM canteen_menus WHERE id = \(menu)").first() else { throw LinliError.notFound }
            return try await fetchCanteen(db, try m.decode(column: "canteen_id", as: Int64.self), actor).0.id
        }
    }

    /// Cancels an order before the cut-off; its portion is freed. Returns the canteen's id.
    @discardableResult
    public func cancelOrder(_ id: Int64, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            // Locked on PostgreSQL: a payment booked meanwhile must turn into money owed back, not vanish.
            guard let o = try await db.query("""
                SELECT menu_id, canteen_id, day, household_id, path, status, user_id, pay_status FROM canteen_orders WHERE id = \(id)\(unsafeRaw: lockRow)
                """).first() else { throw LinliError.notFound }
            let (c, _) = try await fetchCanteen(db, try o.decode(column: "canteen_id", as: Int64.self), actor)
            guard let h = try await registry.householdFacts(db, ids: [try o.decode(column: "household_id", as: Int64.self)], careOnly: false).first,
                  actor.may(.affairApply, on: h.scope) || c.staff else { throw LinliError.notFound }
            switch try o.decode(column: "status", as: String.self) {
            case "ordered": break
            case "served": throw LinliError.conflict(nil, "served", "这份餐已送达，不能再取消")
            default: throw LinliError.conflict(nil, "wrong_state", "这份订餐已取消")
            }
            guard MealRules.open(day: try o.decode(column: "day", as: Int64.self), cutoff: c.cutoff, now: now) else {
                throw LinliError.conflict(nil, "closed", "已过截止时间，请联系食堂")
            }
            // Once: a second cancel sent at the same moment finds it already cancelled (no portion freed twice).
            // Paid already: the canteen owes it back (listed in its kitchen until handed back).
            let pay = MealPayRules.afterCancel(try o.decode(column: "pay_status", as: String.self))
            guard try await db.query("""
                UPDATE canteen_orders SET status = 'cancelled', pay_status = \(pay) WHERE id = \(id) AND status = 'ordered' RETURNING id
                """).first() != nil else {
                throw LinliError.conflict(nil, "wrong_state", "这份订餐已取消")
            }
            try await db.query("UPDATE canteen_menus SET ordered = ordered - 1 WHERE id = \(try o.decode(column: "menu_id", as: Int64.self)) AND ordered > 0").run()
            try await audit.append(db, actor: actor, action: "canteen.cancel", objectType: "canteen", objectID: c.id, path: h.path, detail: String(id))
            // Whoever ordered hears when someone else (the canteen, a relative) cancels it.
            try await notifier.tell(db, [try o.decode(column: "user_id", as: Int64.self)], except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: "canteen_cancelled", requestID: nil, subject: c.name + " " + ChinaTime.iso(day: (try? o.decode(column: "day", as: Int64.self)) ?? 0),
                                     link: "/canteens/\(c.id)#mine")
            }
            return c.id
        }
    }

    /// Marks an order handed over or delivered, on its day or after, once (a second tap changes
    /// nothing); whoever ordered it hears. The canteen's staff only. Returns the order.
    public func serveOrder(_ id: Int64, actor: Actor) async throws -> MealOrderView {
        try await store.transaction { db in
            guard let o = try await db.query("SELECT canteen_id FROM canteen_orders WHERE id = \(id)").first() else { throw LinliError.notFound }
            let (c, _) = try await fetchCanteen(db, try o.decode(column: "canteen_id", as: Int64.self), actor)
            guard c.staff else { throw LinliError.forbidden }
            try await markServed(db, id, actor: actor)
        }
        return try await orderView(id)
    }

    /// Marks a meal handed over or delivered, once, on its day or the next; whoever ordered it
    /// hears. The caller has checked who may.
    func markServed(_ db: any SQLDatabase, _ id: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        let o = try await db.query("""
            SELECT o.canteen_id, c.name AS canteen, o.day, o.path, o.status, o.user_id, o.diner, o.mode FROM canteen_orders o JOIN canteens c ON c.id = o.canteen_id WHERE o.id = \(id)
            """).first()!
        let canteenID = try o.decode(column: "canteen_id", as: Int64.self), name = try o.decode(column: "canteen", as: String.self)
        let day = try o.decode(column: "day", as: Int64.self)
        switch try o.decode(column: "status", as: String.self) {
        case "served": return
        case "cancelled": throw LinliError.conflict(nil, "wrong_state", "这份订餐已取消")
        default: break
        }
        guard day <= LocalDay.of(now) else { throw LinliError.conflict(nil, "not_yet", "还没到这份餐的日子") }
        guard MealRules.servable(day: day, today: LocalDay.of(now)) else { throw LinliError.conflict(nil, "too_late", "只能标记今天和昨天的餐") }
        guard try await db.query("""
            UPDATE canteen_orders SET status = 'served', served_at = \(now), served_by = \(actor.signature) WHERE id = \(id) AND status = 'ordered' RETURNING id
            """).first() != nil else { return }
        try await audit.append(db, actor: actor, action: "canteen.serve", objectType: "canteen", objectID: canteenID,
                               path: try o.decode(column: "path", as: String.self), detail: String(id))
        try await notifier.tell(db, [try o.decode(column: "user_id", as: Int64.self)], except: actor.userID, at: now) {
            OutgoingNotification(userID: $0, kind: (try? o.decode(column: "mode", as: String.self)) == "delivery" ? "canteen_served" : "canteen_eaten", requestID: nil,
                                 subject: name + " " + ChinaTime.iso(day: day) + " " + ((try? o.decode(column: "diner", as: String.self)) ?? ""), link: "/canteens/\(canteenID)#mine")
        }
    }

    /// The kitchen's day: portions per meal (dine-in and delivered), the day's subsidy, and the
    /// delivery round in address order.
    public func kitchen(_ canteenID: Int64, day: Int64, actor: Actor) async throws -> KitchenDay {
        try await store.read { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            let meals = try await db.query("""
                SELECT m.meal, m.dishes,
                       CAST(SUM(CASE WHEN o.mode = 'dine_in' AND o.status IN ('ordered', 'served') THEN 1 ELSE 0 END) AS BIGINT) AS dine_in,
                       CAST(SUM(CASE WHEN o.mode = 'delivery' AND o.status IN ('ordered', 'served') THEN 1 ELSE 0 END) AS BIGINT) AS delivery,
                       CAST(SUM(CASE WHEN o.status IN ('ordered', 'served') THEN o.subsidy ELSE 0 END) AS BIGINT) AS subsidy
                FROM canteen_menus m LEFT JOIN canteen_orders o ON o.menu_id = m.id
                WHERE m.canteen_id = \(canteenID) AND m.day = \(day) GROUP BY m.id, m.meal, m.dishes ORDER BY m.meal
                """).all().map { r in
                KitchenDay.Meal(meal: try r.decode(column: "meal", as: String.self), dishes: try r.decode(column: "dishes", as: String.self),
                                dineIn: try r.decode(column: "dine_in", as: Int?.self) ?? 0, delivery: try r.decode(column: "delivery", as: Int?.self) ?? 0,
                                subsidy: Fen.text(try r.decode(column: "subsidy", as: Int64?.self) ?? 0))
            }
            // One read of the day's orders: the round by address, the counter's list by name.
            let orders = try await db.query("""
                \(unsafeRaw: Self.orderColumns) WHERE o.canteen_id = \(canteenID) AND o.day = \(day) AND o.status IN ('ordered', 'served')
                ORDER BY m.meal, h.address, o.id
                """).all().map(Self.orderView)
            let dineIns = orders.filter { !$0.delivery }.sorted { ($0.meal, $0.diner, $0.id) < ($1.meal, $1.diner, $1.id) }
            var k = KitchenDay(day: ChinaTime.iso(day: day), meals: meals, deliveries: orders.filter(\.delivery), dineIns: dineIns)
            k.takings = try await takings(db, canteenID: canteenID, day: day)
            k.refunds = try await refundsDue(db, canteenID: canteenID)
            if let task = c.deliveryTaskID {
                k.roundByVolunteers = true
                k.crew = try await deliveryCrew(db, task, day)
            }
            return k
        }
    }

    /// A month's subsidised meals by rule, for the government to pay the canteen: days already
    /// past only (an order not cancelled by the cut-off is cooked and counted as served).
    public func settlement(_ canteenID: Int64, month: String, actor: Actor) async throws -> SubsidySettlement {
        guard let (first, monthLast) = LocalDay.month(month) else { throw LinliError.invalid("month", "invalid", "月份格式应为 2026-12") }
        let last = min(monthLast, LocalDay.of(env.nowSeconds) - 1)
        return try await store.read { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            let rows = try await db.query("""
                SELECT COALESCE(r.label, '') AS label, COUNT(*) AS meals, CAST(SUM(o.subsidy) AS BIGINT) AS subsidy
                FROM canteen_orders o LEFT JOIN meal_subsidy_rules r ON r.id = o.rule_id
                WHERE o.canteen_id = \(canteenID) AND o.day >= \(first) AND o.day <= \(last) AND o.status <> 'cancelled' AND o.subsidy > 0
                GROUP BY COALESCE(r.label, '') ORDER BY 1
                """).all()
            var lines: [SubsidySettlement.Line] = [], meals = 0, total: Int64 = 0
            for r in rows {
                let n = try r.decode(column: "meals", as: Int.self), s = try r.decode(column: "subsidy", as: Int64.self)
                lines.append(.init(rule: try r.decode(column: "label", as: String.self), meals: n, subsidy: Fen.text(s)))
                meals += n; total += s
            }
            var received: Int64 = 0
            let payments = try await db.query("""
                SELECT amount, arrived_day, reference FROM canteen_subsidy_payments WHERE canteen_id = \(canteenID) AND month = \(month) ORDER BY arrived_day, id
                """).all().map { r in
                let amount = try r.decode(column: "amount", as: Int64.self)
                received += amount
                return SubsidySettlement.Payment(amount: Fen.text(amount), day: ChinaTime.iso(day: try r.decode(column: "arrived_day", as: Int64.self)),
                                                 reference: try r.decode(column: "reference", as: String.self))
            }
            return SubsidySettlement(month: month, lines: lines, meals: meals, total: Fen.text(total), ended: monthLast < LocalDay.of(env.nowSeconds),
                                     received: Fen.text(received), outstanding: Fen.text(max(0, total - received)), payments: payments)
        }
    }

    /// Books the government's payment of a canteen's month of meal subsidies once it has
    /// arrived: only for a month that has ended, never more than the month's subsidised meals
    /// still unpaid, once per bank reference. On the ledger from the treasury's subsidy account
    /// into the canteen's, listed on its community's public ledger.
    public func receiveSubsidy(_ canteenID: Int64, _ i: SubsidyPaymentInput, actor: Actor) async throws -> SubsidySettlement {
        let now = env.nowSeconds
        var v = Validator()
        let month = Self.trimmed(i.month)
        let range = LocalDay.month(month)
        v.check(range != nil, "month", "invalid", "月份格式应为 2026-12")
        if let range { v.check(range.last < LocalDay.of(now), "month", "not_ended", "这个月还没有结束，月结后再登记补贴到账") }
        let (amount, reference, day) = Self.arrival(&v, amount: i.amount, reference: i.reference, day: i.day, now: now)
        // Paid for a month once it has ended: money dated inside the month is a typing slip.
        if let d = day, let range, range.last < LocalDay.of(now) { v.check(d > range.last, "day", "before_month_end", "到账日期应在这个月结束之后") }
        try v.throwIfAny()
        let arrived = day!
        try await store.transaction { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            // One writer per canteen at a time on PostgreSQL, so two payments never both fit the rest.
            if store.dialect == .postgres { try await db.query("SELECT id FROM canteens WHERE id = \(canteenID) FOR UPDATE").run() }
            if try await db.query("SELECT id FROM canteen_subsidy_payments WHERE canteen_id = \(canteenID) AND reference = \(reference)").first() != nil {
                throw LinliError(.conflict, code: "already_booked", field: "reference", message: "这笔到账（\(reference)）已登记过")
            }
            let (first, last) = range!
            let due = try await db.query("""
                SELECT CAST(COALESCE(SUM(subsidy), 0) AS BIGINT) AS s FROM canteen_orders
                WHERE canteen_id = \(canteenID) AND day >= \(first) AND day <= \(last) AND status <> 'cancelled' AND subsidy > 0
                """).first()!.decode(column: "s", as: Int64.self)
            let paid = try await db.query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM canteen_subsidy_payments WHERE canteen_id = \(canteenID) AND month = \(month)")
                .first()!.decode(column: "s", as: Int64.self)
            guard paid + amount <= due else {
                throw LinliError.invalid("amount", "above_due", due == paid ? "这个月的补贴已全部到账" : "这个月尚未到账的补贴为 \(Fen.text(due - paid)) 元，到账金额不能多于此数")
            }
            let txn = try await bookArrival(db, FundArrival(kind: .mealSubsidy, fromID: canteenID, fromName: c.name, communityID: c.inCommunity ? c.placeID : nil,
                                                            path: c.path, communityName: c.placeName, amount: amount, memo: "\(c.name) \(month)",
                                                            key: "canteen:\(canteenID):\(reference)"), actor)
            try await db.query("""
                INSERT INTO canteen_subsidy_payments (canteen_id, month, amount, reference, arrived_day, txn_id, recorded_by, recorded_at)
                VALUES (\(canteenID), \(month), \(amount), \(reference), \(arrived), \(txn), \(actor.userID), \(now))
                """).run()
            try await audit.append(db, actor: actor, action: "canteen.subsidy_paid", objectType: "canteen", objectID: canteenID, path: c.path,
                                   detail: "month=\(month) amount=\(amount) ref=\(reference)")
        }
        return try await settlement(canteenID, month: month, actor: actor)
    }
}
