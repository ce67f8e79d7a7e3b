import LinliServer
import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Meetings of a stage (agenda, invitees, attendance, minutes), the implementation's milestones,
/// the compound notice board, and the matter page that brings them together.
extension DeliberationService {
    // MARK: Meetings

    public struct MeetingInput: Sendable, Codable {
        public var title: String?
        /// China time, `2026-12-01T19:00`.
        public var startsAt: String?
        public var location: String?
        public var agenda: String?
        /// `organisation:ID`, `building:ID` or `household:ID`.
        public var invitees: [String]?
        public init() {}
        enum CodingKeys: String, CodingKey { case title, startsAt = "starts_at", location, agenda, invitees }
    }

    /// What a meeting of the matter may invite, as boxes to tick on the form (nobody types an
    /// internal number): the compound's buildings, and the organisations on the compound or
    /// above it (the community's party branch, the owners' committee, the property company).
    /// Each value is what `MeetingInput.invitees` takes ("building:12").
    public func inviteeChoices(_ matterID: Int64, actor: Actor) async throws -> [(value: String, label: String)] {
        try await store.read { db in
            let m = try await visibleMatter(db, matterID, actor, manage: true)
            let buildings = try await db.raw("""
                SELECT id, name FROM places WHERE kind = 'building' AND \(store.dialect.startsWith("path", m.compoundPath)) ORDER BY id LIMIT 200
                """).all().map { ("building:\(try $0.decode(column: "id", as: Int64.self))", try $0.decode(column: "name", as: String.self)) }
            let organisations = try await db.raw("""
                SELECT o.id, o.name FROM organisations o JOIN places p ON p.id = o.place_id
                WHERE p.kind IN ('community', 'village', 'compound', 'villager_group', 'natural_village', 'building')
                  AND (\(bind: m.compoundPath) LIKE p.path || '%' OR \(store.dialect.startsWith("p.path", m.compoundPath)))
                ORDER BY o.id LIMIT 100
                """).all().map { ("organisation:\(try $0.decode(column: "id", as: Int64.self))", try $0.decode(column: "name", as: String.self)) }
            return organisations + buildings
        }
    }

    /// Calls a meeting for the matter's current (meeting) stage and tells the invited households.
    public func scheduleMeeting(_ matterID: Int64, _ input: MeetingInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let m = try await visibleMatter(db, matterID, actor, manage: true)
            try Self.requireOpen(m)
            try Self.requireStage(m, [.meeting], "召开会议")
            var v = Validator()
            let title = (input.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let location = (input.location ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let agenda = (input.agenda ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let starts = input.startsAt.flatMap(LocalTime.parse)
            v.check(!title.isEmpty && title.count <= DeliberationLimits.titleMax, "title", "required", "请填写会议名称")
            v.check(starts != nil, "starts_at", "invalid", "请填写会议时间，如 2026-12-01T19:00")
            v.check(!location.isEmpty && location.count <= 200, "location", "required", "请填写会议地点")
            v.check(!agenda.isEmpty && agenda.count <= DeliberationLimits.textMax, "agenda", "required", "请填写议程")
            try v.throwIfAny()
            var invitees: [(String, Int64, String)] = []
            for raw in input.invitees ?? [] where !raw.isEmpty {
                let bits = raw.split(separator: ":")
                guard bits.count == 2, let id = Int64(bits[1]) else { throw LinliError.invalid("invitees", "invalid", "受邀对象格式应为 organisation:编号、building:编号 或 household:编号") }
                let kind = String(bits[0])
                let row: (any SQLRow)?
                switch kind {
                case "organisation":
                    row = try await db.raw("""
                        SELECT o.name AS label FROM organisations o JOIN places p ON p.id = o.place_id
                        WHERE o.id = \(bind: id) AND (\(bind: m.compoundPath) LIKE p.path || '%' OR \(store.dialect.startsWith("p.path", m.compoundPath)))
                        """).first()
                case "building":
                    row = try await db.raw("SELECT name AS label FROM places WHERE id = \(bind: id) AND kind = 'building' AND \(store.dialect.startsWith("path", m.compoundPath))").first()
                case "household":
                    row = try await db.raw("SELECT address AS label FROM households WHERE id = \(bind: id) AND \(store.dialect.startsWith("path", m.compoundPath))").first()
                default:
                    row = nil
                }
                guard let row else { throw LinliError.invalid("invitees", "unknown_invitee", "受邀对象 \(raw) 不在本小区") }
                invitees.append((kind, id, try row.decode(column: "label", as: String.self)))
            }
            let id = try await db.raw("""
                INSERT INTO meetings (matter_id, stage_index, title, starts_at, location, agenda, status, created_by, created_at)
                VALUES (\(bind: m.id), \(bind: m.stageIndex), \(bind: title), \(bind: starts!), \(bind: location), \(bind: agenda), 'scheduled',
                        \(bind: actor.userID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            for (kind, ref, label) in invitees {
                try await db.raw("""
                    INSERT INTO meeting_invitees (meeting_id, kind, ref_id, label) VALUES (\(bind: id), \(bind: kind), \(bind: ref), \(bind: label))
                    ON CONFLICT DO NOTHING
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "meeting.schedule", objectType: "meeting", objectID: id, path: m.path)
            // Residents of invited buildings and households hear of it in their inbox.
            let users = try await db.raw("""
                SELECT DISTINCT g.user_id FROM role_grants g JOIN households h ON h.id = g.household_id
                WHERE g.role = 'resident' AND (h.id IN (SELECT ref_id FROM meeting_invitees WHERE meeting_id = \(bind: id) AND kind = 'household')
                   OR EXISTS (SELECT 1 FROM meeting_invitees i JOIN places b ON b.id = i.ref_id
                              WHERE i.meeting_id = \(bind: id) AND i.kind = 'building' AND h.path LIKE b.path || '%'))
                """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
            try await notify(db, users + (try await participants(db, m.id)), kind: "meeting_scheduled", matter: m, except: actor.userID)
            return id
        }
    }

    public struct AttendanceInput: Sendable, Codable {
        /// The household code (or the URL printed as its QR code).
        public var code: String?
        /// Someone attending for an organisation, or without a household code.
        public var name: String?
        public init(code: String? = nil, name: String? = nil) { self.code = code; self.name = name }
    }

    /// Records one attendee: a household by its code (scanned from its card) or a named person.
    /// Scanning the same household twice records it once.
    public func recordAttendance(_ meetingID: Int64, _ input: AttendanceInput, actor: Actor) async throws -> MeetingView.Attendee {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let (meeting, m) = try await visibleMeeting(db, meetingID, actor)
            guard canManage(actor, path: m.path) else { throw LinliError.forbidden }
            try Self.requireOpen(m)
            if let typed = input.code?.trimmingCharacters(in: .whitespacesAndNewlines), !typed.isEmpty {
                let code = ScannedCode.code(typed)
                guard let h = try await db.raw("SELECT id, path, address FROM households WHERE code = \(bind: code)").first() else {
                    throw LinliError.invalid("code", "unknown_code", "无法识别的住户码")
                }
                let hid = try h.decode(column: "id", as: Int64.self), path = try h.decode(column: "path", as: String.self)
                let address = try h.decode(column: "address", as: String.self)
                guard path.hasPrefix(m.compoundPath) else { throw LinliError.invalid("code", "not_invited", "该住户不在本小区") }
                // When the meeting invited particular buildings or households, only they sign in by code.
                let limited = try await db.raw("""
                    SELECT COUNT(*) AS n FROM meeting_invitees WHERE meeting_id = \(bind: meeting.id) AND kind IN ('building', 'household')
                    """).first()!.decode(column: "n", as: Int.self)
                if limited > 0 {
                    let invited = try await db.raw("""
                        SELECT COUNT(*) AS n FROM meeting_invitees i LEFT JOIN places b ON b.id = i.ref_id AND i.kind = 'building'
                        WHERE i.meeting_id = \(bind: meeting.id) AND ((i.kind = 'household' AND i.ref_id = \(bind: hid)) OR (i.kind = 'building' AND \(bind: path) LIKE b.path || '%'))
                        """).first()!.decode(column: "n", as: Int.self)
                    guard invited > 0 else { throw LinliError.invalid("code", "not_invited", "该住户不在本次会议的邀请范围内") }
                }
                if let existing = try await db.raw("SELECT at FROM meeting_attendance WHERE meeting_id = \(bind: meeting.id) AND household_id = \(bind: hid)").first() {
                    return MeetingView.Attendee(name: address, method: "code", atText: LocalTime.text(try existing.decode(column: "at", as: Int64.self)), already: true)
                }
                try await db.raw("""
                    INSERT INTO meeting_attendance (meeting_id, household_id, name, method, recorded_by, at)
                    VALUES (\(bind: meeting.id), \(bind: hid), \(bind: address), 'code', \(bind: actor.userID), \(bind: now))
                    """).run()
                return MeetingView.Attendee(name: address, method: "code", atText: LocalTime.text(now), already: false)
            }
            let name = (input.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 60 else { throw LinliError.invalid("code", "required", "请扫描住户码或填写参会人姓名") }
            try await db.raw("""
                INSERT INTO meeting_attendance (meeting_id, household_id, name, method, recorded_by, at)
                VALUES (\(bind: meeting.id), NULL, \(bind: name), 'staff', \(bind: actor.userID), \(bind: now))
                """).run()
            return MeetingView.Attendee(name: name, method: "staff", atText: LocalTime.text(now), already: false)
        }
    }

    /// Records the minutes and decisions; the meeting counts as held and the minutes are attached to the matter.
    public func saveMinutes(_ meetingID: Int64, minutes rawMinutes: String?, decisions rawDecisions: String?, actor: Actor) async throws {
        let now = env.nowSeconds
        let minutes = (rawMinutes ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let decisions = (rawDecisions ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var v = Validator()
        v.check(!minutes.isEmpty, "minutes", "required", "请填写会议纪要")
        v.check(minutes.count <= DeliberationLimits.textMax && decisions.count <= DeliberationLimits.textMax, "minutes", "too_long", "纪要过长")
        try v.throwIfAny()
        try await store.transaction { db in
            let (meeting, m) = try await visibleMeeting(db, meetingID, actor)
            guard canManage(actor, path: m.path) else { throw LinliError.forbidden }
            try Self.requireOpen(m)
            let attendees = try await db.raw("SELECT COUNT(*) AS n FROM meeting_attendance WHERE meeting_id = \(bind: meeting.id)").first()!.decode(column: "n", as: Int.self)
            guard attendees > 0 else { throw LinliError.conflict("minutes", "no_attendance", "请先登记参会人员") }
            try await db.raw("""
                UPDATE meetings SET status = 'held', minutes = \(bind: minutes), decisions = \(bind: decisions), held_at = \(bind: now) WHERE id = \(bind: meeting.id)
                """).run()
            try await db.raw("DELETE FROM matter_documents WHERE meeting_id = \(bind: meeting.id) AND kind = 'minutes'").run()
            try await db.raw("""
                INSERT INTO matter_documents (matter_id, stage_index, kind, title, body, meeting_id, created_by, created_at)
                VALUES (\(bind: m.id), \(bind: meeting.stageIndex), 'minutes', \(bind: meeting.title + " 会议纪要"),
                        \(bind: minutes + (decisions.isEmpty ? "" : "\n\n决定：\n" + decisions)), \(bind: meeting.id), \(bind: actor.userID), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "meeting.minutes", objectType: "meeting", objectID: meeting.id, path: m.path)
        }
    }

    struct Meeting: Sendable { var id: Int64, matterID: Int64, stageIndex: Int, title: String }

    func visibleMeeting(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (Meeting, Matter) {
        guard let r = try await db.raw("SELECT id, matter_id, stage_index, title FROM meetings WHERE id = \(bind: id)").first() else { throw LinliError.notFound }
        let meeting = Meeting(id: try r.decode(column: "id", as: Int64.self), matterID: try r.decode(column: "matter_id", as: Int64.self),
                              stageIndex: try r.decode(column: "stage_index", as: Int.self), title: try r.decode(column: "title", as: String.self))
        return (meeting, try await visibleMatter(db, meeting.matterID, actor))
    }

    public func meeting(_ id: Int64, actor: Actor, lang: Lang) async throws -> MeetingView {
        try await store.read { db in
            let (meeting, m) = try await visibleMeeting(db, id, actor)
            let r = try await db.raw("SELECT starts_at, location, agenda, status, minutes, decisions FROM meetings WHERE id = \(bind: id)").first()!
            let invitees = try await db.raw("SELECT kind, label FROM meeting_invitees WHERE meeting_id = \(bind: id) ORDER BY kind, label").all().map {
                MeetingView.Invitee(kind: try $0.decode(column: "kind", as: String.self), label: try $0.decode(column: "label", as: String.self))
            }
            let attendance = try await db.raw("SELECT name, method, at FROM meeting_attendance WHERE meeting_id = \(bind: id) ORDER BY at, id").all().map {
                MeetingView.Attendee(name: try $0.decode(column: "name", as: String.self), method: try $0.decode(column: "method", as: String.self),
                                     atText: LocalTime.text(try $0.decode(column: "at", as: Int64.self)), already: false)
            }
            let status = try r.decode(column: "status", as: String.self)
            return MeetingView(id: id, matterID: m.id, matterTitle: m.title, stageName: m.process.stages[meeting.stageIndex].name(lang), title: meeting.title,
                               startsText: LocalTime.text(try r.decode(column: "starts_at", as: Int64.self)), location: try r.decode(column: "location", as: String.self),
                               agenda: try r.decode(column: "agenda", as: String.self), status: status, minutes: try r.decode(column: "minutes", as: String.self),
                               decisions: try r.decode(column: "decisions", as: String.self), invitees: invitees, attendance: attendance,
                               canManage: canManage(actor, path: m.path) && m.status == .open)
        }
    }

    // MARK: Milestones

    /// Adds an implementation milestone; only while the implementation is under way.
    public func addMilestone(_ matterID: Int64, title rawTitle: String?, dueDay: String?, actor: Actor) async throws {
        let title = (rawTitle ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var v = Validator()
        v.check(!title.isEmpty && title.count <= DeliberationLimits.titleMax, "title", "required", "请填写节点名称")
        v.check(dueDay.flatMap(Input.day) != nil, "due_day", "invalid", "请填写计划完成日期，如 2027-03-31")
        try v.throwIfAny()
        let now = env.nowSeconds
        try await store.transaction { db in
            let m = try await visibleMatter(db, matterID, actor, manage: true)
            try Self.requireOpen(m)
            try Self.requireStage(m, [.publishImplementation], "登记实施节点（请先公开决议）")
            try await db.raw("""
                INSERT INTO milestones (matter_id, title, due_day, created_at) VALUES (\(bind: m.id), \(bind: title), \(bind: dueDay!), \(bind: now))
                """).run()
            try await db.raw("UPDATE matters SET updated_at = \(bind: now) WHERE id = \(bind: m.id)").run()
            try await audit.append(db, actor: actor, action: "milestone.add", objectType: "matter", objectID: m.id, path: m.path, detail: title)
            try await notify(db, try await participants(db, m.id), kind: "milestone", matter: m, except: actor.userID)
        }
    }

    public func completeMilestone(_ milestoneID: Int64, note rawNote: String?, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        let note = (rawNote ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard note.count <= 2000 else { throw LinliError.invalid("note", "too_long", "说明过长") }
        return try await store.transaction { db in
            guard let r = try await db.raw("SELECT matter_id, done_at FROM milestones WHERE id = \(bind: milestoneID)").first() else { throw LinliError.notFound }
            let m = try await visibleMatter(db, try r.decode(column: "matter_id", as: Int64.self), actor, manage: true)
            try Self.requireOpen(m)
            guard try r.decode(column: "done_at", as: Int64?.self) == nil else { throw LinliError.conflict("milestone", "already_done", "该节点已完成") }
            try await db.raw("UPDATE milestones SET done_at = \(bind: now), note = \(bind: note) WHERE id = \(bind: milestoneID)").run()
            try await db.raw("UPDATE matters SET updated_at = \(bind: now) WHERE id = \(bind: m.id)").run()
            try await audit.append(db, actor: actor, action: "milestone.done", objectType: "matter", objectID: m.id, path: m.path, detail: "\(milestoneID)")
            try await notify(db, try await participants(db, m.id), kind: "milestone", matter: m, except: actor.userID)
            return m.id
        }
    }

    // MARK: Notice board

    /// A compound's published resolutions and implementations: all of them for its residents and
    /// the staff over it; to anyone else only those the community chose to make public.
    public func notices(placeID: Int64, actor: Actor?) async throws -> (name: String, notices: [NoticeView]) {
        try await store.read { db in
            guard let p = try await db.raw("SELECT name, path, kind FROM places WHERE id = \(bind: placeID)").first(),
                  PlaceKind(rawValue: try p.decode(column: "kind", as: String.self))?.rank == 4 else { throw LinliError.notFound }
            let path = try p.decode(column: "path", as: String.self)
            let insider = actor.map { canView($0, compoundPath: path, path: path) } ?? false
            let rows = try await db.raw("""
                SELECT n.id, n.matter_id, n.kind, n.title, n.body, n.is_public, n.published_at FROM notices n
                WHERE n.place_id = \(bind: placeID) \(unsafeRaw: insider ? "" : "AND n.is_public = 1") ORDER BY n.published_at DESC, n.id DESC LIMIT 100
                """).all()
            return (try p.decode(column: "name", as: String.self), try rows.map { r in
                NoticeView(id: try r.decode(column: "id", as: Int64.self), matterID: try r.decode(column: "matter_id", as: Int64.self),
                           kind: try r.decode(column: "kind", as: String.self), title: try r.decode(column: "title", as: String.self),
                           body: try r.decode(column: "body", as: String.self), isPublic: try r.decode(column: "is_public", as: Int.self) == 1,
                           publishedText: LocalTime.text(try r.decode(column: "published_at", as: Int64.self)))
            })
        }
    }

    // MARK: The matter page

    public func detail(_ matterID: Int64, actor: Actor, lang: Lang) async throws -> MatterDetail {
        try await store.read { db in
            let m = try await visibleMatter(db, matterID, actor)
            let log = try await db.raw("""
                SELECT s.stage_index, s.outcome, s.note, s.acted_at, u.display_name FROM matter_stages s JOIN users u ON u.id = s.acted_by
                WHERE s.matter_id = \(bind: m.id) ORDER BY s.id
                """).all()
            var done: [Int: (String, String, String, Int64)] = [:]
            for r in log {
                done[try r.decode(column: "stage_index", as: Int.self)] = (try r.decode(column: "outcome", as: String.self), try r.decode(column: "note", as: String.self),
                                                                          try r.decode(column: "display_name", as: String.self), try r.decode(column: "acted_at", as: Int64.self))
            }
            let stages = m.process.stages.enumerated().map { i, s -> MatterDetail.Step in
                let d = done[i]
                let state = d?.0 ?? (i == m.stageIndex && m.status == .open ? "current" : "pending")
                return MatterDetail.Step(index: i, code: s.code, name: s.name(lang), kind: s.kind.rawValue, required: s.required, state: state,
                                         note: d.flatMap { $0.1.isEmpty ? nil : $0.1 }, actor: d?.2, atText: d.map { LocalTime.text($0.3) })
            }
            let meetings = try await db.raw("""
                SELECT id, stage_index, title, starts_at, status FROM meetings WHERE matter_id = \(bind: m.id) ORDER BY starts_at, id
                """).all().map { r in
                MatterDetail.MeetingItem(id: try r.decode(column: "id", as: Int64.self), stageIndex: try r.decode(column: "stage_index", as: Int.self), stageName: m.process.stages[try r.decode(column: "stage_index", as: Int.self)].name(lang),
                                         title: try r.decode(column: "title", as: String.self), startsText: LocalTime.text(try r.decode(column: "starts_at", as: Int64.self)),
                                         status: try r.decode(column: "status", as: String.self))
            }
            let polls = try await db.raw("SELECT id, question, status, closes_at, result FROM polls WHERE matter_id = \(bind: m.id) ORDER BY id").all().map { r in
                let result = try r.decode(column: "result", as: String?.self).flatMap { try? JSONDecoder().decode(TallyResult.self, from: Data($0.utf8)) }
                return MatterDetail.PollItem(id: try r.decode(column: "id", as: Int64.self), question: try r.decode(column: "question", as: String.self),
                                             status: try r.decode(column: "status", as: String.self),
                                             closesText: LocalTime.text(try r.decode(column: "closes_at", as: Int64.self)), passed: result?.passed)
            }
            let documents = try await db.raw("""
                SELECT d.id, d.kind, d.title, d.body, d.created_at FROM matter_documents d WHERE d.matter_id = \(bind: m.id) ORDER BY d.id
                """).all().map { r in
                MatterDetail.Document(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                      title: try r.decode(column: "title", as: String.self), body: try r.decode(column: "body", as: String.self),
                                      atText: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)))
            }
            let milestones = try await db.raw("SELECT id, title, due_day, done_at, note FROM milestones WHERE matter_id = \(bind: m.id) ORDER BY due_day, id").all().map { r in
                MatterDetail.Milestone(id: try r.decode(column: "id", as: Int64.self), title: try r.decode(column: "title", as: String.self),
                                       dueDay: try r.decode(column: "due_day", as: String.self),
                                       doneText: try r.decode(column: "done_at", as: Int64?.self).map(LocalTime.text) ?? "", note: try r.decode(column: "note", as: String.self))
            }
            let manage = canManage(actor, path: m.path) && m.status == .open
            let kind = m.stage?.kind
            let openPoll = polls.contains { $0.status == "open" }
            let abilities = MatterDetail.Abilities(
                decide: manage && [.decision, .filing].contains(kind), meeting: manage && kind == .meeting,
                poll: manage && kind == .vote && !openPoll, publish: manage && (kind == .publishResolution || kind == .publishImplementation),
                milestones: manage && kind == .publishImplementation, skip: manage && m.stage?.required == false,
                advanceMeeting: manage && kind == .meeting && meetings.contains { $0.status == "held" && $0.stageIndex == m.stageIndex },
                advanceVote: manage && kind == .vote && polls.contains { $0.status == "closed" })
            return MatterDetail(matter: Self.view(m, lang: lang), steps: stages, meetings: meetings, polls: polls, documents: documents,
                                milestones: milestones, abilities: abilities)
        }
    }

    // MARK: Processes

    public struct ProcessView: Sendable, Codable {
        public var code: String
        public var name: String
        public var placeID: Int64?
        public var stages: [StageDefinition]
        enum CodingKeys: String, CodingKey { case code, name, placeID = "place_id", stages }
    }

    /// Processes available at a place: the city's, and those a community defined for itself.
    public func processes(at path: String? = nil) async throws -> [ProcessView] {
        try await store.read { db in
            try await db.raw("SELECT p.code, p.name, p.place_id, p.body, pl.path FROM processes p LEFT JOIN places pl ON pl.id = p.place_id ORDER BY p.id").all().compactMap { r in
                if let path, let own = try r.decode(column: "path", as: String?.self), !path.hasPrefix(own) { return nil }
                let def = try JSONDecoder().decode(ProcessDefinition.self, from: Data(try r.decode(column: "body", as: String.self).utf8))
                return ProcessView(code: try r.decode(column: "code", as: String.self), name: try r.decode(column: "name", as: String.self),
                                   placeID: try r.decode(column: "place_id", as: Int64?.self), stages: def.stages)
            }
        }
    }

    /// A community composes its own process from the stage kinds (a residents' council, a building's lift decision).
    public func defineProcess(_ def: ProcessDefinition, placeID: Int64, actor: Actor) async throws {
        var v = Validator()
        v.check(def.code.range(of: "^[a-z][a-z0-9_]{1,39}$", options: .regularExpression) != nil, "code", "invalid", "编码应为小写字母、数字和下划线")
        try v.throwIfAny()
        try def.validate()
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let p = try await db.raw("SELECT path, kind FROM places WHERE id = \(bind: placeID)").first() else { throw LinliError.invalid("place_id", "unknown_place", "没有这个地点") }
            let path = try p.decode(column: "path", as: String.self)
            guard canManage(actor, path: path) else { throw LinliError.invalid("place_id", "outside_scope", "不在管辖范围内") }
            let exists = try await db.raw("SELECT COUNT(*) AS n FROM processes WHERE code = \(bind: def.code)").first()!.decode(column: "n", as: Int.self)
            guard exists == 0 else { throw LinliError.invalid("code", "duplicate", "编码 \(def.code) 已被使用") }
            try await db.raw("""
                INSERT INTO processes (code, name, place_id, body, created_at)
                VALUES (\(bind: def.code), \(bind: def.nameZh), \(bind: placeID), \(bind: String(decoding: try JSON.encoder.encode(def), as: UTF8.self)), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "process.define", objectType: "process", objectID: nil, path: path, detail: def.code)
        }
    }
}

public struct MeetingView: Sendable, Codable {
    public struct Invitee: Sendable, Codable { public var kind: String; public var label: String }
    public struct Attendee: Sendable, Codable {
        public var name: String
        public var method: String
        public var atText: String
        /// True when this household had already been recorded.
        public var already: Bool
        enum CodingKeys: String, CodingKey { case name, method, atText = "at_text", already }
    }
    public var id: Int64
    public var matterID: Int64
    public var matterTitle: String
    public var stageName: String
    public var title: String
    public var startsText: String
    public var location: String
    public var agenda: String
    public var status: String
    public var minutes: String
    public var decisions: String
    public var invitees: [Invitee]
    public var attendance: [Attendee]
    public var canManage: Bool
    enum CodingKeys: String, CodingKey {
        case id, matterID = "matter_id", matterTitle = "matter_title", stageName = "stage_name", title, startsText = "starts_text", location, agenda
        case status, minutes, decisions, invitees, attendance, canManage = "can_manage"
    }
}

public struct NoticeView: Sendable, Codable {
    public var id: Int64
    public var matterID: Int64
    public var kind: String
    public var title: String
    public var body: String
    public var isPublic: Bool
    public var publishedText: String
    enum CodingKeys: String, CodingKey { case id, matterID = "matter_id", kind, title, body, isPublic = "is_public", publishedText = "published_text" }
}

public struct MatterDetail: Sendable, Codable {
    public struct Step: Sendable, Codable {
        public var index: Int
        public var code: String
        public var name: String
        public var kind: String
        public var required: Bool
        /// passed, rejected, skipped, current or pending
        public var state: String
        /// Empty until the stage is acted on.
        public var note: String?
        public var actor: String?
        public var atText: String?
        enum CodingKeys: String, CodingKey { case index, code, name, kind, required, state, note, actor, atText = "at_text" }
    }
    public struct MeetingItem: Sendable, Codable {
        public var id: Int64; public var stageIndex: Int; public var stageName: String; public var title: String; public var startsText: String; public var status: String
        enum CodingKeys: String, CodingKey { case id, stageIndex = "stage_index", stageName = "stage_name", title, startsText = "starts_text", status }
    }
    public struct PollItem: Sendable, Codable {
        public var id: Int64; public var question: String; public var status: String; public var closesText: String; public var passed: Bool?
        enum CodingKeys: String, CodingKey { case id, question, status, closesText = "closes_text", passed }
    }
    public struct Document: Sendable, Codable {
        public var id: Int64; public var kind: String; public var title: String; public var body: String; public var atText: String
        enum CodingKeys: String, CodingKey { case id, kind, title, body, atText = "at_text" }
    }
    public struct Milestone: Sendable, Codable {
        public var id: Int64; public var title: String; public var dueDay: String; public var doneText: String; public var note: String
        enum CodingKeys: String, CodingKey { case id, title, dueDay = "due_day", doneText = "done_text", note }
    }
    public struct Abilities: Sendable, Codable {
        public var decide: Bool, meeting: Bool, poll: Bool, publish: Bool, milestones: Bool, skip: Bool, advanceMeeting: Bool, advanceVote: Bool
        enum CodingKeys: String, CodingKey {
            case decide, meeting, poll, publish, milestones, skip, advanceMeeting = "advance_meeting", advanceVote = "advance_vote"
        }
    }
    public var matter: MatterView
    public var steps: [Step]
    public var meetings: [MeetingItem]
    public var polls: [PollItem]
    public var documents: [Document]
    public var milestones: [Milestone]
    public var abilities: Abilities
}
