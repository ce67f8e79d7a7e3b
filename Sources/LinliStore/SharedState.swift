import LinliCore
import Foundation
import NIOConcurrencyHelpers
import SQLKit

/// What several servers sharing one database agree on through it: which one runs a scheduled job
/// this time, and whether something a server keeps in memory was changed on another. These are
/// the platform's own tables; capabilities use them through the two types below only.
public enum PlatformMigrations {
    public static let all: [Migration] = [
        Migration("platform.001", [
            // One row per scheduled job: the next time any server may run it.
            "CREATE TABLE scheduled_jobs (name TEXT PRIMARY KEY, next_at BIGINT NOT NULL)",
            // One row per thing kept in memory (categories and routing rules, …): its version.
            "CREATE TABLE shared_versions (name TEXT PRIMARY KEY, version BIGINT NOT NULL)",
        ]),
        // Scratch tables live apart (see `Dialect.scratchSchema`).
        Migration("platform.002", ["postgres:CREATE SCHEMA IF NOT EXISTS linli_scratch"]),
    ]
}

/// A job that must run once per period however many servers run the schedule (an hourly file
/// sweep): the first server to move the job's next time on runs it; the others find it moved.
public enum ScheduledJobs {
    /// Whether this server runs `name` now: true for exactly one caller per `every` seconds.
    /// The claim is one conditional UPDATE, so two servers racing for it cannot both win.
    public static func claim(_ store: any Store, _ name: String, every: Int64, now: Int64) async throws -> Bool {
        try await store.transaction { db in
            // First time anywhere: the INSERT is the claim (a racing server's waits on it, then
            // does nothing and finds the next time moved on).
            if try await db.raw("""
                INSERT INTO scheduled_jobs (name, next_at) VALUES (\(bind: name), \(bind: now + every)) ON CONFLICT (name) DO NOTHING RETURNING name
                """).first() != nil { return true }
            return try await db.raw("""
                UPDATE scheduled_jobs SET next_at = \(bind: now + every) WHERE name = \(bind: name) AND next_at <= \(bind: now) RETURNING name
                """).first() != nil
        }
    }
}

/// The version of something every server keeps in memory. A change bumps it in the change's own
/// transaction; a server compares the version its copy was made at with the shared one, read at
/// most once per `recheckSeconds`, so a change on one server reaches the others within that.
/// (A version read is one indexed row; PostgreSQL's LISTEN/NOTIFY would need a connection held
/// outside the pool, which pgbouncer's transaction pooling does not allow.)
public final class SharedVersion: Sendable {
    public let name: String
    public static let recheckSeconds = 1.0
    private let box = NIOLockedValueBox<(value: Int64, at: Double)?>(nil)

    public init(_ name: String) { self.name = name }

    /// The version as last read, if read within `recheckSeconds` (monotonic time: a cache
    /// bound, not a domain time, so it does not follow the injected clock).
    public func fresh() -> Int64? {
        box.withLockedValue { v in
            guard let v, ProcessInfo.processInfo.systemUptime - v.at < Self.recheckSeconds else { return nil }
            return v.value
        }
    }

    /// The shared version, read from the database unless read within `recheckSeconds`.
    public func current(_ db: any SQLDatabase) async throws -> Int64 {
        if let v = fresh() { return v }
        let v = try await db.raw("SELECT version FROM shared_versions WHERE name = \(bind: name)").first()?.decode(column: "version", as: Int64.self) ?? 0
        set(v)
        return v
    }

    /// Moves the version on, inside the transaction that makes the change. This server forgets
    /// the version it read, so its next look reads the database again: the new version once the
    /// change commits, the old one if it rolls back (remembering the new one here would leave
    /// this server believing in a version that never was).
    public func bump(_ db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO shared_versions (name, version) VALUES (\(bind: name), 1)
            ON CONFLICT (name) DO UPDATE SET version = shared_versions.version + 1
            """).run()
        box.withLockedValue { $0 = nil }
    }

    private func set(_ v: Int64) { box.withLockedValue { $0 = (v, ProcessInfo.processInfo.systemUptime) } }
}

/// A value read from the database and kept in memory until it changes on any server (a list of
/// webhook endpoints read on every request step, changed a few times a year): reloaded when its
/// `SharedVersion` moves, which a change does in its own transaction (`changed`).
public final class SharedCache<Value: Sendable>: Sendable {
    public let version: SharedVersion
    private let box = NIOLockedValueBox<(version: Int64, value: Value)?>(nil)

    public init(_ name: String) { version = SharedVersion(name) }

    /// The kept value if its version is still the shared one, else `load`'s (then kept).
    public func value(_ db: any SQLDatabase, load: (any SQLDatabase) async throws -> Value) async throws -> Value {
        let current = try await version.current(db)
        if let kept = box.withLockedValue({ $0 }), kept.version == current { return kept.value }
        let value = try await load(db)
        box.withLockedValue { $0 = (current, value) }
        return value
    }

    /// The kept value when its version was checked within `SharedVersion.recheckSeconds` and
    /// still matches: no database needed (a hot path skips borrowing a connection).
    public func kept() -> Value? {
        guard let v = version.fresh(), let kept = box.withLockedValue({ $0 }), kept.version == v else { return nil }
        return kept.value
    }

    /// Inside the transaction that changes what the value is read from.
    public func changed(_ db: any SQLDatabase) async throws {
        try await version.bump(db)
        forget()
    }

    /// Drops the kept value (after the change's commit, so that this server reads it at once).
    public func forget() { box.withLockedValue { $0 = nil } }
}
