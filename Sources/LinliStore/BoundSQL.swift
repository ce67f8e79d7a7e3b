import LinliCore
import NIOConcurrencyHelpers
import SQLKit

/// A value bound to a statement, typed where the statement is written. A missing value keeps its
/// type, so that PostgreSQL is told which type of NULL it gets.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64?), real(Double?), text(String?)

    /// The same value for SQLKit's serializer (PostgreSQL).
    package var encodable: any Encodable & Sendable {
        switch self {
        case .integer(let n): n
        case .real(let d): d
        case .text(let s): s
        }
    }

    /// The same value for SQLite, without a dynamic cast.
    package var sqlite: SQLiteValue {
        switch self {
        case .integer(let n): n.map { .integer($0) } ?? .null
        case .real(let d): d.map { .float($0) } ?? .null
        case .text(let s): s.map { .text($0) } ?? .null
        }
    }
}

/// SQL written inline with its values, as with SQLKit's `raw`, but each value's type is known
/// where it is written. On SQLite the text and values go to the connection as they are, without
/// SQLKit's serializer and a dynamic cast per value (a third of the single writer's time on a
/// submission went there); elsewhere the statement serialises itself through SQLKit as usual.
/// Values are written `?` in the text; `unsafeRaw:` inserts trusted SQL.
public struct BoundSQL: SQLExpression, ExpressibleByStringInterpolation, Sendable {
    /// The SQL with `?` for each value.
    package var text: String
    package var values: [SQLValue]
    /// The UTF-8 offset of each value's `?` in `text`.
    package var valueOffsets: [Int]

    public init(stringLiteral value: String) {
        text = value; values = []; valueOffsets = []
    }

    public init(stringInterpolation: Interpolation) {
        self = stringInterpolation.sql
    }

    public struct Interpolation: StringInterpolationProtocol {
        package var sql: BoundSQL

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = BoundSQL(stringLiteral: "")
            sql.text.reserveCapacity(literalCapacity + 3 * interpolationCount)
            sql.values.reserveCapacity(interpolationCount)
            sql.valueOffsets.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { sql.text += literal }
        public mutating func appendInterpolation(unsafeRaw raw: String) { sql.text += raw }
        public mutating func appendInterpolation(_ value: SQLValue) {
            sql.valueOffsets.append(sql.text.utf8.count)
            sql.text += "?"
            sql.values.append(value)
        }
        public mutating func appendInterpolation(_ value: Int64?) { appendInterpolation(.integer(value)) }
        public mutating func appendInterpolation(_ value: Int?) { appendInterpolation(.integer(value.map(Int64.init))) }
        public mutating func appendInterpolation(_ value: Bool) { appendInterpolation(.integer(value ? 1 : 0)) }
        public mutating func appendInterpolation(_ value: Double?) { appendInterpolation(.real(value)) }
        public mutating func appendInterpolation(_ value: String?) { appendInterpolation(.text(value)) }
        /// A list of values, separated by commas (for `IN (…)`).
        public mutating func appendInterpolation(list: [Int64]) {
            for (i, v) in list.enumerated() {
                if i > 0 { sql.text += ", " }
                appendInterpolation(.integer(v))
            }
        }
        /// A list of texts, separated by commas (for `IN (…)`).
        public mutating func appendInterpolation(list: [String]) {
            for (i, v) in list.enumerated() {
                if i > 0 { sql.text += ", " }
                appendInterpolation(.text(v))
            }
        }
        /// Another piece of bound SQL, with its values.
        public mutating func appendInterpolation(_ other: BoundSQL) {
            let shift = sql.text.utf8.count
            sql.text += other.text
            sql.values += other.values
            sql.valueOffsets += other.valueOffsets.map { $0 + shift }
        }
    }

    /// Pieces joined by `separator` (e.g. alternative conditions joined by " OR ").
    package static func joined(_ pieces: [BoundSQL], separator: String) -> BoundSQL {
        var i = Interpolation(literalCapacity: 0, interpolationCount: 0)
        for (n, p) in pieces.enumerated() {
            if n > 0 { i.appendLiteral(separator) }
            i.appendInterpolation(p)
        }
        return i.sql
    }

    public func serialize(to serializer: inout SQLSerializer) {
        let utf8 = Array(text.utf8)
        var start = 0
        for (offset, value) in zip(valueOffsets, values) {
            serializer.write(String(decoding: utf8[start..<offset], as: UTF8.self))
            serializer.write(bind: value.encodable)
            start = offset + 1
        }
        serializer.write(String(decoding: utf8[start...], as: UTF8.self))
    }
}

/// A `BoundSQL` about to run on a database: `all`, `first` or `run`, as SQLKit's raw builder.
public struct BoundQuery: Sendable {
    package let database: any SQLDatabase
    package let sql: BoundSQL

    public func all() async throws -> [any SQLRow] {
        if let sqlite = database as? FastSQLiteDatabase { return try sqlite.all(sql) }
        let rows = NIOLockedValueBox<[any SQLRow]>([])
        try await database.execute(sql: sql) { row in rows.withLockedValue { $0.append(row) } }
        return rows.withLockedValue { $0 }
    }

    public func first() async throws -> (any SQLRow)? { try await all().first }

    public func run() async throws {
        if let sqlite = database as? FastSQLiteDatabase { return try sqlite.run(sql) }
        try await database.execute(sql: sql) { _ in }
    }
}

extension SQLDatabase {
    /// SQL with typed values (see `BoundSQL`): `db.query("SELECT … WHERE id = \(id)").all()`.
    public func query(_ sql: BoundSQL) -> BoundQuery { BoundQuery(database: self, sql: sql) }

    /// Runs writes that return nothing and touch different tables, in one round trip where the
    /// database allows: on PostgreSQL as one statement (each but the last inside `WITH`, which
    /// runs them all on one snapshot, in no set order: so never two that touch one row); on
    /// SQLite, which runs in process and has no round trip to save, one after the other.
    package func runAll(_ statements: [BoundSQL], _ dialect: Dialect) async throws {
        guard let last = statements.last else { return }
        if dialect == .sqlite || statements.count == 1 {
            for s in statements { try await query(s).run() }
            return
        }
        var i = BoundSQL.Interpolation(literalCapacity: 0, interpolationCount: 0)
        i.appendLiteral("WITH ")
        for (n, s) in statements.dropLast().enumerated() {
            if n > 0 { i.appendLiteral(", ") }
            i.appendLiteral("w\(n) AS (")
            i.appendInterpolation(s)
            i.appendLiteral(")")
        }
        i.appendLiteral(" ")
        i.appendInterpolation(last)
        try await query(i.sql).run()
    }
}
