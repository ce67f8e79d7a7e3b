import Foundation
import SQLKit
import LinliCore
import LinliStore

/// The answer the hotline's return call (回访) got from the caller.
public enum HotlineCallback: String, Sendable, CaseIterable, Codable {
    case satisfied
    case basic = "basically_satisfied"
    case dissatisfied
}

/// Where an objection to the hotline's dispatch (退单) stands.
public enum HotlineObjection: String, Sendable, CaseIterable, Codable {
    case none = "", pending, accepted, refused
}

/// The plain rules of the 12345 link (no I/O; worked examples in HotlineRulesTests).
public enum HotlineRules {
    /// A unit sent a ticket that is not its own objects within this long of the dispatch; after
    /// that the ticket is its to handle (the hotline's rule in most cities is one working day; a
    /// calendar day keeps the rule readable where nights and weekends are short of staff).
    public static let objectionWindow: Int64 = 24 * 3600
    /// A dispatch time up to ten minutes ahead of our clock is the two clocks disagreeing.
    static let clockSkew: Int64 = 600

    /// Ticket numbers as hotlines write them: letters, digits, `-` and `_`, 4 to 40 of them.
    public static func validTicketNo(_ s: String) -> Bool {
        (4...40).contains(s.utf8.count) && s.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2D || c == 0x5F
        }
    }

    /// The request's own resolve clock is the earlier of Linli's rule for the category and the
    /// hotline's deadline: the community is judged by the hotline on the hotline's.
    public static func resolveDue(policy: Int64, hotline: Int64) -> Int64 { min(policy, hotline) }

    /// The dispatch time and the deadline of a ticket: both given, the dispatch not in the future
    /// nor over 90 days old, the deadline after it and within a year.
    public static func checkTimes(dispatched: Int64?, due: Int64?, now: Int64) -> [LinliError] {
        var v = Validator()
        if let dispatched {
            v.check(dispatched <= now + clockSkew, "hotline_dispatched_at", "in_future", "派单时间不能晚于现在")
            v.check(dispatched >= now - 90 * 86400, "hotline_dispatched_at", "too_old", "派单时间不能早于 90 天前")
        } else {
            v.add(.invalid("hotline_dispatched_at", "required", "请填写 12345 派单时间（如 2026-12-01T09:30）"))
        }
        if let due {
            if let dispatched { v.check(due > dispatched && due <= dispatched + 366 * 86400, "hotline_due_at", "invalid", "办理时限应晚于派单时间，且在一年之内") }
        } else {
            v.add(.invalid("hotline_due_at", "required", "请填写 12345 要求的办结时限（如 2026-12-05T17:30）"))
        }
        return v.errors
    }

    /// Why an objection cannot be raised now, or nil when it can.
    public static func objectionRefusal(state: HotlineObjection, open: Bool, dispatchedAt: Int64, now: Int64) -> String? {
        if state != .none { return "该工单已提出过退单，不能再次提出" }
        if !open { return "诉求已不在办理中，不能退单" }
        if now > dispatchedAt + objectionWindow { return "派单已超过 24 小时，不能再退单，请按工单办理" }
        return nil
    }

    /// A return call may be recorded when none was, or again once the request is resolved anew
    /// (after an earlier call reopened it, or came before it was handled); a call that closed it
    /// is final (closed is the end).
    public static func mayRecordCallback(previous: HotlineCallback?, status: RequestStatus) -> Bool {
        previous == nil || status == .resolved
    }

    /// The return call closes the loop: on a request handled and waiting for the caller's word,
    /// "satisfied" and "basically satisfied" close it (rated 5 and 4), "dissatisfied" sends it
    /// back to be handled again (rated 2), as a resident's own confirm or reject would. On a
    /// request not yet handled it is only recorded.
    public static func step(for answer: HotlineCallback, status: RequestStatus) -> (transition: RequestTransition, rating: Int)? {
        guard status == .resolved else { return nil }
        switch answer {
        case .satisfied: return (.confirm, 5)
        case .basic: return (.confirm, 4)
        case .dissatisfied: return (.reject, 2)
        }
    }
}

/// A ticket's hotline fields as a request shows them.
public struct HotlineView: Sendable, Codable {
    public var ticketNo: String
    public var dispatchedAt: String
    public var dueAt: String
    public var overdue: Bool
    public var callback: String?
    public var callbackNote: String
    public var callbackAt: String?
    public var objection: String
    public var objectionReason: String
    public var objectionAt: String?
    public var objectionAnswer: String
    public var canObject: Bool
    public var canAnswer: Bool
    public var canRecordCallback: Bool
    enum CodingKeys: String, CodingKey {
        case ticketNo = "ticket_no", dispatchedAt = "dispatched_at", dueAt = "due_at", overdue, callback, callbackNote = "callback_note"
        case callbackAt = "callback_at", objection, objectionReason = "objection_reason", objectionAt = "objection_at"
        case objectionAnswer = "objection_answer", canObject = "can_object", canAnswer = "can_answer", canRecordCallback = "can_record_callback"
    }
}

public struct HotlineCallbackInput: Codable, Sendable {
    public var result: String?
    public var note: String?
    public init(result: String? = nil, note: String? = nil) { self.result = result; self.note = note }
}

public struct HotlineObjectionInput: Codable, Sendable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

public struct HotlineAnswerInput: Codable, Sendable {
    public var accepted: Bool?
    public var note: String?
    public init(accepted: Bool? = nil, note: String? = nil) { self.accepted = accepted; self.note = note }
}

/// The hotline's fields of a new ticket, checked, for `submit` to store with the request.
struct HotlineTicket: Sendable {
    var ticketNo: String, dispatchedAt: Int64, dueAt: Int64
}

extension RequestsService {
    struct HotlineRow: Sendable {
        var ticketNo: String, dispatchedAt: Int64, dueAt: Int64
        var callback: HotlineCallback?, callbackNote: String, callbackAt: Int64?
        var objection: HotlineObjection, objectionReason: String, objectionAt: Int64?, objectionBy: Int64?, objectionAnswer: String
    }

    /// The hotline fields of a submission, checked (nil when it is not a hotline ticket).
    static func hotlineTicket(_ input: RequestInput, channel: Channel?, actor: Actor, now: Int64, into v: inout Validator) -> HotlineTicket? {
        let no = input.hotlineTicketNo?.trimmingCharacters(in: .whitespaces) ?? ""
        guard channel == .hotline else {
            if !no.isEmpty { v.add(.invalid("hotline_ticket_no", "not_hotline", "只有来源为 12345 热线的诉求才有工单号")) }
            return nil
        }
        guard actor.may(.hotlineLink) else {
            v.add(.invalid("channel", "not_hotline_account", "只有 12345 热线的账号或街道工作人员可以登记热线工单"))
            return nil
        }
        v.check(HotlineRules.validTicketNo(no), "hotline_ticket_no", "invalid", "请填写 12345 工单号（4–40 位字母、数字、- 或 _）")
        let dispatched = input.hotlineDispatchedAt.flatMap { Input.localDateTime($0.trimmingCharacters(in: .whitespaces)) }
        let due = input.hotlineDueAt.flatMap { Input.localDateTime($0.trimmingCharacters(in: .whitespaces)) }
        if input.hotlineDispatchedAt?.isEmpty == false, dispatched == nil {
            v.add(.invalid("hotline_dispatched_at", "invalid", "派单时间的格式应为 2026-12-01T09:30"))
        } else if input.hotlineDueAt?.isEmpty == false, due == nil {
            v.add(.invalid("hotline_due_at", "invalid", "办结时限的格式应为 2026-12-05T17:30"))
        } else {
            for e in HotlineRules.checkTimes(dispatched: dispatched, due: due, now: now) { v.add(e) }
        }
        guard let dispatched, let due, HotlineRules.validTicketNo(no) else { return nil }
        return HotlineTicket(ticketNo: no, dispatchedAt: dispatched, dueAt: due)
    }

    /// Stores a new ticket's fields with its request; a ticket number the link already holds
    /// (sent again by another account, or typed in twice) is refused, and the request with it.
    func storeHotline(_ db: any SQLDatabase, _ t: HotlineTicket, requestID: Int64) async throws {
        do {
            try await db.query("""
                INSERT INTO request_hotline (request_id, ticket_no, dispatched_at, due_at) VALUES (\(requestID), \(t.ticketNo), \(t.dispatchedAt), \(t.dueAt))
                """).run()
        } catch where isUniqueViolation(error) {
            throw LinliError.conflict("hotline_ticket_no", "duplicate_ticket", "工单号 \(t.ticketNo) 已经登记过")
        }
    }

    func hotlineRow(_ db: any SQLDatabase, _ requestID: Int64, forUpdate: Bool = false) async throws -> HotlineRow? {
        guard let h = try await db.query("""
            SELECT ticket_no, dispatched_at, due_at, callback, callback_note, callback_at, objection, objection_reason, objection_at, objection_by, objection_answer
            FROM request_hotline WHERE request_id = \(requestID)\(unsafeRaw: forUpdate ? store.dialect.lockForUpdate(of: nil) : "")
            """).first() else { return nil }
        return HotlineRow(ticketNo: try h.decode(column: "ticket_no", as: String.self), dispatchedAt: try h.decode(column: "dispatched_at", as: Int64.self),
                          dueAt: try h.decode(column: "due_at", as: Int64.self),
                          callback: try h.decode(column: "callback", as: String?.self).flatMap(HotlineCallback.init(rawValue:)),
                          callbackNote: try h.decode(column: "callback_note", as: String.self), callbackAt: try h.decode(column: "callback_at", as: Int64?.self),
                          objection: HotlineObjection(rawValue: try h.decode(column: "objection", as: String.self)) ?? .none,
                          objectionReason: try h.decode(column: "objection_reason", as: String.self),
                          objectionAt: try h.decode(column: "objection_at", as: Int64?.self), objectionBy: try h.decode(column: "objection_by", as: Int64?.self),
                          objectionAnswer: try h.decode(column: "objection_answer", as: String.self))
    }

    /// Speaks for the hotline on this request (its return call, its answer to an objection): an
    /// account of the hotline role over the request's place — the hotline's system, or the
    /// street's 12345 liaison clerk given that role — and never anyone who handles or routes the
    /// request, who would be judging their own work. Street staff may type a ticket in
    /// (`hotlineLink`), not close it or take it back.
    func speaksForHotline(_ actor: Actor, _ r: Row) -> Bool {
        !isParty(actor, r) && !canRoute(actor, r) && actor.grants(for: .hotlineLink).contains { $0.role == .hotline && r.path.hasPrefix($0.placePath) }
    }

    func hotlineView(_ h: HotlineRow, _ r: Row, actor: Actor, now: Int64) -> HotlineView {
        // The reasons exchanged over a dispatch are between the units and the hotline, not for the
        // resident whose home a typed-in ticket names.
        let insider = isParty(actor, r) || canRoute(actor, r) || speaksForHotline(actor, r) || actor.grants(for: .requestView).contains { $0.role.isStaff }
        return HotlineView(ticketNo: h.ticketNo, dispatchedAt: LocalTime.text(h.dispatchedAt), dueAt: LocalTime.text(h.dueAt),
                    overdue: now > h.dueAt && (r.status.isOpen || (r.resolvedAt ?? 0) > h.dueAt),
                    callback: h.callback?.rawValue, callbackNote: h.callbackNote, callbackAt: h.callbackAt.map(LocalTime.text),
                    objection: h.objection.rawValue, objectionReason: insider ? h.objectionReason : "", objectionAt: h.objectionAt.map(LocalTime.text),
                    objectionAnswer: insider ? h.objectionAnswer : "",
                    canObject: (isParty(actor, r) || canRoute(actor, r))
                        && HotlineRules.objectionRefusal(state: h.objection, open: r.status.isOpen, dispatchedAt: h.dispatchedAt, now: now) == nil,
                    canAnswer: h.objection == .pending && speaksForHotline(actor, r) && h.objectionBy != actor.userID,
                    canRecordCallback: HotlineRules.mayRecordCallback(previous: h.callback, status: r.status) && h.objection != .accepted && speaksForHotline(actor, r))
    }

    /// The request a ticket number names, for the hotline's own calls; one it may not see is 404.
    public func hotlineRequestID(ticketNo: String, actor: Actor) async throws -> Int64 {
        try await store.read { db in
            guard let row = try await db.query("SELECT request_id FROM request_hotline WHERE ticket_no = \(ticketNo)").first(),
                  let r = try await fetch(db, try row.decode(column: "request_id", as: Int64.self)), canView(actor, r) else { throw LinliError.notFound }
            return r.id
        }
    }

    /// The return call's result (回访满意度), once per ticket. On a request waiting for the
    /// caller's word it closes or reopens it (`HotlineRules.step`); the party is told either way.
    public func hotlineCallback(_ id: Int64, _ input: HotlineCallbackInput, actor: Actor) async throws -> HotlineView {
        try actor.require(.hotlineLink)
        var v = Validator()
        let answer = input.result.flatMap(HotlineCallback.init(rawValue:))
        v.check(answer != nil, "result", "invalid", "回访结果只能是 satisfied（满意）、basically_satisfied（基本满意）或 dissatisfied（不满意）")
        let note = input.note?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        v.check(note.count <= RequestLimits.noteMax, "note", "too_long", "说明不能超过 \(RequestLimits.noteMax) 字")
        if answer == .dissatisfied { v.check(!note.isEmpty, "note", "required", "请写明来电人不满意的原因") }
        try v.throwIfAny()
        let now = env.nowSeconds
        return try await store.transaction { db in
            var r = try await visible(db, id, actor, forUpdate: true)
            let before = r
            guard speaksForHotline(actor, r) else { throw LinliError(.forbidden, code: "not_your_request", message: "这一步由 12345 热线或街道办理") }
            guard let h = try await hotlineRow(db, id, forUpdate: true) else {
                throw LinliError.conflict("state", "not_hotline", "这条诉求不是 12345 工单")
            }
            guard HotlineRules.mayRecordCallback(previous: h.callback, status: r.status) else {
                throw LinliError.conflict("state", "already_recorded", "该工单的回访结果已经记录过；诉求再次办结后才能记录新的回访")
            }
            guard h.objection != .accepted else { throw LinliError.conflict("state", "returned_to_hotline", "该工单已退回 12345，不在本平台回访") }
            try await db.query("UPDATE request_hotline SET callback = \(answer!.rawValue), callback_note = \(note), callback_at = \(now) WHERE request_id = \(id)").run()
            let label = I18n.label("callback_" + answer!.rawValue, .zh)
            let s = try await config.snapshot(db, now: now)
            var kind = "tell"
            if let (transition, rating) = HotlineRules.step(for: answer!, status: r.status), let next = transition.next(from: r.status) {
                r.status = next
                Self.settle(&r, confirmed: transition == .confirm, rating: rating, now: now, s)
                kind = transition == .confirm ? "closed" : "hotline_reopened"
                r.updatedAt = now
                try await save(db, r, was: before)
            }
            _ = try await event(db, id, actor, "hotline_callback", note: label + (note.isEmpty ? "" : "：" + note), partyKey: r.partyKey)
            try await audit.append(db, actor: actor, action: "request.hotline_callback", objectType: "request", objectID: id, path: r.path, detail: answer!.rawValue)
            let subject = "#\(r.id) \(s.categories[r.category]?.nameZh ?? r.category) \(r.address)"
            try await notifier.deliver(db, try await partyUsers(db, of: r).filter { $0 != actor.userID }.map {
                OutgoingNotification(userID: $0, kind: kind == "tell" ? "hotline_callback" : kind, requestID: id, subject: subject)
            }, at: now)
            return hotlineView(try await hotlineRow(db, id)!, r, actor: actor, now: now)
        }
    }

    /// The party or the routing staff object to the dispatch (退单: "this is not ours"), with
    /// the reason, within a day of it. The hotline hears of it through the outbox and answers.
    public func raiseHotlineObjection(_ id: Int64, _ input: HotlineObjectionInput, actor: Actor) async throws -> HotlineView {
        let reason = input.reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var v = Validator()
        v.check(!reason.isEmpty, "reason", "required", "请写明退单的理由（例如不属于本辖区或本单位职责）")
        v.check(reason.count <= RequestLimits.noteMax, "reason", "too_long", "理由不能超过 \(RequestLimits.noteMax) 字")
        try v.throwIfAny()
        let now = env.nowSeconds
        return try await store.transaction { db in
            let r = try await visible(db, id, actor, forUpdate: true)
            guard isParty(actor, r) || canRoute(actor, r) else { throw LinliError(.forbidden, code: "not_your_request", message: "这一步由承办单位或社区、街道办理") }
            guard let h = try await hotlineRow(db, id, forUpdate: true) else { throw LinliError.conflict("state", "not_hotline", "这条诉求不是 12345 工单") }
            if let why = HotlineRules.objectionRefusal(state: h.objection, open: r.status.isOpen, dispatchedAt: h.dispatchedAt, now: now) {
                throw LinliError.conflict("state", "objection_not_allowed", why)
            }
            try await db.query("""
                UPDATE request_hotline SET objection = \(HotlineObjection.pending.rawValue), objection_reason = \(reason), objection_at = \(now),
                       objection_by = \(actor.userID) WHERE request_id = \(id)
                """).run()
            _ = try await event(db, id, actor, "hotline_objection", note: reason, partyKey: r.partyKey, public: false)
            try await audit.append(db, actor: actor, action: "request.hotline_objection", objectType: "request", objectID: id, path: r.path, detail: h.ticketNo)
            try await notifier.deliver(db, [r.submittedBy].filter { $0 != actor.userID }.map {
                OutgoingNotification(userID: $0, kind: "hotline_objection", requestID: id, subject: "#\(id) 12345 \(h.ticketNo)")
            }, at: now)
            var after = h
            after.objection = .pending; after.objectionReason = reason; after.objectionAt = now; after.objectionBy = actor.userID
            return hotlineView(after, r, actor: actor, now: now)
        }
    }

    /// The hotline's answer to an objection: agreed (the ticket goes back to the hotline to be
    /// sent elsewhere, and leaves the community's queue) or not (the reason is required, and the
    /// unit handles it). Never answered by the one who objected.
    public func answerHotlineObjection(_ id: Int64, _ input: HotlineAnswerInput, actor: Actor) async throws -> HotlineView {
        try actor.require(.hotlineLink)
        let note = input.note?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var v = Validator()
        v.check(input.accepted != nil, "accepted", "required", "请说明是否同意退单")
        if input.accepted == false { v.check(!note.isEmpty, "note", "required", "不同意退单时请写明理由") }
        v.check(note.count <= RequestLimits.noteMax, "note", "too_long", "说明不能超过 \(RequestLimits.noteMax) 字")
        try v.throwIfAny()
        let accepted = input.accepted!
        let now = env.nowSeconds
        return try await store.transaction { db in
            var r = try await visible(db, id, actor, forUpdate: true)
            let before = r
            guard speaksForHotline(actor, r) else { throw LinliError(.forbidden, code: "not_your_request", message: "这一步由 12345 热线或街道办理") }
            guard var h = try await hotlineRow(db, id, forUpdate: true) else { throw LinliError.conflict("state", "not_hotline", "这条诉求不是 12345 工单") }
            guard h.objection == .pending else { throw LinliError.conflict("state", "no_pending_objection", "这张工单没有待答复的退单") }
            guard h.objectionBy != actor.userID else { throw LinliError(.forbidden, code: "own_objection", message: "不能答复自己提出的退单") }
            h.objection = accepted ? .accepted : .refused
            h.objectionAnswer = note
            try await db.query("""
                UPDATE request_hotline SET objection = \(h.objection.rawValue), objection_answer = \(note), objection_answered_at = \(now) WHERE request_id = \(id)
                """).run()
            let users = try await partyUsers(db, of: r) + (h.objectionBy.map { [$0] } ?? [])
            if accepted, r.status.isOpen {
                // Back to the hotline: nobody here handles it any more, and no clock runs.
                r.status = .withdrawn
                r.closedAt = now
                r.updatedAt = now
                try await save(db, r, was: before)
            }
            // The resident sees that the ticket went back, not the units' reasons.
            _ = try await event(db, id, actor, accepted ? "hotline_returned" : "hotline_objection_refused", note: note, partyKey: r.partyKey, public: false)
            if accepted { _ = try await event(db, id, nil, "hotline_back", partyKey: r.partyKey) }
            try await audit.append(db, actor: actor, action: accepted ? "request.hotline_returned" : "request.hotline_objection_refused",
                                   objectType: "request", objectID: id, path: r.path, detail: h.ticketNo)
            try await notifier.deliver(db, Array(Set(users)).sorted().filter { $0 != actor.userID }.map {
                OutgoingNotification(userID: $0, kind: accepted ? "hotline_returned" : "hotline_objection_refused", requestID: id, subject: "#\(id) 12345 \(h.ticketNo)")
            }, at: now)
            return hotlineView(h, r, actor: actor, now: now)
        }
    }
}
