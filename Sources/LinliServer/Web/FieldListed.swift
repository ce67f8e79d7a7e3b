import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// A view model that lists its fields once, for the two outputs of a page shown very often: its
/// JSON and its template value. Swift's `Encodable` machinery was a tenth of the household page's
/// time (JSON or HTML). Debug builds check both outputs against the `Encodable` ones (see
/// `JSON.bytes` and `Renderer.data`), so a field added to the struct and not here fails the tests.
protocol FieldListed: Encodable {
    func writeFields<W: FieldWriter>(to w: inout W)
}

/// Receives a view model's fields in declaration order. A nil value is left out, as synthesized
/// `Encodable` leaves it out.
protocol FieldWriter {
    mutating func add<K: CodingKey>(_ key: K, _ text: String?)
    /// A stored enum code (`I18n.labelPrefixes` names its key): templates get a `<key>_label` beside it.
    mutating func add<K: CodingKey>(_ key: K, code: String?)
    mutating func add<K: CodingKey>(_ key: K, _ number: Int64?)
    mutating func add<K: CodingKey>(_ key: K, _ flag: Bool)
    mutating func add<K: CodingKey>(_ key: K, decimal: Double?)
    mutating func add<K: CodingKey>(_ key: K, texts: [String])
    mutating func add<K: CodingKey>(_ key: K, numbers: [Int64])
    mutating func add<K: CodingKey>(_ key: K, textsByName: [String: String])
    /// Codes with human labels (a resident's tags).
    mutating func add<K: CodingKey>(_ key: K, tags: [String])
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ object: V?)
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ list: [V])
}

extension FieldWriter {
    mutating func add<K: CodingKey>(_ key: K, _ number: Int?) { add(key, number.map(Int64.init)) }
}

extension FieldListed {
    func templateValue(_ lang: Lang, texts: Texts) -> TemplateValue {
        var w = TemplateFieldWriter(lang, texts)
        writeFields(to: &w)
        return w.value
    }

    func jsonBytes() -> [UInt8] {
        var w = JSONFieldWriter()
        w.object(self)
        return w.bytes
    }
}

/// Builds a template value by `TemplateEncoding`'s rules: an empty text is null, a `_label`
/// beside coded values, `tag_labels` beside tags.
struct TemplateFieldWriter: FieldWriter {
    let lang: Lang
    /// Where its labels come from (the page's catalogue).
    let texts: Texts
    private var names: [String] = []
    private var values: [TemplateValue] = []

    init(_ lang: Lang, _ texts: Texts) {
        self.lang = lang
        self.texts = texts
        names.reserveCapacity(16)
        values.reserveCapacity(16)
    }

    var value: TemplateValue { .object(TemplateFields(distinct: names, values)) }

    private mutating func append(_ name: String, _ value: TemplateValue) { names.append(name); values.append(value) }

    mutating func add<K: CodingKey>(_ key: K, _ text: String?) {
        // Only codes are looked up for labels (a hash per text field showed on the household page).
        assert(I18n.labelPrefixes[key.stringValue] == nil, "\(key.stringValue) holds a code: add it with `code:`")
        guard let text else { return }
        append(key.stringValue, text.isEmpty ? .null : .text(text))
    }
    mutating func add<K: CodingKey>(_ key: K, code: String?) {
        guard let code else { return }
        append(key.stringValue, code.isEmpty ? .null : .text(code))
        if let label = texts.codeLabel(key.stringValue, code, lang) { append(key.stringValue + "_label", .text(label)) }
    }
    mutating func add<K: CodingKey>(_ key: K, _ number: Int64?) {
        if let number { append(key.stringValue, TemplateEncoding.number(number)) }
    }
    mutating func add<K: CodingKey>(_ key: K, _ flag: Bool) { append(key.stringValue, .flag(flag, flag ? "1" : "0")) }
    mutating func add<K: CodingKey>(_ key: K, decimal: Double?) {
        if let decimal { append(key.stringValue, (try? TemplateEncoding.double(decimal)) ?? .null) }
    }
    mutating func add<K: CodingKey>(_ key: K, texts: [String]) { append(key.stringValue, .list(texts.map { $0.isEmpty ? .null : .text($0) })) }
    mutating func add<K: CodingKey>(_ key: K, numbers: [Int64]) { append(key.stringValue, .list(numbers.map { TemplateEncoding.number($0) })) }
    mutating func add<K: CodingKey>(_ key: K, textsByName: [String: String]) {
        append(key.stringValue, .object(TemplateFields(textsByName.mapValues { $0.isEmpty ? .null : .text($0) })))
    }
    mutating func add<K: CodingKey>(_ key: K, tags: [String]) {
        append(key.stringValue, .list(tags.map { $0.isEmpty ? .null : .text($0) }))
        append("tag_labels", .list(tags.map { .text(texts.label($0, lang)) }))
    }
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ object: V?) {
        if let object { append(key.stringValue, object.templateValue(lang, texts: texts)) }
    }
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ list: [V]) {
        append(key.stringValue, .list(list.map { $0.templateValue(lang, texts: texts) }))
    }
}

/// Writes JSON as `StreamingJSON` does (same escaping and numbers, keys in declaration order).
struct JSONFieldWriter: FieldWriter {
    typealias Sink = StreamingJSON.Sink
    private(set) var bytes: [UInt8] = []
    private var first = true

    init() { bytes.reserveCapacity(1024) }

    mutating func object<V: FieldListed>(_ value: V) {
        bytes.append(UInt8(ascii: "{"))
        let outer = first
        first = true
        value.writeFields(to: &self)
        first = outer
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func array<V: FieldListed>(_ list: [V]) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in list.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            object(item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func key<K: CodingKey>(_ key: K) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Sink.string(key.stringValue, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func add<K: CodingKey>(_ key: K, _ text: String?) {
        guard let text else { return }
        self.key(key); Sink.string(text, to: &bytes)
    }
    mutating func add<K: CodingKey>(_ key: K, code: String?) { add(key, code) }
    mutating func add<K: CodingKey>(_ key: K, _ number: Int64?) {
        guard let number else { return }
        self.key(key); Sink.integer(number, to: &bytes)
    }
    mutating func add<K: CodingKey>(_ key: K, _ flag: Bool) { self.key(key); Sink.bool(flag, to: &bytes) }
    mutating func add<K: CodingKey>(_ key: K, decimal: Double?) {
        guard let decimal else { return }
        self.key(key)
        if (try? Sink.double(decimal, to: &bytes)) == nil { bytes.append(contentsOf: Sink.nullBytes) }
    }
    mutating func add<K: CodingKey>(_ key: K, texts: [String]) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (i, text) in texts.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Sink.string(text, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }
    mutating func add<K: CodingKey>(_ key: K, numbers: [Int64]) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (i, n) in numbers.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Sink.integer(n, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }
    mutating func add<K: CodingKey>(_ key: K, textsByName: [String: String]) {
        self.key(key)
        bytes.append(UInt8(ascii: "{"))
        for (i, (name, text)) in textsByName.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Sink.string(name, to: &bytes); bytes.append(UInt8(ascii: ":")); Sink.string(text, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }
    mutating func add<K: CodingKey>(_ key: K, tags: [String]) { add(key, texts: tags) }
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ object: V?) {
        guard let object else { return }
        self.key(key); self.object(object)
    }
    mutating func add<K: CodingKey, V: FieldListed>(_ key: K, _ list: [V]) {
        self.key(key)
        array(list)
    }
}

extension JSON {
    /// The JSON of a field-listed view model (or a list of them), checked against `Encodable`'s in debug builds.
    static func bytes<T: FieldListed>(_ value: T) throws -> [UInt8] {
        let fast = value.jsonBytes()
        #if DEBUG
        try checkSame(fast, try StreamingJSON.encode(value), T.self)
        #endif
        return fast
    }

    static func bytes<T: FieldListed>(_ list: [T]) throws -> [UInt8] {
        var w = JSONFieldWriter()
        w.array(list)
        #if DEBUG
        try checkSame(w.bytes, try StreamingJSON.encode(list), [T].self)
        #endif
        return w.bytes
    }

    static func response<T: FieldListed>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        response(bytes: try bytes(value), status: status)
    }

    static func response<T: FieldListed>(_ list: [T], status: HTTPResponse.Status = .ok) throws -> Response {
        response(bytes: try bytes(list), status: status)
    }

    #if DEBUG
    static func checkSame(_ fast: [UInt8], _ encoded: [UInt8], _ type: Any.Type) throws {
        let a = try JSONSerialization.jsonObject(with: Data(fast)) as? NSObject
        let b = try JSONSerialization.jsonObject(with: Data(encoded)) as? NSObject
        if a != b { fatalError("\(type).writeFields differs from its Encodable JSON:\n\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: encoded, as: UTF8.self))") }
    }
    #endif
}
