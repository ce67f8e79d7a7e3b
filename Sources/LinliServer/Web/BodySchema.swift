import Foundation

/// The shape of a JSON request body, read from the Swift type the route decodes it into, so that
/// the OpenAPI document cannot drift from what the handler accepts: the route declares the type,
/// the route table decodes it, and the document is made from the same type.
indirect enum BodySchema: Sendable, Equatable {
    case string, integer, number, boolean
    /// A string with a fixed set of values (a `CaseIterable` enum).
    case oneOf([String])
    case array(BodySchema)
    /// Named fields; a keyed type that asked for no key (a dictionary) takes any field.
    case object([Field])
    /// What the probe could not see into (a custom decoder that refused the probe's values).
    case unknown
    /// What was seen before a type refused the probe's made-up values.
    case partial(BodySchema)

    struct Field: Sendable, Equatable {
        var name: String
        var schema: BodySchema
        var required: Bool
    }

    /// Reads `T`'s shape by letting it decode itself from a decoder that records what it asks for.
    /// Optional fields are asked with `decodeIfPresent`; the rest are required.
    static func of<T: Decodable>(_ type: T.Type) -> BodySchema {
        let probe = SchemaProbe(depth: 0)
        do {
            _ = try T(from: probe)
            return probe.recorder.schema
        } catch {
            return .partial(probe.recorder.schema)
        }
    }

    /// True when every part was seen (the check that each declared body can be documented).
    var isComplete: Bool {
        switch self {
        case .unknown, .partial: false
        case .array(let e): e.isComplete
        case .object(let fields): fields.allSatisfy(\.schema.isComplete)
        default: true
        }
    }

    /// The JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of this shape.
    var jsonSchema: [String: Any] {
        switch self {
        case .string: return ["type": "string"]
        case .integer: return ["type": "integer"]
        case .number: return ["type": "number"]
        case .boolean: return ["type": "boolean"]
        case .oneOf(let values): return ["type": "string", "enum": values]
        case .array(let e): return ["type": "array", "items": e.jsonSchema]
        case .unknown: return [:]
        case .partial(let seen): return seen.jsonSchema
        case .object(let fields):
            guard !fields.isEmpty else { return ["type": "object"] }
            var properties: [String: Any] = [:]
            for f in fields { properties[f.name] = f.schema.jsonSchema }
            var s: [String: Any] = ["type": "object", "properties": properties]
            let required = fields.filter(\.required).map(\.name)
            if !required.isEmpty { s["required"] = required }
            return s
        }
    }
}

/// Holds what one level of a type asked the probe for.
private final class Recorder {
    var schema: BodySchema = .unknown
    var fields: [BodySchema.Field] = []
    /// The key last asked "is it null?": the standard library's `decodeIfPresent` for strings,
    /// numbers and booleans asks that before decoding, so such a field is optional.
    var askedNil: String?

    func field(_ name: String, _ schema: BodySchema, required: Bool) {
        if let i = fields.firstIndex(where: { $0.name == name }) {
            fields[i].schema = schema
            fields[i].required = fields[i].required || required
        } else {
            fields.append(.init(name: name, schema: schema, required: required))
        }
        self.schema = .object(fields)
    }
}

private struct ProbeRefused: Error {}

/// A decoder that answers every question with a harmless value and writes the question down.
/// Deep or recursive types stop at a few levels (a body is never that deep).
private struct SchemaProbe: Decoder {
    let recorder = Recorder()
    let depth: Int
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        recorder.schema = .object(recorder.fields)
        return KeyedDecodingContainer(Keyed<Key>(probe: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { Unkeyed(probe: self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(probe: self) }

    /// A value of `T` and its shape: leaves by their JSON type, enums by their cases, the rest
    /// by probing one level down.
    func value<T: Decodable>(_ type: T.Type) throws -> (T, BodySchema) {
        if let leaf = Self.leaf(type) { return leaf }
        if let cases = Self.cases(of: type), let first = cases.first as? T {
            let raw = cases.compactMap { ($0 as? any RawRepresentable).map { "\($0.rawValue)" } }
            return (first, .oneOf(raw))
        }
        guard depth < 6 else { throw ProbeRefused() }
        let child = SchemaProbe(depth: depth + 1)
        do {
            return (try T(from: child), child.recorder.schema)
        } catch {
            throw ProbeFailed(schema: child.recorder.schema)
        }
    }

    /// The shape of an optional field: probed like a required one, but answered as absent so that
    /// no custom check runs on a made-up value.
    func shape<T: Decodable>(_ type: T.Type) -> BodySchema {
        do { return try value(type).1 } catch let f as ProbeFailed { return .partial(f.schema) } catch { return .unknown }
    }

    static func leaf<T>(_ type: T.Type) -> (T, BodySchema)? {
        switch type {
        case is String.Type: return ("" as! T, .string)
        case is Bool.Type: return (false as! T, .boolean)
        case is Int.Type: return (0 as! T, .integer)
        case is Int64.Type: return (Int64(0) as! T, .integer)
        case is Int32.Type: return (Int32(0) as! T, .integer)
        case is UInt.Type: return (UInt(0) as! T, .integer)
        case is Double.Type: return (0.0 as! T, .number)
        case is Float.Type: return (Float(0) as! T, .number)
        case is Decimal.Type: return (Decimal(0) as! T, .number)
        default: return nil
        }
    }

    static func cases<T>(of type: T.Type) -> [Any]? {
        guard let iterable = type as? any CaseIterable.Type else { return nil }
        func all<C: CaseIterable>(_ c: C.Type) -> [Any] { Array(c.allCases) }
        return all(iterable)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let probe: SchemaProbe
        var codingPath: [any CodingKey] { probe.codingPath }
        /// A hand-written decoder that walks the keys present sees every key its `CodingKeys`
        /// lists when they are `CaseIterable`; a dictionary's keys are open, so none.
        var allKeys: [Key] { (SchemaProbe.cases(of: Key.self) ?? []).compactMap { $0 as? Key } }
        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool {
            probe.recorder.askedNil = key.stringValue
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let required = probe.recorder.askedNil != key.stringValue
            probe.recorder.askedNil = nil
            do {
                let (v, s) = try probe.value(type)
                probe.recorder.field(key.stringValue, s, required: required)
                return v
            } catch let f as ProbeFailed {
                probe.recorder.field(key.stringValue, .partial(f.schema), required: required)
                throw f
            }
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            probe.recorder.field(key.stringValue, probe.shape(type), required: false)
            return nil
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw ProbeRefused()
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw ProbeRefused() }
        func superDecoder() throws -> any Decoder { throw ProbeRefused() }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw ProbeRefused() }
    }

    /// An array of one element, so that the element's shape is seen once.
    final class Unkeyed: UnkeyedDecodingContainer {
        let probe: SchemaProbe
        var currentIndex = 0
        init(probe: SchemaProbe) { self.probe = probe }
        var codingPath: [any CodingKey] { probe.codingPath }
        var count: Int? { 1 }
        var isAtEnd: Bool { currentIndex > 0 }
        func decodeNil() throws -> Bool { false }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            currentIndex += 1
            do {
                let (v, s) = try probe.value(type)
                probe.recorder.schema = .array(s)
                return v
            } catch let f as ProbeFailed {
                probe.recorder.schema = .array(f.schema)
                throw f
            }
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> { throw ProbeRefused() }
        func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { throw ProbeRefused() }
        func superDecoder() throws -> any Decoder { throw ProbeRefused() }
    }

    struct Single: SingleValueDecodingContainer {
        let probe: SchemaProbe
        var codingPath: [any CodingKey] { probe.codingPath }
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                let (v, s) = try probe.value(type)
                probe.recorder.schema = s
                return v
            } catch let f as ProbeFailed {
                probe.recorder.schema = f.schema
                throw f
            }
        }
    }
}

/// A nested type refused the probe's made-up values; what was seen of it so far travels up.
private struct ProbeFailed: Error { var schema: BodySchema }
