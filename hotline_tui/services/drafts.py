"""Drafts of a half-typed intake: saved to the store as the agent types, offered back after a crash.

A draft belongs to one user and one form (``key``). It is working state, not a business record: saving
it writes no event, and it is deleted once the call ends (a ticket saved, answered, referred, or the
agent discarding it). It lives in the store, not in a local file, so a killed terminal, a dropped SSH
session or a restarted workstation all find it again at the next login. Values are stored as typed,
except what the store cannot hold (lone surrogates, NUL); nothing here is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from hotline_tui.clock import local
from hotline_tui.errors import InvalidInput
from hotline_tui.models import Draft
from hotline_tui.services.core import Ctx, unwanted_char

MAX_VALUE_CHARS = 20000  # more than any field accepts: the form refuses it on save, not here
MAX_FIELDS = 64
MAX_LIST = 50


@dataclass(frozen=True)
class SavedDraft:
    key: str
    data: dict[str, Any]
    updated_at: datetime

    @property
    def empty(self) -> bool:
        return not any(v for k, v in self.data.items() if not k.startswith("_"))


def _keep(ch: str) -> bool:
    return ch in "\n\t" or not unwanted_char(ch)


def _clean_value(value: object) -> str | bool | int | list[str] | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else None
    if isinstance(value, str):
        return "".join(ch for ch in value[:MAX_VALUE_CHARS] if _keep(ch))
    if isinstance(value, list | tuple):
        return [str(_clean_value(str(v))) for v in list(value)[:MAX_LIST]]
    return None


def clean_draft(data: dict[str, Any]) -> dict[str, Any]:
    """What of ``data`` the store can hold: string keys, plain values, bounded sizes."""
    out: dict[str, Any] = {}
    for k, v in list(data.items())[:MAX_FIELDS]:
        if isinstance(k, str) and k and len(k) <= 40:
            out[k] = _clean_value(v)
    return out


def _actor_id(ctx: Ctx) -> int:
    if ctx.actor.id is None:
        raise InvalidInput("请先登录，草稿按用户保存")
    return ctx.actor.id


def save_draft(ctx: Ctx, data: dict[str, Any], key: str = "intake") -> datetime:
    """Create or replace this user's draft of ``key``; returns the time it was saved."""
    uid = _actor_id(ctx)
    now = ctx.now()
    clean = clean_draft(data)
    with ctx.write() as s:
        row = s.exec(select(Draft).where(Draft.user_id == uid, Draft.key == key)).first()
        if row is None:
            row = Draft(user_id=uid, key=key, data=clean, updated_at=now)
        else:
            row.data = clean
            row.updated_at = now
        s.add(row)
    return now


def load_draft(ctx: Ctx, key: str = "intake") -> SavedDraft | None:
    """This user's draft of ``key``, or None."""
    if ctx.actor.id is None:
        return None
    with ctx.read() as s:
        row = s.exec(select(Draft).where(Draft.user_id == ctx.actor.id, Draft.key == key)).first()
        if row is None:
            return None
        return SavedDraft(row.key, dict(row.data or {}), local(row.updated_at))


def discard_draft(ctx: Ctx, key: str = "intake") -> bool:
    """Delete this user's draft of ``key``; True when there was one."""
    if ctx.actor.id is None:
        return False
    with ctx.write() as s:
        rows = list(s.exec(select(Draft).where(Draft.user_id == ctx.actor.id, col(Draft.key) == key)))
        for row in rows:
            s.delete(row)
        return bool(rows)
