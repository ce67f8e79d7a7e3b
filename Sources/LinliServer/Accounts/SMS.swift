import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Crypto
import Logging
import NIOConcurrencyHelpers
import LinliCore

/// A text message with a one-time code, sent through whichever provider the deployment has.
public protocol SMSSender: Sendable {
    /// Sends `code` to a mainland mobile number (11 digits). Throws when the provider refuses.
    func sendCode(_ code: String, to phone: String, purpose: SMSPurpose) async throws
    /// Sends a community notice's title with the code to answer it by (a reply of the code
    /// acknowledges it). Throws when the provider refuses.
    func sendNotice(title: String, code: String, to phone: String) async throws
}

public enum SMSPurpose: String, Sendable, CaseIterable {
    case register, reset
    /// A community notice with its reply code (the template has `${title}` and `${code}`).
    case notice
}

/// Development: the message goes to the log (where the browser suite reads it) and is kept for
/// `lastCode(to:)` (the Swift tests), never to a phone.
public final class LogSMS: SMSSender, @unchecked Sendable {
    let logger: Logger
    private let box = NIOLockedValueBox<[(phone: String, code: String)]>([])
    public init(logger: Logger = Logger(label: "linli.sms")) { self.logger = logger }
    public func sendCode(_ code: String, to phone: String, purpose: SMSPurpose) async throws {
        box.withLockedValue { $0.append((phone, code)); if $0.count > 1000 { $0.removeFirst(500) } }
        logger.notice("SMS (development, not sent) to \(phone): 验证码 \(code) (\(purpose.rawValue))")
    }
    /// The last code sent to a number.
    public func lastCode(to phone: String) -> String? { box.withLockedValue { $0.last { $0.phone == phone }?.code } }
    public func sendNotice(title: String, code: String, to phone: String) async throws {
        box.withLockedValue { $0.append((phone, code)); if $0.count > 1000 { $0.removeFirst(500) } }
        logger.notice("SMS notice (development, not sent) to \(phone): \(title)（回复 \(code) 确认收到）")
    }
}

/// No provider configured in production: registration and reset by SMS are unavailable rather
/// than silently logging codes.
public struct NoSMS: SMSSender {
    public init() {}
    public func sendCode(_ code: String, to phone: String, purpose: SMSPurpose) async throws {
        throw LinliError(.serviceUnavailable, code: "sms_unavailable", field: "phone", message: "短信服务未开通，请联系社区工作人员开通账号")
    }
    public func sendNotice(title: String, code: String, to phone: String) async throws {
        throw LinliError(.serviceUnavailable, code: "sms_unavailable", field: "phone", message: "短信服务未开通")
    }
}

/// Aliyun SMS (短信服务, dysmsapi `SendSms`, API version 2017-05-25) over its documented RPC
/// interface: every parameter in the form body, signed with HMAC-SHA1 over the sorted,
/// percent-encoded parameters ("signature version 1.0").
public struct AliyunSMS: SMSSender {
    public var endpoint: URL
    public var accessKeyID: String
    public var accessKeySecret: String
    public var signName: String
    /// The template code per purpose, e.g. SMS_123456789; the template has a `${code}` variable.
    public var templates: [SMSPurpose: String]
    public var regionID = "cn-hangzhou"
    let env: Env

    public init(endpoint: URL, accessKeyID: String, accessKeySecret: String, signName: String, templates: [SMSPurpose: String], env: Env) {
        self.endpoint = endpoint; self.accessKeyID = accessKeyID; self.accessKeySecret = accessKeySecret
        self.signName = signName; self.templates = templates; self.env = env
    }

    /// RFC 3986 encoding as Aliyun specifies it: only A–Z a–z 0–9 - _ . ~ stay as they are
    /// (so a space is %20, never +, and * is %2A).
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(b))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)])
            }
        }
        return out
    }

    /// The canonical query (parameters sorted by name, each encoded) and its signature.
    public static func sign(_ params: [String: String], method: String, secret: String) -> (query: String, signature: String) {
        let query = params.sorted { $0.key < $1.key }.map { percentEncode($0.key) + "=" + percentEncode($0.value) }.joined(separator: "&")
        let toSign = method + "&" + percentEncode("/") + "&" + percentEncode(query)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(toSign.utf8), using: SymmetricKey(data: Data((secret + "&").utf8)))
        return (query, Data(mac).base64EncodedString())
    }

    /// The signed form body for one message.
    func body(code: String, phone: String, purpose: SMSPurpose, title: String? = nil) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        let params: [String: String] = [
            "AccessKeyId": accessKeyID, "Action": "SendSms", "Format": "JSON", "Version": "2017-05-25", "RegionId": regionID,
            "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": env.token(bytes: 16), "Timestamp": f.string(from: env.now()),
            "PhoneNumbers": phone, "SignName": signName, "TemplateCode": templates[purpose] ?? "",
            "TemplateParam": Self.templateParam(code: code, title: title),
        ]
        let (query, signature) = Self.sign(params, method: "POST", secret: accessKeySecret)
        return "Signature=" + Self.percentEncode(signature) + "&" + query
    }

    /// The template's variables as JSON (the title escaped as JSON requires, and cut to the
    /// 35 characters a variable may hold).
    static func templateParam(code: String, title: String?) -> String {
        var params = ["code": code]
        if let title { params["title"] = String(title.prefix(35)) }
        let data = (try? JSONSerialization.data(withJSONObject: params, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    public func sendNotice(title: String, code: String, to phone: String) async throws {
        guard templates[.notice] != nil else {
            throw LinliError(.serviceUnavailable, code: "sms_unavailable", field: "phone", message: "短信通知模板未配置")
        }
        try await send(body(code: code, phone: phone, purpose: .notice, title: title))
    }

    public func sendCode(_ code: String, to phone: String, purpose: SMSPurpose) async throws {
        try await send(body(code: code, phone: phone, purpose: purpose))
    }

    func send(_ form: String) async throws {
        var req = URLRequest(url: endpoint, timeoutInterval: 10)
        req.httpMethod = "POST"
        req.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        req.httpBody = Data(form.utf8)
        let unavailable = LinliError(.serviceUnavailable, code: "sms_failed", field: "phone", message: "短信发送失败，请稍后再试")
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: req) } catch { throw unavailable }
        struct Answer: Decodable { var Code: String; var Message: String? }
        guard (response as? HTTPURLResponse)?.statusCode == 200, let a = try? JSONDecoder().decode(Answer.self, from: data), a.Code == "OK" else {
            throw unavailable
        }
    }
}
