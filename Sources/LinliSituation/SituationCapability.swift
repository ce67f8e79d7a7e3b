import Foundation
import LinliCore
import LinliStore
import LinliServer

/// The situation map (村情图) and needs analysis as a capability in its own target: staff's
/// picture of a street or community, read through the registry's, requests', grid work's and
/// linkage's own functions (households by situation, hotspots, coverage, facilities, the needs
/// pool). It owns no table of its own; its words, templates, script and routes are here.
package struct SituationCapability: Capability {
    package let situation: SituationService

    package static var migrations: [Migration] { [] }
    package static var text: TextTable { TextTable(name: "situation", strings: SituationText.strings, values: SituationText.values) }
    package static var templateDirectory: String? { get throws { try templates(in: .module) } }
    /// Its words beside the platform's, merged once (`texts` merges on each call).
    static let words = texts

    package static func make(_ linli: inout Linli) throws -> SituationCapability {
        SituationCapability(situation: SituationService(registry: linli.registry, requests: linli.requests, gridWork: linli.gridWork,
                                                        linkage: linli.linkage, env: linli.config.environment))
    }

    package func register(_ routes: Routes, renderer: Renderer, linli: Linli) {
        routes.script("situation.js", SituationScript.js)
        SituationRoutes(situation: situation, requests: linli.requests, renderer: renderer).register(routes)
    }
}

extension Linli {
    /// The situation map's reads (the app is always put together with them: `LinliApp`).
    package var situation: SituationService { required(SituationCapability.self).situation }
}
