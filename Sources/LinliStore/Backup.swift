import LinliCore
import Foundation
import CSQLite

/// Online backup and restore of a Linli data store: the database (SQLite through its backup API,
/// PostgreSQL through pg_dump) and the files beside it (photos, receipts, ballot documents). The
/// data key is never copied: a backup and its key are kept apart (see the README's Security).
/// Where a deployment keeps its data: the PostgreSQL URL if any, else the SQLite file, and the
/// directory of its files (photos, receipts). The app's configuration provides it.
public protocol StoreLocation {
    var databaseURL: String? { get }
    var dataDirectory: String { get }
    var sqlitePath: String { get }
    /// Where the files rows name are kept (the data directory unless shared, LINLI_FILES_DIR).
    var filesDirectory: String { get }
}

/// The folders of files that rows name, every capability's, under the files directory: requests'
/// photos, the ledger's receipts, ballot documents, the service centre's papers, the offices'
/// evidence, and grid work's photos. One list, so that a backup copies every folder a capability
/// writes to.
public enum FileFolder: String, CaseIterable, Sendable {
    case photos, receipts, documents, papers, evidence, gridworkPhotos = "gridwork-photos"
    public func path(in directory: String) -> String { directory + "/" + rawValue }
}

public enum Backup {
    package static let fileFolders = FileFolder.allCases.map(\.rawValue)
    package static let sqliteName = "linli.sqlite", pgName = "linli.pgdump"

    public struct Summary: Sendable {
        public var database: String
        public var files: Int
    }

    /// Copies a live SQLite database with SQLite's backup API: one consistent snapshot (a WAL
    /// reader, so writers carry on), written to `destination`.
    public static func copySQLite(from source: String, to destination: String) throws {
        var src: OpaquePointer?, dst: OpaquePointer?
        defer { sqlite3_close_v2(src); sqlite3_close_v2(dst) }
        guard sqlite3_open_v2(source, &src, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let src else {
            throw LinliError(.internalServerError, code: "backup", message: "cannot open \(source)")
        }
        guard sqlite3_open_v2(destination, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let dst else {
            throw LinliError(.internalServerError, code: "backup", message: "cannot create \(destination)")
        }
        sqlite3_busy_timeout(src, 10_000)
        guard let b = sqlite3_backup_init(dst, "main", src, "main") else {
            throw LinliError(.internalServerError, code: "backup", message: String(cString: sqlite3_errmsg(dst)))
        }
        // All pages in one step: the copy is the database as of one moment.
        var rc = sqlite3_backup_step(b, -1)
        while rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
            usleep(50_000)
            rc = sqlite3_backup_step(b, -1)
        }
        let finish = sqlite3_backup_finish(b)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            throw LinliError(.internalServerError, code: "backup", message: "SQLite backup failed (\(rc)): \(String(cString: sqlite3_errmsg(dst)))")
        }
    }

    /// Runs a program and waits for it; its error output becomes the error.
    package static func run(_ program: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw LinliError(.internalServerError, code: "backup", message: "\(program) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }

    package static func tool(_ name: String) -> String {
        for dir in ["/usr/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return name
    }

    /// Copies the files rows name; returns how many. (Files are written once and never changed,
    /// so copying after the database snapshot misses none that the snapshot names.)
    package static func copyFiles(from: String, to: String) throws -> Int {
        let fm = FileManager.default
        var n = 0
        for folder in fileFolders {
            let src = from + "/" + folder
            guard let names = try? fm.contentsOfDirectory(atPath: src) else { continue }
            try fm.createDirectory(atPath: to + "/" + folder, withIntermediateDirectories: true)
            for name in names where !fm.fileExists(atPath: to + "/" + folder + "/" + name) {
                try fm.copyItem(atPath: src + "/" + name, toPath: to + "/" + folder + "/" + name)
                n += 1
            }
        }
        return n
    }

    /// Backs up the store of `config` into `directory` (created; must be empty or new).
    public static func backup(_ config: some StoreLocation, to directory: String) throws -> Summary {
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw LinliError.invalid("output", "not_empty", "backup directory \(directory) is not empty")
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database: String
        if let url = config.databaseURL, url.hasPrefix("postgres") {
            database = directory + "/" + pgName
            try run(tool("pg_dump"), ["--format=custom", "--no-owner", "--file=" + database, url])
        } else {
            database = directory + "/" + sqliteName
            try copySQLite(from: config.sqlitePath, to: database)
        }
        chmod(database, 0o600)
        let files = try copyFiles(from: config.filesDirectory, to: directory)
        return Summary(database: database, files: files)
    }

    /// Restores a backup into the store of `config`, which must be empty (a new data directory, or
    /// a PostgreSQL database without tables).
    public static func restore(_ config: some StoreLocation, from directory: String) throws -> Summary {
        let fm = FileManager.default
        if let url = config.databaseURL, url.hasPrefix("postgres") {
            let dump = directory + "/" + pgName
            guard fm.fileExists(atPath: dump) else { throw LinliError.invalid("from", "no_dump", "\(dump) not found") }
            try run(tool("pg_restore"), ["--no-owner", "--exit-on-error", "--single-transaction", "--dbname=" + url, dump])
        } else {
            let source = directory + "/" + sqliteName
            guard fm.fileExists(atPath: source) else { throw LinliError.invalid("from", "no_database", "\(source) not found") }
            guard !fm.fileExists(atPath: config.sqlitePath) else {
                throw LinliError.invalid("data_dir", "not_empty", "\(config.sqlitePath) exists: restore into an empty data directory")
            }
            try fm.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
            try copySQLite(from: source, to: config.sqlitePath)
        }
        let files = try copyFiles(from: directory, to: config.filesDirectory)
        return Summary(database: config.databaseURL == nil ? config.sqlitePath : "postgres", files: files)
    }
}
