import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ZIPFoundation
import LinliCore

/// The first sheet of an `.xlsx` workbook as rows of text, for the registry import: an office's
/// household list usually lives in Excel, and asking them to save it as CSV first loses the
/// leading zeros and long numbers Excel shows as text. The workbook is a ZIP of XML parts
/// (ECMA-376): ZIPFoundation opens it, Foundation's XMLParser reads the parts.
enum Workbook {
    /// A bigger sheet than any community's list: refuse it rather than fill memory (a small file
    /// can inflate to gigabytes).
    static let maxPartBytes = 64 << 20

    static func isXLSX(_ data: Data) -> Bool { data.starts(with: [0x50, 0x4B, 0x03, 0x04]) }

    /// Each row with its sheet row number (1-based, as Excel shows it); cells by column letter,
    /// gaps as empty text, trailing empty cells dropped.
    static func firstSheet(_ data: Data) throws -> [CSVReader.Record] {
        let archive: Archive
        do { archive = try Archive(data: data, accessMode: .read) } catch {
            throw LinliError.invalid("file", "invalid_xlsx", "无法打开该 Excel 文件（不是有效的 .xlsx）")
        }
        func part(_ path: String) throws -> Data? {
            guard let entry = archive[path] else { return nil }
            guard entry.uncompressedSize <= UInt64(maxPartBytes) else {
                throw LinliError.invalid("file", "too_large", "表格过大，请分批导入")
            }
            var out = Data()
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                out.append(chunk)
                if out.count > maxPartBytes { throw LinliError.invalid("file", "too_large", "表格过大，请分批导入") }
            }
            return out
        }
        // The first sheet in the workbook's order, through its relationship (sheet1.xml is only
        // the usual name).
        var sheetPath = "xl/worksheets/sheet1.xml"
        if let wb = try part("xl/workbook.xml"), let rels = try part("xl/_rels/workbook.xml.rels") {
            let first = XMLElements(wb, names: ["sheet"]).first
            let rid = first?["r:id"] ?? first?.first { $0.key.hasSuffix(":id") }?.value
            if let rid, let target = XMLElements(rels, names: ["Relationship"]).first(where: { $0["Id"] == rid })?["Target"] {
                sheetPath = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
            }
        }
        guard let sheet = try part(sheetPath) else {
            throw LinliError.invalid("file", "invalid_xlsx", "该 Excel 文件中没有工作表")
        }
        let shared = try part("xl/sharedStrings.xml").map(SharedStrings.read) ?? []
        return try SheetRows.read(sheet, shared: shared)
    }

    /// The most rows a worksheet has (Excel's limit).
    static let maxRows = 1_048_576

    /// Column letters of a cell reference ("AB12" → 27, zero-based).
    static func column(_ ref: String) -> Int? {
        var n = 0, any = false
        for u in ref.unicodeScalars {
            guard ("A"..."Z").contains(u) else { break }
            n = n * 26 + Int(u.value - 64); any = true
            if n > 16384 { return nil }
        }
        return any ? n - 1 : nil
    }
}

/// The attributes of every element with one of `names`, in document order.
private func XMLElements(_ data: Data, names: Set<String>) -> [[String: String]] {
    final class Collect: NSObject, XMLParserDelegate {
        let names: Set<String>; var found: [[String: String]] = []
        init(_ names: Set<String>) { self.names = names }
        func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if names.contains(e) { found.append(attributes) }
        }
    }
    let c = Collect(names)
    let p = XMLParser(data: data)
    p.delegate = c
    _ = p.parse()
    return c.found
}

/// `sharedStrings.xml`: each `<si>`'s text, runs (`<r><t>`) joined, phonetic hints (`<rPh>`) left out.
private enum SharedStrings {
    final class Reader: NSObject, XMLParserDelegate {
        var strings: [String] = [], current = "", inT = false, inPhonetic = false
        func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            switch e {
            case "si": current = ""
            case "rPh": inPhonetic = true
            case "t": inT = !inPhonetic
            default: break
            }
        }
        func parser(_ p: XMLParser, foundCharacters s: String) { if inT { current += s } }
        func parser(_ p: XMLParser, didEndElement e: String, namespaceURI: String?, qualifiedName: String?) {
            switch e {
            case "si": strings.append(current)
            case "rPh": inPhonetic = false
            case "t": inT = false
            default: break
            }
        }
    }
    static func read(_ data: Data) throws -> [String] {
        let r = Reader()
        let p = XMLParser(data: data)
        p.delegate = r
        guard p.parse() else { throw LinliError.invalid("file", "invalid_xlsx", "Excel 文件的共享字符串无法读取") }
        return r.strings
    }
}

/// A worksheet's `<row>`s and `<c>`ells: shared strings (`t="s"`), inline strings, formulas'
/// cached text, numbers as written, booleans as 是/否.
private enum SheetRows {
    final class Reader: NSObject, XMLParserDelegate {
        let shared: [String]
        var rows: [CSVReader.Record] = []
        var row: [String] = [], rowNumber = 0
        var col = 0, type = "", value = "", inValue = false, bad = false
        init(_ shared: [String]) { self.shared = shared }
        func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
            switch e {
            case "row":
                // Excel's rows run from 1 to 1,048,576. A number outside them is a broken (or
                // crafted) sheet, and counting on from it (`+ 1` for a row without `r`) could trap.
                row = []
                let n = a["r"].map { Int($0) } ?? rowNumber + 1
                guard let n, (1...Workbook.maxRows).contains(n) else { bad = true; return }
                rowNumber = n
            case "c":
                col = a["r"].flatMap(Workbook.column) ?? row.count
                type = a["t"] ?? "n"; value = ""
            case "v", "t": inValue = true
            default: break
            }
        }
        func parser(_ p: XMLParser, foundCharacters s: String) { if inValue { value += s } }
        func parser(_ p: XMLParser, didEndElement e: String, namespaceURI: String?, qualifiedName: String?) {
            switch e {
            case "v", "t": inValue = false
            case "c":
                var text = value
                switch type {
                case "s":
                    guard let i = Int(value), shared.indices.contains(i) else { bad = true; return }
                    text = shared[i]
                case "b": text = value == "1" ? "是" : "否"
                default: break
                }
                guard col < 16384 else { bad = true; return }
                if row.count <= col { row += Array(repeating: "", count: col - row.count + 1) }
                row[col] = text
            case "row":
                while row.last?.isEmpty == true { row.removeLast() }
                if !row.isEmpty { rows.append(CSVReader.Record(line: rowNumber, fields: row)) }
            default: break
            }
        }
    }
    static func read(_ data: Data, shared: [String]) throws -> [CSVReader.Record] {
        let r = Reader(shared)
        let p = XMLParser(data: data)
        p.delegate = r
        guard p.parse(), !r.bad else { throw LinliError.invalid("file", "invalid_xlsx", "Excel 工作表无法读取") }
        return r.rows
    }
}
