import Foundation
import LinliCore
import LinliServer

extension Linli {
    /// The demo community's service centre: three services (online, either, counter only), two
    /// weeks of counter times, and the demo resident's applications — one sent back for a
    /// missing paper, one booked at the counter. Returns how many services it made (0 when the
    /// demo accounts are missing).
    public func loadServicesDemo(suffix: String = "") async throws -> Int {
        guard let staff = try await demoActor("community" + suffix), let resident = try await demoActor("resident" + suffix),
              let community = LinkageService.ownCommunity(resident) else { return 0 }
        let today = LocalDay.of(config.environment.nowSeconds)
        func make(_ name: String, _ mode: AffairMode, _ days: Int, _ materials: [String], _ about: String) async throws -> AffairView {
            var i = AffairInput()
            i.placeID = community.id; i.name = name; i.mode = mode; i.promisedDays = days
            i.materials = materials.joined(separator: "\n"); i.description = about
            return try await affairs.createAffair(i, actor: staff)
        }
        let proof = try await make("居住证明", .online, 3, ["申请人身份证（正反面）", "户口簿或居住证", "房产证或租房合同"],
                                   "用于子女入学、办理居住证等。材料齐全的，3 个工作日内办结，可到社区服务中心领取或邮寄。")
        let allowance = try await make("高龄津贴申请", .both, 5, ["老人身份证", "户口簿", "本人社保卡或银行卡"],
                                       "年满 80 周岁的户籍老人每月领取高龄津贴。行动不便的，可由家属在线申请或请网格员代办。")
        let card = try await make("老年优待证办理", .counter, 0, ["老人身份证", "近期一寸免冠照片一张"], "窗口当场办结。请预约后带齐材料前来。")
        var plan = SlotPlanInput()
        plan.from = ChinaTime.iso(day: today + 1); plan.to = ChinaTime.iso(day: today + 14)
        plan.start = "09:00"; plan.end = "11:30"; plan.every = 30; plan.capacity = 2
        _ = try await affairs.openSlots(allowance.id, plan, actor: staff)
        plan.start = "14:00"; plan.end = "16:30"
        _ = try await affairs.openSlots(card.id, plan, actor: staff)
        var apply = ApplyInput()
        apply.note = "孩子明年上小学，学校要居住证明。"
        let (sent, _) = try await affairs.apply(proof.id, apply, actor: resident)
        var back = AffairStepInput()
        back.note = "请补拍房产证或租房合同的首页和盖章页。"
        _ = try await affairs.step(sent.id, .returnPapers, back, actor: staff)
        if let slot = try await affairs.slots(card.id, actor: resident).first {
            var book = ApplyInput()
            book.slotID = slot.id
            _ = try await affairs.apply(card.id, book, actor: resident)
        }
        // Two activities: one for every family (the demo household signs up), one for the elderly.
        var act = ActivityInput()
        act.placeID = community.id; act.title = "周末亲子手工课"; act.venue = "社区党群服务中心二楼"; act.capacity = 12
        act.organiser = "社区青少年服务站"; act.description = "用旧纸盒做灯笼，材料由社区准备。请家长陪同。"
        act.startsAt = ChinaTime.iso(day: today + 6) + "T09:30"; act.endsAt = ChinaTime.iso(day: today + 6) + "T11:00"
        act.helpers = 2; act.helperPointsPerHour = 10
        let family = try await affairs.createActivity(act, actor: staff)
        act.helpers = nil; act.helperPointsPerHour = nil
        var join = SignUpInput()
        join.people = 2
        _ = try await affairs.signUp(family.id, join, actor: resident)
        act.title = "老年人防诈骗讲座"; act.venue = "社区老年活动室"; act.capacity = 40; act.audience = .elderly
        act.organiser = "派出所社区民警"; act.description = "讲讲最近的保健品、养老投资骗局，现场答疑。"
        act.startsAt = ChinaTime.iso(day: today + 3) + "T14:30"; act.endsAt = ChinaTime.iso(day: today + 3) + "T16:00"
        _ = try await affairs.createActivity(act, actor: staff)
        // The community's rooms: the party-and-community home, booked by the calligraphy club every
        // Tuesday evening for the season, and a children's space residents book themselves.
        var room = SpaceInput()
        room.placeID = community.id; room.name = "党群微家"; room.kind = .partyHome; room.capacity = 30; room.opens = "08:30"; room.closes = "21:00"
        room.residentsMayBook = true; room.needsApproval = true
        let home = try await createSpaceForDemo(room, staff)
        var series = SpaceBookingInput()
        series.day = ChinaTime.iso(day: today + 1); series.until = ChinaTime.iso(day: today + 90); series.weekday = 2
        series.start = "19:00"; series.end = "21:00"; series.purpose = "书法协会活动"
        _ = try await affairs.book(home, series, actor: staff)
        room.name = "儿童之家"; room.kind = .children; room.capacity = 15; room.closes = "18:00"; room.needsApproval = false
        _ = try await createSpaceForDemo(room, staff)
        // The neighbourhood canteen: the street's meal subsidy (80 and over; 低保), a week of
        // lunches, and the demo household's order for its eldest, delivered.
        var canteen = CanteenInput()
        canteen.placeID = community.id; canteen.name = "邻里食堂"; canteen.cutoff = "09:30"; canteen.deliveryFee = "2"
        let kitchen = try await affairs.createCanteen(canteen, actor: staff)
        // Its delivery round rides on the volunteers' weekday lunch-delivery shifts (linkage's demo).
        if let round = try await affairs.deliveryTaskChoices(kitchen.id, actor: staff).first(where: { $0.title == "长者食堂送餐上门" }) {
            _ = try await affairs.setDeliveryTask(kitchen.id, taskID: round.id, actor: staff)
        }
        if let street = try await demoActor("street" + suffix), let streetID = street.grants(for: .affairHandle).first?.placeID {
            var rule = SubsidyRuleInput()
            rule.placeID = streetID; rule.label = "80 周岁以上老人"; rule.from = ChinaTime.iso(day: today - 30); rule.minAge = 80
            rule.subsidy = "6"; rule.deliverySubsidy = "2"; rule.minSpend = "3"
            _ = try await affairs.addSubsidyRule(rule, actor: street)
            rule.label = "低保、特困老人"; rule.minAge = nil; rule.situation = "low_income"; rule.subsidy = "8"; rule.minSpend = "0"
            _ = try await affairs.addSubsidyRule(rule, actor: street)
        }
        let dishes = ["红烧狮子头、清炒菜心、番茄蛋汤", "清蒸鲈鱼、麻婆豆腐、冬瓜汤", "土豆炖牛肉、蒜蓉西兰花、紫菜汤", "糖醋排骨、香菇青菜、玉米汤",
                      "葱油鸡、家常豆腐、萝卜汤", "宫保鸡丁、手撕包菜、丝瓜汤", "梅干菜扣肉、炒三丝、菌菇汤"]
        var firstMenu: Int64?
        for n in 0..<7 {
            var m = MenuInput()
            m.day = ChinaTime.iso(day: today + 1 + Int64(n)); m.meal = "lunch"; m.dishes = dishes[n]; m.price = "12"; m.portions = 60
            let id = try await affairs.setMenu(kitchen.id, m, actor: staff)
            if firstMenu == nil { firstMenu = id }
        }
        // A community enterprise (社区企业): the community holds 51% and takes back 30% of the
        // profit; last year reported, and the first part of its return arrived at the bank.
        var firm = EnterpriseInput()
        firm.placeID = community.id; firm.name = "邻里家政服务有限公司"; firm.communityShare = 51; firm.returnPercent = 30
        firm.business = "家政保洁、长者食堂送餐、小区便民维修；社区居民享九折。"; firm.contact = "王经理"
        let enterprise = try await affairs.registerEnterprise(firm, actor: staff)
        let lastYear = Int(ChinaTime.iso(day: today).prefix(4))! - 1
        var year = EnterpriseYearInput()
        year.year = lastYear; year.revenue = "1,286,000"; year.profit = "186,400"; year.served = 5230
        year.report = "全年上门保洁 2,140 次、送餐 2,860 份、便民维修 230 次；吸纳社区就业 12 人，其中 4 人为就业困难人员。"
        _ = try await affairs.reportYear(enterprise.id, year, actor: staff)
        var arrived = EnterpriseReturnInput()
        arrived.year = lastYear; arrived.amount = "30,000"; arrived.day = ChinaTime.iso(day: today - 20)
        arrived.reference = "农商行 " + arrived.day!.replacingOccurrences(of: "-", with: "") + "-0088"
        _ = try await affairs.receiveReturn(enterprise.id, arrived, actor: staff)
        // A neighbour's ask in the time bank.
        var ask = HelpPostInput()
        ask.kind = "ask"; ask.title = "帮忙把旧沙发搬下楼"; ask.detail = "周六上午，三楼，需要两个人。"; ask.minutes = 60
        _ = try await affairs.postHelp(ask, actor: resident)
        if let menu = firstMenu, let h = resident.grants.first(where: { $0.role == .resident })?.householdID,
           let eldest = try await registry.household(h, actor: resident).residents.max(by: { $0.age < $1.age }) {
            var o = MealOrderInput()
            o.residentID = eldest.id; o.delivery = true
            _ = try await affairs.order(menu, o, actor: resident)
            // Another of the household eats in, paid in cash at the counter — and the same meal's
            // WeChat payment arrived as well: held on the community fund's page for the office.
            if let other = try await registry.household(h, actor: resident).residents.first(where: { $0.id != eldest.id }) {
                o.residentID = other.id; o.delivery = false
                let eats = try await affairs.order(menu, o, actor: resident)
                if let reference = eats.payReference {
                    _ = try await affairs.payAtCounter(eats.id, actor: staff)
                    let twice = ArrivedPayment(reference: reference, amount: try Fen.parse(eats.pay, field: "pay"), provider: "wechatpay",
                                               providerTransaction: "42000020261207" + String(eats.id))
                    try await linkage.receiveProviderPayment(twice)
                }
            }
        }
        return 3
    }

    private func createSpaceForDemo(_ i: SpaceInput, _ staff: Actor) async throws -> Int64 {
        try await affairs.createSpace(i, actor: staff).id
    }
}
