import Foundation
import LinliCore
import LinliStore

/// Levels of the place hierarchy. Siblings of the same rank (street/town, community/village,
/// compound/villager group) are interchangeable parents for the next rank.
public enum PlaceKind: String, Sendable, CaseIterable, Codable {
    case city, district, street, town, community, village, compound
    case villagerGroup = "villager_group"
    /// 自然村: a rural community's hamlet, beside its villager groups.
    case naturalVillage = "natural_village"
    case building, unit

    public var rank: Int {
        switch self {
        case .city: 0
        case .district: 1
        case .street, .town: 2
        case .community, .village: 3
        case .compound, .villagerGroup, .naturalVillage: 4
        case .building: 5
        case .unit: 6
        }
    }
    /// Places that hold households directly.
    public var holdsHouseholds: Bool { self == .unit || self == .villagerGroup || self == .naturalVillage || self == .building }
    public var isCommunity: Bool { rank == 3 }

    public func canBeChild(of parent: PlaceKind?) -> Bool {
        guard let parent else { return self == .city }
        guard rank == parent.rank + 1 else { return false }
        // Villager groups and hamlets are a village's (or a rural community's) own divisions;
        // buildings stand in compounds, not in villager groups.
        if self == .villagerGroup || self == .naturalVillage { return parent == .village || parent == .community }
        if self == .building { return parent == .compound || parent == .villagerGroup || parent == .naturalVillage }
        return true
    }
}

/// Materialised place paths ("/1/5/9/"): the ids from the city down to the place.
public enum PlacePath {
    /// The ids along a path such as `/1/2/3/`, read digit by digit (it runs for every page and
    /// submission that names a place).
    public static func ids(_ path: String) -> [Int64] {
        var ids: [Int64] = []
        ids.reserveCapacity(8)
        var current: Int64 = 0, digits = 0, valid = true
        for b in path.utf8 {
            if b == UInt8(ascii: "/") {
                if digits > 0, valid { ids.append(current) }
                current = 0; digits = 0; valid = true
            } else if b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9"), digits < 18 {
                current = current * 10 + Int64(b - UInt8(ascii: "0")); digits += 1
            } else {
                valid = false
            }
        }
        if digits > 0, valid { ids.append(current) }
        return ids
    }
}

public enum CommunityType: String, Sendable, CaseIterable, Codable {
    case urban, rural, merged
    case relocated
}

public enum Registration: String, Sendable, CaseIterable, Codable {
    case registered, resident, migrant
}

public enum Relation: String, Sendable, CaseIterable, Codable {
    case head, owner, tenant, family
}

public enum ResidentTag: String, Sendable, CaseIterable, Codable {
    case elderlyAlone = "elderly_alone"
    case elderly
    case disabled
    case child
    case lowIncome = "low_income"
    case veteran

    /// Situations whose words and photos are never published without the person's consent.
    public static let vulnerable: Set<String> = [ResidentTag.elderlyAlone, .disabled, .child, .lowIncome].reduce(into: []) { $0.insert($1.rawValue) }
}

public enum OrganisationKind: String, Sendable, CaseIterable, Codable {
    case partyCommittee = "party_committee"   // community party committee
    case partyBranch = "party_branch"         // compound party branch
    case partyGroup = "party_group"           // building party group
    case residentsCommittee = "residents_committee"
    case villagersCommittee = "villagers_committee"
    case ownersCommittee = "owners_committee"
    case propertyCompany = "property_company"
    case socialOrganisation = "social_organisation"
    case communityEnterprise = "community_enterprise"
    case residentUnit = "resident_unit"       // 驻区单位
}

public enum FacilityKind: String, Sendable, CaseIterable, Codable {
    case serviceCentre = "service_centre", clinic, school, kindergarten, elderlyCare = "elderly_care"
    case childCare = "child_care", market, transport, canteen
}

/// Input for creating or editing a resident, validated before anything is written.
public struct ResidentInput: Sendable, Codable {
    public var householdID: Int64?
    public var name: String?
    public var idNumber: String?
    public var phone: String?
    public var registration: String?
    public var relation: String?
    public var tags: [String]?
    public var partyMember: Bool?
    public var inServiceParty: Bool?

    public init(householdID: Int64? = nil, name: String? = nil, idNumber: String? = nil, phone: String? = nil,
                registration: String? = nil, relation: String? = nil, tags: [String]? = nil,
                partyMember: Bool? = nil, inServiceParty: Bool? = nil) {
        self.householdID = householdID; self.name = name; self.idNumber = idNumber; self.phone = phone
        self.registration = registration; self.relation = relation; self.tags = tags
        self.partyMember = partyMember; self.inServiceParty = inServiceParty
    }

    enum CodingKeys: String, CodingKey {
        case householdID = "household_id", name, idNumber = "id_number", phone, registration, relation, tags
        case partyMember = "party_member", inServiceParty = "in_service_party"
    }

    /// Field rules shared by create and edit; `creating` requires the mandatory fields.
    public func validate(creating: Bool) throws -> ValidatedResident {
        var v = Validator()
        let name = self.name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if creating || name != nil {
            v.check(!(name ?? "").isEmpty, "name", "required", "请填写姓名")
            v.check((name ?? "").count <= 40, "name", "too_long", "姓名不能超过 40 个字")
        }
        var idNumber: String?
        if creating || self.idNumber != nil {
            let raw = IDNumber.normalise(self.idNumber ?? "")
            switch IDNumber.validate(raw) {
            case nil: idNumber = raw
            case .format?: v.add(.invalid("id_number", "invalid_format", "身份证号应为 18 位，前 17 位为数字"))
            case .birthDate?: v.add(.invalid("id_number", "invalid_birth_date", "身份证号中的出生日期无效"))
            case .checkDigit?: v.add(.invalid("id_number", "invalid_check_digit", "身份证号校验位不正确"))
            }
        }
        var phone: String??
        if let p = self.phone {
            let n = PhoneNumber.normalise(p)
            if n.isEmpty { phone = .some(nil) }
            else if PhoneNumber.isValid(n) { phone = .some(n) }
            else { v.add(.invalid("phone", "invalid_phone", "手机号应为 11 位数字，以 1 开头")) }
        }
        var registration: Registration?
        if creating || self.registration != nil {
            registration = Registration(rawValue: self.registration ?? "")
            v.check(registration != nil, "registration", "invalid_choice", "请选择户籍状态")
        }
        var relation: Relation?
        if creating || self.relation != nil {
            relation = Relation(rawValue: self.relation ?? "")
            v.check(relation != nil, "relation", "invalid_choice", "请选择与户的关系")
        }
        var tags: [ResidentTag]?
        if let t = self.tags {
            let parsed = t.filter { !$0.isEmpty }.map { ResidentTag(rawValue: $0) }
            v.check(!parsed.contains(nil), "tags", "invalid_choice", "未知的标签")
            tags = parsed.compactMap { $0 }
        }
        if creating { v.check(householdID != nil, "household_id", "required", "请选择户") }
        try v.throwIfAny()
        return ValidatedResident(householdID: householdID, name: name, idNumber: idNumber, phone: phone,
                                 registration: registration, relation: relation, tags: tags,
                                 partyMember: partyMember, inServiceParty: inServiceParty)
    }
}

public struct ValidatedResident: Sendable {
    public var householdID: Int64?
    public var name: String?
    public var idNumber: String?
    /// nil: leave unchanged; .some(nil): clear.
    public var phone: String??
    public var registration: Registration?
    public var relation: Relation?
    public var tags: [ResidentTag]?
    public var partyMember: Bool?
    public var inServiceParty: Bool?
}

/// Per-compound coverage flags rolled up for a street or a city.
public struct CoverageRow: Sendable, Codable {
    public var placeID: Int64
    public var name: String
    public var compounds: Int
    public var withProperty: Int
    public var withOwnersCommittee: Int
    public var withPartyBranch: Int
    public var withoutProperty: Int { compounds - withProperty }
    public var withoutOwnersCommittee: Int { compounds - withOwnersCommittee }
    public var withoutPartyBranch: Int { compounds - withPartyBranch }

    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", name, compounds, withProperty = "with_property_company"
        case withOwnersCommittee = "with_owners_committee", withPartyBranch = "with_party_branch"
    }
}
