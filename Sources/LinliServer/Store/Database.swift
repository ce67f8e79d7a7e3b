import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The two databases Linli runs on. Dialect-specific SQL lives behind `Dialect` only.
public enum Dialect: Sendable {
    case sqlite, postgres

    /// Column definition of an auto-increment primary key.
    var idColumn: String {
        switch self {
        case .sqlite: "INTEGER PRIMARY KEY"
        case .postgres: "BIGSERIAL PRIMARY KEY"
        }
    }
    /// After rows were inserted with explicit ids, PostgreSQL's sequence must be moved past them.
    func resetSequenceSQL(_ table: String) -> String? {
        switch self {
        case .sqlite: nil
        case .postgres: "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT MAX(id) FROM \(table)), 0) + 1, false)"
        }
    }
    /// Rewrites the few portable placeholders used in migrations.
    func render(_ ddl: String) -> String {
        ddl.replacingOccurrences(of: "{ID}", with: idColumn)
    }
}

/// The store: a way to read and a way to write in one transaction.
public protocol Store: Sendable {
    var dialect: Dialect { get }
    /// Runs reads; on SQLite on one of the reader connections.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func shutdown() async
}

/// Serialises async work without blocking a thread (SQLite has one writer at a time).
final class AsyncMutex: Sendable {
    private struct State { var locked = false; var waiters: [CheckedContinuation<Void, Never>] = [] }
    private let state = NIOLockedValueBox(State())

    func lock() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { s -> Bool in
                if !s.locked { s.locked = true; return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    func unlock() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.locked = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}

/// SQLite in WAL mode: one writer connection behind an async mutex (so writers queue instead of
/// failing with SQLITE_BUSY) and a few reader connections that never block the writer.
public final class SQLiteStore: Store {
    public let dialect = Dialect.sqlite
    let writer: SQLiteConnection
    let readers: [SQLiteConnection]
    let writeLock = AsyncMutex()
    let next = NIOLockedValueBox(0)
    let logger: Logger

    public static func open(path: String, readers: Int = 4, logger: Logger) async throws -> SQLiteStore {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                       "PRAGMA busy_timeout=10000", "PRAGMA cache_size=-65536"] {
            try await writer.sql().raw(SQLQueryString(pragma)).run()
        }
        var rs: [SQLiteConnection] = []
        for _ in 0..<readers {
            let r = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            for pragma in ["PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000", "PRAGMA query_only=ON", "PRAGMA cache_size=-65536"] {
                try await r.sql().raw(SQLQueryString(pragma)).run()
            }
            rs.append(r)
        }
        return SQLiteStore(writer: writer, readers: rs, logger: logger)
    }

    init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let i = next.withLockedValue { n -> Int in n = (n + 1) % readers.count; return n }
        return try await body(readers[i].sql())
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            let db = writer.sql()
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func shutdown() async {
        try? await writer.close()
        for r in readers { try? await r.close() }
    }
}

/// PostgreSQL through a `PostgresClient` pool; the client's `run()` is started as a task here.
public final class PostgresStore: Store {
    public let dialect = Dialect.postgres
    let client: PostgresClient
    let runTask: Task<Void, Never>

    public init(url: String, logger: Logger) throws {
        let config = try SQLPostgresConfiguration(url: url)
        var clientConfig = PostgresClient.Configuration(
            host: config.coreConfiguration.host ?? "127.0.0.1",
            port: config.coreConfiguration.port ?? 5432,
            username: config.coreConfiguration.username,
            password: config.coreConfiguration.password,
            database: config.coreConfiguration.database,
            tls: .disable)
        clientConfig.options.maximumConnections = 16
        let client = PostgresClient(configuration: clientConfig, backgroundLogger: logger)
        self.client = client
        self.runTask = Task { await client.run() }
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { conn in try await body(conn.sql()) }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { conn in
            let db = conn.sql()
            try await db.raw("BEGIN").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func shutdown() async {
        runTask.cancel()
    }
}

public enum StoreFactory {
    /// `postgres://…` selects PostgreSQL; anything else is a SQLite file path.
    public static func open(databaseURL: String?, sqlitePath: String, logger: Logger) async throws -> any Store {
        if let url = databaseURL, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try PostgresStore(url: url, logger: logger)
        }
        let dir = (sqlitePath as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        return try await SQLiteStore.open(path: sqlitePath, logger: logger)
    }
}
