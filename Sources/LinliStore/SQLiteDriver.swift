import LinliCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
// Debian's SQLite (libsqlite3-dev), through a system-library target: the only copy of SQLite in
// the process (every connection to a database file must go through one copy, or its POSIX locks
// break), and no dependency on another package's internal module and renamed symbols.
import CSQLite
import LinliSQLite

/// A failure reported by SQLite, with its result code and message.
public struct SQLiteFailure: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
    /// A UNIQUE, PRIMARY KEY, FOREIGN KEY, CHECK or NOT NULL constraint refused the write.
    public var isConstraint: Bool { code & 0xff == SQLITE_CONSTRAINT }
}

/// One SQLite connection that keeps its prepared statements.
///
/// SQLiteNIO prepares every statement afresh and hops to a thread pool and back for each one; a
/// request of fifteen statements paid that fifteen times. Here a statement is prepared once per
/// connection and SQL text, and runs synchronously on the calling thread: the store runs its
/// transactions and reads on the connection's own thread (`ThreadExecutor`), so that blocking in
/// SQLite never holds one of Swift's few cooperative threads.
package final class SQLiteHandle: @unchecked Sendable {
    private let lock = NIOLock()
    private var raw: OpaquePointer?
    private var statements: [SQLText: Statement] = [:]
    package static let cacheLimit = 512
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// A prepared statement and its result columns' names, looked up by name for each row.
    package final class Statement {
        package let pointer: OpaquePointer
        package let columns: ColumnNames
        package init(pointer: OpaquePointer, columns: ColumnNames) { self.pointer = pointer; self.columns = columns }
        deinit { sqlite3_finalize(pointer) }
    }

    package init(path: String) throws {
        var db: OpaquePointer?
        // NOMUTEX: `lock` below already serialises every use of the connection, and SQLite's own
        // mutex cost a lock per column read.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        _ = linli_sqlite_configure_library()
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open \(path)"
            sqlite3_close(db)
            throw SQLiteFailure(code: rc, message: message)
        }
        // A cached statement keeps its plan whatever is bound to it (without this SQLite re-prepares
        // statements whose plan might depend on a bound value on every bind), and "text" is a name,
        // never a string: see LinliSQLite.h.
        let configured = linli_sqlite_configure_connection(UnsafeMutableRawPointer(db))
        guard configured == SQLITE_OK else {
            sqlite3_close(db)
            throw SQLiteFailure(code: configured, message: "cannot configure the connection to \(path)")
        }
        raw = db
    }

    deinit { close() }

    package func close() {
        lock.withLock {
            statements.removeAll()
            if let raw { sqlite3_close_v2(raw) }
            raw = nil
        }
    }

    /// Runs one statement to completion, calling `onRow` for every row it yields.
    package func run(_ sql: String, _ binds: [SQLiteValue], _ onRow: (FastSQLiteRow) throws -> Void) throws {
        try lock.withLock {
            guard let raw else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "connection closed") }
            let statement = try prepared(sql, raw)
            let s = statement.pointer
            defer { sqlite3_reset(s); sqlite3_clear_bindings(s) }
            for (i, value) in binds.enumerated() { try bind(s, Int32(i + 1), value, raw) }
            let count = Int32(statement.columns.names.count)
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { return }
                guard rc == SQLITE_ROW else { throw failure(rc, raw) }
                var values: [SQLiteValue] = []
                values.reserveCapacity(Int(count))
                for c in 0..<count { values.append(Self.value(s, c)) }
                try onRow(FastSQLiteRow(columns: statement.columns, values: values))
            }
        }
    }

    /// Runs `body` in one read transaction, so that its statements see one snapshot and the
    /// connection takes its read lock on the WAL once instead of once per statement. The store
    /// lends a reader to one read at a time (`ReaderPool`); a body that finds a transaction
    /// already open (a nested read of the same task) reads in it and leaves ending it to its owner.
    package func reading<T>(_ body: () async throws -> T) async throws -> T {
        let owns = try lock.withLock { () throws -> Bool in
            guard let raw else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "connection closed") }
            guard sqlite3_get_autocommit(raw) != 0 else { return false }
            try step(prepared("BEGIN", raw).pointer, raw)
            return true
        }
        defer {
            if owns {
                lock.withLock {
                    if let raw, let s = try? prepared("COMMIT", raw).pointer { try? step(s, raw) }
                }
            }
        }
        return try await body()
    }

    private func step(_ s: OpaquePointer, _ raw: OpaquePointer) throws {
        defer { sqlite3_reset(s) }
        let rc = sqlite3_step(s)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw failure(rc, raw) }
    }

    /// Runs one statement that yields no rows once per list of binds, preparing and locking once.
    package func runEach(_ sql: String, _ bindLists: [[SQLiteValue]]) throws {
        try lock.withLock {
            guard let raw else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "connection closed") }
            let s = try prepared(sql, raw).pointer
            for binds in bindLists {
                defer { sqlite3_reset(s) }
                for (i, value) in binds.enumerated() { try bind(s, Int32(i + 1), value, raw) }
                let rc = sqlite3_step(s)
                guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw failure(rc, raw) }
            }
            sqlite3_clear_bindings(s)
        }
    }

    private func bind(_ s: OpaquePointer, _ index: Int32, _ value: SQLiteValue, _ raw: OpaquePointer) throws {
        let rc: Int32
        switch value {
        case .integer(let n): rc = sqlite3_bind_int64(s, index, Int64(n))
        case .float(let d): rc = sqlite3_bind_double(s, index, d)
        case .text(let t): rc = sqlite3_bind_text(s, index, t, -1, Self.transient)
        case .blob(let b):
            rc = b.withUnsafeBytes { sqlite3_bind_blob(s, index, $0.baseAddress, Int32($0.count), Self.transient) }
        case .null: rc = sqlite3_bind_null(s, index)
        }
        guard rc == SQLITE_OK else { throw failure(rc, raw) }
    }

    private func prepared(_ sql: String, _ raw: OpaquePointer) throws -> Statement {
        let key = SQLText(sql)
        if let cached = statements[key] { return cached }
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v3(raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        guard rc == SQLITE_OK, let s else { throw failure(rc, raw) }
        let names = (0..<sqlite3_column_count(s)).map { String(cString: sqlite3_column_name(s, $0)) }
        let statement = Statement(pointer: s, columns: ColumnNames(names))
        // SQL with values written into its text never repeats; a full cache starts over.
        if statements.count >= Self.cacheLimit { statements.removeAll() }
        statements[key] = statement
        return statement
    }

    /// A statement cache key compared and hashed byte by byte: `String`'s own hashing and equality
    /// normalise non-ASCII text (a literal such as '系统' in the SQL) on every lookup.
    package struct SQLText: Hashable {
        package let text: String
        package init(_ text: String) { self.text = text }
        package func hash(into hasher: inout Hasher) {
            var t = text
            t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
        package static func == (a: SQLText, b: SQLText) -> Bool {
            guard a.text.utf8.count == b.text.utf8.count else { return false }
            var x = a.text, y = b.text
            return x.withUTF8 { p in y.withUTF8 { q in p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
        }
    }

    private static func value(_ s: OpaquePointer, _ c: Int32) -> SQLiteValue {
        switch sqlite3_column_type(s, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(s, c))
        case SQLITE_FLOAT: return .float(sqlite3_column_double(s, c))
        case SQLITE_TEXT:
            guard let p = sqlite3_column_text(s, c) else { return .text("") }
            let n = Int(sqlite3_column_bytes(s, c))
            return .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(s, c))
            guard n > 0, let p = sqlite3_column_blob(s, c) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    private func failure(_ rc: Int32, _ raw: OpaquePointer) -> SQLiteFailure {
        SQLiteFailure(code: sqlite3_extended_errcode(raw), message: String(cString: sqlite3_errmsg(raw)))
    }
}

/// A statement's column names, shared by all of its rows.
package final class ColumnNames: Sendable {
    package let names: [String]
    package let index: [String: Int]
    package init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() where index[n] == nil { index[n] = i }
        self.index = index
    }

    /// A column's position. Short column lists are scanned: comparing a few short names is
    /// cheaper than hashing one, and a report decodes ~250,000 values by name.
    @inline(__always)
    package func position(_ column: String) -> Int? {
        if names.count <= 16 {
            for i in names.indices where names[i] == column { return i }
            return nil
        }
        return index[column]
    }
}

package struct MissingColumn: Error, CustomStringConvertible {
    package let column: String
    package var description: String { "no column \(column) in the result" }
}

/// A row read by `SQLiteHandle`. The common column types decode without Codable's machinery.
package struct FastSQLiteRow: SQLRow, Sendable {
    package let columns: ColumnNames
    package let values: [SQLiteValue]
    package static let decoder = SQLiteValueDecoder()

    package var allColumns: [String] { columns.names }
    package func contains(column: String) -> Bool { columns.position(column) != nil }

    package func decodeNil(column: String) throws -> Bool {
        guard let i = columns.position(column) else { return true }
        return values[i] == .null
    }

    // The common types are handed over without a dynamic cast: each branch has just checked that
    // `D` is exactly the type it builds, so the bit casts are identities.
    package func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let i = columns.position(column) else { throw MissingColumn(column: column) }
        let value = values[i]
        switch value {
        case .integer(let n):
            if D.self == Int64.self { return unsafeBitCast(Int64(n), to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.some(Int64(n)), to: D.self) }
            if D.self == Int.self { return unsafeBitCast(Int(n), to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.some(Int(n)), to: D.self) }
            if D.self == Bool.self { return unsafeBitCast(n != 0, to: D.self) }
            if D.self == Bool?.self { return unsafeBitCast(Bool?.some(n != 0), to: D.self) }
        case .text(let t):
            if D.self == String.self { return unsafeBitCast(t, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.some(t), to: D.self) }
        case .float(let d):
            if D.self == Double.self { return unsafeBitCast(d, to: D.self) }
            if D.self == Double?.self { return unsafeBitCast(Double?.some(d), to: D.self) }
        case .null:
            if D.self == Int64?.self { return unsafeBitCast(Int64?.none, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.none, to: D.self) }
            if D.self == Double?.self { return unsafeBitCast(Double?.none, to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.none, to: D.self) }
        case .blob: break
        }
        return try Self.decoder.decode(D.self, from: value)
    }
}

/// `SQLDatabase` over one `SQLiteHandle`: SQLKit serialises the query, the handle runs it in place.
package struct FastSQLiteDatabase: SQLDatabase {
    package let handle: SQLiteHandle
    package let logger: Logger
    package let eventLoop: any EventLoop
    package static let encoder = SQLiteValueEncoder()

    package init(handle: SQLiteHandle, logger: Logger, eventLoop: any EventLoop) {
        self.handle = handle; self.logger = logger; self.eventLoop = eventLoop
    }

    package var dialect: any SQLDialect { LinliSQLiteDialect() }
    package var queryLogLevel: Logger.Level? { nil }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try run(query, onRow)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> ()) throws {
        let (sql, binds) = serialize(query)
        try handle.run(sql, try binds.map(Self.data), { onRow($0) })
    }

    /// Bound SQL straight to the connection: its text and typed values as they are.
    package func all(_ sql: BoundSQL) throws -> [any SQLRow] {
        var rows: [any SQLRow] = []
        try handle.run(sql.text, sql.values.map(\.sqlite)) { rows.append($0) }
        return rows
    }

    package func run(_ sql: BoundSQL) throws {
        try handle.run(sql.text, sql.values.map(\.sqlite)) { _ in }
    }

    /// Inserts rows one prepared statement at a time: for a bulk load, cheaper than SQLKit
    /// serialising multi-row INSERTs of thousands of binds.
    package func insertRows(into table: String, columns: [String], _ rows: [[SQLiteValue]]) throws {
        let quoted = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let sql = "INSERT INTO \"\(table)\" (\(quoted)) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        try handle.runEach(sql, rows)
    }

    /// The bind types Linli uses most are converted directly; the rest go through `SQLiteValueEncoder`.
    package static func data(_ value: any Encodable & Sendable) throws -> SQLiteValue {
        switch value {
        case let n as Int64: .integer(n)
        case let n as Int: .integer(Int64(n))
        case let s as String: .text(s)
        case let d as Double: .float(d)
        case let b as Bool: .integer(b ? 1 : 0)
        default: try encoder.encode(value)
        }
    }
}

/// A thread that runs the jobs of tasks preferring it. The store's connections each live on one,
/// so SQLite's blocking calls (reads from disk, the fsync of COMMIT) stay off the cooperative pool.
package final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false

    package init(name: String) {
        // The thread keeps its executor until `stop()` lets the loop end.
        let thread = Thread { self.loop() }
        thread.name = name
        thread.start()
    }

    /// Ends the thread once the jobs already queued have run.
    package func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if stopping {
            // A task still preferring a stopped connection's thread must not wait forever: it
            // runs on the shared pool and finds its connection closed.
            condition.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty { condition.unlock(); return }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
