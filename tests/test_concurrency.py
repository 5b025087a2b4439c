"""Many writers on one store: no lock errors, no lost updates, an unbroken event chain, optimistic versions.

The multi-process tests start 16 worker processes (``forkserver``, else ``spawn``); each builds its own engine
from the store URL (an engine, its pool and its SQLite connections must never cross a process boundary).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from hotline_tui.clock import FixedClock, parse_datetime
from hotline_tui.db import make_engine, read_session
from hotline_tui.errors import ConcurrentUpdate, HotlineError, RuleViolation
from hotline_tui.models import Assignment, ChainHead, Event, Ticket, TicketCounter
from hotline_tui.policy import load_policy
from hotline_tui.services.core import Ctx, actor_for, event_digest
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.handling import accept, add_note
from hotline_tui.services.intake import IntakeForm, create_ticket
from tests.conftest import World, seed

WORKERS = 16
ROUNDS = 15
POLICY = "tianjin"
NOW = "2025-01-24T16:00:00"
UNIT = "HX-CG"
NOTE_TARGETS = 3  # assignments every worker writes progress notes to
ACCEPT_TARGETS = 4  # pending assignments every worker tries to accept at the same round
START_TIMEOUT_S = 120.0


def _form(text: str) -> IntakeForm:
    return IntakeForm(
        type="complaint",
        channel="phone",
        text=text,
        caller_name="张先生",
        caller_phone="13812345678",
        caller_address="河西区友谊路1号",
        district="河西区",
    )


def _ctx(engine: Engine, user: str) -> Ctx:
    with read_session(engine) as s:
        actor = actor_for(s, user)
    return Ctx(engine, load_policy(POLICY), actor, FixedClock(parse_datetime(NOW)))


# ---------------------------------------------------------------- the worker (runs in its own process)


@dataclass
class WorkerReport:
    worker: int
    created: list[str] = field(default_factory=list)
    dispatched: int = 0
    notes: dict[int, int] = field(default_factory=dict)
    accepted: list[int] = field(default_factory=list)
    accept_refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0  # from the common start to this worker's last commit


def _worker(
    url: str,
    worker: int,
    rounds: int,
    note_ids: list[int],
    accept_ids: list[int],
    barrier: Any,
    out: Any,
) -> None:
    report = WorkerReport(worker)
    engine: Engine | None = None
    try:
        engine = make_engine(url)  # this process's own engine, pool and connections
        agent = _ctx(engine, "agent1")
        liaison = _ctx(engine, "cg")
        barrier.wait(START_TIMEOUT_S)
        started = time.perf_counter()
        for i in range(rounds):
            try:
                ticket = create_ticket(
                    agent, _form(f"第{worker}号坐席第{i}次受理：友谊路路灯不亮，夜间出行不便")
                )
                report.created.append(ticket.no)
                dispatch(agent, ticket.no, [UNIT])
                report.dispatched += 1
            except Exception as exc:  # every failure is a finding
                report.errors.append(f"intake/dispatch: {type(exc).__name__}: {exc}")
            target = note_ids[(worker + i) % len(note_ids)]
            try:
                add_note(liaison, target, f"第{worker}号联络员第{i}次进展：已安排人员现场核查")
                report.notes[target] = report.notes.get(target, 0) + 1
            except Exception as exc:
                report.errors.append(f"note: {type(exc).__name__}: {exc}")
            if i < len(accept_ids):
                try:
                    accept(liaison, accept_ids[i])
                    report.accepted.append(accept_ids[i])
                except RuleViolation as exc:  # somebody else accepted first: the expected refusal
                    report.accept_refused.append(exc.message)
                except Exception as exc:
                    report.errors.append(f"accept: {type(exc).__name__}: {exc}")
        report.seconds = time.perf_counter() - started
    except Exception:  # set-up failures are reported too
        report.errors.append(traceback.format_exc())
    finally:
        if engine is not None:
            engine.dispose()
        out.put(report)


# ---------------------------------------------------------------- the parent side


@dataclass
class Setup:
    note_ids: list[int]
    accept_ids: list[int]
    events_before: int
    tickets_before: int


def _prepare(engine: Engine) -> Setup:
    seed(engine, POLICY)
    agent = _ctx(engine, "agent1")
    liaison = _ctx(engine, "cg")
    note_ids: list[int] = []
    accept_ids: list[int] = []
    for i in range(NOTE_TARGETS + ACCEPT_TARGETS):
        ticket = create_ticket(agent, _form(f"共享工单{i}：小区门口占道经营，噪音扰民"))
        (a,) = dispatch(agent, ticket.no, [UNIT])
        assert a.id is not None
        if i < NOTE_TARGETS:
            accept(liaison, a.id)
            note_ids.append(a.id)
        else:
            accept_ids.append(a.id)
    with read_session(engine) as s:
        events = s.exec(select(func.count()).select_from(Event)).one()
        tickets = s.exec(select(func.count()).select_from(Ticket)).one()
    return Setup(note_ids, accept_ids, int(events), int(tickets))


def _process_context() -> Any:
    """``forkserver`` with this module preloaded: each worker is a fresh child of a clean server process
    that has imported the application once but has never opened a database (no engine crosses a fork).
    Falls back to ``spawn`` where forkserver does not exist."""
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return mp.get_context("spawn")


def _run_workers(url: str, setup: Setup, workers: int = WORKERS, rounds: int = ROUNDS) -> list[WorkerReport]:
    context = _process_context()
    barrier = context.Barrier(workers)
    out = context.Queue()
    procs = [
        context.Process(
            target=_worker,
            args=(url, w, rounds, setup.note_ids, setup.accept_ids, barrier, out),
            name=f"hotline-writer-{w}",
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    reports: list[WorkerReport] = []
    try:
        for _ in procs:
            reports.append(out.get(timeout=START_TIMEOUT_S + 60))
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return reports


def _check_chain(engine: Engine) -> list[Event]:
    with read_session(engine) as s:
        events = list(s.exec(select(Event).order_by(col(Event.id))))
        head = s.get(ChainHead, 1)
    assert events, "no events recorded"
    prev = ""
    for ev in events:
        assert ev.prev_hash == prev, (
            f"chain broken at event {ev.id}: prev_hash does not match event before it"
        )
        assert ev.hash == event_digest(prev, ev), f"event {ev.id}: stored hash does not match its content"
        prev = ev.hash
    forks = [h for h, n in Counter(ev.prev_hash for ev in events).items() if n > 1]
    assert not forks, f"chain forks: {len(forks)} events share a predecessor"
    assert head is not None and head.last_id == events[-1].id and head.last_hash == events[-1].hash
    return events


def _check_store(engine: Engine, setup: Setup, reports: list[WorkerReport]) -> None:
    errors = [e for r in reports for e in r.errors]
    assert not [e for e in errors if "locked" in e or "繁忙" in e], errors
    assert not errors, errors
    assert len(reports) == WORKERS

    created = [no for r in reports for no in r.created]
    dispatched = sum(r.dispatched for r in reports)
    notes: Counter[int] = Counter()
    for r in reports:
        notes.update(r.notes)
    accepted = [a for r in reports for a in r.accepted]
    assert len(created) == WORKERS * ROUNDS and dispatched == WORKERS * ROUNDS
    assert sum(notes.values()) == WORKERS * ROUNDS

    # exactly one officer wins each accept race; everybody else is refused with a Chinese reason
    assert sorted(accepted) == sorted(setup.accept_ids), accepted
    refusals = [m for r in reports for m in r.accept_refused]
    assert len(refusals) == WORKERS * ACCEPT_TARGETS - ACCEPT_TARGETS
    assert all("不能重复接单" in m for m in refusals), set(refusals)

    events = _check_chain(engine)
    expected_changes = len(created) + dispatched + sum(notes.values()) + len(accepted)
    assert len(events) == setup.events_before + expected_changes
    new_events = events[setup.events_before :]
    kinds = Counter(ev.kind for ev in new_events)
    assert kinds == Counter(
        {
            "created": len(created),
            "dispatched": dispatched,
            "note": sum(notes.values()),
            "accepted": len(accepted),
        }
    )
    found_notes = Counter(ev.assignment_id for ev in new_events if ev.kind == "note")
    assert found_notes == notes, "lost progress notes"
    found_accepts = Counter(ev.assignment_id for ev in new_events if ev.kind == "accepted")
    assert found_accepts == Counter(setup.accept_ids), "an assignment was accepted twice or not at all"

    with read_session(engine) as s:
        tickets = list(s.exec(select(Ticket)))
        counters = list(s.exec(select(TicketCounter)))
        assignments = list(s.exec(select(Assignment)))
    assert len(tickets) == setup.tickets_before + len(created)
    numbers = [t.no for t in tickets]
    assert len(set(numbers)) == len(numbers), "duplicate ticket numbers"
    assert len(set(created)) == len(created) and set(created) <= set(numbers)
    # the per-day counter neither skipped nor repeated a number
    for counter in counters:
        prefix = f"{counter.prefix}{counter.day}-"
        seqs = sorted(int(no.removeprefix(prefix)) for no in numbers if no.startswith(prefix))
        assert seqs == list(range(1, counter.last + 1)), f"counter {prefix} skipped or repeated numbers"
    assert sum(c.last for c in counters) == len(tickets)
    # every new ticket got exactly one assignment and is now being handled
    per_ticket = Counter(a.ticket_id for a in assignments)
    created_set = set(created)
    for t in tickets:
        if t.no in created_set:
            assert t.id is not None and per_ticket[t.id] == 1 and t.status == "dispatched", t.no
    for a in assignments:
        if a.id in setup.accept_ids:
            assert a.status == "handling" and a.version == 2


# ---------------------------------------------------------------- a) and c): 16 processes on one store


@pytest.mark.slow
def test_sixteen_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    try:
        setup = _prepare(engine)
        reports = _run_workers(url, setup)
        _check_store(engine, setup, reports)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.pg
def test_sixteen_processes_on_postgresql(pg_url: str, pg_database: str) -> None:
    engine = make_engine(pg_database)
    try:
        setup = _prepare(engine)
        reports = _run_workers(pg_database, setup)
        _check_store(engine, setup, reports)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- b) optimistic versions, one order


def _pending_assignment(world: World, unit: str = "HX-CG-ZM") -> Assignment:
    agent = world.as_("agent1")
    ticket = create_ticket(agent, _form("友谊路与围堤道交口路灯不亮已一周"))
    (a,) = dispatch(agent, ticket.no, [unit])
    return a


def _accepted_events(world: World, assignment_id: int) -> int:
    with read_session(world.engine) as s:
        stmt = select(func.count()).select_from(Event).where(Event.kind == "accepted")
        return int(s.exec(stmt.where(Event.assignment_id == assignment_id)).one())


def test_two_officers_accept_same_version(world: World) -> None:
    """Both screens showed version v; the slower officer is told the order changed, nothing is applied."""
    a = _pending_assignment(world)
    assert a.id is not None
    cg, zm = world.as_("cg"), world.as_("zm")  # both units' scopes include HX-CG-ZM
    with read_session(world.engine) as s:
        seen_by_cg = s.get(Assignment, a.id)
        seen_by_zm = s.get(Assignment, a.id)
    assert seen_by_cg is not None and seen_by_zm is not None
    accept(cg, a.id, expected_version=seen_by_cg.version)
    with pytest.raises(ConcurrentUpdate) as caught:
        accept(zm, a.id, expected_version=seen_by_zm.version)
    assert "已被他人修改" in caught.value.message and "操作未生效" in caught.value.message
    assert _accepted_events(world, a.id) == 1
    with read_session(world.engine) as s:
        row = s.get(Assignment, a.id)
    assert row is not None and row.status == "handling" and row.version == seen_by_cg.version + 1


def _race_to_accept(world: World) -> None:
    a = _pending_assignment(world)
    assert a.id is not None
    assignment_id, version = a.id, a.version
    barrier = threading.Barrier(2)
    won: list[str] = []
    refused: list[HotlineError] = []
    other: list[BaseException] = []

    def act(ctx: Ctx) -> None:
        barrier.wait(10)
        try:
            accept(ctx, assignment_id, expected_version=version)
            won.append(ctx.actor.name)
        except (ConcurrentUpdate, RuleViolation) as exc:
            refused.append(exc)
        except BaseException as exc:  # reported by the assertion below
            other.append(exc)

    threads = [threading.Thread(target=act, args=(world.as_(name),)) for name in ("cg", "zm")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not other, other
    assert len(won) == 1 and len(refused) == 1, (won, refused)
    message = refused[0].message
    assert "已被他人修改" in message or "不能重复接单" in message, message
    assert _accepted_events(world, assignment_id) == 1


def test_two_officers_race_to_accept(world: World) -> None:
    """Two threads accept at the same instant: exactly one wins, the other gets a clear Chinese refusal."""
    for _ in range(5):
        _race_to_accept(world)


def test_stale_ticket_write_is_refused(world: World) -> None:
    """Two sessions load the same ticket and both save: the second save is a ConcurrentUpdate, not a silent
    overwrite (SQLAlchemy's version_id_col raises StaleDataError; Ctx.write() turns it into the message)."""
    agent = world.as_("agent1")
    ticket = create_ticket(agent, _form("幸福小区二期供暖温度不达标"))
    assert ticket.id is not None
    with agent.read() as first:
        mine = first.get(Ticket, ticket.id)
    with agent.read() as second:
        theirs = second.get(Ticket, ticket.id)
    assert mine is not None and theirs is not None and mine.version == theirs.version == 1

    with agent.write() as s:
        s.add(theirs)
        theirs.caller_address = "幸福小区二期3号楼"
    with pytest.raises(ConcurrentUpdate) as caught:
        with agent.write() as s:
            s.add(mine)
            mine.district = "河东区"
    assert "已被他人修改" in caught.value.message

    with read_session(world.engine) as s:
        row = s.get(Ticket, ticket.id)
    assert row is not None
    assert row.version == 2 and row.caller_address == "幸福小区二期3号楼" and row.district == "河西区"


@pytest.mark.pg
def test_stale_ticket_two_live_transactions_postgresql(pg_database: str) -> None:
    """On PostgreSQL two transactions can hold the same row at once: the later UPDATE waits for the earlier
    commit, then matches no row of the old version and is refused as a ConcurrentUpdate."""
    engine = make_engine(pg_database)
    try:
        seed(engine, POLICY)
        agent = _ctx(engine, "agent1")
        ticket = create_ticket(agent, _form("幸福小区二期供暖温度不达标"))
        ticket_id = ticket.id
        both_loaded = threading.Barrier(2)
        first_flushed = threading.Event()
        outcome: dict[str, BaseException | None] = {}

        def first() -> None:
            try:
                with agent.write() as s:
                    row = s.get(Ticket, ticket_id)
                    assert row is not None
                    both_loaded.wait(10)
                    row.caller_address = "幸福小区二期3号楼"
                    s.flush()  # UPDATE sent: the row stays locked until commit
                    first_flushed.set()
                    time.sleep(0.3)  # the second UPDATE is now waiting on the row lock
                outcome["first"] = None
            except BaseException as exc:  # inspected below
                first_flushed.set()
                outcome["first"] = exc

        def second() -> None:
            try:
                with agent.write() as s:
                    row = s.get(Ticket, ticket_id)
                    assert row is not None
                    both_loaded.wait(10)
                    first_flushed.wait(10)
                    row.district = "河东区"
                outcome["second"] = None
            except BaseException as exc:  # inspected below
                outcome["second"] = exc

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcome["first"] is None, outcome["first"]
        refused = outcome["second"]
        assert isinstance(refused, ConcurrentUpdate), repr(refused)
        assert "已被他人修改" in refused.message
        with read_session(engine) as s:
            row = s.get(Ticket, ticket_id)
        assert row is not None and row.version == 2 and row.district == "河西区"
    finally:
        engine.dispose()
