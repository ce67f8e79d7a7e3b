import ArgumentParser
import LinliServer

/// Options every command shares; each may also come from LINLI_* environment variables.
public struct Common: ParsableArguments {
    public init() {}
    @Option(help: "Data directory for the SQLite file and the development key (LINLI_DATA_DIR).")
    public var dataDir: String?
    @Option(help: "postgres://user:pass@host:port/db to use PostgreSQL (LINLI_DATABASE_URL).")
    public var databaseURL: String?

    public func config() -> AppConfig {
        var c = AppConfig.fromEnvironment()
        if let d = dataDir { c.dataDirectory = d }
        if let u = databaseURL { c.databaseURL = u }
        return c
    }
}
