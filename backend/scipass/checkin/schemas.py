from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from scipass.checkin.models import ClosedBy, CodeKind, Direction, ScanResult, ScanSource
from scipass.core.inputs import Id, RequestModel
from scipass.core.pagination import Page

MAX_BATCH = 1000
MAX_CHILDREN = 10  # a family scan: one guardian's children at one door


class Location(RequestModel):
    """What ``wx.getLocation({type: 'gcj02'})`` answered."""

    latitude: float = Field(ge=-90, le=90, description="GCJ-02 纬度")
    longitude: float = Field(ge=-180, le=180, description="GCJ-02 经度")
    accuracy: float = Field(ge=0, le=100_000, description="定位精度（米）")


class CheckInCreate(RequestModel):
    code: str = Field(
        min_length=3,
        max_length=400,
        description="扫到的内容：普通链接二维码的完整链接（小程序 `q` 参数）、码内容，"
        "或小程序码的 `scene`（`c=XXXXXXXX`）",
        examples=["HTTPS://SCIPASS.EXAMPLE.CN/C/R.7KQ2M9AB.CVTUGR.K1.KGL5MB75Y6XT2LTE"],
    )
    direction: Direction = Field(default=Direction.entry, description="`entry` 签到，`exit` 签退")
    scan_time: int | None = Field(
        default=None,
        ge=0,
        le=253_402_300_799,  # 9999-12-31
        description="扫码时间（UNIX 秒，小程序 `scancode_time`）；只作记录，判断以服务器时间为准",
    )
    location: Location | None = Field(
        default=None, description="位置（需要监护人同意“位置”用途）；活动开启地理围栏时必填"
    )


class CheckInRead(BaseModel):
    id: int
    activity_id: int
    activity_title: str
    student_id: int
    day: date
    source: ScanSource
    entered_at: datetime
    exited_at: datetime | None
    closed_by: ClosedBy | None
    minutes: int | None = Field(description="计入的时长（分钟）；未签退时为空")
    record_id: int | None = Field(description="对应的写实记录")
    duplicate: bool = Field(
        default=False, description="true：此前已签到（或已签退），返回的是已有记录"
    )
    student_name: str | None = Field(
        default=None, description="工作人员扫码时返回（场馆看到打码后的姓名），便于核对本人"
    )
    class_label: str | None = Field(
        default=None, description="工作人员扫码时返回：学校、年级与班级"
    )

    @classmethod
    def of_visit(cls, visit: Any, title: str, *, duplicate: bool = False) -> CheckInRead:
        """The answer about a visit (a ``check_in`` row, or the visit a scan just wrote)."""
        return cls(
            id=visit.id or 0,
            activity_id=visit.activity_id,
            activity_title=title,
            student_id=visit.student_id,
            day=visit.day,
            source=visit.source,
            entered_at=visit.entered_at,
            exited_at=visit.exited_at,
            closed_by=visit.closed_by,
            minutes=visit.minutes,
            record_id=visit.record_id,
            duplicate=duplicate,
        )


class FamilyCheckIn(CheckInCreate):
    """A guardian scans once for several linked children (``POST /checkins/family``)."""

    student_ids: list[Id] = Field(
        min_length=1,
        max_length=MAX_CHILDREN,
        description="为哪些孩子签到（1–10 个孩子的学生 ID，见 `GET /me` 的 `children`；"
        "重复的只算一次）",
    )

    @field_validator("student_ids")
    @classmethod
    def _once_each(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class FamilyItem(BaseModel):
    student_id: int
    result: ScanResult = Field(
        description="`accepted` 新签到，`duplicate` 此前已签到，`refused` 被拒绝"
    )
    code: str | None = Field(default=None, description="拒绝时的错误代码（与单独扫码相同）")
    title: str | None = Field(default=None, description="拒绝原因，按请求语言")
    check_in: CheckInRead | None = Field(default=None, description="签到记录；被拒绝时为空")


class FamilyResult(BaseModel):
    accepted: int
    duplicate: int
    refused: int
    items: list[FamilyItem] = Field(description="每个孩子一条，顺序与请求相同")


class CodeCreate(RequestModel):
    kind: CodeKind = Field(description="`static` 可打印的海报码；`rotating` 大屏动态码")
    valid_until: AwareDatetime | None = Field(
        default=None, description="提前失效的时间；不设则在活动签到时段内有效"
    )
    step_seconds: int | None = Field(
        default=None, ge=20, le=30, description="动态码换码间隔（秒，20–30），默认 20"
    )


class ActivityCodeRead(BaseModel):
    """A code of an activity, or of a volunteer shift (`/codes/{code_id}/...` serve both)."""

    id: int
    activity_id: int | None = Field(description="活动码所属的活动；志愿服务班次的码为空")
    shift_id: int | None = Field(default=None, description="志愿服务班次码所属的班次；活动码为空")
    kind: CodeKind
    short_id: str
    payload: str = Field(description="码内容；动态码为当前这一步的")
    link: str = Field(description="二维码中的链接")
    scene: str = Field(description="小程序码的 scene")
    step_seconds: int | None
    valid_until: datetime | None
    revoked_at: datetime | None
    revoke_reason: str
    created_at: datetime
    kiosk_url: str | None = Field(
        default=None, description="动态码的大屏页面（含大屏令牌，请勿外传）"
    )


class RevokeCode(RequestModel):
    reason: str = Field(min_length=1, max_length=200)


class PersonalCodeRead(BaseModel):
    payload: str = Field(description="个人码内容（Ed25519 签名），由工作人员扫描")
    expires_at: datetime
    key_id: str
    card_id: int | None = Field(
        default=None, description="打印卡片的编号（挂失时用）；手机上的个人码为空"
    )


class PersonalCardRead(BaseModel):
    """A printed personal card as its school sees it (the code itself is not kept)."""

    id: int
    student_id: int
    expires_at: datetime
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str


class RevokedPersonalCodes(BaseModel):
    nonces: list[str] = Field(
        description="已挂失、尚未过期的卡片个人码的随机数（载荷最后 6 字节，小写十六进制）："
        "场馆设备离线验证时，随机数在此列表中的个人码应拒绝"
    )
    generated_at: datetime


class PersonalCard(RequestModel):
    valid_days: int = Field(
        default=90, ge=1, le=200, description="打印卡片的有效天数（最长一学期，约 200 天）"
    )


class PublicKeyRead(BaseModel):
    key_id: str
    algorithm: str = Field(examples=["Ed25519"])
    public_key: str = Field(description="32 字节原始公钥，base64url（无填充）")
    active: bool = Field(description="当前用于签发的密钥")


class PublicKeys(BaseModel):
    format: str = Field(
        description="个人码格式：`P.<KID>.<base32(载荷 ‖ 签名)>`；载荷 15 字节："
        "版本(1) ‖ 学生编号(4，大端) ‖ 过期时间 UNIX 秒(4) ‖ 随机数(6)；签名为 Ed25519，64 字节"
    )
    keys: list[PublicKeyRead]


class StaffScan(RequestModel):
    code: str = Field(min_length=10, max_length=400, description="学生个人码内容")
    direction: Direction = Direction.entry
    nonce: str = Field(min_length=8, max_length=64, description="设备为这次扫码生成的随机编号")


class GroupCheckIn(RequestModel):
    student_ids: list[Id] = Field(
        min_length=1, max_length=500, description="到场的学生（须是该团体预约的成员）"
    )
    direction: Direction = Direction.entry
    nonce: str = Field(min_length=8, max_length=64, description="这次提交的随机编号，重试时不变")


class OfflineScan(RequestModel):
    nonce: str = Field(min_length=8, max_length=64, description="设备为每次扫码生成的随机编号")
    code: str = Field(min_length=10, max_length=400, description="学生个人码内容")
    scan_time: AwareDatetime = Field(description="离线扫码发生的时间（设备时间）")
    direction: Direction = Direction.entry
    force: bool = Field(
        default=False,
        description="扫码已在现场发生：即使签到时段、人数或预约不符也记录（签名与身份仍须有效）",
    )


class OfflineBatch(RequestModel):
    device: str = Field(default="", max_length=64, description="设备编号（可选）")
    items: list[OfflineScan] = Field(min_length=1, max_length=MAX_BATCH)


class ItemResult(BaseModel):
    key: str = Field(description="条目：离线上传为 nonce，团体签到为学生编号")
    result: ScanResult
    code: str | None = Field(default=None, description="拒绝时的错误代码")
    message: str | None = None
    check_in_id: int | None = None
    warnings: list[str] = Field(default_factory=list, description="`force` 放行时被跳过的检查")


class BatchResult(BaseModel):
    accepted: int
    duplicate: int
    refused: int
    items: list[ItemResult]


class AttendeeRead(BaseModel):
    check_in_id: int
    student_id: int
    student_name: str = Field(description="场馆看到的是打码后的姓名")
    school_name: str
    grade: int
    class_name: str
    day: date
    source: ScanSource
    entered_at: datetime
    exited_at: datetime | None
    closed_by: ClosedBy | None
    minutes: int | None


class AttendeeCounts(BaseModel):
    total: int
    open: int = Field(description="已签到未签退")
    closed: int
    auto_closed: int


class AttendeePage(Page[AttendeeRead]):
    counts: AttendeeCounts


class ScanEventRead(BaseModel):
    id: int
    server_time: datetime
    scan_time: datetime | None
    direction: Direction
    source: ScanSource
    result: ScanResult
    reason: str
    student_name: str | None
    distance_m: int | None
    forced: bool


class PupilScanRead(ScanEventRead):
    """A scan by a pupil of the caller's school, wherever it was made."""

    student_id: int | None
    class_name: str | None
    activity_id: int | None = Field(description="空：码无法识别（伪造或损坏）")
    activity_title: str | None
    organiser_name: str | None = Field(description="组织方：场馆或学校")


class CheckInCorrected(CheckInRead):
    record_updated: bool = Field(
        description="写实记录是否随之更新。false：到访尚未签退（更正后仍无签退时间），"
        "或记录已经学校审核（见 record_status：审核后记录保持学校所审的内容，请联系学校，"
        "归档后由学校作废并重开）"
    )
    record_status: str | None = Field(description="写实记录当前的状态")


class CheckInCorrection(RequestModel):
    entered_at: AwareDatetime | None = None
    exited_at: AwareDatetime | None = None
    minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    reason: str = Field(min_length=2, max_length=200, description="更正原因（必填，记入审计）")


class HourCountsRead(BaseModel):
    hour: int = Field(ge=0, le=23, description="钟点（北京时间），如 9 表示 9:00–9:59")
    arrivals: int = Field(description="这一小时内签到（开始到访）的人数")
    departures: int = Field(description="这一小时内签退（含自动签退）的人数")
    refused: int = Field(description="这一小时内被拒绝的扫码次数")


class RefusalCountRead(BaseModel):
    reason: str = Field(description="拒绝原因代码，如 `out_of_geofence`")
    title: str = Field(description="学生看到的中文原因")
    count: int


class RefusedScanRead(BaseModel):
    """A refused scan as the live page shows it: when, how and why, without the pupil."""

    id: int
    server_time: datetime
    direction: Direction
    source: ScanSource
    reason: str
    title: str = Field(description="学生看到的中文原因")
    distance_m: int | None


class ArrivalsRead(BaseModel):
    activity_id: int
    day: date = Field(description="日期（北京时间）")
    visits: int = Field(description="当天到访人数")
    present: int = Field(description="已签到未签退")
    refused: int = Field(description="当天被拒绝的扫码次数")
    hours: list[HourCountsRead] = Field(description="有签到、签退或拒绝的钟点，由早到晚")
    reasons: list[RefusalCountRead] = Field(description="按拒绝原因汇总，次数多的在前")
    recent_refused: list[RefusedScanRead] = Field(description="最近 20 次被拒绝的扫码，最新的在前")
