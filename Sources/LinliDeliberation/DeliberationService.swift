import LinliServer
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import LinliCore
import LinliStore

/// Deliberation use cases: matters through their stages, meetings, owners' polls, notices,
/// milestones and filing. Each runs in one transaction, checks the actor on the server and writes
/// its audit entry and notifications with the change.
public struct DeliberationService: Sendable {
    let store: any Store
    let env: Env
    let audit: AuditLog
    let notifier: any Notifier
    let documents: PhotoStore
    /// Process definitions and frozen rule sets never change once written, so their decoded form
    /// is kept by their JSON text (decoding them was a tenth of a ballot's cost).
    let decoded = DecodedBodies()

    public init(store: any Store, env: Env, notifier: any Notifier = InAppNotifier(), documentDirectory: String) {
        self.store = store
        self.env = env
        self.audit = AuditLog(env: env)
        self.notifier = notifier
        self.documents = PhotoStore(directory: documentDirectory)
    }

    /// The built-in processes and the Civil Code rule set; added once, never overwritten, so a
    /// city's edits survive restarts.
    public func ensureDefaults() async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            for p in ProcessDefinition.builtIn {
                let body = String(decoding: try JSON.encoder.encode(p), as: UTF8.self)
                try await db.raw("""
                    INSERT INTO processes (code, name, place_id, body, created_at) VALUES (\(bind: p.code), \(bind: p.nameZh), NULL, \(bind: body), \(bind: now))
                    ON CONFLICT (code) DO NOTHING
                    """).run()
            }
            for (code, name, rule) in [("civil_code", "民法典第二百七十八条", VoteRuleSet.civilCode)] {
                let body = String(decoding: try JSON.encoder.encode(rule), as: UTF8.self)
                try await db.raw("""
                    INSERT INTO vote_rules (code, name, place_id, body, created_at, updated_at)
                    VALUES (\(bind: code), \(bind: name), NULL, \(bind: body), \(bind: now), \(bind: now))
                    ON CONFLICT (code) DO NOTHING
                    """).run()
            }
        }
    }

    // MARK: Rows

    struct Matter: Sendable {
        var id: Int64, processID: Int64, process: ProcessDefinition, placeID: Int64, placeName: String, path: String, compoundID: Int64, compoundPath: String
        var title: String, description: String, itemClass: ItemClass, status: MatterStatus, stageIndex: Int, rejectedReason: String
        var createdBy: Int64, createdAt: Int64, updatedAt: Int64
        var lawItem: LawItem? = nil
        var stage: StageDefinition? { stageIndex < process.stages.count ? process.stages[stageIndex] : nil }
    }

    static let matterColumns = """
        SELECT m.id, m.process_id, p.body AS process_body, m.place_id, m.path, m.compound_id, m.compound_path, m.title, m.description,
               m.item_class, m.status, m.stage_index, m.rejected_reason, m.created_by, m.created_at, m.updated_at, pl.name AS place_name, m.law_item
        FROM matters m JOIN processes p ON p.id = m.process_id JOIN places pl ON pl.id = m.place_id
        """

    func matter(_ r: any SQLRow) throws -> Matter {
        Matter(id: try r.decode(column: "id", as: Int64.self), processID: try r.decode(column: "process_id", as: Int64.self),
               process: try decoded.process(try r.decode(column: "process_body", as: String.self)),
               placeID: try r.decode(column: "place_id", as: Int64.self), placeName: try r.decode(column: "place_name", as: String.self), path: try r.decode(column: "path", as: String.self),
               compoundID: try r.decode(column: "compound_id", as: Int64.self), compoundPath: try r.decode(column: "compound_path", as: String.self),
               title: try r.decode(column: "title", as: String.self), description: try r.decode(column: "description", as: String.self),
               itemClass: ItemClass(rawValue: try r.decode(column: "item_class", as: String.self)) ?? .ordinary,
               status: MatterStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .open,
               stageIndex: try r.decode(column: "stage_index", as: Int.self), rejectedReason: try r.decode(column: "rejected_reason", as: String.self),
               createdBy: try r.decode(column: "created_by", as: Int64.self), createdAt: try r.decode(column: "created_at", as: Int64.self),
               updatedAt: try r.decode(column: "updated_at", as: Int64.self),
               lawItem: try r.decode(column: "law_item", as: Int?.self).flatMap(LawItem.init(rawValue:)))
    }

    func fetchMatter(_ db: any SQLDatabase, _ id: Int64) async throws -> Matter? {
        try await db.raw("\(unsafeRaw: Self.matterColumns) WHERE m.id = \(bind: id)").first().map(matter)
    }

    // MARK: Who may do what

    /// Residents see the matters of their own compound; staff those inside their area.
    func canView(_ actor: Actor, compoundPath: String, path: String) -> Bool {
        actor.grants(for: .matterView).contains { g in
            g.role == .resident ? g.placePath.hasPrefix(compoundPath) : path.hasPrefix(g.placePath)
        }
    }

    func canManage(_ actor: Actor, path: String) -> Bool {
        actor.grants(for: .matterManage).contains { path.hasPrefix($0.placePath) }
    }

    /// Loads a matter the actor may see (404 otherwise) and, when `manage`, that they may move (403).
    func visibleMatter(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, manage: Bool = false) async throws -> Matter {
        guard let m = try await fetchMatter(db, id), canView(actor, compoundPath: m.compoundPath, path: m.path) else { throw LinliError.notFound }
        if manage, !canManage(actor, path: m.path) { throw LinliError.forbidden }
        return m
    }

    static func requireOpen(_ m: Matter) throws {
        switch m.status {
        case .open: return
        case .filed: throw LinliError.conflict("matter", "matter_filed", "事项已备案，只读")
        case .rejected: throw LinliError.conflict("matter", "matter_closed", "事项已被否决，不能再修改")
        }
    }

    static func requireStage(_ m: Matter, _ kinds: [StageKind], _ what: String) throws {
        guard let s = m.stage, kinds.contains(s.kind) else {
            throw LinliError.conflict("stage", "wrong_stage", "当前阶段“\(m.stage?.nameZh ?? "—")”不能\(what)")
        }
    }

    // MARK: Notifications

    /// Everyone who took part in a matter: who raised it, who acted on a stage, who voted or whose
    /// household attended a meeting or voted.
    func participants(_ db: any SQLDatabase, _ matterID: Int64) async throws -> [Int64] {
        try await db.raw("""
            SELECT created_by AS u FROM matters WHERE id = \(bind: matterID)
            UNION SELECT acted_by FROM matter_stages WHERE matter_id = \(bind: matterID)
            UNION SELECT b.cast_by FROM ballots b JOIN polls p ON p.id = b.poll_id WHERE p.matter_id = \(bind: matterID)
            UNION SELECT g.user_id FROM role_grants g WHERE g.role = 'resident' AND g.household_id IN (
                SELECT pp.household_id FROM ballots b JOIN poll_parts pp ON pp.poll_id = b.poll_id AND pp.part_id = b.part_id
                JOIN polls p ON p.id = b.poll_id WHERE p.matter_id = \(bind: matterID)
                UNION SELECT a.household_id FROM meeting_attendance a JOIN meetings mt ON mt.id = a.meeting_id
                WHERE mt.matter_id = \(bind: matterID) AND a.household_id IS NOT NULL)
            """).all().map { try $0.decode(column: "u", as: Int64.self) }
    }

    /// Staff who manage matters at this path (community and above).
    func managers(_ db: any SQLDatabase, path: String) async throws -> [Int64] {
        let roles = Role.allCases.filter { PermissionTable.actions[$0]?.contains(.matterManage) == true }.map(\.rawValue)
        return try await db.raw("""
            SELECT DISTINCT g.user_id FROM role_grants g JOIN places p ON p.id = g.place_id
            WHERE g.role IN (\(unsafeRaw: roles.map { "'\($0)'" }.joined(separator: ","))) AND \(bind: path) LIKE p.path || '%'
            """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
    }

    func notify(_ db: any SQLDatabase, _ users: [Int64], kind: String, matter: Matter, except: Int64? = nil) async throws {
        try await notifier.tell(db, users, except: except, at: env.nowSeconds) {
            OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: matter.title, matterID: matter.id)
        }
    }

    // MARK: Matters

    public struct MatterInput: Sendable, Codable {
        public var placeID: Int64?
        public var title: String?
        public var description: String?
        public var process: String?
        public var itemClass: String?
        /// Civil Code art. 278 item (1–9) the matter decides; its vote is classed by it.
        public var lawItem: Int?
        public init() {}
        enum CodingKeys: String, CodingKey { case placeID = "place_id", title, description, process, itemClass = "item_class", lawItem = "law_item" }
    }

    /// Raises a matter (the suggestion stage): residents for their own compound or building, staff inside their area.
    public func suggestMatter(_ input: MatterInput, actor: Actor) async throws -> MatterView {
        var v = Validator()
        let title = (input.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let description = (input.description ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!title.isEmpty, "title", "required", "请填写事项标题")
        v.check(title.count <= DeliberationLimits.titleMax, "title", "too_long", "标题不能超过 \(DeliberationLimits.titleMax) 字")
        v.check(!description.isEmpty, "description", "required", "请说明事项内容")
        v.check(description.count <= DeliberationLimits.textMax, "description", "too_long", "内容过长")
        var itemClass: ItemClass?, lawItem: LawItem?
        do { (lawItem, itemClass) = try LawItem.classify(item: input.lawItem, itemClass: input.itemClass) } catch let e as LinliError { v.add(e) }
        v.check(input.placeID != nil, "place_id", "required", "请选择小区或楼栋")
        try v.throwIfAny()
        let now = env.nowSeconds
        let (itemClassValue, lawItemValue) = (itemClass, lawItem)
        let m: Matter = try await store.transaction { db in
            guard let place = try await db.raw("SELECT id, kind, path FROM places WHERE id = \(bind: input.placeID!)").first() else {
                throw LinliError.invalid("place_id", "unknown_place", "没有这个地点")
            }
            let kind = PlaceKind(rawValue: try place.decode(column: "kind", as: String.self))
            let path = try place.decode(column: "path", as: String.self)
            guard let kind, kind.rank == 4 || kind == .building else { throw LinliError.invalid("place_id", "not_compound_or_building", "事项应属于一个小区或一栋楼") }
            let mine = actor.grants(for: .matterSuggest).contains { g in
                g.role == .resident ? g.placePath.hasPrefix(path) : path.hasPrefix(g.placePath)
            }
            guard mine else { throw LinliError.invalid("place_id", "outside_scope", "只能为自己所在的小区或楼栋提议") }
            let compoundID = PlacePath.ids(path)[4]
            let compoundPath = "/" + PlacePath.ids(path).prefix(5).map(String.init).joined(separator: "/") + "/"
            let code = input.process ?? "wenzhou"
            guard let proc = try await db.raw("SELECT id, path_ok FROM (SELECT p.id, CASE WHEN p.place_id IS NULL THEN 1 WHEN \(bind: path) LIKE pl.path || '%' THEN 1 ELSE 0 END AS path_ok FROM processes p LEFT JOIN places pl ON pl.id = p.place_id WHERE p.code = \(bind: code)) t").first(),
                  try proc.decode(column: "path_ok", as: Int.self) == 1 else {
                throw LinliError.invalid("process", "unknown_process", "没有这个议事流程")
            }
            let id = try await db.raw("""
                INSERT INTO matters (process_id, place_id, path, compound_id, compound_path, title, description, item_class, status, stage_index,
                                     created_by, created_at, updated_at, law_item)
                VALUES (\(bind: try proc.decode(column: "id", as: Int64.self)), \(bind: input.placeID!), \(bind: path), \(bind: compoundID), \(bind: compoundPath),
                        \(bind: title), \(bind: description), \(bind: itemClassValue!.rawValue), 'open', 1, \(bind: actor.userID), \(bind: now), \(bind: now), \(bind: lawItemValue?.rawValue))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            let m = try await fetchMatter(db, id)!
            try await db.raw("""
                INSERT INTO matter_stages (matter_id, stage_index, stage_code, outcome, note, acted_by, acted_at)
                VALUES (\(bind: id), 0, \(bind: m.process.stages[0].code), 'passed', '', \(bind: actor.userID), \(bind: now))
                """).run()
            try await audit.append(db, actor: actor, action: "matter.suggest", objectType: "matter", objectID: id, path: path)
            try await notify(db, try await managers(db, path: path), kind: "matter_suggested", matter: m, except: actor.userID)
            return m
        }
        return Self.view(m, lang: .zh)
    }

    /// Where the actor may raise a matter: a resident's compound and building; staff's compounds.
    public func placeOptions(actor: Actor) async throws -> [(Int64, String)] {
        try await store.read { db in
            var out: [(Int64, String)] = []
            for g in actor.grants(for: .matterSuggest) {
                if g.role == .resident {
                    let ids = PlacePath.ids(g.placePath)
                    for id in ids.dropFirst(4).prefix(2) {
                        if let r = try await db.raw("SELECT name, kind FROM places WHERE id = \(bind: id)").first() {
                            out.append((id, try r.decode(column: "name", as: String.self)))
                        }
                    }
                } else {
                    let rows = try await db.raw("""
                        SELECT id, name FROM places WHERE kind IN ('compound', 'villager_group') AND \(store.dialect.startsWith("path", g.placePath)) ORDER BY path LIMIT 300
                        """).all()
                    for r in rows { out.append((try r.decode(column: "id", as: Int64.self), try r.decode(column: "name", as: String.self))) }
                }
            }
            return out
        }
    }

    public struct AdvanceInput: Sendable, Codable {
        public var stage: String?
        public var outcome: String?
        public var note: String?
        public var reason: String?
        /// For the publication stages: the notice's title and text, and whether people outside the compound may read it.
        public var noticeTitle: String?
        public var noticeBody: String?
        public var noticePublic: Bool?
        /// A document this stage produced (the proposal, the review opinion), kept with the matter.
        public var documentTitle: String?
        public var documentBody: String?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case stage, outcome, note, reason, noticeTitle = "notice_title", noticeBody = "notice_body", noticePublic = "notice_public"
            case documentTitle = "document_title", documentBody = "document_body"
        }
    }

    /// Records the current stage's outcome and moves on. What a stage needs is checked here: a held
    /// meeting with minutes, a closed poll (whose tally is the outcome), done milestones.
    public func advance(_ matterID: Int64, _ input: AdvanceInput, actor: Actor) async throws -> MatterView {
        let now = env.nowSeconds
        let m: Matter = try await store.transaction { db in
            let m = try await visibleMatter(db, matterID, actor, manage: true)
            try Self.requireOpen(m)
            guard let stage = m.stage else { throw LinliError.conflict("stage", "matter_finished", "事项已完成全部阶段") }
            let stageCode = (input.stage ?? "").isEmpty ? stage.code : input.stage!
            var outcome: StageOutcome
            if let raw = input.outcome, !raw.isEmpty {
                guard let o = StageOutcome(rawValue: raw) else { throw LinliError.invalid("outcome", "invalid", "结果只能是 passed、rejected 或 skipped") }
                outcome = o
            } else { outcome = .passed }
            var reason = input.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
            let note = (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard note.count <= DeliberationLimits.textMax else { throw LinliError.invalid("note", "too_long", "说明过长") }
            // Order first: a later stage named here is a skip, refused before anything else is looked at.
            let precheck: StageOutcome = stage.kind == .vote && outcome != .skipped ? .passed : outcome
            _ = try MatterFlow.advance(m.process, current: m.stageIndex, status: m.status, stageCode: stageCode, outcome: precheck, reason: reason)
            if outcome != .skipped {
                switch stage.kind {
                case .suggestion, .decision, .filing:
                    break
                case .meeting:
                    let held = try await db.raw("""
                        SELECT COUNT(*) AS n FROM meetings WHERE matter_id = \(bind: m.id) AND stage_index = \(bind: m.stageIndex) AND status = 'held'
                        """).first()!.decode(column: "n", as: Int.self)
                    guard held > 0 else { throw LinliError.conflict("stage", "meeting_required", "请先召开“\(stage.nameZh)”会议并记录纪要") }
                case .vote:
                    // The owners decide, not the clerk: the outcome comes from the closed poll's tally.
                    guard let row = try await db.raw("""
                        SELECT result FROM polls WHERE matter_id = \(bind: m.id) AND stage_index = \(bind: m.stageIndex) AND status = 'closed' ORDER BY id DESC
                        """).first(), let json = try row.decode(column: "result", as: String?.self) else {
                        throw LinliError.conflict("stage", "poll_required", "请先发起表决并在截止后结束计票")
                    }
                    let result = try JSONDecoder().decode(TallyResult.self, from: Data(json.utf8))
                    outcome = result.passed ? .passed : .rejected
                    if !result.passed { reason = "表决未通过：" + DeliberationText.criterion(result.decidedBy, .zh) }
                case .publishResolution, .publishImplementation:
                    if stage.kind == .publishImplementation {
                        let open = try await db.raw("""
                            SELECT COUNT(*) AS n, SUM(CASE WHEN done_at IS NULL THEN 1 ELSE 0 END) AS open FROM milestones WHERE matter_id = \(bind: m.id)
                            """).first()!
                        let n = try open.decode(column: "n", as: Int.self), left = try open.decode(column: "open", as: Int?.self) ?? 0
                        guard n > 0, left == 0 else { throw LinliError.conflict("stage", "milestones_open", n == 0 ? "请先登记实施进度节点" : "还有 \(left) 个实施节点未完成") }
                    }
                    if outcome == .passed {
                        let body = (input.noticeBody ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                        guard !body.isEmpty else { throw LinliError.invalid("notice_body", "required", "请填写公开的内容") }
                        guard body.count <= DeliberationLimits.textMax else { throw LinliError.invalid("notice_body", "too_long", "内容过长") }
                        let title = (input.noticeTitle ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                        try await db.raw("""
                            INSERT INTO notices (matter_id, place_id, path, kind, title, body, is_public, published_by, published_at)
                            VALUES (\(bind: m.id), \(bind: m.compoundID), \(bind: m.compoundPath),
                                    \(bind: stage.kind == .publishResolution ? "resolution" : "implementation"),
                                    \(bind: title.isEmpty ? m.title + " · " + stage.nameZh : String(title.prefix(DeliberationLimits.titleMax))), \(bind: body),
                                    \(bind: input.noticePublic == true ? 1 : 0), \(bind: actor.userID), \(bind: now))
                            """).run()
                    }
                }
            }
            let next = try MatterFlow.advance(m.process, current: m.stageIndex, status: m.status, stageCode: stageCode, outcome: outcome, reason: reason)
            if let body = input.documentBody?.trimmingCharacters(in: .whitespacesAndNewlines), !body.isEmpty {
                guard body.count <= DeliberationLimits.textMax else { throw LinliError.invalid("document_body", "too_long", "文件内容过长") }
                let title = (input.documentTitle ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                try await db.raw("""
                    INSERT INTO matter_documents (matter_id, stage_index, kind, title, body, meeting_id, created_by, created_at)
                    VALUES (\(bind: m.id), \(bind: m.stageIndex), 'document', \(bind: title.isEmpty ? stage.nameZh : String(title.prefix(DeliberationLimits.titleMax))),
                            \(bind: body), NULL, \(bind: actor.userID), \(bind: now))
                    """).run()
            }
            let status: MatterStatus = outcome == .rejected ? .rejected : (next == nil ? .filed : .open)
            try await db.raw("""
                INSERT INTO matter_stages (matter_id, stage_index, stage_code, outcome, note, acted_by, acted_at)
                VALUES (\(bind: m.id), \(bind: m.stageIndex), \(bind: stage.code), \(bind: outcome.rawValue),
                        \(bind: outcome == .passed ? note : (reason ?? "") + (note.isEmpty ? "" : "；" + note)), \(bind: actor.userID), \(bind: now))
                """).run()
            try await db.raw("""
                UPDATE matters SET status = \(bind: status.rawValue), stage_index = \(bind: next ?? m.stageIndex),
                    rejected_reason = \(bind: outcome == .rejected ? reason ?? "" : ""), updated_at = \(bind: now) WHERE id = \(bind: m.id)
                """).run()
            try await audit.append(db, actor: actor, action: "matter.stage", objectType: "matter", objectID: m.id, path: m.path,
                                   reason: reason ?? "", detail: "\(stage.code):\(outcome.rawValue)")
            let updated = try await fetchMatter(db, m.id)!
            try await notify(db, try await participants(db, m.id), kind: status == .rejected ? "matter_rejected" : (status == .filed ? "matter_filed" : "matter_stage"),
                             matter: updated, except: actor.userID)
            return updated
        }
        return Self.view(m, lang: .zh)
    }

    // MARK: Reading matters

    static func view(_ m: Matter, lang: Lang) -> MatterView {
        MatterView(id: m.id, title: m.title, description: m.description, placeID: m.placeID, placeName: m.placeName, compoundID: m.compoundID,
                   processCode: m.process.code, processName: lang == .zh ? m.process.nameZh : m.process.nameEn, itemClass: m.itemClass.rawValue, lawItem: m.lawItem?.code,
                   status: m.status.rawValue, stageIndex: m.stageIndex, stageCode: m.stage?.code ?? "", stageName: m.stage?.name(lang) ?? "",
                   stageKind: m.stage?.kind.rawValue ?? "", rejectedReason: m.rejectedReason, createdAt: m.createdAt, createdText: LocalTime.text(m.createdAt),
                   updatedAt: m.updatedAt)
    }

    /// Matters the actor may see, newest activity first.
    public func list(actor: Actor, lang: Lang, status: String? = nil, limit: Int = 50, offset: Int = 0) async throws -> [MatterView] {
        let grants = actor.grants(for: .matterView)
        guard !grants.isEmpty else { throw LinliError.forbidden }
        if let status, MatterStatus(rawValue: status) == nil { throw LinliError.invalid("status", "invalid", "未知的状态 \(status)") }
        return try await store.read { db in
            var q = SQLQueryString("\(unsafeRaw: Self.matterColumns) WHERE (")
            for (i, g) in grants.enumerated() {
                if i > 0 { q.appendLiteral(" OR ") }
                if g.role == .resident { q.appendInterpolation(bind: g.placePath); q.appendLiteral(" LIKE m.compound_path || '%'") }
                else { q.appendLiteral("m.path LIKE "); q.appendInterpolation(bind: g.placePath + "%") }
            }
            q.appendLiteral(")")
            if let status { q.appendLiteral(" AND m.status = "); q.appendInterpolation(bind: status) }
            q.appendInterpolation(unsafeRaw: " ORDER BY m.updated_at DESC, m.id DESC LIMIT \(max(1, min(limit, 200))) OFFSET \(max(0, offset))")
            return try await db.raw(q).all().map { Self.view(try matter($0), lang: lang) }
        }
    }
}

public struct MatterView: Sendable, Codable {
    public var id: Int64
    public var title: String
    public var description: String
    public var placeID: Int64
    public var placeName: String
    public var compoundID: Int64
    public var processCode: String
    public var processName: String
    public var itemClass: String
    public var lawItem: String?
    public var status: String
    public var stageIndex: Int
    public var stageCode: String
    public var stageName: String
    public var stageKind: String
    public var rejectedReason: String
    public var createdAt: Int64
    public var createdText: String
    public var updatedAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, title, description, placeID = "place_id", placeName = "place_name", compoundID = "compound_id", processCode = "process_code"
        case processName = "process_name", itemClass = "item_class", lawItem = "law_item", status, stageIndex = "stage_index", stageCode = "stage_code"
        case stageName = "stage_name", stageKind = "stage_kind", rejectedReason = "rejected_reason", createdAt = "created_at"
        case createdText = "created_text", updatedAt = "updated_at"
    }
}

/// A small cache of decoded JSON bodies, keyed by their text (so an edited body is a new entry).
final class DecodedBodies: Sendable {
    private let processes = NIOLockedValueBox([String: ProcessDefinition]())
    private let rules = NIOLockedValueBox([String: VoteRuleSet]())
    static let limit = 256

    func process(_ json: String) throws -> ProcessDefinition { try cached(processes, json) }
    func rule(_ json: String) throws -> VoteRuleSet { try cached(rules, json) }

    private func cached<T: Decodable & Sendable>(_ box: NIOLockedValueBox<[String: T]>, _ json: String) throws -> T {
        if let hit = box.withLockedValue({ $0[json] }) { return hit }
        let value = try JSONDecoder().decode(T.self, from: Data(json.utf8))
        box.withLockedValue { d in
            if d.count >= Self.limit { d.removeAll() }
            d[json] = value
        }
        return value
    }
}
