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

/// Tally rules against worked examples of Civil Code art. 278 and its judicial interpretation.
@Suite struct TallyRuleTests {
    static func parts(_ spec: [(Int64, Int64, String)]) -> [ElectoratePart] {
        spec.map { ElectoratePart(partID: $0.0, areaCenti: $0.1, ownerKey: $0.2) }
    }

    @Test func headcountFollowsTheJudicialInterpretation() {
        // Buyer A holds parts 1 and 2, the developer holds unsold parts 3 and 4, B holds 5, and
        // part 6 has no recorded owner: four heads, not six.
        let e = Self.parts([(1, 10000, "o1"), (2, 10000, "o1"), (3, 5000, "o9"), (4, 5000, "o9"), (5, 10000, "o2"), (6, 10000, "d6")])
        let c = Tally.count(e, [1: .yes, 2: .yes, 3: .no, 5: .abstain])
        #expect(c.totalHeads == 4 && c.totalArea == 50000 && c.totalParts == 6)
        #expect(c.votedParts == 4 && c.votedArea == 35000)
        #expect(c.votedHeads == 3, "A, the developer and B took part; part 6 did not")
        #expect(c.yesHeads == 1, "A's two parts are one head")
        #expect(c.noHeads == 1 && c.yesArea == 20000 && c.noArea == 5000 && c.abstainArea == 10000)
        // An owner who votes their parts differently takes part but counts neither way.
        let mixed = Tally.count(e, [1: .yes, 2: .no])
        #expect(mixed.votedHeads == 1 && mixed.yesHeads == 0 && mixed.noHeads == 0)
    }

    @Test func exactlyTwoThirdsTakesPartAndExactlyHalfDoesNotPass() {
        let e = Self.parts([(1, 10000, "o1"), (2, 10000, "o2"), (3, 10000, "o3")])
        // Two of three, by area and by head: exactly 2/3, which meets "≥ 2/3".
        var r = Tally.decide(Tally.count(e, [1: .yes, 2: .yes]), rule: .civilCode, itemClass: .ordinary)
        #expect(r.criteria[0].met && r.criteria[1].met && r.passed && r.decidedBy == "all_met")
        // One hundredth of a square metre less and participation fails on area.
        let short = Self.parts([(1, 10000, "o1"), (2, 9999, "o2"), (3, 10001, "o3")])
        r = Tally.decide(Tally.count(short, [1: .yes, 2: .yes]), rule: .civilCode, itemClass: .ordinary)
        #expect(!r.passed && r.decidedBy == "participation_area")
        // Four take part and two approve: exactly half is not "more than half".
        let four = Self.parts([(1, 10000, "o1"), (2, 10000, "o2"), (3, 10000, "o3"), (4, 10000, "o4")])
        r = Tally.decide(Tally.count(four, [1: .yes, 2: .yes, 3: .no, 4: .abstain]), rule: .civilCode, itemClass: .ordinary)
        #expect(!r.passed && r.decidedBy == "approval_area")
        r = Tally.decide(Tally.count(four, [1: .yes, 2: .yes, 3: .yes, 4: .abstain]), rule: .civilCode, itemClass: .ordinary)
        #expect(r.passed)
    }

    @Test func majorItemsNeedThreeQuartersOfThoseTakingPart() {
        let four = Self.parts([(1, 10000, "o1"), (2, 10000, "o2"), (3, 10000, "o3"), (4, 10000, "o4"), (5, 10000, "o5"), (6, 10000, "o6")])
        // Four of six take part (≥ 2/3), three of the four approve: exactly 3/4 passes a major item.
        var r = Tally.decide(Tally.count(four, [1: .yes, 2: .yes, 3: .yes, 4: .no]), rule: .civilCode, itemClass: .major)
        #expect(r.passed && r.criteria[2].value == 30000 && r.criteria[2].base == 40000)
        // The non-participants 5 and 6 do not count against: approval is among those taking part.
        r = Tally.decide(Tally.count(four, [1: .yes, 2: .yes, 3: .no, 4: .no]), rule: .civilCode, itemClass: .major)
        #expect(!r.passed && r.decidedBy == "approval_area")
        // By head: one large part approves, three small ones refuse — area passes, heads do not.
        let skewed = Self.parts([(1, 90000, "o1"), (2, 1000, "o2"), (3, 1000, "o3"), (4, 1000, "o4")])
        r = Tally.decide(Tally.count(skewed, [1: .yes, 2: .no, 3: .no, 4: .no]), rule: .civilCode, itemClass: .major)
        #expect(r.criteria[2].met && !r.criteria[3].met && r.decidedBy == "approval_heads")
    }

    @Test func theDevelopersUnsoldPartsAreOneHead() {
        // The developer holds 4 of 6 parts but is one owner: two of three heads suffice to take part.
        let e = Self.parts([(1, 10000, "o9"), (2, 10000, "o9"), (3, 10000, "o9"), (4, 10000, "o9"), (5, 10000, "o1"), (6, 10000, "o2")])
        let c = Tally.count(e, [1: .yes, 2: .yes, 3: .yes, 4: .yes, 5: .no])
        #expect(c.totalHeads == 3 && c.votedHeads == 2 && c.yesHeads == 1)
        let r = Tally.decide(c, rule: .civilCode, itemClass: .ordinary)
        // Area 4/5 approve, heads 1/2 approve: not more than half by head.
        #expect(!r.passed && r.decidedBy == "approval_heads")
    }

    @Test func ruleSetsAreDataAndChecked() throws {
        var lift = VoteRuleSet.civilCode
        lift.approvalBasis = "all"
        let e = TallyRuleTests.parts([(1, 10000, "o1"), (2, 10000, "o2"), (3, 10000, "o3"), (4, 10000, "o4")])
        // Under "all", three yes of four owners is 3/4 of everyone; two is not more than half of everyone.
        #expect(Tally.decide(Tally.count(e, [1: .yes, 2: .yes, 3: .yes]), rule: lift, itemClass: .major).passed)
        #expect(!Tally.decide(Tally.count(e, [1: .yes, 2: .yes, 3: .no]), rule: lift, itemClass: .ordinary).passed)
        lift.majorArea = Threshold(5, 4)
        #expect(throws: LinliError.self) { try lift.validate() }
        #expect(Threshold(2, 3).met(2, of: 3) && !Threshold(1, 2, strict: true).met(1, of: 2) && !Threshold(2, 3).met(0, of: 0))
    }

    @Test func stagesCannotBeSkippedAndRejectionsSayWhy() throws {
        let p = ProcessDefinition.wenzhou
        #expect(try MatterFlow.advance(p, current: 1, status: .open, stageCode: "propose", outcome: .passed, reason: nil) == 2)
        #expect { try MatterFlow.advance(p, current: 1, status: .open, stageCode: "owners_vote", outcome: .passed, reason: nil) } throws: {
            ($0 as? LinliError)?.code == "stage_skipped"
        }
        #expect { try MatterFlow.advance(p, current: 2, status: .open, stageCode: "joint", outcome: .skipped, reason: "x") } throws: {
            ($0 as? LinliError)?.code == "stage_required"
        }
        #expect { try MatterFlow.advance(p, current: 2, status: .open, stageCode: "joint", outcome: .rejected, reason: " ") } throws: {
            ($0 as? LinliError)?.field == "reason"
        }
        #expect(try MatterFlow.advance(p, current: 2, status: .open, stageCode: "joint", outcome: .rejected, reason: "三方意见不一") == nil)
        #expect(try MatterFlow.advance(ProcessDefinition.lift, current: 2, status: .open, stageCode: "joint", outcome: .skipped, reason: "协商已一致") == 3)
        #expect { try MatterFlow.advance(p, current: 7, status: .filed, stageCode: "file", outcome: .passed, reason: nil) } throws: {
            ($0 as? LinliError)?.code == "matter_filed"
        }
        for built in ProcessDefinition.builtIn { try built.validate() }
        var bad = ProcessDefinition.council
        bad.stages.removeLast()
        #expect(throws: ValidationErrors.self) { try bad.validate() }
    }
}

/// The owners of a compound as accounts: one resident account per owner household.
extension Fixture {
    /// Households of `path` whose residents own parts, as (household id, username) with an account
    /// each, linked to the owner (only the owner's own account votes online).
    func ownerAccounts(under path: String, count: Int) async throws -> [(Int64, String)] {
        let rows = try await linli.store.read { db in
            try await db.raw("""
                SELECT r.household_id, MIN(r.id) AS resident_id FROM residents r JOIN households h ON h.id = r.household_id
                WHERE r.owner_id IS NOT NULL AND h.path LIKE \(bind: path + "%") GROUP BY r.household_id ORDER BY r.household_id
                """).all().map { (try $0.decode(column: "household_id", as: Int64.self), try $0.decode(column: "resident_id", as: Int64.self)) }
        }
        var out: [(Int64, String)] = []
        for (h, person) in rows.prefix(count) {
            let name = "owner\(h)"
            _ = try await linli.accounts.createUser(username: name, displayName: "业主\(h)", password: Fixture.password)
            try await linli.accounts.grant(username: name, role: .resident, placeID: nil, householdID: h, residentID: person)
            out.append((h, name))
        }
        return out
    }

    func path(of place: Int64) async throws -> String {
        try await linli.store.read { db in try await db.raw("SELECT path FROM places WHERE id = \(bind: place)").first()!.decode(column: "path", as: String.self) }
    }

    func partsOf(_ poll: Int64) async throws -> [ElectoratePart] {
        try await linli.store.read { db in
            try await db.raw("SELECT part_id, area_centi, owner_key FROM poll_parts WHERE poll_id = \(bind: poll) ORDER BY part_id").all().map {
                ElectoratePart(partID: try $0.decode(column: "part_id", as: Int64.self), areaCenti: try $0.decode(column: "area_centi", as: Int64.self),
                               ownerKey: try $0.decode(column: "owner_key", as: String.self))
            }
        }
    }
}

/// Calls, attends and minutes a meeting for the matter's current stage; returns the meeting id.
@discardableResult
func holdMeeting(_ d: DeliberationService, _ matter: Int64, _ title: String, by actor: Actor, attendee: String = "代表") async throws -> Int64 {
    var meet = DeliberationService.MeetingInput()
    meet.title = title; meet.startsAt = "2026-11-24T19:00"; meet.location = "社区"; meet.agenda = title
    let id = try await d.scheduleMeeting(matter, meet, actor: actor)
    _ = try await d.recordAttendance(id, .init(name: attendee), actor: actor)
    try await d.saveMinutes(id, minutes: "同意", decisions: nil, actor: actor)
    return id
}

func expectCode(_ code: String, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected \(code), nothing was refused", sourceLocation: sourceLocation)
    } catch let e as LinliError {
        #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
    } catch let e as ValidationErrors {
        #expect(e.errors.contains { $0.code == code }, "\(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct DeliberationStoreTests {
    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw(SQLQueryString(sql)).first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func aMatterMovesThroughTheWenzhouStagesToFiling(_ backend: Backend) async throws {
        let clock = TestClock("2026-11-23T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let d = f.linli.deliberation
            let resident = try await f.actor("resident"), community = try await f.actor("community"), property = try await f.actor("property")
            let compound = try await f.residentCompound
            var input = DeliberationService.MatterInput()
            input.placeID = compound; input.title = "更换小区监控"; input.description = "小区监控老旧，建议使用维修资金更换。"; input.itemClass = "major"
            let m = try await d.suggestMatter(input, actor: resident)
            #expect(m.stageCode == "propose" && m.status == "open")
            #expect(try await f.linli.inbox.list(actor: community, lang: .zh).contains { $0.kind == "matter_suggested" && $0.matterID == m.id })
            // Skipping ahead, acting without the right, and a meeting stage without a meeting are all refused.
            var adv = DeliberationService.AdvanceInput()
            adv.stage = "owners_vote"
            await expectCode("stage_skipped") { _ = try await d.advance(m.id, adv, actor: community) }
            await expectCode("forbidden") { _ = try await d.advance(m.id, .init(), actor: resident) }
            await expectCode("not_found") { _ = try await d.advance(m.id, .init(), actor: try await f.actor("volunteer").withoutGrants()) }
            var proposal = DeliberationService.AdvanceInput()
            proposal.documentTitle = "小区党支部提议书"; proposal.documentBody = "建议使用维修资金更换监控，预算 12 万元。"
            _ = try await d.advance(m.id, proposal, actor: community)  // the compound party organisation proposes
            await expectCode("meeting_required") { _ = try await d.advance(m.id, .init(), actor: community) }
            // The joint meeting: called, attended by scanning household codes, minuted.
            var meet = DeliberationService.MeetingInput()
            meet.title = "三方联席会议"; meet.startsAt = "2026-11-25T19:00"; meet.location = "党群微家"; meet.agenda = "监控更换方案"
            let meeting = try await d.scheduleMeeting(m.id, meet, actor: community)
            let code = try await f.ids().insideCode
            let first = try await d.recordAttendance(meeting, .init(code: "http://127.0.0.1:8080/h/" + code), actor: community)
            let again = try await d.recordAttendance(meeting, .init(code: code), actor: community)
            #expect(!first.already && again.already)
            await expectCode("not_invited") { _ = try await d.recordAttendance(meeting, .init(code: try await f.ids().outsideCode), actor: community) }
            _ = try await d.recordAttendance(meeting, .init(name: "物业项目经理"), actor: community)
            await expectCode("required") { try await d.saveMinutes(meeting, minutes: " ", decisions: nil, actor: community) }
            try await d.saveMinutes(meeting, minutes: "三方同意提交业主大会表决。", decisions: "方案 A", actor: community)
            _ = try await d.advance(m.id, .init(), actor: community)
            // The party members' meeting may not be skipped.
            var skip = DeliberationService.AdvanceInput()
            skip.outcome = "skipped"; skip.reason = "时间紧"
            await expectCode("stage_required") { _ = try await d.advance(m.id, skip, actor: community) }
            try await holdMeeting(d, m.id, "党员大会", by: community, attendee: "党支部书记")
            _ = try await d.advance(m.id, .init(), actor: community)
            // The owners vote: the outcome comes from the tally, not from the clerk.
            await expectCode("poll_required") { _ = try await d.advance(m.id, .init(), actor: community) }
            var pollInput = DeliberationService.PollInput()
            pollInput.question = "是否同意使用维修资金更换监控"; pollInput.closesAt = "2026-11-30T18:00"
            let poll = try await d.openPoll(m.id, pollInput, actor: community)
            #expect(poll.itemClass == "major" && poll.status == "open" && poll.counts == nil, "approval stays hidden while the vote runs")
            let parts = try await f.partsOf(poll.id)
            #expect(!parts.isEmpty)
            // Staff enter paper ballots for every part: all in favour.
            for p in parts {
                var b = DeliberationService.BallotInput()
                b.partIDs = [p.partID]; b.choice = "yes"; b.method = "paper"
                _ = try await d.castBallots(poll.id, b, actor: community)
            }
            await expectCode("poll_still_open") { _ = try await d.closePoll(poll.id, actor: community) }
            clock.advance(hours: 24 * 8)
            let closed = try await d.closePoll(poll.id, actor: community)
            #expect(closed.result?.passed == true && closed.result?.decidedBy == "all_met" && closed.recountMatches == true)
            _ = try await d.advance(m.id, .init(), actor: community)
            // Publication goes to the compound's notice board; outsiders see only what is made public.
            var pub = DeliberationService.AdvanceInput()
            await expectCode("required") { _ = try await d.advance(m.id, pub, actor: community) }
            pub.noticeBody = "业主大会表决通过：使用维修资金更换监控。"
            _ = try await d.advance(m.id, pub, actor: community)
            #expect(try await d.notices(placeID: compound, actor: resident).notices.count == 1)
            #expect(try await d.notices(placeID: compound, actor: nil).notices.isEmpty)
            // Implementation: milestones until done, participants told of each change.
            await expectCode("milestones_open") { _ = try await d.advance(m.id, pub, actor: community) }
            try await d.addMilestone(m.id, title: "采购完成", dueDay: "2026-12-20", actor: community)
            await expectCode("invalid") { try await d.addMilestone(m.id, title: "安装", dueDay: "明天", actor: community) }
            let milestone = try await d.detail(m.id, actor: community, lang: .zh).milestones[0].id
            await expectCode("milestones_open") { _ = try await d.advance(m.id, pub, actor: community) }
            _ = try await d.completeMilestone(milestone, note: "已验收", actor: community)
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).contains { $0.kind == "milestone" && $0.matterID == m.id })
            pub.noticeBody = "监控已更换完毕，共 32 路。"; pub.noticePublic = true
            _ = try await d.advance(m.id, pub, actor: community)
            #expect(try await d.notices(placeID: compound, actor: nil).notices.count == 1)
            var file = DeliberationService.AdvanceInput()
            file.note = "备案号 2026-017"
            let filed = try await d.advance(m.id, file, actor: community)
            #expect(filed.status == "filed")
            // A filed matter is read-only.
            await expectCode("matter_filed") { _ = try await d.advance(m.id, .init(), actor: community) }
            await expectCode("matter_filed") { try await d.addMilestone(m.id, title: "x", dueDay: "2027-01-01", actor: community) }
            await expectCode("matter_filed") { try await d.saveMinutes(meeting, minutes: "改", decisions: nil, actor: community) }
            let detail = try await d.detail(m.id, actor: property, lang: .zh)
            #expect(detail.steps.allSatisfy { $0.state == "passed" } && detail.documents.map(\.kind) == ["document", "minutes", "minutes"])
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'matter.stage'") == 7)
        }
    }

    @Test(arguments: Backend.available)
    func ballotsAreCountedOnceAndRefusedOutsideTheRules(_ backend: Backend) async throws {
        let clock = TestClock("2026-11-23T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let d = f.linli.deliberation
            let community = try await f.actor("community"), admin = try await f.actor("admin")
            let compound = try await f.residentCompound
            let compoundPath = try await f.path(of: compound)
            let owners = try await f.ownerAccounts(under: compoundPath, count: 3)
            #expect(owners.count == 3)
            // A rule where a ballot is final, for this street only.
            var strict = VoteRuleSet.civilCode
            strict.allowChange = false
            _ = try await d.saveRule(code: "no_change", name: "不可改票", placeID: nil, rule: strict, actor: admin)
            await expectCode("forbidden") { _ = try await d.saveRule(code: "x1", name: "x", placeID: nil, rule: strict, actor: community) }
            var input = DeliberationService.MatterInput()
            input.placeID = compound; input.title = "选聘物业"; input.description = "续聘或另聘物业服务企业"; input.process = "lift"
            let m = try await d.suggestMatter(input, actor: community)
            var skip = DeliberationService.AdvanceInput()
            // The lift process: consult (a meeting), an optional joint meeting, then the vote.
            try await holdMeeting(d, m.id, "睦邻议事厅", by: community, attendee: "楼长")
            _ = try await d.advance(m.id, .init(), actor: community)
            await expectCode("required") { _ = try await d.advance(m.id, { var a = skip; a.outcome = "skipped"; return a }(), actor: community) }
            skip.outcome = "skipped"; skip.reason = "已在议事厅达成一致"
            #expect(try await d.advance(m.id, skip, actor: community).stageCode == "building_vote")
            var pollInput = DeliberationService.PollInput()
            pollInput.question = "续聘物业"; pollInput.closesAt = "2026-11-26T18:00"; pollInput.rule = "no_change"
            let poll = try await d.openPoll(m.id, pollInput, actor: community)
            // The rule an open poll uses cannot change.
            await expectCode("rule_in_use") { _ = try await d.saveRule(code: "no_change", name: "改", placeID: nil, rule: .civilCode, actor: admin) }
            // Owners were told; each votes online for their own parts only.
            let owner0 = try await f.actor(owners[0].1), owner1 = try await f.actor(owners[1].1)
            #expect(try await f.linli.inbox.list(actor: owner0, lang: .zh).contains { $0.kind == "poll_opened" })
            let view0 = try await d.pollView(poll.id, actor: owner0)
            #expect(view0.canVote && !view0.myParts.isEmpty)
            let foreign = try await d.pollView(poll.id, actor: owner1).myParts[0].partID
            await expectCode("not_your_part") {
                var b = DeliberationService.BallotInput(); b.choice = "yes"; b.partIDs = [foreign]
                _ = try await d.castBallots(poll.id, b, actor: owner0)
            }
            await expectCode("required") { _ = try await d.castBallots(poll.id, .init(), actor: owner0) }
            // Eight concurrent attempts at the same part (a phone retrying): exactly one ballot is
            // stored, and each attempt gets its receipt, not a refusal.
            let ownPart = view0.myParts[0].partID
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var b = DeliberationService.BallotInput(); b.choice = "yes"; b.partIDs = [ownPart]
                        do {
                            let r = try await d.castBallots(poll.id, b, actor: owner0)
                            return r.map { "\($0.choice) \($0.revision) \($0.castAt)" }.joined()
                        } catch let e as LinliError { return e.code }
                    }
                }
                var all: [String] = []
                for try await o in group { all.append(o) }
                return all
            }
            #expect(Set(outcomes).count == 1 && outcomes[0].hasPrefix("yes 1 "), "\(outcomes)")
            // Another choice is a change this rule does not allow.
            await expectCode("already_voted") {
                var b = DeliberationService.BallotInput(); b.choice = "no"; b.partIDs = [ownPart]
                _ = try await d.castBallots(poll.id, b, actor: owner0)
            }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballots WHERE poll_id = \(poll.id) AND part_id = \(ownPart)") == 1)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballot_history WHERE poll_id = \(poll.id) AND part_id = \(ownPart)") == 1)
            // Staff: a proxy needs the signed authorisation; a part outside the electorate is refused.
            var proxy = DeliberationService.BallotInput()
            proxy.choice = "no"; proxy.method = "proxy"; proxy.proxyName = "李四"; proxy.partIDs = [foreign]
            await expectCode("required") { _ = try await d.castBallots(poll.id, proxy, actor: community) }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballots WHERE poll_id = \(poll.id)") == 1, "nothing half-written")
            _ = try await d.castBallots(poll.id, proxy, proxyDocument: TestImages.png, actor: community)
            var unknown = proxy
            unknown.partIDs = [99_999_999]; unknown.method = "paper"
            await expectCode("unknown_part") { _ = try await d.castBallots(poll.id, unknown, actor: community) }
            // Everyone else by paper: some for, some against.
            let parts = try await f.partsOf(poll.id)
            for (i, p) in parts.enumerated() where p.partID != ownPart && p.partID != foreign {
                var b = DeliberationService.BallotInput()
                b.partIDs = [p.partID]; b.choice = i % 3 == 0 ? "no" : (i % 5 == 0 ? "abstain" : "yes"); b.method = "paper"
                _ = try await d.castBallots(poll.id, b, actor: community)
            }
            // The SQL tally agrees with the model counting the same ballots.
            let ballots = try await f.linli.store.read { db in
                try await db.raw("SELECT part_id, choice FROM ballots WHERE poll_id = \(bind: poll.id)").all().reduce(into: [Int64: Choice]()) {
                    $0[try $1.decode(column: "part_id", as: Int64.self)] = Choice(rawValue: try $1.decode(column: "choice", as: String.self))!
                }
            }
            let sql = try await d.tally(poll.id, actor: community)
            #expect(sql.counts == Tally.count(parts, ballots))
            // The ballot list is masked; names cost a reason and an audit entry.
            let masked = try await d.ballots(poll.id, actor: community)
            #expect(masked.count == parts.count && masked.allSatisfy { $0.owner.isEmpty || $0.owner.contains("*") || $0.owner.hasSuffix("公司") })
            await expectCode("forbidden") { _ = try await d.ballots(poll.id, actor: owner0) }
            _ = try await d.ballots(poll.id, unmaskReason: "复核", actor: community)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'ballot.unmask'") == 1)
            // After the window: no more ballots, and the result is stored with the rule that decided it.
            clock.advance(hours: 24 * 4)
            await expectCode("poll_closed") {
                var b = DeliberationService.BallotInput(); b.choice = "no"
                _ = try await d.castBallots(poll.id, b, actor: owner1)
            }
            let closed = try await d.closePoll(poll.id, actor: community)
            #expect(closed.result?.counts == sql.counts && closed.recountMatches == true)
            _ = try await d.advance(m.id, .init(), actor: community)
            let after = try await d.detail(m.id, actor: community, lang: .zh).matter
            #expect(after.status == (closed.result!.passed ? "open" : "rejected"))
        }
    }

    @Test(arguments: Backend.available)
    func changedVotesCountOnceAsTheLastOne(_ backend: Backend) async throws {
        let clock = TestClock("2026-11-23T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let d = f.linli.deliberation
            let community = try await f.actor("community")
            let compound = try await f.residentCompound
            let owners = try await f.ownerAccounts(under: try await f.path(of: compound), count: 1)
            let owner = try await f.actor(owners[0].1)
            var input = DeliberationService.MatterInput()
            input.placeID = compound; input.title = "增设充电桩"; input.description = "在地面车位增设充电桩"
            let m = try await d.suggestMatter(input, actor: owner)
            _ = try await d.advance(m.id, .init(), actor: community)
            for title in ["联席会议", "党员大会"] {
                try await holdMeeting(d, m.id, title, by: community)
                _ = try await d.advance(m.id, .init(), actor: community)
            }
            var pollInput = DeliberationService.PollInput()
            pollInput.question = "增设充电桩"; pollInput.closesAt = "2026-11-20T18:00"
            await expectCode("too_soon") { _ = try await d.openPoll(m.id, pollInput, actor: community) }
            pollInput.closesAt = "2026-11-27T18:00"
            let poll = try await d.openPoll(m.id, pollInput, actor: community)
            var b = DeliberationService.BallotInput()
            b.choice = "yes"
            let first = try await d.castBallots(poll.id, b, actor: owner)
            b.choice = "no"
            let second = try await d.castBallots(poll.id, b, actor: owner)
            #expect(first.allSatisfy { $0.revision == 1 } && second.allSatisfy { $0.revision == 2 })
            let t = try await d.tally(poll.id, actor: community)
            #expect(t.counts.votedParts == Int64(first.count) && t.counts.yesArea == 0 && t.counts.noArea > 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballot_history WHERE poll_id = \(poll.id)") == 2 * first.count)
            // Staff cannot silently put a paper ballot over the owner's own online vote: it takes
            // the signed paper's image, and the owner is told.
            var paper = DeliberationService.BallotInput()
            paper.choice = "yes"; paper.method = "paper"; paper.partIDs = [first[0].partID]
            await expectCode("evidence_required") { _ = try await d.castBallots(poll.id, paper, actor: community) }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM ballot_history WHERE poll_id = \(poll.id)") == 2 * first.count, "a refused ballot writes nothing")
            #expect(try await !f.linli.inbox.list(actor: owner, lang: .zh).contains { $0.kind == "ballot_replaced" })
            _ = try await d.castBallots(poll.id, paper, proxyDocument: TestImages.png, actor: community)
            #expect(try await f.linli.inbox.list(actor: owner, lang: .zh).contains { $0.kind == "ballot_replaced" && $0.matterID == m.id })
            await expectCode("poll_already_open") { _ = try await d.openPoll(m.id, pollInput, actor: community) }
        }
    }
}

extension Actor {
    /// The same user with no role at all: everything is out of scope.
    func withoutGrants() -> Actor { Actor(userID: userID, username: username, displayName: displayName, grants: []) }
}

@Suite struct DeliberationHTTPTests {
    @Test func theAPIAnswersOnlyThoseWhoMaySeeAndNamesBadFields() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            let t = try await f.tokens()
            try await built.app.test(.router) { client in
                func call(_ uri: String, _ method: HTTPRequest.Method = .get, _ who: String?, _ body: String? = nil) async throws -> TestResponse {
                    var h: HTTPFields = [.contentType: "application/json"]
                    if let who { h[.authorization] = "Bearer \(t[who]!)" }
                    return try await client.execute(uri: uri, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                }
                var res = try await call("/api/v1/matters", .post, "community", #"{"place_id":\#(ids.insideCompound),"title":"","description":"x"}"#)
                #expect(res.status == .unprocessableContent && res.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                #expect(res.body.text.contains(#""field":"title""#))
                res = try await call("/api/v1/matters", .post, "community", #"{"place_id":\#(ids.outsideCompound),"title":"外街道","description":"x"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("outside_scope"))
                res = try await call("/api/v1/matters", .post, "community", #"{"place_id":\#(ids.insideCompound),"title":"楼道堆物清理","description":"集中清理楼道堆物"}"#)
                #expect(res.status == .created)
                let id = try JSONDecoder().decode(MatterView.self, from: Data(buffer: res.body)).id
                res = try await call("/api/v1/matters", .post, "admin", #"{"place_id":\#(ids.outsideCompound),"title":"外街道事项","description":"x"}"#)
                let outside = try JSONDecoder().decode(MatterView.self, from: Data(buffer: res.body)).id
                for who in ["resident", "volunteer", "grid", "street", "auditor"] {
                    #expect(try await call("/api/v1/matters/\(id)", .get, who).status == .ok, "\(who) sees the matter of their area")
                    #expect(try await call("/api/v1/matters/\(outside)", .get, who).status == (who == "auditor" ? .ok : .notFound), "\(who) outside")
                }
                #expect(try await call("/api/v1/matters/\(id)", .get, "app").status == .forbidden)
                #expect(try await call("/api/v1/matters/\(id)/advance", .post, "resident").status == .forbidden)
                #expect(try await call("/api/v1/matters/\(outside)/advance", .post, "community").status == .notFound)
                res = try await call("/api/v1/matters/\(id)/advance", .post, "community", #"{"stage":"owners_vote"}"#)
                #expect(res.status == .conflict && res.body.text.contains("stage_skipped"))
                res = try await call("/api/v1/matters/\(id)/advance", .post, "community", #"{"note":"支部同意"}"#)
                #expect(res.status == .ok && res.body.text.contains(#""stage_code":"joint""#))
                res = try await call("/api/v1/matters/\(id)/polls", .post, "community", #"{"question":"x","closes_at":"2030-01-01T10:00"}"#)
                #expect(res.status == .conflict && res.body.text.contains("wrong_stage"))
                res = try await call("/api/v1/matters/\(id)/meetings", .post, "community", #"{"title":"联席会议","starts_at":"明天","location":"社区","agenda":"a"}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("starts_at"))
                #expect(try await call("/api/v1/polls/999999/ballots", .post, "resident", #"{"choice":"yes"}"#).status == .notFound)
                #expect(try await call("/api/v1/notices/\(ids.insideCompound)", .get, nil).status == .ok)
                #expect(try await call("/api/v1/vote-rules", .post, "community", #"{"code":"x","name":"x","rule":{}}"#).status == .forbidden)
                // The pages render for staff and residents alike.
                for (who, uri) in [("community", "/matters"), ("community", "/matters/\(id)"), ("resident", "/matters/\(id)"), ("community", "/settings/deliberation"),
                                   ("resident", "/matters/new")] {
                    res = try await call(uri, .get, who)
                    #expect(res.status == .ok, "\(who) \(uri)")
                    if uri.hasPrefix("/matters/\(id)") || uri == "/matters" { #expect(res.body.text.contains("楼道堆物"), "\(who) \(uri)") }
                }
                // Staff who keep the rules find them from the list; the filter names a status as its rows do.
                let list = try await call("/matters", .get, "community").body.text
                #expect(list.contains("id=\"deliberation-settings\""))
                let open = I18n.texts.codeLabel("status", "open", .zh)!
                #expect(list.contains("<option value=\"open\" >\(open)</option>") && list.contains("· \(open) ·"), "the filter and the rows say \(open)")
                #expect(!(try await call("/matters", .get, "resident").body.text.contains("deliberation-settings")))
            }
        }
    }
}
