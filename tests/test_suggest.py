"""Dispatch suggestion, the unit picker, and the deadlines of a form not yet saved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotline_tui.clock import iso
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied
from hotline_tui.services import admin, intake
from hotline_tui.services import dispatch as dp
from hotline_tui.services import handling as hd
from hotline_tui.services import kb as kbs
from hotline_tui.services import review as rv
from hotline_tui.services.suggest import find_units, preview_new, suggest_units
from tests.conftest import World

# A unit tree of its own, on top of the conftest one: two districts with departments and a street office,
# city departments, a utility, an inactive unit and a second centre that share keywords with them.
TREE = """
[[unit]]
code = "HPQ"
name = "和平区人民政府"
kind = "district"
keywords = ["和平区"]

[[unit]]
code = "HPQ-CG"
name = "和平区城市管理委员会"
kind = "department"
parent = "HPQ"
keywords = ["路灯", "垃圾", "占道经营"]

[[unit]]
code = "HPQ-XBL"
name = "和平区小白楼街道办事处"
kind = "sub_unit"
parent = "HPQ"
keywords = ["南京路", "小白楼"]

[[unit]]
code = "NKQ"
name = "南开区人民政府"
kind = "district"
keywords = ["南开区"]

[[unit]]
code = "NKQ-CG"
name = "南开区城市管理委员会"
kind = "department"
parent = "NKQ"
keywords = ["路灯", "垃圾"]

[[unit]]
code = "SWJ"
name = "市水务局"
kind = "department"
keywords = ["停水", "自来水", "水压"]

[[unit]]
code = "RQ"
name = "天津燃气集团"
kind = "utility"

[[unit]]
code = "FDC"
name = "市城市管理委员会充电设施处"
kind = "department"

[[unit]]
code = "ZJW"
name = "市住房和城乡建设委员会"
kind = "department"

[[unit]]
code = "OLD"
name = "市原市政公路管理局"
kind = "department"
keywords = ["路灯", "燃气"]

[[unit]]
code = "CENTRE2"
name = "和平区12345热线工作站"
kind = "centre"
parent = "HPQ"
keywords = ["路灯", "南京路"]
"""

KB = [
    {
        "id": "KB-RQ-001",
        "title": "燃气表不走字或计量不准如何报修",
        "body": "燃气表不走字、走字过快或表具损坏的，可拨打燃气集团客服电话报修，工作人员上门检测更换。",
        "keywords": ["燃气表", "不走字", "计量"],
        "unit": "RQ",
        "category": "公用事业/燃气",
        "valid_from": "2024-01-01",
        "valid_to": None,
    },
    {
        "id": "KB-OLD-001",
        "title": "燃气管道改造的审批",
        "body": "燃气管道改造需经审批。",
        "keywords": ["燃气", "改造"],
        "unit": "OLD",
        "category": "公用事业/燃气",
        "valid_from": "2024-01-01",
        "valid_to": None,
    },
]


@pytest.fixture
def tree(sqlite_world: World) -> World:
    w = sqlite_world
    a = w.as_("admin1")
    admin.import_units(a, admin.parse_units(TREE, "tree.toml"))
    admin.deactivate_unit(a, "OLD")
    kbs.import_jsonl(a, "\n".join(json.dumps(e, ensure_ascii=False) for e in KB), "kb.jsonl")
    admin.add_user(a, "zjw", "liaison", "ZJW", display_name="zjw")
    admin.add_user(a, "fdc", "liaison", "FDC", display_name="fdc")
    return w


def codes(rows: list[Any]) -> list[str]:
    return [r.code for r in rows]


# ---------------------------------------------------------------- suggestion


def test_keywords_and_the_district_order_the_suggestion(tree: World) -> None:
    rows = suggest_units(tree.as_("agent1"), "南京路路灯不亮好几天了", district="和平区")
    assert codes(rows)[:2] == ["HPQ-CG", "HPQ-XBL"]  # the district's own units first (local matter)
    first = rows[0]
    assert first.name == "和平区城市管理委员会"
    assert "关键词“路灯”" in first.reasons and "属地：和平区" in first.reasons
    assert "关键词“南京路”" in rows[1].reasons
    other = [r for r in rows if r.code in ("NKQ-CG", "HX-CG")]
    assert other and all(r.score < first.score for r in other)
    assert "HPQ" in codes(rows)  # the district government itself, last resort
    assert "OLD" not in codes(rows) and "CENTRE2" not in codes(rows)  # inactive; a centre
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)


def test_a_keyword_of_another_district_points_to_the_counterpart_here(tree: World) -> None:
    """Only 和平区's street office knows "南京路"-like words; a matter in 南开区 that hits 和平区城市管理委员会's
    keyword "占道经营" goes to 南开区城市管理委员会, which lacks that keyword but is the same office there."""
    rows = suggest_units(tree.as_("agent1"), "小区门口有人占道经营，没人管", district="南开区")
    assert codes(rows)[0] == "NKQ-CG"
    assert any("南开区的对口单位" in r and "占道" in r for r in rows[0].reasons)
    assert codes(rows).index("NKQ-CG") < codes(rows).index("HPQ-CG")  # the other district's unit comes after
    rows = suggest_units(tree.as_("agent1"), "小区门口有人占道经营，没人管", district="和平区")
    assert codes(rows)[0] == "HPQ-CG" and "NKQ-CG" not in codes(rows)  # no counterpart the other way


def test_the_district_named_in_the_demand_counts_too(tree: World) -> None:
    rows = suggest_units(tree.as_("agent1"), "南开区鞍山西道路灯不亮")
    assert codes(rows)[0] == "NKQ-CG"
    assert "属地：南开区" in rows[0].reasons
    rows = suggest_units(tree.as_("agent1"), "路灯不亮", address="南开区鞍山西道3号")
    assert codes(rows)[0] == "NKQ-CG"


def test_owner_of_the_knowledge_base_entry(tree: World) -> None:
    rows = suggest_units(tree.as_("agent1"), "家里燃气表不走字了，是不是坏了")
    assert codes(rows)[0] == "RQ"
    assert any(r.startswith("知识库条目 KB-RQ-001") and r.endswith("的主管单位") for r in rows[0].reasons)
    assert "OLD" not in codes(rows)  # its entry matches too, but the unit is inactive


def test_where_similar_tickets_went_and_stayed(tree: World) -> None:
    w = tree
    a = w.as_("agent1")
    stayed = []
    for text in ("阳光小区电动车充电桩坏了一半没人修", "阳光小区的充电桩坏了，电动车没法充电"):
        no = intake.create_ticket(
            a, intake.IntakeForm("complaint", "phone", text, caller_phone="13812345678")
        ).no
        aid = dp.dispatch(a, no, ["ZJW"])[0].id
        assert aid is not None
        # the housing commission returns it: not its duty; the centre sends it to the charging office
        req = hd.request_return(
            w.as_("zjw"),
            aid,
            "not_our_duty",
            {"reason": "充电设施由城管委负责", "basis": "职责分工", "suggested_unit": "FDC"},
        )
        assert req.id is not None
        rv.review_return(w.as_("disp1"), req.id, approve=True, redispatch_to=["FDC"])
        stayed.append(no)
    w.at("2025-01-27T10:00:00")
    rows = suggest_units(a, "阳光小区充电桩坏了没法充电")
    assert codes(rows)[0] == "FDC"
    assert "近30天 2 件相似工单派往该单位且未被退回" in rows[0].reasons
    assert "ZJW" not in codes(rows)  # a returned assignment does not count for the unit
    # a month later the history has faded
    w.at("2025-03-01T10:00:00")
    assert "FDC" not in codes(suggest_units(a, "阳光小区充电桩坏了没法充电"))


def test_suggestion_edges(tree: World) -> None:
    a = tree.as_("agent1")
    assert suggest_units(a, "") == []
    assert suggest_units(a, "   ") == []
    assert suggest_units(a, "路灯不亮", limit=0) == []
    assert len(suggest_units(a, "路灯不亮", limit=2)) == 2
    assert suggest_units(a, "%_\\'\"\x00路灯") is not None  # never reaches SQL syntax
    with pytest.raises(PermissionDenied):
        suggest_units(tree.as_("cg"), "路灯不亮")


# ---------------------------------------------------------------- unit picker


def test_find_units_by_pinyin_initials_and_full_pinyin(tree: World) -> None:
    a = tree.as_("agent1")
    assert codes(find_units(a, "hpq"))[0] == "HPQ"
    assert codes(find_units(a, "HPQ"))[0] == "HPQ"  # the code, too
    assert codes(find_units(a, "heping"))[0] == "HPQ"
    sw = find_units(a, "sw")
    assert sw[0].code == "SW"  # the code SW itself comes first
    assert sw[1].code == "SWJ" and sw[1].name == "市水务局"  # 市 is a level prefix: s(hui) w(u)
    assert "SWJ" in codes(find_units(a, "shuiwu"))


def test_find_units_by_chinese_code_and_keyword(tree: World) -> None:
    a = tree.as_("agent1")
    rows = find_units(a, "城市管理")
    assert {"HPQ-CG", "NKQ-CG", "HX-CG", "FDC"} <= set(codes(rows))
    cg = next(r for r in rows if r.code == "HPQ-CG")
    assert cg.kind_label == "职能部门" and cg.parent_name == "和平区人民政府"
    assert codes(find_units(a, "hpq-c")) == ["HPQ-CG"]
    assert codes(find_units(a, "小白楼")) == ["HPQ-XBL"]
    assert set(codes(find_units(a, "停水"))) == {"SWJ"}  # a keyword
    assert codes(find_units(a, "和平 城管")) == ["HPQ-CG"]  # every word must match
    assert find_units(a, "不存在的单位") == []
    assert "OLD" not in codes(find_units(a, "路灯")) and "CENTRE2" not in codes(find_units(a, "路灯"))


def test_empty_query_lists_active_handling_units_in_tree_order(tree: World) -> None:
    rows = find_units(tree.as_("kb1"), "", limit=1000)  # any role may search units
    order = codes(rows)
    assert "CENTRE" not in order and "CENTRE2" not in order and "OLD" not in order
    assert order.index("HPQ") < order.index("HPQ-CG") < order.index("HPQ-XBL") < order.index("NKQ")
    assert order.index("HX") < order.index("HX-CG") < order.index("HX-CG-ZM") < order.index("HX-ZJ")
    assert len(find_units(tree.as_("kb1"), "", limit=3)) == 3


# ---------------------------------------------------------------- deadlines of an unsaved form


def test_preview_new_across_the_spring_festival(world: World) -> None:
    # TTR 11(1): complaint 5 WD, consult 3 WD, same_time; 2025 春节 holiday 01-28..02-04, 01-26 调休 workday
    w = world  # clock: Fri 2025-01-24 16:00
    lines = preview_new(
        w.as_("agent1"), type_="投诉", channel="12345电话", urgency="普通", unit_codes=["HX-CG", "HX-ZJ"]
    )
    assert [(x.unit_code, x.role) for x in lines] == [("HX-CG", "lead"), ("HX-ZJ", "co")]
    x = lines[0]
    assert iso(x.due_at) == "2025-02-07T16:00:00+08:00"
    assert x.handling.startswith("办理时限 5个工作日 → 2月7日(周五) 16:00")
    assert "春节" in x.handling
    assert x.accept == "接单时限 3小时 → 今天 19:00"  # TTR 8(1)
    assert x.accept_rule == "天津交通运输委规程第八条第（一）项"
    assert x.returns.startswith("退单时限 1个工作日 → 1月26日(周日) 16:00")  # T24 17; Sunday 01-26 is 调休
    assert "第十一条" in x.rule and x.warnings == ()
    consult = preview_new(w.as_("agent1"), type_="consult", channel="phone", urgency="", unit_codes=["HX-CG"])
    assert consult[0].role == "single" and iso(consult[0].due_at) == "2025-02-05T16:00:00+08:00"


def test_preview_new_matches_dispatch(sqlite_world: World) -> None:
    w = sqlite_world
    a = w.as_("agent1")
    for type_, urgency, unit in (("complaint", "urgent", "HX-CG"), ("consult", "normal", "JTW-YS")):
        no = intake.create_ticket(a, intake.IntakeForm(type_, "phone", "友谊路路灯不亮", urgency=urgency)).no
        real = dp.preview(a, no, [unit])[0]
        mine = preview_new(a, type_=type_, channel="phone", urgency=urgency, unit_codes=[unit])[0]
        assert iso(mine.due_at) == real.due_at and mine.rule == real.rule
        assert iso(mine.accept_due_at) == real.accept_due_at and iso(mine.return_due_at) == real.return_due_at
    # TTR 8(3)1: the transport commission's units may return within 24 hours
    jtw = preview_new(a, type_="consult", channel="phone", urgency="normal", unit_codes=["JTW-YS"])[0]
    assert jtw.returns.startswith("退单时限 24小时 → 明天 16:00")


def test_preview_new_counts_from_the_next_day_in_guangzhou(make_world: Any) -> None:
    # GZ 17: 自收到事项次日起 2 个工作日; GZ sets no accept limit; GZ 13: dispatch within 1 WD
    w = make_world("guangzhou")
    lines = preview_new(
        w.as_("agent1"), type_="咨询", channel="phone", urgency="normal", unit_codes=["HX-CG"]
    )
    x = lines[0]
    assert iso(x.due_at) == "2025-01-27T23:59:59+08:00"
    assert x.handling.startswith("办理时限 2个工作日 → 1月27日(周一) 23:59:59")
    assert "次日起算" in x.handling
    assert x.accept == "" and x.accept_due_at is None
    assert x.dispatch.startswith("派单时限 1个工作日") and "广州办法第十三条" in x.dispatch
    assert "广州办法第十七条" in x.rule


def test_preview_new_refusals(sqlite_world: World) -> None:
    a = sqlite_world.as_("agent1")
    with pytest.raises(InvalidInput, match="未知的诉求类型"):
        preview_new(a, type_="闲聊", channel="phone", urgency="normal", unit_codes=["HX-CG"])
    with pytest.raises(InvalidInput, match="请至少选择一个承办单位"):
        preview_new(a, type_="consult", channel="phone", urgency="normal", unit_codes=[])
    with pytest.raises(NotFound):
        preview_new(a, type_="consult", channel="phone", urgency="normal", unit_codes=["NOPE"])
    with pytest.raises(InvalidInput, match="热线工作机构"):
        preview_new(a, type_="consult", channel="phone", urgency="normal", unit_codes=["CENTRE"])
    with pytest.raises(InvalidInput, match="承办单位重复"):
        preview_new(a, type_="consult", channel="phone", urgency="normal", unit_codes=["HX-CG", "HX-CG"])
    with pytest.raises(PermissionDenied):
        preview_new(
            sqlite_world.as_("cg"), type_="consult", channel="phone", urgency="normal", unit_codes=["HX-CG"]
        )
