@preconcurrency import Crypto
import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Makes the audit log tamper-evident. Each entry is sealed, in id order, by a keyed hash
/// (HMAC-SHA256 under a key derived from the data key, which never sits in the database) of the
/// previous entry's seal and its own fields, stored in the append-only `audit_chain`. Changing,
/// removing or slipping in an entry breaks the chain from there on, and nobody without the key can
/// compute a chain that holds; `linli audit verify` walks it.
///
/// Entries are sealed shortly after they commit, not inside each writing transaction: chaining
/// inline would serialise every write of every server on the chain's head. On SQLite (one writer,
/// ids in commit order) everything committed is sealed; on PostgreSQL, where a transaction may
/// commit after a later id, only entries older than `settleSeconds` are.
public struct AuditChain: Sendable {
    let store: any Store
    let env: Env
    let key: SymmetricKey
    static let genesis = "linli-audit-genesis"
    static let settleSeconds: Int64 = 30

    public init(store: any Store, env: Env, masterKey: SymmetricKey) {
        self.store = store
        self.env = env
        self.key = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("linli-audit-chain".utf8), outputByteCount: 32)
    }

    /// The seal of one entry after `previous`: fields length-prefixed, so no two entries encode alike.
    func seal(previous: String, _ fields: [String]) -> String {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array(previous.utf8))
        for f in fields {
            let b = Array(f.utf8)
            mac.update(data: Array("\(b.count):".utf8))
            mac.update(data: b)
        }
        return Hex.encode(mac.finalize())
    }

    static let columns = "SELECT id, at, user_id, username, action, object_type, object_id, place_path, reason, detail FROM audit_log"

    static func fields(_ r: any SQLRow) throws -> (Int64, [String]) {
        let id = try r.decode(column: "id", as: Int64.self)
        return (id, [String(id), String(try r.decode(column: "at", as: Int64.self)),
                     (try r.decode(column: "user_id", as: Int64?.self)).map(String.init) ?? "-",
                     try r.decode(column: "username", as: String.self), try r.decode(column: "action", as: String.self),
                     try r.decode(column: "object_type", as: String.self),
                     (try r.decode(column: "object_id", as: Int64?.self)).map(String.init) ?? "-",
                     try r.decode(column: "place_path", as: String.self), try r.decode(column: "reason", as: String.self),
                     try r.decode(column: "detail", as: String.self)])
    }

    /// Seals what is ready, up to `batch` entries; returns how many. Safe to run on several
    /// servers at once: the chain's primary key lets only one seal an entry (the other's
    /// transaction fails and it tries again next time).
    @discardableResult
    public func sealPending(batch: Int = 5000) async throws -> Int {
        let cutoff = env.nowSeconds - (store.dialect == .postgres ? Self.settleSeconds : 0)
        // Asked every few seconds: the writer is taken only when there is something to seal.
        guard try await store.read({ db in
            try await db.raw("""
                SELECT 1 AS x FROM audit_log WHERE id > (SELECT COALESCE(MAX(entry_id), 0) FROM audit_chain) AND at <= \(bind: cutoff) LIMIT 1
                """).first() != nil
        }) else { return 0 }
        return try await store.transaction { db in
            let head = try await db.raw("SELECT entry_id, hash FROM audit_chain ORDER BY entry_id DESC LIMIT 1").first()
            var previous = try head?.decode(column: "hash", as: String.self) ?? Self.genesis
            let last = try head?.decode(column: "entry_id", as: Int64.self) ?? 0
            let rows = try await db.raw("""
                \(unsafeRaw: Self.columns) WHERE id > \(bind: last) AND at <= \(bind: cutoff) ORDER BY id LIMIT \(unsafeRaw: String(max(1, batch)))
                """).all()
            var sealed: [BoundSQL] = []
            for r in rows {
                let (id, f) = try Self.fields(r)
                previous = seal(previous: previous, f)
                sealed.append("(\(id), \(previous))")
            }
            if !sealed.isEmpty {
                for chunk in stride(from: 0, to: sealed.count, by: 500) {
                    try await db.query("INSERT INTO audit_chain (entry_id, hash) VALUES \(BoundSQL.joined(Array(sealed[chunk..<min(chunk + 500, sealed.count)]), separator: ", "))").run()
                }
            }
            return sealed.count
        }
    }

    public struct Verification: Sendable {
        /// Entries whose seal was recomputed and matched.
        public var verified = 0
        /// Entries newer than the last seal (not yet sealed; not an error).
        public var unsealed = 0
        /// Entry ids where the chain breaks: changed, inserted, or next to a removed entry.
        public var breaks: [Int64] = []
        /// The last seal: keep it somewhere else to detect the removal of the newest entries too.
        public var head: String = AuditChain.genesis
        public var headID: Int64 = 0
        public var ok: Bool { breaks.isEmpty }
    }

    /// Recomputes the whole chain.
    public func verify() async throws -> Verification {
        try await store.read { db in
            var v = Verification()
            let top = try await db.raw("SELECT entry_id, hash FROM audit_chain ORDER BY entry_id DESC LIMIT 1").first()
            v.headID = try top?.decode(column: "entry_id", as: Int64.self) ?? 0
            v.head = try top?.decode(column: "hash", as: String.self) ?? Self.genesis
            var previous = Self.genesis
            var after: Int64 = 0
            while true {
                let rows = try await db.raw("""
                    SELECT a.id, a.at, a.user_id, a.username, a.action, a.object_type, a.object_id, a.place_path, a.reason, a.detail, c.hash
                    FROM audit_log a LEFT JOIN audit_chain c ON c.entry_id = a.id WHERE a.id > \(bind: after) ORDER BY a.id LIMIT 10000
                    """).all()
                if rows.isEmpty { break }
                for r in rows {
                    let (id, f) = try Self.fields(r)
                    after = id
                    guard let stored = try r.decode(column: "hash", as: String?.self) else {
                        // Below the head every entry must be sealed: an unsealed one was slipped in.
                        if id < v.headID { v.breaks.append(id) } else { v.unsealed += 1 }
                        continue
                    }
                    if seal(previous: previous, f) == stored { v.verified += 1 } else { v.breaks.append(id) }
                    previous = stored
                }
            }
            // A seal whose entry is gone: an entry was removed.
            for r in try await db.raw("SELECT entry_id FROM audit_chain c WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.id = c.entry_id) ORDER BY entry_id LIMIT 1000").all() {
                v.breaks.append(try r.decode(column: "entry_id", as: Int64.self))
            }
            v.breaks.sort()
            return v
        }
    }
}
