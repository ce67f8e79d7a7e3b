import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A task the community gives its grid workers ("check every household of building 3 for the
/// gas-safety notice"), to the same audiences an announcement reaches.
public struct GridTaskInput: Codable, Sendable {
    public var communityID: Int64?
    public var title: String?
    public var body: String?
    /// The last day (China time, `2026-12-20`).
    public var deadline: String?
    public var audienceKind: String?
    public var placeIDs: [Int64]?
    public var gridIDs: [Int64]?
    public var tag: String?

    public init() {}
    enum CodingKeys: String, CodingKey {
        case communityID = "community_id", title, body, deadline, audienceKind = "audience_kind", placeIDs = "place_ids", gridIDs = "grid_ids", tag
    }
}

/// What a grid worker records for one household of a task.
public struct GridTaskMark: Codable, Sendable {
    public var outcome: String?
    public var feedback: String?
    /// A problem found also filed as a request (routed as usual) in this category, in the same step.
    public var fileRequest: Bool?
    public var requestCategory: String?
    public init(outcome: String? = nil, feedback: String? = nil, fileRequest: Bool? = nil, requestCategory: String? = nil) {
        self.outcome = outcome; self.feedback = feedback; self.fileRequest = fileRequest; self.requestCategory = requestCategory
    }
    enum CodingKeys: String, CodingKey { case outcome, feedback, fileRequest = "file_request", requestCategory = "request_category" }
}

/// Households, handled and found with a problem: the whole task's, a grid's, or a worker's share.
public struct GridTaskCounts: Codable, Sendable, Equatable {
    public var households: Int
    public var done: Int
    public var problems: Int
    /// Not yet handled (nobody home counts here: the household is still to reach).
    public var open: Int { households - done - problems }
    enum CodingKeys: String, CodingKey { case households, done, problems, open }
    public init(households: Int, done: Int, problems: Int) { self.households = households; self.done = done; self.problems = problems }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        households = try c.decode(Int.self, forKey: .households); done = try c.decode(Int.self, forKey: .done); problems = try c.decode(Int.self, forKey: .problems)
    }
    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(households, forKey: .households); try c.encode(done, forKey: .done); try c.encode(problems, forKey: .problems); try c.encode(open, forKey: .open)
    }
}

public struct GridTaskView: Codable, Sendable, Equatable {
    public var id: Int64
    public var communityID: Int64
    public var communityName: String
    public var title: String
    public var body: String
    public var deadline: String
    public var state: GridTaskState
    public var from: String
    public var at: String
    /// The whole task, for the community's staff.
    public var counts: GridTaskCounts?
    /// The households of the reader's own grids (a grid worker's share).
    public var mine: GridTaskCounts?
    public var closedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, communityID = "community_id", communityName = "community_name", title, body, deadline, state, from, at, counts, mine, closedAt = "closed_at"
    }
}

/// One grid's share of a task, for the community's progress table.
public struct GridTaskGridLine: Codable, Sendable, Equatable {
    public var gridID: Int64
    public var gridName: String
    public var counts: GridTaskCounts
    enum CodingKeys: String, CodingKey { case gridID = "grid_id", gridName = "grid_name", counts }
}

/// One household of a task, with what was recorded there.
public struct GridTaskHousehold: Codable, Sendable, Equatable {
    public var householdID: Int64
    public var address: String
    public var gridID: Int64
    public var outcome: GridTaskOutcome?
    public var feedback: String
    /// Times nobody was home.
    public var attempts: Int
    public var by: String?
    public var at: String?
    /// The request the problem was filed as.
    public var requestID: Int64? = nil
    enum CodingKeys: String, CodingKey { case householdID = "household_id", address, gridID = "grid_id", outcome, feedback, attempts, by, at, requestID = "request_id" }
}

public struct GridTaskDetail: Codable, Sendable {
    public var task: GridTaskView
    /// Progress by grid (staff: every grid; a grid worker: their own).
    public var grids: [GridTaskGridLine]
    /// The households shown: a grid worker's own (open first), or the grid staff asked for.
    public var households: [GridTaskHousehold]
    /// The problems found across the task (for staff), newest first.
    public var problems: [GridTaskHousehold]
    enum CodingKeys: String, CodingKey { case task, grids, households, problems }
}

extension GridWorkService {
    /// A task reaches at most this many households (a big community's every household).
    static let taskHouseholdsMax = 30_000
    /// A household list shows at most this many (a grid is a few hundred).
    static let taskListMax = 600

    /// The community gives its grid workers a task: one row per household of the audience, an
    /// inbox message to each grid worker of the grids it touches, the audit row; one transaction.
    /// An audience with no household, or a deadline gone by, is refused naming the field.
    public func assignTask(_ input: GridTaskInput, actor: Actor) async throws -> GridTaskView {
        try actor.require(.visitPlan)
        let now = env.nowSeconds, today = LocalDay.of(now)
        var v = Validator()
        let title = (input.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let body = (input.body ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!title.isEmpty, "title", "required", "请填写任务名称")
        v.check(title.count <= GridTaskRules.titleMax, "title", "too_long", "任务名称不能超过 \(GridTaskRules.titleMax) 个字")
        v.check(body.count <= GridTaskRules.bodyMax, "body", "too_long", "任务说明不能超过 \(GridTaskRules.bodyMax) 个字")
        var deadline: Int64?
        do { deadline = try Input.day(input.deadline, field: "deadline") } catch let e as LinliError { v.add(e) }
        if v.errors.allSatisfy({ $0.field != "deadline" }) { GridTaskRules.checkDeadline(deadline, today: today, &v) }
        let kind = AudienceKind(rawValue: input.audienceKind ?? "")
        v.check(kind != nil, "audience_kind", "invalid_choice", "请选择任务范围：全社区、小区楼栋、网格或居民标签")
        v.check(input.communityID != nil, "community_id", "required", "请选择社区")
        v.check((input.placeIDs?.count ?? 0) <= 500 && (input.gridIDs?.count ?? 0) <= 500, "audience_kind", "too_many", "所选范围过多")
        try v.throwIfAny()
        let due = deadline!
        let ids = kind == .places ? input.placeIDs ?? [] : (kind == .grids ? input.gridIDs ?? [] : [])
        let audience = kind == .tag ? (input.tag ?? "") : ids.map(String.init).joined(separator: ",")
        let id = try await store.transaction { db -> Int64 in
            let c = try await plannedCommunity(db, input.communityID!, actor: actor, .visitPlan)
            let households = try await registry.audienceHouseholds(db, community: c, kind: kind!, ids: ids, tag: input.tag)
            guard !households.isEmpty else {
                throw LinliError.invalid("audience_kind", "no_households", "所选范围内没有住户，任务没有派出")
            }
            guard households.count <= Self.taskHouseholdsMax else {
                throw LinliError.invalid("audience_kind", "too_many", "一项任务最多 \(Self.taskHouseholdsMax) 户，请分开派")
            }
            let id = try await db.query("""
                INSERT INTO grid_tasks (community_id, community_name, path, title, body, audience_kind, audience, deadline_day, households,
                                        user_id, author_name, created_at)
                VALUES (\(c.id), \(c.name), \(c.path), \(title), \(body), \(kind!.rawValue), \(audience), \(due), \(households.count),
                        \(actor.userID), \(actor.signature), \(now))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.insertRows("INSERT INTO grid_task_households (task_id, household_id, grid_id, micro_grid_id) VALUES ",
                                    households, chunk: 1000) { h in "(\(id), \(h.id), \(h.gridID), \(h.microGridID))" }
            let grids = Set(households.flatMap { [$0.gridID, $0.microGridID] }).filter { $0 > 0 }
            let workers = try await AccountService.gridWorkers(db, grids: Array(grids).sorted())
            try await notifier.deliver(db, workers.map { OutgoingNotification(userID: $0, kind: "grid_task", subject: title, link: "/grid-tasks/\(id)") }, at: now)
            try await audit.append(db, actor: actor, action: "grid_task.assign", objectType: "grid_task", objectID: id, path: c.path,
                                   detail: "\(kind!.rawValue) \(audience): \(households.count) households, due \(ChinaTime.iso(day: due)), \(workers.count) grid workers told")
            return id
        }
        return try await task(id, gridID: nil, actor: actor).task
    }

    static let taskColumns = """
        SELECT t.id, t.community_id, t.community_name, t.path, t.title, t.body, t.deadline_day, t.households, t.done_count, t.problem_count,
               t.author_name, t.created_at, t.closed_at
        FROM grid_tasks t
        """

    func taskView(_ r: any SQLRow, staff: Bool, mine: GridTaskCounts?, today: Int64) throws -> GridTaskView {
        let counts = GridTaskCounts(households: try r.decode(column: "households", as: Int.self), done: try r.decode(column: "done_count", as: Int.self),
                                    problems: try r.decode(column: "problem_count", as: Int.self))
        let closed = try r.decode(column: "closed_at", as: Int64?.self)
        let deadline = try r.decode(column: "deadline_day", as: Int64.self)
        // A grid worker's task is done when their share is: the rest of the community is not theirs to finish.
        let basis = staff ? counts : (mine ?? counts)
        return GridTaskView(id: try r.decode(column: "id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                            communityName: try r.decode(column: "community_name", as: String.self),
                            title: try r.decode(column: "title", as: String.self), body: try r.decode(column: "body", as: String.self),
                            deadline: ChinaTime.iso(day: deadline),
                            state: GridTaskRules.state(households: basis.households, settled: basis.done + basis.problems, deadline: deadline, today: today, closed: closed != nil),
                            from: try r.decode(column: "author_name", as: String.self), at: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)),
                            counts: staff ? counts : nil, mine: mine, closedAt: closed.map(LocalTime.text))
    }

    /// The grids a grid worker answers for (their grid, or the micro-grid they were given).
    static func workerGrids(_ actor: Actor) -> [Int64] {
        Array(Set(actor.grants(for: .visitLog).compactMap(\.gridID))).sorted()
    }

    /// Households, done and problems of a group of a task's rows (`x`), as `countsOf` reads them.
    static let countColumns = """
        COUNT(*) AS n, SUM(CASE WHEN x.outcome = 'done' THEN 1 ELSE 0 END) AS done, SUM(CASE WHEN x.outcome = 'problem' THEN 1 ELSE 0 END) AS problems
        """

    static func countsOf(_ r: any SQLRow) throws -> GridTaskCounts {
        GridTaskCounts(households: try r.decode(column: "n", as: Int.self), done: try r.decode(column: "done", as: Int?.self) ?? 0,
                       problems: try r.decode(column: "problems", as: Int?.self) ?? 0)
    }

    /// Counts of a task's households by grid, from its rows (one grouped read).
    func taskCounts(_ db: any SQLDatabase, _ id: Int64, grids: [Int64]?) async throws -> [Int64: GridTaskCounts] {
        let within: BoundSQL = grids.map { " AND (x.grid_id IN (\(list: $0)) OR x.micro_grid_id IN (\(list: $0)))" } ?? ""
        var out: [Int64: GridTaskCounts] = [:]
        for r in try await db.query("""
            SELECT x.grid_id, \(unsafeRaw: Self.countColumns) FROM grid_task_households x WHERE x.task_id = \(id)\(within) GROUP BY x.grid_id
            """).all() {
            out[try r.decode(column: "grid_id", as: Int64.self)] = try Self.countsOf(r)
        }
        return out
    }

    static func sum(_ c: some Sequence<GridTaskCounts>) -> GridTaskCounts {
        c.reduce(GridTaskCounts(households: 0, done: 0, problems: 0)) {
            GridTaskCounts(households: $0.households + $1.households, done: $0.done + $1.done, problems: $0.problems + $1.problems)
        }
    }

    /// The tasks a community gave (its staff), or those with households in the actor's grids (a
    /// grid worker: open ones and those closed in the last 30 days, with their share).
    public func tasks(community: Int64?, actor: Actor, openOnly: Bool = false, limit: Int = 100) async throws -> [GridTaskView] {
        try actor.require(.visitLog)
        let today = LocalDay.of(env.nowSeconds)
        if let community {
            return try await store.read { db in
                _ = try await plannedCommunity(db, community, actor: actor, .visitPlan)
                return try await db.query("\(unsafeRaw: Self.taskColumns) WHERE t.community_id = \(community) ORDER BY t.id DESC LIMIT \(unsafeRaw: String(limit))")
                    .all().map { try taskView($0, staff: true, mine: nil, today: today) }
            }
        }
        return try await store.read { db in try await workerTasks(db, actor: actor, openOnly: openOnly, limit: limit) }
    }

    /// A grid worker's tasks in their grids (none for anyone without a grid of their own).
    func workerTasks(_ db: any SQLDatabase, actor: Actor, openOnly: Bool, limit: Int = 100) async throws -> [GridTaskView] {
        let today = LocalDay.of(env.nowSeconds)
        let grids = Self.workerGrids(actor)
        guard !grids.isEmpty else { return [] }
        // The due list asks for open tasks only: ended ones are not read at all.
        let ended: BoundSQL = openOnly ? "t.closed_at IS NULL" : "(t.closed_at IS NULL OR t.closed_at > \(env.nowSeconds - 30 * 86400))"
        // The worker's communities' tasks still open (or lately ended) that reach their grids —
        // each found through the (grid, task) indexes — then the grid's share of each: every
        // task the grid was ever given is not read on each look at the due list.
        let communities = Array(Set(actor.grants(for: .visitLog).filter { $0.gridID != nil }.map { PlacePath.communityID($0.placePath) })).sorted()
        do {
            let current = try await db.query("""
                SELECT t.id FROM grid_tasks t WHERE t.community_id IN (\(list: communities)) AND \(ended)
                AND (EXISTS (SELECT 1 FROM grid_task_households x WHERE x.grid_id IN (\(list: grids)) AND x.task_id = t.id)
                     OR EXISTS (SELECT 1 FROM grid_task_households x WHERE x.micro_grid_id IN (\(list: grids)) AND x.task_id = t.id))
                ORDER BY t.id DESC LIMIT \(unsafeRaw: String(limit))
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
            guard !current.isEmpty else { return [] }
            let shares = try await db.query("""
                SELECT x.task_id, \(unsafeRaw: Self.countColumns)
                FROM grid_task_households x
                WHERE x.task_id IN (\(list: current)) AND (x.grid_id IN (\(list: grids)) OR x.micro_grid_id IN (\(list: grids)))
                GROUP BY x.task_id
                """).all()
            var mine: [Int64: GridTaskCounts] = [:]
            for r in shares { mine[try r.decode(column: "task_id", as: Int64.self)] = try Self.countsOf(r) }
            guard !mine.isEmpty else { return [] }
            return try await db.query("\(unsafeRaw: Self.taskColumns) WHERE t.id IN (\(list: Array(mine.keys))) ORDER BY t.id DESC").all().map {
                try taskView($0, staff: false, mine: mine[try $0.decode(column: "id", as: Int64.self)], today: today)
            }
        }
    }

    /// One task. Its community's staff see the whole (progress by grid, the problems found, and
    /// one grid's households when asked); a grid worker sees their own grids' households, open
    /// first; anyone else, 404.
    public func task(_ id: Int64, gridID: Int64?, actor: Actor) async throws -> GridTaskDetail {
        try actor.require(.visitLog)
        let today = LocalDay.of(env.nowSeconds)
        let detail = try await store.read { db -> GridTaskDetail? in
            guard let r = try await db.query("\(unsafeRaw: Self.taskColumns) WHERE t.id = \(id)").first() else { return nil }
            let community = try r.decode(column: "community_id", as: Int64.self)
            let staff = actor.may(.visitPlan, on: ObjectScope(path: try r.decode(column: "path", as: String.self)))
            let names = Dictionary(try await registry.gridsOf(db, community: community).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            let own = Self.workerGrids(actor)
            func lines(_ byGrid: [Int64: GridTaskCounts]) -> [GridTaskGridLine] {
                byGrid.map { GridTaskGridLine(gridID: $0.key, gridName: names[$0.key] ?? "#\($0.key)", counts: $0.value) }.sorted { $0.gridName < $1.gridName }
            }
            if staff {
                if let gridID, names[gridID] == nil { throw LinliError.notFound }
                var shown: [GridTaskHousehold] = []
                if let gridID { shown = try await taskHouseholds(db, id, grids: [gridID], problemsOnly: false) }
                let problems = try await taskHouseholds(db, id, grids: nil, problemsOnly: true)
                return GridTaskDetail(task: try taskView(r, staff: true, mine: nil, today: today), grids: lines(try await taskCounts(db, id, grids: nil)),
                                      households: shown, problems: problems)
            }
            let grids = gridID.map { g in own.contains(g) ? [g] : [] } ?? own
            guard !grids.isEmpty else { return nil }
            let byGrid = try await taskCounts(db, id, grids: grids)
            guard !byGrid.isEmpty else { return nil }
            let shown = try await taskHouseholds(db, id, grids: grids, problemsOnly: false)
            return GridTaskDetail(task: try taskView(r, staff: false, mine: Self.sum(byGrid.values), today: today), grids: lines(byGrid), households: shown, problems: [])
        }
        guard let detail else { throw LinliError.notFound }
        return detail
    }

    /// A task's households in some grids (open first, then by address), or its problems.
    func taskHouseholds(_ db: any SQLDatabase, _ id: Int64, grids: [Int64]?, problemsOnly: Bool) async throws -> [GridTaskHousehold] {
        var filter: BoundSQL = ""
        if let grids { filter = " AND (x.grid_id IN (\(list: grids)) OR x.micro_grid_id IN (\(list: grids)))" }
        if problemsOnly { filter = "\(filter) AND x.outcome = 'problem'" }
        let rows = try await db.query("""
            SELECT x.household_id, x.grid_id, x.outcome, x.feedback_cipher, x.attempts, x.by_name, x.updated_at, x.request_id
            FROM grid_task_households x WHERE x.task_id = \(id)\(filter)
            ORDER BY \(unsafeRaw: problemsOnly ? "x.updated_at DESC" : "CASE WHEN x.outcome IN ('done', 'problem') THEN 1 ELSE 0 END, x.household_id")
            LIMIT \(unsafeRaw: String(Self.taskListMax))
            """).all()
        let ids = try rows.map { try $0.decode(column: "household_id", as: Int64.self) }
        let address = Dictionary(try await registry.householdFacts(db, ids: ids).map { ($0.id, $0.address) }, uniquingKeysWith: { a, _ in a })
        let out = try rows.map { r -> GridTaskHousehold in
            let h = try r.decode(column: "household_id", as: Int64.self)
            return GridTaskHousehold(householdID: h, address: address[h] ?? "#\(h)", gridID: try r.decode(column: "grid_id", as: Int64.self),
                                     outcome: try r.decode(column: "outcome", as: String?.self).flatMap(GridTaskOutcome.init(rawValue:)),
                                     feedback: try r.decode(column: "feedback_cipher", as: String?.self).map { try cipher.open($0) } ?? "",
                                     attempts: try r.decode(column: "attempts", as: Int.self), by: try r.decode(column: "by_name", as: String?.self),
                                     at: try r.decode(column: "updated_at", as: Int64?.self).map(LocalTime.text),
                                     requestID: try r.decode(column: "request_id", as: Int64?.self).flatMap { $0 == 0 ? nil : $0 })
        }
        // Open ones by address, as the worker walks them: the address is the registry's, sorted here.
        if problemsOnly { return out }
        return out.sorted { ($0.outcome?.settles ?? false ? 1 : 0, $0.address) < ($1.outcome?.settles ?? false ? 1 : 0, $1.address) }
    }

    /// A grid worker records what they found at one household of a task. The household must be
    /// one of the task's and in the actor's grid (else 404); a closed task is refused (409); a
    /// repeat of the same record changes nothing; nobody home after the household was reached is
    /// refused (409). The task's counts move with the outcome, in the same transaction.
    public func markTask(_ id: Int64, household: Int64, _ mark: GridTaskMark, actor: Actor) async throws -> GridTaskHousehold {
        try actor.require(.visitLog)
        var v = Validator()
        let feedback = (mark.feedback ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let outcome = GridTaskRules.check(outcome: mark.outcome, feedback: feedback, &v)
        var category: String?
        if mark.fileRequest == true {
            v.check(outcome == .problem, "file_request", "not_a_problem", "只有“发现问题”才能同时登记为诉求")
            // Unchosen: "other", for the community to sort (the console's row form has no room for a list per door).
            let chosen = (mark.requestCategory ?? "").trimmingCharacters(in: .whitespaces)
            let codes = try await requestCategories().map(\.code)
            let picked: String? = chosen.isEmpty ? (codes.contains("other") ? "other" : codes.first) : chosen
            v.check(picked.map(codes.contains) ?? false, "request_category", "invalid_choice", "请选择诉求类别")
            category = picked
        }
        try v.throwIfAny()
        var marked = try await recordMark(id, household: household, outcome: outcome!, feedback: feedback, actor: actor)
        // Filed through the requests capability's own use case once the mark is kept, once
        // whatever the resends (idempotent by task and household; the request is kept beside).
        if let category, marked.outcome == .problem, marked.requestID == nil,
           // Claimed first (request_id 0 while filing): a worker and the office marking the same
           // door at once file one request, not two. A claim left by a filing that died is taken
           // again after a minute (the idempotency key keeps a repeat by the same person to one).
           try await store.transaction({ [now = env.nowSeconds] db in
               try await db.query("""
                   UPDATE grid_task_households SET request_id = 0, request_claimed_at = \(now)
                   WHERE task_id = \(id) AND household_id = \(household) AND (request_id IS NULL OR (request_id = 0 AND request_claimed_at < \(now - 60)))
                   RETURNING household_id
                   """).first() != nil
           }) {
            var input = RequestInput()
            input.category = category
            input.description = marked.feedback
            input.householdID = household
            input.channel = "visit"
            input.contactName = actor.displayName
            input.idempotencyKey = "task-\(id)-\(household)"
            let requestID: Int64
            do { requestID = try await fileRequest(input, [], actor) } catch {
                // Not filed: the claim goes, so the next tap files it.
                try? await store.transaction { db in
                    try await db.query("UPDATE grid_task_households SET request_id = NULL WHERE task_id = \(id) AND household_id = \(household) AND request_id = 0").run()
                }
                throw error
            }
            try await store.transaction { db in
                try await db.query("UPDATE grid_task_households SET request_id = \(requestID) WHERE task_id = \(id) AND household_id = \(household)").run()
            }
            marked.requestID = requestID
        }
        return marked
    }

    func recordMark(_ id: Int64, household: Int64, outcome new: GridTaskOutcome, feedback: String, actor: Actor) async throws -> GridTaskHousehold {
        let outcome: GridTaskOutcome? = new
        let now = env.nowSeconds
        return try await store.transaction { db in
            // The household's row in the task, locked: two marks at once (two workers, a double
            // tap on PostgreSQL) move the counts from what the other wrote, never both from nothing.
            // Authority is the task's: its community and the grid the household was given to it in
            // (a household moved since stays with the grid that was asked).
            guard let t = try await db.query("SELECT path, closed_at FROM grid_tasks WHERE id = \(id)").first(),
                  let row = try await db.query("""
                    SELECT grid_id, micro_grid_id, outcome, feedback_cipher, attempts, by_name, updated_at, request_id FROM grid_task_households
                    WHERE task_id = \(id) AND household_id = \(household)\(unsafeRaw: store.dialect.lockForUpdate())
                    """).first(),
                  actor.may(.visitLog, on: ObjectScope(path: try t.decode(column: "path", as: String.self),
                                                       gridIDs: [try row.decode(column: "grid_id", as: Int64.self), try row.decode(column: "micro_grid_id", as: Int64.self)]))
            else { throw LinliError.notFound }
            let gridID = try row.decode(column: "grid_id", as: Int64.self)
            let address = try await registry.householdFacts(db, ids: [household]).first?.address ?? "#\(household)"
            guard try t.decode(column: "closed_at", as: Int64?.self) == nil else {
                throw LinliError.conflict(nil, "closed", "这项任务已经结束，不能再登记")
            }
            let old = try row.decode(column: "outcome", as: String?.self).flatMap(GridTaskOutcome.init(rawValue:))
            if outcome == .absent, old?.settles == true {
                throw LinliError.conflict("outcome", "already_reached", "这一户已经登记完成，不能再记为不在家")
            }
            let oldFeedback = try row.decode(column: "feedback_cipher", as: String?.self).map { try cipher.open($0) } ?? ""
            let lastAt = try row.decode(column: "updated_at", as: Int64?.self)
            let current = GridTaskHousehold(householdID: household, address: address, gridID: gridID, outcome: old, feedback: oldFeedback,
                                            attempts: try row.decode(column: "attempts", as: Int.self), by: try row.decode(column: "by_name", as: String?.self),
                                            at: lastAt.map(LocalTime.text), requestID: try row.decode(column: "request_id", as: Int64?.self).flatMap { $0 == 0 ? nil : $0 })
            // A resend (a double tap, a retry after a lost answer) is the record as it stands: the
            // same outcome and words, or "nobody home" again within the hour (the same attempt).
            if old == outcome, outcome != .absent, oldFeedback == feedback { return current }
            if outcome == .absent, old == .absent, feedback.isEmpty || feedback == oldFeedback, let lastAt, now - lastAt < 3600 { return current }
            // "Nobody home" without words keeps what was written before.
            let kept = outcome == .absent && feedback.isEmpty ? oldFeedback : feedback
            try await db.query("""
                UPDATE grid_task_households SET outcome = \(outcome!.rawValue), feedback_cipher = \(kept.isEmpty ? nil : try cipher.seal(kept)),
                    attempts = attempts + \(outcome == .absent ? 1 : 0), user_id = \(actor.acting?.userID ?? actor.userID), by_name = \(actor.signature),
                    updated_at = \(now)
                WHERE task_id = \(id) AND household_id = \(household)
                """).run()
            let d = GridTaskRules.delta(from: old, to: outcome!)
            if d.done != 0 || d.problem != 0 {
                try await db.query("UPDATE grid_tasks SET done_count = done_count + \(d.done), problem_count = problem_count + \(d.problem) WHERE id = \(id)").run()
            }
            try await audit.append(db, actor: actor, action: "grid_task.mark", objectType: "grid_task", objectID: id, path: try t.decode(column: "path", as: String.self),
                                   detail: "household \(household): \(outcome!.rawValue)")
            return GridTaskHousehold(householdID: household, address: address, gridID: gridID, outcome: outcome, feedback: kept,
                                     attempts: current.attempts + (outcome == .absent ? 1 : 0), by: actor.signature, at: LocalTime.text(now),
                                     requestID: current.requestID)
        }
    }

    /// The community ends a task (done, or no longer needed): nothing more is recorded on it, and
    /// its households still open are shown as not done. Once; a second close is refused (409).
    public func closeTask(_ id: Int64, actor: Actor) async throws -> GridTaskView {
        try actor.require(.visitPlan)
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let t = try await db.query("SELECT path, closed_at, households, done_count, problem_count FROM grid_tasks WHERE id = \(id)").first(),
                  actor.may(.visitPlan, on: ObjectScope(path: try t.decode(column: "path", as: String.self)))
            else { throw LinliError.notFound }
            guard try t.decode(column: "closed_at", as: Int64?.self) == nil else { throw LinliError.conflict(nil, "closed", "这项任务已经结束") }
            try await db.query("UPDATE grid_tasks SET closed_at = \(now) WHERE id = \(id)").run()
            let open = try t.decode(column: "households", as: Int.self) - t.decode(column: "done_count", as: Int.self) - t.decode(column: "problem_count", as: Int.self)
            try await audit.append(db, actor: actor, action: "grid_task.close", objectType: "grid_task", objectID: id,
                                   path: try t.decode(column: "path", as: String.self), detail: "\(open) households left open")
        }
        return try await task(id, gridID: nil, actor: actor).task
    }

    /// A grid worker's open tasks in their grids, for the due list: title, deadline, what is left.
    public func openTasks(actor: Actor) async throws -> [GridTaskView] {
        try await tasks(community: nil, actor: actor, openOnly: true).filter { $0.state == .open || $0.state == .overdue }
    }
}
