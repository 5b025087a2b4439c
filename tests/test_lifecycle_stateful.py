"""The work-order lifecycle as a hypothesis state machine (DESIGN.md "The work order").

Random sequences of valid and invalid actions, by the right and the wrong roles, go through the real
services on a fresh SQLite store per example; the clock moves by minutes to days, across weekends and
the 2025 Spring Festival / National Day holidays. After every action the store is read back and checked:

- a successful action adds exactly one event (split dispatch: one per resulting ticket); a refused one
  adds none and changes no ticket, assignment or request row; any exception that is not a domain
  refusal (``HotlineError`` subclass) fails the test;
- deadlines move only by a rule: an approved extension adds the original period to the current deadline
  (GZ 18; TTR 14), a first dissatisfied callback restarts the original period for the re-handling
  (T24 18; GZ 20), a new dispatch starts a new period (GZ 15(1)); a rejected return (GZ 15(2)), a
  rejected extension or a sent-back reply (GZ 19) leaves ``due_at`` alone;
- one pending request of a kind per assignment; at most ``max_count`` approved extensions (GZ 18);
  no extension of a re-handling (GZ 20); a designated unit never asks to return (T24 17; GZ 16);
  ``ticket.returns`` is the number of approved returns;
- the event hash chain is intact (T24 27; T15 14); the ticket status agrees with its assignments, and
  an order in handling is never at a dead end (someone can still move it);
- an entitled user is never refused for lack of rights; anybody else is always refused.

``test_scripted_lifecycle_covers_every_action`` drives the same machine by hand through every action and
outcome (deterministic); ``test_random_runs_covered_every_action`` checks that the random runs made every
kind of action succeed and be refused. The tests after the scripted one are minimal reproductions of
bugs the machine found, kept as regressions.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import col, select

from hotline_tui.clock import TZ
from hotline_tui.db import make_engine, read_session
from hotline_tui.errors import HotlineError, PermissionDenied
from hotline_tui.models import ACTIVE_ASSIGNMENT, Assignment, ChainHead, Event, Ticket, Unit, UnitRequest
from hotline_tui.services import appeal as appeal_svc
from hotline_tui.services import callback, dispatch, handling, intake, review
from hotline_tui.services.core import Ctx, actor_for, event_digest, load_calendar
from hotline_tui.workdays import PeriodUnit
from tests.conftest import World, seed

# ---------------------------------------------------------------- the cast

USERS = ("agent1", "disp1", "cb1", "sup1", "admin1", "kb1", "cg", "zm", "zj", "jt", "ys", "sw")
INTAKE = frozenset({"agent1", "disp1", "sup1"})  # T24 14: the centre's agents take calls
DISPATCHERS = frozenset({"agent1", "disp1", "sup1"})  # T24 15
REVIEWERS = frozenset({"disp1", "sup1"})  # T24 17; GZ 15, 18, 19: the centre decides
CALLBACKS = frozenset({"cb1", "sup1"})  # T24 18
# liaison officers and the units they act for (a unit and its sub-units)
SCOPE = {
    "cg": frozenset({"HX-CG", "HX-CG-ZM"}),
    "zm": frozenset({"HX-CG-ZM"}),
    "zj": frozenset({"HX-ZJ"}),
    "jt": frozenset({"JTW", "JTW-YS"}),
    "ys": frozenset({"JTW-YS"}),
    "sw": frozenset({"SW"}),
}
HANDLING_UNITS = ("HX-CG", "HX-CG-ZM", "HX-ZJ", "JTW", "JTW-YS", "SW")
DISPATCH_TARGETS = HANDLING_UNITS + HANDLING_UNITS + ("HX", "CENTRE", "NO-SUCH-UNIT")

# ---------------------------------------------------------------- inputs

STARTS = (
    "2025-01-24T16:00:00",  # Friday before the Spring Festival (Sun 01-26 is a 调休 working day)
    "2025-01-26T09:30:00",  # the 调休 Sunday
    "2025-01-29T10:00:00",  # Spring Festival holiday
    "2025-03-14T17:45:00",  # an ordinary Friday evening
    "2025-09-30T17:00:00",  # eve of National Day
    "2025-10-03T14:00:00",  # National Day holiday
    "2025-12-31T22:00:00",  # across the year end
)
TYPES = ("complaint", "complaint", "handle", "handle", "help", "report", "suggestion", "feedback", "consult")
CHANNELS = ("phone", "phone", "phone", "web", "wechat", "email", "miniprogram", "12328", "zmlj")
URGENCIES = ("normal", "normal", "normal", "urgent", "very_urgent", "critical")
LABELS = ("互联网+督查", "营商环境监督员", "中国政府网留言", "重大舆情", "突发事件")
TEXTS = (
    "河西区友谊路与围堤道交口路灯连续一周不亮，夜间出行不安全",
    "小区门口占道经营严重，早晚高峰车辆无法通行",
    "楼道内自来水管漏水三天，物业不予处理",
    "出租车司机绕路多收费，要求退还多收车费",
    "路灯",  # too short: refused at intake
)
GOOD_REPLIES = (
    "1月27日9时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。",
    "2月5日10时，工作人员李强（联系电话13812345678）与诉求人取得联系并上门查看，经核查系管道接口老化，"
    "已于当日更换管道接口并恢复供水，诉求人对处理结果表示认可。",
)
BAD_REPLIES = (  # TTR 16(4)(5)(6)(3), GZ 19
    "已解决",
    "已联系",
    "正在办理中，请您耐心等待。",
    "已与您取得联系，感谢您对我们工作的支持。",
    "经核实，该事项不属于我单位职责，建议向其他部门反映。",
    "",
)
RETURN_FIELDS: dict[str, tuple[dict[str, Any], ...]] = {  # TTR 8(3): each reason with what it must state
    "not_our_duty": (
        {
            "reason": "该事项属于区住建委职责",
            "basis": "《天津市物业管理条例》第十条",
            "suggested_unit": "HX-ZJ",
        },
        {"reason": "该事项属于区住建委职责"},  # basis and suggested unit missing
    ),
    "info_missing": ({"items": ["具体门牌号", "诉求人联系方式"]}, {"items": []}),
    "repeat_with_result": ({"earlier_results": "TJ20241201-000001 已于12月5日办结并答复"}, {}),
    "kb_answers": ({"kb_entry": "KB-DOES-NOT-EXIST"},),  # there is no KB in this store: always refused
    "legal_procedure": ({"document_numbers": "（2025）津0103民初123号"}, {"document_numbers": " "}),
    "no_such_reason": ({"reason": "不想办"},),
}
LABEL_FIELDS: tuple[dict[str, str], ...] = (
    {},
    {"inspection_consent": "市政府督查室1月25日同意退回"},  # TTR 13
    {"caller_informed": "已向反映人说明退回原因"},
)
NOTES = ("", "理由不充分，请继续办理")
ASSIGNMENT_ALL = ("pending", "handling", "replied", "approved", "returned", "stopped", "cancelled")
DISSATISFIED_REASONS = ("", "unsolved", "policy", "other", "staff_attitude", "not_contacted", "bogus")

WHO = st.integers(0, 99)  # < 75: a user entitled to act; else anybody (often the wrong role or unit)
PICK = st.integers(0, 10_000)
SEED = st.integers(0, 2**32 - 1)  # the choices of one run along the natural path
DELTAS = st.one_of(
    st.integers(1, 180).map(lambda m: timedelta(minutes=m)),
    st.integers(1, 48).map(lambda h: timedelta(hours=h)),
    st.integers(1, 6).map(lambda d: timedelta(days=d)),
    st.integers(1, 5).map(lambda d: timedelta(days=d, hours=7, minutes=59, seconds=59)),
)

# ---------------------------------------------------------------- what the runs did

SUCCEEDED: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()
RANDOM_RUNS = [0]
MACHINE_PASSED = [False]

# every successful action must produce exactly these event kinds
EVENT_KINDS = {
    "create": {"created"},
    "dispatch": {"dispatched"},
    "designate": {"designated"},
    "split_dispatch": {"dispatched", "split_created"},
    "accept": {"accepted"},
    "request_return": {"return_requested"},
    "review_return": {"return_approved", "return_rejected"},
    "request_extension": {"extension_requested"},
    "review_extension": {"extension_approved", "extension_rejected"},
    "request_stop": {"stop_requested"},
    "review_stop": {"stop_approved", "stop_rejected"},
    "reply": {"replied"},
    "review_reply": {"reply_approved", "reply_sent_back"},
    "callback": {"callback"},
    "appeal": {"appeal_requested"},
    "review_appeal": {"appeal_accepted", "appeal_rejected"},
    "answer_on_spot": {"answered"},
}
# outcomes (keyed by the event kind, callbacks by their result) that must each have happened
REQUIRED_OUTCOMES = (
    "created",
    "dispatched",
    "designated",
    "split_created",
    "accepted",
    "return_requested",
    "return_approved",
    "return_rejected",
    "extension_requested",
    "extension_approved",
    "extension_rejected",
    "stop_requested",
    "stop_approved",
    "stop_rejected",
    "replied",
    "reply_approved",
    "reply_sent_back",
    "callback:satisfied",
    "callback:dissatisfied:rehandle",
    "callback:dissatisfied:closed",
    "callback:unreached",
    "appeal_requested",
    "appeal_accepted",
    "appeal_rejected",
)


@dataclass(frozen=True)
class Snap:
    """The store at one moment: raw rows (for "nothing changed") and loaded objects (for the rules)."""

    rows: tuple[tuple[tuple[Any, ...], ...], ...]
    event_rows: tuple[tuple[Any, ...], ...]
    events: list[Event]
    tickets: dict[int, Ticket]
    assignments: dict[int, Assignment]
    requests: dict[int, UnitRequest]
    head: ChainHead | None

    @property
    def counted_events(self) -> list[Event]:
        return [e for e in self.events if e.kind != "pii_viewed"]  # audit of personal-data views


_TEMPLATE: list[str] = []


def seeded_template() -> str:
    """One store seeded by conftest.seed (units, users) per session; each example starts from a copy."""
    if not _TEMPLATE:
        tmp = tempfile.mkdtemp(prefix="hotline-sm-template-")
        atexit.register(shutil.rmtree, tmp, True)
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        seed(engine)
        engine.dispose()
        with closing(sqlite3.connect(f"{tmp}/store.db", isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file before copying
        _TEMPLATE.append(f"{tmp}/store.db")
    return _TEMPLATE[0]


def note_event(text: str) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``); the scripted test runs outside hypothesis."""
    if currently_in_test_context():
        event(text)


def outcome_of(ev: Event) -> str:
    if ev.kind != "callback":
        return ev.kind
    p = ev.payload
    if not p.get("reached"):
        return "callback:unreached"
    if p.get("satisfaction") != "dissatisfied":
        return "callback:satisfied"
    return "callback:dissatisfied:rehandle" if p.get("rehandle") else "callback:dissatisfied:closed"


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="hotline-sm-")
        shutil.copyfile(seeded_template(), f"{self.tmp}/store.db")
        self.engine = make_engine(f"sqlite:///{self.tmp}/store.db")
        self.world = World(self.engine, "tianjin", "sqlite")
        self.policy = self.world.policy
        self.cal = load_calendar(self.engine)
        self.ctxs: dict[str, Ctx] = {}
        with read_session(self.engine) as s:
            self.unit_code = {u.id: u.code for u in s.exec(select(Unit)) if u.id is not None}
        self.succeeded: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.record_global = True
        self.tickets: list[str] = []
        self.verified: set[tuple[Any, ...]] = set()  # event rows whose hash was recomputed
        self.snap = self._snapshot(None)

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.record_global:
            SUCCEEDED.update(self.succeeded)
            REFUSED.update(self.refused)
            RANDOM_RUNS[0] += 1

    # ------------------------------------------------------------ plumbing

    def now(self) -> datetime:
        return self.world.clock.now().replace(microsecond=0)

    def ctx(self, user: str) -> Ctx:
        if user not in self.ctxs:
            with read_session(self.engine) as s:
                actor = actor_for(s, user)
            self.ctxs[user] = Ctx(self.engine, self.policy, actor, self.world.clock)
        return self.ctxs[user]

    def _snapshot(self, previous: Snap | None) -> Snap:
        with read_session(self.engine) as s:
            conn = s.connection()
            rows = tuple(
                tuple(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id"))
                for table in ("ticket", "assignment", "unitrequest")
            )
            event_rows = tuple(tuple(r) for r in conn.exec_driver_sql("SELECT * FROM event ORDER BY id"))
            # load only the events that are new or differ from the previous snapshot
            known = {} if previous is None else dict(zip(previous.event_rows, previous.events, strict=True))
            fresh = [r[0] for r in event_rows if r not in known]
            loaded = {e.id: e for e in s.exec(select(Event).where(col(Event.id).in_(fresh)))} if fresh else {}
            events = [known[r] if r in known else loaded[r[0]] for r in event_rows]
            return Snap(
                rows,
                event_rows,
                events,
                {t.id: t for t in s.exec(select(Ticket)) if t.id is not None},
                {a.id: a for a in s.exec(select(Assignment)) if a.id is not None},
                {r.id: r for r in s.exec(select(UnitRequest)) if r.id is not None},
                s.get(ChainHead, 1),
            )

    @staticmethod
    def who(n: int, right: frozenset[str] | tuple[str, ...]) -> str:
        pool = sorted(right)
        if n < 75 and pool:
            return pool[n % len(pool)]
        return USERS[n % len(USERS)]

    def liaisons_for(self, assignment: Assignment) -> frozenset[str]:
        code = self.unit_code[assignment.unit_id]
        return frozenset(u for u, units in SCOPE.items() if code in units)

    def attempt(
        self,
        action: str,
        user: str,
        allowed: bool,
        call: Callable[[Ctx], object],
        *,
        events: int = 1,
        check: Callable[[Snap, Snap], None] | None = None,
    ) -> bool:
        """Run one service call as ``user`` and check what it did to the store."""
        before = self.snap
        try:
            call(self.ctx(user))
        except HotlineError as exc:
            # a bare HotlineError is a database failure (describe_operational_error), not a refusal
            assert type(exc) is not HotlineError, f"{action} by {user}: database error {exc}"
            after = self._snapshot(before)
            assert len(after.counted_events) == len(before.counted_events), (
                f"refused {action} by {user} ({exc}) still recorded an event"
            )
            assert after.rows == before.rows, f"refused {action} by {user} ({exc}) changed rows"
            # an entitled user is never told they lack the right (only the state or the input can refuse)
            assert not (allowed and isinstance(exc, PermissionDenied)), f"{action} by {user}: {exc}"
            self.refused[action] += 1
            note_event(f"{action}: refused")
            self.snap = after
            self._check_store(after)
            return False
        after = self._snapshot(before)
        self.snap = after
        assert allowed, f"{user} is not entitled to {action}, yet it succeeded"
        new = after.counted_events[len(before.counted_events) :]
        assert len(new) == events, f"{action} recorded {len(new)} events, expected {events}"
        assert {e.kind for e in new} <= EVENT_KINDS[action], f"{action} recorded {[e.kind for e in new]}"
        assert all(e.at == self.now() and e.actor == user for e in new)
        self._check_deadlines(action, before, after)
        if check is not None:
            check(before, after)
        self.succeeded[action] += 1
        note_event(f"{action}: ok")
        for e in new:
            self.succeeded[outcome_of(e)] += 1
        self._check_store(after)
        return True

    # ------------------------------------------------------------ invariants

    def plus_period(self, start: datetime, a: Assignment) -> datetime:
        """``start`` + the assignment's original period, by the profile's start rule (DESIGN.md "Time")."""
        unit = cast(PeriodUnit, a.period_unit)
        return self.cal.add(start, a.period_amount, unit, self.policy.wd_start).due_at

    def _check_deadlines(self, action: str, before: Snap, after: Snap) -> None:
        """Assignment.due_at moves only by a rule."""
        now = self.now()
        approved_ext = {
            r.assignment_id
            for rid, r in after.requests.items()
            if r.kind == "extension"
            and r.status == "approved"
            and rid in before.requests
            and before.requests[rid].status == "pending"
        }
        assert action == "review_extension" or not approved_ext
        for aid, a in after.assignments.items():
            b = before.assignments.get(aid)
            t = after.tickets[a.ticket_id]
            if b is None:
                # a new dispatch starts the period from now (T24 16; TTR 11(4); GZ 15(1) after a return)
                assert action in ("dispatch", "designate", "split_dispatch", "review_return"), action
                rule_ = self.policy.deadline_rule(t.channel, t.type, t.urgency)
                assert (a.period_amount, a.period_unit) == (rule_.period.amount, rule_.period.unit)
                assert a.dispatched_at == now
                assert a.due_at == self.plus_period(now, a)
                assert a.extensions == 0 and a.rehandles == 0
                continue
            assert (a.period_amount, a.period_unit) == (b.period_amount, b.period_unit)
            if aid in approved_ext:
                # GZ 18; TTR 14: + the original period, counted from the current deadline, at most max_count
                assert not b.rehandling, "an extension was approved for a re-handling (GZ 20)"
                assert a.extensions == b.extensions + 1 <= self.policy.extension.max_count
                expected = self.plus_period(b.due_at, b)
                assert a.due_at == expected, f"extension moved {b.due_at} to {a.due_at}, rule says {expected}"
                continue
            assert a.extensions == b.extensions
            if a.due_at == b.due_at:
                continue
            # T24 18 第二款; GZ 20: the first dissatisfied callback sends it back once, original period from now
            assert action == "callback", f"{action} moved the deadline of assignment {aid}"
            assert a.rehandling and a.rehandles == b.rehandles + 1 and t.dissatisfied_count == 1
            assert a.due_at == self.plus_period(now, a)

    def _check_store(self, snap: Snap) -> None:
        # the hash chain (T24 27: records cannot be altered unseen)
        prev = ""
        for row, ev in zip(snap.event_rows, snap.events, strict=True):
            assert ev.prev_hash == prev, f"event {ev.id}: chain broken"
            if row not in self.verified:  # an unchanged row was verified before
                assert ev.hash == event_digest(prev, ev), f"event {ev.id}: hash does not match"
                self.verified.add(row)
            prev = ev.hash
        assert snap.head is not None and snap.head.last_hash == prev

        reqs_of: dict[int, list[UnitRequest]] = {}
        for r in snap.requests.values():
            reqs_of.setdefault(r.assignment_id, []).append(r)
            assert (r.status == "pending") == (r.decided_at is None)
        by_ticket: dict[int, list[Assignment]] = {}
        ext = self.policy.extension
        for aid, a in snap.assignments.items():
            by_ticket.setdefault(a.ticket_id, []).append(a)
            reqs = reqs_of.get(aid, [])
            for kind in ("return", "extension", "stop"):
                pending = [r for r in reqs if r.kind == kind and r.status == "pending"]
                assert len(pending) <= 1, f"assignment {aid}: {len(pending)} pending {kind} requests"
            assert len([r for r in reqs if r.kind == "appeal"]) <= 1
            approved_ext = [r for r in reqs if r.kind == "extension" and r.status == "approved"]
            assert a.extensions == len(approved_ext) <= ext.max_count  # GZ 18: at most twice
            if a.designated:  # T24 17 第三款; GZ 16: a designated unit cannot return
                assert not [r for r in reqs if r.kind == "return"], (
                    f"designated assignment {aid} asked to return"
                )
            assert a.rehandles <= self.policy.callback.rehandle_max  # GZ 20: once
            assert a.rehandling == (a.rehandles > 0)
            assert (a.status in ACTIVE_ASSIGNMENT) == (a.closed_at is None), (aid, a.status, a.closed_at)
            if a.status in ("replied", "approved"):
                assert a.reply_text and a.replied_at is not None

        for tid, t in snap.tickets.items():
            rows = by_ticket.get(tid, [])
            approved_returns = [
                r
                for r in snap.requests.values()
                if r.ticket_id == tid and r.kind == "return" and r.status == "approved"
            ]
            assert t.returns == len(approved_returns), (
                f"{t.no}: returns {t.returns} != {len(approved_returns)}"
            )
            live = [a for a in rows if a.status not in ("returned", "cancelled")]
            active = [a for a in live if a.status in ACTIVE_ASSIGNMENT]
            where = f"{t.no} is {t.status} with assignments {[(a.role, a.status) for a in rows]}"
            if t.status in ("answered", "referred"):
                assert not rows, where
            elif t.status == "new":
                assert not live, where
            elif t.status == "dispatched":
                assert active and not any(a.rehandling for a in live), where
            elif t.status == "rehandling":
                assert active and any(a.rehandling for a in live), where
            elif t.status in ("callback", "closed"):
                assert live and not active, where
            elif t.status == "stopped":
                assert live and all(a.status == "stopped" for a in live), where
            else:
                raise AssertionError(where)
            terminal = t.status in ("answered", "referred", "closed", "stopped")
            assert terminal == (t.closed_at is not None), f"{where}, closed_at {t.closed_at}"
            if t.status in ("dispatched", "rehandling"):
                # no dead end: a unit can still act, or the centre can review a lead's or single unit's reply
                # (a co-unit's reply is reviewed through its live lead, TTR 9; without one, by itself)
                live_lead = any(a.role == "lead" and a.status in ACTIVE_ASSIGNMENT for a in live)
                movable = [a for a in active if a.status != "replied" or a.role != "co" or not live_lead]
                assert movable, f"{where}: no action can ever move this order again"
            leads = [a for a in live if a.role == "lead"]
            assert len(leads) <= 1 and not (leads and any(a.role == "single" for a in live)), where

    @invariant()
    def store_is_consistent(self) -> None:
        self._check_store(self.snap)

    # ------------------------------------------------------------ picking targets

    def _assignments(self, statuses: tuple[str, ...]) -> list[Assignment]:
        return [a for _, a in sorted(self.snap.assignments.items()) if a.status in statuses]

    def pick_assignment(self, pick: int, prefer: tuple[str, ...]) -> Assignment:
        preferred = self._assignments(prefer)
        pool = preferred if preferred and pick % 5 != 4 else self._assignments(ASSIGNMENT_ALL)
        if not pool:  # nothing dispatched yet: act on an assignment that does not exist
            unit_id = next(k for k, v in self.unit_code.items() if v == "HX-CG")
            now = self.now()
            return Assignment(
                id=999_999,
                ticket_id=0,
                unit_id=unit_id,
                dispatched_at=now,
                return_due_at=now,
                due_at=now,
                period_amount=1,
                period_unit="wd",
                period_start="same_time",
            )
        return pool[(pick // 5) % len(pool)]

    def pick_ticket(self, pick: int, prefer: tuple[str, ...]) -> Ticket:
        tickets = [t for _, t in sorted(self.snap.tickets.items())]
        preferred = [t for t in tickets if t.status in prefer]
        pool = preferred if preferred and pick % 5 != 4 else tickets
        if not pool:
            return Ticket(
                no="TJ20250101-999999", type="complaint", channel="phone", text="-", created_at=self.now()
            )
        return pool[(pick // 5) % len(pool)]

    def pick_request(self, pick: int, kind: str) -> int:
        reqs = [r for _, r in sorted(self.snap.requests.items()) if r.kind == kind]
        pending = [r for r in reqs if r.status == "pending"]
        pool = pending if pending and pick % 5 != 4 else reqs
        if not pool or pick % 23 == 22:
            return 999_999  # no such request
        rid = pool[(pick // 5) % len(pool)].id
        assert rid is not None
        return rid

    # ------------------------------------------------------------ the actions

    def do_create(
        self, user: str, type_: str, channel: str, urgency: str, labels: list[str], text: str, anonymous: bool
    ) -> bool:
        form = intake.IntakeForm(
            type=type_,
            channel=channel,
            text=text,
            urgency=urgency,
            caller_name="张先生",
            caller_phone="13812345678",
            anonymous=anonymous,
            labels=tuple(labels),
        )
        created: list[str] = []

        def call(c: Ctx) -> None:
            created.append(intake.create_ticket(c, form).no)

        ok = self.attempt("create", user, user in INTAKE, call)
        self.tickets.extend(created)
        return ok

    def do_dispatch(self, user: str, no: str, units: list[str], designate: bool, consulted: str) -> bool:
        return self.attempt(
            "designate" if designate else "dispatch",
            user,
            user in DISPATCHERS,
            lambda c: dispatch.dispatch(c, no, units, designate=designate, consulted=consulted),
        )

    def do_split(self, user: str, no: str, units: list[str]) -> bool:
        parts = [(u, f"第{i + 1}项：{TEXTS[i % 4]}") for i, u in enumerate(units)]
        created: list[str] = []

        def call(c: Ctx) -> None:
            created.extend(dispatch.split_dispatch(c, no, parts))

        ok = self.attempt("split_dispatch", user, user in DISPATCHERS, call, events=len(parts))
        self.tickets.extend(n for n in created if n not in self.tickets)
        return ok

    def do_accept(self, user: str, a: Assignment) -> bool:
        assert a.id is not None
        aid = a.id
        return self.attempt("accept", user, user in self.liaisons_for(a), lambda c: handling.accept(c, aid))

    def do_request_return(
        self, user: str, a: Assignment, reason: str, fields: dict[str, Any], complex_case: bool
    ) -> bool:
        assert a.id is not None
        aid = a.id

        def check(before: Snap, after: Snap) -> None:
            b = before.assignments[aid]
            assert not b.designated  # T24 17 第三款
            limit = b.return_due_complex_at if complex_case else b.return_due_at
            assert limit is not None and self.now() <= limit  # T24 17: 1 WD (2 WD complex); TTR 8(3): 24 h
            t = before.tickets[b.ticket_id]
            if "互联网+督查" in t.labels:  # TTR 13: only with the inspection office's consent
                assert fields.get("inspection_consent")

        return self.attempt(
            "request_return",
            user,
            user in self.liaisons_for(a),
            lambda c: handling.request_return(c, aid, reason, fields, complex_case=complex_case),
            check=check,
        )

    def do_review_return(
        self, user: str, rid: int, approve: bool, note: str, redispatch: list[str] | None, designate: bool
    ) -> bool:
        def check(before: Snap, after: Snap) -> None:
            if approve:  # T24 17; GZ 15(1): the centre takes back an order the unit still holds
                b = before.assignments[before.requests[rid].assignment_id]
                assert b.status in ("pending", "handling"), f"return approved for a {b.status} assignment"

        return self.attempt(
            "review_return",
            user,
            user in REVIEWERS,
            lambda c: review.review_return(
                c,
                rid,
                approve=approve,
                note=note,
                redispatch_to=redispatch,
                designate=designate,
                consulted="市城管委、区政府办公室" if designate else "",
            ),
            check=check,
        )

    def do_request_extension(self, user: str, a: Assignment, consent: bool, opinion: str) -> bool:
        assert a.id is not None
        aid = a.id

        def check(before: Snap, after: Snap) -> None:
            b = before.assignments[aid]
            t = before.tickets[b.ticket_id]
            ext = self.policy.extension
            # TTR 14: consent, at least a day before the deadline, never consult or urgent orders,
            # never a re-handling (GZ 20), at most max_count (GZ 18)
            assert consent and b.status == "handling" and not b.rehandling
            assert self.now() <= b.due_at - timedelta(days=1)
            assert t.type not in ext.forbidden_types and t.urgency not in ext.forbidden_urgencies
            assert b.extensions < ext.max_count

        return self.attempt(
            "request_extension",
            user,
            user in self.liaisons_for(a),
            lambda c: handling.request_extension(
                c,
                aid,
                reason="需协调燃气、供电等多家单位共同施工",
                contacted_at="1月25日10时",
                caller_consent=consent,
                caller_opinion=opinion,
            ),
            check=check,
        )

    def do_review_extension(self, user: str, rid: int, approve: bool, note: str) -> bool:
        return self.attempt(
            "review_extension",
            user,
            user in REVIEWERS,
            lambda c: review.review_extension(c, rid, approve=approve, note=note),
        )

    def do_request_stop(self, user: str, a: Assignment, reason: str, materials: str) -> bool:
        assert a.id is not None
        aid = a.id
        return self.attempt(
            "request_stop",
            user,
            user in self.liaisons_for(a),
            lambda c: handling.request_stop(c, aid, reason, materials),
        )

    def do_review_stop(self, user: str, rid: int, approve: bool, note: str) -> bool:
        return self.attempt(
            "review_stop",
            user,
            user in REVIEWERS,
            lambda c: review.review_stop(c, rid, approve=approve, note=note),
        )

    def do_reply(self, user: str, a: Assignment, text: str) -> bool:
        assert a.id is not None
        aid = a.id

        def check(before: Snap, after: Snap) -> None:
            assert text not in BAD_REPLIES, f"reply {text!r} passed the checker (TTR 16)"
            assert after.assignments[aid].overdue_at_close == (self.now() > before.assignments[aid].due_at)

        return self.attempt(
            "reply", user, user in self.liaisons_for(a), lambda c: handling.reply(c, aid, text), check=check
        )

    def do_review_reply(self, user: str, a: Assignment, approve: bool, note: str) -> bool:
        assert a.id is not None
        aid = a.id
        return self.attempt(
            "review_reply",
            user,
            user in REVIEWERS,
            lambda c: review.review_reply(c, aid, approve=approve, note=note),
        )

    def do_callback(
        self,
        user: str,
        no: str,
        reached: bool,
        satisfaction: str | None,
        reason: str,
        rehandle: bool | None,
    ) -> bool:
        return self.attempt(
            "callback",
            user,
            user in CALLBACKS,
            lambda c: callback.record_callback(
                c,
                no,
                reached=reached,
                satisfaction=satisfaction,
                solved=satisfaction == "satisfied",
                words="诉求人称问题仍未解决" if satisfaction == "dissatisfied" else "",
                reason=reason,
                rehandle=rehandle,
            ),
        )

    def do_appeal(self, user: str, a: Assignment, evidence: str, declared: list[str]) -> bool:
        assert a.id is not None
        aid = a.id

        def check(before: Snap, after: Snap) -> None:
            t = before.tickets[before.assignments[aid].ticket_id]
            # TTR 28: only closed, dissatisfied orders, and not for the excluded reasons
            assert t.status == "closed" and t.satisfaction == "dissatisfied"
            assert t.dissatisfied_reason not in ("not_contacted", "staff_attitude", "recurred")

        return self.attempt(
            "appeal",
            user,
            user in self.liaisons_for(a),
            lambda c: appeal_svc.appeal(
                c, aid, "我单位已于1月27日到现场更换线路并恢复照明，已履行职责", evidence, declared
            ),
            check=check,
        )

    def do_review_appeal(self, user: str, rid: int, accept: bool, note: str) -> bool:
        return self.attempt(
            "review_appeal",
            user,
            user in REVIEWERS,
            lambda c: appeal_svc.review_appeal(c, rid, accept=accept, note=note),
        )

    # ------------------------------------------------------------ rules

    @initialize(start=st.sampled_from(STARTS), orders=st.integers(2, 5), seed=SEED)
    def start(self, start: str, orders: int, seed: int) -> None:
        """Set the clock, then take a few orders part of the way (so that every example has targets)."""
        self.world.at(start)
        for i in range(orders):
            self._progress(0, seed + i, fresh=True)

    @rule(delta=DELTAS)
    def advance_clock(self, delta: timedelta) -> None:
        self.world.at(self.now() + delta)

    @rule(
        who=WHO,
        type_=st.sampled_from(TYPES),
        channel=st.sampled_from(CHANNELS),
        urgency=st.sampled_from(URGENCIES),
        labels=st.lists(st.sampled_from(LABELS), max_size=2, unique=True),
        text=st.sampled_from(TEXTS),
        anonymous=st.sampled_from((False, False, False, True)),
    )
    def create(
        self, who: int, type_: str, channel: str, urgency: str, labels: list[str], text: str, anonymous: bool
    ) -> None:
        self.do_create(self.who(who, INTAKE), type_, channel, urgency, labels, text, anonymous)

    @rule(
        who=WHO,
        pick=PICK,
        units=st.lists(st.sampled_from(DISPATCH_TARGETS), min_size=1, max_size=3, unique=True),
        designate=st.sampled_from((False, False, False, True)),
        consulted=st.sampled_from(("市城管委、区政府办公室", "")),
    )
    def dispatch_ticket(self, who: int, pick: int, units: list[str], designate: bool, consulted: str) -> None:
        t = self.pick_ticket(pick, ("new",))
        self.do_dispatch(self.who(who, DISPATCHERS), t.no, units, designate, consulted)

    @rule(
        who=WHO,
        pick=PICK,
        units=st.lists(st.sampled_from((*HANDLING_UNITS, "CENTRE")), min_size=1, max_size=3, unique=True),
    )
    def split_dispatch(self, who: int, pick: int, units: list[str]) -> None:
        t = self.pick_ticket(pick, ("new",))
        self.do_split(self.who(who, DISPATCHERS), t.no, units)

    @rule(who=WHO, pick=PICK, entry=st.sampled_from(("KB-0001", "", "不存在的条目")))
    def answer_on_spot(self, who: int, pick: int, entry: str) -> None:
        # T24 15: only with a current KB entry; this store has none, so it is always refused
        t = self.pick_ticket(pick, ("new",))
        user = self.who(who, INTAKE)
        assert not self.attempt(
            "answer_on_spot", user, user in INTAKE, lambda c: intake.answer_on_spot(c, t.no, entry)
        )

    @rule(who=WHO, pick=PICK)
    def accept(self, who: int, pick: int) -> None:
        a = self.pick_assignment(pick, ("pending",))
        self.do_accept(self.who(who, self.liaisons_for(a)), a)

    @rule(
        who=WHO,
        pick=PICK,
        reason=st.sampled_from(sorted(RETURN_FIELDS)),
        variant=st.integers(0, 1),
        label_fields=st.sampled_from(LABEL_FIELDS),
        complex_case=st.booleans(),
    )
    def request_return(
        self, who: int, pick: int, reason: str, variant: int, label_fields: dict[str, Any], complex_case: bool
    ) -> None:
        a = self.pick_assignment(pick, ("pending", "handling"))
        options = RETURN_FIELDS[reason]
        fields = {**options[variant % len(options)], **label_fields}
        self.do_request_return(self.who(who, self.liaisons_for(a)), a, reason, fields, complex_case)

    @rule(
        who=WHO,
        pick=PICK,
        approve=st.booleans(),
        note=st.sampled_from(NOTES),
        redispatch=st.one_of(
            st.none(), st.lists(st.sampled_from(HANDLING_UNITS), min_size=1, max_size=2, unique=True)
        ),
        designate=st.booleans(),
    )
    def review_return(
        self, who: int, pick: int, approve: bool, note: str, redispatch: list[str] | None, designate: bool
    ) -> None:
        rid = self.pick_request(pick, "return")
        self.do_review_return(self.who(who, REVIEWERS), rid, approve, note, redispatch, designate)

    @rule(
        who=WHO,
        pick=PICK,
        consent=st.sampled_from((True, True, False)),
        opinion=st.sampled_from(("同意延期", "")),
    )
    def request_extension(self, who: int, pick: int, consent: bool, opinion: str) -> None:
        a = self.pick_assignment(pick, ("handling",))
        self.do_request_extension(self.who(who, self.liaisons_for(a)), a, consent, opinion)

    @rule(who=WHO, pick=PICK, approve=st.booleans(), note=st.sampled_from(NOTES))
    def review_extension(self, who: int, pick: int, approve: bool, note: str) -> None:
        rid = self.pick_request(pick, "extension")
        self.do_review_extension(self.who(who, REVIEWERS), rid, approve, note)

    @rule(
        who=WHO,
        pick=PICK,
        reason=st.sampled_from(("refuses_cooperation", "unreasonable_demand", "bogus")),
        materials=st.sampled_from(("三次上门均被拒绝入户，有执法记录仪视频", "")),
    )
    def request_stop(self, who: int, pick: int, reason: str, materials: str) -> None:
        a = self.pick_assignment(pick, ("handling",))
        self.do_request_stop(self.who(who, self.liaisons_for(a)), a, reason, materials)

    @rule(who=WHO, pick=PICK, approve=st.booleans(), note=st.sampled_from(NOTES))
    def review_stop(self, who: int, pick: int, approve: bool, note: str) -> None:
        rid = self.pick_request(pick, "stop")
        self.do_review_stop(self.who(who, REVIEWERS), rid, approve, note)

    @rule(who=WHO, pick=PICK, text=st.sampled_from(GOOD_REPLIES + BAD_REPLIES))
    def reply(self, who: int, pick: int, text: str) -> None:
        a = self.pick_assignment(pick, ("handling",))
        self.do_reply(self.who(who, self.liaisons_for(a)), a, text)

    @rule(who=WHO, pick=PICK, approve=st.booleans(), note=st.sampled_from(NOTES))
    def review_reply(self, who: int, pick: int, approve: bool, note: str) -> None:
        a = self.pick_assignment(pick, ("replied",))
        self.do_review_reply(self.who(who, REVIEWERS), a, approve, note)

    @rule(
        who=WHO,
        pick=PICK,
        reached=st.sampled_from((True, True, True, False)),
        satisfaction=st.sampled_from(
            ("satisfied", "basically_satisfied", "dissatisfied", "dissatisfied", "bogus")
        ),
        reason=st.sampled_from(DISSATISFIED_REASONS),
        rehandle=st.sampled_from((None, None, True, False)),
    )
    def record_callback(
        self, who: int, pick: int, reached: bool, satisfaction: str, reason: str, rehandle: bool | None
    ) -> None:
        t = self.pick_ticket(pick, ("callback",))
        self.do_callback(self.who(who, CALLBACKS), t.no, reached, satisfaction, reason, rehandle)

    @rule(
        who=WHO,
        pick=PICK,
        evidence=st.sampled_from(("现场照片3张、维修工单1份", "")),
        declared=st.sampled_from(([], [], ["staff_attitude"])),
    )
    def appeal(self, who: int, pick: int, evidence: str, declared: list[str]) -> None:
        closed = [
            a
            for _, a in sorted(self.snap.assignments.items())
            if self.snap.tickets[a.ticket_id].satisfaction == "dissatisfied" and a.role != "co"
        ]
        a = (
            closed[pick % len(closed)]
            if closed and pick % 5 != 4
            else self.pick_assignment(pick, ("approved",))
        )
        self.do_appeal(self.who(who, self.liaisons_for(a)), a, evidence, declared)

    @rule(who=WHO, pick=PICK, accept=st.booleans(), note=st.sampled_from(NOTES))
    def review_appeal(self, who: int, pick: int, accept: bool, note: str) -> None:
        rid = self.pick_request(pick, "appeal")
        self.do_review_appeal(self.who(who, REVIEWERS), rid, accept, note)

    def _progress(self, pick: int, seed: int, *, fresh: bool = False) -> None:
        """Take one order along its natural path (mostly valid steps), up to 16 steps.

        The choices come from a generator seeded by ``seed`` and the store's history (hypothesis repeats
        small values a lot; this keeps the branches of the path evenly visited)."""
        rng = random.Random(seed * 1_000_003 + len(self.snap.events))
        no = self._progress_target(pick, rng, fresh)
        for _ in range(rng.randint(1, 16)):
            wrong = rng.choice(USERS) if rng.random() < 0.2 else None
            if self._progress_step(no, rng, wrong) is None:
                break  # the order has reached its end

    # the natural path is registered several times so that random runs reach its far end (appeals)
    @rule(pick=PICK, seed=SEED)
    def progress(self, pick: int, seed: int) -> None:
        self._progress(pick, seed)

    @rule(pick=PICK, seed=SEED)
    def progress_again(self, pick: int, seed: int) -> None:
        self._progress(pick, seed)

    @rule(pick=PICK, seed=SEED)
    def progress_more(self, pick: int, seed: int) -> None:
        self._progress(pick, seed)

    @rule(pick=PICK, seed=SEED)
    def progress_further(self, pick: int, seed: int) -> None:
        self._progress(pick, seed)

    # ------------------------------------------------------------ the natural path

    def _open_request(self, a: Assignment, kind: str) -> UnitRequest | None:
        for r in self.snap.requests.values():
            if r.assignment_id == a.id and r.kind == kind and r.status == "pending":
                return r
        return None

    def _appealable(self, t: Ticket) -> bool:
        """Closed dissatisfied, not for an excluded reason (TTR 28), its appeal not yet decided."""
        if (
            t.status != "closed"
            or t.satisfaction != "dissatisfied"
            or t.dissatisfied_reason == "staff_attitude"
        ):
            return False
        appeals = [r for r in self.snap.requests.values() if r.ticket_id == t.id and r.kind == "appeal"]
        return all(r.status == "pending" for r in appeals)

    def _progress_target(self, pick: int, rng: random.Random, fresh: bool) -> str:
        live = [
            t.no
            for _, t in sorted(self.snap.tickets.items())
            if t.status in ("new", "dispatched", "rehandling", "callback") or self._appealable(t)
        ]
        if live and not fresh and pick % 6:
            return live[pick % len(live)]
        type_ = rng.choice(("complaint", "handle", "help", "suggestion", "consult"))
        urgency = "urgent" if rng.random() < 0.15 else "normal"
        labels = ["互联网+督查"] if rng.random() < 0.1 else []
        text = rng.choice(TEXTS[:4])
        assert self.do_create(
            "agent1", type_, rng.choice(CHANNELS), urgency, labels, text, rng.random() < 0.05
        )
        return self.tickets[-1]

    def _progress_step(self, no: str, rng: random.Random, wrong: str | None) -> bool | None:
        """One natural step for the order: True/False = done/refused, None = nothing left to do.

        ``wrong``: somebody else tries the step instead (often not entitled, then refused)."""
        t = next(x for x in self.snap.tickets.values() if x.no == no)
        rows = [a for _, a in sorted(self.snap.assignments.items()) if a.ticket_id == t.id]
        p = rng.random
        if t.status == "new":
            units = rng.sample(HANDLING_UNITS, 2 if p() < 0.25 else 1)
            if p() < 0.1:  # T24 15 第二款: several demands for several units, one ticket each
                return self.do_split(wrong or "disp1", no, rng.sample(HANDLING_UNITS, 2))
            if t.returns >= self.policy.designation_after or p() < 0.15:  # T24 17 第三款; GZ 16
                return self.do_dispatch(wrong or "disp1", no, units, True, "市城管委、区政府办公室")
            return self.do_dispatch(wrong or "disp1", no, units, False, "")
        if t.status in ("dispatched", "rehandling"):
            active = [a for a in rows if a.status in ACTIVE_ASSIGNMENT]
            order = (
                [a for a in active if a.role == "co" and a.status != "replied"]
                + [a for a in active if a.role != "co"]
                + [a for a in active if a.role == "co" and a.status == "replied"]
            )
            a = order[0] if p() < 0.6 else rng.choice(active)
            liaison = wrong or min(self.liaisons_for(a), default="cg")  # nobody acts for HX itself
            # the centre decides pending requests first, mostly, in any order; sometimes the unit acts first
            kinds = ["return", "extension", "stop"]
            rng.shuffle(kinds)
            pending = [r for k in kinds if (r := self._open_request(a, k)) is not None and r.id is not None]
            if pending and p() < 0.6:
                r = pending[0]
                assert r.id is not None
                approve = p() < 0.55
                if r.kind == "return":
                    redispatch = [rng.choice(HANDLING_UNITS)] if approve and p() < 0.4 else None
                    designate = t.returns + 1 >= self.policy.designation_after
                    note = "" if approve else "属于本单位职责，请继续办理"
                    return self.do_review_return(wrong or "disp1", r.id, approve, note, redispatch, designate)
                if r.kind == "extension":
                    return self.do_review_extension(
                        wrong or "sup1", r.id, approve, "" if approve else "理由不充分"
                    )
                return self.do_review_stop(
                    wrong or "disp1", r.id, approve, "" if approve else "请继续做好解释"
                )
            if a.status == "pending":
                if p() < 0.7:
                    return self.do_accept(liaison, a)
                fields = RETURN_FIELDS["not_our_duty"][0] | LABEL_FIELDS[1] | LABEL_FIELDS[2]
                return self.do_request_return(liaison, a, "not_our_duty", fields, p() < 0.3)
            if a.status == "handling":
                choice = p()
                if choice < 0.55:
                    return self.do_reply(liaison, a, rng.choice(GOOD_REPLIES))
                if choice < 0.6:
                    return self.do_reply(liaison, a, rng.choice(BAD_REPLIES))
                if choice < 0.7:
                    fields = RETURN_FIELDS["info_missing"][0] | LABEL_FIELDS[1] | LABEL_FIELDS[2]
                    return self.do_request_return(liaison, a, "info_missing", fields, p() < 0.3)
                if choice < 0.88:
                    return self.do_request_extension(liaison, a, True, "同意延期")
                return self.do_request_stop(liaison, a, "refuses_cooperation", "三次上门均被拒绝入户")
            approve = p() < 0.75
            return self.do_review_reply(
                wrong or "disp1", a, approve, "" if approve else "请补充联系诉求人的时间"
            )
        if t.status == "callback":
            satisfaction = rng.choice(("satisfied", "basically_satisfied", "dissatisfied", "dissatisfied"))
            reason = rng.choice(("unsolved", "policy", "other", "staff_attitude"))
            rehandle = False if p() < 0.25 else None
            return self.do_callback(wrong or "cb1", no, p() < 0.8, satisfaction, reason, rehandle)
        if t.status == "closed" and t.satisfaction == "dissatisfied":
            for a in rows:
                if a.role == "co" or a.status not in ("approved", "stopped"):
                    continue
                appeals = [
                    r for r in self.snap.requests.values() if r.assignment_id == a.id and r.kind == "appeal"
                ]
                if not appeals:
                    return self.do_appeal(
                        wrong or min(self.liaisons_for(a), default="cg"), a, "现场照片3张", []
                    )
                if appeals[0].status == "pending" and appeals[0].id is not None:
                    accept = p() < 0.5
                    return self.do_review_appeal(
                        wrong or "sup1", appeals[0].id, accept, "" if accept else "佐证不足"
                    )
        return None


# ---------------------------------------------------------------- scripted runs


def machine(start: str = "2025-01-24T16:00:00") -> LifecycleMachine:
    """The same machine, driven by hand: every call is still checked against every invariant."""
    m = LifecycleMachine()
    m.record_global = False
    m.start(start, 0, 0)
    return m


def asg(m: LifecycleMachine, no: str, unit: str) -> Assignment:
    """The newest assignment of order ``no`` at ``unit``, as the store holds it now."""
    tid = next(t.id for t in m.snap.tickets.values() if t.no == no)
    rows = [
        a
        for _, a in sorted(m.snap.assignments.items())
        if a.ticket_id == tid and m.unit_code[a.unit_id] == unit
    ]
    return rows[-1]


def last_request(m: LifecycleMachine, kind: str) -> int:
    return max(rid for rid, r in m.snap.requests.items() if r.kind == kind)


def new_order(m: LifecycleMachine, type_: str = "complaint", labels: tuple[str, ...] = ()) -> str:
    assert m.do_create("agent1", type_, "phone", "normal", list(labels), TEXTS[0], False)
    return m.tickets[-1]


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def test_scripted_lifecycle_covers_every_action() -> None:
    """Every action once, valid and refused, along the paths of DESIGN.md "The work order" (deterministic)."""
    m = machine()
    try:
        # intake (T24 14) and answer on the spot (T24 15: only with a current KB entry; there is none)
        assert not m.do_create("cg", "complaint", "phone", "normal", [], TEXTS[0], False)
        assert not m.do_create("agent1", "complaint", "phone", "normal", [], "路灯", False)
        no = new_order(m)
        assert not m.attempt(
            "answer_on_spot", "agent1", True, lambda c: intake.answer_on_spot(c, no, "KB-0001")
        )
        assert not m.do_dispatch("cb1", no, ["HX-CG"], False, "")
        assert not m.do_dispatch("disp1", no, ["CENTRE"], False, "")
        assert m.do_dispatch("disp1", no, ["HX-CG"], False, "")
        # TTR 11(1): 5 WD from Fri 01-24 16:00: Sun 01-26 (调休), 01-27, holiday 01-28..02-04, 02-05..02-07
        assert asg(m, no, "HX-CG").due_at == at(2025, 2, 7, 16)
        assert not m.do_accept("zj", asg(m, no, "HX-CG"))  # another unit's order
        assert m.do_accept("cg", asg(m, no, "HX-CG"))
        # return: missing fields refused (TTR 8(3)); one pending at a time; rejected → deadline kept (GZ 15(2))
        a = asg(m, no, "HX-CG")
        assert not m.do_request_return("cg", a, "not_our_duty", RETURN_FIELDS["not_our_duty"][1], False)
        assert m.do_request_return("cg", a, "info_missing", RETURN_FIELDS["info_missing"][0], False)
        assert not m.do_request_return("cg", a, "legal_procedure", RETURN_FIELDS["legal_procedure"][0], False)
        rid = last_request(m, "return")
        assert not m.do_review_return("disp1", rid, False, "", None, False)  # reasons required
        assert not m.do_review_return("cg", rid, True, "", None, False)  # not the centre
        assert m.do_review_return("disp1", rid, False, "属于本单位职责，请继续办理", None, False)
        assert asg(m, no, "HX-CG").due_at == at(2025, 2, 7, 16)
        # extension (TTR 14; GZ 18): consent required; approved adds the original period to the deadline
        assert not m.do_request_extension("cg", asg(m, no, "HX-CG"), False, "同意延期")
        assert m.do_request_extension("cg", asg(m, no, "HX-CG"), True, "同意延期")
        assert m.do_review_extension("sup1", last_request(m, "extension"), True, "")
        # + 5 WD from Fri 02-07 16:00: Sat 02-08 (调休), 02-10..02-13
        assert asg(m, no, "HX-CG").due_at == at(2025, 2, 13, 16)
        assert m.do_request_extension("cg", asg(m, no, "HX-CG"), True, "同意延期")
        assert m.do_review_extension("disp1", last_request(m, "extension"), False, "理由不充分")
        # stop-handling rejected (TA 15(5)(6))
        assert not m.do_request_stop("cg", asg(m, no, "HX-CG"), "refuses_cooperation", "")
        assert m.do_request_stop("cg", asg(m, no, "HX-CG"), "refuses_cooperation", "三次上门均被拒绝入户")
        assert m.do_review_stop("disp1", last_request(m, "stop"), False, "请继续做好解释")
        # reply (TTR 16): the bad ones are refused; sent back keeps the deadline (GZ 19)
        for bad in BAD_REPLIES:
            assert not m.do_reply("cg", asg(m, no, "HX-CG"), bad)
        assert m.do_reply("cg", asg(m, no, "HX-CG"), GOOD_REPLIES[0])
        assert not m.do_review_reply("cg", asg(m, no, "HX-CG"), True, "")
        assert m.do_review_reply("disp1", asg(m, no, "HX-CG"), False, "请补充联系诉求人的时间")
        assert m.do_reply("cg", asg(m, no, "HX-CG"), GOOD_REPLIES[1])
        assert m.do_review_reply("disp1", asg(m, no, "HX-CG"), True, "")
        # callback (T24 18; GZ 20): unreached; first dissatisfied → re-handling once, no extension
        assert not m.do_callback("agent1", no, True, "satisfied", "", None)
        assert m.do_callback("cb1", no, False, None, "", None)
        m.world.at(at(2025, 2, 6, 10))
        assert m.do_callback("cb1", no, True, "dissatisfied", "unsolved", None)
        # the original 5 WD, from now (Thu 02-06 10:00): 02-07, Sat 02-08 (调休), 02-10, 02-11, 02-12
        assert asg(m, no, "HX-CG").due_at == at(2025, 2, 12, 10)
        assert not m.do_request_extension("cg", asg(m, no, "HX-CG"), True, "同意延期")
        assert m.do_reply("cg", asg(m, no, "HX-CG"), GOOD_REPLIES[0])
        assert m.do_review_reply("sup1", asg(m, no, "HX-CG"), True, "")
        assert not m.do_callback("cb1", no, True, "dissatisfied", "unsolved", True)  # only once
        assert m.do_callback("cb1", no, True, "dissatisfied", "unsolved", None)  # second: closed
        # appeal (T24 23; TTR 28): evidence required, once; rejected
        assert not m.do_appeal("cg", asg(m, no, "HX-CG"), "", [])
        assert not m.do_appeal("zj", asg(m, no, "HX-CG"), "现场照片", [])
        assert m.do_appeal("cg", asg(m, no, "HX-CG"), "现场照片", [])
        assert not m.do_appeal("cg", asg(m, no, "HX-CG"), "现场照片", [])
        assert m.do_review_appeal("disp1", last_request(m, "appeal"), False, "佐证不足")

        # lead + co (TTR 9): the lead replies once the co-unit has; closed dissatisfied without re-handling
        no2 = new_order(m)
        assert m.do_dispatch("agent1", no2, ["HX-CG", "SW"], False, "")
        assert m.do_accept("cg", asg(m, no2, "HX-CG")) and m.do_accept("sw", asg(m, no2, "SW"))
        assert not m.do_reply("cg", asg(m, no2, "HX-CG"), GOOD_REPLIES[0])  # co-unit not heard yet
        assert m.do_reply("sw", asg(m, no2, "SW"), GOOD_REPLIES[1])
        assert not m.do_review_reply("disp1", asg(m, no2, "SW"), True, "")  # reviewed through the lead
        assert m.do_reply("cg", asg(m, no2, "HX-CG"), GOOD_REPLIES[0])
        assert m.do_review_reply("disp1", asg(m, no2, "HX-CG"), True, "")
        assert m.do_callback("sup1", no2, True, "dissatisfied", "other", False)
        assert m.do_appeal("cg", asg(m, no2, "HX-CG"), "现场照片", [])
        assert m.do_review_appeal("sup1", last_request(m, "appeal"), True, "")

        # three approved returns → designation after consulting (T24 17 第三款; GZ 16); deadline restarts
        no3 = new_order(m, labels=("互联网+督查",))
        assert m.do_dispatch("disp1", no3, ["HX-ZJ"], False, "")
        duty = RETURN_FIELDS["not_our_duty"][0]
        assert not m.do_request_return("zj", asg(m, no3, "HX-ZJ"), "not_our_duty", duty, False)  # TTR 13
        consent = LABEL_FIELDS[1]
        assert m.do_request_return("zj", asg(m, no3, "HX-ZJ"), "not_our_duty", duty | consent, False)
        assert m.do_review_return("disp1", last_request(m, "return"), True, "", ["HX-CG"], False)
        fields = RETURN_FIELDS["legal_procedure"][0] | consent
        assert m.do_request_return("cg", asg(m, no3, "HX-CG"), "legal_procedure", fields, False)
        assert m.do_review_return("disp1", last_request(m, "return"), True, "", None, False)
        assert m.do_dispatch("disp1", no3, ["JTW"], False, "")
        fields = RETURN_FIELDS["repeat_with_result"][0] | consent
        assert m.do_request_return("jt", asg(m, no3, "JTW"), "repeat_with_result", fields, False)
        assert m.do_review_return("sup1", last_request(m, "return"), True, "", None, False)
        assert not m.do_dispatch("disp1", no3, ["SW"], False, "")
        assert not m.do_dispatch("disp1", no3, ["SW"], True, "")  # consultation required
        assert m.do_dispatch("disp1", no3, ["SW"], True, "市水务局、区政府办公室")
        fields = RETURN_FIELDS["info_missing"][0] | consent
        assert not m.do_request_return("sw", asg(m, no3, "SW"), "info_missing", fields, False)

        # stop-handling approved → the order is stopped (TA 15(5)(6))
        no4 = new_order(m, type_="help")
        assert m.do_dispatch("disp1", no4, ["JTW-YS"], False, "")
        assert m.do_accept("jt", asg(m, no4, "JTW-YS"))
        assert m.do_request_stop("ys", asg(m, no4, "JTW-YS"), "unreasonable_demand", "经三次解释仍坚持")
        assert m.do_review_stop("sup1", last_request(m, "stop"), True, "")

        # split dispatch (T24 15 第二款), then a satisfied callback closes the order
        no5 = new_order(m, type_="suggestion")
        assert not m.do_split("disp1", no5, ["HX-CG"])
        assert m.do_split("disp1", no5, ["HX-CG-ZM", "HX-ZJ"])
        assert m.do_accept("zm", asg(m, no5, "HX-CG-ZM"))
        assert m.do_reply("cg", asg(m, no5, "HX-CG-ZM"), GOOD_REPLIES[0])  # the parent unit acts too
        assert m.do_review_reply("disp1", asg(m, no5, "HX-CG-ZM"), True, "")
        assert m.do_callback("cb1", no5, True, "satisfied", "", None)
    finally:
        m.teardown()
    missing = [k for k in REQUIRED_OUTCOMES if m.succeeded[k] == 0]
    assert not missing, missing
    assert m.refused["answer_on_spot"] == 1 and m.succeeded["answer_on_spot"] == 0


# ---------------------------------------------------------------- regressions: bugs the machine found (fixed in 8fab2d1)


def test_extension_approved_during_rehandling_is_refused() -> None:
    """GZ 20; T24 18 第二款: a re-handling after dissatisfaction cannot be extended. An extension asked for
    before the reply, still pending when the callback sends the order back, must not be approved then."""
    m = machine()
    try:
        no = new_order(m)
        assert m.do_dispatch("disp1", no, ["HX-CG"], False, "")
        assert m.do_accept("cg", asg(m, no, "HX-CG"))
        assert m.do_request_extension("cg", asg(m, no, "HX-CG"), True, "同意延期")  # left pending
        assert m.do_reply("cg", asg(m, no, "HX-CG"), GOOD_REPLIES[0])
        assert m.do_review_reply("disp1", asg(m, no, "HX-CG"), True, "")
        assert m.do_callback("cb1", no, True, "dissatisfied", "unsolved", None)  # → re-handling
        assert asg(m, no, "HX-CG").rehandling
        # was approved, moving the re-handling deadline by 5 WD
        assert not m.do_review_extension("disp1", last_request(m, "extension"), True, "")
    finally:
        m.teardown()


def test_return_is_not_approved_after_the_order_was_stopped() -> None:
    """T24 17; GZ 15(1): approving a return takes back an order the unit still holds. A return request left
    pending while stop-handling was approved must not turn the stopped order's assignment into "returned"."""
    m = machine()
    try:
        no = new_order(m)
        assert m.do_dispatch("disp1", no, ["HX-CG"], False, "")
        assert m.do_request_return(
            "cg", asg(m, no, "HX-CG"), "info_missing", RETURN_FIELDS["info_missing"][0], False
        )
        assert m.do_accept("cg", asg(m, no, "HX-CG"))
        # stop-handling is refused while the return is pending; were it approved, the return must then be refused
        if m.do_request_stop("cg", asg(m, no, "HX-CG"), "refuses_cooperation", "三次上门均被拒绝入户"):
            assert m.do_review_stop("disp1", last_request(m, "stop"), True, "")
            assert not m.do_review_return("disp1", last_request(m, "return"), True, "", None, False)
    finally:
        m.teardown()


def test_return_is_not_approved_for_a_cancelled_co_unit() -> None:
    """GZ 15(3); T24 17 第三款: the lead's approved return cancels its co-units; a co-unit's pending return
    must not then be approved and counted as one more return of the order (designation after 3)."""
    m = machine()
    try:
        no = new_order(m)
        assert m.do_dispatch("disp1", no, ["HX-CG", "SW"], False, "")
        fields = RETURN_FIELDS["not_our_duty"][0]
        assert m.do_request_return("sw", asg(m, no, "SW"), "not_our_duty", fields, False)
        co_request = last_request(m, "return")
        assert m.do_request_return("cg", asg(m, no, "HX-CG"), "not_our_duty", fields, False)
        assert m.do_review_return("disp1", last_request(m, "return"), True, "", None, False)
        assert asg(m, no, "SW").status == "cancelled"
        # was approved, and ticket.returns became 2
        assert not m.do_review_return("disp1", co_request, True, "", None, False)
    finally:
        m.teardown()


def test_stopping_the_lead_leaves_no_dead_end() -> None:
    """TTR 9; TA 15(5)(6): once the lead unit's stop-handling is approved, its co-unit's reply can never be
    reviewed (only the lead's reply was) and the order stayed "dispatched" for ever."""
    m = machine()
    try:
        no = new_order(m)
        assert m.do_dispatch("disp1", no, ["HX-CG", "HX-ZJ"], False, "")
        assert m.do_accept("cg", asg(m, no, "HX-CG"))
        assert m.do_accept("zj", asg(m, no, "HX-ZJ"))
        assert m.do_request_stop("cg", asg(m, no, "HX-CG"), "refuses_cooperation", "三次上门均被拒绝入户")
        assert m.do_review_stop("disp1", last_request(m, "stop"), True, "")
        assert m.do_reply("zj", asg(m, no, "HX-ZJ"), GOOD_REPLIES[1])  # was a dead end from here
        assert m.do_review_reply("disp1", asg(m, no, "HX-ZJ"), True, "")  # the co-unit is reviewed itself
        assert m.do_callback("cb1", no, True, "satisfied", "", None)
    finally:
        m.teardown()


# ---------------------------------------------------------------- random runs


# Shrinking a failing run of this machine takes hypothesis up to its 5-minute cap (the natural-path steps
# are seeded, so small changes to a run change it a lot); the minimal reproductions are the scripted tests
# above. Set HOTLINE_SM_SHRINK=1 to shrink anyway; a failing run is replayed from .hypothesis/ either way.
SHRINK = os.environ.get("HOTLINE_SM_SHRINK") == "1"
# ``make test`` replays the same runs (derandomize): CI judges the code, and the coverage check below
# cannot flake; ``make fuzz`` (HOTLINE_FUZZ=explore) draws fresh runs, five times as many.
EXPLORE = os.environ.get("HOTLINE_FUZZ") == "explore"
LifecycleMachine.TestCase.settings = settings(
    max_examples=200 if EXPLORE else 40,
    derandomize=not EXPLORE,
    database=settings.default.database if EXPLORE else None,
    stateful_step_count=30,
    deadline=None,
    phases=tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate),
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class TestLifecycle(LifecycleMachine.TestCase):  # type: ignore[misc,valid-type]
    def runTest(self) -> None:
        super().runTest()
        MACHINE_PASSED[0] = True


def test_random_runs_covered_every_action() -> None:
    """Not vacuous: across the random examples every kind of action both succeeded and was refused
    (each outcome, approved and rejected alike, is covered deterministically by the scripted test)."""
    if not MACHINE_PASSED[0]:
        pytest.skip("the state machine did not run, or failed, in this session")
    kinds = [k for k in EVENT_KINDS if k != "answer_on_spot"]
    never = [k for k in kinds if SUCCEEDED[k] == 0]
    assert not never, f"never succeeded: {never}; succeeded {dict(SUCCEEDED)}"
    assert SUCCEEDED["answer_on_spot"] == 0  # T24 15: no KB entry, never answered on the spot
    never_refused = [k for k in EVENT_KINDS if REFUSED[k] == 0]
    assert not never_refused, f"never refused: {never_refused}; refused {dict(REFUSED)}"
