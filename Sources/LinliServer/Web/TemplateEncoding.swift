import Foundation
import LinliCore
import LinliStore

/// Turns an `Encodable` view model into a `TemplateValue` as its `encode(to:)` runs, with the
/// human labels that templates show beside coded values (see `I18n.labelled`). Before, a view
/// model went to JSON bytes, through JSONSerialization and back, and each value was then found
/// by dynamic casts; the values and rules of truth are the same as that path gave.
enum TemplateEncoding {
    struct Unsupported: Error {}

    static func value<T: Encodable>(_ value: T, _ lang: Lang, texts: Texts) throws -> TemplateValue {
        let root = Node()
        try encode(value, into: root)
        return root.finished(lang, texts)
    }

    /// A value under construction: containers are shared with the encoder's containers, which
    /// write into them after they were handed out. Fields are kept in order, as pairs, and hashed
    /// once, when the value is finished.
    final class Node {
        enum Content {
            case unset
            case scalar(TemplateValue)
            /// A number: printed like text, but never a code to label (the JSON path labels strings only).
            case number(TemplateValue)
            case object([(String, Child)])
            case list([Child])
        }
        /// A scalar is stored in place; only containers get a node of their own.
        enum Child {
            case scalar(TemplateValue)
            case number(TemplateValue)
            case node(Node)
        }
        var content = Content.unset

        init() {}

        var asChild: Child {
            if case .scalar(let v) = content { return .scalar(v) }
            if case .number(let v) = content { return .number(v) }
            return .node(self)
        }

        func finished(_ lang: Lang, _ texts: Texts) -> TemplateValue {
            switch content {
            case .unset: return .object(TemplateFields())
            case .scalar(let v), .number(let v): return Self.finished(v)
            case .list(let items): return .list(items.map { Self.finished($0, lang, texts) })
            case .object(let fields):
                var names = fields.map(\.0)
                var values = fields.map { Self.finished($0.1, lang, texts) }
                for (key, child) in fields {
                    // Coded values get a `_label`, `tags` get `tag_labels` (see `I18n.labelled`); a
                    // label the view model wrote itself is kept.
                    var label: (String, TemplateValue)?
                    switch child {
                    case .scalar(.text(let code)):
                        if let l = texts.codeLabel(key, code, lang) { label = (key + "_label", .text(l)) }
                    case .node(let node) where key == "tags":
                        guard case .list(let items) = node.content else { break }
                        let codes = items.compactMap { item -> String? in
                            if case .scalar(.text(let s)) = item { return s } else { return nil }
                        }
                        if codes.count == items.count { label = ("tag_labels", .list(codes.map { .text(texts.label($0, lang)) })) }
                    default: break
                    }
                    if let (name, value) = label, !names.contains(name) { names.append(name); values.append(value) }
                }
                // Keys are distinct: a container writes each key once (`Keyed.set` keeps the last).
                return .object(TemplateFields(distinct: names, values))
            }
        }

        /// An empty text becomes null: a template must not open a section for it.
        static func finished(_ v: TemplateValue) -> TemplateValue {
            if case .text(let s) = v, s.isEmpty { return .null }
            return v
        }

        static func finished(_ child: Child, _ lang: Lang, _ texts: Texts) -> TemplateValue {
            switch child {
            case .scalar(let v), .number(let v): return finished(v)
            case .node(let node): return node.finished(lang, texts)
            }
        }
    }

    /// Numbers print as JSON wrote them (and booleans as 1 and 0); 0 is false to a section.
    static func number(_ n: Int64) -> TemplateValue { .number(String(n)) }

    static func double(_ d: Double) throws -> TemplateValue {
        guard d.isFinite else { throw Unsupported() }
        if d == d.rounded(), abs(d) < 1e15 { return number(Int64(d)) }
        return .text("\(d)")
    }

    static func encode<T: Encodable>(_ v: T, into node: Node) throws {
        if T.self == String.self { node.content = .scalar(.text(v as! String)); return }
        if T.self == Int64.self { node.content = .number(number(v as! Int64)); return }
        if T.self == Int.self { node.content = .number(number(Int64(v as! Int))); return }
        if T.self == Bool.self { let b = v as! Bool; node.content = .scalar(.flag(b, b ? "1" : "0")); return }
        if T.self == Double.self { node.content = .number(try double(v as! Double)); return }
        switch v {
        case let n as Int32: node.content = .number(number(Int64(n)))
        case is Date, is Data, is URL, is Decimal, is Float, is UInt64: throw Unsupported()
        default: try v.encode(to: Encoder(node))
        }
    }

    final class Encoder: Swift.Encoder {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        init(_ node: Node) { self.node = node }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.content {} else { node.content = .object([]) }
            return KeyedEncodingContainer(Keyed<Key>(node: node))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .list = node.content {} else { node.content = .list([]) }
            return Unkeyed(node: node)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey] { [] }

        func set(_ key: Key, _ child: Node.Child) {
            guard case .object(var fields) = node.content else { return }
            node.content = .unset  // keeps `fields` uniquely referenced while it grows
            let name = key.stringValue
            // Synthesized Codable writes a key once; a hand-written `encode(to:)` may write it again.
            if let i = fields.firstIndex(where: { $0.0 == name }) { fields[i].1 = child } else { fields.append((name, child)) }
            node.content = .object(fields)
        }

        mutating func encodeNil(forKey key: Key) throws { set(key, .scalar(.null)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let child = Node()
            try TemplateEncoding.encode(value, into: child)
            set(key, child.asChild)
        }
        mutating func encode(_ value: String, forKey key: Key) throws { set(key, .scalar(.text(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { set(key, .number(number(value))) }
        mutating func encode(_ value: Int, forKey key: Key) throws { set(key, .number(number(Int64(value)))) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { set(key, .scalar(.flag(value, value ? "1" : "0"))) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            set(key, .node(child))
            return Encoder(child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            set(key, .node(child))
            return Encoder(child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Swift.Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder {
            let child = Node()
            set(key, .node(child))
            return Encoder(child)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var count: Int {
            if case .list(let items) = node.content { return items.count }
            return 0
        }

        func append(_ child: Node.Child) {
            guard case .list(var items) = node.content else { return }
            node.content = .unset
            items.append(child)
            node.content = .list(items)
        }

        mutating func encodeNil() throws { append(.scalar(.null)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let child = Node()
            try TemplateEncoding.encode(value, into: child)
            append(child.asChild)
        }
        mutating func encode(_ value: String) throws { append(.scalar(.text(value))) }
        mutating func encode(_ value: Int64) throws { append(.number(number(value))) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            append(.node(child))
            return Encoder(child).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            append(.node(child))
            return Encoder(child).unkeyedContainer()
        }
        mutating func superEncoder() -> any Swift.Encoder {
            let child = Node()
            append(.node(child))
            return Encoder(child)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { node.content = .scalar(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws { try TemplateEncoding.encode(value, into: node) }
    }
}
