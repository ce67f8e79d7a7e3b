import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Money that follows a task (费随事转) on the same double-entry ledger: a department's budget,
/// funded when the treasury's transfer has really arrived, pays each community that takes on an
/// admitted work item; a refused or revoked share is paid back. The offices' capability calls
/// these inside its own transaction, so an admission and its money are written together or not at all.
extension LinkageService {
    /// Records money arrived in a department's budget (财政拨付). `key` makes a retry a no-op.
    /// Returns false when that key was booked before.
    @discardableResult
    package func fundDepartment(_ db: any SQLDatabase, departmentID: Int64, path: String, name: String, amount: Int64, memo: String, key: String,
                        actor: Actor, now: Int64) async throws -> Bool {
        if try await booked(db, key) { return false }
        let budget = try await account(db, .department, departmentID, path: path, name: "部门预算：" + name)
        let treasury = try await account(db, .finance, departmentID, path: path, name: "财政拨付：" + name)
        let community = try await ledgerCommunity(db, areaPath: path)
        try await post(db, Movement(kind: "department_funding", communityID: community, amount: amount, memo: memo.isEmpty ? name : memo, key: key),
                       [Posting(treasury, -amount), Posting(budget, amount)], actor: actor, now: now)
        return true
    }

    /// What a department's budget holds now (locked for the transaction on PostgreSQL).
    package func departmentBalance(_ db: any SQLDatabase, departmentID: Int64) async throws -> Int64 {
        guard let r = try await db.raw("SELECT id FROM ledger_accounts WHERE kind = 'department' AND ref_id = \(bind: departmentID)").first() else { return 0 }
        return try await lockedBalance(db, try r.decode(column: "id", as: Int64.self))
    }

    /// Pays (amount > 0) or pays back (amount < 0) a community's fee for a work item; the movement
    /// is listed on the community's public ledger under the item's title. Once per `key`.
    @discardableResult
    package func moveTaskFee(_ db: any SQLDatabase, departmentID: Int64, departmentPath: String, departmentName: String,
                     communityID: Int64, communityPath: String, communityName: String, amount: Int64, memo: String, key: String,
                     actor: Actor, now: Int64) async throws -> Bool {
        guard amount != 0, !(try await booked(db, key)) else { return false }
        let budget = try await account(db, .department, departmentID, path: departmentPath, name: "部门预算：" + departmentName)
        let community = try await account(db, .community, communityID, path: communityPath, name: "社区账户：" + communityName)
        try await post(db, Movement(kind: amount > 0 ? "task_fee" : "task_fee_refund", communityID: communityID, amount: abs(amount), memo: memo, key: key),
                       [Posting(budget, -amount), Posting(community, amount)], actor: actor, now: now)
        return true
    }

    /// Books money that has arrived from outside: a community enterprise's returned profit
    /// (社区企业利润回馈), from the enterprise's account into the community's own; the
    /// government's meal subsidy for a canteen's month, from the treasury's subsidy account into
    /// the canteen's, listed on the community's public ledger under `memo` (a street's canteen:
    /// on none); or a diner's payment for a meal (and its refund), on no public ledger. The services capability calls this inside its own transaction, so its record
    /// and the money are written together or not at all. Once per key.
    public func receiveArrival(_ db: any SQLDatabase, _ a: FundArrival, actor: Actor?) async throws -> Int64 {
        guard a.amount > 0, !(try await booked(db, a.key)) else { throw LinliError(.conflict, code: "already_booked", field: "reference", message: "这笔到账已登记过") }
        let community: Int64
        if let id = a.communityID { community = id } else { community = try await ledgerCommunity(db, areaPath: a.path) }
        let from: Int64, to: Int64, kind: String
        switch a.kind {
        case .enterpriseReturn:
            from = try await account(db, .enterprise, a.fromID, path: a.path, name: "社区企业：" + a.fromName)
            to = try await account(db, .community, community, path: a.path, name: "社区账户：" + a.communityName)
            kind = "enterprise_return"
        case .mealSubsidy:
            from = try await account(db, .subsidy, a.fromID, path: a.path, name: "财政助餐补贴：" + a.fromName)
            to = try await account(db, .canteen, a.fromID, path: a.path, name: "食堂：" + a.fromName)
            kind = a.communityID == nil ? "meal_subsidy_area" : "meal_subsidy"
        case .mealPayment, .mealRefund:
            // A diner's own money: in the canteen's books, on no public ledger.
            let diners = try await account(db, .diners, a.fromID, path: a.path, name: "就餐者付款：" + a.fromName)
            let canteen = try await account(db, .canteen, a.fromID, path: a.path, name: "食堂：" + a.fromName)
            (from, to, kind) = a.kind == .mealPayment ? (diners, canteen, "meal_payment") : (canteen, diners, "meal_refund")
        }
        return try await post(db, Movement(kind: kind, communityID: community, amount: a.amount, memo: a.memo, key: a.key),
                              [Posting(from, -a.amount), Posting(to, a.amount)], actor: actor, now: env.nowSeconds)
    }

    func booked(_ db: any SQLDatabase, _ key: String) async throws -> Bool {
        try await db.raw("SELECT 1 AS x FROM ledger_transactions WHERE idempotency_key = \(bind: key)").first() != nil
    }
}

extension LinkageService {
    /// What each department's budget holds (0 for one never funded).
    package func departmentBalances(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Int64: Int64] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: Int64] = [:]
        for r in try await db.query("""
            SELECT a.ref_id, CAST(SUM(b.balance) AS BIGINT) AS balance FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id
            WHERE a.kind = 'department' AND a.ref_id IN (\(list: ids)) GROUP BY a.ref_id
            """).all() {
            out[try r.decode(column: "ref_id", as: Int64.self)] = try r.decode(column: "balance", as: Int64.self)
        }
        return out
    }
}
