"""Policy packs: a region's effective rules, and bureaus' overrides of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from scipass.core.callers import BureauCaller, BureauOrPlatform, PolicyReader
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import OutsideRegion, RegionNotFound
from scipass.policy import service as policy_service
from scipass.policy.effective import EffectivePack
from scipass.policy.errors import PolicyOverrideInvalid, PolicyOverrideStale, PolicyRuleNotFound
from scipass.policy.loader import Origin, ResolvedRule
from scipass.policy.models import PolicyOverride
from scipass.policy.pack_schema import REGION_CODE, RULE_ID, Pack
from scipass.policy.schemas import (
    CategoryDimensionRead,
    DimensionRead,
    EffectivePackRead,
    EffectiveRuleRead,
    EffectiveThreshold,
    OverrideCreate,
    OverrideRead,
    PackRef,
    RuleOrigins,
    ValueOrigin,
)

router = APIRouter(tags=["policy"])

RegionCode = Annotated[str, Path(pattern=REGION_CODE, description="GB/T 2260 六位行政区划代码")]


def _ref(pack: Pack) -> PackRef:
    return PackRef(id=pack.id, name=pack.name, region_code=pack.region_code)


def _origin(origin: Origin) -> ValueOrigin:
    return ValueOrigin(
        kind=origin.kind,
        pack_id=origin.pack_id,
        region_code=origin.region_code,
        version=origin.version,
    )


def _rule(pack: EffectivePack, rule: ResolvedRule) -> EffectiveRuleRead:
    defined_in = next(p for p in pack.resolved.chain if p.id == rule.pack_id)
    return EffectiveRuleRead(
        id=rule.id,
        description=rule.rule.description,
        source=rule.rule.source,
        subject=rule.rule.subject,
        applies_to=rule.rule.applies_to,
        period=rule.rule.period,
        measure=rule.rule.measure,
        in_force=rule.rule.in_force,
        defined_in=_ref(defined_in),
        threshold=EffectiveThreshold(min=rule.threshold_min, max=rule.threshold_max),
        enabled=rule.enabled,
        ready=rule.enabled and rule.threshold_min is not None,
        origins=RuleOrigins(
            threshold_min=_origin(rule.min_from),
            threshold_max=_origin(rule.max_from),
            enabled=_origin(rule.enabled_from),
        ),
        version=pack.versions.get(rule.id, 0),
    )


def _override(row: PolicyOverride) -> OverrideRead:
    return OverrideRead.model_validate(row, from_attributes=True)


@router.get(
    "/policy/packs/{region_code}",
    name="policy-pack-get",
    summary="地区适用的政策包",
    description="本地区（或最近的有政策包的上级地区）的政策包及其继承链：评价维度、记录类别到"
    "维度的对应、每条规则（依据的文件与条款、适用学校、周期、计量、达标值）及每个值的来源"
    "（政策包文件，或哪一级教育局的第几版设置）。教育局可看本辖区、下级与上级地区；学校可看"
    "本校所在地区及其上级地区。",
    responses=problem_responses(RegionNotFound, OutsideRegion),
)
def get_pack(
    region_code: RegionCode, caller: PolicyReader, session: SessionDep
) -> EffectivePackRead:
    pack = policy_service.read_pack(session, actor=caller, region_code=region_code)
    return EffectivePackRead(
        region_code=region_code,
        pack=_ref(pack.resolved.pack),
        chain=[_ref(p) for p in pack.resolved.chain],
        dimensions=[DimensionRead(code=c, name=n) for c, n in pack.dimensions.items()],
        category_dimensions=[
            CategoryDimensionRead(category=c, dimension=d)
            for c, d in pack.category_dimensions.items()
        ],
        rules=[_rule(pack, rule) for rule in pack.rules],
    )


@router.post(
    "/policy/overrides",
    name="policy-override-create",
    summary="调整本地区的规则（达标值、停用）",
    description="教育局为本辖区（或下级地区）设置一条规则的达标下限、上限或停用，适用于该地区"
    "及其下级地区（下级地区另有设置的除外）。每次设置为新的版本，旧版本保留并可查询；"
    "未给出的值沿用上级设置或政策包文件。地区全域的指标（subject=region）只能在定义它的地区"
    "设置。须给出读到的版本 `expected_version`，期间他人已修改则返回 409。",
    status_code=201,
    responses=problem_responses(
        RegionNotFound,
        OutsideRegion,
        PolicyRuleNotFound,
        PolicyOverrideInvalid,
        PolicyOverrideStale,
    ),
)
def create_override(
    body: OverrideCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> OverrideRead:
    row = policy_service.create_override(session, actor=caller, data=body, now=clock.now())
    return _override(row)


@router.get(
    "/policy/overrides",
    name="policy-override-list",
    summary="规则设置的历史版本",
    description="在该地区及其下级地区记录的规则设置，最新的在前。教育局不填地区时为本辖区。",
    responses=problem_responses(OutsideRegion),
)
def list_overrides(
    caller: BureauOrPlatform,
    session: SessionDep,
    page: PageDep,
    region_code: Annotated[
        str | None, Query(pattern=REGION_CODE, description="行政区划代码（含下级区划）")
    ] = None,
    rule_id: Annotated[str | None, Query(pattern=RULE_ID, description="规则")] = None,
) -> Page[OverrideRead]:
    rows, total = policy_service.list_overrides(
        session, actor=caller, region_code=region_code, rule_id=rule_id, page=page
    )
    return Page[OverrideRead].of([_override(r) for r in rows], total, page)
