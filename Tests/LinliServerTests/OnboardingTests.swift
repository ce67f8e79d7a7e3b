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
import ZIPFoundation

/// The rules of parts and owners, and of art. 278, on worked examples.
@Suite struct OnboardingModelTests {
    @Test func sharesAreReadAsPercentWithTwoDecimals() {
        #expect(DwellingRules.shareBP("50") == 5000)
        #expect(DwellingRules.shareBP("33.33") == 3333)
        #expect(DwellingRules.shareBP("12.5%") == 1250)
        #expect(DwellingRules.shareBP("100") == 10000)
        for bad in ["0", "100.01", "-5", "1.234", "abc", "", "１０"] { #expect(DwellingRules.shareBP(bad) == nil, "\(bad)") }
        #expect(DwellingRules.shareText(3333) == "33.33%" && DwellingRules.shareText(5000) == "50%" && DwellingRules.shareText(1205) == "12.05%")
    }

    @Test func coOwnersMustAddUpToExactlyOneHundredPercent() async throws {
        func input(_ owners: [OwnerInput]) -> DwellingInput { DwellingInput(partNo: "1幢1单元101", areaM2: "89.5", owners: owners) }
        await expectCode("shares_over_100") { _ = try DwellingRules.validate(input([OwnerInput(name: "张三", share: "60"), OwnerInput(name: "李四", share: "50")])) }
        await expectCode("shares_under_100") { _ = try DwellingRules.validate(input([OwnerInput(name: "张三", share: "30"), OwnerInput(name: "李四", share: "30")])) }
        let ok = try DwellingRules.validate(input([OwnerInput(name: "张三", share: "50"), OwnerInput(residentID: 7, share: "50")]))
        #expect(ok.owners == [ValidatedOwner(who: .named("张三", .person), shareBP: 5000), ValidatedOwner(who: .resident(7), shareBP: 5000)])
        // A sole owner needs no share; the developer keeps an unsold part alone.
        #expect(try DwellingRules.validate(input([OwnerInput(name: "某某置业", kind: "developer")])).owners?.first?.shareBP == 10000)
        await expectCode("developer_not_alone") {
            _ = try DwellingRules.validate(input([OwnerInput(name: "某某置业", kind: "developer", share: "50"), OwnerInput(name: "王五", share: "50")]))
        }
        await expectCode("duplicate_owner") { _ = try DwellingRules.validate(input([OwnerInput(ownerID: 3, share: "50"), OwnerInput(ownerID: 3, share: "50")])) }
        // A part number is required; the owners may be left as they are.
        #expect(throws: LinliError.self) { try DwellingRules.validate(DwellingInput(partNo: " ", areaM2: "80")) }
        #expect(try DwellingRules.validate(DwellingInput(partNo: "A-1", areaM2: "80")).owners == nil)
    }

    @Test func art278ItemsSetTheMajority() throws {
        // Using the maintenance funds is item 5: more than half. Raising them, rebuilding, and
        // changing common parts (6–8): three quarters.
        #expect(try LawItem.classify(item: 5, itemClass: nil) == (.useFunds, .ordinary))
        #expect(try LawItem.classify(item: 7, itemClass: nil) == (.rebuild, .major))
        #expect(try LawItem.classify(item: 8, itemClass: "major") == (.commonParts, .major))
        #expect(try LawItem.classify(item: nil, itemClass: "major") == (nil, .major))
        #expect(try LawItem.classify(item: nil, itemClass: nil) == (nil, .ordinary))
        #expect(throws: LinliError.self) { try LawItem.classify(item: 5, itemClass: "major") }
        #expect(throws: LinliError.self) { try LawItem.classify(item: 10, itemClass: nil) }
        #expect(LawItem.allCases.filter { $0.itemClass == .major }.map(\.rawValue) == [6, 7, 8])
    }

    @Test func documentNumbersAreCheckedByTheirKind() {
        #expect(DocumentKind.idCard.validate("11010519491231002x") == nil)
        #expect(DocumentKind.idCard.validate("") == .required)
        #expect(DocumentKind.none.validate("") == nil && DocumentKind.none.validate("123") == .notAllowed)
        // A Hong Kong resident's residence permit: 810000 + birth date + GB 11643 check digit.
        let hk17 = "81000019800101002"
        let hk = hk17 + String(IDNumber.checkCharacter(for: hk17)!)
        #expect(DocumentKind.hmtResidence.validate(hk) == nil)
        #expect(DocumentKind.hmtResidence.validate("11010519491231002X") == .region, "a mainland card is not a residence permit")
        #expect(DocumentKind.hkMacauPermit.validate("h12345678") == nil && DocumentKind.hkMacauPermit.validate("M1234567890") == nil)
        #expect(DocumentKind.hkMacauPermit.validate("X12345678") == .format && DocumentKind.hkMacauPermit.validate("H1234567") == .format)
        #expect(DocumentKind.taiwanPermit.validate("12345678") == nil && DocumentKind.taiwanPermit.validate("1234567") == .format)
        #expect(DocumentKind.passport.validate("E 1234 5678") == nil && DocumentKind.passport.validate("E12-345") == .format)
        #expect(DocumentKind.foreignPermanent.validate("USA123456789012") == nil)
        let f17 = "93384019900101001"
        #expect(DocumentKind.foreignPermanent.validate(f17 + String(IDNumber.checkCharacter(for: f17)!)) == nil)
        #expect(DocumentKind.foreignPermanent.validate(f17 + (IDNumber.checkCharacter(for: f17)! == "1" ? "2" : "1")) == .checkDigit)
        #expect(DocumentKind.masked(kind: .passport, last4: "5678") == "****5678" && DocumentKind.masked(kind: .none, last4: "") == "")
    }

    @Test func aResidentWithoutAnIDCardGivesGenderAndBirthDate() async throws {
        var child = ResidentInput(householdID: 1, name: "张小宝", idNumber: "", registration: "registered", relation: "family", idKind: "none")
        await expectCode("invalid_choice") { _ = try child.validate(creating: true, today: "2026-12-05") }
        child.gender = "male"; child.birthDate = "2026-12-06"
        await expectCode("invalid_date") { _ = try child.validate(creating: true, today: "2026-12-05") }
        child.birthDate = "2024-02-30"
        await expectCode("invalid_date") { _ = try child.validate(creating: true, today: "2026-12-05") }
        child.birthDate = "2024-02-29"
        let v = try child.validate(creating: true, today: "2026-12-05")
        #expect(v.idKind == DocumentKind.none && v.idNumber == "" && v.gender == "male" && v.birthDate == "2024-02-29")
        // With an ID card they come from the number, whatever the form says.
        let adult = try ResidentInput(householdID: 1, name: "张三", idNumber: "11010519491231002X", registration: "registered", relation: "head",
                                      gender: "male", birthDate: "2000-01-01").validate(creating: true, today: "2026-12-05")
        #expect(adult.idKind == .idCard && adult.gender == "female" && adult.birthDate == "1949-12-31")
        await expectCode("invalid_choice") {
            _ = try ResidentInput(householdID: 1, name: "x", idNumber: "1", registration: "registered", relation: "head", idKind: "driving_licence").validate(creating: true)
        }
    }

    @Test func textFromExcelOnChineseWindowsIsReadAsGBK() {
        // "张三,金桂苑" in GBK.
        let gbk = Data([0xD5, 0xC5, 0xC8, 0xFD, 0x2C, 0xBD, 0xF0, 0xB9, 0xF0, 0xD4, 0xB7])
        #expect(TextDecoding.spreadsheetText(gbk).map { $0.0 } == "张三,金桂苑")
        #expect(TextDecoding.spreadsheetText(gbk)?.1 == .gb18030)
        #expect(TextDecoding.spreadsheetText(Data("张三".utf8))?.1 == .utf8)
        #expect(TextDecoding.spreadsheetText(Data([0xD5, 0xFF])) == nil, "neither encoding")
        #expect(Workbook.column("A1") == 0 && Workbook.column("Z9") == 25 && Workbook.column("AB12") == 27 && Workbook.column("12") == nil)
    }

    @Test func ruralPlacesSitWhereTheyBelong() {
        #expect(PlaceKind.naturalVillage.canBeChild(of: .village) && PlaceKind.villagerGroup.canBeChild(of: .community))
        #expect(!PlaceKind.naturalVillage.canBeChild(of: .street) && !PlaceKind.building.canBeChild(of: .village))
        #expect(PlaceKind.naturalVillage.holdsHouseholds)
    }

    @Test func managersGrantRolesAtOrBelowTheirOwn() {
        func actor(_ role: Role) -> Actor { Actor(userID: 1, username: "x", displayName: "x", grants: [RoleGrant(role: role, placeID: 1, placePath: "/1/")]) }
        // The city administrator makes residents' and volunteers' accounts (their own vote, gift
        // and volunteering give no power over anyone).
        let city = AccountService.grantableRoles(by: actor(.cityAdmin))
        #expect(city.contains(.resident) && city.contains(.volunteer) && city.contains(.cityAdmin))
        let community = Set(AccountService.grantableRoles(by: actor(.communityStaff)))
        #expect(community == [.communityStaff, .gridWorker, .propertyCompany, .resident, .volunteer, .partnerApp, .ownersCommittee, .socialOrganisation, .partyBranch])
        #expect(AccountService.grantableRoles(by: actor(.gridWorker)).isEmpty)
    }

    @Test func invitationCodesAreReadableAndForgiving() {
        let code = AccountService.inviteCode([0, 1, 2, 3, 4, 5, 6, 7])
        #expect(code == "ABCD-EFGH")
        #expect(AccountService.normaliseInvite(" abcd efgh ") == "ABCDEFGH" && AccountService.normaliseInvite("abcd-efgh") == "ABCDEFGH")
        #expect(!String(AccountService.inviteAlphabet).contains { "01OIL".contains($0) })
    }
}

/// A street run from the console: grids, places, parts and owners, invitations, owners' votes.
@Suite struct OnboardingHTTPTests {
    @Test(arguments: Backend.available)
    func gridsAreMadeMovedIntoAndRemovedOnlyWhenEmpty(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ who: String, _ body: String? = nil) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/json"],
                                             body: body.map { ByteBuffer(string: $0) })
                }
                func id(_ r: TestResponse) -> Int64 { Int64(r.body.text.firstMatch(of: /"id":(\d+)/)!.1)! }
                var res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(community),"name":"第九网格"}"#)
                #expect(res.status == .created, "\(res.body.text)")
                let grid = id(res)
                res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(community),"name":"第九网格"}"#)
                #expect(res.status == .conflict && res.body.text.contains("duplicate_name"))
                res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(community),"parent_id":\#(grid),"name":"第九网格-微网格1"}"#)
                #expect(res.status == .created)
                let micro = id(res)
                // Another street's staff do not see it; a grid cannot be made in someone else's community.
                let street2Community = try await f.linli.store.read { db in
                    try await db.raw("SELECT community_id FROM households WHERE id = \(bind: ids.outsideHousehold)").first()!.decode(column: "community_id", as: Int64.self)
                }
                res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(street2Community),"name":"越界"}"#)
                #expect(res.status == .notFound)
                res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(street2Community),"parent_id":\#(grid),"name":"越界"}"#)
                #expect(res.status == .notFound)
                // Moving a household there leaves its history; its old micro-grid is named.
                res = try await call(.patch, "/api/v1/households/\(ids.insideHousehold)", "community", #"{"micro_grid_id":\#(micro)}"#)
                #expect(res.status == .ok)
                res = try await call(.get, "/api/v1/grids/\(micro)", "community")
                #expect(res.status == .ok && res.body.text.contains(#""households":1"#) && res.body.text.contains("第九网格-微网格1"))
                #expect(res.body.text.contains(#""moves":[{"#))
                // Not empty: refused, with the reason, and nothing removed.
                res = try await call(.delete, "/api/v1/grids/\(micro)", "community")
                #expect(res.status == .conflict && res.body.text.contains("has_households"))
                res = try await call(.delete, "/api/v1/grids/\(grid)", "community")
                #expect(res.status == .conflict && res.body.text.contains("has_households"), "the grid holds its micro-grid's households too")
                // A grid worker may not make grids.
                res = try await call(.post, "/api/v1/grids", "grid", #"{"community_id":\#(community),"name":"网格员建"}"#)
                #expect(res.status == .forbidden)
                // Naming a micro-grid leader from the community's residents only.
                let resident = ids.insideResident
                res = try await call(.post, "/api/v1/heads", "community", #"{"post":"micro_grid_leader","grid_id":\#(micro),"resident_id":\#(ids.outsideResident)}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("other_community"))
                res = try await call(.post, "/api/v1/heads", "community", #"{"post":"micro_grid_leader","grid_id":\#(micro),"resident_id":\#(resident)}"#)
                #expect(res.status == .created)
                // Back to where it was; then the empty grids go.
                let old = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'micro' AND id <> \(bind: micro) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                }
                res = try await call(.patch, "/api/v1/households/\(ids.insideHousehold)", "community", #"{"micro_grid_id":\#(old)}"#)
                #expect(res.status == .ok)
                res = try await call(.delete, "/api/v1/grids/\(grid)", "community")
                #expect(res.status == .conflict && res.body.text.contains("has_micro_grids"), "\(res.body.text)")
                #expect(try await call(.delete, "/api/v1/grids/\(micro)", "community").status == .noContent)
                #expect(try await call(.delete, "/api/v1/grids/\(grid)", "community").status == .noContent)
                #expect(try await call(.get, "/api/v1/grids/\(grid)", "community").status == .notFound)
                // A grid a grid worker is granted cannot go while the grant stands (an empty one,
                // so that it is the grant, not households, that holds it).
                res = try await call(.post, "/api/v1/grids", "community", #"{"community_id":\#(community),"name":"有网格员的空网格"}"#)
                let granted = try #require(res.body.text.firstMatch(of: /"id":(\d+)/).map { Int64($0.1)! })
                try await f.linli.accounts.grant(username: "grid", role: .gridWorker, placeID: community, gridID: granted)
                res = try await call(.delete, "/api/v1/grids/\(granted)", "community")
                #expect(res.status == .conflict && res.body.text.contains("still_referenced"), "\(res.body.text)")
            }
        }
    }

    @Test(arguments: Backend.available)
    func placesAreAddedFromThePageAndRemovedOnlyWhenNothingRefersToThem(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "community")
                var page = try await client.execute(uri: "/places/\(ids.insideCompound)", method: .get, headers: [.cookie: cookie])
                #expect(page.status == .ok && page.body.text.contains("id=\"child-form\""), "the add-a-place form shows")
                let csrf = String(page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
                var res = try await client.execute(uri: "/places/\(ids.insideCompound)/children", method: .post, headers: form,
                                                   body: ByteBuffer(string: "_csrf=\(csrf)&kind=building&name=%E6%96%B0%E6%A5%BC"))
                #expect(res.status == .seeOther)
                let building = Int64(res.headers[.location]!.split(separator: "/").last!)!
                // The compound has buildings: refused, with the reason on the page.
                res = try await client.execute(uri: "/places/\(ids.insideCompound)/remove", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .conflict && res.body.text.contains("remove-place-error"))
                // The empty building goes.
                res = try await client.execute(uri: "/places/\(building)/remove", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .seeOther && res.headers[.location] == "/places/\(ids.insideCompound)")
                // A community's type is set on its page.
                let community = f.demo.firstCommunityID
                res = try await client.execute(uri: "/places/\(community)", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)&community_type=merged"))
                #expect(res.status == .seeOther)
                page = try await client.execute(uri: "/places/\(community)", method: .get, headers: [.cookie: cookie])
                #expect(page.body.text.contains("融合型大社区") && page.body.text.contains("id=\"grid-form\""))
                // A new city is founded only on the command line, once per name.
                let city = try await f.linli.registry.createCity(name: "新市")
                #expect(city.kind == "city")
                await expectCode("duplicate_name") { _ = try await f.linli.registry.createCity(name: "新市") }
            }
        }
    }

    @Test(arguments: Backend.available)
    func partsAndOwnersAreRecordedWithTheirHistory(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ who: String = "community", _ body: String? = nil) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/json"],
                                             body: body.map { ByteBuffer(string: $0) })
                }
                let h = ids.insideHousehold
                var res = try await call(.put, "/api/v1/households/\(h)/dwelling", "community",
                                         #"{"part_no":"9幢9单元909","area_m2":"88.8","owners":[{"name":"张三","share_percent":"60"},{"name":"李四","share_percent":"50"}]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("shares_over_100"))
                let before = try await call(.get, "/api/v1/households/\(h)/dwelling")
                res = try await call(.put, "/api/v1/households/\(h)/dwelling", "community",
                                     #"{"part_no":"9幢9单元909","area_m2":"88.8","title_no":"浙(2020)0001号","owners":[{"resident_id":\#(ids.insideResident),"share_percent":"50"},{"name":"李四","share_percent":"50"}],"reason":"买卖"}"#)
                #expect(res.status == .ok, "\(res.body.text)")
                #expect(res.body.text.contains("9幢9单元909") && res.body.text.contains(#""share_percent":"50%""#) && res.body.text.contains("买卖"))
                #expect(before.status == .ok, "the demo's household has its part")
                // The same number twice in one building is refused.
                let neighbour = try await f.linli.store.read { db in
                    try await db.raw("SELECT h2.id FROM households h1 JOIN households h2 ON h2.place_id = h1.place_id AND h2.id <> h1.id WHERE h1.id = \(bind: h) ORDER BY h2.id").first()!.decode(column: "id", as: Int64.self)
                }
                res = try await call(.put, "/api/v1/households/\(neighbour)/dwelling", "community", #"{"part_no":"9幢9单元909","area_m2":"70"}"#)
                #expect(res.status == .conflict && res.body.text.contains("duplicate_part_no"))
                // The household page shows the number; another street's staff cannot touch it.
                let page = try await client.execute(uri: "/households/\(h)", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(page.body.text.contains("9幢9单元909"))
                res = try await call(.put, "/api/v1/households/\(ids.outsideHousehold)/dwelling", "community", #"{"part_no":"x","area_m2":"70"}"#)
                #expect(res.status == .notFound)
                // The resident owner now owns this part (and whatever else they owned).
                let owned = try await f.linli.store.read { db in try await RegistryService.partsOwned(db, residents: [ids.insideResident]) }
                let part = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM dwellings WHERE household_id = \(bind: h)").first()!.decode(column: "id", as: Int64.self)
                }
                #expect(owned.contains(part))
                // The next part of the same buyer picks 李四 by name, never by number: only owners of
                // the household's community, only for those who record its parts.
                res = try await call(.get, "/api/v1/pick/owners?q=%E6%9D%8E&within=\(neighbour)")
                let picked = try JSONDecoder().decode([PickItem].self, from: Data(buffer: res.body))
                #expect(picked.contains { $0.label == "李四" && $0.hint.contains("名下 1 套") }, "\(res.body.text)")
                res = try await call(.get, "/api/v1/pick/owners?q=%E6%9D%8E&within=\(ids.outsideHousehold)")
                #expect(res.status == .notFound)
                res = try await call(.get, "/api/v1/pick/owners?q=%E6%9D%8E&within=\(neighbour)", "resident")
                #expect(res.status == .forbidden || res.status == .notFound)
                let form = try await client.execute(uri: "/households/\(neighbour)/dwelling", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(form.body.text.contains("data-pick=\"owners\" data-pick-within=\"\(neighbour)\""))
            }
        }
    }

    @Test(arguments: Backend.available)
    func onlyTheOwnerVotesOnlineAndASaleWaitsForTheVote(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            #expect(try await f.linli.loadDeliberationDemo() > 0)
            let d = f.linli.deliberation
            let poll = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM polls WHERE status = 'open' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            let owner = try await f.actor("owner")
            let view = try await d.pollView(poll, actor: owner)
            #expect(!view.myParts.isEmpty && view.canVote && !view.notOwner)
            #expect(view.myParts.allSatisfy { $0.partNo?.isEmpty == false }, "the part is named by its number")
            #expect(view.lawItem == "art278_7" && view.itemClass == "major")
            // Another member of the owner's household, with an account of their own: sees why, cannot vote.
            let home = owner.grants.first { $0.role == .resident }!
            let family: Int64 = try #require(try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM residents WHERE household_id = \(bind: home.householdID!) AND id <> \(bind: home.residentID!) ORDER BY id").first()?.decode(column: "id", as: Int64.self)
            }, "the owner's household has another member")
            _ = try await f.linli.accounts.createUser(username: "family", displayName: "家人", password: "a-long-password-1")
            try await f.linli.accounts.grant(username: "family", role: .resident, placeID: nil, householdID: home.householdID, residentID: family)
            let member = try await f.linli.accounts.login(username: "family", password: "a-long-password-1").actor
            let theirs = try await d.pollView(poll, actor: member)
            #expect(theirs.myParts.isEmpty && !theirs.canVote && theirs.notOwner)
            var b = DeliberationService.BallotInput()
            b.choice = "yes"
            await expectCode("not_in_electorate") { _ = try await d.castBallots(poll, b, actor: member) }
            _ = try await d.castBallots(poll, b, actor: owner)
            // The owners of a part in the open vote cannot change until it closes.
            let community = try await f.actor("community")
            let part = view.myParts[0]
            let household = try await f.linli.store.read { db in
                try await db.raw("SELECT household_id FROM dwellings WHERE id = \(bind: part.partID)").first()!.decode(column: "household_id", as: Int64.self)
            }
            await expectCode("part_in_open_poll") {
                _ = try await f.linli.registry.setDwelling(household: household, DwellingInput(partNo: part.partNo, areaM2: "90", owners: [OwnerInput(name: "新业主")], reason: "买卖"), actor: community)
            }
            // Its number and area may still be corrected.
            _ = try await f.linli.registry.setDwelling(household: household, DwellingInput(partNo: part.partNo, areaM2: "90.5"), actor: community)
            // A matter that names art. 278 item 5 is counted by more than half; calling it major is refused.
            var m = DeliberationService.MatterInput()
            m.placeID = PlacePath.ids(home.placePath)[4]; m.title = "使用维修资金修屋顶"; m.description = "屋顶漏水，拟使用维修资金维修。"
            m.lawItem = 5; m.itemClass = "major"
            await expectCode("contradicts_law_item") { _ = try await d.suggestMatter(m, actor: owner) }
            m.itemClass = nil
            let matter = try await d.suggestMatter(m, actor: owner)
            #expect(matter.itemClass == "ordinary" && matter.lawItem == "art278_5")
        }
    }

    @Test(arguments: Backend.available)
    func staffInviteAResidentWhoMakesTheirOwnAccountOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                var res = try await client.execute(uri: "/api/v1/residents/\(ids.insideResident)/invite", method: .post, headers: [.authorization: "Bearer \(t["grid"]!)"])
                #expect(res.status == .forbidden, "a grid worker does not make accounts")
                res = try await client.execute(uri: "/api/v1/residents/\(ids.outsideResident)/invite", method: .post, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .notFound)
                res = try await client.execute(uri: "/api/v1/residents/\(ids.insideResident)/invite", method: .post, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .created)
                let code = String(res.body.text.firstMatch(of: /"code":"([A-Z0-9-]+)"/)!.1)
                let json: HTTPFields = [.contentType: "application/json"]
                res = try await client.execute(uri: "/api/v1/register", method: .post, headers: json,
                                               body: ByteBuffer(string: #"{"code":"\#(code.lowercased())","username":"li.na","password":"a-long-password-2"}"#))
                #expect(res.status == .created, "\(res.body.text)")
                guard let token = res.body.text.firstMatch(of: /"token":"([a-z0-9_]+)"/).map({ String($0.1) }) else { Issue.record("\(res.body.text)"); return }
                res = try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(res.body.text.contains(#""household_id":\#(ids.insideHousehold)"#))
                let actor = try await f.linli.accounts.login(username: "li.na", password: "a-long-password-2").actor
                #expect(actor.grants.first?.residentID == ids.insideResident)
                // Once only.
                res = try await client.execute(uri: "/api/v1/register", method: .post, headers: json,
                                               body: ByteBuffer(string: #"{"code":"\#(code)","username":"li.na2","password":"a-long-password-2"}"#))
                #expect(res.status == .unprocessableContent && res.body.text.contains("invalid_code"))
                #expect(try await f.linli.store.read { db in try await db.raw("SELECT id FROM users WHERE username = 'li.na2'").first() } == nil)
                // The city administrator may now grant the resident role (it was refused as "more than one holds").
                _ = try await f.linli.accounts.createUser(username: "zhao", displayName: "赵", password: "a-long-password-3")
                try await f.linli.accounts.grant(username: "zhao", role: .resident, placeID: nil, householdID: ids.insideHousehold, actor: try await f.actor("admin"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func anImportCarriesPartsAndOwnersAndCountsOneBuyerOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let community = f.demo.firstCommunityID
            let micro = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE level = 'micro' AND community_id = \(bind: community) ORDER BY id").first()!.decode(column: "name", as: String.self)
            }
            let header = (RegistryCSV.header + RegistryCSV.dwellingHeader).joined(separator: ",")
            let rows = [
                "新苑,9幢,1单元,101,\(micro),张三,110105200001010016,,户籍人口,户主,,否,9幢1单元101,90.5,本人,,否",
                "新苑,9幢,1单元,101,\(micro),王芳,110105200001010032,,户籍人口,家庭成员,,否,,,,,",
                "新苑,9幢,1单元,102,\(micro),李四,110105200001010059,,流动人口,租户,,否,9幢1单元102,70,张三,,否",
                "新苑,9幢,1单元,103,\(micro),,,,,,,,9幢1单元103,88,新苑置业,,是",
                "新苑,9幢,1单元,104,\(micro),,,,,,,,9幢1单元104,88,新苑置业,,是",
                "新苑,9幢,1单元,105,\(micro),赵六,110105200001010075,,户籍人口,户主,,否,9幢1单元105,66,本人、钱七,50、50,否",
            ]
            // Shares past 100 % and a part number used twice: both named by line; nothing written.
            let bad = [header] + rows + ["新苑,9幢,1单元,106,\(micro),孙八,110105200001010091,,户籍人口,户主,,否,9幢1单元106,60,本人、周九,60、50,否",
                                          "新苑,9幢,1单元,107,\(micro),吴十,110105200001010104,,户籍人口,户主,,否,9幢1单元101,60,本人,,否"]
            var report = try await f.linli.registryCSV.importCSV(Data(bad.joined(separator: "\r\n").utf8), communityID: community, keepGood: false)
            #expect(report.imported == 0)
            #expect(report.errors.contains { $0.line == 8 && $0.column == "份额" && $0.reason.contains("110%") }, "\(report.errors)")
            #expect(report.errors.contains { $0.line == 9 && $0.column == "专有部分编号" && $0.reason.contains("第 2 行") }, "\(report.errors)")
            report = try await f.linli.registryCSV.importCSV(Data(([header] + rows).joined(separator: "\n").utf8), communityID: community, keepGood: false)
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect(report.imported == 4 && report.householdsCreated == 5)
            #expect(try await f.linli.registry.checkPopulation().isEmpty, "the import kept the community's headcount")
            let (parts, developerParts, wang) = try await f.linli.store.read { db in
                let zhang = try await db.raw("SELECT id FROM residents WHERE name = '张三'").first()!.decode(column: "id", as: Int64.self)
                let wang = try await db.raw("SELECT owner_id FROM residents WHERE name = '王芳'").first()!.decode(column: "owner_id", as: Int64?.self)
                let parts = try await RegistryService.partsOwned(db, residents: [zhang])
                let dev = try await db.raw("SELECT COUNT(*) AS n FROM dwellings d JOIN owners o ON o.id = d.owner_id WHERE o.kind = 'developer' AND o.name = '新苑置业'").first()!.decode(column: "n", as: Int.self)
                let devOwners = try await db.raw("SELECT COUNT(*) AS n FROM owners WHERE name = '新苑置业'").first()!.decode(column: "n", as: Int.self)
                #expect(devOwners == 1, "the developer is one owner")
                return (parts.count, dev, wang)
            }
            #expect(parts == 2, "the buyer of two parts is one owner with both")
            #expect(developerParts == 2 && wang == nil)
            // The export writes the parts back in the same columns.
            let csv = try await f.linli.registryCSV.exportCSV(communityID: community, reason: "核对")
            #expect(csv.contains("9幢1单元101,90.50,本人,,否") && csv.contains("9幢1单元105,66.00,本人、钱七,50%、50%,否"), "\(csv.split(separator: "\n").suffix(6))")
        }
    }
}

/// Residents without a resident ID card, from the API, CSV (in GBK too) and an Excel workbook.
@Suite struct DocumentsAndWorkbooksTests {
    /// A workbook as Excel writes one: shared strings, an inline string, a number, a gap.
    static func workbook(_ rows: [[String]]) throws -> Data {
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        var shared: [String] = []
        var sheet = #"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#
        for (r, row) in rows.enumerated() {
            sheet += #"<row r="\#(r + 1)">"#
            for (c, cell) in row.enumerated() where !cell.isEmpty {
                let ref = String(UnicodeScalar(UInt8(65 + c % 26))) + "\(r + 1)"
                let ref2 = c >= 26 ? "A" + ref : ref
                if Double(cell) != nil && cell.count < 10 {
                    sheet += #"<c r="\#(ref2)"><v>\#(cell)</v></c>"#
                } else if c % 2 == 0 {
                    sheet += #"<c r="\#(ref2)" t="s"><v>\#(shared.count)</v></c>"#; shared.append(cell)
                } else {
                    sheet += #"<c r="\#(ref2)" t="inlineStr"><is><t>\#(esc(cell))</t></is></c>"#
                }
            }
            sheet += "</row>"
        }
        sheet += "</sheetData></worksheet>"
        return try workbook(sheetXML: sheet, shared: shared)
    }

    /// A workbook around a worksheet written out whole.
    static func workbook(sheetXML sheet: String, shared: [String]) throws -> Data {
        let archive = try Archive(accessMode: .create)
        func add(_ path: String, _ text: String) throws {
            let data = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { pos, size in
                data.subdata(in: Int(pos)..<Int(pos) + size)
            }
        }
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        try add("xl/workbook.xml", #"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="住户" sheetId="1" r:id="rId7"/></sheets></workbook>"#)
        try add("xl/_rels/workbook.xml.rels", #"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/households.xml"/></Relationships>"#)
        try add("xl/sharedStrings.xml", #"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"# + shared.map { "<si><t>\(esc($0))</t></si>" }.joined() + "</sst>")
        try add("xl/worksheets/households.xml", sheet)
        return archive.data!
    }

    /// A row's number is Excel's (1 to 1,048,576) or the sheet is refused: a row numbered
    /// Int.max followed by one without a number once trapped the server counting on from it.
    @Test func aSheetsRowNumbersAreExcelsOrTheSheetIsRefused() throws {
        func sheet(_ rows: String) -> String {
            #"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#
                + rows + "</sheetData></worksheet>"
        }
        let a = #"<c t="inlineStr"><is><t>a</t></is></c>"#
        for rows in [#"<row r="9223372036854775807">\#(a)</row><row>\#(a)</row>"#, #"<row r="1048577">\#(a)</row>"#,
                     #"<row r="0">\#(a)</row>"#, #"<row r="-3">\#(a)</row>"#, #"<row r="x">\#(a)</row>"#] {
            #expect(throws: LinliError.self, "\(rows)") { _ = try Workbook.firstSheet(try Self.workbook(sheetXML: sheet(rows), shared: [])) }
        }
        // Rows without a number count on from the last one numbered, up to Excel's last row.
        let ok = try Workbook.firstSheet(try Self.workbook(sheetXML: sheet(#"<row r="3">\#(a)</row><row>\#(a)</row><row r="1048576">\#(a)</row>"#), shared: []))
        #expect(ok.map(\.line) == [3, 4, 1_048_576])
    }

    @Test(arguments: Backend.available)
    func residentsWithoutAnIDCardComeInByAPIAndFromFiles(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let community = f.demo.firstCommunityID
            let ids = try await f.ids()
            let staff = try await f.actor("community")
            let reg = f.linli.registry
            // A Hong Kong resident with a home-return permit; the same permit twice is refused.
            let hk = try await reg.createResident(ResidentInput(householdID: ids.insideHousehold, name: "陈大文", idNumber: "H12345678", registration: "resident",
                                                               relation: "tenant", idKind: "hk_macau_permit", gender: "male", birthDate: "1980-05-01"), actor: staff)
            #expect(hk.idKind == "hk_macau_permit" && hk.idNumber == "****5678" && hk.birthDate == "1980-05-01")
            await expectCode("duplicate_id_number") {
                _ = try await reg.createResident(ResidentInput(householdID: ids.insideHousehold, name: "陈小文", idNumber: "h 1234 5678", registration: "resident",
                                                               relation: "tenant", idKind: "hk_macau_permit", gender: "male", birthDate: "1981-05-01"), actor: staff)
            }
            // The same characters on another kind of document are someone else.
            _ = try await reg.createResident(ResidentInput(householdID: ids.insideHousehold, name: "H先生", idNumber: "H12345678", registration: "resident",
                                                           relation: "tenant", idKind: "passport", gender: "male", birthDate: "1970-01-01"), actor: staff)
            // Two babies without documents do not collide.
            for name in ["宝宝一", "宝宝二"] {
                let b = try await reg.createResident(ResidentInput(householdID: ids.insideHousehold, name: name, idNumber: "", registration: "registered",
                                                                   relation: "family", idKind: "none", gender: "female", birthDate: "2025-06-01"), actor: staff)
                #expect(b.idKind == "none" && b.idNumber == "")
            }
            let unmasked = try await reg.unmaskResident(hk.id, reason: "核对证件", actor: staff)
            #expect(unmasked.idNumber == "H12345678")

            let micro = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE level = 'micro' AND community_id = \(bind: community) ORDER BY id").first()!.decode(column: "name", as: String.self)
            }
            // Columns in the office's own order, the document columns first; in GBK.
            let head = ["出生日期", "性别", "证件类型"] + RegistryCSV.header.map { $0 == "身份证号" ? "证件号码" : $0 }
            func row(_ doc: [String], _ base: [String]) -> String { (doc + base).joined(separator: ",") }
            let csvRows = [head.joined(separator: ","),
                           row(["", "", ""], ["新苑", "3幢", "1单元", "101", micro, "刘一", "110105200001010016", "", "户籍人口", "户主", "", "否"]),
                           row(["2023-01-02", "女", "暂无证件"], ["新苑", "3幢", "1单元", "101", micro, "刘小妹", "", "", "户籍人口", "家庭成员", "儿童", "否"]),
                           row(["1990-02-03", "男", "护照"], ["新苑", "3幢", "1单元", "102", micro, "John Smith", "E12345678", "", "流动人口", "租户", "", "否"]),
                           row(["", "", "暂无证件"], ["新苑", "3幢", "1单元", "103", micro, "无日期", "", "", "户籍人口", "户主", "", "否"])]
            let utf8 = csvRows.joined(separator: "\r\n")
            // GBK via iconv the other way (what Excel on a Chinese Windows writes).
            let gbk = try #require(Self.toGBK(utf8))
            var report = try await f.linli.registryCSV.importCSV(gbk, communityID: community, keepGood: false)
            #expect(report.imported == 0)
            #expect(report.errors.map(\.column).sorted() == ["出生日期", "性别"] && report.errors.allSatisfy { $0.line == 5 }, "\(report.errors)")
            report = try await f.linli.registryCSV.importCSV(Data(csvRows.dropLast().joined(separator: "\n").utf8), communityID: community, keepGood: false)
            #expect(report.errors.isEmpty && report.imported == 3, "\(report.errors)")
            let export = try await f.linli.registryCSV.exportCSV(communityID: community, reason: "核对")
            #expect(export.contains("刘小妹,,,户籍人口,家庭成员,儿童,否,,,,,,暂无证件,女,2023-01-02"), "\(export.split(separator: "\n").suffix(4))")
            #expect(export.contains("John Smith,E12345678,,流动人口,租户,,否,,,,,,护照,男,1990-02-03"))
            #expect(export.contains("刘一,110105200001010016,,户籍人口,户主,,否,,,,,,,,"))

            // The same list as an Excel workbook: read from its first sheet, cells by column.
            let sheet: [[String]] = [RegistryCSV.header + RegistryCSV.dwellingHeader + RegistryCSV.documentHeader,
                                     ["新苑", "4幢", "1单元", "201", micro, "周二", "110105200001010032", "13800001234", "户籍人口", "户主", "", "否", "4幢1单元201", "88.5", "本人"],
                                     ["新苑", "4幢", "1单元", "201", micro, "周小二", "", "", "户籍人口", "家庭成员", "", "否", "", "", "", "", "", "暂无证件", "男", "2022-09-09"]]
            report = try await f.linli.registryCSV.importCSV(try Self.workbook(sheet), communityID: community, keepGood: false)
            #expect(report.errors.isEmpty && report.imported == 2, "\(report.errors)")
            let (phone, area) = try await f.linli.store.read { db in
                (try await db.raw("SELECT phone_masked FROM residents WHERE name = '周二'").first()!.decode(column: "phone_masked", as: String?.self),
                 try await db.raw("SELECT d.area_centi_m2 FROM dwellings d WHERE d.part_no = '4幢1单元201'").first()!.decode(column: "area_centi_m2", as: Int64.self))
            }
            #expect(phone == "138****1234" && area == 8850)
            // Not a workbook after all: refused with the reason, nothing written.
            report = try await f.linli.registryCSV.importCSV(Data([0x50, 0x4B, 0x03, 0x04, 0, 0, 0]), communityID: community, keepGood: false)
            #expect(report.errors.first?.reason.contains("xlsx") == true)
        }
    }

    static func toGBK(_ s: String) -> Data? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
        p.arguments = ["-f", "UTF-8", "-t", "GBK"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input; p.standardOutput = output
        do { try p.run() } catch { return nil }
        input.fileHandleForWriting.write(Data(s.utf8)); try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? data : nil
    }
}

/// Pickers: an address typed any way, a name, a phone's last four digits.
@Suite struct PickerTests {
    @Test func addressesAreMatchedRunByRun() {
        func m(_ q: String, _ a: String) -> Bool {
            AddressQuery.matches(query: AddressQuery.runs(AddressQuery.normalise(q)), address: AddressQuery.runs(AddressQuery.normalise(a)))
        }
        #expect(m("金桂苑1幢101", "金桂苑 1幢 1单元 101"))
        #expect(m("金桂苑 1 栋 1-101", "金桂苑 1幢 1单元 101"))
        #expect(m("１幢１０１", "金桂苑 1幢 1单元 101"), "full-width digits")
        #expect(m("桂苑3号楼2单元502室", "金桂苑 3幢 2单元 502"))
        #expect(!m("金桂苑1幢101", "金桂苑 11幢 1单元 101"), "1 is not 11")
        #expect(!m("金桂苑2幢101", "金桂苑 1幢 1单元 101"))
        #expect(!m("银桂苑1幢101", "金桂苑 1幢 1单元 101"))
        #expect(AddressQuery.lastNumber(AddressQuery.runs(AddressQuery.normalise("金桂苑1幢101"))) == "101")
        // The places named between the compound and the door, as the register names them.
        func parts(_ q: String) -> [String] { AddressQuery.namedParts(AddressQuery.runs(AddressQuery.normalise(q))) }
        #expect(parts("安居二区1幢1单元1502") == ["1幢", "1单元"])
        #expect(parts("安居二区 01 栋 2 单元 1502 室") == ["1幢", "2单元"], "栋 is 幢, 01 is 1, 室 dropped")
        #expect(parts("安居二区1幢1502") == ["1幢"] && parts("安居二区1-1-1502") == [] && parts("安居二区1502") == [])
        // Names as an import keeps them compare as typed.
        #expect(["1栋", "01幢", "1号楼", "1 幢"].allSatisfy { AddressQuery.canonicalName($0) == "1幢" } && AddressQuery.canonicalName("2单元") == "2单元")
        #expect(AddressQuery.canonicalName("11幢") != "1幢" && AddressQuery.canonicalName("A座") == "a幢")
    }

    @Test(arguments: Backend.available)
    func staffFindHouseholdsPeopleAndPlacesOnlyInTheirArea(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let ids = try await f.ids()
            let staff = try await f.actor("community")
            let reg = f.linli.registry
            let (address, name, masked, outsideAddress) = try await f.linli.store.read { db in
                let h = try await db.raw("SELECT address FROM households WHERE id = \(bind: ids.insideHousehold)").first()!
                let r = try await db.raw("SELECT name, phone_masked FROM residents WHERE household_id = \(bind: ids.insideHousehold) AND phone_masked IS NOT NULL ORDER BY id").first()!
                let o = try await db.raw("SELECT address FROM households WHERE id = \(bind: ids.outsideHousehold)").first()!
                return (try h.decode(column: "address", as: String.self), try r.decode(column: "name", as: String.self),
                        try r.decode(column: "phone_masked", as: String.self), try o.decode(column: "address", as: String.self))
            }
            // The address without spaces, as someone types it on the phone.
            let typed = address.replacingOccurrences(of: " ", with: "")
            #expect(try await reg.pickHouseholds(typed, actor: staff).map(\.id).contains(ids.insideHousehold), "\(typed)")
            // Without the unit, as people often say it.
            let withoutUnit = typed.replacing(/\d+单元/, with: "")
            #expect(try await reg.pickHouseholds(withoutUnit, actor: staff).map(\.id).contains(ids.insideHousehold), "\(withoutUnit)")
            #expect(try await reg.pickHouseholds(name, actor: staff).contains { $0.id == ids.insideHousehold && $0.hint == name })
            let last4 = String(masked.suffix(4))
            #expect(try await reg.pickHouseholds(last4, actor: staff).contains { $0.id == ids.insideHousehold && $0.hint.contains(masked) })
            #expect(try await reg.pickResidents(last4, actor: staff).contains { $0.label == name })
            // Two compounds of one name's start, their first building kept as "1栋" in one and
            // "1幢" in the other: typed either way, each finds its own 1502.
            let community = f.demo.firstCommunityID
            let micro = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'micro' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            var doors: [Int64] = []
            for (compound, building) in [("安居测试园", "1栋"), ("安居测试园东苑", "1幢")] {
                let c = try await reg.createPlace(parentID: community, kind: "compound", name: compound, communityType: nil, actor: staff)
                let b = try await reg.createPlace(parentID: c.id, kind: "building", name: building, communityType: nil, actor: staff)
                let u = try await reg.createPlace(parentID: b.id, kind: "unit", name: "1单元", communityType: nil, actor: staff)
                doors.append(try await reg.createHousehold(placeID: u.id, door: "1502", microGridID: micro, areaM2: nil, actor: staff))
            }
            #expect(try await reg.pickHouseholds("安居测试园1栋1单元1502", actor: staff).map(\.id).contains(doors[0]))
            #expect(try await reg.pickHouseholds("安居测试园 1幢 1单元 1502", actor: staff).map(\.id).contains(doors[0]))
            #expect(try await reg.pickHouseholds("安居测试园东苑1号楼1502", actor: staff).map(\.id) == [doors[1]])
            // Nothing from another street, however exactly it is typed.
            #expect(try await reg.pickHouseholds(outsideAddress.replacingOccurrences(of: " ", with: ""), actor: staff).allSatisfy { $0.id != ids.outsideHousehold })
            #expect(try await reg.pickHouseholds("", actor: staff).isEmpty)
            let compound = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM places WHERE id = \(bind: ids.insideCompound)").first()!.decode(column: "name", as: String.self)
            }
            let part = String(compound.prefix(2))
            let places = try await reg.pickPlaces(part, actor: staff)
            #expect(places.contains { $0.id == ids.insideCompound } && places.allSatisfy { $0.label.contains(part) }, "\(compound) \(places)")
            #expect(try await reg.pickPlaces(part, actor: staff).allSatisfy { $0.id != ids.outsideCompound })
            // Unescaped, each of these would match every place.
            for wildcard in ["%", "_"] { #expect(try await reg.pickPlaces(wildcard, actor: staff).isEmpty, "LIKE wildcards are text") }
            // Over HTTP, with the staff member's token; a volunteer may not search households.
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            try await built.app.test(.router) { client in
                let q = typed.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                var res = try await client.execute(uri: "/api/v1/pick/households?q=\(q)", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && res.body.text.contains(#""id":\#(ids.insideHousehold)"#))
                res = try await client.execute(uri: "/api/v1/pick/households?q=\(q)", method: .get, headers: [.authorization: "Bearer \(t["volunteer"]!)"])
                #expect(res.status == .forbidden)
            }
        }
    }
}
