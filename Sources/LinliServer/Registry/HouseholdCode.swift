import CQRencode
import Foundation
import LinliCore
import LinliStore

/// Renders a household code's URL as a QR code (libqrencode) in SVG, so it prints sharply at any size.
enum QRCode {
    static func svg(_ text: String, moduleSize: Int = 8) -> String? {
        guard let qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(qr) }
        let width = Int(qr.pointee.width)
        let quiet = 4
        let size = (width + 2 * quiet) * moduleSize
        var path = ""
        for y in 0..<width {
            for x in 0..<width where qr.pointee.data[y * width + x] & 1 == 1 {
                path += "M\((x + quiet) * moduleSize),\((y + quiet) * moduleSize)h\(moduleSize)v\(moduleSize)h-\(moduleSize)z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(size) \(size)" width="\(size)" height="\(size)" role="img" aria-label="QR">\
            <rect width="100%" height="100%" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }
}

/// What a household card's QR code or a hand-held scanner gives: the card's address
/// (`…/h/CODE`) or the code itself, possibly with spaces around. The code alone.
package enum ScannedCode {
    package static func code(_ raw: String) -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let r = text.range(of: "/h/", options: .backwards) else { return text }
        return String(text[r.upperBound...])
    }
}
