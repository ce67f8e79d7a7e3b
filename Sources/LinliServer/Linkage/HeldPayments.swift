import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Money that really arrived through the payment provider but could not be booked — a
/// reference nobody knows, an amount other than the pledge's or the meal's, a gift or meal paid
/// twice (cash at the counter while a WeChat payment was on its way). The provider retries a
/// notification until it hears it was received, then gives up, and the money would sit in the
/// merchant account with nothing in Linli to say so. So it is held here, once per provider
/// payment, for the staff who keep the funds of its area to refund or match by hand.
public struct HeldPayment: Codable, Sendable, Equatable {
    public var id: Int64
    public var provider: String
    public var reference: String
    public var amountText: String
    /// The refusal's code (`unknown_reference`, `amount_mismatch`, `already_paid`, …) and words.
    public var reason: String
    public var message: String
    public var receivedText: String
    public var resolution: String?
    enum CodingKeys: String, CodingKey {
        case id, provider, reference, amountText = "amount_text", reason, message, receivedText = "received_text", resolution
    }
}

enum HeldPaymentRules {
    /// Who sees a held payment: staff keeping the funds of its area; one whose reference is
    /// nobody's (no area) goes to those of a district or the city, who hold the merchant account
    /// and can trace it (one street's office does not see another's money).
    static func visible(path: String?, to grantPaths: [String]) -> Bool {
        if let path { return grantPaths.contains { path.hasPrefix($0) } }
        return grantPaths.contains(where: seesUnknown)
    }
    static func seesUnknown(_ grantPath: String) -> Bool { PlacePath.ids(grantPath).count <= 2 }

    /// The refusals that are about the payment itself; anything else (a database error, a
    /// conflict a retry may not meet) is left for the provider to retry.
    static let holdable: Set<String> = ["unknown_reference", "amount_mismatch", "already_paid", "already_used", "already_booked"]
}

extension LinkageService {
    /// A payment the provider says has arrived (its notification already verified): booked,
    /// or — when it cannot be, for a reason about the payment itself — held for a person. Either
    /// way the provider may be told it was received.
    public func receiveProviderPayment(_ pay: ArrivedPayment) async throws {
        do {
            _ = try await confirmPayment(pay, actor: nil)
        } catch let refusal as LinliError where HeldPaymentRules.holdable.contains(refusal.code) {
            try await holdPayment(pay, because: refusal)
        }
    }

    /// Holds an authentic payment that `confirmPayment` refused, once per provider payment (a
    /// retried notification adds nothing).
    public func holdPayment(_ pay: ArrivedPayment, because refusal: LinliError) async throws {
        let now = env.nowSeconds
        let path: String?
        if pay.reference.hasPrefix(PledgeRules.mealPrefix) {
            path = try await mealReferencePath(pay.reference)
        } else {
            path = try await store.read { db in
                try await db.raw("""
                    SELECT p.path FROM pledges g JOIN micro_projects p ON p.id = g.project_id WHERE g.reference = \(bind: pay.reference)
                    """).first()?.decode(column: "path", as: String.self)
            }
        }
        try await store.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO held_payments (provider, provider_txn, reference, amount, reason, message, path, received_at)
                VALUES (\(bind: pay.provider), \(bind: pay.provider + ":" + pay.providerTransaction), \(bind: pay.reference), \(bind: pay.amount),
                        \(bind: refusal.code), \(bind: refusal.message), \(bind: path), \(bind: now))
                ON CONFLICT (provider_txn) DO NOTHING RETURNING id
                """).first() else { return }
            try await audit.append(db, actor: nil, action: "fund.payment_held", objectType: "held_payment", objectID: try row.decode(column: "id", as: Int64.self),
                                   path: path ?? "/", detail: "\(pay.provider) \(pay.providerTransaction) ref=\(pay.reference) amount=\(pay.amount) \(refusal.code)")
        }
    }

    /// The held payments the actor's fund grants reach: those still open, then the last
    /// resolved ones.
    public func heldPayments(actor: Actor) async throws -> [HeldPayment] {
        let paths = actor.grants(for: .fundManage).map(\.placePath)
        guard !paths.isEmpty else { throw LinliError.forbidden }
        // The area in SQL, so that other areas' payments never crowd out the actor's own.
        var areas = paths.map { store.dialect.startsWith("path", $0) }
        if paths.contains(where: HeldPaymentRules.seesUnknown) { areas.append("path IS NULL") }
        let within = BoundSQL.joined(areas, separator: " OR ")
        return try await store.read { db in
            try await db.query("""
                \(unsafeRaw: Self.heldColumns) WHERE \(within)
                ORDER BY CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT 100
                """).all().map(Self.heldView)
        }
    }

    static let heldColumns = "SELECT id, provider, reference, amount, reason, message, path, received_at, resolution FROM held_payments"

    static func heldView(_ r: any SQLRow) throws -> HeldPayment {
        HeldPayment(id: try r.decode(column: "id", as: Int64.self), provider: try r.decode(column: "provider", as: String.self),
                    reference: try r.decode(column: "reference", as: String.self), amountText: Fen.text(try r.decode(column: "amount", as: Int64.self)),
                    reason: try r.decode(column: "reason", as: String.self), message: try r.decode(column: "message", as: String.self),
                    receivedText: LocalTime.text(try r.decode(column: "received_at", as: Int64.self)),
                    resolution: try r.decode(column: "resolution", as: String?.self))
    }

    /// Staff say what became of a held payment (refunded through the provider, booked by hand
    /// as a cash gift, …), once. Outside their area it is 404.
    public func resolveHeldPayment(_ id: Int64, note raw: String?, actor: Actor) async throws -> HeldPayment {
        let note = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !note.isEmpty, note.count <= 200 else { throw LinliError.invalid("note", "required", "请写明这笔款的处理结果（200 字以内），如：已原路退回") }
        let paths = actor.grants(for: .fundManage).map(\.placePath)
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let r = try await db.raw("SELECT path, resolved_at FROM held_payments WHERE id = \(bind: id)\(unsafeRaw: lockRow)").first(),
                  HeldPaymentRules.visible(path: try r.decode(column: "path", as: String?.self), to: paths) else { throw LinliError.notFound }
            guard try r.decode(column: "resolved_at", as: Int64?.self) == nil else { throw LinliError.conflict(nil, "already_resolved", "这笔款已处理") }
            try await db.raw("""
                UPDATE held_payments SET resolved_at = \(bind: now), resolved_by = \(bind: actor.signature), resolution = \(bind: note) WHERE id = \(bind: id)
                """).run()
            try await audit.append(db, actor: actor, action: "fund.payment_resolved", objectType: "held_payment", objectID: id,
                                   path: try r.decode(column: "path", as: String?.self) ?? "/", detail: note)
            return try Self.heldView(try await db.raw("\(unsafeRaw: Self.heldColumns) WHERE id = \(bind: id)").first()!)
        }
    }
}
