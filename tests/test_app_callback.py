"""The callback officer's queue and form through the screens: the queue and its order (exempt orders
absent), satisfied, not reached with retries and the limit, re-handling once without extension, a second
dissatisfied, a new question as a linked order, the quality sample, refusals shown in the form with
nothing typed lost, and snapshots at 80×24 and 160×48."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import Static, TextArea

from hotline_tui.app import HotlineApp
from hotline_tui.db import read_session
from hotline_tui.models import Event, Ticket
from hotline_tui.screens.callback import CallbackForm, CallbackQueueScreen, NewQuestionForm
from hotline_tui.screens.intake import Tick
from hotline_tui.services import callback_queue as cq
from hotline_tui.services import handling as hd
from hotline_tui.services import review as rv
from tests.conftest import World
from tests.test_app_home import text_of
from tests.test_callback_queue import add_kb, answered, to_callback
from tests.test_lifecycle import GOOD_REPLY, assignment, events_of, ticket


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def start(w: World, pilot: Pilot[Any], app: HotlineApp) -> CallbackQueueScreen:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, CallbackQueueScreen)  # the callback officer's home
    return screen


def rows(screen: CallbackQueueScreen, tab: str) -> list[str]:
    table = screen.tables[tab]
    return [str(k.value) for k in table.rows]


def cells(screen: CallbackQueueScreen, tab: str, no: str) -> str:
    return " ".join(str(c) for c in screen.tables[tab].get_row(no))


def notes(app: HotlineApp) -> str:
    return "\n".join(f"{n.title} {n.message}" for n in app._notifications)  # noqa: SLF001


async def open_form(app: HotlineApp, pilot: Pilot[Any], keys: tuple[str, ...] = ("enter",)) -> CallbackForm:
    await pilot.press(*keys)
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, CallbackForm)
    return form


async def press(app: HotlineApp, pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause()
    await settle(app, pilot)


async def type_words(pilot: Pilot[Any], form: CallbackForm, text: str) -> None:
    area = form.query_one("#cb-words", TextArea)
    area.focus()
    area.insert(text)
    await pilot.pause()


# ---------------------------------------------------------------- the queue


async def test_the_queue_urgent_first_exempt_orders_absent_numbers_masked(sqlite_world: World) -> None:
    w = sqlite_world
    late, _ = to_callback(w, "垃圾清运不及时，小区门口堆了三天", approve_at="2025-01-24T15:30:00")
    early, _ = to_callback(w, "围堤道占道经营，摊贩堵住盲道", approve_at="2025-01-24T14:00:00")
    urgent, _ = to_callback(
        w, "井盖丢失，有行人摔伤的危险", approve_at="2025-01-24T15:40:00", urgency="urgent"
    )
    anon, _ = to_callback(w, "公园厕所无人打扫，气味很大", anonymous=True)
    quiet, _ = to_callback(w, "楼下饭店油烟扰民，晚上排风很吵", no_reply=True)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(w, pilot, app)
        assert rows(screen, "due") == [urgent, early, late]
        assert anon not in rows(screen, "due") and quiet not in rows(screen, "due")
        line = cells(screen, "due", early)
        assert "138****5678" in line and "13812345678" not in line and "0/3" in line
        assert "河西区城市管理委员会" in line and "01-24 14:00" in line
        assert "待回访 3" in text_of(screen.summary)
        await press(app, pilot, "slash", *"占道")
        assert rows(screen, "due") == [early]
        await press(app, pilot, "escape")
        assert len(rows(screen, "due")) == 3 and screen.tables["due"].has_focus
        await press(app, pilot, "3")
        assert screen.tabs.active == "sample"
        await press(app, pilot, "escape", "1", "G")
        assert screen.tables["due"].cursor_row == 2
        assert app.screen is screen  # esc never leaves the queue


async def test_satisfied_closes_and_the_caller_shows_in_full_audited(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(w, pilot, app)
        form = await open_form(app, pilot)
        info = text_of(form.query_one("#cb-info", Static))
        assert "王先生" in info and "13812345678" in info and GOOD_REPLY[:20] in info
        assert "承办单位是否与您联系过" in text_of(form.query_one("#cb-script", Static))
        assert events_of(w, no)[-1] == "pii_viewed"
        await press(app, pilot, "1", "1", "1")  # reached, satisfied, solved: each digit moves on
        assert form.query_one("#cb-words", TextArea).has_focus
        await pilot.press(*"路灯修好了")
        await press(app, pilot, "ctrl+s")
        assert app.screen is screen and no not in rows(screen, "due")
        assert "回访已记录（满意），工单已办结" in notes(app)
    t = ticket(w, no)
    assert (t.status, t.satisfaction, t.solved) == ("closed", "satisfied", True)
    with read_session(w.engine) as s:
        ev = s.exec(select(Event).where(Event.kind == "callback").order_by(col(Event.id).desc())).first()
    assert ev is not None and ev.payload["words"] == "路灯修好了"


async def test_not_reached_waits_in_retry_then_closes_after_the_limit(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(w, pilot, app)
        form = await open_form(app, pilot)
        await press(app, pilot, "2")  # not reached: the retry choice comes next
        assert not form.query_one("#cb-row-satisfaction").display
        assert form.query_one("#cb-retry").has_focus
        await press(app, pilot, "2", "ctrl+s")  # in an hour
        assert rows(screen, "due") == [] and rows(screen, "retry") == [no]
        assert "01-24 17:00" in cells(screen, "retry", no) and "1/3" in cells(screen, "retry", no)
        assert "第1次" in notes(app)
        w.at("2025-01-24T17:00:00")
        await press(app, pilot, "r")
        assert rows(screen, "due") == [no] and rows(screen, "retry") == []
        form = await open_form(app, pilot)
        assert "已拨打 1/3 次未联系上" in text_of(form.query_one("#cb-info", Static))
        await press(app, pilot, "2", "ctrl+s")  # the default: 30 minutes later
        assert "17:30" in cells(screen, "retry", no)
        await press(app, pilot, "2")
        form = await open_form(app, pilot)
        await press(app, pilot, "2", "ctrl+s")
        assert no not in rows(screen, "due") + rows(screen, "retry")
        assert "已3次未联系上诉求人，按未回访办结" in notes(app)
    assert ticket(w, no).status == "closed"


async def test_refusals_show_in_the_form_and_nothing_typed_is_lost(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await start(w, pilot, app)
        form = await open_form(app, pilot)
        await type_words(pilot, form, "还是不亮")
        await press(app, pilot, "ctrl+s")
        assert "请先选择回访结果" in text_of(form.error) and form.error.display
        form.query_one("#cb-reached").focus()
        await press(app, pilot, "1", "ctrl+s")
        assert "请选择满意度" in text_of(form.error)
        form.query_one("#cb-satisfaction").focus()
        await press(app, pilot, "3", "2", "ctrl+s")  # dissatisfied, unsolved, no reason yet
        assert "不满意原因" in text_of(form.error) and "第二十条" in text_of(form.error)
        # somebody else records this callback meanwhile: the version check refuses, the form stays
        cq.record_result(w.as_("sup1"), no, reached=False)
        form.query_one("#cb-reason").focus()
        await press(app, pilot, "1", "ctrl+s")
        assert "已被他人修改" in text_of(form.error)
        assert app.screen is form and form.query_one("#cb-words", TextArea).text == "还是不亮"
        assert form.values()["reason"] == "unsolved"
    assert ticket(w, no).status == "callback"


async def test_first_dissatisfied_rehandles_once_then_the_second_closes(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(w, pilot, app)
        form = await open_form(app, pilot)
        await press(app, pilot, "1", "3", "2")
        tick = form.query_one("#cb-rehandle", Tick)
        note = text_of(form.query_one("#cb-rehandle-note", Static))
        assert "以1次为限，不得延期" in note
        await press(app, pilot, "4")  # 对政策本身不满: TTR 19 lets it go, the offer turns off
        assert tick.value is False and "第十九条" in text_of(form.query_one("#cb-rehandle-note", Static))
        form.query_one("#cb-reason").focus()
        await press(app, pilot, "1")  # 问题未解决: offered again
        assert tick.value is True and form.query_one("#cb-row-rehandle").display
        await type_words(pilot, form, "路灯还是不亮")
        await press(app, pilot, "ctrl+s")
        assert app.screen is screen and "已退回承办单位重新办理（不得延期）" in notes(app)
        a = assignment(w, no)
        assert (ticket(w, no).status, a.status, a.rehandling) == ("rehandling", "handling", True)
        assert "重新办理的工单不得延期" in str(hd.allowed_actions(w.as_("cg"), aid)["extend"])
        hd.reply(w.at("2025-01-27T10:00:00").as_("cg"), aid, GOOD_REPLY)
        rv.review_reply(w.as_("disp1"), aid, approve=True)
        await press(app, pilot, "r")
        assert rows(screen, "due") == [no] and "［重办后回访］" in cells(screen, "due", no)
        form = await open_form(app, pilot)
        assert not form.query("#cb-rehandle")  # no second re-handling on offer
        await press(app, pilot, "1", "3", "2", "1")
        assert "直接办结" in text_of(form.query_one("#cb-rehandle-note", Static))
        await press(app, pilot, "ctrl+s")
        assert app.screen is screen
    t = ticket(w, no)
    assert (t.status, t.dissatisfied_count) == ("closed", 2)


async def test_a_new_question_becomes_a_linked_order(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await start(w, pilot, app)
        form = await open_form(app, pilot)
        await type_words(pilot, form, "满意，另外还有个问题")
        await press(app, pilot, "ctrl+n")
        question = app.screen
        assert isinstance(question, NewQuestionForm)
        await press(app, pilot, "ctrl+s")
        assert "请记录新诉求的内容" in text_of(question.error)
        await press(app, pilot, "2")  # 求助
        area = question.query_one("#nq-text", TextArea)
        area.focus()
        area.insert("小区门口井盖松动，踩上去会响")
        await press(app, pilot, "ctrl+s")
        assert app.screen is form and form.query_one("#cb-words", TextArea).text == "满意，另外还有个问题"
        linked = text_of(form.linked_line)
        assert "已另立关联工单" in linked and form.linked_line.display
    with read_session(w.engine) as s:
        parent = s.exec(select(Ticket).where(Ticket.no == no)).one()
        child = s.exec(select(Ticket).where(Ticket.parent_id == parent.id)).one()
    assert (child.type, child.status, child.caller_phone) == ("help", "new", "13812345678")
    assert child.no in linked and events_of(w, no)[-1] == "new_question"


async def test_the_quality_sample_is_called_back_and_recorded(sqlite_world: World) -> None:
    w = sqlite_world
    add_kb(w)
    answered(w, 12, at="2025-01-23T10:00:00")
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    picked = cq.sample_answered(ctx, date(2025, 1, 23))
    app = HotlineApp(w.as_("cb1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(w, pilot, app)
        await press(app, pilot, "3")
        assert sorted(rows(screen, "sample")) == sorted(picked)
        first = rows(screen, "sample")[0]
        assert "城乡居民医保缴费标准" in cells(screen, "sample", first) and "待回访" in cells(
            screen, "sample", first
        )
        form = await open_form(app, pilot)
        assert form.quality and not form.query("#cb-retry") and not form.query("#cb-rehandle")
        assert "每人每年380元" in text_of(form.query_one("#cb-info", Static))
        assert events_of(w, first)[-1] == "pii_revealed"
        await press(app, pilot, "1", "2", "1", "ctrl+s")
        assert "质量抽查回访已记录（基本满意）" in notes(app)
        assert "基本满意" in cells(screen, "sample", first)
        assert rows(screen, "sample")[-1] == first  # done ones go last
    assert ticket(w, first).satisfaction == "basically_satisfied"
    assert sorted(cq.sample_answered(ctx, date(2025, 1, 23))) == sorted(picked)  # reproducible


async def test_other_roles_are_refused(sqlite_world: World) -> None:
    w = sqlite_world
    to_callback(w)
    for name in ("agent1", "cg"):
        app = HotlineApp(w.at("2025-01-24T16:00:00").as_(name))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            screen = CallbackQueueScreen(app.ctx)  # pushed by hand: their home is another screen
            app.push_screen(screen)
            await settle(app, pilot)
            assert "无权查看回访队列" in notes(app)
            assert "载入失败" in text_of(screen.summary) and rows(screen, "due") == []


async def test_a_half_typed_callback_survives_the_session(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = to_callback(w)
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("cb1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await start(w, pilot, app)
        form = await open_form(app, pilot)
        await press(app, pilot, "1", "3")
        await type_words(pilot, form, "说好来修一直没人来")
        await pilot.pause(0.7)
        await settle(app, pilot)
    app = HotlineApp(w.as_("cb1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await start(w, pilot, app)
        form = await open_form(app, pilot)
        await pilot.pause()
        await settle(app, pilot)
        values = form.values()
        assert (values["reached"], values["satisfaction"], values["words"]) == (
            "yes",
            "dissatisfied",
            "说好来修一直没人来",
        )
        assert "已恢复上次未提交的内容" in notes(app)
    assert ticket(w, no).status == "callback"


# ---------------------------------------------------------------- snapshots


@pytest.fixture
def callback_orders(sqlite_world: World) -> World:
    w = sqlite_world
    to_callback(w, "垃圾清运不及时，小区门口堆了三天", approve_at="2025-01-24T15:30:00")
    to_callback(w, "围堤道占道经营，摊贩堵住盲道", approve_at="2025-01-24T14:00:00")
    to_callback(
        w,
        "井盖丢失，有行人摔伤的危险",
        approve_at="2025-01-24T15:40:00",
        urgency="urgent",
        labels=("互联网+督查",),
    )
    retry, _ = to_callback(w, "友谊路路灯不亮三晚，晚上过马路看不见", approve_at="2025-01-24T13:00:00")
    cq.record_result(w.at("2025-01-24T15:50:00").as_("cb1"), retry, reached=False)
    add_kb(w)
    answered(w, 4, at="2025-01-23T10:00:00")
    w.at("2025-01-24T16:00:00")
    return w


def _queue_ready(w: World, form: bool) -> Callable[[Pilot[Any]], Any]:
    async def ready(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HotlineApp)
        await start(w, pilot, app)
        if form:
            await open_form(app, pilot)
            await press(app, pilot, "1", "3", "2")

    return ready


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_queue(
    snap_compare: Callable[..., bool], callback_orders: World, size: tuple[int, int]
) -> None:
    app = HotlineApp(callback_orders.as_("cb1"))
    assert snap_compare(app, terminal_size=size, run_before=_queue_ready(callback_orders, False))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_form(
    snap_compare: Callable[..., bool], callback_orders: World, size: tuple[int, int]
) -> None:
    app = HotlineApp(callback_orders.as_("cb1"))
    assert snap_compare(app, terminal_size=size, run_before=_queue_ready(callback_orders, True))
