import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// The front door and a resident's home: pages made of several capabilities' public or personal
/// pieces, each asked through its own service (this file owns no tables).
struct HomeRoutes {
    let registry: RegistryService
    let requests: RequestsService
    /// The actor's open owners' votes (deliberation's, through `Linli.openVotes`).
    let openVotes: @Sendable (Actor) async throws -> [OpenVote]
    let renderer: Renderer

    /// Where a signed-in person starts: staff on their console, everyone else on their home.
    static func homePath(_ actor: Actor) -> String {
        let roles = Set(actor.grants.map(\.role))
        // The 12345 account (or the street's liaison clerk) works on the tickets of its area.
        if roles == [.hotline] { return "/requests" }
        if actor.actsOnlyForThemselves { return "/home" }
        // A grid worker (and nothing wider) starts the day on their list, not on a console.
        if roles.contains(.gridWorker), roles.isDisjoint(with: [.cityAdmin, .streetStaff, .communityStaff]) { return "/today" }
        // A department's staff work on their items.
        if roles == [.departmentStaff] { return "/work-items" }
        // A social or party organisation's account runs its activities.
        if !roles.isEmpty, roles.isSubset(of: [.socialOrganisation, .partyBranch]) { return "/activities" }
        return "/console"
    }

    func register(_ r: Routes) {
        // The public front door: find one's community, sign in or register. Signed in, one's home.
        r.get("/", .open) { req, c in
            if let a = c.actor { return redirect(Self.homePath(a)) }
            let q = req.uri.queryParameters.get("q")
            let found = try await registry.communities(query: q)
            return renderer.page("front", ["q": q ?? "", "communities": renderer.data(found, c.lang), "searched": q?.isEmpty == false,
                                           "none": found.isEmpty], context: c, title: I18n.table(c.lang)["front_title"]!)
        }
        r.get("/api/v1/public/communities", .open) { req, _ in
            try JSON.response(try await registry.communities(query: req.uri.queryParameters.get("q")))
        }
        // A community's public page: how to reach the office and grid workers, what is being
        // handled, the compounds' notices and the public accounts.
        r.get("/c/:id", .open) { _, c in
            let id = try c.id("id")
            let front = try await registry.communityFront(id)
            // The five newest open requests are all this page shows.
            let board = try await requests.board(placeID: id, lang: c.lang, limit: 5, resolved: false)
            var data = renderer.fields(front, c.lang)
            data["open"] = renderer.data(board.open, c.lang)
            return renderer.page("community", data, context: c, title: front.name)
        }
        r.get("/api/v1/public/communities/:id", .open) { _, c in
            try JSON.response(try await registry.communityFront(try c.id("id")))
        }

        // A resident's home: large tiles for what they came to do.
        r.get("/home", .signedIn) { _, c in
            let actor = try c.requireActor()
            var data: [String: Any] = ["name": actor.displayName]
            if let facts = try await registry.homeFacts(actor: actor) {
                data["household"] = ["id": facts.householdID, "address": facts.address, "community_id": facts.communityID,
                                     "community_name": facts.communityName] as [String: Any]
                if let g = facts.grid { data["grid"] = renderer.data(g, c.lang) }
            }
            if actor.may(.requestView) {
                let mine = try await requests.list(.mine, actor: actor, lang: c.lang, limit: 3)
                data["mine"] = renderer.data(mine, c.lang)
                data["can_report"] = actor.may(.requestSubmit)
                data["mine_none"] = mine.isEmpty
            }
            if actor.may(.voteCast) {
                let votes = try await openVotes(actor)
                data["votes"] = renderer.data(votes, c.lang)
                data["votes_none"] = votes.isEmpty
            } else {
                // Staff see the matters section without a vote of their own: say so, not nothing.
                data["votes_none"] = true
            }
            data["can_matters"] = actor.may(.matterView)
            data["can_volunteer"] = actor.may(.volunteerJoin)
            data["acting_now"] = actor.acting != nil
            return renderer.page("home", data, context: c, title: I18n.table(c.lang)["home"]!)
        }
    }
}

/// An open vote a resident's household holds parts in, for their home page.
public struct OpenVote: Sendable, Codable {
    public var pollID: Int64
    public var matterID: Int64
    public var title: String
    public var closesText: String
    /// Some part of the household has a ballot in (by anyone: the owner online or staff on paper).
    public var voted: Bool

    public init(pollID: Int64, matterID: Int64, title: String, closesText: String, voted: Bool) {
        self.pollID = pollID; self.matterID = matterID; self.title = title; self.closesText = closesText; self.voted = voted
    }

    enum CodingKeys: String, CodingKey { case pollID = "poll_id", matterID = "matter_id", title, closesText = "closes_text", voted }
}
