import Foundation
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Objects of every kind the routes are keyed by, on the first street (where the demo accounts
/// work: "inside") and their twins on the second street, made by that street's own accounts
/// (community2, street2, …) through the same use cases ("outside"). The route matrix asks every
/// role for both.
struct MatrixWorld {
    /// Object kind (the path segment before the id: "matters", "shifts", …) → id on each street.
    var inside: [String: String] = [:]
    var outside: [String: String] = [:]
    /// A grant of the target user on each street, for `/users/:id/grants/:grant/revoke`.
    var insideGrant = "", outsideGrant = ""

    static func make(_ f: Fixture) async throws -> MatrixWorld {
        let l = f.linli
        let streets = [(f.demo, ""), (f.demo.byStreet[1], "2")]
        _ = try await l.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
        var w = MatrixWorld()
        for (s, suffix) in streets {
            _ = try await l.loadRequestsDemo(suffix: suffix)
            #expect(try await l.loadDeliberationDemo(suffix: suffix) > 0)
            #expect(try await l.loadLinkageDemo(suffix: suffix) > 0)
            let staff = try await f.actor("community" + suffix), street = try await f.actor("street" + suffix)
            let resident = try await f.actor("resident" + suffix)
            let community = s.firstCommunityID
            // What no demo makes: an announcement, a micro-grid leader, a request with a photo, a
            // paper ballot with its signed image, a routing rule, a user with a grant, a binding to confirm.
            var a = AnnouncementInput()
            a.communityID = community; a.title = "停水通知"; a.body = "周三 9:00–12:00 停水。"; a.audienceKind = "community"
            _ = try await l.gridWork.announce(a, actor: staff)
            var task = GridTaskInput()
            task.communityID = community; task.title = "燃气安全告知"; task.audienceKind = "community"
            task.deadline = ChinaTime.iso(day: LocalDay.of(Int64(Date().timeIntervalSince1970)) + 7)
            _ = try await l.gridWork.assignTask(task, actor: staff)
            // A patrol route of the first grid, walked once: a finding put right there, with its photo.
            let firstGrid = try await l.store.read { db in
                try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'grid' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            var route = PatrolRouteInput()
            route.gridID = firstGrid; route.name = "消防通道"; route.period = "week"; route.points = [PatrolRules.Point(label: "东门")]
            let laid = try await l.gridWork.saveRoute(nil, route, actor: staff)
            var walk = PatrolInput()
            var check = PatrolCheckInput()
            check.position = 1; check.result = "finding"; check.finding = "fire_passage"; check.note = "电动车堵住消防通道，已劝离"; check.handled = true
            walk.routeID = laid.id; walk.checks = [check]
            _ = try await l.gridWork.recordPatrol(walk, photos: [1: [TestImages.png]], actor: staff)
            let (micro, person, streetPath, household) = try await l.store.read { db in
                (try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'micro' ORDER BY id").first()!.decode(column: "id", as: Int64.self),
                 try await db.raw("SELECT MIN(r.id) AS id FROM residents r JOIN households h ON h.id = r.household_id WHERE h.community_id = \(bind: community)").first()!
                    .decode(column: "id", as: Int64.self),
                 try await db.raw("SELECT path FROM places WHERE id = \(bind: s.firstStreetID)").first()!.decode(column: "path", as: String.self),
                 try await db.raw("SELECT id, path FROM households WHERE id = \(bind: s.firstHouseholdWithResidents)").first()!)
            }
            _ = try await l.registry.appoint(post: "micro_grid_leader", placeID: nil, gridID: micro, residentID: person, actor: staff)
            // A provider's payment held for the office (another amount than the pledge's).
            let heldPath = try household.decode(column: "path", as: String.self)
            try await l.store.transaction { db in
                try await db.raw("""
                    INSERT INTO held_payments (provider, provider_txn, reference, amount, reason, message, path, received_at)
                    VALUES ('wechatpay', \(bind: "wechatpay:matrix" + suffix), 'LLAAAAAAAAAAAAAAAA', 100, 'amount_mismatch', '金额不符', \(bind: heldPath), 0)
                    """).run()
            }
            var r = RequestInput()
            r.category = "noise"; r.description = "楼下广场舞音响太大，晚上十点后还在放。"; r.householdID = s.firstHouseholdWithResidents
            _ = try await l.requests.submit(r, photos: [TestImages.png], actor: resident)
            let (poll, part) = try await l.store.read { db in
                let p = try await db.raw("SELECT id FROM polls WHERE path LIKE \(bind: streetPath + "%") AND status = 'open' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
                let part = try await db.raw("""
                    SELECT part_id FROM poll_parts WHERE poll_id = \(bind: p) AND part_id NOT IN (SELECT part_id FROM ballots WHERE poll_id = \(bind: p)) ORDER BY part_id
                    """).first()!.decode(column: "part_id", as: Int64.self)
                return (p, part)
            }
            var b = DeliberationService.BallotInput()
            b.partIDs = [part]; b.method = "proxy"; b.proxyName = "李四"; b.choice = "yes"
            _ = try await l.deliberation.castBallots(poll, b, proxyDocument: TestImages.png, actor: staff)
            try await l.requests.setRoutingRule(category: "noise", placeID: community, partyKind: "residents_committee", actor: street)
            let target = "target" + suffix
            _ = try await l.accounts.createUser(username: target, displayName: "被授权人", password: Fixture.password)
            try await l.accounts.grant(username: target, role: .volunteer, placeID: community)
            let (targetID, grant) = try await l.store.transaction { db in
                let u = try await db.raw("SELECT id FROM users WHERE username = \(bind: target)").first()!.decode(column: "id", as: Int64.self)
                let g = try await db.raw("SELECT id FROM role_grants WHERE user_id = \(bind: u)").first()!.decode(column: "id", as: Int64.self)
                try await db.raw("""
                    INSERT INTO bind_requests (user_id, household_id, resident_id, path, status, note, created_at)
                    VALUES (\(bind: u), \(bind: try household.decode(column: "id", as: Int64.self)), NULL, \(bind: try household.decode(column: "path", as: String.self)), 'pending', '请核对', 0)
                    """).run()
                // A relative waiting for the office to confirm them (亲属绑定).
                try await db.raw("""
                    INSERT INTO relative_links (user_id, resident_id, household_id, path, masked_name, relation, status, created_at)
                    VALUES (\(bind: u), \(bind: person), \(bind: try household.decode(column: "id", as: Int64.self)), \(bind: try household.decode(column: "path", as: String.self)), '王**', 'child', 'pending', 0)
                    """).run()
                return (u, g)
            }
            // The service centre: its demo, and a paper sent with an application.
            #expect(try await l.loadServicesDemo(suffix: suffix) > 0)
            if let online = try await l.affairs.catalogue(actor: resident).first(where: { $0.mode == .online }) {
                var apply = ApplyInput()
                apply.clientKey = "matrix"
                _ = try await l.affairs.apply(online.id, apply, papers: [TestImages.png], actor: resident)
            }
            // The offices' side: lists, a budget, items (one admitted to the first community), and
            // a receiving system for the street's requests (no demo makes one: it would push).
            #expect(try await l.loadOfficesDemo(suffix: suffix) > 0)
            // The admitted item reported done by the first community, with a photo of its evidence.
            let admitted = try await l.store.read { db in
                try await db.query("SELECT id FROM work_items WHERE path LIKE \(streetPath + "%") AND status = 'admitted' ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            var done = WorkItemAnswerInput()
            done.communityID = community; done.count = 120; done.evidence = "入户 120 户，签到表见照片。"; done.photos = [TestImages.png]
            try await l.offices.report(admitted, done, actor: staff)
            var hook = WebhookEndpointInput()
            hook.placeID = s.firstStreetID; hook.name = "12345"; hook.url = "https://hotline.example/push"; hook.secret = "matrix-secret-0123456"
            _ = try await l.offices.addEndpoint(hook, actor: street)
            // A 12345 ticket, sent by the hotline's account, for the hotline's routes.
            var ticket = RequestInput()
            ticket.channel = "hotline"; ticket.hotlineTicketNo = "MATRIX\(suffix)-0001"; ticket.category = "noise"; ticket.placeID = community
            ticket.description = "来电反映夜间施工噪声。"
            let now = Int64(Date().timeIntervalSince1970)
            ticket.hotlineDispatchedAt = LocalTime.text(now - 600); ticket.hotlineDueAt = LocalTime.text(now + 86400)
            let hotlineRequest = try await l.requests.submit(ticket, actor: try await f.actor("hotline" + suffix)).request.id
            // An owner's standing proxy: the street's demo resident votes for a neighbour.
            let proxyOwner = try await l.store.read { db in
                try await db.raw("""
                    SELECT o.id FROM owners o WHERE o.community_id = \(bind: community) AND o.kind = 'person'
                    AND o.id NOT IN (SELECT owner_id FROM residents WHERE id = \(bind: resident.grants[0].residentID!) AND owner_id IS NOT NULL) ORDER BY o.id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
            _ = try await l.deliberation.appointProxy(owner: proxyOwner, ProxyInput(proxyResidentID: resident.grants[0].residentID!,
                                                                                   validUntil: ChinaTime.iso(day: LocalDay.of(Int64(Date().timeIntervalSince1970)) + 30)),
                                                      document: TestImages.png, actor: staff)
            var ids = try await Self.ids(l.store, streetPath: streetPath, community: community)
            ids["tickets"] = "MATRIX\(suffix)-0001"
            ids["hotline-requests"] = String(hotlineRequest)
            ids["users"] = String(targetID)
            ids["certificate-codes"] = try await l.store.read { db in
                try await db.query("SELECT code FROM certificates WHERE path LIKE \(streetPath + "%") ORDER BY id").first()!.decode(column: "code", as: String.self)
            }
            ids["communities"] = String(community)
            if suffix.isEmpty { w.inside = ids; w.insideGrant = String(grant) } else { w.outside = ids; w.outsideGrant = String(grant) }
        }
        // A sensitive tag on the residents the matrix names, for /residents/:id/sensitive/:tag/….
        let ids = try await f.ids()
        for (rid, suffix) in [(ids.insideResident, ""), (ids.outsideResident, "2")] {
            let staff = try await f.actor("community" + suffix)
            var input = ResidentInput()
            input.tags = Array(Set(try await l.registry.resident(rid, actor: staff).tags + ["disabled"])).sorted()
            _ = try await l.registry.updateResident(rid, input, actor: staff)
        }
        return w
    }

    /// The first object of each kind on a street, by the path (or community) it hangs from.
    static func ids(_ store: any Store, streetPath: String, community: Int64) async throws -> [String: String] {
        let like = streetPath + "%"
        let communityPath = try await store.read { db in
            try await db.raw("SELECT path FROM places WHERE id = \(bind: community)").first()!.decode(column: "path", as: String.self)
        }
        let queries: [String: String] = [
            "matters": "SELECT id FROM matters WHERE path LIKE $1",
            "meetings": "SELECT m.id FROM meetings m JOIN matters x ON x.id = m.matter_id WHERE x.path LIKE $1",
            "polls": "SELECT id FROM polls WHERE path LIKE $1",
            "owners": "SELECT o.id FROM vote_proxies v JOIN owners o ON o.id = v.owner_id WHERE v.community_path LIKE $1",
            "proxies": "SELECT id FROM vote_proxies WHERE community_path LIKE $1",
            "milestones": "SELECT m.id FROM milestones m JOIN matters x ON x.id = m.matter_id WHERE x.path LIKE $1",
                        "ballot-documents": "SELECT d.id FROM ballot_documents d JOIN polls p ON p.id = d.poll_id WHERE p.path LIKE $1",
            "tasks": "SELECT id FROM volunteer_tasks WHERE path LIKE $1",
            "shifts": "SELECT s.id FROM task_shifts s JOIN volunteer_tasks t ON t.id = s.task_id WHERE t.path LIKE $1",
            "assignments": "SELECT a.id FROM shift_assignments a JOIN volunteer_tasks t ON t.id = a.task_id WHERE t.path LIKE $1",
            "teams": "SELECT id FROM volunteer_teams WHERE path LIKE $1",
            "rewards": "SELECT id FROM rewards WHERE path LIKE $1",
            "needs": "SELECT id FROM needs WHERE path LIKE $1",
            "projects": "SELECT id FROM micro_projects WHERE path LIKE $1",
            "project-milestones": "SELECT m.id FROM project_milestones m JOIN micro_projects p ON p.id = m.project_id WHERE p.path LIKE $1",
            "expenses": "SELECT e.id FROM expenses e JOIN micro_projects p ON p.id = e.project_id WHERE p.path LIKE $1",
            "pools": "SELECT id FROM matching_pools WHERE path LIKE $1",
            "social-workers": "SELECT id FROM social_workers WHERE path LIKE $1",
            "volunteers": "SELECT id FROM volunteers WHERE path LIKE $1",
            "ventures": "SELECT id FROM venture_rounds WHERE path LIKE $1",
            "venture-applications": "SELECT a.id FROM venture_applications a JOIN venture_rounds r ON r.id = a.round_id WHERE r.path LIKE $1",
            // Of the community, where its staff work (a street's property companies are the street's).
            "organisations": "SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE p.path LIKE $2 ORDER BY CASE WHEN o.kind = 'social_organisation' THEN 0 ELSE 1 END, o.id",
            "facilities": "SELECT f.id FROM facilities f JOIN places p ON p.id = f.place_id WHERE p.path LIKE $2",
            "requests": "SELECT id FROM requests WHERE path LIKE $1",
            "request-photos": "SELECT ph.id FROM request_photos ph JOIN requests r ON r.id = ph.request_id WHERE r.path LIKE $1",
            "binds": "SELECT id FROM bind_requests WHERE path LIKE $1",
            "relatives": "SELECT id FROM relative_links WHERE path LIKE $1",
            "announcements": "SELECT id FROM announcements WHERE path LIKE $1",
            "grid-tasks": "SELECT id FROM grid_tasks WHERE path LIKE $1",
            "patrol-routes": "SELECT id FROM patrol_routes WHERE path LIKE $1",
            "patrols": "SELECT id FROM patrols WHERE path LIKE $1",
            "gridwork-photos": "SELECT p.id FROM gridwork_photos p JOIN patrols x ON x.id = p.owner_id AND p.owner = 'patrol' WHERE x.path LIKE $1",
            "grids": "SELECT g.id FROM grids g JOIN places p ON p.id = g.community_id WHERE p.path LIKE $1",
            "heads": "SELECT h.id FROM heads h JOIN places p ON p.id = h.community_id WHERE p.path LIKE $1",
            "rules": "SELECT r.id FROM routing_rules r JOIN places p ON p.id = r.place_id WHERE p.path LIKE $1",
            "affairs": "SELECT id FROM affairs WHERE path LIKE $1",
            "activities": "SELECT id FROM activities WHERE path LIKE $1",
            "spaces": "SELECT id FROM spaces WHERE path LIKE $1",
            "help": "SELECT id FROM help_posts WHERE path LIKE $1",
            "canteens": "SELECT id FROM canteens WHERE path LIKE $1",
            "enterprises": "SELECT id FROM community_enterprises WHERE path LIKE $1",
            "canteen-menus": "SELECT m.id FROM canteen_menus m JOIN canteens c ON c.id = m.canteen_id WHERE c.path LIKE $1",
            "canteen-orders": "SELECT id FROM canteen_orders WHERE path LIKE $1",
            "held": "SELECT id FROM held_payments WHERE path LIKE $1",
            "space-bookings": "SELECT id FROM space_bookings WHERE path LIKE $1",
            "affair-applications": "SELECT id FROM affair_applications WHERE path LIKE $1",
            "affair-papers": "SELECT ap.id FROM affair_papers ap JOIN affair_applications x ON x.id = ap.application_id WHERE x.path LIKE $1",
            "work-items": "SELECT id FROM work_items WHERE path LIKE $1 AND status = 'admitted' ORDER BY id",
            "work-item-evidence": "SELECT e.id FROM work_item_evidence e JOIN work_items w ON w.id = e.item_id WHERE w.path LIKE $1",
            "departments": "SELECT o.id FROM organisations o JOIN places p ON p.id = o.place_id WHERE o.kind = 'gov_department' AND p.path LIKE $1",
            "lists": "SELECT id FROM places WHERE kind = 'street' AND path LIKE $1",
            "office-lists": "SELECT id FROM office_lists WHERE path LIKE $1 AND status = 'published' ORDER BY id",
            "office-list-items": "SELECT i.id FROM office_list_items i JOIN office_lists l ON l.id = i.list_id WHERE l.path LIKE $1 ORDER BY i.id",
            "department-ratings": "SELECT id FROM department_ratings WHERE path LIKE $1",
            "assessments": "SELECT id FROM assessment_sets WHERE path LIKE $1",
            "certificates": "SELECT id FROM certificates WHERE path LIKE $1",
            "webhook-endpoints": "SELECT id FROM webhook_endpoints WHERE path LIKE $1",
            "assessment-indicators": "SELECT i.id FROM assessment_indicators i JOIN assessment_sets a ON a.id = i.set_id WHERE a.path LIKE $1 ORDER BY i.id",
        ]
        return try await store.read { db in
            var out: [String: String] = [:]
            for (kind, sql) in queries {
                let q = sql.replacingOccurrences(of: "$1", with: "'\(like)'").replacingOccurrences(of: "$2", with: "'\(communityPath)%'") + (sql.contains("ORDER BY") ? "" : " ORDER BY 1")
                guard let row = try await db.raw(SQLQueryString(q)).first() else { Issue.record("no \(kind) on \(streetPath)"); continue }
                out[kind] = String(try row.decode(column: "id", as: Int64.self))
            }
            return out
        }
    }
}
