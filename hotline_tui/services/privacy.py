"""Who sees a caller's personal data, revealing it with a reason, and masked exports (T24 19, 27).

Every full view is an event: ``pii_viewed`` when the work shows it by itself (a callback officer on an
order waiting for callback), ``pii_revealed`` when someone asked to see it with a reason, and
``pii_exported`` when full values leave the system in a file. Payloads name the fields and the reason,
never the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from hotline_tui.clock import iso
from hotline_tui.errors import InvalidInput, PermissionDenied
from hotline_tui.models import ACTIVE_ASSIGNMENT, SATISFACTION, TICKET_STATUSES, Assignment, Ticket, Unit
from hotline_tui.privacy import (
    FIELD_LABELS,
    PII_FIELDS,
    Access,
    caller_access,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    reveal_refusal,
)
from hotline_tui.services.core import (
    Ctx,
    can_see_ticket,
    clean_text,
    get_ticket,
    record_event,
    require_role,
)

REASON_MIN = 4  # characters: 「回访核实」, 「联系诉求人」 — a reason, not a keystroke
HIDDEN = "（保密）"


@dataclass(frozen=True)
class Standing:
    """The actor's relation to one ticket's caller data."""

    access: Access
    refusal: str | None  # why a reveal would be refused; None = may reveal

    @property
    def can_reveal(self) -> bool:
        return self.refusal is None


def standing(ctx: Ctx, session: Session, t: Ticket) -> Standing:
    role = ctx.actor.role
    assigned = live = False
    if role == "liaison":
        rows = session.exec(
            select(Assignment.status).where(
                Assignment.ticket_id == t.id, col(Assignment.unit_id).in_(ctx.actor.unit_ids)
            )
        ).all()
        assigned = bool(rows)
        live = any(st in ACTIVE_ASSIGNMENT for st in rows)
    access = caller_access(
        role, ticket_status=t.status, confidential=t.confidential, unit_is_assigned=assigned
    )
    refusal = (
        None if access == "full" else reveal_refusal(role, confidential=t.confidential, unit_is_live=live)
    )
    return Standing(access, refusal)


def has_pii(t: Ticket) -> bool:
    return bool(t.caller_name or t.caller_phone or t.caller_address or t.caller_id_number)


def caller_fields(t: Ticket, access: Access) -> dict[str, str]:
    if access == "full":
        return {
            "name": t.caller_name,
            "phone": t.caller_phone,
            "address": t.caller_address,
            "id_number": t.caller_id_number,
        }
    if access == "hidden":
        return {f: HIDDEN for f in PII_FIELDS}
    return {
        "name": mask_name(t.caller_name),
        "phone": mask_phone(t.caller_phone),
        "address": mask_address(t.caller_address),
        "id_number": mask_id_number(t.caller_id_number),
    }


def visible_text(text: str, access: Access) -> str:
    """Free text (the demand, replies, notes) with phone and ID numbers masked unless the view is full."""
    return text if access == "full" else mask_text(text)


def reveal_caller(ctx: Ctx, no: str, reason: str, fields: tuple[str, ...] = PII_FIELDS) -> dict[str, Any]:
    """The caller's data in full, for an actor who may see it and says why; one ``pii_revealed`` event."""
    reason = clean_text(reason, field="查看理由", max_len=200, required=True)
    if len(reason) < REASON_MIN:
        raise InvalidInput(f"请写明查看理由（至少{REASON_MIN}个字），例如「联系诉求人核实地址」")
    unknown = [f for f in fields if f not in PII_FIELDS]
    if unknown or not fields:
        options = "、".join(f"{f}({FIELD_LABELS[f]})" for f in PII_FIELDS)
        raise InvalidInput(f"未知的信息项：{'、'.join(unknown) or '空'}（可选：{options}）")
    with ctx.write() as s:
        t = get_ticket(s, no)
        if not can_see_ticket(ctx, s, t):
            raise PermissionDenied(f"{ctx.actor.role_label}无权查看工单 {t.no}")
        st = standing(ctx, s, t)
        if st.refusal is not None:
            raise PermissionDenied(st.refusal)
        full = caller_fields(t, "full")
        shown = {f: full[f] for f in fields}
        record_event(
            ctx,
            s,
            "pii_revealed",
            ticket=t,
            payload={"fields": list(fields), "reason": reason},
        )
        return {"no": t.no, "fields": shown, "text": t.text, "reason": reason}


def record_view(ctx: Ctx, no: str, fields: list[str], why: str) -> None:
    """A full view the work itself shows (no reveal asked): still an event (T24 27)."""
    with ctx.write() as s:
        record_event(ctx, s, "pii_viewed", ticket=get_ticket(s, no), payload={"fields": fields, "why": why})


# ---------------------------------------------------------------- exports

EXPORT_ROLES = ("dispatcher", "supervisor", "liaison")
FULL_EXPORT_ROLES = ("supervisor",)
EXPORT_MAX_ROWS = 100_000
EXPORT_COLUMNS = {
    "no": "工单编号",
    "created_at": "受理时间",
    "type": "诉求类型",
    "channel": "渠道",
    "urgency": "紧急程度",
    "status": "状态",
    "district": "所属区",
    "labels": "标签",
    "text": "诉求内容",
    "caller_name": "诉求人",
    "caller_phone": "联系电话",
    "caller_address": "地址",
    "caller_id_number": "身份证号",
    "units": "承办单位",
    "due_at": "办理时限",
    "closed_at": "办结时间",
    "satisfaction": "满意度",
}


def export_tickets(
    ctx: Ctx,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    full: bool = False,
    reason: str = "",
) -> list[dict[str, str]]:
    """Tickets as rows for a file, caller data masked (units: their own orders; confidential: hidden).

    ``full=True`` is for supervisors only, needs a reason, and leaves a ``pii_exported`` event naming the
    count, the filter and the reason; a masked export leaves ``tickets_exported``.
    """
    require_role(ctx, *EXPORT_ROLES, what="导出工单")
    if full:
        require_role(ctx, *FULL_EXPORT_ROLES, what="导出未脱敏的个人信息")
        reason = clean_text(reason, field="导出理由", max_len=200, required=True)
        if len(reason) < REASON_MIN:
            raise InvalidInput(f"请写明导出理由（至少{REASON_MIN}个字）")
    if since is not None and until is not None and until < since:
        raise InvalidInput("结束时间早于开始时间")
    p = ctx.policy
    with ctx.write() as s:
        stmt = select(Ticket).order_by(col(Ticket.created_at))
        if ctx.actor.role == "liaison":
            mine = select(Assignment.ticket_id).where(col(Assignment.unit_id).in_(ctx.actor.unit_ids))
            stmt = stmt.where(col(Ticket.id).in_(mine))
        if status:
            if status not in TICKET_STATUSES:
                known = "、".join(f"{k}({v})" for k, v in TICKET_STATUSES.items())
                raise InvalidInput(f"未知的工单状态：{status}（可选：{known}）")
            stmt = stmt.where(Ticket.status == status)
        if since is not None:
            stmt = stmt.where(col(Ticket.created_at) >= since)
        if until is not None:
            stmt = stmt.where(col(Ticket.created_at) <= until)
        tickets = list(s.exec(stmt.limit(EXPORT_MAX_ROWS + 1)))
        if len(tickets) > EXPORT_MAX_ROWS:
            raise InvalidInput(f"一次最多导出 {EXPORT_MAX_ROWS} 张工单，请缩小时间范围")
        units = {u.id: u.name for u in s.exec(select(Unit))}
        by_ticket: dict[int, list[Assignment]] = {}
        ids = [t.id for t in tickets]
        for chunk in range(0, len(ids), 900):
            part = ids[chunk : chunk + 900]
            for a in s.exec(select(Assignment).where(col(Assignment.ticket_id).in_(part))):
                by_ticket.setdefault(a.ticket_id, []).append(a)
        rows = []
        for t in tickets:
            mine_only = ctx.actor.role == "liaison"
            assignments = by_ticket.get(t.id or 0, [])
            if full:
                access: Access = "full"
            elif mine_only:
                access = "hidden" if t.confidential else "masked"
            else:
                access = "masked"
            caller = caller_fields(t, access)
            live = [a for a in assignments if a.status in ACTIVE_ASSIGNMENT]
            due = min((a.due_at for a in live), default=None)
            rows.append(
                {
                    "no": t.no,
                    "created_at": iso(t.created_at) or "",
                    "type": p.type_label(t.type),
                    "channel": p.channel_label(t.channel),
                    "urgency": p.urgency_label(t.urgency),
                    "status": TICKET_STATUSES.get(t.status, t.status),
                    "district": t.district,
                    "labels": "、".join(t.labels),
                    "text": visible_text(t.text, access),
                    "caller_name": caller["name"],
                    "caller_phone": caller["phone"],
                    "caller_address": caller["address"],
                    "caller_id_number": caller["id_number"],
                    "units": "、".join(units.get(a.unit_id, "") for a in assignments),
                    "due_at": iso(due) or "",
                    "closed_at": iso(t.closed_at) or "",
                    "satisfaction": SATISFACTION.get(t.satisfaction or "", t.satisfaction or ""),
                }
            )
        payload: dict[str, Any] = {
            "count": len(rows),
            "status": status,
            "since": iso(since),
            "until": iso(until),
        }
        if full:
            record_event(
                ctx, s, "pii_exported", payload={**payload, "fields": list(PII_FIELDS), "reason": reason}
            )
        else:
            record_event(ctx, s, "tickets_exported", payload={**payload, "masked": True})
    return rows


def write_export(rows: list[dict[str, str]], path: Path, fmt: str) -> None:
    """CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese) or JSON Lines; file mode 0600."""
    import csv
    import json
    import os

    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"未知的导出格式：{fmt}（可选：csv、jsonl）")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InvalidInput(f"无法写入文件 {path}：{exc.strerror}") from None
    with open(fd, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as f:
        if fmt == "csv":
            w = csv.writer(f)
            w.writerow(EXPORT_COLUMNS.values())
            for r in rows:
                w.writerow(r[k] for k in EXPORT_COLUMNS)
        else:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
