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
@testable import LinliSituation
import LinliApp
import LinliCore
import LinliStore

/// A grid's boundary as a ring, by worked examples.
@Suite struct GridBoundaryRulesTests {
    static func fields(_ points: [[Double]]) -> [String] {
        var v = Validator()
        GridBoundary.check(points, field: "points", &v)
        return v.errors.map(\.code)
    }

    @Test func aRingIsThreeToTwoHundredPointsWithAreaAndNoCrossing() {
        let square = [[30.27, 120.15], [30.27, 120.16], [30.28, 120.16], [30.28, 120.15]]
        #expect(Self.fields(square).isEmpty)
        // A bow tie: the second edge crosses the fourth.
        #expect(Self.fields([[30.27, 120.15], [30.28, 120.16], [30.27, 120.16], [30.28, 120.15]]) == ["self_crossing"])
        #expect(Self.fields([[30.27, 120.15], [30.28, 120.16]]) == ["too_few"])
        #expect(Self.fields([[30.27, 120.15], [30.275, 120.155], [30.28, 120.16]]) == ["no_area"])
        #expect(Self.fields([[30.27, 120.15], [30.27, 120.15], [30.28, 120.16]]) == ["repeated_point"])
        #expect(Self.fields([[91, 120.15], [30.27, 120.16], [30.28, 120.16]]) == ["out_of_range"])
        #expect(Self.fields(Array(repeating: [30.0, 120.0], count: 201)) == ["too_many"])
        // A concave shape (an L) is a fine grid.
        #expect(Self.fields([[0, 0], [0, 2], [1, 2], [1, 1], [2, 1], [2, 0]]).isEmpty)
    }

    @Test func pointsAreTypedOnePerLine() {
        let typed = GridBoundary.parse("30.2741, 120.1551\n\n30.2745，120.1560\n30.2750 120.1555\n")
        #expect(typed.points == [[30.2741, 120.1551], [30.2745, 120.1560], [30.2750, 120.1555]] && typed.badLine == nil)
        #expect(GridBoundary.parse("30.27, 120.15\n东门").badLine == 2)
        // As a browser sends a text box: CRLF.
        #expect(GridBoundary.parse("30.27, 120.15\r\n30.28, 120.16\r\n").points?.count == 2)
        #expect(GridBoundary.text([[30.2741, 120.1551]]) == "30.274100,120.155100")
    }
}

/// The community draws a grid's boundary; the situation map draws the grid by it.
@Suite struct GridBoundaryTests {
    static func send(_ client: some TestClientProtocol, _ path: String, _ token: String, _ body: String, method: HTTPRequest.Method = .put,
                     type: String = "application/json") async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: [.authorization: "Bearer \(token)", .contentType: type], body: ByteBuffer(string: body))
    }

    @Test(arguments: Backend.available)
    func theCommunityDrawsAGridsBoundaryAndTheMapDrawsItByIt(_ backend: Backend) async throws {
        try await withFixture(backend, clock: TestClock("2026-12-06T02:00:00Z")) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let grid = f.demo.firstGridID, community = f.demo.firstCommunityID
            _ = try await f.linli.createDemoAccounts(f.demo.byStreet[1], password: Fixture.password, suffix: "2")
            try await built.app.test(.router) { client in
                let staff = try await f.token("community"), worker = try await f.token("grid"), other = try await f.token("community2")
                let path = "/api/v1/grids/\(grid)/boundary"
                func boundary() async throws -> String? {
                    try await f.linli.store.read { db in try await db.raw("SELECT boundary FROM grids WHERE id = \(bind: grid)").first()!.decode(column: "boundary", as: String?.self) }
                }
                // A bow tie is refused, naming the edges; a grid worker draws none; another street's office finds no such grid.
                var res = try await Self.send(client, path, staff, #"{"points":[[30.27,120.15],[30.28,120.16],[30.27,120.16],[30.28,120.15]]}"#)
                #expect(res.status == .unprocessableContent && res.body.text.contains("self_crossing") && res.body.text.contains("points"))
                res = try await Self.send(client, path, worker, #"{"points":[[30.27,120.15],[30.27,120.16],[30.28,120.16]]}"#)
                #expect(res.status == .forbidden)
                res = try await Self.send(client, path, other, #"{"points":[[30.27,120.15],[30.27,120.16],[30.28,120.16]]}"#)
                #expect(res.status == .notFound)
                #expect(try await boundary() == nil)

                res = try await Self.send(client, path, staff, #"{"points":[[30.27,120.15],[30.27,120.16],[30.28,120.16],[30.28,120.15]]}"#)
                #expect(res.status == .ok, "\(res.body.text)")
                res = try await client.execute(uri: "/api/v1/grids/\(grid)", method: .get, headers: [.authorization: "Bearer \(staff)"])
                #expect(try JSONDecoder().decode(GridDetail.self, from: Data(buffer: res.body)).boundary?.count == 4)
                res = try await client.execute(uri: "/api/v1/places/\(community)/situation/grids", method: .get, headers: [.authorization: "Bearer \(staff)"])
                let areas = try JSONDecoder().decode([GridAreaView].self, from: Data(buffer: res.body))
                #expect(areas.first { $0.id == grid }?.boundary == [[30.27, 120.15], [30.27, 120.16], [30.28, 120.16], [30.28, 120.15]])
                #expect(areas.filter { $0.id != grid }.allSatisfy { $0.boundary == nil })

                // Another form of the page refused: the drawn boundary is still shown, not emptied.
                res = try await Self.send(client, "/grids/\(grid)/micro-grids", staff, "name=", method: .post, type: "application/x-www-form-urlencoded")
                #expect(res.status == .unprocessableContent && res.body.text.contains("30.270000,120.150000"))
                // The console's box: a line that is not a point is named; the drawn one stays.
                res = try await Self.send(client, "/grids/\(grid)/boundary", staff, "points=30.27%2C120.15%0A%E4%B8%9C%E9%97%A8", method: .post,
                                          type: "application/x-www-form-urlencoded")
                #expect(res.status == .unprocessableContent && res.body.text.contains("第 2 行"))
                #expect(try await boundary()?.split(separator: "\n").count == 4)
                // An empty box clears it.
                res = try await Self.send(client, "/grids/\(grid)/boundary", staff, "points=", method: .post, type: "application/x-www-form-urlencoded")
                #expect(res.status == .seeOther)
                #expect(try await boundary() == nil)
                let audited = try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'grid.boundary%'").first()!.decode(column: "n", as: Int.self)
                }
                #expect(audited == 2)
            }
        }
    }
}
