"""Caller history, repeat calls, abuse of the line and other callers' open tickets on the same matter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from hotline_tui.clock import local, parse_datetime
from hotline_tui.db import read_session
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied
from hotline_tui.models import Event, Ticket
from hotline_tui.policy import load_policy
from hotline_tui.services import callback as cb
from hotline_tui.services import dispatch as dp
from hotline_tui.services import handling as hd
from hotline_tui.services import intake
from hotline_tui.services import review as rv
from hotline_tui.services.audit import EVENT_LABELS
from hotline_tui.services.callers import caller_history, record_repeat_call, similar_open, similarity
from hotline_tui.services.queries import ticket_detail
from tests.conftest import World

P1 = "13812345678"
P2 = "13900001111"
P3 = "13700002222"
LAMP = "河西区友谊路与南京路交口路灯不亮，晚上行人看不清路"
LAMP_AGAIN = "南京路友谊路口的路灯坏了好几天了，怎么还没修"
GOOD_REPLY = (
    "1月27日9时，区城管委照明所工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)
THRESHOLD = load_policy("tianjin").repeat.min_similarity


def new_ticket(w: World, text: str = LAMP, phone: str = P1, **kw: Any) -> str:
    form = intake.IntakeForm(
        type=kw.pop("type", "complaint"),
        channel=kw.pop("channel", "phone"),
        text=text,
        caller_phone=phone,
        caller_name=kw.pop("name", "张三"),
        **kw,
    )
    return intake.create_ticket(w.as_(kw.pop("agent", "agent1")), form).no


def dispatched(w: World, unit: str = "HX-CG", **kw: Any) -> tuple[str, int]:
    no = new_ticket(w, **kw)
    a = dp.dispatch(w.as_("agent1"), no, [unit])[0]
    assert a.id is not None
    return no, a.id


def closed(w: World, **kw: Any) -> str:
    """A ticket taken through handling, reply review and a satisfied callback."""
    no, aid = dispatched(w, **kw)
    hd.accept(w.as_("cg"), aid)
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    cb.record_callback(w.as_("cb1"), no, reached=True, satisfaction="satisfied")
    return no


def event_count(w: World) -> int:
    with read_session(w.engine) as s:
        return int(s.exec(select(func.count()).select_from(Event)).one())


# ---------------------------------------------------------------- the same matter (pure)

# T24 13(5): "同一诉求事项" — the same problem at the same place, however the caller words it.
SAME = [
    ("友谊路与南京路交口路灯不亮", "南京路友谊路口的路灯坏了好几天"),
    ("阳光小区3号楼电梯坏了", "阳光小区电梯故障，老人上下楼困难"),
    ("我上周反映的路灯问题怎么还没修", "友谊路路灯不亮"),
    ("家门口垃圾好几天没人清理", "垃圾一直没人清运，臭味很大"),
    ("小区暖气不热", "暖气温度太低不达标"),
    ("育红里楼下下水道堵了，污水外溢", "育红里下水道堵塞反水"),
    ("卫津路上的井盖丢了，很危险", "卫津路井盖缺失"),
    ("友谊路菜市场门口占道经营", "友谊路市场门口摆摊占道"),
    ("工地夜间施工噪音扰民，晚上十二点还在施工", "工地半夜施工太吵睡不着"),
    ("我家停水了，什么时候来水", "家里没水了，停水到什么时候"),
    ("公司拖欠工资三个月", "老板欠薪三个月不给"),
]
DIFFERENT = [
    ("友谊路路灯不亮", "友谊路噪音扰民"),  # same place, another problem
    ("卫津路路灯不亮", "友谊路路灯不亮"),  # same problem, another place
    ("阳光小区电梯坏了", "阳光小区物业乱收停车费"),
    ("楼上装修噪音太大", "楼上漏水到我家"),
    ("友谊路垃圾没人清理", "友谊路井盖丢失没人管"),
    ("小区暖气不热", "小区电梯故障"),
    ("我家停水了", "我家停电了"),
    ("南京路公交站牌被撞坏了", "南京路路灯不亮"),
    ("想问一下灵活就业怎么交养老保险", "公司拖欠工资三个月"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_matter_however_worded(a: str, b: str) -> None:
    assert similarity(a, b) >= THRESHOLD, (a, b, similarity(a, b))
    assert similarity(b, a) >= THRESHOLD


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_matters(a: str, b: str) -> None:
    assert similarity(a, b) < THRESHOLD, (a, b, similarity(a, b))
    assert similarity(b, a) < THRESHOLD


def test_similarity_edges() -> None:
    assert similarity("", "路灯不亮") == 0.0
    assert similarity("啊啊啊", "路灯不亮") == 0.0
    assert similarity("路灯不亮", "路灯不亮") == 1.0


# ---------------------------------------------------------------- history and repeats


def test_repeat_of_an_open_ticket_tells_progress(world: World) -> None:
    # T24 13(5): "正在办理……又提出同一诉求事项的，告知诉求人办理进度"
    w = world
    no, _ = dispatched(w)
    w.at("2025-01-27T10:00:00")
    h = caller_history(w.as_("agent1"), "138 1234 5678", LAMP_AGAIN)
    assert h.phone == P1 and h.total == 1
    assert [r.no for r in h.rows] == [no]
    row = h.rows[0]
    assert row.open and row.status == "dispatched" and row.status_label == "办理中"
    assert row.units == ("河西区城市管理委员会",)
    assert row.result.startswith("河西区城市管理委员会待接单，办理期限 2月7日")
    assert local(row.created_at) == parse_datetime("2025-01-24T16:00:00")
    assert h.repeat is not None
    assert h.repeat.no == no and h.repeat.open and h.repeat.similarity >= THRESHOLD
    assert h.repeat.cite == "天津办法第十三条第（五）项"
    assert (
        "办理进度" in h.repeat.message
        and no in h.repeat.message
        and "天津办法第十三条第（五）项" in h.repeat.message
    )
    assert h.repeat.tell.startswith(f"您1月24日反映的问题（工单号 {no}）目前河西区城市管理委员会待接单")
    assert h.abuse is None


def test_repeat_of_a_closed_ticket_tells_the_result(sqlite_world: World) -> None:
    w = sqlite_world
    closed(w)
    w.at("2025-02-10T09:00:00")
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.rows[0].status_label == "已办结" and not h.rows[0].open
    # the result sentence of the reply, not its opening (who called when, at which number)
    assert "已于1月27日更换线路并恢复照明" in h.rows[0].result
    assert "王明" not in h.rows[0].result
    assert h.repeat is not None and not h.repeat.open
    assert "办理结果" in h.repeat.message
    assert "已于1月27日更换线路并恢复照明" in h.repeat.tell


def test_guangzhou_cites_article_22_for_a_finished_matter(make_world: Any) -> None:
    w = make_world("guangzhou")
    no = new_ticket(w)
    intake.refer(w.as_("agent1"), no, "legal_procedure")
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.repeat is not None and h.repeat.no == no and not h.repeat.open
    assert (
        h.repeat.cite == "广州办法第二十二条"
    )  # GZ 22: a finished matter repeated does not re-enter handling
    assert h.rows[0].result.startswith("已告知：")
    open_no = new_ticket(w, text="阳光小区电梯坏了，老人下不了楼")
    h = caller_history(w.as_("agent1"), P1, "阳光小区电梯故障")
    assert h.repeat is not None and h.repeat.no == open_no
    assert h.repeat.cite == "广州办法第十一条第二款第（四）项"  # GZ 11(4): in progress → tell progress


def test_new_matter_of_the_same_caller_is_no_repeat(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = dispatched(w)
    h = caller_history(w.as_("agent1"), P1, "友谊路夜市烧烤噪音扰民到凌晨")
    assert h.repeat is None
    assert [r.no for r in h.rows] == [no]  # the history is still shown


def test_no_text_no_repeat_check(sqlite_world: World) -> None:
    w = sqlite_world
    dispatched(w)
    assert caller_history(w.as_("agent1"), P1).repeat is None
    assert caller_history(w.as_("agent1"), P1, "   ").repeat is None


def test_finished_matter_outside_the_window_is_a_new_call(sqlite_world: World) -> None:
    w = sqlite_world
    no = closed(w)
    days = w.policy.repeat.window_days
    created = parse_datetime("2025-01-24T16:00:00")
    w.at(created + timedelta(days=days - 1))
    assert (h := caller_history(w.as_("agent1"), P1, LAMP_AGAIN)).repeat is not None and h.repeat.no == no
    w.at(created + timedelta(days=days + 1))
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.repeat is None
    assert [r.no for r in h.rows] == [no]  # still in the history


def test_a_matter_still_open_repeats_whatever_its_age(sqlite_world: World) -> None:
    # T24 13(5) "正在办理" has no age: an order still being handled is the matter's current state
    w = sqlite_world
    no, _ = dispatched(w)
    w.at(parse_datetime("2025-01-24T16:00:00") + timedelta(days=w.policy.repeat.window_days + 30))
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.repeat is not None and h.repeat.no == no and h.repeat.open
    assert "办理期限" in h.repeat.tell


def test_the_most_similar_earlier_ticket_is_the_repeat(sqlite_world: World) -> None:
    w = sqlite_world
    new_ticket(w, text="卫津路路灯不亮")
    w.at("2025-01-24T17:00:00")
    lamp = new_ticket(w)
    w.at("2025-01-24T18:00:00")
    new_ticket(w, text="阳光小区电梯坏了")
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.repeat is not None and h.repeat.no == lamp
    assert [r.no for r in h.rows][1] == lamp  # newest first


def test_other_callers_tickets_are_not_history(sqlite_world: World) -> None:
    w = sqlite_world
    dispatched(w, phone=P2)
    h = caller_history(w.as_("agent1"), P1, LAMP_AGAIN)
    assert h.total == 0 and h.rows == [] and h.repeat is None


def test_exclude_the_ticket_being_edited(sqlite_world: World) -> None:
    w = sqlite_world
    no = new_ticket(w)
    h = caller_history(w.as_("agent1"), P1, LAMP, exclude_no=no.lower())
    assert h.rows == [] and h.repeat is None
    assert h.total == 1  # the count is of all tickets with the number


@pytest.mark.parametrize("typed", ["", "138", "1381234", "abc", "13812345678\x00", "1" * 40])
def test_a_number_still_being_typed_gives_an_empty_history(sqlite_world: World, typed: str) -> None:
    w = sqlite_world
    new_ticket(w)
    h = caller_history(w.as_("agent1"), typed, LAMP)
    assert h.rows == [] and h.total == 0 and h.repeat is None and h.abuse is None


def test_full_width_and_formatted_numbers_are_the_same_caller(sqlite_world: World) -> None:
    w = sqlite_world
    no = new_ticket(w)
    for typed in ("１３８１２３４５６７８", "+86 138-1234-5678", "(138)12345678"):
        h = caller_history(w.as_("agent1"), typed)
        assert h.phone == P1 and [r.no for r in h.rows] == [no], typed


def test_history_rows_say_what_to_tell(sqlite_world: World) -> None:
    w = sqlite_world
    new_no = new_ticket(w, text="友谊路有井盖松动，车压过去咣当响")
    referred = new_ticket(w, text="我要起诉物业公司，法院怎么立案")
    intake.refer(w.as_("agent1"), referred, "legal_procedure")
    rows = {r.no: r for r in caller_history(w.as_("agent1"), P1).rows}
    assert rows[new_no].result == "已受理，待派单" and rows[new_no].open
    assert rows[referred].result.startswith("已告知：告知诉求人通过诉讼") and not rows[referred].open
    assert rows[referred].units == ()


def test_history_masks_numbers_in_the_demand(sqlite_world: World) -> None:
    w = sqlite_world
    new_ticket(w, text="友谊路路灯不亮，物业电话13911112222打不通，身份证120101199001011237")
    row = caller_history(w.as_("agent1"), P1).rows[0]
    assert "13911112222" not in row.text and "139****2222" in row.text
    assert "120101199001011237" not in row.text


def test_only_intake_roles_see_caller_history(sqlite_world: World) -> None:
    w = sqlite_world
    new_ticket(w)
    for name in ("cg", "cb1", "kb1", "admin1"):
        with pytest.raises(PermissionDenied):
            caller_history(w.as_(name), P1, LAMP)
    assert caller_history(w.as_("sup1"), P1).total == 1


# ---------------------------------------------------------------- abuse of the line


def test_abuse_visible_at_the_threshold_and_not_below(world: World) -> None:
    # T24 12 第三款: 不得无正当理由反复或者长时间占用热线资源 — the agent persuades and records
    w = world
    rules = w.policy.repeat
    w.at("2025-01-10T09:00:00")
    new_ticket(w, text="很久以前的一次来电，反映友谊路路灯")  # outside the window: not counted
    start = parse_datetime("2025-01-24T08:00:00")
    first = ""
    for i in range(rules.abuse_calls - 2):
        w.at(start + timedelta(minutes=10 * i))
        no = new_ticket(w, text=f"第{i + 1}次来电反映友谊路第{i + 1}号路灯不亮")
        first = first or no
    harass = new_ticket(w, text="你们都是废物，我天天打电话骂你们", labels=("骚扰工作人员",))
    w.at(start + timedelta(days=rules.abuse_days - 1))
    h = caller_history(w.as_("agent1"), P1)
    assert h.abuse is None  # abuse_calls - 1 calls in the window
    record_repeat_call(w.as_("agent1"), first, channel="phone")
    h = caller_history(w.as_("agent1"), P1)
    assert h.abuse is not None
    assert h.abuse.calls == rules.abuse_calls and h.abuse.days == rules.abuse_days
    assert h.abuse.flagged == 1
    assert h.abuse.cite == "天津办法第十二条第三款"
    assert f"近{rules.abuse_days}天来电{rules.abuse_calls}次" in h.abuse.message
    assert "其中1次属违法或骚扰类" in h.abuse.message and "天津办法第十二条第三款" in h.abuse.message
    assert P1 not in h.abuse.message and P1[-4:] not in h.abuse.message
    assert harass
    # a day later the first calls fall out of the window
    w.at(start + timedelta(days=rules.abuse_days, hours=1))
    assert caller_history(w.as_("agent1"), P1).abuse is None


def test_referred_as_unlawful_counts_as_flagged(sqlite_world: World) -> None:
    w = sqlite_world
    rules = w.policy.repeat
    for i in range(rules.abuse_calls - 1):
        new_ticket(w, text=f"第{i + 1}次来电，友谊路第{i + 1}盏路灯不亮")
    no = new_ticket(w, text="帮我开个假的证明，不然我就一直打")
    intake.refer(w.as_("agent1"), no, "unlawful")
    h = caller_history(w.as_("agent1"), P1)
    assert h.abuse is not None and h.abuse.calls == rules.abuse_calls and h.abuse.flagged == 1


# ---------------------------------------------------------------- recording a repeat call


def test_record_repeat_call_adds_one_event_and_no_ticket(sqlite_world: World) -> None:
    # T24 13(5): told the progress, no second ticket for the same matter
    w = sqlite_world
    no, _ = dispatched(w)
    with read_session(w.engine) as s:
        tickets = int(s.exec(select(func.count()).select_from(Ticket)).one())
    w.at("2025-01-27T10:00:00")
    record_repeat_call(
        w.as_("agent1"), no.lower(), channel="12345电话", note="已告知进度，诉求人13911112222表示再等等"
    )
    with read_session(w.engine) as s:
        assert int(s.exec(select(func.count()).select_from(Ticket)).one()) == tickets
        ev = s.exec(select(Event).where(Event.kind == "repeat_call")).one()
    assert ev.payload["channel"] == "phone"
    assert ev.payload["note"] == "已告知进度，诉求人139****2222表示再等等"  # no personal data kept
    assert ev.payload["rule"] == "天津办法第十三条第（五）项"
    assert ev.actor == "agent1" and local(ev.at) == parse_datetime("2025-01-27T10:00:00")
    detail = ticket_detail(w.as_("agent1"), no)
    assert detail["events"][-1]["kind"] == "repeat_call"
    assert EVENT_LABELS["repeat_call"].startswith("重复来电")


def test_record_repeat_call_refusals_change_nothing(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = dispatched(w)
    before = event_count(w)
    with pytest.raises(InvalidInput, match="未知的渠道"):
        record_repeat_call(w.as_("agent1"), no, channel="飞鸽传书")
    with pytest.raises(NotFound):
        record_repeat_call(w.as_("agent1"), "TJ20990101-000001", channel="phone")
    with pytest.raises(InvalidInput):
        record_repeat_call(w.as_("agent1"), "  ", channel="phone")
    with pytest.raises(PermissionDenied):
        record_repeat_call(w.as_("cg"), no, channel="phone")
    assert event_count(w) == before


# ---------------------------------------------------------------- other callers, same matter, same area


def test_similar_open_shows_other_callers_open_tickets_masked(world: World) -> None:
    # T24 22(3): 多个诉求人集中反映同一问题
    w = world
    mine = new_ticket(w, district="河西区")
    w.at("2025-01-24T16:30:00")
    other = new_ticket(
        w, text="友谊路南京路口路灯坏了，我是附近住户，电话13922223333", phone=P2, district="河西区"
    )
    far = new_ticket(w, text="友谊路南京路口路灯坏了", phone=P3, district="南开区")  # another district
    noise = new_ticket(w, text="友谊路南京路口夜市噪音扰民", phone=P3, district="河西区")  # another matter
    done = closed(w, text="友谊路南京路口的路灯坏了", phone="13600003333", district="河西区")
    w.at("2025-01-25T09:00:00")
    rows = similar_open(w.as_("agent1"), LAMP_AGAIN, district="河西区", exclude_phone=P1)
    assert [r.no for r in rows] == [other]
    row = rows[0]
    assert "13922223333" not in row.text and "139****3333" in row.text
    assert row.status_label == "待派单" and row.district == "河西区" and row.similarity >= THRESHOLD
    assert not hasattr(row, "phone") and not hasattr(row, "name")
    # without excluding the caller, their own ticket is there too
    assert {r.no for r in similar_open(w.as_("agent1"), LAMP_AGAIN, district="河西区")} == {mine, other}
    assert far not in {r.no for r in similar_open(w.as_("agent1"), LAMP_AGAIN, district="河西区")}
    assert noise and done


def test_similar_open_by_shared_place_when_district_unknown(sqlite_world: World) -> None:
    w = sqlite_world
    same_road = dispatched(w, text="南京路友谊路口路灯坏了", phone=P2)[0]
    new_ticket(w, text="卫津路路灯不亮", phone=P3)  # another road
    w.at("2025-01-25T09:00:00")
    rows = similar_open(w.as_("agent1"), LAMP_AGAIN)
    assert [r.no for r in rows] == [same_road]
    assert rows[0].units == ("河西区城市管理委员会",)
    # the address gives the place when the demand does not
    rows = similar_open(w.as_("agent1"), "路灯坏了好几天", address="河西区友谊路12号")
    assert [r.no for r in rows] == [same_road]
    # no place and no district: no area to compare
    assert similar_open(w.as_("agent1"), "路灯坏了好几天") == []


def test_similar_open_looks_back_only_the_profile_days(sqlite_world: World) -> None:
    w = sqlite_world
    old = new_ticket(w, text="南京路友谊路口路灯坏了", phone=P2, district="河西区")
    days = w.policy.repeat.similar_days
    w.at(parse_datetime("2025-01-24T16:00:00") + timedelta(days=days - 1))
    assert [r.no for r in similar_open(w.as_("agent1"), LAMP_AGAIN, district="河西区")] == [old]
    w.at(parse_datetime("2025-01-24T16:00:00") + timedelta(days=days + 1))
    assert similar_open(w.as_("agent1"), LAMP_AGAIN, district="河西区") == []


def test_similar_open_edges(sqlite_world: World) -> None:
    w = sqlite_world
    new_ticket(w, text="南京路友谊路口路灯坏了", phone=P2, district="河西区")
    a = w.as_("agent1")
    assert similar_open(a, "", district="河西区") == []
    assert similar_open(a, "啊啊啊", district="河西区") == []
    assert similar_open(a, LAMP_AGAIN, district="河西区", limit=0) == []
    assert similar_open(a, "路灯%_\\坏了\x00", district="河西区", exclude_phone="13\x00") is not None
    with pytest.raises(PermissionDenied):
        similar_open(w.as_("cg"), LAMP_AGAIN)


def test_history_scan_is_bounded(sqlite_world: World) -> None:
    w = sqlite_world
    start = parse_datetime("2025-01-01T08:00:00")
    for i in range(25):
        w.at(start + timedelta(hours=i))
        new_ticket(w, text=f"第{i + 1}次反映友谊路第{i + 1}号楼前积水")
    h = caller_history(w.as_("agent1"), P1)
    assert h.total == 25 and len(h.rows) == 20
    assert [r.created_at for r in h.rows] == sorted((r.created_at for r in h.rows), reverse=True)
    with read_session(w.engine) as s:
        newest = s.exec(select(Ticket.no).order_by(col(Ticket.created_at).desc())).first()
    assert h.rows[0].no == newest
