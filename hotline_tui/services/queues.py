"""The centre's queues: what waits for a dispatcher's (or supervisor's) decision, most urgent first.

Seven queues, each a plain list of ``QueueRow``: orders waiting for dispatch (with the unit suggestion
of the call screen), return requests, extension requests, stop-handling requests, replies waiting for
review (with the reply checker's findings), orders returned the profile's number of times (designation,
GZ 16; T24 17), and appeals of dissatisfied ratings (T24 23; TTR 28). Rows are sorted by urgency, then
by age (oldest first). ``bulk`` runs one decision over several rows, each through its own service call
and transaction, so every rule still applies; it returns what was done and what was refused, and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from hotline_tui.clock import iso, local
from hotline_tui.errors import HotlineError, InvalidInput, NotFound
from hotline_tui.models import ACTIVE_ASSIGNMENT, Assignment, Ticket, Unit, UnitRequest
from hotline_tui.privacy import mask_text
from hotline_tui.services.core import Ctx, require_role

QUEUE_ROLES = ("dispatcher", "supervisor")
QUEUES = ("dispatch", "returns", "extensions", "stops", "replies", "designation", "appeals")
QUEUE_LABELS = {
    "dispatch": "待派单",
    "returns": "退单申请",
    "extensions": "延期申请",
    "stops": "终止申请",
    "replies": "答复审核",
    "designation": "指定承办",
    "appeals": "申诉",
}
URGENCY_RANK = {"critical": 0, "very_urgent": 1, "urgent": 2, "normal": 3}
REQUEST_QUEUE = {"return": "returns", "extension": "extensions", "stop": "stops", "appeal": "appeals"}


@dataclass(frozen=True)
class QueueRow:
    queue: str
    key: str  # ticket no (dispatch, designation), request id (requests, appeals), assignment id (replies)
    no: str
    urgency: str
    urgency_label: str
    type_label: str
    labels: tuple[str, ...]
    since: str  # ISO: when it started waiting (received, asked, replied)
    summary: str  # the demand, masked, one line
    unit: str  # the unit asking / replying ("" for dispatch)
    what: str  # the request's reason, the reply's check, the returns so far …
    flag: str = ""  # "" | "warning" | "error": e.g. findings in a reply, a deadline already past
    version: int = 0


@dataclass(frozen=True)
class QueuesData:
    rows: dict[str, list[QueueRow]]
    counts: dict[str, int]
    now: datetime


def _summary(text: str, width: int = 120) -> str:
    flat = " ".join(mask_text(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _sort(rows: list[QueueRow]) -> list[QueueRow]:
    return sorted(rows, key=lambda r: (URGENCY_RANK.get(r.urgency, 9), r.since, r.no))


def _age(since: str, now: datetime) -> str:
    from hotline_tui.services.inbox import span

    return span(now - datetime.fromisoformat(since))


def load_queues(ctx: Ctx, *, limit: int = 500) -> QueuesData:
    """Every queue of the centre, most urgent first, then oldest first."""
    from hotline_tui.services.reply_check import check_reply

    require_role(ctx, *QUEUE_ROLES, what="查看中心审核队列")
    p = ctx.policy
    now = ctx.now()
    rows: dict[str, list[QueueRow]] = {q: [] for q in QUEUES}
    with ctx.read() as s:
        units = {u.id: u.name for u in s.exec(select(Unit))}
        new = list(
            s.exec(select(Ticket).where(Ticket.status == "new").order_by(col(Ticket.created_at)).limit(limit))
        )
        for t in new:
            queue = "designation" if t.returns >= p.designation_after else "dispatch"
            what = f"已退回{t.returns}次" if t.returns else (t.district or "")
            if queue == "designation":
                what = f"已退回{t.returns}次，须指定承办单位（{p.designation_cite}）"
            rows[queue].append(
                QueueRow(
                    queue, t.no, t.no, t.urgency, p.urgency_label(t.urgency), p.type_label(t.type),
                    tuple(t.labels), iso(t.created_at) or "", _summary(t.text), "", what,
                    "warning" if t.returns else "", t.version,
                )
            )  # fmt: skip
        pairs = list(
            s.exec(
                select(UnitRequest, Assignment, Ticket)
                .join(Assignment, col(Assignment.id) == col(UnitRequest.assignment_id))
                .join(Ticket, col(Ticket.id) == col(UnitRequest.ticket_id))
                .where(UnitRequest.status == "pending")
                .order_by(col(UnitRequest.created_at))
                .limit(limit * 4)
            )
        )
        for req, a, t in pairs:
            rq = REQUEST_QUEUE.get(req.kind)
            if rq is None:
                continue
            flag = ""
            if req.kind == "return":
                what = str(req.payload.get("label") or req.reason_code)
                if req.payload.get("complex"):
                    what += "（疑难复杂）"
            elif req.kind == "extension":
                what = f"已延期{a.extensions}次；{' '.join(str(req.payload.get('reason', '')).split())}"
                flag = "error" if now > local(a.due_at) else ""
            elif req.kind == "stop":
                what = str(req.payload.get("label") or req.reason_code)
            else:
                what = " ".join(str(req.payload.get("explanation", "")).split())
            rows[rq].append(
                QueueRow(
                    rq, str(req.id), t.no, t.urgency, p.urgency_label(t.urgency), p.type_label(t.type),
                    tuple(t.labels), iso(req.created_at) or "", _summary(t.text), units.get(a.unit_id, ""),
                    _summary(what, 60), flag, a.version,
                )
            )  # fmt: skip
        replied = list(
            s.exec(
                select(Assignment, Ticket)
                .join(Ticket, col(Ticket.id) == col(Assignment.ticket_id))
                .where(Assignment.status == "replied")
                .order_by(col(Assignment.replied_at))
                .limit(limit)
            )
        )
        leads_live = {
            tid
            for tid, role, status in s.exec(
                select(Assignment.ticket_id, Assignment.role, Assignment.status).where(
                    col(Assignment.ticket_id).in_([t.id for _, t in replied]), Assignment.role == "lead"
                )
            )
            if status in ACTIVE_ASSIGNMENT
        }
        for a, t in replied:
            if a.role == "co" and t.id in leads_live:
                continue  # the lead gathers the co-units' answers: review the lead's reply (TTR 9)
            result = check_reply(
                a.reply_text or "", p, known=(t.caller_phone, t.caller_id_number, t.caller_address, t.text)
            )
            what = (
                "答复要素齐全" if result.ok else f"{len(result.findings)}项问题：{result.findings[0].message}"
            )
            if a.overdue_at_close:
                what = "超期答复；" + what
            assert a.id is not None
            rows["replies"].append(
                QueueRow(
                    "replies", str(a.id), t.no, t.urgency, p.urgency_label(t.urgency), p.type_label(t.type),
                    tuple(t.labels), iso(a.replied_at) or "", _summary(t.text), units.get(a.unit_id, ""),
                    _summary(what, 60), "" if result.ok else "warning", a.version,
                )
            )  # fmt: skip
    out = {q: _sort(r)[:limit] for q, r in rows.items()}
    return QueuesData(out, {q: len(r) for q, r in rows.items()}, now)


def dispatch_suggestions(ctx: Ctx, nos: list[str]) -> dict[str, str]:
    """The unit the call screen would suggest for each order waiting for dispatch (best first only)."""
    from hotline_tui.services.suggest import suggest_units

    require_role(ctx, *QUEUE_ROLES, what="查看中心审核队列")
    with ctx.read() as s:
        tickets = list(s.exec(select(Ticket).where(col(Ticket.no).in_(nos), Ticket.status == "new")))
    out: dict[str, str] = {}
    for t in tickets:
        found = suggest_units(ctx, t.text, address=t.caller_address, district=t.district, limit=1)
        if found:
            out[t.no] = f"{found[0].name}（{found[0].code}）"
    return out


# ---------------------------------------------------------------- one item, for the decision view


@dataclass(frozen=True)
class QueueItem:
    queue: str
    key: str
    detail: dict[str, Any]  # ticket_detail(), masked for the centre
    request: dict[str, Any] | None  # the unit's request (payload with field labels)
    assignment: dict[str, Any] | None  # the assignment concerned
    facts: list[tuple[str, str]]  # what the decision rests on, as label → text
    findings: list[str] = field(default_factory=list)  # reply checker findings
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)  # code, name, why
    exclusions: list[str] = field(default_factory=list)  # appeal exclusions that apply
    designation_needed: bool = False
    consult_required: bool = False


def queue_item(ctx: Ctx, queue: str, key: str) -> QueueItem:
    """Everything the decision on one row rests on."""
    from hotline_tui.policy import EXTENSION_FIELDS, RETURN_FIELDS, Period
    from hotline_tui.services.deadlines import add_period
    from hotline_tui.services.queries import ticket_detail
    from hotline_tui.services.reply_check import check_reply

    require_role(ctx, *QUEUE_ROLES, what="查看中心审核队列")
    if queue not in QUEUES:
        raise InvalidInput(f"未知的队列：{queue}")
    p = ctx.policy
    facts: list[tuple[str, str]] = []
    findings: list[str] = []
    suggestions: list[tuple[str, str, str]] = []
    exclusions: list[str] = []
    request: dict[str, Any] | None = None
    assignment: dict[str, Any] | None = None
    a: Assignment | None = None
    with ctx.read() as s:
        if queue in ("dispatch", "designation"):
            no = key
            t = s.exec(select(Ticket).where(Ticket.no == key)).first()
            if t is None:
                raise NotFound(f"工单不存在：{key}")
        elif queue == "replies":
            a = s.get(Assignment, int(key))
            if a is None:
                raise NotFound(f"派单记录不存在：{key}")
            t = s.get(Ticket, a.ticket_id)
            assert t is not None
            no = t.no
            result = check_reply(
                a.reply_text or "", p, known=(t.caller_phone, t.caller_id_number, t.caller_address, t.text)
            )
            findings = [f.message for f in result.findings]
        else:
            req = s.get(UnitRequest, int(key))
            if req is None:
                raise NotFound(f"申请不存在：{key}")
            a = s.get(Assignment, req.assignment_id)
            t = s.get(Ticket, req.ticket_id)
            assert a is not None and t is not None
            no = t.no
            labels = {**(EXTENSION_FIELDS if req.kind == "extension" else RETURN_FIELDS), "materials": "相关材料",
                      "explanation": "书面说明", "evidence": "佐证材料", "inspection_consent": "督查部门同意情况",
                      "caller_informed": "与反映人联系说明情况"}  # fmt: skip
            request = {
                "id": req.id,
                "kind": req.kind,
                "status": req.status,
                "created_at": iso(req.created_at),
            }
            if req.kind in ("return", "stop"):
                facts.append(("理由", str(req.payload.get("label") or req.reason_code)))
            for k, v in req.payload.items():
                if k in ("label", "complex", "rated_at"):
                    continue
                shown = "；".join(str(x) for x in v) if isinstance(v, list) else str(v)
                facts.append((labels.get(k, k), mask_text(shown)))
            if req.kind == "return":
                if req.payload.get("complex"):
                    facts.append(("疑难复杂", "是（适用延长的退单时限）"))
                facts.append(("已退回次数", f"{t.returns}次；批准后为{t.returns + 1}次"))
            if req.kind == "extension":
                period = Period(a.period_amount, a.period_unit)  # type: ignore[arg-type]
                new_due = add_period(ctx.calendar, p, local(a.due_at), period)
                facts.append(
                    ("办理时限", f"{iso(a.due_at)} → 批准后 {iso(new_due.due_at)}（延长{period.label()}）")
                )
                facts.append(
                    ("已延期", f"{a.extensions}次，最多{p.extension.max_count}次（{p.extension.cite_count}）")
                )
            if req.kind == "appeal":
                from hotline_tui.services.appeal import REASON_EXCLUSIONS
                from hotline_tui.services.callback import DISSATISFIED_REASONS

                reason = t.dissatisfied_reason
                facts.append(("不满意原因", DISSATISFIED_REASONS.get(reason, reason or "未记录")))
                code = REASON_EXCLUSIONS.get(reason)
                if code and code in p.appeal.exclusions:
                    exclusions.append(f"{p.appeal.exclusions[code]}（{p.appeal.cite_window}）")
                if a.role == "lead":
                    exclusions.append(
                        f"牵头单位：须核实是否履行牵头责任（{p.appeal.exclusions.get('lead_own_part_only', '')}）"
                    )
        if queue in ("dispatch", "designation") or (queue == "returns"):
            try:
                from hotline_tui.services.suggest import suggest_units

                suggestions = [
                    (u.code, u.name, "；".join(u.reasons))
                    for u in suggest_units(ctx, t.text, district=t.district, limit=5)
                ]
            except HotlineError:
                suggestions = []
        designation_needed = t.returns >= p.designation_after or (
            queue == "returns" and t.returns + 1 >= p.designation_after
        )
    detail = ticket_detail(ctx, no, audit=False)
    if queue == "replies" or (request is not None):
        aid = int(key) if queue == "replies" else (a.id if a is not None else None)
        assignment = next((x for x in detail["assignments"] if x["id"] == aid), None)
    return QueueItem(
        queue, key, detail, request, assignment, facts, findings, suggestions, exclusions,
        designation_needed, p.designation_consult_required,
    )  # fmt: skip


# ---------------------------------------------------------------- decisions, one or many


@dataclass(frozen=True)
class BulkResult:
    done: list[str]  # ticket numbers
    refused: list[tuple[str, str]]  # (ticket no, why)

    def summary(self) -> str:
        lines = [f"已办理 {len(self.done)} 件" + (f"：{'、'.join(self.done)}" if self.done else "")]
        if self.refused:
            lines.append(f"未通过 {len(self.refused)} 件：")
            lines += [f"· {no}：{why}" for no, why in self.refused]
        return "\n".join(lines)


def decide(
    ctx: Ctx,
    queue: str,
    key: str,
    *,
    approve: bool,
    note: str = "",
    units: list[str] | None = None,
    consulted: str = "",
    designate: bool = False,
    version: int | None = None,
) -> str:
    """One decision on one row; returns what was done, in Chinese. Every rule is the service's."""
    from hotline_tui.services import appeal, dispatch, review

    units = [u for u in (units or []) if u.strip()]
    if queue in ("dispatch", "designation"):
        if not units:
            raise InvalidInput("请选择承办单位（ctrl+o 查找单位）")
        designate = queue == "designation"
        rows = dispatch.dispatch(
            ctx, key, units, designate=designate, consulted=consulted, expected_version=version
        )
        verb = "已指定" if designate else "已派单"
        return f"{key} {verb}：{'、'.join(units)}" + ("" if len(rows) == 1 else f"（主办 {units[0]}）")
    if queue == "returns":
        review.review_return(
            ctx, int(key), approve=approve, note=note, redispatch_to=units if approve else None,
            designate=designate and bool(units), consulted=consulted,
        )  # fmt: skip
        if not approve:
            return "已驳回退单申请，原单位继续办理，办理时限不重新计算"
        return "已同意退单" + (f"，已重新派往 {'、'.join(units)}" if units else "，工单回到待派单")
    if queue == "extensions":
        review.review_extension(ctx, int(key), approve=approve, note=note)
        return "已同意延期" if approve else "已驳回延期申请"
    if queue == "stops":
        review.review_stop(ctx, int(key), approve=approve, note=note)
        return "已同意终止办理" if approve else "已驳回终止办理申请"
    if queue == "replies":
        review.review_reply(ctx, int(key), approve=approve, note=note, expected_version=version)
        return "答复已通过" if approve else "答复已退回承办单位补充，办理时限不重新计算"
    if queue == "appeals":
        appeal.review_appeal(ctx, int(key), accept=approve, note=note)
        return "申诉成立，不作扣分" if approve else "已驳回申诉"
    raise InvalidInput(f"未知的队列：{queue}")


def bulk(
    ctx: Ctx,
    queue: str,
    rows: list[QueueRow],
    *,
    approve: bool,
    note: str = "",
    units: list[str] | None = None,
    on_each: Callable[[int], None] | None = None,
) -> BulkResult:
    """The same decision over several rows, each checked by the rules on its own."""
    require_role(ctx, *QUEUE_ROLES, what="批量审核")
    if queue == "designation":
        raise InvalidInput("指定承办须逐件研究并记录征求意见情况，不能批量办理（广州办法第十六条）")
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    for i, row in enumerate(rows):
        try:
            decide(ctx, queue, row.key, approve=approve, note=note, units=units, version=None)
        except HotlineError as exc:
            refused.append((row.no, exc.message))
        else:
            done.append(row.no)
        if on_each is not None:
            on_each(i + 1)
    return BulkResult(done, refused)
