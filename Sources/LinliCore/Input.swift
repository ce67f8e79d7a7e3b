import Foundation

/// The one place where numbers and dates typed by a client become values. Nothing here can trap:
/// every parse is bounded before any arithmetic, and a value outside what the code handles is
/// refused at the door with a 422 naming the field, instead of being stored and crashing a later
/// view of it (a task starting in the year 9999 did).
public enum Input {
    /// A file sent inside JSON as base64 (line breaks and spaces allowed: encoders wrap lines);
    /// nil when absent or empty, refused naming the field when it is not base64.
    public static func base64(_ text: String?, field: String, message: String) throws -> [UInt8]? {
        guard let text, !text.isEmpty else { return nil }
        guard let d = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else { throw LinliError.invalid(field, "invalid", message) }
        return [UInt8](d)
    }

    /// The calendar range Linli handles: every stored day, deadline and shift lies inside it.
    public static let firstYear: Int64 = 2000
    public static let lastYear: Int64 = 2099
    /// The largest offset a list accepts (no one pages past this; the arithmetic stays far from overflow).
    public static let maxOffset = 1_000_000

    /// An optional integer query or form value within `range`; missing or empty gives `defaultValue`.
    public static func int(_ raw: String?, field: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let raw, !raw.isEmpty else { return defaultValue }
        guard let v = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
            throw LinliError.invalid(field, "out_of_range", "\(field) 应为 \(range.lowerBound)–\(range.upperBound) 之间的整数")
        }
        return v
    }

    /// A page number (1-based) and a page size, turned into a LIMIT and an OFFSET that cannot overflow.
    public static func page(_ rawPage: String?, size: Int, field: String = "page") throws -> (limit: Int, offset: Int) {
        let maxPage = maxOffset / max(1, size) + 1
        let p = try int(rawPage, field: field, default: 1, in: 1...maxPage)
        return (size, (p - 1) * size)
    }

    /// An optional positive id; an empty value is nil, anything else not a positive integer is a 422.
    public static func id(_ raw: String?, field: String) throws -> Int64? {
        guard let raw, !raw.isEmpty else { return nil }
        guard let v = Int64(raw.trimmingCharacters(in: .whitespaces)), v > 0 else {
            throw LinliError.invalid(field, "invalid", "\(field) 应为正整数")
        }
        return v
    }

    /// Reads exactly `count` ASCII digits at `i`, or nil.
    package static func digits(_ b: [UInt8], _ i: Int, _ count: Int) -> Int64? {
        guard i + count <= b.count else { return nil }
        var v: Int64 = 0
        for k in i..<(i + count) {
            let c = b[k]
            guard c >= 0x30, c <= 0x39 else { return nil }
            v = v * 10 + Int64(c - 0x30)
        }
        return v
    }

    package static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a valid civil date (inverse of `ChinaTime.civil`).
    package static func dayNumber(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = m > 2 ? m - 3 : m + 9
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `YYYY-MM-DD`, exactly, inside the handled years: the local day number, else nil.
    /// (`2026-2-3`, `-2026-01-01`, `2026-02-29` and `9999-12-31` are all refused.)
    public static func day(_ s: some StringProtocol) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == 0x2D, b[7] == 0x2D, let y = digits(b, 0, 4), let m = digits(b, 5, 2), let d = digits(b, 8, 2),
              (firstYear...lastYear).contains(y), (1...12).contains(m), d >= 1, d <= daysInMonth(y, m) else { return nil }
        return dayNumber(y, m, d)
    }

    /// A required or optional day field: nil when empty, a 422 naming the field when malformed.
    public static func day(_ raw: String?, field: String) throws -> Int64? {
        guard let raw, !raw.isEmpty else { return nil }
        guard let d = day(raw.trimmingCharacters(in: .whitespaces)) else {
            throw LinliError.invalid(field, "invalid_date", "\(field) 应为 \(firstYear)–\(lastYear) 年间的日期，格式 YYYY-MM-DD")
        }
        return d
    }

    /// China time written `2026-12-01T18:00` (a datetime-local field), `2026-12-01 18:00`, or with
    /// seconds (`…T18:00:00`): epoch seconds, else nil.
    public static func localDateTime(_ s: some StringProtocol) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 16 || b.count == 19, b[10] == UInt8(ascii: "T") || b[10] == 0x20, b[13] == 0x3A,
              let day = day(String(decoding: b[0..<10], as: UTF8.self)), let h = digits(b, 11, 2), let m = digits(b, 14, 2),
              h < 24, m < 60 else { return nil }
        var sec: Int64 = 0
        if b.count == 19 {
            guard b[16] == 0x3A, let s = digits(b, 17, 2), s < 60 else { return nil }
            sec = s
        }
        return day * 86400 + h * 3600 + m * 60 + sec - ChinaTime.utcOffset
    }

    /// Any W3C datetime (the ISO 8601 profile Open311 names): `YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
    /// `YYYY-MM-DDThh:mmTZD`, `…Thh:mm:ssTZD` and `…Thh:mm:ss.sTZD` with any number of fraction
    /// digits, where TZD is `Z`, `±hh:mm` or `±hhmm`. A date alone is the start of that day in China
    /// time; a time without a zone is China time. Fractions are cut to the whole second (stored
    /// times are whole seconds, so `…24.5Z` still finds what happened at `…24Z`).
    public static func w3cDateTime(_ s: some StringProtocol) -> Int64? {
        let b = Array(s.utf8)
        guard let y = digits(b, 0, 4), (firstYear...lastYear).contains(y) else { return nil }
        if b.count == 4 { return dayNumber(y, 1, 1) * 86400 - ChinaTime.utcOffset }
        guard b.count >= 7, b[4] == 0x2D, let mo = digits(b, 5, 2), (1...12).contains(mo) else { return nil }
        if b.count == 7 { return dayNumber(y, mo, 1) * 86400 - ChinaTime.utcOffset }
        guard b.count >= 10, b[7] == 0x2D, let d = digits(b, 8, 2), d >= 1, d <= daysInMonth(y, mo) else { return nil }
        let dayStart = dayNumber(y, mo, d) * 86400
        if b.count == 10 { return dayStart - ChinaTime.utcOffset }
        guard b.count >= 16, b[10] == UInt8(ascii: "T") || b[10] == 0x20, b[13] == 0x3A,
              let h = digits(b, 11, 2), let mi = digits(b, 14, 2), h < 24, mi < 60 else { return nil }
        var i = 16, sec: Int64 = 0
        if i < b.count, b[i] == 0x3A {
            guard let ss = digits(b, i + 1, 2), ss < 61 else { return nil }
            sec = min(ss, 59); i += 3
            if i < b.count, b[i] == 0x2E || b[i] == 0x2C {
                i += 1
                let start = i
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
                guard i > start else { return nil }
            }
        }
        var offset = ChinaTime.utcOffset
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                offset = 0; i += 1
            } else if b[i] == 0x2B || b[i] == 0x2D {
                let sign: Int64 = b[i] == 0x2B ? 1 : -1
                guard let oh = digits(b, i + 1, 2), oh <= 14 else { return nil }
                var j = i + 3
                if j < b.count, b[j] == 0x3A { j += 1 }
                guard let om = digits(b, j, 2), om < 60 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
                i = j + 2
            } else { return nil }
        }
        guard i == b.count else { return nil }
        return dayStart + h * 3600 + mi * 60 + sec - offset
    }
}
