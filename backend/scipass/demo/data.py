"""The demo world, in the regions the seed documents come from (shared/seeds/INDEX.md):
Xiangtan and Xiangxiang (000, 001, 003: Hunan), Chifeng (002), Jincheng (004).

School and venue names are made up but shaped like real ones; coordinates are GCJ-02 points
in the right towns, phone numbers use each city's area code and are not real.
"""

from __future__ import annotations

# (code, name, level, parent_code): GB/T 2260
REGIONS: list[tuple[str, str, str, str | None]] = [
    ("430000", "湖南省", "province", None),
    ("430300", "湘潭市", "city", "430000"),
    ("430302", "雨湖区", "county", "430300"),
    ("430304", "岳塘区", "county", "430300"),
    ("430321", "湘潭县", "county", "430300"),
    ("430381", "湘乡市", "county", "430300"),
    ("430382", "韶山市", "county", "430300"),
    ("150000", "内蒙古自治区", "province", None),
    ("150400", "赤峰市", "city", "150000"),
    ("150402", "红山区", "county", "150400"),
    ("150404", "松山区", "county", "150400"),
    ("150426", "翁牛特旗", "county", "150400"),
    ("150429", "宁城县", "county", "150400"),
    ("140000", "山西省", "province", None),
    ("140500", "晋城市", "city", "140000"),
    ("140502", "城区", "county", "140500"),
    ("140522", "阳城县", "county", "140500"),
    ("140525", "泽州县", "county", "140500"),
    ("140581", "高平市", "county", "140500"),
]

# (name, region_code, stages, area, address)
SCHOOLS: list[tuple[str, str, list[str], str, str]] = [
    ("湘潭市雨湖区和平小学", "430302", ["primary"], "urban", "湘潭市雨湖区和平路12号"),
    ("湘潭市岳塘区实验中学", "430304", ["junior"], "urban", "湘潭市岳塘区建设南路88号"),
    ("湘潭市第九中学", "430302", ["junior", "senior"], "urban", "湘潭市雨湖区韶山中路201号"),
    ("湘潭县花石镇中心小学", "430321", ["primary"], "rural", "湘潭县花石镇花石街36号"),
    ("湘乡市东郊乡中学", "430381", ["junior"], "rural", "湘乡市东郊乡东郊村"),
    ("湘乡市第二中学", "430381", ["senior"], "urban", "湘乡市望春门街道东山路15号"),
    ("湘潭市工贸中等专业学校", "430304", ["vocational"], "urban", "湘潭市岳塘区荷塘乡书院路9号"),
    ("韶山市银田镇九年一贯制学校", "430382", ["primary", "junior"], "rural", "韶山市银田镇银田村"),
    ("赤峰市红山区钢铁街小学", "150402", ["primary"], "urban", "赤峰市红山区钢铁街南段"),
    ("赤峰市松山区第四中学", "150404", ["junior"], "urban", "赤峰市松山区玉龙大街西段"),
    ("赤峰市第二中学", "150402", ["senior"], "urban", "赤峰市红山区昭乌达路中段"),
    ("宁城县大城子镇中心小学", "150429", ["primary"], "rural", "宁城县大城子镇兴宁街"),
    ("翁牛特旗乌丹第三中学", "150426", ["junior"], "rural", "翁牛特旗乌丹镇全宁街"),
    ("赤峰市松山区职业技术学校", "150404", ["vocational"], "urban", "赤峰市松山区临潢大街"),
    ("晋城市城区凤台小学", "140502", ["primary"], "urban", "晋城市城区凤台东街"),
    ("晋城市第六中学", "140502", ["junior"], "urban", "晋城市城区泽州路北段"),
    ("晋城市第一中学", "140502", ["senior"], "urban", "晋城市城区中原街"),
    ("泽州县巴公镇中心学校", "140525", ["primary", "junior"], "rural", "泽州县巴公镇巴公村"),
    ("高平市陈区镇中学", "140581", ["junior"], "rural", "高平市陈区镇陈区村"),
    ("阳城县职业中学", "140522", ["vocational"], "rural", "阳城县凤城镇东关"),
]

# (name, kind, region_code, address, longitude, latitude, phone): GCJ-02
VENUES: list[tuple[str, str, str, str, float, float, str]] = [
    (
        "湘潭市科技馆",
        "science_museum",
        "430302",
        "湘潭市雨湖区韶山西路与河东大道交汇处",
        112.9044,
        27.8530,
        "0731-58260001",
    ),
    (
        "湘潭市博物馆",
        "museum",
        "430304",
        "湘潭市岳塘区湖湘东路1号",
        112.9573,
        27.8602,
        "0731-58260002",
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "university_lab",
        "430302",
        "湘潭市雨湖区羊牯塘街道湘潭大学",
        112.8640,
        27.8990,
        "0731-58260003",
    ),
    (
        "湘潭县青少年科技教育基地",
        "science_base",
        "430321",
        "湘潭县易俗河镇天易大道",
        112.9521,
        27.7785,
        "0731-57860004",
    ),
    (
        "湘乡市青少年校外活动中心",
        "youth_centre",
        "430381",
        "湘乡市新湘路街道东山路",
        112.5365,
        27.7342,
        "0731-56760005",
    ),
    (
        "赤峰市科技馆",
        "science_museum",
        "150404",
        "赤峰市松山区玉龙大街与锦山路交汇处",
        118.9176,
        42.2696,
        "0476-8260006",
    ),
    ("赤峰博物馆", "museum", "150404", "赤峰市松山区锦山路", 118.9222, 42.2747, "0476-8260007"),
    (
        "宁城县黑里河自然学校",
        "nature_school",
        "150429",
        "宁城县存金沟乡黑里河",
        118.4391,
        41.4580,
        "0476-4260008",
    ),
    (
        "晋城市科技馆",
        "science_museum",
        "140502",
        "晋城市城区凤台东街与白水街交汇处",
        112.8618,
        35.4994,
        "0356-2260009",
    ),
    ("晋城博物馆", "museum", "140502", "晋城市城区泽州路", 112.8450, 35.4925, "0356-2260010"),
    (
        "泽州县现代农业科普教育基地",
        "science_base",
        "140525",
        "泽州县金村镇",
        112.8033,
        35.4412,
        "0356-3660011",
    ),
    (
        "高平市青少年活动中心",
        "youth_centre",
        "140581",
        "高平市米山镇长平路",
        112.9240,
        35.7980,
        "0356-5260012",
    ),
]

# Every demo staff account has this password (written to var/demo-accounts.json).
DEMO_PASSWORD = "Scipass-demo-2026"  # noqa: S105 - published in demo-accounts.json

# (name, region_code)
BUREAUS: list[tuple[str, str]] = [
    ("湘潭市教育局", "430300"),
    ("湘乡市教育局", "430381"),
    ("赤峰市教育局", "150400"),
    ("晋城市教育局", "140500"),
]

# (username, display name, role, organisation name: a school, venue or bureau above)
STAFF: list[tuple[str, str, str, str | None]] = [
    ("admin", "平台管理员", "platform_admin", None),
    ("xt-bureau", "湘潭市教育局 王科长", "bureau", "湘潭市教育局"),
    ("xx-bureau", "湘乡市教育局 刘老师", "bureau", "湘乡市教育局"),
    ("cf-bureau", "赤峰市教育局 包科长", "bureau", "赤峰市教育局"),
    ("jc-bureau", "晋城市教育局 常老师", "bureau", "晋城市教育局"),
    ("heping-admin", "和平小学 教务处 周老师", "school_admin", "湘潭市雨湖区和平小学"),
    ("heping-teacher", "和平小学 科学老师 李老师", "school_staff", "湘潭市雨湖区和平小学"),
    ("xx2-admin", "湘乡二中 教务处 谭老师", "school_admin", "湘乡市第二中学"),
    ("xx2-teacher", "湘乡二中 物理老师 彭老师", "school_staff", "湘乡市第二中学"),
    ("dongjiao-admin", "东郊乡中学 教导主任 曾老师", "school_admin", "湘乡市东郊乡中学"),
    ("gtj-admin", "钢铁街小学 教务处 张老师", "school_admin", "赤峰市红山区钢铁街小学"),
    ("fengtai-admin", "凤台小学 教务处 郭老师", "school_admin", "晋城市城区凤台小学"),
    ("xtkjg-admin", "湘潭市科技馆 教育部 主任", "venue_admin", "湘潭市科技馆"),
    ("xtkjg-staff", "湘潭市科技馆 讲解员", "venue_staff", "湘潭市科技馆"),
    ("cfkjg-admin", "赤峰市科技馆 教育部 主任", "venue_admin", "赤峰市科技馆"),
    ("jckjg-admin", "晋城市科技馆 教育部 主任", "venue_admin", "晋城市科技馆"),
]

# Rosters: (school, grade label, class, how many students)
CLASSES: list[tuple[str, str, str, int]] = [
    ("湘潭市雨湖区和平小学", "四年级", "1班", 12),
    ("湘潭市雨湖区和平小学", "五年级", "2班", 12),
    ("湘乡市第二中学", "高一", "3班", 12),
    ("湘乡市东郊乡中学", "八年级", "1班", 10),
    ("赤峰市红山区钢铁街小学", "六年级", "1班", 10),
    ("晋城市城区凤台小学", "三年级", "2班", 10),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林谭彭曾包常"
GIVEN = [
    "子涵",
    "雨桐",
    "浩然",
    "梓萱",
    "宇轩",
    "欣怡",
    "俊熙",
    "思彤",
    "明轩",
    "一诺",
    "嘉怡",
    "梓豪",
    "语嫣",
    "博文",
    "可馨",
    "天佑",
    "诗涵",
    "皓轩",
    "若曦",
    "晨阳",
]

# WeChat users of the demo, logging in with `dev-<name>` in fake mode:
# (dev name, kind, school, grade label, class, index in class, guardian consent)
WECHAT_USERS: list[tuple[str, str, str, str, str, int, str | None]] = [
    # under 14, guardian consented to everything
    ("xiaoming", "student", "湘潭市雨湖区和平小学", "四年级", "1班", 0, "granted"),
    ("xiaoming-mama", "guardian", "湘潭市雨湖区和平小学", "四年级", "1班", 0, None),
    # under 14, no consent yet: participation is refused with consent_required
    ("xiaohong", "student", "湘潭市雨湖区和平小学", "五年级", "2班", 1, "none"),
    # under 14, consent given on paper, then location withdrawn
    ("tiantian", "student", "赤峰市红山区钢铁街小学", "六年级", "1班", 2, "paper"),
    # 14 or older: no guardian consent needed
    ("lihua", "student", "湘乡市第二中学", "高一", "3班", 0, None),
    ("xiaoyu", "student", "晋城市城区凤台小学", "三年级", "2班", 3, "granted"),
]
