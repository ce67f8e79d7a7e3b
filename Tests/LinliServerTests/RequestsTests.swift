import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Epoch seconds of a China-time wall clock reading.
func cst(_ s: String) -> Int64 {
    Int64(ISO8601DateFormatter().date(from: s + "+08:00")!.timeIntervalSince1970)
}

@Suite struct RequestsModelTests {
    @Test func workingHoursSkipNightsWeekendsAndHolidaysAndCountMakeUpDays() {
        let plain = WorkCalendar()
        // Friday 16:00 + 2 working hours → Monday 10:00.
        #expect(plain.add(hours: 2, working: true, to: cst("2026-11-20T16:00:00")) == cst("2026-11-23T10:00:00"))
        // Before opening time the clock starts at 09:00.
        #expect(plain.add(hours: 1, working: true, to: cst("2026-11-23T07:00:00")) == cst("2026-11-23T10:00:00"))
        // Exactly a full day ends at 17:00 the same day.
        #expect(plain.add(hours: 8, working: true, to: cst("2026-11-23T09:00:00")) == cst("2026-11-23T17:00:00"))
        // Calendar hours ignore all of that.
        #expect(plain.add(hours: 5, working: false, to: cst("2026-11-21T22:00:00")) == cst("2026-11-22T03:00:00"))
        let holiday = WorkCalendar(holidays: [Input.day("2026-11-23")!])
        #expect(holiday.add(hours: 2, working: true, to: cst("2026-11-20T16:00:00")) == cst("2026-11-24T10:00:00"))
        let makeUp = WorkCalendar(workdays: [Input.day("2026-11-21")!])
        #expect(makeUp.add(hours: 2, working: true, to: cst("2026-11-20T16:00:00")) == cst("2026-11-21T10:00:00"))
        // The 2026 National Day week: 1–7 October off, 10 October (Saturday) worked.
        let official = WorkCalendar(holidays: Set(RequestsConfig.holidays2026.filter { $0.1 == "holiday" }.map { Input.day($0.0)! }),
                                    workdays: Set(RequestsConfig.holidays2026.filter { $0.1 == "workday" }.map { Input.day($0.0)! }))
        #expect(official.add(hours: 8, working: true, to: cst("2026-09-30T17:00:00")) == cst("2026-10-08T17:00:00"))
        #expect(official.isWorkday(Input.day("2026-10-10")!))
        #expect(!official.isWorkday(Input.day("2026-10-05")!))
    }

    @Test func isoDatesAgreeWithFoundationAcrossCenturiesAndLeapDays() {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(secondsFromGMT: 0)!
        for day in stride(from: Int64(-40_000), through: 60_000, by: 37) + [-1, 0, 11_016, 11_017, 20_513] {
            let c = cal.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(day * 86400)))
            #expect(ChinaTime.iso(day: day) == String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!), "day \(day)")
            // Only the years Linli handles parse back (see InputParsingTests).
            let year = Int64(ChinaTime.iso(day: day).prefix(4)) ?? 0
            let inRange = (Input.firstYear...Input.lastYear).contains(year)
            #expect(Input.day(ChinaTime.iso(day: day)) == (inRange ? day : nil))
        }
        #expect(LocalTime.text(cst("2026-11-22T09:05:00")) == "2026-11-22 09:05")
        #expect(TextSimilarity.score("电梯坏了", "电梯坏了") == 1 && TextSimilarity.score("电梯坏了", "路灯不亮") == 0)
    }

    @Test func theStateMachineAllowsOnlyItsTransitions() {
        #expect(RequestTransition.accept.next(from: .assigned) == .accepted)
        #expect(RequestTransition.resolve.next(from: .accepted) == .resolved)
        #expect(RequestTransition.resolve.next(from: .assigned) == nil)
        #expect(RequestTransition.confirm.next(from: .accepted) == nil, "rating an open request")
        #expect(RequestTransition.reject.next(from: .resolved) == .accepted)
        #expect(RequestTransition.returnIt.next(from: .resolved) == nil)
        #expect(RequestTransition.reassign.next(from: .returned) == .assigned)
        #expect(RequestTransition.merge.next(from: .closed) == nil)
        #expect(RequestTransition.withdraw.next(from: .accepted) == nil)
        #expect(RequestStatus.resolved.open311 == "closed" && RequestStatus.returned.open311 == "open")
    }

    @Test func urgentRequestsGetHalfTheTime() {
        let p = DeadlinePolicy(acceptHours: 1, contactHours: 4, resolveHours: 24, workingHours: false)
        #expect(p.hours(.accept, urgency: .urgent) == 1)
        #expect(p.hours(.contact, urgency: .urgent) == 2)
        #expect(p.hours(.resolve, urgency: .normal) == 24)
    }

    @Test func similarTextScoresHigherThanUnrelatedText() {
        #expect(TextSimilarity.score("小区东门垃圾桶满了两天没人清运", "东门垃圾桶满了没人清运，很臭") > 0.3)
        #expect(TextSimilarity.score("小区东门垃圾桶满了两天没人清运", "楼下棋牌室凌晨还很吵") < 0.05)
        #expect(distanceMetres(30.25, 120.15, 30.251, 120.15) > 100 && distanceMetres(30.25, 120.15, 30.251, 120.15) < 120)
        #expect(PartyFigures.median([5, 1, 3]) == 3 && PartyFigures.median([1, 2, 3, 10]) == 2.5 && PartyFigures.median([]) == nil)
    }

    @Test func categoryAttributesAreCheckedByDefinition() {
        let c = RequestCategory(code: "lift", nameZh: "电梯", nameEn: "Lift", description: "", defaultParty: .propertyCompany,
                                policy: DeadlinePolicy(acceptHours: 1, contactHours: 2, resolveHours: 24, workingHours: false),
                                attributes: [CategoryAttribute(code: "trapped", datatype: "singlevaluelist", required: true, description: "被困", values: ["yes", "no"]),
                                             CategoryAttribute(code: "floor", datatype: "number", required: false, description: "楼层")],
                                active: true)
        #expect(c.validate(attributes: ["trapped": "no"]).isEmpty)
        #expect(c.validate(attributes: [:]).map(\.code) == ["required"])
        #expect(c.validate(attributes: ["trapped": "maybe"]).map(\.code) == ["not_in_list"])
        #expect(c.validate(attributes: ["trapped": "no", "floor": "七"]).map(\.code) == ["not_a_number"])
        #expect(c.validate(attributes: ["trapped": "no", "colour": "red"]).map(\.field) == ["attribute[colour]"])
    }

    @Test func photosAreCheckedByTheirBytesAndStrippedOfMetadata() throws {
        #expect(throws: LinliError.self) { try PhotoStore.prepare(Array("GIF89a not really".utf8)) }
        #expect((try? PhotoStore.prepare(Array("<svg></svg>".utf8))) == nil)
        // A JPEG header followed by garbage is refused by the decoder, not stored.
        #expect((try? PhotoStore.prepare([0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x41, count: 200))) == nil)
        let png = TestImages.png
        let p = try PhotoStore.prepare(png)
        #expect(p.jpeg.starts(with: [0xFF, 0xD8, 0xFF]) && p.width == 1 && p.height == 1)
        // A JPEG carrying an Exif block with a GPS position comes back without any Exif block.
        let withExif = TestImages.jpegWithExif(from: p.jpeg)
        #expect(Data(withExif).range(of: Data("GPSLatitude".utf8)) != nil)
        let cleaned = try PhotoStore.prepare(withExif)
        #expect(Data(cleaned.jpeg).range(of: Data("Exif".utf8)) == nil)
        #expect(Data(cleaned.jpeg).range(of: Data("GPSLatitude".utf8)) == nil)
    }
}

/// A `multipart/form-data` body as a browser or an app sends it: text fields, then at most one file.
enum TestMultipart {
    static func body(_ fields: [(String, String)], file: (name: String, bytes: [UInt8])?) -> (contentType: String, body: ByteBuffer) {
        let boundary = "----linli\(UUID().uuidString)"
        var b = ByteBuffer()
        for (k, v) in fields { b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n") }
        if let file {
            b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
            b.writeBytes(file.bytes); b.writeString("\r\n")
        }
        b.writeString("--\(boundary)--\r\n")
        return ("multipart/form-data; boundary=\(boundary)", b)
    }
}

enum TestImages {
    /// A 1×1 PNG.
    static let png: [UInt8] = Array(Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")!)

    /// Inserts an APP1 Exif segment (a TIFF header and a GPS tag name) after the JPEG's SOI marker.
    static func jpegWithExif(from jpeg: [UInt8]) -> [UInt8] {
        var payload = Array("Exif".utf8) + [0, 0] + [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00] + [0x00, 0x00]
        payload += Array("GPSLatitude 30.2741 N GPSLongitude 120.1551 E".utf8)
        let length = payload.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + jpeg.dropFirst(2)
    }
}

@Suite struct RequestsStoreTests {
    static let monday9 = "2026-11-23T01:00:00Z"

    /// The benchmark's history generator writes the same history on both databases: every row
    /// routed, open ones due, the newest left overdue for the sweep to escalate.
    @Test(arguments: Backend.available)
    func theHistoryGeneratorWritesRequestsTheSweepCanEscalate(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let made = try await f.linli.requests.generateHistory(count: 3_000, months: 3, overdue: 20)
            #expect(made == 3_000)
            let counts = try await f.linli.store.read { db in
                try await db.raw("""
                    SELECT COUNT(*) AS n, CAST(SUM(CASE WHEN party_key IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unrouted,
                        CAST(SUM(CASE WHEN status IN ('assigned', 'accepted') AND next_due IS NULL AND missed = '' THEN 1 ELSE 0 END) AS BIGINT) AS open_without_due
                    FROM requests
                    """).first()!
            }
            #expect(try counts.decode(column: "n", as: Int64.self) == 3_000)
            #expect(try counts.decode(column: "unrouted", as: Int64.self) == 0)
            #expect(try counts.decode(column: "open_without_due", as: Int64.self) == 0)
            // The clock is real: everything the sweep writes is stamped at or after `before`.
            let before = f.linli.requests.env.nowSeconds
            let swept = try await f.linli.requests.escalateOverdue(batch: 7)  // several batches
            #expect(swept.escalated >= 20)
            // Each escalation wrote its audit entry, its step and its notifications, and nothing is left due.
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.escalate'") == swept.escalated)
            #expect(try await Self.count(f, "SELECT COUNT(DISTINCT request_id) AS n FROM request_events WHERE kind = 'escalated' AND at >= \(before)") == swept.escalated)
            #expect(try await Self.count(f, "SELECT COUNT(DISTINCT request_id) AS n FROM notifications WHERE kind = 'escalated' AND at >= \(before)") == swept.escalated)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests WHERE next_due <= \(before)") == 0)
        }
    }

    /// Two servers sweeping one database at once (scale-out on PostgreSQL) escalate each overdue
    /// request once: the rows a sweep holds are skipped by the other, not escalated twice.
    @Test(arguments: Backend.available)
    func twoSweepsAtOnceEscalateEachRequestOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            _ = try await f.linli.requests.generateHistory(count: 1_500, months: 2, overdue: 60)
            let requests = f.linli.requests
            async let a = requests.escalateOverdue(batch: 4)
            async let b = requests.escalateOverdue(batch: 4)
            let total = try await a.escalated + b.escalated
            #expect(total >= 60)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.escalate'") == total)
            #expect(try await Self.count(f, "SELECT COUNT(DISTINCT object_id) AS n FROM audit_log WHERE action = 'request.escalate'") == total)
        }
    }

    /// The figures (counted in one pass on SQLite, by the server on PostgreSQL) agree with a plain
    /// recount of the same rows.
    @Test(arguments: Backend.available)
    func aStreetsFiguresAgreeWithARecountOfItsRequests(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            _ = try await f.linli.requests.generateHistory(count: 2_000, months: 3, overdue: 10)
            let street = try await f.actor("street")
            let report = try await f.linli.requests.figures(placeID: f.demo.firstStreetID, from: "2000-01-01", to: "2099-12-31", actor: street)
            let rows = try await f.linli.store.read { db in
                try await db.raw("""
                    SELECT party_key, community_id, accepted_at, accept_due, resolved_at, resolve_due, rating, missed, created_at FROM requests
                    WHERE street_id = \(bind: f.demo.firstStreetID) AND status NOT IN ('merged', 'withdrawn')
                    """).all()
            }
            var received = 0, accepted = 0, resolved = 0, onTime = 0, rated = 0, satisfied = 0, escalated = 0
            var durations: [Int64] = [], byParty: [String: Int] = [:], byCommunity: [String: Int] = [:]
            for r in rows {
                received += 1
                byParty[try r.decode(column: "party_key", as: String?.self) ?? "—", default: 0] += 1
                byCommunity[String(try r.decode(column: "community_id", as: Int64.self)), default: 0] += 1
                if let a = try r.decode(column: "accepted_at", as: Int64?.self), a <= (try r.decode(column: "accept_due", as: Int64.self)) { accepted += 1 }
                if let x = try r.decode(column: "resolved_at", as: Int64?.self) {
                    resolved += 1
                    if x <= (try r.decode(column: "resolve_due", as: Int64.self)) { onTime += 1 }
                    durations.append(x - (try r.decode(column: "created_at", as: Int64.self)))
                }
                if let rating = try r.decode(column: "rating", as: Int?.self) { rated += 1; if rating >= 4 { satisfied += 1 } }
                if !(try r.decode(column: "missed", as: String.self)).isEmpty { escalated += 1 }
            }
            #expect(received > 100 && resolved > 0 && rated > 0)
            let t = report.total.figures
            let counted: [Int] = [t.received, t.acceptedOnTime, t.resolved, t.resolvedOnTime, t.rated, t.satisfied, t.escalated]
            let recounted: [Int] = [received, accepted, resolved, onTime, rated, satisfied, escalated]
            #expect(counted == recounted)
            #expect(t.medianResolveHours == PartyFigures.median(durations))
            let parties: [String: Int] = Dictionary(uniqueKeysWithValues: report.parties.map { ($0.key, $0.received) })
            let areas: [String: Int] = Dictionary(uniqueKeysWithValues: report.areas.map { ($0.key, $0.received) })
            #expect(parties == byParty)
            #expect(areas == byCommunity)
        }
    }

    static func lift(_ f: Fixture, key: String? = nil) -> RequestInput {
        var i = RequestInput()
        i.category = "lift"; i.description = "3号楼电梯停在7楼不动"; i.householdID = f.demo.firstHouseholdWithResidents
        i.attributes = ["trapped": "no"]; i.idempotencyKey = key
        return i
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        try await f.linli.store.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test(arguments: Backend.available)
    func submitRoutesStartsTheClocksAndARetryNeverCreatesASecondRequest(_ backend: Backend) async throws {
        let clock = TestClock(Self.monday9)
        try await withFixture(backend, clock: clock) { f in
            let resident = try await f.actor("resident")
            let (a, created) = try await f.linli.requests.submit(Self.lift(f, key: "k1"), actor: resident)
            #expect(created && a.status == "assigned" && a.partyKind == "property_company")
            let now = Int64(clock.now.timeIntervalSince1970)
            #expect(a.acceptDue == now + 3600 && a.contactDue == now + 7200 && a.resolveDue == now + 86400)
            let (b, again) = try await f.linli.requests.submit(Self.lift(f, key: "k1"), actor: resident)
            #expect(!again && b.id == a.id)
            // Two retries racing each other still make one request.
            async let x = f.linli.requests.submit(Self.lift(f, key: "k2"), actor: resident)
            async let y = f.linli.requests.submit(Self.lift(f, key: "k2"), actor: resident)
            let (rx, ry) = try await (x, y)
            #expect(rx.request.id == ry.request.id)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests") == 2)
            // The property company's staff were told, and the submission is in the audit log.
            let property = try await f.actor("property")
            let inbox = try await f.linli.inbox.list(actor: property, lang: .zh)
            #expect(inbox.contains { $0.requestID == a.id && $0.kind == "assigned" })
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.submit'") == 2)
            // A sanitation request at the compound counts working hours: Monday 09:00 + 24 h → Wednesday 17:00.
            var s = RequestInput()
            s.category = "sanitation"; s.description = "东门垃圾桶满了"; s.placeID = try await f.residentCompound
            let san = try await f.linli.requests.submit(s, actor: resident).request
            #expect(san.resolveDue == cst("2026-11-25T17:00:00"))
        }
    }

    @Test(arguments: Backend.available)
    func badInputIsRefusedNamingTheFieldAndWritesNothing(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let resident = try await f.actor("resident")
            let ids = try await f.ids()
            func refused(_ field: String, _ code: String, photos: [[UInt8]] = [], _ change: (inout RequestInput) -> Void) async {
                var i = Self.lift(f)
                change(&i)
                do {
                    _ = try await f.linli.requests.submit(i, photos: photos, actor: resident)
                    Issue.record("accepted bad input for \(field)")
                } catch let e as LinliError {
                    #expect(e.field == field && e.code == code, "\(e)")
                } catch let e as ValidationErrors {
                    #expect(e.errors.contains { $0.field == field && $0.code == code }, "\(e)")
                } catch { Issue.record("\(error)") }
            }
            await refused("category", "unknown") { $0.category = "nonsense" }
            await refused("description", "too_long") { $0.description = String(repeating: "长", count: 1001) }
            await refused("description", "required") { $0.description = "  " }
            // A household outside scope answers exactly like a missing one (ids cannot be probed).
            await refused("household_id", "unknown") { $0.householdID = ids.outsideHousehold }
            await refused("place_id", "out_of_scope") { $0.householdID = nil; $0.placeID = ids.outsideCompound }
            await refused("attribute[trapped]", "required") { $0.attributes = [:] }
            await refused("photos", "not_an_image", photos: [Array("<html>".utf8)]) { _ in }
            await refused("photos", "too_many", photos: Array(repeating: TestImages.png, count: 7)) { _ in }
            await refused("lat", "invalid") { $0.lat = 123 }
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM requests") == 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM request_events") == 0)
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM request_photos") == 0)
        }
    }

    @Test(arguments: Backend.available)
    func thePartyWorksItAndTheResidentConfirmsRejectsAndRates(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let resident = try await f.actor("resident"), property = try await f.actor("property"), community = try await f.actor("community")
            let a = try await r.submit(Self.lift(f), photos: [TestImages.png], actor: resident).request
            var input = RequestsService.ActionInput()
            // Rating an open request, or resolving someone else's request, is refused and changes nothing.
            input.rating = 5
            await #expect(throws: LinliError.self) { _ = try await r.perform(.confirm, id: a.id, input, actor: resident) }
            do { _ = try await r.perform(.resolve, id: a.id, input, actor: community); Issue.record("community resolved the property's request") }
            catch let e as LinliError { #expect(e.status == .forbidden && e.code == "not_your_request") }
            do { _ = try await r.perform(.resolve, id: a.id, input, actor: property); Issue.record("resolved before accepting") }
            catch let e as LinliError { #expect(e.status == .conflict) }
            #expect(try await r.perform(.accept, id: a.id, input, actor: property).status == "accepted")
            input.note = "维保已到场"; input.contacted = true
            let noted = try await r.perform(.note, id: a.id, input, actor: property)
            #expect(noted.contactedAt != nil)
            #expect(try await r.perform(.resolve, id: a.id, RequestsService.ActionInput(), photos: [TestImages.png], actor: property).status == "resolved")
            input.note = "还是不动"; input.rating = 2
            let reopened = try await r.perform(.reject, id: a.id, input, actor: resident)
            #expect(reopened.status == "accepted" && reopened.resolvedAt == nil)
            _ = try await r.perform(.resolve, id: a.id, RequestsService.ActionInput(), actor: property)
            input.note = nil; input.rating = 5
            let closed = try await r.perform(.confirm, id: a.id, input, actor: resident)
            #expect(closed.status == "closed" && closed.rating == 5)
            let detail = try await r.detail(a.id, actor: resident, lang: .zh)
            #expect(detail.events.map(\.kind) == ["submitted", "assigned", "accept", "note", "resolve", "reject", "resolve", "confirm"])
            #expect(detail.photos.count == 2)
            // A photo's bytes go to the reporter, not to an unrelated volunteer or the public (not published).
            #expect(try await r.photo(detail.photos[0], actor: resident).starts(with: [0xFF, 0xD8]))
            await #expect(throws: LinliError.self) { _ = try await r.photo(detail.photos[0], actor: try await f.actor("volunteer")) }
            await #expect(throws: LinliError.self) { _ = try await r.photo(detail.photos[0], actor: nil) }
        }
    }

    @Test(arguments: Backend.available)
    func aWrongPartyReturnsItAndTheCommunityRoutesItAgain(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let resident = try await f.actor("resident"), property = try await f.actor("property"), community = try await f.actor("community")
            let a = try await r.submit(Self.lift(f), actor: resident).request
            var input = RequestsService.ActionInput()
            await #expect(throws: LinliError.self) { _ = try await r.perform(.returnIt, id: a.id, input, actor: property) }  // no reason
            input.note = "不是电梯问题，是楼道灯"
            #expect(try await r.perform(.returnIt, id: a.id, input, actor: property).status == "returned")
            let supervise = try await r.list(.supervise, actor: community, lang: .zh)
            #expect(supervise.contains { $0.id == a.id })
            #expect(try await f.linli.inbox.list(actor: community, lang: .zh).contains { $0.kind == "returned" && $0.requestID == a.id })
            input.partyKind = "residents_committee"
            let re = try await r.perform(.reassign, id: a.id, input, actor: community)
            #expect(re.status == "assigned" && re.partyKind == "residents_committee")
            #expect(try await r.list(.queue, actor: community, lang: .zh).contains { $0.id == a.id })
            #expect(try await r.perform(.accept, id: a.id, RequestsService.ActionInput(), actor: community).status == "accepted")
            let report = try await r.figures(placeID: f.demo.firstCommunityID, from: "2000-01-01", to: "2099-12-31", actor: community)
            #expect(report.parties.first { $0.kind == "property_company" }?.returned == 1)
            #expect(report.total.received == 1)
        }
    }

    @Test(arguments: Backend.available)
    func overdueRequestsEscalateOneLevelPerDeadlineAndCatchUpAfterARestart(_ backend: Backend) async throws {
        let clock = TestClock(Self.monday9)
        try await withFixture(backend, clock: clock) { f in
            let resident = try await f.actor("resident"), community = try await f.actor("community")
            let street = try await f.actor("street"), property = try await f.actor("property")
            let a = try await f.linli.requests.submit(Self.lift(f), actor: resident).request
            #expect(try await f.linli.requests.escalateOverdue().escalated == 0)
            clock.advance(hours: 1.5)  // accept (1 h) missed
            #expect(try await f.linli.requests.escalateOverdue().escalated == 1)
            #expect(try await f.linli.requests.escalateOverdue().escalated == 0, "a sweep never escalates twice for one deadline")
            var d = try await f.linli.requests.detail(a.id, actor: community, lang: .zh)
            #expect(d.request.level == 1 && d.request.overdue == ["accept"])
            #expect(try await f.linli.inbox.list(actor: community, lang: .zh).contains { $0.kind == "escalated" && $0.requestID == a.id })
            #expect(d.abilities.supervise)
            // The server is down for a day: on the next start the sweep finds contact and resolve missed too.
            await f.linli.store.shutdown()
            clock.advance(hours: 30)
            let reopened = try await Linli.open(f.config)
            do {
                #expect(try await reopened.requests.escalateOverdue().escalated == 1)
                d = try await reopened.requests.detail(a.id, actor: community, lang: .zh)
                #expect(d.request.level == 3)
                #expect(d.events.filter { $0.kind == "escalated" }.count == 3)
                #expect(try await reopened.inbox.list(actor: street, lang: .zh).contains { $0.kind == "escalated" && $0.requestID == a.id })
                var s = RequestsService.ActionInput()
                s.note = "请今天内修好"
                _ = try await reopened.requests.perform(.supervise, id: a.id, s, actor: street)
                #expect(try await reopened.inbox.list(actor: property, lang: .zh).contains { $0.kind == "supervised" })
                await reopened.store.shutdown()
            } catch {
                await reopened.store.shutdown()
                throw error
            }
        }
    }

    @Test(arguments: Backend.available)
    func similarRequestsAreSuggestedAndStaffMergeThemKeepingReportersInformed(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let resident = try await f.actor("resident"), community = try await f.actor("community")
            let compound = try await f.residentCompound
            var s = RequestInput()
            s.category = "sanitation"; s.description = "小区东门垃圾桶满了两天没人清运"; s.placeID = compound
            let first = try await r.submit(s, actor: community).request
            s.description = "东门垃圾桶满了没人清运，很臭"
            #expect(try await r.suggestDuplicates(s, actor: resident, lang: .zh).first?.id == first.id)
            let second = try await r.submit(s, actor: resident).request
            let d = try await r.detail(second.id, actor: community, lang: .zh)
            #expect(d.similar.first?.id == first.id && d.abilities.merge)
            var m = RequestsService.ActionInput()
            m.targetID = first.id
            #expect(try await r.perform(.merge, id: second.id, m, actor: community).status == "merged")
            // The resident now follows the first request and hears of its progress.
            #expect(try await r.detail(first.id, actor: resident, lang: .zh).request.id == first.id)
            #expect(try await r.list(.mine, actor: resident, lang: .zh).contains { $0.id == first.id })
            #expect(try await f.linli.inbox.list(actor: resident, lang: .zh).contains { $0.kind == "merged" })
        }
    }

    @Test(arguments: Backend.available)
    func theBoardAndOpen311ShowNothingPrivate(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let r = f.linli.requests
            let resident = try await f.actor("resident"), community = try await f.actor("community")
            var hidden = Self.lift(f)
            hidden.description = "我家502的电梯按钮坏了，电话13912345678"
            let a = try await r.submit(hidden, photos: [TestImages.png], actor: resident).request
            var onBehalf = Self.lift(f)
            onBehalf.channel = "phone"; onBehalf.contactName = "王秀英"; onBehalf.contactPhone = "13800138000"; onBehalf.publicDetails = true
            onBehalf.residentConsent = true
            let b = try await r.submit(onBehalf, actor: community).request
            #expect(b.contactMasked == "王** 138****8000")
            let compound = try await f.residentCompound
            let board = try await r.board(placeID: compound, lang: .zh)
            let text = String(decoding: try JSONEncoder().encode(board.open), as: UTF8.self)
            #expect(board.open.count == 2)
            for needle in ["家502", "13912345678", "王秀英", "13800138000", "1单元 101", "居民"] { #expect(!text.contains(needle), "board leaks \(needle)") }
            #expect(board.open.first { $0.id == a.id }?.photoIDs == [], "unpublished photos stay private")
            // The community's board finds them through its street (requests.007).
            #expect(Set(try await r.board(placeID: f.demo.firstCommunityID, lang: .zh).open.map(\.id)) == [a.id, b.id])
            let open311 = try await r.publicRequests(ids: [a.id, b.id], lang: .zh)
            #expect(open311.first { $0.id == a.id }?.description == nil && open311.first { $0.id == b.id }?.description != nil)
            // The raw database holds the contact only encrypted.
            if backend == .sqlite {
                let raw = try Data(contentsOf: URL(fileURLWithPath: f.dataDir + "/linli.sqlite")) + ((try? Data(contentsOf: URL(fileURLWithPath: f.dataDir + "/linli.sqlite-wal"))) ?? Data())
                #expect(raw.range(of: Data("13800138000".utf8)) == nil && raw.range(of: Data("王秀英".utf8)) == nil)
            }
            let (name, phone) = try await r.unmaskContact(b.id, reason: "回访", actor: community)
            #expect(name == "王秀英" && phone == "13800138000")
            #expect(try await Self.count(f, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request.unmask_contact'") == 1)
        }
    }

    /// The form's map: the community's compounds and facilities with their positions, for anyone
    /// whose roles touch that community, and nothing (404) for anyone else.
    @Test(arguments: Backend.available)
    func theMapShowsTheCommunityAroundAPlaceToThoseItConcerns(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let registry = f.linli.registry
            let resident = try await f.actor("resident")
            let home = resident.grants.compactMap(\.householdID).first!
            let points = try await registry.mapPoints(placeID: nil, householdID: home, actor: resident, lang: .zh)
            #expect(points.contains { $0.kind == "compound" } && points.contains { $0.kind != "compound" && $0.kind != "community" })
            #expect(points.allSatisfy { (30...31).contains($0.lat) && (120...121).contains($0.lng) })
            let sameByPlace = try await registry.mapPoints(placeID: f.demo.firstCommunityID, householdID: nil, actor: try await f.actor("community"), lang: .en)
            #expect(sameByPlace.count == points.count)
            let elsewhere = try await f.linli.store.read { db in
                try await db.raw("SELECT id FROM places WHERE kind = 'community' AND path NOT LIKE \(bind: "%/\(f.demo.firstStreetID)/%") ORDER BY id LIMIT 1")
                    .first()!.decode(column: "id", as: Int64.self)
            }
            await #expect(throws: LinliError.self) { _ = try await registry.mapPoints(placeID: elsewhere, householdID: nil, actor: resident, lang: .zh) }
            await #expect(throws: LinliError.self) { _ = try await registry.mapPoints(placeID: nil, householdID: nil, actor: resident, lang: .zh) }
        }
    }

    /// A photo file no row names (its transaction failed, or the server died before the commit)
    /// is removed once it is an hour old; named photos and young files stay.
    @Test(arguments: Backend.available)
    func orphanPhotoFilesAreRemovedAndNamedOnesKept(_ backend: Backend) async throws {
        let clock = TestClock(Self.monday9)
        try await withFixture(backend, clock: clock) { f in
            let r = f.linli.requests
            let kept = try await r.submit(Self.lift(f), photos: [TestImages.png], actor: try await f.actor("resident")).request
            let dir = f.dataDir + "/photos"
            let fm = FileManager.default
            let old = clock.now.addingTimeInterval(-7200)
            for name in ["orphan-old.jpg", "orphan-young.jpg"] { fm.createFile(atPath: dir + "/" + name, contents: Data([0xFF, 0xD8, 0xFF])) }
            try fm.setAttributes([.modificationDate: old], ofItemAtPath: dir + "/orphan-old.jpg")
            try fm.setAttributes([.modificationDate: clock.now.addingTimeInterval(-60)], ofItemAtPath: dir + "/orphan-young.jpg")
            let named = try fm.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix("orphan") }
            #expect(named.count == 1)
            for n in named { try fm.setAttributes([.modificationDate: old], ofItemAtPath: dir + "/" + n) }
            #expect(try await r.removeOrphanPhotos() == 1)
            #expect(Set(try fm.contentsOfDirectory(atPath: dir)) == Set(named + ["orphan-young.jpg"]))
            let detail = try await r.detail(kept.id, actor: try await f.actor("resident"), lang: .zh)
            #expect(try await r.photo(detail.photos[0], actor: try await f.actor("resident")).starts(with: [0xFF, 0xD8]))
        }
    }
}

@Suite struct RequestsHTTPTests {
    @Test(arguments: Backend.available)
    func requestPagesAndAPIAnswerOnlyThoseWhoMaySee(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let ids = try await f.ids()
            let resident = try await f.actor("resident"), admin = try await f.actor("admin")
            let inside = try await f.linli.requests.submit(RequestsStoreTests.lift(f), actor: resident).request
            var out = RequestInput()
            out.category = "noise"; out.description = "楼下很吵"; out.householdID = ids.outsideHousehold
            let outside = try await f.linli.requests.submit(out, actor: admin).request
            let tokens = try await f.tokens()
            let expected: [String: (Int, Int)] = [
                "admin": (200, 200), "street": (200, 404), "community": (200, 404), "grid": (200, 404), "property": (200, 404),
                "resident": (200, 404), "volunteer": (404, 404), "auditor": (200, 200), "app": (404, 404),
            ]
            try await built.app.test(.router) { client in
                for (user, (inStatus, outStatus)) in expected {
                    for (id, want) in [(inside.id, inStatus), (outside.id, outStatus)] {
                        for uri in ["/api/v1/requests/\(id)", "/requests/\(id)"] {
                            let res = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(tokens[user]!)"])
                            #expect(Int(res.status.code) == want, "\(user) GET \(uri)")
                        }
                    }
                }
                // Bad input over the API: problem+json naming the field.
                let h: HTTPFields = [.authorization: "Bearer \(tokens["resident"]!)", .contentType: "application/json"]
                var res = try await client.execute(uri: "/api/v1/requests", method: .post, headers: h,
                                                   body: ByteBuffer(string: #"{"category":"lift","description":"坏了","household_id":\#(f.demo.firstHouseholdWithResidents)}"#))
                #expect(res.status == .unprocessableContent && res.body.text.contains("attribute[trapped]"))
                #expect(res.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                res = try await client.execute(uri: "/api/v1/requests/\(inside.id)/confirm", method: .post, headers: h, body: ByteBuffer(string: #"{"rating":5}"#))
                #expect(res.status == .conflict && res.body.text.contains("transition_not_allowed"))
                let ph: HTTPFields = [.authorization: "Bearer \(tokens["community"]!)", .contentType: "application/json"]
                res = try await client.execute(uri: "/api/v1/requests/\(inside.id)/resolve", method: .post, headers: ph, body: ByteBuffer(string: "{}"))
                #expect(res.status == .forbidden)
                // The Idempotency-Key header makes a retry return the same request with 200.
                var hk = h
                hk[.init("Idempotency-Key")!] = "abc-1"
                let body = #"{"category":"noise","description":"夜里很吵","household_id":\#(f.demo.firstHouseholdWithResidents)}"#
                let first = try await client.execute(uri: "/api/v1/requests", method: .post, headers: hk, body: ByteBuffer(string: body))
                let second = try await client.execute(uri: "/api/v1/requests", method: .post, headers: hk, body: ByteBuffer(string: body))
                #expect(first.status == .created && second.status == .ok)
                #expect(first.body.text.firstMatch(of: /"id":(\d+)/)?.1 == second.body.text.firstMatch(of: /"id":(\d+)/)?.1)
                // The form asks for look-alikes before sending: the noise request just filed is one.
                let similar = try await client.execute(uri: "/api/v1/requests/similar", method: .post, headers: h,
                                                       body: ByteBuffer(string: #"{"category":"noise","description":"夜里很吵","household_id":\#(f.demo.firstHouseholdWithResidents)}"#))
                #expect(similar.status == .ok && similar.body.text.contains(#""category_name":"噪音扰民""#))
            }
        }
    }

    @Test func open311FilesAndFollowsRequestsInJSONAndXML() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let key = try await f.token("app")
            let compound = try await f.residentCompound
            try await built.app.test(.router) { client in
                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                var res = try await client.execute(uri: "/open311/v2/discovery.json", method: .get)
                #expect(res.status == .ok && res.body.text.contains("GeoReport_v2"))
                res = try await client.execute(uri: "/open311/v2/services.xml", method: .get)
                #expect(res.body.text.contains("<services><service><service_code>lift</service_code>"))
                res = try await client.execute(uri: "/open311/v2/services/lift.json", method: .get)
                #expect(res.body.text.contains(#""code":"trapped""#))
                // Without a valid key nothing is filed.
                res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: form,
                                               body: ByteBuffer(string: "api_key=nope&service_code=noise&description=x&address_id=\(compound)"))
                #expect(res.status == .forbidden && res.body.text.contains(#""code":403"#))
                res = try await client.execute(uri: "/open311/v2/requests.xml", method: .post, headers: form,
                                               body: ByteBuffer(string: "api_key=\(key)&service_code=lift&description=%E7%94%B5%E6%A2%AF&address_id=\(compound)"))
                #expect(res.status == .badRequest || res.status == .unprocessableContent)
                #expect(res.body.text.contains("<errors><error><code>422</code>") && res.body.text.contains("attribute[trapped]"))
                res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: form,
                                               body: ByteBuffer(string: "api_key=\(key)&service_code=lift&attribute%5Btrapped%5D=no&description=%E7%94%B5%E6%A2%AF%E5%9D%8F%E4%BA%86&address_id=\(compound)&first_name=%E7%A7%80%E8%8B%B1&last_name=%E7%8E%8B&phone=13800138000"))
                #expect(res.status == .created, "\(res.body.text)")
                let id = String(res.body.text.firstMatch(of: /"service_request_id":"(\d+)"/)!.1)
                res = try await client.execute(uri: "/open311/v2/requests/\(id).xml", method: .get)
                #expect(res.body.text.contains("<service_requests><request><service_request_id>\(id)</service_request_id><status>open</status>"))
                #expect(res.body.text.contains("<expected_datetime>2"))
                for secret in ["王秀英", "13800138000", "秀英"] { #expect(!res.body.text.contains(secret)) }
                res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: form,
                                               body: ByteBuffer(string: "api_key=\(key)&service_code=noise&description=%E5%90%B5&address_id=\(compound)"))
                #expect(res.status == .created)
                res = try await client.execute(uri: "/open311/v2/requests.json?page_size=1&page=2", method: .get)
                #expect(res.body.text.contains(#""service_request_id":"\#(id)""#) && res.body.text.components(separatedBy: "service_request_id").count == 2)
                res = try await client.execute(uri: "/open311/v2/requests.json?status=closed", method: .get)
                #expect(res.body.text == "[]")
                res = try await client.execute(uri: "/open311/v2/requests.json?page_size=0", method: .get)
                #expect(res.status == .badRequest)
                res = try await client.execute(uri: "/open311/v2/tokens/\(id).json", method: .get)
                #expect(res.body.text.contains(#""token":"\#(id)""#))
            }
        }
    }

    /// A partner app sends the photo itself (a multipart `media` part); Linli never fetches a
    /// `media_url` it is given; the list's `media_url` points at the photo where the reporter
    /// published, and at nothing where they did not.
    @Test func open311TakesAPhotoAsMediaAndNamesItOnlyWherePublic() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let key = try await f.token("app")
            let compound = try await f.residentCompound
            try await built.app.test(.router) { client in
                func multipart(_ fields: [(String, String)], media: [UInt8]?) -> (HTTPFields, ByteBuffer) {
                    let (type, body) = TestMultipart.body(fields, file: media.map { ("media", $0) })
                    return ([.contentType: type], body)
                }
                let fields = [("api_key", key), ("service_code", "sanitation"), ("description", "垃圾桶满了"), ("address_id", String(compound))]
                // A URL to fetch is refused, saying what to send instead; nothing is filed.
                var (h, body) = multipart(fields + [("media_url", "http://169.254.169.254/latest/meta-data")], media: nil)
                var res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: h, body: body)
                #expect(res.status == .badRequest && res.body.text.contains("media"), "\(res.body.text)")
                #expect(try await RequestsStoreTests.count(f, "SELECT COUNT(*) AS n FROM requests") == 0)
                // Without a key the body is read and refused like any other.
                (h, body) = multipart([("api_key", "nope")] + fields.dropFirst(), media: TestImages.png)
                res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: h, body: body)
                #expect(res.status == .forbidden)
                // Something that is no picture is refused naming the photo.
                (h, body) = multipart(fields, media: Array("<svg/>".utf8))
                res = try await client.execute(uri: "/open311/v2/requests.xml", method: .post, headers: h, body: body)
                #expect(res.status == .unprocessableContent && res.body.text.contains("photos"), "\(res.body.text)")
                (h, body) = multipart(fields, media: TestImages.png)
                res = try await client.execute(uri: "/open311/v2/requests.json", method: .post, headers: h, body: body)
                #expect(res.status == .created, "\(res.body.text)")
                let id = String(res.body.text.firstMatch(of: /"service_request_id":"(\d+)"/)!.1)
                res = try await client.execute(uri: "/open311/v2/requests/\(id).json", method: .get)
                let url = try #require(res.body.text.firstMatch(of: /"media_url":"([^"]+)"/).map { String($0.1).replacingOccurrences(of: "\\/", with: "/") })
                #expect(url.hasPrefix(f.config.publicBaseURL + "/request-photos/"))
                let photo = try await client.execute(uri: String(url.dropFirst(f.config.publicBaseURL.count)), method: .get)
                #expect(photo.status == .ok && photo.headers[.contentType] == "image/jpeg")
                // A request the reporter did not publish names no photo, to Open311 or the board.
                let resident = try await f.actor("resident")
                var i = RequestInput()
                i.category = "water_leak"; i.description = "楼上漏水"; i.householdID = f.demo.firstHouseholdWithResidents; i.publicDetails = false
                let hidden = try await f.linli.requests.submit(i, photos: [TestImages.png], actor: resident).request
                res = try await client.execute(uri: "/open311/v2/requests/\(hidden.id).json", method: .get)
                #expect(res.status == .ok && res.body.text.contains(#""media_url":"""#), "\(res.body.text)")
            }
        }
    }

    @Test func aResidentSubmitsFromTheWebFormWithAPhoto() async throws {
        try await withFixture(.sqlite) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            try await built.app.test(.router) { client in
                let cookie = try await webLogin(client, "resident")
                let page = try await client.execute(uri: "/requests/new", method: .get, headers: [.cookie: cookie])
                #expect(page.status == .ok)
                let csrf = String(page.body.text.firstMatch(of: /name="_csrf" value="([a-z0-9]+)"/)!.1)
                let location = String(page.body.text.firstMatch(of: /option value="(household:\d+)"/)!.1)
                func multipart(_ fields: [(String, String)], photo: [UInt8]?) -> (String, ByteBuffer) {
                    TestMultipart.body(fields, file: photo.map { ("photos", $0) })
                }
                let fields = [("_csrf", csrf), ("idempotency_key", "form-1"), ("category", "lift"), ("attr_lift_trapped", "no"),
                              ("description", "电梯不动了"), ("location", location)]
                // A file that is not an image comes back to the form with the reason beside the field.
                var (type, body) = multipart(fields, photo: Array("not an image".utf8))
                var res = try await client.execute(uri: "/requests", method: .post, headers: [.cookie: cookie, .contentType: type], body: body)
                #expect(res.status == .unprocessableContent && res.body.text.contains("photos-error"))
                (type, body) = multipart(fields, photo: TestImages.png)
                res = try await client.execute(uri: "/requests", method: .post, headers: [.cookie: cookie, .contentType: type], body: body)
                #expect(res.status == .seeOther)
                // The same form sent again (a double click) lands on the same request.
                let again = try await client.execute(uri: "/requests", method: .post, headers: [.cookie: cookie, .contentType: type], body: body)
                #expect(again.headers[.location] == res.headers[.location])
                let detail = try await client.execute(uri: res.headers[.location]!, method: .get, headers: [.cookie: cookie])
                #expect(detail.body.text.contains("/request-photos/"))
                #expect(try await RequestsStoreTests.count(f, "SELECT COUNT(*) AS n FROM requests") == 1)
                // Without the CSRF token the same post is refused.
                (type, body) = multipart(fields.filter { $0.0 != "_csrf" }, photo: nil)
                res = try await client.execute(uri: "/requests", method: .post, headers: [.cookie: cookie, .contentType: type], body: body)
                #expect(res.status == .forbidden)
            }
        }
    }
}
