import Foundation
import LinliCore

extension Linli {
    /// Grid work in the demo: the community gives the grid worker a gas-safety task for their
    /// grid, a week to go, and the worker has been through the first doors (done, a problem
    /// found, nobody home), so both sides' pages have something true on them.
    public func loadGridWorkDemo(suffix: String = "") async throws -> Int {
        guard let staff = try await demoActor("community" + suffix), let worker = try await demoActor("grid" + suffix),
              let grant = worker.grants(for: .visitLog).first(where: { $0.gridID != nil }), let grid = grant.gridID else { return 0 }
        var input = GridTaskInput()
        input.communityID = PlacePath.communityID(grant.placePath)
        input.title = "冬季燃气安全入户告知"
        input.body = "逐户发放《燃气安全告知书》，查看燃气软管是否老化、是否装了燃气报警器。发现隐患的，请写明情况并督促更换。"
        input.deadline = ChinaTime.iso(day: LocalDay.of(config.environment.nowSeconds) + 7)
        input.audienceKind = "grids"; input.gridIDs = [grid]
        let task = try await gridWork.assignTask(input, actor: staff)
        let households = try await gridWork.task(task.id, gridID: nil, actor: worker).households
        let marks: [GridTaskMark] = [
            GridTaskMark(outcome: "done"), GridTaskMark(outcome: "done"), GridTaskMark(outcome: "done"),
            GridTaskMark(outcome: "problem", feedback: "燃气软管老化开裂，已告知住户三天内更换，下周回访。"),
            GridTaskMark(outcome: "absent"), GridTaskMark(outcome: "done"),
        ]
        for (h, m) in zip(households, marks) { _ = try await gridWork.markTask(task.id, household: h.householdID, m, actor: worker) }
        // Two patrol routes of the grid: the fire passages weekly (not yet walked this week), the
        // compound's gates daily (walked today, one finding filed as a request).
        let compound = try await store.read { db in
            try await db.query("SELECT place_id FROM households WHERE grid_id = \(grid) ORDER BY id").first()?.decode(column: "place_id", as: Int64.self)
        }
        var route = PatrolRouteInput()
        route.gridID = grid; route.name = "消防通道与楼道"; route.period = "week"
        route.points = [PatrolRules.Point(label: "1幢楼道", placeID: compound), PatrolRules.Point(label: "东门消防通道"), PatrolRules.Point(label: "地下车库"),
                        PatrolRules.Point(label: "充电桩棚")]
        _ = try await gridWork.saveRoute(nil, route, actor: staff)
        route.name = "小区出入口"; route.period = "day"
        route.points = [PatrolRules.Point(label: "东门"), PatrolRules.Point(label: "西门"), PatrolRules.Point(label: "快递柜")]
        let gates = try await gridWork.saveRoute(nil, route, actor: worker)
        var walk = PatrolInput()
        walk.routeID = gates.id
        walk.checks = (1...3).map { n in
            var c = PatrolCheckInput()
            c.position = n; c.result = n == 2 ? "finding" : "ok"
            if n == 2 { c.finding = "facility"; c.note = "西门道闸抬杆失灵，车辆排队" }
            return c
        }
        _ = try await gridWork.recordPatrol(walk, actor: worker)
        return 1
    }
}
