import Foundation

/// Distances on the ground between WGS-84 points.
public enum Geo {
    /// Metres between two points along the ground (haversine, the Earth as a sphere of 6,371 km:
    /// within half a percent, enough for a walk or a patrol's length).
    public static func metres(_ lat1: Double, _ lng1: Double, _ lat2: Double, _ lng2: Double) -> Double {
        let r = Double.pi / 180
        let dLat = (lat2 - lat1) * r, dLng = (lng2 - lng1) * r
        let sLat = sin(dLat / 2), sLng = sin(dLng / 2)
        let h: Double = sLat * sLat + cos(lat1 * r) * cos(lat2 * r) * sLng * sLng
        return 2 * 6_371_000 * asin(min(1, sqrt(h)))
    }
}
