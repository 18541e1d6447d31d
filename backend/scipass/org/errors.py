from scipass.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed


class RegionNotFound(NotFound):
    code = "region_not_found"
    title_zh = "行政区划不存在"
    title_en = "Region not found"


class RegionExists(Conflict):
    code = "region_exists"
    title_zh = "行政区划代码已存在"
    title_en = "Region code already exists"


class ParentRegionInvalid(BadRequest):
    code = "parent_region_invalid"
    title_zh = "上级行政区划不存在或层级不符"
    title_en = "Parent region missing or at the wrong level"


class OrganisationExists(Conflict):
    code = "organisation_exists"
    title_zh = "同一地区已有同名单位"
    title_en = "An organisation of that name exists in the region"


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"
    title_zh = "单位不存在"
    title_en = "Organisation not found"


class OutsideRegion(Forbidden):
    code = "outside_region"
    title_zh = "超出本单位管辖的地区"
    title_en = "Outside your region"


class SchoolFlagsInvalid(ValidationFailed):
    code = "school_flags_invalid"
    title_zh = "学校属性有误"
    title_en = "The school's flags are invalid"


# --- what the policy rules measure (issue 19) --------------------------------------------------


class ScienceStaffNotFound(NotFound):
    code = "science_staff_not_found"
    title_zh = "科学教育人员记录不存在"
    title_en = "Science staff entry not found"


class ScienceStaffExists(Conflict):
    code = "science_staff_exists"
    title_zh = "同一人员的同一任职已登记"
    title_en = "This person's role from that date is already recorded"


class ScienceStaffInvalid(ValidationFailed):
    code = "science_staff_invalid"
    title_zh = "任职信息有误"
    title_en = "The staff entry is invalid"


class TrainingExists(Conflict):
    code = "counsellor_training_exists"
    title_zh = "同一天的同名培训已登记"
    title_en = "A training of that title on that day is already recorded"


class TrainingInvalid(ValidationFailed):
    code = "counsellor_training_invalid"
    title_zh = "培训信息有误"
    title_en = "The training is invalid"


class TourInvalid(ValidationFailed):
    code = "mobile_museum_tour_invalid"
    title_zh = "流动科技馆巡展信息有误"
    title_en = "The mobile museum tour is invalid"


class NotATourOrganiser(Forbidden):
    code = "not_a_tour_organiser"
    title_zh = "只有场馆、学校或教育局（科协）工作人员可以登记流动科技馆巡展"
    title_en = "Only venue, school or bureau staff record mobile museum tours"


class CalendarInvalid(ValidationFailed):
    code = "school_calendar_invalid"
    title_zh = "校历日期有误"
    title_en = "The school calendar's dates are invalid"
