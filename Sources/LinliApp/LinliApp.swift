import Hummingbird
import Logging
import LinliServer
import LinliDeliberation
import LinliServices
import LinliOffices
import LinliSituation
import LinliCircle

/// The app put together: the platform and the capabilities of `LinliServer`, and the
/// capabilities built in their own targets above it. The command line and the tests open Linli
/// through here, so that every one of them runs the same whole app.
package enum LinliApp {
    /// Capabilities in their own targets, in the order their migrations apply.
    package static let capabilities: [any Capability.Type] = [DeliberationCapability.self, ServicesCapability.self, OfficesCapability.self, SituationCapability.self, CircleCapability.self]
}

extension Linli {
    /// Opens the store, applies any pending migrations and makes every capability's use cases.
    package static func open(_ config: AppConfig, logger: Logger = Logger(label: "linli")) async throws -> Linli {
        try await open(config, capabilities: LinliApp.capabilities, logger: logger)
    }
}

/// The whole server for `config`.
package func buildApplication(_ config: AppConfig) async throws -> BuiltApplication<some ApplicationProtocol> {
    var logger = Logger(label: "linli")
    logger.logLevel = config.logLevel
    let linli = try await Linli.open(config, logger: logger)
    return try await buildApplication(linli, logger: logger)
}
