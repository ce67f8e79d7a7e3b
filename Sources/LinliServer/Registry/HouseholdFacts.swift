import SQLKit
import LinliCore
import LinliStore

/// What another capability may know of a household to plan its work around it (grid work's
/// visit plans): where it is, whose grid it is in, and its situations — the union of its
/// residents' tags, never which resident carries which.
public struct HouseholdFacts: Sendable, Equatable {
    package init(id: Int64, communityID: Int64, gridID: Int64, microGridID: Int64, path: String, address: String, situations: Set<String>) {
        self.id = id; self.communityID = communityID; self.gridID = gridID; self.microGridID = microGridID
        self.path = path; self.address = address; self.situations = situations
    }
    public var id: Int64
    public var communityID: Int64
    public var gridID: Int64
    public var microGridID: Int64
    public var path: String
    public var address: String
    public var situations: Set<String>

    package var scope: ObjectScope { ObjectScope(path: path, gridIDs: [gridID, microGridID], householdID: id) }
}

extension RegistryService {
    static let factColumns = """
        SELECT h.id, h.community_id, h.grid_id, h.micro_grid_id, h.path, h.address, r.id AS resident_id, r.tags
        FROM households h LEFT JOIN residents r ON r.household_id = h.id
        """

    /// Sensitive tags kept for purposes other than care visits (SensitiveData.swift): no visit
    /// plan is made from them. As "resident|tag"; few, since care is the usual purpose.
    static func notForCare(_ db: any SQLDatabase, _ condition: BoundSQL) async throws -> Set<String> {
        Set(try await db.query("""
            SELECT f.resident_id, f.tag FROM sensitive_facts f JOIN residents r ON r.id = f.resident_id JOIN households h ON h.id = r.household_id
            WHERE \(condition) AND (',' || f.purposes || ',') NOT LIKE \("%," + SensitivePurpose.careVisits.rawValue + ",%")
            """).all().map { "\(try $0.decode(column: "resident_id", as: Int64.self))|\(try $0.decode(column: "tag", as: String.self))" })
    }

    /// The facts of the households named (any number; read 500 at a time). `careOnly` (the
    /// default, grid work's view): leaving out tags kept for other purposes than care. Services
    /// that serve assistance (meals, activities, the service centre) ask with `careOnly: false`.
    package func householdFacts(_ db: any SQLDatabase, ids: [Int64], careOnly: Bool = true) async throws -> [HouseholdFacts] {
        var out: [HouseholdFacts] = []
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            out += try Self.folded(try await db.query("\(unsafeRaw: Self.factColumns) WHERE h.id IN (\(list: chunk)) ORDER BY h.id").all(),
                                   except: careOnly ? try await Self.notForCare(db, "h.id IN (\(list: chunk))") : [])
        }
        return out
    }

    /// The facts of every household of a community.
    func householdFacts(_ db: any SQLDatabase, community: Int64, careOnly: Bool = true) async throws -> [HouseholdFacts] {
        try Self.folded(try await db.query("\(unsafeRaw: Self.factColumns) WHERE h.community_id = \(community) ORDER BY h.id").all(),
                        except: careOnly ? try await Self.notForCare(db, "h.community_id = \(community)") : [])
    }

    /// A household by its printed code: the whole code, the card's address (`…/h/CODE`), or its
    /// first eight characters as printed under the QR ("ABCD-EFGH"). Nil when none matches.
    package func householdFacts(_ db: any SQLDatabase, code raw: String, careOnly: Bool = true) async throws -> HouseholdFacts? {
        let found = try await households(db, code: Self.normaliseHouseholdCode(raw))
        guard found.count == 1 else { return nil }
        return try await householdFacts(db, ids: [found[0].id], careOnly: careOnly).first
    }

    /// Rows of `factColumns`, one per resident, folded into one per household (in id order).
    /// `except`: "resident|tag" pairs left out (see `notForCare`).
    static func folded(_ rows: [any SQLRow], except: Set<String> = []) throws -> [HouseholdFacts] {
        var out: [HouseholdFacts] = []
        for r in rows {
            let id = try r.decode(column: "id", as: Int64.self)
            if out.last?.id != id {
                out.append(HouseholdFacts(id: id, communityID: try r.decode(column: "community_id", as: Int64.self),
                                          gridID: try r.decode(column: "grid_id", as: Int64.self),
                                          microGridID: try r.decode(column: "micro_grid_id", as: Int64.self),
                                          path: try r.decode(column: "path", as: String.self),
                                          address: try r.decode(column: "address", as: String.self), situations: []))
            }
            if let tags = try r.decode(column: "tags", as: String?.self), !tags.isEmpty {
                let resident = try r.decode(column: "resident_id", as: Int64.self)
                for t in tags.split(separator: ",") where except.isEmpty || !except.contains("\(resident)|\(t)") {
                    out[out.count - 1].situations.insert(String(t))
                }
            }
        }
        return out
    }
}

extension RegistryService {
    /// Communities (and villages) inside the actor's grants for `action`, for a page's choice.
    func communityChoices(actor: Actor, _ action: Action) async throws -> [(id: Int64, name: String)] {
        try await grantedPlaces(actor: actor, action, kinds: PlaceKind.allCases.filter(\.isCommunity)).map { ($0.id, $0.name) }
    }
}

/// Who an announcement goes to, inside one community: all of it, some places (compounds,
/// buildings, units), some grids, or the households where someone has a tag.
public enum AudienceKind: String, CaseIterable, Codable, Sendable {
    case community, places, grids, tag
}

/// A household an announcement reaches, with its grids (for the grid worker's unread list).
struct AudienceHousehold: Sendable { var id: Int64, gridID: Int64, microGridID: Int64 }

extension RegistryService {
    /// Tags an audience may name: a resident's situation, or party membership.
    static let audienceTags: [String] = ResidentTag.allCases.map(\.rawValue) + ["party_member"]

    /// The households of an audience. Places and grids outside the community are refused, naming
    /// the field; so is a tag Linli does not know.
    func audienceHouseholds(_ db: any SQLDatabase, community: PlaceRow, kind: AudienceKind, ids: [Int64], tag: String?) async throws -> [AudienceHousehold] {
        let base = "SELECT h.id, h.grid_id, h.micro_grid_id FROM households h"
        var rows: [any SQLRow] = []
        switch kind {
        case .community:
            rows = try await db.query("\(unsafeRaw: base) WHERE h.community_id = \(community.id) ORDER BY h.id").all()
        case .places:
            guard !ids.isEmpty else { throw LinliError.invalid("place_ids", "required", "请选择小区、楼栋或单元") }
            for id in Set(ids) {
                guard let p = try await fetchPlace(db, id), p.path.hasPrefix(community.path) else {
                    throw LinliError.invalid("place_ids", "not_in_community", "地点 \(id) 不在本社区")
                }
                rows += try await db.query("\(unsafeRaw: base) WHERE \(store.dialect.startsWith("h.path", p.path))").all()
            }
        case .grids:
            guard !ids.isEmpty else { throw LinliError.invalid("grid_ids", "required", "请选择网格") }
            let known = Set(try await gridsOf(db, community: community.id).map(\.id))
            for id in ids where !known.contains(id) { throw LinliError.invalid("grid_ids", "not_in_community", "网格 \(id) 不在本社区") }
            rows = try await db.query("\(unsafeRaw: base) WHERE h.grid_id IN (\(list: ids)) OR h.micro_grid_id IN (\(list: ids))").all()
        case .tag:
            guard let tag, Self.audienceTags.contains(tag) else { throw LinliError.invalid("tag", "invalid_choice", "请选择居民标签") }
            // Tags are a comma list: match a whole one ("elderly" is not "elderly_alone").
            var has: BoundSQL = tag == "party_member" ? "r.party_member = 1" : "(',' || r.tags || ',') LIKE \("%,\(tag),%")"
            // Grid work reaches a sensitive situation only where it is kept for care visits: the
            // grid worker follows who has read or done it, and would learn it otherwise.
            if SensitiveRules.isSensitive(tag) {
                has = """
                    \(has) AND NOT EXISTS (SELECT 1 FROM sensitive_facts f WHERE f.resident_id = r.id AND f.tag = \(tag)
                    AND (',' || f.purposes || ',') NOT LIKE \("%," + SensitivePurpose.careVisits.rawValue + ",%"))
                    """
            }
            rows = try await db.query("""
                \(unsafeRaw: base) WHERE h.community_id = \(community.id)
                AND EXISTS (SELECT 1 FROM residents r WHERE r.household_id = h.id AND \(has)) ORDER BY h.id
                """).all()
        }
        var seen = Set<Int64>()
        return try rows.compactMap { r in
            let id = try r.decode(column: "id", as: Int64.self)
            guard seen.insert(id).inserted else { return nil }
            return AudienceHousehold(id: id, gridID: try r.decode(column: "grid_id", as: Int64.self), microGridID: try r.decode(column: "micro_grid_id", as: Int64.self))
        }
    }

    /// The phones of the residents of these households who agreed to notices by SMS, by household.
    func smsPhones(_ db: any SQLDatabase, households: [Int64]) async throws -> [Int64: [String]] {
        var out: [Int64: [String]] = [:]
        for start in stride(from: 0, to: households.count, by: 500) {
            let chunk = Array(households[start..<min(start + 500, households.count)])
            for r in try await db.query("""
                SELECT household_id, phone_cipher FROM residents WHERE household_id IN (\(list: chunk)) AND sms_notices = 1 AND phone_cipher IS NOT NULL ORDER BY id
                """).all() {
                out[try r.decode(column: "household_id", as: Int64.self), default: []].append(try cipher.open(try r.decode(column: "phone_cipher", as: String.self)))
            }
        }
        return out
    }

    /// The households of the residents with this phone who agreed to notices by SMS (whose replies count).
    func smsHouseholds(_ db: any SQLDatabase, phone: String) async throws -> [Int64] {
        let normalised = PhoneNumber.normalise(phone)
        guard PhoneNumber.isValid(normalised) else { return [] }
        return try await db.query("SELECT DISTINCT household_id FROM residents WHERE phone_index = \(cipher.index("phone", normalised)) AND sms_notices = 1")
            .all().map { try $0.decode(column: "household_id", as: Int64.self) }
    }
}
