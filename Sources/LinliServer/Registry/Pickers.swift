import Foundation
import SQLKit
import LinliCore
import LinliStore

/// How staff find a household, a person or a place without knowing its number: an address
/// typed any way ("金桂苑1幢101", "金桂苑 1 栋 1-101", "１幢１０１"), a name, or the last four
/// digits of a phone. Pure rules; the queries are below.
enum AddressQuery {
    enum Run: Equatable { case text(String), digits(String) }

    /// Full-width forms to half-width, spaces and punctuation out, 栋/号楼/座 read as 幢, 室 and 号 dropped.
    static func normalise(_ raw: String) -> String {
        var s = ""
        for u in raw.unicodeScalars {
            if (0xFF01...0xFF5E).contains(u.value), let h = UnicodeScalar(u.value - 0xFEE0) { s.unicodeScalars.append(h) }
            else if u.value == 0x3000 { continue }
            else { s.unicodeScalars.append(u) }
        }
        s = s.replacingOccurrences(of: "号楼", with: "幢").replacingOccurrences(of: "栋", with: "幢").replacingOccurrences(of: "座", with: "幢")
        // Spaces and separators end a run ("1-101" is 1 and 101) but are not text themselves.
        return String(s.compactMap { c -> Character? in
            if c.isWhitespace || "-—_/·.,，。#".contains(c) { return "|" }
            return "室号".contains(c) ? nil : c
        }).lowercased()
    }

    /// Alternating runs of digits and of anything else.
    static func runs(_ normalised: String) -> [Run] {
        var out: [Run] = [], cur = "", digits = false
        for ch in normalised {
            if ch == "|" {
                if !cur.isEmpty { out.append(digits ? .digits(cur) : .text(cur)); cur = "" }
                continue
            }
            let d = ch.isASCII && ch.isNumber
            if !cur.isEmpty && d != digits { out.append(digits ? .digits(cur) : .text(cur)); cur = "" }
            digits = d; cur.append(ch)
        }
        if !cur.isEmpty { out.append(digits ? .digits(cur) : .text(cur)) }
        return out
    }

    /// Whether an address holds the query's runs in order: each number as a whole number of the
    /// address (1 is not 11), each text inside a text of the address. Runs of the address may be
    /// skipped ("金桂苑1幢101" matches "金桂苑 1幢 1单元 101").
    static func matches(query: [Run], address: [Run]) -> Bool {
        var i = 0
        for q in query {
            var found = false
            while i < address.count {
                defer { i += 1 }
                switch (q, address[i]) {
                case (.digits(let a), .digits(let b)) where Int(a) == Int(b) && a.count <= 9: found = true
                case (.text(let a), .text(let b)) where b.contains(a): found = true
                default: continue
                }
                break
            }
            if !found { return false }
        }
        return true
    }

    /// The places named between the compound and the door, as the register names them
    /// ("安居二区1幢1单元1502" → ["1幢", "1单元"]): a number followed by its word, in order,
    /// leading zeros dropped. Stops at the first run that is not so (then the door alone narrows).
    static func namedParts(_ runs: [Run]) -> [String] {
        var out: [String] = [], k = 1
        while k + 2 < runs.count, case .digits(let n) = runs[k], case .text(let word) = runs[k + 1], let number = Int(n), n.count <= 9 {
            out.append(String(number) + word)
            k += 2
        }
        return out
    }

    /// A place's name as `namedParts` gives it: "1栋", "01幢" and "1号楼" are all "1幢".
    static func canonicalName(_ name: String) -> String {
        let r = runs(normalise(name))
        if r.count == 2, case .digits(let n) = r[0], case .text(let word) = r[1], let number = Int(n), n.count <= 9 { return String(number) + word }
        return normalise(name).replacingOccurrences(of: "|", with: "")
    }

    /// The last number of the query: the door, the one column that narrows the search in SQL.
    static func lastNumber(_ runs: [Run]) -> String? {
        for r in runs.reversed() { if case .digits(let d) = r { return d } }
        return nil
    }
}

public struct PickItem: Sendable, Codable, Equatable {
    public var id: Int64
    public var label: String
    public var hint: String
}

extension RegistryService {
    static let pickLimit = 10

    /// Households the actor may see, by address, by a resident's name, or by the last four digits
    /// of a resident's phone (read from the masked phone, which shows them anyway, through an
    /// index on that expression: the phone itself stays sealed).
    public func pickHouseholds(_ raw: String, actor: Actor) async throws -> [PickItem] {
        let n = AddressQuery.normalise(String(raw.prefix(60)))
        let q = n.replacingOccurrences(of: "|", with: "")
        guard !q.isEmpty else { return [] }
        let runs = AddressQuery.runs(n)
        let scope = scopedHouseholds(actor, .householdView, alias: "h")
        return try await store.read { db in
            var out: [PickItem] = [], seen = Set<Int64>()
            func add(_ rows: [any SQLRow], hint: (any SQLRow) throws -> String) throws {
                for r in rows where out.count < Self.pickLimit {
                    let id = try r.decode(column: "id", as: Int64.self)
                    if seen.insert(id).inserted { out.append(PickItem(id: id, label: try r.decode(column: "address", as: String.self), hint: try hint(r))) }
                }
            }
            if q.count == 4, q.allSatisfy({ $0.isASCII && $0.isNumber }) {
                try add(try await db.query("""
                    SELECT h.id, h.address, r.name, r.phone_masked FROM residents r JOIN households h ON h.id = r.household_id
                    WHERE substr(r.phone_masked, 8) = \(q) AND \(scope) ORDER BY h.id LIMIT 20
                    """).all()) { "\(try $0.decode(column: "name", as: String.self)) \(try $0.decode(column: "phone_masked", as: String.self))" }
            }
            var narrowed = false
            if let door = AddressQuery.lastNumber(runs), case .text(let head)? = runs.first, head.count >= 2 {
                // The compound (or villager group) named first narrows the doors to its own: a
                // door number alone is shared by every tall building of a city.
                // Compounds inside the actor's own areas (a grid worker's grant names their community).
                // The shortest names first: the one typed in full (金桂苑) before the longer
                // names it starts (金桂苑二期…), so a city of many similar names cannot push the
                // compound meant past the twenty read.
                let areas = actor.grants(for: .householdView).map(\.placePath)
                let inAreas = areas.isEmpty ? "1=0" : BoundSQL.joined(areas.map { store.dialect.startsWith("c.path", $0) }, separator: " OR ")
                let compounds = try await db.query("""
                    SELECT c.id, c.path FROM places c WHERE c.kind IN ('compound', 'villager_group', 'natural_village') AND \(store.dialect.startsWith("c.name", head))
                    AND (\(inAreas)) ORDER BY length(c.name), c.id LIMIT 20
                    """).all().map { (id: try $0.decode(column: "id", as: Int64.self), path: try $0.decode(column: "path", as: String.self)) }
                // (A join of the compounds to their doors was tried: at --scale 40 SQLite led with
                // the city's doors and took 1.2 s for the whole city; see BENCHMARKS.md.)
                // Each compound narrowed by the building and unit typed after it, one level at a
                // time, by the names as the register keeps them ("1栋" and "01幢" are 1幢): a city
                // of twenty 安居二区 has twenty 1幢 1单元, not thousands of 1502s. A compound with
                // no such place keeps its own path (its doors are matched run by run below).
                var level = compounds
                for part in AddressQuery.namedParts(runs) where !level.isEmpty {
                    var found: [Int64: [(id: Int64, path: String)]] = [:]
                    for c in try await db.query("SELECT id, parent_id, path, name FROM places WHERE parent_id IN (\(list: level.map(\.id)))").all()
                    where AddressQuery.canonicalName(try c.decode(column: "name", as: String.self)) == part {
                        found[try c.decode(column: "parent_id", as: Int64.self), default: []].append((try c.decode(column: "id", as: Int64.self), try c.decode(column: "path", as: String.self)))
                    }
                    if found.isEmpty { break }
                    level = level.flatMap { found[$0.id] ?? [$0] }
                }
                // One index seek per place, joined by UNION ALL: with the places OR-ed and the
                // actor's scope beside them, SQLite led with the scope's range over the whole
                // city's doors (4 ms at --scale 40, against 0.2 ms so).
                let seeks = BoundSQL.joined(level.map { p in
                    "SELECT h.id, h.address, h.path, h.grid_id, h.micro_grid_id FROM households h WHERE h.door = \(door) AND \(store.dialect.startsWith("h.path", p.path))"
                }, separator: " UNION ALL ")
                let rows = level.isEmpty ? [] : try await db.query("""
                    SELECT h.id, h.address FROM (\(seeks)) h WHERE \(scope) ORDER BY h.id LIMIT 500
                    """).all()
                let hits = try rows.filter { AddressQuery.matches(query: runs, address: AddressQuery.runs(AddressQuery.normalise(try $0.decode(column: "address", as: String.self)))) }
                // Nothing there (the words were part of another name): the wider search below.
                narrowed = !hits.isEmpty
                try add(hits) { _ in "" }
            }
            if !narrowed, let door = AddressQuery.lastNumber(runs) {
                // Doors as typed ("101") and as stored; then the whole address, run by run.
                let rows = try await db.query("""
                    SELECT h.id, h.address FROM households h WHERE h.door = \(door) AND \(scope) ORDER BY h.id LIMIT 2000
                    """).all()
                let hits = try rows.filter { AddressQuery.matches(query: runs, address: AddressQuery.runs(AddressQuery.normalise(try $0.decode(column: "address", as: String.self)))) }
                try add(hits) { _ in "" }
            }
            if case .text(let name)? = runs.first, runs.count == 1 {
                try add(try await db.query("""
                    SELECT h.id, h.address, r.name FROM residents r JOIN households h ON h.id = r.household_id
                    WHERE \(store.dialect.startsWith("r.name", name)) AND \(scope) ORDER BY r.name, h.id LIMIT 20
                    """).all()) { try $0.decode(column: "name", as: String.self) }
            }
            return out
        }
    }

    /// Residents the actor may see, by name (from its start) or the last four digits of a phone.
    public func pickResidents(_ raw: String, actor: Actor) async throws -> [PickItem] {
        let q = AddressQuery.normalise(String(raw.prefix(40))).replacingOccurrences(of: "|", with: "")
        guard !q.isEmpty else { return [] }
        let scope = scopedHouseholds(actor, .residentView, alias: "h")
        let byPhone = q.count == 4 && q.allSatisfy { $0.isASCII && $0.isNumber }
        let match: BoundSQL = byPhone ? "substr(r.phone_masked, 8) = \(q)" : store.dialect.startsWith("r.name", raw.trimmingCharacters(in: .whitespaces))
        return try await store.read { db in
            let rows = try await db.query("""
                SELECT r.id, r.name, r.birth_date, h.address FROM residents r JOIN households h ON h.id = r.household_id
                WHERE \(match)
                  AND \(scope) ORDER BY r.name, r.id LIMIT \(unsafeRaw: String(Self.pickLimit))
                """).all()
            return try rows.map { r in
                PickItem(id: try r.decode(column: "id", as: Int64.self), label: try r.decode(column: "name", as: String.self),
                         hint: "\(try r.decode(column: "address", as: String.self)) · \(String(try r.decode(column: "birth_date", as: String.self).prefix(4)))年生")
            }
        }
    }

    /// Owners already recorded in a household's community, by the start of the name: for a part
    /// whose owner holds others (one buyer of several parts counts as one head), picked rather
    /// than typed as a number. Only for those who may record this household's part.
    public func pickOwners(_ raw: String, household: Int64?, actor: Actor) async throws -> [PickItem] {
        let q = raw.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.count <= 40, let household else { return [] }
        return try await store.read { db in
            guard let h = try await fetchHousehold(db, id: household) else { throw LinliError.notFound }
            try actor.require(.householdEdit, on: h.scope)
            return try await ownersNamed(db, community: h.communityID, prefix: q, limit: Self.pickLimit).map { o in
                PickItem(id: o.id, label: o.name, hint: "\(I18n.label("ownerkind_" + o.kind, .zh)) · 名下 \(o.parts) 套")
            }
        }
    }

    /// Places the actor may see, by any part of the name, the nearest first.
    public func pickPlaces(_ raw: String, actor: Actor) async throws -> [PickItem] {
        let q = raw.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty, q.count <= 40 else { return [] }
        let areas = actor.grants(for: .placeView).map(\.placePath)
        guard !areas.isEmpty else { return [] }
        let within = BoundSQL.joined(areas.map { store.dialect.startsWith("path", $0) }, separator: " OR ")
        // Names from their start first, through the (kind, name) index; anywhere in the name (a
        // scan of the area's places) only when nothing starts so.
        let kinds = PlaceKind.allCases.filter { $0 != .unit }.map(\.rawValue)
        return try await store.read { db in
            var rows = try await db.query("""
                SELECT id, kind, name, path FROM places WHERE kind IN (\(list: kinds)) AND \(store.dialect.startsWith("name", q)) AND (\(within))
                ORDER BY length(path), name LIMIT \(unsafeRaw: String(Self.pickLimit))
                """).all()
            if rows.isEmpty {
                rows = try await db.query("""
                    SELECT id, kind, name, path FROM places WHERE (\(within)) AND \(store.dialect.contains("name", q))
                      AND kind NOT IN ('unit') ORDER BY length(path), name LIMIT \(unsafeRaw: String(Self.pickLimit))
                    """).all()
            }
            var names: [Int64: String] = [:]
            let parents = Set(try rows.flatMap { PlacePath.ids(try $0.decode(column: "path", as: String.self)).dropLast().suffix(2) })
            if !parents.isEmpty {
                for p in try await db.query("SELECT id, name FROM places WHERE id IN (\(list: Array(parents)))").all() {
                    names[try p.decode(column: "id", as: Int64.self)] = try p.decode(column: "name", as: String.self)
                }
            }
            return try rows.map { r in
                let chain = PlacePath.ids(try r.decode(column: "path", as: String.self)).dropLast().suffix(2).compactMap { names[$0] }
                return PickItem(id: try r.decode(column: "id", as: Int64.self), label: try r.decode(column: "name", as: String.self),
                                hint: I18n.label(try r.decode(column: "kind", as: String.self), .zh) + (chain.isEmpty ? "" : " · " + chain.joined(separator: " ")))
            }
        }
    }
}
