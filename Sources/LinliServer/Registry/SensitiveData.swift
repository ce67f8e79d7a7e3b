import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Why Linli keeps a resident's sensitive situation (PIPL art. 28–29: health and disability,
/// financial hardship, a minor's data, and a vulnerability such as living alone). Each purpose
/// names the roles that serve it: only they see a tag recorded for it.
public enum SensitivePurpose: String, CaseIterable, Codable, Sendable {
    /// 关爱走访与应急联系: the grid worker's visits, a check in an emergency.
    case careVisits = "care_visits"
    /// 救助、补贴与为老助残服务: the office's subsidies, assistance and services.
    case assistance

    public var roles: Set<Role> {
        switch self {
        case .careVisits: return [.cityAdmin, .streetStaff, .communityStaff, .gridWorker]
        case .assistance: return [.cityAdmin, .streetStaff, .communityStaff]
        }
    }
}

/// On what ground a sensitive tag is kept: the resident's separate consent (单独同意, art. 29),
/// or a statutory duty the office performs (art. 13(1)(3): assistance and care the law asks of it).
public enum SensitiveBasis: String, CaseIterable, Codable, Sendable {
    case consent
    case legalDuty = "legal_duty"
}

/// A sensitive tag's purposes and basis, as given by a form or the API.
public struct SensitiveRecordInput: Codable, Sendable, Equatable {
    public var purposes: [String]?
    public var basis: String?
    public init(purposes: [String]? = nil, basis: String? = nil) { self.purposes = purposes; self.basis = basis }
}

/// A tag's purposes and basis once checked.
public struct SensitiveRecord: Sendable, Equatable {
    public var purposes: [SensitivePurpose]
    public var basis: SensitiveBasis
}

/// The plain rules: which tags are sensitive, what they are kept for by default, for how long.
public enum SensitiveRules {
    /// Health and disability, hardship, a child's data, living alone.
    public static let kinds: Set<String> = ResidentTag.vulnerable

    public static func isSensitive(_ tag: String) -> Bool { kinds.contains(tag) }

    /// What a tag is kept for when the office records it without choosing: each situation for
    /// what the community does about it (a low income for assistance and the monthly visit).
    public static func defaultPurposes(_ tag: String) -> [SensitivePurpose] {
        switch tag {
        case ResidentTag.disabled.rawValue, ResidentTag.lowIncome.rawValue: return [.careVisits, .assistance]
        default: return [.careVisits]
        }
    }

    /// How long a tag is kept before someone confirms it is still true, in months: living alone
    /// and hardship are checked every year (as 低保 is reviewed yearly), a disability every three.
    public static func retentionMonths(_ tag: String) -> Int {
        tag == ResidentTag.disabled.rawValue ? 36 : 12
    }

    /// The last day a tag recorded (or confirmed) on `day` is kept. A child's tag also ends on the
    /// day before their 18th birthday, when the purpose of keeping it as a child's has gone.
    public static func keepUntil(_ tag: String, from day: Int64, birthDate: String?) -> Int64 {
        let byRule = ChinaTime.addingMonths(retentionMonths(tag), to: day)
        guard tag == ResidentTag.child.rawValue, let b = birthDate.flatMap({ Input.day($0) }) else { return byRule }
        let adult = ChinaTime.addingMonths(18 * 12, to: b) - 1
        return max(day, min(byRule, adult))
    }

    /// Whether someone serving `served` may see a tag kept for `purposes`.
    public static func visible(_ purposes: [SensitivePurpose], servedBy served: Set<SensitivePurpose>) -> Bool {
        purposes.contains { served.contains($0) }
    }

    /// The purposes a set of roles serves.
    public static func served(by roles: some Sequence<Role>) -> Set<SensitivePurpose> {
        var out = Set<SensitivePurpose>()
        for role in roles { for p in SensitivePurpose.allCases where p.roles.contains(role) { out.insert(p) } }
        return out
    }

    /// Checks the records given for the tags being set: each names a sensitive tag among them,
    /// at least one known purpose and a known basis. A sensitive tag given without one gets the
    /// default purposes on the office's statutory duty (staff record it for assistance).
    public static func validate(_ records: [String: SensitiveRecordInput]?, tags: [String]?) throws -> [String: SensitiveRecord] {
        var v = Validator()
        var out: [String: SensitiveRecord] = [:]
        for (tag, input) in (records ?? [:]).sorted(by: { $0.key < $1.key }) {
            let field = "tag_records." + tag
            guard isSensitive(tag) else { v.add(.invalid(field, "not_sensitive", "只有独居、残疾、低收入和未成年的标签需要登记用途")); continue }
            if let tags, !tags.contains(tag) { v.add(.invalid(field, "not_tagged", "没有勾选这个标签，不能登记它的用途")); continue }
            let purposes = (input.purposes ?? []).map { SensitivePurpose(rawValue: $0) }
            let basis = input.basis.flatMap { SensitiveBasis(rawValue: $0) } ?? (input.basis == nil ? .legalDuty : nil)
            if purposes.isEmpty { v.add(.invalid(field + ".purposes", "required", "请至少选择一项用途")); continue }
            if purposes.contains(nil) { v.add(.invalid(field + ".purposes", "invalid_choice", "用途只能是关爱走访或救助服务")); continue }
            guard let basis else { v.add(.invalid(field + ".basis", "invalid_choice", "依据只能是本人单独同意或履行法定职责")); continue }
            var seen = Set<SensitivePurpose>()
            out[tag] = SensitiveRecord(purposes: purposes.compactMap { $0 }.filter { seen.insert($0).inserted }, basis: basis)
        }
        try v.throwIfAny()
        return out
    }

    static func purposesText(_ p: [SensitivePurpose]) -> String { p.map(\.rawValue).joined(separator: ",") }
    static func purposes(_ s: String) -> [SensitivePurpose] { s.split(separator: ",").compactMap { SensitivePurpose(rawValue: String($0)) } }
}

/// One sensitive tag as kept: what for, on what ground, by whom, until when.
public struct SensitiveFactView: Codable, Sendable, Equatable {
    public var tag: String
    public var purposes: [String]
    public var basis: String
    public var recordedBy: String
    /// `YYYY-MM-DD`, China time.
    public var recordedOn: String
    public var keepUntil: String
    enum CodingKeys: String, CodingKey {
        case tag, purposes, basis, recordedBy = "recorded_by", recordedOn = "recorded_on", keepUntil = "keep_until"
    }
}

/// A tag coming due: whose, which, and the last day it is kept.
public struct SensitiveDueView: Codable, Sendable, Equatable {
    public var residentID: Int64
    public var name: String
    public var address: String
    public var tag: String
    public var keepUntil: String
    enum CodingKeys: String, CodingKey { case residentID = "resident_id", name, address, tag, keepUntil = "keep_until" }
}

extension RegistryService {
    /// The purposes the actor serves for a resident at `scope`: those of every role it holds there.
    func servedPurposes(_ actor: Actor, _ scope: ObjectScope) -> Set<SensitivePurpose> {
        SensitiveRules.served(by: actor.grants(for: .residentView).filter { Actor.covers($0, .residentView, scope) }.map(\.role))
    }

    /// Whether the actor is this resident, signed in as themselves. Someone acting for them (staff
    /// or a relative, 代办) is not: they see only what their own purposes allow, which while
    /// acting (a resident's grants) is none of the sensitive tags.
    static func isSubject(_ actor: Actor, _ residentID: Int64) -> Bool {
        actor.acting == nil && actor.grants.contains { $0.role == .resident && $0.residentID == residentID }
    }

    /// Residents as this actor may see them: a sensitive tag stays only where the actor serves one
    /// of the purposes it is kept for, or is the resident themselves. The office (serving every
    /// purpose) reads nothing more; anyone else reads the purposes of the residents shown.
    func withSeenTags(_ db: any SQLDatabase, _ views: [ResidentView], scopes: [Int64: ObjectScope], actor: Actor) async throws -> [ResidentView] {
        let all = Set(SensitivePurpose.allCases)
        let pending = views.filter { v in
            v.tags.contains(where: SensitiveRules.isSensitive) && !Self.isSubject(actor, v.id)
                && scopes[v.id].map { servedPurposes(actor, $0) != all } ?? true
        }
        guard !pending.isEmpty else { return views }
        let kept = try await keptPurposes(db, residents: pending.map(\.id))
        let pendingIDs = Set(pending.map(\.id))
        return views.map { v in
            guard pendingIDs.contains(v.id) else { return v }
            let served = scopes[v.id].map { servedPurposes(actor, $0) } ?? []
            var out = v
            out.tags = v.tags.filter { t in
                !SensitiveRules.isSensitive(t) || SensitiveRules.visible(kept[v.id]?[t] ?? SensitiveRules.defaultPurposes(t), servedBy: served)
            }
            return out
        }
    }

    /// The sensitive tags a resident carries that are kept for some purpose the actor does not
    /// serve: `hidden` ones the actor cannot see at all; `shared` ones it sees (kept for its
    /// purpose too). Neither can the actor take off: unticking a shared one only takes its own
    /// purposes off the record, so a grid worker never erases what the office keeps for assistance.
    func protectedTags(_ db: any SQLDatabase, _ id: Int64, tags: [String], scope: ObjectScope, actor: Actor) async throws
        -> (hidden: Set<String>, shared: [String: [SensitivePurpose]], served: Set<SensitivePurpose>) {
        let served = servedPurposes(actor, scope)
        guard tags.contains(where: SensitiveRules.isSensitive), !Self.isSubject(actor, id), served != Set(SensitivePurpose.allCases) else { return ([], [:], served) }
        let kept = try await keptPurposes(db, residents: [id])[id] ?? [:]
        var hidden = Set<String>(), shared: [String: [SensitivePurpose]] = [:]
        for t in tags where SensitiveRules.isSensitive(t) {
            let purposes = kept[t] ?? SensitiveRules.defaultPurposes(t)
            let others = purposes.filter { !served.contains($0) }
            if others.isEmpty { continue }
            if SensitiveRules.visible(purposes, servedBy: served) { shared[t] = others } else { hidden.insert(t) }
        }
        return (hidden, shared, served)
    }

    /// Writes a resident's sensitive records after their tags were set: a new tag gets its record
    /// (dated from today), a removed one loses it, a kept one takes the purposes and basis given
    /// (unless `hidden` from the actor). One audit row names what changed.
    /// `claimed`: hidden tags the actor ticked (or gave records for) as their own finding: the
    /// tag is then kept for the actor's purposes as well, so ticking a tag answers the same
    /// whether or not it was already kept out of the actor's sight.
    func writeSensitive(_ db: any SQLDatabase, resident: Int64, before: [String], after: [String]?, records: [String: SensitiveRecord],
                        birthDate: String, path: String, actor: Actor?, hidden: Set<String> = [], claimed: Set<String> = [],
                        shared: [String: [SensitivePurpose]] = [:], dropped: Set<String> = []) async throws {
        let today = LocalDay.of(env.nowSeconds)
        let after = after ?? before
        // A tag kept out of the actor's sight answers as if it were not there.
        for tag in records.keys.sorted() where !after.contains(tag) || (hidden.contains(tag) && !claimed.contains(tag)) {
            throw LinliError.invalid("tag_records." + tag, "not_tagged", "没有这个标签，不能登记它的用途")
        }
        var existing: [String: SensitiveRecord] = [:]
        if before.contains(where: SensitiveRules.isSensitive) {
            for r in try await db.query("SELECT tag, purposes, basis FROM sensitive_facts WHERE resident_id = \(resident)").all() {
                existing[try r.decode(column: "tag", as: String.self)] = SensitiveRecord(
                    purposes: SensitiveRules.purposes(try r.decode(column: "purposes", as: String.self)),
                    basis: SensitiveBasis(rawValue: try r.decode(column: "basis", as: String.self)) ?? .legalDuty)
            }
        }
        let recorder = actor?.signature ?? "系统"
        var changes: [String] = []
        // A shared tag the actor unticked keeps the purposes it does not serve, and the tag.
        for tag in dropped.sorted() {
            guard let others = shared[tag] else { continue }
            try await db.query("""
                UPDATE sensitive_facts SET purposes = \(SensitiveRules.purposesText(others)) WHERE resident_id = \(resident) AND tag = \(tag)
                """).run()
            changes.append("\(tag):\(SensitiveRules.purposesText(others)):narrowed")
        }
        for tag in Set(before).subtracting(after).sorted() where SensitiveRules.isSensitive(tag) {
            try await db.query("DELETE FROM sensitive_facts WHERE resident_id = \(resident) AND tag = \(tag)").run()
            changes.append(tag + ":removed")
        }
        for tag in Set(after).sorted() where SensitiveRules.isSensitive(tag) {
            let r = records[tag]
            if let old = existing[tag], hidden.contains(tag) {
                // Someone who cannot see the tag records it again: it is kept for their purposes too.
                guard claimed.contains(tag) else { continue }
                let added = (r?.purposes ?? SensitiveRules.defaultPurposes(tag)).filter { !old.purposes.contains($0) }
                guard !added.isEmpty else { continue }
                let purposes = old.purposes + added
                // A consent given for other purposes does not cover the new one: the record now
                // stands on the basis the actor gives (the office's duty unless stated).
                let basis = r?.basis ?? .legalDuty
                try await db.query("""
                    UPDATE sensitive_facts SET purposes = \(SensitiveRules.purposesText(purposes)), basis = \(basis.rawValue)
                    WHERE resident_id = \(resident) AND tag = \(tag)
                    """).run()
                changes.append("\(tag):\(SensitiveRules.purposesText(purposes)):\(basis.rawValue)")
            } else if let old = existing[tag] {
                guard let r, Set(r.purposes) != Set(old.purposes) || r.basis != old.basis else { continue }
                try await db.query("""
                    UPDATE sensitive_facts SET purposes = \(SensitiveRules.purposesText(r.purposes)), basis = \(r.basis.rawValue)
                    WHERE resident_id = \(resident) AND tag = \(tag)
                    """).run()
                changes.append("\(tag):\(SensitiveRules.purposesText(r.purposes)):\(r.basis.rawValue)")
            } else {
                let purposes = r?.purposes ?? SensitiveRules.defaultPurposes(tag), basis = r?.basis ?? .legalDuty
                try await db.query("""
                    INSERT INTO sensitive_facts (resident_id, tag, purposes, basis, recorded_by, recorded_by_name, recorded_at, keep_until)
                    VALUES (\(resident), \(tag), \(SensitiveRules.purposesText(purposes)), \(basis.rawValue),
                            \(actor?.acting?.userID ?? actor?.userID), \(recorder), \(env.nowSeconds),
                            \(SensitiveRules.keepUntil(tag, from: today, birthDate: birthDate)))
                    ON CONFLICT (resident_id, tag) DO NOTHING
                    """).run()
                changes.append("\(tag):\(SensitiveRules.purposesText(purposes)):\(basis.rawValue)")
            }
        }
        if !changes.isEmpty {
            try await audit.append(db, actor: actor, action: "resident.sensitive", objectType: "resident", objectID: resident, path: path,
                                   detail: changes.joined(separator: ";"))
        }
    }

    /// Every tag a resident carries, unfiltered, for a rule worked out on the server and never
    /// shown (a meal's subsidy). The caller has already checked that the actor may see the person.
    package static func tags(_ db: any SQLDatabase, resident: Int64) async throws -> Set<String> {
        Set(try await db.query("SELECT tags FROM residents WHERE id = \(resident)").first()?.decode(column: "tags", as: String.self)
            .split(separator: ",").map(String.init) ?? [])
    }

    /// A resident's sensitive records the actor may see (all of them for the office and for the
    /// resident themselves).
    public func sensitiveFacts(_ id: Int64, actor: Actor) async throws -> [SensitiveFactView] {
        try await store.read { db in
            guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
            let scope = try Self.residentScope(r)
            try actor.require(.residentView, on: scope)
            return try await sensitiveFacts(db, id, scope: scope, actor: actor)
        }
    }

    func sensitiveFacts(_ db: any SQLDatabase, _ id: Int64, scope: ObjectScope, actor: Actor) async throws -> [SensitiveFactView] {
        let subject = Self.isSubject(actor, id)
        let served = servedPurposes(actor, scope)
        return try await db.query("""
            SELECT tag, purposes, basis, recorded_by_name, recorded_at, keep_until FROM sensitive_facts WHERE resident_id = \(id) ORDER BY tag
            """).all().compactMap { r in
            let purposes = SensitiveRules.purposes(try r.decode(column: "purposes", as: String.self))
            guard subject || SensitiveRules.visible(purposes, servedBy: served) else { return nil }
            let keep = try r.decode(column: "keep_until", as: Int64.self)
            return SensitiveFactView(tag: try r.decode(column: "tag", as: String.self), purposes: purposes.map(\.rawValue),
                                     basis: try r.decode(column: "basis", as: String.self),
                                     recordedBy: try r.decode(column: "recorded_by_name", as: String.self),
                                     recordedOn: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "recorded_at", as: Int64.self))),
                                     keepUntil: keep == 0 ? "" : ChinaTime.iso(day: keep))
        }
    }

    /// The office confirms a sensitive tag is still true: it is kept for another period from today.
    public func renewSensitive(_ id: Int64, tag: String, actor: Actor) async throws -> [SensitiveFactView] {
        try await store.transaction { db in
            let (scope, birth, kept) = try await sensitiveTarget(db, id, tag: tag, actor: actor)
            try actor.require(.residentEdit, on: scope)
            guard SensitiveRules.visible(kept.purposes, servedBy: servedPurposes(actor, scope)) else { throw LinliError.notFound }
            let until = SensitiveRules.keepUntil(tag, from: LocalDay.of(env.nowSeconds), birthDate: birth)
            try await db.query("UPDATE sensitive_facts SET keep_until = \(until), due_told_at = NULL WHERE resident_id = \(id) AND tag = \(tag)").run()
            try await audit.append(db, actor: actor, action: "resident.sensitive_renew", objectType: "resident", objectID: id, path: scope.path,
                                   detail: "\(tag):\(ChinaTime.iso(day: until))")
            return try await sensitiveFacts(db, id, scope: scope, actor: actor)
        }
    }

    /// The resident withdraws the consent a tag was kept on (PIPL art. 15): the tag and its record
    /// go at once. A tag kept on the office's statutory duty cannot be withdrawn this way; the
    /// answer says whom to ask.
    public func withdrawSensitive(_ id: Int64, tag: String, actor: Actor) async throws -> [SensitiveFactView] {
        try await store.transaction { db in
            let (scope, _, kept) = try await sensitiveTarget(db, id, tag: tag, actor: actor)
            // The person themselves, signed in as themselves: nobody acting for them (代办) withdraws
            // their consent.
            guard Self.isSubject(actor, id), !actor.withheld.contains(.residentUnmask) else {
                throw LinliError(.forbidden, code: "not_subject", field: "tag", message: "只有居民本人可以撤回同意；工作人员可在编辑居民信息时取消这个标签")
            }
            guard kept.basis == .consent else {
                throw LinliError.conflict("tag", "not_consent", "这项信息是社区依法履职登记的，不是凭您的同意；如有异议请联系社区")
            }
            try await removeTag(db, id, tag: tag)
            try await audit.append(db, actor: actor, action: "resident.sensitive_withdraw", objectType: "resident", objectID: id, path: scope.path, detail: tag)
            return try await sensitiveFacts(db, id, scope: scope, actor: actor)
        }
    }

    /// The resident, their birth date and the tag's record, once the actor may see them and they carry the tag.
    private func sensitiveTarget(_ db: any SQLDatabase, _ id: Int64, tag: String, actor: Actor) async throws -> (ObjectScope, String, SensitiveRecord) {
        // Holds the row first (PostgreSQL): a renewal and an edit of the tags take turns.
        try await db.raw("UPDATE residents SET updated_at = updated_at WHERE id = \(bind: id)").run()
        guard let r = try await db.raw("\(unsafeRaw: Self.residentColumns) WHERE r.id = \(bind: id)").first() else { throw LinliError.notFound }
        let scope = try Self.residentScope(r)
        try actor.require(.residentView, on: scope)
        guard SensitiveRules.isSensitive(tag),
              let f = try await db.query("SELECT purposes, basis FROM sensitive_facts WHERE resident_id = \(id) AND tag = \(tag)").first() else {
            throw LinliError.notFound
        }
        let record = SensitiveRecord(purposes: SensitiveRules.purposes(try f.decode(column: "purposes", as: String.self)),
                                     basis: SensitiveBasis(rawValue: try f.decode(column: "basis", as: String.self)) ?? .legalDuty)
        return (scope, try r.decode(column: "birth_date", as: String.self), record)
    }

    /// What each resident's sensitive tags are kept for, by resident and tag.
    private func keptPurposes(_ db: any SQLDatabase, residents: [Int64]) async throws -> [Int64: [String: [SensitivePurpose]]] {
        var kept: [Int64: [String: [SensitivePurpose]]] = [:]
        for r in try await db.query("SELECT resident_id, tag, purposes FROM sensitive_facts WHERE resident_id IN (\(list: residents))").all() {
            kept[try r.decode(column: "resident_id", as: Int64.self), default: [:]][try r.decode(column: "tag", as: String.self)] =
                SensitiveRules.purposes(try r.decode(column: "purposes", as: String.self))
        }
        return kept
    }

    /// Takes one tag off a resident with its record, and counts their household's situations
    /// again. The resident's row is held first (PostgreSQL), so an edit or a renewal in flight
    /// takes its turn; `dueBefore` (the sweep) removes the record only if it is still past its
    /// date then, so a renewal that came first keeps the tag. Returns whether it was removed.
    @discardableResult
    private func removeTag(_ db: any SQLDatabase, _ id: Int64, tag: String, dueBefore: Int64? = nil) async throws -> Bool {
        try await db.query("UPDATE residents SET updated_at = updated_at WHERE id = \(id)").run()
        let due: BoundSQL = dueBefore.map { "AND keep_until > 0 AND keep_until < \($0)" } ?? ""
        guard try await db.query("DELETE FROM sensitive_facts WHERE resident_id = \(id) AND tag = \(tag) \(due) RETURNING id").first() != nil,
              let r = try await db.query("SELECT household_id, tags FROM residents WHERE id = \(id)").first() else { return false }
        let tags = try r.decode(column: "tags", as: String.self).split(separator: ",").map(String.init).filter { $0 != tag }
        try await db.query("UPDATE residents SET tags = \(tags.joined(separator: ",")), updated_at = \(env.nowSeconds) WHERE id = \(id)").run()
        try await householdsDidChange(db, [try r.decode(column: "household_id", as: Int64.self)])
        return true
    }

    /// The retention job (hourly, with the other sweeps): records made before purposes were kept
    /// get their date (from today); a tag past its date and not confirmed since is taken off,
    /// with its record and an audit row, 200 at a time. Returns how many were taken off.
    public func sweepSensitive() async throws -> Int {
        let today = LocalDay.of(env.nowSeconds)
        try await store.transaction { db in try await Self.dateUndated(db, today: today) }
        var removed = 0
        while true {
            let n = try await store.transaction { db -> (Int, Int) in
                let due = try await db.query("""
                    SELECT f.resident_id, f.tag, h.path FROM sensitive_facts f JOIN residents r ON r.id = f.resident_id JOIN households h ON h.id = r.household_id
                    WHERE f.keep_until > 0 AND f.keep_until < \(today) ORDER BY f.id LIMIT 200
                    """).all()
                var entries: [(objectID: Int64, path: String, detail: String)] = []
                for r in due {
                    let id = try r.decode(column: "resident_id", as: Int64.self), tag = try r.decode(column: "tag", as: String.self)
                    if try await removeTag(db, id, tag: tag, dueBefore: today) { entries.append((id, try r.decode(column: "path", as: String.self), tag)) }
                }
                if !entries.isEmpty { try await audit.appendBySystem(db, action: "resident.sensitive_expired", objectType: "resident", entries: entries) }
                return (due.count, entries.count)
            }
            removed += n.1
            if n.0 < 200 { break }
        }
        try await tellComingDue(today: today)
        return removed
    }

    /// Tells each community's office, once per record and period, of sensitive records coming
    /// due within `dueNoticeDays`: one note per community naming how many, leading to its list.
    /// Returns how many records were told of.
    @discardableResult
    func tellComingDue(today: Int64) async throws -> Int {
        var told = 0
        while true {
            let n = try await store.transaction { db -> Int in
                let rows = try await db.query("""
                    SELECT f.id, h.community_id FROM sensitive_facts f JOIN residents r ON r.id = f.resident_id JOIN households h ON h.id = r.household_id
                    WHERE f.keep_until > 0 AND f.keep_until <= \(today + Self.dueNoticeDays) AND f.due_told_at IS NULL ORDER BY f.id LIMIT 1000
                    """).all()
                let ids = try rows.map { try $0.decode(column: "id", as: Int64.self) }
                guard !ids.isEmpty else { return 0 }
                let byCommunity = Dictionary(grouping: try rows.map { try $0.decode(column: "community_id", as: Int64.self) }, by: { $0 })
                for (community, records) in byCommunity.sorted(by: { $0.key < $1.key }) {
                    try await sensitiveComingDue(db, community, records.count)
                }
                try await db.query("UPDATE sensitive_facts SET due_told_at = \(env.nowSeconds) WHERE id IN (\(list: ids))").run()
                return ids.count
            }
            told += n
            if n < 1000 { return told }
        }
    }

    /// Records for tags written straight into the table (the demo generator, rows from before
    /// purposes were kept): the default purposes on the office's duty, dated by the next sweep.
    static let sensitiveBackfill: [String] = SensitiveRules.kinds.sorted().map { tag in
        """
        INSERT INTO sensitive_facts (resident_id, tag, purposes, basis, recorded_by, recorded_by_name, recorded_at, keep_until)
        SELECT r.id, '\(tag)', '\(SensitiveRules.purposesText(SensitiveRules.defaultPurposes(tag)))', 'legal_duty', NULL, '', r.created_at, 0
        FROM residents r WHERE (',' || r.tags || ',') LIKE '%,\(tag),%'
        AND NOT EXISTS (SELECT 1 FROM sensitive_facts f WHERE f.resident_id = r.id AND f.tag = '\(tag)')
        """
    }

    /// Records every resident's sensitive tags on the office's duty, each dated as `dateUndated`
    /// would date it, in the same statement (after the demo generator's bulk writes: dating them
    /// afterwards wrote every row twice, 22 s of a 5,000,000-resident street's load).
    static func backfillSensitive(_ db: any SQLDatabase, today: Int64) async throws {
        for tag in SensitiveRules.kinds.sorted() {
            try await db.query("""
                INSERT INTO sensitive_facts (resident_id, tag, purposes, basis, recorded_by, recorded_by_name, recorded_at, keep_until)
                SELECT r.id, \(tag), \(SensitiveRules.purposesText(SensitiveRules.defaultPurposes(tag))), 'legal_duty', NULL, '', r.created_at,
                       \(ChinaTime.addingMonths(SensitiveRules.retentionMonths(tag), to: today)) - r.id % 61
                FROM residents r WHERE (',' || r.tags || ',') LIKE \("%," + tag + ",%")
                AND NOT EXISTS (SELECT 1 FROM sensitive_facts f WHERE f.resident_id = r.id AND f.tag = \(tag))
                """).run()
        }
        try await dateUndated(db, today: today)
    }

    /// Records not dated yet are kept for their period from `today`. (A child's birthday bound
    /// waits for the next renewal: the yearly rule ends the record soon enough.)
    /// The dates are spread over the period's last two months (by resident), so that a street's
    /// whole register does not come due on one day: the office checks them in turns from the
    /// list of what is due (`sensitiveDue`).
    static func dateUndated(_ db: any SQLDatabase, today: Int64) async throws {
        for tag in SensitiveRules.kinds.sorted() {
            try await db.query("""
                UPDATE sensitive_facts SET keep_until = \(ChinaTime.addingMonths(SensitiveRules.retentionMonths(tag), to: today)) - resident_id % 61
                WHERE keep_until = 0 AND tag = \(tag)
                """).run()
        }
    }

    /// How far ahead the office sees what comes due, to confirm it in time.
    static let dueNoticeDays: Int64 = 30

    /// A community's sensitive tags that end within the next 30 days unless confirmed, soonest
    /// first, for the office to check (at most 500).
    public func sensitiveDue(community: Int64, actor: Actor) async throws -> [SensitiveDueView] {
        let today = LocalDay.of(env.nowSeconds)
        return try await store.read { db in
            guard let c = try await fetchPlace(db, community), c.kind.isCommunity, actor.may(.placeView, on: c.scope) else { throw LinliError.notFound }
            try actor.require(.residentEdit, on: c.scope)
            guard servedPurposes(actor, c.scope) == Set(SensitivePurpose.allCases) else { throw LinliError.forbidden }
            return try await db.query("""
                SELECT f.resident_id, f.tag, f.keep_until, r.name, h.address FROM sensitive_facts f
                JOIN residents r ON r.id = f.resident_id JOIN households h ON h.id = r.household_id
                WHERE h.community_id = \(c.id) AND f.keep_until > 0 AND f.keep_until <= \(today + Self.dueNoticeDays)
                ORDER BY f.keep_until, f.resident_id LIMIT 500
                """).all().map { r in
                SensitiveDueView(residentID: try r.decode(column: "resident_id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                                 address: try r.decode(column: "address", as: String.self), tag: try r.decode(column: "tag", as: String.self),
                                 keepUntil: ChinaTime.iso(day: try r.decode(column: "keep_until", as: Int64.self)))
            }
        }
    }
}
