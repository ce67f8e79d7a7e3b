import Foundation
import HummingbirdBcrypt
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    /// Five-society linkage for the first community: volunteers (the demo resident and volunteer
    /// accounts plus residents registered at the office), the canteen's lunch delivery filled for
    /// the month, a one-off carrying job, rewards, needs with supporters, purchased services, a
    /// ramp micro-project crowdfunded with a street matching pool, an expense waiting for
    /// approval, and two social workers with their training.
    public func loadLinkageDemo(suffix: String = "") async throws -> Int64 {
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let staff = try await actor("community"), let street = try await actor("street"), let resident = try await actor("resident"),
              let volunteer = try await actor("volunteer"), let community = LinkageService.ownCommunity(resident) else { return 0 }
        let l = linkage
        let now = config.environment.nowSeconds
        let today = LocalDay.of(now)

        // Volunteers: the two demo accounts register themselves.
        var v = LinkageService.VolunteerInput()
        v.skills = ["delivery", "it"]; v.availability = ["1am", "2am", "3am", "4am", "5am", "6pm", "7pm"]; v.languages = "普通话、本地话"; v.canCarry = true
        _ = try await l.registerVolunteer(v, actor: resident)
        v.skills = ["delivery", "care", "medical"]; v.availability = ["1am", "2am", "3am", "4am", "5am", "1pm", "3pm", "5pm"]; v.canDrive = true
        _ = try await l.registerVolunteer(v, actor: volunteer)

        // Residents who signed up at the service centre: accounts they can claim later, no password known.
        let unusable = Bcrypt.hash(config.environment.token(bytes: 16), cost: 4)
        let skillSets = [["delivery"], ["delivery", "care"], ["carry"], ["tutoring"], ["repair", "carry"], ["delivery", "dialect"], ["care", "medical"], ["it", "tutoring"]]
        let periods = [["1am", "2am", "3am", "4am", "5am"], ["1am", "3am", "5am", "6am"], ["2am", "4am", "6pm", "7pm"], ["1pm", "2pm", "3pm", "4pm", "5pm"], ["1am", "2am", "3am", "4am", "5am", "6am", "7am"]]
        try await store.transaction { db in
            let people = try await db.raw("""
                SELECT r.name, h.path FROM residents r JOIN households h ON h.id = r.household_id
                WHERE h.community_id = \(bind: community.id) AND r.birth_date BETWEEN '1960-01-01' AND '2004-12-31' ORDER BY r.id LIMIT 36
                """).all()
            for (i, p) in people.enumerated() {
                let name = try p.decode(column: "name", as: String.self), home = try p.decode(column: "path", as: String.self)
                let uid = try await db.raw("""
                    INSERT INTO users (username, display_name, password_hash, created_at, demo) VALUES (\(bind: "vol\(suffix)-\(i + 1)"), \(bind: name), \(bind: unusable), \(bind: now), 1)
                    ON CONFLICT (username) DO NOTHING RETURNING id
                    """).first()
                guard let uid = try uid?.decode(column: "id", as: Int64.self) else { continue }
                let point = try await LinkageService.point(db, placePath: home)
                let skills = skillSets[i % skillSets.count]
                let avail = String(decoding: try JSON.encoder.encode(Availability.from(keys: periods[i % periods.count])), as: UTF8.self)
                try await db.raw("""
                    INSERT INTO volunteers (user_id, community_id, path, name, skills, languages, availability, area_place_id, lat, lng, can_carry, can_drive, status, created_at, updated_at)
                    VALUES (\(bind: uid), \(bind: community.id), \(bind: community.path), \(bind: name), \(bind: skills.joined(separator: "|")), '普通话', \(bind: avail),
                            \(bind: PlacePath.ids(home).last), \(bind: point?.0), \(bind: point?.1), \(bind: skills.contains("carry") ? 1 : 0), 0, 'active', \(bind: now), \(bind: now))
                    """).run()
            }
        }
        let team = try await l.createTeam(communityID: community.id, name: "社区志愿服务队", kind: "community", organisationID: nil, actor: staff)
        let members: [Int64] = try await store.read { db in
            try await db.raw("SELECT id FROM volunteers WHERE community_id = \(bind: community.id) ORDER BY id LIMIT 12").all().map { try $0.decode(column: "id", as: Int64.self) }
        }
        for m in members { try await l.addTeamMember(teamID: team, volunteerID: m, actor: staff) }

        // The canteen has the meals and now the people: weekday lunch delivery to 14 elderly households.
        let (compound, codes): (Int64, [String]) = try await store.read { db in
            let rows = try await db.raw("""
                SELECT DISTINCT h.code, h.path FROM households h JOIN residents r ON r.household_id = h.id
                WHERE h.community_id = \(bind: community.id) AND (r.tags LIKE '%elderly_alone%' OR r.tags LIKE '%elderly%') ORDER BY h.code LIMIT 14
                """).all()
            let codes = try rows.map { try $0.decode(column: "code", as: String.self) }
            let path = try rows.first?.decode(column: "path", as: String.self) ?? community.path
            return (PlacePath.ids(path).count > 4 ? PlacePath.ids(path)[4] : community.id, codes)
        }
        var lunch = LinkageService.TaskInput()
        lunch.communityID = community.id; lunch.title = "长者食堂送餐上门"; lunch.kind = "recurring"; lunch.skills = ["delivery"]
        lunch.description = "每个工作日 11:00 从邻里食堂取餐，送到 14 户独居和高龄老人家中，到户扫码签到。"
        lunch.placeID = compound; lunch.address = "邻里食堂（党群服务中心一楼）"; lunch.headcount = 3
        lunch.firstDay = ChinaTime.iso(day: today - 10); lunch.lastDay = ChinaTime.iso(day: today + 45)
        lunch.weekdays = [1, 2, 3, 4, 5]; lunch.startTime = "11:00"; lunch.durationMinutes = 60; lunch.pointsPerHour = 10; lunch.households = codes
        let lunchID = try await l.postTask(lunch, actor: staff)
        // The demo volunteer is asked for the next delivery; the filler then shares out the rest of
        // this month and the next.
        let (next, demoVolunteer): (Int64?, Int64) = try await store.read { db in
            (try await db.raw("SELECT id FROM task_shifts WHERE task_id = \(bind: lunchID) AND starts_at > \(bind: now) ORDER BY starts_at").first()?.decode(column: "id", as: Int64.self),
             try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: volunteer.userID)").first()!.decode(column: "id", as: Int64.self))
        }
        if let next { _ = try await l.propose(shiftID: next, volunteerID: demoVolunteer, actor: staff) }
        for month in [today, today + 31].map({ String(ChinaTime.iso(day: $0).prefix(7)) }) {
            _ = try await l.fillMonth(communityID: community.id, taskID: nil, month: month, actor: staff)
        }

        var wardrobe = LinkageService.TaskInput()
        wardrobe.communityID = community.id; wardrobe.title = "帮独居老人搬衣柜"; wardrobe.kind = "one_off"; wardrobe.skills = ["carry"]
        wardrobe.placeID = compound; wardrobe.headcount = 2; wardrobe.durationMinutes = 90; wardrobe.pointsPerHour = 15
        wardrobe.startsAt = LocalTime.text(LocalDay.start(today + 3) + 9 * 3600).replacingOccurrences(of: " ", with: "T")
        _ = try await l.postTask(wardrobe, actor: staff)

        // A record of service: the demo volunteer delivered lunch on two past days, hours confirmed.
        try await store.transaction { db in
            let vid = try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: volunteer.userID)").first()!.decode(column: "id", as: Int64.self)
            let past = try await db.raw("SELECT id, starts_at, ends_at FROM task_shifts WHERE task_id = \(bind: lunchID) AND ends_at < \(bind: now) ORDER BY starts_at DESC LIMIT 2").all()
            for s in past {
                let sid = try s.decode(column: "id", as: Int64.self), a = try s.decode(column: "starts_at", as: Int64.self), b = try s.decode(column: "ends_at", as: Int64.self)
                let aid = try await db.raw("""
                    INSERT INTO shift_assignments (shift_id, task_id, volunteer_id, starts_at, ends_at, status, check_in_at, check_in_method, check_out_at, minutes, confirmed_by, confirmed_at, points, created_at)
                    VALUES (\(bind: sid), \(bind: lunchID), \(bind: vid), \(bind: a), \(bind: b), 'done', \(bind: a + 120), 'code', \(bind: b - 300), 55, \(bind: staff.userID), \(bind: b + 3600), 9, \(bind: a - 86400))
                    RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
                try await db.raw("INSERT INTO point_entries (volunteer_id, delta, kind, assignment_id, note, at) VALUES (\(bind: vid), 9, 'earn', \(bind: aid), '长者食堂送餐上门', \(bind: b + 3600))").run()
            }
        }
        _ = try await l.addReward(communityID: community.id, name: "社区理发券", points: 10, stock: 30, actor: staff)
        _ = try await l.addReward(communityID: community.id, name: "家电维修一次", points: 30, stock: 10, actor: staff)
        _ = try await l.addReward(communityID: community.id, name: "粮油礼包", points: 100, stock: 5, actor: staff)

        // Needs: what residents ask for; only elderly care is covered by a purchased service.
        func need(_ kind: String, _ domain: String, _ title: String, _ body: String, by: Actor) async throws -> Int64 {
            var n = LinkageService.NeedInput()
            n.communityID = community.id; n.kind = kind; n.domain = domain; n.title = title; n.body = body
            return try await l.postNeed(n, actor: by)
        }
        let ramp = try await need("proposal", "environment", "3 幢单元门口加装无障碍坡道", "坐轮椅的邻居和推婴儿车的家庭进出困难，建议在单元门口加装坡道和扶手。", by: resident)
        let afterSchool = try await need("need", "children", "放学后托管", "双职工家庭孩子放学后无人照看，希望社区提供课后托管和作业辅导。", by: resident)
        _ = try await need("need", "elderly", "独居老人助浴", "行动不便的独居老人洗澡困难，希望有助浴服务。", by: volunteer)
        _ = try await need("need", "mediation", "邻里纠纷免费法律咨询", "楼上漏水等纠纷希望有律师定期坐班。", by: volunteer)
        _ = try await l.support(needID: ramp, actor: volunteer)
        var svc = LinkageService.ServiceInput()
        svc.placeID = PlacePath.ids(community.path)[2]; svc.domain = "elderly"; svc.name = "居家养老上门服务"; svc.provider = "颐康居家养老服务中心"
        svc.communityIDs = [community.id]
        _ = try await l.addService(svc, actor: street)

        // Social workers and a social organisation carrying the ramp project.
        var w = LinkageService.WorkerInput()
        w.communityID = community.id; w.name = "陈晓雯"; w.certificateLevel = "social_worker"
        let senior = try await l.addWorker(w, actor: staff)
        w.name = "刘子轩"; w.certificateLevel = "assistant"; w.supervisorID = senior
        let junior = try await l.addWorker(w, actor: staff)
        try await l.addTraining(workerID: junior, programme: "seed", title: "社区需求调研方法", hours: 16, day: ChinaTime.iso(day: today - 60), actor: staff)
        try await l.addTraining(workerID: junior, programme: "sprout", title: "微项目设计与评估", hours: 24, day: ChinaTime.iso(day: today - 20), actor: staff)
        try await l.addTraining(workerID: senior, programme: "unfold", title: "社工督导实务", hours: 32, day: ChinaTime.iso(day: today - 90), actor: staff)
        let org: Int64? = try await store.read { db in
            try await db.raw("""
                SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.kind = 'social_organisation' AND \(store.dialect.startsWith("p.path", community.path)) ORDER BY o.id LIMIT 1
                """).first()?.decode(column: "id", as: Int64.self)
        }

        // The ramp: a micro-project, crowdfunded; the street matches one to one up to 10,000 yuan.
        var p = LinkageService.ProjectInput()
        p.needID = ramp; p.title = "3 幢无障碍坡道"; p.summary = "在 3 幢两个单元门口加装坡道和扶手，社工组织居民议定方案，志愿者参与施工监督。"
        p.domain = "environment"; p.budget = "30000"; p.organisationID = org; p.socialWorkerID = junior
        let project = try await l.createProject(p, actor: staff)
        _ = try await l.advanceProject(project, note: "走访 46 户，31 户支持，方案为两个单元各加一处坡道。", evaluation: nil, rating: nil, actor: staff)
        var pool = LinkageService.PoolInput()
        pool.placeID = PlacePath.ids(community.path)[2]; pool.name = "街道社区微项目配捐资金"; pool.ratioPercent = 100; pool.projectCap = "10000"; pool.amount = "200000"
        let poolID = try await l.createPool(pool, actor: street)
        try await l.openCampaign(projectID: project, goal: "30000", seed: "5000", poolID: poolID, actor: staff)
        for (name, amount, kind, open) in [("张桂兰", "200", "resident", false), ("3 幢业主群", "3600", "resident", true), ("王建国", "500", "resident", false),
                                           ("街角便利店", "2000", "merchant", true), ("李秀英", "100", "resident", false)] {
            var d = LinkageService.DonationInput()
            d.amount = amount; d.name = name; d.donorKind = kind; d.publicName = open
            _ = try await l.donate(projectID: project, d, actor: staff)
        }
        var gift = LinkageService.DonationInput()
        gift.amount = "50"
        _ = try await l.donate(projectID: project, gift, actor: resident)
        try await l.addProjectMilestone(project, title: "方案公示", dueDay: ChinaTime.iso(day: today + 7), actor: staff)
        try await l.addProjectMilestone(project, title: "施工完成", dueDay: ChinaTime.iso(day: today + 40), actor: staff)
        // A design fee asked for, waiting for approval (the demo's receipt is a one-pixel image).
        let pixel = [UInt8](Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")!)
        _ = try await l.requestExpense(projectID: project, amount: "1500", payee: "某设计工作室", purpose: "坡道方案设计费", receipt: pixel, actor: street)
        // A street venture round: the after-school need became a project and applied; one review is in.
        var kids = LinkageService.ProjectInput()
        kids.needID = afterSchool; kids.title = "四点半课堂"; kids.summary = "放学后在党群微家开设课后托管，大学生志愿者辅导作业。"
        kids.domain = "children"; kids.budget = "12000"; kids.organisationID = org; kids.socialWorkerID = senior
        let kidsProject = try await l.createProject(kids, actor: staff)
        var round = LinkageService.RoundInput()
        round.placeID = PlacePath.ids(community.path)[2]; round.name = "\(ChinaTime.iso(day: today).prefix(4)) 年街道公益创投"; round.budget = "100000"
        round.scoresNeeded = 2; round.instalments = 3
        let roundID = try await l.openRound(round, actor: street)
        let application = try await l.apply(roundID: roundID, projectID: kidsProject, requested: "12000", plan: "每周一至周五 16:30–18:00，30 名儿童，10 名志愿者轮值。", actor: staff)
        try await l.score(applicationID: application, score: 86, comment: "需求真实，方案可行", actor: street)
        return project
    }
}

extension Linli {
    /// The linkage's past, through its use cases with the demo clock at each step's date: a
    /// season of weekend patrols (four months ago to one month ago) served by the two demo
    /// volunteers — each shift proposed, accepted, confirmed, checked in and out by staff and its
    /// hours confirmed, so the volunteers have hours, points and a certificate to print — and a
    /// children's project carried from analysis to its evaluation and rating.
    /// Returns how many shifts were served.
    public func loadLinkageHistory(clock: DemoClock, suffix: String = "") async throws -> Int {
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let staff = try await actor("community"), let resident = try await actor("resident"), let volunteer = try await actor("volunteer"),
              let community = LinkageService.ownCommunity(resident) else { return 0 }
        let l = linkage
        defer { clock.set(nil) }
        let startDay = LocalDay.of(Int64(Date().timeIntervalSince1970)) - 120
        // The clock only moves forward: a step planned before one already taken waits for it.
        func at(_ seconds: Int64) { clock.set(Date(timeIntervalSince1970: max(TimeInterval(seconds), clock.now.timeIntervalSince1970))) }
        clock.set(Date(timeIntervalSince1970: TimeInterval(LocalDay.start(startDay) + 9 * 3600)))
        // A children's project of the same months, evaluated and rated when it ended: its steps are
        // taken as their days come, between the Saturdays, so the clock only moves forward.
        var p = LinkageService.ProjectInput()
        p.communityID = community.id; p.title = "暑期四点半课堂"; p.domain = "children"; p.budget = "12000"
        p.summary = "暑假期间为双职工家庭的孩子提供作业辅导和阅读活动，大学生志愿者和退休教师轮流值班。"
        let project = try await l.createProject(p, actor: staff)
        var projectSteps: [(day: Int64, note: String, evaluation: String?, rating: Int?)] = [
            (7, "走访 60 户双职工家庭，42 户有需要，确定每周一至五 16:30–18:00 开课。", nil, nil),
            (20, "与社区学校签订场地协议，招募志愿者 12 名。", nil, nil),
            (80, "共开课 38 次，服务儿童 1,140 人次，家长满意度调查 96% 满意。", nil, nil),
            (95, "评估完成，项目结项。", "目标全部达成：参与儿童 42 名，出勤率 91%，家长满意度 96%。建议寒假继续开办，增加科学实验内容。", 5),
        ]
        func projectStepsUntil(_ moment: Int64) async throws {
            while let next = projectSteps.first, LocalDay.start(startDay + next.day) + 10 * 3600 <= moment {
                projectSteps.removeFirst()
                at(LocalDay.start(startDay + next.day) + 10 * 3600)
                _ = try await l.advanceProject(project, note: next.note, evaluation: next.evaluation, rating: next.rating, actor: staff)
            }
        }
        var volunteers: [(Actor, Int64)] = []
        for a in [resident, volunteer] {
            if let vid = try await store.read({ db in
                try await db.raw("SELECT id FROM volunteers WHERE user_id = \(bind: a.userID)").first()?.decode(column: "id", as: Int64.self)
            }) { volunteers.append((a, vid)) }
        }
        if volunteers.isEmpty { try await projectStepsUntil(Int64.max); return 0 }
        var patrol = LinkageService.TaskInput()
        patrol.communityID = community.id; patrol.title = "周末小区平安巡查"; patrol.kind = "recurring"; patrol.skills = []
        patrol.description = "周六上午巡查小区消防通道、电动车充电和楼道堆物，发现问题当场劝导，拍照反映给物业。"
        patrol.address = "党群服务中心门口集合"; patrol.headcount = 2
        let home = PlacePath.ids(resident.grants.first { $0.role == .resident }?.placePath ?? community.path)
        patrol.placeID = home.count > 4 ? home[4] : community.id
        patrol.firstDay = ChinaTime.iso(day: startDay + 1); patrol.lastDay = ChinaTime.iso(day: startDay + 90)
        patrol.weekdays = [6]; patrol.startTime = "09:00"; patrol.durationMinutes = 90; patrol.pointsPerHour = 10
        let task = try await l.postTask(patrol, actor: staff)
        let posted = Int64(clock.now.timeIntervalSince1970)
        let shifts: [(id: Int64, starts: Int64, ends: Int64)] = try await store.read { db in
            try await db.raw("SELECT id, starts_at, ends_at FROM task_shifts WHERE task_id = \(bind: task) ORDER BY starts_at").all().map {
                (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "starts_at", as: Int64.self), try $0.decode(column: "ends_at", as: Int64.self))
            }
        }
        var served = 0
        for s in shifts {
            try await projectStepsUntil(max(s.starts - 3 * 86400, posted + 600))
            // Asked three days before, answered the same evening, confirmed the next morning.
            var assignments: [Int64] = []
            // Never before the task was posted (the first Saturday may be sooner than three days).
            let asked = max(s.starts - 3 * 86400, posted + 600)
            for (who, vid) in volunteers {
                at(asked)
                guard let a = try? await l.propose(shiftID: s.id, volunteerID: vid, actor: staff) else { continue }
                at(min(asked + 10 * 3600, s.starts - 3600))
                guard (try? await l.answer(assignmentID: a, accept: true, actor: who)) != nil else { continue }
                at(min(asked + 20 * 3600, s.starts - 1800))
                guard (try? await l.confirmAssignment(a, actor: staff)) != nil else { continue }
                assignments.append(a)
            }
            // On the day: staff sign them in and out at the desk, and confirm the hours.
            at(s.ends + 15 * 60)
            for a in assignments {
                try await l.checkIn(a, code: nil, at: LocalTime.text(s.starts + 5 * 60).replacingOccurrences(of: " ", with: "T"), actor: staff)
                try await l.checkOut(a, at: LocalTime.text(s.ends).replacingOccurrences(of: " ", with: "T"), actor: staff)
                at(s.ends + 3600)
                _ = try await l.confirmHours(a, minutes: nil, actor: staff)
                served += 1
            }
        }
        try await projectStepsUntil(Int64.max)
        return served
    }
}
