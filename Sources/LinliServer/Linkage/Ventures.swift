import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Public-welfare venture grants (公益创投): a street (or city) opens a round with a budget;
/// communities apply for their micro-projects; reviewers score; the round awards within its
/// budget; the award is paid into the project in instalments on the ledger; the funded project is
/// evaluated at the end.
extension LinkageService {
    public struct RoundInput: Sendable, Codable {
        public var placeID: Int64?
        public var name: String?
        public var budget: String?
        public var scoresNeeded: Int?
        public var instalments: Int?
        public init() {}
        enum CodingKeys: String, CodingKey { case placeID = "place_id", name, budget, scoresNeeded = "scores_needed", instalments }
    }

    /// Reviewers act on a round; others who see it (its communities' staff) are refused plainly.
    static func requireReviewer(_ actor: Actor, _ path: String) throws {
        guard seesRound(actor, path) else { throw LinliError.notFound }
        guard covers(actor, .fundPool, path) else { throw LinliError.forbidden }
    }

    public func openRound(_ input: RoundInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let name = Self.trimmed(input.name)
        v.check(!name.isEmpty && name.count <= 80, "name", "required", "请填写创投名称")
        let budget = v.fen(input.budget, "budget")
        v.check((1...9).contains(input.scoresNeeded ?? 0), "scores_needed", "invalid", "评审人数应为 1 到 9")
        v.check((1...12).contains(input.instalments ?? 0), "instalments", "invalid", "拨付期数应为 1 到 12")
        try v.throwIfAny()
        return try await store.transaction { db in
            guard let pid = input.placeID, let p = try await db.raw("SELECT path FROM places WHERE id = \(bind: pid) AND kind IN ('city', 'district', 'street', 'town')").first() else {
                throw LinliError.invalid("place_id", "required", "请选择创投覆盖的街道或区")
            }
            let path = try p.decode(column: "path", as: String.self)
            guard Self.covers(actor, .fundPool, path) else { throw LinliError.invalid("place_id", "out_of_scope", "不能在该范围设立创投") }
            let id = try await db.raw("""
                INSERT INTO venture_rounds (place_id, path, name, budget, scores_needed, instalments, status, created_by, created_at)
                VALUES (\(bind: pid), \(bind: path), \(bind: name), \(bind: budget), \(bind: input.scoresNeeded!), \(bind: input.instalments!), 'open', \(bind: actor.userID), \(bind: now))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            let fund = try await account(db, .venture, id, path: path, name: "公益创投：" + name)
            let gov = try await account(db, .government, -id, path: path, name: "政府资金：" + name)
            let community = try await ledgerCommunity(db, areaPath: path)
            try await post(db, Movement(kind: "venture_funding", communityID: community, amount: budget, memo: name), [Posting(gov, -budget), Posting(fund, budget)], actor: actor, now: now)
            try await audit.append(db, actor: actor, action: "venture.open", objectType: "venture_round", objectID: id, path: path, detail: "budget=\(budget)")
            return id
        }
    }

    struct RoundRow { var id: Int64; var path: String; var name: String; var budget: Int64; var scoresNeeded: Int; var instalments: Int; var status: String }

    func fetchRound(_ db: any SQLDatabase, _ id: Int64, lock: Bool = false) async throws -> RoundRow {
        guard let r = try await db.raw("SELECT * FROM venture_rounds WHERE id = \(bind: id)\(unsafeRaw: lock ? lockRow : "")").first() else { throw LinliError.notFound }
        return RoundRow(id: id, path: try r.decode(column: "path", as: String.self), name: try r.decode(column: "name", as: String.self),
                        budget: try r.decode(column: "budget", as: Int64.self), scoresNeeded: try r.decode(column: "scores_needed", as: Int.self),
                        instalments: try r.decode(column: "instalments", as: Int.self), status: try r.decode(column: "status", as: String.self))
    }

    /// Whether the actor sees a round: its reviewers above, and staff of any community inside it.
    static func seesRound(_ actor: Actor, _ path: String) -> Bool {
        actor.grants(for: .linkageView).contains { g in
            let mine = (g.role == .resident || g.role == .volunteer) ? (communityPath(of: g.placePath) ?? "-") : g.placePath
            return path.hasPrefix(mine) || mine.hasPrefix(path)
        }
    }

    /// A community applies for one of its micro-projects while the round is open.
    public func apply(roundID: Int64, projectID: Int64?, requested raw: String?, plan rawPlan: String?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let requested = v.fen(raw, "requested")
        let plan = Self.trimmed(rawPlan)
        v.check(!plan.isEmpty && plan.count <= LinkageLimits.textMax, "plan", "required", "请填写实施方案")
        v.check(projectID != nil, "project_id", "required", "请选择申请的微项目")
        try v.throwIfAny()
        return try await store.transaction { db in
            let round = try await fetchRound(db, roundID)
            guard Self.seesRound(actor, round.path) else { throw LinliError.notFound }
            guard round.status == "open" else { throw LinliError.conflict(nil, "round_closed", "本期创投已截止申请") }
            let p = try await fetchProject(db, projectID!, actor, .fundManage)
            guard p.path.hasPrefix(round.path) else { throw LinliError.invalid("project_id", "out_of_scope", "该项目不在本期创投范围内") }
            guard requested <= round.budget else { throw LinliError.invalid("requested", "beyond_budget", "申请金额超过本期创投总额") }
            guard try await db.raw("SELECT id FROM venture_applications WHERE round_id = \(bind: roundID) AND project_id = \(bind: p.id)").first() == nil else {
                throw LinliError.conflict("project_id", "already_applied", "该项目已申请本期创投")
            }
            let id = try await db.raw("""
                INSERT INTO venture_applications (round_id, project_id, organisation_id, requested, plan, status, created_by, created_at)
                VALUES (\(bind: roundID), \(bind: p.id), \(bind: p.organisationID), \(bind: requested), \(bind: plan), 'submitted', \(bind: actor.userID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "venture.apply", objectType: "venture_application", objectID: id, path: p.path)
            return id
        }
    }

    func fetchApplication(_ db: any SQLDatabase, _ id: Int64) async throws -> (round: Int64, project: Int64, requested: Int64, status: String, award: Int64, paid: Int, createdBy: Int64) {
        guard let r = try await db.raw("""
            SELECT round_id, project_id, requested, status, award, paid_instalments, created_by FROM venture_applications WHERE id = \(bind: id)\(unsafeRaw: lockRow)
            """).first() else { throw LinliError.notFound }
        return (try r.decode(column: "round_id", as: Int64.self), try r.decode(column: "project_id", as: Int64.self), try r.decode(column: "requested", as: Int64.self),
                try r.decode(column: "status", as: String.self), try r.decode(column: "award", as: Int64.self), try r.decode(column: "paid_instalments", as: Int.self),
                try r.decode(column: "created_by", as: Int64.self))
    }

    /// A reviewer of the round scores an application (0–100) once; nobody scores their own.
    public func score(applicationID: Int64, score: Int?, comment: String?, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let a = try await fetchApplication(db, applicationID)
            let round = try await fetchRound(db, a.round)
            try Self.requireReviewer(actor, round.path)
            guard a.createdBy != actor.userID else { throw LinliError(.forbidden, code: "own_application", message: "不能评审自己提交的申请") }
            guard a.status == "submitted" else { throw LinliError.conflict(nil, "not_open", "该申请已评定") }
            guard let s = score, (0...100).contains(s) else { throw LinliError.invalid("score", "invalid", "评分应为 0 到 100") }
            guard try await db.raw("SELECT 1 AS x FROM venture_scores WHERE application_id = \(bind: applicationID) AND user_id = \(bind: actor.userID)").first() == nil else {
                throw LinliError.conflict("score", "already_scored", "您已评过这份申请")
            }
            try await db.raw("""
                INSERT INTO venture_scores (application_id, user_id, score, comment, at) VALUES (\(bind: applicationID), \(bind: actor.userID), \(bind: s), \(bind: Self.trimmed(comment)), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "venture.score", objectType: "venture_application", objectID: applicationID, path: round.path, detail: "score=\(s)")
        }
    }

    /// Awards (or declines) an application once it has its scores, within what the round has left.
    public func award(applicationID: Int64, amount raw: String?, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchApplication(db, applicationID)
            let round = try await fetchRound(db, a.round, lock: true)
            try Self.requireReviewer(actor, round.path)
            guard a.status == "submitted" else { throw LinliError.conflict(nil, "not_open", "该申请已评定") }
            let scores = try await db.raw("SELECT COUNT(*) AS n FROM venture_scores WHERE application_id = \(bind: applicationID)").first()!.decode(column: "n", as: Int.self)
            guard scores >= round.scoresNeeded else { throw LinliError.conflict(nil, "not_scored", "还需 \(round.scoresNeeded - scores) 位评审打分") }
            if Self.trimmed(raw).isEmpty || Self.trimmed(raw) == "0" {
                try await db.raw("UPDATE venture_applications SET status = 'declined' WHERE id = \(bind: applicationID)").run()
                try await audit.append(db, actor: actor, action: "venture.decline", objectType: "venture_application", objectID: applicationID, path: round.path)
                return
            }
            let amount = try Fen.parse(raw, field: "amount")
            guard amount <= a.requested else { throw LinliError.invalid("amount", "above_request", "资助金额不能超过申请金额") }
            let awarded = try await db.raw("SELECT CAST(COALESCE(SUM(award), 0) AS BIGINT) AS s FROM venture_applications WHERE round_id = \(bind: a.round) AND status = 'awarded'").first()!
                .decode(column: "s", as: Int64.self)
            guard awarded + amount <= round.budget else {
                throw LinliError.invalid("amount", "beyond_budget", "超出本期创投余额：总额 \(Fen.text(round.budget)) 元，已资助 \(Fen.text(awarded)) 元")
            }
            try await db.raw("UPDATE venture_applications SET status = 'awarded', award = \(bind: amount) WHERE id = \(bind: applicationID)").run()
            try await audit.append(db, actor: actor, action: "venture.award", objectType: "venture_application", objectID: applicationID, path: round.path, detail: "award=\(amount)")
        }
    }

    /// Pays the next instalment of an award into the project (the last one pays what remains).
    public func payInstalment(applicationID: Int64, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let a = try await fetchApplication(db, applicationID)
            let round = try await fetchRound(db, a.round)
            try Self.requireReviewer(actor, round.path)
            guard a.status == "awarded" else { throw LinliError.conflict(nil, "not_awarded", "该申请未获资助") }
            guard a.paid < round.instalments else { throw LinliError.conflict(nil, "fully_paid", "资助已全部拨付") }
            let each = a.award / Int64(round.instalments)
            let amount = a.paid + 1 == round.instalments ? a.award - each * Int64(round.instalments - 1) : each
            let p = try await fetchProject(db, a.project, nil, .linkageView)
            let fund = try await account(db, .venture, round.id, path: round.path, name: "公益创投：" + round.name)
            guard try await lockedBalance(db, fund) >= amount else { throw LinliError.conflict(nil, "venture_spent", "创投资金余额不足") }
            let projectAccount = try await account(db, .project, p.id, path: p.path, name: p.title)
            try await lockProject(db, p.id)
            let txn = try await post(db, Movement(kind: "grant", communityID: p.communityID, projectID: p.id, amount: amount, memo: "\(round.name) 第 \(a.paid + 1) 期"),
                                     [Posting(fund, -amount), Posting(projectAccount, amount)], actor: actor, now: now)
            try await db.raw("UPDATE venture_applications SET paid_instalments = paid_instalments + 1 WHERE id = \(bind: applicationID)").run()
            try await audit.append(db, actor: actor, action: "venture.pay", objectType: "venture_application", objectID: applicationID, path: round.path, detail: "amount=\(amount)")
            return txn
        }
    }

    /// The funded project's evaluation, once every instalment is paid.
    public func evaluateGrant(applicationID: Int64, evaluation raw: String?, rating: Int?, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchApplication(db, applicationID)
            let round = try await fetchRound(db, a.round)
            try Self.requireReviewer(actor, round.path)
            guard a.status == "awarded", a.paid == round.instalments else { throw LinliError.conflict(nil, "not_paid", "资助拨付完毕后才能评估") }
            let text = Self.trimmed(raw)
            guard !text.isEmpty, text.count <= LinkageLimits.textMax else { throw LinliError.invalid("evaluation", "required", "请填写评估意见") }
            guard let r = rating, (1...5).contains(r) else { throw LinliError.invalid("rating", "invalid", "评分应为 1 到 5") }
            try await db.raw("UPDATE venture_applications SET status = 'evaluated', evaluation = \(bind: text), rating = \(bind: r) WHERE id = \(bind: applicationID)").run()
            try await audit.append(db, actor: actor, action: "venture.evaluate", objectType: "venture_application", objectID: applicationID, path: round.path)
        }
    }

    public func closeRound(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let round = try await fetchRound(db, id)
            try Self.requireReviewer(actor, round.path)
            try await db.raw("UPDATE venture_rounds SET status = 'reviewing' WHERE id = \(bind: id) AND status = 'open'").run()
        }
    }

    public struct RoundView: Sendable, Codable {
        public var id: Int64
        public var name: String
        public var place: String
        public var budgetText: String
        public var awardedText: String
        public var leftText: String
        public var status: String
        public var scoresNeeded: Int
        public var instalments: Int
        public var review: Bool
        public var applications: [Application]
        public var isOpen: Bool
        public struct Application: Sendable, Codable {
            public var id: Int64
            public var projectID: Int64
            public var project: String
            public var community: String
            public var organisation: String?
            public var requestedText: String
            public var plan: String
            public var status: String
            public var scores: Int
            public var average: String
            public var awardText: String
            public var paid: Int
            public var evaluation: String
            public var rating: Int?
            public var canScore: Bool
            public var canAward: Bool
            public var canPay: Bool
            public var canEvaluate: Bool
            enum CodingKeys: String, CodingKey {
                case id, projectID = "project_id", project, community, organisation, requestedText = "requested_text", plan, status = "application_status", scores, average
                case awardText = "award_text", paid, evaluation, rating, canScore = "can_score", canAward = "can_award", canPay = "can_pay", canEvaluate = "can_evaluate"
            }
        }
        enum CodingKeys: String, CodingKey {
            case id, name, place, budgetText = "budget_text", awardedText = "awarded_text", leftText = "left_text", status = "round_status"
            case scoresNeeded = "scores_needed", instalments, review, applications, isOpen = "is_open"
        }
    }

    public func rounds(actor: Actor) async throws -> [RoundView] {
        let ids: [Int64] = try await store.read { db in
            try await db.raw("SELECT id, path FROM venture_rounds ORDER BY id DESC LIMIT 100").all().compactMap { r in
                Self.seesRound(actor, try r.decode(column: "path", as: String.self)) ? try r.decode(column: "id", as: Int64.self) : nil
            }
        }
        var out: [RoundView] = []
        for id in ids { out.append(try await round(id, actor: actor)) }
        return out
    }

    public func round(_ id: Int64, actor: Actor) async throws -> RoundView {
        try await store.read { db in
            let round = try await fetchRound(db, id)
            guard Self.seesRound(actor, round.path) else { throw LinliError.notFound }
            let review = Self.covers(actor, .fundPool, round.path)
            let place = try await db.raw("SELECT p.name FROM venture_rounds r JOIN places p ON p.id = r.place_id WHERE r.id = \(bind: id)").first()!.decode(column: "name", as: String.self)
            let rows = try await db.raw("""
                SELECT a.id, a.project_id, m.title, m.path, c.name AS community, o.name AS org, a.requested, a.plan, a.status, a.award, a.paid_instalments, a.evaluation, a.rating, a.created_by,
                       (SELECT COUNT(*) FROM venture_scores s WHERE s.application_id = a.id) AS scores,
                       (SELECT CAST(COALESCE(SUM(s.score), 0) AS BIGINT) FROM venture_scores s WHERE s.application_id = a.id) AS total,
                       (SELECT COUNT(*) FROM venture_scores s WHERE s.application_id = a.id AND s.user_id = \(bind: actor.userID)) AS mine
                FROM venture_applications a JOIN micro_projects m ON m.id = a.project_id JOIN places c ON c.id = m.community_id LEFT JOIN organisations o ON o.id = a.organisation_id
                WHERE a.round_id = \(bind: id) ORDER BY a.id
                """).all()
            var awarded: Int64 = 0
            var apps: [RoundView.Application] = []
            for r in rows {
                let path = try r.decode(column: "path", as: String.self)
                // Communities see only their own applications; reviewers see them all.
                guard review || Self.covers(actor, .linkageView, path) else { continue }
                let status = try r.decode(column: "status", as: String.self), n = try r.decode(column: "scores", as: Int.self)
                let award = try r.decode(column: "award", as: Int64.self), paid = try r.decode(column: "paid_instalments", as: Int.self)
                if status == "awarded" || status == "evaluated" { awarded += award }
                let total = try r.decode(column: "total", as: Int64.self)
                let scoredByMe = try r.decode(column: "mine", as: Int.self) > 0, ownApplication = try r.decode(column: "created_by", as: Int64.self) == actor.userID
                apps.append(.init(id: try r.decode(column: "id", as: Int64.self), projectID: try r.decode(column: "project_id", as: Int64.self),
                                  project: try r.decode(column: "title", as: String.self), community: try r.decode(column: "community", as: String.self),
                                  organisation: try r.decode(column: "org", as: String?.self), requestedText: Fen.text(try r.decode(column: "requested", as: Int64.self)),
                                  plan: try r.decode(column: "plan", as: String.self), status: status, scores: n,
                                  average: n > 0 ? String(format: "%.1f", Double(total) / Double(n)) : "—", awardText: Fen.text(award), paid: paid,
                                  evaluation: try r.decode(column: "evaluation", as: String.self), rating: try r.decode(column: "rating", as: Int?.self),
                                  canScore: review && status == "submitted" && !scoredByMe && !ownApplication,
                                  canAward: review && status == "submitted" && n >= round.scoresNeeded,
                                  canPay: review && status == "awarded" && paid < round.instalments,
                                  canEvaluate: review && status == "awarded" && paid == round.instalments))
            }
            if !review {
                awarded = try await db.raw("SELECT CAST(COALESCE(SUM(award), 0) AS BIGINT) AS s FROM venture_applications WHERE round_id = \(bind: id) AND status IN ('awarded', 'evaluated')").first()!
                    .decode(column: "s", as: Int64.self)
            }
            return RoundView(id: id, name: round.name, place: place, budgetText: Fen.text(round.budget), awardedText: Fen.text(awarded), leftText: Fen.text(round.budget - awarded),
                             status: round.status, scoresNeeded: round.scoresNeeded, instalments: round.instalments, review: review, applications: apps,
                             isOpen: round.status == "open")
        }
    }
}
