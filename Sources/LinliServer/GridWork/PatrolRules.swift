import Foundation
import LinliCore

/// How often a patrol route (巡查路线) is walked. Windows follow the calendar as the visit plan's
/// do (a week is Monday to Sunday); any patrol inside a window counts for it.
public enum PatrolPeriod: String, CaseIterable, Codable, Sendable {
    case day, week, fortnight, month

    public func window(containing day: Int64) -> (first: Int64, last: Int64) {
        switch self {
        case .day: (day, day)
        case .week: VisitPeriod.week.window(containing: day)
        case .fortnight: VisitPeriod.fortnight.window(containing: day)
        case .month: VisitPeriod.month.window(containing: day)
        }
    }
}

/// What a patrol found at a check point. Each kind suggests the request category its finding is
/// filed under (the worker may choose another).
public enum PatrolFinding: String, CaseIterable, Codable, Sendable {
    /// A safety hazard (loose wiring, a cracked wall, a gas smell).
    case hazard
    /// A fire passage or stairwell blocked (消防通道堵塞).
    case firePassage = "fire_passage"
    /// Building without permission (违章搭建).
    case illegalBuilding = "illegal_building"
    case sanitation
    /// A public facility broken (a light, a railing, a manhole cover).
    case facility
    case other

    public var suggestedCategory: String {
        switch self {
        case .hazard, .facility: "public_facility"
        case .firePassage: "parking"
        case .illegalBuilding: "street_public"
        case .sanitation: "sanitation"
        case .other: "other"
        }
    }
}

/// A check point's result on one patrol.
public enum PatrolResult: String, CaseIterable, Codable, Sendable {
    case ok, finding
    /// Not reached this time (locked, works going on); said, not silently left out.
    case skipped
}

/// Where a route stands against its schedule today.
public enum PatrolState: String, Codable, Sendable {
    /// Walked in the current window.
    case done
    /// Not yet walked in this window; the last one was covered (or the route is new).
    case due
    /// The whole previous window went without a patrol.
    case overdue
}

/// The plain rules of patrols: a route's state, and what a route and a patrol must hold. No I/O.
public enum PatrolRules {
    public static let pointsMax = 40, labelMax = 40, nameMax = 40, noteMax = 500

    /// `last`: the day of the latest patrol, nil if never; `since`: the day the route began.
    public static func state(period: PatrolPeriod, last: Int64?, since: Int64, today: Int64) -> PatrolState {
        let current = period.window(containing: today)
        if let last, last >= current.first { return .done }
        let previous = period.window(containing: current.first - 1)
        // A route owes the previous window only if it was there for all of it.
        if since > previous.first { return .due }
        if let last, last >= previous.first { return .due }
        return .overdue
    }

    /// The last day of the window to walk the route in (the due date shown).
    public static func dueBy(period: PatrolPeriod, today: Int64) -> Int64 { period.window(containing: today).last }

    public struct Point: Sendable, Equatable, Codable {
        public var label: String
        public var placeID: Int64?
        public init(label: String, placeID: Int64? = nil) { self.label = label; self.placeID = placeID }
        enum CodingKeys: String, CodingKey { case label, placeID = "place_id" }
    }

    /// Checks a route's name, period and points, naming each bad one.
    public static func checkRoute(name: String, period raw: String?, points: [Point], _ v: inout Validator) -> PatrolPeriod? {
        v.check(!name.isEmpty, "name", "required", "请填写路线名称")
        v.check(name.count <= nameMax, "name", "too_long", "路线名称不能超过 \(nameMax) 个字")
        let period = raw.flatMap(PatrolPeriod.init(rawValue:))
        v.check(period != nil, "period", "invalid_choice", "请选择巡查频次：每天、每周、每两周或每月")
        v.check(!points.isEmpty, "points", "required", "请至少写一个巡查点")
        v.check(points.count <= pointsMax, "points", "too_many", "一条路线最多 \(pointsMax) 个巡查点")
        for (i, p) in points.enumerated() {
            v.check(!p.label.isEmpty, "points[\(i)].label", "required", "第 \(i + 1) 个巡查点没有名称")
            v.check(p.label.count <= labelMax, "points[\(i)].label", "too_long", "第 \(i + 1) 个巡查点名称不能超过 \(labelMax) 个字")
        }
        return period
    }

    public struct Check: Sendable, Equatable {
        public var result: PatrolResult
        public var finding: PatrolFinding?
        public var note: String
        /// File the finding as a request (unless it was put right on the spot), in this category.
        public var category: String?
    }

    /// Checks one point's result: a finding names its kind and what was seen, and, unless put
    /// right on the spot, the request category it is filed under.
    public static func checkPoint(_ i: Int, result raw: String?, finding rawFinding: String?, note: String, handled: Bool, category: String?,
                                  categories: Set<String>, _ v: inout Validator) -> Check? {
        let field = "checks[\(i)]"
        let result = raw.flatMap(PatrolResult.init(rawValue:))
        v.check(result != nil, field + ".result", "invalid_choice", "第 \(i + 1) 个巡查点：请选择正常、发现问题或未巡到")
        v.check(note.count <= noteMax, field + ".note", "too_long", "第 \(i + 1) 个巡查点：情况说明不能超过 \(noteMax) 个字")
        guard let result else { return nil }
        guard result == .finding else { return Check(result: result, finding: nil, note: note, category: nil) }
        let finding = rawFinding.flatMap(PatrolFinding.init(rawValue:))
        v.check(finding != nil, field + ".finding", "invalid_choice", "第 \(i + 1) 个巡查点：请选择发现的问题类型")
        v.check(!note.isEmpty, field + ".note", "required", "第 \(i + 1) 个巡查点：请写明看到了什么")
        var filed: String?
        if !handled {
            filed = category ?? finding?.suggestedCategory
            v.check(filed.map(categories.contains) ?? false, field + ".category", "invalid_choice", "第 \(i + 1) 个巡查点：请选择诉求类别")
        }
        return Check(result: result, finding: finding, note: note, category: filed)
    }

    /// Positions a phone may record on one patrol (one every few seconds for a few hours).
    public static let trackMax = 5000

    /// Checks a walked track: [lat, lng] or [lat, lng, seconds] per point, on the globe, at most
    /// `trackMax`; returns the points as [lat, lng], six decimals.
    public static func checkTrack(_ raw: [[Double]], _ v: inout Validator) -> [[Double]] {
        guard raw.count <= trackMax else { v.add(.invalid("track", "too_many", "轨迹点过多（最多 \(trackMax) 个）")); return [] }
        var out: [[Double]] = []
        for (i, p) in raw.enumerated() {
            guard p.count >= 2, p[0].isFinite, p[1].isFinite, (-90...90).contains(p[0]), (-180...180).contains(p[1]) else {
                v.add(.invalid("track", "out_of_range", "第 \(i + 1) 个轨迹点的坐标不对")); return []
            }
            out.append([(p[0] * 1_000_000).rounded() / 1_000_000, (p[1] * 1_000_000).rounded() / 1_000_000])
        }
        return out
    }

    /// The length of a track in metres, along the ground (`Geo.metres`: enough to say "walked 1.2 km").
    public static func trackMetres(_ points: [[Double]]) -> Int {
        guard points.count > 1 else { return 0 }
        var total = 0.0
        for i in 1..<points.count {
            let (a, b) = (points[i - 1], points[i])
            total += Geo.metres(a[0], a[1], b[0], b[1])
        }
        return Int(total.rounded())
    }
}
