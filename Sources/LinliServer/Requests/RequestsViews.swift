import Foundation
import LinliCore
import LinliStore

/// What a request's page, a queue row and the JSON API show. Personal data appears only masked,
/// and only to those allowed to see the request at all.
public struct RequestView: Sendable, Codable {
    public var id: Int64
    public var category: String
    public var categoryName: String
    public var description: String
    public var placeID: Int64
    public var householdID: Int64?
    public var address: String
    public var lat: Double?
    public var lng: Double?
    public var urgency: String
    public var channel: String
    public var contactMasked: String
    public var publicDetails: Bool
    public var attributes: [String: String]
    public var status: String
    public var partyKind: String?
    public var partyName: String
    public var level: Int
    public var levelCode: String
    public var acceptDue: Int64
    public var contactDue: Int64
    public var resolveDue: Int64
    public var acceptedAt: Int64?
    public var contactedAt: Int64?
    public var resolvedAt: Int64?
    public var closedAt: Int64?
    public var overdue: [String]
    public var rating: Int?
    public var mergedInto: Int64?
    public var createdAt: Int64
    public var createdText: String
    public var resolveDueText: String
    public var isOverdue: Bool
    /// The compound (or community) whose notice board shows this request.
    public var boardPlaceID: Int64
    /// The reporter may be phoned by those handling it.
    public var callbackOK: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, category, categoryName = "category_name", description, placeID = "place_id", householdID = "household_id"
        case address, lat, lng, urgency, channel, contactMasked = "contact_masked", publicDetails = "public_details", attributes
        case status, partyKind = "party_kind", partyName = "party_name", level, levelCode = "level_code"
        case acceptDue = "accept_due", contactDue = "contact_due", resolveDue = "resolve_due"
        case acceptedAt = "accepted_at", contactedAt = "contacted_at", resolvedAt = "resolved_at", closedAt = "closed_at"
        case overdue, rating, mergedInto = "merged_into", createdAt = "created_at", createdText = "created_text"
        case resolveDueText = "resolve_due_text", isOverdue = "is_overdue", boardPlaceID = "board_place_id", callbackOK = "callback_ok"
    }
}

public struct RequestEventView: Sendable, Codable {
    public var at: Int64
    public var atText: String
    public var actor: String
    public var kind: String
    public var note: String
    enum CodingKeys: String, CodingKey { case at, atText = "at_text", actor, kind, note }
}

public struct SimilarRequest: Sendable, Codable {
    public var id: Int64
    public var categoryName: String
    public var address: String
    public var status: String
    public var createdText: String
    public var score: Double
    enum CodingKeys: String, CodingKey { case id, categoryName = "category_name", address, status, createdText = "created_text", score }
}

/// What the actor may do with a request now; drives which forms the page shows.
public struct RequestAbilities: Sendable, Codable {
    public var accept = false, contact = false, note = false, resolve = false, returnIt = false
    public var reassign = false, merge = false, supervise = false, confirm = false, reject = false, withdraw = false
    /// Confirming or rejecting is a return visit (回访) on the resident's behalf.
    public var returnVisit = false
    enum CodingKeys: String, CodingKey {
        case accept, contact, note, resolve, returnIt = "return", reassign, merge, supervise, confirm, reject, withdraw, returnVisit = "return_visit"
    }
}

public struct RequestDetail: Sendable, Codable {
    public var request: RequestView
    public var events: [RequestEventView]
    public var photos: [Int64]
    public var similar: [SimilarRequest]
    public var abilities: RequestAbilities
    /// The 12345 ticket's fields, when the request came from the hotline.
    public var hotline: HotlineView? = nil
}

public struct CategoryView: Sendable, Codable {
    public var code: String
    public var name: String
    public var nameZh: String
    public var nameEn: String
    public var defaultParty: String
    public var acceptHours: Int
    public var contactHours: Int
    public var resolveHours: Int
    public var workingHours: Bool
    public var attributes: [CategoryAttribute]
    public var active: Bool
    enum CodingKeys: String, CodingKey {
        case code, name, nameZh = "name_zh", nameEn = "name_en", defaultParty = "default_party", acceptHours = "accept_hours"
        case contactHours = "contact_hours", resolveHours = "resolve_hours", workingHours = "working_hours", attributes, active
    }
}

/// Input of a submission, from a form or JSON. Strings stay raw until validated.
public struct RequestInput: Sendable, Codable {
    public var category: String?
    public var description: String?
    public var placeID: Int64?
    public var householdID: Int64?
    public var address: String?
    public var lat: Double?
    public var lng: Double?
    public var urgency: String?
    public var channel: String?
    public var contactName: String?
    public var contactPhone: String?
    public var publicDetails: Bool?
    /// Staff filing for a resident (or about a household with a vulnerability tag) record here
    /// that the resident agreed to publish the description and photos.
    public var residentConsent: Bool?
    /// The reporter agrees to be phoned by those handling the request.
    public var callbackOK: Bool?
    public var attributes: [String: String]?
    public var idempotencyKey: String?
    /// A 12345 ticket's number, dispatch time and deadline (`channel` "hotline"; China time,
    /// `2026-12-01T09:30`).
    public var hotlineTicketNo: String?
    public var hotlineDispatchedAt: String?
    public var hotlineDueAt: String?

    public init() {}
    // CaseIterable lets the API document list the keys this hand-written decoder reads.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case category, description, placeID = "place_id", householdID = "household_id", address, lat, lng, urgency, channel
        case contactName = "contact_name", contactPhone = "contact_phone", publicDetails = "public_details", attributes
        case idempotencyKey = "idempotency_key", residentConsent = "resident_consent", callbackOK = "callback_ok"
        case hotlineTicketNo = "hotline_ticket_no", hotlineDispatchedAt = "hotline_dispatched_at", hotlineDueAt = "hotline_due_at"
    }

    /// Decodes the keys the body has, instead of asking for each of the fourteen in turn (every
    /// submission goes through here; a typical body has four). Unknown keys are ignored and a
    /// null is an absent value, as with the synthesized decoder.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for key in c.allKeys {
            switch key {
            case .category: category = try c.decodeIfPresent(String.self, forKey: key)
            case .description: description = try c.decodeIfPresent(String.self, forKey: key)
            case .placeID: placeID = try c.decodeIfPresent(Int64.self, forKey: key)
            case .householdID: householdID = try c.decodeIfPresent(Int64.self, forKey: key)
            case .address: address = try c.decodeIfPresent(String.self, forKey: key)
            case .lat: lat = try c.decodeIfPresent(Double.self, forKey: key)
            case .lng: lng = try c.decodeIfPresent(Double.self, forKey: key)
            case .urgency: urgency = try c.decodeIfPresent(String.self, forKey: key)
            case .channel: channel = try c.decodeIfPresent(String.self, forKey: key)
            case .contactName: contactName = try c.decodeIfPresent(String.self, forKey: key)
            case .contactPhone: contactPhone = try c.decodeIfPresent(String.self, forKey: key)
            case .publicDetails: publicDetails = try c.decodeIfPresent(Bool.self, forKey: key)
            case .attributes: attributes = try c.decodeIfPresent([String: String].self, forKey: key)
            case .idempotencyKey: idempotencyKey = try c.decodeIfPresent(String.self, forKey: key)
            case .residentConsent: residentConsent = try c.decodeIfPresent(Bool.self, forKey: key)
            case .callbackOK: callbackOK = try c.decodeIfPresent(Bool.self, forKey: key)
            case .hotlineTicketNo: hotlineTicketNo = try c.decodeIfPresent(String.self, forKey: key)
            case .hotlineDispatchedAt: hotlineDispatchedAt = try c.decodeIfPresent(String.self, forKey: key)
            case .hotlineDueAt: hotlineDueAt = try c.decodeIfPresent(String.self, forKey: key)
            }
        }
    }
}

/// A JSON submission: the request and its photos as base64 (`photos_base64`).
struct RequestSubmission: Decodable {
    var input: RequestInput
    var photosBase64: [String]?
    enum Keys: String, CodingKey { case photosBase64 = "photos_base64" }

    init(from decoder: any Decoder) throws {
        input = try RequestInput(from: decoder)
        photosBase64 = try decoder.container(keyedBy: Keys.self).decodeIfPresent([String].self, forKey: .photosBase64)
    }
}

/// A request as the public board and Open311 show it: no reporter, no household, and the
/// reporter's own words only if they agreed to publish them.
public struct PublicRequest: Sendable, Codable {
    public var id: Int64
    public var category: String
    public var categoryName: String
    public var description: String?
    public var address: String
    public var lat: Double?
    public var lng: Double?
    public var status: String
    public var open311Status: String
    public var partyName: String
    public var createdAt: Int64
    public var updatedAt: Int64
    public var resolveDue: Int64
    public var resolvedAt: Int64?
    public var statusNotes: String
    public var createdText: String
    public var photoIDs: [Int64]
    enum CodingKeys: String, CodingKey {
        case id, category, categoryName = "category_name", description, address, lat, lng, status, open311Status = "open311_status"
        case partyName = "party_name", createdAt = "created_at", updatedAt = "updated_at", resolveDue = "resolve_due"
        case resolvedAt = "resolved_at", statusNotes = "status_notes", createdText = "created_text", photoIDs = "photo_ids"
    }
}

// A submission's answer lists its fields once for JSON and templates (see FieldListed).

extension RequestView: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.category, category); w.add(CodingKeys.categoryName, categoryName)
        w.add(CodingKeys.description, description); w.add(CodingKeys.placeID, placeID); w.add(CodingKeys.householdID, householdID)
        w.add(CodingKeys.address, address); w.add(CodingKeys.lat, decimal: lat); w.add(CodingKeys.lng, decimal: lng)
        w.add(CodingKeys.urgency, code: urgency); w.add(CodingKeys.channel, code: channel); w.add(CodingKeys.contactMasked, contactMasked)
        w.add(CodingKeys.publicDetails, publicDetails); w.add(CodingKeys.attributes, textsByName: attributes); w.add(CodingKeys.status, code: status)
        w.add(CodingKeys.partyKind, code: partyKind); w.add(CodingKeys.partyName, partyName); w.add(CodingKeys.level, level)
        w.add(CodingKeys.levelCode, levelCode); w.add(CodingKeys.acceptDue, acceptDue); w.add(CodingKeys.contactDue, contactDue)
        w.add(CodingKeys.resolveDue, resolveDue); w.add(CodingKeys.acceptedAt, acceptedAt); w.add(CodingKeys.contactedAt, contactedAt)
        w.add(CodingKeys.resolvedAt, resolvedAt); w.add(CodingKeys.closedAt, closedAt); w.add(CodingKeys.overdue, texts: overdue)
        w.add(CodingKeys.rating, rating); w.add(CodingKeys.mergedInto, mergedInto); w.add(CodingKeys.createdAt, createdAt)
        w.add(CodingKeys.createdText, createdText); w.add(CodingKeys.resolveDueText, resolveDueText); w.add(CodingKeys.isOverdue, isOverdue)
        w.add(CodingKeys.boardPlaceID, boardPlaceID); w.add(CodingKeys.callbackOK, callbackOK)
    }
}

extension SimilarRequest: FieldListed {
    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.id, id); w.add(CodingKeys.categoryName, categoryName); w.add(CodingKeys.address, address)
        w.add(CodingKeys.status, code: status); w.add(CodingKeys.createdText, createdText); w.add(CodingKeys.score, decimal: score)
    }
}

/// What a submission answers: the request and the open ones that look like it.
struct SubmissionAnswer: FieldListed {
    var request: RequestView
    var possibleDuplicates: [SimilarRequest]
    enum CodingKeys: String, CodingKey { case request, possibleDuplicates = "possible_duplicates" }

    func writeFields<W: FieldWriter>(to w: inout W) {
        w.add(CodingKeys.request, request); w.add(CodingKeys.possibleDuplicates, possibleDuplicates)
    }
}
