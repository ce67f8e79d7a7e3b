import LinliCore
import Foundation
@_spi(CodableUtilities) import SQLKit

/// A value as SQLite stores it (its five storage classes).
///
/// Linli talks to Debian's SQLite directly (`CSQLite`), so it no longer borrows SQLiteNIO's
/// `SQLiteData`: importing SQLiteKit beside the system SQLite puts two definitions of SQLite's C
/// structs in one module, which Clang refuses.
package enum SQLiteValue: Sendable, Equatable {
    case integer(Int64)
    case float(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// Encodes a bound value. Single values map to their storage class; anything with keys or
/// elements (a list of tags, a settings struct) is stored as JSON text, as SQLiteKit did.
package struct SQLiteValueEncoder: Sendable {
    package init() {}

    package func encode(_ value: any Encodable) throws -> SQLiteValue {
        switch value {
        case let d as Data: return .blob(Array(d))
        case let b as [UInt8]: return .blob(b)
        case let d as Date: return .float(d.timeIntervalSince1970)
        default: break
        }
        let single = SingleValue()
        do {
            try value.encode(to: single)
            guard let v = single.value else { throw SQLCodingError.unsupportedOperation("missing value", codingPath: []) }
            return v
        } catch is SQLCodingError {
            return .text(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
        }
    }

    private final class SingleValue: Encoder, SingleValueEncodingContainer {
        var value: SQLiteValue?
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        func container<K: CodingKey>(keyedBy: K.Type) -> KeyedEncodingContainer<K> { .invalid(at: codingPath) }
        func unkeyedContainer() -> any UnkeyedEncodingContainer { .invalid(at: codingPath) }
        func singleValueContainer() -> any SingleValueEncodingContainer { self }
        func encodeNil() throws { value = .null }
        func encode(_ v: Bool) throws { value = .integer(v ? 1 : 0) }
        func encode(_ v: String) throws { value = .text(v) }
        func encode(_ v: Double) throws { value = .float(v) }
        func encode(_ v: Float) throws { value = .float(Double(v)) }
        func encode(_ v: Int) throws { value = .integer(Int64(v)) }
        func encode(_ v: Int8) throws { value = .integer(Int64(v)) }
        func encode(_ v: Int16) throws { value = .integer(Int64(v)) }
        func encode(_ v: Int32) throws { value = .integer(Int64(v)) }
        func encode(_ v: Int64) throws { value = .integer(v) }
        func encode(_ v: UInt) throws { value = .integer(try Self.fit(v)) }
        func encode(_ v: UInt8) throws { value = .integer(Int64(v)) }
        func encode(_ v: UInt16) throws { value = .integer(Int64(v)) }
        func encode(_ v: UInt32) throws { value = .integer(Int64(v)) }
        func encode(_ v: UInt64) throws { value = .integer(try Self.fit(v)) }
        func encode<T: Encodable>(_ v: T) throws {
            // Dates and bytes inside a wrapper are stored as at the top level (Date's own encoding
            // would count seconds from 2001).
            if let d = v as? Date { value = .float(d.timeIntervalSince1970); return }
            if let d = v as? Data { value = .blob(Array(d)); return }
            // A wrapper of one value (a RawRepresentable enum, an id type) unwraps to it.
            try v.encode(to: self)
        }
        static func fit<T: BinaryInteger>(_ v: T) throws -> Int64 {
            guard let n = Int64(exactly: v) else {
                throw EncodingError.invalidValue(v, .init(codingPath: [], debugDescription: "\(v) does not fit SQLite's 64-bit integer"))
            }
            return n
        }
    }
}

/// Decodes a column's value. Integers and reals convert into each other only exactly, text is
/// taken as JSON when the type asks for keys or elements, and NULL is nil.
package struct SQLiteValueDecoder: Sendable {
    package init() {}

    package func decode<T: Decodable>(_ type: T.Type, from value: SQLiteValue) throws -> T {
        if T.self == Data.self, case .blob(let b) = value { return Data(b) as! T }
        if T.self == [UInt8].self, case .blob(let b) = value { return b as! T }
        if T.self == Date.self {
            switch value {
            case .float(let d): return Date(timeIntervalSince1970: d) as! T
            case .integer(let n): return Date(timeIntervalSince1970: Double(n)) as! T
            default: break
            }
        }
        do {
            return try T(from: SingleValue(value: value))
        } catch is Structured {
            let bytes: [UInt8]
            switch value {
            case .text(let t): bytes = Array(t.utf8)
            case .blob(let b): bytes = b
            default: throw DecodingError.typeMismatch(T.self, .init(codingPath: [], debugDescription: "\(value) is not JSON"))
            }
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        }
    }

    /// Raised when the type wants keys or elements: the value is then read as JSON.
    private struct Structured: Error {}

    private struct SingleValue: Decoder, SingleValueDecodingContainer {
        let value: SQLiteValue
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        func container<K: CodingKey>(keyedBy: K.Type) throws -> KeyedDecodingContainer<K> { throw Structured() }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Structured() }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { value == .null }
        func mismatch<T>(_ t: T.Type) -> DecodingError {
            .typeMismatch(t, .init(codingPath: [], debugDescription: "cannot read \(value) as \(t)"))
        }
        func decode(_ t: Bool.Type) throws -> Bool {
            switch value {
            case .integer(let n): return n != 0
            case .text(let s) where s == "true" || s == "false": return s == "true"
            default: throw mismatch(t)
            }
        }
        func decode(_ t: String.Type) throws -> String {
            switch value {
            case .text(let s): return s
            case .integer(let n): return String(n)
            case .float(let d): return String(d)
            default: throw mismatch(t)
            }
        }
        func decode(_ t: Double.Type) throws -> Double {
            switch value {
            case .float(let d): return d
            case .integer(let n): return Double(n)
            case .text(let s): if let d = Double(s) { return d }; throw mismatch(t)
            default: throw mismatch(t)
            }
        }
        func decode(_ t: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func integer<T: FixedWidthInteger>(_ t: T.Type) throws -> T {
            let n: Int64
            switch value {
            case .integer(let i): n = i
            case .float(let d): guard let i = Int64(exactly: d) else { throw mismatch(t) }; n = i
            case .text(let s): guard let i = Int64(s) else { throw mismatch(t) }; n = i
            default: throw mismatch(t)
            }
            guard let v = T(exactly: n) else { throw mismatch(t) }
            return v
        }
        func decode(_ t: Int.Type) throws -> Int { try integer(t) }
        func decode(_ t: Int8.Type) throws -> Int8 { try integer(t) }
        func decode(_ t: Int16.Type) throws -> Int16 { try integer(t) }
        func decode(_ t: Int32.Type) throws -> Int32 { try integer(t) }
        func decode(_ t: Int64.Type) throws -> Int64 { try integer(t) }
        func decode(_ t: UInt.Type) throws -> UInt { try integer(t) }
        func decode(_ t: UInt8.Type) throws -> UInt8 { try integer(t) }
        func decode(_ t: UInt16.Type) throws -> UInt16 { try integer(t) }
        func decode(_ t: UInt32.Type) throws -> UInt32 { try integer(t) }
        func decode(_ t: UInt64.Type) throws -> UInt64 { try integer(t) }
        func decode<T: Decodable>(_ t: T.Type) throws -> T { try SQLiteValueDecoder().decode(t, from: value) }
    }
}

/// SQLite's SQL for SQLKit's serializer: `"` quotes names, `?N` binds, no enums or DROP behaviour,
/// UPSERT and RETURNING (Debian's SQLite is 3.40; both arrived by 3.35).
package struct LinliSQLiteDialect: SQLDialect {
    package init() {}
    package var name: String { "sqlite" }
    package var identifierQuote: any SQLExpression { SQLRaw("\"") }
    package var literalStringQuote: any SQLExpression { SQLRaw("'") }
    package func bindPlaceholder(at position: Int) -> any SQLExpression { SQLRaw("?\(position)") }
    package func literalBoolean(_ value: Bool) -> any SQLExpression { SQLRaw(value ? "TRUE" : "FALSE") }
    package var literalDefault: any SQLExpression { SQLLiteral.null }
    package var supportsIfExists: Bool { true }
    package var supportsDropBehavior: Bool { false }
    package var supportsAutoIncrement: Bool { false }
    package var autoIncrementClause: any SQLExpression { SQLRaw("AUTOINCREMENT") }
    package var enumSyntax: SQLEnumSyntax { .unsupported }
    package var triggerSyntax: SQLTriggerSyntax { .init(create: [.supportsBody, .supportsCondition, .supportsUpdateColumns], drop: []) }
    package var alterTableSyntax: SQLAlterTableSyntax { .init(allowsBatch: false) }
    package var upsertSyntax: SQLUpsertSyntax { .standard }
    package var supportsReturning: Bool { true }
    package var unionFeatures: SQLUnionFeatures { [.union, .unionAll, .intersect, .except] }
    package func customDataType(for dataType: SQLDataType) -> (any SQLExpression)? {
        if case .bigint = dataType { return SQLDataType.int }
        return nil
    }
}
