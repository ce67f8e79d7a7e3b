import Foundation
import LinliCore
import LinliStore

// Plain types and rules of five-society linkage (五社联动): money in fen, volunteers' weekly
// availability, ranking and schedule filling, points, government matching, micro-project stages.
// No I/O here, so every rule is unit-tested directly.

/// Money is integer fen (分), never floating point.
public enum Fen {
    /// One hundred million yuan: above any community fund, below any overflow.
    public static let maximum: Int64 = 10_000_000_000

    /// Parses yuan as typed by a person ("50", "12.5", "1,000.00", "￥30") into fen. Refuses zero,
    /// negatives, more than two decimals and anything that is not a number, naming the field.
    public static func parse(_ raw: String?, field: String) throws -> Int64 {
        var s = (raw ?? "").trimmingCharacters(in: .whitespaces)
        for sym in ["￥", "¥", "元", ","] { s = s.replacingOccurrences(of: sym, with: "") }
        guard !s.isEmpty else { throw LinliError.invalid(field, "required", "请填写金额") }
        if s.hasPrefix("-") { throw LinliError.invalid(field, "not_positive", "金额必须大于零") }
        let bits = s.split(separator: ".", omittingEmptySubsequences: false)
        guard bits.count <= 2, let whole = bits.first, !whole.isEmpty || bits.count == 2,
              whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber),
              bits.count == 1 || (bits[1].allSatisfy(\.isASCII) && bits[1].allSatisfy(\.isNumber) && !bits[1].isEmpty) else {
            throw LinliError.invalid(field, "not_a_number", "金额应为数字，如 50 或 12.50")
        }
        if bits.count == 2, bits[1].count > 2 { throw LinliError.invalid(field, "too_precise", "金额最多精确到分（两位小数）") }
        guard whole.count <= 9 else { throw LinliError.invalid(field, "too_large", "金额过大") }
        let yuan = Int64(whole.isEmpty ? "0" : String(whole))!
        var fen = yuan * 100
        if bits.count == 2 { fen += Int64(bits[1].count == 1 ? String(bits[1]) + "0" : String(bits[1]))! }
        guard fen > 0 else { throw LinliError.invalid(field, "not_positive", "金额必须大于零") }
        guard fen <= maximum else { throw LinliError.invalid(field, "too_large", "金额过大") }
        return fen
    }

    /// `1234567` → `12,345.67`.
    public static func text(_ fen: Int64) -> String {
        let sign = fen < 0 ? "-" : ""
        let a = fen.magnitude
        var whole = String(a / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        let cents = a % 100
        return sign + whole + grouped + "." + (cents < 10 ? "0" : "") + String(cents)
    }
}

extension Validator {
    /// Parses an amount, recording a refusal beside the other fields' instead of throwing at once.
    package mutating func fen(_ raw: String?, _ field: String) -> Int64 {
        do { return try Fen.parse(raw, field: field) } catch let e as LinliError { add(e); return 0 } catch { return 0 }
    }
}


/// When a volunteer can help: periods of a weekday, in minutes of the day.
public struct Availability: Sendable, Codable, Equatable {
    public struct Slot: Sendable, Codable, Equatable, Hashable {
        public var weekday: Int
        public var from: Int
        public var to: Int
        public init(weekday: Int, from: Int, to: Int) { self.weekday = weekday; self.from = from; self.to = to }
    }
    public var slots: [Slot]
    public init(_ slots: [Slot]) { self.slots = slots }

    /// The three periods a form offers for each weekday.
    public static let periods: [(code: String, from: Int, to: Int)] = [("am", 8 * 60, 12 * 60), ("pm", 12 * 60, 18 * 60), ("eve", 18 * 60, 21 * 60)]

    /// From form keys such as `1am`, `3pm`, `7eve`.
    public static func from(keys: [String]) -> Availability {
        var out: [Slot] = []
        for k in Set(keys) {
            guard let d = k.first.flatMap({ Int(String($0)) }), (1...7).contains(d),
                  let p = periods.first(where: { $0.code == String(k.dropFirst()) }) else { continue }
            out.append(Slot(weekday: d, from: p.from, to: p.to))
        }
        return Availability(out.sorted { ($0.weekday, $0.from) < ($1.weekday, $1.from) })
    }
    public var keys: Set<String> {
        Set(slots.compactMap { s in Self.periods.first { $0.from == s.from && $0.to == s.to }.map { "\(s.weekday)\($0.code)" } })
    }

    /// Per weekday (index 1…7), the periods joined where they touch: what `covers` checks, computed once.
    public var merged: [[(Int, Int)]] {
        var out = Array(repeating: [(Int, Int)](), count: 8)
        for s in slots.sorted(by: { ($0.weekday, $0.from) < ($1.weekday, $1.from) }) where (1...7).contains(s.weekday) {
            if let last = out[s.weekday].last, s.from <= last.1 { out[s.weekday][out[s.weekday].count - 1].1 = max(last.1, s.to) }
            else { out[s.weekday].append((s.from, s.to)) }
        }
        return out
    }

    static func covers(_ merged: [[(Int, Int)]], weekday: Int, from: Int, to: Int) -> Bool {
        guard (1...7).contains(weekday) else { return false }
        return merged[weekday].contains { $0.0 <= from && to <= $0.1 }
    }

    /// Whether [from, to) on this weekday lies inside the union of the volunteer's periods
    /// (adjacent periods join, so 11:00–13:00 fits "morning" + "afternoon").
    public func covers(weekday: Int, from: Int, to: Int) -> Bool { Self.covers(merged, weekday: weekday, from: from, to: to) }
}

/// What matching knows of a volunteer.
public struct VolunteerProfile: Sendable {
    public var id: Int64
    public var skills: Set<String>
    public var availability: Availability
    public var lat: Double?
    public var lng: Double?
    public var teamIDs: Set<Int64>
    public init(id: Int64, skills: Set<String>, availability: Availability, lat: Double?, lng: Double?, teamIDs: Set<Int64> = []) {
        self.id = id; self.skills = skills; self.availability = availability; self.lat = lat; self.lng = lng; self.teamIDs = teamIDs
    }
}

/// What a task asks of whoever takes its shifts.
public struct TaskNeeds: Sendable {
    public var taskID: Int64
    public var skills: Set<String>
    public var lat: Double?
    public var lng: Double?
    public var teamID: Int64?
    public var maxDistance: Double
    public init(taskID: Int64, skills: Set<String>, lat: Double?, lng: Double?, teamID: Int64? = nil, maxDistance: Double = VolunteerMatching.defaultMaxDistance) {
        self.taskID = taskID; self.skills = skills; self.lat = lat; self.lng = lng; self.teamID = teamID; self.maxDistance = maxDistance
    }
}

/// One dated occurrence of a task.
public struct ShiftSlot: Sendable {
    public var id: Int64
    public var taskID: Int64
    public var startsAt: Int64
    public var endsAt: Int64
    public var headcount: Int
    /// Volunteers already holding it (proposed, accepted or confirmed).
    public var holders: [Int64]
    /// Volunteers who declined it: never proposed again for it.
    public var declined: Set<Int64>
    public init(id: Int64, taskID: Int64, startsAt: Int64, endsAt: Int64, headcount: Int, holders: [Int64] = [], declined: Set<Int64> = []) {
        self.id = id; self.taskID = taskID; self.startsAt = startsAt; self.endsAt = endsAt; self.headcount = headcount; self.holders = holders; self.declined = declined
    }
    var day: Int64 { LocalDay.of(startsAt) }
}

/// A volunteer's standing for one shift: why they cannot take it, or how well they fit.
public struct Candidate: Sendable, Equatable {
    public enum Unfit: String, Sendable { case skills, team, unavailable, tooFar = "too_far", busy, declined, overloaded, holding }
    public var volunteerID: Int64
    public var unfit: Unfit?
    /// 0…100, higher is better: nearer and less loaded this month.
    public var score: Int
    public var distance: Double?
    public var loadMinutes: Int
}

/// Ranking and month filling: availability, skills, team and reach decide who can; fairness of
/// load, then distance, decide who is asked first, so nobody is worn out.
public enum VolunteerMatching {
    public static let defaultMaxDistance = 3_000.0
    /// Above this a volunteer gets no more shifts this month from the filler.
    public static let defaultMonthlyCapMinutes = 40 * 60

    /// 100 for someone on the spot with nothing yet this month. An hour already served this month
    /// costs 10 points and a kilometre 3, so the filler rotates through everyone within reach
    /// before giving anyone a second shift, and among the equally loaded prefers the nearest.
    public static func score(loadMinutes: Int, distance: Double?) -> Int {
        let km = (distance ?? 1500) / 1000
        return max(0, min(100, Int((100 - Double(loadMinutes) / 6 - 3 * km).rounded())))
    }

    /// Busy intervals per volunteer (their other shifts), sorted by start.
    public typealias Busy = [Int64: [(Int64, Int64)]]

    static func overlaps(_ busy: [(Int64, Int64)]?, _ from: Int64, _ to: Int64) -> Bool {
        guard let busy else { return false }
        for (a, b) in busy where a < to && from < b { return true }
        return false
    }

    public static func assess(_ v: VolunteerProfile, _ needs: TaskNeeds, _ shift: ShiftSlot, busy: Busy, load: [Int64: Int],
                              monthlyCap: Int = defaultMonthlyCapMinutes) -> Candidate {
        let loadMinutes = load[v.id] ?? 0
        var distance: Double?
        if let a = v.lat, let b = v.lng, let c = needs.lat, let d = needs.lng { distance = distanceMetres(a, b, c, d) }
        func out(_ u: Candidate.Unfit?) -> Candidate {
            Candidate(volunteerID: v.id, unfit: u, score: score(loadMinutes: loadMinutes, distance: distance), distance: distance, loadMinutes: loadMinutes)
        }
        if shift.holders.contains(v.id) { return out(.holding) }
        if shift.declined.contains(v.id) { return out(.declined) }
        if !needs.skills.isSubset(of: v.skills) { return out(.skills) }
        if let t = needs.teamID, !v.teamIDs.contains(t) { return out(.team) }
        let from = LocalDay.minute(shift.startsAt)
        let to = from + Int((shift.endsAt - shift.startsAt) / 60)
        if !v.availability.covers(weekday: LocalDay.weekday(shift.day), from: from, to: to) { return out(.unavailable) }
        if let d = distance, d > needs.maxDistance { return out(.tooFar) }
        if overlaps(busy[v.id], shift.startsAt, shift.endsAt) { return out(.busy) }
        if loadMinutes + Int((shift.endsAt - shift.startsAt) / 60) > monthlyCap { return out(.overloaded) }
        return out(nil)
    }

    /// Everyone who could take the shift, best first (ties by distance, then id).
    public static func rank(_ volunteers: [VolunteerProfile], _ needs: TaskNeeds, _ shift: ShiftSlot, busy: Busy, load: [Int64: Int],
                            monthlyCap: Int = defaultMonthlyCapMinutes) -> [Candidate] {
        volunteers.map { assess($0, needs, shift, busy: busy, load: load, monthlyCap: monthlyCap) }
            .sorted { a, b in
                if (a.unfit == nil) != (b.unfit == nil) { return a.unfit == nil }
                if a.score != b.score { return a.score > b.score }
                if (a.distance ?? .infinity) != (b.distance ?? .infinity) { return (a.distance ?? .infinity) < (b.distance ?? .infinity) }
                return a.volunteerID < b.volunteerID
            }
    }

    /// Why a shift stays short: the community's volunteers who cannot take it, counted by reason
    /// (those already on it are not a reason). Worked examples in ModelTests.
    public static func whyShort(_ volunteers: [VolunteerProfile], _ needs: TaskNeeds, _ shift: ShiftSlot, busy: Busy, load: [Int64: Int],
                                monthlyCap: Int = defaultMonthlyCapMinutes) -> [String: Int] {
        var out: [String: Int] = [:]
        for v in volunteers {
            guard let u = assess(v, needs, shift, busy: busy, load: load, monthlyCap: monthlyCap).unfit, u != .holding else { continue }
            out[u.rawValue, default: 0] += 1
        }
        return out
    }

    public struct Plan: Sendable {
        public var proposals: [(shiftID: Int64, volunteerID: Int64)] = []
        /// Shifts still short after filling, with how many people they lack and why the others
        /// could not come (`whyShort`, with the bookings this fill had made by then).
        public var uncovered: [(shiftID: Int64, missing: Int, reasons: [String: Int])] = []
    }

    /// Fills shifts in time order, each with its best-ranked free volunteers; updates load and
    /// busy time as it goes so that nobody is double-booked or loaded past the cap.
    public static func fill(_ shifts: [ShiftSlot], needs: [Int64: TaskNeeds], volunteers: [VolunteerProfile], busy: Busy, load: [Int64: Int],
                            monthlyCap: Int = defaultMonthlyCapMinutes) -> Plan {
        var busy = busy, load = load, plan = Plan()
        // Per task, those with the skills, team and distance: the checks that do not change with the day.
        var pool: [Int64: [(VolunteerProfile, Double?)]] = [:]
        let merged = Dictionary(uniqueKeysWithValues: volunteers.map { ($0.id, $0.availability.merged) })
        for (task, n) in needs {
            pool[task] = volunteers.compactMap { v in
                guard n.skills.isSubset(of: v.skills), n.teamID.map(v.teamIDs.contains) ?? true else { return nil }
                var d: Double?
                if let a = v.lat, let b = v.lng, let c = n.lat, let e = n.lng { d = distanceMetres(a, b, c, e) }
                if let d, d > n.maxDistance { return nil }
                return (v, d)
            }
        }
        for s in shifts.sorted(by: { ($0.startsAt, $0.id) < ($1.startsAt, $1.id) }) {
            var missing = s.headcount - s.holders.count
            guard missing > 0, let n = needs[s.taskID] else { continue }
            let minutes = Int((s.endsAt - s.startsAt) / 60)
            let from = LocalDay.minute(s.startsAt), wd = LocalDay.weekday(s.day)
            var best: [(key: (Int, Double, Int64), v: Int64)] = []
            for (v, d) in pool[s.taskID] ?? [] {
                if s.holders.contains(v.id) || s.declined.contains(v.id) { continue }
                let l = load[v.id] ?? 0
                guard l + minutes <= monthlyCap, Availability.covers(merged[v.id]!, weekday: wd, from: from, to: from + minutes),
                      !overlaps(busy[v.id], s.startsAt, s.endsAt) else { continue }
                let key = (-score(loadMinutes: l, distance: d), d ?? .infinity, v.id)
                // Keep only the best `missing` seen so far (headcounts are small).
                if best.count < missing || key < best[best.count - 1].key {
                    let at = best.firstIndex { key < $0.key } ?? best.count
                    best.insert((key, v.id), at: at)
                    if best.count > missing { best.removeLast() }
                }
            }
            for b in best {
                plan.proposals.append((s.id, b.v))
                load[b.v, default: 0] += minutes
                busy[b.v, default: []].append((s.startsAt, s.endsAt))
                missing -= 1
            }
            if missing > 0 {
                // Those just proposed here are on it now, not a reason.
                var held = s
                held.holders += best.map(\.v)
                plan.uncovered.append((s.id, missing, whyShort(volunteers, n, held, busy: busy, load: load, monthlyCap: monthlyCap)))
            }
        }
        return plan
    }

    /// The dated shifts of a recurring task between two days (inclusive): one per listed weekday.
    public static func occurrences(firstDay: Int64, lastDay: Int64, weekdays: Set<Int>, startMinute: Int, durationMinutes: Int) -> [(Int64, Int64)] {
        guard firstDay <= lastDay else { return [] }
        return (firstDay...lastDay).compactMap { d in
            guard weekdays.contains(LocalDay.weekday(d)) else { return nil }
            let s = LocalDay.start(d) + Int64(startMinute) * 60
            return (s, s + Int64(durationMinutes) * 60)
        }
    }
}

/// Points for confirmed service: a task's points per hour times the confirmed minutes, rounded down.
public enum PointsRule {
    public static let defaultPerHour = 10
    public static func points(minutes: Int, perHour: Int) -> Int { max(0, minutes) * max(0, perHour) / 60 }
}

/// Government matching of a crowdfunding campaign (Pinghu): nothing until the residents' and
/// merchants' gifts reach the seed amount, then `ratio` percent of what was raised, never more
/// than the per-project cap, and never more than the pool still holds.
public enum MatchingRule {
    public static func entitled(raised: Int64, seed: Int64, ratioPercent: Int, cap: Int64) -> Int64 {
        guard raised >= seed, raised > 0 else { return 0 }
        return min(raised * Int64(ratioPercent) / 100, cap)
    }
    /// What may be matched now: the entitlement not yet matched, limited by the pool.
    public static func due(raised: Int64, matched: Int64, seed: Int64, ratioPercent: Int, cap: Int64, pool: Int64) -> Int64 {
        max(0, min(entitled(raised: raised, seed: seed, ratioPercent: ratioPercent, cap: cap) - matched, pool))
    }
}

/// A micro-project's stages (seed 001): analysis → decision → execution → evaluation → done.
public enum ProjectStage: String, Sendable, CaseIterable, Codable {
    case analysis, decision, execution, evaluation, done
    public var next: ProjectStage? {
        switch self {
        case .analysis: .decision
        case .decision: .execution
        case .execution: .evaluation
        case .evaluation: .done
        case .done: nil
        }
    }
}

/// One leg of a double-entry transaction. A transaction's legs always sum to zero.
public struct Posting: Sendable, Equatable {
    public var account: Int64
    public var amount: Int64
    public init(_ account: Int64, _ amount: Int64) { self.account = account; self.amount = amount }
    public static func balanced(_ p: [Posting]) -> Bool { p.count >= 2 && p.reduce(0) { $0 + $1.amount } == 0 }
}

public enum VolunteerSkills {
    /// The skills a form offers; free text is allowed too.
    public static let common: [(String, String, String)] = [
        ("delivery", "送餐送物", "Deliveries"), ("carry", "搬运", "Carrying"), ("drive", "驾驶", "Driving"),
        ("care", "陪护照料", "Care"), ("medical", "医护", "Medical"), ("tutoring", "课业辅导", "Tutoring"),
        ("repair", "维修", "Repairs"), ("legal", "法律咨询", "Legal advice"), ("psych", "心理疏导", "Counselling"),
        ("sign", "手语", "Sign language"), ("dialect", "方言", "Local dialect"), ("it", "电脑手机", "Phones and computers"),
    ]
}

/// A volunteer's place on a shift (`shift_assignments.status`).
public enum ShiftStatus: String, Sendable, CaseIterable, Codable {
    /// Staff put the volunteer forward; the volunteer has not answered.
    case proposed
    /// The volunteer said yes (or signed up themselves); staff have not confirmed.
    case accepted
    case declined
    /// Staff confirmed: the volunteer is expected (and may take a delivery round).
    case confirmed
    /// Checked out: the time served is known, waiting for staff to confirm the hours.
    case done
    /// The task was closed before the shift.
    case cancelled

    /// Holds one of the shift's places and the volunteer's time: counted against the headcount,
    /// and no other shift at the same time may be taken.
    public var holdsPlace: Bool { [.proposed, .accepted, .confirmed, .done].contains(self) }

    /// The statuses that hold a place, as an SQL list of their (constant) names.
    public static let holdingSQL = "(" + allCases.filter(\.holdsPlace).map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
}

public enum ShiftStep: String, Sendable, CaseIterable {
    /// Staff propose the volunteer.
    case propose
    /// The volunteer signs up for a free place themselves.
    case signUp = "sign_up"
    case accept, decline, confirm
    case checkIn = "check_in"
    case checkOut = "check_out"
    /// The task is closed: places not yet begun are given back.
    case cancel

    /// The state machine: the status after this step from `s` (nil: no place on the shift yet),
    /// or nil when the step is not allowed. `checkedIn` is whether the volunteer has checked in.
    public func next(from s: ShiftStatus?, checkedIn: Bool) -> ShiftStatus? {
        switch (self, s) {
        // A place given back (declined, cancelled) may be offered or taken again.
        case (.propose, nil), (.propose, .declined), (.propose, .cancelled): .proposed
        case (.signUp, nil), (.signUp, .declined), (.signUp, .cancelled): .accepted
        case (.accept, .proposed): .accepted
        // Saying no is possible until the volunteer has checked in.
        case (.decline, .proposed): .declined
        case (.decline, .accepted), (.decline, .confirmed): checkedIn ? nil : .declined
        case (.confirm, .accepted): .confirmed
        // Checking in leaves the status as it is; only once.
        case (.checkIn, .accepted), (.checkIn, .confirmed): checkedIn ? nil : s
        case (.checkOut, .accepted), (.checkOut, .confirmed): checkedIn ? .done : nil
        case (.cancel, .proposed), (.cancel, .accepted), (.cancel, .confirmed): checkedIn ? nil : .cancelled
        default: nil
        }
    }
}

extension ShiftStep {
    /// The statuses this step may leave (before check-in), as an SQL list of their names.
    public var fromSQL: String {
        "(" + ShiftStatus.allCases.filter { next(from: $0, checkedIn: false) != nil }.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }
}
