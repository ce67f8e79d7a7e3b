import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// What a community office prints: a building's household cards in one run, and a closed vote's
/// result as an A4 notice.
@Suite struct PrintingTests {
    @Test(arguments: Backend.available)
    func aBuildingsCardsPrintInOneRunForThoseWhoMaySeeThem(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                // The building of the demo's first household, and what is under it.
                let (building, community, expected, codes) = try await f.linli.store.read { db in
                    let path = try await db.raw("SELECT path FROM households WHERE id = \(bind: ids.insideHousehold)").first()!.decode(column: "path", as: String.self)
                    let parts = PlacePath.ids(path)
                    let building = parts[5]
                    let bpath = try await db.raw("SELECT path FROM places WHERE id = \(bind: building)").first()!.decode(column: "path", as: String.self)
                    let rows = try await db.raw("SELECT code FROM households WHERE path LIKE \(bind: bpath + "%") ORDER BY path, door").all()
                    return (building, parts[3], rows.count, try rows.map { try $0.decode(column: "code", as: String.self) })
                }
                #expect(expected > 1)
                let staff = try await webLogin(client, "community")
                let place = try await client.execute(uri: "/places/\(building)", method: .get, headers: [.cookie: staff])
                #expect(place.body.text.contains("href=\"/places/\(building)/cards\""), "the building's page links to its cards")
                var page = try await client.execute(uri: "/places/\(building)/cards", method: .get, headers: [.cookie: staff])
                #expect(page.status == .ok)
                #expect(page.body.text.components(separatedBy: "class=\"card card-cut\"").count - 1 == expected, "one card per household")
                #expect(page.body.text.components(separatedBy: "<svg").count - 1 == expected, "each with its QR")
                for code in codes { #expect(page.body.text.contains(RegistryService.shortCode(code)), "each with its typed code") }
                // A community is too big a run; the page says where to print instead.
                page = try await client.execute(uri: "/places/\(community)/cards", method: .get, headers: [.cookie: staff])
                #expect(page.status == .unprocessableContent && page.body.text.contains("楼栋"))
                // The API twin gives the same cards.
                let token = try await f.token("community")
                let api = try await client.execute(uri: "/api/v1/places/\(building)/cards", method: .get, headers: [.authorization: "Bearer \(token)"])
                struct Body: Decodable { struct Card: Decodable { var household_id: Int64; var short_code: String; var code_url: String }; var cards: [Card] }
                let body = try JSONDecoder().decode(Body.self, from: Data(buffer: api.body))
                #expect(body.cards.count == expected && body.cards.map(\.code_url).allSatisfy { $0.contains("/h/") })
                // A grid worker prints only their grid's households; a resident none; another street's staff nothing.
                let gridCount = try await f.linli.store.read { db in
                    let g = try await f.actor("grid").grants.compactMap(\.gridID)
                    let bpath = try await db.raw("SELECT path FROM places WHERE id = \(bind: building)").first()!.decode(column: "path", as: String.self)
                    return try await db.raw("SELECT COUNT(*) AS n FROM households WHERE path LIKE \(bind: bpath + "%") AND (grid_id IN (\(binds: g)) OR micro_grid_id IN (\(binds: g)))")
                        .first()!.decode(column: "n", as: Int.self)
                }
                let grid = try await webLogin(client, "grid")
                page = try await client.execute(uri: "/places/\(building)/cards", method: .get, headers: [.cookie: grid])
                #expect(page.status == .ok && page.body.text.components(separatedBy: "class=\"card card-cut\"").count - 1 == gridCount)
                let resident = try await webLogin(client, "resident")
                page = try await client.execute(uri: "/places/\(building)/cards", method: .get, headers: [.cookie: resident])
                #expect(page.status == .notFound)
                page = try await client.execute(uri: "/places/\(ids.outsideCompound)/cards", method: .get, headers: [.cookie: staff])
                #expect(page.status == .notFound)
            }
        }
    }

    @Test(arguments: Backend.available)
    func aClosedVotePrintsAsANoticeAndAnOpenOneDoesNot(_ backend: Backend) async throws {
        let clock = TestClock("2026-11-23T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                // The demo's open lift vote, closed by the community's staff.
                _ = try await f.linli.loadDeliberationDemo(suffix: "")
                let community = try await f.actor("community")
                let poll = try await f.linli.store.read { db in
                    let street = try await db.raw("SELECT path FROM places WHERE id = \(bind: f.demo.firstStreetID)").first()!.decode(column: "path", as: String.self)
                    return try await db.raw("SELECT id FROM polls WHERE status = 'open' AND path LIKE \(bind: street + "%") ORDER BY id").first()!
                        .decode(column: "id", as: Int64.self)
                }
                let staff = try await webLogin(client, "community")
                var page = try await client.execute(uri: "/polls/\(poll)/print", method: .get, headers: [.cookie: staff])
                #expect(page.status == .conflict && page.body.text.contains("表决结束"), "no notice before the count")
                clock.advance(hours: 24 * 400)
                let closed = try await f.linli.deliberation.closePoll(poll, actor: community)
                let later = try await webLogin(client, "community")  // the morning's session has long expired
                let r = try #require(closed.result)
                page = try await client.execute(uri: "/polls/\(poll)/print", method: .get, headers: [.cookie: later])
                #expect(page.status == .ok)
                let html = page.body.text
                #expect(html.contains("表决结果公告") && html.contains(closed.placeName) && html.contains(closed.question))
                #expect(html.contains("id=\"print-result\">" + (r.passed ? "通过" : "未通过") + "<"))
                #expect(!html.contains("第二百七十八条"), "plain words on the notice, as on the owners' page")
                let poll2 = try await client.execute(uri: "/polls/\(poll)", method: .get, headers: [.cookie: later])
                #expect(poll2.body.text.contains("href=\"/polls/\(poll)/print\""))
            }
        }
    }
}

/// Staff invite to a meeting by ticking boxes, never by typing "building:12".
@Suite struct MeetingInviteFormTests {
    @Test(arguments: Backend.available)
    func aMeetingInvitesTheBuildingsAndOrganisationsTicked(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                _ = try await f.linli.loadDeliberationDemo(suffix: "")
                // The demo's monitoring matter waits at its joint meeting.
                let matter = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM matters WHERE title = '使用维修资金更换小区监控' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                let staff = try await webLogin(client, "community")
                let page = try await client.execute(uri: "/matters/\(matter)", method: .get, headers: [.cookie: staff])
                let html = page.body.text
                #expect(!html.contains("building:编号"), "no internal numbers to type")
                let building = try #require(html.firstMatch(of: /name="invitee" value="(building:\d+)"/)?.1)
                let csrf = String(html.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let res = try await client.execute(uri: "/matters/\(matter)/meetings", method: .post,
                                                   headers: [.cookie: staff, .contentType: "application/x-www-form-urlencoded"],
                                                   body: ByteBuffer(string: "_csrf=\(csrf)&title=%E8%81%94%E5%B8%AD%E4%BC%9A&starts_at=2027-01-05T19:00&location=%E5%BE%AE%E5%AE%B6&agenda=%E6%96%B9%E6%A1%88&invitee=\(building.replacingOccurrences(of: ":", with: "%3A"))"))
                #expect(res.status == .seeOther, "\(res.body.text.prefix(300))")
                let id = Int64(building.split(separator: ":")[1])!
                let invited = try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM meeting_invitees WHERE kind = 'building' AND ref_id = \(bind: id) AND meeting_id = (SELECT MAX(id) FROM meetings)").first()!.decode(column: "n", as: Int.self)
                }
                #expect(invited == 1)
            }
        }
    }
}

/// Invitations for a whole building at once: slips for the grown-ups who have no account yet.
@Suite struct BulkInvitationTests {
    @Test(arguments: Backend.available)
    func aBuildingsGrownUpsWithoutAnAccountGetOneCodeEach(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                let (building, adults, withAccount) = try await f.linli.store.read { db in
                    let path = try await db.raw("SELECT path FROM households WHERE id = \(bind: ids.insideHousehold)").first()!.decode(column: "path", as: String.self)
                    let building = PlacePath.ids(path)[5]
                    let bpath = try await db.raw("SELECT path FROM places WHERE id = \(bind: building)").first()!.decode(column: "path", as: String.self)
                    let people = try await db.raw("""
                        SELECT r.id, r.birth_date FROM residents r JOIN households h ON h.id = r.household_id WHERE h.path LIKE \(bind: bpath + "%")
                        """).all()
                    let adults = try people.filter { RegistryService.age(birth: try $0.decode(column: "birth_date", as: String.self), now: Date()) >= 18 }
                        .map { try $0.decode(column: "id", as: Int64.self) }
                    let linked = try await db.raw("SELECT resident_id FROM role_grants WHERE role = 'resident' AND resident_id IS NOT NULL").all()
                        .map { try $0.decode(column: "resident_id", as: Int64.self) }
                    return (building, adults, Set(linked))
                }
                let expected = adults.filter { !withAccount.contains($0) }.count
                #expect(expected > 0)
                let token = try await f.token("community")
                var res = try await client.execute(uri: "/api/v1/places/\(building)/invitations", method: .post, headers: [.authorization: "Bearer \(token)"])
                #expect(res.status == .created)
                let first = try JSONDecoder().decode([Invite].self, from: Data(buffer: res.body))
                #expect(first.count == expected && first.allSatisfy { !withAccount.contains($0.residentID) })
                // A second run makes new codes: the first ones no longer work.
                res = try await client.execute(uri: "/api/v1/places/\(building)/invitations", method: .post, headers: [.authorization: "Bearer \(token)"])
                let second = try JSONDecoder().decode([Invite].self, from: Data(buffer: res.body))
                #expect(second.count == expected)
                await expectCode("invalid_code") {
                    _ = try await f.linli.accounts.redeemInvite(code: first[0].code, username: "neighbour1", password: "a-long-password-1", address: "127.0.0.9")
                }
                let session = try await f.linli.accounts.redeemInvite(code: second[0].code, username: "neighbour1", password: "a-long-password-1", address: "127.0.0.9")
                #expect(session.actor.grants.contains { $0.role == .resident && $0.residentID == second[0].residentID })
                // The page prints them; a resident may not; another street's building does not exist.
                let staff = try await webLogin(client, "community")
                let page = try await client.execute(uri: "/places/\(building)", method: .get, headers: [.cookie: staff])
                #expect(page.body.text.contains("id=\"invites-button\""))
                let csrf = String(page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                res = try await client.execute(uri: "/places/\(building)/invitations", method: .post,
                                               headers: [.cookie: staff, .contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .ok && res.body.text.components(separatedBy: "invite-slip").count - 1 == expected - 1, "the one who made an account is left out")
                res = try await client.execute(uri: "/api/v1/places/\(building)/invitations", method: .post, headers: [.authorization: "Bearer \(try await f.token("resident"))"])
                #expect(res.status == .forbidden)
                res = try await client.execute(uri: "/api/v1/places/\(ids.outsideCompound)/invitations", method: .post, headers: [.authorization: "Bearer \(token)"])
                #expect(res.status == .notFound)
            }
        }
    }
}
