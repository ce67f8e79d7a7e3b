import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Asks whether a part is held by an open owners' vote, and names the vote. The deliberation
/// capability answers it (its polls freeze their electorate); the registry only asks, so that
/// neither names the other's tables.
public typealias PartLock = @Sendable (any SQLDatabase, Int64) async throws -> String?

public struct OwnerView: Sendable, Codable {
    public var id: Int64
    public var name: String
    public var kind: String
    public var share: String
    public var shareBP: Int
    public var residentID: Int64?
    /// How many parts this owner holds in the community (one buyer of three parts counts once).
    public var parts: Int
    enum CodingKeys: String, CodingKey { case id, name, kind = "owner_kind", share = "share_percent", shareBP = "share_bp", residentID = "resident_id", parts }
}

public struct OwnershipChange: Sendable, Codable {
    public var before: String
    public var after: String
    public var reason: String
    public var at: String
    enum CodingKeys: String, CodingKey { case before, after, reason, at }
}

public struct DwellingDetail: Sendable, Codable {
    public var id: Int64
    public var householdID: Int64
    public var partNo: String?
    public var areaM2: String
    public var use: String
    public var titleNo: String?
    public var unsold: Bool
    public var owners: [OwnerView]
    public var history: [OwnershipChange]
    enum CodingKeys: String, CodingKey {
        case id, householdID = "household_id", partNo = "part_no", areaM2 = "area_m2", use = "part_use", titleNo = "title_no", unsold, owners, history
    }
}

extension RegistryService {
    /// The part of a household with its owners and the history of its sales; nil when no part is recorded.
    public func dwelling(household id: Int64, actor: Actor) async throws -> DwellingDetail? {
        try await store.read { db in
            guard let h = try await fetchHousehold(db, id: id) else { throw LinliError.notFound }
            try actor.require(.householdView, on: h.scope)
            return try await dwellingDetail(db, household: h)
        }
    }

    func dwellingDetail(_ db: any SQLDatabase, household h: HouseholdRow) async throws -> DwellingDetail? {
        guard let d = try await db.query("""
            SELECT id, area_centi_m2, part_no, part_use, title_no, owner_id FROM dwellings WHERE household_id = \(h.id)
            """).first() else { return nil }
        let did = try d.decode(column: "id", as: Int64.self)
        let owners = try await ownersOf(db, dwelling: did, representative: try d.decode(column: "owner_id", as: Int64?.self))
        let history = try await db.query("""
            SELECT before_text, after_text, reason, changed_at FROM ownership_changes WHERE dwelling_id = \(did) ORDER BY id DESC LIMIT 20
            """).all().map { r in
            OwnershipChange(before: try r.decode(column: "before_text", as: String.self), after: try r.decode(column: "after_text", as: String.self),
                            reason: try r.decode(column: "reason", as: String.self),
                            at: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "changed_at", as: Int64.self))))
        }
        return DwellingDetail(id: did, householdID: h.id, partNo: try d.decode(column: "part_no", as: String?.self),
                              areaM2: Self.formatArea(centi: try d.decode(column: "area_centi_m2", as: Int64.self)),
                              use: try d.decode(column: "part_use", as: String.self), titleNo: try d.decode(column: "title_no", as: String?.self),
                              unsold: owners.contains { $0.kind == OwnerKind.developer.rawValue }, owners: owners, history: history)
    }

    /// The owners of a part with their shares: its co-owner rows, or its one owner wholly.
    func ownersOf(_ db: any SQLDatabase, dwelling: Int64, representative: Int64?) async throws -> [OwnerView] {
        let rows = try await db.query("""
            SELECT \(unsafeRaw: Self.ownerColumns), x.share_bp
            FROM dwelling_owners x JOIN owners o ON o.id = x.owner_id WHERE x.dwelling_id = \(dwelling) ORDER BY x.share_bp DESC, o.id
            """).all()
        if !rows.isEmpty { return try rows.map { try Self.ownerView($0, share: try $0.decode(column: "share_bp", as: Int.self)) } }
        guard let representative else { return [] }
        return try await db.query("SELECT \(unsafeRaw: Self.ownerColumns) FROM owners o WHERE o.id = \(representative)")
            .all().map { try Self.ownerView($0, share: 10000) }
    }

    /// An owner (alias `o`): who they are, the resident they are if any, and how many parts they
    /// hold, as a part's owner or as one of its co-owners.
    static let ownerColumns = """
        o.id, o.name, o.kind, (SELECT MIN(r.id) FROM residents r WHERE r.owner_id = o.id) AS resident_id,
        (SELECT COUNT(*) FROM dwellings d2 WHERE d2.owner_id = o.id)
          + (SELECT COUNT(*) FROM dwelling_owners x2 JOIN dwellings d3 ON d3.id = x2.dwelling_id
             WHERE x2.owner_id = o.id AND (d3.owner_id IS NULL OR d3.owner_id <> o.id)) AS parts
        """

    static func ownerView(_ r: any SQLRow, share: Int) throws -> OwnerView {
        OwnerView(id: try r.decode(column: "id", as: Int64.self), name: try r.decode(column: "name", as: String.self),
                  kind: try r.decode(column: "kind", as: String.self), share: DwellingRules.shareText(share), shareBP: share,
                  residentID: try r.decode(column: "resident_id", as: Int64?.self), parts: max(1, try r.decode(column: "parts", as: Int.self)))
    }

    /// Records a household's exclusive part and, when `owners` is given, who owns it. A change of
    /// owners is a sale (or an inheritance): it is kept in the history with its reason, and is
    /// refused while an open owners' vote counts this part (its electorate is frozen).
    public func setDwelling(household id: Int64, _ input: DwellingInput, actor: Actor) async throws -> DwellingDetail {
        let v = try DwellingRules.validate(input)
        return try await store.transaction { db in
            guard let h = try await fetchHousehold(db, id: id) else { throw LinliError.notFound }
            try actor.require(.householdEdit, on: h.scope)
            try await writeDwelling(db, household: h, v, actor: actor)
            return try await dwellingDetail(db, household: h)!
        }
    }

    /// Writes a validated part for a household, inside the caller's transaction (the new-household
    /// form and the import record the part with the household).
    func writeDwelling(_ db: any SQLDatabase, household h: HouseholdRow, _ v: ValidatedDwelling, actor: Actor?) async throws {
        // A part number names one part of its building (or villager group).
        let chain = try await ancestors(db, path: h.path)
        let building = chain.last { $0.kind == .building || $0.kind == .villagerGroup || $0.kind == .naturalVillage || $0.kind == .compound }
        let within = building?.path ?? h.path
        if try await db.raw("""
            SELECT d.id FROM dwellings d JOIN households x ON x.id = d.household_id
            WHERE d.part_no = \(bind: v.partNo) AND d.household_id <> \(bind: h.id) AND \(store.dialect.startsWith("x.path", within))
            """).first() != nil {
            throw LinliError.conflict("part_no", "duplicate_part_no", "\(building?.name ?? "本楼栋")已有编号为“\(v.partNo)”的专有部分")
        }
        let existing = try await db.raw("SELECT id, owner_id FROM dwellings WHERE household_id = \(bind: h.id)").first()
        var did: Int64
        if let existing {
            did = try existing.decode(column: "id", as: Int64.self)
            try await db.raw("""
                UPDATE dwellings SET part_no = \(bind: v.partNo), area_centi_m2 = \(bind: v.areaCenti), part_use = \(bind: v.use.rawValue),
                title_no = \(bind: v.titleNo) WHERE id = \(bind: did)
                """).run()
        } else {
            did = try await db.raw("""
                INSERT INTO dwellings (household_id, area_centi_m2, part_no, part_use, title_no) VALUES (\(bind: h.id), \(bind: v.areaCenti), \(bind: v.partNo), \(bind: v.use.rawValue), \(bind: v.titleNo))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
        }
        if let wanted = v.owners {
            // A part just made has no owners yet (the import writes thousands of them).
            let before = existing == nil ? [] : try await ownersOf(db, dwelling: did, representative: try existing?.decode(column: "owner_id", as: Int64?.self))
            var resolved: [(id: Int64, name: String, shareBP: Int)] = []
            for (i, o) in wanted.enumerated() {
                let (oid, name) = try await resolveOwner(db, o.who, community: h.communityID, field: "owners[\(i)]")
                resolved.append((oid, name, o.shareBP))
            }
            let same = before.count == resolved.count && zip(before.sorted { $0.id < $1.id }, resolved.sorted { $0.id < $1.id })
                .allSatisfy { $0.id == $1.id && $0.shareBP == $1.shareBP }
            if !same {
                if let lock = partLock, let poll = try await lock(db, did) {
                    throw LinliError.conflict("owners", "part_in_open_poll", "该专有部分正在参加表决“\(poll)”，表决结束后再办理产权变更")
                }
                if !before.isEmpty && v.reason.count < 2 {
                    throw LinliError.invalid("reason", "reason_required", "变更产权人须填写原因（如买卖、继承，2–200 字）")
                }
                try await db.raw("DELETE FROM dwelling_owners WHERE dwelling_id = \(bind: did)").run()
                if resolved.count > 1 {
                    for o in resolved {
                        try await db.raw("INSERT INTO dwelling_owners (dwelling_id, owner_id, share_bp) VALUES (\(bind: did), \(bind: o.id), \(bind: o.shareBP))").run()
                    }
                }
                // The largest share (then the first listed) stands for the part when heads are counted.
                let representative = resolved.max { $0.shareBP < $1.shareBP || ($0.shareBP == $1.shareBP && $0.id > $1.id) }!.id
                try await db.raw("UPDATE dwellings SET owner_id = \(bind: representative) WHERE id = \(bind: did)").run()
                let beforeText = DwellingRules.ownersText(before.map { ($0.name, $0.shareBP) })
                let afterText = DwellingRules.ownersText(resolved.map { ($0.name, $0.shareBP) })
                try await db.raw("""
                    INSERT INTO ownership_changes (dwelling_id, before_text, after_text, reason, changed_by, changed_at)
                    VALUES (\(bind: did), \(bind: beforeText.isEmpty ? "—" : beforeText), \(bind: afterText), \(bind: v.reason.isEmpty ? "首次登记" : v.reason), \(bind: actor?.userID), \(bind: env.nowSeconds))
                    """).run()
            }
        }
        try await audit.append(db, actor: actor, action: "dwelling.set", objectType: "household", objectID: h.id, path: h.path, detail: v.partNo)
    }

    /// The owner record an input names, inside the household's community: an existing owner,
    /// the owner record of a resident (made on first use, so one person owning three parts is
    /// one owner), or a new owner by name.
    func resolveOwner(_ db: any SQLDatabase, _ who: ValidatedOwner.Who, community: Int64, field: String) async throws -> (Int64, String) {
        switch who {
        case .existing(let oid):
            guard let o = try await db.raw("SELECT name FROM owners WHERE id = \(bind: oid) AND community_id = \(bind: community)").first() else {
                throw LinliError.invalid(field + ".owner_id", "not_found", "本社区没有这位产权人")
            }
            return (oid, try o.decode(column: "name", as: String.self))
        case .resident(let rid):
            guard let r = try await db.raw("""
                SELECT r.name, r.owner_id FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(bind: rid) AND h.community_id = \(bind: community)
                """).first() else {
                throw LinliError.invalid(field + ".resident_id", "not_found", "本社区没有这位居民")
            }
            let name = try r.decode(column: "name", as: String.self)
            if let oid = try r.decode(column: "owner_id", as: Int64?.self) { return (oid, name) }
            let oid = try await db.raw("INSERT INTO owners (community_id, kind, name) VALUES (\(bind: community), 'person', \(bind: name)) RETURNING id")
                .first()!.decode(column: "id", as: Int64.self)
            try await db.raw("UPDATE residents SET owner_id = \(bind: oid) WHERE id = \(bind: rid)").run()
            return (oid, name)
        case .named(let name, let kind):
            // The developer is one owner per community, however many unsold parts it keeps.
            if kind == .developer, let o = try await db.raw("SELECT id FROM owners WHERE community_id = \(bind: community) AND kind = 'developer' AND name = \(bind: name)").first() {
                return (try o.decode(column: "id", as: Int64.self), name)
            }
            let oid = try await db.raw("INSERT INTO owners (community_id, kind, name) VALUES (\(bind: community), \(bind: kind.rawValue), \(bind: name)) RETURNING id")
                .first()!.decode(column: "id", as: Int64.self)
            return (oid, name)
        }
    }

    /// Owners of the community of a place whose name starts with `prefix`, for the "same buyer as
    /// another part" picker.
    public func owners(community: Int64, prefix: String, actor: Actor) async throws -> [OwnerView] {
        let q = prefix.trimmingCharacters(in: .whitespacesAndNewlines)
        guard q.count <= 40 else { throw LinliError.invalid("q", "too_long", "搜索词不能超过 40 个字") }
        return try await store.read { db in
            // Any place of the community will do (a compound's page asks for its community's owners).
            guard let p = try await fetchPlace(db, community), actor.may(.placeView, on: p.scope),
                  let cid = try await communityOf(db, path: p.path) else { throw LinliError.notFound }
            // Whoever records parts here (a grid worker for the households of their grid too).
            try actor.require(.householdEdit)
            return try await ownersNamed(db, community: cid, prefix: q, limit: 20)
        }
    }

    /// A community's recorded owners whose name starts with `prefix` (the page's list and the picker).
    func ownersNamed(_ db: any SQLDatabase, community: Int64, prefix: String, limit: Int) async throws -> [OwnerView] {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.ownerColumns)
            FROM owners o WHERE o.community_id = \(bind: community) AND o.name <> '' AND \(store.dialect.startsWith("o.name", prefix))
            ORDER BY o.name, o.id LIMIT \(unsafeRaw: String(limit))
            """).all().map { try Self.ownerView($0, share: 10000) }
    }

    /// The parts whose owners include any of these residents (through their owner records):
    /// what an account linked to a resident may vote for online.
    public static func partsOwned(_ db: any SQLDatabase, residents: [Int64]) async throws -> [Int64] {
        guard !residents.isEmpty else { return [] }
        let owners: BoundSQL = "SELECT r.owner_id FROM residents r WHERE r.owner_id IS NOT NULL AND r.id IN (\(list: residents))"
        return try await db.query("""
            SELECT d.id FROM dwellings d WHERE d.owner_id IN (\(owners))
            UNION SELECT x.dwelling_id FROM dwelling_owners x WHERE x.owner_id IN (\(owners))
            """).all().map { try $0.decode(column: "id", as: Int64.self) }
    }
}

/// An owner as another capability may know them (the deliberation's proxies): who, what kind,
/// and the path of their community.
public struct OwnerFacts: Sendable {
    public var id: Int64
    public var name: String
    public var kind: String
    public var communityPath: String
    public var communityID: Int64
    /// The first dwelling the owner holds (a household's id), for a link back to it.
    public var firstHouseholdID: Int64?
}

extension RegistryService {
    public static func ownerFacts(_ db: any SQLDatabase, _ id: Int64) async throws -> OwnerFacts? {
        guard let r = try await db.query("SELECT o.id, o.name, o.kind, o.community_id, p.path FROM owners o JOIN places p ON p.id = o.community_id WHERE o.id = \(id)").first() else { return nil }
        let held = try await db.query("""
            SELECT MIN(h) AS h FROM (
              SELECT d.household_id AS h FROM dwellings d WHERE d.owner_id = \(id)
              UNION ALL SELECT d.household_id AS h FROM dwelling_owners o JOIN dwellings d ON d.id = o.dwelling_id WHERE o.owner_id = \(id)
            ) held
            """).first()?.decode(column: "h", as: Int64?.self)
        return OwnerFacts(id: id, name: try r.decode(column: "name", as: String.self), kind: try r.decode(column: "kind", as: String.self),
                          communityPath: try r.decode(column: "path", as: String.self), communityID: try r.decode(column: "community_id", as: Int64.self),
                          firstHouseholdID: held)
    }

    /// A resident's name and where they live, to name them as someone's proxy.
    public static func residentFacts(_ db: any SQLDatabase, _ id: Int64) async throws -> (name: String, householdID: Int64, path: String, ownerID: Int64?)? {
        guard let r = try await db.query("""
            SELECT r.name, r.household_id, r.owner_id, h.path FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(id)
            """).first() else { return nil }
        return (try r.decode(column: "name", as: String.self), try r.decode(column: "household_id", as: Int64.self),
                try r.decode(column: "path", as: String.self), try r.decode(column: "owner_id", as: Int64?.self))
    }

    /// The parts these owners hold (as the part's owner or a co-owner), each with its owner.
    public static func partsHeld(_ db: any SQLDatabase, owners: [Int64]) async throws -> [(part: Int64, owner: Int64)] {
        guard !owners.isEmpty else { return [] }
        return try await db.query("""
            SELECT d.id AS part, d.owner_id AS owner FROM dwellings d WHERE d.owner_id IN (\(list: owners))
            UNION SELECT x.dwelling_id AS part, x.owner_id AS owner FROM dwelling_owners x WHERE x.owner_id IN (\(list: owners))
            """).all().map { (try $0.decode(column: "part", as: Int64.self), try $0.decode(column: "owner", as: Int64.self)) }
    }
}

// MARK: Binding an account to a household

/// What the registry knows of a household a new account asks to join: who of its residents has
/// an ID number ending in the digits typed, and whether that person's phone is the account's.
/// A resident whose person a member of staff has confirmed, to act for them (代办).
public struct ActingTarget: Sendable {
    public var residentID: Int64
    public var householdID: Int64
    public var path: String
    public var name: String
    public var address: String
    /// How the person was confirmed: "household_code" or "id_last4".
    public var method: String
}

public struct RelativeCandidate: Sendable {
    public var residentID: Int64
    public var householdID: Int64
    public var path: String
    /// "王**": what the relative's list shows.
    public var maskedName: String
}

public struct BindCandidate: Sendable {
    public var householdID: Int64
    public var path: String
    /// The resident whose document number ends in the digits typed (nil: nobody does).
    public var residentID: Int64?
    /// The registry holds that resident's phone and it is the account's.
    public var phoneAgrees: Bool
}

extension RegistryService {
    /// The printed household code, typed: the first eight characters are enough (40 bits, with
    /// the last four digits and a throttle behind them), in any case, with spaces or dashes.
    /// A household code as typed or scanned (the card's whole address `…/h/CODE` too), in the
    /// form it is stored: lower case, letters and digits only.
    static func normaliseHouseholdCode(_ raw: String) -> String {
        String(ScannedCode.code(raw).lowercased().filter { $0.isLetter || $0.isNumber }.prefix(64))
    }

    /// The households a normalised code names: by its first eight characters (as printed under
    /// the QR) or by the whole code. Eight characters shared by two households would be a
    /// 1-in-a-trillion accident: callers take only a single match.
    func households(_ db: any SQLDatabase, code: String) async throws -> [(id: Int64, path: String)] {
        guard code.count >= 8 else { return [] }
        let rows = code.count == 8
            ? try await db.query("SELECT id, path FROM households WHERE \(store.dialect.startsWith("code", code)) LIMIT 2").all()
            : try await db.query("SELECT id, path FROM households WHERE code = \(code)").all()
        return try rows.map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "path", as: String.self)) }
    }

    /// The card's short code, as printed: "ABCD-EFGH".
    public static func shortCode(_ code: String) -> String {
        let s = code.prefix(8).uppercased()
        return s.count == 8 ? s.prefix(4) + "-" + s.suffix(4) : s
    }

    /// The household a code names and its resident whose ID number ends in `last4`. Nil when no
    /// household has that code. `phoneIndex` is the account's phone, indexed as the registry
    /// indexes residents' phones.
    public func bindCandidate(code raw: String, last4 rawLast4: String, phoneIndex: String?) async throws -> BindCandidate? {
        let code = Self.normaliseHouseholdCode(raw)
        guard code.count >= 8 else { return nil }
        let last4 = rawLast4.uppercased().filter { !$0.isWhitespace }
        return try await store.read { db in
            let found = try await households(db, code: code)
            guard found.count == 1, let h = found.first else { return nil }
            let hid = h.id
            var c = BindCandidate(householdID: hid, path: h.path, residentID: nil, phoneAgrees: false)
            guard last4.count == 4 else { return c }
            if let r = try await db.raw("""
                SELECT id, phone_index FROM residents WHERE household_id = \(bind: hid) AND id_last4 = \(bind: last4) ORDER BY id
                """).first() {
                c.residentID = try r.decode(column: "id", as: Int64.self)
                let phone = try r.decode(column: "phone_index", as: String?.self)
                c.phoneAgrees = phone != nil && phone == phoneIndex
            }
            return c
        }
    }

    /// The person a relative names to look after (亲属绑定): by the household card's code and
    /// the last four of the person's ID number. Nil when the code names no single household or
    /// nobody there has those digits: the caller says the same either way.
    public func relativeCandidate(code raw: String, last4 rawLast4: String) async throws -> RelativeCandidate? {
        let code = Self.normaliseHouseholdCode(raw)
        let last4 = rawLast4.uppercased().filter { !$0.isWhitespace }
        guard code.count >= 8, last4.count == 4 else { return nil }
        return try await store.read { db in
            let found = try await households(db, code: code)
            guard found.count == 1, let h = found.first,
                  let r = try await db.raw("SELECT id, name FROM residents WHERE household_id = \(bind: h.id) AND id_last4 = \(bind: last4) ORDER BY id").first()
            else { return nil }
            let name = try r.decode(column: "name", as: String.self)
            return RelativeCandidate(residentID: try r.decode(column: "id", as: Int64.self), householdID: h.id, path: h.path,
                                     maskedName: String(name.prefix(1)) + "**")
        }
    }

    /// A relative starting to act for the person they were confirmed to look after: the person
    /// is checked again by the last four digits (the link itself is the relative's right, kept by
    /// the accounts; the registry only confirms who is in front of them).
    public func relativeActingTarget(_ residentID: Int64, last4 rawLast4: String?) async throws -> ActingTarget {
        let last4 = (rawLast4 ?? "").uppercased().filter { !$0.isWhitespace }
        return try await store.read { db in
            guard let r = try await db.raw("""
                SELECT r.id, r.household_id, r.name, r.id_last4, h.path, h.address FROM residents r JOIN households h ON h.id = r.household_id
                WHERE r.id = \(bind: residentID)
                """).first() else { throw LinliError.notFound }
            guard !last4.isEmpty else { throw LinliError.invalid("id_last4", "required", "请输入家人证件号码后四位") }
            guard last4 == (try r.decode(column: "id_last4", as: String.self)).uppercased() else {
                throw LinliError.invalid("id_last4", "mismatch", "证件号后四位与登记信息不符")
            }
            return ActingTarget(residentID: residentID, householdID: try r.decode(column: "household_id", as: Int64.self),
                                path: try r.decode(column: "path", as: String.self), name: try r.decode(column: "name", as: String.self),
                                address: try r.decode(column: "address", as: String.self), method: "relative")
        }
    }

    /// Whether a resident lives in a household (staff confirming a binding name the person).
    public func residentLives(_ residentID: Int64, in householdID: Int64) async throws -> Bool {
        try await store.read { db in
            try await db.raw("SELECT id FROM residents WHERE id = \(bind: residentID) AND household_id = \(bind: householdID)").first() != nil
        }
    }
}

extension RegistryService {
    /// The path of a community (or village), for a sign-up that came from its page or poster.
    public func communityPath(_ id: Int64) async throws -> String {
        try await store.read { db in
            guard let p = try await fetchPlace(db, id), p.kind.isCommunity else {
                throw LinliError.invalid("community", "not_a_community", "没有这个社区")
            }
            return p.path
        }
    }
}
