import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct SpaceInput: Codable, Sendable {
    public var placeID: Int64?
    public var name: String?
    public var kind: SpaceKind?
    public var capacity: Int?
    /// "08:30" and "21:00".
    public var opens: String?
    public var closes: String?
    /// Open weekdays, 1 = Monday.
    public var openDays: [Int]?
    public var residentsMayBook: Bool?
    public var needsApproval: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", name, kind, capacity, opens, closes, openDays = "open_days", residentsMayBook = "residents_may_book"
        case needsApproval = "needs_approval"
    }
}

/// One booking (`day`), or a weekly series (`weekday` from `day` to `until`, leaving out `except`).
public struct SpaceBookingInput: Codable, Sendable {
    public var day: String?
    public var start: String?
    public var end: String?
    public var purpose: String?
    public var weekday: Int?
    public var until: String?
    public var except: [String]?
    public init() {}
}

public struct SpaceBookingView: Codable, Sendable, Equatable {
    public var id: Int64
    public var day: String
    public var time: String
    public var purpose: String
    public var by: String
    public var status: String
    public var seriesID: Int64?
    enum CodingKeys: String, CodingKey { case id, day, time, purpose, by, status, seriesID = "series_id" }
}

public struct SpaceView: Codable, Sendable {
    public var id: Int64
    public var placeName: String
    public var name: String
    public var kind: SpaceKind
    public var capacity: Int
    public var opens: String
    public var closes: String
    public var openDays: [Int]
    public var residentsMayBook: Bool
    public var needsApproval: Bool
    /// Live bookings of the next four weeks (who booked is shown to staff only).
    public var bookings: [SpaceBookingView]
    enum CodingKeys: String, CodingKey {
        case id, placeName = "place_name", name, kind, capacity, opens, closes, openDays = "open_days", residentsMayBook = "residents_may_book"
        case needsApproval = "needs_approval", bookings
    }
}

/// Community spaces (党群微家, reading room, children's space, meeting rooms) and their bookings.
extension AffairsService {
    public func createSpace(_ i: SpaceInput, actor: Actor) async throws -> SpaceView {
        var v = Validator()
        let name = Self.trimmed(i.name)
        v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写场地名称")
        let opens = LocalDay.parseHHMM(i.opens ?? "08:30"), closes = LocalDay.parseHHMM(i.closes ?? "21:00")
        v.check(opens != nil, "opens", "invalid", "开放时间格式应为 08:30")
        v.check(closes != nil && (closes ?? 0) <= 24 * 60, "closes", "invalid", "关闭时间格式应为 21:00")
        if let o = opens, let c = closes { v.check(o < c, "closes", "invalid", "关闭时间应晚于开放时间") }
        v.check((1...1000).contains(i.capacity ?? 20), "capacity", "invalid", "容纳人数应为 1 到 1000")
        let days = Set(i.openDays ?? [1, 2, 3, 4, 5, 6, 7])
        v.check(!days.isEmpty && days.isSubset(of: 1...7), "open_days", "invalid", "请选择开放的星期")
        try v.throwIfAny()
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let place = try await runPlace(db, i.placeID, actor, missing: "请选择场地所在的社区")
            let row = try await db.query("""
                INSERT INTO spaces (place_id, path, name, kind, capacity, opens, closes, open_days, residents_may_book, needs_approval, created_at)
                VALUES (\(place.id), \(place.path), \(name), \((i.kind ?? .meetingRoom).rawValue), \(i.capacity ?? 20), \(opens!), \(closes!),
                        \(days.sorted().map(String.init).joined()), \(i.residentsMayBook ?? true), \(i.needsApproval ?? true), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "space.create", objectType: "space", objectID: id, path: place.path, detail: name)
            return id
        }
        return try await space(id, actor: actor)
    }

    struct SpaceRow {
        var id: Int64, path: String, name: String, opens: Int, closes: Int, openDays: Set<Int>, residentsMayBook: Bool, needsApproval: Bool
        var staff: Bool
    }

    func fetchSpace(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (SpaceRow, any SQLRow) {
        guard let r = try await db.query("SELECT s.*, p.name AS place_name FROM spaces s JOIN places p ON p.id = s.place_id WHERE s.id = \(id)").first() else {
            throw LinliError.notFound
        }
        let path = try r.decode(column: "path", as: String.self)
        let staff = actor.may(.affairHandle, on: ObjectScope(path: path))
        // Residents see the rooms of the places they live under; grid workers those of their community.
        guard staff || actor.grants.contains(where: { g in
            PermissionTable.allows(g.role, .affairApply) && (g.placePath.hasPrefix(path) || (g.role != .resident && path.hasPrefix(g.placePath)))
        }) else { throw LinliError.notFound }
        return (SpaceRow(id: id, path: path, name: try r.decode(column: "name", as: String.self), opens: try r.decode(column: "opens", as: Int.self),
                         closes: try r.decode(column: "closes", as: Int.self),
                         openDays: Set(try r.decode(column: "open_days", as: String.self).compactMap { Int(String($0)) }),
                         residentsMayBook: try r.decode(column: "residents_may_book", as: Int.self) == 1,
                         needsApproval: try r.decode(column: "needs_approval", as: Int.self) == 1, staff: staff), r)
    }

    public func space(_ id: Int64, actor: Actor) async throws -> SpaceView {
        let now = env.nowSeconds
        return try await store.read { db in
            let (s, r) = try await fetchSpace(db, id, actor)
            let bookings = try await db.query("""
                SELECT id, starts_at, ends_at, purpose, by_name, user_id, status, series_id FROM space_bookings
                WHERE space_id = \(id) AND status IN ('pending', 'approved') AND ends_at > \(now) AND starts_at < \(now + 28 * 86400) ORDER BY starts_at
                """).all().map { b in
                let st = try b.decode(column: "starts_at", as: Int64.self), en = try b.decode(column: "ends_at", as: Int64.self)
                let mine = try b.decode(column: "user_id", as: Int64.self) == actor.userID
                return SpaceBookingView(id: try b.decode(column: "id", as: Int64.self), day: ChinaTime.iso(day: LocalDay.of(st)),
                                        time: LocalDay.hhmm(LocalDay.minute(st)) + "–" + LocalDay.hhmm(Int((en - LocalDay.start(LocalDay.of(st))) / 60)),
                                        purpose: s.staff || mine ? try b.decode(column: "purpose", as: String.self) : "",
                                        by: s.staff || mine ? try b.decode(column: "by_name", as: String.self) : "",
                                        status: try b.decode(column: "status", as: String.self), seriesID: try b.decode(column: "series_id", as: Int64?.self))
            }
            return SpaceView(id: id, placeName: try r.decode(column: "place_name", as: String.self), name: s.name,
                             kind: SpaceKind(rawValue: try r.decode(column: "kind", as: String.self)) ?? .meetingRoom,
                             capacity: try r.decode(column: "capacity", as: Int.self), opens: LocalDay.hhmm(s.opens), closes: LocalDay.hhmm(s.closes),
                             openDays: s.openDays.sorted(), residentsMayBook: s.residentsMayBook, needsApproval: s.needsApproval, bookings: bookings)
        }
    }

    public func spaces(actor: Actor) async throws -> [SpaceView] {
        guard let any = Self.around(actor, alias: "s") else { throw LinliError.forbidden }
        let ids: [Int64] = try await store.read { db in
            return try await db.query("SELECT s.id FROM spaces s WHERE (\(any)) AND s.active = 1 ORDER BY s.id LIMIT 100").all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        var out: [SpaceView] = []
        // A room the list found but the actor may not open is left out, not an error for the whole list.
        for id in ids { if let s = try? await space(id, actor: actor) { out.append(s) } }
        return out
    }

    /// Books a time (or, for staff, a weekly series): inside opening hours, never over a live
    /// booking. A resident's booking waits for staff where the space asks for approval. Returns
    /// the bookings made.
    public func book(_ spaceID: Int64, _ i: SpaceBookingInput, actor: Actor) async throws -> [Int64] {
        var v = Validator()
        let purpose = Self.trimmed(i.purpose)
        v.check(!purpose.isEmpty && purpose.count <= 100, "purpose", "required", "请填写用途（不超过 100 字）")
        let day = try Input.day(i.day, field: "day")
        v.check(day != nil, "day", "required", "请填写日期")
        let start = LocalDay.parseHHMM(i.start ?? ""), end = LocalDay.parseHHMM(i.end ?? "")
        v.check(start != nil, "start", "invalid", "开始时间格式应为 14:00")
        v.check(end != nil, "end", "invalid", "结束时间格式应为 16:00")
        let until = try Input.day(i.until, field: "until")
        let except = Set(try (i.except ?? []).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { s in
            guard let d = Input.day(s.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid("except", "invalid", "跳过的日期格式应为 2026-12-31") }
            return d
        })
        if i.weekday != nil || until != nil {
            v.check((1...7).contains(i.weekday ?? 0), "weekday", "invalid", "请选择每周星期几")
            v.check(until != nil, "until", "required", "请填写每周预约到哪一天")
            if let d = day, let u = until { v.check(u >= d && u - d <= 190, "until", "invalid", "每周预约最长半年，且结束不早于开始") }
        }
        try v.throwIfAny()
        let now = env.nowSeconds
        let times: [(Int64, Int64)] = i.weekday != nil
            ? SpaceRules.occurrences(weekday: i.weekday!, from: day!, to: until!, start: start!, end: end!, except: except)
            : [(LocalDay.start(day!) + Int64(start!) * 60, LocalDay.start(day!) + Int64(end!) * 60)]
        guard !times.isEmpty else { throw LinliError.invalid("weekday", "empty", "这段日期内没有可预约的那一天") }
        do {
            return try await store.transaction { db in
                let (s, _) = try await fetchSpace(db, spaceID, actor)
                if i.weekday != nil { guard s.staff else { throw LinliError.invalid("weekday", "staff_only", "每周固定预约由社区工作人员办理") } }
                guard s.staff || s.residentsMayBook else { throw LinliError.forbidden }
                for t in times {
                    guard t.0 > now else { throw LinliError.invalid("day", "past", "不能预约已经过去的时间") }
                    guard SpaceRules.withinHours(start: t.0, end: t.1, opens: s.opens, closes: s.closes, openDays: s.openDays) else {
                        throw LinliError.invalid("start", "closed", "场地开放时间为 \(LocalDay.hhmm(s.opens))–\(LocalDay.hhmm(s.closes))（\(ChinaTime.iso(day: LocalDay.of(t.0))) 不在开放时间内）")
                    }
                }
                // Inside the transaction (SQLite runs it alone; PostgreSQL's constraint backs it up).
                let live = try await db.query("""
                    SELECT starts_at, ends_at FROM space_bookings WHERE space_id = \(spaceID) AND status IN ('pending', 'approved')
                    AND ends_at > \(times.first!.0) AND starts_at < \(times.last!.1)
                    """).all().map { (try $0.decode(column: "starts_at", as: Int64.self), try $0.decode(column: "ends_at", as: Int64.self)) }
                let clashes = times.filter { t in live.contains { SpaceRules.overlaps(t, $0) } }
                guard clashes.isEmpty else {
                    throw LinliError.conflict("start", "taken", "这些时间已有人预约：" + clashes.prefix(5).map { ChinaTime.iso(day: LocalDay.of($0.0)) + " " + LocalDay.hhmm(LocalDay.minute($0.0)) }.joined(separator: "、"))
                }
                let status = s.staff || !s.needsApproval ? "approved" : "pending"
                var ids: [Int64] = []
                var series: Int64?
                for t in times {
                    let row = try await db.query("""
                        INSERT INTO space_bookings (space_id, path, starts_at, ends_at, purpose, user_id, by_name, series_id, status, created_at)
                        VALUES (\(spaceID), \(s.path), \(t.0), \(t.1), \(purpose), \(actor.userID), \(actor.signature), \(series), \(status), \(now)) RETURNING id
                        """).first()
                    let id = try row!.decode(column: "id", as: Int64.self)
                    // A series is known by its first booking's id.
                    if i.weekday != nil, series == nil {
                        series = id
                        try await db.query("UPDATE space_bookings SET series_id = \(id) WHERE id = \(id)").run()
                    }
                    ids.append(id)
                }
                try await audit.append(db, actor: actor, action: "space.book", objectType: "space", objectID: spaceID, path: s.path,
                                       detail: "\(times.count) × \(purpose)")
                return ids
            }
        } catch where isExclusionViolation(error) {
            throw LinliError.conflict("start", "taken", "这个时间刚被别人预约了，请另选时间")
        }
    }

    /// Staff approve or refuse a pending booking; the booker (or staff) cancels a live one.
    /// Returns the space's id.
    @discardableResult
    public func decideBooking(_ id: Int64, to status: String, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let b = try await db.query("SELECT space_id, status, user_id, purpose FROM space_bookings WHERE id = \(id)").first() else { throw LinliError.notFound }
            let (s, _) = try await fetchSpace(db, try b.decode(column: "space_id", as: Int64.self), actor)
            let was = try b.decode(column: "status", as: String.self), owner = try b.decode(column: "user_id", as: Int64.self)
            switch status {
            case "approved", "refused":
                guard s.staff else { throw owner == actor.userID ? LinliError.forbidden : LinliError.notFound }
                guard was == "pending" else { throw LinliError.conflict(nil, "wrong_state", "这个预约已处理过") }
            case "cancelled":
                guard s.staff || owner == actor.userID else { throw LinliError.notFound }
                guard was == "pending" || was == "approved" else { throw LinliError.conflict(nil, "wrong_state", "这个预约已取消或被拒绝") }
            default: throw LinliError.invalid("status", "invalid", "未知的操作")
            }
            // From the status it was read in only: a cancel racing an approval cannot revive it.
            guard try await db.query("UPDATE space_bookings SET status = \(status) WHERE id = \(id) AND status = \(was) RETURNING id").first() != nil else {
                throw LinliError.conflict(nil, "wrong_state", "这个预约刚刚被处理过")
            }
            try await audit.append(db, actor: actor, action: "space.booking_" + status, objectType: "space", objectID: s.id, path: s.path, detail: String(id))
            if status != "cancelled" || owner != actor.userID {
                let subject = s.name + " · " + (try b.decode(column: "purpose", as: String.self))
                try await notifier.tell(db, [owner], except: actor.userID, at: now) {
                    OutgoingNotification(userID: $0, kind: "space_" + status, requestID: nil, subject: subject, link: "/spaces/\(s.id)")
                }
            }
            return s.id
        }
    }
}
