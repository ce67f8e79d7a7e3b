import Foundation
import LinliCore
import LinliStore

/// User-facing text: Simplified Chinese by default, English switchable.
public enum Lang: String, Sendable {
    case zh, en
}

/// One capability's user-facing text: interface strings by key, and labels of stored codes.
public struct TextTable: Sendable {
    public let name: String
    public let strings: [String: (String, String)]
    public let values: [String: (String, String)]

    public init(name: String, strings: [String: (String, String)], values: [String: (String, String)]) {
        self.name = name; self.strings = strings; self.values = values
    }
}

/// Text tables merged into one catalogue. The built-in one (`I18n.texts`) holds the platform's
/// and the capabilities compiled into this target; the app's (`Renderer.texts`) adds the tables
/// of capabilities built in their own targets above this one, handed in when the app is put
/// together — this target cannot name them.
public struct Texts: Sendable {
    public let tables: [TextTable]
    /// key → (zh, en)
    let strings: [String: (String, String)]
    /// Labels for stored enum values.
    let values: [String: (String, String)]
    let zhTable: [String: String], enTable: [String: String]

    public init(_ tables: [TextTable]) {
        self.tables = tables
        strings = tables.reduce(into: [:]) { all, t in all.merge(t.strings) { a, _ in a } }
        values = tables.reduce(into: [:]) { all, t in all.merge(t.values) { a, _ in a } }
        zhTable = strings.mapValues { $0.0 }
        enTable = strings.mapValues { $0.1 }
    }

    /// The catalogue with more tables after these.
    public func adding(_ more: [TextTable]) -> Texts { Texts(tables + more) }

    package func table(_ lang: Lang) -> [String: String] { lang == .zh ? zhTable : enTable }

    package func label(_ value: String, _ lang: Lang) -> String {
        guard let v = values[value] else { return value }
        return lang == .zh ? v.0 : v.1
    }

    /// The label shown beside a coded value under `key` (its `<key>_label`), or nil for a key that has none.
    package func codeLabel(_ key: String, _ code: String, _ lang: Lang) -> String? {
        I18n.labelPrefixes[key].map { label($0 + code, lang) }
    }

    /// "strings.show: requests, linkage" for each key defined in more than one table. A key
    /// belongs to one table only: the merged view once kept the first of two definitions
    /// silently, and a merged request showed as "融合型大社区" (a community type); a test keeps
    /// this empty for the whole app's catalogue.
    public var duplicates: [String] {
        var out: [String] = []
        for (part, pick) in [("strings", \TextTable.strings), ("values", \TextTable.values)] {
            var owners: [String: [String]] = [:]
            for t in tables { for k in t[keyPath: pick].keys { owners[k, default: []].append(t.name) } }
            out += owners.filter { $0.value.count > 1 }.map { "\(part).\($0.key): \($0.value.joined(separator: ", "))" }
        }
        return out.sorted()
    }
}

package enum I18n {
    /// Every table compiled into this target (capabilities in their own targets bring theirs to
    /// the app's catalogue, `Renderer.texts`).
    static let tables: [TextTable] = [
        TextTable(name: "platform", strings: baseStrings, values: baseValues),
        TextTable(name: "registry", strings: RegistryText.strings, values: RegistryText.values),
        TextTable(name: "accounts", strings: AccountsText.strings, values: AccountsText.values),
        TextTable(name: "requests", strings: RequestsText.strings, values: RequestsText.values),
        TextTable(name: "linkage", strings: LinkageText.strings, values: LinkageText.values),
        TextTable(name: "home", strings: HomeText.strings, values: HomeText.values),
        TextTable(name: "gridwork", strings: GridWorkText.strings, values: GridWorkText.values),
    ]

    /// The built-in catalogue.
    package static let texts = Texts(tables)

    static let baseStrings: [String: (String, String)] = [
        "app": ("邻里", "Linli"),
        // Punctuation between a label and its value, and between items: Chinese uses full-width
        // marks, which on an English page read as stray symbols.
        "colon": ("：", ": "), "list_sep": ("、", ", "), "clause_sep": ("；", "; "), "optional_mark": ("（可选）", " (optional)"),
        "users": ("账号", "Accounts"), "new_user": ("新建账号", "New account"), "display_name": ("显示名称", "Display name"),
        "initial_password": ("初始密码（至少 10 位）", "Initial password (10+ characters)"), "no_users": ("没有账号", "No accounts"),
        "locked": ("登录失败次数过多，暂时锁定", "Locked after repeated failed sign-ins"), "revoke": ("撤销", "Revoke"),
        "grant_role": ("授予角色", "Grant a role"), "role": ("角色", "Role"), "grant_place": ("范围（地点；网格员、居民可不填）", "Over (place id; not needed for grid workers and residents)"),
        "grant_grid": ("网格（网格员）", "Grid (grid workers)"), "grant_household": ("住户（居民）", "Household (residents)"),
        "grant_department": ("所属部门或组织（部门、社会组织、党组织的账号）", "Department or organisation (its staff's account)"),
        "search_go": ("查找", "Find"), "household": ("住户", "Household"),
        "add_organisation": ("新增组织", "Add an organisation"), "org_kind": ("组织类型", "Kind"), "org_service_type": ("社会组织类别", "Social organisation type"),
        "org_registration": ("登记或备案", "Registered or filed"), "svc_activity": ("文体活动类", "Activity"), "svc_service": ("公益服务类", "Service"),
        "svc_rights": ("权益维护类", "Rights"), "reg_registered": ("登记", "Registered"), "reg_filed": ("备案", "Filed"),
        "add_facility": ("新增设施", "Add a facility"), "reports_to": ("上级组织", "Reports to"), "org_name_label": ("名称", "Name"), "remove": ("删除", "Remove"), "facility_kind": ("设施类型", "Kind"),
        "transfer": ("导入导出", "Import and export"), "import_csv": ("导入 CSV", "Import CSV"), "export_csv": ("导出 CSV", "Export CSV"),
        "csv_hint": ("可直接上传 Excel 工作簿（.xlsx，读第一个工作表）或 CSV（UTF-8 或 GBK 编码均可）。第一行为表头，列的顺序不限，至少包括：", "Upload an Excel workbook (.xlsx, its first sheet) or CSV (UTF-8 or GBK). The first line is the header, columns in any order, at least:"),
        "csv_file": ("Excel 或 CSV 文件", "Excel or CSV file"), "keep_good": ("有错误行时仍导入正确的行（默认：有错误则全部不导入）", "Import the good rows even if some are bad (default: nothing if any row is bad)"),
        "import_done": ("已导入", "Imported"), "new_households": ("户为新建住户", "new households"), "bad_rows": ("处错误", "errors"), "why": ("原因", "Why"),
        "nothing_imported": ("未导入任何数据", "nothing was imported"), "line": ("行", "Line"), "column": ("列", "Column"),
        "export_hint": ("导出文件含完整身份证号和手机号，导出将记入审计日志。", "The file holds full ID numbers and phones; the export is written to the audit log."),
        "tagline": ("社区治理与服务平台", "Community governance and services"),
        "login": ("登录", "Sign in"), "logout": ("退出", "Sign out"),
        "username": ("用户名", "Username"), "password": ("密码", "Password"),
        "home": ("首页", "Home"), "search": ("搜索居民", "Find residents"),
        "search_hint": ("姓名、手机号、身份证号或地址", "Name, phone, ID number or address"),
        "coverage": ("覆盖情况", "Coverage"), "audit": ("审计日志", "Audit log"),
        "large_print": ("长辈版（大字）", "Large print"), "normal_print": ("标准版", "Normal print"),
        "lang_switch": ("English", "中文"),
        "children": ("下级", "Below"), "households": ("住户", "Households"), "residents": ("居民", "Residents"),
        "organisations": ("组织", "Organisations"), "facilities": ("设施", "Facilities"), "grids": ("网格", "Grids"),
        "add_child": ("新增下级", "Add a place below"), "add_household": ("新增住户", "Add a household"),
        "add_resident": ("新增居民", "Add a resident"), "edit": ("编辑", "Edit"), "save": ("保存", "Save"), "cancel": ("取消", "Cancel"),
        "rename_move": ("改名或移动", "Rename or move"), "parent_id": ("上级编号", "Parent id"),
        "name": ("姓名", "Name"), "place_name": ("名称", "Name"), "kind": ("层级", "Level"),
        "community_type": ("社区类型", "Community type"),
        "id_number": ("身份证号", "ID number"), "phone": ("手机号", "Phone"), "gender": ("性别", "Gender"),
        "age": ("年龄", "Age"), "birth_date": ("出生日期", "Birth date"),
        "registration": ("户籍状态", "Registration"), "relation": ("与户关系", "Relation"), "tags": ("标签", "Tags"),
        "party_member": ("党员", "Party member"), "in_service_party": ("在职党员报到", "In-service party member"),
        "sms_notices": ("本人同意用短信接收社区通知（老年机可回复短信确认）", "Agreed to receive the community's notices by SMS (can answer by SMS)"),
        "sms_notices_short": ("短信接收通知", "Notices by SMS"),
        "yes": ("是", "Yes"), "no": ("否", "No"),
        "door": ("门牌号", "Door"), "area_m2": ("建筑面积（㎡）", "Floor area (m²)"), "micro_grid": ("微网格", "Micro-grid"),
        "grid": ("网格", "Grid"), "address": ("地址", "Address"), "owner": ("产权人", "Owner"),
        "dwelling": ("专有部分", "Exclusive part"), "owner_dwellings": ("该产权人名下套数", "Parts held by this owner"),
        "household_code": ("百姓码", "Household code"), "print_card": ("打印百姓码卡片", "Print household card"),
        "card_hint": ("社区工作人员扫码即可打开本户信息", "Community staff scan this to open the household"),
        "unmask": ("查看完整信息", "Show in full"), "reason": ("事由", "Reason"),
        "unmask_hint": ("查看完整身份证号和手机号将记入审计日志", "Showing the full ID number and phone is written to the audit log"),
        "unmasked_notice": ("以下为完整信息，本次查看已记入审计日志。", "Shown in full; this view has been written to the audit log."),
        "compounds": ("小区数", "Compounds"), "with_property": ("有物业", "With property company"),
        "without_property": ("无物业", "Without property company"), "with_owners": ("有业委会", "With owners' committee"),
        "without_owners": ("无业委会", "Without owners' committee"), "with_branch": ("有党支部", "With party branch"),
        "without_branch": ("无党支部", "Without party branch"), "total": ("合计", "Total"),
        "when": ("时间", "When"), "who": ("操作人", "Who"), "action": ("操作", "Action"), "object": ("对象", "Object"),
        "no_results": ("没有找到", "Nothing found"), "not_found": ("未找到", "Not found"),
        "error": ("出错了", "Something went wrong"), "back": ("返回", "Back"), "roles": ("角色", "Roles"),
        "errors_above": ("请按提示修改后再提交", "Please correct the fields marked below"),
        "more": ("更早的记录", "Older entries"), "nothing_here": ("暂无", "None"),
        "choose": ("请选择", "Choose"), "resident_count": ("人数", "People"), "show": ("查看", "Show"),
    ]

    /// Labels for stored enum values.
    static var values: [String: (String, String)] { texts.values }
    static let baseValues: [String: (String, String)] = [
        "city": ("市", "City"), "district": ("区", "District"), "street": ("街道", "Street"), "town": ("镇", "Town"),
        "community": ("社区", "Community"), "village": ("村", "Village"), "compound": ("小区", "Compound"),
        "villager_group": ("村民小组", "Villager group"), "building": ("楼栋", "Building"), "unit": ("单元", "Unit"),
        "ctype_urban": ("城市社区", "Urban"), "ctype_rural": ("农村社区", "Rural"), "ctype_merged": ("融合型大社区", "Merged large"),
        "ctype_relocated": ("城中村/拆迁安置社区", "Urban-village / relocated"),
        "orgreg_registered": ("登记", "Registered"), "orgreg_filed": ("备案", "Filed"), "organisation": ("组织", "Organisation"),
        "registered": ("户籍人口", "Registered"), "resident": ("常住人口", "Resident"), "migrant": ("流动人口", "Migrant"),
        "head": ("户主", "Head"), "owner": ("业主", "Owner"), "tenant": ("租户", "Tenant"), "family": ("家庭成员", "Family member"),
        "male": ("男", "Male"), "female": ("女", "Female"),
        "elderly_alone": ("独居老人", "Elderly living alone"), "elderly": ("老年人", "Elderly"), "disabled": ("残疾人", "Disabled"),
        "child": ("儿童", "Child"), "low_income": ("低收入", "Low income"), "veteran": ("退役军人", "Veteran"),
        "grid": ("网格", "Grid"), "micro": ("微网格", "Micro-grid"),
        "party_committee": ("社区党委", "Community party committee"), "party_branch": ("小区党支部", "Compound party branch"),
        "party_group": ("楼道党小组", "Building party group"), "residents_committee": ("居民委员会", "Residents' committee"),
        "villagers_committee": ("村民委员会", "Villagers' committee"), "owners_committee": ("业主委员会", "Owners' committee"),
        "property_company": ("物业服务企业", "Property company"), "social_organisation": ("社会组织", "Social organisation"),
        "community_enterprise": ("社区企业", "Community enterprise"), "resident_unit": ("驻区单位", "Resident unit"),
        "gov_department": ("政府部门（派出机构）", "Government department (field office)"),
        "activity": ("文体活动类", "Activity"), "service": ("公益服务类", "Service"), "rights": ("权益维护类", "Rights"),
        "filed": ("备案", "Filed"), "developer": ("开发商（未售）", "Developer (unsold)"), "person": ("个人", "Person"),
        "service_centre": ("党群服务中心", "Service centre"), "clinic": ("卫生服务站", "Clinic"), "school": ("学校", "School"),
        "kindergarten": ("幼儿园", "Kindergarten"), "elderly_care": ("养老服务站", "Elderly care"), "child_care": ("儿童之家", "Child care"),
        "market": ("菜市场", "Market"), "transport": ("公交站", "Bus stop"), "canteen": ("邻里食堂", "Canteen"),
        "role_city_admin": ("市级管理员", "City admin"), "role_street_staff": ("街道工作人员", "Street staff"),
        "role_community_staff": ("社区工作者", "Community staff"), "role_grid_worker": ("网格员", "Grid worker"),
        "role_property_company": ("物业", "Property company"), "role_owners_committee": ("业委会", "Owners' committee"), "role_resident": ("居民", "Resident"),
        "role_volunteer": ("志愿者", "Volunteer"), "role_auditor": ("审计员", "Auditor"),
        "role_partner_app": ("第三方应用", "Partner app"), "role_hotline": ("12345 热线", "12345 hotline"),
        "role_department_staff": ("部门工作人员", "Department staff"),
        "role_social_organisation": ("社会组织", "Social organisation"), "role_party_branch": ("党组织（党支部）", "Party organisation (branch)"),
    ]

    package static func table(_ lang: Lang) -> [String: String] { texts.table(lang) }
    package static func label(_ value: String, _ lang: Lang) -> String { texts.label(value, lang) }

    /// Keys whose values are enum codes; a `<key>_label` is added beside each for templates.
    static let labelledKeys: Set<String> = ["kind", "registration", "relation", "gender", "level",
                                             "service_type", "owner_kind", "role", "status", "urgency", "party_kind", "open311_status",
                                             "item_class", "law_item", "state", "method", "post"]
    /// Coded values whose labels live under a prefix, because the same code means different things
    /// in different capabilities ("accepted" request vs. "accepted" shift).
    static let prefixedKeys: [String: String] = ["shift_status": "shift_", "expense_status": "expense_", "need_status": "need_",
                                                 "stage": "stage_", "certificate_level": "cert_", "programme": "prog_", "txn_kind": "txn_", "unfit": "unfit_",
                                                 "round_status": "round_", "application_status": "app_", "channel": "channel_",
                                                 "community_type": "ctype_", "id_kind": "doc_", "org_registration": "orgreg_", "part_use": "use_", "meal": "meal_"]

    /// Every key whose value gets a `_label`, with the prefix of its label's code ("" for most).
    static let labelPrefixes: [String: String] = Dictionary(uniqueKeysWithValues: labelledKeys.map { ($0, "") }).merging(prefixedKeys) { _, p in p }

    /// The label shown beside a coded value under `key` (its `<key>_label`), or nil for a key that has none.
    static func codeLabel(_ key: String, _ code: String, _ lang: Lang) -> String? {
        texts.codeLabel(key, code, lang)
    }

    /// Adds human labels next to coded values, recursively, from `texts` (a page's: the app's
    /// whole catalogue, so that a capability in its own target has its codes labelled too).
    static func labelled(_ value: Any, _ lang: Lang, texts: Texts) -> Any {
        if var d = value as? [String: Any] {
            for (k, v) in d {
                if let s = v as? String, let l = texts.codeLabel(k, s, lang) { d[k + "_label"] = l }
                if k == "tags", let arr = v as? [String] { d["tag_labels"] = arr.map { texts.label($0, lang) } }
                d[k] = labelled(v, lang, texts: texts)
            }
            return d
        }
        if let a = value as? [Any] { return a.map { labelled($0, lang, texts: texts) } }
        // An empty text is "nothing" to a template: `{{#note}}` must not open for it.
        if let s = value as? String, s.isEmpty { return NSNull() }
        return value
    }
}
