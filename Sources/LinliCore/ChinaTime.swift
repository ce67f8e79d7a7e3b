import Foundation

/// The one set of date and time helpers. Linli's users all live in China Standard Time (UTC+8,
/// no daylight saving), so a "local day" is a plain number (days since 1970-01-01 in UTC+8) and
/// every conversion is arithmetic: Foundation's Calendar was slow on hot paths, and each
/// capability growing its own helpers gave four families that disagreed at the edges.
public enum ChinaTime {
    public static let utcOffset: Int64 = 8 * 3600

    public static func iso(day: Int64) -> String {
        let (y, m, d) = civil(day: day)
        guard (0...9999).contains(y) else { return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) }
        return digits([(y, 4), (m, 2), (d, 2)], separators: [UInt8(ascii: "-"), UInt8(ascii: "-")])
    }

    /// Zero-padded numbers (each within its width) joined by one-byte separators, written into
    /// one string: dates and times are formatted for every row of every list, and padding each
    /// part as its own string allocated several times per date.
    package static func digits(_ parts: [(Int64, Int)], separators: [UInt8]) -> String {
        let count = parts.reduce(separators.count) { $0 + $1.1 }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var i = 0
            for (k, (value, width)) in parts.enumerated() {
                if k > 0 { buffer[i] = separators[k - 1]; i += 1 }
                var v = value
                for j in stride(from: width - 1, through: 0, by: -1) {
                    buffer[i + j] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                i += width
            }
            return i
        }
    }

    /// Days since 1970-01-01 to a civil date (the proleptic Gregorian algorithm of H. Hinnant's
    /// "chrono-compatible low-level date algorithms"); Foundation's Calendar was slow on hot paths.
    package static func civil(day: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The same day of the month `months` months later (earlier when negative), or that month's
    /// last day when it is shorter: 31 August less six months is 28 February, 31 January plus
    /// one month is 28 (or 29) February.
    public static func addingMonths(_ months: Int, to day: Int64) -> Int64 {
        let (y, m, d) = civil(day: day)
        let total = y * 12 + (m - 1) + Int64(months)
        let year = total >= 0 ? total / 12 : (total - 11) / 12
        let month = total - year * 12 + 1
        return Input.dayNumber(year, month, min(d, Input.daysInMonth(year, month)))
    }

    /// Today's civil date in China (UTC+8 all year).
    package static func localDate(_ now: Date) -> (year: Int64, month: Int64, day: Int64) {
        let local = Int64(now.timeIntervalSince1970.rounded(.down)) + utcOffset
        return civil(day: local >= 0 ? local / 86400 : (local - 86399) / 86400)
    }

    /// `n` in decimal, zero-padded to `width` (dates; also the demo's ID numbers and phones, where
    /// String(format:) once cost a tenth of the demo's time).
    package static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Times shown to users are China Standard Time.
public enum LocalTime {
    public static func text(_ epoch: Int64) -> String {
        let local = epoch + ChinaTime.utcOffset
        let day = local >= 0 ? local / 86400 : (local - 86399) / 86400
        let sec = local - day * 86400
        let (y, m, d) = ChinaTime.civil(day: day)
        guard (0...9999).contains(y) else {
            return ChinaTime.iso(day: day) + " " + ChinaTime.pad(sec / 3600, 2) + ":" + ChinaTime.pad((sec % 3600) / 60, 2)
        }
        return ChinaTime.digits([(y, 4), (m, 2), (d, 2), (sec / 3600, 2), ((sec % 3600) / 60, 2)],
                                   separators: [UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: ":")])
    }

    /// Parses China time written as `2026-12-01T18:00` (a datetime-local field) or `2026-12-01 18:00`
    /// (seconds allowed), inside the years Linli handles (see `Input.localDateTime`).
    public static func parse(_ s: String) -> Int64? { Input.localDateTime(s.trimmingCharacters(in: .whitespaces)) }
}

/// China-time day numbers (days since 1970-01-01 in UTC+8) and weekdays, Monday = 1 … Sunday = 7.
public enum LocalDay {
    public static func weekday(_ day: Int64) -> Int { Int(((day % 7) + 7 + 3) % 7) + 1 }
    public static func of(_ epoch: Int64) -> Int64 {
        let l = epoch + ChinaTime.utcOffset
        return l >= 0 ? l / 86400 : (l - 86399) / 86400
    }
    public static func start(_ day: Int64) -> Int64 { day * 86400 - ChinaTime.utcOffset }
    /// Minute of the China-time day.
    public static func minute(_ epoch: Int64) -> Int { Int((epoch - start(of(epoch))) / 60) }
    public static func hhmm(_ minute: Int) -> String { ChinaTime.pad(Int64(minute / 60), 2) + ":" + ChinaTime.pad(Int64(minute % 60), 2) }
    public static func parseHHMM(_ s: String) -> Int? {
        let p = s.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }
    /// The first and last day of the month holding a local day: total, for any day number (an old
    /// row outside the handled years must still render, not trap).
    public static func month(of day: Int64) -> (first: Int64, last: Int64) {
        let (y, m, d) = ChinaTime.civil(day: day)
        return (day - d + 1, day - d + Input.daysInMonth(y, m))
    }
    /// The first and last day of a month written `YYYY-MM`, inside the handled years.
    public static func month(_ yyyyMM: String) -> (first: Int64, last: Int64)? {
        let b = Array(yyyyMM.utf8)
        guard b.count == 7, b[4] == UInt8(ascii: "-"), let y = Input.digits(b, 0, 4), let m = Input.digits(b, 5, 2),
              (Input.firstYear...Input.lastYear).contains(y), (1...12).contains(m) else { return nil }
        // Computed, not parsed: December 2099's next month lies outside the days `Input.day` accepts.
        let first = Input.dayNumber(y, m, 1)
        return (first, first + Input.daysInMonth(y, m) - 1)
    }
}

/// Open311 times: ISO 8601 in China Standard Time.
public enum ISO8601 {
    public static func text(_ epoch: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
    }
    /// Every W3C datetime form (fractions of a second and all zone forms); see `Input.w3cDateTime`.
    public static func parse(_ s: String) -> Int64? { Input.w3cDateTime(s) }
}
