import LinliCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit

/// The two databases Linli runs on. Dialect-specific SQL lives behind `Dialect` only.
public enum Dialect: Sendable {
    case sqlite, postgres

    /// The schema of scratch tables (a generator's working table, a benchmark's rows) on
    /// PostgreSQL: the server's own role may create tables there and nowhere else, and it is on
    /// no one's search path, so nothing made there can stand in for the owner's objects. SQLite
    /// has one schema and one file's permissions.
    package static let scratchSchema = "linli_scratch"

    /// A scratch table's name, qualified where the database has schemas.
    package func scratch(_ table: String) -> String {
        switch self {
        case .sqlite: table
        case .postgres: Self.scratchSchema + "." + table
        }
    }

    /// The same as an expression for SQLKit's builders.
    package func scratchTable(_ table: String) -> SQLQualifiedTable {
        switch self {
        case .sqlite: SQLQualifiedTable(table)
        case .postgres: SQLQualifiedTable(table, space: Self.scratchSchema)
        }
    }

    /// Column definition of an auto-increment primary key.
    package var idColumn: String {
        switch self {
        case .sqlite: "INTEGER PRIMARY KEY"
        case .postgres: "BIGSERIAL PRIMARY KEY"
        }
    }
    /// Locks the rows a transaction read so that no other server or connection changes them before
    /// it writes (PostgreSQL; on SQLite every write transaction runs alone on the single writer).
    /// With `skipLocked`, rows another sweeper holds are left to it instead of waited for.
    package func lockForUpdate(of alias: String? = nil, skipLocked: Bool = false) -> String {
        switch self {
        case .sqlite: ""
        case .postgres: " FOR UPDATE" + (alias.map { " OF " + $0 } ?? "") + (skipLocked ? " SKIP LOCKED" : "")
        }
    }

    /// Which of a counter's rows a transaction adds to. A count many transactions add to at once
    /// (a community's requests this month) is kept as several rows summed by its readers: on
    /// PostgreSQL one row would make every writer wait for the one before it to commit (and,
    /// with a synchronous replica, to be applied there); sixteen rows picked at random let them
    /// pass each other. SQLite's single writer queues anyway, so there it is one row. The pick
    /// has no meaning, so it need not follow the injected randomness.
    package func counterShard() -> Int {
        switch self {
        case .sqlite: 0
        case .postgres: Int.random(in: 0..<16)
        }
    }

    /// After a bulk load the planner needs fresh statistics on PostgreSQL (autovacuum gets there
    /// later, and a plan made meanwhile can be ten times slower); SQLite's plans are pinned (QPSG).
    package func analyzeSQL(_ tables: [String]) -> String? {
        switch self {
        case .sqlite: nil
        case .postgres: "ANALYZE " + tables.joined(separator: ", ")
        }
    }
    /// After rows were inserted with explicit ids, PostgreSQL's sequence must be moved past them.
    package func resetSequenceSQL(_ table: String) -> String? {
        switch self {
        case .sqlite: nil
        case .postgres: "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT MAX(id) FROM \(table)), 0) + 1, false)"
        }
    }
    /// The integers lo…hi as rows of a column `i` of a source `seq`: a WITH clause to put before
    /// the statement and the FROM clause that reads it.
    package func integerSeries(_ lo: Int, _ hi: Int) -> (with: String, from: String) {
        switch self {
        case .sqlite: ("WITH RECURSIVE seq(i) AS (SELECT \(lo) UNION ALL SELECT i + 1 FROM seq WHERE i < \(hi)) ", "FROM seq")
        // BIGINT, as SQLite's integers are: products such as i * 7919 overflowed a 32-bit series.
        case .postgres: ("", "FROM generate_series(CAST(\(lo) AS BIGINT), CAST(\(hi) AS BIGINT)) AS seq(i)")
        }
    }
    /// The smallest of several values (SQLite's multi-argument min).
    /// The China-time calendar month of an epoch-seconds expression as YYYYMM (an integer):
    /// SQLite and PostgreSQL name their date functions differently; the offset is ChinaTime's.
    package func monthKey(_ epoch: String) -> String {
        switch self {
        case .sqlite: "CAST(strftime('%Y%m', \(epoch) + 28800, 'unixepoch') AS INTEGER)"
        case .postgres: "CAST(to_char(to_timestamp(\(epoch) + 28800) AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER)"
        }
    }
    package var leastFunction: String { self == .sqlite ? "min" : "LEAST" }
    /// trim(text, characters).
    package var trimCharactersFunction: String { self == .sqlite ? "trim" : "btrim" }
    /// `column` starts with `prefix` (taken literally, no wildcards). SQLite: a range over the
    /// column's index, because it never plans a LIKE whose pattern is a bound value with an index
    /// (at a million residents a name or area lookup scanned every row). PostgreSQL: LIKE, since a
    /// range would depend on the database's collation.
    package func startsWith(_ column: String, _ prefix: String) -> BoundSQL {
        switch self {
        case .sqlite:
            guard let bound = Self.firstStringAfterPrefix(prefix) else { return "\(unsafeRaw: column) >= \(prefix)" }
            return "(\(unsafeRaw: column) >= \(prefix) AND \(unsafeRaw: column) < \(bound))"
        case .postgres:
            return "\(unsafeRaw: column) LIKE \(Self.likeEscaped(prefix) + "%")"
        }
    }

    /// `column` contains `text` (taken literally). A scan either way: for short lists (a
    /// picker's places inside one area), not for a million rows.
    package func contains(_ column: String, _ text: String) -> BoundSQL {
        // SQLite's LIKE has no escape character unless one is named; PostgreSQL's is already `\`.
        "\(unsafeRaw: column) LIKE \("%" + Self.likeEscaped(text) + "%") ESCAPE '\\'"
    }

    /// Text for a LIKE pattern with its wildcards (and the escape character) taken literally.
    package static func likeEscaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    /// The least string greater than every string that starts with `prefix` (in SQLite's BINARY,
    /// i.e. UTF-8 byte, order): the prefix with its last character moved up by one. Nil when
    /// there is none (an empty prefix).
    package static func firstStringAfterPrefix(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // past the surrogates, which are no characters
            if let scalar = Unicode.Scalar(next) { return String(String.UnicodeScalarView(scalars + [scalar])) }
        }
        return nil
    }

    /// Rewrites the few portable placeholders used in migrations.
    package func render(_ ddl: String) -> String {
        ddl.replacingOccurrences(of: "{ID}", with: idColumn)
    }
}

/// The store: a way to read and a way to write in one transaction.
public protocol Store: Sendable {
    var dialect: Dialect { get }
    /// Runs reads; on SQLite on one of the reader connections.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs a heavy read that may be served by a read replica (figures, dashboards, the situation
    /// map): on PostgreSQL with a replica configured, there; otherwise as `read`. Only for pages
    /// that write nothing. The replica has every commit a user was told of (see `PostgresStore`).
    func readHeavy<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs a large load into `tables` (the demo of a whole city) with the store tuned for it.
    /// Nothing else should write meanwhile; the schema is the same afterwards.
    func bulkLoad<T: Sendable>(tables: [String], _ body: @Sendable () async throws -> T) async throws -> T
    func shutdown() async
}

extension Store {
    /// Before a retry is answered with what an earlier attempt wrote. On PostgreSQL with a
    /// synchronous replica, that write may have been recovered from the primary's own WAL after
    /// a crash, committed there but never sent to the replica (its client was never told); a
    /// failover would lose it after the retry was told it is safe. A transaction that takes an
    /// id commits through the synchronous replica, so the answer waits until the replica has
    /// everything up to now. Nothing to wait for on SQLite (one machine, its own WAL).
    package func awaitDurable() async throws {
        guard dialect == .postgres else { return }
        try await transaction { [dialect] db in try await dialect.commitThroughReplica(db) }
    }
}

extension Dialect {
    /// Inside a transaction that may have written nothing: makes it take an id, so that its
    /// commit waits for the synchronous replica as a write's would (see `Store.awaitDurable`).
    package func commitThroughReplica(_ db: any SQLDatabase) async throws {
        guard self == .postgres else { return }
        try await db.raw("SELECT txid_current()").run()
    }
}

/// One queued transaction: `run` executes the caller's body (keeping its result), `finish` hands
/// the caller its result once the transaction it ran in has committed, or the error.
package struct WriteJob: Sendable {
    package let run: @Sendable (any SQLDatabase) async throws -> Void
    package let finish: @Sendable ((any Error)?) -> Void
    /// Runs alone and outside any transaction (pragmas that SQLite refuses inside one).
    package var outsideTransaction = false

    package init(run: @escaping @Sendable (any SQLDatabase) async throws -> Void, finish: @escaping @Sendable ((any Error)?) -> Void,
                 outsideTransaction: Bool = false) {
        self.run = run; self.finish = finish; self.outsideTransaction = outsideTransaction
    }
}

/// Group commit for SQLite's single writer. Callers queue their transaction bodies; one drainer
/// runs every body waiting at that moment inside a single BEGIN IMMEDIATE … COMMIT, and each
/// caller is answered only after that COMMIT (synchronous=FULL), so an acknowledged write is on
/// disk. If a body throws, the batch is rolled back, that caller gets its error, and the others
/// are run again one transaction each: no caller ever sees another's failure. The drainer runs on
/// the writer connection's own thread.
package final class GroupCommitWriter: Sendable {
    private struct State { var jobs: [WriteJob] = []; var draining = false }
    private let state = NIOLockedValueBox(State())
    private let db: any SQLDatabase
    private let executor: ThreadExecutor
    package static let maxBatch = 128

    package init(db: any SQLDatabase, executor: ThreadExecutor) { self.db = db; self.executor = executor }

    package func submit(_ job: WriteJob) {
        let start = state.withLockedValue { s -> Bool in
            s.jobs.append(job)
            if s.draining { return false }
            s.draining = true
            return true
        }
        if start { Task(executorPreference: executor) { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLockedValue { s -> [WriteJob] in
                var n = 0
                while n < min(s.jobs.count, Self.maxBatch) && !s.jobs[n].outsideTransaction { n += 1 }
                if n == 0 && !s.jobs.isEmpty { n = 1 }
                let b = Array(s.jobs.prefix(n))
                s.jobs.removeFirst(n)
                if b.isEmpty { s.draining = false }
                return b
            }
            if batch.isEmpty { return }
            if batch.count == 1 && batch[0].outsideTransaction {
                do { try await batch[0].run(db); batch[0].finish(nil) } catch { batch[0].finish(error) }
            } else {
                await run(batch)
            }
        }
    }

    private func run(_ batch: [WriteJob]) async {
        do {
            try await db.raw("BEGIN IMMEDIATE").run()
        } catch {
            for j in batch { j.finish(error) }
            return
        }
        var failure: (Int, any Error)?
        for (i, job) in batch.enumerated() {
            do { try await job.run(db) } catch { failure = (i, error); break }
        }
        if let (failed, error) = failure {
            try? await db.raw("ROLLBACK").run()
            // In queue order, as if each had run alone: those before the failed one commit before
            // its caller hears of the failure (a retry that lost a race then finds the winner).
            for job in batch[..<failed] { await solo(job) }
            batch[failed].finish(error)
            for job in batch[(failed + 1)...] { await solo(job) }
            return
        }
        do {
            try await db.raw("COMMIT").run()
            for j in batch { j.finish(nil) }
        } catch {
            try? await db.raw("ROLLBACK").run()
            for j in batch { j.finish(error) }
        }
    }

    private func solo(_ job: WriteJob) async {
        do {
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                try await job.run(db)
                try await db.raw("COMMIT").run()
                job.finish(nil)
            } catch {
                try? await db.raw("ROLLBACK").run()
                job.finish(error)
            }
        } catch {
            job.finish(error)
        }
    }
}

/// Lends each of `count` readers to one holder at a time; the rest wait in arrival order.
package final class ReaderPool: Sendable {
    private struct State {
        var free: [Int]
        var waiting: [CheckedContinuation<Int, Never>] = []
    }
    private let state: NIOLockedValueBox<State>

    package init(count: Int) { state = NIOLockedValueBox(State(free: Array((0..<count).reversed()))) }

    package func acquire() async -> Int {
        if let i = state.withLockedValue({ $0.free.popLast() }) { return i }
        return await withCheckedContinuation { c in
            let ready = state.withLockedValue { s -> Int? in
                if let i = s.free.popLast() { return i }
                s.waiting.append(c)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    package func release(_ i: Int) {
        let next = state.withLockedValue { s -> CheckedContinuation<Int, Never>? in
            if s.waiting.isEmpty { s.free.append(i); return nil }
            return s.waiting.removeFirst()
        }
        next?.resume(returning: i)
    }
}

/// Holds a body's result between the batch that produced it and the caller.
package final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NIOLock()
    private var stored: T?
    package var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// SQLite in WAL mode: one writer connection fed by a group-commit queue (so writers queue instead
/// of failing with SQLITE_BUSY, and share one fsync) and a few reader connections that never block
/// it. Each connection has its own thread and keeps its prepared statements (`SQLiteHandle`).
public final class SQLiteStore: Store {
    public let dialect = Dialect.sqlite
    package let writer: SQLiteHandle
    package let writerExecutor: ThreadExecutor
    package let readers: [(executor: ThreadExecutor, db: FastSQLiteDatabase)]
    package let writeQueue: GroupCommitWriter
    package let pool: ReaderPool
    /// The reader the current task holds, so that a read inside a read (a use case calling
    /// another) shares its snapshot and connection instead of waiting for a second one.
    @TaskLocal static var heldReader: (store: ObjectIdentifier, index: Int)?
    package let logger: Logger

    /// The writer's pages read straight from the OS cache instead of copied by a read() per page
    /// (SQLite caps it at 2 GiB). Not on the readers: a reader whose next read transaction finds
    /// the database changed unmaps the whole file and faults its pages in again (with the
    /// cross-CPU TLB flushes of munmap): 7 % of the server's time under a stream of submissions,
    /// while its own page cache keeps what it reads between changes (BENCHMARKS.md).
    package static let mmap = "PRAGMA mmap_size=2147418112"

    public static func open(path: String, readers readerCount: Int = 4, logger: Logger) async throws -> SQLiteStore {
        let writer = try SQLiteHandle(path: path)
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                       "PRAGMA busy_timeout=10000", "PRAGMA cache_size=-65536", Self.mmap,
                       // Each job of a group commit is a savepoint; its statement journal stays in memory instead of a temporary file.
                       "PRAGMA temp_store=MEMORY"] {
            try writer.run(pragma, [], { _ in })
        }
        var readers: [SQLiteHandle] = []
        for _ in 0..<readerCount {
            let r = try SQLiteHandle(path: path)
            for pragma in ["PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000", "PRAGMA query_only=ON", "PRAGMA cache_size=-65536"] {
                try r.run(pragma, [], { _ in })
            }
            readers.append(r)
        }
        return SQLiteStore(writer: writer, readers: readers, logger: logger)
    }

    package init(writer: SQLiteHandle, readers: [SQLiteHandle], logger: Logger) {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        self.writer = writer
        self.writerExecutor = ThreadExecutor(name: "sqlite-writer")
        self.writeQueue = GroupCommitWriter(db: FastSQLiteDatabase(handle: writer, logger: logger, eventLoop: loop), executor: writerExecutor)
        self.readers = readers.enumerated().map { i, h in
            (ThreadExecutor(name: "sqlite-reader-\(i)"), FastSQLiteDatabase(handle: h, logger: logger, eventLoop: loop))
        }
        self.pool = ReaderPool(count: readers.count)
        self.logger = logger
    }

    /// Runs `body` on a reader lent to it alone, in one snapshot. Readers were once shared
    /// round-robin: a read that suspended (on a nested read, say) let another task's read join its
    /// open transaction, and the joiner saw data older than its own last commit, or lost its
    /// snapshot midway when the owner ended it (Tests/LinliStoreTests).
    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let me = ObjectIdentifier(self)
        if let held = Self.heldReader, held.store == me {
            let reader = readers[held.index]
            return try await withTaskExecutorPreference(reader.executor) { try await body(reader.db) }
        }
        let i = await pool.acquire()
        defer { pool.release(i) }
        let reader = readers[i]
        return try await Self.$heldReader.withValue((me, i)) {
            try await withTaskExecutorPreference(reader.executor) { try await reader.db.handle.reading { try await body(reader.db) } }
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let box = ResultBox<T>()
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            // The writer's drain task is started here and would inherit a reader this task holds:
            // a transaction body must never read on a connection lent to someone else.
            Self.$heldReader.withValue(nil) {
                writeQueue.submit(WriteJob(run: { db in box.value = try await body(db) }, finish: { error in
                    if let error { c.resume(throwing: error) } else { c.resume(returning: box.value!) }
                }))
            }
        }
    }

    /// Statements run on the writer outside any transaction, after the writes queued before them.
    package func outsideTransaction(_ statements: [String]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            writeQueue.submit(WriteJob(run: { db in for sql in statements { try await db.raw(SQLQueryString(sql)).run() } },
                                       finish: { error in if let error { c.resume(throwing: error) } else { c.resume() } },
                                       outsideTransaction: true))
        }
    }

    /// Row-by-row upkeep of secondary indexes over random keys (HMACs, names) rewrote most of their
    /// pages at every commit of a large load: the 1,000,000-resident demo wrote ~15 GB to the WAL for
    /// a 600 MB file. Here they are dropped and built once, by sorting, at the end (also when the
    /// load fails); commits skip the fsync (a crash during a load means loading again) and the page
    /// cache is larger. Unique constraints stay, so duplicates are still refused as they come.
    public func bulkLoad<T: Sendable>(tables: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        try await outsideTransaction(["PRAGMA synchronous=OFF", "PRAGMA cache_size=-262144"])
        let indexes = try await transaction { db -> [String] in
            let rows = try await db.raw("""
                SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (\(binds: tables)) ORDER BY name
                """).all()
            var sqls: [String] = []
            for row in rows {
                try await db.raw("DROP INDEX \(ident: try row.decode(column: "name", as: String.self))").run()
                sqls.append(try row.decode(column: "sql", as: String.self))
            }
            return sqls
        }
        let restore: @Sendable () async throws -> Void = {
            try await self.transaction { db in for sql in indexes { try await db.raw(SQLQueryString(sql)).run() } }
            try await self.outsideTransaction(["PRAGMA synchronous=FULL", "PRAGMA cache_size=-65536", "PRAGMA wal_checkpoint(TRUNCATE)"])
        }
        let result: T
        do { result = try await body() } catch { try? await restore(); throw error }
        try await restore()
        return result
    }

    private let closed = NIOLockedValueBox(false)

    public func shutdown() async {
        guard closed.withLockedValue({ c in defer { c = true }; return !c }) else { return }
        // Let writes already queued finish before the connections close.
        _ = try? await transaction { _ in true }
        writer.close()
        for r in readers { r.db.handle.close() }
        writerExecutor.stop()
        for r in readers { r.executor.stop() }
    }
}

/// PostgreSQL through a `PostgresClient` pool; the client's `run()` is started as a task here.
/// With a replica URL, heavy reads go to a second pool on a streaming replica. A user must see
/// their own writes there: the primary runs `synchronous_commit = remote_apply` with the replica
/// named in `synchronous_standby_names`, so a commit is acknowledged only once the replica has
/// applied it (scripts/cluster sets this up; the README says why). A replica that fails or is
/// slow to lend a connection is left alone for `replicaRestSeconds`, and the primary answers.
public final class PostgresStore: Store {
    public let dialect = Dialect.postgres
    package let client: PostgresClient
    package let runTask: Task<Void, Never>
    package let replica: PostgresClient?
    package let replicaTask: Task<Void, Never>?
    package let logger: Logger
    /// Until when (monotonic seconds) heavy reads skip the replica after it failed.
    private let replicaDownUntil = NIOLockedValueBox<Double>(0)
    static let replicaRestSeconds = 10.0
    static let replicaLeaseSeconds = 2.0

    /// Where a `postgres://` URL points, with PostgreSQL's defaults filled in.
    package struct Target {
        package var host: String, port: Int, username: String, password: String?, database: String?
        package init(url: String) throws {
            let core = try SQLPostgresConfiguration(url: url).coreConfiguration
            (host, port, username, password, database) = (core.host ?? "127.0.0.1", core.port ?? 5432, core.username, core.password, core.database)
        }
    }

    public init(url: String, replicaURL: String? = nil, logger: Logger) throws {
        func pool(_ url: String) throws -> PostgresClient {
            let t = try Target(url: url)
            var clientConfig = PostgresClient.Configuration(host: t.host, port: t.port, username: t.username, password: t.password,
                                                            database: t.database, tls: .disable)
            clientConfig.options.maximumConnections = 16
            return PostgresClient(configuration: clientConfig, backgroundLogger: logger)
        }
        let client = try pool(url)
        self.client = client
        self.runTask = Task { await client.run() }
        let replica = try replicaURL.map(pool)
        self.replica = replica
        self.replicaTask = replica.map { r in Task { await r.run() } }
        self.logger = logger
    }

    /// One connection attempt before the pool starts: the pool retries a wrong host, password or
    /// database name for a minute and then reports only that its circuit breaker tripped.
    package static func probe(url: String, logger: Logger) async throws {
        let t = try Target(url: url)
        let configuration = PostgresConnection.Configuration(host: t.host, port: t.port, username: t.username, password: t.password,
                                                             database: t.database, tls: .disable)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            let reason = error.serverInfo?[.message] ?? error.underlying.map { String(describing: $0) } ?? String(describing: error.code)
            throw LinliError(.serviceUnavailable, code: "database_unreachable",
                             message: "cannot connect to PostgreSQL database \(t.database ?? t.username) at \(t.host):\(t.port): \(reason)")
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { conn in try await body(conn.sql()) }
    }

    public func readHeavy<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard let replica, ProcessInfo.processInfo.systemUptime >= replicaDownUntil.withLockedValue({ $0 }) else { return try await read(body) }
        // Only the wait for a connection is bounded: a read that has begun on the replica is
        // left to finish there (a heavy page may take seconds, and would take them again on
        // the primary). A replica that is down refuses or never lends a connection; its lease
        // is then abandoned, not waited for (the pool may take long to give up on it).
        let leased = NIOLockedValueBox(false)
        let waiting = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
        @Sendable func finish(_ r: Result<T, any Error>) {
            waiting.withLockedValue { c in
                c?.resume(with: r)
                c = nil
            }
        }
        do {
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                waiting.withLockedValue { $0 = c }
                let work = Task {
                    do {
                        finish(.success(try await replica.withConnection { conn in
                            leased.withLockedValue { $0 = true }
                            return try await body(conn.sql())
                        }))
                    } catch {
                        finish(.failure(error))
                    }
                }
                Task {
                    try? await Task.sleep(for: .seconds(Self.replicaLeaseSeconds))
                    guard !leased.withLockedValue({ $0 }) else { return }
                    work.cancel()
                    finish(.failure(ReplicaUnavailable()))
                }
            }
        } catch let e as LinliError {
            throw e  // the use case's own answer (not found, not allowed): the same on the primary
        } catch {
            if Task.isCancelled { throw error }  // the caller went away; the replica is not at fault
            logger.warning("read replica unavailable, reading the primary for \(Self.replicaRestSeconds) s: \(String(describing: error))")
            replicaDownUntil.withLockedValue { $0 = ProcessInfo.processInfo.systemUptime + Self.replicaRestSeconds }
            return try await read(body)
        }
    }

    struct ReplicaUnavailable: Error {}

    /// Whether heavy reads are skipping the replica after it failed (for tests and logs).
    package var replicaResting: Bool { ProcessInfo.processInfo.systemUptime < replicaDownUntil.withLockedValue { $0 } }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
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

    /// PostgreSQL loads through its ordinary transactions (by COPY where the loader uses
    /// `copyTransaction`) with the tables' secondary indexes set aside and built once at the end,
    /// as on SQLite: keeping twenty indexes up to date row by row cost more than the rows. Only
    /// the indexes of tables this role owns (the server's own role may not drop any; its load is
    /// then slower, not wrong), and never a unique one or a constraint's, which keep the rows
    /// right while they arrive. Their foreign keys are set aside too and added back at the end,
    /// which checks every row in one join: checked row by row, each inserted row ran a trigger
    /// that locked the row it refers to (1,300,000 sensitive records took 28 s). A row that
    /// refers to nothing fails the load then, as it would have failed its insert. Then fresh
    /// planner statistics.
    public func bulkLoad<T: Sendable>(tables: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let (keys, indexes) = try await transaction { db -> ([SetAsideKey], [SetAsideIndex]) in
            let rows = try await db.raw("""
                SELECT t.relname, k.conname, pg_get_constraintdef(k.oid) AS def FROM pg_constraint k
                JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                WHERE k.contype = 'f' AND n.nspname = current_schema() AND t.relname IN (\(binds: tables))
                  AND pg_get_userbyid(t.relowner) = current_user
                ORDER BY t.relname, k.conname
                """).all()
            var set: [SetAsideKey] = []
            for row in rows {
                let key = SetAsideKey(table: try row.decode(column: "relname", as: String.self), name: try row.decode(column: "conname", as: String.self),
                                      definition: try row.decode(column: "def", as: String.self))
                try await db.raw("ALTER TABLE \(ident: key.table) DROP CONSTRAINT \(ident: key.name)").run()
                set.append(key)
            }
            return (set, try await Self.setIndexesAside(db, tables))
        }
        // The definitions live only here: whatever cannot be made again (a row the load wrote
        // refers to nothing) is named in the log, and the load fails. Each key is added on its
        // own, also after an index failed, so one table's bad row leaves the others' keys in place.
        let logger = self.logger
        @Sendable func restoreOrSay() async throws {
            var failure: (any Error)?, missing: [String] = []
            do { try await self.buildIndexes(indexes) } catch {
                failure = error
                missing += indexes.map(\.idempotent)
            }
            for key in keys {
                do {
                    try await self.transaction { db in
                        try await db.raw("ALTER TABLE \(ident: key.table) ADD CONSTRAINT \(ident: key.name) \(unsafeRaw: key.definition)").run()
                    }
                } catch {
                    failure = failure ?? error
                    missing.append(key.statement)
                }
            }
            if let failure {
                logger.error("bulk load: indexes or foreign keys could not be made again (\(String(reflecting: failure))); make them by hand: \(missing.joined(separator: "; "))")
                throw failure
            }
        }
        let result: T
        do { result = try await body() } catch {
            try? await restoreOrSay()
            throw error
        }
        try await restoreOrSay()
        try await refreshPlannerStatistics(tables)
        return result
    }

    /// Drops the secondary indexes of `tables` this role owns (not unique, not a constraint's)
    /// and returns their definitions.
    static func setIndexesAside(_ db: any SQLDatabase, _ tables: [String]) async throws -> [SetAsideIndex] {
        let rows = try await db.raw("""
            SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
            JOIN pg_tables t ON t.schemaname = i.schemaname AND t.tablename = i.tablename
            JOIN pg_class c ON c.relname = i.indexname JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname
            JOIN pg_index x ON x.indexrelid = c.oid
            WHERE i.schemaname = current_schema() AND i.tablename IN (\(binds: tables)) AND t.tableowner = current_user
              AND NOT x.indisunique AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
            ORDER BY i.indexname
            """).all()
        var set: [SetAsideIndex] = []
        for row in rows {
            try await db.raw("DROP INDEX \(ident: try row.decode(column: "indexname", as: String.self))").run()
            set.append(SetAsideIndex(table: try row.decode(column: "tablename", as: String.self),
                                     definition: try row.decode(column: "indexdef", as: String.self)))
        }
        return set
    }

    /// A foreign key `bulkLoad` dropped: its table, name and `pg_get_constraintdef`'s definition.
    struct SetAsideKey: Sendable {
        var table: String, name: String, definition: String
        var statement: String { "ALTER TABLE \(table) ADD CONSTRAINT \(name) \(definition)" }
    }

    /// An index `bulkLoad` dropped: its table and `pg_indexes`' definition of it.
    struct SetAsideIndex: Sendable {
        var table: String
        var definition: String
        /// The definition made safe to run again (after a failure some lanes' indexes exist).
        var idempotent: String {
            definition.hasPrefix("CREATE INDEX ") ? "CREATE INDEX IF NOT EXISTS " + definition.dropFirst("CREATE INDEX ".count) : definition
        }
    }

    /// Builds the set-aside indexes again on two connections at once, each with room to sort in
    /// memory (one after another, with the default 64 MB, one core stayed idle and sorts spilled
    /// to disk); a 5,000,000-resident street's 22 indexes take 34 s so. The largest tables'
    /// indexes are dealt out first, each to the lane with less to do so far, so the lanes end
    /// together.
    func buildIndexes(_ indexes: [SetAsideIndex]) async throws {
        guard !indexes.isEmpty else { return }
        let sizes = try await read { db -> [String: Int64] in
            var out: [String: Int64] = [:]
            for r in try await db.raw("SELECT relname, pg_relation_size(oid) AS bytes FROM pg_class WHERE relkind = 'r' AND relname IN (\(binds: Array(Set(indexes.map(\.table)))))").all() {
                out[try r.decode(column: "relname", as: String.self)] = try r.decode(column: "bytes", as: Int64.self)
            }
            return out
        }
        var lanes: [(load: Int64, sql: [String])] = Array(repeating: (0, []), count: min(2, indexes.count))
        for index in indexes.sorted(by: { (sizes[$0.table] ?? 0, $1.definition) > (sizes[$1.table] ?? 0, $0.definition) }) {
            let lane = lanes.indices.min(by: { lanes[$0].load < lanes[$1].load })!
            lanes[lane].load += max(1, sizes[index.table] ?? 0)
            lanes[lane].sql.append(index.idempotent)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in lanes {
                group.addTask {
                    try await self.transaction { db in
                        try await db.raw("SET LOCAL maintenance_work_mem = '256MB'").run()
                        for sql in lane.sql { try await db.raw(SQLQueryString(sql)).run() }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    public func shutdown() async {
        runTask.cancel()
        replicaTask?.cancel()
    }
}

extension Store {
    public func readHeavy<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    /// Fresh planner statistics after many rows were written at once (see `Dialect.analyzeSQL`).
    package func refreshPlannerStatistics(_ tables: [String]) async throws {
        guard let sql = dialect.analyzeSQL(tables) else { return }
        try await read { db in try await db.raw(SQLQueryString(sql)).run() }
    }
}

public enum StoreFactory {
    /// `postgres://…` selects PostgreSQL; anything else is a SQLite file path.
    public static func open(databaseURL: String?, replicaURL: String? = nil, sqlitePath: String, logger: Logger) async throws -> any Store {
        if let url = databaseURL, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            try await PostgresStore.probe(url: url, logger: logger)
            // The replica is not probed: it may be down or rebuilding, and the primary answers meanwhile.
            return try PostgresStore(url: url, replicaURL: replicaURL, logger: logger)
        }
        let dir = (sqlitePath as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        return try await SQLiteStore.open(path: sqlitePath, logger: logger)
    }
}

extension SQLDatabase {
    /// Inserts `items` with one multi-row INSERT per `chunk` of them, well inside both databases'
    /// limits on bound values; `head` is "INSERT INTO t (columns) VALUES ".
    /// `tail` follows the rows (an `ON CONFLICT …` clause).
    package func insertRows<T>(_ head: String, _ items: [T], chunk: Int = 500, tail: String = "", row: (T) -> BoundSQL) async throws {
        for start in stride(from: 0, to: items.count, by: chunk) {
            let rows = BoundSQL.joined(items[start..<min(start + chunk, items.count)].map(row), separator: ", ")
            try await query("\(unsafeRaw: head)\(rows)\(unsafeRaw: tail)").run()
        }
    }
}

/// Whether a write was refused because another row still refers to the one being removed (a
/// FOREIGN KEY constraint, on either database). Removals that other capabilities' records may
/// block rely on it: the constraint knows every reference, including tables the removing
/// capability never names.
package func isStillReferenced(_ error: any Error) -> Bool {
    if let e = error as? SQLiteFailure { return e.code == 787 }  // SQLITE_CONSTRAINT_FOREIGNKEY
    if let e = error as? PSQLError { return e.serverInfo?[.sqlState] == "23503" }
    return false
}

/// Whether a write was refused by an exclusion constraint (PostgreSQL: two bookings of one room
/// that overlap). SQLite has none; its callers check inside the transaction, which runs alone.
package func isExclusionViolation(_ error: any Error) -> Bool {
    if let e = error as? PSQLError { return e.serverInfo?[.sqlState] == "23P01" }
    return false
}

/// Whether a write was refused by a UNIQUE constraint (two requests racing to make the same row).
package func isUniqueViolation(_ error: any Error) -> Bool {
    if let e = error as? SQLiteFailure { return e.code == 2067 || e.code == 1555 }  // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY
    if let e = error as? PSQLError { return e.serverInfo?[.sqlState] == "23505" }
    return false
}
