import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Households put into micro-grids many at a time: a building picked on the micro-grid's page,
/// or a spreadsheet of codes and addresses; all or nothing, each with its history line.
@Suite struct GridMovesTests {
    @Test func theSpreadsheetsColumnsAreFoundByName() {
        if case .success(let m) = GridMoveRules.columns(["地址", "微网格"]) { #expect(m.0 == nil && m.1 == 0 && m.2 == 1) } else { Issue.record("not read") }
        if case .success(let m) = GridMoveRules.columns([" 户码 ", "备注", "微网格"]) { #expect(m.0 == 0 && m.1 == nil && m.2 == 2) } else { Issue.record("not read") }
        if case .failure(let e) = GridMoveRules.columns(["户码", "网格"]) { #expect(e.column == "微网格") } else { Issue.record("read without a grid column") }
        if case .failure(let e) = GridMoveRules.columns(["姓名", "微网格"]) { #expect(e.column == "户码") } else { Issue.record("read without a household column") }
        #expect(GridMoveRules.addressKey(" 金桂苑 1幢 1单元 101 ") == "金桂苑1幢1单元101")
    }

    /// The field a refusal names (nil: it was not refused).
    static func refused(_ body: () async throws -> GridMoveReport) async -> String? {
        do { _ = try await body() } catch let e as LinliError { return e.field ?? e.code } catch { return "other" }
        return nil
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func aBuildingAndASpreadsheetMoveHouseholdsAllOrNothing(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let reg = f.linli.registry, community = f.demo.firstCommunityID
            let staff = try await f.actor("community"), grid = try await f.actor("grid")
            // Two micro-grids of the community, and a building with households outside the first.
            let (micro, other, building, code, address) = try await f.linli.store.read { db in
                let m = try await db.raw("SELECT id FROM grids WHERE community_id = \(bind: community) AND level = 'micro' ORDER BY id").all()
                    .map { try $0.decode(column: "id", as: Int64.self) }
                let b = try await db.raw("""
                    SELECT h.place_id, p.parent_id FROM households h JOIN places p ON p.id = h.place_id
                    WHERE h.community_id = \(bind: community) AND h.micro_grid_id <> \(bind: m[0]) ORDER BY h.id
                    """).first()!
                let unit = try b.decode(column: "place_id", as: Int64.self)
                let other = try await db.raw("""
                    SELECT code, address FROM households WHERE community_id = \(bind: community) AND place_id <> \(bind: unit) ORDER BY id
                    """).all()
                return (m[0], m[1], unit, try other[0].decode(column: "code", as: String.self), try other[1].decode(column: "address", as: String.self))
            }
            let inUnit = try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE place_id = \(building)")
            let movesBefore = try await Self.count(f, "SELECT COUNT(*) AS n FROM household_moves")
            // Refused, naming the field, and nothing written.
            let parentGrid = try await f.linli.store.read { db in
                try await db.raw("SELECT parent_id FROM grids WHERE id = \(bind: micro)").first()!.decode(column: "parent_id", as: Int64.self)
            }
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(parentGrid, GridMoveInput(placeID: building), actor: staff) } == "micro_grid_id")
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(micro, GridMoveInput(), actor: staff) } == "place_id")
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeID: f.demo.byStreet[1].firstCommunityID), actor: staff) } == "place_id")
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(micro, GridMoveInput(householdIDs: [try await f.ids().outsideHousehold]), actor: staff) } == "household_ids")
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeID: building), actor: grid) } == "forbidden")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM household_moves") == movesBefore)

            // The unit's households move, each with its line; a second time moves nothing.
            let r = try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeID: building), actor: staff)
            #expect(r.moved + r.unchanged == inUnit && r.moved > 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE place_id = \(building) AND micro_grid_id <> \(micro)") == 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM household_moves") == movesBefore + r.moved)
            #expect(try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeID: building), actor: staff) == GridMoveReport(moved: 0, unchanged: inUnit))
            #expect(try await reg.checkSituations().isEmpty)

            // A spreadsheet: any bad line moves nothing, and every problem is listed.
            let names = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE id = \(bind: other)").first()!.decode(column: "name", as: String.self)
            }
            let bad = "户码,地址,微网格\n\(code.prefix(8)),,\(names)\n,\(address),没有这个网格\nZZZZZZZZ,,\(names)\n"
            let report = try await reg.moveByCSV(Data(bad.utf8), communityID: community, actor: staff)
            #expect(report.moved == 0 && report.errors.map(\.line) == [3, 4])
            #expect(report.errors[0].column == "微网格" && report.errors[1].column == "户码")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM household_moves") == movesBefore + r.moved)
            let good = "户码,地址,微网格\n\(code.prefix(8)),,\(names)\n,\(address.replacingOccurrences(of: " ", with: "")),\(names)\n"
            let done = try await reg.moveByCSV(Data(good.utf8), communityID: community, actor: staff)
            #expect(done.errors.isEmpty && done.moved + done.unchanged == 2)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE code = '\(code)' AND micro_grid_id = \(other)") == 1)
            // The same household twice is one line too many.
            let twice = try await reg.moveByCSV(Data("户码,微网格\n\(code),\(names)\n\(code.prefix(8)),\(names)\n".utf8), communityID: community, actor: staff)
            #expect(twice.errors.map(\.line) == [3])

            // The list of buildings: every household of the community once, by its building;
            // two ticked buildings move together, and then show as in the micro-grid.
            let microName = try await f.linli.store.read { db in
                try await db.raw("SELECT name FROM grids WHERE id = \(bind: micro)").first()!.decode(column: "name", as: String.self)
            }
            let listed = try await reg.moveCandidates(microGrid: micro, actor: staff)
            #expect(listed.reduce(0) { $0 + $1.households } == (try await Self.count(f, "SELECT COUNT(*) AS n FROM households WHERE community_id = \(community)")))
            #expect(Set(listed.map(\.placeID)).count == listed.count)
            let two = Array(listed.filter { $0.microGrids != [microName] }.prefix(2))
            #expect(two.count == 2)
            await #expect(throws: LinliError.self) { _ = try await reg.moveCandidates(microGrid: micro, actor: grid) }
            #expect(await Self.refused { try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeIDs: two.map(\.placeID) + [f.demo.byStreet[1].firstCommunityID]), actor: staff) } == "place_ids")
            let both = try await reg.moveIntoMicroGrid(micro, GridMoveInput(placeIDs: two.map(\.placeID)), actor: staff)
            #expect(both.moved + both.unchanged == two.reduce(0) { $0 + $1.households } && both.moved > 0)
            let after = try await reg.moveCandidates(microGrid: micro, actor: staff)
            #expect(two.allSatisfy { t in after.first { $0.placeID == t.placeID }?.microGrids == [microName] })
            // Each building carries the register's point, for the map beside the list.
            let points = try await f.linli.store.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM places WHERE id IN (\(unsafeRaw: listed.map { String($0.placeID) }.joined(separator: ","))) AND lat IS NOT NULL")
                    .first()!.decode(column: "n", as: Int.self)
            }
            #expect(points > 0 && listed.filter { $0.lat != nil && $0.lng != nil }.count == points)
        }
    }

    @Test(arguments: Backend.available)
    func theAPITwinsAndTheConsole(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let t = try await f.tokens(), community = f.demo.firstCommunityID
            let (micro, name, unit) = try await f.linli.store.read { db in
                let g = try await db.raw("SELECT id, name FROM grids WHERE community_id = \(bind: community) AND level = 'micro' ORDER BY id DESC").first()!
                let u = try await db.raw("SELECT place_id FROM households WHERE community_id = \(bind: community) ORDER BY id").first()!.decode(column: "place_id", as: Int64.self)
                return (try g.decode(column: "id", as: Int64.self), try g.decode(column: "name", as: String.self), u)
            }
            try await built.app.test(.router) { client in
                var res = try await client.execute(uri: "/api/v1/grids/\(micro)/households", method: .post,
                                                   headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "application/json"],
                                                   body: ByteBuffer(string: #"{"place_id":\#(unit)}"#))
                #expect(res.status == .ok && res.body.text.contains(#""moved""#))
                res = try await client.execute(uri: "/api/v1/places/\(community)/grid-moves", method: .post,
                                               headers: [.authorization: "Bearer \(t["community"]!)", .contentType: "text/csv"],
                                               body: ByteBuffer(string: "户码,微网格\nNOSUCHCO,\(name)\n"))
                #expect(res.status == .unprocessableContent && res.body.text.contains(#""line":2"#))
                let cookie = try await webLogin(client, "community")
                res = try await client.execute(uri: "/grids/\(micro)", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("id=\"move-form\"") && res.body.text.contains("id=\"move-map\"") && res.body.text.contains("data-picks=\"[{"))
                // The list and map's twin: the buildings, where their households are, and their points.
                res = try await client.execute(uri: "/api/v1/grids/\(micro)/move-candidates", method: .get, headers: [.authorization: "Bearer \(t["community"]!)"])
                #expect(res.status == .ok && res.body.text.contains(#""place_id""#) && res.body.text.contains(#""micro_grids""#) && res.body.text.contains(#""lat""#))
                res = try await client.execute(uri: "/api/v1/grids/\(micro)/move-candidates", method: .get, headers: [.authorization: "Bearer \(t["resident"]!)"])
                #expect(res.status == .forbidden, "a resident may see no micro-grid's layout")
                res = try await client.execute(uri: "/places/\(community)/transfer", method: .get, headers: [.cookie: cookie])
                #expect(res.body.text.contains("id=\"moves-form\""))
                res = try await client.execute(uri: "/places/\(community)/grid-moves/template.csv", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.body.text.contains("微网格"))
            }
        }
    }
}
