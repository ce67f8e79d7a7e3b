import LinliServer
import Foundation
import LinliCore
import LinliStore

// Plain types and rules of deliberation: processes and their stages, and the owners' vote by the
// Civil Code (art. 278). No I/O here, so every rule is unit-tested on worked examples.

/// A share that must be reached: "≥ 2/3" (inclusive) or "> 1/2" (strict).
public struct Threshold: Sendable, Codable, Equatable {
    public var num: Int64
    public var den: Int64
    public var strict: Bool

    public init(_ num: Int64, _ den: Int64, strict: Bool = false) {
        self.num = num
        self.den = den
        self.strict = strict
    }

    /// Exact integer comparison, so that exactly 2/3 of the area meets "≥ 2/3" and never misses by rounding.
    public func met(_ part: Int64, of whole: Int64) -> Bool {
        guard whole > 0 else { return false }
        let lhs = part * den, rhs = num * whole
        return strict ? lhs > rhs : lhs >= rhs
    }

    public var text: String { (strict ? "> " : "≥ ") + "\(num)/\(den)" }

    func validate(_ field: String, _ v: inout Validator) {
        v.check(den > 0 && num > 0 && num <= den, field, "invalid_threshold", "比例应在 0 到 1 之间，如 2/3")
    }
}

/// Ordinary matters, or art. 278 items 6–8 (raising or using maintenance funds, rebuilding,
/// changing the use of common parts), which need three quarters.
public enum ItemClass: String, Sendable, Codable, CaseIterable {
    case ordinary, major
}

/// The nine matters Civil Code art. 278 reserves to the owners together. Items 6–8 (raising the
/// maintenance funds, rebuilding or altering buildings, changing the use of common parts or
/// running a business in them) need three quarters of those taking part; the others, using the
/// maintenance funds (item 5) among them, more than half.
public enum LawItem: Int, Sendable, Codable, CaseIterable {
    case rules = 1, covenant, committee, manager, useFunds, raiseFunds, rebuild, commonParts, other

    public var itemClass: ItemClass { (6...8).contains(rawValue) ? .major : .ordinary }
    /// The label's code ("art278_5").
    public var code: String { "art278_\(rawValue)" }

    /// The class a matter's vote is counted by: from its item when it names one (a contradicting
    /// class is refused), else as given, else ordinary.
    public static func classify(item: Int?, itemClass raw: String?) throws -> (LawItem?, ItemClass) {
        let given = raw.flatMap { $0.isEmpty ? nil : $0 }.map { ItemClass(rawValue: $0) }
        if case .some(nil) = given { throw LinliError.invalid("item_class", "invalid", "事项类别只能是 ordinary 或 major") }
        guard let item else { return (nil, given.flatMap { $0 } ?? .ordinary) }
        guard let law = LawItem(rawValue: item) else { throw LinliError.invalid("law_item", "invalid", "《民法典》第 278 条只有第 1 至第 9 项") }
        if let g = given.flatMap({ $0 }), g != law.itemClass {
            throw LinliError.invalid("item_class", "contradicts_law_item",
                                     "第 278 条第 \(item) 项须\(law.itemClass == .major ? "四分之三" : "过半数")同意，不能按\(g == .major ? "四分之三" : "过半数")表决")
        }
        return (law, law.itemClass)
    }
}

/// A vote rule set. It is data: a city can add its own (a lift rule for one building) and a poll
/// keeps a frozen copy of the rule it opened with.
public struct VoteRuleSet: Sendable, Codable, Equatable {
    public var participationArea: Threshold
    public var participationHeads: Threshold
    public var ordinaryArea: Threshold
    public var ordinaryHeads: Threshold
    public var majorArea: Threshold
    public var majorHeads: Threshold
    /// `participating`: approval is counted among those who took part (Civil Code since 2021);
    /// `all`: among the whole electorate (some older local rules).
    public var approvalBasis: String
    /// Whether an owner may change a ballot until the poll closes.
    public var allowChange: Bool

    enum CodingKeys: String, CodingKey {
        case participationArea = "participation_area", participationHeads = "participation_heads"
        case ordinaryArea = "ordinary_area", ordinaryHeads = "ordinary_heads", majorArea = "major_area", majorHeads = "major_heads"
        case approvalBasis = "approval_basis", allowChange = "allow_change"
    }

    /// Civil Code art. 278: two thirds take part; items 6–8 need three quarters of those taking part,
    /// other items more than half, each by area and by head.
    public static let civilCode = VoteRuleSet(
        participationArea: Threshold(2, 3), participationHeads: Threshold(2, 3),
        ordinaryArea: Threshold(1, 2, strict: true), ordinaryHeads: Threshold(1, 2, strict: true),
        majorArea: Threshold(3, 4), majorHeads: Threshold(3, 4), approvalBasis: "participating", allowChange: true)

    public func validate() throws {
        var v = Validator()
        participationArea.validate("participation_area", &v); participationHeads.validate("participation_heads", &v)
        ordinaryArea.validate("ordinary_area", &v); ordinaryHeads.validate("ordinary_heads", &v)
        majorArea.validate("major_area", &v); majorHeads.validate("major_heads", &v)
        v.check(["participating", "all"].contains(approvalBasis), "approval_basis", "invalid", "计票基数只能是 participating 或 all")
        try v.throwIfAny()
    }
}

public enum Choice: String, Sendable, Codable, CaseIterable {
    case yes, no, abstain
}

public enum BallotMethod: String, Sendable, Codable, CaseIterable {
    /// Cast by the owner in the console.
    case online
    /// A signed paper ballot entered by staff.
    case paper
    /// Cast by someone holding the owner's written authorisation (the document is required).
    case proxy
}

/// One exclusive part (专有部分) of the electorate.
public struct ElectoratePart: Sendable, Equatable {
    public var partID: Int64
    /// Registered floor area in hundredths of a square metre.
    public var areaCenti: Int64
    /// Who counts as one head: `o<owner id>` (one buyer of several parts, or the developer's unsold
    /// parts, is one owner) or `d<part id>` when no owner is recorded (the part counts as one).
    public var ownerKey: String

    public init(partID: Int64, areaCenti: Int64, ownerKey: String) {
        self.partID = partID
        self.areaCenti = areaCenti
        self.ownerKey = ownerKey
    }

    public static func ownerKey(ownerID: Int64?, partID: Int64) -> String {
        ownerID.map { "o\($0)" } ?? "d\(partID)"
    }
}

/// The sums a decision is made from. Computed in SQL for real polls and by `count` for tests; both agree.
public struct TallyCounts: Sendable, Codable, Equatable {
    public var totalParts: Int64 = 0
    public var totalArea: Int64 = 0
    public var totalHeads: Int64 = 0
    public var votedParts: Int64 = 0
    public var votedArea: Int64 = 0
    public var votedHeads: Int64 = 0
    public var yesArea: Int64 = 0
    public var noArea: Int64 = 0
    public var abstainArea: Int64 = 0
    /// Owners all of whose voting parts said yes (an owner voting their parts differently is
    /// counted as taking part but neither for nor against).
    public var yesHeads: Int64 = 0
    public var noHeads: Int64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case totalParts = "total_parts", totalArea = "total_area_centi", totalHeads = "total_heads"
        case votedParts = "voted_parts", votedArea = "voted_area_centi", votedHeads = "voted_heads"
        case yesArea = "yes_area_centi", noArea = "no_area_centi", abstainArea = "abstain_area_centi", yesHeads = "yes_heads", noHeads = "no_heads"
    }
}

public struct Criterion: Sendable, Codable, Equatable {
    /// participation_area, participation_heads, approval_area, approval_heads
    public var code: String
    public var value: Int64
    public var base: Int64
    public var required: String
    public var met: Bool
    /// The share reached, as a percentage with two decimals, for display.
    public var percent: String
    /// The shares reached and required, in percent, for a chart (absent in results stored
    /// before they were kept).
    public var reachedPercent: Double? = nil
    public var requiredPercent: Double? = nil
}

public struct TallyResult: Sendable, Codable, Equatable {
    public var counts: TallyCounts
    public var itemClass: ItemClass
    public var criteria: [Criterion]
    public var passed: Bool
    /// The first criterion not met, or `all_met`: the rule that decided the outcome.
    public var decidedBy: String

    enum CodingKeys: String, CodingKey { case counts, itemClass = "item_class", criteria, passed, decidedBy = "decided_by" }
}

public enum Tally {
    /// Counts ballots over an electorate. A ballot for a part outside the electorate is ignored
    /// (the service refuses such ballots before they are stored).
    public static func count(_ parts: [ElectoratePart], _ ballots: [Int64: Choice]) -> TallyCounts {
        var c = TallyCounts()
        var heads = Set<String>()
        struct Owner { var voted = 0; var yes = 0; var no = 0 }
        var owners: [String: Owner] = [:]
        for p in parts {
            c.totalParts += 1
            c.totalArea += p.areaCenti
            heads.insert(p.ownerKey)
            guard let choice = ballots[p.partID] else { continue }
            c.votedParts += 1
            c.votedArea += p.areaCenti
            var o = owners[p.ownerKey] ?? Owner()
            o.voted += 1
            switch choice {
            case .yes: c.yesArea += p.areaCenti; o.yes += 1
            case .no: c.noArea += p.areaCenti; o.no += 1
            case .abstain: c.abstainArea += p.areaCenti
            }
            owners[p.ownerKey] = o
        }
        c.totalHeads = Int64(heads.count)
        c.votedHeads = Int64(owners.count)
        c.yesHeads = Int64(owners.values.filter { $0.yes == $0.voted }.count)
        c.noHeads = Int64(owners.values.filter { $0.no == $0.voted }.count)
        return c
    }

    public static func decide(_ c: TallyCounts, rule: VoteRuleSet, itemClass: ItemClass) -> TallyResult {
        func criterion(_ code: String, _ value: Int64, _ base: Int64, _ t: Threshold) -> Criterion {
            let pct = base > 0 ? Double(value) * 100 / Double(base) : 0
            return Criterion(code: code, value: value, base: base, required: t.text, met: t.met(value, of: base), percent: String(format: "%.2f%%", pct),
                             reachedPercent: (pct * 100).rounded() / 100, requiredPercent: t.den > 0 ? (Double(t.num) * 10_000 / Double(t.den)).rounded() / 100 : nil)
        }
        let (areaT, headT) = itemClass == .major ? (rule.majorArea, rule.majorHeads) : (rule.ordinaryArea, rule.ordinaryHeads)
        let all = rule.approvalBasis == "all"
        let criteria = [
            criterion("participation_area", c.votedArea, c.totalArea, rule.participationArea),
            criterion("participation_heads", c.votedHeads, c.totalHeads, rule.participationHeads),
            criterion("approval_area", c.yesArea, all ? c.totalArea : c.votedArea, areaT),
            criterion("approval_heads", c.yesHeads, all ? c.totalHeads : c.votedHeads, headT),
        ]
        let failed = criteria.first { !$0.met }
        return TallyResult(counts: c, itemClass: itemClass, criteria: criteria, passed: failed == nil, decidedBy: failed?.code ?? "all_met")
    }
}

// MARK: Processes

/// What a stage needs before it can pass.
public enum StageKind: String, Sendable, Codable, CaseIterable {
    /// Raising the matter: done when the matter is created.
    case suggestion
    /// A body decides (the compound party organisation's proposal, the party members' review):
    /// staff record the outcome with a note.
    case decision
    /// A meeting must have been held for this stage, with minutes, before its outcome is recorded.
    case meeting
    /// A poll must be closed for this stage; its tally is the outcome, never typed in.
    case vote
    /// Publishing the resolution to the compound's notice board.
    case publishResolution = "publish_resolution"
    /// Publishing the implementation once every milestone is done.
    case publishImplementation = "publish_implementation"
    /// Filing both with the community; the matter becomes read-only.
    case filing
}

public struct StageDefinition: Sendable, Codable, Equatable {
    public var code: String
    public var nameZh: String
    public var nameEn: String
    public var kind: StageKind
    public var required: Bool

    enum CodingKeys: String, CodingKey { case code, nameZh = "name_zh", nameEn = "name_en", kind, required }

    public init(_ code: String, _ zh: String, _ en: String, _ kind: StageKind, required: Bool = true) {
        self.code = code
        self.nameZh = zh
        self.nameEn = en
        self.kind = kind
        self.required = required
    }

    public func name(_ lang: Lang) -> String { lang == .zh ? nameZh : nameEn }
}

public struct ProcessDefinition: Sendable, Codable, Equatable {
    public var code: String
    public var nameZh: String
    public var nameEn: String
    public var stages: [StageDefinition]

    public init(code: String, nameZh: String, nameEn: String, stages: [StageDefinition]) {
        self.code = code
        self.nameZh = nameZh
        self.nameEn = nameEn
        self.stages = stages
    }

    /// A process must start with the suggestion, end with filing, and name each stage once.
    public func validate() throws {
        var v = Validator()
        v.check(!nameZh.trimmingCharacters(in: .whitespaces).isEmpty, "name", "required", "请填写流程名称")
        v.check(stages.count >= 2, "stages", "too_few", "流程至少要有两个阶段")
        v.check(stages.first?.kind == .suggestion, "stages", "must_start_with_suggestion", "流程应从“提议”开始")
        v.check(stages.last?.kind == .filing, "stages", "must_end_with_filing", "流程应以“备案”结束")
        v.check(Set(stages.map(\.code)).count == stages.count, "stages", "duplicate_stage", "阶段不能重复")
        v.check(stages.filter { $0.kind == .filing || $0.kind == .suggestion }.count == 2, "stages", "one_suggestion_one_filing", "只能有一个提议阶段和一个备案阶段")
        if let i = stages.firstIndex(where: { $0.kind == .publishImplementation }), let r = stages.firstIndex(where: { $0.kind == .publishResolution }) {
            v.check(r < i, "stages", "implementation_before_resolution", "实施公开应在决议公开之后")
        }
        try v.throwIfAny()
    }

    /// Wenzhou's 五议两公开一备案.
    public static let wenzhou = ProcessDefinition(code: "wenzhou", nameZh: "五议两公开一备案", nameEn: "Five deliberations, two publications, one filing", stages: [
        StageDefinition("suggest", "居民或党员提议", "Suggestion by residents or party members", .suggestion),
        StageDefinition("propose", "小区党组织提议", "Proposal by the compound party organisation", .decision),
        StageDefinition("joint", "联席会议商议", "Joint meeting (residents' committee, owners' committee, property company)", .meeting),
        StageDefinition("party_review", "党员大会审议", "Review by the party members' meeting", .meeting),
        StageDefinition("owners_vote", "业主（代表）大会决议", "Resolution by the owners' (representatives') assembly", .vote),
        StageDefinition("publish_resolution", "决议公开", "Resolution made public", .publishResolution),
        StageDefinition("publish_implementation", "实施结果公开", "Implementation made public", .publishImplementation),
        StageDefinition("file", "报社区备案", "Filed with the community", .filing),
    ])

    /// A residents' council deciding a community matter.
    public static let council = ProcessDefinition(code: "council", nameZh: "居民议事会", nameEn: "Residents' council", stages: [
        StageDefinition("suggest", "居民提议", "Suggestion", .suggestion),
        StageDefinition("council", "议事会协商", "Council deliberation", .meeting),
        StageDefinition("publish_resolution", "决议公开", "Resolution made public", .publishResolution),
        StageDefinition("publish_implementation", "实施结果公开", "Implementation made public", .publishImplementation),
        StageDefinition("file", "备案", "Filed", .filing),
    ])

    /// Adding a lift to an old building: the building's owners decide.
    public static let lift = ProcessDefinition(code: "lift", nameZh: "老旧小区加装电梯（楼栋）", nameEn: "Lift for an old building", stages: [
        StageDefinition("suggest", "楼栋居民提议", "Suggestion by the building's residents", .suggestion),
        StageDefinition("consult", "睦邻议事厅协商", "Neighbours' consultation", .meeting),
        StageDefinition("joint", "三方联席会议", "Joint meeting of the three parties", .meeting, required: false),
        StageDefinition("building_vote", "楼栋业主表决", "Vote of the building's owners", .vote),
        StageDefinition("publish_resolution", "表决结果公示", "Result made public", .publishResolution),
        StageDefinition("publish_implementation", "施工与验收公开", "Construction and acceptance made public", .publishImplementation),
        StageDefinition("file", "报社区备案", "Filed with the community", .filing),
    ])

    public static let builtIn = [wenzhou, council, lift]
}

public enum MatterStatus: String, Sendable, Codable, CaseIterable {
    /// Moving through its stages.
    case open
    /// A stage refused it; the reason is recorded.
    case rejected
    /// Filed with the community: read-only.
    case filed
}

/// The outcome recorded for one stage.
public enum StageOutcome: String, Sendable, Codable {
    case passed, rejected, skipped
}

public enum MatterFlow {
    /// Checks that `stageCode` is the matter's current stage and the outcome is allowed there.
    /// Returns the index of the next stage, or nil when the matter ends (rejected or filed).
    public static func advance(_ process: ProcessDefinition, current: Int, status: MatterStatus, stageCode: String, outcome: StageOutcome,
                               reason: String?) throws -> Int? {
        guard status == .open else {
            throw LinliError.conflict("stage", status == .filed ? "matter_filed" : "matter_closed",
                                      status == .filed ? "事项已备案，不能再修改" : "事项已被否决，不能再推进")
        }
        guard current < process.stages.count else { throw LinliError.conflict("stage", "matter_finished", "事项已完成全部阶段") }
        let stage = process.stages[current]
        guard stage.code == stageCode else {
            if let target = process.stages.firstIndex(where: { $0.code == stageCode }), target > current {
                throw LinliError.conflict("stage", "stage_skipped", "不能跳过“\(stage.nameZh)”阶段")
            }
            throw LinliError.conflict("stage", "not_current_stage", "当前阶段是“\(stage.nameZh)”")
        }
        switch outcome {
        case .skipped:
            guard !stage.required else { throw LinliError.conflict("stage", "stage_required", "“\(stage.nameZh)”是必经阶段，不能跳过") }
            guard let r = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !r.isEmpty else {
                throw LinliError.invalid("reason", "required", "跳过阶段请说明理由")
            }
        case .rejected:
            guard let r = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !r.isEmpty else {
                throw LinliError.invalid("reason", "required", "否决请说明理由")
            }
            return nil
        case .passed:
            break
        }
        return current + 1 < process.stages.count ? current + 1 : nil
    }
}

public enum DeliberationLimits {
    public static let titleMax = 100
    public static let textMax = 20_000
}

