import Foundation
import LinliCore
import LinliStore
import SQLKit

/// One household's card in a printed batch: what is on the paper, nothing more (no residents).
public struct HouseholdCard: Sendable, Codable {
    public var householdID: Int64
    public var address: String
    public var door: String
    public var code: String
}

extension RegistryService {
    /// Most cards one print run makes: a building or a villager group is a few hundred; a whole
    /// compound of thousands is refused with the way to do it (one building at a time), so a
    /// click cannot make a page of tens of megabytes of QR codes.
    public static let cardBatchLimit = 600

    /// A place one printed run is made for: seen by the actor, and a compound or below (a
    /// community's thousands of households are printed building by building).
    func runPlace(_ db: any SQLDatabase, _ id: Int64, actor: Actor, code: String, refusal: String) async throws -> PlaceRow {
        guard let p = try await fetchPlace(db, id), actor.may(.placeView, on: p.scope) else { throw LinliError.notFound }
        guard p.kind.takesPrintedRuns else { throw LinliError.invalid("place_id", code, refusal) }
        return p
    }

    /// The household cards of a building, unit, compound, villager group or natural village — the
    /// households under it the actor may see (a grid worker: their grid's), in address order.
    public func householdCards(placeID: Int64, actor: Actor) async throws -> (place: PlaceSummary, cards: [HouseholdCard]) {
        try await store.read { db in
            let p = try await runPlace(db, placeID, actor: actor, code: "cards_place", refusal: "请在小区、楼栋、单元或村民小组打印百姓码卡片")
            let scope = scopedHouseholds(actor, .householdView, alias: "h")
            let rows = try await db.query("""
                SELECT h.id, h.address, h.door, h.code FROM households h
                WHERE \(store.dialect.startsWith("h.path", p.path)) AND \(scope)
                ORDER BY h.path, h.door LIMIT \(Self.cardBatchLimit + 1)
                """).all()
            if rows.count > Self.cardBatchLimit {
                throw LinliError.invalid("place_id", "cards_too_many", "一次最多打印 \(Self.cardBatchLimit) 户，请按楼栋分批打印")
            }
            let cards = try rows.map { r in
                HouseholdCard(householdID: try r.decode(column: "id", as: Int64.self), address: try r.decode(column: "address", as: String.self),
                              door: try r.decode(column: "door", as: String.self), code: try r.decode(column: "code", as: String.self))
            }
            return (p.summary, cards)
        }
    }
}

/// A grown-up living under a place, to whom an invitation may be printed.
public struct InvitableResident: Sendable {
    public var residentID: Int64
    public var householdID: Int64
    public var name: String
    public var address: String
}

extension RegistryService {
    /// The residents of 18 or more living under a compound, building, unit or villager group,
    /// among those the actor may edit, in address order: who a run of invitations is printed
    /// for (the accounts leave out those who already have one).
    static let inviteScanLimit = 2000

    public func invitableResidents(placeID: Int64, actor: Actor) async throws -> (place: PlaceSummary, people: [InvitableResident]) {
        let now = env.now()
        return try await store.read { db in
            let p = try await runPlace(db, placeID, actor: actor, code: "invites_place", refusal: "请在小区、楼栋、单元或村民小组批量生成邀请码")
            let scope = scopedHouseholds(actor, .residentEdit, alias: "h")
            let rows = try await db.raw("""
                SELECT r.id, r.household_id, r.name, r.birth_date, h.address FROM residents r JOIN households h ON h.id = r.household_id
                WHERE \(store.dialect.startsWith("h.path", p.path)) AND \(scope)
                ORDER BY h.path, h.door, r.id LIMIT \(unsafeRaw: String(Self.inviteScanLimit + 1))
                """).all()
            // Never a silent cut: a place too big for one run is refused, as the cards are.
            if rows.count > Self.inviteScanLimit {
                throw LinliError.invalid("place_id", "invites_too_many", "这里居民太多，请按楼栋分批生成邀请码")
            }
            let people = try rows.compactMap { r -> InvitableResident? in
                guard Self.age(birth: try r.decode(column: "birth_date", as: String.self), now: now) >= 18 else { return nil }
                return InvitableResident(residentID: try r.decode(column: "id", as: Int64.self), householdID: try r.decode(column: "household_id", as: Int64.self),
                                         name: try r.decode(column: "name", as: String.self), address: try r.decode(column: "address", as: String.self))
            }
            return (p.summary, people)
        }
    }
}
