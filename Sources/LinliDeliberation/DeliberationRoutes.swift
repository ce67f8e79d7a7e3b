import LinliServer
import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The deliberation pages and API. Both call the same `DeliberationService` use cases.
struct DeliberationRoutes {
    let deliberation: DeliberationService
    let renderer: Renderer

    func register(_ r: Routes) {
        // MARK: pages
        r.get("/matters", .action(.matterView)) { req, c in
            let actor = try c.requireActor()
            let status = req.uri.queryParameters.get("status").flatMap { $0.isEmpty ? nil : $0 }
            let rows = try await deliberation.list(actor: actor, lang: c.lang, status: status)
            return renderer.page("matters", [
                "rows": renderer.data(rows, c.lang), "empty": rows.isEmpty, "can_suggest": actor.may(.matterSuggest),
                // The settings (vote rules, processes) are reached from here by those who keep them.
                "can_manage": actor.may(.matterManage),
                // The filter names a status as the rows below it do (their `status_label`).
                "statuses": MatterStatus.allCases.map { s -> [String: Any] in
                    ["value": s.rawValue, "label": renderer.texts.codeLabel("status", s.rawValue, c.lang) ?? s.rawValue, "selected": s.rawValue == status]
                },
            ], context: c, title: DeliberationCapability.words.table(c.lang)["matters"]!)
        }
        r.get("/matters/new", .action(.matterSuggest)) { _, c in try await newForm(c, values: FormData(), errors: nil) }
        r.post("/matters", .action(.matterSuggest)) { _, c in
            try await formOrErrors(prefix: "m") {
                let m = try await deliberation.suggestMatter(Self.matterInput(c.form), actor: try c.requireActor())
                return redirect("/matters/\(m.id)")
            } page: { errors in try await newForm(c, values: c.form, errors: errors) }
        }
        r.get("/matters/:id", .action(.matterView)) { _, c in try await matterPage(c, id: try c.id("id"), errors: nil) }
        r.post("/matters/:id/advance", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            return try await stepOrPage(c, id: id, prefix: "adv") {
                _ = try await deliberation.advance(id, Self.advanceInput(c.form), actor: try c.requireActor())
                return redirect("/matters/\(id)")
            }
        }
        r.post("/matters/:id/meetings", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            return try await stepOrPage(c, id: id, prefix: "mt") {
                let mid = try await deliberation.scheduleMeeting(id, Self.meetingInput(c.form), actor: try c.requireActor())
                return redirect("/meetings/\(mid)")
            }
        }
        r.post("/matters/:id/polls", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            return try await stepOrPage(c, id: id, prefix: "poll") {
                let p = try await deliberation.openPoll(id, Self.pollInput(c.form), actor: try c.requireActor())
                return redirect("/polls/\(p.id)")
            }
        }
        r.post("/matters/:id/milestones", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            return try await stepOrPage(c, id: id, prefix: "ms") {
                try await deliberation.addMilestone(id, title: c.form["title"], dueDay: c.form["due_day"], actor: try c.requireActor())
                return redirect("/matters/\(id)#milestones")
            }
        }
        r.post("/milestones/:id/done", .action(.matterManage)) { _, c in
            let matter = try await deliberation.completeMilestone(try c.id("id"), note: c.form["note"], actor: try c.requireActor())
            return redirect("/matters/\(matter)#milestones")
        }
        r.get("/meetings/:id", .action(.matterView)) { _, c in try await meetingPage(c, id: try c.id("id"), errors: nil) }
        r.post("/meetings/:id/attendance", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            do {
                let a = try await deliberation.recordAttendance(id, .init(code: c.form.nonEmpty("code"), name: c.form.nonEmpty("name")), actor: try c.requireActor())
                return try await meetingPage(c, id: id, errors: nil, recorded: a)
            } catch let e as LinliError where e.status == .unprocessableContent || e.status == .conflict {
                var resp = try await meetingPage(c, id: id, errors: ["att_" + (e.field ?? "code"): e.message])
                resp.status = e.status
                return resp
            }
        }
        r.post("/meetings/:id/minutes", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            do {
                try await deliberation.saveMinutes(id, minutes: c.form["minutes"], decisions: c.form["decisions"], actor: try c.requireActor())
                return redirect("/meetings/\(id)")
            } catch let e as LinliError where e.status == .unprocessableContent || e.status == .conflict {
                var resp = try await meetingPage(c, id: id, errors: ["min_minutes": e.message])
                resp.status = e.status
                return resp
            }
        }
        r.get("/polls/:id", .action(.matterView)) { req, c in
            try await pollPage(c, id: try c.id("id"), errors: nil, voted: req.uri.queryParameters.get("voted") == "1")
        }
        r.post("/polls/:id/vote", .action(.voteCast)) { _, c in
            let id = try c.id("id")
            return try await pollStep(c, id: id, prefix: "vote") {
                var input = DeliberationService.BallotInput()
                input.choice = c.form.nonEmpty("choice")
                let parts = c.form.all("part_id").compactMap { Int64($0) }
                input.partIDs = parts.isEmpty ? nil : parts
                _ = try await deliberation.castBallots(id, input, actor: try c.requireActor())
                return redirect("/polls/\(id)?voted=1")
            }
        }
        r.post("/polls/:id/ballots", .action(.voteRecord)) { _, c in
            let id = try c.id("id")
            return try await pollStep(c, id: id, prefix: "rec") {
                var input = DeliberationService.BallotInput()
                input.choice = c.form.nonEmpty("choice")
                input.method = c.form.nonEmpty("method") ?? "paper"
                input.proxyName = c.form["proxy_name"]
                guard let part = c.form.nonEmpty("part_id") else { throw LinliError.invalid("part_ids", "required", "请填写专有部分编号") }
                guard let pid = Int64(part.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid("part_ids", "invalid", "专有部分编号应为数字") }
                input.partIDs = [pid]
                let doc = c.files.first { $0.field == "proxy_document" }?.bytes
                _ = try await deliberation.castBallots(id, input, proxyDocument: doc, actor: try c.requireActor())
                return redirect("/polls/\(id)?voted=1")
            }
        }
        // An owner's standing proxy (委托), recorded by the office from the signed paper.
        r.get("/owners/:id/proxies", .action(.voteRecord)) { _, c in try await proxiesPage(c, owner: try c.id("id"), errors: [:]) }
        r.post("/owners/:id/proxies", .action(.voteRecord)) { _, c in
            let owner = try c.id("id")
            return try await formOrErrors(prefix: "proxy") {
                let input = ProxyInput(proxyResidentID: c.form.int("proxy_resident_id"), validUntil: c.form["valid_until"])
                _ = try await deliberation.appointProxy(owner: owner, input, document: c.files.first { $0.field == "document" }?.bytes, actor: try c.requireActor())
                return redirect("/owners/\(owner)/proxies")
            } page: { errors in try await proxiesPage(c, owner: owner, errors: errors) }
        }
        r.post("/proxies/:id/revoke", .action(.voteRecord)) { _, c in
            let id = try c.id("id"), actor = try c.requireActor()
            do {
                let v = try await deliberation.revokeProxy(id, reason: c.form["reason"], actor: actor)
                return redirect("/owners/\(v.ownerID)/proxies")
            } catch let e as LinliError where e.status == .unprocessableContent || e.status == .conflict {
                let owner = try await deliberation.proxyOwnerID(id, actor: actor)
                var resp = try await proxiesPage(c, owner: owner, errors: ["revoke_\(id)": e.message])
                resp.status = e.status
                return resp
            }
        }
        r.get("/proxies/:id/document", .action(.voteRecord)) { _, c in
            let bytes = try await deliberation.proxyDocument(try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        r.get("/api/v1/owners/:id/proxies", .action(.voteRecord)) { _, c in
            try JSON.response(try await deliberation.proxies(owner: try c.id("id"), actor: try c.requireActor()).proxies)
        }
        struct PostOwnersProxiesBody: Decodable {
            var input: ProxyInput
            var document: String?
            init(from d: Decoder) throws {
                input = try ProxyInput(from: d)
                document = try d.container(keyedBy: K.self).decodeIfPresent(String.self, forKey: .document)
            }
            enum K: String, CodingKey { case document = "document_base64" }
        }
        r.post("/api/v1/owners/:id/proxies", .action(.voteRecord), body: PostOwnersProxiesBody.self, upTo: RequestLimits.apiBodyMax) { req, c, b in
            let doc = try Input.base64(b.document, field: "document_base64", message: "委托书应为 base64 编码的图片")
            return try JSON.response(try await deliberation.appointProxy(owner: try c.id("id"), b.input, document: doc, actor: try c.requireActor()), status: .created)
        }
        struct PostProxiesRevokeBody: Decodable { var reason: String? }
        r.post("/api/v1/proxies/:id/revoke", .action(.voteRecord), body: PostProxiesRevokeBody.self) { req, c, b in
            try JSON.response(try await deliberation.revokeProxy(try c.id("id"), reason: b.reason, actor: try c.requireActor()))
        }
        r.post("/polls/:id/close", .action(.matterManage)) { _, c in
            let id = try c.id("id")
            return try await pollStep(c, id: id, prefix: "close") {
                _ = try await deliberation.closePoll(id, actor: try c.requireActor())
                return redirect("/polls/\(id)")
            }
        }
        // A closed vote's result as an A4 notice for the compound's boards (公告): the question, the
        // counts against each threshold and the outcome, under the compound's heading.
        r.get("/polls/:id/print", .action(.matterView)) { _, c in
            let p = try await deliberation.pollView(try c.id("id"), actor: try c.requireActor())
            guard let r = p.result else { throw LinliError.conflict(nil, "poll_open", DeliberationCapability.words.table(c.lang)["poll_not_closed"]!) }
            var data = renderer.fields(p, c.lang)
            data["result_rows"] = r.criteria.map { Self.criterionRow($0, c.lang) }
            data["result_passed"] = r.passed
            data["yes_area"] = DeliberationService.area(r.counts.yesArea)
            data["no_area"] = DeliberationService.area(r.counts.noArea)
            data["abstain_area"] = DeliberationService.area(r.counts.abstainArea)
            data["counts"] = ["parts": r.counts.totalParts, "heads": r.counts.totalHeads, "voted_parts": r.counts.votedParts, "voted_heads": r.counts.votedHeads,
                              "yes_heads": r.counts.yesHeads, "no_heads": r.counts.noHeads]
            data["item_class_label"] = DeliberationCapability.words.label("plain_" + p.itemClass, c.lang)
            data["heading"] = try await deliberation.noticeHeading(placeID: p.placeID)
            data["printed_on"] = String(LocalTime.text(deliberation.env.nowSeconds).prefix(10))
            return renderer.page("poll_print", data, context: c, title: p.matterTitle + " · " + DeliberationCapability.words.table(c.lang)["result"]!)
        }
        r.get("/polls/:id/ballots", .action(.ballotView)) { _, c in try await ballotsPage(c, id: try c.id("id"), reason: nil) }
        r.post("/polls/:id/ballots/unmask", .action(.ballotView)) { _, c in
            let id = try c.id("id")
            do { return try await ballotsPage(c, id: id, reason: c.form["reason"] ?? "") } catch let e as LinliError where e.status == .unprocessableContent {
                var resp = try await ballotsPage(c, id: id, reason: nil, error: e.message)
                resp.status = e.status
                return resp
            }
        }
        r.get("/ballot-documents/:id", .action(.ballotView)) { _, c in
            let bytes = try await deliberation.ballotDocument(try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        r.get("/notices/:id", .open) { _, c in
            let (name, notices) = try await deliberation.notices(placeID: try c.id("id"), actor: c.actor)
            return renderer.page("notices", ["name": name, "notices": renderer.data(notices, c.lang), "empty": notices.isEmpty],
                                 context: c, title: DeliberationCapability.words.table(c.lang)["notice_board"]! + " · " + name)
        }
        r.get("/settings/deliberation", .action(.matterManage)) { _, c in try await settingsPage(c, errors: nil) }
        r.post("/settings/deliberation/rules", .action(.voteConfigure)) { _, c in
            try await formOrErrors(prefix: "rule") {
                let (code, name, place, rule) = try Self.ruleInput(c.form)
                _ = try await deliberation.saveRule(code: code, name: name, placeID: place, rule: rule, actor: try c.requireActor())
                return redirect("/settings/deliberation#rules")
            } page: { errors in try await settingsPage(c, errors: errors) }
        }
        r.post("/settings/deliberation/processes", .action(.matterManage)) { _, c in
            try await formOrErrors(prefix: "proc") {
                let def = try Self.processInput(c.form)
                guard let place = c.form.int("place_id") else { throw LinliError.invalid("place_id", "required", "请填写所属社区或小区编号") }
                try await deliberation.defineProcess(def, placeID: place, actor: try c.requireActor())
                return redirect("/settings/deliberation#processes")
            } page: { errors in try await settingsPage(c, errors: errors) }
        }

        // MARK: JSON API
        r.get("/api/v1/matters", .action(.matterView)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await deliberation.list(actor: try c.requireActor(), lang: c.lang, status: q.get("status"),
                                                                 limit: try Input.int(q.get("limit"), field: "limit", default: 50, in: 1...200),
                                                                 offset: try Input.int(q.get("offset"), field: "offset", default: 0, in: 0...Input.maxOffset)))
        }
        r.post("/api/v1/matters", .action(.matterSuggest), body: DeliberationService.MatterInput.self) { req, c, input in
            return try JSON.response(try await deliberation.suggestMatter(input, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/matters/:id", .action(.matterView)) { _, c in
            try JSON.response(try await deliberation.detail(try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        r.post("/api/v1/matters/:id/advance", .action(.matterManage), optionalBody: DeliberationService.AdvanceInput.self) { req, c, input in
            let input = input ?? .init()
            return try JSON.response(try await deliberation.advance(try c.id("id"), input, actor: try c.requireActor()))
        }
        r.post("/api/v1/matters/:id/meetings", .action(.matterManage), body: DeliberationService.MeetingInput.self) { req, c, input in
            let id = try await deliberation.scheduleMeeting(try c.id("id"), input, actor: try c.requireActor())
            return try JSON.response(try await deliberation.meeting(id, actor: try c.requireActor(), lang: c.lang), status: .created)
        }
        r.post("/api/v1/matters/:id/polls", .action(.matterManage), body: DeliberationService.PollInput.self) { req, c, input in
            return try JSON.response(try await deliberation.openPoll(try c.id("id"), input, actor: try c.requireActor()), status: .created)
        }
        struct PostMattersMilestonesBody: Decodable { var title: String?; var dueDay: String?; enum CodingKeys: String, CodingKey { case title, dueDay = "due_day" } }
        r.post("/api/v1/matters/:id/milestones", .action(.matterManage), body: PostMattersMilestonesBody.self) { req, c, b in
            let id = try c.id("id")
            try await deliberation.addMilestone(id, title: b.title, dueDay: b.dueDay, actor: try c.requireActor())
            return try JSON.response(try await deliberation.detail(id, actor: try c.requireActor(), lang: c.lang).milestones, status: .created)
        }
        struct PostMilestonesDoneBody: Decodable { var note: String? }
        r.post("/api/v1/milestones/:id/done", .action(.matterManage), optionalBody: PostMilestonesDoneBody.self) { req, c, b in
            let matter = try await deliberation.completeMilestone(try c.id("id"), note: b?.note, actor: try c.requireActor())
            return try JSON.response(try await deliberation.detail(matter, actor: try c.requireActor(), lang: c.lang).milestones)
        }
        r.get("/api/v1/meetings/:id", .action(.matterView)) { _, c in
            try JSON.response(try await deliberation.meeting(try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        r.post("/api/v1/meetings/:id/attendance", .action(.matterManage), body: DeliberationService.AttendanceInput.self) { req, c, input in
            let a = try await deliberation.recordAttendance(try c.id("id"), input, actor: try c.requireActor())
            return try JSON.response(a, status: a.already ? .ok : .created)
        }
        struct PostMeetingsMinutesBody: Decodable { var minutes: String?; var decisions: String? }
        r.post("/api/v1/meetings/:id/minutes", .action(.matterManage), body: PostMeetingsMinutesBody.self) { req, c, b in
            let id = try c.id("id")
            try await deliberation.saveMinutes(id, minutes: b.minutes, decisions: b.decisions, actor: try c.requireActor())
            return try JSON.response(try await deliberation.meeting(id, actor: try c.requireActor(), lang: c.lang))
        }
        r.get("/api/v1/polls/:id", .action(.matterView)) { _, c in
            try JSON.response(try await deliberation.pollView(try c.id("id"), actor: try c.requireActor()))
        }
        // Owners vote for themselves (method online); staff enter paper and proxy ballots. The
        // proxy's signed authorisation travels as base64 in `proxy_document_base64`.
        struct PostPollsBallotsBody: Decodable {
            var ballot: DeliberationService.BallotInput
            var document: String?
            init(from d: Decoder) throws {
                ballot = try DeliberationService.BallotInput(from: d)
                document = try d.container(keyedBy: K.self).decodeIfPresent(String.self, forKey: .document)
            }
            enum K: String, CodingKey { case document = "proxy_document_base64" }
        }
        r.post("/api/v1/polls/:id/ballots", .signedIn, body: PostPollsBallotsBody.self, upTo: RequestLimits.apiBodyMax) { req, c, b in
            let doc = try Input.base64(b.document, field: "proxy_document_base64", message: "委托书应为 base64 编码的图片")
            return try JSON.response(try await deliberation.castBallots(try c.id("id"), b.ballot, proxyDocument: doc, actor: try c.requireActor()), status: .created)
        }
        r.post("/api/v1/polls/:id/close", .action(.matterManage)) { _, c in
            try JSON.response(try await deliberation.closePoll(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/api/v1/polls/:id/tally", .action(.matterView)) { _, c in
            try JSON.response(try await deliberation.tally(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/api/v1/polls/:id/ballots", .action(.ballotView)) { _, c in
            try JSON.response(try await deliberation.ballots(try c.id("id"), actor: try c.requireActor()))
        }
        // Each owner's name with their ballot, for staff who give a reason (audited).
        struct PostPollsBallotsUnmaskBody: Decodable { var reason: String? }
        r.post("/api/v1/polls/:id/ballots/unmask", .action(.ballotView), body: PostPollsBallotsUnmaskBody.self) { req, c, b in
            return try JSON.response(try await deliberation.ballots(try c.id("id"), unmaskReason: b.reason ?? "", actor: try c.requireActor()))
        }
        // The form's fields: a code, a name, and stages each with a code, name, kind and whether it may be skipped.
        struct Stage: Decodable { var code: String; var name: String; var kind: StageKind; var required: Bool? }
        struct PostProcessesBody: Decodable { var place_id: Int64?; var code: String?; var name: String?; var stages: [Stage]? }
        r.post("/api/v1/processes", .action(.matterManage), body: PostProcessesBody.self) { req, c, b in
            guard let place = b.place_id else { throw LinliError.invalid("place_id", "required", "请填写所属社区或小区编号") }
            let name = (b.name ?? "").trimmingCharacters(in: .whitespaces)
            let def = ProcessDefinition(code: (b.code ?? "").trimmingCharacters(in: .whitespaces), nameZh: name, nameEn: name,
                                        stages: (b.stages ?? []).map { StageDefinition($0.code, $0.name, $0.name, $0.kind, required: $0.required ?? true) })
            try await deliberation.defineProcess(def, placeID: place, actor: try c.requireActor())
            return try JSON.response(["code": def.code], status: .created)
        }
        r.get("/api/v1/notices/:id", .open) { _, c in
            try JSON.response(try await deliberation.notices(placeID: try c.id("id"), actor: c.actor).notices)
        }
        r.get("/api/v1/vote-rules", .action(.matterView)) { _, c in try JSON.response(try await deliberation.rules()) }
        struct PostVoteRulesBody: Decodable {
            var code: String?; var name: String?; var placeID: Int64?; var rule: VoteRuleSet
            enum CodingKeys: String, CodingKey { case code, name, placeID = "place_id", rule }
        }
        r.post("/api/v1/vote-rules", .action(.voteConfigure), body: PostVoteRulesBody.self) { req, c, b in
            return try JSON.response(try await deliberation.saveRule(code: b.code, name: b.name, placeID: b.placeID, rule: b.rule, actor: try c.requireActor()))
        }
        r.get("/api/v1/processes", .action(.matterView)) { _, c in try JSON.response(try await deliberation.processes()) }
    }

    // MARK: input


    static func matterInput(_ f: FormData) throws -> DeliberationService.MatterInput {
        var i = DeliberationService.MatterInput()
        i.title = f["title"]
        i.description = f["description"]
        i.process = f.nonEmpty("process")
        i.itemClass = f.nonEmpty("item_class")
        i.lawItem = try f.optionalID("law_item", "第 278 条事项应为 1 到 9").map { Int(clamping: $0) }
        i.placeID = try f.optionalID("place_id", "地点编号应为数字")
        return i
    }

    static func advanceInput(_ f: FormData) -> DeliberationService.AdvanceInput {
        var a = DeliberationService.AdvanceInput()
        a.stage = f.nonEmpty("stage")
        a.outcome = f.nonEmpty("outcome")
        a.note = f["note"]
        a.reason = f.nonEmpty("reason")
        a.noticeTitle = f["notice_title"]
        a.noticeBody = f["notice_body"]
        a.noticePublic = f["notice_public"] == "1"
        a.documentTitle = f["document_title"]
        a.documentBody = f["document_body"]
        return a
    }

    static func meetingInput(_ f: FormData) -> DeliberationService.MeetingInput {
        var m = DeliberationService.MeetingInput()
        m.title = f["title"]
        m.startsAt = f["starts_at"]
        m.location = f["location"]
        m.agenda = f["agenda"]
        // Ticked boxes ("invitee", one per box); a typed list ("invitees") still works.
        m.invitees = f.all("invitee") + (f["invitees"] ?? "").split(whereSeparator: { $0 == "\n" || $0 == "," || $0 == "，" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        return m
    }

    static func pollInput(_ f: FormData) throws -> DeliberationService.PollInput {
        var p = DeliberationService.PollInput()
        p.question = f["question"]
        p.closesAt = f["closes_at"]
        p.rule = f.nonEmpty("rule")
        p.itemClass = f.nonEmpty("item_class")
        p.placeID = try f.optionalID("place_id", "地点编号应为数字")
        return p
    }

    /// "2/3" or "> 1/2" into a threshold, naming the field when it cannot be read.
    static func threshold(_ raw: String?, _ field: String) throws -> Threshold {
        var s = (raw ?? "").replacingOccurrences(of: " ", with: "")
        var strict = false
        if s.hasPrefix(">=") || s.hasPrefix("≥") { s = String(s.drop { $0 == ">" || $0 == "=" || $0 == "≥" }) }
        else if s.hasPrefix(">") { strict = true; s = String(s.dropFirst()) }
        let bits = s.split(separator: "/")
        guard bits.count == 2, let n = Int64(bits[0]), let d = Int64(bits[1]), d > 0, n > 0, n <= d else {
            throw LinliError.invalid(field, "invalid_threshold", "比例应写作 2/3、≥3/4 或 >1/2")
        }
        return Threshold(n, d, strict: strict)
    }

    static func ruleInput(_ f: FormData) throws -> (String?, String?, Int64?, VoteRuleSet) {
        var errors: [LinliError] = []
        func t(_ k: String) -> Threshold {
            do { return try threshold(f[k], k) } catch let e as LinliError { errors.append(e); return Threshold(1, 1) } catch { return Threshold(1, 1) }
        }
        let rule = VoteRuleSet(participationArea: t("participation_area"), participationHeads: t("participation_heads"),
                               ordinaryArea: t("ordinary_area"), ordinaryHeads: t("ordinary_heads"), majorArea: t("major_area"), majorHeads: t("major_heads"),
                               approvalBasis: f.nonEmpty("approval_basis") ?? "participating", allowChange: f["allow_change"] == "1")
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw ValidationErrors(errors) }
        return (f["code"], f["name"], f.int("place_id"), rule)
    }

    static func processInput(_ f: FormData) throws -> ProcessDefinition {
        var stages: [StageDefinition] = []
        for (n, line) in (f["stages"] ?? "").split(whereSeparator: \.isNewline).enumerated() {
            let bits = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard bits.count >= 3, let kind = StageKind(rawValue: bits[2]) else {
                throw LinliError.invalid("stages", "invalid_line", "第 \(n + 1) 行应写作 编码|名称|类型|必经(yes/no)")
            }
            stages.append(StageDefinition(bits[0], bits[1], bits[1], kind, required: bits.count < 4 || bits[3] != "no"))
        }
        let name = (f["name"] ?? "").trimmingCharacters(in: .whitespaces)
        return ProcessDefinition(code: (f["code"] ?? "").trimmingCharacters(in: .whitespaces), nameZh: name, nameEn: name, stages: stages)
    }

    // MARK: pages

    /// Runs a step of the matter page; refused input returns beside its field, a refused step at the top.
    func stepOrPage(_ c: AppContext, id: Int64, prefix: String, _ action: () async throws -> Response) async throws -> Response {
        do {
            return try await formOrErrors(prefix: prefix, action) { errors in try await matterPage(c, id: id, errors: errors) }
        } catch let e as LinliError where e.status == .conflict || (e.status == .forbidden && e.code != "forbidden" && e.code != "csrf") {
            var resp = try await matterPage(c, id: id, errors: ["form": e.message])
            resp.status = e.status
            return resp
        }
    }

    func proxiesPage(_ c: AppContext, owner: Int64, errors: [String: String]) async throws -> Response {
        let (o, list) = try await deliberation.proxies(owner: owner, actor: try c.requireActor())
        let t = DeliberationCapability.words.table(c.lang)
        // Back to the owner's (first) dwelling, else to their community: a real address, since
        // a page opened from a bookmark or after a form has no useful `history.back()`.
        let back = o.firstHouseholdID.map { "/households/\($0)/dwelling" } ?? "/places/\(o.communityID)"
        let data: [String: Any] = [
            "owner": ["id": o.id, "name": o.name, "kind_label": DeliberationCapability.words.label("ownerkind_" + o.kind, c.lang)], "back": back,
            "proxies": list.map { v -> [String: Any] in
                var row: [String: Any] = ["id": v.id, "proxy_name": v.proxyName, "valid_until": v.validUntil, "recorded_by": v.recordedBy,
                                          "recorded_on": v.recordedOn, "active": v.active,
                                          "state": v.active ? t["proxy_active"]! : (v.revokedOn != nil ? t["proxy_revoked"]! + " " + v.revokedOn! : t["proxy_expired"]!)]
                if let r = v.revokeReason { row["revoke_reason"] = r }
                if let e = errors["revoke_\(v.id)"] { row["error"] = e }
                return row
            },
            "none": list.isEmpty,
            "values": ["proxy_resident_id": c.form["proxy_resident_id"] ?? "", "valid_until": c.form["valid_until"] ?? ""],
            "errors": errors, "has_errors": errors.keys.contains { $0.hasPrefix("proxy_") },
        ]
        return renderer.page("proxies", data, context: c, title: t["proxies_title"]! + " · " + o.name)
    }

    func pollStep(_ c: AppContext, id: Int64, prefix: String, _ action: () async throws -> Response) async throws -> Response {
        do {
            return try await formOrErrors(prefix: prefix, action) { errors in try await pollPage(c, id: id, errors: errors) }
        } catch let e as LinliError where e.status == .conflict {
            var resp = try await pollPage(c, id: id, errors: ["form": e.message])
            resp.status = e.status
            return resp
        }
    }

    func newForm(_ c: AppContext, values: FormData, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let places = try await deliberation.placeOptions(actor: actor)
        let processes = try await deliberation.processes()
        let data: [String: Any] = [
            "places": places.map { ["value": $0.0, "label": $0.1, "selected": String($0.0) == values["place_id"]] },
            "processes": processes.map { ["value": $0.code, "label": $0.name, "selected": $0.code == (values["process"] ?? "wenzhou")] },
            // Left on its first choice, the class follows the art. 278 item named (else ordinary):
            // naming item 7 and leaving "ordinary" would only earn a refusal.
            "classes": ItemClass.allCases.map { ["value": $0.rawValue, "label": DeliberationCapability.words.label($0.rawValue, c.lang), "selected": $0.rawValue == values["item_class"]] },
            "law_items": LawItem.allCases.map { ["value": $0.rawValue, "label": DeliberationCapability.words.label($0.code, c.lang), "selected": String($0.rawValue) == values["law_item"]] },
            "title": values["title"] ?? "", "description": values["description"] ?? "", "errors": errors ?? [:],
        ]
        return renderer.page("matter_new", data, context: c, title: DeliberationCapability.words.table(c.lang)["new_matter"]!)
    }

    func matterPage(_ c: AppContext, id: Int64, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let d = try await deliberation.detail(id, actor: actor, lang: c.lang)
        var data = renderer.fields(d, c.lang)
        data["errors"] = errors ?? [:]
        data["values"] = c.form.values.mapValues { $0.first ?? "" }
        data["is_filed"] = d.matter.status == "filed"
        data["is_rejected"] = d.matter.status == "rejected"
        data["has_meetings"] = !d.meetings.isEmpty
        data["has_polls"] = !d.polls.isEmpty
        data["has_documents"] = !d.documents.isEmpty
        data["has_milestones"] = !d.milestones.isEmpty
        data["is_publish_resolution"] = d.matter.stageKind == StageKind.publishResolution.rawValue
        // Residents (and staff acting for one) read what the class means, not the statute behind
        // it, as on the poll page.
        if actor.actsOnlyForThemselves || actor.acting != nil {
            data["plain_class"] = DeliberationCapability.words.label("plain_" + d.matter.itemClass, c.lang)
        }
        if d.matter.stageKind == StageKind.meeting.rawValue, d.matter.status == "open", actor.may(.matterManage) {
            let choices = (try? await deliberation.inviteeChoices(id, actor: actor)) ?? []
            data["invitee_choices"] = choices.map { ["value": $0.value, "label": $0.label] }
            data["has_invitee_choices"] = !choices.isEmpty
        }
        data["rules"] = try await deliberation.rules().map { ["value": $0.code, "label": $0.name] }
        data["classes"] = ItemClass.allCases.map { ["value": $0.rawValue, "label": DeliberationCapability.words.label($0.rawValue, c.lang), "selected": $0.rawValue == d.matter.itemClass] }
        data["default_close"] = LocalTime.text(deliberation.env.nowSeconds + 14 * 86400).replacingOccurrences(of: " ", with: "T")
        return renderer.page("matter", data, context: c, title: d.matter.title)
    }

    func meetingPage(_ c: AppContext, id: Int64, errors: [String: String]?, recorded: MeetingView.Attendee? = nil) async throws -> Response {
        let m = try await deliberation.meeting(id, actor: try c.requireActor(), lang: c.lang)
        var data = renderer.fields(m, c.lang)
        data["errors"] = errors ?? [:]
        data["recorded"] = recorded.map { renderer.data($0, c.lang) } ?? false
        data["has_invitees"] = !m.invitees.isEmpty
        data["is_held"] = m.status == "held"
        data["attendee_count"] = m.attendance.count
        return renderer.page("meeting", data, context: c, title: m.title)
    }

    func pollPage(_ c: AppContext, id: Int64, errors: [String: String]?, voted: Bool = false) async throws -> Response {
        let p = try await deliberation.pollView(id, actor: try c.requireActor())
        var data = renderer.fields(p, c.lang)
        let t = DeliberationCapability.words.table(c.lang)
        data["errors"] = errors ?? [:]
        data["voted"] = voted
        // Owners see what a class means, not the statute behind it (the community chose it).
        let plain = (c.actor?.actsOnlyForThemselves ?? true) || c.actor?.acting != nil
        data["item_class_label"] = DeliberationCapability.words.label((plain ? "plain_" : "") + p.itemClass, c.lang)
        data["resident_view"] = plain
        data["status_label"] = t[p.status == "open" ? "poll_open" : "poll_ended"]!
        data["participation"] = p.participation.map { Self.criterionRow($0, c.lang) }
        // Turnout (and, once closed, each criterion) against its threshold, drawn beside the table.
        let charted = p.result?.criteria ?? p.participation
        if charted.allSatisfy({ $0.reachedPercent != nil && $0.requiredPercent != nil }), !charted.isEmpty {
            let labels = charted.map { Self.criterionLabel($0, t) }
            data["turnout_chart"] = FigureCharts.json(ChartSpec(type: "bar", labels: labels, datasets: [
                .init(label: t["reached"]!, data: charted.map(\.reachedPercent), axis: "pct", kind: nil),
                .init(label: t["required"]!, data: charted.map(\.requiredPercent), axis: "pct", kind: nil),
            ], horizontal: true))
            data["turnout_table"] = p.result == nil ? "participation" : "result-table"
        }
        if let r = p.result {
            data["result_rows"] = r.criteria.map { Self.criterionRow($0, c.lang) }
            data["result_passed"] = r.passed
            data["decided_by"] = DeliberationText.criterion(r.decidedBy, c.lang)
            data["yes_area"] = DeliberationService.area(r.counts.yesArea)
            data["no_area"] = DeliberationService.area(r.counts.noArea)
            data["abstain_area"] = DeliberationService.area(r.counts.abstainArea)
        }
        data["my_parts"] = p.myParts.map { part -> [String: Any] in
            ["part_id": part.partID, "address": part.address, "area": part.area, "has_choice": !part.choice.isEmpty,
             "proxy_for": part.proxyFor ?? "", "has_proxy_for": part.proxyFor != nil,
             "choice_label": part.choice.isEmpty ? "" : DeliberationCapability.words.label("choice_" + part.choice, c.lang), "method_label": DeliberationCapability.words.label(part.method, c.lang)]
        }
        data["has_proxied"] = p.myParts.contains { $0.proxyFor != nil }
        data["choices"] = Choice.allCases.map { ["value": $0.rawValue, "label": DeliberationCapability.words.label("choice_" + $0.rawValue, c.lang)] }
        data["rule_text"] = [t["participation_area"]! + " " + p.rule.participationArea.text, t["participation_heads"]! + " " + p.rule.participationHeads.text,
                             p.itemClass == "major" ? t["major_area"]! + " " + p.rule.majorArea.text : t["ordinary_area"]! + " " + p.rule.ordinaryArea.text,
                             p.itemClass == "major" ? t["major_heads"]! + " " + p.rule.majorHeads.text : t["ordinary_heads"]! + " " + p.rule.ordinaryHeads.text]
            .joined(separator: t["clause_sep"]!)
        return renderer.page("poll", data, context: c, title: p.matterTitle + " · " + t["polls"]!)
    }

    /// "参与表决 · 按面积": what a criterion counts, by what.
    static func criterionLabel(_ k: Criterion, _ t: [String: String]) -> String {
        (k.code.hasPrefix("participation") ? t["participation"]! : t["approval"]!) + " · " + (k.code.hasSuffix("area") ? t["tally_by_area"]! : t["tally_by_head"]!)
    }

    static func criterionRow(_ k: Criterion, _ lang: Lang) -> [String: Any] {
        let t = DeliberationCapability.words.table(lang)
        let isArea = k.code.hasSuffix("area")
        let value = isArea ? DeliberationService.area(k.value) + " / " + DeliberationService.area(k.base) + " ㎡" : "\(k.value) / \(k.base)"
        return ["label": criterionLabel(k, t),
                "value": value, "percent": k.percent, "required": k.required, "met": k.met, "code": k.code]
    }

    func ballotsPage(_ c: AppContext, id: Int64, reason: String?, error: String? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let rows = try await deliberation.ballots(id, unmaskReason: reason, actor: actor)
        let p = try await deliberation.pollView(id, actor: actor)
        let data: [String: Any] = [
            "poll": renderer.data(p, c.lang), "unmasked": reason != nil, "error": error ?? "", "count": rows.count,
            "rows": rows.map { r -> [String: Any] in
                ["part_id": r.partID, "address": r.address, "area": r.area, "owner": r.owner, "choice_label": DeliberationCapability.words.label("choice_" + r.choice, c.lang),
                 "method_label": DeliberationCapability.words.label(r.method, c.lang), "proxy_name": r.proxyName.isEmpty ? false : r.proxyName, "has_document": r.hasDocument, "revision": r.revision, "cast_text": r.castText]
            },
        ]
        return renderer.page("ballots", data, context: c, title: DeliberationCapability.words.table(c.lang)["ballot_list"]!)
    }

    func settingsPage(_ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let rules = try await deliberation.rules()
        let data: [String: Any] = [
            "rules": rules.map { r -> [String: Any] in
                ["code": r.code, "name": r.name, "place_id": r.placeID.map { String($0) as Any } ?? false, "open_polls": r.inUse,
                 "participation_area": r.rule.participationArea.text, "participation_heads": r.rule.participationHeads.text,
                 "ordinary_area": r.rule.ordinaryArea.text, "ordinary_heads": r.rule.ordinaryHeads.text,
                 "major_area": r.rule.majorArea.text, "major_heads": r.rule.majorHeads.text, "allow_change": r.rule.allowChange,
                 "basis_label": DeliberationCapability.words.label(r.rule.approvalBasis, c.lang)]
            },
            "processes": try await deliberation.processes().map { p -> [String: Any] in
                ["code": p.code, "name": p.name, "place_id": p.placeID.map { String($0) as Any } ?? false,
                 "stages": p.stages.map { ["name": $0.name(c.lang), "kind": $0.kind.rawValue, "optional": !$0.required] }]
            },
            "can_configure": actor.may(.voteConfigure), "errors": errors ?? [:], "values": c.form.values.mapValues { $0.first ?? "" },
        ]
        return renderer.page("deliberation_settings", data, context: c, title: DeliberationCapability.words.table(c.lang)["deliberation_settings"]!)
    }
}
