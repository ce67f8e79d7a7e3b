import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Text files as offices save them. Excel on a Chinese Windows saves "CSV" in GBK unless told
/// otherwise, so a file that is not UTF-8 is read as GB 18030 (a superset of GBK and GB 2312),
/// through the C library's iconv rather than a table of our own.
public enum TextDecoding {
    public enum Encoding: String, Sendable { case utf8 = "UTF-8", gb18030 = "GB18030" }

    /// The text and the encoding it was read in; nil when it is neither.
    public static func spreadsheetText(_ data: Data) -> (String, Encoding)? {
        if let s = String(validating: data, as: UTF8.self) { return (s, .utf8) }
        return convert(data, from: Encoding.gb18030.rawValue).map { ($0, .gb18030) }
    }

    /// Converts with iconv; nil on any byte sequence invalid in `from`.
    public static func convert(_ data: Data, from: String) -> String? {
        let cd = iconv_open("UTF-8", from)
        guard cd != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(cd) }
        var input = [UInt8](data)
        // A GB 18030 character of 2 or 4 bytes is at most 4 bytes of UTF-8.
        var output = [UInt8](repeating: 0, count: input.count * 2 + 4)
        let capacity = output.count
        var written = 0
        let ok = input.withUnsafeMutableBytes { ib -> Bool in
            output.withUnsafeMutableBytes { ob -> Bool in
                guard let ibase = ib.baseAddress, let obase = ob.baseAddress else { return true }
                var inPtr: UnsafeMutablePointer<CChar>? = ibase.assumingMemoryBound(to: CChar.self)
                var inLeft = ib.count
                var outPtr: UnsafeMutablePointer<CChar>? = obase.assumingMemoryBound(to: CChar.self)
                var outLeft = capacity
                let r = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                written = capacity - outLeft
                return r != -1 && inLeft == 0
            }
        }
        guard ok else { return nil }
        return String(validating: output[0..<written], as: UTF8.self)
    }
}
