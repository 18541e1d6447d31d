"""Policy pack files: the shipped packs, their inheritance, and every kind of malformed pack
(each named by file, rule and field, at start-up)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from scipass import cli
from scipass.core.config import Settings
from scipass.main import create_app
from scipass.policy import packs
from scipass.policy.loader import OriginKind, PackLoadError, PackProblem, PackSet, load_packs
from scipass.record.models import DEFAULT_DIMENSION, Dimension, RecordCategory

NATIONAL = """
id = "national"
name = "全国（默认）"

[dimensions]
moral = "思想品德"
academic = "学业水平"
health = "身心健康"
art = "艺术素养"
social_practice = "社会实践"

[category_dimensions]
science_visit = "social_practice"
course_lecture = "social_practice"
inquiry = "academic"
competition = "academic"
volunteer = "moral"
other = "social_practice"
"""

PROVINCE = """
id = "province"
name = "测试省"
region_code = "970000"
parent = "national"

[[rules]]
id = "venue_visit_yearly"
description = "每所学校每年到科普场所开展活动不少于1次"
source = { file = "003_09c4e1dfef763b9a.txt", section = "三.(二)" }
subject = "school"
period = { kind = "school_year" }
measure = { kind = "activity_count", organiser_kinds = ["venue"] }
threshold = { min = 1 }

[[rules]]
id = "after_school_weekly"
description = "课后服务科普活动每周不少于1次"
source = { file = "003_09c4e1dfef763b9a.txt", section = "三.(一)" }
subject = "school"
period = { kind = "week" }
measure = { kind = "activity_count", after_school = true }
threshold = { min = 1 }
"""

CITY = """
id = "city"
name = "测试市"
region_code = "970100"
parent = "province"

[[overrides]]
rule = "venue_visit_yearly"
threshold = { min = 2, max = 3 }
source = { file = "001_151d3bf122f96dae.txt", section = "二.(一).5" }

[[overrides]]
rule = "after_school_weekly"
enabled = false

[[rules]]
id = "counsellor_training_yearly"
description = "每年培训科技辅导员200人次"
source = { file = "001_151d3bf122f96dae.txt", section = "二.(一).7" }
subject = "region"
period = { kind = "school_year" }
measure = { kind = "training_person_times" }
threshold = { min = 200 }
"""

COUNTY = """
id = "county"
name = "测试县"
region_code = "970101"
parent = "city"
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def good(tmp_path: Path, **replaced: str) -> Path:
    """The four test packs, with some files' text replaced."""
    files = {
        "national.toml": NATIONAL,
        "province.toml": PROVINCE,
        "city.toml": CITY,
        "county.toml": COUNTY,
    }
    files.update({f"{name}.toml": text for name, text in replaced.items()})
    return write(tmp_path / "packs", files)


def problems_of(directory: Path) -> list[PackProblem]:
    with pytest.raises(PackLoadError) as raised:
        load_packs(directory)
    for problem in raised.value.problems:  # every problem is in the message, named in full
        assert str(problem) in str(raised.value)
    return list(raised.value.problems)


def only(directory: Path) -> PackProblem:
    found = problems_of(directory)
    assert len(found) == 1, found
    return found[0]


# --- the shipped packs ---------------------------------------------------------------------

SEEDS = {
    "000_bc62f6f6556f55e7.txt",
    "001_151d3bf122f96dae.txt",
    "002_5ae503ea15f2cdb9.txt",
    "003_09c4e1dfef763b9a.txt",
    "004_a42cebf4a1d730ba.txt",
}

# The table of issue 19: each pack, its parent, and the rules it adds (id -> min, max).
SHIPPED = {
    "national": (None, None, {}),
    "hunan": (
        "430000",
        "national",
        {
            "venue_visit_yearly": (1, None),
            "after_school_science_weekly": (1, None),
            "top_scientist_talks_yearly": (1, 2),
            "mobile_museum_remote_yearly": (60, None),
        },
    ),
    "xiangtan": ("430300", "hunan", {"counsellor_training_city_yearly": (200, None)}),
    "xiangxiang": ("430381", "xiangtan", {"counsellor_training_county_yearly": (100, None)}),
    "shanxi": ("140000", "national", {}),
    "jincheng": (
        "140500",
        "shanxi",
        {
            "scientist_in_school_semester": (1, None),
            "practice_at_base_semester": (1, None),
            "science_first_lesson_semester": (1, None),
            "venue_pairing_main_urban": (1, None),
            "science_vice_principal": (1, None),
            "science_counsellor": (1, None),
        },
    ),
    "inner_mongolia": ("150000", "national", {}),
    "chifeng": ("150400", "inner_mongolia", {"venue_visit_regular": (None, None)}),
}


def test_the_shipped_packs_hold_the_issue_table() -> None:
    shipped = packs.shipped()
    assert set(shipped.by_id) == set(SHIPPED)
    for pack_id, (region, parent, rules) in SHIPPED.items():
        resolved = shipped.by_id[pack_id]
        assert (resolved.pack.region_code, resolved.pack.parent) == (region, parent), pack_id
        own = {
            r.id: (r.threshold_min, r.threshold_max) for r in resolved.rules if r.pack_id == pack_id
        }
        assert own == rules, pack_id
        for rule in resolved.rules:
            assert rule.rule.source.file in SEEDS
            assert rule.enabled


def test_each_seed_belongs_to_its_own_region() -> None:
    cited = {
        p.pack.id: {r.rule.source.file for r in p.rules if r.pack_id == p.pack.id}
        for p in packs.shipped().by_id.values()
    }
    cited = {pack_id: files for pack_id, files in cited.items() if files}
    assert cited == {
        "hunan": {"003_09c4e1dfef763b9a.txt"},
        "xiangtan": {"001_151d3bf122f96dae.txt"},
        "xiangxiang": {"000_bc62f6f6556f55e7.txt"},
        "jincheng": {"004_a42cebf4a1d730ba.txt"},
        "chifeng": {"002_5ae503ea15f2cdb9.txt"},
    }


def test_the_jincheng_rules_read_as_the_document_says() -> None:
    jincheng = packs.shipped().by_id["jincheng"]
    pairing = jincheng.rule("venue_pairing_main_urban")
    vice = jincheng.rule("science_vice_principal")
    assert pairing is not None
    assert vice is not None
    assert pairing.rule.applies_to.main_urban_district is True
    assert str(pairing.rule.period.deadline) == "2024-06-30"
    assert vice.rule.measure.staff_role == "vice_principal"
    assert {r.rule.source.section for r in jincheng.rules} == {"二.(一).4", "二.(一).5"}


def test_the_national_pack_maps_as_the_code_did() -> None:
    national = packs.shipped().root
    assert national.pack.id == "national"
    assert national.rules == ()
    assert set(national.dimensions) == set(Dimension)
    assert dict(national.category_dimensions) == DEFAULT_DIMENSION


def test_a_region_takes_the_pack_of_its_nearest_region_with_one() -> None:
    shipped = packs.shipped()
    assert shipped.for_region("430381").pack.id == "xiangxiang"
    assert shipped.for_region("430302").pack.id == "xiangtan"  # a district of Xiangtan
    assert shipped.for_region("430102").pack.id == "hunan"  # Changsha: Hunan's pack
    assert shipped.for_region("140525").pack.id == "jincheng"
    assert shipped.for_region("110101").pack.id == "national"
    chain = [p.id for p in shipped.for_region("430381").chain]
    assert chain == ["national", "hunan", "xiangtan", "xiangxiang"]


# --- inheritance, overrides and switching off in the files ---------------------------------


def test_children_add_rules_and_override_inherited_ones(tmp_path: Path) -> None:
    loaded = load_packs(good(tmp_path))
    province = loaded.by_id["province"]
    city = loaded.by_id["city"]
    county = loaded.for_region("970101")

    visit = province.rule("venue_visit_yearly")
    assert visit is not None
    assert (visit.threshold_min, visit.threshold_max, visit.enabled) == (1, None, True)
    assert (visit.min_from.kind, visit.min_from.pack_id) == (OriginKind.pack, "province")

    for pack in (city, county):  # the override holds for the city and what inherits from it
        changed = pack.rule("venue_visit_yearly")
        assert changed is not None
        assert (changed.threshold_min, changed.threshold_max) == (2, 3)
        assert changed.pack_id == "province"  # still the province's rule
        assert (changed.min_from.kind, changed.min_from.pack_id) == (
            OriginKind.pack_override,
            "city",
        )
        assert changed.enabled_from.kind is OriginKind.pack  # enabled untouched
        off = pack.rule("after_school_weekly")
        assert off is not None
        assert off.enabled is False
        assert (off.enabled_from.kind, off.enabled_from.pack_id) == (
            OriginKind.pack_override,
            "city",
        )
        assert off.threshold_min == 1  # switched off, threshold as it was
    assert [r.id for r in county.rules] == [
        "venue_visit_yearly",
        "after_school_weekly",
        "counsellor_training_yearly",
    ]
    assert province.rule("counsellor_training_yearly") is None  # a child's rule stays below
    assert county.pack.id == "county"


def test_a_child_may_replace_the_dimensions_and_remap_categories(tmp_path: Path) -> None:
    county = COUNTY + textwrap.dedent(
        """
        [dimensions]
        moral = "品德发展与公民素养"
        academic = "修习课程与学业成绩"
        health = "身心健康与艺术素养"
        social_practice = "创新精神与实践能力"

        [category_dimensions]
        competition = "social_practice"
        """
    )
    loaded = load_packs(good(tmp_path, county=county))
    resolved = loaded.for_region("970101")
    assert set(resolved.dimensions) == {"moral", "academic", "health", "social_practice"}
    assert resolved.category_dimensions[RecordCategory.competition] is Dimension.social_practice
    assert resolved.category_dimensions[RecordCategory.inquiry] is Dimension.academic
    assert loaded.uniform_mapping is False
    assert load_packs(good(tmp_path / "plain")).uniform_mapping is True


# --- malformed packs: each names the file, the rule and the field ---------------------------


def test_an_unknown_field_is_named(tmp_path: Path) -> None:
    text = PROVINCE.replace("after_school = true }", 'after_school = true, colour = "red" }')
    problem = only(good(tmp_path, province=text))
    assert (problem.file, problem.rule, problem.field) == (
        "province.toml",
        "after_school_weekly",
        "measure.colour",
    )
    assert "unknown field" in problem.message
    top = only(good(tmp_path / "top", county=COUNTY + "weight = 3\n"))
    assert (top.file, top.rule, top.field) == ("county.toml", None, "weight")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("threshold = { min = 200 }", 'threshold = { min = "200" }', "threshold.min"),
        ("threshold = { min = 200 }", "threshold = { min = 2.5 }", "threshold.min"),
        ('subject = "region"', "subject = 1", "subject"),
        ('subject = "region"', 'subject = "district"', "subject"),
        ("threshold = { min = 200 }", "threshold = { min = -1 }", "threshold.min"),
        ("threshold = { min = 200 }", 'threshold = { min = 200 }\nenabled = "no"', "enabled"),
        # a seed file the views cannot name (policy/vocab.py SEED_DOCUMENTS)
        (
            'file = "001_151d3bf122f96dae.txt", section = "二.(一).7"',
            'file = "009_0000000000000000.txt", section = "二.(一).7"',
            "source.file",
        ),
    ],
)
def test_a_wrong_type_is_named(tmp_path: Path, old: str, new: str, field: str) -> None:
    problem = only(good(tmp_path, city=CITY.replace(old, new)))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "counsellor_training_yearly",
        field,
    )


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    text = CITY.replace('period = { kind = "school_year" }\n', "")
    problem = only(good(tmp_path, city=text))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "counsellor_training_yearly",
        "period",
    )
    assert problem.message == "required field missing"
    nameless = only(
        good(tmp_path / "nameless", city=CITY.replace('id = "counsellor_training_yearly"\n', ""))
    )
    assert (nameless.rule, nameless.field) == ("#1", "id")  # no id: the rule by its position
    no_name = only(good(tmp_path / "pack", county=COUNTY.replace('name = "测试县"\n', "")))
    assert (no_name.file, no_name.rule, no_name.field) == ("county.toml", None, "name")


@pytest.mark.parametrize(
    ("period", "field"),
    [
        ('{ kind = "deadline" }', "period.deadline"),  # a deadline without its date
        ('{ kind = "week", deadline = 2024-06-30 }', "period.deadline"),  # a date it cannot use
        ('{ kind = "deadline", deadline = "2024-06-30" }', "period.deadline"),  # text, not a date
        ('{ kind = "fortnight" }', "period.kind"),
    ],
)
def test_a_bad_period_or_deadline_is_named(tmp_path: Path, period: str, field: str) -> None:
    text = CITY.replace('period = { kind = "school_year" }', f"period = {period}")
    problem = only(good(tmp_path, city=text))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "counsellor_training_yearly",
        field,
    )


def test_a_date_that_does_not_exist_is_a_toml_error_of_the_file(tmp_path: Path) -> None:
    text = CITY.replace(
        'period = { kind = "school_year" }', 'period = { kind = "deadline", deadline = 2024-06-31 }'
    )
    problem = only(good(tmp_path, city=text))
    assert (problem.file, problem.field) == ("city.toml", "(file)")
    assert "line" in problem.message  # tomllib says where


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        # a school's measure for a region, a region's measure for a school
        (
            'measure = { kind = "training_person_times" }',
            'measure = { kind = "pairing_exists" }',
            "measure",
        ),
        ('subject = "region"', 'subject = "school"', "measure"),
        # a staff measure without its role; an activity filter on another measure
        (
            'measure = { kind = "training_person_times" }',
            'measure = { kind = "staff_in_role" }',
            "measure.staff_role",
        ),
        (
            'measure = { kind = "training_person_times" }',
            'measure = { kind = "training_person_times", programmes = ["science_first_lesson"] }',
            "measure.programmes",
        ),
        (
            'measure = { kind = "training_person_times" }',
            'measure = { kind = "activity_count", programmes = ["science_second_lesson"] }',
            "measure.programmes.0",
        ),
        ("threshold = { min = 200 }", "threshold = { min = 3, max = 2 }", "threshold.max"),
        (
            'description = "每年培训科技辅导员200人次"',
            'description = "train 200 a year"',
            "description",
        ),
        (
            'file = "001_151d3bf122f96dae.txt", section = "二.(一).7"',
            'file = "xiangtan-plan.pdf", section = "二.(一).7"',
            "source.file",
        ),
    ],
)
def test_fields_that_contradict_each_other_are_named(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    assert old in CITY
    problem = only(good(tmp_path, city=CITY.replace(old, new, 1)))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "counsellor_training_yearly",
        field,
    )


def test_an_unknown_parent_is_named(tmp_path: Path) -> None:
    problem = only(good(tmp_path, county=COUNTY.replace('parent = "city"', 'parent = "cty"')))
    assert (problem.file, problem.rule, problem.field) == ("county.toml", None, "parent")
    assert "cty" in problem.message


def test_a_circle_of_parents_is_named(tmp_path: Path) -> None:
    province = PROVINCE.replace('parent = "national"', 'parent = "county"')
    found = problems_of(good(tmp_path, province=province))
    assert {(p.file, p.field) for p in found} >= {("province.toml", "parent")}
    circle = next(p for p in found if p.file == "province.toml" and "circle" in p.message)
    assert "province -> county -> city -> province" in circle.message


def test_a_parent_whose_region_does_not_contain_the_child_is_named(tmp_path: Path) -> None:
    problem = only(good(tmp_path, county=COUNTY.replace('"970101"', '"960101"')))
    assert (problem.file, problem.field) == ("county.toml", "parent")


def test_the_national_pack_is_one(tmp_path: Path) -> None:
    orphan = COUNTY.replace('parent = "city"\n', "").replace('region_code = "970101"\n', "")
    found = problems_of(good(tmp_path, county=orphan))
    assert {(p.file, p.field) for p in found} == {
        ("national.toml", "parent"),
        ("county.toml", "parent"),
    }
    regional = only(good(tmp_path / "b", county=COUNTY.replace('parent = "city"\n', "")))
    assert (regional.file, regional.field) == ("county.toml", "parent")


def test_a_duplicate_rule_id_is_named(tmp_path: Path) -> None:
    first = PROVINCE.index("[[rules]]")
    twice = PROVINCE + PROVINCE[first : PROVINCE.index("[[rules]]", first + 1)]
    problem = only(good(tmp_path, province=twice))
    assert (problem.file, problem.rule, problem.field) == (
        "province.toml",
        "venue_visit_yearly",
        "id",
    )
    # a child defining a rule it inherits (it must override it instead)
    again = CITY.replace("counsellor_training_yearly", "venue_visit_yearly")
    inherited = only(good(tmp_path / "chain", city=again))
    assert (inherited.file, inherited.rule, inherited.field) == (
        "city.toml",
        "venue_visit_yearly",
        "id",
    )
    assert "pack province" in inherited.message


def test_an_override_of_an_unknown_rule_is_named(tmp_path: Path) -> None:
    text = CITY.replace('rule = "after_school_weekly"', 'rule = "after_school_daily"')
    problem = only(good(tmp_path, city=text))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "after_school_daily",
        "overrides[1].rule",
    )
    own = CITY.replace('rule = "after_school_weekly"', 'rule = "counsellor_training_yearly"')
    problem = only(good(tmp_path / "own", city=own))
    assert (problem.rule, problem.field) == ("counsellor_training_yearly", "overrides[1].rule")
    empty = CITY.replace("enabled = false", "")
    problem = only(good(tmp_path / "empty", city=empty))
    assert (problem.rule, problem.field) == ("after_school_weekly", "overrides[1].enabled")


def test_a_mapping_to_a_dimension_the_pack_lacks_is_named(tmp_path: Path) -> None:
    county = COUNTY + '\n[dimensions]\nmoral = "品德"\nacademic = "学业"\n'
    found = problems_of(good(tmp_path, county=county))
    assert {(p.file, p.field) for p in found} == {
        ("county.toml", "category_dimensions.science_visit"),
        ("county.toml", "category_dimensions.course_lecture"),
        ("county.toml", "category_dimensions.other"),
    }
    unmapped = NATIONAL.replace('other = "social_practice"\n', "")
    problem = only(good(tmp_path / "national", national=unmapped))
    assert (problem.file, problem.field) == ("national.toml", "category_dimensions.other")


def test_the_pack_id_is_the_file_name(tmp_path: Path) -> None:
    problem = only(good(tmp_path, county=COUNTY.replace('id = "county"', 'id = "shire"')))
    assert (problem.file, problem.field) == ("county.toml", "id")


def test_an_override_in_a_file_is_named_by_the_rule_it_changes(tmp_path: Path) -> None:
    text = CITY.replace("threshold = { min = 2, max = 3 }", "threshold = { min = 4, max = 3 }")
    problem = only(good(tmp_path, city=text))
    assert (problem.file, problem.rule, problem.field) == (
        "city.toml",
        "venue_visit_yearly",
        "overrides[0].threshold.max",
    )


def test_every_fault_is_reported_at_once(tmp_path: Path) -> None:
    city = CITY.replace("threshold = { min = 200 }", 'threshold = { min = "x" }')
    county = COUNTY + "weight = 3\n"
    found = problems_of(good(tmp_path, city=city, county=county))
    assert {(p.file, p.field) for p in found} == {
        ("city.toml", "threshold.min"),
        ("county.toml", "weight"),
    }


# --- a malformed pack stops the start -------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = good(tmp_path, city=CITY.replace('kind = "school_year"', 'kind = "deadline"'))

    def current() -> PackSet:
        return load_packs(directory)

    monkeypatch.setattr(packs, "current", current)
    return directory


def test_the_app_does_not_start_with_a_malformed_pack(broken: Path, settings: Settings) -> None:
    with pytest.raises(PackLoadError) as raised:
        create_app(settings)
    assert "city.toml: rule counsellor_training_yearly: field period.deadline" in str(raised.value)


def test_the_command_does_not_start_with_a_malformed_pack(
    broken: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["scipass", "openapi", "--check"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 2
    assert "city.toml: rule counsellor_training_yearly: field period.deadline" in (
        capsys.readouterr().err
    )
