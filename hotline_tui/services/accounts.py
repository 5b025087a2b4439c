"""Logging in by password, lockout after repeated failures, and changing one's own password.

Product choices (no regulation gives numbers; the hotline rules only ask that access to caller data be
controlled and traceable):

* ``MAX_FAILURES`` = 5 consecutive wrong passwords lock the account;
* ``LOCK_MINUTES`` = 15 minutes of lock, after which the counter starts again from zero;
* an unknown user name and a wrong password give the same message, so names cannot be probed by the
  message (the password is still hashed for unknown names, so not by timing either). A locked,
  inactive or password-less account does say so: the user needs to know what to do, and an admin
  can see every attempt in the audit trail.

Every attempt writes exactly one event (``login_succeeded``, ``login_failed`` or ``account_locked``)
in the same transaction as the counter update. No event ever contains the password.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from hotline_tui.clock import FixedClock, local
from hotline_tui.errors import HotlineError, InvalidInput, PermissionDenied
from hotline_tui.models import User
from hotline_tui.policy import load_policy
from hotline_tui.services.admin import hash_password, validate_password, verify_password
from hotline_tui.services.core import SYSTEM, Actor, Ctx, actor_for, record_event

MAX_FAILURES = 5
LOCK_MINUTES = 15

BAD_CREDENTIALS = "用户名或密码错误"
NO_PASSWORD = "该账户尚未设置密码，无法用密码登录，请联系管理员设置密码"
INACTIVE = "该账户已停用，请联系管理员"
WRONG_OLD_PASSWORD = "原密码不正确，密码未修改"


@cache
def _dummy_hash() -> str:
    """Verified against for unknown names, so they cost as much time as a real wrong password."""
    return hash_password("hotline-tui-dummy-0")


class LoginFailed(PermissionDenied):
    """A refused login. ``message`` is safe to show as it is."""


class AccountLocked(LoginFailed):
    """Too many failures: the account is locked until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(locked_message(until))
        self.until = until


def locked_message(until: datetime) -> str:
    return f"账户已锁定至 {local(until):%H:%M}，请稍后再试或联系管理员"


def _login_ctx(engine_or_ctx: Engine | Ctx, now: datetime | None) -> Ctx:
    if isinstance(engine_or_ctx, Ctx):
        base = engine_or_ctx
        at = now if now is not None else base.now()
        return Ctx(base.engine, base.policy, SYSTEM, FixedClock(at), base._calendar)
    at = now if now is not None else datetime.now().astimezone()
    return Ctx(engine_or_ctx, load_policy(), SYSTEM, FixedClock(at))


def _as(ctx: Ctx, user: User | None, name: str) -> Ctx:
    """Events of a login attempt are attributed to the account tried (unknown names: no user id)."""
    if user is None:
        return ctx.as_actor(Actor(None, name[:64], "none", display_name=name[:64]))
    return ctx.as_actor(Actor(user.id, user.name, user.role, user.unit_id, display_name=user.display_name))


def _clean_name(name: str) -> str:
    return "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:64]


def authenticate(
    engine_or_ctx: Engine | Ctx, name: str, password: str, *, now: datetime | None = None
) -> Actor:
    """Check a user name and password; return the actor, or raise ``LoginFailed`` / ``AccountLocked``.

    ``now`` defaults to the context's clock (or the system clock when given an engine).
    """
    ctx = _login_ctx(engine_or_ctx, now)
    at = ctx.now()
    name = _clean_name(name)
    password = password or ""
    refusal: HotlineError | None = None
    actor: Actor | None = None
    with ctx.write() as s:
        user = _load_user(s, name) if name else None
        if user is None:
            verify_password(password, _dummy_hash())
            # a name no account has may be a password typed into the wrong field: keep only a digest
            typed = "未知用户#" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
            _event(_as(ctx, None, typed), s, "login_failed", typed, reason="unknown_user")
            refusal = LoginFailed(BAD_CREDENTIALS)
        else:
            ev_ctx = _as(ctx, user, name)
            if user.locked_until is not None and local(user.locked_until) <= at:
                # the lock has expired: start counting again
                user.locked_until = None
                user.failed_logins = 0
            if user.locked_until is not None:
                _event(ev_ctx, s, "login_failed", user.name, reason="locked", locked_until=user.locked_until)
                refusal = AccountLocked(local(user.locked_until))
            elif not user.password_hash:
                _event(ev_ctx, s, "login_failed", user.name, reason="no_password")
                refusal = LoginFailed(NO_PASSWORD)
            elif not verify_password(password, user.password_hash):
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = at + timedelta(minutes=LOCK_MINUTES)
                    _event(
                        ev_ctx,
                        s,
                        "account_locked",
                        user.name,
                        reason="too_many_failures",
                        failures=user.failed_logins,
                        locked_until=user.locked_until,
                    )
                    refusal = AccountLocked(user.locked_until)
                else:
                    _event(
                        ev_ctx,
                        s,
                        "login_failed",
                        user.name,
                        reason="bad_password",
                        failures=user.failed_logins,
                    )
                    refusal = LoginFailed(BAD_CREDENTIALS)
            elif not user.active:
                _event(ev_ctx, s, "login_failed", user.name, reason="inactive")
                refusal = LoginFailed(INACTIVE)
            else:
                user.failed_logins = 0
                user.locked_until = None
                _event(ev_ctx, s, "login_succeeded", user.name)
                actor = actor_for(s, user.name)
            s.add(user)
    # raised after the commit: the counter and the event must be kept even when the login is refused
    if refusal is not None:
        raise refusal
    assert actor is not None
    return actor


def change_password(ctx: Ctx, old: str, new: str) -> None:
    """The logged-in user changes their own password; the old one must be given."""
    if ctx.actor.id is None:
        raise PermissionDenied("请先以本人账户登录再修改密码")
    refusal: HotlineError | None = None
    with ctx.write() as s:
        user = _load_user(s, ctx.actor.name)
        if user is None or user.id != ctx.actor.id:
            raise PermissionDenied("账户不存在或已变更，请重新登录")
        if not user.password_hash or not verify_password(old or "", user.password_hash):
            record_event(ctx, s, "password_change_refused", payload={"user": user.name, "reason": "bad_old"})
            refusal = InvalidInput(WRONG_OLD_PASSWORD)
        else:
            validate_password(new)  # raises before anything is written
            if new == old:
                raise InvalidInput("新密码不能与原密码相同")
            user.password_hash = hash_password(new)
            user.failed_logins = 0
            user.locked_until = None
            s.add(user)
            record_event(ctx, s, "password_changed", payload={"user": user.name, "by": "self"})
    if refusal is not None:
        raise refusal


def _load_user(s: Session, name: str) -> User | None:
    return s.exec(select(User).where(User.name == name).with_for_update()).first()


def _event(ctx: Ctx, s: Session, kind: str, user: str, **details: Any) -> None:
    record_event(ctx, s, kind, payload={"user": user, **details})


def trusted_login(engine_or_ctx: Engine | Ctx, name: str, *, method: str, source: str) -> Actor:
    """Log ``name`` in on a credential checked elsewhere (the SSH key, for a ``ForceCommand`` that fixes
    the user): no password, but an inactive or locked account is refused exactly as by ``authenticate``,
    and the attempt writes one event, ``login_succeeded`` carrying ``method`` and ``source`` (the client
    address). The password failure counter is left as it is: a key login says nothing about who typed
    the wrong passwords.
    """
    ctx = _login_ctx(engine_or_ctx, None)
    at = ctx.now()
    name = _clean_name(name)
    how = {"method": method[:32], "source": source[:64]}
    refusal: HotlineError | None = None
    actor: Actor | None = None
    with ctx.write() as s:
        user = _load_user(s, name) if name else None
        if user is None:
            _event(_as(ctx, None, name), s, "login_failed", name, reason="unknown_user", **how)
            refusal = LoginFailed(f"热线用户不存在：{name}，请联系管理员")
        else:
            ev_ctx = _as(ctx, user, name)
            if user.locked_until is not None and local(user.locked_until) <= at:
                user.locked_until = None
                user.failed_logins = 0
            if user.locked_until is not None:
                _event(
                    ev_ctx,
                    s,
                    "login_failed",
                    user.name,
                    reason="locked",
                    locked_until=user.locked_until,
                    **how,
                )
                refusal = AccountLocked(local(user.locked_until))
            elif not user.active:
                _event(ev_ctx, s, "login_failed", user.name, reason="inactive", **how)
                refusal = LoginFailed(INACTIVE)
            else:
                _event(ev_ctx, s, "login_succeeded", user.name, **how)
                actor = actor_for(s, user.name)
            s.add(user)
    if refusal is not None:
        raise refusal
    assert actor is not None
    return actor
