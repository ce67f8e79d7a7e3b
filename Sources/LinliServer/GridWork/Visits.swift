import Foundation
import SQLKit
import LinliCore
import LinliStore
import NIOConcurrencyHelpers

/// A visit as typed at the door (form or JSON). `client_key` makes a retry harmless: a visit
/// kept by a phone without signal and sent twice is stored once.
public struct VisitInput: Codable, Sendable {
    public var householdID: Int64?
    public var householdCode: String?
    public var kind: String?
    public var outcome: String?
    public var note: String?
    public var careGiven: String?
    public var carePaidBy: String?
    public var followUpOn: String?
    public var followResult: String?
    public var referralTo: String?
    /// "Needs help" filed as a request in the same step, in this category.
    public var fileRequest: Bool?
    public var requestCategory: String?
    public var contactName: String?
    public var contactPhone: String?
    /// "Needs help" put in the community's needs pool (什么服务缺了) as well, under a title the
    /// worker writes for everyone to read (never the private note), in a service domain.
    public var postNeed: Bool?
    public var needTitle: String?
    public var needDomain: String?
    /// When it happened (China time, `2026-12-05T10:30`): a visit sent later says when it was typed.
    public var visitedAt: String?
    public var clientKey: String?
    /// Up to three photos, base64 (the phone's form sends them so, and keeps them while offline).
    public var photosBase64: [String]?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case householdID = "household_id", householdCode = "household_code", kind, outcome, note
        case careGiven = "care_given", carePaidBy = "care_paid_by", followUpOn = "follow_up_on", followResult = "follow_result"
        case referralTo = "referral_to", fileRequest = "file_request", requestCategory = "request_category"
        case contactName = "contact_name", contactPhone = "contact_phone", visitedAt = "visited_at", clientKey = "client_key"
        case postNeed = "post_need", needTitle = "need_title", needDomain = "need_domain", photosBase64 = "photos_base64"
    }
}

public struct VisitView: Codable, Sendable, Equatable {
    public var id: Int64
    public var householdID: Int64
    public var address: String
    public var kind: String
    public var outcome: String
    public var note: String
    public var careGiven: String?
    public var carePaidBy: String?
    public var followUpOn: String?
    public var followResult: String?
    public var referralTo: String?
    public var requestID: Int64?
    /// The need this finding put in the community's needs pool.
    public var needID: Int64?
    public var by: String
    public var visitedAt: String
    /// Photo ids (read at `/gridwork-photos/{id}`).
    public var photos: [Int64] = []
    /// The note and photos went under the community's retention rule.
    public var erased: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, householdID = "household_id", address, kind, outcome, note, careGiven = "care_given", carePaidBy = "care_paid_by"
        case followUpOn = "follow_up_on", followResult = "follow_result", referralTo = "referral_to", requestID = "request_id", needID = "need_id"
        case by, visitedAt = "visited_at", photos, erased
    }
}

/// One household on a grid's due list.
public struct DueVisit: Codable, Sendable, Equatable {
    public var householdID: Int64
    public var address: String
    public var situations: [String]
    /// The situation whose rule set the pace, and the pace.
    public var because: String?
    public var period: String?
    public var reason: String
    public var dueOn: String
    public var overdue: Bool
    /// Nobody was home last time: try again from this day.
    public var retryFrom: String?
    public var lastVisit: String?

    enum CodingKeys: String, CodingKey {
        case householdID = "household_id", address, situations, because, period, reason, dueOn = "due_on", overdue
        case retryFrom = "retry_from", lastVisit = "last_visit"
    }
}

public struct DueList: Codable, Sendable {
    public var gridIDs: [Int64]
    /// The first of them (the list is cut at a limit; `total` and `overdue` count them all).
    public var items: [DueVisit]
    public var total: Int
    public var overdue: Int
    /// Households due later in their period, beyond the list's two weeks (all of them with `all`).
    public var later: Int
    enum CodingKeys: String, CodingKey { case gridIDs = "grid_ids", items, total, overdue, later }
}

/// A grid's households under one situation's rule, against the rule: how many, how many
/// visited in the current window, how many missed the last one.
public struct CoverageLine: Codable, Sendable, Equatable {
    public var gridID: Int64
    public var gridName: String
    public var situation: String
    public var period: String
    public var households: Int
    public var covered: Int
    public var overdue: Int
    /// The grid has its own rule for this situation, unlike the community's.
    public var ownRule: Bool

    enum CodingKeys: String, CodingKey {
        case gridID = "grid_id", gridName = "grid_name", situation, period, households, covered, overdue, ownRule = "own_rule"
    }
}

public struct VisitRulesView: Codable, Sendable {
    public var communityID: Int64
    public var communityName: String
    /// True while the community has set nothing and the defaults apply.
    public var defaults: Bool
    public var rules: [VisitRule]
    public var grids: [GridSummary]
    enum CodingKeys: String, CodingKey { case communityID = "community_id", communityName = "community_name", defaults, rules, grids }
}

/// Communities whose households all have their visit rows: only ever added to, on any node.
final class SyncedCommunities: Sendable {
    private let ids = NIOLockedValueBox<Set<Int64>>([])
    func contains(_ id: Int64) -> Bool { ids.withLockedValue { $0.contains(id) } }
    func insert(_ id: Int64) { _ = ids.withLockedValue { $0.insert(id) } }
}

/// Grid work's use cases: visit plans, visits and the due list. Each checks the actor's scope,
/// writes in one transaction with its audit row; the HTML and JSON routes both call these.
public struct GridWorkService: Sendable {
    let store: any Store
    let cipher: PersonalDataCipher
    let env: Env
    let audit: AuditLog
    /// The registry as the app was put together (`Linli.open` hands it the copy with every
    /// capability's hooks set, once they are made).
    var registry: RegistryService
    let notifier: any Notifier
    /// Communities known to be synced (see `ensureSynced`).
    let synced = SyncedCommunities()
    /// Files a "needs help" finding as a request through the requests capability's own use case
    /// (its routing, deadlines and notifications); returns the request's id.
    /// The photos taken go with it.
    var fileRequest: @Sendable (RequestInput, [[UInt8]], Actor) async throws -> Int64 = { _, _, _ in throw LinliError.notFound }
    /// Puts a "needs help" finding in the community's needs pool through the linkage's own use
    /// case; returns the need's id.
    var postNeed: @Sendable (LinkageService.NeedInput, Actor) async throws -> Int64 = { _, _ in throw LinliError.notFound }
    /// The request categories a patrol's finding may be filed under (active, none asking for a
    /// field the patrol form does not have), from the requests capability.
    var requestCategories: @Sendable () async throws -> [CategoryView] = { [] }
    /// Photos of visits and patrol findings (sealed at rest).
    let photos: SealedPhotos
    /// Text messages for notices (the deployment's provider; the log in development).
    var sms: any SMSSender = LogSMS()
    /// The secret an SMS reply's relay must present (nil: replies are not taken).
    var smsInboundToken: String?

    public init(store: any Store, cipher: PersonalDataCipher, env: Env, registry: RegistryService, photoDirectory: String) {
        self.photos = SealedPhotos(directory: photoDirectory, cipher: cipher, env: env)
        self.store = store
        self.cipher = cipher
        self.env = env
        self.audit = AuditLog(env: env)
        self.registry = registry
        self.notifier = InAppNotifier()
    }

    static let noteMax = 1000

    // MARK: Rules

    func storedRules(_ db: any SQLDatabase, community: Int64) async throws -> [VisitRule]? {
        let rows = try await db.query("SELECT grid_id, situation, period FROM visit_rules WHERE community_id = \(community) ORDER BY grid_id, situation").all()
        guard !rows.isEmpty else { return nil }
        return try rows.compactMap { r in
            guard let p = VisitPeriod(rawValue: try r.decode(column: "period", as: String.self)) else { return nil }
            let g = try r.decode(column: "grid_id", as: Int64.self)
            return VisitRule(situation: try r.decode(column: "situation", as: String.self), period: p, gridID: g == 0 ? nil : g)
        }
    }

    /// A community the actor may plan visits for: 404 outside their area.
    func plannedCommunity(_ db: any SQLDatabase, _ id: Int64, actor: Actor, _ action: Action) async throws -> RegistryService.PlaceRow {
        guard let c = try await registry.fetchPlace(db, id), c.kind.isCommunity, actor.may(.placeView, on: c.scope) else { throw LinliError.notFound }
        try actor.require(action, on: c.scope)
        return c
    }

    public func rules(community: Int64, actor: Actor) async throws -> VisitRulesView {
        try await store.read { db in
            let c = try await plannedCommunity(db, community, actor: actor, .visitPlan)
            let stored = try await storedRules(db, community: community)
            return VisitRulesView(communityID: c.id, communityName: c.name, defaults: stored == nil, rules: stored ?? VisitDefaults.rules,
                                  grids: try await registry.gridsOf(db, community: c.id))
        }
    }

    /// Replaces a community's rules (the community's own and each grid's), then re-plans its
    /// households in the same transaction. A situation outside the known ones, a grid of another
    /// community or one situation named twice for one grid is refused, naming the rule.
    public func setRules(community: Int64, _ rules: [VisitRule], actor: Actor) async throws {
        var v = Validator()
        var seen = Set<String>()
        for (i, r) in rules.enumerated() {
            v.check(VisitSituation.all.contains(r.situation), "rules[\(i)].situation", "invalid_choice", "未知的户情况：\(r.situation)")
            v.check(seen.insert("\(r.gridID ?? 0)|\(r.situation)").inserted, "rules[\(i)].situation", "duplicate", "同一范围内每种情况只能设一条规则")
        }
        v.check(rules.count <= 200, "rules", "too_many", "规则过多")
        try v.throwIfAny()
        let now = env.nowSeconds
        try await store.transaction { db in
            let c = try await plannedCommunity(db, community, actor: actor, .visitPlan)
            let grids = Set(try await registry.gridsOf(db, community: c.id).map(\.id))
            for (i, r) in rules.enumerated() {
                if let g = r.gridID, !grids.contains(g) {
                    throw LinliError.invalid("rules[\(i)].grid_id", "not_in_community", "网格不属于本社区")
                }
            }
            try await db.query("DELETE FROM visit_rules WHERE community_id = \(c.id)").run()
            try await db.insertRows("INSERT INTO visit_rules (community_id, grid_id, situation, period, updated_at) VALUES ", rules) { r in
                "(\(c.id), \(r.gridID ?? 0), \(r.situation), \(r.period.rawValue), \(now))"
            }
            try await replan(db, community: c.id, rules: rules)
            try await audit.append(db, actor: actor, action: "visit.rules", objectType: "place", objectID: c.id, path: c.path,
                                   detail: rules.map { "\($0.gridID.map { "grid \($0) " } ?? "")\($0.situation)=\($0.period.rawValue)" }.joined(separator: ", "))
        }
    }

    // MARK: Household states

    struct DueRow {
        var householdID: Int64, communityID: Int64, gridID: Int64, microGridID: Int64
        var address: String, situations: Set<String>
        var period: VisitPeriod?, because: String?
        var facts: VisitFacts
        var followUpVisit: Int64?
        /// A visit found the household gone (搬离): off the plan until the community confirms
        /// (the registry changed) or a later visit finds someone living there.
        var movedAt: Int64? = nil

        /// Puts the household on the rule that now applies. A plan that begins (or gets more
        /// frequent) starts counting now, not from before it existed.
        mutating func apply(_ rule: VisitRule?, now: Int64) {
            if period == nil || (rule.map { period! > $0.period } ?? false) { facts.since = now }
            period = rule?.period; because = rule?.situation
        }
    }

    static let dueColumns = """
        SELECT household_id, community_id, grid_id, micro_grid_id, address, situations, period, because, last_counted_at, last_attempt_at,
               follow_up_day, follow_up_visit, since_at, moved_at FROM visit_due
        """

    static func dueRow(_ r: any SQLRow) throws -> DueRow {
        let situations = try r.decode(column: "situations", as: String.self)
        return DueRow(householdID: try r.decode(column: "household_id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                      gridID: try r.decode(column: "grid_id", as: Int64.self), microGridID: try r.decode(column: "micro_grid_id", as: Int64.self),
                      address: try r.decode(column: "address", as: String.self),
                      situations: Set(situations.split(separator: ",").map(String.init)),
                      period: try r.decode(column: "period", as: String?.self).flatMap(VisitPeriod.init(rawValue:)),
                      because: try r.decode(column: "because", as: String?.self),
                      facts: VisitFacts(lastCounted: try r.decode(column: "last_counted_at", as: Int64?.self),
                                        lastAttempt: try r.decode(column: "last_attempt_at", as: Int64?.self),
                                        followUpDay: try r.decode(column: "follow_up_day", as: Int64?.self),
                                        since: try r.decode(column: "since_at", as: Int64.self)),
                      followUpVisit: try r.decode(column: "follow_up_visit", as: Int64?.self), movedAt: try r.decode(column: "moved_at", as: Int64?.self))
    }

    static let dueWritten = ["community_id", "grid_id", "micro_grid_id", "address", "situations", "period", "because", "last_counted_at",
                             "last_attempt_at", "follow_up_day", "follow_up_visit", "since_at", "show_from", "list_from", "moved_at",
                             "counted_window", "since_window"]

    /// Writes households' rows anew (each replaces the household's old one). An upsert, not a
    /// delete and insert: two transactions refreshing one household at once (two grid workers'
    /// first look after an upgrade, a visit beside a registry edit) would otherwise both insert.
    func saveDue(_ db: any SQLDatabase, _ rows: [DueRow]) async throws {
        guard !rows.isEmpty else { return }
        try await db.insertRows("""
            INSERT INTO visit_due (household_id, \(Self.dueWritten.joined(separator: ", "))) VALUES
            """, rows, tail: " ON CONFLICT (household_id) DO UPDATE SET " + Self.dueWritten.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")) { d in
            let situations = VisitSituation.all.filter(d.situations.contains).joined(separator: ",")
            // A household reported gone is on no list until that is settled.
            let show = d.movedAt != nil ? Int64.max : VisitPlan.showFrom(period: d.period, facts: d.facts)
            let list = d.movedAt != nil ? Int64.max : VisitPlan.listFrom(period: d.period, facts: d.facts, horizon: Self.dueHorizon)
            let windows = Self.coverageWindows(d)
            return """
                (\(d.householdID), \(d.communityID), \(d.gridID), \(d.microGridID), \(d.address), \(situations), \(d.period?.rawValue), \(d.because),
                 \(d.facts.lastCounted), \(d.facts.lastAttempt), \(d.facts.followUpDay), \(d.followUpVisit), \(d.facts.since), \(show), \(list), \(d.movedAt),
                 \(windows.counted), \(windows.since))
                """
        }
    }

    /// Applies the registry's facts to the households' rows (new ones start their plan now).
    func refresh(_ db: any SQLDatabase, _ facts: [HouseholdFacts], existing: [Int64: DueRow]) async throws {
        var rulesOf: [Int64: [VisitRule]] = [:]
        var rows: [DueRow] = []
        for f in facts {
            if rulesOf[f.communityID] == nil { rulesOf[f.communityID] = try await storedRules(db, community: f.communityID) ?? VisitDefaults.rules }
            let rule = VisitPlan.rule(for: f.situations, gridIDs: [f.gridID, f.microGridID], rules: rulesOf[f.communityID]!)
            var row = existing[f.id] ?? DueRow(householdID: f.id, communityID: f.communityID, gridID: f.gridID, microGridID: f.microGridID,
                                               address: f.address, situations: [], period: nil, because: nil,
                                               facts: VisitFacts(since: env.nowSeconds), followUpVisit: nil)
            row.communityID = f.communityID; row.gridID = f.gridID; row.microGridID = f.microGridID
            row.address = f.address; row.situations = f.situations
            row.apply(rule, now: env.nowSeconds)
            rows.append(row)
        }
        try await saveDue(db, rows)
    }

    /// The registry's hook: these households' grid, address or situations may have changed.
    func householdsChanged(_ db: any SQLDatabase, _ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        let facts = try await registry.householdFacts(db, ids: ids)
        var existing: [Int64: DueRow] = [:]
        // Rows a step rewrites many of (the registry's changes here; a sync and new rules below) are locked first, in household
        // order (PostgreSQL): their triggers then take the grids' coverage counts only after every
        // household row is held, as a single visit does (its household, then the counts), so the
        // two cannot wait on each other crosswise.
        let ids = ids.sorted()
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            for r in try await db.query("\(unsafeRaw: Self.dueColumns) WHERE household_id IN (\(list: chunk)) ORDER BY household_id\(unsafeRaw: store.dialect.lockForUpdate())").all() {
                let d = try Self.dueRow(r); existing[d.householdID] = d
            }
        }
        try await refresh(db, facts, existing: existing)
    }

    /// Brings a whole community's rows in line with the registry (a database from before grid
    /// work, the demo, a repair); households gone from it lose their row.
    public func sync(community: Int64) async throws {
        try await store.transaction { db in
            let facts = try await registry.householdFacts(db, community: community)
            var existing: [Int64: DueRow] = [:]
            for r in try await db.query("\(unsafeRaw: Self.dueColumns) WHERE community_id = \(community) ORDER BY household_id\(unsafeRaw: store.dialect.lockForUpdate())").all() {
                let d = try Self.dueRow(r); existing[d.householdID] = d
            }
            let present = Set(facts.map(\.id))
            let gone = existing.keys.filter { !present.contains($0) }
            if !gone.isEmpty { try await db.query("DELETE FROM visit_due WHERE household_id IN (\(list: gone))").run() }
            try await refresh(db, facts, existing: existing)
            try await db.query("""
                INSERT INTO visit_synced (community_id, at) VALUES (\(community), \(env.nowSeconds)) ON CONFLICT (community_id) DO UPDATE SET at = excluded.at
                """).run()
        }
    }

    /// New rules for a community: every household's period and reason again, from the stored situations.
    func replan(_ db: any SQLDatabase, community: Int64, rules: [VisitRule]) async throws {
        let rows = try await db.query("\(unsafeRaw: Self.dueColumns) WHERE community_id = \(community) ORDER BY household_id\(unsafeRaw: store.dialect.lockForUpdate())").all().map(Self.dueRow)
        var changed: [DueRow] = []
        for var d in rows {
            let rule = VisitPlan.rule(for: d.situations, gridIDs: [d.gridID, d.microGridID], rules: rules)
            guard rule?.period != d.period || rule?.situation != d.because else { continue }
            d.apply(rule, now: env.nowSeconds)
            changed.append(d)
        }
        try await saveDue(db, changed)
    }

    /// Writes the rows of communities that have none yet (a database from before grid work, or
    /// an upgrade that needs every row written again), one community after another for up to
    /// `budget`: a housekeeping job, so that the first due list or map of each community after
    /// an upgrade does not pay for it. Returns how many it wrote.
    public func syncPending(budget: Duration = .seconds(2)) async throws -> Int {
        let clock = ContinuousClock(), start = clock.now
        var done = 0
        while clock.now - start < budget {
            let next = try await store.read { db in
                try await db.query("""
                    SELECT p.id FROM places p WHERE p.kind IN ('community', 'village')
                    AND NOT EXISTS (SELECT 1 FROM visit_synced s WHERE s.community_id = p.id) ORDER BY p.id LIMIT 1
                    """).first()?.decode(column: "id", as: Int64.self)
            }
            guard let next else { break }
            try await sync(community: next)
            synced.insert(next)
            done += 1
        }
        return done
    }

    /// Makes sure a community has its rows before they are read (a database that had households
    /// before grid work arrived). A community once synced stays so (rows follow the registry
    /// from then on), so the answer is remembered and every due list after the first asks nothing.
    func ensureSynced(community: Int64) async throws {
        if synced.contains(community) { return }
        let has = try await store.read { db in
            try await db.query("SELECT at FROM visit_synced WHERE community_id = \(community)").first() != nil
        }
        if !has { try await sync(community: community) }
        synced.insert(community)
    }
}

// A grid worker's list is asked for all day from phones: its JSON is written from its fields
// (Swift's `Encodable` machinery was a tenth of the route's time; see FieldListed).
extension DueVisit: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.householdID, householdID); w.add(CodingKeys.address, address); w.add(CodingKeys.situations, texts: situations)
        w.add(CodingKeys.because, because); w.add(CodingKeys.period, period); w.add(CodingKeys.reason, reason); w.add(CodingKeys.dueOn, dueOn)
        w.add(CodingKeys.overdue, overdue); w.add(CodingKeys.retryFrom, retryFrom); w.add(CodingKeys.lastVisit, lastVisit)
    }
}

extension DueList: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.gridIDs, numbers: gridIDs); w.add(CodingKeys.items, items); w.add(CodingKeys.total, total); w.add(CodingKeys.overdue, overdue)
        w.add(CodingKeys.later, later)
    }
}
