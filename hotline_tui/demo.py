"""Demo store: units, users, knowledge base and about 230 work orders, driven through the real services.

``load_demo`` imports ``data/demo/units.toml`` and ``users.toml`` through the admin service, inserts the
KB entries of ``kb.jsonl`` (there is no KB service yet), then replays every call of ``calls.toml`` over
the 60 days before ``now``. Each call has a ``flow``: the path its order takes through the lifecycle.
All orders advance together on one fixed clock (a time-ordered event queue), so the event log reads
like a real day at the centre, and every step goes through the same service a user would call: a step
the rules forbid would be refused, exactly as in the UI.

Flows (and the state they leave the order in at ``now``):

=====================  ==================================================================================
``new``                recorded in the last hours, waiting for dispatch (待派单)
``answer``             consult answered on the spot with a KB entry (已直接答复)
``refer``              emergency transfer (110/119/120/122) or told the proper channel (已转接/告知)
``pending``            dispatched in the last 3 hours, not yet accepted
``pending_late``       dispatched hours ago, still not accepted (accept limit passed)
``handling``           accepted, within its deadline
``overdue``            accepted long ago, deadline passed without a reply
``replied``            replied, waiting for the centre's review
``callback``           reply approved, waiting for the callback
``unreached``          three callback attempts without reaching the caller → closed
``satisfied``          closed, caller satisfied
``basic``              closed, caller basically satisfied
``late_accept``        accepted after the accept limit, then closed
``anonymous``          anonymous report: closed without callback
``return_pending``     return requested, waiting for review
``return_approved``    return approved, re-dispatched to the right unit, closed
``return_rejected``    return rejected, the same unit handles it, closed
``designated``         returned three times, the centre designates the unit, closed
``ext_pending``        extension requested, waiting for review
``ext_approved``       extension approved, replied within the new deadline, closed
``ext_rejected``       extension rejected, replied within the original deadline, closed
``stop_pending``       stop-handling requested, waiting for review
``stop_approved``      stop-handling approved (已终止办理)
``stop_rejected``      stop-handling rejected, handled and closed
``sent_back``          reply sent back for completion, replied again, closed
``rehandling``         caller dissatisfied at the callback → re-handling (重新办理)
``rehandled``          re-handled after dissatisfaction, then satisfied, closed
``dissatisfied``       dissatisfied twice → closed dissatisfied; optionally appealed (pending/accepted/rejected)
``dissatisfied_policy`` dissatisfied with the policy itself, closed without re-handling
``lead_co``            lead unit with co-units; co-units feed back, the lead replies, closed
``split``              several demands split into one order per unit, each closed
=====================  ==================================================================================

Deterministic: the same ``now`` gives the same store. The demo password of every user is
``DEMO_PASSWORD`` (stored scrypt-hashed).
"""

from __future__ import annotations

import heapq
import json
import logging
import tomllib
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import col, select

from hotline_tui.clock import FixedClock, local
from hotline_tui.db import read_session, write_session
from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.models import Assignment, Event, KBEntry, Setting, Ticket, Unit, UnitRequest, User
from hotline_tui.policy import load_policy
from hotline_tui.services import admin, appeal, callback, dispatch, handling, intake, review
from hotline_tui.services.core import SYSTEM, Ctx, actor_for
from hotline_tui.store import active_policy_name

DATA = Path(__file__).parent / "data" / "demo"
log = logging.getLogger(__name__)
DEMO_PASSWORD = "hotline2025"
SEED = 12345
DAYS = 60

WORK_START = time(8, 30)  # units' office hours on working days
WORK_END = time(17, 30)
CENTRE_START = time(7, 30)  # dispatch and review desk (the line itself answers 24/7)
CENTRE_END = time(21, 30)
CALLBACK_START = time(9, 0)
CALLBACK_END = time(20, 0)

Steps = Generator[datetime, None, None]


def store_is_empty(engine: Engine) -> bool:
    with read_session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Unit)).one()) == 0


# ---------------------------------------------------------------- data files


def read_calls(path: Path | None = None) -> list[dict[str, Any]]:
    raw = tomllib.loads((path or DATA / "calls.toml").read_text(encoding="utf-8"))
    calls = raw.get("call")
    if not isinstance(calls, list):
        raise InvalidInput("演示来电文件缺少 [[call]] 表")
    return calls


def read_kb(path: Path | None = None) -> list[dict[str, Any]]:
    lines = (path or DATA / "kb.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_users(path: Path | None = None) -> list[dict[str, Any]]:
    raw = tomllib.loads((path or DATA / "users.toml").read_text(encoding="utf-8"))
    users = raw.get("user")
    if not isinstance(users, list):
        raise InvalidInput("演示用户文件缺少 [[user]] 表")
    return users


# ---------------------------------------------------------------- loading


def load_demo(engine: Engine, now: datetime) -> dict[str, int]:
    """Fill an empty, initialised store with the demo. Returns counts (units, users, KB, tickets by status)."""
    now = local(now).replace(microsecond=0)
    start = now - timedelta(days=DAYS + 1)
    clock = FixedClock(start.replace(hour=8, minute=0, second=0))
    policy = load_policy(active_policy_name(engine))
    base = Ctx(engine, policy, SYSTEM, clock)

    units_text = (DATA / "units.toml").read_text(encoding="utf-8")
    admin.import_units(base, admin.parse_units(units_text, "units.toml"))
    for u in read_users():
        admin.add_user(
            base,
            str(u["name"]),
            str(u["role"]),
            u.get("unit") or None,
            password=DEMO_PASSWORD,
            display_name=str(u.get("display_name", "")),
        )
    with write_session(engine) as s:  # the login screen tells a demo store's users the demo password
        s.add(Setting(key="demo", value="1"))
    kb_count = _insert_kb(engine, now)
    from hotline_tui.search import rebuild_index

    rebuild_index(engine)

    sim = _Sim(base, clock, now)
    refused = sim.run(read_calls())

    with read_session(engine) as s:
        statuses = Counter(s.exec(select(Ticket.status)).all())
        out: dict[str, int] = {
            "units": int(s.exec(select(func.count()).select_from(Unit)).one()),
            "users": int(s.exec(select(func.count()).select_from(User)).one()),
            "kb": kb_count,
            "tickets": sum(statuses.values()),
            "events": int(s.exec(select(func.count()).select_from(Event)).one()),
        }
        pending = Counter(s.exec(select(UnitRequest.kind).where(UnitRequest.status == "pending")).all())
    for status in (
        "new",
        "answered",
        "referred",
        "dispatched",
        "callback",
        "rehandling",
        "closed",
        "stopped",
    ):
        out[status] = statuses.get(status, 0)
    for kind in ("return", "extension", "stop", "appeal"):
        out[f"pending_{kind}"] = pending.get(kind, 0)
    out["refused"] = refused
    return out


def _insert_kb(engine: Engine, now: datetime) -> int:
    """KB entries have no service yet: rows are written directly, published, dated ``now``."""
    entries = read_kb()
    with write_session(engine) as s:
        units = {u.code: u.id for u in s.exec(select(Unit))}
        unknown = sorted({str(e["unit"]) for e in entries if e.get("unit") and e["unit"] not in units})
        if unknown:
            raise InvalidInput(f"演示知识库引用了不存在的单位：{'、'.join(unknown)}")
        for e in entries:
            s.add(
                KBEntry(
                    id=str(e["id"]),
                    title=str(e["title"]),
                    body=str(e["body"]),
                    keywords=[str(k) for k in e.get("keywords", [])],
                    category=str(e.get("category", "")),
                    unit_id=units.get(str(e["unit"])) if e.get("unit") else None,
                    valid_from=date.fromisoformat(e["valid_from"]) if e.get("valid_from") else None,
                    valid_to=date.fromisoformat(e["valid_to"]) if e.get("valid_to") else None,
                    source="演示数据",
                    status="published",
                    updated_at=now,
                )
            )
    return len(entries)


# ---------------------------------------------------------------- the simulation


@dataclass
class _Order:
    """One call being replayed: its data, its random stream and what the services returned so far."""

    call: dict[str, Any]
    rng: Random
    no: str = ""


class _Sim:
    def __init__(self, base: Ctx, clock: FixedClock, now: datetime) -> None:
        self.base = base
        self.now = now
        self.cal = base.calendar
        self.clock = clock
        self.refusals: list[str] = []
        with read_session(base.engine) as s:
            users = list(s.exec(select(User)))
            self.actors = {u.name: actor_for(s, u.name) for u in users}
            units = list(s.exec(select(Unit)))
        by_role: dict[str, list[str]] = {}
        for u in sorted(users, key=lambda x: x.name):
            by_role.setdefault(u.role, []).append(u.name)
        self.by_role = by_role
        self.unit_code = {u.id: u.code for u in units}
        parent = {u.code: self.unit_code.get(u.parent_id) if u.parent_id else None for u in units}
        liaison_unit = {
            self.unit_code[u.unit_id]: u.name for u in users if u.role == "liaison" and u.unit_id is not None
        }
        self.liaison: dict[str, str] = {}
        for code in parent:
            cur: str | None = code
            while cur is not None and cur not in liaison_unit:
                cur = parent.get(cur)
            if cur is not None:
                self.liaison[code] = liaison_unit[cur]

    # ------------------------------------------------------------ driver

    def run(self, calls: list[dict[str, Any]]) -> int:
        """Replay all calls in time order. Returns how many steps a service refused (0 when all is well)."""
        queue: list[tuple[datetime, int, Steps, _Order]] = []
        for i, call in enumerate(calls):
            order = _Order(call, Random(f"{SEED}-{call.get('id', i)}"))
            flow = FLOWS.get(str(call.get("flow", "")))
            if flow is None:
                raise InvalidInput(f"演示来电 {call.get('id')} 的 flow 未知：{call.get('flow')}")
            steps = flow(self, order)
            first = next(steps, None)
            if first is not None and first <= self.now:
                heapq.heappush(queue, (first, i, steps, order))
        refused = 0
        while queue:
            at, i, steps, order = heapq.heappop(queue)
            self.clock.set(at)
            try:
                nxt = steps.send(None)
            except StopIteration:
                continue
            except HotlineError as exc:
                refused += 1
                self.refusals.append(f"{order.call.get('id')} {order.no}: {exc.message}")
                log.warning("演示工单 %s 的步骤被拒绝：%s", order.call.get("id"), exc.message)
                continue
            nxt = max(local(nxt), at + timedelta(seconds=37))
            if nxt <= self.now:
                heapq.heappush(queue, (nxt, i, steps, order))
            else:
                steps.close()
        return refused

    def ctx(self, name: str) -> Ctx:
        return self.base.as_actor(self.actors[name])

    def pick(self, o: _Order, role: str) -> Ctx:
        return self.ctx(o.rng.choice(self.by_role[role]))

    def unit_ctx(self, code: str) -> Ctx:
        name = self.liaison.get(code)
        if name is None:
            raise InvalidInput(f"演示数据中单位 {code} 没有联络员")
        return self.ctx(name)

    def unit_of(self, assignment_id: int) -> str:
        with read_session(self.base.engine) as s:
            a = s.get(Assignment, assignment_id)
            assert a is not None
            return self.unit_code[a.unit_id]

    def open_assignments(self, no: str) -> list[Assignment]:
        with read_session(self.base.engine) as s:
            t = s.exec(select(Ticket).where(Ticket.no == no)).one()
            return list(
                s.exec(
                    select(Assignment)
                    .where(Assignment.ticket_id == t.id, col(Assignment.status).in_(("pending", "handling")))
                    .order_by(col(Assignment.id))
                )
            )

    def assignment(self, assignment_id: int) -> Assignment:
        with read_session(self.base.engine) as s:
            a = s.get(Assignment, assignment_id)
            assert a is not None
            return a

    # ------------------------------------------------------------ time

    def minutes(self, o: _Order, lo: float, hi: float) -> timedelta:
        return timedelta(minutes=o.rng.uniform(lo, hi))

    def workday(self, d: date) -> bool:
        return self.cal.is_workday(d)

    def _within(self, t: datetime, start: time, end: time, every_day: bool, o: _Order) -> datetime:
        """``t`` if inside the window, else the next window opening plus a few minutes."""
        t = local(t)
        ok_day = every_day or self.workday(t.date())
        if ok_day and start <= t.time() < end:
            return t
        d = t.date()
        if not (ok_day and t.time() < start):
            d += timedelta(days=1)
            while not (every_day or self.workday(d)):
                d += timedelta(days=1)
        opening = datetime.combine(d, start, t.tzinfo)
        closing = datetime.combine(d, end, t.tzinfo)
        return min(opening + self.minutes(o, 3, 200), closing - timedelta(minutes=7))

    def work(self, o: _Order, t: datetime) -> datetime:
        """A unit's office hour at or after ``t``."""
        return self._within(t, WORK_START, WORK_END, False, o)

    def centre(self, o: _Order, t: datetime) -> datetime:
        return self._within(t, CENTRE_START, CENTRE_END, True, o)

    def phoning(self, o: _Order, t: datetime) -> datetime:
        return self._within(t, CALLBACK_START, CALLBACK_END, True, o)

    def last_work(self, t: datetime) -> datetime:
        """The latest office-hour moment at or before ``t``."""
        t = local(t)
        d = t.date()
        if self.workday(d) and WORK_START <= t.time() < WORK_END:
            return t
        if not (self.workday(d) and t.time() >= WORK_END):
            d -= timedelta(days=1)
            while not self.workday(d):
                d -= timedelta(days=1)
        return datetime.combine(d, WORK_END, t.tzinfo) - timedelta(minutes=11)

    def workdays_back(self, t: datetime, n: int) -> datetime:
        t = self.last_work(t)
        d = t.date()
        for _ in range(n):
            d -= timedelta(days=1)
            while not self.workday(d):
                d -= timedelta(days=1)
        return datetime.combine(d, t.time(), t.tzinfo)

    def call_time(self, o: _Order, newest: float, oldest: float) -> datetime:
        """When the caller rang: a day ``newest``..``oldest`` days ago, mostly in the daytime."""
        day = (self.now - timedelta(days=o.rng.uniform(newest, oldest))).date()
        hour = o.rng.choices(
            range(24),
            weights=[1, 1, 1, 1, 1, 1, 3, 8, 14, 16, 15, 12, 9, 12, 14, 14, 12, 10, 8, 7, 6, 4, 3, 2],
        )[0]
        at = datetime.combine(day, time(hour), self.now.tzinfo) + self.minutes(o, 0, 59)
        return min(at, self.now - timedelta(minutes=30))

    def before_due(
        self, o: _Order, start: datetime, due: datetime, lo: float = 0.2, hi: float = 0.7
    ) -> datetime:
        """A moment in office hours between ``start`` and ``due`` (a fraction of the way), never past due."""
        start, due = local(start), local(due)
        span = due - start
        target = start + span * o.rng.uniform(lo, hi)
        at = self.work(o, target)
        if at >= due - timedelta(minutes=10):
            at = target
        return max(at, start + timedelta(minutes=5))

    # ------------------------------------------------------------ steps shared by the flows

    def form(self, o: _Order) -> intake.IntakeForm:
        c = o.call
        return intake.IntakeForm(
            type=str(c["type"]),
            channel=str(c.get("channel", "phone")),
            text=str(c["text"]),
            urgency=str(c.get("urgency", "normal")),
            caller_name="" if c.get("anonymous") else str(c.get("name", "")),
            caller_phone="" if c.get("anonymous") else str(c.get("phone", "")),
            caller_address=str(c.get("address", "")),
            district=str(c.get("district", "")),
            anonymous=bool(c.get("anonymous", False)),
            labels=tuple(c.get("labels", ())),
        )

    def create(self, o: _Order) -> None:
        o.no = intake.create_ticket(self.pick(o, "agent"), self.form(o)).no

    def dispatch_now(self, o: _Order, units: list[str]) -> list[Assignment]:
        return dispatch.dispatch(self.pick(o, "dispatcher"), o.no, units)

    def accept_at(self, o: _Order, a: Assignment, late: bool = False) -> datetime:
        dispatched = local(a.dispatched_at)
        if late:
            return self.work(o, dispatched + timedelta(hours=3) + self.minutes(o, 20, 600))
        if o.call.get("urgency") == "critical":
            return dispatched + self.minutes(o, 3, 12)
        return dispatched + self.minutes(o, 8, 110)

    def reply_text(self, o: _Order, key: str = "reply") -> str:
        text = o.call.get(key)
        if not isinstance(text, str) or not text:
            raise InvalidInput(f"演示来电 {o.call.get('id')} 缺少 {key}")
        return text

    def intake_steps(self, o: _Order, t0: datetime) -> Generator[datetime, None, list[Assignment]]:
        """Record the call, dispatch it; returns the assignments (``unit`` then ``co``)."""
        yield t0
        self.create(o)
        yield self.centre(o, t0 + self.minutes(o, 4, 40))
        return self.dispatch_now(o, [str(o.call["unit"]), *[str(u) for u in o.call.get("co", [])]])

    def handle_and_reply(
        self, o: _Order, a: Assignment, *, late: bool = False, key: str = "reply"
    ) -> Generator[datetime, None, None]:
        """Accept, then reply within the deadline."""
        yield self.accept_at(o, a, late)
        unit = self.unit_code[a.unit_id]
        handling.accept(self.unit_ctx(unit), a.id or 0)
        yield self.before_due(o, self.clock.now(), a.due_at)
        handling.reply(self.unit_ctx(unit), a.id or 0, self.reply_text(o, key))

    def approve(self, o: _Order, a: Assignment) -> Generator[datetime, None, None]:
        yield self.centre(o, self.clock.now() + self.minutes(o, 15, 240))
        review.review_reply(self.pick(o, "dispatcher"), a.id or 0, approve=True)

    def rate(
        self, o: _Order, satisfaction: str, words: str = "", reason: str = "", rehandle: bool | None = None
    ) -> Generator[datetime, None, None]:
        yield self.phoning(o, self.clock.now() + self.minutes(o, 90, 1900))
        callback.record_callback(
            self.pick(o, "callback"),
            o.no,
            reached=True,
            satisfaction=satisfaction,
            solved=satisfaction != "dissatisfied",
            words=words or _WORDS[satisfaction],
            reason=reason,
            rehandle=rehandle,
        )

    def contacted(self, at: datetime) -> str:
        at = local(at)
        return f"{at.month}月{at.day}日{at.hour}时{at.minute:02d}分电话联系诉求人"


# ---------------------------------------------------------------- flows

_WORDS = {
    "satisfied": "问题解决了，满意。",
    "basically_satisfied": "基本解决了，还行。",
    "dissatisfied": "问题没有解决。",
}


def _historical(sim: _Sim, o: _Order, newest: float = 14, oldest: float = DAYS - 2) -> datetime:
    return sim.call_time(o, newest, oldest)


def flow_new(sim: _Sim, o: _Order) -> Steps:
    yield sim.now - sim.minutes(o, 8, 170)
    sim.create(o)


def flow_answer(sim: _Sim, o: _Order) -> Steps:
    t0 = _historical(sim, o, 0.2)
    yield t0
    agent = sim.pick(o, "agent")
    o.no = intake.create_ticket(agent, sim.form(o)).no
    yield t0 + sim.minutes(o, 2, 7)
    note = "已按知识库条目向来电人答复，来电人表示清楚。"
    intake.answer_on_spot(agent, o.no, str(o.call["kb"]), note)


def flow_refer(sim: _Sim, o: _Order) -> Steps:
    t0 = _historical(sim, o, 0.5)
    yield t0
    agent = sim.pick(o, "agent")
    o.no = intake.create_ticket(agent, sim.form(o)).no
    yield t0 + sim.minutes(o, 1, 4)
    target = str(o.call["refer"])
    if target.isdigit():
        intake.refer(agent, o.no, "emergency", target, f"已三方转接{target}，来电人已与{target}接通。")
    else:
        intake.refer(agent, o.no, target, "", "已向来电人说明办理途径。")


def flow_pending(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.now - sim.minutes(o, 45, 160)
    yield t0
    sim.create(o)
    yield t0 + sim.minutes(o, 3, 25)
    sim.dispatch_now(o, [str(o.call["unit"])])


def flow_pending_late(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.now - timedelta(hours=o.rng.uniform(5, 30))
    yield t0
    sim.create(o)
    yield t0 + sim.minutes(o, 5, 30)
    sim.dispatch_now(o, [str(o.call["unit"])])


def flow_handling(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.workdays_back(sim.now, o.rng.choice((1, 1, 2))) - sim.minutes(o, 30, 90)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    unit = sim.unit_code[a.unit_id]
    handling.accept(sim.unit_ctx(unit), a.id or 0)
    yield sim.work(o, sim.clock.now() + sim.minutes(o, 60, 300))
    handling.add_note(sim.unit_ctx(unit), a.id or 0, "已与诉求人电话联系，约定时间现场查看。")


def flow_overdue(sim: _Sim, o: _Order) -> Steps:
    t0 = _historical(sim, o, 15, 28)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    unit = sim.unit_code[a.unit_id]
    handling.accept(sim.unit_ctx(unit), a.id or 0)
    yield sim.work(o, sim.clock.now() + timedelta(days=1))
    handling.add_note(sim.unit_ctx(unit), a.id or 0, "已现场查看，需协调相关方共同处理，正在联系产权单位。")


def flow_replied(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.workdays_back(sim.now, o.rng.choice((2, 3))) - sim.minutes(o, 20, 60)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    unit = sim.unit_code[a.unit_id]
    handling.accept(sim.unit_ctx(unit), a.id or 0)
    yield max(sim.last_work(sim.now - sim.minutes(o, 20, 200)), sim.clock.now() + timedelta(minutes=30))
    handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o))


def flow_callback(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.workdays_back(sim.now, o.rng.choice((3, 4))) - sim.minutes(o, 20, 60)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    unit = sim.unit_code[a.unit_id]
    handling.accept(sim.unit_ctx(unit), a.id or 0)
    yield sim.workdays_back(sim.now, 1)
    handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o))
    yield sim.clock.now() + sim.minutes(o, 20, 120)
    review.review_reply(sim.pick(o, "dispatcher"), a.id or 0, approve=True)


def _closed(
    satisfaction: str, *, late: bool = False, unreached: bool = False
) -> Callable[[_Sim, _Order], Steps]:
    def flow(sim: _Sim, o: _Order) -> Steps:
        (a,) = yield from sim.intake_steps(o, _historical(sim, o))
        yield from sim.handle_and_reply(o, a, late=late)
        yield from sim.approve(o, a)
        if o.call.get("anonymous"):
            return
        if unreached:
            for _ in range(3):
                yield sim.phoning(o, sim.clock.now() + timedelta(hours=o.rng.uniform(5, 26)))
                callback.record_callback(sim.pick(o, "callback"), o.no, reached=False)
            return
        yield from sim.rate(o, satisfaction, str(o.call.get("words", "")))

    return flow


def flow_anonymous(sim: _Sim, o: _Order) -> Steps:
    o.call = {**o.call, "anonymous": True}
    yield from _closed("satisfied")(sim, o)


def _request_return(sim: _Sim, o: _Order, a: Assignment, spec: dict[str, Any]) -> UnitRequest:
    fields = dict(spec.get("fields", spec))
    for key in ("to", "code", "note", "fields"):
        fields.pop(key, None)
    return handling.request_return(
        sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, str(spec.get("code", "not_our_duty")), fields
    )


def _return_window_step(sim: _Sim, o: _Order, a: Assignment) -> datetime:
    latest = local(a.return_due_at) - timedelta(minutes=5)
    return min(sim.clock.now() + sim.minutes(o, 15, 80), latest)


def flow_return_pending(sim: _Sim, o: _Order) -> Steps:
    anchor = sim.last_work(sim.now - sim.minutes(o, 10, 60))
    yield anchor - sim.minutes(o, 110, 150)
    sim.create(o)
    yield anchor - sim.minutes(o, 80, 100)
    (a,) = sim.dispatch_now(o, [str(o.call["unit"])])
    yield anchor - sim.minutes(o, 40, 60)
    handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
    yield anchor
    _request_return(sim, o, a, o.call["ret"])


def flow_return_decided(approve: bool) -> Callable[[_Sim, _Order], Steps]:
    def flow(sim: _Sim, o: _Order) -> Steps:
        spec = o.call["ret"]
        (a,) = yield from sim.intake_steps(o, _historical(sim, o, 16))
        yield sim.accept_at(o, a)
        handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
        yield _return_window_step(sim, o, a)
        req = _request_return(sim, o, a, spec)
        yield sim.centre(o, sim.clock.now() + sim.minutes(o, 20, 150))
        reviewer = sim.pick(o, "dispatcher")
        if approve and "to" not in spec:
            # the KB already answers it: the centre takes it back and answers the caller itself
            review.review_return(
                reviewer, req.id or 0, approve=True, note="知识库已有明确答复，由中心直接答复。"
            )
            yield sim.clock.now() + sim.minutes(o, 10, 90)
            intake.answer_on_spot(sim.pick(o, "agent"), o.no, str(o.call["kb"]), "已回电按知识库答复来电人。")
            return
        if approve:
            to = str(spec["to"])
            review.review_return(
                reviewer, req.id or 0, approve=True, note="退单理由成立，改派。", redispatch_to=[to]
            )
            (a,) = sim.open_assignments(o.no)
        else:
            review.review_return(reviewer, req.id or 0, approve=False, note=str(spec["note"]))
        if approve:
            yield from sim.handle_and_reply(o, a)
        else:
            yield sim.before_due(o, sim.clock.now(), a.due_at, 0.3, 0.7)
            handling.reply(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, sim.reply_text(o))
        yield from sim.approve(o, a)
        yield from sim.rate(o, "satisfied")

    return flow


def flow_designated(sim: _Sim, o: _Order) -> Steps:
    (a,) = yield from sim.intake_steps(o, _historical(sim, o, 20))
    rets: list[dict[str, Any]] = o.call["rets"]
    for i, spec in enumerate(rets):
        yield sim.accept_at(o, a)
        handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
        yield _return_window_step(sim, o, a)
        req = _request_return(sim, o, a, spec)
        yield sim.centre(o, sim.clock.now() + sim.minutes(o, 20, 150))
        reviewer = sim.pick(o, "dispatcher")
        if i < len(rets) - 1:
            review.review_return(
                reviewer, req.id or 0, approve=True, note="同意退回，改派。", redispatch_to=[str(spec["to"])]
            )
        else:
            review.review_return(
                reviewer,
                req.id or 0,
                approve=True,
                note="该工单已退回三次，经征求意见后指定承办单位。",
                redispatch_to=[str(o.call["designate_to"])],
                designate=True,
                consulted=str(o.call["consulted"]),
            )
        (a,) = sim.open_assignments(o.no)
    yield from sim.handle_and_reply(o, a)
    yield from sim.approve(o, a)
    yield from sim.rate(o, "satisfied")


def _request_extension(sim: _Sim, o: _Order, a: Assignment) -> UnitRequest:
    spec = o.call["ext"]
    return handling.request_extension(
        sim.unit_ctx(sim.unit_code[a.unit_id]),
        a.id or 0,
        reason=str(spec["reason"]),
        contacted_at=sim.contacted(sim.clock.now() - sim.minutes(o, 30, 200)),
        caller_consent=True,
        caller_opinion=str(spec["opinion"]),
    )


def flow_ext_pending(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.workdays_back(sim.now, 1) - sim.minutes(o, 30, 60)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
    yield max(sim.last_work(sim.now - sim.minutes(o, 10, 90)), sim.clock.now() + timedelta(minutes=20))
    _request_extension(sim, o, a)


def flow_ext_decided(approve: bool) -> Callable[[_Sim, _Order], Steps]:
    def flow(sim: _Sim, o: _Order) -> Steps:
        (a,) = yield from sim.intake_steps(o, _historical(sim, o, 22))
        yield sim.accept_at(o, a)
        handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
        yield sim.before_due(o, sim.clock.now(), local(a.due_at) - timedelta(days=2), 0.2, 0.6)
        req = _request_extension(sim, o, a)
        yield sim.centre(o, sim.clock.now() + sim.minutes(o, 20, 180))
        reviewer = sim.pick(o, "dispatcher")
        if approve:
            review.review_extension(reviewer, req.id or 0, approve=True, note="延期理由充分，同意延期。")
        else:
            review.review_extension(reviewer, req.id or 0, approve=False, note=str(o.call["ext"]["note"]))
        a = sim.assignment(a.id or 0)
        low = 0.55 if approve else 0.3
        yield sim.before_due(o, sim.clock.now(), a.due_at, low, 0.85)
        handling.reply(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, sim.reply_text(o))
        yield from sim.approve(o, a)
        yield from sim.rate(o, "satisfied")

    return flow


def _request_stop(sim: _Sim, o: _Order, a: Assignment) -> UnitRequest:
    spec = o.call["stop"]
    return handling.request_stop(
        sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, str(spec["code"]), str(spec["materials"])
    )


def flow_stop_pending(sim: _Sim, o: _Order) -> Steps:
    t0 = sim.workdays_back(sim.now, 2) - sim.minutes(o, 30, 60)
    (a,) = yield from sim.intake_steps(o, t0)
    yield sim.accept_at(o, a)
    handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
    yield max(sim.last_work(sim.now - sim.minutes(o, 10, 90)), sim.clock.now() + timedelta(minutes=20))
    _request_stop(sim, o, a)


def flow_stop_decided(approve: bool) -> Callable[[_Sim, _Order], Steps]:
    def flow(sim: _Sim, o: _Order) -> Steps:
        (a,) = yield from sim.intake_steps(o, _historical(sim, o, 16))
        yield sim.accept_at(o, a)
        unit = sim.unit_code[a.unit_id]
        handling.accept(sim.unit_ctx(unit), a.id or 0)
        yield sim.before_due(o, sim.clock.now(), a.due_at, 0.1, 0.3)
        handling.add_note(sim.unit_ctx(unit), a.id or 0, "已多次联系诉求人，正在整理沟通记录和相关材料。")
        yield sim.before_due(o, sim.clock.now(), a.due_at, 0.1, 0.4)
        req = _request_stop(sim, o, a)
        yield sim.centre(o, sim.clock.now() + sim.minutes(o, 30, 240))
        reviewer = sim.pick(o, "dispatcher")
        if approve:
            review.review_stop(reviewer, req.id or 0, approve=True, note="材料齐全，同意终止办理。")
            return
        review.review_stop(reviewer, req.id or 0, approve=False, note=str(o.call["stop"]["note"]))
        yield sim.before_due(o, sim.clock.now(), a.due_at, 0.3, 0.7)
        handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o))
        yield from sim.approve(o, a)
        yield from sim.rate(o, "satisfied")

    return flow


def flow_sent_back(sim: _Sim, o: _Order) -> Steps:
    (a,) = yield from sim.intake_steps(o, _historical(sim, o, 16))
    yield sim.accept_at(o, a)
    unit = sim.unit_code[a.unit_id]
    handling.accept(sim.unit_ctx(unit), a.id or 0)
    yield sim.before_due(o, sim.clock.now(), a.due_at, 0.15, 0.4)
    handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o))
    yield sim.centre(o, sim.clock.now() + sim.minutes(o, 20, 150))
    review.review_reply(sim.pick(o, "dispatcher"), a.id or 0, approve=False, note=str(o.call["note"]))
    yield sim.before_due(o, sim.clock.now(), a.due_at, 0.3, 0.7)
    handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o, "reply2"))
    yield from sim.approve(o, a)
    yield from sim.rate(o, "satisfied")


def _dissatisfied_once(sim: _Sim, o: _Order, newest: float) -> Generator[datetime, None, Assignment]:
    (a,) = yield from sim.intake_steps(o, _historical(sim, o, newest, min(DAYS - 2, newest + 30)))
    yield from sim.handle_and_reply(o, a)
    yield from sim.approve(o, a)
    yield from sim.rate(
        o, "dissatisfied", str(o.call.get("words", "")), str(o.call.get("reason", "unsolved"))
    )
    return sim.assignment(a.id or 0)


def flow_rehandling(sim: _Sim, o: _Order) -> Steps:
    yield from _dissatisfied_once(sim, o, 8)
    # still re-handling at ``now``: nothing more happens


def flow_rehandled(sim: _Sim, o: _Order, final: str = "satisfied") -> Steps:
    a = yield from _dissatisfied_once(sim, o, 22)
    unit = sim.unit_code[a.unit_id]
    yield sim.before_due(o, sim.clock.now(), a.due_at, 0.25, 0.7)
    handling.reply(sim.unit_ctx(unit), a.id or 0, sim.reply_text(o, "reply2"))
    yield from sim.approve(o, a)
    if final == "satisfied":
        yield from sim.rate(o, "satisfied", str(o.call.get("words2", "")))
        return
    yield from sim.rate(
        o, "dissatisfied", str(o.call.get("words2", "")), str(o.call.get("reason", "unsolved"))
    )
    spec = o.call.get("appeal")
    if not spec:
        return
    yield sim.work(o, sim.clock.now() + timedelta(hours=o.rng.uniform(16, 40)))
    req = appeal.appeal(sim.unit_ctx(unit), a.id or 0, str(spec["explanation"]), str(spec["evidence"]))
    if spec.get("status") == "pending":
        return
    yield sim.centre(o, sim.clock.now() + timedelta(hours=o.rng.uniform(20, 60)))
    reviewer = sim.pick(o, "supervisor")
    if spec["status"] == "accepted":
        appeal.review_appeal(
            reviewer, req.id or 0, accept=True, note="承办单位已履行职责，申诉成立，不予扣分。"
        )
    else:
        appeal.review_appeal(reviewer, req.id or 0, accept=False, note=str(spec["note"]))


def flow_dissatisfied(sim: _Sim, o: _Order) -> Steps:
    yield from flow_rehandled(sim, o, final="dissatisfied")


def flow_dissatisfied_policy(sim: _Sim, o: _Order) -> Steps:
    (a,) = yield from sim.intake_steps(o, _historical(sim, o))
    yield from sim.handle_and_reply(o, a)
    yield from sim.approve(o, a)
    yield from sim.rate(o, "dissatisfied", str(o.call.get("words", "")), "policy", rehandle=False)


def flow_lead_co(sim: _Sim, o: _Order) -> Steps:
    lead, *cos = yield from sim.intake_steps(o, _historical(sim, o, 16))
    for a in [lead, *cos]:
        yield sim.accept_at(o, a)
        handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
    for a in cos:
        yield sim.before_due(o, sim.clock.now(), lead.due_at, 0.1, 0.35)
        handling.reply(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, sim.reply_text(o, "co_reply"))
    yield sim.before_due(o, sim.clock.now(), lead.due_at, 0.2, 0.6)
    handling.reply(sim.unit_ctx(sim.unit_code[lead.unit_id]), lead.id or 0, sim.reply_text(o))
    yield from sim.approve(o, lead)
    yield from sim.rate(o, "satisfied")


def flow_split(sim: _Sim, o: _Order) -> Steps:
    t0 = _historical(sim, o, 16)
    yield t0
    sim.create(o)
    yield sim.centre(o, t0 + sim.minutes(o, 5, 40))
    parts: list[dict[str, Any]] = o.call["parts"]
    numbers = dispatch.split_dispatch(
        sim.pick(o, "dispatcher"), o.no, [(str(p["unit"]), str(p["text"])) for p in parts]
    )
    orders = [
        _Order({**o.call, "reply": p["reply"]}, o.rng, no) for p, no in zip(parts, numbers, strict=True)
    ]
    assignments = [sim.open_assignments(x.no)[0] for x in orders]
    for x, a in zip(orders, assignments, strict=True):
        yield sim.accept_at(x, a)
        handling.accept(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0)
    for x, a in zip(orders, assignments, strict=True):
        yield sim.before_due(x, sim.clock.now(), a.due_at, 0.15, 0.45)
        handling.reply(sim.unit_ctx(sim.unit_code[a.unit_id]), a.id or 0, sim.reply_text(x))
    for x, a in zip(orders, assignments, strict=True):
        yield from sim.approve(x, a)
    for x in orders:
        yield from sim.rate(x, "satisfied")


FLOWS: dict[str, Callable[[_Sim, _Order], Steps]] = {
    "new": flow_new,
    "answer": flow_answer,
    "refer": flow_refer,
    "pending": flow_pending,
    "pending_late": flow_pending_late,
    "handling": flow_handling,
    "overdue": flow_overdue,
    "replied": flow_replied,
    "callback": flow_callback,
    "unreached": _closed("satisfied", unreached=True),
    "satisfied": _closed("satisfied"),
    "basic": _closed("basically_satisfied"),
    "late_accept": _closed("satisfied", late=True),
    "anonymous": flow_anonymous,
    "return_pending": flow_return_pending,
    "return_approved": flow_return_decided(True),
    "return_rejected": flow_return_decided(False),
    "designated": flow_designated,
    "ext_pending": flow_ext_pending,
    "ext_approved": flow_ext_decided(True),
    "ext_rejected": flow_ext_decided(False),
    "stop_pending": flow_stop_pending,
    "stop_approved": flow_stop_decided(True),
    "stop_rejected": flow_stop_decided(False),
    "sent_back": flow_sent_back,
    "rehandling": flow_rehandling,
    "rehandled": flow_rehandled,
    "dissatisfied": flow_dissatisfied,
    "dissatisfied_policy": flow_dissatisfied_policy,
    "lead_co": flow_lead_co,
    "split": flow_split,
}
