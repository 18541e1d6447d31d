from scipass.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
)


class RecordNotFound(NotFound):
    code = "record_not_found"
    title_zh = "写实记录不存在"
    title_en = "Record not found"


class RecordStateInvalid(Conflict):
    code = "record_state_invalid"
    title_zh = "写实记录当前状态不能进行此操作"
    title_en = "The record's status does not allow this"


class NotTheOrganiser(Forbidden):
    code = "not_the_organiser"
    title_zh = "只有活动的组织方可以确认这条记录"
    title_en = "Only the organiser confirms this record"


class StudentConfirmationRequired(Conflict):
    code = "student_confirmation_required"
    title_zh = "学生尚未确认这条记录，暂不能审核"
    title_en = "The student has not confirmed this record yet"


class AttestationDisabled(Forbidden):
    code = "attestation_disabled"
    title_zh = "本校未开启教师代为确认"
    title_en = "Teacher attestation is switched off for this school"


class PupilCanConfirm(Conflict):
    code = "pupil_can_confirm"
    title_zh = "该学生已绑定微信或有已绑定的家长，请由学生本人或家长确认"
    title_en = "The pupil has a binding or a bound guardian: the pupil's side confirms"


class StudentAlreadyConfirmed(Conflict):
    code = "student_already_confirmed"
    title_zh = "学生一方已确认这条记录，不能再代为确认"
    title_en = "The pupil's side has already confirmed this record"


class OrganiserCannotAttest(Forbidden):
    code = "organiser_cannot_attest"
    title_zh = "您已作为组织方确认这条记录，不能再代学生确认"
    title_en = "You confirmed this record as its organiser and cannot attest it for the pupil"


class AttesterCannotConfirm(Forbidden):
    code = "attester_cannot_confirm"
    title_zh = "您已代学生确认这条记录，不能再作为组织方确认"
    title_en = "You attested this record for the pupil and cannot confirm it as its organiser"


class AttesterCannotReview(Forbidden):
    code = "attester_cannot_review"
    title_zh = "您已代学生确认这条记录，请由其他老师审核"
    title_en = "You attested this record for the pupil: another teacher reviews it"


class ReasonRequired(ValidationFailed):
    code = "reason_required"
    title_zh = "请填写原因"
    title_en = "A reason is required"


class RecordInvalid(ValidationFailed):
    code = "record_invalid"
    title_zh = "写实记录信息有误"
    title_en = "The record is invalid"


class NothingToPublicise(Conflict):
    code = "nothing_to_publicise"
    title_zh = "没有符合条件的已审核记录可以公示"
    title_en = "No reviewed records match"


class NoticeNotFound(NotFound):
    code = "notice_not_found"
    title_zh = "公示不存在"
    title_en = "Notice not found"


class NoticeClosed(Conflict):
    code = "notice_closed"
    title_zh = "公示期已结束，不能再提出异议"
    title_en = "The notice window is closed"


class ObjectionDuplicate(Conflict):
    code = "objection_duplicate"
    title_zh = "您对这条记录的异议正在处理中"
    title_en = "Your objection to this record is still open"


class ObjectionNotFound(NotFound):
    code = "objection_not_found"
    title_zh = "异议不存在"
    title_en = "Objection not found"


class ObjectionResolved(Conflict):
    code = "objection_resolved"
    title_zh = "这条异议已经处理"
    title_en = "The objection is already resolved"


class EvidenceTypeRejected(ProblemError):
    status = 415
    code = "evidence_type_rejected"
    title_zh = "证明材料只接受 JPEG、PNG、WebP 图片或 PDF 文件"
    title_en = "Evidence must be a JPEG, PNG or WebP image or a PDF"


class EvidenceUnreadable(ProblemError):
    status = 415
    code = "evidence_unreadable"
    title_zh = "文件已损坏、不完整或设有密码，无法读取"
    title_en = "The file is damaged, incomplete or password-protected"


class EvidenceTooComplex(PayloadTooLarge):
    code = "evidence_too_complex"
    title_zh = "图片像素过多或 PDF 过于复杂，请缩小或另存后再上传"
    title_en = "The image has too many pixels, or the PDF is too complex"


class EvidencePdfActiveContent(ProblemError):
    status = 422
    code = "evidence_pdf_active_content"
    title_zh = "PDF 含有脚本、附件或自动执行的操作，请另存为普通 PDF 后再上传"
    title_en = "The PDF contains scripts, attachments or actions that run by themselves"


class EvidenceQuarantined(ProblemError):
    status = 410
    code = "evidence_quarantined"
    title_zh = "这份证明材料已被隔离，不再提供下载"
    title_en = "This evidence file is quarantined and no longer served"
    # Answered when a file is found unsafe as it is asked for: the quarantine is kept.
    keep_writes = True


class EvidenceTooLarge(PayloadTooLarge):
    code = "evidence_too_large"
    title_zh = "证明材料文件过大"
    title_en = "The evidence file is too large"


class EvidenceLimitReached(Conflict):
    code = "evidence_limit_reached"
    title_zh = "每条记录最多 9 份证明材料"
    title_en = "A record holds at most 9 evidence files"


class EvidenceNotFound(NotFound):
    code = "evidence_not_found"
    title_zh = "证明材料不存在"
    title_en = "Evidence not found"
