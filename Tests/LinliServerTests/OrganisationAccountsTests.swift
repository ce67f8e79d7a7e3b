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

/// Accounts of a social organisation (社会组织) and of a party branch (党支部): granted by the
/// community office for an organisation it has, held at that organisation's own place; they run
/// their own activities and read nothing of the registry.
@Suite struct OrganisationAccountsTests {
    @Test func theOfficeMayGrantThemAndTheyReadNoRegistry() {
        let office = Actor(userID: 1, username: "c", displayName: "c", grants: [RoleGrant(role: .communityStaff, placeID: 4, placePath: "/1/2/3/4/")])
        #expect(AccountService.grantableRoles(by: office).contains(.socialOrganisation))
        #expect(AccountService.grantableRoles(by: office).contains(.partyBranch))
        for role in [Role.socialOrganisation, .partyBranch] {
            let org = Actor(userID: 2, username: "o", displayName: "o", grants: [RoleGrant(role: role, placeID: 4, placePath: "/1/2/3/4/", organisationID: 9)])
            #expect(org.may(.activityRun) && org.may(.activityView))
            #expect(!org.may(.householdView) && !org.may(.residentView) && !org.may(.affairApply) && !org.may(.requestView) && !org.may(.voteCast))
        }
        // A sign-up shows the organisation the building, never the door.
        #expect(ActivityRules.withoutDoor("金桂苑1幢1单元101", door: "101") == "金桂苑1幢1单元 ***")
        #expect(ActivityRules.withoutDoor("张家村第三村民小组12号", door: "12号") == "张家村第三村民小组 ***")
        #expect(ActivityRules.withoutDoor("金桂苑1幢1单元101", door: "102") == "***")
        #expect(ActivityRules.withoutDoor("101", door: "101") == "***")
        // Who runs an activity: staff over its place, or the organisation that posted it.
        let org = Actor(userID: 2, username: "o", displayName: "o", grants: [RoleGrant(role: .socialOrganisation, placeID: 4, placePath: "/1/2/3/4/", organisationID: 9)])
        #expect(AffairsService.runs(org, path: "/1/2/3/4/", organisation: 9) == (true, true))
        #expect(AffairsService.runs(org, path: "/1/2/3/4/", organisation: 8) == (false, false))
        #expect(AffairsService.runs(org, path: "/1/2/3/4/", organisation: nil) == (false, false))
        #expect(AffairsService.runs(org, path: "/1/2/3/5/", organisation: 9) == (false, false))
        #expect(AffairsService.runs(office, path: "/1/2/3/4/5/", organisation: 9) == (true, false))
    }

    /// An organisation that posted activities stays on the register: the services (a capability
    /// above the registry) tell it so through the registry's hook; one with nothing is removed.
    @Test(arguments: Backend.available)
    func anOrganisationWithActivitiesStaysOnTheRegister(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let staff = try await f.actor("community"), reg = f.linli.registry
            func add(_ name: String) async throws -> Int64 {
                try await reg.addOrganisation(placeID: f.demo.firstCommunityID, kind: "social_organisation", name: name, serviceType: "activity",
                                              registration: "filed", actor: staff)
            }
            let club = try await add("读书会"), spare = try await add("合唱团")
            let tomorrow = ChinaTime.iso(day: LocalDay.of(f.linli.config.environment.nowSeconds) + 1)
            var i = ActivityInput()
            i.placeID = f.demo.firstCommunityID; i.title = "读书分享"; i.venue = "社区图书角"; i.capacity = 10; i.organisationID = club
            i.startsAt = tomorrow + "T09:30"; i.endsAt = tomorrow + "T11:00"
            let posted = try await f.linli.affairs.createActivity(i, actor: staff)
            // Staff post as the community; the club's own account would also hold a grant (which
            // keeps it on the register by itself), so the row is the club's by hand here.
            try await f.linli.store.transaction { db in
                try await db.raw("UPDATE activities SET organisation_id = \(bind: club) WHERE id = \(bind: posted.id)").run()
            }
            do { _ = try await reg.removeOrganisation(club, actor: staff); Issue.record("removed under its activity") }
            catch let e as LinliError { #expect(e.code == "in_use" && e.message.contains("活动"), "\(e)") }
            _ = try await reg.removeOrganisation(spare, actor: staff)
        }
    }

    @Test(arguments: Backend.available)
    func aSocialOrganisationRunsItsOwnActivityAndSeesNoDoor(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.affairs
            let org = try await f.actor("socialorg"), staff = try await f.actor("community"), resident = try await f.actor("resident")
            let orgID = try #require(org.grants.first?.organisationID)
            #expect(org.grants.first?.placeID == f.demo.firstCommunityID)
            let tomorrow = ChinaTime.iso(day: LocalDay.of(f.linli.config.environment.nowSeconds) + 1)
            var i = ActivityInput()
            i.title = "亲子阅读"; i.venue = "社区图书角"; i.capacity = 20; i.organiser = "别的名字"
            i.startsAt = tomorrow + "T09:30"; i.endsAt = tomorrow + "T11:00"
            // Without a place it is held at the organisation's own; the organiser is the organisation.
            let mine = try await a.createActivity(i, actor: org)
            #expect(mine.placeID == f.demo.firstCommunityID && mine.organisationID == orgID && mine.organiser != "别的名字")
            // Another community's place, or another organisation's name: refused by field, nothing written.
            let before = try await a.activities(actor: staff).count
            var elsewhere = i
            elsewhere.placeID = f.demo.byStreet[1].firstCommunityID
            do { _ = try await a.createActivity(elsewhere, actor: org); Issue.record("posted outside its place") } catch let e as LinliError { #expect(e.field == "place_id") }
            var other = i
            other.organisationID = orgID + 1000
            do { _ = try await a.createActivity(other, actor: org); Issue.record("posted as another organisation") } catch let e as LinliError { #expect(e.field == "organisation_id") }
            #expect(try await a.activities(actor: staff).count == before)
            // The resident signs up; the organisation sees the building, staff see the door.
            let joined = try await a.signUp(mine.id, SignUpInput(), actor: resident)
            let seen = try await a.activity(mine.id, actor: org).signUps
            #expect(seen.count == 1 && seen[0].address.hasSuffix(" ***") && seen[0].by.contains("*"))
            let full = try await a.activity(mine.id, actor: staff).signUps
            #expect(full[0].address == joined.address && !full[0].address.hasSuffix("***"))
            // At the door: the household's code marks it come; any other code answers alike.
            let (code, otherCode) = try await f.linli.store.read { db in
                (try await db.raw("SELECT code FROM households WHERE id = \(bind: joined.householdID)").first()!.decode(column: "code", as: String.self),
                 try await db.raw("SELECT code FROM households WHERE id <> \(bind: joined.householdID) AND community_id = \(bind: f.demo.firstCommunityID) ORDER BY id")
                    .first()!.decode(column: "code", as: String.self))
            }
            let came = try await a.attend(mine.id, code: code, actor: org)
            #expect(came.attended && came.address.hasSuffix(" ***"))
            var answers: Set<String> = []
            for c in [otherCode, "NOSUCHCODE"] {
                do { _ = try await a.attend(mine.id, code: c, actor: org); Issue.record("a code not signed up counted") } catch let e as LinliError { answers.insert("\(e.field ?? "") \(e.code) \(e.message)") }
            }
            #expect(answers.count == 1, "a household not signed up and no household answer the same: \(answers)")
            // An activity the community posted is not the organisation's to run.
            var ours = i
            ours.placeID = f.demo.firstCommunityID
            let community = try await a.createActivity(ours, actor: staff)
            #expect(community.organisationID == nil && community.organiser == "别的名字")
            _ = try await a.signUp(community.id, SignUpInput(), actor: resident)
            #expect(try await a.activity(community.id, actor: staff).signUps.count == 1)
            #expect(try await a.activity(community.id, actor: org).signUps.isEmpty, "the community's sign-ups are not the organisation's to read")
            await #expect(throws: LinliError.self) { _ = try await a.attend(community.id, code: code, actor: org) }
            await #expect(throws: LinliError.self) { _ = try await a.cancelActivity(community.id, actor: org) }
            // Its own it may call off; staff over the place may too.
            #expect(try await a.cancelActivity(mine.id, actor: org).status == "cancelled")
        }
    }

    @Test(arguments: Backend.available)
    func theOfficeGrantsThemForItsOwnOrganisationsByPicker(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let (social, branch, compound, otherStreetOrg) = try await f.linli.store.read { db in
                let s = try await db.raw("SELECT id FROM organisations WHERE kind = 'social_organisation' AND place_id = \(bind: f.demo.firstCommunityID) ORDER BY id").first()!
                let b = try await db.raw("""
                    SELECT o.id, o.place_id FROM organisations o JOIN role_grants g ON g.organisation_id = o.id JOIN users u ON u.id = g.user_id WHERE u.username = 'branch'
                    """).first()!
                let o = try await db.raw("SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.kind = 'social_organisation' AND p.path LIKE \(bind: "%/\(f.demo.byStreet[1].firstStreetID)/%") ORDER BY o.id").first()
                return (try s.decode(column: "id", as: Int64.self), try b.decode(column: "id", as: Int64.self), try b.decode(column: "place_id", as: Int64.self),
                        try o?.decode(column: "id", as: Int64.self))
            }
            try await built.app.test(.router) { client in
                func post(_ uri: String, _ body: String, as user: String = "admin") async throws -> TestResponse {
                    try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(t[user]!)", .contentType: "application/json"], body: ByteBuffer(string: body))
                }
                var res = try await post("/api/v1/users", #"{"username":"sunshine","display_name":"阳光社工","password":"Sunshine-2026-pass"}"#, as: "community")
                let user = try #require(res.body.text.firstMatch(of: /"id":(\d+)/).map { String($0.1) })
                // The wrong kind of organisation for the role: named, nothing granted.
                res = try await post("/api/v1/users/\(user)/grants", #"{"role":"party_branch","organisation_id":\#(social)}"#, as: "community")
                #expect(res.status == .unprocessableContent && res.body.text.contains("organisation_id") && res.body.text.contains("wrong_kind"))
                res = try await post("/api/v1/users/\(user)/grants", #"{"role":"social_organisation"}"#, as: "community")
                #expect(res.status == .unprocessableContent && res.body.text.contains("organisation_id"))
                // The office cannot grant for another street's organisation.
                let elsewhere = try #require(otherStreetOrg, "the demo's second street has a social organisation")
                res = try await post("/api/v1/users/\(user)/grants", #"{"role":"social_organisation","organisation_id":\#(elsewhere)}"#, as: "community")
                #expect(res.status == .unprocessableContent && res.body.text.contains("outside_scope"))
                #expect(try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM role_grants WHERE user_id = \(bind: Int64(user)!)").first()!.decode(column: "n", as: Int.self)
                } == 0)
                // Granted, it is held at the organisation's own place whatever place was sent.
                res = try await post("/api/v1/users/\(user)/grants", #"{"role":"social_organisation","organisation_id":\#(social),"place_id":\#(f.demo.cityID)}"#, as: "community")
                #expect(res.status == .created)
                res = try await post("/api/v1/users/\(user)/grants", #"{"role":"party_branch","organisation_id":\#(branch)}"#, as: "community")
                #expect(res.status == .created)
                let held = try await f.linli.store.read { db in
                    try await db.raw("SELECT role, place_id, organisation_id FROM role_grants WHERE user_id = \(bind: Int64(user)!) ORDER BY role").all()
                        .map { "\(try $0.decode(column: "role", as: String.self))@\(try $0.decode(column: "place_id", as: Int64.self))#\(try $0.decode(column: "organisation_id", as: Int64.self))" }
                }
                #expect(held == ["party_branch@\(compound)#\(branch)", "social_organisation@\(f.demo.firstCommunityID)#\(social)"])
                // The grant form's pickers find organisations and grids by name.
                let name = try await f.linli.store.read { db in
                    try await db.raw("SELECT name FROM organisations WHERE id = \(bind: social)").first()!.decode(column: "name", as: String.self)
                }
                res = try await client.execute(uri: "/api/v1/pick/organisations?q=\(String(name.prefix(2)).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)",
                                               method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && res.body.text.contains(#""id":\#(social)"#))
                let (gridID, gridName) = try await f.linli.store.read { db in
                    let g = try await db.raw("SELECT id, name FROM grids WHERE community_id = \(bind: f.demo.firstCommunityID) ORDER BY id").first()!
                    return (try g.decode(column: "id", as: Int64.self), try g.decode(column: "name", as: String.self))
                }
                res = try await client.execute(uri: "/api/v1/pick/grids?q=\(gridName.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", method: .get,
                                               headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && res.body.text.contains(#""id":\#(gridID)"#))
                // A second social organisation of the same community needs its own account: refused
                // by name, and the first grant stands.
                let second = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM organisations WHERE kind = 'social_organisation' AND place_id = \(bind: f.demo.firstCommunityID) AND id <> \(bind: social) ORDER BY id")
                        .first()?.decode(column: "id", as: Int64.self)
                }
                if let second {
                    res = try await post("/api/v1/users/\(user)/grants", #"{"role":"social_organisation","organisation_id":\#(second)}"#, as: "community")
                    #expect(res.status == .unprocessableContent && res.body.text.contains("one_per_place"))
                    #expect(try await f.linli.store.read { db in
                        try await db.raw("SELECT organisation_id FROM role_grants WHERE user_id = \(bind: Int64(user)!) AND role = 'social_organisation'").all()
                            .map { try $0.decode(column: "organisation_id", as: Int64.self) }
                    } == [social])
                }
                // The console: the user page offers the pickers, and the account's own page lists activities.
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/users/\(user)", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains(#"data-pick="organisations""#) && res.body.text.contains(#"data-pick="grids""#))
                let orgCookie = try await webLogin(client, "socialorg")
                res = try await client.execute(uri: "/activities", method: .get, headers: [.cookie: orgCookie])
                #expect(res.status == .ok && res.body.text.contains("id=\"activity-new-form\"") && res.body.text.contains("id=\"act-as\""))
                #expect(!res.body.text.contains("id=\"act-organiser\""))
                res = try await client.execute(uri: "/households/\(f.demo.firstHouseholdWithResidents)", method: .get, headers: [.cookie: orgCookie])
                #expect(res.status == .forbidden || res.status == .notFound)
            }
        }
    }
}

/// `linli user grant NAME social_organisation --organisation ID` asks the registry where the
/// organisation sits and whether the role fits its kind, as the console does.
@Suite struct OrganisationGrantFromTheCommandLineTests {
    @Test func theOrganisationsOwnPlaceAndKindDecide() async throws {
        try await withFixture(.sqlite) { f in
            let org = try await f.actor("socialorg")
            let orgID = try #require(org.grants.first?.organisationID)
            let place = try await f.linli.registry.grantPlace(for: .socialOrganisation, organisationID: orgID, within: ["/"])
            #expect(place == org.grants.first?.placeID)
            #expect(try await f.linli.registry.grantPlace(for: .communityStaff, organisationID: orgID, within: ["/"]) == nil, "not an organisation's role")
            do { _ = try await f.linli.registry.grantPlace(for: .partyBranch, organisationID: orgID, within: ["/"]); Issue.record("wrong kind") } catch let e as LinliError {
                #expect(e.field == "organisation_id" && e.code == "wrong_kind")
            }
            do { _ = try await f.linli.registry.grantPlace(for: .socialOrganisation, organisationID: nil, within: ["/"]); Issue.record("none") } catch let e as LinliError {
                #expect(e.code == "required")
            }
            _ = try await f.linli.accounts.createUser(username: "org2", displayName: "社工站二号", password: Fixture.password)
            try await f.linli.accounts.grant(username: "org2", role: .socialOrganisation, placeID: place, organisationID: orgID)
            let second = try await f.actor("org2")
            #expect(second.grants.map(\.organisationID) == [orgID] && second.grants.map(\.placeID) == [place!])
        }
    }
}
