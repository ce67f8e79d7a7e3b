import Foundation
import LinliCore

/// The grid worker's visits page — what is due, the notices unread for two days, the open tasks
/// and the patrols not yet walked — as typed values written straight into template fields. It is
/// the page a grid worker opens most; built as `[String: Any]` and cast back value by value it
/// spent a seventh of its time on that (see BENCHMARKS.md). Its items are the same ones the
/// today page, the tasks page and the routes page show.
struct VisitsPage {
    var list: DueList
    var unread: [UnreadNotice]
    var tasks: [GridTaskView]
    var routes: [PatrolRouteView]
    var gridID: Int64?
    var code: String?
    var errorCode: String?
    var canPlan: Bool

    func fields(_ lang: Lang) -> TemplateFields {
        let items = list.items.map { Self.dueItem($0, lang) }
        let unread = unread.map { u -> TemplateValue in
            .object(TemplateFields(distinct: ["announcement_id", "title", "household_id", "address", "sent_on"],
                                   [Self.int(u.announcementID), .text(u.title), Self.int(u.householdID), .text(u.address), .text(GridWorkRoutes.dayText(u.sentOn))]))
        }
        let tasks = tasks.map { Self.taskItem($0, lang) }
        let patrols = routes.map { TemplateValue.object(Self.routeItem($0, lang)) }
        let names = ["tasks", "has_tasks", "due_heading", "patrols", "has_patrols", "items", "none", "count", "overdue", "has_overdue",
                     "grid", "has_grid", "code", "error_code", "can_plan", "unread", "has_unread", "later", "has_later", "all_href"]
        let values: [TemplateValue] = [
            .list(tasks), .bool(!tasks.isEmpty), .bool(!tasks.isEmpty || !unread.isEmpty || !patrols.isEmpty),
            .list(patrols), .bool(!patrols.isEmpty),
            .list(items), .bool(items.isEmpty), Self.int(list.total), Self.int(list.overdue), .bool(list.overdue > 0),
            Self.int(gridID ?? 0), .bool(gridID != nil), .text(code ?? ""), .text(errorCode ?? ""),
            .bool(canPlan), .list(unread), .bool(!unread.isEmpty),
            Self.int(list.later), .bool(list.later > 0), .text("/visits?all=1" + (gridID.map { "&grid=\($0)" } ?? "")),
        ]
        return TemplateFields(distinct: names, values)
    }

    /// A number as templates take it (`TemplateEncoding`'s rule: 0 is false to a section).
    static func int(_ n: Int64) -> TemplateValue { TemplateEncoding.number(n) }
    static func int(_ n: Int) -> TemplateValue { TemplateEncoding.number(Int64(n)) }

    /// One household on a due list (also the today page's).
    static func dueItem(_ d: DueVisit, _ lang: Lang) -> TemplateValue {
        var names = ["household_id", "address", "overdue", "situations", "due_on", "follow_up", "period", "last"]
        var values: [TemplateValue] = [
            int(d.householdID), .text(d.address), .bool(d.overdue), .text(d.situations.map { I18n.label($0, lang) }.joined(separator: "、")),
            .text(GridWorkRoutes.dayText(d.dueOn)), .bool(d.reason == DueReason.followUp.rawValue),
            .text(d.period.map { I18n.label("period_" + $0, lang) } ?? ""), .text(d.lastVisit.map(GridWorkRoutes.dayText) ?? I18n.table(lang)["visit_never"]!),
        ]
        if let r = d.retryFrom { names.append("retry_from"); values.append(.text(GridWorkRoutes.dayText(r))) }
        return .object(TemplateFields(distinct: names, values))
    }

    /// A task as lists show it: deadline, state, what is left (the worker's share, or the whole).
    static func taskItem(_ t: GridTaskView, _ lang: Lang) -> TemplateValue {
        let n = t.counts ?? t.mine ?? GridTaskCounts(households: 0, done: 0, problems: 0)
        return .object(TemplateFields(distinct: ["id", "title", "deadline", "state", "overdue", "finished", "households", "done", "problems", "open", "has_problems", "rate"], [
            int(t.id), .text(t.title), .text(GridWorkRoutes.dayText(t.deadline)), .text(I18n.label("task_state_" + t.state.rawValue, lang)),
            .bool(t.state == .overdue), .bool(t.state == .complete || t.state == .closed),
            int(n.households), int(n.done), int(n.problems), int(n.open), .bool(n.problems > 0),
            .text(n.households == 0 ? "—" : "\((n.done + n.problems) * 100 / n.households)%"),
        ]))
    }

    /// A patrol route as lists show it: period, state, when it is due.
    static func routeItem(_ r: PatrolRouteView, _ lang: Lang) -> TemplateFields {
        TemplateFields(distinct: ["id", "name", "grid", "period", "points", "state", "overdue", "done", "due_by", "last", "active"], [
            int(r.id), .text(r.name), .text(r.gridName), .text(I18n.label("patrol_period_" + r.period.rawValue, lang)),
            int(r.points.count), .text(I18n.label("patrol_state_" + r.state.rawValue, lang)), .bool(r.state == .overdue), .bool(r.state == .done),
            .text(GridWorkRoutes.dayText(r.dueBy)), .text(r.lastPatrol ?? I18n.table(lang)["patrol_never"]!), .bool(r.active),
        ])
    }
}
