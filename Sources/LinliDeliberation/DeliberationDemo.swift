import LinliServer
import Foundation
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    /// Three matters so that every screen has something to show: a lift for the demo owner's
    /// building with its owners' vote running, a compound matter waiting for its joint meeting,
    /// and a residents' council matter carried through to filing with public notices.
    public func loadDeliberationDemo(suffix: String = "") async throws -> Int {
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let owner = try await actor("owner"), let resident = try await actor("resident"), let staff = try await actor("community"),
              let home = owner.grants.first(where: { $0.role == .resident }) else { return 0 }
        let ids = PlacePath.ids(home.placePath)
        guard ids.count >= 6 else { return 0 }
        let (compound, building) = (ids[4], ids[5])
        let d = deliberation
        let now = config.environment.nowSeconds
        func local(_ offset: Int64) -> String { LocalTime.text(now + offset).replacingOccurrences(of: " ", with: "T") }
        func meeting(_ matter: Int64, _ title: String, held: Bool, invitees: [String] = []) async throws {
            var m = DeliberationService.MeetingInput()
            m.title = title; m.startsAt = local(held ? -3 * 86400 : 5 * 86400); m.location = "党群微家二楼会议室"
            m.agenda = "一、情况介绍\n二、各方意见\n三、形成方案"; m.invitees = invitees
            let id = try await d.scheduleMeeting(matter, m, actor: staff)
            if held {
                _ = try await d.recordAttendance(id, .init(name: "居委会主任"), actor: staff)
                _ = try await d.recordAttendance(id, .init(name: "物业项目经理"), actor: staff)
                try await d.saveMinutes(id, minutes: "与会各方充分讨论，同意按程序推进。", decisions: "形成方案，提交下一阶段。", actor: staff)
            }
        }

        // 1. A lift for the owner's building: consulted, then the building's owners vote.
        var lift = DeliberationService.MatterInput()
        lift.placeID = building; lift.process = "lift"; lift.lawItem = LawItem.rebuild.rawValue  // art. 278 (7): three quarters
        lift.title = "本楼加装电梯"; lift.description = "楼里老人多，上下楼困难，提议加装电梯。费用按楼层分摊，申请政府补贴。"
        let m1 = try await d.suggestMatter(lift, actor: owner)
        try await meeting(m1.id, "睦邻议事厅：加装电梯协商", held: true, invitees: ["building:\(building)"])
        _ = try await d.advance(m1.id, .init(), actor: staff)
        var skip = DeliberationService.AdvanceInput()
        skip.outcome = "skipped"; skip.reason = "议事厅已有物业和业委会代表参加"
        _ = try await d.advance(m1.id, skip, actor: staff)
        var poll = DeliberationService.PollInput()
        poll.placeID = building; poll.question = "是否同意本楼加装电梯及费用分摊方案"; poll.closesAt = local(14 * 86400)
        let p1 = try await d.openPoll(m1.id, poll, actor: staff)
        // Some paper ballots already entered, so turnout shows; the demo owner has not voted yet.
        let own = Set(try await d.pollView(p1.id, actor: owner).myParts.map(\.partID))
        let parts: [Int64] = try await store.read { db in
            try await db.raw("SELECT part_id FROM poll_parts WHERE poll_id = \(bind: p1.id) ORDER BY part_id").all().map { try $0.decode(column: "part_id", as: Int64.self) }
        }
        for (i, part) in parts.enumerated() where !own.contains(part) && i % 2 == 0 {
            var b = DeliberationService.BallotInput()
            b.partIDs = [part]; b.method = "paper"; b.choice = i % 6 == 0 ? "no" : "yes"
            _ = try await d.castBallots(p1.id, b, actor: staff)
        }

        // 2. A compound matter: proposed, its joint meeting called.
        var cams = DeliberationService.MatterInput()
        cams.placeID = compound; cams.title = "使用维修资金更换小区监控"; cams.lawItem = LawItem.useFunds.rawValue  // art. 278 (5): more than half
        cams.description = "小区监控探头多数已损坏，夜间看不清，建议使用专项维修资金整体更换。"
        let m2 = try await d.suggestMatter(cams, actor: resident)
        var propose = DeliberationService.AdvanceInput()
        propose.note = "小区党支部研究后同意提议。"
        _ = try await d.advance(m2.id, propose, actor: staff)
        try await meeting(m2.id, "三方联席会议：监控更换", held: false)

        // 3. A residents' council matter, carried through and filed.
        var shed = DeliberationService.MatterInput()
        shed.placeID = compound; shed.process = "council"; shed.title = "电动自行车集中充电棚"
        shed.description = "楼道里充电有火灾隐患，建议在北门空地建集中充电棚。"
        let m3 = try await d.suggestMatter(shed, actor: resident)
        try await meeting(m3.id, "居民议事会：充电棚选址", held: true)
        _ = try await d.advance(m3.id, .init(), actor: staff)
        var publish = DeliberationService.AdvanceInput()
        publish.noticeBody = "居民议事会决定：在北门空地建设集中充电棚，设 40 个充电位，由物业负责运营。"; publish.noticePublic = true
        _ = try await d.advance(m3.id, publish, actor: staff)
        try await d.addMilestone(m3.id, title: "完成选址与设计", dueDay: ChinaTime.iso(day: (now + ChinaTime.utcOffset) / 86400), actor: staff)
        for m in try await d.detail(m3.id, actor: staff, lang: .zh).milestones { _ = try await d.completeMilestone(m.id, note: "已完成", actor: staff) }
        publish.noticeBody = "集中充电棚已建成投用，40 个充电位，扫码充电。"
        _ = try await d.advance(m3.id, publish, actor: staff)
        var file = DeliberationService.AdvanceInput()
        file.note = "社区备案"
        _ = try await d.advance(m3.id, file, actor: staff)
        return 3
    }
}

extension Linli {
    /// A compound matter of five months ago carried through every stage with the demo clock at
    /// each step's date: proposed, the joint meeting and the party members' meeting held, the
    /// owners' vote taken on paper and closed with its tally, the resolution published, the work
    /// done and published, filed. The closed vote and its notice are then there to read and print.
    /// Returns the matter's id (nil when the demo has no owner or compound).
    public func loadDeliberationHistory(clock: DemoClock, seed: UInt64 = 1, suffix: String = "") async throws -> Int64? {
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let resident = try await actor("resident"), let staff = try await actor("community"),
              let home = resident.grants.first(where: { $0.role == .resident }) else { return nil }
        let ids = PlacePath.ids(home.placePath)
        guard ids.count >= 5 else { return nil }
        let compound = ids[4]
        let d = deliberation
        let start = Int64(Date().timeIntervalSince1970) - 150 * 86400
        func at(_ day: Double) { clock.set(Date(timeIntervalSince1970: TimeInterval(start) + day * 86400)) }
        func local(_ day: Double) -> String { LocalTime.text(start + Int64(day * 86400)).replacingOccurrences(of: " ", with: "T") }
        defer { clock.set(nil) }
        func hold(_ matter: Int64, _ title: String, day: Double, attendees: [String]) async throws {
            at(day - 4)
            var m = DeliberationService.MeetingInput()
            m.title = title; m.startsAt = local(day); m.location = "党群微家二楼会议室"; m.agenda = "一、情况介绍\n二、各方意见\n三、形成方案"
            let id = try await d.scheduleMeeting(matter, m, actor: staff)
            at(day)
            for a in attendees { _ = try await d.recordAttendance(id, .init(name: a), actor: staff) }
            try await d.saveMinutes(id, minutes: "与会各方充分讨论，同意按程序推进。", decisions: "形成方案，提交下一阶段。", actor: staff)
        }
        at(0)
        var gate = DeliberationService.MatterInput()
        gate.placeID = compound; gate.title = "更换小区大门门禁系统"; gate.lawItem = LawItem.useFunds.rawValue  // art. 278 (5): more than half
        gate.description = "小区大门门禁老化，外来人员随意进出，建议使用专项维修资金更换人脸识别门禁。"
        let m = try await d.suggestMatter(gate, actor: resident)
        at(3)
        var proposal = DeliberationService.AdvanceInput()
        proposal.documentTitle = "小区党支部提议书"; proposal.documentBody = "建议使用专项维修资金更换小区大门门禁系统，预算 8 万元。"
        _ = try await d.advance(m.id, proposal, actor: staff)
        try await hold(m.id, "三方联席会议：门禁更换方案", day: 10, attendees: ["居委会主任", "业委会主任", "物业项目经理"])
        _ = try await d.advance(m.id, .init(), actor: staff)
        try await hold(m.id, "小区党员大会", day: 16, attendees: ["党支部书记", "党员代表"])
        _ = try await d.advance(m.id, .init(), actor: staff)
        at(18)
        var poll = DeliberationService.PollInput()
        poll.question = "是否同意使用专项维修资金更换小区大门门禁系统（预算 8 万元）"; poll.closesAt = local(32)
        let p = try await d.openPoll(m.id, poll, actor: staff)
        let parts: [Int64] = try await store.read { db in
            try await db.raw("SELECT part_id FROM poll_parts WHERE poll_id = \(bind: p.id) ORDER BY part_id").all().map { try $0.decode(column: "part_id", as: Int64.self) }
        }
        // Owners answer on paper over the two weeks: most take part, most agree.
        var rng = SeededRandom(seed: seed &+ 2026)
        for (i, part) in parts.enumerated() where rng.chance(0.86) {
            at(18.5 + 13 * Double(i) / Double(parts.count))
            var b = DeliberationService.BallotInput()
            b.partIDs = [part]; b.method = "paper"
            let roll = rng.int(0...99)
            b.choice = roll < 78 ? "yes" : roll < 93 ? "no" : "abstain"
            _ = try? await d.castBallots(p.id, b, actor: staff)
        }
        at(32.5)
        _ = try await d.closePoll(p.id, actor: staff)
        _ = try? await d.advance(m.id, .init(), actor: staff)  // the tally decides; a failed vote ends the matter here
        at(34)
        var publish = DeliberationService.AdvanceInput()
        publish.noticeBody = "业主大会表决通过：使用专项维修资金更换小区大门门禁系统。"
        guard (try? await d.advance(m.id, publish, actor: staff)) != nil else { return m.id }
        try await d.addMilestone(m.id, title: "完成采购", dueDay: ChinaTime.iso(day: (start + ChinaTime.utcOffset) / 86400 + 60), actor: staff)
        try await d.addMilestone(m.id, title: "安装调试", dueDay: ChinaTime.iso(day: (start + ChinaTime.utcOffset) / 86400 + 80), actor: staff)
        for (i, ms) in try await d.detail(m.id, actor: staff, lang: .zh).milestones.enumerated() {
            at(55 + Double(i) * 20)
            _ = try await d.completeMilestone(ms.id, note: i == 0 ? "已完成采购，合同已公示" : "已安装调试，业主可录入人脸", actor: staff)
        }
        at(80)
        publish.noticeBody = "小区大门门禁系统已更换完毕，请业主到物业服务中心录入人脸信息。"; publish.noticePublic = true
        _ = try await d.advance(m.id, publish, actor: staff)
        at(85)
        var file = DeliberationService.AdvanceInput()
        file.note = "社区备案"
        _ = try await d.advance(m.id, file, actor: staff)
        return m.id
    }
}
