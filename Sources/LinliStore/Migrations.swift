import LinliCore
import Foundation
import SQLKit

/// One versioned migration. The id is `capability.NNN`; once landed a migration is never edited.
public struct Migration: Sendable {
    public let id: String
    public let statements: [String]
    public init(_ id: String, _ statements: [String]) {
        self.id = id
        self.statements = statements
    }
}

public enum Migrator {
    /// Applies every migration not yet recorded, each in its own transaction, in order.
    @discardableResult
    public static func migrate(_ store: any Store, _ migrations: [Migration]) async throws -> [String] {
        // Read first: a server running as the application's role (no right to create anything)
        // finds every migration applied by the owner and changes nothing.
        let recorded = try? await store.transaction { db in
            try await db.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) }
        }
        if let recorded, Set(migrations.map(\.id)).isSubset(of: recorded) { return [] }
        try await store.transaction { db in
            // Under the same lock as each migration below: two servers creating it at once on an
            // empty PostgreSQL database would collide on its type's name.
            if store.dialect == .postgres { try await db.raw("SELECT pg_advisory_xact_lock(7305)").run() }
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
        }
        let done = Set(try await store.transaction { db in
            try await db.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) }
        })
        var applied: [String] = []
        for m in migrations where !done.contains(m.id) {
            let dialect = store.dialect
            let ran = try await store.transaction { db -> Bool in
                // Several servers starting at once against one PostgreSQL database: each migration
                // is applied by the first to take the lock; the others wait, then find it done.
                // (A transaction-scoped lock, so it works through pgbouncer's transaction pooling.)
                if dialect == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(7305)").run()
                    if try await db.raw("SELECT 1 AS x FROM schema_migrations WHERE id = \(bind: m.id)").first() != nil { return false }
                }
                for s in m.statements {
                    // A statement prefixed "sqlite:" or "postgres:" runs on that dialect only.
                    var sql = s
                    if s.hasPrefix("sqlite:") { guard dialect == .sqlite else { continue }; sql = String(s.dropFirst(7)) }
                    if s.hasPrefix("postgres:") { guard dialect == .postgres else { continue }; sql = String(s.dropFirst(9)) }
                    try await db.raw(SQLQueryString(dialect.render(sql))).run()
                }
                try await db.raw("INSERT INTO schema_migrations (id, applied_at) VALUES (\(bind: m.id), \(bind: Int64(Date().timeIntervalSince1970)))").run()
                return true
            }
            if ran { applied.append(m.id) }
        }
        // A migration may change what servers keep in memory (categories it adds): every shared
        // version moves on, so running servers read afresh (see `SharedVersion`).
        if !applied.isEmpty, done.contains("platform.001") || applied.contains("platform.001") {
            try await store.transaction { db in try await db.raw("UPDATE shared_versions SET version = version + 1").run() }
        }
        return applied
    }

    /// Tables whose rows are never changed or removed once written: the application's role may
    /// add and read them, nothing more (their triggers say so too, but a table's owner may
    /// drop a trigger; a role that owns nothing may not).
    public static let appendOnly = ["audit_log", "audit_chain"]

    /// On PostgreSQL with two roles — the schema's owner, who migrates (LINLI_MIGRATE_DATABASE_URL),
    /// and the application's, which serves (LINLI_DATABASE_URL) — gives the application's role
    /// what serving needs: rows of every table, the sequences, and on the append-only tables
    /// INSERT and SELECT only. It owns nothing, so it can neither TRUNCATE the audit log nor
    /// drop its triggers. Run by the owner after each migration, every start (idempotent).
    public static func grantApplication(_ owner: any Store, role: String) async throws {
        guard owner.dialect == .postgres else { return }
        try await owner.transaction { db in
            try await db.raw("SELECT pg_advisory_xact_lock(7305)").run()
            // Nothing of its own in the schema the owner's objects live in (a table it made there
            // would be its to truncate, a function could stand in for the owner's); scratch
            // tables go to their own schema.
            try await db.raw("REVOKE CREATE ON SCHEMA public FROM \(ident: role)").run()
            try await db.raw("GRANT USAGE, CREATE ON SCHEMA \(ident: Dialect.scratchSchema) TO \(ident: role)").run()
            // The owner's tables and sequences, by name: `ON ALL TABLES` fails outright on any
            // table the owner has no right to grant. UPDATE on sequences: loaders set them after
            // rows come in with their ids.
            let tables = try await db.raw("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user ORDER BY 1")
                .all().map { try $0.decode(column: "name", as: String.self) }
            for t in tables { try await db.raw("GRANT SELECT, INSERT, UPDATE, DELETE ON \(ident: t) TO \(ident: role)").run() }
            let sequences = try await db.raw("SELECT sequencename AS name FROM pg_sequences WHERE schemaname = 'public' AND sequenceowner = current_user ORDER BY 1")
                .all().map { try $0.decode(column: "name", as: String.self) }
            for q in sequences { try await db.raw("GRANT USAGE, SELECT, UPDATE ON SEQUENCE \(ident: q) TO \(ident: role)").run() }
            for t in appendOnly where tables.contains(t) { try await db.raw("REVOKE UPDATE, DELETE, TRUNCATE ON \(ident: t) FROM \(ident: role)").run() }
        }
    }

    /// The role a PostgreSQL URL signs in as (`postgres://role[:password]@host/db`).
    public static func role(ofURL url: String) -> String? {
        URLComponents(string: url)?.user.flatMap { $0.removingPercentEncoding }
    }
}
