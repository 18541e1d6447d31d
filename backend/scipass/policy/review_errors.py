"""Errors of the compliance views, reviews and ledger."""

from __future__ import annotations

from scipass.core.errors import Conflict, NotFound, ValidationFailed


class ReviewNotFound(NotFound):
    code = "policy_review_not_found"
    title_zh = "评估不存在"
    title_en = "Review not found"


class ReviewExists(Conflict):
    code = "policy_review_exists"
    title_zh = "本地区已有同名的评估"
    title_en = "The region has a review of that name"


class ReviewFrozen(Conflict):
    code = "policy_review_frozen"
    title_zh = "评估已冻结，数据不再变化"
    title_en = "The review is frozen"


class RegionRequired(ValidationFailed):
    code = "region_code_required"
    title_zh = "请指定行政区划代码（region_code）"
    title_en = "Give a region code"
