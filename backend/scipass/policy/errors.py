from scipass.core.errors import Conflict, NotFound, ValidationFailed


class PolicyRuleNotFound(NotFound):
    code = "policy_rule_not_found"
    title_zh = "该地区适用的政策包中没有这条规则"
    title_en = "No such rule applies to the region"


class PolicyOverrideStale(Conflict):
    """Someone recorded another version of the rule's setting for the region since the
    caller read it: read the pack again (``versions``) and decide anew."""

    code = "policy_override_stale"
    title_zh = "该规则的设置已被他人修改，请刷新后重试"
    title_en = "The rule's setting changed since you read it"


class PolicyOverrideInvalid(ValidationFailed):
    code = "policy_override_invalid"
    title_zh = "规则设置有误"
    title_en = "The override is invalid"
