import Foundation
import LinliCore
import LinliStore

/// What a page's data becomes before it is rendered: plain values that a template reads without
/// a dynamic cast. A section opens for true, for a number other than 0, for any text and any
/// object (which it enters), once per element of a list; not for false, 0, an empty list or a
/// missing or null value. (swift-mustache took JSON's 1 for `true` and did not enter it, so
/// `{{#matter_id}}/matters/{{.}}{{/matter_id}}` printed the surrounding object for matter 1.)
package enum TemplateValue: Sendable, Equatable {
    case text(String)
    /// A truth value and how it prints ("true", or "1" for one that came from JSON).
    case flag(Bool, String)
    case list([TemplateValue])
    case object(TemplateFields)
    case null

    /// A Swift boolean, printed as Swift prints it.
    static func bool(_ b: Bool) -> TemplateValue { .flag(b, b ? "true" : "false") }

    /// A number as text, except that 0 is false to a section.
    static func number(_ text: String) -> TemplateValue { text == "0" ? .flag(false, "0") : .text(text) }

    /// A value built by hand in a route (`[String: Any]`, arrays, strings, numbers, booleans), or
    /// what JSONSerialization made of a view model.
    init(any: Any) {
        switch any {
        case let v as TemplateValue: self = v
        case let s as String: self = .text(s)
        case let d as [String: Any]: self = .object(TemplateFields(d.mapValues { TemplateValue(any: $0) }))
        case let a as [Any]: self = .list(a.map { TemplateValue(any: $0) })
        case is NSNull: self = .null
        default:
            // Exact types first: Swift's own integers cast to NSNumber, and NSNumber's 0 and 1 to Bool.
            let type = type(of: any)
            if type == Bool.self, let b = any as? Bool { self = .bool(b) }
            else if type == Int.self || type == Int64.self || type == Int32.self { self = .number(String(describing: any)) }
            else if let n = any as? NSNumber {
                // JSONSerialization's booleans are NSNumbers of C type char.
                self = String(cString: n.objCType) == "c" ? .flag(n.boolValue, n.description) : .number(n.description)
            } else { self = .text(String(describing: any)) }
        }
    }

    /// Where two values first differ ("rows.3.status: …"), or nil when they are equal.
    func firstDifference(from other: TemplateValue, at path: String = "") -> String? {
        switch (self, other) {
        case (.object(let a), .object(let b)):
            for key in Set(a.names).union(b.names).sorted() {
                guard let x = a[key], let y = b[key] else { return "\(path)\(key): only in \(a[key] == nil ? "the second" : "the first")" }
                if let d = x.firstDifference(from: y, at: path + key + ".") { return d }
            }
            return nil
        case (.list(let a), .list(let b)) where a.count == b.count:
            for (i, (x, y)) in zip(a, b).enumerated() {
                if let d = x.firstDifference(from: y, at: path + "\(i).") { return d }
            }
            return nil
        default:
            return self == other ? nil : "\(path): \(self) ≠ \(other)"
        }
    }

    /// The value swift-mustache was given for the same data before (used to check this engine).
    var mustacheValue: Any {
        switch self {
        case .text(let s): s
        case .flag(let b, let text): text == "true" || text == "false" ? b as Any : NSNumber(value: b ? 1 : 0)
        case .list(let items): items.map(\.mustacheValue)
        case .object(let fields): Dictionary(uniqueKeysWithValues: zip(fields.names, fields.values.map(\.mustacheValue)))
        case .null: NSNull()
        }
    }
}

/// An object's fields, in the order they were written. A page's objects mostly have a dozen
/// fields or fewer, found faster by comparing short names in turn than by hashing them; a large
/// object (the language table) also keeps an index.
package struct TemplateFields: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private(set) var names: [String] = []
    private(set) var values: [TemplateValue] = []
    private var index: [String: Int]?
    private static let indexAbove = 24

    init() {}

    init(_ fields: [String: TemplateValue]) {
        names.reserveCapacity(fields.count)
        values.reserveCapacity(fields.count)
        for (name, value) in fields { names.append(name); values.append(value) }
        if names.count > Self.indexAbove { buildIndex() }
    }

    package init(dictionaryLiteral elements: (String, TemplateValue)...) {
        for (name, value) in elements { self[name] = value }
    }

    /// Fields known to have distinct names (an encoded view model's).
    init(distinct names: [String], _ values: [TemplateValue]) {
        self.names = names
        self.values = values
        if names.count > Self.indexAbove { buildIndex() }
    }

    var count: Int { names.count }

    /// The fields as a route's `[String: Any]`, for a page that adds its own beside them.
    var dictionary: [String: Any] { Dictionary(uniqueKeysWithValues: zip(names, values.map { $0 as Any })) }

    private mutating func buildIndex() {
        index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { _, last in last })
    }

    private func position(_ name: String) -> Int? {
        if let index { return index[name] }
        return names.firstIndex(of: name)
    }

    subscript(name: String) -> TemplateValue? {
        get { position(name).map { values[$0] } }
        set {
            if let i = position(name) {
                if let newValue { values[i] = newValue } else {
                    names.remove(at: i); values.remove(at: i)
                    if index != nil { buildIndex() }
                }
            } else if let newValue {
                names.append(name); values.append(newValue)
                if index != nil { index![name] = names.count - 1 } else if names.count > Self.indexAbove { buildIndex() }
            }
        }
    }

    /// The fields of an object value (none for anything else).
    init(of value: TemplateValue) {
        if case .object(let fields) = value { self = fields } else { self.init() }
    }

    package static func == (a: TemplateFields, b: TemplateFields) -> Bool {
        a.count == b.count && zip(a.names, a.values).allSatisfy { b[$0] == $1 }
    }
}

/// A Mustache template compiled once at start: names split, sections nested, standalone lines
/// already removed. It covers what Linli's templates use (variables, `{{{ }}}` and `{{& }}`,
/// sections, inverted sections, partials, comments); anything else is an error at start.
struct Template: Sendable {
    indirect enum Node: Sendable {
        /// Text as UTF-8, copied into the page as it is.
        case text([UInt8])
        case variable(Path, escaped: Bool)
        case section(Path, [Node], inverted: Bool)
        case partial(String, indentation: String)
    }

    /// A dotted name; no names means "." (the current value); `strict` (a leading dot) skips the
    /// search up the context stack.
    struct Path: Sendable {
        let names: [String]
        let strict: Bool

        init(_ name: String) {
            strict = name.count > 1 && name.first == "."
            names = name == "." ? [] : name.split(separator: ".").map(String.init)
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let template: String
        let offset: Int
        let reason: String
        var description: String { "template \(template), byte \(offset): \(reason)" }
    }

    let nodes: [Node]

    init(nodes: [Node]) { self.nodes = nodes }

    init(_ source: String, name: String) throws {
        var parser = Parser(bytes: Array(source.utf8), name: name)
        nodes = try parser.parse()
    }
}

/// All templates of a directory, by file name without `.mustache`.
struct TemplateLibrary: Sendable {
    let templates: [String: Template]

    /// Every template of these directories by name; a name in two of them is an error (one
    /// capability's page would silently replace another's).
    static func sources(in directories: [String]) throws -> [String: String] {
        var sources: [String: String] = [:]
        for directory in directories {
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".mustache") {
                let name = String(file.dropLast(".mustache".count))
                guard sources[name] == nil else {
                    throw LinliError(.internalServerError, code: "template_twice", message: "template \(name) is defined twice (\(directory))")
                }
                sources[name] = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            }
        }
        return sources
    }

    init(sources: [String: String]) throws {
        var templates: [String: Template] = [:]
        for (name, source) in sources { templates[name] = try Template(source, name: name) }
        self.templates = templates
    }

    /// The same templates with `{{name.key}}` written in as text wherever `table` has the key:
    /// the language table is the same for every page in one language, and looking its entries up
    /// through the context on every render was a third of the lookups of a page.
    func fixing(_ name: String, to table: [String: String]) -> TemplateLibrary {
        func fix(_ nodes: [Template.Node]) -> [Template.Node] {
            var out: [Template.Node] = []
            for node in nodes {
                var fixed = node
                switch node {
                case .variable(let path, let escaped) where !path.strict && path.names.count == 2 && path.names[0] == name:
                    if let text = table[path.names[1]] {
                        var bytes: [UInt8] = []
                        if escaped { Self.appendEscaped(text, to: &bytes) } else { Self.append(text, to: &bytes) }
                        fixed = .text(bytes)
                    }
                case .section(let path, let body, let inverted):
                    fixed = .section(path, fix(body), inverted: inverted)
                default: break
                }
                // Neighbouring texts become one.
                if case .text(let b) = fixed, case .text(let a)? = out.last { out[out.count - 1] = .text(a + b) } else { out.append(fixed) }
            }
            return out
        }
        return TemplateLibrary(templates: templates.mapValues { Template(nodes: fix($0.nodes)) })
    }

    private init(templates: [String: Template]) { self.templates = templates }

    /// The template rendered with `value` as its context, or nil for an unknown template.
    func render(_ name: String, _ value: TemplateValue) -> String? {
        renderBytes(name, value).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The same as UTF-8 bytes, which is what a response sends: appending bytes skips the
    /// bookkeeping `String` does on every append.
    func renderBytes(_ name: String, _ value: TemplateValue) -> [UInt8]? {
        guard let template = templates[name] else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        var stack = [value]
        render(template.nodes, &stack, &out)
        return out
    }

    private func render(_ nodes: [Template.Node], _ stack: inout [TemplateValue], _ out: inout [UInt8]) {
        for node in nodes { render(node, &stack, &out) }
    }

    private func render(_ node: Template.Node, _ stack: inout [TemplateValue], _ out: inout [UInt8]) {
        switch node {
        case .text(let text):
            out.append(contentsOf: text)
        case .variable(let path, let escaped):
            switch Self.lookup(path, stack) {
            case .text(let s)?: escaped ? Self.appendEscaped(s, to: &out) : Self.append(s, to: &out)
            case .flag(_, let s)?: Self.append(s, to: &out)
            default: break
            }
        case .section(let path, let body, inverted: false):
            switch Self.lookup(path, stack) {
            case .list(let items)?:
                for item in items {
                    stack.append(item)
                    render(body, &stack, &out)
                    stack.removeLast()
                }
            case .flag(let on, _)?:
                if on { render(body, &stack, &out) }
            case .null?, nil:
                break
            case let value?:
                stack.append(value)
                render(body, &stack, &out)
                stack.removeLast()
            }
        case .section(let path, let body, inverted: true):
            switch Self.lookup(path, stack) {
            case .list(let items)?: if items.isEmpty { render(body, &stack, &out) }
            case .flag(let on, _)?: if !on { render(body, &stack, &out) }
            case .null?, nil: render(body, &stack, &out)
            default: break
            }
        case .partial(let name, let indentation):
            guard let partial = templates[name] else { return }
            guard !indentation.isEmpty else { return render(partial.nodes, &stack, &out) }
            // Lines the partial starts are indented like the tag (swift-mustache's reading of the spec).
            var text: [UInt8] = []
            for node in partial.nodes {
                var piece: [UInt8] = []
                render(node, &stack, &piece)
                if !piece.isEmpty, text.last == UInt8(ascii: "\n") { Self.append(indentation, to: &text) }
                text += piece
            }
            out += text
        }
    }

    /// The value a path names: its first name is searched from the innermost context outwards,
    /// the rest are fields of what was found. A null stops the search (it is "not there").
    static func lookup(_ path: Template.Path, _ stack: [TemplateValue]) -> TemplateValue? {
        guard let first = path.names.first else { return stack.last }
        var found: TemplateValue?
        if path.strict {
            if case .object(let fields)? = stack.last { found = fields[first] }
        } else {
            var i = stack.count - 1
            while i >= 0 {
                if case .object(let fields) = stack[i], let v = fields[first] { found = v; break }
                i -= 1
            }
        }
        for name in path.names.dropFirst() {
            guard case .object(let fields)? = found else { return nil }
            found = fields[name]
        }
        if case .null? = found { return nil }
        return found
    }

    /// A text's UTF-8 bytes.
    static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    /// HTML-escapes `&`, `<`, `>`, `"` and `'`; text without them (the usual case) is copied whole.
    static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { text in
            var start = 0
            for (i, b) in text.enumerated() {
                let entity: StaticString
                switch b {
                case UInt8(ascii: "&"): entity = "&amp;"
                case UInt8(ascii: "<"): entity = "&lt;"
                case UInt8(ascii: ">"): entity = "&gt;"
                case UInt8(ascii: "\""): entity = "&quot;"
                case UInt8(ascii: "'"): entity = "&#39;"
                default: continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<i]))
                out.append(contentsOf: UnsafeBufferPointer(start: entity.utf8Start, count: entity.utf8CodeUnitCount))
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[start...]))
        }
    }
}

extension Template {
    /// Reads `{{…}}` tags from UTF-8 bytes. A section, inverted section, closing, partial or
    /// comment tag alone on its line (only spaces or tabs around it) takes the whole line with it.
    struct Parser {
        let bytes: [UInt8]
        let name: String
        var position = 0

        private static let open = Array("{{".utf8), close = Array("}}".utf8), tripleClose = Array("}}}".utf8)

        mutating func parse() throws -> [Node] {
            // Open sections, innermost last: the name that must close it and the nodes so far.
            var sections: [(name: String, path: Path, inverted: Bool, nodes: [Node])] = []
            var nodes: [Node] = []
            var textStart = 0
            func add(_ node: Node) {
                if sections.isEmpty { nodes.append(node) } else { sections[sections.count - 1].nodes.append(node) }
            }
            func addText(_ from: Int, _ to: Int) {
                if to > from { add(.text(Array(bytes[from..<to]))) }
            }
            while let tagStart = find(Self.open, from: position) {
                var cursor = tagStart + 2
                let sigil: UInt8? = cursor < bytes.count && "#^/>!&{=".utf8.contains(bytes[cursor]) ? bytes[cursor] : nil
                if sigil != nil { cursor += 1 }
                let closing = sigil == UInt8(ascii: "{") ? Self.tripleClose : Self.close
                guard let contentEnd = find(closing, from: cursor) else { throw error(tagStart, "tag not closed") }
                let content = String(decoding: bytes[cursor..<contentEnd], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                let tagEnd = contentEnd + closing.count
                position = tagEnd
                if sigil == UInt8(ascii: "=") { throw error(tagStart, "changing delimiters is not supported") }
                if sigil != UInt8(ascii: "!"), content.isEmpty { throw error(tagStart, "empty tag") }

                let mayStandAlone = sigil.map { "#^/>!".utf8.contains($0) } ?? false
                var indentation = ""
                if mayStandAlone, let (lineStart, lineEnd) = standaloneLine(tagStart, tagEnd) {
                    addText(textStart, lineStart)
                    indentation = String(decoding: bytes[lineStart..<tagStart], as: UTF8.self)
                    textStart = lineEnd
                    position = lineEnd
                } else {
                    addText(textStart, tagStart)
                    textStart = tagEnd
                }

                switch sigil {
                case UInt8(ascii: "#"), UInt8(ascii: "^"):
                    sections.append((content, Path(content), sigil == UInt8(ascii: "^"), []))
                case UInt8(ascii: "/"):
                    guard let section = sections.popLast() else { throw error(tagStart, "{{/\(content)}} closes nothing") }
                    guard section.name == content else { throw error(tagStart, "{{/\(content)}} closes {{#\(section.name)}}") }
                    add(.section(section.path, section.nodes, inverted: section.inverted))
                case UInt8(ascii: ">"):
                    // The indentation is also text before the tag, so the partial's first line has it.
                    if !indentation.isEmpty { add(.text(Array(indentation.utf8))) }
                    add(.partial(content, indentation: indentation))
                case UInt8(ascii: "!"):
                    break
                case UInt8(ascii: "&"), UInt8(ascii: "{"):
                    add(.variable(Path(content), escaped: false))
                default:
                    add(.variable(Path(content), escaped: true))
                }
            }
            addText(textStart, bytes.count)
            if let open = sections.last { throw error(bytes.count, "{{#\(open.name)}} is not closed") }
            return nodes
        }

        /// Where the line holding a tag starts and where the next one starts, when the tag has
        /// nothing but spaces and tabs beside it on that line.
        func standaloneLine(_ tagStart: Int, _ tagEnd: Int) -> (Int, Int)? {
            var start = tagStart
            while start > 0, bytes[start - 1] == 0x20 || bytes[start - 1] == 0x09 { start -= 1 }
            guard start == 0 || bytes[start - 1] == 0x0A else { return nil }
            var end = tagEnd
            while end < bytes.count, bytes[end] == 0x20 || bytes[end] == 0x09 { end += 1 }
            if end == bytes.count { return (start, end) }
            if bytes[end] == 0x0A { return (start, end + 1) }
            if bytes[end] == 0x0D, end + 1 < bytes.count, bytes[end + 1] == 0x0A { return (start, end + 2) }
            return nil
        }

        func find(_ needle: [UInt8], from: Int) -> Int? {
            var i = from
            while i + needle.count <= bytes.count {
                if bytes[i] == needle[0], bytes[i + 1] == needle[1], needle.count < 3 || bytes[i + 2] == needle[2] { return i }
                i += 1
            }
            return nil
        }

        func error(_ offset: Int, _ reason: String) -> SyntaxError { SyntaxError(template: name, offset: offset, reason: reason) }
    }
}
