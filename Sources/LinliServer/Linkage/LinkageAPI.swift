import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The linkage JSON API: the same use cases as the pages, route for route.
extension LinkageRoutes {
    // MARK: JSON API

    func registerAPI(_ r: Routes) {
        r.post("/api/v1/volunteer", .action(.volunteerJoin), body: LinkageService.VolunteerInput.self) { req, c, input in
            _ = try await linkage.registerVolunteer(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.ownVolunteer(actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/volunteer/shifts", .action(.volunteerJoin)) { _, c in try JSON.response(try await linkage.myShifts(actor: try c.requireActor())) }
        r.post("/api/v1/tasks", .action(.volunteerManage), body: LinkageService.TaskInput.self) { req, c, input in
            let id = try await linkage.postTask(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.task(id, month: nil, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/tasks/:id", .action(.linkageView)) { req, c in
            try JSON.response(try await linkage.task(try c.id("id"), month: req.uri.queryParameters.get("month"), actor: try c.requireActor()))
        }
        struct PostTasksFillBody: Decodable { var month: String? }
        r.post("/api/v1/tasks/:id/fill", .action(.volunteerManage), body: PostTasksFillBody.self) { req, c, b in
            return try JSON.response(try await linkage.fillMonth(communityID: nil, taskID: try c.id("id"), month: b.month, actor: try c.requireActor()))
        }
        r.post("/api/v1/tasks/:id/call", .action(.volunteerManage)) { _, c in
            try JSON.response(["told": try await linkage.callForVolunteers(taskID: try c.id("id"), actor: try c.requireActor())])
        }
        r.get("/api/v1/shifts/:id/candidates", .action(.volunteerManage)) { _, c in try JSON.response(try await linkage.rank(shiftID: try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/shifts/:id/sign-up", .action(.volunteerJoin)) { _, c in
            try JSON.response(["assignment_id": try await linkage.signUp(shiftID: try c.id("id"), actor: try c.requireActor())], status: .created)
        }
        struct PostAssignmentsAnswerBody: Decodable { var accept: Bool? }
        r.post("/api/v1/assignments/:id/answer", .action(.volunteerJoin), body: PostAssignmentsAnswerBody.self) { req, c, b in
            guard let accept = b.accept else { throw LinliError.invalid("accept", "required", "请说明接受或谢绝") }
            try await linkage.answer(assignmentID: try c.id("id"), accept: accept, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // The volunteer's own check-in (the served household's code) and check-out, and staff
        // recording them (with the time, afterwards) — split as on the console.
        struct PostAssignmentsCheckInBody: Decodable { var code: String? }
        r.post("/api/v1/assignments/:id/check-in", .action(.volunteerJoin), optionalBody: PostAssignmentsCheckInBody.self) { req, c, b in
            try await linkage.checkIn(try c.id("id"), code: b?.code, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/check-out", .action(.volunteerJoin)) { _, c in
            try await linkage.checkOut(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct StaffTime: Decodable { var at: String? }
        r.post("/api/v1/assignments/:id/staff-check-in", .action(.volunteerManage), optionalBody: StaffTime.self) { req, c, b in
            try await linkage.checkIn(try c.id("id"), code: nil, at: b?.at, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/staff-check-out", .action(.volunteerManage), optionalBody: StaffTime.self) { req, c, b in
            try await linkage.checkOut(try c.id("id"), at: b?.at, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/confirm", .action(.volunteerManage)) { _, c in
            try await linkage.confirmAssignment(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // JSON twins of the console's remaining steps: the same use case, fields named as on the form.
        struct PostCommunitiesFillBody: Decodable { var month: String? }
        r.post("/api/v1/communities/:id/fill", .action(.volunteerManage), optionalBody: PostCommunitiesFillBody.self) { req, c, b in
            return try JSON.response(try await linkage.fillMonth(communityID: try c.id("id"), taskID: nil, month: b?.month, actor: try c.requireActor()))
        }
        struct PostShiftsProposeBody: Decodable { var volunteerID: Int64?; enum CodingKeys: String, CodingKey { case volunteerID = "volunteer_id" } }
        r.post("/api/v1/shifts/:id/propose", .action(.volunteerManage), body: PostShiftsProposeBody.self) { req, c, b in
            return try JSON.response(["assignment_id": try await linkage.propose(shiftID: try c.id("id"), volunteerID: b.volunteerID, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/services", .action(.projectManage), body: LinkageService.ServiceInput.self) { req, c, i in
            return try JSON.response(["id": try await linkage.addService(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/social-workers", .action(.projectManage), body: LinkageService.WorkerInput.self) { req, c, i in
            return try JSON.response(["id": try await linkage.addWorker(i, actor: try c.requireActor())], status: .created)
        }
        struct PostSocialWorkersTrainingsBody: Decodable { var programme: String?; var title: String?; var hours: Int?; var day: String? }
        r.post("/api/v1/social-workers/:id/trainings", .action(.projectManage), body: PostSocialWorkersTrainingsBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addTraining(workerID: try c.id("id"), programme: b.programme, title: b.title, hours: b.hours, day: b.day, actor: try c.requireActor())], status: .created)
        }
        struct PostOrganisationsMembersBody: Decodable { var name: String?; var role: String?; var joined: String? }
        r.post("/api/v1/organisations/:id/members", .action(.projectManage), body: PostOrganisationsMembersBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addOrganisationMember(try c.id("id"), name: b.name, role: b.role, joined: b.joined, actor: try c.requireActor())], status: .created)
        }
        struct PostProjectsMilestonesBody: Decodable { var title: String?; var dueDay: String?; enum CodingKeys: String, CodingKey { case title, dueDay = "due_day" } }
        r.post("/api/v1/projects/:id/milestones", .action(.projectManage), body: PostProjectsMilestonesBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addProjectMilestone(try c.id("id"), title: b.title, dueDay: b.dueDay, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/project-milestones/:id/done", .action(.projectManage)) { _, c in
            try JSON.response(["project_id": try await linkage.completeProjectMilestone(try c.id("id"), actor: try c.requireActor())])
        }
        struct PostProjectsExpensesBody: Decodable {
            var amount: String?; var payee: String?; var purpose: String?; var receiptBase64: String?
            enum CodingKeys: String, CodingKey { case amount, payee, purpose, receiptBase64 = "receipt_base64" }
        }
        r.post("/api/v1/projects/:id/expenses", .action(.fundManage), body: PostProjectsExpensesBody.self, upTo: RequestLimits.apiBodyMax) { req, c, b in
            // The receipt's photo travels as base64, as a request's photos do.
            let receipt = try Input.base64(b.receiptBase64, field: "receipt_base64", message: "票据照片不是 base64 编码")
            let id = try await linkage.requestExpense(projectID: try c.id("id"), amount: b.amount, payee: b.payee, purpose: b.purpose, receipt: receipt, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PostExpensesRejectBody: Decodable { var reason: String? }
        r.post("/api/v1/expenses/:id/reject", .action(.fundManage), body: PostExpensesRejectBody.self) { req, c, b in
            try await linkage.rejectExpense(try c.id("id"), reason: b.reason, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PutCommunitiesFundSettingsBody: Decodable { var approvalsNeeded: Int?; enum CodingKeys: String, CodingKey { case approvalsNeeded = "approvals_needed" } }
        r.put("/api/v1/communities/:id/fund-settings", .action(.fundManage), body: PutCommunitiesFundSettingsBody.self) { req, c, b in
            try await linkage.setApprovals(communityID: try c.id("id"), count: b.approvalsNeeded, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/ventures/:id/close", .action(.fundPool)) { _, c in
            try await linkage.closeRound(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostVentureApplicationsEvaluateBody: Decodable { var evaluation: String?; var rating: Int? }
        r.post("/api/v1/venture-applications/:id/evaluate", .action(.fundPool), body: PostVentureApplicationsEvaluateBody.self) { req, c, b in
            try await linkage.evaluateGrant(applicationID: try c.id("id"), evaluation: b.evaluation, rating: b.rating, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostAssignmentsHoursBody: Decodable { var minutes: Int? }
        r.post("/api/v1/assignments/:id/hours", .action(.volunteerManage), optionalBody: PostAssignmentsHoursBody.self) { req, c, b in
            return try JSON.response(["points": try await linkage.confirmHours(try c.id("id"), minutes: b?.minutes, actor: try c.requireActor())])
        }
        r.get("/api/v1/needs", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.NeedView]()) }
            return try JSON.response(try await linkage.needs(communityID: id, uncoveredOnly: req.uri.queryParameters.get("uncovered") == "1", actor: try c.requireActor()))
        }
        r.post("/api/v1/needs", .action(.needPost), body: LinkageService.NeedInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.postNeed(input, actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/gap", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.GapRow]()) }
            return try JSON.response(try await linkage.gap(communityID: id, actor: try c.requireActor()))
        }
        r.post("/api/v1/projects", .action(.projectManage), body: LinkageService.ProjectInput.self) { req, c, input in
            let id = try await linkage.createProject(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.project(id, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/projects", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.ProjectSummary]()) }
            return try JSON.response(try await linkage.projects(communityID: id, actor: try c.requireActor()))
        }
        r.get("/api/v1/tasks", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.TaskSummary]()) }
            return try JSON.response(try await linkage.tasks(communityID: id, actor: try c.requireActor()))
        }
        r.get("/api/v1/projects/:id", .action(.linkageView)) { _, c in try JSON.response(try await linkage.project(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/projects/:id/donations", .action(.linkageView), body: LinkageService.DonationInput.self) { req, c, input in
            let receipt = try await linkage.donate(projectID: try c.id("id"), input, actor: try c.requireActor())
            return try JSON.response(receipt, status: receipt.repeated ? .ok : .created)
        }
        // JSON twins of the console's remaining actions, each calling the same use case.
        struct PostTeamsBody: Decodable { var community_id: Int64?; var name: String?; var kind: String?; var organisation_id: Int64? }
        r.post("/api/v1/teams", .action(.volunteerManage), body: PostTeamsBody.self) { req, c, b in
            let id = try await linkage.createTeam(communityID: b.community_id, name: b.name, kind: b.kind, organisationID: b.organisation_id, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PostTeamsMembersBody: Decodable { var volunteer_id: Int64? }
        r.post("/api/v1/teams/:id/members", .action(.volunteerManage), body: PostTeamsMembersBody.self) { req, c, b in
            try await linkage.addTeamMember(teamID: try c.id("id"), volunteerID: b.volunteer_id, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostRewardsBody: Decodable { var community_id: Int64?; var name: String?; var points: Int?; var stock: Int? }
        r.post("/api/v1/rewards", .action(.volunteerManage), body: PostRewardsBody.self) { req, c, b in
            let id = try await linkage.addReward(communityID: b.community_id, name: b.name, points: b.points, stock: b.stock, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        r.post("/api/v1/rewards/:id/redeem", .action(.volunteerJoin)) { _, c in
            try await linkage.redeem(rewardID: try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/volunteer/certificate", .action(.volunteerJoin)) { _, c in
            try JSON.response(try await linkage.certificate(volunteerID: nil, actor: try c.requireActor()))
        }
        r.get("/api/v1/volunteers/:id/certificate", .action(.volunteerManage)) { _, c in
            try JSON.response(try await linkage.certificate(volunteerID: try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/api/v1/needs/:id/support", .action(.needPost)) { _, c in
            try JSON.response(["supporters": try await linkage.support(needID: try c.id("id"), actor: try c.requireActor())])
        }
        struct PostProjectsAdvanceBody: Decodable { var note: String?; var evaluation: String?; var rating: Int? }
        r.post("/api/v1/projects/:id/advance", .action(.projectManage), optionalBody: PostProjectsAdvanceBody.self) { req, c, b in
            let stage = try await linkage.advanceProject(try c.id("id"), note: b?.note, evaluation: b?.evaluation, rating: b?.rating, actor: try c.requireActor())
            return try JSON.response(["stage": stage.rawValue])
        }
        struct PostProjectsCampaignBody: Decodable { var goal: String?; var seed: String?; var pool_id: Int64? }
        r.post("/api/v1/projects/:id/campaign", .action(.fundManage), body: PostProjectsCampaignBody.self) { req, c, b in
            try await linkage.openCampaign(projectID: try c.id("id"), goal: b.goal, seed: b.seed, poolID: b.pool_id, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/projects/:id/campaign/close", .action(.fundManage)) { _, c in
            try await linkage.closeCampaign(projectID: try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/pools", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.PoolView]()) }
            return try JSON.response(try await linkage.pools(communityPath: try await communityPath(id)))
        }
        struct PostPoolsTopUpBody: Decodable { var amount: String? }
        r.post("/api/v1/pools/:id/top-up", .action(.fundPool), body: PostPoolsTopUpBody.self) { req, c, b in
            try await linkage.topUpPool(try c.id("id"), amount: b.amount, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/pledges", .action(.fundDonate)) { _, c in try JSON.response(try await linkage.myPledges(actor: try c.requireActor())) }
        // The twin of the console's reconciliation: the statement as the body (text/csv).
        r.post("/api/v1/payments/bank-statement", .action(.fundManage), raw: ["text/csv"]) { req, c in
            let buffer = try await req.body.collect(upTo: 4 * 1024 * 1024)
            guard buffer.readableBytes > 0 else { throw LinliError.invalid("file", "empty", "对账单为空") }
            return try JSON.response(try await linkage.reconcileBankStatement(String(buffer: buffer), actor: try c.requireActor()))
        }
        // WeChat Pay calls this with a signed, encrypted notification (no account: the signature is the credential).
        r.post("/api/v1/payments/wechatpay/notify", .open, raw: ["application/json"]) { req, c in
            guard let wechatPay else { throw LinliError.notFound }
            let buffer = try await req.body.collect(upTo: 64 * 1024)
            var headers: [String: String] = [:]
            for f in req.headers { headers[f.name.canonicalName] = f.value }
            let paid = try wechatPay.verify(headers: headers, body: Array(buffer.readableBytesView), now: linkage.env.nowSeconds)
            // Authentic money that cannot be booked is held for a person, and the provider hears
            // it was received (a retry would be refused the same way, then dropped).
            try await linkage.receiveProviderPayment(paid)
            return Response(status: .noContent)
        }
        r.get("/api/v1/payments/held", .action(.fundManage)) { _, c in try JSON.response(try await linkage.heldPayments(actor: try c.requireActor())) }
        struct PostHeldResolveBody: Decodable { var note: String? }
        r.post("/api/v1/payments/held/:id/resolve", .action(.fundManage), body: PostHeldResolveBody.self) { _, c, b in
            try JSON.response(try await linkage.resolveHeldPayment(try c.id("id"), note: b.note, actor: try c.requireActor()))
        }
        struct PostProjectsMatchBody: Decodable { var amount: String? }
        r.post("/api/v1/projects/:id/match", .action(.fundManage), optionalBody: PostProjectsMatchBody.self) { req, c, b in
            return try JSON.response(["matched": try await linkage.match(projectID: try c.id("id"), amount: b?.amount, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/expenses/:id/approve", .action(.fundManage)) { _, c in
            try JSON.response(["status": try await linkage.approveExpense(try c.id("id"), actor: try c.requireActor())])
        }
        r.post("/api/v1/pools", .action(.fundPool), body: LinkageService.PoolInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.createPool(input, actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/ventures/:id", .action(.linkageView)) { _, c in try JSON.response(try await linkage.round(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/ventures", .action(.fundPool), body: LinkageService.RoundInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.openRound(input, actor: try c.requireActor())], status: .created)
        }
        struct PostVenturesApplicationsBody: Decodable { var projectID: Int64?; var requested: String?; var plan: String?
            enum CodingKeys: String, CodingKey { case projectID = "project_id", requested, plan } }
        r.post("/api/v1/ventures/:id/applications", .action(.fundManage), body: PostVenturesApplicationsBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.apply(roundID: try c.id("id"), projectID: b.projectID, requested: b.requested, plan: b.plan, actor: try c.requireActor())],
                                     status: .created)
        }
        struct PostVentureApplicationsScoreBody: Decodable { var score: Int?; var comment: String? }
        r.post("/api/v1/venture-applications/:id/score", .action(.fundPool), body: PostVentureApplicationsScoreBody.self) { req, c, b in
            try await linkage.score(applicationID: try c.id("id"), score: b.score, comment: b.comment, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostVentureApplicationsAwardBody: Decodable { var amount: String? }
        r.post("/api/v1/venture-applications/:id/award", .action(.fundPool), body: PostVentureApplicationsAwardBody.self) { req, c, b in
            try await linkage.award(applicationID: try c.id("id"), amount: b.amount, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/venture-applications/:id/pay", .action(.fundPool)) { _, c in
            try JSON.response(["transaction_id": try await linkage.payInstalment(applicationID: try c.id("id"), actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/ledger/:id", .open) { req, c in
            let l = try await linkage.publicLedger(communityID: try c.id("id"), before: try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before"))
            struct Out: Encodable { var community: String; var transactions: [LinkageService.LedgerLine]; var totals: [String: String] }
            return try JSON.response(Out(community: l.name, transactions: l.lines, totals: l.totals))
        }
    }
}
