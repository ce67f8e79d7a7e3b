import Foundation
import Testing

/// A capability keeps to its own tables. Each table belongs to the capability whose migrations
/// create it; SQL in another capability's files may name it only if it is shared (the registry's
/// places and households, which every capability places things in, and account names) or on the
/// declared list below. The declared list is debt, written down so that it can only shrink: each
/// entry is to move behind the owner's read API when the capabilities become their own targets.
@Suite struct BoundaryTests {
    static let shared: Set<String> = ["places", "households", "grids", "users"]

    static let declared: [String: Set<String>] = [
        // The notifications table was created by requests.00x and widened by two later
        // migrations; landed migrations are never edited, so it stays where it was born.
        "Notifications": ["notifications"],
        "Deliberation": ["notifications", "dwellings", "owners", "residents", "organisations", "role_grants"],
        "Linkage": ["notifications", "organisations", "residents", "role_grants"],
        "Requests": ["organisations", "organisation_compounds", "residents", "role_grants"],
        "Accounts": [],
        "Application.swift": ["audit_log"],
    ]

    static let root = serverSources

    func swiftFiles(_ dir: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter { $0.pathExtension == "swift" }
    }

    @Test func noCapabilityNamesAnothersTables() throws {
        let fm = FileManager.default
        // The capabilities inside LinliServer, one folder each, and those in their own targets.
        var capabilities: [(String, URL)] = try fm.contentsOfDirectory(atPath: Self.root.path).filter {
            var dir: ObjCBool = false
            return fm.fileExists(atPath: Self.root.appendingPathComponent($0).path, isDirectory: &dir) && dir.boolValue && $0 != "Resources"
        }.map { ($0, Self.root.appendingPathComponent($0)) }
        capabilities += [("Deliberation", deliberationSources), ("Services", servicesSources), ("Offices", officesSources), ("Situation", situationSources), ("Circle", circleSources)]
        let create = try NSRegularExpression(pattern: #"CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"#)
        let reference = try NSRegularExpression(pattern: #"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|from:|into:)\s*"?(\w+)"?"#, options: [.caseInsensitive])
        func matches(_ re: NSRegularExpression, _ text: String) -> [String] {
            re.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range(at: 1), in: text)!]) }
        }
        var owner: [String: String] = [:]
        var texts: [String: [(String, String)]] = [:]
        for (c, folder) in capabilities {
            for f in try swiftFiles(folder) {
                let text = try String(contentsOf: f, encoding: .utf8)
                texts[c, default: []].append((f.lastPathComponent, text))
                for t in matches(create, text) {
                    #expect(owner[t] == nil || owner[t] == c, "\(t) is created by both \(owner[t]!) and \(c)")
                    owner[t] = c
                }
            }
        }
        texts["Application.swift"] = [("Application.swift", try String(contentsOf: Self.root.appendingPathComponent("Application.swift"), encoding: .utf8))]
        #expect(owner.count > 40, "found the migrations")
        var found: [String: Set<String>] = [:]
        for (c, files) in texts {
            for (name, text) in files {
                for t in matches(reference, text) {
                    guard let o = owner[t], o != c, !Self.shared.contains(t) else { continue }
                    found[c, default: []].insert(t)
                    #expect(Self.declared[c, default: []].contains(t), "\(c)/\(name) names \(o)'s table \(t)")
                }
            }
        }
        // The list only shrinks: an entry no longer needed must be struck off.
        for (c, tables) in Self.declared {
            for t in tables where !found[c, default: []].contains(t) { Issue.record("\(c) no longer names \(t): strike it off the declared list") }
        }
    }
}
