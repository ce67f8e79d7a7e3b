import LinliCore
import LinliServer

/// A category asked for more in the latest months than in the months before them.
public struct RisingCategory: Sendable, Equatable, Codable {
    public var category: String
    public var recent: Int
    public var before: Int
    public var change: Int
    /// Percent more than before; nil when there was none before (a new need).
    public var percent: Int?
}

/// Needs analysis's plain rules, without I/O (worked examples in SituationModelTests).
public enum NeedsModel {
    /// The longest range of months the analysis covers.
    public static let longestRange = 24
    /// Months compared for rising categories: the latest three against the three before.
    public static let risingWindow = 3
    /// Days a building's repeated requests are looked for in, up to the range's end.
    public static let repeatDays: Int64 = 90
    /// Requests of one category from one building in that time that make it "repeated".
    public static let repeatAtLeast = 3

    /// "2026-03" → 202603; nil for nothing; refused naming the field otherwise.
    public static func month(_ raw: String?, field: String) throws -> Int? {
        guard let raw, !raw.isEmpty else { return nil }
        let b = Array(raw.trimmingCharacters(in: .whitespaces).utf8)
        guard b.count == 7, b[4] == UInt8(ascii: "-"), let y = Int(String(decoding: b[0..<4], as: UTF8.self)),
              let m = Int(String(decoding: b[5..<7], as: UTF8.self)), (Input.firstYear...Input.lastYear).contains(Int64(y)), (1...12).contains(m) else {
            throw LinliError.invalid(field, "invalid_month", "\(field) 应为月份，格式 YYYY-MM")
        }
        return y * 100 + m
    }

    public static func text(_ month: Int) -> String { String(month / 100) + "-" + (month % 100 < 10 ? "0" : "") + String(month % 100) }

    static func next(_ m: Int) -> Int { m % 100 == 12 ? (m / 100 + 1) * 100 + 1 : m + 1 }
    static func previous(_ m: Int) -> Int { m % 100 == 1 ? (m / 100 - 1) * 100 + 12 : m - 1 }

    /// The months [from, to] the analysis shows: by default the twelve to this month. Refused
    /// when a month is not one, `to` is before `from`, or the range is over two years.
    public static func range(from: String?, to: String?, today: Int64) throws -> [Int] {
        let now = ChinaTime.civil(day: today)
        let t = try month(to, field: "to_month") ?? Int(now.year * 100 + now.month)
        var f = try month(from, field: "from_month")
        if f == nil { var m = t; for _ in 0..<11 { m = previous(m) }; f = m }
        var v = Validator()
        v.check(f! <= t, (to ?? "").isEmpty ? "from_month" : "to_month", "before_from", "结束月份不能早于开始月份")
        var months: [Int] = []
        var m = f!
        while m <= t, months.count <= longestRange { months.append(m); m = next(m) }
        v.check(months.count <= longestRange, "from_month", "too_long", "最多分析 \(longestRange) 个月")
        try v.throwIfAny()
        return months
    }

    /// The first and last day of a month (local day numbers).
    public static func days(_ month: Int) -> (first: Int64, last: Int64) {
        LocalDay.month(of: Input.dayNumber(Int64(month / 100), Int64(month % 100), 1))
    }

    /// Categories asked for more in the latest `risingWindow` months of `months` than in the
    /// same number before them, most added first (then most recent, then by code); empty when
    /// the range is too short to compare.
    public static func rising(_ byMonth: [String: [Int: Int]], months: [Int]) -> [RisingCategory] {
        let w = risingWindow
        guard months.count >= 2 * w else { return [] }
        let recent = months.suffix(w), before = months.dropLast(w).suffix(w)
        var out: [RisingCategory] = []
        for (category, counts) in byMonth {
            let r = recent.reduce(0) { $0 + (counts[$1] ?? 0) }, b = before.reduce(0) { $0 + (counts[$1] ?? 0) }
            guard r > b else { continue }
            out.append(RisingCategory(category: category, recent: r, before: b, change: r - b, percent: b > 0 ? (r - b) * 100 / b : nil))
        }
        return out.sorted { ($0.change, $0.recent, $1.category) > ($1.change, $1.recent, $0.category) }
    }
}
