@preconcurrency import Crypto
import _CryptoExtras
import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Online gifts are pledges until the money has really arrived: a payment provider's signed
/// notification, or a line of the bank statement that staff reconcile, confirms one, and only
/// then is it booked on the ledger, counted in the project's total and matched from the pool.
/// Unpaid pledges expire; money that arrives for an expired pledge is still booked (it is there).
public enum PledgeRules {
    /// How long a pledge waits for its payment (a bank transfer can take a working day).
    public static let lifetimeSeconds: Int64 = 24 * 3600
    /// The reference a payer quotes: "LL" (a gift) or "LM" (a meal at a neighbourhood canteen)
    /// and 16 characters of base32, easy to type in a bank's remark field and to find in a
    /// statement line.
    public static func isReference(_ s: Substring) -> Bool {
        s.count == 18 && (s.hasPrefix("LL") || s.hasPrefix(mealPrefix))
            && s.dropFirst(2).allSatisfy { ("A"..."Z").contains($0) || ("2"..."7").contains($0) }
    }
    /// A meal's payment reference begins so; the canteen (services) books it, not the fund.
    public static let mealPrefix = "LM"
    /// The references quoted anywhere in a bank statement's remark.
    public static func references(in text: String) -> [String] {
        let upper = text.uppercased()
        var out: [String] = []
        var i = upper.startIndex
        while let r = upper[i...].range(of: "L") {
            let end = upper.index(r.lowerBound, offsetBy: 18, limitedBy: upper.endIndex) ?? upper.endIndex
            let candidate = upper[r.lowerBound..<end]
            if isReference(candidate) { out.append(String(candidate)); i = end } else { i = r.upperBound }
        }
        return out
    }
}

/// A payment that a provider or the bank says has arrived.
public struct ArrivedPayment: Sendable, Equatable {
    package init(reference: String, amount: Int64, provider: String, providerTransaction: String) {
        self.reference = reference; self.amount = amount; self.provider = provider; self.providerTransaction = providerTransaction
    }
    public var reference: String
    public var amount: Int64
    /// `wechatpay`, `bank`, …
    public var provider: String
    /// The provider's own id of the payment: each is booked once.
    public var providerTransaction: String
}

/// A payment provider's notification, checked before anything is believed.
public protocol PaymentNotificationVerifier: Sendable {
    var name: String { get }
    /// The payment the notification reports, or an error when it is not authentic or not a success.
    func verify(headers: [String: String], body: [UInt8], now: Int64) throws -> ArrivedPayment
}

/// WeChat Pay API v3 payment notifications: the signature (RSA-SHA256 over
/// "timestamp\nnonce\nbody\n" with WeChat Pay's public key, named by its serial) is verified, the
/// timestamp must be within five minutes, and the resource is decrypted with AEAD_AES_256_GCM under
/// the merchant's APIv3 key. Only TRANSACTION.SUCCESS for our merchant id in CNY is a payment.
public struct WeChatPayV3: PaymentNotificationVerifier {
    public let name = "wechatpay"
    let merchantID: String
    let apiV3Key: SymmetricKey
    let publicKey: _RSA.Signing.PublicKey
    let publicKeyID: String

    public init(merchantID: String, apiV3Key: String, publicKeyPEM: String, publicKeyID: String) throws {
        guard apiV3Key.utf8.count == 32 else { throw LinliError(.internalServerError, code: "config", message: "the WeChat Pay APIv3 key must be 32 characters") }
        self.merchantID = merchantID
        self.apiV3Key = SymmetricKey(data: Data(apiV3Key.utf8))
        self.publicKey = try _RSA.Signing.PublicKey(pemRepresentation: publicKeyPEM)
        self.publicKeyID = publicKeyID
    }

    struct Notification: Decodable {
        struct Resource: Decodable { var algorithm: String; var ciphertext: String; var associated_data: String?; var nonce: String }
        var event_type: String
        var resource: Resource
    }
    struct Transaction: Decodable {
        struct Amount: Decodable { var total: Int64; var currency: String? }
        var mchid: String
        var out_trade_no: String
        var transaction_id: String
        var trade_state: String
        var amount: Amount
    }

    func refuse(_ why: String) -> LinliError { LinliError(.unauthorized, code: "bad_notification", message: why) }

    public func verify(headers: [String: String], body: [UInt8], now: Int64) throws -> ArrivedPayment {
        guard let timestamp = headers["wechatpay-timestamp"], let nonce = headers["wechatpay-nonce"],
              let signature = headers["wechatpay-signature"], let serial = headers["wechatpay-serial"] else { throw refuse("missing Wechatpay-* headers") }
        guard serial == publicKeyID else { throw refuse("unknown Wechatpay-Serial") }
        guard let t = Int64(timestamp), abs(now - t) <= 300 else { throw refuse("stale or future Wechatpay-Timestamp") }
        guard let sig = Data(base64Encoded: signature) else { throw refuse("signature is not base64") }
        let message = Array((timestamp + "\n" + nonce + "\n").utf8) + body + [0x0A]
        guard publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: sig), for: message, padding: .insecurePKCS1v1_5) else {
            throw refuse("signature does not verify")
        }
        let n: Notification
        do { n = try JSONDecoder().decode(Notification.self, from: Data(body)) } catch { throw LinliError.badRequest(nil, "notification is not the expected JSON") }
        guard n.resource.algorithm == "AEAD_AES_256_GCM", let sealed = Data(base64Encoded: n.resource.ciphertext), sealed.count > 16 else {
            throw LinliError.badRequest("resource", "unsupported resource")
        }
        let plain: Data
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: Data(n.resource.nonce.utf8)), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
            plain = try AES.GCM.open(box, using: apiV3Key, authenticating: Data((n.resource.associated_data ?? "").utf8))
        } catch { throw refuse("resource does not decrypt") }
        let tx: Transaction
        do { tx = try JSONDecoder().decode(Transaction.self, from: plain) } catch { throw LinliError.badRequest("resource", "resource is not a transaction") }
        guard n.event_type == "TRANSACTION.SUCCESS", tx.trade_state == "SUCCESS" else {
            throw LinliError.conflict("trade_state", "not_paid", "not a successful payment (\(tx.trade_state))")
        }
        guard tx.mchid == merchantID else { throw refuse("another merchant's payment") }
        guard (tx.amount.currency ?? "CNY") == "CNY", tx.amount.total > 0 else { throw LinliError.badRequest("amount", "amount must be positive CNY") }
        return ArrivedPayment(reference: tx.out_trade_no, amount: tx.amount.total, provider: name, providerTransaction: tx.transaction_id)
    }
}

extension LinkageService {
    public struct PledgeView: Sendable, Codable {
        public var id: Int64
        public var projectID: Int64
        public var amount: Int64
        public var amountText: String
        public var reference: String
        public var status: String
        public var expiresText: String
        enum CodingKeys: String, CodingKey {
            case id, projectID = "project_id", amount, amountText = "amount_text", reference, status, expiresText = "expires_text"
        }
    }

    /// An online gift: a pledge with a payment reference, nothing on the ledger yet.
    func pledge(_ db: any SQLDatabase, _ p: ProjectRow, amount: Int64, name: String, publicName: Bool, scopedKey: String?, actor: Actor, now: Int64) async throws -> DonationReceipt {
        if let scopedKey, let done = try await db.raw("SELECT id, amount, project_id, reference, expires_at FROM pledges WHERE idempotency_key = \(bind: scopedKey)").first() {
            // Answered only once the pledge is on the synchronous replica too (see `Store.awaitDurable`):
            // taking an id makes this transaction's commit wait for it.
            try await store.dialect.commitThroughReplica(db)
            guard try done.decode(column: "amount", as: Int64.self) == amount, try done.decode(column: "project_id", as: Int64.self) == p.id else {
                throw LinliError.invalid("idempotency_key", "key_reused", "该幂等键已用于另一笔不同的捐赠")
            }
            return DonationReceipt(transactionID: 0, amount: amount, matched: 0, amountText: Fen.text(amount), matchedText: Fen.text(0), repeated: true,
                                   status: "pending", pledgeID: try done.decode(column: "id", as: Int64.self),
                                   reference: try done.decode(column: "reference", as: String.self),
                                   expiresText: LocalTime.text(try done.decode(column: "expires_at", as: Int64.self)))
        }
        let reference = "LL" + env.token(bytes: 10).uppercased()
        let expires = now + PledgeRules.lifetimeSeconds
        let id = try await db.raw("""
            INSERT INTO pledges (project_id, community_id, user_id, amount, donor_name, donor_public, reference, status, idempotency_key, created_at, expires_at)
            VALUES (\(bind: p.id), \(bind: p.communityID), \(bind: actor.userID), \(bind: amount), \(bind: name), \(bind: publicName ? 1 : 0), \(bind: reference),
                    'pending', \(bind: scopedKey), \(bind: now), \(bind: expires)) RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        try await audit.append(db, actor: actor, action: "fund.pledge", objectType: "pledge", objectID: id, path: p.path, detail: "amount=\(amount) ref=\(reference)")
        return DonationReceipt(transactionID: 0, amount: amount, matched: 0, amountText: Fen.text(amount), matchedText: Fen.text(0), repeated: false,
                               status: "pending", pledgeID: id, reference: reference, expiresText: LocalTime.text(expires))
    }

    public enum PaymentOutcome: String, Sendable, Codable {
        /// Booked now.
        case booked
        /// This payment was booked before (a provider retrying its notification, a statement imported twice).
        case alreadyBooked = "already_booked"
    }

    /// Books a payment that has really arrived against its pledge: the gift on the ledger, the
    /// project's total, the pool's match, the pledge marked paid and the giver told, in one
    /// transaction. `within` limits it to pledges in an area (staff reconciling a statement).
    public func confirmPayment(_ pay: ArrivedPayment, actor: Actor?, within paths: [String]? = nil) async throws -> (PaymentOutcome, transactionID: Int64) {
        // A meal's payment is the canteen's to book (same provider, same bank statement).
        if pay.reference.hasPrefix(PledgeRules.mealPrefix) { return try await mealPayments(pay, actor, paths) }
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let row = try await db.raw("""
                SELECT id, project_id, user_id, amount, donor_name, donor_public, status, provider, provider_txn, txn_id FROM pledges WHERE reference = \(bind: pay.reference)\(unsafeRaw: lockRow)
                """).first() else { throw LinliError.invalid("reference", "unknown_reference", "没有这个付款参考号的捐赠") }
            let id = try row.decode(column: "id", as: Int64.self)
            let p = try await fetchProject(db, try row.decode(column: "project_id", as: Int64.self), nil, .linkageView)
            if let paths, !paths.contains(where: { p.path.hasPrefix($0) }) {
                // Outside the reconciling staff's area: exactly like an unknown reference.
                throw LinliError.invalid("reference", "unknown_reference", "没有这个付款参考号的捐赠")
            }
            if try row.decode(column: "status", as: String.self) == "paid" {
                guard try row.decode(column: "provider_txn", as: String?.self) == pay.provider + ":" + pay.providerTransaction else {
                    throw LinliError.conflict("reference", "already_paid", "这笔捐赠已由另一笔付款入账，请核对是否重复付款")
                }
                return (.alreadyBooked, try row.decode(column: "txn_id", as: Int64?.self) ?? 0)
            }
            let amount = try row.decode(column: "amount", as: Int64.self)
            guard pay.amount == amount else {
                throw LinliError.invalid("amount", "amount_mismatch", "到账金额 \(Fen.text(pay.amount)) 元与捐赠金额 \(Fen.text(amount)) 元不符")
            }
            // The provider's payment id is booked once, whichever pledge it names.
            if try await db.raw("SELECT id FROM pledges WHERE provider_txn = \(bind: pay.provider + ":" + pay.providerTransaction)").first() != nil {
                throw LinliError.conflict("provider_transaction", "already_used", "这笔付款已用于另一笔捐赠")
            }
            // Matched only while the campaign is open, and only with money that has arrived.
            let open = try await db.raw("SELECT status FROM campaigns WHERE project_id = \(bind: p.id)").first()?.decode(column: "status", as: String.self) == "open"
            let (txn, matched) = try await bookGift(db, p, amount: amount, name: try row.decode(column: "donor_name", as: String.self),
                                                    publicName: try row.decode(column: "donor_public", as: Int.self) == 1, kind: "resident",
                                                    key: nil, match: open, actor: actor, now: now)
            try await db.raw("""
                UPDATE pledges SET status = 'paid', paid_at = \(bind: now), txn_id = \(bind: txn), provider = \(bind: pay.provider),
                    provider_txn = \(bind: pay.provider + ":" + pay.providerTransaction) WHERE id = \(bind: id)
                """).run()
            try await audit.append(db, actor: actor, action: "fund.payment", objectType: "pledge", objectID: id, path: p.path,
                                   detail: "\(pay.provider) \(pay.providerTransaction) amount=\(amount) matched=\(matched)")
            try await notifier.deliver(db, [OutgoingNotification(userID: try row.decode(column: "user_id", as: Int64.self), kind: "payment_confirmed",
                                                                 requestID: nil, subject: "\(p.title) \(Fen.text(amount)) 元", link: "/projects/\(p.id)#money")], at: now)
            return (.booked, txn)
        }
    }

    /// Pledges whose payment did not come in time; returns how many expired.
    @discardableResult
    public func expirePledges() async throws -> Int {
        let now = env.nowSeconds
        // Asked every few seconds: the writer is taken only when something has lapsed.
        guard try await store.read({ db in
            try await db.raw("SELECT 1 AS x FROM pledges WHERE status = 'pending' AND expires_at < \(bind: now) LIMIT 1").first() != nil
        }) else { return 0 }
        return try await store.transaction { db in
            try await db.raw("UPDATE pledges SET status = 'expired' WHERE status = 'pending' AND expires_at < \(bind: now) RETURNING id").all().count
        }
    }

    /// The signed-in person's own pledges, newest first.
    public func myPledges(actor: Actor) async throws -> [PledgeView] {
        try await store.read { db in
            try await db.raw("SELECT id, project_id, amount, reference, status, expires_at FROM pledges WHERE user_id = \(bind: actor.userID) ORDER BY id DESC LIMIT 100").all().map { r in
                let amount = try r.decode(column: "amount", as: Int64.self)
                return PledgeView(id: try r.decode(column: "id", as: Int64.self), projectID: try r.decode(column: "project_id", as: Int64.self), amount: amount,
                                  amountText: Fen.text(amount), reference: try r.decode(column: "reference", as: String.self),
                                  status: try r.decode(column: "status", as: String.self), expiresText: LocalTime.text(try r.decode(column: "expires_at", as: Int64.self)))
            }
        }
    }

    public struct StatementLine: Sendable, Codable {
        public var line: Int
        public var serial: String
        public var amountText: String
        public var reference: String
        /// `booked`, `already_booked`, or the reason the line matched nothing.
        public var outcome: String
        public var message: String
        enum CodingKeys: String, CodingKey { case line, serial, amountText = "amount_text", reference, outcome, message }
    }

    /// Staff reconcile a bank statement (CSV with a header naming 流水号, 金额 and 附言 / 摘要 /
    /// 备注): each credit line that quotes a pledge's (or a meal's) reference with its exact
    /// amount books that pledge (or meal), once (the bank's serial is the payment's id). Lines in nobody's area, or quoting
    /// no reference, are listed for a person to look at.
    public func reconcileBankStatement(_ csv: String, actor: Actor) async throws -> [StatementLine] {
        let paths = actor.grants(for: .fundManage).map(\.placePath)
        guard !paths.isEmpty else { throw LinliError.forbidden }
        let records = CSVReader.parse(csv)
        guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw LinliError.invalid("file", "empty", "对账单为空")
        }
        func column(_ names: [String]) -> Int? { header.firstIndex { h in names.contains { h.contains($0) } } }
        guard let serialCol = column(["流水号", "交易流水", "serial"]), let amountCol = column(["金额", "贷方", "收入", "amount"]),
              let remarkCol = column(["附言", "摘要", "备注", "用途", "remark"]) else {
            throw LinliError.invalid("file", "columns", "对账单须有“流水号”“金额”“附言（或摘要、备注）”三列")
        }
        var out: [StatementLine] = []
        for r in records.dropFirst() {
            let f = r.fields
            guard f.count > max(serialCol, amountCol, remarkCol) else { continue }
            let serial = f[serialCol].trimmingCharacters(in: .whitespaces), remark = f[remarkCol]
            var line = StatementLine(line: r.line, serial: serial, amountText: f[amountCol], reference: "", outcome: "", message: "")
            guard !serial.isEmpty, let amount = try? Fen.parse(f[amountCol].replacingOccurrences(of: ",", with: ""), field: "amount") else {
                line.outcome = "skipped"; line.message = "没有流水号或不是入账金额"; out.append(line); continue
            }
            guard let reference = PledgeRules.references(in: remark).first else {
                line.outcome = "no_reference"; line.message = "附言中没有付款参考号（LL 或 LM 开头）"; out.append(line); continue
            }
            line.reference = reference
            do {
                let (outcome, _) = try await confirmPayment(ArrivedPayment(reference: reference, amount: amount, provider: "bank", providerTransaction: serial),
                                                            actor: actor, within: paths)
                line.outcome = outcome.rawValue
                line.message = outcome == .booked ? "已入账" : "此前已入账"
            } catch let e as LinliError {
                line.outcome = e.code; line.message = e.message
            }
            out.append(line)
        }
        return out
    }
}
