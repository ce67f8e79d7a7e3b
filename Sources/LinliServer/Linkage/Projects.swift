import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Residents' needs and proposals, micro-projects through analysis → decision → execution →
/// evaluation, the catalogue of government-purchased services and the gap it leaves, social
/// workers and their training.
extension LinkageService {
    /// Service domains, shared by needs, projects and the purchased-service catalogue.
    public static let domains: [(String, String, String)] = [
        ("elderly", "养老助老", "Elderly care"), ("disability", "助残", "Disability support"), ("children", "儿童青少年", "Children and youth"),
        ("family", "家庭婚姻", "Families"), ("health", "健康医疗", "Health"), ("environment", "环境设施", "Environment and facilities"),
        ("culture", "文化体育", "Culture and sport"), ("employment", "就业帮扶", "Employment"), ("mediation", "矛盾调解", "Mediation"), ("other", "其他", "Other"),
    ]
    static func domainLabel(_ code: String) -> String { domains.first { $0.0 == code }?.1 ?? code }

    // MARK: Needs

    public struct NeedInput: Sendable, Codable {
        public var communityID: Int64?
        public var placeID: Int64?
        /// `need` or `proposal`.
        public var kind: String?
        public var domain: String?
        public var title: String?
        public var body: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case communityID = "community_id", placeID = "place_id", kind, domain, title, body }
    }

    public func postNeed(_ input: NeedInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let title = Self.trimmed(input.title), body = Self.trimmed(input.body)
        v.check(!title.isEmpty && title.count <= LinkageLimits.titleMax, "title", "required", "请填写标题（\(LinkageLimits.titleMax) 字以内）")
        v.check(body.count <= LinkageLimits.textMax, "body", "too_long", "内容过长")
        v.check(["need", "proposal"].contains(input.kind ?? "need"), "kind", "invalid", "类型应为需求或建议")
        v.check(Self.domains.contains { $0.0 == (input.domain ?? "") }, "domain", "invalid", "请选择领域")
        try v.throwIfAny()
        return try await store.transaction { db in
            let c = try await community(db, input.communityID, actor, .needPost)
            var place = c.id
            if let pid = input.placeID {
                guard try await db.raw("SELECT id FROM places WHERE id = \(bind: pid) AND \(store.dialect.startsWith("path", c.path))").first() != nil else {
                    throw LinliError.invalid("place_id", "out_of_scope", "地点不在本社区")
                }
                place = pid
            }
            let id = try await db.raw("""
                INSERT INTO needs (community_id, path, place_id, kind, domain, title, body, status, supporters, created_by, created_at)
                VALUES (\(bind: c.id), \(bind: c.path), \(bind: place), \(bind: input.kind ?? "need"), \(bind: input.domain!), \(bind: title), \(bind: body), 'open', 1,
                        \(bind: actor.userID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.raw("INSERT INTO need_supports (need_id, user_id, at) VALUES (\(bind: id), \(bind: actor.userID), \(bind: now))").run()
            try await audit.append(db, actor: actor, action: "need.post", objectType: "need", objectID: id, path: c.path)
            return id
        }
    }

    /// Adds the actor's support (once); returns the new count.
    public func support(needID: Int64, actor: Actor) async throws -> Int {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let n = try await db.raw("SELECT path, title, created_by, status FROM needs WHERE id = \(bind: needID)\(unsafeRaw: lockRow)").first() else { throw LinliError.notFound }
            try Self.require(actor, .needPost, try n.decode(column: "path", as: String.self))
            guard try n.decode(column: "status", as: String.self) == "open" else { throw LinliError.conflict(nil, "need_closed", "该需求已立项或关闭") }
            if try await db.raw("SELECT 1 AS x FROM need_supports WHERE need_id = \(bind: needID) AND user_id = \(bind: actor.userID)").first() == nil {
                try await db.raw("INSERT INTO need_supports (need_id, user_id, at) VALUES (\(bind: needID), \(bind: actor.userID), \(bind: now))").run()
                try await db.raw("UPDATE needs SET supporters = supporters + 1 WHERE id = \(bind: needID)").run()
                try await notify(db, [try n.decode(column: "created_by", as: Int64.self)], kind: "need_supported", subject: try n.decode(column: "title", as: String.self),
                                 link: "/needs?community=\(PlacePath.ids(try n.decode(column: "path", as: String.self))[3])", except: actor.userID)
            }
            return try await db.raw("SELECT supporters FROM needs WHERE id = \(bind: needID)").first()!.decode(column: "supporters", as: Int.self)
        }
    }

    public struct NeedView: Sendable, Codable {
        public var id: Int64
        public var kind: String
        public var domain: String
        public var domainLabel: String
        public var title: String
        public var body: String
        public var place: String
        public var status: String
        public var supporters: Int
        public var supported: Bool
        public var covered: Bool
        public var projectID: Int64?
        public var atText: String
        enum CodingKeys: String, CodingKey {
            case id, kind, domain, domainLabel = "domain_label", title, body, place, status = "need_status", supporters, supported, covered, projectID = "project_id", atText = "at_text"
        }
    }

    /// A community's needs, most supported first, each marked whether a purchased service covers its domain.
    public func needs(communityID: Int64, uncoveredOnly: Bool = false, actor: Actor) async throws -> [NeedView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            let covered = try await coveredDomains(db, communityID: c.id)
            return try await db.raw("""
                SELECT n.id, n.kind, n.domain, n.title, n.body, n.status, n.supporters, n.created_at, p.name AS place,
                       (SELECT COUNT(*) FROM need_supports s WHERE s.need_id = n.id AND s.user_id = \(bind: actor.userID)) AS mine,
                       (SELECT MIN(m.id) FROM micro_projects m WHERE m.need_id = n.id) AS project_id
                FROM needs n JOIN places p ON p.id = n.place_id WHERE n.community_id = \(bind: c.id)
                ORDER BY CASE WHEN n.status = 'open' THEN 0 ELSE 1 END, n.supporters DESC, n.id DESC LIMIT 300
                """).all().compactMap { r in
                let domain = try r.decode(column: "domain", as: String.self)
                if uncoveredOnly && covered.contains(domain) { return nil }
                return NeedView(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self), domain: domain,
                                domainLabel: Self.domainLabel(domain), title: try r.decode(column: "title", as: String.self), body: try r.decode(column: "body", as: String.self),
                                place: try r.decode(column: "place", as: String.self), status: try r.decode(column: "status", as: String.self),
                                supporters: try r.decode(column: "supporters", as: Int.self), supported: try r.decode(column: "mine", as: Int.self) > 0,
                                covered: covered.contains(domain), projectID: try r.decode(column: "project_id", as: Int64?.self),
                                atText: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)))
            }
        }
    }

    func coveredDomains(_ db: any SQLDatabase, communityID: Int64) async throws -> Set<String> {
        Set(try await db.raw("""
            SELECT DISTINCT s.domain FROM purchased_services s JOIN service_reach r ON r.service_id = s.id WHERE r.community_id = \(bind: communityID)
            """).all().map { try $0.decode(column: "domain", as: String.self) })
    }

    // MARK: Purchased services and the gap

    public struct ServiceInput: Sendable, Codable {
        public var placeID: Int64?
        public var domain: String?
        public var name: String?
        public var provider: String?
        public var communityIDs: [Int64]?
        public init() {}
        enum CodingKeys: String, CodingKey { case placeID = "place_id", domain, name, provider, communityIDs = "community_ids" }
    }

    /// A government-purchased service and the communities it reaches.
    public func addService(_ input: ServiceInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let name = Self.trimmed(input.name), provider = Self.trimmed(input.provider)
        v.check(!name.isEmpty && name.count <= 80, "name", "required", "请填写服务名称")
        v.check(!provider.isEmpty && provider.count <= 80, "provider", "required", "请填写承接机构")
        v.check(Self.domains.contains { $0.0 == (input.domain ?? "") }, "domain", "invalid", "请选择领域")
        v.check(!(input.communityIDs ?? []).isEmpty, "community_ids", "required", "请选择覆盖的社区")
        try v.throwIfAny()
        return try await store.transaction { db in
            guard let pid = input.placeID, let p = try await db.raw("SELECT path FROM places WHERE id = \(bind: pid)").first() else {
                throw LinliError.invalid("place_id", "required", "请选择购买方所在范围")
            }
            let path = try p.decode(column: "path", as: String.self)
            guard Self.covers(actor, .projectManage, path) else { throw LinliError.invalid("place_id", "out_of_scope", "不能在该范围登记") }
            let id = try await db.raw("""
                INSERT INTO purchased_services (place_id, path, domain, name, provider, created_at) VALUES (\(bind: pid), \(bind: path), \(bind: input.domain!), \(bind: name), \(bind: provider), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            for cid in Set(input.communityIDs ?? []) {
                guard try await db.raw("SELECT id FROM places WHERE id = \(bind: cid) AND kind IN ('community', 'village') AND \(store.dialect.startsWith("path", path))").first() != nil else {
                    throw LinliError.invalid("community_ids", "out_of_scope", "社区 \(cid) 不在购买方范围内")
                }
                try await db.raw("INSERT INTO service_reach (service_id, community_id) VALUES (\(bind: id), \(bind: cid))").run()
            }
            try await audit.append(db, actor: actor, action: "service.add", objectType: "purchased_service", objectID: id, path: path)
            return id
        }
    }

    public struct GapRow: Sendable, Codable {
        public var domain: String
        public var label: String
        public var needs: Int
        public var supporters: Int
        public var services: [String]
        public var gap: Bool
    }

    /// Per domain: what residents ask (open needs and their supporters) against the purchased
    /// services that reach the community. A domain asked for with no service is a gap.
    public func gap(communityID: Int64, actor: Actor) async throws -> [GapRow] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            var asked: [String: (Int, Int)] = [:]
            for r in try await db.raw("""
                SELECT domain, COUNT(*) AS n, CAST(SUM(supporters) AS BIGINT) AS s FROM needs WHERE community_id = \(bind: c.id) AND status = 'open' GROUP BY domain
                """).all() {
                asked[try r.decode(column: "domain", as: String.self)] = (try r.decode(column: "n", as: Int.self), Int(try r.decode(column: "s", as: Int64.self)))
            }
            var services: [String: [String]] = [:]
            for r in try await db.raw("""
                SELECT s.domain, s.name, s.provider FROM purchased_services s JOIN service_reach x ON x.service_id = s.id WHERE x.community_id = \(bind: c.id) ORDER BY s.id
                """).all() {
                services[try r.decode(column: "domain", as: String.self), default: []].append(try r.decode(column: "name", as: String.self) + "（" + (try r.decode(column: "provider", as: String.self)) + "）")
            }
            return Self.domains.compactMap { d in
                let a = asked[d.0] ?? (0, 0), s = services[d.0] ?? []
                if a.0 == 0 && s.isEmpty { return nil }
                return GapRow(domain: d.0, label: d.1, needs: a.0, supporters: a.1, services: s, gap: a.0 > 0 && s.isEmpty)
            }.sorted { ($0.gap ? 0 : 1, -$0.supporters) < ($1.gap ? 0 : 1, -$1.supporters) }
        }
    }

    /// One service domain across several communities (a street's needs analysis): the open
    /// needs in its pool and their supporters, and how many of the communities asking have no
    /// purchased service reaching them in that domain, with those needs.
    public struct DomainGap: Sendable, Codable, Equatable {
        public var domain: String
        public var needs: Int
        public var supporters: Int
        public var communities: Int
        public var uncoveredCommunities: Int
        public var uncoveredNeeds: Int
        public var uncoveredSupporters: Int
        enum CodingKeys: String, CodingKey {
            case domain, needs, supporters, communities, uncoveredCommunities = "uncovered_communities", uncoveredNeeds = "uncovered_needs"
            case uncoveredSupporters = "uncovered_supporters"
        }
    }

    /// `gap` over several communities, read for a caller that has checked its scope (the
    /// situation capability's needs analysis): domains asked for, the uncovered first.
    public func serviceGaps(communities: [Int64]) async throws -> [DomainGap] {
        guard !communities.isEmpty else { return [] }
        return try await store.read { db in
            var covered = Set<String>()
            for r in try await db.query("""
                SELECT DISTINCT x.community_id, s.domain FROM purchased_services s JOIN service_reach x ON x.service_id = s.id WHERE x.community_id IN (\(list: communities))
                """).all() {
                covered.insert("\(try r.decode(column: "community_id", as: Int64.self))|\(try r.decode(column: "domain", as: String.self))")
            }
            var out: [String: DomainGap] = [:]
            for r in try await db.query("""
                SELECT community_id, domain, COUNT(*) AS n, CAST(SUM(supporters) AS BIGINT) AS s FROM needs
                WHERE status = 'open' AND community_id IN (\(list: communities)) GROUP BY community_id, domain
                """).all() {
                let c = try r.decode(column: "community_id", as: Int64.self), d = try r.decode(column: "domain", as: String.self)
                let n = try r.decode(column: "n", as: Int.self), s = Int(try r.decode(column: "s", as: Int64.self))
                var g = out[d] ?? DomainGap(domain: d, needs: 0, supporters: 0, communities: 0, uncoveredCommunities: 0, uncoveredNeeds: 0, uncoveredSupporters: 0)
                g.needs += n; g.supporters += s; g.communities += 1
                if !covered.contains("\(c)|\(d)") { g.uncoveredCommunities += 1; g.uncoveredNeeds += n; g.uncoveredSupporters += s }
                out[d] = g
            }
            return out.values.sorted { ($0.uncoveredSupporters, $0.uncoveredNeeds, $1.domain) > ($1.uncoveredSupporters, $1.uncoveredNeeds, $0.domain) }
        }
    }

    // MARK: Micro-projects

    struct ProjectRow: Sendable {
        var id: Int64, communityID: Int64, path: String, needID: Int64?, title: String, summary: String, domain: String, stage: ProjectStage
        var budget: Int64, organisationID: Int64?, socialWorkerID: Int64?, evaluation: String, rating: Int?, createdBy: Int64
    }

    func fetchProject(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor?, _ action: Action) async throws -> ProjectRow {
        guard let r = try await db.raw("SELECT * FROM micro_projects WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
        let p = ProjectRow(id: id, communityID: try r.decode(column: "community_id", as: Int64.self), path: try r.decode(column: "path", as: String.self),
                           needID: try r.decode(column: "need_id", as: Int64?.self), title: try r.decode(column: "title", as: String.self),
                           summary: try r.decode(column: "summary", as: String.self), domain: try r.decode(column: "domain", as: String.self),
                           stage: ProjectStage(rawValue: try r.decode(column: "stage", as: String.self)) ?? .analysis, budget: try r.decode(column: "budget", as: Int64.self),
                           organisationID: try r.decode(column: "organisation_id", as: Int64?.self), socialWorkerID: try r.decode(column: "social_worker_id", as: Int64?.self),
                           evaluation: try r.decode(column: "evaluation", as: String.self), rating: try r.decode(column: "rating", as: Int?.self),
                           createdBy: try r.decode(column: "created_by", as: Int64.self))
        if let actor { try Self.require(actor, action, p.path) }
        return p
    }

    public struct ProjectInput: Sendable, Codable {
        public var communityID: Int64?
        public var needID: Int64?
        public var title: String?
        public var summary: String?
        public var domain: String?
        public var budget: String?
        public var organisationID: Int64?
        public var socialWorkerID: Int64?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case communityID = "community_id", needID = "need_id", title, summary, domain, budget, organisationID = "organisation_id", socialWorkerID = "social_worker_id"
        }
    }

    /// A micro-project, often from a need (which then shows it is being acted on).
    public func createProject(_ input: ProjectInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let title = Self.trimmed(input.title), summary = Self.trimmed(input.summary)
        v.check(!title.isEmpty && title.count <= LinkageLimits.titleMax, "title", "required", "请填写项目名称")
        v.check(summary.count <= LinkageLimits.textMax, "summary", "too_long", "简介过长")
        v.check(Self.domains.contains { $0.0 == (input.domain ?? "") }, "domain", "invalid", "请选择领域")
        let budget = v.fen(input.budget, "budget")
        try v.throwIfAny()
        return try await store.transaction { db in
            var communityID = input.communityID
            var needTitle: (String, Int64)?
            if let nid = input.needID {
                guard let n = try await db.raw("SELECT community_id, title, created_by, status FROM needs WHERE id = \(bind: nid)").first() else {
                    throw LinliError.invalid("need_id", "unknown_need", "没有这条需求")
                }
                communityID = try n.decode(column: "community_id", as: Int64.self)
                needTitle = (try n.decode(column: "title", as: String.self), try n.decode(column: "created_by", as: Int64.self))
            }
            let c = try await community(db, communityID, actor, .projectManage)
            if let o = input.organisationID {
                guard try await db.raw("""
                    SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.id = \(bind: o) AND (\(store.dialect.startsWith("p.path", c.path)) OR \(bind: c.path) LIKE p.path || '%')
                    """).first() != nil else { throw LinliError.invalid("organisation_id", "unknown_organisation", "该组织不在本社区") }
            }
            if let w = input.socialWorkerID {
                guard try await db.raw("SELECT id FROM social_workers WHERE id = \(bind: w) AND community_id = \(bind: c.id)").first() != nil else {
                    throw LinliError.invalid("social_worker_id", "unknown_worker", "本社区没有这位社工")
                }
            }
            let id = try await db.raw("""
                INSERT INTO micro_projects (community_id, path, need_id, title, summary, domain, stage, budget, organisation_id, social_worker_id, created_by, created_at, updated_at)
                VALUES (\(bind: c.id), \(bind: c.path), \(bind: input.needID), \(bind: title), \(bind: summary), \(bind: input.domain!), 'analysis', \(bind: budget),
                        \(bind: input.organisationID), \(bind: input.socialWorkerID), \(bind: actor.userID), \(bind: now), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.raw("INSERT INTO project_log (project_id, stage, note, acted_by, at) VALUES (\(bind: id), 'analysis', '立项', \(bind: actor.userID), \(bind: now))").run()
            if let nid = input.needID, let (t, author) = needTitle {
                try await db.raw("UPDATE needs SET status = 'project' WHERE id = \(bind: nid)").run()
                let supporters = try await db.raw("SELECT user_id FROM need_supports WHERE need_id = \(bind: nid)").all().map { try $0.decode(column: "user_id", as: Int64.self) }
                try await notify(db, supporters + [author], kind: "need_project", subject: t, link: "/projects/\(id)", except: actor.userID)
            }
            try await audit.append(db, actor: actor, action: "project.create", objectType: "micro_project", objectID: id, path: c.path)
            return id
        }
    }

    /// Moves a project to its next stage with a note; the evaluation stage ends only with a
    /// written evaluation and a rating, and execution only when every milestone is done.
    public func advanceProject(_ id: Int64, note rawNote: String?, evaluation rawEvaluation: String?, rating: Int?, actor: Actor) async throws -> ProjectStage {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await fetchProject(db, id, actor, .projectManage)
            guard let next = p.stage.next else { throw LinliError.conflict(nil, "project_done", "项目已结束") }
            let note = Self.trimmed(rawNote)
            guard !note.isEmpty, note.count <= LinkageLimits.textMax else { throw LinliError.invalid("note", "required", "请填写本阶段的结论或说明") }
            if p.stage == .execution {
                let open = try await db.raw("SELECT COUNT(*) AS n FROM project_milestones WHERE project_id = \(bind: id) AND done_at IS NULL").first()!.decode(column: "n", as: Int.self)
                guard open == 0 else { throw LinliError.conflict(nil, "milestones_open", "还有 \(open) 个里程碑未完成") }
            }
            var evaluation = p.evaluation, score = p.rating
            if p.stage == .evaluation {
                let e = Self.trimmed(rawEvaluation)
                guard !e.isEmpty, e.count <= LinkageLimits.textMax else { throw LinliError.invalid("evaluation", "required", "请填写评估报告") }
                guard let r = rating, (1...5).contains(r) else { throw LinliError.invalid("rating", "invalid", "评分应为 1 到 5") }
                evaluation = e; score = r
            }
            try await db.raw("""
                UPDATE micro_projects SET stage = \(bind: next.rawValue), evaluation = \(bind: evaluation), rating = \(bind: score), updated_at = \(bind: now) WHERE id = \(bind: id)
                """).run()
            try await db.raw("INSERT INTO project_log (project_id, stage, note, acted_by, at) VALUES (\(bind: id), \(bind: next.rawValue), \(bind: note), \(bind: actor.userID), \(bind: now))").run()
            if next == .done { try await db.raw("UPDATE campaigns SET status = 'closed' WHERE project_id = \(bind: id)").run() }
            var told = [p.createdBy]
            if let n = p.needID {
                told += try await db.raw("SELECT user_id FROM need_supports WHERE need_id = \(bind: n)").all().map { try $0.decode(column: "user_id", as: Int64.self) }
            }
            try await notify(db, told, kind: "project_stage", subject: p.title, link: "/projects/\(id)", except: actor.userID)
            try await audit.append(db, actor: actor, action: "project.advance", objectType: "micro_project", objectID: id, path: p.path, detail: next.rawValue)
            return next
        }
    }

    /// Adds a milestone to a project; its id.
    @discardableResult
    public func addProjectMilestone(_ id: Int64, title rawTitle: String?, dueDay: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            let p = try await fetchProject(db, id, actor, .projectManage)
            guard p.stage != .done else { throw LinliError.conflict(nil, "project_done", "项目已结束") }
            let title = Self.trimmed(rawTitle)
            guard !title.isEmpty, title.count <= LinkageLimits.titleMax else { throw LinliError.invalid("title", "required", "请填写里程碑") }
            var due: Int64?
            if let d = dueDay, !d.isEmpty {
                guard let day = Input.day(d) else { throw LinliError.invalid("due_day", "invalid", "日期格式应为 2026-12-31") }
                due = day
            }
            let row = try await db.raw("INSERT INTO project_milestones (project_id, title, due_day) VALUES (\(bind: id), \(bind: title), \(bind: due)) RETURNING id").first()
            let milestone = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "project.milestone", objectType: "micro_project", objectID: id, path: p.path, detail: title)
            return milestone
        }
    }

    public func completeProjectMilestone(_ milestoneID: Int64, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let m = try await db.raw("SELECT project_id, done_at FROM project_milestones WHERE id = \(bind: milestoneID)").first() else { throw LinliError.notFound }
            let p = try await fetchProject(db, try m.decode(column: "project_id", as: Int64.self), actor, .projectManage)
            guard try m.decode(column: "done_at", as: Int64?.self) == nil else { throw LinliError.conflict(nil, "already_done", "里程碑已完成") }
            try await db.raw("UPDATE project_milestones SET done_at = \(bind: now), done_by = \(bind: actor.userID) WHERE id = \(bind: milestoneID)").run()
            return p.id
        }
    }

    public struct ProjectSummary: Sendable, Codable {
        public var id: Int64
        public var title: String
        public var domainLabel: String
        public var stage: String
        public var budgetText: String
        public var organisation: String?
        enum CodingKeys: String, CodingKey { case id, title, domainLabel = "domain_label", stage, budgetText = "budget_text", organisation }
    }

    public func projects(communityID: Int64, actor: Actor) async throws -> [ProjectSummary] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            return try await db.raw("""
                SELECT m.id, m.title, m.domain, m.stage, m.budget, o.name AS organisation FROM micro_projects m LEFT JOIN organisations o ON o.id = m.organisation_id
                WHERE m.community_id = \(bind: c.id) ORDER BY CASE WHEN m.stage = 'done' THEN 1 ELSE 0 END, m.id DESC LIMIT 300
                """).all().map { r in
                ProjectSummary(id: try r.decode(column: "id", as: Int64.self), title: try r.decode(column: "title", as: String.self),
                               domainLabel: Self.domainLabel(try r.decode(column: "domain", as: String.self)), stage: try r.decode(column: "stage", as: String.self),
                               budgetText: Fen.text(try r.decode(column: "budget", as: Int64.self)), organisation: try r.decode(column: "organisation", as: String?.self))
            }
        }
    }

    public struct ProjectView: Sendable, Codable {
        public var id: Int64
        public var communityID: Int64
        public var title: String
        public var summary: String
        public var domainLabel: String
        public var stage: String
        public var stages: [StageStep]
        public var budgetText: String
        public var organisation: String?
        public var socialWorker: String?
        public var need: String?
        public var needID: Int64?
        public var evaluation: String
        public var rating: Int?
        public var log: [LogLine]
        public var milestones: [Milestone]
        public var tasks: [TaskLink]
        public var hasTasks: Bool
        public var money: MoneyView
        public var manage: Bool
        public var manageMoney: Bool
        public var canDonate: Bool
        public var isEvaluation: Bool
        public var done: Bool
        public struct StageStep: Sendable, Codable { public var stage: String; public var state: String }
        public struct LogLine: Sendable, Codable { public var stage: String; public var note: String; public var atText: String; public var by: String
            enum CodingKeys: String, CodingKey { case stage, note, atText = "at_text", by } }
        public struct Milestone: Sendable, Codable { public var id: Int64; public var title: String; public var due: String?; public var done: Bool }
        public struct TaskLink: Sendable, Codable { public var id: Int64; public var title: String }
        enum CodingKeys: String, CodingKey {
            case id, communityID = "community_id", title, summary, domainLabel = "domain_label", stage, stages, budgetText = "budget_text", organisation
            case socialWorker = "social_worker", need, needID = "need_id", evaluation, rating, log, milestones, tasks, hasTasks = "has_tasks", money, manage, manageMoney = "manage_money"
            case canDonate = "can_donate", isEvaluation = "is_evaluation", done
        }
    }

    public func project(_ id: Int64, actor: Actor) async throws -> ProjectView {
        try await store.read { db in
            let p = try await fetchProject(db, id, actor, .linkageView)
            let extra = try await db.raw("""
                SELECT o.name AS org, w.name AS worker, n.title AS need FROM micro_projects m LEFT JOIN organisations o ON o.id = m.organisation_id
                LEFT JOIN social_workers w ON w.id = m.social_worker_id LEFT JOIN needs n ON n.id = m.need_id WHERE m.id = \(bind: id)
                """).first()!
            let log = try await db.raw("""
                SELECT l.stage, l.note, l.at, u.display_name FROM project_log l JOIN users u ON u.id = l.acted_by WHERE l.project_id = \(bind: id) ORDER BY l.id
                """).all().map { r in
                ProjectView.LogLine(stage: try r.decode(column: "stage", as: String.self), note: try r.decode(column: "note", as: String.self),
                                    atText: LocalTime.text(try r.decode(column: "at", as: Int64.self)), by: try r.decode(column: "display_name", as: String.self))
            }
            let milestones = try await db.raw("SELECT id, title, due_day, done_at FROM project_milestones WHERE project_id = \(bind: id) ORDER BY id").all().map { r in
                ProjectView.Milestone(id: try r.decode(column: "id", as: Int64.self), title: try r.decode(column: "title", as: String.self),
                                      due: try r.decode(column: "due_day", as: Int64?.self).map { ChinaTime.iso(day: $0) },
                                      done: try r.decode(column: "done_at", as: Int64?.self) != nil)
            }
            let tasks = try await db.raw("SELECT id, title FROM volunteer_tasks WHERE project_id = \(bind: id) ORDER BY id").all().map {
                ProjectView.TaskLink(id: try $0.decode(column: "id", as: Int64.self), title: try $0.decode(column: "title", as: String.self))
            }
            let money = try await money(db, p, actor: actor)
            let reached = ProjectStage.allCases.firstIndex(of: p.stage)!
            let stages = ProjectStage.allCases.enumerated().map { i, s in
                ProjectView.StageStep(stage: s.rawValue, state: i < reached ? "past" : (i == reached ? "current" : "future"))
            }
            return ProjectView(id: p.id, communityID: p.communityID, title: p.title, summary: p.summary, domainLabel: Self.domainLabel(p.domain), stage: p.stage.rawValue,
                               stages: stages, budgetText: Fen.text(p.budget), organisation: try extra.decode(column: "org", as: String?.self),
                               socialWorker: try extra.decode(column: "worker", as: String?.self), need: try extra.decode(column: "need", as: String?.self),
                               needID: p.needID, evaluation: p.evaluation, rating: p.rating, log: log, milestones: milestones, tasks: tasks, hasTasks: !tasks.isEmpty, money: money,
                               manage: Self.covers(actor, .projectManage, p.path), manageMoney: Self.covers(actor, .fundManage, p.path),
                               canDonate: money.campaignOpen && (Self.covers(actor, .fundDonate, p.path) || Self.covers(actor, .fundManage, p.path)),
                               isEvaluation: p.stage == .evaluation, done: p.stage == .done)
        }
    }

    // MARK: Social workers

    public struct WorkerInput: Sendable, Codable {
        public var communityID: Int64?
        public var name: String?
        /// `assistant` (助理社会工作师), `social_worker` (社会工作师), `senior` (高级社会工作师), `none`.
        public var certificateLevel: String?
        public var supervisorID: Int64?
        public var organisationID: Int64?
        public init() {}
        enum CodingKeys: String, CodingKey { case communityID = "community_id", name, certificateLevel = "certificate_level", supervisorID = "supervisor_id", organisationID = "organisation_id" }
    }

    public static let certificateLevels = ["none", "assistant", "social_worker", "senior"]
    public static let programmes = ["seed", "sprout", "unfold", "other"]

    public func addWorker(_ input: WorkerInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        let name = Self.trimmed(input.name)
        var v = Validator()
        v.check(!name.isEmpty && name.count <= 40, "name", "required", "请填写姓名")
        v.check(Self.certificateLevels.contains(input.certificateLevel ?? ""), "certificate_level", "invalid", "请选择证书等级")
        try v.throwIfAny()
        return try await store.transaction { db in
            let c = try await community(db, input.communityID, actor, .projectManage)
            if let s = input.supervisorID {
                guard let sup = try await db.raw("SELECT path FROM social_workers WHERE id = \(bind: s)").first(),
                      Self.covers(actor, .projectManage, try sup.decode(column: "path", as: String.self)) else {
                    throw LinliError.invalid("supervisor_id", "unknown_worker", "没有这位督导")
                }
            }
            if let o = input.organisationID {
                guard try await db.raw("SELECT id FROM organisations WHERE id = \(bind: o)").first() != nil else { throw LinliError.invalid("organisation_id", "unknown_organisation", "没有这个组织") }
            }
            let id = try await db.raw("""
                INSERT INTO social_workers (community_id, path, name, certificate_level, supervisor_id, organisation_id, created_at)
                VALUES (\(bind: c.id), \(bind: c.path), \(bind: name), \(bind: input.certificateLevel!), \(bind: input.supervisorID), \(bind: input.organisationID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "worker.add", objectType: "social_worker", objectID: id, path: c.path)
            return id
        }
    }

    /// Records a completed training of a social worker; its id.
    @discardableResult
    public func addTraining(workerID: Int64, programme: String?, title rawTitle: String?, hours: Int?, day: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let w = try await db.raw("SELECT path FROM social_workers WHERE id = \(bind: workerID)").first() else { throw LinliError.notFound }
            let path = try w.decode(column: "path", as: String.self)
            try Self.require(actor, .projectManage, path)
            let title = Self.trimmed(rawTitle)
            var v = Validator()
            v.check(Self.programmes.contains(programme ?? ""), "programme", "invalid", "请选择培训计划")
            v.check(!title.isEmpty && title.count <= LinkageLimits.titleMax, "title", "required", "请填写培训名称")
            v.check((1...1000).contains(hours ?? 0), "hours", "invalid", "学时应为 1 到 1000")
            let d = day.flatMap { Input.day($0) }
            v.check(d != nil, "day", "invalid", "请填写完成日期，如 2026-11-30")
            try v.throwIfAny()
            let row = try await db.raw("""
                INSERT INTO trainings (worker_id, programme, title, hours, completed_day) VALUES (\(bind: workerID), \(bind: programme!), \(bind: title), \(bind: hours!), \(bind: d!))
                RETURNING id
                """).first()
            try await audit.append(db, actor: actor, action: "worker.training", objectType: "social_worker", objectID: workerID, path: path, detail: title)
            return try row!.decode(column: "id", as: Int64.self)
        }
    }

    public struct WorkerView: Sendable, Codable {
        public var id: Int64
        public var name: String
        public var certificateLevel: String
        public var supervisor: String?
        public var organisation: String?
        public var trainingHours: Int
        public var trainings: [Training]
        public var projects: [String]
        public struct Training: Sendable, Codable { public var programme: String; public var title: String; public var hours: Int; public var day: String }
        enum CodingKeys: String, CodingKey {
            case id, name, certificateLevel = "certificate_level", supervisor, organisation, trainingHours = "training_hours", trainings, projects
        }
    }

    public func workers(communityID: Int64, actor: Actor) async throws -> [WorkerView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            let rows = try await db.raw("""
                SELECT w.id, w.name, w.certificate_level, s.name AS supervisor, o.name AS organisation FROM social_workers w
                LEFT JOIN social_workers s ON s.id = w.supervisor_id LEFT JOIN organisations o ON o.id = w.organisation_id
                WHERE w.community_id = \(bind: c.id) ORDER BY w.id
                """).all()
            var out: [WorkerView] = []
            for r in rows {
                let id = try r.decode(column: "id", as: Int64.self)
                let trainings = try await db.raw("SELECT programme, title, hours, completed_day FROM trainings WHERE worker_id = \(bind: id) ORDER BY completed_day").all().map {
                    WorkerView.Training(programme: try $0.decode(column: "programme", as: String.self), title: try $0.decode(column: "title", as: String.self),
                                        hours: try $0.decode(column: "hours", as: Int.self), day: ChinaTime.iso(day: try $0.decode(column: "completed_day", as: Int64.self)))
                }
                let projects = try await db.raw("SELECT title FROM micro_projects WHERE social_worker_id = \(bind: id) ORDER BY id").all().map { try $0.decode(column: "title", as: String.self) }
                out.append(WorkerView(id: id, name: try r.decode(column: "name", as: String.self), certificateLevel: try r.decode(column: "certificate_level", as: String.self),
                                      supervisor: try r.decode(column: "supervisor", as: String?.self), organisation: try r.decode(column: "organisation", as: String?.self),
                                      trainingHours: trainings.reduce(0) { $0 + $1.hours }, trainings: trainings, projects: projects))
            }
            return out
        }
    }

    public struct OrganisationWork: Sendable, Codable {
        public var id: Int64
        public var name: String
        public var kind: String
        public var serviceType: String?
        public var registration: String?
        public var projects: [String]
        public var outcomes: [String]
        public var volunteers: Int
        public var members: [String]
        public var manage: Bool
        enum CodingKeys: String, CodingKey { case id, name, kind, serviceType = "service_type", registration = "org_registration", projects, outcomes, volunteers, members, manage }
    }

    /// A member of a social organisation (a founder, a staff member, a resident who joined).
    /// Adds a member to a social organisation's roll; the member's id.
    @discardableResult
    public func addOrganisationMember(_ organisationID: Int64, name rawName: String?, role rawRole: String?, joined: String?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let o = try await db.raw("""
                SELECT p.path FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.id = \(bind: organisationID) AND o.kind = 'social_organisation'
                """).first() else { throw LinliError.notFound }
            let path = try o.decode(column: "path", as: String.self)
            guard actor.may(.projectManage) else { throw LinliError.forbidden }
            // An organisation registered at street level serves the communities below it.
            guard actor.grants(for: .projectManage).contains(where: { path.hasPrefix($0.placePath) || $0.placePath.hasPrefix(path) }) else { throw LinliError.notFound }
            let name = Self.trimmed(rawName), role = Self.trimmed(rawRole)
            var v = Validator()
            v.check(!name.isEmpty && name.count <= 40, "name", "required", "请填写成员姓名")
            v.check(role.count <= 40, "role", "too_long", "职务不超过 40 字")
            var day: Int64?
            if let j = joined, !j.isEmpty { day = Input.day(j); v.check(day != nil, "joined", "invalid", "日期格式应为 2026-01-31") }
            try v.throwIfAny()
            let row = try await db.raw("""
                INSERT INTO organisation_members (organisation_id, name, role, joined_day, created_at)
                VALUES (\(bind: organisationID), \(bind: name), \(bind: role.isEmpty ? "成员" : role), \(bind: day), \(bind: now))
                RETURNING id
                """).first()
            try await audit.append(db, actor: actor, action: "organisation.member", objectType: "organisation", objectID: organisationID, path: path)
            return try row!.decode(column: "id", as: Int64.self)
        }
    }

    /// Social organisations serving a community with the projects they carry and their evaluations.
    public func organisationWork(communityID: Int64, actor: Actor) async throws -> [OrganisationWork] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            let rows = try await db.raw("""
                SELECT o.id, o.name, o.kind, o.service_type, o.registration FROM organisations o JOIN places p ON p.id = o.place_id
                WHERE o.kind = 'social_organisation' AND (\(store.dialect.startsWith("p.path", c.path)) OR \(bind: c.path) LIKE p.path || '%') ORDER BY o.id LIMIT 200
                """).all()
            var out: [OrganisationWork] = []
            for r in rows {
                let id = try r.decode(column: "id", as: Int64.self)
                let ps = try await db.raw("SELECT title, evaluation, rating FROM micro_projects WHERE organisation_id = \(bind: id) ORDER BY id").all()
                let members = try await db.raw("SELECT name, role FROM organisation_members WHERE organisation_id = \(bind: id) ORDER BY id").all().map {
                    "\(try $0.decode(column: "name", as: String.self))（\(try $0.decode(column: "role", as: String.self))）"
                }
                let volunteers = try await db.raw("""
                    SELECT COUNT(DISTINCT m.volunteer_id) AS n FROM team_members m JOIN volunteer_teams t ON t.id = m.team_id WHERE t.organisation_id = \(bind: id)
                    """).first()!.decode(column: "n", as: Int.self)
                out.append(OrganisationWork(id: id, name: try r.decode(column: "name", as: String.self), kind: try r.decode(column: "kind", as: String.self),
                                            serviceType: try r.decode(column: "service_type", as: String?.self), registration: try r.decode(column: "registration", as: String?.self),
                                            projects: try ps.map { try $0.decode(column: "title", as: String.self) },
                                            outcomes: try ps.compactMap { p in
                                                let e = try p.decode(column: "evaluation", as: String.self)
                                                return e.isEmpty ? nil : "\(try p.decode(column: "title", as: String.self))：\(e)（\(try p.decode(column: "rating", as: Int?.self) ?? 0)/5）"
                                            }, volunteers: volunteers, members: members, manage: Self.covers(actor, .projectManage, c.path)))
            }
            return out
        }
    }
}
