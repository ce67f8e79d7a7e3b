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
