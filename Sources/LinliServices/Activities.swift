import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct ActivityInput: Codable, Sendable {
    public var placeID: Int64?
    /// Staff name the organiser as they like; an organisation's account posts as itself (its
    /// name, whatever is typed here), choosing which of its organisations if it has several.
    public var organiser: String?
    public var organisationID: Int64?
    public var title: String?
    public var description: String?
    public var venue: String?
    /// China time, `2026-12-12T09:30`.
    public var startsAt: String?
    public var endsAt: String?
    public var capacity: Int?
    public var audience: ActivityAudience?
    /// Volunteers wanted to help run it (staff only): posted as a volunteer task at the activity's
    /// time and place, whose rule (points an hour) credits them as every volunteer task does.
    public var helpers: Int?
    public var helperPointsPerHour: Int?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", organiser, organisationID = "organisation_id", title, description, venue, startsAt = "starts_at", endsAt = "ends_at", capacity, audience
        case helpers, helperPointsPerHour = "helper_points_per_hour"
    }
}

public struct SignUpInput: Codable, Sendable {
    /// For someone else's household (staff, a grid worker): its code; a resident signs up their own.
    public var householdCode: String?
    public var householdID: Int64?
    public var people: Int?
    public init() {}
    enum CodingKeys: String, CodingKey { case householdCode = "household_code", householdID = "household_id", people }
}

public struct SignUpView: Codable, Sendable, Equatable {
    public var id: Int64
    public var householdID: Int64
    public var address: String
    public var by: String
    public var people: Int
    public var status: String
    /// Place on the waiting list (1 = next), while waiting.
    public var waitingPosition: Int?
    public var attended: Bool
    enum CodingKeys: String, CodingKey {
        case id, householdID = "household_id", address, by, people, status, waitingPosition = "waiting_position", attended
    }
}

public struct ActivityView: Codable, Sendable {
    public var id: Int64
    public var placeID: Int64
    public var placeName: String
    public var organiser: String
    /// The organisation whose account posted it (nil: the community's or street's own).
    public var organisationID: Int64?
    public var title: String
    public var description: String
    public var venue: String
    public var startsAt: String
    public var endsAt: String
    public var capacity: Int
    public var taken: Int
    public var waiting: Int
    public var audience: ActivityAudience
    public var status: String
    /// The caller's household's sign-up, if any.
    public var mine: SignUpView?
    /// Every sign-up, for staff over the activity (empty for others).
    public var signUps: [SignUpView]
    /// The volunteer task of its helpers, if it asked for some.
    public var helperTaskID: Int64? = nil
    enum CodingKeys: String, CodingKey {
        case id, placeID = "place_id", placeName = "place_name", organiser, organisationID = "organisation_id", title, description, venue, startsAt = "starts_at", endsAt = "ends_at"
        case capacity, taken, waiting, audience, status, mine, signUps = "sign_ups", helperTaskID = "helper_task_id"
    }
}

enum ActivityLimits {
    static let titleMax = 60, textMax = 2000, venueMax = 100, organiserMax = 60
    static let capacityMax = 2000, partyMax = 6, helpersMax = 50
}

/// Activities for residents (活动): posted by the community or an organisation, signed up for by
/// households (a waiting list when full, moved up in order when someone cancels), checked in at
/// the door by the household code.
extension AffairsService {
    static let activityColumns = """
        SELECT a.*, p.name AS place_name, a.waiting AS waiting_count
        FROM activities a JOIN places p ON p.id = a.place_id
        """

    public func createActivity(_ i: ActivityInput, actor: Actor) async throws -> ActivityView {
        var v = Validator()
        let title = Self.trimmed(i.title), venue = Self.trimmed(i.venue), organiser = Self.trimmed(i.organiser), description = Self.trimmed(i.description)
        v.check(!title.isEmpty && title.count <= ActivityLimits.titleMax, "title", "required", "请填写活动名称（不超过 60 字）")
        v.check(!venue.isEmpty && venue.count <= ActivityLimits.venueMax, "venue", "required", "请填写活动地点")
        v.check(organiser.count <= ActivityLimits.organiserMax, "organiser", "too_long", "主办方不超过 60 字")
        v.check(description.count <= ActivityLimits.textMax, "description", "too_long", "介绍不超过 2000 字")
        let starts = i.startsAt.flatMap { Input.localDateTime($0.trimmingCharacters(in: .whitespaces)) }
        let ends = i.endsAt.flatMap { Input.localDateTime($0.trimmingCharacters(in: .whitespaces)) }
        v.check(starts != nil, "starts_at", "invalid", "请填写开始时间，如 2026-12-12T09:30")
        v.check(ends != nil, "ends_at", "invalid", "请填写结束时间，如 2026-12-12T11:00")
        if let s = starts { v.check(s > env.nowSeconds, "starts_at", "past", "开始时间应在现在之后") }
        if let s = starts, let e = ends { v.check(e > s && e - s <= 7 * 86400, "ends_at", "invalid", "结束时间应晚于开始时间，且活动不超过 7 天") }
        v.check((1...ActivityLimits.capacityMax).contains(i.capacity ?? 0), "capacity", "invalid", "名额应为 1 到 2000 人")
        let helpers = i.helpers ?? 0
        v.check((0...ActivityLimits.helpersMax).contains(helpers), "helpers", "invalid", "志愿者人数应为 0 到 \(ActivityLimits.helpersMax)")
        if let p = i.helperPointsPerHour { v.check((0...100).contains(p), "helper_points_per_hour", "invalid", "每小时积分应为 0 到 100") }
        try v.throwIfAny()
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let (place, org) = try await activityPlace(db, i, actor)
            // Helpers are a volunteer task of the activity's community, posted by its staff.
            let helperCommunity = PlacePath.ids(place.path).count >= 4 ? PlacePath.ids(place.path)[3] : nil
            if helpers > 0 {
                guard org == nil, helperCommunity != nil, actor.may(.volunteerManage, on: place.scope) else {
                    throw LinliError.invalid("helpers", "not_allowed", "只有社区工作人员可以为社区里的活动招募志愿者")
                }
            }
            let row = try await db.query("""
                INSERT INTO activities (place_id, path, organiser, organisation_id, title, description, venue, starts_at, ends_at, capacity, audience, status, created_by, created_at)
                VALUES (\(place.id), \(place.path), \(org?.name ?? (organiser.isEmpty ? place.name : organiser)), \(org?.id), \(title), \(description), \(venue),
                        \(starts!), \(ends!), \(i.capacity!), \((i.audience ?? .all).rawValue), 'open', \(actor.userID), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            if helpers > 0, let community = helperCommunity {
                var t = LinkageService.TaskInput()
                t.communityID = community; t.placeID = place.id; t.kind = "one_off"; t.title = String(("活动志愿者：" + title).prefix(60))
                t.description = venue + (description.isEmpty ? "" : "。" + description.prefix(200))
                t.address = venue; t.headcount = helpers; t.pointsPerHour = i.helperPointsPerHour
                t.startsAt = LocalTime.text(starts!).replacingOccurrences(of: " ", with: "T")
                // A shift is at most twelve hours and ends by midnight; a longer activity's helpers cover its first day.
                let minute = Int(LocalDay.minute(starts!))
                t.durationMinutes = max(15, min(Int(ends! - starts!) / 60, 720, 24 * 60 - minute))
                let task: Int64
                do { task = try await postHelperTask(db, t, actor) } catch let e as LinliError where e.status == .unprocessableContent {
                    throw LinliError.invalid("helpers", e.code, e.message)
                }
                try await db.query("UPDATE activities SET helper_task_id = \(task) WHERE id = \(id)").run()
            }
            try await audit.append(db, actor: actor, action: "activity.create", objectType: "activity", objectID: id, path: place.path, detail: title)
            return id
        }
        return try await activity(id, actor: actor)
    }

    struct ActivityRow {
        var id: Int64, path: String, capacity: Int, taken: Int, audience: ActivityAudience, status: String, title: String, startsAt: Int64
        /// The actor runs it: staff over its place, or the account of the organisation that posted it.
        var staff: Bool
        /// …and only as that organisation (no staff grant over it): sign-ups show a building, not a door.
        var asOrganisation: Bool = false
    }

    /// Who runs an activity at `path` posted by `organisation`: (as staff, as the organisation).
    static func runs(_ actor: Actor, path: String, organisation: Int64?) -> (staff: Bool, organisation: Bool) {
        let over = actor.grants(for: .activityRun).filter { path.hasPrefix($0.placePath) }
        let staff = over.contains { $0.organisationID == nil }
        let own = organisation != nil && over.contains { $0.organisationID == organisation }
        return (staff || own, !staff && own)
    }

    /// Where an activity is posted and as which organisation: staff over the place post as the
    /// community (or name an organiser); an organisation's account posts inside its own place,
    /// as itself. Refusals name `place_id` or `organisation_id`.
    func activityPlace(_ db: any SQLDatabase, _ i: ActivityInput, _ actor: Actor) async throws -> (RegistryService.PlaceRow, (id: Int64, name: String)?) {
        // An organisation's account names only itself: its activity is held at its own place.
        let orgGrants = actor.grants(for: .activityRun).filter { $0.organisationID != nil }
        if let org = i.organisationID, orgGrants.count == actor.grants(for: .activityRun).count, !orgGrants.contains(where: { $0.organisationID == org }) {
            throw LinliError.invalid("organisation_id", "not_yours", "您不能以这个组织的名义发布活动")
        }
        let ownPlace = (i.organisationID.map { org in orgGrants.first { $0.organisationID == org } } ?? orgGrants.first)?.placeID
        guard let placeID = i.placeID ?? ownPlace else { throw LinliError.invalid("place_id", "required", "请选择举办活动的地点") }
        guard let place = try await registry.fetchPlace(db, placeID) else { throw LinliError.invalid("place_id", "not_found", "您管辖范围内没有这个地点") }
        let over = actor.grants(for: .activityRun).filter { place.path.hasPrefix($0.placePath) }
        if over.contains(where: { $0.organisationID == nil }) { return (place, nil) }
        let mine = over.compactMap(\.organisationID)
        guard let org = i.organisationID ?? mine.first else { throw LinliError.invalid("place_id", "not_found", "您管辖范围内没有这个地点") }
        guard mine.contains(org), let name = try await registry.organisationName(db, org) else {
            throw LinliError.invalid("organisation_id", "not_yours", "您不能以这个组织的名义发布活动")
        }
        return (place, (org, name))
    }

    func fetchActivity(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (ActivityRow, any SQLRow) {
        guard let r = try await db.query("\(unsafeRaw: Self.activityColumns) WHERE a.id = \(id)").first() else { throw LinliError.notFound }
        let path = try r.decode(column: "path", as: String.self)
        let (staff, asOrganisation) = Self.runs(actor, path: path, organisation: try r.decode(column: "organisation_id", as: Int64?.self))
        // Residents see the activities of the places they live under; staff those of theirs.
        guard staff || actor.grants(for: .activityView).contains(where: { $0.placePath.hasPrefix(path) || path.hasPrefix($0.placePath) }) else {
            throw LinliError.notFound
        }
        return (ActivityRow(id: id, path: path, capacity: try r.decode(column: "capacity", as: Int.self), taken: try r.decode(column: "taken", as: Int.self),
                            audience: ActivityAudience(rawValue: try r.decode(column: "audience", as: String.self)) ?? .all,
                            status: try r.decode(column: "status", as: String.self), title: try r.decode(column: "title", as: String.self),
                            startsAt: try r.decode(column: "starts_at", as: Int64.self), staff: staff, asOrganisation: asOrganisation), r)
    }

    /// `masked`: for an organisation running it, each household's address without its door and
    /// the name of whoever signed it up as a family name and stars.
    func signUpViews(_ db: any SQLDatabase, activity: Int64, households: [Int64]?, masked: Bool = false) async throws -> [SignUpView] {
        let only: BoundSQL = households.map { $0.isEmpty ? "AND 1 = 0" : "AND s.household_id IN (\(list: $0))" } ?? ""
        let rows = try await db.query("""
            SELECT s.id, s.household_id, s.by_name, s.people, s.status, s.attended_at, h.address, h.door
            FROM activity_signups s JOIN households h ON h.id = s.household_id
            WHERE s.activity_id = \(activity) AND s.status <> 'cancelled' \(only) ORDER BY s.id
            """).all()
        // The waiting list's numbers: counted in order over the whole list, or for one household's
        // sign-up by the waiting ones before it (an indexed count).
        var position = 0
        var out: [SignUpView] = []
        for r in rows {
            let status = try r.decode(column: "status", as: String.self), sid = try r.decode(column: "id", as: Int64.self)
            let address = try r.decode(column: "address", as: String.self), by = try r.decode(column: "by_name", as: String.self)
            var place: Int?
            if status == "waiting" {
                if households == nil {
                    position += 1
                    place = position
                } else {
                    place = try await db.query("""
                        SELECT COUNT(*) AS n FROM activity_signups WHERE activity_id = \(activity) AND status = 'waiting' AND id <= \(sid)
                        """).first()!.decode(column: "n", as: Int.self)
                }
            }
            out.append(SignUpView(id: sid, householdID: try r.decode(column: "household_id", as: Int64.self),
                                  address: masked ? ActivityRules.withoutDoor(address, door: try r.decode(column: "door", as: String.self)) : address,
                                  by: masked ? by.maskedName : by,
                                  people: try r.decode(column: "people", as: Int.self), status: status, waitingPosition: place,
                                  attended: try r.decode(column: "attended_at", as: Int64?.self) != nil))
        }
        return out
    }

    func activityView(_ db: any SQLDatabase, _ a: ActivityRow, _ r: any SQLRow, actor: Actor) async throws -> ActivityView {
        let own = actor.grants.filter { $0.role == .resident }.compactMap(\.householdID)
        return ActivityView(id: a.id, placeID: try r.decode(column: "place_id", as: Int64.self), placeName: try r.decode(column: "place_name", as: String.self),
                            organiser: try r.decode(column: "organiser", as: String.self),
                            organisationID: try r.decode(column: "organisation_id", as: Int64?.self), title: a.title,
                            description: try r.decode(column: "description", as: String.self), venue: try r.decode(column: "venue", as: String.self),
                            startsAt: LocalTime.text(a.startsAt), endsAt: LocalTime.text(try r.decode(column: "ends_at", as: Int64.self)),
                            capacity: a.capacity, taken: a.taken, waiting: try r.decode(column: "waiting_count", as: Int.self), audience: a.audience,
                            status: a.status, mine: try await signUpViews(db, activity: a.id, households: own).first,
                            signUps: a.staff ? try await signUpViews(db, activity: a.id, households: nil, masked: a.asOrganisation) : [],
                            helperTaskID: try r.decode(column: "helper_task_id", as: Int64?.self))
    }

    public func activity(_ id: Int64, actor: Actor) async throws -> ActivityView {
        try await store.read { db in
            let (a, r) = try await fetchActivity(db, id, actor)
            return try await activityView(db, a, r, actor: actor)
        }
    }

    /// Activities from today on, where the actor lives or works.
    public func activities(actor: Actor) async throws -> [ActivityView] {
        guard let any = Self.around(actor, alias: "a", .activityView) else { throw LinliError.forbidden }
        let since = LocalDay.start(LocalDay.of(env.nowSeconds))
        return try await store.read { db in
            let rows = try await db.query("\(unsafeRaw: Self.activityColumns) WHERE (\(any)) AND a.ends_at >= \(since) ORDER BY a.starts_at LIMIT 100").all()
            var out: [ActivityView] = []
            for r in rows {
                let path = try r.decode(column: "path", as: String.self)
                let a = ActivityRow(id: try r.decode(column: "id", as: Int64.self), path: path, capacity: try r.decode(column: "capacity", as: Int.self),
                                    taken: try r.decode(column: "taken", as: Int.self),
                                    audience: ActivityAudience(rawValue: try r.decode(column: "audience", as: String.self)) ?? .all,
                                    status: try r.decode(column: "status", as: String.self), title: try r.decode(column: "title", as: String.self),
                                    startsAt: try r.decode(column: "starts_at", as: Int64.self), staff: false)
                out.append(try await activityView(db, a, r, actor: actor))
            }
            return out
        }
    }

    /// Signs a household up: confirmed while there is room, else on the waiting list. A household
    /// signs up once (a second sign-up answers the first). Returns the household's sign-up.
    public func signUp(_ id: Int64, _ i: SignUpInput, actor: Actor) async throws -> SignUpView {
        let people = i.people ?? 1
        guard (1...ActivityLimits.partyMax).contains(people) else { throw LinliError.invalid("people", "invalid", "每户报名 1 到 6 人") }
        let now = env.nowSeconds
        let made: SignUpView? = try await store.transaction { db in
            let (a, _) = try await fetchActivity(db, id, actor)
            guard a.status == "open" else { throw LinliError.conflict(nil, "cancelled", "活动已取消") }
            guard a.startsAt > now else { throw LinliError.conflict(nil, "started", "活动已经开始，不能再报名") }
            var apply = ApplyInput()
            apply.householdCode = i.householdCode; apply.householdID = i.householdID
            let h = try await household(db, apply, actor, situations: a.audience != .all)
            guard h.path.hasPrefix(a.path) else { throw LinliError.invalid("household_code", "outside", "这一户不在活动的范围内") }
            guard ActivityRules.qualifies(h.situations, a.audience) else {
                throw LinliError.invalid("household_code", "audience", "这个活动面向\(ServicesCapability.words.label(a.audience.rawValue, .zh))，这一户不符合")
            }
            if let old = try await db.query("SELECT status FROM activity_signups WHERE activity_id = \(id) AND household_id = \(h.id)").first() {
                guard try old.decode(column: "status", as: String.self) == "cancelled" else { return nil }
                try await db.query("DELETE FROM activity_signups WHERE activity_id = \(id) AND household_id = \(h.id)").run()
            }
            // A place is taken only while there is room and nobody waits (a newcomer never passes
            // the waiting list): concurrent sign-ups cannot overfill it.
            let room = try await db.query("""
                UPDATE activities SET taken = taken + \(people) WHERE id = \(id) AND taken + \(people) <= capacity AND waiting = 0 RETURNING taken
                """).first() != nil
            let status = room ? "confirmed" : "waiting"
            // A new waiting sign-up is last in line: its number is the count of those waiting.
            let place = room ? nil : try await db.query("UPDATE activities SET waiting = waiting + 1 WHERE id = \(id) RETURNING waiting").first()!
                .decode(column: "waiting", as: Int.self)
            let sid = try await Self.once("household_code", "这一户已经报名") { try await db.query("""
                INSERT INTO activity_signups (activity_id, household_id, path, grid_id, user_id, by_name, people, status, created_at)
                VALUES (\(id), \(h.id), \(h.path), \(h.gridID), \(actor.userID), \(actor.signature), \(people), \(status), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self) }
            try await audit.append(db, actor: actor, action: "activity.sign_up", objectType: "activity", objectID: id, path: h.path, detail: status)
            return SignUpView(id: sid, householdID: h.id, address: h.address, by: actor.signature, people: people, status: status, waitingPosition: place, attended: false)
        }
        if let made { return made }
        // Signed up before: the household's sign-up as it stands.
        var again = ApplyInput()
        again.householdCode = i.householdCode; again.householdID = i.householdID
        let asked = again
        let existing = try await store.read { db in try await signUpViews(db, activity: id, households: [try await household(db, asked, actor).id]).first }
        guard let existing else { throw LinliError.conflict(nil, "changed", "报名刚刚有变化，请刷新后再试") }
        return existing
    }

    /// Takes a household's sign-up back; the places it held go to the waiting list in order.
    public func cancelSignUp(_ id: Int64, _ i: SignUpInput, actor: Actor) async throws -> ActivityView {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (a, _) = try await fetchActivity(db, id, actor)
            var apply = ApplyInput()
            apply.householdCode = i.householdCode; apply.householdID = i.householdID
            let h = try await household(db, apply, actor)
            guard let s = try await db.query("""
                SELECT id, status, people, user_id FROM activity_signups WHERE activity_id = \(id) AND household_id = \(h.id) AND status <> 'cancelled'
                """).first() else { throw LinliError.invalid("household_code", "not_signed_up", "这一户没有报名这个活动") }
            // Whoever signed the household up hears when someone else takes it back.
            try await notifier.tell(db, [try s.decode(column: "user_id", as: Int64.self)], except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: "activity_withdrawn", requestID: nil, subject: a.title, link: "/activities/\(id)")
            }
            let was = try s.decode(column: "status", as: String.self), people = try s.decode(column: "people", as: Int.self)
            guard try await db.query("""
                UPDATE activity_signups SET status = 'cancelled' WHERE id = \(try s.decode(column: "id", as: Int64.self)) AND status = \(was) RETURNING id
                """).first() != nil else { throw LinliError.conflict(nil, "changed", "报名刚刚有变化，请刷新后再试") }
            try await audit.append(db, actor: actor, action: "activity.cancel_sign_up", objectType: "activity", objectID: id, path: h.path)
            guard was == "confirmed" else {
                try await db.query("UPDATE activities SET waiting = waiting - 1 WHERE id = \(id) AND waiting > 0").run()
                return
            }
            let left = try await db.query("UPDATE activities SET taken = taken - \(people) WHERE id = \(id) RETURNING taken, capacity").first()!
            let room = try left.decode(column: "capacity", as: Int.self) - left.decode(column: "taken", as: Int.self)
            guard a.startsAt > now, a.status == "open" else { return }
            // At most `room` parties can move up (each is at least one person).
            let waiting = try await db.query("""
                SELECT id, people, user_id FROM activity_signups WHERE activity_id = \(id) AND status = 'waiting' ORDER BY id LIMIT \(room)
                """).all()
            let queue = try waiting.map { (id: try $0.decode(column: "id", as: Int64.self), people: try $0.decode(column: "people", as: Int.self)) }
            let up = ActivityRules.promoted(queue, room: room)
            guard !up.isEmpty else { return }
            let moved = queue.filter { up.contains($0.id) }.reduce(0) { $0 + $1.people }
            try await db.query("UPDATE activity_signups SET status = 'confirmed' WHERE id IN (\(list: up))").run()
            try await db.query("UPDATE activities SET taken = taken + \(moved), waiting = waiting - \(up.count) WHERE id = \(id)").run()
            let users = try waiting.filter { up.contains(try $0.decode(column: "id", as: Int64.self)) }.map { try $0.decode(column: "user_id", as: Int64.self) }
            try await notifier.tell(db, users, except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: "activity_promoted", requestID: nil, subject: a.title, link: "/activities/\(id)")
            }
        }
        return try await activity(id, actor: actor)
    }

    /// At the door: the household's code marks its sign-up as come.
    public func attend(_ id: Int64, code: String?, actor: Actor) async throws -> SignUpView {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let (a, _) = try await fetchActivity(db, id, actor)
            guard a.staff else { throw LinliError.forbidden }
            guard let c = code, !Self.trimmed(c).isEmpty else { throw LinliError.invalid("household_code", "required", "请扫描或输入户码") }
            let notSignedUp = LinliError.invalid("household_code", "not_signed_up", "这一户没有报上名（或还在候补）")
            let h: HouseholdFacts
            if a.asOrganisation {
                // An organisation reads no registry: a code counts only as a sign-up of its own
                // activity, and any other code answers the same (no household found by guessing).
                guard let f = try await registry.householdFacts(db, code: Self.trimmed(c), careOnly: true), f.path.hasPrefix(a.path) else { throw notSignedUp }
                h = f
            } else {
                var apply = ApplyInput()
                apply.householdCode = code
                h = try await household(db, apply, actor)
            }
            guard let s = try await db.query("""
                SELECT id FROM activity_signups WHERE activity_id = \(id) AND household_id = \(h.id) AND status = 'confirmed'
                """).first() else { throw notSignedUp }
            let sid = try s.decode(column: "id", as: Int64.self)
            try await db.query("UPDATE activity_signups SET attended_at = COALESCE(attended_at, \(now)) WHERE id = \(sid)").run()
            try await audit.append(db, actor: actor, action: "activity.attend", objectType: "activity", objectID: id, path: h.path)
            return try await signUpViews(db, activity: id, households: [h.id], masked: a.asOrganisation)[0]
        }
    }

    /// Calls an activity off; everyone signed up or waiting is told.
    public func cancelActivity(_ id: Int64, actor: Actor) async throws -> ActivityView {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (a, _) = try await fetchActivity(db, id, actor)
            guard a.staff else { throw LinliError.forbidden }
            guard a.status == "open" else { throw LinliError.conflict(nil, "cancelled", "活动已取消") }
            try await db.query("UPDATE activities SET status = 'cancelled' WHERE id = \(id)").run()
            // Its helpers' shifts are off too (the volunteers are told by the linkage capability).
            if let helpers = try await db.query("SELECT helper_task_id FROM activities WHERE id = \(id)").first()?.decode(column: "helper_task_id", as: Int64?.self) {
                try await closeHelperTask(db, helpers, actor)
            }
            let users = try await db.query("SELECT user_id FROM activity_signups WHERE activity_id = \(id) AND status <> 'cancelled'").all()
                .map { try $0.decode(column: "user_id", as: Int64.self) }
            try await audit.append(db, actor: actor, action: "activity.cancel", objectType: "activity", objectID: id, path: a.path)
            try await notifier.tell(db, users, except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: "activity_cancelled", requestID: nil, subject: a.title, link: "/activities/\(id)")
            }
        }
        return try await activity(id, actor: actor)
    }
}
