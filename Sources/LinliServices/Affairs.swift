import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

/// A service of the centre, as staff define it.
public struct AffairInput: Codable, Sendable {
    public var placeID: Int64?
    public var name: String?
    public var description: String?
    /// The papers to bring or photograph, one per line.
    public var materials: String?
    public var mode: AffairMode?
    public var promisedDays: Int?
    public var active: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", name, description, materials, mode, promisedDays = "promised_days", active
    }
}

/// Counter slots to open: every `every` minutes from `start` to `end` on the chosen weekdays
/// (1 = Monday) of each day from `from` to `to`, each for `capacity` people.
public struct SlotPlanInput: Codable, Sendable {
    public var from: String?
    public var to: String?
    public var weekdays: [Int]?
    public var start: String?
    public var end: String?
    public var every: Int?
    public var capacity: Int?
    public init() {}
}

/// An application (online), a booking (`slot_id`) or, from staff, a walk-in.
public struct ApplyInput: Codable, Sendable {
    public var householdID: Int64?
    public var householdCode: String?
    public var slotID: Int64?
    public var note: String?
    public var clientKey: String?
    public var papersBase64: [String]?
    /// A walk-in who has no household on the register (not yet registered, from elsewhere): their
    /// name, and a phone to reach them, kept sealed; staff only, instead of a household code.
    public var visitorName: String?
    public var visitorPhone: String?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case householdID = "household_id", householdCode = "household_code", slotID = "slot_id", note, clientKey = "client_key", papersBase64 = "papers_base64"
        case visitorName = "visitor_name", visitorPhone = "visitor_phone"
    }
}

public struct AffairStepInput: Codable, Sendable {
    public var note: String?
    public var papersBase64: [String]?
    public init() {}
    enum CodingKeys: String, CodingKey { case note, papersBase64 = "papers_base64" }
}

public struct SlotView: Codable, Sendable, Equatable {
    public var id: Int64
    public var day: String
    public var time: String
    public var capacity: Int
    public var left: Int
}

public struct AffairView: Codable, Sendable {
    public var id: Int64
    public var placeID: Int64
    public var placeName: String
    public var name: String
    public var description: String
    public var materials: [String]
    public var mode: AffairMode
    public var promisedDays: Int
    public var active: Bool
    enum CodingKeys: String, CodingKey {
        case id, placeID = "place_id", placeName = "place_name", name, description, materials, mode, promisedDays = "promised_days", active
    }
}

public struct AffairEventView: Codable, Sendable {
    public var at: String
    public var step: String
    public var status: ApplicationStatus
    public var note: String
    public var by: String
}

public struct ApplicationView: Codable, Sendable {
    public var id: Int64
    public var affairID: Int64
    public var affairName: String
    public var householdID: Int64
    public var address: String
    public var applicant: String
    public var kind: String
    public var status: ApplicationStatus
    public var ticket: String?
    public var slot: String?
    public var returns: Int
    public var note: String
    public var submittedAt: String
    public var events: [AffairEventView]
    public var papers: [Int64]
    /// The steps the caller may take now.
    public var steps: [ApplicationStep]
    enum CodingKeys: String, CodingKey {
        case id, affairID = "affair_id", affairName = "affair_name", householdID = "household_id", address, applicant, kind, status, ticket, slot
        case returns, note, submittedAt = "submitted_at", events, papers, steps
    }
}

/// One line of a list of applications (the desk's queues, a resident's own).
public struct ApplicationLine: Codable, Sendable, Equatable {
    public var id: Int64
    public var affairID: Int64
    public var affairName: String
    public var address: String
    public var applicant: String
    public var status: ApplicationStatus
    public var ticket: String?
    public var slot: String?
    public var returns: Int
    public var since: String
    enum CodingKeys: String, CodingKey {
        case id, affairID = "affair_id", affairName = "affair_name", address, applicant, status, ticket, slot, returns, since
    }
}

public struct AffairDesk: Codable, Sendable {
    /// Walked in or arrived, waiting to be called (oldest first).
    public var waiting: [ApplicationLine]
    /// Booked for today, not yet arrived.
    public var bookedToday: [ApplicationLine]
    /// Bookings whose time has passed without an arrival.
    public var missed: [ApplicationLine]
    /// Sent online, waiting for review.
    public var toReview: [ApplicationLine]
    public var handling: [ApplicationLine]
    /// Papers sent back, waiting for the applicant.
    public var returned: [ApplicationLine]
    enum CodingKeys: String, CodingKey {
        case waiting, bookedToday = "booked_today", missed, toReview = "to_review", handling, returned
    }
}

public struct AffairMeasureView: Codable, Sendable, Equatable {
    public var affairID: Int64
    public var name: String
    public var finished: Int
    public var returnsPerApplication: Double
    public var onceOnlyPercent: Int
    public var noShows: Int
    public var medianWaitMinutes: Int?
    public var medianHandlingHours: Double?
    enum CodingKeys: String, CodingKey {
        case affairID = "affair_id", name, finished, returnsPerApplication = "returns_per_application", onceOnlyPercent = "once_only_percent"
        case noShows = "no_shows", medianWaitMinutes = "median_wait_minutes", medianHandlingHours = "median_handling_hours"
    }
}

enum AffairLimits {
    static let nameMax = 60, descriptionMax = 2000, materialsMax = 2000, noteMax = 1000
    static let papersMax = 9
    /// How far ahead slots may be opened in one go, and booked.
    static let planDaysMax = 92
}

/// The service centre's use cases: its catalogue, counter slots, applications and their steps,
/// the desk's queues and the measures of 最多跑一次.
public struct AffairsService: Sendable {
    let store: any Store
    let cipher: PersonalDataCipher
    let env: Env
    let audit: AuditLog
    let registry: RegistryService
    let notifier: any Notifier
    let paperDirectory: String
    /// Books money arrived (an enterprise's returned profit, a canteen's meal subsidy, a diner's
    /// payment) on the ledger (the linkage capability's), inside the caller's transaction;
    /// answers the ledger transaction. No actor: a payment provider's notification. The
    /// application sets it.
    public var bookArrival: @Sendable (any SQLDatabase, FundArrival, Actor?) async throws -> Int64 = { _, _, _ in
        throw LinliError(.serviceUnavailable, code: "no_ledger", message: "账本未接入")
    }

    /// The linkage capability's side of a canteen's delivery round: the recurring volunteer tasks
    /// of an area (to name one as the round), whether a user is on a task's shift that day, and
    /// who is (family names). The application sets them.
    public var deliveryTasks: @Sendable (any SQLDatabase, String) async throws -> [(id: Int64, title: String)] = { _, _ in [] }
    public var onDeliveryShift: @Sendable (any SQLDatabase, Int64, Int64, Int64) async throws -> Bool = { _, _, _, _ in false }
    /// Posts an activity's helpers as a volunteer task (linkage's) inside the caller's transaction.
    public var postHelperTask: @Sendable (any SQLDatabase, LinkageService.TaskInput, Actor) async throws -> Int64 = { _, _, _ in
        throw LinliError(.serviceUnavailable, code: "no_volunteers", message: "志愿服务未接入")
    }
    /// Closes an activity's helpers' task when the activity is called off (linkage's), in the caller's transaction.
    public var closeHelperTask: @Sendable (any SQLDatabase, Int64, Actor) async throws -> Void = { _, _, _ in }
    public var deliveryCrew: @Sendable (any SQLDatabase, Int64, Int64) async throws -> [String] = { _, _, _ in [] }

    public init(store: any Store, cipher: PersonalDataCipher, env: Env, registry: RegistryService, paperDirectory: String) {
        self.store = store
        self.cipher = cipher
        self.env = env
        self.audit = AuditLog(env: env)
        self.registry = registry
        self.notifier = InAppNotifier()
        self.paperDirectory = paperDirectory
    }

    static func trimmed(_ s: String?) -> String { (s ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Removes paper files no application names, an hour after they were written (a refused or
    /// interrupted application leaves its files; see `OrphanFiles`).
    public func removeOrphanPapers() async throws -> Int {
        try await OrphanFiles.remove(in: paperDirectory, store: store, table: "affair_papers", olderThan: env.nowSeconds - 3600)
    }

    /// Objects (at `alias.path`) around the actor's places: above them (what they live under) or,
    /// for staff, below. Nil when the actor has no grant for the capability at all.
    static func around(_ actor: Actor, alias: String, _ actions: Action...) -> BoundSQL? {
        let paths = Set((actions.isEmpty ? [.affairApply, .affairHandle] : actions).flatMap { actor.grants(for: $0) }.map(\.placePath)).sorted()
        guard !paths.isEmpty else { return nil }
        let each = paths.map { p -> BoundSQL in "(\(p) LIKE \(unsafeRaw: alias).path || '%' OR \(unsafeRaw: alias).path LIKE \(p + "%"))" }
        return each.dropFirst().reduce(each[0]) { "\($0) OR \($1)" }
    }

    /// The place where staff put a new service, activity, room, canteen or subsidy rule: one they
    /// run; a street or community unless `anyKind`. Refusals name `place_id`.
    func runPlace(_ db: any SQLDatabase, _ placeID: Int64?, _ actor: Actor, missing: String, anyKind: Bool = false) async throws -> RegistryService.PlaceRow {
        guard let placeID else { throw LinliError.invalid("place_id", "required", missing) }
        guard let place = try await registry.fetchPlace(db, placeID), actor.may(.affairHandle, on: place.scope) else {
            throw LinliError.invalid("place_id", "not_found", "您管辖范围内没有这个地点")
        }
        guard anyKind || place.kind == .street || place.kind.isCommunity else { throw LinliError.invalid("place_id", "kind", "请选择街道或社区") }
        return place
    }

    // MARK: The catalogue

    static let affairColumns = """
        SELECT a.id, a.place_id, a.path, a.name, a.description, a.materials, a.mode, a.promised_days, a.active, p.name AS place_name
        FROM affairs a JOIN places p ON p.id = a.place_id
        """

    static func affairView(_ r: any SQLRow) throws -> AffairView {
        AffairView(id: try r.decode(column: "id", as: Int64.self), placeID: try r.decode(column: "place_id", as: Int64.self),
                   placeName: try r.decode(column: "place_name", as: String.self), name: try r.decode(column: "name", as: String.self),
                   description: try r.decode(column: "description", as: String.self),
                   materials: try r.decode(column: "materials", as: String.self).split(separator: "\n").map(String.init),
                   mode: AffairMode(rawValue: try r.decode(column: "mode", as: String.self)) ?? .both,
                   promisedDays: try r.decode(column: "promised_days", as: Int.self), active: try r.decode(column: "active", as: Int.self) == 1)
    }

    /// The services the actor may use or run: those offered above their places (a resident's
    /// household, a worker's community) and, for staff, those below.
    public func catalogue(actor: Actor, includeInactive: Bool = false) async throws -> [AffairView] {
        guard let any = Self.around(actor, alias: "a") else { throw LinliError.forbidden }
        return try await store.read { db in
            let active: BoundSQL = includeInactive ? "" : " AND a.active = 1"
            return try await db.query("\(unsafeRaw: Self.affairColumns) WHERE (\(any))\(active) ORDER BY a.path, a.id").all().map(Self.affairView)
        }
    }

    func fetchAffair(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (AffairView, String) {
        guard let r = try await db.query("\(unsafeRaw: Self.affairColumns) WHERE a.id = \(id)").first() else { throw LinliError.notFound }
        let path = try r.decode(column: "path", as: String.self)
        // Seen by those below it (who may apply) and by staff over it.
        let visible = actor.grants.contains { g in
            (PermissionTable.allows(g.role, .affairApply) && g.placePath.hasPrefix(path))
                || (PermissionTable.allows(g.role, .affairHandle) && (path.hasPrefix(g.placePath) || g.placePath.hasPrefix(path)))
        }
        guard visible else { throw LinliError.notFound }
        return (try Self.affairView(r), path)
    }

    public func affair(_ id: Int64, actor: Actor) async throws -> AffairView {
        try await store.read { db in try await fetchAffair(db, id, actor).0 }
    }

    func validated(_ i: AffairInput, partial: Bool) throws -> (name: String?, description: String?, materials: String?) {
        var v = Validator()
        let name = i.name.map { Self.trimmed($0) }
        if !partial || name != nil { v.check(!(name ?? "").isEmpty && (name ?? "").count <= AffairLimits.nameMax, "name", "required", "请填写事项名称（不超过 60 字）") }
        let description = i.description.map { Self.trimmed($0) }
        v.check((description ?? "").count <= AffairLimits.descriptionMax, "description", "too_long", "说明不超过 2000 字")
        let materials = i.materials.map { m in
            m.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n")
        }
        v.check((materials ?? "").count <= AffairLimits.materialsMax, "materials", "too_long", "所需材料不超过 2000 字")
        if let d = i.promisedDays { v.check((0...365).contains(d), "promised_days", "invalid", "承诺办结时限应为 0 到 365 天") }
        try v.throwIfAny()
        return (name, description, materials)
    }

    /// Adds a service at a street or community the actor runs.
    public func createAffair(_ i: AffairInput, actor: Actor) async throws -> AffairView {
        let (name, description, materials) = try validated(i, partial: false)
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let place = try await runPlace(db, i.placeID, actor, missing: "请选择提供服务的街道或社区")
            let row = try await db.query("""
                INSERT INTO affairs (place_id, path, name, description, materials, mode, promised_days, active, created_at)
                VALUES (\(place.id), \(place.path), \(name!), \(description ?? ""), \(materials ?? ""), \((i.mode ?? .both).rawValue), \(i.promisedDays ?? 0),
                        \(i.active == false ? 0 : 1), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "affair.create", objectType: "affair", objectID: id, path: place.path, detail: name!)
            return id
        }
        return try await affair(id, actor: actor)
    }

    /// Changes what is given; a service with applications is withdrawn (`active` false), never removed.
    public func updateAffair(_ id: Int64, _ i: AffairInput, actor: Actor) async throws -> AffairView {
        let (name, description, materials) = try validated(i, partial: true)
        try await store.transaction { db in
            let (_, path) = try await fetchAffair(db, id, actor)
            try actor.require(.affairHandle, on: ObjectScope(path: path))
            if let name { try await db.query("UPDATE affairs SET name = \(name) WHERE id = \(id)").run() }
            if let description { try await db.query("UPDATE affairs SET description = \(description) WHERE id = \(id)").run() }
            if let materials { try await db.query("UPDATE affairs SET materials = \(materials) WHERE id = \(id)").run() }
            if let m = i.mode { try await db.query("UPDATE affairs SET mode = \(m.rawValue) WHERE id = \(id)").run() }
            if let d = i.promisedDays { try await db.query("UPDATE affairs SET promised_days = \(d) WHERE id = \(id)").run() }
            if let a = i.active { try await db.query("UPDATE affairs SET active = \(a ? 1 : 0) WHERE id = \(id)").run() }
            try await audit.append(db, actor: actor, action: "affair.update", objectType: "affair", objectID: id, path: path)
        }
        return try await affair(id, actor: actor)
    }

    // MARK: Counter slots

    /// Opens slots by a weekly plan; slots already open at the same time are kept as they are.
    /// Returns how many were added.
    public func openSlots(_ affairID: Int64, _ plan: SlotPlanInput, actor: Actor) async throws -> Int {
        var v = Validator()
        let from = try Input.day(plan.from, field: "from"), to = try Input.day(plan.to, field: "to")
        v.check(from != nil, "from", "required", "请填写开始日期")
        v.check(to != nil, "to", "required", "请填写结束日期")
        if let f = from, let t = to {
            v.check(f <= t && t - f < Int64(AffairLimits.planDaysMax), "to", "invalid", "结束日期应在开始日期之后，且一次最多开放 92 天")
            v.check(f >= LocalDay.of(env.nowSeconds), "from", "past", "不能开放已经过去的日期")
        }
        let start = LocalDay.parseHHMM(plan.start ?? ""), end = LocalDay.parseHHMM(plan.end ?? "")
        v.check(start != nil, "start", "invalid", "开始时间格式应为 09:00")
        v.check(end != nil, "end", "invalid", "结束时间格式应为 11:30")
        if let s = start, let e = end { v.check(s < e, "end", "invalid", "结束时间应晚于开始时间") }
        let every = plan.every ?? 30, capacity = plan.capacity ?? 1
        v.check((5...240).contains(every), "every", "invalid", "每段时长应为 5 到 240 分钟")
        v.check((1...100).contains(capacity), "capacity", "invalid", "每段可约人数应为 1 到 100")
        let weekdays = Set(plan.weekdays ?? [1, 2, 3, 4, 5])
        v.check(!weekdays.isEmpty && weekdays.isSubset(of: 1...7), "weekdays", "invalid", "请选择星期几开放")
        try v.throwIfAny()
        let wanted = (from!...to!).filter { weekdays.contains(LocalDay.weekday($0)) }.flatMap {
            AffairRules.slots(day: $0, from: start!, to: end!, every: every).map { ($0.start, $0.end) }
        }
        return try await store.transaction { db in
            let (affair, path) = try await fetchAffair(db, affairID, actor)
            try actor.require(.affairHandle, on: ObjectScope(path: path))
            guard affair.mode.takesBookings else { throw LinliError.invalid("mode", "online_only", "此事项只在线申请，不预约窗口") }
            let existing = Set(try await db.query("""
                SELECT starts_at FROM affair_slots WHERE affair_id = \(affairID) AND starts_at >= \(wanted.first?.0 ?? 0) AND starts_at <= \(wanted.last?.0 ?? 0)
                """).all().map { try $0.decode(column: "starts_at", as: Int64.self) })
            let fresh = wanted.filter { !existing.contains($0.0) }
            try await db.insertRows("INSERT INTO affair_slots (affair_id, starts_at, ends_at, capacity) VALUES ", fresh, chunk: 200) { s in
                "(\(affairID), \(s.0), \(s.1), \(capacity))"
            }
            try await audit.append(db, actor: actor, action: "affair.slots", objectType: "affair", objectID: affairID, path: path, detail: String(fresh.count))
            return fresh.count
        }
    }

    /// Slots from now on, with how many places are left (the next two weeks unless `days`).
    public func slots(_ affairID: Int64, actor: Actor, days: Int64 = 14) async throws -> [SlotView] {
        let now = env.nowSeconds
        return try await store.read { db in
            _ = try await fetchAffair(db, affairID, actor)
            return try await db.query("""
                SELECT id, starts_at, ends_at, capacity, booked FROM affair_slots
                WHERE affair_id = \(affairID) AND starts_at > \(now) AND starts_at < \(now + days * 86400) ORDER BY starts_at
                """).all().map { r in
                let s = try r.decode(column: "starts_at", as: Int64.self), e = try r.decode(column: "ends_at", as: Int64.self)
                let cap = try r.decode(column: "capacity", as: Int.self)
                return SlotView(id: try r.decode(column: "id", as: Int64.self), day: ChinaTime.iso(day: LocalDay.of(s)),
                                time: LocalDay.hhmm(LocalDay.minute(s)) + "–" + LocalDay.hhmm(LocalDay.minute(e)),
                                capacity: cap, left: cap - (try r.decode(column: "booked", as: Int.self)))
            }
        }
    }

    // MARK: Applying

    /// The household an application is for: the code or id given, or the resident's own. Its
    /// residents' situations are read only when asked for (an activity's audience).
    func household(_ db: any SQLDatabase, _ i: ApplyInput, _ actor: Actor, situations: Bool = false) async throws -> HouseholdFacts {
        if let code = i.householdCode.map({ Self.trimmed($0) }), !code.isEmpty {
            guard let f = try await registry.householdFacts(db, code: code, careOnly: false), actor.may(.affairApply, on: f.scope) else {
                throw LinliError.invalid("household_code", "not_found", "您可办理的住户中没有这个户码")
            }
            return f
        }
        let id = i.householdID ?? actor.grants.first(where: { $0.role == .resident })?.householdID
        guard let id else { throw LinliError.invalid("household_code", "required", "请扫描或输入户码") }
        let found: HouseholdFacts?
        if situations {
            found = try await registry.householdFacts(db, ids: [id], careOnly: false).first
        } else {
            found = try await registry.fetchHousehold(db, id: id).map {
                HouseholdFacts(id: $0.id, communityID: $0.communityID, gridID: $0.gridID, microGridID: $0.microGridID, path: $0.path, address: $0.address, situations: [])
            }
        }
        guard let f = found, actor.may(.affairApply, on: f.scope) else {
            throw LinliError.invalid("household_id", "not_found", "您可办理的住户中没有这一户")
        }
        return f
    }

    /// Photos of papers, checked and shrunk before any transaction (so a retried batch writes
    /// the same files).
    static func preparedPapers(_ photos: [[UInt8]]) throws -> [PreparedPhoto] {
        guard photos.count <= AffairLimits.papersMax else { throw LinliError.invalid("papers", "too_many", "材料照片最多 9 张") }
        return try photos.map { bytes in
            do { return try PhotoStore.prepare(bytes) } catch let e as LinliError { throw LinliError.invalid("papers", e.code, e.message) }
        }
    }

    /// Writes each paper sealed (it shows an identity card, a certificate) and its row.
    func savePapers(_ db: any SQLDatabase, _ papers: [PreparedPhoto], application: Int64, now: Int64) async throws {
        guard !papers.isEmpty else { return }
        try SealedPhotos(directory: paperDirectory, cipher: cipher, env: env).write(papers, failure: "材料保存失败")
        for p in papers {
            try await db.query("""
                INSERT INTO affair_papers (application_id, stored_name, bytes, created_at) VALUES (\(application), \(p.name), \(p.jpeg.count), \(now))
                """).run()
        }
    }

    /// Applies online (with photos of the papers) or books a counter slot (`slot_id`). A retry with
    /// the same `client_key` answers the first application.
    public func apply(_ affairID: Int64, _ i: ApplyInput, papers photos: [[UInt8]] = [], actor: Actor) async throws -> (ApplicationView, Bool) {
        let note = Self.trimmed(i.note)
        guard note.count <= AffairLimits.noteMax else { throw LinliError.invalid("note", "too_long", "说明不超过 1000 字") }
        let key = i.clientKey.map { Self.trimmed($0) }.flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        // Photos are shrunk only for someone who may apply here: a cheap look first, so a refused
        // request costs no image work (the transaction checks again).
        if !photos.isEmpty { _ = try await store.read { db in (try await fetchAffair(db, affairID, actor).1, try await household(db, i, actor).id) } }
        let papers = try Self.preparedPapers(photos)
        let now = env.nowSeconds
        let (id, created): (Int64, Bool) = try await store.transaction { db in
            if let key, let old = try await db.query("""
                SELECT id, affair_id, slot_id, household_id FROM affair_applications WHERE applicant_user_id = \(actor.userID) AND client_key = \(key)
                """).first() {
                // The same key sent again for the same service (and counter time) is the
                // application made; for another one it is a key used twice by mistake.
                guard try old.decode(column: "affair_id", as: Int64.self) == affairID, try old.decode(column: "slot_id", as: Int64?.self) == i.slotID,
                      try old.decode(column: "household_id", as: Int64.self) == (try await household(db, i, actor).id) else {
                    throw LinliError.invalid("client_key", "reused", "这个 client_key 已用于您的另一份申请")
                }
                return (try old.decode(column: "id", as: Int64.self), false)
            }
            let (affair, path) = try await fetchAffair(db, affairID, actor)
            guard affair.active else { throw LinliError.conflict(nil, "inactive", "此事项已停止办理") }
            let h = try await household(db, i, actor)
            guard h.path.hasPrefix(path) else { throw LinliError.invalid("household_code", "outside", "这一户不在此事项的服务范围内") }
            var slotText: String?
            if let slot = i.slotID {
                guard affair.mode.takesBookings else { throw LinliError.invalid("slot_id", "online_only", "此事项只在线申请") }
                let open = try await db.query("""
                    SELECT 1 AS x FROM affair_applications WHERE affair_id = \(affairID) AND household_id = \(h.id) AND status = 'booked'
                    """).first()
                guard open == nil else { throw LinliError.conflict("slot_id", "already_booked", "这一户已预约此事项，请先取消原预约") }
                // The place is taken only while one is left: two bookings of the last place cannot both pass.
                guard let s = try await db.query("""
                    UPDATE affair_slots SET booked = booked + 1
                    WHERE id = \(slot) AND affair_id = \(affairID) AND booked < capacity AND starts_at > \(now)
                    RETURNING starts_at, ends_at
                    """).first() else { throw LinliError.conflict("slot_id", "full", "这个时段已约满或已过，请另选时段") }
                let st = try s.decode(column: "starts_at", as: Int64.self)
                slotText = ChinaTime.iso(day: LocalDay.of(st)) + " " + LocalDay.hhmm(LocalDay.minute(st))
            } else {
                guard affair.mode.takesApplications else { throw LinliError.invalid("slot_id", "required", "此事项需预约窗口办理，请选择时段") }
            }
            let status: ApplicationStatus = i.slotID == nil ? .submitted : .booked
            let row = try await db.query("""
                INSERT INTO affair_applications (affair_id, household_id, path, grid_id, applicant_user_id, applicant_name, kind, slot_id, status,
                                                 note_cipher, client_key, submitted_at)
                VALUES (\(affairID), \(h.id), \(h.path), \(h.gridID), \(actor.userID), \(actor.signature), \(i.slotID == nil ? "online" : "appointment"),
                        \(i.slotID), \(status.rawValue), \(note.isEmpty ? nil : try cipher.seal(note)), \(key), \(now)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await savePapers(db, papers, application: id, now: now)
            try await event(db, id, step: i.slotID == nil ? "apply" : "book", status: status, note: slotText ?? "", actor: actor, staff: false)
            try await audit.append(db, actor: actor, action: "affair.apply", objectType: "affair_application", objectID: id, path: h.path, detail: affair.name)
            // Applied for a household by someone outside it (a grid worker, the counter): its people are told.
            let ownHousehold = actor.grants.contains { $0.role == .resident && $0.householdID == h.id }
            try await notifier.tell(db, ownHousehold ? [] : try await householdAccounts(db, h.id), except: actor.userID, at: now) {
                OutgoingNotification(userID: $0, kind: i.slotID == nil ? "affair_applied_for" : "affair_booked_for", requestID: nil, subject: affair.name,
                                     link: "/affair-applications/\(id)")
            }
            return (id, true)
        }
        return (try await application(id, actor: actor), created)
    }

    /// A resident at the counter without a booking: a numbered ticket, waiting to be called.
    public func walkIn(_ affairID: Int64, _ i: ApplyInput, actor: Actor) async throws -> ApplicationView {
        let now = env.nowSeconds
        // Someone with no household on the register gives a name (and a phone) instead of a code.
        let visitorName = Self.trimmed(i.visitorName), visitorPhone = Self.trimmed(i.visitorPhone)
        let visitor = i.householdID == nil && Self.trimmed(i.householdCode).isEmpty && !(visitorName.isEmpty && visitorPhone.isEmpty)
        if visitor {
            var v = Validator()
            // One line: the sealed record is "name\nphone".
            v.check(!visitorName.isEmpty && visitorName.count <= 40 && !visitorName.contains(where: \.isNewline), "visitor_name", "required", "请填写来访人姓名（一行，40 字以内）")
            v.check(visitorPhone.isEmpty || (visitorPhone.count <= 20 && visitorPhone.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "-" || $0 == " ") }),
                    "visitor_phone", "invalid", "联系电话只能有数字")
            try v.throwIfAny()
        }
        let id: Int64 = try await store.transaction { db in
            let (affair, path) = try await fetchAffair(db, affairID, actor)
            try actor.require(.affairHandle, on: ObjectScope(path: path))
            guard affair.mode.takesBookings else { throw LinliError.invalid("mode", "online_only", "此事项只在线申请") }
            // A visitor's ticket sits at the service's own place, with no household (0) and no grid.
            let h = visitor ? HouseholdFacts(id: 0, communityID: 0, gridID: 0, microGridID: 0, path: path, address: "", situations: [])
                : try await household(db, i, actor)
            guard h.path.hasPrefix(path) else { throw LinliError.invalid("household_code", "outside", "这一户不在此事项的服务范围内") }
            let day = LocalDay.of(now)
            let n = try await db.query("""
                INSERT INTO affair_tickets (affair_id, day, last) VALUES (\(affairID), \(day), 1)
                ON CONFLICT (affair_id, day) DO UPDATE SET last = affair_tickets.last + 1 RETURNING last
                """).first()!.decode(column: "last", as: Int.self)
            let ticket = String(affairID) + "-" + ChinaTime.pad(Int64(n), 3)
            let row = try await db.query("""
                INSERT INTO affair_applications (affair_id, household_id, path, grid_id, applicant_user_id, applicant_name, kind, ticket, status,
                                                 submitted_at, arrived_at, visitor_cipher)
                VALUES (\(affairID), \(h.id), \(h.path), \(h.gridID), \(actor.userID), \(actor.signature), 'walk_in', \(ticket), 'waiting', \(now), \(now),
                        \(visitor ? try cipher.seal(visitorName + "\n" + visitorPhone) : nil)) RETURNING id
                """).first()
            let id = try row!.decode(column: "id", as: Int64.self)
            try await event(db, id, step: "walk_in", status: .waiting, note: ticket, actor: actor, staff: true)
            try await audit.append(db, actor: actor, action: "affair.walk_in", objectType: "affair_application", objectID: id, path: h.path, detail: ticket)
            return id
        }
        return try await application(id, actor: actor)
    }

    /// A line of the application's history; its note is sealed (it may name someone's papers).
    func event(_ db: any SQLDatabase, _ id: Int64, step: String, status: ApplicationStatus, note: String, actor: Actor, staff: Bool) async throws {
        try await db.query("""
            INSERT INTO affair_events (application_id, at, step, status, note, by_name, by_staff)
            VALUES (\(id), \(env.nowSeconds), \(step), \(status.rawValue), \(note.isEmpty ? "" : try cipher.seal(note)), \(actor.signature), \(staff ? 1 : 0))
            """).run()
    }

    // MARK: Steps

    struct AppRow {
        var id: Int64, affairID: Int64, affairName: String, householdID: Int64, path: String, gridID: Int64
        var applicantUserID: Int64, applicant: String, kind: String, slotID: Int64?, ticket: String?, status: ApplicationStatus
        var returns: Int, noteCipher: String?, submittedAt: Int64, arrivedAt: Int64?, slotStart: Int64?
        /// A visitor's ticket (no household: 0) is the office's alone: no household or grid covers it.
        var scope: ObjectScope { householdID == 0 ? ObjectScope(path: path) : ObjectScope(path: path, gridIDs: [gridID], householdID: householdID) }
    }

    func fetchApplication(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (AppRow, staff: Bool) {
        guard let r = try await db.query("""
            SELECT x.*, a.name AS affair_name, s.starts_at AS slot_start FROM affair_applications x JOIN affairs a ON a.id = x.affair_id
            LEFT JOIN affair_slots s ON s.id = x.slot_id WHERE x.id = \(id)
            """).first() else { throw LinliError.notFound }
        let row = AppRow(id: id, affairID: try r.decode(column: "affair_id", as: Int64.self), affairName: try r.decode(column: "affair_name", as: String.self),
                         householdID: try r.decode(column: "household_id", as: Int64.self), path: try r.decode(column: "path", as: String.self),
                         gridID: try r.decode(column: "grid_id", as: Int64.self), applicantUserID: try r.decode(column: "applicant_user_id", as: Int64.self),
                         applicant: try r.decode(column: "applicant_name", as: String.self), kind: try r.decode(column: "kind", as: String.self),
                         slotID: try r.decode(column: "slot_id", as: Int64?.self), ticket: try r.decode(column: "ticket", as: String?.self),
                         status: ApplicationStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted,
                         returns: try r.decode(column: "returns", as: Int.self), noteCipher: try r.decode(column: "note_cipher", as: String?.self),
                         submittedAt: try r.decode(column: "submitted_at", as: Int64.self), arrivedAt: try r.decode(column: "arrived_at", as: Int64?.self),
                         slotStart: try r.decode(column: "slot_start", as: Int64?.self))
        let staff = actor.may(.affairHandle, on: row.scope)
        // The household's own people, and whoever applied for them (a grid worker), see it too.
        guard staff || actor.may(.affairApply, on: row.scope) || row.applicantUserID == actor.userID else { throw LinliError.notFound }
        return (row, staff)
    }

    /// The accounts of a household's residents.
    func householdAccounts(_ db: any SQLDatabase, _ household: Int64) async throws -> [Int64] {
        try await AccountService.residentUsers(db, households: [household]).map(\.user)
    }

    /// Takes a step on an application: staff accept, send papers back (counted), take an arrival,
    /// call, finish, refuse or mark a no-show; the applicant resubmits (with more papers) or cancels.
    public func step(_ id: Int64, _ step: ApplicationStep, _ i: AffairStepInput, papers photos: [[UInt8]] = [], actor: Actor) async throws -> ApplicationView {
        let note = Self.trimmed(i.note)
        var v = Validator()
        v.check(note.count <= AffairLimits.noteMax, "note", "too_long", "说明不超过 1000 字")
        if step.needsNote { v.check(!note.isEmpty, "note", "required", step == .returnPapers ? "请写明还缺哪些材料" : "请写明不予办理的原因") }
        try v.throwIfAny()
        if !photos.isEmpty { _ = try await store.read { db in try await fetchApplication(db, id, actor).0.id } }
        let papers = try Self.preparedPapers(photos)
        let now = env.nowSeconds
        try await store.transaction { db in
            let (a, staff) = try await fetchApplication(db, id, actor)
            if step.byApplicant {
                guard a.applicantUserID == actor.userID || actor.may(.affairApply, on: a.scope) else { throw LinliError.notFound }
            } else {
                guard staff else { throw a.applicantUserID == actor.userID || actor.may(.affairApply, on: a.scope) ? LinliError.forbidden : LinliError.notFound }
            }
            guard let next = AffairRules.next(a.status, step) else {
                throw LinliError.conflict(nil, "wrong_state", "申请当前状态下不能进行此操作")
            }
            if step == .noShow, let start = a.slotStart, start > now { throw LinliError.conflict(nil, "not_yet", "预约时间还没到") }
            var set: BoundSQL = "status = \(next.rawValue)"
            switch step {
            case .returnPapers: set = "\(set), returns = returns + 1"
            case .arrive: set = "\(set), arrived_at = \(now)"
            case .call: set = "\(set), called_at = \(now)"
            case .accept: set = "\(set), called_at = COALESCE(called_at, \(now))"
            case .done, .refuse: set = "\(set), decided_at = \(now)"
            default: break
            }
            // The step applies only to the status it was chosen from: a second click changes nothing.
            guard try await db.query("UPDATE affair_applications SET \(set) WHERE id = \(id) AND status = \(a.status.rawValue) RETURNING id").first() != nil else {
                throw LinliError.conflict(nil, "wrong_state", "申请当前状态下不能进行此操作")
            }
            if step == .cancel, a.status == .booked, let slot = a.slotID {
                try await db.query("UPDATE affair_slots SET booked = booked - 1 WHERE id = \(slot) AND booked > 0").run()
            }
            try await savePapers(db, papers, application: id, now: now)
            try await event(db, id, step: step.rawValue, status: next, note: note, actor: actor, staff: !step.byApplicant)
            // The note stays with the application (it may name a person's papers), not in the audit log.
            try await audit.append(db, actor: actor, action: "affair." + step.rawValue, objectType: "affair_application", objectID: id, path: a.path)
            let tell: String? = switch step {
            case .returnPapers: "affair_returned"
            case .done: "affair_done"
            case .refuse: "affair_refused"
            default: nil
            }
            if let kind = tell {
                // The applicant, and the household's own people when someone from outside it (a
                // grid worker, the counter) applied for them; one member's own application stays theirs.
                let family = try await householdAccounts(db, a.householdID)
                let told = family.contains(a.applicantUserID) ? [a.applicantUserID] : Array(Set([a.applicantUserID] + family)).sorted()
                try await notifier.tell(db, told, except: actor.userID, at: now) {
                    OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: a.affairName, link: "/affair-applications/\(id)")
                }
            }
        }
        return try await application(id, actor: actor)
    }

    // MARK: Reading

    public func application(_ id: Int64, actor: Actor) async throws -> ApplicationView {
        try await store.read { db in
            let (a, staff) = try await fetchApplication(db, id, actor)
            let events = try await db.query("SELECT at, step, status, note, by_name FROM affair_events WHERE application_id = \(id) ORDER BY id").all().map { r in
                AffairEventView(at: LocalTime.text(try r.decode(column: "at", as: Int64.self)), step: try r.decode(column: "step", as: String.self),
                                status: ApplicationStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted,
                                note: try { let n = try r.decode(column: "note", as: String.self); return n.isEmpty ? "" : try cipher.open(n) }(),
                                by: try r.decode(column: "by_name", as: String.self))
            }
            let papers = try await db.query("SELECT id FROM affair_papers WHERE application_id = \(id) ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) }
            var address = try await registry.fetchHousehold(db, id: a.householdID)?.address ?? ""
            // A visitor with no household: the office reads who came (sealed at rest).
            if a.householdID == 0, staff, let sealed = try await db.query("SELECT visitor_cipher FROM affair_applications WHERE id = \(id)").first()?
                .decode(column: "visitor_cipher", as: String?.self) {
                let parts = try cipher.open(sealed).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                // A mobile number masked as everywhere on screen; a landline's last digits only.
                let phone = parts.count > 1 ? PhoneNumber.normalise(parts[1]) : ""
                let shown = phone.isEmpty ? "" : (phone.count == 11 ? PhoneNumber.masked(phone) : "****" + phone.suffix(4))
                address = "来访：" + parts[0] + (shown.isEmpty ? "" : " · " + shown)
            }
            let mine = a.applicantUserID == actor.userID || actor.may(.affairApply, on: a.scope)
            return ApplicationView(id: id, affairID: a.affairID, affairName: a.affairName, householdID: a.householdID, address: address,
                                   applicant: a.applicant, kind: a.kind, status: a.status, ticket: a.ticket,
                                   slot: a.slotStart.map { ChinaTime.iso(day: LocalDay.of($0)) + " " + LocalDay.hhmm(LocalDay.minute($0)) },
                                   returns: a.returns, note: try a.noteCipher.map { try cipher.open($0) } ?? "",
                                   submittedAt: LocalTime.text(a.submittedAt), events: events, papers: papers,
                                   steps: (staff ? AffairRules.steps(a.status, staff: true) : []) + (mine ? AffairRules.steps(a.status, staff: false) : []))
        }
    }

    /// A photo of a paper, opened for someone who may see the application; staff looking at a
    /// resident's papers is recorded.
    public func paper(_ id: Int64, actor: Actor) async throws -> [UInt8] {
        let name = try await store.transaction { db in
            guard let r = try await db.query("SELECT application_id, stored_name FROM affair_papers WHERE id = \(id)").first() else { throw LinliError.notFound }
            let (a, _) = try await fetchApplication(db, try r.decode(column: "application_id", as: Int64.self), actor)
            // The household's own people and whoever applied for them look at their own papers;
            // anyone else (the office) leaves a line in the audit log.
            let own = a.applicantUserID == actor.userID || actor.grants.contains { $0.role == .resident && $0.householdID == a.householdID }
            if !own {
                try await audit.append(db, actor: actor, action: "affair.paper_view", objectType: "affair_application", objectID: a.id, path: a.path, detail: String(id))
            }
            return try r.decode(column: "stored_name", as: String.self)
        }
        return try SealedPhotos(directory: paperDirectory, cipher: cipher, env: env).read(name)
    }

    static let lineColumns = """
        SELECT x.id, x.affair_id, x.status, x.ticket, x.returns, x.applicant_name, x.submitted_at, x.arrived_at, x.household_id, a.name AS affair_name,
               s.starts_at AS slot_start, COALESCE(h.address, '') AS address
        FROM affair_applications x JOIN affairs a ON a.id = x.affair_id LEFT JOIN households h ON h.id = x.household_id
        LEFT JOIN affair_slots s ON s.id = x.slot_id
        """

    static func line(_ r: any SQLRow) throws -> ApplicationLine {
        let slot = try r.decode(column: "slot_start", as: Int64?.self)
        let since = try r.decode(column: "arrived_at", as: Int64?.self) ?? r.decode(column: "submitted_at", as: Int64.self)
        return ApplicationLine(id: try r.decode(column: "id", as: Int64.self), affairID: try r.decode(column: "affair_id", as: Int64.self), affairName: try r.decode(column: "affair_name", as: String.self),
                               // A visitor with no household (0): named on the application's own page, not in lists.
                               address: try r.decode(column: "household_id", as: Int64.self) == 0 ? "来访者（未登记住户）" : try r.decode(column: "address", as: String.self),
                               applicant: try r.decode(column: "applicant_name", as: String.self),
                               status: ApplicationStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted,
                               ticket: try r.decode(column: "ticket", as: String?.self),
                               slot: slot.map { ChinaTime.iso(day: LocalDay.of($0)) + " " + LocalDay.hhmm(LocalDay.minute($0)) },
                               returns: try r.decode(column: "returns", as: Int.self), since: LocalTime.text(since))
    }

    /// The applications of the actor's own household (or that they made for others), newest first.
    public func mine(actor: Actor) async throws -> [ApplicationLine] {
        let households = actor.grants.filter { $0.role == .resident }.compactMap(\.householdID)
        return try await store.read { db in
            let own: BoundSQL = households.isEmpty ? "x.applicant_user_id = \(actor.userID)"
                : "(x.applicant_user_id = \(actor.userID) OR x.household_id IN (\(list: households)))"
            return try await db.query("\(unsafeRaw: Self.lineColumns) WHERE \(own) ORDER BY x.id DESC LIMIT 50").all().map(Self.line)
        }
    }

    /// The desk: what is waiting on the office in the actor's places.
    public func desk(actor: Actor) async throws -> AffairDesk {
        let grants = actor.grants(for: .affairHandle)
        guard !grants.isEmpty else { throw LinliError.forbidden }
        let now = env.nowSeconds, today = LocalDay.of(now)
        let dayStart = LocalDay.start(today), dayEnd = LocalDay.start(today + 1)
        return try await store.read { db in
            let paths = grants.map { BoundSQL("x.path LIKE \($0.placePath + "%")") }
            let scope = paths.dropFirst().reduce(paths[0]) { "\($0) OR \($1)" }
            func list(_ condition: BoundSQL, order: String) async throws -> [ApplicationLine] {
                try await db.query("\(unsafeRaw: Self.lineColumns) WHERE (\(scope)) AND \(condition) ORDER BY \(unsafeRaw: order) LIMIT 200").all().map(Self.line)
            }
            return AffairDesk(waiting: try await list("x.status = 'waiting'", order: "x.arrived_at, x.id"),
                              bookedToday: try await list("x.status = 'booked' AND s.starts_at >= \(now) AND s.starts_at < \(dayEnd)", order: "s.starts_at, x.id"),
                              missed: try await list("x.status = 'booked' AND s.starts_at < \(now) AND s.starts_at >= \(dayStart - 7 * 86400)", order: "s.starts_at, x.id"),
                              toReview: try await list("x.status = 'submitted'", order: "x.submitted_at, x.id"),
                              handling: try await list("x.status = 'handling'", order: "x.id"),
                              returned: try await list("x.status = 'returned'", order: "x.id"))
        }
    }

    /// Each service's measures over applications made from `from` to `to` (days) under a place.
    public func measures(placeID: Int64, from: Int64, to: Int64, actor: Actor) async throws -> [AffairMeasureView] {
        try await store.read { db in
            guard let place = try await registry.fetchPlace(db, placeID), actor.may(.affairHandle, on: place.scope) else { throw LinliError.notFound }
            let rows = try await db.query("""
                SELECT x.affair_id, x.status, x.returns, x.submitted_at, x.arrived_at, x.called_at, x.decided_at FROM affair_applications x
                WHERE x.path LIKE \(place.path + "%") AND x.submitted_at >= \(LocalDay.start(from)) AND x.submitted_at < \(LocalDay.start(to + 1))
                """).all()
            let finished = try rows.map { r -> AffairRules.Finished in
                let arrived = try r.decode(column: "arrived_at", as: Int64?.self), called = try r.decode(column: "called_at", as: Int64?.self)
                let decided = try r.decode(column: "decided_at", as: Int64?.self), submitted = try r.decode(column: "submitted_at", as: Int64.self)
                return AffairRules.Finished(affairID: try r.decode(column: "affair_id", as: Int64.self),
                                            status: ApplicationStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .submitted,
                                            returns: try r.decode(column: "returns", as: Int.self),
                                            waited: arrived.flatMap { a in called.map { $0 - a } },
                                            handled: decided.map { $0 - (arrived ?? submitted) })
            }
            let names = Dictionary(uniqueKeysWithValues: try await db.query("SELECT id, name FROM affairs WHERE path LIKE \(place.path + "%") OR \(place.path) LIKE path || '%'").all().map {
                (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "name", as: String.self))
            })
            return AffairRules.measures(finished).map { m in
                AffairMeasureView(affairID: m.affairID, name: names[m.affairID] ?? "#\(m.affairID)", finished: m.finished,
                                  returnsPerApplication: (m.returnsPerApplication * 100).rounded() / 100, onceOnlyPercent: Int((m.onceOnly * 100).rounded()),
                                  noShows: m.noShows, medianWaitMinutes: m.medianWaitMinutes, medianHandlingHours: m.medianHandlingHours)
            }
        }
    }
}
