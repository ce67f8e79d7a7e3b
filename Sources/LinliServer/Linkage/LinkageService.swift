import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Five-society linkage use cases: volunteers and shifts, needs and micro-projects, social
/// workers, and community funds. Each runs in one transaction and checks the actor on the server.
public struct LinkageService: Sendable {
    let store: any Store
    let env: Env
    let audit: AuditLog
    let notifier: any Notifier
    let receipts: PhotoStore
    /// The delivery orders a task's shift carries on a day (a canteen's round, the services
    /// capability's): shown on the volunteer's shift, their doors' codes accepted at check-in.
    public var deliveries: @Sendable (any SQLDatabase, Int64, Int64) async throws -> [DeliveryStop] = { _, _, _ in [] }
    /// Books a payment quoting a meal's reference (LM…): the canteen's (services') use case, in
    /// its own transaction. Without a canteen capability, no meal reference is known.
    public var mealPayments: @Sendable (ArrivedPayment, Actor?, [String]?) async throws -> (PaymentOutcome, transactionID: Int64) = { _, _, _ in
        throw LinliError.invalid("reference", "unknown_reference", "没有这个付款参考号的订餐")
    }
    /// The area of the canteen a meal's reference belongs to (services'), for a payment held.
    public var mealReferencePath: @Sendable (String) async throws -> String? = { _ in nil }

    public init(store: any Store, env: Env, notifier: any Notifier = InAppNotifier(), receiptDirectory: String) {
        self.store = store
        self.env = env
        self.audit = AuditLog(env: env)
        self.notifier = notifier
        self.receipts = PhotoStore(directory: receiptDirectory)
    }

    // MARK: Scope

    /// `/city/district/street/community/` of any deeper path.
    static func communityPath(of path: String) -> String? {
        let ids = PlacePath.ids(path)
        guard ids.count >= 4 else { return nil }
        return "/" + ids.prefix(4).map(String.init).joined(separator: "/") + "/"
    }

    /// Whether the actor may take `action` on something of the community at `path`: staff inside
    /// their area, residents and volunteers in their own community only.
    static func covers(_ actor: Actor, _ action: Action, _ path: String) -> Bool {
        actor.grants(for: action).contains { g in
            if g.role == .resident || g.role == .volunteer { return communityPath(of: g.placePath).map { path.hasPrefix($0) } ?? false }
            return path.hasPrefix(g.placePath)
        }
    }

    /// 404 when the actor cannot see it at all, 403 when they see it but may not do this.
    static func require(_ actor: Actor, _ action: Action, _ path: String) throws {
        guard covers(actor, action, path) else {
            if covers(actor, .linkageView, path) { throw LinliError.forbidden }
            throw LinliError.notFound
        }
    }

    /// The community a resident or volunteer belongs to.
    package static func ownCommunity(_ actor: Actor) -> (id: Int64, path: String)? {
        for g in actor.grants where g.role == .resident || g.role == .volunteer {
            if let p = communityPath(of: g.placePath) { return (PlacePath.ids(p)[3], p) }
        }
        return nil
    }

    /// Communities (and villages) the actor may act in for `action`, for form choices.
    public func communityOptions(actor: Actor, _ action: Action) async throws -> [(id: Int64, name: String)] {
        try await store.read { db in
            var out: [(Int64, String)] = []
            var seen = Set<Int64>()
            for g in actor.grants(for: action) {
                let prefix = (g.role == .resident || g.role == .volunteer) ? (Self.communityPath(of: g.placePath) ?? "-") : g.placePath
                let rows = try await db.raw("""
                    SELECT id, name FROM places WHERE kind IN ('community', 'village') AND \(store.dialect.startsWith("path", prefix)) ORDER BY path LIMIT 500
                    """).all()
                // A grant below a community (a property company's compound) reaches no community.
                for r in rows {
                    let id = try r.decode(column: "id", as: Int64.self)
                    if seen.insert(id).inserted { out.append((id, try r.decode(column: "name", as: String.self))) }
                }
            }
            return out
        }
    }

    /// A community the actor may act in, by id (from a form), with its path.
    func community(_ db: any SQLDatabase, _ id: Int64?, _ actor: Actor, _ action: Action, field: String = "community_id") async throws -> (id: Int64, path: String, name: String) {
        let chosen = id ?? Self.ownCommunity(actor)?.id
        guard let chosen else { throw LinliError.invalid(field, "required", "请选择社区") }
        guard let r = try await db.raw("SELECT path, name FROM places WHERE id = \(bind: chosen) AND kind IN ('community', 'village')").first() else {
            throw LinliError.invalid(field, "unknown_community", "没有这个社区")
        }
        let path = try r.decode(column: "path", as: String.self)
        guard Self.covers(actor, action, path) else { throw LinliError.invalid(field, "out_of_scope", "不能在该社区操作") }
        return (chosen, path, try r.decode(column: "name", as: String.self))
    }

    /// The nearest point on record for a place: its own, else its nearest ancestor's.
    static func point(_ db: any SQLDatabase, placePath: String) async throws -> (Double, Double)? {
        let ids = PlacePath.ids(placePath)
        guard !ids.isEmpty else { return nil }
        let rows = try await db.raw("SELECT id, lat, lng FROM places WHERE id IN (\(unsafeRaw: ids.map(String.init).joined(separator: ","))) AND lat IS NOT NULL").all()
        var byID: [Int64: (Double, Double)] = [:]
        for r in rows { byID[try r.decode(column: "id", as: Int64.self)] = (try r.decode(column: "lat", as: Double.self), try r.decode(column: "lng", as: Double.self)) }
        for id in ids.reversed() { if let p = byID[id] { return p } }
        return nil
    }

    /// `FOR UPDATE` where the database has it; SQLite's single writer already serialises.
    var lockRow: String { store.dialect == .postgres ? " FOR UPDATE" : "" }

    func notify(_ db: any SQLDatabase, _ users: [Int64], kind: String, subject: String, link: String, except: Int64? = nil) async throws {
        try await notifier.tell(db, users, except: except, at: env.nowSeconds) {
            OutgoingNotification(userID: $0, kind: kind, requestID: nil, subject: subject, link: link)
        }
    }

    /// Staff who manage `action` over a community (for approvals and answers).
    func staff(_ db: any SQLDatabase, communityPath: String, roles: [Role] = [.communityStaff]) async throws -> [Int64] {
        try await db.raw("""
            SELECT DISTINCT g.user_id FROM role_grants g JOIN places p ON p.id = g.place_id
            WHERE g.role IN (\(unsafeRaw: roles.map { "'\($0.rawValue)'" }.joined(separator: ","))) AND \(bind: communityPath) LIKE p.path || '%'
            """).all().map { try $0.decode(column: "user_id", as: Int64.self) }
    }

    static func trimmed(_ s: String?) -> String { (s ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
}

enum LinkageLimits {
    static let titleMax = 80
    static let textMax = 4000
    static let headcountMax = 50
    static let shiftsPerTaskMax = 400
}
