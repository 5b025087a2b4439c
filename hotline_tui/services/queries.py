"""Read models: a ticket as its viewer may see it, and the tickets a role's home screen lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from hotline_tui.clock import iso, local
from hotline_tui.errors import PermissionDenied
from hotline_tui.models import (
    ASSIGNMENT_STATUSES,
    TICKET_STATUSES,
    Assignment,
    Event,
    Ticket,
    Unit,
    UnitRequest,
    User,
)
from hotline_tui.policy import Policy
from hotline_tui.privacy import PII_FIELDS, mask_deep
from hotline_tui.services.core import Ctx, can_see_ticket, get_ticket
from hotline_tui.services.privacy import (
    Standing,
    caller_fields,
    has_pii,
    record_view,
    standing,
    visible_text,
)


def caller_view(ctx: Ctx, t: Ticket, st: Standing) -> dict[str, Any]:
    """Caller data as this actor may see it (T24 19, 27): masked unless the work needs it in full,
    hidden from units entirely when the caller asked for confidentiality."""
    return {
        **caller_fields(t, st.access),
        "access": st.access,
        "masked": st.access != "full",
        "can_reveal": st.can_reveal and has_pii(t),
        "reveal_refusal": st.refusal,
    }


def ticket_detail(ctx: Ctx, no: str, *, audit: bool = True) -> dict[str, Any]:
    """State, assignments, requests and events of a ticket, as ``ticket show --json`` prints it."""
    with ctx.read() as s:
        t = get_ticket(s, no)
        if not can_see_ticket(ctx, s, t):
            raise PermissionDenied(f"{ctx.actor.role_label}无权查看工单 {t.no}")
        st = standing(ctx, s, t)
        units = {u.id: u for u in s.exec(select(Unit))}
        rows = list(
            s.exec(select(Assignment).where(Assignment.ticket_id == t.id).order_by(col(Assignment.id)))
        )
        requests = list(
            s.exec(select(UnitRequest).where(UnitRequest.ticket_id == t.id).order_by(col(UnitRequest.id)))
        )
        events = list(s.exec(select(Event).where(Event.ticket_id == t.id).order_by(col(Event.id))))
        p = ctx.policy
        out: dict[str, Any] = {
            "no": t.no,
            "status": t.status,
            "status_label": TICKET_STATUSES.get(t.status, t.status),
            "type": t.type,
            "type_label": p.type_label(t.type),
            "channel": t.channel,
            "channel_label": p.channel_label(t.channel),
            "urgency": t.urgency,
            "urgency_label": p.urgency_label(t.urgency),
            "labels": list(t.labels),
            "text": visible_text(t.text, st.access),
            "district": t.district,
            "anonymous": t.anonymous,
            "confidential": t.confidential,
            "no_reply": t.no_reply,
            "caller": caller_view(ctx, t, st),
            "created_at": iso(t.created_at),
            "closed_at": iso(t.closed_at),
            "triage": t.triage_class,
            "route": t.route,
            "kb_entry": t.kb_entry_id,
            "returns": t.returns,
            "satisfaction": t.satisfaction,
            "solved": t.solved,
            "version": t.version,
            "assignments": [
                {
                    "id": a.id,
                    "unit": units[a.unit_id].code if a.unit_id in units else a.unit_id,
                    "unit_name": units[a.unit_id].name if a.unit_id in units else "",
                    "role": a.role,
                    "status": a.status,
                    "status_label": ASSIGNMENT_STATUSES.get(a.status, a.status),
                    "designated": a.designated,
                    "dispatched_at": iso(a.dispatched_at),
                    "accept_due_at": iso(a.accept_due_at),
                    "accepted_at": iso(a.accepted_at),
                    "return_due_at": iso(a.return_due_at),
                    "return_due_complex_at": iso(a.return_due_complex_at),
                    "due_at": iso(a.due_at),
                    "rule": a.period_rule,
                    "returns": sum(1 for r in requests if r.assignment_id == a.id and r.kind == "return"),
                    "extensions": a.extensions,
                    "rehandling": a.rehandling,
                    "reply": visible_text(a.reply_text, st.access) if a.reply_text else a.reply_text,
                    "replied_at": iso(a.replied_at),
                    "version": a.version,
                }
                for a in rows
            ],
            "requests": [
                {
                    "id": r.id,
                    "assignment": r.assignment_id,
                    "kind": r.kind,
                    "status": r.status,
                    "reason": r.reason_code,
                    "payload": r.payload if st.access == "full" else mask_deep(r.payload),
                    "created_at": iso(r.created_at),
                    "decided_at": iso(r.decided_at),
                    "note": visible_text(r.decision_note, st.access) if r.decision_note else r.decision_note,
                }
                for r in requests
            ],
            "events": [
                {
                    "kind": e.kind,
                    "at": iso(e.at),
                    "actor": e.actor,
                    "assignment": e.assignment_id,
                    "payload": e.payload if st.access == "full" else mask_deep(e.payload),
                }
                for e in events
            ],
        }
    if audit and has_pii(t) and st.access == "full":
        record_view(ctx, t.no, [f for f in PII_FIELDS if out["caller"][f]], "回访工作需要")
    return out


@dataclass(frozen=True)
class TicketRow:
    no: str
    status: str
    type: str
    urgency: str
    created_at: str
    summary: str
    units: str
    due_at: str | None
    labels: str
    due_iso: str | None = None


def visible_tickets(ctx: Ctx, *, limit: int = 200, status: str | None = None) -> list[TicketRow]:
    """The tickets this role works with, newest first (liaison: their units' orders, nearest deadline first)."""
    role = ctx.actor.role
    p = ctx.policy
    with ctx.read() as s:
        units = {u.id: u.name for u in s.exec(select(Unit))}
        if role == "liaison":
            stmt = (
                select(Ticket, Assignment)
                .join(Assignment, col(Assignment.ticket_id) == col(Ticket.id))
                .where(col(Assignment.unit_id).in_(ctx.actor.unit_ids))
                .order_by(col(Assignment.status).in_(("pending", "handling")).desc(), col(Assignment.due_at))
                .limit(limit)
            )
            pairs = []
            seen: set[int | None] = set()
            for t, a in s.exec(stmt):  # live assignments come first: one row per ticket
                if t.id not in seen:
                    seen.add(t.id)
                    pairs.append((t, a))
            return [unit_row(p, t, a, units.get(a.unit_id, "")) for t, a in pairs]
        if role not in ("agent", "dispatcher", "callback", "supervisor"):
            return []
        stmt2 = select(Ticket).order_by(col(Ticket.created_at).desc()).limit(limit)
        if status:
            stmt2 = stmt2.where(Ticket.status == status)
        elif role == "callback":
            stmt2 = stmt2.where(Ticket.status == "callback")
        elif role == "dispatcher":
            stmt2 = stmt2.where(col(Ticket.status).in_(("new", "dispatched", "rehandling", "callback")))
        tickets = list(s.exec(stmt2))
        ids = [t.id for t in tickets]
        by_ticket: dict[int, list[Assignment]] = {}
        if ids:
            for a in s.exec(select(Assignment).where(col(Assignment.ticket_id).in_(ids))):
                by_ticket.setdefault(a.ticket_id, []).append(a)
        out = []
        for t in tickets:
            live = [a for a in by_ticket.get(t.id or 0, []) if a.status in ("pending", "handling", "replied")]
            due = min((a.due_at for a in live), default=None)
            out.append(centre_row(p, t, "、".join(units.get(a.unit_id, "") for a in live), due))
        return out


def unit_row(p: Policy, t: Ticket, a: Assignment, unit_name: str) -> TicketRow:
    """A row as a unit sees it: its assignment's status and deadline."""
    return TicketRow(
        t.no,
        ASSIGNMENT_STATUSES.get(a.status, a.status),
        p.type_label(t.type),
        p.urgency_label(t.urgency),
        local(t.created_at).strftime("%m-%d %H:%M"),
        _summary(t.text),
        unit_name,
        local(a.due_at).strftime("%m-%d %H:%M"),
        " ".join(f"【{x}】" for x in t.labels),
        iso(a.due_at),
    )


def centre_row(p: Policy, t: Ticket, unit_names: str, due: datetime | None) -> TicketRow:
    """A row as the centre sees it: the ticket's status, the units shown, the nearest running deadline."""
    return TicketRow(
        t.no,
        TICKET_STATUSES.get(t.status, t.status),
        p.type_label(t.type),
        p.urgency_label(t.urgency),
        local(t.created_at).strftime("%m-%d %H:%M"),
        _summary(t.text),
        unit_names,
        local(due).strftime("%m-%d %H:%M") if due else None,
        " ".join(f"【{x}】" for x in t.labels),
        iso(due),
    )


def _summary(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def unit_counts(ctx: Ctx, soon_hours: int = 4) -> dict[str, int]:
    """A liaison's running orders: 待接单 / 办理中 / 即将超时 (within ``soon_hours``) / 已超时."""
    from datetime import timedelta

    now = ctx.now()
    with ctx.read() as s:
        running = s.exec(
            select(Assignment.status, Assignment.due_at).where(
                col(Assignment.unit_id).in_(ctx.actor.unit_ids),
                col(Assignment.status).in_(("pending", "handling")),
            )
        ).all()
    dues = [local(due) for _, due in running]
    soon = now + timedelta(hours=soon_hours)
    return {
        "pending": sum(1 for st, _ in running if st == "pending"),
        "handling": sum(1 for st, _ in running if st == "handling"),
        "due_soon": sum(1 for d in dues if now <= d < soon),
        "overdue": sum(1 for d in dues if d < now),
    }


def status_counts(ctx: Ctx) -> dict[str, int]:
    with ctx.read() as s:
        rows = s.exec(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
    return {status: int(n) for status, n in rows}


def user_count(ctx: Ctx) -> int:
    with ctx.read() as s:
        return int(s.exec(select(func.count()).select_from(User)).one())
