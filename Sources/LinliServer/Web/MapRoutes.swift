import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Leaflet and Chart.js as Debian packages them (libjs-leaflet, libjs-chart.js), served by the
/// app itself so that no page loads a script from another site, and the map's settings.
struct MapRoutes {
    let config: AppConfig

    /// Files read once at start; a missing package leaves its routes answering 404 and the pages
    /// falling back (the map to its own drawing, a chart to its table).
    static func files(_ dir: String) -> [(String, String, [UInt8])] {
        let wanted: [(String, String, String)] = [
            ("/static/leaflet/leaflet.js", "leaflet/leaflet.min.js", "text/javascript; charset=utf-8"),
            ("/static/leaflet/leaflet.css", "leaflet/leaflet.css", "text/css; charset=utf-8"),
            ("/static/chart.js", "chart.js/chart.min.js", "text/javascript; charset=utf-8"),
        ]
        return wanted.compactMap { route, file, type in
            FileManager.default.contents(atPath: dir + "/" + file).map { (route, type, Array($0)) }
        }
    }

    /// The map's settings as a script (no inline script is allowed): tiles, their coordinate
    /// system and credit.
    static func settingsScript(_ c: AppConfig) -> String {
        func js(_ s: String?) -> String {
            guard let s else { return "null" }
            return JSON.string(s)
        }
        return "window.LinliMapSettings = {tiles: \(js(c.tileURL)), crs: \(js(c.tileCRS)), attribution: \(js(c.tileAttribution))};\n"
    }

    func register(_ r: Routes) {
        for (route, type, bytes) in Self.files(config.scriptDirectory) {
            r.get(route, .open) { _, _ in
                Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=86400"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        let settings = Self.settingsScript(config)
        r.get("/static/map-settings.js", .open) { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(string: settings)))
        }
    }
}
