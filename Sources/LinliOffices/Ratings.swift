import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct RatingInput: Codable, Sendable {
    /// The item rated; none for the month's handling in general.
    public var itemID: Int64?
    /// The community rating; may be left out by staff of one community only.
    public var communityID: Int64?
    /// 1 (very bad) … 5 (very good); the two lowest are bad ratings.
    public var level: Int?
    public var timeliness: Int?
    public var helpfulness: Int?
    public var comment: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case itemID = "item_id", communityID = "community_id", level, timeliness, helpfulness, comment }
}

public struct RatingAnswerInput: Codable, Sendable {
    /// The department's fix, or its reason to appeal, or the district's reason for its decision.
    public var text: String?
    /// For the district's decision: true keeps the rating, false overturns it.
    public var uphold: Bool?
    public init() {}
}

public struct RatingView: Codable, Sendable {
    public var id: Int64
    public var departmentID: Int64
    public var community: String
    public var itemID: Int64?
    public var itemTitle: String?
    public var period: String
    public var level: Int
    public var timeliness: Int
    public var helpfulness: Int
    public var comment: String
    public var status: RatingStatus
    public var fixDue: String?
    /// A fix still open after its day.
    public var fixLate: Bool
    public var answer: String
    public var appeal: String
    public var decision: String
    public var mayAnswer: Bool
    public var mayDecide: Bool
    enum CodingKeys: String, CodingKey {
        case id, departmentID = "department_id", community, itemID = "item_id", itemTitle = "item_title", period, level, timeliness, helpfulness, comment
        case status, fixDue = "fix_due", fixLate = "fix_late", answer, appeal, decision, mayAnswer = "may_answer", mayDecide = "may_decide"
    }
}

public struct DepartmentView: Codable, Sendable {
    public var id: Int64
    public var name: String
    public var place: String
    public var period: String
    public var figures: RankingRow
    public var ratings: [RatingView]
    /// The communities the viewer rates for, and the items each may rate.
    public var rateFor: [RateChoice]
    public struct RateChoice: Codable, Sendable {
        public var communityID: Int64
        public var community: String
        public var items: [ItemChoice]
        enum CodingKeys: String, CodingKey { case communityID = "community_id", community, items }
    }
    public struct ItemChoice: Codable, Sendable { public var id: Int64; public var title: String }
    enum CodingKeys: String, CodingKey { case id, name, place, period, figures, ratings, rateFor = "rate_for" }
}

public struct RankingRow: Codable, Sendable {
    public var rank: Int
    public var departmentID: Int64
    public var department: String
    public var place: String
    public var ratings: Int
    public var average: String?
    public var bad: Int
    public var badPercent: Int?
    public var fixedOnTime: Int
    public var openFixes: Int
    public var sharesDue: Int
    public var onTimePercent: Int?
    /// Requests routed to it in the period, resolved, on time (percent of resolved), residents' average rating.
    public var requestsRouted: Int
    public var requestsResolved: Int
    public var requestsOnTimePercent: Int?
    public var requestsRating: String?
    enum CodingKeys: String, CodingKey {
        case rank, departmentID = "department_id", department, place, ratings, average, bad, badPercent = "bad_percent", fixedOnTime = "fixed_on_time"
        case openFixes = "open_fixes", sharesDue = "shares_due", onTimePercent = "on_time_percent"
        case requestsRouted = "requests_routed", requestsResolved = "requests_resolved", requestsOnTimePercent = "requests_on_time_percent"
        case requestsRating = "requests_rating"
    }
}

public struct RankingView: Codable, Sendable {
    public var placeID: Int64
    public var placeName: String
    public var period: String
    public var rows: [RankingRow]
    enum CodingKeys: String, CodingKey { case placeID = "place_id", placeName = "place_name", period, rows }
}

extension OfficesService {
    /// Whether the actor may see a department: its own staff; staff whose area overlaps the
    /// department's (a community it serves, the street it sits at or one above).
    static func seesDepartment(_ d: DepartmentRef, _ actor: Actor) -> Bool {
        if departments(actor).contains(d.id) { return true }
        return actor.grants(for: .workItemView).contains { g in g.role != .departmentStaff && (g.placePath.hasPrefix(d.path) || d.path.hasPrefix(g.placePath)) }
    }

    /// The district (or city) staff who decide appeals: their grant sits above the street.
    static func decidesAppeals(_ actor: Actor, path: String) -> Bool {
        actor.grants(for: .officeLists).contains { PlacePath.ids($0.placePath).count <= 2 && path.hasPrefix($0.placePath) }
    }

    static func period(_ raw: String?, today: Int64) throws -> String {
        guard let raw, !raw.isEmpty else { return RatingRules.period(of: today) }
        guard LocalDay.month(raw) != nil else { throw LinliError.invalid("period", "invalid", "月份格式应为 YYYY-MM") }
        return raw
    }

    // MARK: Rating

    public func rate(departmentID: Int64, _ input: RatingInput, actor: Actor) async throws -> Int64 {
        do { return try await rateOnce(departmentID: departmentID, input, actor: actor) } catch where isUniqueViolation(error) {
            // Two ratings of the same at once: the other one was first.
            throw LinliError.conflict("item_id", "rated", "本社区已经评价过了")
        }
    }

    func rateOnce(departmentID: Int64, _ input: RatingInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds, today = LocalDay.of(now)
        let cal = try await calendar()
        return try await store.transaction { db in
            guard let d = try await registry.departments(db, ids: [departmentID])[departmentID], Self.seesDepartment(d, actor) else { throw LinliError.notFound }
            // The communities the actor answers for, inside the department's area.
            let ids = Self.answeringCommunities(actor)
            let mine = ids.isEmpty ? [] : try await db.query("""
                SELECT id, name, path FROM places WHERE kind IN ('community', 'village') AND id IN (\(list: ids))
                """).all().map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "name", as: String.self), try $0.decode(column: "path", as: String.self)) }
                .filter { $0.2.hasPrefix(d.path) }
            let community: (Int64, String, String)?
            if let id = input.communityID { community = mine.first { $0.0 == id } } else { community = mine.count == 1 ? mine[0] : nil }
            guard let community else {
                throw LinliError.invalid("community_id", mine.isEmpty ? "not_yours" : "required", mine.isEmpty ? "只有这个部门服务的社区才能评价它" : "请选择代表哪个社区评价")
            }
            var v = Validator()
            for (field, value) in [("level", input.level), ("timeliness", input.timeliness), ("helpfulness", input.helpfulness)] {
                v.check(value.map(RatingRules.levels.contains) ?? false, field, "invalid", "请选择 1 到 5 级")
            }
            let comment = Self.trimmed(input.comment)
            v.check(comment.count <= 1000, "comment", "too_long", "意见请在 1000 字以内")
            if let level = input.level, RatingRules.isBad(level) { v.check(!comment.isEmpty, "comment", "required", "差评请写明问题，部门须在 15 个工作日内整改答复") }
            var itemTitle: String?
            if let item = input.itemID {
                let share = try await db.query("""
                    SELECT w.title, s.status FROM work_items w JOIN work_item_shares s ON s.item_id = w.id
                    WHERE w.id = \(item) AND w.department_id = \(departmentID) AND s.community_id = \(community.0)
                    """).first()
                let status = try share.map { WorkItemShare(rawValue: try $0.decode(column: "status", as: String.self)) } ?? nil
                v.check([.sent, .done, .refused].contains(status), "item_id", "not_received", "只能评价本社区收到的这个部门的事项")
                itemTitle = try share?.decode(column: "title", as: String.self)
                if try await db.query("SELECT 1 AS x FROM department_ratings WHERE item_id = \(item) AND community_id = \(community.0)").first() != nil {
                    v.add(.conflict("item_id", "rated", "本社区已经评价过这个事项"))
                }
            } else if try await db.query("""
                SELECT 1 AS x FROM department_ratings WHERE department_id = \(departmentID) AND community_id = \(community.0) AND item_id IS NULL AND period = \(RatingRules.period(of: today))
                """).first() != nil {
                v.add(.conflict("item_id", "rated", "本社区本月已经评价过这个部门；可以就具体事项评价"))
            }
            try v.throwIfAny()
            let bad = RatingRules.isBad(input.level!)
            let due: Int64? = bad ? OfficeRules.addWorkingDays(RatingRules.fixDays, to: today, calendar: cal) : nil
            let id = try await db.query("""
                INSERT INTO department_ratings (department_id, community_id, path, item_id, period, level, timeliness, helpfulness, comment, status, fix_due_day, rated_by, rated_at)
                VALUES (\(departmentID), \(community.0), \(community.2), \(input.itemID), \(RatingRules.period(of: today)), \(input.level!), \(input.timeliness!), \(input.helpfulness!),
                        \(comment), \((bad ? RatingStatus.fixing : .fine).rawValue), \(due), \(actor.userID), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "department.rate", objectType: "department_rating", objectID: id, path: community.2,
                                   detail: "department=\(departmentID) level=\(input.level!)")
            let subject = "\(community.1)：" + (itemTitle ?? d.name)
            try await tell(db, try await AccountService.holders(db, organisationID: departmentID), bad ? "rating_bad" : "rating_new", subject, link: "/departments/\(departmentID)#ratings", actor, now)
            return id
        }
    }

    func tell(_ db: any SQLDatabase, _ users: [Int64], _ kind: String, _ subject: String, link: String, _ actor: Actor, _ now: Int64) async throws {
        try await notifier.tell(db, users, except: actor.userID, at: now) { OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: subject, link: link) }
    }

    struct RatingRow { var id: Int64, departmentID: Int64, communityID: Int64, path: String, status: RatingStatus, fixDue: Int64? }

    func ratingRow(_ db: any SQLDatabase, _ id: Int64) async throws -> RatingRow? {
        try await db.query("SELECT id, department_id, community_id, path, status, fix_due_day FROM department_ratings WHERE id = \(id)").first().map {
            RatingRow(id: try $0.decode(column: "id", as: Int64.self), departmentID: try $0.decode(column: "department_id", as: Int64.self),
                      communityID: try $0.decode(column: "community_id", as: Int64.self), path: try $0.decode(column: "path", as: String.self),
                      status: RatingStatus(rawValue: try $0.decode(column: "status", as: String.self)) ?? .fine, fixDue: try $0.decode(column: "fix_due_day", as: Int64?.self))
        }
    }

    /// The rating for someone who may see it: its department, its community, and staff above it.
    func visibleRating(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> RatingRow {
        guard let r = try await ratingRow(db, id) else { throw LinliError.notFound }
        let sees = Self.departments(actor).contains(r.departmentID)
            || actor.grants(for: .workItemView).contains { $0.role != .departmentStaff && r.path.hasPrefix($0.placePath) }
        guard sees else { throw LinliError.notFound }
        return r
    }

    /// The department's answer to a bad rating: what it fixed. Late answers are kept and counted late.
    public func answerRating(_ id: Int64, _ input: RatingAnswerInput, actor: Actor) async throws {
        try await departmentStep(id, input, actor: actor, to: .fixed)
    }

    /// The department appeals a bad rating it finds unfair, to the district.
    public func appealRating(_ id: Int64, _ input: RatingAnswerInput, actor: Actor) async throws {
        try await departmentStep(id, input, actor: actor, to: .appealed)
    }

    func departmentStep(_ id: Int64, _ input: RatingAnswerInput, actor: Actor, to status: RatingStatus) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let r = try await visibleRating(db, id, actor)
            guard Self.departments(actor).contains(r.departmentID) else {
                throw LinliError(.forbidden, code: "department_answers", message: "差评由被评价的部门整改答复或申诉")
            }
            let text = Self.trimmed(input.text)
            guard !text.isEmpty, text.count <= 1000 else {
                throw LinliError.invalid("text", "required", status == .fixed ? "请写明整改情况（1000 字以内）" : "请写明申诉理由（1000 字以内）")
            }
            let changed: BoundSQL = status == .fixed
                ? "UPDATE department_ratings SET status = 'fixed', answer = \(text), answered_at = \(now) WHERE id = \(id) AND status = 'fixing' RETURNING id"
                : "UPDATE department_ratings SET status = 'appealed', appeal = \(text) WHERE id = \(id) AND status = 'fixing' RETURNING id"
            guard r.status == .fixing, try await db.query(changed).first() != nil else {
                throw LinliError.conflict("state", "not_open", "这条评价没有待整改的问题")
            }
            try await audit.append(db, actor: actor, action: "rating." + status.rawValue, objectType: "department_rating", objectID: id, path: r.path)
            let community = try await AccountService.holders(db, role: .communityStaff, placeIDs: [r.communityID])
            try await tell(db, community, status == .fixed ? "rating_fixed" : "rating_appealed", text, link: "/departments/\(r.departmentID)#rating-\(id)", actor, now)
            if status == .appealed {
                let district = PlacePath.ids(r.path).prefix(2)
                let deciders = try await AccountService.holders(db, role: .streetStaff, placeIDs: Array(district)) + AccountService.holders(db, role: .cityAdmin, placeIDs: Array(district))
                try await tell(db, deciders, "rating_appealed", text, link: "/departments/\(r.departmentID)#rating-\(id)", actor, now)
            }
        }
    }

    /// The district decides an appeal: the rating stands (the fix is due again in 15 working
    /// days) or is overturned (it no longer counts).
    public func decideAppeal(_ id: Int64, _ input: RatingAnswerInput, actor: Actor) async throws {
        let now = env.nowSeconds, today = LocalDay.of(now)
        let cal = try await calendar()
        try await store.transaction { db in
            let r = try await visibleRating(db, id, actor)
            guard r.status == .appealed else { throw LinliError.conflict("state", "not_appealed", "这条评价没有待裁定的申诉") }
            guard Self.decidesAppeals(actor, path: r.path) else { throw LinliError(.forbidden, code: "district_decides", message: "申诉由区级裁定") }
            let text = Self.trimmed(input.text)
            var v = Validator()
            v.check(input.uphold != nil, "uphold", "required", "请选择维持或撤销这条评价")
            v.check(!text.isEmpty && text.count <= 1000, "text", "required", "请写明裁定理由（1000 字以内）")
            try v.throwIfAny()
            let due = OfficeRules.addWorkingDays(RatingRules.fixDays, to: today, calendar: cal)
            let changed: BoundSQL = input.uphold!
                ? "UPDATE department_ratings SET status = 'fixing', fix_due_day = \(due), decision = \(text), decided_by = \(actor.userID), decided_at = \(now) WHERE id = \(id) AND status = 'appealed' RETURNING id"
                : "UPDATE department_ratings SET status = 'overturned', decision = \(text), decided_by = \(actor.userID), decided_at = \(now) WHERE id = \(id) AND status = 'appealed' RETURNING id"
            guard try await db.query(changed).first() != nil else { throw LinliError.conflict("state", "not_appealed", "这条评价没有待裁定的申诉") }
            try await audit.append(db, actor: actor, action: input.uphold! ? "rating.upheld" : "rating.overturned", objectType: "department_rating", objectID: id, path: r.path)
            let told = try await AccountService.holders(db, organisationID: r.departmentID) + AccountService.holders(db, role: .communityStaff, placeIDs: [r.communityID])
            try await tell(db, told, input.uphold! ? "rating_upheld" : "rating_overturned", text, link: "/departments/\(r.departmentID)#rating-\(id)", actor, now)
        }
    }

    // MARK: Reading

    public func department(_ id: Int64, period raw: String?, actor: Actor) async throws -> DepartmentView {
        let today = LocalDay.of(env.nowSeconds)
        let period = try Self.period(raw, today: today)
        return try await store.read { db in
            guard let d = try await registry.departments(db, ids: [id])[id], Self.seesDepartment(d, actor) else { throw LinliError.notFound }
            let own = Self.departments(actor).contains(id)
            var scope: [BoundSQL] = []
            if own { scope.append("1 = 1") }
            for g in actor.grants(for: .workItemView) where g.role != .departmentStaff { scope.append("r.path LIKE \(g.placePath + "%")") }
            let rows = scope.isEmpty ? [] : try await db.query("""
                SELECT r.id, r.community_id, p.name AS community, r.item_id, w.title, r.period, r.level, r.timeliness, r.helpfulness, r.comment, r.status, r.fix_due_day,
                       r.answer, r.appeal, r.decision, r.path
                FROM department_ratings r JOIN places p ON p.id = r.community_id LEFT JOIN work_items w ON w.id = r.item_id
                WHERE r.department_id = \(id) AND (\(BoundSQL.joined(scope, separator: " OR "))) ORDER BY r.id DESC LIMIT 200
                """).all()
            let ratings = try rows.map { r -> RatingView in
                let status = RatingStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .fine
                let due = try r.decode(column: "fix_due_day", as: Int64?.self)
                let path = try r.decode(column: "path", as: String.self)
                return RatingView(
                    id: try r.decode(column: "id", as: Int64.self), departmentID: id, community: try r.decode(column: "community", as: String.self),
                    itemID: try r.decode(column: "item_id", as: Int64?.self), itemTitle: try r.decode(column: "title", as: String?.self),
                    period: try r.decode(column: "period", as: String.self), level: try r.decode(column: "level", as: Int.self),
                    timeliness: try r.decode(column: "timeliness", as: Int.self), helpfulness: try r.decode(column: "helpfulness", as: Int.self),
                    comment: try r.decode(column: "comment", as: String.self), status: status, fixDue: due.map(Self.dayText),
                    fixLate: status == .fixing && (due.map { today > $0 } ?? false), answer: try r.decode(column: "answer", as: String.self),
                    appeal: try r.decode(column: "appeal", as: String.self), decision: try r.decode(column: "decision", as: String.self),
                    mayAnswer: own && status == .fixing, mayDecide: status == .appealed && Self.decidesAppeals(actor, path: path))
            }
            // What the viewer may rate: each community they answer for in the area, with the
            // items it received from this department and has not rated.
            var rateFor: [DepartmentView.RateChoice] = []
            let communities = Self.answeringCommunities(actor)
            if !communities.isEmpty {
                for c in try await db.query("SELECT id, name, path FROM places WHERE id IN (\(list: communities))").all() {
                    let cid = try c.decode(column: "id", as: Int64.self)
                    guard try c.decode(column: "path", as: String.self).hasPrefix(d.path) else { continue }
                    let items = try await db.query("""
                        SELECT w.id, w.title FROM work_items w JOIN work_item_shares s ON s.item_id = w.id
                        WHERE w.department_id = \(id) AND s.community_id = \(cid) AND s.status IN ('sent', 'done', 'refused')
                          AND NOT EXISTS (SELECT 1 FROM department_ratings r WHERE r.item_id = w.id AND r.community_id = \(cid)) ORDER BY w.id DESC LIMIT 50
                        """).all().map { DepartmentView.ItemChoice(id: try $0.decode(column: "id", as: Int64.self), title: try $0.decode(column: "title", as: String.self)) }
                    rateFor.append(.init(communityID: cid, community: try c.decode(column: "name", as: String.self), items: items))
                }
            }
            let figures = try await ranking(db, departments: [d], areaPath: nil, period: period).first!
            return DepartmentView(id: id, name: d.name, place: d.placeName, period: period, figures: figures, ratings: ratings, rateFor: rateFor)
        }
    }

    /// The departments serving a street, district or city, ranked for a month by the ratings
    /// of the communities in it and their items' on-time share; aggregated in the database.
    public func ranking(placeID: Int64, period raw: String?, actor: Actor) async throws -> RankingView {
        let period = try Self.period(raw, today: LocalDay.of(env.nowSeconds))
        return try await store.read { db in
            guard let p = try await place(db, placeID), Self.listPlaceKinds.contains(p.kind),
                  // Anyone in the area sees its ranking: the offices above it, the communities and
                  // departments in it (it is about them).
                  actor.grants(for: .workItemView).contains(where: { p.path.hasPrefix($0.placePath) || $0.placePath.hasPrefix(p.path) }) else { throw LinliError.notFound }
            var departments = try await registry.departments(db, under: [p.path])
            for d in try await registry.departments(db, at: PlacePath.ids(p.path)) where !departments.contains(where: { $0.id == d.id }) { departments.append(d) }
            return RankingView(placeID: placeID, placeName: p.name, period: period, rows: try await ranking(db, departments: departments, areaPath: p.path, period: period))
        }
    }

    func ranking(_ db: any SQLDatabase, departments: [DepartmentRef], areaPath: String?, period: String) async throws -> [RankingRow] {
        guard !departments.isEmpty, let month = LocalDay.month(period) else { return [] }
        let ids = departments.map(\.id)
        let area: BoundSQL = areaPath.map { "AND path LIKE \($0 + "%")" } ?? ""
        var figures = Dictionary(uniqueKeysWithValues: ids.map { ($0, RatingRules.Figures(departmentID: $0)) })
        for r in try await db.query("""
            SELECT department_id, COUNT(*) AS n, SUM(level) AS levels, SUM(CASE WHEN level <= 2 THEN 1 ELSE 0 END) AS bad,
                   SUM(CASE WHEN status = 'fixed' AND answered_at <= \(LocalDay.start(0)) + (fix_due_day + 1) * 86400 THEN 1 ELSE 0 END) AS fixed_on_time,
                   SUM(CASE WHEN status IN ('fixing', 'appealed') THEN 1 ELSE 0 END) AS open_fixes
            FROM department_ratings WHERE department_id IN (\(list: ids)) AND period = \(period) AND status <> 'overturned' \(area) GROUP BY department_id
            """).all() {
            let d = try r.decode(column: "department_id", as: Int64.self)
            figures[d]?.ratings = try r.decode(column: "n", as: Int.self)
            figures[d]?.levelSum = try r.decode(column: "levels", as: Int.self)
            figures[d]?.bad = try r.decode(column: "bad", as: Int.self)
            figures[d]?.fixedOnTime = try r.decode(column: "fixed_on_time", as: Int.self)
            figures[d]?.openFixes = try r.decode(column: "open_fixes", as: Int.self)
        }
        let shareArea: BoundSQL = areaPath.map { "AND s.path LIKE \($0 + "%")" } ?? ""
        for r in try await db.query("""
            SELECT w.department_id, COUNT(*) AS due,
                   SUM(CASE WHEN s.status = 'done' AND s.answered_at < \(LocalDay.start(0)) + (w.due_day + 1) * 86400 THEN 1 ELSE 0 END) AS on_time
            FROM work_item_shares s JOIN work_items w ON w.id = s.item_id
            WHERE w.department_id IN (\(list: ids)) AND w.due_day BETWEEN \(month.first) AND \(month.last) AND s.status IN ('sent', 'done') \(shareArea)
            GROUP BY w.department_id
            """).all() {
            let d = try r.decode(column: "department_id", as: Int64.self)
            figures[d]?.sharesDue = try r.decode(column: "due", as: Int.self)
            figures[d]?.sharesOnTime = try r.decode(column: "on_time", as: Int.self)
        }
        let monthStart = LocalDay.start(0) + month.first * 86400, monthEnd = LocalDay.start(0) + (month.last + 1) * 86400
        for (d, f) in try await RequestsService.departmentFigures(db, organisationIDs: ids, from: monthStart, to: monthEnd, areaPath: areaPath) { figures[d]?.requests = f }
        let byID = Dictionary(uniqueKeysWithValues: departments.map { ($0.id, $0) })
        func centis(_ v: Int?) -> String? { v.map { String(format: "%d.%02d", $0 / 100, $0 % 100) } }
        return RatingRules.rank(Array(figures.values)).enumerated().map { i, f in
            RankingRow(rank: i + 1, departmentID: f.departmentID, department: byID[f.departmentID]?.name ?? "", place: byID[f.departmentID]?.placeName ?? "",
                       ratings: f.ratings, average: centis(f.averageCentis), bad: f.bad, badPercent: f.badPercent,
                       fixedOnTime: f.fixedOnTime, openFixes: f.openFixes, sharesDue: f.sharesDue, onTimePercent: f.onTimePercent,
                       requestsRouted: f.requests.routed, requestsResolved: f.requests.resolved, requestsOnTimePercent: f.requestsOnTimePercent,
                       requestsRating: centis(f.requestsRatingCentis))
        }
    }
}

extension OfficesService {
    /// The department a rating is about, for someone who may see the rating.
    public func ratingDepartment(_ id: Int64, actor: Actor) async throws -> Int64 {
        try await store.read { db in try await visibleRating(db, id, actor).departmentID }
    }
}
