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

/// An owner's standing proxy (委托): the office records the signed paper, the proxy votes online
/// for the owner's parts, never over the owner's own vote, until the date or a revocation.
@Suite struct ProxyTests {
    @Test func anAppointmentRunsFromTodayForAtMostFiveYears() throws {
        let today = Input.day("2026-12-06")!
        #expect(try ProxyRules.validUntil("2026-12-06", today: today) == today)
        #expect(try ProxyRules.validUntil("2031-12-06", today: today) == Input.day("2031-12-06")!)
        func field(_ raw: String?) -> String? {
            do { _ = try ProxyRules.validUntil(raw, today: today); return nil } catch let e as LinliError { return e.code } catch { return "other" }
        }
        #expect(field(nil) == "required")
        #expect(field("2026-12-05") == "in_past")
        #expect(field("2031-12-07") == "too_far")
        #expect(field("2026-2-3") == "invalid_date")
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func theProxyVotesForTheOwnersPartsUntilRevoked(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let l = f.linli, d = f.linli.deliberation
            _ = try await l.loadDeliberationDemo(suffix: "")
            let staff = try await f.actor("community"), me = try await f.actor("resident"), grid = try await f.actor("grid")
            let mine = me.grants[0].residentID!
            // An open poll, and an owner (not the demo resident) of one of its parts, in the resident's community.
            let (poll, part, owner, ownResident) = try await l.store.read { db in
                let ownerOfMine = try await db.raw("SELECT owner_id FROM residents WHERE id = \(bind: mine)").first()!.decode(column: "owner_id", as: Int64?.self) ?? 0
                let community = try await db.raw("SELECT h.community_id FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id = \(bind: mine)").first()!
                    .decode(column: "community_id", as: Int64.self)
                let r = try await db.raw("""
                    SELECT pp.poll_id, pp.part_id, o.id AS owner FROM poll_parts pp JOIN polls p ON p.id = pp.poll_id JOIN dwellings d ON d.id = pp.part_id
                    JOIN owners o ON o.id = d.owner_id
                    WHERE p.status = 'open' AND o.community_id = \(bind: community) AND o.id <> \(bind: ownerOfMine) AND o.kind = 'person'
                    AND NOT EXISTS (SELECT 1 FROM ballots b WHERE b.poll_id = pp.poll_id AND b.part_id = pp.part_id)
                    AND NOT EXISTS (SELECT 1 FROM dwelling_owners x WHERE x.dwelling_id = d.id)
                    ORDER BY pp.poll_id, pp.part_id
                    """).first()!
                let owner = try r.decode(column: "owner", as: Int64.self)
                let ownRes = try await db.raw("SELECT id FROM residents WHERE owner_id = \(bind: owner)").first()?.decode(column: "id", as: Int64.self)
                return (try r.decode(column: "poll_id", as: Int64.self), try r.decode(column: "part_id", as: Int64.self), owner, ownRes)
            }
            let until = ChinaTime.iso(day: LocalDay.of(l.config.environment.nowSeconds) + 30)
            // Refused, by name, writing nothing: no paper, a date gone by, the owner as their own proxy, someone of another street.
            func refused(_ input: ProxyInput, _ doc: [UInt8]?, as actor: Actor? = nil) async -> String? {
                do { _ = try await d.appointProxy(owner: owner, input, document: doc, actor: actor ?? staff); return nil }
                catch let e as LinliError { return e.field ?? e.code } catch let e as ValidationErrors { return e.first.field } catch { return "other" }
            }
            #expect(await refused(ProxyInput(proxyResidentID: mine, validUntil: until), nil) == "document")
            #expect(await refused(ProxyInput(proxyResidentID: mine, validUntil: "2020-01-01"), TestImages.png) == "valid_until")
            if let ownResident { #expect(await refused(ProxyInput(proxyResidentID: ownResident, validUntil: until), TestImages.png) == "proxy_resident_id") }
            let elsewhere = try await f.ids().outsideResident
            #expect(await refused(ProxyInput(proxyResidentID: elsewhere, validUntil: until), TestImages.png) == "proxy_resident_id")
            #expect(await refused(ProxyInput(proxyResidentID: mine, validUntil: until), TestImages.png, as: grid) == "not_found")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM vote_proxies") == 0)

            // Before: the part is not the resident's to vote for.
            #expect(!(try await d.pollView(poll, actor: me).myParts.contains { $0.partID == part }))
            let first = try await d.appointProxy(owner: owner, ProxyInput(proxyResidentID: mine, validUntil: until), document: TestImages.png, actor: staff)
            #expect(first.active && first.proxyResidentID == mine && first.validUntil == until)
            // A second appointment ends the first.
            let v = try await d.appointProxy(owner: owner, ProxyInput(proxyResidentID: mine, validUntil: until), document: TestImages.png, actor: staff)
            let listed = try await d.proxies(owner: owner, actor: staff).proxies
            #expect(listed.map(\.id) == [v.id, first.id] && listed[0].active && !listed[1].active && listed[1].revokeReason == "新的委托取代")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM notifications WHERE kind = 'proxy_appointed'") >= 1)

            // The proxy sees the part, named for its owner, and votes for it online.
            let view = try await d.pollView(poll, actor: me)
            #expect(view.canVote && view.myParts.first { $0.partID == part }?.proxyFor != nil)
            var b = DeliberationService.BallotInput()
            b.partIDs = [part]; b.choice = "yes"
            let receipt = try await d.castBallots(poll, b, actor: me)
            #expect(receipt.map(\.method) == ["proxy"])
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballots WHERE poll_id = \(poll) AND part_id = \(part) AND proxy_id = \(v.id)") == 1)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'ballot.proxy' AND object_id = \(poll)") == 1)

            // The owner's own online vote is never overwritten by the proxy.
            let staffID = staff.userID
            try await l.store.transaction { db in
                try await db.raw("UPDATE ballots SET method = 'online', cast_by = \(bind: staffID), proxy_id = NULL WHERE poll_id = \(bind: poll) AND part_id = \(bind: part)").run()
            }
            b.choice = "no"
            do { _ = try await d.castBallots(poll, b, actor: me); Issue.record("a proxy overwrote the owner's vote") }
            catch let e as LinliError { #expect(e.code == "owner_voted" || e.code == "already_voted") }

            // Revoked: the part is no longer the proxy's; a revocation needs its reason, once.
            await #expect(throws: LinliError.self) { _ = try await d.revokeProxy(v.id, reason: "", actor: staff) }
            let ended = try await d.revokeProxy(v.id, reason: "业主来电收回委托", actor: staff)
            #expect(!ended.active && ended.revokeReason == "业主来电收回委托")
            await #expect(throws: LinliError.self) { _ = try await d.revokeProxy(v.id, reason: "再次撤销", actor: staff) }
            #expect(!(try await d.pollView(poll, actor: me).myParts.contains { $0.partID == part }))
            do { _ = try await d.castBallots(poll, b, actor: me); Issue.record("a revoked proxy voted") }
            catch let e as LinliError { #expect(["not_your_part", "not_in_electorate"].contains(e.code)) }
        }
    }

    @Test(arguments: Backend.available)
    func theAPIAndThePages(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens(), me = try await f.actor("resident")
            let owner = try await f.linli.store.read { db in
                try await db.raw("""
                    SELECT o.id FROM owners o JOIN households h ON h.community_id = o.community_id JOIN residents r ON r.household_id = h.id
                    WHERE r.id = \(bind: me.grants[0].residentID!) AND o.kind = 'person'
                    AND o.id NOT IN (SELECT owner_id FROM residents WHERE id = \(bind: me.grants[0].residentID!) AND owner_id IS NOT NULL) ORDER BY o.id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
            let until = ChinaTime.iso(day: LocalDay.of(f.linli.config.environment.nowSeconds) + 90)
            try await built.app.test(.router) { client in
                func send(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/json"],
                                             body: body.map { ByteBuffer(string: $0) })
                }
                var res = try await send(.post, "/api/v1/owners/\(owner)/proxies", "community", #"{"proxy_resident_id":\#(me.grants[0].residentID!),"valid_until":"\#(until)"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains(#""document""#))
                res = try await send(.post, "/api/v1/owners/\(owner)/proxies", "community",
                                     #"{"proxy_resident_id":\#(me.grants[0].residentID!),"valid_until":"\#(until)","document_base64":"\#(GridWorkRecordsTests.png64)"}"#)
                #expect(res.status == .created && res.body.text.contains(#""active":true"#))
                let id = try JSONDecoder().decode(ProxyView.self, from: Data(res.body.readableBytesView)).id
                res = try await send(.get, "/api/v1/owners/\(owner)/proxies", "community")
                #expect(res.status == .ok && res.body.text.contains(#""id":\#(id)"#))
                res = try await send(.get, "/proxies/\(id)/document", "community")
                #expect(res.status == .ok && res.headers[.contentType] == "image/jpeg")
                res = try await send(.get, "/proxies/\(id)/document", "resident")
                #expect(res.status == .forbidden)
                // The office's page lists it with its paper and a revocation form; the dwelling page links to it.
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/owners/\(owner)/proxies", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.body.text.contains("id=\"proxy-\(id)\"") && res.body.text.contains("/proxies/\(id)/document"))
                res = try await send(.post, "/api/v1/proxies/\(id)/revoke", "community", #"{"reason":""}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("reason"))
                res = try await send(.post, "/api/v1/proxies/\(id)/revoke", "community", #"{"reason":"业主收回"}"#)
                #expect(res.status == .ok && res.body.text.contains(#""active":false"#))
            }
        }
    }
}
