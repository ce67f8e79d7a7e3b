import Foundation
import LinliCore
import LinliServer

extension Linli {
    /// The demo street's lists (admission, assist, negative and autonomy; the admission list
    /// revised once, so the history shows two versions), its field office's budget, and three
    /// work items: one admitted and in hand at the first community, one awaiting the street, one
    /// refused; street lights and city management routed to the field office by name, with one
    /// resident's report in its queue. Returns how many items it made (0 when the demo accounts are missing).
    public func loadOfficesDemo(suffix: String = "") async throws -> Int {
        guard let street = try await demoActor("street" + suffix), let dept = try await demoActor("dept" + suffix),
              let department = dept.grants.first(where: { $0.role == .departmentStaff })?.organisationID,
              let staff = try await demoActor("community" + suffix), let community = staff.grants.first(where: { $0.role == .communityStaff }) else { return 0 }
        let streetID = dept.grants.first { $0.role == .departmentStaff }!.placeID
        func list(_ kind: OfficeListKind, _ items: [(String, String, String, Bool, String?, String)], note: String,
                  workKinds: [String: WorkItemKind] = [:]) async throws -> Int64 {
            var d = OfficeDraftInput()
            d.kind = kind
            let id = try await offices.startDraft(placeID: streetID, d, actor: street)
            for (code, title, basis, ours, fee, unit) in items {
                var i = OfficeListItemInput()
                i.code = code; i.title = title; i.basis = basis; i.departmentID = ours ? department : nil; i.feePerUnit = fee; i.unit = unit
                i.workKind = workKinds[code]
                _ = try await offices.addListItem(listID: id, i, actor: street)
            }
            var p = OfficePublishInput()
            p.note = note
            try await offices.publish(listID: id, p, actor: street)
            return id
        }
        let basis = "《关于规范村（社区）工作事务的意见》"
        _ = try await list(.admission, [
            ("A-01", "垃圾分类入户宣传", basis, true, "2", "户"),
            ("A-02", "城市管理问题巡查上报", basis, true, "50", "月"),
        ], note: "首次发布", workKinds: ["A-01": .task, "A-02": .dataCollection])
        let admission2 = try await list(.admission, [("A-03", "防汛防台隐患排查", basis, false, "300", "次")], note: "增加防汛防台隐患排查")
        _ = admission2
        _ = try await list(.assist, [("B-01", "违法建设线索报告", basis, true, nil, "")], note: "首次发布")
        _ = try await list(.negative, [
            ("N-01", "开具应由公安机关出具的无犯罪记录证明", "《关于村（社区）出具证明事项的负面清单》", false, nil, ""),
            ("N-02", "要求社区为部门工作考核打分、排名", basis, false, nil, ""),
        ], note: "首次发布")
        _ = try await list(.autonomy, [("C-01", "小区公共收益使用议事", "《城乡社区治理条例》", false, nil, "")], note: "首次发布")
        var fund = DepartmentFundingInput()
        fund.amount = "20000"; fund.memo = "区财政下达的社区工作经费（第一批）"; fund.clientKey = "demo"
        try await offices.fund(departmentID: department, fund, actor: street)

        let choices = try await offices.submitChoices(actor: dept)
        guard let s = choices.streets.first, let entry = s.entries.first(where: { $0.code == "A-01" }) else { return 0 }
        let others = s.communities.map(\.id).filter { $0 != community.placeID }
        func item(_ title: String, _ kind: WorkItemKind, _ entryID: Int64?, _ communities: [Int64], units: Int = 1, fee: String? = nil) async throws -> Int64 {
            var i = WorkItemInput()
            i.title = title; i.kind = kind; i.listItemID = entryID; i.communityIDs = communities; i.units = units; i.fee = fee
            i.startsOn = choices.earliest
            i.dueOn = ChinaTime.iso(day: Input.day(choices.earliest)! + 30)
            i.detail = "请按要求完成并在期限内报告完成情况。"
            return try await offices.submit(i, actor: dept)
        }
        let sorting = try await item("垃圾分类入户宣传（第一季度）", .task, entry.id, [community.placeID] + others.prefix(2), units: 300)
        var yes = WorkItemDecisionInput()
        yes.reason = ""
        try await offices.admit(sorting, yes, actor: street)
        _ = try await item("城市管理问题月度巡查", .dataCollection, s.entries.first { $0.code == "A-02" }?.id, [community.placeID] + others.prefix(1))
        let scoring = try await item("社区配合执法工作情况打分", .assessment, nil, [community.placeID])
        var no = WorkItemDecisionInput()
        no.reason = "要求社区为部门打分排名，属于负面清单 N-02。"
        try await offices.refuse(scoring, no, actor: street)
        // Roads, street lights and city management at the street go to the field office by name:
        // its staff handle them in their own queue, and the ranking counts how.
        try await requests.setRoutingRule(category: "street_public", placeID: streetID, partyKind: PartyKind.department.rawValue, organisationID: department, actor: street)
        if let resident = try await demoActor("resident" + suffix), let home = resident.grants.first(where: { $0.role == .resident })?.householdID {
            var r = RequestInput()
            r.category = "street_public"; r.householdID = home; r.description = "小区北门外的路灯坏了一个多星期，晚上路过很黑。"
            _ = try await requests.submit(r, actor: resident)
        }
        // The first community's rating of the month: slow to answer its reports (a bad one, to fix).
        var rating = RatingInput()
        rating.level = 2; rating.timeliness = 2; rating.helpfulness = 3
        rating.comment = "社区上报的占道经营问题，两周后才有人来处理，居民意见很大。"
        _ = try await offices.rate(departmentID: department, rating, actor: staff)
        // This year's assessment of the street's communities, under way: values from the platform,
        // one self-assessment, one reviewer's score.
        var set = AssessmentInput()
        let year = String(choices.earliest.prefix(4))
        set.placeID = streetID; set.name = "\(Int(year)! - 1) 年度社区治理考核"; set.from = "\(Int(year)! - 1)-01-01"; set.to = "\(Int(year)! - 1)-12-31"; set.passMark = "80"
        let assessment = try await offices.createAssessment(set, actor: street)
        var firstIndicator: Int64 = 0
        for (code, name, metric, weight, target) in [("1", "诉求按期办结", IndicatorMetric.requestsOnTime, "30", "95"), ("2", "小区物业覆盖", .propertyCoverage, "20", "100"),
                                                     ("3", "小区党支部覆盖", .partyBranchCoverage, "20", "100"), ("4", "居民议事会议", .meetingsHeld, "10", "4"),
                                                     ("5", "特色工作", .manual, "20", "1")] {
            var i = IndicatorInput()
            i.code = code; i.name = name; i.metric = metric; i.weight = weight; i.target = target
            let id = try await offices.addIndicator(setID: assessment, i, actor: street)
            if firstIndicator == 0 { firstIndicator = id }
        }
        try await offices.openAssessment(assessment, actor: street)
        var mine = AssessmentScoreInput()
        mine.indicatorID = firstIndicator; mine.score = "95"; mine.note = "全年诉求均按期回复。"
        try await offices.selfAssess(assessment, mine, actor: staff)
        // Certificates: a residence certificate the communities issue, one the negative list keeps
        // for the police, and one issued for the first household's head.
        var kind = CertificateKindInput()
        kind.placeID = streetID; kind.name = "居住证明"; kind.basis = "《村（社区）出具证明事项清单》"
        kind.body = "兹证明{姓名}居住在{住址}。此证明用于{用途}。\n{社区}居民委员会\n{日期}"
        let residence = try await offices.addCertificateKind(kind, actor: street)
        kind = CertificateKindInput()
        kind.placeID = streetID; kind.name = "无犯罪记录证明"; kind.refused = true; kind.basis = "《关于村（社区）出具证明事项的负面清单》"
        kind.goInstead = "到户籍所在地或居住地公安派出所办理"
        _ = try await offices.addCertificateKind(kind, actor: street)
        if let resident = try await demoActor("resident" + suffix)?.grants.first(where: { $0.role == .resident })?.residentID {
            var c = CertificateInput()
            c.kindID = residence; c.residentID = resident; c.purpose = "子女入学"
            _ = try await offices.issueCertificate(c, actor: staff)
        }
        return 3
    }
}
