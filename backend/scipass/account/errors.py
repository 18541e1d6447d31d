from scipass.core.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title_zh = "用户名或密码错误"
    title_en = "Wrong username or password"
    keep_writes = True  # the failure is counted and audited


class LoginRateLimited(RateLimited):
    code = "login_rate_limited"
    title_zh = "登录尝试过多，请稍后再试"
    title_en = "Too many login attempts"
    keep_writes = True


class RefreshTokenInvalid(Unauthorized):
    code = "refresh_token_invalid"
    title_zh = "登录已过期，请重新登录"
    title_en = "The refresh token is invalid or expired"


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    title_zh = "登录凭证已被使用过，为安全起见已退出所有相关登录，请重新登录"
    title_en = "A spent refresh token was presented; its sessions were revoked"
    keep_writes = True  # the family's revocation must stick


class PasswordWrong(BadRequest):
    code = "password_wrong"
    title_zh = "当前密码不正确"
    title_en = "The current password is wrong"
    keep_writes = True  # the failed attempt is audited


class PasswordWeak(BadRequest):
    code = "password_weak"
    title_zh = "新密码不符合要求"
    title_en = "The new password is too weak"


class UsernameTaken(Conflict):
    code = "username_taken"
    title_zh = "用户名已被使用"
    title_en = "Username taken"


class AccountScopeForbidden(Forbidden):
    code = "account_scope_forbidden"
    title_zh = "不能为其他单位或更高权限创建账号"
    title_en = "You cannot create that account"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title_zh = "账号不存在"
    title_en = "Account not found"
