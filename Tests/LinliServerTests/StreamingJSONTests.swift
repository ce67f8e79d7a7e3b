import Foundation
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

@Suite struct StreamingJSONTests {
    struct Empty: Codable, Equatable {}
    enum Kind: String, Codable { case a, b }
    struct Inner: Codable, Equatable { var x: Int; var tags: [String]; var kind: Kind; var maybe: Double? }
    struct Outer: Codable, Equatable {
        var text: String
        var flag: Bool
        var n: Int64
        var d: Double
        var whole: Double
        var tiny: Double
        var none: String?
        var list: [Inner]
        var empty: [Int]
        var nothing: Empty
        var map: [String: String]
        var nested: [[Int]]
    }

    /// Same value as JSONEncoder writes, read back by JSONSerialization and by the type itself.
    @Test func writesWhatJSONEncoderWrites() throws {
        let value = Outer(text: "引号\" 反斜杠\\ 换行\n 制表\t 回车\r 控制\u{01} 斜杠/ 中文 emoji 👍", flag: true, n: -9_007_199_254_740_993,
                          d: 0.85, whole: 3, tiny: -3.5e-7, none: nil,
                          list: [Inner(x: 1, tags: ["a", "b"], kind: .b, maybe: nil), Inner(x: 2, tags: [], kind: .a, maybe: 2.5)],
                          empty: [], nothing: Empty(), map: ["k": "v", "空": ""], nested: [[1, 2], [], [3]])
        let fast = try StreamingJSON.encode(value)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let slow = try encoder.encode(value)
        let a = try JSONSerialization.jsonObject(with: Data(fast)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: slow) as? NSDictionary
        #expect(a != nil && a == b)
        #expect(try JSONDecoder().decode(Outer.self, from: Data(fast)) == value)
        #expect(!String(decoding: fast, as: UTF8.self).contains("none"))
        #expect(String(decoding: try StreamingJSON.encode([Empty(), Empty()]), as: UTF8.self) == "[{},{}]")
        #expect(String(decoding: try StreamingJSON.encode("a\"b"), as: UTF8.self) == "\"a\\\"b\"")
    }

    /// A real view, as the API answers a submission.
    @Test func requestViewsRoundTrip() throws {
        let view = RequestView(id: 7, category: "noise", categoryName: "噪音扰民", description: "楼下\"棋牌室\"凌晨还很吵", placeID: 3, householdID: nil,
                               address: "1幢/2单元", lat: 30.25, lng: nil, urgency: "normal", channel: "app", contactMasked: "", publicDetails: false,
                               attributes: ["floor": "3"], status: "assigned", partyKind: "property_company", partyName: "绿城物业", level: 0,
                               levelCode: "party", acceptDue: 1, contactDue: 2, resolveDue: 3, acceptedAt: nil, contactedAt: nil, resolvedAt: nil,
                               closedAt: nil, overdue: [], rating: nil, mergedInto: nil, createdAt: 0, createdText: "2026-11-22 10:00",
                               resolveDueText: "", isOverdue: false, boardPlaceID: 3)
        let back = try JSONDecoder().decode(RequestView.self, from: Data(try StreamingJSON.encode(view)))
        #expect(back.description == view.description && back.attributes == view.attributes && back.lat == 30.25 && back.lng == nil)
    }

    struct Interleaving: Encodable {
        enum K: String, CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            var first = c.nestedUnkeyedContainer(forKey: .a)
            var second = c.nestedUnkeyedContainer(forKey: .b)
            try second.encode(1)
            try first.encode(2)
        }
    }
    struct Dated: Encodable { var at = Date(timeIntervalSince1970: 0) }

    /// What it does not cover it refuses, so that the caller uses JSONEncoder instead.
    @Test func refusesWhatItCannotWrite() {
        #expect(throws: StreamingJSON.Unsupported.self) { try StreamingJSON.encode(Interleaving()) }
        #expect(throws: StreamingJSON.Unsupported.self) { try StreamingJSON.encode(Dated()) }
        #expect(throws: StreamingJSON.Unsupported.self) { try StreamingJSON.encode([Double.nan]) }
    }
}
