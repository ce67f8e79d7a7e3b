import Foundation
import LinliCore
import LinliStore
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SQLKit
import Testing

/// The store on its own, without any capability: the group commit's promises, reads, typed NULLs
/// on both databases, the statement cache, and the value coding that replaced SQLiteKit's.

enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
    static var available: [StoreBackend] {
        ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }
}

struct Failure: Error, Equatable { let n: Int }

func withStore<T>(_ backend: StoreBackend, _ body: (any Store) async throws -> T) async throws -> T {
    let logger = Logger(label: "store-test")
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("linli-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await SQLiteStore.open(path: dir + "/t.sqlite", logger: logger)
        do { let r = try await body(store); await store.shutdown(); return r } catch { await store.shutdown(); throw error }
    case .postgres:
        let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"]!
        let name = "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let root = try PostgresStore(url: admin, logger: logger)
        try await root.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() }
        let store = try PostgresStore(url: admin.replacingOccurrences(of: "/linli_test", with: "/\(name)"), logger: logger)
        func drop() async {
            await store.shutdown()
            _ = try? await root.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: String(name)) WITH (FORCE)").run() }
            await root.shutdown()
        }
        do { let r = try await body(store); await drop(); return r } catch { await drop(); throw error }
    }
}

@Suite struct GroupCommitTests {
    /// 200 writers at once, one of which fails after its insert: its row never lands, every other
    /// row lands exactly once (the batch it shared was rolled back and its neighbours run again),
    /// and each caller hears its own answer.
    @Test func aFailingJobInABatchCostsNoOtherWriterAndNothingTwice() async throws {
        try await withStore(.sqlite) { store in
            try await store.transaction { db in try await db.raw("CREATE TABLE t (n INTEGER NOT NULL)").run() }
            let results = await withTaskGroup(of: (Int, Result<Int, Failure>).self) { group in
                for k in 0..<200 {
                    group.addTask {
                        do {
                            let r = try await store.transaction { db -> Int in
                                try await db.query("INSERT INTO t (n) VALUES (\(k))").run()
                                if k == 57 { throw Failure(n: k) }
                                return k * 10
                            }
                            return (k, .success(r))
                        } catch let f as Failure {
                            return (k, .failure(f))
                        } catch {
                            return (k, .failure(Failure(n: -1)))
                        }
                    }
                }
                var all: [Int: Result<Int, Failure>] = [:]
                for await (k, r) in group { all[k] = r }
                return all
            }
            #expect(results.count == 200)
            for (k, r) in results {
                if k == 57 { #expect(r == .failure(Failure(n: 57))) } else { #expect(r == .success(k * 10)) }
            }
            let rows = try await store.read { db in try await db.query("SELECT n, COUNT(*) AS c FROM t GROUP BY n").all() }
            var counts: [Int: Int] = [:]
            for row in rows { counts[try row.decode(column: "n", as: Int.self)] = try row.decode(column: "c", as: Int.self) }
            #expect(counts[57] == nil)
            #expect(counts.count == 199)
            #expect(counts.values.allSatisfy { $0 == 1 })
        }
    }

    /// Queued A, B (fails), C in one batch: A commits before B's caller hears of the failure, C
    /// after, in queue order, as if each had run alone.
    @Test func jobsAroundAFailureAreReplayedInQueueOrder() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("linli-gc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let handle = try SQLiteHandle(path: dir + "/t.sqlite")
        let observer = try SQLiteHandle(path: dir + "/t.sqlite")
        defer { handle.close(); observer.close() }
        try handle.run("PRAGMA journal_mode=WAL", [], { _ in })
        try handle.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", [], { _ in })
        let executor = ThreadExecutor(name: "gc-test")
        defer { executor.stop() }
        let db = FastSQLiteDatabase(handle: handle, logger: Logger(label: "gc"), eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        let writer = GroupCommitWriter(db: db, executor: executor)
        let events = NIOLockedValueBox<[String]>([])
        @Sendable func committed() -> [String] {
            var names: [String] = []
            try? observer.run("SELECT name FROM t ORDER BY id", [], { row in names.append((try? row.decode(column: "name", as: String.self)) ?? "?") })
            return names
        }
        // The first job holds the writer's thread until the other three are queued behind it,
        // so that they form one batch (it may share that batch and be run again: it waits once).
        let gate = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let waited = NIOLockedValueBox(false)
        writer.submit(WriteJob(run: { _ in
            if !waited.withLockedValue({ w in defer { w = true }; return w }) { gate.wait() }
        }, finish: { _ in }))
        for name in ["A", "B", "C"] {
            writer.submit(WriteJob(run: { db in
                try await db.query("INSERT INTO t (name) VALUES (\(name))").run()
                if name == "B" { throw Failure(n: 2) }
            }, finish: { error in
                events.withLockedValue { $0.append("\(name):\(error == nil ? "ok" : "failed") seeing \(committed().joined())") }
                if name == "C" { done.signal() }
            }))
        }
        gate.signal()
        await withCheckedContinuation { c in DispatchQueue.global().async { done.wait(); c.resume() } }
        #expect(events.withLockedValue { $0 } == ["A:ok seeing A", "B:failed seeing A", "C:ok seeing AC"])
        #expect(committed() == ["A", "C"])
    }
}

@Suite struct ReadTests {
    /// A read inside a read (a use case calling another) shares the outer snapshot on the same
    /// connection, and every read sees one snapshot while writers commit meanwhile, even when it
    /// suspends and other reads need a connection (8 readers' worth of tasks on 4 connections).
    @Test func nestedReadsSeeOneSnapshotWhileWritersCommit() async throws {
        try await withStore(.sqlite) { store in
            try await store.transaction { db in try await db.raw("CREATE TABLE t (n INTEGER NOT NULL)").run() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for k in 0..<300 {
                        try await store.transaction { db in try await db.query("INSERT INTO t (n) VALUES (\(k))").run() }
                        // Read-your-writes: a read begun after one's commit sees it.
                        let seen = try await store.read { db in try await db.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
                        #expect(seen == k + 1)
                    }
                }
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<40 {
                            let (a, b, inner) = try await store.read { db -> (Int, Int, Int) in
                                let a = try await db.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self)
                                let inner = try await store.read { db2 in
                                    try await db2.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self)
                                }
                                try await Task.sleep(nanoseconds: 100_000)
                                let b = try await db.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self)
                                return (a, b, inner)
                            }
                            #expect(a == b, "one read, one snapshot")
                            #expect(inner == a, "a nested read shares the snapshot")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let n = try await store.read { db in try await db.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
            #expect(n == 300)
        }
    }
}

@Suite struct TypedNullTests {
    /// A missing value keeps its type: PostgreSQL must know which NULL it is given (an untyped
    /// NULL in COALESCE or a comparison is an error there), and each reads back as nil.
    @Test(arguments: StoreBackend.available)
    func missingValuesAreNullsOfTheirType(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.transaction { db in
                try await db.raw("CREATE TABLE t (i BIGINT, r DOUBLE PRECISION, s TEXT)").run()
                try await db.query("INSERT INTO t (i, r, s) VALUES (\(Int64?.none), \(Double?.none), \(String?.none))").run()
                try await db.query("INSERT INTO t (i, r, s) VALUES (\(Int64?.some(7)), \(Double?.some(2.5)), \(String?.some("七")))").run()
            }
            let rows = try await store.read { db in
                try await db.query("""
                    SELECT i, r, s, COALESCE(\(String?.none), 'x') AS fallback, COALESCE(\(Int64?.none), 3) AS three
                    FROM t ORDER BY i NULLS FIRST
                    """).all()
            }
            #expect(rows.count == 2)
            #expect(try rows[0].decode(column: "i", as: Int64?.self) == nil)
            #expect(try rows[0].decode(column: "r", as: Double?.self) == nil)
            #expect(try rows[0].decode(column: "s", as: String?.self) == nil)
            #expect(try rows[0].decode(column: "fallback", as: String.self) == "x")
            #expect(try rows[0].decode(column: "three", as: Int64.self) == 3)
            #expect(try rows[1].decode(column: "i", as: Int64?.self) == 7)
            #expect(try rows[1].decode(column: "r", as: Double.self) == 2.5)
            #expect(try rows[1].decode(column: "s", as: String.self) == "七")
            let matched = try await store.read { db in
                try await db.query("SELECT COUNT(*) AS c FROM t WHERE s IS NOT DISTINCT FROM \(String?.none)").first()!.decode(column: "c", as: Int.self)
            }
            #expect(matched == 1)
        }
    }

    /// A body that throws leaves nothing behind, on both databases.
    @Test(arguments: StoreBackend.available)
    func aThrowingTransactionWritesNothing(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.transaction { db in try await db.raw("CREATE TABLE t (n BIGINT NOT NULL)").run() }
            await #expect(throws: Failure.self) {
                try await store.transaction { db in
                    try await db.query("INSERT INTO t (n) VALUES (\(1))").run()
                    throw Failure(n: 1)
                }
            }
            let n = try await store.read { db in try await db.query("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
            #expect(n == 0)
        }
    }
}

@Suite struct StatementCacheTests {
    /// More distinct statements than the cache holds (SQL with values written into its text): the
    /// cache starts over and every statement, old or new, still answers correctly.
    @Test func statementsBeyondTheCacheStillAnswer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("linli-cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let handle = try SQLiteHandle(path: dir + "/t.sqlite")
        defer { handle.close() }
        func value(_ sql: String, _ binds: [SQLiteValue] = []) throws -> Int64 {
            var v: Int64 = -1
            try handle.run(sql, binds, { row in v = try row.decode(column: "v", as: Int64.self) })
            return v
        }
        let total = SQLiteHandle.cacheLimit + 100
        for i in 0..<total { #expect(try value("SELECT \(i) AS v") == Int64(i)) }
        for i in stride(from: 0, to: total, by: 37) { #expect(try value("SELECT \(i) AS v") == Int64(i)) }
        // A cached statement keeps no binds from its last run.
        #expect(try value("SELECT ? + 1 AS v", [.integer(41)]) == 42)
        #expect(try value("SELECT COALESCE(?, 5) AS v", [.null]) == 5)
    }
}

@Suite struct ConnectionSettingsTests {
    /// Debian's SQLite takes "text" as a string when no column has that name; Linli's connections
    /// refuse it, so a misspelt quoted column name is an error, not a comparison with a string.
    @Test func aDoubleQuotedWordIsAlwaysAName() async throws {
        try await withStore(.sqlite) { store in
            try await store.transaction { db in try await db.raw("CREATE TABLE t (name TEXT)").run() }
            await #expect(throws: (any Error).self) {
                try await store.read { db in try await db.raw("SELECT COUNT(*) AS c FROM t WHERE \"nmae\" = 'x'").all() }
            }
        }
    }
}

@Suite struct SQLiteValueCodingTests {
    enum Kind: String, Codable { case urban, rural }
    struct Settings: Codable, Equatable { var days: Int; var names: [String] }

    /// Worked examples: what each Swift value is stored as, and what each stored value reads as.
    @Test func valuesAreStoredAsTheirStorageClassAndStructuresAsJSON() throws {
        let e = SQLiteValueEncoder()
        #expect(try e.encode(Kind.rural) == .text("rural"))
        #expect(try e.encode(true) == .integer(1))
        #expect(try e.encode(Int32(-5)) == .integer(-5))
        #expect(try e.encode(UInt8(200)) == .integer(200))
        #expect(try e.encode(1.25) == .float(1.25))
        #expect(try e.encode(Data([1, 2])) == .blob([1, 2]))
        #expect(try e.encode(String?.none) == .null)
        #expect(try e.encode(["a", "b"]) == .text(#"["a","b"]"#))
        guard case .text(let json) = try e.encode(Settings(days: 3, names: ["楼"])) else { Issue.record("a struct is JSON text"); return }
        #expect(try JSONDecoder().decode(Settings.self, from: Data(json.utf8)) == Settings(days: 3, names: ["楼"]))
        #expect(throws: EncodingError.self) { try e.encode(UInt64.max) }
        struct Wrapped: Codable { var at: Date; init(from d: any Decoder) throws { at = try d.singleValueContainer().decode(Date.self) }
            init(_ at: Date) { self.at = at }
            func encode(to e: any Encoder) throws { var c = e.singleValueContainer(); try c.encode(at) } }
        #expect(try e.encode(Wrapped(Date(timeIntervalSince1970: 100))) == .float(100), "a wrapped date counts from 1970 too")
        #expect(try SQLiteValueDecoder().decode(Wrapped.self, from: .float(100)).at == Date(timeIntervalSince1970: 100))

        let d = SQLiteValueDecoder()
        #expect(try d.decode(Kind.self, from: .text("urban")) == .urban)
        #expect(try d.decode(Bool.self, from: .integer(0)) == false)
        #expect(try d.decode(Int16.self, from: .integer(300)) == 300)
        #expect(throws: DecodingError.self) { try d.decode(Int8.self, from: .integer(300)) }
        #expect(try d.decode(Double.self, from: .integer(2)) == 2.0)
        #expect(try d.decode(Int.self, from: .float(4.0)) == 4)
        #expect(throws: DecodingError.self) { try d.decode(Int.self, from: .float(4.5)) }
        #expect(try d.decode(String?.self, from: .null) == nil)
        #expect(try d.decode([String].self, from: .text(#"["x","y"]"#)) == ["x", "y"])
        #expect(try d.decode(Settings.self, from: .text(#"{"days":1,"names":["n"]}"#)) == Settings(days: 1, names: ["n"]))
        #expect(try d.decode(Data.self, from: .blob([9])) == Data([9]))
        #expect(throws: DecodingError.self) { try d.decode(Int.self, from: .text("seven")) }
    }

    /// Round trip through a real connection: a value bound by SQLKit's builder comes back as itself.
    @Test func boundValuesRoundTripThroughSQLite() async throws {
        try await withStore(.sqlite) { store in
            try await store.transaction { db in
                try await db.raw("CREATE TABLE t (k TEXT, tags TEXT, flag INTEGER, blob BLOB)").run()
                try await db.insert(into: "t").columns("k", "tags", "flag", "blob")
                    .values(SQLBind(Kind.rural), SQLBind(["老人", "独居"]), SQLBind(true), SQLBind(Data([0, 255])))
                    .run()
            }
            let row = try await store.read { db in try await db.raw("SELECT * FROM t").first()! }
            #expect(try row.decode(column: "k", as: Kind.self) == .rural)
            #expect(try row.decode(column: "tags", as: [String].self) == ["老人", "独居"])
            #expect(try row.decode(column: "flag", as: Bool.self))
            #expect(try row.decode(column: "blob", as: Data.self) == Data([0, 255]))
        }
    }
}

/// What several servers sharing one database agree on through it (`SharedState.swift`).
@Suite struct SharedStateTests {
    /// Twenty claims of one hourly job at once: exactly one runs it; an hour later, exactly one
    /// again; a minute before the hour, none.
    @Test(arguments: StoreBackend.available)
    func aScheduledJobRunsOncePerPeriodHoweverManyClaimIt(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await Migrator.migrate(store, PlatformMigrations.all)
            func race(at now: Int64) async throws -> Int {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<20 { group.addTask { try await ScheduledJobs.claim(store, "sweep", every: 3600, now: now) } }
                    var won = 0
                    for try await w in group where w { won += 1 }
                    return won
                }
            }
            #expect(try await race(at: 1_000_000) == 1)
            #expect(try await race(at: 1_000_000 + 3540) == 0)
            #expect(try await race(at: 1_000_000 + 3600) == 1)
            // Another job has its own period.
            #expect(try await ScheduledJobs.claim(store, "other", every: 60, now: 1_000_000 + 3600))
        }
    }

    /// A change bumps the version in its transaction; a rolled-back change does not; another
    /// reader of the same name sees the new version once its last read is over a second old.
    @Test(arguments: StoreBackend.available)
    func aSharedVersionMovesWithItsTransactionAndReachesOtherReaders(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await Migrator.migrate(store, PlatformMigrations.all)
            let here = SharedVersion("settings"), there = SharedVersion("settings")
            #expect(try await store.read { db in try await there.current(db) } == 0)
            try await store.transaction { db in try await here.bump(db) }
            #expect(here.fresh() == nil)
            #expect(try await store.read { db in try await here.current(db) } == 1)
            await #expect(throws: Failure.self) {
                try await store.transaction { db in
                    try await here.bump(db)
                    throw Failure(n: 1)
                }
            }
            #expect(try await store.read { db in try await here.current(db) } == 1)
            try await Task.sleep(for: .milliseconds(Int(SharedVersion.recheckSeconds * 1000) + 50))
            #expect(try await store.read { db in try await there.current(db) } == 1)
            try await store.transaction { db in try await there.bump(db) }
            #expect(try await store.read { db in try await db.raw("SELECT version FROM shared_versions WHERE name = 'settings'").first()!.decode(column: "version", as: Int64.self) } == 2)
        }
    }
}

@Suite struct ReadReplicaTests {
    /// Heavy reads go to the replica when it answers; when it does not (nothing listens on its
    /// port), the primary answers within the lease timeout and the replica is skipped for a while;
    /// a use case's own refusal is not mistaken for a replica failure.
    @Test func heavyReadsUseTheReplicaAndFallBackToThePrimary() async throws {
        guard let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"] else { return }
        let logger = Logger(label: "replica-test")
        // The test database stands in for a replica of itself.
        let healthy = try PostgresStore(url: admin, replicaURL: admin, logger: logger)
        #expect(try await healthy.readHeavy { db in try await db.raw("SELECT 7 AS n").first()!.decode(column: "n", as: Int.self) } == 7)
        await #expect(throws: LinliError.self) {
            try await healthy.readHeavy { _ -> Int in throw LinliError.notFound }
        }
        await healthy.shutdown()

        // The same database at a port where nothing listens.
        var parts = URLComponents(string: admin)!
        parts.port = 9
        let dead = parts.string!
        #expect(dead != admin)
        let store = try PostgresStore(url: admin, replicaURL: dead, logger: logger)
        #expect(!store.replicaResting)
        #expect(try await store.readHeavy { db in try await db.raw("SELECT 8 AS n").first()!.decode(column: "n", as: Int.self) } == 8)
        #expect(store.replicaResting, "the failed replica is skipped for a while, not waited for again")
        #expect(try await store.readHeavy { db in try await db.raw("SELECT 9 AS n").first()!.decode(column: "n", as: Int.self) } == 9)
        await store.shutdown()
    }
}

@Suite struct BulkRowsTests {
    /// COPY's text format, worked: NULL, numbers, and the four characters that must be escaped,
    /// including a Windows line end (one Character in Swift, two in the format).
    @Test func cellsAreWrittenInCopysTextFormat() {
        #expect(BulkValue.copyLine([.int(-7), .float(28.5), .null, .text("湖滨街道")]) == "-7\t28.5\t\\N\t湖滨街道\n")
        #expect(BulkValue.text("a\tb\nc\r\nd\\e").copyText == "a\\tb\\nc\\r\\nd\\\\e")
        #expect(BulkValue.text("\\N").copyText == "\\\\N", "a text that reads \\N is not NULL")
        #expect(BulkValue.text("").copyText == "")
    }

    /// Rows copied in inside a transaction read back exactly as they were, NULLs as NULLs; a
    /// transaction that fails after its COPY leaves nothing.
    @Test func copiedRowsReadBackExactlyAndFailWithTheirTransaction() async throws {
        guard StoreBackend.available.contains(.postgres) else { return }
        try await withStore(.postgres) { store in
            let pg = try #require(store as? PostgresStore)
            try await store.transaction { db in
                try await db.raw("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, lat DOUBLE PRECISION, note TEXT)").run()
            }
            let texts = ["王\t芳", "第一行\n第二行", "CR\r\nLF", "back\\slash", "\\N", "", "普通"]
            let rows: [[BulkValue]] = texts.enumerated().map { i, t in [.int(Int64(i + 1)), .text(t), .float(28.0 + Double(i) / 8), i == 2 ? .null : .text("n\(i)")] }
            try await pg.copyTransaction { _, copy in try await copy("t", ["id", "name", "lat", "note"], rows) }
            let back = try await store.read { db in
                try await db.raw("SELECT id, name, lat, note FROM t ORDER BY id").all().map { r in
                    (try r.decode(column: "name", as: String.self), try r.decode(column: "lat", as: Double.self), try r.decode(column: "note", as: String?.self))
                }
            }
            #expect(back.map(\.0) == texts)
            #expect(back.map(\.1) == texts.indices.map { 28.0 + Double($0) / 8 })
            #expect(back[2].2 == nil && back[3].2 == "n3")
            await #expect(throws: Failure.self) {
                try await pg.copyTransaction { _, copy in
                    try await copy("t", ["id", "name", "lat", "note"], [[.int(100), .text("x"), .null, .null]])
                    throw Failure(n: 2)
                }
            }
            let n = try await store.read { db in try await db.raw("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
            #expect(n == texts.count)
            // The server refusing the COPY itself (a key already there): the transaction is
            // rolled back and every pooled connection still answers afterwards.
            await #expect(throws: (any Error).self) {
                try await pg.copyTransaction { _, copy in try await copy("t", ["id", "name", "lat", "note"], [[.int(1), .text("again"), .null, .null]]) }
            }
            for _ in 0..<20 {
                let again = try await store.read { db in try await db.raw("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
                #expect(again == texts.count)
            }
        }
    }
}

@Suite struct BulkLoadTests {
    /// A bulk load sets the tables' own secondary indexes aside and builds them again at the end,
    /// also when the load fails; a constraint's index stays throughout.
    @Test(arguments: StoreBackend.available)
    func indexesSetAsideComeBackAfterTheLoadEvenAFailedOne(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.transaction { db in
                try await db.raw("CREATE TABLE bt (id BIGINT PRIMARY KEY, name TEXT NOT NULL, code TEXT UNIQUE)").run()
                try await db.raw("CREATE INDEX bt_name ON bt(name)").run()
                // A second table with two more, so that PostgreSQL's two lanes both build some,
                // and a partial, descending one must come back as it was.
                try await db.raw("CREATE TABLE bt2 (id BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL)").run()
                try await db.raw("CREATE INDEX bt2_at ON bt2(at DESC)").run()
                try await db.raw("CREATE INDEX bt2_kind ON bt2(kind, at) WHERE kind <> 'x'").run()
            }
            // The definitions themselves (PostgreSQL's and SQLite's own text), not only the names.
            let listSQL = store.dialect == .postgres
                ? "SELECT indexname || ': ' || indexdef AS n FROM pg_indexes WHERE tablename IN ('bt', 'bt2') ORDER BY 1"
                : "SELECT name || ': ' || COALESCE(sql, '') AS n FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('bt', 'bt2') ORDER BY 1"
            @Sendable func indexes() async throws -> [String] {
                try await store.read { db in try await db.raw(SQLQueryString(listSQL)).all().map { try $0.decode(column: "n", as: String.self) } }
            }
            let before = try await indexes()
            #expect(before.contains { $0.hasPrefix("bt_name:") })
            let during = try await store.bulkLoad(tables: ["bt", "bt2"]) {
                try await store.transaction { db in try await db.query("INSERT INTO bt (id, name, code) VALUES (\(1), \("王芳"), \("a"))").run() }
                return try await indexes()
            }
            #expect(!during.contains { $0.hasPrefix("bt_name:") || $0.hasPrefix("bt2_at:") || $0.hasPrefix("bt2_kind:") }, "set aside during the load")
            #expect(during.count == before.count - 3, "the constraints' indexes stay: \(during)")
            #expect(try await indexes() == before)
            await #expect(throws: Failure.self) {
                try await store.bulkLoad(tables: ["bt", "bt2"]) { () async throws -> Int in throw Failure(n: 3) }
            }
            #expect(try await indexes() == before)
        }
    }

    /// On PostgreSQL a bulk load sets the loaded tables' foreign keys aside too, and adds them
    /// back at the end, checking every row then: a row that refers to nothing fails the load.
    @Test func foreignKeysSetAsideAreCheckedWhenTheyComeBack() async throws {
        guard StoreBackend.available.contains(.postgres) else { return }
        try await withStore(.postgres) { store in
            try await store.transaction { db in
                try await db.raw("CREATE TABLE fk_parent (id BIGINT PRIMARY KEY)").run()
                try await db.raw("CREATE TABLE fk_child (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES fk_parent(id) ON DELETE CASCADE)").run()
                try await db.raw("INSERT INTO fk_parent (id) VALUES (1)").run()
            }
            @Sendable func keys() async throws -> [String] {
                try await store.read { db in
                    try await db.raw("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'fk_child'::regclass AND contype = 'f'").all()
                        .map { try $0.decode(column: "d", as: String.self) }
                }
            }
            let before = try await keys()
            #expect(before.count == 1 && before[0].contains("ON DELETE CASCADE"))
            let during = try await store.bulkLoad(tables: ["fk_child"]) {
                try await store.transaction { db in try await db.raw("INSERT INTO fk_child (id, parent_id) VALUES (1, 1)").run() }
                return try await keys()
            }
            #expect(during.isEmpty, "set aside during the load")
            #expect(try await keys() == before, "back as it was, with its ON DELETE rule")
            // A row that refers to nothing is caught when the key comes back, and the load fails;
            // another table's key still comes back.
            try await store.transaction { db in
                try await db.raw("CREATE TABLE fk_other (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES fk_parent(id))").run()
            }
            await #expect(throws: (any Error).self) {
                try await store.bulkLoad(tables: ["fk_child", "fk_other"]) {
                    try await store.transaction { db in try await db.raw("INSERT INTO fk_child (id, parent_id) VALUES (2, 99)").run() }
                }
            }
            let other = try await store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM pg_constraint WHERE conrelid = 'fk_other'::regclass AND contype = 'f'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(other == 1, "the good table's key is back")
        }
    }
}
