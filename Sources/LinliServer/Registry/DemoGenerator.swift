import Foundation
import SQLKit
import LinliCore
import LinliStore
import NIOConcurrencyHelpers


/// One community of the demo street, sized from the reference figures in DOMAIN.md.
struct CommunitySpec: Sendable {
    var name: String
    var type: CommunityType
    var compounds: [String]          // compound (or villager group) names
    var grids: Int
    var microGrids: Int
    var households: Int
    var people: Int
    var migrantShare: Double
    var ownersCommitteeShare: Double
    var propertyShare: Double
    var householdsPerUnit: Int
}

public struct DemoSummary: Sendable {
    public var streets = 0, communities = 0, compounds = 0, buildings = 0, households = 0, residents = 0, organisations = 0
    public var cityID: Int64 = 0, firstStreetID: Int64 = 0, firstCommunityID: Int64 = 0, firstGridID: Int64 = 0
    public var firstHouseholdWithResidents: Int64 = 0
    /// A household whose head owns the dwelling: the demo owner who can vote.
    public var firstOwnerHousehold: Int64 = 0
    public var propertyCompanyCompounds: [Int64] = []
    /// The same firsts for each street (the top-level ones are the first street's), so that a
    /// test can give every role a twin on another street: objects outside its scope.
    public var byStreet: [DemoSummary] = []
}

/// Builds the demo street (or `scale` of them) straight into the store in large batches.
public struct DemoGenerator: Sendable {
    let store: any Store
    let cipher: PersonalDataCipher
    let env: Env
    let seed: UInt64
    let scale: Int
    /// Ages are computed against this date so that the same seed always gives the same people.
    static let referenceYear = 2026

    let specs: [CommunitySpec]

    /// `communities`: how many each street has (the four reference communities over and over,
    /// numbered from the fifth: "西林寺社区（二）"), for the offices' benchmark at a city's size
    /// (20 a street, 1,000 in 50 streets); nil keeps the four.
    public init(store: any Store, cipher: PersonalDataCipher, env: Env, seed: UInt64, scale: Int, communities: Int? = nil, tiny: Bool = false) {
        self.store = store; self.cipher = cipher; self.env = env; self.seed = seed; self.scale = max(1, scale)
        let base = tiny ? Self.tinyCommunities : Self.communities
        self.specs = communities.map { n in
            (0..<max(1, n)).map { i in
                var spec = base[i % base.count]
                let k = i / base.count + 1, numerals = Array("一二三四五六七八九十")
                if k > 1 { spec.name += "（" + (k <= numerals.count ? String(numerals[k - 1]) : String(k)) + "）" }
                return spec
            }
        } ?? base
    }

    /// A small street for tests: the same shapes (merged community, village) at a few dozen households.
    static let tinyCommunities: [CommunitySpec] = [
        CommunitySpec(name: "甲社区", type: .merged, compounds: ["甲一苑", "甲二苑"], grids: 2, microGrids: 4, households: 40, people: 120,
                      migrantShare: 0.2, ownersCommitteeShare: 0.5, propertyShare: 1.0, householdsPerUnit: 4),
        CommunitySpec(name: "乙村", type: .rural, compounds: ["第一村民小组"], grids: 1, microGrids: 2, households: 10, people: 30,
                      migrantShare: 0.05, ownersCommitteeShare: 0, propertyShare: 0, householdsPerUnit: 0),
    ]

    static let communities: [CommunitySpec] = [
        CommunitySpec(name: "西林寺社区", type: .merged,
                      compounds: ["金桂苑", "银杏苑", "丹桂园", "锦绣花园", "滨江一品", "阳光小区", "幸福家园", "翠湖苑", "明珠花园", "书香门第",
                                  "香樟园", "紫荆苑", "和园", "春晖苑", "秋实苑", "东方名邸", "梧桐苑", "清水湾", "枫林苑", "海棠苑", "西林新村", "寺前小区"],
                      grids: 26, microGrids: 84, households: 2357, people: 10318, migrantShare: 0.18,
                      ownersCommitteeShare: 0.35, propertyShare: 0.75, householdsPerUnit: 12),
        CommunitySpec(name: "野马村", type: .rural,
                      compounds: ["第一村民小组", "第二村民小组", "第三村民小组", "第四村民小组", "第五村民小组", "第六村民小组", "第七村民小组"],
                      grids: 7, microGrids: 21, households: 514, people: 1753, migrantShare: 0.05,
                      ownersCommitteeShare: 0, propertyShare: 0, householdsPerUnit: 0),
        CommunitySpec(name: "翠苑社区", type: .urban,
                      compounds: ["翠苑一区", "翠苑二区", "翠苑三区", "翠苑四区", "文华园", "学府苑", "嘉和园", "新华坊"],
                      grids: 12, microGrids: 36, households: 1600, people: 4200, migrantShare: 0.10,
                      ownersCommitteeShare: 0.5, propertyShare: 0.85, householdsPerUnit: 12),
        CommunitySpec(name: "安居社区", type: .relocated,
                      compounds: ["安居一区", "安居二区", "安居三区", "乐业苑", "和顺苑", "新居苑"],
                      grids: 18, microGrids: 54, households: 3000, people: 9060, migrantShare: 0.47,
                      ownersCommitteeShare: 0.2, propertyShare: 0.6, householdsPerUnit: 36),
    ]

    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
    static let givenMale = Array("伟强磊军勇杰涛斌明超刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欣博文志建国峰晨阳东海")
    static let givenFemale = Array("芳娜敏静丽艳娟霞秀英慧巧美娴莉桂兰凤洁琳素云莲真环雪荣爱妹玲芬燕红梅萍婷雯颖倩")
    static let phonePrefixes = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                                "156", "158", "159", "177", "180", "181", "182", "183", "186", "187", "188", "189", "199"]
    static let regionCodes = ["330102", "330105", "330106", "330108", "330109", "330110", "330482", "330381", "510104", "510107"]

    struct IDs { var place: Int64, grid: Int64, household: Int64, owner: Int64, dwelling: Int64, resident: Int64, org: Int64, facility: Int64 }

    /// Rows waiting to be written, flushed in multi-row INSERTs.
    struct Batch {
        var table: String
        var columns: [String]
        var rows: [[any DemoCell]] = []
    }

    /// The tables the demo fills.
    static let tables = ["places", "grids", "households", "owners", "dwellings", "residents", "organisations", "organisation_compounds", "facilities"]

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> DemoSummary {
        let start = ContinuousClock.now
        let pending = NIOLockedValueBox<[Task<Void, any Error>]>([])
        let summary = try await store.bulkLoad(tables: Self.tables) {
            let s: DemoSummary
            do { s = try await generate(log: log, pending: pending) } catch {
                // Communities' writes may still be running: let them end before the indexes are
                // built again, or the two could deadlock on PostgreSQL.
                for w in pending.withLockedValue({ $0 }) { _ = try? await w.value }
                throw error
            }
            log("rows written after \(start.duration(to: .now)); building indexes")
            return s
        }
        log("indexes built after \(start.duration(to: .now)); counting the registry's kept figures")
        // Written around the use cases, so the kept headcount and situation counts are counted once at the end.
        try await store.transaction { db in
            try await RegistryService.countPopulationAfresh(db)
            try await RegistryService.countSituationsAfresh(db)
        }
        // A street's sensitive records (a child is one) arrive in one statement per tag, with
        // their foreign key checked once at the end rather than row by row.
        let today = LocalDay.of(env.nowSeconds)
        try await store.bulkLoad(tables: ["sensitive_facts"]) {
            try await store.transaction { db in try await RegistryService.backfillSensitive(db, today: today) }
        }
        log("registry loaded after \(start.duration(to: .now))")
        return summary
    }

    /// Each community's rows are written in one transaction while the next community is generated,
    /// so the generator and the writer each keep a core busy.
    private func generate(log: @Sendable (String) -> Void, pending: NIOLockedValueBox<[Task<Void, any Error>]>) async throws -> DemoSummary {
        var rng = SeededRandom(seed: seed)
        var ids = try await store.read { db in
            func next(_ t: String) async throws -> Int64 {
                (try await db.raw("SELECT COALESCE(MAX(id), 0) AS m FROM \(unsafeRaw: t)").first()?.decode(column: "m", as: Int64.self) ?? 0) + 1
            }
            return IDs(place: try await next("places"), grid: try await next("grids"), household: try await next("households"),
                       owner: try await next("owners"), dwelling: try await next("dwellings"), resident: try await next("residents"),
                       org: try await next("organisations"), facility: try await next("facilities"))
        }
        var summary = DemoSummary()
        var usedIDs = Set<String>(), usedPhones = Set<String>()
        let now = env.nowSeconds

        var places = Batch(table: "places", columns: ["id", "parent_id", "kind", "name", "path", "community_type", "lat", "lng", "created_at"])
        func addPlace(_ parent: Int64?, _ parentPath: String, _ kind: PlaceKind, _ name: String, _ ctype: String? = nil, at: (lat: Double, lng: Double)? = nil) -> (Int64, String) {
            let id = ids.place; ids.place += 1
            let path = parentPath + "\(id)/"
            places.rows.append([id, parent, kind.rawValue, name, path, ctype, at?.lat, at?.lng, now])
            return (id, path)
        }
        let (cityID, cityPath) = addPlace(nil, "/", .city, "示范市")
        let (districtID, districtPath) = addPlace(cityID, cityPath, .district, "示范区")
        summary.cityID = cityID
        // Writes queue behind each other (each commits before the next starts, so rows always
        // follow what they refer to); a few may wait, so that a small community's write never
        // leaves the writer idle while a large one is generated, nor the reverse.
        var writing: [Task<Void, any Error>] = []
        func write(_ batches: [Batch]) async throws {
            if writing.count >= 3 { try await writing.removeFirst().value }
            let store = self.store, previous = writing.last
            let task = Task {
                try await previous?.value
                // PostgreSQL takes the rows by COPY, on the transaction's connection.
                if let pg = store as? PostgresStore {
                    try await pg.copyTransaction { _, copy in
                        for b in batches { try await copy(b.table, b.columns, b.rows.map { $0.map(\.bulkValue) }) }
                    }
                    return
                }
                try await store.transaction { db in
                    for var b in batches { try await Self.insert(db, &b) }
                }
            }
            writing.append(task)
            pending.withLockedValue { $0.append(task) }
        }
        try await write([places])
        places.rows.removeAll()

        for s in 0..<scale {
            let streetName = s == 0 ? "湖滨街道" : "湖滨街道\(s + 1)"
            let (streetID, streetPath) = addPlace(districtID, districtPath, .street, streetName)
            var here = DemoSummary()
            here.cityID = cityID; here.firstStreetID = streetID
            summary.streets += 1
            var orgs = Batch(table: "organisations", columns: ["id", "kind", "name", "place_id", "parent_id", "service_type", "registration"])
            var serving = Batch(table: "organisation_compounds", columns: ["organisation_id", "compound_id"])
            var propertyCompanies: [Int64] = []
            for name in ["绿城物业", "滨江物业", "金诚物业", "安居物业服务中心"] {
                propertyCompanies.append(ids.org)
                orgs.rows.append([ids.org, OrganisationKind.propertyCompany.rawValue, name, streetID, Int64?.none, String?.none, String?.none]); ids.org += 1
            }
            var office = Batch(table: "place_contacts", columns: ["place_id", "address", "phone", "hours"])
            var gridContacts = Batch(table: "grid_contacts", columns: ["grid_id", "worker_name", "phone"])
            for (ci, spec) in specs.enumerated() {
                let (communityID, communityPath) = addPlace(streetID, streetPath, spec.type == .rural ? .village : .community, spec.name, spec.type.rawValue)
                if ci == 0 { here.firstCommunityID = communityID }
                summary.communities += 1
                // Grids and micro-grids.
                var grids = Batch(table: "grids", columns: ["id", "community_id", "parent_id", "level", "name"])
                var gridIDs: [Int64] = [], microIDs: [(Int64, Int64)] = []
                for g in 0..<spec.grids {
                    gridIDs.append(ids.grid)
                    grids.rows.append([ids.grid, communityID, Int64?.none, "grid", "第\(g + 1)网格"]); ids.grid += 1
                }
                for m in 0..<spec.microGrids {
                    let parent = gridIDs[m * spec.grids / spec.microGrids]
                    microIDs.append((parent, ids.grid))
                    grids.rows.append([ids.grid, communityID, parent, "micro", "第\(m * spec.grids / spec.microGrids + 1)网格-微网格\(m + 1)"]); ids.grid += 1
                }
                if ci == 0 { here.firstGridID = gridIDs[0] }
                // What the office posts on its door and in the stairwells, from a generator of its
                // own so that the rest of the demo stays as it was for a given seed.
                var posted = SeededRandom(seed: UInt64(communityID) &* 7919)
                office.rows.append([communityID, streetName + spec.name + "党群服务中心（\(spec.compounds[0])东门旁）",
                                    "0571-8\(posted.int(100...999))\(posted.int(1000...9999))", "周一至周日 8:30–17:30（午间不休）"])
                for g in gridIDs {
                    gridContacts.rows.append([g, String(posted.pick(Self.surnames)) + Self.given(&posted, male: posted.chance(0.4)),
                                              "139\(posted.int(1000...9999))\(posted.int(1000...9999))"])
                }
                // Community-level organisations.
                let committee = ids.org
                orgs.rows.append([ids.org, OrganisationKind.partyCommittee.rawValue, spec.name + (spec.type == .rural ? "党总支" : "党委"), communityID, Int64?.none, String?.none, String?.none]); ids.org += 1
                orgs.rows.append([ids.org, (spec.type == .rural ? OrganisationKind.villagersCommittee : .residentsCommittee).rawValue,
                                  spec.name + (spec.type == .rural ? "村民委员会" : "居民委员会"), communityID, Int64?.none, String?.none, String?.none]); ids.org += 1
                for (k, t) in ["activity", "service", "rights"].enumerated() {
                    let n = ["夕阳红文体队", "邻里互助社", "和事佬调解室"][k]
                    orgs.rows.append([ids.org, OrganisationKind.socialOrganisation.rawValue, spec.name + n, communityID, Int64?.none, t, rng.chance(0.5) ? "registered" : "filed"]); ids.org += 1
                }
                orgs.rows.append([ids.org, OrganisationKind.communityEnterprise.rawValue, spec.name + "发展服务有限公司", communityID, Int64?.none, String?.none, String?.none]); ids.org += 1
                for n in ["第一小学", "区人民医院分院"] {
                    orgs.rows.append([ids.org, OrganisationKind.residentUnit.rawValue, String(spec.name.prefix(2)) + n, communityID, Int64?.none, String?.none, String?.none]); ids.org += 1
                }
                // Facilities around the community's centre.
                var facilities = Batch(table: "facilities", columns: ["id", "place_id", "kind", "name", "lat", "lng"])
                let lat0 = 30.25 + Double(s % 20) * 0.02 + Double(ci) * 0.005, lng0 = 120.15 + Double(s / 20) * 0.02 + Double(ci) * 0.005
                for (k, kind) in FacilityKind.allCases.enumerated() {
                    facilities.rows.append([ids.facility, communityID, kind.rawValue, spec.name + I18n.label(kind.rawValue, .zh),
                                            lat0 + Double(rng.int(-30...30)) / 10000, lng0 + Double(k) * 0.001]); ids.facility += 1
                }

                // Compounds, buildings, units, households, people.
                var households = Batch(table: "households", columns: ["id", "place_id", "community_id", "path", "door", "address", "grid_id", "micro_grid_id", "code", "created_at"])
                var owners = Batch(table: "owners", columns: ["id", "community_id", "kind", "name"])
                var dwellings = Batch(table: "dwellings", columns: ["id", "household_id", "area_centi_m2", "owner_id", "part_no"])
                var residents = Batch(table: "residents", columns: ["id", "household_id", "name", "gender", "birth_date", "id_cipher", "id_index", "id_key", "id_last4",
                                                                     "phone_cipher", "phone_index", "phone_masked", "registration", "relation", "tags",
                                                                     "party_member", "in_service_party", "owner_id", "created_at", "updated_at"])
                let rural = spec.type == .rural
                let perHousehold = Double(spec.people) / Double(spec.households)
                var householdIndex = 0
                for (k, compoundName) in spec.compounds.enumerated() {
                    let hhCount = spec.households / spec.compounds.count + (k < spec.households % spec.compounds.count ? 1 : 0)
                    // Compounds on a grid among the community's facilities, so the request form's map has them to show.
                    let compoundAt = (lat: lat0 + (Double(k / 6) - 1.5) * 0.0015, lng: lng0 + Double(k % 6) * 0.0015)
                    let (compoundID, compoundPath) = addPlace(communityID, communityPath, rural ? .villagerGroup : .compound, compoundName, at: compoundAt)
                    summary.compounds += rural ? 0 : 1
                    if !rural {
                        if rng.chance(spec.propertyShare) {
                            let company = propertyCompanies[k % propertyCompanies.count]
                            serving.rows.append([company, compoundID])
                            if company == propertyCompanies[0] && ci == 0 { here.propertyCompanyCompounds.append(compoundID) }
                        }
                        if rng.chance(spec.ownersCommitteeShare) {
                            orgs.rows.append([ids.org, OrganisationKind.ownersCommittee.rawValue, compoundName + "业主委员会", compoundID, Int64?.none, String?.none, String?.none]); ids.org += 1
                        }
                        if rng.chance(0.7) {
                            orgs.rows.append([ids.org, OrganisationKind.partyBranch.rawValue, compoundName + "党支部", compoundID, committee, String?.none, String?.none]); ids.org += 1
                        }
                    }
                    let developer = ids.owner
                    if !rural { owners.rows.append([ids.owner, communityID, "developer", String(compoundName.prefix(2)) + "置业有限公司"]); ids.owner += 1 }
                    var lastOwner: Int64?
                    // Households sit in units of buildings (urban) or directly in the villager group.
                    var unitID = compoundID, unitPath = compoundPath, unitChain = [compoundName]
                    var buildingID = compoundID, buildingPath = compoundPath, buildingName = ""
                    for i in 0..<hhCount {
                        var door: String
                        if rural {
                            door = "\(i + 1)号"
                        } else {
                            let perBuilding = spec.householdsPerUnit * 2
                            if i % perBuilding == 0 {
                                buildingName = "\(i / perBuilding + 1)幢"
                                // Buildings in rows of five around their compound's point (about 20 m apart),
                                // so the situation map has each building to draw.
                                let b = Double(i / perBuilding)
                                (buildingID, buildingPath) = addPlace(compoundID, compoundPath, .building, buildingName,
                                                                      at: (compoundAt.lat + ((b / 5).rounded(.down) - 2) * 0.0002,
                                                                           compoundAt.lng + (b.truncatingRemainder(dividingBy: 5) - 2) * 0.00025))
                                summary.buildings += 1
                            }
                            if i % spec.householdsPerUnit == 0 {
                                let unitName = "\((i % perBuilding) / spec.householdsPerUnit + 1)单元"
                                (unitID, unitPath) = addPlace(buildingID, buildingPath, .unit, unitName)
                                unitChain = [compoundName, buildingName, unitName]
                            }
                            let j = i % spec.householdsPerUnit
                            door = "\(j / 2 + 1)0\(j % 2 + 1)"
                        }
                        let hid = ids.household; ids.household += 1
                        let (gridID, microID) = microIDs[householdIndex * spec.microGrids / spec.households]
                        householdIndex += 1
                        households.rows.append([hid, unitID, communityID, unitPath, door, (unitChain + [door]).joined(separator: " "), gridID, microID, env.token(), now])
                        summary.households += 1
                        // Who lives here and who owns it.
                        let unsold = !rural && rng.chance(0.04)
                        let rented = !unsold && !rural && rng.chance(spec.migrantShare * 0.8)
                        var ownerID: Int64? = nil
                        if !rural {
                            if unsold { ownerID = developer }
                            else if rented, let lo = lastOwner, rng.chance(0.3) { ownerID = lo }  // one buyer, several parts
                            else {
                                ownerID = ids.owner
                                owners.rows.append([ids.owner, communityID, "person", ""]); ids.owner += 1
                                lastOwner = ownerID
                            }
                            // The part number as the title deed writes it: building, unit, door ("3幢2单元101").
                            dwellings.rows.append([ids.dwelling, hid, Int64(rng.int(4500...14000)), ownerID, unitChain.dropFirst().joined() + door]); ids.dwelling += 1
                        }
                        if unsold { continue }
                        let size = Self.householdSize(&rng, mean: perHousehold)
                        let surname = rng.pick(Self.surnames)
                        let headAge = size == 1 && rng.chance(0.45) ? rng.int(66...92) : rng.int(26...80)
                        for p in 0..<size {
                            let age: Int
                            if p == 0 { age = headAge }
                            else if p == 1 { age = max(20, headAge + rng.int(-5...5)) }
                            else if headAge > 55 && p == 2 { age = rng.int(25...headAge - 22) }
                            else { age = rng.int(0...max(0, min(17, headAge - 20))) }
                            let male = p == 0 ? rng.chance(0.6) : (p == 1 ? rng.chance(0.3) : rng.chance(0.5))
                            var tags: [String] = []
                            if age >= 60 { tags.append(size == 1 ? "elderly_alone" : "elderly") }
                            if age < 14 { tags.append("child") }
                            if rng.chance(0.02) { tags.append("disabled") }
                            if p == 0 && rng.chance(0.03) { tags.append("low_income") }
                            if male && age > 40 && rng.chance(0.02) { tags.append("veteran") }
                            let name = String(p < 2 && p == 1 ? rng.pick(Self.surnames) : surname) + Self.given(&rng, male: male)
                            let idNumber = Self.idNumber(&rng, age: age, male: male, used: &usedIDs)
                            let phone = age >= 14 && rng.chance(0.9) ? Self.phone(&rng, used: &usedPhones) : nil
                            let registration = rented ? (rng.chance(0.8) ? "migrant" : "resident") : (rng.chance(spec.migrantShare * 0.3) ? "resident" : "registered")
                            let relation = p == 0 ? (rural ? "head" : (rented ? "tenant" : "owner")) : "family"
                            let party = age >= 18 && rng.chance(0.08)
                            var ownerOfResident: Int64? = nil
                            if p == 0, !rented, let o = ownerID {
                                ownerOfResident = o
                                owners.rows[owners.rows.count - 1][3] = name  // the buyer's name on the title
                                if here.firstOwnerHousehold == 0 { here.firstOwnerHousehold = hid }
                            }
                            residents.rows.append([ids.resident, hid, name, male ? "male" : "female", IDNumber.birthDate(of: idNumber)!,
                                                   try cipher.seal(idNumber), cipher.index("id-in-community", cipher.index("id", idNumber) + "|" + String(communityID)),
                                                   cipher.index("id", idNumber), String(idNumber.suffix(4)),
                                                   try phone.map { try cipher.seal($0) }, phone.map { cipher.index("phone", $0) }, phone.map(PhoneNumber.masked),
                                                   registration, relation, tags.joined(separator: ","), party ? 1 : 0, party && rng.chance(0.25) ? 1 : 0,
                                                   ownerOfResident, now, now])
                            ids.resident += 1
                            summary.residents += 1
                        }
                        if here.firstHouseholdWithResidents == 0 { here.firstHouseholdWithResidents = hid }
                    }
                    if !rural, owners.rows.count > 0 {
                        // Owners of rented parts who live elsewhere still need a name.
                        for i in owners.rows.indices where owners.rows[i][3] as? String == "" {
                            owners.rows[i][3] = String(rng.pick(Self.surnames)) + Self.given(&rng, male: rng.chance(0.5))
                        }
                    }
                }
                try await write([places, grids, orgs, serving, facilities, owners, households, dwellings, residents])
                places.rows.removeAll(); orgs.rows.removeAll(); serving.rows.removeAll()
                log("\(streetName) \(spec.name): \(summary.households) households, \(summary.residents) residents so far")
            }
            try await write([orgs, serving, office, gridContacts])
            summary.organisations = Int(ids.org)
            summary.byStreet.append(here)
        }
        if let first = summary.byStreet.first {
            summary.firstStreetID = first.firstStreetID; summary.firstCommunityID = first.firstCommunityID; summary.firstGridID = first.firstGridID
            summary.firstHouseholdWithResidents = first.firstHouseholdWithResidents; summary.firstOwnerHousehold = first.firstOwnerHousehold
            summary.propertyCompanyCompounds = first.propertyCompanyCompounds
        }
        for w in writing { try await w.value }
        if let _ = store.dialect.resetSequenceSQL("places") {
            try await store.transaction { db in
                for t in ["places", "grids", "households", "owners", "dwellings", "residents", "organisations", "facilities"] {
                    try await db.raw(SQLQueryString(store.dialect.resetSequenceSQL(t)!)).run()
                }
            }
        }
        return summary
    }

    /// Multi-row INSERTs, sized to stay under the databases' bound-parameter limits.
    static func insert(_ db: any SQLDatabase, _ b: inout Batch) async throws {
        guard !b.rows.isEmpty else { return }
        if let sqlite = db as? FastSQLiteDatabase {
            try sqlite.insertRows(into: b.table, columns: b.columns, b.rows.map { $0.map(\.sqliteData) })
            b.rows.removeAll()
            return
        }
        let perStatement = max(1, 30_000 / b.columns.count)
        var start = 0
        while start < b.rows.count {
            let end = min(b.rows.count, start + perStatement)
            let insert = db.insert(into: b.table).columns(b.columns)
            for row in b.rows[start..<end] {
                let values: [any SQLExpression] = row.map { SQLBind($0) }
                insert.values(values)
            }
            try await insert.run()
            start = end
        }
        b.rows.removeAll()
    }

    static func householdSize(_ rng: inout SeededRandom, mean: Double) -> Int {
        // A simple spread around the community's mean household size.
        let base = Int(mean.rounded(.down))
        let frac = mean - Double(base)
        let n = base + (rng.chance(frac) ? 1 : 0) + rng.int(-1...1)
        return min(7, max(1, n))
    }

    static func given(_ rng: inout SeededRandom, male: Bool) -> String {
        let pool = male ? givenMale : givenFemale
        return rng.chance(0.7) ? String(rng.pick(pool)) + String(rng.pick(pool)) : String(rng.pick(pool))
    }

    static func idNumber(_ rng: inout SeededRandom, age: Int, male: Bool, used: inout Set<String>) -> String {
        while true {
            let year = referenceYear - age - 1 + (rng.chance(0.5) ? 1 : 0)
            let month = rng.int(1...12)
            let day = rng.int(1...28)
            var seq = rng.int(0...998)
            if (seq % 2 == 1) != male { seq += 1 }
            let first17 = rng.pick(regionCodes) + ChinaTime.pad(Int64(year), 4) + ChinaTime.pad(Int64(month), 2) + ChinaTime.pad(Int64(day), 2) + ChinaTime.pad(Int64(seq), 3)
            let id = first17 + String(IDNumber.checkCharacter(for: first17)!)
            if used.insert(id).inserted { return id }
        }
    }


    static func phone(_ rng: inout SeededRandom, used: inout Set<String>) -> String {
        while true {
            let p = rng.pick(phonePrefixes) + ChinaTime.pad(Int64(rng.int(0...99_999_999)), 8)
            if used.insert(p).inserted { return p }
        }
    }
}

/// A value of a demo row: bound as itself on PostgreSQL, converted without a dynamic cast on SQLite.
protocol DemoCell: Encodable, Sendable {
    var sqliteData: SQLiteValue { get }
    var bulkValue: BulkValue { get }
}

extension Int64: DemoCell { var sqliteData: SQLiteValue { .integer(self) }; var bulkValue: BulkValue { .int(self) } }
extension Int: DemoCell { var sqliteData: SQLiteValue { .integer(Int64(self)) }; var bulkValue: BulkValue { .int(Int64(self)) } }
extension Double: DemoCell { var sqliteData: SQLiteValue { .float(self) }; var bulkValue: BulkValue { .float(self) } }
extension String: DemoCell { var sqliteData: SQLiteValue { .text(self) }; var bulkValue: BulkValue { .text(self) } }
extension Optional: DemoCell where Wrapped: DemoCell {
    var sqliteData: SQLiteValue { self?.sqliteData ?? .null }
    var bulkValue: BulkValue { self?.bulkValue ?? .null }
}
