"""What every service shares: the context (store, clock, policy, actor), scope checks and events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from hotline_tui.clock import Clock, SystemClock, iso, local
from hotline_tui.db import describe_data_error, describe_operational_error, read_session, write_session
from hotline_tui.errors import ConcurrentUpdate, HotlineError, InvalidInput, NotFound, PermissionDenied
from hotline_tui.models import (
    ROLE_LABELS,
    Assignment,
    CalendarDay,
    CalendarYear,
    ChainHead,
    Event,
    Ticket,
    Unit,
    User,
)
from hotline_tui.policy import Policy
from hotline_tui.workdays import HolidayFile, WorkCalendar


@dataclass(frozen=True)
class Actor:
    """Who is acting: a snapshot of the user row, with the units in their scope."""

    id: int | None
    name: str
    role: str
    unit_id: int | None = None
    unit_ids: frozenset[int] = frozenset()
    display_name: str = ""

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


SYSTEM = Actor(None, "system", "admin", display_name="系统")


@dataclass
class Ctx:
    """Everything a service needs. Build one per user session; it holds no open transaction."""

    engine: Engine
    policy: Policy
    actor: Actor = SYSTEM
    clock: Clock = field(default_factory=SystemClock)
    _calendar: WorkCalendar | None = None

    def now(self) -> datetime:
        return local(self.clock.now()).replace(microsecond=0)

    @property
    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = load_calendar(self.engine)
        return self._calendar

    def reload_calendar(self) -> None:
        self._calendar = None

    def as_actor(self, actor: Actor) -> Ctx:
        return Ctx(self.engine, self.policy, actor, self.clock, self._calendar)

    @contextmanager
    def write(self) -> Iterator[Session]:
        try:
            with write_session(self.engine) as session:
                yield session
        except StaleDataError:
            raise ConcurrentUpdate() from None
        except IntegrityError:
            raise HotlineError("与他人同时提交的数据冲突，请重试（操作未生效）") from None
        except OperationalError as exc:
            raise describe_operational_error(exc) from None
        except (DataError, UnicodeEncodeError, OverflowError) as exc:  # input the checks let through
            raise describe_data_error(exc) from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with read_session(self.engine) as session:
                yield session
        except OperationalError as exc:
            raise describe_operational_error(exc) from None
        except (DataError, UnicodeEncodeError, OverflowError) as exc:
            raise describe_data_error(exc) from None


def load_calendar(engine: Engine) -> WorkCalendar:
    """Shipped holiday files plus the overrides an admin stored with ``hotline calendar add``."""
    extra: list[HolidayFile] = []
    try:
        with read_session(engine) as s:
            years = {y.year: y.source for y in s.exec(select(CalendarYear)).all()}
            days = s.exec(select(CalendarDay)).all()
    except OperationalError:
        years, days = {}, []
    for year, source in sorted(years.items()):
        hol = tuple(d.day for d in days if d.year == year and not d.is_workday)
        work = tuple(d.day for d in days if d.year == year and d.is_workday)
        extra.append(HolidayFile(year, hol, work, source))
    return WorkCalendar.load(extra)


# ---------------------------------------------------------------- actors and scope


def unit_subtree(session: Session, unit_id: int) -> frozenset[int]:
    """The unit and all its descendants."""
    rows = session.exec(select(Unit.id, Unit.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for uid, parent in rows:
        if uid is not None:
            children.setdefault(parent, []).append(uid)
    out = {unit_id}
    stack = [unit_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return frozenset(out)


def unit_ancestry_codes(session: Session, unit_id: int) -> list[str]:
    """Codes of the unit and its ancestors, leaf first."""
    codes = []
    current: int | None = unit_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        unit = session.get(Unit, current)
        if unit is None:
            break
        codes.append(unit.code)
        current = unit.parent_id
    return codes


def storable(text: str) -> bool:
    """Whether a database can hold ``text`` at all (PostgreSQL refuses NUL; nobody stores lone surrogates).
    A lookup key that is not storable matches no row: say "not found" without asking the database."""
    return "\x00" not in text and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def actor_for(session: Session, name: str) -> Actor:
    if not storable(name):
        raise NotFound(f"用户不存在：{name}")
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"用户不存在：{name}")
    if not user.active:
        raise PermissionDenied(f"用户 {name} 已停用")
    assert user.id is not None
    scope = unit_subtree(session, user.unit_id) if user.unit_id is not None else frozenset()
    return Actor(user.id, user.name, user.role, user.unit_id, scope, user.display_name or user.name)


def require_role(ctx: Ctx, *roles: str, what: str) -> None:
    if ctx.actor.role not in roles:
        allowed = "、".join(ROLE_LABELS.get(r, r) for r in roles)
        raise PermissionDenied(f"{ctx.actor.role_label}无权{what}（仅限{allowed}）")


def require_unit_scope(ctx: Ctx, assignment: Assignment, what: str) -> None:
    """A liaison officer acts only on their unit's (and sub-units') assignments."""
    if ctx.actor.role != "liaison":
        raise PermissionDenied(f"{ctx.actor.role_label}无权{what}（仅限承办单位联络员）")
    if assignment.unit_id not in ctx.actor.unit_ids:
        raise PermissionDenied(f"该工单未派给您所在单位，无权{what}")


def can_see_ticket(ctx: Ctx, session: Session, ticket: Ticket) -> bool:
    role = ctx.actor.role
    if role in ("agent", "dispatcher", "callback", "supervisor"):
        return True
    if role == "liaison":
        assert ticket.id is not None
        units = session.exec(select(Assignment.unit_id).where(Assignment.ticket_id == ticket.id)).all()
        return any(u in ctx.actor.unit_ids for u in units)
    return False


# ---------------------------------------------------------------- loading rows


def get_ticket(session: Session, no: str, *, lock: bool = False) -> Ticket:
    if not storable(no):
        raise NotFound(f"工单不存在：{no}")
    stmt = select(Ticket).where(Ticket.no == no.strip().upper())
    if lock:
        stmt = stmt.with_for_update()
    ticket = session.exec(stmt).first()
    if ticket is None:
        raise NotFound(f"工单不存在：{no}")
    return ticket


def get_assignment(session: Session, assignment_id: int, *, lock: bool = False) -> Assignment:
    stmt = select(Assignment).where(Assignment.id == assignment_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(f"派单记录不存在：{assignment_id}")
    return row


def get_unit(session: Session, code: str) -> Unit:
    unit = None
    if storable(code):
        unit = session.exec(select(Unit).where(Unit.code == code.strip())).first()
        if unit is None:
            unit = session.exec(select(Unit).where(Unit.name == code.strip())).first()
    if unit is None:
        raise NotFound(f"承办单位不存在：{code}（可用 hotline unit list 查看单位代码）")
    return unit


def check_version(row: Ticket | Assignment, expected: int | None, what: str) -> None:
    if expected is not None and row.version != expected:
        raise ConcurrentUpdate(what)


def ticket_assignments(session: Session, ticket: Ticket) -> list[Assignment]:
    return list(
        session.exec(select(Assignment).where(Assignment.ticket_id == ticket.id).order_by(col(Assignment.id)))
    )


# ---------------------------------------------------------------- events


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_digest(prev_hash: str, ev: Event) -> str:
    body = {
        "ticket": ev.ticket_id,
        "assignment": ev.assignment_id,
        "kind": ev.kind,
        "actor": ev.actor,
        "actor_id": ev.actor_id,
        "at": iso(ev.at),
        "payload": ev.payload,
    }
    return hashlib.sha256((prev_hash + _canonical(body)).encode("utf-8")).hexdigest()


def record_event(
    ctx: Ctx,
    session: Session,
    kind: str,
    *,
    ticket: Ticket | None = None,
    assignment: Assignment | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append one event, chained to the previous one, in the caller's transaction."""
    if ticket is not None and ticket.id is None:
        session.flush()
    if assignment is not None and assignment.id is None:
        session.flush()
    head = session.exec(select(ChainHead).where(ChainHead.id == 1).with_for_update()).first()
    if head is None:
        # the first event of a new store: several writers may get here at once (PostgreSQL)
        dialect = session.get_bind().dialect.name
        # imported here: the PostgreSQL dialect module costs ~20 ms at every start on an SQLite store
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(ChainHead).values(id=1, last_id=0, last_hash="").on_conflict_do_nothing())
        head = session.exec(select(ChainHead).where(ChainHead.id == 1).with_for_update()).one()
    ev = Event(
        ticket_id=ticket.id
        if ticket is not None
        else (assignment.ticket_id if assignment is not None else None),
        assignment_id=assignment.id if assignment is not None else None,
        kind=kind,
        actor_id=ctx.actor.id,
        actor=ctx.actor.name,
        at=ctx.now(),
        payload=_jsonable(payload or {}),
        prev_hash=head.last_hash,
    )
    ev.hash = event_digest(head.last_hash, ev)
    session.add(ev)
    session.flush()
    assert ev.id is not None
    head.last_id = ev.id
    head.last_hash = ev.hash
    session.add(head)
    return ev


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


# Invisible characters that change how text is shown without being part of it: bidirectional controls
# (U+202E turns "gnp.exe" round on a terminal) and zero-width spaces / word joiner / byte order mark.
# Zero-width (non-)joiners stay: emoji sequences and Persian or Indic writing need them.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = frozenset("\u200b\u2060\ufeff")


def unwanted_char(ch: str) -> bool:
    """A character ``clean_text`` drops (and the knowledge base refuses)."""
    o = ord(ch)
    return (
        (o < 32 and ch not in "\n\t")
        or 127 <= o < 160  # DEL and the C1 controls
        or 0xD800 <= o <= 0xDFFF  # lone surrogates: not text, no database can store them
        or ch in BIDI_CONTROLS
        or ch in INVISIBLE
    )


def clean_text(value: str | None, *, field: str, max_len: int, required: bool = False) -> str:
    """The one cleaning of free text a user typed, before it is stored.

    Line ends (``\\r\\n``, ``\\r``, U+2028, U+2029) become ``\\n``; control characters other than newline
    and tab (C0, DEL, C1 — so terminal escape sequences lose their ESC), lone surrogates, bidirectional
    controls and zero-width spaces are dropped; surrounding white space is stripped. Then an empty
    required field or a text longer than ``max_len`` characters is refused.
    """
    raw = value or ""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = "".join(ch for ch in raw if not unwanted_char(ch)).strip()
    if required and not text:
        raise InvalidInput(f"{field}不能为空")
    if len(text) > max_len:
        raise InvalidInput(f"{field}过长：{len(text)}字，最多{max_len}字")
    return text


def labels_of(values: Iterable[str]) -> list[str]:
    out = []
    for v in values:
        bare = v.strip().strip("【】[]").strip()
        if bare and bare not in out:
            out.append(bare)
    return out
