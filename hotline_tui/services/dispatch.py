"""Dispatch (派单): one unit, a lead with co-units, one ticket per unit, designation (T24 15, 17; GZ 15, 16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from hotline_tui.clock import iso
from hotline_tui.errors import InvalidInput, RuleViolation
from hotline_tui.models import Assignment, Ticket, Unit
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_ticket,
    get_unit,
    record_event,
    require_role,
    ticket_assignments,
    unit_ancestry_codes,
)
from hotline_tui.services.deadlines import accept_limit, add_period, handling_due, return_window
from hotline_tui.services.intake import next_ticket_no
from hotline_tui.services.status import refresh_ticket_status

DISPATCH_ROLES = ("agent", "dispatcher", "supervisor")
NOT_HANDLING_KINDS = ("centre",)


@dataclass(frozen=True)
class DispatchPreview:
    """What the agent sees before saving: the deadlines that will apply and why."""

    unit_code: str
    unit_name: str
    role: str
    due_at: str
    rule: str
    explanation: str
    accept_due_at: str | None
    return_due_at: str
    warnings: tuple[str, ...]


def _resolve_units(session: Session, codes: list[str]) -> list[Unit]:
    if not codes:
        raise InvalidInput("请至少选择一个承办单位")
    units: list[Unit] = []
    for code in codes:
        unit = get_unit(session, code)
        if unit.kind in NOT_HANDLING_KINDS:
            raise InvalidInput(f"{unit.name}是热线工作机构，不能作为承办单位")
        if not unit.active:
            raise InvalidInput(f"{unit.name}已停用，不能派单")
        if any(u.id == unit.id for u in units):
            raise InvalidInput(f"承办单位重复：{unit.name}")
        units.append(unit)
    return units


def make_assignment(
    ctx: Ctx, session: Session, ticket: Ticket, unit: Unit, role: str, designated: bool
) -> Assignment:
    now = ctx.now()
    due, rule = handling_due(
        ctx.policy, ctx.calendar, type_=ticket.type, channel=ticket.channel, urgency=ticket.urgency, start=now
    )
    assert unit.id is not None
    group = ctx.policy.group_for(unit_ancestry_codes(session, unit.id))
    window, window_complex, _ = return_window(ctx.policy, group)
    limit, _ = accept_limit(ctx.policy, group)
    assert ticket.id is not None
    return Assignment(
        ticket_id=ticket.id,
        unit_id=unit.id,
        role=role,
        status="pending",
        designated=designated,
        dispatched_at=now,
        accept_due_at=add_period(ctx.calendar, ctx.policy, now, limit).due_at if limit else None,
        return_due_at=add_period(ctx.calendar, ctx.policy, now, window).due_at,
        return_due_complex_at=add_period(ctx.calendar, ctx.policy, now, window_complex).due_at
        if window_complex
        else None,
        due_at=due.due_at,
        period_amount=rule.period.amount,
        period_unit=rule.period.unit,
        period_start=ctx.policy.wd_start,
        period_rule=rule.cite,
    )


def preview(ctx: Ctx, no: str, unit_codes: list[str]) -> list[DispatchPreview]:
    """The deadlines a dispatch would set now, without changing anything."""
    with ctx.read() as s:
        ticket = get_ticket(s, no)
        units = _resolve_units(s, unit_codes)
        out = []
        for i, unit in enumerate(units):
            role = "single" if len(units) == 1 else ("lead" if i == 0 else "co")
            due, rule = handling_due(
                ctx.policy,
                ctx.calendar,
                type_=ticket.type,
                channel=ticket.channel,
                urgency=ticket.urgency,
                start=ctx.now(),
            )
            a = make_assignment(ctx, s, ticket, unit, role, False)
            out.append(
                DispatchPreview(
                    unit.code,
                    unit.name,
                    role,
                    iso(due.due_at) or "",
                    rule.cite,
                    due.explanation,
                    iso(a.accept_due_at),
                    iso(a.return_due_at) or "",
                    due.warnings,
                )
            )
        return out


def _dispatch_locked(
    ctx: Ctx,
    s: Session,
    ticket: Ticket,
    unit_codes: list[str],
    *,
    designate: bool,
    consulted: str,
) -> tuple[list[Assignment], dict[str, Any]]:
    """Create the assignments; the caller records the one event. Shared by dispatch and return review."""
    p = ctx.policy
    if ticket.status != "new":
        raise RuleViolation(f"工单 {ticket.no} 当前为「{ticket.status}」，只有待派单的工单可以派单")
    if ticket.returns >= p.designation_after and not designate:
        raise RuleViolation(
            f"该工单已退回{ticket.returns}次，应征求相关部门意见后指定承办单位，不能再按普通派单（{p.designation_cite}）"
        )
    if designate and p.designation_consult_required and not consulted:
        raise InvalidInput(f"指定承办单位须写明征求意见的部门（{p.designation_cite}）")
    units = _resolve_units(s, unit_codes)
    previous = {a.unit_id for a in ticket_assignments(s, ticket) if a.status == "returned"}
    assignments = []
    for i, unit in enumerate(units):
        role = "single" if len(units) == 1 else ("lead" if i == 0 else "co")
        a = make_assignment(ctx, s, ticket, unit, role, designate)
        s.add(a)
        assignments.append(a)
    s.flush()
    late = None
    if p.dispatch_limit is not None:
        limit_at = add_period(ctx.calendar, p, ticket.created_at, p.dispatch_limit).due_at
        late = ctx.now() > limit_at
    warnings = sorted(
        {
            w
            for a in assignments
            for w in (ctx.calendar.warning_for(a.due_at.year), ctx.calendar.warning_for(a.dispatched_at.year))
            if w
        }
    )
    payload: dict[str, Any] = {
        "units": [
            {
                "unit": u.code,
                "role": a.role,
                "assignment": a.id,
                "due_at": iso(a.due_at),
                "rule": a.period_rule,
                "redispatch_to_previous": u.id in previous,
            }
            for u, a in zip(units, assignments, strict=True)
        ],
        "designated": designate,
    }
    if consulted:
        payload["consulted"] = consulted
    if late is not None:
        payload["dispatch_late"] = late
    if warnings:
        payload["calendar_warnings"] = warnings
    refresh_ticket_status(s, ticket, ctx.now())
    return assignments, payload


def dispatch(
    ctx: Ctx,
    no: str,
    unit_codes: list[str],
    *,
    designate: bool = False,
    consulted: str = "",
    expected_version: int | None = None,
) -> list[Assignment]:
    """Dispatch to one unit, or to a lead unit (first) with co-units (TA 14(2); GZ 15(3))."""
    require_role(ctx, *DISPATCH_ROLES, what="派单")
    consulted = clean_text(consulted, field="征求意见情况", max_len=500)
    with ctx.write() as s:
        ticket = get_ticket(s, no, lock=True)
        check_version(ticket, expected_version, f"工单 {ticket.no}")
        assignments, payload = _dispatch_locked(
            ctx, s, ticket, unit_codes, designate=designate, consulted=consulted
        )
        record_event(ctx, s, "designated" if designate else "dispatched", ticket=ticket, payload=payload)
    return assignments


def split_dispatch(
    ctx: Ctx, no: str, parts: list[tuple[str, str]], *, expected_version: int | None = None
) -> list[str]:
    """Several demands for different units: one ticket per unit (T24 15 第二款).

    ``parts`` is ``[(unit_code, text of that demand), ...]``. The original ticket keeps the first part;
    each further part becomes a new ticket with the same caller, linked to the original.
    """
    require_role(ctx, *DISPATCH_ROLES, what="拆分派单")
    if len(parts) < 2:
        raise InvalidInput("拆分派单至少需要两个承办单位")
    cleaned = [
        (code, clean_text(text, field="分项诉求内容", max_len=5000, required=True)) for code, text in parts
    ]
    with ctx.write() as s:
        original = get_ticket(s, no, lock=True)
        check_version(original, expected_version, f"工单 {original.no}")
        return split_locked(ctx, s, original, cleaned)


def split_locked(ctx: Ctx, s: Session, original: Ticket, cleaned: list[tuple[str, str]]) -> list[str]:
    """``split_dispatch`` inside the caller's transaction; ``cleaned`` = [(unit code, cleaned text)]."""
    units = _resolve_units(s, [code for code, _ in cleaned])
    created: list[Ticket] = []
    for (_code, text), _unit in zip(cleaned[1:], units[1:], strict=True):
        child = Ticket(
            no=next_ticket_no(s, ctx.policy.ticket_prefix, ctx.now()),
            type=original.type,
            channel=original.channel,
            urgency=original.urgency,
            status="new",
            text=text,
            caller_name=original.caller_name,
            caller_phone=original.caller_phone,
            caller_address=original.caller_address,
            caller_id_number=original.caller_id_number,
            district=original.district,
            anonymous=original.anonymous,
            confidential=original.confidential,
            no_reply=original.no_reply,
            labels=list(original.labels),
            triage_class=original.triage_class,
            parent_id=original.id,
            created_by=ctx.actor.id,
            created_at=original.created_at,
            policy=original.policy,
        )
        s.add(child)
        s.flush()
        created.append(child)
    first_assignments, payload = _dispatch_locked(
        ctx, s, original, [units[0].code], designate=False, consulted=""
    )
    payload["split_into"] = [c.no for c in created]
    payload["part"] = cleaned[0][1]
    record_event(ctx, s, "dispatched", ticket=original, payload=payload)
    for child, unit in zip(created, units[1:], strict=True):
        _, child_payload = _dispatch_locked(ctx, s, child, [unit.code], designate=False, consulted="")
        child_payload["split_from"] = original.no
        child_payload["type"] = child.type
        child_payload["channel"] = child.channel
        child_payload["urgency"] = child.urgency
        record_event(ctx, s, "split_created", ticket=child, payload=child_payload)
    return [original.no] + [c.no for c in created]
