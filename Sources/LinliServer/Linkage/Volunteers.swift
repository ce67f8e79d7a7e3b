import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Volunteers of a community and their teams. The volunteers' tasks and shifts, the month's
/// filling, attendance and rewards are in the files beside it (VolunteerTasks, ShiftFilling,
/// Shifts, TaskPages, Rewards).
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
}
