/// The front door's and the resident home's text (zh, en), in the 您 register, with no terms of
/// law or process on a resident's screen.
enum HomeText {
    static let strings: [String: (String, String)] = [
        "front_title": ("邻里 · 社区服务平台", "Linli · your neighbourhood online"),
        "front_lead": ("反映问题、参与议事投票、参加志愿服务、查看社区公示，都在这里。", "Report a problem, take part in neighbourhood votes, volunteer, and see what your community publishes — all here."),
        "find_community": ("找到您的社区", "Find your community"), "community_name": ("社区或村的名称", "Community or village name"),
        "no_community_found": ("没有找到这个名称的社区，请少输入几个字再试。", "No community by that name; try fewer characters."),
        "sign_in_or_register": ("登录或注册", "Sign in or register"),
        "front_register_hint": ("第一次使用？用手机号注册，再绑定您家的户卡。", "New here? Register with your mobile number, then link your household card."),
        "contact_office": ("联系社区", "Contact the community office"), "office_address": ("地址", "Address"), "office_phone": ("电话", "Phone"),
        "office_hours": ("办公时间", "Opening hours"), "no_office_contact": ("社区尚未公布联系方式。", "The office has not posted its contacts yet."),
        "grid_workers": ("网格员", "Grid workers"), "no_grid_workers": ("社区尚未公布网格员。", "The community has not posted its grid workers yet."),
        "call": ("拨打", "Call"), "compound_notices": ("各小区公告", "Notices by compound"),
        "see_all": ("查看全部", "See all"), "public_open": ("正在办理的问题", "Being handled"),
        "home_greeting": ("您好，", "Hello, "), "tile_report": ("我要反映", "Report a problem"), "tile_report_hint": ("漏水、噪音、路灯坏了……", "A leak, noise, a broken light…"),
        "tile_mine": ("我的诉求", "My reports"), "tile_vote": ("去投票 · 议事", "Votes and discussions"),
        "tile_vote_none": ("目前没有需要您投票的事项。", "Nothing to vote on right now."), "tile_volunteer": ("志愿服务", "Volunteering"),
        "tile_volunteer_hint": ("报名服务，查看时长", "Sign up, see your hours"), "tile_community": ("社区公示", "Community notices"),
        "tile_community_hint": ("公告、办理情况、公开账目", "Notices, handling, public accounts"),
        "tile_grid": ("联系我的网格员", "Call my grid worker"), "tile_grid_none": ("社区尚未公布您所在网格的网格员。", "Your grid's worker has not been posted yet."),
        "mine_none": ("您还没有反映过问题。", "You have not reported anything yet."), "vote_now": ("去投票", "Vote"), "voted": ("已投票", "Voted"),
        "closes": ("截止", "Closes"), "my_household": ("我家信息", "My household"), "bind_first": ("您还没有绑定户卡，绑定后才能参与投票。", "Link your household card to take part in votes."),
        "posted_contacts": ("对外公布的联系方式", "Contacts posted for the public"),
        "posted_contacts_hint": ("这些信息会显示在社区公开页面上，居民不登录也能看到。全部留空即撤下。", "Shown on the community's public page to anyone, signed in or not. Leave all empty to take them down."),
        "grid_contact": ("对外公布的网格员", "Grid worker posted for the public"),
        "worker_name": ("网格员姓名", "Grid worker's name"), "work_phone": ("工作电话", "Work phone"),
        "flash_done": ("✓ 已完成。", "✓ Done."), "flash_saved": ("✓ 已保存。", "✓ Saved."),
        "flash_submitted": ("✓ 已提交。我们会尽快处理，进展会通知您。", "✓ Sent. We will handle it and keep you posted."),
        "flash_voted": ("✓ 您的投票已记录。截止前可以更改。", "✓ Your vote is recorded. You may change it until the vote closes."),
        "flash_rated": ("✓ 谢谢您的评价。", "✓ Thank you for your rating."), "flash_signed_up": ("✓ 报名成功。", "✓ You are signed up."),
        "flash_withdrawn": ("✓ 已撤回。", "✓ Withdrawn."),
        "public_page": ("社区公开页面", "Public page"), "menu": ("菜单", "Menu"), "skip_to_content": ("跳到正文", "Skip to content"),
    ]
    static let values: [String: (String, String)] = [:]
}
