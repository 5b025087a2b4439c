"""The audit viewer: filters, quick filters, paging, the event detail, chain verification, refusals, layout.

Law: access to caller data is controlled over the whole process and leaves a trace that supervisors
check (T24 27; TA 28; GZ 25). The viewer is where they read that trace and prove it untouched.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Input

from hotline_tui.app import HotlineApp
from hotline_tui.screens import audit as audit_screen
from hotline_tui.screens.audit import AuditEventScreen, AuditScreen, ChainReportScreen
from hotline_tui.services import audit as audit_service
from hotline_tui.services.accounts import LoginFailed, authenticate
from hotline_tui.services.core import get_ticket, record_event
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from tests.conftest import World
from tests.test_app_home import text_of
from tests.test_audit import SEEDED_EVENTS, event_id, json_param, tamper

SIZES = [(80, 24), (160, 48)]


def build_story(w: World) -> dict[str, str]:
    """After the seed (13 events): a ticket on 01-23, two on 01-24 (one dispatched), a view of caller data
    and a failed login — 6 events, ids 14..19. The clock then stays at 2025-01-24 17:00."""

    def ticket(text_: str) -> str:
        form = IntakeForm(
            type="complaint", channel="phone", text=text_, caller_phone="13812345678", caller_name="张三"
        )
        return create_ticket(w.as_("agent1"), form).no

    w.at("2025-01-23T10:00:00")
    old = ticket("河西区友谊路路灯不亮")  # 14
    w.at("2025-01-24T16:00:00")
    t1 = ticket("河西区围堤道占道经营")  # 15
    w.at("2025-01-24T16:05:00")
    dispatch(w.as_("disp1"), t1, ["HX-CG"])  # 16
    w.at("2025-01-24T16:10:00")
    t2 = ticket("小区门口噪音扰民")  # 17
    w.at("2025-01-24T16:20:00")
    sup = w.as_("sup1")
    with sup.write() as s:  # 18: what a full view of the caller leaves behind
        record_event(sup, s, "pii_viewed", ticket=get_ticket(s, t1), payload={"fields": ["name", "phone"]})
    w.at("2025-01-24T16:30:00")
    with pytest.raises(LoginFailed):
        authenticate(w.engine, "agent1", "whatever", now=w.clock.now())  # 19: no password set yet
    w.at("2025-01-24T17:00:00")
    return {"old": old, "t1": t1, "t2": t2}


@pytest.fixture
def story(world: World) -> dict[str, str]:
    """The story on SQLite and on PostgreSQL."""
    return build_story(world)


@pytest.fixture
def sqlite_story(sqlite_world: World) -> dict[str, str]:
    return build_story(sqlite_world)


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def open_audit(app: HotlineApp, pilot: Pilot[Any], **kw: Any) -> AuditScreen:
    await settle(app, pilot)
    app.push_screen(AuditScreen(app.ctx, **kw))
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    return screen


def ids(screen: AuditScreen) -> list[int]:
    return [int(str(k.value)) for k in screen.table.rows]


def cell(screen: AuditScreen, event: int, column: str) -> str:
    value = screen.table.get_cell(str(event), column)
    return value.plain if isinstance(value, Text) else str(value)


async def submit(app: HotlineApp, pilot: Pilot[Any], field: Input, value: str) -> None:
    """Type into one filter field (as one paste) and press enter there."""
    field.value = value
    field.focus()
    await pilot.press("enter")
    await settle(app, pilot)


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize("size", SIZES)
async def test_filter_by_user_ticket_and_period(
    world: World, story: dict[str, str], size: tuple[int, int]
) -> None:
    app = HotlineApp(world.as_("sup1"))
    async with app.run_test(size=size) as pilot:
        screen = await open_audit(app, pilot)
        total = SEEDED_EVENTS + 6
        assert ids(screen) == list(range(total, 0, -1))  # everything, newest first
        assert f"共 {total} 条" in text_of(screen.status)

        await submit(app, pilot, screen.user_input, "disp1")
        assert ids(screen) == [16]
        assert app.focused is screen.table  # enter in the filter bar runs the query and goes to the list
        assert cell(screen, 16, "kind") == "派单" and cell(screen, 16, "actor") == "disp1"
        assert cell(screen, 16, "ticket") == story["t1"] and cell(screen, 16, "summary") == "HX-CG（承办）"

        screen.user_input.value = ""
        await submit(app, pilot, screen.ticket_input, story["t1"].lower())  # as typed, any case
        assert ids(screen) == [18, 16, 15]
        assert cell(screen, 18, "kind") == "查看诉求人信息"

        screen.ticket_input.value = ""
        screen.since_input.value = "2025-01-23"
        await submit(app, pilot, screen.until_input, "2025-01-23")  # a bare date is the whole day
        assert ids(screen) == [14]
        assert cell(screen, 14, "ticket") == story["old"]

        screen.since_input.value = "2025-01-24 16:05"
        await submit(app, pilot, screen.until_input, "2025-01-24 16:20:00")
        assert ids(screen) == [18, 17, 16]

        await submit(app, pilot, screen.kind_input, "受理")  # with the period still set
        assert ids(screen) == [17]


async def test_quick_filters_for_personal_data_and_logins(
    sqlite_world: World, sqlite_story: dict[str, str]
) -> None:
    app = HotlineApp(sqlite_world.as_("admin1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert ids(screen) == [18] and screen.kind_input.value == "个人信息"
        assert screen.rows[0].summary == "姓名、联系电话"  # which fields, never their values
        await pilot.press("l")
        await settle(app, pilot)
        assert ids(screen) == [19] and screen.kind_input.value == "登录"
        assert cell(screen, 19, "kind") == "登录失败" and "未设置密码" in cell(screen, 19, "summary")
        await pilot.press("l")  # the same key again: the quick filter is off
        await settle(app, pilot)
        assert screen.kind_input.value == "" and len(ids(screen)) == SEEDED_EVENTS + 6
        await submit(app, pilot, screen.kind_input, "created, dispatched")  # codes, several at once
        assert ids(screen) == [17, 16, 15, 14]


async def test_bad_filters_show_the_service_message_and_keep_what_was_typed(
    sqlite_world: World, sqlite_story: dict[str, str]
) -> None:
    messages: list[Message] = []
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_audit(app, pilot)
        before = ids(screen)
        cases = [
            (screen.since_input, "昨天", "时间格式不正确：'昨天'"),
            (screen.user_input, "nobody", "用户不存在：nobody"),
            (screen.ticket_input, "TJ20990101-000001", "工单不存在：TJ20990101-000001"),
            (screen.kind_input, "乱填", "未知的事件类型：乱填"),
        ]
        for field, value, message in cases:
            for other in screen.filter_inputs():
                other.value = ""
            await submit(app, pilot, field, value)
            assert message in text_of(screen.status)
            assert screen.status.has_class("-error")
            assert field.value == value  # what was typed stays there to be corrected
            assert ids(screen) == before  # the list is still the last good query's
        errors = [m.notification.message for m in messages if isinstance(m, Notify)]
        assert any("工单不存在：TJ20990101-000001" in e for e in errors)
        screen.ticket_input.value = ""
        await submit(app, pilot, screen.kind_input, "")
        assert not screen.status.has_class("-error")


@pytest.mark.parametrize("name", ["cg", "agent1"])
async def test_other_roles_are_refused_with_the_service_message(sqlite_world: World, name: str) -> None:
    app = HotlineApp(sqlite_world.as_(name))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        role = {"cg": "承办单位联络员", "agent1": "坐席"}[name]
        assert f"{role}无权查看审计日志（仅限督办管理、系统管理员）" in text_of(screen.refused)
        assert screen.has_class("-refused") and not screen.table.display and screen.table.row_count == 0
        await pilot.press("v")  # nothing else works from here
        await settle(app, pilot)
        assert not screen.banner.has_class("-shown") and not screen.verifying
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AuditScreen)


# ---------------------------------------------------------------- paging and detail


async def test_more_loads_older_pages_with_the_shown_filter(world: World, story: dict[str, str]) -> None:
    app = HotlineApp(world.as_("sup1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot, page_size=5)
        assert ids(screen) == [19, 18, 17, 16, 15]
        assert "还有更早的记录" in text_of(screen.status)
        screen.user_input.value = "nobody"  # typed, not submitted: paging keeps the query shown
        screen.table.focus()
        await pilot.press("m")
        await settle(app, pilot)
        assert ids(screen) == list(range(19, 9, -1))
        assert screen.table.cursor_row == 5  # on the first row just loaded
        for _ in range(3):
            await pilot.press("m")
            await settle(app, pilot)
        assert ids(screen) == list(range(19, 0, -1))
        assert "已全部载入" in text_of(screen.status)
        assert screen.check_action("more", ()) is None  # nothing older: the key is greyed out
        await pilot.press("m")
        await settle(app, pilot)
        assert len(ids(screen)) == 19


async def test_more_pages_a_filtered_query(sqlite_world: World, sqlite_story: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot, page_size=2)
        await submit(app, pilot, screen.user_input, "agent1")
        assert ids(screen) == [19, 17]
        await pilot.press("m")
        await settle(app, pilot)
        assert ids(screen) == [19, 17, 15, 14]
        assert "已全部载入" in text_of(screen.status)


async def test_detail_shows_the_whole_event(sqlite_world: World, sqlite_story: dict[str, str]) -> None:
    eid = event_id(sqlite_world, sqlite_story["t1"], "created")
    with sqlite_world.engine.connect() as conn:
        from sqlalchemy import text

        prev, own = conn.execute(text("SELECT prev_hash, hash FROM event WHERE id = :i"), {"i": eid}).one()
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        await submit(app, pilot, screen.ticket_input, sqlite_story["t1"])
        await pilot.press("G", "enter")  # the oldest of the ticket's events: its creation
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, AuditEventScreen) and detail.event_id == eid
        body = text_of(detail.body)
        assert f"#{eid}" in body and "2025-01-24 16:00:00" in body and "agent1" in body
        assert "受理（created）" in body and sqlite_story["t1"] in body
        assert '"type": "complaint"' in body and '"channel": "phone"' in body and '"triage": "accept"' in body
        assert f"{own[:12]}…{own[-4:]}" in body and f"{prev[:12]}…{prev[-4:]}" in body
        assert own not in body  # shortened
        assert "13812345678" not in body and "张三" not in body
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


# ---------------------------------------------------------------- verification


async def test_verify_on_an_intact_store_says_ok(world: World, story: dict[str, str]) -> None:
    app = HotlineApp(world.as_("admin1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        banner = text_of(screen.banner)
        assert f"事件链完整：共校验 {SEEDED_EVENTS + 6} 条事件" in banner
        assert screen.banner.has_class("-ok") and not screen.banner.has_class("-bad")
        assert app.screen is screen  # nothing to look at: no report pops up


async def test_verify_on_a_tampered_store_names_the_event(world: World, story: dict[str, str]) -> None:
    eid = event_id(world, story["t2"], "created")
    tamper(
        world,
        f"UPDATE event SET payload = {json_param(world, 'p')} WHERE id = :i",
        p='{"type": "suggestion"}',
        i=eid,
    )
    app = HotlineApp(world.as_("sup1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_audit(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        report = app.screen
        assert isinstance(report, ChainReportScreen)
        body = text_of(report.body)
        assert "事件链校验未通过" in body and "发现 1 处问题" in body
        assert f"#{eid}" in body and "内容被修改" in body and story["t2"] in body
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        banner = text_of(screen.banner)
        assert screen.banner.has_class("-bad") and f"事件 #{eid} 的内容被修改" in banner


async def test_verify_runs_in_the_background(
    sqlite_world: World, sqlite_story: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long check shows 正在校验… and the list still answers keys; the result lands when it is done."""
    release = threading.Event()
    real = audit_service.verify_chain

    def slow(*args: Any, **kw: Any) -> Any:
        assert release.wait(10)
        return real(*args, **kw)

    monkeypatch.setattr(audit_service, "verify_chain", slow)
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert "正在校验…" in text_of(screen.banner) and screen.verifying
        assert screen.check_action("verify", ()) is None  # one check at a time
        await pilot.press("p")  # the list keeps working meanwhile
        for _ in range(50):
            await pilot.pause(0.02)
            if ids(screen) == [18]:
                break
        assert ids(screen) == [18] and screen.verifying
        release.set()
        await settle(app, pilot)
        assert not screen.verifying and "事件链完整" in text_of(screen.banner)


# ---------------------------------------------------------------- layout and keys


@pytest.mark.parametrize("size", SIZES)
async def test_layout_fits_the_terminal(
    sqlite_world: World, sqlite_story: dict[str, str], size: tuple[int, int]
) -> None:
    width, _ = size
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=size) as pilot:
        screen = await open_audit(app, pilot)
        columns = [str(c.key.value) for c in screen.table.columns.values()]
        total = sum(c.width + 2 * screen.table.cell_padding for c in screen.table.columns.values())
        assert total <= width
        if width < audit_screen.WIDE:
            assert columns == ["at", "kind", "actor", "ticket", "summary"]
            assert cell(screen, 16, "at") == "01-24 16:05:00"  # to the second, the year dropped
            assert screen.has_class("-narrow")
            assert screen.query_one("#audit-filters").size.height == 2
        else:
            assert columns == ["id", "at", "kind", "actor", "ticket", "summary"]
            assert cell(screen, 16, "at") == "2025-01-24 16:05:00" and cell(screen, 16, "id") == "#16"
            assert screen.query_one("#audit-filters").size.height == 1
        for field in screen.filter_inputs():
            assert field.size.width >= 10


async def test_keys_have_chinese_help_and_letters_type_in_filters(
    sqlite_world: World, sqlite_story: dict[str, str]
) -> None:
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        described = {b.key: b.description for b in AuditScreen.BINDINGS if isinstance(b, Binding)}
        assert described["v"] == "校验" and described["m"] == "更早" and described["p"] == "个人信息"
        assert described["l"] == "登录" and described["escape"] == "返回"
        await pilot.press("slash")
        assert app.focused is screen.user_input
        await pilot.press("v", "p")  # letters are text in a field, not commands
        assert screen.user_input.value == "vp" and not screen.verifying
        await pilot.press("escape")  # leaves the field, keeps the text
        assert app.focused is screen.table and screen.user_input.value == "vp"
        await pilot.press("escape")  # in the list: clears the filter and queries again
        await settle(app, pilot)
        assert screen.user_input.value == "" and len(ids(screen)) == SEEDED_EVENTS + 6
        await pilot.press("escape")  # nothing to clear: back to where the viewer was opened from
        await pilot.pause()
        assert not isinstance(app.screen, AuditScreen)


def test_rows_are_summarised_without_personal_data(sqlite_world: World, sqlite_story: dict[str, str]) -> None:
    page = audit_screen.load_page(sqlite_world.as_("sup1"), audit_screen.AuditFilter(), size=100)
    text_ = " ".join(f"{r.kind_label} {r.summary}" for r in page.rows)
    assert "投诉，12345电话" in text_ and "HX-CG（承办）" in text_
    assert "13812345678" not in text_ and "张三" not in text_
    assert not page.has_more and [r.id for r in page.rows] == list(range(19, 0, -1))


def test_columns_are_planned_for_the_width() -> None:
    rows = [audit_screen.AuditRow(1, "2025-01-24T16:00:00+08:00", "created", "受理", "agent1", "", "")]
    narrow = audit_screen.plan_columns(rows, 80)
    wide = audit_screen.plan_columns(rows, 160)
    assert [c.key for c in narrow][0] == "at" and [c.key for c in wide][0] == "id"
    assert sum(c.width for c in narrow) + 2 * len(narrow) + 2 == 80  # cell padding and the scrollbar
    assert wide[-1].width > narrow[-1].width
