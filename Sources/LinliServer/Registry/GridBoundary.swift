import Foundation
import LinliCore

/// A grid's boundary as the community draws it on the map (or types it from a survey): a closed
/// ring of points, latitude and longitude in WGS-84 as every place's point is stored. Plain
/// rules, no I/O.
public enum GridBoundary {
    public static let pointsMax = 200

    /// Points typed one per line, "latitude, longitude" (a comma, a Chinese comma or spaces
    /// between); empty lines are skipped. Nil, with the line named, when a line is not two numbers.
    public static func parse(_ text: String) -> (points: [[Double]]?, badLine: Int?) {
        var out: [[Double]] = []
        // A browser sends a text box's lines as CRLF, one Character in Swift: split on any newline.
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parts = line.split(whereSeparator: { $0 == "," || $0 == "，" || $0 == " " || $0 == "\t" }).map(String.init)
            guard parts.count == 2, let lat = Double(parts[0]), let lng = Double(parts[1]) else { return (nil, i + 1) }
            out.append([lat, lng])
        }
        return (out, nil)
    }

    /// The boundary as stored: one "lat,lng" pair per point, six decimals (about 0.1 m).
    public static func text(_ points: [[Double]]) -> String {
        points.map { String(format: "%.6f,%.6f", $0[0], $0[1]) }.joined(separator: "\n")
    }

    /// Checks a ring: 3 to 200 points on the globe, no two in a row the same, some area, and no
    /// edge crossing another (a figure eight is two grids, or a slip of the finger).
    public static func check(_ points: [[Double]], field: String, _ v: inout Validator) {
        guard points.count >= 3 else { return v.add(.invalid(field, "too_few", "边界至少要有 3 个点")) }
        guard points.count <= pointsMax else { return v.add(.invalid(field, "too_many", "边界最多 \(pointsMax) 个点")) }
        for (i, p) in points.enumerated() {
            guard p.count == 2, p[0].isFinite, p[1].isFinite, (-90...90).contains(p[0]), (-180...180).contains(p[1]) else {
                return v.add(.invalid(field, "out_of_range", "第 \(i + 1) 个点的坐标不对：纬度应在 -90 到 90，经度在 -180 到 180"))
            }
        }
        for i in points.indices where points[i] == points[(i + 1) % points.count] {
            return v.add(.invalid(field, "repeated_point", "第 \(i + 1) 个点和下一个点重合"))
        }
        // Crossing first: a symmetric bow tie's signed area is nil too, and the crossing is what to fix.
        if let (a, b) = firstCrossing(points) {
            return v.add(.invalid(field, "self_crossing", "第 \(a + 1) 条边和第 \(b + 1) 条边交叉，请按顺序沿边界点选"))
        }
        guard abs(area(points)) > 1e-12 else { return v.add(.invalid(field, "no_area", "这些点在一条线上，围不出一块区域")) }
    }

    /// Twice the signed area in degrees² (the shoelace formula); only its being zero matters here.
    static func area(_ p: [[Double]]) -> Double {
        var s = 0.0
        for i in p.indices { let j = (i + 1) % p.count; s += p[i][1] * p[j][0] - p[j][1] * p[i][0] }
        return s
    }

    /// The first two edges of the ring (edge i runs from point i to point i+1) that cross or
    /// touch, neighbours excepted; nil when it is a simple polygon. At most 200 points: the
    /// quadratic walk is 20,000 tests.
    static func firstCrossing(_ p: [[Double]]) -> (Int, Int)? {
        let n = p.count
        for i in 0..<n {
            for j in (i + 2)..<max(i + 2, n) where !(i == 0 && j == n - 1) {
                if segmentsMeet(p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]) { return (i, j) }
            }
        }
        return nil
    }

    static func segmentsMeet(_ a: [Double], _ b: [Double], _ c: [Double], _ d: [Double]) -> Bool {
        func orient(_ p: [Double], _ q: [Double], _ r: [Double]) -> Double { (q[1] - p[1]) * (r[0] - p[0]) - (q[0] - p[0]) * (r[1] - p[1]) }
        func within(_ p: [Double], _ q: [Double], _ r: [Double]) -> Bool {
            min(p[0], q[0]) <= r[0] && r[0] <= max(p[0], q[0]) && min(p[1], q[1]) <= r[1] && r[1] <= max(p[1], q[1])
        }
        let d1 = orient(c, d, a), d2 = orient(c, d, b), d3 = orient(a, b, c), d4 = orient(a, b, d)
        if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) { return true }
        return (d1 == 0 && within(c, d, a)) || (d2 == 0 && within(c, d, b)) || (d3 == 0 && within(a, b, c)) || (d4 == 0 && within(a, b, d))
    }
}
