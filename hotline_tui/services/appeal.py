"""Appeals (申诉) of dissatisfied ratings (T24 23 第二款; TTR 27-28)."""

from __future__ import annotations

from sqlmodel import select

from hotline_tui.clock import iso, local, shown
from hotline_tui.errors import InvalidInput, RuleViolation
from hotline_tui.models import Assignment, Ticket, UnitRequest
from hotline_tui.services.core import (
    Ctx,
    clean_text,
    get_assignment,
    record_event,
    require_role,
    require_unit_scope,
)
from hotline_tui.services.deadlines import appeal_deadline
from hotline_tui.services.review import REVIEW_ROLES

# callback reasons that make an appeal inadmissible, mapped to the profile's exclusion codes (TTR 28)
REASON_EXCLUSIONS = {
    "not_contacted": "not_reached",
    "staff_attitude": "staff_attitude",
    "recurred": "recurred",
}


def _appeal_block(ctx: Ctx, t: Ticket, a: Assignment) -> str | None:
    p = ctx.policy
    rules = p.appeal
    if rules.window == "disabled":
        return f"本地规定未设不满意工单申诉（{rules.cite}）"
    if t.satisfaction != "dissatisfied" or t.status != "closed":
        return "只有已办结且评价为不满意的工单可以申诉"
    if a.status not in ("approved", "stopped"):
        return "只有已答复办结的承办单位可以申诉"
    code = REASON_EXCLUSIONS.get(t.dissatisfied_reason)
    if code and code in rules.exclusions:
        return f"{rules.exclusions[code]}的不满意工单不得申诉（{rules.cite_window}）"
    if t.rated_at is not None:
        last = appeal_deadline(p, ctx.calendar, t.rated_at)
        if last is not None and ctx.now() > last:
            return f"已超过申诉期限（{shown(last)}）（{rules.cite_window}）"
    return None


def appeal_block_for(ctx: Ctx, t: Ticket, a: Assignment) -> tuple[str | None, str | None]:
    """(why an appeal is refused now or None, the last day to appeal) for the order screen."""
    last = appeal_window(ctx, t)
    block = _appeal_block(ctx, t, a)
    if block is None:
        with ctx.read() as s:
            existing = s.exec(
                select(UnitRequest.id).where(UnitRequest.assignment_id == a.id, UnitRequest.kind == "appeal")
            ).first()
        if existing is not None:
            block = "该工单已提交过申诉，不能重复申诉"
    return block, last


def appeal(
    ctx: Ctx, assignment_id: int, explanation: str, evidence: str = "", declared: list[str] | None = None
) -> UnitRequest:
    """A unit's written explanation and evidence that it did its duty (T24 23)."""
    p = ctx.policy
    body = clean_text(explanation, field="书面说明", max_len=5000, required=True)
    proof = clean_text(evidence, field="佐证材料", max_len=5000)
    if not proof:
        raise InvalidInput(f"申诉须提交佐证材料（{p.appeal.cite}）")
    for code in declared or []:
        if code in p.appeal.exclusions:
            raise RuleViolation(f"{p.appeal.exclusions[code]}的不满意工单不得申诉（{p.appeal.cite_window}）")
    with ctx.write() as s:
        a = get_assignment(s, assignment_id, lock=True)
        require_unit_scope(ctx, a, "申诉")
        t = s.get(Ticket, a.ticket_id)
        assert t is not None
        block = _appeal_block(ctx, t, a)
        if block:
            raise RuleViolation(block)
        existing = s.exec(
            select(UnitRequest).where(UnitRequest.assignment_id == a.id, UnitRequest.kind == "appeal")
        ).first()
        if existing is not None:
            raise RuleViolation("该工单已提交过申诉，不能重复申诉")
        req = UnitRequest(
            assignment_id=a.id or 0,
            ticket_id=t.id or 0,
            kind="appeal",
            payload={"explanation": body, "evidence": proof, "rated_at": iso(t.rated_at)},
            created_at=ctx.now(),
            created_by=ctx.actor.id,
        )
        s.add(req)
        s.flush()
        record_event(ctx, s, "appeal_requested", assignment=a, payload={"request": req.id})
    return req


def review_appeal(ctx: Ctx, request_id: int, *, accept: bool, note: str = "") -> UnitRequest:
    """Accept: the unit did its duty and gets no negative score (T24 23). Reject: reasons required."""
    require_role(ctx, *REVIEW_ROLES, what="审核申诉")
    note = clean_text(note, field="审核意见", max_len=2000)
    if not accept and not note:
        raise InvalidInput("驳回申诉须说明理由")
    with ctx.write() as s:
        req = s.get(UnitRequest, request_id)
        if req is None or req.kind != "appeal":
            raise InvalidInput(f"申诉不存在：{request_id}")
        if req.status != "pending":
            raise RuleViolation("该申诉已审核，不能重复审核")
        a = get_assignment(s, req.assignment_id, lock=True)
        req.status = "approved" if accept else "rejected"
        req.decided_at = ctx.now()
        req.decided_by = ctx.actor.id
        req.decision_note = note
        s.add(req)
        record_event(
            ctx,
            s,
            "appeal_accepted" if accept else "appeal_rejected",
            assignment=a,
            payload={"request": req.id, "note": note, "rule": ctx.policy.appeal.cite},
        )
    return req


def appeal_window(ctx: Ctx, t: Ticket) -> str | None:
    if t.rated_at is None:
        return None
    return iso(appeal_deadline(ctx.policy, ctx.calendar, local(t.rated_at)))
