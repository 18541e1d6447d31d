from scipass.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ActivityNotFound(NotFound):
    code = "activity_not_found"
    title_zh = "活动不存在"
    title_en = "Activity not found"


class ActivityNotEditable(Conflict):
    code = "activity_not_editable"
    title_zh = "活动已取消或已结束，不能修改"
    title_en = "A cancelled or finished activity cannot change"


class ActivityTransitionInvalid(Conflict):
    code = "activity_transition_invalid"
    title_zh = "活动当前状态不能进行此操作"
    title_en = "The activity's status does not allow this"


class ActivityInvalid(ValidationFailed):
    code = "activity_invalid"
    title_zh = "活动信息有误"
    title_en = "The activity is invalid"


class NotAnOrganiser(Forbidden):
    code = "not_an_organiser"
    title_zh = "只有场馆、学校或教育局（科协）工作人员可以组织活动"
    title_en = "Only venue, school or bureau staff organise activities"
