import Foundation
import Hummingbird

/// The one error type of Linli. Rendered as `application/problem+json` for the API and as a page
/// (or a message beside the field) for the browser.
public struct LinliError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// A stable machine-readable code, e.g. `invalid_id_number`.
    public var code: String
    /// The input field at fault, if any.
    public var field: String?
    /// Human-readable reason (Simplified Chinese by default).
    public var message: String

    public init(_ status: HTTPResponse.Status, code: String, field: String? = nil, message: String) {
        self.status = status
        self.code = code
        self.field = field
        self.message = message
    }

    public static func invalid(_ field: String, _ code: String, _ message: String) -> LinliError {
        LinliError(.unprocessableContent, code: code, field: field, message: message)
    }
    public static func badRequest(_ field: String?, _ message: String) -> LinliError {
        LinliError(.badRequest, code: "bad_request", field: field, message: message)
    }
    /// Out-of-scope objects answer exactly like missing ones so that nothing leaks.
    public static let notFound = LinliError(.notFound, code: "not_found", message: "未找到")
    public static let forbidden = LinliError(.forbidden, code: "forbidden", message: "没有权限")
    public static let unauthenticated = LinliError(.unauthorized, code: "unauthenticated", message: "请先登录")
    public static func conflict(_ field: String?, _ code: String, _ message: String) -> LinliError {
        LinliError(.conflict, code: code, field: field, message: message)
    }
}

/// Collects several field errors at once so that a form can show every message beside its field.
public struct ValidationErrors: Error, Sendable {
    public var errors: [LinliError]
    public init(_ errors: [LinliError]) { self.errors = errors }
    public var first: LinliError { errors[0] }
}

public struct Validator: Sendable {
    public private(set) var errors: [LinliError] = []
    public init() {}
    public mutating func add(_ e: LinliError) { errors.append(e) }
    /// The message is built only for a check that fails (most carry an interpolated limit).
    public mutating func check(_ ok: Bool, _ field: String, _ code: String, _ message: @autoclosure () -> String) {
        if !ok { errors.append(.invalid(field, code, message())) }
    }
    public func throwIfAny() throws {
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw ValidationErrors(errors) }
    }
}

extension LinliError: CustomStringConvertible {
    public var description: String { "\(field.map { "\($0): " } ?? "")\(message) (\(code))" }
}
extension ValidationErrors: CustomStringConvertible {
    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

extension String {
    /// Without leading and trailing white space: the same set as Foundation's
    /// `.whitespacesAndNewlines` (Unicode's White_Space property and U+200B, checked over every
    /// scalar), which bridged through `CharacterSet` on every submission. Text that starts and
    /// ends with a visible ASCII character is returned as it is.
    package func trimmingWhitespace() -> String {
        guard let first = utf8.first, let last = utf8.last else { return self }
        if first > 0x20, first < 0x7F, last > 0x20, last < 0x7F { return self }
        func blank(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || u.value == 0x200B }
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !blank($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !blank($0) })!
        if start == scalars.startIndex, scalars.index(after: end) == scalars.endIndex { return self }
        return String(scalars[start...end])
    }
}
