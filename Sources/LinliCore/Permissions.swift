/// Roles, scopes and the permission table. Deny by default: an action a role does not list is
/// refused, and an object outside every grant's scope answers 404 as if it did not exist.
public enum Role: String, Sendable, CaseIterable, Codable {
    case cityAdmin = "city_admin"
    case streetStaff = "street_staff"
    case communityStaff = "community_staff"
    case gridWorker = "grid_worker"
    case propertyCompany = "property_company"
    case resident
    case volunteer
    case auditor
    /// A third-party app (an Open311 client) filing and following requests for citizens.
    case partnerApp = "partner_app"
    /// Staff of a government department or its field office (派出机构), serving the area its
    /// organisation sits at: they send work items to communities through the street's admission.
    case departmentStaff = "department_staff"
    /// The city's 12345 hotline as a system: passes its tickets in, and answers for the hotline on
    /// them (the return call, objections to its dispatch). Apart from an Open311 partner app,
    /// which may not close or send back anyone's request.
    case hotline
    /// An owners' committee (业主委员会) over its compound: it works the requests routed to it,
    /// runs its compound's matters, and sees nothing of residents' private requests or ballots.
    case ownersCommittee = "owners_committee"
    /// A social organisation (社会组织) registered or filed in a community: it runs its own
    /// activities for residents and takes part in the community's needs and projects; it never
    /// reads the registry (a sign-up shows it a building, not a door).
    case socialOrganisation = "social_organisation"
    /// A compound's or community's party branch (党支部): it runs its own activities, suggests
    /// matters for deliberation and follows them, and takes part in the needs pool.
    case partyBranch = "party_branch"
}

extension Role {
    /// Roles held by staff of an organisation over an area, as opposed to people acting for themselves.
    public var isStaff: Bool { ![.resident, .volunteer, .partnerApp, .hotline].contains(self) }
}

public enum Action: String, Sendable, CaseIterable {
    case placeView = "place.view"
    case placeEdit = "place.edit"
    case householdView = "household.view"
    case householdEdit = "household.edit"
    case residentView = "resident.view"
    case residentEdit = "resident.edit"
    case residentUnmask = "resident.unmask"
    /// Act for a resident (代办): take the resident's own steps with them, person confirmed, reason given.
    case residentActFor = "resident.act_for"
    case coverageView = "coverage.view"
    case auditView = "audit.view"
    case userManage = "user.manage"
    case registryTransfer = "registry.transfer"
    case requestSubmit = "request.submit"
    case requestView = "request.view"
    /// Accept, note, resolve or return a request assigned to one's own party.
    case requestWork = "request.work"
    /// Route, re-assign, merge and supervise (督办) requests in one's area; edit routing rules.
    case requestRoute = "request.route"
    case requestFigures = "request.figures"
    /// Categories, deadlines and the holiday calendar (city-wide settings).
    case requestConfigure = "request.configure"
    /// Raise a matter for deliberation (居民或党员提议).
    case matterSuggest = "matter.suggest"
    case matterView = "matter.view"
    /// Move a matter through its stages: meetings, polls, publication, milestones, filing.
    case matterManage = "matter.manage"
    /// Cast one's own ballots online.
    case voteCast = "vote.cast"
    /// Enter paper and proxy ballots for owners.
    case voteRecord = "vote.record"
    /// See who voted how (masked; unmasking is audited).
    case ballotView = "ballot.view"
    /// Vote rule sets (city-wide data).
    case voteConfigure = "vote.configure"
    /// Register as a volunteer, answer shifts, check in and out, redeem points (for oneself).
    case volunteerJoin = "volunteer.join"
    /// Teams, tasks and shifts, matching, confirming people and hours, rewards.
    case volunteerManage = "volunteer.manage"
    /// See a community's needs, micro-projects, tasks and funds.
    case linkageView = "linkage.view"
    /// Post a need or proposal and support others'.
    case needPost = "need.post"
    /// Micro-projects, the purchased-service catalogue, social workers and their training.
    case projectManage = "project.manage"
    /// Give to a crowdfunding campaign online.
    case fundDonate = "fund.donate"
    /// Campaigns, offline gifts, expenses and their approval.
    case fundManage = "fund.manage"
    /// Government matching pools (street and city).
    case fundPool = "fund.pool"
    /// Log visits (走访) to households of one's grid, see its due list and the visits' notes.
    case visitLog = "visit.log"
    /// Set a community's visit rules and see its coverage by grid.
    case visitPlan = "visit.plan"
    /// Send announcements (通知) to a community's households and see who has read them.
    case announcementSend = "announcement.send"
    /// See the situation map (村情图) and the needs analysis of a street or community.
    case situationView = "situation.view"
    /// Apply for a service of the centre (办事) for one's household, or for a resident.
    case affairApply = "affair.apply"
    /// See the activities (活动) of the places one lives or works under.
    case activityView = "activity.view"
    /// Post activities and run them (attendance at the door, calling one off): staff for any in
    /// their area, an organisation's account for its own only.
    case activityRun = "activity.run"
    /// Run the centre's services: the catalogue, counter slots, the desk and its steps.
    case affairHandle = "affair.handle"
    /// Keep a street's or district's lists (准入、自治、协助、负面清单), the admission clock and
    /// departments' budgets.
    case officeLists = "office.lists"
    /// See the work items sent to or through one's place.
    case workItemView = "workitem.view"
    /// Submit a department's work item for communities (only as a department's own staff).
    case workItemSubmit = "workitem.submit"
    /// Admit, refuse or revoke work items against the lists (the street).
    case workItemReview = "workitem.review"
    /// A community's answer to an admitted item: refuse it (negative or no list) or report it done.
    case workItemRespond = "workitem.respond"
    /// A community rates the departments that serve it (评价权、好差评).
    case departmentRate = "department.rate"
    /// The whole area at a glance: a street's, district's or city's figures by the places below.
    case dashboardView = "dashboard.view"
    /// The city's 12345 hotline link: pass its tickets in (the hotline's own account, or street
    /// staff typing a ticket that came by another way), record the return call's satisfaction and
    /// answer a community's objection to a wrong dispatch (退单).
    case hotlineLink = "hotline.link"
}

public enum PermissionTable {
    /// Which actions each role may take (inside its scope).
    public static let actions: [Role: Set<Action>] = [
        .cityAdmin: Set(Action.allCases).subtracting([.voteCast, .volunteerJoin, .fundDonate]),
        .streetStaff: Set(Action.allCases).subtracting([.auditView, .requestConfigure, .voteConfigure, .voteCast, .volunteerJoin, .fundDonate, .workItemSubmit]),
        .communityStaff: [.placeView, .placeEdit, .householdView, .householdEdit, .residentView, .residentEdit,
                          .residentUnmask, .residentActFor, .coverageView, .registryTransfer, .userManage,
                          .requestSubmit, .requestView, .requestWork, .requestRoute, .requestFigures,
                          .matterSuggest, .matterView, .matterManage, .voteRecord, .ballotView,
                          .volunteerManage, .linkageView, .needPost, .projectManage, .fundManage, .visitLog, .visitPlan, .announcementSend, .situationView,
                          .affairApply, .affairHandle, .activityView, .activityRun, .workItemView, .workItemRespond, .departmentRate],
        // A grid worker sends announcements to their own grid only (the use case holds them to it).
        .gridWorker: [.linkageView, .needPost, .placeView, .householdView, .householdEdit, .residentView, .residentEdit, .residentUnmask, .residentActFor,
                      .requestSubmit, .requestView, .requestWork, .matterSuggest, .matterView, .visitLog, .affairApply, .activityView, .announcementSend],
        .propertyCompany: [.placeView, .householdView, .requestView, .requestWork, .requestFigures, .matterView],
        // No ballot view: a committee is often a party to its own compound's votes; it reads the
        // result when the poll closes, as owners do.
        .ownersCommittee: [.placeView, .requestView, .requestWork, .matterSuggest, .matterView, .matterManage],
        .resident: [.householdView, .residentView, .residentUnmask, .requestSubmit, .requestView, .matterSuggest, .matterView, .voteCast,
                    .volunteerJoin, .linkageView, .needPost, .fundDonate, .affairApply, .activityView],
        .volunteer: [.placeView, .requestSubmit, .requestView, .matterView, .volunteerJoin, .linkageView, .needPost, .fundDonate],
        .auditor: [.placeView, .coverageView, .auditView, .requestView, .requestFigures, .matterView, .ballotView, .linkageView, .workItemView, .dashboardView],
        .partnerApp: [.requestSubmit, .requestView],
        .hotline: [.requestSubmit, .requestView, .hotlineLink],
        // A department handles the requests routed to it by name (its own queue, nobody else's).
        .departmentStaff: [.placeView, .workItemView, .workItemSubmit, .requestView, .requestWork],
        .socialOrganisation: [.placeView, .linkageView, .needPost, .activityView, .activityRun],
        .partyBranch: [.placeView, .matterSuggest, .matterView, .linkageView, .needPost, .activityView, .activityRun],
    ]

    /// Actions a person takes for themselves only (their own vote, their own volunteering, their
    /// own gift). Holding them gives no power over anyone else, so a manager who lacks them may
    /// still grant a role that has them: a city administrator makes residents' accounts.
    public static let forOneself: Set<Action> = [.voteCast, .volunteerJoin, .fundDonate]

    /// The same table as one bit per action, by the role's position: a page asks `may` a few dozen
    /// times, and each lookup above hashed two strings (the role's and the action's raw values).
    package static let masks: [UInt64] = Role.allCases.map { role in
        (actions[role] ?? []).reduce(UInt64(0)) { $0 | $1.bit }
    }

    @inline(__always)
    package static func allows(_ role: Role, _ action: Action) -> Bool { masks[role.position] & action.bit != 0 }
}

extension Role {
    /// The case's position in the declaration (a case-only enum is stored as exactly that).
    package var position: Int { Int(unsafeBitCast(self, to: UInt8.self)) }
}

extension Action {
    package var position: Int { Int(unsafeBitCast(self, to: UInt8.self)) }
    package var bit: UInt64 { 1 << UInt64(position) }
}

/// One role held over one node: a place subtree, narrowed to a grid (grid worker) or a household (resident).
public struct RoleGrant: Sendable, Equatable {
    public var role: Role
    public var placeID: Int64
    public var placePath: String
    public var gridID: Int64?
    public var householdID: Int64?
    /// The resident of that household this account is (a resident's grant): an owner votes
    /// online only through the account linked to them, never through another member's.
    public var residentID: Int64?
    /// The department (an organisation) a department's staff work for; their place is its area.
    public var organisationID: Int64?

    public init(role: Role, placeID: Int64, placePath: String, gridID: Int64? = nil, householdID: Int64? = nil, residentID: Int64? = nil,
                organisationID: Int64? = nil) {
        self.role = role; self.placeID = placeID; self.placePath = placePath; self.gridID = gridID; self.householdID = householdID
        self.residentID = residentID; self.organisationID = organisationID
    }
}

/// Where an object sits, so that any grant can be checked against it.
public struct ObjectScope: Sendable {
    public var path: String
    public var gridIDs: [Int64] = []
    public var householdID: Int64?
    public init(path: String, gridIDs: [Int64] = [], householdID: Int64? = nil) {
        self.path = path
        self.gridIDs = gridIDs
        self.householdID = householdID
    }
}

/// Who is really at the keyboard when a member of staff acts for a resident (代办): the actor is
/// the resident (their scope, their history), and every record says who did it for them.
public struct ActingBy: Sendable, Equatable {
    public var sessionID: Int64
    public var userID: Int64
    public var username: String
    public var displayName: String
    public var expiresAt: Int64
    /// A relative acting for the person they look after, not a member of staff: some things
    /// (an owner's vote) need staff and the owner's signed paper.
    public var byRelative: Bool

    public init(sessionID: Int64, userID: Int64, username: String, displayName: String, expiresAt: Int64, byRelative: Bool = false) {
        self.sessionID = sessionID
        self.userID = userID
        self.username = username
        self.displayName = displayName
        self.expiresAt = expiresAt
        self.byRelative = byRelative
    }
}

public struct Actor: Sendable {
    public var userID: Int64
    public var username: String
    public var displayName: String
    public var grants: [RoleGrant]
    /// Set while a member of staff acts for this resident.
    public var acting: ActingBy?
    /// Actions this actor may not take whatever its grants say: a relative acting for an elder
    /// neither opens the household's personal data nor votes as the owner.
    public var withheld: Set<Action> = []

    /// The name a record shows for whoever took a step: "王秀英（李敏代办）" while acting.
    public var signature: String {
        guard let acting else { return displayName }
        return "\(displayName)（\(acting.displayName)代办）"
    }

    public init(userID: Int64, username: String, displayName: String, grants: [RoleGrant]) {
        self.userID = userID
        self.username = username
        self.displayName = displayName
        self.grants = grants
    }

    public func may(_ action: Action) -> Bool {
        !withheld.contains(action) && grants.contains { PermissionTable.allows($0.role, action) }
    }

    /// No staff role anywhere: a resident or volunteer, who gets a home of tiles and a
    /// resident's menu rather than a console.
    public var actsOnlyForThemselves: Bool { !grants.contains { $0.role.isStaff } }

    /// True if some grant allows `action` on an object at `scope`.
    public func may(_ action: Action, on scope: ObjectScope) -> Bool {
        guard !withheld.contains(action) else { return false }
        return grants.contains { g in
            guard PermissionTable.allows(g.role, action) else { return false }
            return Self.covers(g, action, scope)
        }
    }

    package static func covers(_ g: RoleGrant, _ action: Action, _ scope: ObjectScope) -> Bool {
        switch g.role {
        case .resident:
            return scope.householdID != nil && scope.householdID == g.householdID
        case .gridWorker:
            // Grid workers see the places of their community but households only of their grid.
            if action == .placeView { return scope.path.hasPrefix(g.placePath) }
            guard let grid = g.gridID else { return false }
            return scope.gridIDs.contains(grid)
        default:
            return scope.path.hasPrefix(g.placePath)
        }
    }

    /// Throws 404 unless the actor may act here: an out-of-scope object looks like a missing one.
    public func require(_ action: Action, on scope: ObjectScope) throws {
        guard may(action, on: scope) else {
            // Visible but not changeable: say so plainly instead of pretending it is not there.
            if may(.placeView, on: scope) || may(.householdView, on: scope) || may(.residentView, on: scope) {
                throw LinliError.forbidden
            }
            throw LinliError.notFound
        }
    }

    public func require(_ action: Action) throws {
        guard may(action) else { throw LinliError.forbidden }
    }

    /// The grants that allow `action`, for building scoped list queries.
    public func grants(for action: Action) -> [RoleGrant] {
        withheld.contains(action) ? [] : grants.filter { PermissionTable.allows($0.role, action) }
    }
}
