import Foundation
import LinliCore
import LinliStore
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp

/// Texts: each key in one capability's table, every code a page can show has a label in both
/// languages, and every `{{t.key}}` a template uses exists.
@Suite struct TextTests {
    /// The app's whole catalogue: this target's tables and those of capabilities in their own targets.
    static let app = I18n.texts.adding(LinliApp.capabilities.map { $0.text })

    @Test func noKeyIsDefinedTwice() {
        #expect(Self.app.tables.count == I18n.tables.count + LinliApp.capabilities.count)
        #expect(Self.app.duplicates == [])
        // The check can fail: a key added twice is named.
        let twice = Self.app.adding([TextTable(name: "again", strings: ["save": ("存", "Keep")], values: [:])])
        #expect(twice.duplicates == ["strings.save: platform, again"])
    }

    /// The codes of every stored enum, each with the prefix its label lives under.
    static let codes: [(String, [String])] = [
        ("", PlaceKind.allCases.map(\.rawValue)), ("ctype_", CommunityType.allCases.map(\.rawValue)),
        ("", Registration.allCases.map(\.rawValue)), ("", Relation.allCases.map(\.rawValue)),
        ("", ResidentTag.allCases.map(\.rawValue)), ("", OrganisationKind.allCases.map(\.rawValue)),
        ("", FacilityKind.allCases.map(\.rawValue)), ("orgreg_", ["registered", "filed"]),
        ("", ItemClass.allCases.map(\.rawValue)), ("choice_", Choice.allCases.map(\.rawValue)),
        ("", BallotMethod.allCases.map(\.rawValue)), ("stage_", ProjectStage.allCases.map(\.rawValue)),
        ("", RequestStatus.allCases.map(\.rawValue)), ("", Urgency.allCases.map(\.rawValue)),
        ("channel_", Channel.allCases.map(\.rawValue)), ("", PartyKind.allCases.map(\.rawValue)),
        ("deadline_", Deadline.allCases.map(\.rawValue)), ("role_", Role.allCases.map(\.rawValue)),
        ("task_outcome_", GridTaskOutcome.allCases.map(\.rawValue)),
        ("task_state_", ["open", "overdue", "complete", "closed"]),
    ]

    @Test func everyStoredCodeHasALabelInBothLanguages() {
        for (prefix, codes) in Self.codes {
            for code in codes {
                let key = prefix + code
                #expect(Self.app.values[key] != nil, "no label for \(key)")
                for lang in [Lang.zh, .en] { #expect(Self.app.label(key, lang) != key, "\(key) shows as its code in \(lang)") }
            }
        }
    }

    /// The labels that once came out wrong from a first-wins merge.
    @Test func aCodeIsLabelledByTheFieldItSitsIn() {
        #expect(I18n.codeLabel("status", "merged", .zh) == "已合并")
        #expect(I18n.codeLabel("community_type", "merged", .zh) == "融合型大社区")
        #expect(I18n.codeLabel("registration", "registered", .zh) == "户籍人口")
        #expect(I18n.codeLabel("org_registration", "registered", .zh) == "登记")
        #expect(I18n.codeLabel("org_registration", "filed", .en) == "Filed")
        // A request's source: every channel has its words ("phone" once showed as itself).
        #expect(I18n.codeLabel("channel", "phone", .zh) == "电话" && I18n.codeLabel("channel", "acting", .zh)!.hasPrefix("代办"))
    }

    @Test func everyTemplateKeyExists() throws {
        var files: [URL] = []
        for dir in [serverSources, deliberationSources, servicesSources, officesSources, situationSources, circleSources].map({ $0.appendingPathComponent("Resources/templates") }) {
            files += try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter { $0.pathExtension == "mustache" }
        }
        #expect(files.count > 20)
        let pattern = try NSRegularExpression(pattern: #"\{\{[#^/]?t\.([a-z0-9_]+)\}\}"#)
        var missing: [String] = []
        for f in files {
            let text = try String(contentsOf: f, encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let key = String(text[Range(m.range(at: 1), in: text)!])
                if Self.app.strings[key] == nil { missing.append("\(f.lastPathComponent): \(key)") }
            }
        }
        #expect(missing == [])
    }
}
