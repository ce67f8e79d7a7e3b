import Foundation
import SQLKit
import LinliCore
import LinliStore

/// What happens to one request of the demo's year, decided when it is made.
enum HistoryFate: Equatable {
    /// Taken up, resolved in time and confirmed.
    case onTime
    /// Resolved well after its deadline: the nightly sweep escalates it first.
    case late
    /// Sent back by the party it was routed to, then re-routed to the community.
    case returned
    /// The resident was not satisfied once: the party resolves it again.
    case rejectedOnce
    /// Resolved, never confirmed: it waits (the sweep closes such requests after their time).
    case unrated

    /// One fate for a roll of 0..<100: most on time, a few of each of the rest.
    static func of(roll: Int) -> HistoryFate {
        switch roll {
        case ..<9: .late
        case ..<15: .returned
        case ..<21: .rejectedOnce
        case ..<27: .unrated
        default: .onTime
        }
    }
}

/// The stars a resident gives, for a roll of 0..<100: mostly satisfied, some not.
enum HistoryRating {
    static func of(roll: Int) -> Int {
        switch roll {
        case ..<58: 5
        case ..<84: 4
        case ..<93: 3
        case ..<97: 2
        default: 1
        }
    }
}

extension Linli {
    /// A year of the demo street's requests, made through the requests' own use cases with the
    /// demo clock moved through it: reports on most days across the categories — the demo
    /// resident's own and those staff took by phone, at the door or on a visit — each taken up,
    /// resolved and confirmed (or confirmed on a return visit) by the party it was routed to;
    /// some late and escalated by the nightly sweep, some sent back and re-routed, some rejected
    /// once, some never rated; the last days' still open. Figures, charts, rollups, the board and
    /// the maps then have a year to show. Deterministic for a seed; every step is a real step
    /// (audit rows, notifications and rollups included).
    public func loadRequestsHistory(days: Int = 365, seed: UInt64 = 1, clock: DemoClock, suffix: String = "") async throws -> Int {
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let resident = try await actor("resident"), let community = try await actor("community"), let grid = try await actor("grid"),
              let home = resident.grants.first(where: { $0.role == .resident })?.householdID,
              let gridID = grid.grants.first(where: { $0.role == .gridWorker })?.gridID else { return 0 }
        let property = try await actor("property"), street = try await actor("street"), dept = try await actor("dept")
        let compound = PlacePath.ids(resident.grants.first { $0.role == .resident }!.placePath).dropFirst(4).first
        // The households of the demo grid worker's grid: their requests have someone to take them up.
        let households: [Int64] = try await store.read { db in
            try await db.raw("SELECT id FROM households WHERE grid_id = \(bind: gridID) OR micro_grid_id = \(bind: gridID) ORDER BY id LIMIT 400")
                .all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        guard !households.isEmpty else { return 0 }
        var rng = SeededRandom(seed: seed &+ 20_251_206)
        let real = Date()
        let end = real.addingTimeInterval(-3600)
        // Midnight in China, `days` days ago.
        let startDay = (Int64(real.timeIntervalSince1970) + ChinaTime.utcOffset) / 86400 - Int64(days)
        let start = startDay * 86400 - ChinaTime.utcOffset

        // Steps in time order: each request's later steps are queued when it is made.
        struct Step { var at: Int64; var order: Int; var run: @Sendable () async throws -> Void }
        actor Queue {
            var steps: [Step] = []
            var order = 0
            func add(_ at: Int64, _ run: @escaping @Sendable () async throws -> Void) {
                order += 1
                let s = Step(at: at, order: order, run: run)
                let i = steps.firstIndex { ($0.at, $0.order) > (s.at, s.order) } ?? steps.count
                steps.insert(s, at: i)
            }
            func next(until: Int64) -> Step? {
                guard let first = steps.first, first.at <= until else { return nil }
                return steps.removeFirst()
            }
        }
        let queue = Queue()
        let requests = self.requests
        @Sendable func partyActors(_ kind: String?) -> [Actor] {
            switch kind {
            case PartyKind.propertyCompany.rawValue: [property].compactMap { $0 }
            case PartyKind.gridWorker.rawValue: [grid]
            case PartyKind.department.rawValue: [dept, street].compactMap { $0 }
            default: [community]
            }
        }
        /// The first of the party's people who may take the step (nil when none may).
        @Sendable func step(_ t: RequestTransition, _ id: Int64, _ input: RequestsService.ActionInput, by actors: [Actor]) async -> RequestView? {
            for a in actors { if let v = try? await requests.perform(t, id: id, input, actor: a) { return v } }
            return nil
        }
        @Sendable func note(_ text: String) -> RequestsService.ActionInput {
            var i = RequestsService.ActionInput()
            i.note = text
            return i
        }

        // Whatever happens, the clock is the real one again afterwards.
        defer { clock.set(nil) }
        var made = 0
        for day in 0..<days {
            let midnight = start + Int64(day) * 86400
            // The nightly sweep, then the day's reports (fewer on Sundays).
            await queue.add(midnight + 2 * 3600) { [self] in _ = try await requests.escalateOverdue() }
            let weekday = (startDay + Int64(day) + 4) % 7  // 0 = Sunday (1970-01-01 was a Thursday)
            let count = rng.int(0...(weekday == 0 ? 1 : 3))
            for _ in 0..<count {
                let at = midnight + Int64(rng.int(7 * 3600...21 * 3600))
                let (category, texts) = rng.pick(Self.historyTexts)
                let text = rng.pick(texts)
                let mine = rng.chance(0.2)
                let household = mine ? home : rng.pick(households)
                let channel = mine ? nil : rng.pick(["phone", "phone", "walk_in", "visit"])
                let filer = channel == "visit" ? grid : community
                let contact = rng.pick(Self.historyNames)
                let fate = HistoryFate.of(roll: rng.int(0...99))
                let rating = HistoryRating.of(roll: rng.int(0...99))
                let acceptAfter = Int64(rng.int(10...90) * 60)
                let resolveAfter = Int64(rng.int(3...20) * 3600)
                let publish = rng.chance(0.6)
                let lateBy = Int64(36 + rng.int(0...72)) * 3600
                let onPlace = ["sanitation", "parking", "public_facility"].contains(category) && compound != nil
                await queue.add(at) { [self] in
                    var i = RequestInput()
                    i.category = category; i.description = text; i.publicDetails = publish
                    if onPlace { i.placeID = compound } else { i.householdID = household }
                    if category == "lift" { i.attributes = ["trapped": "no"] }
                    if let channel {
                        // Taken by staff: published only as the resident agreed on the phone or at the door.
                        i.channel = channel; i.contactName = contact; i.callbackOK = true; i.residentConsent = publish
                    }
                    guard let r = try? await requests.submit(i, actor: mine ? resident : filer).request else { return }
                    let party = partyActors(r.partyKind)
                    let confirmer = mine ? [resident] : [community]
                    @Sendable func confirm(_ at: Int64) async {
                        await queue.add(at) {
                            var c = RequestsService.ActionInput()
                            c.rating = rating
                            if !mine { c.visitBy = "phone"; c.note = "电话回访，居民表示问题已解决" }
                            _ = await step(.confirm, r.id, c, by: confirmer)
                        }
                    }
                    @Sendable func resolve(_ at: Int64, then: Bool = true) async {
                        await queue.add(at) {
                            guard await step(.resolve, r.id, note("已处理完毕，请您确认。"), by: party) != nil else { return }
                            if then, fate != .unrated { await confirm(at + Int64(18 * 3600)) }
                        }
                    }
                    switch fate {
                    case .returned:
                        await queue.add(at + acceptAfter) {
                            _ = await step(.returnIt, r.id, note("经核实不属于我方职责范围，请社区另行派单。"), by: party)
                        }
                        await queue.add(at + acceptAfter + 3600) {
                            var re = RequestsService.ActionInput()
                            re.partyKind = PartyKind.residentsCommittee.rawValue; re.note = "改由社区居委会办理"
                            guard await step(.reassign, r.id, re, by: [community]) != nil else { return }
                            _ = await step(.accept, r.id, .init(), by: [community])
                        }
                        await queue.add(at + acceptAfter + 2 * 3600 + resolveAfter) {
                            guard await step(.resolve, r.id, note("社区已协调处理。"), by: [community]) != nil else { return }
                            await confirm(at + acceptAfter + 2 * 3600 + resolveAfter + 20 * 3600)
                        }
                    default:
                        await queue.add(at + acceptAfter) {
                            _ = await step(.accept, r.id, .init(), by: party)
                            var c = note("已与居民联系，约定上门时间。")
                            c.contacted = true; c.publicReply = publish
                            _ = await step(.note, r.id, c, by: party)
                        }
                        switch fate {
                        case .late:
                            await resolve(max(r.resolveDue, at) + lateBy)
                        case .rejectedOnce:
                            let first = at + acceptAfter + resolveAfter
                            await resolve(first, then: false)
                            await queue.add(first + 20 * 3600) {
                                var no = note("问题还没有彻底解决，请再来看看。")
                                no.rating = 2
                                if !mine { no.visitBy = "phone" }
                                _ = await step(.reject, r.id, no, by: confirmer)
                            }
                            await resolve(first + 44 * 3600)
                        default:
                            await resolve(at + acceptAfter + resolveAfter)
                        }
                    }
                }
                made += 1
            }
            // Run what falls on this day (steps queued for later days wait their turn).
            let dayEnd = min(midnight + 86400, Int64(end.timeIntervalSince1970))
            while let s = await queue.next(until: dayEnd) {
                clock.set(Date(timeIntervalSince1970: TimeInterval(s.at)))
                try? await s.run()
            }
        }
        return made
    }

    /// What residents report, by category (the texts a community office hears in a year).
    static let historyTexts: [(String, [String])] = [
        ("lift", ["电梯运行时有异响，停靠不平。", "电梯按钮失灵，按了没反应。", "电梯门关不上，一直开开关关。"]),
        ("water_leak", ["楼上卫生间漏水，我家天花板滴水。", "厨房水管接口渗水，地面一直是湿的。", "外墙渗水，卧室墙面发霉。"]),
        ("sanitation", ["垃圾桶满了没人清运，味道很大。", "楼道里堆了很多杂物，影响通行。", "绿化带里有人乱扔建筑垃圾。"]),
        ("parking", ["消防通道被私家车占了。", "有车长期停在别人车位上。", "电动车在楼道里充电，很危险。"]),
        ("common_repair", ["楼道灯坏了，晚上看不见。", "单元门禁坏了，门关不上。", "楼梯扶手松动，老人扶着不安全。"]),
        ("noise", ["楼上装修中午也在施工，很吵。", "楼下广场舞音响太大，晚上十点后还在放。", "隔壁深夜经常大声喧哗。"]),
        ("neighbour_dispute", ["邻居在公共走廊堆放鞋柜，协商不成。", "楼上空调外机滴水到我家阳台，沟通无果。"]),
        ("help", ["独居老人家里灯泡坏了，需要帮忙更换。", "老人腿脚不便，想请人帮忙买药。", "残疾居民轮椅坏了，请帮忙联系维修。"]),
        ("public_facility", ["健身器材螺丝松动，存在安全隐患。", "小区凉亭的座椅坏了。", "儿童滑梯有裂口，容易划伤孩子。"]),
        ("street_public", ["小区门口路灯不亮已经一周。", "人行道地砖松动，下雨溅水。", "路口井盖有响声，车过时很吵。"]),
        ("other", ["希望社区多组织一些老年人活动。", "想咨询居住证怎么办理。"]),
    ]
    static let historyNames = ["王秀英", "李建国", "张桂兰", "刘德华", "陈玉梅", "杨志强", "赵淑珍", "黄国平", "周丽华", "吴振国", "徐凤英", "孙立新"]
}
