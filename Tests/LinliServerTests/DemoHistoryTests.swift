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

/// The demo's year of requests: made through the use cases at their own dates, so that what the
/// figures, rollups and board show is what the use cases wrote.
@Suite struct DemoHistoryTests {
    @Test func fatesAndStarsFollowTheirShares() {
        var fates: [String: Int] = [:], stars: [Int: Int] = [:]
        for roll in 0..<100 {
            fates["\(HistoryFate.of(roll: roll))", default: 0] += 1
            stars[HistoryRating.of(roll: roll), default: 0] += 1
        }
        #expect(fates == ["late": 9, "returned": 6, "rejectedOnce": 6, "unrated": 6, "onTime": 73])
        #expect(stars == [5: 58, 4: 26, 3: 9, 2: 4, 1: 3])
    }

    @Test(arguments: Backend.available)
    func twoMonthsOfRequestsAreReportedHandledAndRatedAtTheirOwnDates(_ backend: Backend) async throws {
        let clock = DemoClock()
        try await withFixture(backend, demoClock: clock) { f in
            _ = try await f.linli.loadRequestsDemo()
            let made = try await f.linli.loadRequestsHistory(days: 60, seed: 3, clock: clock)
            #expect(made > 40)
            #expect(abs(clock.now.timeIntervalSinceNow) < 5, "the clock is the real one again")
            func count(_ sql: String) async throws -> Int {
                try await f.linli.store.read { db in try await db.raw(SQLQueryString(sql)).first()!.decode(column: "n", as: Int.self) }
            }
            let now = Int(Date().timeIntervalSince1970)
            // Spread over the two months, not made today.
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE created_at < \(now - 30 * 86400)") > 10)
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE created_at < \(now - 61 * 86400)") == 0)
            // Most closed and rated; some escalated by the sweep, some sent back, some rejected once.
            let all = try await count("SELECT COUNT(*) AS n FROM requests")
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE status = 'closed'") * 10 >= all * 8)
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE rating IS NOT NULL") * 2 >= all)
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE level > 0") >= 1)
            #expect(try await count("SELECT COUNT(*) AS n FROM request_events WHERE kind = 'return'") >= 1)
            #expect(try await count("SELECT COUNT(*) AS n FROM request_events WHERE kind = 'reject'") >= 1)
            // Each report is a real submission: audited, counted in the rollups the dashboards read.
            #expect(try await count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.submit'") >= made)
            #expect(try await f.linli.requests.checkRollup().isEmpty, "the month and day rollups match a recount")
            // Nothing published that a resident did not agree to.
            #expect(try await count("SELECT COUNT(*) AS n FROM requests WHERE channel IN ('phone', 'walk_in', 'visit') AND public_details = 1 AND consent_by IS NULL") == 0)
        }
    }

    @Test(arguments: Backend.available)
    func aMatterOfFiveMonthsAgoIsFiledWithItsVoteClosedAndCounted(_ backend: Backend) async throws {
        let clock = DemoClock()
        try await withFixture(backend, demoClock: clock) { f in
            let id = try #require(try await f.linli.loadDeliberationHistory(clock: clock, seed: 3))
            #expect(abs(clock.now.timeIntervalSinceNow) < 5, "the clock is the real one again")
            let staff = try await f.actor("community")
            let detail = try await f.linli.deliberation.detail(id, actor: staff, lang: .zh)
            #expect(detail.matter.status == "filed")
            let poll = try #require(detail.polls.first)
            let view = try await f.linli.deliberation.pollView(poll.id, actor: staff)
            #expect(view.status == "closed" && view.result?.passed == true && view.recountMatches == true)
            let (first, last, now) = try await f.linli.store.read { db in
                let r = try await db.raw("SELECT MIN(cast_at) AS a, MAX(cast_at) AS b FROM ballots WHERE poll_id = \(bind: poll.id)").first()!
                return (try r.decode(column: "a", as: Int64.self), try r.decode(column: "b", as: Int64.self), Int64(Date().timeIntervalSince1970))
            }
            #expect(first < now - 120 * 86400 && last < now - 110 * 86400 && first < last, "ballots over the two weeks, months ago")
        }
    }

    @Test(arguments: Backend.available)
    func theVolunteersHaveASeasonOfConfirmedHoursAndAProjectIsEvaluated(_ backend: Backend) async throws {
        let clock = DemoClock()
        try await withFixture(backend, demoClock: clock) { f in
            _ = try await f.linli.loadLinkageDemo()
            let served = try await f.linli.loadLinkageHistory(clock: clock)
            #expect(served >= 20, "two volunteers, a dozen Saturdays")
            #expect(abs(clock.now.timeIntervalSinceNow) < 5)
            let (confirmed, points, evaluated) = try await f.linli.store.read { db in
                (try await db.raw("SELECT COUNT(*) AS n FROM shift_assignments WHERE confirmed_at IS NOT NULL AND confirmed_at < \(bind: Int64(Date().timeIntervalSince1970) - 20 * 86400)").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COALESCE(SUM(delta), 0) AS n FROM point_entries").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM micro_projects WHERE stage = 'done' AND rating = 5 AND evaluation IS NOT NULL").first()!.decode(column: "n", as: Int.self))
            }
            #expect(confirmed >= served && points > 0 && evaluated == 1)
            // The demo volunteer's certificate counts those hours.
            let cert = try await f.linli.linkage.certificate(volunteerID: nil, actor: try await f.actor("volunteer"))
            #expect(cert.shifts >= 12 && cert.lines.contains { $0.task == "周末小区平安巡查" })
        }
    }
}
