import LinliCore
import LinliStore
/// The deliberation capability's user-facing text (zh, en).
enum DeliberationText {
    static let strings: [String: (String, String)] = [
        "matters": ("议事", "Deliberation"), "new_matter": ("提出议事事项", "Raise a matter"), "matter_title": ("事项标题", "Title"),
        "matter_description": ("事项内容", "What it is about"), "process": ("议事流程", "Process"), "item_class": ("表决事项类别", "Kind of item"),
        "place_compound_building": ("小区或楼栋", "Compound or building"), "stages": ("议事阶段", "Stages"), "current_stage": ("当前阶段", "Current stage"),
        "no_matters": ("暂无议事事项", "No matters"), "meetings": ("会议", "Meetings"), "polls": ("业主表决", "Owners' votes"),
        "documents": ("文件与纪要", "Documents and minutes"), "milestones": ("实施进度", "Implementation"), "notices": ("公开栏", "Notices"),
        "record_outcome": ("记录本阶段结果", "Record this stage's outcome"), "outcome": ("结果", "Outcome"), "passed_label": ("通过", "Passed"),
        "rejected_label": ("否决", "Rejected"), "skip_stage": ("跳过本阶段（非必经）", "Skip this stage (optional)"), 
        "advance_from_meeting": ("会议已召开，记录本阶段结果", "Meeting held: record this stage's outcome"),
        "advance_from_vote": ("按表决结果进入下一阶段", "Apply the vote's result"),
        "schedule_meeting": ("召开会议", "Call a meeting"), "meeting_title": ("会议名称", "Meeting"), "starts_at": ("时间", "When"),
        "meeting_location": ("地点", "Where"), "agenda": ("议程", "Agenda"), "invitees": ("邀请", "Invited"),
        "invitees_hint": ("每行一个：organisation:编号、building:编号 或 household:编号；不填则全小区住户可签到", "One per line: organisation:ID, building:ID or household:ID; empty means every household of the compound"),
        "attendance": ("签到", "Attendance"), "scan_code": ("扫描或输入住户码", "Scan or type the household code"), "attendee_name": ("或填写参会人姓名", "Or the attendee's name"),
        "record_attendance": ("登记", "Record"), "minutes": ("会议纪要", "Minutes"), "decisions": ("会议决定", "Decisions"), "save_minutes": ("保存纪要", "Save minutes"),
        "open_poll": ("发起业主表决", "Open an owners' vote"), "question": ("表决事项", "Question"), "closes_at": ("截止时间", "Closes"),
        "vote_rule": ("表决规则", "Rule set"), "electorate_place": ("表决范围（小区或楼栋编号，不填为事项所在地）", "Electorate (compound or building id; empty: the matter's place)"),
        "vote": ("投票", "Vote"), "your_parts": ("您家的专有部分", "Your exclusive parts"), "yes_label": ("同意", "For"), "no_label": ("反对", "Against"),
        "abstain_label": ("弃权", "Abstain"), "cast": ("提交投票", "Cast my vote"), "vote_recorded": ("您的投票已记录。", "Your vote is recorded."),
        "change_vote_hint": ("截止前可以改票，以最后一次为准。", "You may change your vote until the poll closes; the last one counts."),
        "record_ballot": ("录入纸质票或委托票", "Enter a paper or proxy ballot"), "part_id": ("专有部分编号", "Part number"), "method": ("方式", "Method"),
        "proxy_name": ("受托人", "Proxy"), "proxy_document": ("授权委托书（扫描件）", "Signed authorisation (scan)"),
        "close_poll": ("结束表决并计票", "Close and count"), "participation": ("参与表决", "Participation"), "approval": ("同意", "Approval"),
        "tally_by_area": ("按面积", "By area"), "tally_by_head": ("按人数", "By head"), "required": ("要求", "Required"), "reached": ("达到", "Reached"),
        "result": ("结果", "Result"), "poll_passed": ("通过", "Passed"), "poll_failed": ("未通过", "Not passed"), "decided_by": ("决定因素", "Decided by"),
        "recount_ok": ("按现存选票复核，结果一致。", "Recounting the stored ballots gives the same result."),
        "recount_bad": ("复核结果与记录不一致！", "The recount differs from the recorded result!"),
        "ballot_list": ("投票清单", "Ballot list"), "choice": ("选择", "Choice"), "revision": ("次数", "Revision"),
        "show_names": ("查看实名（记入审计）", "Show names (audited)"), "turnout_only": ("表决进行中，只公布参与情况；结束后公布结果。", "While the vote runs only turnout is shown; the result follows the close."),
        "publish": ("公开", "Publish"), "notice_title": ("公告标题", "Notice title"), "notice_body": ("公告内容", "Notice text"),
        "notice_public": ("同时对小区外公开", "Also public outside the compound"), "add_milestone": ("登记实施节点", "Add a milestone"),
        "due_day": ("计划完成日期", "Due"), "mark_done": ("已完成", "Done"), "file_matter": ("报社区备案", "File with the community"),
        "filing_note": ("备案说明（如备案编号）", "Filing note (e.g. reference)"), "filed_readonly": ("本事项已备案，只读。", "This matter is filed and read-only."),
        "rejected_because": ("未获通过：", "Not approved: "), "vote_rules": ("表决规则", "Vote rules"), "deliberation_settings": ("议事设置", "Deliberation settings"),
        "participation_area": ("参与面积", "Participating area"), "participation_heads": ("参与人数", "Participating owners"),
        "ordinary_area": ("一般事项同意面积", "Ordinary: area for"), "ordinary_heads": ("一般事项同意人数", "Ordinary: owners for"),
        "major_area": ("重大事项同意面积", "Major: area for"), "major_heads": ("重大事项同意人数", "Major: owners for"),
        "allow_change": ("截止前允许改票", "Ballots may change until close"), "approval_basis": ("同意比例的基数", "Approval counted among"),
        "rule_code": ("编码", "Code"), "rule_name": ("名称", "Name"), "rule_place": ("仅适用于（地点编号，可空）", "Only at (place id, optional)"),
        "save_rule": ("保存规则", "Save rule"), "in_use": ("进行中的表决", "Open polls"), "processes": ("议事流程", "Processes"),
        "define_process": ("新建流程", "Define a process"), "process_code": ("编码", "Code"), "process_name": ("名称", "Name"),
        "process_stages": ("阶段（每行：编码|名称|类型|必经 yes/no）", "Stages (one per line: code|name|kind|required yes/no)"),
        "stage_kinds_hint": ("类型：suggestion 提议、decision 决定、meeting 会议、vote 表决、publish_resolution 决议公开、publish_implementation 实施公开、filing 备案", "Kinds: suggestion, decision, meeting, vote, publish_resolution, publish_implementation, filing"),
        "community_place": ("所属社区或小区编号", "Community or compound id"), "back_to_matter": ("返回事项", "Back to the matter"),
        "attendees": ("参会", "Attended"), "already_recorded": ("已签到过", "Already recorded"), "notice_board": ("公开栏", "Notice board"),
        "no_notices": ("暂无公开内容", "Nothing published yet"), "ballots_cast": ("已投票", "Ballots"), "electorate": ("表决范围", "Electorate"),
        "parts": ("专有部分", "Parts"), "heads": ("业主人数", "Owners"),
        "method_paper": ("纸质票", "Paper ballot"), "method_proxy": ("委托投票（须上传委托书）", "Proxy (authorisation required)"),
        "basis_participating": ("参与表决者", "Those taking part"), "basis_all": ("全体业主", "All owners"),
        "poll_open": ("表决中", "Voting open"), "poll_ended": ("表决已结束", "Voting closed"),
        "attach_document": ("附上本阶段文件（可选）", "Attach this stage's document (optional)"), "document_title": ("文件标题", "Title"),
        "document_body": ("文件内容", "Text"), "scan_with_camera": ("用摄像头扫码", "Scan with the camera"),
        "headcount_rule": ("人数按《建筑物区分所有权解释》计算：一个专有部分按一人；同一买受人的多个专有部分、建设单位未出售的部分，各按一人。", "Heads follow the judicial interpretation: one part counts as one owner, but one buyer's several parts, and the developer's unsold parts, count as one."),
    ]

    static let values: [String: (String, String)] = [
        "ordinary": ("一般事项（过半数）", "Ordinary (more than half)"), "major": ("重大事项（第 278 条第六至八项，四分之三）", "Major (art. 278 items 6–8, three quarters)"),
        "passed": ("通过", "Passed"), "rejected": ("否决", "Rejected"), "skipped": ("跳过", "Skipped"), "current": ("进行中", "Current"), "pending": ("未开始", "Pending"),
        "scheduled": ("已通知", "Called"), "held": ("已召开", "Held"), 
        "online": ("网上投票", "Online"), "paper": ("纸质票", "Paper"), "proxy": ("委托投票", "Proxy"), "code": ("扫码签到", "Code"), "staff": ("工作人员登记", "By staff"),
        "resolution": ("决议公开", "Resolution"), "implementation": ("实施结果公开", "Implementation"), "minutes": ("会议纪要", "Minutes"),
        "participating": ("参与表决者", "Those taking part"), "household": ("住户", "Household"),
        "choice_yes": ("同意", "For"), "choice_no": ("反对", "Against"), "choice_abstain": ("弃权", "Abstain"),
    ]

    static func criterion(_ code: String, _ lang: Lang) -> String {
        let t: [String: (String, String)] = [
            "participation_area": ("参与表决的专有部分面积未达到要求", "too little area took part"),
            "participation_heads": ("参与表决的业主人数未达到要求", "too few owners took part"),
            "approval_area": ("同意的专有部分面积未达到要求", "too little area in favour"),
            "approval_heads": ("同意的业主人数未达到要求", "too few owners in favour"),
            "all_met": ("各项比例均已达到", "every threshold met"),
        ]
        return t[code].map { lang == .zh ? $0.0 : $0.1 } ?? code
    }
}
