import LinliCore
import LinliServer

/// How a service of the community's service centre (办事) is done: applied for online with
/// photos of the papers, at a counter by appointment (or walking in), or either.
public enum AffairMode: String, CaseIterable, Codable, Sendable {
    case online, counter, both
    var takesApplications: Bool { self != .counter }
    var takesBookings: Bool { self != .online }
}

/// Where an application stands. "Returned for missing papers" is a state of its own: how often
/// it happens is the measure of 最多跑一次 (at most one trip).
public enum ApplicationStatus: String, CaseIterable, Codable, Sendable {
    case submitted, returned, booked, waiting, handling, done, refused, cancelled
    case noShow = "no_show"

    /// Still asking something of the office or the applicant.
    var isOpen: Bool { ![.done, .refused, .cancelled, .noShow].contains(self) }
}

/// What someone does to an application. The applicant resubmits or cancels; staff do the rest.
public enum ApplicationStep: String, CaseIterable, Codable, Sendable {
    case resubmit, cancel, accept
    case returnPapers = "return"
    case arrive, call, done, refuse
    case noShow = "no_show"

    var byApplicant: Bool { self == .resubmit || self == .cancel }
    /// Sending papers back or refusing says why (the applicant reads it).
    var needsNote: Bool { self == .returnPapers || self == .refuse }
}

/// The plain rules of applications, slots and the office's measures (no I/O).
enum AffairRules {
    /// The status a step leads to from `status`, or nil when the step does not apply there.
    static func next(_ status: ApplicationStatus, _ step: ApplicationStep) -> ApplicationStatus? {
        switch (status, step) {
        case (.returned, .resubmit): .submitted
        case (.submitted, .cancel), (.returned, .cancel), (.booked, .cancel): .cancelled
        case (.submitted, .accept): .handling
        case (.submitted, .returnPapers), (.handling, .returnPapers), (.waiting, .returnPapers): .returned
        case (.booked, .arrive): .waiting
        case (.waiting, .call): .handling
        case (.handling, .done): .done
        case (.submitted, .refuse), (.handling, .refuse), (.waiting, .refuse): .refused
        case (.booked, .noShow): .noShow
        default: nil
        }
    }

    /// The steps open at `status` for the applicant or for staff.
    static func steps(_ status: ApplicationStatus, staff: Bool) -> [ApplicationStep] {
        ApplicationStep.allCases.filter { $0.byApplicant != staff && next(status, $0) != nil }
    }

    /// A day's counter slots: from `from` to `to` (minutes after midnight, China time) every
    /// `every` minutes, each `every` minutes long; a slot that would run past `to` is left out.
    static func slots(day: Int64, from: Int, to: Int, every: Int) -> [(start: Int64, end: Int64)] {
        guard every >= 5, from >= 0, to <= 24 * 60, from < to else { return [] }
        var out: [(Int64, Int64)] = []
        var m = from
        while m + every <= to {
            let start = LocalDay.start(day) + Int64(m) * 60
            out.append((start, start + Int64(every) * 60))
            m += every
        }
        return out
    }

    /// One finished application, as the measures need it.
    struct Finished: Equatable {
        var affairID: Int64
        var status: ApplicationStatus
        var returns: Int
        /// Seconds from arriving at the counter to being called (walk-ins and appointments).
        var waited: Int64?
        /// Seconds from submitting (or arriving) to the decision.
        var handled: Int64?
    }

    struct Measure: Equatable {
        var affairID: Int64
        var finished: Int
        var returnsPerApplication: Double
        /// Share of finished applications done without a single return (最多跑一次).
        var onceOnly: Double
        var noShows: Int
        var medianWaitMinutes: Int?
        var medianHandlingHours: Double?
    }

    /// Each service's measures over its finished applications (done or refused; no-shows counted
    /// apart, cancelled ones left out).
    static func measures(_ rows: [Finished]) -> [Measure] {
        Dictionary(grouping: rows, by: \.affairID).keys.sorted().map { id in
            let all = rows.filter { $0.affairID == id }
            let finished = all.filter { $0.status == .done || $0.status == .refused }
            let returns = finished.reduce(0) { $0 + $1.returns }
            return Measure(affairID: id, finished: finished.count,
                           returnsPerApplication: finished.isEmpty ? 0 : Double(returns) / Double(finished.count),
                           onceOnly: finished.isEmpty ? 0 : Double(finished.filter { $0.returns == 0 }.count) / Double(finished.count),
                           noShows: all.filter { $0.status == .noShow }.count,
                           medianWaitMinutes: median(finished.compactMap(\.waited)).map { Int(($0 + 30) / 60) },
                           medianHandlingHours: median(finished.compactMap(\.handled)).map { (Double($0) / 360).rounded() / 10 })
        }
    }

    /// The middle value (the lower of the two middle ones for an even count).
    static func median(_ xs: [Int64]) -> Int64? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s[(s.count - 1) / 2]
    }
}

/// Whom an activity is for: everyone below its place, or households with a resident of a kind.
public enum ActivityAudience: String, CaseIterable, Codable, Sendable {
    case all, elderly, child, disabled
    case lowIncome = "low_income"
    case veteran
}

/// The plain rules of activities (no I/O).
enum ActivityRules {
    /// A household may sign up when one of its residents is of the audience (living alone
    /// counts as elderly).
    static func qualifies(_ situations: Set<String>, _ audience: ActivityAudience) -> Bool {
        switch audience {
        case .all: true
        case .elderly: situations.contains("elderly") || situations.contains("elderly_alone")
        default: situations.contains(audience.rawValue)
        }
    }

    /// A household's address as an organisation running an activity sees it: the building and
    /// unit, not the door ("金桂苑1幢1单元101", door "101" → "金桂苑1幢1单元 ***"). An address
    /// that does not end with its door shows nothing of where the household lives.
    static func withoutDoor(_ address: String, door: String) -> String {
        guard !door.isEmpty, address.hasSuffix(door), address.count > door.count else { return "***" }
        return String(address.dropLast(door.count)) + " ***"
    }

    /// Who moves up from the waiting list when `room` places free: strictly in the order they
    /// signed up, stopping at the first party too large for what is left (no one jumps the queue).
    static func promoted(_ waiting: [(id: Int64, people: Int)], room: Int) -> [Int64] {
        var left = room, out: [Int64] = []
        for w in waiting {
            guard w.people <= left else { break }
            out.append(w.id)
            left -= w.people
        }
        return out
    }
}

/// Kinds of community spaces (党群微家, reading room, children's space, meeting room).
public enum SpaceKind: String, CaseIterable, Codable, Sendable {
    case partyHome = "party_home"
    case readingRoom = "reading_room"
    case children
    case meetingRoom = "meeting_room"
    case hall
}

/// The plain rules of booking spaces (no I/O).
enum SpaceRules {
    /// True when [start, end) lies inside one day's opening hours on an open weekday.
    static func withinHours(start: Int64, end: Int64, opens: Int, closes: Int, openDays: Set<Int>) -> Bool {
        let day = LocalDay.of(start)
        guard end > start, LocalDay.of(end - 1) == day, openDays.contains(LocalDay.weekday(day)) else { return false }
        return LocalDay.minute(start) >= opens && Int((end - LocalDay.start(day)) / 60) <= closes
    }

    /// Two half-open intervals share a moment.
    static func overlaps(_ a: (Int64, Int64), _ b: (Int64, Int64)) -> Bool { a.0 < b.1 && b.0 < a.1 }

    /// A weekly booking's occurrences: `weekday` (1 = Monday) from `from` to `to` (days), from
    /// minute `start` to `end`, leaving out the days in `except`.
    static func occurrences(weekday: Int, from: Int64, to: Int64, start: Int, end: Int, except: Set<Int64>) -> [(Int64, Int64)] {
        guard from <= to, start < end else { return [] }
        return (from...to).filter { LocalDay.weekday($0) == weekday && !except.contains($0) }.map {
            (LocalDay.start($0) + Int64(start) * 60, LocalDay.start($0) + Int64(end) * 60)
        }
    }
}

/// One meal subsidy rule (a district's or street's policy for a period), as data: who qualifies
/// (an age from which, or a situation such as 低保), how much is paid for them per meal, how much
/// of a delivery, and the least the diner still pays.
struct MealSubsidyRule: Equatable, Sendable {
    var id: Int64
    var label: String
    var fromDay: Int64
    var toDay: Int64?
    var minAge: Int?
    var situation: String?
    var subsidy: Int64
    var deliverySubsidy: Int64
    var minSpend: Int64
}

/// What one meal costs whom (no I/O). Money is in fen.
enum MealRules {
    struct Price: Equatable {
        var price: Int64
        var subsidy: Int64
        var pay: Int64
        var ruleID: Int64?
    }

    /// The rules in force on `day` that fit a diner of `age` with `situations`.
    static func applicable(_ rules: [MealSubsidyRule], day: Int64, age: Int, situations: Set<String>) -> [MealSubsidyRule] {
        rules.filter { r in
            r.fromDay <= day && (r.toDay.map { day <= $0 } ?? true)
                && (r.minAge.map { age >= $0 } ?? true) && (r.situation.map { situations.contains($0) } ?? true)
                && (r.minAge != nil || r.situation != nil)
        }
    }

    /// The diner's price: the most generous rule that fits, never below its least spend nor
    /// above the meal's price (a delivery adds its fee, less the rule's delivery subsidy).
    static func price(_ meal: Int64, deliveryFee: Int64?, rules: [MealSubsidyRule], day: Int64, age: Int, situations: Set<String>) -> Price {
        let full = meal + (deliveryFee ?? 0)
        let options = applicable(rules, day: day, age: age, situations: situations).map { r -> Price in
            let covered = min(full, r.subsidy + (deliveryFee == nil ? 0 : min(deliveryFee!, r.deliverySubsidy)))
            let pay = min(full, max(full - covered, r.minSpend))
            return Price(price: full, subsidy: full - pay, pay: pay, ruleID: r.id)
        }
        return options.max { ($0.subsidy, -($0.ruleID ?? 0)) < ($1.subsidy, -($1.ruleID ?? 0)) } ?? Price(price: full, subsidy: 0, pay: full, ruleID: nil)
    }

    /// Orders for a day close at the cut-off (minutes after midnight) of that day.
    static func open(day: Int64, cutoff: Int, now: Int64) -> Bool { now < LocalDay.start(day) + Int64(cutoff) * 60 }

    /// A meal is marked handed over or delivered on its day, or the next (a round finished after
    /// midnight); an older day's is left as it was.
    static func servable(day: Int64, today: Int64) -> Bool { day == today || day == today - 1 }
}

/// Paying for a meal is a pledge, as a gift is: the diner's share is owed from the order on, and
/// counted as paid only when the money has really arrived (the payment provider's signed
/// notification, a bank statement's line, or cash taken at the counter). States of an order's
/// payment: `none` (nothing to pay), `unpaid`, `paid`, `refund_due` (paid, then cancelled),
/// `refunded`.
enum MealPayRules {
    /// A new order owes its share, unless the subsidy covers the whole meal.
    static func initial(pay: Int64) -> String { pay > 0 ? "unpaid" : "none" }

    /// Cancelling: money that has arrived is owed back; an unpaid share is owed by no one.
    static func afterCancel(_ pay: String) -> String {
        switch pay {
        case "paid": "refund_due"
        case "unpaid": "none"
        default: pay
        }
    }

    /// Whether money that arrives from the provider or the bank is booked against the order: an
    /// unpaid share; or one cancelled meanwhile, since the money is there all the same (then
    /// owed back).
    static func acceptsArrival(pay: String, order: String, share: Int64) -> Bool {
        pay == "unpaid" || (order == "cancelled" && pay == "none" && share > 0)
    }

    /// The state once money has arrived.
    static func afterArrival(order: String) -> String { order == "cancelled" ? "refund_due" : "paid" }

    /// Cash at the counter is taken only for a meal still on and still unpaid.
    static func takesCash(pay: String, order: String) -> Bool { pay == "unpaid" && order != "cancelled" }
}
