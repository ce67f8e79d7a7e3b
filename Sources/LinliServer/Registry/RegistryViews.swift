import Foundation
import LinliCore
import LinliStore

/// What the registry's pages and API return. The same structs feed the JSON API and the templates.
public struct PlaceSummary: Sendable, Codable {
    public var id: Int64
    public var kind: String
    public var name: String
    public var communityType: String?
    public var childCount: Int?
    public var householdCount: Int?

    enum CodingKeys: String, CodingKey {
        case id, kind, name, communityType = "community_type", childCount = "child_count", householdCount = "household_count"
    }
}

public struct HouseholdSummary: Sendable, Codable {
    public var id: Int64
    public var door: String
    public var address: String
    public var residentCount: Int

    enum CodingKeys: String, CodingKey { case id, door, address, residentCount = "resident_count" }
}

public struct OrganisationSummary: Sendable, Codable {
    public var id: Int64
    public var kind: String
    public var name: String
    public var serviceType: String?
    public var registration: String?
    /// The organisation above it in the party (or any) tree.
    public var parentName: String? = nil
    public var parentID: Int64? = nil
    /// Serving this compound from elsewhere (a property company), not registered here.
    public var serving: Bool = false

    enum CodingKeys: String, CodingKey { case id, kind, name, serviceType = "service_type", registration = "org_registration", parentName = "parent_name", parentID = "parent_id", serving }
}

public struct FacilitySummary: Sendable, Codable {
    public var id: Int64
    public var kind: String
    public var name: String
    public var lat: Double
    public var lng: Double
}

public struct GridSummary: Sendable, Codable {
    public var id: Int64
    public var name: String
    public var level: String
    public var parentID: Int64?
    enum CodingKeys: String, CodingKey { case id, name, level, parentID = "parent_id" }
}

public struct PlaceDetail: Sendable, Codable {
    public var place: PlaceSummary
    public var parentID: Int64?
    public var breadcrumbs: [PlaceSummary]
    public var children: [PlaceSummary]
    public var households: [HouseholdSummary]
    public var organisations: [OrganisationSummary]
    public var facilities: [FacilitySummary]
    public var grids: [GridSummary]

    enum CodingKeys: String, CodingKey {
        case place, parentID = "parent_id", breadcrumbs, children, households, organisations, facilities, grids
    }
}

public struct ResidentView: Sendable, Codable {
    public var id: Int64
    public var householdID: Int64
    public var name: String
    public var gender: String
    public var birthDate: String
    public var age: Int
    /// Masked unless this view was produced by an audited unmask.
    public var idNumber: String
    /// Which document `idNumber` is from (`id_card`, `passport`, …, `none`).
    public var idKind: String
    public var phone: String?
    public var registration: String
    public var relation: String
    public var tags: [String]
    public var partyMember: Bool
    public var inServiceParty: Bool
    public var address: String?
    /// Agreed to the community's notices by SMS.
    public var smsNotices: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, householdID = "household_id", name, gender, birthDate = "birth_date", age, idNumber = "id_number", idKind = "id_kind", phone
        case registration, relation, tags, partyMember = "party_member", inServiceParty = "in_service_party", address
        case smsNotices = "sms_notices"
    }
}

public struct DwellingView: Sendable, Codable {
    public var areaM2: String
    /// 专有部分编号, what a paper ballot asks for.
    public var partNo: String?
    public var ownerName: String?
    public var ownerKind: String?
    public var ownerDwellings: Int?
    enum CodingKeys: String, CodingKey { case areaM2 = "area_m2", partNo = "part_no", ownerName = "owner_name", ownerKind = "owner_kind", ownerDwellings = "owner_dwellings" }
}

public struct HouseholdDetail: Sendable, Codable {
    public var id: Int64
    public var placeID: Int64
    public var communityID: Int64
    public var door: String
    public var address: String
    public var code: String
    public var gridName: String
    public var microGridID: Int64
    public var microGridName: String
    public var dwelling: DwellingView?
    public var residents: [ResidentView]
    public var breadcrumbs: [PlaceSummary]

    enum CodingKeys: String, CodingKey {
        case id, placeID = "place_id", communityID = "community_id", door, address, code, gridName = "grid", microGridID = "micro_grid_id"
        case microGridName = "micro_grid", dwelling, residents, breadcrumbs
    }
}

// The household page's view models list their fields once for JSON and templates (see FieldListed).

extension PlaceSummary: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.kind, code: kind); w.add(CodingKeys.name, name); w.add(CodingKeys.communityType, code: communityType)
        w.add(CodingKeys.childCount, childCount); w.add(CodingKeys.householdCount, householdCount)
    }
}

extension ResidentView: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.householdID, householdID); w.add(CodingKeys.name, name); w.add(CodingKeys.gender, code: gender)
        w.add(CodingKeys.birthDate, birthDate); w.add(CodingKeys.age, age); w.add(CodingKeys.idNumber, idNumber); w.add(CodingKeys.idKind, code: idKind)
        w.add(CodingKeys.phone, phone); w.add(CodingKeys.registration, code: registration); w.add(CodingKeys.relation, code: relation); w.add(CodingKeys.tags, tags: tags)
        w.add(CodingKeys.partyMember, partyMember); w.add(CodingKeys.inServiceParty, inServiceParty); w.add(CodingKeys.address, address)
        w.add(CodingKeys.smsNotices, smsNotices)
    }
}

extension DwellingView: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.areaM2, areaM2); w.add(CodingKeys.partNo, partNo); w.add(CodingKeys.ownerName, ownerName); w.add(CodingKeys.ownerKind, code: ownerKind)
        w.add(CodingKeys.ownerDwellings, ownerDwellings)
    }
}

extension HouseholdDetail: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.placeID, placeID); w.add(CodingKeys.communityID, communityID); w.add(CodingKeys.door, door)
        w.add(CodingKeys.address, address); w.add(CodingKeys.code, code); w.add(CodingKeys.gridName, gridName)
        w.add(CodingKeys.microGridID, microGridID); w.add(CodingKeys.microGridName, microGridName); w.add(CodingKeys.dwelling, dwelling)
        w.add(CodingKeys.residents, residents); w.add(CodingKeys.breadcrumbs, breadcrumbs)
    }
}

extension PlaceDetail: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.place, place); w.add(CodingKeys.parentID, parentID); w.add(CodingKeys.breadcrumbs, breadcrumbs)
        w.add(CodingKeys.children, children); w.add(CodingKeys.households, households); w.add(CodingKeys.organisations, organisations)
        w.add(CodingKeys.facilities, facilities); w.add(CodingKeys.grids, grids)
    }
}

extension HouseholdSummary: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.door, door); w.add(CodingKeys.address, address); w.add(CodingKeys.residentCount, residentCount)
    }
}

extension OrganisationSummary: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.kind, code: kind); w.add(CodingKeys.name, name); w.add(CodingKeys.serviceType, code: serviceType)
        w.add(CodingKeys.registration, code: registration); w.add(CodingKeys.parentName, parentName); w.add(CodingKeys.parentID, parentID)
        w.add(CodingKeys.serving, serving)
    }
}

extension FacilitySummary: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.kind, code: kind); w.add(CodingKeys.name, name)
        w.add(CodingKeys.lat, decimal: lat); w.add(CodingKeys.lng, decimal: lng)
    }
}

extension GridSummary: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.name, name); w.add(CodingKeys.level, code: level); w.add(CodingKeys.parentID, parentID)
    }
}
