import Foundation
import Hummingbird
import LinliCore
import LinliServer
import LinliStore

/// The offices' pages and their API twins: the public lists and their history, keeping the
/// lists, the work-item desk (a department's, a street's, a community's), one item, and budgets.
struct OfficesRoutes {
    let offices: OfficesService
    let renderer: Renderer

    func register(_ r: Routes) {
        // The lists: public, no sign-in.
        r.get("/lists/:id", .open) { _, c in try await listsPage(c, try c.id("id"), errors: [:]) }
        r.get("/office-lists/:id", .open) { _, c in try await listPage(c, try c.id("id"), errors: [:]) }
        r.post("/lists/:id/drafts", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "draft") {
                var i = OfficeDraftInput()
                i.kind = OfficeListKind(rawValue: c.form["kind"] ?? "")
                return redirect("/office-lists/\(try await offices.startDraft(placeID: id, i, actor: try c.requireActor()))")
            } page: { errors in try await listsPage(c, id, errors: errors) }
        }
        r.post("/lists/:id/clock", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "clock") {
                var i = OfficeSettingsInput()
                i.leadDays = c.form.int("lead_days").map { Int(clamping: $0) }; i.decideDays = c.form.int("decide_days").map { Int(clamping: $0) }
                try await offices.setClock(placeID: id, i, actor: try c.requireActor())
                return redirect("/lists/\(id)#clock")
            } page: { errors in try await listsPage(c, id, errors: errors) }
        }
        r.post("/office-lists/:id/items", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "item", alsoShowing: [.conflict]) {
                _ = try await offices.addListItem(listID: id, try Self.listItemInput(c.form), actor: try c.requireActor())
                return redirect("/office-lists/\(id)#items")
            } page: { errors in try await listPage(c, id, errors: errors) }
        }
        r.post("/office-list-items/:id/remove", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            let list = try await offices.listOf(itemID: id)
            try await offices.removeListItem(id, actor: try c.requireActor())
            return redirect("/office-lists/\(list)#items")
        }
        r.post("/office-lists/:id/publish", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "publish", alsoShowing: [.conflict]) {
                var i = OfficePublishInput()
                i.note = c.form["note"]
                try await offices.publish(listID: id, i, actor: try c.requireActor())
                let place = try await offices.list(id, actor: try c.requireActor()).placeID
                return redirect("/lists/\(place)")
            } page: { errors in try await listPage(c, id, errors: errors) }
        }

        // Work items.
        r.get("/work-items", .action(.workItemView)) { _, c in try await deskPage(c, errors: [:]) }
        r.post("/work-items", .action(.workItemSubmit)) { _, c in
            try await formOrErrors(prefix: "new") {
                redirect("/work-items/\(try await offices.submit(Self.itemInput(c.form), actor: try c.requireActor()))")
            } page: { errors in try await deskPage(c, errors: errors) }
        }
        r.get("/work-items/:id", .action(.workItemView)) { _, c in try await itemPage(c, try c.id("id"), errors: [:]) }
        let decisions: [(String, @Sendable (OfficesService, Int64, WorkItemDecisionInput, Actor) async throws -> Void)] = [
            ("admit", { try await $0.admit($1, $2, actor: $3) }), ("refuse", { try await $0.refuse($1, $2, actor: $3) }),
            ("revoke", { try await $0.revoke($1, $2, actor: $3) }),
        ]
        for (step, run) in decisions {
            r.post("/work-items/:id/\(step)", .action(.workItemReview)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: "decide", alsoShowing: [.conflict]) {
                    var i = WorkItemDecisionInput()
                    i.reason = c.form["reason"]
                    try await run(offices, id, i, try c.requireActor())
                    return redirect("/work-items/\(id)")
                } page: { errors in try await itemPage(c, id, errors: errors) }
            }
            r.post("/api/v1/work-items/:id/\(step)", .action(.workItemReview), optionalBody: WorkItemDecisionInput.self) { _, c, i in
                let id = try c.id("id")
                try await run(offices, id, i ?? WorkItemDecisionInput(), try c.requireActor())
                return try JSON.response(try await offices.item(id, actor: try c.requireActor()))
            }
        }
        // Evidence photos, only through a use case that checks who asks.
        r.get("/work-item-evidence/:id", .action(.workItemView)) { _, c in
            let bytes = try await offices.evidencePhoto(try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        let answers: [(String, @Sendable (OfficesService, Int64, WorkItemAnswerInput, Actor) async throws -> Void)] = [
            ("decline", { try await $0.decline($1, $2, actor: $3) }), ("report", { try await $0.report($1, $2, actor: $3) }),
        ]
        for (step, run) in answers {
            r.post("/work-items/:id/\(step)", .action(.workItemRespond)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: step, alsoShowing: [.conflict]) {
                    var i = WorkItemAnswerInput()
                    i.communityID = try c.form.optionalID("community_id", "社区编号应为数字")
                    i.reason = c.form["reason"]; i.evidence = c.form["evidence"]
                    if let n = c.form.nonEmpty("count") {
                        guard let v = Int(n.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid("count", "invalid", "数量应为整数") }
                        i.count = v
                    }
                    i.photos = c.files.filter { $0.field == "photos" && !$0.bytes.isEmpty }.map(\.bytes)
                    try await run(offices, id, i, try c.requireActor())
                    return redirect("/work-items/\(id)")
                } page: { errors in try await itemPage(c, id, errors: errors) }
            }
            // Photos travel as base64, so a report's body may be larger than others.
            r.post("/api/v1/work-items/:id/\(step)", .action(.workItemRespond), body: WorkItemAnswerInput.self, upTo: RequestLimits.apiBodyMax) { _, c, i in
                let id = try c.id("id")
                try await run(offices, id, i, try c.requireActor())
                return try JSON.response(try await offices.item(id, actor: try c.requireActor()))
            }
        }
        r.post("/departments/:id/funding", .action(.fundPool)) { _, c in
            try await formOrErrors(prefix: "fund") {
                var i = DepartmentFundingInput()
                i.amount = c.form["amount"]; i.memo = c.form["memo"]; i.clientKey = c.form["client_key"]
                try await offices.fund(departmentID: try c.id("id"), i, actor: try c.requireActor())
                return redirect("/work-items#budgets")
            } page: { errors in try await deskPage(c, errors: errors) }
        }

        registerRatings(r)
        registerAssessments(r)
        registerDashboard(r)
        registerCertificates(r)
        registerOutbox(r)

        // The same as JSON.
        r.get("/api/v1/lists/:id", .open) { _, c in try JSON.response(try await offices.lists(placeID: try c.id("id"), actor: c.actor)) }
        r.get("/api/v1/office-lists/:id", .open) { _, c in try JSON.response(try await offices.list(try c.id("id"), actor: c.actor)) }
        r.post("/api/v1/lists/:id/drafts", .action(.officeLists), body: OfficeDraftInput.self) { _, c, i in
            let id = try await offices.startDraft(placeID: try c.id("id"), i, actor: try c.requireActor())
            return try JSON.response(try await offices.list(id, actor: try c.requireActor()), status: .created)
        }
        r.put("/api/v1/lists/:id/clock", .action(.officeLists), body: OfficeSettingsInput.self) { _, c, i in
            try await offices.setClock(placeID: try c.id("id"), i, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/office-lists/:id/items", .action(.officeLists), body: OfficeListItemInput.self) { _, c, i in
            try JSON.response(["id": try await offices.addListItem(listID: try c.id("id"), i, actor: try c.requireActor())], status: .created)
        }
        r.delete("/api/v1/office-list-items/:id", .action(.officeLists)) { _, c in
            try await offices.removeListItem(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/office-lists/:id/publish", .action(.officeLists), optionalBody: OfficePublishInput.self) { _, c, i in
            let id = try c.id("id")
            try await offices.publish(listID: id, i ?? OfficePublishInput(), actor: try c.requireActor())
            return try JSON.response(try await offices.list(id, actor: try c.requireActor()))
        }
        r.get("/api/v1/work-items", .action(.workItemView)) { _, c in try JSON.response(try await offices.items(actor: try c.requireActor())) }
        r.post("/api/v1/work-items", .action(.workItemSubmit), body: WorkItemInput.self) { _, c, i in
            let id = try await offices.submit(i, actor: try c.requireActor())
            return try JSON.response(try await offices.item(id, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/work-items/:id", .action(.workItemView)) { _, c in try JSON.response(try await offices.item(try c.id("id"), actor: try c.requireActor())) }
        r.get("/api/v1/department-budgets", .action(.workItemView)) { _, c in try JSON.response(try await offices.budgets(actor: try c.requireActor())) }
        r.post("/api/v1/departments/:id/funding", .action(.fundPool), body: DepartmentFundingInput.self) { _, c, i in
            try await offices.fund(departmentID: try c.id("id"), i, actor: try c.requireActor())
            return Response(status: .noContent)
        }
    }

    func registerRatings(_ r: Routes) {
        r.get("/departments/:id", .action(.workItemView)) { req, c in
            try await departmentPage(c, try c.id("id"), period: req.uri.queryParameters.get("period"), errors: [:])
        }
        r.post("/departments/:id/ratings", .action(.departmentRate)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "rate", alsoShowing: [.conflict]) {
                var i = RatingInput()
                i.communityID = try c.form.optionalID("community_id", "社区编号应为数字")
                i.itemID = try c.form.optionalID("item_id", "事项编号应为数字")
                i.level = c.form.int("level").map { Int(clamping: $0) }; i.timeliness = c.form.int("timeliness").map { Int(clamping: $0) }
                i.helpfulness = c.form.int("helpfulness").map { Int(clamping: $0) }; i.comment = c.form["comment"]
                _ = try await offices.rate(departmentID: id, i, actor: try c.requireActor())
                return redirect("/departments/\(id)#ratings")
            } page: { errors in try await departmentPage(c, id, period: nil, errors: errors) }
        }
        let steps: [(String, Action, @Sendable (OfficesService, Int64, RatingAnswerInput, Actor) async throws -> Void)] = [
            ("answer", .workItemSubmit, { try await $0.answerRating($1, $2, actor: $3) }),
            ("appeal", .workItemSubmit, { try await $0.appealRating($1, $2, actor: $3) }),
            ("decide", .officeLists, { try await $0.decideAppeal($1, $2, actor: $3) }),
        ]
        for (step, action, run) in steps {
            r.post("/department-ratings/:id/\(step)", .action(action)) { _, c in
                let id = try c.id("id")
                let department = try await offices.ratingDepartment(id, actor: try c.requireActor())
                return try await formOrErrors(prefix: "rating\(id)", alsoShowing: [.conflict]) {
                    var i = RatingAnswerInput()
                    i.text = c.form["text"]
                    if let u = c.form["uphold"] { i.uphold = u == "1" }
                    try await run(offices, id, i, try c.requireActor())
                    return redirect("/departments/\(department)#rating-\(id)")
                } page: { errors in try await departmentPage(c, department, period: nil, errors: errors) }
            }
            r.post("/api/v1/department-ratings/:id/\(step)", .action(action), body: RatingAnswerInput.self) { _, c, i in
                try await run(offices, try c.id("id"), i, try c.requireActor())
                return Response(status: .noContent)
            }
        }
        r.get("/rankings/:id", .action(.workItemView)) { req, c in
            let v = try await offices.ranking(placeID: try c.id("id"), period: req.uri.queryParameters.get("period"), actor: try c.requireActor())
            let t = OfficesCapability.words.table(c.lang)
            return renderer.page("department_ranking", [
                "place_id": v.placeID, "place_name": v.placeName, "period": v.period, "rows": v.rows.map(Self.rankingDict), "empty": v.rows.isEmpty,
            ], context: c, title: "\(v.placeName) · \(t["ranking"]!)")
        }
        r.get("/api/v1/departments/:id", .action(.workItemView)) { req, c in
            try JSON.response(try await offices.department(try c.id("id"), period: req.uri.queryParameters.get("period"), actor: try c.requireActor()))
        }
        r.post("/api/v1/departments/:id/ratings", .action(.departmentRate), body: RatingInput.self) { _, c, i in
            try JSON.response(["id": try await offices.rate(departmentID: try c.id("id"), i, actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/rankings/:id", .action(.workItemView)) { req, c in
            try JSON.response(try await offices.ranking(placeID: try c.id("id"), period: req.uri.queryParameters.get("period"), actor: try c.requireActor()))
        }
    }

    func registerAssessments(_ r: Routes) {
        r.get("/assessments", .action(.workItemView)) { _, c in try await assessmentsPage(c, errors: [:]) }
        r.post("/assessments", .action(.officeLists)) { _, c in
            try await formOrErrors(prefix: "new") {
                var i = AssessmentInput()
                i.placeID = try c.form.optionalID("place_id", "地点编号应为数字"); i.name = c.form["name"]; i.from = c.form["from"]; i.to = c.form["to"]
                i.passMark = c.form["pass_mark"]
                return redirect("/assessments/\(try await offices.createAssessment(i, actor: try c.requireActor()))")
            } page: { errors in try await assessmentsPage(c, errors: errors) }
        }
        // Published results are public; before that the area's staff see it.
        r.get("/assessments/:id", .open) { _, c in try await assessmentPage(c, try c.id("id"), errors: [:]) }
        r.post("/assessments/:id/indicators", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "ind") {
                var i = IndicatorInput()
                i.code = c.form["code"]; i.name = c.form["name"]; i.metric = IndicatorMetric(rawValue: c.form["metric"] ?? ""); i.weight = c.form["weight"]
                i.target = c.form["target"]
                _ = try await offices.addIndicator(setID: id, i, actor: try c.requireActor())
                return redirect("/assessments/\(id)#indicators")
            } page: { errors in try await assessmentPage(c, id, errors: errors) }
        }
        r.post("/assessment-indicators/:id/remove", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            let set = try await offices.indicatorSet(id)
            try await offices.removeIndicator(id, actor: try c.requireActor())
            return redirect("/assessments/\(set)#indicators")
        }
        let steps: [(String, @Sendable (OfficesService, Int64, Actor) async throws -> Void)] = [
            ("open", { try await $0.openAssessment($1, actor: $2) }), ("refresh", { try await $0.refreshAssessment($1, actor: $2) }),
            ("publish", { try await $0.publishAssessment($1, actor: $2) }),
        ]
        for (step, run) in steps {
            r.post("/assessments/:id/\(step)", .action(.officeLists)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: "set", alsoShowing: [.conflict]) {
                    try await run(offices, id, try c.requireActor())
                    return redirect("/assessments/\(id)")
                } page: { errors in try await assessmentPage(c, id, errors: errors) }
            }
            r.post("/api/v1/assessments/:id/\(step)", .action(.officeLists)) { _, c in
                let id = try c.id("id")
                try await run(offices, id, try c.requireActor())
                return try JSON.response(try await offices.assessment(id, actor: c.actor))
            }
        }
        let scoring: [(String, Action, @Sendable (OfficesService, Int64, AssessmentScoreInput, Actor) async throws -> Void)] = [
            ("self", .workItemRespond, { try await $0.selfAssess($1, $2, actor: $3) }), ("review", .officeLists, { try await $0.review($1, $2, actor: $3) }),
        ]
        for (step, action, run) in scoring {
            r.post("/assessments/:id/\(step)", .action(action)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: step, alsoShowing: [.conflict]) {
                    var i = AssessmentScoreInput()
                    i.indicatorID = try c.form.optionalID("indicator_id", "指标编号应为数字"); i.communityID = try c.form.optionalID("community_id", "社区编号应为数字")
                    i.score = c.form["score"]; i.value = c.form["value"]; i.note = c.form["note"]
                    try await run(offices, id, i, try c.requireActor())
                    return redirect("/assessments/\(id)#table")
                } page: { errors in try await assessmentPage(c, id, errors: errors) }
            }
            r.post("/api/v1/assessments/:id/\(step)", .action(action), body: AssessmentScoreInput.self) { _, c, i in
                try await run(offices, try c.id("id"), i, try c.requireActor())
                return Response(status: .noContent)
            }
        }
        r.get("/api/v1/assessments", .action(.workItemView)) { _, c in try JSON.response(try await offices.assessments(actor: try c.requireActor())) }
        r.post("/api/v1/assessments", .action(.officeLists), body: AssessmentInput.self) { _, c, i in
            let id = try await offices.createAssessment(i, actor: try c.requireActor())
            return try JSON.response(try await offices.assessment(id, actor: c.actor), status: .created)
        }
        r.get("/api/v1/assessments/:id", .open) { _, c in try JSON.response(try await offices.assessment(try c.id("id"), actor: c.actor)) }
        r.post("/api/v1/assessments/:id/indicators", .action(.officeLists), body: IndicatorInput.self) { _, c, i in
            try JSON.response(["id": try await offices.addIndicator(setID: try c.id("id"), i, actor: try c.requireActor())], status: .created)
        }
        r.delete("/api/v1/assessment-indicators/:id", .action(.officeLists)) { _, c in
            try await offices.removeIndicator(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
    }

    func registerDashboard(_ r: Routes) {
        r.get("/dashboard/:id", .action(.dashboardView)) { req, c in
            let q = req.uri.queryParameters
            let v = try await offices.dashboard(placeID: try c.id("id"), from: q.get("from"), to: q.get("to"), actor: try c.requireActor())
            return try dashboardPage(c, v)
        }
        r.get("/dashboard/:id/export", .action(.dashboardView)) { req, c in
            let q = req.uri.queryParameters
            let v = try await offices.dashboard(placeID: try c.id("id"), from: q.get("from"), to: q.get("to"), actor: try c.requireActor())
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"dashboard-\(v.placeID).csv\"",
                                                   .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: OfficesService.csv(v))))
        }
        r.get("/api/v1/dashboard/:id", .action(.dashboardView)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await offices.dashboard(placeID: try c.id("id"), from: q.get("from"), to: q.get("to"), actor: try c.requireActor()))
        }
    }

    func dashboardPage(_ c: AppContext, _ v: DashboardView) throws -> Response {
        let t = OfficesCapability.words.table(c.lang)
        func row(_ r: DashboardRow) -> [String: Any] {
            let f = r.figures
            return ["id": r.placeID, "name": r.name, "link": r.link, "requests": f.requests, "escalated": f.escalated, "resolved": f.resolved, "on_time": r.onTime,
                    "satisfaction": r.satisfaction, "matters": f.matters, "votes": f.votes, "done": f.decisionsDone, "volunteers": f.volunteers,
                    "hours": r.volunteerHours, "raised": r.raised, "matched": r.matched, "visits": r.visitCoverage, "households": f.households,
                    "residents": f.residents, "compounds": f.compounds, "property": r.propertyCoverage, "owners": r.ownersCommitteeCoverage, "party": r.partyBranchCoverage,
                    "communities": f.communities]
        }
        let chart = ChartSpec(type: "bar", labels: v.rows.map(\.name), datasets: [
            .init(label: t["dash_requests"]!, data: v.rows.map { Double($0.figures.requests) }, axis: "count", kind: "bar"),
            .init(label: t["dash_on_time"]!, data: v.rows.map { r in IndicatorRules.percent(r.figures.onTime, r.figures.resolved).map { Double($0) / 100 } }, axis: "pct", kind: "line"),
        ])
        let chartJSON = String(decoding: try JSONEncoder().encode(chart), as: UTF8.self)
        let query = "from=\(v.from)&to=\(v.to)"
        return renderer.page("dashboard", [
            "id": v.placeID, "name": v.name, "from": v.from, "to": v.to, "query": query, "up": v.upID ?? false,
            "rows": v.rows.map(row), "total": row(v.total), "has_rows": !v.rows.isEmpty, "chart": chartJSON,
        ], context: c, title: "\(v.name) · \(t["dashboard"]!)")
    }

    func registerCertificates(_ r: Routes) {
        r.get("/certificates", .action(.workItemRespond)) { _, c in try await certificatesPage(c, errors: [:]) }
        r.post("/certificate-kinds", .action(.officeLists)) { _, c in
            try await formOrErrors(prefix: "kind") {
                var i = CertificateKindInput()
                i.placeID = try c.form.optionalID("place_id", "地点编号应为数字"); i.name = c.form["name"]; i.body = c.form["body"]; i.basis = c.form["basis"]
                i.refused = c.form["refused"] == "1"; i.goInstead = c.form["go_instead"]
                _ = try await offices.addCertificateKind(i, actor: try c.requireActor())
                return redirect("/certificates#kinds")
            } page: { errors in try await certificatesPage(c, errors: errors) }
        }
        r.post("/certificates", .action(.workItemRespond)) { _, c in
            try await formOrErrors(prefix: "issue") {
                var i = CertificateInput()
                i.kindID = try c.form.optionalID("kind_id", "证明种类编号应为数字"); i.residentID = try c.form.optionalID("resident_id", "居民编号应为数字")
                i.purpose = c.form["purpose"]
                return redirect("/certificates/\(try await offices.issueCertificate(i, actor: try c.requireActor()))")
            } page: { errors in try await certificatesPage(c, errors: errors) }
        }
        r.get("/certificates/:id", .action(.workItemRespond)) { _, c in try await certificatePage(c, try c.id("id"), errors: [:]) }
        r.post("/certificates/:id/revoke", .action(.workItemRespond)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "revoke", alsoShowing: [.conflict]) {
                var i = CertificateRevokeInput()
                i.reason = c.form["reason"]
                try await offices.revokeCertificate(id, i, actor: try c.requireActor())
                return redirect("/certificates/\(id)")
            } page: { errors in try await certificatePage(c, id, errors: errors) }
        }
        // Anyone holding a certificate checks it by its code, without signing in.
        r.get("/verify/:code", .open) { _, c in
            let code = c.parameters.get("code") ?? ""
            let t = OfficesCapability.words.table(c.lang)
            do {
                let v = try await offices.verifyCertificate(code: code)
                return renderer.page("certificate_check", ["found": true, "number": v.number, "kind": v.kind, "community": v.community, "holder": v.holder,
                                                           "issued_on": v.issuedOn, "valid": v.valid], context: c, title: t["certificate_check"]!)
            } catch let e as LinliError where e.status == .notFound {
                var resp = renderer.page("certificate_check", ["found": false], context: c, title: t["certificate_check"]!)
                resp.status = .notFound
                return resp
            }
        }
        r.get("/api/v1/certificates", .action(.workItemRespond)) { _, c in
            let actor = try c.requireActor()
            struct Answer: Encodable { var kinds: [CertificateKindView]; var certificates: [CertificateView] }
            return try JSON.response(Answer(kinds: try await offices.certificateKinds(actor: actor), certificates: try await offices.certificates(actor: actor)))
        }
        r.post("/api/v1/certificate-kinds", .action(.officeLists), body: CertificateKindInput.self) { _, c, i in
            try JSON.response(["id": try await offices.addCertificateKind(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/certificates", .action(.workItemRespond), body: CertificateInput.self) { _, c, i in
            let id = try await offices.issueCertificate(i, actor: try c.requireActor())
            return try JSON.response(try await offices.certificate(id, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/certificates/:id", .action(.workItemRespond)) { _, c in try JSON.response(try await offices.certificate(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/certificates/:id/revoke", .action(.workItemRespond), body: CertificateRevokeInput.self) { _, c, i in
            try await offices.revokeCertificate(try c.id("id"), i, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/verify/:code", .open) { _, c in try JSON.response(try await offices.verifyCertificate(code: c.parameters.get("code") ?? "")) }
    }

    func registerOutbox(_ r: Routes) {
        r.get("/outbox", .action(.officeLists)) { _, c in try await outboxPage(c, errors: [:]) }
        r.post("/webhook-endpoints", .action(.officeLists)) { _, c in
            try await formOrErrors(prefix: "hook") {
                var i = WebhookEndpointInput()
                i.placeID = try c.form.optionalID("place_id", "地点编号应为数字"); i.name = c.form["name"]; i.url = c.form["url"]; i.secret = c.form["secret"]
                _ = try await offices.addEndpoint(i, actor: try c.requireActor())
                return redirect("/outbox")
            } page: { errors in try await outboxPage(c, errors: errors) }
        }
        r.post("/webhook-endpoints/:id/switch", .action(.officeLists)) { _, c in
            try await offices.setEndpointActive(try c.id("id"), active: c.form["active"] == "1", actor: try c.requireActor())
            return redirect("/outbox")
        }
        r.post("/webhook-endpoints/:id", .action(.officeLists)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "edit\(id)") {
                var change = OutboxView.Switch()
                change.name = c.form["name"]; change.url = c.form["url"]; change.secret = c.form["secret"]
                try await offices.updateEndpoint(id, change, actor: try c.requireActor())
                return redirect("/outbox")
            } page: { errors in try await outboxPage(c, errors: errors) }
        }
        r.patch("/api/v1/webhook-endpoints/:id", .action(.officeLists), body: OutboxView.Switch.self) { _, c, i in
            try await offices.updateEndpoint(try c.id("id"), i, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/outbox/deliver", .action(.officeLists)) { _, c in
            _ = try c.requireActor()
            _ = try await offices.deliverOutbox()
            return redirect("/outbox#items")
        }
        r.get("/api/v1/outbox", .action(.officeLists)) { _, c in try JSON.response(try await offices.outbox(actor: try c.requireActor())) }
        r.post("/api/v1/webhook-endpoints", .action(.officeLists), body: WebhookEndpointInput.self) { _, c, i in
            try JSON.response(["id": try await offices.addEndpoint(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/outbox/deliver", .action(.officeLists)) { _, c in
            _ = try c.requireActor()
            let (sent, failed) = try await offices.deliverOutbox()
            return try JSON.response(["sent": sent, "failed": failed])
        }
    }

    func outboxPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let v = try await offices.outbox(actor: actor)
        let places = try await offices.listPlaces(actor: actor)
        let t = OfficesCapability.words.table(c.lang)
        var resp = renderer.page("outbox", [
            "endpoints": v.endpoints.map { e -> [String: Any] in
                // The form that was refused opens again with what was typed and its messages.
                let mine = errors.filter { $0.key.hasPrefix("edit\(e.id)_") }
                return ["id": e.id, "name": mine.isEmpty ? e.name : c.form["name"] ?? e.name, "place": e.place, "url": mine.isEmpty ? e.url : c.form["url"] ?? e.url,
                        "active": e.active, "open": !mine.isEmpty, "error_name": mine["edit\(e.id)_name"] ?? "", "error_url": mine["edit\(e.id)_url"] ?? "",
                        "error_secret": mine["edit\(e.id)_secret"] ?? "", "shown_name": e.name, "shown_url": e.url]
            }, "no_endpoints": v.endpoints.isEmpty,
            "items": v.items.map { i -> [String: Any] in
                ["id": i.id, "endpoint": i.endpoint, "kind": OfficesCapability.words.label("event_" + i.kind, c.lang), "request_id": i.requestID, "created_at": i.createdAt, "attempts": i.attempts,
                 "delivered": i.delivered, "status": i.lastStatus.map(String.init) ?? "—", "error": i.lastError, "has_error": !i.lastError.isEmpty,
                 "stuck": i.stuck, "next_at": i.nextAt ?? ""]
            },
            "no_items": v.items.isEmpty, "stuck": v.stuck, "has_stuck": v.stuck > 0, "places": places.map { ["id": $0.id, "name": $0.name] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["outbox"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func certificatesPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let kinds = try await offices.certificateKinds(actor: actor)
        let issued = try await offices.certificates(actor: actor)
        let places = try await offices.listPlaces(actor: actor)
        let t = OfficesCapability.words.table(c.lang)
        var resp = renderer.page("certificates", [
            "kinds": kinds.map { ["id": $0.id, "name": $0.name, "street": $0.street, "basis": $0.basis, "has_basis": !$0.basis.isEmpty, "refused": $0.refused,
                                  "go_instead": $0.goInstead] },
            "issuable": kinds.filter { !$0.refused }.map { ["id": $0.id, "name": $0.name] } + kinds.filter(\.refused).map { ["id": $0.id, "name": $0.name + "（" + t["certificate_refused_tag"]! + "）"] },
            "may_issue": !OfficesService.answering(actor).isEmpty && !kinds.isEmpty,
            "issued": issued.map { ["id": $0.id, "number": $0.number, "kind": $0.kind, "holder": $0.holder, "issued_at": $0.issuedAt, "revoked": $0.revoked] },
            "none_issued": issued.isEmpty, "may_keep": !places.isEmpty, "places": places.map { ["id": $0.id, "name": $0.name] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["certificates"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func certificatePage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let v = try await offices.certificate(id, actor: try c.requireActor())
        var resp = renderer.page("certificate", [
            "id": v.id, "kind": v.kind, "community": v.community, "number": v.number, "code": v.code, "text": v.text ?? "", "purpose": v.purpose,
            "issued_by": v.issuedBy, "issued_at": v.issuedAt, "revoked": v.revoked, "revoke_reason": v.revokeReason,
            "errors": errors,
        ], context: c, title: "\(v.kind) \(v.number)")
        if !errors.isEmpty { resp.status = errors.keys.contains { $0.hasSuffix("_state") } ? .conflict : .unprocessableContent }
        return resp
    }

    func assessmentsPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await offices.assessments(actor: actor)
        let places = try await offices.listPlaces(actor: actor)
        let t = OfficesCapability.words.table(c.lang)
        var resp = renderer.page("assessments", [
            "sets": list.map { ["id": $0.id, "place": $0.place, "name": $0.name, "from": $0.from, "to": $0.to, "status_label": OfficesCapability.words.label("assessment_" + $0.status.rawValue, c.lang)] },
            "none": list.isEmpty, "may_create": !places.isEmpty, "places": places.map { ["id": $0.id, "name": $0.name] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["assessments"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func assessmentPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let v = try await offices.assessment(id, actor: c.actor)
        let lang = c.lang
        let mine = v.rows.filter(\.mine)
        var resp = renderer.page("assessment", [
            "id": v.id, "name": v.name, "place_name": v.placeName, "from": v.from, "to": v.to, "pass_mark": v.passMark, "signed_in": c.actor != nil,
            "status_label": OfficesCapability.words.label("assessment_" + v.status.rawValue, lang), "weights_total": v.weightsTotal, "draft": v.status == .draft,
            "open": v.status == .open, "published": v.status == .published, "may_edit": v.mayEdit, "may_review": v.mayReview,
            "indicators": v.indicators.map { i -> [String: Any] in
                ["id": i.id, "code": i.code, "name": i.name, "metric": OfficesCapability.words.label("metric_" + i.metric.rawValue, lang), "weight": i.weight, "target": i.target,
                 "manual": i.metric == .manual, "may_edit": v.mayEdit]
            },
            "has_indicators": !v.indicators.isEmpty,
            "rows": v.rows.map { r -> [String: Any] in
                ["rank": r.rank, "community": r.community, "total": r.total, "passed": r.passed, "cells": r.cells.map { cell -> [String: Any] in
                    ["value": cell.value ?? "", "evidence": cell.evidence.isEmpty ? false : cell.evidence, "score": cell.score ?? "—",
                     "self": cell.selfScore ?? false, "review": cell.reviewScore ?? false]
                }]
            },
            "no_rows": v.rows.isEmpty,
            "metrics": IndicatorMetric.allCases.map { ["code": $0.rawValue, "label": OfficesCapability.words.label("metric_" + $0.rawValue, lang)] },
            "may_self": v.status == .open && !mine.isEmpty, "self_for": mine.map { ["id": $0.communityID, "name": $0.community] }, "many_mine": mine.count > 1,
            "communities": v.rows.map { ["id": $0.communityID, "name": $0.community] }, "all_indicators": v.indicators.map { ["id": $0.id, "label": "\($0.code) \($0.name)"] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: v.name)
        if !errors.isEmpty { resp.status = errors.keys.contains { $0.hasSuffix("_state") } ? .conflict : .unprocessableContent }
        return resp
    }

    static func rankingDict(_ f: RankingRow) -> [String: Any] {
        ["rank": f.rank, "id": f.departmentID, "department": f.department, "place": f.place, "ratings": f.ratings, "average": f.average ?? "—",
         "bad": f.bad, "bad_percent": f.badPercent.map { "\($0)%" } ?? "—", "fixed_on_time": f.fixedOnTime, "open_fixes": f.openFixes,
         "shares_due": f.sharesDue, "on_time": f.onTimePercent.map { "\($0)%" } ?? "—",
         "requests_routed": f.requestsRouted, "requests_resolved": f.requestsResolved,
         "requests_on_time": f.requestsOnTimePercent.map { "\($0)%" } ?? "—", "requests_rating": f.requestsRating ?? "—"]
    }

    func departmentPage(_ c: AppContext, _ id: Int64, period: String?, errors: [String: String]) async throws -> Response {
        let v = try await offices.department(id, period: period, actor: try c.requireActor())
        let lang = c.lang
        let t = OfficesCapability.words.table(lang)
        var resp = renderer.page("department", [
            "id": v.id, "name": v.name, "place": v.place, "period": v.period, "figures": Self.rankingDict(v.figures),
            "ratings": v.ratings.map { r -> [String: Any] in
                ["id": r.id, "community": r.community, "item": r.itemTitle ?? false, "item_id": r.itemID ?? 0, "period": r.period,
                 "level": OfficesCapability.words.label("rating_level_\(r.level)", lang), "bad": RatingRules.isBad(r.level), "timeliness": r.timeliness, "helpfulness": r.helpfulness,
                 "comment": r.comment, "has_comment": !r.comment.isEmpty, "status_label": OfficesCapability.words.label("rating_" + r.status.rawValue, lang),
                 "fix_due": r.fixDue ?? false, "fix_late": r.fixLate, "answer": r.answer, "has_answer": !r.answer.isEmpty, "appeal": r.appeal,
                 "has_appeal": !r.appeal.isEmpty, "decision": r.decision, "has_decision": !r.decision.isEmpty, "may_answer": r.mayAnswer, "may_decide": r.mayDecide,
                 "error": errors["rating\(r.id)_text"] ?? errors["rating\(r.id)_state"] ?? errors["rating\(r.id)_uphold"] ?? false]
            },
            "no_ratings": v.ratings.isEmpty,
            "rate_for": v.rateFor.map { ["id": $0.communityID, "name": $0.community] }, "may_rate": !v.rateFor.isEmpty, "many_communities": v.rateFor.count > 1,
            "rate_items": v.rateFor.flatMap { c in c.items.map { ["id": $0.id, "title": v.rateFor.count > 1 ? "\(c.community)：\($0.title)" : $0.title] } },
            "levels": (1...5).reversed().map { ["n": $0, "label": OfficesCapability.words.label("rating_level_\($0)", lang)] },
            "scores": (1...5).reversed().map { ["n": $0] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: "\(v.name) · \(t["department_page"]!)")
        if !errors.isEmpty { resp.status = errors.keys.contains { $0.hasSuffix("_state") } ? .conflict : .unprocessableContent }
        return resp
    }

    static func listItemInput(_ f: FormData) throws -> OfficeListItemInput {
        var i = OfficeListItemInput()
        i.code = f["code"]; i.title = f["title"]; i.basis = f["basis"]; i.feePerUnit = f["fee_per_unit"]; i.unit = f["unit"]
        i.departmentID = f.int("department_id")
        if let raw = f.nonEmpty("work_kind") {
            guard let k = WorkItemKind(rawValue: raw) else { throw LinliError.invalid("work_kind", "invalid", "事项类型无效") }
            i.workKind = k
        }
        return i
    }

    static func itemInput(_ f: FormData) throws -> WorkItemInput {
        var i = WorkItemInput()
        i.departmentID = try f.optionalID("department_id", "部门编号应为数字")
        i.streetID = try f.optionalID("street_id", "街道编号应为数字")
        i.communityIDs = f.all("community_ids").compactMap { Int64($0) }
        i.kind = WorkItemKind(rawValue: f["kind"] ?? "")
        i.title = f["title"]; i.detail = f["detail"]; i.fee = f["fee"]; i.startsOn = f["starts_on"]; i.dueOn = f["due_on"]; i.clientKey = f["client_key"]
        // One choice of entry per street on the form (`list_item_id_<street>`): each street's items
        // go under its own.
        func entry(_ raw: String) throws -> Int64 {
            guard let id = Int64(raw.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid("list_item_id", "invalid", "清单事项编号应为数字") }
            return id
        }
        // (A page from before several streets could be chosen sends `list_item_id` once per street.)
        if let raw = f.all("list_item_id").first(where: { !$0.isEmpty }) { i.listItemID = try entry(raw) }
        let prefix = "list_item_id_"
        i.streetEntries = try f.values.keys.filter { $0.hasPrefix(prefix) }.sorted().compactMap { k in
            guard let raw = f.nonEmpty(k) else { return nil }
            guard let street = Int64(k.dropFirst(prefix.count)) else { throw LinliError.invalid("list_item_id", "invalid", "清单事项编号应为数字") }
            return WorkItemInput.StreetEntry(streetID: street, listItemID: try entry(raw))
        }
        if let u = f.nonEmpty("units") {
            guard let n = Int(u.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid("units", "invalid", "工作量应为整数") }
            i.units = n
        }
        return i
    }

    // MARK: Pages

    static func kindLabel(_ k: OfficeListKind, _ lang: Lang) -> String { OfficesCapability.words.label("list_" + k.rawValue, lang) }

    func listDict(_ l: OfficeListView, _ lang: Lang, editable: Bool = false) -> [String: Any] {
        ["id": l.id, "place_id": l.placeID, "place_name": l.placeName, "kind": l.kind.rawValue, "kind_label": Self.kindLabel(l.kind, lang), "version": l.version,
         "status_label": OfficesCapability.words.label("list_status_" + l.status, lang), "draft": l.status == "draft", "note": l.note, "has_note": !l.note.isEmpty,
         "published_at": l.publishedAt ?? "", "has_published": l.publishedAt != nil, "count": l.items.count, "empty": l.items.isEmpty,
         "items": l.items.map { i -> [String: Any] in
             ["id": i.id, "code": i.code, "title": i.title, "basis": i.basis, "has_basis": !i.basis.isEmpty, "department": i.department ?? false,
              "fee": i.feeText.map { $0 + (i.unit.isEmpty ? "" : " / " + i.unit) } ?? false, "editable": editable,
              "work_kind": i.workKind.map { OfficesCapability.words.label("workitem_kind_" + $0.rawValue, lang) } ?? false]
         }]
    }

    func listsPage(_ c: AppContext, _ placeID: Int64, errors: [String: String]) async throws -> Response {
        let v = try await offices.lists(placeID: placeID, actor: c.actor)
        let t = OfficesCapability.words.table(c.lang)
        var resp = renderer.page("office_lists", [
            "place_id": v.placeID, "place_name": v.placeName, "current": v.current.map { listDict($0, c.lang) }, "no_current": v.current.isEmpty,
            "history": v.history.map { listDict($0, c.lang) }, "has_history": !v.history.isEmpty, "drafts": v.drafts.map { listDict($0, c.lang) },
            "may_edit": v.mayEdit, "lead_days": v.leadDays, "decide_days": v.decideDays,
            "kinds": OfficeListKind.allCases.map { ["code": $0.rawValue, "label": Self.kindLabel($0, c.lang)] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: "\(v.placeName) · \(t["office_lists"]!)")
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func listPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let l = try await offices.list(id, actor: c.actor)
        let editable = l.status == "draft"
        let departments = editable ? try await offices.budgets(actor: try c.requireActor()) : []
        var resp = renderer.page("office_list", [
            "list": listDict(l, c.lang, editable: editable), "editable": editable, "departments": departments.map { ["id": $0.id, "name": $0.name] },
            "work_kinds": WorkItemKind.allCases.map { ["value": $0.rawValue, "label": OfficesCapability.words.label("workitem_kind_" + $0.rawValue, c.lang), "selected": c.form["work_kind"] == $0.rawValue] },
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: "\(l.placeName) · \(Self.kindLabel(l.kind, c.lang)) v\(l.version)")
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func summaryDict(_ s: WorkItemSummary, _ lang: Lang) -> [String: Any] {
        ["id": s.id, "title": s.title, "department": s.department, "street": s.street, "kind_label": OfficesCapability.words.label("workitem_kind_" + s.kind.rawValue, lang),
         "status": s.status.rawValue, "status_label": OfficesCapability.words.label("workitem_" + s.status.rawValue, lang), "starts_on": s.startsOn, "due_on": s.dueOn,
         "decide_by": s.decideBy, "overdue": s.decisionOverdue, "communities": s.communities, "done": s.done, "refused": s.refused, "late": s.late,
         "has_late": s.late > 0, "submitted": s.status == .submitted, "in_progress": s.status == .admitted || s.status == .revoked,
         "my_share": s.myShare.map { OfficesCapability.words.label("share_" + $0.rawValue, lang) } ?? false]
    }

    func deskPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let items = try await offices.items(actor: actor)
        let budgets = try await offices.budgets(actor: actor)
        let form = try await offices.submitChoices(actor: actor)
        let t = OfficesCapability.words.table(c.lang)
        let toDecide = items.filter { $0.status == .submitted && actor.may(.workItemReview) }
        var resp = renderer.page("work_items", [
            "to_decide": toDecide.map { summaryDict($0, c.lang) }, "has_to_decide": !toDecide.isEmpty,
            "items": items.filter { i in !toDecide.contains { $0.id == i.id } }.map { summaryDict($0, c.lang) }, "no_items": items.isEmpty,
            "budgets": budgets.map { ["id": $0.id, "name": $0.name, "place": $0.place, "balance": $0.balanceText, "may_fund": $0.mayFund] },
            "has_budgets": !budgets.isEmpty, "client_key": c.form["client_key"] ?? offices.env.token(bytes: 9),
            "may_submit": !form.departments.isEmpty,
            "departments": form.departments.map { ["id": $0.id, "name": $0.name] }, "one_department": form.departments.count == 1,
            // After a refusal the communities and entries chosen stay chosen.
            "streets": form.streets.map { s in
                ["id": s.id, "name": s.name,
                 "communities": s.communities.map { ["id": $0.id, "name": $0.name, "checked": c.form.all("community_ids").contains(String($0.id))] },
                 "entries": s.entries.map { ["id": $0.id, "label": "\(Self.kindLabel($0.kind, c.lang)) · \($0.code) \($0.title)" + ($0.feeText.map { "（\($0)）" } ?? ""),
                                             "selected": c.form["list_item_id_\(s.id)"] == String($0.id)] }]
            },
            "several_streets": form.streets.count > 1,
            "kinds": WorkItemKind.allCases.map { ["code": $0.rawValue, "label": OfficesCapability.words.label("workitem_kind_" + $0.rawValue, c.lang), "selected": c.form["kind"] == $0.rawValue] },
            "list_places": form.listPlaces.map { ["id": $0.id, "name": $0.name] }, "has_list_places": !form.listPlaces.isEmpty,
            "earliest": form.earliest, "earliest_text": t["work_item_earliest"]!.replacingOccurrences(of: "%@", with: form.earliest),
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: t["work_items"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }

    func itemPage(_ c: AppContext, _ id: Int64, errors: [String: String]) async throws -> Response {
        let w = try await offices.item(id, actor: try c.requireActor())
        let lang = c.lang
        let mine = w.shares.filter { $0.mine && $0.status == .sent }
        var resp = renderer.page("work_item", [
            "item": [
                "id": w.id, "title": w.title, "detail": w.detail, "has_detail": !w.detail.isEmpty, "department": w.department, "department_id": w.departmentID,
                "street": w.street,
                "kind_label": OfficesCapability.words.label("workitem_kind_" + w.kind.rawValue, lang), "status_label": OfficesCapability.words.label("workitem_" + w.status.rawValue, lang),
                "status": w.status.rawValue, "entry": w.listEntry ?? false, "list_id": w.listID ?? 0,
                "list_label": w.listKind.map { Self.kindLabel($0, lang) + " v\(w.listVersion ?? 0)" } ?? "",
                "unlisted": w.listItemID == nil, "units": w.units, "fee": w.feeText, "total": w.totalText, "has_fee": w.fee > 0,
                "starts_on": w.startsOn, "due_on": w.dueOn, "decide_by": w.decideBy, "overdue": w.decisionOverdue, "reason": w.reason, "has_reason": !w.reason.isEmpty,
                "together": w.together.map { ["id": $0.id, "street": $0.street, "status_label": OfficesCapability.words.label("workitem_" + $0.status.rawValue, lang)] },
                "has_together": !w.together.isEmpty,
            ] as [String: Any],
            "shares": w.shares.map { s -> [String: Any] in
                ["community": s.community, "status_label": OfficesCapability.words.label("share_" + s.status.rawValue, lang), "late": s.late, "reason": s.reason,
                 "has_reason": !s.reason.isEmpty, "count": s.count.map { $0 as Any } ?? false, "evidence": s.evidence, "has_evidence": !s.evidence.isEmpty,
                 "photos": s.photos, "has_photos": !s.photos.isEmpty]
            },
            "events": w.events.map { e -> [String: Any] in
                ["label": OfficesCapability.words.label("workitem_event_" + e.kind, lang), "community": e.community ?? false, "note": e.note, "has_note": !e.note.isEmpty, "by": e.by, "at": e.at]
            },
            "may_decide": w.mayDecide, "may_revoke": w.mayRevoke, "may_answer": w.mayAnswer, "may_decline": w.mayAnswer && w.communitiesMayRefuse,
            "answer_for": mine.map { ["id": $0.communityID, "name": $0.community] }, "many_mine": mine.count > 1,
            "errors": errors, "values": c.form.values.mapValues { $0.first ?? "" },
        ], context: c, title: w.title)
        if !errors.isEmpty { resp.status = errors.keys.contains { $0.hasSuffix("_state") } ? .conflict : .unprocessableContent }
        return resp
    }
}
