import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The community fund pages: pools, gifts, expenses, statements.
extension LinkageRoutes {
    // MARK: Funds

    func registerFunds(_ r: Routes) {
        r.get("/funds", .action(.linkageView)) { req, c in try await fundsPage(req, c, errors: nil) }
        // Staff say what became of a payment held (arrived, but not bookable).
        r.post("/funds/held/:id/resolve", .action(.fundManage)) { req, c in
            do {
                _ = try await linkage.resolveHeldPayment(try c.id("id"), note: c.form["note"], actor: try c.requireActor())
            } catch let e as LinliError where e.status == .unprocessableContent || e.status == .conflict {
                var page = try await fundsPage(req, c, errors: ["held_\(try c.id("id"))": e.message])
                page.status = .unprocessableContent
                return page
            }
            return redirect("/funds" + (req.uri.query.map { "?" + $0 } ?? "") + "#held")
        }
        // Staff reconcile the bank statement: each line quoting a pledge's reference books it once.
        r.post("/funds/reconcile", .action(.fundManage)) { req, c in
            let file = c.files.first { $0.field == "statement" }?.bytes ?? []
            guard !file.isEmpty else { return try await fundsPage(req, c, errors: ["rec_statement": "请选择银行对账单（CSV）"]) }
            let lines = try await linkage.reconcileBankStatement(String(decoding: file, as: UTF8.self), actor: try c.requireActor())
            return try await fundsPage(req, c, errors: nil, reconciled: lines)
        }
        r.post("/pools", .action(.fundPool)) { req, c in
            try await step(c, prefix: "pool", page: { try await fundsPage(req, c, errors: $0) }) {
                var i = LinkageService.PoolInput()
                i.placeID = c.form.int("place_id"); i.name = c.form["name"]; i.ratioPercent = c.form.nonEmpty("ratio_percent").map { Int($0) ?? 0 }
                i.projectCap = c.form["project_cap"]; i.amount = c.form["amount"]
                _ = try await linkage.createPool(i, actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/pools/:id/top-up", .action(.fundPool)) { req, c in
            let id = try c.id("id")
            return try await step(c, prefix: "top\(id)", page: { try await fundsPage(req, c, errors: $0) }) {
                try await linkage.topUpPool(id, amount: c.form["amount"], actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/funds/settings", .action(.fundManage)) { req, c in
            try await step(c, prefix: "set", page: { try await fundsPage(req, c, errors: $0) }) {
                try await linkage.setApprovals(communityID: c.form.int("community_id"), count: c.form.nonEmpty("approvals_needed").map { Int($0) ?? 0 }, actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/projects/:id/campaign", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "camp") { id, actor in
                try await linkage.openCampaign(projectID: id, goal: c.form["goal"], seed: c.form["seed"], poolID: c.form.int("pool_id"), actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/campaign/close", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "camp") { id, actor in
                try await linkage.closeCampaign(projectID: id, actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/donate", .action(.linkageView)) { _, c in
            try await projectStep(c, prefix: "give") { id, actor in
                var i = LinkageService.DonationInput()
                i.amount = c.form["amount"]; i.name = c.form["name"]; i.publicName = c.form["public"] == "1"
                i.donorKind = c.form.nonEmpty("donor_kind"); i.idempotencyKey = c.form["idempotency_key"]
                let receipt = try await linkage.donate(projectID: id, i, actor: actor)
                if let pledge = receipt.pledgeID { return redirect("/projects/\(id)?pledged=\(pledge)#money") }
                return redirect("/projects/\(id)?given=\(receipt.transactionID)#money")
            }
        }
        r.post("/projects/:id/match", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "match") { id, actor in
                _ = try await linkage.match(projectID: id, amount: c.form["amount"], actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/expenses", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "exp") { id, actor in
                let receipt = c.files.first { $0.field == "receipt" }?.bytes
                _ = try await linkage.requestExpense(projectID: id, amount: c.form["amount"], payee: c.form["payee"], purpose: c.form["purpose"], receipt: receipt, actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/expenses/:id/approve", .action(.fundManage)) { _, c in try await expenseStep(c) { id, actor in _ = try await linkage.approveExpense(id, actor: actor) } }
        r.post("/expenses/:id/reject", .action(.fundManage)) { _, c in try await expenseStep(c) { id, actor in try await linkage.rejectExpense(id, reason: c.form["reason"], actor: actor) } }
        r.get("/expenses/:id/receipt", .action(.linkageView)) { _, c in
            let bytes = try await linkage.receipt(expenseID: try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        r.get("/ledger/:id", .open) { req, c in
            let before = try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before")
            let l = try await linkage.publicLedger(communityID: try c.id("id"), before: before)
            return renderer.page("ledger", ["name": l.name, "lines": renderer.data(l.lines, c.lang), "empty": l.lines.isEmpty, "totals": l.totals,
                                            "community_id": try c.id("id"), "more": l.lines.count == 100 ? (l.lines.last?.id).map { $0 as Any } ?? false : false],
                                 context: c, title: I18n.table(c.lang)["tab_public_ledger"]! + " · " + l.name)
        }
    }

    func expenseStep(_ c: AppContext, _ action: (Int64, Actor) async throws -> Void) async throws -> Response {
        let id = try c.id("id")
        let actor = try c.requireActor()
        let project = try await linkage.store.read { db in
            try await db.raw("SELECT project_id FROM expenses WHERE id = \(bind: id)").first()?.decode(column: "project_id", as: Int64.self)
        }
        guard let project else { throw LinliError.notFound }
        return try await step(c, prefix: "expense", page: { try await projectPage(c, id: project, errors: $0) }) {
            try await action(id, actor)
            return redirect("/projects/\(project)#money")
        }
    }

    func fundsPage(_ req: Request, _ c: AppContext, errors: [String: String]?, reconciled: [LinkageService.StatementLine]? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("funds", p, c)
        data["errors"] = errors ?? [:]
        if let reconciled {
            data["reconciled"] = renderer.data(reconciled, c.lang)
            data["reconciled_booked"] = reconciled.filter { $0.outcome == "booked" }.count
            data["has_reconciled"] = true
        }
        if let id = p.id {
            let path = try await communityPath(id)
            let pools = try await linkage.pools(communityPath: path)
            data["pools"] = renderer.data(pools, c.lang)
            data["no_pools"] = pools.isEmpty
            data["can_pool"] = actor.may(.fundPool)
            data["can_manage"] = LinkageService.covers(actor, .fundManage, path)
            data["approvals_needed"] = try await linkage.store.read { db in
                try await db.raw("SELECT approvals_needed FROM fund_settings WHERE community_id = \(bind: id)").first()?.decode(column: "approvals_needed", as: Int.self)
            } ?? LinkageService.defaultApprovals
            if actor.may(.fundPool) {
                data["pool_places"] = try await areaChoices(above: path, actor, .fundPool)
            }
            let projects = try await linkage.projects(communityID: id, actor: actor)
            data["projects"] = renderer.data(projects, c.lang)
        }
        // Payments that arrived and could not be booked, for whoever keeps funds.
        if actor.may(.fundManage) {
            let held = try await linkage.heldPayments(actor: actor)
            let errs = errors ?? [:]
            data["held"] = held.map { h -> [String: Any] in
                ["id": h.id, "provider": I18n.label("provider_" + h.provider, c.lang), "reference": h.reference, "amount_text": h.amountText,
                 "message": h.message, "received_text": h.receivedText, "resolution": h.resolution ?? false, "open": h.resolution == nil,
                 "error": errs["held_\(h.id)"] ?? false]
            }
            data["has_held"] = !held.isEmpty
            data["held_open"] = held.filter { $0.resolution == nil }.count
        }
        return renderer.page("funds", data, context: c, title: I18n.table(c.lang)["tab_funds"]!)
    }
}
