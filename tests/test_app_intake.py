"""The agent's call screen (issue 5): a whole call by keyboard, the triage banner, the live KB panel,
caller history and repeat calls, dispatch suggestions, split dispatch, answers on the spot, drafts that
survive a killed process, ticket lookup, help and the screen at 80×24 and 160×48."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TextArea

from hotline_tui.app import HotlineApp
from hotline_tui.clock import FixedClock, parse_datetime
from hotline_tui.db import read_session
from hotline_tui.models import Assignment, Draft, Event, Ticket, Unit
from hotline_tui.screens.admin import ConfirmScreen
from hotline_tui.screens.home import HelpScreen, HomeScreen, TicketDetailScreen
from hotline_tui.screens.intake import IntakeScreen, UnitPickerScreen
from hotline_tui.screens.labels import event_note
from hotline_tui.screens.lookup import LookupScreen
from hotline_tui.services.admin import add_user
from hotline_tui.services.core import SYSTEM, Ctx
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from hotline_tui.services.kb import create_entry
from tests.conftest import World
from tests.test_app_home import text_of

NOW = "2025-01-24T16:00:00"  # a Friday before the Spring Festival holiday (01-28 .. 02-04)


@pytest.fixture
def kb(sqlite_world: World) -> dict[str, str]:
    """Three current entries and one not yet valid, by a centre KB editor."""
    w = sqlite_world
    system = Ctx(w.engine, w.policy, SYSTEM, FixedClock(parse_datetime("2025-01-01T08:00:00")))
    add_user(system, "kbc", "kb_editor", "CENTRE", display_name="kbc")
    kbc = w.at("2025-01-10T09:00:00").as_("kbc")
    ids = {
        "gjj": create_entry(
            kbc,
            title="住房公积金提取需要哪些材料",
            body="提取住房公积金需携带身份证和银行卡，到公积金管理中心柜台办理。",
            keywords="公积金,提取",
            category="住房公积金/提取",
            unit="CENTRE",
            valid_from="2024-01-01",
        ).entry_id,
        "ludeng": create_entry(
            kbc,
            title="路灯不亮报修",
            body="道路路灯不亮的，由区城管委照明所负责维修，一般24小时内修复。",
            keywords="路灯,不亮",
            category="城市管理/路灯",
            unit="HX-CG-ZM",
            valid_from="2024-01-01",
        ).entry_id,
        "tingshui": create_entry(
            kbc,
            title="计划停水查询",
            body="计划停水由水务集团提前24小时公告。",
            keywords="停水",
            category="供水",
            unit="SW",
            valid_from="2024-01-01",
        ).entry_id,
        "later": create_entry(
            kbc,
            title="2025年公积金提取新规",
            body="自2025年3月1日起公积金提取可线上办理。",
            keywords="公积金,提取",
            category="住房公积金/提取",
            unit="CENTRE",
            valid_from="2025-03-01",
        ).entry_id,
    }
    w.at(NOW)
    return ids


async def settle(app: HotlineApp, pilot: Pilot[Any], pause: float = 0.3) -> None:
    """Let the typing debounce run out, then every worker finish and its message land."""
    await pilot.pause(pause)
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def start(app: HotlineApp, pilot: Pilot[Any]) -> IntakeScreen:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, IntakeScreen), "an agent starts on the call screen"
    return screen


def banner(screen: IntakeScreen) -> str:
    w = screen.query_one("#intake-banner", Static)
    return text_of(w) if w.display else ""


async def type_matter(app: HotlineApp, pilot: Pilot[Any], text: str) -> None:
    await pilot.press("alt+m")
    area = app.screen.query_one("#f-text", TextArea)
    assert app.focused is area
    area.insert(text)
    await settle(app, pilot)


async def type_phone(pilot: Pilot[Any], phone: str) -> None:
    await pilot.press("alt+p")
    await pilot.press(*phone)


async def choose(pilot: Pilot[Any], key: str, digit: str) -> None:
    """A Select by keyboard: its alt key, then the number of the option."""
    await pilot.press(key, digit)


async def pick_unit(app: HotlineApp, pilot: Pilot[Any], query: str) -> None:
    """ctrl+o, type the query, enter: the first unit found is added."""
    await pilot.press("ctrl+o")
    await settle(app, pilot)
    assert isinstance(app.screen, UnitPickerScreen)
    app.screen.query_one("#units-query", Input).insert_text_at_cursor(query)
    await settle(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)


def tickets(w: World) -> list[Ticket]:
    with read_session(w.engine) as s:
        return list(s.exec(select(Ticket).order_by(col(Ticket.id))))


def assignments(w: World, no: str) -> list[tuple[str, str, str]]:
    with read_session(w.engine) as s:
        rows = s.exec(
            select(Unit.code, Assignment.role, Assignment.due_at)
            .join(Assignment, col(Assignment.unit_id) == Unit.id)
            .join(Ticket, col(Ticket.id) == Assignment.ticket_id)
            .where(Ticket.no == no)
            .order_by(col(Assignment.id))
        )
        return [(code, role, due.isoformat()) for code, role, due in rows]


def events_of(w: World, kind: str) -> list[Event]:
    with read_session(w.engine) as s:
        return list(s.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def drafts(w: World) -> list[dict[str, Any]]:
    with read_session(w.engine) as s:
        return [dict(d.data) for d in s.exec(select(Draft))]


# ---------------------------------------------------------------- the whole call


async def test_whole_call_by_keyboard_dispatches_with_the_deadline_shown(
    sqlite_world: World, kb: dict[str, str]
) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        assert app.focused is screen.query_one("#f-phone", Input)  # the first thing asked
        await type_phone(pilot, "13812345678")
        await pilot.press("tab")
        await pilot.press(*"张")
        app.screen.query_one("#f-name", Input).insert_text_at_cursor("先生")
        await type_matter(app, pilot, "河西区友谊路与围堤道交口的路灯连续三晚不亮，晚上过马路很危险")
        # the KB panel found the street-light entry while typing; the banner has nothing to warn about
        hits = screen.query_one("#kb-hits", OptionList)
        assert hits.option_count >= 1 and hits.get_option_at_index(0).id == kb["ludeng"]
        assert "路灯不亮报修" in text_of(screen.query_one("#kb-snippet", Static))
        assert banner(screen) == ""
        # the suggestion names the unit whose keywords the text holds, with the reason
        assert screen.suggestions and screen.suggestions[0].code in ("HX-CG", "HX-CG-ZM")
        await choose(pilot, "alt+t", "3")  # 3 投诉
        await pilot.press("alt+f")
        app.screen.query_one("#f-attach", Input).insert_text_at_cursor("微信照片3张；现场录音1段")
        await pilot.press("alt+g", "1")
        await settle(app, pilot)
        first = screen.suggestions[0]
        assert screen.form.units == [first.code]
        deadline = text_of(screen.query_one("#intake-deadline", Static))
        # TTR 11: 5 working days for a complaint by phone, from the dispatch second; TTR 8(1): accept in 3 h
        assert "接单时限 3小时 → 今天 19:00" in deadline
        assert "办理时限 5个工作日 → 2月7日" in deadline and "春节" in deadline
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        saved = tickets(w)
        assert len(saved) == 1
        t = saved[0]
        assert (t.status, t.type, t.caller_phone, t.caller_name) == (
            "dispatched",
            "complaint",
            "13812345678",
            "张先生",
        )
        assert t.created_at.isoformat().startswith("2025-01-24T08:00:00")  # received to the second (UTC)
        assert assignments(w, t.no) == [(first.code, "single", "2025-02-07T08:00:00+00:00")]
        assert [e.kind for e in events_of(w, "created") + events_of(w, "dispatched")] == [
            "created",
            "dispatched",
        ]
        created = events_of(w, "created")[0].payload
        assert created["attachments"] == ["微信照片3张", "现场录音1段"]  # noted by reference (T24 14)
        assert event_note("created", created) == "附件：微信照片3张；现场录音1段"  # as the timeline shows it
        # the form is empty for the next call, and the draft is gone
        assert screen.query_one("#f-text", TextArea).text == ""
        assert screen.query_one("#f-phone", Input).value == "" and app.focused is screen.query_one("#f-phone")
        assert t.no in text_of(screen.query_one("#intake-status", Static))
        assert drafts(w) == []


async def test_refused_save_keeps_every_field_and_points_at_the_field(sqlite_world: World) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "1381234567")  # ten digits
        assert "已输入10位" in text_of(screen.query_one("#f-phone-msg", Static))
        await pilot.press("8", "8")  # twelve
        assert "号码格式不对" in text_of(screen.query_one("#f-phone-msg", Static))
        await type_matter(app, pilot, "小区垃圾三天没人清运")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        status = text_of(screen.query_one("#intake-status", Static))
        assert "未保存" in status  # the first refusal: no type chosen, or the phone
        assert tickets(w) == []
        await choose(pilot, "alt+t", "3")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        status = text_of(screen.query_one("#intake-status", Static))
        assert "联系电话格式不正确" in status
        assert app.focused is screen.query_one("#f-phone", Input)  # the field the message is about
        assert screen.query_one("#f-text", TextArea).text == "小区垃圾三天没人清运"  # nothing lost
        assert tickets(w) == []
        await pilot.press("backspace")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert [t.status for t in tickets(w)] == ["new"]  # no unit chosen: waits for dispatch


# ---------------------------------------------------------------- triage banner


@pytest.mark.parametrize(
    ("text", "shown", "route", "cite"),
    [
        ("楼下饭馆着火了，烟很大", "转接 119", "119", "第十三条"),  # T24 13(1)
        ("我家老人突然晕倒了，叫不醒", "转接 120", "120", "第十三条"),  # T24 13(1)
        ("我想起诉我的前雇主拖欠工资", "", "", "第十三条"),  # T24 13(2): a court matter
    ],
)
async def test_triage_banner_and_one_key_referral(
    sqlite_world: World, text: str, shown: str, route: str, cite: str
) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_matter(app, pilot, text)
        b = banner(screen)
        assert b and cite in b and "F5" in b
        if shown:
            assert shown in b
        await pilot.press("f5")
        await settle(app, pilot)
        [t] = tickets(w)
        assert t.status == "referred"
        assert t.triage_class == screen.ctx.policy.triage[0].code or t.triage_class != "accept"
        if route:
            assert t.route == route and t.type == "help"  # an emergency needs no type picked first
        else:
            assert t.route and t.route != "受理"
        assert banner(screen) == ""  # cleared with the form


async def test_banner_follows_the_text_as_it_changes(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_matter(app, pilot, "小区里有人在烧东西，着火了")
        assert "119" in banner(screen)
        area = screen.query_one("#f-text", TextArea)
        area.text = "小区绿化带的树被砍了，想反映一下"
        await settle(app, pilot)
        assert banner(screen) == ""
        await pilot.press("f5")
        await settle(app, pilot)
        assert tickets(sqlite_world) == []  # nothing to refer: F5 is refused with a message


# ---------------------------------------------------------------- knowledge base: answer on the spot


async def test_answer_on_the_spot_cites_the_entry_and_closes(sqlite_world: World, kb: dict[str, str]) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_matter(app, pilot, "我想问一下公积金提取要带什么材料")
        hits = screen.query_one("#kb-hits", OptionList)
        ids = [hits.get_option_at_index(i).id for i in range(hits.option_count)]
        assert ids[0] == kb["gjj"] and kb["later"] in ids  # current first, the upcoming one marked
        assert "即将生效" in str(hits.get_option_at_index(ids.index(kb["later"])).prompt)
        await choose(pilot, "alt+t", "1")  # 咨询
        await settle(app, pilot)
        assert "可当场答复" in banner(screen)
        await pick_unit(app, pilot, "水务")  # choosing a unit for a KB-answered consult: told it comes back
        assert screen.form.units == ["SW"]
        assert "知识库已有明确答复" in banner(screen) and "第八条" in banner(screen)  # TTR 8(3)4
        await pilot.press("alt+k", "down")  # the upcoming entry is not an answer
        await pilot.press("f4")
        await settle(app, pilot)
        assert tickets(w) == []
        await pilot.press("up", "f4")
        await settle(app, pilot)
        [t] = tickets(w)
        assert (t.status, t.kb_entry_id) == ("answered", kb["gjj"])  # T24 15
        assert events_of(w, "answered")[0].payload["kb_entry"] == kb["gjj"]
        assert assignments(w, t.no) == []  # answered, not dispatched


# ---------------------------------------------------------------- caller history and repeats


def earlier_ticket(w: World, text: str, phone: str = "13812345678", at: str = "2025-01-20T09:00:00") -> str:
    no = create_ticket(
        w.at(at).as_("agent1"), IntakeForm("complaint", "phone", text, caller_phone=phone, district="河西区")
    ).no
    dispatch(w.as_("disp1"), no, ["HX-CG"])
    w.at(NOW)
    return no


async def test_caller_history_and_repeat_call_tells_progress_without_a_new_ticket(
    sqlite_world: World,
) -> None:
    w = sqlite_world
    no = earlier_ticket(w, "友谊路与南京路交口的路灯不亮")
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13812345678")
        await settle(app, pilot)
        history = text_of(screen.query_one("#history", Static))
        assert no in history and "办理中" in history and "河西区城市管理委员会" in history
        assert banner(screen) == ""  # no text yet: no repeat to speak of
        await type_matter(app, pilot, "南京路友谊路口的路灯坏了好几天了")
        b = banner(screen)
        assert "重复来电" in b and no in b and "第十三条" in b  # T24 13(5)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "河西区城市管理委员会" in text_of(app.screen.query_one("#admin-confirm-body", Static))
        await pilot.press("y")
        await settle(app, pilot)
        assert [t.no for t in tickets(w)] == [no]  # no duplicate
        [event] = events_of(w, "repeat_call")
        assert event.payload["channel"] == "phone"
        assert "13812345678" not in json.dumps(event.payload, ensure_ascii=False)


async def test_new_matter_from_the_same_caller_is_not_a_repeat(sqlite_world: World) -> None:
    w = sqlite_world
    earlier_ticket(w, "友谊路与南京路交口的路灯不亮")
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13812345678")
        await type_matter(app, pilot, "楼上邻居装修噪音太大，晚上十点还在施工")
        assert "重复来电" not in banner(screen)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert events_of(w, "repeat_call") == []


async def test_similar_open_tickets_of_other_callers_are_shown_masked(sqlite_world: World) -> None:
    w = sqlite_world
    other = earlier_ticket(w, "友谊路与南京路交口的路灯不亮，联系我13912345678", phone="13912345678")
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13700001111")
        await pilot.press("alt+d")
        app.screen.query_one("#f-district", Input).insert_text_at_cursor("河西区")
        await type_matter(app, pilot, "南京路友谊路路口路灯不亮好几天")
        similar = text_of(screen.query_one("#similar", Static))
        assert other in similar
        assert "13912345678" not in similar  # T24 19: another caller's number never shown


# ---------------------------------------------------------------- units: picker, co-units, split


async def test_unit_picker_by_pinyin_initials_and_lead_with_co_unit(sqlite_world: World) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13812345678")
        await type_matter(app, pilot, "小区停水两天了，路边的垃圾也没人清")
        await choose(pilot, "alt+t", "2")  # 求助
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert isinstance(app.screen, UnitPickerScreen)
        await pilot.press("s", "w")  # 市水务集团
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.form.units == ["SW"]
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        app.screen.query_one("#units-query", Input).insert_text_at_cursor("城市管理")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.form.units == ["SW", "HX-CG"]
        assert "主办：市水务集团；协办：河西区城市管理委员会" in text_of(
            screen.query_one("#intake-units", Static)
        )
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        [t] = tickets(w)
        assert [(code, role) for code, role, _ in assignments(w, t.no)] == [("SW", "lead"), ("HX-CG", "co")]


async def test_split_dispatch_makes_one_ticket_per_unit(sqlite_world: World) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13812345678")
        await type_matter(app, pilot, "一是小区停水两天了；二是门口路灯不亮")
        await choose(pilot, "alt+t", "2")
        for query in ("水务", "城市管理"):
            await pick_unit(app, pilot, query)
        await pilot.press("alt+x")
        await settle(app, pilot)
        parts = list(screen.query("#intake-parts Input").results(Input))
        assert len(parts) == 2 and app.focused is parts[0]
        parts[0].insert_text_at_cursor("小区停水两天了")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "拆分派单：请写明交给 HX-CG" in text_of(screen.query_one("#intake-status", Static))
        assert tickets(w) == []  # nothing half-saved (one transaction)
        parts = list(screen.query("#intake-parts Input").results(Input))
        parts[1].insert_text_at_cursor("门口路灯不亮")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        saved = tickets(w)
        assert len(saved) == 2  # T24 15: one ticket per unit
        assert saved[1].parent_id == saved[0].id and saved[1].text == "门口路灯不亮"
        assert [c for c, _, _ in assignments(w, saved[0].no)] == ["SW"]
        assert [c for c, _, _ in assignments(w, saved[1].no)] == ["HX-CG"]


# ---------------------------------------------------------------- drafts


async def test_draft_is_saved_while_typing_and_offered_back(sqlite_world: World) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(app, pilot)
        await type_phone(pilot, "13812345678")
        await type_matter(app, pilot, "第一行\n第二行：小区门口占道经营")
        await pilot.press("alt+s", "space")  # 保密
        await settle(app, pilot, pause=0.8)
    [data] = drafts(w)
    assert data["phone"] == "13812345678" and data["confidential"] is True
    assert data["text"] == "第一行\n第二行：小区门口占道经营"

    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "13812345678" in text_of(app.screen.query_one("#admin-confirm-body", Static))
        await pilot.press("y")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.query_one("#f-text", TextArea).text == "第一行\n第二行：小区门口占道经营"
        assert screen.query_one("#f-phone", Input).value == "13812345678"
        assert screen.snapshot().confidential is True
        assert screen.form.received_at == data["received_at"]  # the call's time is the original one

    app = HotlineApp(w.as_("agent1"))  # discarding: asked first, then gone
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert drafts(w) == []


async def test_escape_asks_before_discarding(sqlite_world: World) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_matter(app, pilot, "咨询落户政策")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert screen.query_one("#f-text", TextArea).text == "咨询落户政策"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert screen.query_one("#f-text", TextArea).text == ""
        await pilot.press("escape")  # empty form: back to the ticket list
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f2")  # one key from anywhere
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)


DRAFT_CHILD = """
import asyncio, sys
from hotline_tui.app import HotlineApp
from hotline_tui.clock import FixedClock, parse_datetime
from hotline_tui.store import open_ctx

async def main() -> None:
    ctx = open_ctx(sys.argv[1], user="agent1", clock=FixedClock(parse_datetime("2025-01-24T16:00:00")))
    app = HotlineApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)
        await pilot.press(*"13812345678")
        await pilot.press("alt+m")
        app.screen.query_one("#f-text").insert("友谊路路灯不亮，已经三天了")
        await pilot.pause(1.5)
        print("typed", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.slow
async def test_draft_survives_sigkill(sqlite_world: World, tmp_path: Path) -> None:
    """A real process types a call and is killed with SIGKILL mid-call; the next start offers it back."""
    w = sqlite_world
    url = w.engine.url.render_as_string(hide_password=False)
    script = tmp_path / "child.py"
    script.write_text(DRAFT_CHILD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "typed", line
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    [data] = drafts(w)
    assert data["text"] == "友谊路路灯不亮，已经三天了" and data["phone"] == "13812345678"
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.query_one("#f-text", TextArea).text == "友谊路路灯不亮，已经三天了"
        assert screen.query_one("#f-phone", Input).value == "13812345678"


# ---------------------------------------------------------------- lookup, help, layout


async def test_lookup_by_number_suffix_and_phone_opens_the_timeline(sqlite_world: World) -> None:
    w = sqlite_world
    no = earlier_ticket(w, "友谊路路灯不亮")
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)
        lookup = app.screen
        assert isinstance(lookup, LookupScreen)
        for query in (no[-6:], "13812345678", "友谊路"):
            lookup.box.value = query
            await settle(app, pilot, pause=0.5)
            assert [str(k.value) for k in lookup.table.rows] == [no], query
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketDetailScreen)
        body = text_of(app.screen.body)
        assert "派单" in body and "河西区城市管理委员会" in body  # the timeline of events
        assert "13812345678" not in body  # masked for the agent on a lookup


async def test_f1_explains_the_focused_field(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(app, pilot)
        await pilot.press("alt+p", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.keys[0][1] == "当前：联系电话" and "022-23456789" in app.screen.keys[0][2]
        await pilot.press("escape", "alt+i", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.keys[0][1] == "当前：身份证号"


async def test_every_field_reachable_by_its_key_at_80x24(sqlite_world: World) -> None:
    from hotline_tui.screens.intake import FIELDS

    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        form = screen.query_one("#intake-form")
        for spec in FIELDS:
            await pilot.press(f"alt+{spec.key}")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and focused.id == spec.id, spec.label
            region = focused.region
            assert region.height >= 1 and form.region.contains_region(region), f"{spec.label} not visible"


def test_bindings_have_ids_and_tooltips() -> None:
    from textual.binding import Binding

    from hotline_tui.screens.intake import SuggestList

    for cls in (IntakeScreen, UnitPickerScreen, LookupScreen, SuggestList, HotlineApp):
        for b in cls.BINDINGS:
            assert isinstance(b, Binding) and b.id and b.tooltip, (cls.__name__, b)


async def test_command_palette_offers_bilingual_commands(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("新来电" in t and "New call" in t for t in titles)
        assert any("查询工单" in t and "Look up" in t for t in titles)


async def _typed_call(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, HotlineApp)
    await start(app, pilot)
    await type_phone(pilot, "13812345678")
    await type_matter(app, pilot, "河西区友谊路与围堤道交口的路灯连续三晚不亮")
    await choose(pilot, "alt+t", "3")
    await pilot.press("alt+g", "1")
    await settle(app, pilot)
    await pilot.press("alt+p")
    await settle(app, pilot, pause=0.8)  # past the draft's debounce: "草稿已存" is always on the picture


def test_snapshot_call_80x24(
    snap_compare: Callable[..., bool], sqlite_world: World, kb: dict[str, str]
) -> None:
    assert snap_compare(
        HotlineApp(sqlite_world.as_("agent1")), terminal_size=(80, 24), run_before=_typed_call
    )


def test_snapshot_call_160x48(
    snap_compare: Callable[..., bool], sqlite_world: World, kb: dict[str, str]
) -> None:
    assert snap_compare(
        HotlineApp(sqlite_world.as_("agent1")), terminal_size=(160, 48), run_before=_typed_call
    )


async def test_stale_results_never_replace_newer_ones(sqlite_world: World, kb: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(app, pilot)
        await type_matter(app, pilot, "公积金提取")
        hits = screen.query_one("#kb-hits", OptionList)
        newest = [hits.get_option_at_index(i).id for i in range(hits.option_count)]
        assert newest[0] == kb["gjj"]
        old_hit = screen.kb_hits[0]
        stale = type(old_hit)(**{**old_hit.__dict__, "id": "OLD", "title": "旧结果"})
        screen.post_message(
            IntakeScreen.KBFound(screen.shown["kb"] - 1, [stale])
        )  # a slow search of older text
        await settle(app, pilot)
        assert [hits.get_option_at_index(i).id for i in range(hits.option_count)] == newest
        await pilot.press("escape", "y")  # clear the form; a result of the old call lands afterwards
        await settle(app, pilot)
        screen.post_message(IntakeScreen.KBFound(screen.seq - 1, [stale]))
        await settle(app, pilot)
        assert hits.option_count == 0


async def test_frequent_caller_is_visible_to_the_agent(sqlite_world: World) -> None:
    w = sqlite_world
    rules = w.policy.repeat
    for i in range(rules.abuse_calls):  # T24 12 第三款: repeated calls without reason are recorded
        create_ticket(
            w.at(f"2025-01-2{3 + i % 2}T0{i % 9}:00:00").as_("agent1"),
            IntakeForm("consult", "phone", f"第{i}次来电询问不同的事情{i}", caller_phone="13500001111"),
        )
    w.at(NOW)
    app = HotlineApp(w.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(app, pilot)
        await type_phone(pilot, "13500001111")
        await settle(app, pilot)
        b = banner(screen)
        assert "频繁来电" in b and rules.abuse_cite in b
        await pilot.press("ctrl+u")
        await type_phone(pilot, "13500002222")
        await settle(app, pilot)
        assert "频繁来电" not in banner(screen)
