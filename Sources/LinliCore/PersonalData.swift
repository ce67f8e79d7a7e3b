@preconcurrency import Crypto
import Foundation

/// Encrypts personal data at rest (AES-GCM) and keeps an HMAC of the normalised value so that an
/// exact value can still be found. Two keys derived from one master key, so one secret to keep.
public struct PersonalDataCipher: Sendable {
    package let encryptionKey: SymmetricKey
    /// The index key already absorbed: copying this value is cheaper than keying an HMAC per lookup.
    package let keyedIndex: HMAC<SHA256>

    public init(masterKey: SymmetricKey) {
        encryptionKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("linli-pd-enc".utf8), outputByteCount: 32)
        let indexKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("linli-pd-idx".utf8), outputByteCount: 32)
        keyedIndex = HMAC<SHA256>(key: indexKey)
    }

    /// Base64 of nonce‖ciphertext‖tag.
    public func seal(_ plain: String) throws -> String {
        let box = try AES.GCM.seal(Data(plain.utf8), using: encryptionKey)
        return box.combined!.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw LinliError(.internalServerError, code: "corrupt_personal_data", message: "个人信息密文损坏") }
        let box = try AES.GCM.SealedBox(combined: data)
        return String(decoding: try AES.GCM.open(box, using: encryptionKey), as: UTF8.self)
    }

    /// Bytes sealed the same way (a photo of someone's papers): nonce‖ciphertext‖tag.
    public func seal(bytes: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.seal(bytes, using: encryptionKey).combined!)
    }

    public func open(bytes sealed: [UInt8]) throws -> [UInt8] {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return Array(try AES.GCM.open(box, using: encryptionKey))
    }

    /// Hex HMAC-SHA256 of a normalised value, namespaced by kind so an ID and a phone never collide.
    public func index(_ kind: String, _ normalised: String) -> String {
        var hmac = keyedIndex
        hmac.update(data: Array((kind + ":" + normalised).utf8))
        return Hex.encode(hmac.finalize())
    }

    /// Reads the master key from a base64 string (32 bytes).
    public static func masterKey(base64: String) throws -> SymmetricKey {
        guard let d = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), d.count == 32 else {
            throw LinliError(.internalServerError, code: "bad_key", message: "LINLI_DATA_KEY must be 32 bytes in base64")
        }
        return SymmetricKey(data: d)
    }
}

package enum Hex {
    package static let digits = Array("0123456789abcdef".utf8)
    package static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
