"""Login by password, lockout, password change, and the keyring wrapper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from sqlmodel import col, select

from hotline_tui import credentials
from hotline_tui.db import read_session
from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.models import Event, User
from hotline_tui.services import accounts
from hotline_tui.services.accounts import (
    LOCK_MINUTES,
    MAX_FAILURES,
    AccountLocked,
    LoginFailed,
    authenticate,
    change_password,
)
from hotline_tui.services.admin import set_password
from hotline_tui.services.core import SYSTEM, Actor, Ctx
from tests.conftest import World

PW = "Hotline2025a"
WRONG = "Wrong9999zz"


def _prepare(world: World, name: str = "agent1", password: str = PW) -> None:
    set_password(Ctx(world.engine, world.policy, SYSTEM, world.clock), name, password)


def _events(world: World, *kinds: str) -> list[Event]:
    with read_session(world.engine) as s:
        rows = s.exec(select(Event).order_by(col(Event.id))).all()
    return [e for e in rows if not kinds or e.kind in kinds]


def _user(world: World, name: str) -> User:
    with read_session(world.engine) as s:
        return s.exec(select(User).where(User.name == name)).one()


def _login(world: World, name: str, password: str) -> Actor:
    return authenticate(world.engine, name, password, now=world.clock.now())


def test_good_login_returns_actor_and_writes_event(world: World) -> None:
    _prepare(world, "cg")
    actor = _login(world, "cg", PW)
    assert actor == world.as_("cg").actor
    ev = _events(world, "login_succeeded")
    assert len(ev) == 1 and ev[0].actor == "cg" and ev[0].actor_id == actor.id
    assert ev[0].at == world.clock.now()


def test_login_through_a_ctx_uses_its_clock(world: World) -> None:
    _prepare(world)
    actor = authenticate(world.as_("sup1"), "agent1", PW)
    assert actor.name == "agent1" and actor.role == "agent"
    assert _events(world, "login_succeeded")[0].actor == "agent1"


def test_wrong_password_and_unknown_user_give_the_same_message(world: World) -> None:
    _prepare(world)
    with pytest.raises(LoginFailed) as wrong:
        _login(world, "agent1", WRONG)
    with pytest.raises(LoginFailed) as unknown:
        _login(world, "nobody", WRONG)
    assert wrong.value.message == unknown.value.message == "用户名或密码错误"
    assert type(wrong.value) is type(unknown.value)
    failed = _events(world, "login_failed")
    assert [e.payload["reason"] for e in failed] == ["bad_password", "unknown_user"]
    # an unknown name may be a password typed into the wrong field: only a digest of it is kept (T24 19)
    assert failed[1].actor_id is None and failed[1].payload["user"].startswith("未知用户#")
    assert "nobody" not in str(failed[1].payload) and failed[1].actor != "nobody"
    assert _user(world, "agent1").failed_logins == 1


def test_lockout_after_max_failures_and_unlock_after_lock_minutes(world: World) -> None:
    _prepare(world)
    start = world.clock.now()
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed) as exc:
            _login(world, "agent1", WRONG)
        assert not isinstance(exc.value, AccountLocked)
    with pytest.raises(AccountLocked) as locked:
        _login(world, "agent1", WRONG)
    until = start + timedelta(minutes=LOCK_MINUTES)
    assert locked.value.message == f"账户已锁定至 {until:%H:%M}，请稍后再试或联系管理员"
    assert "16:15" in locked.value.message
    assert len(_events(world, "account_locked")) == 1

    # even the right password is refused while locked, and the lock is not extended
    world.at(start + timedelta(minutes=LOCK_MINUTES - 1))
    with pytest.raises(AccountLocked) as still:
        _login(world, "agent1", PW)
    assert still.value.until == until
    assert _events(world)[-1].payload["reason"] == "locked"

    world.at(start + timedelta(minutes=LOCK_MINUTES))
    assert _login(world, "agent1", PW).name == "agent1"
    user = _user(world, "agent1")
    assert user.failed_logins == 0 and user.locked_until is None


def test_after_an_expired_lock_one_failure_does_not_relock(world: World) -> None:
    _prepare(world)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            _login(world, "agent1", WRONG)
    world.at(world.clock.now() + timedelta(minutes=LOCK_MINUTES + 1))
    with pytest.raises(LoginFailed) as exc:
        _login(world, "agent1", WRONG)
    assert not isinstance(exc.value, AccountLocked)
    assert _user(world, "agent1").failed_logins == 1


def test_success_resets_the_counter(world: World) -> None:
    _prepare(world)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed):
            _login(world, "agent1", WRONG)
    _login(world, "agent1", PW)
    assert _user(world, "agent1").failed_logins == 0
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed) as exc:
            _login(world, "agent1", WRONG)
        assert not isinstance(exc.value, AccountLocked)


def test_inactive_user_is_refused(world: World) -> None:
    _prepare(world)
    with world.as_("admin1").write() as s:
        user = s.exec(select(User).where(User.name == "agent1")).one()
        user.active = False
        s.add(user)
    with pytest.raises(LoginFailed) as exc:
        _login(world, "agent1", PW)
    assert "停用" in exc.value.message
    with pytest.raises(LoginFailed) as wrong:  # without the password, nothing is revealed
        _login(world, "agent1", WRONG)
    assert wrong.value.message == "用户名或密码错误"
    assert _events(world, "login_failed")[0].payload["reason"] == "inactive"


def test_user_without_password_cannot_log_in(world: World) -> None:
    for attempt in ("", PW):
        with pytest.raises(LoginFailed) as exc:
            _login(world, "disp1", attempt)
        assert "管理员" in exc.value.message and "未设置密码" in exc.value.message
    assert [e.payload["reason"] for e in _events(world, "login_failed")] == ["no_password"] * 2
    assert _user(world, "disp1").failed_logins == 0


def test_every_attempt_writes_one_event_without_the_password(world: World) -> None:
    _prepare(world)
    before = len(_events(world))
    attempts = [("agent1", PW), ("agent1", WRONG), ("ghost", WRONG)] + [("agent1", WRONG)] * MAX_FAILURES
    for name, password in attempts:
        try:
            _login(world, name, password)
        except HotlineError:
            pass
    new = _events(world)[before:]
    assert len(new) == len(attempts)
    assert {e.kind for e in new} == {"login_succeeded", "login_failed", "account_locked"}
    for ev in _events(world):
        text = json.dumps(ev.payload, ensure_ascii=False)
        assert PW not in text and WRONG not in text


def test_change_password(world: World) -> None:
    _prepare(world)
    ctx = world.as_("agent1")
    with pytest.raises(InvalidInput, match="原密码不正确"):
        change_password(ctx, WRONG, "NewPass2025b")
    with pytest.raises(InvalidInput, match="至少8位"):
        change_password(ctx, PW, "short1")
    change_password(ctx, PW, "NewPass2025b")
    with pytest.raises(LoginFailed):
        _login(world, "agent1", PW)
    assert _login(world, "agent1", "NewPass2025b").name == "agent1"
    kinds = [e.kind for e in _events(world) if e.kind.startswith("password_change")]
    assert kinds == ["password_changed", "password_change_refused", "password_changed"]
    for ev in _events(world):
        text = json.dumps(ev.payload, ensure_ascii=False)
        assert "NewPass2025b" not in text and PW not in text


def test_constants_are_the_documented_product_choices() -> None:
    assert (accounts.MAX_FAILURES, accounts.LOCK_MINUTES) == (5, 15)
    assert "MAX_FAILURES" in (accounts.__doc__ or "")


# ---------------------------------------------------------------- keyring


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError("not found")
        del self.store[(service, username)]


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt.file.PlaintextKeyring (same module prefix, which is what is checked)."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.mark.usefixtures("restore_keyring")
def test_fail_backend_never_raises() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert credentials.remembered_password("agent1") is None
    assert credentials.remember_password("agent1", PW) is False
    credentials.forget_password("agent1")
    ok, reason = credentials.keyring_status()
    assert ok is False
    assert reason == "此终端没有可用的密钥环（如SSH登录的服务器），每次登录需要输入密码"


@pytest.mark.usefixtures("restore_keyring")
def test_memory_backend_remembers_recalls_and_forgets() -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    assert credentials.keyring_status()[0] is True
    assert credentials.remembered_password("agent1", "sqlite:///a.db") is None
    assert credentials.remember_password("agent1", PW, "sqlite:///a.db") is True
    assert credentials.remembered_password("agent1", "sqlite:///a.db") == PW
    assert credentials.remembered_password("agent1", "sqlite:///b.db") is None  # another store
    assert all(service.startswith("hotline-tui:") for service, _ in backend.store)
    credentials.forget_password("agent1", "sqlite:///a.db")
    assert credentials.remembered_password("agent1", "sqlite:///a.db") is None
    credentials.forget_password("agent1", "sqlite:///a.db")  # already gone: no error


def test_service_name_depends_on_the_store_not_its_password() -> None:
    a = credentials.service_name("postgresql://u:secret@db/hotline")
    assert a == credentials.service_name("postgresql://u:other@db/hotline")
    assert a != credentials.service_name("postgresql://u:secret@db/training")
    assert "secret" not in a


@pytest.mark.usefixtures("restore_keyring")
def test_plaintext_keyring_is_refused() -> None:
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)
    assert credentials.remember_password("agent1", PW) is False
    assert credentials.remembered_password("agent1") is None
    assert backend.store == {}
    ok, reason = credentials.keyring_status()
    assert ok is False and "明文" in reason


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("dbus gone")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("unexpected")


@pytest.mark.usefixtures("restore_keyring")
def test_backend_errors_never_raise() -> None:
    keyring.set_keyring(BrokenKeyring())
    assert credentials.remembered_password("agent1") is None
    assert credentials.remember_password("agent1", PW) is False
    credentials.forget_password("agent1")
