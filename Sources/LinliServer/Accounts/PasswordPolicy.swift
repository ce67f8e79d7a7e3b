import Foundation
import LinliCore
import LinliStore

/// What a password must be: at least ten characters, not one of the passwords attackers try
/// first, not a run of one character or a keyboard or digit sequence, and not the username.
/// Plain rules, no I/O (tested with worked examples in AccountSecurityTests).
public enum PasswordPolicy {
    public static let minimumLength = 10

    /// Passwords of ten or more characters that lead every leaked-password list (English and
    /// Chinese sites alike), lower-cased.
    static let common: Set<String> = [
        "1234567890", "12345678910", "123456789a", "a123456789", "1234567890a", "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc",
        "password12", "password123", "password1234", "passw0rd123", "iloveyou12", "iloveyou123", "qwerty1234", "qwerty12345",
        "qwerty123456", "abc1234567", "abcd123456", "abcdefghij", "asdfghjkl1", "zxcvbnm123", "woaini1314", "woaini520",
        "5201314520", "1314520520", "woaini123456", "aa123456789", "qq123456789", "qwe123456789", "admin12345", "admin123456",
        "administrator", "welcome123", "letmein123", "football12", "baseball12", "superman12", "princess12", "sunshine12",
        "1111111111", "0000000000", "9876543210", "0987654321", "123123123123", "1234512345", "1122334455", "1357924680",
        "linli123456", "linli12345", "changeme123", "test123456", "testtest12", "p@ssw0rd12", "p@ssword123", "trustno1234",
    ]

    /// Keyboard rows and digit/letter runs, forwards and backwards.
    static let sequences = ["0123456789", "1234567890", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm"]

    /// The reason a password is refused, or nil when it is acceptable.
    public static func problem(_ password: String, username: String = "") -> String? {
        if password.count < minimumLength { return "密码至少 \(minimumLength) 位" }
        let lower = password.lowercased()
        if common.contains(lower) { return "这是常见密码，请换一个不易猜到的密码" }
        if Set(lower).count < 4 { return "密码字符过于单一（如 aaaaaaaaaa），请换一个" }
        for s in sequences {
            let r = String(s.reversed())
            if s.contains(lower) || r.contains(lower) { return "密码不能是连续的字母或数字" }
        }
        // The username with a few characters around it ("zhangsan123") is guessed first.
        let u = username.lowercased()
        if u.count >= 3, lower.contains(u), lower.count - u.count < 6 { return "密码不能以用户名为主" }
        return nil
    }
}
