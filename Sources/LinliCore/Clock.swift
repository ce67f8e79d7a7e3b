import Foundation
import NIOConcurrencyHelpers

/// Injected time and randomness so that tests are deterministic.
public struct Env: Sendable {
    public var now: @Sendable () -> Date
    public var randomBytes: @Sendable (Int) -> [UInt8]

    public init(now: @escaping @Sendable () -> Date, randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.now = now
        self.randomBytes = randomBytes
    }

    public static let live = Env(
        now: { Date() },
        randomBytes: { n in
            var g = SystemRandomNumberGenerator()
            return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
        })

    public var nowSeconds: Int64 { Int64(now().timeIntervalSince1970) }

    /// An unguessable URL-safe token (base32, lowercase, no padding).
    public func token(bytes: Int = 20) -> String { Base32.encode(randomBytes(bytes)) }
}

public enum Base32 {
    package static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = ""
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return out
    }
}

/// Wall time of a piece of work, for the benchmark commands (never for timed tests).
public enum Stopwatch {
    public static func milliseconds<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try await body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
}

/// A clock that reads the real time unless it has been set: the demo generator sets it while it
/// writes a year of history through the use cases (each step at its own moment), then lets go.
public final class DemoClock: Sendable {
    private let box = NIOLockedValueBox<Date?>(nil)
    public init() {}
    public var now: Date { box.withLockedValue { $0 } ?? Date() }
    /// Sets the time (nil: the real time again).
    public func set(_ date: Date?) { box.withLockedValue { $0 = date } }
    public var env: Env { Env(now: { [self] in now }, randomBytes: Env.live.randomBytes) }
}
