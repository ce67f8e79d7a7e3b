import NIOConcurrencyHelpers

/// Values kept in this process by key, behind one lock, for what the database stays the truth of
/// (the actors of tokens, look-alike texts, rendered layouts). Emptied whole when it would pass
/// its limit: simpler than evicting one by one, and refilling costs one read per key.
package final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let box = NIOLockedValueBox<[Key: Value]>([:])
    package let limit: Int

    package init(limit: Int) { self.limit = limit }

    package func get(_ key: Key) -> Value? { box.withLockedValue { $0[key] } }

    /// The value if `valid` says it still holds; otherwise it is dropped.
    package func get(_ key: Key, valid: (Value) -> Bool) -> Value? {
        box.withLockedValue { d in
            guard let v = d[key] else { return nil }
            guard valid(v) else { d[key] = nil; return nil }
            return v
        }
    }

    /// Those of `keys` that are kept.
    package func get(_ keys: [Key]) -> [Key: Value] {
        box.withLockedValue { d in
            var found: [Key: Value] = [:]
            for k in keys { if let v = d[k] { found[k] = v } }
            return found
        }
    }

    package func put(_ key: Key, _ value: Value) { put([key: value]) }

    package func put(_ entries: [Key: Value]) {
        guard !entries.isEmpty else { return }
        box.withLockedValue { d in
            if d.count + entries.count > limit { d.removeAll(keepingCapacity: true) }
            d.merge(entries) { $1 }
        }
    }

    package func remove(_ key: Key) { box.withLockedValue { _ = $0.removeValue(forKey: key) } }
    package func clear() { box.withLockedValue { $0.removeAll() } }
}
