"""Exports of participation records: CSV/XLSX lists and a student's PDF file (科技实践档案)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from scipass.core.callers import RecordExporter, StaffFileReader, WithheldReader
from scipass.core.clock import ClockDep, Semester
from scipass.core.db import AdmittedDep, SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, attachment
from scipass.core.inputs import GradeFilter, Id, SchoolYearFilter
from scipass.core.pagination import Page, PageDep
from scipass.jobs.errors import ExportTooLarge
from scipass.jobs.schemas import JobRead
from scipass.org.errors import OrganisationNotFound, OutsideRegion
from scipass.record import exports as record_exports
from scipass.record import record_file
from scipass.record import withheld as record_withheld
from scipass.record.exports import ExportFormat
from scipass.record.models import RecordStatus
from scipass.record.repository import RecordFilter
from scipass.record.schemas import RecordExportRequest, RecordFilesRequest, WithheldPupil
from scipass.roster.acting import ActingStudent
from scipass.roster.errors import StudentNotFound

router = APIRouter(tags=["records"])


PDF_MEDIA_TYPE = "application/pdf"
_BINARY = {"schema": {"type": "string", "format": "binary"}}

RegionCode = Annotated[
    str | None,
    Query(pattern=r"^\d{6}$", description="行政区划代码（含下级），教育局只能选本辖区"),
]
SchoolId = Annotated[Id | None, Query(description="学校；学校工作人员只能是本校")]
ClassName = Annotated[str | None, Query(max_length=20, description="班级，如 2班")]
StudentId = Annotated[Id | None, Query(description="学生；学生本人调用时总是本人")]
SemesterParam = Annotated[
    Semester | None, Query(description="学期：`autumn` 第一学期，`spring` 第二学期")
]
StatusParam = Annotated[RecordStatus | None, Query(description="记录状态")]


def _query_filter(
    region_code: RegionCode = None,
    school_id: SchoolId = None,
    grade: GradeFilter = None,
    class_name: ClassName = None,
    student_id: StudentId = None,
    school_year: SchoolYearFilter = None,
    semester: SemesterParam = None,
    status: StatusParam = None,
) -> RecordFilter:
    """The scope and filters of a records export, from the query (the GETs share them)."""
    return RecordFilter(
        region_code=region_code,
        school_id=school_id,
        grade=grade,
        class_name=class_name,
        student_id=student_id,
        school_year=school_year,
        semester=semester.value if semester else None,
        status=status,
    )


QueryFilter = Annotated[RecordFilter, Depends(_query_filter)]


def _pdf(result: record_file.StudentFile) -> StreamingResponse:
    return StreamingResponse(
        iter([result.content]),
        media_type=PDF_MEDIA_TYPE,
        headers=attachment(result.filename, result.plain_filename),
    )


@router.get(
    "/record-exports",
    name="record-export",
    summary="导出写实记录（CSV / XLSX）",
    description="按筛选条件导出写实记录，每条记录一行，列依次为：学号、姓名、年级、班级、"
    "活动名称、类别、评价维度、组织单位、开始时间、结束时间、时长（分钟）、角色、成果/奖项、"
    "状态、证明材料数、证明人、证明人联系电话（已打码）、学校、代填标注（“家长代为确认”“家长代填”"
    "“教师代为确认”，学生本人确认时为空）。按学校、年级、班级、学号、开始时间排序；"
    "时间为北京时间。`format`：`xlsx`（Excel）或 `csv`（UTF-8 带 BOM，Excel 可直接打开）。\n\n"
    "范围：学生只能导出本人的记录；学校工作人员只能导出本校（指定其他学校返回 404）；"
    "教育局只能导出本辖区（辖区外的地区返回 403，辖区外的学校返回 404）；平台管理员不限。"
    "每次导出记入审计日志（导出人、筛选条件、行数）。\n\n"
    "直接导出最多 `SCIPASS_EXPORT_SYNC_ROW_LIMIT` 行（默认 5000），更多时返回 422 "
    "`export_too_large`，请改用 `POST /record-exports` 提交后台导出任务。"
    "文件、`X-Row-Count` 与审计日志取自同一快照，三者一致；导出结束时记入审计日志（成功或失败）。"
    "\n\n"
    "监护人同意：学校、教育局和平台的导出是导出到综合素质评价平台，不含未满 14 周岁且监护人"
    "未同意“评价导出”（`record_export`）的学生的记录（略去，不标注）；略去的记录数和学生数见 "
    "`X-Withheld-Count`、`X-Withheld-Students` 与审计日志，名单见 `GET /record-exports/withheld`。"
    "学生本人导出自己的记录（家庭自己的副本）不受此限制。",
    response_class=Response,
    responses={
        200: {
            "description": "写实记录文件",
            "content": {CSV_MEDIA_TYPE: _BINARY, XLSX_MEDIA_TYPE: _BINARY},
            "headers": {
                "X-Row-Count": {"description": "导出的行数", "schema": {"type": "integer"}},
                "X-Withheld-Count": {
                    "description": "因未满 14 周岁且监护人未同意“评价导出”而略去的记录数"
                    "（学生本人导出时没有此项）",
                    "schema": {"type": "integer"},
                },
                "X-Withheld-Students": {
                    "description": "这些记录涉及的学生人数"
                    "（名单见 `GET /record-exports/withheld`）",
                    "schema": {"type": "integer"},
                },
            },
        },
        **problem_responses(OrganisationNotFound, OutsideRegion, ExportTooLarge),
    },
)
def export_records(
    caller: RecordExporter,
    database: DatabaseDep,
    _admitted: AdmittedDep,
    clock: ClockDep,
    settings: SettingsDep,
    requested: QueryFilter,
    format: Annotated[ExportFormat, Query(description="文件格式")] = ExportFormat.xlsx,
) -> Response:
    export = record_exports.export_now(
        database,
        clock,
        principal=caller,
        requested=requested,
        export_format=format,
        row_limit=settings.export_sync_row_limit,
    )
    return Response(
        export.content, media_type=export.file_format.media_type, headers=export.headers
    )


@router.post(
    "/record-exports",
    name="record-export-job",
    summary="提交写实记录导出任务（任意行数）",
    description="与 `GET /record-exports` 相同的范围与筛选条件，在后台进程中生成文件，"
    "不占用请求：返回 202 和任务，用 `GET /jobs/{job_id}` 查询进度，完成后从 `download_url` "
    "下载（保留 24 小时）。文件、行数与审计日志取自同一数据快照。范围外的学校或地区立即拒绝。"
    "与直接导出一样略去未获监护人“评价导出”同意的未满 14 周岁学生的记录，"
    "略去的记录数见任务的 `withheld_count` 与审计日志。",
    status_code=202,
    responses=problem_responses(OrganisationNotFound, OutsideRegion),
)
def queue_record_export(
    body: RecordExportRequest, caller: RecordExporter, session: SessionDep, clock: ClockDep
) -> JobRead:
    requested = RecordFilter(
        region_code=body.region_code,
        school_id=body.school_id,
        grade=body.grade,
        class_name=body.class_name,
        student_id=body.student_id,
        school_year=body.school_year,
        semester=body.semester.value if body.semester else None,
        status=body.status,
    )
    job = record_exports.queue_export(
        session, principal=caller, requested=requested, export_format=body.format, now=clock.now()
    )
    return JobRead.of(job)


@router.get(
    "/record-exports/withheld",
    name="record-export-withheld",
    summary="导出时将被略去的学生（未获监护人“评价导出”同意）",
    description="与 `GET /record-exports` 相同的范围与筛选条件：列出未满 14 周岁、"
    "在筛选范围内有记录、"
    "但监护人未同意“评价导出”（`record_export`）的学生。导出到综合素质评价平台的文件"
    "（学校、教育局、平台的 CSV / XLSX 导出及导出任务）不含这些学生的记录，"
    "老师可据此请监护人在小程序中同意，或提交纸质同意书由学校登记。"
    "每人给出略去的记录数和监护人最近一次的决定。按学校、年级、班级、学号排序；"
    "姓名按调用者权限显示（教育局看到打码的姓名）。学生本人导出自己的记录不受此限制。",
    responses=problem_responses(OrganisationNotFound, OutsideRegion),
)
def withheld_pupils(
    caller: WithheldReader,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    requested: QueryFilter,
) -> Page[WithheldPupil]:
    return record_withheld.withheld_page(
        session, clock, principal=caller, requested=requested, page=page
    )


_FILE_DESCRIPTION = (
    "学生的科技实践档案（PDF，A4）：基本信息、筛选条件、每条写实记录一行（含代填标注）、记录数与总时长、"
    "各评价维度时长、归档链长度与链头哈希（可与归档链校验结果核对）、生成时间。"
    "不指定 `status` 时列出计入统计的记录（不含未通过、已撤回、已作废）。记入审计日志。"
)


@router.get(
    "/students/{student_id}/record-file",
    name="record-file",
    summary="学生科技实践档案（PDF）",
    description=_FILE_DESCRIPTION
    + "学校工作人员可取本校学生，教育局可取本辖区学生；范围外的学生返回 404。",
    response_class=StreamingResponse,
    responses={
        200: {"description": "PDF 文件", "content": {PDF_MEDIA_TYPE: _BINARY}},
        **problem_responses(StudentNotFound),
    },
)
def student_record_file(
    student_id: Id,
    caller: StaffFileReader,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    school_year: SchoolYearFilter = None,
    semester: SemesterParam = None,
    status: StatusParam = None,
) -> StreamingResponse:
    result = record_file.student_file(
        session,
        principal=caller,
        student_id=student_id,
        requested=RecordFilter(
            school_year=school_year, semester=semester.value if semester else None, status=status
        ),
        settings=settings,
        now=clock.now(),
    )
    return _pdf(result)


@router.get(
    "/me/record-file",
    name="my-record-file",
    summary="我的科技实践档案（PDF）",
    description=_FILE_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {"description": "PDF 文件", "content": {PDF_MEDIA_TYPE: _BINARY}},
        **problem_responses(StudentNotFound),
    },
)
def my_record_file(
    caller: ActingStudent,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    school_year: SchoolYearFilter = None,
    semester: SemesterParam = None,
    status: StatusParam = None,
) -> StreamingResponse:
    result = record_file.student_file(
        session,
        principal=caller,
        student_id=caller.student_id or 0,
        requested=RecordFilter(
            school_year=school_year, semester=semester.value if semester else None, status=status
        ),
        settings=settings,
        now=clock.now(),
    )
    return _pdf(result)


@router.post(
    "/record-files",
    name="record-files-job",
    summary="批量生成科技实践档案（每名学生一个 PDF，打包为 ZIP）",
    description="学校工作人员为本校（可按年级、班级）生成；教育局须指定本辖区的学校。"
    "在后台进程中生成，返回 202 和任务；用 `GET /jobs/{job_id}` 查询进度，完成后下载 ZIP。"
    "属导出到综评平台的批量导出：未满 14 周岁且监护人未同意评价导出（record_export）的学生"
    "不生成档案，人数见任务的 `withheld_count` 与结果的 `X-Withheld-Count`（名单见 "
    "`GET /record-exports/withheld`）。记入审计日志（文件数、略去人数、筛选条件）。",
    status_code=202,
    responses=problem_responses(OrganisationNotFound),
)
def queue_record_files(
    body: RecordFilesRequest, caller: StaffFileReader, session: SessionDep, clock: ClockDep
) -> JobRead:
    job = record_file.queue_bulk_files(
        session,
        principal=caller,
        school_id=body.school_id,
        grade=body.grade,
        class_name=body.class_name,
        requested=RecordFilter(
            school_year=body.school_year,
            semester=body.semester.value if body.semester else None,
            status=body.status,
        ),
        now=clock.now(),
    )
    return JobRead.of(job)
