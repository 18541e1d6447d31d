from scipass.core.errors import BadRequest, Conflict, Forbidden, NotFound


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
