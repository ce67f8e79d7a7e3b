import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The front door, a community's public page, a resident's home, posted contacts and the
/// one-time message after a form.
@Suite struct HomeTests {
    @Test func contactRulesNameTheFieldAndReason() {
        var v = Validator()
        _ = ContactRules.phone("转 8001", "phone", &v)
        _ = ContactRules.text(String(repeating: "路", count: 101), "address", max: 100, &v)
        _ = ContactRules.text("一行\n两行", "hours", max: 60, &v)
        #expect(v.errors.map(\.field) == ["phone", "address", "hours"])
        #expect(v.errors.map(\.code) == ["invalid_phone", "too_long", "one_line"])
        var ok = Validator()
        #expect(ContactRules.phone("  0571-8888 6666 ", "phone", &ok) == "0571-8888 6666" && ok.errors.isEmpty)
    }

    /// Tile hosts allowed for images: the one named, or the three Leaflet fills `{s}` with.
    @Test func tileOriginsNameEveryHostLeafletAsks() {
        var c = AppConfig()
        #expect(c.tileOrigins.isEmpty)
        c.tileURL = "https://{s}.tiles.example:8443/{z}/{x}/{y}.png"
        #expect(c.tileOrigins == ["https://a.tiles.example:8443", "https://b.tiles.example:8443", "https://c.tiles.example:8443"])
        c.tileURL = "http://10.0.0.5/tiles/{z}/{x}/{y}.png"
        #expect(c.tileOrigins == ["http://10.0.0.5"])
    }

    @Test(arguments: Backend.available)
    func aVisitorFindsTheCommunityAndHowToReachIt(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                func json(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/json"],
                                             body: ByteBuffer(string: body))
                }
                // Staff post the office's contacts and a grid's worker; a bad number is refused by name and writes nothing.
                var res = try await json(.put, "/api/v1/places/\(community)/contact", "community", #"{"address":"社区服务中心","phone":"打我电话","hours":"8:30-17:30"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("phone"))
                res = try await json(.put, "/api/v1/places/\(community)/contact", "community", #"{"address":"金桂苑东门旁","phone":"0571-8888 6666","hours":"周一至周五"}"#)
                #expect(res.status == .ok && res.body.text.contains(#""dial":"057188886666""#))
                let grid = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND parent_id IS NULL ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                res = try await json(.put, "/api/v1/grids/\(grid)/contact", "community", #"{"worker_name":"王小红","phone":"13900001111"}"#)
                #expect(res.status == .ok)
                // A resident may not post anything.
                res = try await json(.put, "/api/v1/grids/\(grid)/contact", "resident", #"{"worker_name":"冒名","phone":"13900002222"}"#)
                #expect(res.status == .forbidden)
                // Anyone, signed in or not, finds the community by a part of its name and reads its page.
                let name = try await f.linli.store.read { db in
                    try await db.raw("SELECT name FROM places WHERE id = \(bind: community)").first()!.decode(column: "name", as: String.self)
                }
                let part = String(name.prefix(2)).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                res = try await client.execute(uri: "/?q=\(part)", method: .get)
                #expect(res.status == .ok && res.body.text.contains("href=\"/c/\(community)\""))
                res = try await client.execute(uri: "/api/v1/public/communities?q=\(part)", method: .get)
                #expect(res.body.text.contains(#""id":\#(community)"#))
                res = try await client.execute(uri: "/c/\(community)", method: .get)
                let page = res.body.text
                #expect(res.status == .ok && page.contains("tel:057188886666") && page.contains("王小红") && page.contains("tel:13900001111"))
                #expect(page.contains("/board/\(community)") && page.contains("/ledger/\(community)"))
                // Nothing from anyone's account or the registry reaches the public page: no resident names, no masked phones.
                #expect(!page.contains("****"))
                // A compound is not a community.
                res = try await client.execute(uri: "/c/\(try await f.residentCompound)", method: .get)
                #expect(res.status == .notFound)
                // Taking the office's contacts down: every field empty.
                res = try await json(.put, "/api/v1/places/\(community)/contact", "community", #"{"address":"","phone":"","hours":""}"#)
                #expect(res.status == .noContent)
                res = try await client.execute(uri: "/api/v1/public/communities/\(community)", method: .get)
                #expect(!res.body.text.contains(#""office""#))
            }
        }
    }

    @Test(arguments: Backend.available)
    func aResidentLandsOnTilesAndStaffOnTheirConsole(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            _ = try await f.linli.loadDeliberationDemo()  // the lift vote open for the demo owner
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                let owner = try await webLogin(client, "owner")
                var res = try await client.execute(uri: "/", method: .get, headers: [.cookie: owner])
                #expect(res.status == .seeOther && res.headers[.location] == "/home")
                res = try await client.execute(uri: "/console", method: .get, headers: [.cookie: owner])
                #expect(res.headers[.location] == "/home")
                res = try await client.execute(uri: "/home", method: .get, headers: [.cookie: owner])
                let home = res.body.text
                // The owner's open lift vote is a tile of its own, first after reporting; no staff links.
                #expect(home.contains("href=\"/requests/new\"") && home.contains("class=\"tile primary\" href=\"/polls/"))
                #expect(!home.contains("href=\"/search\"") && !home.contains("href=\"/users\""))
                // The vote says what it needs in plain words: no statute numbers on an owner's screen; staff keep them.
                let poll = String(home.firstMatch(of: /href="(\/polls\/\d+)"/)!.1)
                res = try await client.execute(uri: poll, method: .get, headers: [.cookie: owner])
                #expect(res.body.text.contains("须四分之三同意") && !res.body.text.contains("第 278 条") && res.body.text.contains("data-chart="))
                // …and so does the matter's own page.
                let matter = String(res.body.text.firstMatch(of: /href="(\/matters\/\d+)"/)!.1)
                res = try await client.execute(uri: matter, method: .get, headers: [.cookie: owner])
                #expect(res.body.text.contains("须四分之三同意") && !res.body.text.contains("第 278 条"))
                let staff = try await webLogin(client, "community")
                res = try await client.execute(uri: "/", method: .get, headers: [.cookie: staff])
                #expect(res.headers[.location] == "/console")
                res = try await client.execute(uri: "/home", method: .get, headers: [.cookie: staff])
                #expect(res.status == .ok, "staff may open a home too (it simply has no household)")
                // Its votes section says there is nothing for them to vote on, rather than nothing at all.
                #expect(res.body.text.contains("目前没有需要您投票的事项"))
                res = try await client.execute(uri: poll, method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("第 278 条"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func aFormThatWorkedSaysSoOnceOnTheNextPage(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID
            let routes = built.routes
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "community")
                var page = try await client.execute(uri: "/places/\(community)", method: .get, headers: [.cookie: cookie])
                #expect(page.body.text.contains("id=\"contact-form\""))
                let csrf = String(page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
                // Refused: the page comes back with the field named, and no message of success.
                var res = try await client.execute(uri: "/places/\(community)/contact", method: .post, headers: form,
                                                   body: ByteBuffer(string: "_csrf=\(csrf)&address=x&phone=abc&hours="))
                #expect(res.status == .unprocessableContent && res.body.text.contains("contact-phone-error") && res.headers[.setCookie] == nil)
                res = try await client.execute(uri: "/places/\(community)/contact", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&address=x&phone=12345&hours="))
                #expect(res.status == .seeOther)
                let flash = try #require(res.headers[values: .setCookie].first { $0.hasPrefix("linli_flash=") })
                let flashCookie = String(flash.split(separator: ";")[0])
                page = try await client.execute(uri: "/places/\(community)", method: .get, headers: [.cookie: cookie + "; " + flashCookie])
                #expect(page.body.text.contains("class=\"flash\"") && page.body.text.contains("已完成"))
                #expect(page.headers[values: .setCookie].contains { $0.hasPrefix("linli_flash=;") }, "shown once: the page takes it down")
                // Every route the messages are keyed by is a form route that exists.
                let posts = Set(routes.filter { $0.method == .post }.map(\.path))
                for path in Array(Flash.afterRoute.keys) + Array(Flash.pageSaysItself) { #expect(posts.contains(path), "\(path)") }
                // A code the server never set shows nothing.
                page = try await client.execute(uri: "/places/\(community)", method: .get, headers: [.cookie: cookie + "; linli_flash=<script>"])
                #expect(!page.body.text.contains("class=\"flash\""))
            }
        }
    }

    /// An error page keeps the person's own context: their menu, their language and their print
    /// size (it is answered outside the middleware that learns who they are).
    @Test(arguments: Backend.available)
    func anErrorPageKeepsThePersonsMenuLanguageAndPrint(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                let session = try await webLogin(client, "community")
                let headers: HTTPFields = [.cookie: session + "; linli_lang=en; linli_print=large"]
                for path in ["/no-such-page", "/households/99999999"] {
                    let res = try await client.execute(uri: path, method: .get, headers: headers)
                    #expect(res.status == .notFound, "\(path)")
                    let page = res.body.text
                    #expect(page.contains("<body class=\"large\""), "\(path): large print")
                    #expect(page.contains("<html lang=\"en\"") || page.contains("lang=\"en\""), "\(path): English")
                    #expect(page.contains("data-user="), "\(path): the signed-in person's menu")
                    #expect(!page.contains("href=\"/login\""), "\(path): no sign-in link for someone signed in")
                }
                // Signed out, the same page offers to sign in.
                let anon = try await client.execute(uri: "/no-such-page", method: .get, headers: [:])
                #expect(anon.status == .notFound && anon.body.text.contains("href=\"/login\""))
            }
        }
    }
}
