import Foundation
import Hummingbird
#if DEBUG
import Mustache
#endif

/// Server-rendered HTML: a page template rendered inside the layout, with the language table and
/// the signed-in user's navigation. Templates are Mustache files compiled by `TemplateLibrary`;
/// debug builds (the tests) also render every page with swift-mustache and stop on any difference.
struct Renderer: Sendable {
    /// The templates with the language table written in, per language.
    let zhLibrary: TemplateLibrary, enLibrary: TemplateLibrary
    #if DEBUG
    let reference: MustacheLibrary
    #endif

    static func load() async throws -> Renderer {
        guard let dir = Bundle.module.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("templates").path,
              FileManager.default.fileExists(atPath: dir + "/layout.mustache") else {
            throw LinliError(.internalServerError, code: "templates_missing", message: "templates not found in the resource bundle")
        }
        let library = try TemplateLibrary(directory: dir)
        let zh = library.fixing("t", to: I18n.zhTable), en = library.fixing("t", to: I18n.enTable)
        #if DEBUG
        return Renderer(zhLibrary: zh, enLibrary: en, reference: try await MustacheLibrary(directory: dir))
        #else
        return Renderer(zhLibrary: zh, enLibrary: en)
        #endif
    }

    /// The language tables, built once (for `{{#t.…}}` sections, which are not written in).
    static let zhTable = TemplateValue.object(TemplateFields(I18n.zhTable.mapValues { .text($0) }))
    static let enTable = TemplateValue.object(TemplateFields(I18n.enTable.mapValues { .text($0) }))

    /// An Encodable view model as template data (snake_case keys as encoded), with labels added.
    static func data<T: Encodable>(_ value: T, _ lang: Lang) -> TemplateValue {
        let encoded = (try? TemplateEncoding.value(value, lang)) ?? viaJSON(value, lang)
        #if DEBUG
        let reference = viaJSON(value, lang)
        if let at = encoded.firstDifference(from: reference) { fatalError("TemplateEncoding differs from the JSON path for \(T.self) at \(at)") }
        #endif
        return encoded
    }

    static func data<T: FieldListed>(_ value: T, _ lang: Lang) -> TemplateValue {
        let built = value.templateValue(lang)
        #if DEBUG
        if let at = built.firstDifference(from: viaJSON(value, lang)) { fatalError("\(T.self).writeFields differs from the JSON path at \(at)") }
        #endif
        return built
    }

    /// A view model's fields, for a route to add its own beside them.
    static func fields<T: Encodable>(_ value: T, _ lang: Lang) -> [String: Any] { fields(of: data(value, lang)) }
    static func fields<T: FieldListed>(_ value: T, _ lang: Lang) -> [String: Any] { fields(of: data(value, lang)) }

    private static func fields(of value: TemplateValue) -> [String: Any] {
        let fields = TemplateFields(of: value)
        return Dictionary(uniqueKeysWithValues: zip(fields.names, fields.values.map { $0 as Any }))
    }

    /// The general path, for what `TemplateEncoding` does not cover (dates, decimals).
    static func viaJSON<T: Encodable>(_ value: T, _ lang: Lang) -> TemplateValue {
        guard let d = try? JSON.bytes(value), let obj = try? JSONSerialization.jsonObject(with: Data(d)) else { return .object([:]) }
        return TemplateValue(any: I18n.labelled(obj, lang))
    }

    func render(_ template: String, fields data: TemplateFields, context: AppContext) -> [UInt8] {
        var fields = data
        fields["t"] = context.lang == .zh ? Self.zhTable : Self.enTable
        fields["csrf"] = .text(context.csrf ?? "")
        let value = TemplateValue.object(fields)
        let bytes = (context.lang == .zh ? zhLibrary : enLibrary).renderBytes(template, value) ?? Array("<p>template \(template) missing</p>".utf8)
        #if DEBUG
        let html = String(decoding: bytes, as: UTF8.self)
        let expected = reference.render(value.mustacheValue, withTemplate: template) ?? "<p>template \(template) missing</p>"
        if html != expected {
            let same = zip(html, expected).prefix { $0 == $1 }.count
            fatalError("template \(template) renders differently from swift-mustache at character \(same):\n"
                + "ours: \(html.dropFirst(max(0, same - 80)).prefix(240))\nswift-mustache: \(expected.dropFirst(max(0, same - 80)).prefix(240))")
        }
        #endif
        return bytes
    }

    /// The layout's links and the action each needs.
    static let navigation: [(String, Action)] = [
        ("can_search", .residentView), ("can_audit", .auditView), ("can_requests", .requestView), ("can_matters", .matterView),
        ("can_users", .userManage), ("can_figures", .requestFigures), ("can_route", .requestRoute), ("can_linkage", .linkageView),
        ("can_volunteer", .volunteerJoin),
    ]

    func page(_ template: String, _ data: [String: Any], context: AppContext, title: String) -> Response {
        page(template, fields: TemplateFields(data.mapValues { TemplateValue(any: $0) }), context: context, title: title)
    }

    /// The same for a page whose data is template values already (the household page).
    func page(_ template: String, fields data: TemplateFields, context: AppContext, title: String) -> Response {
        let content = String(decoding: render(template, fields: data, context: context), as: UTF8.self)
        var layout: TemplateFields = [
            "title": .text(title), "content": .text(content), "lang_code": .text(context.lang == .zh ? "zh-CN" : "en"),
            "other_lang": .text(context.lang == .zh ? "en" : "zh"), "large_print": .bool(context.largePrint),
        ]
        if let a = context.actor {
            let roles = Array(Set(a.grants.map { I18n.label("role_" + $0.role.rawValue, context.lang) })).sorted().joined(separator: "、")
            var nav: TemplateFields = ["name": .text(a.displayName), "roles": .text(roles)]
            for (name, action) in Self.navigation { nav[name] = .bool(a.may(action)) }
            if let g = a.grants(for: .coverageView).first { nav["coverage_place"] = .number(String(g.placeID)) }
            layout["user"] = .object(nav)
        }
        let html = render("layout", fields: layout, context: context)
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: html)))
    }
}

func redirect(_ to: String) -> Response {
    Response(status: .seeOther, headers: [.location: to])
}
