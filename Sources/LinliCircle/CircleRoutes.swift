import Foundation
import Hummingbird
import LinliCore
import LinliStore
import LinliServer

/// The 15-minute living circle's page and its API twins: the report (with a proposed facility's
/// effect) and the walking network's import from an OpenStreetMap extract.
struct CircleRoutes {
    let circle: CircleService
    /// The places whose map the actor may see (the situation map's: the circle is drawn over them).
    let registry: RegistryService
    let renderer: Renderer

    func places(_ actor: Actor) async throws -> [SituationPlace] {
        try actor.require(.situationView)
        return try await registry.situationPlaces(actor: actor, .situationView)
    }

    func register(_ r: Routes) {
        r.get("/circle", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            let actor = try c.requireActor()
            let places = try await places(actor)
            let asked = try Input.id(q.get("place"), field: "place")
            guard let id = asked ?? places.first?.id else {
                return renderer.page("circle", ["no_place": true], context: c, title: CircleCapability.words.table(c.lang)["circle_title"]!)
            }
            let values = ["kind": q.get("kind") ?? "", "proposed_kind": q.get("proposed_kind") ?? "", "lat": q.get("lat") ?? "", "lng": q.get("lng") ?? ""]
            do {
                let report = try await circle.report(place: id, proposedKind: values["proposed_kind"], lat: values["lat"], lng: values["lng"], actor: actor, lang: c.lang)
                return try await page(c, report, places: places, values: values, errors: [:])
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                // The proposal is refused beside its fields; the area's figures still show.
                let report = try await circle.report(place: id, proposedKind: nil, lat: nil, lng: nil, actor: actor, lang: c.lang)
                var resp = try await page(c, report, places: places, values: values, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/api/v1/places/:id/circle", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await circle.report(place: try c.id("id"), proposedKind: q.get("proposed_kind"), lat: q.get("lat"), lng: q.get("lng"),
                                                             actor: try c.requireActor(), lang: c.lang))
        }
        // The street's paths from an OpenStreetMap extract (.osm, OSM XML), replacing any before.
        r.post("/circle/network", .action(.placeEdit)) { _, c in
            let actor = try c.requireActor()
            guard let id = c.form.int("place_id") else { throw LinliError.invalid("place_id", "required", "请选择地区") }
            let file = c.files.first { $0.field == "file" }
            do {
                _ = try await circle.importNetwork(place: id, osm: Data(file?.bytes ?? []), actor: actor)
                return redirect("/circle?place=\(id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                let report = try await circle.report(place: id, proposedKind: nil, lat: nil, lng: nil, actor: actor, lang: c.lang)
                var resp = try await page(c, report, places: try await places(actor), values: [:], errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.put("/api/v1/places/:id/walk-network", .action(.placeEdit), raw: ["application/xml", "text/xml", "application/osm+xml"]) { req, c in
            let body = try await req.body.collect(upTo: CircleService.maxOSMBytes)
            return try JSON.response(try await circle.importNetwork(place: try c.id("id"), osm: Data(buffer: body), actor: try c.requireActor()))
        }
    }

    func page(_ c: AppContext, _ report: CircleReport, places: [SituationPlace], values: [String: String], errors: [String: String]) async throws -> Response {
        let t = CircleCapability.words.table(c.lang)
        let kind = FacilityKind(rawValue: values["kind"] ?? "")?.rawValue ?? (report.lines.max { $0.residentsOutside < $1.residentsOutside }?.kind ?? FacilityKind.clinic.rawValue)
        let chosen = report.lines.first { $0.kind == kind }
        // The chosen kind's buildings beyond 15 minutes, the most people first (at most 200 rows;
        // the map and the JSON have them all).
        let outside = report.buildings.filter { $0.onNetwork && !CircleRules.within($0.minutes[kind]) }
            .sorted { ($0.residents, $0.households, $1.name) > ($1.residents, $1.households, $0.name) }
        let rows = outside.prefix(200).map { b -> [String: Any] in
            ["name": b.name, "households": b.households, "residents": b.residents,
             "minutes": b.minutes[kind].map { "\($0) " + t["circle_minutes_unit"]! } ?? t["circle_unreachable"]!]
        }
        var data: [String: Any] = [
            "place_id": report.placeID, "place_name": report.placeName, "minutes": report.minutes, "metres_per_minute": report.metresPerMinute,
            "places": places.map { ["value": $0.id, "label": $0.name, "selected": $0.id == report.placeID] }, "many_places": places.count > 1,
            "has_network": report.network != nil, "intro": String(format: t["circle_intro"]!, report.metresPerMinute),
            "lines": report.lines.map { l -> [String: Any] in
                ["kind": l.kind, "label": l.label, "facilities": l.facilities, "buildings_outside": l.buildingsOutside, "households_outside": l.householdsOutside,
                 "residents_outside": l.residentsOutside, "none": l.facilities == 0, "chosen": l.kind == kind, "href": "/circle?place=\(report.placeID)&kind=\(l.kind)#outside"]
            },
            "kinds": FacilityKind.allCases.map { ["value": $0.rawValue, "label": CircleCapability.words.label($0.rawValue, c.lang), "selected": $0.rawValue == kind] },
            "proposed_kinds": FacilityKind.allCases.map { ["value": $0.rawValue, "label": CircleCapability.words.label($0.rawValue, c.lang),
                                                           "selected": $0.rawValue == (values["proposed_kind"].flatMap { $0.isEmpty ? nil : $0 } ?? kind)] },
            "kind": kind, "kind_label": chosen?.label ?? CircleCapability.words.label(kind, c.lang),
            "outside": rows, "has_outside": !rows.isEmpty, "outside_count": outside.count, "more_outside": outside.count > rows.count,
            "lat": values["lat"] ?? "", "lng": values["lng"] ?? "",
            // The import checks the place itself; the form shows to anyone who edits places at all.
            "can_import": (try? c.requireActor())?.may(.placeEdit) ?? false,
        ]
        // The map's points go with the page (the report is not worked out a second time for
        // the script): [lat, lng, minutes or -1, on the network 1/0, residents, name] a building.
        let mapData: [String: Any] = [
            "minutes": report.minutes,
            "buildings": report.buildings.compactMap { b -> [Any]? in
                guard let lat = b.lat, let lng = b.lng else { return nil }
                return [lat, lng, b.minutes[kind] ?? -1, b.onNetwork ? 1 : 0, b.residents, b.name]
            },
            "facilities": report.facilities.filter { $0.kind == kind }.map { [$0.lat, $0.lng, $0.name, $0.label] as [Any] },
            "proposal": report.proposal.map { [$0.lat, $0.lng] as Any } ?? NSNull(),
        ]
        data["map"] = String(decoding: (try? JSONSerialization.data(withJSONObject: mapData)) ?? Data("{}".utf8), as: UTF8.self)
        data["off_network"] = report.offNetwork
        data["has_off_network"] = report.offNetwork > 0
        if let n = report.network {
            data["network_nodes"] = n.nodes; data["network_edges"] = n.edges; data["network_at"] = n.importedAt; data["network_by"] = n.by
            data["network_source"] = t["circle_source_" + n.source] ?? n.source
        }
        if let p = report.proposal {
            data["proposal"] = ["result": t["circle_proposal_result"]!.replacingOccurrences(of: "%@", with: p.label), "buildings": p.buildingsBroughtIn, "households": p.householdsBroughtIn, "residents": p.residentsBroughtIn,
                                "on_network": p.onNetwork, "names": p.buildings.prefix(20).joined(separator: "、"), "has_names": !p.buildings.isEmpty] as [String: Any]
        }
        for (k, v) in errors { data["error_" + k] = v }
        return renderer.page("circle", data, context: c, title: t["circle_title"]! + " · " + report.placeName)
    }
}
