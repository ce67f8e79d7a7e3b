import Foundation
import Crypto
import LinliCore
import LinliServer

/// The four lists a street or district keeps (Chengdu's 三张清单 and Hangzhou's 准入).
public enum OfficeListKind: String, Sendable, CaseIterable, Codable {
    /// 准入清单: what departments may send into communities at all.
    case admission
    /// 自治清单: what the community decides itself; no department sends it.
    case autonomy
    /// 协助清单: a department leads, the community helps.
    case assist
    /// 负面清单: what a residents' committee may refuse (and a street may not admit).
    case negative
}

public enum WorkItemKind: String, Sendable, CaseIterable, Codable {
    case task
    case dataCollection = "data_collection"
    case certificate
    case assessment
    case meeting
}

public enum WorkItemStatus: String, Sendable, CaseIterable, Codable {
    case submitted, admitted, refused, revoked
}

/// One community's side of an admitted item.
public enum WorkItemShare: String, Sendable, CaseIterable, Codable {
    /// Named in a submission the street has not admitted yet.
    case pending
    case sent, refused, done, revoked
}

/// The plain rules of admission (no I/O), with worked examples in `OfficeRulesTests`.
public enum OfficeRules {
    /// The defaults of the admission clock, in working days: a department applies 30 working days
    /// before the work starts, the street decides within 15 (both configurable per street).
    public static let defaultLeadDays = 30
    public static let defaultDecideDays = 15

    /// The `n`-th working day after `day` (`day` itself is not counted; n = 0 is `day`).
    public static func addWorkingDays(_ n: Int, to day: Int64, calendar: WorkCalendar) -> Int64 {
        var d = day, left = n
        // A year of holidays cannot hide every working day; the bound only guards bad data.
        var guardDays = 0
        while left > 0, guardDays < 3660 {
            d += 1; guardDays += 1
            if calendar.isWorkday(d) { left -= 1 }
        }
        return d
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    public static func workingDays(from: Int64, to: Int64, calendar: WorkCalendar) -> Int {
        guard to > from else { return 0 }
        var n = 0
        for d in (from + 1)...min(to, from + 3660) where calendar.isWorkday(d) { n += 1 }
        return n
    }

    /// Why a street may not admit an item of a list of this kind; nil when it may. An item on no
    /// list is admitted only as a stated exception (临时事项), which the communities may refuse.
    public static func admissionRefusal(_ kind: OfficeListKind?, entry: String, exceptionReason: String) -> LinliError? {
        switch kind {
        case .admission?, .assist?:
            return nil
        case .autonomy?:
            return .invalid("list_item_id", "autonomy_item", "「\(entry)」在自治清单上，由社区自己决定，部门不能下派")
        case .negative?:
            return .invalid("list_item_id", "negative_list", "「\(entry)」在负面清单上，不能准入")
        case nil:
            return exceptionReason.isEmpty
                ? .invalid("reason", "not_listed", "这个事项不在准入或协助清单上；如确需临时准入，请写明理由")
                : nil
        }
    }

    /// Departments may not turn work into scores of communities (不得将准入事项转为对社区的考核评比):
    /// an item that scores or ranks communities (kind 考核评比) is admitted only under a list entry
    /// that is itself an assessment, never as an exception on no list; and an entry that names
    /// its kind of work admits only that kind. Nil when the kinds agree.
    public static func kindRefusal(item: WorkItemKind, entryWorkKind: WorkItemKind?, listed: Bool, entry: String) -> LinliError? {
        if item == .assessment {
            guard listed else {
                return .invalid("kind", "scoring_not_listed", "考核评比不能临时准入：部门对社区的考核评比只能按准入清单上列明的考核事项准入")
            }
            guard entryWorkKind == .assessment else {
                return .invalid("kind", "scoring_not_admitted", "「\(entry)」准入的不是考核评比，部门不得将准入事项转为对社区的考核评比")
            }
            return nil
        }
        if let entryWorkKind, entryWorkKind != item {
            return .invalid("kind", "kind_mismatch", "「\(entry)」准入的是\(workKindName(entryWorkKind))，本事项是\(workKindName(item))")
        }
        return nil
    }

    public static func workKindName(_ k: WorkItemKind) -> String {
        switch k {
        case .task: "工作任务"
        case .dataCollection: "数据报表"
        case .certificate: "证明事项"
        case .assessment: "考核评比"
        case .meeting: "会议活动"
        }
    }

    /// A community may refuse an admitted item that is on the negative list or on no list.
    public static func communityMayRefuse(_ kind: OfficeListKind?) -> Bool { kind == nil || kind == .negative }

    /// The money that follows the item to each community: the list's fee per unit times the
    /// units, or the department's own figure for an item on no list. Nil on overflow or a
    /// negative figure (refused at the door).
    public static func fee(perUnit: Int64?, units: Int, stated: Int64) -> Int64? {
        guard units > 0, stated >= 0 else { return nil }
        guard let perUnit else { return stated }
        guard perUnit >= 0 else { return nil }
        let (v, overflow) = perUnit.multipliedReportingOverflow(by: Int64(units))
        return overflow || v > Fen.maximum ? nil : v
    }

    /// A community's share is late when it is still open after the due day.
    public static func late(_ share: WorkItemShare, due: Int64, today: Int64) -> Bool { share == .sent && today > due }

    /// A decision is overdue when the street has not decided by its decide-by day.
    public static func decisionOverdue(_ status: WorkItemStatus, decideBy: Int64, today: Int64) -> Bool { status == .submitted && today > decideBy }
}

public enum RatingStatus: String, Sendable, CaseIterable, Codable {
    case fine, fixing, fixed, appealed, overturned
}

/// The plain rules of rating departments (好差评), with worked examples in `RatingRulesTests`.
public enum RatingRules {
    /// Five levels; the two lowest are bad ratings, which start a fix.
    public static let levels = 1...5
    public static func isBad(_ level: Int) -> Bool { level <= 2 }
    /// A bad rating is fixed within 15 working days.
    public static let fixDays = 15

    /// One department's figures for a period, as the ranking reads them.
    public struct Figures: Sendable, Equatable {
        public var departmentID: Int64
        public var ratings: Int
        /// Sum of levels of the ratings that count (an overturned one does not).
        public var levelSum: Int
        public var bad: Int
        public var fixedOnTime: Int
        public var openFixes: Int
        /// Shares of its items due in the period, and those done by their due day.
        public var sharesDue: Int
        public var sharesOnTime: Int
        /// Requests routed to it by name that were made in the period: resolved, resolved by their
        /// deadline, and the residents' ratings (1–5) of them.
        public var requests = DepartmentRequestFigures()
        public init(departmentID: Int64, ratings: Int = 0, levelSum: Int = 0, bad: Int = 0, fixedOnTime: Int = 0, openFixes: Int = 0, sharesDue: Int = 0, sharesOnTime: Int = 0) {
            self.departmentID = departmentID; self.ratings = ratings; self.levelSum = levelSum; self.bad = bad; self.fixedOnTime = fixedOnTime
            self.openFixes = openFixes; self.sharesDue = sharesDue; self.sharesOnTime = sharesOnTime
        }
        /// The average level in hundredths (437 = 4.37); nil without ratings.
        public var averageCentis: Int? { ratings == 0 ? nil : (levelSum * 100 + ratings / 2) / ratings }
        /// The share of bad ratings among those that count, in whole percent.
        public var badPercent: Int? { ratings == 0 ? nil : (bad * 100 + ratings / 2) / ratings }
        public var onTimePercent: Int? { sharesDue == 0 ? nil : (sharesOnTime * 100 + sharesDue / 2) / sharesDue }
        /// Of its requests resolved, the share resolved by the deadline, in whole percent.
        public var requestsOnTimePercent: Int? { requests.resolved == 0 ? nil : (requests.resolvedOnTime * 100 + requests.resolved / 2) / requests.resolved }
        /// The residents' average rating of its requests in hundredths (460 = 4.60).
        public var requestsRatingCentis: Int? { requests.rated == 0 ? nil : (requests.ratingSum * 100 + requests.rated / 2) / requests.rated }
    }

    /// Best first: by average level, then fewer bad ratings, then the on-time share of its items,
    /// then of the requests routed to it; departments without ratings last.
    public static func rank(_ all: [Figures]) -> [Figures] {
        func timely(_ f: Figures) -> (Int, Int, Int64) { (f.onTimePercent ?? -1, f.requestsOnTimePercent ?? -1, -f.departmentID) }
        return all.sorted { a, b in
            switch (a.averageCentis, b.averageCentis) {
            case (nil, nil): return timely(a) > timely(b)
            case (nil, _): return false
            case (_, nil): return true
            case let (x?, y?):
                if x != y { return x > y }
                if a.badPercent != b.badPercent { return (a.badPercent ?? 0) < (b.badPercent ?? 0) }
                return timely(a) > timely(b)
            }
        }
    }

    /// "2026-12" for a China day.
    public static func period(of day: Int64) -> String { String(ChinaTime.iso(day: day).prefix(7)) }
}

/// What an assessment indicator measures: a figure the platform keeps for each community over
/// the period, or one the community reports itself (`manual`, with its evidence).
public enum IndicatorMetric: String, Sendable, CaseIterable, Codable {
    case requestsOnTime = "requests_on_time"
    case propertyCoverage = "property_coverage"
    case ownersCommitteeCoverage = "owners_committee_coverage"
    case partyBranchCoverage = "party_branch_coverage"
    case meetingsHeld = "meetings_held"
    case volunteerHoursPer1000 = "volunteer_hours_per_1000"
    case householdsVisited = "households_visited"
    case manual

    /// Shown after a value: a share, a count or hours per 1,000 residents.
    public var unit: String {
        switch self {
        case .requestsOnTime, .propertyCoverage, .ownersCommitteeCoverage, .partyBranchCoverage, .householdsVisited: "%"
        case .meetingsHeld: "次"
        case .volunteerHoursPer1000: "小时/千人"
        case .manual: ""
        }
    }
}

public enum AssessmentStatus: String, Sendable, CaseIterable, Codable { case draft, open, published }

/// The plain rules of an assessment, with worked examples in `IndicatorRulesTests`. Values and
/// scores are kept in hundredths (87.5 % is 8750; a full score of 100 points is 10000).
public enum IndicatorRules {
    public static let full = 10_000

    /// "20", "12.5", "7.25" → hundredths; nil for anything else (negative, three decimals, text).
    public static func hundredths(_ raw: String?) -> Int64? {
        let s = (raw ?? "").trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "%", with: "")
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard !s.isEmpty, parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 9, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var v = Int64(whole)! * 100
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 2, f.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            v += Int64(f.count == 1 ? f + "0" : String(f))!
        }
        return v
    }

    public static func text(_ hundredths: Int64) -> String {
        let sign = hundredths < 0 ? "-" : "", a = hundredths.magnitude
        let frac = a % 100
        return sign + String(a / 100) + (frac == 0 ? "" : (frac % 10 == 0 ? "." + String(frac / 10) : "." + (frac < 10 ? "0" : "") + String(frac)))
    }

    /// Weights are set so that they add up to 100 % exactly, none of them zero.
    public static func weightsAddUp(_ weights: [Int64]) -> Bool { !weights.isEmpty && weights.allSatisfy { $0 > 0 } && weights.reduce(0, +) == 10_000 }

    /// A share (numerator over denominator) in hundredths of a percent: 45 of 50 → 9000. Nil
    /// when there is nothing to count (no compound to cover, no request resolved).
    public static func percent(_ numerator: Int64, _ denominator: Int64) -> Int64? {
        denominator <= 0 ? nil : (numerator * 10_000 + denominator / 2) / denominator
    }

    /// The score the value earns against its target: full at or above the target, in proportion
    /// below it; nil without a value (a reviewer scores it).
    public static func autoScore(value: Int64?, target: Int64) -> Int? {
        guard let value else { return nil }
        guard target > 0 else { return full }
        return Int(min(Int64(full), max(0, value) * Int64(full) / target))
    }

    /// The reviewer's score decides; without one, the value's (the platform's figure, or the one
    /// the community reported with its evidence for a `manual` indicator). The community's own
    /// self-assessed score is shown beside, never counted.
    public static func final(auto: Int?, review: Int?) -> Int? { review ?? auto }

    /// The weighted total in hundredths of a point; an indicator without a score counts nothing.
    public static func total(_ scored: [(weight: Int64, score: Int?)]) -> Int {
        Int(scored.reduce(Int64(0)) { $0 + $1.weight * Int64($1.score ?? 0) } / 10_000)
    }
}

/// One area's figures for a period, summed from its communities.
public struct AreaFigures: Sendable, Equatable, Codable {
    public var communities: Int64 = 0
    public var requests: Int64 = 0, escalated: Int64 = 0, ratingSum: Int64 = 0, rated: Int64 = 0, resolved: Int64 = 0, onTime: Int64 = 0
    public var matters: Int64 = 0, votes: Int64 = 0, decisionsDone: Int64 = 0
    public var volunteers: Int64 = 0, volunteerMinutes: Int64 = 0, raised: Int64 = 0, matched: Int64 = 0
    public var visited: Int64 = 0, households: Int64 = 0, residents: Int64 = 0
    public var compounds: Int64 = 0, withProperty: Int64 = 0, withOwnersCommittee: Int64 = 0, withPartyBranch: Int64 = 0
    public init() {}

    public static func + (a: AreaFigures, b: AreaFigures) -> AreaFigures {
        var s = AreaFigures()
        for k in Self.counts { s[keyPath: k] = a[keyPath: k] + b[keyPath: k] }
        return s
    }

    static var counts: [WritableKeyPath<AreaFigures, Int64>] { [
        \.communities, \.requests, \.escalated, \.ratingSum, \.rated, \.resolved, \.onTime, \.matters, \.votes, \.decisionsDone,
        \.volunteers, \.volunteerMinutes, \.raised, \.matched, \.visited, \.households, \.residents, \.compounds, \.withProperty,
        \.withOwnersCommittee, \.withPartyBranch,
    ] }
}

/// The plain rules of the dashboards, with worked examples in `DashboardRulesTests`.
public enum DashboardRules {
    /// Communities' figures summed into the places one level below the area (its districts,
    /// streets or communities); `childOf` names each community's. Communities with no child are left out.
    public static func roll(_ byCommunity: [Int64: AreaFigures], childOf: [Int64: Int64]) -> [Int64: AreaFigures] {
        var out: [Int64: AreaFigures] = [:]
        for (c, f) in byCommunity {
            guard let child = childOf[c] else { continue }
            out[child] = (out[child] ?? AreaFigures()) + f
        }
        return out
    }

    /// "87.5%" style shares; "—" when there is nothing to count.
    public static func share(_ n: Int64, _ d: Int64) -> String { IndicatorRules.percent(n, d).map { IndicatorRules.text($0) + "%" } ?? "—" }

    /// Average satisfaction (1–5) to two places; "—" without ratings.
    public static func average(_ sum: Int64, _ n: Int64) -> String { n == 0 ? "—" : IndicatorRules.text((sum * 100 + n / 2) / n) }
}

/// The plain rules of the outbox to an upper-level system, with worked examples in `OutboxRulesTests`.
public enum OutboxRules {
    /// Seconds before the next try after `attempts` failed ones: a minute, doubling, at most six hours.
    public static func backoff(attempts: Int) -> Int64 {
        guard attempts > 0 else { return 0 }
        return min(21_600, 60 << Int64(min(attempts - 1, 20)))
    }
    /// Undelivered for longer than this, an item is shown as stuck.
    public static let stuckAfter: Int64 = 3600

    /// The signature the receiver checks: HMAC-SHA256 of "timestamp.body" under the shared
    /// secret, as "t=…,v1=hex" (a receiver also refuses an old timestamp: no replays).
    public static func signature(secret: [UInt8], timestamp: Int64, body: [UInt8]) -> String {
        var message = Array("\(timestamp).".utf8)
        message += body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}
