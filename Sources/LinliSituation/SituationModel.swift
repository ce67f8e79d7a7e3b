import Foundation
import LinliCore
import LinliServer

/// The situation map's (村情图) plain rules, without I/O (worked examples in SituationModelTests).
public enum SituationModel {
    /// Squares per degree of the requests' density layer: about 55 m at a community's scale,
    /// about 220 m at a street's. Both are scales the requests keep their spots at
    /// (`RequestsService.spotScales`), so that whole months are read from those.
    public static func perDegree(placeRank: Int) -> Double { Double(RequestsService.spotScales[placeRank >= 3 ? 1 : 0]) }

    /// The longest period the density layer counts over (a year and a day, for a leap year).
    public static let longestPeriod: Int64 = 366

    /// The period [from, to] of local days the requests' layer counts, from the query's `from` and
    /// `to` (inclusive, YYYY-MM-DD): by default the 90 days to today. Refused naming the field
    /// when a date is not one, `to` is before `from`, or the span is longer than a year.
    public static func period(from: String?, to: String?, today: Int64) throws -> (from: Int64, to: Int64) {
        let t = try Input.day(to, field: "to") ?? today
        let f = try Input.day(from, field: "from") ?? (t - 89)
        var v = Validator()
        // Named by the date the user gave: a future `from` alone is that field's fault.
        v.check(f <= t, (to ?? "").isEmpty ? "from" : "to", "before_from", "结束日期不能早于开始日期")
        v.check(t - f < longestPeriod, "from", "too_long", "时段不能超过一年")
        try v.throwIfAny()
        return (f, t)
    }

    /// A grid's area on the map: a square (`pad` degrees of latitude each way, as wide on the
    /// ground) around each of its buildings' points, so that a grid drawn over buildings of several
    /// compounds shows exactly those buildings (a hull around them would paint the compounds
    /// between). Each square is [[lat, lng] × 4], counter-clockwise from south-west; one square
    /// per distinct point, in the order first seen.
    public static func squares(_ points: [(lat: Double, lng: Double)], pad: Double) -> [[[Double]]] {
        // Six decimals (about 0.1 m) are all a map needs.
        func r(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }
        var seen = Set<[Double]>()
        var out: [[[Double]]] = []
        for p in points where seen.insert([r(p.lat), r(p.lng)]).inserted {
            let k = max(cos(p.lat * .pi / 180), 0.01), px = pad / k
            out.append([[r(p.lat - pad), r(p.lng - px)], [r(p.lat - pad), r(p.lng + px)], [r(p.lat + pad), r(p.lng + px)], [r(p.lat + pad), r(p.lng - px)]])
        }
        return out
    }

    /// The name of the point nearest to (lat, lng), distances measured on the ground (a degree of
    /// longitude shortened by cos(latitude)); nil when there is none.
    public static func nearest(_ points: [(name: String, lat: Double, lng: Double)], lat: Double, lng: Double) -> String? {
        let k = cos(lat * .pi / 180)
        func d(_ p: (name: String, lat: Double, lng: Double)) -> Double { pow(p.lat - lat, 2) + pow((p.lng - lng) * k, 2) }
        return points.min { d($0) < d($1) }?.name
    }

    /// Visit coverage as a whole percentage (rounded down, so 99.6 % is not shown as done), nil
    /// when nothing is planned.
    public static func rate(covered: Int, planned: Int) -> Int? { planned > 0 ? covered * 100 / planned : nil }

    /// The colour band a coverage rate is drawn in: under half, under 80 %, or 80 % and over.
    public static func band(_ rate: Int?) -> String {
        guard let rate else { return "none" }
        return rate < 50 ? "low" : rate < 80 ? "mid" : "high"
    }
}
