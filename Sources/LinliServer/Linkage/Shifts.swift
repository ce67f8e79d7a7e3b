import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A volunteer's place on a shift, step by step (`ShiftStep`): proposed or signed up,
/// answered, confirmed, checked in and out, hours confirmed; calling for volunteers.
extension LinkageService {
    // MARK: Assignments

    struct AssignmentRow: Sendable {
        var id: Int64, shiftID: Int64, taskID: Int64, volunteerID: Int64, volunteerUser: Int64, startsAt: Int64, endsAt: Int64, status: ShiftStatus
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
                             status: try Self.shiftStatus(r), checkInAt: try r.decode(column: "check_in_at", as: Int64?.self),
                             checkOutAt: try r.decode(column: "check_out_at", as: Int64?.self), minutes: try r.decode(column: "minutes", as: Int?.self),
                             confirmedAt: try r.decode(column: "confirmed_at", as: Int64?.self))
    }

    static func shiftStatus(_ r: any SQLRow) throws -> ShiftStatus {
        let raw = try r.decode(column: "status", as: String.self)
        guard let s = ShiftStatus(rawValue: raw) else {
            throw LinliError(.internalServerError, code: "bad_shift_status", message: "shift assignment status '\(raw)' is unknown")
        }
        return s
    }

    /// Refuses a shift that overlaps another the volunteer holds. Locks the volunteer's row on
    /// PostgreSQL so that two concurrent assignments cannot both pass.
    func requireFree(_ db: any SQLDatabase, volunteerID: Int64, shiftID: Int64, from: Int64, to: Int64) async throws {
        _ = try await db.raw("SELECT id FROM volunteers WHERE id = \(bind: volunteerID)\(unsafeRaw: lockRow)").first()
        if let clash = try await db.raw("""
            SELECT t.title, a.starts_at FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id
            WHERE a.volunteer_id = \(bind: volunteerID) AND a.shift_id <> \(bind: shiftID) AND a.status IN \(unsafeRaw: ShiftStatus.holdingSQL)
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
            let id = try await placeOnShift(db, shiftID: shiftID, taskID: task.id, volunteerID: vid, from: s.startsAt, to: s.endsAt, step: .propose, now: now)
            try await notify(db, [try v.decode(column: "user_id", as: Int64.self)], kind: "shift_proposed", subject: task.title + " " + LocalTime.text(s.startsAt), link: "/volunteer")
            try await audit.append(db, actor: actor, action: "shift.propose", objectType: "shift_assignment", objectID: id, path: task.path)
            return id
        }
    }

    /// Puts the volunteer on the shift by `step` (staff propose, or they sign up), again on a
    /// place they gave back.
    func placeOnShift(_ db: any SQLDatabase, shiftID: Int64, taskID: Int64, volunteerID: Int64, from: Int64, to: Int64, step: ShiftStep, now: Int64) async throws -> Int64 {
        try await requireFree(db, volunteerID: volunteerID, shiftID: shiftID, from: from, to: to)
        if let existing = try await db.raw("SELECT id, status FROM shift_assignments WHERE shift_id = \(bind: shiftID) AND volunteer_id = \(bind: volunteerID)").first() {
            guard let next = step.next(from: try Self.shiftStatus(existing), checkedIn: false) else {
                throw LinliError.conflict("volunteer_id", "already_on_shift", "该志愿者已在这个班次上")
            }
            let id = try existing.decode(column: "id", as: Int64.self)
            try await db.raw("UPDATE shift_assignments SET status = \(bind: next.rawValue), created_at = \(bind: now) WHERE id = \(bind: id)").run()
            return id
        }
        let status = step.next(from: nil, checkedIn: false)!
        return try await db.raw("""
            INSERT INTO shift_assignments (shift_id, task_id, volunteer_id, starts_at, ends_at, status, created_at)
            VALUES (\(bind: shiftID), \(bind: taskID), \(bind: volunteerID), \(bind: from), \(bind: to), \(bind: status.rawValue), \(bind: now)) RETURNING id
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
                SELECT COUNT(*) AS n FROM shift_assignments WHERE shift_id = \(bind: shiftID) AND status IN \(unsafeRaw: ShiftStatus.holdingSQL)
                """).first()!.decode(column: "n", as: Int.self)
            guard held < s.headcount else { throw LinliError.conflict("shift_id", "shift_full", "该班次人数已满") }
            let id = try await placeOnShift(db, shiftID: shiftID, taskID: task.id, volunteerID: try v.decode(column: "id", as: Int64.self),
                                            from: s.startsAt, to: s.endsAt, step: .signUp, now: now)
            try await notify(db, [task.ownerID], kind: "shift_answered", subject: task.title + " " + LocalTime.text(s.startsAt), link: "/tasks/\(task.id)")
            return id
        }
    }

    /// The volunteer accepts or declines a proposed shift.
    public func answer(assignmentID: Int64, accept: Bool, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            guard a.volunteerUser == actor.userID else { throw LinliError.notFound }
            guard let next = (accept ? ShiftStep.accept : .decline).next(from: a.status, checkedIn: a.checkInAt != nil) else {
                throw LinliError.conflict(nil, "not_open", "该班次不能再回复")
            }
            let task = try await fetchTask(db, a.taskID, actor, .volunteerJoin)
            if accept { try await requireFree(db, volunteerID: a.volunteerID, shiftID: a.shiftID, from: a.startsAt, to: a.endsAt) }
            try await db.raw("UPDATE shift_assignments SET status = \(bind: next.rawValue) WHERE id = \(bind: a.id)").run()
            try await audit.append(db, actor: actor, action: "shift.answer", objectType: "shift_assignment", objectID: a.id, path: task.path, detail: next.rawValue)
            try await notify(db, [task.ownerID], kind: "shift_answered", subject: task.title + " " + LocalTime.text(a.startsAt), link: "/tasks/\(task.id)")
        }
    }

    /// Staff confirm an accepted volunteer for the shift.
    public func confirmAssignment(_ assignmentID: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let a = try await fetchAssignment(db, assignmentID)
            let task = try await fetchTask(db, a.taskID, actor, .volunteerManage)
            guard let next = ShiftStep.confirm.next(from: a.status, checkedIn: a.checkInAt != nil) else {
                throw LinliError.conflict(nil, "not_accepted", "志愿者尚未接受该班次")
            }
            try await db.raw("UPDATE shift_assignments SET status = \(bind: next.rawValue) WHERE id = \(bind: a.id)").run()
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
            guard ShiftStep.checkIn.next(from: a.status, checkedIn: false) != nil else { throw LinliError.conflict(nil, "not_accepted", "只有已接受的班次可以签到") }
            guard a.checkInAt == nil else { throw LinliError.conflict(nil, "already_in", "已经签到") }
            var method = "staff"
            var when = now
            if own {
                // On the spot: the code of a household the task serves proves where the volunteer is.
                let served = try await db.raw("SELECT COUNT(*) AS n FROM task_households WHERE task_id = \(bind: task.id)").first()!.decode(column: "n", as: Int.self)
                // A delivery round's doors that day count as the task's households too, for a shift staff confirmed.
                let round = a.status == .confirmed ? try await deliveries(db, task.id, LocalDay.of(a.startsAt)).map(\.householdCode) : []
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
            guard a.checkOutAt == nil, let next = ShiftStep.checkOut.next(from: a.status, checkedIn: true) else {
                throw LinliError.conflict(nil, "already_out", "已经签退")
            }
            var when = now
            if !own, let at, !at.isEmpty {
                guard let t = LocalTime.parse(at) else { throw LinliError.invalid("out_at", "invalid", "签退时间格式应为 2026-12-01T12:00") }
                when = t
            }
            guard when > checkIn else { throw LinliError.invalid("out_at", "before_check_in", "签退时间不能早于签到时间") }
            guard when <= now else { throw LinliError.invalid("out_at", "in_future", "签退时间不能晚于现在") }
            let minutes = Int((when - checkIn) / 60)
            try await db.raw("UPDATE shift_assignments SET check_out_at = \(bind: when), minutes = \(bind: minutes), status = \(bind: next.rawValue) WHERE id = \(bind: a.id)").run()
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
            guard a.status == .done, let worked = a.minutes else { throw LinliError.conflict(nil, "not_checked_out", "签退后才能确认时长") }
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
}
