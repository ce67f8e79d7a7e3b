import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct CertificateKindInput: Codable, Sendable {
    /// The street whose communities issue it.
    public var placeID: Int64?
    public var name: String?
    /// The text, with {姓名} {住址} {用途} {日期} {社区} where they go.
    public var body: String?
    public var basis: String?
    /// On the negative list: communities do not issue it, and say where to go instead.
    public var refused: Bool?
    public var goInstead: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case placeID = "place_id", name, body, basis, refused, goInstead = "go_instead" }
}

public struct CertificateInput: Codable, Sendable {
    public var kindID: Int64?
    public var residentID: Int64?
    public var purpose: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case kindID = "kind_id", residentID = "resident_id", purpose }
}

public struct CertificateRevokeInput: Codable, Sendable {
    public var reason: String?
    public init() {}
}

public struct CertificateKindView: Codable, Sendable {
    public var id: Int64, street: String, name: String, basis: String, refused: Bool, goInstead: String
    enum CodingKeys: String, CodingKey { case id, street, name, basis, refused, goInstead = "go_instead" }
}

public struct CertificateView: Codable, Sendable {
    public var id: Int64
    public var kind: String
    public var community: String
    public var number: String
    public var code: String
    public var holder: String
    /// The whole text, for its issuing office only (reading it is audited).
    public var text: String?
    public var purpose: String
    public var issuedBy: String
    public var issuedAt: String
    public var revoked: Bool
    public var revokeReason: String
    enum CodingKeys: String, CodingKey {
        case id, kind, community, number, code, holder, text, purpose, issuedBy = "issued_by", issuedAt = "issued_at", revoked, revokeReason = "revoke_reason"
    }
}

/// What anyone holding a certificate's code may check: that it was issued, by whom and when,
/// for whom (masked), and whether it still stands. Nothing else.
public struct CertificateCheck: Codable, Sendable {
    public var number: String, kind: String, community: String, holder: String, issuedOn: String, valid: Bool
    enum CodingKeys: String, CodingKey { case number, kind, community, holder, issuedOn = "issued_on", valid }
}

/// The plain rules of certificates, with worked examples in `CertificateRulesTests`.
public enum CertificateRules {
    /// The template filled in; unknown braces are left as written.
    public static func fill(_ body: String, name: String, address: String, purpose: String, date: String, community: String) -> String {
        [("{姓名}", name), ("{住址}", address), ("{用途}", purpose), ("{日期}", date), ("{社区}", community)]
            .reduce(body) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    /// "湖滨〔2026〕第 0007 号": the street's name without its suffix, the year, the number.
    public static func number(street: String, year: Int, seq: Int) -> String {
        var short = street
        for suffix in ["街道办事处", "街道", "镇", "乡"] where short.hasSuffix(suffix) && short.count > suffix.count { short.removeLast(suffix.count); break }
        let n = String(seq)
        return "\(short)〔\(year)〕第 \(String(repeating: "0", count: max(0, 4 - n.count)) + n) 号"
    }
}

extension OfficesService {
    func kindRows(_ db: any SQLDatabase, _ condition: BoundSQL) async throws -> [(CertificateKindView, String, String)] {
        try await db.query("""
            SELECT k.id, p.name AS street, k.name, k.body, k.basis, k.refused, k.go_instead, k.path FROM certificate_kinds k JOIN places p ON p.id = k.place_id
            WHERE \(condition) ORDER BY k.refused, k.id LIMIT 200
            """).all().map { r in
            (CertificateKindView(id: try r.decode(column: "id", as: Int64.self), street: try r.decode(column: "street", as: String.self),
                                 name: try r.decode(column: "name", as: String.self), basis: try r.decode(column: "basis", as: String.self),
                                 refused: try r.decode(column: "refused", as: Int.self) == 1, goInstead: try r.decode(column: "go_instead", as: String.self)),
             try r.decode(column: "body", as: String.self), try r.decode(column: "path", as: String.self))
        }
    }

    public func addCertificateKind(_ input: CertificateKindInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await keptPlace(db, input.placeID, actor: actor, missing: "请选择街道")
            var v = Validator()
            let name = Self.trimmed(input.name), body = Self.trimmed(input.body), basis = Self.trimmed(input.basis), go = Self.trimmed(input.goInstead)
            let refused = input.refused ?? false
            v.check(!name.isEmpty && name.count <= 60, "name", "required", "请填写证明名称（60 字以内）")
            v.check(basis.count <= 300, "basis", "too_long", "依据请在 300 字以内")
            if refused {
                v.check(!basis.isEmpty, "basis", "required", "负面清单上的证明请写明依据")
                v.check(!go.isEmpty && go.count <= 200, "go_instead", "required", "请写明应到哪里办理（200 字以内）")
            } else {
                v.check(body.contains("{姓名}") && body.count <= 2000, "body", "required", "请填写证明正文（2000 字以内），含 {姓名}")
            }
            try v.throwIfAny()
            let id = try await db.query("""
                INSERT INTO certificate_kinds (place_id, path, name, body, basis, refused, go_instead, created_by, created_at)
                VALUES (\(p.id), \(p.path), \(name), \(refused ? "" : body), \(basis), \(refused), \(refused ? go : ""), \(actor.userID), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "certificate.kind_add", objectType: "certificate_kind", objectID: id, path: p.path, detail: name)
            return id
        }
    }

    /// The kinds for the actor's communities (and the streets they keep), issuable first.
    public func certificateKinds(actor: Actor) async throws -> [CertificateKindView] {
        let paths = Set((actor.grants(for: .workItemRespond) + actor.grants(for: .officeLists)).map(\.placePath))
        guard !paths.isEmpty else { return [] }
        let condition = BoundSQL.joined(paths.map { p -> BoundSQL in "(\(p) LIKE k.path || '%' OR k.path LIKE \(p + "%"))" }, separator: " OR ")
        return try await store.read { db in try await kindRows(db, condition).map(\.0) }
    }

    /// Issues a certificate for a resident the actor's community serves, from a kind its street
    /// allows; a kind on the negative list is refused with its basis and where to go instead.
    public func issueCertificate(_ input: CertificateInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            guard let kindID = input.kindID else { throw LinliError.invalid("kind_id", "required", "请选择证明种类") }
            guard let residentID = input.residentID else { throw LinliError.invalid("resident_id", "required", "请选择为哪位居民开具") }
            let holder = try await registry.certificateHolder(db, residentID: residentID, actor: actor)
            let communities = Self.answering(actor)
            guard communities.contains(where: { holder.path.hasPrefix($0) }) else {
                throw LinliError.invalid("resident_id", "not_yours", "证明由居民所在社区开具")
            }
            guard let (kind, body, kindPath) = try await kindRows(db, "k.id = \(kindID)").first, holder.path.hasPrefix(kindPath) else {
                throw LinliError.invalid("kind_id", "not_found", "本街道没有这种证明")
            }
            if kind.refused {
                throw LinliError.invalid("kind_id", "negative_list", "「\(kind.name)」在负面清单上，社区不出具（依据：\(kind.basis)）。请\(kind.goInstead)")
            }
            let purpose = Self.trimmed(input.purpose)
            guard !purpose.isEmpty, purpose.count <= 100 else { throw LinliError.invalid("purpose", "required", "请写明用途（100 字以内）") }
            let ids = PlacePath.ids(holder.path)
            guard ids.count > 3, let street = try await place(db, ids[2]), let community = try await place(db, ids[3]) else { throw LinliError.notFound }
            let year = Int(ChinaTime.iso(day: LocalDay.of(now)).prefix(4))!
            try await db.query("INSERT INTO certificate_counters (street_id, year, last) VALUES (\(street.id), \(year), 0) ON CONFLICT (street_id, year) DO NOTHING").run()
            // The counter row is the lock: two certificates at once get consecutive numbers.
            let seq = try await db.query("UPDATE certificate_counters SET last = last + 1 WHERE street_id = \(street.id) AND year = \(year) RETURNING last").first()!
                .decode(column: "last", as: Int.self)
            let text = CertificateRules.fill(body, name: holder.name, address: holder.address, purpose: purpose,
                                             date: ChinaTime.iso(day: LocalDay.of(now)), community: community.name)
            let code = env.token(bytes: 8)
            let id = try await db.query("""
                INSERT INTO certificates (kind_id, community_id, path, resident_id, holder_masked, number, code, text_cipher, purpose, issued_by, issued_by_name, issued_at)
                VALUES (\(kindID), \(community.id), \(holder.path), \(residentID), \(holder.name.maskedName), \(CertificateRules.number(street: street.name, year: year, seq: seq)),
                        \(code), \(try cipher.seal(text)), \(purpose), \(actor.userID), \(actor.signature), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "certificate.issue", objectType: "certificate", objectID: id, path: holder.path, detail: kind.name)
            return id
        }
    }

    /// A certificate for its issuing office (the whole text: reading it is audited).
    public func certificate(_ id: Int64, actor: Actor) async throws -> CertificateView {
        try await store.transaction { db in
            let (v, path) = try await certificateRow(db, "c.id = \(id)")
            guard Self.answering(actor).contains(where: { path.hasPrefix($0) }) || actor.may(.officeLists, on: ObjectScope(path: path)) else {
                throw LinliError.notFound
            }
            try await audit.append(db, actor: actor, action: "certificate.view", objectType: "certificate", objectID: id, path: path)
            return v
        }
    }

    func certificateRow(_ db: any SQLDatabase, _ condition: BoundSQL) async throws -> (CertificateView, String) {
        guard let r = try await db.query("""
            SELECT c.id, k.name AS kind, p.name AS community, c.number, c.code, c.holder_masked, c.text_cipher, c.purpose, c.issued_by_name, c.issued_at,
                   c.revoked_at, c.revoke_reason, c.path
            FROM certificates c JOIN certificate_kinds k ON k.id = c.kind_id JOIN places p ON p.id = c.community_id WHERE \(condition)
            """).first() else { throw LinliError.notFound }
        return (CertificateView(
            id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self), community: try r.decode(column: "community", as: String.self),
            number: try r.decode(column: "number", as: String.self), code: try r.decode(column: "code", as: String.self),
            holder: try r.decode(column: "holder_masked", as: String.self), text: try cipher.open(try r.decode(column: "text_cipher", as: String.self)),
            purpose: try r.decode(column: "purpose", as: String.self), issuedBy: try r.decode(column: "issued_by_name", as: String.self),
            issuedAt: LocalTime.text(try r.decode(column: "issued_at", as: Int64.self)), revoked: try r.decode(column: "revoked_at", as: Int64?.self) != nil,
            revokeReason: try r.decode(column: "revoke_reason", as: String.self)), try r.decode(column: "path", as: String.self))
    }

    /// The certificates the actor's communities issued, newest first (no text: names masked).
    public func certificates(actor: Actor) async throws -> [CertificateView] {
        let paths = Self.answering(actor)
        guard !paths.isEmpty else { return [] }
        let condition = BoundSQL.joined(paths.map { "c.path LIKE \($0 + "%")" }, separator: " OR ")
        return try await store.read { db in
            try await db.query("""
                SELECT c.id, k.name AS kind, p.name AS community, c.number, c.code, c.holder_masked, c.purpose, c.issued_by_name, c.issued_at, c.revoked_at, c.revoke_reason
                FROM certificates c JOIN certificate_kinds k ON k.id = c.kind_id JOIN places p ON p.id = c.community_id WHERE \(condition) ORDER BY c.id DESC LIMIT 100
                """).all().map { r in
                CertificateView(id: try r.decode(column: "id", as: Int64.self), kind: try r.decode(column: "kind", as: String.self),
                                community: try r.decode(column: "community", as: String.self), number: try r.decode(column: "number", as: String.self),
                                code: try r.decode(column: "code", as: String.self), holder: try r.decode(column: "holder_masked", as: String.self), text: nil,
                                purpose: try r.decode(column: "purpose", as: String.self), issuedBy: try r.decode(column: "issued_by_name", as: String.self),
                                issuedAt: LocalTime.text(try r.decode(column: "issued_at", as: Int64.self)),
                                revoked: try r.decode(column: "revoked_at", as: Int64?.self) != nil, revokeReason: try r.decode(column: "revoke_reason", as: String.self))
            }
        }
    }

    public func revokeCertificate(_ id: Int64, _ input: CertificateRevokeInput, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            guard let r = try await db.query("SELECT path FROM certificates WHERE id = \(id)").first() else { throw LinliError.notFound }
            let path = try r.decode(column: "path", as: String.self)
            // Its community, or the street that keeps the kinds (a certificate wrongly issued).
            guard Self.answering(actor).contains(where: { path.hasPrefix($0) }) || actor.may(.officeLists, on: ObjectScope(path: path)) else { throw LinliError.notFound }
            let reason = Self.trimmed(input.reason)
            guard !reason.isEmpty, reason.count <= 300 else { throw LinliError.invalid("reason", "required", "请写明作废的理由（300 字以内）") }
            guard try await db.query("UPDATE certificates SET revoked_at = \(now), revoke_reason = \(reason) WHERE id = \(id) AND revoked_at IS NULL RETURNING id").first() != nil else {
                throw LinliError.conflict("state", "revoked", "这份证明已经作废")
            }
            try await audit.append(db, actor: actor, action: "certificate.revoke", objectType: "certificate", objectID: id, path: path)
        }
    }

    /// Anyone with the code: the certificate's number, kind, issuer, masked holder and validity.
    public func verifyCertificate(code: String) async throws -> CertificateCheck {
        let code = code.trimmingCharacters(in: .whitespaces).lowercased()
        guard !code.isEmpty, code.count <= 40 else { throw LinliError.notFound }
        return try await store.read { db in
            guard let r = try await db.query("""
                SELECT c.number, k.name AS kind, p.name AS community, c.holder_masked, c.issued_at, c.revoked_at
                FROM certificates c JOIN certificate_kinds k ON k.id = c.kind_id JOIN places p ON p.id = c.community_id WHERE c.code = \(code)
                """).first() else { throw LinliError.notFound }
            return CertificateCheck(number: try r.decode(column: "number", as: String.self), kind: try r.decode(column: "kind", as: String.self),
                                    community: try r.decode(column: "community", as: String.self), holder: try r.decode(column: "holder_masked", as: String.self),
                                    issuedOn: Self.dayText(LocalDay.of(try r.decode(column: "issued_at", as: Int64.self))),
                                    valid: try r.decode(column: "revoked_at", as: Int64?.self) == nil)
        }
    }
}
