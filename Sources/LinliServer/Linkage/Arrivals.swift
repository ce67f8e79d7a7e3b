import Foundation

// What capabilities above this target hand the ledger and the volunteer shifts: the shapes of
// linkage's hooks, defined by linkage so that it names no capability built on top of it.

/// What the services capability asks of the ledger's owner when money has arrived: a community
/// enterprise's returned profit into the community's account, the government's meal subsidy into
/// a canteen's, or a diner's payment for a meal into the canteen's (and, when a paid meal was
/// cancelled, that payment handed back). Booked once per key, inside the caller's transaction.
public struct FundArrival: Sendable {
    public enum Kind: Sendable { case enterpriseReturn, mealSubsidy, mealPayment, mealRefund }
    public var kind: Kind
    /// The enterprise's or the canteen's id and name.
    public var fromID: Int64
    public var fromName: String
    /// The community whose public ledger lists it, or nil for an area above a community (a
    /// street's canteen): then no community's ledger lists it.
    public var communityID: Int64?
    public var path: String
    public var communityName: String
    public var amount: Int64
    public var memo: String
    public var key: String

    public init(kind: Kind, fromID: Int64, fromName: String, communityID: Int64?, path: String, communityName: String,
                amount: Int64, memo: String, key: String) {
        self.kind = kind; self.fromID = fromID; self.fromName = fromName; self.communityID = communityID; self.path = path
        self.communityName = communityName; self.amount = amount; self.memo = memo; self.key = key
    }
}

/// One meal to carry on a delivery round: what the volunteer on that day's shift sees (the
/// diner's family name only, the door they carry it to) and ticks off at the door.
public struct DeliveryStop: Sendable, Codable, Equatable {
    public var orderID: Int64
    public var canteen: String
    public var meal: String
    public var diner: String
    public var address: String
    public var served: Bool
    public var servedAt: String?
    /// The household's code, which the volunteer may scan at the door to check in; never sent.
    public var householdCode: String = ""

    public init(orderID: Int64, canteen: String, meal: String, diner: String, address: String, served: Bool, servedAt: String?,
                householdCode: String = "") {
        self.orderID = orderID; self.canteen = canteen; self.meal = meal; self.diner = diner; self.address = address
        self.served = served; self.servedAt = servedAt; self.householdCode = householdCode
    }
    enum CodingKeys: String, CodingKey { case orderID = "order_id", canteen, meal, diner, address, served, servedAt = "served_at" }
}

