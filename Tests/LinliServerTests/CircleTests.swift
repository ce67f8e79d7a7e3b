import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliCircle
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The 15-minute circle's rules by worked examples: a small OSM extract, a lattice, and walks
/// along it against the straight line.
@Suite struct CircleRulesTests {
    /// Four junctions on a line running east, ~100 m apart (0.001° of longitude at the equator is
    /// 111 m), a footway north from the second, a motorway and a private lane that must be left out.
    static let osm = """
        <?xml version="1.0" encoding="UTF-8"?>
        <osm version="0.6" generator="test">
          <node id="1" lat="0.0" lon="0.000"/><node id="2" lat="0.0" lon="0.001"/><node id="3" lat="0.0" lon="0.002"/>
          <node id="4" lat="0.0" lon="0.003"/><node id="5" lat="0.001" lon="0.001"/><node id="6" lat="0.005" lon="0.005"/>
          <node id="7" lat="0.006" lon="0.006"/><node id="8" lat="0.007" lon="0.007"/>
          <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
          <way id="11"><nd ref="2"/><nd ref="5"/><tag k="highway" v="footway"/></way>
          <way id="12"><nd ref="6"/><nd ref="7"/><tag k="highway" v="motorway"/></way>
          <way id="13"><nd ref="7"/><nd ref="8"/><tag k="highway" v="service"/><tag k="access" v="private"/></way>
          <way id="14"><nd ref="4"/><nd ref="99"/><tag k="highway" v="path"/></way>
        </osm>
        """

    @Test func anExtractKeepsTheWalkableWaysOnly() throws {
        let n = try CircleRules.network(osm: Data(Self.osm.utf8))
        // Nodes 1–5; the motorway's, the private lane's and the node cut off at the edge are not.
        // Each 111 m stretch is kept as three of 37 m (a building beside a long road's middle is
        // beside a point of it): 5 nodes and 2 more a stretch.
        #expect(n.nodes.count == 5 + 4 * 2 && n.edges.count == 4 * 3)
        #expect(n.edges.allSatisfy { abs($0.metres - 37.07) < 0.2 })
        // A private lane walkers may use is kept.
        let open = Self.osm.replacingOccurrences(of: #"<tag k="access" v="private"/>"#, with: #"<tag k="access" v="private"/><tag k="foot" v="yes"/>"#)
        #expect(try CircleRules.network(osm: Data(open.utf8)).edges.count > n.edges.count)
        let bomb = #"<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaaaaaaaa">]><osm version="0.6">&a;</osm>"#
        for bad in ["not xml at all", "<html><body>hi</body></html>", "<osm version=\"0.6\"></osm>", bomb] {
            do { _ = try CircleRules.network(osm: Data(bad.utf8)); Issue.record("took \(bad)") }
            catch let e as LinliError { #expect(e.field == "file") }
        }
    }

    @Test func aWalkGoesAlongThePathsNotAcross() throws {
        let n = try CircleRules.network(osm: Data(Self.osm.utf8))
        // A clinic at the end of the footway (node 5); a building beside node 4.
        let d = CircleRules.distances(n, from: [(0.001, 0.001)])
        // From node 5: north–south 111 m to node 2, then two stretches east: 333 m, about 5 minutes.
        let node4 = try #require(CircleRules.snap(n, lat: 0.0, lng: 0.003))
        #expect(node4.metres < 0.01 && abs(d[node4.node]! - 333.6) < 1)
        #expect(CircleRules.minutes(n, d, lat: 0.0, lng: 0.003) == 5)
        // In a straight line it is 2.5 stretches away; along the paths 3. Nothing reaches off the network.
        #expect(CircleRules.minutes(n, d, lat: 0.01, lng: 0.01) == nil)
        #expect(CircleRules.distances(n, from: []).allSatisfy { $0 == nil })
        // 15 minutes is 1,200 m.
        #expect(CircleRules.reach == 1200 && CircleRules.within(15) && !CircleRules.within(16) && !CircleRules.within(nil))
    }

    @Test func aLatticeIsStreetsEveryStepAndItsTextRoundTrips() {
        let n = CircleRules.lattice(south: 30.0, west: 120.0, north: 30.0017, east: 120.002, step: 100)
        // 0.0017° of latitude is 189 m and 0.002° of longitude at 30° is 193 m: two steps each
        // way (the last one short), three rows of three.
        #expect(n.nodes.count == 9 && n.edges.count == 12)
        let t = CircleRules.text(n), back = CircleRules.network(nodes: t.nodes, edges: t.edges)
        #expect(back.nodes.count == n.nodes.count && back.edges.count == n.edges.count)
        #expect(zip(back.edges, n.edges).allSatisfy { $0.a == $1.a && $0.b == $1.b && abs($0.metres - $1.metres) < 0.06 })
    }
}

/// The report over HTTP: inside the staff's area only, a proposal's effect, bad input named,
/// an OSM import by the place's editors.
@Suite struct CircleHTTPTests {
    static func get(_ client: some TestClientProtocol, _ path: String, _ token: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"])
    }

    @Test(arguments: Backend.available)
    func theCircleIsCountedAlongTheStreetsNetwork(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            #expect(try await f.linli.loadCircleDemo() > 0)
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                let staff = try await f.token("community")
                var res = try await Self.get(client, "/api/v1/places/\(community)/circle", staff)
                #expect(res.status == .ok)
                let report = try JSONDecoder().decode(CircleReport.self, from: Data(buffer: res.body))
                // The community walks on its street's network; every household is in a building counted.
                #expect(report.network?.source == "demo" && report.network!.placeID != community)
                let households = try await f.linli.store.read { db in
                    try await db.query("SELECT COUNT(*) AS n FROM households WHERE community_id = \(community)").first()!.decode(column: "n", as: Int.self)
                }
                #expect(report.buildings.reduce(0) { $0 + $1.households } == households)
                #expect(report.lines.count == FacilityKind.allCases.count)
                #expect(report.offNetwork == report.buildings.filter { !$0.onNetwork }.count)
                // A line's counts are its buildings beyond 15 minutes, added up.
                for line in report.lines {
                    let out = report.buildings.filter { $0.onNetwork && !CircleRules.within($0.minutes[line.kind]) }
                    #expect(line.buildingsOutside == out.count && line.residentsOutside == out.reduce(0) { $0 + $1.residents })
                }
                // A proposed facility at a building beyond reach brings that building in.
                if let line = report.lines.first(where: { $0.buildingsOutside > 0 && $0.facilities > 0 }),
                   let far = report.buildings.first(where: { $0.onNetwork && !CircleRules.within($0.minutes[line.kind]) }) {
                    res = try await Self.get(client, "/api/v1/places/\(community)/circle?proposed_kind=\(line.kind)&lat=\(far.lat!)&lng=\(far.lng!)", staff)
                    let p = try #require(try JSONDecoder().decode(CircleReport.self, from: Data(buffer: res.body)).proposal)
                    #expect(p.buildingsBroughtIn >= 1 && p.buildings.contains(far.name))
                }
                // Bad input is named; another street's community and a resident get nothing.
                for (q, field) in [("proposed_kind=spaceport&lat=30&lng=120", "proposed_kind"), ("proposed_kind=clinic&lat=91&lng=120", "lat"),
                                   ("proposed_kind=clinic&lat=30", "lng")] {
                    res = try await Self.get(client, "/api/v1/places/\(community)/circle?\(q)", staff)
                    #expect(res.status == .unprocessableContent && res.body.text.contains("\"\(field)\""), "\(q)")
                }
                let other = try await f.linli.store.read { db in
                    try await db.query("SELECT id FROM places WHERE kind = 'community' AND id <> \(community) ORDER BY id DESC").first()!.decode(column: "id", as: Int64.self)
                }
                #expect(try await Self.get(client, "/api/v1/places/\(other)/circle", staff).status == .notFound)
                #expect(try await Self.get(client, "/api/v1/places/\(community)/circle", try await f.token("resident")).status == .forbidden)
                // The page shows the same figures and the proposal form.
                let page = try await Self.get(client, "/circle?place=\(community)", staff)
                #expect(page.status == .ok && page.body.text.contains("circle-lines") && page.body.text.contains("circle-proposal"))

                // The community imports its own extract: its network now, the street's untouched.
                var put = try await client.execute(uri: "/api/v1/places/\(community)/walk-network", method: .put,
                                                   headers: [.authorization: "Bearer \(staff)", .contentType: "application/xml"], body: ByteBuffer(string: CircleRulesTests.osm))
                #expect(put.status == .ok)
                #expect(try JSONDecoder().decode(WalkNetworkInfo.self, from: Data(buffer: put.body)).edges == 12)
                res = try await Self.get(client, "/api/v1/places/\(community)/circle", staff)
                #expect(try JSONDecoder().decode(CircleReport.self, from: Data(buffer: res.body)).network?.placeID == community)
                put = try await client.execute(uri: "/api/v1/places/\(community)/walk-network", method: .put,
                                               headers: [.authorization: "Bearer \(staff)", .contentType: "application/xml"], body: ByteBuffer(string: "<html/>"))
                #expect(put.status == .unprocessableContent && put.body.text.contains("\"file\""))
                // A grid worker may not replace it.
                put = try await client.execute(uri: "/api/v1/places/\(community)/walk-network", method: .put,
                                               headers: [.authorization: "Bearer \(try await f.token("grid"))", .contentType: "application/xml"], body: ByteBuffer(string: CircleRulesTests.osm))
                #expect(put.status == .forbidden || put.status == .notFound)
            }
        }
    }
}
