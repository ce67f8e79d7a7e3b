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

/// A relative who looks after an elder in another household (亲属绑定): asked for with the card
/// and the elder's ID last four, confirmed by the community office, then used to act for the
/// elder as staff do — never to vote for an owner.
@Suite struct RelativesTests {
    /// An elder of another household of the demo resident's community, with no account.
    static func elder(_ f: Fixture) async throws -> (id: Int64, last4: String, name: String, code: String, household: Int64) {
        try await f.linli.store.read { db in
            let home = try await db.raw("SELECT community_id FROM households WHERE id = \(bind: f.demo.firstHouseholdWithResidents)").first()!.decode(column: "community_id", as: Int64.self)
            let r = try await db.raw("""
                SELECT r.id, r.id_last4, r.name, h.code, h.id AS household FROM residents r JOIN households h ON h.id = r.household_id
                WHERE h.community_id = \(bind: home) AND h.id <> \(bind: f.demo.firstHouseholdWithResidents) AND r.id_last4 <> ''
                  AND NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.resident_id = r.id) ORDER BY r.id
                """).first()!
            return (try r.decode(column: "id", as: Int64.self), try r.decode(column: "id_last4", as: String.self),
                    try r.decode(column: "name", as: String.self), try r.decode(column: "code", as: String.self), try r.decode(column: "household", as: Int64.self))
        }
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    /// The elder moves house (to another community where there is one): the link follows her,
    /// so the new office handles it and the relative acts for her at her new home.
    @Test(arguments: Backend.available)
    func aRelativesLinkFollowsTheElderWhoMoves(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let elder = try await Self.elder(f)
            let me = try await f.actor("resident"), street = try await f.actor("street")
            let (target, targetPath) = try await f.linli.store.transaction { db in
                let from = try await db.raw("SELECT community_id, path FROM households WHERE id = \(bind: elder.household)").first()!
                let streetPath = try "/" + from.decode(column: "path", as: String.self).split(separator: "/").prefix(3).joined(separator: "/") + "/"
                let t = try await db.raw("""
                    SELECT id, path FROM households WHERE path LIKE \(bind: streetPath + "%") AND id <> \(bind: elder.household)
                    ORDER BY CASE WHEN community_id <> \(bind: try from.decode(column: "community_id", as: Int64.self)) THEN 0 ELSE 1 END, id
                    """).first()!
                try await db.raw("""
                    INSERT INTO relative_links (user_id, resident_id, household_id, path, masked_name, relation, status, created_at)
                    VALUES (\(bind: me.userID), \(bind: elder.id), \(bind: elder.household), \(bind: try from.decode(column: "path", as: String.self)), '王**', 'child', 'approved', 0)
                    """).run()
                return (try t.decode(column: "id", as: Int64.self), try t.decode(column: "path", as: String.self))
            }
            var move = ResidentInput()
            move.householdID = target
            _ = try await f.linli.registry.updateResident(elder.id, move, actor: street)
            let (household, path) = try await f.linli.store.read { db in
                let r = try await db.raw("SELECT household_id, path FROM relative_links WHERE resident_id = \(bind: elder.id)").first()!
                return (try r.decode(column: "household_id", as: Int64.self), try r.decode(column: "path", as: String.self))
            }
            #expect(household == target && path == targetPath)
            // The relative's acting target is her new home.
            let acting = try await f.linli.registry.relativeActingTarget(elder.id, last4: elder.last4)
            #expect(acting.householdID == target)
        }
    }

    @Test(arguments: Backend.available)
    func aRelativeConfirmedByTheOfficeActsForTheElderButDoesNotVote(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let elder = try await Self.elder(f)
            let wrong = elder.last4 == "0000" ? "1111" : "0000"
            try await built.app.test(.router) { client in
                let me = try await webLogin(client, "resident")
                var res = try await client.execute(uri: "/relatives", method: .get, headers: [.cookie: me])
                #expect(res.status == .ok && res.body.text.contains("id=\"relative-form\""))
                let csrf = String(res.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: me, .contentType: "application/x-www-form-urlencoded"]
                // Wrong digits: refused beside the field, nothing written.
                res = try await client.execute(uri: "/relatives", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&household_code=\(elder.code)&id_last4=\(wrong)&relation=child"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("rel-code-error"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM relative_links") == 0)
                res = try await client.execute(uri: "/relatives", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&household_code=\(elder.code.prefix(8))&id_last4=\(elder.last4)&relation=child"))
                #expect(res.status == .seeOther && res.headers[.location] == "/relatives?sent=1")
                let link = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM relative_links WHERE status = 'pending'").first()!.decode(column: "id", as: Int64.self)
                }
                // Not yet confirmed: nothing may be done for her.
                res = try await client.execute(uri: "/relatives/\(link)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(elder.last4)&reason=%E4%BB%A3%E5%A6%88%E5%A6%88%E5%8F%8D%E6%98%A0"))
                #expect(res.status == .notFound)
                // The community office sees it beside the bindings and confirms it.
                let staff = try await webLogin(client, "community")
                res = try await client.execute(uri: "/binds", method: .get, headers: [.cookie: staff])
                #expect(res.body.text.contains("id=\"relative-\(link)\"") && res.body.text.contains(String(elder.name.prefix(1)) + "**"))
                let staffToken = try await f.token("community")
                res = try await client.execute(uri: "/api/v1/relatives/\(link)/refuse", method: .post,
                                               headers: [.authorization: "Bearer \(staffToken)", .contentType: "application/json"], body: ByteBuffer(string: "{}"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("reason"), "a refusal needs its reason")
                let gridToken = try await f.token("grid")
                res = try await client.execute(uri: "/api/v1/relatives/\(link)/approve", method: .post, headers: [.authorization: "Bearer \(gridToken)"])
                #expect(res.status == .forbidden || res.status == .notFound)
                res = try await client.execute(uri: "/api/v1/relatives/\(link)/approve", method: .post, headers: [.authorization: "Bearer \(staffToken)"])
                #expect(res.status == .noContent)
                // Acting: her digits again and a reason, then the relative's session is hers.
                res = try await client.execute(uri: "/relatives/\(link)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(wrong)&reason=%E4%BB%A3%E5%A6%88%E5%A6%88%E5%8F%8D%E6%98%A0"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("act-last4-error-\(link)"))
                res = try await client.execute(uri: "/relatives/\(link)/acting", method: .post, headers: form,
                                               body: ByteBuffer(string: "_csrf=\(csrf)&id_last4=\(elder.last4)&reason=%E4%BB%A3%E5%A6%88%E5%A6%88%E5%8F%8D%E6%98%A0"))
                #expect(res.status == .seeOther && res.headers[.location] == "/home")
                res = try await client.execute(uri: "/home", method: .get, headers: [.cookie: me])
                #expect(res.body.text.contains("id=\"acting-bar\"") && res.body.text.contains(elder.name))
                // A report made now is hers, filed as 代办.
                var lift = RequestsStoreTests.lift(f)
                lift.householdID = elder.household
                let json: HTTPFields = [.cookie: me, .contentType: "application/json", .init("X-CSRF-Token")!: csrf]
                res = try await client.execute(uri: "/api/v1/requests", method: .post, headers: json,
                                               body: ByteBuffer(string: String(decoding: try JSONEncoder().encode(lift), as: UTF8.self)))
                #expect(res.status == .created, "\(res.body.text)")
                #expect(try await Self.count(f, """
                    SELECT COUNT(*) AS n FROM requests q JOIN role_grants g ON g.user_id = q.reporter_user_id
                    WHERE g.resident_id = \(elder.id) AND q.channel = 'acting'
                    """) >= 1)
                // A relative does not open the household's personal data, nor pass a report off as a phone call.
                res = try await client.execute(uri: "/api/v1/residents/\(elder.id)/unmask", method: .post, headers: json,
                                               body: ByteBuffer(string: #"{"reason":"想看看妈妈的身份证号"}"#))
                #expect(res.status == .forbidden || res.status == .notFound, "\(res.status)")
                var phoned = lift
                phoned.channel = "phone"; phoned.contactName = "程静"; phoned.description = "楼道灯坏了"
                res = try await client.execute(uri: "/api/v1/requests", method: .post, headers: json,
                                               body: ByteBuffer(string: String(decoding: try JSONEncoder().encode(phoned), as: UTF8.self)))
                #expect(res.status == .created, "\(res.body.text)")
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE channel = 'phone'") == 0)
                // Ending: back to the relative's own list; the record is there for both.
                res = try await client.execute(uri: "/acting/end", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .seeOther && res.headers[.location] == "/relatives")
                res = try await client.execute(uri: "/acting", method: .get, headers: [.cookie: me])
                #expect(res.body.text.contains("代妈妈反映"))
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM acting_sessions WHERE method = 'relative'") == 1)
                // Ended by the relative: no more acting.
                let myToken = try await f.token("resident")
                res = try await client.execute(uri: "/api/v1/relatives/\(link)/end", method: .post, headers: [.authorization: "Bearer \(myToken)"])
                #expect(res.status == .noContent)
                res = try await client.execute(uri: "/api/v1/relatives/\(link)/acting", method: .post,
                                               headers: [.authorization: "Bearer \(myToken)", .contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"id_last4":"\#(elder.last4)","reason":"再代一次"}"#))
                #expect(res.status == .notFound)
                #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('relative.ask', 'relative.approve', 'relative.end')") == 3)
                // A relative acting never casts an owner's vote.
                var relative = try await f.actor("resident")
                relative.acting = ActingBy(sessionID: 1, userID: relative.userID, username: "x", displayName: "x", expiresAt: Int64.max, byRelative: true)
                var b = DeliberationService.BallotInput()
                b.partIDs = [1]; b.choice = "yes"
                await expectCode("relative_cannot_vote") { _ = try await f.linli.deliberation.castBallots(1, b, actor: relative) }
            }
        }
    }
}
