from scipass.core.errors import NotFound


class RegionNotFound(NotFound):
    code = "region_not_found"
    title_zh = "行政区划不存在"
    title_en = "Region not found"
