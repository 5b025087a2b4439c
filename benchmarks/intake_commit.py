"""Intake commit latency with many writer processes on one store (DESIGN.md "Quality targets").

One *intake* is ``create_ticket`` (ticket + "created" event) followed by ``dispatch`` to a unit (assignment +
"dispatched" event): two commits, both timed on their own and together. Every writer also adds a progress
note to ONE shared assignment after each intake (a third commit, all writers on the same rows), so lost
updates show up as missing events or a forked event chain.

    python benchmarks/intake_commit.py [--quick] [--backends sqlite,pg] [--writers 1,4,16]
        [--modes paced,saturated] [--seconds S] [--count N]

Run from the repository root. Modes: *paced* — each writer starts one intake about once a second (uniform
0.5–1.5 s gaps) for ``--seconds`` (20 s; 6 s with ``--quick``); *saturated* — each writer runs ``--count``
intakes back to back (50; 15 with ``--quick``). Each (backend, writers, mode) gets a fresh store: an SQLite
file in a temporary directory, or a new database on a throwaway PostgreSQL cluster (tests/pg_harness.py).
Writers are separate processes, each with its own engine, released together by a barrier after one warm-up
intake (counted in the store checks, not in the latencies).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from hotline_tui.clock import SystemClock  # noqa: E402
from hotline_tui.db import make_engine, read_session  # noqa: E402
from hotline_tui.models import Event, Ticket, TicketCounter  # noqa: E402
from hotline_tui.policy import load_policy  # noqa: E402
from hotline_tui.services.admin import add_user, import_units, parse_units  # noqa: E402
from hotline_tui.services.core import SYSTEM, Ctx, actor_for  # noqa: E402
from hotline_tui.services.dispatch import dispatch  # noqa: E402
from hotline_tui.services.handling import accept, add_note  # noqa: E402
from hotline_tui.services.intake import IntakeForm, create_ticket  # noqa: E402
from hotline_tui.store import upgrade  # noqa: E402

POLICY = "tianjin"
UNIT = "HX-CG"
UNITS = """
[[unit]]
code = "CENTRE"
name = "市便民专线服务中心"
kind = "centre"

[[unit]]
code = "HX"
name = "河西区人民政府"
kind = "district"

[[unit]]
code = "HX-CG"
name = "河西区城市管理委员会"
kind = "department"
parent = "HX"
"""
BARRIER_TIMEOUT_S = 300.0


# ---------------------------------------------------------------- store set-up


def seed(engine: Engine) -> int:
    """Schema, units, an agent and a liaison officer; returns the shared (accepted) assignment's id."""
    upgrade(engine)
    admin = Ctx(engine, load_policy(POLICY), SYSTEM, SystemClock())
    import_units(admin, parse_units(UNITS, "benchmark"))
    add_user(admin, "agent1", "agent", None, display_name="坐席一")
    add_user(admin, "cg", "liaison", UNIT, display_name="城管委联络员")
    agent, liaison = user_ctx(engine, "agent1"), user_ctx(engine, "cg")
    ticket = create_ticket(agent, form("共享工单：友谊路沿线路灯成片不亮"))
    (shared,) = dispatch(agent, ticket.no, [UNIT])
    assert shared.id is not None
    accept(liaison, shared.id)
    return shared.id


def user_ctx(engine: Engine, name: str) -> Ctx:
    with read_session(engine) as s:
        actor = actor_for(s, name)
    return Ctx(engine, load_policy(POLICY), actor, SystemClock())


def form(text: str) -> IntakeForm:
    return IntakeForm(
        type="complaint",
        channel="phone",
        text=text,
        caller_name="李女士",
        caller_phone="13812345678",
        caller_address="河西区友谊路1号",
        district="河西区",
    )


# ---------------------------------------------------------------- one writer process


@dataclass
class WriterResult:
    combined_ms: list[float] = field(default_factory=list)  # create_ticket + dispatch
    commit_ms: list[float] = field(default_factory=list)  # every single commit
    created: int = 0
    dispatched: int = 0
    notes: int = 0
    lock_errors: int = 0
    errors: list[str] = field(default_factory=list)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "locked" in text or "繁忙" in text or "busy" in text


def writer(
    url: str,
    index: int,
    mode: str,
    seconds: float,
    count: int,
    shared_id: int,
    barrier: Any,
    out: Any,
) -> None:
    result = WriterResult()
    engine: Engine | None = None
    rng = random.Random(index)

    def attempt(fn: Callable[[], Any], what: str) -> tuple[bool, Any, float]:
        """Run one commit; (succeeded, its value, its latency in ms)."""
        t0 = time.perf_counter()
        try:
            value = fn()
        except Exception as exc:  # every failure is counted
            if _is_lock_error(exc):
                result.lock_errors += 1
            else:
                result.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return False, None, 0.0
        return True, value, (time.perf_counter() - t0) * 1000

    def intake(n: int, timed: bool) -> None:
        text = f"第{index}号坐席第{n}次受理：友谊路路灯不亮"
        ok, ticket, t_create = attempt(lambda: create_ticket(agent, form(text)), "create_ticket")
        if not ok:
            return
        result.created += 1
        dispatched, _, t_dispatch = attempt(lambda: dispatch(agent, ticket.no, [UNIT]), "dispatch")
        result.dispatched += dispatched
        note = f"第{index}号联络员第{n}次进展：已派员核查"
        noted, _, t_note = attempt(lambda: add_note(liaison, shared_id, note), "add_note")
        result.notes += noted
        if timed:
            result.commit_ms.append(t_create)
            if dispatched:
                result.commit_ms.append(t_dispatch)
                result.combined_ms.append(t_create + t_dispatch)
            if noted:
                result.commit_ms.append(t_note)

    try:
        engine = make_engine(url)  # this process's own engine: never shared across processes
        agent, liaison = user_ctx(engine, "agent1"), user_ctx(engine, "cg")
        intake(-1, timed=False)  # warm-up: imports, calendar, connection
        barrier.wait(BARRIER_TIMEOUT_S)
        start = time.perf_counter()
        if mode == "paced":
            deadline = start + seconds
            next_at = start + rng.uniform(0.0, 1.0)
            n = 0
            while next_at < deadline:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                intake(n, timed=True)
                n += 1
                next_at += rng.uniform(0.5, 1.5)
        else:
            for n in range(count):
                intake(n, timed=True)
    except Exception:
        result.errors.append(traceback.format_exc())
    finally:
        if engine is not None:
            engine.dispose()
        out.put(result)


# ---------------------------------------------------------------- one run


@dataclass
class Row:
    backend: str
    writers: int
    mode: str
    combined: list[float]
    commits: list[float]
    intakes: int
    lock_errors: int
    lost: int
    seconds: float
    details: list[str]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def verify(engine: Engine, before: int, shared_id: int, results: list[WriterResult]) -> tuple[int, list[str]]:
    """Lost updates: committed changes the store does not show, forks in the event chain, counter gaps."""
    created = sum(r.created for r in results)
    dispatched = sum(r.dispatched for r in results)
    notes = sum(r.notes for r in results)
    with read_session(engine) as s:
        events = list(s.exec(select(Event).where(col(Event.id) > before).order_by(col(Event.id))))
        last_before = s.exec(
            select(Event).where(col(Event.id) <= before).order_by(col(Event.id).desc())
        ).first()
        shared_notes = s.exec(
            select(func.count())
            .select_from(Event)
            .where(Event.kind == "note", Event.assignment_id == shared_id, col(Event.id) > before)
        ).one()
        tickets = s.exec(select(func.count()).select_from(Ticket)).one()
        counted = sum(c.last for c in s.exec(select(TicketCounter)))
    details: list[str] = []
    expected = created + dispatched + notes
    missing = expected - len(events)
    if missing:
        details.append(f"events: expected {expected}, found {len(events)}")
    if shared_notes != notes:
        details.append(f"notes on the shared order: expected {notes}, found {shared_notes}")
    prev = last_before.hash if last_before is not None else ""
    breaks = 0
    for ev in events:
        if ev.prev_hash != prev:
            breaks += 1
        prev = ev.hash
    if breaks:
        details.append(f"event chain: {breaks} broken links")
    gaps = abs(int(counted) - int(tickets))
    if gaps:
        details.append(f"ticket counter says {counted}, store holds {tickets} tickets")
    return abs(missing) + breaks + gaps, details


def run_one(url: str, backend: str, writers: int, mode: str, seconds: float, count: int) -> Row:
    engine = make_engine(url)
    try:
        shared_id = seed(engine)
        with read_session(engine) as s:
            before = int(s.exec(select(func.max(Event.id))).one() or 0)
        context = process_context()
        barrier = context.Barrier(writers + 1)
        out = context.Queue()
        procs = [
            context.Process(target=writer, args=(url, i, mode, seconds, count, shared_id, barrier, out))
            for i in range(writers)
        ]
        for p in procs:
            p.start()
        barrier.wait(BARRIER_TIMEOUT_S)
        t0 = time.perf_counter()
        results: list[WriterResult] = [out.get(timeout=BARRIER_TIMEOUT_S + seconds) for _ in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        lost, details = verify(engine, before, shared_id, results)
        errors = [e for r in results for e in r.errors]
        details.extend(f"error: {e.strip().splitlines()[-1]}" for e in errors[:5])
        if len(errors) > 5:
            details.append(f"... {len(errors) - 5} more errors")
        return Row(
            backend,
            writers,
            mode,
            [x for r in results for x in r.combined_ms],
            [x for r in results for x in r.commit_ms],
            sum(len(r.combined_ms) for r in results),
            sum(r.lock_errors for r in results),
            lost,
            elapsed,
            details,
        )
    finally:
        engine.dispose()


PRELOAD = [
    "sqlmodel",
    "hotline_tui.services.intake",
    "hotline_tui.services.dispatch",
    "hotline_tui.services.handling",
    "hotline_tui.services.admin",
    "hotline_tui.store",
]


def process_context() -> Any:
    """forkserver with the application preloaded (a clean parent that never opened a database), else spawn.

    The modules are named one by one: Python 3.11's forkserver ignores a preloaded ``__main__``.
    """
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return mp.get_context("spawn")


# ---------------------------------------------------------------- report


def fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def print_tables(rows: list[Row]) -> None:
    print("\n### Intake + dispatch (two commits, timed together)\n")
    print("| backend | writers | mode | commits | p50 ms | p99 ms | max ms | lock errors | lost updates |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        c = r.combined
        print(
            f"| {r.backend} | {r.writers} | {r.mode} | {r.intakes} | {fmt(percentile(c, 50))} | "
            f"{fmt(percentile(c, 99))} | {fmt(max(c, default=math.nan))} | {r.lock_errors} | {r.lost} |"
        )
    print("\n### Every single commit (create_ticket, dispatch, add_note on the shared order)\n")
    print("| backend | writers | mode | commits | commits/s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        c = r.commits
        rate = len(c) / r.seconds if r.seconds else math.nan
        print(
            f"| {r.backend} | {r.writers} | {r.mode} | {len(c)} | {rate:.0f} | {fmt(percentile(c, 50))} | "
            f"{fmt(percentile(c, 99))} | {fmt(max(c, default=math.nan))} |"
        )
    notes = [(r, d) for r in rows for d in r.details]
    if notes:
        print("\nFindings:\n")
        for r, d in notes:
            print(f"- {r.backend}, {r.writers} writers, {r.mode}: {d}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short runs (paced 6 s, saturated 15 intakes)")
    parser.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite, pg")
    parser.add_argument("--writers", default="1,4,16", help="comma-separated writer process counts")
    parser.add_argument("--modes", default="paced,saturated", help="comma-separated: paced, saturated")
    parser.add_argument("--seconds", type=float, default=None, help="paced run length per writer count")
    parser.add_argument("--count", type=int, default=None, help="saturated intakes per writer")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (6.0 if args.quick else 20.0)
    count = args.count if args.count is not None else (15 if args.quick else 50)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    writer_counts = [int(w) for w in args.writers.split(",") if w.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [b for b in backends if b not in ("sqlite", "pg")] + [
        m for m in modes if m not in ("paced", "saturated")
    ]
    if unknown:
        parser.error(f"unknown backend or mode: {', '.join(unknown)}")

    print(f"# intake_commit benchmark — {datetime.now().isoformat(timespec='seconds')}")
    print(
        f"\n{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; paced {seconds:g} s, saturated {count} intakes per writer"
    )
    rows: list[Row] = []
    started = time.perf_counter()
    server: Any = None
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        try:
            for backend in backends:
                if backend == "pg":
                    from tests.pg_harness import PostgresServer

                    server = PostgresServer()
                    if server.start() is None:
                        print(f"\nPostgreSQL skipped: {server.skip_reason}")
                        continue
                for writers in writer_counts:
                    for mode in modes:
                        name = f"{backend}_{writers}_{mode}"
                        url = (
                            f"sqlite:///{Path(tmp) / name}.db"
                            if backend == "sqlite"
                            else server.create_database(name)
                        )
                        row = run_one(url, backend, writers, mode, seconds, count)
                        rows.append(row)
                        done = f"{row.intakes} intakes in {row.seconds:.1f} s"
                        print(
                            f"  {backend} {writers:>2} writers {mode:<9}: {done}", file=sys.stderr, flush=True
                        )
        finally:
            if server is not None:
                server.stop()
    print_tables(rows)
    print(f"Total run time {time.perf_counter() - started:.0f} s.")
    bad = any(r.lock_errors or r.lost for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
