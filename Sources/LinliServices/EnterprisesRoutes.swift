import Foundation
import Hummingbird
import LinliCore
import LinliServer
import LinliStore

/// Community enterprises: the office's list and register form, one enterprise's page (details,
/// years, money arrived), the public report and a community's public list, and their JSON twins.
extension ServicesRoutes {
    func registerEnterprises(_ r: Routes) {
        r.get("/enterprises", .action(.fundManage)) { _, c in try await enterprisesPage(c, errors: [:]) }
        r.post("/enterprises", .action(.fundManage)) { _, c in
            try await formOrErrors(prefix: "new", alsoShowing: [.conflict]) {
                redirect("/enterprises/\(try await affairs.registerEnterprise(Self.enterpriseInput(c.form, creating: true), actor: try c.requireActor()).id)")
            } page: { errors in try await enterprisesPage(c, errors: errors) }
        }
        r.get("/enterprises/:id", .action(.fundManage)) { _, c in try await enterprisePage(c, try c.id("id"), errors: [:]) }
        r.post("/enterprises/:id", .action(.fundManage)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "edit", alsoShowing: [.conflict]) {
                var i = Self.enterpriseInput(c.form, creating: false)
                i.active = c.form["active"] == "1"
                _ = try await affairs.updateEnterprise(id, i, actor: try c.requireActor())
                return redirect("/enterprises/\(id)")
            } page: { errors in try await enterprisePage(c, id, errors: errors) }
        }
        r.post("/enterprises/:id/years", .action(.fundManage)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "year", alsoShowing: [.conflict]) {
                var i = EnterpriseYearInput()
                i.year = c.form.int("year").map(Int.init); i.revenue = c.form["revenue"]; i.profit = c.form["profit"]
                i.returnPercent = c.form.int("return_percent").map(Int.init); i.served = c.form.int("served").map(Int.init); i.report = c.form["report"]
                _ = try await affairs.reportYear(id, i, actor: try c.requireActor())
                return redirect("/enterprises/\(id)#years")
            } page: { errors in try await enterprisePage(c, id, errors: errors) }
        }
        r.post("/enterprises/:id/returns", .action(.fundManage)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "ret", alsoShowing: [.conflict]) {
                var i = EnterpriseReturnInput()
                i.year = c.form.int("year").map(Int.init); i.amount = c.form["amount"]; i.reference = c.form["reference"]; i.day = c.form["day"]
                _ = try await affairs.receiveReturn(id, i, actor: try c.requireActor())
                return redirect("/enterprises/\(id)#arrivals")
            } page: { errors in try await enterprisePage(c, id, errors: errors) }
        }
        // The public side: anyone may read what a community's enterprises returned.
        r.get("/enterprises/:id/report", .open) { _, c in
            let e = try await affairs.enterpriseReport(try c.id("id"))
            return renderer.page("enterprise_report", ["one": true, "enterprises": [Self.enterpriseData(e, c.lang)], "community": e.community,
                                                       "community_id": e.communityID],
                                 context: c, title: e.name)
        }
        r.get("/communities/:id/enterprises", .open) { _, c in
            let (name, list) = try await affairs.communityEnterprises(try c.id("id"))
            return renderer.page("enterprise_report", ["one": false, "enterprises": list.map { Self.enterpriseData($0, c.lang) }, "none": list.isEmpty,
                                                       "community": name, "community_id": try c.id("id")],
                                 context: c, title: ServicesCapability.words.table(c.lang)["enterprise_public_list"]! + " · " + name)
        }

        r.get("/api/v1/enterprises", .action(.fundManage)) { _, c in try JSON.response(try await affairs.enterprises(actor: try c.requireActor())) }
        r.post("/api/v1/enterprises", .action(.fundManage), body: EnterpriseInput.self) { _, c, i in
            try JSON.response(try await affairs.registerEnterprise(i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/enterprises/:id", .action(.fundManage)) { _, c in try JSON.response(try await affairs.enterprise(try c.id("id"), actor: try c.requireActor())) }
        r.patch("/api/v1/enterprises/:id", .action(.fundManage), body: EnterpriseInput.self) { _, c, i in
            try JSON.response(try await affairs.updateEnterprise(try c.id("id"), i, actor: try c.requireActor()))
        }
        r.post("/api/v1/enterprises/:id/years", .action(.fundManage), body: EnterpriseYearInput.self) { _, c, i in
            try JSON.response(try await affairs.reportYear(try c.id("id"), i, actor: try c.requireActor()))
        }
        r.post("/api/v1/enterprises/:id/returns", .action(.fundManage), body: EnterpriseReturnInput.self) { _, c, i in
            try JSON.response(try await affairs.receiveReturn(try c.id("id"), i, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/enterprises/:id/report", .open) { _, c in try JSON.response(try await affairs.enterpriseReport(try c.id("id"))) }
        r.get("/api/v1/communities/:id/enterprises", .open) { _, c in
            try JSON.response(try await affairs.communityEnterprises(try c.id("id")).enterprises)
        }
    }

    static func enterpriseInput(_ f: FormData, creating: Bool) -> EnterpriseInput {
        var i = EnterpriseInput()
        if creating { i.placeID = f.int("place_id") }
        i.name = f["name"]; i.creditCode = f["credit_code"]; i.business = f["business"]
        i.communityShare = f.int("community_share").map(Int.init); i.returnPercent = f.int("return_percent").map(Int.init); i.contact = f["contact"]
        return i
    }

    static func enterpriseData(_ e: EnterpriseView, _ lang: Lang) -> [String: Any] {
        let t = ServicesCapability.words.table(lang)
        return ["id": e.id, "name": e.name, "community": e.community, "community_id": e.communityID, "credit_code": e.creditCode, "has_code": !e.creditCode.isEmpty,
                "business": e.business, "share": e.communityShare, "return_percent": e.returnPercent, "contact": e.contact ?? "", "active": e.active,
                "returned": e.returned,
                "years": e.years.map { y in
                    ["year": y.year, "revenue": y.revenue, "profit": y.profit, "return_percent": y.returnPercent, "due": y.due, "received": y.received,
                     "outstanding": y.outstanding, "owing": y.standing == .outstanding, "standing": t["enterprise_standing_" + y.standing.rawValue] ?? y.standing.rawValue,
                     "served": y.served.map { String($0) } ?? "—", "report": y.report, "has_report": !y.report.isEmpty] as [String: Any]
                },
                "no_years": e.years.isEmpty,
                "arrivals": e.arrivals.map { ["year": $0.year, "amount": $0.amount, "day": $0.day, "reference": $0.reference ?? ""] as [String: Any] },
                "no_arrivals": e.arrivals.isEmpty]
    }

    func enterprisesPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await affairs.enterprises(actor: actor)
        let communities = try await affairs.enterpriseCommunities(actor: actor)
        let picked = c.form.int("place_id")
        var resp = renderer.page("enterprises", [
            "enterprises": list.map { Self.enterpriseData($0, c.lang) }, "none": list.isEmpty,
            "communities": communities.map { ["id": $0.id, "name": $0.name, "selected": $0.id == picked] as [String: Any] },
            "can_register": !communities.isEmpty,
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: ServicesCapability.words.table(c.lang)["enterprises"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func enterprisePage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let e = try await affairs.enterprise(id, actor: actor)
        let today = ChinaTime.iso(day: LocalDay.of(affairs.env.nowSeconds))
        let thisYear = Int(today.prefix(4))!
        var data = Self.enterpriseData(e, c.lang)
        let posted = !errors.isEmpty
        data["errors"] = errors
        data["values"] = posted ? c.form.values.mapValues { $0.first ?? "" } : [String: String]()
        data["today"] = today
        // Last year first: a year is reported once it has ended; this year for a mid-year correction.
        data["report_years"] = (max(EnterpriseLimits.firstYear, thisYear - 10)...thisYear).reversed().map { ["year": $0, "selected": $0 == thisYear - 1] as [String: Any] }
        data["owed_years"] = e.years.filter { $0.standing == .outstanding }.map { ["year": $0.year, "outstanding": $0.outstanding] as [String: Any] }
        data["any_owed"] = e.years.contains { $0.standing == .outstanding }
        var resp = renderer.page("enterprise", data, context: c, title: e.name)
        if posted { resp.status = .unprocessableContent }
        return resp
    }
}
