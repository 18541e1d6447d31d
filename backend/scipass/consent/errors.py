from scipass.core.errors import Conflict, Forbidden


class ConsentRequired(Forbidden):
    code = "consent_required"
    title_zh = "需要监护人同意后才能使用此功能"
    title_en = "A guardian must consent first"


class NoticeOutdated(Conflict):
    code = "notice_outdated"
    title_zh = "告知书已更新，请阅读最新版本后再确认"
    title_en = "The privacy notice changed; read the current version"
