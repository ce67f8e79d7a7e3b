import LinliCore
import LinliStore
/// The registry's and onboarding's user-facing text (zh, en).
enum RegistryText {
    static let strings: [String: (String, String)] = [
        "remove_place": ("删除此地点", "Remove this place"),
        "cards_link": ("打印本处百姓码卡片", "Print the household cards here"),
        "cards_count_before": ("共 ", ""), "cards_count_after": (" 户。每张 A4 纸印 8 张卡片，沿边框剪开，张贴在门口或交给住户。", " households. Eight cards to an A4 sheet: cut along the borders and post them at the doors or hand them out."),
        "csv_parts_hint": ("可另加专有部分与产权五列（专有部分编号,建筑面积,产权人,份额,开发商未售）：产权人填“本人”或姓名（共有人用“、”分隔，份额按同样顺序填写，合计 100%）；同一文件中同名产权人视为同一人；开发商未售房屋填“是”，可不填姓名和身份证号。没有居民身份证的，另加 证件类型,性别,出生日期 三列。", "Optional columns for the part and owners (专有部分编号,建筑面积,产权人,份额,开发商未售): 产权人 is 本人 or a name (co-owners separated by 、, shares in the same order, adding up to 100%); one name in one file is one owner; for the developer's unsold parts put 是 and leave the person empty. For residents without an ID card add 证件类型,性别,出生日期."),
        "csv_template": ("下载模板", "Download the template"),
        "remove_place_hint": ("只有没有下级、住户、组织、设施和网格，也没有诉求、议事或授权指向的地点才能删除。", "Only a place with nothing under it and nothing referring to it can be removed."),
        "add_grid": ("新增网格", "Add a grid"), "grid_name": ("网格名称", "Grid name"), "micro_grids": ("微网格", "Micro-grids"),
        "add_micro_grid": ("新增微网格", "Add a micro-grid"), "rename": ("改名", "Rename"), "remove_grid": ("删除网格", "Remove this grid"),
        "grid_households": ("户数", "Households"), "head_posts": ("楼长、单元长、微网格长", "Building, unit and micro-grid heads"),
        "appoint": ("任命", "Appoint"), "post_label": ("职务", "Post"), "leader": ("微网格长", "Micro-grid leader"),
        "moves": ("住户调整记录", "Households moved"), "moved_from": ("从", "From"), "moved_to": ("到", "To"),
        "grid_worker_hint": ("网格员在“账号”中授权：选择角色“网格员”并选择本网格。", "Grid workers are named under Accounts: grant the grid worker role for this grid."),
        "part_no": ("专有部分编号", "Part number"), "part_use": ("用途", "Use"), "title_no": ("不动产权证号", "Title certificate no."),
        "owners": ("产权人", "Owners"), "share": ("份额（%）", "Share (%)"), "owner_kind": ("产权人类型", "Kind of owner"),
        "owner_is_resident": ("是本社区居民", "A resident here"), "owner_existing": ("已登记的产权人（同一人多套房时选择）", "An owner already recorded (one buyer, several parts)"),
        "pick_owner_hint": ("输入产权人姓名或单位名称", "An owner's name"),
        "owner_n": ("产权人", "Owner"), "change_reason": ("变更原因（买卖、继承等；变更产权人时必填）", "Reason for the change (sale, inheritance; required when owners change)"),
        "ownership_history": ("产权变更记录", "Ownership history"), "before": ("原产权人", "Before"), "after": ("现产权人", "After"),
        "dwelling_hint": ("共有人份额合计须为 100%。开发商未售房屋请选“开发商（未售）”，无论几套，表决时只计一人。", "Shares add up to 100%. Mark the developer's unsold parts as such: however many, the developer counts as one owner in a vote."),
        "edit_dwelling": ("专有部分与产权", "Part and ownership"), "no_dwelling": ("尚未登记专有部分", "No exclusive part recorded yet"),
        "unsold": ("开发商未售", "Unsold (developer)"), "parts_held": ("名下套数", "Parts held"),
        "invite": ("邀请开通账号", "Invite to make an account"), "invite_code": ("邀请码", "Invitation code"),
        "invite_hint": ("请把邀请码交给居民本人。居民打开以下网址，输入邀请码，自己设置用户名和密码。邀请码只能用一次。", "Give this code to the resident in person. They open the address below, enter the code and choose a username and password. The code works once."),
        "invite_expires": ("有效期至", "Valid until"),
        "register": ("开通账号", "Make your account"), "register_hint": ("请输入社区工作人员给您的邀请码，再设置用户名和密码。", "Enter the code the community office gave you, then choose a username and password."),
        "new_password": ("设置密码（至少 10 位）", "Choose a password (10+ characters)"), "have_invite": ("有邀请码？", "Have an invitation code?"),
        "pick_household_hint": ("输入地址（如 金桂苑1幢101）、居民姓名或手机后四位", "Address (e.g. 金桂苑1幢101), a resident's name, or a phone's last four digits"),
        "pick_place_hint": ("输入地点名称（如 金桂苑、西林寺社区）", "A place's name"),
        "pick_resident_hint": ("输入居民姓名或手机后四位", "A resident's name or a phone's last four digits"),
        "pick_none": ("没有找到，请换个写法", "Nothing found; try another spelling"),
        "id_kind": ("证件类型", "Document"), "id_number_any": ("证件号码", "Document number"),
        "no_id_hint": ("没有居民身份证的，请选择证件类型，并填写性别和出生日期；暂无证件的（如未办证的儿童）不填号码。", "Without a resident ID card, choose the document and give gender and date of birth; with no document yet (a young child), leave the number empty."),
        "grant_resident": ("居民（可选：账号归属的居民本人，业主在线投票需要）", "Resident (optional: the person this account is; needed for an owner's online vote)"),
    ]

    static let values: [String: (String, String)] = [
        "natural_village": ("自然村", "Natural village"),
        "use_residential": ("住宅", "Residential"), "use_commercial": ("商业", "Commercial"), "use_office": ("办公", "Office"),
        "use_parking": ("车位", "Parking"), "use_storage": ("储藏室", "Storage"), "use_other": ("其他", "Other"),
        "ownerkind_person": ("个人", "Person"), "ownerkind_organisation": ("单位", "Organisation"), "ownerkind_developer": ("开发商（未售）", "Developer (unsold)"),
        "doc_id_card": ("居民身份证", "Resident ID card"), "doc_hmt_residence": ("港澳台居民居住证", "HK/Macau/Taiwan residence permit"),
        "doc_hk_macau_permit": ("港澳居民来往内地通行证", "HK/Macau home-return permit"), "doc_taiwan_permit": ("台湾居民来往大陆通行证", "Taiwan compatriot permit"),
        "doc_passport": ("护照", "Passport"), "doc_foreign_permanent": ("外国人永久居留身份证", "Foreigner's permanent residence card"),
        "doc_none": ("暂无证件", "No document yet"),
        "building_head": ("楼长", "Building head"), "unit_head": ("单元长", "Unit head"), "micro_grid_leader": ("微网格长", "Micro-grid leader"),
    ]
}
