import Foundation
import SQLKit
import LinliCore
import LinliStore

/// The requests use cases. Each runs in one transaction, checks the actor on the server, writes its
/// event, audit entry and notifications with the change, and is called by the HTML, JSON and
/// Open311 routes alike.
public struct RequestsService: Sendable {
    let store: any Store
    let cipher: PersonalDataCipher
    let env: Env
    let audit: AuditLog
    let notifier: any Notifier
    let config = RequestsConfig()
    let texts = LookAlikeTexts(limit: 20_000)
    let photos: PhotoStore
    /// The mobile number on a reporter's own account (the accounts capability reads its table).
    var accountPhone: @Sendable (any SQLDatabase, Int64) async throws -> String? = { _, _ in nil }
    /// Told, in the same transaction, of every step of requests (new, routed, accepted, resolved,
    /// escalated…): the offices' outbox pushes them to an upper-level system (a city's 12345).
    package var changed: @Sendable (any SQLDatabase, [Int64], String) async throws -> Void = { _, _, _ in }
    /// Government departments by id (the registry's), for requests routed to one of them.
    var departments: @Sendable (any SQLDatabase, [Int64]) async throws -> [Int64: DepartmentRef] = { _, _ in [:] }
    /// Departments sitting at these places (the registry's): those serving a place are at its ancestors.
    var departmentsAt: @Sendable (any SQLDatabase, [Int64]) async throws -> [DepartmentRef] = { _, _ in [] }
    /// Departments at or below these paths (the registry's): the choices of a routing rule.
    var departmentsUnder: @Sendable (any SQLDatabase, [String]) async throws -> [DepartmentRef] = { _, _ in [] }
    /// The accounts of a department's staff (the accounts capability's).
    var departmentStaff: @Sendable (any SQLDatabase, Int64) async throws -> [Int64] = { _, _ in [] }


    /// The working-day calendar requests' deadlines keep (holidays, 调休), as it stands now: the
    /// offices' work items keep the same one.
    package func workCalendar() async throws -> WorkCalendar {
        try await config.snapshot(in: store, now: env.nowSeconds).calendar
    }

    public init(store: any Store, cipher: PersonalDataCipher, env: Env, notifier: any Notifier = InAppNotifier(), photoDirectory: String) {
        self.store = store
        self.cipher = cipher
        self.env = env
        self.audit = AuditLog(env: env)
        self.notifier = notifier
        self.photos = PhotoStore(directory: photoDirectory)
    }

    // MARK: Rows

    static let columns = """
        SELECT r.id, r.category, r.description, r.place_id, r.household_id, r.path, r.street_id, r.community_id, r.compound_id, r.grid_id,
               r.address, r.lat, r.lng, r.urgency, r.channel, r.submitted_by, r.reporter_user_id, r.contact_masked, r.public_details,
               r.attributes, r.status, r.party_kind, r.party_key, r.party_name, r.party_path, r.party_grid_id, r.level,
               r.accept_due, r.contact_due, r.resolve_due, r.accepted_at, r.contacted_at, r.resolved_at, r.closed_at, r.missed,
               r.rating, r.merged_into, r.returned_count, r.created_at, r.updated_at, r.callback_ok
        FROM requests r
        """

    struct Row: Sendable {
        var id: Int64, category: String, description: String, placeID: Int64, householdID: Int64?, path: String
        var streetID: Int64, communityID: Int64, compoundID: Int64?, gridID: Int64?
        var address: String, lat: Double?, lng: Double?, urgency: Urgency, channel: String, submittedBy: Int64, reporterUserID: Int64?
        var contactMasked: String, publicDetails: Bool, attributes: [String: String], status: RequestStatus
        var partyKind: PartyKind?, partyKey: String?, partyName: String, partyPath: String?, partyGridID: Int64?, level: EscalationLevel
        var acceptDue: Int64, contactDue: Int64, resolveDue: Int64
        var acceptedAt: Int64?, contactedAt: Int64?, resolvedAt: Int64?, closedAt: Int64?, missed: Set<Deadline>
        var rating: Int?, mergedInto: Int64?, returnedCount: Int, createdAt: Int64, updatedAt: Int64
        var callbackOK = false

        var subject: String { "#\(id) \(address)" }

        /// A request not yet stored (id 0) at a located place: what a submission writes, and the
        /// probe the look-alike search compares with before anything is submitted.
        static func unsaved(category: String, description: String, at loc: Located, submittedBy: Int64, now: Int64) -> Row {
            Row(id: 0, category: category, description: description, placeID: loc.placeID, householdID: loc.householdID, path: loc.path,
                streetID: loc.streetID, communityID: loc.communityID, compoundID: loc.compoundID, gridID: loc.gridID, address: loc.address,
                lat: loc.lat, lng: loc.lng, urgency: .normal, channel: "app", submittedBy: submittedBy, reporterUserID: nil, contactMasked: "",
                publicDetails: false, attributes: [:], status: .assigned, partyKind: nil, partyKey: nil, partyName: "", partyPath: nil,
                partyGridID: nil, level: .party, acceptDue: 0, contactDue: 0, resolveDue: 0, acceptedAt: nil, contactedAt: nil,
                resolvedAt: nil, closedAt: nil, missed: [], rating: nil, mergedInto: nil, returnedCount: 0, createdAt: now, updatedAt: now)
        }

        /// The missed deadlines as stored: their codes in deadline order, comma-separated.
        var missedText: String { Deadline.allCases.filter { missed.contains($0) }.map(\.rawValue).joined(separator: ",") }

        /// The earliest deadline still running: not met and not already escalated.
        func nextDue() -> Int64? {
            guard status.isOpen else { return nil }
            var due: [Int64] = []
            if acceptedAt == nil, !missed.contains(.accept) { due.append(acceptDue) }
            if contactedAt == nil, !missed.contains(.contact) { due.append(contactDue) }
            if resolvedAt == nil, !missed.contains(.resolve) { due.append(resolveDue) }
            return due.min()
        }
    }

    static func row(_ r: any SQLRow) throws -> Row {
        let attrs = (try? JSONDecoder().decode([String: String].self, from: Data(try r.decode(column: "attributes", as: String.self).utf8))) ?? [:]
        return Row(
            id: try r.decode(column: "id", as: Int64.self), category: try r.decode(column: "category", as: String.self),
            description: try r.decode(column: "description", as: String.self), placeID: try r.decode(column: "place_id", as: Int64.self),
            householdID: try r.decode(column: "household_id", as: Int64?.self), path: try r.decode(column: "path", as: String.self),
            streetID: try r.decode(column: "street_id", as: Int64.self), communityID: try r.decode(column: "community_id", as: Int64.self),
            compoundID: try r.decode(column: "compound_id", as: Int64?.self), gridID: try r.decode(column: "grid_id", as: Int64?.self),
            address: try r.decode(column: "address", as: String.self), lat: try r.decode(column: "lat", as: Double?.self),
            lng: try r.decode(column: "lng", as: Double?.self),
            urgency: Urgency(rawValue: try r.decode(column: "urgency", as: String.self)) ?? .normal,
            channel: try r.decode(column: "channel", as: String.self), submittedBy: try r.decode(column: "submitted_by", as: Int64.self),
            reporterUserID: try r.decode(column: "reporter_user_id", as: Int64?.self),
            contactMasked: try r.decode(column: "contact_masked", as: String.self),
            publicDetails: try r.decode(column: "public_details", as: Int.self) != 0, attributes: attrs,
            status: RequestStatus(rawValue: try r.decode(column: "status", as: String.self)) ?? .assigned,
            partyKind: try r.decode(column: "party_kind", as: String?.self).flatMap(PartyKind.init(rawValue:)),
            partyKey: try r.decode(column: "party_key", as: String?.self), partyName: try r.decode(column: "party_name", as: String.self),
            partyPath: try r.decode(column: "party_path", as: String?.self), partyGridID: try r.decode(column: "party_grid_id", as: Int64?.self),
            level: EscalationLevel(rawValue: try r.decode(column: "level", as: Int.self)) ?? .party,
            acceptDue: try r.decode(column: "accept_due", as: Int64.self), contactDue: try r.decode(column: "contact_due", as: Int64.self),
            resolveDue: try r.decode(column: "resolve_due", as: Int64.self), acceptedAt: try r.decode(column: "accepted_at", as: Int64?.self),
            contactedAt: try r.decode(column: "contacted_at", as: Int64?.self), resolvedAt: try r.decode(column: "resolved_at", as: Int64?.self),
            closedAt: try r.decode(column: "closed_at", as: Int64?.self),
            missed: Set(try r.decode(column: "missed", as: String.self).split(separator: ",").compactMap { Deadline(rawValue: String($0)) }),
            rating: try r.decode(column: "rating", as: Int?.self), mergedInto: try r.decode(column: "merged_into", as: Int64?.self),
            returnedCount: try r.decode(column: "returned_count", as: Int.self),
            createdAt: try r.decode(column: "created_at", as: Int64.self), updatedAt: try r.decode(column: "updated_at", as: Int64.self),
            callbackOK: try r.decode(column: "callback_ok", as: Int.self) != 0)
    }

    /// One request; `forUpdate` locks it until the transaction ends, so that two people acting on it
    /// at once (or a sweep) take turns instead of overwriting each other's change.
    func fetch(_ db: any SQLDatabase, _ id: Int64, forUpdate: Bool = false) async throws -> Row? {
        try await db.raw("\(unsafeRaw: Self.columns) WHERE r.id = \(bind: id)\(unsafeRaw: forUpdate ? store.dialect.lockForUpdate(of: "r") : "")").first().map(Self.row)
    }

    func view(_ r: Row, _ categories: [String: RequestCategory], lang: Lang, now: Int64) -> RequestView {
        let overdue = Deadline.allCases.filter { d in
            switch d {
            case .accept: r.acceptedAt == nil && r.status.isOpen && now > r.acceptDue
            case .contact: r.contactedAt == nil && r.status.isOpen && now > r.contactDue
            case .resolve: r.resolvedAt == nil && r.status.isOpen && now > r.resolveDue
            }
        }.map(\.rawValue)
        return RequestView(
            id: r.id, category: r.category, categoryName: categories[r.category]?.name(lang) ?? r.category, description: r.description,
            placeID: r.placeID, householdID: r.householdID, address: r.address, lat: r.lat, lng: r.lng, urgency: r.urgency.rawValue,
            channel: r.channel, contactMasked: r.contactMasked, publicDetails: r.publicDetails, attributes: r.attributes,
            status: r.status.rawValue, partyKind: r.partyKind?.rawValue, partyName: r.partyName, level: r.level.rawValue, levelCode: r.level.code,
            acceptDue: r.acceptDue, contactDue: r.contactDue, resolveDue: r.resolveDue, acceptedAt: r.acceptedAt, contactedAt: r.contactedAt,
            resolvedAt: r.resolvedAt, closedAt: r.closedAt, overdue: overdue, rating: r.rating, mergedInto: r.mergedInto,
            createdAt: r.createdAt, createdText: LocalTime.text(r.createdAt), resolveDueText: LocalTime.text(r.resolveDue), isOverdue: !overdue.isEmpty,
            boardPlaceID: r.compoundID ?? r.communityID, callbackOK: r.callbackOK)
    }

    // MARK: Who may do what

    /// True if this actor belongs to the party the request is assigned to.
    func isParty(_ actor: Actor, _ r: Row) -> Bool {
        guard let kind = r.partyKind, let partyPath = r.partyPath, r.status != .unassigned, r.status != .returned else { return false }
        return actor.grants(for: .requestWork).contains { g in
            switch (kind, g.role) {
            case (.propertyCompany, .propertyCompany): partyPath.hasPrefix(g.placePath)
            case (.gridWorker, .gridWorker): g.gridID != nil && g.gridID == r.partyGridID
            case (.residentsCommittee, .communityStaff), (.ownersCommittee, .communityStaff), (.ownersCommittee, .ownersCommittee): partyPath.hasPrefix(g.placePath)
            // A request routed to a named department is its staff's own; otherwise the street's.
            case (.department, .streetStaff): !(r.partyKey ?? "").hasPrefix("org:") && partyPath.hasPrefix(g.placePath)
            case (.department, .departmentStaff): g.organisationID.map { "org:\($0)" } == r.partyKey
            default: false
            }
        }
    }

    /// Staff who route and supervise requests in their area.
    func canRoute(_ actor: Actor, _ r: Row) -> Bool {
        actor.grants(for: .requestRoute).contains { r.path.hasPrefix($0.placePath) }
    }

    func isReporter(_ actor: Actor, _ r: Row) -> Bool {
        actor.userID == r.submittedBy || actor.userID == r.reporterUserID
    }

    /// A return visit (回访): the community asks the resident, by phone or at the door, whether a
    /// request filed for them was handled, and records their answer. Open to routing staff for a
    /// request staff filed for someone with no account (nobody else could ever confirm it), and
    /// to staff acting for the reporter (代办).
    func isReturnVisit(_ actor: Actor, _ r: Row) -> Bool {
        if actor.acting != nil { return isReporter(actor, r) }
        guard r.reporterUserID == nil, let c = Channel(rawValue: r.channel), [.phone, .walkIn, .visit].contains(c) else { return false }
        return actor.userID == r.submittedBy || canRoute(actor, r)
    }

    /// Whether the actor may see the whole request. Following a request (after a merge, or after
    /// withdrawing one's own in favour of a neighbour's) is deliberately not enough: a follower
    /// sees what the public board shows and no more (see `followerView`), so that merging or
    /// following never widens who may read a neighbour's text, door or photos.
    func canView(_ actor: Actor, _ r: Row) -> Bool {
        if isReporter(actor, r) || isParty(actor, r) { return true }
        for g in actor.grants(for: .requestView) {
            switch g.role {
            case .resident: if r.householdID != nil && r.householdID == g.householdID { return true }
            case .gridWorker: if let grid = g.gridID, grid == r.gridID || grid == r.partyGridID { return true }
            // The hotline sees its tickets in its area, typed in by whoever; nothing else.
            case .hotline: if r.channel == Channel.hotline.rawValue, r.path.hasPrefix(g.placePath) { return true }
            case .propertyCompany, .volunteer, .partnerApp, .departmentStaff, .ownersCommittee: continue
            default: if r.path.hasPrefix(g.placePath) { return true }
            }
        }
        return false
    }

    func isFollower(_ db: any SQLDatabase, _ actor: Actor, _ id: Int64) async throws -> Bool {
        try await db.raw("SELECT 1 AS x FROM request_followers WHERE request_id = \(bind: id) AND user_id = \(bind: actor.userID)").first() != nil
    }

    /// Loads a request the actor may see; anything else is 404, exactly like a missing one.
    func visible(_ db: any SQLDatabase, _ id: Int64, _ actor: Actor, forUpdate: Bool = false) async throws -> Row {
        guard let r = try await fetch(db, id, forUpdate: forUpdate), canView(actor, r) else { throw LinliError.notFound }
        return r
    }

    /// A request as its followers see it: the public board's view (category, status, party,
    /// deadlines, the compound and building but never the door), its text and photos only if the
    /// reporter chose to publish them.
    func followerView(_ v: RequestView, _ r: Row, publicAddress: String) -> RequestView {
        var v = v
        if !r.publicDetails { v.description = "" }
        v.address = publicAddress
        v.householdID = nil
        if r.householdID != nil { v.lat = nil; v.lng = nil }
        v.contactMasked = ""
        v.attributes = [:]
        return v
    }

    func abilities(_ actor: Actor, _ r: Row) -> RequestAbilities {
        var a = RequestAbilities()
        let party = isParty(actor, r), route = canRoute(actor, r), reporter = isReporter(actor, r)
        func ok(_ t: RequestTransition) -> Bool { t.next(from: r.status) != nil }
        a.accept = party && ok(.accept)
        a.contact = party && ok(.contact) && r.contactedAt == nil
        a.note = (party || route) && ok(.note)
        a.resolve = party && ok(.resolve)
        a.returnIt = party && ok(.returnIt)
        a.reassign = route && ok(.reassign)
        a.merge = route && ok(.merge)
        a.supervise = route && ok(.supervise) && r.level != .party
        let returnVisit = isReturnVisit(actor, r)
        let ticket = r.channel == Channel.hotline.rawValue
        a.confirm = !ticket && (reporter || returnVisit) && ok(.confirm)
        a.reject = !ticket && (reporter || returnVisit) && ok(.reject)
        a.returnVisit = returnVisit && ok(.confirm)
        a.withdraw = reporter && ok(.withdraw) && (!ticket || speaksForHotline(actor, r))
        return a
    }

    // MARK: Submit

    struct Located: Sendable {
        var placeID: Int64, path: String, householdID: Int64?, gridID: Int64?, address: String
        var streetID: Int64, communityID: Int64, compoundID: Int64?, lat: Double?, lng: Double?
    }

    /// Where a submission points, checked against the actor's scope.
    func locate(_ db: any SQLDatabase, _ input: RequestInput, actor: Actor) async throws -> Located {
        var householdID: Int64?, gridID: Int64?, microGridID: Int64?, address: String?
        let placeID: Int64, p: any SQLRow
        if let hid = input.householdID {
            // The home and its place in one statement (a round trip fewer on PostgreSQL).
            guard let h = try await db.query("""
                SELECT h.place_id, h.grid_id, h.micro_grid_id, h.address, p.kind, p.path, p.lat, p.lng FROM households h JOIN places p ON p.id = h.place_id WHERE h.id = \(hid)
                """).first() else {
                throw LinliError.invalid("household_id", "unknown", "住户不存在")
            }
            householdID = hid
            placeID = try h.decode(column: "place_id", as: Int64.self)
            gridID = try h.decode(column: "grid_id", as: Int64.self)
            microGridID = try h.decode(column: "micro_grid_id", as: Int64?.self)
            address = try h.decode(column: "address", as: String.self)
            p = h
        } else {
            guard let id = input.placeID else { throw LinliError.invalid("place_id", "required", "请选择诉求发生的地点") }
            guard let row = try await db.raw("SELECT kind, path, lat, lng FROM places WHERE id = \(bind: id)").first() else {
                throw LinliError.invalid("place_id", "unknown", "地点不存在")
            }
            placeID = id
            p = row
        }
        let path = try p.decode(column: "path", as: String.self)
        let ids = PlacePath.ids(path)
        let kind = PlaceKind(rawValue: try p.decode(column: "kind", as: String.self)) ?? .city
        guard kind.rank >= PlaceKind.community.rank, ids.count > 3 else {
            throw LinliError.invalid("place_id", "too_broad", "请选择社区或更具体的地点")
        }
        // Scope: residents report about their home, their building, their compound or a public
        // place of their community; staff anywhere in their area.
        // A household is named only by those who may see it: its residents, the grid worker of its
        // grid, and staff over its area. Volunteers and partner apps name a place, never a home.
        let allowed = actor.grants(for: .requestSubmit).contains { g in
            switch g.role {
            case .resident:
                guard let home = g.householdID else { return false }
                if let householdID { return householdID == home }
                return g.placePath.hasPrefix(path)
            case .gridWorker where householdID != nil:
                return g.gridID != nil && (g.gridID == gridID || g.gridID == microGridID)
            case .volunteer, .partnerApp, .hotline:
                return householdID == nil && path.hasPrefix(g.placePath)
            default:
                return path.hasPrefix(g.placePath)
            }
        }
        if householdID != nil, !allowed {
            // Exactly the answer for a household that does not exist: ids cannot be probed.
            throw LinliError.invalid("household_id", "unknown", "住户不存在")
        }
        guard allowed else { throw LinliError.invalid("place_id", "out_of_scope", "该地点不在您可以反映的范围内") }
        if address == nil {
            let below = Array(ids.dropFirst(3))
            let names = below.isEmpty ? [] : try await db.raw("SELECT id, name FROM places WHERE id IN (\(binds: below))").all()
            var byID: [Int64: String] = [:]
            for n in names { byID[try n.decode(column: "id", as: Int64.self)] = try n.decode(column: "name", as: String.self) }
            address = ids.dropFirst(3).compactMap { byID[$0] }.joined()
        }
        let extra = input.address?.trimmingWhitespace() ?? ""
        if householdID == nil, !extra.isEmpty { address = (address ?? "") + " " + extra }
        if householdID == nil, gridID == nil, ids.count > 4 {
            // The grid most households under this place belong to.
            gridID = try await db.raw("""
                SELECT grid_id, COUNT(*) AS n FROM households WHERE \(store.dialect.startsWith("path", path)) GROUP BY grid_id ORDER BY n DESC LIMIT 1
                """).first()?.decode(column: "grid_id", as: Int64.self)
        }
        return Located(placeID: placeID, path: path, householdID: householdID, gridID: gridID, address: address ?? "",
                       streetID: ids[2], communityID: ids[3], compoundID: ids.count > 4 ? ids[4] : nil,
                       lat: try input.lat ?? p.decode(column: "lat", as: Double?.self), lng: try input.lng ?? p.decode(column: "lng", as: Double?.self))
    }

    struct Party: Sendable {
        var kind: PartyKind, key: String, name: String, path: String, gridID: Int64?
        var fallbackNote: String?
        /// Its users, when they were read with it.
        var users: [Int64]? = nil
    }

    /// Turns a party kind into the concrete organisation, grid or office for this place.
    func resolveParty(_ db: any SQLDatabase, _ kind: PartyKind, _ loc: Located, organisationID: Int64? = nil) async throws -> Party {
        let ids = PlacePath.ids(loc.path)
        func prefix(_ n: Int) -> String { "/" + ids.prefix(n).map(String.init).joined(separator: "/") + "/" }
        func committee(_ note: String?) async throws -> Party {
            if let o = try await db.raw("""
                SELECT id, name FROM organisations WHERE place_id = \(bind: loc.communityID) AND kind IN ('residents_committee', 'villagers_committee') ORDER BY id LIMIT 1
                """).first() {
                return Party(kind: .residentsCommittee, key: "org:\(try o.decode(column: "id", as: Int64.self))", name: try o.decode(column: "name", as: String.self),
                             path: prefix(4), gridID: nil, fallbackNote: note)
            }
            let name = try await db.raw("SELECT name FROM places WHERE id = \(bind: loc.communityID)").first()?.decode(column: "name", as: String.self) ?? ""
            return Party(kind: .residentsCommittee, key: "place:\(loc.communityID)", name: name, path: prefix(4), gridID: nil, fallbackNote: note)
        }
        switch kind {
        case .propertyCompany:
            if let compound = loc.compoundID, let o = try await db.raw("""
                SELECT o.id, o.name FROM organisation_compounds oc JOIN organisations o ON o.id = oc.organisation_id
                WHERE oc.compound_id = \(bind: compound) AND o.kind = 'property_company' ORDER BY o.id LIMIT 1
                """).first() {
                return Party(kind: .propertyCompany, key: "org:\(try o.decode(column: "id", as: Int64.self))", name: try o.decode(column: "name", as: String.self),
                             path: prefix(5), gridID: nil)
            }
            return try await committee("no_property_company")
        case .ownersCommittee:
            if let compound = loc.compoundID, let o = try await db.raw("""
                SELECT id, name FROM organisations WHERE place_id = \(bind: compound) AND kind = 'owners_committee' ORDER BY id LIMIT 1
                """).first() {
                return Party(kind: .ownersCommittee, key: "org:\(try o.decode(column: "id", as: Int64.self))", name: try o.decode(column: "name", as: String.self),
                             path: prefix(5), gridID: nil)
            }
            return try await committee("no_owners_committee")
        case .gridWorker:
            // The grid and its workers in one statement: one row per worker, one without a worker.
            if let grid = loc.gridID, case let rows = try await db.query("""
                SELECT g.name, rg.user_id FROM grids g LEFT JOIN role_grants rg ON rg.grid_id = g.id AND rg.role = 'grid_worker' WHERE g.id = \(grid)
                """).all(), let first = rows.first {
                var users: [Int64] = []
                for row in rows { if let u = try row.decode(column: "user_id", as: Int64?.self), !users.contains(u) { users.append(u) } }
                return Party(kind: .gridWorker, key: "grid:\(grid)", name: try first.decode(column: "name", as: String.self), path: prefix(4), gridID: grid,
                             users: users)
            }
            return try await committee("no_grid")
        case .residentsCommittee:
            return try await committee(nil)
        case .department:
            // The named department when it still serves the place; else the street's office.
            if let org = organisationID, let d = try await departments(db, [org])[org], loc.path.hasPrefix(d.path) {
                return Party(kind: .department, key: "org:\(org)", name: d.name, path: d.path, gridID: nil, users: try await departmentStaff(db, org))
            }
            let name = try await db.raw("SELECT name FROM places WHERE id = \(bind: loc.streetID)").first()?.decode(column: "name", as: String.self) ?? ""
            return Party(kind: .department, key: "place:\(loc.streetID)", name: name, path: prefix(3), gridID: nil,
                         fallbackNote: organisationID == nil ? nil : "department_not_serving")
        }
    }

    /// Users who answer for a party (its queue) — they are told of new work.
    func partyUsers(_ db: any SQLDatabase, kind: PartyKind, path: String, gridID: Int64?) async throws -> [Int64] {
        let ancestors = PlacePath.ids(path)
        let rows: [any SQLRow]
        switch kind {
        case .gridWorker:
            guard let gridID else { return [] }
            rows = try await db.raw("SELECT DISTINCT user_id FROM role_grants WHERE role = 'grid_worker' AND grid_id = \(bind: gridID)").all()
        case .propertyCompany, .ownersCommittee, .residentsCommittee, .department:
            let role = kind == .propertyCompany ? Role.propertyCompany : (kind == .department ? .streetStaff : .communityStaff)
            guard !ancestors.isEmpty else { return [] }
            // An owners' committee's own accounts hear of its work, beside the community office.
            let roles = kind == .ownersCommittee ? [role.rawValue, Role.ownersCommittee.rawValue] : [role.rawValue]
            rows = try await db.raw("SELECT DISTINCT user_id FROM role_grants WHERE role IN (\(binds: roles)) AND place_id IN (\(binds: ancestors))").all()
        }
        return try rows.map { try $0.decode(column: "user_id", as: Int64.self) }
    }

    /// The users of the party a request is assigned to now.
    func partyUsers(_ db: any SQLDatabase, of r: Row) async throws -> [Int64] {
        if r.partyKind == .department, let key = r.partyKey, key.hasPrefix("org:"), let org = Int64(key.dropFirst(4)) { return try await departmentStaff(db, org) }
        return try await partyUsers(db, kind: r.partyKind ?? .residentsCommittee, path: r.partyPath ?? r.path, gridID: r.partyGridID)
    }

    /// Makes users followers of a request: they are told of its progress as if they had reported it.
    func follow(_ db: any SQLDatabase, _ requestID: Int64, users: [Int64]) async throws {
        for u in Set(users) {
            try await db.raw("DELETE FROM request_followers WHERE request_id = \(bind: requestID) AND user_id = \(bind: u)").run()
            try await db.raw("INSERT INTO request_followers (request_id, user_id) VALUES (\(bind: requestID), \(bind: u))").run()
        }
    }

    /// Staff at an escalation level (or the nearest level above that has staff).
    func levelUsers(_ db: any SQLDatabase, path: String, level: EscalationLevel) async throws -> [Int64] {
        let ids = PlacePath.ids(path)
        guard var index = level.pathIndex else { return [] }
        while index >= 0 {
            if index < ids.count {
                let rows = try await db.raw("""
                    SELECT DISTINCT user_id FROM role_grants WHERE place_id = \(bind: ids[index]) AND role IN ('community_staff', 'street_staff', 'city_admin')
                    """).all()
                if !rows.isEmpty { return try rows.map { try $0.decode(column: "user_id", as: Int64.self) } }
            }
            index -= 1
        }
        return []
    }

    /// One step of a request. `public` steps are shown to the reporter and followers; a
    /// `published` one's note also reaches the board and Open311 (staff's explicit public reply).
    func event(_ db: any SQLDatabase, _ requestID: Int64, _ actor: Actor?, _ kind: String, note: String = "", partyKey: String? = nil,
               public isPublic: Bool = true, published: Bool = false, at: Int64? = nil) async throws -> Int64 {
        let row = try await db.raw("""
            INSERT INTO request_events (request_id, at, user_id, actor_name, kind, note, party_key, public, published)
            VALUES (\(bind: requestID), \(bind: at ?? env.nowSeconds), \(bind: actor?.userID), \(bind: actor?.signature ?? "系统"), \(bind: kind),
                    \(bind: note), \(bind: partyKey), \(bind: isPublic ? 1 : 0), \(bind: published ? 1 : 0)) RETURNING id
            """).first()
        try await changed(db, [requestID], kind)
        return try row!.decode(column: "id", as: Int64.self)
    }

    /// Validates, locates, routes and starts the clocks of a new request, in one transaction. A
    /// retry with the same idempotency key returns the first request instead of a second one.
    public func submit(_ input: RequestInput, photos rawPhotos: [[UInt8]] = [], actor: Actor) async throws -> (request: RequestView, created: Bool) {
        let s = try await submit(input, photos: rawPhotos, actor: actor, lookAlikesIn: nil)
        return (s.request, s.created)
    }

    /// The same, also returning the open requests that look like the new one (in `lang`), as the
    /// JSON API answers a submission.
    public func submit(_ input: RequestInput, photos rawPhotos: [[UInt8]] = [], actor: Actor, lookAlikesIn: Lang?) async throws
        -> (request: RequestView, created: Bool, lookAlikes: [SimilarRequest]) {
        try actor.require(.requestSubmit)
        var v = Validator()
        let description = input.description?.trimmingWhitespace() ?? ""
        v.check(!description.isEmpty, "description", "required", "请描述遇到的问题")
        v.check(description.count <= RequestLimits.descriptionMax, "description", "too_long", "描述不能超过 \(RequestLimits.descriptionMax) 字")
        let urgency = Urgency(rawValue: input.urgency ?? "normal")
        v.check(urgency != nil, "urgency", "invalid", "紧急程度只能是 normal 或 urgent")
        let isStaff = actor.grants(for: .requestSubmit).contains { $0.role.isStaff }
        let asked = Channel(rawValue: input.channel ?? (actor.grants.contains { $0.role == .partnerApp } ? "open311"
                                                          : actor.grants.contains { $0.role == .hotline } ? "hotline" : "app"))
        v.check(asked != nil, "channel", "invalid", "来源渠道无效")
        // Whatever the form sends, a report made while someone acts for the resident is 代办.
        let channel = actor.acting != nil && asked != nil ? Channel.acting : asked
        v.check(channel != .acting || actor.acting != nil, "channel", "invalid", "只有工作人员代居民办理时才能选择“代办”")
        v.check(channel != .patrol || isStaff, "channel", "invalid", "只有网格员和社区工作人员巡查时才能选择“巡查”")
        let contactName = input.contactName?.trimmingCharacters(in: .whitespaces) ?? ""
        let contactPhone = PhoneNumber.normalise(input.contactPhone ?? "")
        if !contactPhone.isEmpty { v.check(PhoneNumber.isValid(contactPhone), "contact_phone", "invalid", "手机号应为 11 位，以 1 开头") }
        v.check(contactName.count <= 40, "contact_name", "too_long", "联系人姓名过长")
        if isStaff, let channel, [.phone, .walkIn, .visit].contains(channel) {
            v.check(!contactName.isEmpty || !contactPhone.isEmpty, "contact_name", "required", "代居民登记时请留下居民的姓名或电话")
        }
        if let lat = input.lat { v.check((-90...90).contains(lat), "lat", "invalid", "纬度无效") }
        if let lng = input.lng { v.check((-180...180).contains(lng), "lng", "invalid", "经度无效") }
        v.check((input.address ?? "").count <= 200, "address", "too_long", "地址过长")
        let hotline = Self.hotlineTicket(input, channel: channel, actor: actor, now: env.nowSeconds, into: &v)
        // A ticket sent again by the hotline (a retry) is the same request.
        let key = input.idempotencyKey?.trimmingCharacters(in: .whitespaces) ?? hotline.map { "12345:" + $0.ticketNo }
        if let key { v.check(!key.isEmpty && key.count <= 100, "idempotency_key", "invalid", "幂等键长度应为 1–100") }
        v.check(rawPhotos.count <= RequestLimits.photosMax, "photos", "too_many", "最多上传 \(RequestLimits.photosMax) 张照片")
        // Photos are checked and re-encoded before the transaction; nothing is stored yet.
        var prepared: [PreparedPhoto] = []
        for (i, bytes) in rawPhotos.enumerated() where rawPhotos.count <= RequestLimits.photosMax {
            do { prepared.append(try PhotoStore.prepare(bytes)) } catch let e as LinliError {
                v.add(.invalid("photos", e.code, "第 \(i + 1) 张照片：\(e.message)"))
            }
        }
        // Category, its extra fields and the place are checked with the rest, so a form shows every message at once.
        let now = env.nowSeconds
        let snapshot = try await config.snapshot(in: store, now: now)
        let chosen = input.category.flatMap { snapshot.categories[$0] }.flatMap { $0.active ? $0 : nil }
        if let chosen {
            for e in chosen.validate(attributes: input.attributes ?? [:]) { v.add(e) }
        } else {
            v.add(.invalid("category", "unknown", "请选择有效的诉求类别"))
        }
        if input.placeID == nil, input.householdID == nil { v.add(.invalid("place_id", "required", "请选择诉求发生的地点")) }
        try v.throwIfAny()
        let photosToSave = prepared
        if let key, let existing = try await existingRequest(key: key, actor: actor) {
            try Self.sameSubmission(existing, category: chosen?.code, description: description)
            return (existing, false, lookAlikesIn == nil ? [] : try await similar(existing.id, actor: actor, lang: lookAlikesIn!))
        }
        // The category and its fields were validated above against this same snapshot.
        let category = chosen!, u = urgency!, channelCode = channel!.rawValue
        // Everything that only reads — where, who answers, who is told, what looks the same — is
        // done on a reader, so the single writer holds its lock only for the inserts.
        let onBehalf = isStaff && channel.map { [.phone, .walkIn, .visit].contains($0) } == true
        let planned = try await store.read { db -> (draft: Row, partyFallback: String?, users: [Int64], lookAlikes: [SimilarRequest], consentBy: Int64?) in
            let loc = try await locate(db, input, actor: actor)
            // Words and photos about someone who did not type them, or about a vulnerable
            // household, are published only with the resident's recorded consent.
            var consentBy: Int64?
            if input.publicDetails == true {
                let ownHome = loc.householdID != nil && actor.grants.contains { $0.role == .resident && $0.householdID == loc.householdID }
                let vulnerable = ownHome ? false : try await householdIsVulnerable(db, loc.householdID)
                let needsConsent = onBehalf || channel == .hotline || vulnerable
                if needsConsent {
                    guard input.residentConsent == true else {
                        throw LinliError.invalid("resident_consent", "consent_required", "代居民登记或涉及困难群体的诉求，须经居民本人同意才能公开描述和照片")
                    }
                    consentBy = actor.userID
                }
            }
            let target = RequestsConfig.party(for: category, path: loc.path, rules: snapshot.rules)
            let party = try await resolveParty(db, target.kind, loc, organisationID: target.organisationID)
            let cal = snapshot.calendar
            let masked = [contactName.isEmpty ? nil : String(contactName.prefix(1)) + "**", contactPhone.isEmpty ? nil : PhoneNumber.masked(contactPhone)]
                .compactMap { $0 }.joined(separator: " ")
            var draft = Row.unsaved(category: category.code, description: description, at: loc, submittedBy: actor.userID, now: now)
            draft.urgency = u; draft.channel = channelCode
            // The reporter is the submitter or nobody; "my requests" relies on it (requests.006).
            draft.reporterUserID = isStaff && channel != .app ? nil : actor.userID
            draft.contactMasked = masked; draft.publicDetails = input.publicDetails == true; draft.attributes = input.attributes ?? [:]
            // A number a resident gave staff on the phone is one they may be called back on.
            draft.callbackOK = input.callbackOK == true || (onBehalf && !contactPhone.isEmpty)
            (draft.partyKind, draft.partyKey, draft.partyName, draft.partyPath, draft.partyGridID) = (party.kind, party.key, party.name, party.path, party.gridID)
            draft.acceptDue = category.policy.due(.accept, from: now, urgency: u, calendar: cal)
            draft.contactDue = category.policy.due(.contact, from: now, urgency: u, calendar: cal)
            draft.resolveDue = category.policy.due(.resolve, from: now, urgency: u, calendar: cal)
            if let hotline { draft.resolveDue = HotlineRules.resolveDue(policy: draft.resolveDue, hotline: hotline.dueAt) }
            let users: [Int64]
            if let known = party.users { users = known } else { users = try await partyUsers(db, kind: party.kind, path: party.path, gridID: party.gridID) }
            let lookAlikes = lookAlikesIn == nil ? [] : try await similarRequests(db, to: draft, snapshot.categories, lang: lookAlikesIn!, now: now, actor: actor)
            return (draft, party.fallbackNote, users, lookAlikes, consentBy)
        }
        let draft = planned.draft
        let env = self.env
        do {
            let id = try await store.transaction { db -> Int64 in
                let attrs = draft.attributes.isEmpty ? "{}" : String(decoding: try JSONEncoder().encode(draft.attributes), as: UTF8.self)
                let row = try await db.query("""
                    INSERT INTO requests (category, description, place_id, household_id, path, street_id, community_id, compound_id, grid_id,
                        address, lat, lng, urgency, channel, submitted_by, reporter_user_id, contact_name_cipher, contact_phone_cipher, contact_masked,
                        public_details, attributes, status, party_kind, party_key, party_name, party_path, party_grid_id, level,
                        accept_due, contact_due, resolve_due, next_due, idempotency_key, created_at, updated_at, consent_by, callback_ok)
                    VALUES (\(draft.category), \(draft.description), \(draft.placeID), \(draft.householdID), \(draft.path),
                        \(draft.streetID), \(draft.communityID), \(draft.compoundID), \(draft.gridID), \(draft.address),
                        \(draft.lat), \(draft.lng), \(u.rawValue), \(channelCode), \(actor.userID), \(draft.reporterUserID),
                        \(contactName.isEmpty ? nil : try cipher.seal(contactName)), \(contactPhone.isEmpty ? nil : try cipher.seal(contactPhone)),
                        \(draft.contactMasked), \(draft.publicDetails), \(attrs), 'assigned', \(draft.partyKind!.rawValue),
                        \(draft.partyKey), \(draft.partyName), \(draft.partyPath), \(draft.partyGridID), 0,
                        \(draft.acceptDue), \(draft.contactDue), \(draft.resolveDue), \(draft.nextDue()),
                        \(key), \(now), \(now), \(planned.consentBy), \(draft.callbackOK))
                    RETURNING id
                    """).first()
                let id = try row!.decode(column: "id", as: Int64.self)
                if let hotline { try await storeHotline(db, hotline, requestID: id) }
                // Both first steps in one statement; the photos hang on the submission step (its id is read back only for them).
                let steps = try await db.query("""
                    INSERT INTO request_events (request_id, at, user_id, actor_name, kind, note, party_key, public)
                    VALUES (\(id), \(now), \(actor.userID), \(actor.signature), 'submitted', \(channelCode), NULL, 1),
                           (\(id), \(now), NULL, '系统', 'assigned',
                            \(planned.partyFallback.map { "\(draft.partyName)（\(I18n.label("fallback_" + $0, .zh))）" } ?? draft.partyName), \(draft.partyKey), 1)
                    \(unsafeRaw: photosToSave.isEmpty ? "" : "RETURNING id, kind")
                    """).all()
                let submitted = try steps.first { try $0.decode(column: "kind", as: String.self) == "submitted" }?.decode(column: "id", as: Int64.self)
                try await changed(db, [id], "submitted")
                for p in photosToSave { try await photos.save(db, p, requestID: id, eventID: submitted, now: now, env: env) }
                try await audit.append(db, actor: actor, action: "request.submit", objectType: "request", objectID: id, path: draft.path,
                                       detail: "\(category.code) → \(draft.partyKey ?? "")")
                try await notifier.deliver(db, planned.users.map { OutgoingNotification(userID: $0, kind: "assigned", requestID: id, subject: "#\(id) \(category.nameZh) \(draft.address)") }, at: now)
                // The community's counts last, in one statement: their rows are shared by every
                // submission there, so on PostgreSQL they are held only from here to the commit.
                var filed = draft
                filed.createdAt = now
                try await Self.addToRollup(db, store.dialect, [(draft.communityID, now, RequestTally(made: 1))],
                                           with: [Self.countNeed(store.dialect, community: draft.communityID, at: now, category: draft.category),
                                                  Self.spotAddition(store.dialect, filed)])
                return id
            }
            var stored = draft
            stored.id = id
            texts.put([id: .init(bigrams: TextSimilarity.bigrams(description), address: draft.address)])
            return (view(stored, snapshot.categories, lang: .zh, now: now), true, planned.lookAlikes)
        } catch {
            // Two concurrent retries with one key: the loser finds the winner's request.
            if let key, !(error is LinliError), !(error is ValidationErrors), let existing = try await existingRequest(key: key, actor: actor) {
                try Self.sameSubmission(existing, category: category.code, description: description)
                return (existing, false, lookAlikesIn == nil ? [] : try await similar(existing.id, actor: actor, lang: lookAlikesIn!))
            }
            throw error
        }
    }

    /// Whether anyone living in the household carries a vulnerability tag (`ResidentTag.vulnerable`).
    /// A read of the registry's table; it moves behind a registry call when capabilities get their own targets.
    func householdIsVulnerable(_ db: any SQLDatabase, _ householdID: Int64?) async throws -> Bool {
        guard let householdID else { return false }
        for r in try await db.raw("SELECT tags FROM residents WHERE household_id = \(bind: householdID)").all() {
            if try r.decode(column: "tags", as: String.self).split(separator: ",").contains(where: { ResidentTag.vulnerable.contains(String($0)) }) { return true }
        }
        return false
    }

    /// A retry must carry the same request: the same key with another body is refused (422)
    /// rather than answered with a request the client did not send.
    static func sameSubmission(_ existing: RequestView, category: String?, description: String) throws {
        guard existing.category == category, existing.description == description else {
            throw LinliError.invalid("idempotency_key", "key_reused", "该幂等键已用于另一条内容不同的诉求")
        }
    }

    func existingRequest(key: String, actor: Actor) async throws -> RequestView? {
        let now = env.nowSeconds
        let found = try await store.read { db -> RequestView? in
            guard let r = try await db.raw("\(unsafeRaw: Self.columns) WHERE r.submitted_by = \(bind: actor.userID) AND r.idempotency_key = \(bind: key)")
                .first().map(Self.row) else { return nil }
            return view(r, try await config.snapshot(db, now: now).categories, lang: .zh, now: now)
        }
        // The earlier attempt's request may exist only on a primary just recovered from a
        // crash: the retry is told of it once the replica has it too (the cluster drill lost one so).
        if found != nil { try await store.awaitDurable() }
        return found
    }

    // MARK: Read

    public func categories(lang: Lang) async throws -> [CategoryView] {
        let now = env.nowSeconds
        return try await store.read { db in
            let s = try await config.snapshot(db, now: now)
            return s.order.compactMap { s.categories[$0] }.map { c in
                CategoryView(code: c.code, name: c.name(lang), nameZh: c.nameZh, nameEn: c.nameEn, defaultParty: c.defaultParty.rawValue,
                             acceptHours: c.policy.acceptHours, contactHours: c.policy.contactHours, resolveHours: c.policy.resolveHours,
                             workingHours: c.policy.workingHours, attributes: c.attributes, active: c.active)
            }
        }
    }

    public func detail(_ id: Int64, actor: Actor, lang: Lang) async throws -> RequestDetail {
        let now = env.nowSeconds
        return try await store.read { db in
            guard let r = try await fetch(db, id) else { throw LinliError.notFound }
            let s = try await config.snapshot(db, now: now)
            if !canView(actor, r) {
                guard try await isFollower(db, actor, id) else { throw LinliError.notFound }
                let address = try await publicAddresses(db, [r])[r.id] ?? ""
                let events = try await db.raw("""
                    SELECT at, kind FROM request_events WHERE request_id = \(bind: id) AND public = 1 ORDER BY id
                    """).all().map { e in
                    let at = try e.decode(column: "at", as: Int64.self)
                    return RequestEventView(at: at, atText: LocalTime.text(at), actor: "", kind: try e.decode(column: "kind", as: String.self), note: "")
                }
                let photoIDs = r.publicDetails ? try await db.raw("SELECT id FROM request_photos WHERE request_id = \(bind: id) ORDER BY id").all()
                    .map { try $0.decode(column: "id", as: Int64.self) } : []
                return RequestDetail(request: followerView(view(r, s.categories, lang: lang, now: now), r, publicAddress: address), events: events,
                                     photos: photoIDs, similar: [], abilities: RequestAbilities())
            }
            // Reporters see public steps; the parties and supervisors see internal notes too.
            let staff = isParty(actor, r) || canRoute(actor, r) || actor.grants(for: .requestView).contains { $0.role.isStaff }
            let events = try await db.raw("""
                SELECT at, actor_name, kind, note FROM request_events WHERE request_id = \(bind: id) \(unsafeRaw: staff ? "" : "AND public = 1") ORDER BY id
                """).all().map { e in
                let at = try e.decode(column: "at", as: Int64.self)
                return RequestEventView(at: at, atText: LocalTime.text(at), actor: try e.decode(column: "actor_name", as: String.self),
                                        kind: try e.decode(column: "kind", as: String.self), note: try e.decode(column: "note", as: String.self))
            }
            let photoIDs = try await db.raw("SELECT id FROM request_photos WHERE request_id = \(bind: id) ORDER BY id").all()
                .map { try $0.decode(column: "id", as: Int64.self) }
            let similar = (canRoute(actor, r) || isReporter(actor, r)) && r.status.isOpen ? try await similarRequests(db, to: r, s.categories, lang: lang, now: now, actor: actor) : []
            var detail = RequestDetail(request: view(r, s.categories, lang: lang, now: now), events: events, photos: photoIDs, similar: similar,
                                       abilities: abilities(actor, r))
            if r.channel == Channel.hotline.rawValue, let h = try await hotlineRow(db, id) { detail.hotline = hotlineView(h, r, actor: actor, now: now) }
            return detail
        }
    }

    public enum ListScope: String, Sendable, CaseIterable { case mine, queue, supervise, area }

    /// Lists for one actor: their own submissions, their party's queue (overdue first), what was
    /// escalated to them, or everything in their area.
    /// The statuses still someone's work, as SQL (`RequestStatus.isOpen`).
    static let openStatusList = RequestStatus.allCases.filter(\.isOpen).map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// `openOnly` keeps requests still being handled (awaiting routing, assigned, in progress, returned).
    public func list(_ scope: ListScope, actor: Actor, lang: Lang, status: String? = nil, openOnly: Bool = false, limit: Int = 50, offset: Int = 0) async throws -> [RequestView] {
        let now = env.nowSeconds
        var q = SQLQueryString("\(unsafeRaw: Self.columns) WHERE ")
        switch scope {
        case .mine:
            // The reporter is always the submitter or nobody (see `submit`), so the submitter
            // names every request of one's own (requests.006 dropped the reporter's index).
            q.appendInterpolation(unsafeRaw: "(r.submitted_by = ")
            q.appendInterpolation(bind: actor.userID)
            q.appendInterpolation(unsafeRaw: " OR r.id IN (SELECT request_id FROM request_followers WHERE user_id = ")
            q.appendInterpolation(bind: actor.userID)
            q.appendInterpolation(unsafeRaw: "))")
        case .queue:
            q.appendInterpolation(unsafeRaw: "r.status IN ('assigned', 'accepted') AND ")
            q += partyPredicate(actor)
        case .supervise:
            q.appendInterpolation(unsafeRaw: "(r.status IN ('unassigned', 'returned') OR (r.level > 0 AND r.status IN ('assigned', 'accepted'))) AND ")
            q += areaPredicate(actor, .requestRoute)
        case .area:
            q += areaPredicate(actor, .requestView)
        }
        if let status, let s = RequestStatus(rawValue: status) {
            q.appendInterpolation(unsafeRaw: " AND r.status = ")
            q.appendInterpolation(bind: s.rawValue)
        }
        if openOnly { q.appendInterpolation(unsafeRaw: " AND r.status IN (\(Self.openStatusList))") }
        // Overdue first, then urgent, then the nearest deadline; "mine" newest first; an area's
        // open ones by their next deadline (`TimeLeft.nextDeadline`), so the limit never cuts off
        // the oldest, most overdue ones.
        let order = scope == .area && openOnly
            ? " ORDER BY CASE WHEN r.accepted_at IS NULL THEN r.accept_due WHEN r.contacted_at IS NULL THEN r.contact_due ELSE r.resolve_due END, r.id"
            : scope == .mine || scope == .area ? " ORDER BY r.id DESC"
            : " ORDER BY CASE WHEN r.missed <> '' OR r.resolve_due < \(now) THEN 0 ELSE 1 END, CASE WHEN r.urgency = 'urgent' THEN 0 ELSE 1 END, r.resolve_due, r.id"
        q.appendInterpolation(unsafeRaw: order + " LIMIT \(max(1, min(limit, 200))) OFFSET \(max(0, offset))")
        let query = q
        return try await store.read { db in
            let cats = try await config.snapshot(db, now: now).categories
            let rows = try await db.raw(query).all().map(Self.row)
            // Followed requests (in "mine") show only what their followers may see.
            let followed = rows.filter { !canView(actor, $0) }
            let addresses = followed.isEmpty ? [:] : try await publicAddresses(db, followed)
            return rows.map { r in
                let v = view(r, cats, lang: lang, now: now)
                return canView(actor, r) ? v : followerView(v, r, publicAddress: addresses[r.id] ?? "")
            }
        }
    }

    /// Requests assigned to any party the actor belongs to.
    func partyPredicate(_ actor: Actor) -> SQLQueryString {
        var q = SQLQueryString("(1=0")
        for g in actor.grants(for: .requestWork) {
            switch g.role {
            case .propertyCompany:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'property_company' AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            case .gridWorker:
                if let grid = g.gridID { q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'grid_worker' AND r.party_grid_id = "); q.appendInterpolation(bind: grid); q.appendLiteral(")") }
            case .communityStaff:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind IN ('residents_committee', 'owners_committee') AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            case .ownersCommittee:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'owners_committee' AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            case .streetStaff:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'department' AND r.party_key NOT LIKE 'org:%' AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            case .departmentStaff:
                if let org = g.organisationID { q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'department' AND r.party_key = "); q.appendInterpolation(bind: "org:\(org)"); q.appendLiteral(")") }
            default: break
            }
        }
        q.appendLiteral(")")
        return q
    }

    func areaPredicate(_ actor: Actor, _ action: Action) -> SQLQueryString {
        var q = SQLQueryString("(1=0")
        for g in actor.grants(for: action) {
            switch g.role {
            case .hotline:
                q.appendInterpolation(unsafeRaw: " OR (r.channel = 'hotline' AND")
                q += Self.placePredicate(g.placePath)
                q.appendLiteral(")")
            case .resident, .volunteer, .partnerApp, .departmentStaff:
                continue
            case .gridWorker:
                if let grid = g.gridID { q.appendInterpolation(unsafeRaw: " OR r.grid_id = "); q.appendInterpolation(bind: grid) }
            case .propertyCompany:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'property_company' AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            // An owners' committee sees the requests routed to it, not its compound's others.
            case .ownersCommittee:
                q.appendInterpolation(unsafeRaw: " OR (r.party_kind = 'owners_committee' AND r.party_path LIKE ")
                q.appendInterpolation(bind: g.placePath + "%"); q.appendLiteral(")")
            default:
                // The indexed id columns where the grant is a street or community.
                q.appendInterpolation(unsafeRaw: " OR")
                q += Self.placePredicate(g.placePath)
            }
        }
        q.appendLiteral(")")
        return q
    }

    // MARK: Transitions

    public struct ActionInput: Sendable, Codable {
        public var note: String?
        public var rating: Int?
        public var partyKind: String?
        public var targetID: Int64?
        public var contacted: Bool?
        /// Staff mark a note (accept, progress, resolve) as a public reply for the board and Open311.
        public var publicReply: Bool?
        /// How a return visit (回访) reached the resident: "phone" (the default) or "visit".
        public var visitBy: String?
        /// Re-assigning to a department: which government department or field office.
        public var organisationID: Int64?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case note, rating, partyKind = "party_kind", targetID = "target_id", contacted, publicReply = "public_reply", visitBy = "visit_by"
            case organisationID = "organisation_id"
        }
    }

    /// One transition of the state machine, checked and written in one transaction.
    public func perform(_ transition: RequestTransition, id: Int64, _ input: ActionInput, photos rawPhotos: [[UInt8]] = [], actor: Actor) async throws -> RequestView {
        let note = input.note?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var v = Validator()
        v.check(note.count <= RequestLimits.noteMax, "note", "too_long", "说明不能超过 \(RequestLimits.noteMax) 字")
        switch transition {
        case .returnIt, .reject, .supervise, .note:
            v.check(!note.isEmpty, "note", "required", transition == .returnIt ? "退单须说明理由" : (transition == .reject ? "请说明不满意的原因" : "请填写内容"))
        case .confirm:
            v.check(input.rating.map { (1...5).contains($0) } ?? false, "rating", "invalid", "请给出 1 到 5 分的评价")
        default: break
        }
        if let how = input.visitBy { v.check(["phone", "visit"].contains(how), "visit_by", "invalid", "回访方式只能是电话（phone）或上门（visit）") }
        if transition == .reject, let rating = input.rating { v.check((1...5).contains(rating), "rating", "invalid", "评分应为 1 到 5") }
        v.check(rawPhotos.count <= RequestLimits.photosMax, "photos", "too_many", "最多上传 \(RequestLimits.photosMax) 张照片")
        var prepared: [PreparedPhoto] = []
        for (i, bytes) in rawPhotos.enumerated() where rawPhotos.count <= RequestLimits.photosMax {
            do { prepared.append(try PhotoStore.prepare(bytes)) } catch let e as LinliError {
                v.add(.invalid("photos", e.code, "第 \(i + 1) 张照片：\(e.message)"))
            }
        }
        try v.throwIfAny()
        let photosToSave = prepared
        let now = env.nowSeconds
        let env = self.env
        return try await store.transaction { db in
            var r = try await visible(db, id, actor, forUpdate: true)
            let s = try await config.snapshot(db, now: now)
            // Who may take this step on this request.
            let allowed: Bool
            switch transition {
            case .accept, .contact, .resolve, .returnIt: allowed = isParty(actor, r)
            case .note: allowed = isParty(actor, r) || canRoute(actor, r)
            case .reassign, .merge, .supervise: allowed = canRoute(actor, r)
            // A 12345 ticket is closed, reopened or taken back only by the hotline's return call and
            // answers (`hotlineCallback`, `answerHotlineObjection`), never by whoever typed it in.
            case .confirm, .reject: allowed = r.channel != Channel.hotline.rawValue && (isReporter(actor, r) || isReturnVisit(actor, r))
            case .withdraw: allowed = isReporter(actor, r) && (r.channel != Channel.hotline.rawValue || speaksForHotline(actor, r))
            case .autoClose: allowed = false
            }
            guard allowed else { throw LinliError(.forbidden, code: "not_your_request", message: "这一步不由您办理") }
            guard let next = transition.next(from: r.status) else {
                throw LinliError.conflict("status", "transition_not_allowed", "诉求当前状态（\(I18n.label(r.status.rawValue, .zh))）下不能进行此操作")
            }
            let old = r
            var notes: [OutgoingNotification] = []
            let subject = "#\(r.id) \(s.categories[r.category]?.nameZh ?? r.category) \(r.address)"
            var reporters = [r.submittedBy] + (r.reporterUserID.map { [$0] } ?? [])
            reporters += try await db.raw("SELECT user_id FROM request_followers WHERE request_id = \(bind: r.id)").all().map { try $0.decode(column: "user_id", as: Int64.self) }
            func tell(_ users: [Int64], _ kind: String) { notes += users.filter { $0 != actor.userID }.map { OutgoingNotification(userID: $0, kind: kind, requestID: r.id, subject: subject) } }
            var eventNote = note
            var isPublic = true
            let returnVisit = (transition == .confirm || transition == .reject) && isReturnVisit(actor, r)
            switch transition {
            case .accept:
                r.acceptedAt = now
                tell(reporters, "progress")
            case .contact:
                r.contactedAt = r.contactedAt ?? now
            case .note:
                if input.contacted == true, isParty(actor, r) { r.contactedAt = r.contactedAt ?? now }
                tell(reporters, "progress")
            case .resolve:
                r.resolvedAt = now
                if r.acceptedAt == nil { r.acceptedAt = now }
                if r.contactedAt == nil { r.contactedAt = now }
                tell(reporters, "resolved")
            case .returnIt:
                r.returnedCount += 1
                tell(try await levelUsers(db, path: r.path, level: .community), "returned")
                isPublic = false
            case .reassign:
                guard let kind = input.partyKind.flatMap(PartyKind.init(rawValue:)) else {
                    throw LinliError.invalid("party_kind", "invalid", "请选择新的责任方")
                }
                let loc = Located(placeID: r.placeID, path: r.path, householdID: r.householdID, gridID: r.gridID, address: r.address,
                                  streetID: r.streetID, communityID: r.communityID, compoundID: r.compoundID, lat: r.lat, lng: r.lng)
                if let org = input.organisationID {
                    guard kind == .department, let d = try await departments(db, [org])[org], r.path.hasPrefix(d.path) else {
                        throw LinliError.invalid("organisation_id", "not_serving", "所选部门不服务这个地点")
                    }
                }
                let party = try await resolveParty(db, kind, loc, organisationID: input.organisationID)
                r.partyKind = party.kind; r.partyKey = party.key; r.partyName = party.name; r.partyPath = party.path; r.partyGridID = party.gridID
                // The new party gets fresh accept and contact clocks; the resident's resolve clock keeps running.
                if let category = s.categories[r.category] {
                    r.acceptedAt = nil
                    r.acceptDue = category.policy.due(.accept, from: now, urgency: r.urgency, calendar: s.calendar)
                    if r.contactedAt == nil { r.contactDue = max(r.contactDue, category.policy.due(.contact, from: now, urgency: r.urgency, calendar: s.calendar)) }
                    r.missed.remove(.accept); r.missed.remove(.contact)
                }
                eventNote = party.name + (note.isEmpty ? "" : "：" + note)
                let users: [Int64]
                if let known = party.users { users = known } else { users = try await partyUsers(db, kind: party.kind, path: party.path, gridID: party.gridID) }
                tell(users, "assigned")
            case .confirm:
                Self.settle(&r, confirmed: true, rating: input.rating, now: now, s)
                eventNote = "\(input.rating ?? 0)★" + (note.isEmpty ? "" : " " + note)
                tell(try await partyUsers(db, of: r), "closed")
            case .reject:
                Self.settle(&r, confirmed: false, rating: input.rating, now: now, s)
                tell(try await partyUsers(db, of: r), "reopened")
            case .merge:
                guard let targetID = input.targetID, targetID != r.id, let target = try await fetch(db, targetID),
                      target.communityID == r.communityID, target.status.isOpen || target.status == .resolved, canRoute(actor, target) else {
                    throw LinliError.invalid("target_id", "invalid", "请选择同一社区内仍在办理的诉求作为合并目标")
                }
                r.mergedInto = targetID
                try await follow(db, targetID, users: reporters)
                _ = try await event(db, targetID, actor, "merged_in", note: "#\(r.id)")
                eventNote = "#\(targetID)"
                tell(reporters, "merged")
            case .supervise:
                tell(try await partyUsers(db, of: r), "supervised")
            case .withdraw:
                r.closedAt = now
                // "Someone already reported this": withdraw mine and follow theirs instead.
                if let targetID = input.targetID {
                    guard targetID != r.id, let target = try await fetch(db, targetID), target.communityID == r.communityID,
                          target.category == r.category, target.status.isOpen || target.status == .resolved else {
                        throw LinliError.invalid("target_id", "invalid", "只能改为关注同一社区、同一类别、仍在办理的诉求")
                    }
                    try await follow(db, targetID, users: reporters)
                    _ = try await event(db, targetID, nil, "follower_joined", note: "#\(r.id)")
                    eventNote = "#\(targetID)"
                }
            case .autoClose:
                break
            }
            if returnVisit {
                let how = input.visitBy == "visit" ? "上门回访" : "电话回访"
                eventNote = how + (eventNote.isEmpty ? "" : "：" + eventNote)
            }
            r.status = next
            r.updatedAt = now
            // Only a note the party or the routing staff wrote, and marked as a public reply, is published.
            let published = isPublic && input.publicReply == true && [.accept, .note, .resolve].contains(transition) && (isParty(actor, old) || canRoute(actor, old))
            let eventID = try await event(db, r.id, actor, transition.rawValue, note: eventNote, partyKey: old.partyKey, public: isPublic, published: published)
            for p in photosToSave { try await photos.save(db, p, requestID: r.id, eventID: eventID, now: now, env: env) }
            try await save(db, r, was: old)
            try await audit.append(db, actor: actor, action: "request.\(transition.rawValue)", objectType: "request", objectID: r.id, path: r.path,
                                   detail: "\(old.status.rawValue) → \(r.status.rawValue)")
            try await notifier.deliver(db, notes, at: now)
            return view(r, s.categories, lang: .zh, now: now)
        }
    }

    /// The word on a resolved request — the resident's, or the hotline's return call: confirmed, it
    /// closes; rejected, it is to be handled again with a fresh resolve deadline. The rating either way.
    static func settle(_ r: inout Row, confirmed: Bool, rating: Int?, now: Int64, _ s: RequestsConfig.Snapshot) {
        r.rating = rating
        if confirmed {
            r.closedAt = now
        } else {
            r.resolvedAt = nil
            if let category = s.categories[r.category] {
                r.resolveDue = category.policy.due(.resolve, from: now, urgency: r.urgency, calendar: s.calendar)
                r.missed.remove(.resolve)
            }
        }
    }

    /// Writes the mutable part of a request back, with its next deadline recomputed, and what the
    /// change makes to its community's month of figures (`was`: the row as it was read).
    func save(_ db: any SQLDatabase, _ r: Row, was old: Row) async throws {
        try await Self.addToRollup(db, store.dialect, [(r.communityID, r.createdAt, r.tally - old.tally)], with: Self.spotMoves(store.dialect, r, was: old))
        try await db.raw("""
            UPDATE requests SET status = \(bind: r.status.rawValue), party_kind = \(bind: r.partyKind?.rawValue), party_key = \(bind: r.partyKey),
                party_name = \(bind: r.partyName), party_path = \(bind: r.partyPath), party_grid_id = \(bind: r.partyGridID), level = \(bind: r.level.rawValue),
                accept_due = \(bind: r.acceptDue), contact_due = \(bind: r.contactDue), resolve_due = \(bind: r.resolveDue),
                accepted_at = \(bind: r.acceptedAt), contacted_at = \(bind: r.contactedAt), resolved_at = \(bind: r.resolvedAt), closed_at = \(bind: r.closedAt),
                missed = \(bind: r.missedText), next_due = \(bind: r.nextDue()),
                rating = \(bind: r.rating), merged_into = \(bind: r.mergedInto), returned_count = \(bind: r.returnedCount), updated_at = \(bind: r.updatedAt)
            WHERE id = \(bind: r.id)
            """).run()
    }

    /// The contact a staff member entered, shown in full only with a reason, and audited.
    /// The number to call the reporter back on, for those handling the request, if the reporter
    /// allowed it: the number they gave staff, or the one on their own account. Each call is
    /// audited ("request.call") as an unmasking is.
    public func callReporter(_ id: Int64, actor: Actor) async throws -> (name: String, phone: String) {
        try await store.transaction { db in
            let r = try await visible(db, id, actor)
            guard isParty(actor, r) || canRoute(actor, r) else { throw LinliError.forbidden }
            guard r.callbackOK else { throw LinliError.conflict("callback_ok", "not_allowed", "居民没有同意电话联系；请在诉求页留言") }
            var (name, phone) = try await openContact(db, id)
            if phone.isEmpty, let reporter = r.reporterUserID ?? (r.channel == Channel.app.rawValue ? r.submittedBy : nil) {
                phone = try await accountPhone(db, reporter) ?? ""
                if name.isEmpty { name = r.contactMasked }
            }
            guard !phone.isEmpty else { throw LinliError.conflict("phone", "no_number", "没有可拨打的号码；请在诉求页留言") }
            try await audit.append(db, actor: actor, action: "request.call", objectType: "request", objectID: id, path: r.path, reason: "回电")
            return (name, phone)
        }
    }

    /// The name and phone given for a request, opened (the callers audit why).
    func openContact(_ db: any SQLDatabase, _ id: Int64) async throws -> (name: String, phone: String) {
        let row = try await db.raw("SELECT contact_name_cipher, contact_phone_cipher FROM requests WHERE id = \(bind: id)").first()!
        return (try row.decode(column: "contact_name_cipher", as: String?.self).map { try cipher.open($0) } ?? "",
                try row.decode(column: "contact_phone_cipher", as: String?.self).map { try cipher.open($0) } ?? "")
    }

    public func unmaskContact(_ id: Int64, reason: String?, actor: Actor) async throws -> (name: String, phone: String) {
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !reason.isEmpty else { throw LinliError.invalid("reason", "required", "请说明查看理由") }
        return try await store.transaction { db in
            let r = try await visible(db, id, actor)
            guard isParty(actor, r) || canRoute(actor, r) else { throw LinliError.forbidden }
            let (name, phone) = try await openContact(db, id)
            try await audit.append(db, actor: actor, action: "request.unmask_contact", objectType: "request", objectID: id, path: r.path, reason: reason)
            return (name, phone)
        }
    }
}
