import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files that hold secrets or personal data (the data key, API keys, demo passwords, exports).
public enum LinliFiles {
    /// Writes `bytes` to `path` readable and writable by the owner only (0600) from the moment the
    /// file exists: it is created with that mode, and an existing file is narrowed before it is
    /// truncated, so no other account ever reads a byte of it. Flushed to disk before returning.
    public static func writePrivate(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LinliError(.internalServerError, code: "write_failed", message: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0, ftruncate(fd, 0) == 0 else {
            throw LinliError(.internalServerError, code: "write_failed", message: "cannot secure \(path): \(String(cString: strerror(errno)))")
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            guard n > 0 else { throw LinliError(.internalServerError, code: "write_failed", message: "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += n
        }
        fsync(fd)
    }

    public static func writePrivate(_ text: String, to path: String) throws { try writePrivate(Array(text.utf8), to: path) }
}
