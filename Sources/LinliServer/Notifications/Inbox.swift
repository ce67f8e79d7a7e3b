import Foundation
import SQLKit
import LinliCore
import LinliStore

/// A message for one user about one object. The text is rendered from `kind` in the reader's
/// language when shown, so a notification written today reads correctly after a language switch.
public struct OutgoingNotification: Sendable, Equatable {
    package init(userID: Int64, kind: String, requestID: Int64? = nil, subject: String, matterID: Int64? = nil, link: String? = nil) {
        self.userID = userID; self.kind = kind; self.requestID = requestID; self.subject = subject; self.matterID = matterID; self.link = link
    }
    public var userID: Int64
    public var kind: String
    public var requestID: Int64?
    public var subject: String
    public var matterID: Int64? = nil
    /// Where the message leads, for objects other than requests and matters (a task, a project, an expense).
    public var link: String? = nil
}

/// Where notifications go. The in-app inbox writes them in the same transaction as the change that
/// caused them; an SMS or WeChat notifier can be added beside it later without touching use cases.
public protocol Notifier: Sendable {
    func deliver(_ db: any SQLDatabase, _ notes: [OutgoingNotification], at: Int64) async throws
}

extension Notifier {
    /// Tells each of `users` once, never the one who acted.
    package func tell(_ db: any SQLDatabase, _ users: [Int64], except: Int64?, at: Int64, _ note: (Int64) -> OutgoingNotification) async throws {
        try await deliver(db, Set(users).subtracting([except].compactMap { $0 }).sorted().map(note), at: at)
    }
}

public struct InAppNotifier: Notifier {
    public init() {}
    public func deliver(_ db: any SQLDatabase, _ notes: [OutgoingNotification], at: Int64) async throws {
        // One user is told once per change even if they are reached by two routes.
        var seen = Set<String>()
        // Written out rather than built: the builder quoted each column anew on every submission.
        let fresh = notes.filter { n in seen.insert("\(n.userID)|\(n.kind)|\(n.requestID ?? 0)|\(n.matterID ?? 0)|\(n.link ?? "")").inserted }
        try await db.insertRows("INSERT INTO notifications (user_id, at, kind, request_id, subject, matter_id, link) VALUES ", fresh, chunk: 1_000) { n in
            "(\(n.userID), \(at), \(n.kind), \(n.requestID), \(n.subject), \(n.matterID), \(n.link))"
        }
    }
}

public struct NotificationView: Sendable, Codable {
    public var id: Int64
    public var at: Int64
    public var atText: String
    public var kind: String
    public var text: String
    public var requestID: Int64?
    public var matterID: Int64?
    public var link: String?
    public var unread: Bool
    enum CodingKeys: String, CodingKey { case id, at, atText = "at_text", kind, text, requestID = "request_id", matterID = "matter_id", link, unread }
}

/// Every user's inbox.
public struct Inbox: Sendable {
    let store: any Store
    let env: Env

    static let texts: [String: (String, String)] = [
        "assigned": ("派给您的新诉求：%@", "New request for you: %@"),
        "announcement": ("社区通知：%@", "Notice from your community: %@"),
        "returned": ("诉求被退回，需要重新派单：%@", "Request returned, please route it again: %@"),
        "unassigned": ("诉求没有匹配到责任方，请派单：%@", "No party found for a request, please route it: %@"),
        "escalated": ("诉求已超时升级，请您督办：%@", "Overdue request escalated to you: %@"),
        "overdue": ("您负责的诉求已超时：%@", "Your request is overdue: %@"),
        "supervised": ("上级督办：%@", "Supervision from above: %@"),
        "progress": ("您的诉求有新进展：%@", "Your request has news: %@"),
        "resolved": ("您的诉求已办结，请确认并评价：%@", "Your request is resolved, please confirm and rate: %@"),
        "reopened": ("居民不满意，诉求已重新打开：%@", "The resident rejected the resolution, reopened: %@"),
        "merged": ("您的诉求已与同类诉求合并处理：%@", "Your request was merged with a similar one: %@"),
        "closed": ("诉求已关闭：%@", "Request closed: %@"),
        "hotline_callback": ("12345 回访结果已记录：%@", "The 12345 return call was recorded: %@"),
        "hotline_reopened": ("12345 回访不满意，诉求已重新打开：%@", "The 12345 caller was not satisfied, reopened: %@"),
        "hotline_objection": ("承办单位申请退单，请答复：%@", "A unit objects to a 12345 dispatch, please answer: %@"),
        "hotline_returned": ("12345 同意退单，工单已退回热线：%@", "12345 agreed: the ticket went back to the hotline: %@"),
        "hotline_objection_refused": ("12345 不同意退单，请继续办理：%@", "12345 refused the objection, please handle it: %@"),
        "matter_suggested": ("新的议事提议：%@", "New matter raised: %@"),
        "matter_stage": ("议事事项进入下一阶段：%@", "A matter moved to its next stage: %@"),
        "matter_rejected": ("议事事项未获通过：%@", "A matter was not approved: %@"),
        "matter_filed": ("议事事项已备案：%@", "A matter was filed: %@"),
        "meeting_scheduled": ("会议通知：%@", "Meeting called: %@"),
        "poll_opened": ("请参加业主表决：%@", "Owners' vote open, please vote: %@"),
        "poll_closed": ("表决结果已产生：%@", "Vote result: %@"),
        "milestone": ("实施进度更新：%@", "Implementation progress: %@"),
        "proxy_appointed": ("业主已书面委托您代为投票，可在表决页面为其专有部分投票：%@", "An owner appointed you in writing to vote for them; you can vote for their parts on the poll's page: %@"),
        "ballot_replaced": ("工作人员以纸质或委托选票替换了您在线投的票，如有异议请联系社区：%@", "Staff replaced your online vote with a paper or proxy ballot; contact the community if this is wrong: %@"),
        "payment_confirmed": ("您的捐赠已到账，谢谢：%@", "Your gift has arrived, thank you: %@"),
        "shift_proposed": ("为您安排了志愿服务，请确认：%@", "A volunteer shift for you, please answer: %@"),
        "shift_call": ("志愿者招募，欢迎报名：%@", "Volunteers wanted: %@"),
        "shift_answered": ("志愿者回复了班次安排：%@", "A volunteer answered a shift: %@"),
        "shift_cancelled": ("志愿班次取消了（活动不办了），谢谢您：%@", "A volunteer shift is off (its activity was called off), thank you: %@"),
        "hours_confirmed": ("您的服务时长已确认：%@", "Your service hours were confirmed: %@"),
        "expense_pending": ("有一笔支出等待审批：%@", "An expense awaits approval: %@"),
        "expense_paid": ("支出已审批通过并入账：%@", "Expense approved and booked: %@"),
        "need_supported": ("您的需求得到更多支持：%@", "More support for your need: %@"),
        "need_project": ("您的需求已立项为微项目：%@", "Your need became a micro-project: %@"),
        "project_stage": ("微项目进入下一阶段：%@", "A micro-project moved on: %@"),
        "help_credited": ("邻居确认了您的帮助，时间已记入：%@", "Your help was confirmed and the time credited: %@"),
        "activity_withdrawn": ("您为这一户的活动报名已被取消：%@", "A sign-up you made was taken back: %@"),
        "canteen_served": ("您订的餐已送到：%@", "The meal you ordered was delivered: %@"),
        "canteen_eaten": ("您订的餐已在食堂取用：%@", "The meal you ordered was served at the canteen: %@"),
        "canteen_cancelled": ("您订的餐已被取消：%@", "A meal you ordered was cancelled: %@"),
        "canteen_paid": ("您订的餐已付款：%@", "Payment received for a meal you ordered: %@"),
        "canteen_refunded": ("已取消的订餐已退款：%@", "The money for a cancelled meal was handed back: %@"),
        "space_cancelled": ("您的场地预约已被取消：%@", "Your room booking was cancelled: %@"),
        "help_answered": ("有邻居接下了您的互助：%@", "A neighbour took up your post: %@"),
        "space_approved": ("场地预约已同意：%@", "Your room booking is approved: %@"),
        "space_refused": ("场地预约未获同意：%@", "Your room booking was not approved: %@"),
        "activity_promoted": ("候补转正，您已报上名：%@", "A place opened up, you are in: %@"),
        "sensitive_due": ("%@ 项敏感信息将在 30 天内到期，请核实仍属实的予以续期", "%@ sensitive records come due within 30 days: renew those still true"),
        "activity_cancelled": ("活动已取消：%@", "Activity called off: %@"),
        "affair_applied_for": ("工作人员已为您家提交办事申请，可随时查看进度：%@", "Staff applied for your household; follow it here: %@"),
        "affair_booked_for": ("工作人员已为您家预约窗口办理：%@", "Staff booked a counter time for your household: %@"),
        "affair_returned": ("您的办事申请需要补材料：%@", "Papers are missing from your application: %@"),
        "affair_done": ("您的办事申请已办结：%@", "Your application is done: %@"),
        "affair_refused": ("您的办事申请不予办理，请查看原因：%@", "Your application was refused; see why: %@"),
        "workitem_submitted": ("有部门事项等待准入审核：%@", "A department's work item awaits admission: %@"),
        "workitem_admitted": ("事项已准入，已下派到社区：%@", "Work item admitted and sent to the communities: %@"),
        "workitem_refused": ("事项未获准入，请查看理由：%@", "Work item not admitted; see why: %@"),
        "workitem_sent": ("街道准入了一项部门事项，请承接：%@", "The street admitted a department's work item for you: %@"),
        "workitem_revoked": ("事项已撤销：%@", "Work item revoked: %@"),
        "workitem_declined": ("社区拒绝了事项：%@", "A community refused a work item: %@"),
        "workitem_done": ("社区已完成事项：%@", "A community finished a work item: %@"),
        "rating_new": ("社区评价了本部门：%@", "A community rated your department: %@"),
        "assessment_open": ("考核已开始，请自评：%@", "An assessment has started; please assess yourselves: %@"),
        "assessment_published": ("考核结果已公布：%@", "Assessment results published: %@"),
        "rating_bad": ("收到差评，请在 15 个工作日内整改答复：%@", "A bad rating: answer with the fix within 15 working days: %@"),
        "rating_fixed": ("部门已就差评整改答复：%@", "The department answered the bad rating: %@"),
        "rating_appealed": ("部门对差评提出申诉：%@", "The department appealed a bad rating: %@"),
        "rating_upheld": ("申诉裁定：评价维持，须整改：%@", "Appeal decided: the rating stands and needs a fix: %@"),
        "rating_overturned": ("申诉裁定：评价撤销：%@", "Appeal decided: the rating is overturned: %@"),
    ]

    static func text(_ kind: String, _ subject: String, _ lang: Lang) -> String {
        guard let t = texts[kind] else { return subject }
        return (lang == .zh ? t.0 : t.1).replacingOccurrences(of: "%@", with: subject)
    }

    public func list(actor: Actor, lang: Lang, limit: Int = 50) async throws -> [NotificationView] {
        try await store.read { db in
            try await db.raw("""
                SELECT id, at, kind, request_id, matter_id, link, subject, read_at FROM notifications WHERE user_id = \(bind: actor.userID)
                ORDER BY id DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 200))))
                """).all().map { r in
                let at = try r.decode(column: "at", as: Int64.self)
                return NotificationView(id: try r.decode(column: "id", as: Int64.self), at: at, atText: LocalTime.text(at),
                                        kind: try r.decode(column: "kind", as: String.self),
                                        text: Self.text(try r.decode(column: "kind", as: String.self), try r.decode(column: "subject", as: String.self), lang),
                                        requestID: try r.decode(column: "request_id", as: Int64?.self),
                                        matterID: try r.decode(column: "matter_id", as: Int64?.self),
                                        link: try r.decode(column: "link", as: String?.self),
                                        unread: try r.decode(column: "read_at", as: Int64?.self) == nil)
            }
        }
    }

    public func unreadCount(actor: Actor) async throws -> Int {
        try await store.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(bind: actor.userID) AND read_at IS NULL")
                .first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func markAllRead(actor: Actor) async throws {
        let now = env.nowSeconds
        try await store.transaction { db in
            try await db.raw("UPDATE notifications SET read_at = \(bind: now) WHERE user_id = \(bind: actor.userID) AND read_at IS NULL").run()
        }
    }
}
