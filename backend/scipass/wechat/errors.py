from scipass.core.errors import Forbidden, RateLimited, ServiceUnavailable, Unauthorized


class WeChatCodeInvalid(Unauthorized):
    code = "wechat_code_invalid"
    title_zh = "微信登录凭证无效或已使用，请重新登录"
    title_en = "The WeChat login code is invalid or used"


class WeChatRateLimited(RateLimited):
    code = "wechat_rate_limited"
    title_zh = "微信登录过于频繁，请稍后再试"
    title_en = "WeChat login rate limit reached"


class WeChatUserBlocked(Forbidden):
    code = "wechat_user_blocked"
    title_zh = "该微信账号被微信安全策略拦截，暂时无法登录"
    title_en = "WeChat risk control blocked this user"


class WeChatUnavailable(ServiceUnavailable):
    code = "wechat_unavailable"
    title_zh = "微信服务暂时不可用，请稍后再试"
    title_en = "WeChat is unavailable"
