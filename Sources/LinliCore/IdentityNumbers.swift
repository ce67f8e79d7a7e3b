import Foundation

/// Resident identity numbers (GB 11643-1999) and mainland mobile numbers.
public enum IDNumber {
    package static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    package static let checkChars: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// The check character for the first 17 digits.
    public static func checkCharacter(for first17: String) -> Character? {
        // ASCII digits only: an ID number has no other (the demo computes a million of these).
        var sum = 0, i = 0
        for b in first17.utf8 {
            guard i < 17, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            sum += Int(b - UInt8(ascii: "0")) * weights[i]
            i += 1
        }
        return i == 17 ? checkChars[sum % 11] : nil
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
        let bytes = Array(s.utf8.prefix(14))
        guard bytes.count == 14, bytes[6..<14].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        func number(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(bytes[$1] - UInt8(ascii: "0")) } }
        let y = number(6..<10), m = number(10..<12), d = number(12..<14)
        guard (1900...2100).contains(y), (1...12).contains(m), d >= 1 else { return nil }
        let days = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= days[m - 1] else { return nil }
        // The digits as written: "YYYY-MM-DD".
        var out = bytes[6..<10] + [UInt8(ascii: "-")] + bytes[10..<12] + [UInt8(ascii: "-")]
        out += bytes[12..<14]
        return String(decoding: out, as: UTF8.self)
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

/// The document a resident's number comes from. Not everyone has an 18-digit resident ID card:
/// a newborn has none yet, and residents from Hong Kong, Macau, Taiwan or abroad carry their own
/// documents, each with its own number format. The card and the two 18-digit cards built like
/// it carry the birth date and gender in the number; for the rest they are recorded by hand.
public enum DocumentKind: String, Sendable, CaseIterable, Codable {
    case idCard = "id_card"                    // 居民身份证
    case hmtResidence = "hmt_residence"        // 港澳台居民居住证 (810000/820000/830000 + GB 11643 check)
    case hkMacauPermit = "hk_macau_permit"     // 港澳居民来往内地通行证
    case taiwanPermit = "taiwan_permit"        // 台湾居民来往大陆通行证
    case passport                              // 护照
    case foreignPermanent = "foreign_permanent" // 外国人永久居留身份证
    case none                                  // 暂无证件 (e.g. a child before the first card)

    /// Birth date and gender can be read from the number.
    public var carriesBirthDate: Bool { self == .idCard || self == .hmtResidence }

    public enum Problem: Equatable, Sendable {
        case required, notAllowed, format, birthDate, checkDigit, region
    }

    /// Upper case, no spaces (people type passport numbers with spaces and lower case).
    public static func normalise(_ raw: String) -> String {
        String(raw.uppercased().unicodeScalars.filter { !CharacterSet.whitespaces.contains($0) })
    }

    public func validate(_ raw: String) -> Problem? {
        let s = Self.normalise(raw)
        if self == .none { return s.isEmpty ? nil : .notAllowed }
        if s.isEmpty { return .required }
        let b = Array(s.utf8)
        func digits(_ r: Range<Int>) -> Bool { r.allSatisfy { b[$0] >= UInt8(ascii: "0") && b[$0] <= UInt8(ascii: "9") } }
        func letters(_ r: Range<Int>) -> Bool { r.allSatisfy { b[$0] >= UInt8(ascii: "A") && b[$0] <= UInt8(ascii: "Z") } }
        func idLike() -> Problem? {
            switch IDNumber.validate(s) {
            case .format?: return .format
            case .birthDate?: return .birthDate
            case .checkDigit?: return .checkDigit
            case nil: return nil
            }
        }
        switch self {
        case .idCard:
            return idLike()
        case .hmtResidence:
            if let p = idLike() { return p }
            return ["81", "82", "83"].contains(String(s.prefix(2))) ? nil : .region
        case .hkMacauPermit:
            // H or M, then 8 digits (since 2012) or 10 digits (older booklets).
            guard (b.count == 9 || b.count == 11), b[0] == UInt8(ascii: "H") || b[0] == UInt8(ascii: "M"), digits(1..<b.count) else { return .format }
            return nil
        case .taiwanPermit:
            // 8 digits (card since 2015); older booklets had 10 digits with a letter suffix.
            guard b.count == 8 && digits(0..<8) || b.count == 10 && digits(0..<8) && letters(8..<10) || b.count == 10 && digits(0..<10) else { return .format }
            return nil
        case .passport:
            guard (5...17).contains(b.count), (0..<b.count).allSatisfy({ digits($0..<$0 + 1) || letters($0..<$0 + 1) }) else { return .format }
            return nil
        case .foreignPermanent:
            // 2017 card: 3 letters (nationality) + 12 digits; 2023 card: 18 characters starting
            // with 9 and the GB 11643 check digit.
            if b.count == 15 { return letters(0..<3) && digits(3..<15) ? nil : .format }
            guard b.count == 18, b[0] == UInt8(ascii: "9"), digits(0..<17) else { return .format }
            return IDNumber.checkCharacter(for: String(s.prefix(17))) == s.last ? nil : .checkDigit
        case .none:
            return nil
        }
    }

    /// What a masked screen shows: the last four characters only.
    public static func masked(kind: DocumentKind, last4: String) -> String {
        switch kind {
        case .idCard, .hmtResidence: return IDNumber.masked(last4: last4)
        case .none: return ""
        default: return "****" + last4
        }
    }
}

/// A number the public may ring: a community office's landline (0571-8888 8888), a mobile, a
/// short hotline (12345, 96345). Kept as typed for reading; `dialable` is what a `tel:` link takes.
public enum PublicPhone {
    /// Digits only, without a +86 prefix; nil unless 5 to 12 digits remain after spaces, dashes
    /// and brackets are dropped.
    public static func dialable(_ raw: String) -> String? {
        let s = PhoneNumber.normalise(raw.filter { !"()（）".contains($0) })
        guard (5...12).contains(s.count), s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return s
    }
}

extension String {
    /// A person's name masked for lists: the family name and stars.
    package var maskedName: String { isEmpty ? "" : String(prefix(1)) + String(repeating: "*", count: max(1, count - 1)) }
}
