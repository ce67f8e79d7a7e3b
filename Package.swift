// swift-tools-version: 6.1
import PackageDescription

/// A capability in its own target above the platform: the platform's targets, Hummingbird,
/// SQLKit and logging, its own `Resources` (templates), and whatever else it names.
/// What both executables are built on: the app put together and the shared options.
let commandLine: [Target.Dependency] = [
    "LinliApp", "LinliCommandLine", "LinliDeliberation", "LinliServices", "LinliOffices", "LinliCircle", "LinliServer",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]

func capability(_ name: String, _ more: [Target.Dependency] = []) -> Target {
    .target(name: name,
            dependencies: ["LinliCore", "LinliStore", "LinliServer",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "SQLKit", package: "sql-kit"),
                           .product(name: "Logging", package: "swift-log")] + more,
            resources: [.copy("Resources")])
}

let package = Package(
    name: "linli",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "linli", targets: ["linli"]),
        .executable(name: "linli-bench", targets: ["linli-bench"]),
        .library(name: "LinliServer", targets: ["LinliServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        // Shortest walks along a street network (the 15-minute living circle).
        .package(url: "https://github.com/davecom/SwiftGraph.git", from: "4.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CQRencode", path: "Sources/CQRencode", pkgConfig: "libqrencode",
                       providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CVips", path: "Sources/CVips", pkgConfig: "vips",
                       providers: [.apt(["libvips-dev"])]),
        // libvips' API is variadic C; this thin C target wraps the few calls Linli needs.
        .target(name: "LinliImage", dependencies: ["CVips"], path: "Sources/LinliImage"),
        // Debian's SQLite, linked directly rather than through sqlite-nio's internal, renamed copy.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        // One variadic SQLite call (sqlite3_db_config) Swift cannot make itself.
        .target(name: "LinliSQLite", dependencies: ["CSQLite"], path: "Sources/LinliSQLite"),
        // Platform: ids, errors, clock, input cleaning, permissions, personal-data crypto, caches.
        // No I/O beyond files, no database, no capability.
        .target(
            name: "LinliCore",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Platform: the store protocol, dialects, migrations, bound SQL, the SQLite driver with
        // group commit, PostgreSQL through postgres-kit, backups. Knows no capability's tables.
        .target(
            name: "LinliStore",
            dependencies: [
                "LinliCore",
                "CSQLite",
                "LinliSQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LinliServer",
            dependencies: [
                "CQRencode",
                "LinliImage",
                "LinliCore",
                "LinliStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),
        // Deliberation (议事协商) and owners' votes: matters, meetings, polls and ballots, proxies,
        // notices. The first of the core capabilities moved out of LinliServer.
        capability("LinliDeliberation", [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // Daily services (办事, activities, rooms, the canteen, mutual help, enterprises): the first
        // capability in its own target, above the platform and the capabilities it builds on.
        capability("LinliServices", [.product(name: "Crypto", package: "swift-crypto"), .product(name: "MultipartKit", package: "multipart-kit")]),
        // The offices' side (lists, work items, ratings, assessments, certificates, dashboards,
        // the outbox): a capability in its own target, above the platform.
        capability("LinliOffices", ["LinliDeliberation", .product(name: "Crypto", package: "swift-crypto")]),
        // The situation map (村情图) and needs analysis: reads over the registry, requests, grid
        // work and linkage, in its own target above them.
        capability("LinliSituation"),
        // The 15-minute living circle: what a street's or community's homes reach on foot, over
        // the registry's places and an imported walking network (SwiftGraph for the walks).
        capability("LinliCircle", [.product(name: "SwiftGraph", package: "SwiftGraph")]),
        // The app put together: every capability, for the command line and the tests.
        .target(
            name: "LinliApp",
            dependencies: [
                "LinliServer",
                "LinliDeliberation",
                "LinliServices",
                "LinliOffices",
                "LinliSituation",
                "LinliCircle",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The options both command lines share.
        .target(
            name: "LinliCommandLine",
            dependencies: ["LinliServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // What a city runs: serve, migrate, accounts, import and export, backup, the checks.
        .executableTarget(name: "linli", dependencies: commandLine),
        // What makes data instead: the demo street, the history generator, the benchmarks.
        .executableTarget(name: "linli-bench", dependencies: commandLine),
        .testTarget(
            name: "LinliStoreTests",
            dependencies: [
                "LinliCore",
                "LinliStore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LinliServerTests",
            dependencies: [
                "LinliServer",
                "LinliDeliberation",
                "LinliServices",
                "LinliOffices",
                "LinliSituation",
                "LinliCircle",
                "LinliApp",
                "LinliCore",
                "LinliStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
    ]
)
