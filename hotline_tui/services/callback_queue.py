"""The callback officer's work: the queue of orders to call back, what to ask, the result, a new question
as a linked order, and the random quality sample of consults answered on the spot.

* The queue holds orders whose reply the centre approved (status ``callback``). Orders exempt from a
  callback never enter it: ``review.review_reply`` closes them at approval (anonymous, no reply wanted —
  TTR 19(3); T24 16). An attempt that does not reach the caller puts the order in 稍后再拨 until its
  retry time (the profile's ``retry_minutes``, 30 by default, or a time the officer picks); after
  ``max_attempts`` unreached attempts in one round ``callback.record_callback`` closes it unrated.
* A first "dissatisfied" may send the order back to the unit once, with no extension (T24 18 第二款;
  GZ 20); the reasons TTR 19 names (policy explained, unreasonable demand) are offered without it.
* A new question raised on the callback becomes a new order linked to this one (TTR 20), waiting for
  dispatch; both orders get an event naming the other.
* TTR 17 asks for random callbacks: every day's consults answered on the spot from the knowledge base
  are ranked by a keyed hash and the first ``sample_percent`` % (10 % by default, at least one) are
  called back. The same day, seed and tickets give the same sample wherever it is computed.

Rows never carry the caller's data unmasked; the callback form's view does (calling is the work), and
that view is audited (``pii_viewed`` / ``pii_revealed``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from hotline_tui.clock import TZ, iso, local, shown
from hotline_tui.errors import InvalidInput, RuleViolation
from hotline_tui.models import SATISFACTION, Assignment, Event, KBEntry, Ticket, Unit
from hotline_tui.policy import Policy
from hotline_tui.privacy import mask_name, mask_phone, mask_text
from hotline_tui.services.callback import CALLBACK_ROLES, DISSATISFIED_REASONS, record_callback
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_ticket,
    record_event,
    require_role,
)

TABS = ("due", "retry", "sample")
TAB_LABELS = {"due": "待回访", "retry": "稍后再拨", "sample": "质量抽查"}
SAMPLE_DAYS = 7  # the quality-sample tab covers today and the six days before
QUESTION_STATUSES = ("callback", "answered", "rehandling", "closed")  # where a new question may be raised
# TTR 19: dissatisfied orders that need no further callback; the profile's keys name the first two
# differently from DISSATISFIED_REASONS ("policy_explained" for "policy").
_EXEMPT_ALIASES = {"policy_explained": "policy"}


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class QueueRow:
    no: str
    tab: str  # due | retry
    type_label: str
    urgency: str
    urgency_label: str
    labels: tuple[str, ...]
    summary: str  # the demand on one line, phone and ID numbers masked
    caller: str  # masked name and number
    units: str
    approved_iso: str  # when the reply was approved (this round)
    attempts: int  # unreached attempts this round
    last_attempt_iso: str | None
    retry_iso: str | None  # not before this time (unreached only)
    rehandled: bool  # the second round, after re-handling
    version: int


@dataclass(frozen=True)
class SampleRow:
    no: str
    day: str  # the day answered, YYYY-MM-DD
    answered_iso: str
    summary: str
    caller: str
    kb_title: str
    state: str  # 待回访 / 未联系上1次 / 满意 …
    done: bool
    attempts: int
    version: int


@dataclass(frozen=True)
class QueueData:
    rows: dict[str, list[QueueRow | SampleRow]]
    counts: dict[str, int]
    now: datetime
    max_attempts: int
    sample_percent: int
    limit: int = 0


def _summary(text: str, width: int = 120) -> str:
    flat = " ".join(mask_text(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _masked_caller(t: Ticket) -> str:
    if t.anonymous:
        return "匿名"
    parts = [mask_name(t.caller_name), mask_phone(t.caller_phone)]
    return " ".join(p for p in parts if p) or "—"


def _events(s: Session, ids: list[int], kinds: tuple[str, ...]) -> dict[int, list[Event]]:
    out: dict[int, list[Event]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        stmt = (
            select(Event)
            .where(col(Event.ticket_id).in_(part), col(Event.kind).in_(kinds))
            .order_by(col(Event.id))
        )
        for e in s.exec(stmt):
            if e.ticket_id is not None:
                out.setdefault(e.ticket_id, []).append(e)
    return out


@dataclass(frozen=True)
class Round:
    """This callback round of one order, read from its events."""

    approved_at: datetime | None
    attempts: int  # unreached since the approval
    last_attempt: datetime | None
    retry_at: datetime | None


def _round(events: list[Event], retry_minutes: int) -> Round:
    approved: datetime | None = None
    tries: list[Event] = []
    for e in events:
        if e.kind == "reply_approved":
            approved = local(e.at)
            tries = []
        elif e.kind == "callback" and not e.payload.get("reached"):
            tries.append(e)
    if not tries:
        return Round(approved, 0, None, None)
    last = tries[-1]
    raw = last.payload.get("retry_at")
    retry = local(datetime.fromisoformat(raw)) if isinstance(raw, str) else None
    if retry is None:
        retry = local(last.at) + timedelta(minutes=retry_minutes)
    return Round(approved, len(tries), local(last.at), retry)


def _urgency_rank(p: Policy, code: str) -> int:
    order = list(p.urgencies)
    return order.index(code) if code in order else 0


def load_queue(ctx: Ctx, *, limit: int = 500, sample_days: int = SAMPLE_DAYS) -> QueueData:
    """待回访 (most urgent first, then the oldest approval), 稍后再拨 (nearest retry first) and the
    quality sample of the last ``sample_days`` days (not yet called first)."""
    require_role(ctx, *CALLBACK_ROLES, what="查看回访队列")
    p = ctx.policy
    cb = p.callback
    now = ctx.now()
    with ctx.read() as s:
        total = int(s.exec(select(func.count()).select_from(Ticket).where(Ticket.status == "callback")).one())
        tickets = list(
            s.exec(
                select(Ticket)
                .where(Ticket.status == "callback")
                .order_by(col(Ticket.created_at), col(Ticket.id))
                .limit(limit)
            )
        )
        ids = [t.id for t in tickets if t.id is not None]
        events = _events(s, ids, ("reply_approved", "callback"))
        names = {u.id: u.name for u in s.exec(select(Unit))}
        units: dict[int, list[str]] = {}
        for chunk in range(0, len(ids), 500):
            for a in s.exec(
                select(Assignment).where(
                    col(Assignment.ticket_id).in_(ids[chunk : chunk + 500]), Assignment.status == "approved"
                )
            ):
                units.setdefault(a.ticket_id, []).append(names.get(a.unit_id, ""))
        due: list[QueueRow] = []
        retry: list[QueueRow] = []
        for t in tickets:
            assert t.id is not None
            r = _round(events.get(t.id, []), cb.retry_minutes)
            waiting = r.retry_at is not None and r.retry_at > now
            row = QueueRow(
                no=t.no,
                tab="retry" if waiting else "due",
                type_label=p.type_label(t.type),
                urgency=t.urgency,
                urgency_label=p.urgency_label(t.urgency),
                labels=tuple(t.labels),
                summary=_summary(t.text),
                caller=_masked_caller(t),
                units="、".join(u for u in units.get(t.id, []) if u),
                approved_iso=iso(r.approved_at or t.created_at) or "",
                attempts=r.attempts,
                last_attempt_iso=iso(r.last_attempt),
                retry_iso=iso(r.retry_at),
                rehandled=t.dissatisfied_count > 0,
                version=t.version,
            )
            (retry if waiting else due).append(row)
        due.sort(key=lambda r: (-_urgency_rank(p, r.urgency), r.approved_iso, r.no))
        retry.sort(key=lambda r: (r.retry_iso or "", r.no))
        sample = _sample_rows(ctx, s, now.date(), sample_days)
    rows: dict[str, list[QueueRow | SampleRow]] = {
        "due": list(due),
        "retry": list(retry),
        "sample": list(sample),
    }
    counts = {
        "due": len(due) + max(0, total - len(tickets)),
        "retry": len(retry),
        "sample": sum(1 for x in sample if not x.done),
    }
    return QueueData(rows, counts, now, cb.max_attempts, _percent(p), limit)


# ---------------------------------------------------------------- the quality sample (TTR 17)


def _percent(p: Policy) -> int:
    return max(0, min(100, p.callback.sample_percent))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), TZ)
    return start, start + timedelta(days=1)


def _rank(seed: str, day: date, no: str) -> str:
    return hashlib.sha256(f"{seed}|{day.isoformat()}|{no}".encode()).hexdigest()


def pick_sample(nos: list[str], day: date, percent: int, seed: str = "") -> list[str]:
    """The sampled numbers, in sample order: every ticket ranked by a hash of (seed, day, number), the
    first ⌈n × percent / 100⌉ taken. Adding a ticket to the day moves at most one other out."""
    if not nos or percent <= 0:
        return []
    k = min(len(nos), math.ceil(len(nos) * percent / 100))
    return sorted(nos, key=lambda no: _rank(seed, day, no))[:k]


def _answered_on(s: Session, start: datetime, end: datetime) -> list[Ticket]:
    return list(
        s.exec(
            select(Ticket).where(
                Ticket.status == "answered",
                Ticket.type == "consult",
                col(Ticket.closed_at) >= start,
                col(Ticket.closed_at) < end,
            )
        )
    )


def sample_answered(ctx: Ctx, day: date, *, percent: int | None = None, seed: str = "") -> list[str]:
    """Which of ``day``'s consults answered on the spot get a quality callback (TTR 17): reproducible
    for the same day, seed and tickets."""
    require_role(ctx, *CALLBACK_ROLES, what="抽取质量回访样本")
    pct = _percent(ctx.policy) if percent is None else percent
    if not 0 <= pct <= 100:
        raise InvalidInput(f"抽查比例应在 0 至 100 之间：{pct}")
    with ctx.read() as s:
        tickets = _answered_on(s, *_day_bounds(day))
    return pick_sample([t.no for t in tickets], day, pct, seed)


def _check_sampled(s: Session, p: Policy, t: Ticket) -> None:
    cite = p.callback.cite_sample
    if t.status != "answered" or t.type != "consult" or t.closed_at is None:
        raise RuleViolation(f"工单 {t.no} 不是当场答复的咨询工单，不在质量抽查范围内（{cite}）")
    day = local(t.closed_at).date()
    group = [x.no for x in _answered_on(s, *_day_bounds(day))]
    if t.no not in pick_sample(group, day, _percent(p)):
        raise RuleViolation(f"工单 {t.no} 未被随机抽中，质量回访只对抽中的工单进行（{cite}）")


def _quality_state(events: list[Event], max_attempts: int) -> tuple[str, bool, int]:
    tries = 0
    for e in events:
        if e.kind != "quality_callback":
            continue
        if e.payload.get("reached"):
            label = SATISFACTION.get(str(e.payload.get("satisfaction")), "已回访")
            return label, True, tries
        tries += 1
    if tries >= max_attempts:
        return f"{tries}次未联系上", True, tries
    return (f"未联系上{tries}次" if tries else "待回访"), False, tries


def _sample_rows(ctx: Ctx, s: Session, today: date, days: int) -> list[SampleRow]:
    p = ctx.policy
    first = today - timedelta(days=max(1, days) - 1)
    start, _ = _day_bounds(first)
    _, end = _day_bounds(today)
    tickets = _answered_on(s, start, end)
    by_day: dict[date, list[Ticket]] = {}
    for t in tickets:
        assert t.closed_at is not None
        by_day.setdefault(local(t.closed_at).date(), []).append(t)
    chosen: list[Ticket] = []
    for day, group in by_day.items():
        picked = set(pick_sample([t.no for t in group], day, _percent(p)))
        chosen += [t for t in group if t.no in picked]
    ids = [t.id for t in chosen if t.id is not None]
    events = _events(s, ids, ("quality_callback",))
    kb_ids = {t.kb_entry_id for t in chosen if t.kb_entry_id}
    titles = (
        {e.id: e.title for e in s.exec(select(KBEntry).where(col(KBEntry.id).in_(kb_ids)))} if kb_ids else {}
    )
    rows = []
    for t in chosen:
        assert t.id is not None and t.closed_at is not None
        state, done, tries = _quality_state(events.get(t.id, []), p.callback.max_attempts)
        rows.append(
            SampleRow(
                no=t.no,
                day=local(t.closed_at).date().isoformat(),
                answered_iso=iso(t.closed_at) or "",
                summary=_summary(t.text),
                caller=_masked_caller(t),
                kb_title=titles.get(t.kb_entry_id or "", t.kb_entry_id or ""),
                state=state,
                done=done,
                attempts=tries,
                version=t.version,
            )
        )
    rows.sort(key=lambda r: (r.done, r.answered_iso, r.no))
    return rows


def record_quality_callback(
    ctx: Ctx,
    no: str,
    *,
    reached: bool,
    satisfaction: str | None = None,
    solved: bool | None = None,
    words: str = "",
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """The result of a quality callback on a sampled consult answered on the spot (TTR 17; T15 13): one
    ``quality_callback`` event; a reached caller's rating is kept on the ticket (its status stays)."""
    require_role(ctx, *CALLBACK_ROLES, what="记录质量抽查回访")
    p = ctx.policy
    cite = p.callback.cite_sample
    words = clean_text(words, field="诉求人意见", max_len=2000)
    if reached:
        if satisfaction not in SATISFACTION:
            options = "、".join(f"{k}({v})" for k, v in SATISFACTION.items())
            raise InvalidInput(f"请选择满意度：{options}")
        if reason and reason not in DISSATISFIED_REASONS:
            raise InvalidInput(f"未知的不满意原因：{reason}")
    with ctx.write() as s:
        t = get_ticket(s, no, lock=True)
        check_version(t, expected_version, f"工单 {t.no}")
        _check_sampled(s, p, t)
        assert t.id is not None
        history = _events(s, [t.id], ("quality_callback",)).get(t.id, [])
        state, done, tries = _quality_state(history, p.callback.max_attempts)
        if done:
            raise RuleViolation(f"工单 {t.no} 的质量抽查回访已完成（{state}），不能重复记录")
        now = ctx.now()
        payload: dict[str, Any] = {"reached": reached, "rule": cite}
        if not reached:
            payload["attempt"] = tries + 1
            if tries + 1 >= p.callback.max_attempts:
                payload["closed"] = f"{p.callback.max_attempts}次未联系上诉求人，抽查回访结束"
        else:
            assert satisfaction is not None
            t.satisfaction = satisfaction
            t.solved = solved
            t.rated_at = now
            payload.update(satisfaction=satisfaction, solved=solved, words=words)
            if satisfaction == "dissatisfied":
                payload["reason"] = reason or "other"
        s.add(t)
        record_event(ctx, s, "quality_callback", ticket=t, payload=payload)
    return t


# ---------------------------------------------------------------- the form's view


@dataclass(frozen=True)
class ScriptLine:
    text: str
    cite: str = ""


@dataclass(frozen=True)
class UnitReply:
    unit: str
    role: str
    reply: str
    replied_iso: str | None


@dataclass(frozen=True)
class CallbackView:
    """One order as the callback form shows it; the caller in full (the view is audited)."""

    no: str
    kind: str  # callback | quality
    version: int
    type: str
    type_label: str
    channel_label: str
    urgency: str
    urgency_label: str
    labels: tuple[str, ...]
    created_iso: str
    text: str
    caller_name: str
    caller_phone: str
    flags: tuple[str, ...]  # 保密 …
    replies: tuple[UnitReply, ...]
    kb_title: str
    kb_body: str
    attempts: int
    max_attempts: int
    last_attempt_iso: str | None
    retry_iso: str | None
    rehandled: bool
    can_rehandle: bool
    rehandle_note: str  # why re-handling is (not) on offer, citing the article
    exempt_reasons: dict[str, str]  # DISSATISFIED_REASONS codes TTR 19 lets go without re-handling
    script: tuple[ScriptLine, ...]
    history: tuple[str, ...] = field(default_factory=tuple)


def script_for(
    p: Policy, type_code: str, *, quality: bool = False, rehandled: bool = False
) -> tuple[ScriptLine, ...]:
    """What to ask, in order (T24 18; TTR 17, 20; T15 13)."""
    cb = p.callback
    kind = p.type_label(type_code)
    lines = [ScriptLine(f"您好，这里是12345热线回访，就您反映的{kind}事项向您了解办理情况，请问现在方便吗？")]
    if quality:
        lines += [
            ScriptLine("坐席当时给您的答复是否清楚、准确，解决了您的疑问吗？", cb.cite_sample),
            ScriptLine("您对这次答复满意、基本满意还是不满意？", cb.cite_sample),
        ]
    else:
        if rehandled:
            lines.append(ScriptLine("承办单位按您上次的意见重新办理后，是否再次与您联系？", cb.cite_rehandle))
        else:
            lines.append(ScriptLine("承办单位是否与您联系过？何时、如何联系的？", "天津办法第十六条"))
        if type_code == "consult":
            lines.append(ScriptLine("您咨询的问题是否已经得到解答？", cb.cite))
        elif type_code == "suggestion":
            lines.append(ScriptLine("承办单位是否就您的建议给予了答复？", cb.cite))
        else:
            lines.append(ScriptLine("您反映的问题是否已经解决？", cb.cite))
        lines.append(ScriptLine("您对办理结果满意、基本满意还是不满意？", cb.cite))
    lines += [
        ScriptLine(
            "如不满意：请问不满意的原因是什么？（先核实原因，能答复的当即答复）", "天津交通运输委规程第二十条"
        ),
        ScriptLine("您还有其他问题需要反映吗？（有新诉求的另立工单）", "天津交通运输委规程第二十条"),
    ]
    return tuple(lines)


def _exempt_reasons(p: Policy) -> dict[str, str]:
    out = {}
    for key, label in p.callback.dissatisfied_exempt_reasons.items():
        code = _EXEMPT_ALIASES.get(key, key)
        if code in DISSATISFIED_REASONS:
            out[code] = label
    return out


def callback_view(ctx: Ctx, no: str) -> CallbackView:
    """The order to call back (status ``callback``) or a sampled consult (status ``answered``), with the
    caller's name and number in full: shown by the work itself on a callback (``pii_viewed``), revealed
    with the reason 质量抽查回访 on a sampled consult (``pii_revealed``)."""
    from hotline_tui.services.privacy import reveal_caller
    from hotline_tui.services.queries import ticket_detail

    require_role(ctx, *CALLBACK_ROLES, what="回访")
    p = ctx.policy
    cb = p.callback
    with ctx.read() as s:
        t = get_ticket(s, no)
        if t.status not in ("callback", "answered"):
            raise RuleViolation(f"工单 {t.no} 不在待回访状态（只有答复审核通过的工单进行回访，{cb.cite}）")
        assert t.id is not None
        quality = t.status == "answered"
        if quality:
            _check_sampled(s, p, t)
        events = _events(s, [t.id], ("reply_approved", "callback", "quality_callback"))
        r = _round(events.get(t.id, []), cb.retry_minutes)
        history = []
        for e in events.get(t.id, []):
            if e.kind == "reply_approved":
                continue
            if e.kind == "quality_callback" and not quality or e.kind == "callback" and quality:
                continue
            if e.payload.get("reached"):
                result = SATISFACTION.get(str(e.payload.get("satisfaction")), "")
                history.append(f"{shown(e.at)[5:16]} {e.actor} 联系上：{result}")
            else:
                history.append(f"{shown(e.at)[5:16]} {e.actor} 未联系上")
        kb_title = kb_body = ""
        if t.kb_entry_id:
            entry = s.get(KBEntry, t.kb_entry_id)
            if entry is not None:
                kb_title, kb_body = entry.title, entry.body
        quality_tries = sum(
            1 for e in events.get(t.id, []) if e.kind == "quality_callback" and not e.payload.get("reached")
        )
        dissatisfied = t.dissatisfied_count
    detail = ticket_detail(ctx, no)
    caller = detail["caller"]
    name, phone, text = caller["name"], caller["phone"], detail["text"]
    if caller["masked"] and caller["can_reveal"]:
        why = f"质量抽查回访（{cb.cite_sample}）" if quality else "回访联系诉求人"
        got = reveal_caller(ctx, no, why, ("name", "phone"))
        name, phone, text = got["fields"]["name"], got["fields"]["phone"], got["text"]
    replies = tuple(
        UnitReply(a["unit_name"], a["role"], a["reply"] or "", a["replied_at"])
        for a in detail["assignments"]
        if a["status"] == "approved" and a["role"] in ("single", "lead")
    )
    can = dissatisfied < cb.rehandle_max
    if quality:
        note = f"当场答复的咨询工单不退回承办单位；不满意或有新疑问的，按 n 另立工单（{cb.cite_sample}）"
    elif can:
        note = f"首次不满意可退回承办单位再次办理（以1次为限，不得延期；{cb.cite_rehandle}）"
    else:
        note = (
            f"该工单已重新办理{cb.rehandle_max}次，本次不满意将直接办结，承办单位可申诉（{cb.cite_rehandle}）"
        )
    flags = tuple(
        f for f, on in (("匿名", t.anonymous), ("保密", t.confidential), ("不需回复", t.no_reply)) if on
    )
    return CallbackView(
        no=t.no,
        kind="quality" if quality else "callback",
        version=detail["version"],
        type=t.type,
        type_label=p.type_label(t.type),
        channel_label=p.channel_label(t.channel),
        urgency=t.urgency,
        urgency_label=p.urgency_label(t.urgency),
        labels=tuple(t.labels),
        created_iso=iso(t.created_at) or "",
        text=text,
        caller_name=name,
        caller_phone=phone,
        flags=flags,
        replies=replies,
        kb_title=kb_title,
        kb_body=kb_body,
        attempts=quality_tries if quality else r.attempts,
        max_attempts=cb.max_attempts,
        last_attempt_iso=iso(r.last_attempt),
        retry_iso=iso(r.retry_at),
        rehandled=dissatisfied > 0,
        can_rehandle=can and not quality,
        rehandle_note=note,
        exempt_reasons=_exempt_reasons(p),
        script=script_for(p, t.type, quality=quality, rehandled=dissatisfied > 0),
        history=tuple(history),
    )


# ---------------------------------------------------------------- recording


RETRY_CHOICES = ("default", "1h", "2h", "tomorrow")


def retry_label(p: Policy, choice: str) -> str:
    return {
        "default": f"{p.callback.retry_minutes}分钟后",
        "1h": "1小时后",
        "2h": "2小时后",
        "tomorrow": "明天9:00",
    }[choice]


def retry_time(p: Policy, choice: str, now: datetime) -> datetime:
    """When an unreached caller is tried again: a product choice offered to the officer."""
    if choice == "default":
        return now + timedelta(minutes=p.callback.retry_minutes)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "2h":
        return now + timedelta(hours=2)
    if choice == "tomorrow":
        return datetime.combine(local(now).date() + timedelta(days=1), time(9, 0), TZ)
    raise InvalidInput(f"未知的再次拨打时间：{choice}（可选：{'、'.join(RETRY_CHOICES)}）")


@dataclass(frozen=True)
class Outcome:
    """What a recorded result did, for the officer's message."""

    no: str
    status: str
    text: str


def record_result(
    ctx: Ctx,
    no: str,
    *,
    reached: bool,
    satisfaction: str | None = None,
    solved: bool | None = None,
    words: str = "",
    reason: str = "",
    rehandle: bool | None = None,
    retry: str = "default",
    expected_version: int | None = None,
) -> Outcome:
    """The callback form's ^S: checks what the form must have (a reached caller says whether it is
    solved; a dissatisfied one why — TTR 20), then ``callback.record_callback`` in one transaction."""
    p = ctx.policy
    require_role(ctx, *CALLBACK_ROLES, what="记录回访")
    if reached:
        if satisfaction not in SATISFACTION:
            options = "、".join(SATISFACTION.values())
            raise InvalidInput(f"请选择满意度：{options}")
        if solved is None:
            raise InvalidInput("请选择问题是否解决")
        if satisfaction == "dissatisfied" and not reason:
            raise InvalidInput("不满意的，请先核实并选择不满意原因（天津交通运输委规程第二十条）")
    retry_at = None if reached else retry_time(p, retry, ctx.now())
    t = record_callback(
        ctx,
        no,
        reached=reached,
        satisfaction=satisfaction if reached else None,
        solved=solved if reached else None,
        words=words,
        reason=reason if reached and satisfaction == "dissatisfied" else "",
        rehandle=rehandle if reached and satisfaction == "dissatisfied" else None,
        expected_version=expected_version,
        retry_at=retry_at,
    )
    if not reached:
        if t.status == "closed":
            text = f"{t.no} 已{p.callback.max_attempts}次未联系上诉求人，按未回访办结"
        else:
            assert retry_at is not None
            text = (
                f"{t.no} 未联系上（第{t.callback_attempts}次，共{p.callback.max_attempts}次），"
                f"{retry_at.strftime('%m-%d %H:%M')} 后再拨"
            )
    elif t.status == "rehandling":
        text = f"{t.no} 不满意，已退回承办单位重新办理（不得延期）"
    else:
        text = f"{t.no} 回访已记录（{SATISFACTION[satisfaction or '']}），工单已办结"
    return Outcome(t.no, t.status, text)


def record_quality_result(
    ctx: Ctx,
    no: str,
    *,
    reached: bool,
    satisfaction: str | None = None,
    solved: bool | None = None,
    words: str = "",
    reason: str = "",
    expected_version: int | None = None,
) -> Outcome:
    if reached and satisfaction == "dissatisfied" and not reason:
        raise InvalidInput("不满意的，请先核实并选择不满意原因（天津交通运输委规程第二十条）")
    t = record_quality_callback(
        ctx,
        no,
        reached=reached,
        satisfaction=satisfaction if reached else None,
        solved=solved if reached else None,
        words=words,
        reason=reason if reached else "",
        expected_version=expected_version,
    )
    if reached:
        return Outcome(t.no, t.status, f"{t.no} 质量抽查回访已记录（{SATISFACTION[satisfaction or '']}）")
    return Outcome(t.no, t.status, f"{t.no} 质量抽查回访未联系上，已记录")


# ---------------------------------------------------------------- a new question (TTR 20)


def new_question(ctx: Ctx, parent_no: str, *, text: str, type_: str = "", urgency: str = "normal") -> Ticket:
    """A new question the caller raised on the callback becomes a new order, linked to this one
    (``parent_id``), waiting for dispatch (TTR 20 "不能答复的应转派承办单位"). The caller, their
    confidentiality and the channel are the parent's; both orders get a ``new_question`` event."""
    from hotline_tui.services.intake import IntakeForm, insert_ticket, validate_form

    require_role(ctx, *CALLBACK_ROLES, what="登记回访中的新诉求")
    cite = "天津交通运输委规程第二十条"
    with ctx.read() as s:
        parent = get_ticket(s, parent_no)
        if parent.status not in QUESTION_STATUSES:
            raise RuleViolation(f"工单 {parent.no} 尚未办结回访，新诉求请在来电受理中登记（{cite}）")
        form = IntakeForm(
            type=type_ or parent.type,
            channel=parent.channel,
            text=text,
            urgency=urgency or "normal",
            caller_name=parent.caller_name,
            caller_phone=parent.caller_phone,
            caller_address=parent.caller_address,
            caller_id_number=parent.caller_id_number,
            district=parent.district,
            anonymous=parent.anonymous,
            confidential=parent.confidential,
            no_reply=parent.no_reply,
        )
    f = validate_form(ctx, form)
    with ctx.write() as s:
        parent = get_ticket(s, parent_no, lock=True)
        child = insert_ticket(ctx, s, f)
        child.parent_id = parent.id
        s.add(child)
        record_event(
            ctx,
            s,
            "new_question",
            ticket=child,
            payload={"parent": parent.no, "note": f"由工单 {parent.no} 回访时提出", "rule": cite},
        )
        record_event(
            ctx,
            s,
            "new_question",
            ticket=parent,
            payload={"child": child.no, "note": f"回访中提出新诉求，另立工单 {child.no}", "rule": cite},
        )
    return child


def linked_orders(ctx: Ctx, no: str) -> list[str]:
    """The numbers of the orders raised on this one's callbacks."""
    require_role(ctx, *CALLBACK_ROLES, what="查看关联工单")
    with ctx.read() as s:
        parent = get_ticket(s, no)
        rows = s.exec(select(Ticket.no).where(Ticket.parent_id == parent.id).order_by(col(Ticket.id))).all()
    return list(rows)
