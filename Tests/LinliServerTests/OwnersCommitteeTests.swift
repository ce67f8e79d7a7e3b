import Foundation
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// An owners' committee's account (业委会), scoped to its compound: it works the requests routed
/// to it and runs its compound's matters, and sees no resident's other requests.
@Suite struct OwnersCommitteeTests {
    @Test func theOfficeMayGrantItAndItServesItsOwnCompound() {
        let office = Actor(userID: 1, username: "c", displayName: "c", grants: [RoleGrant(role: .communityStaff, placeID: 4, placePath: "/1/2/3/4/")])
        #expect(AccountService.grantableRoles(by: office).contains(.ownersCommittee))
        let committee = Actor(userID: 2, username: "o", displayName: "o", grants: [RoleGrant(role: .ownersCommittee, placeID: 5, placePath: "/1/2/3/4/5/")])
        #expect(committee.may(.matterManage, on: ObjectScope(path: "/1/2/3/4/5/")))
        #expect(!committee.may(.matterManage, on: ObjectScope(path: "/1/2/3/4/6/")))
        #expect(!committee.may(.householdView) && !committee.may(.residentView) && !committee.may(.voteCast))
    }

    @Test(arguments: Backend.available)
    func itWorksTheRequestsRoutedToItOnly(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let resident = try await f.actor("resident"), staff = try await f.actor("community"), committee = try await f.actor("committee")
            func file(_ text: String) async throws -> Int64 {
                var i = RequestInput()
                i.category = "noise"; i.description = text; i.householdID = f.demo.firstHouseholdWithResidents
                return try await r.submit(i, actor: resident).request.id
            }
            let routed = try await file("楼道里的公共照明坏了，业委会能否统一更换？")
            let other = try await file("隔壁装修噪声很大，每天早上七点开始。")
            var move = RequestsService.ActionInput()
            move.partyKind = "owners_committee"; move.note = "公共部位，请业委会处理"
            let v = try await r.perform(.reassign, id: routed, move, actor: staff)
            #expect(v.partyKind == "owners_committee")
            // In its queue, and worked by it; the compound's other request stays out of its sight.
            #expect(try await r.list(.queue, actor: committee, lang: .zh).map(\.id).contains(routed))
            #expect(!(try await r.list(.area, actor: committee, lang: .zh).map(\.id).contains(other)))
            await #expect(throws: LinliError.self) { _ = try await r.detail(other, actor: committee, lang: .zh) }
            var note = RequestsService.ActionInput(); note.note = "已联系电工，周六更换"
            #expect(try await r.perform(.accept, id: routed, note, actor: committee).status == "accepted")
            #expect(try await r.perform(.resolve, id: routed, note, actor: committee).status == "resolved")
            // A committee serves one compound: granted over a community it is refused by name.
            _ = try await f.linli.accounts.createUser(username: "committee-wide", displayName: "业委会", password: Fixture.password)
            do {
                try await f.linli.accounts.grant(username: "committee-wide", role: .ownersCommittee, placeID: f.demo.firstCommunityID)
                Issue.record("a committee granted over a whole community")
            } catch let e as LinliError { #expect(e.code == "not_compound") }
            // Its accounts hear of the work routed to it, by name, and of nothing else of the compound's.
            let told = try await f.linli.store.read { db in
                try await db.raw("SELECT kind, request_id FROM notifications WHERE user_id = \(bind: committee.userID)").all()
                    .map { "\(try $0.decode(column: "kind", as: String.self)):\(try $0.decode(column: "request_id", as: Int64?.self) ?? 0)" }
            }
            #expect(told.contains("assigned:\(routed)"))
            #expect(!told.contains { $0.hasSuffix(":\(other)") })
        }
    }
}
