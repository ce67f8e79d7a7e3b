import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Figures of `linli bench-requests`: how long a party's queue, a street's month and the sweep take
/// with a large history in the database.
public struct RequestsBenchmark: Sendable {
    public var total: Int
    public var queueMs: [String: (median: Double, worst: Double)]
    public var figuresMedianMs: Double
    public var figuresWorstMs: Double
    public var figuresReceived: Int
    public var openRequests: Int
    public var sweepMs: Double
    public var sweepEscalated: Int
    public var sweepAutoClosed: Int
    public var idleSweepMs: Double
}

extension RequestsService {
    /// Adds `count` requests to a loaded demo as `months` of history up to now, spread over every
    /// household and category and routed as the rules route them: old ones closed (most rated,
    /// some withdrawn or merged), the last month's a mix of open, resolved (within the week a
    /// resident has to confirm) and closed, with the
    /// deadlines they have already missed marked as missed. The rows are made by the database
    /// itself (one INSERT … SELECT per chunk), so ten million take minutes, not hours. The newest
    /// `overdue` assigned requests are left past their acceptance deadline, unswept, as after a
    /// stretch of downtime. Events are written only for returns (the figures count them).
    public func generateHistory(count: Int, months: Int, overdue: Int, progress: @Sendable (Int) -> Void = { _ in }) async throws -> Int {
        let now = env.nowSeconds
        let span = Int64(months) * 30 * 86400, start = now - span
        let snapshot = try await config.snapshot(in: store, now: now)
        let categories = snapshot.order.compactMap { snapshot.categories[$0] }.filter(\.active)
        guard !categories.isEmpty else { throw LinliError.invalid("categories", "none", "没有可用的诉求类别") }
        // One target per (household, category): where it is and who answers for it.
        let scratch = store.dialect.scratch("gen_targets")
        let targets = try await store.transaction { db -> Int in
            try await db.raw("DROP TABLE IF EXISTS \(unsafeRaw: scratch)").run()
            try await db.raw("""
                CREATE TABLE \(unsafeRaw: scratch) (n BIGINT PRIMARY KEY, category TEXT, household_id BIGINT, place_id BIGINT, path TEXT, street_id BIGINT,
                community_id BIGINT, compound_id BIGINT, grid_id BIGINT, address TEXT, party_kind TEXT, party_key TEXT, party_name TEXT,
                party_path TEXT, party_grid_id BIGINT, accept_s BIGINT, contact_s BIGINT, resolve_s BIGINT)
                """).run()
            let households = try await db.raw("SELECT id, place_id, grid_id, address, path FROM households ORDER BY id").all()
            var parties: [String: Party] = [:]
            var n: Int64 = 0
            func newInsert() -> SQLInsertBuilder {
                db.insert(into: store.dialect.scratchTable("gen_targets")).columns("n", "category", "household_id", "place_id", "path", "street_id", "community_id",
                                                       "compound_id", "grid_id", "address", "party_kind", "party_key", "party_name",
                                                       "party_path", "party_grid_id", "accept_s", "contact_s", "resolve_s")
            }
            var insert = newInsert()
            var pending = 0
            for h in households {
                let path = try h.decode(column: "path", as: String.self), ids = PlacePath.ids(path)
                guard ids.count > 3 else { continue }
                let loc = Located(placeID: try h.decode(column: "place_id", as: Int64.self), path: path, householdID: try h.decode(column: "id", as: Int64.self),
                                  gridID: try h.decode(column: "grid_id", as: Int64?.self), address: try h.decode(column: "address", as: String.self),
                                  streetID: ids[2], communityID: ids[3], compoundID: ids.count > 4 ? ids[4] : nil, lat: nil, lng: nil)
                for c in categories {
                    let kind = RequestsConfig.party(for: c, path: path, rules: snapshot.rules).kind
                    let cacheKey = "\(kind.rawValue)|\(loc.compoundID ?? 0)|\(loc.gridID ?? 0)|\(loc.communityID)"
                    let party: Party
                    if let p = parties[cacheKey] { party = p } else { party = try await resolveParty(db, kind, loc); parties[cacheKey] = party }
                    insert = insert.values(SQLBind(n), SQLBind(c.code), SQLBind(loc.householdID), SQLBind(loc.placeID), SQLBind(path), SQLBind(loc.streetID),
                                           SQLBind(loc.communityID), SQLBind(loc.compoundID), SQLBind(loc.gridID), SQLBind(loc.address),
                                           SQLBind(party.kind.rawValue), SQLBind(party.key), SQLBind(party.name), SQLBind(party.path), SQLBind(party.gridID),
                                           SQLBind(Int64(c.policy.acceptHours) * 3600), SQLBind(Int64(c.policy.contactHours) * 3600),
                                           SQLBind(Int64(c.policy.resolveHours) * 3600))
                    n += 1; pending += 1
                    if pending == 400 {
                        try await insert.run()
                        insert = newInsert()
                        pending = 0
                    }
                }
            }
            if pending > 0 { try await insert.run() }
            return Int(n)
        }
        guard targets > 0 else { throw LinliError.invalid("households", "none", "先用 linli demo 载入住户") }
        let submitter = try await store.read { db in
            try await db.raw("SELECT MIN(id) AS id FROM users").first()?.decode(column: "id", as: Int64?.self)
        }
        guard let submitter else { throw LinliError.invalid("users", "none", "先用 linli demo 创建账号") }
        let first = try await store.read { db in
            try await db.raw("SELECT COALESCE(MAX(id), 0) AS m FROM requests").first()!.decode(column: "m", as: Int64.self)
        }
        let chunk = 100_000
        var done = 0
        while done < count {
            let lo = done, hi = min(count, done + chunk) - 1
            try await store.transaction { db in
                try await db.raw(Self.generateSQL(store.dialect, lo: lo, hi: hi, count: count, firstID: first, targets: targets, start: start,
                                                  span: span, now: now, submitter: submitter)).run()
                // A return counts against the party that returned it.
                try await db.raw("""
                    INSERT INTO request_events (request_id, at, user_id, actor_name, kind, note, party_key, public)
                    SELECT id, created_at + 3600, NULL, party_name, 'return', '不属于本单位职责', party_key, 0 FROM requests
                    WHERE id > \(bind: first + Int64(lo)) AND id <= \(bind: first + Int64(hi) + 1) AND returned_count > 0
                    """).run()
            }
            done = hi + 1
            progress(done)
        }
        try await store.transaction { db in
            if let sql = store.dialect.resetSequenceSQL("requests") { try await db.raw(SQLQueryString(sql)).run() }
            if let sql = store.dialect.resetSequenceSQL("request_events") { try await db.raw(SQLQueryString(sql)).run() }
            // The backlog a sweep finds after downtime: past the acceptance deadline, not yet escalated.
            try await db.raw("""
                UPDATE requests SET accept_due = \(bind: now - 60), next_due = \(bind: now - 60), missed = '', level = 0
                WHERE id IN (SELECT id FROM requests WHERE id > \(bind: first) AND status = 'assigned' ORDER BY id DESC LIMIT \(unsafeRaw: String(max(0, overdue))))
                """).run()
            try await db.raw("DROP TABLE \(unsafeRaw: scratch)").run()
        }
        try await store.refreshPlannerStatistics(["requests", "request_events"])
        try await recountNeeds()
        try await recountRollup()
        return count
    }

    /// The INSERT … SELECT making requests lo…hi (0-based) of `count`, in created order.
    static func generateSQL(_ dialect: Dialect, lo: Int, hi: Int, count: Int, firstID: Int64, targets: Int, start: Int64, span: Int64, now: Int64,
                            submitter: Int64) -> SQLQueryString {
        let scratch = dialect.scratch("gen_targets")
        // i → a well-mixed pseudo-random number, the same on both databases.
        let h = "((i * 2654435761) % 1000003)"
        let t = "(\(start) + i * \(span) / \(count))"
        let (series, from) = dialect.integerSeries(lo, hi)
        let least = dialect.leastFunction, trim = dialect.trimCharactersFunction
        // The status a request of this age has by now.
        let status = """
            CASE WHEN \(now) - \(t) > 2592000 THEN (CASE WHEN \(h) % 100 < 3 THEN 'withdrawn' WHEN \(h) % 100 < 5 THEN 'merged' ELSE 'closed' END)
                 ELSE (CASE WHEN \(h) % 100 < 20 THEN 'assigned' WHEN \(h) % 100 < 50 THEN 'accepted' WHEN \(h) % 100 < 75 THEN (CASE WHEN \(now) - \(t) > 518400 THEN 'closed' ELSE 'resolved' END) ELSE 'closed' END) END
            """
        let sql = """
            \(series)INSERT INTO requests (id, category, description, place_id, household_id, path, street_id, community_id, compound_id, grid_id,
                address, urgency, channel, submitted_by, reporter_user_id, contact_masked, public_details, attributes, status, party_kind, party_key,
                party_name, party_path, party_grid_id, level, accept_due, contact_due, resolve_due, accepted_at, contacted_at, resolved_at, closed_at,
                missed, next_due, rating, returned_count, created_at, updated_at)
            SELECT \(firstID + 1) + i, g.category, d.description, g.place_id, g.household_id, g.path, g.street_id, g.community_id, g.compound_id, g.grid_id,
                g.address, u.urgency, u.channel, \(submitter), NULL, '', 0, '{}', u.status, g.party_kind, g.party_key,
                g.party_name, g.party_path, g.party_grid_id,
                (CASE WHEN u.missed = '' THEN 0 ELSE length(u.missed) - length(replace(u.missed, ',', '')) + 1 END),
                u.t + g.accept_s, u.t + g.contact_s, u.t + g.resolve_s, u.accepted_at, u.accepted_at, u.resolved_at,
                (CASE WHEN u.status = 'closed' THEN u.resolved_at + 86400 WHEN u.status IN ('withdrawn', 'merged') THEN u.t + 7200 END),
                u.missed,
                (CASE WHEN u.status IN ('assigned', 'accepted') THEN NULLIF(\(least)(
                    CASE WHEN u.accepted_at IS NULL AND u.t + g.accept_s > \(now) THEN u.t + g.accept_s ELSE 9000000000000000000 END,
                    CASE WHEN u.accepted_at IS NULL AND u.t + g.contact_s > \(now) THEN u.t + g.contact_s ELSE 9000000000000000000 END,
                    CASE WHEN u.t + g.resolve_s > \(now) THEN u.t + g.resolve_s ELSE 9000000000000000000 END), 9000000000000000000) END),
                (CASE WHEN u.status = 'closed' AND u.h % 10 < 8 THEN (CASE WHEN u.h % 10 < 6 THEN 5 WHEN u.h % 10 < 7 THEN 4 ELSE 2 END) END),
                (CASE WHEN u.h % 50 = 7 THEN 1 ELSE 0 END),
                u.t, \(now)
            FROM (
                SELECT b.*,
                    (CASE WHEN status IN ('assigned', 'accepted') THEN
                        \(trim)((CASE WHEN accepted_at IS NULL AND t + accept_s <= \(now) THEN 'accept,' ELSE '' END)
                          || (CASE WHEN accepted_at IS NULL AND t + contact_s <= \(now) THEN 'contact,' ELSE '' END)
                          || (CASE WHEN t + resolve_s <= \(now) THEN 'resolve' ELSE '' END), ',')
                     ELSE '' END) AS missed
                FROM (
                    SELECT a.i, a.t, a.h, a.status, a.urgency, a.channel, a.n, g0.accept_s, g0.contact_s, g0.resolve_s,
                        (CASE WHEN a.status IN ('accepted', 'resolved', 'closed') THEN a.t + (a.h % 4 + 1) * 1800 END) AS accepted_at,
                        (CASE WHEN a.status IN ('resolved', 'closed') THEN a.t + (a.h % 96 + 2) * 3600 END) AS resolved_at
                    FROM (
                        SELECT i, \(t) AS t, \(h) AS h, \(status) AS status,
                            (CASE WHEN \(h) % 20 = 0 THEN 'urgent' ELSE 'normal' END) AS urgency,
                            (CASE \(h) % 5 WHEN 0 THEN 'phone' WHEN 1 THEN 'walk_in' ELSE 'app' END) AS channel,
                            (i * 7919) % \(targets) AS n
                        \(from)
                    ) a JOIN \(scratch) g0 ON g0.n = a.n
                ) b
            ) u JOIN \(scratch) g ON g.n = u.n
            JOIN (SELECT 0 AS k, '楼道灯坏了，晚上看不见台阶' AS description UNION ALL SELECT 1, '楼下垃圾桶满了没人清运'
                  UNION ALL SELECT 2, '电梯又停了，老人上下楼困难' UNION ALL SELECT 3, '小区门口车辆乱停堵住消防通道'
                  UNION ALL SELECT 4, '屋顶漏水，墙面发霉' UNION ALL SELECT 5, '夜里广场舞音响太吵') d ON d.k = u.h % 6
            """
        return SQLQueryString(sql)
    }
}

extension Linli {
    /// Times what the issue asks of a large history (run after `generateHistory`): each demo
    /// party's queue (the call the queue page and `GET /api/v1/requests?scope=queue` make), a
    /// street's figures for the last full month, a sweep with nothing due, and the sweep of the
    /// overdue backlog.
    public func benchmarkRequests(runs: Int, street: String?) async throws -> RequestsBenchmark {
        func time(_ body: () async throws -> Void) async throws -> Double { try await Stopwatch.milliseconds(body).1 }
        let (total, open, parties, streetID, admin) = try await store.read { db -> (Int, Int, [(String, Actor)], Int64, Actor) in
            let total = try await db.raw("SELECT COUNT(*) AS n FROM requests").first()!.decode(column: "n", as: Int.self)
            let open = try await db.raw("SELECT COUNT(*) AS n FROM requests WHERE status IN ('unassigned', 'assigned', 'accepted', 'returned')").first()!.decode(column: "n", as: Int.self)
            var parties: [(String, Actor)] = []
            for role in [Role.propertyCompany, .communityStaff, .gridWorker, .streetStaff] {
                guard let u = try await db.raw("SELECT MIN(user_id) AS u FROM role_grants WHERE role = \(bind: role.rawValue)").first()?.decode(column: "u", as: Int64?.self),
                      let a = try await accounts.loadActor(db, userID: u) else { continue }
                parties.append((role.rawValue, a))
            }
            guard let adminID = try await db.raw("SELECT MIN(user_id) AS u FROM role_grants WHERE role = 'city_admin'").first()?.decode(column: "u", as: Int64?.self),
                  let admin = try await accounts.loadActor(db, userID: adminID) else { throw LinliError.invalid("accounts", "none", "先用 linli demo 创建账号") }
            let s = try await db.raw("SELECT id FROM places WHERE kind = 'street' AND (name = \(bind: street ?? "") OR \(bind: street == nil ? 1 : 0) = 1) ORDER BY id LIMIT 1")
                .first()?.decode(column: "id", as: Int64.self)
            guard let s else { throw LinliError.invalid("street", "unknown", "没有这个街道") }
            return (total, open, parties, s, admin)
        }
        var queue: [String: (Double, Double)] = [:]
        for (role, actor) in parties {
            var times: [Double] = []
            for _ in 0..<runs { times.append(try await time { _ = try await requests.list(.queue, actor: actor, lang: .zh) }) }
            times.sort()
            queue[role] = (times[times.count / 2], times.last!)
        }
        // The last full calendar month before now, in local days.
        let today = (config.environment.nowSeconds + ChinaTime.utcOffset) / 86400
        let iso = ChinaTime.iso(day: today)
        let y = Int(iso.prefix(4))!, m = Int(iso.dropFirst(5).prefix(2))!
        let (py, pm) = m == 1 ? (y - 1, 12) : (y, m - 1)
        let from = String(format: "%04d-%02d-01", py, pm), to = ChinaTime.iso(day: Input.day(String(format: "%04d-%02d-01", y, m))! - 1)
        var figureTimes: [Double] = []
        var received = 0
        for _ in 0..<runs {
            figureTimes.append(try await time { received = try await requests.figures(placeID: streetID, from: from, to: to, actor: admin).total.received })
        }
        figureTimes.sort()
        var swept = RequestsService.SweepResult()
        let sweep = try await time { swept = try await requests.escalateOverdue() }
        let idle = try await time { _ = try await requests.escalateOverdue() }
        return RequestsBenchmark(total: total, queueMs: queue, figuresMedianMs: figureTimes[figureTimes.count / 2],
                                 figuresWorstMs: figureTimes.last!, figuresReceived: received, openRequests: open, sweepMs: sweep,
                                 sweepEscalated: swept.escalated, sweepAutoClosed: swept.autoClosed, idleSweepMs: idle)
    }
}
