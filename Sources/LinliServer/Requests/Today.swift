import Foundation
import Hummingbird
import LinliCore

/// Time left before a deadline in words a grid worker reads at a glance on a phone: minutes under
/// two hours, hours under two days, then days; "已超时" once it has passed. Worked examples in
/// ModelTests.
public enum TimeLeft {
    public static func words(due: Int64, now: Int64, _ lang: Lang) -> (text: String, late: Bool) {
        let late = now > due
        let seconds = late ? now - due : due - now
        let minutes = max(1, seconds / 60)
        let (n, unitZh, unitEn): (Int64, String, String) =
            minutes < 120 ? (minutes, "分钟", "min") : (minutes < 48 * 60 ? (minutes / 60, "小时", "h") : (minutes / 1440, "天", "days"))
        switch lang {
        case .zh: return (late ? "已超时 \(n) \(unitZh)" : "还剩 \(n) \(unitZh)", late)
        case .en: return (late ? "\(n) \(unitEn) late" : "\(n) \(unitEn) left", late)
        }
    }

    /// The deadline a request is working towards now: accepting, then contacting, then resolving.
    public static func nextDeadline(_ v: RequestView) -> (code: String, due: Int64) {
        if v.acceptedAt == nil { return ("accept", v.acceptDue) }
        if v.contactedAt == nil { return ("contact", v.contactDue) }
        return ("resolve", v.resolveDue)
    }
}

/// Opens an address in the phone's map app: the AMap (高德) URI API, which hands over to the app
/// when it is installed and shows a web map otherwise; coordinates are sent as WGS-84 and
/// converted by the provider. Only a link: Linli loads nothing from it.
public enum MapAppLink {
    public static func url(lat: Double?, lng: Double?, address: String) -> String {
        let name = address.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        if let lat, let lng {
            return "https://uri.amap.com/marker?position=\(lng),\(lat)&name=\(name)&coordinate=wgs84&callnative=1"
        }
        return "https://uri.amap.com/search?keyword=\(name)&callnative=1"
    }
}

extension RequestsRoutes {
    /// A grid worker's day on the stairwell: what is theirs to handle, nearest deadline first,
    /// then the rest of their grid's open requests; each with time left, the way there and a
    /// call button where the reporter allowed calls.
    func registerToday(_ r: Routes) {
        r.get("/today", .action(.requestWork)) { _, c in
            let actor = try c.requireActor()
            let (mine, others) = try await todayLists(actor, c.lang)
            let visits = actor.may(.visitLog) ? try await dueVisits(actor, c.lang) : []
            let t = I18n.table(c.lang)
            let now = requests.env.nowSeconds
            let today = ChinaTime.localDate(Date(timeIntervalSince1970: TimeInterval(now)))
            return renderer.page("today", [
                "mine": mine, "others": others, "none_mine": mine.isEmpty, "has_others": !others.isEmpty,
                "date": "\(today.month)月\(today.day)日", "late_count": mine.filter { $0["late"] as? Bool == true }.count,
                "open_count": mine.count, "urgent_tag": I18n.label("urgent", c.lang),
                "visits": Array(visits.prefix(5)), "has_visits": !visits.isEmpty, "visit_count": visits.count, "can_visits": actor.may(.visitLog),
            ], context: c, title: t["today"]!)
        }
        r.get("/api/v1/today", .action(.requestWork)) { _, c in
            let actor = try c.requireActor()
            return try JSON.response(try await todayViews(actor, c.lang))
        }
        r.post("/requests/:id/call", .action(.requestWork)) { _, c in
            let id = try c.id("id")
            let (name, phone) = try await requests.callReporter(id, actor: try c.requireActor())
            let t = I18n.table(c.lang)
            return renderer.page("call", ["id": id, "name": name, "phone": phone, "dial": PublicPhone.dialable(phone) ?? phone.filter(\.isNumber)], context: c, title: t["call_reporter"]!)
        }
        r.post("/api/v1/requests/:id/call", .action(.requestWork)) { _, c in
            let (name, phone) = try await requests.callReporter(try c.id("id"), actor: try c.requireActor())
            return try JSON.response(["name": name, "phone": phone])
        }
    }

    /// What is the actor's to handle (overdue and urgent first, then the nearest deadline) and the
    /// rest of their area's open requests, nearest deadline first.
    func todayViews(_ actor: Actor, _ lang: Lang) async throws -> TodayView {
        let queue = try await requests.list(.queue, actor: actor, lang: lang, limit: 100)
        let mineIDs = Set(queue.map(\.id))
        // Open ones only, chosen in SQL: an old open request must not fall behind 200 newer closed ones.
        let others = try await requests.list(.area, actor: actor, lang: lang, openOnly: true, limit: 200)
            .filter { !mineIDs.contains($0.id) }
        return TodayView(mine: queue, others: others)
    }

    func todayLists(_ actor: Actor, _ lang: Lang) async throws -> ([[String: Any]], [[String: Any]]) {
        let now = requests.env.nowSeconds
        let views = try await todayViews(actor, lang)
        func item(_ v: RequestView) -> [String: Any] {
            let next = TimeLeft.nextDeadline(v)
            let left = TimeLeft.words(due: next.due, now: now, lang)
            return ["id": v.id, "category": v.categoryName, "address": v.address, "status": I18n.label(v.status, lang),
                    "deadline": I18n.label("deadline_" + next.code, lang), "left": left.text, "late": left.late,
                    "urgent": v.urgency == "urgent", "map": MapAppLink.url(lat: v.lat, lng: v.lng, address: v.address),
                    "can_call": v.callbackOK, "party": v.partyName]
        }
        return (views.mine.map(item), views.others.map(item))
    }
}

public struct TodayView: Sendable, Codable {
    public var mine: [RequestView]
    public var others: [RequestView]
}
