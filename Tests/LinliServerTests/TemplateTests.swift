import Foundation
import Mustache
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// The console's template engine against swift-mustache, the engine it replaced on the hot path.
/// (Debug builds also compare every page the other tests render.)
@Suite struct TemplateTests {
    static let partials = ["header": "<h1>{{title}}</h1>\n{{#items}}\n  <b>{{.}}</b>\n{{/items}}\n"]

    static let cases: [String] = [
        "plain text only",
        "{{name}} & {{{name}}} & {{&name}} | {{missing}}|{{ name }}",
        "{{#flag}}on{{/flag}}{{^flag}}off{{/flag}} {{#zero}}z{{/zero}}{{^zero}}not-z{{/zero}} {{#one}}one:{{one}}{{/one}}",
        "{{#native_true}}yes {{native_true}}{{/native_true}}{{^native_false}} no {{native_false}}{{/native_false}}",
        "{{#count}}n={{count}} {{.}}{{/count}}{{^count}}none{{/count}}",
        "<ul>\n{{#items}}\n  <li>{{.}}</li>\n{{/items}}\n{{^items}}\n  <li>empty</li>\n{{/items}}\n</ul>\n",
        "{{#empty_list}}x{{/empty_list}}{{^empty_list}}nothing{{/empty_list}}",
        "{{#people}}{{name}} ({{t.age}} {{age}}) {{#tags}}[{{.}}]{{/tags}}{{title}};{{/people}}",
        "{{#nested}}{{inner.deep.value}} {{.inner.deep.value}} {{.title}}{{/nested}} {{nested.inner.deep.value}}",
        "{{#null}}shown{{/null}}{{^null}}hidden-null{{/null}} {{null}}",
        "{{#people}}{{#null_shadow}}x{{/null_shadow}}{{^null_shadow}}shadowed{{/null_shadow}}{{/people}}",
        "  {{#flag}}  \n  indented\n  {{/flag}}  \n{{! a comment }}\n  {{! standalone comment }}\nafter",
        "{{#flag}}\r\ncrlf\r\n{{/flag}}\r\nend",
        "before {{#flag}}inline{{/flag}} after\n{{#flag}}x{{/flag}}\n",
        "{{> header}}\n<p>body</p>\n  {{> header}}\nx{{> header}}y",
        "quote \" and <tag> {{html}} {{{html}}}",
        "{{#text}}has text: {{.}}{{/text}}",
        "{{t.app}} {{#people}}{{t.app}}{{/people}}",
        "{{#one_id}}/matters/{{.}}{{/one_id}}",
    ]

    static let data: TemplateValue = .object([
        "name": .text("王 <五> & \"六\""),
        "title": .text("标题"),
        "flag": .flag(true, "true"), "native_true": .flag(true, "true"), "native_false": .flag(false, "false"),
        "zero": .flag(false, "0"), "one": .flag(true, "1"), "count": .text("12"), "one_id": .text("1"),
        "items": .list([.text("a"), .text("b<c>")]),
        "empty_list": .list([]),
        "people": .list([
            .object(["name": .text("甲"), "age": .text("71"), "tags": .list([.text("独居老人")]), "null_shadow": .null]),
            .object(["name": .text("乙"), "age": .text("9"), "tags": .list([]), "title": .text("own title")]),
        ]),
        "nested": .object(["inner": .object(["deep": .object(["value": .text("deep!")])])]),
        "null": .null, "null_shadow": .flag(true, "true"),
        "html": .text("<a href='x'>&amp;</a>"),
        "text": .text("hello"),
        "t": .object(["age": .text("年龄"), "app": .text("邻里")]),
    ])

    @Test func rendersWhatSwiftMustacheRenders() throws {
        for (i, source) in Self.cases.enumerated() {
            var sources = Self.partials
            sources["page"] = source
            let ours = try TemplateLibrary(sources: sources).render("page", Self.data)
            var reference = MustacheLibrary()
            for (name, text) in sources { try reference.register(text, named: name) }
            let expected = reference.render(Self.data.mustacheValue, withTemplate: "page")
            #expect(ours == expected, "case \(i): \(source)")
        }
    }

    @Test func everyConsoleTemplateCompiles() async throws {
        let directories = try LinliApp.capabilities.compactMap { try $0.templateDirectory }
        #expect(directories.count == LinliApp.capabilities.count)
        let library = try await Renderer.load(texts: TextTests.app, templateDirectories: directories).zhLibrary
        #expect(library.templates.count > 40)
        #expect(library.templates["layout"] != nil && library.templates["household"] != nil)
        // A capability's templates from its own target, beside the platform's.
        #expect(library.templates["kitchen"] != nil && library.templates["affairs"] != nil && library.templates["work_items"] != nil)
        #expect(library.templates["volunteer_certificate"] != nil && library.templates["certificate"] != nil)
        #expect(library.templates["situation"] != nil && library.templates["needs_analysis"] != nil && library.templates["circle"] != nil)
        #expect(library.templates["poll"] != nil && library.templates["matter"] != nil)
        // A page of one capability never silently replaces another's.
        let platform = serverSources.appendingPathComponent("Resources/templates").path
        await #expect(throws: LinliError.self) { try await Renderer.load(templateDirectories: [platform]) }
    }

    @Test func aBrokenTemplateIsNamedWithTheReason() {
        for (source, reason) in [("{{#a}}open", "{{#a}} is not closed"), ("{{#a}}{{/b}}", "{{/b}} closes {{#a}}"),
                                 ("{{name", "tag not closed"), ("{{=<% %>=}}", "changing delimiters is not supported")] {
            do {
                _ = try Template(source, name: "broken")
                Issue.record("\(source) compiled")
            } catch let error as Template.SyntaxError {
                #expect(error.template == "broken")
                #expect(error.reason == reason)
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    enum Status: String, Codable { case open, resolved }
    struct Row: Codable { var id: Int64; var status: Status; var note: String; var tags: [String]; var share: Double; var ratio: Double; var none: String? }
    struct View: Codable {
        var kind: String
        var stage: String
        var empty: String
        var zero: Int
        var one: Int64
        var many: Int
        var yes: Bool
        var no: Bool
        var rows: [Row]
        var nested: [[Int]]
        var map: [String: String]
    }

    /// True if two JSON texts parse to the same value (key order aside).
    private func sameJSON(_ fast: [UInt8], _ encoded: [UInt8]) throws -> Bool {
        let a = try JSONSerialization.jsonObject(with: Data(fast)) as? NSObject
        let b = try JSONSerialization.jsonObject(with: Data(encoded)) as? NSObject
        return a != nil && a == b
    }

    /// The household page's hand-built values are what encoding gives.
    @Test func theHouseholdPageBuildsWhatEncodingGives() throws {
        let resident = ResidentView(id: 9, householdID: 3, name: "王芳", gender: "female", birthDate: "1950-02-01", age: 76, idNumber: "**************1234", idKind: "id_card",
                                    phone: nil, registration: "registered", relation: "head", tags: ["elderly_alone", ""], partyMember: true,
                                    inServiceParty: false, address: "")
        for dwelling in [nil, DwellingView(areaM2: "89.50", ownerName: "王芳", ownerKind: "person", ownerDwellings: 1)] {
            let household = HouseholdDetail(id: 3, placeID: 8, communityID: 4, door: "101", address: "金桂苑 1幢 1单元 101", code: "abc", gridName: "第一网格",
                                            microGridID: 12, microGridName: "", dwelling: dwelling, residents: [resident, resident],
                                            breadcrumbs: [PlaceSummary(id: 4, kind: "community", name: "西林寺社区", communityType: "merged", childCount: 0, householdCount: nil)])
            for lang in [Lang.zh, .en] {
                #expect(household.templateValue(lang, texts: I18n.texts).firstDifference(from: Renderer.viaJSON(household, lang, texts: I18n.texts)) == nil)
            }
            // The same field list writes the API's JSON.
            #expect(try sameJSON(household.jsonBytes(), StreamingJSON.encode(household)))
            #expect(try sameJSON(JSON.bytes(household.residents), StreamingJSON.encode(household.residents)))
        }
    }

    /// A place page's field lists give what encoding gives, doubles and left-out optionals included.
    @Test func thePlacePageBuildsWhatEncodingGives() throws {
        let summary = PlaceSummary(id: 5, kind: "compound", name: "金桂苑", communityType: nil, childCount: 3, householdCount: nil)
        let place = PlaceDetail(place: summary, parentID: nil, breadcrumbs: [summary], children: [summary],
                                households: [HouseholdSummary(id: 1, door: "101", address: "金桂苑 1幢 101", residentCount: 0)],
                                organisations: [OrganisationSummary(id: 2, kind: "property_company", name: "绿城物业", serviceType: nil, registration: "filed",
                                                                    parentName: nil, parentID: 1, serving: true)],
                                facilities: [FacilitySummary(id: 3, kind: "clinic", name: "卫生服务站", lat: 30.274, lng: 120.15100000000001),
                                             FacilitySummary(id: 4, kind: "market", name: "菜市场", lat: 30, lng: -0.5)],
                                grids: [GridSummary(id: 6, name: "第一网格", level: "grid", parentID: nil)])
        for lang in [Lang.zh, .en] {
            #expect(place.templateValue(lang, texts: I18n.texts).firstDifference(from: Renderer.viaJSON(place, lang, texts: I18n.texts)) == nil)
        }
        #expect(try sameJSON(place.jsonBytes(), StreamingJSON.encode(place)))
    }

    /// A submission's answer, written from field lists, is the JSON Encodable wrote.
    @Test func aSubmissionsAnswerIsWhatEncodingGives() throws {
        var request = RequestView(id: 7, category: "noise", categoryName: "噪声扰民", description: "楼下\"棋牌室\"凌晨还很吵\n", placeID: 3, householdID: nil,
                                  address: "金桂苑 1幢", lat: nil, lng: nil, urgency: "normal", channel: "app", contactMasked: "", publicDetails: false,
                                  attributes: ["floor": "3", "time": ""], status: "assigned", partyKind: "property_company", partyName: "绿城物业",
                                  level: 0, levelCode: "compound", acceptDue: 100, contactDue: 200, resolveDue: 300, acceptedAt: nil, contactedAt: nil,
                                  resolvedAt: nil, closedAt: nil, overdue: [], rating: nil, mergedInto: nil, createdAt: 50, createdText: "12-01 09:00",
                                  resolveDueText: "12-03 09:00", isOverdue: false, boardPlaceID: 3)
        let similar = SimilarRequest(id: 5, categoryName: "噪声扰民", address: "金桂苑 1幢", status: "accepted", createdText: "11-30 20:00", score: 0.87)
        for answer in [SubmissionAnswer(request: request, possibleDuplicates: [similar, similar]), SubmissionAnswer(request: request, possibleDuplicates: [])] {
            #expect(try sameJSON(answer.jsonBytes(), StreamingJSON.encode(answer)))
        }
        request.lat = 30.25; request.lng = 120.5; request.overdue = ["accept", "contact"]; request.rating = 5; request.acceptedAt = 0
        #expect(try sameJSON(request.jsonBytes(), StreamingJSON.encode(request)))
        #expect(request.templateValue(.zh, texts: I18n.texts).firstDifference(from: Renderer.viaJSON(request, .zh, texts: I18n.texts)) == nil)
    }

    /// The cached layout is cut at its marks only when each is there exactly once.
    @Test func aLayoutIsCutAtEachMarkOnce() {
        let marks = [Array("<T>".utf8), Array("<C>".utf8)]
        #expect(Renderer.cut(Array("a<T>b<C>c".utf8), at: marks) == [Array("a".utf8), Array("b".utf8), Array("c".utf8)])
        #expect(Renderer.cut(Array("<T><C>".utf8), at: marks) == [[], [], []])
        #expect(Renderer.cut(Array("a<C>b<T>c".utf8), at: marks) == nil)
        #expect(Renderer.cut(Array("a<T>b<C>c<C>".utf8), at: marks) == nil)
        #expect(Renderer.cut(Array("a<T>b".utf8), at: marks) == nil)
        #expect(Renderer.cut(Array("a<T>b<T>c<C>".utf8), at: marks) == nil)
    }

    /// A link to request or matter 1 names it (swift-mustache took JSON's 1 for true and printed the row).
    @Test func anIdOfOneIsANumberNotTrue() throws {
        struct Item: Codable { var matter_id: Int64 }
        let library = try TemplateLibrary(sources: ["page": "|{{#items}}{{#matter_id}}/matters/{{.}}{{/matter_id}}{{/items}}"])
        let value = TemplateValue.object(["items": Renderer.data([Item(matter_id: 1), Item(matter_id: 0)], .zh, texts: I18n.texts)])
        #expect(library.render("page", value)?.hasSuffix("/matters/1") == true)
    }

    /// A number under a key whose strings are codes (a request's escalation `level`) is a number,
    /// not a code: no `_label`, as on the JSON path (a debug page with an escalated request stopped).
    @Test func aNumberUnderACodedKeyGetsNoLabel() throws {
        struct Escalated: Codable { var level: Int; var status: String }
        for level in [0, 1, 2] {
            let v = Escalated(level: level, status: "assigned")
            let direct = try TemplateEncoding.value(v, .zh, texts: I18n.texts)
            #expect(direct.firstDifference(from: Renderer.viaJSON(v, .zh, texts: I18n.texts)) == nil, "level \(level)")
        }
    }

    /// The direct encoder gives what JSON, JSONSerialization and the labelling gave.
    @Test func encodesWhatTheJSONPathGave() throws {
        let view = View(kind: "compound", stage: "open", empty: "", zero: 0, one: 1, many: 42, yes: true, no: false,
                        rows: [Row(id: 1, status: .open, note: "", tags: ["elderly_alone", "child"], share: 0.5, ratio: 2, none: nil),
                               Row(id: 7, status: .resolved, note: "漏水", tags: [], share: 1e-7, ratio: 0, none: "x")],
                        nested: [[0, 1, 2], []], map: ["a": "b", "空": ""])
        for lang in [Lang.zh, .en] {
            let direct = try TemplateEncoding.value(view, lang, texts: I18n.texts)
            #expect(direct.firstDifference(from: Renderer.viaJSON(view, lang, texts: I18n.texts)) == nil)
            guard case .object(let fields) = direct, case .list(let rows) = fields["rows"], case .object(let first) = rows[0] else {
                Issue.record("not an object with rows"); continue
            }
            #expect(fields["kind_label"] == .text(I18n.label("compound", lang)))
            #expect(fields["empty"] == .null)
            #expect(fields["zero"] == .flag(false, "0") && fields["one"] == .text("1") && fields["yes"] == .flag(true, "1"))
            #expect(first["status_label"] != nil && first["tag_labels"] == .list([.text(I18n.label("elderly_alone", lang)), .text(I18n.label("child", lang))]))
        }
    }
}
