import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliDeliberation
import LinliStore

public struct AssessmentInput: Codable, Sendable {
    /// The street or district whose communities are assessed.
    public var placeID: Int64?
    public var name: String?
    /// The period, China days.
    public var from: String?
    public var to: String?
    /// Points needed to pass (e.g. "85").
    public var passMark: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case placeID = "place_id", name, from, to, passMark = "pass_mark" }
}

public struct IndicatorInput: Codable, Sendable {
    public var code: String?
    public var name: String?
    public var metric: IndicatorMetric?
    /// Percent of the total, e.g. "20" or "12.5"; the set's weights must add up to 100.
    public var weight: String?
    /// The value that earns full marks (a percent, a count, hours per 1,000 residents).
    public var target: String?
    public init() {}
}

/// A community's self-assessment, or a reviewer's score, of one indicator.
public struct AssessmentScoreInput: Codable, Sendable {
    public var indicatorID: Int64?
    /// Whose row; may be left out by staff of one community only (self-assessment).
    public var communityID: Int64?
    /// Points out of 100, e.g. "90" or "87.5".
    public var score: String?
    /// For an indicator the community reports itself: the value.
    public var value: String?
    public var note: String?
    public init() {}
    enum CodingKeys: String, CodingKey { case indicatorID = "indicator_id", communityID = "community_id", score, value, note }
}

public struct AssessmentView: Codable, Sendable {
    public struct Indicator: Codable, Sendable {
        public var id: Int64, code: String, name: String, metric: IndicatorMetric, weight: String, target: String, unit: String
    }
    public struct Cell: Codable, Sendable {
        public var indicatorID: Int64
        public var value: String?
        public var evidence: String
        public var autoScore: String?
        public var selfScore: String?
        public var selfNote: String
        public var reviewScore: String?
        public var reviewNote: String
        public var score: String?
        enum CodingKeys: String, CodingKey {
            case indicatorID = "indicator_id", value, evidence, autoScore = "auto_score", selfScore = "self_score", selfNote = "self_note"
            case reviewScore = "review_score", reviewNote = "review_note", score
        }
    }
    public struct Row: Codable, Sendable {
        public var rank: Int
        public var communityID: Int64
        public var community: String
        public var total: String
        public var passed: Bool
        public var cells: [Cell]
        /// The viewer answers for this community (self-assessment).
        public var mine: Bool
        enum CodingKeys: String, CodingKey { case rank, communityID = "community_id", community, total, passed, cells, mine }
    }
    public var id: Int64
    public var placeID: Int64
    public var placeName: String
    public var name: String
    public var from: String
    public var to: String
    public var passMark: String
    public var status: AssessmentStatus
    public var weightsTotal: String
    public var indicators: [Indicator]
    public var rows: [Row]
    public var mayEdit: Bool
    public var mayReview: Bool
    enum CodingKeys: String, CodingKey {
        case id, placeID = "place_id", placeName = "place_name", name, from, to, passMark = "pass_mark", status, weightsTotal = "weights_total"
        case indicators, rows, mayEdit = "may_edit", mayReview = "may_review"
    }
}

public struct AssessmentSummary: Codable, Sendable {
    public var id: Int64, place: String, name: String, from: String, to: String, status: AssessmentStatus
}

extension OfficesService {
    struct SetRow { var id: Int64, placeID: Int64, placeName: String, path: String, name: String, from: Int64, to: Int64, passMark: Int, status: AssessmentStatus }

    func setRow(_ db: any SQLDatabase, _ id: Int64) async throws -> SetRow? {
        try await db.query("""
            SELECT a.id, a.place_id, p.name AS place_name, a.path, a.name, a.from_day, a.to_day, a.pass_mark, a.status
            FROM assessment_sets a JOIN places p ON p.id = a.place_id WHERE a.id = \(id)
            """).first().map { r in
            SetRow(id: try r.decode(column: "id", as: Int64.self), placeID: try r.decode(column: "place_id", as: Int64.self),
                   placeName: try r.decode(column: "place_name", as: String.self), path: try r.decode(column: "path", as: String.self),
                   name: try r.decode(column: "name", as: String.self), from: try r.decode(column: "from_day", as: Int64.self),
                   to: try r.decode(column: "to_day", as: Int64.self), passMark: try r.decode(column: "pass_mark", as: Int.self),
                   status: AssessmentStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .draft)
        }
    }

    /// A set for someone who keeps it (the street's or district's staff), in the given states.
    func keptSet(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, _ states: Set<AssessmentStatus>, _ message: String) async throws -> SetRow {
        guard let s = try await setRow(db, id), Self.staffOfArea(s, actor) else { throw LinliError.notFound }
        try actor.require(.officeLists, on: ObjectScope(path: s.path))
        guard states.contains(s.status) else { throw LinliError.conflict("state", "status", message) }
        return s
    }

    /// Published results are public; before that, staff of the area (communities their own row).
    static func seesSet(_ s: SetRow, _ actor: Actor?) -> Bool {
        if s.status == .published { return true }
        guard let actor else { return false }
        return staffOfArea(s, actor)
    }

    /// The area's staff: those who may act on a set at all (a published one is public to read,
    /// never to change from outside).
    static func staffOfArea(_ s: SetRow, _ actor: Actor) -> Bool {
        actor.grants(for: .workItemView).contains { $0.role != .departmentStaff && ($0.placePath.hasPrefix(s.path) || s.path.hasPrefix($0.placePath)) }
    }

    // MARK: Keeping a set

    public func createAssessment(_ input: AssessmentInput, actor: Actor) async throws -> Int64 {
        let now = env.nowSeconds
        return try await store.transaction { db in
            let p = try await keptPlace(db, input.placeID, actor: actor, missing: "请选择考核哪个街道或区的社区")
            var v = Validator()
            let name = Self.trimmed(input.name)
            v.check(!name.isEmpty && name.count <= 80, "name", "required", "请填写考核名称（80 字以内）")
            let from = try Input.day(input.from, field: "from"), to = try Input.day(input.to, field: "to")
            v.check(from != nil, "from", "required", "请填写考核期起始日")
            v.check(to != nil, "to", "required", "请填写考核期截止日")
            if let from, let to { v.check(to >= from && to - from <= 731, "to", "invalid", "截止日应在起始日之后，考核期不超过两年") }
            let pass = IndicatorRules.hundredths(input.passMark)
            v.check(pass.map { $0 <= 10_000 } ?? false, "pass_mark", "invalid", "达标分数应为 0 到 100")
            try v.throwIfAny()
            let id = try await db.query("""
                INSERT INTO assessment_sets (place_id, path, name, from_day, to_day, pass_mark, status, created_by, created_at)
                VALUES (\(p.id), \(p.path), \(name), \(from!), \(to!), \(Int(pass!)), 'draft', \(actor.userID), \(now)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "assessment.create", objectType: "assessment", objectID: id, path: p.path, detail: name)
            return id
        }
    }

    public func addIndicator(setID: Int64, _ input: IndicatorInput, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            let s = try await keptSet(db, setID, actor, [.draft], "考核已开始，指标不能再改")
            var v = Validator()
            let code = Self.trimmed(input.code), name = Self.trimmed(input.name)
            v.check(!code.isEmpty && code.count <= 20, "code", "required", "请填写指标编号（20 字以内）")
            v.check(!name.isEmpty && name.count <= 80, "name", "required", "请填写指标名称（80 字以内）")
            v.check(input.metric != nil, "metric", "required", "请选择数据来源")
            let weight = IndicatorRules.hundredths(input.weight)
            v.check(weight.map { $0 > 0 && $0 <= 10_000 } ?? false, "weight", "invalid", "权重应为 0 到 100 之间的百分数，如 20 或 12.5")
            let target = IndicatorRules.hundredths(input.target)
            v.check(target.map { $0 > 0 } ?? false, "target", "invalid", "请填写满分所需的目标值，如 90")
            if !code.isEmpty, try await db.query("SELECT 1 AS x FROM assessment_indicators WHERE set_id = \(setID) AND code = \(code)").first() != nil {
                v.add(.invalid("code", "duplicate", "这个编号已经有了"))
            }
            try v.throwIfAny()
            let sort = try await db.query("SELECT COALESCE(MAX(sort), 0) + 1 AS n FROM assessment_indicators WHERE set_id = \(setID)").first()!.decode(column: "n", as: Int.self)
            let id = try await db.query("""
                INSERT INTO assessment_indicators (set_id, code, name, metric, weight, target, sort)
                VALUES (\(setID), \(code), \(name), \(input.metric!.rawValue), \(weight!), \(target!), \(sort)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "assessment.indicator_add", objectType: "assessment", objectID: setID, path: s.path, detail: "\(code) \(name)")
            return id
        }
    }

    public func removeIndicator(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            guard let r = try await db.query("SELECT set_id, code FROM assessment_indicators WHERE id = \(id)").first() else { throw LinliError.notFound }
            let setID = try r.decode(column: "set_id", as: Int64.self)
            let s = try await keptSet(db, setID, actor, [.draft], "考核已开始，指标不能再改")
            try await db.query("DELETE FROM assessment_indicators WHERE id = \(id)").run()
            try await audit.append(db, actor: actor, action: "assessment.indicator_remove", objectType: "assessment", objectID: setID, path: s.path,
                                   detail: try r.decode(column: "code", as: String.self))
        }
    }

    public func indicatorSet(_ indicatorID: Int64) async throws -> Int64 {
        try await store.read { db in
            guard let r = try await db.query("SELECT set_id FROM assessment_indicators WHERE id = \(indicatorID)").first() else { throw LinliError.notFound }
            return try r.decode(column: "set_id", as: Int64.self)
        }
    }

    /// Starts the assessment: the weights must add up to 100 %; every community of the area
    /// gets its row, with the platform's values for the period.
    public func openAssessment(_ id: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let s = try await keptSet(db, id, actor, [.draft], "考核已经开始")
            let weights = try await db.query("SELECT weight FROM assessment_indicators WHERE set_id = \(id)").all().map { try $0.decode(column: "weight", as: Int64.self) }
            guard IndicatorRules.weightsAddUp(weights) else {
                throw LinliError.invalid("weight", "weights_not_100", "各项指标的权重合计应为 100%，现在是 \(IndicatorRules.text(weights.reduce(0, +)))%")
            }
            try await db.query("""
                INSERT INTO assessment_entries (set_id, indicator_id, community_id, path)
                SELECT \(id), i.id, p.id, p.path FROM assessment_indicators i, places p
                WHERE i.set_id = \(id) AND p.kind IN ('community', 'village') AND p.path LIKE \(s.path + "%")
                """).run()
            try await pull(db, s)
            try await db.query("UPDATE assessment_sets SET status = 'open', opened_at = \(now) WHERE id = \(id)").run()
            try await audit.append(db, actor: actor, action: "assessment.open", objectType: "assessment", objectID: id, path: s.path)
            let communities = try await db.query("SELECT DISTINCT community_id FROM assessment_entries WHERE set_id = \(id)").all().map { try $0.decode(column: "community_id", as: Int64.self) }
            try await tell(db, try await AccountService.holders(db, role: .communityStaff, placeIDs: communities), "assessment_open", s.name, link: "/assessments/\(id)", actor, now)
        }
    }

    /// Takes the platform's values again (the period may still be running).
    public func refreshAssessment(_ id: Int64, actor: Actor) async throws {
        try await store.transaction { db in
            let s = try await keptSet(db, id, actor, [.open], "只有进行中的考核可以更新数据")
            try await pull(db, s)
            try await audit.append(db, actor: actor, action: "assessment.refresh", objectType: "assessment", objectID: id, path: s.path)
        }
    }

    /// The platform's value of each indicator for each community over the period, with the
    /// counts behind it as evidence; aggregated per indicator in the database.
    func pull(_ db: any SQLDatabase, _ s: SetRow) async throws {
        let from = LocalDay.start(s.from), to = LocalDay.start(s.to + 1)
        let communities = try await db.query("SELECT DISTINCT community_id FROM assessment_entries WHERE set_id = \(s.id)").all().map { try $0.decode(column: "community_id", as: Int64.self) }
        guard !communities.isEmpty else { return }
        let indicators = try await db.query("SELECT id, metric FROM assessment_indicators WHERE set_id = \(s.id)").all()
            .compactMap { r -> (Int64, IndicatorMetric)? in
                guard let m = IndicatorMetric(rawValue: try r.decode(column: "metric", as: String.self)) else { return nil }
                return (try r.decode(column: "id", as: Int64.self), m)
            }
        var population: [Int64: (residents: Int64, households: Int64)]?
        func people() async throws -> [Int64: (residents: Int64, households: Int64)] {
            if let population { return population }
            let p = try await RegistryService.population(db, communityIDs: communities)
            population = p
            return p
        }
        for (indicator, metric) in indicators {
            var values: [Int64: (Int64?, String)] = [:]
            func share(_ m: [Int64: (Int64, Int64)], _ what: String) {
                for c in communities {
                    let (n, d) = m[c] ?? (0, 0)
                    values[c] = (IndicatorRules.percent(n, d), d == 0 ? "无\(what)" : "\(n)/\(d)")
                }
            }
            switch metric {
            case .requestsOnTime:
                let counts = try await RequestsService.areaCounts(db, communityIDs: communities, from: from, to: to)
                share(counts.mapValues { ($0.onTime, $0.resolved) }, "办结诉求")
            case .propertyCoverage: share(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .propertyCompany), "小区")
            case .ownersCommitteeCoverage: share(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .ownersCommittee), "小区")
            case .partyBranchCoverage: share(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .partyBranch), "小区")
            case .householdsVisited:
                let visited = try await GridWorkService.householdsVisited(db, communityIDs: communities, from: from, to: to)
                let p = try await people()
                share(Dictionary(uniqueKeysWithValues: communities.map { ($0, (visited[$0] ?? 0, p[$0]?.households ?? 0)) }), "住户")
            case .meetingsHeld:
                let held = try await DeliberationService.meetingsHeld(db, communityIDs: communities, from: from, to: to)
                for c in communities { values[c] = ((held[c] ?? 0) * 100, "") }   // the value is the count
            case .volunteerHoursPer1000:
                let minutes = try await LinkageService.volunteerMinutes(db, communityIDs: communities, from: from, to: to)
                let p = try await people()
                for c in communities {
                    let m = minutes[c] ?? 0, r = p[c]?.residents ?? 0
                    // hours per 1,000 residents, in hundredths: minutes / 60 × 1000 / residents × 100.
                    values[c] = (r == 0 ? nil : (m * 100_000 / 60 + r / 2) / r, "\(IndicatorRules.text(m * 100 / 60)) 小时 / \(r) 人")
                }
            case .manual:
                continue   // reported by the community with its self-assessment
            }
            for (c, (value, evidence)) in values {
                try await db.query("UPDATE assessment_entries SET value = \(value), evidence = \(evidence) WHERE set_id = \(s.id) AND indicator_id = \(indicator) AND community_id = \(c)").run()
            }
        }
    }

    /// A community's self-assessment of one indicator (and, for one it reports itself, the value).
    public func selfAssess(_ setID: Int64, _ input: AssessmentScoreInput, actor: Actor) async throws {
        try await store.transaction { db in
            guard let s = try await setRow(db, setID), Self.staffOfArea(s, actor) else { throw LinliError.notFound }
            guard s.status == .open else { throw LinliError.conflict("state", "status", "只有进行中的考核可以自评") }
            let answering = Self.answering(actor)
            let mine = try await db.query("SELECT DISTINCT community_id, path FROM assessment_entries WHERE set_id = \(setID)").all()
                .map { (try $0.decode(column: "community_id", as: Int64.self), try $0.decode(column: "path", as: String.self)) }
                .filter { c in answering.contains { c.1.hasPrefix($0) } }
            let community: Int64?
            if let id = input.communityID { community = mine.first { $0.0 == id }?.0 } else { community = mine.count == 1 ? mine[0].0 : nil }
            guard let community else { throw LinliError.invalid("community_id", "not_yours", "只有被考核的社区才能自评") }
            let (indicator, metric) = try await entryIndicator(db, setID, input.indicatorID)
            var v = Validator()
            let score = IndicatorRules.hundredths(input.score)
            v.check(score.map { $0 <= 10_000 } ?? false, "score", "invalid", "自评分应为 0 到 100")
            let note = Self.trimmed(input.note)
            v.check(note.count <= 1000, "note", "too_long", "说明请在 1000 字以内")
            var value: Int64?
            if metric == .manual {
                value = IndicatorRules.hundredths(input.value)
                v.check(value != nil, "value", "required", "这项指标由社区填报：请填写数值")
                v.check(!note.isEmpty, "note", "required", "请写明数据来源和佐证")
            }
            try v.throwIfAny()
            if metric == .manual {
                try await db.query("UPDATE assessment_entries SET value = \(value), evidence = \(note) WHERE set_id = \(setID) AND indicator_id = \(indicator) AND community_id = \(community)").run()
            }
            try await db.query("""
                UPDATE assessment_entries SET self_score = \(Int(score!)), self_note = \(note) WHERE set_id = \(setID) AND indicator_id = \(indicator) AND community_id = \(community)
                """).run()
            try await audit.append(db, actor: actor, action: "assessment.self", objectType: "assessment", objectID: setID, path: s.path, detail: "indicator=\(indicator) community=\(community)")
        }
    }

    /// The reviewer's score of one community's indicator; it decides over the platform's.
    public func review(_ setID: Int64, _ input: AssessmentScoreInput, actor: Actor) async throws {
        try await store.transaction { db in
            let s = try await keptSet(db, setID, actor, [.open], "只有进行中的考核可以评分")
            let (indicator, _) = try await entryIndicator(db, setID, input.indicatorID)
            guard let community = input.communityID,
                  try await db.query("SELECT 1 AS x FROM assessment_entries WHERE set_id = \(setID) AND community_id = \(community)").first() != nil else {
                throw LinliError.invalid("community_id", "required", "请选择给哪个社区评分")
            }
            var v = Validator()
            let score = IndicatorRules.hundredths(input.score)
            v.check(score.map { $0 <= 10_000 } ?? false, "score", "invalid", "评分应为 0 到 100")
            let note = Self.trimmed(input.note)
            v.check(note.count <= 1000, "note", "too_long", "说明请在 1000 字以内")
            try v.throwIfAny()
            try await db.query("""
                UPDATE assessment_entries SET review_score = \(Int(score!)), review_note = \(note), reviewed_by = \(actor.userID)
                WHERE set_id = \(setID) AND indicator_id = \(indicator) AND community_id = \(community)
                """).run()
            try await audit.append(db, actor: actor, action: "assessment.review", objectType: "assessment", objectID: setID, path: s.path, detail: "indicator=\(indicator) community=\(community)")
        }
    }

    func entryIndicator(_ db: any SQLDatabase, _ setID: Int64, _ id: Int64?) async throws -> (Int64, IndicatorMetric) {
        guard let id, let r = try await db.query("SELECT id, metric FROM assessment_indicators WHERE id = \(id) AND set_id = \(setID)").first(),
              let metric = IndicatorMetric(rawValue: try r.decode(column: "metric", as: String.self)) else {
            throw LinliError.invalid("indicator_id", "required", "请选择指标")
        }
        return (id, metric)
    }

    /// Publishes the result: from now on it is public and no longer changes.
    public func publishAssessment(_ id: Int64, actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            let s = try await keptSet(db, id, actor, [.open], "只有进行中的考核可以公布结果")
            try await db.query("UPDATE assessment_sets SET status = 'published', published_at = \(now) WHERE id = \(id)").run()
            try await audit.append(db, actor: actor, action: "assessment.publish", objectType: "assessment", objectID: id, path: s.path)
            let communities = try await db.query("SELECT DISTINCT community_id FROM assessment_entries WHERE set_id = \(id)").all().map { try $0.decode(column: "community_id", as: Int64.self) }
            try await tell(db, try await AccountService.holders(db, role: .communityStaff, placeIDs: communities), "assessment_published", s.name, link: "/assessments/\(id)", actor, now)
        }
    }

    // MARK: Reading

    public func assessments(actor: Actor) async throws -> [AssessmentSummary] {
        let grants = actor.grants(for: .workItemView).filter { $0.role != .departmentStaff }
        guard !grants.isEmpty else { return [] }
        let condition = BoundSQL.joined(grants.map { g -> BoundSQL in "(a.path LIKE \(g.placePath + "%") OR \(g.placePath) LIKE a.path || '%')" }, separator: " OR ")
        return try await store.read { db in
            try await db.query("""
                SELECT a.id, p.name AS place, a.name, a.from_day, a.to_day, a.status FROM assessment_sets a JOIN places p ON p.id = a.place_id
                WHERE \(condition) ORDER BY a.id DESC LIMIT 100
                """).all().map { r in
                AssessmentSummary(id: try r.decode(column: "id", as: Int64.self), place: try r.decode(column: "place", as: String.self),
                                  name: try r.decode(column: "name", as: String.self), from: Self.dayText(try r.decode(column: "from_day", as: Int64.self)),
                                  to: Self.dayText(try r.decode(column: "to_day", as: Int64.self)),
                                  status: AssessmentStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .draft)
            }
        }
    }

    /// The comparable table: every community of the area by indicator, with totals and ranks.
    /// Before publication a community's staff see their own row only.
    public func assessment(_ id: Int64, actor: Actor?) async throws -> AssessmentView {
        try await store.read { db in
            guard let s = try await setRow(db, id), Self.seesSet(s, actor) else { throw LinliError.notFound }
            let indicators = try await db.query("SELECT id, code, name, metric, weight, target FROM assessment_indicators WHERE set_id = \(id) ORDER BY sort, id").all().map { r in
                (id: try r.decode(column: "id", as: Int64.self), code: try r.decode(column: "code", as: String.self), name: try r.decode(column: "name", as: String.self),
                 metric: IndicatorMetric(rawValue: try r.decode(column: "metric", as: String.self)) ?? .manual,
                 weight: try r.decode(column: "weight", as: Int64.self), target: try r.decode(column: "target", as: Int64.self))
            }
            let keeper = actor?.may(.officeLists, on: ObjectScope(path: s.path)) ?? false
            let whole = s.status == .published || keeper || (actor?.grants(for: .workItemView).contains { $0.role != .departmentStaff && s.path.hasPrefix($0.placePath) } ?? false)
            let answering = actor.map(Self.answering) ?? []
            var rows: [Int64: (name: String, path: String, cells: [Int64: AssessmentView.Cell], scores: [Int64: Int?])] = [:]
            for r in try await db.query("""
                SELECT e.indicator_id, e.community_id, p.name, e.path, e.value, e.evidence, e.self_score, e.self_note, e.review_score, e.review_note
                FROM assessment_entries e JOIN places p ON p.id = e.community_id WHERE e.set_id = \(id)
                """).all() {
                let c = try r.decode(column: "community_id", as: Int64.self), path = try r.decode(column: "path", as: String.self)
                guard whole || answering.contains(where: { path.hasPrefix($0) }) else { continue }
                let i = try r.decode(column: "indicator_id", as: Int64.self)
                guard let ind = indicators.first(where: { $0.id == i }) else { continue }
                let value = try r.decode(column: "value", as: Int64?.self)
                let auto = IndicatorRules.autoScore(value: value, target: ind.target)
                let review = try r.decode(column: "review_score", as: Int?.self), selfScore = try r.decode(column: "self_score", as: Int?.self)
                let final = IndicatorRules.final(auto: auto, review: review)
                if rows[c] == nil { rows[c] = (try r.decode(column: "name", as: String.self), path, [:], [:]) }
                rows[c]!.cells[i] = AssessmentView.Cell(
                    indicatorID: i, value: value.map { IndicatorRules.text($0) + ind.metric.unit }, evidence: try r.decode(column: "evidence", as: String.self),
                    autoScore: auto.map { IndicatorRules.text(Int64($0)) }, selfScore: selfScore.map { IndicatorRules.text(Int64($0)) },
                    selfNote: try r.decode(column: "self_note", as: String.self), reviewScore: review.map { IndicatorRules.text(Int64($0)) },
                    reviewNote: try r.decode(column: "review_note", as: String.self), score: final.map { IndicatorRules.text(Int64($0)) })
                rows[c]!.scores[i] = final
            }
            let scored = rows.map { c, row -> (Int64, Int, AssessmentView.Row) in
                let total = IndicatorRules.total(indicators.map { ($0.weight, row.scores[$0.id] ?? nil) })
                return (c, total, AssessmentView.Row(rank: 0, communityID: c, community: row.name, total: IndicatorRules.text(Int64(total)), passed: total >= s.passMark,
                                                    cells: indicators.compactMap { row.cells[$0.id] }, mine: answering.contains { row.path.hasPrefix($0) }))
            }.sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }
            let ranked = scored.enumerated().map { i, t -> AssessmentView.Row in var r = t.2; r.rank = i + 1; return r }
            return AssessmentView(
                id: id, placeID: s.placeID, placeName: s.placeName, name: s.name, from: Self.dayText(s.from), to: Self.dayText(s.to),
                passMark: IndicatorRules.text(Int64(s.passMark)), status: s.status, weightsTotal: IndicatorRules.text(indicators.reduce(0) { $0 + $1.weight }),
                indicators: indicators.map { .init(id: $0.id, code: $0.code, name: $0.name, metric: $0.metric, weight: IndicatorRules.text($0.weight),
                                                   target: IndicatorRules.text($0.target) + $0.metric.unit, unit: $0.metric.unit) },
                rows: ranked, mayEdit: keeper && s.status == .draft, mayReview: keeper && s.status == .open)
        }
    }
}
