"""The administrator's screen driven by the keyboard at 80×24 and 160×48: users, the unit tree, the
policy profile; forms that keep what was typed when the service refuses."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from sqlmodel import col, select
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Footer

from hotline_tui.app import HotlineApp
from hotline_tui.db import read_session
from hotline_tui.models import Event, Setting, Unit, User
from hotline_tui.screens.admin import (
    AdminScreen,
    ConfirmScreen,
    KeywordsForm,
    MoveForm,
    UserForm,
    login_state,
    user_columns,
)
from hotline_tui.store import active_policy_name
from tests.conftest import World
from tests.test_app_home import text_of

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def open_admin(app: HotlineApp, pilot: Pilot[Any]) -> AdminScreen:
    """The admin screen (the administrator's home; pushed here when the app opens another home)."""
    await settle(app, pilot)
    if not isinstance(app.screen, AdminScreen):
        app.push_screen(AdminScreen(app.ctx))
        await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, AdminScreen)
    assert screen.data is not None
    return screen


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*("space" if ch == " " else ch for ch in text))


def notices(messages: list[Message]) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


def db_user(w: World, name: str) -> User | None:
    with read_session(w.engine) as s:
        return s.exec(select(User).where(User.name == name)).first()


def active(w: World, name: str) -> bool:
    user = db_user(w, name)
    assert user is not None
    return user.active


def event_kinds(w: World) -> list[str]:
    with read_session(w.engine) as s:
        return [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]


def footer_keys(screen: AdminScreen) -> dict[str, str]:
    """key -> description of what the footer shows now (enabled or greyed out)."""
    return {key: b.binding.description for key, b in screen.active_bindings.items() if b.binding.show}


def cell(screen: AdminScreen, row: str, column: str) -> str:
    value = screen.users.get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


@pytest.mark.parametrize("size", SIZES)
async def test_add_user_through_the_form(sqlite_world: World, size: tuple[int, int]) -> None:
    w = sqlite_world
    messages: list[Message] = []
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=size, message_hook=messages.append) as pilot:
        screen = await open_admin(app, pilot)
        assert screen.tabs.active == "tab-users"
        assert "zhang" not in [str(k.value) for k in screen.users.rows]
        keys = footer_keys(screen)
        assert keys["a"] == "新增" and keys["d"] == "停用/启用" and keys["p"] == "重置密码"
        assert "k" not in keys and "m" not in keys  # unit actions belong to the 单位 tab
        assert "u" not in keys  # nobody is locked

        await pilot.press("a")
        form = app.screen
        assert isinstance(form, UserForm)
        assert app.focused is form.name_input
        await type_text(pilot, "zhang")
        await pilot.press("enter")  # enter moves on to the next field
        assert app.focused is form.display_input
        await type_text(pilot, "张伟")
        form.role_select.value = "liaison"
        form.unit_input.focus()
        await type_text(pilot, "HX-CG")
        await pilot.pause()
        assert "河西区城市管理委员会" in text_of(form.unit_name)
        form.password_input.focus()
        await type_text(pilot, "Hotline2025a")
        await pilot.press("enter")
        await type_text(pilot, "Hotline2025a")
        await pilot.press("enter")  # enter on the last field saves
        await settle(app, pilot)

        assert app.screen is screen, "the form closed after saving"
        assert any(n.startswith("已新增用户 zhang（承办单位联络员）") for n in notices(messages))
        assert screen.selected_user_name() == "zhang"
        assert cell(screen, "zhang", "role") == "承办单位联络员" and cell(screen, "zhang", "unit").startswith(
            "HX-CG"
        )
        row = db_user(w, "zhang")
        assert row is not None and row.display_name == "张伟" and row.active
        with read_session(w.engine) as s:
            assert row.unit_id == s.exec(select(Unit.id).where(Unit.code == "HX-CG")).one()
        assert event_kinds(w)[-1] == "user_added"


@pytest.mark.parametrize("size", SIZES)
async def test_refused_form_keeps_what_was_typed(sqlite_world: World, size: tuple[int, int]) -> None:
    w = sqlite_world
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=size) as pilot:
        screen = await open_admin(app, pilot)
        before = event_kinds(w)
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, UserForm)
        await type_text(pilot, "wang")
        form.display_input.value = "王芳"
        form.role_select.value = "liaison"
        form.password_input.value = "Hotline2025a"
        form.confirm_input.value = "Hotline2025b"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "两次输入的密码不一致" in text_of(form.error)

        form.confirm_input.value = "Hotline2025a"
        await pilot.press("ctrl+s")  # a liaison without a unit: the service refuses
        await settle(app, pilot)
        assert app.screen is form, "a refused form stays open"
        assert form.error.display and "承办单位联络员必须指定所属单位" in text_of(form.error)
        assert (form.name_input.value, form.display_input.value, form.role_select.value) == (
            "wang",
            "王芳",
            "liaison",
        )
        assert form.password_input.value == form.confirm_input.value == "Hotline2025a"

        form.unit_input.value = "NOPE"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "单位不存在：NOPE" in text_of(form.error)
        assert db_user(w, "wang") is None and event_kinds(w) == before

        form.unit_input.value = "HX-ZJ"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        user = db_user(w, "wang")
        assert user is not None and user.role == "liaison"


@pytest.mark.parametrize("size", SIZES)
async def test_edit_keywords_of_a_unit_in_the_tree(sqlite_world: World, size: tuple[int, int]) -> None:
    w = sqlite_world
    messages: list[Message] = []
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=size, message_hook=messages.append) as pilot:
        screen = await open_admin(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        assert screen.tabs.active == "tab-units" and app.focused is screen.unit_tree
        keys = footer_keys(screen)
        assert keys["k"] == "关键词" and keys["m"] == "移动" and "p" not in keys
        await pilot.press("down", "down")  # CENTRE, HX
        assert screen.selected_code() == "HX"
        await pilot.press("space", "down")  # open HX, down to HX-CG
        assert screen.selected_code() == "HX-CG"
        detail = text_of(screen.unit_detail)
        assert (
            "河西区城市管理委员会（HX-CG）" in detail
            and "路灯、占道、垃圾" in detail
            and "职能部门" in detail
        )

        await pilot.press("k")
        form = app.screen
        assert isinstance(form, KeywordsForm)
        assert form.keywords_input.value == "路灯、占道、垃圾"
        form.keywords_input.value = ""
        await type_text(pilot, "路灯, 照明 " + "长" * 21)
        await pilot.pause()
        assert "过长" in text_of(form.count)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "每个关键词最多20字" in text_of(form.error)
        assert form.keywords_input.value == "路灯, 照明 " + "长" * 21

        await pilot.press(*["backspace"] * 21)
        await type_text(pilot, "占道经营 路灯")
        await pilot.pause()
        assert "共 3 个" in text_of(form.count)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        assert any("已更新单位 HX-CG 的关键词（3 个）" in n for n in notices(messages))
        with read_session(w.engine) as s:
            assert s.exec(select(Unit.keywords).where(Unit.code == "HX-CG")).one() == [
                "路灯",
                "照明",
                "占道经营",
            ]
        assert event_kinds(w)[-1] == "unit_changed"
        assert screen.selected_code() == "HX-CG"
        assert "路灯、照明、占道经营" in text_of(screen.unit_detail)


@pytest.mark.parametrize("size", SIZES)
async def test_switch_the_policy_profile(sqlite_world: World, size: tuple[int, int]) -> None:
    w = sqlite_world
    messages: list[Message] = []
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=size, message_hook=messages.append) as pilot:
        screen = await open_admin(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert screen.tabs.active == "tab-policy"
        assert screen.selected_policy_name() == "tianjin"
        assert "tianjin（当前启用）" in text_of(screen.policy_detail)
        assert "当前启用：天津市政务服务便民热线" in text_of(screen.policy_status)
        await pilot.press("up", "up")
        assert screen.selected_policy_name() == "guangzhou"
        detail = text_of(screen.policy_detail)
        assert "广州市政务服务便民热线管理办法" in detail and "自收到次日起算" in detail
        assert "2个工作日" in detail and "10个工作日" in detail

        await pilot.press("enter")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and "广州市12345政务服务便民热线" in text_of(confirm.body)
        await pilot.press("n")  # cancelled: nothing changes
        await settle(app, pilot)
        assert app.screen is screen and active_policy_name(w.engine) == "tianjin"

        await pilot.press("enter")
        await pilot.press("y")
        await settle(app, pilot)
        assert active_policy_name(w.engine) == "guangzhou" and app.ctx.policy.name == "guangzhou"
        with read_session(w.engine) as s:
            assert s.exec(select(Setting.value).where(Setting.key == "policy")).one() == "guangzhou"
            ev = s.exec(select(Event).order_by(col(Event.id).desc())).first()
        assert ev is not None and ev.kind == "policy_changed"
        assert ev.payload == {"before": "tianjin", "after": "guangzhou"}
        assert any(n.startswith("已启用策略配置：广州市12345政务服务便民热线") for n in notices(messages))
        assert "当前启用：广州市12345政务服务便民热线" in text_of(screen.policy_status)
        assert "广州市12345政务服务便民热线" in app.sub_title
        assert screen.selected_policy_name() == "guangzhou"


async def test_deactivate_needs_confirmation_and_refuses_oneself(sqlite_world: World) -> None:
    w = sqlite_world
    messages: list[Message] = []
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_admin(app, pilot)
        assert screen.selected_user_name() == "admin1"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert any("不能停用自己的账户" in n for n in notices(messages))
        assert active(w, "admin1")

        await pilot.press("down")
        assert screen.selected_user_name() == "agent1"
        await pilot.press("d")
        await pilot.press("escape")  # cancelled
        await settle(app, pilot)
        assert active(w, "agent1")
        await pilot.press("d", "enter")
        await settle(app, pilot)
        assert not active(w, "agent1")
        assert cell(screen, "agent1", "active") == "停用" and screen.selected_user_name() == "agent1"
        await pilot.press("d", "y")  # and back
        await settle(app, pilot)
        assert active(w, "agent1")
        assert event_kinds(w)[-2:] == ["user_deactivated", "user_reactivated"]


async def test_move_a_unit_says_when_it_takes_effect(sqlite_world: World) -> None:
    w = sqlite_world
    messages: list[Message] = []
    app = HotlineApp(w.as_("admin1"))
    async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
        screen = await open_admin(app, pilot)
        await pilot.press("2", "down", "down", "space", "down", "space", "down")
        assert screen.selected_code() == "HX-CG-ZM"
        await pilot.press("m")
        form = app.screen
        assert isinstance(form, MoveForm)
        await type_text(pilot, "HX-CG-ZM")  # under itself: refused, the form stays
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is form and "不能把单位 HX-CG-ZM 移到它自己之下" in text_of(form.error)
        form.parent_input.value = "JTW"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert any("已将单位 HX-CG-ZM 移到JTW 之下" in n for n in notices(messages))
        assert any("下次登录时" in n for n in notices(messages))
        assert screen.selected_code() == "HX-CG-ZM" and "市交通运输委员会（JTW）" in text_of(
            screen.unit_detail
        )


@pytest.mark.parametrize("size", SIZES)
async def test_layout_fits(sqlite_world: World, size: tuple[int, int]) -> None:
    """Nothing needs horizontal scrolling; the footer names the main keys in Chinese on every tab."""
    app = HotlineApp(sqlite_world.as_("admin1"))
    async with app.run_test(size=size) as pilot:
        screen = await open_admin(app, pilot)
        assert screen.users.virtual_size.width <= screen.users.size.width
        assert screen.query_one(Footer).size.width == size[0]
        assert {"a", "e", "d", "p"} <= set(footer_keys(screen))
        await pilot.press("2")
        await settle(app, pilot)
        assert screen.unit_tree.size.height >= 7 and screen.unit_box.size.height >= 6
        assert {"a", "e", "d", "k", "m"} <= set(footer_keys(screen))
        await pilot.press("3")
        await settle(app, pilot)
        assert screen.policies.row_count == 4
        assert screen.policies.virtual_size.width <= screen.policies.size.width
        assert screen.policies.size.height >= 5 and screen.policy_box.size.height >= 10
        await pilot.press("1")
        await settle(app, pilot)
        assert app.focused is screen.users


def test_pure_helpers() -> None:
    assert login_state({"locked_until": "2025-01-24T16:15:00+08:00", "failed_logins": 5}, False) == (
        "锁定16:15",
        "error",
    )
    assert login_state({"locked_until": None, "failed_logins": 2}, True) == ("输错2次", "warning")
    assert (
        login_state({"locked_until": None, "failed_logins": 0, "has_password": False}, True)[0] == "未设密码"
    )
    for width in (80, 160):
        cols = user_columns(width)
        assert [c.key for c in cols] == ["name", "display", "role", "unit", "active", "login"]
        assert sum(c.width for c in cols) + 2 * len(cols) + 2 <= width  # cell padding, scrollbar
