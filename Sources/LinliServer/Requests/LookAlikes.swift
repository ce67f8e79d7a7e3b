import Foundation
import SQLKit
import LinliCore
import LinliStore

// Look-alike requests: suggested before a resident submits, returned with a new submission, and
// shown to the reporter and the routing staff on an open request's page.

extension RequestsService {
    /// Requests that look like this one: same category, same community, open or recent, close by, similar words.
    /// Each look-alike shows its full address only to whoever may see that request whole (its
    /// submitter, routing staff over it); anyone else gets the compound and building, never the door.
    func similarRequests(_ db: any SQLDatabase, to r: Row, _ categories: [String: RequestCategory], lang: Lang, now: Int64, actor: Actor) async throws -> [SimilarRequest] {
        let since = (r.id == 0 ? now : r.createdAt) - RequestLimits.duplicateWindowSeconds
        // Only the newest few of the category in the community that lie in the same compound or
        // within the radius's box, read backwards along an index that holds every column compared
        // or shown except the text (requests.005), so that neither a sort nor a read of the table
        // grows with the history. A request's text never changes: it is read once and kept
        // (`LookAlikeTexts`).
        var nearby: [BoundSQL] = []
        if let compound = r.compoundID { nearby.append("r.compound_id = \(compound)") }
        if let lat = r.lat, let lng = r.lng {
            let box = boundingBox(lat: lat, lng: lng, metres: RequestLimits.duplicateRadiusMetres)
            nearby.append("(r.lat BETWEEN \(box.lat.lowerBound) AND \(box.lat.upperBound) AND r.lng BETWEEN \(box.lng.lowerBound) AND \(box.lng.upperBound))")
        }
        guard !nearby.isEmpty else { return [] }
        let candidates = try await db.query("""
            SELECT r.id, r.place_id, r.compound_id, r.lat, r.lng, r.status, r.created_at FROM requests r
            WHERE r.category = \(r.category) AND r.community_id = \(r.communityID)
            AND r.created_at >= \(since) AND r.id <> \(r.id) AND r.status IN ('unassigned', 'assigned', 'accepted', 'returned', 'resolved')
            AND (\(BoundSQL.joined(nearby, separator: " OR ")))
            ORDER BY r.created_at DESC, r.id DESC LIMIT \(unsafeRaw: String(RequestLimits.duplicateCandidates))
            """).all()
        var near: [(id: Int64, placeID: Int64, status: String, createdAt: Int64)] = []
        for row in candidates {
            let compound = try row.decode(column: "compound_id", as: Int64?.self)
            var isNear = compound != nil && compound == r.compoundID
            if !isNear, let a = try row.decode(column: "lat", as: Double?.self), let b = try row.decode(column: "lng", as: Double?.self), let x = r.lat, let y = r.lng,
               distanceMetres(a, b, x, y) <= RequestLimits.duplicateRadiusMetres { isNear = true }
            if isNear {
                near.append((try row.decode(column: "id", as: Int64.self), try row.decode(column: "place_id", as: Int64.self),
                             try row.decode(column: "status", as: String.self), try row.decode(column: "created_at", as: Int64.self)))
            }
        }
        guard !near.isEmpty else { return [] }
        var known = texts.get(near.map(\.id))
        let missing = near.map(\.id).filter { known[$0] == nil }
        if !missing.isEmpty {
            var fresh: [Int64: LookAlikeText] = [:]
            for row in try await db.query("SELECT id, description, address FROM requests WHERE id IN (\(list: missing))").all() {
                fresh[try row.decode(column: "id", as: Int64.self)] = .init(bigrams: TextSimilarity.bigrams(try row.decode(column: "description", as: String.self)),
                                                                           address: try row.decode(column: "address", as: String.self))
            }
            texts.put(fresh)
            known.merge(fresh) { $1 }
        }
        let probe = TextSimilarity.bigrams(r.description)
        var scored: [(candidate: Int, score: Double)] = []
        for (i, c) in near.enumerated() {
            guard let theirs = known[c.id] else { continue }
            let score = TextSimilarity.score(probe, theirs.bigrams) + (c.placeID == r.placeID ? 0.2 : 0)
            if score >= RequestLimits.duplicateMinScore { scored.append((i, score)) }
        }
        // Best first; among equals the newest (the candidates came newest first).
        let categoryName = categories[r.category]?.name(lang) ?? r.category
        let best = scored.sorted { ($0.score, $1.candidate) > ($1.score, $0.candidate) }.prefix(5)
        guard !best.isEmpty else { return [] }
        var owners: [(id: Int64, path: String)] = []
        var full = Set<Int64>()
        let routes = actor.grants(for: .requestRoute)
        for row in try await db.query("SELECT id, path, submitted_by FROM requests WHERE id IN (\(list: best.map { near[$0.candidate].id }))").all() {
            let id = try row.decode(column: "id", as: Int64.self), path = try row.decode(column: "path", as: String.self)
            if try row.decode(column: "submitted_by", as: Int64.self) == actor.userID || routes.contains(where: { path.hasPrefix($0.placePath) }) {
                full.insert(id)
            } else { owners.append((id, path)) }
        }
        let publicAddress = owners.isEmpty ? [:] : try await publicAddresses(db, paths: owners)
        return best.map { i, score in
            let c = near[i]
            let address = full.contains(c.id) ? known[c.id]?.address ?? "" : publicAddress[c.id] ?? ""
            return SimilarRequest(id: c.id, categoryName: categoryName, address: address, status: c.status,
                                  createdText: LocalTime.text(c.createdAt), score: (score * 100).rounded() / 100)
        }
    }

    /// Look-alikes of one request the actor may see (returned with a new submission).
    public func similar(_ id: Int64, actor: Actor, lang: Lang) async throws -> [SimilarRequest] {
        let now = env.nowSeconds
        return try await store.read { db in
            let r = try await visible(db, id, actor)
            return try await similarRequests(db, to: r, try await config.snapshot(db, now: now).categories, lang: lang, now: now, actor: actor)
        }
    }

    /// Suggestions shown before a resident submits: open requests that look the same.
    public func suggestDuplicates(_ input: RequestInput, actor: Actor, lang: Lang) async throws -> [SimilarRequest] {
        guard let category = input.category, let description = input.description, !description.isEmpty else { return [] }
        let now = env.nowSeconds
        return try await store.read { db in
            guard let loc = try? await locate(db, input, actor: actor) else { return [] }
            let probe = Row.unsaved(category: category, description: description, at: loc, submittedBy: actor.userID, now: now)
            return try await similarRequests(db, to: probe, try await config.snapshot(db, now: now).categories, lang: lang, now: now, actor: actor)
        }
    }

}

/// Each request's bigrams and address, kept after they are first read: neither changes after
/// submission, and every submission compares itself with up to twenty recent neighbours. A new
/// request's are put here as it is stored.
typealias LookAlikeTexts = BoundedCache<Int64, LookAlikeText>

struct LookAlikeText: Sendable {
    var bigrams: [UInt64]
    var address: String
}
