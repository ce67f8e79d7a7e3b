import Foundation
import SQLKit
import LinliCore
import LinliStore

public struct AuditEntry: Sendable, Codable {
    public var id: Int64
    public var at: Int64
    public var username: String
    public var action: String
    public var objectType: String
    public var objectID: Int64?
    public var reason: String
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case id, at, username, action, objectType = "object_type", objectID = "object_id", reason, detail
    }
}

public struct ActingStep: Sendable, Codable, Equatable {
    public var at: Int64
    public var action: String
    public var objectType: String
    public var objectID: Int64?

    enum CodingKeys: String, CodingKey { case at, action, objectType = "object_type", objectID = "object_id" }
}

/// Append-only record of who saw or changed what, when and why. Written in the same transaction as
/// the change it records, so neither exists without the other.
public struct AuditLog: Sendable {
    package init(env: Env) { self.env = env }
    let env: Env

    public func append(_ db: any SQLDatabase, actor: Actor?, action: String, objectType: String, objectID: Int64?,
                       path: String, reason: String = "", detail: String = "") async throws {
        // Acting for a resident: the entry names the member of staff who did it, for whom, and
        // the step joins the session's record.
        let userID = actor?.acting?.userID ?? actor?.userID
        let username = actor.map { a in a.acting.map { "\($0.username)（代 \(a.username)）" } ?? a.username } ?? "system"
        try await db.query("""
            INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, place_path, reason, detail)
            VALUES (\(env.nowSeconds), \(userID), \(username), \(action),
                    \(objectType), \(objectID), \(path), \(reason), \(detail))
            """).run()
        if let acting = actor?.acting {
            try await db.query("""
                INSERT INTO acting_steps (acting_id, at, action, object_type, object_id)
                VALUES (\(acting.sessionID), \(env.nowSeconds), \(action), \(objectType), \(objectID))
                """).run()
        }
    }

    /// The steps of some acting sessions, oldest first, keyed by session.
    public func actingSteps(_ db: any SQLDatabase, sessions: [Int64]) async throws -> [Int64: [ActingStep]] {
        guard !sessions.isEmpty else { return [:] }
        var out: [Int64: [ActingStep]] = [:]
        for r in try await db.query("SELECT acting_id, at, action, object_type, object_id FROM acting_steps WHERE acting_id IN (\(list: sessions)) ORDER BY id").all() {
            out[try r.decode(column: "acting_id", as: Int64.self), default: []].append(ActingStep(
                at: try r.decode(column: "at", as: Int64.self), action: try r.decode(column: "action", as: String.self),
                objectType: try r.decode(column: "object_type", as: String.self), objectID: try r.decode(column: "object_id", as: Int64?.self)))
        }
        return out
    }

    /// Many entries by the system (no actor) in one statement, as a sweep writes them.
    func appendBySystem(_ db: any SQLDatabase, action: String, objectType: String, entries: [(objectID: Int64, path: String, detail: String)]) async throws {
        let now = env.nowSeconds
        try await db.insertRows("INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, place_path, reason, detail) VALUES ", entries) { e in
            "(\(now), NULL, 'system', \(action), \(objectType), \(e.objectID), \(e.path), '', \(e.detail))"
        }
    }

    /// Entries inside the auditor's scope, newest first.
    public func list(_ store: any Store, actor: Actor, limit: Int = 100, before: Int64? = nil) async throws -> [AuditEntry] {
        let grants = actor.grants(for: .auditView)
        guard !grants.isEmpty else { throw LinliError.forbidden }
        let paths = grants.map(\.placePath)
        return try await store.read { db in
            var q = SQLQueryString("SELECT id, at, username, action, object_type, object_id, reason, detail FROM audit_log WHERE (")
            for (i, p) in paths.enumerated() {
                if i > 0 { q.appendLiteral(" OR ") }
                q.appendInterpolation(unsafeRaw: "place_path LIKE ")
                q.appendInterpolation(bind: p + "%")
            }
            // Sign-ins, tokens and command-line actions belong to no place ('/'): the city's auditors see them.
            if grants.contains(where: { PlacePath.ids($0.placePath).count == 1 }) { q.appendInterpolation(unsafeRaw: " OR place_path = '/'") }
            q.appendLiteral(")")
            if let before { q.appendInterpolation(unsafeRaw: " AND id < "); q.appendInterpolation(bind: before) }
            q.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(max(1, min(limit, 500)))")
            return try await db.raw(q).all().map { r in
                AuditEntry(id: try r.decode(column: "id", as: Int64.self), at: try r.decode(column: "at", as: Int64.self),
                           username: try r.decode(column: "username", as: String.self),
                           action: try r.decode(column: "action", as: String.self),
                           objectType: try r.decode(column: "object_type", as: String.self),
                           objectID: try r.decode(column: "object_id", as: Int64?.self),
                           reason: try r.decode(column: "reason", as: String.self),
                           detail: try r.decode(column: "detail", as: String.self))
            }
        }
    }
}
