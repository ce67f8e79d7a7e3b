import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Volunteers, teams, tasks and their shifts; ranking and month filling; answers, check-in and
/// check-out, confirmed hours and points; rewards.
extension LinkageService {
    // MARK: Volunteers

    public struct VolunteerInput: Sendable, Codable {
        public var name: String?
        public var skills: [String]?
        public var languages: String?
        /// Keys such as `1am`, `3pm`, `7eve` (weekday 1 = Monday).
        public var availability: [String]?
        public var canCarry: Bool?
        public var canDrive: Bool?
        public init() {}
        enum CodingKeys: String, CodingKey { case name, skills, languages, availability, canCarry = "can_carry", canDrive = "can_drive" }
    }

    /// A resident (or a volunteer account) registers, or edits their own profile. Their home point
    /// is their building's (or community's), so that distance can be weighed without asking.
    public func registerVolunteer(_ input: VolunteerInput, actor: Actor) async throws -> Int64 {
        guard let own = Self.ownCommunity(actor) else { throw LinliError.forbidden }
        let now = env.nowSeconds
        var v = Validator()
        let name = Self.trimmed(input.name).isEmpty ? actor.displayName : Self.trimmed(input.name)
        v.check(name.count <= 40, "name", "too_long", "姓名不能超过 40 字")
        let skills = Array(Set((input.skills ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })).sorted()
        v.check(skills.count <= 20 && skills.allSatisfy { $0.count <= 20 && !$0.contains("|") }, "skills", "invalid", "技能最多 20 项，每项不超过 20 字")
        let availability = Availability.from(keys: input.availability ?? [])
        v.check(!availability.slots.isEmpty, "availability", "required", "请至少选择一个可服务的时段")
        let languages = Self.trimmed(input.languages)
        v.check(languages.count <= 100, "languages", "too_long", "语言不超过 100 字")
        try v.throwIfAny()
        var allSkills = Set(skills)
        if input.canCarry == true { allSkills.insert("carry") }
        if input.canDrive == true { allSkills.insert("drive") }
        let skillText = allSkills.sorted().joined(separator: "|")
        let avail = String(decoding: try JSON.encoder.encode(availability), as: UTF8.self)
        return try await store.transaction { db in
            let home = actor.grants.first { $0.role == .resident || $0.role == .volunteer }?.placePath ?? own.path
            let point = try await Self.point(db, placePath: home)
            if let existing = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: actor.userID)").first() {
                let id = try existing.decode(column: "id", as: Int64.self)
                try await db.raw("""
                    UPDATE volunteers SET name = \(bind: name), skills = \(bind: skillText), languages = \(bind: languages), availability = \(bind: avail),
                      can_carry = \(bind: input.canCarry == true ? 1 : 0), can_drive = \(bind: input.canDrive == true ? 1 : 0), status = 'active', updated_at = \(bind: now)
                    WHERE id = \(bind: id)
                    """).run()
                try await audit.append(db, actor: actor, action: "volunteer.update", objectType: "volunteer", objectID: id, path: own.path)
                return id
            }
            let id = try await db.raw("""
                INSERT INTO volunteers (user_id, community_id, path, name, skills, languages, availability, area_place_id, lat, lng, can_carry, can_drive, status, created_at, updated_at)
                VALUES (\(bind: actor.userID), \(bind: own.id), \(bind: own.path), \(bind: name), \(bind: skillText), \(bind: languages), \(bind: avail),
                        \(bind: PlacePath.ids(home).last), \(bind: point?.0), \(bind: point?.1), \(bind: input.canCarry == true ? 1 : 0), \(bind: input.canDrive == true ? 1 : 0),
                        'active', \(bind: now), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "volunteer.register", objectType: "volunteer", objectID: id, path: own.path)
            return id
        }
    }

    public struct VolunteerView: Sendable, Codable {
        public var id: Int64
        public var name: String
        public var skills: [String]
        public var skillsText: String
        public var languages: String
        public var availabilityKeys: [String]
        public var availabilityText: String
        public var canCarry: Bool
        public var canDrive: Bool
        public var teams: [String]
        public var confirmedMinutes: Int
        public var hoursText: String
        public var points: Int
        enum CodingKeys: String, CodingKey {
            case id, name, skills, skillsText = "skills_text", languages, availabilityKeys = "availability_keys", availabilityText = "availability_text"
            case canCarry = "can_carry", canDrive = "can_drive", teams, confirmedMinutes = "confirmed_minutes", hoursText = "hours_text", points
        }
    }

    static func skillLabel(_ code: String) -> String { VolunteerSkills.common.first { $0.0 == code }?.1 ?? code }

    static func availabilityText(_ a: Availability) -> String {
        let days = ["", "一", "二", "三", "四", "五", "六", "日"], periods = ["am": "上午", "pm": "下午", "eve": "晚上"]
        return a.keys.sorted().map { k in "周" + days[Int(String(k.first!))!] + (periods[String(k.dropFirst())] ?? "") }.joined(separator: "、")
    }

    static func hours(_ minutes: Int) -> String { minutes % 60 == 0 ? "\(minutes / 60)" : String(format: "%.1f", Double(minutes) / 60) }

    func volunteerViews(_ db: any SQLDatabase, where clause: SQLQueryString) async throws -> [VolunteerView] {
        var q = SQLQueryString("""
            SELECT v.id, v.name, v.skills, v.languages, v.availability, v.can_carry, v.can_drive,
                   (SELECT COALESCE(SUM(a.minutes), 0) FROM shift_assignments a WHERE a.volunteer_id = v.id AND a.confirmed_at IS NOT NULL) AS minutes,
                   (SELECT COALESCE(SUM(e.delta), 0) FROM point_entries e WHERE e.volunteer_id = v.id) AS points
            FROM volunteers v WHERE 
            """)
        q.appendLiteral(" ")
        q.appendInterpolation(clause)
        q.appendLiteral(" ORDER BY v.id LIMIT 2000")
        let rows = try await db.raw(q).all()
        // Teams of all listed volunteers in one query, not one per volunteer (a community has thousands).
        var teamsOf: [Int64: [String]] = [:]
        let ids = try rows.map { try $0.decode(column: "id", as: Int64.self) }
        for chunk in stride(from: 0, to: ids.count, by: 500) {
            let list = ids[chunk..<min(chunk + 500, ids.count)].map(String.init).joined(separator: ",")
            for t in try await db.raw("""
                SELECT m.volunteer_id, t.name FROM team_members m JOIN volunteer_teams t ON t.id = m.team_id WHERE m.volunteer_id IN (\(unsafeRaw: list)) ORDER BY t.id
                """).all() {
                teamsOf[try t.decode(column: "volunteer_id", as: Int64.self), default: []].append(try t.decode(column: "name", as: String.self))
            }
        }
        var out: [VolunteerView] = []
        for r in rows {
            let id = try r.decode(column: "id", as: Int64.self)
            let skills = try r.decode(column: "skills", as: String.self).split(separator: "|").map(String.init)
            let a = try JSONDecoder().decode(Availability.self, from: Data(try r.decode(column: "availability", as: String.self).utf8))
            let teams = teamsOf[id] ?? []
            let minutes = Int(try r.decode(column: "minutes", as: Int64.self))
            out.append(VolunteerView(id: id, name: try r.decode(column: "name", as: String.self), skills: skills,
                                     skillsText: skills.map(Self.skillLabel).joined(separator: "、"), languages: try r.decode(column: "languages", as: String.self),
                                     availabilityKeys: a.keys.sorted(), availabilityText: Self.availabilityText(a),
                                     canCarry: try r.decode(column: "can_carry", as: Int.self) == 1, canDrive: try r.decode(column: "can_drive", as: Int.self) == 1,
                                     teams: teams, confirmedMinutes: minutes, hoursText: Self.hours(minutes), points: Int(try r.decode(column: "points", as: Int64.self))))
        }
        return out
    }

    /// The signed-in person's own volunteer profile, if they registered.
    public func ownVolunteer(actor: Actor) async throws -> VolunteerView? {
        try await store.read { db in try await volunteerViews(db, where: "v.user_id = \(bind: actor.userID)").first }
    }

    /// Volunteers of a community, for staff.
    public func volunteers(communityID: Int64, actor: Actor) async throws -> [VolunteerView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .volunteerManage)
            return try await volunteerViews(db, where: "v.community_id = \(bind: c.id) AND v.status = 'active'")
        }
    }

    // MARK: Teams

    public func createTeam(communityID: Int64?, name rawName: String?, kind rawKind: String?, organisationID: Int64?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let c = try await community(db, communityID, actor, .volunteerManage)
            let name = Self.trimmed(rawName), kind = rawKind ?? "community"
            var v = Validator()
            v.check(!name.isEmpty && name.count <= 40, "name", "required", "请填写队伍名称（40 字以内）")
            v.check(["community", "organisation", "party_branch"].contains(kind), "kind", "invalid", "队伍归属应为社区、社会组织或党支部")
            v.check(kind == "community" || organisationID != nil, "organisation_id", "required", "请选择所属组织")
            try v.throwIfAny()
            if let o = organisationID {
                guard try await db.raw("""
                    SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.id = \(bind: o) AND (\(store.dialect.startsWith("p.path", c.path)) OR \(bind: c.path) LIKE p.path || '%')
                    """).first() != nil else { throw LinliError.invalid("organisation_id", "unknown_organisation", "该组织不在本社区") }
            }
            let id = try await db.raw("""
                INSERT INTO volunteer_teams (community_id, path, name, kind, organisation_id, created_at)
                VALUES (\(bind: c.id), \(bind: c.path), \(bind: name), \(bind: kind), \(bind: organisationID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "team.create", objectType: "volunteer_team", objectID: id, path: c.path)
            return id
        }
    }

    public func addTeamMember(teamID: Int64, volunteerID: Int64?, actor: Actor) async throws {
        try await store.transaction { db in
            guard let t = try await db.raw("SELECT path, community_id FROM volunteer_teams WHERE id = \(bind: teamID)").first() else { throw LinliError.notFound }
            let path = try t.decode(column: "path", as: String.self)
            try Self.require(actor, .volunteerManage, path)
            guard let vid = volunteerID else { throw LinliError.invalid("volunteer_id", "required", "请选择志愿者") }
            guard try await db.raw("SELECT id FROM volunteers WHERE id = \(bind: vid) AND community_id = \(bind: try t.decode(column: "community_id", as: Int64.self))").first() != nil else {
                throw LinliError.invalid("volunteer_id", "unknown_volunteer", "本社区没有这位志愿者")
            }
            try await db.raw("INSERT INTO team_members (team_id, volunteer_id) VALUES (\(bind: teamID), \(bind: vid)) ON CONFLICT DO NOTHING").run()
        }
    }

    public struct TeamView: Sendable, Codable { public var id: Int64; public var name: String; public var kind: String; public var members: Int }

    public func teams(communityID: Int64, actor: Actor) async throws -> [TeamView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            return try await db.raw("""
                SELECT t.id, t.name, t.kind, (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS n FROM volunteer_teams t WHERE t.community_id = \(bind: c.id) ORDER BY t.id
                """).all().map { TeamView(id: try $0.decode(column: "id", as: Int64.self), name: try $0.decode(column: "name", as: String.self),
                                          kind: try $0.decode(column: "kind", as: String.self), members: try $0.decode(column: "n", as: Int.self)) }
        }
    }

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

    // MARK: Volunteer profiles for matching

    func profiles(_ db: any SQLDatabase, communityID: Int64) async throws -> [VolunteerProfile] {
        let rows = try await db.raw("SELECT id, skills, availability, lat, lng FROM volunteers WHERE community_id = \(bind: communityID) AND status = 'active'").all()
        var teams: [Int64: Set<Int64>] = [:]
        for r in try await db.raw("""
            SELECT m.volunteer_id, m.team_id FROM team_members m JOIN volunteer_teams t ON t.id = m.team_id WHERE t.community_id = \(bind: communityID)
            """).all() {
            teams[try r.decode(column: "volunteer_id", as: Int64.self), default: []].insert(try r.decode(column: "team_id", as: Int64.self))
        }
        let decoder = JSONDecoder()
        return try rows.map { r in
            let id = try r.decode(column: "id", as: Int64.self)
            return VolunteerProfile(id: id, skills: Set(try r.decode(column: "skills", as: String.self).split(separator: "|").map(String.init)),
                                    availability: try decoder.decode(Availability.self, from: Data(try r.decode(column: "availability", as: String.self).utf8)),
                                    lat: try r.decode(column: "lat", as: Double?.self), lng: try r.decode(column: "lng", as: Double?.self), teamIDs: teams[id] ?? [])
        }
    }

    /// Other shifts held (busy time) and minutes held this month (load), from the community's assignments.
    func busyAndLoad(_ db: any SQLDatabase, communityID: Int64, from: Int64, to: Int64) async throws -> (VolunteerMatching.Busy, [Int64: Int]) {
        var busy: VolunteerMatching.Busy = [:], load: [Int64: Int] = [:]
        let rows = try await db.raw("""
            SELECT a.volunteer_id, a.starts_at, a.ends_at FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id
            WHERE v.community_id = \(bind: communityID) AND a.status IN ('proposed', 'accepted', 'confirmed', 'done')
              AND a.starts_at < \(bind: to) AND a.ends_at > \(bind: from)
            """).all()
        for r in rows {
            let v = try r.decode(column: "volunteer_id", as: Int64.self), s = try r.decode(column: "starts_at", as: Int64.self), e = try r.decode(column: "ends_at", as: Int64.self)
            busy[v, default: []].append((s, e))
            load[v, default: 0] += Int((e - s) / 60)
        }
        return (busy, load)
    }

    func shiftSlots(_ db: any SQLDatabase, taskIDs: [Int64], from: Int64, to: Int64) async throws -> [ShiftSlot] {
        guard !taskIDs.isEmpty else { return [] }
        let list = taskIDs.map(String.init).joined(separator: ",")
        var holders: [Int64: [Int64]] = [:], declined: [Int64: Set<Int64>] = [:]
        for r in try await db.raw("""
            SELECT a.shift_id, a.volunteer_id, a.status FROM shift_assignments a JOIN task_shifts s ON s.id = a.shift_id
            WHERE a.task_id IN (\(unsafeRaw: list)) AND s.starts_at >= \(bind: from) AND s.starts_at < \(bind: to)
            """).all() {
            let s = try r.decode(column: "shift_id", as: Int64.self), v = try r.decode(column: "volunteer_id", as: Int64.self)
            switch try r.decode(column: "status", as: String.self) {
            case "declined", "cancelled": declined[s, default: []].insert(v)
            default: holders[s, default: []].append(v)
            }
        }
        return try await db.raw("""
            SELECT id, task_id, starts_at, ends_at, headcount FROM task_shifts WHERE task_id IN (\(unsafeRaw: list)) AND starts_at >= \(bind: from) AND starts_at < \(bind: to)
            ORDER BY starts_at, id
            """).all().map { r in
            let id = try r.decode(column: "id", as: Int64.self)
            return ShiftSlot(id: id, taskID: try r.decode(column: "task_id", as: Int64.self), startsAt: try r.decode(column: "starts_at", as: Int64.self),
                             endsAt: try r.decode(column: "ends_at", as: Int64.self), headcount: try r.decode(column: "headcount", as: Int.self),
                             holders: holders[id] ?? [], declined: declined[id] ?? [])
        }
    }

    // MARK: Ranking and filling

    public struct CandidateView: Sendable, Codable {
        public var volunteerID: Int64
        public var name: String
        public var score: Int
        public var distanceText: String
        public var hoursThisMonth: String
        public var unfit: String?
        enum CodingKeys: String, CodingKey { case volunteerID = "volunteer_id", name, score, distanceText = "distance_text", hoursThisMonth = "hours_this_month", unfit }
    }

    /// Everyone of the community for one shift, the fit ones first and best first.
    public func rank(shiftID: Int64, actor: Actor, limit: Int = 30) async throws -> [CandidateView] {
        try await store.read { db in
            guard let s = try await db.raw("SELECT task_id, starts_at FROM task_shifts WHERE id = \(bind: shiftID)").first() else { throw LinliError.notFound }
            let task = try await fetchTask(db, try s.decode(column: "task_id", as: Int64.self), actor, .volunteerManage)
            let start = try s.decode(column: "starts_at", as: Int64.self)
            let (from, to) = Self.monthAround(start)
            guard let slot = try await shiftSlots(db, taskIDs: [task.id], from: start, to: start + 1).first(where: { $0.id == shiftID }) else { throw LinliError.notFound }
            let (busy, load) = try await busyAndLoad(db, communityID: task.communityID, from: from, to: to)
            let people = try await profiles(db, communityID: task.communityID)
            let ranked = VolunteerMatching.rank(people, task.needs, slot, busy: busy, load: load).prefix(limit)
            var names: [Int64: String] = [:]
            for r in try await db.raw("SELECT id, name FROM volunteers WHERE community_id = \(bind: task.communityID)").all() {
                names[try r.decode(column: "id", as: Int64.self)] = try r.decode(column: "name", as: String.self)
            }
            return ranked.map { c in
                CandidateView(volunteerID: c.volunteerID, name: names[c.volunteerID] ?? "", score: c.score,
                              distanceText: c.distance.map { $0 < 1000 ? "\(Int($0)) m" : String(format: "%.1f km", $0 / 1000) } ?? "—",
                              hoursThisMonth: Self.hours(c.loadMinutes), unfit: c.unfit?.rawValue)
            }
        }
    }

    static func monthAround(_ epoch: Int64) -> (Int64, Int64) {
        let m = LocalDay.month(of: LocalDay.of(epoch))
        return (LocalDay.start(m.first), LocalDay.start(m.last + 1))
    }

    public struct FillResult: Sendable, Codable {
        public var shifts: Int
        public var proposed: Int
        /// Volunteers of the community the filler could draw on.
        public var volunteers: Int = 0
        public var uncovered: [UncoveredShift]
        public struct UncoveredShift: Sendable, Codable {
            public var shiftID: Int64
            public var taskID: Int64
            public var task: String
            public var when: String
            public var missing: Int
            /// Why the places stay empty: how many of the community's volunteers could not take
            /// it, by reason (skills, busy, unavailable, too_far, overloaded, team, declined).
            public var reasons: [String: Int] = [:]
            enum CodingKeys: String, CodingKey { case shiftID = "shift_id", taskID = "task_id", task, when, missing, reasons }
        }
    }

    /// Proposes volunteers for every short shift of a month — of one task, or of all the
    /// community's open tasks — fairly and without double-booking; tells each volunteer.
    public func fillMonth(communityID: Int64?, taskID: Int64?, month: String?, actor: Actor) async throws -> FillResult {
        let now = env.nowSeconds
        guard let m = month.flatMap(LocalDay.month) else { throw LinliError.invalid("month", "invalid", "请填写月份，如 2026-12") }
        return try await store.transaction { db in
            let c: (id: Int64, path: String, name: String)
            var tasks: [TaskRow]
            if let taskID {
                let t = try await fetchTask(db, taskID, actor, .volunteerManage)
                c = (t.communityID, t.path, "")
                tasks = [t]
            } else {
                c = try await community(db, communityID, actor, .volunteerManage)
                tasks = try await db.raw("SELECT * FROM volunteer_tasks WHERE community_id = \(bind: c.id) AND status = 'open'").all().map(taskRow)
            }
            tasks = tasks.filter { $0.status == "open" }
            // Only future shifts: a past day cannot be staffed any more.
            let from = max(LocalDay.start(m.first), now), to = LocalDay.start(m.last + 1)
            let shifts = try await shiftSlots(db, taskIDs: tasks.map(\.id), from: from, to: to)
            let (busy, load) = try await busyAndLoad(db, communityID: c.id, from: LocalDay.start(m.first), to: to)
            let people = try await profiles(db, communityID: c.id)
            let needs = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0.needs) })
            let plan = VolunteerMatching.fill(shifts, needs: needs, volunteers: people, busy: busy, load: load)
            let byShift = Dictionary(uniqueKeysWithValues: shifts.map { ($0.id, $0) })
            if !plan.proposals.isEmpty {
                // Batched: a month of 50 tasks proposes thousands of rows.
                for chunk in stride(from: 0, to: plan.proposals.count, by: 500) {
                    var insert = db.insert(into: "shift_assignments").columns("shift_id", "task_id", "volunteer_id", "starts_at", "ends_at", "status", "created_at")
                    for p in plan.proposals[chunk..<min(chunk + 500, plan.proposals.count)] {
                        let s = byShift[p.shiftID]!
                        insert = insert.values(SQLBind(s.id), SQLBind(s.taskID), SQLBind(p.volunteerID), SQLBind(s.startsAt), SQLBind(s.endsAt), SQLBind("proposed"), SQLBind(now))
                    }
                    try await insert.run()
                }
                let volunteerIDs = Set(plan.proposals.map(\.volunteerID)).map(String.init).joined(separator: ",")
                let users = try await db.raw("SELECT user_id FROM volunteers WHERE id IN (\(unsafeRaw: volunteerIDs))").all().map { try $0.decode(column: "user_id", as: Int64.self) }
                try await notify(db, users, kind: "shift_proposed", subject: ChinaTime.iso(day: m.first).prefix(7) + " " + (tasks.count == 1 ? tasks[0].title : c.name), link: "/volunteer")
            }
            try await audit.append(db, actor: actor, action: "task.fill", objectType: taskID == nil ? "community" : "volunteer_task", objectID: taskID ?? c.id,
                                   path: c.path, detail: "proposed=\(plan.proposals.count) uncovered=\(plan.uncovered.count)")
            let titles = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0.title) })
            return FillResult(shifts: shifts.count, proposed: plan.proposals.count, volunteers: people.count, uncovered: plan.uncovered.map { u in
                let s = byShift[u.shiftID]!
                return .init(shiftID: s.id, taskID: s.taskID, task: titles[s.taskID] ?? "", when: LocalTime.text(s.startsAt), missing: u.missing,
                             reasons: u.reasons)
            })
        }
    }

    // MARK: Assignments

    struct AssignmentRow: Sendable {
        var id: Int64, shiftID: Int64, taskID: Int64, volunteerID: Int64, volunteerUser: Int64, startsAt: Int64, endsAt: Int64, status: String
        var checkInAt: Int64?, checkOutAt: Int64?, minutes: Int?, confirmedAt: Int64?
    }

    func fetchAssignment(_ db: any SQLDatabase, _ id: Int64) async throws -> AssignmentRow {
        guard let r = try await db.raw("""
            SELECT a.id, a.shift_id, a.task_id, a.volunteer_id, v.user_id, a.starts_at, a.ends_at, a.status, a.check_in_at, a.check_out_at, a.minutes, a.confirmed_at
            FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id WHERE a.id = \(bind: id)\(unsafeRaw: lockRow)
            """).first() else { throw LinliError.notFound }
        return AssignmentRow(id: id, shiftID: try r.decode(column: "shift_id", as: Int64.self), taskID: try r.decode(column: "task_id", as: Int64.self),
                             volunteerID: try r.decode(column: "volunteer_id", as: Int64.self), volunteerUser: try r.decode(column: "user_id", as: Int64.self),
                             startsAt: try r.decode(column: "starts_at", as: Int64.self), endsAt: try r.decode(column: "ends_at", as: Int64.self),
                             status: try r.decode(column: "status", as: String.self), checkInAt: try r.decode(column: "check_in_at", as: Int64?.self),
                             checkOutAt: try r.decode(column: "check_out_at", as: Int64?.self), minutes: try r.decode(column: "minutes", as: Int?.self),
                             confirmedAt: try r.decode(column: "confirmed_at", as: Int64?.self))
    }

    /// Refuses a shift that overlaps another the volunteer holds. Locks the volunteer's row on
    /// PostgreSQL so that two concurrent assignments cannot both pass.
    func requireFree(_ db: any SQLDatabase, volunteerID: Int64, shiftID: Int64, from: Int64, to: Int64) async throws {
        _ = try await db.raw("SELECT id FROM volunteers WHERE id = \(bind: volunteerID)\(unsafeRaw: lockRow)").first()
        if let clash = try await db.raw("""
            SELECT t.title, a.starts_at FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id
            WHERE a.volunteer_id = \(bind: volunteerID) AND a.shift_id <> \(bind: shiftID) AND a.status IN ('proposed', 'accepted', 'confirmed', 'done')
              AND a.starts_at < \(bind: to) AND a.ends_at > \(bind: from)
            """).first() {
            throw LinliError.conflict("shift_id", "shift_overlap", "与该志愿者的另一班次时间重叠：\(try clash.decode(column: "title", as: String.self)) \(LocalTime.text(try clash.decode(column: "starts_at", as: Int64.self)))")
        }
    }

    func shiftFor(_ db: any SQLDatabase, _ shiftID: Int64) async throws -> (taskID: Int64, startsAt: Int64, endsAt: Int64, headcount: Int) {
        guard let s = try await db.raw("SELECT task_id, starts_at, ends_at, headcount FROM task_shifts WHERE id = \(bind: shiftID)").first() else { throw LinliError.notFound }
        return (try s.decode(column: "task_id", as: Int64.self), try s.decode(column: "starts_at", as: Int64.self), try s.decode(column: "ends_at", as: Int64.self),
                try s.decode(column: "headcount", as: Int.self))
    }

    /// Staff put a volunteer on a shift (proposed; the volunteer answers).
    public func propose(shiftID: Int64, volunteerID: Int64?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let s = try await shiftFor(db, shiftID)
            let task = try await fetchTask(db, s.taskID, actor, .volunteerManage)
            guard let vid = volunteerID else { throw LinliError.invalid("volunteer_id", "required", "请选择志愿者") }
            guard let v = try await db.raw("SELECT user_id FROM volunteers WHERE id = \(bind: vid) AND community_id = \(bind: task.communityID) AND status = 'active'").first() else {
                throw LinliError.invalid("volunteer_id", "unknown_volunteer", "本社区没有这位志愿者")
            }
            guard s.startsAt > now else { throw LinliError.conflict("shift_id", "shift_past", "该班次已开始或已结束") }
            let id = try await placeOnShift(db, shiftID: shiftID, taskID: task.id, volunteerID: vid, from: s.startsAt, to: s.endsAt, status: "proposed", now: now)
            try await notify(db, [try v.decode(column: "user_id", as: Int64.self)], kind: "shift_proposed", subject: task.title + " " + LocalTime.text(s.startsAt), link: "/volunteer")
            try await audit.append(db, actor: actor, action: "shift.propose", objectType: "shift_assignment", objectID: id, path: task.path)
            return id
        }
    }

    func placeOnShift(_ db: any SQLDatabase, shiftID: Int64, taskID: Int64, volunteerID: Int64, from: Int64, to: Int64, status: String, now: Int64) async throws -> Int64 {
        try await requireFree(db, volunteerID: volunteerID, shiftID: shiftID, from: from, to: to)
        if let existing = try await db.raw("SELECT id, status FROM shift_assignments WHERE shift_id = \(bind: shiftID) AND volunteer_id = \(bind: volunteerID)").first() {
            let st = try existing.decode(column: "status", as: String.self)
            guard st == "declined" || st == "cancelled" else { throw LinliError.conflict("volunteer_id", "already_on_shift", "该志愿者已在这个班次上") }
            let id = try existing.decode(column: "id", as: Int64.self)
            try await db.raw("UPDATE shift_assignments SET status = \(bind: status), created_at = \(bind: now) WHERE id = \(bind: id)").run()
            return id
        }
        return try await db.raw("""
            INSERT INTO shift_assignments (shift_id, task_id, volunteer_id, starts_at, ends_at, status, created_at)
            VALUES (\(bind: shiftID), \(bind: taskID), \(bind: volunteerID), \(bind: from), \(bind: to), \(bind: status), \(bind: now)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
    }

    /// A volunteer takes a free place on a shift themselves (staff then confirm).
    public func signUp(shiftID: Int64, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let s = try await shiftFor(db, shiftID)
            let task = try await fetchTask(db, s.taskID, actor, .volunteerJoin)
            guard task.status == "open" else { throw LinliError.conflict("shift_id", "task_closed", "这个志愿任务已结束") }
            guard let v = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: actor.userID) AND community_id = \(bind: task.communityID)").first() else {
                throw LinliError.conflict(nil, "not_a_volunteer", "请先登记为本社区志愿者")
            }
            guard s.startsAt > now else { throw LinliError.conflict("shift_id", "shift_past", "该班次已开始或已结束") }
            let held = try await db.raw("""
                SELECT COUNT(*) AS n FROM shift_assignments WHERE shift_id = \(bind: shiftID) AND status IN ('proposed', 'accepted', 'confirmed', 'done')
                """).first()!.decode(column: "n", as: Int.self)
            guard held < s.headcount else { throw LinliError.conflict("shift_id", "shift_full", "该班次人数已满") }
            let id = try await placeOnShift(db, shiftID: shiftID, taskID: task.id, volunteerID: try v.decode(column: "id", as: Int64.self),
                                            from: s.startsAt, to: s.endsAt, status: "accepted", now: now)
            try await notify(db, [task.ownerID], kind: "shift_answered", subject: task.title + " " + LocalTime.text(s.startsAt), link: "/tasks/\(task.id)")
            return id
        }
    }

    /// The volunteer accepts or declines a proposed shift.
    public func answer(assignmentID: Int64, accept: Bool, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            guard a.volunteerUser == actor.userID else { throw LinliError.notFound }
            guard a.status == "proposed" || (a.status == "accepted" && !accept) || (a.status == "confirmed" && !accept && a.checkInAt == nil) else {
                throw LinliError.conflict(nil, "not_open", "该班次不能再回复")
            }
            let task = try await fetchTask(db, a.taskID, actor, .volunteerJoin)
            if accept { try await requireFree(db, volunteerID: a.volunteerID, shiftID: a.shiftID, from: a.startsAt, to: a.endsAt) }
            try await db.raw("UPDATE shift_assignments SET status = \(bind: accept ? "accepted" : "declined") WHERE id = \(bind: a.id)").run()
            try await audit.append(db, actor: actor, action: "shift.answer", objectType: "shift_assignment", objectID: a.id, path: task.path, detail: accept ? "accepted" : "declined")
            try await notify(db, [task.ownerID], kind: "shift_answered", subject: task.title + " " + LocalTime.text(a.startsAt), link: "/tasks/\(task.id)")
        }
    }

    /// Staff confirm an accepted volunteer for the shift.
    public func confirmAssignment(_ assignmentID: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            let task = try await fetchTask(db, a.taskID, actor, .volunteerManage)
            guard a.status == "accepted" else { throw LinliError.conflict(nil, "not_accepted", "志愿者尚未接受该班次") }
            try await db.raw("UPDATE shift_assignments SET status = 'confirmed' WHERE id = \(bind: a.id)").run()
            try await audit.append(db, actor: actor, action: "shift.confirm", objectType: "shift_assignment", objectID: a.id, path: task.path)
        }
    }

    /// Check-in: the volunteer scans (or types) the served household's code, or staff record it.
    public func checkIn(_ assignmentID: Int64, code: String?, at: String? = nil, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            let own = a.volunteerUser == actor.userID
            let task = try await fetchTask(db, a.taskID, actor, own ? .volunteerJoin : .volunteerManage)
            guard ["accepted", "confirmed"].contains(a.status) else { throw LinliError.conflict(nil, "not_accepted", "只有已接受的班次可以签到") }
            guard a.checkInAt == nil else { throw LinliError.conflict(nil, "already_in", "已经签到") }
            var method = "staff"
            var when = now
            if own {
                // On the spot: the code of a household the task serves proves where the volunteer is.
                let served = try await db.raw("SELECT COUNT(*) AS n FROM task_households WHERE task_id = \(bind: task.id)").first()!.decode(column: "n", as: Int.self)
                // A delivery round's doors that day count as the task's households too, for a shift staff confirmed.
                let round = a.status == "confirmed" ? try await deliveries(db, task.id, LocalDay.of(a.startsAt)).map(\.householdCode) : []
                guard served > 0 || !round.isEmpty else { throw LinliError.conflict(nil, "staff_check_in", "该任务由工作人员签到") }
                let c = ScannedCode.code(Self.trimmed(code))
                guard !c.isEmpty else { throw LinliError.invalid("code", "required", "请扫描服务对象的住户码") }
                let listed = try await db.raw("""
                    SELECT 1 AS x FROM task_households th JOIN households h ON h.id = th.household_id WHERE th.task_id = \(bind: task.id) AND h.code = \(bind: c)
                    """).first() != nil
                guard listed || round.contains(c) else { throw LinliError.invalid("code", "not_served", "该住户码不是本任务的服务对象") }
                method = "code"
                guard now >= a.startsAt - 3600, now <= a.endsAt + 3600 else { throw LinliError.conflict(nil, "outside_shift", "不在班次时间内，不能签到") }
            } else if let at, !at.isEmpty {
                guard let t = LocalTime.parse(at) else { throw LinliError.invalid("in_at", "invalid", "签到时间格式应为 2026-12-01T11:00") }
                guard t <= now else { throw LinliError.invalid("in_at", "in_future", "签到时间不能晚于现在") }
                when = t
            }
            try await db.raw("UPDATE shift_assignments SET check_in_at = \(bind: when), check_in_method = \(bind: method) WHERE id = \(bind: a.id)").run()
            try await audit.append(db, actor: actor, action: "shift.check_in", objectType: "shift_assignment", objectID: a.id, path: task.path, detail: method)
        }
    }

    public func checkOut(_ assignmentID: Int64, at: String? = nil, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            let own = a.volunteerUser == actor.userID
            let task = try await fetchTask(db, a.taskID, actor, own ? .volunteerJoin : .volunteerManage)
            guard let checkIn = a.checkInAt else { throw LinliError.conflict(nil, "not_checked_in", "尚未签到，不能签退") }
            guard a.checkOutAt == nil else { throw LinliError.conflict(nil, "already_out", "已经签退") }
            var when = now
            if !own, let at, !at.isEmpty {
                guard let t = LocalTime.parse(at) else { throw LinliError.invalid("out_at", "invalid", "签退时间格式应为 2026-12-01T12:00") }
                when = t
            }
            guard when > checkIn else { throw LinliError.invalid("out_at", "before_check_in", "签退时间不能早于签到时间") }
            guard when <= now else { throw LinliError.invalid("out_at", "in_future", "签退时间不能晚于现在") }
            let minutes = Int((when - checkIn) / 60)
            try await db.raw("UPDATE shift_assignments SET check_out_at = \(bind: when), minutes = \(bind: minutes), status = 'done' WHERE id = \(bind: a.id)").run()
            try await audit.append(db, actor: actor, action: "shift.check_out", objectType: "shift_assignment", objectID: a.id, path: task.path, detail: "minutes=\(minutes)")
        }
    }

    /// The task's owner (or other staff) confirms the hours; points follow the task's rule.
    /// Nobody confirms their own hours.
    public func confirmHours(_ assignmentID: Int64, minutes: Int?, actor: Actor) async throws -> Int {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            let task = try await fetchTask(db, a.taskID, actor, .volunteerManage)
            guard a.volunteerUser != actor.userID else { throw LinliError(.forbidden, code: "own_hours", message: "不能确认自己的服务时长") }
            guard a.status == "done", let worked = a.minutes else { throw LinliError.conflict(nil, "not_checked_out", "签退后才能确认时长") }
            guard a.confirmedAt == nil else { throw LinliError.conflict(nil, "already_confirmed", "时长已确认") }
            let confirmed = minutes ?? worked
            guard (0...max(worked, 0)).contains(confirmed) else { throw LinliError.invalid("minutes", "invalid", "确认时长应在 0 到签到签退的 \(worked) 分钟之间") }
            let points = PointsRule.points(minutes: confirmed, perHour: task.pointsPerHour)
            try await db.raw("""
                UPDATE shift_assignments SET minutes = \(bind: confirmed), confirmed_by = \(bind: actor.userID), confirmed_at = \(bind: now), points = \(bind: points) WHERE id = \(bind: a.id)
                """).run()
            if points > 0 {
                try await db.raw("""
                    INSERT INTO point_entries (volunteer_id, delta, kind, assignment_id, note, at)
                    VALUES (\(bind: a.volunteerID), \(bind: points), 'earn', \(bind: a.id), \(bind: task.title), \(bind: now))
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "hours.confirm", objectType: "shift_assignment", objectID: a.id, path: task.path, detail: "minutes=\(confirmed) points=\(points)")
            try await notify(db, [a.volunteerUser], kind: "hours_confirmed", subject: "\(task.title) \(Self.hours(confirmed)) 小时 +\(points)", link: "/volunteer")
            return points
        }
    }

    /// Asks residents of the task's compound and the community's volunteers to help with a short shift.
    public func callForVolunteers(taskID: Int64, actor: Actor) async throws -> Int {
        try await store.transaction { db in
            let task = try await fetchTask(db, taskID, actor, .volunteerManage)
            // A task without a place of its own calls its community.
            let place = try await db.raw("SELECT p.path FROM volunteer_tasks t JOIN places p ON p.id = t.place_id WHERE t.id = \(bind: task.id)").first()?
                .decode(column: "path", as: String.self) ?? task.path
            // Nearby: the compound (or villager group) of the task's place, or the whole place if above it.
            let ids = PlacePath.ids(place)
            let near = "/" + ids.prefix(5).map(String.init).joined(separator: "/") + "/"
            let residents = try await db.raw("""
                SELECT DISTINCT g.user_id FROM role_grants g JOIN households h ON h.id = g.household_id WHERE g.role = 'resident' AND \(store.dialect.startsWith("h.path", near))
                """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
            let volunteers = try await db.raw("SELECT user_id FROM volunteers WHERE community_id = \(bind: task.communityID) AND status = 'active'").all()
                .map { try $0.decode(column: "user_id", as: Int64.self) }
            let everyone = Set(residents + volunteers)
            try await notify(db, Array(everyone), kind: "shift_call", subject: task.title, link: "/tasks/\(task.id)", except: actor.userID)
            try await audit.append(db, actor: actor, action: "task.call", objectType: "volunteer_task", objectID: task.id, path: task.path, detail: "told=\(everyone.count)")
            return everyone.count
        }
    }

    // MARK: Pages

    public struct TaskSummary: Sendable, Codable {
        public var id: Int64
        public var title: String
        public var kind: String
        public var whenText: String
        public var address: String
        public var skillsText: String
        public var shifts: Int
        public var short: Int
        public var hasShort: Bool
        enum CodingKeys: String, CodingKey { case id, title, kind, whenText = "when_text", address, skillsText = "skills_text", shifts, short, hasShort = "has_short" }
    }

    static func whenText(_ t: TaskRow) -> String {
        let time = LocalDay.hhmm(t.startMinute) + "–" + LocalDay.hhmm(t.startMinute + t.duration)
        if t.kind == "one_off" { return ChinaTime.iso(day: t.firstDay) + " " + time }
        let days = ["", "一", "二", "三", "四", "五", "六", "日"]
        let wd = t.weekdays.compactMap { Int(String($0)) }.map { days[$0] }.joined(separator: "")
        return "\(ChinaTime.iso(day: t.firstDay)) 至 \(ChinaTime.iso(day: t.lastDay)) 每周\(wd) \(time)"
    }

    /// Open tasks of a community with how many upcoming places are still short.
    public func tasks(communityID: Int64, actor: Actor) async throws -> [TaskSummary] {
        let now = env.nowSeconds
        return try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            let rows = try await db.raw("SELECT * FROM volunteer_tasks WHERE community_id = \(bind: c.id) AND status = 'open' ORDER BY id DESC LIMIT 200").all().map(taskRow)
            // Upcoming shifts and their free places, for every listed task in one grouped query.
            var counts: [Int64: (shifts: Int, short: Int64)] = [:]
            if !rows.isEmpty {
                for r in try await db.raw("""
                    SELECT s.task_id, COUNT(*) AS shifts, CAST(COALESCE(SUM(s.headcount - (SELECT COUNT(*) FROM shift_assignments a WHERE a.shift_id = s.id
                        AND a.status IN ('proposed', 'accepted', 'confirmed', 'done'))), 0) AS BIGINT) AS short
                    FROM task_shifts s WHERE s.task_id IN (\(unsafeRaw: rows.map { String($0.id) }.joined(separator: ","))) AND s.starts_at > \(bind: now)
                    GROUP BY s.task_id
                    """).all() {
                    counts[try r.decode(column: "task_id", as: Int64.self)] = (try r.decode(column: "shifts", as: Int.self), try r.decode(column: "short", as: Int64.self))
                }
            }
            return rows.map { t in
                let n = counts[t.id] ?? (0, 0)
                return TaskSummary(id: t.id, title: t.title, kind: t.kind, whenText: Self.whenText(t), address: t.address,
                                   skillsText: t.skills.map(Self.skillLabel).joined(separator: "、"), shifts: n.shifts, short: Int(n.short), hasShort: n.short > 0)
            }
        }
    }

    public struct ShiftView: Sendable, Codable {
        public var id: Int64
        public var whenText: String
        public var headcount: Int
        public var missing: Int
        public var isShort: Bool
        /// Places held by people who were proposed and have not answered yet (待回复): the shift
        /// is not staffed until they accept.
        public var waiting: Int = 0
        public var hasWaiting = false
        public var past: Bool
        public var people: [Person]
        public var canSignUp: Bool
        public struct Person: Sendable, Codable {
            public var assignmentID: Int64
            public var name: String
            public var status: String
            public var inText: String?
            public var outText: String?
            public var minutes: Int?
            public var confirmed: Bool
            public var canConfirm: Bool
            public var canCheckIn: Bool
            public var canCheckOut: Bool
            public var canConfirmHours: Bool
            enum CodingKeys: String, CodingKey {
                case assignmentID = "assignment_id", name, status = "shift_status", inText = "in_text", outText = "out_text", minutes, confirmed
                case canConfirm = "can_confirm", canCheckIn = "can_check_in", canCheckOut = "can_check_out", canConfirmHours = "can_confirm_hours"
            }
        }
        enum CodingKeys: String, CodingKey { case id, whenText = "when_text", headcount, missing, isShort = "is_short", past, people, canSignUp = "can_sign_up", waiting, hasWaiting = "has_waiting" }
    }

    public struct TaskView: Sendable, Codable {
        public var id: Int64
        public var communityID: Int64
        public var title: String
        public var description: String
        public var kind: String
        public var whenText: String
        public var address: String
        public var skillsText: String
        public var headcount: Int
        public var pointsPerHour: Int
        public var households: Int?
        public var shifts: [ShiftView]
        public var manage: Bool
        public var month: String
        enum CodingKeys: String, CodingKey {
            case id, communityID = "community_id", title, description, kind, whenText = "when_text", address, skillsText = "skills_text", headcount
            case pointsPerHour = "points_per_hour", households, shifts, manage, month
        }
    }

    /// A task with its shifts of one month, who holds each, and what the viewer may do.
    public func task(_ id: Int64, month: String?, actor: Actor) async throws -> TaskView {
        let now = env.nowSeconds
        return try await store.read { db in
            let t = try await fetchTask(db, id, actor)
            let manage = Self.covers(actor, .volunteerManage, t.path)
            let m = month.flatMap { LocalDay.month($0) } ?? LocalDay.month(of: max(t.firstDay, LocalDay.of(now)))
            let monthText = String(ChinaTime.iso(day: m.first).prefix(7))
            let from = LocalDay.start(m.first), to = LocalDay.start(m.last + 1)
            let mine = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: actor.userID) AND community_id = \(bind: t.communityID)").first()
                .map { try $0.decode(column: "id", as: Int64.self) }
            var people: [Int64: [ShiftView.Person]] = [:]
            var heldByViewer = Set<Int64>()
            for r in try await db.raw("""
                SELECT a.id, a.shift_id, a.status, a.check_in_at, a.check_out_at, a.minutes, a.confirmed_at, v.name, v.user_id, a.volunteer_id
                FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id
                WHERE a.task_id = \(bind: t.id) AND a.starts_at >= \(bind: from) AND a.starts_at < \(bind: to) ORDER BY a.id
                """).all() {
                let status = try r.decode(column: "status", as: String.self)
                let isMine = try r.decode(column: "user_id", as: Int64.self) == actor.userID
                let checkIn = try r.decode(column: "check_in_at", as: Int64?.self), checkOut = try r.decode(column: "check_out_at", as: Int64?.self)
                let confirmed = try r.decode(column: "confirmed_at", as: Int64?.self) != nil
                if isMine && !["declined", "cancelled"].contains(status) { heldByViewer.insert(try r.decode(column: "shift_id", as: Int64.self)) }
                people[try r.decode(column: "shift_id", as: Int64.self), default: []].append(ShiftView.Person(
                    assignmentID: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self), status: status,
                    inText: checkIn.map(LocalTime.text), outText: checkOut.map(LocalTime.text), minutes: try r.decode(column: "minutes", as: Int?.self),
                    confirmed: confirmed, canConfirm: manage && status == "accepted",
                    canCheckIn: (manage || isMine) && ["accepted", "confirmed"].contains(status) && checkIn == nil,
                    canCheckOut: (manage || isMine) && checkIn != nil && checkOut == nil,
                    canConfirmHours: manage && !isMine && status == "done" && !confirmed))
            }
            let shifts = try await db.raw("""
                SELECT id, starts_at, ends_at, headcount FROM task_shifts WHERE task_id = \(bind: t.id) AND starts_at >= \(bind: from) AND starts_at < \(bind: to) ORDER BY starts_at
                """).all().map { r -> ShiftView in
                let id = try r.decode(column: "id", as: Int64.self), s = try r.decode(column: "starts_at", as: Int64.self)
                let ps = people[id] ?? []
                let holding = ps.filter { !["declined", "cancelled"].contains($0.status) }
                let missing = max(0, try r.decode(column: "headcount", as: Int.self) - holding.count)
                return ShiftView(id: id, whenText: LocalTime.text(s) + "–" + LocalDay.hhmm(LocalDay.minute(try r.decode(column: "ends_at", as: Int64.self))),
                                 headcount: try r.decode(column: "headcount", as: Int.self), missing: missing, isShort: missing > 0 && s > now,
                                 waiting: holding.filter { $0.status == "proposed" }.count, hasWaiting: holding.contains { $0.status == "proposed" },
                                 past: s <= now, people: ps,
                                 canSignUp: mine != nil && missing > 0 && s > now && !heldByViewer.contains(id))
            }
            let households = try await db.raw("SELECT COUNT(*) AS n FROM task_households WHERE task_id = \(bind: t.id)").first()!.decode(column: "n", as: Int.self)
            return TaskView(id: t.id, communityID: t.communityID, title: t.title, description: t.description, kind: t.kind, whenText: Self.whenText(t), address: t.address,
                            skillsText: t.skills.map(Self.skillLabel).joined(separator: "、"), headcount: t.headcount, pointsPerHour: t.pointsPerHour,
                            households: households > 0 ? households : nil, shifts: shifts, manage: manage, month: monthText)
        }
    }

    public struct MyShift: Sendable, Codable {
        public var assignmentID: Int64
        public var taskID: Int64
        public var task: String
        public var whenText: String
        public var address: String
        public var status: String
        public var minutes: Int?
        public var points: Int
        public var confirmed: Bool
        public var canAnswer: Bool
        public var canCheckIn: Bool
        public var canCheckOut: Bool
        /// When the shift starts (not sent: `when_text` says it).
        public var startsAt: Int64 = 0
        /// The meals this shift carries (a canteen's delivery round), for an accepted shift of today or tomorrow.
        public var deliveries: [DeliveryStop] = []
        public var hasDeliveries = false
        /// The round is today's: each meal can be marked delivered (tomorrow's is a list to read).
        public var deliveriesToday = false
        enum CodingKeys: String, CodingKey {
            case assignmentID = "assignment_id", taskID = "task_id", task, whenText = "when_text", address, status = "shift_status", minutes, points, confirmed
            case canAnswer = "can_answer", canCheckIn = "can_check_in", canCheckOut = "can_check_out", deliveries, hasDeliveries = "has_deliveries"
            case deliveriesToday = "deliveries_today"
        }
    }

    /// The volunteer's own shifts: upcoming first, then the record of service.
    public func myShifts(actor: Actor) async throws -> [MyShift] {
        let now = env.nowSeconds
        return try await store.read { db in
            var shifts = try await db.raw("""
                SELECT a.id, a.task_id, t.title, t.address, a.starts_at, a.ends_at, a.status, a.minutes, a.points, a.confirmed_at, a.check_in_at, a.check_out_at
                FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id JOIN volunteer_tasks t ON t.id = a.task_id
                WHERE v.user_id = \(bind: actor.userID) ORDER BY CASE WHEN a.ends_at >= \(bind: now) THEN 0 ELSE 1 END, a.starts_at LIMIT 300
                """).all().map { r in
                let status = try r.decode(column: "status", as: String.self)
                let checkIn = try r.decode(column: "check_in_at", as: Int64?.self), checkOut = try r.decode(column: "check_out_at", as: Int64?.self)
                let s = try r.decode(column: "starts_at", as: Int64.self)
                return MyShift(assignmentID: try r.decode(column: "id", as: Int64.self), taskID: try r.decode(column: "task_id", as: Int64.self),
                               task: try r.decode(column: "title", as: String.self),
                               whenText: LocalTime.text(s) + "–" + LocalDay.hhmm(LocalDay.minute(try r.decode(column: "ends_at", as: Int64.self))),
                               address: try r.decode(column: "address", as: String.self), status: status, minutes: try r.decode(column: "minutes", as: Int?.self),
                               points: try r.decode(column: "points", as: Int.self), confirmed: try r.decode(column: "confirmed_at", as: Int64?.self) != nil,
                               canAnswer: status == "proposed" && s > now, canCheckIn: ["accepted", "confirmed"].contains(status) && checkIn == nil,
                               canCheckOut: checkIn != nil && checkOut == nil, startsAt: s)
            }
            // The round's list (doors of elders) for a shift staff confirmed, of today or tomorrow
            // (orders close the morning of their day): never to a volunteer who only signed up.
            let today = LocalDay.of(now)
            for i in shifts.indices where ["confirmed", "done"].contains(shifts[i].status) {
                let day = LocalDay.of(shifts[i].startsAt)
                guard day == today || day == today + 1 else { continue }
                shifts[i].deliveries = try await deliveries(db, shifts[i].taskID, day)
                shifts[i].hasDeliveries = !shifts[i].deliveries.isEmpty
                shifts[i].deliveriesToday = day == today
            }
            return shifts
        }
    }

    /// Whether a user is on one of the task's shifts that day, confirmed by staff (a volunteer who
    /// only signed up or accepted is not yet trusted with a round's doors).
    package static func onShift(_ db: any SQLDatabase, taskID: Int64, userID: Int64, day: Int64) async throws -> Bool {
        try await db.raw("""
            SELECT 1 AS x FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id
            WHERE a.task_id = \(bind: taskID) AND v.user_id = \(bind: userID) AND a.status IN ('confirmed', 'done')
              AND a.starts_at >= \(bind: LocalDay.start(day)) AND a.starts_at < \(bind: LocalDay.start(day + 1))
            """).first() != nil
    }

    /// Closes a task whose occasion is off (an activity called off): no more sign-ups, and the
    /// volunteers holding its shifts to come, not yet checked in, are released and told.
    public func closeTask(_ db: any SQLDatabase, taskID: Int64, reason: String, actor: Actor) async throws {
        let now = env.nowSeconds
        guard let t = try await db.raw("SELECT path, title, status FROM volunteer_tasks WHERE id = \(bind: taskID)").first(),
              try t.decode(column: "status", as: String.self) == "open" else { return }
        try await db.raw("UPDATE volunteer_tasks SET status = 'closed' WHERE id = \(bind: taskID)").run()
        let held = try await db.raw("""
            SELECT a.id, v.user_id FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id
            WHERE a.task_id = \(bind: taskID) AND a.status IN ('proposed', 'accepted', 'confirmed') AND a.check_in_at IS NULL AND a.starts_at > \(bind: now)
            """).all()
        let ids = try held.map { try $0.decode(column: "id", as: Int64.self) }
        if !ids.isEmpty {
            try await db.query("UPDATE shift_assignments SET status = 'cancelled' WHERE id IN (\(list: ids))").run()
        }
        try await audit.append(db, actor: actor, action: "task.close", objectType: "volunteer_task", objectID: taskID,
                               path: try t.decode(column: "path", as: String.self), detail: reason)
        try await notify(db, try held.map { try $0.decode(column: "user_id", as: Int64.self) }, kind: "shift_cancelled",
                         subject: try t.decode(column: "title", as: String.self), link: "/volunteer#shifts", except: actor.userID)
    }

    /// Who is on the task's shifts that day (family names only), and who is only asked so far.
    package static func crew(_ db: any SQLDatabase, taskID: Int64, day: Int64) async throws -> [String] {
        try await db.raw("""
            SELECT v.name, a.status FROM shift_assignments a JOIN volunteers v ON v.id = a.volunteer_id
            WHERE a.task_id = \(bind: taskID) AND a.status IN ('proposed', 'accepted', 'confirmed', 'done')
              AND a.starts_at >= \(bind: LocalDay.start(day)) AND a.starts_at < \(bind: LocalDay.start(day + 1))
            ORDER BY a.starts_at, a.id
            """).all().map { r in
            let name = try r.decode(column: "name", as: String.self).maskedName
            switch try r.decode(column: "status", as: String.self) {
            case "proposed": return name + "（待回复）"
            case "accepted": return name + "（待确认）"
            default: return name
            }
        }
    }

    /// An area's open recurring tasks: those a canteen may name as its delivery round.
    package static func recurringTasks(_ db: any SQLDatabase, _ dialect: Dialect, under path: String) async throws -> [(id: Int64, title: String)] {
        try await db.raw("""
            SELECT id, title FROM volunteer_tasks WHERE kind = 'recurring' AND status = 'open' AND \(dialect.startsWith("path", path)) ORDER BY id LIMIT 100
            """).all().map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "title", as: String.self)) }
    }

    // MARK: Rewards

    public struct RewardView: Sendable, Codable { public var id: Int64; public var name: String; public var points: Int; public var stock: Int }

    public func addReward(communityID: Int64?, name rawName: String?, points: Int?, stock: Int?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let c = try await community(db, communityID, actor, .volunteerManage)
            let name = Self.trimmed(rawName)
            var v = Validator()
            v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写兑换项目（60 字以内）")
            v.check((points ?? 0) > 0 && (points ?? 0) <= 100_000, "points", "invalid", "所需积分应为正整数")
            v.check((stock ?? -1) >= 0 && (stock ?? 0) <= 100_000, "stock", "invalid", "数量应为 0 或正整数")
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO rewards (community_id, path, name, points, stock, created_at) VALUES (\(bind: c.id), \(bind: c.path), \(bind: name), \(bind: points!), \(bind: stock!), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "reward.add", objectType: "reward", objectID: id, path: c.path)
            return id
        }
    }

    public func rewards(communityID: Int64, actor: Actor) async throws -> [RewardView] {
        try await store.read { db in
            let c = try await community(db, communityID, actor, .linkageView)
            return try await db.raw("SELECT id, name, points, stock FROM rewards WHERE community_id = \(bind: c.id) ORDER BY points, id").all().map {
                RewardView(id: try $0.decode(column: "id", as: Int64.self), name: try $0.decode(column: "name", as: String.self),
                           points: try $0.decode(column: "points", as: Int.self), stock: try $0.decode(column: "stock", as: Int.self))
            }
        }
    }

    /// Spends the volunteer's points on a listed reward (time bank).
    public func redeem(rewardID: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let r = try await db.raw("SELECT path, name, points, stock FROM rewards WHERE id = \(bind: rewardID)\(unsafeRaw: lockRow)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            try Self.require(actor, .volunteerJoin, path)
            guard let v = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: actor.userID)\(unsafeRaw: lockRow)").first() else {
                throw LinliError.conflict(nil, "not_a_volunteer", "请先登记为志愿者")
            }
            let vid = try v.decode(column: "id", as: Int64.self), cost = try r.decode(column: "points", as: Int.self)
            guard try r.decode(column: "stock", as: Int.self) > 0 else { throw LinliError.conflict("reward_id", "out_of_stock", "已兑完") }
            let balance = try await db.raw("SELECT COALESCE(SUM(delta), 0) AS b FROM point_entries WHERE volunteer_id = \(bind: vid)").first()!.decode(column: "b", as: Int64.self)
            guard balance >= cost else { throw LinliError.conflict("reward_id", "not_enough_points", "积分不足：需要 \(cost)，现有 \(balance)") }
            try await db.raw("UPDATE rewards SET stock = stock - 1 WHERE id = \(bind: rewardID)").run()
            try await db.raw("""
                INSERT INTO point_entries (volunteer_id, delta, kind, reward_id, note, at) VALUES (\(bind: vid), \(bind: -cost), 'redeem', \(bind: rewardID), \(bind: try r.decode(column: "name", as: String.self)), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "points.redeem", objectType: "reward", objectID: rewardID, path: path)
        }
    }

    public struct Certificate: Sendable, Codable {
        public var name: String
        public var community: String
        public var hoursText: String
        public var shifts: Int
        public var issuedOn: String
        public var lines: [Line]
        public struct Line: Sendable, Codable { public var task: String; public var day: String; public var hoursText: String
            enum CodingKeys: String, CodingKey { case task, day, hoursText = "hours_text" } }
        enum CodingKeys: String, CodingKey { case name, community, hoursText = "hours_text", shifts, issuedOn = "issued_on", lines }
    }

    /// A certificate of confirmed service hours, for the volunteer themself or staff of their community.
    public func certificate(volunteerID: Int64?, actor: Actor) async throws -> Certificate {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let row: any SQLRow
            if let volunteerID {
                guard let r = try await db.raw("SELECT v.id, v.name, v.path, v.user_id, p.name AS community FROM volunteers v JOIN places p ON p.id = v.community_id WHERE v.id = \(bind: volunteerID)").first() else { throw LinliError.notFound }
                if try r.decode(column: "user_id", as: Int64.self) != actor.userID { try Self.require(actor, .volunteerManage, try r.decode(column: "path", as: String.self)) }
                row = r
            } else {
                guard let r = try await db.raw("SELECT v.id, v.name, v.path, v.user_id, p.name AS community FROM volunteers v JOIN places p ON p.id = v.community_id WHERE v.user_id = \(bind: actor.userID)").first() else {
                    throw LinliError.conflict(nil, "not_a_volunteer", "请先登记为志愿者")
                }
                row = r
            }
            let vid = try row.decode(column: "id", as: Int64.self)
            let lines = try await db.raw("""
                SELECT t.title, a.starts_at, a.minutes FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id
                WHERE a.volunteer_id = \(bind: vid) AND a.confirmed_at IS NOT NULL AND a.minutes > 0 ORDER BY a.starts_at
                """).all().map { r in
                Certificate.Line(task: try r.decode(column: "title", as: String.self), day: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "starts_at", as: Int64.self))),
                                 hoursText: Self.hours(try r.decode(column: "minutes", as: Int.self)))
            }
            let minutes = try await db.raw("SELECT COALESCE(SUM(minutes), 0) AS m FROM shift_assignments WHERE volunteer_id = \(bind: vid) AND confirmed_at IS NOT NULL").first()!.decode(column: "m", as: Int64.self)
            try await audit.append(db, actor: actor, action: "volunteer.certificate", objectType: "volunteer", objectID: vid, path: try row.decode(column: "path", as: String.self))
            return Certificate(name: try row.decode(column: "name", as: String.self), community: try row.decode(column: "community", as: String.self),
                               hoursText: Self.hours(Int(minutes)), shifts: lines.count, issuedOn: ChinaTime.iso(day: LocalDay.of(now)), lines: lines)
        }
    }
}
