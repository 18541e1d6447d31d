from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.core.auth import Role
from scipass.core.inputs import Id, RequestModel


class WeChatLogin(RequestModel):
    code: str = Field(min_length=1, max_length=128, description="`wx.login` 返回的 code")


class StaffLogin(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class Tokens(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="访问令牌有效秒数")
    refresh_token: str = Field(description="刷新令牌：只能使用一次，每次刷新返回新的")
    refresh_expires_in: int
    role: Role
    password_change_required: bool = False
    new_user: bool = Field(default=False, description="微信登录：首次登录的用户")


class PasswordChange(RequestModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class AccountCreate(RequestModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=50)
    role: Role
    org_id: Id | None = Field(
        default=None, description="学校、场馆或教育局的 id；单位管理员创建时忽略，使用本单位"
    )


class AccountRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    school_id: int | None
    venue_id: int | None
    bureau_id: int | None
    is_active: bool
    must_change_password: bool
    created_at: datetime


class AccountCreated(AccountRead):
    initial_password: str = Field(description="初始密码，只显示这一次；首次登录后须修改")


class MyStudent(BaseModel):
    id: int
    school_id: int
    school_name: str
    name: str
    grade_label: str
    class_name: str
    birth_month: str = Field(description="出生年月 YYYY-MM", examples=["2016-03"])
    under_14: bool


class Me(BaseModel):
    subject: str
    role: Role
    account: AccountRead | None = None
    student: MyStudent | None = None
    children: list[MyStudent] = Field(default_factory=list)
