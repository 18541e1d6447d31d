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


class ChildActions(BaseModel):
    """What a guardian may do for one child now (family mode; README "Families")."""

    may_act: bool = Field(
        description="能否代孩子操作：未满 14 周岁的孩子总可以；满 14 周岁且本人已绑定微信的，"
        "由孩子本人操作（`refused_code` 为 `child_acts_for_self`）"
    )
    refused_code: str | None = Field(description="不能代操作时的原因代码")
    check_in: bool = Field(description="扫码签到、签退（需“活动记录”同意）")
    location: bool = Field(description="签到时可提交位置（需“位置”同意；否则请工作人员扫码）")
    reserve: bool = Field(description="预约、取消预约（需“活动记录”同意）")
    confirm_records: bool = Field(description="确认记录、填写感想（标注“家长代填”）、撤回")
    upload_evidence: bool = Field(description="上传证明材料（需“照片”同意）")
    personal_code: bool = Field(description="在家长手机上出示孩子的个人码")


class MyChild(MyStudent):
    relation: str = Field(description="与孩子的关系")
    actions: ChildActions


class Me(BaseModel):
    subject: str
    role: Role
    account: AccountRead | None = None
    student: MyStudent | None = None
    children: list[MyChild] = Field(
        default_factory=list,
        description="家长绑定的孩子，以及现在能为每个孩子做什么；"
        "代孩子操作时在请求中带 `student_id`",
    )
