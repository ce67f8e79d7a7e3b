import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A minimal RFC 4180 reader that remembers on which line each record starts.
package enum CSVReader {
    struct Record { var line: Int; var fields: [String] }
    struct Unreadable: Error { var reason: String }

    /// A spreadsheet as an office saves it: an Excel workbook (a ZIP, its first sheet) or CSV
    /// in UTF-8 or GBK, all read into the same rows. Every importer opens files through here
    /// so they accept the same files and say the same thing about the ones they cannot read.
    static func records(_ data: Data) -> Result<[Record], Unreadable> {
        if Workbook.isXLSX(data) {
            do { return .success(try Workbook.firstSheet(data)) } catch let e as LinliError {
                return .failure(Unreadable(reason: e.message))
            } catch { return .failure(Unreadable(reason: "无法读取该 Excel 文件")) }
        }
        guard let (text, _) = TextDecoding.spreadsheetText(data) else {
            return .failure(Unreadable(reason: "文件既不是 UTF-8 也不是 GBK 编码，无法读取（可在 Excel 中另存为“CSV UTF-8”或 .xlsx）"))
        }
        return .success(parse(text))
    }

    static func parse(_ text: String) -> [Record] {
        var records: [Record] = []
        var field = "", fields: [String] = []
        var inQuotes = false, line = 1, recordLine = 1
        var it = Array(text.unicodeScalars)
        if it.first == "\u{FEFF}" { it.removeFirst() }
        var i = 0
        func endRecord() {
            fields.append(field); field = ""
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields = []
        }
        while i < it.count {
            let c = it[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < it.count && it[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\r" {
                // part of CRLF; the newline ends the record
            } else if c == "\n" {
                endRecord(); line += 1; recordLine = line
            } else {
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }

    /// A cell as CSV. A cell a spreadsheet would run as a formula (starting with `= + - @`, a tab
    /// or a carriage return) gets a leading apostrophe, which Excel and LibreOffice show as text.
    package static func escape(_ s: String) -> String {
        var s = s
        if let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { s = "'" + s }
        return s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// A cell as read back: the apostrophe `escape` put before a formula-like cell comes off, so
    /// an export imports unchanged (a door "-1" stays "-1").
    static func unescape(_ s: String) -> String {
        guard s.hasPrefix("'"), let second = s.unicodeScalars.dropFirst().first, "=+-@\t\r".unicodeScalars.contains(second) else { return s }
        return String(s.dropFirst())
    }
}

public struct ImportReport: Sendable {
    public struct RowError: Error, Sendable, Equatable { public var line: Int; public var column: String; public var reason: String }
    public var imported = 0
    public var householdsCreated = 0
    public var errors: [RowError] = []
}

/// Households and residents as a community office keeps them in a spreadsheet.
public struct RegistryCSV: Sendable {
    let registry: RegistryService

    /// Whether the place is a community (or village); 404 outside the actor's area, 403 inside it without the right.
    public func transferScope(_ placeID: Int64, actor: Actor) async throws -> Bool {
        let reg = registry
        return try await reg.store.read { db in
            guard let place = try await reg.fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.registryTransfer, on: ObjectScope(path: place.path))
            return place.kind.isCommunity
        }
    }

    func requireTransfer(_ communityID: Int64, _ actor: Actor) async throws {
        guard try await transferScope(communityID, actor: actor) else {
            throw LinliError.invalid("community", "not_a_community", "请在社区或村的页面导入导出")
        }
    }

    public static let header = ["小区", "楼栋", "单元", "门牌号", "微网格", "姓名", "身份证号", "手机号", "户籍状态", "与户关系", "标签", "党员"]
    /// The part and its owners, after the resident's columns (a file with only the twelve above is
    /// still read). Filled on any row of a household: 产权人 is 本人 (this row's person owns it, with
    /// 份额 when shared), or an owner's name; one name in one file is one owner, so a buyer of
    /// three parts counts once. A row with 开发商未售 = 是 and no person records the developer's
    /// unsold part alone.
    public static let dwellingHeader = ["专有部分编号", "建筑面积", "产权人", "份额", "开发商未售"]
    /// The document, for residents without a resident ID card (empty means 居民身份证), and then
    /// gender and birth date, which only the ID card's number carries.
    public static let documentHeader = ["证件类型", "性别", "出生日期"]
    public static let fullHeader = header + dwellingHeader + documentHeader
    /// Other names offices give a column.
    static let aliases = ["证件号码": "身份证号", "证件号": "身份证号"]
    /// A template to fill in: the header and two example rows (an ID card; a child without one).
    public static let template = "\u{FEFF}" + fullHeader.joined(separator: ",") + "\r\n"
        + "金桂苑,1幢,1单元,101,第1网格-微网格1,张三,11010519491231002X,13800000000,户籍人口,户主,,否,1幢1单元101,89.50,本人,,否,,,\r\n"
        + "金桂苑,1幢,1单元,101,第1网格-微网格1,张小宝,,,户籍人口,家庭成员,儿童,否,,,,,,暂无证件,男,2024-03-01\r\n"

    /// Where each of `fullHeader`'s columns is in a file's header (nil: left out), or why the
    /// header cannot be read. The twelve resident columns are required; the rest may be left out,
    /// and the columns may come in any order.
    static func columnMap(_ raw: [String]) -> Result<[Int?], ImportReport.RowError> {
        let names = raw.map { n in let t = n.trimmingCharacters(in: .whitespaces); return aliases[t] ?? t }
        let missing = header.filter { !names.contains($0) }
        let extra = names.filter { !fullHeader.contains($0) }
        let twice = Set(names.filter { n in names.filter { $0 == n }.count > 1 })
        guard missing.isEmpty, extra.isEmpty, twice.isEmpty else {
            return .failure(.init(line: 1, column: "表头", reason: "表头应含：\(header.joined(separator: ","))；可加：\((dwellingHeader + documentHeader).joined(separator: ","))" +
                (missing.isEmpty ? "" : "；缺少：\(missing.joined(separator: ","))") + (extra.isEmpty ? "" : "；无法识别：\(extra.joined(separator: ","))") +
                (twice.isEmpty ? "" : "；重复：\(twice.sorted().joined(separator: ","))")))
        }
        return .success(fullHeader.map { names.firstIndex(of: $0) })
    }

    static func code(_ label: String, in values: [String], labelPrefix: String = "") -> String? {
        let l = label.trimmingCharacters(in: .whitespaces)
        if values.contains(l) { return l }
        return values.first { I18n.label(labelPrefix + $0, .zh) == l || I18n.label(labelPrefix + $0, .en) == l }
    }

    /// A yes/no cell: 是, 1, yes or Y.
    static func yes(_ cell: String) -> Bool { ["是", "1", "yes", "Y"].contains(cell) }

    /// Imports rows into a community. Every row is checked first; with `keepGood` false a single bad
    /// row means nothing is written, otherwise the good rows are written and the bad ones reported.
    /// `actor` is nil for the command line (an operator on the server); from the console it is
    /// checked against the community and named in the audit log.
    public func importCSV(_ data: Data, communityID: Int64, keepGood: Bool, actor: Actor? = nil) async throws -> ImportReport {
        if let actor { try await requireTransfer(communityID, actor) }
        var report = ImportReport()
        // An Excel workbook (a ZIP) or CSV in UTF-8 or GBK, all read into the same rows.
        let records: [CSVReader.Record]
        let xlsx = Workbook.isXLSX(data)
        switch CSVReader.records(data) {
        case .success(let r): records = r
        case .failure(let e): report.errors.append(.init(line: 1, column: "-", reason: e.reason)); return report
        }
        guard let head = records.first else {
            report.errors.append(.init(line: 1, column: "-", reason: "文件为空")); return report
        }
        let columnAt: [Int?]
        switch Self.columnMap(head.fields) {
        case .failure(let e): report.errors.append(e); return report
        case .success(let m): columnAt = m
        }
        let columnCount = head.fields.count
        let today = registry.today
        let reg = registry
        return try await reg.store.transaction { db in
            var report = ImportReport()
            guard let community = try await reg.fetchPlace(db, communityID), community.kind.isCommunity else {
                throw LinliError.invalid("community", "not_found", "社区不存在")
            }
            let rural = community.kind == .village
            let micro = try await reg.gridsOf(db, community: communityID).filter { $0.level == "micro" }
            var microByName: [String: GridSummary] = [:]
            for g in micro { microByName[g.name] = g }
            var seenIDs = Set<String>()
            struct Row { var line: Int; var cells: [String]; var resident: ValidatedResident?; var microGrid: GridSummary }
            var good: [Row] = []
            var parts = ImportParts()
            for rec in records.dropFirst() {
                func fail(_ col: Int, _ reason: String) { report.errors.append(.init(line: rec.line, column: Self.fullHeader[col], reason: reason)) }
                // A spreadsheet drops a row's empty cells at the end; CSV must have them all.
                let fields = rec.fields.count < columnCount && xlsx ? rec.fields + Array(repeating: "", count: columnCount - rec.fields.count) : rec.fields
                guard fields.count == columnCount else {
                    report.errors.append(.init(line: rec.line, column: "-", reason: "应有 \(columnCount) 列，实有 \(rec.fields.count) 列")); continue
                }
                // In `fullHeader`'s order, whatever the file's; a column left out reads as empty.
                let f = columnAt.map { $0.map { CSVReader.unescape(fields[$0].trimmingCharacters(in: .whitespaces)) } ?? "" }
                let before = report.errors.count
                let unsold = Self.yes(f[16])
                // A household nobody lives in (a developer's unsold part, an empty flat): the household
                // and its part, no person.
                let partOnly = f[5].isEmpty && f[6].isEmpty
                if f[0].isEmpty { fail(0, rural ? "请填写村民小组" : "请填写小区") }
                if rural && !(f[12].isEmpty && f[14].isEmpty) { fail(12, "村的住户不登记专有部分") }
                if !rural && (f[1].isEmpty || f[2].isEmpty) { fail(f[1].isEmpty ? 1 : 2, "请填写楼栋和单元") }
                if f[3].isEmpty || f[3].count > 20 { fail(3, "请填写门牌号（不超过 20 个字）") }
                let grid = microByName[f[4]]
                if grid == nil { fail(4, "本社区没有名为“\(f[4])”的微网格") }
                if !rural { parts.read(line: rec.line, cells: f, unsold: unsold, fail: fail) }
                if partOnly {
                    if report.errors.count == before, let grid { good.append(Row(line: rec.line, cells: f, resident: nil, microGrid: grid)) }
                    continue
                }
                let input = ResidentInput(householdID: 0, name: f[5], idNumber: f[6], phone: f[7],
                                          registration: Self.code(f[8], in: Registration.allCases.map(\.rawValue)) ?? "?\(f[8])",
                                          relation: Self.code(f[9], in: Relation.allCases.map(\.rawValue)) ?? "?\(f[9])",
                                          tags: f[10].split(whereSeparator: { ";；、".contains($0) }).map { Self.code(String($0), in: ResidentTag.allCases.map(\.rawValue)) ?? "?\($0)" },
                                          partyMember: Self.yes(f[11]), inServiceParty: false,
                                          idKind: f[17].isEmpty ? nil : (Self.code(f[17], in: DocumentKind.allCases.map(\.rawValue), labelPrefix: "doc_") ?? "?\(f[17])"),
                                          gender: f[18].isEmpty ? nil : (Self.code(f[18], in: ["male", "female"]) ?? "?"), birthDate: f[19])
                var validated: ValidatedResident?
                do { validated = try input.validate(creating: true, today: today) } catch {
                    let list = (error as? ValidationErrors)?.errors ?? [(error as? LinliError)].compactMap { $0 }
                    let columnOf = ["name": 5, "id_number": 6, "phone": 7, "registration": 8, "relation": 9, "tags": 10, "id_kind": 17, "gender": 18, "birth_date": 19]
                    for e in list { fail(columnOf[e.field ?? ""] ?? 5, e.message) }
                }
                if let v = validated, let id = v.idNumber, let kind = v.idKind, kind != .none {
                    if !seenIDs.insert(kind.rawValue + ":" + id).inserted { fail(6, "证件号码在文件中重复") }
                    else if try await reg.idRegistered(db, key: reg.documentKey(kind, id), community: communityID) {
                        fail(6, RegistryService.duplicateDocument(kind).message)
                    }
                }
                if report.errors.count == before, let v = validated, let grid { good.append(Row(line: rec.line, cells: f, resident: v, microGrid: grid)) }
            }
            for e in parts.check() { report.errors.append(e) }
            let badLines = Set(report.errors.map(\.line))
            let badHouseholds = Set(parts.households.filter { $0.value.lines.contains(where: badLines.contains) }.keys)
            good.removeAll { badHouseholds.contains(ImportParts.key($0.cells)) }
            if !report.errors.isEmpty && !keepGood { return report }
            var householdOf: [String: RegistryService.HouseholdRow] = [:]
            var ownerByResidentName: [String: Int64] = [:]
            var residentInHousehold: [String: Int64] = [:]
            // Write: find or create the places and the household, then the resident.
            var placeCache: [String: RegistryService.PlaceRow] = [:]
            func child(_ parent: RegistryService.PlaceRow, _ kind: PlaceKind, _ name: String) async throws -> RegistryService.PlaceRow {
                let key = "\(parent.id)/\(name)"
                if let p = placeCache[key] { return p }
                if let r = try await db.raw("SELECT id, parent_id, kind, name, path, community_type FROM places WHERE parent_id = \(bind: parent.id) AND name = \(bind: name)").first() {
                    let p = try RegistryService.placeRow(r); placeCache[key] = p; return p
                }
                let row = try await db.raw("INSERT INTO places (parent_id, kind, name, path, created_at) VALUES (\(bind: parent.id), \(bind: kind.rawValue), \(bind: name), '', \(bind: reg.env.nowSeconds)) RETURNING id").first()!
                let id = try row.decode(column: "id", as: Int64.self)
                let p = RegistryService.PlaceRow(id: id, parentID: parent.id, kind: kind, name: name, path: parent.path + "\(id)/", communityType: nil)
                try await db.raw("UPDATE places SET path = \(bind: p.path) WHERE id = \(bind: id)").run()
                placeCache[key] = p
                return p
            }
            for row in good {
                let c = row.cells
                var place = try await child(community, rural ? .villagerGroup : .compound, c[0])
                if !rural {
                    place = try await child(place, .building, c[1])
                    place = try await child(place, .unit, c[2])
                }
                // A household's later rows find it in the map, not in the database again.
                let key = ImportParts.key(c)
                if householdOf[key] == nil {
                    if let h = try await db.raw("""
                        SELECT id, place_id, community_id, path, door, address, grid_id, micro_grid_id, code FROM households WHERE place_id = \(bind: place.id) AND door = \(bind: c[3])
                        """).first() {
                        householdOf[key] = try RegistryService.householdRow(h)
                    } else {
                        let address = (rural ? [c[0], c[3]] : [c[0], c[1], c[2], c[3]]).joined(separator: " ")
                        let code = reg.env.token()
                        let id = try await db.raw("""
                            INSERT INTO households (place_id, community_id, path, door, address, grid_id, micro_grid_id, code, created_at)
                            VALUES (\(bind: place.id), \(bind: communityID), \(bind: place.path), \(bind: c[3]), \(bind: address), \(bind: row.microGrid.parentID!),
                                    \(bind: row.microGrid.id), \(bind: code), \(bind: reg.env.nowSeconds)) RETURNING id
                            """).first()!.decode(column: "id", as: Int64.self)
                        householdOf[key] = RegistryService.HouseholdRow(id: id, placeID: place.id, communityID: communityID, path: place.path, door: c[3], address: address,
                                                                        gridID: row.microGrid.parentID!, microGridID: row.microGrid.id, code: code)
                        report.householdsCreated += 1
                    }
                }
                let hid = householdOf[key]!.id
                guard let resident = row.resident else { continue }
                let rid = try await reg.insertResident(db, resident, household: hid, path: place.path, actor: nil, alreadyChecked: true, counted: true)
                if parts.households[key]?.ownerRows.contains(row.line) == true { ownerByResidentName[resident.name ?? ""] = rid }
                residentInHousehold[key + "\u{1}" + (resident.name ?? "")] = rid
                report.imported += 1
            }
            // Then each household's part and owners: the people of the file first (so a tenant's
            // row naming the buyer finds the buyer's own owner record), else one owner per name.
            var ownerByName: [String: Int64] = [:]
            for (key, part) in parts.households.sorted(by: { $0.value.lines[0] < $1.value.lines[0] }) {
                guard let h = householdOf[key], let partNo = part.partNo, let area = part.areaCenti else { continue }
                var owners: [ValidatedOwner] = []
                for o in part.owners {
                    let oid: Int64
                    if o.developer {
                        oid = try await reg.resolveOwner(db, .named(o.name, .developer), community: communityID, field: "owners").0
                    } else if let rid = residentInHousehold[key + "\u{1}" + o.name] ?? ownerByResidentName[o.name] {
                        oid = try await reg.resolveOwner(db, .resident(rid), community: communityID, field: "owners").0
                    } else if let known = ownerByName[o.name] {
                        oid = known
                    } else {
                        oid = try await reg.resolveOwner(db, .named(o.name, .person), community: communityID, field: "owners").0
                        ownerByName[o.name] = oid
                    }
                    owners.append(ValidatedOwner(who: .existing(oid), shareBP: o.shareBP))
                }
                let dwelling = ValidatedDwelling(partNo: partNo, areaCenti: area, use: .residential, titleNo: nil, owners: owners.isEmpty ? nil : owners, reason: "批量导入")
                do { try await reg.writeDwelling(db, household: h, dwelling, actor: actor) }
                catch let e as LinliError where e.code == "duplicate_part_no" || e.code == "part_in_open_poll" {
                    // Found only against what is already stored: the whole import stops, naming the line.
                    throw LinliError.conflict("file", e.code, "第 \(part.lines[0]) 行：\(e.message)")
                }
            }
            try await reg.audit.append(db, actor: actor, action: "registry.import", objectType: "place", objectID: communityID, path: community.path,
                                       detail: "\(report.imported) residents, \(report.errors.count) bad rows")
            // The community's headcount once for the whole file (one statement, the row held once).
            try await RegistryService.addToPopulation(db, community: communityID, households: Int64(report.householdsCreated), residents: Int64(report.imported))
            try await reg.householdsDidChange(db, householdOf.values.map(\.id).sorted())
            return report
        }
    }

    /// The community's residents with full ID numbers and phones; the export itself is audited.
    public func exportCSV(communityID: Int64, reason rawReason: String, actor: Actor? = nil) async throws -> String {
        let reason = rawReason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw LinliError.invalid("reason", "required", "导出含完整身份证号和手机号，请说明事由") }
        if let actor { try await requireTransfer(communityID, actor) }
        guard reason.trimmingCharacters(in: .whitespaces).count >= 2 else { throw LinliError.invalid("reason", "reason_required", "导出完整个人信息须填写事由") }
        let reg = registry
        return try await reg.store.transaction { db in
            guard let community = try await reg.fetchPlace(db, communityID), community.kind.isCommunity else { throw LinliError.notFound }
            let rows = try await db.raw("""
                SELECT r.name, r.id_kind, r.gender, r.birth_date, r.id_cipher, r.phone_cipher, r.registration, r.relation, r.tags, r.party_member, r.owner_id, h.id AS household_id, h.door, h.place_id, h.path, g.name AS micro
                FROM households h LEFT JOIN residents r ON r.household_id = h.id JOIN grids g ON g.id = h.micro_grid_id
                WHERE h.community_id = \(bind: communityID) ORDER BY h.id, r.id
                """).all()
            var names: [Int64: String] = [:]
            for p in try await db.raw("SELECT id, name FROM places WHERE \(reg.store.dialect.startsWith("path", community.path))").all() {
                names[try p.decode(column: "id", as: Int64.self)] = try p.decode(column: "name", as: String.self)
            }
            // Each household's part and owners, written on its first row (one owner record per name).
            var partsOf: [Int64: (String, String, [(String, Int, Int64, String)])] = [:]
            for d in try await db.raw("""
                SELECT h.id AS household_id, d.part_no, d.area_centi_m2, o.id AS owner_id, o.name, o.kind, COALESCE(x.share_bp, 10000) AS share_bp
                FROM dwellings d JOIN households h ON h.id = d.household_id
                LEFT JOIN dwelling_owners x ON x.dwelling_id = d.id
                LEFT JOIN owners o ON o.id = COALESCE(x.owner_id, d.owner_id)
                WHERE h.community_id = \(bind: communityID) ORDER BY h.id, share_bp DESC, o.id
                """).all() {
                let hid = try d.decode(column: "household_id", as: Int64.self)
                var entry = try partsOf[hid] ?? (try d.decode(column: "part_no", as: String?.self) ?? "", RegistryService.formatArea(centi: try d.decode(column: "area_centi_m2", as: Int64.self)), [])
                if let oid = try d.decode(column: "owner_id", as: Int64?.self) {
                    entry.2.append((try d.decode(column: "name", as: String.self), try d.decode(column: "share_bp", as: Int.self), oid, try d.decode(column: "kind", as: String.self)))
                }
                partsOf[hid] = entry
            }
            var written = Set<Int64>()
            var out = "\u{FEFF}" + Self.fullHeader.joined(separator: ",") + "\r\n"
            for r in rows {
                let chain = PlacePath.ids(try r.decode(column: "path", as: String.self))
                let below = Array(chain.drop { $0 != communityID }.dropFirst()).map { names[$0] ?? "" }
                let places = community.kind == .village ? [below.first ?? "", "", ""] : (below + ["", "", ""]).prefix(3).map { $0 }
                // A household nobody lives in (a developer's unsold part) is a row without a person.
                var cells = places + [try r.decode(column: "door", as: String.self), try r.decode(column: "micro", as: String.self)]
                if let name = try r.decode(column: "name", as: String?.self) {
                    let tags = try r.decode(column: "tags", as: String.self).split(separator: ",").map { I18n.label(String($0), .zh) }.joined(separator: ";")
                    cells += [name, try reg.cipher.open(try r.decode(column: "id_cipher", as: String.self)),
                              try r.decode(column: "phone_cipher", as: String?.self).map { try reg.cipher.open($0) } ?? "",
                              I18n.label(try r.decode(column: "registration", as: String.self), .zh), I18n.label(try r.decode(column: "relation", as: String.self), .zh),
                              tags, try r.decode(column: "party_member", as: Int.self) != 0 ? "是" : "否"]
                } else {
                    cells += ["", "", "", "", "", "", ""]
                }
                // Gender and birth date only where the number does not carry them.
                var docCells = ["", "", ""]
                if let kind = try r.decode(column: "id_kind", as: String?.self).flatMap(DocumentKind.init(rawValue:)), kind != .idCard {
                    docCells[0] = I18n.label("doc_" + kind.rawValue, .zh)
                    if !kind.carriesBirthDate {
                        docCells[1] = I18n.label(try r.decode(column: "gender", as: String.self), .zh)
                        docCells[2] = try r.decode(column: "birth_date", as: String.self)
                    }
                }
                // The part and all its owners on the household's first row ("本人" for this row's person).
                let hid = try r.decode(column: "household_id", as: Int64.self)
                var partCells = ["", "", "", "", ""]
                if let part = partsOf[hid], written.insert(hid).inserted {
                    let me = try r.decode(column: "owner_id", as: Int64?.self)
                    partCells = [part.0, part.1, part.2.map { $0.2 == me ? "本人" : $0.0 }.joined(separator: "、"),
                                 part.2.count > 1 ? part.2.map { DwellingRules.shareText($0.1) }.joined(separator: "、") : "",
                                 part.2.first?.3 == "developer" ? "是" : "否"]
                }
                out += (cells + partCells + docCells).map(CSVReader.escape).joined(separator: ",") + "\r\n"
            }
            try await reg.audit.append(db, actor: actor, action: "registry.export", objectType: "place", objectID: communityID, path: community.path,
                                       reason: reason, detail: "\(rows.count) residents")
            return out
        }
    }
}

extension Linli {
    public var registryCSV: RegistryCSV { RegistryCSV(registry: registry) }

    public func loadDemo(seed: UInt64, scale: Int, communities: Int? = nil, tiny: Bool = false, log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> DemoSummary {
        // A second demo over the first would collide on ID numbers half-way through: refuse up front.
        let places = try await store.read { db in try await db.raw("SELECT COUNT(*) AS n FROM places").first()!.decode(column: "n", as: Int.self) }
        guard places == 0 else {
            throw LinliError.conflict("database", "not_empty", "数据库中已有数据（\(places) 个地点）；演示数据只载入空数据库，请换一个 --data-dir 或新的数据库")
        }
        return try await DemoGenerator(store: store, cipher: cipher, env: config.environment, seed: seed, scale: scale, communities: communities, tiny: tiny).run(log: log)
    }

    /// A demo account's actor by username; nil when there is no such account. The demos of
    /// each capability act through it (with a street's suffix: community2, …).
    package func demoActor(_ username: String) async throws -> Actor? {
        try await store.read { db in
            guard let row = try await db.raw("SELECT id FROM users WHERE username = \(bind: username)").first() else { return nil }
            return try await accounts.loadActor(db, userID: try row.decode(column: "id", as: Int64.self))
        }
    }

    public struct DemoAccount: Sendable { public var username: String; public var password: String; public var role: String }

    /// One account per role over the first street of the demo, or over the street `s` names
    /// (`DemoSummary.byStreet`) with `suffix` after each username (community2, …).
    public func createDemoAccounts(_ s: DemoSummary, password: String?, suffix: String = "") async throws -> [DemoAccount] {
        func pw() -> String { password ?? config.environment.token(bytes: 9) }
        var out: [DemoAccount] = []
        let plan: [(String, String, Role, Int64?, Int64?, Int64?)] = [
            ("admin", "市级管理员", .cityAdmin, s.cityID, nil, nil),
            ("street", "街道干部", .streetStaff, s.firstStreetID, nil, nil),
            ("community", "社区工作者", .communityStaff, s.firstCommunityID, nil, nil),
            ("grid", "网格员", .gridWorker, nil, s.firstGridID, nil),
            ("property", "物业客服", .propertyCompany, s.propertyCompanyCompounds.first ?? s.firstCommunityID, nil, nil),
            ("resident", "居民", .resident, nil, nil, s.firstHouseholdWithResidents),
            ("owner", "业主", .resident, nil, nil, s.firstOwnerHousehold),
            ("volunteer", "志愿者", .volunteer, s.firstCommunityID, nil, nil),
            ("auditor", "审计员", .auditor, s.cityID, nil, nil),
            ("app", "第三方应用（Open311）", .partnerApp, s.cityID, nil, nil),
            ("hotline", "12345 市民热线", .hotline, s.cityID, nil, nil),
        ]
        for (name0, name, role, place, grid, household) in plan where household != 0 {
            let u = name0 + suffix, p = pw()
            do { _ = try await accounts.createUser(username: u, displayName: name, password: p) }
            catch let e as LinliError where e.code == "duplicate_username" { try await accounts.setPassword(username: u, password: p) }
            // A resident's account is the household's first-registered person (the head, the owner
            // where the household owns its home), so the demo owner can vote online.
            let person: Int64? = role != .resident ? nil : try await store.read { db in
                try await db.raw("SELECT MIN(id) AS id FROM residents WHERE household_id = \(bind: household ?? 0)").first()?.decode(column: "id", as: Int64?.self)
            }
            try await accounts.grant(username: u, role: role, placeID: place, gridID: grid, householdID: household, residentID: person)
            if role == .propertyCompany {
                for c in s.propertyCompanyCompounds.dropFirst() { try await accounts.grant(username: u, role: role, placeID: c) }
            }
            out.append(DemoAccount(username: u, password: p, role: role.rawValue))
        }
        // The owners' committee of the demo resident's compound, and its account.
        let committeeCompound: Int64? = try await store.read { db in
            try await db.raw("SELECT path FROM households WHERE id = \(bind: s.firstHouseholdWithResidents)").first()
                .map { PlacePath.ids(try $0.decode(column: "path", as: String.self))[4] }
        }
        if let compound = committeeCompound {
            let u = "committee" + suffix, p = pw()
            do { _ = try await accounts.createUser(username: u, displayName: "业委会", password: p) }
            catch let e as LinliError where e.code == "duplicate_username" { try await accounts.setPassword(username: u, password: p) }
            try await accounts.grant(username: u, role: .ownersCommittee, placeID: compound)
            out.append(DemoAccount(username: u, password: p, role: Role.ownersCommittee.rawValue))
        }
        // A department's field office at the street (街道综合行政执法队), and its staff account:
        // it sends work items to the street's communities through the street's admission.
        let department: Int64 = try await store.transaction { db in
            if let d = try await db.query("SELECT id FROM organisations WHERE kind = 'gov_department' AND place_id = \(s.firstStreetID) ORDER BY id").first() {
                return try d.decode(column: "id", as: Int64.self)
            }
            let street = try await db.query("SELECT name FROM places WHERE id = \(s.firstStreetID)").first()!.decode(column: "name", as: String.self)
            return try await db.query("""
                INSERT INTO organisations (kind, name, place_id) VALUES ('gov_department', \(street + "综合行政执法队"), \(s.firstStreetID)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
        }
        let deptUser = "dept" + suffix, deptPassword = pw()
        do { _ = try await accounts.createUser(username: deptUser, displayName: "执法队联络员", password: deptPassword) }
        catch let e as LinliError where e.code == "duplicate_username" { try await accounts.setPassword(username: deptUser, password: deptPassword) }
        try await accounts.grant(username: deptUser, role: .departmentStaff, placeID: s.firstStreetID, organisationID: department)
        out.append(DemoAccount(username: deptUser, password: deptPassword, role: Role.departmentStaff.rawValue))
        // A social organisation of the first community and the party branch of the demo
        // resident's compound, each with its account (found, or recorded if the demo has none).
        func organisation(_ kind: OrganisationKind, at place: Int64, name: String) async throws -> Int64 {
            try await store.transaction { db in
                if let o = try await db.query("SELECT id FROM organisations WHERE kind = \(kind.rawValue) AND place_id = \(place) ORDER BY id").first() {
                    return try o.decode(column: "id", as: Int64.self)
                }
                let service: String? = kind == .socialOrganisation ? "service" : nil, registration: String? = kind == .socialOrganisation ? "filed" : nil
                return try await db.query("""
                    INSERT INTO organisations (kind, name, place_id, service_type, registration) VALUES (\(kind.rawValue), \(name), \(place), \(service), \(registration))
                    RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
        }
        var orgAccounts: [(String, String, Role, Int64, Int64)] = [
            ("socialorg", "社会组织联络员", .socialOrganisation, s.firstCommunityID, try await organisation(.socialOrganisation, at: s.firstCommunityID, name: "邻里互助社工服务中心")),
        ]
        if let compound = committeeCompound {
            orgAccounts.append(("branch", "党支部书记", .partyBranch, compound, try await organisation(.partyBranch, at: compound, name: "小区党支部")))
        }
        for (name0, name, role, place, org) in orgAccounts {
            let u = name0 + suffix, p = pw()
            do { _ = try await accounts.createUser(username: u, displayName: name, password: p) }
            catch let e as LinliError where e.code == "duplicate_username" { try await accounts.setPassword(username: u, password: p) }
            try await accounts.grant(username: u, role: role, placeID: place, organisationID: org)
            out.append(DemoAccount(username: u, password: p, role: role.rawValue))
        }
        try await accounts.markDemo(out.map(\.username))
        return out
    }
}

/// The part and owner columns of an import, gathered per household across its rows and checked
/// as a whole (shares add up to 100 %, a part number once per building, the developer alone).
struct ImportParts {
    struct Owner { var name: String; var shareBP: Int; var developer: Bool }
    struct Household {
        var lines: [Int] = []
        var partNo: String?
        var areaCenti: Int64?
        var owners: [Owner] = []
        /// Lines whose person is an owner (产权人 = 本人).
        var ownerRows: Set<Int> = []
        var unsold = false
    }
    var households: [String: Household] = [:]
    private var partLines: [String: (String, Int)] = [:]

    static func key(_ c: [String]) -> String { [c[0], c[1], c[2], c[3]].joined(separator: "\u{1}") }
    static func split(_ s: String) -> [String] {
        s.split(whereSeparator: { "、;；/".contains($0) }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    mutating func read(line: Int, cells f: [String], unsold: Bool, fail: (Int, String) -> Void) {
        let key = Self.key(f)
        var h = households[key] ?? Household()
        h.lines.append(line)
        if !f[12].isEmpty {
            if f[12].count > 40 { fail(12, "专有部分编号不能超过 40 个字") }
            if let known = h.partNo, known != f[12] { fail(12, "同一户的专有部分编号前后不一致（\(known)）") }
            else if h.partNo == nil {
                let building = f[0] + "\u{1}" + f[1] + "\u{1}" + f[12]
                if let (otherKey, otherLine) = partLines[building], otherKey != key { fail(12, "专有部分编号与第 \(otherLine) 行重复") }
                else { partLines[building] = (key, line); h.partNo = f[12] }
            }
        }
        if !f[13].isEmpty {
            if let a = RegistryService.parseArea(f[13]) { h.areaCenti = a } else { fail(13, "面积应为大于 0 的数字，最多两位小数") }
        }
        if unsold { h.unsold = true }
        if !f[14].isEmpty {
            let names = Self.split(f[14]), shares = Self.split(f[15])
            if names.count > 1 && shares.count != names.count { fail(15, "多位产权人须逐一填写份额，用“、”分隔，与产权人顺序一致") }
            else if names.count == 1 && shares.count > 1 { fail(15, "只有一位产权人时份额只填一个") }
            else {
                for (i, raw) in names.enumerated() {
                    var name = raw
                    if raw == "本人" {
                        guard !f[5].isEmpty else { fail(14, "“本人”须在填写了姓名的行使用"); continue }
                        name = f[5]; h.ownerRows.insert(line)
                    }
                    let share = i < shares.count ? DwellingRules.shareBP(shares[i]) : (names.count == 1 ? 10000 : nil)
                    guard let share else { fail(15, "份额应为 0 到 100 之间的百分数，最多两位小数"); continue }
                    if name.count > 60 { fail(14, "产权人名称不能超过 60 个字"); continue }
                    if !h.owners.contains(where: { $0.name == name }) { h.owners.append(Owner(name: name, shareBP: share, developer: unsold)) }
                }
            }
        } else if unsold {
            fail(14, "开发商未售房屋请填写开发商名称")
        }
        households[key] = h
    }

    /// Errors that only the whole household shows, reported on its first line.
    func check() -> [ImportReport.RowError] {
        var out: [ImportReport.RowError] = []
        for h in households.values {
            let line = h.lines[0]
            if (!h.owners.isEmpty || h.areaCenti != nil) && h.partNo == nil { out.append(.init(line: line, column: "专有部分编号", reason: "登记面积或产权人须填写专有部分编号")) }
            if h.partNo != nil && h.areaCenti == nil { out.append(.init(line: line, column: "建筑面积", reason: "请填写建筑面积")) }
            let total = h.owners.reduce(0) { $0 + $1.shareBP }
            if !h.owners.isEmpty && total != 10000 {
                out.append(.init(line: line, column: "份额", reason: "共有份额合计 \(DwellingRules.shareText(total))，应为 100%"))
            }
            if h.unsold && h.owners.count > 1 { out.append(.init(line: line, column: "产权人", reason: "开发商未售房屋只能由开发商单独登记")) }
        }
        return out.sorted { $0.line < $1.line }
    }
}
