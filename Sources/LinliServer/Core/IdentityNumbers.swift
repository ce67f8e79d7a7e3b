import Foundation

/// Resident identity numbers (GB 11643-1999) and mainland mobile numbers.
public enum IDNumber {
    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkChars: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// The check character for the first 17 digits.
    public static func checkCharacter(for first17: String) -> Character? {
        let digits = first17.compactMap { $0.wholeNumberValue }
        guard digits.count == 17, first17.count == 17 else { return nil }
        let sum = zip(digits, weights).reduce(0) { $0 + $1.0 * $1.1 }
        return checkChars[sum % 11]
    }

    public enum Problem: Equatable, Sendable { case format, birthDate, checkDigit }

    /// Upper-cases a trailing x and trims spaces.
    public static func normalise(_ raw: String) -> String {
        raw.trimmingCharacters(in: .whitespaces).uppercased()
    }

    public static func validate(_ raw: String) -> Problem? {
        let s = normalise(raw)
        guard s.count == 18 else { return .format }
        let first17 = String(s.prefix(17))
        guard first17.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .format }
        guard let last = s.last, last.isNumber || last == "X" else { return .format }
        guard birthDate(of: s) != nil else { return .birthDate }
        guard checkCharacter(for: first17) == last else { return .checkDigit }
        return nil
    }

    /// Birth date encoded in positions 7–14, as "YYYY-MM-DD", if it is a real date.
    public static func birthDate(of s: String) -> String? {
        let chars = Array(s)
        guard chars.count >= 14 else { return nil }
        let y = Int(String(chars[6..<10])), m = Int(String(chars[10..<12])), d = Int(String(chars[12..<14]))
        guard let y, let m, let d, (1900...2100).contains(y), (1...12).contains(m), d >= 1 else { return nil }
        let days = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= days[m - 1] else { return nil }
        return String(format: "%04d-%02d-%02d", y, m, d)
    }

    /// Gender from the 17th digit: odd is male.
    public static func isMale(_ s: String) -> Bool {
        let chars = Array(s)
        return (chars[16].wholeNumberValue ?? 0) % 2 == 1
    }

    public static func masked(last4: String) -> String { "**************" + last4 }
}

public enum PhoneNumber {
    /// Strips spaces, dashes and a +86 prefix.
    public static func normalise(_ raw: String) -> String {
        var s = raw.filter { !" -".contains($0) }
        if s.hasPrefix("+86") { s.removeFirst(3) }
        return s
    }
    public static func isValid(_ raw: String) -> Bool {
        let s = normalise(raw)
        let chars = Array(s)
        return chars.count == 11 && chars.allSatisfy { $0.isASCII && $0.isNumber } && chars[0] == "1"
            && ("3"..."9").contains(chars[1])
    }
    /// 138****5678
    public static func masked(_ normalised: String) -> String {
        guard normalised.count == 11 else { return "***" }
        return String(normalised.prefix(3)) + "****" + String(normalised.suffix(4))
    }
}
