import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct WorkItemInput: Codable, Sendable {
    /// The department it comes from; may be left out by someone who works for one only.
    public var departmentID: Int64?
    /// The street that reviews it; may be left out when the department sits at a street.
    public var streetID: Int64?
    public var communityIDs: [Int64]?
    public var kind: WorkItemKind?
    public var title: String?
    public var detail: String?
    /// The list entry it is sent under; none for an exception the street must justify.
    public var listItemID: Int64?
    /// Units of work per community (households surveyed, meetings held…): the list's fee per unit follows each.
    public var units: Int?
    /// Yuan per community for an item on no list (the list sets it otherwise).
    public var fee: String?
    /// China days, `2027-01-15`.
    public var startsOn: String?
    public var dueOn: String?
    /// Makes a retried submission one item.
    public var clientKey: String?
    /// A district's (or city's) department sending to communities of several streets: the entry
    /// each street's lists hold for it, where it is not `list_item_id` (a street's own list);
    /// one for a street that reviews none of the communities is not used, and one without
    /// `list_item_id` sends that street's part on no list.
    public var streetEntries: [StreetEntry]?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case departmentID = "department_id", streetID = "street_id", communityIDs = "community_ids", kind, title, detail, listItemID = "list_item_id"
        case units, fee, startsOn = "starts_on", dueOn = "due_on", clientKey = "client_key", streetEntries = "street_entries"
    }

    public struct StreetEntry: Codable, Sendable {
        public var streetID: Int64
        public var listItemID: Int64?
        public init(streetID: Int64, listItemID: Int64?) { self.streetID = streetID; self.listItemID = listItemID }
        enum CodingKeys: String, CodingKey { case streetID = "street_id", listItemID = "list_item_id" }
    }
}

public struct WorkItemDecisionInput: Codable, Sendable {
    /// Required to refuse or revoke, and to admit an item on no list.
    public var reason: String?
    public init() {}
}

/// A community's answer: `community_id` may be left out by staff of one community only.
public struct WorkItemAnswerInput: Codable, Sendable {
    public var communityID: Int64?
    public var reason: String?
    /// What was done, counted (households surveyed…), with a word on the evidence.
    public var count: Int?
    public var evidence: String?
    /// Photos of the evidence (a sign-in sheet, a notice), base64, up to nine (JSON).
    public var photosBase64: [String]?
    /// The same photos as uploaded files (the console's form).
    public var photos: [[UInt8]] = []
    public init() {}
    enum CodingKeys: String, CodingKey { case communityID = "community_id", reason, count, evidence, photosBase64 = "photos_base64" }
}

public struct DepartmentFundingInput: Codable, Sendable {
    /// Yuan that have arrived from the treasury.
    public var amount: String?
    public var memo: String?
    public var clientKey: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case amount, memo, clientKey = "client_key" }
}

public struct WorkItemShareView: Codable, Sendable {
    public var communityID: Int64
    public var community: String
    public var status: WorkItemShare
    public var reason: String
    public var count: Int?
    public var evidence: String
    public var late: Bool
    /// The viewer answers for this community.
    public var mine: Bool
    /// Its evidence photos (`/work-item-evidence/{id}`).
    public var photos: [Int64] = []
    enum CodingKeys: String, CodingKey { case communityID = "community_id", community, status, reason, count, evidence, late, mine, photos }
}

public struct WorkItemEventView: Codable, Sendable {
    public var kind: String
    public var community: String?
    public var note: String
    public var by: String
    public var at: String
}

/// Another street's item of the same submission.
public struct WorkItemSibling: Codable, Sendable {
    public var id: Int64
    public var street: String
    public var status: WorkItemStatus
}

public struct WorkItemView: Codable, Sendable {
    public var id: Int64
    public var departmentID: Int64
    public var department: String
    public var streetID: Int64
    public var street: String
    public var kind: WorkItemKind
    public var title: String
    public var detail: String
    public var listItemID: Int64?
    public var listEntry: String?
    public var listKind: OfficeListKind?
    public var listVersion: Int?
    public var listID: Int64?
    public var units: Int
    public var fee: Int64
    public var feeText: String
    public var totalText: String
    public var startsOn: String
    public var dueOn: String
    public var decideBy: String
    public var status: WorkItemStatus
    public var reason: String
    public var decisionOverdue: Bool
    public var shares: [WorkItemShareView]
    public var events: [WorkItemEventView]
    /// What the viewer may do here.
    public var mayDecide: Bool
    public var mayRevoke: Bool
    public var mayAnswer: Bool
    public var communitiesMayRefuse: Bool
    /// The same submission's items at other streets, those the viewer sees whole (a district's
    /// department sends one item to each street that reviews it).
    public var together: [WorkItemSibling] = []
    enum CodingKeys: String, CodingKey {
        case id, departmentID = "department_id", department, streetID = "street_id", street, kind, title, detail, listItemID = "list_item_id"
        case listEntry = "list_entry", listKind = "list_kind", listVersion = "list_version", listID = "list_id", units, fee, feeText = "fee_text"
        case totalText = "total_text", startsOn = "starts_on", dueOn = "due_on", decideBy = "decide_by", status, reason
        case decisionOverdue = "decision_overdue", shares, events, mayDecide = "may_decide", mayRevoke = "may_revoke", mayAnswer = "may_answer"
        case communitiesMayRefuse = "communities_may_refuse", together
    }
}

public struct WorkItemSummary: Codable, Sendable {
    public var id: Int64
    public var title: String
    public var department: String
    public var street: String
    public var kind: WorkItemKind
    public var status: WorkItemStatus
    public var startsOn: String
    public var dueOn: String
    public var decideBy: String
    public var decisionOverdue: Bool
    public var communities: Int
    public var done: Int
    public var refused: Int
    public var late: Int
    /// For a community's staff: their own community's share.
    public var myShare: WorkItemShare?
    enum CodingKeys: String, CodingKey {
        case id, title, department, street, kind, status, startsOn = "starts_on", dueOn = "due_on", decideBy = "decide_by"
        case decisionOverdue = "decision_overdue", communities, done, refused, late, myShare = "my_share"
    }
}

public struct DepartmentBudgetView: Codable, Sendable {
    public var id: Int64
    public var name: String
    public var place: String
    public var balance: Int64
    public var balanceText: String
    /// The viewer may record money arrived for it.
    public var mayFund: Bool
    enum CodingKeys: String, CodingKey { case id, name, place, balance, balanceText = "balance_text", mayFund = "may_fund" }
}

extension OfficesService {
    struct ItemRow {
        var id: Int64, departmentID: Int64, department: String, departmentPath: String, streetID: Int64, street: String, path: String
        var kind: WorkItemKind, title: String, detail: String, listItemID: Int64?, units: Int, fee: Int64
        var starts: Int64, due: Int64, decideBy: Int64, status: WorkItemStatus, reason: String, batchID: Int64?
    }

    struct ShareRow { var communityID: Int64, community: String, path: String, status: WorkItemShare, reason: String, count: Int?, evidence: String }

    func itemRow(_ db: any SQLDatabase, _ id: Int64) async throws -> ItemRow? {
        guard let r = try await db.query("""
            SELECT w.id, w.department_id, w.street_id, s.name AS street, w.path, w.kind, w.title, w.detail,
                   w.list_item_id, w.units, w.fee, w.starts_day, w.due_day, w.decide_by_day, w.status, w.reason, w.batch_id
            FROM work_items w JOIN places s ON s.id = w.street_id WHERE w.id = \(id)
            """).first() else { return nil }
        let departmentID = try r.decode(column: "department_id", as: Int64.self)
        let d = try await registry.departments(db, ids: [departmentID])[departmentID]
        return ItemRow(id: try r.decode(column: "id", as: Int64.self), departmentID: departmentID,
                       department: d?.name ?? "", departmentPath: d?.path ?? "",
                       streetID: try r.decode(column: "street_id", as: Int64.self), street: try r.decode(column: "street", as: String.self),
                       path: try r.decode(column: "path", as: String.self), kind: WorkItemKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .task,
                       title: try r.decode(column: "title", as: String.self), detail: try r.decode(column: "detail", as: String.self),
                       listItemID: try r.decode(column: "list_item_id", as: Int64?.self), units: try r.decode(column: "units", as: Int.self),
                       fee: try r.decode(column: "fee", as: Int64.self), starts: try r.decode(column: "starts_day", as: Int64.self),
                       due: try r.decode(column: "due_day", as: Int64.self), decideBy: try r.decode(column: "decide_by_day", as: Int64.self),
                       status: WorkItemStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted, reason: try r.decode(column: "reason", as: String.self),
                       batchID: try r.decode(column: "batch_id", as: Int64?.self))
    }

    func shares(_ db: any SQLDatabase, _ id: Int64) async throws -> [ShareRow] {
        try await db.query("""
            SELECT s.community_id, p.name, s.path, s.status, s.reason, s.done_count, s.evidence FROM work_item_shares s JOIN places p ON p.id = s.community_id
            WHERE s.item_id = \(id) ORDER BY s.community_id
            """).all().map { r in
            ShareRow(communityID: try r.decode(column: "community_id", as: Int64.self), community: try r.decode(column: "name", as: String.self),
                     path: try r.decode(column: "path", as: String.self), status: WorkItemShare(rawValue: try r.decode(column: "status", as: String.self)) ?? .pending,
                     reason: try r.decode(column: "reason", as: String.self), count: try r.decode(column: "done_count", as: Int?.self),
                     evidence: try r.decode(column: "evidence", as: String.self))
        }
    }

    /// The departments the actor works for.
    static func departments(_ actor: Actor) -> Set<Int64> {
        Set(actor.grants.filter { $0.role == .departmentStaff }.compactMap(\.organisationID))
    }

    /// Whether the actor sees the item whole (its department; the street and those above it),
    /// or only the shares of their communities once it is admitted; nil when not at all.
    enum Seat { case whole, communities([Int64]) }

    static func seat(_ item: ItemRow, _ shares: [ShareRow], _ actor: Actor) -> Seat? {
        if seesWhole(departmentID: item.departmentID, path: item.path, actor) { return .whole }
        guard item.status == .admitted || item.status == .revoked else { return nil }
        let mine = shares.filter { s in s.status != .pending && actor.grants(for: .workItemView).contains { $0.role != .departmentStaff && s.path.hasPrefix($0.placePath) } }
        return mine.isEmpty ? nil : .communities(mine.map(\.communityID))
    }

    /// Its department, and the street it goes through and those above.
    static func seesWhole(departmentID: Int64, path: String, _ actor: Actor) -> Bool {
        departments(actor).contains(departmentID) || actor.grants(for: .workItemView).contains { $0.role != .departmentStaff && path.hasPrefix($0.placePath) }
    }

    static func dayText(_ d: Int64) -> String { ChinaTime.iso(day: d) }

    /// The places the actor answers items for: communities (and below) they hold the answering
    /// right at. A street's staff hold it over every community but answer for none.
    static func answering(_ actor: Actor) -> [String] {
        actor.grants(for: .workItemRespond).filter { PlacePath.ids($0.placePath).count >= 4 }.map(\.placePath)
    }

    /// The communities (ids) of those places.
    static func answeringCommunities(_ actor: Actor) -> [Int64] { answering(actor).map { PlacePath.ids($0)[3] } }

    // MARK: Reading

    public func item(_ id: Int64, actor: Actor) async throws -> WorkItemView {
        let today = LocalDay.of(env.nowSeconds)
        return try await store.read { db in
            guard let w = try await itemRow(db, id) else { throw LinliError.notFound }
            let all = try await shares(db, id)
            guard let seat = Self.seat(w, all, actor) else { throw LinliError.notFound }
            let entry = try await listEntry(db, w.listItemID)
            let visible: [ShareRow]
            switch seat {
            case .whole: visible = all
            case .communities(let ids): visible = all.filter { ids.contains($0.communityID) }
            }
            let answering = Self.answering(actor)
            let respondable = Set(all.filter { s in answering.contains { s.path.hasPrefix($0) } }.map(\.communityID))
            let events = try await db.query("""
                SELECT e.kind, e.community_id, p.name AS community, e.note, e.by_name, e.at FROM work_item_events e LEFT JOIN places p ON p.id = e.community_id
                WHERE e.item_id = \(id) ORDER BY e.id LIMIT 500
                """).all().compactMap { r -> WorkItemEventView? in
                let community = try r.decode(column: "community", as: String?.self)
                if case .communities = seat, let c = try r.decode(column: "community_id", as: Int64?.self), !visible.contains(where: { $0.communityID == c }) { return nil }
                return WorkItemEventView(kind: try r.decode(column: "kind", as: String.self), community: community,
                                         note: try r.decode(column: "note", as: String.self), by: try r.decode(column: "by_name", as: String.self),
                                         at: LocalTime.text(try r.decode(column: "at", as: Int64.self)))
            }
            var photos: [Int64: [Int64]] = [:]
            for r in try await db.query("SELECT id, community_id FROM work_item_evidence WHERE item_id = \(id) ORDER BY id").all() {
                photos[try r.decode(column: "community_id", as: Int64.self), default: []].append(try r.decode(column: "id", as: Int64.self))
            }
            var together: [WorkItemSibling] = []
            if let batch = w.batchID, case .whole = seat {
                for r in try await db.query("""
                    SELECT w.id, w.department_id, w.path, w.status, s.name FROM work_items w JOIN places s ON s.id = w.street_id
                    WHERE w.batch_id = \(batch) AND w.id <> \(id) ORDER BY w.id
                    """).all() where Self.seesWhole(departmentID: try r.decode(column: "department_id", as: Int64.self), path: try r.decode(column: "path", as: String.self), actor) {
                    together.append(WorkItemSibling(id: try r.decode(column: "id", as: Int64.self), street: try r.decode(column: "name", as: String.self),
                                                    status: WorkItemStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted))
                }
            }
            let counted = all.filter { $0.status != .refused && $0.status != .pending }.count
            let reviewer = actor.may(.workItemReview, on: ObjectScope(path: w.path))
            return WorkItemView(
                id: w.id, departmentID: w.departmentID, department: w.department, streetID: w.streetID, street: w.street, kind: w.kind, title: w.title,
                detail: w.detail, listItemID: w.listItemID, listEntry: entry.map { "\($0.code) \($0.title)" }, listKind: entry?.kind, listVersion: entry?.version,
                listID: entry?.listID, units: w.units, fee: w.fee, feeText: Fen.text(w.fee),
                totalText: Fen.text(w.fee * Int64(w.status == .submitted ? all.count : counted)),
                startsOn: Self.dayText(w.starts), dueOn: Self.dayText(w.due), decideBy: Self.dayText(w.decideBy), status: w.status, reason: w.reason,
                decisionOverdue: OfficeRules.decisionOverdue(w.status, decideBy: w.decideBy, today: today),
                shares: visible.map { s in
                    WorkItemShareView(communityID: s.communityID, community: s.community, status: s.status, reason: s.reason, count: s.count, evidence: s.evidence,
                                      late: OfficeRules.late(s.status, due: w.due, today: today), mine: respondable.contains(s.communityID),
                                      photos: photos[s.communityID] ?? [])
                },
                events: events, mayDecide: reviewer && w.status == .submitted, mayRevoke: reviewer && w.status == .admitted,
                mayAnswer: w.status == .admitted && visible.contains { $0.status == .sent && respondable.contains($0.communityID) },
                communitiesMayRefuse: OfficeRules.communityMayRefuse(entry?.kind), together: together)
        }
    }

    struct Entry {
        var listID: Int64, code: String, title: String, kind: OfficeListKind, version: Int, status: String, placePath: String, departmentID: Int64?
        var workKind: WorkItemKind?
    }

    func listEntry(_ db: any SQLDatabase, _ itemID: Int64?) async throws -> Entry? {
        guard let itemID else { return nil }
        return try await db.query("""
            SELECT l.id, i.code, i.title, l.kind, l.version, l.status, l.path, i.department_id, i.work_kind FROM office_list_items i JOIN office_lists l ON l.id = i.list_id WHERE i.id = \(itemID)
            """).first().flatMap { r in
            guard let kind = OfficeListKind(rawValue: try r.decode(column: "kind", as: String.self)) else { return nil }
            return Entry(listID: try r.decode(column: "id", as: Int64.self), code: try r.decode(column: "code", as: String.self),
                         title: try r.decode(column: "title", as: String.self), kind: kind, version: try r.decode(column: "version", as: Int.self),
                         status: try r.decode(column: "status", as: String.self), placePath: try r.decode(column: "path", as: String.self),
                         departmentID: try r.decode(column: "department_id", as: Int64?.self),
                         workKind: try r.decode(column: "work_kind", as: String?.self).flatMap(WorkItemKind.init(rawValue:)))
        }
    }

    /// The items the actor sees, newest first: their department's; everything sent through the
    /// streets they run; the admitted ones their communities received.
    public func items(actor: Actor, limit: Int = 200) async throws -> [WorkItemSummary] {
        let today = LocalDay.of(env.nowSeconds)
        var conditions: [BoundSQL] = []
        let mine = Self.departments(actor)
        if !mine.isEmpty { conditions.append("w.department_id IN (\(list: Array(mine)))") }
        for g in actor.grants(for: .workItemView) where g.role != .departmentStaff {
            conditions.append("w.path LIKE \(g.placePath + "%")")
            conditions.append("(w.status IN ('admitted', 'revoked') AND EXISTS (SELECT 1 FROM work_item_shares x WHERE x.item_id = w.id AND x.path LIKE \(g.placePath + "%")))")
        }
        guard !conditions.isEmpty else { return [] }
        let communityPaths = Self.answering(actor)
        let condition = BoundSQL.joined(conditions, separator: " OR ")
        return try await store.read { db in
            let rows = try await db.query("""
                SELECT w.id, w.title, w.department_id, s.name AS street, w.kind, w.status, w.starts_day, w.due_day, w.decide_by_day
                FROM work_items w JOIN places s ON s.id = w.street_id
                WHERE \(condition) ORDER BY w.id DESC LIMIT \(max(1, min(limit, 500)))
                """).all()
            let ids = try rows.map { try $0.decode(column: "id", as: Int64.self) }
            let departments = try await registry.departments(db, ids: try rows.map { try $0.decode(column: "department_id", as: Int64.self) })
            var shares: [Int64: [(String, WorkItemShare)]] = [:]
            if !ids.isEmpty {
                for r in try await db.query("SELECT item_id, path, status FROM work_item_shares WHERE item_id IN (\(list: ids))").all() {
                    shares[try r.decode(column: "item_id", as: Int64.self), default: []].append(
                        (try r.decode(column: "path", as: String.self), WorkItemShare(rawValue: try r.decode(column: "status", as: String.self)) ?? .pending))
                }
            }
            return try rows.map { r in
                let id = try r.decode(column: "id", as: Int64.self), due = try r.decode(column: "due_day", as: Int64.self)
                let status = WorkItemStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted
                let s = shares[id] ?? []
                let decideBy = try r.decode(column: "decide_by_day", as: Int64.self)
                return WorkItemSummary(
                    id: id, title: try r.decode(column: "title", as: String.self), department: departments[try r.decode(column: "department_id", as: Int64.self)]?.name ?? "",
                    street: try r.decode(column: "street", as: String.self), kind: WorkItemKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .task,
                    status: status, startsOn: Self.dayText(try r.decode(column: "starts_day", as: Int64.self)), dueOn: Self.dayText(due),
                    decideBy: Self.dayText(decideBy), decisionOverdue: OfficeRules.decisionOverdue(status, decideBy: decideBy, today: today),
                    communities: s.count, done: s.filter { $0.1 == .done }.count, refused: s.filter { $0.1 == .refused }.count,
                    late: s.filter { OfficeRules.late($0.1, due: due, today: today) }.count,
                    myShare: s.first { share in communityPaths.contains { share.0.hasPrefix($0) } }?.1)
            }
        }
    }

    // MARK: Submitting

    public func submit(_ input: WorkItemInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds, today = LocalDay.of(now)
        let cal = try await calendar()
        let key = Self.trimmed(input.clientKey)
        do {
            return try await submitOnce(input, key: key, today: today, now: now, cal: cal, actor: actor)
        } catch where isUniqueViolation(error) && !key.isEmpty {
            // The same submission sent twice at once: the other one made it.
            guard let id = try await store.read({ db in try await earlierSubmission(db, key: key, actor: actor) }) else { throw error }
            return id
        }
    }

    func earlierSubmission(_ db: any SQLDatabase, key: String, actor: Actor) async throws -> Int64? {
        guard !key.isEmpty else { return nil }
        return try await db.query("SELECT id FROM work_items WHERE client_key = \(key) AND submitted_by = \(actor.userID)").first()?.decode(column: "id", as: Int64.self)
    }

    /// One item per street that reviews it: the street named, else the department's own street,
    /// else each street the chosen communities lie in (a district's department sending to
    /// several streets), each under its own street's clock and lists; the items of one
    /// submission share a `batch_id` and link to each other.
    func submitOnce(_ input: WorkItemInput, key: String, today: Int64, now: Int64, cal: WorkCalendar, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            if let done = try await earlierSubmission(db, key: key, actor: actor) { return done }
            let mine = Self.departments(actor)
            guard let departmentID = input.departmentID ?? (mine.count == 1 ? mine.first : nil) else {
                throw LinliError.invalid("department_id", mine.isEmpty ? "not_department_staff" : "required",
                                         mine.isEmpty ? "只有部门的工作人员才能以部门名义提交事项" : "请选择以哪个部门提交")
            }
            guard mine.contains(departmentID), let d = try await registry.departments(db, ids: [departmentID])[departmentID] else {
                throw LinliError.invalid("department_id", "not_yours", "您不是这个部门的工作人员")
            }
            let deptPath = d.path, deptName = d.name
            var v = Validator()
            let title = Self.trimmed(input.title), detail = Self.trimmed(input.detail)
            v.check(!title.isEmpty && title.count <= 80, "title", "required", "请填写事项名称（80 字以内）")
            v.check(detail.count <= 2000, "detail", "too_long", "说明请在 2000 字以内")
            v.check(input.kind != nil, "kind", "required", "请选择事项类型")
            let units = input.units ?? 1
            v.check((1...100_000).contains(units), "units", "invalid", "每个社区的工作量应为 1 到 100000")
            let starts = try Input.day(input.startsOn, field: "starts_on"), due = try Input.day(input.dueOn, field: "due_on")
            v.check(starts != nil, "starts_on", "required", "请填写开始日期")
            v.check(due != nil, "due_on", "required", "请填写完成期限")
            if let starts, let due { v.check(due >= starts, "due_on", "before_start", "完成期限不能早于开始日期") }
            let ids = Array(Set(input.communityIDs ?? [])).sorted()
            v.check(!ids.isEmpty && ids.count <= 500, "community_ids", "required", "请选择要下派的社区（最多 500 个）")
            // Communities outside the department's area answer as missing ones.
            var communities: [(id: Int64, path: String)] = []
            if !ids.isEmpty, ids.count <= 500 {
                let rows = try await db.query("SELECT id, path FROM places WHERE id IN (\(list: ids)) AND kind IN ('community', 'village')").all()
                communities = try rows.map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "path", as: String.self)) }
                guard communities.count == ids.count, communities.allSatisfy({ $0.path.hasPrefix(deptPath) }) else { throw LinliError.notFound }
            }
            // The streets that review.
            let named = input.streetID ?? (["street", "town"].contains(d.placeKind) ? d.placeID : nil)
            let streetIDs = named.map { [$0] } ?? Array(Set(communities.compactMap { c -> Int64? in
                let p = PlacePath.ids(c.path)
                return p.count >= 3 ? p[2] : nil
            })).sorted()
            guard !streetIDs.isEmpty else {
                try v.throwIfAny()
                throw LinliError.invalid("street_id", "required", "请选择由哪个街道审核")
            }
            // A street's own entry (the form offers one per street; one for a street that reviews
            // none of the communities chosen has nothing to apply to).
            let entryOf = Dictionary((input.streetEntries ?? []).map { ($0.streetID, $0.listItemID) }, uniquingKeysWith: { a, _ in a })
            // The fee stated for an item on no list, the same at every street.
            var statedFee: Int64 = 0
            if !Self.trimmed(input.fee).isEmpty {
                do { statedFee = try Fen.parse(input.fee, field: "fee") } catch let e as LinliError { v.add(e) }
            }
            var tooLarge = false
            struct Plan { var street: Place; var communities: [(id: Int64, path: String)]; var entryID: Int64?; var fee: Int64?; var decideBy: Int64 }
            var plans: [Plan] = []
            for streetID in streetIDs {
                guard let street = try await place(db, streetID), ["street", "town"].contains(street.kind),
                      street.path.hasPrefix(deptPath) || deptPath.hasPrefix(street.path) else { throw LinliError.notFound }
                let here = communities.filter { $0.path.hasPrefix(street.path) }
                // A named street holds every community chosen.
                guard here.count == communities.count || named == nil else { throw LinliError.notFound }
                let who = streetIDs.count > 1 ? street.name + "：" : ""
                // The reviewing street's clock: apply `lead` working days ahead; it decides within `decide`.
                let (lead, decide) = try await clock(db, path: street.path)
                let earliest = OfficeRules.addWorkingDays(lead, to: today, calendar: cal)
                if let starts { v.check(starts >= earliest, "starts_on", "too_soon", "\(who)须在开始前 \(lead) 个工作日提出：最早可从 \(Self.dayText(earliest)) 开始") }
                let entryID = entryOf[streetID] ?? input.listItemID
                var entry: Entry?
                if let entryID {
                    entry = try await listEntry(db, entryID)
                    let inForce = entry.map { $0.status == "published" && street.path.hasPrefix($0.placePath) } ?? false
                    v.check(inForce, "list_item_id", "not_in_force", "\(who)这一项不在本街道现行的清单上")
                    if inForce, let owner = entry?.departmentID { v.check(owner == departmentID, "list_item_id", "other_department", "\(who)清单上这一项由别的部门负责") }
                }
                let perUnit: Int64? = entry == nil ? nil : try await db.query("SELECT fee_per_unit FROM office_list_items WHERE id = \(entryID!)").first()!
                    .decode(column: "fee_per_unit", as: Int64?.self) ?? 0
                let fee = OfficeRules.fee(perUnit: perUnit, units: units, stated: statedFee)
                if fee == nil, !tooLarge { v.add(LinliError.invalid("units", "too_large", "经费过大，请核对工作量")); tooLarge = true }
                plans.append(Plan(street: street, communities: here, entryID: entry == nil ? nil : entryID, fee: fee,
                                  decideBy: OfficeRules.addWorkingDays(decide, to: today, calendar: cal)))
            }
            try v.throwIfAny()
            var first: Int64?
            for plan in plans {
                let id = try await db.query("""
                    INSERT INTO work_items (department_id, street_id, path, kind, title, detail, list_item_id, units, fee, starts_day, due_day, decide_by_day,
                                            status, submitted_by, submitted_at, client_key, batch_id)
                    VALUES (\(departmentID), \(plan.street.id), \(plan.street.path), \(input.kind!.rawValue), \(title), \(detail), \(plan.entryID), \(units), \(plan.fee!),
                            \(starts!), \(due!), \(plan.decideBy), 'submitted', \(actor.userID), \(now), \(first == nil && !key.isEmpty ? key : nil),
                            \(plans.count > 1 ? first : nil)) RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
                if first == nil, plans.count > 1 { try await db.query("UPDATE work_items SET batch_id = \(id) WHERE id = \(id)").run() }
                first = first ?? id
                try await db.insertRows("INSERT INTO work_item_shares (item_id, community_id, path, status) VALUES ", plan.communities) { "(\(id), \($0.id), \($0.path), 'pending')" }
                try await event(db, id, nil, "submitted", "", actor, now)
                try await audit.append(db, actor: actor, action: "workitem.submit", objectType: "work_item", objectID: id, path: plan.street.path, detail: "\(deptName)：\(title)")
                try await tellStreet(db, plan.street.id, "workitem_submitted", title, id, actor, now)
            }
            return first!
        }
    }

    func event(_ db: any SQLDatabase, _ item: Int64, _ community: Int64?, _ kind: String, _ note: String, _ actor: Actor, _ now: Int64) async throws {
        try await db.query("""
            INSERT INTO work_item_events (item_id, community_id, kind, note, by_name, at) VALUES (\(item), \(community), \(kind), \(note), \(actor.signature), \(now))
            """).run()
    }

    func tell(_ db: any SQLDatabase, _ users: [Int64], _ kind: String, _ subject: String, _ item: Int64, _ actor: Actor, _ now: Int64) async throws {
        try await notifier.tell(db, users, except: actor.userID, at: now) { OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: subject, link: "/work-items/\(item)") }
    }

    func tellStreet(_ db: any SQLDatabase, _ streetID: Int64, _ kind: String, _ subject: String, _ item: Int64, _ actor: Actor, _ now: Int64) async throws {
        try await tell(db, try await AccountService.holders(db, role: .streetStaff, placeIDs: [streetID]), kind, subject, item, actor, now)
    }

    func tellDepartment(_ db: any SQLDatabase, _ department: Int64, _ kind: String, _ subject: String, _ item: Int64, _ actor: Actor, _ now: Int64) async throws {
        try await tell(db, try await AccountService.holders(db, organisationID: department), kind, subject, item, actor, now)
    }

    func tellCommunities(_ db: any SQLDatabase, _ communities: [Int64], _ kind: String, _ subject: String, _ item: Int64, _ actor: Actor, _ now: Int64) async throws {
        try await tell(db, try await AccountService.holders(db, role: .communityStaff, placeIDs: communities), kind, subject, item, actor, now)
    }

    // MARK: The street decides

    /// The item for a reviewer: missing to anyone who cannot see it, 403 to one who sees it
    /// without reviewing it (its department).
    /// Serialises the steps on one item (admit, refuse, revoke, a community's answer) on
    /// PostgreSQL: each then reads the item and its shares as the one before it left them, and
    /// pays or pays back only what it changed. SQLite's single writer already does.
    func lockItem(_ db: any SQLDatabase, _ id: Int64) async throws {
        guard store.dialect == .postgres else { return }
        _ = try await db.query("SELECT id FROM work_items WHERE id = \(id) FOR UPDATE").first()
    }

    func reviewable(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> ItemRow {
        try await lockItem(db, id)
        guard let w = try await itemRow(db, id), Self.seat(w, try await shares(db, id), actor) != nil else { throw LinliError.notFound }
        guard actor.may(.workItemReview, on: ObjectScope(path: w.path)) else { throw LinliError.forbidden }
        return w
    }

    /// Admits an item: it goes to the communities and its money moves from the department's
    /// budget to each community's account, in one transaction. Admitting it again (a retried
    /// request) changes nothing and books nothing twice.
    public func admit(_ id: Int64, _ input: WorkItemDecisionInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let w = try await reviewable(db, id, actor)
            if w.status == .admitted { return }
            guard w.status == .submitted else { throw LinliError.conflict("state", "decided", "这个事项已经处理过了") }
            let reason = Self.trimmed(input.reason)
            guard reason.count <= 500 else { throw LinliError.invalid("reason", "too_long", "理由请在 500 字以内") }
            let entry = try await listEntry(db, w.listItemID)
            let named = entry.map { "\($0.code) \($0.title)" } ?? ""
            if let refusal = OfficeRules.admissionRefusal(entry?.kind, entry: named, exceptionReason: reason) { throw refusal }
            if let refusal = OfficeRules.kindRefusal(item: w.kind, entryWorkKind: entry?.workKind, listed: entry != nil, entry: named) { throw refusal }
            let targets = try await shares(db, id)
            let total = w.fee * Int64(targets.count)
            if total > 0 {
                let balance = try await linkage.departmentBalance(db, departmentID: w.departmentID)
                guard balance >= total else {
                    throw LinliError.invalid("fee", "budget_short", "\(w.department)的预算余额不足：需拨付 \(Fen.text(total)) 元，现有 \(Fen.text(balance)) 元；请先登记到账的预算")
                }
            }
            guard try await db.query("""
                UPDATE work_items SET status = 'admitted', reason = \(reason), decided_by = \(actor.userID), decided_at = \(now) WHERE id = \(id) AND status = 'submitted' RETURNING id
                """).first() != nil else { throw LinliError.conflict("state", "decided", "这个事项已经处理过了") }
            let sent = Set(try await db.query("UPDATE work_item_shares SET status = 'sent' WHERE item_id = \(id) AND status = 'pending' RETURNING community_id").all()
                .map { try $0.decode(column: "community_id", as: Int64.self) })
            for s in targets where w.fee > 0 && sent.contains(s.communityID) {
                try await linkage.moveTaskFee(db, departmentID: w.departmentID, departmentPath: w.departmentPath, departmentName: w.department,
                                              communityID: s.communityID, communityPath: s.path, communityName: s.community, amount: w.fee,
                                              memo: "\(w.department)：\(w.title)", key: "workitem:\(id):\(s.communityID)", actor: actor, now: now)
            }
            try await event(db, id, nil, "admitted", reason, actor, now)
            try await audit.append(db, actor: actor, action: "workitem.admit", objectType: "work_item", objectID: id, path: w.path, detail: "fee=\(w.fee) communities=\(targets.count)")
            try await tellDepartment(db, w.departmentID, "workitem_admitted", w.title, id, actor, now)
            try await tellCommunities(db, targets.map(\.communityID), "workitem_sent", w.title, id, actor, now)
        }
    }

    public func refuse(_ id: Int64, _ input: WorkItemDecisionInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let w = try await reviewable(db, id, actor)
            let reason = Self.trimmed(input.reason)
            guard !reason.isEmpty, reason.count <= 500 else { throw LinliError.invalid("reason", "required", "请写明不予准入的理由或清单依据（500 字以内）") }
            guard w.status == .submitted else { throw LinliError.conflict("state", "decided", "这个事项已经处理过了") }
            guard try await db.query("""
                UPDATE work_items SET status = 'refused', reason = \(reason), decided_by = \(actor.userID), decided_at = \(now) WHERE id = \(id) AND status = 'submitted' RETURNING id
                """).first() != nil else { throw LinliError.conflict("state", "decided", "这个事项已经处理过了") }
            try await db.query("UPDATE work_item_shares SET status = 'revoked' WHERE item_id = \(id) AND status = 'pending'").run()
            try await event(db, id, nil, "refused", reason, actor, now)
            try await audit.append(db, actor: actor, action: "workitem.refuse", objectType: "work_item", objectID: id, path: w.path)
            try await tellDepartment(db, w.departmentID, "workitem_refused", w.title, id, actor, now)
        }
    }

    /// Takes an admitted item back: communities that have not finished it are told, and the money
    /// of their shares goes back to the department's budget.
    public func revoke(_ id: Int64, _ input: WorkItemDecisionInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let w = try await reviewable(db, id, actor)
            let reason = Self.trimmed(input.reason)
            guard !reason.isEmpty, reason.count <= 500 else { throw LinliError.invalid("reason", "required", "请写明撤销的理由（500 字以内）") }
            guard w.status == .admitted else { throw LinliError.conflict("state", "not_admitted", "只有已准入的事项可以撤销") }
            guard try await db.query("UPDATE work_items SET status = 'revoked', reason = \(reason) WHERE id = \(id) AND status = 'admitted' RETURNING id").first() != nil else {
                throw LinliError.conflict("state", "not_admitted", "只有已准入的事项可以撤销")
            }
            // Only the shares this step took back get their money back (not one just reported done).
            let taken = Set(try await db.query("UPDATE work_item_shares SET status = 'revoked' WHERE item_id = \(id) AND status = 'sent' RETURNING community_id").all()
                .map { try $0.decode(column: "community_id", as: Int64.self) })
            let open = try await shares(db, id).filter { taken.contains($0.communityID) }
            for s in open { try await payBack(db, w, s, actor, now) }
            try await event(db, id, nil, "revoked", reason, actor, now)
            try await audit.append(db, actor: actor, action: "workitem.revoke", objectType: "work_item", objectID: id, path: w.path)
            try await tellDepartment(db, w.departmentID, "workitem_revoked", w.title, id, actor, now)
            try await tellCommunities(db, open.map(\.communityID), "workitem_revoked", w.title, id, actor, now)
        }
    }

    func payBack(_ db: any SQLDatabase, _ w: ItemRow, _ s: ShareRow, _ actor: Actor, _ now: Int64) async throws {
        guard w.fee > 0 else { return }
        try await linkage.moveTaskFee(db, departmentID: w.departmentID, departmentPath: w.departmentPath, departmentName: w.department,
                                      communityID: s.communityID, communityPath: s.path, communityName: s.community, amount: -w.fee,
                                      memo: "\(w.department)：\(w.title)（退回）", key: "workitem:\(w.id):\(s.communityID):back", actor: actor, now: now)
    }

    // MARK: The community answers

    /// The item and the share the actor answers for (the one named, or their only one).
    func answerable(_ db: any SQLDatabase, _ id: Int64, _ communityID: Int64?, _ actor: Actor) async throws -> (ItemRow, ShareRow) {
        try await lockItem(db, id)
        guard let w = try await itemRow(db, id) else { throw LinliError.notFound }
        let all = try await shares(db, id)
        guard Self.seat(w, all, actor) != nil else { throw LinliError.notFound }
        let answering = Self.answering(actor)
        let mine = all.filter { s in s.status != .pending && answering.contains { s.path.hasPrefix($0) } }
        let share: ShareRow?
        if let communityID { share = mine.first { $0.communityID == communityID } } else { share = mine.count == 1 ? mine[0] : nil }
        guard let share else {
            // The street and those above it see the item but do not answer for a community.
            if mine.isEmpty { throw LinliError.invalid("community_id", "not_yours", "只有收到这个事项的社区才能答复") }
            throw LinliError.invalid("community_id", communityID == nil ? "required" : "not_yours", "请选择代表哪个社区答复")
        }
        guard w.status == .admitted, share.status == .sent else { throw LinliError.conflict("state", "answered", "这个社区已经答复过了，或事项已撤销") }
        return (w, share)
    }

    /// A community refuses an item on the negative list or on no list, saying why; its money goes back.
    public func decline(_ id: Int64, _ input: WorkItemAnswerInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (w, s) = try await answerable(db, id, input.communityID, actor)
            let entry = try await listEntry(db, w.listItemID)
            guard OfficeRules.communityMayRefuse(entry?.kind) else {
                throw LinliError.invalid("reason", "listed", "「\(entry!.code) \(entry!.title)」在\(entry!.kind == .assist ? "协助" : "准入")清单上，社区应当承接；如有困难请与街道联系")
            }
            let reason = Self.trimmed(input.reason)
            guard !reason.isEmpty, reason.count <= 500 else { throw LinliError.invalid("reason", "required", "请写明拒绝的理由（500 字以内）") }
            guard try await db.query("""
                UPDATE work_item_shares SET status = 'refused', reason = \(reason), answered_by = \(actor.userID), answered_at = \(now)
                WHERE item_id = \(id) AND community_id = \(s.communityID) AND status = 'sent' RETURNING community_id
                """).first() != nil else { throw LinliError.conflict("state", "answered", "这个社区已经答复过了，或事项已撤销") }
            try await payBack(db, w, s, actor, now)
            try await event(db, id, s.communityID, "declined", reason, actor, now)
            try await audit.append(db, actor: actor, action: "workitem.decline", objectType: "work_item", objectID: id, path: s.path)
            try await tellDepartment(db, w.departmentID, "workitem_declined", "\(s.community)：\(w.title)", id, actor, now)
        }
    }

    static let evidencePhotosMax = 9

    /// An evidence photo, to whoever sees that community's share of the item (its department,
    /// the street, the community itself); anyone else gets 404. Photos may show residents'
    /// names and signatures, so a look by anyone but the community that sent it is audited.
    public func evidencePhoto(_ photoID: Int64, actor: Actor) async throws -> [UInt8] {
        let name = try await store.transaction { db in
            guard let r = try await db.query("SELECT item_id, community_id, stored_name FROM work_item_evidence WHERE id = \(photoID)").first(),
                  let w = try await itemRow(db, try r.decode(column: "item_id", as: Int64.self)) else { throw LinliError.notFound }
            let community = try r.decode(column: "community_id", as: Int64.self)
            let all = try await shares(db, w.id)
            switch Self.seat(w, all, actor) {
            case .whole?: break
            case .communities(let ids)? where ids.contains(community): break
            default: throw LinliError.notFound
            }
            if !Self.answeringCommunities(actor).contains(community) {
                try await audit.append(db, actor: actor, action: "workitem.evidence_view", objectType: "work_item", objectID: w.id, path: w.path, detail: String(photoID))
            }
            return try r.decode(column: "stored_name", as: String.self)
        }
        return try evidence.read(name)
    }

    /// A community reports its share done, with what was done and the evidence: a word, a count,
    /// and photos (checked and re-encoded before the transaction; sealed on disk).
    public func report(_ id: Int64, _ input: WorkItemAnswerInput, actor: Actor) async throws {
        let now = env.nowSeconds
        let photos = try PhotoStore.prepareAll(files: input.photos, base64: input.photosBase64, field: "photos", base64Field: "photos_base64",
                                               max: Self.evidencePhotosMax, tooMany: "佐证照片最多 \(Self.evidencePhotosMax) 张")
        try await store.transaction { db in
            let (w, s) = try await answerable(db, id, input.communityID, actor)
            let evidence = Self.trimmed(input.evidence)
            var v = Validator()
            v.check(!evidence.isEmpty && evidence.count <= 2000, "evidence", "required", "请写明完成情况和佐证（2000 字以内）")
            if let n = input.count { v.check((0...10_000_000).contains(n), "count", "invalid", "数量应为 0 到 10000000") }
            try v.throwIfAny()
            guard try await db.query("""
                UPDATE work_item_shares SET status = 'done', done_count = \(input.count), evidence = \(evidence), answered_by = \(actor.userID), answered_at = \(now)
                WHERE item_id = \(id) AND community_id = \(s.communityID) AND status = 'sent' RETURNING community_id
                """).first() != nil else { throw LinliError.conflict("state", "answered", "这个社区已经答复过了，或事项已撤销") }
            try self.evidence.write(photos, failure: "佐证照片保存失败")
            for p in photos {
                try await db.query("""
                    INSERT INTO work_item_evidence (item_id, community_id, stored_name, bytes, created_at) VALUES (\(id), \(s.communityID), \(p.name), \(p.jpeg.count), \(now))
                    """).run()
            }
            try await event(db, id, s.communityID, "done", evidence, actor, now)
            try await audit.append(db, actor: actor, action: "workitem.done", objectType: "work_item", objectID: id, path: s.path)
            try await tellDepartment(db, w.departmentID, "workitem_done", "\(s.community)：\(w.title)", id, actor, now)
        }
    }

    // MARK: Budgets

    /// Departments the actor sees (their own, and those in the areas they run), with what their
    /// budget holds.
    public func budgets(actor: Actor) async throws -> [DepartmentBudgetView] {
        let mine = Array(Self.departments(actor))
        let paths = actor.grants(for: .officeLists).map(\.placePath)
        guard !mine.isEmpty || !paths.isEmpty else { return [] }
        return try await store.read { db in
            var found = try await registry.departments(db, under: paths)
            for d in try await registry.departments(db, ids: mine).values where !found.contains(where: { $0.id == d.id }) { found.append(d) }
            let balances = try await linkage.departmentBalances(db, ids: found.map(\.id))
            return found.map { d in
                let balance = balances[d.id] ?? 0
                return DepartmentBudgetView(id: d.id, name: d.name, place: d.placeName, balance: balance, balanceText: Fen.text(balance),
                                            mayFund: actor.may(.fundPool, on: ObjectScope(path: d.path)))
            }
        }
    }

    /// Records money that has arrived in a department's budget from the treasury; a retry with
    /// the same key books it once.
    public func fund(departmentID: Int64, _ input: DepartmentFundingInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let d = try await registry.departments(db, ids: [departmentID])[departmentID] else { throw LinliError.notFound }
            let path = d.path, name = d.name
            try actor.require(.fundPool, on: ObjectScope(path: path))
            let amount = try Fen.parse(input.amount, field: "amount")
            let memo = Self.trimmed(input.memo)
            guard memo.count <= 200 else { throw LinliError.invalid("memo", "too_long", "说明请在 200 字以内") }
            let key = Self.trimmed(input.clientKey)
            let booked = try await linkage.fundDepartment(db, departmentID: departmentID, path: path, name: name, amount: amount, memo: memo,
                                                          key: "dept-funding:\(departmentID):" + (key.isEmpty ? env.token(bytes: 9) : "\(actor.userID):\(key)"), actor: actor, now: now)
            if booked {
                try await audit.append(db, actor: actor, action: "department.fund", objectType: "organisation", objectID: departmentID, path: path, detail: "amount=\(amount)")
            }
        }
    }
}

/// What a department's submission form offers: its departments, the streets it may send to with
/// their communities and the list entries in force there, and the earliest start.
public struct WorkItemChoices: Sendable {
    public struct Entry: Sendable { public var id: Int64; public var kind: OfficeListKind; public var code: String; public var title: String; public var feeText: String? }
    public struct Street: Sendable { public var id: Int64; public var name: String; public var communities: [(id: Int64, name: String)]; public var entries: [Entry] }
    public var departments: [(id: Int64, name: String)] = []
    public var streets: [Street] = []
    /// Places whose lists the viewer keeps.
    public var listPlaces: [(id: Int64, name: String)] = []
    /// The earliest start day under the default clock, as a hint.
    public var earliest = ""
}

extension OfficesService {
    public func listOf(itemID: Int64) async throws -> Int64 {
        try await store.read { db in
            guard let r = try await db.query("SELECT list_id FROM office_list_items WHERE id = \(itemID)").first() else { throw LinliError.notFound }
            return try r.decode(column: "list_id", as: Int64.self)
        }
    }

    /// The streets, districts or city whose lists (and assessments, certificates, pushes) the actor keeps.
    public func listPlaces(actor: Actor) async throws -> [(id: Int64, name: String)] {
        let grants = actor.grants(for: .officeLists)
        guard !grants.isEmpty else { return [] }
        return try await store.read { db in try await listPlaces(db, grants) }
    }

    func listPlaces(_ db: any SQLDatabase, _ grants: [RoleGrant]) async throws -> [(id: Int64, name: String)] {
        var out: [(id: Int64, name: String)] = []
        for g in grants {
            if let p = try await place(db, g.placeID), Self.listPlaceKinds.contains(p.kind) { out.append((p.id, p.name)) }
        }
        return out
    }

    public func submitChoices(actor: Actor) async throws -> WorkItemChoices {
        let mine = Self.departments(actor)
        let cal = try await calendar()
        let today = LocalDay.of(env.nowSeconds)
        let listGrants = actor.grants(for: .officeLists)
        return try await store.read { db in
            var out = WorkItemChoices()
            out.listPlaces = try await listPlaces(db, listGrants)
            guard !mine.isEmpty else { return out }
            let departments = try await registry.departments(db, ids: Array(mine)).values.sorted { $0.name < $1.name }
            out.departments = departments.map { ($0.id, $0.name) }
            let areas = departments.map(\.path)
            guard !areas.isEmpty else { return out }
            // Streets inside a department's area, or the street a department sits at.
            let streetCondition = BoundSQL.joined(areas.map { a -> BoundSQL in "(path LIKE \(a + "%") OR \(a) LIKE path || '%')" }, separator: " OR ")
            let streets = try await db.query("SELECT id, name, path FROM places WHERE kind IN ('street', 'town') AND (\(streetCondition)) ORDER BY path LIMIT 50").all()
            for s in streets {
                let id = try s.decode(column: "id", as: Int64.self), path = try s.decode(column: "path", as: String.self)
                let communities = try await db.query("""
                    SELECT id, name, path FROM places WHERE kind IN ('community', 'village') AND path LIKE \(path + "%") ORDER BY path LIMIT 500
                    """).all().compactMap { r -> (Int64, String)? in
                    let p = try r.decode(column: "path", as: String.self)
                    return areas.contains { p.hasPrefix($0) } ? (try r.decode(column: "id", as: Int64.self), try r.decode(column: "name", as: String.self)) : nil
                }
                let entries = try await db.query("""
                    SELECT i.id, l.kind, i.code, i.title, i.fee_per_unit, i.unit, i.department_id FROM office_list_items i JOIN office_lists l ON l.id = i.list_id
                    WHERE l.status = 'published' AND l.place_id IN (\(list: PlacePath.ids(path))) ORDER BY l.kind, i.sort
                    """).all().compactMap { r -> WorkItemChoices.Entry? in
                    guard let kind = OfficeListKind(rawValue: try r.decode(column: "kind", as: String.self)), kind != .autonomy else { return nil }
                    if let owner = try r.decode(column: "department_id", as: Int64?.self), !mine.contains(owner) { return nil }
                    let unit = try r.decode(column: "unit", as: String.self)
                    return WorkItemChoices.Entry(id: try r.decode(column: "id", as: Int64.self), kind: kind, code: try r.decode(column: "code", as: String.self),
                                                 title: try r.decode(column: "title", as: String.self),
                                                 feeText: try r.decode(column: "fee_per_unit", as: Int64?.self).map { Fen.text($0) + "元" + (unit.isEmpty ? "" : "/" + unit) })
                }
                out.streets.append(.init(id: id, name: try s.decode(column: "name", as: String.self), communities: communities, entries: entries))
            }
            let (lead, _) = try await clock(db, path: areas.first ?? "/")
            out.earliest = Self.dayText(OfficeRules.addWorkingDays(lead, to: today, calendar: cal))
            return out
        }
    }
}
