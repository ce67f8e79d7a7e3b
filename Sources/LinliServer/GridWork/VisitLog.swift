import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Checked visit input, before any household is looked up.
struct ValidatedVisit {
    var kind: String
    var outcome: VisitOutcome
    var note: String
    var careGiven: String?, carePaidBy: String?
    var followUpDay: Int64?
    var followResult: FollowResult?
    var referralTo: String?
    var request: (category: String, contactName: String, contactPhone: String)?
    var need: (title: String, domain: String)?
    var visitedAt: Int64
    var clientKey: String?
}

extension GridWorkService {
    static let kinds = ["visit", "care"]

    /// The rules of a visit's fields, without I/O; every message at once, each naming its field.
    static func validate(_ input: VisitInput, now: Int64) throws -> ValidatedVisit {
        var v = Validator()
        func text(_ raw: String?, _ field: String, max: Int) -> String? {
            let s = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(s.count <= max, field, "too_long", "不能超过 \(max) 个字")
            return s.isEmpty ? nil : s
        }
        if input.householdID == nil {
            v.check(!(input.householdCode ?? "").trimmingCharacters(in: .whitespaces).isEmpty, "household_code", "required", "请扫描或输入户码")
        }
        let kind = input.kind.flatMap { $0.isEmpty ? nil : $0 } ?? "visit"
        v.check(kinds.contains(kind), "kind", "invalid_choice", "走访类型只能是 visit（走访）或 care（慰问）")
        let outcome = VisitOutcome(rawValue: input.outcome ?? "")
        v.check(outcome != nil, "outcome", "required", "请选择走访情况：正常、需要帮助、不在家、拒绝或已搬离")
        let note = text(input.note, "note", max: noteMax) ?? ""
        let careGiven = text(input.careGiven, "care_given", max: 100)
        let carePaidBy = text(input.carePaidBy, "care_paid_by", max: 100)
        if kind == "care" { v.check(careGiven != nil, "care_given", "required", "慰问请写明送去了什么（如 米一袋、慰问金 200 元）") }
        var followUp: Int64?
        do { followUp = try Input.day(input.followUpOn, field: "follow_up_on") } catch let e as LinliError { v.add(e) }
        let today = LocalDay.of(now)
        if let d = followUp { v.check(d > today && d <= today + 366, "follow_up_on", "out_of_range", "跟进日期应在明天到一年之内") }
        let result = input.followResult.flatMap { $0.isEmpty ? nil : $0 }
        v.check(result == nil || FollowResult(rawValue: result!) != nil, "follow_result", "invalid_choice", "跟进结果只能是 better、same 或 worse")
        let referral = text(input.referralTo, "referral_to", max: 100)
        var visitedAt = now
        if let raw = input.visitedAt, !raw.isEmpty {
            if let t = LocalTime.parse(raw) {
                // A phone's clock may run a little ahead; a visit kept offline is sent within days.
                v.check(t <= now + 600, "visited_at", "in_future", "走访时间不能晚于现在")
                v.check(t >= now - 30 * 86400, "visited_at", "too_old", "只能补登 30 天内的走访")
                visitedAt = min(t, now)
            } else {
                v.add(.invalid("visited_at", "invalid_date", "走访时间格式应为 YYYY-MM-DDTHH:MM"))
            }
        }
        let key = input.clientKey?.trimmingCharacters(in: .whitespaces)
        if let key { v.check(!key.isEmpty && key.count <= 100, "client_key", "invalid", "client_key 长度应为 1–100") }
        var request: (String, String, String)?
        if input.fileRequest == true {
            v.check(outcome == .needsHelp, "file_request", "not_needs_help", "只有“需要帮助”的走访才登记为诉求")
            let category = (input.requestCategory ?? "").trimmingCharacters(in: .whitespaces)
            v.check(!category.isEmpty, "request_category", "required", "请选择诉求类别")
            v.check(!note.isEmpty, "note", "required", "登记为诉求时请写明需要什么帮助")
            request = (category, (input.contactName ?? "").trimmingCharacters(in: .whitespaces), input.contactPhone ?? "")
        }
        // A visit typed without signal is lost if refused, so the pool's fields never refuse it:
        // the box counts only with "needs help" (its fields are hidden otherwise), an empty title
        // gets a neutral one the community completes, an unknown domain is "other".
        var need: (String, String)?
        if input.postNeed == true, outcome == .needsHelp {
            let typed = (input.needTitle ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(typed.count <= 60, "need_title", "too_long", "需求池的标题请在 60 字以内（不写姓名和门牌）")
            let domain = input.needDomain.flatMap { d in LinkageService.domains.contains { $0.0 == d } ? d : nil } ?? "other"
            need = (typed.isEmpty ? "网格员走访发现的需求（待社区补充）" : typed, domain)
        }
        try v.throwIfAny()
        var checked = ValidatedVisit(kind: kind, outcome: outcome!, note: note, careGiven: careGiven, carePaidBy: carePaidBy, followUpDay: followUp,
                                     followResult: result.flatMap(FollowResult.init(rawValue:)), referralTo: referral, request: request,
                                     visitedAt: visitedAt, clientKey: key)
        checked.need = need
        return checked
    }

    static let visitColumns = """
        SELECT v.id, v.household_id, d.address, v.kind, v.outcome, v.note_cipher, v.care_given, v.care_paid_by, v.follow_up_day,
               v.follow_result, v.referral_to, v.request_id, v.need_id, v.actor_name, v.visited_at, v.user_id, v.erased_at
        FROM visits v LEFT JOIN visit_due d ON d.household_id = v.household_id
        """

    func visitView(_ r: any SQLRow) throws -> VisitView {
        VisitView(id: try r.decode(column: "id", as: Int64.self), householdID: try r.decode(column: "household_id", as: Int64.self),
                  address: try r.decode(column: "address", as: String?.self) ?? "", kind: try r.decode(column: "kind", as: String.self),
                  outcome: try r.decode(column: "outcome", as: String.self),
                  note: try r.decode(column: "note_cipher", as: String?.self).map { try cipher.open($0) } ?? "",
                  careGiven: try r.decode(column: "care_given", as: String?.self), carePaidBy: try r.decode(column: "care_paid_by", as: String?.self),
                  followUpOn: try r.decode(column: "follow_up_day", as: Int64?.self).map { ChinaTime.iso(day: $0) },
                  followResult: try r.decode(column: "follow_result", as: String?.self), referralTo: try r.decode(column: "referral_to", as: String?.self),
                  requestID: try r.decode(column: "request_id", as: Int64?.self), needID: try r.decode(column: "need_id", as: Int64?.self).flatMap { $0 == 0 ? nil : $0 },
                  by: try r.decode(column: "actor_name", as: String.self),
                  visitedAt: LocalTime.text(try r.decode(column: "visited_at", as: Int64.self)),
                  erased: try r.decode(column: "erased_at", as: Int64?.self) != nil)
    }

    /// Visits as shown, with their photos' ids.
    func visitViews(_ db: any SQLDatabase, _ rows: [any SQLRow]) async throws -> [VisitView] {
        var views = try rows.map(visitView)
        let photos = try await photoIDs(db, owner: .visit, ids: views.map(\.id))
        for i in views.indices { views[i].photos = photos[views[i].id]?[0] ?? [] }
        return views
    }

    /// The household a visit is for, inside the actor's grid. By id outside it: 404. By a code:
    /// one answer for "no such code" and "not yours", naming the field, so a code says nothing
    /// about households elsewhere.
    func visitedHousehold(_ db: any SQLDatabase, _ input: VisitInput, actor: Actor) async throws -> HouseholdFacts {
        if let id = input.householdID {
            guard let f = try await registry.householdFacts(db, ids: [id]).first else { throw LinliError.notFound }
            try actor.require(.visitLog, on: f.scope)
            return f
        }
        guard let f = try await registry.householdFacts(db, code: input.householdCode ?? ""), actor.may(.visitLog, on: f.scope) else {
            throw LinliError.invalid("household_code", "unknown", "您负责的网格里没有这个户码，请核对户卡")
        }
        return f
    }

    /// Logs a visit (or an attempt) and moves the household's plan on, in one transaction with
    /// its audit row. A retry with the same `client_key` returns the first visit. "Needs help"
    /// with `file_request` files a request through the requests capability (idempotent by the
    /// visit, so a retry after a lost answer files it once).
    public func logVisit(_ input: VisitInput, photos files: [[UInt8]] = [], actor: Actor) async throws -> (visit: VisitView, created: Bool) {
        try actor.require(.visitLog)
        let now = env.nowSeconds
        let v = try Self.validate(input, now: now)
        if let key = v.clientKey, let existing = try await visit(byKey: key, actor: actor) {
            try Self.sameVisit(existing, input, v)
            return (try await followUps(existing, v, actor: actor), false)
        }
        // Checked and re-encoded before the transaction (a retry above never needs them again).
        let photos = try Self.preparePhotos(files: files, base64: input.photosBase64, field: "photos")
        let id: Int64
        do {
            id = try await store.transaction { db -> Int64 in
                let h = try await visitedHousehold(db, input, actor: actor)
                var due = try await dueRow(db, h)
                let visitDay = LocalDay.of(v.visitedAt)
                // A visit on or after the follow-up's lead day is that follow-up (its result, if given).
                var followUpOf: Int64?
                if v.outcome.counts, let d = due.facts.followUpDay, visitDay >= d - VisitPlan.followUpLead {
                    followUpOf = due.followUpVisit
                    due.facts.followUpDay = nil; due.followUpVisit = nil
                }
                let row = try await db.query("""
                    INSERT INTO visits (household_id, community_id, grid_id, micro_grid_id, path, kind, outcome, note_cipher, care_given, care_paid_by,
                                        follow_up_day, follow_up_of, follow_result, referral_to, user_id, actor_name, client_key, visited_at, created_at)
                    VALUES (\(h.id), \(h.communityID), \(h.gridID), \(h.microGridID), \(h.path), \(v.kind), \(v.outcome.rawValue),
                            \(v.note.isEmpty ? nil : try cipher.seal(v.note)), \(v.careGiven), \(v.carePaidBy), \(v.followUpDay), \(followUpOf),
                            \(v.followResult?.rawValue), \(v.referralTo), \(actor.acting?.userID ?? actor.userID), \(actor.signature), \(v.clientKey),
                            \(v.visitedAt), \(now))
                    RETURNING id
                    """).first()
                let id = try row!.decode(column: "id", as: Int64.self)
                try await savePhotos(db, photos, owner: .visit, id: id, community: h.communityID, takenAt: v.visitedAt, now: now)
                if v.outcome.counts {
                    due.facts.lastCounted = max(due.facts.lastCounted ?? 0, v.visitedAt)
                } else {
                    due.facts.lastAttempt = max(due.facts.lastAttempt ?? 0, v.visitedAt)
                }
                if let d = v.followUpDay { due.facts.followUpDay = d; due.followUpVisit = id }
                // Gone: off the plan. Anyone found living there (a visit that counts) puts it back;
                // nobody home proves nothing either way.
                // Visits sent late (kept offline) apply in the order they happened: an older visit
                // does not undo what a newer one found.
                if v.outcome == .moved, v.visitedAt >= (due.facts.lastCounted ?? 0) { due.movedAt = v.visitedAt }
                else if v.outcome.counts, v.visitedAt >= (due.movedAt ?? 0) { due.movedAt = nil }
                try await saveDue(db, [due])
                try await audit.append(db, actor: actor, action: "visit.log", objectType: "household", objectID: h.id, path: h.path,
                                       detail: "\(v.kind) \(v.outcome.rawValue)" + (v.followUpDay.map { " follow-up \(ChinaTime.iso(day: $0))" } ?? ""))
                return id
            }
        } catch {
            // Two retries at once: the loser finds the winner's visit.
            if let key = v.clientKey, !(error is LinliError), !(error is ValidationErrors), let existing = try await visit(byKey: key, actor: actor) {
                return (try await followUps(existing, v, actor: actor), false)
            }
            throw error
        }
        let saved = try await store.read { db in try await visitViews(db, [try await db.query("\(unsafeRaw: Self.visitColumns) WHERE v.id = \(id)").first()!])[0] }
        return (try await followUps(saved, v, actor: actor), true)
    }

    /// A retry must carry the same visit: a key reused for another household or outcome is refused.
    static func sameVisit(_ existing: VisitView, _ input: VisitInput, _ v: ValidatedVisit) throws {
        guard existing.outcome == v.outcome.rawValue, input.householdID.map({ $0 == existing.householdID }) ?? true else {
            throw LinliError.invalid("client_key", "key_reused", "该 client_key 已用于另一次走访")
        }
    }

    func visit(byKey key: String, actor: Actor) async throws -> VisitView? {
        try await store.read { db in
            guard let r = try await db.query("\(unsafeRaw: Self.visitColumns) WHERE v.user_id = \(actor.acting?.userID ?? actor.userID) AND v.client_key = \(key)")
                .first() else { return nil }
            return try await visitViews(db, [r]).first
        }
    }

    /// What a finding asks for after the visit is kept: a request, a need in the pool, or both.
    func followUps(_ visit: VisitView, _ v: ValidatedVisit, actor: Actor) async throws -> VisitView {
        try await postNeedIfAsked(try await fileRequestIfAsked(visit, v, actor: actor), v, actor: actor)
    }

    /// Puts the finding in the community's needs pool under the worker's public title (the
    /// private note stays with the visit); once, whatever the retries.
    func postNeedIfAsked(_ visit: VisitView, _ v: ValidatedVisit, actor: Actor) async throws -> VisitView {
        guard let need = v.need, visit.needID == nil else { return visit }
        // Claimed first (need_id 0 while posting), so two sends at once post it once.
        guard let community = try await store.transaction({ db in
            try await db.query("UPDATE visits SET need_id = 0 WHERE id = \(visit.id) AND need_id IS NULL RETURNING community_id").first()?
                .decode(column: "community_id", as: Int64.self)
        }) else { return visit }
        var input = LinkageService.NeedInput()
        input.communityID = community; input.kind = "need"; input.domain = need.domain; input.title = need.title
        input.body = "网格员走访发现"
        let needID: Int64
        do { needID = try await postNeed(input, actor) } catch {
            // Not posted: the claim goes, so a resend tries again.
            try? await store.transaction { db in try await db.query("UPDATE visits SET need_id = NULL WHERE id = \(visit.id) AND need_id = 0").run() }
            throw error
        }
        try await store.transaction { db in
            try await db.query("UPDATE visits SET need_id = \(needID) WHERE id = \(visit.id)").run()
        }
        var out = visit
        out.needID = needID
        return out
    }

    func fileRequestIfAsked(_ visit: VisitView, _ v: ValidatedVisit, actor: Actor) async throws -> VisitView {
        guard let r = v.request, visit.requestID == nil else { return visit }
        var input = RequestInput()
        input.category = r.category
        input.description = v.note
        input.householdID = visit.householdID
        input.channel = "visit"
        // Whoever the worker spoke to; else the worker, who knows the household and found the need.
        input.contactName = r.contactName.isEmpty && r.contactPhone.isEmpty ? actor.displayName : r.contactName
        input.contactPhone = r.contactPhone.isEmpty ? nil : r.contactPhone
        input.idempotencyKey = "visit-\(visit.id)"
        // The visit's photos stay with the visit: taken inside a home, they are for the grid's
        // staff and the community, not for whichever company or office the request goes to.
        let requestID = try await fileRequest(input, [], actor)
        try await store.transaction { db in
            try await db.query("UPDATE visits SET request_id = \(requestID) WHERE id = \(visit.id)").run()
        }
        var out = visit
        out.requestID = requestID
        return out
    }

    /// The household's row, made from the registry's facts when it has none yet.
    func dueRow(_ db: any SQLDatabase, _ h: HouseholdFacts) async throws -> DueRow {
        // Locked (PostgreSQL): two visits to one household at once would otherwise each write
        // what it read, and the first one's visit would be lost from the row.
        if let r = try await db.query("\(unsafeRaw: Self.dueColumns) WHERE household_id = \(h.id)\(unsafeRaw: store.dialect.lockForUpdate())").first() {
            return try Self.dueRow(r)
        }
        try await refresh(db, [h], existing: [:])
        return try Self.dueRow(try await db.query("\(unsafeRaw: Self.dueColumns) WHERE household_id = \(h.id)").first()!)
    }

    /// A household's visits, newest first, with their notes: for its grid's staff and the community.
    public func history(household: Int64, actor: Actor) async throws -> (HouseholdFacts, [VisitView]) {
        try await store.read { db in
            guard let f = try await registry.householdFacts(db, ids: [household]).first else { throw LinliError.notFound }
            try actor.require(.visitLog, on: f.scope)
            let visits = try await visitViews(db, try await db.query("\(unsafeRaw: Self.visitColumns) WHERE v.household_id = \(household) ORDER BY v.visited_at DESC, v.id DESC LIMIT 200")
                .all())
            return (f, visits)
        }
    }

    // MARK: Due list

    /// The grids a due list covers: the one asked for (inside the actor's area, else 404), or the
    /// actor's own as a grid worker. A member of staff without a grid of their own must pick one.
    func dueGrids(_ gridID: Int64?, actor: Actor) async throws -> [(grid: Int64, community: Int64)] {
        if let gridID {
            return try await store.read { db in
                guard let g = try await registry.fetchGrid(db, gridID), let c = try await registry.fetchPlace(db, g.communityID) else { throw LinliError.notFound }
                let scope = ObjectScope(path: c.path, gridIDs: [g.id] + (g.parentID.map { [$0] } ?? []))
                guard actor.may(.visitLog, on: scope) else { throw LinliError.notFound }
                return [(g.id, c.id)]
            }
        }
        let own = actor.grants(for: .visitLog).compactMap { g in g.gridID.map { ($0, PlacePath.communityID(g.placePath)) } }
        guard !own.isEmpty else { throw LinliError.invalid("grid", "required", "请选择网格") }
        return own
    }

    /// Days ahead a due list looks by default: what is missed or due within two weeks, follow-ups,
    /// retries. The rest of the period's households ("by 31 December") are counted, and shown
    /// when asked for (`all`), so a yearly round does not bury this week's elderly on the list.
    public static let dueHorizon: Int64 = 14

    /// `dueGrids`, with their communities' rows made sure of.
    func syncedGrids(_ gridID: Int64?, actor: Actor) async throws -> [Int64] {
        try actor.require(.visitLog)
        let grids = try await dueGrids(gridID, actor: actor)
        for c in Set(grids.map(\.community)) where c > 0 { try await ensureSynced(community: c) }
        return grids.map(\.grid)
    }

    public func due(gridID: Int64?, actor: Actor, all: Bool = false, limit: Int = 300) async throws -> DueList {
        let ids = try await syncedGrids(gridID, actor: actor)
        return try await store.read { db in try await dueList(db, grids: ids, all: all, limit: limit) }
    }

    /// The visits page's four lists — the due list, the notices unread for two days, the open
    /// tasks and the patrols not yet walked — in one read: the page a grid worker opens most.
    func visitsPage(gridID: Int64?, actor: Actor, all: Bool) async throws -> (due: DueList, unread: [UnreadNotice], tasks: [GridTaskView], routes: [PatrolRouteView]) {
        let ids = try await syncedGrids(gridID, actor: actor)
        let worker = !Self.workerGrids(actor).isEmpty
        return try await store.read { db in
            let list = try await dueList(db, grids: ids, all: all, limit: 300)
            let unread = try await unreadNotices(db, grids: ids)
            let tasks = worker ? try await workerTasks(db, actor: actor, openOnly: true).filter { $0.state == .open || $0.state == .overdue } : []
            let routes = worker ? try await workerRoutes(db, actor: actor).filter { $0.state != .done } : []
            return (list, unread, tasks, routes)
        }
    }

    func dueList(_ db: any SQLDatabase, grids ids: [Int64], all: Bool, limit: Int) async throws -> DueList {
        let today = LocalDay.of(env.nowSeconds)
        // The two-week list reads only rows whose list day has come; the rest of the period is
        // counted from the index. The whole list reads every row whose day has come.
        let grids: BoundSQL = "(grid_id IN (\(list: ids)) OR micro_grid_id IN (\(list: ids)))"
        let rows = try await db.query("""
            \(unsafeRaw: Self.dueColumns) WHERE \(grids) AND \(unsafeRaw: all ? "show_from" : "list_from") <= \(today)
            """).all().map(Self.dueRow)
        let counted = all ? 0 : try await db.query("""
            SELECT COUNT(*) AS n FROM visit_due WHERE \(grids) AND list_from > \(today) AND show_from <= \(today)
            """).first()!.decode(column: "n", as: Int.self)
        var items: [(DueItem, DueRow)] = []
        var later = counted
        for r in rows {
            guard let d = VisitPlan.due(period: r.period, facts: r.facts, today: today) else { continue }
            if all || VisitPlan.listed(d, today: today, horizon: Self.dueHorizon) { items.append((d, r)) } else { later += 1 }
        }
        items.sort { VisitPlan.before($0.0, $1.0, today: today) || (!VisitPlan.before($1.0, $0.0, today: today) && $0.1.address < $1.1.address) }
        let overdue = items.filter { $0.0.overdue }.count
        let out = items.prefix(limit).map { d, r in
            DueVisit(householdID: r.householdID, address: r.address, situations: VisitSituation.all.filter { r.situations.contains($0) && $0 != VisitSituation.everyone },
                     because: r.because, period: r.period?.rawValue, reason: d.reason.rawValue, dueOn: ChinaTime.iso(day: d.dueDay), overdue: d.overdue,
                     retryFrom: d.retryFrom.map { ChinaTime.iso(day: $0) }, lastVisit: r.facts.lastCounted.map { ChinaTime.iso(day: LocalDay.of($0)) })
        }
        return DueList(gridIDs: ids, items: Array(out), total: items.count, overdue: overdue, later: later)
    }

    // MARK: Coverage

    /// Each grid against its rules: per grid and governing situation, households, visited in the
    /// current window, and missed the last one. Counted from the households' rows in one read.
    public func coverage(community: Int64, actor: Actor) async throws -> (VisitRulesView, [CoverageLine]) {
        let plan = try await rules(community: community, actor: actor)
        try await ensureSynced(community: community)
        let today = LocalDay.of(env.nowSeconds)
        let rows = try await store.read { db in
            try await db.query("\(unsafeRaw: Self.dueColumns) WHERE community_id = \(community) AND period IS NOT NULL AND moved_at IS NULL").all().map(Self.dueRow)
        }
        let names = Dictionary(plan.grids.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var lines: [String: CoverageLine] = [:]
        for r in rows {
            guard let period = r.period, let because = r.because else { continue }
            let key = "\(r.gridID)|\(because)"
            var line = lines[key] ?? CoverageLine(gridID: r.gridID, gridName: names[r.gridID] ?? "#\(r.gridID)", situation: because, period: period.rawValue,
                                                  households: 0, covered: 0, overdue: 0,
                                                  ownRule: plan.rules.contains { $0.gridID == r.gridID && $0.situation == because })
            line.households += 1
            let w = period.window(containing: today)
            if (r.facts.lastCounted.map(LocalDay.of) ?? Int64.min) >= w.first { line.covered += 1 }
            else if VisitPlan.due(period: period, facts: VisitFacts(lastCounted: r.facts.lastCounted, since: r.facts.since), today: today)?.overdue == true {
                line.overdue += 1
            }
            lines[key] = line
        }
        let out = lines.values.sorted {
            ($0.gridName, VisitPlan.rank($0.situation)) < ($1.gridName, VisitPlan.rank($1.situation))
        }
        return (plan, out)
    }
}

extension GridWorkService {
    /// The household a visit form is for (by id, or by a scanned or typed code), with whether a
    /// follow-up is pending there: the form asks for its result then.
    public func visitTarget(householdID: Int64?, code: String?, actor: Actor) async throws -> (household: HouseholdFacts, followUpPending: Bool) {
        try actor.require(.visitLog)
        var asked = VisitInput()
        asked.householdID = householdID
        asked.householdCode = code
        let input = asked
        if householdID == nil, (code ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw LinliError.invalid("household_code", "required", "请扫描或输入户码")
        }
        return try await store.read { db in
            let h = try await visitedHousehold(db, input, actor: actor)
            let pending = try await db.query("SELECT follow_up_day FROM visit_due WHERE household_id = \(h.id)").first()
                .flatMap { try $0.decode(column: "follow_up_day", as: Int64?.self) } != nil
            return (h, pending)
        }
    }

    /// Communities the actor may take `action` in (plan visits, send announcements), for a page's choice.
    public func communities(actor: Actor, _ action: Action) async throws -> [(id: Int64, name: String)] {
        try await registry.communityChoices(actor: actor, action)
    }

    /// A community's grids an announcement may go to: all of them for its staff, a grid worker's own.
    /// `ownOnly`: the actor sends only to these (a grid worker).
    public func grids(community: Int64, actor: Actor) async throws -> (grids: [GridSummary], ownOnly: Bool) {
        try await store.read { db in
            let (c, onlyGrids) = try await sendingScope(db, community, actor: actor)
            return (try await registry.gridsOf(db, community: c.id).filter { onlyGrids?.contains($0.id) ?? true }, onlyGrids != nil)
        }
    }
}
