"""The demo store: data files, and a load that reaches every state of the lifecycle (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from hotline_tui.cli import main
from hotline_tui.clock import local, parse_datetime
from hotline_tui.db import make_engine, read_session
from hotline_tui.demo import DATA, DEMO_PASSWORD, load_demo, read_calls, read_kb, read_users, store_is_empty
from hotline_tui.models import (
    ASSIGNMENT_STATUSES,
    REQUEST_KINDS,
    ROLES,
    TICKET_STATUSES,
    Assignment,
    Event,
    KBEntry,
    Ticket,
    Unit,
    UnitRequest,
    User,
)
from hotline_tui.policy import load_policy
from hotline_tui.services.admin import parse_units, verify_password
from hotline_tui.services.reply_check import check_reply
from hotline_tui.store import upgrade

PHONE = re.compile(r"^1[3-9]\d{9}$")


# ---------------------------------------------------------------- the data files


def test_units_file_is_a_tree_with_one_centre() -> None:
    specs = parse_units((DATA / "units.toml").read_text(encoding="utf-8"), "units.toml")
    assert len(specs) >= 45
    codes = {s.code for s in specs}
    kinds = Counter(s.kind for s in specs)
    assert kinds["centre"] == 1
    for kind in ("district", "department", "sub_unit", "utility", "sub_centre", "dual_number", "enterprise"):
        assert kinds[kind] >= 1, kind
    assert all(s.parent is None or s.parent in codes for s in specs)
    by_code = {s.code: s for s in specs}
    assert by_code["JTW"].kind == "department"
    jtw_children = {s.name for s in specs if s.parent == "JTW"}
    assert {"市道路运输局", "市港航局", "市交通运输综合行政执法总队"} <= jtw_children
    for district in ("和平区", "河西区", "南开区", "河东区", "河北区", "红桥区", "滨海新区"):
        code = next(s.code for s in specs if s.kind == "district" and s.name.startswith(district))
        children = [s for s in specs if s.parent == code]
        assert any(s.name.endswith("街道办事处") for s in children), district
        assert any(s.kind == "department" for s in children), district


def test_users_file_covers_every_role() -> None:
    users = read_users()
    assert {u["role"] for u in users} == set(ROLES)
    assert next(u for u in users if u["name"] == "agent1")["role"] == "agent"
    assert all(u["name"].isascii() and u["display_name"] for u in users)
    liaison_units = {u["unit"] for u in users if u["role"] == "liaison"}
    assert "JTW" in liaison_units or "JTW-DLYS" in liaison_units
    assert any("-JD-" in code for code in liaison_units)


def test_kb_file_has_current_expired_and_future_entries() -> None:
    entries = read_kb()
    assert len(entries) >= 30
    assert len({e["id"] for e in entries}) == len(entries)
    for e in entries:
        assert set(e) == {"id", "title", "body", "keywords", "unit", "category", "valid_from", "valid_to"}
    today = parse_datetime("2026-11-24T10:00:00").date()
    assert any(e["valid_to"] and e["valid_to"] < "2025-01-01" for e in entries)
    assert any(e["valid_from"] > today.isoformat() for e in entries)


def test_calls_are_distinct_realistic_and_replies_pass_the_checker() -> None:
    calls = read_calls()
    assert len(calls) >= 120
    texts = [c["text"] for c in calls] + [p["text"] for c in calls for p in c.get("parts", [])[1:]]
    assert len(set(texts)) == len(texts)
    unit_codes = {s.code for s in parse_units((DATA / "units.toml").read_text(encoding="utf-8"), "u")}
    kb_ids = {e["id"] for e in read_kb()}
    policy = load_policy("tianjin")
    phones = Counter(c["phone"] for c in calls if c.get("phone"))
    assert any(n >= 3 for n in phones.values())  # repeat callers
    assert all(PHONE.match(p) for p in phones)
    replies = 0
    for c in calls:
        assert c["type"] in ("consult", "help", "complaint", "report", "suggestion"), c["id"]
        if "unit" in c:
            assert c["unit"] in unit_codes, c["id"]
        for code in c.get("co", []):
            assert code in unit_codes, c["id"]
        if "kb" in c:
            assert c["kb"] in kb_ids, c["id"]
        texts_to_check = [c[k] for k in ("reply", "reply2", "co_reply") if k in c]
        texts_to_check += [p["reply"] for p in c.get("parts", [])]
        for text in texts_to_check:
            result = check_reply(text, policy)
            assert result.ok, (c["id"], [f.message for f in result.findings])
            replies += 1
    assert replies >= 100


# ---------------------------------------------------------------- a loaded store


@dataclass
class Loaded:
    url: str
    engine: Engine
    counts: dict[str, Any]
    now: str


def _load_api(tmp: Path, now: str) -> Loaded:
    url = f"sqlite:///{tmp / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    assert store_is_empty(engine)
    return Loaded(url, engine, load_demo(engine, parse_datetime(now)), now)


def _load_cli(tmp: Path, now: str) -> Loaded:
    """``hotline init --demo`` on a fresh file: exit 0, the counts in the JSON output."""
    url = f"sqlite:///{tmp / 'cli.db'}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--db", url, "--now", now, "--json", "init", "--demo"]) == 0
    return Loaded(url, make_engine(url), json.loads(out.getvalue())["demo"], now)


@pytest.fixture(scope="module", params=[("api", "2025-03-20T10:00:00"), ("cli", "2026-11-24T10:00:00")])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    how, now = request.param
    tmp = tmp_path_factory.mktemp(f"demo_{how}")
    result = _load_api(tmp, now) if how == "api" else _load_cli(tmp, now)
    yield result
    result.engine.dispose()


def check_store(engine: Engine, now: str) -> None:
    """Every invariant the demo promises; shared by the SQLite and PostgreSQL tests."""
    with read_session(engine) as s:
        units = list(s.exec(select(Unit)))
        users = list(s.exec(select(User)))
        tickets = list(s.exec(select(Ticket)))
        assignments = list(s.exec(select(Assignment)))
        requests = list(s.exec(select(UnitRequest)))
        events = list(s.exec(select(Event).order_by(col(Event.id))))
        kb = int(s.exec(select(func.count()).select_from(KBEntry)).one())

    assert len(units) >= 40
    assert [u.kind for u in units].count("centre") == 1
    parents = {u.id: u.parent_id for u in units}
    for uid in parents:
        seen: set[int] = set()
        cur = uid
        while cur is not None:
            assert cur not in seen
            seen.add(cur)
            cur = parents[cur]
    assert any(parents.get(p) is not None for p in parents.values() if p is not None)  # depth ≥ 2

    assert {u.role for u in users} >= set(ROLES)
    assert all(u.password_hash.startswith("scrypt$") for u in users)
    agent1 = next(u for u in users if u.name == "agent1")
    assert agent1.role == "agent" and verify_password(DEMO_PASSWORD, agent1.password_hash)
    assert kb >= 30

    assert len(tickets) >= 200
    assert {t.status for t in tickets} == set(TICKET_STATUSES)
    assert {a.status for a in assignments} >= set(ASSIGNMENT_STATUSES) - {"cancelled"}
    pending = {r.kind for r in requests if r.status == "pending"}
    assert pending == set(REQUEST_KINDS)
    assert len({t.text for t in tickets}) == len(tickets)
    assert len(tickets) - len({t.caller_phone for t in tickets if t.caller_phone}) > 20  # repeat callers

    # the other shapes of the lifecycle
    assert any(a.designated for a in assignments)
    assert any(a.accepted_late for a in assignments)
    assert any(a.extensions for a in assignments)
    assert {"lead", "co"} <= {a.role for a in assignments}
    assert any(t.parent_id for t in tickets)  # split
    assert any(t.status == "closed" and t.satisfaction == "dissatisfied" for t in tickets)
    assert any(t.status == "closed" and t.satisfaction == "basically_satisfied" for t in tickets)
    assert any(t.status == "answered" and t.kb_entry_id for t in tickets)
    assert {t.route for t in tickets if t.triage_class == "emergency"} == {"110", "119", "120", "122"}
    assert any(r.kind == "return" and r.status == "approved" for r in requests)
    assert any(r.kind == "return" and r.status == "rejected" for r in requests)
    assert any(r.kind == "appeal" and r.status == "approved" for r in requests)
    at = parse_datetime(now)
    assert any(a.status in ("pending", "handling") and local(a.due_at) < at for a in assignments)  # overdue

    # times: within the 60 days before now, never after it
    created = [local(t.created_at) for t in tickets]
    assert min(created) >= at - timedelta(days=61)
    assert max(local(e.at) for e in events) <= at

    # every event chained to the one before it
    previous = ""
    for ev in events:
        assert ev.prev_hash == previous, ev.id
        previous = ev.hash
    kinds = Counter(e.kind for e in events)
    for kind in (
        "reply_sent_back",
        "extension_approved",
        "extension_rejected",
        "stop_approved",
        "return_rejected",
    ):
        assert kinds[kind] >= 1, kind


def test_loaded_store_reaches_every_state(loaded: Loaded) -> None:
    check_store(loaded.engine, loaded.now)


def test_load_counts_match_the_store(loaded: Loaded) -> None:
    counts = loaded.counts
    assert counts["refused"] == 0
    with read_session(loaded.engine) as s:
        statuses = Counter(s.exec(select(Ticket.status)).all())
    assert counts["tickets"] == sum(statuses.values())
    for status in TICKET_STATUSES:
        assert counts[status] == statuses[status] > 0


def test_init_demo_if_empty_changes_nothing_the_second_time(
    loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    def snapshot() -> tuple[int, int, int, int]:
        with read_session(loaded.engine) as s:
            return (
                int(s.exec(select(func.count()).select_from(Unit)).one()),
                int(s.exec(select(func.count()).select_from(User)).one()),
                int(s.exec(select(func.count()).select_from(Ticket)).one()),
                int(s.exec(select(func.count()).select_from(Event)).one()),
            )

    before = snapshot()
    assert main(["--db", loaded.url, "--json", "init", "--demo", "--if-empty"]) == 0
    assert json.loads(capsys.readouterr().out)["demo"] == {}
    assert snapshot() == before
    # without --if-empty a store that has data is refused and left alone
    assert main(["--db", loaded.url, "init", "--demo"]) != 0
    assert "演示数据只能载入空库" in capsys.readouterr().err
    assert snapshot() == before


def test_calls_toml_is_valid_toml() -> None:
    raw = tomllib.loads((DATA / "calls.toml").read_text(encoding="utf-8"))
    flows = Counter(c["flow"] for c in raw["call"])
    assert flows["satisfied"] >= 30 and flows["answer"] >= 20


@pytest.mark.pg
def test_demo_loads_on_postgresql(pg_database: str) -> None:
    engine = make_engine(pg_database)
    try:
        upgrade(engine)
        counts = load_demo(engine, parse_datetime("2025-03-20T10:00:00"))
        assert counts["refused"] == 0
        check_store(engine, "2025-03-20T10:00:00")
    finally:
        engine.dispose()
