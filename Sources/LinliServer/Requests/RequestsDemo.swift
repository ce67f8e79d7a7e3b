import Foundation
import SQLKit
import LinliCore
import LinliStore

extension Linli {
    /// The 2026 holiday calendar, a few requests in different states so that every queue has
    /// something to show, and an Open311 API key for the demo partner app.
    public func loadRequestsDemo(suffix: String = "") async throws -> (apiKey: String?, requests: Int) {
        try await requests.loadHolidays(RequestsConfig.holidays2026)
        func actor(_ username: String) async throws -> Actor? { try await demoActor(username + suffix) }
        guard let resident = try await actor("resident"), let staff = try await actor("community"),
              let home = resident.grants.first(where: { $0.role == .resident })?.householdID else { return (nil, 0) }
        let compound = PlacePath.ids(resident.grants.first { $0.role == .resident }!.placePath).dropFirst(4).first
        var made: [RequestView] = []
        func submit(_ who: Actor, _ category: String, _ text: String, household: Int64? = nil, place: Int64? = nil, channel: String? = nil,
                    contact: String? = nil, phone: String? = nil, attributes: [String: String] = [:], publish: Bool = true) async throws {
            var i = RequestInput()
            i.category = category; i.description = text; i.householdID = household; i.placeID = place; i.channel = channel
            i.contactName = contact; i.contactPhone = phone; i.attributes = attributes; i.publicDetails = publish
            made.append(try await requests.submit(i, actor: who).request)
        }
        try await submit(resident, "lift", "3号楼电梯停在7楼不动，按钮没有反应，老人下不了楼。", household: home, attributes: ["trapped": "no"])
        try await submit(resident, "water_leak", "楼上卫生间漏水，我家天花板一直滴水。", household: home, publish: false)
        if let compound { try await submit(resident, "sanitation", "小区东门垃圾桶满了两天没人清运，味道很大。", place: compound) }
        try await submit(resident, "noise", "楼下棋牌室每天凌晨一点还很吵。", household: home)
        try await submit(staff, "help", "独居老人王阿婆来电，家里灯泡坏了需要帮忙更换。", household: home, channel: "phone", contact: "王秀英", phone: "13800138000", publish: false)
        if let compound { try await submit(staff, "public_facility", "小区健身器材有一处螺丝松动，存在安全隐患。", place: compound, channel: "visit", contact: "李建国", publish: false) }
        // Move a few along so that the pages show a lifecycle.
        if let property = try await actor("property"), let lift = made.first, lift.partyKind == PartyKind.propertyCompany.rawValue {
            var note = RequestsService.ActionInput()
            _ = try await requests.perform(.accept, id: lift.id, note, actor: property)
            note.note = "维保单位已到场，正在更换控制板。"
            note.contacted = true
            note.publicReply = true
            _ = try await requests.perform(.note, id: lift.id, note, actor: property)
        }
        if made.count > 4 {
            let help = made[4]
            if let grid = try await actor("grid"), help.partyKind == PartyKind.gridWorker.rawValue {
                var a = RequestsService.ActionInput()
                _ = try? await requests.perform(.accept, id: help.id, a, actor: grid)
                a.note = "已上门更换灯泡，老人表示满意。"
                _ = try? await requests.perform(.resolve, id: help.id, a, actor: grid)
            }
        }
        let key = try? await accounts.createAPIToken(username: "app" + suffix, name: "open311-demo")
        return (key, made.count)
    }
}
