import LinliServer
import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Owners' polls: a frozen electorate of exclusive parts, one ballot per part, a tally computed
/// from the ballots (never typed in), and a ballot list kept for audit and recount.
extension DeliberationService {
    struct Poll: Sendable {
        var id: Int64, matterID: Int64, stageIndex: Int, placeID: Int64, path: String, ruleID: Int64, rule: VoteRuleSet, itemClass: ItemClass
        var question: String, opensAt: Int64, closesAt: Int64, status: String, result: TallyResult?, closedAt: Int64?
    }

    func poll(_ r: any SQLRow) throws -> Poll {
        Poll(id: try r.decode(column: "id", as: Int64.self), matterID: try r.decode(column: "matter_id", as: Int64.self),
             stageIndex: try r.decode(column: "stage_index", as: Int.self), placeID: try r.decode(column: "place_id", as: Int64.self),
             path: try r.decode(column: "path", as: String.self), ruleID: try r.decode(column: "rule_id", as: Int64.self),
             rule: try decoded.rule(try r.decode(column: "rule_body", as: String.self)),
             itemClass: ItemClass(rawValue: try r.decode(column: "item_class", as: String.self)) ?? .ordinary,
             question: try r.decode(column: "question", as: String.self), opensAt: try r.decode(column: "opens_at", as: Int64.self),
             closesAt: try r.decode(column: "closes_at", as: Int64.self), status: try r.decode(column: "status", as: String.self),
             result: try r.decode(column: "result", as: String?.self).flatMap { try? JSONDecoder().decode(TallyResult.self, from: Data($0.utf8)) },
             closedAt: try r.decode(column: "closed_at", as: Int64?.self))
    }

    static let pollColumns = """
        SELECT id, matter_id, stage_index, place_id, path, rule_id, rule_body, item_class, question, opens_at, closes_at, status, result, closed_at FROM polls
        """

    /// A poll and its matter, if the actor may see the matter.
    func visiblePoll(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor) async throws -> (Poll, Matter) {
        guard let p = try await db.raw("\(unsafeRaw: Self.pollColumns) WHERE id = \(bind: id)").first().map(poll) else {
            throw LinliError.notFound
        }
        let m = try await visibleMatter(db, p.matterID, actor)
        return (p, m)
    }

    // MARK: Rules

    public struct RuleView: Sendable, Codable {
        public var id: Int64
        public var code: String
        public var name: String
        public var placeID: Int64?
        public var rule: VoteRuleSet
        public var inUse: Int
        enum CodingKeys: String, CodingKey { case id, code, name, placeID = "place_id", rule, inUse = "open_polls" }
    }

    public func rules() async throws -> [RuleView] {
        try await store.read { db in
            try await db.raw("""
                SELECT r.id, r.code, r.name, r.place_id, r.body, (SELECT COUNT(*) FROM polls p WHERE p.rule_id = r.id AND p.status = 'open') AS n
                FROM vote_rules r ORDER BY r.id
                """).all().map { r in
                RuleView(id: try r.decode(column: "id", as: Int64.self), code: try r.decode(column: "code", as: String.self),
                         name: try r.decode(column: "name", as: String.self), placeID: try r.decode(column: "place_id", as: Int64?.self),
                         rule: try JSONDecoder().decode(VoteRuleSet.self, from: Data(try r.decode(column: "body", as: String.self).utf8)),
                         inUse: try r.decode(column: "n", as: Int.self))
            }
        }
    }

    /// Adds a rule set or changes one; a rule that an open poll uses cannot change (the poll keeps
    /// its frozen copy, and the city is told plainly rather than silently ignored).
    public func saveRule(code rawCode: String?, name rawName: String?, placeID: Int64?, rule: VoteRuleSet, actor: Actor) async throws -> RuleView {
        try actor.require(.voteConfigure)
        let code = (rawCode ?? "").trimmingCharacters(in: .whitespaces), name = (rawName ?? "").trimmingCharacters(in: .whitespaces)
        var v = Validator()
        v.check(code.range(of: "^[a-z][a-z0-9_]{1,39}$", options: .regularExpression) != nil, "code", "invalid", "编码应为小写字母、数字和下划线")
        v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写规则名称")
        try v.throwIfAny()
        try rule.validate()
        let now = env.nowSeconds
        let body = String(decoding: try JSON.encoder.encode(rule), as: UTF8.self)
        try await store.transaction { db in
            if let placeID {
                guard let p = try await db.raw("SELECT path FROM places WHERE id = \(bind: placeID)").first() else {
                    throw LinliError.invalid("place_id", "unknown_place", "没有这个地点")
                }
                let path = try p.decode(column: "path", as: String.self)
                guard actor.grants(for: .voteConfigure).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.invalid("place_id", "outside_scope", "不在管辖范围内") }
            }
            if let existing = try await db.raw("SELECT id FROM vote_rules WHERE code = \(bind: code)").first() {
                let id = try existing.decode(column: "id", as: Int64.self)
                let open = try await db.raw("SELECT COUNT(*) AS n FROM polls WHERE rule_id = \(bind: id) AND status = 'open'").first()!.decode(column: "n", as: Int.self)
                guard open == 0 else { throw LinliError.conflict("rule", "rule_in_use", "有 \(open) 个进行中的表决使用这套规则，表决结束前不能修改") }
                try await db.raw("""
                    UPDATE vote_rules SET name = \(bind: name), place_id = \(bind: placeID), body = \(bind: body), updated_at = \(bind: now) WHERE id = \(bind: id)
                    """).run()
            } else {
                try await db.raw("""
                    INSERT INTO vote_rules (code, name, place_id, body, created_at, updated_at)
                    VALUES (\(bind: code), \(bind: name), \(bind: placeID), \(bind: body), \(bind: now), \(bind: now))
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "vote_rule.save", objectType: "vote_rule", objectID: nil, path: "/", detail: code + " " + body)
        }
        return try await rules().first { $0.code == code }!
    }

    // MARK: Opening and closing

    public struct PollInput: Sendable, Codable {
        public var placeID: Int64?
        public var rule: String?
        public var itemClass: String?
        public var question: String?
        /// China time, `2026-12-01T18:00`.
        public var closesAt: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case placeID = "place_id", rule, itemClass = "item_class", question, closesAt = "closes_at" }
    }

    /// Opens the vote of the matter's current stage over the exclusive parts of a compound or a
    /// building, as registered now: the electorate is frozen so later registry edits cannot move it.
    public func openPoll(_ matterID: Int64, _ input: PollInput, actor: Actor) async throws -> PollView {
        let now = env.nowSeconds
        let id: Int64 = try await store.transaction { db in
            let m = try await visibleMatter(db, matterID, actor, manage: true)
            try Self.requireOpen(m)
            try Self.requireStage(m, [.vote], "发起表决")
            var v = Validator()
            let question = (input.question ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(!question.isEmpty, "question", "required", "请填写表决事项")
            v.check(question.count <= 500, "question", "too_long", "表决事项不超过 500 字")
            let closes = input.closesAt.flatMap(LocalTime.parse)
            v.check(closes != nil, "closes_at", "invalid", "请填写截止时间，如 2026-12-01T18:00")
            if let closes {
                v.check(closes > now + 3600, "closes_at", "too_soon", "截止时间应至少在一小时之后")
                v.check(closes <= now + 90 * 86400, "closes_at", "too_late", "表决期不超过 90 天")
            }
            // A matter that names its art. 278 item is counted by the law's majority, whatever the form says.
            var itemClass: ItemClass?
            do { itemClass = try LawItem.classify(item: m.lawItem?.rawValue, itemClass: input.itemClass.flatMap { $0.isEmpty ? nil : $0 } ?? m.itemClass.rawValue).1 } catch let e as LinliError { v.add(e) }
            try v.throwIfAny()
            let placeID = input.placeID ?? m.placeID
            guard let place = try await db.raw("SELECT kind, path FROM places WHERE id = \(bind: placeID)").first() else {
                throw LinliError.invalid("place_id", "unknown_place", "没有这个地点")
            }
            let path = try place.decode(column: "path", as: String.self)
            let kind = PlaceKind(rawValue: try place.decode(column: "kind", as: String.self))
            guard path.hasPrefix(m.compoundPath), kind?.rank == 4 || kind == .building else {
                throw LinliError.invalid("place_id", "outside_matter", "表决范围应是本小区或其中一栋楼")
            }
            guard let ruleRow = try await db.raw("""
                SELECT r.id, r.body, pl.path AS rule_path FROM vote_rules r LEFT JOIN places pl ON pl.id = r.place_id WHERE r.code = \(bind: input.rule ?? "civil_code")
                """).first() else { throw LinliError.invalid("rule", "unknown_rule", "没有这套表决规则") }
            if let rulePath = try ruleRow.decode(column: "rule_path", as: String?.self), !path.hasPrefix(rulePath) {
                throw LinliError.invalid("rule", "rule_not_here", "这套规则不适用于这里")
            }
            let open = try await db.raw("""
                SELECT COUNT(*) AS n FROM polls WHERE matter_id = \(bind: m.id) AND stage_index = \(bind: m.stageIndex) AND status = 'open'
                """).first()!.decode(column: "n", as: Int.self)
            guard open == 0 else { throw LinliError.conflict("poll", "poll_already_open", "本阶段已有进行中的表决") }
            let id = try await db.raw("""
                INSERT INTO polls (matter_id, stage_index, place_id, path, rule_id, rule_body, item_class, question, opens_at, closes_at, status, created_by, created_at)
                VALUES (\(bind: m.id), \(bind: m.stageIndex), \(bind: placeID), \(bind: path), \(bind: try ruleRow.decode(column: "id", as: Int64.self)),
                        \(bind: try ruleRow.decode(column: "body", as: String.self)), \(bind: itemClass!.rawValue), \(bind: question), \(bind: now),
                        \(bind: closes!), 'open', \(bind: actor.userID), \(bind: now))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await db.raw("""
                INSERT INTO poll_parts (poll_id, part_id, household_id, area_centi, owner_key)
                SELECT \(bind: id), d.id, d.household_id, d.area_centi_m2, CASE WHEN d.owner_id IS NULL THEN 'd' || d.id ELSE 'o' || d.owner_id END
                FROM dwellings d JOIN households h ON h.id = d.household_id WHERE \(store.dialect.startsWith("h.path", path))
                """).run()
            try await db.raw("""
                UPDATE polls SET total_parts = (SELECT COUNT(*) FROM poll_parts WHERE poll_id = \(bind: id)),
                    total_area = (SELECT COALESCE(SUM(area_centi), 0) FROM poll_parts WHERE poll_id = \(bind: id)),
                    total_heads = (SELECT COUNT(DISTINCT owner_key) FROM poll_parts WHERE poll_id = \(bind: id))
                WHERE id = \(bind: id)
                """).run()
            let parts = try await db.raw("SELECT total_parts AS n FROM polls WHERE id = \(bind: id)").first()!.decode(column: "n", as: Int.self)
            guard parts > 0 else { throw LinliError.invalid("place_id", "no_parts", "这里没有登记的专有部分，无法表决") }
            try await audit.append(db, actor: actor, action: "poll.open", objectType: "poll", objectID: id, path: path, detail: "\(parts) parts")
            // Every owner household of the electorate is asked to vote. The owners are found by
            // their id (residents' owner index), not by the electorate's 'o'||id key: joined on
            // that expression, every resident of the city was read (2 s of the writer at 250,000).
            let owners = try await db.raw("""
                SELECT DISTINCT g.user_id FROM role_grants g WHERE g.role = 'resident' AND g.household_id IN (
                    SELECT r.household_id FROM residents r WHERE r.owner_id IN (
                        SELECT d.owner_id FROM poll_parts pp JOIN dwellings d ON d.id = pp.part_id WHERE pp.poll_id = \(bind: id) AND d.owner_id IS NOT NULL))
                """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
            try await notify(db, owners, kind: "poll_opened", matter: m)
            return id
        }
        return try await pollView(id, actor: actor)
    }

    /// Closes a poll once its announced window has passed and stores the tally with the rule that decided it.
    public func closePoll(_ pollID: Int64, actor: Actor) async throws -> PollView {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (p, m) = try await visiblePoll(db, pollID, actor)
            guard canManage(actor, path: m.path) else { throw LinliError.forbidden }
            guard p.status == "open" else { throw LinliError.conflict("poll", "poll_closed", "表决已结束") }
            guard now >= p.closesAt else { throw LinliError.conflict("poll", "poll_still_open", "表决截止时间 \(LocalTime.text(p.closesAt)) 未到，不能提前结束") }
            try await db.raw("UPDATE polls SET status = 'closing' WHERE id = \(bind: p.id) AND status = 'open'").run()
            let result = Tally.decide(try await counts(db, p.id), rule: p.rule, itemClass: p.itemClass)
            try await db.raw("""
                UPDATE polls SET status = 'closed', result = \(bind: String(decoding: try JSON.encoder.encode(result), as: UTF8.self)), closed_at = \(bind: now)
                WHERE id = \(bind: p.id)
                """).run()
            try await audit.append(db, actor: actor, action: "poll.close", objectType: "poll", objectID: p.id, path: p.path,
                                   detail: "\(result.passed ? "passed" : "failed") \(result.decidedBy)")
            try await notify(db, try await participants(db, m.id), kind: "poll_closed", matter: m, except: actor.userID)
        }
        return try await pollView(pollID, actor: actor)
    }

    /// The sums of a poll: the electorate's totals, fixed when it opened, and one pass over the
    /// ballots grouped by owner (the walk follows the (poll, owner) index, so no sort is needed).
    func counts(_ db: any SQLDatabase, _ pollID: Int64) async throws -> TallyCounts {
        var c = TallyCounts()
        let total = try await db.raw("SELECT total_parts, total_area, total_heads FROM polls WHERE id = \(bind: pollID)").first()!
        c.totalParts = try total.decode(column: "total_parts", as: Int64.self)
        c.totalArea = try total.decode(column: "total_area", as: Int64.self)
        c.totalHeads = try total.decode(column: "total_heads", as: Int64.self)
        // One head per owner: yes only if every part they voted said yes (see `Tally.count`).
        let voted = try await db.raw("""
            SELECT COUNT(*) AS heads, CAST(COALESCE(SUM(n), 0) AS BIGINT) AS parts, CAST(COALESCE(SUM(a), 0) AS BIGINT) AS area,
                   CAST(COALESCE(SUM(ya), 0) AS BIGINT) AS yes, CAST(COALESCE(SUM(na), 0) AS BIGINT) AS no, CAST(COALESCE(SUM(aa), 0) AS BIGINT) AS abstain,
                   CAST(COALESCE(SUM(CASE WHEN y = n THEN 1 ELSE 0 END), 0) AS BIGINT) AS yes_heads,
                   CAST(COALESCE(SUM(CASE WHEN x = n THEN 1 ELSE 0 END), 0) AS BIGINT) AS no_heads
            FROM (SELECT p.owner_key, COUNT(*) AS n, SUM(p.area_centi) AS a,
                         SUM(CASE WHEN b.choice = 'yes' THEN p.area_centi ELSE 0 END) AS ya,
                         SUM(CASE WHEN b.choice = 'no' THEN p.area_centi ELSE 0 END) AS na,
                         SUM(CASE WHEN b.choice = 'abstain' THEN p.area_centi ELSE 0 END) AS aa,
                         SUM(CASE WHEN b.choice = 'yes' THEN 1 ELSE 0 END) AS y,
                         SUM(CASE WHEN b.choice = 'no' THEN 1 ELSE 0 END) AS x
                  FROM poll_parts p JOIN ballots b ON b.poll_id = p.poll_id AND b.part_id = p.part_id
                  WHERE p.poll_id = \(bind: pollID) GROUP BY p.owner_key) t
            """).first()!
        c.votedHeads = try voted.decode(column: "heads", as: Int64.self)
        c.votedParts = try voted.decode(column: "parts", as: Int64.self)
        c.votedArea = try voted.decode(column: "area", as: Int64.self)
        c.yesArea = try voted.decode(column: "yes", as: Int64.self)
        c.noArea = try voted.decode(column: "no", as: Int64.self)
        c.abstainArea = try voted.decode(column: "abstain", as: Int64.self)
        c.yesHeads = try voted.decode(column: "yes_heads", as: Int64.self)
        c.noHeads = try voted.decode(column: "no_heads", as: Int64.self)
        return c
    }

    /// The tally from the ballots as they stand (a recount of a closed poll, or the live count).
    /// While a poll runs, approval stays with those who may see the ballots; everyone who may see
    /// the matter sees it once the poll is closed.
    public func tally(_ pollID: Int64, actor: Actor) async throws -> TallyResult {
        try await store.read { db in
            let (p, _) = try await visiblePoll(db, pollID, actor)
            guard p.status == "closed" || actor.grants(for: .ballotView).contains(where: { p.path.hasPrefix($0.placePath) }) else {
                throw LinliError.forbidden
            }
            return Tally.decide(try await counts(db, p.id), rule: p.rule, itemClass: p.itemClass)
        }
    }

    // MARK: Ballots

    public struct BallotInput: Sendable, Codable {
        /// The parts to vote for; empty means every part the voter holds in this poll.
        public var partIDs: [Int64]?
        public var choice: String?
        /// online (the owner), paper or proxy (entered by staff).
        public var method: String?
        public var proxyName: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case partIDs = "part_ids", choice, method, proxyName = "proxy_name" }
    }

    public struct BallotReceipt: Sendable, Codable {
        public var pollID: Int64
        public var partID: Int64
        public var choice: String
        public var method: String
        public var revision: Int
        public var castAt: Int64
        enum CodingKeys: String, CodingKey { case pollID = "poll_id", partID = "part_id", choice, method, revision, castAt = "cast_at" }
    }

    /// The parts of a poll the actor owns: only an account linked to an owner (its resident grant
    /// names the person) votes online, never another member of the household. The registry
    /// says which parts the person owns, alone or with others.
    func ownParts(_ db: any SQLDatabase, _ pollID: Int64, _ actor: Actor) async throws -> [Int64] {
        let owned = try await RegistryService.partsOwned(db, residents: actor.grants(for: .voteCast).compactMap(\.residentID))
        guard !owned.isEmpty else { return [] }
        return try await db.query("""
            SELECT pp.part_id FROM poll_parts pp WHERE pp.poll_id = \(pollID) AND pp.part_id IN (\(list: owned))
            ORDER BY pp.part_id
            """).all().map { try $0.decode(column: "part_id", as: Int64.self) }
    }

    /// Whether the actor's household has parts in the poll (asked when the actor owns none of
    /// them: the page then says why they cannot vote instead of showing nothing).
    func householdHasParts(_ db: any SQLDatabase, _ pollID: Int64, _ actor: Actor) async throws -> Bool {
        let households = actor.grants(for: .voteCast).compactMap(\.householdID)
        guard !households.isEmpty else { return false }
        return try await db.query("""
            SELECT pp.part_id FROM poll_parts pp WHERE pp.poll_id = \(pollID) AND pp.household_id IN (\(list: households)) LIMIT 1
            """).first() != nil
    }

    /// The matter of an open (or closing) poll that counts this part, if any: while it runs the
    /// part's owners may not change (the registry asks before recording a sale).
    public static func openPollHolding(_ db: any SQLDatabase, part: Int64) async throws -> String? {
        try await db.raw("""
            SELECT m.title FROM poll_parts pp JOIN polls p ON p.id = pp.poll_id JOIN matters m ON m.id = p.matter_id
            WHERE pp.part_id = \(bind: part) AND p.status IN ('open', 'closing') ORDER BY p.id
            """).first()?.decode(column: "title", as: String.self)
    }

    /// Casts ballots: the owner online for their own parts, or staff entering a paper or proxy
    /// ballot (the proxy's signed authorisation is required as a scanned image).
    public func castBallots(_ pollID: Int64, _ input: BallotInput, proxyDocument: [UInt8]? = nil, actor: Actor) async throws -> [BallotReceipt] {
        guard let choice = Choice(rawValue: input.choice ?? "") else { throw LinliError.invalid("choice", "required", "请选择同意、反对或弃权") }
        guard let asked = BallotMethod(rawValue: input.method ?? "online") else { throw LinliError.invalid("method", "invalid", "方式只能是 online、paper 或 proxy") }
        // Staff acting for an owner (代办) cast the owner's own vote as a paper ballot the owner
        // signed in front of them: never as the owner's online vote, and audited as such.
        let ownVote = asked == .online
        // A relative may report and confirm for an elder, not vote for an owner: that takes the
        // owner's own vote or a proxy's signed paper entered by staff.
        if actor.acting?.byRelative == true {
            throw LinliError.conflict("method", "relative_cannot_vote", "亲属代办不能代业主投票；请业主本人投票，或凭业主签名的委托书由社区工作人员登记")
        }
        let method: BallotMethod = ownVote && actor.acting != nil ? .paper : asked
        let proxyName = (input.proxyName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var prepared: PreparedPhoto?
        if method == .proxy {
            var v = Validator()
            v.check(!proxyName.isEmpty, "proxy_name", "required", "请填写受托人姓名")
            v.check(proxyDocument?.isEmpty == false, "proxy_document", "required", "代为投票须上传业主签名的授权委托书")
            try v.throwIfAny()
        }
        if let doc = proxyDocument, !doc.isEmpty {
            do { prepared = try PhotoStore.prepare(doc) } catch let e as LinliError { throw LinliError.invalid("proxy_document", e.code, e.message) }
        }
        let now = env.nowSeconds
        let prepared2 = prepared
        // Who may vote for which parts is read first, off the writer: the electorate is frozen
        // when the poll opens, so this cannot change under us. Only the window is checked again
        // inside the write, where it is authoritative.
        let (p, parts, proxied): (Poll, [Int64], [Int64: (proxy: Int64, owner: String)]) = try await store.read { db in
            // The poll with just what visibility needs of its matter, in one query.
            guard let row = try await db.raw("""
                SELECT p.id, p.matter_id, p.stage_index, p.place_id, p.path, p.rule_id, p.rule_body, p.item_class, p.question, p.opens_at,
                       p.closes_at, p.status, NULL AS result, p.closed_at, m.status AS matter_status, m.path AS matter_path, m.compound_path
                FROM polls p JOIN matters m ON m.id = p.matter_id WHERE p.id = \(bind: pollID)
                """).first() else { throw LinliError.notFound }
            let p = try poll(row)
            guard canView(actor, compoundPath: try row.decode(column: "compound_path", as: String.self), path: try row.decode(column: "matter_path", as: String.self)) else {
                throw LinliError.notFound
            }
            guard try row.decode(column: "matter_status", as: String.self) == MatterStatus.open.rawValue else {
                throw LinliError.conflict("matter", "matter_closed", "事项已结束，不能再投票")
            }
            try Self.checkWindow(p, now)
            var parts: [Int64]
            var proxied: [Int64: (proxy: Int64, owner: String)] = [:]
            if ownVote {
                guard actor.may(.voteCast) else { throw LinliError.forbidden }
                let own = try await ownParts(db, p.id, actor)
                // Parts the actor votes for as an owner's appointed proxy (Proxies.swift).
                proxied = try await proxiedParts(db, p.id, actor).filter { !own.contains($0.key) }
                guard !own.isEmpty || !proxied.isEmpty else { throw LinliError.conflict("poll", "not_in_electorate", "您家在本次表决范围内没有登记为业主的专有部分") }
                parts = input.partIDs ?? (own + proxied.keys.sorted())
                if let bad = parts.first(where: { !own.contains($0) && proxied[$0] == nil }) {
                    throw LinliError.invalid("part_ids", "not_your_part", "专有部分 \(bad) 不属于您家，您也没有受业主委托为它投票，或它不在本次表决范围内")
                }
            } else {
                guard actor.grants(for: .voteRecord).contains(where: { p.path.hasPrefix($0.placePath) }) else { throw LinliError.forbidden }
                parts = input.partIDs ?? []
                guard parts.count == 1 else { throw LinliError.invalid("part_ids", "one_part", "纸质或委托票每张对应一个专有部分") }
                let known = try await db.raw("SELECT COUNT(*) AS n FROM poll_parts WHERE poll_id = \(bind: p.id) AND part_id = \(bind: parts[0])").first()!.decode(column: "n", as: Int.self)
                guard known == 1 else { throw LinliError.invalid("part_ids", "unknown_part", "专有部分 \(parts[0]) 不在本次表决范围内") }
            }
            guard !parts.isEmpty else { throw LinliError.invalid("part_ids", "required", "请选择专有部分") }
            return (p, parts, proxied)
        }
        let lockClause = store.dialect == .postgres ? " FOR SHARE" : ""
        return try await store.transaction { db in
            // On PostgreSQL the ballot holds the poll row shared, so closing (which updates it)
            // waits for ballots in flight and none slips in after the count.
            guard let row = try await db.raw("SELECT status, opens_at, closes_at FROM polls WHERE id = \(bind: p.id)\(unsafeRaw: lockClause)").first() else {
                throw LinliError.notFound
            }
            var current = p
            current.status = try row.decode(column: "status", as: String.self)
            try Self.checkWindow(current, now)
            var documentID: Int64?
            if let prepared2 {
                let name = try documents.write(prepared2, env: env)
                documentID = try await db.raw("""
                    INSERT INTO ballot_documents (poll_id, stored_name, bytes, created_by, created_at)
                    VALUES (\(bind: p.id), \(bind: name), \(bind: prepared2.jpeg.count), \(bind: actor.userID), \(bind: now)) RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
            var receipts: [BallotReceipt] = []
            var replacedOwners: [Int64] = []
            if !ownVote {
                // An owner's own online vote is replaced by staff only on the evidence of the signed
                // paper (its image), and the owner is told in the same transaction.
                for part in parts {
                    guard let b = try await db.raw("SELECT method, cast_by FROM ballots WHERE poll_id = \(bind: p.id) AND part_id = \(bind: part)").first(),
                          try b.decode(column: "method", as: String.self) == BallotMethod.online.rawValue else { continue }
                    guard documentID != nil else {
                        throw LinliError.invalid("proxy_document", "evidence_required", "业主已在线投票；以纸质或委托票替换，须上传业主签名的选票或委托书图片")
                    }
                    replacedOwners.append(try b.decode(column: "cast_by", as: Int64.self))
                }
            }
            // A proxy never overwrites the owner's own online vote (the owner may change it,
            // where the rule allows, or staff on the evidence of a signed paper).
            // The appointment is read again inside the write, held shared on PostgreSQL, so a
            // revocation that commits first ends the right (revoking updates the row).
            let today = LocalDay.of(now)
            for part in parts {
                guard let proxy = proxied[part]?.proxy else { continue }
                guard try await db.raw("""
                    SELECT id FROM vote_proxies WHERE id = \(bind: proxy) AND revoked_at IS NULL AND valid_until >= \(bind: today)\(unsafeRaw: lockClause)
                    """).first() != nil else {
                    throw LinliError.conflict("part_ids", "proxy_ended", "业主的委托已经结束，不能再为专有部分 \(part) 投票")
                }
                // Only a ballot this appointment cast may be changed by it: the owner's own vote
                // (online, on paper or through staff acting for them) is never overwritten.
                guard let b = try await db.raw("SELECT proxy_id FROM ballots WHERE poll_id = \(bind: p.id) AND part_id = \(bind: part)").first() else { continue }
                if try b.decode(column: "proxy_id", as: Int64?.self) != proxy {
                    throw LinliError.conflict("part_ids", "owner_voted", "这个专有部分已由业主本人或他人投票，受托人不能更改（专有部分 \(part)）")
                }
            }
            for part in parts {
                let proxy = proxied[part]
                let partMethod: BallotMethod = proxy != nil ? .proxy : method
                let partProxyName = proxy != nil ? actor.displayName : proxyName
                // The primary key (poll, part) is what makes a double vote impossible, however many
                // arrive at once: the second insert finds the first and is refused or counted as a change.
                // When the rule allows a change the same statement records it (revision + 1);
                // otherwise the second ballot finds the first and is refused.
                // A proxy's change applies only over its own appointment's ballot, checked by the
                // statement itself: an owner's vote that committed after the check above stays.
                let onConflict: SQLQueryString = p.rule.allowChange ? """
                    DO UPDATE SET choice = excluded.choice, method = excluded.method, proxy_name = excluded.proxy_name,
                        document_id = excluded.document_id, proxy_id = excluded.proxy_id, cast_by = excluded.cast_by, cast_at = excluded.cast_at,
                        revision = ballots.revision + 1\(unsafeRaw: proxy != nil ? " WHERE ballots.proxy_id = excluded.proxy_id" : "")
                    """ : "DO NOTHING"
                let revision = try await db.raw("""
                    INSERT INTO ballots (poll_id, part_id, choice, method, proxy_name, document_id, proxy_id, cast_by, cast_at, revision)
                    VALUES (\(bind: p.id), \(bind: part), \(bind: choice.rawValue), \(bind: partMethod.rawValue), \(bind: partProxyName), \(bind: documentID),
                            \(bind: proxy?.proxy), \(bind: actor.userID), \(bind: now), 1)
                    ON CONFLICT (poll_id, part_id) \(onConflict) RETURNING revision
                    """).first()?.decode(column: "revision", as: Int.self)
                guard let revision else {
                    // The same ballot again from the same voter (a phone retrying after a lost
                    // answer) gets the receipt it was given, not a refusal; another choice is refused.
                    // Only an owner's own online vote: staff entering paper or a proxy bring a
                    // document each time, which must not be taken for the one already recorded.
                    if proxy == nil, partMethod == .online, let same = try await db.raw("""
                        SELECT revision, cast_at FROM ballots WHERE poll_id = \(bind: p.id) AND part_id = \(bind: part)
                        AND cast_by = \(bind: actor.userID) AND choice = \(bind: choice.rawValue) AND method = \(bind: partMethod.rawValue)
                        """).first() {
                        receipts.append(BallotReceipt(pollID: p.id, partID: part, choice: choice.rawValue, method: partMethod.rawValue,
                                                      revision: try same.decode(column: "revision", as: Int.self), castAt: try same.decode(column: "cast_at", as: Int64.self)))
                        continue
                    }
                    if proxy != nil { throw LinliError.conflict("part_ids", "owner_voted", "这个专有部分已由业主本人或他人投票，受托人不能更改（专有部分 \(part)）") }
                    throw LinliError.conflict("part_ids", "already_voted", "专有部分 \(part) 已投票，本规则不允许改票")
                }
                try await db.raw("""
                    INSERT INTO ballot_history (poll_id, part_id, choice, method, proxy_name, document_id, proxy_id, cast_by, at, revision)
                    VALUES (\(bind: p.id), \(bind: part), \(bind: choice.rawValue), \(bind: partMethod.rawValue), \(bind: partProxyName), \(bind: documentID),
                            \(bind: proxy?.proxy), \(bind: actor.userID), \(bind: now), \(bind: revision))
                    """).run()
                receipts.append(BallotReceipt(pollID: p.id, partID: part, choice: choice.rawValue, method: partMethod.rawValue, revision: revision, castAt: now))
            }
            if !proxied.isEmpty, parts.contains(where: { proxied[$0] != nil }) {
                let mine = parts.filter { proxied[$0] != nil }
                try await audit.append(db, actor: actor, action: "ballot.proxy", objectType: "poll", objectID: p.id, path: p.path,
                                       detail: "part \(mine.map(String.init).joined(separator: ",")) proxy \(Set(mine.compactMap { proxied[$0]?.proxy }).sorted().map(String.init).joined(separator: ","))")
            }
            if method != .online {
                try await audit.append(db, actor: actor, action: "ballot.record", objectType: "poll", objectID: p.id, path: p.path,
                                       detail: "\(method.rawValue) part \(parts.map(String.init).joined(separator: ","))" + (replacedOwners.isEmpty ? "" : " replaces online"))
                if !replacedOwners.isEmpty {
                    try await notifier.tell(db, replacedOwners, except: actor.userID, at: now) {
                        OutgoingNotification(userID: $0, kind: "ballot_replaced", requestID: nil, subject: p.question, matterID: p.matterID)
                    }
                }
            }
            return receipts
        }
    }

    static func checkWindow(_ p: Poll, _ now: Int64) throws {
        guard p.status == "open" else { throw LinliError.conflict("poll", "poll_closed", "表决已结束") }
        guard now >= p.opensAt else { throw LinliError.conflict("poll", "poll_not_open", "表决尚未开始") }
        guard now < p.closesAt else { throw LinliError.conflict("poll", "poll_closed", "表决已于 \(LocalTime.text(p.closesAt)) 截止") }
    }

    // MARK: Reading polls

    /// A printed notice's heading: the places from the community down to the vote's own
    /// ("西林寺社区 金桂苑 1幢"), so a sheet on a board says whose vote it was.
    func noticeHeading(placeID: Int64) async throws -> String {
        try await store.read { db in
            guard let path = try await db.raw("SELECT path FROM places WHERE id = \(bind: placeID)").first()?.decode(column: "path", as: String.self) else { return "" }
            let ids = Array(PlacePath.ids(path).dropFirst(3))
            guard !ids.isEmpty else { return "" }
            let names = try await db.raw("SELECT id, name FROM places WHERE id IN (\(binds: ids))").all()
                .reduce(into: [Int64: String]()) { $0[try $1.decode(column: "id", as: Int64.self)] = try $1.decode(column: "name", as: String.self) }
            return ids.compactMap { names[$0] }.joined(separator: " ")
        }
    }

    public func pollView(_ pollID: Int64, actor: Actor) async throws -> PollView {
        let now = env.nowSeconds
        return try await store.read { db in
            let (p, m) = try await visiblePoll(db, pollID, actor)
            let counts = try await counts(db, p.id)
            let live = Tally.decide(counts, rule: p.rule, itemClass: p.itemClass)
            let owned = actor.may(.voteCast) ? try await ownParts(db, p.id, actor) : []
            let proxied = actor.may(.voteCast) ? try await proxiedParts(db, p.id, actor).filter { !owned.contains($0.key) } : [:]
            let own = owned + proxied.keys.sorted()
            let notOwner = actor.may(.voteCast) && own.isEmpty ? try await householdHasParts(db, p.id, actor) : false
            var mine: [PollView.MyPart] = []
            if !own.isEmpty {
                let rows = try await db.raw("""
                    SELECT pp.part_id, pp.area_centi, h.address, d.part_no, b.choice, b.method, b.revision FROM poll_parts pp JOIN households h ON h.id = pp.household_id
                    LEFT JOIN dwellings d ON d.id = pp.part_id LEFT JOIN ballots b ON b.poll_id = pp.poll_id AND b.part_id = pp.part_id
                    WHERE pp.poll_id = \(bind: p.id) AND pp.part_id IN (\(unsafeRaw: own.map(String.init).joined(separator: ",")))
                    ORDER BY pp.part_id
                    """).all()
                mine = try rows.map { r in
                    PollView.MyPart(partID: try r.decode(column: "part_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                                    partNo: try r.decode(column: "part_no", as: String?.self), area: Self.area(try r.decode(column: "area_centi", as: Int64.self)),
                                    choice: try r.decode(column: "choice", as: String?.self) ?? "", method: try r.decode(column: "method", as: String?.self) ?? "",
                                    revision: try r.decode(column: "revision", as: Int?.self) ?? 0,
                                    proxyFor: proxied[try r.decode(column: "part_id", as: Int64.self)]?.owner)
                }
            }
            let open = p.status == "open" && now >= p.opensAt && now < p.closesAt
            let manage = canManage(actor, path: m.path)
            let record = open && m.status == .open && actor.grants(for: .voteRecord).contains { p.path.hasPrefix($0.placePath) }
            let recordParts: [PollView.RecordPart] = !record ? [] : try await db.raw("""
                SELECT pp.part_id, d.part_no, h.address FROM poll_parts pp JOIN households h ON h.id = pp.household_id LEFT JOIN dwellings d ON d.id = pp.part_id
                WHERE pp.poll_id = \(bind: p.id) ORDER BY h.address, pp.part_id
                """).all().map { r in
                let address = try r.decode(column: "address", as: String.self)
                let label = (try r.decode(column: "part_no", as: String?.self)).map { $0 + " · " + address } ?? address
                return PollView.RecordPart(partID: try r.decode(column: "part_id", as: Int64.self), label: label)
            }
            return PollView(id: p.id, matterID: m.id, matterTitle: m.title, question: p.question, placeID: p.placeID, placeName: m.placeName,
                            itemClass: p.itemClass.rawValue,
                            rule: p.rule, opensAt: p.opensAt, closesAt: p.closesAt, opensText: LocalTime.text(p.opensAt), closesText: LocalTime.text(p.closesAt),
                            status: p.status, acceptingBallots: open, counts: p.status == "closed" ? counts : nil,
                            participation: Array(live.criteria.prefix(2)),
                            result: p.result, recountMatches: p.result.map { $0.counts == counts },
                            myParts: mine, canVote: open && !mine.isEmpty && m.status == .open, notOwner: notOwner,
                            lawItem: m.lawItem?.code,
                            canRecord: record, recordParts: recordParts,
                            canClose: manage && p.status == "open" && now >= p.closesAt,
                            canSeeBallots: actor.grants(for: .ballotView).contains { p.path.hasPrefix($0.placePath) })
        }
    }

    static func area(_ centi: Int64) -> String { RegistryService.formatArea(centi: centi) }

    public struct BallotRow: Sendable, Codable {
        public var partID: Int64
        public var address: String
        public var area: String
        public var owner: String
        public var choice: String
        public var method: String
        public var proxyName: String
        public var hasDocument: Bool
        public var revision: Int
        public var castText: String
        enum CodingKeys: String, CodingKey {
            case partID = "part_id", address, area, owner, choice, method, proxyName = "proxy_name", hasDocument = "has_document", revision, castText = "cast_text"
        }
    }

    /// Who voted how. Owners' and proxies' names are masked unless a reason is given, and each
    /// unmasked view is written to the audit log.
    public func ballots(_ pollID: Int64, unmaskReason: String? = nil, actor: Actor) async throws -> [BallotRow] {
        let reason = unmaskReason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let reason, reason.isEmpty { throw LinliError.invalid("reason", "required", "查看实名请说明理由") }
        let body: @Sendable (any SQLDatabase) async throws -> [BallotRow] = { db in
            let (p, _) = try await visiblePoll(db, pollID, actor)
            guard actor.grants(for: .ballotView).contains(where: { p.path.hasPrefix($0.placePath) }) else { throw LinliError.forbidden }
            let rows = try await db.raw("""
                SELECT b.part_id, pp.area_centi, h.address, o.name AS owner, o.kind AS owner_kind, b.choice, b.method, b.proxy_name, b.document_id, b.revision, b.cast_at
                FROM ballots b JOIN poll_parts pp ON pp.poll_id = b.poll_id AND pp.part_id = b.part_id JOIN households h ON h.id = pp.household_id
                JOIN dwellings d ON d.id = b.part_id LEFT JOIN owners o ON o.id = d.owner_id
                WHERE b.poll_id = \(bind: p.id) ORDER BY h.address
                """).all().map { r -> BallotRow in
                let owner = try r.decode(column: "owner", as: String?.self) ?? ""
                let developer = try r.decode(column: "owner_kind", as: String?.self) == "developer"
                let proxy = try r.decode(column: "proxy_name", as: String.self)
                return BallotRow(partID: try r.decode(column: "part_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                                 area: Self.area(try r.decode(column: "area_centi", as: Int64.self)),
                                 owner: reason != nil || developer ? owner : owner.maskedName, choice: try r.decode(column: "choice", as: String.self),
                                 method: try r.decode(column: "method", as: String.self), proxyName: reason != nil ? proxy : proxy.maskedName,
                                 hasDocument: try r.decode(column: "document_id", as: Int64?.self) != nil, revision: try r.decode(column: "revision", as: Int.self),
                                 castText: LocalTime.text(try r.decode(column: "cast_at", as: Int64.self)))
            }
            if let reason {
                try await audit.append(db, actor: actor, action: "ballot.unmask", objectType: "poll", objectID: p.id, path: p.path, reason: reason)
            }
            return rows
        }
        return reason == nil ? try await store.read(body) : try await store.transaction(body)
    }

    /// A proxy's authorisation image, for those who may see the ballots.
    public func ballotDocument(_ documentID: Int64, actor: Actor) async throws -> [UInt8] {
        let name: String = try await store.read { db in
            guard let d = try await db.raw("SELECT poll_id, stored_name FROM ballot_documents WHERE id = \(bind: documentID)").first() else { throw LinliError.notFound }
            let (p, _) = try await visiblePoll(db, try d.decode(column: "poll_id", as: Int64.self), actor)
            guard actor.grants(for: .ballotView).contains(where: { p.path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
            return try d.decode(column: "stored_name", as: String.self)
        }
        return try documents.read(name)
    }
}

public struct PollView: Sendable, Codable {
    public struct MyPart: Sendable, Codable {
        public var partID: Int64
        public var address: String
        /// 专有部分编号, as on the paper ballot.
        public var partNo: String?
        public var area: String
        public var choice: String
        public var method: String
        public var revision: Int
        /// The owner this part is voted for, when the actor is their appointed proxy.
        public var proxyFor: String?
        enum CodingKeys: String, CodingKey { case partID = "part_id", address, partNo = "part_no", area, choice, method, revision, proxyFor = "proxy_for" }
    }
    public var id: Int64
    public var matterID: Int64
    public var matterTitle: String
    public var question: String
    public var placeID: Int64
    /// The compound (or community) whose owners vote: the heading of a printed result.
    public var placeName: String
    public var itemClass: String
    public var rule: VoteRuleSet
    public var opensAt: Int64
    public var closesAt: Int64
    public var opensText: String
    public var closesText: String
    public var status: String
    public var acceptingBallots: Bool
    /// Turnout is public while the poll runs; approval is shown only in the result after closing.
    public var counts: TallyCounts?
    public var participation: [Criterion]
    public var result: TallyResult?
    /// For a closed poll: whether counting the stored ballots again gives the stored result.
    public var recountMatches: Bool?
    public var myParts: [MyPart]
    public var canVote: Bool
    /// The household has parts here but the account is not their owner's: the page says why.
    public var notOwner: Bool
    /// The art. 278 item the matter decides ("art278_7"), when it names one.
    public var lawItem: String?
    public var canRecord: Bool
    /// For staff entering paper ballots: every part of the electorate by its number and address,
    /// so nobody types an internal id.
    public var recordParts: [RecordPart] = []
    public var canClose: Bool
    public var canSeeBallots: Bool

    public struct RecordPart: Sendable, Codable {
        public var partID: Int64
        public var label: String
        enum CodingKeys: String, CodingKey { case partID = "part_id", label }
    }

    enum CodingKeys: String, CodingKey {
        case notOwner = "not_owner", lawItem = "law_item", recordParts = "record_parts"
        case id, matterID = "matter_id", matterTitle = "matter_title", question, placeID = "place_id", placeName = "place_name", itemClass = "item_class", rule
        case opensAt = "opens_at", closesAt = "closes_at", opensText = "opens_text", closesText = "closes_text", status
        case acceptingBallots = "accepting_ballots", counts, participation, result, recountMatches = "recount_matches", myParts = "my_parts"
        case canVote = "can_vote", canRecord = "can_record", canClose = "can_close", canSeeBallots = "can_see_ballots"
    }
}

extension DeliberationService {
    /// Open votes over the actor's households, closing soonest first.
    public func openVotes(actor: Actor) async throws -> [OpenVote] {
        let households = Array(Set(actor.grants(for: .voteCast).compactMap(\.householdID)))
        guard !households.isEmpty else { return [] }
        return try await store.read { db in
            try await db.query("""
                SELECT p.id, p.matter_id, m.title, p.closes_at,
                       CASE WHEN EXISTS (SELECT 1 FROM ballots b JOIN poll_parts x ON x.poll_id = b.poll_id AND x.part_id = b.part_id
                               WHERE b.poll_id = p.id AND x.household_id IN (\(list: households))) THEN 1 ELSE 0 END AS voted
                FROM polls p JOIN matters m ON m.id = p.matter_id
                WHERE p.status = 'open' AND p.id IN (SELECT pp.poll_id FROM poll_parts pp WHERE pp.household_id IN (\(list: households)))
                ORDER BY p.closes_at, p.id LIMIT 20
                """).all().map { r in
                OpenVote(pollID: try r.decode(column: "id", as: Int64.self), matterID: try r.decode(column: "matter_id", as: Int64.self),
                         title: try r.decode(column: "title", as: String.self),
                         closesText: LocalTime.text(try r.decode(column: "closes_at", as: Int64.self)),
                         voted: try r.decode(column: "voted", as: Int.self) == 1)
            }
        }
    }
}
