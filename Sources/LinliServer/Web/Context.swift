import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Per-request state: who is acting, in which language, and the parsed form of a browser POST.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var actor: Actor?
    public var csrf: String?
    public var lang: Lang = .zh
    public var largePrint = false
    /// What the last form did, carried across its redirect (a code from `Flash`), shown once at
    /// the top of the next page.
    public var flash: String?
    /// Fields of an `application/x-www-form-urlencoded` body, parsed once by the middleware.
    public var form: FormData = FormData()
    /// Files of a `multipart/form-data` body.
    public var files: [UploadedFile] = []

    /// The peer's IP address (the throttle of failed sign-ins counts per address). Behind a
    /// reverse proxy this is the proxy; `LINLI_TRUSTED_PROXY` then lets X-Forwarded-For name the client.
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies larger than this are refused with 413 before a handler sees them.
    public var maxUploadSize: Int { 256 * 1024 }

    public func requireActor() throws -> Actor {
        guard let actor else { throw LinliError.unauthenticated }
        return actor
    }
}

/// A parsed urlencoded form; repeated keys keep every value (checkbox lists).
public struct FormData: Sendable {
    public var values: [String: [String]] = [:]
    public init() {}

    public init(parsing body: String) {
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let key = decode(kv[0])
            values[key, default: []].append(kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    public subscript(_ key: String) -> String? { values[key]?.first }
    public func all(_ key: String) -> [String] { values[key] ?? [] }
    public func int(_ key: String) -> Int64? { self[key].flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) } }
    public func nonEmpty(_ key: String) -> String? { self[key].flatMap { $0.isEmpty ? nil : $0 } }
    /// An optional numeric id field: nil when left empty, a 422 naming the field when not a number.
    public func optionalID(_ key: String, _ message: String) throws -> Int64? {
        guard let raw = nonEmpty(key) else { return nil }
        guard let v = Int64(raw.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid(key, "invalid", message) }
        return v
    }
}
