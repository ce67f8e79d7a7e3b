import Foundation
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

@Suite struct IdentityNumberTests {
    @Test func acceptsTheStandardExample() {
        #expect(IDNumber.validate("11010519491231002X") == nil)
        #expect(IDNumber.validate("11010519491231002x") == nil)
        #expect(IDNumber.birthDate(of: "11010519491231002X") == "1949-12-31")
        #expect(!IDNumber.isMale("11010519491231002X"))
    }
    @Test func rejectsWrongCheckDigitFormatAndDate() {
        #expect(IDNumber.validate("110105194912310021") == .checkDigit)
        #expect(IDNumber.validate("1101051949123100") == .format)
        #expect(IDNumber.validate("11010519491331002X") == .birthDate)
        #expect(IDNumber.validate("11010519490230002X") == .birthDate)
        #expect(IDNumber.validate("A1010519491231002X") == .format)
    }
    @Test func phonesAreValidatedAndMasked() {
        #expect(PhoneNumber.isValid("13812345678"))
        #expect(PhoneNumber.isValid("+86 138-1234-5678"))
        #expect(!PhoneNumber.isValid("12812345678"))
        #expect(!PhoneNumber.isValid("1381234567"))
        #expect(PhoneNumber.masked("13812345678") == "138****5678")
        #expect(IDNumber.masked(last4: "002X") == "**************002X")
    }
    /// Numbers a community posts for the public: a landline with its area code, a mobile, a hotline.
    @Test func publicPhonesAreDialable() {
        #expect(PublicPhone.dialable("0571-8888 6666") == "057188886666")
        #expect(PublicPhone.dialable("（0571）88886666") == "057188886666")
        #expect(PublicPhone.dialable("+86 138-1234-5678") == "13812345678")
        #expect(PublicPhone.dialable("12345") == "12345")
        #expect(PublicPhone.dialable("1234") == nil)            // too short to be any line
        #expect(PublicPhone.dialable("0571-8888 66661") == nil) // 13 digits
        #expect(PublicPhone.dialable("转 8001") == nil)          // words are not a number
    }
    @Test func demoIDNumbersAreValidAndFitTheAge() {
        var rng = SeededRandom(seed: 9)
        var used = Set<String>()
        for age in [0, 5, 13, 40, 79, 95] {
            let id = DemoGenerator.idNumber(&rng, age: age, male: age % 2 == 0, used: &used)
            #expect(IDNumber.validate(id) == nil)
            let year = Int(id.dropFirst(6).prefix(4))!
            #expect((DemoGenerator.referenceYear - age - 1)...(DemoGenerator.referenceYear - age) ~= year)
            #expect(IDNumber.isMale(id) == (age % 2 == 0))
        }
    }
}

@Suite struct AgeTests {
    /// Ages are counted on China's calendar date, computed without Foundation's Calendar; they
    /// agree with it on birthdays, leap days and either side of midnight in Beijing.
    @Test func agreesWithFoundationsCalendarInBeijing() {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let births = ["1949-12-31", "2000-02-29", "1990-06-15", "2024-01-01", "1936-03-01"]
        var now = Date(timeIntervalSince1970: 1_700_000_000)
        for _ in 0..<400 {
            for b in births {
                let p = b.split(separator: "-").map { Int($0)! }
                let c = cal.dateComponents([.year, .month, .day], from: now)
                var expected = c.year! - p[0]
                if (c.month!, c.day!) < (p[1], p[2]) { expected -= 1 }
                #expect(RegistryService.age(birth: b, now: now) == max(0, expected), "\(b) at \(now)")
            }
            now += 86_400 * 3 + 3_600 * 7 + 13  // walks across hours of the day and every month
        }
    }
}

@Suite struct PersonalDataTests {
    let cipher = PersonalDataCipher(masterKey: try! PersonalDataCipher.masterKey(base64: Data(repeating: 7, count: 32).base64EncodedString()))

    @Test func sealsAndOpens() throws {
        let sealed = try cipher.seal("11010519491231002X")
        #expect(!sealed.contains("1101051949"))
        #expect(try cipher.open(sealed) == "11010519491231002X")
        #expect(try cipher.seal("x") != cipher.seal("x"), "fresh nonce each time")
    }
    @Test func indexIsStableAndNamespaced() {
        #expect(cipher.index("phone", "13812345678") == cipher.index("phone", "13812345678"))
        #expect(cipher.index("phone", "13812345678") != cipher.index("id", "13812345678"))
    }
}

@Suite struct RegistryRuleTests {
    @Test func placeLevels() {
        #expect(PlaceKind.building.canBeChild(of: .compound))
        #expect(PlaceKind.villagerGroup.canBeChild(of: .village))
        #expect(!PlaceKind.unit.canBeChild(of: .compound))
        #expect(PlaceKind.city.canBeChild(of: nil))
    }
    @Test func requestInputDecodesTheKeysGiven() throws {
        let json = #"{"category":"noise","description":"楼下很吵","household_id":5,"lat":30.5,"lng":null,"public_details":true,"attributes":{"floor":"3"},"idempotency_key":"k1","other":1}"#
        let i = try JSONDecoder().decode(RequestInput.self, from: Data(json.utf8))
        #expect(i.category == "noise" && i.description == "楼下很吵" && i.householdID == 5 && i.placeID == nil)
        #expect(i.lat == 30.5 && i.lng == nil && i.publicDetails == true && i.attributes == ["floor": "3"] && i.idempotencyKey == "k1")
        #expect(i.urgency == nil && i.channel == nil && i.contactName == nil && i.contactPhone == nil && i.address == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RequestInput.self, from: Data(#"{"household_id":"x"}"#.utf8)) }
    }
    @Test func trimmingAgreesWithFoundation() {
        for text in ["", "   ", "a", " a ", "\u{3000}楼下很吵\n", "楼下很吵", "\u{85}x\u{2028}", "a\u{200B}", "\t\r\n电梯\u{A0}", "x y"] {
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.unicodeScalars.map(\.value))")
        }
        // Every scalar of the basic plane (all white space lies there) around text, against Foundation's set.
        for v in 0...0xFFFF {
            guard let u = Unicode.Scalar(v) else { continue }
            let text = String(u) + "x" + String(u)
            if text.trimmingWhitespace() != text.trimmingCharacters(in: .whitespacesAndNewlines) { Issue.record("U+\(String(v, radix: 16))"); break }
        }
    }
    @Test func pathsGiveTheirIDsInOrder() {
        #expect(PlacePath.ids("/1/2/30/560/") == [1, 2, 30, 560])
        #expect(PlacePath.ids("/7") == [7])
        #expect(PlacePath.ids("") == [])
        #expect(PlacePath.ids("/1//x2/3/") == [1, 3])
    }
    @Test func areasAreExactHundredths() {
        #expect(RegistryService.parseArea("89.5") == 8950)
        #expect(RegistryService.parseArea("120") == 12000)
        #expect(RegistryService.parseArea("0") == nil)
        #expect(RegistryService.parseArea("1.234") == nil)
        #expect(RegistryService.parseArea("abc") == nil)
        #expect(RegistryService.formatArea(centi: 13056) == "130.56")
        #expect(RegistryService.formatArea(centi: 8905) == "89.05")
        #expect(RegistryService.formatArea(centi: 12000) == "120.00")
        #expect(RegistryService.formatArea(centi: 7) == "0.07")
    }
    @Test func residentInputNamesEachBadField() {
        let input = ResidentInput(householdID: 1, name: "", idNumber: "110105194912310021", phone: "123", registration: "x", relation: "owner")
        do {
            _ = try input.validate(creating: true)
            Issue.record("expected errors")
        } catch let e as ValidationErrors {
            #expect(Set(e.errors.compactMap(\.field)) == ["name", "id_number", "phone", "registration"])
        } catch { Issue.record("\(error)") }
    }
    @Test func csvReaderKeepsLineNumbersQuotesAndBOM() {
        let r = CSVReader.parse("\u{FEFF}a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",2\n3,4\n")
        #expect(r.map(\.line) == [1, 2, 3, 5])
        #expect(r[1].fields == ["x,1", "say \"hi\""])
        #expect(r[2].fields == ["multi\nline", "2"])
    }
    @Test func everyRoleHasAPermissionRow() {
        for role in Role.allCases { #expect(PermissionTable.actions[role] != nil) }
    }
    /// The bit masks `may` reads agree with the table, case by case (and the cases' positions are
    /// what the masks assume).
    @Test func permissionMasksMatchTheTable() {
        #expect(Action.allCases.count <= 64)
        #expect(Role.allCases.enumerated().allSatisfy { $0.offset == $0.element.position })
        #expect(Action.allCases.enumerated().allSatisfy { $0.offset == $0.element.position })
        for role in Role.allCases {
            for action in Action.allCases {
                #expect(PermissionTable.allows(role, action) == PermissionTable.actions[role]!.contains(action), "\(role) \(action)")
            }
        }
    }
    @Test func scopeRules() {
        let grid = RoleGrant(role: .gridWorker, placeID: 4, placePath: "/1/2/3/4/", gridID: 10, householdID: nil)
        let a = Actor(userID: 1, username: "g", displayName: "g", grants: [grid])
        #expect(a.may(.householdView, on: ObjectScope(path: "/1/2/3/4/5/", gridIDs: [10, 11], householdID: 9)))
        #expect(!a.may(.householdView, on: ObjectScope(path: "/1/2/3/4/5/", gridIDs: [12, 13], householdID: 9)))
        #expect(a.may(.placeView, on: ObjectScope(path: "/1/2/3/4/5/")))
        #expect(!a.may(.placeView, on: ObjectScope(path: "/1/2/3/44/")))
        #expect(!a.may(.auditView, on: ObjectScope(path: "/1/2/3/4/")))
    }
}

@Suite struct IdentityNumberSpeedupTests {
    /// The byte-wise check digit and birth date agree with the rules written out by hand.
    @Test func checkDigitAndBirthDateFromBytes() {
        #expect(IDNumber.checkCharacter(for: "11010519491231002") == "X")
        #expect(IDNumber.checkCharacter(for: "1101051949123100") == nil, "too short")
        #expect(IDNumber.checkCharacter(for: "110105194912310021") == nil, "too long")
        #expect(IDNumber.checkCharacter(for: "1101051949123100a") == nil)
        #expect(IDNumber.checkCharacter(for: "１１０１０５１９４９１２３１００２") == nil, "full-width digits are not an ID number")
        #expect(IDNumber.birthDate(of: "11010519491231002X") == "1949-12-31")
        #expect(IDNumber.birthDate(of: "11010520000229002X") == "2000-02-29")
        #expect(IDNumber.birthDate(of: "11010519000229002X") == nil, "1900 was no leap year")
        #expect(IDNumber.birthDate(of: "11010519491301002X") == nil)
        #expect(IDNumber.birthDate(of: "1101051949") == nil)
    }

    /// The keyed HMAC state is copied per lookup, never shared: the same value gives the same index.
    @Test func indexIsAStableKeyedHMAC() throws {
        let cipher = PersonalDataCipher(masterKey: try PersonalDataCipher.masterKey(base64: Data(repeating: 7, count: 32).base64EncodedString()))
        let a = cipher.index("phone", "13812345678"), b = cipher.index("id", "11010519491231002X")
        #expect(a == cipher.index("phone", "13812345678") && b == cipher.index("id", "11010519491231002X") && a != b)
        // HMAC-SHA256 under HKDF(master, info "linli-pd-idx"), computed independently with Python's hmac module.
        #expect(a == "dba1e1634fbee7cd31af68b281ed6b5ef2028626dbeb0df6e2ef629468406fde")
    }
}

/// The SMS providers' reply callbacks, read by worked examples of each documented shape.
@Suite struct SMSInboundTests {
    @Test func eachProvidersShapeGivesPhoneAndText() throws {
        let tencent = #"{"extend":"","mobile":"13900001111","nationcode":"86","sign":"邻里","text":"收到 4821","time":1457336869}"#
        #expect(try SMSInbound.replies(.tencent, body: Array(tencent.utf8)) == [.init(phone: "13900001111", text: "收到 4821")])
        let aliyun = #"[{"phone_number":"8613900001111","content":"4821","send_time":"2017-09-01 00:00:00","dest_code":"1234","sequence_id":1234567890},"#
            + #"{"phone_number":"13900002222","content":"好","send_time":"2017-09-01 00:00:01","dest_code":"1234","sequence_id":"1234567891"}]"#
        #expect(try SMSInbound.replies(.aliyun, body: Array(aliyun.utf8)) == [.init(phone: "13900001111", text: "4821"), .init(phone: "13900002222", text: "好")])
        #expect(try SMSInbound.replies(.generic, body: Array(#"{"phone":"+86 139-0000-1111","content":"4821"}"#.utf8)) == [.init(phone: "13900001111", text: "4821")])
        // One malformed element of a batch is skipped, never the batch (the provider would not resend it).
        let mixed = #"[{"phone_number":"13900001111","content":"4821"},{"phone_number":13900002222},"oops"]"#
        #expect(try SMSInbound.replies(.aliyun, body: Array(mixed.utf8)) == [.init(phone: "13900001111", text: "4821")])
        // A shape that is not the provider's is refused, naming the field the provider would fill.
        for (p, body, field) in [(SMSInbound.Provider.tencent, "[]", "text"), (.aliyun, "{}", "content"), (.generic, "nope", "content")] {
            do { _ = try SMSInbound.replies(p, body: Array(body.utf8)); Issue.record("\(p) took \(body)") }
            catch let e as LinliError { #expect(e.field == field) }
        }
    }

    @Test func mainlandNumbersLoseTheirCountryCodeAndOthersKeepIt() {
        #expect(SMSInbound.national("+8613900001111", countryCode: nil) == "13900001111")
        #expect(SMSInbound.national("008613900001111", countryCode: nil) == "13900001111")
        #expect(SMSInbound.national("13900001111", countryCode: "86") == "13900001111")
        #expect(SMSInbound.national("13900001111", countryCode: "+86") == "13900001111" && SMSInbound.national("13900001111", countryCode: "0086") == "13900001111")
        // An 11-digit number that happens to start with 86 is kept whole.
        #expect(SMSInbound.national("86123456789", countryCode: nil) == "86123456789")
        #expect(SMSInbound.national("91234567", countryCode: "852") == "+85291234567")
    }

    @Test func eachProviderHearsItsOwnSuccess() {
        #expect(String(decoding: SMSInbound.answer(.tencent, acknowledged: 0, received: 1), as: UTF8.self) == #"{"result":0,"errmsg":"OK"}"#)
        #expect(String(decoding: SMSInbound.answer(.aliyun, acknowledged: 1, received: 2), as: UTF8.self).hasPrefix(#"{"code":0"#))
        #expect(String(decoding: SMSInbound.answer(.generic, acknowledged: 1, received: 1), as: UTF8.self).contains(#""acknowledged":true"#))
    }
}
