import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Volunteer tasks: posting one with its recurring shifts, and reading it back.
extension LinkageService {
    // MARK: Tasks

    public struct TaskInput: Sendable, Codable {
        public var communityID: Int64?
        public var title: String?
        public var description: String?
        /// `one_off` or `recurring`.
        public var kind: String?
        public var skills: [String]?
        public var placeID: Int64?
        public var address: String?
        public var headcount: Int?
        /// One-off: `2026-12-05T09:00`.
        public var startsAt: String?
        /// Recurring: first and last day, weekdays (1 = Monday) and the time of day.
        public var firstDay: String?
        public var lastDay: String?
        public var weekdays: [Int]?
        public var startTime: String?
        public var durationMinutes: Int?
        public var pointsPerHour: Int?
        public var teamID: Int64?
        public var projectID: Int64?
        /// Household codes of the households served (check-in scans them).
        public var households: [String]?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case communityID = "community_id", title, description, kind, skills, placeID = "place_id", address, headcount, startsAt = "starts_at"
            case firstDay = "first_day", lastDay = "last_day", weekdays, startTime = "start_time", durationMinutes = "duration_minutes"
            case pointsPerHour = "points_per_hour", teamID = "team_id", projectID = "project_id", households
        }
    }

    /// Posts a task and creates its dated shifts (one for a one-off task, one per listed weekday
    /// between the first and last day for a recurring one).
    public func postTask(_ input: TaskInput, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in try await postTask(db, input, actor: actor) }
    }

    /// The same inside the caller's transaction (an activity's helpers are posted with it).
    public func postTask(_ db: any SQLDatabase, _ input: TaskInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        do {
            let c = try await community(db, input.communityID, actor, .volunteerManage)
            var v = Validator()
            let title = Self.trimmed(input.title), description = Self.trimmed(input.description), address = Self.trimmed(input.address)
            v.check(!title.isEmpty && title.count <= LinkageLimits.titleMax, "title", "required", "请填写任务名称（\(LinkageLimits.titleMax) 字以内）")
            v.check(description.count <= LinkageLimits.textMax, "description", "too_long", "说明过长")
            let kind = input.kind ?? "one_off"
            v.check(["one_off", "recurring"].contains(kind), "kind", "invalid", "任务类型应为一次性或定期")
            let headcount = input.headcount ?? 1
            v.check((1...LinkageLimits.headcountMax).contains(headcount), "headcount", "invalid", "每班人数应为 1 到 \(LinkageLimits.headcountMax)")
            let duration = input.durationMinutes ?? 60
            v.check((15...720).contains(duration), "duration_minutes", "invalid", "每班时长应为 15 到 720 分钟")
            let perHour = input.pointsPerHour ?? PointsRule.defaultPerHour
            v.check((0...100).contains(perHour), "points_per_hour", "invalid", "每小时积分应为 0 到 100")
            var firstDay: Int64 = 0, lastDay: Int64 = 0, startMinute = 0
            var weekdays = Set(input.weekdays ?? [])
            if kind == "one_off" {
                if let s = input.startsAt.flatMap(LocalTime.parse) {
                    firstDay = LocalDay.of(s); lastDay = firstDay; startMinute = LocalDay.minute(s); weekdays = [LocalDay.weekday(firstDay)]
                    v.check(s > now, "starts_at", "in_past", "开始时间已过")
                } else { v.check(false, "starts_at", "invalid", "请填写开始时间，如 2026-12-05T09:00") }
            } else {
                let f = input.firstDay.flatMap { Input.day($0) }, l = input.lastDay.flatMap { Input.day($0) }
                v.check(f != nil, "first_day", "invalid", "请填写开始日期")
                v.check(l != nil, "last_day", "invalid", "请填写结束日期")
                if let f, let l {
                    v.check(l >= f, "last_day", "before_first", "结束日期不能早于开始日期")
                    v.check(l - f <= 366, "last_day", "too_long", "定期任务最长一年")
                    firstDay = f; lastDay = l
                }
                v.check(!weekdays.isEmpty && weekdays.allSatisfy { (1...7).contains($0) }, "weekdays", "required", "请选择星期几")
                if let m = input.startTime.flatMap(LocalDay.parseHHMM) { startMinute = m } else { v.check(false, "start_time", "invalid", "请填写时间，如 11:00") }
            }
            v.check(startMinute + duration <= 24 * 60, "duration_minutes", "past_midnight", "班次不能跨过午夜")
            try v.throwIfAny()
            guard let placeID = input.placeID else { throw LinliError.invalid("place_id", "required", "请选择服务地点") }
            guard let place = try await db.raw("SELECT path, name FROM places WHERE id = \(bind: placeID) AND \(store.dialect.startsWith("path", c.path))").first() else {
                throw LinliError.invalid("place_id", "out_of_scope", "地点不在本社区")
            }
            let point = try await Self.point(db, placePath: try place.decode(column: "path", as: String.self))
            if let t = input.teamID {
                guard try await db.raw("SELECT id FROM volunteer_teams WHERE id = \(bind: t) AND community_id = \(bind: c.id)").first() != nil else {
                    throw LinliError.invalid("team_id", "unknown_team", "本社区没有这支队伍")
                }
            }
            if let p = input.projectID {
                guard try await db.raw("SELECT id FROM micro_projects WHERE id = \(bind: p) AND community_id = \(bind: c.id)").first() != nil else {
                    throw LinliError.invalid("project_id", "unknown_project", "本社区没有这个微项目")
                }
            }
            var households: [Int64] = []
            for raw in input.households ?? [] {
                if raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continue }
                let code = ScannedCode.code(raw)
                guard let h = try await db.raw("SELECT id FROM households WHERE code = \(bind: code) AND \(store.dialect.startsWith("path", c.path))").first() else {
                    throw LinliError.invalid("households", "unknown_code", "住户码 \(code) 不在本社区")
                }
                households.append(try h.decode(column: "id", as: Int64.self))
            }
            let occurrences = VolunteerMatching.occurrences(firstDay: firstDay, lastDay: lastDay, weekdays: weekdays, startMinute: startMinute, durationMinutes: duration)
            guard !occurrences.isEmpty else { throw LinliError.invalid("weekdays", "no_shifts", "所选日期内没有这些星期几") }
            guard occurrences.count <= LinkageLimits.shiftsPerTaskMax else { throw LinliError.invalid("last_day", "too_many", "班次过多，请缩短日期范围") }
            let skills = Array(Set((input.skills ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })).sorted()
            let id = try await db.raw("""
                INSERT INTO volunteer_tasks (community_id, path, title, description, kind, skills, place_id, address, lat, lng, headcount, first_day, last_day,
                                             weekdays, start_minute, duration_minutes, points_per_hour, team_id, project_id, owner_id, status, created_at)
                VALUES (\(bind: c.id), \(bind: c.path), \(bind: title), \(bind: description), \(bind: kind), \(bind: skills.joined(separator: "|")), \(bind: placeID),
                        \(bind: address.isEmpty ? try place.decode(column: "name", as: String.self) : address), \(bind: point?.0), \(bind: point?.1), \(bind: headcount),
                        \(bind: firstDay), \(bind: lastDay), \(bind: weekdays.sorted().map(String.init).joined()), \(bind: startMinute), \(bind: duration), \(bind: perHour),
                        \(bind: input.teamID), \(bind: input.projectID), \(bind: actor.userID), 'open', \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            var insert = db.insert(into: "task_shifts").columns("task_id", "starts_at", "ends_at", "headcount")
            for (s, e) in occurrences { insert = insert.values(SQLBind(id), SQLBind(s), SQLBind(e), SQLBind(headcount)) }
            try await insert.run()
            for h in Set(households) { try await db.raw("INSERT INTO task_households (task_id, household_id) VALUES (\(bind: id), \(bind: h))").run() }
            try await audit.append(db, actor: actor, action: "task.post", objectType: "volunteer_task", objectID: id, path: c.path)
            return id
        }
    }

    struct TaskRow: Sendable {
        var id: Int64, communityID: Int64, path: String, title: String, description: String, kind: String, skills: [String], address: String
        var lat: Double?, lng: Double?, headcount: Int, firstDay: Int64, lastDay: Int64, weekdays: String, startMinute: Int, duration: Int
        var pointsPerHour: Int, teamID: Int64?, projectID: Int64?, ownerID: Int64, status: String
        var needs: TaskNeeds { TaskNeeds(taskID: id, skills: Set(skills), lat: lat, lng: lng, teamID: teamID) }
    }

    func taskRow(_ r: any SQLRow) throws -> TaskRow {
        TaskRow(id: try r.decode(column: "id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                path: try r.decode(column: "path", as: String.self), title: try r.decode(column: "title", as: String.self),
                description: try r.decode(column: "description", as: String.self), kind: try r.decode(column: "kind", as: String.self),
                skills: try r.decode(column: "skills", as: String.self).split(separator: "|").map(String.init), address: try r.decode(column: "address", as: String.self),
                lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self), headcount: try r.decode(column: "headcount", as: Int.self),
                firstDay: try r.decode(column: "first_day", as: Int64.self), lastDay: try r.decode(column: "last_day", as: Int64.self),
                weekdays: try r.decode(column: "weekdays", as: String.self), startMinute: try r.decode(column: "start_minute", as: Int.self),
                duration: try r.decode(column: "duration_minutes", as: Int.self), pointsPerHour: try r.decode(column: "points_per_hour", as: Int.self),
                teamID: try r.decode(column: "team_id", as: Int64?.self), projectID: try r.decode(column: "project_id", as: Int64?.self),
                ownerID: try r.decode(column: "owner_id", as: Int64.self), status: try r.decode(column: "status", as: String.self))
    }

    func fetchTask(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, _ action: Action = .linkageView) async throws -> TaskRow {
        guard let r = try await db.raw("SELECT * FROM volunteer_tasks WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
        let t = try taskRow(r)
        try Self.require(actor, action, t.path)
        return t
    }
}
