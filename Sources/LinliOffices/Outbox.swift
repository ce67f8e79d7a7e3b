import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct WebhookEndpointInput: Codable, Sendable {
    /// The area whose requests it receives (a city or district).
    public var placeID: Int64?
    public var name: String?
    /// https:// (http:// only to a loopback address, for testing).
    public var url: String?
    /// The shared secret the receiver checks signatures with (16+ characters).
    public var secret: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case placeID = "place_id", name, url, secret }
}

public struct OutboxView: Codable, Sendable {
    public struct Endpoint: Codable, Sendable { public var id: Int64, place: String, name: String, url: String, active: Bool }
    /// A change to a receiving system: switched on or off, renamed, moved to a new address or
    /// given a new secret (each optional; a secret is never shown back).
    public struct Switch: Codable, Sendable {
        public var active: Bool?
        public var name: String?
        public var url: String?
        public var secret: String?
        public init() {}
    }
    public struct Item: Codable, Sendable {
        public var id: Int64, endpoint: String, kind: String, requestID: Int64, createdAt: String, attempts: Int, delivered: Bool
        public var lastStatus: Int?, lastError: String, stuck: Bool, nextAt: String?
        enum CodingKeys: String, CodingKey {
            case id, endpoint, kind, requestID = "request_id", createdAt = "created_at", attempts, delivered, lastStatus = "last_status"
            case lastError = "last_error", stuck, nextAt = "next_at"
        }
    }
    public var endpoints: [Endpoint]
    public var items: [Item]
    public var stuck: Int
}

/// Sends one push; answers the HTTP status. Injected so that tests deliver to a recorder.
public typealias WebhookSender = @Sendable (_ url: URL, _ body: [UInt8], _ headers: [String: String]) async throws -> Int

extension OfficesService {
    /// Delivers over HTTPS with URLSession (ten seconds at most per push).
    public static let urlSessionSender: WebhookSender = { url, body, headers in
        var req = URLRequest(url: url, timeoutInterval: 10)
        req.httpMethod = "POST"
        req.httpBody = Data(body)
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let (_, response) = try await URLSession.shared.data(for: req)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    public func addEndpoint(_ input: WebhookEndpointInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await keptPlace(db, input.placeID, actor: actor, missing: "请选择推送哪个地区的诉求")
            let name = Self.trimmed(input.name), raw = Self.trimmed(input.url), secret = input.secret ?? ""
            try Self.checkEndpoint(name: name, url: raw, secret: secret)
            let id = try await db.query("""
                INSERT INTO webhook_endpoints (place_id, path, name, url, secret_cipher, created_by, created_at)
                VALUES (\(p.id), \(p.path), \(name), \(raw), \(try cipher.seal(secret)), \(actor.userID), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "webhook.add", objectType: "webhook_endpoint", objectID: id, path: p.path, detail: name)
            try await activeEndpoints.changed(db)
            return id
        }
    }

    /// A receiving system's name, address and secret, checked (the secret only when one is given).
    static func checkEndpoint(name: String?, url raw: String?, secret: String?) throws {
        var v = Validator()
        if let name { v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写接收系统的名称（60 字以内）") }
        if let raw {
            let url = URL(string: raw)
            let loopback = ["127.0.0.1", "localhost", "::1"].contains(url?.host ?? "")
            v.check(raw.count <= 500 && url?.host != nil && (url?.scheme == "https" || (url?.scheme == "http" && loopback)), "url", "invalid",
                    "地址应为 https://（测试时可用本机 http://127.0.0.1）")
        }
        if let secret { v.check(secret.count >= 16 && secret.count <= 200, "secret", "too_short", "共享密钥至少 16 个字符") }
        try v.throwIfAny()
    }

    /// Switches a receiving system off (nothing more is queued for it; what is queued stays) or on.
    public func setEndpointActive(_ id: Int64, active: Bool?, actor: Actor) async throws {
        guard let active else { throw LinliError.invalid("active", "required", "请说明开启还是停用") }
        var change = OutboxView.Switch()
        change.active = active
        try await updateEndpoint(id, change, actor: actor)
    }

    /// Changes a receiving system: on or off, its name, its address, its secret. Pushes already
    /// queued go to the new address with the new secret (they are signed when sent). An empty
    /// secret keeps the old one; the audit row names what changed, never the secret.
    public func updateEndpoint(_ id: Int64, _ change: OutboxView.Switch, actor: Actor) async throws {
        let name = change.name.map { Self.trimmed($0) }, url = change.url.map { Self.trimmed($0) }
        let secret = change.secret.flatMap { $0.isEmpty ? nil : $0 }
        guard change.active != nil || name != nil || url != nil || secret != nil else {
            throw LinliError.invalid("active", "required", "请说明要修改的内容（active、name、url 或 secret）")
        }
        try Self.checkEndpoint(name: name, url: url, secret: secret)
        let sealed = try secret.map { try cipher.seal($0) }
        try await store.transaction { db in
            guard let r = try await db.query("SELECT path, name, url FROM webhook_endpoints WHERE id = \(id)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            try actor.require(.officeLists, on: ObjectScope(path: path))
            // What the form sends unchanged is not a change.
            let name = try name == r.decode(column: "name", as: String.self) ? nil : name
            let url = try url == r.decode(column: "url", as: String.self) ? nil : url
            var sets: [BoundSQL] = []
            if let active = change.active { sets.append("active = \(active)") }
            if let name { sets.append("name = \(name)") }
            if let url { sets.append("url = \(url)") }
            if let sealed { sets.append("secret_cipher = \(sealed)") }
            guard !sets.isEmpty else { return }
            try await db.query("UPDATE webhook_endpoints SET \(BoundSQL.joined(sets, separator: ", ")) WHERE id = \(id)").run()
            try await activeEndpoints.changed(db)
            // The new address by its host only: a path may carry a receiver's token.
            let what = [change.active.map { $0 ? "on" : "off" }, name.map { _ in "name" }, url.map { "url " + (URL(string: $0)?.host ?? "") },
                        secret.map { _ in "secret" }].compactMap { $0 }
            let action = what == ["on"] ? "webhook.on" : what == ["off"] ? "webhook.off" : "webhook.edit"
            try await audit.append(db, actor: actor, action: action, objectType: "webhook_endpoint", objectID: id, path: path, detail: what.joined(separator: ", "))
        }
    }

    /// Called by the requests capability inside each step's transaction: one outbox item per
    /// endpoint whose area holds the request.
    func enqueue(_ db: any SQLDatabase, requestIDs: [Int64], kind: String) async throws {
        let endpoints = try await activeEndpoints.value(db) { db in
            try await db.query("SELECT id, path FROM webhook_endpoints WHERE active = 1").all().map {
                (id: try $0.decode(column: "id", as: Int64.self), path: try $0.decode(column: "path", as: String.self))
            }
        }
        guard !endpoints.isEmpty else { return }
        let paths = try await RequestsService.paths(db, ids: requestIDs)
        let now = env.nowSeconds
        var rows: [(Int64, Int64)] = []
        for e in endpoints {
            for (request, p) in paths where p.hasPrefix(e.path) { rows.append((e.id, request)) }
        }
        try await db.insertRows("INSERT INTO outbox (endpoint_id, kind, request_id, created_at, next_at) VALUES ", rows) { "(\($0.0), \(kind), \($0.1), \(now), \(now))" }
    }

    /// One round of delivery: claims up to `limit` due items (so that several servers share the
    /// work without sending one twice at once), sends each signed, and records the answer; a
    /// failure is tried again later, a minute then doubling up to six hours.
    @discardableResult
    public func deliverOutbox(sender: WebhookSender? = nil, limit: Int = 50) async throws -> (sent: Int, failed: Int) {
        let send = sender ?? self.sender
        let now = env.nowSeconds
        let claimed = try await store.transaction { db in
            try await db.query("""
                UPDATE outbox SET claimed_until = \(now + 60) WHERE id IN (
                    SELECT id FROM outbox WHERE delivered_at IS NULL AND next_at <= \(now) AND claimed_until < \(now) ORDER BY id LIMIT \(max(1, min(limit, 500)))\(unsafeRaw: store.dialect.lockForUpdate(skipLocked: true)))
                RETURNING id
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        var sent = 0, failed = 0
        for id in claimed.sorted() {
            let job: (URL, [UInt8], String, Int)? = try await store.read { db in
                guard let r = try await db.query("""
                    SELECT o.kind, o.request_id, o.attempts, e.url, e.secret_cipher FROM outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id WHERE o.id = \(id)
                    """).first(), let url = URL(string: try r.decode(column: "url", as: String.self)),
                      let push = try await RequestsService.push(db, id: try r.decode(column: "request_id", as: Int64.self)) else { return nil }
                struct Envelope: Encodable { var id: Int64; var event: String; var request: RequestPush }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let body = Array(try encoder.encode(Envelope(id: id, event: try r.decode(column: "kind", as: String.self), request: push)))
                return (url, body, try cipher.open(try r.decode(column: "secret_cipher", as: String.self)), try r.decode(column: "attempts", as: Int.self))
            }
            guard let (url, body, secret, attempts) = job else { continue }
            var status: Int?
            var problem = ""
            do {
                status = try await send(url, body, ["Content-Type": "application/json", "X-Linli-Delivery": String(id),
                                                    "X-Linli-Signature": OutboxRules.signature(secret: Array(secret.utf8), timestamp: now, body: body)])
            } catch let e as URLError {
                problem = "连接失败（URLError \(e.code.rawValue)）"
            } catch { problem = String(String(describing: error).prefix(200)) }
            let ok = status.map { (200..<300).contains($0) } ?? false
            let answered = status, why = problem
            try await store.transaction { db in
                if ok {
                    try await db.query("UPDATE outbox SET delivered_at = \(now), attempts = attempts + 1, last_status = \(answered), last_error = '' WHERE id = \(id)").run()
                } else {
                    try await db.query("""
                        UPDATE outbox SET attempts = attempts + 1, last_status = \(answered), last_error = \(why), next_at = \(now + OutboxRules.backoff(attempts: attempts + 1)),
                               claimed_until = 0 WHERE id = \(id)
                        """).run()
                }
            }
            if ok { sent += 1 } else { failed += 1 }
        }
        return (sent, failed)
    }

    /// The endpoints the actor keeps and the latest items, stuck ones counted.
    public func outbox(actor: Actor) async throws -> OutboxView {
        let paths = actor.grants(for: .officeLists).map(\.placePath)
        guard !paths.isEmpty else { return OutboxView(endpoints: [], items: [], stuck: 0) }
        let condition = BoundSQL.joined(paths.map { "e.path LIKE \($0 + "%")" }, separator: " OR ")
        let now = env.nowSeconds
        return try await store.read { db in
            let endpoints = try await db.query("""
                SELECT e.id, p.name AS place, e.name, e.url, e.active FROM webhook_endpoints e JOIN places p ON p.id = e.place_id WHERE \(condition) ORDER BY e.id
                """).all().map {
                OutboxView.Endpoint(id: try $0.decode(column: "id", as: Int64.self), place: try $0.decode(column: "place", as: String.self),
                                    name: try $0.decode(column: "name", as: String.self), url: try $0.decode(column: "url", as: String.self),
                                    active: try $0.decode(column: "active", as: Int.self) == 1)
            }
            let items = try await db.query("""
                SELECT o.id, e.name, o.kind, o.request_id, o.created_at, o.attempts, o.delivered_at, o.last_status, o.last_error, o.next_at
                FROM outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id WHERE \(condition) ORDER BY o.id DESC LIMIT 100
                """).all().map { r in
                let delivered = try r.decode(column: "delivered_at", as: Int64?.self) != nil, created = try r.decode(column: "created_at", as: Int64.self)
                return OutboxView.Item(id: try r.decode(column: "id", as: Int64.self), endpoint: try r.decode(column: "name", as: String.self),
                                       kind: try r.decode(column: "kind", as: String.self), requestID: try r.decode(column: "request_id", as: Int64.self),
                                       createdAt: LocalTime.text(created), attempts: try r.decode(column: "attempts", as: Int.self), delivered: delivered,
                                       lastStatus: try r.decode(column: "last_status", as: Int?.self), lastError: try r.decode(column: "last_error", as: String.self),
                                       stuck: !delivered && now - created > OutboxRules.stuckAfter,
                                       nextAt: delivered ? nil : LocalTime.text(try r.decode(column: "next_at", as: Int64.self)))
            }
            let stuck = try await db.query("""
                SELECT COUNT(*) AS n FROM outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id WHERE (\(condition)) AND o.delivered_at IS NULL AND o.created_at < \(now - OutboxRules.stuckAfter)
                """).first()!.decode(column: "n", as: Int.self)
            return OutboxView(endpoints: endpoints, items: items, stuck: stuck)
        }
    }
}
