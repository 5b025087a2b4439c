"""Intake (受理): record the call, triage it, answer it on the spot or refer it (T24 12-15)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from hotline_tui.clock import local
from hotline_tui.errors import InvalidInput, RuleViolation
from hotline_tui.models import KBEntry, Ticket, TicketCounter
from hotline_tui.privacy import id_number_problem, normalize_id_number, normalize_phone, valid_phone
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_ticket,
    labels_of,
    record_event,
    require_role,
    storable,
)
from hotline_tui.services.triage import triage

INTAKE_ROLES = ("agent", "dispatcher", "supervisor", "trainee", "trainer")
ALIASES = {
    "意见建议": "suggestion",
    "意见": "suggestion",
    "12345": "phone",
    "电话": "phone",
    "热线电话": "phone",
    "微信公众号": "wechat",
    "《政民零距离》": "zmlj",
    "一般": "normal",
}


def resolve_code(value: str, known: dict[str, str], what: str) -> str:
    """Accept an English code or its Chinese label (DESIGN: values in Chinese and in codes)."""
    raw = (value or "").strip()
    if raw in known:
        return raw
    for code, label in known.items():
        if raw == label:
            return code
    alias = ALIASES.get(raw)
    if alias in known:
        return alias
    options = "、".join(f"{code}({label})" for code, label in known.items())
    raise InvalidInput(f"未知的{what}：{value!r}（可选：{options}）")


@dataclass
class IntakeForm:
    type: str
    channel: str
    text: str
    urgency: str = "normal"
    caller_name: str = ""
    caller_phone: str = ""
    caller_address: str = ""
    caller_id_number: str = ""
    district: str = ""
    anonymous: bool = False
    confidential: bool = False
    no_reply: bool = False
    labels: tuple[str, ...] = ()
    received_at: datetime | None = None
    attachments: tuple[str, ...] = ()  # references to what the caller sent (photos, files), not the files


def next_ticket_no(session: Session, prefix: str, at: datetime) -> str:
    """``TJ20250124-000123``: a per-day counter, incremented atomically by an upsert."""
    day = local(at).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(TicketCounter)
        .values(prefix=prefix, day=day, last=1)
        .on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": col(TicketCounter.last) + 1})
        .returning(col(TicketCounter.last))
    )
    n = session.execute(stmt).scalar_one()
    return f"{prefix}{day}-{n:06d}"


def ascii_digits(text: str) -> str:
    """Numbers as typed with a Chinese input method, in ASCII: NFKC (full-width ``１３８``, ``Ｘ``, ``－``),
    then any other script's decimal digit as its ASCII digit. Phone and ID numbers are compared and
    checked as ASCII; before, ``１３８…`` was stored as typed and a full-width ID got a wrong-check-digit
    refusal."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def validate_form(ctx: Ctx, form: IntakeForm, *, min_text: int = 4) -> IntakeForm:
    """The form checked and cleaned. ``min_text``: a referral (an emergency transfer: "着火了") may be
    recorded with fewer words than a demand that a unit will have to handle."""
    p = ctx.policy
    out = IntakeForm(
        type=resolve_code(form.type, p.types, "诉求类型"),
        channel=resolve_code(form.channel, p.channels, "渠道"),
        urgency=resolve_code(form.urgency or "normal", p.urgencies, "紧急程度"),
        text=clean_text(form.text, field="诉求内容", max_len=5000, required=True),
        caller_name=clean_text(form.caller_name, field="诉求人姓名", max_len=32),
        caller_phone=normalize_phone(
            ascii_digits(clean_text(form.caller_phone, field="联系电话", max_len=24))
        ),
        caller_address=clean_text(form.caller_address, field="地址", max_len=200),
        caller_id_number=normalize_id_number(
            ascii_digits(clean_text(form.caller_id_number, field="身份证号", max_len=40))
        ),
        district=clean_text(form.district, field="所属区", max_len=40),
        anonymous=form.anonymous,
        confidential=form.confidential,
        no_reply=form.no_reply,
        labels=tuple(labels_of(clean_text(x, field="标签", max_len=40) for x in form.labels)),
        received_at=form.received_at,
        attachments=tuple(
            a for a in (clean_text(x, field="附件", max_len=200) for x in form.attachments[:20]) if a
        ),
    )
    if out.caller_phone and not valid_phone(out.caller_phone):
        raise InvalidInput(
            f"联系电话格式不正确：{form.caller_phone}（应为11位手机号如13812345678，或带区号的固话如022-23456789）"
        )
    if out.caller_id_number and (problem := id_number_problem(out.caller_id_number)):
        raise InvalidInput(problem)
    if out.anonymous:
        out.caller_name = ""
        out.caller_id_number = ""
    if len(out.text) < min_text:
        raise InvalidInput("诉求内容过短，请记录诉求的具体事项（时间、地点、问题）")
    return out


def create_ticket(ctx: Ctx, form: IntakeForm) -> Ticket:
    """Record a demand as a work order (T24 14). Triage is run and stored, never silently acted on."""
    require_role(ctx, *INTAKE_ROLES, what="受理诉求")
    f = validate_form(ctx, form)
    with ctx.write() as s:
        return insert_ticket(ctx, s, f)


def insert_ticket(ctx: Ctx, s: Session, f: IntakeForm) -> Ticket:
    """The ticket row and its ``created`` event for an already validated form, in the caller's
    transaction (so the call screen can record and dispatch, answer or refer in one commit)."""
    now = ctx.now()
    received = local(f.received_at) if f.received_at else now
    if received > now:
        raise InvalidInput("诉求时间不能晚于当前时间")
    finding = triage(f.text, ctx.policy)
    ticket = Ticket(
        no=next_ticket_no(s, ctx.policy.ticket_prefix, received),
        type=f.type,
        channel=f.channel,
        urgency=f.urgency,
        status="new",
        text=f.text,
        caller_name=f.caller_name,
        caller_phone=f.caller_phone,
        caller_address=f.caller_address,
        caller_id_number=f.caller_id_number,
        district=f.district,
        anonymous=f.anonymous,
        confidential=f.confidential,
        no_reply=f.no_reply,
        labels=list(f.labels),
        triage_class=finding.cls,
        created_by=ctx.actor.id,
        created_at=received,
        policy=ctx.policy.name,
    )
    s.add(ticket)
    s.flush()
    payload: dict[str, object] = {
        "type": f.type,
        "channel": f.channel,
        "urgency": f.urgency,
        "labels": list(f.labels),
        "triage": finding.cls,
        "triage_rule": finding.rule,
    }
    if f.attachments:
        payload["attachments"] = list(f.attachments)
    record_event(ctx, s, "created", ticket=ticket, payload=payload)
    return ticket


def kb_entry_current(session: Session, entry_id: str, today: datetime) -> KBEntry:
    entry = session.get(KBEntry, entry_id.strip())
    if entry is None:
        raise InvalidInput(f"知识库条目不存在：{entry_id}")
    day = local(today).date()
    if entry.status != "published":
        raise RuleViolation(f"知识库条目 {entry.id} 尚未审核发布，不能用于答复（泰安办法第七条第（三）项）")
    if entry.valid_from is not None and entry.valid_from > day:
        raise RuleViolation(
            f"知识库条目 {entry.id}「{entry.title}」{entry.valid_from} 才生效，即将生效的政策不能作为现行答复"
        )
    if entry.valid_to is not None and entry.valid_to < day:
        raise RuleViolation(
            f"知识库条目 {entry.id}「{entry.title}」已于 {entry.valid_to} 失效，不能作为答复依据"
        )
    return entry


def answer_on_spot(
    ctx: Ctx, no: str, kb_entry_id: str, note: str = "", *, expected_version: int | None = None
) -> Ticket:
    """A consult the knowledge base answers is answered directly, citing the entry (T24 15; GZ 13(1))."""
    require_role(ctx, *INTAKE_ROLES, what="直接答复")
    note = clean_text(note, field="答复说明", max_len=2000)
    with ctx.write() as s:
        ticket = get_ticket(s, no, lock=True)
        check_version(ticket, expected_version, f"工单 {ticket.no}")
        answer_locked(ctx, s, ticket, kb_entry_id, note)
    return ticket


def answer_locked(ctx: Ctx, s: Session, ticket: Ticket, kb_entry_id: str, note: str) -> KBEntry:
    """Close a new consult as answered from a current KB entry, in the caller's transaction."""
    if ticket.status != "new":
        raise RuleViolation(f"工单 {ticket.no} 当前状态不能直接答复（只有待派单的工单可以当场答复）")
    if ticket.type != "consult":
        raise RuleViolation(
            f"只有咨询类诉求可以当场答复，{ctx.policy.type_label(ticket.type)}类诉求应派单办理（天津办法第十五条）"
        )
    entry = kb_entry_current(s, kb_entry_id, ctx.now())
    ticket.status = "answered"
    ticket.kb_entry_id = entry.id
    ticket.closed_at = ctx.now()
    s.add(ticket)
    record_event(
        ctx,
        s,
        "answered",
        ticket=ticket,
        payload={"kb_entry": entry.id, "title": entry.title, "note": note},
    )
    return entry


def refer(
    ctx: Ctx, no: str, cls: str, route: str = "", note: str = "", *, expected_version: int | None = None
) -> Ticket:
    """Close an intake by triage: emergency transfer, legal channel, other body, out of city (T24 13)."""
    require_role(ctx, *INTAKE_ROLES, what="分类转接")
    note = clean_text(note, field="说明", max_len=2000)
    route = referral_route(ctx, cls, route)
    with ctx.write() as s:
        ticket = get_ticket(s, no, lock=True)
        check_version(ticket, expected_version, f"工单 {ticket.no}")
        refer_locked(ctx, s, ticket, cls, route, note)
    return ticket


def referral_route(ctx: Ctx, cls: str, route: str) -> str:
    """The checked route of a referral: one of the class's numbers for an emergency, else the channel
    told to the caller (the profile's when none is typed)."""
    classes = [c for c in ctx.policy.triage if c.code == cls]
    if not classes:
        known = "、".join(sorted({c.code for c in ctx.policy.triage}))
        raise InvalidInput(f"未知的分类：{cls}（可选：{known}）")
    if cls == "emergency":
        numbers = {c.number for c in classes}
        if route not in numbers:
            raise InvalidInput(f"紧急事项须转接 {'/'.join(sorted(numbers))} 之一，实际为 {route or '空'}")
        return route
    return clean_text(route, field="告知途径", max_len=200) or classes[0].route


def refer_locked(ctx: Ctx, s: Session, ticket: Ticket, cls: str, route: str, note: str) -> None:
    """Close a new ticket as referred (route already checked by ``referral_route``)."""
    classes = [c for c in ctx.policy.triage if c.code == cls]
    chosen = next((c for c in classes if c.number == route), classes[0])
    if ticket.status != "new":
        raise RuleViolation(f"工单 {ticket.no} 已派单或已办结，不能再分类转接")
    ticket.status = "referred"
    ticket.triage_class = cls
    ticket.route = route
    ticket.closed_at = ctx.now()
    s.add(ticket)
    record_event(
        ctx,
        s,
        "referred",
        ticket=ticket,
        payload={"class": cls, "route": route, "rule": chosen.cite, "note": note},
    )


def find_by_phone(session: Session, phone: str, limit: int = 20) -> list[Ticket]:
    if not storable(phone):
        return []
    stmt = (
        select(Ticket)
        .where(Ticket.caller_phone == normalize_phone(ascii_digits(phone)))
        .order_by(col(Ticket.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))
