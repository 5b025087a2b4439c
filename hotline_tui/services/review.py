"""The centre's decisions on units' requests and replies (T24 17; GZ 15, 16, 18, 19; TA 15)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from hotline_tui.clock import iso, local, shown
from hotline_tui.errors import InvalidInput, NotFound, RuleViolation
from hotline_tui.models import ASSIGNMENT_STATUSES, Assignment, Ticket, UnitRequest
from hotline_tui.policy import Period
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_assignment,
    record_event,
    require_role,
    ticket_assignments,
)
from hotline_tui.services.deadlines import add_period
from hotline_tui.services.dispatch import _dispatch_locked
from hotline_tui.services.status import callback_exempt, refresh_ticket_status

REVIEW_ROLES = ("dispatcher", "supervisor")


def _load_request(s: Session, request_id: int, kind: str) -> tuple[UnitRequest, Assignment, Ticket]:
    req = s.get(UnitRequest, request_id)
    if req is None or req.kind != kind:
        raise NotFound(f"申请不存在：{request_id}")
    if req.status != "pending":
        raise RuleViolation(f"该申请已于 {shown(req.decided_at)} 审核（{req.status}），不能重复审核")
    a = get_assignment(s, req.assignment_id, lock=True)
    t = s.get(Ticket, a.ticket_id)
    assert t is not None
    return req, a, t


def _decide(ctx: Ctx, req: UnitRequest, approve: bool, note: str) -> None:
    req.status = "approved" if approve else "rejected"
    req.decided_at = ctx.now()
    req.decided_by = ctx.actor.id
    req.decision_note = note


def review_return(
    ctx: Ctx,
    request_id: int,
    *,
    approve: bool,
    note: str = "",
    redispatch_to: list[str] | None = None,
    designate: bool = False,
    consulted: str = "",
) -> UnitRequest:
    """Approve: the order leaves the unit and is re-dispatched with a new deadline (GZ 15(1)).
    Reject: reasons given, the same unit continues and the deadline does not restart (GZ 15(2))."""
    require_role(ctx, *REVIEW_ROLES, what="审核退单申请")
    p = ctx.policy
    note = clean_text(note, field="审核意见", max_len=2000)
    consulted = clean_text(consulted, field="征求意见情况", max_len=500)
    if not approve and not note:
        raise InvalidInput(f"不同意退回须说明理由（{p.return_review_cite}）")
    with ctx.write() as s:
        req, a, t = _load_request(s, request_id, "return")
        _decide(ctx, req, approve, note)
        s.add(req)
        payload: dict[str, Any] = {"request": req.id, "note": note}
        if not approve:
            payload["due_at"] = iso(a.due_at)
            payload["rule"] = p.return_review_cite
            record_event(ctx, s, "return_rejected", assignment=a, payload=payload)
            return req
        if a.status not in ("pending", "handling"):
            label = ASSIGNMENT_STATUSES.get(a.status, a.status)
            raise RuleViolation(f"该派单已{label.removeprefix('已')}，退单申请无法批准（可驳回）")
        now = ctx.now()
        a.status = "returned"
        a.closed_at = now
        s.add(a)
        t.returns += 1
        # a lead's return takes its co-units with it: the centre re-judges the whole order
        if a.role == "lead":
            for other in ticket_assignments(s, t):
                if (
                    other.id != a.id
                    and other.role == "co"
                    and other.status in ("pending", "handling", "replied")
                ):
                    other.status = "cancelled"
                    other.closed_at = now
                    s.add(other)
        refresh_ticket_status(s, t, now)
        if redispatch_to:
            _, dispatch_payload = _dispatch_locked(
                ctx, s, t, redispatch_to, designate=designate, consulted=consulted
            )
            payload["redispatched"] = dispatch_payload
        payload["returns"] = t.returns
        if t.returns >= p.designation_after and not redispatch_to:
            payload["designation_required"] = p.designation_cite
        record_event(ctx, s, "return_approved", assignment=a, payload=payload)
    return req


def review_extension(ctx: Ctx, request_id: int, *, approve: bool, note: str = "") -> UnitRequest:
    """Approve: the deadline moves by the original period, counted from the current deadline (GZ 18)."""
    require_role(ctx, *REVIEW_ROLES, what="审核延期申请")
    ext = ctx.policy.extension
    note = clean_text(note, field="审核意见", max_len=2000)
    if not approve and not note:
        raise InvalidInput("不同意延期须说明理由")
    with ctx.write() as s:
        req, a, t = _load_request(s, request_id, "extension")
        payload: dict[str, Any] = {"request": req.id, "note": note, "old_due_at": iso(a.due_at)}
        if approve:
            if a.status != "handling":
                raise RuleViolation("该派单已不在办理中，延期申请无法批准")
            if a.extensions >= ext.max_count:
                raise RuleViolation(f"已延期{a.extensions}次，不得再次延期（{ext.cite_count}）")
            if a.rehandling and not ctx.policy.callback.rehandle_extension:
                raise RuleViolation(f"重新办理的工单不得延期（{ctx.policy.callback.cite_rehandle}）")
            period = Period(a.period_amount, a.period_unit)  # type: ignore[arg-type]
            new_due = add_period(ctx.calendar, ctx.policy, local(a.due_at), period)
            a.due_at = new_due.due_at
            a.extensions += 1
            s.add(a)
            payload.update(new_due_at=iso(a.due_at), count=a.extensions, rule=ext.cite)
        _decide(ctx, req, approve, note)
        s.add(req)
        record_event(
            ctx, s, "extension_approved" if approve else "extension_rejected", assignment=a, payload=payload
        )
    return req


def review_stop(ctx: Ctx, request_id: int, *, approve: bool, note: str = "") -> UnitRequest:
    """Stop handling only after the centre has reviewed the materials (TA 15(5)(6))."""
    require_role(ctx, *REVIEW_ROLES, what="审核终止办理申请")
    note = clean_text(note, field="审核意见", max_len=2000)
    if not approve and not note:
        raise InvalidInput("不同意终止办理须说明理由")
    with ctx.write() as s:
        req, a, t = _load_request(s, request_id, "stop")
        if approve:
            if a.status != "handling":
                raise RuleViolation("该派单已不在办理中，终止办理申请无法批准")
            a.status = "stopped"
            a.closed_at = ctx.now()
            s.add(a)
            refresh_ticket_status(s, t, ctx.now())
        _decide(ctx, req, approve, note)
        s.add(req)
        record_event(
            ctx,
            s,
            "stop_approved" if approve else "stop_rejected",
            assignment=a,
            payload={"request": req.id, "note": note, "rule": ctx.policy.stop_cite},
        )
    return req


def review_reply(
    ctx: Ctx, assignment_id: int, *, approve: bool, note: str = "", expected_version: int | None = None
) -> Assignment:
    """Approve the reply (→ callback, or closed when exempt) or send it back: the deadline does not
    restart (GZ 19)."""
    require_role(ctx, *REVIEW_ROLES, what="审核答复")
    p = ctx.policy
    note = clean_text(note, field="审核意见", max_len=2000)
    if not approve and not note:
        raise InvalidInput(f"退回答复须写明需补充或改正的内容（{p.reply.sent_back_cite}）")
    with ctx.write() as s:
        a = get_assignment(s, assignment_id, lock=True)
        check_version(a, expected_version, "该答复")
        t = s.get(Ticket, a.ticket_id)
        assert t is not None
        if a.status != "replied":
            raise RuleViolation("该派单没有待审核的答复")
        if a.role == "co" and any(
            x.role == "lead" and x.status in ("pending", "handling", "replied")
            for x in ticket_assignments(s, t)
        ):
            raise RuleViolation("协办单位的意见由牵头单位汇总答复，请审核牵头单位的答复")
        # a co-unit whose lead has left the order (stopped) answers for its own part and is reviewed itself
        now = ctx.now()
        payload: dict[str, Any] = {"note": note}
        if approve:
            a.status = "approved"
            a.closed_at = now
            s.add(a)
            for other in ticket_assignments(s, t):
                if other.role == "co" and other.status == "replied":
                    other.status = "approved"
                    other.closed_at = now
                    s.add(other)
            exempt = callback_exempt(t, p.callback.exempt_anonymous, p.callback.exempt_no_reply)
            status = refresh_ticket_status(s, t, now, exempt=exempt)
            payload["ticket_status"] = status
            if exempt and status == "closed":
                payload["callback_exempt"] = exempt
                payload["rule"] = p.callback.cite_exempt
        else:
            a.status = "handling"
            s.add(a)
            refresh_ticket_status(s, t, now)
            payload["due_at"] = iso(a.due_at)
            payload["rule"] = p.reply.sent_back_cite
        record_event(
            ctx, s, "reply_approved" if approve else "reply_sent_back", assignment=a, payload=payload
        )
    return a
