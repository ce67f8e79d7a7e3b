import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

/// Community enterprises (社区企业): registered by the community's office with the community's
/// share and the businesses they run; each year's revenue and profit reported, with the share
/// of profit returned to the community fund by agreement; the money booked on the community's
/// ledger only when it has arrived (by bank reference, once each); a public report per
/// enterprise and a public list per community.
extension AffairsService {
    static let enterpriseColumns = """
        SELECT e.id, e.community_id, e.path, e.name, e.credit_code, e.business, e.community_share, e.return_percent, e.contact, e.active, p.name AS community
        FROM community_enterprises e JOIN places p ON p.id = e.community_id
        """

    struct EnterpriseRow { var id: Int64, communityID: Int64, path: String, name: String, community: String, returnPercent: Int }

    /// Checks the fields common to registering and changing; nil fields are left as they are.
    func validated(_ i: EnterpriseInput, creating: Bool) throws -> (name: String?, code: String?, business: String?, contact: String?) {
        var v = Validator()
        let name = i.name.map { Self.trimmed($0) }
        if creating || name != nil {
            v.check(!(name ?? "").isEmpty && (name ?? "").count <= EnterpriseLimits.nameMax, "name", "required", "请填写企业名称（60 字以内）")
        }
        let code = i.creditCode.map { Self.trimmed($0).uppercased() }
        if let code, !code.isEmpty {
            v.check(EnterpriseRules.creditCodeValid(code), "credit_code", "invalid", "统一社会信用代码应为 18 位且校验位正确")
        }
        let business = i.business.map { Self.trimmed($0) }
        if creating || business != nil {
            v.check(!(business ?? "").isEmpty && (business ?? "").count <= EnterpriseLimits.businessMax, "business", "required", "请填写经营的服务或业务（500 字以内）")
        }
        if creating || i.communityShare != nil {
            v.check((0...100).contains(i.communityShare ?? -1), "community_share", "invalid", "社区持股比例应为 0 到 100")
        }
        if creating || i.returnPercent != nil {
            v.check((0...100).contains(i.returnPercent ?? -1), "return_percent", "invalid", "利润回馈比例应为 0 到 100")
        }
        let contact = i.contact.map { Self.trimmed($0) }
        v.check((contact ?? "").count <= EnterpriseLimits.contactMax, "contact", "too_long", "联系人不能超过 60 个字")
        try v.throwIfAny()
        return (name, code, business, contact)
    }

    /// The community an enterprise is registered in: a community or village the actor keeps the
    /// funds of. Refusals name `place_id`.
    func enterpriseCommunity(_ db: any SQLDatabase, _ placeID: Int64?, _ actor: Actor) async throws -> RegistryService.PlaceRow {
        guard let placeID else { throw LinliError.invalid("place_id", "required", "请选择企业所在的社区") }
        guard let place = try await registry.fetchPlace(db, placeID), actor.may(.fundManage, on: place.scope) else {
            throw LinliError.invalid("place_id", "not_found", "您管辖范围内没有这个社区")
        }
        guard place.kind.isCommunity else { throw LinliError.invalid("place_id", "kind", "社区企业应登记在社区（村）") }
        return place
    }

    public func registerEnterprise(_ i: EnterpriseInput, actor: Actor) async throws -> EnterpriseView {
        let (name, code, business, contact) = try validated(i, creating: true)
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let place = try await enterpriseCommunity(db, i.placeID, actor)
            try await requireUniqueCode(db, code, except: nil)
            // Checked above for a clear answer; two registering the same code at once meet the unique index.
            let id = try await Self.once("credit_code", "这个统一社会信用代码已登记过") { try await db.query("""
                INSERT INTO community_enterprises (community_id, path, name, credit_code, business, community_share, return_percent, contact, active, created_by, created_at)
                VALUES (\(place.id), \(place.path), \(name!), \(code ?? ""), \(business!), \(i.communityShare!), \(i.returnPercent!), \(contact ?? ""), 1, \(actor.userID), \(now))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self) }
            try await audit.append(db, actor: actor, action: "enterprise.register", objectType: "community_enterprise", objectID: id, path: place.path,
                                   detail: "\(name!) share=\(i.communityShare!)% return=\(i.returnPercent!)%")
            return id
        }
        return try await enterprise(id, actor: actor)
    }

    func requireUniqueCode(_ db: any SQLDatabase, _ code: String?, except id: Int64?) async throws {
        guard let code, !code.isEmpty else { return }
        if try await db.query("SELECT id FROM community_enterprises WHERE credit_code = \(code) AND id <> \(id ?? 0)").first() != nil {
            throw LinliError(.conflict, code: "duplicate", field: "credit_code", message: "这个统一社会信用代码已登记过")
        }
    }

    /// The fields of money that has arrived (an enterprise's return, a month's meal subsidy):
    /// the amount, the bank's reference (each booked once), the day it arrived (not after today).
    /// Refusals are recorded beside the caller's other fields.
    static func arrival(_ v: inout Validator, amount raw: String?, reference rawReference: String?, day rawDay: String?, now: Int64) -> (Int64, String, Int64?) {
        let amount = v.fen(raw, "amount")
        let reference = trimmed(rawReference)
        v.check(!reference.isEmpty && reference.count <= EnterpriseLimits.referenceMax, "reference", "required", "请填写银行流水号或收据号（60 字以内）")
        var day: Int64?
        do { day = try Input.day(rawDay, field: "day") } catch let e as LinliError { v.add(e) } catch {}
        if rawDay?.isEmpty ?? true { v.add(LinliError.invalid("day", "required", "请填写到账日期")) }
        if let d = day { v.check(d <= LocalDay.of(now), "day", "future", "到账日期不能晚于今天") }
        return (amount, reference, day)
    }

    /// The enterprise, for staff who keep its community's funds; anyone else gets 404.
    func fetchEnterprise(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, lock: Bool = false) async throws -> EnterpriseRow {
        try await fetchEnterpriseRow(db, id, actor, lock: lock).0
    }

    func fetchEnterpriseRow(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, lock: Bool = false) async throws -> (EnterpriseRow, any SQLRow) {
        guard let r = try await db.query("\(unsafeRaw: Self.enterpriseColumns) WHERE e.id = \(id)\(unsafeRaw: lock && store.dialect == .postgres ? " FOR UPDATE OF e" : "")").first() else {
            throw LinliError.notFound
        }
        let path = try r.decode(column: "path", as: String.self)
        guard actor.may(.fundManage, on: ObjectScope(path: path)) else { throw LinliError.notFound }
        return (EnterpriseRow(id: id, communityID: try r.decode(column: "community_id", as: Int64.self), path: path, name: try r.decode(column: "name", as: String.self),
                             community: try r.decode(column: "community", as: String.self), returnPercent: try r.decode(column: "return_percent", as: Int.self)), r)
    }

    public func updateEnterprise(_ id: Int64, _ i: EnterpriseInput, actor: Actor) async throws -> EnterpriseView {
        let (name, code, business, contact) = try validated(i, creating: false)
        guard i.placeID == nil else { throw LinliError.invalid("place_id", "fixed", "企业所在社区登记后不能更改；请另行登记") }
        try await store.transaction { db in
            let e = try await fetchEnterprise(db, id, actor, lock: true)
            try await requireUniqueCode(db, code, except: id)
            var sets: [BoundSQL] = []
            if let name { sets.append("name = \(name)") }
            if let code { sets.append("credit_code = \(code)") }
            if let business { sets.append("business = \(business)") }
            if let share = i.communityShare { sets.append("community_share = \(share)") }
            if let r = i.returnPercent { sets.append("return_percent = \(r)") }
            if let contact { sets.append("contact = \(contact)") }
            if let active = i.active { sets.append("active = \(active ? 1 : 0)") }
            guard !sets.isEmpty else { return }
            let assignments = sets.dropFirst().reduce(sets[0]) { "\($0), \($1)" }
            try await Self.once("credit_code", "这个统一社会信用代码已登记过") { try await db.query("UPDATE community_enterprises SET \(assignments) WHERE id = \(id)").run() }
            try await audit.append(db, actor: actor, action: "enterprise.update", objectType: "community_enterprise", objectID: id, path: e.path, detail: name ?? e.name)
        }
        return try await enterprise(id, actor: actor)
    }

    /// Records (or corrects) a year's report: revenue, profit, the agreed share and so what the
    /// year owes the community fund. A correction may not owe less than has already arrived.
    public func reportYear(_ id: Int64, _ i: EnterpriseYearInput, actor: Actor) async throws -> EnterpriseView {
        let now = env.nowSeconds
        let thisYear = Int(ChinaTime.iso(day: LocalDay.of(now)).prefix(4))!
        var v = Validator()
        v.check((EnterpriseLimits.firstYear...thisYear).contains(i.year ?? 0), "year", "invalid", "年度应为 \(EnterpriseLimits.firstYear) 到 \(thisYear) 年")
        var revenue: Int64 = 0, profit: Int64 = 0
        do { revenue = try EnterpriseRules.signedFen(i.revenue, field: "revenue") } catch let e as LinliError { v.add(e) }
        v.check(revenue >= 0, "revenue", "negative", "营业收入不能为负数")
        do { profit = try EnterpriseRules.signedFen(i.profit, field: "profit") } catch let e as LinliError { v.add(e) }
        if let p = i.returnPercent { v.check((0...100).contains(p), "return_percent", "invalid", "利润回馈比例应为 0 到 100") }
        if let s = i.served { v.check((0...10_000_000).contains(s), "served", "invalid", "服务人次应为 0 到 1000 万") }
        let report = Self.trimmed(i.report)
        v.check(report.count <= EnterpriseLimits.reportMax, "report", "too_long", "年度报告不能超过 4000 字")
        try v.throwIfAny()
        let year = i.year!
        try await store.transaction { [revenue, profit] db in
            let e = try await fetchEnterprise(db, id, actor, lock: true)
            let percent = i.returnPercent ?? e.returnPercent
            let due = EnterpriseRules.due(profit: profit, percent: percent)
            if let old = try await db.query("SELECT received FROM enterprise_years WHERE enterprise_id = \(id) AND year = \(year)").first() {
                let received = try old.decode(column: "received", as: Int64.self)
                guard EnterpriseRules.mayRestate(newDue: due, received: received) else {
                    throw LinliError(.conflict, code: "below_received", field: "profit", message: "该年度已到账 \(Fen.text(received)) 元，更正后的应回馈额不能少于此数")
                }
                try await db.query("""
                    UPDATE enterprise_years SET revenue = \(revenue), profit = \(profit), return_percent = \(percent), due = \(due), served = \(i.served),
                        report = \(report), reported_by = \(actor.userID), reported_at = \(now)
                    WHERE enterprise_id = \(id) AND year = \(year)
                    """).run()
            } else {
                try await db.query("""
                    INSERT INTO enterprise_years (enterprise_id, year, revenue, profit, return_percent, due, received, served, report, reported_by, reported_at)
                    VALUES (\(id), \(year), \(revenue), \(profit), \(percent), \(due), 0, \(i.served), \(report), \(actor.userID), \(now))
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "enterprise.report", objectType: "community_enterprise", objectID: id, path: e.path,
                                   detail: "year=\(year) revenue=\(revenue) profit=\(profit) return=\(percent)% due=\(due)")
        }
        return try await enterprise(id, actor: actor)
    }

    /// Books money that has arrived from the enterprise for a year's return: into the
    /// community's account on the ledger, listed on its public ledger. Never more than the year
    /// still owes; a reference already booked is refused (the first booking stands).
    public func receiveReturn(_ id: Int64, _ i: EnterpriseReturnInput, actor: Actor) async throws -> EnterpriseView {
        let now = env.nowSeconds
        var v = Validator()
        v.check(i.year != nil, "year", "required", "请选择年度")
        let (amount, reference, day) = Self.arrival(&v, amount: i.amount, reference: i.reference, day: i.day, now: now)
        try v.throwIfAny()
        let year = i.year!, arrived = day!
        if let first = Input.day(String(format: "%04d-01-01", year)), arrived < first {
            throw LinliError.invalid("day", "before_year", "到账日期不能早于 \(year) 年")
        }
        try await store.transaction { db in
            let e = try await fetchEnterprise(db, id, actor, lock: true)
            guard let y = try await db.query("SELECT due, received FROM enterprise_years WHERE enterprise_id = \(id) AND year = \(year)").first() else {
                throw LinliError.invalid("year", "not_reported", "这一年度还没有填报，请先填报年度经营情况")
            }
            if try await db.query("SELECT id FROM enterprise_returns WHERE enterprise_id = \(id) AND reference = \(reference)").first() != nil {
                throw LinliError(.conflict, code: "already_booked", field: "reference", message: "这笔到账（\(reference)）已登记过")
            }
            let due = try y.decode(column: "due", as: Int64.self), received = try y.decode(column: "received", as: Int64.self)
            guard EnterpriseRules.mayReceive(amount, due: due, received: received) else {
                throw LinliError.invalid("amount", "above_due", due == 0 ? "该年度没有应回馈的利润" : "该年度尚应回馈 \(Fen.text(due - received)) 元，到账金额不能多于此数")
            }
            let txn = try await bookArrival(db, FundArrival(kind: .enterpriseReturn, fromID: id, fromName: e.name, communityID: e.communityID, path: e.path,
                                                            communityName: e.community, amount: amount, memo: e.name, key: "enterprise:\(id):\(reference)"), actor)
            try await db.query("UPDATE enterprise_years SET received = received + \(amount) WHERE enterprise_id = \(id) AND year = \(year)").run()
            try await db.query("""
                INSERT INTO enterprise_returns (enterprise_id, year, amount, reference, arrived_day, txn_id, recorded_by, recorded_at)
                VALUES (\(id), \(year), \(amount), \(reference), \(arrived), \(txn), \(actor.userID), \(now))
                """).run()
            try await audit.append(db, actor: actor, action: "enterprise.return", objectType: "community_enterprise", objectID: id, path: e.path,
                                   detail: "year=\(year) amount=\(amount) ref=\(reference)")
        }
        return try await enterprise(id, actor: actor)
    }

    func enterpriseView(_ db: any SQLDatabase, _ r: any SQLRow, staff: Bool) async throws -> EnterpriseView {
        let id = try r.decode(column: "id", as: Int64.self)
        let years = try await db.query("""
            SELECT year, revenue, profit, return_percent, due, received, served, report, reported_at FROM enterprise_years WHERE enterprise_id = \(id) ORDER BY year DESC
            """).all().map { y in
            let due = try y.decode(column: "due", as: Int64.self), received = try y.decode(column: "received", as: Int64.self)
            return EnterpriseYearView(year: try y.decode(column: "year", as: Int.self), revenue: Fen.text(try y.decode(column: "revenue", as: Int64.self)),
                                      profit: Fen.text(try y.decode(column: "profit", as: Int64.self)), returnPercent: try y.decode(column: "return_percent", as: Int.self),
                                      due: Fen.text(due), received: Fen.text(received), outstanding: Fen.text(max(0, due - received)),
                                      standing: EnterpriseRules.standing(due: due, received: received), served: try y.decode(column: "served", as: Int?.self),
                                      report: try y.decode(column: "report", as: String.self),
                                      reportedAt: ChinaTime.iso(day: LocalDay.of(try y.decode(column: "reported_at", as: Int64.self))))
        }
        var total: Int64 = 0
        let arrivals = try await db.query("SELECT year, amount, reference, arrived_day FROM enterprise_returns WHERE enterprise_id = \(id) ORDER BY arrived_day DESC, id DESC").all().map { a in
            let amount = try a.decode(column: "amount", as: Int64.self), reference = try a.decode(column: "reference", as: String.self)
            total += amount
            return EnterpriseArrivalView(year: try a.decode(column: "year", as: Int.self), amount: Fen.text(amount),
                                         day: ChinaTime.iso(day: try a.decode(column: "arrived_day", as: Int64.self)),
                                         reference: staff ? reference : nil)
        }
        let contact = try r.decode(column: "contact", as: String.self)
        return EnterpriseView(id: id, communityID: try r.decode(column: "community_id", as: Int64.self), community: try r.decode(column: "community", as: String.self),
                              name: try r.decode(column: "name", as: String.self), creditCode: try r.decode(column: "credit_code", as: String.self),
                              business: try r.decode(column: "business", as: String.self), communityShare: try r.decode(column: "community_share", as: Int.self),
                              returnPercent: try r.decode(column: "return_percent", as: Int.self), contact: staff ? contact : nil,
                              active: try r.decode(column: "active", as: Int.self) == 1, years: years, arrivals: arrivals, returned: Fen.text(total))
    }

    public func enterprise(_ id: Int64, actor: Actor) async throws -> EnterpriseView {
        try await store.read { db in
            try await enterpriseView(db, try await fetchEnterpriseRow(db, id, actor).1, staff: true)
        }
    }

    /// The enterprises of the communities whose funds the actor keeps.
    public func enterprises(actor: Actor) async throws -> [EnterpriseView] {
        let paths = Set(actor.grants(for: .fundManage).map(\.placePath)).sorted()
        guard !paths.isEmpty else { throw LinliError.forbidden }
        return try await store.read { db in
            let each = paths.map { p -> BoundSQL in "e.path LIKE \(p + "%")" }
            let any = each.dropFirst().reduce(each[0]) { "\($0) OR \($1)" }
            var out: [EnterpriseView] = []
            for r in try await db.query("\(unsafeRaw: Self.enterpriseColumns) WHERE \(any) ORDER BY e.path, e.id LIMIT 200").all() {
                out.append(try await enterpriseView(db, r, staff: true))
            }
            return out
        }
    }

    /// The public report of one enterprise: no contact and no bank references. A retired
    /// (inactive) enterprise keeps its report: the money it returned stays on the ledger.
    public func enterpriseReport(_ id: Int64) async throws -> EnterpriseView {
        try await store.read { db in
            guard let r = try await db.query("\(unsafeRaw: Self.enterpriseColumns) WHERE e.id = \(id)").first() else { throw LinliError.notFound }
            return try await enterpriseView(db, r, staff: false)
        }
    }

    /// A community's enterprises, for anyone: name, share, businesses and what each returned.
    public func communityEnterprises(_ communityID: Int64) async throws -> (name: String, enterprises: [EnterpriseView]) {
        try await store.read { db in
            guard let c = try await registry.fetchPlace(db, communityID), c.kind.isCommunity else { throw LinliError.notFound }
            var out: [EnterpriseView] = []
            for r in try await db.query("\(unsafeRaw: Self.enterpriseColumns) WHERE e.community_id = \(communityID) ORDER BY e.active DESC, e.id LIMIT 200").all() {
                out.append(try await enterpriseView(db, r, staff: false))
            }
            return (c.name, out)
        }
    }

    /// Communities the actor may register an enterprise in (for the form's list).
    public func enterpriseCommunities(actor: Actor) async throws -> [(id: Int64, name: String)] {
        let paths = Set(actor.grants(for: .fundManage).map(\.placePath)).sorted()
        return try await store.read { db in
            var out: [(Int64, String)] = [], seen = Set<Int64>()
            let kinds = PlaceKind.allCases.filter(\.isCommunity).map(\.rawValue)
            for p in paths {
                for r in try await db.query("SELECT id, name FROM places WHERE kind IN (\(list: kinds)) AND \(store.dialect.startsWith("path", p)) ORDER BY path LIMIT 500").all() {
                    let id = try r.decode(column: "id", as: Int64.self)
                    if seen.insert(id).inserted { out.append((id, try r.decode(column: "name", as: String.self))) }
                }
            }
            return out
        }
    }
}
