import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A community's public face: the communities a visitor can find by name, and how to reach the
/// office and each grid's worker. The numbers are the ones posted on the door and in stairwells
/// (网格员公示牌), typed in by staff for the public; nothing here is read from a person's account.
public struct OfficeContact: Sendable, Codable, Equatable {
    public var address: String
    public var phone: String
    /// The phone as a `tel:` link takes it (nil when none is posted).
    public var dial: String?
    public var hours: String
}

public struct GridContact: Sendable, Codable, Equatable {
    public var gridID: Int64
    public var gridName: String
    public var workerName: String
    public var phone: String
    public var dial: String?

    enum CodingKeys: String, CodingKey { case gridID = "grid_id", gridName = "grid_name", workerName = "worker_name", phone, dial }
}

public struct CommunityListing: Sendable, Codable {
    public var id: Int64
    public var name: String
    /// The street or town it belongs to, to tell two 新村社区 apart.
    public var streetName: String

    enum CodingKeys: String, CodingKey { case id, name, streetName = "street_name" }
}

public struct CommunityFront: Sendable, Codable {
    public var id: Int64
    public var name: String
    public var streetName: String
    /// The street above it, whose public lists say what departments may ask of the community.
    public var streetID: Int64?
    public var office: OfficeContact?
    /// The grids whose worker is posted.
    public var grids: [GridContact]
    /// Its compounds (and villager groups), each with its own notices.
    public var compounds: [PlaceSummary]

    enum CodingKeys: String, CodingKey { case id, name, streetName = "street_name", streetID = "street_id", office, grids, compounds }
}

/// Where a signed-in resident lives and whom to call: their household's grid and its posted worker.
public struct HomeFacts: Sendable {
    public var householdID: Int64
    public var address: String
    public var communityID: Int64
    public var communityName: String
    public var grid: GridContact?
}

/// The rules for what may be posted, without I/O (worked examples in the tests).
enum ContactRules {
    static func text(_ raw: String?, _ field: String, max: Int, _ v: inout Validator) -> String {
        let s = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(s.count <= max, field, "too_long", "不能超过 \(max) 个字")
        v.check(!s.contains(where: \.isNewline), field, "one_line", "请写在一行内")
        return s
    }

    static func phone(_ raw: String?, _ field: String, _ v: inout Validator) -> String {
        let s = text(raw, field, max: 30, &v)
        v.check(s.isEmpty || PublicPhone.dialable(s) != nil, field, "invalid_phone", "请填写能拨通的号码，如 0571-88886666、13812345678 或 12345")
        return s
    }
}

extension RegistryService {
    static func officeContact(_ r: any SQLRow) throws -> OfficeContact {
        let phone = try r.decode(column: "phone", as: String.self)
        return OfficeContact(address: try r.decode(column: "address", as: String.self), phone: phone, dial: PublicPhone.dialable(phone),
                             hours: try r.decode(column: "hours", as: String.self))
    }

    static func gridContact(_ r: any SQLRow) throws -> GridContact {
        let phone = try r.decode(column: "phone", as: String.self)
        return GridContact(gridID: try r.decode(column: "id", as: Int64.self), gridName: try r.decode(column: "name", as: String.self),
                           workerName: try r.decode(column: "worker_name", as: String.self), phone: phone, dial: PublicPhone.dialable(phone))
    }

    /// Communities (and villages) whose name holds `query`, for a visitor finding their own; all
    /// of them, by street, when the query is empty (a deployment serves a city's few hundred).
    public func communities(query: String?, limit: Int = 200) async throws -> [CommunityListing] {
        let q = (query ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard q.count <= 40 else { throw LinliError.invalid("q", "too_long", "搜索词不能超过 40 个字") }
        return try await store.read { db in
            // Enum values, not input: written in as they are.
            let kinds = PlaceKind.allCases.filter(\.isCommunity).map { "'\($0.rawValue)'" }.joined(separator: ",")
            let filter: BoundSQL = q.isEmpty ? "1 = 1" : store.dialect.contains("c.name", q)
            let sql: BoundSQL = """
                SELECT c.id, c.name, COALESCE(s.name, '') AS street FROM places c LEFT JOIN places s ON s.id = c.parent_id
                WHERE c.kind IN (\(unsafeRaw: kinds)) AND \(filter) ORDER BY s.name, c.name, c.id LIMIT \(unsafeRaw: String(limit))
                """
            return try await db.query(sql).all().map { r in
                CommunityListing(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                                 streetName: try r.decode(column: "street", as: String.self))
            }
        }
    }

    /// A community's public page: its office and grids as posted. 404 for anything that is not a community.
    public func communityFront(_ id: Int64) async throws -> CommunityFront {
        try await store.read { db in
            guard let c = try await fetchPlace(db, id), c.kind.isCommunity else { throw LinliError.notFound }
            var street = ""
            if let parent = c.parentID { street = try await fetchPlace(db, parent)?.name ?? "" }
            let compounds = try await db.query("SELECT id, parent_id, kind, name, path, community_type FROM places WHERE parent_id = \(id) ORDER BY id")
                .all().map { try Self.placeRow($0).summary }
            return CommunityFront(id: id, name: c.name, streetName: street, streetID: c.parentID, office: try await officeOf(db, id),
                                  grids: try await postedGridContacts(db, "g.community_id = \(id) AND g.parent_id IS NULL"), compounds: compounds)
        }
    }

    func officeOf(_ db: any SQLDatabase, _ placeID: Int64) async throws -> OfficeContact? {
        try await db.query("SELECT address, phone, hours FROM place_contacts WHERE place_id = \(placeID)").first().map(Self.officeContact)
    }

    /// Grids with a worker posted for them (a grid with nothing posted is left out), by `filter` on `g`.
    func postedGridContacts(_ db: any SQLDatabase, _ filter: BoundSQL) async throws -> [GridContact] {
        try await db.query("""
            SELECT g.id, g.name, k.worker_name, k.phone FROM grids g JOIN grid_contacts k ON k.grid_id = g.id WHERE \(filter) ORDER BY g.id
            """).all().map(Self.gridContact)
    }

    /// Posts (or, with every field empty, takes down) the office's address, number and hours.
    public func setOfficeContact(placeID: Int64, address rawAddress: String?, phone rawPhone: String?, hours rawHours: String?, actor: Actor) async throws -> OfficeContact? {
        var v = Validator()
        let address = ContactRules.text(rawAddress, "address", max: 100, &v)
        let phone = ContactRules.phone(rawPhone, "phone", &v)
        let hours = ContactRules.text(rawHours, "hours", max: 60, &v)
        try v.throwIfAny()
        return try await store.transaction { db in
            guard let p = try await fetchPlace(db, placeID), actor.may(.placeView, on: p.scope) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: p.scope)
            try await db.query("DELETE FROM place_contacts WHERE place_id = \(placeID)").run()
            let empty = address.isEmpty && phone.isEmpty && hours.isEmpty
            if !empty {
                try await db.query("INSERT INTO place_contacts (place_id, address, phone, hours) VALUES (\(placeID), \(address), \(phone), \(hours))").run()
            }
            try await audit.append(db, actor: actor, action: "place.contact", objectType: "place", objectID: placeID, path: p.path,
                                   detail: empty ? "removed" : phone)
            return empty ? nil : OfficeContact(address: address, phone: phone, dial: PublicPhone.dialable(phone), hours: hours)
        }
    }

    /// Posts the grid worker's name and work number for a grid (empty takes it down).
    public func setGridContact(gridID: Int64, workerName rawName: String?, phone rawPhone: String?, actor: Actor) async throws -> GridContact {
        var v = Validator()
        let name = ContactRules.text(rawName, "worker_name", max: 20, &v)
        let phone = ContactRules.phone(rawPhone, "phone", &v)
        v.check(!name.isEmpty || phone.isEmpty, "worker_name", "required", "请填写网格员姓名")
        try v.throwIfAny()
        return try await store.transaction { db in
            let (g, c) = try await gridAndCommunity(db, gridID, actor: actor, .placeEdit)
            try await db.query("DELETE FROM grid_contacts WHERE grid_id = \(gridID)").run()
            if !name.isEmpty {
                try await db.query("INSERT INTO grid_contacts (grid_id, worker_name, phone) VALUES (\(gridID), \(name), \(phone))").run()
            }
            try await audit.append(db, actor: actor, action: "grid.contact", objectType: "grid", objectID: gridID, path: c.path,
                                   detail: name.isEmpty ? "removed" : name)
            return GridContact(gridID: gridID, gridName: g.name, workerName: name, phone: phone, dial: PublicPhone.dialable(phone))
        }
    }

    /// The posted contacts a grid page shows to staff.
    public func gridContact(gridID: Int64, actor: Actor) async throws -> GridContact? {
        try await store.read { db in
            _ = try await gridAndCommunity(db, gridID, actor: actor, .placeView)
            return try await postedGridContacts(db, "g.id = \(gridID)").first
        }
    }

    /// The office contact a place page shows to staff.
    public func officeContact(placeID: Int64, actor: Actor) async throws -> OfficeContact? {
        try await store.read { db in
            guard let p = try await fetchPlace(db, placeID), actor.may(.placeView, on: p.scope) else { throw LinliError.notFound }
            return try await officeOf(db, placeID)
        }
    }

    /// A resident's own household, community and grid contact (nil for an account that is no
    /// resident of any household).
    public func homeFacts(actor: Actor) async throws -> HomeFacts? {
        guard let hh = actor.grants.first(where: { $0.role == .resident && $0.householdID != nil })?.householdID else { return nil }
        return try await store.read { db in
            guard let h = try await db.query("""
                SELECT h.id, h.address, h.community_id, h.grid_id, c.name FROM households h JOIN places c ON c.id = h.community_id WHERE h.id = \(hh)
                """).first() else { return nil }
            let grid = try h.decode(column: "grid_id", as: Int64.self), community = try h.decode(column: "community_id", as: Int64.self)
            let contact = try await postedGridContacts(db, "g.id = \(grid)").first
            return HomeFacts(householdID: hh, address: try h.decode(column: "address", as: String.self), communityID: community,
                             communityName: try h.decode(column: "name", as: String.self), grid: contact)
        }
    }
}
