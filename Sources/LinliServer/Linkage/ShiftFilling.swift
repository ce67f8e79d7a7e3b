import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Who fits a shift: volunteers' profiles, their busy times and load, ranking the candidates
/// for one shift and filling a month of shifts (the rules are `VolunteerMatching`).
extension LinkageService {
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
            WHERE v.community_id = \(bind: communityID) AND a.status IN \(unsafeRaw: ShiftStatus.holdingSQL)
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
                        insert = insert.values(SQLBind(s.id), SQLBind(s.taskID), SQLBind(p.volunteerID), SQLBind(s.startsAt), SQLBind(s.endsAt), SQLBind(ShiftStatus.proposed.rawValue), SQLBind(now))
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
}
