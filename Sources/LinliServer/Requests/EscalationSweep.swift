import Foundation
import Logging
import ServiceLifecycle
import SQLKit
import LinliCore
import LinliStore

extension RequestsService {
    public struct SweepResult: Sendable, Equatable {
        public var escalated = 0
        public var autoClosed = 0
    }

    /// Escalates every request whose running deadline has passed, one level per missed deadline,
    /// and closes resolved requests the resident left unconfirmed. Driven by the time stored with
    /// each request, so a sweep after downtime catches up on everything missed meanwhile.
    public func escalateOverdue(batch: Int = 500) async throws -> SweepResult {
        var result = SweepResult()
        let now = env.nowSeconds
        while true {
            let (n, escalated) = try await store.transaction { db -> (Int, Int) in
                var escalated = 0
                let s = try await config.snapshot(db, now: now)
                // Overdue requests pile up at the same few parties and areas: who to tell is looked
                // up once per batch (a round trip each on PostgreSQL).
                var supervisors: [String: [Int64]] = [:], answerers: [String: [Int64]] = [:]
                let rows = try await db.raw("""
                    \(unsafeRaw: Self.columns) WHERE r.next_due IS NOT NULL AND r.next_due <= \(bind: now) ORDER BY r.next_due LIMIT \(unsafeRaw: String(batch))\(unsafeRaw: store.dialect.lockForUpdate(of: "r", skipLocked: true))
                    """).all().map(Self.row)
                // Each batch's steps, audit entries, notifications and new states are written
                // four statements at a time, not four per request (round trips on PostgreSQL).
                var steps: [(requestID: Int64, note: String, partyKey: String?)] = []
                var audits: [(objectID: Int64, path: String, detail: String)] = []
                var notes: [OutgoingNotification] = []
                var changed: [Row] = []
                for var r in rows {
                    let missedNow = Deadline.allCases.filter { d in
                        guard !r.missed.contains(d) else { return false }
                        switch d {
                        case .accept: return r.acceptedAt == nil && r.acceptDue <= now
                        case .contact: return r.contactedAt == nil && r.contactDue <= now
                        case .resolve: return r.resolvedAt == nil && r.resolveDue <= now
                        }
                    }
                    let subject = "#\(r.id) \(s.categories[r.category]?.nameZh ?? r.category) \(r.address)"
                    for d in missedNow {
                        r.missed.insert(d)
                        r.level = r.level.up
                        let due = switch d { case .accept: r.acceptDue; case .contact: r.contactDue; case .resolve: r.resolveDue }
                        steps.append((r.id, "\(d.rawValue)|\(r.level.code)|\(LocalTime.text(due))", r.partyKey))
                        // The answer depends only on the path down to the level's place.
                        let levelKey = PlacePath.ids(r.path).prefix((r.level.pathIndex ?? -1) + 1).map(String.init).joined(separator: "/")
                        if supervisors[levelKey] == nil { supervisors[levelKey] = try await levelUsers(db, path: r.path, level: r.level) }
                        notes += supervisors[levelKey]!.map { OutgoingNotification(userID: $0, kind: "escalated", requestID: r.id, subject: subject) }
                    }
                    // Keyed by the party itself: two departments (or a named one and the street's
                    // office) can sit at one place.
                    let partyKey = "\(r.partyKind?.rawValue ?? "")|\(r.partyKey ?? "")|\(r.partyPath ?? r.path)|\(r.partyGridID ?? 0)"
                    if answerers[partyKey] == nil { answerers[partyKey] = try await partyUsers(db, of: r) }
                    notes += answerers[partyKey]!.map { OutgoingNotification(userID: $0, kind: "overdue", requestID: r.id, subject: subject) }
                    r.updatedAt = now
                    changed.append(r)
                    if !missedNow.isEmpty {
                        audits.append((r.id, r.path, missedNow.map(\.rawValue).joined(separator: ",") + " → " + r.level.code))
                        escalated += 1
                    }
                }
                try await saveEscalations(db, changed, now: now)
                let before = Dictionary(rows.map { ($0.id, $0.tally) }, uniquingKeysWith: { a, _ in a })
                try await Self.addToRollup(db, store.dialect, changed.map { ($0.communityID, $0.createdAt, $0.tally - (before[$0.id] ?? RequestTally())) })
                try await escalationSteps(db, steps, at: now)
                try await audit.appendBySystem(db, action: "request.escalate", objectType: "request", entries: audits)
                try await notifier.deliver(db, notes, at: now)
                return (rows.count, escalated)
            }
            result.escalated += escalated
            if n < batch { break }
        }
        // Resolved and neither confirmed nor rejected for a week: closed without a rating.
        let closed = try await store.transaction { db -> Int in
            let rows = try await db.raw("""
                SELECT id, path FROM requests WHERE status = 'resolved' AND resolved_at <= \(bind: now - RequestLimits.autoCloseSeconds) LIMIT 1000\(unsafeRaw: store.dialect.lockForUpdate(skipLocked: true))
                """).all()
            for row in rows {
                let id = try row.decode(column: "id", as: Int64.self)
                try await db.raw("UPDATE requests SET status = 'closed', closed_at = \(bind: now), updated_at = \(bind: now) WHERE id = \(bind: id)").run()
                _ = try await event(db, id, nil, "auto_close")
            }
            return rows.count
        }
        result.autoClosed = closed
        return result
    }
}

extension RequestsService {
    /// The missed deadlines, level and next deadline of a batch of swept requests, in one statement
    /// per 300 (only what a sweep changes, so a concurrent action's other columns are kept).
    func saveEscalations(_ db: any SQLDatabase, _ rows: [Row], now: Int64) async throws {
        for chunk in stride(from: 0, to: rows.count, by: 300) {
            let part = rows[chunk..<min(chunk + 300, rows.count)]
            var missed = SQLQueryString("CASE id"), level = SQLQueryString("CASE id"), next = SQLQueryString("CASE id")
            var ids = SQLQueryString("")
            for (i, r) in part.enumerated() {
                missed += " WHEN \(bind: r.id) THEN \(bind: r.missedText)"
                level += " WHEN \(bind: r.id) THEN CAST(\(bind: r.level.rawValue) AS INTEGER)"
                next += " WHEN \(bind: r.id) THEN CAST(\(bind: r.nextDue()) AS BIGINT)"
                ids += i == 0 ? "\(bind: r.id)" : ", \(bind: r.id)"
            }
            var q = SQLQueryString("UPDATE requests SET missed = ")
            q += missed; q += " END, level = "; q += level; q += " END, next_due = "; q += next
            q += " END, updated_at = \(bind: now) WHERE id IN ("; q += ids; q += ")"
            try await db.raw(q).run()
        }
    }

    /// The public "escalated" steps of a sweep, in one statement per 500.
    func escalationSteps(_ db: any SQLDatabase, _ steps: [(requestID: Int64, note: String, partyKey: String?)], at: Int64) async throws {
        try await db.insertRows("INSERT INTO request_events (request_id, at, user_id, actor_name, kind, note, party_key, public) VALUES ", steps) { e in
            "(\(e.requestID), \(at), NULL, '系统', 'escalated', \(e.note), \(e.partyKey), 1)"
        }
        try await changed(db, steps.map(\.requestID), "escalated")
    }
}

/// Runs the sweep at start (catching up on the time the server was down) and then every
/// `interval` seconds until the server stops; removes orphaned files (the requests' photos and
/// whatever else `orphanSweeps` names: papers, evidence) hourly, once across all the servers
/// sharing the database (the first to claim the hour runs it; a fresh install claims at start).
struct EscalationService: Service {
    let requests: RequestsService
    let interval: Duration
    let logger: Logger
    /// Other capabilities' sweeps of files their rows no longer name: what each holds, and the sweep.
    var orphanSweeps: [(String, @Sendable () async throws -> Int)] = []

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let r = try await requests.escalateOverdue()
                    if r.escalated + r.autoClosed > 0 {
                        logger.info("escalation sweep", metadata: ["escalated": "\(r.escalated)", "auto_closed": "\(r.autoClosed)"])
                    }
                } catch {
                    logger.error("escalation sweep failed: \(error)")
                }
                // Photo files left by failed or interrupted submissions: at start, then hourly.
                if (try? await ScheduledJobs.claim(requests.store, "hourly-sweeps", every: 3600, now: requests.env.nowSeconds)) == true {
                    let photos: @Sendable () async throws -> Int = { [requests] in try await requests.removeOrphanPhotos() }
                    for (what, sweep) in [("photos", photos)] + orphanSweeps {
                        do {
                            let n = try await sweep()
                            if n > 0 { logger.info("orphan files removed", metadata: ["kind": "\(what)", "files": "\(n)"]) }
                        } catch {
                            logger.error("orphan file sweep failed: \(what): \(error)")
                        }
                    }
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
