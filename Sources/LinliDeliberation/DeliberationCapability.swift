import Foundation
import LinliCore
import LinliStore
import LinliServer

/// Deliberation (议事协商) and owners' votes as a capability in its own target: matters and their
/// stages, meetings, polls and ballots by the Civil Code's double majority, proxies, notices and
/// milestones. It owns its tables, words, templates and routes; it reaches the registry only
/// through the hook by which a sale waits for an open vote, and the home page through
/// `Linli.openVotes`.
package struct DeliberationCapability: Capability {
    package let deliberation: DeliberationService

    package static var migrations: [Migration] { DeliberationMigrations.all }
    package static var text: TextTable { TextTable(name: "deliberation", strings: DeliberationText.strings, values: DeliberationText.values) }
    package static var templateDirectory: String? { get throws { try templates(in: .module) } }
    /// Its words beside the platform's, merged once (`texts` merges on each call).
    static let words = texts

    package static func make(_ linli: inout Linli) throws -> DeliberationCapability {
        let deliberation = DeliberationService(store: linli.store, env: linli.config.environment,
                                               documentDirectory: FileFolder.documents.path(in: linli.config.filesDirectory))
        // A sale is refused while an open owners' vote counts the part (its electorate is frozen).
        linli.registry.partLock = { db, part in try await DeliberationService.openPollHolding(db, part: part) }
        linli.openVotes = { actor in try await deliberation.openVotes(actor: actor) }
        return DeliberationCapability(deliberation: deliberation)
    }

    /// The built-in processes and the Civil Code's vote rule, in place before any matter is raised.
    package func start() async throws { try await deliberation.ensureDefaults() }

    package func register(_ routes: Routes, renderer: Renderer, linli: Linli) {
        DeliberationRoutes(deliberation: deliberation, renderer: renderer).register(routes)
    }
}

extension Linli {
    /// Deliberation's use cases (the app is always put together with them: `LinliApp`).
    package var deliberation: DeliberationService { required(DeliberationCapability.self).deliberation }
}
