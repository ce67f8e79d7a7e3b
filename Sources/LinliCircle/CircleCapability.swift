import Foundation
import LinliCore
import LinliStore
import LinliServer

/// The 15-minute living circle (15分钟生活圈) as a capability in its own target: what the homes
/// of a street or community reach on foot — services, shops, schools, care — over the
/// registry's places and facilities and a walking network the street imports (or the demo's
/// lattice). It owns its table (`walk_networks`), words, template, script and routes.
package struct CircleCapability: Capability {
    package let circle: CircleService

    package static var migrations: [Migration] { CircleMigrations.all }
    package static var text: TextTable { TextTable(name: "circle", strings: CircleText.strings, values: CircleText.values) }
    package static var templateDirectory: String? { get throws { try templates(in: .module) } }
    /// Its words beside the platform's, merged once (`texts` merges on each call).
    static let words = texts

    package static func make(_ linli: inout Linli) throws -> CircleCapability {
        CircleCapability(circle: CircleService(store: linli.store, registry: linli.registry, env: linli.config.environment))
    }

    package func register(_ routes: Routes, renderer: Renderer, linli: Linli) {
        routes.script("circle.js", CircleScript.js)
        CircleRoutes(circle: circle, registry: linli.registry, renderer: renderer).register(routes)
    }
}
