import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// Five-society linkage pages and API. Both call the same `LinkageService` use cases. The pages
/// of each part are in the files beside it (VolunteeringRoutes, ProjectRoutes, FundRoutes,
/// VentureRoutes) and the JSON API in LinkageAPI.
struct LinkageRoutes {
    let linkage: LinkageService
    let renderer: Renderer
    /// WeChat Pay's notifications, when the merchant is configured (LINLI_WECHATPAY_*).
    var wechatPay: WeChatPayV3? = nil

    func register(_ r: Routes) {
        registerVolunteering(r)
        registerNeedsAndProjects(r)
        registerFunds(r)
        registerVentures(r)
        registerAPI(r)
    }

    // MARK: Community choice and tabs

    struct Picked { var id: Int64?; var options: [[String: Any]]; var query: String }

    /// The community a list page shows: `?community=` when the actor may see it (else 404), or their first.
    func pick(_ req: Request, _ c: AppContext, _ action: Action = .linkageView) async throws -> Picked {
        let actor = try c.requireActor()
        let options = try await linkage.communityOptions(actor: actor, action)
        let asked = try Input.id(req.uri.queryParameters.get("community").map { String($0) }, field: "community")
        if let asked, !options.contains(where: { $0.id == asked }) { throw LinliError.notFound }
        let id = asked ?? options.first?.id
        return Picked(id: id, options: options.map { ["value": $0.id, "label": $0.name, "selected": $0.id == id] }, query: id.map { "?community=\($0)" } ?? "")
    }

    func tabs(_ current: String, _ p: Picked, _ c: AppContext) -> [[String: Any]] {
        let t = I18n.table(c.lang)
        let actor = c.actor
        var out: [(String, String)] = [("tasks", "/tasks"), ("needs", "/needs"), ("projects", "/projects"), ("gap", "/gap"), ("social_workers", "/social-workers"), ("funds", "/funds"), ("ventures", "/ventures")]
        if actor?.may(.volunteerManage) == true { out.insert(("volunteers", "/volunteers"), at: 1) }
        // The office's side of community enterprises (a services page): their returns reach these funds.
        if actor?.may(.fundManage) == true { out.append(("enterprises", "/enterprises")) }
        if let id = p.id { out.append(("public_ledger", "/ledger/\(id)")) }
        return out.map { key, href in
            ["label": t["tab_" + key] ?? key, "href": href.hasPrefix("/ledger") ? href : href + p.query, "current": key == current]
        }
    }

    func base(_ current: String, _ p: Picked, _ c: AppContext) -> [String: Any] {
        ["tabs": tabs(current, p, c), "communities": p.options, "community_id": p.id ?? 0, "has_community": p.id != nil,
         "picker_action": "/" + (current == "social_workers" ? "social-workers" : current), "many_communities": p.options.count > 1]
    }

    /// Runs a step; refused input or a refused step comes back on the page (422 or 409) beside its form.
    func step(_ c: AppContext, prefix: String, page: @escaping ([String: String]) async throws -> Response, _ action: () async throws -> Response) async throws -> Response {
        do {
            return try await formOrErrors(prefix: prefix, action, page: page)
        } catch let e as LinliError where e.status == .conflict || (e.status == .forbidden && !["forbidden", "csrf"].contains(e.code)) {
            var resp = try await page(["\(prefix)_form": e.message])
            resp.status = e.status
            return resp
        }
    }

    static func options(_ list: [(String, String, String)], _ lang: Lang, selected: Set<String> = []) -> [[String: Any]] {
        list.map { ["value": $0.0, "label": lang == .zh ? $0.1 : $0.2, "selected": selected.contains($0.0)] }
    }
}
