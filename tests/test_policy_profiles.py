"""Policy profiles: every shipped profile loads, holds the numbers its regulation states, and a broken
profile is refused with the file and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_tui.errors import PolicyError
from hotline_tui.policy import POLICY_DIR, Period, Policy, available, load_policy, load_policy_file

PROFILES = ("tianjin", "guangzhou", "taian", "tianjin-2015")


def wd(n: int) -> Period:
    return Period(n, "wd")


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loads(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name
    assert name in available()
    # every (channel, type, urgency) has a deadline rule with a citation
    for ch in policy.channels:
        for ty in policy.types:
            for ur in policy.urgencies:
                assert policy.deadline_rule(ch, ty, ur).cite
    # every class of the emergency table names its line
    numbers = {c.number for c in policy.triage if c.code == "emergency"}
    assert {"110", "119", "120"} <= numbers
    assert isinstance(policy.extra.get("intake", {}).get("cite"), str)


@pytest.mark.parametrize("name", PROFILES)
def test_every_citation_names_a_regulation(name: str) -> None:
    policy = load_policy(name)
    cites = [r.cite for r in policy.deadline_rules] + [c.cite for c in policy.triage]
    cites += [policy.return_cite, policy.designation_cite, policy.extension.cite, policy.reply.cite_elements]
    for cite in cites:
        assert any(
            k in cite for k in ("天津办法", "天津交通运输委规程", "广州办法", "泰安办法", "天津2015规定")
        ), cite


# ---------------------------------------------------------------- Guangzhou: numbers from the article


@pytest.fixture(scope="module")
def gz() -> Policy:
    return load_policy("guangzhou")


def test_gz_types_and_channels(gz: Policy) -> None:
    # GZ 11: 咨询、求助、投诉、举报和意见建议; GZ 2: 12345 电话、微信、网站
    assert set(gz.types) == {"consult", "help", "complaint", "report", "suggestion"}
    assert set(gz.channels) == {"phone", "wechat", "web"}


def test_gz_dispatch_one_wd(gz: Policy) -> None:
    # GZ 13: 1个工作日内转派
    assert gz.dispatch_limit == wd(1)
    assert "第十三条" in gz.dispatch_cite


def test_gz_counting_starts_next_day(gz: Policy) -> None:
    # GZ 14, 17: 自收到事项次日起
    assert gz.wd_start == "next_day"


def test_gz_consult_two_wd(gz: Policy) -> None:
    # GZ 17 (1): 咨询类2个工作日
    for urgency in gz.urgencies:
        assert gz.deadline_rule("phone", "consult", urgency).period == wd(2)


@pytest.mark.parametrize("type_", ["help", "complaint", "report", "suggestion"])
def test_gz_non_consult_ten_wd(gz: Policy, type_: str) -> None:
    # GZ 17 (2): 非咨询类10个工作日
    rule = gz.deadline_rule("wechat", type_, "normal")
    assert rule.period == wd(10)
    assert "第十七条" in rule.cite


def test_gz_return_window(gz: Policy) -> None:
    # GZ 14: 自收到事项次日起2个工作日内核查、申请退回
    assert gz.return_window == wd(2)
    assert gz.return_window_complex is None
    assert gz.return_reason("not_our_duty") is not None
    assert gz.return_reason("not_our_duty").required == ("reason", "basis")  # type: ignore[union-attr]


def test_gz_designation(gz: Policy) -> None:
    # GZ 16: 退回3次以上，征求相关部门意见后确定承办单位
    assert gz.designation_after == 3
    assert gz.designation_consult_required


def test_gz_extension(gz: Policy) -> None:
    # GZ 18: 届满前办理，以2次为限，告知诉求人理由和期限（无须同意，无提前量）
    ext = gz.extension
    assert ext.enabled and ext.max_count == 2
    assert ext.lead is None
    assert not ext.consent_required
    assert "reason" in ext.required
    assert ext.forbidden_types == frozenset()


def test_gz_rehandle(gz: Policy) -> None:
    # GZ 20: 再次办理以1次为限，不得延期
    assert gz.callback.rehandle_max == 1
    assert not gz.callback.rehandle_extension
    assert "第二十条" in gz.callback.cite_rehandle


def test_gz_reply_elements(gz: Policy) -> None:
    # GZ 19 (2): 办理时间、办理经过、办理结果和回复诉求人情况
    assert [e.code for e in gz.reply.elements] == ["handle_time", "process", "result", "caller_informed"]
    assert gz.reply.cite_elements == "广州办法第十九条第三款第（二）项"


def test_gz_triage_numbers(gz: Policy) -> None:
    # GZ 11 (1): 110、119、120、122
    assert {c.number for c in gz.triage if c.code == "emergency"} == {"110", "119", "120", "122"}
    # GZ 11 (3): 党委、人大、政协、军队
    other = gz.triage_class("other_body")
    assert other is not None and "第（三）项" in other.cite
    assert gz.triage_class("civil_dispute") is None  # T15 only
    assert gz.triage_class("regional") is None  # T24 9 only


def test_gz_no_stop_no_appeal(gz: Policy) -> None:
    # GZ has neither 终止办理 nor 申诉
    assert not gz.stop_enabled
    assert gz.appeal.window == "disabled"


# ---------------------------------------------------------------- Taian


@pytest.fixture(scope="module")
def ta() -> Policy:
    return load_policy("taian")


def test_ta_channels(ta: Policy) -> None:
    # TA 2: 12345电话及配套设置的邮箱、网站、微信
    assert set(ta.channels) == {"phone", "email", "web", "wechat"}


def test_ta_deadlines_fall_back_to_gz17(ta: Policy) -> None:
    # TA 15(2) sets no number; GZ 17 (2 WD / 10 WD, from the next day) is the declared fallback
    assert ta.wd_start == "next_day"
    assert ta.deadline_rule("email", "consult", "normal").period == wd(2)
    assert ta.deadline_rule("email", "complaint", "normal").period == wd(10)
    assert "广州办法第十七条" in ta.deadline_rule("email", "complaint", "normal").cite


def test_ta_stop_handling(ta: Policy) -> None:
    # TA 15 (5)(6): 拒不配合；不合理诉求经解释仍不满意 → 审核后终止办理
    assert ta.stop_enabled
    assert set(ta.stop_reasons) == {"refuses_cooperation", "unreasonable_demand"}
    assert ta.stop_cite == "泰安办法第十五条第（五）（六）项"


def test_ta_emergency_includes_122(ta: Policy) -> None:
    # TA 13 (1): 110、119、120、122
    assert {c.number for c in ta.triage if c.code == "emergency"} == {"110", "119", "120", "122"}


def test_ta_out_of_city(ta: Policy) -> None:
    # TA 13 (5): 不属于本市行政管辖范围的，告知向管辖地反映
    tc = ta.triage_class("out_of_city")
    assert tc is not None and tc.cite == "泰安办法第十三条第（五）项"


def test_ta_secret_and_unlawful_share_13_3(ta: Policy) -> None:
    # TA 13 (3): 违法、违背公序良俗，或涉及国家秘密、工作秘密、商业秘密、个人隐私
    for code in ("secret", "unlawful"):
        tc = ta.triage_class(code)
        assert tc is not None and "第十三条第（三）项" in tc.cite


def test_ta_extension_by_explanation(ta: Policy) -> None:
    # TA 15 (4): 向诉求人作出解释并申请延期 (no consent); count from GZ 18
    assert ta.extension.enabled and not ta.extension.consent_required
    assert ta.extension.max_count == 2


def test_ta_co_units(ta: Policy) -> None:
    # TA 14 (2): 一个承办单位牵头，其他配合
    assert ta.lead_waits_for_co


# ---------------------------------------------------------------- Tianjin 2015 (88908890)


@pytest.fixture(scope="module")
def t15() -> Policy:
    return load_policy("tianjin-2015")


def test_t15_line(t15: Policy) -> None:
    # T15 2, 9: 88908890便民服务平台；电话语音、网站应用和移动应用
    assert "88908890" in t15.channels["phone"]
    assert set(t15.channels) == {"phone", "web", "miniprogram"}


def test_t15_return_window(t15: Policy) -> None:
    # T15 11 (3): 1个工作日内退回，复杂、疑难事项可延长至2个工作日
    assert t15.return_window == wd(1)
    assert t15.return_window_complex == wd(2)
    assert t15.return_cite == "天津2015规定第十一条第（三）项"


def test_t15_civil_dispute(t15: Policy) -> None:
    # T15 8 (2): 行政职权范围以外的民事纠纷不予受理
    tc = t15.triage_class("civil_dispute")
    assert tc is not None and tc.cite == "天津2015规定第八条第（二）项"


def test_t15_military_only(t15: Policy) -> None:
    # T15 8 (4): 涉及军队、武警管辖的事项 (not Party / NPC / CPPCC)
    tc = t15.triage_class("other_body")
    assert tc is not None and tc.cite == "天津2015规定第八条第（四）项"
    assert "人大代表" not in tc.keywords


def test_t15_emergency(t15: Policy) -> None:
    # T15 8 (1): 110、119、120等紧急渠道
    assert all(c.cite.startswith("天津2015规定第八条第（一）项") for c in t15.triage if c.code == "emergency")


def test_t15_extension_explained_in_advance(t15: Policy) -> None:
    # T15 11 (2): 提前向专线服务中心说明理由 (lead from TTR 14: 1 day)
    assert t15.extension.required == ("reason",)
    assert t15.extension.lead == Period(1, "days")
    assert not t15.extension.consent_required


def test_t15_no_regional(t15: Policy) -> None:
    # 京津冀协同 is T24 9 (2025), not in T15
    assert t15.triage_class("regional") is None


# ---------------------------------------------------------------- Tianjin (T24 + TTR)


@pytest.fixture(scope="module")
def tj() -> Policy:
    return load_policy("tianjin")


def test_tj_ttr_table(tj: Policy) -> None:
    # TTR 11 (1): 咨询3、办理/建议/投诉/举报5；特急1小时、紧急1个工作日、急2个工作日
    assert tj.deadline_rule("phone", "consult", "normal").period == wd(3)
    assert tj.deadline_rule("phone", "complaint", "normal").period == wd(5)
    assert tj.deadline_rule("phone", "complaint", "critical").period == Period(1, "hours")
    assert tj.deadline_rule("phone", "complaint", "very_urgent").period == wd(1)
    assert tj.deadline_rule("phone", "complaint", "urgent").period == wd(2)
    # TTR 11 (3): 政民零距离咨询2
    assert tj.deadline_rule("zmlj", "consult", "normal").period == wd(2)


def test_tj_catch_all_cites_t24_16(tj: Policy) -> None:
    # TTR 11 (1) lists no 求助 row for 12345 orders: T24 16 (the order's feedback period) covers it
    assert tj.deadline_rule("phone", "help", "normal").cite.startswith("天津办法第十六条")


def test_tj_accept_and_return(tj: Policy) -> None:
    # TTR 8 (1): 3小时接单; T24 17: 1个工作日退回、疑难复杂2个工作日; TTR 8 (3) 1: 交通运输委24小时
    assert tj.accept_limit == Period(3, "hours")
    assert tj.return_window == wd(1) and tj.return_window_complex == wd(2)
    group = tj.group_for(["JTW"])
    assert group is not None and group.return_window == Period(24, "hours")


def test_tj_extension(tj: Policy) -> None:
    # TTR 14: 征得同意，到期前至少一日；咨询类与特急/紧急/急不得延期
    ext = tj.extension
    assert ext.consent_required and ext.lead == Period(1, "days")
    assert ext.forbidden_types == {"consult"}
    assert ext.forbidden_urgencies == {"urgent", "very_urgent", "critical"}


def test_tj_reply_cites_each_item(tj: Policy) -> None:
    # TTR 16 (1)..(6)
    r = tj.reply
    assert r.cite_elements.endswith("第十六条第（一）项")
    assert r.cite_quality.endswith("第（二）项")
    assert r.cite_return_reason.endswith("第（三）项")
    assert r.cite_vague.endswith("第（四）项")
    assert r.cite_process.endswith("第（五）项")
    assert r.cite_template.endswith("第（六）项")
    assert [e.code for e in r.elements] == ["contact_time", "staff", "phone", "process", "result", "feedback"]


def test_tj_regional(tj: Policy) -> None:
    # T24 9: 京津冀协同
    tc = tj.triage_class("regional")
    assert tc is not None and tc.cite == "天津办法第九条"


# ---------------------------------------------------------------- broken profiles


BASE = (POLICY_DIR / "tianjin.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "broken.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    message = info.value.message
    assert str(path) in message, message  # names the file
    return message


def replace_once(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_base_loads(tmp_path: Path) -> None:
    assert load_policy_file(write(tmp_path, BASE)).name == "tianjin"


def test_bad_toml(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + "\n[profile\nname = \n"))
    assert "不是合法的 TOML" in message


def test_missing_table(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("[extension]\n", "[extensions]\n")))
    assert "extension：缺少该表" in message


def test_wrong_type(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("designation_after = 3", 'designation_after = "3"')))
    assert "return.designation_after" in message and "整数" in message


def test_wrong_type_bool(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("consent_required = true", 'consent_required = "yes"')))
    assert "extension.consent_required" in message


def test_unknown_type_code(tmp_path: Path) -> None:
    message = refused(
        write(tmp_path, replace_once('feedback = "反馈"\n', 'feedback = "反馈"\ninquiry = "问询"\n'))
    )
    assert "types.inquiry" in message and "未知的代码" in message


def test_unknown_code_in_list(tmp_path: Path) -> None:
    message = refused(
        write(tmp_path, replace_once('forbidden_types = ["consult"]', 'forbidden_types = ["enquiry"]'))
    )
    assert "extension.forbidden_types[0]" in message and "enquiry" in message


def test_unknown_triage_class(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once('code = "regional"', 'code = "abroad"')))
    assert "triage[" in message and ".code" in message and "abroad" in message


def test_code_not_defined_by_profile(tmp_path: Path) -> None:
    gz = (POLICY_DIR / "guangzhou.toml").read_text(encoding="utf-8")
    text = replace_once(
        'types = ["consult"]\nperiod = { amount = 2', 'types = ["handle"]\nperiod = { amount = 2', gz
    )
    message = refused(write(tmp_path, text))
    assert "deadline.rules[0].types[0]" in message and "不在本策略定义的代码中" in message


def test_incomplete_deadline_coverage(tmp_path: Path) -> None:
    gz = (POLICY_DIR / "guangzhou.toml").read_text(encoding="utf-8")
    catch_all = gz[gz.index("[[deadline.rules]]\nperiod = { amount = 10") : gz.index("# GZ 13")]
    message = refused(write(tmp_path, gz.replace(catch_all, "")))
    assert "deadline.rules" in message and "没有规则覆盖" in message


def test_no_deadline_rules(tmp_path: Path) -> None:
    gz = (POLICY_DIR / "guangzhou.toml").read_text(encoding="utf-8")
    start, end = gz.index("[[deadline.rules]]"), gz.index("# GZ 13")
    message = refused(write(tmp_path, gz[:start] + gz[end:]))
    assert "deadline.rules" in message


def test_bad_regex(tmp_path: Path) -> None:
    text = replace_once("patterns = ['\\d{1,2}月\\d{1,2}日', ", "patterns = ['(\\d{1,2}月', ")
    message = refused(write(tmp_path, text))
    assert "reply.elements[0].patterns[0]" in message and "正则表达式错误" in message


def test_bad_period_unit(tmp_path: Path) -> None:
    text = replace_once('window = { amount = 1, unit = "wd" }', 'window = { amount = 1, unit = "weeks" }')
    message = refused(write(tmp_path, text))
    assert "return.window.unit" in message and "weeks" in message


def test_bad_period_amount(tmp_path: Path) -> None:
    text = replace_once('window = { amount = 1, unit = "wd" }', 'window = { amount = 0, unit = "wd" }')
    message = refused(write(tmp_path, text))
    assert "return.window.amount" in message


def test_period_not_a_table(tmp_path: Path) -> None:
    text = replace_once(
        'limit = { amount = 3, unit = "hours" }\ncite = "天津交通运输委规程第八条第（一）项"',
        'limit = "3小时"\ncite = "x"',
    )
    message = refused(write(tmp_path, text))
    assert "accept.limit" in message


def test_emergency_without_number(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once('number = "119"\n', "")))
    assert "triage[1].number" in message


def test_topics_without_context(tmp_path: Path) -> None:
    text = replace_once(
        'topics = ["法院"]\ncontext = ["立案", "受理", "判", "审理", "开庭", "执行", "起诉", "案子", "案件", "传票"]\n',
        'topics = ["法院"]\n',
    )
    message = refused(write(tmp_path, text))
    assert ".context" in message and "topics" in message


def test_monthly_day_out_of_range(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("day = 6", "day = 31")))
    assert "appeal.day" in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_file(tmp_path / "missing.toml")
    assert "missing.toml" in info.value.message


def test_unknown_profile_name() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy("atlantis")
    assert "atlantis" in info.value.message and "guangzhou" in info.value.message


# ---------------------------------------------------------------- repeat calls and abuse of the line

REPEAT_CITES = {
    # T24 13(5), 12 para. 3; GZ 11(4) (in progress) and 22 (finished), 12(2)(3); TA 13(4), 11, 32; T15 has none
    "tianjin": ("天津办法第十三条第（五）项", "天津办法第十三条第（五）项", "天津办法第十二条第三款"),
    "guangzhou": (
        "广州办法第十一条第二款第（四）项",
        "广州办法第二十二条",
        "广州办法第十二条第一款第（二）（三）项",
    ),
    "taian": (
        "泰安办法第十三条第（四）项",
        "泰安办法第十三条第（四）项",
        "泰安办法第十一条、第三十二条第（二）（三）项",
    ),
    "tianjin-2015": (
        "天津办法第十三条第（五）项（参照；天津2015规定未列此项）",
        "天津办法第十三条第（五）项（参照；天津2015规定未列此项）",
        "天津办法第十二条第三款（参照；天津2015规定未列此项）",
    ),
}


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_has_repeat_rules(name: str) -> None:
    rules = load_policy(name).repeat
    assert (rules.cite, rules.cite_done, rules.abuse_cite) == REPEAT_CITES[name]
    assert 0 < rules.min_similarity <= 1
    assert rules.window_days >= 30 and rules.similar_days >= 7
    assert rules.abuse_calls >= 2 and rules.abuse_days >= 1
    assert rules.abuse_labels
    assert "repeat" not in load_policy(name).extra


def test_repeat_table_missing(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("[repeat]\n", "[repeats]\n")))
    assert "repeat：缺少该表" in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("0", "应在 0 到 1 之间"),
        ("1.5", "应在 0 到 1 之间"),
        ('"0.6"', "应为 0 到 1 之间的数"),
        ("true", "应为 0 到 1 之间的数"),
    ],
)
def test_repeat_similarity_out_of_range(tmp_path: Path, value: str, fragment: str) -> None:
    message = refused(write(tmp_path, replace_once("min_similarity = 0.6", f"min_similarity = {value}")))
    assert "repeat.min_similarity" in message and fragment in message


def test_repeat_numbers_checked(tmp_path: Path) -> None:
    message = refused(write(tmp_path, replace_once("abuse_calls = 10", "abuse_calls = 1")))
    assert "repeat.abuse_calls" in message and "应不小于 2" in message
    message = refused(write(tmp_path, replace_once("window_days = 90", 'window_days = "90"')))
    assert "repeat.window_days" in message
    message = refused(write(tmp_path, replace_once('abuse_cite = "天津办法第十二条第三款"\n', "")))
    assert "repeat.abuse_cite" in message


def test_repeat_similarity_may_be_an_integer(tmp_path: Path) -> None:
    policy = load_policy_file(write(tmp_path, replace_once("min_similarity = 0.6", "min_similarity = 1")))
    assert policy.repeat.min_similarity == 1.0
