"""Sign-in, tokens, staff accounts and "who am I"."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Response
from sqlmodel import Session

from scipass.account import service as account_service
from scipass.account.errors import (
    AccountScopeForbidden,
    InvalidCredentials,
    LoginRateLimited,
    PasswordWeak,
    PasswordWrong,
    RefreshTokenInvalid,
    RefreshTokenReused,
    UsernameTaken,
)
from scipass.account.models import Account
from scipass.account.schemas import (
    AccountCreate,
    AccountCreated,
    AccountRead,
    ChildActions,
    Me,
    MyChild,
    MyStudent,
    PasswordChange,
    RefreshRequest,
    StaffLogin,
    Tokens,
    WeChatLogin,
)
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import Role, public_access
from scipass.core.callers import AnyUser, OrgAdmin, PasswordChanger
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import ClientAddress, DatabaseDep, SettingsDep, WeChatDep
from scipass.core.errors import problem_responses
from scipass.core.pagination import Page, PageDep
from scipass.org import service as org_service
from scipass.org.errors import OrganisationNotFound
from scipass.roster import acting, importer
from scipass.roster import service as roster_service
from scipass.roster.models import Student
from scipass.wechat.errors import (
    WeChatCodeInvalid,
    WeChatRateLimited,
    WeChatUnavailable,
    WeChatUserBlocked,
)

public_router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["accounts"])


def _tokens(pair: account_service.TokenPair, **extra: bool) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        role=pair.principal.role,
        **extra,
    )


@public_router.post(
    "/wechat",
    name="auth-wechat",
    summary="微信登录",
    description="用 `wx.login` 的 code 换取访问令牌。首次登录后需绑定学生（或作为家长绑定孩子）。"
    "开发模式（`SCIPASS_WECHAT_MODE=fake`）接受 `dev-<名字>`。",
    responses=problem_responses(
        WeChatCodeInvalid, WeChatUserBlocked, WeChatRateLimited, LoginRateLimited, WeChatUnavailable
    ),
)
def wechat_login(
    body: WeChatLogin,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    wechat: WeChatDep,
    clock: ClockDep,
    address: ClientAddress,
) -> Tokens:
    pair, created = account_service.wechat_login(
        session, database, settings, wechat, code=body.code, client_ip=address, now=clock.now()
    )
    return _tokens(pair, new_user=created)


@public_router.post(
    "/login",
    name="auth-login",
    summary="工作人员登录",
    responses=problem_responses(InvalidCredentials, LoginRateLimited),
)
def staff_login(
    body: StaffLogin,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    clock: ClockDep,
    address: ClientAddress,
) -> Tokens:
    pair = account_service.login(
        session,
        database,
        settings,
        username=body.username,
        password=body.password,
        client_ip=address,
        now=clock.now(),
    )
    account = session.get(Account, pair.principal.account_id)
    return _tokens(pair, password_change_required=bool(account and account.must_change_password))


@public_router.post(
    "/refresh",
    name="auth-refresh",
    summary="刷新令牌",
    description="用刷新令牌换一对新令牌。每个刷新令牌只能用一次；重复使用会使该登录全部失效。",
    responses=problem_responses(RefreshTokenInvalid, RefreshTokenReused),
)
def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Tokens:
    return _tokens(
        account_service.refresh(session, settings, token=body.refresh_token, now=clock.now())
    )


@public_router.post(
    "/logout",
    name="auth-logout",
    summary="退出登录",
    status_code=204,
    responses=problem_responses(),
)
def logout(body: RefreshRequest, session: SessionDep, clock: ClockDep) -> Response:
    account_service.logout(session, token=body.refresh_token, now=clock.now())
    return Response(status_code=204)


@router.post(
    "/auth/password",
    name="auth-password-change",
    summary="修改密码",
    description="修改后该账号的所有刷新令牌失效，需重新登录。使用初始密码登录的账号，"
    "在修改密码前只能调用本接口和 `/me`（其余返回 403 `password_change_required`）。",
    status_code=204,
    responses=problem_responses(PasswordWrong, PasswordWeak, LoginRateLimited),
)
def change_password(
    body: PasswordChange,
    caller: PasswordChanger,
    session: SessionDep,
    database: DatabaseDep,
    clock: ClockDep,
) -> Response:
    account_service.change_password(
        session,
        database,
        actor=caller,
        current=body.current_password,
        new=body.new_password,
        now=clock.now(),
    )
    return Response(status_code=204)


@router.get(
    "/accounts",
    name="account-list",
    summary="本单位账号列表",
    responses=problem_responses(),
)
def list_accounts(caller: OrgAdmin, session: SessionDep, page: PageDep) -> Page[AccountRead]:
    return Page[AccountRead].sliced(
        [
            AccountRead.model_validate(a, from_attributes=True)
            for a in account_service.list_accounts(session, actor=caller)
        ],
        page,
    )


@router.post(
    "/accounts",
    name="account-create",
    summary="创建工作人员账号",
    description="平台管理员可为任何单位创建账号（包括单位的第一个管理员）；"
    "学校、场馆管理员只能为本单位创建。初始密码只返回这一次。",
    status_code=201,
    responses=problem_responses(AccountScopeForbidden, UsernameTaken, OrganisationNotFound),
)
def create_account(
    body: AccountCreate, caller: OrgAdmin, session: SessionDep, clock: ClockDep
) -> AccountCreated:
    account, initial = account_service.create_account(
        session,
        actor=caller,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        org_id=body.org_id,
        now=clock.now(),
    )
    return AccountCreated(
        **AccountRead.model_validate(account, from_attributes=True).model_dump(),
        initial_password=initial,
    )


def _my_student(session: Session, student: Student, today: date) -> MyStudent:
    school = org_service.get_school(session, student.school_id)
    return MyStudent(
        id=student.id or 0,
        school_id=student.school_id,
        school_name=school.name,
        name=student.name,
        grade_label=importer.grade_label(student.stage, student.grade),
        class_name=student.class_name,
        birth_month=student.birth_month.strftime("%Y-%m"),
        under_14=consent_service.is_under_14(student.birth_month, today),
    )


def _child_actions(session: Session, student: Student, today: date) -> ChildActions:
    may_act = acting.guardian_may_act(
        birth_month=student.birth_month, own_binding=student.wechat_user_id, today=today
    )

    def consented(purpose: Purpose) -> bool:
        return may_act and consent_service.has_consent(
            session, student=student, purpose=purpose, today=today
        )

    return ChildActions(
        may_act=may_act,
        refused_code=None if may_act else acting.ChildActsForSelf.code,
        check_in=consented(Purpose.participation_record),
        location=consented(Purpose.location),
        reserve=consented(Purpose.participation_record),
        confirm_records=may_act,
        upload_evidence=consented(Purpose.photos),
        personal_code=may_act,
    )


@router.get("/me", name="me-get", summary="当前用户", responses=problem_responses())
def me(caller: AnyUser, session: SessionDep, clock: ClockDep) -> Me:
    today = local_date(clock.now())
    result = Me(subject=caller.subject, role=caller.role)
    if caller.account_id is not None:
        account = session.get(Account, caller.account_id)
        if account is not None:
            result.account = AccountRead.model_validate(account, from_attributes=True)
    if caller.role is Role.student and caller.wechat_user_id is not None:
        student = roster_service.student_of_wechat_user(session, caller.wechat_user_id)
        if student is not None:
            result.student = _my_student(session, student, today)
    if caller.role is Role.guardian and caller.wechat_user_id is not None:
        result.children = [
            MyChild(
                **_my_student(session, student, today).model_dump(),
                relation=link.relation,
                actions=_child_actions(session, student, today),
            )
            for link, student in roster_service.guardian_links(
                session, guardian_id=caller.wechat_user_id
            )
        ]
    return result
