"""Triage of realistic call texts (T24 13; GZ 11; TA 13; T15 8): class, route and the article cited."""

from __future__ import annotations

import pytest

from hotline_tui.policy import load_policy
from hotline_tui.services.triage import TriageResult, clauses, triage

CASES = [
    # --- emergency: an ongoing event, transfer to the line (T24 13(1); GZ 11(1); TA 13(1); T15 8(1))
    ("tianjin", "我家厨房着火了，火很大，快来人", "emergency", "119"),
    ("tianjin", "救命啊，我家煤气泄漏了，满屋子都是味", "emergency", "119"),
    ("tianjin", "楼上邻居家窗户往外冒浓烟，现在还在冒", "emergency", "119"),
    ("tianjin", "电梯困人了，里面有老人，快来", "emergency", "119"),
    ("tianjin", "楼下有人打架，还拿着刀", "emergency", "110"),
    ("tianjin", "小区里有人持刀抢劫，快来人", "emergency", "110"),
    ("tianjin", "我爸晕倒了，叫不醒", "emergency", "120"),
    ("tianjin", "有个老人摔倒了起不来，叫不醒", "emergency", "120"),
    # the event named first wins: a crash with injuries is 122 (T24 13(1), 122 per GZ 11(1))
    ("tianjin", "路口刚刚发生车祸，有人受伤躺在地上", "emergency", "122"),
    ("guangzhou", "高速口两辆车追尾了，刚刚发生的，有人受伤", "emergency", "122"),  # GZ 11(1) adds 122
    ("taian", "高速口两辆车追尾了，刚刚发生的，有人受伤", "emergency", "122"),  # TA 13(1) adds 122
    ("tianjin-2015", "我家厨房着火了，火很大，快来人", "emergency", "119"),  # T15 8(1)
    # --- topic words without an ongoing event are not emergencies
    ("tianjin", "小区消防通道被占用，车停了好几天没人管", "accept", "受理"),
    (
        "tianjin",
        "楼道里有烟味已经散了，想咨询燃气安全检查",
        "accept",
        "受理",
    ),  # over; a consult for the gas company
    ("tianjin", "我们小区楼道堆放杂物，存在火灾隐患", "accept", "受理"),
    ("tianjin", "没有着火，就是楼下烧烤油烟太大", "accept", "受理"),
    ("tianjin", "去年家里着火了，想申请救助补贴", "accept", "受理"),
    ("tianjin", "前两天楼下烧烤店着过火，现在想投诉他们消防不合格", "accept", "受理"),
    ("tianjin", "这个路口经常发生车祸，建议加装红绿灯", "accept", "受理"),
    ("tianjin", "我想咨询一下交通事故责任认定书去哪里领取", "accept", "受理"),
    ("tianjin", "小区电梯经常困人，物业不管", "accept", "受理"),
    ("tianjin", "邻居家天天打架吵闹，影响休息", "accept", "受理"),
    ("tianjin", "厨房冒烟了，现在火已经灭了，想问问燃气公司谁来检查", "accept", "受理"),
    # --- legal procedure (T24 13(2); GZ 11(2); TA 13(2); T15 8(3))
    ("tianjin", "我要起诉物业公司，他们乱收费", "legal_procedure", None),
    ("tianjin", "我和前公司的劳动仲裁已经立案了，想问问进度", "legal_procedure", None),
    ("tianjin", "法院判决已经生效了，对方不执行", "legal_procedure", None),
    ("tianjin", "我想申请政府信息公开，想知道拆迁补偿标准", "legal_procedure", None),
    ("tianjin", "纪委电话是多少，我要举报村干部", "legal_procedure", None),
    ("guangzhou", "征地补偿的行政裁决结果我不服", "legal_procedure", None),  # GZ 11(2) 行政裁决
    ("tianjin", "想问一下法院旁边的停车场收费标准", "accept", "受理"),  # 法院 as a landmark
    (
        "tianjin-2015",
        "我想申请政府信息公开，想知道拆迁补偿标准",
        "accept",
        "受理",
    ),  # T15 8(3) lists no 信息公开
    # --- secrets and privacy (T24 13(3); GZ 11(5); TA 13(3))
    ("tianjin", "我想查一下我前妻现在的住址", "secret", None),
    ("guangzhou", "帮我查一下这个车牌号的车主手机号", "secret", None),
    ("tianjin", "想查一下我自己的社保缴费记录", "accept", "受理"),
    ("tianjin", "我的个人信息被泄露了，天天接骚扰电话", "accept", "受理"),
    # --- unlawful or against public order (T24 13(4); GZ 12; TA 13(3))
    ("tianjin", "我要报复他，把他家车砸了", "unlawful", None),
    ("taian", "你们不解决我就弄死那个物业经理", "unlawful", None),
    ("guangzhou", "我想让你们帮我删案底", "unlawful", None),
    ("tianjin", "举报有人办假证，在天桥上贴小广告", "accept", "受理"),  # a report, not a request
    # --- other bodies (GZ 11(3); T15 8(4) military only)
    ("guangzhou", "我想找人大代表反映问题", "other_body", None),
    ("tianjin", "部队营区外面的道路坑洼不平", "other_body", None),
    ("tianjin", "退役军人优待证怎么办理", "accept", "受理"),  # 退役军人事务局 is government
    ("tianjin", "部队转业干部安置政策咨询", "accept", "受理"),
    ("tianjin-2015", "我想找人大代表反映问题", "accept", "受理"),  # T15 8(4): military and armed police only
    ("tianjin-2015", "武警营区的围墙倒了砸到路边", "other_body", None),
    # --- civil disputes outside administrative power (T15 8(2) only)
    ("tianjin-2015", "借钱不还怎么办，对方欠我五万块", "civil_dispute", None),
    ("tianjin-2015", "房东不退押金，说我弄坏了东西", "civil_dispute", None),
    ("tianjin-2015", "离婚登记需要带什么材料", "accept", "受理"),  # registration is administrative
    ("tianjin-2015", "我的工资被老板拖欠三个月了", "accept", "受理"),  # labour inspection
    ("tianjin", "借钱不还怎么办，对方欠我五万块", "accept", "受理"),  # T24 has no such class
    # --- out of the city (TA 13(5); GZ 11 first para)
    ("taian", "我在济南买的房子开发商不交房", "out_of_city", None),
    ("tianjin", "我在上海被电信诈骗了，想投诉", "out_of_city", None),
    ("tianjin", "我在湖南老家的宅基地被占了", "out_of_city", None),
    ("guangzhou", "我是河北人，在天津打工，工资被拖欠", "out_of_city", None),
    ("tianjin", "我是河北人，在天津打工，工资被拖欠", "accept", "受理"),
    ("tianjin", "北京道上的路灯不亮了", "accept", "受理"),  # a Tianjin street
    ("tianjin", "河北路上的井盖丢了", "accept", "受理"),
    ("guangzhou", "北京路步行街晚上噪音太大", "accept", "受理"),  # a Guangzhou street
    ("tianjin", "楼下四川菜馆油烟扰民", "accept", "受理"),
    ("tianjin", "外地车限行时间是几点到几点", "accept", "受理"),
    ("taian", "泰山区的路灯坏了，我老家在济南", "accept", "受理"),
    # --- Beijing-Tianjin-Hebei cooperation (T24 9)
    ("tianjin", "老家在河北，现在在天津社保怎么转", "regional", None),
    ("tianjin", "我在北京看病，医保怎么报销", "regional", None),
    ("tianjin", "京津冀一卡通在天津坐地铁能用吗", "regional", None),
    ("tianjin", "河北廊坊的高速收费站乱收费", "regional", None),
    ("tianjin-2015", "老家在河北，现在在天津社保怎么转", "accept", "受理"),  # no T24 9 in 2015
    # --- ordinary demands
    ("tianjin", "家门口的路灯坏了好几天了", "accept", "受理"),
    ("guangzhou", "我家楼上装修噪音太大，每天早上七点就开始", "accept", "受理"),
    ("taian", "小区物业乱收停车费", "accept", "受理"),
    ("tianjin", "我想咨询一下公积金怎么提取", "accept", "受理"),
]

RULES = {
    # the article each class cites in each profile
    ("tianjin", "emergency"): "天津办法第十三条第（一）项",
    ("guangzhou", "emergency"): "广州办法第十一条第二款第（一）项",
    ("taian", "emergency"): "泰安办法第十三条第（一）项",
    ("tianjin-2015", "emergency"): "天津2015规定第八条第（一）项",
    ("tianjin", "legal_procedure"): "天津办法第十三条第（二）项",
    ("guangzhou", "legal_procedure"): "广州办法第十一条第二款第（二）项",
    ("tianjin", "secret"): "天津办法第十三条第（三）项",
    ("guangzhou", "secret"): "广州办法第十一条第二款第（五）项",
    ("tianjin", "unlawful"): "天津办法第十三条第（四）项",
    ("taian", "unlawful"): "泰安办法第十三条第（三）项",
    ("guangzhou", "unlawful"): "广州办法第十二条第二款",
    ("guangzhou", "other_body"): "广州办法第十一条第二款第（三）项",
    ("tianjin", "other_body"): "广州办法第十一条第二款第（三）项",
    ("tianjin-2015", "other_body"): "天津2015规定第八条第（四）项",
    ("tianjin-2015", "civil_dispute"): "天津2015规定第八条第（二）项",
    ("taian", "out_of_city"): "泰安办法第十三条第（五）项",
    ("tianjin", "out_of_city"): "泰安办法第十三条第（五）项",
    ("guangzhou", "out_of_city"): "广州办法第十一条第一款",
    ("tianjin", "regional"): "天津办法第九条",
    ("tianjin", "accept"): "天津办法第十四条",
    ("guangzhou", "accept"): "广州办法第十一条第一款",
    ("taian", "accept"): "泰安办法第十二条",
    ("tianjin-2015", "accept"): "天津2015规定第七条",
}


@pytest.mark.parametrize(("profile", "text", "cls", "route"), CASES)
def test_triage_case(profile: str, text: str, cls: str, route: str | None) -> None:
    result = triage(text, load_policy(profile))
    assert result.cls == cls, result.reason
    if route is not None:
        assert result.route == route
    elif cls != "emergency":
        assert result.route == load_policy(profile).triage_class(cls).route  # type: ignore[union-attr]
    expected_rule = RULES.get((profile, cls))
    if expected_rule:
        assert result.rule.startswith(expected_rule), result.rule
    assert result.rule in result.reason


def test_case_count() -> None:
    assert len(CASES) >= 40
    assert {c[2] for c in CASES} >= {
        "emergency", "legal_procedure", "secret", "unlawful", "other_body", "civil_dispute", "out_of_city",
        "regional", "accept",
    }  # fmt: skip


def test_reason_names_trigger_and_clause() -> None:
    result = triage("我家厨房着火了，火很大，快来人", load_policy("tianjin"))
    assert "着火" in result.matched
    assert "“我家厨房着火了”" in result.reason and "119" in result.reason


def test_reason_names_what_was_not_counted() -> None:
    result = triage("我们小区楼道堆放杂物，存在火灾隐患", load_policy("tianjin"))
    # 火灾 is a topic word without an ongoing cue; 隐患 would cancel it anyway
    assert result.cls == "accept"
    result = triage("去年家里着火了，想申请救助补贴", load_policy("tianjin"))
    assert "“着火”（因“去年”）" in result.reason


def test_context_cue_in_neighbouring_clause() -> None:
    # 社保 (topic) in one clause, 河北 (context) in the one before (T24 9)
    result = triage("老家在河北，现在在天津社保怎么转", load_policy("tianjin"))
    assert result.cls == "regional" and result.matched == ["社保"]


def test_priority_emergency_before_legal() -> None:
    # life first: an ongoing fight beats a mention of 起诉 (T24 13(1) before 13(2))
    result = triage("我要起诉他，他现在正在楼下打架，拿着刀", load_policy("tianjin"))
    assert result.cls == "emergency" and result.route == "110"


def test_to_json() -> None:
    result = triage("我家厨房着火了，快来人", load_policy("tianjin"))
    data = result.to_json()
    assert data == {"class": "emergency", "route": "119", "reason": result.reason, "rule": result.rule}
    accepted = triage("家门口的路灯坏了好几天了", load_policy("tianjin")).to_json()
    assert accepted["class"] == "accept" and accepted["route"] == "受理"


def test_empty_text_is_accept() -> None:
    assert triage("", load_policy("tianjin")).cls == "accept"


def test_full_width_and_spaces() -> None:
    assert clauses("着火了！ 快来，　救命") == ["着火了", "快来", "救命"]


def test_result_is_frozen() -> None:
    result = triage("家门口的路灯坏了", load_policy("tianjin"))
    assert isinstance(result, TriageResult)
    with pytest.raises(AttributeError):
        result.cls = "emergency"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["tianjin", "guangzhou", "taian", "tianjin-2015"])
@pytest.mark.parametrize(
    ("text", "cls", "route"),
    [
        ("我爸突然倒在地上叫不醒了怎么办", "emergency", "120"),  # T24 13(1)
        ("家里天然气味道很重，好像漏气了", "emergency", "119"),  # T24 13(1)
        ("隔壁邻居天天吵架，今天打起来了，拿着菜刀", "emergency", "110"),  # T24 13(1)
        ("昨天晚上小区着火了，今天想问问物业赔偿的事", "accept", None),  # past event: not an emergency
        ("自行车轮胎漏气了，附近哪里有修车的", "accept", None),
        ("我想查一下我前妻现在住哪里", "secret", None),  # T24 13(3)
        ("帮我开个假的病假条", "unlawful", None),  # T24 13(4)
    ],
)
def test_cues_hold_in_every_profile(name: str, text: str, cls: str, route: str | None) -> None:
    result = triage(text, load_policy(name))
    assert result.cls == cls, (name, text, result.reason)
    if route is not None:
        assert result.route == route


def test_hebei_district_is_in_tianjin() -> None:
    assert triage("河北区民权门附近停水了", load_policy("tianjin")).cls == "accept"


@pytest.mark.parametrize(
    "text",
    [
        "鞍山西道的小区停水了",  # a street named after a province is a street of this city
        "福州道路面塌陷，车辆绕行",
        "家里灶打不着火了，燃气公司能来修吗",  # 打不着火: the stove, not a fire
        "担心着火，楼道里堆满了纸箱",  # a hazard to report, not a fire (T24 13(1) is for emergencies)
        "树歪了，怕倒了砸车砸人",
    ],
)
def test_local_streets_and_hypotheticals_are_accepted(text: str) -> None:
    assert triage(text, load_policy("tianjin")).cls == "accept"
