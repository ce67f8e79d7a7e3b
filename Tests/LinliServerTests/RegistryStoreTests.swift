import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Use cases against a real database, on SQLite and on PostgreSQL.
@Suite struct RegistryStoreTests {
    @Test(arguments: Backend.available)
    func migrationsAreIdempotentAndAuditLogIsAppendOnly(_ backend: Backend) async throws {
        try await withFixture(backend, accounts: false) { f in
            let again = try await Migrator.migrate(f.linli.store, Linli.migrations)
            #expect(again.isEmpty)
            try await f.linli.store.transaction { db in
                try await AuditLog(env: .live).append(db, actor: nil, action: "test", objectType: "test", objectID: nil, path: "/")
            }
            await #expect(throws: (any Error).self) {
                try await f.linli.store.transaction { db in try await db.raw("UPDATE audit_log SET reason = 'x'").run() }
            }
            await #expect(throws: (any Error).self) {
                try await f.linli.store.transaction { db in try await db.raw("DELETE FROM audit_log").run() }
            }
        }
    }

    @Test(arguments: Backend.available)
    func demoHasTheShapesAndValidPeople(_ backend: Backend) async throws {
        try await withFixture(backend, accounts: false) { f in
            #expect(f.demo.streets == 2)
            #expect(f.demo.communities == 4)
            let (households, residents, unassigned) = try await f.linli.store.read { db in
                (try await db.raw("SELECT COUNT(*) AS n FROM households").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM residents").first()!.decode(column: "n", as: Int.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM households h JOIN grids g ON g.id = h.micro_grid_id WHERE g.community_id <> h.community_id OR g.level <> 'micro'").first()!.decode(column: "n", as: Int.self))
            }
            #expect(households == 100)
            #expect(residents > 200)
            #expect(unassigned == 0, "every household is in a micro-grid of its own community")
        }
    }

    @Test(arguments: Backend.available)
    func residentRulesDuplicatesAndUnmaskAudit(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let staff = try await f.actor("community")
            let ids = try await f.ids()
            let input = ResidentInput(householdID: ids.insideHousehold, name: "李四", idNumber: "11010519491231002X", phone: "13812345678",
                                      registration: "registered", relation: "family", tags: ["elderly"])
            let created = try await f.linli.registry.createResident(input, actor: staff)
            #expect(created.idNumber == "**************002X")
            #expect(created.phone == "138****5678")
            #expect(created.birthDate == "1949-12-31")
            // A duplicate ID number is refused and nothing is written.
            await #expect(throws: LinliError.self) { _ = try await f.linli.registry.createResident(input, actor: staff) }
            // Outside the scope the household does not exist.
            var other = input; other.householdID = ids.outsideHousehold; other.idNumber = "110105200001010016"
            do { _ = try await f.linli.registry.createResident(other, actor: staff); Issue.record("created out of scope") }
            catch let e as LinliError { #expect(e.status == .unprocessableContent && e.field == "household_id") }
            // Search by exact phone and by ID goes through the HMAC index.
            #expect(try await f.linli.registry.search("138 1234 5678", actor: staff).map(\.id) == [created.id])
            #expect(try await f.linli.registry.search("11010519491231002x", actor: staff).map(\.id) == [created.id])
            // Unmasking needs a reason and writes the audit log.
            await #expect(throws: LinliError.self) { _ = try await f.linli.registry.unmaskResident(created.id, reason: " ", actor: staff) }
            let full = try await f.linli.registry.unmaskResident(created.id, reason: "核实身份", actor: staff)
            #expect(full.idNumber == "11010519491231002X" && full.phone == "13812345678")
            let auditor = try await f.actor("auditor")
            let log = try await f.linli.audit.list(f.linli.store, actor: auditor)
            #expect(log.contains { $0.action == "resident.unmask" && $0.objectID == created.id && $0.reason == "核实身份" && $0.username == "community" })
            #expect(log.filter { $0.action == "resident.unmask" }.count == 1, "a refused unmask leaves no trace of data shown")
        }
    }

    /// Names are found by prefix and addresses by any part, only inside the actor's area, with
    /// wildcards taken literally; the same answers on both databases.
    @Test(arguments: Backend.available)
    func searchByNameAndAddressStaysInScope(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let staff = try await f.actor("community"), admin = try await f.actor("admin")
            let ids = try await f.ids()
            let mine = try await f.linli.registry.createResident(
                ResidentInput(householdID: ids.insideHousehold, name: "欧阳明", idNumber: "110105194912310038", registration: "registered", relation: "family"), actor: staff)
            let theirs = try await f.linli.registry.createResident(
                ResidentInput(householdID: ids.outsideHousehold, name: "欧阳亮", idNumber: "110105195001010012", registration: "registered", relation: "family"), actor: admin)
            #expect(try await f.linli.registry.search("欧阳", actor: staff).map(\.id) == [mine.id])
            #expect(try await f.linli.registry.search("欧阳", actor: admin).map(\.id) == [mine.id, theirs.id])
            #expect(try await f.linli.registry.search("欧阳明", actor: admin).map(\.id) == [mine.id])
            #expect(try await f.linli.registry.search("欧%", actor: admin).isEmpty, "a % is a character, not a wildcard")
            #expect(try await f.linli.registry.search("阳明", actor: admin).isEmpty, "names match from their start")
            let address = try await f.linli.registry.household(ids.insideHousehold, actor: staff).address
            let word = String(address.split(separator: " ").last!)
            let byAddress = try await f.linli.registry.search(word, actor: staff)
            #expect(byAddress.contains { $0.id == mine.id })
            #expect(byAddress.allSatisfy { ($0.address ?? "").contains(word) })
            #expect(try await f.linli.registry.search(word, actor: staff, limit: 1).count == 1, "the two lookups together still keep to the limit")
        }
    }

    /// `BoundSQL` on both databases: typed values and typed NULLs, lists, pieces joined and put
    /// into SQLKit's own queries, a `?` inside a quoted literal left alone; and reads nested deeper
    /// than there are SQLite readers (a reader already in a read transaction joins it).
    @Test(arguments: Backend.available)
    func boundSQLBindsTypedValuesOnBothDatabases(_ backend: Backend) async throws {
        try await withFixture(backend, accounts: false) { f in
            // The owner's connection: the test makes a table of its own (the server's role may not).
            try await f.asOwner { store in
                try await store.transaction { db in
                    try await db.raw("CREATE TABLE bound_test (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, note TEXT, ref BIGINT, flag BIGINT)").run()
                    let none: Int64? = nil, noText: String? = nil, noScore: Double? = nil
                    try await db.insertRows("INSERT INTO bound_test (id, name, score, note, ref, flag) VALUES ", [Int64(1), 2, 3]) { i in
                        i == 2 ? "(\(i), \(noText), \(noScore), 'what?', \(none), \(false))" : "(\(i), \("名" + String(i)), \(Double(i) / 2), \("n" + String(i)), \(i * 10), \(i == 1))"
                    }
                }
                let (rows, viaSQLKit, nested) = try await store.read { db in
                    let either = BoundSQL.joined(["id = \(Int64(1))", "ref = \(Int64(30))"], separator: " OR ")
                    let rows = try await db.query("SELECT id, name, score, note, ref, flag FROM bound_test WHERE id IN (\(list: [1, 2, 3])) AND (\(either) OR note = 'what?') ORDER BY id").all()
                    let viaSQLKit = try await db.raw("SELECT COUNT(*) AS n FROM bound_test WHERE \(either) AND id > \(bind: 0)").first()!.decode(column: "n", as: Int.self)
                    @Sendable func deeper(_ n: Int) async throws -> Int {
                        n == 0 ? 0 : try await store.read { db in
                            try await db.query("SELECT COUNT(*) AS n FROM bound_test WHERE name IS NULL").first()!.decode(column: "n", as: Int.self) + deeper(n - 1)
                        }
                    }
                    return (rows, viaSQLKit, try await deeper(6))
                }
                #expect(try rows.map { try $0.decode(column: "id", as: Int64.self) } == [1, 2, 3])
                #expect(try rows[0].decode(column: "name", as: String.self) == "名1" && rows[0].decode(column: "score", as: Double.self) == 0.5)
                #expect(try rows.map { try $0.decode(column: "flag", as: Int.self) } == [1, 0, 0])
                #expect(try rows[1].decode(column: "name", as: String?.self) == nil && rows[1].decode(column: "ref", as: Int64?.self) == nil)
                #expect(try rows[1].decode(column: "note", as: String.self) == "what?")
                #expect(viaSQLKit == 2)
                #expect(nested == 6)
            }
        }
    }

    @Test func thePrefixBoundIsTheFirstStringPastThePrefix() {
        #expect(Dialect.firstStringAfterPrefix("/1/2/") == "/1/20")
        #expect(Dialect.firstStringAfterPrefix("王伟") == "王\u{4F20}")
        #expect(Dialect.firstStringAfterPrefix("") == nil)
        #expect("/1/2/99/" < Dialect.firstStringAfterPrefix("/1/2/")! && "/1/20/" >= Dialect.firstStringAfterPrefix("/1/2/")!)
    }

    /// The demo loads with the registry's secondary indexes dropped and rebuilt: afterwards the
    /// schema is the one the migrations made, and a load that fails rebuilds them too.
    /// A wrong PostgreSQL database name is reported at once, naming it, instead of after a minute
    /// of the pool's retries as a tripped circuit breaker.
    @Test func anUnreachablePostgreSQLDatabaseIsNamedAtOnce() async throws {
        guard let admin = ProcessInfo.processInfo.environment["LINLI_TEST_POSTGRES_URL"], let slash = admin.lastIndex(of: "/") else { return }
        let url = admin[..<slash] + "/linli_no_such_database"
        do {
            _ = try await StoreFactory.open(databaseURL: String(url), sqlitePath: "/nonexistent/x.sqlite", logger: Logger(label: "test"))
            Issue.record("opened a database that does not exist")
        } catch let e as LinliError {
            // The probe's own error, not the pool's tripped circuit breaker after its retries.
            #expect(e.code == "database_unreachable" && e.message.contains("linli_no_such_database"), "\(e.message)")
        }
    }

    @Test func aBulkLoadLeavesTheSchemaAsItFoundIt() async throws {
        try await withFixture(.sqlite, accounts: false) { f in
            let store = f.linli.store
            let schema: @Sendable () async throws -> [String] = {
                try await store.read { db in
                    try await db.raw("SELECT name, COALESCE(sql, '') AS sql FROM sqlite_master WHERE type = 'index' ORDER BY name").all()
                        .map { try $0.decode(column: "name", as: String.self) + ": " + $0.decode(column: "sql", as: String.self) }
                }
            }
            let before = try await schema()
            #expect(before.contains("residents_phone: CREATE INDEX residents_phone ON residents(phone_index)"))
            _ = try await store.bulkLoad(tables: DemoGenerator.tables) { () async throws -> Int in 1 }
            #expect(try await schema() == before)
            // A second demo over the first is refused before it writes anything.
            let places = { try await store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM places").first()!.decode(column: "n", as: Int.self) } }
            let placesBefore = try await places()
            await #expect(throws: LinliError.self) { _ = try await f.linli.loadDemo(seed: 4, scale: 1, tiny: true) }
            #expect(try await places() == placesBefore)
            struct Failed: Error {}
            await #expect(throws: Failed.self) {
                try await store.bulkLoad(tables: DemoGenerator.tables) { () async throws -> Int in
                    #expect(try await schema().contains { $0.hasPrefix("residents_phone:") } == false, "dropped while loading")
                    throw Failed()
                }
            }
            #expect(try await schema() == before)
        }
    }

    @Test func rawSQLiteFileHoldsNoIDNumberOrPhoneInClear() async throws {
        try await withFixture(.sqlite) { f in
            let staff = try await f.actor("community")
            let ids = try await f.ids()
            _ = try await f.linli.registry.createResident(ResidentInput(householdID: ids.insideHousehold, name: "王五", idNumber: "11010519491231002X",
                                                                      phone: "13987654321", registration: "resident", relation: "tenant"), actor: staff)
            await f.linli.store.shutdown()
            var bytes = Data()
            for suffix in ["", "-wal"] { bytes += (FileManager.default.contents(atPath: f.linli.config.sqlitePath + suffix) ?? Data()) }
            #expect(bytes.range(of: Data("11010519491231002X".utf8)) == nil)
            #expect(bytes.range(of: Data("13987654321".utf8)) == nil)
            #expect(bytes.range(of: Data("王五".utf8)) != nil, "the check reads the right file")
        }
    }

    @Test(arguments: Backend.available)
    func hierarchyRefusesCyclesWrongLevelsAndForeignGrids(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let street = try await f.actor("street")
            let ids = try await f.ids()
            let community = f.demo.firstCommunityID
            // Moving a community under its own compound is a cycle.
            do { _ = try await f.linli.registry.updatePlace(community, name: nil, parentID: ids.insideCompound, actor: street); Issue.record("cycle accepted") }
            catch let e as LinliError { #expect(e.field == "parent_id" && e.code == "cycle") }
            // A unit directly under a compound is the wrong level.
            do { _ = try await f.linli.registry.createPlace(parentID: ids.insideCompound, kind: "unit", name: "x", communityType: nil, actor: street); Issue.record("wrong level accepted") }
            catch let e as LinliError { #expect(e.field == "kind" && e.code == "wrong_level") }
            // A household put into another community's micro-grid.
            let foreignMicro = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM grids WHERE level = 'micro' AND community_id <> \(bind: community) ORDER BY id").first()!.decode(column: "id", as: Int64.self)
            }
            do { try await f.linli.registry.updateHousehold(ids.insideHousehold, microGridID: foreignMicro, door: nil, actor: street); Issue.record("foreign grid accepted") }
            catch let e as LinliError { #expect(e.field == "micro_grid_id" && e.code == "other_community") }
            // A valid move renames and keeps paths consistent.
            let b = try await f.linli.registry.createPlace(parentID: ids.insideCompound, kind: "building", name: "新楼", communityType: nil, actor: street)
            let u = try await f.linli.registry.createPlace(parentID: b.id, kind: "unit", name: "1单元", communityType: nil, actor: street)
            let detail = try await f.linli.registry.place(u.id, actor: street)
            #expect(detail.breadcrumbs.map(\.name).suffix(2) == ["新楼", "1单元"])
        }
    }

    @Test(arguments: Backend.available)
    func coverageCountsCompounds(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let (_, rows, total) = try await f.linli.registry.coverage(placeID: f.demo.firstStreetID, actor: try await f.actor("street"))
            #expect(total.compounds == 2)
            #expect(total.withProperty == 2, "the tiny demo gives every compound a property company")
            #expect(rows.reduce(0) { $0 + $1.compounds } == total.compounds)
            #expect(total.withoutOwnersCommittee == total.compounds - total.withOwnersCommittee)
        }
    }

    @Test(arguments: Backend.available)
    func csvImportAllOrNothingOrKeepGood(_ backend: Backend) async throws {
        try await withFixture(backend, accounts: false) { f in
            let community = f.demo.firstCommunityID
            let micro = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE level = 'micro' AND community_id = \(bind: community) ORDER BY id").first()!.decode(column: "name", as: String.self)
            }
            let header = RegistryCSV.header.joined(separator: ",")
            let good = "新苑,1幢,1单元,101,\(micro),赵六,110105200001010016,13700001111,户籍人口,户主,独居老人,否"
            let bad = "新苑,1幢,1单元,102,\(micro),钱七,110105200001010017,13700001112,户籍人口,户主,,否"
            let csv = "\u{FEFF}" + [header, good, bad].joined(separator: "\r\n") + "\r\n"
            let strict = try await f.linli.registryCSV.importCSV(Data(csv.utf8), communityID: community, keepGood: false)
            #expect(strict.imported == 0)
            #expect(strict.errors == [ImportReport.RowError(line: 3, column: "身份证号", reason: "身份证号校验位不正确")])
            let count = { try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM residents WHERE name = '赵六'").first()!.decode(column: "n", as: Int.self) } }
            #expect(try await count() == 0)
            let lenient = try await f.linli.registryCSV.importCSV(Data(csv.utf8), communityID: community, keepGood: true)
            #expect(lenient.imported == 1 && lenient.householdsCreated == 1 && lenient.errors.count == 1)
            #expect(try await count() == 1)
            // Wrong header and wrong encoding are refused up front.
            let wrong = try await f.linli.registryCSV.importCSV(Data("姓名,电话\n张三,1\n".utf8), communityID: community, keepGood: true)
            #expect(wrong.errors.first?.column == "表头")
            let gbk = try await f.linli.registryCSV.importCSV(Data([0xD5, 0xC5, 0xC8, 0xFD, 0xFF, 0x0A]), communityID: community, keepGood: true)
            #expect(gbk.errors.first?.reason.contains("UTF-8") == true)
            // Export round-trips the imported resident with full values.
            let out = try await f.linli.registryCSV.exportCSV(communityID: community, reason: "年度核对")
            #expect(out.contains("赵六,110105200001010016,13700001111,户籍人口,户主,独居老人,否"))
        }
    }

    @Test(arguments: Backend.available)
    func failedSignInsSlowTheAddressButNeverLockTheAccount(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let a = f.linli.accounts
            for name in ["volunteer", "nobody-here"] {
                for _ in 0..<AccountService.maxFailuresPerAccountAddress {
                    do { _ = try await a.login(username: name, password: "wrong-password", address: "203.0.113.9"); Issue.record("accepted") }
                    catch let e as LinliError { #expect(e.code == "bad_credentials") }
                }
                // The same address now waits, known name or not: the answers are the same.
                do { _ = try await a.login(username: name, password: Fixture.password, address: "203.0.113.9"); Issue.record("not throttled") }
                catch let e as LinliError { #expect(e.code == "throttled" && e.status == .tooManyRequests) }
            }
            // The owner, elsewhere, signs in as usual: an attacker cannot lock anyone out.
            _ = try await a.login(username: "volunteer", password: Fixture.password, address: "198.51.100.7")
            // Every failure is in the audit log, which the city's auditor reads.
            let auditor = try await f.actor("auditor")
            let seen = try await f.linli.audit.list(f.linli.store, actor: auditor, limit: 100)
            #expect(seen.filter { $0.action == "login.failed" }.count == 2 * AccountService.maxFailuresPerAccountAddress)
        }
    }
}

@Suite struct RegistryTransferHTTPTests {
    @Test func communityStaffImportAndExportFromTheConsole() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID
            let t = try await f.tokens()
            let micro = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE level = 'micro' AND community_id = \(bind: community) ORDER BY id").first()!.decode(column: "name", as: String.self)
            }
            let header = RegistryCSV.header.joined(separator: ",")
            let good = "新苑,1幢,1单元,101,\(micro),赵六,110105200001010016,13700001111,户籍人口,户主,独居老人,否"
            let bad = "新苑,1幢,1单元,102,\(micro),钱七,110105200001010017,13700001112,户籍人口,户主,,否"
            @Sendable func upload(_ csv: String, keepGood: Bool, as who: String) -> (HTTPFields, ByteBuffer) {
                let boundary = "----linli\(UUID().uuidString)"
                var b = ByteBuffer()
                if keepGood { b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"keep_good\"\r\n\r\n1\r\n") }
                b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n\(csv)\r\n--\(boundary)--\r\n")
                return ([.authorization: "Bearer \(t[who]!)", .contentType: "multipart/form-data; boundary=\(boundary)"], b)
            }
            try await built.app.test(.router) { client in
                var res = try await client.execute(uri: "/places/\(community)/transfer", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && res.body.text.contains("import-form"))
                // All or nothing: the bad row is named by line and column, and nothing is written.
                var (h, body) = upload("\u{FEFF}" + [header, good, bad].joined(separator: "\r\n"), keepGood: false, as: "community")
                res = try await client.execute(uri: "/places/\(community)/import", method: .post, headers: h, body: body)
                #expect(res.status == .unprocessableContent && res.body.text.contains("身份证号校验位不正确") && res.body.text.contains("<td>3</td>"))
                #expect(try await f.linli.store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM residents WHERE name = '赵六'").first()!.decode(column: "n", as: Int.self) } == 0)
                (h, body) = upload([header, good, bad].joined(separator: "\n"), keepGood: true, as: "community")
                res = try await client.execute(uri: "/places/\(community)/import", method: .post, headers: h, body: body)
                #expect(res.body.text.contains("已导入") && res.status == .unprocessableContent)
                // Other roles: a grid worker may not; a community outside one's street does not exist.
                (h, body) = upload(header, keepGood: false, as: "grid")
                #expect(try await client.execute(uri: "/places/\(community)/import", method: .post, headers: h, body: body).status == .forbidden)
                let other = try await f.linli.store.read { db in
                    try await db.raw("SELECT id FROM places WHERE kind IN ('community', 'village') ORDER BY id DESC").first()!.decode(column: "id", as: Int64.self)
                }
                (h, body) = upload(header, keepGood: false, as: "community")
                #expect(try await client.execute(uri: "/places/\(other)/import", method: .post, headers: h, body: body).status == .notFound)
                // Export needs a reason, comes with a BOM for Excel, and is audited with the user's name.
                let form: HTTPFields = [.authorization: "Bearer \(t["community"]!)", .contentType: "application/x-www-form-urlencoded"]
                res = try await client.execute(uri: "/places/\(community)/export", method: .post, headers: form, body: ByteBuffer(string: "reason="))
                #expect(res.status == .unprocessableContent)
                res = try await client.execute(uri: "/places/\(community)/export", method: .post, headers: form, body: ByteBuffer(string: "reason=%E5%B9%B4%E5%BA%A6%E6%A0%B8%E5%AF%B9"))
                #expect(res.status == .ok && res.headers[.contentType]?.hasPrefix("text/csv") == true)
                #expect(Array(res.body.readableBytesView.prefix(3)) == [0xEF, 0xBB, 0xBF] && res.body.text.contains("赵六"))
                #expect(Array(res.body.readableBytesView.dropFirst(3).prefix(3)) != [0xEF, 0xBB, 0xBF], "exactly one BOM")
                let audited = try await f.linli.store.read { db in
                    try await db.raw("SELECT username, reason FROM audit_log WHERE action = 'registry.export'").first()!
                }
                #expect(try audited.decode(column: "username", as: String.self) == "community" && audited.decode(column: "reason", as: String.self) == "年度核对")
            }
        }
    }
}

@Suite struct UserManagementHTTPTests {
    @Test func streetStaffManageAccountsInsideTheirStreetAndNeverBeyondTheirOwnRights() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                func post(_ uri: String, _ who: String, _ body: String) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/x-www-form-urlencoded"],
                                             body: ByteBuffer(string: body))
                }
                var res = try await post("/users", "street", "username=x&password=short")
                #expect(res.status == .unprocessableContent && res.body.text.contains("用户名为") && res.body.text.contains("密码至少"))
                res = try await post("/users", "street", "username=wang.worker&display_name=%E7%8E%8B&password=a-long-password")
                #expect(res.status == .seeOther)
                let user = String(res.headers[.location]!.split(separator: "/").last!)
                res = try await post("/users/\(user)/grants", "street", "role=community_staff&place_id=\(community)")
                #expect(res.status == .seeOther)
                // Nobody hands out more than they hold, nor outside their area.
                res = try await post("/users/\(user)/grants", "street", "role=city_admin&place_id=\(community)")
                #expect(res.status == .unprocessableContent && res.body.text.contains("不能授予比自己更大的权限"))
                res = try await post("/users/\(user)/grants", "street", "role=community_staff&place_id=\(ids.outsideCompound)")
                #expect(res.status == .unprocessableContent && res.body.text.contains("管辖的范围"))
                // Community staff manage accounts inside their community, never above their own role.
                res = try await post("/users", "community", "username=y1&password=a-long-password")
                #expect(res.status == .seeOther)
                let y1 = String(res.headers[.location]!.split(separator: "/").last!)
                res = try await post("/users/\(y1)/grants", "community", "role=street_staff&place_id=\(community)")
                #expect(res.status == .unprocessableContent && res.body.text.contains("不能授予比自己更大的权限"))
                res = try await post("/users/\(y1)/grants", "community", "role=grid_worker&grid_id=\(f.demo.firstGridID)")
                #expect(res.status == .seeOther)
                let actor = try await f.linli.accounts.login(username: "wang.worker", password: "a-long-password").actor
                #expect(actor.grants.map(\.role) == [.communityStaff])
                // The page layout kept for this user follows the grant: the resident search link goes with it.
                let workerToken = try await f.linli.accounts.createAPIToken(username: "wang.worker", name: "test")
                func inbox() async throws -> String {
                    let page = try await client.execute(uri: "/inbox", method: .get, headers: [.authorization: "Bearer \(workerToken)"])
                    #expect(page.status == .ok)
                    return page.body.text
                }
                #expect(try await inbox().contains("href=\"/search\""))
                let grant = try await f.linli.accounts.users(actor: try await f.actor("street"), userID: Int64(user)!)[0].grants[0].id
                res = try await post("/users/\(user)/grants/\(grant)/revoke", "street", "")
                #expect(res.status == .seeOther)
                #expect(try await f.linli.accounts.login(username: "wang.worker", password: "a-long-password").actor.grants.isEmpty)
                #expect(try await !inbox().contains("href=\"/search\""))
                let audited = try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE username = 'street' AND action IN ('user.create', 'user.grant', 'user.revoke')").first()!.decode(column: "n", as: Int.self)
                }
                #expect(audited == 3)
                res = try await client.execute(uri: "/users", method: .get, headers: [.authorization: "Bearer \(t["street"]!)"])
                #expect(res.status == .ok && res.body.text.contains("wang.worker"))
                // Without a role, an account is seen only by managers of the area that made it.
                res = try await client.execute(uri: "/users", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && !res.body.text.contains("wang.worker") && res.body.text.contains("y1"))
            }
        }
    }
}

@Suite struct OrganisationFacilityHTTPTests {
    @Test func staffAddOrganisationsAndFacilitiesInsideTheirArea() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens()
            let ids = try await f.ids()
            try await built.app.test(.router) { client in
                func post(_ uri: String, _ body: String, as who: String = "community") async throws -> TestResponse {
                    try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(t[who]!)", .contentType: "application/x-www-form-urlencoded"],
                                             body: ByteBuffer(string: body))
                }
                var res = try await post("/places/\(ids.insideCompound)/organisations", "kind=social_organisation&name=%E5%B9%BF%E5%9C%BA%E8%88%9E%E9%98%9F")
                #expect(res.status == .unprocessableContent && res.body.text.contains("请选择社会组织类别") && res.body.text.contains("请选择登记或备案"))
                res = try await post("/places/\(ids.insideCompound)/organisations", "kind=social_organisation&name=%E5%B9%BF%E5%9C%BA%E8%88%9E%E9%98%9F&service_type=activity&registration=filed")
                #expect(res.status == .seeOther)
                res = try await post("/places/\(ids.insideCompound)/facilities", "kind=canteen&name=%E9%95%BF%E8%80%85%E9%A3%9F%E5%A0%82&lat=95&lng=120")
                #expect(res.status == .unprocessableContent && res.body.text.contains("纬度"))
                res = try await post("/places/\(ids.insideCompound)/facilities", "kind=canteen&name=%E9%95%BF%E8%80%85%E9%A3%9F%E5%A0%82&lat=30.27&lng=120.15")
                #expect(res.status == .seeOther)
                #expect(try await post("/places/\(ids.outsideCompound)/facilities", "kind=canteen&name=x&lat=30&lng=120").status == .notFound)
                #expect(try await post("/places/\(ids.insideCompound)/facilities", "kind=canteen&name=x&lat=30&lng=120", as: "resident").status == .forbidden)
                let page = try await client.execute(uri: "/places/\(ids.insideCompound)", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(page.body.text.contains("广场舞队") && page.body.text.contains("长者食堂") && page.body.text.contains("id=\"organisations\""))

                // The party tree: a branch here reports to one at this place or above; never a loop.
                let (branch, group, facility): (Int64, Int64, Int64) = try await f.linli.store.transaction { db in
                    let b = try await db.raw("INSERT INTO organisations (kind, name, place_id) VALUES ('party_branch', '党支部', \(bind: ids.insideCompound)) RETURNING id").first()!
                    let g = try await db.raw("INSERT INTO organisations (kind, name, place_id) VALUES ('party_group', '党小组', \(bind: ids.insideCompound)) RETURNING id").first()!
                    let fac = try await db.raw("SELECT id FROM facilities WHERE name = '长者食堂'").first()!
                    return (try b.decode(column: "id", as: Int64.self), try g.decode(column: "id", as: Int64.self), try fac.decode(column: "id", as: Int64.self))
                }
                #expect(try await post("/organisations/\(group)", "name=%E4%B8%80%E5%B9%A2%E5%85%9A%E5%B0%8F%E7%BB%84&parent_id=\(branch)").status == .seeOther)
                res = try await post("/organisations/\(branch)", "name=%E5%85%9A%E6%94%AF%E9%83%A8&parent_id=\(group)")
                #expect(res.status == .unprocessableContent && res.body.text.contains("不能把组织设为自己或下级的下级"))
                // In use: the branch has a group under it.
                res = try await post("/organisations/\(branch)/remove", "")
                #expect(res.status == .conflict && res.body.text.contains("下级组织"))
                #expect(try await post("/organisations/\(group)/remove", "", as: "resident").status == .forbidden)
                #expect(try await post("/organisations/\(group)/remove", "").status == .seeOther)
                #expect(try await post("/organisations/\(branch)/remove", "").status == .seeOther)
                #expect(try await post("/facilities/\(facility)/remove", "").status == .seeOther)
                let after = try await client.execute(uri: "/places/\(ids.insideCompound)", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(!after.body.text.contains("长者食堂") && !after.body.text.contains("一幢党小组"))
                let audit = try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('organisation.edit', 'organisation.remove', 'facility.remove')").first()!.decode(column: "n", as: Int.self)
                }
                #expect(audit == 4)
            }
        }
    }
}
