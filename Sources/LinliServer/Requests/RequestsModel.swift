import Foundation
import LinliCore
import LinliStore

/// The rules of a request (诉求): its lifecycle, who answers it, and its clock. Pure values, no I/O.

public enum RequestStatus: String, Sendable, CaseIterable, Codable {
    /// No routing rule found a party; the community must route it by hand.
    case unassigned
    case assigned
    case accepted
    case resolved
    case closed
    /// The party sent it back (退单); the community re-routes it.
    case returned
    case merged
    case withdrawn

    /// Still someone's work: counted by the escalation sweep and shown in queues.
    public var isOpen: Bool { [.unassigned, .assigned, .accepted, .returned].contains(self) }

    /// GeoReport v2 knows only open and closed; a resolved request awaiting the resident's
    /// confirmation is closed from the client's point of view.
    public var open311: String { isOpen ? "open" : "closed" }
}

public enum RequestTransition: String, Sendable, CaseIterable {
    case accept, contact, note, resolve
    case returnIt = "return"
    case reassign, confirm, reject, merge, supervise, withdraw
    case autoClose = "auto_close"

    /// The state machine: the status after this transition, or nil when it is not allowed.
    public func next(from s: RequestStatus) -> RequestStatus? {
        switch (self, s) {
        case (.accept, .assigned): .accepted
        case (.contact, .assigned), (.contact, .accepted): s
        case (.note, .assigned), (.note, .accepted): s
        case (.resolve, .accepted): .resolved
        case (.returnIt, .assigned), (.returnIt, .accepted): .returned
        case (.reassign, .unassigned), (.reassign, .returned), (.reassign, .assigned), (.reassign, .accepted): .assigned
        case (.confirm, .resolved), (.autoClose, .resolved): .closed
        case (.reject, .resolved): .accepted
        case (.merge, _) where s.isOpen: .merged
        case (.supervise, _) where s.isOpen: s
        case (.withdraw, .unassigned), (.withdraw, .assigned), (.withdraw, .returned): .withdrawn
        default: nil
        }
    }
}

public enum Urgency: String, Sendable, CaseIterable, Codable {
    case normal, urgent
}

/// How the request reached Linli.
public enum Channel: String, Sendable, CaseIterable, Codable {
    case app, phone
    case walkIn = "walk_in"
    case visit
    case open311
    /// A ticket the city's 12345 hotline dispatched (its ticket number, dispatch time and deadline
    /// come with it, `request_hotline`).
    case hotline
    /// Filed by staff acting for the resident (代办): the resident stays the reporter, and the
    /// source says who really typed it.
    case acting
    /// Found on a grid worker's patrol (巡查) and filed by them; no resident reported it.
    case patrol
}

/// Who answers a request.
public enum PartyKind: String, Sendable, CaseIterable, Codable {
    case propertyCompany = "property_company"
    case ownersCommittee = "owners_committee"
    case residentsCommittee = "residents_committee"
    case gridWorker = "grid_worker"
    /// A street department (城管、市政…), answered by street staff.
    case department
}

/// Escalation climbs the place path: the party (level 0) → community → street → district.
public enum EscalationLevel: Int, Sendable, CaseIterable, Codable {
    case party = 0, community, street, district

    /// Index of the supervising place in a materialised path "/city/district/street/community/…".
    public var pathIndex: Int? {
        switch self {
        case .party: nil
        case .community: 3
        case .street: 2
        case .district: 1
        }
    }

    public var up: EscalationLevel { EscalationLevel(rawValue: min(rawValue + 1, 3))! }
    public var code: String { ["party", "community", "street", "district"][rawValue] }
}

public enum Deadline: String, Sendable, CaseIterable, Codable {
    case accept, contact, resolve
}

/// How long a category allows, in working or calendar hours.
public struct DeadlinePolicy: Sendable, Equatable {
    public var acceptHours: Int
    public var contactHours: Int
    public var resolveHours: Int
    public var workingHours: Bool

    public init(acceptHours: Int, contactHours: Int, resolveHours: Int, workingHours: Bool) {
        self.acceptHours = acceptHours; self.contactHours = contactHours; self.resolveHours = resolveHours; self.workingHours = workingHours
    }

    /// Urgent requests get half of each allowance (at least one hour).
    public func hours(_ d: Deadline, urgency: Urgency) -> Int {
        let h = switch d { case .accept: acceptHours; case .contact: contactHours; case .resolve: resolveHours }
        return urgency == .urgent ? max(1, (h + 1) / 2) : h
    }

    public func due(_ d: Deadline, from start: Int64, urgency: Urgency, calendar: WorkCalendar) -> Int64 {
        calendar.add(hours: hours(d, urgency: urgency), working: workingHours, to: start)
    }
}

/// Working time in China Standard Time (UTC+8, no daylight saving): weekdays 09:00–17:00, minus
/// public holidays, plus the weekend days made working days (调休).
public struct WorkCalendar: Sendable, Equatable {
    public var dayStart: Int64 = 9 * 3600
    public var dayEnd: Int64 = 17 * 3600
    /// Local days (days since 1970-01-01 in UTC+8) that are off although weekdays.
    public var holidays: Set<Int64>
    /// Local days that are worked although weekends.
    public var workdays: Set<Int64>

    public init(holidays: Set<Int64> = [], workdays: Set<Int64> = []) {
        self.holidays = holidays
        self.workdays = workdays
    }

    public func isWorkday(_ day: Int64) -> Bool {
        if holidays.contains(day) { return false }
        if workdays.contains(day) { return true }
        let weekday = ((day % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday; 0 = Sunday
        return weekday != 0 && weekday != 6
    }

    /// `start` plus `hours`, either on the wall clock or counting only working time.
    public func add(hours: Int, working: Bool, to start: Int64) -> Int64 {
        let seconds = Int64(hours) * 3600
        guard working else { return start + seconds }
        var remaining = seconds
        var local = start + ChinaTime.utcOffset
        // A year of holidays cannot hide every working day; the bound only guards bad data.
        for _ in 0..<3660 {
            let day = local >= 0 ? local / 86400 : (local - 86399) / 86400
            var sec = local - day * 86400
            if !isWorkday(day) || sec >= dayEnd {
                local = (day + 1) * 86400 + dayStart
                continue
            }
            if sec < dayStart { sec = dayStart; local = day * 86400 + dayStart }
            let available = dayEnd - sec
            if remaining <= available { return local + remaining - ChinaTime.utcOffset }
            remaining -= available
            local = (day + 1) * 86400 + dayStart
        }
        return start + seconds
    }
}

/// One attribute a category asks for (Open311 service definition attribute).
public struct CategoryAttribute: Sendable, Codable, Equatable {
    public var code: String
    public var datatype: String  // string | number | singlevaluelist
    public var required: Bool
    public var description: String
    public var values: [String]

    public init(code: String, datatype: String, required: Bool, description: String, values: [String] = []) {
        self.code = code; self.datatype = datatype; self.required = required; self.description = description; self.values = values
    }

    /// The description in one language: the built-in ones are written "中文 / English" for
    /// Open311 clients, and a person reads only their own half. One without " / " is both.
    public func text(_ lang: Lang) -> String {
        let halves = description.components(separatedBy: " / ")
        guard halves.count == 2 else { return description }
        return (lang == .zh ? halves[0] : halves[1]).trimmingCharacters(in: .whitespaces)
    }
}

public struct RequestCategory: Sendable, Equatable {
    public var code: String
    public var nameZh: String
    public var nameEn: String
    public var description: String
    public var defaultParty: PartyKind
    public var policy: DeadlinePolicy
    public var attributes: [CategoryAttribute]
    public var active: Bool

    public func name(_ lang: Lang) -> String { lang == .zh ? nameZh : nameEn }

    public init(code: String, nameZh: String, nameEn: String, description: String, defaultParty: PartyKind,
                policy: DeadlinePolicy, attributes: [CategoryAttribute], active: Bool) {
        self.code = code; self.nameZh = nameZh; self.nameEn = nameEn; self.description = description
        self.defaultParty = defaultParty; self.policy = policy; self.attributes = attributes; self.active = active
    }

    /// Checks submitted attribute values against the definition; keys are field names for errors.
    public func validate(attributes given: [String: String]) -> [LinliError] {
        var errors: [LinliError] = []
        for a in attributes {
            let v = given[a.code]?.trimmingCharacters(in: .whitespaces) ?? ""
            if v.isEmpty {
                if a.required { errors.append(.invalid("attribute[\(a.code)]", "required", "请填写：\(a.text(.zh))")) }
                continue
            }
            switch a.datatype {
            case "number" where Double(v) == nil:
                errors.append(.invalid("attribute[\(a.code)]", "not_a_number", "\(a.text(.zh)) 应为数字"))
            case "singlevaluelist" where !a.values.contains(v):
                errors.append(.invalid("attribute[\(a.code)]", "not_in_list", "\(a.text(.zh)) 的取值不在列表中"))
            default:
                if v.count > 200 { errors.append(.invalid("attribute[\(a.code)]", "too_long", "\(a.text(.zh)) 过长")) }
            }
        }
        for k in given.keys where !attributes.contains(where: { $0.code == k }) {
            errors.append(.invalid("attribute[\(k)]", "unknown", "未知的附加项 \(k)"))
        }
        return errors
    }
}

/// Text similarity for duplicate suggestions: Jaccard overlap of character bigrams, which works
/// for Chinese without a word segmenter.
public enum TextSimilarity {
    /// Adjacent pairs of letters and digits, each pair packed into one integer (hashing pairs of
    /// short strings was a fifth of a submission's time), sorted and unique so that two texts
    /// compare by one merge instead of hashing.
    static func bigrams(_ s: String) -> [UInt64] {
        // Scalar by scalar, with the common cases (ASCII, CJK ideographs) decided without Unicode
        // property tables: this runs over fifty candidates for every submission.
        var codes: [UInt64] = []
        codes.reserveCapacity(s.utf8.count / 2)
        for u in s.unicodeScalars {
            let v = u.value
            if v < 0x80 {
                if v >= 0x41 && v <= 0x5A { codes.append(UInt64(v + 0x20)) }
                else if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) { codes.append(UInt64(v)) }
            } else if v >= 0x4E00 && v <= 0x9FFF {
                codes.append(UInt64(v))
            } else if u.properties.isAlphabetic || u.properties.numericType != nil {
                codes.append(UInt64(u.properties.lowercaseMapping.unicodeScalars.first?.value ?? v))
            }
        }
        guard codes.count > 1 else { return codes }
        var out: [UInt64] = []
        out.reserveCapacity(codes.count - 1)
        for i in 0..<(codes.count - 1) { out.append(codes[i] << 32 | codes[i + 1]) }
        out.sort()
        var unique = 0
        for x in out where unique == 0 || out[unique - 1] != x { out[unique] = x; unique += 1 }
        out.removeLast(out.count - unique)
        return out
    }

    /// Jaccard similarity of the two texts' bigrams.
    public static func score(_ x: String, _ y: String) -> Double { score(bigrams(x), bigrams(y)) }

    /// Jaccard similarity of two sorted, unique bigram lists.
    static func score(_ a: [UInt64], _ b: [UInt64]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var i = 0, j = 0, shared = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] { shared += 1; i += 1; j += 1 } else if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return Double(shared) / Double(a.count + b.count - shared)
    }
}

/// Great-circle distance in metres (haversine), for "nearby" duplicates and Open311 locations.
public func distanceMetres(_ lat1: Double, _ lng1: Double, _ lat2: Double, _ lng2: Double) -> Double {
    let r = 6_371_000.0, rad = Double.pi / 180
    let dLat = (lat2 - lat1) * rad, dLng = (lng2 - lng1) * rad
    let h = sin(dLat / 2) * sin(dLat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dLng / 2) * sin(dLng / 2)
    return 2 * r * asin(min(1, sqrt(h)))
}

/// A party's figures for a period, computed from its requests.
public struct PartyFigures: Sendable, Codable, Equatable {
    public var partyKey: String
    public var partyName: String
    public var partyKind: String
    public var received: Int
    public var acceptedOnTime: Int
    public var resolved: Int
    public var resolvedOnTime: Int
    public var rated: Int
    public var satisfied: Int
    public var returned: Int
    public var escalated: Int
    public var medianResolveHours: Double?

    /// Share of received requests accepted before the accept deadline.
    public var responseRate: Double? { received == 0 ? nil : Double(acceptedOnTime) / Double(received) }
    public var onTimeRate: Double? { resolved == 0 ? nil : Double(resolvedOnTime) / Double(resolved) }
    /// Ratings of 4 or 5 among rated requests.
    public var satisfactionRate: Double? { rated == 0 ? nil : Double(satisfied) / Double(rated) }

    public static func empty(_ key: String, name: String = "", kind: String = "") -> PartyFigures {
        PartyFigures(partyKey: key, partyName: name, partyKind: kind, received: 0, acceptedOnTime: 0, resolved: 0, resolvedOnTime: 0,
                     rated: 0, satisfied: 0, returned: 0, escalated: 0, medianResolveHours: nil)
    }

    /// Adds another group's counts (medians are computed from durations, never added).
    public mutating func add(_ o: PartyFigures) {
        received += o.received; acceptedOnTime += o.acceptedOnTime; resolved += o.resolved; resolvedOnTime += o.resolvedOnTime
        rated += o.rated; satisfied += o.satisfied; returned += o.returned; escalated += o.escalated
    }

    public static func median(_ xs: [Int64]) -> Double? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// Limits of a submission.
public enum RequestLimits {
    public static let descriptionMax = 1000
    public static let noteMax = 1000
    public static let photosMax = 6
    public static let photoBytesMax = 8 * 1024 * 1024
    /// A JSON submission carrying photos as base64 (`photos_base64`): a few phone photos.
    public static let apiBodyMax = 24 * 1024 * 1024
    /// A resolved request the resident neither confirms nor rejects closes itself after this.
    public static let autoCloseSeconds: Int64 = 7 * 86400
    public static let duplicateWindowSeconds: Int64 = 7 * 86400
    public static let duplicateRadiusMetres = 300.0
    public static let duplicateMinScore = 0.25
    /// How many of the newest nearby requests of the category a new one is compared with: enough
    /// for a week of one building's complaints, and the cost of a submission stays bounded.
    public static let duplicateCandidates = 20
}

/// The latitude and longitude ranges that hold every point within `metres` of a point: a cheap
/// first filter (an index can apply it) before the exact distance.
public func boundingBox(lat: Double, lng: Double, metres: Double) -> (lat: ClosedRange<Double>, lng: ClosedRange<Double>) {
    let dLat = metres / 111_195.0
    let dLng = metres / (111_195.0 * max(cos(lat * Double.pi / 180), 0.01))
    return ((lat - dLat)...(lat + dLat), (lng - dLng)...(lng + dLng))
}
