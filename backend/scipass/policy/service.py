"""Policy use cases: read a region's effective pack, record and list bureaus' overrides.

Who may do what:

- read a region's pack: the platform admin; a bureau for its region, the regions below it and
  the regions above it (whose rules it inherits); a school's staff for the school's region and
  the regions above it;
- override a rule for a region: a bureau of that region or of a region above it. A region's
  rule (``subject = "region"``, counted over the region of the pack that defines it) is
  changed at that region only: a district cannot lower the city's figure for itself;
- read the history of overrides: the platform admin, a bureau for its region and below.

An override is a new version (the previous one + 1) and never changes an older one; the
caller names the version it read (``expected_version``), and a write that comes second
(another bureau's edit in between, or a concurrent one: the unique version decides) answers
409 ``policy_override_stale``.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_contains, region_prefix
from scipass.core.db import flush_unique
from scipass.core.pagination import PageParams, count_rows
from scipass.org.errors import OutsideRegion, RegionNotFound
from scipass.org.models import Region, School
from scipass.policy.effective import EffectivePack, apply_overrides, effective, overrides_of
from scipass.policy.errors import PolicyOverrideInvalid, PolicyOverrideStale, PolicyRuleNotFound
from scipass.policy.loader import ancestors
from scipass.policy.models import PolicyOverride
from scipass.policy.pack_schema import Subject
from scipass.policy.schemas import OverrideCreate


def _region(session: Session, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {code} 的行政区划", f"No region with code {code}")
    return region


def may_read(session: Session, actor: Principal, region_code: str) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if actor.role is Role.bureau and actor.region_code:
        return region_contains(actor.region_code, region_code) or region_contains(
            region_code, actor.region_code
        )
    if actor.role in SCHOOL_ROLES and actor.school_id is not None:
        school = session.get(School, actor.school_id)
        return school is not None and region_contains(region_code, school.region_code)
    return False


def read_pack(session: Session, *, actor: Principal, region_code: str) -> EffectivePack:
    """The rules that apply to ``region_code``, for a caller who may read them."""
    _region(session, region_code)
    if not may_read(session, actor, region_code):
        raise OutsideRegion()
    return effective(session, region_code)


def create_override(
    session: Session, *, actor: Principal, data: OverrideCreate, now: datetime
) -> PolicyOverride:
    """Record version ``expected_version + 1`` of the rule's setting for the region."""
    _region(session, data.region_code)
    if not (actor.region_code and region_contains(actor.region_code, data.region_code)):
        raise OutsideRegion()
    pack = effective(session, data.region_code)
    rule = pack.rule(data.rule_id)
    if rule is None:
        raise PolicyRuleNotFound(
            f"地区 {data.region_code} 适用的政策包中没有规则 {data.rule_id}",
            f"No rule {data.rule_id} applies to region {data.region_code}",
        )
    if (
        rule.rule.subject is Subject.region
        and rule.region_code is not None
        and data.region_code != rule.region_code
    ):
        raise PolicyOverrideInvalid(
            f"该规则是地区 {rule.region_code} 全域的指标，只能在该地区设置",
            f"The rule is a figure of region {rule.region_code} as a whole; set it there",
        )
    current = pack.versions.get(data.rule_id, 0)
    if data.expected_version != current:
        raise PolicyOverrideStale(
            f"该规则在本地区的设置已是第 {current} 版", f"The setting is at version {current}"
        )
    row = PolicyOverride(
        region_code=data.region_code,
        rule_id=data.rule_id,
        version=current + 1,
        threshold_min=data.threshold_min,
        threshold_max=data.threshold_max,
        enabled=data.enabled,
        reason=data.reason.strip(),
        created_by=actor.subject,
        created_at=now,
    )
    _check_range(session, pack, row)
    session.add(row)
    flush_unique(session, PolicyOverrideStale())  # a concurrent version came first
    audit_service.record(
        session,
        action=audit_service.Action.policy_override_created,
        at=now,
        actor=actor,
        object_type="policy_override",
        object_id=row.id,
        region_code=row.region_code,
        rule_id=row.rule_id,
        version=row.version,
        threshold_min=row.threshold_min,
        threshold_max=row.threshold_max,
        enabled=row.enabled,
        reason=row.reason,
    )
    return row


def _check_range(session: Session, pack: EffectivePack, row: PolicyOverride) -> None:
    """The rule as it would apply with ``row`` must keep its minimum at or below its maximum
    (the database's check sees only the values the row sets itself)."""
    rows = [*overrides_of(session, ancestors(row.region_code)), row]
    after = apply_overrides(pack.resolved, row.region_code, rows).rule(row.rule_id)
    assert after is not None
    if (
        after.threshold_min is not None
        and after.threshold_max is not None
        and after.threshold_min > after.threshold_max
    ):
        raise PolicyOverrideInvalid(
            f"达标下限 {after.threshold_min} 高于上限 {after.threshold_max}",
            f"The minimum {after.threshold_min} exceeds the maximum {after.threshold_max}",
        )


def list_overrides(
    session: Session,
    *,
    actor: Principal,
    region_code: str | None,
    rule_id: str | None,
    page: PageParams,
) -> tuple[list[PolicyOverride], int]:
    """Override versions recorded at ``region_code`` and the regions below it, newest first
    (a bureau: its own region when none is named)."""
    if actor.role is Role.bureau:
        region_code = region_code or actor.region_code
        scope = actor.region_code or ""
        if not (scope and region_code and region_contains(scope, region_code)):
            raise OutsideRegion()
    query = select(PolicyOverride)
    if region_code:
        query = query.where(col(PolicyOverride.region_code).startswith(region_prefix(region_code)))
    if rule_id:
        query = query.where(PolicyOverride.rule_id == rule_id)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(PolicyOverride.created_at).desc(), col(PolicyOverride.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total
