import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Community funds on a double-entry ledger: crowdfunding gifts to micro-projects, government
/// matching pools, approved expenses with receipts, and the public ledger. Every movement is one
/// transaction whose entries sum to zero; balances are a cache of the entries written with them.
extension LinkageService {
    // MARK: Ledger core

    /// `department`: a department's budget for work items; `finance`: the treasury that funds it;
    /// `community`: a community's own account, where money following a task (费随事转) and a
    /// community enterprise's returned profit arrive; `enterprise`: where that profit comes from;
    /// `canteen`: a canteen's account, where the government's meal subsidy (`subsidy`) arrives.
    enum AccountKind: String { case project, pool, donors, government, payees, venture, department, finance, community, enterprise, canteen, subsidy, diners }

    /// The account of (kind, ref), created on first use with a zero balance.
    func account(_ db: any SQLDatabase, _ kind: AccountKind, _ ref: Int64, path: String, name: String) async throws -> Int64 {
        if let r = try await db.raw("SELECT id FROM ledger_accounts WHERE kind = \(bind: kind.rawValue) AND ref_id = \(bind: ref)").first() {
            return try r.decode(column: "id", as: Int64.self)
        }
        // Two first gifts may race to open the same account: the loser reads the winner's.
        if let made = try await db.raw("""
            INSERT INTO ledger_accounts (kind, ref_id, path, name) VALUES (\(bind: kind.rawValue), \(bind: ref), \(bind: path), \(bind: name))
            ON CONFLICT (kind, ref_id) DO NOTHING RETURNING id
            """).first() {
            let id = try made.decode(column: "id", as: Int64.self)
            try await db.raw("INSERT INTO account_balances (account_id, balance) VALUES (\(bind: id), 0)").run()
            return id
        }
        return try await db.raw("SELECT id FROM ledger_accounts WHERE kind = \(bind: kind.rawValue) AND ref_id = \(bind: ref)").first()!.decode(column: "id", as: Int64.self)
    }

    /// Two accounts at once, the way a gift needs its project's and its givers': one lookup
    /// when both exist (every gift but a project's first), `account` for one that does not.
    func accounts(_ db: any SQLDatabase, _ a: (kind: AccountKind, ref: Int64, path: String, name: String),
                  _ b: (kind: AccountKind, ref: Int64, path: String, name: String)) async throws -> (Int64, Int64) {
        precondition(a.kind != b.kind, "two accounts of one kind: found by kind")
        var found: [String: Int64] = [:]
        for r in try await db.query("""
            SELECT kind, id FROM ledger_accounts WHERE (kind = \(a.kind.rawValue) AND ref_id = \(a.ref)) OR (kind = \(b.kind.rawValue) AND ref_id = \(b.ref))
            """).all() {
            found[try r.decode(column: "kind", as: String.self)] = try r.decode(column: "id", as: Int64.self)
        }
        var first = found[a.kind.rawValue], second = found[b.kind.rawValue]
        if first == nil { first = try await account(db, a.kind, a.ref, path: a.path, name: a.name) }
        if second == nil { second = try await account(db, b.kind, b.ref, path: b.path, name: b.name) }
        return (first!, second!)
    }

    /// The balance (its shard rows added up), locked for the rest of the transaction on
    /// PostgreSQL so that a check made on it still holds when the entries are written. A
    /// project's account takes gifts in shards made on the fly, so whoever checks or debits it
    /// holds the project first (`lockProject`): gifts only ever add to it meanwhile.
    func lockedBalance(_ db: any SQLDatabase, _ account: Int64) async throws -> Int64 {
        try await db.raw("SELECT balance FROM account_balances WHERE account_id = \(bind: account)\(unsafeRaw: lockRow)").all()
            .reduce(0) { $0 + (try $1.decode(column: "balance", as: Int64.self)) }
    }

    /// Gifts to one project on PostgreSQL book into up to this many shards of its balance and
    /// totals, so that up to this many pass each other (64 connections on two cores measured
    /// no better with more).
    static let giftShards = 8

    /// Holds one shard of the project's totals (and so of its account's balance) for a gift and
    /// returns it. On PostgreSQL it is the lowest shard no other transaction holds: a quiet
    /// project books into shard 0, a crowded one spreads. SQLite's one writer needs no lock.
    func giftShard(_ db: any SQLDatabase, _ project: Int64) async throws -> Int {
        guard store.dialect == .postgres else { return 0 }
        let free: BoundSQL = "SELECT shard FROM project_totals WHERE project_id = \(project) ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED"
        if let r = try await db.query(free).first() { return try r.decode(column: "shard", as: Int.self) }
        // None free: a project's first gift makes its shard rows; when every one is held, the
        // gift waits for one of them.
        if try await db.query("SELECT shard FROM project_totals WHERE project_id = \(project) LIMIT 1").first() == nil {
            try await makeShards(db, project)
            if let r = try await db.query(free).first() { return try r.decode(column: "shard", as: Int.self) }
        }
        let shard = Int.random(in: 0..<Self.giftShards)
        _ = try await db.query("SELECT shard FROM project_totals WHERE project_id = \(project) AND shard = \(shard) FOR UPDATE").first()
        return shard
    }

    /// Every shard row of a project's totals, made at once: whoever holds the project whole
    /// (`lockProject`) must hold every row a gift could book into, or a gift would book into a
    /// row made after it looked.
    func makeShards(_ db: any SQLDatabase, _ project: Int64) async throws {
        try await db.query("""
            INSERT INTO project_totals (project_id, shard) SELECT \(project), s FROM generate_series(0, \(Self.giftShards - 1)) AS s ON CONFLICT DO NOTHING
            """).run()
    }

    /// Holds the whole project on PostgreSQL: every shard of its totals, so no gift books into
    /// it meanwhile. Whoever debits or checks the project's money (an expense, a grant, staff
    /// matching by hand) holds it first, and always shard 0, so they queue on one another.
    func lockProject(_ db: any SQLDatabase, _ project: Int64) async throws {
        guard store.dialect == .postgres else { return }
        try await makeShards(db, project)
        _ = try await db.query("SELECT shard FROM project_totals WHERE project_id = \(project) ORDER BY shard FOR UPDATE").all()
    }

    /// The shard of a community's givers' account a gift books into: its own pick, not the
    /// project's, so that quiet projects' gifts in one community do not queue on one row. Whoever
    /// holds one waits afterwards only for the pool, which no holder of the pool waits on it for.
    func donorsShard(txn: Int64) -> Int {
        store.dialect == .postgres ? Int(txn % Int64(Self.giftShards)) : 0
    }

    /// Money put into an area above a community (a street's pool or venture round) is booked
    /// against the first community it covers only because the column is required; the movement
    /// belongs to the pool or round, and no community's public ledger lists it.
    func ledgerCommunity(_ db: any SQLDatabase, areaPath path: String) async throws -> Int64 {
        // By id, never by path text: "/…/335/" sorts before "/…/4/".
        try await db.raw("SELECT id FROM places WHERE \(store.dialect.startsWith("path", path)) AND kind IN ('community', 'village') ORDER BY id LIMIT 1").first()
            .map { try $0.decode(column: "id", as: Int64.self) } ?? PlacePath.ids(path).last!
    }

    struct Movement {
        var kind: String
        var communityID: Int64
        var projectID: Int64?
        var poolID: Int64?
        var amount: Int64
        var donorName = ""
        var donorPublic = false
        var donorKind = ""
        var memo = ""
        var key: String?
    }

    /// Writes one balanced transaction and moves the cached balances with it (shard 0: a
    /// project's account is held whole, `lockProject`, by anyone who posts to it this way).
    @discardableResult
    func post(_ db: any SQLDatabase, _ m: Movement, _ postings: [Posting], actor: Actor?, now: Int64) async throws -> Int64 {
        let id = try await record(db, m, postings, actor: actor, now: now)
        for s in Self.applied(m, postings) { try await db.query(s).run() }
        return id
    }

    /// A movement's own rows: the transaction and its entries. Nobody else writes them, so a
    /// step whose balances others wait on records them before it takes any lock.
    func record(_ db: any SQLDatabase, _ m: Movement, _ postings: [Posting], actor: Actor?, now: Int64) async throws -> Int64 {
        precondition(Posting.balanced(postings), "unbalanced ledger transaction")
        let id = try await db.raw("""
            INSERT INTO ledger_transactions (kind, community_id, project_id, pool_id, amount, donor_name, donor_public, donor_kind, memo, idempotency_key, created_by, at)
            VALUES (\(bind: m.kind), \(bind: m.communityID), \(bind: m.projectID), \(bind: m.poolID), \(bind: m.amount), \(bind: m.donorName), \(bind: m.donorPublic ? 1 : 0),
                    \(bind: m.donorKind), \(bind: m.memo), \(bind: m.key), \(bind: actor?.userID), \(bind: now)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        var insert = db.insert(into: "ledger_entries").columns("txn_id", "account_id", "amount")
        for p in postings { insert = insert.values(SQLBind(id), SQLBind(p.account), SQLBind(p.amount)) }
        try await insert.run()
        return id
    }

    /// What a movement changes that others share: each account's balance and the project's
    /// totals, one upsert each (so that the statements may also run together as one on
    /// PostgreSQL, `runAll`, where a row inserted by one part is not seen by another), in the
    /// shard `shards` names for the account (0 otherwise) and `totalsShard` for the project.
    /// The postings' accounts are distinct.
    static func applied(_ m: Movement, _ postings: [Posting], shards: [Int64: Int] = [:], totalsShard: Int = 0) -> [BoundSQL] {
        // Run as one statement on PostgreSQL, two updates of one row would apply only one.
        precondition(Set(postings.map(\.account)).count == postings.count, "an account posted twice in one movement")
        var out: [BoundSQL] = postings.map { p in
            """
            INSERT INTO account_balances (account_id, shard, balance) VALUES (\(p.account), \(shards[p.account] ?? 0), \(p.amount))
            ON CONFLICT (account_id, shard) DO UPDATE SET balance = account_balances.balance + excluded.balance
            """
        }
        if let project = m.projectID, let column = ["donation": "raised", "match": "matched", "expense": "spent", "grant": "granted"][m.kind] {
            let v = { (c: String) in c == column ? m.amount : 0 }
            out.append("""
                INSERT INTO project_totals (project_id, shard, raised, matched, spent, granted) VALUES (\(project), \(totalsShard), \(v("raised")), \(v("matched")), \(v("spent")), \(v("granted")))
                ON CONFLICT (project_id, shard) DO UPDATE SET \(unsafeRaw: column) = project_totals.\(unsafeRaw: column) + excluded.\(unsafeRaw: column)
                """)
        }
        return out
    }

    // MARK: Pools

    public struct PoolInput: Sendable, Codable {
        public var placeID: Int64?
        public var name: String?
        public var ratioPercent: Int?
        /// Yuan, as typed.
        public var projectCap: String?
        public var amount: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case placeID = "place_id", name, ratioPercent = "ratio_percent", projectCap = "project_cap", amount }
    }

    /// A government matching pool over a street (or city, district, community), funded at once.
    public func createPool(_ input: PoolInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        var v = Validator()
        let name = Self.trimmed(input.name)
        v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写资金池名称（60 字以内）")
        v.check((1...500).contains(input.ratioPercent ?? 0), "ratio_percent", "invalid", "配捐比例应为 1% 到 500%")
        let cap = v.fen(input.projectCap, "project_cap"), amount = v.fen(input.amount, "amount")
        try v.throwIfAny()
        return try await store.transaction { db in
            guard let pid = input.placeID, let p = try await db.raw("SELECT path, kind FROM places WHERE id = \(bind: pid)").first() else {
                throw LinliError.invalid("place_id", "required", "请选择资金池覆盖的范围")
            }
            let path = try p.decode(column: "path", as: String.self)
            guard ["city", "district", "street", "town", "community", "village"].contains(try p.decode(column: "kind", as: String.self)) else {
                throw LinliError.invalid("place_id", "invalid", "资金池应覆盖街道、社区等行政范围")
            }
            guard Self.covers(actor, .fundPool, path) else { throw LinliError.invalid("place_id", "out_of_scope", "不能在该范围设立资金池") }
            let id = try await db.raw("""
                INSERT INTO matching_pools (place_id, path, name, ratio_percent, project_cap, created_by, created_at)
                VALUES (\(bind: pid), \(bind: path), \(bind: name), \(bind: input.ratioPercent!), \(bind: cap), \(bind: actor.userID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await fundPool(db, poolID: id, path: path, name: name, amount: amount, actor: actor, now: now)
            try await audit.append(db, actor: actor, action: "pool.create", objectType: "matching_pool", objectID: id, path: path, detail: "amount=\(amount)")
            return id
        }
    }

    func fundPool(_ db: any SQLDatabase, poolID: Int64, path: String, name: String, amount: Int64, actor: Actor, now: Int64) async throws {
        let pool = try await account(db, .pool, poolID, path: path, name: name)
        let gov = try await account(db, .government, poolID, path: path, name: "政府资金：" + name)
        let community = try await ledgerCommunity(db, areaPath: path)
        try await post(db, Movement(kind: "pool_funding", communityID: community, poolID: poolID, amount: amount, memo: name), [Posting(gov, -amount), Posting(pool, amount)], actor: actor, now: now)
    }

    public func topUpPool(_ poolID: Int64, amount raw: String?, actor: Actor) async throws {
        let amount = try Fen.parse(raw, field: "amount")
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let p = try await db.raw("SELECT path, name FROM matching_pools WHERE id = \(bind: poolID)").first() else { throw LinliError.notFound }
            let path = try p.decode(column: "path", as: String.self)
            try Self.require(actor, .fundPool, path)
            try await fundPool(db, poolID: poolID, path: path, name: try p.decode(column: "name", as: String.self), amount: amount, actor: actor, now: now)
            try await audit.append(db, actor: actor, action: "pool.top_up", objectType: "matching_pool", objectID: poolID, path: path, detail: "amount=\(amount)")
        }
    }

    public struct PoolView: Sendable, Codable {
        public var id: Int64
        public var name: String
        public var place: String
        public var ratioPercent: Int
        public var capText: String
        public var balance: Int64
        public var balanceText: String
        public var matchedText: String
        enum CodingKeys: String, CodingKey { case id, name, place, ratioPercent = "ratio_percent", capText = "cap_text", balance, balanceText = "balance_text", matchedText = "matched_text" }
    }

    /// Pools that can match projects of a community (those whose area holds it).
    public func pools(communityPath: String) async throws -> [PoolView] {
        try await store.read { db in
            try await db.raw("""
                SELECT mp.id, mp.name, mp.ratio_percent, mp.project_cap, p.name AS place, COALESCE((SELECT CAST(SUM(b.balance) AS BIGINT) FROM account_balances b WHERE b.account_id = a.id), 0) AS balance,
                       (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM ledger_transactions t WHERE t.pool_id = mp.id AND t.kind = 'match') AS matched
                FROM matching_pools mp JOIN places p ON p.id = mp.place_id
                LEFT JOIN ledger_accounts a ON a.kind = 'pool' AND a.ref_id = mp.id
                WHERE \(bind: communityPath) LIKE mp.path || '%' ORDER BY mp.id
                """).all().map { r in
                let balance = try r.decode(column: "balance", as: Int64.self)
                return PoolView(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self), place: try r.decode(column: "place", as: String.self),
                                ratioPercent: try r.decode(column: "ratio_percent", as: Int.self), capText: Fen.text(try r.decode(column: "project_cap", as: Int64.self)),
                                balance: balance, balanceText: Fen.text(balance), matchedText: Fen.text(try r.decode(column: "matched", as: Int64.self)))
            }
        }
    }

    // MARK: Campaigns and gifts

    public func openCampaign(projectID: Int64, goal rawGoal: String?, seed rawSeed: String?, poolID: Int64?, actor: Actor) async throws {
        let now = env.nowSeconds
        var v = Validator()
        let goal = v.fen(rawGoal, "goal"), seed = v.fen(rawSeed, "seed")
        if goal > 0 && seed > goal { v.add(LinliError.invalid("seed", "above_goal", "起配金额不能高于筹款目标")) }
        try v.throwIfAny()
        try await store.transaction { db in
            let p = try await fetchProject(db, projectID, actor, .fundManage)
            guard p.stage != .done else { throw LinliError.conflict(nil, "project_done", "项目已结束") }
            if let poolID {
                guard let pool = try await db.raw("SELECT path FROM matching_pools WHERE id = \(bind: poolID)").first(),
                      p.path.hasPrefix(try pool.decode(column: "path", as: String.self)) else {
                    throw LinliError.invalid("pool_id", "unknown_pool", "该资金池不覆盖本社区")
                }
            }
            try await db.raw("""
                INSERT INTO campaigns (project_id, goal, seed, pool_id, status, opened_at) VALUES (\(bind: p.id), \(bind: goal), \(bind: seed), \(bind: poolID), 'open', \(bind: now))
                ON CONFLICT (project_id) DO UPDATE SET goal = excluded.goal, seed = excluded.seed, pool_id = excluded.pool_id, status = 'open'
                """).run()
            _ = try await account(db, .project, p.id, path: p.path, name: p.title)
            try await audit.append(db, actor: actor, action: "campaign.open", objectType: "micro_project", objectID: p.id, path: p.path, detail: "goal=\(goal) seed=\(seed)")
        }
    }

    public func closeCampaign(projectID: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let p = try await fetchProject(db, projectID, actor, .fundManage)
            try await db.raw("UPDATE campaigns SET status = 'closed' WHERE project_id = \(bind: p.id)").run()
            try await audit.append(db, actor: actor, action: "campaign.close", objectType: "micro_project", objectID: p.id, path: p.path)
        }
    }

    public struct DonationInput: Sendable, Codable {
        public var amount: String?
        /// Offline gifts entered by staff: the giver's name; online: defaults to the signed-in person.
        public var name: String?
        /// The giver chose to be named on the public ledger.
        public var publicName: Bool?
        /// `resident` or `merchant`.
        public var donorKind: String?
        public var idempotencyKey: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case amount, name, publicName = "public", donorKind = "donor_kind", idempotencyKey = "idempotency_key" }
    }

    public struct DonationReceipt: Sendable, Codable {
        /// The ledger transaction (0 while the gift is a pledge waiting for its money).
        public var transactionID: Int64
        public var amount: Int64
        public var matched: Int64
        public var amountText: String
        public var matchedText: String
        public var repeated: Bool
        /// `received` (booked: staff took the money) or `pending` (an online pledge until paid).
        public var status: String = "received"
        public var pledgeID: Int64? = nil
        /// The payment reference to quote (WeChat Pay's out_trade_no, a bank transfer's remark).
        public var reference: String? = nil
        public var expiresText: String? = nil
        enum CodingKeys: String, CodingKey {
            case transactionID = "transaction_id", amount, matched, amountText = "amount_text", matchedText = "matched_text", repeated
            case status, pledgeID = "pledge_id", reference, expiresText = "expires_text"
        }
    }

    /// A gift to a project's open campaign. Staff enter money they have taken (cash, a slip):
    /// booked at once, and when the gifts reach the seed amount the pool adds its match in the
    /// same transaction. Online, the gift is a pledge until its payment arrives (see Payments.swift).
    /// A retried submission (same key) records nothing new.
    public func donate(projectID: Int64, _ input: DonationInput, actor: Actor) async throws -> DonationReceipt {
        let amount = try Fen.parse(input.amount, field: "amount")
        let now = env.nowSeconds
        let key = input.idempotencyKey.flatMap { $0.isEmpty ? nil : String($0.prefix(80)) }
        let kind = input.donorKind ?? "resident"
        guard ["resident", "merchant"].contains(kind) else { throw LinliError.invalid("donor_kind", "invalid", "捐赠人类型应为居民或商户") }
        // A key belongs to the giver and this route: another person's gift with the same key is
        // their own gift, and the same key with another project or amount is a mistake (422).
        let scopedKey = key.map { "u\(actor.userID):donate:" + $0 }
        do {
            return try await donate(projectID: projectID, amount: amount, kind: kind, scopedKey: scopedKey, input, actor: actor, now: now)
        } catch where scopedKey != nil && isUniqueViolation(error) {
            // The same gift sent twice at once (a phone that lost the answer): the second waited
            // on the first's key and is answered with its receipt, as a later retry is.
            return try await donate(projectID: projectID, amount: amount, kind: kind, scopedKey: scopedKey, input, actor: actor, now: now)
        }
    }

    func donate(projectID: Int64, amount: Int64, kind: String, scopedKey: String?, _ input: DonationInput, actor: Actor, now: Int64) async throws -> DonationReceipt {
        try await store.transaction { db in
            if let scopedKey, let done = try await db.raw("SELECT id, amount, project_id FROM ledger_transactions WHERE idempotency_key = \(bind: scopedKey)").first() {
                let a = try done.decode(column: "amount", as: Int64.self)
                guard a == amount, try done.decode(column: "project_id", as: Int64?.self) == projectID else {
                    throw LinliError.invalid("idempotency_key", "key_reused", "该幂等键已用于另一笔不同的捐赠")
                }
                return DonationReceipt(transactionID: try done.decode(column: "id", as: Int64.self), amount: a, matched: 0, amountText: Fen.text(a), matchedText: Fen.text(0), repeated: true)
            }
            let p = try await fetchProject(db, projectID, actor, .linkageView)
            let staff = Self.covers(actor, .fundManage, p.path)
            guard staff || Self.covers(actor, .fundDonate, p.path) else { throw LinliError.forbidden }
            guard let c = try await db.raw("SELECT status FROM campaigns WHERE project_id = \(bind: p.id)").first(),
                  try c.decode(column: "status", as: String.self) == "open" else {
                throw LinliError.conflict(nil, "campaign_closed", "该项目没有正在进行的筹款")
            }
            // Staff enter the giver's name from the paper slip (a merchant, a group); online, the
            // giver is the signed-in person and may be named only by their own account name.
            var name = Self.trimmed(input.name)
            if !staff {
                guard name.isEmpty || name == actor.displayName else {
                    throw LinliError.invalid("name", "not_own_name", "在线捐赠只能以您本人的姓名登记；商户或团体的捐赠请到社区登记")
                }
                guard kind == "resident" else { throw LinliError.invalid("donor_kind", "staff_only", "商户捐赠由社区工作人员登记") }
                name = actor.displayName
                // An account's name is typed by whoever signed up. Named on the public ledger,
                // a giver is named as the registry knows them: the person their account is
                // bound to, or not at all.
                if input.publicName == true {
                    // Someone acting for the person (a relative, staff) may give, but not put
                    // the person's registered name on the public ledger.
                    guard actor.acting == nil else {
                        throw LinliError.invalid("public", "acting", "代办时不能以被代办人的姓名公开署名")
                    }
                    guard let verified = try await Self.registeredName(db, actor) else {
                        throw LinliError.invalid("public", "not_verified", "公开署名需要账号已绑定住户、核实身份；您可以不公开姓名捐赠")
                    }
                    name = verified
                }
            }
            guard !name.isEmpty, name.count <= 60 else { throw LinliError.invalid("name", "required", "请填写捐赠人（60 字以内）") }
            if !staff {
                return try await pledge(db, p, amount: amount, name: name, publicName: input.publicName == true, scopedKey: scopedKey, actor: actor, now: now)
            }
            let (txn, matched) = try await bookGift(db, p, amount: amount, name: name, publicName: input.publicName == true, kind: kind,
                                                    key: scopedKey, match: true, actor: actor, now: now)
            try await audit.append(db, actor: actor, action: "fund.donate", objectType: "ledger_transaction", objectID: txn, path: p.path, detail: "amount=\(amount) matched=\(matched)")
            return DonationReceipt(transactionID: txn, amount: amount, matched: matched, amountText: Fen.text(amount), matchedText: Fen.text(matched), repeated: false)
        }
    }

    /// The name the registry holds for the person an account is bound to (a resident's grant
    /// names them), or nil for an account bound to no one.
    static func registeredName(_ db: any SQLDatabase, _ actor: Actor) async throws -> String? {
        guard let person = actor.grants.first(where: { $0.role == .resident && $0.residentID != nil })?.residentID else { return nil }
        return try await db.raw("SELECT name FROM residents WHERE id = \(bind: person)").first()?.decode(column: "name", as: String.self)
    }

    /// Books money that has arrived for a project (cash taken by staff, a confirmed payment): the
    /// gift on the ledger and in the project's total, then the pool's match when `match`.
    ///
    /// Gifts to one project must not wait for one another, and the pool must never be
    /// overspent. So a gift's own rows and every lookup come first; then it holds one shard of
    /// the project (`giftShard`: on PostgreSQL the lowest no other gift holds) and books into
    /// that shard of the project's balance, the givers' account and the totals. The match is
    /// one gift at a time per project (the campaign's row): the gift that gets it matches what
    /// is due from every gift already booked; on PostgreSQL a gift that finds it taken leaves a
    /// note (`match_pending`) and its match comes with the next gift's, or from the
    /// housekeeping job within seconds. Locks are taken in one order: a project shard, the
    /// givers' account, the campaign (never waited for), the pool.
    func bookGift(_ db: any SQLDatabase, _ p: ProjectRow, amount: Int64, name: String, publicName: Bool, kind: String, key: String?,
                  match: Bool, actor: Actor?, now: Int64) async throws -> (txn: Int64, matched: Int64) {
        let (projectAccount, donors) = try await accounts(db, (.project, p.id, p.path, p.title), (.donors, p.communityID, p.path, "社区捐赠"))
        let gift = Movement(kind: "donation", communityID: p.communityID, projectID: p.id, amount: amount, donorName: name,
                            donorPublic: publicName, donorKind: kind, memo: p.title, key: key)
        let postings = [Posting(donors, -amount), Posting(projectAccount, amount)]
        let txn = try await record(db, gift, postings, actor: actor, now: now)
        let plan = match ? try await matchPlan(db, p, projectAccount: projectAccount) : nil
        let shard = try await giftShard(db, p.id)
        try await db.runAll(Self.applied(gift, postings, shards: [projectAccount: shard, donors: donorsShard(txn: txn)], totalsShard: shard), store.dialect)
        guard let plan, try await matchTurn(db, p.id, txn: txn) else { return (txn, 0) }
        return (txn, try await matchDue(db, p, plan, shard: shard, requested: nil, actor: actor, now: now))
    }

    /// Whether this gift makes the project's match now. SQLite's one writer: always. PostgreSQL:
    /// if no other gift is making it (the campaign's row, SKIP LOCKED); then the notes of gifts
    /// already booked are cleared first, so that the totals read after include every one of
    /// them. Otherwise the gift leaves its own note.
    func matchTurn(_ db: any SQLDatabase, _ project: Int64, txn: Int64) async throws -> Bool {
        guard store.dialect == .postgres else { return true }
        if try await db.query("SELECT project_id FROM campaigns WHERE project_id = \(project) FOR UPDATE SKIP LOCKED").first() != nil {
            try await db.query("DELETE FROM match_pending WHERE project_id = \(project)").run()
            return true
        }
        try await db.query("INSERT INTO match_pending (txn_id, project_id) VALUES (\(txn), \(project))").run()
        return false
    }

    /// Waits for the project's match (the campaign's row) and holds it on PostgreSQL: matches
    /// of one project are made one at a time, each reading the totals after the last committed.
    /// Whether the campaign is open.
    @discardableResult
    func holdMatch(_ db: any SQLDatabase, _ project: Int64) async throws -> Bool {
        try await db.query("SELECT status FROM campaigns WHERE project_id = \(project)\(unsafeRaw: lockRow)").first()?
            .decode(column: "status", as: String.self) == "open"
    }

    /// Matches what gifts left to a busy match (PostgreSQL under a crowd of gifts to one
    /// project): for each project with notes, what is due now, as the system, while its
    /// campaign is open (as a payment arriving later is matched only then). One project's error
    /// leaves its notes for the next round and is thrown after the others are done. Returns
    /// the projects matched.
    public func matchPending(budget: Int = 100) async throws -> Int {
        guard store.dialect == .postgres else { return 0 }
        let projects = try await store.read { db in
            try await db.query("SELECT DISTINCT project_id FROM match_pending ORDER BY project_id LIMIT \(budget)").all()
                .map { try $0.decode(column: "project_id", as: Int64.self) }
        }
        let now = env.nowSeconds
        var matched = 0
        var failure: (any Error)?
        for id in projects {
            do {
                let amount: Int64 = try await store.transaction { db in
                    let p = try await fetchProject(db, id, nil, .linkageView)
                    let shard = try await giftShard(db, p.id)
                    // Waits for a gift making the match, then clears the notes before reading.
                    let open = try await holdMatch(db, p.id)
                    try await db.query("DELETE FROM match_pending WHERE project_id = \(p.id)").run()
                    guard open, let plan = try await matchPlan(db, p) else { return 0 }
                    let amount = try await matchDue(db, p, plan, shard: shard, requested: nil, actor: nil, now: now)
                    if amount > 0 {
                        try await audit.append(db, actor: nil, action: "fund.match", objectType: "micro_project", objectID: p.id, path: p.path, detail: "amount=\(amount) pending")
                    }
                    return amount
                }
                if amount > 0 { matched += 1 }
            } catch {
                failure = failure ?? error
            }
        }
        // The housekeeping service logs it; the project's notes wait for the next round.
        if let failure { throw failure }
        return matched
    }

    /// The campaign's pool and the accounts a match moves money between, looked up before any lock.
    struct MatchPlan {
        var poolID: Int64, poolAccount: Int64, projectAccount: Int64
        var seed: Int64, ratioPercent: Int, cap: Int64
    }

    /// The pool's account comes with the campaign (a pool's account is made when it is funded).
    func matchPlan(_ db: any SQLDatabase, _ p: ProjectRow, projectAccount: Int64? = nil) async throws -> MatchPlan? {
        guard let c = try await db.raw("""
            SELECT c.seed, c.pool_id, mp.ratio_percent, mp.project_cap, mp.path, mp.name, a.id AS pool_account
            FROM campaigns c JOIN matching_pools mp ON mp.id = c.pool_id LEFT JOIN ledger_accounts a ON a.kind = 'pool' AND a.ref_id = mp.id
            WHERE c.project_id = \(bind: p.id)
            """).first() else { return nil }
        let poolID = try c.decode(column: "pool_id", as: Int64.self)
        var poolAccount = try c.decode(column: "pool_account", as: Int64?.self)
        if poolAccount == nil {
            poolAccount = try await account(db, .pool, poolID, path: try c.decode(column: "path", as: String.self), name: try c.decode(column: "name", as: String.self))
        }
        var project = projectAccount
        if project == nil { project = try await account(db, .project, p.id, path: p.path, name: p.title) }
        return MatchPlan(poolID: poolID,
                         poolAccount: poolAccount!,
                         projectAccount: project!,
                         seed: try c.decode(column: "seed", as: Int64.self), ratioPercent: try c.decode(column: "ratio_percent", as: Int.self),
                         cap: try c.decode(column: "project_cap", as: Int64.self))
    }

    /// Matches what the campaign is due from its pool, the caller holding the project's match
    /// (`matchTurn`, or the whole project) and `shard` of it, where the match is booked. With
    /// `requested`, exactly that amount or a refusal naming the limit it would break; without,
    /// whatever is due (possibly nothing). The pool's balance (locked; a pool is only ever
    /// booked in shard 0) and the project's totals (every shard) are read in one statement.
    func matchDue(_ db: any SQLDatabase, _ p: ProjectRow, _ c: MatchPlan, shard: Int, requested: Int64?, actor: Actor?, now: Int64) async throws -> Int64 {
        let row = try await db.query("""
            SELECT b.balance,
                   COALESCE((SELECT CAST(SUM(t.raised) AS BIGINT) FROM project_totals t WHERE t.project_id = \(p.id)), 0) AS raised,
                   COALESCE((SELECT CAST(SUM(t.matched) AS BIGINT) FROM project_totals t WHERE t.project_id = \(p.id)), 0) AS matched
            FROM account_balances b
            WHERE b.account_id = \(c.poolAccount) AND b.shard = 0\(unsafeRaw: store.dialect.lockForUpdate(of: "b"))
            """).first()!
        let pool = try row.decode(column: "balance", as: Int64.self)
        let raised = try row.decode(column: "raised", as: Int64.self), matched = try row.decode(column: "matched", as: Int64.self)
        let entitled = MatchingRule.entitled(raised: raised, seed: c.seed, ratioPercent: c.ratioPercent, cap: c.cap)
        var amount = MatchingRule.due(raised: raised, matched: matched, seed: c.seed, ratioPercent: c.ratioPercent, cap: c.cap, pool: pool)
        if let requested {
            if raised < c.seed { throw LinliError.conflict("amount", "below_seed", "筹款 \(Fen.text(raised)) 元尚未达到起配金额 \(Fen.text(c.seed)) 元") }
            if requested > entitled - matched { throw LinliError.invalid("amount", "beyond_cap", "超出可配捐额：按比例和上限最多还可配 \(Fen.text(max(0, entitled - matched))) 元") }
            if requested > pool { throw LinliError.invalid("amount", "beyond_pool", "超出资金池余额 \(Fen.text(pool)) 元") }
            amount = requested
        }
        guard amount > 0 else { return 0 }
        let m = Movement(kind: "match", communityID: p.communityID, projectID: p.id, poolID: c.poolID, amount: amount, memo: p.title)
        let postings = [Posting(c.poolAccount, -amount), Posting(c.projectAccount, amount)]
        _ = try await record(db, m, postings, actor: actor, now: now)
        try await db.runAll(Self.applied(m, postings, shards: [c.projectAccount: shard], totalsShard: shard), store.dialect)
        return amount
    }

    /// Staff match by hand (e.g. after a pool was topped up): a given amount within the limits, or what is due.
    public func match(projectID: Int64, amount raw: String?, actor: Actor) async throws -> Int64 {
        let requested = try raw.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try Fen.parse($0, field: "amount") }
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await fetchProject(db, projectID, actor, .fundManage)
            guard let plan = try await matchPlan(db, p) else {
                if requested != nil { throw LinliError.conflict("pool_id", "no_pool", "该项目的筹款没有配捐资金池") }
                throw LinliError.conflict("amount", "nothing_due", "目前没有可配捐的金额（未达起配、已达上限或资金池已用完）")
            }
            // The whole project, then the pool: no gift books or matches meanwhile.
            try await lockProject(db, p.id)
            try await holdMatch(db, p.id)
            let amount = try await matchDue(db, p, plan, shard: 0, requested: requested, actor: actor, now: now)
            guard amount > 0 else { throw LinliError.conflict("amount", "nothing_due", "目前没有可配捐的金额（未达起配、已达上限或资金池已用完）") }
            try await audit.append(db, actor: actor, action: "fund.match", objectType: "micro_project", objectID: p.id, path: p.path, detail: "amount=\(amount)")
            return amount
        }
    }

    // MARK: Expenses

    public func setApprovals(communityID: Int64?, count: Int?, actor: Actor) async throws {
        try await store.transaction { db in
            let c = try await community(db, communityID, actor, .fundManage)
            guard let n = count, (1...5).contains(n) else { throw LinliError.invalid("approvals_needed", "invalid", "审批人数应为 1 到 5") }
            try await db.raw("""
                INSERT INTO fund_settings (community_id, approvals_needed) VALUES (\(bind: c.id), \(bind: n))
                ON CONFLICT (community_id) DO UPDATE SET approvals_needed = excluded.approvals_needed
                """).run()
            try await audit.append(db, actor: actor, action: "fund.settings", objectType: "community", objectID: c.id, path: c.path, detail: "approvals=\(n)")
        }
    }

    static let defaultApprovals = 2

    /// Asks to spend from a project: within what is left after other pending expenses, with a receipt.
    public func requestExpense(projectID: Int64, amount raw: String?, payee rawPayee: String?, purpose rawPurpose: String?, receipt: [UInt8]?, actor: Actor) async throws -> Int64 {
        var v = Validator()
        let amount = v.fen(raw, "amount")
        let payee = Self.trimmed(rawPayee), purpose = Self.trimmed(rawPurpose)
        v.check(!payee.isEmpty && payee.count <= 80, "payee", "required", "请填写收款方（80 字以内）")
        v.check(!purpose.isEmpty && purpose.count <= 500, "purpose", "required", "请填写用途（500 字以内）")
        v.check(receipt.map { !$0.isEmpty } ?? false, "receipt", "required", "请上传票据照片")
        try v.throwIfAny()
        let prepared: PreparedPhoto
        do { prepared = try PhotoStore.prepare(receipt!) } catch let e as LinliError { throw LinliError.invalid("receipt", e.code, e.message) }
        let stored = try receipts.write(prepared, env: env)
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await fetchProject(db, projectID, actor, .fundManage)
            let projectAccount = try await account(db, .project, p.id, path: p.path, name: p.title)
            try await lockProject(db, p.id)
            let balance = try await lockedBalance(db, projectAccount)
            let pending = try await db.raw("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM expenses WHERE project_id = \(bind: p.id) AND status = 'pending'").first()!
                .decode(column: "s", as: Int64.self)
            guard amount <= balance - pending else {
                throw LinliError.invalid("amount", "beyond_balance", "超出项目可用余额：余额 \(Fen.text(balance)) 元，待审批 \(Fen.text(pending)) 元")
            }
            let needed = try await db.raw("SELECT approvals_needed FROM fund_settings WHERE community_id = \(bind: p.communityID)").first()
                .map { try $0.decode(column: "approvals_needed", as: Int.self) } ?? Self.defaultApprovals
            let id = try await db.raw("""
                INSERT INTO expenses (project_id, amount, payee, purpose, receipt, status, approvals_needed, requested_by, requested_at)
                VALUES (\(bind: p.id), \(bind: amount), \(bind: payee), \(bind: purpose), \(bind: stored), 'pending', \(bind: needed), \(bind: actor.userID), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "expense.request", objectType: "expense", objectID: id, path: p.path, detail: "amount=\(amount)")
            try await notify(db, try await staff(db, communityPath: p.path, roles: [.communityStaff, .streetStaff]), kind: "expense_pending",
                             subject: "\(p.title) \(Fen.text(amount)) 元", link: "/projects/\(p.id)#money", except: actor.userID)
            return id
        }
    }

    /// One approval. Nobody approves an expense they asked for; the last approval books it, if the
    /// project still holds the money.
    public func approveExpense(_ expenseID: Int64, actor: Actor) async throws -> String {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let e = try await db.raw("SELECT project_id, amount, payee, status, approvals_needed, requested_by FROM expenses WHERE id = \(bind: expenseID)\(unsafeRaw: lockRow)").first() else {
                throw LinliError.notFound
            }
            let p = try await fetchProject(db, try e.decode(column: "project_id", as: Int64.self), actor, .fundManage)
            guard try e.decode(column: "requested_by", as: Int64.self) != actor.userID else {
                throw LinliError(.forbidden, code: "own_expense", message: "不能审批自己提出的支出")
            }
            guard try e.decode(column: "status", as: String.self) == "pending" else { throw LinliError.conflict(nil, "not_pending", "该支出已处理") }
            guard try await db.raw("SELECT 1 AS x FROM expense_approvals WHERE expense_id = \(bind: expenseID) AND user_id = \(bind: actor.userID)").first() == nil else {
                throw LinliError.conflict(nil, "already_approved", "您已审批过这笔支出")
            }
            try await db.raw("INSERT INTO expense_approvals (expense_id, user_id, at) VALUES (\(bind: expenseID), \(bind: actor.userID), \(bind: now))").run()
            let count = try await db.raw("SELECT COUNT(*) AS n FROM expense_approvals WHERE expense_id = \(bind: expenseID)").first()!.decode(column: "n", as: Int.self)
            try await audit.append(db, actor: actor, action: "expense.approve", objectType: "expense", objectID: expenseID, path: p.path)
            guard count >= (try e.decode(column: "approvals_needed", as: Int.self)) else { return "pending" }
            let amount = try e.decode(column: "amount", as: Int64.self)
            let projectAccount = try await account(db, .project, p.id, path: p.path, name: p.title)
            try await lockProject(db, p.id)
            let balance = try await lockedBalance(db, projectAccount)
            guard amount <= balance else { throw LinliError.conflict("amount", "beyond_balance", "项目余额 \(Fen.text(balance)) 元不足以支付") }
            let payees = try await account(db, .payees, p.communityID, path: p.path, name: "支出")
            let txn = try await post(db, Movement(kind: "expense", communityID: p.communityID, projectID: p.id, amount: amount,
                                                  memo: try e.decode(column: "payee", as: String.self)),
                                     [Posting(projectAccount, -amount), Posting(payees, amount)], actor: actor, now: now)
            try await db.raw("UPDATE expenses SET status = 'paid', txn_id = \(bind: txn) WHERE id = \(bind: expenseID)").run()
            try await notify(db, [try e.decode(column: "requested_by", as: Int64.self)], kind: "expense_paid", subject: "\(p.title) \(Fen.text(amount)) 元", link: "/projects/\(p.id)#money")
            return "paid"
        }
    }

    public func rejectExpense(_ expenseID: Int64, reason rawReason: String?, actor: Actor) async throws {
        try await store.transaction { db in
            guard let e = try await db.raw("SELECT project_id, status FROM expenses WHERE id = \(bind: expenseID)\(unsafeRaw: lockRow)").first() else { throw LinliError.notFound }
            let p = try await fetchProject(db, try e.decode(column: "project_id", as: Int64.self), actor, .fundManage)
            let reason = Self.trimmed(rawReason)
            guard !reason.isEmpty else { throw LinliError.invalid("reason", "required", "请说明驳回原因") }
            guard try e.decode(column: "status", as: String.self) == "pending" else { throw LinliError.conflict(nil, "not_pending", "该支出已处理") }
            try await db.raw("UPDATE expenses SET status = 'rejected', reason = \(bind: reason) WHERE id = \(bind: expenseID)").run()
            try await audit.append(db, actor: actor, action: "expense.reject", objectType: "expense", objectID: expenseID, path: p.path, reason: reason)
        }
    }

    public func receipt(expenseID: Int64, actor: Actor) async throws -> [UInt8] {
        let name = try await store.read { db -> String in
            guard let e = try await db.raw("SELECT project_id, receipt FROM expenses WHERE id = \(bind: expenseID)").first() else { throw LinliError.notFound }
            _ = try await fetchProject(db, try e.decode(column: "project_id", as: Int64.self), actor, .linkageView)
            return try e.decode(column: "receipt", as: String.self)
        }
        return try receipts.read(name)
    }

    func projectTotals(_ db: any SQLDatabase, _ project: Int64) async throws -> (raised: Int64, matched: Int64, spent: Int64, granted: Int64) {
        guard let r = try await db.raw("""
            SELECT CAST(SUM(raised) AS BIGINT) AS raised, CAST(SUM(matched) AS BIGINT) AS matched, CAST(SUM(spent) AS BIGINT) AS spent, CAST(SUM(granted) AS BIGINT) AS granted
            FROM project_totals WHERE project_id = \(bind: project) GROUP BY project_id
            """).first() else { return (0, 0, 0, 0) }
        return (try r.decode(column: "raised", as: Int64.self), try r.decode(column: "matched", as: Int64.self), try r.decode(column: "spent", as: Int64.self),
                try r.decode(column: "granted", as: Int64.self))
    }

    // MARK: Views

    public struct MoneyView: Sendable, Codable {
        public var campaignOpen: Bool
        public var hasCampaign: Bool
        public var goalText: String
        public var seedText: String
        public var pool: String?
        public var raised: Int64
        public var matched: Int64
        public var spent: Int64
        public var granted: Int64
        public var left: Int64
        public var raisedText: String
        public var grantedText: String
        public var matchedText: String
        public var spentText: String
        public var leftText: String
        public var percent: Int
        public var gifts: [Line]
        public var expenses: [Expense]
        public struct Line: Sendable, Codable {
            public var kind: String; public var who: String; public var amountText: String; public var atText: String
            enum CodingKeys: String, CodingKey { case kind = "txn_kind", who, amountText = "amount_text", atText = "at_text" }
        }
        public struct Expense: Sendable, Codable {
            public var id: Int64; public var amountText: String; public var payee: String; public var purpose: String; public var status: String
            public var approvals: Int; public var needed: Int; public var reason: String; public var atText: String; public var canApprove: Bool
            enum CodingKeys: String, CodingKey { case id, amountText = "amount_text", payee, purpose, status = "expense_status", approvals, needed, reason, atText = "at_text", canApprove = "can_approve" }
        }
        enum CodingKeys: String, CodingKey {
            case campaignOpen = "campaign_open", hasCampaign = "has_campaign", goalText = "goal_text", seedText = "seed_text", pool, raised, matched, spent, granted, left
            case grantedText = "granted_text"
            case raisedText = "raised_text", matchedText = "matched_text", spentText = "spent_text", leftText = "left_text", percent, gifts, expenses
        }
    }

    func money(_ db: any SQLDatabase, _ p: ProjectRow, actor: Actor?) async throws -> MoneyView {
        let c = try await db.raw("""
            SELECT c.goal, c.seed, c.status, mp.name AS pool, mp.ratio_percent FROM campaigns c LEFT JOIN matching_pools mp ON mp.id = c.pool_id WHERE c.project_id = \(bind: p.id)
            """).first()
        let totals = try await projectTotals(db, p.id)
        let (raised, matched, spent, granted) = (totals.raised, totals.matched, totals.spent, totals.granted)
        let left = try await db.raw("""
            SELECT CAST(SUM(b.balance) AS BIGINT) AS balance FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.kind = 'project' AND a.ref_id = \(bind: p.id)
            """).first().flatMap { try $0.decode(column: "balance", as: Int64?.self) } ?? 0
        let goal = try c?.decode(column: "goal", as: Int64.self) ?? 0
        let gifts = try await db.raw("""
            SELECT kind, donor_name, donor_public, amount, at FROM ledger_transactions WHERE project_id = \(bind: p.id) AND kind IN ('donation', 'match') ORDER BY id DESC LIMIT 100
            """).all().map { r in
            let kind = try r.decode(column: "kind", as: String.self)
            let name = try r.decode(column: "donor_name", as: String.self)
            return MoneyView.Line(kind: kind, who: kind == "match" ? "" : (try r.decode(column: "donor_public", as: Int.self) == 1 ? name : name.maskedName),
                                  amountText: Fen.text(try r.decode(column: "amount", as: Int64.self)), atText: LocalTime.text(try r.decode(column: "at", as: Int64.self)))
        }
        let manage = actor.map { Self.covers($0, .fundManage, p.path) } ?? false
        let expenses = try await db.raw("""
            SELECT e.id, e.amount, e.payee, e.purpose, e.status, e.approvals_needed, e.reason, e.requested_at, e.requested_by,
                   (SELECT COUNT(*) FROM expense_approvals x WHERE x.expense_id = e.id) AS approvals,
                   (SELECT COUNT(*) FROM expense_approvals x WHERE x.expense_id = e.id AND x.user_id = \(bind: actor?.userID ?? 0)) AS mine
            FROM expenses e WHERE e.project_id = \(bind: p.id) ORDER BY e.id DESC
            """).all().map { r in
            let status = try r.decode(column: "status", as: String.self)
            let requester = try r.decode(column: "requested_by", as: Int64.self), mine = try r.decode(column: "mine", as: Int.self)
            return MoneyView.Expense(id: try r.decode(column: "id", as: Int64.self), amountText: Fen.text(try r.decode(column: "amount", as: Int64.self)),
                                     payee: try r.decode(column: "payee", as: String.self), purpose: try r.decode(column: "purpose", as: String.self), status: status,
                                     approvals: try r.decode(column: "approvals", as: Int.self), needed: try r.decode(column: "approvals_needed", as: Int.self),
                                     reason: try r.decode(column: "reason", as: String.self), atText: LocalTime.text(try r.decode(column: "requested_at", as: Int64.self)),
                                     canApprove: manage && status == "pending" && requester != actor?.userID && mine == 0)
        }
        var poolLabel: String?
        if let c, let name = try c.decode(column: "pool", as: String?.self) { poolLabel = "\(name)（\(try c.decode(column: "ratio_percent", as: Int.self))%）" }
        return MoneyView(campaignOpen: try c?.decode(column: "status", as: String.self) == "open", hasCampaign: c != nil, goalText: Fen.text(goal),
                         seedText: Fen.text(try c?.decode(column: "seed", as: Int64.self) ?? 0),
                         pool: poolLabel,
                         raised: raised, matched: matched, spent: spent, granted: granted, left: left, raisedText: Fen.text(raised), grantedText: Fen.text(granted),
                         matchedText: Fen.text(matched),
                         spentText: Fen.text(spent), leftText: Fen.text(left), percent: goal > 0 ? Int(min(100, (raised + matched) * 100 / goal)) : 0,
                         gifts: gifts, expenses: expenses)
    }

    public struct LedgerLine: Sendable, Codable {
        public var id: Int64
        public var kind: String
        public var project: String
        public var projectID: Int64?
        public var who: String
        public var amountText: String
        public var atText: String
        enum CodingKeys: String, CodingKey { case id, kind = "txn_kind", project, projectID = "project_id", who, amountText = "amount_text", atText = "at_text" }
    }

    /// Movements no public ledger lists: money moved between the city's own accounts, a street's
    /// canteen subsidy (no one community's), and diners' payments for meals (private purchases).
    static let unlisted = "('pool_funding', 'venture_funding', 'department_funding', 'meal_subsidy_area', 'meal_payment', 'meal_refund')"

    /// A community's public ledger: every movement, newest first; givers masked unless they chose to be named.
    public func publicLedger(communityID: Int64, before: Int64?, limit: Int = 100) async throws -> (name: String, lines: [LedgerLine], totals: [String: String]) {
        try await store.read { db in
            guard let c = try await db.raw("SELECT name, path FROM places WHERE id = \(bind: communityID) AND kind IN ('community', 'village')").first() else { throw LinliError.notFound }
            let lines = try await db.raw("""
                SELECT t.id, t.kind, t.amount, t.donor_name, t.donor_public, t.memo, t.project_id, t.at, COALESCE(p.title, '') AS project
                FROM ledger_transactions t LEFT JOIN micro_projects p ON p.id = t.project_id
                WHERE t.community_id = \(bind: communityID) AND t.kind NOT IN \(unsafeRaw: Self.unlisted)
                  AND t.id < \(bind: before ?? Int64.max) ORDER BY t.id DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 500))))
                """).all().map { r in
                let kind = try r.decode(column: "kind", as: String.self), name = try r.decode(column: "donor_name", as: String.self)
                let who: String
                switch kind {
                case "donation": who = try r.decode(column: "donor_public", as: Int.self) == 1 ? name : name.maskedName
                // Government money is named by the movement's label, in the reader's language.
                case "match", "pool_funding", "grant", "venture_funding": who = ""
                default: who = try r.decode(column: "memo", as: String.self)
                }
                return LedgerLine(id: try r.decode(column: "id", as: Int64.self), kind: kind, project: try r.decode(column: "project", as: String.self),
                                  projectID: try r.decode(column: "project_id", as: Int64?.self), who: who,
                                  amountText: Fen.text(try r.decode(column: "amount", as: Int64.self)), atText: LocalTime.text(try r.decode(column: "at", as: Int64.self)))
            }
            var totals: [String: String] = [:]
            for r in try await db.raw("SELECT kind, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM ledger_transactions WHERE community_id = \(bind: communityID) AND kind NOT IN \(unsafeRaw: Self.unlisted) GROUP BY kind").all() {
                totals[try r.decode(column: "kind", as: String.self)] = Fen.text(try r.decode(column: "s", as: Int64.self))
            }
            return (try c.decode(column: "name", as: String.self), lines, totals)
        }
    }

    public struct LedgerCheck: Sendable {
        public var accounts: Int
        public var transactions: Int
        public var unbalancedTransactions: [Int64]
        public var wrongBalances: [(account: Int64, stored: Int64, entries: Int64)]
        /// Projects whose kept totals (raised, matched, spent, granted) differ from their transactions.
        public var wrongTotals: [Int64]
        /// Gifts whose match waits for the housekeeping job (PostgreSQL, a crowd of gifts to one
        /// project): not an error, but what the totals do not yet hold.
        public var pendingMatches: Int = 0
        public var ok: Bool { unbalancedTransactions.isEmpty && wrongBalances.isEmpty && wrongTotals.isEmpty }
    }

    /// Recomputes every balance from the entries and checks that every transaction sums to zero.
    public func checkLedger() async throws -> LedgerCheck {
        try await store.read { db in
            var sums: [Int64: Int64] = [:]
            for r in try await db.raw("SELECT account_id, CAST(SUM(amount) AS BIGINT) AS s FROM ledger_entries GROUP BY account_id").all() {
                sums[try r.decode(column: "account_id", as: Int64.self)] = try r.decode(column: "s", as: Int64.self)
            }
            var wrong: [(Int64, Int64, Int64)] = []
            var accounts = 0
            for r in try await db.raw("SELECT account_id, CAST(SUM(balance) AS BIGINT) AS balance FROM account_balances GROUP BY account_id").all() {
                accounts += 1
                let a = try r.decode(column: "account_id", as: Int64.self), b = try r.decode(column: "balance", as: Int64.self)
                if (sums[a] ?? 0) != b { wrong.append((a, b, sums[a] ?? 0)) }
            }
            let unbalanced = try await db.raw("SELECT txn_id FROM ledger_entries GROUP BY txn_id HAVING SUM(amount) <> 0 LIMIT 100").all()
                .map { try $0.decode(column: "txn_id", as: Int64.self) }
            let n = try await db.raw("SELECT COUNT(*) AS n FROM ledger_transactions").first()!.decode(column: "n", as: Int.self)
            var byProject: [Int64: [String: Int64]] = [:]
            for r in try await db.raw("""
                SELECT project_id, kind, CAST(SUM(amount) AS BIGINT) AS s FROM ledger_transactions WHERE project_id IS NOT NULL AND kind <> 'venture_funding' GROUP BY project_id, kind
                """).all() {
                byProject[try r.decode(column: "project_id", as: Int64.self), default: [:]][try r.decode(column: "kind", as: String.self)] = try r.decode(column: "s", as: Int64.self)
            }
            var wrongTotals: [Int64] = []
            var seen = Set<Int64>()
            for r in try await db.raw("""
                SELECT project_id, CAST(SUM(raised) AS BIGINT) AS raised, CAST(SUM(matched) AS BIGINT) AS matched, CAST(SUM(spent) AS BIGINT) AS spent,
                       CAST(SUM(granted) AS BIGINT) AS granted FROM project_totals GROUP BY project_id
                """).all() {
                let p = try r.decode(column: "project_id", as: Int64.self)
                seen.insert(p)
                let s = byProject[p] ?? [:]
                let kept = (try r.decode(column: "raised", as: Int64.self), try r.decode(column: "matched", as: Int64.self), try r.decode(column: "spent", as: Int64.self),
                            try r.decode(column: "granted", as: Int64.self))
                if (s["donation"] ?? 0, s["match"] ?? 0, s["expense"] ?? 0, s["grant"] ?? 0) != kept { wrongTotals.append(p) }
            }
            wrongTotals += byProject.keys.filter { !seen.contains($0) }
            let pending = try await db.raw("SELECT COUNT(*) AS n FROM match_pending").first()!.decode(column: "n", as: Int.self)
            return LedgerCheck(accounts: accounts, transactions: n, unbalancedTransactions: unbalanced, wrongBalances: wrong, wrongTotals: wrongTotals.sorted(),
                               pendingMatches: pending)
        }
    }
}
