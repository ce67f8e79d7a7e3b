/// Accounts' user-facing text (zh, en): registering by phone, resetting a password, binding to a household.
enum AccountsText {
    static let strings: [String: (String, String)] = [
        "register_phone": ("用手机号注册", "Register with your mobile number"),
        "register_phone_hint": ("输入手机号，点“获取验证码”，收到短信后填写验证码、您的称呼和密码。注册后再绑定您家的户卡。", "Enter your mobile number and tap \"Get code\"; then type the code from the text message, your name and a password. Afterwards, link your household card."),
        "reset_password": ("用短信找回密码", "Reset your password by text message"),
        "reset_hint": ("输入注册时用的手机号，点“获取验证码”，再设置新密码。设置后，其他设备上的登录会退出。", "Enter the number you registered with, tap \"Get code\", then choose a new password. Other devices will be signed out."),
        "mobile": ("手机号", "Mobile number"), "get_code": ("获取验证码", "Get code"), "sms_code": ("短信验证码（6 位数字）", "Code from the text (6 digits)"),
        "your_name": ("您的称呼（如：王阿姨）", "Your name (as neighbours know you)"),
        "forgot_password": ("忘记密码？", "Forgot your password?"), "password_was_reset": ("密码已重设，请用新密码登录。", "Your password has been reset; sign in with the new one."),
        "bind_household": ("绑定我家", "Link my household"),
        "bind_hint": ("请输入户卡上的户码（前 8 位即可），以及您本人证件号码的后四位。与社区登记的信息一致时立即绑定；不一致时由社区工作人员核实。", "Type the code on your household card (the first 8 characters are enough) and the last four characters of your ID number. If they match the community's records you are linked at once; otherwise the community office checks."),
        "household_code_typed": ("户码", "Household code"), "id_last4": ("证件号码后四位", "Last four of your ID number"),
        "ask_staff": ("信息对不上？请社区工作人员核实", "Doesn't match? Ask the community office to check"),
        "bind_sent": ("已提交，社区工作人员核实后即可使用。", "Sent. You can use it once the community office has checked."),
        "already_bound": ("您的账号已绑定到户。", "Your account is linked to a household."),
        "my_bind_requests": ("我的绑定申请", "My requests"), "bind_requests": ("待核实的绑定申请", "Household links to check"),
        "no_bind_requests": ("没有待核实的申请。", "Nothing to check."), "bind_approve": ("确认绑定", "Confirm"), "bind_refuse": ("不予绑定", "Refuse"),
        "refuse_reason": ("原因（申请人可以看到）", "Reason (the person sees it)"), "which_resident": ("是本户哪一位", "Which resident"),
        "register_by_invite": ("有邀请码？", "Have an invitation code?"), "or_phone": ("没有邀请码？", "No invitation code?"),
    ]
    static let values: [String: (String, String)] = [
        "bind_pending": ("待核实", "Waiting for the office"), "bind_approved": ("已绑定", "Linked"), "bind_refused": ("未通过", "Refused"),
    ]
}
