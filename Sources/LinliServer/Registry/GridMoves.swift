import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Households put into micro-grids many at a time, as a community lays out its grids: a whole
/// building, unit or villager group picked on the grid's page, doors ticked on a list, or a
/// spreadsheet of household codes (or addresses) and micro-grid names. All or nothing; each
/// household that changes gets its line in the history, as a single move does.
public struct GridMoveInput: Codable, Sendable {
    public var placeID: Int64?
    /// Several buildings (or villager groups) at once, as ticked on the micro-grid's list.
    public var placeIDs: [Int64]?
    public var householdIDs: [Int64]?
    public init(placeID: Int64? = nil, placeIDs: [Int64]? = nil, householdIDs: [Int64]? = nil) {
        self.placeID = placeID; self.placeIDs = placeIDs; self.householdIDs = householdIDs
    }
    enum CodingKeys: String, CodingKey { case placeID = "place_id", placeIDs = "place_ids", householdIDs = "household_ids" }
}

/// A building (or a rural community's villager group) as the micro-grid's list shows it: how
/// many households it has and in which micro-grids they are now.
public struct MoveCandidate: Sendable, Equatable, Codable {
    public var placeID: Int64
    public var label: String
    public var households: Int
    /// The micro-grids its households are in now, by name ("" for none yet).
    public var microGrids: [String]
    /// Where it stands, when the register has its point: tapped on the map to tick it.
    public var lat: Double? = nil
    public var lng: Double? = nil
    enum CodingKeys: String, CodingKey { case placeID = "place_id", label, households, microGrids = "micro_grids", lat, lng }
}

public struct GridMoveReport: Codable, Sendable, Equatable {
    public var moved: Int
    /// Already in the micro-grid named.
    public var unchanged: Int
    /// Lines of a spreadsheet that could not be read; nothing was moved.
    public var errors: [GridMoveError]
    public init(moved: Int = 0, unchanged: Int = 0, errors: [GridMoveError] = []) { self.moved = moved; self.unchanged = unchanged; self.errors = errors }
}

public struct GridMoveError: Error, Codable, Sendable, Equatable {
    public var line: Int
    public var column: String
    public var reason: String
}

public enum GridMoveRules {
    /// The most households one step moves (a large compound; more goes in several steps).
    public static let maxHouseholds = 3000
    /// The spreadsheet's columns: a household by its code (the card's, or its first eight
    /// characters) or by its full address, and the micro-grid's name.
    public static let codeColumns = ["户码", "百姓码", "household_code"]
    public static let addressColumns = ["地址", "住址", "address"]
    public static let gridColumns = ["微网格", "micro_grid"]
    /// The header only: an example line left in would be read as a move.
    public static let template = "户码,地址,微网格\n"

    /// Where each column is, from the header: (code, address, grid), or the reason it cannot be read.
    public static func columns(_ header: [String]) -> Result<(Int?, Int?, Int), GridMoveError> {
        let h = header.map { $0.trimmingCharacters(in: .whitespaces) }
        let code = h.firstIndex { codeColumns.contains($0) }, address = h.firstIndex { addressColumns.contains($0) }
        guard let grid = h.firstIndex(where: { gridColumns.contains($0) }) else {
            return .failure(GridMoveError(line: 1, column: "微网格", reason: "表头缺少“微网格”列"))
        }
        guard code != nil || address != nil else { return .failure(GridMoveError(line: 1, column: "户码", reason: "表头须有“户码”或“地址”列")) }
        return .success((code, address, grid))
    }

    /// An address as typed, compared without spaces ("金桂苑1幢1单元101").
    public static func addressKey(_ s: String) -> String { s.filter { !$0.isWhitespace } }
}

extension RegistryService {
    /// Moves a building's (unit's, villager group's) households, or those named, into a micro-grid.
    public func moveIntoMicroGrid(_ microGridID: Int64, _ input: GridMoveInput, actor: Actor) async throws -> GridMoveReport {
        try await store.transaction { db in
            let (g, c) = try await gridAndCommunity(db, microGridID, actor: actor, .householdEdit)
            guard g.level == "micro", let parent = g.parentID else {
                throw LinliError.invalid("micro_grid_id", "not_micro_grid", "户只能划入微网格；请打开一个微网格再调整")
            }
            var rows: [HouseholdRow] = []
            let places = ([input.placeID].compactMap { $0 } + (input.placeIDs ?? []))
            if !places.isEmpty {
                let field = input.placeID != nil ? "place_id" : "place_ids"
                guard Set(places).count <= 200 else { throw LinliError.invalid(field, "too_many", "一次最多选 200 栋楼") }
                var seen = Set<Int64>()
                for placeID in Set(places).sorted() {
                    guard let p = try await fetchPlace(db, placeID), p.path.hasPrefix(c.path), p.path != c.path else {
                        throw LinliError.invalid(field, "other_community", "请选择本社区的小区、楼栋、单元或村民小组")
                    }
                    for h in try await db.query("""
                        SELECT id, place_id, community_id, path, door, address, grid_id, micro_grid_id, code FROM households
                        WHERE \(store.dialect.startsWith("path", p.path)) ORDER BY id LIMIT \(GridMoveRules.maxHouseholds + 1)
                        """).all().map(Self.householdRow) where seen.insert(h.id).inserted { rows.append(h) }
                    guard rows.count <= GridMoveRules.maxHouseholds else { break }
                }
                guard !rows.isEmpty else { throw LinliError.invalid(field, "no_households", "这里还没有住户") }
            } else if let ids = input.householdIDs, !ids.isEmpty {
                guard Set(ids).count <= GridMoveRules.maxHouseholds else {
                    throw LinliError.invalid("household_ids", "too_many", "一次最多调整 \(GridMoveRules.maxHouseholds) 户")
                }
                for id in Set(ids).sorted() {
                    guard let h = try await fetchHousehold(db, id: id), h.communityID == c.id else {
                        throw LinliError.invalid("household_ids", "other_community", "户 \(id) 不在本社区")
                    }
                    rows.append(h)
                }
            } else {
                throw LinliError.invalid("place_id", "required", "请勾选楼栋，或输入楼栋、单元名称")
            }
            guard rows.count <= GridMoveRules.maxHouseholds else {
                throw LinliError.invalid("place_id", "too_many", "一次最多调整 \(GridMoveRules.maxHouseholds) 户；请按楼栋或单元分次调整")
            }
            return try await applyMoves(db, rows.map { ($0, parent, microGridID) }, community: c, actor: actor)
        }
    }

    /// The community's buildings (a rural community's villager groups) for the micro-grid's list:
    /// each with its households and the micro-grids they are in now. For staff who move
    /// households of the whole community.
    public func moveCandidates(microGrid microGridID: Int64, actor: Actor) async throws -> [MoveCandidate] {
        try await store.read { db in
            let (_, c) = try await gridAndCommunity(db, microGridID, actor: actor, .householdEdit)
            let names = Dictionary(uniqueKeysWithValues: try await gridsOf(db, community: c.id).map { ($0.id, $0.name) })
            // A household's building is the place two levels under its community (compound,
            // building); in a village, the villager group just under it (or its natural village).
            let depth = PlacePath.ids(c.path).count
            var counts: [Int64: (Int, Set<String>)] = [:]
            for r in try await db.query("SELECT path, micro_grid_id FROM households WHERE community_id = \(c.id)").all() {
                let ids = PlacePath.ids(try r.decode(column: "path", as: String.self))
                guard ids.count > depth else { continue }
                let building = ids.count > depth + 1 ? ids[depth + 1] : ids[depth]
                var entry = counts[building] ?? (0, [])
                entry.0 += 1
                entry.1.insert(try r.decode(column: "micro_grid_id", as: Int64?.self).flatMap { names[$0] } ?? "")
                counts[building] = entry
            }
            guard !counts.isEmpty else { return [] }
            var labels: [Int64: (path: String, label: String, lat: Double?, lng: Double?)] = [:]
            for p in try await db.query("""
                SELECT p.id, p.name, p.path, p.lat, p.lng, q.name AS parent FROM places p LEFT JOIN places q ON q.id = p.parent_id WHERE p.id IN (\(list: Array(counts.keys)))
                """).all() {
                let own = try p.decode(column: "name", as: String.self), parent = try p.decode(column: "parent", as: String?.self) ?? ""
                labels[try p.decode(column: "id", as: Int64.self)] = (try p.decode(column: "path", as: String.self), parent == c.name ? own : parent + " " + own,
                                                                     try p.decode(column: "lat", as: Double?.self), try p.decode(column: "lng", as: Double?.self))
            }
            return counts.compactMap { id, v in
                labels[id].map { (path: $0.path, MoveCandidate(placeID: id, label: $0.label, households: v.0, microGrids: v.1.sorted(), lat: $0.lat, lng: $0.lng)) }
            }
                .sorted { PlacePath.ids($0.path).lexicographicallyPrecedes(PlacePath.ids($1.path)) }.map(\.1)
        }
    }

    /// Moves households as a spreadsheet says (CSV in UTF-8 or GBK, or .xlsx): every line is
    /// read and checked first, and any problem moves nothing (the report lists them all).
    public func moveByCSV(_ data: Data, communityID: Int64, actor: Actor) async throws -> GridMoveReport {
        let records: [CSVReader.Record]
        switch CSVReader.records(data) {
        case .success(let r): records = r
        case .failure(let e): return GridMoveReport(errors: [.init(line: 1, column: "-", reason: e.reason)])
        }
        guard let head = records.first else { return GridMoveReport(errors: [.init(line: 1, column: "-", reason: "文件为空")]) }
        let (codeAt, addressAt, gridAt): (Int?, Int?, Int)
        switch GridMoveRules.columns(head.fields) {
        case .failure(let e): return GridMoveReport(errors: [e])
        case .success(let m): (codeAt, addressAt, gridAt) = m
        }
        let lines = records.dropFirst().filter { !$0.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        guard lines.count <= GridMoveRules.maxHouseholds else {
            return GridMoveReport(errors: [.init(line: 1, column: "-", reason: "一次最多调整 \(GridMoveRules.maxHouseholds) 户，请分成几个文件")])
        }
        return try await store.transaction { db in
            guard let c = try await fetchPlace(db, communityID), c.kind.isCommunity, actor.may(.placeView, on: c.scope) else { throw LinliError.notFound }
            try actor.require(.householdEdit, on: c.scope)
            var micro: [String: (grid: Int64, micro: Int64)] = [:]
            for g in try await gridsOf(db, community: c.id) where g.level == "micro" { micro[g.name] = (g.parentID ?? 0, g.id) }
            var errors: [GridMoveError] = []
            var moves: [(HouseholdRow, Int64, Int64)] = []
            var seen: [Int64: Int] = [:]
            // The community's addresses read once (without spaces), not once per line.
            var byAddress: [String: [HouseholdRow]] = [:]
            if addressAt != nil {
                for h in try await db.query("""
                    SELECT id, place_id, community_id, path, door, address, grid_id, micro_grid_id, code FROM households WHERE community_id = \(c.id)
                    """).all().map(Self.householdRow) { byAddress[GridMoveRules.addressKey(h.address), default: []].append(h) }
            }
            for rec in lines {
                func cell(_ i: Int?) -> String { i.flatMap { $0 < rec.fields.count ? rec.fields[$0].trimmingCharacters(in: .whitespaces) : nil } ?? "" }
                let gridName = cell(gridAt)
                guard let target = micro[gridName] else {
                    errors.append(.init(line: rec.line, column: head.fields[gridAt], reason: gridName.isEmpty ? "请填写微网格名称" : "本社区没有名为“\(gridName)”的微网格"))
                    continue
                }
                var found: HouseholdRow?
                let code = cell(codeAt), address = cell(addressAt)
                if !code.isEmpty {
                    let matches = try await households(db, code: Self.normaliseHouseholdCode(code))
                    if matches.count == 1, let h = try await fetchHousehold(db, id: matches[0].id), h.communityID == c.id { found = h }
                    if found == nil { errors.append(.init(line: rec.line, column: head.fields[codeAt!], reason: "本社区没有这个户码")); continue }
                } else if !address.isEmpty {
                    let candidates = byAddress[GridMoveRules.addressKey(address)] ?? []
                    if candidates.count == 1 { found = candidates[0] }
                    if found == nil {
                        errors.append(.init(line: rec.line, column: head.fields[addressAt!], reason: candidates.isEmpty ? "本社区没有这个地址的住户" : "这个地址有多户，请改用户码"))
                        continue
                    }
                } else {
                    errors.append(.init(line: rec.line, column: head.fields[codeAt ?? addressAt!], reason: "请填写户码或地址")); continue
                }
                if let earlier = seen[found!.id] {
                    errors.append(.init(line: rec.line, column: head.fields[codeAt ?? addressAt!], reason: "与第 \(earlier) 行是同一户")); continue
                }
                seen[found!.id] = rec.line
                moves.append((found!, target.grid, target.micro))
            }
            guard errors.isEmpty else { return GridMoveReport(errors: errors) }
            guard !moves.isEmpty else { return GridMoveReport(errors: [.init(line: 2, column: "-", reason: "文件里没有要调整的住户")]) }
            return try await applyMoves(db, moves, community: c, actor: actor)
        }
    }

    /// Writes the moves: each household's history line, one audit row, and the recount of what
    /// changed. Both callers have required household edit on the whole community, so every
    /// household in it is the actor's to move (a grid worker, whose grant is their own grid,
    /// is refused before this); no second check per household is needed.
    private func applyMoves(_ db: any SQLDatabase, _ moves: [(HouseholdRow, Int64, Int64)], community c: PlaceRow, actor: Actor) async throws -> GridMoveReport {
        let changed = moves.filter { $0.0.microGridID != $0.2 }
        let now = env.nowSeconds
        for (micro, group) in Dictionary(grouping: changed, by: { $0.2 }) {
            let grid = group[0].1
            for start in stride(from: 0, to: group.count, by: 500) {
                let chunk = Array(group[start..<min(start + 500, group.count)])
                try await db.query("UPDATE households SET grid_id = \(grid), micro_grid_id = \(micro) WHERE id IN (\(list: chunk.map(\.0.id)))").run()
                try await db.insertRows("INSERT INTO household_moves (household_id, from_micro_grid_id, to_micro_grid_id, moved_by, moved_at) VALUES ", chunk) { m in
                    "(\(m.0.id), \(m.0.microGridID), \(micro), \(actor.acting?.userID ?? actor.userID), \(now))"
                }
            }
        }
        if !changed.isEmpty {
            try await audit.append(db, actor: actor, action: "household.move_many", objectType: "place", objectID: c.id, path: c.path,
                                   detail: "\(changed.count) households to micro-grid " + Set(changed.map(\.2)).sorted().map(String.init).joined(separator: ","))
            try await householdsDidChange(db, changed.map(\.0.id).sorted())
        }
        return GridMoveReport(moved: changed.count, unchanged: moves.count - changed.count)
    }
}
