"""Find tickets for a progress call (T24 14: the caller may query progress and result; T24 11 para. 2).

One box takes what the caller has: the ticket number (``TJ20250124-000123``, ``20250124-000123``,
``20250124000123``, or only ``000123`` / ``123`` — then the last days' tickets with that sequence), a
receipt date (``20250124``), the caller's phone number, or words of the demand. Everything is a lookup on an
indexed column or bounded by recent days and a limit, so the box can search as the agent types.

Scope and personal data exactly as ``queries.visible_tickets``: centre roles see every ticket, a liaison
officer only their units' orders (the row shows their unit's assignment), other roles nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from hotline_tui.clock import local
from hotline_tui.models import (
    ACTIVE_ASSIGNMENT,
    Assignment,
    Ticket,
    Unit,
)
from hotline_tui.privacy import valid_phone
from hotline_tui.services.callers import normalized_phone, scan_since
from hotline_tui.services.core import Ctx, storable
from hotline_tui.services.intake import ascii_digits
from hotline_tui.services.queries import TicketRow, centre_row, unit_row

CENTRE_ROLES = ("agent", "dispatcher", "callback", "supervisor")
SUFFIX_DAYS = 90  # "000123" alone: that sequence number on each of the last 90 days
TEXT_DAYS = 180  # words of the demand: tickets of the last 180 days
MAX_WORDS = 4
MAX_LIMIT = 200

# TJ20250124-000123, TJ20250124000123, 20250124-123, 20250124000123 (without the prefix: hyphen or 14 digits)
_FULL_NO = re.compile(r"^(?:([A-Z]{1,8})-?(\d{8})-?(\d{1,6})|()(\d{8})-(\d{1,6})|()(\d{8})(\d{6}))$")
_SEQ = re.compile(r"^\d{1,6}$")
_DAY = re.compile(r"^\d{8}$")
_WORD_SPLIT = re.compile(r"[\s,，。;；、:：!！?？\"'“”‘’()（）【】\[\]]+")


def _as_date(digits: str) -> date | None:
    try:
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        return None


def _numbers(ctx: Ctx, query: str) -> tuple[list[str], date | None]:
    """Ticket numbers the query names exactly, and a receipt day it names (for a range on ``no``)."""
    q = re.sub(r"\s+", "", ascii_digits(query)).upper()
    prefix = ctx.policy.ticket_prefix.upper()
    full = _FULL_NO.match(q)
    if full:
        groups = [g for g in full.groups() if g is not None]
        letters, day, seq = groups[-3], groups[-2], groups[-1]
        if _as_date(day) is not None and int(seq) > 0:
            return [f"{letters or prefix}{day}-{int(seq):06d}"], None
    if _SEQ.match(q) and int(q) > 0:
        today = ctx.now().date()
        days = (today - timedelta(days=n) for n in range(SUFFIX_DAYS))
        return [f"{prefix}{d:%Y%m%d}-{int(q):06d}" for d in days], None
    if _DAY.match(q):
        return [], _as_date(q)
    return [], None


def _query(ctx: Ctx, s: Session, query: str, limit: int) -> list[Ticket]:
    """The tickets the query names that the actor may see, newest first."""
    numbers, day = _numbers(ctx, query)
    found: dict[int, Ticket] = {}
    scope = None
    if ctx.actor.role == "liaison":
        mine = select(Assignment.ticket_id).where(col(Assignment.unit_id).in_(ctx.actor.unit_ids))
        scope = col(Ticket.id).in_(mine)

    def take(stmt: SelectOfScalar[Ticket]) -> None:
        for t in s.exec(stmt if scope is None else stmt.where(scope)):
            if t.id is not None:
                found.setdefault(t.id, t)

    if numbers:
        take(select(Ticket).where(col(Ticket.no).in_(numbers)))
    if day is not None:
        low = f"{ctx.policy.ticket_prefix.upper()}{day:%Y%m%d}-"
        high = low[:-1] + "."  # "." sorts right after "-": a range scan on the unique index
        take(
            select(Ticket)
            .where(col(Ticket.no) >= low, col(Ticket.no) < high)
            .order_by(col(Ticket.no).desc())
            .limit(limit)
        )
    phone = normalized_phone(query)
    if phone and storable(phone) and valid_phone(phone):
        take(
            select(Ticket)
            .where(Ticket.caller_phone == phone)
            .order_by(col(Ticket.created_at).desc())
            .limit(limit)
        )
    if not found and not numbers and not _SEQ.match(query.strip()):
        words = [w for w in _WORD_SPLIT.split(query.strip()) if len(w) >= 2 and storable(w)][:MAX_WORDS]
        if words:
            since = scan_since(s, ctx.now() - timedelta(days=TEXT_DAYS))
            stmt = select(Ticket).where(col(Ticket.created_at) >= since)
            for w in words:
                stmt = stmt.where(col(Ticket.text).contains(w, autoescape=True))
            take(stmt.order_by(col(Ticket.created_at).desc()).limit(limit))
    return sorted(found.values(), key=lambda t: (local(t.created_at), t.id or 0), reverse=True)


def lookup_tickets(ctx: Ctx, query: str, *, limit: int = 50) -> list[TicketRow]:
    """Tickets for a progress call by number, number suffix, date, phone or words, newest first."""
    role = ctx.actor.role
    query = (query or "").strip()
    limit = max(0, min(limit, MAX_LIMIT))
    if not query or limit == 0 or (role != "liaison" and role not in CENTRE_ROLES):
        return []
    p = ctx.policy
    with ctx.read() as s:
        tickets = _query(ctx, s, query, limit)
        ids = [t.id for t in tickets if t.id is not None]
        by_ticket: dict[int, list[Assignment]] = {}
        if ids:
            for a in s.exec(
                select(Assignment).where(col(Assignment.ticket_id).in_(ids)).order_by(col(Assignment.id))
            ):
                by_ticket.setdefault(a.ticket_id, []).append(a)
        unit_ids = {a.unit_id for rows in by_ticket.values() for a in rows}
        units = (
            {uid: name for uid, name in s.exec(select(Unit.id, Unit.name).where(col(Unit.id).in_(unit_ids)))}
            if unit_ids
            else {}
        )
    out: list[TicketRow] = []
    for t in tickets:
        rows = by_ticket.get(t.id or 0, [])
        if role == "liaison":
            mine = [a for a in rows if a.unit_id in ctx.actor.unit_ids]
            if not mine:
                continue
            a = next((x for x in reversed(mine) if x.status in ("pending", "handling")), mine[-1])
            out.append(unit_row(p, t, a, units.get(a.unit_id, "") or ""))
        else:
            live = [a for a in rows if a.status in ACTIVE_ASSIGNMENT]
            due = min((a.due_at for a in live), default=None)
            # a progress call about a finished order asks who handled it: the units that replied or
            # stopped it, when none is live any more (returned and cancelled shares never handled it)
            shown = live or [a for a in rows if a.status in ("approved", "stopped")]
            out.append(centre_row(p, t, "、".join(units.get(a.unit_id, "") or "" for a in shown), due))
        if len(out) >= limit:
            break
    return out
