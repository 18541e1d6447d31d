from scipass.core.errors import Conflict, NotFound, ValidationFailed


class PairingNotFound(NotFound):
    code = "pairing_not_found"
    title_zh = "结对记录不存在"
    title_en = "Pairing not found"


class PairingExists(Conflict):
    code = "pairing_exists"
    title_zh = "该学校与场馆已有待确认或生效中的结对"
    title_en = "The school and venue already have an open pairing"


class PairingTransitionInvalid(Conflict):
    code = "pairing_transition_invalid"
    title_zh = "结对当前状态不能进行此操作"
    title_en = "The pairing's status does not allow this"


class PairingInvalid(ValidationFailed):
    code = "pairing_invalid"
    title_zh = "结对信息有误"
    title_en = "The pairing is invalid"
