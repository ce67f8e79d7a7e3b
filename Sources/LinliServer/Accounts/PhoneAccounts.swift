import Foundation
import HummingbirdBcrypt
import SQLKit
import LinliCore
import LinliStore

/// The plain rules of one-time SMS codes.
enum SMSCodeRules {
    static let digits = 6
    static let validSeconds: Int64 = 10 * 60
    /// A code dies after this many wrong tries; a new one must be asked for.
    static let maxAttempts = 5
    /// One code per number and purpose a minute, ten a day.
    static let resendSeconds: Int64 = 60
    static let perPhonePerDay = 10
    /// Codes asked for from one address in the sign-in throttle's window (15 minutes).
    static let perAddress = 20
    /// Failed bindings per account in the throttle window.
    static let maxBindFailures = 5

    /// Six digits from four random bytes (the bias of 2^32 mod 10^6 is below one in four thousand).
    static func code(_ bytes: [UInt8]) -> String {
        let n = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } % 1_000_000
        return ChinaTime.pad(Int64(n), digits)
    }

    static func normalise(_ raw: String) -> String { String(raw.filter { $0.isASCII && $0.isNumber }.prefix(12)) }
}

/// A request from a new account to join a household, waiting for staff where the registry's
/// data and the person's answers disagree.
public struct BindRequest: Sendable, Codable {
    public var id: Int64
    public var userID: Int64
    public var displayName: String
    public var phone: String?
    public var householdID: Int64
    public var address: String
    public var residentID: Int64?
    public var status: String
    public var note: String
    public var reason: String?
    public var created: String
    enum CodingKeys: String, CodingKey {
        case id, userID = "user_id", displayName = "display_name", phone, householdID = "household_id", address
        case residentID = "resident_id", status, note, reason, created
    }
}

public enum BindOutcome: Sendable, Equatable {
    /// Bound at once: the household code, the last four digits and the phone all agree.
    case bound
    /// Sent to the community office to confirm.
    case pending
}

extension AccountService {
    func phoneIndex(_ phone: String) -> String? { cipher?.index("phone", phone) }

    static func validPhone(_ raw: String) throws -> String {
        let p = PhoneNumber.normalise(raw)
        guard PhoneNumber.isValid(p) else { throw LinliError.invalid("phone", "invalid_phone", "手机号应为 11 位数字，以 1 开头") }
        return p
    }

    /// Sends a one-time code. The same answer whether or not the number has an account (for a
    /// reset, no message goes to a number without one), so the form tells nobody who is registered.
    public func requestSMSCode(phone raw: String, purpose: SMSPurpose, address: String?) async throws -> String {
        let phone = try Self.validPhone(raw)
        guard let key = phoneIndex(phone) else { throw LinliError(.serviceUnavailable, code: "sms_unavailable", message: "短信服务未开通") }
        let now = env.nowSeconds, addressKey = "s:" + (address ?? "local")
        let code = SMSCodeRules.code(env.randomBytes(4))
        let send: Bool = try await store.transaction { db in
            if try await isThrottled(db, key: addressKey, max: SMSCodeRules.perAddress, now: now) {
                throw LinliError(.tooManyRequests, code: "throttled", field: "phone", message: "获取验证码过于频繁，请 15 分钟后再试")
            }
            let recent = try await db.raw("""
                SELECT created_at FROM sms_codes WHERE phone_index = \(bind: key) AND created_at > \(bind: now - 86400) ORDER BY created_at DESC
                """).all().map { try $0.decode(column: "created_at", as: Int64.self) }
            if let last = recent.first, last > now - SMSCodeRules.resendSeconds {
                throw LinliError(.tooManyRequests, code: "too_soon", field: "phone", message: "验证码已发送，请 \(SMSCodeRules.resendSeconds - (now - last)) 秒后再获取")
            }
            if recent.count >= SMSCodeRules.perPhonePerDay {
                throw LinliError(.tooManyRequests, code: "throttled", field: "phone", message: "该手机号今天获取验证码次数已达上限，请明天再试")
            }
            try await countFailure(db, key: addressKey, now: now)
            let registered = try await db.raw("SELECT id FROM users WHERE phone_index = \(bind: key)").first() != nil
            let send = purpose == .register || registered
            // Earlier codes for the same purpose end: only the newest works.
            try await db.raw("UPDATE sms_codes SET used_at = \(bind: now) WHERE phone_index = \(bind: key) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL").run()
            try await db.raw("""
                INSERT INTO sms_codes (purpose, phone_index, code_hash, created_at, expires_at, attempts)
                VALUES (\(bind: purpose.rawValue), \(bind: key), \(bind: codeHash(key, code)), \(bind: now), \(bind: now + SMSCodeRules.validSeconds), \(bind: send ? 0 : SMSCodeRules.maxAttempts))
                """).run()
            try await db.raw("DELETE FROM sms_codes WHERE created_at < \(bind: now - 2 * 86400)").run()
            return send
        }
        if send { try await sms.sendCode(code, to: phone, purpose: purpose) }
        return "验证码已发送至 \(PhoneNumber.masked(phone))，\(SMSCodeRules.validSeconds / 60) 分钟内有效"
    }

    func codeHash(_ phoneKey: String, _ code: String) -> String { cipher?.index("sms", phoneKey + ":" + code) ?? Self.hashToken(phoneKey + code) }

    /// Uses up the newest code for the number: right once, within its time, with at most five
    /// wrong tries before it dies. Runs in the caller's transaction; a wrong try is kept even
    /// though the caller's work is refused (the count is written before the error).
    func consumeSMSCode(_ db: any SQLDatabase, phoneKey: String, code raw: String, purpose: SMSPurpose) async throws -> Bool {
        let code = SMSCodeRules.normalise(raw)
        let now = env.nowSeconds
        guard let r = try await db.raw("""
            SELECT id, code_hash, attempts, expires_at FROM sms_codes
            WHERE phone_index = \(bind: phoneKey) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL ORDER BY id DESC
            """).first() else { return false }
        let id = try r.decode(column: "id", as: Int64.self)
        guard try r.decode(column: "attempts", as: Int.self) < SMSCodeRules.maxAttempts, try r.decode(column: "expires_at", as: Int64.self) > now else { return false }
        guard code.count == SMSCodeRules.digits, try r.decode(column: "code_hash", as: String.self) == codeHash(phoneKey, code) else {
            try await db.raw("UPDATE sms_codes SET attempts = attempts + 1 WHERE id = \(bind: id)").run()
            return false
        }
        try await db.raw("UPDATE sms_codes SET used_at = \(bind: now) WHERE id = \(bind: id)").run()
        return true
    }

    static let wrongCode = LinliError.invalid("sms_code", "invalid_code", "验证码不正确或已过期（错 5 次后须重新获取）")

    /// Checks a code in its own transaction, so a wrong try is counted even when nothing else is written.
    func checkSMSCode(phoneKey: String, code: String, purpose: SMSPurpose) async throws {
        let ok = try await store.transaction { db in try await consumeSMSCode(db, phoneKey: phoneKey, code: code, purpose: purpose) }
        if !ok { throw Self.wrongCode }
    }

    /// A resident makes an account with their mobile number and a code sent to it. The account
    /// holds no role until it is bound to a household. `communityPath` is the community whose
    /// page or poster the person came from: they can bind only to a household there.
    public func registerByPhone(phone raw: String, code: String, displayName rawName: String, password: String,
                                communityPath: String?) async throws -> SessionInfo {
        var v = Validator()
        let phone = PhoneNumber.normalise(raw)
        v.check(PhoneNumber.isValid(phone), "phone", "invalid_phone", "手机号应为 11 位数字，以 1 开头")
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!name.isEmpty && name.count <= 20, "display_name", "required", "请填写您的称呼（不超过 20 个字）")
        v.check(!SMSCodeRules.normalise(code).isEmpty, "sms_code", "required", "请填写短信验证码")
        let username = "m" + env.token(bytes: 5)
        if let problem = PasswordPolicy.problem(password, username: phone) { v.add(.invalid("password", "weak_password", problem)) }
        try v.throwIfAny()
        guard let key = phoneIndex(phone), let cipher else { throw LinliError(.serviceUnavailable, code: "sms_unavailable", message: "短信服务未开通") }
        try await checkSMSCode(phoneKey: key, code: code, purpose: .register)
        let cost = bcryptCost
        let hash = try await Self.offload { Bcrypt.hash(password, cost: cost) }
        return try await store.transaction { db in
            if try await db.raw("SELECT id FROM users WHERE phone_index = \(bind: key)").first() != nil {
                throw LinliError.conflict("phone", "phone_registered", "该手机号已注册，请直接登录，忘记密码可用短信找回")
            }
            let uid = try await insertUser(db, username, displayName: name, hash: hash, createdPath: communityPath, actor: nil, detail: "phone " + PhoneNumber.masked(phone))
            try await db.raw("""
                UPDATE users SET phone_index = \(bind: key), phone_cipher = \(bind: try cipher.seal(phone)), phone_masked = \(bind: PhoneNumber.masked(phone)) WHERE id = \(bind: uid)
                """).run()
            return try await startSession(db, userID: uid)
        }
    }

    /// A new password with a code sent to the account's phone; every session and token ends.
    public func resetPasswordBySMS(phone raw: String, code: String, password: String) async throws {
        let phone = try Self.validPhone(raw)
        guard let key = phoneIndex(phone) else { throw LinliError(.serviceUnavailable, code: "sms_unavailable", message: "短信服务未开通") }
        if let problem = PasswordPolicy.problem(password, username: phone) { throw LinliError.invalid("password", "weak_password", problem) }
        try await checkSMSCode(phoneKey: key, code: code, purpose: .reset)
        let username = try await store.read { db in
            try await db.raw("SELECT username FROM users WHERE phone_index = \(bind: key)").first()?.decode(column: "username", as: String.self)
        }
        // A code is only ever sent to a number with an account; this cannot be reached without one.
        guard let username else { throw Self.wrongCode }
        try await setPassword(username: username, password: password)
    }

    /// The account's phone index and the area it registered from.
    func phoneAndArea(_ userID: Int64) async throws -> (phoneIndex: String?, createdPath: String?) {
        try await store.read { db in
            guard let r = try await db.raw("SELECT phone_index, created_path FROM users WHERE id = \(bind: userID)").first() else { throw LinliError.notFound }
            return (try r.decode(column: "phone_index", as: String?.self), try r.decode(column: "created_path", as: String?.self))
        }
    }

    /// Binds the signed-in account to a household. `lookup` asks the registry with this
    /// account's phone: where the household code, the last four digits
    /// of the person's ID number and the phone on record all agree, the account becomes that
    /// resident's at once; where the digits match but the phone does not (or none is on
    /// record), or the person asks for it, the community office confirms. A wrong code or
    /// wrong digits count against the account (five in 15 minutes, then it waits).
    public func bind(askStaff: Bool, actor: Actor, lookup: @Sendable (_ phoneIndex: String?) async throws -> BindCandidate?) async throws -> BindOutcome {
        let now = env.nowSeconds, key = Self.guessKey(actor)
        let area = try await phoneAndArea(actor.userID)
        let candidate = try await lookup(area.phoneIndex)
        enum Step: Sendable { case refused(LinliError), done(BindOutcome) }
        let step: Step = try await store.transaction { db in
            if let refused = try await guessesSpent(db, key: key, now: now) { return .refused(refused) }
            guard let c = candidate else {
                try await countFailure(db, key: key, now: now)
                return .refused(LinliError.invalid("household_code", "invalid_code", "户码不正确，请核对户卡上的户码"))
            }
            if let area = area.createdPath, !c.path.hasPrefix(area) {
                return .refused(LinliError.invalid("household_code", "other_community", "该户不在您注册时所选的社区，请核对户码或联系社区工作人员"))
            }
            if c.residentID == nil && !askStaff {
                try await countFailure(db, key: key, now: now)
                return .refused(LinliError.invalid("id_last4", "no_match", "该户没有证件号码后四位为此的居民；如确属本户，可勾选“请社区工作人员核实”后提交"))
            }
            if try await db.raw("SELECT id FROM bind_requests WHERE user_id = \(bind: actor.userID) AND household_id = \(bind: c.householdID) AND status = 'pending'").first() != nil {
                return .refused(LinliError.conflict("household_code", "already_pending", "您已申请绑定该户，请等待社区工作人员核实"))
            }
            if let rid = c.residentID, c.phoneAgrees {
                try await grant(db, username: actor.username, role: .resident, placeID: nil, gridID: nil, householdID: c.householdID, residentID: rid, actor: nil)
                try await audit.append(db, actor: actor, action: "bind.auto", objectType: "household", objectID: c.householdID, path: c.path, detail: "resident \(rid)")
                return .done(.bound)
            }
            let note = c.residentID == nil ? "证件号后四位与登记不符，本人申请核实" : "手机号与登记不符或未登记手机号"
            let id = try await db.raw("""
                INSERT INTO bind_requests (user_id, household_id, resident_id, path, status, note, created_at)
                VALUES (\(bind: actor.userID), \(bind: c.householdID), \(bind: c.residentID), \(bind: c.path), 'pending', \(bind: note), \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "bind.request", objectType: "bind_request", objectID: id, path: c.path, detail: note)
            return .done(.pending)
        }
        switch step {
        case .refused(let e): throw e
        case .done(let o): return o
        }
    }

    /// Guessing a household code and an ID's last four (binding an account, asking to look after
    /// a relative) counts against one key per account.
    static func guessKey(_ actor: Actor) -> String { "b:\(actor.userID)" }

    /// The refusal once an account has used up its guesses (five in 15 minutes), else nil.
    func guessesSpent(_ db: any SQLDatabase, key: String, now: Int64) async throws -> LinliError? {
        guard try await isThrottled(db, key: key, max: SMSCodeRules.maxBindFailures, now: now) else { return nil }
        return LinliError(.tooManyRequests, code: "throttled", field: "household_code", message: "尝试次数过多，请 15 分钟后再试，或请社区工作人员帮助")
    }

    /// Binding requests: the actor's own (`mine`), or (for managers) those in their area.
    public func bindRequests(actor: Actor, mine: Bool = false, pendingOnly: Bool = true) async throws -> [BindRequest] {
        var terms: [BoundSQL] = mine ? [] : actor.grants(for: .userManage).map { store.dialect.startsWith("b.path", $0.placePath) }
        terms.append("b.user_id = \(actor.userID)")
        let condition = BoundSQL.joined(terms, separator: " OR ")
        return try await store.read { db in
            try await db.query("""
                SELECT b.id, b.user_id, u.display_name, u.phone_masked, b.household_id, b.resident_id, b.status, b.note, b.reason, b.created_at, h.address
                FROM bind_requests b JOIN users u ON u.id = b.user_id JOIN households h ON h.id = b.household_id
                WHERE (\(condition)) \(unsafeRaw: pendingOnly ? "AND b.status = 'pending'" : "") ORDER BY b.id DESC LIMIT 500
                """).all().map { r in
                BindRequest(id: try r.decode(column: "id", as: Int64.self), userID: try r.decode(column: "user_id", as: Int64.self),
                            displayName: try r.decode(column: "display_name", as: String.self), phone: try r.decode(column: "phone_masked", as: String?.self),
                            householdID: try r.decode(column: "household_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                            residentID: try r.decode(column: "resident_id", as: Int64?.self),
                            status: try r.decode(column: "status", as: String.self), note: try r.decode(column: "note", as: String.self),
                            reason: try r.decode(column: "reason", as: String?.self),
                            created: LocalTime.text(try r.decode(column: "created_at", as: Int64.self)))
            }
        }
    }

    /// Staff confirm (naming the resident, who the registry says lives there) or refuse (with a
    /// reason the person sees). Outside the manager's area the request does not exist.
    public func decideBind(_ id: Int64, approve: Bool, residentID: Int64?, reason rawReason: String?, residentLives: @Sendable (Int64, Int64) async throws -> Bool,
                           actor: Actor) async throws {
        try Self.requireGrantable(.resident, by: actor)
        let reason = (rawReason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let (row, path, household, userID) = try await store.read { db in
            guard let r = try await db.raw("SELECT b.user_id, b.household_id, b.resident_id, b.path, b.status, u.username FROM bind_requests b JOIN users u ON u.id = b.user_id WHERE b.id = \(bind: id)").first()
            else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            guard actor.grants(for: .userManage).contains(where: { path.hasPrefix($0.placePath) }) else { throw LinliError.notFound }
            guard try r.decode(column: "status", as: String.self) == "pending" else { throw LinliError.conflict("status", "already_decided", "该申请已处理") }
            return (r, path, try r.decode(column: "household_id", as: Int64.self), try r.decode(column: "user_id", as: Int64.self))
        }
        let username = try row.decode(column: "username", as: String.self)
        let stored = try row.decode(column: "resident_id", as: Int64?.self)
        let rid = residentID ?? stored
        if approve {
            guard let rid else { throw LinliError.invalid("resident_id", "required", "请选择这位居民是本户的哪一位") }
            guard try await residentLives(rid, household) else { throw LinliError.invalid("resident_id", "not_in_household", "该居民不在此户") }
        } else {
            guard reason.count >= 2 else { throw LinliError.invalid("reason", "required", "请填写不予绑定的原因（申请人可以看到）") }
        }
        try await store.transaction { db in
            let changed = try await db.raw("""
                UPDATE bind_requests SET status = \(bind: approve ? "approved" : "refused"), resident_id = \(bind: rid), decided_by = \(bind: actor.userID),
                       decided_at = \(bind: env.nowSeconds), reason = \(bind: reason.isEmpty ? nil : reason)
                WHERE id = \(bind: id) AND status = 'pending' RETURNING id
                """).first()
            guard changed != nil else { throw LinliError.conflict("status", "already_decided", "该申请已处理") }
            if approve {
                try await grant(db, username: username, role: .resident, placeID: nil, gridID: nil, householdID: household, residentID: rid, actor: actor)
            }
            try await audit.append(db, actor: actor, action: approve ? "bind.approve" : "bind.refuse", objectType: "user", objectID: userID, path: path, reason: reason)
        }
    }
}
