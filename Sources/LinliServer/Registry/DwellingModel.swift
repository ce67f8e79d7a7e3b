import Foundation
import LinliCore

/// What an exclusive part (专有部分) is used for.
public enum PartUse: String, Sendable, CaseIterable, Codable {
    case residential, commercial, office, parking, storage, other
}

/// Who holds title to a part. `developer` marks the developer's unsold parts: however many there
/// are, the developer counts as one head in an owners' vote (Civil Code interpretation, art. 9).
public enum OwnerKind: String, Sendable, CaseIterable, Codable {
    case person, organisation, developer
}

/// One owner of a part as typed on the form or sent to the API: an existing owner (the same buyer
/// of another part), a resident of the community (their owner record is found or made), or a
/// new name.
public struct OwnerInput: Sendable, Codable, Equatable {
    public var ownerID: Int64?
    public var residentID: Int64?
    public var name: String?
    public var kind: String?
    /// Percent as typed, up to two decimals ("50", "33.33"); empty for a sole owner.
    public var share: String?

    public init(ownerID: Int64? = nil, residentID: Int64? = nil, name: String? = nil, kind: String? = nil, share: String? = nil) {
        self.ownerID = ownerID; self.residentID = residentID; self.name = name; self.kind = kind; self.share = share
    }
    enum CodingKeys: String, CodingKey { case ownerID = "owner_id", residentID = "resident_id", name, kind, share = "share_percent" }
}

public struct DwellingInput: Sendable, Codable {
    public var partNo: String?
    public var areaM2: String?
    public var use: String?
    public var titleNo: String?
    public var owners: [OwnerInput]?
    /// Why the owners change (a sale, an inheritance): required once the part has owners.
    public var reason: String?

    public init(partNo: String? = nil, areaM2: String? = nil, use: String? = nil, titleNo: String? = nil, owners: [OwnerInput]? = nil, reason: String? = nil) {
        self.partNo = partNo; self.areaM2 = areaM2; self.use = use; self.titleNo = titleNo; self.owners = owners; self.reason = reason
    }
    enum CodingKeys: String, CodingKey { case partNo = "part_no", areaM2 = "area_m2", use, titleNo = "title_no", owners, reason }
}

/// An owner after validation: shares in basis points (1/100 of a percent), summing to 10000.
public struct ValidatedOwner: Sendable, Equatable {
    public enum Who: Sendable, Equatable { case existing(Int64), resident(Int64), named(String, OwnerKind) }
    public var who: Who
    public var shareBP: Int
}

public struct ValidatedDwelling: Sendable {
    public var partNo: String
    public var areaCenti: Int64
    public var use: PartUse
    public var titleNo: String?
    /// nil: leave the owners as they are.
    public var owners: [ValidatedOwner]?
    public var reason: String
}

public enum DwellingRules {
    /// "50" → 5000, "33.33" → 3333, "100" → 10000; nil for anything else (over 100, negative, three decimals).
    public static func shareBP(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "%", with: "")
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty, parts[0].count <= 3, parts[0].allSatisfy(\.isASCII), let whole = Int(parts[0]) else { return nil }
        var frac = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy(\.isASCII), let f = Int(parts[1]) else { return nil }
            frac = parts[1].count == 1 ? f * 10 : f
        }
        let bp = whole * 100 + frac
        return bp > 0 && bp <= 10000 ? bp : nil
    }

    /// "50%" from 5000, "33.33%" from 3333.
    public static func shareText(_ bp: Int) -> String {
        let frac = bp % 100
        return String(bp / 100) + (frac == 0 ? "" : (frac < 10 ? ".0" : ".") + String(frac)) + "%"
    }

    /// Checks a part as a street office records it. Shares must add up to exactly 100 %; a
    /// developer's unsold part has the developer alone; one owner may not be listed twice.
    public static func validate(_ input: DwellingInput) throws -> ValidatedDwelling {
        var v = Validator()
        let partNo = (input.partNo ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(!partNo.isEmpty, "part_no", "required", "请填写专有部分编号（如 1幢1单元101）")
        v.check(partNo.count <= 40, "part_no", "too_long", "专有部分编号不能超过 40 个字")
        let area = RegistryService.parseArea(input.areaM2 ?? "")
        v.check(area != nil, "area_m2", "invalid_area", "面积应为大于 0 的数字，最多两位小数")
        let use = (input.use ?? "").isEmpty ? PartUse.residential : PartUse(rawValue: input.use!)
        v.check(use != nil, "use", "invalid_choice", "未知的用途")
        let title = input.titleNo?.trimmingCharacters(in: .whitespacesAndNewlines)
        v.check((title ?? "").count <= 40, "title_no", "too_long", "不动产权证号不能超过 40 个字")
        var owners: [ValidatedOwner]?
        if let list = input.owners {
            var out: [ValidatedOwner] = []
            v.check(!list.isEmpty, "owners", "required", "请至少填写一位产权人")
            v.check(list.count <= 10, "owners", "too_many", "一个专有部分最多登记 10 位共有人")
            for (i, o) in list.prefix(10).enumerated() {
                let field = "owners[\(i)]"
                let who: ValidatedOwner.Who?
                if let id = o.ownerID { who = .existing(id) }
                else if let r = o.residentID { who = .resident(r) }
                else {
                    let name = (o.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                    let kind = OwnerKind(rawValue: (o.kind ?? "").isEmpty ? "person" : o.kind!)
                    v.check(!name.isEmpty && name.count <= 60, field + ".name", "required", "请填写产权人姓名或名称（不超过 60 个字）")
                    v.check(kind != nil, field + ".kind", "invalid_choice", "产权人类型只能是个人、单位或开发商")
                    who = name.isEmpty || kind == nil ? nil : .named(name, kind!)
                }
                var bp: Int? = 10000
                if list.count > 1 || !(o.share ?? "").isEmpty {
                    bp = DwellingRules.shareBP(o.share ?? "")
                    v.check(bp != nil, field + ".share_percent", "invalid_share", "份额应为 0 到 100 之间的百分数，最多两位小数")
                }
                if let who, let bp { out.append(ValidatedOwner(who: who, shareBP: bp)) }
            }
            if out.count == list.count, !list.isEmpty {
                let total = out.reduce(0) { $0 + $1.shareBP }
                if total > 10000 { v.add(.invalid("owners", "shares_over_100", "共有份额合计 \(shareText(total))，超过 100%")) }
                else if total < 10000 { v.add(.invalid("owners", "shares_under_100", "共有份额合计 \(shareText(total))，应为 100%")) }
                let developers = out.filter { if case .named(_, .developer) = $0.who { return true } else { return false } }
                if !developers.isEmpty && out.count > 1 { v.add(.invalid("owners", "developer_not_alone", "开发商未售房屋只能由开发商单独登记")) }
                var seen = Set<String>()
                for o in out {
                    let key: String
                    switch o.who { case .existing(let id): key = "o\(id)"; case .resident(let r): key = "r\(r)"; case .named(let n, _): key = "n" + n }
                    if !seen.insert(key).inserted { v.add(.invalid("owners", "duplicate_owner", "同一产权人不能重复登记")); break }
                }
            }
            owners = out
        }
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        v.check(reason.count <= 200, "reason", "too_long", "变更原因不能超过 200 个字")
        try v.throwIfAny()
        return ValidatedDwelling(partNo: partNo, areaCenti: area!, use: use!, titleNo: (title ?? "").isEmpty ? nil : title, owners: owners, reason: reason)
    }

    /// "张三 50%、李四 50%": how an owner list reads in the history of sales.
    public static func ownersText(_ owners: [(name: String, shareBP: Int)]) -> String {
        owners.map { owners.count == 1 ? $0.name : $0.name + " " + shareText($0.shareBP) }.joined(separator: "、")
    }
}
