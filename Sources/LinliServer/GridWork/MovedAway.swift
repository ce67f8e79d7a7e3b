import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A household a visit found gone, waiting for the community to settle it.
public struct MovedAwayHousehold: Codable, Sendable, Equatable {
    public var householdID: Int64
    public var address: String
    public var gridID: Int64
    /// When the visit found it gone.
    public var reportedOn: String
    enum CodingKeys: String, CodingKey { case householdID = "household_id", address, gridID = "grid_id", reportedOn = "reported_on" }
}

extension GridWorkService {
    /// The community's households reported gone (搬离) by a visit, newest first: off every due
    /// list and out of coverage while the office updates the registry (the residents moved out,
    /// the household removed), until it says someone lives there or a later visit finds them.
    public func movedAway(community: Int64, actor: Actor, limit: Int = 200) async throws -> [MovedAwayHousehold] {
        try await store.read { db in
            _ = try await plannedCommunity(db, community, actor: actor, .visitPlan)
            return try await db.query("""
                SELECT household_id, address, grid_id, moved_at FROM visit_due WHERE community_id = \(community) AND moved_at IS NOT NULL
                ORDER BY moved_at DESC, household_id LIMIT \(unsafeRaw: String(limit))
                """).all().map { r in
                MovedAwayHousehold(householdID: try r.decode(column: "household_id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                                   gridID: try r.decode(column: "grid_id", as: Int64.self),
                                   reportedOn: ChinaTime.iso(day: LocalDay.of(try r.decode(column: "moved_at", as: Int64.self))))
            }
        }
    }

    /// The office says the household is lived in (the visit was wrong, or new people moved in):
    /// back on its plan from today. A household not reported gone is refused (409).
    public func stillLivesThere(household: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            guard let f = try await registry.householdFacts(db, ids: [household]).first, actor.may(.visitPlan, on: f.scope) else { throw LinliError.notFound }
            var due = try await dueRow(db, f)
            guard due.movedAt != nil else { throw LinliError.conflict(nil, "not_moved", "这一户没有被报告搬离") }
            due.movedAt = nil
            // Counting starts again now: the windows it was off the list are not missed.
            due.facts.since = env.nowSeconds
            try await saveDue(db, [due])
            try await audit.append(db, actor: actor, action: "visit.still_there", objectType: "household", objectID: household, path: f.path)
        }
    }
}
