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

/// A grid worker's day: their list with time left in words, the way there, and a call only
/// where the reporter allowed it.
@Suite struct TodayTests {
    @Test func timeLeftReadsAtAGlance() {
        #expect(TimeLeft.words(due: 1000 + 30, now: 1000, .zh) == ("还剩 1 分钟", false))
        #expect(TimeLeft.words(due: 90 * 60, now: 0, .zh) == ("还剩 90 分钟", false))
        #expect(TimeLeft.words(due: 3 * 3600 + 59 * 60, now: 0, .zh) == ("还剩 3 小时", false))
        #expect(TimeLeft.words(due: 0, now: 3 * 86400 + 7200, .zh) == ("已超时 3 天", true))
        #expect(TimeLeft.words(due: 0, now: 47 * 3600, .en) == ("47 h late", true))
    }

    @Test func theWayThereOpensInTheMapApp() {
        #expect(MapAppLink.url(lat: 30.25, lng: 120.16, address: "金桂苑 3幢") ==
                "https://uri.amap.com/marker?position=120.16,30.25&name=%E9%87%91%E6%A1%82%E8%8B%91%203%E5%B9%A2&coordinate=wgs84&callnative=1")
        #expect(MapAppLink.url(lat: nil, lng: 120.16, address: "A") == "https://uri.amap.com/search?keyword=A&callnative=1")
    }

    @Test(arguments: Backend.available)
    func aGridWorkerStartsOnTheirListAndCallsWhereAllowed(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let grid = try await f.actor("grid"), resident = try await f.actor("resident")
            var phoned = RequestInput()
            phoned.category = "noise"; phoned.description = "楼下深夜施工"; phoned.householdID = f.demo.firstHouseholdWithResidents
            phoned.channel = "phone"; phoned.contactName = "王秀英"; phoned.contactPhone = "13800138000"
            let a = try await f.linli.requests.submit(phoned, actor: grid).request
            #expect(a.callbackOK)
            var own = phoned
            own.channel = nil; own.contactName = nil; own.contactPhone = nil; own.description = "楼上装修太吵"
            let b = try await f.linli.requests.submit(own, actor: resident).request
            #expect(!b.callbackOK)
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "grid")
                var res = try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie])
                #expect(res.headers[.location] == "/today")
                res = try await client.execute(uri: "/today", method: .get, headers: [.cookie: cookie])
                let page = res.body.text
                #expect(page.contains("/requests/\(a.id)/call") && !page.contains("/requests/\(b.id)/call"))
                #expect(page.contains("还剩") && page.contains("uri.amap.com"))
                let csrf = String(page.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let form: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
                res = try await client.execute(uri: "/requests/\(a.id)/call", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .ok && res.body.text.contains("href=\"tel:13800138000\""))
                // The resident did not allow calls: no number, and the refusal says why.
                res = try await client.execute(uri: "/requests/\(b.id)/call", method: .post, headers: form, body: ByteBuffer(string: "_csrf=\(csrf)"))
                #expect(res.status == .conflict)
                let calls = try await f.linli.store.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.call'").first()!.decode(column: "n", as: Int.self)
                }
                #expect(calls == 1)
                // The API twin answers the same lists.
                let token = try await f.token("grid")
                res = try await client.execute(uri: "/api/v1/today", method: .get, headers: [.authorization: "Bearer \(token)"])
                let today = try JSONDecoder().decode(TodayView.self, from: Data(buffer: res.body))
                #expect(Set(today.mine.map(\.id)).isSuperset(of: [a.id, b.id]))
            }
        }
    }
}

/// Figures over time as a chart beside a table of the same numbers, and as CSV.
@Suite struct FigureChartTests {
    /// A project's money: what came in on one bar, what was spent and is left on the other, in yuan.
    @Test func aProjectsMoneyIsTwoStackedBarsInYuan() throws {
        let m = LinkageService.MoneyView(campaignOpen: false, hasCampaign: true, goalText: "", seedText: "", pool: nil,
                                         raised: 120_050, matched: 60_000, spent: 100_000, granted: 0, left: 80_050,
                                         raisedText: "", grantedText: "", matchedText: "", spentText: "", leftText: "", percent: 0, gifts: [], expenses: [])
        let spec = try JSONDecoder().decode(ChartSpec.self, from: Data(LinkageRoutes.moneyChart(m, .zh).utf8))
        #expect(spec.stacked && spec.horizontal && spec.labels == ["收入", "使用"])
        #expect(spec.datasets.map(\.label) == ["居民和商户捐赠", "政府配捐", "已支出", "余额"], "no grant bar without a grant")
        #expect(spec.datasets.map { $0.data } == [[1200.5, nil], [600, nil], [nil, 1000], [nil, 800.5]])
        // What came in equals what was spent and is left.
        #expect(spec.datasets.compactMap { $0.data[0] }.reduce(0, +) == spec.datasets.compactMap { $0.data[1] }.reduce(0, +))
    }

    @Test(arguments: Backend.available)
    func figuresHaveChartsWithTablesAndDownloadAsCSV(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let resident = try await f.actor("resident")
            _ = try await f.linli.requests.submit(RequestsStoreTests.lift(f), actor: resident)
            let community = f.demo.firstCommunityID
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "community")
                var res = try await client.execute(uri: "/figures?place_id=\(community)", method: .get, headers: [.cookie: cookie])
                let page = res.body.text
                #expect(page.contains("data-chart=") && page.contains("aria-describedby=\"figures-months\"") && page.contains("/static/chart.js"))
                #expect(page.components(separatedBy: "<tr><td>20").count - 1 == 6, "six months in the table beside the chart")
                res = try await client.execute(uri: "/figures.csv?place_id=\(community)", method: .get, headers: [.cookie: cookie])
                #expect(res.status == .ok && res.headers[.contentType]?.hasPrefix("text/csv") == true)
                let bytes = Array(res.body.readableBytesView)
                #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]))
                let csv = String(decoding: bytes.dropFirst(3), as: UTF8.self)
                #expect(csv.hasPrefix("分组,名称,类型,受理量") && csv.contains("合计,"))
                res = try await client.execute(uri: "/figures/months.csv?place_id=\(community)", method: .get, headers: [.cookie: cookie])
                #expect(String(buffer: res.body).split(separator: "\r\n").count == 13)
                let token = try await f.token("community")
                res = try await client.execute(uri: "/api/v1/figures/months?place_id=\(community)&months=3", method: .get, headers: [.authorization: "Bearer \(token)"])
                let months = try JSONDecoder().decode([MonthFigures].self, from: Data(buffer: res.body))
                #expect(months.count == 3 && months.last!.total.received >= 1)
                // Outside one's area the figures do not exist: another street's compound is 404
                // to community staff (who may see figures); a grid worker may not see figures at all.
                let outside = try await f.ids().outsideCompound
                res = try await client.execute(uri: "/figures.csv?place_id=\(outside)", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(res.status == .notFound)
                res = try await client.execute(uri: "/api/v1/figures/months?place_id=\(outside)", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(res.status == .notFound)
                let gridToken = try await f.token("grid")
                res = try await client.execute(uri: "/figures.csv?place_id=\(community)", method: .get, headers: [.authorization: "Bearer \(gridToken)"])
                #expect(res.status == .forbidden)
            }
        }
    }
}
