import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Categories, routing rules and the holiday calendar: read on every submission, changed rarely.
/// Kept in memory and reloaded after an edit: here at once, on other servers sharing the database
/// within `SharedVersion.recheckSeconds` (each edit bumps the shared version in its transaction).
/// Where a routing rule sends a category: a kind of party, and for a department the
/// government department (or field office) that answers, when the rule names one.
struct RuleTarget: Sendable, Equatable {
    var kind: PartyKind
    var organisationID: Int64?
}

final class RequestsConfig: Sendable {
    struct Snapshot: Sendable {
        var categories: [String: RequestCategory]
        var order: [String]
        /// category → place id → party
        var rules: [String: [Int64: RuleTarget]]
        package var calendar: WorkCalendar
        var calendarDays: [(day: String, kind: String, name: String)]
    }

    private let cache = SharedCache<Snapshot>("requests.config")

    func snapshot(_ db: any SQLDatabase, now: Int64) async throws -> Snapshot {
        try await cache.value(db) { db in try await Self.load(db) }
    }

    /// The same from a store: a snapshot whose version was checked within the last second is
    /// taken from memory without a hop to a reader.
    func snapshot(in store: any Store, now: Int64) async throws -> Snapshot {
        if let s = cache.kept() { return s }
        return try await store.read { db in try await snapshot(db, now: now) }
    }

    /// Called inside the transaction of every edit: this server and the others reload.
    func changed(_ db: any SQLDatabase) async throws { try await cache.changed(db) }

    func invalidate() { cache.forget() }

    static func load(_ db: any SQLDatabase) async throws -> Snapshot {
        var categories: [String: RequestCategory] = [:]
        var order: [String] = []
        for r in try await db.raw("""
            SELECT code, name_zh, name_en, description, default_party, accept_hours, contact_hours, resolve_hours, working_hours, attributes, active
            FROM request_categories ORDER BY sort, code
            """).all() {
            let code = try r.decode(column: "code", as: String.self)
            let attrs = (try? JSONDecoder().decode([CategoryAttribute].self, from: Data(try r.decode(column: "attributes", as: String.self).utf8))) ?? []
            categories[code] = RequestCategory(
                code: code, nameZh: try r.decode(column: "name_zh", as: String.self), nameEn: try r.decode(column: "name_en", as: String.self),
                description: try r.decode(column: "description", as: String.self),
                defaultParty: PartyKind(rawValue: try r.decode(column: "default_party", as: String.self)) ?? .residentsCommittee,
                policy: DeadlinePolicy(acceptHours: try r.decode(column: "accept_hours", as: Int.self), contactHours: try r.decode(column: "contact_hours", as: Int.self),
                                       resolveHours: try r.decode(column: "resolve_hours", as: Int.self), workingHours: try r.decode(column: "working_hours", as: Int.self) != 0),
                attributes: attrs, active: try r.decode(column: "active", as: Int.self) != 0)
            order.append(code)
        }
        var rules: [String: [Int64: RuleTarget]] = [:]
        for r in try await db.raw("SELECT category_code, place_id, party_kind, organisation_id FROM routing_rules").all() {
            guard let party = PartyKind(rawValue: try r.decode(column: "party_kind", as: String.self)) else { continue }
            rules[try r.decode(column: "category_code", as: String.self), default: [:]][try r.decode(column: "place_id", as: Int64.self)] =
                RuleTarget(kind: party, organisationID: try r.decode(column: "organisation_id", as: Int64?.self))
        }
        var holidays = Set<Int64>(), workdays = Set<Int64>()
        var days: [(String, String, String)] = []
        for r in try await db.raw("SELECT day, kind, name FROM calendar_days ORDER BY day").all() {
            let day = try r.decode(column: "day", as: String.self), kind = try r.decode(column: "kind", as: String.self)
            days.append((day, kind, try r.decode(column: "name", as: String.self)))
            guard let d = Input.day(day) else { continue }
            if kind == "holiday" { holidays.insert(d) } else { workdays.insert(d) }
        }
        return Snapshot(categories: categories, order: order, rules: rules, calendar: WorkCalendar(holidays: holidays, workdays: workdays),
                        calendarDays: days.map { (day: $0.0, kind: $0.1, name: $0.2) })
    }

    /// The party for a category at a place: the rule of the deepest place on the path, else the
    /// category's default.
    static func party(for category: RequestCategory, path: String, rules: [String: [Int64: RuleTarget]]) -> RuleTarget {
        let ids = PlacePath.ids(path)
        if let byPlace = rules[category.code] {
            for id in ids.reversed() { if let p = byPlace[id] { return p } }
        }
        return RuleTarget(kind: category.defaultParty, organisationID: nil)
    }

    /// The official 2026 public holidays and make-up working days (国务院办公厅通知), loaded by the
    /// demo; staff edit the calendar for later years.
    static let holidays2026: [(String, String, String)] = {
        var out: [(String, String, String)] = []
        func range(_ from: String, _ to: String, _ name: String) {
            guard let a = Input.day(from), let b = Input.day(to) else { return }
            for d in a...b { out.append((ChinaTime.iso(day: d), "holiday", name)) }
        }
        range("2026-01-01", "2026-01-03", "元旦")
        out.append(("2026-01-04", "workday", "元旦调休上班"))
        range("2026-02-15", "2026-02-23", "春节")
        out.append(("2026-02-14", "workday", "春节调休上班"))
        out.append(("2026-02-28", "workday", "春节调休上班"))
        range("2026-04-04", "2026-04-06", "清明节")
        range("2026-05-01", "2026-05-05", "劳动节")
        out.append(("2026-05-09", "workday", "劳动节调休上班"))
        range("2026-06-19", "2026-06-21", "端午节")
        range("2026-09-25", "2026-09-27", "中秋节")
        range("2026-10-01", "2026-10-07", "国庆节")
        out.append(("2026-09-20", "workday", "国庆节调休上班"))
        out.append(("2026-10-10", "workday", "国庆节调休上班"))
        return out
    }()
}
