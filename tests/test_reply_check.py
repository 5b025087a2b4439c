"""Reply checks on realistic replies (TTR 16; GZ 19; fallbacks for TA and T15)."""

from __future__ import annotations

import pytest

from hotline_tui.policy import load_policy
from hotline_tui.services.reply_check import ReplyCheck, check_reply, phrase_pattern, substance

GOOD = [
    # complete: time, staff, phone, process, result, caller's response (TTR 16(1))
    (
        "tianjin",
        "11月3日10时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，经核实该路段路灯线路老化，"
        "已于11月4日更换线路并恢复照明，诉求人表示满意。",
    ),
    (
        "tianjin",
        "2025年3月12日14时，市道路运输局工作人员李娜（联系电话13812345678）已联系诉求人，经调取车载监控视频核实，"
        "该出租车司机存在绕路行为，已责令所属公司退还多收车费23元，并对司机进行批评教育，诉求人表示认可。",
    ),
    # a consult answered with the rule itself
    (
        "tianjin",
        "5月6日9时，工作人员张强（电话022-88886666）电话联系诉求人，经查询，根据《天津市居住证管理办法》规定，"
        "办理居住证需携带身份证、租房合同到所在地派出所户籍窗口办理，已告知诉求人，诉求人表示理解。",
    ),
    # contains 「已联系」 inside a full account: not vague (TTR 16(4) is about replies that are only that)
    (
        "tianjin",
        "6月1日上午10点，我单位工作人员赵刚（13900001111）与诉求人取得联系，经现场查看，该小区排水管道堵塞，"
        "已联系施工单位于6月2日完成疏通，诉求人表示满意。",
    ),
    (
        "tianjin",
        "4月8日，区市场监管局工作人员孙丽（电话022-27778888）与诉求人联系，经现场检查，该超市确实存在销售过期食品行为，"
        "已立案调查并责令下架，诉求人表示认可。",
    ),
    # starts with a courtesy formula but gives the whole account (not a template answer, TTR 16(6))
    (
        "tianjin",
        "您好，您反映的问题已收悉。11月5日9时，街道城管科工作人员刘洋（电话022-58887777）已联系诉求人并到现场查看，"
        "经核实该处占道经营摊位3处，已于当日依法取缔，诉求人表示满意。",
    ),
    # says the matter was partly someone else's, then gives the result (not a return reason as result, TTR 16(3))
    (
        "tianjin",
        "经核实，该路段不属于我单位职责，属区市容园林委管辖。我单位已于3月2日协调区市容园林委工作人员陈伟"
        "（电话022-23331111）到现场，已更换破损井盖，3月3日电话回访诉求人，诉求人表示满意。",
    ),
    # a follow-up mentioned after the result is not a process answer (TTR 16(5))
    (
        "tianjin",
        "10月9日15时，工作人员周敏（电话022-24445555）与诉求人电话联系，诉求人反映的噪音问题经现场检测，夜间噪声超标，"
        "已责令该商户于10月12日前完成整改，目前正在跟进，诉求人表示认可。",
    ),
    # full-width digits
    (
        "tianjin",
        "１２月２日１０时，工作人员吴刚（电话０２２－２６６６７７７７）上门走访诉求人，经核实供热管线阀门故障，"
        "已于当日维修并恢复供热，室温达标，诉求人表示满意。",
    ),
    # GZ 19 (2): 办理时间、办理经过、办理结果、回复诉求人情况 — no staff name needed
    (
        "guangzhou",
        "2024年5月8日，天河区住建局到现场核查，经查该工地夜间施工未办理夜间施工许可，已责令其停止夜间施工，"
        "并于5月9日电话告知诉求人处理结果，诉求人表示认可。",
    ),
    (
        "guangzhou",
        "11月3日10时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，经核实该路段路灯线路老化，"
        "已于11月4日更换线路并恢复照明，诉求人表示满意。",
    ),
    (
        "taian",
        "3月15日上午，泰山区住建局工作人员到小区现场查看，经排查系二次供水泵房设备故障，已于3月16日更换水泵恢复供水，"
        "当日电话回复诉求人，诉求人表示满意。",
    ),
    # T15 11(1): the result and that the caller was told it
    ("tianjin-2015", "经现场核查，该处下水道堵塞，已于7月2日疏通完毕，并电话告知当事人，当事人表示满意。"),
]

BAD = [
    # only a vague phrase (TTR 16(4))
    ("tianjin", "已联系。", "vague_only", "天津交通运输委规程第十六条第（四）项"),
    ("tianjin", "已告知相关政策。", "vague_only", "天津交通运输委规程第十六条第（四）项"),
    (
        "tianjin",
        "您好，您反映的问题已解决，感谢您的支持！",
        "vague_only",
        "天津交通运输委规程第十六条第（四）项",
    ),
    (
        "tianjin",
        "已联系诉求人，已解释相关政策，诉求人表示理解。",
        "vague_only",
        "天津交通运输委规程第十六条第（四）项",
    ),
    ("tianjin", "已联系诉求人，已处理。", "vague_only", "天津交通运输委规程第十六条第（四）项"),
    ("guangzhou", "已联系诉求人，问题已解决。", "vague_only", "广州办法第十九条第三款第（一）项"),
    # a process answer as the result (TTR 16(5))
    ("tianjin", "该问题已转区住建委处理。", "process_only", "天津交通运输委规程第十六条第（五）项"),
    ("tianjin", "目前正在办理中，请耐心等待。", "process_only", "天津交通运输委规程第十六条第（五）项"),
    (
        "tianjin",
        "3月4日，工作人员王芳（13611112222）联系诉求人，经核实，该问题已转区住建委处理。",
        "process_only",
        "天津交通运输委规程第十六条第（五）项",
    ),
    ("guangzhou", "目前正在处理中。", "process_only", "广州办法第十九条第三款第（一）项"),
    (
        "taian",
        "已移交相关部门，待核实后答复。",
        "process_only",
        "天津交通运输委规程第十六条第（五）项（参照）",
    ),
    # a template (TTR 16(6))
    (
        "tianjin",
        "您好，已与您取得联系，您反映的问题已收悉，我们将尽快处理，感谢您对我们工作的支持。",
        "template",
        "天津交通运输委规程第十六条第（六）项",
    ),
    # a return reason as the result (TTR 16(3))
    (
        "tianjin",
        "经核实，该路段不属于我单位职责，建议诉求人向区市容园林委反映。",
        "return_reason",
        "天津交通运输委规程第十六条第（三）项",
    ),
    (
        "tianjin-2015",
        "经核实，该事项不属于我单位职责，请联系其他部门。",
        "return_reason",
        "天津交通运输委规程第十六条第（三）项（参照）",
    ),
    # too short, or nothing said (TTR 16(2))
    ("tianjin", "好的，知道了。", "too_short", "天津交通运输委规程第十六条第（二）项"),
    (
        "tianjin",
        "我们会高度重视，认真研究，加强管理，感谢您的关注。",
        "too_short",
        "天津交通运输委规程第十六条第（二）项",
    ),
    (
        "tianjin",
        "您好，对于您反映的情况，我们高度重视，已认真研究，后续我们会进一步加强管理，积极做好相关工作，"
        "感谢您对我们工作的关注和监督。",
        "vague",
        "天津交通运输委规程第十六条第（二）项",
    ),
    ("tianjin", "   ", "empty", "天津交通运输委规程第十六条第（二）项"),
    # elements missing (TTR 16(1)): no phone, no staff
    (
        "tianjin",
        "11月3日，经现场核查，该路段路灯线路老化，已于11月4日更换线路并恢复照明，诉求人表示满意。",
        "missing:staff",
        "天津交通运输委规程第十六条第（一）项",
    ),
    (
        "tianjin",
        "11月3日，经现场核查，该路段路灯线路老化，已于11月4日更换线路并恢复照明，诉求人表示满意。",
        "missing:phone",
        "天津交通运输委规程第十六条第（一）项",
    ),
    # no caller's response
    (
        "tianjin",
        "11月3日10时，工作人员王明（电话022-23456789）到现场核查，经核实该路段路灯线路老化，已于11月4日更换线路。",
        "missing:feedback",
        "天津交通运输委规程第十六条第（一）项",
    ),
    # GZ 19 (2): the caller was not told
    (
        "guangzhou",
        "2024年5月8日，天河区住建局到现场核查，经查该工地夜间施工未办理夜间施工许可，已责令其停止夜间施工。",
        "missing:caller_informed",
        "广州办法第十九条第三款第（二）项",
    ),
    ("guangzhou", "5月9日电话告知诉求人处理结果。", "missing:result", "广州办法第十九条第三款第（二）项"),
    # T15 11(1): no result
    ("tianjin-2015", "已电话联系当事人，并做了解释。", "missing:result", "天津2015规定第十一条第（一）项"),
]


@pytest.mark.parametrize(("profile", "text"), GOOD)
def test_good_reply_passes(profile: str, text: str) -> None:
    result = check_reply(text, load_policy(profile))
    assert result.ok, [f.message for f in result.findings]
    assert result.findings == []


@pytest.mark.parametrize(("profile", "text", "code", "rule"), BAD)
def test_bad_reply_is_refused(profile: str, text: str, code: str, rule: str) -> None:
    result = check_reply(text, load_policy(profile))
    assert not result.ok
    found = {f.code: f for f in result.findings}
    assert code in found, [f.code for f in result.findings]
    assert found[code].rule == rule
    assert found[code].message.endswith(f"（{rule}）")


def test_case_count() -> None:
    assert len(GOOD) + len(BAD) >= 25


def test_missing_element_message() -> None:
    result = check_reply("已联系。", load_policy("tianjin"))
    messages = [f.message for f in result.findings]
    assert "缺少要素：与诉求人联系的具体时间（天津交通运输委规程第十六条第（一）项）" in messages


def test_return_reason_text_of_the_order() -> None:
    # the unit's own earlier return reason, reworded slightly, used as the result (TTR 16(3))
    policy = load_policy("tianjin")
    reply = "11月3日，工作人员王明（电话022-23456789）联系诉求人，经核实该井盖产权属于燃气公司，应由燃气公司负责维护。"
    reasons = ["该井盖产权属于燃气公司，应由燃气公司负责维护，请改派燃气公司"]
    result = check_reply(reply, policy, return_reason_texts=reasons)
    assert "return_reason" in {f.code for f in result.findings}
    assert "return_reason" not in {f.code for f in check_reply(reply, policy).findings}


def test_return_reason_text_with_a_result_is_fine() -> None:
    policy = load_policy("tianjin")
    reply = (
        "11月3日10时，工作人员王明（电话022-23456789）联系诉求人，经核实该井盖产权属于燃气公司，"
        "我单位已协调燃气公司于11月4日更换井盖，诉求人表示满意。"
    )
    result = check_reply(reply, policy, return_reason_texts=["该井盖产权属于燃气公司，请改派燃气公司"])
    assert result.ok, [f.message for f in result.findings]


def test_vague_phrase_inside_full_account_is_not_vague() -> None:
    policy = load_policy("tianjin")
    text = GOOD[3][1]
    assert "已联系" in text
    assert len(substance(text, policy.reply)) >= 10
    assert "vague_only" not in {f.code for f in check_reply(text, policy).findings}


def test_wildcard_phrase() -> None:
    # TTR 16(5) writes 「已转xx处理」
    pattern = phrase_pattern("已转xx处理")
    assert pattern.search("该问题已转区住建委处理。")
    assert not pattern.search("已转。另行处理")  # not across a sentence
    assert phrase_pattern("已与您取得联系……").search("已与您取得联系，问题已收悉")


def test_to_json() -> None:
    result = check_reply("已联系。", load_policy("tianjin"))
    data = result.to_json()
    assert data["ok"] is False
    assert isinstance(data["findings"], list)
    assert all(set(f) == {"rule", "message"} for f in data["findings"])
    assert ReplyCheck(True, []).to_json() == {"ok": True, "findings": []}


@pytest.mark.parametrize(
    "text",
    [
        # staff named by role ("执法人员李强") or by name with the phone in brackets; results "已依法责令…"
        "2025年3月5日14时30分，南开区市场监管局执法人员李强（联系电话：022-27351234）电话联系诉求人，随后到涉事超市现场检查，"
        "发现该超市确有销售过期酸奶的行为，已依法责令其下架全部过期食品并立案调查，诉求人对处理结果表示认可。",
        "4月2日9时，区人社局劳动监察大队王磊（电话022-58301234）联系诉求人了解情况，经调取考勤记录和工资发放记录，"
        "查实该公司拖欠诉求人2个月工资共计9600元，已责令公司于4月10日前足额支付，诉求人表示接受。",
        # a consult answered by explaining the rule is a result too (TTR 16(1)), unlike a bare 「已解释相关政策」
        "5月8日16时，市公积金中心提取科工作人员赵敏（电话022-23456700）致电诉求人，解释了租房提取公积金须提供的材料和办理流程，"
        "并告知可通过手机APP线上办理，诉求人表示清楚了，无异议。",
    ],
)
def test_complete_replies_in_other_words_pass(text: str) -> None:  # TTR 16(1)
    result = check_reply(text, load_policy("tianjin"))
    assert result.ok, [f.message for f in result.findings]


def test_stakeout_and_fine_under_a_regulation_pass() -> None:  # TTR 16(1): process and result in other words
    text = (
        "6月3日10时，河西区城管委执法队员张伟（电话022-28123456）联系诉求人，经连续三晚蹲守，查实该烧烤摊夜间占道经营，"
        "已依据《天津市市容和环境卫生管理条例》对摊主处以500元罚款并责令撤除，诉求人表示满意。"
    )
    assert check_reply(text, load_policy("tianjin")).ok
