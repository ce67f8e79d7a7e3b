import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliStore

public struct DeliveryTaskInput: Sendable, Codable {
    /// The volunteer task of the round; null to name none.
    public var taskID: Int64?
    public init() {}
    enum CodingKeys: String, CodingKey { case taskID = "task_id" }
}

/// The canteen's delivery orders and the volunteers who carry them: a canteen names the
/// volunteer task of its delivery round (the linkage capability's); that task's shift on a day
/// carries that day's delivery orders, its volunteers see the list and mark each meal delivered.
extension AffairsService {
    /// The day's delivery orders of the canteens whose round is `taskID`, in address order.
    /// The linkage capability shows them on the shift and accepts their doors' codes at check-in.
    public static func deliveryStops(_ db: any SQLDatabase, taskID: Int64, day: Int64) async throws -> [DeliveryStop] {
        try await stops(db, "c.delivery_task_id = \(taskID) AND o.day = \(day) AND o.mode = 'delivery' AND o.status IN ('ordered', 'served')")
    }

    static let stopColumns = """
        SELECT o.id, c.name AS canteen, m.meal, o.diner, h.address, h.code, o.status, o.served_at
        FROM canteen_orders o JOIN canteens c ON c.id = o.canteen_id JOIN canteen_menus m ON m.id = o.menu_id JOIN households h ON h.id = o.household_id
        """

    static func stops(_ db: any SQLDatabase, _ filter: BoundSQL) async throws -> [DeliveryStop] {
        try await db.query("\(unsafeRaw: stopColumns) WHERE \(filter) ORDER BY m.meal, h.address, o.id LIMIT 500").all().map { r in
            DeliveryStop(orderID: try r.decode(column: "id", as: Int64.self), canteen: try r.decode(column: "canteen", as: String.self),
                         meal: try r.decode(column: "meal", as: String.self), diner: try r.decode(column: "diner", as: String.self),
                         address: try r.decode(column: "address", as: String.self), served: try r.decode(column: "status", as: String.self) == "served",
                         servedAt: try r.decode(column: "served_at", as: Int64?.self).map { LocalDay.hhmm(LocalDay.minute($0)) },
                         householdCode: try r.decode(column: "code", as: String.self))
        }
    }

    /// The volunteer tasks the canteen may name as its delivery round (staff only).
    public func deliveryTaskChoices(_ canteenID: Int64, actor: Actor) async throws -> [(id: Int64, title: String)] {
        try await store.read { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            return try await deliveryTasks(db, c.path)
        }
    }

    /// Names the volunteer task whose shifts carry the canteen's delivery orders (nil: none).
    /// The task must be one of the canteen's area's recurring tasks.
    public func setDeliveryTask(_ canteenID: Int64, taskID: Int64?, actor: Actor) async throws -> CanteenView {
        try await store.transaction { db in
            let (c, _) = try await fetchCanteen(db, canteenID, actor)
            guard c.staff else { throw LinliError.forbidden }
            if let taskID {
                guard try await deliveryTasks(db, c.path).contains(where: { $0.id == taskID }) else {
                    throw LinliError.invalid("task_id", "not_found", "请选择本社区的定期志愿任务")
                }
            }
            try await db.query("UPDATE canteens SET delivery_task_id = \(taskID) WHERE id = \(canteenID)").run()
            try await audit.append(db, actor: actor, action: "canteen.delivery_task", objectType: "canteen", objectID: canteenID, path: c.path,
                                   detail: taskID.map(String.init) ?? "none")
        }
        return try await canteen(canteenID, actor: actor)
    }

    /// A volunteer on the round's shift that day marks a delivered meal at the door; whoever
    /// ordered it hears, as when the canteen marks it. Anyone else: 404.
    public func deliverOrder(_ id: Int64, actor: Actor) async throws -> DeliveryStop {
        try await store.transaction { db in
            guard let o = try await db.query("""
                SELECT o.day, o.mode, c.delivery_task_id FROM canteen_orders o JOIN canteens c ON c.id = o.canteen_id WHERE o.id = \(id)
                """).first(),
                  try o.decode(column: "mode", as: String.self) == "delivery",
                  let task = try o.decode(column: "delivery_task_id", as: Int64?.self) else { throw LinliError.notFound }
            let day = try o.decode(column: "day", as: Int64.self)
            guard try await onDeliveryShift(db, task, actor.userID, day) else { throw LinliError.notFound }
            // At the door means today: the kitchen marks a late one the next day, not the volunteer.
            guard day == LocalDay.of(env.nowSeconds) else {
                throw LinliError.conflict(nil, day > LocalDay.of(env.nowSeconds) ? "not_yet" : "too_late", day > LocalDay.of(env.nowSeconds) ? "还没到这份餐的日子" : "只能在送餐当天标记送达")
            }
            try await markServed(db, id, actor: actor)
            guard let stop = try await Self.stops(db, "o.id = \(id)").first else { throw LinliError.notFound }
            return stop
        }
    }
}
