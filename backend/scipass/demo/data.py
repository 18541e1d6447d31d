"""The demo world, in the regions the seed documents come from (shared/seeds/INDEX.md):
Xiangtan and Xiangxiang (000, 001, 003: Hunan), Chifeng (002), Jincheng (004).

School and venue names are made up but shaped like real ones; coordinates are GCJ-02 points
in the right towns, phone numbers use each city's area code and are not real.
"""

from __future__ import annotations

from typing import Any

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
    (
        "xtu-lab-admin",
        "湘潭大学实验教学中心 陈老师",
        "venue_admin",
        "湘潭大学物理与光电工程实验教学中心",
    ),
    ("xtxjd-admin", "湘潭县科技教育基地 胡老师", "venue_admin", "湘潭县青少年科技教育基地"),
    ("xxhd-admin", "湘乡市青少年校外活动中心 彭老师", "venue_admin", "湘乡市青少年校外活动中心"),
    ("cfbwg-admin", "赤峰博物馆 社教部 乌老师", "venue_admin", "赤峰博物馆"),
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
    # classmates of the students above, in the same participation records (RECORD_PLANS)
    ("xiaogang", "student", "湘潭市雨湖区和平小学", "四年级", "1班", 1, "granted"),
    ("wangfang", "student", "湘乡市第二中学", "高一", "3班", 1, None),
    ("xiaoxue", "student", "赤峰市红山区钢铁街小学", "六年级", "1班", 3, "granted"),
    ("dongdong", "student", "晋城市城区凤台小学", "三年级", "2班", 4, "granted"),
]

# --- the venue directory (issue 4) -----------------------------------------------------------

Week = dict[str, list[list[str]]]


def week(days: str, periods: list[list[str]], **other_days: list[list[str]]) -> Week:
    """Opening hours: ``periods`` on the ISO weekdays in ``days`` ("234567" = Tue to Sun),
    other periods on the days given by keyword (``d3=[...]`` for Wednesday), closed otherwise."""
    result: Week = {str(day): (list(periods) if str(day) in days else []) for day in range(1, 8)}
    for key, value in other_days.items():
        result[key.removeprefix("d")] = value
    return result


MUSEUM_HOURS = [["09:00", "17:00"]]
AFTER_SCHOOL = [["09:00", "18:30"]]  # a museum day extended for after-school groups 16:30-18:30
LAB_HOURS = [["08:30", "11:30"], ["14:30", "17:30"]]

# Each demo venue's directory profile. ``listed: False`` is a new venue whose first profile
# waits in the bureau's review queue (its draft is this profile, submitted two days ago).
VENUE_PROFILES: dict[str, dict[str, Any]] = {
    "湘潭市科技馆": {
        "slug": "xtkjg",
        "services": "常设展厅（力学、电磁、声光、航空航天、生命科学）讲解参观；球幕影院科普影片；"
        "青少年创客实验室课程；科学秀与科普讲座；周三、周五课后服务时段（16:30-18:30）"
        "为中小学团体开设绿色通道。",
        "facilities": "展厅面积约 1.2 万平方米，互动展品 300 余件；球幕影院 120 座；创客实验室"
        " 2 间共 40 个工位；报告厅 200 座；大巴停车位 10 个；无障碍通道与母婴室。",
        "weekly_hours": week("23467", MUSEUM_HOURS, d3=AFTER_SCHOOL, d5=AFTER_SCHOOL),
        "is_free": True,
        "fee_note": "常设展厅与球幕影院对中小学生免费，凭学生证或预约码入馆",
        "stages": ["primary", "junior", "senior"],
        "reservation_required": True,
        "photos": 3,
    },
    "湘潭市博物馆": {
        "slug": "xtbwg",
        "services": "湘潭历史文化基本陈列、齐白石艺术专题展讲解；“小小讲解员”研学课程；"
        "青少年文物修复与拓印体验。",
        "facilities": "展厅 8 个，面积约 9000 平方米；社教活动室 2 间；语音导览器 200 台。",
        "weekly_hours": week("234567", MUSEUM_HOURS),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior", "vocational"],
        "reservation_required": False,
        "photos": 2,
    },
    "湘潭大学物理与光电工程实验教学中心": {
        "slug": "xtu-lab",
        "services": "面向中学生开放光学、电磁学综合实验；扫描电子显微镜、X 射线衍射仪等大型"
        "仪器的观摩与上机体验（单台 50 万元以上仪器按时段有序预约）；大学教师指导课题研究。",
        "facilities": "实验室 12 间；场发射扫描电子显微镜 1 台、X 射线衍射仪 1 台；"
        "光学综合实验室 30 个工位；需穿实验服，馆方提供。",
        "weekly_hours": week("12345", LAB_HOURS, d6=[["09:00", "12:00"]]),
        "is_free": True,
        "fee_note": "",
        "stages": ["junior", "senior"],
        "reservation_required": True,
        "photos": 2,
    },
    "湘潭县青少年科技教育基地": {
        "slug": "xtx-base",
        "listed": False,
        "services": "水稻种植与农业科普研学；无人机编程与飞行体验；气象观测站开放；"
        "周末亲子科学实践活动。",
        "facilities": "占地约 60 亩，实验田 20 亩；无人机训练场 1 个；气象观测站 1 座；"
        "可容纳 200 人就餐的食堂。",
        "weekly_hours": week(
            "67", [["08:30", "12:00"], ["14:00", "17:30"]], d3=[["14:00", "18:00"]]
        ),
        "is_free": False,
        "fee_note": "研学课程 40 元/人（含材料费），参观免费；义务教育阶段建档立卡学生免费",
        "stages": ["primary", "junior"],
        "reservation_required": True,
        "photos": 2,
    },
    "湘乡市青少年校外活动中心": {
        "slug": "xxhd",
        "services": "科技制作、航模与机器人兴趣课程；天文台太阳黑子观测与夜间观星；"
        "周二、周四课后服务时段学校团体绿色通道；周末科普讲座。",
        "facilities": "科技制作室 3 间；天文台 1 座（600 毫米口径反射式望远镜）；"
        "报告厅 300 座；航模训练场 1 个。",
        "weekly_hours": week(
            "2345",
            [["14:00", "18:30"]],
            d6=[["08:30", "12:00"], ["14:00", "17:30"]],
            d7=[["08:30", "12:00"], ["14:00", "17:30"]],
        ),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior"],
        "reservation_required": True,
        "photos": 2,
    },
    "赤峰市科技馆": {
        "slug": "cfkjg",
        "services": "常设展厅（草原生态、能源科技、机器人）讲解参观；天象厅星空节目；"
        "机器人实验室课程；周二、周四课后服务时段（16:30-18:30）中小学团体绿色通道。",
        "facilities": "展厅面积约 1 万平方米；天象厅 80 座（数字天象仪）；机器人实验室 24 个"
        "工位；冬季馆内供暖，设存衣处。",
        "weekly_hours": week("23567", [["09:00", "16:30"]], d2=AFTER_SCHOOL, d4=AFTER_SCHOOL),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior"],
        "reservation_required": True,
        "photos": 3,
    },
    "赤峰博物馆": {
        "slug": "cfbwg",
        "services": "红山文化、契丹辽文化基本陈列讲解；“小小考古家”模拟考古研学；"
        "玉器里的科学专题讲座。",
        "facilities": "展厅 10 个；模拟考古坑 1 处（可容纳 40 人）；多功能报告厅 150 座。",
        "weekly_hours": week("234567", MUSEUM_HOURS),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior", "vocational"],
        "reservation_required": False,
        "photos": 2,
    },
    "宁城县黑里河自然学校": {
        "slug": "hlh",
        "services": "森林生态观测、鸟类与野生动物足迹调查；自然科学营（三天两晚）；"
        "植物标本制作课程。",
        "facilities": "位于黑里河国家级自然保护区实验区；生态观测站 1 座；学员宿舍 40 床位；"
        "步道 6 公里，配专职自然导师与安全员。",
        "weekly_hours": week("567", [["08:00", "17:00"]]),
        "is_free": False,
        "fee_note": "自然科学营 120 元/人/天（含食宿），单日观测课程 30 元/人；建档立卡学生免费",
        "stages": ["primary", "junior"],
        "reservation_required": True,
        "photos": 3,
    },
    "晋城市科技馆": {
        "slug": "jckjg",
        "services": "常设展厅（煤炭与能源、数学、光影）讲解参观；球幕影院科普影片；"
        "能源科普实验室课程；流动科技馆进乡村学校；周二、周四课后服务时段学校团体绿色通道。",
        "facilities": "展厅面积约 1.1 万平方米；球幕影院 100 座；能源科普实验室 30 个工位；"
        "流动科技馆展品 50 件（可送展到校）。",
        "weekly_hours": week("23567", MUSEUM_HOURS, d2=AFTER_SCHOOL, d4=AFTER_SCHOOL),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior"],
        "reservation_required": True,
        "photos": 3,
    },
    "晋城博物馆": {
        "slug": "jcbwg",
        "services": "晋城古代冶铁与古建筑专题陈列讲解；青少年传统工艺体验课。",
        "facilities": "展厅 6 个；社教活动室 1 间；讲解员 12 名。",
        "weekly_hours": week("234567", MUSEUM_HOURS),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior", "vocational"],
        "reservation_required": False,
        "photos": 1,
    },
    "泽州县现代农业科普教育基地": {
        "slug": "zz-agri",
        "services": "智能温室与无土栽培参观；植物组织培养实验；农作物病虫害识别课程；"
        "秋季采摘劳动实践。",
        "facilities": "智能温室 3 栋；植物组织培养实验室 25 个工位；劳动实践田 30 亩。",
        "weekly_hours": week("123456", [["08:30", "11:30"], ["14:00", "17:30"]]),
        "is_free": False,
        "fee_note": "参观讲解免费；组培实验与采摘体验 30 元/人（含材料）",
        "stages": ["primary", "junior", "vocational"],
        "reservation_required": True,
        "photos": 2,
    },
    "高平市青少年活动中心": {
        "slug": "gp-youth",
        "services": "科技制作、编程与机器人课程；周三、周五课后服务时段学校团体绿色通道；"
        "长平之战历史与科学研学讲座。",
        "facilities": "活动室 12 间；编程教室 40 台电脑；报告厅 200 座。",
        "weekly_hours": week(
            "2345",
            [["14:30", "18:30"]],
            d6=[["09:00", "12:00"], ["14:00", "17:00"]],
            d7=[["09:00", "12:00"], ["14:00", "17:00"]],
        ),
        "is_free": True,
        "fee_note": "",
        "stages": ["primary", "junior", "senior"],
        "reservation_required": True,
        "photos": 1,
    },
}

# A listed venue's pending profile change: the bureau sees it in its review queue.
PENDING_CHANGES: dict[str, dict[str, Any]] = {
    "赤峰博物馆": {
        "weekly_hours": week("234567", [["09:30", "16:30"]]),
        "services": VENUE_PROFILES["赤峰博物馆"]["services"]
        + "冬季（11 月至次年 3 月）开放时间调整为 09:30-16:30。",
    },
}

# (venue, name, kind, description, value in yuan, capacity per slot)
RESOURCES: list[tuple[str, str, str, str, int | None, int]] = [
    ("湘潭市科技馆", "球幕影院《宇宙奇观》", "show", "40 分钟球幕科普影片，每场 120 座", None, 120),
    ("湘潭市科技馆", "青少年创客实验室", "lab", "激光切割、3D 打印与电子制作", None, 40),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "场发射扫描电子显微镜",
        "instrument",
        "分辨率 1 纳米，观察花粉、昆虫复眼与金属断口；每时段限 6 人上机",
        1_800_000,
        6,
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "X 射线衍射仪",
        "instrument",
        "晶体结构分析演示，教师操作、学生观摩",
        960_000,
        10,
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "光学综合实验室",
        "lab",
        "干涉、衍射与偏振实验",
        None,
        30,
    ),
    (
        "湘乡市青少年校外活动中心",
        "600 毫米口径天文望远镜",
        "instrument",
        "白天观测太阳黑子（加装巴德膜），晴夜观测月面与行星",
        860_000,
        10,
    ),
    ("湘乡市青少年校外活动中心", "科技制作室", "lab", "航模、桥梁结构与简单电路制作", None, 30),
    ("赤峰市科技馆", "天象厅《星空下的红山》", "show", "35 分钟数字天象节目", None, 80),
    ("赤峰市科技馆", "机器人实验室", "lab", "积木机器人搭建与图形化编程", None, 24),
    ("宁城县黑里河自然学校", "森林生态观测站", "lab", "红外相机数据整理与鸟类识别", None, 30),
    ("晋城市科技馆", "球幕影院《飞向太空》", "show", "40 分钟球幕影片", None, 100),
    ("晋城市科技馆", "能源科普实验室", "lab", "煤的形成、煤层气与新能源小实验", None, 30),
    ("泽州县现代农业科普教育基地", "植物组织培养实验室", "lab", "无菌接种与组培苗观察", None, 25),
]

# Exception dates: (venue, days from today, ISO weekday of the first such day, periods, note).
# No periods: closed that day.
HOURS_EXCEPTIONS: list[tuple[str, int, int, list[list[str]], str]] = [
    ("湘潭市科技馆", 8, 4, [], "球幕影院与展厅设备年度检修，闭馆一天"),
    ("赤峰市科技馆", 5, 1, [["09:00", "16:00"]], "科普宣传周周一特别开放"),
]
# Closed on the last day of the year (the first 31 December after today).
YEAR_END_CLOSURES: list[tuple[str, str]] = [("晋城市科技馆", "年终设备维护，闭馆一天")]

SLOT_DAYS = 21  # slots are made for the next three weeks
SCHOOL_CUT_OFF_DAYS = 2  # green-channel slots are for school groups until two days before

# (venue, resource or None, ISO weekdays, start, end, capacity or None for the resource's,
#  school channel, activity title or None, note)
SLOT_PLANS: list[tuple[str, str | None, str, str, str, int | None, bool, str | None, str]] = [
    ("湘潭市科技馆", None, "2345", "09:30", "11:30", 200, False, None, "常设展厅 团体参观"),
    ("湘潭市科技馆", None, "67", "09:30", "11:30", 300, False, None, "常设展厅 上午场"),
    ("湘潭市科技馆", None, "67", "14:00", "16:00", 300, False, None, "常设展厅 下午场"),
    ("湘潭市科技馆", "球幕影院《宇宙奇观》", "67", "10:30", "11:10", None, False, None, ""),
    ("湘潭市科技馆", "球幕影院《宇宙奇观》", "67", "15:00", "15:40", None, False, None, ""),
    ("湘潭市科技馆", "青少年创客实验室", "6", "14:00", "16:00", None, False, None, "3D 打印入门"),
    (
        "湘潭市科技馆",
        None,
        "35",
        "16:30",
        "18:30",
        60,
        True,
        "课后服务·走进科技馆：力与运动",
        "课后服务时段 学校绿色通道",
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "场发射扫描电子显微镜",
        "24",
        "14:30",
        "16:00",
        None,
        False,
        "电镜下的微观世界",
        "",
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "场发射扫描电子显微镜",
        "6",
        "09:30",
        "11:00",
        None,
        False,
        "电镜下的微观世界",
        "",
    ),
    (
        "湘潭大学物理与光电工程实验教学中心",
        "光学综合实验室",
        "6",
        "09:00",
        "11:30",
        None,
        False,
        None,
        "中学生开放日",
    ),
    ("湘乡市青少年校外活动中心", None, "24", "16:30", "18:30", 50, True, None, "课后服务 绿色通道"),
    (
        "湘乡市青少年校外活动中心",
        "600 毫米口径天文望远镜",
        "67",
        "09:00",
        "10:30",
        None,
        False,
        None,
        "太阳黑子观测",
    ),
    ("湘乡市青少年校外活动中心", "科技制作室", "67", "14:30", "16:30", None, False, None, ""),
    ("赤峰市科技馆", None, "67", "09:30", "11:30", 200, False, None, "常设展厅"),
    ("赤峰市科技馆", "天象厅《星空下的红山》", "67", "10:00", "10:40", None, False, None, ""),
    ("赤峰市科技馆", "天象厅《星空下的红山》", "67", "14:00", "14:40", None, False, None, ""),
    ("赤峰市科技馆", None, "24", "16:30", "18:30", 60, True, None, "课后服务时段 学校绿色通道"),
    ("赤峰市科技馆", "机器人实验室", "6", "14:00", "16:00", None, False, None, ""),
    ("宁城县黑里河自然学校", "森林生态观测站", "6", "09:00", "12:00", None, False, None, "观鸟"),
    ("晋城市科技馆", None, "35", "09:30", "11:30", 200, False, None, "常设展厅 团体参观"),
    ("晋城市科技馆", None, "67", "09:30", "11:30", 300, False, None, "常设展厅 上午场"),
    ("晋城市科技馆", None, "67", "14:00", "16:00", 300, False, None, "常设展厅 下午场"),
    ("晋城市科技馆", "球幕影院《飞向太空》", "67", "10:30", "11:10", None, False, None, ""),
    ("晋城市科技馆", None, "24", "16:30", "18:30", 60, True, None, "课后服务时段 学校绿色通道"),
    ("晋城市科技馆", "能源科普实验室", "6", "14:00", "16:00", None, False, None, ""),
    (
        "泽州县现代农业科普教育基地",
        "植物组织培养实验室",
        "36",
        "09:00",
        "11:00",
        None,
        False,
        None,
        "",
    ),
    ("高平市青少年活动中心", None, "35", "16:30", "18:30", 40, True, None, "课后服务 绿色通道"),
]

# Activities. ``organiser`` is a venue or school above; ``day`` is days from today, moved on
# to ``weekday`` (ISO) if given; ``days`` is how many days it lasts (the end time on the last).
# ``status`` published unless said; a finished one lies in the past (negative ``day``).
ACTIVITIES: list[dict[str, Any]] = [
    {
        "organiser": "湘潭市科技馆",
        "kind": "science_festival",
        "title": "科技活动周·科技馆开放日",
        "description": "全天开放，扫描入口海报码或大屏动态码签到，离馆时再扫一次签退；"
        "时长按签到到签退计算，每半小时计。",
        "day": 0,
        "days": 3,
        "start": "00:00",
        "end": "23:59",
        "admission": "open",
        "stages": ["primary", "junior", "senior"],
        "credited_minutes": 120,
        "codes": True,
    },
    {
        "organiser": "湘潭市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·走进科技馆：力与运动",
        "description": "课后服务时段的学校团体专场：讲解员带领参观力学展区，完成“牛顿摆”"
        "“过山车能量转换”两个探究任务单。由学校在绿色通道时段预约。",
        "day": 1,
        "days": 28,
        "start": "09:00",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "geofence_radius_m": 300,
        "credited_minutes": 120,
    },
    {
        "organiser": "湘潭大学物理与光电工程实验教学中心",
        "kind": "course",
        "title": "电镜下的微观世界",
        "description": "大学教师讲解扫描电子显微镜原理，学生分组上机观察花粉与昆虫复眼，"
        "每时段限 6 人。",
        "day": 1,
        "days": 21,
        "start": "08:30",
        "end": "17:30",
        "admission": "reservation",
        "stages": ["junior", "senior"],
        "geofence_radius_m": 500,
        "credited_minutes": 90,
    },
    {
        "organiser": "湘乡市青少年校外活动中心",
        "kind": "lecture",
        "title": "院士讲科学：从“天宫”看中国航天",
        "description": "中国科学院院士报告会，现场问答；报名后凭签到码入场。",
        "day": 5,
        "weekday": 6,
        "start": "14:30",
        "end": "16:00",
        "admission": "registration",
        "capacity": 300,
        "stages": ["junior", "senior"],
        "geofence_radius_m": 300,
    },
    {
        "organiser": "湘乡市第二中学",
        "kind": "scientist_in_school",
        "title": "科学家进校园：新能源材料里的物理",
        "description": "湘潭大学材料学院教授走进湘乡二中，讲锂电池与钙钛矿太阳能电池。",
        "day": 7,
        "weekday": 3,
        "start": "15:00",
        "end": "16:30",
        "admission": "open",
        "stages": ["senior"],
    },
    {
        "organiser": "宁城县黑里河自然学校",
        "kind": "science_camp",
        "title": "黑里河冬季森林科学营（三天两晚）",
        "description": "雪地动物足迹调查、红外相机数据整理、冬季观鸟；自然导师与安全员全程陪同。",
        "day": 10,
        "weekday": 5,
        "days": 3,
        "start": "08:00",
        "end": "17:00",
        "admission": "registration",
        "capacity": 40,
        "stages": ["primary", "junior"],
        "geofence_radius_m": 2000,
        "credited_minutes": 16 * 60,
    },
    {
        "organiser": "晋城市科技馆",
        "kind": "mobile_museum",
        "title": "流动科技馆进乡村学校：泽州县巴公镇",
        "description": "50 件互动展品送展到校一周，科技辅导员每天两场科学秀。",
        "day": 7,
        "weekday": 1,
        "days": 5,
        "start": "08:30",
        "end": "17:00",
        "admission": "open",
        "place_name": "泽州县巴公镇中心学校",
        "address": "泽州县巴公镇巴公村",
        "longitude": 112.8471,
        "latitude": 35.6312,
        "geofence_radius_m": 500,
        "stages": ["primary", "junior"],
        "credited_minutes": 90,
    },
    {
        "organiser": "赤峰博物馆",
        "kind": "lecture",
        "title": "玉器里的科学：红山文化考古讲座",
        "description": "考古研究员讲红山玉器的材料、工艺与年代测定方法。",
        "day": 3,
        "weekday": 6,
        "start": "14:30",
        "end": "16:00",
        "admission": "registration",
        "capacity": 150,
        "stages": ["primary", "junior", "senior"],
    },
    {
        "organiser": "湘潭市科技馆",
        "kind": "science_festival",
        "title": "湘潭市全国科普日主题活动",
        "description": "科学秀、科普集市与科学家见面会。",
        "day": -60,
        "start": "09:00",
        "end": "17:00",
        "admission": "open",
        "credited_minutes": 180,
        "status": "finished",
    },
    # A weekend family day, nine days ago: the family visit of FAMILY below.
    {
        "organiser": "湘潭市科技馆",
        "kind": "venue_visit",
        "title": "周末科学家庭日：机器人与人工智能",
        "description": "周六全天开放：机器人编程体验、AI 识图小实验、亲子科学秀。"
        "家长可在自己的手机上为同行的孩子一起扫码签到、签退。",
        "day": -9,
        "weekday": 6,
        "start": "09:00",
        "end": "17:00",
        "admission": "open",
        "stages": ["primary", "junior"],
    },
    # Finished activities of the paired venues: the check-ins of RECORD_PLANS below.
    {
        "organiser": "湘潭市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·走进科技馆：声与光",
        "description": "课后服务时段的学校团体专场：在声光展区完成“看得见的声音”"
        "“彩虹从哪里来”两个探究任务单。",
        "day": -35,
        "weekday": 3,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "湘潭市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·走进科技馆：电与磁",
        "description": "课后服务时段的学校团体专场：手摇发电机、电磁秋千与特斯拉线圈演示，"
        "完成“让小灯泡亮起来”探究任务单。",
        "day": -12,
        "weekday": 5,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "湘乡市青少年校外活动中心",
        "kind": "course",
        "title": "天文观测课：太阳黑子",
        "description": "用 600 毫米口径望远镜投影观测太阳黑子，绘制黑子分布图，估算太阳自转周期。",
        "day": -60,
        "weekday": 6,
        "start": "09:00",
        "end": "10:30",
        "admission": "reservation",
        "stages": ["junior", "senior"],
        "status": "finished",
    },
    {
        "organiser": "湘乡市青少年校外活动中心",
        "kind": "course",
        "title": "科技制作：橡筋动力模型飞机",
        "description": "制作并试飞橡筋动力模型飞机，记录绕数与留空时间的关系。",
        "day": -35,
        "weekday": 6,
        "start": "14:30",
        "end": "16:30",
        "admission": "reservation",
        "stages": ["junior", "senior"],
        "status": "finished",
    },
    {
        "organiser": "湘乡市青少年校外活动中心",
        "kind": "course",
        "title": "科技制作：太阳能小车",
        "description": "组装太阳能小车，测量不同光照角度下的车速，比较串联与并联电池板。",
        "day": -12,
        "weekday": 6,
        "start": "14:30",
        "end": "16:30",
        "admission": "reservation",
        "stages": ["junior", "senior"],
        "status": "finished",
    },
    {
        "organiser": "赤峰市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·机器人实验室初体验",
        "description": "课后服务时段的学校团体专场：参观机器人展区，分组搭建并调试循迹小车。",
        "day": -60,
        "weekday": 2,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "赤峰市科技馆",
        "kind": "venue_visit",
        "title": "天象厅专场：秋季星空",
        "description": "天象厅讲解秋季四边形与仙女座星系，学习使用活动星图。",
        "day": -35,
        "weekday": 4,
        "start": "16:30",
        "end": "18:00",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "status": "finished",
    },
    {
        "organiser": "赤峰市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·草原生态展区探究",
        "description": "课后服务时段的学校团体专场：草原食物链与沙化治理展区，"
        "完成“一棵草的旅行”探究任务单。",
        "day": -12,
        "weekday": 2,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "晋城市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·煤炭与能源展区探究",
        "description": "课后服务时段的学校团体专场：从煤到电的能量转换，完成“家里的电从哪里来”"
        "探究任务单。",
        "day": -60,
        "weekday": 2,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "晋城市科技馆",
        "kind": "venue_visit",
        "title": "球幕影院专场：飞向太空",
        "description": "球幕影片《飞向太空》与航天员生活讲解。",
        "day": -35,
        "weekday": 4,
        "start": "16:30",
        "end": "17:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "status": "finished",
    },
    {
        "organiser": "晋城市科技馆",
        "kind": "venue_visit",
        "title": "课后服务·数学展区探究",
        "description": "课后服务时段的学校团体专场：莫比乌斯带、最速降线与七巧板，"
        "完成“最快的滑道”探究任务单。",
        "day": -12,
        "weekday": 2,
        "start": "16:30",
        "end": "18:30",
        "admission": "reservation",
        "stages": ["primary", "junior"],
        "credited_minutes": 120,
        "status": "finished",
    },
    {
        "organiser": "赤峰市科技馆",
        "kind": "lecture",
        "title": "冬夜观星：双子座流星雨",
        "description": "室外观测与天象厅讲解。",
        "day": 14,
        "start": "09:00",
        "end": "16:00",
        "admission": "registration",
        "capacity": 80,
        "status": "cancelled",
        "status_reason": "寒潮预警，室外观测取消，改期另行通知",
    },
    {
        "organiser": "晋城市科技馆",
        "kind": "club",
        "title": "青少年机器人社团（春季学期）",
        "description": "每周六下午，共 12 次课。",
        "day": 20,
        "start": "14:00",
        "end": "16:00",
        "admission": "registration",
        "capacity": 24,
        "status": "draft",
    },
]

# School-venue pairings: (school, venue, status, proposed by, note, close reason)
PAIRINGS: list[tuple[str, str, str, str, str, str]] = [
    ("湘潭市雨湖区和平小学", "湘潭市科技馆", "active", "venue", "每学期两次课后服务专场", ""),
    (
        "湘潭市第九中学",
        "湘潭大学物理与光电工程实验教学中心",
        "active",
        "school",
        "高二物理课题研究",
        "",
    ),
    ("湘乡市第二中学", "湘乡市青少年校外活动中心", "active", "school", "天文社团每月一次观测", ""),
    ("湘乡市东郊乡中学", "湘乡市青少年校外活动中心", "active", "venue", "送课下乡与来馆实践", ""),
    ("赤峰市红山区钢铁街小学", "赤峰市科技馆", "active", "venue", "课后服务绿色通道", ""),
    ("赤峰市第二中学", "赤峰博物馆", "active", "school", "历史与科学跨学科研学", ""),
    ("晋城市城区凤台小学", "晋城市科技馆", "active", "venue", "每月一次科学课外实践", ""),
    ("晋城市第一中学", "晋城市科技馆", "active", "school", "能源主题研究性学习", ""),
    ("湘潭市岳塘区实验中学", "湘潭市博物馆", "proposed", "school", "“小小讲解员”社团", ""),
    ("赤峰市松山区第四中学", "赤峰市科技馆", "proposed", "venue", "机器人实验室课程", ""),
    (
        "湘潭市工贸中等专业学校",
        "湘潭大学物理与光电工程实验教学中心",
        "declined",
        "school",
        "机电专业实训参观",
        "本学期实验室已排满，请下学期再联系",
    ),
]

# Bureaus that publish this year's directory edition (科普地图) at load time.
EDITION_BUREAUS = ["湘潭市教育局", "赤峰市教育局", "晋城市教育局"]

# --- participation records (写实记录) ----------------------------------------------------------

# Each class's records, made by the record service as its sources and reviewers would have made
# them: check-ins at three finished activities of the paired venue (oldest first; the venue
# account ``organiser`` confirms or rejects them) and a club term the school enters by hand.
# ``reviewer`` (school staff) reviews, ``admin`` (school admin) opens the public notices.
# ``main`` and ``peer`` are bound WeChat students above (None: nobody in the class has bound):
#   main: the two older check-ins archived (a hash chain of two), the newest one in the open
#         public notice, a duplicate check-in withdrawn, the club term confirmed with a
#         reflection and waiting for review;
#   peer: the middle check-in archived, the oldest (confirmed late) and the newest in the open
#         notice, the newest under an objection the main student raised, the club term reviewed.
# Class members at the ``pending``, ``confirmed`` and ``rejected`` indices have the newest
# check-in in that state (rejected by the venue with REJECT_REASON); the pending and confirmed
# ones are in the club too. Under-14s with records have guardian consent on paper.
RECORD_PLANS: list[dict[str, Any]] = [
    {
        "school": "湘潭市雨湖区和平小学",
        "class": ("四年级", "1班"),
        "activities": [
            "湘潭市全国科普日主题活动",
            "课后服务·走进科技馆：声与光",
            "课后服务·走进科技馆：电与磁",
        ],
        "organiser": "xtkjg-staff",
        "reviewer": "heping-teacher",
        "admin": "heping-admin",
        "main": "xiaoming",
        "peer": "xiaogang",
        "pending": [4, 5],
        "confirmed": [6],
        "rejected": [7],
        "club": ("科学小实验社团", "和平小学科学实验室", "完成 8 次社团活动，作品《自制净水器》"),
    },
    {
        "school": "湘乡市第二中学",
        "class": ("高一", "3班"),
        "activities": [
            "天文观测课：太阳黑子",
            "科技制作：橡筋动力模型飞机",
            "科技制作：太阳能小车",
        ],
        "organiser": "xxhd-admin",
        "reviewer": "xx2-teacher",
        "admin": "xx2-admin",
        "main": "lihua",
        "peer": "wangfang",
        "pending": [6, 7],
        "confirmed": [8],
        "rejected": [9],
        "club": ("天文社团", "湘乡二中天文台", "完成 8 次观测，撰写《太阳黑子周期观测报告》"),
    },
    {
        "school": "湘乡市东郊乡中学",
        "class": ("八年级", "1班"),
        "activities": [
            "天文观测课：太阳黑子",
            "科技制作：橡筋动力模型飞机",
            "科技制作：太阳能小车",
        ],
        "organiser": "xxhd-admin",
        "reviewer": "dongjiao-admin",
        "admin": "dongjiao-admin",
        "main": None,
        "peer": None,
        "pending": [1, 2, 3],
        "confirmed": [4, 5],
        "rejected": [6],
        "club": ("航模社团", "东郊乡中学操场", "完成 8 次社团活动，参加校航模表演"),
    },
    {
        "school": "赤峰市红山区钢铁街小学",
        "class": ("六年级", "1班"),
        "activities": [
            "课后服务·机器人实验室初体验",
            "天象厅专场：秋季星空",
            "课后服务·草原生态展区探究",
        ],
        "organiser": "cfkjg-admin",
        "reviewer": "gtj-admin",
        "admin": "gtj-admin",
        "main": "tiantian",
        "peer": "xiaoxue",
        "pending": [4, 5],
        "confirmed": [6],
        "rejected": [7],
        "club": ("机器人社团", "钢铁街小学科技活动室", "完成 8 次社团活动，循迹小车调试成功"),
    },
    {
        "school": "晋城市城区凤台小学",
        "class": ("三年级", "2班"),
        "activities": [
            "课后服务·煤炭与能源展区探究",
            "球幕影院专场：飞向太空",
            "课后服务·数学展区探究",
        ],
        "organiser": "jckjg-admin",
        "reviewer": "fengtai-admin",
        "admin": "fengtai-admin",
        "main": "xiaoyu",
        "peer": "dongdong",
        "pending": [5, 6],
        "confirmed": [7],
        "rejected": [8],
        "club": ("科学探究社团", "凤台小学科学教室", "完成 8 次社团活动，种植观察日记一本"),
    },
]
CLUB_SESSIONS = 8  # a club term: this many weekly sessions of an hour, the last a week ago

# What the main students write when they confirm (activity or club title → reflection).
REFLECTIONS: dict[str, str] = {
    "湘潭市全国科普日主题活动": "科学秀里老师用液氮做了“云朵”，我知道了气体遇冷会变成小水滴。",
    "课后服务·走进科技馆：声与光": "我用三棱镜把白光分成了七种颜色，原来彩虹就是这样来的。",
    "课后服务·走进科技馆：电与磁": "我摇发电机让小灯泡亮了，摇得越快灯越亮，电真的可以“摇”出来。",
    "科学小实验社团": "我们用沙子、小石子和活性炭做了净水器，浑水变清了，我很有成就感。",
    "天文观测课：太阳黑子": "第一次用投影法安全地看到了太阳黑子，"
    "连续几天的位置变化能说明太阳在自转。",
    "科技制作：橡筋动力模型飞机": "绕数从 100 增加到 300 时留空时间明显变长，"
    "但绕得太多橡筋会断，需要取舍。",
    "科技制作：太阳能小车": "电池板正对阳光时车速最快，"
    "并联比串联更稳定，和课本上的电路知识对上了。",
    "天文社团": "坚持了一个学期的观测，学会了记录和处理数据，也体会到科学研究需要耐心。",
    "课后服务·机器人实验室初体验": "我们组的小车一开始总是冲出黑线，"
    "调了传感器的位置以后终于能走完一圈。",
    "天象厅专场：秋季星空": "我学会了用活动星图找秋季四边形，晚上回家在阳台上也找到了。",
    "课后服务·草原生态展区探究": "草原上的草、羊和狼是一条食物链，少了哪一样都不行，要保护草原。",
    "机器人社团": "我学会了给机器人编程，还教会了同组的同学怎么调传感器。",
    "课后服务·煤炭与能源展区探究": "原来家里的电有很多是用煤发的，我们要节约用电。",
    "球幕影院专场：飞向太空": "航天员在太空里喝水要用吸管，因为水会飘起来，太神奇了。",
    "课后服务·数学展区探究": "弯弯的滑道比直的滑道还快，我以前一直以为直线最快。",
    "科学探究社团": "我种的绿豆每天都长高一点，我把它画在了观察日记里。",
}
NOTICE_TITLES = ("科学实践写实记录公示（第一批）", "科学实践写实记录公示（第二批）")
REJECT_REASON = "经带队老师核实，该生当天请病假未到馆，签到记录有误"
WITHDRAW_REASON = "重复签到，保留另一条记录"
OBJECTION_REASON = (
    "我和这位同学同组参加，这位同学只参加了前半场就提前离开了，记录的时长可能不对，请老师核实。"
)

# Family mode (issue 15): a parent whose phone acts for two children at two schools, neither
# with a WeChat of their own. ``dev-wang-mama`` logs in; the weekend family day above was one
# scan at the door for both, the parent confirmed both records and wrote one reflection
# (marked 家长代填), the venue confirmed them. (school, grade label, class, index in class)
FAMILY: dict[str, Any] = {
    "guardian": "wang-mama",
    "relation": "mother",
    "children": [
        ("湘潭市雨湖区和平小学", "五年级", "2班", 5),
        ("湘乡市东郊乡中学", "八年级", "1班", 8),
    ],
    "activity": "周末科学家庭日：机器人与人工智能",
    "organiser": "xtkjg-staff",
    "arrive": "10:00",
    "leave": "14:30",
    "reflection": "孩子说最喜欢给机器人编程，回家路上一直在讲怎么让小车沿着黑线走。",
}

# A pupil with no phone and no bound guardian in a school that switched teacher attestation
# (教师代为确认) on: the school admin attests the venue-confirmed record with a reason, and
# the class teacher (not the attester) reviews it.
ATTESTED: dict[str, Any] = {
    "school": "湘潭市雨湖区和平小学",
    "class": ("四年级", "1班"),
    "index": 6,  # "confirmed" in the school's record plan above
    "switched_on_by": "heping-admin",
    "attester": "heping-admin",
    "reviewer": "heping-teacher",
    "reason": "该生没有手机，家长未绑定小程序；已与家长电话核实当天到馆，由学校代为确认",
}


# --- competitions (issue 17, loaded by scipass.demo.competitions) ---------------------------

ROBOTICS_SCHOOL_QUOTA = 3  # entries each school may recommend to the county round
ROBOTICS: dict[str, str] = {
    "bureau": "xx-bureau",  # 湘乡市教育局 (430381)
    "name": "湘乡市青少年机器人竞赛",
    "organiser_unit": "湘乡市教育局、湘乡市科学技术协会",
    "whitelist_entry": "世界机器人大会青少年机器人设计与信息素养大赛",  # its county selection
    "round": "县级比赛",
}
INNOVATION: dict[str, str] = {
    "bureau": "xt-bureau",  # 湘潭市教育局 (430300)
    "name": "湘潭市青少年科技创新大赛",
    "organiser_unit": "湘潭市教育局、湘潭市科学技术协会",
    "whitelist": "湘潭市面向中小学生竞赛活动名单",
    "whitelist_source": "湘潭市教育局公告（演示数据）",
    "school": "湘潭市雨湖区和平小学",
    "school_round": "校内选拔",
    "city_round": "市级评审",
}
HIGH_SCHOOL = "湘乡市第二中学"
RURAL_SCHOOL = "湘乡市东郊乡中学"
ROBOT_TITLES = [
    "智能垃圾分拣机器人",
    "校园巡检小车",
    "农田灌溉机器人",
    "仿生六足机器人",
    "图书整理机械臂",
    "山区送药无人车",
    "养殖场喂料机器人",
    "消防侦察机器人",
]
PROJECTS = {
    "xiaoming": (
        "教室二氧化碳浓度与开窗通风的关系",
        "用二氧化碳传感器连续两周记录教室空气，比较不同开窗方式下浓度的变化，提出课间通风建议。",
    ),
    "xiaogang": (
        "校园里的蚂蚁喜欢什么食物",
        "在校园三处设置糖、面包屑、水果等诱饵，记录蚂蚁数量和到达时间，分析蚂蚁的取食偏好。",
    ),
}
COMPETITION_DECLINE_REASON = "作品与去年参赛作品雷同，请修改设计后参加下一届"
COMPETITION_REJECT_REASON = "报名材料中的作品说明与组别要求不符（须为自主设计搭建的机器人）"
COMPETITION_REFLECTION = "第一次参加科技创新大赛，学会了用传感器记录数据，也学会了把实验写成报告。"
# What to try with each account that takes part ({...}: ids and names filled in by the loader)
COMPETITION_HINTS: dict[str, str] = {
    "dev-lihua": "机器人竞赛队长：GET /api/v1/competition-entries 看到组队中的报名 {forming}"
    "（队员{mate}已凭邀请码加入）；invitation_code 是加载时发出的第三人邀请码（30 分钟有效，"
    "过期后 POST /api/v1/competition-entries/{forming}/invitations 重发）；"
    "POST /api/v1/competition-entries/{forming}/submit 提交给学校",
    "dev-wangfang": "凭邀请码加入了{captain}的机器人队伍：GET /api/v1/competition-entries",
    "xx2-teacher": "学校统一报名：POST /api/v1/competition-rounds/{county}/entries"
    "（student_ids、advisor_account_ids）；本校已有待推荐、被退回、已撤回的报名",
    "xx2-admin": "学校推荐：GET /api/v1/competition-entries 看本校学生的报名，"
    "POST /api/v1/competition-entries/{waiting}/recommend 或 /decline（附理由）",
    "dongjiao-admin": "本校为无手机学生统一报名的两支队伍：一支已被录取，一支被退回（附理由）",
    "xx-bureau": "承办方审核：GET /api/v1/competition-rounds/{county}/entries，"
    "POST /api/v1/competition-rounds/{county}/entries/{recommended}/accept 或 /reject；"
    "录入成绩 PUT /api/v1/competition-rounds/{county}/results/<报名ID>，"
    "再 POST /api/v1/competition-rounds/{county}/result-notices 公示",
    "xt-bureau": "市级评审成绩公示中：GET /api/v1/competition-rounds/{city_round}/results；"
    "公示期满后 POST /api/v1/competition-rounds/{city_round}/results/publish；"
    "GET /api/v1/talent-trackings 看后备人才",
    "heping-admin": "校内选拔的组织方：GET /api/v1/competition-rounds/{school_round}/results"
    "（已发布、生成记录，一条已归档）；GET /api/v1/talent-trackings",
    "heping-teacher": "指导教师：学生确认竞赛记录后，"
    "在 GET /api/v1/records?status=confirmed 中审核",
    "dev-xiaoming": "科技创新大赛：校内选拔一等奖的记录已归档，市级评审成绩公示中；"
    "GET /api/v1/competition-entries",
    "dev-xiaoming-mama": "家长代孩子报名了科技创新大赛：GET /api/v1/competition-entries"
    "?student_id=<孩子的学生 ID>",
    "dev-xiaogang": "科技创新大赛校内选拔二等奖：竞赛记录待本人确认"
    "（POST /api/v1/records/<ID>/student-confirmation）",
}

# --- volunteering (issue 18) -------------------------------------------------------------------

VOLUNTEERING: dict[str, dict[str, Any]] = {
    "museum": {
        "admin": "xtkjg-admin",
        "staff": "xtkjg-staff",
        "school": "湘潭市雨湖区和平小学",
        "teacher": "heping-teacher",
        "volunteer": {
            "start": "09:00",
            "end": "12:00",
            "place": "一楼序厅服务台",
            "capacity": 4,
            "note": "8:50 前到服务台签到，穿校服",
            "description": None,
        },
        "docent": {
            "start": "09:30",
            "end": "11:30",
            "place": "二楼“力与运动”展区",
            "capacity": 2,
            "note": "讲解展品“傅科摆”“最速降线”",
            "description": None,
        },
        "changed_reason": "10:00—11:00 在休息室休息，按实际服务时间计 2 小时",
        "cancel_reason": "周六参加学校合唱排练",
        "person_in_charge": "湘潭市科技馆 刘馆长",
        "handler": "湘潭市科技馆 教育部 主任",
        "contact": "0731-58260001",
    },
    "centre": {
        "admin": "xxhd-admin",
        "school": "湘乡市第二中学",
        "teacher": "xx2-teacher",
        "star": {
            "start": "14:30",
            "end": "16:30",
            "place": "三楼科学工作室",
            "capacity": 6,
            "note": "为小学生主持“空气的力量”科学小课堂",
            "description": None,
        },
        "reflection": "第一次给小学生主持科学小课堂，学会了用简单的话讲清楚大气压。",
    },
}

VOLUNTEER_HINTS: dict[str, str] = {
    "dev-xiaoming": "GET /api/v1/me/volunteer-hours 看本学期时长与次数；"
    "已报名下周六的小小志愿者班次（GET /api/v1/me/volunteer-signups）；"
    "证明 GET /api/v1/volunteer-certificates/{certificate}/pdf",
    "dev-xiaogang": "报名下周六仍有空位的小小志愿者班次：POST /api/v1/volunteer-shifts/{upcoming}"
    "/signups；GET /api/v1/me/volunteer-hours（一次时长被场馆修改并注明原因）",
    "dev-lihua": "科普小达人：GET /api/v1/me/volunteer-hours；下周六的班次可报名 "
    "POST /api/v1/volunteer-shifts/{star_next}/signups",
    "dev-wangfang": "家长同意书由学校录入纸质件；GET /api/v1/me/volunteer-hours",
    "xtkjg-staff": "确认时长 POST /api/v1/volunteer-shifts/{recent}/minutes（最近一次已确认，"
    "可改时长附原因或标缺席）；导出 GET /api/v1/volunteer-hours/export?by=pupil&format=xlsx；"
    "出具证明 POST /api/v1/volunteer-certificates，下载 "
    "GET /api/v1/volunteer-certificates/{certificate}/pdf",
    "xtkjg-admin": "GET /api/v1/volunteer-roles 看两个岗位；下周六的小小科普辅导员班次 "
    "{docent_next} 已满，有候补（GET /api/v1/volunteer-shifts/{docent_next}/signups）",
    "xxhd-admin": "科普小达人岗位的场馆：GET /api/v1/volunteer-roles；"
    "GET /api/v1/volunteer-hours/export?by=shift",
    "heping-admin": "本校学生志愿时长（达到门槛的）：GET /api/v1/volunteer-hours/school?min_hours=5"
    "（默认本学年，可加 school_year）",
    "heping-teacher": "学校为学生统一报名：POST /api/v1/volunteer-shifts/{upcoming}/group-signups",
    "xx2-teacher": "{lihua}的科普小达人记录已由本人确认、经你审核通过（记录 {reviewed}）",
    "anyone": "核验证明编号：GET /api/v1/volunteer-certificates/verify/{number}（无需登录）",
}
