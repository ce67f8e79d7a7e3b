import Foundation
import SQLKit
import LinliCore
import LinliStore

public struct RoutingRuleView: Sendable, Codable {
    public var id: Int64
    public var category: String
    public var categoryName: String
    public var placeID: Int64
    public var placeName: String
    public var partyKind: String
    /// The department a "department" rule names (nil: the street's office answers).
    public var organisationID: Int64?
    public var organisationName: String?
    enum CodingKeys: String, CodingKey {
        case id, category, categoryName = "category_name", placeID = "place_id", placeName = "place_name", partyKind = "party_kind"
        case organisationID = "organisation_id", organisationName = "organisation_name"
    }
}

public struct CalendarDayView: Sendable, Codable {
    public var day: String
    public var kind: String
    public var name: String
}

/// City-wide settings (categories, deadlines, calendar) and routing rules per place.
extension RequestsService {
    public func updateCategory(_ code: String, acceptHours: Int?, contactHours: Int?, resolveHours: Int?, workingHours: Bool, defaultParty: String?,
                               active: Bool, actor: Actor) async throws {
        try actor.require(.requestConfigure)
        var v = Validator()
        for (field, value) in [("accept_hours", acceptHours), ("contact_hours", contactHours), ("resolve_hours", resolveHours)] {
            v.check(value.map { (1...2000).contains($0) } ?? false, field, "invalid", "时限应为 1 到 2000 小时")
        }
        if let a = acceptHours, let c = contactHours, let r = resolveHours {
            v.check(a <= c && c <= r, "resolve_hours", "order", "时限应满足：受理 ≤ 首次联系 ≤ 办结")
        }
        let party = defaultParty.flatMap(PartyKind.init(rawValue:))
        v.check(party != nil, "default_party", "invalid", "请选择默认责任方")
        try v.throwIfAny()
        try await store.transaction { db in
            guard try await db.raw("SELECT code FROM request_categories WHERE code = \(bind: code)").first() != nil else { throw LinliError.notFound }
            try await db.raw("""
                UPDATE request_categories SET accept_hours = \(bind: acceptHours!), contact_hours = \(bind: contactHours!), resolve_hours = \(bind: resolveHours!),
                    working_hours = \(bind: workingHours ? 1 : 0), default_party = \(bind: party!.rawValue), active = \(bind: active ? 1 : 0)
                WHERE code = \(bind: code)
                """).run()
            try await config.changed(db)
            try await audit.append(db, actor: actor, action: "request.category", objectType: "request_category", objectID: nil, path: "/",
                                   detail: "\(code): \(acceptHours!)/\(contactHours!)/\(resolveHours!) \(workingHours ? "working" : "calendar") \(party!.rawValue)")
        }
        config.invalidate()
    }

    public func calendarDays() async throws -> [CalendarDayView] {
        let now = env.nowSeconds
        return try await store.read { db in
            try await config.snapshot(db, now: now).calendarDays.map { CalendarDayView(day: $0.day, kind: $0.kind, name: $0.name) }
        }
    }

    public func setCalendarDay(_ day: String?, kind: String?, name: String?, actor: Actor) async throws {
        try actor.require(.requestConfigure)
        guard let day, let d = Input.day(day) else { throw LinliError.invalid("day", "invalid", "日期格式应为 YYYY-MM-DD") }
        guard let kind, ["holiday", "workday", "none"].contains(kind) else { throw LinliError.invalid("kind", "invalid", "请选择放假或调休上班") }
        let iso = ChinaTime.iso(day: d)
        try await store.transaction { db in
            try await db.raw("DELETE FROM calendar_days WHERE day = \(bind: iso)").run()
            if kind != "none" {
                try await db.raw("INSERT INTO calendar_days (day, kind, name) VALUES (\(bind: iso), \(bind: kind), \(bind: String((name ?? "").prefix(40))))").run()
            }
            try await config.changed(db)
            try await audit.append(db, actor: actor, action: "request.calendar", objectType: "calendar_day", objectID: nil, path: "/", detail: "\(iso) \(kind)")
        }
        config.invalidate()
    }

    /// Loads a year's official holidays (used by the demo and offered on a fresh install).
    public func loadHolidays(_ days: [(String, String, String)]) async throws {
        try await store.transaction { db in
            for (day, kind, name) in days {
                try await db.raw("DELETE FROM calendar_days WHERE day = \(bind: day)").run()
                try await db.raw("INSERT INTO calendar_days (day, kind, name) VALUES (\(bind: day), \(bind: kind), \(bind: name))").run()
            }
            try await config.changed(db)
        }
        config.invalidate()
    }

    public func routingRules(actor: Actor, lang: Lang) async throws -> [RoutingRuleView] {
        let grants = actor.grants(for: .requestRoute)
        guard !grants.isEmpty else { throw LinliError.forbidden }
        let now = env.nowSeconds
        return try await store.read { db in
            let cats = try await config.snapshot(db, now: now).categories
            var views = try await db.raw("""
                SELECT rr.id, rr.category_code, rr.place_id, rr.party_kind, rr.organisation_id, p.name, p.path FROM routing_rules rr JOIN places p ON p.id = rr.place_id ORDER BY p.path, rr.category_code
                """).all().compactMap { r -> RoutingRuleView? in
                let path = try r.decode(column: "path", as: String.self)
                guard grants.contains(where: { path.hasPrefix($0.placePath) }) else { return nil }
                let code = try r.decode(column: "category_code", as: String.self)
                return RoutingRuleView(id: try r.decode(column: "id", as: Int64.self), category: code, categoryName: cats[code]?.name(lang) ?? code,
                                       placeID: try r.decode(column: "place_id", as: Int64.self), placeName: try r.decode(column: "name", as: String.self),
                                       partyKind: try r.decode(column: "party_kind", as: String.self),
                                       organisationID: try r.decode(column: "organisation_id", as: Int64?.self))
            }
            let names = try await departments(db, views.compactMap(\.organisationID))
            for i in views.indices { views[i].organisationName = views[i].organisationID.flatMap { names[$0]?.name } }
            return views
        }
    }

    /// A routing rule: at this place (and below), this category goes to this kind of party.
    /// A "department" rule may name the department (or field office) that answers; it must
    /// serve the rule's place (sit at it or above it).
    public func setRoutingRule(category: String?, placeID: Int64?, partyKind: String?, organisationID: Int64? = nil, actor: Actor) async throws {
        var v = Validator()
        v.check(placeID != nil, "place_id", "required", "请填写地点编号")
        let party = partyKind.flatMap(PartyKind.init(rawValue:))
        v.check(party != nil, "party_kind", "invalid", "请选择责任方")
        if organisationID != nil, party != nil { v.check(party == .department, "organisation_id", "not_department", "只有“街道职能部门”的规则可以指定部门") }
        try v.throwIfAny()
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let category, try await config.snapshot(db, now: now).categories[category] != nil else {
                throw LinliError.invalid("category", "unknown", "请选择有效的诉求类别")
            }
            guard let p = try await db.raw("SELECT path FROM places WHERE id = \(bind: placeID!)").first() else {
                throw LinliError.invalid("place_id", "unknown", "地点不存在")
            }
            let path = try p.decode(column: "path", as: String.self)
            guard actor.grants(for: .requestRoute).contains(where: { path.hasPrefix($0.placePath) }) else {
                throw LinliError.invalid("place_id", "out_of_scope", "该地点不在您的管辖范围内")
            }
            if let org = organisationID {
                guard let d = try await departments(db, [org])[org], path.hasPrefix(d.path) else {
                    throw LinliError.invalid("organisation_id", "not_serving", "所选部门不服务这个地点")
                }
            }
            try await db.raw("DELETE FROM routing_rules WHERE category_code = \(bind: category) AND place_id = \(bind: placeID!)").run()
            try await db.query("""
                INSERT INTO routing_rules (category_code, place_id, party_kind, organisation_id) VALUES (\(category), \(placeID!), \(party!.rawValue), \(organisationID))
                """).run()
            try await config.changed(db)
            try await audit.append(db, actor: actor, action: "request.routing_rule", objectType: "place", objectID: placeID, path: path,
                                   detail: "\(category) → \(party!.rawValue)\(organisationID.map { " org:\($0)" } ?? "")")
        }
        config.invalidate()
    }

    /// The departments a request in the actor's area can be routed to: those sitting at or above
    /// the actor's places (a district's bureau) and those inside them (a street's field office).
    public func departmentChoices(actor: Actor) async throws -> [DepartmentRef] {
        let grants = actor.grants(for: .requestRoute)
        guard !grants.isEmpty else { return [] }
        return try await store.read { db in
            let above = try await departmentsAt(db, Array(Set(grants.flatMap { PlacePath.ids($0.placePath) })))
            let below = try await departmentsUnder(db, grants.map(\.placePath))
            var seen = Set<Int64>()
            return (above + below).filter { seen.insert($0.id).inserted }
        }
    }

    public func deleteRoutingRule(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            guard let r = try await db.raw("SELECT rr.place_id, p.path FROM routing_rules rr JOIN places p ON p.id = rr.place_id WHERE rr.id = \(bind: id)").first() else {
                throw LinliError.notFound
            }
            let path = try r.decode(column: "path", as: String.self)
            guard actor.grants(for: .requestRoute).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
            try await db.raw("DELETE FROM routing_rules WHERE id = \(bind: id)").run()
            try await config.changed(db)
            try await audit.append(db, actor: actor, action: "request.routing_rule_delete", objectType: "place", objectID: try r.decode(column: "place_id", as: Int64.self), path: path)
        }
        config.invalidate()
    }
}

public struct LocationOption: Sendable, Codable {
    public var value: String
    public var label: String
}

extension RequestsService {
    /// Where this actor may report about: a resident's home, building, compound and community;
    /// for staff the communities and compounds of their area.
    public func locationOptions(actor: Actor) async throws -> [LocationOption] {
        try await store.read { db in
            var out: [LocationOption] = []
            for g in actor.grants(for: .requestSubmit) {
                if g.role == .resident, let hid = g.householdID {
                    guard let h = try await db.raw("SELECT address, path FROM households WHERE id = \(bind: hid)").first() else { continue }
                    out.append(LocationOption(value: "household:\(hid)", label: "🏠 " + (try h.decode(column: "address", as: String.self))))
                    let ids = PlacePath.ids(try h.decode(column: "path", as: String.self))
                    let rows = try await db.select().columns("id", "name", "kind").from("places").where("id", .in, Array(ids.dropFirst(3))).all()
                    var byID: [Int64: (String, String)] = [:]
                    for r in rows { byID[try r.decode(column: "id", as: Int64.self)] = (try r.decode(column: "name", as: String.self), try r.decode(column: "kind", as: String.self)) }
                    var label = ""
                    for id in ids.dropFirst(3) {
                        guard let (name, kind) = byID[id] else { continue }
                        label += name
                        if kind == PlaceKind.unit.rawValue { continue }
                        out.append(LocationOption(value: "place:\(id)", label: label))
                    }
                } else {
                    var q = SQLQueryString("SELECT id, name, path, kind FROM places WHERE kind IN ('community', 'village', 'compound', 'villager_group') AND path LIKE ")
                    q.appendInterpolation(bind: g.placePath + "%")
                    q.appendInterpolation(unsafeRaw: " ORDER BY path LIMIT 500")
                    for r in try await db.raw(q).all() {
                        let kind = try r.decode(column: "kind", as: String.self)
                        let indent = kind == "community" || kind == "village" ? "" : "　"
                        out.append(LocationOption(value: "place:\(try r.decode(column: "id", as: Int64.self))", label: indent + (try r.decode(column: "name", as: String.self))))
                    }
                }
            }
            var seen = Set<String>()
            return out.filter { seen.insert($0.value).inserted }
        }
    }
}
