import Foundation
import Hummingbird
import LinliCore
import LinliStore
#if DEBUG
import Mustache
#endif

/// Server-rendered HTML: a page template rendered inside the layout, with the language table and
/// the signed-in user's navigation. Templates are Mustache files compiled by `TemplateLibrary`;
/// debug builds (the tests) also render every page with swift-mustache and stop on any difference.
package struct Renderer: Sendable {
    /// The app's text catalogue: the built-in tables and those of capabilities in their own targets.
    package let texts: Texts
    /// The templates with the language table written in, per language.
    let zhLibrary: TemplateLibrary, enLibrary: TemplateLibrary
    /// The language tables, built once (for `{{#t.…}}` sections, which are not written in).
    let zhTable: TemplateValue, enTable: TemplateValue
    let layouts = LayoutCache(limit: 4096)
    #if DEBUG
    let reference: MustacheLibrary
    #endif

    /// The templates of this target, with those of capabilities in their own targets
    /// (`templateDirectories`, each its bundle's; a name may be used once) and the app's catalogue.
    package static func load(texts: Texts = I18n.texts, templateDirectories: [String] = []) async throws -> Renderer {
        guard let dir = Bundle.module.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("templates").path,
              FileManager.default.fileExists(atPath: dir + "/layout.mustache") else {
            throw LinliError(.internalServerError, code: "templates_missing", message: "templates not found in the resource bundle")
        }
        let sources = try TemplateLibrary.sources(in: [dir] + templateDirectories)
        let library = try TemplateLibrary(sources: sources)
        let zh = library.fixing("t", to: texts.zhTable), en = library.fixing("t", to: texts.enTable)
        let zhTable = TemplateValue.object(TemplateFields(texts.zhTable.mapValues { .text($0) }))
        let enTable = TemplateValue.object(TemplateFields(texts.enTable.mapValues { .text($0) }))
        #if DEBUG
        var reference = MustacheLibrary()
        for (name, source) in sources { try reference.register(source, named: name) }
        return Renderer(texts: texts, zhLibrary: zh, enLibrary: en, zhTable: zhTable, enTable: enTable, reference: reference)
        #else
        return Renderer(texts: texts, zhLibrary: zh, enLibrary: en, zhTable: zhTable, enTable: enTable)
        #endif
    }

    /// An Encodable view model as template data (snake_case keys as encoded), with labels added
    /// from this renderer's catalogue: the app's, so a code of any capability gets its words.
    package func data<T: Encodable>(_ value: T, _ lang: Lang) -> TemplateValue { Self.data(value, lang, texts: texts) }
    func data<T: FieldListed>(_ value: T, _ lang: Lang) -> TemplateValue { Self.data(value, lang, texts: texts) }
    /// A view model's fields, for a route to add its own beside them.
    package func fields<T: Encodable>(_ value: T, _ lang: Lang) -> [String: Any] { Self.fields(of: data(value, lang)) }
    func fields<T: FieldListed>(_ value: T, _ lang: Lang) -> [String: Any] { Self.fields(of: data(value, lang)) }

    static func data<T: Encodable>(_ value: T, _ lang: Lang, texts: Texts) -> TemplateValue {
        let encoded = (try? TemplateEncoding.value(value, lang, texts: texts)) ?? viaJSON(value, lang, texts: texts)
        #if DEBUG
        let reference = viaJSON(value, lang, texts: texts)
        if let at = encoded.firstDifference(from: reference) { fatalError("TemplateEncoding differs from the JSON path for \(T.self) at \(at)") }
        #endif
        return encoded
    }

    static func data<T: FieldListed>(_ value: T, _ lang: Lang, texts: Texts) -> TemplateValue {
        let built = value.templateValue(lang, texts: texts)
        #if DEBUG
        if let at = built.firstDifference(from: viaJSON(value, lang, texts: texts)) { fatalError("\(T.self).writeFields differs from the JSON path at \(at)") }
        #endif
        return built
    }

    private static func fields(of value: TemplateValue) -> [String: Any] {
        TemplateFields(of: value).dictionary
    }

    /// The general path, for what `TemplateEncoding` does not cover (dates, decimals).
    static func viaJSON<T: Encodable>(_ value: T, _ lang: Lang, texts: Texts) -> TemplateValue {
        guard let d = try? JSON.bytes(value), let obj = try? JSONSerialization.jsonObject(with: Data(d)) else { return .object([:]) }
        return TemplateValue(any: I18n.labelled(obj, lang, texts: texts))
    }

    func render(_ template: String, fields data: TemplateFields, context: AppContext) -> [UInt8] {
        var fields = data
        fields["t"] = context.lang == .zh ? zhTable : enTable
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
        ("can_volunteer", .volunteerJoin), ("can_act_for", .residentActFor), ("can_today", .requestWork), ("can_visits", .visitLog), ("can_announcements", .announcementSend),
        ("can_situation", .situationView), ("can_affairs", .affairApply), ("can_desk", .affairHandle), ("can_work_items", .workItemView),
        ("can_activities", .activityView),
    ]

    package func page(_ template: String, _ data: [String: Any], context: AppContext, title: String) -> Response {
        page(template, fields: TemplateFields(data.mapValues { TemplateValue(any: $0) }), context: context, title: title)
    }

    /// The same for a page whose data is template values already (the household page).
    func page(_ template: String, fields data: TemplateFields, context: AppContext, title: String) -> Response {
        var content = render(template, fields: data, context: context)
        if let code = context.flash, let key = Flash.messages[code], let text = texts.table(context.lang)[key] {
            var note = Array("<p class=\"flash\" role=\"status\" id=\"flash\" tabindex=\"-1\">".utf8)
            TemplateLibrary.appendEscaped(text, to: &note)
            content = note + Array("</p>\n".utf8) + content
        }
        func wholeLayout() -> [UInt8] {
            render("layout", fields: layoutFields(title: title, content: String(decoding: content, as: UTF8.self), context: context), context: context)
        }
        var html: [UInt8]
        if let around = layoutAround(context) {
            html = []
            html.reserveCapacity(around[0].count + around[1].count + around[2].count + content.count + title.utf8.count + 16)
            html += around[0]
            TemplateLibrary.appendEscaped(title, to: &html)
            html += around[1]
            html += content
            html += around[2]
            #if DEBUG
            if html != wholeLayout() { fatalError("the cached layout differs from the layout rendered whole") }
            #endif
        } else {
            html = wholeLayout()
        }
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: html)))
    }

    /// The layout's values: the page's title and content, the language and print size, and the
    /// signed-in user's name, roles and links.
    func layoutFields(title: String, content: String, context: AppContext) -> TemplateFields {
        var layout: TemplateFields = [
            "title": .text(title), "content": .text(content), "lang_code": .text(context.lang == .zh ? "zh-CN" : "en"),
            "other_lang": .text(context.lang == .zh ? "en" : "zh"), "large_print": .bool(context.largePrint),
        ]
        if let a = context.actor {
            let roles = Array(Set(a.grants.map { I18n.label("role_" + $0.role.rawValue, context.lang) })).sorted().joined(separator: "、")
            // Whose records a phone keeps while offline (the visits script keeps one queue per account).
            var nav: TemplateFields = ["name": .text(a.signature), "roles": roles.isEmpty ? .null : .text(roles),
                                       "id": .number(String(a.acting?.userID ?? a.userID))]
            if let acting = a.acting {
                nav["acting"] = .object(["resident": .text(a.displayName), "by": .text(acting.displayName),
                                         "until": .text(LocalDay.hhmm(LocalDay.minute(acting.expiresAt)))])
            }
            for (name, action) in Self.navigation { nav[name] = .bool(a.may(action)) }
            // Announcements are also read by the households they reach (a grid worker finds theirs on /visits).
            if a.grants.contains(where: { $0.role == .resident }) { nav["can_announcements"] = .bool(true) }
            if let g = a.grants(for: .coverageView).first { nav["coverage_place"] = .number(String(g.placeID)) }
            if let g = a.grants(for: .dashboardView).first { nav["dashboard_place"] = .number(String(g.placeID)) }
            // Someone acting only for themselves gets a resident's menu: what they can use, no staff links.
            nav["resident_nav"] = .bool(a.actsOnlyForThemselves)
            nav["home_path"] = .text(HomeRoutes.homePath(a))
            layout["user"] = .object(nav)
        }
        return layout
    }

    /// Marks put where the title and the content go, to cut a rendered layout into the three
    /// pieces around them. Control characters appear in no template and escaping leaves them be.
    static let titleMark = "\u{1}title\u{1}", contentMark = "\u{1}content\u{1}"

    /// The layout before the title, between the title and the content, and after the content, for
    /// this user, language, print size and CSRF token: the same for every page they open, so it
    /// is rendered once (the title is escaped where it goes, as `{{title}}` is; the content is
    /// not, as `{{{content}}}` is not; debug builds compare every page with the layout rendered whole).
    func layoutAround(_ context: AppContext) -> [[UInt8]]? {
        let key = LayoutKey(userID: context.actor?.userID, lang: context.lang, largePrint: context.largePrint, csrf: context.csrf ?? "",
                            acting: context.actor?.acting?.sessionID)
        if let hit = layouts.get(key, valid: { $0.displayName == context.actor?.displayName && $0.grants == context.actor?.grants ?? [] }) {
            return hit.pieces
        }
        let whole = render("layout", fields: layoutFields(title: Self.titleMark, content: Self.contentMark, context: context), context: context)
        guard let pieces = Self.cut(whole, at: [Array(Self.titleMark.utf8), Array(Self.contentMark.utf8)]) else { return nil }
        layouts.put(key, .init(displayName: context.actor?.displayName, grants: context.actor?.grants ?? [], pieces: pieces))
        return pieces
    }

    /// `bytes` cut at each mark in turn, without the marks; nil unless each mark is there exactly
    /// once and in this order.
    static func cut(_ bytes: [UInt8], at marks: [[UInt8]]) -> [[UInt8]]? {
        var pieces: [[UInt8]] = [], start = 0
        for mark in marks {
            guard let at = find(mark, in: bytes, from: start) else { return nil }
            pieces.append(Array(bytes[start..<at]))
            start = at + mark.count
        }
        pieces.append(Array(bytes[start...]))
        for piece in pieces { for mark in marks where find(mark, in: piece, from: 0) != nil { return nil } }
        return pieces
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0], bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// Rendered layouts by user, language, print size and CSRF token; each use checks the entry
/// against the user's present name and grants (a changed grant renders it again).
typealias LayoutCache = BoundedCache<LayoutKey, LayoutEntry>

struct LayoutKey: Hashable, Sendable {
    var userID: Int64?
    var lang: Lang
    var largePrint: Bool
    var csrf: String
    /// The acting session whose banner the layout carries.
    var acting: Int64?
}

struct LayoutEntry: Sendable {
    var displayName: String?
    var grants: [RoleGrant]
    var pieces: [[UInt8]]
}

package func redirect(_ to: String) -> Response {
    Response(status: .seeOther, headers: [.location: to])
}
