import Foundation
import Logging
import NIOCore
import PostgresKit
import SQLKit

/// A cell of a row written in bulk (the demo street's registry).
package enum BulkValue: Sendable, Equatable {
    case int(Int64), float(Double), text(String), null

    /// The cell in COPY's text format: NULL as `\N`; in text, the backslash and the characters
    /// that would end a cell or a row (tab, newline, carriage return) escaped with a backslash,
    /// as the format requires (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format").
    package var copyText: String {
        switch self {
        case .null: return "\\N"
        case .int(let n): return String(n)
        // The shortest text that reads back as the same double.
        case .float(let d): return "\(d)"
        case .text(let s):
            // By scalar: "\r\n" is one Character in Swift, and neither "\r" nor "\n".
            guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\t" || $0 == "\n" || $0 == "\r" }) else { return s }
            var out = String.UnicodeScalarView()
            for c in s.unicodeScalars {
                switch c {
                case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
                case "\t": out.append(contentsOf: "\\t".unicodeScalars)
                case "\n": out.append(contentsOf: "\\n".unicodeScalars)
                case "\r": out.append(contentsOf: "\\r".unicodeScalars)
                default: out.append(c)
                }
            }
            return String(out)
        }
    }

    /// One row: its cells in COPY's text format, tab-separated, ending with a newline.
    package static func copyLine(_ row: [BulkValue]) -> String {
        row.map(\.copyText).joined(separator: "\t") + "\n"
    }
}

extension PostgresStore {
    /// A transaction whose body may also COPY rows in on the transaction's own connection:
    /// COPY takes many rows for the work of a few INSERTs, so a city's registry loads in
    /// minutes. `copy(table, columns, rows)`; table and column names are the caller's constants.
    package func copyTransaction<T: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase, _ copy: @escaping @Sendable (String, [String], [[BulkValue]]) async throws -> Void) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { conn in
            let db = conn.sql()
            try await db.raw("BEGIN").run()
            do {
                let result = try await body(db) { table, columns, rows in
                    guard !rows.isEmpty else { return }
                    try await conn.copyFrom(table: table, columns: columns, logger: logger) { writer in
                        var buffer = ByteBuffer()
                        buffer.reserveCapacity(1 << 17)
                        for row in rows {
                            buffer.writeString(BulkValue.copyLine(row))
                            if buffer.readableBytes >= 1 << 16 {
                                try await writer.write(buffer)
                                buffer.clear()
                            }
                        }
                        if buffer.readableBytes > 0 { try await writer.write(buffer) }
                    }
                }
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }
}
