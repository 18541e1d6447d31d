from scipass.core.errors import Conflict, NotFound


class TalentTrackingNotFound(NotFound):
    code = "talent_tracking_not_found"
    title_zh = "后备人才跟踪记录不存在"
    title_en = "Talent tracking not found"


class TalentAlreadyTracked(Conflict):
    code = "talent_already_tracked"
    title_zh = "该学生已在后备人才跟踪中"
    title_en = "The pupil is already tracked as a talent"


class TalentTrackingEnded(Conflict):
    code = "talent_tracking_ended"
    title_zh = "这条后备人才跟踪已经结束"
    title_en = "This talent tracking has already ended"
