import Foundation
import Hummingbird
import Mustache

/// Server-rendered HTML: a page template rendered inside the layout, with the language table and
/// the signed-in user's navigation.
struct Renderer: Sendable {
    let library: MustacheLibrary

    static func load() async throws -> Renderer {
        guard let dir = Bundle.module.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("templates").path,
              FileManager.default.fileExists(atPath: dir + "/layout.mustache") else {
            throw LinliError(.internalServerError, code: "templates_missing", message: "templates not found in the resource bundle")
        }
        return Renderer(library: try await MustacheLibrary(directory: dir))
    }

    /// Turns an Encodable view model into plain dictionaries (snake_case keys) with labels added.
    static func data<T: Encodable>(_ value: T, _ lang: Lang) -> Any {
        guard let d = try? JSON.bytes(value), let obj = try? JSONSerialization.jsonObject(with: Data(d)) else { return [:] }
        return I18n.labelled(obj, lang)
    }

    func render(_ template: String, _ data: [String: Any], context: AppContext) -> String {
        var data = data
        data["t"] = I18n.table(context.lang)
        data["csrf"] = context.csrf ?? ""
        return library.render(data, withTemplate: template) ?? "<p>template \(template) missing</p>"
    }

    func page(_ template: String, _ data: [String: Any], context: AppContext, title: String) -> Response {
        let content = render(template, data, context: context)
        var layout: [String: Any] = [
            "title": title, "content": content, "lang_code": context.lang == .zh ? "zh-CN" : "en",
            "other_lang": context.lang == .zh ? "en" : "zh", "large_print": context.largePrint,
        ]
        if let a = context.actor {
            var nav: [String: Any] = ["name": a.displayName, "roles": Array(Set(a.grants.map { I18n.label("role_" + $0.role.rawValue, context.lang) })).sorted().joined(separator: "、")]
            nav["can_search"] = a.may(.residentView)
            nav["can_audit"] = a.may(.auditView)
            nav["can_requests"] = a.may(.requestView)
            nav["can_matters"] = a.may(.matterView)
            nav["can_users"] = a.may(.userManage)
            nav["can_figures"] = a.may(.requestFigures)
            nav["can_route"] = a.may(.requestRoute)
            nav["can_linkage"] = a.may(.linkageView)
            nav["can_volunteer"] = a.may(.volunteerJoin)
            if let g = a.grants(for: .coverageView).first { nav["coverage_place"] = g.placeID }
            layout["user"] = nav
        }
        let html = render("layout", layout, context: context)
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

func redirect(_ to: String) -> Response {
    Response(status: .seeOther, headers: [.location: to])
}
