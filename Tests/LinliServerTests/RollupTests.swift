import Foundation
import SQLKit
import Testing
@testable import LinliServer
import LinliCore
import LinliStore

/// The dashboards' monthly rollup, by worked examples, and kept equal to the requests it counts.
@Suite struct RollupRulesTests {
    static func at(_ day: String) -> Int64 { LocalDay.start(Input.day(day)!) }

    @Test func aPeriodIsWholeMonthsAndTheDaysAtItsEdges() {
        #expect(MonthSplit.of(from: Self.at("2026-11-01"), to: Self.at("2026-12-01")) == MonthSplit(months: 202611...202611, edges: []))
        #expect(MonthSplit.of(from: Self.at("2026-11-15"), to: Self.at("2027-02-10"))
                == MonthSplit(months: 202612...202701, edges: [Self.at("2026-11-15")..<Self.at("2026-12-01"), Self.at("2027-02-01")..<Self.at("2027-02-10")]),
                "across a new year")
        #expect(MonthSplit.of(from: Self.at("2026-11-15"), to: Self.at("2026-11-20")) == MonthSplit(months: nil, edges: [Self.at("2026-11-15")..<Self.at("2026-11-20")]),
                "inside one month: all of it live")
        #expect(MonthSplit.of(from: Self.at("2026-12-01"), to: Self.at("2026-12-31")).months == nil, "a month short of its last day is not whole")
        #expect(MonthSplit.of(from: Self.at("2026-12-01") + 60, to: Self.at("2027-01-01")) == MonthSplit(months: nil, edges: [Self.at("2026-12-01") + 60..<Self.at("2027-01-01")]),
                "a month begun a minute late is not whole either")
        #expect(MonthSplit.of(from: Self.at("2024-01-01"), to: Self.at("2026-01-01")).months == 202401...202512, "two whole years")
        #expect(MonthSplit.of(from: Self.at("2026-12-01"), to: Self.at("2026-11-01")) == MonthSplit(months: nil, edges: []))
    }

    @Test func aRequestAddsWhatItIsAndAChangeWhatChanged() {
        let new = RequestTally(missed: false, rating: nil, resolvedAt: nil, resolveDue: 100)
        #expect(new == RequestTally(made: 1))
        let onTime = RequestTally(missed: false, rating: 4, resolvedAt: 90, resolveDue: 100)
        #expect(onTime - new == RequestTally(ratingSum: 4, rated: 1, resolved: 1, onTime: 1), "resolved by its deadline and rated 4")
        let late = RequestTally(missed: true, rating: nil, resolvedAt: 150, resolveDue: 100)
        #expect(late - new == RequestTally(escalated: 1, resolved: 1), "resolved after a missed deadline: not on time")
        // Rejected by the resident: the resolution goes, the rating stays.
        let rejected = RequestTally(missed: true, rating: 2, resolvedAt: nil, resolveDue: 200)
        #expect(rejected - late == RequestTally(ratingSum: 2, rated: 1, resolved: -1))
        #expect((late - late).isZero)
    }
}

@Suite struct RollupStoreTests {
    /// 10:00 on Monday 2026-11-30, China time: the scenario crosses into December.
    static func clock() -> TestClock { TestClock("2026-11-30T02:00:00Z") }

    @Test(arguments: Backend.available)
    func theRollupEqualsTheRequestsItCounts(_ backend: Backend) async throws {
        let clock = Self.clock()
        try await withFixture(backend, clock: clock) { f in
            let rq = f.linli.requests
            let resident = try await f.actor("resident"), staff = try await f.actor("community"), street = try await f.actor("street")
            let before = try await Self.table(f)
            func file(_ text: String, _ category: String = "noise") async throws -> Int64 {
                var r = RequestInput()
                r.category = category; r.description = text; r.householdID = f.demo.firstHouseholdWithResidents
                return try await rq.submit(r, actor: resident).request.id
            }
            func step(_ t: RequestTransition, _ id: Int64, _ actor: Actor, rating: Int? = nil, party: String? = nil) async throws {
                var i = RequestsService.ActionInput()
                i.note = "处理说明"; i.rating = rating; i.partyKind = party
                _ = try await rq.perform(t, id: id, i, actor: actor)
            }
            // November: one resolved and rated, one resolved and rejected, one left to be swept.
            let a = try await file("楼下广场舞音响太大。", "public_facility")
            let b = try await file("楼道灯坏了。", "public_facility")
            let c = try await file("电梯又停了。", "public_facility")
            for id in [a, b] { try await step(.accept, id, staff); try await step(.resolve, id, staff) }
            try await step(.confirm, a, resident, rating: 5)
            try await step(.reject, b, resident, rating: 2)
            // Into December: the sweep escalates what is late, a re-assignment clears a missed
            // acceptance, December's own requests come in.
            clock.advance(hours: 24 * 3)
            _ = try await rq.escalateOverdue()
            try await step(.reassign, c, street, party: "residents_committee")
            let d = try await file("快递柜旁边堆满垃圾。", "public_facility")
            try await step(.accept, d, staff)
            try await step(.resolve, d, staff)
            try await step(.resolve, b, staff)
            try await step(.confirm, b, resident, rating: 4)

            // What the steps kept equals the requests table counted afresh…
            let kept = try await Self.table(f)
            #expect(kept != before)
            #expect(try await rq.checkRollup().isEmpty, "the check finds nothing to say")
            try await rq.recountRollup()
            #expect(try await Self.table(f) == kept, "kept step by step = counted afresh")
            // A figure gone wrong (a write around the use cases) is found, and a recount mends it.
            try await f.linli.store.transaction { db in try await db.query("UPDATE request_rollup SET resolved = resolved + 1 WHERE community_id = \(f.demo.firstCommunityID) AND month = 202611").run() }
            let wrong = try await rq.checkRollup()
            #expect(wrong.count == 1 && wrong[0].month == 202611 && wrong[0].kept[4] == wrong[0].counted[4] + 1)
            try await rq.recountRollup()
            #expect(try await rq.checkRollup().isEmpty)
            // …and a period read through the rollup (whole months) and live (its edges) equals one read all live.
            let communities = [f.demo.firstCommunityID]
            for (from, to) in [("2026-11-01", "2027-01-01"), ("2026-11-15", "2026-12-20"), ("2026-12-01", "2026-12-04"), ("2025-12-01", "2027-01-01")] {
                let (x, y) = (RollupRulesTests.at(from), RollupRulesTests.at(to))
                let viaRollup = try await f.linli.store.read { db in try await RequestsService.areaCounts(db, communityIDs: communities, from: x, to: y) }
                let live = try await f.linli.store.read { db in try await RequestsService.liveAreaCounts(db, communityIDs: communities, from: x, to: y) }
                #expect(viaRollup == live, "\(from) – \(to)")
            }
            let november = try await f.linli.store.read { db in
                try await RequestsService.areaCounts(db, communityIDs: communities, from: RollupRulesTests.at("2026-11-01"), to: RollupRulesTests.at("2026-12-01"))
            }
            let n = november[f.demo.firstCommunityID]!
            #expect(n.ratingSum >= 9 && n.rated >= 2 && n.resolved >= 2, "\(n)")
        }
    }

    /// Every row of the rollup, in order.
    static func table(_ f: Fixture) async throws -> [[Int64]] {
        try await f.linli.store.read { db in
            try await db.query("SELECT community_id, month, made, escalated, rating_sum, rated, resolved, on_time FROM request_rollup ORDER BY community_id, month").all().map { r in
                try ["community_id", "month", "made", "escalated", "rating_sum", "rated", "resolved", "on_time"].map { try r.decode(column: $0, as: Int64.self) }
            }
        }
    }
}
