import Foundation
import LinliCore

/// A resident's SMS reply as the SMS provider relays it. Providers post their own shapes to a
/// URL configured in their console, cannot add a header, and retry when the answer is not 200
/// with their own success body; each adapter here reads one shape and writes that answer.
/// No I/O: the route hands the body in and sends the answer out.
public enum SMSInbound {
    public enum Provider: String, CaseIterable, Sendable {
        /// Linli's own shape, for a relay in front of any provider: `{"phone": …, "content": …}`.
        case generic
        /// Tencent Cloud SMS's reply callback: one object, `mobile`, `nationcode`, `text`, `time`.
        case tencent
        /// Alibaba Cloud SMS's SmsUp in HTTP batch push mode: an array of `phone_number`,
        /// `content`, `send_time`, `dest_code`, `sequence_id`.
        case aliyun
    }

    public struct Reply: Equatable, Sendable {
        public var phone: String
        public var text: String
    }

    /// The replies in a provider's body, or `invalid` naming what is wrong (a 422 the provider
    /// logs; it retries only on other statuses, so a malformed body is not sent again and again).
    public static func replies(_ provider: Provider, body: [UInt8]) throws -> [Reply] {
        let data = Data(body)
        switch provider {
        case .generic:
            struct Generic: Decodable { var phone: String?; var content: String? }
            guard let r = try? JSONDecoder().decode(Generic.self, from: data) else {
                throw LinliError.invalid("content", "invalid_json", "应为 {\"phone\":…,\"content\":…}")
            }
            return [Reply(phone: national(r.phone ?? "", countryCode: nil), text: r.content ?? "")]
        case .tencent:
            struct Tencent: Decodable { var mobile: String?; var nationcode: String?; var text: String? }
            guard let r = try? JSONDecoder().decode(Tencent.self, from: data) else {
                throw LinliError.invalid("text", "invalid_json", "应为腾讯云短信回复回调的 JSON（mobile、nationcode、text）")
            }
            return [Reply(phone: national(r.mobile ?? "", countryCode: r.nationcode), text: r.text ?? "")]
        case .aliyun:
            // Each element on its own: one malformed reply must not lose the batch's others (the
            // provider does not resend a refused batch). `sequence_id` is a number in one version
            // of the documentation and a string in another: it is not read.
            guard let items = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
                throw LinliError.invalid("content", "invalid_json", "应为阿里云上行短信（SmsUp）推送的 JSON 数组")
            }
            return items.compactMap { item in
                guard let o = item as? [String: Any], let phone = o["phone_number"] as? String, let text = o["content"] as? String else { return nil }
                return Reply(phone: national(phone, countryCode: nil), text: text)
            }
        }
    }

    /// A mainland number as residents' records keep it (11 digits): "+86", "0086" or "86" before
    /// it, or a country code of 86 given apart, are dropped. Anything else is kept as given (it
    /// then matches no resident, and the reply is counted as unmatched).
    public static func national(_ raw: String, countryCode: String?) -> String {
        var digits = raw.filter { !$0.isWhitespace && $0 != "-" }
        if digits.hasPrefix("+") { digits.removeFirst() }
        if digits.hasPrefix("0086") { digits.removeFirst(4) }
        else if digits.count == 13, digits.hasPrefix("86") { digits.removeFirst(2) }
        var cc = (countryCode ?? "").trimmingCharacters(in: .whitespaces)
        if cc.hasPrefix("+") { cc.removeFirst() } else if cc.hasPrefix("00") { cc.removeFirst(2) }
        if !cc.isEmpty, cc != "86" { return "+" + cc + digits }
        return digits
    }

    /// What the provider is told once every reply was handled (acknowledged or not: an unmatched
    /// reply is not the provider's fault, and a retry would not change it).
    public static func answer(_ provider: Provider, acknowledged: Int, received: Int) -> [UInt8] {
        switch provider {
        case .generic: Array("{\"acknowledged\":\(acknowledged > 0),\"received\":\(received),\"matched\":\(acknowledged)}".utf8)
        case .tencent: Array("{\"result\":0,\"errmsg\":\"OK\"}".utf8)
        case .aliyun: Array("{\"code\":0,\"msg\":\"接收成功\"}".utf8)
        }
    }
}
