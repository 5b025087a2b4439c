"""One call, one commit: the call screen records the demand and, in the same transaction, dispatches it,
answers it from the knowledge base, or refers it (T24 13-15).

Before, the screen would have had to create the ticket and then act on it in a second transaction: a
refused dispatch (an inactive unit, a stale KB entry) would leave a half-finished ``new`` ticket behind
that nobody asked for. Here either the whole outcome is stored, with its events, or nothing is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from hotline_tui.clock import local
from hotline_tui.errors import InvalidInput
from hotline_tui.models import Assignment, Ticket, Unit
from hotline_tui.services.core import Ctx, clean_text, record_event, require_role
from hotline_tui.services.deadlines import describe_time
from hotline_tui.services.dispatch import DISPATCH_ROLES, _dispatch_locked, split_locked
from hotline_tui.services.intake import (
    INTAKE_ROLES,
    IntakeForm,
    answer_locked,
    insert_ticket,
    refer_locked,
    referral_route,
    validate_form,
)


@dataclass(frozen=True)
class CallOutcome:
    nos: tuple[str, ...]  # tickets created (several when split)
    status: str  # the first ticket's status code
    message: str  # what the agent is told, in Chinese
    due: tuple[tuple[str, datetime], ...] = ()  # (unit name, handling deadline)


def record_call(
    ctx: Ctx,
    form: IntakeForm,
    *,
    units: list[str] | tuple[str, ...] = (),
    split: list[tuple[str, str]] | None = None,
) -> CallOutcome:
    """Record the demand; with ``units`` dispatch it (first = lead, others co-units); with ``split``
    ([(unit code, that unit's part of the demand)], at least two) make one ticket per unit (T24 15)."""
    require_role(ctx, *INTAKE_ROLES, what="受理诉求")
    if units or split:
        require_role(ctx, *DISPATCH_ROLES, what="派单")
    f = validate_form(ctx, form)
    parts: list[tuple[str, str]] = []
    if split is not None:
        if len(split) < 2:
            raise InvalidInput("拆分派单至少需要两个承办单位，每个单位写明各自的诉求内容")
        for code, text in split:
            part = clean_text(text, field="分项诉求内容", max_len=5000)
            if not part:
                raise InvalidInput(f"拆分派单：请写明交给 {code} 办理的那一项诉求")
            parts.append((code, part))
    with ctx.write() as s:
        ticket = insert_ticket(ctx, s, f)
        now = ctx.now()
        if parts:
            nos = tuple(split_locked(ctx, s, ticket, parts))
            message = f"已受理并拆分为 {len(nos)} 张工单：{'、'.join(nos)}"
        elif units:
            _, payload = _dispatch_locked(ctx, s, ticket, list(units), designate=False, consulted="")
            record_event(ctx, s, "dispatched", ticket=ticket, payload=payload)
            nos = (ticket.no,)
            message = f"已受理并派单：{ticket.no}"
        else:
            nos = (ticket.no,)
            message = f"已受理：{ticket.no}（待派单）"
        due = _dues(s, nos)
        status = ticket.status
    if due:
        message += "；" + "；".join(f"{name} 办理时限至 {describe_time(at, now)}" for name, at in due)
    return CallOutcome(nos, status, message, due)


def _dues(s: Session, nos: tuple[str, ...]) -> tuple[tuple[str, datetime], ...]:
    rows = s.exec(
        select(Unit.name, Assignment.due_at)
        .join(Assignment, col(Assignment.unit_id) == Unit.id)
        .join(Ticket, col(Ticket.id) == Assignment.ticket_id)
        .where(col(Ticket.no).in_(nos))
        .order_by(col(Assignment.id))
    )
    return tuple((name, local(at)) for name, at in rows)


def answer_call(ctx: Ctx, form: IntakeForm, kb_entry_id: str, note: str = "") -> CallOutcome:
    """Record a consult and answer it on the spot from a current KB entry (T24 15; GZ 13(1))."""
    require_role(ctx, *INTAKE_ROLES, what="直接答复")
    f = validate_form(ctx, form)
    note = clean_text(note, field="答复说明", max_len=2000)
    with ctx.write() as s:
        ticket = insert_ticket(ctx, s, f)
        entry = answer_locked(ctx, s, ticket, kb_entry_id, note)
        return CallOutcome(
            (ticket.no,),
            ticket.status,
            f"已当场答复：{ticket.no}，依据知识库条目 {entry.id}「{entry.title}」",
        )


def refer_call(ctx: Ctx, form: IntakeForm, cls: str, route: str = "", note: str = "") -> CallOutcome:
    """Record the call and close it by triage: transferred to 110/119/120/122, or the caller told the
    proper channel (T24 13)."""
    require_role(ctx, *INTAKE_ROLES, what="分类转接")
    f = validate_form(ctx, form, min_text=1)
    note = clean_text(note, field="说明", max_len=2000)
    route = referral_route(ctx, cls, route)
    with ctx.write() as s:
        ticket = insert_ticket(ctx, s, f)
        refer_locked(ctx, s, ticket, cls, route, note)
        what = f"已转接 {route}" if cls == "emergency" else f"已告知：{route}"
        return CallOutcome((ticket.no,), ticket.status, f"{what}（{ticket.no}）")
