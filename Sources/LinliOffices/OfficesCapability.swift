import Foundation
import LinliCore
import LinliStore
import LinliServer

/// The offices' side — the public lists (准入、自治、协助、负面), departments' work items with the
/// admission clock and the money that follows the task, communities' ratings of departments,
/// assessments, certificates, the dashboards up the hierarchy and the outbox to upper-level
/// systems — as a capability in its own target. It reads the registry (departments, places),
/// accounts (who works where), each capability's figures through their own functions, moves
/// money on linkage's ledger, and hears every step of a request through the requests' hook set
/// here; no capability below it names it.
package struct OfficesCapability: Capability {
    package let offices: OfficesService

    package static var migrations: [Migration] { OfficesMigrations.all }
    package static var text: TextTable { TextTable(name: "offices", strings: OfficesText.strings, values: OfficesText.values) }
    package static var templateDirectory: String? { get throws { try templates(in: .module) } }
    /// Its words beside the platform's, merged once (`texts` merges on each call).
    static let words = texts

    package static func make(_ linli: inout Linli) throws -> OfficesCapability {
        let requests = linli.requests
        // Work items keep the same working-day calendar (holidays, 调休) as requests' deadlines.
        let offices = OfficesService(store: linli.store, env: linli.config.environment, linkage: linli.linkage, registry: linli.registry,
                                     cipher: linli.cipher, evidenceDirectory: FileFolder.evidence.path(in: linli.config.filesDirectory),
                                     calendar: { try await requests.workCalendar() })
        // Every step of a request reaches the outbox to an upper-level system in its own transaction.
        linli.requests.changed = { db, ids, kind in try await offices.enqueue(db, requestIDs: ids, kind: kind) }
        return OfficesCapability(offices: offices)
    }

    package func register(_ routes: Routes, renderer: Renderer, linli: Linli) {
        OfficesRoutes(offices: offices, renderer: renderer).register(routes)
    }

    package var sweeps: [(String, @Sendable () async throws -> Int)] {
        [("evidence", { [offices] in try await offices.removeOrphanEvidence() })]
    }

    package var jobs: [(String, @Sendable () async throws -> Void)] {
        [("outbox delivery", { [offices] in _ = try await offices.deliverOutbox() })]
    }
}

extension Linli {
    /// The offices' use cases (the app is always put together with them: `LinliApp`).
    package var offices: OfficesService { required(OfficesCapability.self).offices }
}
