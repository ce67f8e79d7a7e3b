import LinliCore

/// How often a household in some situation is visited, in the periods a community's rules speak
/// in ("独居老人每周一次"). Windows follow the calendar, as grid workers count them: a week runs
/// Monday to Sunday, a month is the calendar month; any visit inside a window counts for it.
public enum VisitPeriod: String, CaseIterable, Codable, Sendable, Comparable {
    case week, fortnight, month, quarter, year

    /// Roughly how long, to pick the shortest of several rules.
    var days: Int {
        switch self {
        case .week: 7
        case .fortnight: 14
        case .month: 30
        case .quarter: 91
        case .year: 365
        }
    }

    public static func < (a: VisitPeriod, b: VisitPeriod) -> Bool { a.days < b.days }

    /// The window (first and last local day) holding `day`.
    public func window(containing day: Int64) -> (first: Int64, last: Int64) {
        switch self {
        case .week:
            let first = day - Int64(LocalDay.weekday(day) - 1)
            return (first, first + 6)
        case .fortnight:
            // Two-week blocks from Monday 1970-01-05 (day 4), so every worker's fortnight is the same one.
            let k = Self.floorDiv(day - 4, 14)
            return (4 + 14 * k, 4 + 14 * k + 13)
        case .month:
            return LocalDay.month(of: day)
        case .quarter:
            let (y, m, _) = ChinaTime.civil(day: day)
            let firstMonth = (m - 1) / 3 * 3 + 1
            let first = Input.dayNumber(y, firstMonth, 1)
            let next = firstMonth == 10 ? Input.dayNumber(y + 1, 1, 1) : Input.dayNumber(y, firstMonth + 3, 1)
            return (first, next - 1)
        case .year:
            let (y, _, _) = ChinaTime.civil(day: day)
            return (Input.dayNumber(y, 1, 1), Input.dayNumber(y + 1, 1, 1) - 1)
        }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}

/// A household's situation as the visit rules see it: a resident tag, or every household.
public enum VisitSituation {
    public static let everyone = "all"
    /// The situations a rule may name, most pressing first (the order the plan page lists them).
    public static let all: [String] = ["elderly_alone", "disabled", "low_income", "elderly", "veteran", "child", everyone]
}

/// One rule: households in `situation` are visited once per `period`; a grid's own rule
/// (`gridID`) replaces the community's for the same situation in that grid.
public struct VisitRule: Sendable, Codable, Equatable {
    public var situation: String
    public var period: VisitPeriod
    public var gridID: Int64?

    public init(situation: String, period: VisitPeriod, gridID: Int64? = nil) {
        self.situation = situation; self.period = period; self.gridID = gridID
    }

    enum CodingKeys: String, CodingKey { case situation, period, gridID = "grid_id" }
}

/// What a community visits when it has set nothing yet: the rules the seeds describe.
public enum VisitDefaults {
    public static let rules: [VisitRule] = [
        VisitRule(situation: "elderly_alone", period: .week),
        VisitRule(situation: "disabled", period: .fortnight),
        VisitRule(situation: "low_income", period: .month),
        VisitRule(situation: VisitSituation.everyone, period: .year),
    ]
}

/// What was found at the door.
public enum VisitOutcome: String, CaseIterable, Codable, Sendable {
    case well
    case needsHelp = "needs_help"
    case notHome = "not_home"
    case refused
    case moved

    /// Whether the visit counts for the household's window. Nobody home is an attempt: the
    /// window stays open and the next try is due soon. A refusal or a household gone was a
    /// visit made; the community follows those up otherwise.
    public var counts: Bool { self != .notHome }
}

public enum FollowResult: String, CaseIterable, Codable, Sendable {
    case better, same, worse
}

/// Why a household is on the due list.
public enum DueReason: String, Codable, Sendable {
    /// Its plan's window has no visit yet.
    case plan
    /// A follow-up visit was set for a date.
    case followUp = "follow_up"
}

/// The stored facts about one household's visits; everything the due list needs.
public struct VisitFacts: Sendable, Equatable {
    /// The last visit that counted (epoch seconds).
    public var lastCounted: Int64?
    /// The last attempt that found nobody home.
    public var lastAttempt: Int64?
    /// A follow-up visit set for this local day.
    public var followUpDay: Int64?
    /// Since when the household has had a plan (epoch seconds): a window that began before it
    /// is not missed.
    public var since: Int64

    public init(lastCounted: Int64? = nil, lastAttempt: Int64? = nil, followUpDay: Int64? = nil, since: Int64) {
        self.lastCounted = lastCounted; self.lastAttempt = lastAttempt; self.followUpDay = followUpDay; self.since = since
    }
}

public struct DueItem: Sendable, Equatable {
    public var reason: DueReason
    /// The last day it counts for (the window's end, or the follow-up's date).
    public var dueDay: Int64
    /// The previous window went by without a visit, or the follow-up's date has passed.
    public var overdue: Bool
    /// Nobody was home at the last try: not before this day (a retry, two days on).
    public var retryFrom: Int64?
}

/// The plan's arithmetic, without I/O (worked examples in VisitPlanTests).
public enum VisitPlan {
    /// Days after a "nobody home" before the next try is suggested.
    public static let retryDays: Int64 = 2
    /// A follow-up shows on the list this many days before its date.
    public static let followUpLead: Int64 = 3

    /// The rule that applies to a household with these situations in this grid (and micro-grid):
    /// for each situation a grid's own rule replaces the community's, and the shortest period
    /// of those left wins. nil: no rule covers the household.
    public static func rule(for situations: Set<String>, gridIDs: [Int64], rules: [VisitRule]) -> VisitRule? {
        var best: VisitRule?
        for situation in situations.union([VisitSituation.everyone]) {
            let named = rules.filter { $0.situation == situation }
            let own = named.first { r in r.gridID.map(gridIDs.contains) ?? false }
            guard let r = own ?? named.first(where: { $0.gridID == nil }) else { continue }
            // Ties between situations go to the most pressing, so the reason shown is stable.
            if best == nil || r.period < best!.period
                || (r.period == best!.period && rank(r.situation) < rank(best!.situation)) { best = r }
        }
        return best
    }

    static func rank(_ s: String) -> Int { VisitSituation.all.firstIndex(of: s) ?? VisitSituation.all.count }

    /// What is due for a household today, or nil when nothing is (its window is covered and no
    /// follow-up is near). A follow-up due no later than the plan's window end comes first.
    public static func due(period: VisitPeriod?, facts f: VisitFacts, today: Int64) -> DueItem? {
        var plan: DueItem?
        if let period {
            let w = period.window(containing: today)
            let lastDay = f.lastCounted.map(LocalDay.of)
            if (lastDay ?? Int64.min) < w.first {
                let previous = period.window(containing: w.first - 1)
                let missed = LocalDay.of(f.since) <= previous.last && (lastDay ?? Int64.min) < previous.first
                var retry: Int64?
                if let a = f.lastAttempt.map(LocalDay.of), a >= w.first, a + retryDays > today { retry = a + retryDays }
                plan = DueItem(reason: .plan, dueDay: w.last, overdue: missed, retryFrom: retry)
            }
        }
        if let d = f.followUpDay, today >= d - followUpLead {
            let follow = DueItem(reason: .followUp, dueDay: d, overdue: today > d, retryFrom: nil)
            if plan == nil || d <= plan!.dueDay { return follow }
        }
        return plan
    }

    /// The first day the household can be on the list, from the stored facts alone (no "today"):
    /// the due list reads only households whose day has come, and `due` decides the rest.
    public static func showFrom(period: VisitPeriod?, facts f: VisitFacts) -> Int64 {
        var day = Int64.max
        if let period {
            if let c = f.lastCounted.map(LocalDay.of) {
                day = period.window(containing: c).last + 1
            } else {
                day = LocalDay.of(f.since)
            }
        }
        if let d = f.followUpDay { day = min(day, d - followUpLead) }
        return day
    }

    /// The first day the household can be on the two-week list (`horizon` days ahead): missed
    /// windows, follow-ups, and what is due within the horizon. Like `showFrom`, from the stored
    /// facts alone, so the list reads only the rows it will show.
    public static func listFrom(period: VisitPeriod?, facts f: VisitFacts, horizon: Int64) -> Int64 {
        var day = Int64.max
        if let period {
            // The first window the household is due in, and the day its end comes within the horizon.
            let first = f.lastCounted.map { period.window(containing: LocalDay.of($0)).last + 1 } ?? LocalDay.of(f.since)
            day = max(first, period.window(containing: first).last - horizon)
        }
        if let d = f.followUpDay { day = min(day, d - followUpLead) }
        return day
    }

    /// Whether a due item belongs on the two-week list.
    public static func listed(_ d: DueItem, today: Int64, horizon: Int64) -> Bool {
        d.overdue || d.reason == .followUp || d.dueDay <= today + horizon
    }

    /// The order of a due list: overdue first, then what can be done today before what waits for
    /// a retry, then the nearest due day.
    public static func before(_ a: DueItem, _ b: DueItem, today: Int64) -> Bool {
        if a.overdue != b.overdue { return a.overdue }
        let aw = (a.retryFrom ?? today) > today, bw = (b.retryFrom ?? today) > today
        if aw != bw { return !aw }
        return a.dueDay < b.dueDay
    }
}
