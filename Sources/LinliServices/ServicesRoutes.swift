import Foundation
import Hummingbird
import LinliCore
import LinliServer
import LinliStore

/// The service centre's pages and their API twins: the catalogue, a service with its papers,
/// online application and counter booking, an application's page, the desk and its measures.
struct ServicesRoutes {
    let affairs: AffairsService
    let renderer: Renderer

    func register(_ r: Routes) {
        r.get("/affairs", .action(.affairApply)) { _, c in try await listPage(c, errors: [:]) }
        r.post("/affairs", .action(.affairHandle)) { _, c in
            try await formOrErrors(prefix: "new") {
                redirect("/affairs/\(try await affairs.createAffair(Self.affairInput(c.form), actor: try c.requireActor()).id)")
            } page: { errors in try await listPage(c, errors: errors) }
        }
        r.get("/affairs/:id", .action(.affairApply)) { _, c in try await affairPage(c, try c.id("id"), errors: [:]) }
        r.post("/affairs/:id", .action(.affairHandle)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "edit") {
                var i = Self.affairInput(c.form)
                i.active = c.form["active"] == "1"
                _ = try await affairs.updateAffair(id, i, actor: try c.requireActor())
                return redirect("/affairs/\(id)")
            } page: { errors in try await affairPage(c, id, errors: errors) }
        }
        r.post("/affairs/:id/slots", .action(.affairHandle)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "slots", alsoShowing: [.unprocessableContent]) {
                _ = try await affairs.openSlots(id, Self.slotPlan(c.form), actor: try c.requireActor())
                return redirect("/affairs/\(id)#slots")
            } page: { errors in try await affairPage(c, id, errors: errors) }
        }
        r.post("/affairs/:id/apply", .action(.affairApply)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "apply", alsoShowing: [.conflict]) {
                let (a, _) = try await affairs.apply(id, Self.applyInput(c.form), papers: c.files.filter { $0.field == "papers" }.map(\.bytes),
                                                     actor: try c.requireActor())
                return redirect("/affair-applications/\(a.id)")
            } page: { errors in try await affairPage(c, id, errors: errors) }
        }
        r.post("/affairs/:id/walk-in", .action(.affairHandle)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "walk", alsoShowing: [.conflict]) {
                redirect("/affair-applications/\(try await affairs.walkIn(id, Self.applyInput(c.form), actor: try c.requireActor()).id)")
            } page: { errors in try await affairPage(c, id, errors: errors) }
        }
        r.get("/affair-applications/:id", .action(.affairApply)) { _, c in try await applicationPage(c, try c.id("id"), errors: [:]) }
        for step in ApplicationStep.allCases {
            r.post("/affair-applications/:id/\(step.rawValue)", .action(step.byApplicant ? .affairApply : .affairHandle)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: "step", alsoShowing: [.conflict]) {
                    var i = AffairStepInput()
                    i.note = c.form["note"]
                    _ = try await affairs.step(id, step, i, papers: c.files.filter { $0.field == "papers" }.map(\.bytes), actor: try c.requireActor())
                    return redirect("/affair-applications/\(id)")
                } page: { errors in try await applicationPage(c, id, errors: errors) }
            }
        }
        r.get("/affairs-desk", .action(.affairHandle)) { _, c in try await deskPage(c) }
        r.get("/affair-papers/:id", .action(.affairApply)) { _, c in
            let bytes = try await affairs.paper(try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        registerAPI(r)
        registerActivities(r)
        registerSpaces(r)
        registerCanteens(r)
        registerHelp(r)
        registerEnterprises(r)
    }

    func registerHelp(_ r: Routes) {
        r.get("/help", .action(.affairApply)) { _, c in try await helpPage(c, errors: [:]) }
        r.post("/help", .action(.affairApply)) { _, c in
            try await formOrErrors(prefix: "help", alsoShowing: [.conflict]) {
                var i = HelpPostInput()
                i.kind = c.form["kind"]; i.title = c.form["title"]; i.detail = c.form["detail"]; i.minutes = c.form.int("minutes").map(Int.init)
                _ = try await affairs.postHelp(i, actor: try c.requireActor())
                return redirect("/help#posts")
            } page: { errors in try await helpPage(c, errors: errors) }
        }
        r.post("/help/gift", .action(.affairApply)) { _, c in
            try await formOrErrors(prefix: "gift", alsoShowing: [.conflict]) {
                try await affairs.giveTime(minutes: c.form.int("minutes").map(Int.init), actor: try c.requireActor())
                return redirect("/help#my-time")
            } page: { errors in try await helpPage(c, errors: errors) }
        }
        r.post("/help/:id/answer", .action(.affairApply)) { _, c in
            try await formOrErrors(prefix: "help", alsoShowing: [.conflict]) {
                try await affairs.answerHelp(try c.id("id"), actor: try c.requireActor())
                return redirect("/help#posts")
            } page: { errors in try await helpPage(c, errors: errors.isEmpty ? [:] : ["help_general": errors.values.first!]) }
        }
        r.post("/help/:id/done", .action(.affairApply)) { _, c in
            try await formOrErrors(prefix: "help", alsoShowing: [.conflict]) {
                var i = HelpDoneInput()
                i.fromPool = c.form["from_pool"] == "1"
                try await affairs.finishHelp(try c.id("id"), i, actor: try c.requireActor())
                return redirect("/help#history")
            } page: { errors in try await helpPage(c, errors: ["help_general": errors.values.first ?? ""]) }
        }
        r.get("/api/v1/help", .action(.affairApply)) { _, c in try JSON.response(try await affairs.timeBank(actor: try c.requireActor())) }
        r.post("/api/v1/help", .action(.affairApply), body: HelpPostInput.self) { _, c, i in
            try JSON.response(["id": try await affairs.postHelp(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/help/gift", .action(.affairApply), body: HelpDoneInput.self) { _, c, i in
            try await affairs.giveTime(minutes: i.minutes, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/help/:id/answer", .action(.affairApply)) { _, c in
            try await affairs.answerHelp(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/help/:id/done", .action(.affairApply), optionalBody: HelpDoneInput.self) { _, c, i in
            try await affairs.finishHelp(try c.id("id"), i ?? HelpDoneInput(), actor: try c.requireActor())
            return Response(status: .noContent)
        }
    }

    static func hours(_ minutes: Int) -> String {
        let h = Double(minutes) / 60
        return h == h.rounded() ? String(Int(h)) : String(format: "%.1f", h)
    }

    func helpPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let v = try await affairs.timeBank(actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        let resident = actor.grants.contains { $0.role == .resident }
        let staff = actor.may(.affairHandle)
        var resp = renderer.page("help", [
            "resident": resident, "balance": Self.hours(v.balance), "floor": Self.hours(-v.floor), "pool": Self.hours(v.pool),
            "posts": v.posts.map { p in
                ["id": p.id, "kind": ServicesCapability.words.label("help_kind_" + p.kind, c.lang), "title": p.title, "detail": p.detail, "has_detail": !p.detail.isEmpty,
                 "hours": Self.hours(p.minutes), "by": p.by, "helper": p.helper ?? "", "has_helper": p.helper != nil, "place": p.place,
                 "same_building": p.sameBuilding,
                 "can_answer": resident && !p.mine && p.status == "open",
                 "answer_label": t[p.kind == "ask" ? "help_answer_ask" : "help_answer_offer"]!,
                 // The one helped confirms: the asker of an ask; the taker of an offer (shown to the poster's neighbour who took it).
                 "can_finish": p.status == "matched" && (p.kind == "ask" ? p.mine : p.takenByMe),
                 "can_pool": staff && p.status == "matched" && p.kind == "ask"] as [String: Any]
            },
            "no_posts": v.posts.isEmpty,
            "entries": v.entries.map { ["at": $0.at, "memo": $0.memo, "hours": ($0.minutes > 0 ? "+" : "") + Self.hours($0.minutes)] as [String: Any] },
            "no_entries": v.entries.isEmpty, "errors": errors,
        ], context: c, title: t["help"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func registerCanteens(_ r: Routes) {
        r.get("/canteens", .action(.affairApply)) { _, c in try await canteensPage(c, errors: [:]) }
        r.post("/canteens", .action(.affairHandle)) { _, c in
            try await formOrErrors(prefix: "new") {
                var i = CanteenInput()
                i.placeID = c.form.int("place_id"); i.name = c.form["name"]; i.cutoff = c.form["cutoff"]; i.deliveryFee = c.form["delivery_fee"]
                return redirect("/canteens/\(try await affairs.createCanteen(i, actor: try c.requireActor()).id)")
            } page: { errors in try await canteensPage(c, errors: errors) }
        }
        r.post("/canteens/subsidy-rules", .action(.affairHandle)) { _, c in
            try await formOrErrors(prefix: "rule") {
                _ = try await affairs.addSubsidyRule(Self.ruleInput(c.form), actor: try c.requireActor())
                return redirect("/canteens#rules")
            } page: { errors in try await canteensPage(c, errors: errors) }
        }
        r.get("/canteens/:id", .action(.affairApply)) { _, c in try await canteenPage(c, try c.id("id"), errors: [:]) }
        r.post("/canteens/:id/menus", .action(.affairHandle)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "menu") {
                var i = MenuInput()
                i.day = c.form["day"]; i.meal = c.form["meal"]; i.dishes = c.form["dishes"]; i.price = c.form["price"]; i.portions = c.form.int("portions").map(Int.init)
                _ = try await affairs.setMenu(id, i, actor: try c.requireActor())
                return redirect("/canteens/\(id)#menus")
            } page: { errors in try await canteenPage(c, id, errors: errors) }
        }
        r.post("/canteen-menus/:id/order", .action(.affairApply)) { _, c in
            let menu = try c.id("id")
            let canteenID = try await affairs.canteenOf(menu: menu, actor: try c.requireActor())
            return try await formOrErrors(prefix: "order", alsoShowing: [.conflict]) {
                var i = MealOrderInput()
                i.residentID = c.form.int("resident_id"); i.delivery = c.form["delivery"] == "1"
                _ = try await affairs.order(menu, i, actor: try c.requireActor())
                return redirect("/canteens/\(canteenID)#mine")
            } page: { errors in try await canteenPage(c, canteenID, errors: errors) }
        }
        r.post("/canteen-orders/:id/cancel", .action(.affairApply)) { _, c in
            redirect("/canteens/\(try await affairs.cancelOrder(try c.id("id"), actor: try c.requireActor()))#mine")
        }
        r.post("/canteen-orders/:id/served", .action(.affairHandle)) { _, c in
            let o = try await affairs.serveOrder(try c.id("id"), actor: try c.requireActor())
            return redirect("/canteens/\(o.canteenID)/kitchen?day=\(o.day)" + (o.delivery ? "#round" : "#counter"))
        }
        // The counter takes the money for a meal; a cancelled paid meal's money is handed back.
        r.post("/canteen-orders/:id/paid", .action(.affairHandle)) { _, c in
            let o = try await affairs.payAtCounter(try c.id("id"), actor: try c.requireActor())
            return redirect("/canteens/\(o.canteenID)/kitchen?day=\(o.day)" + (o.delivery ? "#round" : "#counter"))
        }
        r.post("/api/v1/canteen-orders/:id/paid", .action(.affairHandle)) { _, c in
            try JSON.response(try await affairs.payAtCounter(try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/canteen-orders/:id/refunded", .action(.affairHandle)) { _, c in
            let o = try await affairs.refundOrder(try c.id("id"), actor: try c.requireActor())
            return redirect("/canteens/\(o.canteenID)/kitchen#takings")
        }
        r.post("/api/v1/canteen-orders/:id/refunded", .action(.affairHandle)) { _, c in
            try JSON.response(try await affairs.refundOrder(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/canteens/:id/kitchen", .action(.affairHandle)) { req, c in
            let id = try c.id("id")
            let day = try Input.day(req.uri.queryParameters.get("day"), field: "day") ?? LocalDay.of(affairs.env.nowSeconds)
            let k = try await affairs.kitchen(id, day: day, actor: try c.requireActor())
            let t = ServicesCapability.words.table(c.lang)
            // A row of the round or the counter; its button only while the meal can still be marked.
            let servable = MealRules.servable(day: day, today: LocalDay.of(affairs.env.nowSeconds))
            func order(_ o: MealOrderView) -> [String: Any] {
                (["id": o.id, "meal": ServicesCapability.words.label("meal_" + o.meal, c.lang), "diner": o.diner, "address": o.address, "pay": o.pay, "day": o.day,
                  "served_at": o.servedAt ?? false, "to_serve": o.status == "ordered" && servable] as [String: Any]).merging(Self.payFields(o, t)) { $1 }
            }
            return renderer.page("kitchen", [
                "id": id, "day": k.day, "prev": ChinaTime.iso(day: day - 1), "next": ChinaTime.iso(day: day + 1),
                "meals": k.meals.map { ["meal": ServicesCapability.words.label("meal_" + $0.meal, c.lang), "dishes": $0.dishes, "dine_in": $0.dineIn, "delivery": $0.delivery,
                                        "total": $0.dineIn + $0.delivery, "subsidy": $0.subsidy] as [String: Any] },
                "none": k.meals.isEmpty,
                "deliveries": k.deliveries.map(order),
                "delivered": k.deliveries.filter { $0.status == "served" }.count, "to_deliver": k.deliveries.count,
                "dine_ins": k.dineIns.map(order),
                "has_dine_ins": !k.dineIns.isEmpty, "dine_in_count": k.dineIns.count, "taken": k.dineIns.filter { $0.status == "served" }.count,
                "no_deliveries": k.deliveries.isEmpty,
                "takings": ["online": k.takings.online, "counter": k.takings.counter, "unpaid": k.takings.unpaid, "unpaid_meals": k.takings.unpaidMeals],
                "refunds": k.refunds.map(order), "has_refunds": !k.refunds.isEmpty,
                "has_crew": !k.crew.isEmpty, "crew": k.crew.joined(separator: "、"), "no_crew": k.roundByVolunteers && k.crew.isEmpty,
            ], context: c, title: t["canteen_kitchen"]! + " · " + k.day)
        }
        r.get("/api/v1/canteens", .action(.affairApply)) { _, c in try JSON.response(try await affairs.canteens(actor: try c.requireActor())) }
        r.post("/api/v1/canteens", .action(.affairHandle), body: CanteenInput.self) { _, c, i in
            try JSON.response(try await affairs.createCanteen(i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/canteens/:id", .action(.affairApply)) { _, c in try JSON.response(try await affairs.canteen(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/canteens/:id/menus", .action(.affairHandle), body: MenuInput.self) { _, c, i in
            try JSON.response(["id": try await affairs.setMenu(try c.id("id"), i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/meal-subsidy-rules", .action(.affairHandle), body: SubsidyRuleInput.self) { _, c, i in
            try JSON.response(["id": try await affairs.addSubsidyRule(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/canteen-menus/:id/orders", .action(.affairApply), body: MealOrderInput.self) { _, c, i in
            try JSON.response(try await affairs.order(try c.id("id"), i, actor: try c.requireActor()), status: .created)
        }
        r.post("/api/v1/canteen-orders/:id/served", .action(.affairHandle)) { _, c in
            try JSON.response(try await affairs.serveOrder(try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/api/v1/canteen-orders/:id/cancel", .action(.affairApply)) { _, c in
            try await affairs.cancelOrder(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/canteens/:id/kitchen", .action(.affairHandle)) { req, c in
            let day = try Input.day(req.uri.queryParameters.get("day"), field: "day") ?? LocalDay.of(affairs.env.nowSeconds)
            return try JSON.response(try await affairs.kitchen(try c.id("id"), day: day, actor: try c.requireActor()))
        }
        r.post("/canteens/:id/delivery-task", .action(.affairHandle)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "round") {
                _ = try await affairs.setDeliveryTask(id, taskID: c.form.int("task_id"), actor: try c.requireActor())
                return redirect("/canteens/\(id)#round")
            } page: { errors in try await canteenPage(c, id, errors: errors) }
        }
        r.post("/api/v1/canteens/:id/delivery-task", .action(.affairHandle), body: DeliveryTaskInput.self) { _, c, i in
            try JSON.response(try await affairs.setDeliveryTask(try c.id("id"), taskID: i.taskID, actor: try c.requireActor()))
        }
        // The volunteer on the round's shift, at the door.
        r.post("/canteen-orders/:id/delivered", .action(.volunteerJoin)) { _, c in
            _ = try await affairs.deliverOrder(try c.id("id"), actor: try c.requireActor())
            return redirect("/volunteer#shifts")
        }
        r.post("/api/v1/canteen-orders/:id/delivered", .action(.volunteerJoin)) { _, c in
            try JSON.response(try await affairs.deliverOrder(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/canteens/:id/settlement", .action(.affairHandle)) { req, c in try await settlementPage(req, c, errors: [:]) }
        r.post("/canteens/:id/settlement", .action(.affairHandle)) { req, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "pay", alsoShowing: [.conflict]) {
                var i = SubsidyPaymentInput()
                i.month = c.form["month"]; i.amount = c.form["amount"]; i.reference = c.form["reference"]; i.day = c.form["day"]
                let s = try await affairs.receiveSubsidy(id, i, actor: try c.requireActor())
                return redirect("/canteens/\(id)/settlement?month=\(s.month)#payments")
            } page: { errors in try await settlementPage(req, c, errors: errors) }
        }
        r.post("/api/v1/canteens/:id/settlement", .action(.affairHandle), body: SubsidyPaymentInput.self) { _, c, i in
            try JSON.response(try await affairs.receiveSubsidy(try c.id("id"), i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/canteens/:id/settlement", .action(.affairHandle)) { req, c in
            let thisMonth: String = ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds))
            let month = req.uri.queryParameters.get("month").map { String($0) } ?? String(thisMonth.prefix(7))
            return try JSON.response(try await affairs.settlement(try c.id("id"), month: month, actor: try c.requireActor()))
        }
    }

    /// A canteen's month of meal subsidies (last month unless asked), and the government's
    /// payments of it as they arrive.
    func settlementPage(_ req: Request, _ c: AppContext, errors: [String: String]) async throws -> Response {
        let id = try c.id("id")
        let today = LocalDay.of(affairs.env.nowSeconds)
        let lastMonth = String(ChinaTime.iso(day: LocalDay.month(of: today).first - 1).prefix(7))
        let asked = c.form["month"] ?? req.uri.queryParameters.get("month").map { String($0) } ?? lastMonth
        let month = LocalDay.month(asked) == nil ? lastMonth : asked
        let actor = try c.requireActor()
        let v = try await affairs.canteen(id, actor: actor)
        let s = try await affairs.settlement(id, month: month, actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        var resp = renderer.page("canteen_settlement", [
            "id": id, "name": v.name, "month": s.month, "lines": s.lines.map { ["rule": $0.rule.isEmpty ? "—" : $0.rule, "meals": $0.meals, "subsidy": $0.subsidy] as [String: Any] },
            "no_lines": s.lines.isEmpty, "meals": s.meals, "total": s.total, "received": s.received, "outstanding": s.outstanding,
            "payments": s.payments.map { ["amount": $0.amount, "day": $0.day, "reference": $0.reference] as [String: Any] }, "no_payments": s.payments.isEmpty,
            "can_pay": s.ended && s.outstanding != "0.00", "not_ended": !s.ended, "max_month": lastMonth,
            "today": ChinaTime.iso(day: today), "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["canteen_settlement"]! + " · " + v.name)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    static func ruleInput(_ f: FormData) -> SubsidyRuleInput {
        var i = SubsidyRuleInput()
        i.placeID = f.int("place_id"); i.label = f["label"]; i.from = f["from"]; i.to = f.nonEmpty("to")
        i.minAge = f.int("min_age").map(Int.init); i.situation = f.nonEmpty("situation")
        i.subsidy = f["subsidy"]; i.deliverySubsidy = f["delivery_subsidy"]; i.minSpend = f["min_spend"]
        return i
    }

    func canteensPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await affairs.canteens(actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        let places = try await staffPlaces(actor, anyKind: true)
        var resp = renderer.page("canteens", [
            "canteens": list.map { ["id": $0.id, "name": $0.name, "place": $0.placeName, "cutoff": $0.cutoff, "delivers": $0.deliveryFee != nil] as [String: Any] },
            "none": list.isEmpty, "staff": !places.isEmpty, "places": places,
            "situations": ResidentTag.allCases.map { ["code": $0.rawValue, "label": ServicesCapability.words.label($0.rawValue, c.lang)] },
            "today": ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds)), "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["canteens"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    /// How an order's payment shows, on the household's list and in the kitchen alike: owed
    /// (with the reference to quote) until the money has arrived, paid and how, owed back,
    /// handed back, or covered by the subsidy.
    static func payFields(_ o: MealOrderView, _ t: [String: String]) -> [String: Any] {
        let live = o.status != "cancelled"
        return ["unpaid": o.payStatus == "unpaid" && live, "reference": o.payReference ?? "", "paid": o.payStatus == "paid",
                "paid_via": o.paidVia.map { t["canteen_via_" + $0] ?? $0 } ?? "", "refund_due": o.payStatus == "refund_due",
                "refunded": o.payStatus == "refunded", "free": o.payStatus == "none" && o.pay == "0.00" && live]
    }

    func canteenPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let v = try await affairs.canteen(id, actor: actor)
        let staff = try await affairs.store.read { db in try await affairs.fetchCanteen(db, id, actor).0.staff }
        let rounds = staff ? try await affairs.deliveryTaskChoices(id, actor: actor) : []
        let t = ServicesCapability.words.table(c.lang)
        // Whom a resident orders for: the people of their own household.
        var diners: [[String: Any]] = []
        if let h = actor.grants.first(where: { $0.role == .resident })?.householdID,
           let detail = try? await affairs.registry.household(h, actor: actor) {
            diners = detail.residents.map { ["id": $0.id, "name": $0.name, "age": $0.age] as [String: Any] }
        }
        var resp = renderer.page("canteen", [
            "id": v.id, "name": v.name, "place": v.placeName, "cutoff": v.cutoff, "fee": v.deliveryFee ?? "", "delivers": v.deliveryFee != nil,
            "menus": v.menus.map { m in
                ["id": m.id, "day": m.day, "meal": ServicesCapability.words.label("meal_" + m.meal, c.lang), "dishes": m.dishes, "price": m.price, "left": m.left,
                 "sold_out": m.left <= 0, "open": m.open && m.left > 0, "closed": !m.open] as [String: Any]
            },
            "no_menus": v.menus.isEmpty, "diners": diners, "has_diners": !diners.isEmpty,
            "mine": v.mine.map { o in
                (["id": o.id, "day": o.day, "meal": ServicesCapability.words.label("meal_" + o.meal, c.lang), "diner": o.diner, "delivery": o.delivery, "pay": o.pay,
                 "subsidy": o.subsidy, "subsidised": o.subsidy != "0.00", "cancelled": o.status == "cancelled", "live": o.status == "ordered",
                 "served_at": o.servedAt ?? false] as [String: Any]).merging(Self.payFields(o, t)) { $1 }
            },
            "has_mine": !v.mine.isEmpty, "owes": v.mine.contains { $0.payStatus == "unpaid" && $0.status != "cancelled" }, "staff": staff,
            "round_tasks": rounds.map { ["id": $0.id, "title": $0.title, "selected": $0.id == v.deliveryTaskID] as [String: Any] },
            "has_round_tasks": !rounds.isEmpty, "round_named": v.deliveryTaskID != nil, "round_task_id": v.deliveryTaskID ?? 0, "meals": CanteenLimits.meals.map { ["code": $0, "label": ServicesCapability.words.label("meal_" + $0, c.lang), "lunch": $0 == "lunch"] },
            "today": ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds)), "errors": errors,
        ], context: c, title: v.name)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func registerSpaces(_ r: Routes) {
        r.get("/spaces", .action(.affairApply)) { _, c in try await spacesPage(c, errors: [:]) }
        r.post("/spaces", .action(.affairHandle)) { _, c in
            try await formOrErrors(prefix: "new") {
                redirect("/spaces/\(try await affairs.createSpace(Self.spaceInput(c.form), actor: try c.requireActor()).id)")
            } page: { errors in try await spacesPage(c, errors: errors) }
        }
        r.get("/spaces/:id", .action(.affairApply)) { _, c in try await spacePage(c, try c.id("id"), errors: [:]) }
        r.post("/spaces/:id/bookings", .action(.affairApply)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "book", alsoShowing: [.conflict]) {
                _ = try await affairs.book(id, Self.bookingInput(c.form), actor: try c.requireActor())
                return redirect("/spaces/\(id)#booked")
            } page: { errors in try await spacePage(c, id, errors: errors) }
        }
        for (verb, status) in [("approve", "approved"), ("refuse", "refused"), ("cancel", "cancelled")] {
            r.post("/space-bookings/:id/\(verb)", .action(verb == "cancel" ? .affairApply : .affairHandle)) { _, c in
                redirect("/spaces/\(try await affairs.decideBooking(try c.id("id"), to: status, actor: try c.requireActor()))#booked")
            }
            r.post("/api/v1/space-bookings/:id/\(verb)", .action(verb == "cancel" ? .affairApply : .affairHandle)) { _, c in
                try await affairs.decideBooking(try c.id("id"), to: status, actor: try c.requireActor())
                return Response(status: .noContent)
            }
        }
        r.get("/api/v1/spaces", .action(.affairApply)) { _, c in try JSON.response(try await affairs.spaces(actor: try c.requireActor())) }
        r.post("/api/v1/spaces", .action(.affairHandle), body: SpaceInput.self) { _, c, i in
            try JSON.response(try await affairs.createSpace(i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/spaces/:id", .action(.affairApply)) { _, c in try JSON.response(try await affairs.space(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/spaces/:id/bookings", .action(.affairApply), body: SpaceBookingInput.self) { _, c, i in
            try JSON.response(["ids": try await affairs.book(try c.id("id"), i, actor: try c.requireActor())], status: .created)
        }
    }

    static func spaceInput(_ f: FormData) -> SpaceInput {
        var i = SpaceInput()
        i.placeID = f.int("place_id"); i.name = f["name"]; i.kind = f["kind"].flatMap(SpaceKind.init(rawValue:))
        i.capacity = f.int("capacity").map(Int.init); i.opens = f["opens"]; i.closes = f["closes"]
        i.openDays = f.all("open_days").compactMap { Int($0) }
        i.residentsMayBook = f["residents_may_book"] == "1"; i.needsApproval = f["needs_approval"] == "1"
        return i
    }

    static func bookingInput(_ f: FormData) -> SpaceBookingInput {
        var i = SpaceBookingInput()
        i.day = f["day"]; i.start = f["start"]; i.end = f["end"]; i.purpose = f["purpose"]
        if f["weekly"] == "1" {
            i.weekday = f.int("weekday").map(Int.init); i.until = f["until"]
            i.except = (f["except"] ?? "").split(whereSeparator: { $0 == "," || $0 == "，" || $0 == " " }).map(String.init)
        }
        return i
    }

    func spacesPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await affairs.spaces(actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        let places = try await staffPlaces(actor)
        var resp = renderer.page("spaces", [
            "spaces": list.map { s in
                ["id": s.id, "name": s.name, "kind": ServicesCapability.words.label("space_kind_" + s.kind.rawValue, c.lang), "hours": s.opens + "–" + s.closes,
                 "place": s.placeName, "booked": s.bookings.count] as [String: Any]
            },
            "none": list.isEmpty, "staff": !places.isEmpty, "places": places,
            "kinds": SpaceKind.allCases.map { ["code": $0.rawValue, "label": ServicesCapability.words.label("space_kind_" + $0.rawValue, c.lang)] },
            "weekdays": (1...7).map { ["n": $0, "label": t["weekday_\($0)"]!] }, "errors": errors,
            "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["spaces"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func spacePage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let s = try await affairs.space(id, actor: actor)
        let staff = try await affairs.store.read { db in try await affairs.fetchSpace(db, id, actor).0.staff }
        let t = ServicesCapability.words.table(c.lang)
        let tomorrow = ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds) + 1)
        var byDay: [(String, [[String: Any]])] = []
        for b in s.bookings {
            let row: [String: Any] = ["id": b.id, "time": b.time, "purpose": b.purpose, "by": b.by, "shown": !b.by.isEmpty,
                                      "pending": b.status == "pending", "weekly": b.seriesID != nil,
                                      "can_decide": staff && b.status == "pending", "can_cancel": !b.by.isEmpty]
            if byDay.last?.0 == b.day { byDay[byDay.count - 1].1.append(row) } else { byDay.append((b.day, [row])) }
        }
        var resp = renderer.page("space", [
            "id": s.id, "name": s.name, "kind": ServicesCapability.words.label("space_kind_" + s.kind.rawValue, c.lang), "place": s.placeName, "capacity": s.capacity,
            "hours": s.opens + "–" + s.closes, "days_open": s.openDays.map { t["weekday_\($0)"]! }.joined(separator: "、"),
            "days": byDay.map { ["day": $0.0, "bookings": $0.1] as [String: Any] }, "free": byDay.isEmpty,
            "can_book": staff || s.residentsMayBook, "staff": staff, "needs_approval": s.needsApproval && !staff,
            "weekdays": (1...7).map { ["n": $0, "label": t["weekday_\($0)"]!] }, "tomorrow": tomorrow,
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: s.name)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    /// The places the actor runs, by name, for the "where" choice of a staff form (streets and
    /// communities unless `anyKind`).
    func staffPlaces(_ actor: Actor, _ action: Action = .affairHandle, anyKind: Bool = false) async throws -> [[String: Any]] {
        let ids = actor.grants(for: action).filter { $0.organisationID == nil }.map(\.placeID)
        let named: [(Int64, String)] = try await affairs.store.read { db in
            var out: [(Int64, String)] = []
            for id in ids {
                if let p = try await affairs.registry.fetchPlace(db, id), anyKind || p.kind == .street || p.kind.isCommunity { out.append((id, p.name)) }
            }
            return out
        }
        return named.map { ["id": $0.0, "name": $0.1] }
    }

    static func audienceLabel(_ a: ActivityAudience, _ lang: Lang) -> String { ServicesCapability.words.label(a == .all ? "audience_all" : a.rawValue, lang) }

    func registerActivities(_ r: Routes) {
        r.get("/activities", .action(.activityView)) { _, c in try await activitiesPage(c, errors: [:]) }
        r.post("/activities", .action(.activityRun)) { _, c in
            try await formOrErrors(prefix: "new") {
                redirect("/activities/\(try await affairs.createActivity(Self.activityInput(c.form), actor: try c.requireActor()).id)")
            } page: { errors in try await activitiesPage(c, errors: errors) }
        }
        r.get("/activities/:id", .action(.activityView)) { _, c in try await activityPage(c, try c.id("id"), errors: [:]) }
        r.post("/activities/:id/sign-up", .action(.affairApply)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "join", alsoShowing: [.conflict]) {
                _ = try await affairs.signUp(id, Self.signUpInput(c.form), actor: try c.requireActor())
                return redirect("/activities/\(id)")
            } page: { errors in try await activityPage(c, id, errors: errors) }
        }
        r.post("/activities/:id/withdraw", .action(.affairApply)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "join") {
                _ = try await affairs.cancelSignUp(id, Self.signUpInput(c.form), actor: try c.requireActor())
                return redirect("/activities/\(id)")
            } page: { errors in try await activityPage(c, id, errors: errors) }
        }
        r.post("/activities/:id/attend", .action(.activityRun)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "door") {
                _ = try await affairs.attend(id, code: c.form["household_code"], actor: try c.requireActor())
                return redirect("/activities/\(id)#door")
            } page: { errors in try await activityPage(c, id, errors: errors) }
        }
        r.post("/activities/:id/cancel", .action(.activityRun)) { _, c in
            let id = try c.id("id")
            _ = try await affairs.cancelActivity(id, actor: try c.requireActor())
            return redirect("/activities/\(id)")
        }
        r.get("/api/v1/activities", .action(.activityView)) { _, c in try JSON.response(try await affairs.activities(actor: try c.requireActor())) }
        r.post("/api/v1/activities", .action(.activityRun), body: ActivityInput.self) { _, c, i in
            try JSON.response(try await affairs.createActivity(i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/activities/:id", .action(.activityView)) { _, c in try JSON.response(try await affairs.activity(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/activities/:id/sign-ups", .action(.affairApply), optionalBody: SignUpInput.self) { _, c, i in
            // The household's own sign-up (confirmed, or waiting with its number).
            try JSON.response(try await affairs.signUp(try c.id("id"), i ?? SignUpInput(), actor: try c.requireActor()), status: .created)
        }
        r.post("/api/v1/activities/:id/sign-ups/cancel", .action(.affairApply), optionalBody: SignUpInput.self) { _, c, i in
            try JSON.response(try await affairs.cancelSignUp(try c.id("id"), i ?? SignUpInput(), actor: try c.requireActor()))
        }
        r.post("/api/v1/activities/:id/attendance", .action(.activityRun), body: SignUpInput.self) { _, c, i in
            try JSON.response(try await affairs.attend(try c.id("id"), code: i.householdCode, actor: try c.requireActor()))
        }
        r.post("/api/v1/activities/:id/cancel", .action(.activityRun)) { _, c in
            try JSON.response(try await affairs.cancelActivity(try c.id("id"), actor: try c.requireActor()))
        }
    }

    static func activityInput(_ f: FormData) -> ActivityInput {
        var i = ActivityInput()
        i.placeID = f.int("place_id"); i.organisationID = f.int("organisation_id"); i.title = f["title"]; i.venue = f["venue"]; i.organiser = f["organiser"]; i.description = f["description"]
        i.startsAt = f["starts_at"]; i.endsAt = f["ends_at"]; i.capacity = f.int("capacity").map(Int.init)
        i.audience = f["audience"].flatMap(ActivityAudience.init(rawValue:))
        i.helpers = f.int("helpers").map(Int.init); i.helperPointsPerHour = f.int("helper_points_per_hour").map(Int.init)
        return i
    }

    static func signUpInput(_ f: FormData) -> SignUpInput {
        var i = SignUpInput()
        i.householdCode = f.nonEmpty("household_code")
        i.people = f.int("people").map(Int.init)
        return i
    }

    func activitiesPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await affairs.activities(actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        let rows = list.map { a -> [String: Any] in
            ["id": a.id, "title": a.title, "when": a.startsAt, "venue": a.venue, "organiser": a.organiser, "left": max(0, a.capacity - a.taken),
             "full": a.taken >= a.capacity, "cancelled": a.status == "cancelled", "audience": Self.audienceLabel(a.audience, c.lang),
             "for_some": a.audience != .all, "mine": a.mine.map { ServicesCapability.words.label("signup_" + $0.status, c.lang) } ?? "", "signed": a.mine != nil]
        }
        let runs = actor.grants(for: .activityRun)
        // Staff post at a place they serve; an organisation's account posts as itself.
        let places = runs.contains { $0.organisationID == nil } ? try await staffPlaces(actor, .activityRun) : []
        let orgs = places.isEmpty ? try await affairs.registry.organisationRefs(ids: runs.compactMap(\.organisationID)).values.sorted { $0.id < $1.id } : []
        let tomorrow = ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds) + 1)
        var resp = renderer.page("activities", [
            "activities": rows, "none": rows.isEmpty, "staff": !places.isEmpty || !orgs.isEmpty, "places": places, "as_staff": !places.isEmpty,
            "organisations": orgs.map { ["id": $0.id, "name": $0.name, "place": $0.placeName] }, "one_organisation": orgs.count == 1,
            "organisation_id": orgs.first?.id ?? 0,
            "audiences": ActivityAudience.allCases.map { ["code": $0.rawValue, "label": Self.audienceLabel($0, c.lang)] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
            "default_start": tomorrow + "T09:30", "default_end": tomorrow + "T11:00",
        ], context: c, title: t["activities"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func activityPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let a = try await affairs.activity(id, actor: actor)
        let staff = try await affairs.store.read { db in try await affairs.fetchActivity(db, id, actor).0.staff }
        let resident = actor.grants.contains { $0.role == .resident }
        let open = a.status == "open"
        var resp = renderer.page("activity", [
            // One day's activity reads "2026-12-12 09:30–11:00".
            "id": a.id, "title": a.title, "when": a.startsAt + "–" + (a.endsAt.prefix(10) == a.startsAt.prefix(10) ? String(a.endsAt.dropFirst(11)) : a.endsAt), "venue": a.venue, "organiser": a.organiser, "place": a.placeName,
            "description": a.description, "has_description": !a.description.isEmpty, "audience": Self.audienceLabel(a.audience, c.lang),
            "capacity": a.capacity, "taken": a.taken, "waiting": a.waiting, "full": a.taken >= a.capacity, "open": open, "cancelled": !open,
            "mine_confirmed": a.mine?.status == "confirmed", "mine_waiting": a.mine?.status == "waiting", "position": a.mine?.waitingPosition ?? 0,
            "can_sign_up": open && actor.may(.affairApply) && (a.mine == nil || !resident), "resident": resident, "can_withdraw": open && a.mine != nil && resident,
            "staff": staff,
            "sign_ups": a.signUps.map { s in
                ["address": s.address, "people": s.people, "by": s.by, "status": ServicesCapability.words.label("signup_" + s.status, c.lang), "waiting": s.status == "waiting",
                 "position": s.waitingPosition ?? 0, "attended": s.attended] as [String: Any]
            },
            "has_sign_ups": !a.signUps.isEmpty, "errors": errors, "helper_task": a.helperTaskID.map { $0 as Any } ?? false,
        ], context: c, title: a.title)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func registerAPI(_ r: Routes) {
        r.get("/api/v1/affairs", .action(.affairApply)) { _, c in try JSON.response(try await affairs.catalogue(actor: try c.requireActor())) }
        r.post("/api/v1/affairs", .action(.affairHandle), body: AffairInput.self) { _, c, i in
            try JSON.response(try await affairs.createAffair(i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/affairs/:id", .action(.affairApply)) { _, c in try JSON.response(try await affairs.affair(try c.id("id"), actor: try c.requireActor())) }
        r.patch("/api/v1/affairs/:id", .action(.affairHandle), body: AffairInput.self) { _, c, i in
            try JSON.response(try await affairs.updateAffair(try c.id("id"), i, actor: try c.requireActor()))
        }
        r.get("/api/v1/affairs/:id/slots", .action(.affairApply)) { _, c in try JSON.response(try await affairs.slots(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/affairs/:id/slots", .action(.affairHandle), body: SlotPlanInput.self) { _, c, plan in
            try JSON.response(["opened": try await affairs.openSlots(try c.id("id"), plan, actor: try c.requireActor())], status: .created)
        }
        // Papers travel as base64 in `papers_base64`, as a request's photos do.
        r.post("/api/v1/affairs/:id/applications", .action(.affairApply), body: ApplyInput.self, upTo: RequestLimits.apiBodyMax) { _, c, i in
            let papers = try (i.papersBase64 ?? []).enumerated().compactMap { n, s in
                try Input.base64(s, field: "papers_base64", message: "第 \(n + 1) 张材料照片不是 base64 编码")
            }
            let (a, created) = try await affairs.apply(try c.id("id"), i, papers: papers, actor: try c.requireActor())
            return try JSON.response(a, status: created ? .created : .ok)
        }
        r.post("/api/v1/affairs/:id/walk-in", .action(.affairHandle), body: ApplyInput.self) { _, c, i in
            try JSON.response(try await affairs.walkIn(try c.id("id"), i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/affair-applications", .action(.affairApply)) { _, c in try JSON.response(try await affairs.mine(actor: try c.requireActor())) }
        r.get("/api/v1/affair-applications/:id", .action(.affairApply)) { _, c in
            try JSON.response(try await affairs.application(try c.id("id"), actor: try c.requireActor()))
        }
        for step in ApplicationStep.allCases {
            r.post("/api/v1/affair-applications/:id/\(step.rawValue)", .action(step.byApplicant ? .affairApply : .affairHandle),
                   optionalBody: AffairStepInput.self) { _, c, i in
                let i = i ?? AffairStepInput()
                let papers = try (i.papersBase64 ?? []).enumerated().compactMap { n, s in
                    try Input.base64(s, field: "papers_base64", message: "第 \(n + 1) 张材料照片不是 base64 编码")
                }
                return try JSON.response(try await affairs.step(try c.id("id"), step, i, papers: papers, actor: try c.requireActor()))
            }
        }
        r.get("/api/v1/affairs-desk", .action(.affairHandle)) { _, c in try JSON.response(try await affairs.desk(actor: try c.requireActor())) }
        r.get("/api/v1/affairs-measures", .action(.affairHandle)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (from, to) = try Self.period(q.get("from"), q.get("to"), now: affairs.env.nowSeconds)
            let place = try Input.id(q.get("place_id"), field: "place_id") ?? actor.grants(for: .affairHandle).first?.placeID ?? 0
            return try JSON.response(try await affairs.measures(placeID: place, from: from, to: to, actor: actor))
        }
    }

    // MARK: Forms

    static func affairInput(_ f: FormData) -> AffairInput {
        var i = AffairInput()
        i.placeID = f.int("place_id")
        i.name = f["name"]
        i.description = f["description"]
        i.materials = f["materials"]
        i.mode = f["mode"].flatMap(AffairMode.init(rawValue:))
        i.promisedDays = f.int("promised_days").map(Int.init)
        return i
    }

    static func slotPlan(_ f: FormData) -> SlotPlanInput {
        var p = SlotPlanInput()
        p.from = f["from"]; p.to = f["to"]; p.start = f["start"]; p.end = f["end"]
        p.every = f.int("every").map(Int.init)
        p.capacity = f.int("capacity").map(Int.init)
        p.weekdays = f.all("weekdays").compactMap { Int($0) }
        return p
    }

    static func applyInput(_ f: FormData) -> ApplyInput {
        var i = ApplyInput()
        i.householdCode = f.nonEmpty("household_code")
        i.visitorName = f.nonEmpty("visitor_name"); i.visitorPhone = f.nonEmpty("visitor_phone")
        i.slotID = f.int("slot_id")
        i.note = f["note"]
        i.clientKey = f.nonEmpty("client_key")
        return i
    }

    /// The last 30 days unless a period is given.
    static func period(_ from: String?, _ to: String?, now: Int64) throws -> (Int64, Int64) {
        let today = LocalDay.of(now)
        let t = try Input.day(to, field: "to") ?? today
        let f = try Input.day(from, field: "from") ?? (t - 29)
        guard f <= t, t - f <= 366 else { throw LinliError.invalid("from", "invalid", "统计期间应在一年以内，且开始不晚于结束") }
        return (f, t)
    }

    // MARK: Pages

    static func lineRows(_ lines: [ApplicationLine], _ lang: Lang) -> [[String: Any]] {
        lines.map { l in
            ["id": l.id, "affair": l.affairName, "address": l.address, "applicant": l.applicant, "ticket": l.ticket ?? "", "has_ticket": l.ticket != nil,
             "slot": l.slot ?? "", "has_slot": l.slot != nil, "returns": l.returns, "returned_before": l.returns > 0, "since": l.since,
             "status": ServicesCapability.words.label("affair_status_" + l.status.rawValue, lang), "open": l.status.isOpen]
        }
    }

    func listPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await affairs.catalogue(actor: actor, includeInactive: actor.may(.affairHandle))
        let mine = try await affairs.mine(actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        // Where staff may offer a service: the streets and communities they run.
        let places = try await staffPlaces(actor)
        let rows = list.map { a -> [String: Any] in
            ["id": a.id, "name": a.name, "place": a.placeName, "mode": ServicesCapability.words.label("affair_mode_" + a.mode.rawValue, c.lang),
             "materials": a.materials.count, "inactive": !a.active]
        }
        var resp = renderer.page("affairs", ["affairs": rows, "none": rows.isEmpty, "mine": Self.lineRows(mine, c.lang), "mine_none": mine.isEmpty,
                                             "staff": !places.isEmpty, "desk": actor.may(.affairHandle), "places": places, "errors": errors,
                                             "values": c.form.values.mapValues { $0.first ?? "" },
                                             "modes": AffairMode.allCases.map { ["code": $0.rawValue, "label": ServicesCapability.words.label("affair_mode_" + $0.rawValue, c.lang)] }],
                                   context: c, title: t["affairs"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func affairPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let a = try await affairs.affair(id, actor: actor)
        let slots = a.mode.takesBookings ? try await affairs.slots(id, actor: actor) : []
        let staff = actor.may(.affairHandle, on: ObjectScope(path: try await affairs.store.read { db in try await affairs.fetchAffair(db, id, actor).1 }))
        let t = ServicesCapability.words.table(c.lang)
        let values = c.form.values.mapValues { $0.first ?? "" }
        var byDay: [(String, [[String: Any]])] = []
        for s in slots {
            let row: [String: Any] = ["id": s.id, "time": s.time, "left": s.left, "full": s.left <= 0]
            if byDay.last?.0 == s.day { byDay[byDay.count - 1].1.append(row) } else { byDay.append((s.day, [row])) }
        }
        let today = LocalDay.of(affairs.env.nowSeconds)
        // What the actor already has open for this service comes first: a booking is not made twice.
        let open = try await affairs.mine(actor: actor).filter { $0.affairID == id && $0.status.isOpen }
        let resident = actor.grants.contains { $0.role == .resident }
        let data: [String: Any] = [
            "open_applications": Self.lineRows(open, c.lang), "has_open": !open.isEmpty,
            "id": a.id, "name": a.name, "description": a.description, "has_description": !a.description.isEmpty, "place": a.placeName,
            "materials": a.materials, "no_materials": a.materials.isEmpty, "mode": ServicesCapability.words.label("affair_mode_" + a.mode.rawValue, c.lang),
            "promised": a.promisedDays, "same_day": a.promisedDays == 0, "active": a.active, "inactive": !a.active,
            "can_apply": a.active && a.mode.takesApplications, "can_book": a.active && a.mode.takesBookings && !(resident && open.contains { $0.status == .booked }),
            // Five days of times are enough to choose from on a phone; later ones open as these pass.
            "days": byDay.prefix(5).map { ["day": $0.0, "slots": $0.1] as [String: Any] }, "no_slots": slots.isEmpty,
            "resident": resident, "staff": staff, "errors": errors, "values": values,
            "client_key": affairs.env.token(bytes: 12),
            "edit_materials": a.materials.joined(separator: "\n"), "promised_days": a.promisedDays,
            "modes": AffairMode.allCases.map { ["code": $0.rawValue, "label": ServicesCapability.words.label("affair_mode_" + $0.rawValue, c.lang), "selected": $0 == a.mode] },
            "weekdays": (1...7).map { ["n": $0, "label": t["weekday_\($0)"]!, "checked": $0 <= 5] },
            "slot_from": ChinaTime.iso(day: today + 1), "slot_to": ChinaTime.iso(day: today + 14),
        ]
        var resp = renderer.page("affair", data, context: c, title: a.name)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func applicationPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let a = try await affairs.application(id, actor: actor)
        let t = ServicesCapability.words.table(c.lang)
        let staffSteps = a.steps.filter { !$0.byApplicant }, ownSteps = a.steps.filter(\.byApplicant)
        func buttons(_ steps: [ApplicationStep]) -> [[String: Any]] {
            steps.map { ["code": $0.rawValue, "label": ServicesCapability.words.label("affair_step_" + $0.rawValue, c.lang),
                         "danger": $0 == .refuse || $0 == .cancel || $0 == .noShow, "plain": !($0 == .refuse || $0 == .cancel || $0 == .noShow)] }
        }
        let data: [String: Any] = [
            "id": a.id, "affair_id": a.affairID, "affair": a.affairName, "address": a.address, "applicant": a.applicant,
            "status": ServicesCapability.words.label("affair_status_" + a.status.rawValue, c.lang), "returned": a.status == .returned, "done": a.status == .done,
            "closed": !a.status.isOpen, "ticket": a.ticket ?? "", "has_ticket": a.ticket != nil, "slot": a.slot ?? "", "has_slot": a.slot != nil,
            "returns": a.returns, "returned_before": a.returns > 0, "note": a.note, "has_note": !a.note.isEmpty,
            "papers": a.papers, "has_papers": !a.papers.isEmpty,
            "events": a.events.map { e in
                ["at": e.at, "step": ServicesCapability.words.label("affair_step_" + e.step, c.lang), "status": ServicesCapability.words.label("affair_status_" + e.status.rawValue, c.lang),
                 "note": e.note, "has_note": !e.note.isEmpty, "by": e.by] as [String: Any]
            },
            "staff_steps": buttons(staffSteps), "has_staff_steps": !staffSteps.isEmpty,
            "own_steps": buttons(ownSteps.filter { $0 != .resubmit }), "has_own_steps": !ownSteps.isEmpty, "can_resubmit": ownSteps.contains(.resubmit),
            "errors": errors,
            // What the office asked for last time it sent papers back, for the applicant to act on.
            "return_note": a.events.last(where: { $0.step == ApplicationStep.returnPapers.rawValue })?.note ?? "",
        ]
        var resp = renderer.page("affair_application", data, context: c, title: t["affairs"]! + " · " + a.affairName)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func deskPage(_ c: AppContext) async throws -> Response {
        let actor = try c.requireActor()
        let d = try await affairs.desk(actor: actor)
        let (from, to) = try Self.period(nil, nil, now: affairs.env.nowSeconds)
        let place = actor.grants(for: .affairHandle).first!.placeID
        let measures = try await affairs.measures(placeID: place, from: from, to: to, actor: actor)
        let list = try await affairs.catalogue(actor: actor).filter(\.mode.takesBookings)
        let t = ServicesCapability.words.table(c.lang)
        func queue(_ key: String, _ lines: [ApplicationLine]) -> [String: Any] {
            ["title": t[key]!, "key": key, "rows": Self.lineRows(lines, c.lang), "empty": lines.isEmpty, "count": lines.count]
        }
        let data: [String: Any] = [
            "queues": [queue("affair_waiting", d.waiting), queue("affair_booked_today", d.bookedToday), queue("affair_to_review", d.toReview),
                       queue("affair_handling", d.handling), queue("affair_missed", d.missed), queue("affair_returned_list", d.returned)],
            "counter_affairs": list.map { ["id": $0.id, "name": $0.name] as [String: Any] }, "has_counter": !list.isEmpty,
            "measures": measures.map { m in
                ["name": m.name, "finished": m.finished, "returns": String(format: "%.2f", m.returnsPerApplication), "once": m.onceOnlyPercent,
                 "no_shows": m.noShows, "wait": m.medianWaitMinutes.map(String.init) ?? "—", "handle": m.medianHandlingHours.map { String(format: "%.1f", $0) } ?? "—"] as [String: Any]
            },
            "measures_none": measures.isEmpty,
        ]
        return renderer.page("affairs_desk", data, context: c, title: t["affair_desk"]!)
    }
}
