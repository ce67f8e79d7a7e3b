import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct OfficeListItemInput: Codable, Sendable {
    public var code: String?
    public var title: String?
    /// The policy it rests on (文件依据).
    public var basis: String?
    public var departmentID: Int64?
    /// Yuan per unit that follow the item to each community; empty when no money follows.
    public var feePerUnit: String?
    public var unit: String?
    /// The kind of work the entry admits (empty: any kind but an assessment of communities).
    public var workKind: WorkItemKind?
    public init() {}
    enum CodingKeys: String, CodingKey { case code, title, basis, departmentID = "department_id", feePerUnit = "fee_per_unit", unit, workKind = "work_kind" }
}

public struct OfficeDraftInput: Codable, Sendable {
    public var kind: OfficeListKind?
    public init() {}
}

public struct OfficePublishInput: Codable, Sendable {
    /// What changed in this version, shown in the public history.
    public var note: String?
    public init() {}
}

public struct OfficeSettingsInput: Codable, Sendable {
    public var leadDays: Int?
    public var decideDays: Int?
    public init() {}
    enum CodingKeys: String, CodingKey { case leadDays = "lead_days", decideDays = "decide_days" }
}

public struct OfficeListItemView: Codable, Sendable, Equatable {
    public var id: Int64
    public var code: String
    public var title: String
    public var basis: String
    public var departmentID: Int64?
    public var department: String?
    public var feePerUnit: Int64?
    public var feeText: String?
    public var unit: String
    public var workKind: WorkItemKind?
    enum CodingKeys: String, CodingKey {
        case id, code, title, basis, departmentID = "department_id", department, feePerUnit = "fee_per_unit", feeText = "fee_text", unit, workKind = "work_kind"
    }
}

public struct OfficeListView: Codable, Sendable {
    public var id: Int64
    public var placeID: Int64
    public var placeName: String
    public var kind: OfficeListKind
    public var version: Int
    /// draft, published or superseded.
    public var status: String
    public var note: String
    public var publishedAt: String?
    public var items: [OfficeListItemView]
    enum CodingKeys: String, CodingKey {
        case id, placeID = "place_id", placeName = "place_name", kind, version, status, note, publishedAt = "published_at", items
    }
}

public struct OfficeListsView: Codable, Sendable {
    public var placeID: Int64
    public var placeName: String
    /// The lists in force here: the current version of each kind at this place and above it.
    public var current: [OfficeListView]
    /// Every version this place has published, newest first (items in `office-lists/{id}`).
    public var history: [OfficeListView]
    /// Drafts being edited (only for those who keep the lists).
    public var drafts: [OfficeListView]
    public var leadDays: Int
    public var decideDays: Int
    public var mayEdit: Bool
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", placeName = "place_name", current, history, drafts, leadDays = "lead_days", decideDays = "decide_days", mayEdit = "may_edit"
    }
}

/// The offices' capability: the lists, the admission clock, departments' budgets and their work
/// items. Money moves through the linkage capability's ledger in the same transaction.
public struct OfficesService: Sendable {
    let store: any Store
    let env: Env
    let audit: AuditLog
    let linkage: LinkageService
    /// Departments (organisations) are the registry's: their names and areas come from it.
    let registry: RegistryService
    /// Seals a certificate's text (it names a person).
    let cipher: PersonalDataCipher
    let notifier: any Notifier
    /// How pushes to an upper-level system are sent (URLSession; a recorder in tests).
    var sender: WebhookSender = OfficesService.urlSessionSender
    /// The working-day calendar (holidays and 调休) the requests capability keeps.
    let calendar: @Sendable () async throws -> WorkCalendar
    /// Where the photos sent with a community's report live (sealed).
    let evidence: SealedPhotos
    /// The active receiving systems (id, area path), read on every request step, changed rarely.
    let activeEndpoints = SharedCache<[(id: Int64, path: String)]>("offices.webhooks")

    public init(store: any Store, env: Env, linkage: LinkageService, registry: RegistryService, cipher: PersonalDataCipher,
                evidenceDirectory: String, calendar: @escaping @Sendable () async throws -> WorkCalendar) {
        self.cipher = cipher
        self.evidence = SealedPhotos(directory: evidenceDirectory, cipher: cipher, env: env)
        self.store = store
        self.env = env
        self.audit = AuditLog(env: env)
        self.linkage = linkage
        self.registry = registry
        self.notifier = InAppNotifier()
        self.calendar = calendar
    }


    static func trimmed(_ s: String?) -> String { (s ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Removes evidence files no report names, an hour after they were written (a report rolled
    /// back after its photos were flushed leaves them; see `OrphanFiles`).
    public func removeOrphanEvidence() async throws -> Int {
        try await OrphanFiles.remove(in: evidence.directory, store: store, table: "work_item_evidence", olderThan: env.nowSeconds - 3600)
    }

    struct Place { var id: Int64; var kind: String; var name: String; var path: String }

    func place(_ db: any SQLDatabase, _ id: Int64) async throws -> Place? {
        try await db.query("SELECT id, kind, name, path FROM places WHERE id = \(id)").first().map {
            Place(id: try $0.decode(column: "id", as: Int64.self), kind: try $0.decode(column: "kind", as: String.self),
                  name: try $0.decode(column: "name", as: String.self), path: try $0.decode(column: "path", as: String.self))
        }
    }

    /// Lists are kept by a city, district or street (town).
    static let listPlaceKinds: Set<String> = ["city", "district", "street", "town"]

    /// A street, district or city whose lists (and with them its certificates, assessments and
    /// receiving systems) the actor keeps; `placeID` missing is refused with `missing`, any other
    /// place or one outside the actor's area answers as a missing one.
    func keptPlace(_ db: any SQLDatabase, _ placeID: Int64?, actor: Actor, missing: String = "请选择地区") async throws -> Place {
        guard let placeID else { throw LinliError.invalid("place_id", "required", missing) }
        guard let p = try await place(db, placeID), Self.listPlaceKinds.contains(p.kind) else { throw LinliError.notFound }
        try actor.require(.officeLists, on: ObjectScope(path: p.path))
        return p
    }

    // MARK: Reading the lists (public)

    public func lists(placeID: Int64, actor: Actor?) async throws -> OfficeListsView {
        try await store.read { db in
            guard let p = try await place(db, placeID), Self.listPlaceKinds.contains(p.kind) else { throw LinliError.notFound }
            let mayEdit = actor?.may(.officeLists, on: ObjectScope(path: p.path)) ?? false
            let above = PlacePath.ids(p.path)
            let current = try await listRows(db, "l.place_id IN (\(list: above)) AND l.status = 'published'")
            let history = try await listRows(db, "l.place_id = \(placeID) AND l.status <> 'draft'", items: false)
            let drafts = mayEdit ? try await listRows(db, "l.place_id = \(placeID) AND l.status = 'draft'") : []
            let (lead, decide) = try await clock(db, path: p.path)
            // Nearest place first (a street's own list before its district's), then by kind.
            let order = Dictionary(uniqueKeysWithValues: above.enumerated().map { ($1, $0) })
            return OfficeListsView(placeID: placeID, placeName: p.name,
                                   current: current.sorted {
                                       let a = order[$0.placeID] ?? 0, b = order[$1.placeID] ?? 0
                                       return a != b ? a > b : $0.kind.position < $1.kind.position
                                   },
                                   history: history, drafts: drafts, leadDays: lead, decideDays: decide, mayEdit: mayEdit)
        }
    }

    /// One version with its items: published versions are public, drafts only for their editors.
    public func list(_ id: Int64, actor: Actor?) async throws -> OfficeListView {
        try await store.read { db in
            guard let l = try await listRows(db, "l.id = \(id)").first else { throw LinliError.notFound }
            if l.status == "draft" {
                let path = try await db.query("SELECT path FROM office_lists WHERE id = \(id)").first()!.decode(column: "path", as: String.self)
                guard actor?.may(.officeLists, on: ObjectScope(path: path)) == true else { throw LinliError.notFound }
            }
            return l
        }
    }

    func listRows(_ db: any SQLDatabase, _ condition: BoundSQL, items withItems: Bool = true) async throws -> [OfficeListView] {
        var out = try await db.query("""
            SELECT l.id, l.place_id, p.name AS place_name, l.kind, l.version, l.status, l.note, l.published_at
            FROM office_lists l JOIN places p ON p.id = l.place_id WHERE \(condition) ORDER BY l.place_id, l.kind, l.version DESC LIMIT 500
            """).all().compactMap { r -> OfficeListView? in
            guard let kind = OfficeListKind(rawValue: try r.decode(column: "kind", as: String.self)) else { return nil }
            return OfficeListView(id: try r.decode(column: "id", as: Int64.self), placeID: try r.decode(column: "place_id", as: Int64.self),
                                  placeName: try r.decode(column: "place_name", as: String.self), kind: kind, version: try r.decode(column: "version", as: Int.self),
                                  status: try r.decode(column: "status", as: String.self), note: try r.decode(column: "note", as: String.self),
                                  publishedAt: try r.decode(column: "published_at", as: Int64?.self).map(LocalTime.text), items: [])
        }
        guard withItems, !out.isEmpty else { return out }
        var items: [Int64: [OfficeListItemView]] = [:]
        let rows = try await db.query("""
            SELECT i.id, i.list_id, i.code, i.title, i.basis, i.department_id, i.fee_per_unit, i.unit, i.work_kind
            FROM office_list_items i WHERE i.list_id IN (\(list: out.map(\.id))) ORDER BY i.sort, i.id
            """).all()
        let departments = try await registry.departments(db, ids: try rows.compactMap { try $0.decode(column: "department_id", as: Int64?.self) })
        for r in rows {
            let fee = try r.decode(column: "fee_per_unit", as: Int64?.self)
            items[try r.decode(column: "list_id", as: Int64.self), default: []].append(OfficeListItemView(
                id: try r.decode(column: "id", as: Int64.self), code: try r.decode(column: "code", as: String.self), title: try r.decode(column: "title", as: String.self),
                basis: try r.decode(column: "basis", as: String.self), departmentID: try r.decode(column: "department_id", as: Int64?.self),
                department: try r.decode(column: "department_id", as: Int64?.self).flatMap { departments[$0]?.name }, feePerUnit: fee, feeText: fee.map(Fen.text), unit: try r.decode(column: "unit", as: String.self),
                workKind: try r.decode(column: "work_kind", as: String?.self).flatMap(WorkItemKind.init(rawValue:))))
        }
        for i in out.indices { out[i].items = items[out[i].id] ?? [] }
        return out
    }

    /// The admission clock in force at a path: the nearest place's setting, else the defaults.
    func clock(_ db: any SQLDatabase, path: String) async throws -> (lead: Int, decide: Int) {
        let ids = PlacePath.ids(path)
        let rows = try await db.query("SELECT place_id, lead_days, decide_days FROM office_settings WHERE place_id IN (\(list: ids))").all()
        var best: (Int, Int, Int)?
        for r in rows {
            let depth = ids.firstIndex(of: try r.decode(column: "place_id", as: Int64.self)) ?? -1
            if best == nil || depth > best!.0 { best = (depth, try r.decode(column: "lead_days", as: Int.self), try r.decode(column: "decide_days", as: Int.self)) }
        }
        return best.map { ($0.1, $0.2) } ?? (OfficeRules.defaultLeadDays, OfficeRules.defaultDecideDays)
    }

    // MARK: Keeping the lists

    /// The draft of the next version of a kind of list at a place: the one being edited, or a new
    /// one copied from the version in force.
    public func startDraft(placeID: Int64, _ input: OfficeDraftInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await keptPlace(db, placeID, actor: actor)
            guard let kind = input.kind else { throw LinliError.invalid("kind", "required", "请选择清单类型") }
            if let d = try await db.query("SELECT id FROM office_lists WHERE place_id = \(placeID) AND kind = \(kind.rawValue) AND status = 'draft'").first() {
                return try d.decode(column: "id", as: Int64.self)
            }
            let last = try await db.query("SELECT id, version FROM office_lists WHERE place_id = \(placeID) AND kind = \(kind.rawValue) ORDER BY version DESC").first()
            let version = (try last?.decode(column: "version", as: Int.self) ?? 0) + 1
            let id = try await db.query("""
                INSERT INTO office_lists (place_id, path, kind, version, status, created_by, created_at)
                VALUES (\(placeID), \(p.path), \(kind.rawValue), \(version), 'draft', \(actor.userID), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            if let from = try last?.decode(column: "id", as: Int64.self) {
                try await db.query("""
                    INSERT INTO office_list_items (list_id, code, title, basis, department_id, fee_per_unit, unit, sort, work_kind)
                    SELECT \(id), code, title, basis, department_id, fee_per_unit, unit, sort, work_kind FROM office_list_items WHERE list_id = \(from)
                    """).run()
            }
            try await audit.append(db, actor: actor, action: "office_list.draft", objectType: "office_list", objectID: id, path: p.path, detail: "\(kind.rawValue) v\(version)")
            return id
        }
    }

    /// A draft and its place, for an edit by someone who keeps that place's lists; a published
    /// version answers 409 (it never changes).
    func editableDraft(_ db: any SQLDatabase, _ listID: Int64, _ actor: Actor) async throws -> (path: String, placeID: Int64) {
        // Locked on PostgreSQL: an entry added while the draft is being published waits, then finds it published.
        let lock = store.dialect == .postgres ? " FOR UPDATE" : ""
        guard let l = try await db.query("SELECT path, place_id, status FROM office_lists WHERE id = \(listID)\(unsafeRaw: lock)").first() else { throw LinliError.notFound }
        let path = try l.decode(column: "path", as: String.self)
        try actor.require(.officeLists, on: ObjectScope(path: path))
        guard try l.decode(column: "status", as: String.self) == "draft" else {
            throw LinliError.conflict("state", "published", "已发布的版本不能修改；请新建一个版本")
        }
        return (path, try l.decode(column: "place_id", as: Int64.self))
    }

    public func addListItem(listID: Int64, _ input: OfficeListItemInput, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            let (path, _) = try await editableDraft(db, listID, actor)
            var v = Validator()
            let code = Self.trimmed(input.code), title = Self.trimmed(input.title), basis = Self.trimmed(input.basis), unit = Self.trimmed(input.unit)
            v.check(!code.isEmpty && code.count <= 20, "code", "required", "请填写编号（20 字以内），如 A-03")
            v.check(!title.isEmpty && title.count <= 120, "title", "required", "请填写事项名称（120 字以内）")
            v.check(basis.count <= 300, "basis", "too_long", "依据请在 300 字以内")
            v.check(unit.count <= 20, "unit", "too_long", "计量单位请在 20 字以内")
            var fee: Int64?
            if !Self.trimmed(input.feePerUnit).isEmpty {
                do { fee = try Fen.parse(input.feePerUnit, field: "fee_per_unit") } catch let e as LinliError { v.add(e) }
            }
            if let d = input.departmentID {
                // A department of this place or above it, or inside its area.
                let ok = try await registry.departments(db, ids: [d])[d].map { $0.path.hasPrefix(path) || path.hasPrefix($0.path) } ?? false
                v.check(ok, "department_id", "not_found", "这里没有这个部门")
            }
            if !code.isEmpty, try await db.query("SELECT 1 AS x FROM office_list_items WHERE list_id = \(listID) AND code = \(code)").first() != nil {
                v.add(.invalid("code", "duplicate", "这个编号在本清单里已经有了"))
            }
            try v.throwIfAny()
            let sort = try await db.query("SELECT COALESCE(MAX(sort), 0) + 1 AS n FROM office_list_items WHERE list_id = \(listID)").first()!.decode(column: "n", as: Int.self)
            let id = try await db.query("""
                INSERT INTO office_list_items (list_id, code, title, basis, department_id, fee_per_unit, unit, sort, work_kind)
                VALUES (\(listID), \(code), \(title), \(basis), \(input.departmentID), \(fee), \(unit), \(sort), \(input.workKind?.rawValue)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "office_list.item_add", objectType: "office_list", objectID: listID, path: path, detail: "\(code) \(title)")
            return id
        }
    }

    public func removeListItem(_ itemID: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            guard let r = try await db.query("SELECT list_id, code FROM office_list_items WHERE id = \(itemID)").first() else { throw LinliError.notFound }
            let listID = try r.decode(column: "list_id", as: Int64.self)
            let (path, _) = try await editableDraft(db, listID, actor)
            try await db.query("DELETE FROM office_list_items WHERE id = \(itemID)").run()
            try await audit.append(db, actor: actor, action: "office_list.item_remove", objectType: "office_list", objectID: listID, path: path,
                                   detail: try r.decode(column: "code", as: String.self))
        }
    }

    /// Puts a draft in force; the version before it stays readable in the history, and work items
    /// admitted under it keep pointing at its entries.
    public func publish(listID: Int64, _ input: OfficePublishInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let (path, placeID) = try await editableDraft(db, listID, actor)
            let note = Self.trimmed(input.note)
            guard note.count <= 300 else { throw LinliError.invalid("note", "too_long", "说明请在 300 字以内") }
            let kind = try await db.query("SELECT kind FROM office_lists WHERE id = \(listID)").first()!.decode(column: "kind", as: String.self)
            try await db.query("UPDATE office_lists SET status = 'superseded' WHERE place_id = \(placeID) AND kind = \(kind) AND status = 'published'").run()
            try await db.query("UPDATE office_lists SET status = 'published', note = \(note), published_by = \(actor.userID), published_at = \(now) WHERE id = \(listID)").run()
            try await audit.append(db, actor: actor, action: "office_list.publish", objectType: "office_list", objectID: listID, path: path, detail: kind)
        }
    }

    public func setClock(placeID: Int64, _ input: OfficeSettingsInput, actor: Actor) async throws {
        try await store.transaction { db in
            let p = try await keptPlace(db, placeID, actor: actor)
            var v = Validator()
            v.check((0...120).contains(input.leadDays ?? -1), "lead_days", "invalid", "提前申请的工作日数应为 0 到 120")
            v.check((1...60).contains(input.decideDays ?? -1), "decide_days", "invalid", "审核时限应为 1 到 60 个工作日")
            try v.throwIfAny()
            try await db.query("DELETE FROM office_settings WHERE place_id = \(placeID)").run()
            try await db.query("INSERT INTO office_settings (place_id, lead_days, decide_days) VALUES (\(placeID), \(input.leadDays!), \(input.decideDays!))").run()
            try await audit.append(db, actor: actor, action: "office.clock", objectType: "place", objectID: placeID, path: p.path,
                                   detail: "lead=\(input.leadDays!) decide=\(input.decideDays!)")
        }
    }
}

extension OfficeListKind {
    var position: Int { Self.allCases.firstIndex(of: self)! }
}
