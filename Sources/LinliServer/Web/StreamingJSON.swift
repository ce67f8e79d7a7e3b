import Foundation
import LinliCore
import LinliStore

/// Writes an `Encodable` value straight into JSON bytes as its `encode(to:)` runs, instead of
/// building Foundation's intermediate tree first (that tree was a tenth of a request submission's
/// time). It covers what Linli's views use — objects, arrays, strings, numbers, booleans, omitted
/// optionals; anything else (dates, data, out-of-order writes to sibling containers) makes
/// `encode` throw `StreamingJSON.Unsupported`, and the caller falls back to `JSONEncoder`.
/// Output matches `JSONEncoder` with `.withoutEscapingSlashes`: keys in encoding order.
enum StreamingJSON {
    struct Unsupported: Error {}

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let sink = Sink()
        try sink.value(value, depth: 0)
        guard !sink.failed else { throw Unsupported() }
        return sink.bytes
    }

    /// The output and the stack of containers still open, innermost last.
    final class Sink {
        var bytes: [UInt8] = []
        /// For each open container: who it is, its closing byte and whether it has an element yet.
        var open: [(id: Int, close: UInt8, hasElement: Bool)] = []
        var lastID = 0
        /// Set when a nested container was asked for out of turn (those calls cannot throw).
        var failed = false

        init() { bytes.reserveCapacity(1024) }

        /// Closes every container deeper than `depth` (a nested container is done once its parent writes again).
        func close(above depth: Int) {
            while open.count > depth { bytes.append(open.removeLast().close) }
        }

        /// Starts an element of container `id` at `depth` (1-based), writing the comma and the key.
        /// Writing to a container that is already closed (a sibling's turn came in between) throws.
        func element(_ id: Int, depth: Int, key: String?) throws {
            guard open.count >= depth, open[depth - 1].id == id else { throw Unsupported() }
            close(above: depth)
            if open[depth - 1].hasElement { bytes.append(UInt8(ascii: ",")) }
            open[depth - 1].hasElement = true
            if let key { string(key); bytes.append(UInt8(ascii: ":")) }
        }

        func begin(_ openByte: UInt8, _ closeByte: UInt8) -> Int {
            bytes.append(openByte)
            lastID += 1
            open.append((lastID, closeByte, false))
            return lastID
        }

        /// One value at `depth`: scalars directly, anything else through its own `encode(to:)`.
        func value<T: Encodable>(_ v: T, depth: Int) throws {
            // Exact type checks first: each bit cast below is an identity, and costs no dynamic cast.
            if T.self == String.self { return string(unsafeBitCast(v, to: String.self)) }
            if T.self == Int64.self { return integer(unsafeBitCast(v, to: Int64.self)) }
            if T.self == Int.self { return integer(Int64(unsafeBitCast(v, to: Int.self))) }
            if T.self == Bool.self { return bool(unsafeBitCast(v, to: Bool.self)) }
            if T.self == Double.self { return try double(unsafeBitCast(v, to: Double.self)) }
            switch v {
            case let n as Int32: integer(Int64(n))
            case let n as UInt64: bytes.append(contentsOf: String(n).utf8)
            case is Date, is Data, is URL, is Decimal, is Float: throw Unsupported()
            default:
                let encoder = Encoder(sink: self, depth: depth)
                try v.encode(to: encoder)
                if open.count == depth && !encoder.wroteSomething { bytes.append(contentsOf: Self.emptyObject) }
                close(above: depth)
            }
        }

        func integer(_ n: Int64) { Self.integer(n, to: &bytes) }
        func bool(_ b: Bool) { Self.bool(b, to: &bytes) }
        func double(_ d: Double) throws { try Self.double(d, to: &bytes) }
        func string(_ s: String) { Self.string(s, to: &bytes) }

        // The writers themselves work on a byte array a caller owns (`JSONFieldWriter` keeps its
        // own, so that appending checks no class property's exclusive access).
        static func integer(_ n: Int64, to bytes: inout [UInt8]) {
            if n >= 0 && n < 10 { bytes.append(UInt8(ascii: "0") + UInt8(n)); return }
            bytes.append(contentsOf: String(n).utf8)
        }

        static func bool(_ b: Bool, to bytes: inout [UInt8]) { bytes.append(contentsOf: b ? trueBytes : falseBytes) }

        static func double(_ d: Double, to bytes: inout [UInt8]) throws {
            guard d.isFinite else { throw Unsupported() }
            if d == d.rounded(), abs(d) < 1e15 { bytes.append(contentsOf: String(Int64(d)).utf8) } else { bytes.append(contentsOf: "\(d)".utf8) }
        }

        static func string(_ s: String, to bytes: inout [UInt8]) {
            bytes.append(UInt8(ascii: "\""))
            // Most strings need no escaping: copied in one go.
            let plain = s.utf8.withContiguousStorageIfAvailable { buffer -> Bool in
                guard !buffer.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
                bytes.append(contentsOf: buffer)
                return true
            }
            if plain == true { bytes.append(UInt8(ascii: "\"")); return }
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
                default: bytes.append(b)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }

        static let trueBytes = Array("true".utf8), falseBytes = Array("false".utf8), nullBytes = Array("null".utf8), emptyObject = Array("{}".utf8)
    }

    final class Encoder: Swift.Encoder {
        let sink: Sink
        /// How many containers were open when this value started; its own container is at depth + 1.
        let depth: Int
        var wroteSomething = false
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]

        init(sink: Sink, depth: Int) { self.sink = sink; self.depth = depth }

        var containerID = 0

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if !wroteSomething { wroteSomething = true; sink.close(above: depth); containerID = sink.begin(UInt8(ascii: "{"), UInt8(ascii: "}")) }
            return KeyedEncodingContainer(Keyed<Key>(sink: sink, depth: depth + 1, id: containerID))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if !wroteSomething { wroteSomething = true; sink.close(above: depth); containerID = sink.begin(UInt8(ascii: "["), UInt8(ascii: "]")) }
            return Unkeyed(sink: sink, depth: depth + 1, id: containerID)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            wroteSomething = true
            return Single(sink: sink, depth: depth)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let sink: Sink
        let depth: Int
        let id: Int
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws {
            try sink.element(id, depth: depth, key: key.stringValue); sink.bytes.append(contentsOf: Sink.nullBytes)
        }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try sink.element(id, depth: depth, key: key.stringValue); try sink.value(value, depth: depth)
        }
        // The scalar types synthesized `encode(to:)` calls most, without the generic path.
        mutating func encode(_ value: String, forKey key: Key) throws { try sink.element(id, depth: depth, key: key.stringValue); sink.string(value) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try sink.element(id, depth: depth, key: key.stringValue); sink.integer(value) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try sink.element(id, depth: depth, key: key.stringValue); sink.integer(Int64(value)) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try sink.element(id, depth: depth, key: key.stringValue); sink.bool(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try sink.element(id, depth: depth, key: key.stringValue); try sink.double(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            if (try? sink.element(id, depth: depth, key: key.stringValue)) == nil { sink.failed = true }
            let nested = sink.begin(UInt8(ascii: "{"), UInt8(ascii: "}"))
            return KeyedEncodingContainer(Keyed<NestedKey>(sink: sink, depth: depth + 1, id: nested))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            if (try? sink.element(id, depth: depth, key: key.stringValue)) == nil { sink.failed = true }
            let nested = sink.begin(UInt8(ascii: "["), UInt8(ascii: "]"))
            return Unkeyed(sink: sink, depth: depth + 1, id: nested)
        }
        mutating func superEncoder() -> any Swift.Encoder { FailingEncoder() }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder { FailingEncoder() }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let sink: Sink
        let depth: Int
        let id: Int
        var count = 0
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws { try sink.element(id, depth: depth, key: nil); sink.bytes.append(contentsOf: Sink.nullBytes); count += 1 }
        mutating func encode<T: Encodable>(_ value: T) throws { try sink.element(id, depth: depth, key: nil); try sink.value(value, depth: depth); count += 1 }
        mutating func encode(_ value: String) throws { try sink.element(id, depth: depth, key: nil); sink.string(value); count += 1 }
        mutating func encode(_ value: Int64) throws { try sink.element(id, depth: depth, key: nil); sink.integer(value); count += 1 }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            if (try? sink.element(id, depth: depth, key: nil)) == nil { sink.failed = true }; count += 1
            let nested = sink.begin(UInt8(ascii: "{"), UInt8(ascii: "}"))
            return KeyedEncodingContainer(Keyed<NestedKey>(sink: sink, depth: depth + 1, id: nested))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            if (try? sink.element(id, depth: depth, key: nil)) == nil { sink.failed = true }; count += 1
            let nested = sink.begin(UInt8(ascii: "["), UInt8(ascii: "]"))
            return Unkeyed(sink: sink, depth: depth + 1, id: nested)
        }
        mutating func superEncoder() -> any Swift.Encoder { FailingEncoder() }
    }

    struct Single: SingleValueEncodingContainer {
        let sink: Sink
        let depth: Int
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { sink.close(above: depth); sink.bytes.append(contentsOf: Sink.nullBytes) }
        mutating func encode<T: Encodable>(_ value: T) throws { sink.close(above: depth); try sink.value(value, depth: depth) }
    }

    /// What `superEncoder` hands out: every use throws, so the caller falls back to `JSONEncoder`.
    struct FailingEncoder: Swift.Encoder {
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> { KeyedEncodingContainer(Failing<Key>()) }
        func unkeyedContainer() -> any UnkeyedEncodingContainer { FailingUnkeyed() }
        func singleValueContainer() -> any SingleValueEncodingContainer { FailingSingle() }
    }
    struct Failing<Key: CodingKey>: KeyedEncodingContainerProtocol {
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil(forKey key: Key) throws { throw Unsupported() }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { throw Unsupported() }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> { KeyedEncodingContainer(Failing<NestedKey>()) }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { FailingUnkeyed() }
        mutating func superEncoder() -> any Swift.Encoder { FailingEncoder() }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder { FailingEncoder() }
    }
    struct FailingUnkeyed: UnkeyedEncodingContainer {
        var codingPath: [any CodingKey] { [] }
        var count: Int { 0 }
        mutating func encodeNil() throws { throw Unsupported() }
        mutating func encode<T: Encodable>(_ value: T) throws { throw Unsupported() }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> { KeyedEncodingContainer(Failing<NestedKey>()) }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { FailingUnkeyed() }
        mutating func superEncoder() -> any Swift.Encoder { FailingEncoder() }
    }
    struct FailingSingle: SingleValueEncodingContainer {
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { throw Unsupported() }
        mutating func encode<T: Encodable>(_ value: T) throws { throw Unsupported() }
    }
}
