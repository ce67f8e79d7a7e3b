import Foundation
import SQLKit
import LinliCore
import LinliStore

/// What the task and volunteer pages show: a community's tasks, one task's month of shifts,
/// a volunteer's own shifts and delivery rounds; closing a task.
extension LinkageService {
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
                        AND a.status IN \(unsafeRaw: ShiftStatus.holdingSQL))), 0) AS BIGINT) AS short
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
                let status = try Self.shiftStatus(r)
                let isMine = try r.decode(column: "user_id", as: Int64.self) == actor.userID
                let checkIn = try r.decode(column: "check_in_at", as: Int64?.self), checkOut = try r.decode(column: "check_out_at", as: Int64?.self)
                let confirmed = try r.decode(column: "confirmed_at", as: Int64?.self) != nil
                if isMine && status.holdsPlace { heldByViewer.insert(try r.decode(column: "shift_id", as: Int64.self)) }
                people[try r.decode(column: "shift_id", as: Int64.self), default: []].append(ShiftView.Person(
                    assignmentID: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self), status: status.rawValue,
                    inText: checkIn.map(LocalTime.text), outText: checkOut.map(LocalTime.text), minutes: try r.decode(column: "minutes", as: Int?.self),
                    confirmed: confirmed, canConfirm: manage && ShiftStep.confirm.next(from: status, checkedIn: checkIn != nil) != nil,
                    canCheckIn: (manage || isMine) && ShiftStep.checkIn.next(from: status, checkedIn: checkIn != nil) != nil,
                    canCheckOut: (manage || isMine) && checkIn != nil && checkOut == nil,
                    canConfirmHours: manage && !isMine && status == .done && !confirmed))
            }
            let shifts = try await db.raw("""
                SELECT id, starts_at, ends_at, headcount FROM task_shifts WHERE task_id = \(bind: t.id) AND starts_at >= \(bind: from) AND starts_at < \(bind: to) ORDER BY starts_at
                """).all().map { r -> ShiftView in
                let id = try r.decode(column: "id", as: Int64.self), s = try r.decode(column: "starts_at", as: Int64.self)
                let ps = people[id] ?? []
                let holding = ps.filter { ShiftStatus(rawValue: $0.status)?.holdsPlace == true }
                let missing = max(0, try r.decode(column: "headcount", as: Int.self) - holding.count)
                return ShiftView(id: id, whenText: LocalTime.text(s) + "–" + LocalDay.hhmm(LocalDay.minute(try r.decode(column: "ends_at", as: Int64.self))),
                                 headcount: try r.decode(column: "headcount", as: Int.self), missing: missing, isShort: missing > 0 && s > now,
                                 waiting: holding.filter { $0.status == ShiftStatus.proposed.rawValue }.count,
                                 hasWaiting: holding.contains { $0.status == ShiftStatus.proposed.rawValue },
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
                let status = try Self.shiftStatus(r)
                let checkIn = try r.decode(column: "check_in_at", as: Int64?.self), checkOut = try r.decode(column: "check_out_at", as: Int64?.self)
                let s = try r.decode(column: "starts_at", as: Int64.self)
                return MyShift(assignmentID: try r.decode(column: "id", as: Int64.self), taskID: try r.decode(column: "task_id", as: Int64.self),
                               task: try r.decode(column: "title", as: String.self),
                               whenText: LocalTime.text(s) + "–" + LocalDay.hhmm(LocalDay.minute(try r.decode(column: "ends_at", as: Int64.self))),
                               address: try r.decode(column: "address", as: String.self), status: status.rawValue, minutes: try r.decode(column: "minutes", as: Int?.self),
                               points: try r.decode(column: "points", as: Int.self), confirmed: try r.decode(column: "confirmed_at", as: Int64?.self) != nil,
                               canAnswer: ShiftStep.accept.next(from: status, checkedIn: checkIn != nil) != nil && s > now,
                               canCheckIn: ShiftStep.checkIn.next(from: status, checkedIn: checkIn != nil) != nil,
                               canCheckOut: checkIn != nil && checkOut == nil, startsAt: s)
            }
            // The round's list (doors of elders) for a shift staff confirmed, of today or tomorrow
            // (orders close the morning of their day): never to a volunteer who only signed up.
            let today = LocalDay.of(now)
            for i in shifts.indices where [ShiftStatus.confirmed, .done].map(\.rawValue).contains(shifts[i].status) {
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
            WHERE a.task_id = \(bind: taskID) AND a.status IN \(unsafeRaw: ShiftStep.cancel.fromSQL) AND a.check_in_at IS NULL AND a.starts_at > \(bind: now)
            """).all()
        let ids = try held.map { try $0.decode(column: "id", as: Int64.self) }
        if !ids.isEmpty {
            try await db.query("UPDATE shift_assignments SET status = \(ShiftStatus.cancelled.rawValue) WHERE id IN (\(list: ids))").run()
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
            WHERE a.task_id = \(bind: taskID) AND a.status IN \(unsafeRaw: ShiftStatus.holdingSQL)
              AND a.starts_at >= \(bind: LocalDay.start(day)) AND a.starts_at < \(bind: LocalDay.start(day + 1))
            ORDER BY a.starts_at, a.id
            """).all().map { r in
            let name = try r.decode(column: "name", as: String.self).maskedName
            switch try Self.shiftStatus(r) {
            case .proposed: return name + "（待回复）"
            case .accepted: return name + "（待确认）"
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
}
