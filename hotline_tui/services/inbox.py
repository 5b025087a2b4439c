"""The handling unit's inbox: its orders by tab, each with the deadline that matters next, and the
pulse a polling worker reads for notifications (new orders, orders about to run out).

A unit sees its own assignments and its sub-units' (``Actor.unit_ids``). Tabs follow what the unit
has to do: 待接单 (accept), 办理中 (handle and reply), 待审核 (the centre decides: a reply, a return or a
stop-handling request), 已退回, 已办结. Every row carries one clock: the accept limit while the order
waits to be accepted (TTR 8(1)), the handling deadline while it is handled (TTR 11(4): it runs until the
reply). Caller data never reaches a row: the demand is shown with phone and ID numbers masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hotline_tui.clock import iso, local
from hotline_tui.errors import HotlineError, PermissionDenied
from hotline_tui.models import ASSIGNMENT_STATUSES, Assignment, Ticket, Unit, UnitRequest
from hotline_tui.privacy import mask_text
from hotline_tui.services.core import Ctx, clean_text, get_assignment, require_unit_scope

TABS = ("pending", "handling", "review", "returned", "done")
TAB_LABELS = {
    "pending": "待接单",
    "handling": "办理中",
    "review": "待审核",
    "returned": "已退回",
    "done": "已办结",
}
STATUS_TAB = {
    "pending": "pending",
    "handling": "handling",
    "replied": "review",
    "returned": "returned",
    "cancelled": "returned",
    "approved": "done",
    "stopped": "done",
}
# Requests that hand the order to the centre's decision: while one is open the row waits in 待审核.
# An open extension request does not: the unit keeps handling while the centre decides.
WAITING_KINDS = ("return", "stop")
REQUEST_MARKERS = {"return": "退单审核中", "stop": "终止办理审核中", "extension": "延期审核中"}
MAX_REPLY = 5000  # handling.reply's limit
FINISHED_ROWS = 100  # rows of 已退回 / 已办结 loaded (the newest)
FINISHED_COUNT_CAP = 1000  # 已退回 / 已办结 are counted up to this, then shown as 1000+
ACTIVE_STATUSES = ("pending", "handling", "replied")
FINISHED_TABS = {"returned": ("returned", "cancelled"), "done": ("approved", "stopped")}
ROLE_LABELS = {"single": "承办", "lead": "主办", "co": "协办"}

# When a clock turns amber: the last quarter of its window, and never less than the last 30 minutes.
# A product choice (no regulation sets it): a 3-hour accept limit warns 45 minutes before, a 5-working-
# day handling deadline about a day and a half before, a 1-hour 特急 order 30 minutes before.
WARN_FRACTION = 0.25
WARN_MIN = timedelta(minutes=30)


# ---------------------------------------------------------------- clocks


def warn_threshold(window: timedelta) -> timedelta:
    return max(window * WARN_FRACTION, WARN_MIN)


def span(delta: timedelta) -> str:
    """A duration the way an officer says it: 2天3小时, 4小时20分, 35分, 不足1分."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分" if minutes else f"{hours}小时"
    if minutes:
        return f"{minutes}分"
    return "不足1分"


def countdown(due: datetime, now: datetime, window: timedelta) -> tuple[str, str]:
    """(text, tone) for a deadline: tone "" while there is time, "warning" near it, "error" past it."""
    left = local(due) - now
    if left < timedelta(0):
        return f"超时{span(-left)}", "error"
    tone = "warning" if left <= warn_threshold(window) else ""
    return f"剩{span(left)}", tone


@dataclass(frozen=True)
class Clock:
    """The deadline that matters next for one assignment."""

    kind: str  # 接单 | 办理 | "" (no running clock)
    due: datetime | None
    window: timedelta

    def show(self, now: datetime) -> tuple[str, str]:
        if self.due is None:
            return "", ""
        return countdown(self.due, now, self.window)


def clock_of(a: Assignment, open_kinds: Iterable[str] = ()) -> Clock:
    """The accept limit while the order waits to be accepted, then the handling deadline until the reply."""
    return _clock(a.status, a.dispatched_at, a.accept_due_at, a.due_at)


def _clock(status: str, dispatched_at: datetime, accept_due_at: datetime | None, due_at: datetime) -> Clock:
    dispatched = local(dispatched_at)
    if status == "pending":
        if accept_due_at is not None:
            return Clock("接单", local(accept_due_at), local(accept_due_at) - dispatched)
        return Clock("办理", local(due_at), local(due_at) - dispatched)
    if status == "handling":
        return Clock("办理", local(due_at), local(due_at) - dispatched)
    return Clock("", None, timedelta(0))


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class InboxRow:
    assignment_id: int
    no: str
    tab: str
    status: str  # the assignment's status code
    status_label: str
    markers: tuple[str, ...]  # 退单审核中, 延期审核中, 重新办理, 指定承办, 超时接单 …
    type_label: str
    urgency: str
    urgency_label: str
    labels: tuple[str, ...]
    summary: str  # the demand, masked, on one line
    unit_name: str
    role_label: str
    clock_kind: str
    due_iso: str | None  # the running clock's deadline
    window_seconds: int
    handling_due_iso: str
    dispatched_iso: str
    ended_iso: str | None  # replied / closed, for rows without a running clock
    version: int

    def clock(self) -> Clock:
        due = datetime.fromisoformat(self.due_iso) if self.due_iso else None
        return Clock(self.clock_kind, due, timedelta(seconds=self.window_seconds))


@dataclass(frozen=True)
class InboxData:
    unit_name: str
    rows: dict[str, list[InboxRow]]
    counts: dict[str, int]  # per tab (exact, even when a tab's rows are cut at the limit)
    now: datetime
    limit: int = 0
    capped: frozenset[str] = frozenset()  # tabs with more orders than their count shows (1000+)


def _summary(text: str, width: int = 120) -> str:
    flat = " ".join(mask_text(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# what a row shows: the assignment's state and clocks, the ticket's number, kind and demand (no caller data)
ROW_COLUMNS = (
    col(Assignment.id), col(Assignment.status), col(Assignment.role), col(Assignment.unit_id),
    col(Assignment.rehandling), col(Assignment.designated), col(Assignment.accepted_late),
    col(Assignment.extensions), col(Assignment.overdue_at_close), col(Assignment.replied_at),
    col(Assignment.closed_at), col(Assignment.dispatched_at), col(Assignment.accept_due_at),
    col(Assignment.due_at), col(Assignment.version), col(Ticket.no), col(Ticket.type), col(Ticket.urgency),
    col(Ticket.labels), col(Ticket.text),
)  # fmt: skip


def _row(
    a: Any, t: Any, unit_name: str, open_kinds: set[str], policy: Any, tab: str | None = None
) -> InboxRow:
    """One row from an ``Assignment`` and its ``Ticket`` (or one result row holding both's columns)."""
    markers: list[str] = [REQUEST_MARKERS[k] for k in ("return", "stop", "extension") if k in open_kinds]
    if a.rehandling:
        markers.append("重新办理")
    if a.designated:
        markers.append("指定承办")
    if a.accepted_late:
        markers.append("超时接单")
    if a.extensions:
        markers.append(f"已延期{a.extensions}次")
    if a.status == "replied" and a.overdue_at_close:
        markers.append("超期答复")
    c = clock_of(a, open_kinds)
    ended = a.replied_at if a.status == "replied" else a.closed_at
    assert a.id is not None
    return InboxRow(
        assignment_id=a.id,
        no=t.no,
        tab=tab or _tab_of(a.status, open_kinds),
        status=a.status,
        status_label=ASSIGNMENT_STATUSES.get(a.status, a.status),
        markers=tuple(markers),
        type_label=policy.type_label(t.type),
        urgency=t.urgency,
        urgency_label=policy.urgency_label(t.urgency),
        labels=tuple(t.labels),
        summary=_summary(t.text),
        unit_name=unit_name,
        role_label=ROLE_LABELS.get(a.role, a.role),
        clock_kind=c.kind,
        due_iso=iso(c.due),
        window_seconds=int(c.window.total_seconds()),
        handling_due_iso=iso(a.due_at) or "",
        dispatched_iso=iso(a.dispatched_at) or "",
        ended_iso=iso(ended),
        version=a.version,
    )


def _tab_of(status: str, open_kinds: set[str]) -> str:
    if status in ("pending", "handling") and open_kinds & set(WAITING_KINDS):
        return "review"
    return STATUS_TAB.get(status, "done")


def _open_requests(s: Session, ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        rows = s.exec(
            select(UnitRequest.assignment_id, UnitRequest.kind).where(
                col(UnitRequest.assignment_id).in_(part), UnitRequest.status == "pending"
            )
        ).all()
        for aid, kind in rows:
            out.setdefault(aid, set()).add(kind)
    return out


def _require_liaison(ctx: Ctx) -> None:
    if ctx.actor.role != "liaison" or not ctx.actor.unit_ids:
        raise PermissionDenied(f"{ctx.actor.role_label}没有承办单位工单箱（仅限承办单位联络员）")


def load_inbox(ctx: Ctx, *, limit: int = 300) -> InboxData:
    """Every tab of the unit's inbox: running tabs nearest deadline first, finished ones newest first.

    Each tab holds at most ``limit`` rows; ``counts`` are exact for the running tabs, and for the finished
    ones up to ``FINISHED_COUNT_CAP`` (``capped`` names the tabs that have more)."""
    _require_liaison(ctx)
    p = ctx.policy
    scope = list(ctx.actor.unit_ids)
    with ctx.read() as s:
        names = {u.id: u.name for u in s.exec(select(Unit).where(col(Unit.id).in_(scope)))}
        # live orders counted exactly (index seeks per unit and status); finished ones up to a cap: counting
        # a district's 170,000 finished orders took longer than everything else the inbox reads
        by_status: dict[str, int] = {}
        # grouped by unit too, so that SQLite walks the (unit, status, …) index, not the city-wide status one
        for _, status, n in s.exec(
            select(Assignment.unit_id, Assignment.status, func.count())
            .where(col(Assignment.unit_id).in_(scope), col(Assignment.status).in_(ACTIVE_STATUSES))
            .group_by(col(Assignment.unit_id), col(Assignment.status))
        ):
            by_status[status] = by_status.get(status, 0) + int(n)
        finished: dict[str, int] = {}
        for tab, statuses in FINISHED_TABS.items():
            upto = (
                select(col(Assignment.id))
                .where(col(Assignment.unit_id).in_(scope), col(Assignment.status).in_(statuses))
                .limit(FINISHED_COUNT_CAP + 1)
                .subquery()
            )
            finished[tab] = int(s.exec(select(func.count()).select_from(upto)).one())

        def fetch(statuses: tuple[str, ...], column: Any, desc: bool, limit: int = limit) -> list[Any]:
            """The tab's rows: ids picked per unit and status from the (unit, status, time) indexes, merged
            and cut by SQLite, then only the columns a row shows. One query over a parent unit's IN list made
            SQLite walk the city-wide (status, due) index; joining first made it read and sort every finished
            order; whole ORM rows (caller data included) cost more than the queries (benchmarks/inbox_list.py)."""
            order = column.desc() if desc else column
            parts = []
            for uid in scope:
                for status in statuses:
                    part = (
                        sa_select(col(Assignment.id).label("aid"), column.label("value"))
                        .where(col(Assignment.unit_id) == uid, col(Assignment.status) == status)
                        .order_by(order, col(Assignment.id))
                        .limit(limit)
                        .subquery()
                    )
                    parts.append(sa_select(part.c.aid, part.c.value))
            if len(parts) == 1:
                ids = [aid for aid, _ in s.execute(parts[0])]
            else:
                merged = union_all(*parts).subquery()
                ordered = merged.c.value.desc() if desc else merged.c.value
                ids = list(
                    s.execute(sa_select(merged.c.aid).order_by(ordered, merged.c.aid).limit(limit)).scalars()
                )
            if not ids:
                return []
            stmt = (
                sa_select(*ROW_COLUMNS)
                .join(Ticket, col(Ticket.id) == col(Assignment.ticket_id))
                .where(col(Assignment.id).in_(ids))
                .order_by(order, col(Assignment.id))
            )
            return list(s.execute(stmt).all())

        pending = fetch(("pending",), col(Assignment.accept_due_at), False)
        handling = fetch(("handling",), col(Assignment.due_at), False)
        replied = fetch(("replied",), col(Assignment.replied_at), True)
        # finished orders are history: the latest ones are shown, the count says how many there are
        returned = fetch(
            ("returned", "cancelled"), col(Assignment.closed_at), True, min(limit, FINISHED_ROWS)
        )
        done = fetch(("approved", "stopped"), col(Assignment.closed_at), True, min(limit, FINISHED_ROWS))
        live_ids = [r.id for r in pending + handling + replied]
        opens = _open_requests(s, live_ids)
        waiting = dict(
            s.exec(
                select(Assignment.status, func.count(func.distinct(UnitRequest.assignment_id)))
                .join(Assignment, col(Assignment.id) == col(UnitRequest.assignment_id))
                .where(
                    col(Assignment.unit_id).in_(scope),
                    col(Assignment.status).in_(("pending", "handling")),
                    UnitRequest.status == "pending",
                    col(UnitRequest.kind).in_(WAITING_KINDS),
                )
                .group_by(Assignment.status)
            ).all()
        )
        now = ctx.now()

        def rows(found: list[Any]) -> list[InboxRow]:
            return [_row(r, r, names.get(r.unit_id, ""), opens.get(r.id, set()), p) for r in found]

        all_rows = rows(pending) + rows(handling) + rows(replied) + rows(returned) + rows(done)
        unit = s.get(Unit, ctx.actor.unit_id) if ctx.actor.unit_id is not None else None
    tabs: dict[str, list[InboxRow]] = {tab: [] for tab in TABS}
    for row in all_rows:
        tabs[row.tab].append(row)
    far = datetime.max.replace(tzinfo=now.tzinfo)
    for tab in ("pending", "handling"):
        tabs[tab].sort(key=lambda r: (datetime.fromisoformat(r.due_iso) if r.due_iso else far, r.no))
    # 待审核: requests still under a running clock first (nearest deadline), then replies, newest first
    tabs["review"].sort(
        key=lambda r: (
            r.due_iso is None,
            datetime.fromisoformat(r.due_iso).timestamp() if r.due_iso else 0.0,
            -(datetime.fromisoformat(r.ended_iso).timestamp() if r.ended_iso else 0.0),
        )
    )
    wait_p, wait_h = int(waiting.get("pending", 0)), int(waiting.get("handling", 0))
    counts = {
        "pending": int(by_status.get("pending", 0)) - wait_p,
        "handling": int(by_status.get("handling", 0)) - wait_h,
        "review": int(by_status.get("replied", 0)) + wait_p + wait_h,
        "returned": min(finished["returned"], FINISHED_COUNT_CAP),
        "done": min(finished["done"], FINISHED_COUNT_CAP),
    }
    capped = frozenset(tab for tab, n in finished.items() if n > FINISHED_COUNT_CAP)
    return InboxData(unit.name if unit else "", tabs, counts, now, limit, capped)


# ---------------------------------------------------------------- the pulse (notifications)


@dataclass(frozen=True)
class Alert:
    assignment_id: int
    no: str
    text: str  # one line, no caller data


@dataclass(frozen=True)
class Pulse:
    """What changed for the unit since the last poll, and the counts for the header."""

    last_assignment_id: int
    pending: int
    due_soon: int
    overdue: int
    new_orders: tuple[Alert, ...] = ()
    running_out: tuple[Alert, ...] = ()
    warned: frozenset[int] = field(default_factory=frozenset)  # ids now amber or red


def inbox_pulse(ctx: Ctx, after_assignment_id: int | None, warned: frozenset[int] = frozenset()) -> Pulse:
    """New orders since ``after_assignment_id`` (None: the first poll, nothing counts as new) and orders
    whose clock turned amber or red since they were last ``warned`` about."""
    _require_liaison(ctx)
    p = ctx.policy
    scope = list(ctx.actor.unit_ids)
    now = ctx.now()
    with ctx.read() as s:
        # only the columns the clocks need: a unit of thousands of live orders is polled every 20 seconds
        live = list(
            s.execute(
                sa_select(
                    col(Assignment.id), col(Assignment.status), col(Assignment.dispatched_at),
                    col(Assignment.accept_due_at), col(Assignment.due_at), col(Assignment.ticket_id),
                ).where(col(Assignment.unit_id).in_(scope), col(Assignment.status).in_(("pending", "handling")))
            ).all()
        )  # fmt: skip
        last = max([after_assignment_id or 0, *(row[0] or 0 for row in live)])
        wanted = [
            row[5]
            for row in live
            if row[0] not in warned
            or (after_assignment_id is not None and (row[0] or 0) > after_assignment_id)
        ]
        tickets: dict[int, tuple[str, str, str]] = {}
        for chunk in range(0, len(wanted), 500):
            for tid, no, urgency, text in s.exec(
                select(Ticket.id, Ticket.no, Ticket.urgency, Ticket.text).where(
                    col(Ticket.id).in_(wanted[chunk : chunk + 500])
                )
            ):
                tickets[tid or 0] = (no, urgency, text)
    new: list[Alert] = []
    out: list[Alert] = []
    amber_or_red: set[int] = set()
    due_soon = overdue = pending = 0
    for aid, status, dispatched_at, accept_due_at, due_at, tid in live:
        assert aid is not None
        if status == "pending":
            pending += 1
        c = _clock(status, dispatched_at, accept_due_at, due_at)
        shown, tone = c.show(now)
        if tone == "error":
            overdue += 1
        elif tone == "warning":
            due_soon += 1
        if tone:
            amber_or_red.add(aid)
        if after_assignment_id is not None and aid > after_assignment_id and status == "pending":
            no, urgency, text = tickets[tid]
            flag = "" if urgency == "normal" else f"【{p.urgency_label(urgency)}】"
            new.append(Alert(aid, no, f"{flag}{_summary(text, 30)}（{c.kind}{shown}）"))
        elif tone and aid not in warned:
            out.append(Alert(aid, tickets[tid][0], f"{c.kind}{shown}"))
    new.sort(key=lambda x: x.assignment_id)
    out.sort(key=lambda x: x.no)
    return Pulse(last, pending, due_soon, overdue, tuple(new), tuple(out), frozenset(amber_or_red))


# ---------------------------------------------------------------- one order, as its unit sees it


@dataclass(frozen=True)
class OrderView:
    """One assignment with its ticket: what the order screen shows, plus what each action would do."""

    assignment_id: int
    detail: dict[str, Any]  # ticket_detail(), caller data already as this officer may see it
    assignment: dict[str, Any]  # this unit's assignment, from detail["assignments"]
    others: list[dict[str, Any]]  # the co-units (or the lead) on the same order, with their progress
    actions: dict[str, str | None]  # action -> None when allowed now, else the reason it is refused
    clock: Clock
    return_reasons: list[tuple[str, str, tuple[str, ...], str]]  # code, label, required fields, cite
    return_complex_allowed: bool
    return_due: str | None
    return_due_complex: str | None
    label_return_rules: list[tuple[str, str, str]]  # label, rule (consent|discouraged), cite
    extension_preview: str | None  # the deadline an approved extension would give
    extension_count: str  # 已延期 n/max 次
    stop_reasons: dict[str, str]
    appeal_deadline: str | None
    appeal_exclusions: dict[str, str]
    co_replies: list[tuple[str, str]]  # (unit name, reply) of co-units, for the lead's combined reply
    version: int


def order_view(ctx: Ctx, assignment_id: int) -> OrderView:
    """The order as this unit's officer sees it (caller data masked, or shown for contact while handling,
    audited), with every unit action and why it is refused right now."""
    from hotline_tui.policy import Period
    from hotline_tui.services.appeal import appeal_block_for
    from hotline_tui.services.core import unit_ancestry_codes
    from hotline_tui.services.deadlines import add_period, return_window
    from hotline_tui.services.handling import allowed_actions
    from hotline_tui.services.queries import ticket_detail

    _require_liaison(ctx)
    p = ctx.policy
    with ctx.read() as s:
        a = get_assignment(s, assignment_id)
        require_unit_scope(ctx, a, "查看")
        t = s.get(Ticket, a.ticket_id)
        assert t is not None
        no = t.no
        group = p.group_for(unit_ancestry_codes(s, a.unit_id))
        opens = _open_requests(s, [assignment_id]).get(assignment_id, set())
        c = clock_of(a, opens)
        preview: str | None = None
        if a.status == "handling" and p.extension.enabled:
            try:
                period = Period(a.period_amount, a.period_unit)  # type: ignore[arg-type]
                preview = iso(add_period(ctx.calendar, p, local(a.due_at), period).due_at)
            except HotlineError:
                preview = None
    appeal_block, appeal_last = appeal_block_for(ctx, t, a)
    detail = ticket_detail(ctx, no)
    mine = next(x for x in detail["assignments"] if x["id"] == assignment_id)
    others = [x for x in detail["assignments"] if x["id"] != assignment_id]
    actions = allowed_actions(ctx, assignment_id)
    actions["appeal"] = appeal_block
    labels: list[tuple[str, str, str]] = []
    for label in detail["labels"]:
        rule = p.label_rule(label)
        if rule is not None and rule.returns in ("consent", "discouraged"):
            labels.append((rule.name, rule.returns, rule.cite))
    _, complex_period, _ = return_window(p, group)
    co_replies = [
        (x["unit_name"] or str(x["unit"]), x["reply"])
        for x in others
        if x["role"] == "co" and x.get("reply") and x["status"] in ("replied", "approved")
    ]
    return OrderView(
        assignment_id=assignment_id,
        detail=detail,
        assignment=mine,
        others=others,
        actions=actions,
        clock=c,
        return_reasons=[(r.code, r.label, r.required, r.cite) for r in p.return_reasons],
        return_complex_allowed=complex_period is not None and mine.get("return_due_complex_at") is not None,
        return_due=mine.get("return_due_at"),
        return_due_complex=mine.get("return_due_complex_at"),
        label_return_rules=labels,
        extension_preview=preview,
        extension_count=f"已延期{mine['extensions']}次，最多{p.extension.max_count}次",
        stop_reasons=dict(p.stop_reasons),
        appeal_deadline=appeal_last,
        appeal_exclusions=dict(p.appeal.exclusions),
        co_replies=co_replies,
        version=int(mine["version"]),
    )


def reply_checker(ctx: Ctx, assignment_id: int) -> Any:
    """A function that checks a reply draft exactly as ``handling.reply`` will, for the live checker.

    The caller's own numbers are known to the checker (they may appear in a reply) but never leave it."""
    from hotline_tui.services.reply_check import ReplyCheck, check_reply

    with ctx.read() as s:
        a = get_assignment(s, assignment_id)
        require_unit_scope(ctx, a, "答复")
        t = s.get(Ticket, a.ticket_id)
        assert t is not None
        reasons = [
            str(r.payload.get("reason", ""))
            for r in s.exec(
                select(UnitRequest).where(UnitRequest.ticket_id == t.id, UnitRequest.kind == "return")
            )
        ]
        known = (t.caller_phone, t.caller_id_number, t.caller_address, t.text)
    policy = ctx.policy
    return_texts = [x for x in reasons if x]

    def check(text: str) -> ReplyCheck:
        body = clean_text(text[:MAX_REPLY], field="答复内容", max_len=MAX_REPLY)
        return check_reply(body, policy, return_reason_texts=return_texts, known=known)

    return check
