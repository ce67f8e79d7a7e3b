import Foundation
import SQLKit

/// Organisations and facilities added from a place's page.
extension RegistryService {
    /// Adds an organisation at a place (a party branch of a compound, a social organisation of a
    /// community, …); a property company also records the compound it serves.
    public func addOrganisation(placeID: Int64, kind rawKind: String?, name rawName: String?, serviceType rawService: String?,
                                registration rawRegistration: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            // Scope first: outside the actor's area the place does not exist, whatever the input.
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            var v = Validator()
            let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(!name.isEmpty && name.count <= 60, "org_name", "required", "请填写组织名称（60 字以内）")
            let kind = OrganisationKind(rawValue: rawKind ?? "")
            v.check(kind != nil, "org_kind", "invalid_choice", "请选择组织类型")
            let service = rawService.flatMap { $0.isEmpty ? nil : $0 }
            let registration = rawRegistration.flatMap { $0.isEmpty ? nil : $0 }
            if kind == .socialOrganisation {
                v.check(["activity", "service", "rights"].contains(service ?? ""), "org_service_type", "invalid_choice", "请选择社会组织类别")
                v.check(["registered", "filed"].contains(registration ?? ""), "org_registration", "invalid_choice", "请选择登记或备案")
            }
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO organisations (kind, name, place_id, parent_id, service_type, registration)
                VALUES (\(bind: kind!.rawValue), \(bind: name), \(bind: placeID), NULL, \(bind: kind == .socialOrganisation ? service : nil),
                        \(bind: kind == .socialOrganisation ? registration : nil)) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            if kind == .propertyCompany, place.kind.rank == 4 {
                try await db.raw("INSERT INTO organisation_compounds (organisation_id, compound_id) VALUES (\(bind: id), \(bind: placeID))").run()
            }
            try await audit.append(db, actor: actor, action: "organisation.create", objectType: "organisation", objectID: id, path: place.path, detail: name)
            return id
        }
    }

    public func addFacility(placeID: Int64, kind rawKind: String?, name rawName: String?, lat rawLat: String?, lng rawLng: String?, actor: Actor) async throws -> Int64 {
        try await store.transaction { db in
            guard let place = try await fetchPlace(db, placeID) else { throw LinliError.notFound }
            try actor.require(.placeEdit, on: place.scope)
            var v = Validator()
            let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            v.check(!name.isEmpty && name.count <= 60, "fac_name", "required", "请填写设施名称（60 字以内）")
            let kind = FacilityKind(rawValue: rawKind ?? "")
            v.check(kind != nil, "fac_kind", "invalid_choice", "请选择设施类型")
            let lat = rawLat.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }, lng = rawLng.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            v.check(lat.map { (-90...90).contains($0) } ?? false, "fac_lat", "invalid", "纬度应为 -90 到 90 的数字")
            v.check(lng.map { (-180...180).contains($0) } ?? false, "fac_lng", "invalid", "经度应为 -180 到 180 的数字")
            try v.throwIfAny()
            let id = try await db.raw("""
                INSERT INTO facilities (place_id, kind, name, lat, lng) VALUES (\(bind: placeID), \(bind: kind!.rawValue), \(bind: name), \(bind: lat!), \(bind: lng!))
                RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
            try await audit.append(db, actor: actor, action: "facility.create", objectType: "facility", objectID: id, path: place.path, detail: name)
            return id
        }
    }
}
