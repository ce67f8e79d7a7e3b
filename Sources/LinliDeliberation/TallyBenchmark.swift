import LinliServer
import Foundation
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    /// Times the tally of an owners' vote over a building of `units` exclusive parts (on top of
    /// the loaded demo), with `turnout` of them voted. Returns each run's milliseconds.
    public func benchmarkTally(units: Int, turnout: Double, runs: Int) async throws -> [Double] {
        func actor(_ username: String) async throws -> Actor {
            try await store.read { db in
                let row = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first()!
                return try await accounts.loadActor(db, userID: try row.decode(column: "id", as: Int64.self))!
            }
        }
        let staff = try await actor("community")
        let now = config.environment.nowSeconds
        // A tower of `units` homes in the first compound of the staff member's community, one owner each
        // except every tenth buyer who holds two.
        let building: Int64 = try await store.transaction { db in
            let c = try await db.raw("""
                SELECT h.place_id, p.parent_id, h.grid_id, h.micro_grid_id, h.community_id FROM households h JOIN places u ON u.id = h.place_id
                JOIN places p ON p.id = u.parent_id WHERE \(store.dialect.startsWith("h.path", staff.grants[0].placePath)) ORDER BY h.id
                """).first()!
            let compoundRow = try await db.raw("SELECT parent_id FROM places WHERE id = \(bind: try c.decode(column: "parent_id", as: Int64.self))").first()!
            let compound = try compoundRow.decode(column: "parent_id", as: Int64.self)
            let cpath = try await db.raw("SELECT path FROM places WHERE id = \(bind: compound)").first()!.decode(column: "path", as: String.self)
            let b = try await db.raw("""
                INSERT INTO places (parent_id, kind, name, path, created_at) VALUES (\(bind: compound), 'building', '基准测试楼', '', \(bind: now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            let bpath = cpath + "\(b)/"
            try await db.raw("UPDATE places SET path = \(bind: bpath) WHERE id = \(bind: b)").run()
            let grid = try c.decode(column: "grid_id", as: Int64.self), micro = try c.decode(column: "micro_grid_id", as: Int64.self)
            let community = try c.decode(column: "community_id", as: Int64.self)
            var owner: Int64 = 0
            for start in stride(from: 0, to: units, by: 500) {
                var hs = db.insert(into: "households").columns("place_id", "community_id", "path", "door", "address", "grid_id", "micro_grid_id", "code", "created_at")
                for i in start..<min(units, start + 500) {
                    hs = hs.values(SQLBind(b), SQLBind(community), SQLBind(bpath), SQLBind("\(i)"), SQLBind("基准测试楼 \(i)"), SQLBind(grid), SQLBind(micro),
                                   SQLBind("bench-\(b)-\(i)"), SQLBind(now))
                }
                try await hs.run()
            }
            try await RegistryService.addToPopulation(db, community: community, households: Int64(units))
            let households = try await db.raw("SELECT id FROM households WHERE place_id = \(bind: b) ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) }
            // Written around the use cases, like the headcount above: the building counted.
            try await registry.recountSituations(db, households: households)
            for (i, h) in households.enumerated() {
                if i % 10 != 1 {
                    owner = try await db.raw("INSERT INTO owners (community_id, kind, name) VALUES (\(bind: community), 'person', \(bind: "业主\(i)")) RETURNING id")
                        .first()!.decode(column: "id", as: Int64.self)
                }
                try await db.raw("INSERT INTO dwellings (household_id, area_centi_m2, owner_id) VALUES (\(bind: h), \(bind: Int64(6000 + (i * 37) % 8000)), \(bind: owner))").run()
            }
            return b
        }
        let d = deliberation
        var input = DeliberationService.MatterInput()
        input.placeID = building; input.process = "lift"; input.title = "基准测试"; input.description = "tally benchmark"
        let m = try await d.suggestMatter(input, actor: staff)
        var meet = DeliberationService.MeetingInput()
        meet.title = "协商"; meet.startsAt = "2026-01-01T10:00"; meet.location = "x"; meet.agenda = "x"
        let mt = try await d.scheduleMeeting(m.id, meet, actor: staff)
        _ = try await d.recordAttendance(mt, .init(name: "x"), actor: staff)
        try await d.saveMinutes(mt, minutes: "x", decisions: nil, actor: staff)
        _ = try await d.advance(m.id, .init(), actor: staff)
        var skip = DeliberationService.AdvanceInput()
        skip.outcome = "skipped"; skip.reason = "benchmark"
        _ = try await d.advance(m.id, skip, actor: staff)
        var p = DeliberationService.PollInput()
        p.question = "x"; p.closesAt = LocalTime.text(now + 7 * 86400).replacingOccurrences(of: " ", with: "T")
        let poll = try await d.openPoll(m.id, p, actor: staff)
        try await store.transaction { db in
            let parts = try await db.raw("SELECT part_id FROM poll_parts WHERE poll_id = \(bind: poll.id) ORDER BY part_id").all().map { try $0.decode(column: "part_id", as: Int64.self) }
            let voted = parts.prefix(Int(Double(parts.count) * turnout))
            for start in stride(from: 0, to: voted.count, by: 500) {
                var q = db.insert(into: "ballots").columns("poll_id", "part_id", "choice", "method", "proxy_name", "cast_by", "cast_at", "revision")
                for (i, part) in voted.dropFirst(start).prefix(500).enumerated() {
                    q = q.values(SQLBind(poll.id), SQLBind(part), SQLBind((start + i) % 5 == 0 ? "no" : "yes"), SQLBind("paper"), SQLBind(""), SQLBind(staff.userID), SQLBind(now), SQLBind(1))
                }
                try await q.run()
            }
        }
        var times: [Double] = []
        for _ in 0..<runs {
            let (r, ms) = try await Stopwatch.milliseconds { try await d.tally(poll.id, actor: staff) }
            times.append(ms)
            precondition(r.counts.totalParts == Int64(units))
        }
        return times
    }
}
