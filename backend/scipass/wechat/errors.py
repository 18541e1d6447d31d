from scipass.core.errors import (
    Forbidden,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)


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


class WeChatMisconfigured(ServiceUnavailable):
    """WeChat refused our appid, secret or server IP: an operator must fix the settings."""

    code = "wechat_misconfigured"
    title_zh = "微信服务配置有误，请联系管理员"
    title_en = "The WeChat integration is misconfigured"


class WeChatQuotaExceeded(RateLimited):
    """A WeChat API quota of the whole mini-program ran out (errcode 45009)."""

    code = "wechat_quota_exceeded"
    title_zh = "微信接口调用次数已达上限，请稍后再试"
    title_en = "The WeChat API quota is exhausted"


class WeChatNotConfigured(ServiceUnavailable):
    """Fake mode (development): there is no WeChat account to call."""

    code = "wechat_not_configured"
    title_zh = "未接入微信服务，暂不支持该功能"
    title_en = "WeChat is not configured"


class WxacodeSceneInvalid(ValidationFailed):
    code = "wxacode_scene_invalid"
    title_zh = "小程序码参数无效"
    title_en = "The mini-program code scene is invalid"


class WxacodePageInvalid(ServiceUnavailable):
    """The page is malformed, or not in the mini-program version asked for (errcode 41030)."""

    code = "wxacode_page_invalid"
    title_zh = "小程序页面无效或尚未发布，无法生成小程序码"
    title_en = "The mini-program page is invalid or not published"
