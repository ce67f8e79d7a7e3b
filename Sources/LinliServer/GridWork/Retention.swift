import Foundation
import SQLKit
import LinliCore
import LinliStore

/// How long a community keeps what its grid workers wrote and photographed: the words of visits
/// and patrol findings, their photos and the tracks walked. What happened (the outcome, the day, who) stays, so
/// coverage and figures still add up; the content goes.
public enum RetentionRules {
    /// The lengths a community may choose, in months.
    public static let choices = [6, 12, 24, 36, 60]
    /// Until a community chooses: three years.
    public static let defaultMonths = 36

    /// The first day still kept: the same day of the month `months` months before today, or
    /// that month's last day when it is shorter (31 August less six months is 28 February).
    public static func firstKeptDay(today: Int64, months: Int) -> Int64 {
        ChinaTime.addingMonths(-months, to: today)
    }
}

public struct RetentionView: Codable, Sendable, Equatable {
    public var communityID: Int64
    public var months: Int
    /// True while the community has chosen nothing and the default applies.
    public var isDefault: Bool
    /// Records written before this day (China time, `YYYY-MM-DD`) have had their content erased.
    public var keptFrom: String
    enum CodingKeys: String, CodingKey { case communityID = "community_id", months, isDefault = "default", keptFrom = "kept_from" }
}

public struct RetentionInput: Codable, Sendable {
    public var months: Int?
    public init(months: Int? = nil) { self.months = months }
}

extension GridWorkService {
    public func retention(community: Int64, actor: Actor) async throws -> RetentionView {
        try await store.read { db in
            let c = try await plannedCommunity(db, community, actor: actor, .visitPlan)
            return try await retentionView(db, c.id)
        }
    }

    func retentionView(_ db: any SQLDatabase, _ community: Int64) async throws -> RetentionView {
        let chosen = try await db.query("SELECT months FROM gridwork_retention WHERE community_id = \(community)").first()?.decode(column: "months", as: Int.self)
        let months = chosen ?? RetentionRules.defaultMonths
        return RetentionView(communityID: community, months: months, isDefault: chosen == nil,
                             keptFrom: ChinaTime.iso(day: RetentionRules.firstKeptDay(today: LocalDay.of(env.nowSeconds), months: months)))
    }

    /// The community chooses how long to keep visit and patrol notes and photos; one of the
    /// lengths offered, with its audit row. A shorter length erases at the next sweep.
    public func setRetention(community: Int64, _ input: RetentionInput, actor: Actor) async throws -> RetentionView {
        guard let months = input.months, RetentionRules.choices.contains(months) else {
            throw LinliError.invalid("months", "invalid_choice", "保留期限只能是 " + RetentionRules.choices.map(String.init).joined(separator: "、") + " 个月")
        }
        let now = env.nowSeconds
        return try await store.transaction { db in
            let c = try await plannedCommunity(db, community, actor: actor, .visitPlan)
            try await db.query("""
                INSERT INTO gridwork_retention (community_id, months, user_id, updated_at) VALUES (\(c.id), \(months), \(actor.userID), \(now))
                ON CONFLICT (community_id) DO UPDATE SET months = excluded.months, user_id = excluded.user_id, updated_at = excluded.updated_at
                """).run()
            try await audit.append(db, actor: actor, action: "gridwork.retention", objectType: "place", objectID: c.id, path: c.path, detail: "\(months) months")
            return try await retentionView(db, c.id)
        }
    }

    /// Erases the content of visits and patrols older than their community's rule: notes
    /// (sealed text) and photos, rows and files. Batches of 500 records, each in its own
    /// transaction; the files go after the rows that named them are gone. Safe on several
    /// servers at once. Returns the records erased.
    public func applyRetention() async throws -> Int {
        let now = env.nowSeconds
        let today = LocalDay.of(now)
        let chosen = try await store.read { db in
            try await db.query("SELECT DISTINCT months FROM gridwork_retention").all().map { try $0.decode(column: "months", as: Int.self) }
        }
        var erased = 0
        for months in Set(chosen + [RetentionRules.defaultMonths]) {
            let cutoff = LocalDay.start(RetentionRules.firstKeptDay(today: today, months: months))
            // The communities this length applies to: those who chose it, or (the default) those who chose nothing.
            let whose: BoundSQL = months == RetentionRules.defaultMonths
                ? "(community_id IN (SELECT community_id FROM gridwork_retention WHERE months = \(months)) OR community_id NOT IN (SELECT community_id FROM gridwork_retention))"
                : "community_id IN (SELECT community_id FROM gridwork_retention WHERE months = \(months))"
            for (owner, table, time) in [(PhotoOwner.visit, "visits", "visited_at"), (.patrol, "patrols", "patrolled_at")] {
                while true {
                    let (count, names) = try await store.transaction { db -> (Int, [String]) in
                        let ids = try await db.query("""
                            SELECT id FROM \(unsafeRaw: table) WHERE erased_at IS NULL AND \(unsafeRaw: time) < \(cutoff) AND \(whose) LIMIT 500
                            """).all().map { try $0.decode(column: "id", as: Int64.self) }
                        guard !ids.isEmpty else { return (0, []) }
                        if owner == .visit {
                            try await db.query("UPDATE visits SET note_cipher = NULL, erased_at = \(now) WHERE id IN (\(list: ids))").run()
                        } else {
                            try await db.query("UPDATE patrol_checks SET note_cipher = NULL WHERE patrol_id IN (\(list: ids))").run()
                            try await db.query("UPDATE patrols SET erased_at = \(now) WHERE id IN (\(list: ids))").run()
                            try await db.query("DELETE FROM patrol_tracks WHERE patrol_id IN (\(list: ids))").run()
                        }
                        let names = try await db.query("""
                            DELETE FROM gridwork_photos WHERE owner = \(owner.rawValue) AND owner_id IN (\(list: ids)) RETURNING stored_name
                            """).all().map { try $0.decode(column: "stored_name", as: String.self) }
                        return (ids.count, names)
                    }
                    for name in names { try? FileManager.default.removeItem(atPath: photos.directory + "/" + name) }
                    erased += count
                    if count < 500 { break }
                }
            }
        }
        return erased
    }
}
