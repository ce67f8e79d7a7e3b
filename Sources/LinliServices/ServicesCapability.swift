import Foundation
import LinliCore
import LinliStore
import SQLKit
import LinliServer

/// Daily life in the 15-minute circle — the service centre (办事), activities, rooms, the
/// neighbourhood canteen, mutual help and the time bank, community enterprises — as a capability
/// in its own target. It builds on the platform's registry (households and places), accounts,
/// inbox, and on linkage's ledger and volunteer shifts through the hooks set here, and owns its
/// tables, text, templates and routes; no capability below it names it.
package struct ServicesCapability: Capability {
    package let affairs: AffairsService

    package static var migrations: [Migration] { ServicesMigrations.all }
    package static var text: TextTable { TextTable(name: "services", strings: ServicesText.strings, values: ServicesText.values) }
    package static var templateDirectory: String? { get throws { try templates(in: .module) } }
    /// Its words beside the platform's, merged once (`texts` merges on each call).
    static let words = texts

    package static func make(_ linli: inout Linli) throws -> ServicesCapability {
        let store = linli.store, linkage = linli.linkage
        var affairs = AffairsService(store: store, cipher: linli.cipher, env: linli.config.environment, registry: linli.registry,
                                     paperDirectory: FileFolder.papers.path(in: linli.config.filesDirectory))
        // An enterprise's returned profit or a canteen's meal subsidy is booked on the ledger (linkage's) in the same transaction.
        affairs.bookArrival = { db, arrival, actor in try await linkage.receiveArrival(db, arrival, actor: actor) }
        // The round's volunteer task and its shifts are linkage's: the canteen reads them through these.
        affairs.deliveryTasks = { [dialect = store.dialect] db, path in try await LinkageService.recurringTasks(db, dialect, under: path) }
        affairs.onDeliveryShift = { db, task, user, day in try await LinkageService.onShift(db, taskID: task, userID: user, day: day) }
        affairs.deliveryCrew = { db, task, day in try await LinkageService.crew(db, taskID: task, day: day) }
        affairs.postHelperTask = { db, task, actor in try await linkage.postTask(db, task, actor: actor) }
        affairs.closeHelperTask = { db, task, actor in try await linkage.closeTask(db, taskID: task, reason: "activity cancelled", actor: actor) }
        // A canteen's delivery orders ride on its round's volunteer shifts (read here, shown by linkage).
        linli.linkage.deliveries = { db, task, day in try await AffairsService.deliveryStops(db, taskID: task, day: day) }
        // A payment quoting a meal's reference, from the provider or the bank statement, is the canteen's to book.
        linli.linkage.mealPayments = { [affairs] pay, actor, paths in try await affairs.confirmMealPayment(pay, actor: actor, within: paths) }
        linli.linkage.mealReferencePath = { [affairs] reference in try await affairs.mealReferencePath(reference) }
        // An organisation that posted activities is not removed from the register under them.
        linli.registry.organisationUses.append { db, organisation in
            (try await db.raw("SELECT COUNT(*) AS n FROM activities WHERE organisation_id = \(bind: organisation)").first()!.decode(column: "n", as: Int.self), "活动")
        }
        return ServicesCapability(affairs: affairs)
    }

    package func register(_ routes: Routes, renderer: Renderer, linli: Linli) {
        ServicesRoutes(affairs: affairs, renderer: renderer).register(routes)
    }

    package var sweeps: [(String, @Sendable () async throws -> Int)] {
        [("papers", { [affairs] in try await affairs.removeOrphanPapers() })]
    }
}

extension Linli {
    /// The daily services' use cases (the app is always put together with them: `LinliApp`).
    package var affairs: AffairsService { required(ServicesCapability.self).affairs }
}
