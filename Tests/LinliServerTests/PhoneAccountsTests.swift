import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
@testable import LinliServer
@testable import LinliDeliberation
@testable import LinliServices
@testable import LinliOffices
import LinliApp
import LinliCore
import LinliStore

/// Registering by phone, the SMS provider, binding to a household, resetting a password.
@Suite struct PhoneAccountsTests {
    @Test func aliyunSignaturesMatchTheDocumentedExample() {
        // The worked example of Aliyun's RPC signature documentation (DescribeRegions, secret "testsecret").
        let params = ["AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
                      "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"]
        #expect(AliyunSMS.sign(params, method: "GET", secret: "testsecret").signature == "OLeaidS1JvxuMvnyHOwuJ+uX5qY=")
        #expect(AliyunSMS.percentEncode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9")
        #expect(SMSCodeRules.code([0, 0, 0, 7]) == "000007" && SMSCodeRules.code([255, 255, 255, 255]) == "967295")
    }

    /// A local stand-in for dysmsapi that checks each request's signature its own way (HMAC-SHA1
    /// of the documented string-to-sign, computed here from the raw form body) and answers as
    /// Aliyun does.
    @Test func aliyunRequestsAreSignedAsTheStandInChecks() async throws {
        let secret = "stand-in-secret"
        let seen = NIOLockedValueBox<[[String: String]]>([])
        let router = Router()
        router.post("/") { req, _ -> Response in
            let raw = String(buffer: try await req.body.collect(upTo: 65536))
            var form: [String: String] = [:]
            for pair in raw.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                form[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            let signature = form.removeValue(forKey: "Signature") ?? ""
            func enc(_ s: String) -> String {
                s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"))!
            }
            let canonical = form.keys.sorted().map { enc($0) + "=" + enc(form[$0]!) }.joined(separator: "&")
            let toSign = "POST&%2F&" + enc(canonical)
            let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Data(toSign.utf8), using: SymmetricKey(data: Data((secret + "&").utf8)))).base64EncodedString()
            guard signature == expected, form["Action"] == "SendSms", form["Version"] == "2017-05-25", form["SignatureMethod"] == "HMAC-SHA1",
                  form["Timestamp"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil else {
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched"}"#)))
            }
            seen.withLockedValue { $0.append(form) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"Code":"OK","Message":"OK","BizId":"1","RequestId":"x"}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let url = URL(string: "http://127.0.0.1:\(client.port!)/")!
            let good = AliyunSMS(endpoint: url, accessKeyID: "LTAI-test", accessKeySecret: secret, signName: "邻里社区", templates: [.register: "SMS_100", .reset: "SMS_200"], env: .live)
            try await good.sendCode("123456", to: "13812345678", purpose: .reset)
            let form = try #require(seen.withLockedValue { $0.first })
            #expect(form["PhoneNumbers"] == "13812345678" && form["TemplateCode"] == "SMS_200" && form["SignName"] == "邻里社区")
            #expect(form["TemplateParam"] == #"{"code":"123456"}"#)
            let forged = AliyunSMS(endpoint: url, accessKeyID: "LTAI-test", accessKeySecret: "wrong", signName: "邻里社区", templates: [:], env: .live)
            await expectCode("sms_failed") { try await forged.sendCode("123456", to: "13812345678", purpose: .register) }
        }
    }

    @Test(arguments: Backend.available)
    func aResidentRegistersByPhoneBindsToHerHouseholdAndResetsHerPassword(_ backend: Backend) async throws {
        let clock = TestClock("2026-12-05T02:00:00Z")
        try await withFixture(backend, clock: clock) { f in
            let a = f.linli.accounts
            let sms = try #require(a.sms as? LogSMS)
            let ids = try await f.ids()
            let staff = try await f.actor("community")
            // A resident of the household with her phone on record.
            let (residentID, code, last4) = try await f.linli.store.read { db in
                let r = try await db.raw("SELECT id, id_last4 FROM residents WHERE household_id = \(bind: ids.insideHousehold) ORDER BY id").first()!
                let h = try await db.raw("SELECT code FROM households WHERE id = \(bind: ids.insideHousehold)").first()!
                return (try r.decode(column: "id", as: Int64.self), try h.decode(column: "code", as: String.self), try r.decode(column: "id_last4", as: String.self))
            }
            let phone = "13912345678"
            _ = try await f.linli.registry.updateResident(residentID, ResidentInput(phone: phone), actor: staff)

            _ = try await a.requestSMSCode(phone: phone, purpose: .register, address: "10.0.0.1")
            let first = try #require(sms.lastCode(to: phone))
            await expectCode("too_soon") { _ = try await a.requestSMSCode(phone: phone, purpose: .register, address: "10.0.0.1") }
            await expectCode("invalid_phone") { _ = try await a.requestSMSCode(phone: "12345", purpose: .register, address: "10.0.0.1") }
            // Five wrong codes, and the right one no longer works either.
            let wrong = first == "000000" ? "111111" : "000000"
            for _ in 0..<5 {
                await expectCode("invalid_code") { _ = try await a.registerByPhone(phone: phone, code: wrong, displayName: "李阿姨", password: "a-long-password-1", communityPath: nil) }
            }
            await expectCode("invalid_code") { _ = try await a.registerByPhone(phone: phone, code: first, displayName: "李阿姨", password: "a-long-password-1", communityPath: nil) }
            clock.advance(hours: 0.05)
            _ = try await a.requestSMSCode(phone: phone, purpose: .register, address: "10.0.0.1")
            let community = try await f.linli.registry.communityPath(f.demo.firstCommunityID)
            let s = try await a.registerByPhone(phone: phone, code: try #require(sms.lastCode(to: phone)), displayName: "李阿姨", password: "a-long-password-1",
                                                communityPath: community)
            #expect(s.actor.grants.isEmpty && s.actor.displayName == "李阿姨")
            // The number signs in; it cannot register twice.
            #expect(try await a.login(username: phone, password: "a-long-password-1").actor.userID == s.actor.userID)
            clock.advance(hours: 0.05)
            _ = try await a.requestSMSCode(phone: phone, purpose: .register, address: "10.0.0.1")
            await expectCode("phone_registered") {
                _ = try await a.registerByPhone(phone: phone, code: sms.lastCode(to: phone)!, displayName: "x", password: "a-long-password-2", communityPath: nil)
            }

            let reg = f.linli.registry
            func bind(_ code: String, _ last4: String, ask: Bool = false, as actor: Actor) async throws -> BindOutcome {
                try await a.bind(askStaff: ask, actor: actor) { phone in try await reg.bindCandidate(code: code, last4: last4, phoneIndex: phone) }
            }
            // Another community's card, a wrong code, wrong digits: each refused, naming the field.
            let outsideCode = try await f.linli.store.read { db in
                try await db.raw("SELECT code FROM households WHERE id = \(bind: ids.outsideHousehold)").first()!.decode(column: "code", as: String.self)
            }
            await expectCode("other_community") { _ = try await bind(outsideCode, last4, as: s.actor) }
            await expectCode("invalid_code") { _ = try await bind("zzzzzzzz", last4, as: s.actor) }
            await expectCode("no_match") { _ = try await bind(code, last4 == "0000" ? "1111" : "0000", as: s.actor) }
            // Code (typed short, in capitals, with a dash), digits and phone agree: bound at once.
            let typed = RegistryService.shortCode(code)
            #expect(typed.count == 9 && typed.contains("-"))
            #expect(try await bind(typed, last4.lowercased(), as: s.actor) == .bound)
            let me = try await a.login(username: phone, password: "a-long-password-1").actor
            #expect(me.grants.contains { $0.role == .resident && $0.householdID == ids.insideHousehold && $0.residentID == residentID })

            // Someone whose phone is not on record: the office confirms.
            clock.advance(hours: 0.05)
            let other = "13700002222"
            _ = try await a.requestSMSCode(phone: other, purpose: .register, address: "10.0.0.2")
            let s2 = try await a.registerByPhone(phone: other, code: sms.lastCode(to: other)!, displayName: "李阿姨的女儿", password: "a-long-password-3", communityPath: nil)
            #expect(try await bind(code, last4, as: s2.actor) == .pending)
            await expectCode("already_pending") { _ = try await bind(code, last4, as: s2.actor) }
            let pending = try await a.bindRequests(actor: staff)
            let req = try #require(pending.first { $0.userID == s2.actor.userID })
            #expect(req.residentID == residentID && req.phone == "137****2222")
            // Another street's staff do not see it, and cannot decide it.
            let outsidePath = try await f.linli.store.read { db in
                try await db.raw("SELECT path FROM households WHERE id = \(bind: ids.outsideHousehold)").first()!.decode(column: "path", as: String.self)
            }
            let outsideCommunity = PlacePath.ids(outsidePath)[3]
            let outsider = Actor(userID: staff.userID, username: "other-office", displayName: "x",
                                 grants: [RoleGrant(role: .communityStaff, placeID: outsideCommunity, placePath: "/" + PlacePath.ids(outsidePath).prefix(4).map(String.init).joined(separator: "/") + "/")])
            #expect(try await a.bindRequests(actor: outsider).isEmpty)
            let lives: @Sendable (Int64, Int64) async throws -> Bool = { r, h in try await f.linli.registry.residentLives(r, in: h) }
            await expectCode("not_found") { try await a.decideBind(req.id, approve: true, residentID: nil, reason: nil, residentLives: lives, actor: outsider) }
            await expectCode("not_in_household") { try await a.decideBind(req.id, approve: true, residentID: ids.outsideResident, reason: nil, residentLives: lives, actor: staff) }
            try await a.decideBind(req.id, approve: true, residentID: nil, reason: nil, residentLives: lives, actor: staff)
            await expectCode("already_decided") { try await a.decideBind(req.id, approve: false, residentID: nil, reason: "重复", residentLives: lives, actor: staff) }
            #expect(try await a.login(username: other, password: "a-long-password-3").actor.grants.contains { $0.householdID == ids.insideHousehold })

            // Guessing is throttled: five failures, then even the right answer waits.
            clock.advance(hours: 0.05)
            let guesser = "13600003333"
            _ = try await a.requestSMSCode(phone: guesser, purpose: .register, address: "10.0.0.3")
            let s3 = try await a.registerByPhone(phone: guesser, code: sms.lastCode(to: guesser)!, displayName: "试", password: "a-long-password-4", communityPath: nil)
            for i in 0..<5 { await expectCode("invalid_code") { _ = try await bind("abcdefg\(i)", last4, as: s3.actor) } }
            await expectCode("throttled") { _ = try await bind(code, last4, as: s3.actor) }

            // A forgotten password: a code to the registered number only; the new one works, the old does not.
            clock.advance(hours: 0.05)
            let noAccount = try await a.requestSMSCode(phone: "13500004444", purpose: .reset, address: "10.0.0.4")
            #expect(sms.lastCode(to: "13500004444") == nil, "no account, no message")
            let withAccount = try await a.requestSMSCode(phone: phone, purpose: .reset, address: "10.0.0.4")
            #expect(noAccount == "验证码已发送至 135****4444，10 分钟内有效" && withAccount == "验证码已发送至 139****5678，10 分钟内有效", "the same answer either way")
            let resetCode = try #require(sms.lastCode(to: phone))
            await expectCode("weak_password") { try await a.resetPasswordBySMS(phone: phone, code: resetCode, password: "123") }
            try await a.resetPasswordBySMS(phone: phone, code: resetCode, password: "a-new-long-password-9")
            await expectCode("invalid_code") { try await a.resetPasswordBySMS(phone: phone, code: resetCode, password: "a-new-long-password-8") }
            #expect(try await a.login(username: phone, password: "a-new-long-password-9").actor.userID == s.actor.userID)
            await expectCode("bad_credentials") { _ = try await a.login(username: phone, password: "a-long-password-1") }
        }
    }

    @Test(arguments: Backend.available)
    func thePhoneFormsAndTheirAPITwinsWork(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            let built = try await buildApplication(f.linli, logger: Logger(label: "test"))
            let sms = try #require(f.linli.accounts.sms as? LogSMS)
            try await built.app.test(.router) { client in
                var res = try await client.execute(uri: "/register/phone", method: .get)
                #expect(res.status == .ok && res.body.text.contains("get-code"))
                let cookie = try #require(res.headers[values: .setCookie].first { $0.hasPrefix("linli_phone=") }?.split(separator: ";").first.map(String.init))
                let token = String(cookie.dropFirst("linli_phone=".count))
                // Without the cookie's token: refused, nothing sent.
                res = try await client.execute(uri: "/register/phone/code", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                               body: ByteBuffer(string: "phone=13811112222&_csrf=forged"))
                #expect(res.status == .forbidden && sms.lastCode(to: "13811112222") == nil)
                res = try await client.execute(uri: "/register/phone/code", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                                               body: ByteBuffer(string: "phone=13811112222&display_name=%E7%8E%8B&_csrf=\(token)"))
                #expect(res.status == .ok && res.body.text.contains("138****2222") && res.body.text.contains("value=\"13811112222\""))
                let code = try #require(sms.lastCode(to: "13811112222"))
                res = try await client.execute(uri: "/register/phone", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                                               body: ByteBuffer(string: "phone=13811112222&sms_code=\(code)&display_name=%E7%8E%8B&password=short&_csrf=\(token)"))
                #expect(res.status == .unprocessableContent && res.body.text.contains("password-error"))
                res = try await client.execute(uri: "/register/phone", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                                               body: ByteBuffer(string: "phone=13811112222&sms_code=\(code)&display_name=%E7%8E%8B&password=a-long-password-1&_csrf=\(token)"))
                #expect(res.status == .seeOther && res.headers[.location] == "/bind", "\(res.status) \(res.body.text.prefix(300))")
                // The API twins.
                res = try await client.execute(uri: "/api/v1/sms/code", method: .post, headers: [.contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"phone":"13833334444","purpose":"register"}"#))
                #expect(res.status == .accepted)
                res = try await client.execute(uri: "/api/v1/sms/code", method: .post, headers: [.contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"phone":"13833334444","purpose":"other"}"#))
                #expect(res.status == .unprocessableContent && res.body.text.contains("purpose"))
                res = try await client.execute(uri: "/api/v1/register/phone", method: .post, headers: [.contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"phone":"13833334444","sms_code":"\#(sms.lastCode(to: "13833334444")!)","display_name":"张","password":"a-long-password-1","community_id":\#(f.demo.firstCommunityID)}"#))
                #expect(res.status == .created)
                let bearer = try #require(res.body.text.firstMatch(of: /"token":"([^"]+)"/).map { String($0.1) })
                res = try await client.execute(uri: "/api/v1/bind", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(bearer)"],
                                               body: ByteBuffer(string: #"{"household_code":"nothing1","id_last4":"1234"}"#))
                #expect(res.status == .unprocessableContent && res.body.text.contains("household_code"))
                res = try await client.execute(uri: "/api/v1/binds", method: .get, headers: [.authorization: "Bearer \(bearer)"])
                #expect(res.status == .ok && res.body.text == "[]")
            }
        }
    }
}
