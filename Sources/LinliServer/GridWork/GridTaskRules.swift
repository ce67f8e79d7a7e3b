import LinliCore

/// What a grid worker records for one household of a task from the community ("check every
/// household of building 3 for the gas-safety notice"): done, done with a problem found (what,
/// in the feedback), or nobody home (an attempt; the household stays open).
public enum GridTaskOutcome: String, CaseIterable, Codable, Sendable {
    case done, problem, absent

    /// Whether the household counts as handled (done or problem); an attempt does not.
    var settles: Bool { self != .absent }
}

/// Where a task stands, as both sides' lists show it.
public enum GridTaskState: String, Codable, Sendable {
    /// Households are left and the deadline has not passed.
    case open
    /// Households are left after the deadline.
    case overdue
    /// Every household is handled.
    case complete
    /// The community ended it (households still open stay so, and are shown as not done).
    case closed
}

/// The plain rules of community tasks to grid workers: their state, how a household's outcome
/// moves the task's counts, and what a deadline and an outcome must be. No I/O.
public enum GridTaskRules {
    /// A deadline is today or later, and within a year (a task is this season's work).
    public static let longestDays: Int64 = 366
    public static let titleMax = 60, bodyMax = 2000, feedbackMax = 500

    public static func state(households: Int, settled: Int, deadline: Int64, today: Int64, closed: Bool) -> GridTaskState {
        if closed { return .closed }
        if settled >= households { return .complete }
        return today > deadline ? .overdue : .open
    }

    /// How the task's done and problem counts move when a household's outcome goes from `old`
    /// (nil: nothing recorded) to `new`. An attempt after a settled outcome is refused before
    /// this (the household was reached), so it never un-counts one.
    public static func delta(from old: GridTaskOutcome?, to new: GridTaskOutcome) -> (done: Int, problem: Int) {
        func counts(_ o: GridTaskOutcome?) -> (Int, Int) { (o == .done ? 1 : 0, o == .problem ? 1 : 0) }
        let (d0, p0) = counts(old), (d1, p1) = counts(new)
        return (d1 - d0, p1 - p0)
    }

    /// Checks what was recorded: a known outcome, a problem says what it is, feedback not too long.
    public static func check(outcome raw: String?, feedback: String, _ v: inout Validator) -> GridTaskOutcome? {
        let outcome = raw.flatMap(GridTaskOutcome.init(rawValue:))
        v.check(outcome != nil, "outcome", "invalid_choice", "请选择完成情况：已完成、发现问题或不在家")
        v.check(outcome != .problem || !feedback.isEmpty, "feedback", "required", "发现问题时请写明是什么问题")
        v.check(feedback.count <= feedbackMax, "feedback", "too_long", "反馈不能超过 \(feedbackMax) 个字")
        return outcome
    }

    /// Checks a task's deadline against today.
    public static func checkDeadline(_ day: Int64?, today: Int64, _ v: inout Validator) {
        guard let day else { return v.check(false, "deadline", "required", "请填写截止日期") }
        v.check(day >= today, "deadline", "in_past", "截止日期不能早于今天")
        v.check(day <= today + longestDays, "deadline", "too_far", "截止日期不能晚于一年以后")
    }
}
