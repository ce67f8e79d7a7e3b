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
    /// Places a printed run (household cards, invitation slips) is made for: a compound or below;
    /// a community's thousands of households go building by building.
    public var takesPrintedRuns: Bool { rank >= 4 }
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
    /// The community (or village) a path lies in: the fourth id (city, district, street,
    /// community); 0 above that level.
    public static func communityID(_ path: String) -> Int64 {
        let p = ids(path)
        return p.count > 3 ? p[3] : 0
    }

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

/// A new case needs a migration that counts `situation_counts` afresh (the kept counts were
/// made from the list as it was; `linli figures-check --repair` also mends them).
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
    /// A government department or its field office (派出机构), at the city, district or street
    /// it serves: it sends work items to communities only through the street's admission.
    case department = "gov_department"
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
    /// Agreed to receive the community's notices by SMS (recorded with the resident's consent).
    public var smsNotices: Bool?
    /// The document the number comes from (`id_card` when left out); with any other kind the
    /// birth date and gender are given here, since the number does not carry them.
    public var idKind: String?
    public var gender: String?
    public var birthDate: String?
    /// For each sensitive tag set, what it is kept for and on what ground (SensitiveData.swift);
    /// left out, the office's statutory duty for the tag's default purposes.
    public var tagRecords: [String: SensitiveRecordInput]?

    public init(householdID: Int64? = nil, name: String? = nil, idNumber: String? = nil, phone: String? = nil,
                registration: String? = nil, relation: String? = nil, tags: [String]? = nil,
                partyMember: Bool? = nil, inServiceParty: Bool? = nil,
                idKind: String? = nil, gender: String? = nil, birthDate: String? = nil) {
        self.householdID = householdID; self.name = name; self.idNumber = idNumber; self.phone = phone
        self.registration = registration; self.relation = relation; self.tags = tags
        self.partyMember = partyMember; self.inServiceParty = inServiceParty
        self.idKind = idKind; self.gender = gender; self.birthDate = birthDate
    }

    enum CodingKeys: String, CodingKey {
        case householdID = "household_id", name, idNumber = "id_number", phone, registration, relation, tags
        case partyMember = "party_member", inServiceParty = "in_service_party", smsNotices = "sms_notices"
        case idKind = "id_kind", gender, birthDate = "birth_date", tagRecords = "tag_records"
    }

    /// A birth date written `YYYY-MM-DD`, a real day from 1900 up to `today` (also `YYYY-MM-DD`).
    static func birthDay(_ raw: String, today: String) -> String? {
        let s = raw.trimmingCharacters(in: .whitespaces)
        // The ID number's own check reads the same digits: reuse it on a made-up 18-digit frame.
        let digits = s.replacingOccurrences(of: "-", with: "")
        guard s.count == 10, digits.count == 8, Array(s)[4] == "-", Array(s)[7] == "-",
              IDNumber.birthDate(of: "000000" + digits) == s, s <= today else { return nil }
        return s
    }

    /// Field rules shared by create and edit; `creating` requires the mandatory fields.
    /// `today` (China time, `YYYY-MM-DD`) bounds a birth date typed by hand.
    public func validate(creating: Bool, today: String = "2100-12-31") throws -> ValidatedResident {
        var v = Validator()
        let name = self.name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if creating || name != nil {
            v.check(!(name ?? "").isEmpty, "name", "required", "请填写姓名")
            v.check((name ?? "").count <= 40, "name", "too_long", "姓名不能超过 40 个字")
        }
        var idNumber: String?
        var kind: DocumentKind?
        var gender: String?, birth: String?
        if creating || self.idNumber != nil || self.idKind != nil {
            kind = DocumentKind(rawValue: (self.idKind ?? "").isEmpty ? DocumentKind.idCard.rawValue : self.idKind!)
            if let kind {
                let raw = DocumentKind.normalise(self.idNumber ?? "")
                let what = kind == .idCard ? "身份证号" : "证件号码"
                switch kind.validate(raw) {
                case nil: idNumber = raw
                case .required?: v.add(.invalid("id_number", "required", "请填写\(what)；没有证件的（如未办证的儿童）请选择“暂无证件”"))
                case .notAllowed?: v.add(.invalid("id_number", "not_allowed", "选择“暂无证件”时不填证件号码"))
                case .format?:
                    let rule = [DocumentKind.idCard: "身份证号应为 18 位，前 17 位为数字", .hmtResidence: "居住证号码应为 18 位，以 81、82 或 83 开头",
                                .hkMacauPermit: "港澳通行证号码应为 H 或 M 加 8 位（旧版 10 位）数字", .taiwanPermit: "台胞证号码应为 8 位数字",
                                .passport: "护照号码应为 5–17 位字母或数字", .foreignPermanent: "永久居留身份证号码应为 15 位（3 个字母加 12 位数字）或以 9 开头的 18 位"]
                    v.add(.invalid("id_number", "invalid_format", rule[kind] ?? "证件号码格式不正确"))
                case .birthDate?: v.add(.invalid("id_number", "invalid_birth_date", "\(what)中的出生日期无效"))
                case .checkDigit?: v.add(.invalid("id_number", "invalid_check_digit", "\(what)校验位不正确"))
                case .region?: v.add(.invalid("id_number", "invalid_format", "居住证号码应以 81（香港）、82（澳门）或 83（台湾）开头"))
                }
                if kind.carriesBirthDate {
                    if let n = idNumber {
                        gender = IDNumber.isMale(n) ? "male" : "female"; birth = IDNumber.birthDate(of: n)
                        if let b = birth, b > today { v.add(.invalid("id_number", "invalid_birth_date", "\(what)中的出生日期晚于今天")) }
                    }
                } else {
                    gender = ["male", "female"].contains(self.gender ?? "") ? self.gender : nil
                    v.check(gender != nil, "gender", "invalid_choice", "没有身份证号时请选择性别")
                    birth = Self.birthDay(self.birthDate ?? "", today: today)
                    v.check(birth != nil, "birth_date", "invalid_date", "没有身份证号时请填写出生日期（YYYY-MM-DD，不晚于今天）")
                }
            } else {
                v.add(.invalid("id_kind", "invalid_choice", "请选择证件类型"))
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
        var records: [String: SensitiveRecord] = [:]
        do { records = try SensitiveRules.validate(tagRecords, tags: tags.map { $0.map(\.rawValue) }) }
        catch let e as LinliError { v.add(e) }
        catch let e as ValidationErrors { e.errors.forEach { v.add($0) } }
        try v.throwIfAny()
        return ValidatedResident(householdID: householdID, name: name, idNumber: idNumber, phone: phone,
                                 registration: registration, relation: relation, tags: tags,
                                 partyMember: partyMember, inServiceParty: inServiceParty, smsNotices: smsNotices,
                                 idKind: kind, gender: gender, birthDate: birth, tagRecords: records)
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
    public var smsNotices: Bool?
    /// Set together with `idNumber` (empty for `.none`), with the gender and birth date read from
    /// the number or given by hand.
    public var idKind: DocumentKind?
    public var gender: String?
    public var birthDate: String?
    /// Checked purposes and basis of the sensitive tags given (empty: none given).
    public var tagRecords: [String: SensitiveRecord] = [:]
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
