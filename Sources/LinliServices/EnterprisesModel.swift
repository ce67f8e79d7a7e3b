import Foundation
import LinliCore
import LinliServer

// Community enterprises (社区企业, Chengdu's model): companies a community holds a share of,
// running services for its residents, that return part of each year's profit to the community
// fund. The plain rules here (what a year owes, how much of it has arrived, whether a unified
// social credit code is well formed) have no I/O and are tested with worked examples.

public enum EnterpriseRules {
    /// What a year's report owes the community fund: `percent` of a positive profit, rounded half
    /// up to the fen; a year at a loss or at break-even owes nothing.
    /// 1,234,567 fen profit at 30% → 370,370.1 → 370,370 fen; 5 fen at 10% → 0.5 → 1 fen.
    public static func due(profit: Int64, percent: Int) -> Int64 {
        guard profit > 0, percent > 0 else { return 0 }
        // profit ≤ Fen.maximum (10^10) and percent ≤ 100: the product stays far below Int64's range.
        return (profit * Int64(percent) + 50) / 100
    }

    /// Where a year stands: nothing owed, owed and not yet (fully) arrived, or settled.
    public enum Standing: String, Sendable, Codable { case nothingDue = "nothing_due", outstanding, settled }

    public static func standing(due: Int64, received: Int64) -> Standing {
        if due == 0 { return received > 0 ? .settled : .nothingDue }
        return received >= due ? .settled : .outstanding
    }

    /// An arrival may be booked only up to what is still owed: money beyond the year's return is
    /// not the community's by this agreement (it would be a gift, booked as one).
    public static func mayReceive(_ amount: Int64, due: Int64, received: Int64) -> Bool {
        amount > 0 && received + amount <= due
    }

    /// A corrected report may not owe less than has already arrived.
    public static func mayRestate(newDue: Int64, received: Int64) -> Bool { newDue >= received }

    /// The 18-character unified social credit code (统一社会信用代码, GB 32100-2015): 17 characters
    /// from the 31-letter set (no I, O, Z, S, V), then a check character: weights 3^i mod 31, the
    /// check is 31 − (Σ mod 31), 31 written as 0. Lower case is read as upper case.
    public static let creditAlphabet = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let creditWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    public static func creditCodeValid(_ raw: String) -> Bool {
        let code = Array(raw.uppercased())
        guard code.count == 18 else { return false }
        var sum = 0
        for i in 0..<17 {
            guard let v = creditAlphabet.firstIndex(of: code[i]) else { return false }
            sum += v * creditWeights[i]
        }
        return creditAlphabet[(31 - sum % 31) % 31] == code[17]
    }

    /// A signed amount in yuan as typed ("-1,200.50", "0", "35000"): revenue and profit may be
    /// zero, profit may be a loss. The rest of the parsing is `Fen.parse`'s.
    public static func signedFen(_ raw: String?, field: String) throws -> Int64 {
        var s = (raw ?? "").trimmingCharacters(in: .whitespaces)
        for sym in ["￥", "¥", "元", ","] { s = s.replacingOccurrences(of: sym, with: "") }
        let negative = s.hasPrefix("-") || s.hasPrefix("－")
        if negative { s.removeFirst() }
        let digits = s.filter { $0.isASCII && $0.isNumber }
        if !digits.isEmpty, digits.allSatisfy({ $0 == "0" }), s.filter({ $0 == "." }).count <= 1, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) { return 0 }
        let fen = try Fen.parse(s, field: field)
        return negative ? -fen : fen
    }
}

public enum EnterpriseLimits {
    static let nameMax = 60, businessMax = 500, reportMax = 4000, contactMax = 60, referenceMax = 60
    /// The first year a report may be for; a year is reported once it has ended (or is ending).
    static let firstYear = 2000
}

public struct EnterpriseInput: Sendable, Codable {
    public var placeID: Int64?
    public var name: String?
    public var creditCode: String?
    public var business: String?
    /// The community's share of the enterprise (percent).
    public var communityShare: Int?
    /// The share of each year's profit returned to the community fund by agreement (percent).
    public var returnPercent: Int?
    public var contact: String?
    public var active: Bool?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", name, creditCode = "credit_code", business, communityShare = "community_share", returnPercent = "return_percent", contact, active
    }
}

public struct EnterpriseYearInput: Sendable, Codable {
    public var year: Int?
    /// Yuan, as typed; profit may be negative (a loss).
    public var revenue: String?
    public var profit: String?
    /// This year's agreed share, when it differs from the enterprise's standing one.
    public var returnPercent: Int?
    /// Residents served in the year (people or visits), as the enterprise reports it.
    public var served: Int?
    public var report: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case year, revenue, profit, returnPercent = "return_percent", served, report }
}

public struct EnterpriseReturnInput: Sendable, Codable {
    public var year: Int?
    public var amount: String?
    /// The bank's reference of the transfer (or the counter receipt's number): one booking per reference.
    public var reference: String?
    /// The day the money arrived (YYYY-MM-DD).
    public var day: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case year, amount, reference, day }
}

public struct EnterpriseYearView: Sendable, Codable {
    public var year: Int
    public var revenue: String
    public var profit: String
    public var returnPercent: Int
    public var due: String
    public var received: String
    public var outstanding: String
    public var standing: EnterpriseRules.Standing
    public var served: Int?
    public var report: String
    public var reportedAt: String
    enum CodingKeys: String, CodingKey {
        case year, revenue, profit, returnPercent = "return_percent", due, received, outstanding, standing, served, report, reportedAt = "reported_at"
    }
}

public struct EnterpriseArrivalView: Sendable, Codable {
    public var year: Int
    public var amount: String
    public var day: String
    /// Staff only: the bank's reference. The public report leaves it out.
    public var reference: String?
    enum CodingKeys: String, CodingKey { case year, amount, day, reference }
}

public struct EnterpriseView: Sendable, Codable {
    public var id: Int64
    public var communityID: Int64
    public var community: String
    public var name: String
    public var creditCode: String
    public var business: String
    public var communityShare: Int
    public var returnPercent: Int
    /// Staff only: whom the office calls there.
    public var contact: String?
    public var active: Bool
    public var years: [EnterpriseYearView]
    public var arrivals: [EnterpriseArrivalView]
    /// Everything returned to the community fund so far.
    public var returned: String
    enum CodingKeys: String, CodingKey {
        case id, communityID = "community_id", community, name, creditCode = "credit_code", business, communityShare = "community_share",
             returnPercent = "return_percent", contact, active, years, arrivals, returned
    }
}
