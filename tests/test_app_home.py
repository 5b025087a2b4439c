"""The home screen: what each role sees, the detail view, the filter, keys, and two snapshots."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Static

from hotline_tui.app import HotlineApp, run_app
from hotline_tui.screens.home import HelpScreen, HomeScreen, RevealScreen, TicketDetailScreen
from hotline_tui.screens.inbox import UnitInboxScreen
from hotline_tui.screens.intake import IntakeScreen
from hotline_tui.screens.order import OrderScreen
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from hotline_tui.services.queries import ticket_detail
from tests.conftest import World

NOW = "2025-02-06T08:00:00"  # T1's deadline (02-06 10:30) is then within four hours: amber


@pytest.fixture
def tickets(sqlite_world: World) -> dict[str, str]:
    """Three tickets: T1 dispatched to HX-CG, T2 to SW, T3 not dispatched. The clock is then fixed at NOW."""
    w = sqlite_world
    t1 = create_ticket(
        w.at("2025-01-23T10:12:00").as_("agent1"),
        IntakeForm(
            type="complaint",
            channel="phone",
            text="友谊路与围堤道交口路灯连续三晚不亮，夜间行人过马路很危险",
            caller_name="王先生",
            caller_phone="13812345678",
            caller_address="河西区友谊路12号",
        ),
    ).no
    dispatch(w.at("2025-01-23T10:30:00").as_("disp1"), t1, ["HX-CG"])
    t2 = create_ticket(
        w.at("2025-01-24T08:30:00").as_("agent1"),
        IntakeForm(type="help", channel="wechat", urgency="urgent", text="小区停水两天，物业没有提前通知"),
    ).no
    dispatch(w.at("2025-01-24T08:40:00").as_("disp1"), t2, ["SW"])
    t3 = create_ticket(
        w.at("2025-01-24T09:05:00").as_("agent1"),
        IntakeForm(type="consult", channel="phone", text="咨询公积金提取需要哪些材料"),
    ).no
    w.at(NOW)
    return {"t1": t1, "t2": t2, "t3": t3}


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    """Wait for the workers; an agent starts on the call screen, and esc (empty form) shows the list."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    if isinstance(app.screen, IntakeScreen):
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()


def home(app: HotlineApp) -> HomeScreen:
    screen = app.screen
    assert isinstance(screen, HomeScreen)
    return screen


def row_keys(screen: HomeScreen) -> list[str]:
    return [str(k.value) for k in screen.table.rows]


def text_of(widget: Static) -> str:
    """The plain text a Static shows, whatever it holds (str, Rich Text, a Rich Group of tables)."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()


async def test_agent_sees_all_tickets_and_counts(sqlite_world: World, tickets: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = home(app)
        assert row_keys(screen) == [tickets["t3"], tickets["t2"], tickets["t1"]]
        assert "agent1（坐席）" in app.sub_title
        assert sqlite_world.policy.title in app.sub_title
        summary = text_of(screen.summary)
        assert "待派单 1" in summary and "办理中 2" in summary
        assert app.focused is screen.table
        due = screen.table.get_cell(tickets["t1"], "due")  # 02-06 10:30, clock at 02-06 08:00
        assert isinstance(due, Text) and str(app.current_theme.warning) in str(due.style)
        assert screen.table.get_cell(tickets["t2"], "due") == "02-07 08:40"

        sqlite_world.at("2025-02-06T08:05:00")
        create_ticket(
            sqlite_world.as_("agent1"), IntakeForm(type="consult", channel="web", text="新来电咨询落户政策")
        )
        sqlite_world.at(NOW)
        await pilot.press("r")
        await settle(app, pilot)
        assert len(row_keys(screen)) == 4


async def test_liaison_lands_on_the_unit_inbox_with_masked_caller(
    sqlite_world: World, tickets: dict[str, str]
) -> None:
    app = HotlineApp(sqlite_world.as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, UnitInboxScreen)  # the unit's home is its inbox, not the centre's list
        table = screen.tables["pending"]
        assert [str(table.get_row(k)[1]) for k in table.rows] == [tickets["t1"]]  # only their unit's order
        summary = text_of(screen.summary)
        assert (
            "待接单 1" in summary and "已超时 1" in summary
        )  # never accepted: the 3-hour limit is long past
        assert "河西区城市管理委员会" in str(screen.sub_title)

        await pilot.press("enter")
        await settle(app, pilot)
        order = app.screen
        assert isinstance(order, OrderScreen)
        body = text_of(order.body)
        assert "138****5678" in body
        assert "13812345678" not in body
        assert "王*" in body and "已脱敏" in body


async def test_detail_timeline_in_chinese_and_esc_returns(
    sqlite_world: World, tickets: dict[str, str]
) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("G", "enter")  # the last row is T1, the dispatched one
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, TicketDetailScreen) and detail.no == tickets["t1"]
        body = text_of(detail.body)
        assert "受理" in body and "派单" in body and "HX-CG（承办）" in body
        assert "dispatched" not in body and "created" not in body
        assert "138****5678" in body and "13812345678" not in body  # masked until revealed
        assert "即将超时" in body

        await pilot.press("v")  # reveal: a reason is asked, too short is refused on the spot
        await pilot.pause()
        assert isinstance(app.screen, RevealScreen)
        await pilot.press(*"看看", "enter")
        await pilot.pause()
        assert isinstance(app.screen, RevealScreen) and "至少4个字" in text_of(
            app.screen.query_one("#reveal-error", Static)
        )
        await pilot.press(*"核实来电人身份", "enter")
        await settle(app, pilot)
        assert app.screen is detail
        body = text_of(detail.body)
        assert "13812345678" in body and "完整信息，已留痕" in body
        assert "pii_revealed" in [
            e["kind"] for e in ticket_detail(sqlite_world.as_("sup1"), tickets["t1"])["events"]
        ]

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("escape")  # esc on the home screen never quits
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, HomeScreen)


async def test_filter_narrows_rows(sqlite_world: World, tickets: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = home(app)
        await pilot.press("slash")
        assert app.focused is screen.filter
        screen.filter.insert_text_at_cursor("停水")
        await pilot.pause()
        assert row_keys(screen) == [tickets["t2"]]
        assert "筛选 1/3" in text_of(screen.count)

        screen.filter.value = "水务集团"  # unit names and ticket numbers match too
        await pilot.pause()
        assert row_keys(screen) == [tickets["t2"]]
        screen.filter.value = tickets["t3"][-6:].lower()
        await pilot.pause()
        assert row_keys(screen) == [tickets["t3"]]

        await pilot.press("escape")  # leaves the filter: cleared, back on the list
        await pilot.pause()
        assert screen.filter.value == ""
        assert len(row_keys(screen)) == 3
        assert app.focused is screen.table


async def test_keys_in_text_field_are_text(sqlite_world: World, tickets: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "q", "r")
        assert app.is_running
        assert home(app).filter.value == "qr"


async def test_kb_editor_sees_empty_state_and_admin_gets_the_admin_screen(sqlite_world: World) -> None:
    from hotline_tui.screens.admin import AdminScreen

    app = HotlineApp(sqlite_world.as_("kb1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = home(app)
        text = text_of(screen.empty)
        assert "知识库维护" in text and "按 F3 打开知识库" in text
        assert not screen.query("#tickets")
    app = HotlineApp(sqlite_world.as_("admin1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, AdminScreen)


async def test_help_lists_keys_and_closes(sqlite_world: World, tickets: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = dict((what, key) for key, what, _ in app.screen.keys)
        assert {"详情", "筛选", "刷新", "返回", "退出", "帮助"} <= set(keys)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_q_quits(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_domain_error_is_a_notification(sqlite_world: World) -> None:
    messages: list[Message] = []
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await settle(app, pilot)
        app.push_screen(TicketDetailScreen(app.ctx, "TJ20990101-000001"))
        await settle(app, pilot)
        notes = [m.notification for m in messages if isinstance(m, Notify)]
        assert [n.message for n in notes if n.severity == "error"] == ["工单不存在：TJ20990101-000001"]
        assert "工单不存在" in text_of(app.screen.query_one("#detail-body", Static))


async def test_calendar_fallback_warning(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.at("2026-12-01T09:00:00").as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        warning = home(app).warning
        assert warning.display and "2027年" in text_of(warning)


def test_run_app_refuses_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (user names are checked by the login screen, which does not tell unknown names apart: test_app_login)
    assert run_app(db=f"sqlite:///{tmp_path / 'none.db'}", user="agent1", policy=None, now=None) == 2
    assert "错误：数据库尚未初始化" in capsys.readouterr().err


def test_importing_the_app_opens_no_store() -> None:
    code = "import sys, hotline_tui.app; assert 'sqlalchemy' not in sys.modules, 'engine stack imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- snapshots (fixed clock, fixed data)


async def _wait(pilot: Pilot[Any]) -> None:
    assert isinstance(pilot.app, HotlineApp)
    await settle(pilot.app, pilot)


def test_snapshot_home_80x24(
    snap_compare: Callable[..., bool], sqlite_world: World, tickets: dict[str, str]
) -> None:
    assert snap_compare(HotlineApp(sqlite_world.as_("agent1")), terminal_size=(80, 24), run_before=_wait)


def test_snapshot_home_160x48(
    snap_compare: Callable[..., bool], sqlite_world: World, tickets: dict[str, str]
) -> None:
    assert snap_compare(HotlineApp(sqlite_world.as_("agent1")), terminal_size=(160, 48), run_before=_wait)
