import Foundation
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    /// Times an announcement to a whole community grown to `households` more homes (a tower
    /// added to the loaded demo's first community, `accountShare` of them with a resident's
    /// account, so each gets an inbox message), and the read-receipt counts staff then read.
    /// Returns each run's milliseconds and the households it reached.
    public func benchmarkAnnouncement(households count: Int, accountShare: Double, runs: Int) async throws -> (send: [Double], counts: [Double], reached: Int, accounts: Int) {
        let staff: Actor = try await store.read { db in
            let row = try await db.query("SELECT id FROM users WHERE username = 'community'").first()!
            return try await accounts.loadActor(db, userID: try row.decode(column: "id", as: Int64.self))!
        }
        let community = staff.grants[0].placeID
        let now = config.environment.nowSeconds
        // Codes of their own, so a second run on the same data adds another tower.
        let tag = "bench-a\(now)-"
        let added: [(id: Int64, placeID: Int64)] = try await store.transaction { db in
            let c = try await db.query("""
                SELECT h.place_id, h.grid_id, h.micro_grid_id FROM households h WHERE h.community_id = \(community) ORDER BY h.id
                """).first()!
            let unit = try c.decode(column: "place_id", as: Int64.self)
            let path = try await db.query("SELECT path FROM places WHERE id = \(unit)").first()!.decode(column: "path", as: String.self)
            let grid = try c.decode(column: "grid_id", as: Int64.self), micro = try c.decode(column: "micro_grid_id", as: Int64.self)
            for start in stride(from: 0, to: count, by: 500) {
                try await db.insertRows("""
                    INSERT INTO households (place_id, community_id, path, door, address, grid_id, micro_grid_id, code, created_at) VALUES
                    """, Array(start..<min(count, start + 500))) { i in
                    "(\(unit), \(community), \(path), \("B\(i)"), \("基准测试 B\(i)"), \(grid), \(micro), \(tag + String(i)), \(now))"
                }
            }
            try await RegistryService.addToPopulation(db, community: community, households: Int64(count))
            return try await db.query("SELECT id FROM households WHERE code LIKE \(tag + "%") ORDER BY id").all()
                .map { (try $0.decode(column: "id", as: Int64.self), unit) }
        }
        let withAccounts = added.enumerated().filter { Double($0.offset % 100) < accountShare * 100 }.map(\.element)
        try await store.transaction { db in
            try await AccountService.benchResidents(db, households: withAccounts, now: now)
            // Written around the use cases, like the headcount above: the tower's building counted.
            try await registry.recountSituations(db, households: added.map(\.id))
        }
        var send: [Double] = [], counts: [Double] = []
        var reached = 0
        for run in 0..<runs {
            var input = AnnouncementInput()
            input.communityID = community; input.audienceKind = "community"; input.needsAck = true
            input.title = "停水通知（基准测试 \(run + 1)）"; input.body = "12月8日 9:00–15:00 因管道检修停水，请提前储水。"
            let (a, ms) = try await Stopwatch.milliseconds { try await gridWork.announce(input, actor: staff) }
            send.append(ms)
            reached = a.households ?? 0
            let (_, read) = try await Stopwatch.milliseconds { try await gridWork.announcement(a.id, actor: staff, markRead: false) }
            counts.append(read)
        }
        return (send, counts, reached, withAccounts.count)
    }
}
