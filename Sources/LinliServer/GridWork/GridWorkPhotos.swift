import Foundation
import SQLKit
import LinliCore
import LinliStore

/// Whose a grid-work photo is: a visit's, or a patrol's at one of its check points.
enum PhotoOwner: String {
    case visit, patrol
}

/// Photos taken on a visit or at a patrol's finding: a door, a broken stair light, a blocked
/// fire passage. They show homes and people, so they are sealed at rest like the notes beside
/// them, read back only by the grid's staff and the community, and erased with the notes when the
/// community's retention rule says.
extension GridWorkService {
    /// Photos on one visit, or on one check point of a patrol.
    static let photosMax = 3

    /// A record's photos, checked and re-encoded before any transaction (see `PhotoStore.prepareAll`).
    static func preparePhotos(files: [[UInt8]], base64: [String]?, field: String) throws -> [PreparedPhoto] {
        try PhotoStore.prepareAll(files: files, base64: base64, field: field, max: photosMax, tooMany: "照片最多 \(photosMax) 张")
    }

    /// Writes the sealed files (flushed before the rows naming them commit) and their rows;
    /// inside the record's own transaction.
    func savePhotos(_ db: any SQLDatabase, _ photos: [PreparedPhoto], owner: PhotoOwner, id: Int64, position: Int = 0,
                    community: Int64, takenAt: Int64, now: Int64) async throws {
        guard !photos.isEmpty else { return }
        try self.photos.write(photos, failure: "照片保存失败，请稍后再试")
        try await db.insertRows("""
            INSERT INTO gridwork_photos (owner, owner_id, position, community_id, stored_name, bytes, taken_at, created_at) VALUES
            """, photos) { p in
            "(\(owner.rawValue), \(id), \(position), \(community), \(p.name), \(p.jpeg.count), \(takenAt), \(now))"
        }
    }

    /// Photo ids of records, by record id and position, oldest first.
    func photoIDs(_ db: any SQLDatabase, owner: PhotoOwner, ids: [Int64]) async throws -> [Int64: [Int: [Int64]]] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: [Int: [Int64]]] = [:]
        for r in try await db.query("""
            SELECT id, owner_id, position FROM gridwork_photos WHERE owner = \(owner.rawValue) AND owner_id IN (\(list: ids)) ORDER BY id
            """).all() {
            out[try r.decode(column: "owner_id", as: Int64.self), default: [:]][try r.decode(column: "position", as: Int.self), default: []]
                .append(try r.decode(column: "id", as: Int64.self))
        }
        return out
    }

    /// The photos of a record as bytes (to go with the request a finding becomes).
    func photoBytes(owner: PhotoOwner, id: Int64, position: Int = 0) async throws -> [[UInt8]] {
        let names = try await store.read { db in
            try await db.query("""
                SELECT stored_name FROM gridwork_photos WHERE owner = \(owner.rawValue) AND owner_id = \(id) AND position = \(position) ORDER BY id
                """).all().map { try $0.decode(column: "stored_name", as: String.self) }
        }
        return try names.map { try photos.read($0) }
    }

    /// One photo's bytes, for whoever may read its record: a visit's, those who may read the
    /// household's visits; a patrol's, the grid's staff and the community. 404 otherwise.
    public func photo(_ id: Int64, actor: Actor) async throws -> [UInt8] {
        try actor.require(.visitLog)
        let name: String = try await store.read { db in
            guard let p = try await db.query("SELECT owner, owner_id, stored_name FROM gridwork_photos WHERE id = \(id)").first() else { throw LinliError.notFound }
            let ownerID = try p.decode(column: "owner_id", as: Int64.self)
            switch PhotoOwner(rawValue: try p.decode(column: "owner", as: String.self)) {
            case .visit:
                guard let v = try await db.query("SELECT household_id FROM visits WHERE id = \(ownerID)").first(),
                      let f = try await registry.householdFacts(db, ids: [try v.decode(column: "household_id", as: Int64.self)]).first,
                      actor.may(.visitLog, on: f.scope) else { throw LinliError.notFound }
            case .patrol:
                guard let r = try await db.query("SELECT grid_id FROM patrols WHERE id = \(ownerID)").first() else { throw LinliError.notFound }
                _ = try await patrolGrid(db, try r.decode(column: "grid_id", as: Int64.self), actor: actor)
            case nil:
                throw LinliError.notFound
            }
            return try p.decode(column: "stored_name", as: String.self)
        }
        return try photos.read(name)
    }

    /// Removes photo files no row names, an hour after they were written (a visit rolled back
    /// after its photos were flushed leaves them; see `OrphanFiles`).
    public func removeOrphanPhotos() async throws -> Int {
        try await OrphanFiles.remove(in: photos.directory, store: store, table: "gridwork_photos", olderThan: env.nowSeconds - 3600)
    }
}
