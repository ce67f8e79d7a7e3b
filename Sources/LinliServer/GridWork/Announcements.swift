import Foundation
import SQLKit
import LinliCore
import LinliStore

public struct AnnouncementInput: Codable, Sendable {
    public var communityID: Int64?
    public var title: String?
    public var body: String?
    public var audienceKind: String?
    public var placeIDs: [Int64]?
    public var gridIDs: [Int64]?
    public var tag: String?
    public var needsAck: Bool?

    public init() {}
    enum CodingKeys: String, CodingKey {
        case communityID = "community_id", title, body, audienceKind = "audience_kind", placeIDs = "place_ids", gridIDs = "grid_ids", tag
        case needsAck = "needs_ack"
    }
}

/// An announcement as its reader sees it. Staff also get the audience and the counts; a
/// resident never learns who else it went to or why it reached them.
public struct AnnouncementView: Codable, Sendable, Equatable {
    public var id: Int64
    public var communityID: Int64
    public var communityName: String
    public var title: String
    public var body: String
    public var needsAck: Bool
    public var from: String
    public var at: String
    /// For staff only.
    public var audience: String?
    public var households: Int?
    public var read: Int?
    public var acknowledged: Int?
    /// For a resident: whether their household has read and acknowledged it.
    public var readByMe: Bool?
    public var acknowledgedByMe: Bool?
    /// For staff: reminder rounds sent to the households that have not acknowledged.
    public var reminders: Int?

    enum CodingKeys: String, CodingKey {
        case id, communityID = "community_id", communityName = "community_name", title, body, needsAck = "needs_ack", from, at, audience, households, read, acknowledged
        case readByMe = "read_by_me", acknowledgedByMe = "acknowledged_by_me", reminders
    }
}

/// A household of the grid that has not read an announcement two days on: to visit or call.
public struct UnreadNotice: Codable, Sendable, Equatable {
    public var announcementID: Int64
    public var title: String
    public var householdID: Int64
    public var address: String
    public var sentOn: String
    enum CodingKeys: String, CodingKey { case announcementID = "announcement_id", title, householdID = "household_id", address, sentOn = "sent_on" }
}

extension GridWorkService {
    static let titleMax = 60, bodyMax = 2000
    /// Unread this long, a household goes on its grid worker's list.
    static let unreadAfter: Int64 = 2 * 86400
    /// Announcements older than this no longer ask anyone to go round.
    static let unreadWindow: Int64 = 30 * 86400

    /// Sends an announcement to its audience's households: one row per household (its read and
    /// acknowledgement), an inbox message for every account linked to one, the audit row; one
    /// transaction. An audience with no household is refused, naming why.
    public func announce(_ input: AnnouncementInput, actor: Actor) async throws -> AnnouncementView {
        try actor.require(.announcementSend)
        var v = Validator()
        let title = (input.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let body = (input.body ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!title.isEmpty, "title", "required", "请填写通知标题")
        v.check(title.count <= Self.titleMax, "title", "too_long", "标题不能超过 \(Self.titleMax) 个字")
        v.check(!body.isEmpty, "body", "required", "请填写通知内容")
        v.check(body.count <= Self.bodyMax, "body", "too_long", "内容不能超过 \(Self.bodyMax) 个字")
        let kind = AudienceKind(rawValue: input.audienceKind ?? "")
        v.check(kind != nil, "audience_kind", "invalid_choice", "请选择发送范围：全社区、小区楼栋、网格或居民标签")
        v.check(input.communityID != nil, "community_id", "required", "请选择社区")
        v.check((input.placeIDs?.count ?? 0) <= 500 && (input.gridIDs?.count ?? 0) <= 500, "audience_kind", "too_many", "所选范围过多")
        try v.throwIfAny()
        let now = env.nowSeconds
        let ids = kind == .places ? input.placeIDs ?? [] : (kind == .grids ? input.gridIDs ?? [] : [])
        let audience = kind == .tag ? (input.tag ?? "") : ids.map(String.init).joined(separator: ",")
        let id = try await store.transaction { db -> Int64 in
            let (c, onlyGrids) = try await sendingScope(db, input.communityID!, actor: actor)
            if let onlyGrids, kind != .grids || ids.isEmpty || !Set(ids).isSubset(of: onlyGrids) {
                throw LinliError.invalid("audience_kind", "own_grid_only", "网格员只能向自己负责的网格发送通知")
            }
            let households = try await registry.audienceHouseholds(db, community: c, kind: kind!, ids: ids, tag: input.tag)
            guard !households.isEmpty else {
                throw LinliError.invalid("audience_kind", "no_households", "所选范围内没有住户，通知没有发出")
            }
            let id = try await db.query("""
                INSERT INTO announcements (community_id, community_name, path, title, body, audience_kind, audience, needs_ack, households, user_id, author_name,
                                           created_at, next_reminder_at)
                VALUES (\(c.id), \(c.name), \(c.path), \(title), \(body), \(kind!.rawValue), \(audience), \(input.needsAck == true ? 1 : 0), \(households.count),
                        \(actor.userID), \(actor.signature), \(now), \(input.needsAck == true ? AckReminders.next(round: 0, now: now) : nil))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.insertRows("INSERT INTO announcement_households (announcement_id, household_id, grid_id, micro_grid_id) VALUES ",
                                    households, chunk: 1000) { h in "(\(id), \(h.id), \(h.gridID), \(h.microGridID))" }
            // Households with someone who agreed to notices by SMS: a reply code each, sent by the
            // housekeeping job (never from inside this transaction).
            for h in try await registry.smsPhones(db, households: households.map(\.id)).keys.sorted() {
                try await db.query("""
                    UPDATE announcement_households SET reply_code = \(Self.replyCode(env.token(bytes: 8))), sms_state = 'due'
                    WHERE announcement_id = \(id) AND household_id = \(h)
                    """).run()
            }
            let users = try await AccountService.residentUsers(db, households: households.map(\.id))
            try await notifier.deliver(db, users.map { OutgoingNotification(userID: $0.user, kind: "announcement", subject: title, link: "/announcements/\(id)") }, at: now)
            try await audit.append(db, actor: actor, action: "announcement.send", objectType: "announcement", objectID: id, path: c.path,
                                   detail: "\(kind!.rawValue) \(audience): \(households.count) households, \(users.count) accounts")
            return id
        }
        return try await announcement(id, actor: actor, markRead: false)
    }

    /// Where the actor sends in a community: to any of it (its staff; nil), or only to the grids
    /// they work (a grid worker, to the households they know); missing to anyone else.
    func sendingScope(_ db: any SQLDatabase, _ community: Int64, actor: Actor) async throws -> (RegistryService.PlaceRow, Set<Int64>?) {
        guard let c = try await registry.fetchPlace(db, community), c.kind.isCommunity else { throw LinliError.notFound }
        if actor.may(.announcementSend, on: c.scope) { return (c, nil) }
        let own = Self.ownGrids(actor, community: c.id)
        guard !own.isEmpty else { throw LinliError.notFound }
        // Their grid and its micro-grids (or the micro-grid they were given).
        let under = try await registry.gridsOf(db, community: c.id).filter { $0.parentID.map(own.contains) ?? false }.map(\.id)
        return (c, own.union(under))
    }

    /// The grids a grid worker sends to in a community.
    static func ownGrids(_ actor: Actor, community: Int64) -> Set<Int64> {
        Set(actor.grants(for: .announcementSend).filter { $0.role == .gridWorker && $0.placeID == community }.compactMap(\.gridID))
    }

    static let announcementColumns = """
        SELECT a.id, a.community_id, a.community_name, a.path, a.title, a.body, a.audience_kind, a.audience, a.needs_ack, a.households, a.author_name, a.created_at,
               a.read_count, a.ack_count, a.user_id, a.reminder_rounds
        FROM announcements a
        """

    func announcementView(_ r: any SQLRow, staff: Bool) throws -> AnnouncementView {
        var v = AnnouncementView(id: try r.decode(column: "id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                                 communityName: try r.decode(column: "community_name", as: String.self),
                                 title: try r.decode(column: "title", as: String.self), body: try r.decode(column: "body", as: String.self),
                                 needsAck: try r.decode(column: "needs_ack", as: Int.self) != 0, from: try r.decode(column: "author_name", as: String.self),
                                 at: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)))
        if staff {
            v.audience = try r.decode(column: "audience_kind", as: String.self) + ":" + r.decode(column: "audience", as: String.self)
            v.households = try r.decode(column: "households", as: Int.self)
            v.read = try r.decode(column: "read_count", as: Int.self)
            v.acknowledged = try r.decode(column: "ack_count", as: Int.self)
            v.reminders = try r.decode(column: "reminder_rounds", as: Int.self)
        }
        return v
    }

    /// The resident's household among an announcement's, if the actor reads as a resident.
    static func ownHousehold(_ actor: Actor) -> Int64? {
        actor.grants.first { $0.role == .resident }?.householdID
    }

    /// One announcement. Staff of its community see the counts; a resident whose household it
    /// reached sees it, and the first look marks the household's copy read; anyone else, 404.
    public func announcement(_ id: Int64, actor: Actor, markRead: Bool = true) async throws -> AnnouncementView {
        let now = env.nowSeconds
        let household = Self.ownHousehold(actor)
        let grids = actor.grants(for: .visitLog).compactMap(\.gridID)
        // One read: the announcement, the reader's household's copy, and whether it went to a
        // household of the reader's grids.
        let (row, staff, mine, toMyGrid) = try await store.read { db -> ((any SQLRow)?, Bool, (any SQLRow)?, Bool) in
            guard let r = try await db.query("\(unsafeRaw: Self.announcementColumns) WHERE a.id = \(id)").first() else { return (nil, false, nil, false) }
            // Its community's staff, and the grid worker who sent it, follow who has read it.
            let author = try r.decode(column: "user_id", as: Int64.self)
            let staff = actor.may(.announcementSend, on: ObjectScope(path: try r.decode(column: "path", as: String.self)))
                || (actor.may(.announcementSend) && author == actor.userID)
            if staff { return (r, true, nil, false) }
            var mine: (any SQLRow)?
            if let h = household {
                mine = try await db.query("SELECT read_at, acked_at FROM announcement_households WHERE announcement_id = \(id) AND household_id = \(h)").first()
            }
            var toMyGrid = false
            if mine == nil, !grids.isEmpty {
                toMyGrid = try await db.query("""
                    SELECT 1 AS x FROM announcement_households WHERE announcement_id = \(id) AND (grid_id IN (\(list: grids)) OR micro_grid_id IN (\(list: grids)))
                    """).first() != nil
            }
            return (r, false, mine, toMyGrid)
        }
        guard let row else { throw LinliError.notFound }
        if staff { return try announcementView(row, staff: true) }
        var view = try announcementView(row, staff: false)
        guard let household, let mine else {
            // A grid worker reads what went to the households of their grid: they are the ones who
            // tell those who have not read it. Their own household's copy, if any, comes first.
            guard toMyGrid else { throw LinliError.notFound }
            return view
        }
        var read = try mine.decode(column: "read_at", as: Int64?.self) != nil
        if markRead, !read {
            try await store.transaction { db in
                try await mark(db, id, household, read: now, ack: nil, how: "app")
            }
            read = true
        }
        view.readByMe = read
        view.acknowledgedByMe = try mine.decode(column: "acked_at", as: Int64?.self) != nil
        return view
    }

    /// Marks a household's copy read (and acknowledged), moving the announcement's counts only
    /// for what changed: two members of one household opening it at once count once.
    func mark(_ db: any SQLDatabase, _ id: Int64, _ household: Int64, read: Int64, ack: Int64?, how: String) async throws {
        let newlyRead = try await db.query("""
            UPDATE announcement_households SET read_at = \(read), read_how = \(how)
            WHERE announcement_id = \(id) AND household_id = \(household) AND read_at IS NULL RETURNING household_id
            """).all().count
        var newlyAcked = 0
        if let ack {
            newlyAcked = try await db.query("""
                UPDATE announcement_households SET acked_at = \(ack)
                WHERE announcement_id = \(id) AND household_id = \(household) AND acked_at IS NULL RETURNING household_id
                """).all().count
        }
        if newlyRead + newlyAcked > 0 {
            try await db.query("UPDATE announcements SET read_count = read_count + \(newlyRead), ack_count = ack_count + \(newlyAcked) WHERE id = \(id)").run()
        }
    }

    /// A resident acknowledges (e.g. "I know the water is off on Tuesday"); once, later taps change nothing.
    public func acknowledge(_ id: Int64, actor: Actor) async throws -> AnnouncementView {
        guard let household = Self.ownHousehold(actor) else { throw LinliError.notFound }
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let a = try await db.query("SELECT needs_ack, path FROM announcements WHERE id = \(id)").first(),
                  try await db.query("SELECT household_id FROM announcement_households WHERE announcement_id = \(id) AND household_id = \(household)").first() != nil
            else { throw LinliError.notFound }
            guard try a.decode(column: "needs_ack", as: Int.self) != 0 else {
                throw LinliError.conflict(nil, "no_ack_needed", "这条通知不需要回执")
            }
            try await mark(db, id, household, read: now, ack: now, how: "app")
            try await audit.append(db, actor: actor, action: "announcement.ack", objectType: "announcement", objectID: id,
                                   path: try a.decode(column: "path", as: String.self))
        }
        return try await announcement(id, actor: actor, markRead: false)
    }

    /// Announcements for the actor: a resident's household's, newest first; staff's, of a community.
    public func announcements(community: Int64?, actor: Actor, limit: Int = 50) async throws -> [AnnouncementView] {
        if let community {
            return try await store.read { db in
                // A grid worker's list is what they sent themselves.
                let (_, onlyGrids) = try await sendingScope(db, community, actor: actor)
                let mine: BoundSQL = onlyGrids == nil ? "" : " AND a.user_id = \(actor.userID)"
                return try await db.query("\(unsafeRaw: Self.announcementColumns) WHERE a.community_id = \(community)\(mine) ORDER BY a.id DESC LIMIT \(unsafeRaw: String(limit))")
                    .all().map { try announcementView($0, staff: true) }
            }
        }
        guard let household = Self.ownHousehold(actor) else { return [] }
        return try await store.read { db in
            try await db.query("""
                SELECT a.id, a.community_id, a.community_name, a.title, a.body, a.needs_ack, a.author_name, a.created_at, x.read_at, x.acked_at
                FROM announcement_households x JOIN announcements a ON a.id = x.announcement_id
                WHERE x.household_id = \(household) ORDER BY a.id DESC LIMIT \(unsafeRaw: String(limit))
                """).all().map { r in
                var v = try announcementView(r, staff: false)
                v.readByMe = try r.decode(column: "read_at", as: Int64?.self) != nil
                v.acknowledgedByMe = try r.decode(column: "acked_at", as: Int64?.self) != nil
                return v
            }
        }
    }

    /// Households of the actor's grids (or the grid asked for) that have not read an announcement
    /// of the last 30 days two days after it went out, or not acknowledged one that asks for it:
    /// the elderly without phones are reached this way.
    public func unreadNotices(gridID: Int64?, actor: Actor, limit: Int = 200) async throws -> [UnreadNotice] {
        try await unreadNotices(grids: try await syncedGrids(gridID, actor: actor), limit: limit)
    }

    /// The same for grids already checked and synced (the due list's: the visits page shows both).
    func unreadNotices(grids: [Int64], limit: Int = 200) async throws -> [UnreadNotice] {
        try await store.read { db in try await unreadNotices(db, grids: grids, limit: limit) }
    }

    func unreadNotices(_ db: any SQLDatabase, grids: [Int64], limit: Int = 200) async throws -> [UnreadNotice] {
        let now = env.nowSeconds
        return try await db.query("""
                SELECT x.announcement_id, a.title, a.created_at, x.household_id, COALESCE(d.address, '') AS address
                FROM announcement_households x JOIN announcements a ON a.id = x.announcement_id
                LEFT JOIN visit_due d ON d.household_id = x.household_id
                WHERE (x.grid_id IN (\(list: grids)) OR x.micro_grid_id IN (\(list: grids)))
                  AND (x.read_at IS NULL OR (a.needs_ack = 1 AND x.acked_at IS NULL))
                  AND a.created_at < \(now - Self.unreadAfter) AND a.created_at > \(now - Self.unreadWindow)
                ORDER BY a.id, x.household_id LIMIT \(unsafeRaw: String(limit))
                """).all().map { r in
                UnreadNotice(announcementID: try r.decode(column: "announcement_id", as: Int64.self), title: try r.decode(column: "title", as: String.self),
                             householdID: try r.decode(column: "household_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                             sentOn: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "created_at", as: Int64.self))))
            }
    }

    /// The grid worker told the household in person (or by phone): read, and acknowledged if asked.
    public func toldInPerson(_ id: Int64, household: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let f = try await registry.householdFacts(db, ids: [household]).first else { throw LinliError.notFound }
            try actor.require(.visitLog, on: f.scope)
            guard try await db.query("SELECT household_id FROM announcement_households WHERE announcement_id = \(id) AND household_id = \(household)").first() != nil,
                  let a = try await db.query("SELECT needs_ack FROM announcements WHERE id = \(id)").first() else {
                throw LinliError.notFound
            }
            try await mark(db, id, household, read: now, ack: try a.decode(column: "needs_ack", as: Int.self) != 0 ? now : nil, how: "told")
            try await audit.append(db, actor: actor, action: "announcement.told", objectType: "announcement", objectID: id, path: f.path, detail: "household \(household)")
        }
    }

    /// Reminds the households that have not acknowledged an announcement asking for it: a round
    /// when one is due (a day after it went out, then daily, three rounds at most), to the
    /// accounts of each household still owing, in their inbox. Each round is claimed by moving
    /// the announcement's next reminder on in the same statement, so several servers running
    /// this at once send it once. Households without an account are on their grid worker's
    /// unread list meanwhile. Returns the messages sent.
    public func remindUnacknowledged(limit: Int = 20) async throws -> Int {
        let now = env.nowSeconds
        let due = try await store.read { db in
            try await db.query("""
                SELECT id FROM announcements WHERE next_reminder_at IS NOT NULL AND next_reminder_at <= \(now) ORDER BY next_reminder_at LIMIT \(unsafeRaw: String(limit))
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        var sent = 0
        for id in due {
            sent += try await store.transaction { db -> Int in
                guard let a = try await db.query("""
                    UPDATE announcements SET reminder_rounds = reminder_rounds + 1,
                        next_reminder_at = CASE WHEN reminder_rounds + 1 >= \(AckReminders.rounds) THEN NULL ELSE \(now + AckReminders.gap) END
                    WHERE id = \(id) AND next_reminder_at IS NOT NULL AND next_reminder_at <= \(now)
                    RETURNING title, reminder_rounds
                    """).first() else { return 0 }
                let owing = try await db.query("SELECT household_id FROM announcement_households WHERE announcement_id = \(id) AND acked_at IS NULL").all()
                    .map { try $0.decode(column: "household_id", as: Int64.self) }
                // Those reached by SMS get the text again.
                try await db.query("""
                    UPDATE announcement_households SET sms_state = 'due', sms_tries = 0
                    WHERE announcement_id = \(id) AND acked_at IS NULL AND sms_state IN ('sent', 'failed')
                    """).run()
                let users = try await AccountService.residentUsers(db, households: owing)
                let subject = AckReminders.subject(title: try a.decode(column: "title", as: String.self), round: try a.decode(column: "reminder_rounds", as: Int.self))
                try await notifier.deliver(db, users.map { OutgoingNotification(userID: $0.user, kind: "announcement_reminder", subject: subject, link: "/announcements/\(id)") }, at: now)
                return users.count
            }
        }
        return sent
    }
}

extension GridWorkService {
    /// Four digits from random text (a reply code need not be secret: it only ever counts from
    /// the phone it was sent to).
    static func replyCode(_ random: String) -> String {
        String(format: "%04d", random.unicodeScalars.reduce(0) { ($0 * 31 + Int($1.value)) % 10000 })
    }

    /// A claim on a household's text older than this is taken again (its sender stopped mid-send).
    static let smsClaimTimeout: Int64 = 600

    /// Sends the notices waiting to go by SMS, a batch at a time: each household's row is
    /// claimed (due → sending) before its texts go, so two servers never send one twice; a
    /// refusal (or a row that cannot be read) puts it back for another try, three at most; a
    /// claim left by a server that stopped mid-send is taken again after ten minutes (its texts
    /// may then arrive twice, rather than never). Returns the texts sent.
    public func sendDueSMS(limit: Int = 50) async throws -> Int {
        let now = env.nowSeconds, stale = now - Self.smsClaimTimeout
        let waiting: BoundSQL = "(x.sms_state = 'due' OR (x.sms_state = 'sending' AND x.sms_claimed_at < \(stale)))"
        let rows = try await store.read { db in
            try await db.query("""
                SELECT x.announcement_id, x.household_id, x.reply_code, a.title FROM announcement_households x JOIN announcements a ON a.id = x.announcement_id
                WHERE \(waiting) ORDER BY x.announcement_id, x.household_id LIMIT \(unsafeRaw: String(limit))
                """).all().map { r in
                (try r.decode(column: "announcement_id", as: Int64.self), try r.decode(column: "household_id", as: Int64.self),
                 try r.decode(column: "reply_code", as: String?.self) ?? "", try r.decode(column: "title", as: String.self))
            }
        }
        var sent = 0
        for (announcement, household, code, title) in rows {
            let claimed = try await store.transaction { db in
                try await db.query("""
                    UPDATE announcement_households AS x SET sms_state = 'sending', sms_tries = sms_tries + 1, sms_claimed_at = \(now)
                    WHERE x.announcement_id = \(announcement) AND x.household_id = \(household) AND \(waiting) RETURNING sms_tries
                    """).first() != nil
            }
            guard claimed else { continue }
            var delivered = true
            do {
                let phones = try await store.read { db in try await registry.smsPhones(db, households: [household])[household] ?? [] }
                for p in phones { try await sms.sendNotice(title: title, code: code, to: p); sent += 1 }
            } catch {
                delivered = false
            }
            let next: BoundSQL = delivered ? "'sent'" : "CASE WHEN sms_tries >= 3 THEN 'failed' ELSE 'due' END"
            try await store.transaction { db in
                try await db.query("""
                    UPDATE announcement_households SET sms_state = \(next) WHERE announcement_id = \(announcement) AND household_id = \(household)
                    """).run()
            }
        }
        return sent
    }

    /// The four-digit codes in a text message: runs of exactly four digits (full-width ones
    /// folded), so "收到 1234" and "１２３４" count and "2026年" or "12345" do not.
    static func replyCodes(_ text: String) -> [String] {
        let folded = String(String.UnicodeScalarView(text.unicodeScalars.map { u in
            (0xFF10...0xFF19).contains(u.value) ? Unicode.Scalar(u.value - 0xFF10 + 0x30)! : u
        }))
        return folded.split(whereSeparator: { !("0"..."9").contains($0) }).filter { $0.count == 4 }.map(String.init)
    }

    /// A text back from a phone: the code of a notice sent to it acknowledges that notice for the
    /// household (the newest still owing, if two share a code); a notice that asked for no
    /// acknowledgement is marked read. The phone must be a resident's who agreed to notices by
    /// SMS. Returns the announcement answered, or nil.
    public func acknowledgeBySMS(phone: String, text: String) async throws -> Int64? {
        try await acknowledgeBySMS([(phone, text)])[0]
    }

    /// A provider's batch of replies in one transaction: a fault part-way keeps none of them, so
    /// the provider's resend of the whole batch cannot answer a second notice of the same
    /// household with a reply already counted.
    public func acknowledgeBySMS(_ replies: [(phone: String, text: String)]) async throws -> [Int64?] {
        guard !replies.isEmpty else { return [] }
        return try await store.transaction { db in
            var out: [Int64?] = []
            for r in replies { out.append(try await acknowledgeBySMS(db, phone: r.phone, text: r.text)) }
            return out
        }
    }

    func acknowledgeBySMS(_ db: any SQLDatabase, phone: String, text: String) async throws -> Int64? {
        let codes = Self.replyCodes(text)
        guard !codes.isEmpty, codes.count <= 5 else { return nil }
        let now = env.nowSeconds
        let households = try await registry.smsHouseholds(db, phone: phone)
        guard !households.isEmpty, let r = try await db.query("""
            SELECT x.announcement_id, x.household_id, a.needs_ack FROM announcement_households x JOIN announcements a ON a.id = x.announcement_id
            WHERE x.household_id IN (\(list: households)) AND x.reply_code IN (\(list: codes))
              AND ((a.needs_ack = 1 AND x.acked_at IS NULL) OR (a.needs_ack = 0 AND x.read_at IS NULL))
            ORDER BY x.announcement_id DESC LIMIT 1
            """).first() else { return nil }
        let id = try r.decode(column: "announcement_id", as: Int64.self)
        let asks = try r.decode(column: "needs_ack", as: Int.self) != 0
        try await mark(db, id, try r.decode(column: "household_id", as: Int64.self), read: now, ack: asks ? now : nil, how: "sms")
        return id
    }
}

/// When an announcement that asks for acknowledgement reminds those who have not given it.
public enum AckReminders {
    /// A day between rounds (the first a day after it went out), three rounds at most.
    public static let gap: Int64 = 86400, rounds = 3

    /// When the round after `round` rounds is due, or nil when none is left.
    public static func next(round: Int, now: Int64) -> Int64? { round >= rounds ? nil : now + gap }

    public static func subject(title: String, round: Int) -> String { "请回执（第 \(round) 次提醒）：\(title)" }
}
