import Foundation
import LinliImage
import SQLKit
import LinliCore
import LinliStore

/// A photo checked by its bytes and re-encoded by libvips, its metadata (GPS included) removed.
package struct PreparedPhoto: Sendable {
    package var jpeg: [UInt8]
    var width: Int
    var height: Int
    /// The file's name, chosen once when the photo is prepared (before any transaction), so that a
    /// transaction body run again by the group commit writes the same file, not a second one.
    package var name: String = PreparedPhoto.randomName()

    static func randomName() -> String {
        var g = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }) + ".jpg"
    }
}

/// Photos live under the data directory, outside anything served directly, under names the
/// server makes up; they are read back only through a route that checks who is asking.
package struct PhotoStore: Sendable {
    let directory: String

    package init(directory: String) { self.directory = directory }
    static let maxSide: Int32 = 1600
    /// The largest picture decoded (a 48-megapixel phone photo fits); checked from the header.
    static let maxPixels: Int64 = 50_000_000

    enum Kind { case jpeg, png, webp }

    /// What the first bytes say the file is; the name and the declared type are never trusted.
    static func sniff(_ b: [UInt8]) -> Kind? {
        if b.count > 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count > 8, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if b.count > 12, b[0..<4].elementsEqual(Array("RIFF".utf8)), b[8..<12].elementsEqual(Array("WEBP".utf8)) { return .webp }
        return nil
    }

    package static func prepare(_ bytes: [UInt8]) throws -> PreparedPhoto {
        guard !bytes.isEmpty else { throw LinliError.invalid("photos", "empty", "文件为空") }
        guard bytes.count <= RequestLimits.photoBytesMax else {
            throw LinliError.invalid("photos", "too_large", "照片不能超过 \(RequestLimits.photoBytesMax / 1024 / 1024) MB")
        }
        guard sniff(bytes) != nil else { throw LinliError.invalid("photos", "not_an_image", "不是 JPEG、PNG 或 WebP 图片") }
        guard linli_image_init() == 0 else { throw LinliError(.internalServerError, code: "image_library", message: "图片处理库无法启动") }
        var out: UnsafeMutableRawPointer?
        var length = 0
        var w: Int32 = 0, h: Int32 = 0
        let rc = bytes.withUnsafeBytes { linli_image_reencode($0.baseAddress, $0.count, maxSide, maxPixels, &out, &length, &w, &h) }
        defer { if let out { linli_image_free(out) } }
        if rc == -5 {
            _ = linli_image_error()
            throw LinliError.invalid("photos", "too_many_pixels", "图片尺寸过大（\(w)×\(h)），请不超过 \(maxPixels / 1_000_000) 百万像素")
        }
        guard rc == 0, let out, length > 0 else {
            _ = linli_image_error()
            throw LinliError.invalid("photos", "not_an_image", "图片已损坏或无法识别")
        }
        return PreparedPhoto(jpeg: Array(UnsafeRawBufferPointer(start: out, count: length)), width: Int(w), height: Int(h))
    }

    /// Photos sent as files and as base64 (an empty entry is no photo, as an empty file field is
    /// none), at most `max`, each checked and re-encoded before any transaction. A picture's own
    /// fault names `field` and which photo; a server fault (the image library not starting)
    /// stays one, so a phone keeps the record to send again.
    package static func prepareAll(files: [[UInt8]], base64: [String]?, field: String, base64Field: String? = nil, max: Int, tooMany: String) throws -> [PreparedPhoto] {
        var raw = files.filter { !$0.isEmpty }
        for (i, text) in (base64 ?? []).enumerated() where !text.isEmpty {
            raw.append(try Input.base64(text, field: base64Field ?? field, message: "第 \(i + 1) 张照片不是 base64 编码") ?? [])
        }
        guard raw.count <= max else { throw LinliError.invalid(field, "too_many", tooMany) }
        return try raw.enumerated().map { i, bytes in
            do { return try prepare(bytes) } catch let e as LinliError where e.status == .unprocessableContent {
                throw LinliError.invalid(field, e.code, "第 \(i + 1) 张照片：\(e.message)")
            }
        }
    }

    func path(_ storedName: String) -> String { directory + "/" + storedName }

    /// Writes the file (flushed to disk) and its row; called inside the request's transaction.
    func save(_ db: any SQLDatabase, _ p: PreparedPhoto, requestID: Int64, eventID: Int64?, now: Int64, env: Env) async throws {
        let name = try write(p, env: env)
        try await db.raw("""
            INSERT INTO request_photos (request_id, event_id, stored_name, width, height, bytes, created_at)
            VALUES (\(bind: requestID), \(bind: eventID), \(bind: name), \(bind: p.width), \(bind: p.height), \(bind: p.jpeg.count), \(bind: now))
            """).run()
    }

    /// Writes the image under the name chosen when it was prepared, flushed to disk before the row
    /// that names it commits. Writing is idempotent: when a group commit runs a transaction body
    /// again (another job of its batch failed), the same file is written once, never a second
    /// orphan. The file appears under its name only complete (written aside, then renamed).
    package func write(_ p: PreparedPhoto, env: Env) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = p.name
        let final = path(name)
        if FileManager.default.fileExists(atPath: final) { return name }
        let temp = path(".tmp-" + env.token(bytes: 10))
        do {
            try LinliFiles.writePrivate(p.jpeg, to: temp)
            guard rename(temp, final) == 0 else { throw LinliError(.internalServerError, code: "photo_write", message: "照片保存失败") }
        } catch {
            unlink(temp)
            throw LinliError(.internalServerError, code: "photo_write", message: "照片保存失败")
        }
        // The new name itself is durable once the directory is flushed.
        let dir = open(directory, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
        return name
    }

    package func read(_ storedName: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path(storedName)) else { throw LinliError.notFound }
        return [UInt8](d)
    }
}

extension RequestsService {
    /// Removes photo files no request names, an hour after they were written (see `PhotoStore.removeOrphans`).
    public func removeOrphanPhotos() async throws -> Int {
        try await photos.removeOrphans(store, olderThan: env.nowSeconds - 3600)
    }

    /// A photo's bytes for someone who may see its request; on public pages only if the reporter
    /// agreed to publish.
    public func photo(_ photoID: Int64, actor: Actor?) async throws -> [UInt8] {
        let name: String = try await store.read { db in
            guard let p = try await db.raw("SELECT request_id, stored_name FROM request_photos WHERE id = \(bind: photoID)").first(),
                  let r = try await fetch(db, try p.decode(column: "request_id", as: Int64.self)) else { throw LinliError.notFound }
            let allowed: Bool
            if let actor, canView(actor, r) { allowed = true } else { allowed = r.publicDetails }
            guard allowed else { throw LinliError.notFound }
            return try p.decode(column: "stored_name", as: String.self)
        }
        return try photos.read(name)
    }
}

extension PhotoStore {
    /// Removes photo files that no `request_photos` row names (see `OrphanFiles.remove`).
    func removeOrphans(_ store: any Store, olderThan cutoff: Int64) async throws -> Int {
        try await OrphanFiles.remove(in: directory, store: store, table: "request_photos", olderThan: cutoff)
    }
}

/// Files under a directory that no row of their table names (`stored_name`), older than `cutoff`
/// (seconds since 1970). They are left when a transaction fails, or the server dies, after the
/// file was flushed and before the row committed; a half-written `.tmp-` file when it died while
/// writing. Younger files are left alone: their transaction may still be running. Shared by the
/// requests' photos, the service centre's papers and the offices' evidence; each capability
/// names its own table.
package enum OrphanFiles {
    package static func remove(in directory: String, store: any Store, table: String, olderThan cutoff: Int64) async throws -> Int {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return 0 }
        func old(_ name: String) -> Bool {
            guard let attrs = try? fm.attributesOfItem(atPath: directory + "/" + name), let modified = attrs[.modificationDate] as? Date else { return false }
            return Int64(modified.timeIntervalSince1970) < cutoff
        }
        var removed = 0
        for name in names where name.hasPrefix(".tmp-") && old(name) && (try? fm.removeItem(atPath: directory + "/" + name)) != nil { removed += 1 }
        let candidates = names.filter { $0.hasSuffix(".jpg") && old($0) }
        var start = 0
        while start < candidates.count {
            let batch = Array(candidates[start..<min(start + 200, candidates.count)])
            start += batch.count
            let known = try await store.read { db in
                try await db.select().column("stored_name").from(table).where("stored_name", .in, batch).all()
                    .map { try $0.decode(column: "stored_name", as: String.self) }
            }
            for name in Set(batch).subtracting(known) where (try? fm.removeItem(atPath: directory + "/" + name)) != nil { removed += 1 }
        }
        return removed
    }
}

/// Photos sealed at rest under a directory (papers and evidence show identity cards, signatures,
/// names): written once under the name chosen when each was prepared, so a transaction body the
/// group commit runs again finds its file instead of writing a second; read back only by a use
/// case that has checked who asks.
package struct SealedPhotos: Sendable {
    package init(directory: String, cipher: PersonalDataCipher, env: Env) {
        self.directory = directory; self.cipher = cipher; self.env = env
    }
    package let directory: String
    let cipher: PersonalDataCipher
    let env: Env

    /// Writes the photos not yet on disk, then syncs the directory (so a name the database
    /// records survives a crash). `failure` is what a user is told if the disk refuses.
    package func write(_ photos: [PreparedPhoto], failure: String) throws {
        guard !photos.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for p in photos {
            let final = directory + "/" + p.name
            guard !FileManager.default.fileExists(atPath: final) else { continue }
            let temp = directory + "/.tmp-" + env.token(bytes: 10)
            do {
                try LinliFiles.writePrivate(try cipher.seal(bytes: p.jpeg), to: temp)
                guard rename(temp, final) == 0 else { throw LinliError(.internalServerError, code: "photo_write", message: failure) }
            } catch {
                unlink(temp)
                throw LinliError(.internalServerError, code: "photo_write", message: failure)
            }
        }
        let dir = open(directory, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    package func read(_ name: String) throws -> [UInt8] {
        guard let sealed = FileManager.default.contents(atPath: directory + "/" + name) else { throw LinliError.notFound }
        return try cipher.open(bytes: [UInt8](sealed))
    }
}
