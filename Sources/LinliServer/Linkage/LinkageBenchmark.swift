import Foundation
import HummingbirdBcrypt
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    public struct FillBenchmark: Sendable { public var milliseconds: Double; public var shifts: Int; public var proposed: Int; public var uncovered: Int }

    /// Times one `fillMonth` over `tasks` daily recurring tasks and `volunteers` volunteers of the
    /// first community of a loaded demo (they are added first, outside the timing).
    public func benchmarkFill(volunteers: Int, tasks: Int, month: String) async throws -> FillBenchmark {
        let staff: Actor = try await store.read { db in
            let row = try await db.raw("SELECT id FROM users WHERE username = 'community'").first()!
            return try await accounts.loadActor(db, userID: try row.decode(column: "id", as: Int64.self))!
        }
        guard let m = LocalDay.month(month) else { throw LinliError.invalid("month", "invalid", "month like 2026-12") }
        let communityID = staff.grants[0].placeID
        let now = config.environment.nowSeconds
        let hash = Bcrypt.hash(config.environment.token(bytes: 16), cost: 4)
        let skillSets = [["delivery"], ["delivery", "care"], ["carry"], ["care"], ["delivery", "carry"], ["tutoring"]]
        let periodSets = [["am", "pm"], ["am"], ["pm", "eve"], ["am", "pm", "eve"]]
        try await store.transaction { db in
            let c = try await db.raw("SELECT path, lat, lng FROM places WHERE id = \(bind: communityID)").first()!
            let path = try c.decode(column: "path", as: String.self)
            let lat = try c.decode(column: "lat", as: Double?.self) ?? 30.25, lng = try c.decode(column: "lng", as: Double?.self) ?? 120.15
            let tag = config.environment.token(bytes: 4)
            for start in stride(from: 0, to: volunteers, by: 400) {
                let end = min(volunteers, start + 400)
                var users = db.insert(into: "users").columns("username", "display_name", "password_hash", "created_at")
                for i in start..<end { users = users.values(SQLBind("bench-\(tag)-\(i)"), SQLBind("志愿者\(i)"), SQLBind(hash), SQLBind(now)) }
                try await users.run()
                let ids = try await db.raw("SELECT id FROM users WHERE username LIKE \(bind: "bench-\(tag)-%") ORDER BY id").all()
                    .map { try $0.decode(column: "id", as: Int64.self) }.suffix(end - start)
                var rows = db.insert(into: "volunteers").columns("user_id", "community_id", "path", "name", "skills", "languages", "availability", "area_place_id",
                                                                 "lat", "lng", "can_carry", "can_drive", "status", "created_at", "updated_at")
                for (k, uid) in ids.enumerated() {
                    let i = start + k
                    // Most come on most weekdays; some only at weekends.
                    let days = i % 7 == 0 ? [6, 7] : (1...7).filter { ($0 + i) % 5 != 0 }
                    let keys = days.flatMap { d in periodSets[i % periodSets.count].map { "\(d)\($0)" } }
                    let avail = String(decoding: try JSON.encoder.encode(Availability.from(keys: keys)), as: UTF8.self)
                    let skills = skillSets[i % skillSets.count]
                    rows = rows.values(SQLBind(uid), SQLBind(communityID), SQLBind(path), SQLBind("志愿者\(i)"), SQLBind(skills.joined(separator: "|")), SQLBind("普通话"),
                                       SQLBind(avail), SQLBind(communityID), SQLBind(lat + Double(i % 41 - 20) * 0.0006), SQLBind(lng + Double(i % 37 - 18) * 0.0006),
                                       SQLBind(skills.contains("carry") ? 1 : 0), SQLBind(0), SQLBind("active"), SQLBind(now), SQLBind(now))
                }
                try await rows.run()
            }
        }
        let taskSkills = [["delivery"], ["care"], ["carry"], ["delivery"], [], ["tutoring"]]
        for i in 0..<tasks {
            var t = LinkageService.TaskInput()
            t.communityID = communityID; t.title = "基准任务 \(i)"; t.kind = "recurring"; t.placeID = communityID
            t.skills = taskSkills[i % taskSkills.count]; t.headcount = 1 + i % 3
            t.firstDay = ChinaTime.iso(day: m.first); t.lastDay = ChinaTime.iso(day: m.last); t.weekdays = Array(1...7)
            t.startTime = LocalDay.hhmm(8 * 60 + (i % 12) * 60); t.durationMinutes = 60 + (i % 2) * 30
            _ = try await linkage.postTask(t, actor: staff)
        }
        let (r, ms) = try await Stopwatch.milliseconds { try await linkage.fillMonth(communityID: communityID, taskID: nil, month: month, actor: staff) }
        return FillBenchmark(milliseconds: ms, shifts: r.shifts, proposed: r.proposed, uncovered: r.uncovered.reduce(0) { $0 + $1.missing })
    }

    public struct LedgerBenchmark: Sendable {
        public var transactions: Int
        public var loadSeconds: Double
        public var balanceMedianMs: Double
        public var balanceP99Ms: Double
        public var moneyViewMedianMs: Double
        public var recomputeMs: Double
        public var ok: Bool
    }

    /// Writes `transactions` balanced movements over `projects` projects of the first community
    /// (gifts, matches, expenses; balances kept as the use cases keep them), then times a
    /// project's balance, its money view, and recomputing every balance from the entries.
    public func benchmarkLedger(transactions: Int, projects: Int, runs: Int) async throws -> LedgerBenchmark {
        let staff: Actor = try await store.read { db in
            let row = try await db.raw("SELECT id FROM users WHERE username = 'community'").first()!
            return try await accounts.loadActor(db, userID: try row.decode(column: "id", as: Int64.self))!
        }
        let communityID = staff.grants[0].placeID
        let now = config.environment.nowSeconds
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let (projectIDs, projectAccounts): ([Int64], [Int64]) = try await store.transaction { db in
            let path = try await db.raw("SELECT path FROM places WHERE id = \(bind: communityID)").first()!.decode(column: "path", as: String.self)
            var ids: [Int64] = [], accounts: [Int64] = []
            for i in 0..<projects {
                let id = try await db.raw("""
                    INSERT INTO micro_projects (community_id, path, title, summary, domain, stage, budget, created_by, created_at, updated_at)
                    VALUES (\(bind: communityID), \(bind: path), \(bind: "基准项目 \(i)"), '', 'other', 'execution', 100000000, \(bind: staff.userID), \(bind: now), \(bind: now)) RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
                ids.append(id)
                accounts.append(try await linkage.account(db, .project, id, path: path, name: "基准项目 \(i)"))
            }
            return (ids, accounts)
        }
        let (donors, payees, pool): (Int64, Int64, Int64) = try await store.transaction { db in
            let path = try await db.raw("SELECT path FROM places WHERE id = \(bind: communityID)").first()!.decode(column: "path", as: String.self)
            return (try await linkage.account(db, .donors, communityID, path: path, name: "社区捐赠"),
                    try await linkage.account(db, .payees, communityID, path: path, name: "支出"),
                    try await linkage.account(db, .pool, -communityID, path: path, name: "基准资金池"))
        }
        var balances: [Int64: Int64] = [:]
        var totals: [Int64: (Int64, Int64, Int64)] = [:]
        var done = 0
        let batch = 2_000
        while done < transactions {
            let n = min(batch, transactions - done)
            let first = done
            var rows: [(String, Int64, Int64, Int64, Int64)] = []  // kind, project, amount, from, to
            for k in 0..<n {
                let i = first + k
                let p = i % projects
                let amount = Int64(100 + (i * 7919) % 50_000)
                switch i % 10 {
                case 0: rows.append(("expense", projectIDs[p], amount / 4, projectAccounts[p], payees))
                case 1, 2: rows.append(("match", projectIDs[p], amount, pool, projectAccounts[p]))
                default: rows.append(("donation", projectIDs[p], amount, donors, projectAccounts[p]))
                }
            }
            for r in rows {
                balances[r.3, default: 0] -= r.2; balances[r.4, default: 0] += r.2
                var t = totals[r.1] ?? (0, 0, 0)
                switch r.0 { case "donation": t.0 += r.2; case "match": t.1 += r.2; default: t.2 += r.2 }
                totals[r.1] = t
            }
            let chunk = rows
            try await store.transaction { db in
                let base = try await db.raw("SELECT COALESCE(MAX(id), 0) AS m FROM ledger_transactions").first()!.decode(column: "m", as: Int64.self)
                for part in stride(from: 0, to: chunk.count, by: 500) {
                    var txns = db.insert(into: "ledger_transactions").columns("id", "kind", "community_id", "project_id", "amount", "donor_name", "donor_public", "donor_kind", "memo", "at")
                    var entries = db.insert(into: "ledger_entries").columns("txn_id", "account_id", "amount")
                    for (k, r) in chunk[part..<min(part + 500, chunk.count)].enumerated() {
                        let id = base + Int64(part + k + 1)
                        txns = txns.values(SQLBind(id), SQLBind(r.0), SQLBind(communityID), SQLBind(r.1), SQLBind(r.2), SQLBind(r.0 == "donation" ? "居民" : ""),
                                           SQLBind(0), SQLBind(r.0 == "donation" ? "resident" : ""), SQLBind("基准"), SQLBind(now))
                        entries = entries.values(SQLBind(id), SQLBind(r.3), SQLBind(-r.2)).values(SQLBind(id), SQLBind(r.4), SQLBind(r.2))
                    }
                    try await txns.run()
                    try await entries.run()
                }
            }
            done += n
        }
        let finalBalances = balances, finalTotals = totals
        try await store.transaction { db in
            for (p, t) in finalTotals {
                try await db.raw("""
                    INSERT INTO project_totals (project_id, raised, matched, spent) VALUES (\(bind: p), \(bind: t.0), \(bind: t.1), \(bind: t.2))
                    """).run()
            }
            for (account, b) in finalBalances {
                try await db.raw("UPDATE account_balances SET balance = balance + \(bind: b) WHERE account_id = \(bind: account) AND shard = 0").run()
            }
            if let sql = store.dialect.resetSequenceSQL("ledger_transactions") { try await db.raw(SQLQueryString(sql)).run() }
        }
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9

        func time(_ body: () async throws -> Void) async throws -> Double { try await Stopwatch.milliseconds(body).1 }
        var balanceTimes: [Double] = [], viewTimes: [Double] = []
        for r in 0..<runs {
            let p = projectIDs[(r * 7) % projectIDs.count]
            balanceTimes.append(try await time {
                _ = try await store.read { db in
                    try await db.raw("""
                        SELECT CAST(SUM(b.balance) AS BIGINT) AS balance FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.kind = 'project' AND a.ref_id = \(bind: p)
                        """).first()!.decode(column: "balance", as: Int64.self)
                }
            })
            viewTimes.append(try await time {
                _ = try await store.read { db in try await linkage.money(db, try await linkage.fetchProject(db, p, nil, .linkageView), actor: staff) }
            })
        }
        var check: LinkageService.LedgerCheck?
        let recompute = try await time { check = try await linkage.checkLedger() }
        balanceTimes.sort(); viewTimes.sort()
        return LedgerBenchmark(transactions: transactions, loadSeconds: loadSeconds, balanceMedianMs: balanceTimes[balanceTimes.count / 2],
                               balanceP99Ms: balanceTimes[min(balanceTimes.count - 1, balanceTimes.count * 99 / 100)],
                               moneyViewMedianMs: viewTimes[viewTimes.count / 2], recomputeMs: recompute, ok: check?.ok ?? false)
    }
}
