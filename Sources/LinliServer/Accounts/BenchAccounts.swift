import Foundation
import SQLKit
import LinliCore
import LinliStore

extension AccountService {
    /// Bare resident accounts for households, for benchmarks only: one per household given, with
    /// a password hash no password matches ("!"), so nobody can sign in as them. Batches of 500.
    static func benchResidents(_ db: any SQLDatabase, households: [(id: Int64, placeID: Int64)], now: Int64) async throws {
        for start in stride(from: 0, to: households.count, by: 500) {
            let chunk = Array(households[start..<min(start + 500, households.count)])
            try await db.insertRows("INSERT INTO users (username, display_name, password_hash, created_at) VALUES ", chunk) { h in
                "(\("bench-h\(h.id)"), '住户', '!', \(now))"
            }
            let ids = try await db.query("SELECT id, username FROM users WHERE username IN (\(list: chunk.map { "bench-h\($0.id)" }))").all()
            let byName = Dictionary(try ids.map { (try $0.decode(column: "username", as: String.self), try $0.decode(column: "id", as: Int64.self)) },
                                    uniquingKeysWith: { a, _ in a })
            try await db.insertRows("INSERT INTO role_grants (user_id, role, place_id, household_id) VALUES ", chunk) { h in
                "(\(byName["bench-h\(h.id)"]!), 'resident', \(h.placeID), \(h.id))"
            }
        }
    }
}
