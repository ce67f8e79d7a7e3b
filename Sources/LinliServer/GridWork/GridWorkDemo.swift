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
        return 1
    }
}
