import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// The registry's pages and API. Both call the same `RegistryService` use cases.
package struct RegistryRoutes {
    let registry: RegistryService
    let renderer: Renderer
    let publicBaseURL: String

    /// Errors keyed by field, for messages beside the fields of a form.
    package static func fieldErrors(_ error: Error) -> [String: String]? {
        let list: [LinliError]
        if let e = error as? LinliError, e.field != nil, e.status != .notFound { list = [e] }
        else if let e = error as? ValidationErrors { list = e.errors }
        else { return nil }
        var d: [String: String] = [:]
        for e in list { d[e.field ?? "form"] = e.message }
        return d
    }

    func register(_ r: Routes) {
        // MARK: pages
        r.get("/console", .signedIn) { _, c in
            let actor = try c.requireActor()
            // A department's staff have no places to run: they start on their work items.
            if HomeRoutes.homePath(actor) == "/work-items" { return redirect("/work-items") }
            let roots = try await registry.roots(actor: actor)
            if roots.count == 1, actor.may(.placeView) { return redirect("/places/\(roots[0].id)") }
            // Someone acting only for themselves has a home of their own, not a console.
            if actor.actsOnlyForThemselves { return redirect(HomeRoutes.homePath(actor)) }
            return renderer.page("console", ["roots": renderer.data(roots, c.lang)], context: c, title: I18n.table(c.lang)["home"]!)
        }

        // Households and residents as the community office keeps them in a spreadsheet.
        r.get("/places/:id/transfer", .action(.registryTransfer)) { _, c in try await transferPage(c, id: try c.id("id"), report: nil, errors: [:]) }
        r.post("/places/:id/import", .action(.registryTransfer)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "import") {
                guard let file = c.files.first(where: { $0.field == "file" }), !file.bytes.isEmpty else {
                    throw LinliError.invalid("file", "required", "请选择 CSV 文件")
                }
                let report = try await RegistryCSV(registry: registry).importCSV(Data(file.bytes), communityID: id, keepGood: c.form["keep_good"] == "1", actor: try c.requireActor())
                var resp = try await transferPage(c, id: id, report: report, errors: [:])
                if !report.errors.isEmpty { resp.status = .unprocessableContent }
                return resp
            } page: { errors in try await transferPage(c, id: id, report: nil, errors: errors) }
        }
        // Households moved between micro-grids by a spreadsheet (GridMoves.swift).
        r.post("/places/:id/grid-moves", .action(.householdEdit)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "moves") {
                guard let file = c.files.first(where: { $0.field == "file" }), !file.bytes.isEmpty else {
                    throw LinliError.invalid("file", "required", "请选择 CSV 或 Excel 文件")
                }
                let report = try await registry.moveByCSV(Data(file.bytes), communityID: id, actor: try c.requireActor())
                var resp = try await transferPage(c, id: id, report: nil, moves: report, errors: [:])
                if !report.errors.isEmpty { resp.status = .unprocessableContent }
                return resp
            } page: { errors in try await transferPage(c, id: id, report: nil, errors: errors) }
        }
        r.get("/places/:id/grid-moves/template.csv", .action(.householdEdit)) { _, c in
            _ = try await RegistryCSV(registry: registry).transferScope(try c.id("id"), actor: try c.requireActor())
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"linli-grid-moves.csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: "\u{FEFF}" + GridMoveRules.template)))
        }
        r.post("/api/v1/places/:id/grid-moves", .action(.householdEdit),
               raw: ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]) { req, c in
            let body = try await req.body.collect(upTo: Multipart.maxBody)
            guard body.readableBytes > 0 else { throw LinliError.invalid("file", "required", "请附上 CSV 或 Excel 文件") }
            let report = try await registry.moveByCSV(Data(buffer: body), communityID: try c.id("id"), actor: try c.requireActor())
            return try JSON.response(report, status: report.errors.isEmpty ? .ok : .unprocessableContent)
        }
        // A file to fill in: the header and one example row (no one's data).
        r.get("/places/:id/transfer/template.csv", .action(.registryTransfer)) { _, c in
            _ = try await RegistryCSV(registry: registry).transferScope(try c.id("id"), actor: try c.requireActor())
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"linli-template.csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: RegistryCSV.template)))
        }
        r.post("/places/:id/export", .action(.registryTransfer)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "export") {
                let csv = try await RegistryCSV(registry: registry).exportCSV(communityID: id, reason: c.form["reason"] ?? "", actor: try c.requireActor())
                // The export already starts with the one BOM Excel needs to read the Chinese text as UTF-8.
                return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"residents-\(id).csv\"",
                                                       .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(string: csv)))
            } page: { errors in try await transferPage(c, id: id, report: nil, errors: errors) }
        }

        r.post("/places/:id/organisations", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "add_org") {
                _ = try await registry.addOrganisation(placeID: id, kind: c.form["kind"], name: c.form["name"], serviceType: c.form["service_type"],
                                                       registration: c.form["registration"], actor: try c.requireActor())
                return redirect("/places/\(id)#organisations")
            } page: { errors in try await placePage(c, id: id, errors: errors, form: [:], status: .unprocessableContent) }
        }
        r.post("/places/:id/facilities", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "add_fac") {
                _ = try await registry.addFacility(placeID: id, kind: c.form["kind"], name: c.form["name"], lat: c.form["lat"], lng: c.form["lng"],
                                                   actor: try c.requireActor())
                return redirect("/places/\(id)#facilities")
            } page: { errors in try await placePage(c, id: id, errors: errors, form: [:], status: .unprocessableContent) }
        }

        r.post("/organisations/:id", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            let actor = try c.requireActor()
            do {
                let place = try await registry.editOrganisation(id, name: c.form["name"], parentID: try c.form.optionalID("parent_id", "上级组织编号应为数字"), actor: actor)
                return redirect("/places/\(place)#organisations")
            } catch let e as LinliError where e.status == .unprocessableContent {
                let place = try await registry.store.read { db in try await db.raw("SELECT place_id FROM organisations WHERE id = \(bind: id)").first()!.decode(column: "place_id", as: Int64.self) }
                return try await placePage(c, id: place, errors: ["org\(id)": e.message], form: [:], status: .unprocessableContent)
            }
        }
        r.post("/organisations/:id/remove", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            let actor = try c.requireActor()
            do {
                let place = try await registry.removeOrganisation(id, actor: actor)
                return redirect("/places/\(place)#organisations")
            } catch let e as LinliError where e.status == .conflict {
                let place = try await registry.store.read { db in try await db.raw("SELECT place_id FROM organisations WHERE id = \(bind: id)").first()!.decode(column: "place_id", as: Int64.self) }
                return try await placePage(c, id: place, errors: ["org\(id)": e.message], form: [:], status: .conflict)
            }
        }
        r.post("/facilities/:id/remove", .action(.placeEdit)) { _, c in
            let place = try await registry.removeFacility(try c.id("id"), actor: try c.requireActor())
            return redirect("/places/\(place)#facilities")
        }

        r.get("/places/:id", .action(.placeView)) { _, c in
            try await placePage(c, id: try c.id("id"), errors: nil, form: [:])
        }
        r.post("/places/:id/children", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            do {
                let p = try await registry.createPlace(parentID: id, kind: c.form["kind"], name: c.form["name"], communityType: c.form["community_type"], actor: try c.requireActor())
                return redirect("/places/\(p.id)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                return try await placePage(c, id: id, errors: fe, form: ["name": c.form["name"] ?? ""], status: .unprocessableContent)
            }
        }
        r.post("/places/:id", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            do {
                _ = try await registry.updatePlace(id, name: c.form.nonEmpty("name"), parentID: c.form.int("parent_id"), communityType: c.form.nonEmpty("community_type"),
                                                   actor: try c.requireActor())
                return redirect("/places/\(id)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                return try await placePage(c, id: id, errors: fe.mapKeys { "edit_" + $0 }, form: [:], status: .unprocessableContent)
            }
        }
        r.post("/places/:id/households", .action(.householdEdit)) { _, c in
            let id = try c.id("id")
            do {
                let hid = try await registry.createHousehold(placeID: id, door: c.form["door"], microGridID: c.form.int("micro_grid_id"),
                                                             areaM2: c.form["area_m2"], actor: try c.requireActor())
                return redirect("/households/\(hid)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                return try await placePage(c, id: id, errors: fe.mapKeys { "hh_" + $0 }, form: ["door": c.form["door"] ?? "", "area_m2": c.form["area_m2"] ?? ""], status: .unprocessableContent)
            }
        }

        r.get("/households/:id", .action(.householdView)) { _, c in
            try await householdPage(c, try await registry.household(try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/households/:id", .action(.householdEdit)) { _, c in
            let id = try c.id("id")
            do {
                try await registry.updateHousehold(id, microGridID: c.form.int("micro_grid_id"), door: c.form.nonEmpty("door"), actor: try c.requireActor())
                return redirect("/households/\(id)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                var resp = try await householdEditPage(c, try await registry.household(id, actor: try c.requireActor()), errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/households/:id/edit", .action(.householdEdit)) { _, c in
            try await householdEditPage(c, try await registry.household(try c.id("id"), actor: try c.requireActor()), errors: nil)
        }
        r.get("/households/:id/card", .action(.householdView)) { _, c in
            let h = try await registry.household(try c.id("id"), actor: try c.requireActor())
            var d = renderer.fields(h, c.lang)
            d["qr"] = QRCode.svg(codeURL(h.code), moduleSize: 10) ?? ""
            d["code_url"] = codeURL(h.code)
            // Typed when binding an account without a camera: the first eight characters.
            d["short_code"] = RegistryService.shortCode(h.code)
            return renderer.page("card", d, context: c, title: I18n.table(c.lang)["household_code"]!)
        }
        // A building's (unit's, compound's, villager group's) cards in one print run: eight to an
        // A4 sheet, each with its address, QR and typed code, to be cut and posted at the doors.
        r.get("/places/:id/cards", .action(.householdView)) { _, c in
            let batch = try await registry.householdCards(placeID: try c.id("id"), actor: try c.requireActor())
            let cards: [[String: Any]] = batch.cards.map { card in
                ["address": card.address, "door": card.door, "short_code": RegistryService.shortCode(card.code),
                 "qr": QRCode.svg(codeURL(card.code), moduleSize: 4) ?? ""]
            }
            let d: [String: Any] = ["place": renderer.fields(batch.place, c.lang), "cards": cards, "count": cards.count, "none": cards.isEmpty]
            return renderer.page("cards", d, context: c, title: batch.place.name + " · " + I18n.table(c.lang)["household_code"]!)
        }
        r.get("/api/v1/places/:id/cards", .action(.householdView)) { _, c in
            struct Card: Encodable { var household_id: Int64; var address: String; var door: String; var short_code: String; var code_url: String }
            struct Body: Encodable { var place: PlaceSummary; var cards: [Card] }
            let batch = try await registry.householdCards(placeID: try c.id("id"), actor: try c.requireActor())
            return try JSON.response(Body(place: batch.place, cards: batch.cards.map {
                Card(household_id: $0.householdID, address: $0.address, door: $0.door, short_code: RegistryService.shortCode($0.code), code_url: codeURL($0.code))
            }))
        }
        r.get("/households/:id/qr.svg", .action(.householdView)) { _, c in
            let h = try await registry.household(try c.id("id"), actor: try c.requireActor())
            // A household's code never changes, so the browser may keep the image (privately).
            return Response(status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "private, max-age=86400"],
                            body: .init(byteBuffer: ByteBuffer(string: QRCode.svg(codeURL(h.code)) ?? "")))
        }
        // The printed code: staff of the household's community see the household; anyone else sees
        // the same page whether or not the code exists.
        r.get("/h/:code", .open) { _, c in
            let code = c.parameters.get("code") ?? ""
            do {
                let h = try await registry.household(code: code, actor: c.actor)
                return redirect("/households/\(h.id)")
            } catch let e as LinliError where e.status == .notFound || e.status == .forbidden {
                // A new account not yet linked to a household scanned its card: link it.
                if let a = c.actor, a.grants.isEmpty {
                    return redirect("/bind?code=" + RegistryService.shortCode(code).filter { $0 != "-" })
                }
                var resp = renderer.page("code_unknown", ["signed_in": c.actor != nil], context: c, title: I18n.table(c.lang)["household_code"]!)
                resp.status = .notFound
                return resp
            }
        }
        r.get("/households/:id/residents/new", .action(.residentEdit)) { _, c in
            let h = try await registry.household(try c.id("id"), actor: try c.requireActor())
            return try await residentForm(c, household: h, resident: nil, errors: nil, values: FormData())
        }
        r.post("/households/:id/residents", .action(.residentEdit)) { _, c in
            let hid = try c.id("id")
            let input = Self.residentInput(c.form, householdID: hid)
            do {
                let res = try await registry.createResident(input, actor: try c.requireActor())
                return redirect("/residents/\(res.id)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                let h = try await registry.household(hid, actor: try c.requireActor())
                var resp = try await residentForm(c, household: h, resident: nil, errors: fe, values: c.form)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/residents/:id", .action(.residentView)) { _, c in
            let res = try await registry.resident(try c.id("id"), actor: try c.requireActor())
            return try await residentPage(c, res, unmasked: false, errors: nil)
        }
        r.post("/residents/:id/unmask", .action(.residentUnmask)) { _, c in
            let id = try c.id("id")
            do {
                let res = try await registry.unmaskResident(id, reason: c.form["reason"], actor: try c.requireActor())
                return try await residentPage(c, res, unmasked: true, errors: nil)
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                var resp = try await residentPage(c, try await registry.resident(id, actor: try c.requireActor()), unmasked: false, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        // Sensitive tags (SensitiveData.swift): the office confirms one is still true; the
        // resident withdraws the consent one was kept on.
        for (step, action) in [("renew", Action.residentEdit), ("withdraw", .residentView)] {
            r.post("/residents/:id/sensitive/:tag/\(step)", .action(action)) { _, c in
                let id = try c.id("id"), tag = c.parameters.get("tag") ?? "", actor = try c.requireActor()
                do {
                    _ = step == "renew" ? try await registry.renewSensitive(id, tag: tag, actor: actor)
                                        : try await registry.withdrawSensitive(id, tag: tag, actor: actor)
                    if let back = c.form["back"].flatMap({ Int64($0) }) { return redirect("/communities/\(back)/sensitive-due") }
                    return redirect("/residents/\(id)#sensitive")
                } catch let e as LinliError where e.status == .conflict {
                    var resp = try await residentPage(c, try await registry.resident(id, actor: actor), unmasked: false, errors: ["sensitive": e.message])
                    resp.status = .conflict
                    return resp
                }
            }
            r.post("/api/v1/residents/:id/sensitive/:tag/\(step)", .action(action)) { _, c in
                let id = try c.id("id"), tag = c.parameters.get("tag") ?? "", actor = try c.requireActor()
                return try JSON.response(step == "renew" ? try await registry.renewSensitive(id, tag: tag, actor: actor)
                                                         : try await registry.withdrawSensitive(id, tag: tag, actor: actor))
            }
        }
        // What comes due in the next 30 days, for the office to confirm or let go.
        r.get("/communities/:id/sensitive-due", .action(.residentEdit)) { _, c in
            let id = try c.id("id")
            let due = try await registry.sensitiveDue(community: id, actor: try c.requireActor())
            let d = try await registry.place(id, actor: try c.requireActor())
            let rows: [[String: Any]] = due.map { ["resident_id": $0.residentID, "name": $0.name, "address": $0.address, "tag": $0.tag,
                                                    "label": I18n.label($0.tag, c.lang), "keep_until": $0.keepUntil] }
            return renderer.page("sensitive_due", ["place": renderer.data(d.place, c.lang), "due": rows, "none": due.isEmpty],
                                 context: c, title: I18n.table(c.lang)["sensitive_due_title"]! + " · " + d.place.name)
        }
        r.get("/api/v1/communities/:id/sensitive-due", .action(.residentEdit)) { _, c in
            try JSON.response(try await registry.sensitiveDue(community: try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/api/v1/residents/:id/sensitive", .action(.residentView)) { _, c in
            try JSON.response(try await registry.sensitiveFacts(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/residents/:id/edit", .action(.residentEdit)) { _, c in
            let actor = try c.requireActor()
            let res = try await registry.resident(try c.id("id"), actor: actor)
            let h = try await registry.household(res.householdID, actor: actor)
            return try await residentForm(c, household: h, resident: res, errors: nil, values: FormData())
        }
        r.post("/residents/:id", .action(.residentEdit)) { _, c in
            let id = try c.id("id")
            var input = Self.residentInput(c.form, householdID: nil)
            // The edit form shows the ID number masked; an untouched field means "keep it" (and so
            // do the kind, gender and birth date shown with it). A kind without a number is a
            // change only to "no document yet".
            if input.idNumber?.hasPrefix("*") == true || (input.idNumber?.isEmpty == true && input.idKind != DocumentKind.none.rawValue) {
                input.idNumber = nil; input.idKind = nil; input.gender = nil; input.birthDate = nil
            }
            if input.phone?.contains("*") == true { input.phone = nil }
            do {
                _ = try await registry.updateResident(id, input, actor: try c.requireActor())
                return redirect("/residents/\(id)")
            } catch {
                guard let fe = Self.fieldErrors(error) else { throw error }
                let actor = try c.requireActor()
                let res = try await registry.resident(id, actor: actor)
                var resp = try await residentForm(c, household: try await registry.household(res.householdID, actor: actor), resident: res, errors: fe, values: c.form)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/search", .action(.residentView)) { req, c in
            let q = req.uri.queryParameters.get("q") ?? ""
            var data: [String: Any] = ["q": q, "searched": !q.isEmpty]
            do {
                let found = try await registry.search(q, actor: try c.requireActor())
                data["results"] = renderer.data(found, c.lang)
                data["none"] = !q.isEmpty && found.isEmpty
            } catch let e as LinliError where e.field != nil {
                data["error"] = e.message
            }
            return renderer.page("search", data, context: c, title: I18n.table(c.lang)["search"]!)
        }
        r.get("/coverage/:id", .action(.coverageView)) { _, c in
            let (place, rows, total) = try await registry.coverage(placeID: try c.id("id"), actor: try c.requireActor())
            return renderer.page("coverage", ["place": renderer.data(place, c.lang), "rows": Self.coverageData(rows), "total": Self.coverageData([total])[0]],
                                 context: c, title: I18n.table(c.lang)["coverage"]!)
        }

        // MARK: JSON API
        // Reference points of the community around a place or household, for the map widget.
        r.get("/api/v1/map-points", .signedIn) { req, c in
            let q = req.uri.queryParameters
            func id(_ field: String) throws -> Int64? {
                guard let raw = q.get(field), !raw.isEmpty else { return nil }
                guard let v = Int64(raw) else { throw LinliError.invalid(field, "invalid", "\(field) 应为整数") }
                return v
            }
            struct Body: Encodable { var points: [MapPoint] }
            return try JSON.response(Body(points: try await registry.mapPoints(placeID: try id("place_id"), householdID: try id("household_id"),
                                                                             actor: try c.requireActor(), lang: c.lang)))
        }
        r.get("/api/v1/places/:id", .action(.placeView)) { _, c in
            try JSON.response(try await registry.place(try c.id("id"), actor: try c.requireActor()))
        }
        // Organisations and facilities of a place: the place page's forms.
        struct PostOrganisationsBody: Decodable { var place_id: Int64?; var kind: String?; var name: String?; var service_type: String?; var registration: String? }
        r.post("/api/v1/organisations", .action(.placeEdit), body: PostOrganisationsBody.self) { req, c, b in
            guard let place = b.place_id else { throw LinliError.invalid("place_id", "required", "请选择地点") }
            let id = try await registry.addOrganisation(placeID: place, kind: b.kind, name: b.name, serviceType: b.service_type, registration: b.registration,
                                                        actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PatchOrganisationsBody: Decodable { var name: String?; var parent_id: Int64? }
        r.patch("/api/v1/organisations/:id", .action(.placeEdit), body: PatchOrganisationsBody.self) { req, c, b in
            _ = try await registry.editOrganisation(try c.id("id"), name: b.name, parentID: b.parent_id, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.delete("/api/v1/organisations/:id", .action(.placeEdit)) { _, c in
            _ = try await registry.removeOrganisation(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostFacilitiesBody: Decodable { var place_id: Int64?; var kind: String?; var name: String?; var lat: Double?; var lng: Double? }
        r.post("/api/v1/facilities", .action(.placeEdit), body: PostFacilitiesBody.self) { req, c, b in
            guard let place = b.place_id else { throw LinliError.invalid("place_id", "required", "请选择地点") }
            let id = try await registry.addFacility(placeID: place, kind: b.kind, name: b.name, lat: b.lat.map { String($0) }, lng: b.lng.map { String($0) },
                                                    actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        r.delete("/api/v1/facilities/:id", .action(.placeEdit)) { _, c in
            _ = try await registry.removeFacility(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // The registry's spreadsheet in and out (the transfer page): the file is the body
        // (CSV in UTF-8 or GBK, or an .xlsx workbook); the answer is the import report.
        r.post("/api/v1/communities/:id/import", .action(.registryTransfer),
               raw: ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]) { req, c in
            // As large as the console's upload form takes.
            let body = try await req.body.collect(upTo: Multipart.maxBody)
            guard body.readableBytes > 0 else { throw LinliError.invalid("file", "required", "请附上 CSV 或 Excel 文件") }
            let keep = req.uri.queryParameters.get("keep_good") == "1"
            let report = try await RegistryCSV(registry: registry).importCSV(Data(buffer: body), communityID: try c.id("id"), keepGood: keep, actor: try c.requireActor())
            struct Line: Encodable { var line: Int; var column: String; var reason: String }
            struct Out: Encodable { var imported: Int; var households_created: Int; var errors: [Line] }
            return try JSON.response(Out(imported: report.imported, households_created: report.householdsCreated,
                                         errors: report.errors.map { Line(line: $0.line, column: $0.column, reason: $0.reason) }),
                                     status: report.errors.isEmpty ? .ok : .unprocessableContent)
        }
        struct PostCommunitiesExportBody: Decodable { var reason: String? }
        r.post("/api/v1/communities/:id/export", .action(.registryTransfer), body: PostCommunitiesExportBody.self) { req, c, b in
            let id = try c.id("id")
            let csv = try await RegistryCSV(registry: registry).exportCSV(communityID: id, reason: b.reason ?? "", actor: try c.requireActor())
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"residents-\(id).csv\"", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        struct PostPlacesBody: Decodable { var parent_id: Int64?; var kind: String?; var name: String?; var community_type: String? }
        r.post("/api/v1/places", .action(.placeEdit), body: PostPlacesBody.self) { req, c, b in
            return try JSON.response(try await registry.createPlace(parentID: b.parent_id, kind: b.kind, name: b.name, communityType: b.community_type, actor: try c.requireActor()), status: .created)
        }
        struct PatchPlacesBody: Decodable { var parent_id: Int64?; var name: String?; var community_type: String? }
        r.patch("/api/v1/places/:id", .action(.placeEdit), body: PatchPlacesBody.self) { req, c, b in
            return try JSON.response(try await registry.updatePlace(try c.id("id"), name: b.name, parentID: b.parent_id, communityType: b.community_type,
                                                                    actor: try c.requireActor()))
        }
        r.get("/api/v1/households/:id", .action(.householdView)) { _, c in
            try JSON.response(try await registry.household(try c.id("id"), actor: try c.requireActor()))
        }
        struct PostHouseholdsBody: Decodable { var place_id: Int64?; var door: String?; var micro_grid_id: Int64?; var area_m2: String?; var dwelling: DwellingInput? }
        r.post("/api/v1/households", .action(.householdEdit), body: PostHouseholdsBody.self) { req, c, b in
            // The part and its owners may come with the household (`dwelling`, as PUT …/dwelling takes it).
            let actor = try c.requireActor()
            let id = try await registry.createHousehold(placeID: b.place_id, door: b.door, microGridID: b.micro_grid_id, areaM2: b.area_m2,
                                                        dwelling: b.dwelling, actor: actor)
            return try JSON.response(try await registry.household(id, actor: actor), status: .created)
        }
        struct PatchHouseholdsBody: Decodable { var micro_grid_id: Int64?; var door: String? }
        r.patch("/api/v1/households/:id", .action(.householdEdit), body: PatchHouseholdsBody.self) { req, c, b in
            let actor = try c.requireActor()
            let id = try c.id("id")
            try await registry.updateHousehold(id, microGridID: b.micro_grid_id, door: b.door, actor: actor)
            return try JSON.response(try await registry.household(id, actor: actor))
        }
        r.get("/api/v1/residents", .action(.residentView)) { req, c in
            try JSON.response(try await registry.search(req.uri.queryParameters.get("q"), actor: try c.requireActor()))
        }
        r.post("/api/v1/residents", .action(.residentEdit), body: ResidentInput.self) { req, c, input in
            return try JSON.response(try await registry.createResident(input, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/residents/:id", .action(.residentView)) { _, c in
            try JSON.response(try await registry.resident(try c.id("id"), actor: try c.requireActor()))
        }
        r.patch("/api/v1/residents/:id", .action(.residentEdit), body: ResidentInput.self) { req, c, input in
            return try JSON.response(try await registry.updateResident(try c.id("id"), input, actor: try c.requireActor()))
        }
        struct PostResidentsUnmaskBody: Decodable { var reason: String? }
        r.post("/api/v1/residents/:id/unmask", .action(.residentUnmask), body: PostResidentsUnmaskBody.self) { req, c, b in
            return try JSON.response(try await registry.unmaskResident(try c.id("id"), reason: b.reason, actor: try c.requireActor()))
        }
        r.get("/api/v1/coverage/:id", .action(.coverageView)) { _, c in
            struct Body: Encodable { var place: PlaceSummary; var rows: [CoverageRow]; var total: CoverageRow }
            let (p, rows, total) = try await registry.coverage(placeID: try c.id("id"), actor: try c.requireActor())
            return try JSON.response(Body(place: p, rows: rows, total: total))
        }
    }

    func codeURL(_ code: String) -> String { publicBaseURL + "/h/" + code }

    static func residentInput(_ f: FormData, householdID: Int64?) -> ResidentInput {
        var i = ResidentInput(householdID: householdID, name: f["name"], idNumber: f["id_number"], phone: f["phone"],
                              registration: f["registration"], relation: f["relation"], tags: f.all("tags"),
                              partyMember: f["party_member"] == "1", inServiceParty: f["in_service_party"] == "1",
                              idKind: f["id_kind"], gender: f["gender"], birthDate: f["birth_date"])
        i.smsNotices = f["sms_notices"] == "1"
        // The purposes and basis of each sensitive tag ticked (the form shows them for all four).
        var records: [String: SensitiveRecordInput] = [:]
        for tag in f.all("tags") where SensitiveRules.isSensitive(tag) {
            records[tag] = SensitiveRecordInput(purposes: f.all("purposes_" + tag), basis: f["basis_" + tag])
        }
        i.tagRecords = records.isEmpty ? nil : records
        return i
    }

    static func coverageData(_ rows: [CoverageRow]) -> [[String: Any]] {
        rows.map { ["id": $0.placeID, "name": $0.name, "compounds": $0.compounds, "with_property": $0.withProperty, "without_property": $0.withoutProperty,
                    "with_owners": $0.withOwnersCommittee, "without_owners": $0.withoutOwnersCommittee,
                    "with_branch": $0.withPartyBranch, "without_branch": $0.withoutPartyBranch] }
    }

    static func options(_ values: [String], selected: String?, _ lang: Lang, labelPrefix: String = "") -> [[String: Any]] {
        values.map { ["value": $0, "label": I18n.label(labelPrefix + $0, lang), "selected": $0 == selected] }
    }

    func transferPage(_ c: AppContext, id: Int64, report: ImportReport?, moves: GridMoveReport? = nil, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let isCommunity = try await RegistryCSV(registry: registry).transferScope(id, actor: actor)
        let d = try await registry.place(id, actor: actor)
        var data: [String: Any] = ["place": renderer.data(d.place, c.lang), "errors": errors, "header": RegistryCSV.header.joined(separator: ","),
                                   "is_community": isCommunity]
        if let report {
            data["report"] = ["imported": report.imported, "households": report.householdsCreated, "error_count": report.errors.count,
                              "has_errors": !report.errors.isEmpty, "kept_good": c.form["keep_good"] == "1",
                              "errors": report.errors.map { ["line": $0.line, "column": $0.column, "reason": $0.reason] }]
        }
        if let moves {
            data["moves_report"] = ["moved": moves.moved, "unchanged": moves.unchanged, "has_errors": !moves.errors.isEmpty,
                                    "error_count": moves.errors.count, "errors": moves.errors.map { ["line": $0.line, "column": $0.column, "reason": $0.reason] }]
        }
        data["may_move"] = actor.may(.householdEdit)
        data["may_review_sensitive"] = isCommunity && actor.may(.residentEdit) && actor.grants(for: .residentView).contains { [.communityStaff, .streetStaff, .cityAdmin].contains($0.role) }
        return renderer.page("transfer", data, context: c, title: I18n.table(c.lang)["transfer"]! + " · " + d.place.name)
    }

    func placePage(_ c: AppContext, id: Int64, errors: [String: String]?, form: [String: String], status: HTTPResponse.Status = .ok) async throws -> Response {
        let actor = try c.requireActor()
        let d = try await registry.place(id, actor: actor)
        var data = renderer.fields(d, c.lang)
        let kind = PlaceKind(rawValue: d.place.kind)
        let childKinds = PlaceKind.allCases.filter { $0.canBeChild(of: kind) }
        data["can_edit"] = actor.may(.placeEdit)
        data["has_organisations"] = !d.organisations.isEmpty
        data["has_facilities"] = !d.facilities.isEmpty
        data["org_kinds"] = Self.options(OrganisationKind.allCases.map(\.rawValue), selected: nil, c.lang)
        data["facility_kinds"] = Self.options(FacilityKind.allCases.map(\.rawValue), selected: nil, c.lang)
        data["child_kinds"] = Self.options(childKinds.map(\.rawValue), selected: nil, c.lang)
        // Explicit flags: the template engine has no "first element" lookup (`list.0` was never true,
        // so the add-a-place form never showed).
        data["has_child_kinds"] = !childKinds.isEmpty
        data["has_children"] = !d.children.isEmpty
        data["is_community"] = kind?.isCommunity ?? false
        data["children_are_communities"] = childKinds.contains { $0.isCommunity }
        data["community_types"] = Self.options(CommunityType.allCases.map(\.rawValue), selected: nil, c.lang, labelPrefix: "ctype_")
        data["current_types"] = Self.options(CommunityType.allCases.map(\.rawValue), selected: d.place.communityType ?? CommunityType.urban.rawValue, c.lang, labelPrefix: "ctype_")
        // Buildings take a 楼长, units a 单元长, chosen among the residents living there.
        if kind == .building || kind == .unit {
            let post: HeadPost = kind == .building ? .buildingHead : .unitHead
            data["takes_heads"] = true
            data["head_post"] = post.rawValue
            data["head_post_label"] = I18n.label(post.rawValue, c.lang)
            data["heads"] = renderer.data(try await registry.heads(placeID: id, actor: actor), c.lang)
            if actor.may(.placeEdit) {
                data["head_choices"] = try await registry.residentChoices(placeID: id, gridID: nil, actor: actor).map { ["value": $0.0, "label": $0.1] }
            }
        }
        if let kind, kind.rank <= 3 {
            // The office's contacts as posted for the public (communities, streets, districts).
            let posted = try await registry.officeContact(placeID: id, actor: actor)
            data["contact"] = ["address": form["contact_address"] ?? posted?.address ?? "", "phone": form["contact_phone"] ?? posted?.phone ?? "",
                               "hours": form["contact_hours"] ?? posted?.hours ?? ""]
        }
        data["holds_households"] = kind?.holdsHouseholds ?? false
        data["can_print_cards"] = (kind?.takesPrintedRuns ?? false) && actor.may(.householdView)
        data["can_invite_here"] = (kind?.takesPrintedRuns ?? false) && actor.may(.userManage) && AccountService.grantableRoles(by: actor).contains(.resident)
        data["can_add_household"] = (kind?.holdsHouseholds ?? false) && actor.may(.householdEdit)
        data["can_coverage"] = actor.may(.coverageView) && (kind?.rank ?? 9) <= 3
        data["can_transfer"] = actor.may(.registryTransfer) && kind?.isCommunity == true
        data["errors"] = errors ?? [:]
        data["form"] = form
        // Each organisation registered here can be renamed, put under another, or removed.
        let parents = try await registry.parentChoices(placeID: id, actor: actor)
        data["organisations"] = d.organisations.map { o -> Any in
            var item = renderer.fields(o, c.lang)
            item["editable"] = !o.serving && !parents.isEmpty
            item["error"] = errors?["org\(o.id)"] ?? false
            item["parents"] = parents.filter { $0.0 != o.id }.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == o.parentID] }
            return item
        }
        if kind?.holdsHouseholds == true {
            // Micro-grids of this place's community, for the new-household form.
            let community = d.breadcrumbs.first { PlaceKind(rawValue: $0.kind)?.isCommunity == true }
            if let community {
                data["micro_grids"] = try await registry.microGrids(community: community.id, actor: actor).map { ["id": $0.id, "name": $0.name] }
            }
        }
        var resp = renderer.page("place", data, context: c, title: d.place.name)
        resp.status = status
        return resp
    }

    func householdPage(_ c: AppContext, _ h: HouseholdDetail) async throws -> Response {
        let actor = try c.requireActor()
        // Template values straight from the field list: the most viewed page of the console.
        var data = TemplateFields(of: renderer.data(h, c.lang))
        // The QR image is its own (cached) request: drawing it was the page's largest cost.
        data["code_url"] = .text(codeURL(h.code))
        data["can_add_resident"] = .bool(actor.may(.residentEdit))
        data["can_edit"] = .bool(actor.may(.householdEdit))
        return renderer.page("household", fields: data, context: c, title: h.address)
    }

    /// The door and micro-grid form, on its own page so that every view of a household does not
    /// list the community's micro-grids.
    func householdEditPage(_ c: AppContext, _ h: HouseholdDetail, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        var data = renderer.fields(h, c.lang)
        data["errors"] = errors ?? [:]
        if let door = c.form["door"], errors != nil { data["door"] = door }
        let chosen = errors == nil ? h.microGridID : c.form.int("micro_grid_id") ?? h.microGridID
        data["micro_grids"] = try await registry.microGrids(community: h.communityID, actor: actor)
            .map { ["id": $0.id, "name": $0.name, "selected": $0.id == chosen] }
        let moves = try await registry.moves(household: h.id, actor: actor)
        data["moves"] = renderer.data(moves, c.lang)
        data["has_moves"] = !moves.isEmpty
        return renderer.page("household_edit", data, context: c, title: I18n.table(c.lang)["edit"]! + " · " + h.address)
    }

    func residentPage(_ c: AppContext, _ r: ResidentView, unmasked: Bool, errors: [String: String]?, actingValues: FormData? = nil) async throws -> Response {
        var data = renderer.fields(r, c.lang)
        let actor = c.actor
        // The tags shown are those this actor may see; without a sensitive one there is no record to read.
        let facts = r.tags.contains(where: SensitiveRules.isSensitive) ? try await registry.sensitiveFacts(r.id, actor: try c.requireActor()) : []
        let subject = RegistryService.isSubject(try c.requireActor(), r.id)
        let t = I18n.table(c.lang)
        data["sensitive"] = facts.map { f in
            ["tag": f.tag, "label": I18n.label(f.tag, c.lang),
             "purposes": f.purposes.map { t["purpose_" + $0] ?? $0 }.joined(separator: "、"),
             "basis": t["basis_" + f.basis] ?? f.basis, "recorded_by": f.recordedBy.isEmpty ? t["sensitive_before_purposes"]! : f.recordedBy,
             "recorded_on": f.recordedOn, "keep_until": f.keepUntil.isEmpty ? t["sensitive_undated"]! : f.keepUntil,
             "can_withdraw": subject && f.basis == SensitiveBasis.consent.rawValue && !(c.actor?.withheld.contains(.residentUnmask) ?? false)] as [String: Any]
        }
        data["has_sensitive"] = !facts.isEmpty
        data["subject"] = subject
        // Acting for the resident (代办) starts here; someone already acting cannot start again.
        data["can_act_for"] = (actor?.may(.residentActFor) ?? false) && actor?.acting == nil
        data["acting_values"] = ["household_code": actingValues?["household_code"] ?? "", "reason": actingValues?["reason"] ?? ""]
        data["acting_open"] = actingValues != nil
        data["unmasked"] = unmasked
        data["can_unmask"] = actor?.may(.residentUnmask) ?? false
        data["can_edit"] = actor?.may(.residentEdit) ?? false
        data["can_invite"] = (actor?.may(.residentEdit) ?? false) && (actor.map { AccountService.grantableRoles(by: $0).contains(.resident) } ?? false)
        data["errors"] = errors ?? [:]
        return renderer.page("resident", data, context: c, title: r.name)
    }

    func residentForm(_ c: AppContext, household: HouseholdDetail, resident: ResidentView?, errors: [String: String]?, values: FormData) async throws -> Response {
        func value(_ k: String, _ fallback: String?) -> String { values[k] ?? fallback ?? "" }
        let tags = values.values["tags"] ?? resident?.tags ?? []
        var kept: [SensitiveFactView] = []
        if let resident, resident.tags.contains(where: SensitiveRules.isSensitive) {
            kept = try await registry.sensitiveFacts(resident.id, actor: try c.requireActor())
        }
        let t = I18n.table(c.lang)
        // A refused form shows what was sent back: no box ticked is none, not the defaults.
        let posted = !values.values.isEmpty
        // Each sensitive tag's purposes and basis: as sent back, else as kept, else the defaults.
        let records: [[String: Any]] = ResidentTag.allCases.map(\.rawValue).filter(SensitiveRules.isSensitive).map { tag in
            let fact = kept.first { $0.tag == tag }
            let purposes = values.values["purposes_" + tag] ?? (posted ? [] : fact?.purposes ?? SensitiveRules.defaultPurposes(tag).map(\.rawValue))
            let basis = values["basis_" + tag] ?? fact?.basis ?? SensitiveBasis.legalDuty.rawValue
            let field = "tag_records." + tag
            var option: [String: Any] = ["tag": tag, "value": tag, "label": I18n.label(tag, c.lang),
                    "purposes": SensitivePurpose.allCases.map { ["value": $0.rawValue, "label": t["purpose_" + $0.rawValue]!, "checked": purposes.contains($0.rawValue)] },
                    "bases": SensitiveBasis.allCases.map { ["value": $0.rawValue, "label": t["basis_" + $0.rawValue]!, "checked": basis == $0.rawValue] }]
            for (key, suffix) in [("error_purposes", ".purposes"), ("error_basis", ".basis"), ("error_record", "")] {
                if let e = errors?[field + suffix] { option[key] = e }
            }
            return option
        }
        let data: [String: Any] = [
            "sensitive_options": records,
            "household": ["id": household.id, "address": household.address],
            "resident_id": resident?.id as Any,
            "editing": resident != nil,
            "action": resident.map { "/residents/\($0.id)" } ?? "/households/\(household.id)/residents",
            "name": value("name", resident?.name), "id_number": value("id_number", resident?.idNumber),
            "phone": value("phone", resident?.phone),
            "id_kinds": Self.options(DocumentKind.allCases.map(\.rawValue), selected: values["id_kind"] ?? resident?.idKind ?? DocumentKind.idCard.rawValue, c.lang, labelPrefix: "doc_"),
            "genders": Self.options(["male", "female"], selected: values["gender"] ?? resident?.gender, c.lang),
            "birth_date": value("birth_date", resident?.birthDate),
            "registrations": Self.options(Registration.allCases.map(\.rawValue), selected: values["registration"] ?? resident?.registration, c.lang),
            "relations": Self.options(Relation.allCases.map(\.rawValue), selected: values["relation"] ?? resident?.relation, c.lang),
            "tag_options": ResidentTag.allCases.map { ["value": $0.rawValue, "label": I18n.label($0.rawValue, c.lang), "checked": tags.contains($0.rawValue)] },
            "party_member": values["party_member"].map { $0 == "1" } ?? resident?.partyMember ?? false,
            "in_service_party": values["in_service_party"].map { $0 == "1" } ?? resident?.inServiceParty ?? false,
            "sms_notices": values["sms_notices"].map { $0 == "1" } ?? resident?.smsNotices ?? false,
            "errors": errors ?? [:], "has_errors": errors != nil,
        ]
        return renderer.page("resident_form", data, context: c, title: I18n.table(c.lang)[resident == nil ? "add_resident" : "edit"]!)
    }
}

extension Dictionary where Key == String {
    func mapKeys(_ f: (String) -> String) -> [String: Value] {
        Dictionary(uniqueKeysWithValues: map { (f($0.key), $0.value) })
    }
}
