import Foundation
import MultipartKit
import NIOCore
import LinliCore
import LinliStore

/// One file of a `multipart/form-data` body. Only its bytes are trusted, never its name or type.
public struct UploadedFile: Sendable {
    public var field: String
    public var bytes: [UInt8]
}

enum Multipart {
    /// Largest multipart body accepted: six photos of the largest allowed size and the fields.
    static let maxBody = RequestLimits.photosMax * RequestLimits.photoBytesMax + 1024 * 1024

    static func boundary(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" { return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    /// Splits a body into text fields and files (parts sent with a filename).
    static func parse(_ buffer: ByteBuffer, boundary: String) throws -> (FormData, [UploadedFile]) {
        let parser = MultipartParser(boundary: boundary)
        var form = FormData()
        var files: [UploadedFile] = []
        var headers: [String: String] = [:]
        var body: [UInt8] = []
        parser.onHeader = { name, value in headers[name.lowercased()] = value }
        parser.onBody = { chunk in body += chunk.readBytes(length: chunk.readableBytes) ?? [] }
        parser.onPartComplete = {
            let disposition = headers["content-disposition"] ?? ""
            var name = "", filename: String?
            for item in disposition.split(separator: ";") {
                let kv = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                if kv[0] == "name" { name = value } else if kv[0] == "filename" { filename = value }
            }
            if filename != nil {
                // An empty file input still sends a part with no bytes; it is not a photo.
                if !body.isEmpty { files.append(UploadedFile(field: name, bytes: body)) }
            } else if !name.isEmpty {
                form.values[name, default: []].append(String(decoding: body, as: UTF8.self))
            }
            headers = [:]
            body = []
        }
        do { try parser.execute(buffer) } catch { throw LinliError.badRequest(nil, "表单格式不正确") }
        return (form, files)
    }
}
