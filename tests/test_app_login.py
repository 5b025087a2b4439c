"""The login screen and the password change screen, driven like a user does: keys in, screen out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.worker import WorkerFailed

from hotline_tui.app import HotlineApp, LoginOptions
from hotline_tui.db import read_session
from hotline_tui.models import Event
from hotline_tui.screens.inbox import UnitInboxScreen
from hotline_tui.screens.intake import IntakeScreen
from hotline_tui.screens.login import LoginScreen, PasswordScreen
from hotline_tui.services.accounts import LoginFailed, authenticate
from hotline_tui.services.admin import set_password
from hotline_tui.services.core import SYSTEM, Ctx
from tests.conftest import World
from tests.test_accounts import MemoryKeyring
from tests.test_app_home import text_of

PW = "Hotline2025a"
URL = "sqlite:///login-test.db"  # only names the keyring entry


@pytest.fixture
def store(sqlite_world: World) -> World:
    ctx = Ctx(sqlite_world.engine, sqlite_world.policy, SYSTEM, sqlite_world.clock)
    for name in ("agent1", "cg"):
        set_password(ctx, name, PW)
    return sqlite_world


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(before)


def app_for(w: World, user: str = "") -> HotlineApp:
    ctx = Ctx(w.engine, w.policy, SYSTEM, w.clock)
    return HotlineApp(ctx, LoginOptions(user=user, store_url=URL, store_label="test.db"))


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    """Let the chain of workers finish (keyring check, then the login it may start)."""
    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:  # a refused login: the screen shows it, which is what the tests look at
            pass
        await pilot.pause()


def message(app: HotlineApp) -> str:
    return text_of(app.screen.query_one("#login-message", Static))


async def type_in(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*list(text))


def kinds(w: World) -> list[str]:
    with read_session(w.engine) as s:
        return [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]


@pytest.mark.usefixtures("no_keyring")
async def test_wrong_then_right_password(store: World) -> None:
    app = app_for(store, "agent1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.focused is app.screen.query_one("#login-password", Input)  # name prefilled
        keyring_note = text_of(app.screen.query_one("#login-keyring", Static))
        assert "没有可用的密钥环" in keyring_note  # said once, on the screen, no crash
        await type_in(pilot, "wrong-pass1")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LoginScreen) and "用户名或密码错误" in message(app)
        assert app.screen.query_one("#login-password", Input).value == ""  # cleared, name kept
        assert app.screen.query_one("#login-user", Input).value == "agent1"
        await type_in(pilot, PW)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)  # an agent lands on the call screen
        assert app.ctx.actor.name == "agent1" and "坐席" in app.sub_title
    assert kinds(store)[-2:] == ["login_failed", "login_succeeded"]


@pytest.mark.usefixtures("no_keyring")
async def test_unknown_user_gets_the_same_message_and_empty_fields_are_named(store: World) -> None:
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # empty name
        assert "请输入用户名" in message(app)
        await type_in(pilot, "nobody")
        await pilot.press("enter")
        await pilot.press("enter")  # empty password
        assert "请输入密码" in message(app)
        await type_in(pilot, PW)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "用户名或密码错误" in message(app)  # unknown names are not told apart
        # F3 (knowledge base) does nothing before login
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)


@pytest.mark.usefixtures("no_keyring")
async def test_lockout_is_shown_with_its_end(store: World) -> None:
    for _ in range(4):
        with pytest.raises(LoginFailed):
            authenticate(Ctx(store.engine, store.policy, SYSTEM, store.clock), "cg", "nope-nope1")
    app = app_for(store, "cg")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(pilot, "nope-nope1")
        await pilot.press("enter")
        await settle(app, pilot)
        assert "账户已锁定至 16:15" in message(app)  # the clock is at 16:00; 15 minutes
        await type_in(pilot, PW)  # the right password does not open a locked account
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LoginScreen) and "已锁定" in message(app)
    store.at("2025-01-24T16:16:00")
    app = app_for(store, "cg")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(pilot, PW)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, UnitInboxScreen)  # a liaison lands on the unit's inbox


async def test_keyring_remembers_and_logs_in_next_time(store: World, memory_keyring: MemoryKeyring) -> None:
    app = app_for(store, "agent1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        box = app.screen.query_one("#login-remember")
        assert not box.disabled
        await type_in(pilot, PW)
        app.screen.query_one("#login-remember").value = True  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)  # an agent lands on the call screen
    assert list(memory_keyring.store.values()) == [PW]
    app = app_for(store, "agent1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)  # no typing: the keyring's password was used
    # the password changed elsewhere: the remembered one fails, is forgotten, the form asks again
    set_password(Ctx(store.engine, store.policy, SYSTEM, store.clock), "agent1", "Changed2025b")
    app = app_for(store, "agent1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, LoginScreen) and "记住的密码已失效" in message(app)
    assert memory_keyring.store == {}


async def test_password_change_screen(store: World, memory_keyring: MemoryKeyring) -> None:
    app = app_for(store, "agent1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_in(pilot, PW)
        app.screen.query_one("#login-remember").value = True  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, PasswordScreen)
        for text in ("wrong-old1", "Newpass2025", "Newpass2025"):
            await type_in(pilot, text)
            await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PasswordScreen)
        assert "原密码不正确" in text_of(app.screen.query_one("#passwd-message", Static))
        old, new, again = (app.screen.query_one(f"#passwd-{k}", Input) for k in ("old", "new", "again"))
        old.value, new.value, again.value = PW, "Newpass2025", "Newpass2026"
        again.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "两次输入的新密码不一致" in text_of(app.screen.query_one("#passwd-message", Static))
        again.value = "Newpass2025"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)  # an agent lands on the call screen
    assert list(memory_keyring.store.values()) == ["Newpass2025"]  # the keyring follows
    authenticate(Ctx(store.engine, store.policy, SYSTEM, store.clock), "agent1", "Newpass2025")


def test_a_locked_account_cannot_act_by_script_either(
    store: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from hotline_tui.cli import main

    for _ in range(5):
        with pytest.raises(LoginFailed):
            authenticate(Ctx(store.engine, store.policy, SYSTEM, store.clock), "cg", "nope-nope1")
    url = store.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "--user", "cg", "--now", "2025-01-24T16:05:00", "ticket", "list"]) == 2
    assert "账户已锁定至 16:15" in capsys.readouterr().err
    assert main(["--db", url, "--user", "cg", "--now", "2025-01-24T16:20:00", "ticket", "list"]) == 0


@pytest.mark.usefixtures("no_keyring")
async def test_login_form_is_usable_while_the_store_opens(store: World) -> None:
    """The form is on screen and takes the password before the store is open (DESIGN: start ≤ 1 s);
    Enter then waits for the store and logs in."""
    import threading

    from hotline_tui.app import PendingStore

    release = threading.Event()
    opened: list[bool] = []

    def opener() -> Ctx:
        assert release.wait(10)
        opened.append(True)
        return Ctx(store.engine, store.policy, SYSTEM, store.clock)

    app = HotlineApp(
        None, LoginOptions(user="agent1", store_url=URL, store_label="test.db"), store=PendingStore(opener)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, LoginScreen) and not opened
        await type_in(pilot, PW)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LoginScreen) and "正在登录" in message(app)  # waiting for the store
        release.set()
        await settle(app, pilot)
        assert opened and isinstance(app.screen, IntakeScreen)
    assert kinds(store)[-1] == "login_succeeded"


@pytest.mark.usefixtures("no_keyring")
async def test_a_store_that_cannot_open_ends_the_program_with_its_reason(store: World) -> None:
    from hotline_tui.app import PendingStore
    from hotline_tui.errors import HotlineError

    def opener() -> Ctx:
        raise HotlineError("数据库结构版本为 0003，程序需要 0004：请运行 hotline init 升级（数据不会丢失）")

    pending = PendingStore(opener)
    app = HotlineApp(None, LoginOptions(user="agent1", store_url=URL), store=pending)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)
    assert app.return_code == 2
    assert isinstance(pending.error, HotlineError) and "hotline init" in pending.error.message


async def test_a_fixed_name_cannot_be_changed(store: World, no_keyring: None) -> None:
    """An SSH account in password mode logs in as the hotline user it is mapped to, and only as that one."""
    set_password(Ctx(store.engine, store.policy, SYSTEM, store.clock), "zj", "Another2025b")
    ctx = Ctx(store.engine, store.policy, SYSTEM, store.clock)
    app = HotlineApp(ctx, LoginOptions(user="cg", store_url=URL, store_label="test.db", fixed_user=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        name = app.screen.query_one("#login-user", Input)
        assert name.disabled and name.value == "cg"
        name.value = "zj"  # even if the field were changed, the mapped name is the one used
        await type_in(pilot, "Another2025b")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LoginScreen) and "用户名或密码错误" in message(app)
        assert name.disabled  # still fixed after a refusal
        app.screen.query_one("#login-password", Input).value = ""
        await type_in(pilot, PW)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, UnitInboxScreen) and app.ctx.actor.name == "cg"
