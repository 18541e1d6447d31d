from scipass.core.errors import Conflict, NotFound, ValidationFailed


class ReportPeriodInvalid(ValidationFailed):
    """The period is ``[start, end)`` in Beijing dates: from 2000 on, ``end`` after ``start``,
    at most two years long, and not after tomorrow (a report counts what has happened)."""

    code = "report_period_invalid"
    title_zh = (
        "统计期间有误：开始日期不早于 2000 年，结束日期须晚于开始日期，期间不超过两年，且不晚于明天"
    )
    title_en = (
        "The period is invalid: from 2000 on, end after start, at most two years, not in the future"
    )


class IncidentNotFound(NotFound):
    code = "incident_not_found"
    title_zh = "没有这条安全事件记录"
    title_en = "No such incident"


class IncidentInvalid(ValidationFailed):
    """Dates out of order, before 2000 or in the future, minors fewer than children, an
    unknown school."""

    code = "incident_invalid"
    title_zh = "安全事件记录有误"
    title_en = "The incident is invalid"


class IncidentClosed(Conflict):
    code = "incident_closed"
    title_zh = "事件已结案，不能再修改"
    title_en = "The incident is closed"


class IncidentAlreadyReported(Conflict):
    code = "incident_already_reported"
    title_zh = "已登记向主管部门报告的时间，不能更改"
    title_en = "The report to the authority is already recorded"
