"""The handling unit's actions: accept, return, extension, progress note, stop-handling, reply.

Each action has a ``_can_*`` check that looks only at the order's state and the clock; it is what
``allowed_actions`` asks, so a screen can show a disabled action with the reason the service would give.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from hotline_tui.clock import local, shown
from hotline_tui.errors import HotlineError, InvalidInput, RuleViolation
from hotline_tui.models import Assignment, KBEntry, Ticket, Unit, UnitRequest
from hotline_tui.policy import EXTENSION_FIELDS, RETURN_FIELDS
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_assignment,
    record_event,
    require_unit_scope,
    ticket_assignments,
    unit_ancestry_codes,
)
from hotline_tui.services.deadlines import describe_time, return_window
from hotline_tui.services.reply_check import check_reply
from hotline_tui.services.status import refresh_ticket_status


def open_request(session: Session, assignment: Assignment, kind: str) -> UnitRequest | None:
    return session.exec(
        select(UnitRequest).where(
            UnitRequest.assignment_id == assignment.id,
            UnitRequest.kind == kind,
            UnitRequest.status == "pending",
        )
    ).first()


def _load(
    ctx: Ctx, s: Session, assignment_id: int, what: str, expected_version: int | None
) -> tuple[Assignment, Ticket]:
    a = get_assignment(s, assignment_id, lock=True)
    require_unit_scope(ctx, a, what)
    check_version(a, expected_version, "该派单")
    ticket = s.get(Ticket, a.ticket_id)
    assert ticket is not None
    return a, ticket


# ---------------------------------------------------------------- state checks


def _can_accept(ctx: Ctx, s: Session, a: Assignment, t: Ticket) -> None:
    if a.status != "pending":
        raise RuleViolation("该派单已接单或已结束，不能重复接单")


def _can_return(ctx: Ctx, s: Session, a: Assignment, t: Ticket, complex_case: bool = False) -> None:
    p = ctx.policy
    if a.status not in ("pending", "handling") or a.rehandling:
        raise RuleViolation("只有待接单或办理中的派单可以申请退单")
    if a.designated:
        raise RuleViolation(f"经研究确定或直接指定的承办单位不得退回（{p.designation_cite}）")
    if open_request(s, a, "return") is not None:
        raise RuleViolation("已有退单申请正在审核，不能重复申请")
    now = ctx.now()
    limit = a.return_due_complex_at if complex_case and a.return_due_complex_at else a.return_due_at
    if now > local(limit):
        _, _, cite = return_window(p, p.group_for(unit_ancestry_codes(s, a.unit_id)))
        extra = ""
        if not complex_case and a.return_due_complex_at and now <= local(a.return_due_complex_at):
            extra = "；疑难复杂事项可在延长的退单时限内申请（请勾选“疑难复杂”）"
        raise RuleViolation(f"已超过退单时限（{shown(limit)}），应按规定期限办理{extra}（{cite}）")


def _can_extend(ctx: Ctx, s: Session, a: Assignment, t: Ticket) -> None:
    p = ctx.policy
    ext = p.extension
    if not ext.enabled:
        raise RuleViolation(f"本地规定不允许延期（{ext.cite}）")
    if a.status != "handling":
        raise RuleViolation("只有已接单、办理中的派单可以申请延期")
    if a.rehandling and not p.callback.rehandle_extension:
        raise RuleViolation(f"重新办理的工单不得延期（{p.callback.cite_rehandle}）")
    if t.type in ext.forbidden_types:
        raise RuleViolation(f"{p.type_label(t.type)}类工单不得申请延期（{ext.cite_forbidden}）")
    if t.urgency in ext.forbidden_urgencies:
        raise RuleViolation(f"标注为“{p.urgency_label(t.urgency)}”的工单不得申请延期（{ext.cite_forbidden}）")
    for label in t.labels:
        rule = p.label_rule(label)
        if rule is not None and rule.extension_forbidden:
            raise RuleViolation(f"带有【{rule.name}】标签的工单不得申请延期（{rule.cite}）")
    if a.extensions >= ext.max_count:
        raise RuleViolation(f"已延期{a.extensions}次，不得再次延期（{ext.cite_count}）")
    if open_request(s, a, "extension") is not None:
        raise RuleViolation("已有延期申请正在审核，不能重复申请")
    now = ctx.now()
    due = local(a.due_at)
    if now >= due:
        raise RuleViolation(f"办理期限已于 {shown(due)} 届满，延期须在期限届满前申请（{ext.cite}）")
    if ext.lead is not None:
        latest = _minus(due, ext.lead.amount, ext.lead.unit)
        if now > latest:
            raise RuleViolation(
                f"延期须在工单到期前至少{ext.lead.label()}提出，本单最晚 {shown(latest)} 申请（{ext.cite_lead}）"
            )


def _minus(at: datetime, amount: int, unit: str) -> datetime:
    if unit == "hours":
        return at - timedelta(hours=amount)
    return at - timedelta(days=amount)


def _can_note(ctx: Ctx, s: Session, a: Assignment, t: Ticket) -> None:
    if a.status not in ("pending", "handling", "replied"):
        raise RuleViolation("该派单已结束，不能再添加办理进展")


def _can_stop(ctx: Ctx, s: Session, a: Assignment, t: Ticket) -> None:
    p = ctx.policy
    if not p.stop_enabled:
        raise RuleViolation(f"本地规定未设终止办理（{p.stop_cite}）")
    if a.status != "handling":
        raise RuleViolation("只有已接单、办理中的派单可以申请终止办理")
    if open_request(s, a, "stop") is not None:
        raise RuleViolation("已有终止办理申请正在审核")
    if open_request(s, a, "return") is not None:
        raise RuleViolation("退单申请审核中，暂不能申请终止办理")


def _can_reply(ctx: Ctx, s: Session, a: Assignment, t: Ticket) -> None:
    p = ctx.policy
    if a.status != "handling":
        raise RuleViolation("只有已接单、办理中的派单可以答复（待接单的请先接单）")
    if open_request(s, a, "return") is not None:
        raise RuleViolation("退单申请审核中，暂不能答复")
    if a.role == "lead" and p.lead_waits_for_co:
        waiting = [
            x for x in ticket_assignments(s, t) if x.role == "co" and x.status in ("pending", "handling")
        ]
        if waiting:
            names = "、".join(_unit_name(s, x.unit_id) for x in waiting)
            raise RuleViolation(
                f"协办单位{names}尚未反馈，牵头单位应综合各方意见后统一答复（{p.co_reply_cite}）"
            )


def _unit_name(s: Session, unit_id: int) -> str:
    unit = s.get(Unit, unit_id)
    return unit.name if unit else str(unit_id)


CHECKS: dict[str, Callable[[Ctx, Session, Assignment, Ticket], None]] = {
    "accept": _can_accept,
    "return": _can_return,
    "extend": _can_extend,
    "note": _can_note,
    "stop": _can_stop,
    "reply": _can_reply,
}
ACTION_LABELS = {
    "accept": "接单",
    "return": "申请退单",
    "extend": "申请延期",
    "note": "办理进展",
    "stop": "申请终止办理",
    "reply": "答复",
}


def allowed_actions(ctx: Ctx, assignment_id: int) -> dict[str, str | None]:
    """For each unit action: None when allowed now, else the Chinese reason it is refused."""
    out: dict[str, str | None] = {}
    with ctx.read() as s:
        a = get_assignment(s, assignment_id)
        ticket = s.get(Ticket, a.ticket_id)
        assert ticket is not None
        for action, check in CHECKS.items():
            try:
                require_unit_scope(ctx, a, ACTION_LABELS[action])
                check(ctx, s, a, ticket)
            except HotlineError as exc:
                out[action] = exc.message
            else:
                out[action] = None
    return out


# ---------------------------------------------------------------- actions


def accept(ctx: Ctx, assignment_id: int, *, expected_version: int | None = None) -> Assignment:
    """Accept the order (TTR 8(1): within the accept limit; a late accept is recorded for supervision)."""
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "接单", expected_version)
        _can_accept(ctx, s, a, t)
        now = ctx.now()
        a.status = "handling"
        a.accepted_at = now
        a.accepted_late = a.accept_due_at is not None and now > local(a.accept_due_at)
        s.add(a)
        payload: dict[str, Any] = {"late": a.accepted_late}
        if a.accepted_late:
            payload["rule"] = ctx.policy.accept_cite
        record_event(ctx, s, "accepted", assignment=a, payload=payload)
    return a


def request_return(
    ctx: Ctx,
    assignment_id: int,
    reason_code: str,
    fields: dict[str, Any],
    *,
    complex_case: bool = False,
    expected_version: int | None = None,
) -> UnitRequest:
    """Ask the centre to take the order back (T24 17; TTR 8(3)(4), 13; GZ 14)."""
    p = ctx.policy
    reason = p.return_reason(reason_code) or next(
        (r for r in p.return_reasons if r.label == reason_code.strip()), None
    )
    if reason is None:
        options = "、".join(f"{r.code}({r.label})" for r in p.return_reasons)
        raise InvalidInput(f"退单理由不在允许范围内：{reason_code}（可选：{options}）")
    clean: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "items" and isinstance(value, list):
            items = (clean_text(str(v), field="核实事项", max_len=200) for v in value)
            clean[key] = [item for item in items if item]
        else:
            clean[key] = clean_text(str(value), field=RETURN_FIELDS.get(key, key), max_len=2000)
    missing = [RETURN_FIELDS[f] for f in reason.required if not clean.get(f)]
    if missing:
        raise InvalidInput(f"以“{reason.label}”退单须写明：{'、'.join(missing)}（{reason.cite}）")
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "申请退单", expected_version)
        _can_return(ctx, s, a, t, complex_case)
        if complex_case and a.return_due_complex_at is None:
            raise RuleViolation(f"本单位的退单时限不区分疑难复杂事项（{p.return_cite}）")
        for label in t.labels:
            rule = p.label_rule(label)
            if rule is None:
                continue
            if rule.returns == "consent" and not clean.get("inspection_consent"):
                raise RuleViolation(
                    f"带有【{rule.name}】标签的工单退回须征得市政府督查部门同意，并写明同意情况（{rule.cite}）"
                )
            if rule.returns == "discouraged" and not clean.get("caller_informed"):
                raise RuleViolation(
                    f"带有【{rule.name}】标签的工单不得轻易退单；确需退单的，应先与反映人联系说明情况并写明（{rule.cite}）"
                )
        if reason.no_repeat:
            earlier = s.exec(
                select(UnitRequest).where(
                    UnitRequest.ticket_id == t.id,
                    UnitRequest.kind == "return",
                    UnitRequest.reason_code == reason.code,
                    UnitRequest.status != "rejected",
                )
            ).first()
            if earlier is not None:
                raise RuleViolation(
                    f"需核实的信息应在退单时一次性列明，不得以同一理由反复退单（{reason.cite}）"
                )
        if "kb_entry" in reason.required:
            entry = s.get(KBEntry, clean["kb_entry"])
            if entry is None:
                raise InvalidInput(f"引用的知识库条目不存在：{clean['kb_entry']}（{reason.cite}）")
        req = UnitRequest(
            assignment_id=a.id or 0,
            ticket_id=t.id or 0,
            kind="return",
            reason_code=reason.code,
            payload={**clean, "complex": complex_case, "label": reason.label},
            created_at=ctx.now(),
            created_by=ctx.actor.id,
        )
        s.add(req)
        s.flush()
        record_event(
            ctx,
            s,
            "return_requested",
            assignment=a,
            payload={"request": req.id, "reason": reason.code, "complex": complex_case},
        )
    return req


def request_extension(
    ctx: Ctx,
    assignment_id: int,
    *,
    reason: str,
    contacted_at: str = "",
    caller_consent: bool = False,
    caller_opinion: str = "",
    expected_version: int | None = None,
) -> UnitRequest:
    """Ask for more time (GZ 18; TTR 14): before the deadline, with the caller's consent, within the limits."""
    ext = ctx.policy.extension
    values = {
        "reason": clean_text(reason, field="延期原因", max_len=2000),
        "contacted_at": clean_text(contacted_at, field="联系诉求人时间", max_len=64),
        "caller_consent": "是" if caller_consent else "",
        "caller_opinion": clean_text(caller_opinion, field="诉求人意见", max_len=1000),
    }
    missing = [EXTENSION_FIELDS[f] for f in ext.required if not values.get(f)]
    if ext.consent_required and not caller_consent:
        raise RuleViolation(f"延期办理应先征得反映人同意（{ext.cite}）")
    if missing:
        raise InvalidInput(f"申请延期须写明：{'、'.join(missing)}（{ext.cite}）")
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "申请延期", expected_version)
        _can_extend(ctx, s, a, t)
        req = UnitRequest(
            assignment_id=a.id or 0,
            ticket_id=t.id or 0,
            kind="extension",
            payload=values,
            created_at=ctx.now(),
            created_by=ctx.actor.id,
        )
        s.add(req)
        s.flush()
        record_event(
            ctx, s, "extension_requested", assignment=a, payload={"request": req.id, "count": a.extensions}
        )
    return req


def add_note(ctx: Ctx, assignment_id: int, text: str, *, expected_version: int | None = None) -> None:
    """A progress note (GZ 21: stage reports on long-running matters)."""
    body = clean_text(text, field="办理进展", max_len=2000, required=True)
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "添加办理进展", expected_version)
        _can_note(ctx, s, a, t)
        record_event(ctx, s, "note", assignment=a, payload={"text": body})


def request_stop(
    ctx: Ctx, assignment_id: int, reason_code: str, materials: str, *, expected_version: int | None = None
) -> UnitRequest:
    """Ask to stop handling: the caller refuses to cooperate or insists on an unreasonable demand (TA 15(5)(6))."""
    p = ctx.policy
    if not p.stop_enabled:
        raise RuleViolation(f"本地规定未设终止办理（{p.stop_cite}）")
    reason_code = next((k for k, v in p.stop_reasons.items() if v == reason_code.strip()), reason_code)
    if reason_code not in p.stop_reasons:
        options = "、".join(f"{k}({v})" for k, v in p.stop_reasons.items())
        raise InvalidInput(f"终止办理的理由不在允许范围内：{reason_code}（可选：{options}）")
    body = clean_text(materials, field="相关材料", max_len=4000)
    if not body:
        raise InvalidInput(f"申请终止办理须提供相关材料说明（{p.stop_cite}）")
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "申请终止办理", expected_version)
        _can_stop(ctx, s, a, t)
        req = UnitRequest(
            assignment_id=a.id or 0,
            ticket_id=t.id or 0,
            kind="stop",
            reason_code=reason_code,
            payload={"materials": body, "label": p.stop_reasons[reason_code]},
            created_at=ctx.now(),
            created_by=ctx.actor.id,
        )
        s.add(req)
        s.flush()
        record_event(
            ctx, s, "stop_requested", assignment=a, payload={"request": req.id, "reason": reason_code}
        )
    return req


def reply(ctx: Ctx, assignment_id: int, text: str, *, expected_version: int | None = None) -> Assignment:
    """Submit the handling result; the reply checker must find nothing wrong (TTR 16; GZ 19)."""
    body = clean_text(text, field="答复内容", max_len=5000, required=True)
    with ctx.write() as s:
        a, t = _load(ctx, s, assignment_id, "答复", expected_version)
        _can_reply(ctx, s, a, t)
        reasons = [
            str(r.payload.get("reason", ""))
            for r in s.exec(
                select(UnitRequest).where(UnitRequest.ticket_id == t.id, UnitRequest.kind == "return")
            )
        ]
        result = check_reply(
            body,
            ctx.policy,
            return_reason_texts=[x for x in reasons if x],
            known=(t.caller_phone, t.caller_id_number, t.caller_address, t.text),
        )
        if not result.ok:
            lines = "；".join(f.message for f in result.findings)
            raise RuleViolation(f"答复不符合要求，未提交：{lines}", rule=ctx.policy.reply.cite)
        now = ctx.now()
        withdrawn = []
        for kind in ("extension", "stop"):  # the reply makes the unit's open requests moot
            req = open_request(s, a, kind)
            if req is not None:
                req.status = "withdrawn"
                req.decided_at = now
                req.decision_note = "承办单位已答复，申请自动撤回"
                s.add(req)
                withdrawn.append(req.id)
        a.reply_text = body
        a.replied_at = now
        a.status = "replied"
        a.overdue_at_close = now > local(a.due_at)
        s.add(a)
        refresh_ticket_status(s, t, now)
        record_event(
            ctx,
            s,
            "replied",
            assignment=a,
            payload={
                "overdue": a.overdue_at_close,
                "role": a.role,
                "due_at": describe_time(a.due_at),
                **({"withdrawn_requests": withdrawn} if withdrawn else {}),
            },
        )
    return a
