"""The audit trail, on SQLite and PostgreSQL: a hash-chained, append-only history that ``verify_chain``
proves untouched, and the supervisors' audit viewer.

Law: personal information in hotline data is managed on “谁管理、谁使用、谁负责” and every access and
query is controlled over the whole process (T24 27; TA 28; GZ 25), so nobody may quietly change or erase
the trace. The tamper tests act like a determined administrator: they drop the guard triggers and change
the database with SQL behind the application's back, then check that ``verify_chain`` says what and where.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from hotline_tui.db import read_session
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied
from hotline_tui.models import ChainHead, Event, Ticket
from hotline_tui.services import audit, intake
from hotline_tui.services import dispatch as dp
from hotline_tui.services.audit import (
    MAX_PROBLEMS,
    ChainReport,
    Problem,
    audit_log,
    drop_guards,
    guards_installed,
    install_guards,
    verify_chain,
)
from hotline_tui.services.core import event_digest, record_event
from tests.conftest import World

SEEDED_EVENTS = 13  # conftest's seed: units_imported + 12 user_added


def new_ticket(w: World, text_: str = "河西区友谊路与围堤道交口路灯坏了一周，晚上行人看不清路") -> str:
    form = intake.IntakeForm(
        type="complaint", channel="phone", text=text_, caller_phone="13812345678", caller_name="张三"
    )
    return intake.create_ticket(w.as_("agent1"), form).no


def populate(w: World) -> list[str]:
    """Two tickets, created by agent1 and dispatched by disp1: 4 events after the seed's."""
    nos = []
    for body in (
        "河西区友谊路与围堤道交口路灯坏了一周，晚上行人看不清路",
        "河西区某小区门口占道经营，噪音扰民",
    ):
        no = new_ticket(w, body)
        dp.dispatch(w.as_("disp1"), no, ["HX-CG"])
        nos.append(no)
    return nos


def events(w: World) -> list[Event]:
    with read_session(w.engine) as s:
        return list(s.exec(select(Event).order_by(col(Event.id))))


def event_id(w: World, no: str, kind: str) -> int:
    with read_session(w.engine) as s:
        tid = s.exec(select(Ticket.id).where(Ticket.no == no)).one()
        eid = s.exec(select(Event.id).where(Event.ticket_id == tid, Event.kind == kind)).one()
    assert eid is not None
    return eid


def tamper(w: World, sql: str, **params: Any) -> None:
    """SQL on a fresh connection, outside every service, after dropping the guard triggers."""
    drop_guards(w.engine)
    with w.engine.begin() as conn:
        conn.execute(text(sql), params)


def json_param(w: World, name: str) -> str:
    return f"CAST(:{name} AS json)" if w.backend == "pg" else f":{name}"


def raw_payload(w: World, eid: int) -> str:
    with w.engine.connect() as conn:
        return str(
            conn.execute(text("SELECT CAST(payload AS TEXT) FROM event WHERE id = :i"), {"i": eid}).scalar()
        )


def only(report: ChainReport, kind: str) -> list[Problem]:
    return [p for p in report.problems if p.kind == kind]


def assert_clean(report: ChainReport, checked: int) -> None:
    assert report.ok, report.to_json()
    assert report.checked == checked and report.problem_count == 0 and report.problems == []


# ---------------------------------------------------------------- a clean store


def test_clean_store_verifies_with_the_right_count(world: World) -> None:
    populate(world)
    report = verify_chain(world.engine)
    assert_clean(report, SEEDED_EVENTS + 4)
    assert report.first_id == 1 and report.last_id == report.head_id == SEEDED_EVENTS + 4
    assert report.head_hash == events(world)[-1].hash
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["checked"] == SEEDED_EVENTS + 4 and data["problems"] == []
    assert "事件链完整" in data["summary"]


def test_empty_store_verifies(make_world: Any) -> None:
    w = make_world("tianjin")
    tamper(w, "DELETE FROM event")
    tamper(w, "DELETE FROM chainhead")
    assert_clean(verify_chain(w.engine), 0)


def test_verify_is_for_supervisors_and_admins(world: World) -> None:
    # T24 27 / TA 28: the audit trail itself is supervised data
    assert verify_chain(world.as_("sup1")).ok
    assert verify_chain(world.as_("admin1")).ok
    for name in ("agent1", "cg", "disp1"):
        with pytest.raises(PermissionDenied) as exc:
            verify_chain(world.as_(name))
        assert "无权校验审计事件链" in exc.value.message


# ---------------------------------------------------------------- tampering behind the application's back


def test_edited_payload_is_reported_at_that_row(world: World) -> None:
    # GZ 25 / TA 28: changing what a record says must not go unnoticed
    no, _ = populate(world)
    eid = event_id(world, no, "created")
    tamper(
        world,
        f"UPDATE event SET payload = {json_param(world, 'p')} WHERE id = :i",
        p='{"type": "suggestion"}',
        i=eid,
    )
    report = verify_chain(world.engine)
    assert not report.ok and report.problem_count == 1
    (p,) = report.problems
    assert (p.event_id, p.kind) == (eid, "edited")
    assert p.message == f"事件 #{eid} 的内容被修改（哈希不符）：受理 工单 {no} 2025-01-24 16:00:00 agent1"


def test_changed_time_is_reported(world: World) -> None:
    no, _ = populate(world)
    eid = event_id(world, no, "dispatched")
    if world.backend == "pg":
        tamper(world, "UPDATE event SET at = at - interval '3 days' WHERE id = :i", i=eid)
    else:
        tamper(world, "UPDATE event SET at = '2025-01-21 08:00:00.000000' WHERE id = :i", i=eid)
    report = verify_chain(world.engine)
    assert [(p.event_id, p.kind) for p in report.problems] == [(eid, "edited")]
    assert "2025-01-21 16:00:00 disp1" in report.problems[0].message  # the row as it now reads


def test_changed_actor_is_reported(world: World) -> None:
    no, _ = populate(world)
    eid = event_id(world, no, "created")
    tamper(world, "UPDATE event SET actor = 'sup1' WHERE id = :i", i=eid)
    assert [(p.event_id, p.kind) for p in verify_chain(world.engine).problems] == [(eid, "edited")]


def test_deleted_middle_rows_are_reported_with_the_id_range(world: World) -> None:
    populate(world)
    ids = [e.id for e in events(world)]
    first, last = ids[5], ids[7]
    tamper(world, "DELETE FROM event WHERE id >= :a AND id <= :b", a=first, b=last)
    report = verify_chain(world.engine)
    assert not report.ok and report.checked == len(ids) - 3
    (p,) = report.problems
    assert (p.event_id, p.end_id, p.kind) == (first, last, "deleted")
    assert p.message.startswith(f"事件 #{first}–#{last} 被删除")


def test_deleted_single_row_message(world: World) -> None:
    populate(world)
    tamper(world, "DELETE FROM event WHERE id = 3")
    (p,) = verify_chain(world.engine).problems
    assert (p.event_id, p.end_id, p.kind) == (3, 3, "deleted")
    assert p.message.startswith("事件 #3 被删除（#2 与 #4 之间缺失")


def test_deleted_first_row_is_reported(world: World) -> None:
    tamper(world, "DELETE FROM event WHERE id = 1")
    (p,) = verify_chain(world.engine).problems
    assert (p.event_id, p.end_id, p.kind) == (1, 1, "deleted")


def test_deleted_last_rows_are_caught_by_the_chain_head(world: World) -> None:
    populate(world)
    last = events(world)[-1].id
    assert last is not None
    tamper(world, "DELETE FROM event WHERE id >= :a", a=last - 1)
    report = verify_chain(world.engine)
    (p,) = report.problems
    assert (p.event_id, p.end_id, p.kind) == (last - 1, last, "deleted")
    assert f"事件 #{last - 1}–#{last} 被删除（链头记录最后一条为 #{last}" in p.message


def test_deleted_last_row_then_the_application_carries_on(world: World) -> None:
    """The chain head still names the deleted row's hash, so the next append does not join up."""
    populate(world)
    last = events(world)[-1].id
    tamper(world, "DELETE FROM event WHERE id = :i", i=last)
    new_ticket(world)  # SQLite reuses the id; PostgreSQL's sequence moves on and leaves a gap
    report = verify_chain(world.engine)
    assert not report.ok
    assert any(p.event_id == last and p.kind in ("broken_link", "deleted") for p in report.problems)


def test_forged_row_after_the_head_is_reported_as_inserted(world: World) -> None:
    populate(world)
    before = events(world)
    at = "'2025-01-24 16:30:00+08'" if world.backend == "pg" else "'2025-01-24 08:30:00.000000'"
    tamper(
        world,
        "INSERT INTO event (ticket_id, assignment_id, kind, actor_id, actor, at, payload, prev_hash, hash) "
        f"VALUES (NULL, NULL, 'note', NULL, 'sup1', {at}, {json_param(world, 'p')}, :prev, :h)",
        p='{"text": "补录"}',
        prev=before[-1].hash,
        h="f" * 64,
    )
    report = verify_chain(world.engine)
    forged = events(world)[-1].id
    assert [(p.event_id, p.kind) for p in report.problems] == [(forged, "inserted")]
    assert "链外插入" in report.problems[0].message and "sup1" in report.problems[0].message


def test_forged_row_with_the_head_moved_to_it_is_reported(world: World) -> None:
    populate(world)
    before = events(world)
    at = "'2025-01-24 16:30:00+08'" if world.backend == "pg" else "'2025-01-24 08:30:00.000000'"
    tamper(
        world,
        "INSERT INTO event (ticket_id, assignment_id, kind, actor_id, actor, at, payload, prev_hash, hash) "
        f"VALUES (NULL, NULL, 'note', NULL, 'sup1', {at}, {json_param(world, 'p')}, :prev, :h)",
        p='{"text": "补录"}',
        prev=before[-1].hash,
        h="f" * 64,
    )
    forged = events(world)[-1].id
    tamper(world, "UPDATE chainhead SET last_id = :i, last_hash = :h WHERE id = 1", i=forged, h="f" * 64)
    assert [(p.event_id, p.kind) for p in verify_chain(world.engine).problems] == [(forged, "edited")]


def test_swapped_payloads_are_reported_at_both_rows(world: World) -> None:
    no, _ = populate(world)
    a, b = event_id(world, no, "created"), event_id(world, no, "dispatched")
    pa, pb = raw_payload(world, a), raw_payload(world, b)
    assert pa != pb
    tamper(world, f"UPDATE event SET payload = {json_param(world, 'p')} WHERE id = :i", p=pb, i=a)
    tamper(world, f"UPDATE event SET payload = {json_param(world, 'p')} WHERE id = :i", p=pa, i=b)
    report = verify_chain(world.engine)
    assert [(p.event_id, p.kind) for p in report.problems] == [(a, "edited"), (b, "edited")]


def test_row_rehashed_after_editing_breaks_the_next_link(world: World) -> None:
    """Recomputing the edited row's own hash moves the evidence to the next row's link."""
    no, _ = populate(world)
    eid = event_id(world, no, "created")
    ev = next(e for e in events(world) if e.id == eid)
    ev.payload = {**ev.payload, "type": "suggestion"}
    new_hash = event_digest(ev.prev_hash, ev)
    tamper(
        world,
        f"UPDATE event SET payload = {json_param(world, 'p')}, hash = :h WHERE id = :i",
        p=json.dumps(ev.payload, ensure_ascii=False),
        h=new_hash,
        i=eid,
    )
    (p,) = verify_chain(world.engine).problems
    assert (p.event_id, p.kind) == (eid + 1, "broken_link")
    assert f"事件 #{eid + 1} 与事件 #{eid} 的哈希链接断开" in p.message


def test_whole_chain_rewritten_but_head_forgotten(world: World) -> None:
    """Editing the last row and re-hashing it leaves the chain head as the witness."""
    populate(world)
    last = events(world)[-1]
    last.payload = {**last.payload, "forged": True}
    tamper(
        world,
        f"UPDATE event SET payload = {json_param(world, 'p')}, hash = :h WHERE id = :i",
        p=json.dumps(last.payload, ensure_ascii=False),
        h=event_digest(last.prev_hash, last),
        i=last.id,
    )
    (p,) = verify_chain(world.engine).problems
    assert (p.event_id, p.kind) == (last.id, "head_mismatch")


def test_missing_chain_head_is_reported(world: World) -> None:
    tamper(world, "DELETE FROM chainhead")
    (p,) = verify_chain(world.engine).problems
    assert p.kind == "head_mismatch" and "链头记录缺失" in p.message


def test_sqlite_file_edited_with_the_sqlite3_module(sqlite_world: World) -> None:
    """Behind the application entirely: the stdlib driver on the store file, guards dropped first."""
    w = sqlite_world
    install_guards(w.engine)
    no = new_ticket(w)
    eid = event_id(w, no, "created")
    path = w.engine.url.database
    assert path is not None
    con = sqlite3.connect(path)
    try:
        con.execute("DROP TRIGGER event_no_update")
        con.execute("UPDATE event SET payload = json_set(payload, '$.urgency', 'low') WHERE id = ?", (eid,))
        con.commit()
    finally:
        con.close()
    report = verify_chain(w.engine)
    assert [(p.event_id, p.kind) for p in report.problems] == [(eid, "edited")]
    assert report.guarded is False  # the report also says a trigger is gone


def test_report_keeps_100_problems_and_counts_the_rest(world: World) -> None:
    ctx = world.as_("sup1")
    with ctx.write() as s:
        for i in range(150):
            record_event(ctx, s, "note", payload={"text": f"进展{i}"})
    total = SEEDED_EVENTS + 150
    assert_clean(verify_chain(world.engine), total)
    tamper(world, f"UPDATE event SET payload = {json_param(world, 'p')}", p='{"text": "x"}')
    report = verify_chain(world.engine)
    assert not report.ok and report.checked == total
    assert report.problem_count == total and len(report.problems) == MAX_PROBLEMS and report.truncated
    data = json.loads(report.to_json())
    assert data["problem_count"] == total and len(data["problems"]) == MAX_PROBLEMS
    assert f"发现 {total} 处问题（仅列出前 {MAX_PROBLEMS} 项）" in report.summary()


# ---------------------------------------------------------------- append-only guards in the database


def test_guards_refuse_update_and_delete_but_not_appends(world: World) -> None:
    install_guards(world.engine)
    install_guards(world.engine)  # idempotent: hotline init may run again
    assert guards_installed(world.engine) is True
    for sql in ("UPDATE event SET actor = 'x' WHERE id = 1", "DELETE FROM event WHERE id = 1"):
        with pytest.raises(IntegrityError) as exc, world.engine.begin() as conn:
            conn.execute(text(sql))
        assert "append-only" in str(exc.value)
    with pytest.raises(IntegrityError) as exc, world.engine.begin() as conn:
        conn.execute(text("UPDATE chainhead SET last_id = last_id - 1, last_hash = '' WHERE id = 1"))
    assert "only moves forward" in str(exc.value)
    with pytest.raises(IntegrityError), world.engine.begin() as conn:
        conn.execute(text("DELETE FROM chainhead"))
    if world.backend == "pg":
        for table in ("event", "chainhead"):
            with pytest.raises(IntegrityError), world.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
    populate(world)  # the application only appends, and the head only moves forward
    report = verify_chain(world.engine)
    assert_clean(report, SEEDED_EVENTS + 4)
    assert report.guarded is True
    drop_guards(world.engine)
    assert guards_installed(world.engine) is False
    tamper(world, "UPDATE event SET actor = 'x' WHERE id = 1")  # what a determined admin could do
    assert [(p.event_id, p.kind) for p in verify_chain(world.engine).problems] == [(1, "edited")]


def test_sqlite_guards_hold_against_the_sqlite3_module(sqlite_world: World) -> None:
    install_guards(sqlite_world.engine)
    path = sqlite_world.engine.url.database
    assert path is not None
    con = sqlite3.connect(path)
    try:
        for sql in ("UPDATE event SET payload = '{}'", "DELETE FROM event"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()
    assert verify_chain(sqlite_world.engine).ok


# ---------------------------------------------------------------- the audit viewer


def test_audit_log_filters_by_user_ticket_period_and_kind(world: World) -> None:
    # T24 27 / TA 28 / GZ 25: supervisors see who did what to which order, and when
    w = world
    w.at("2025-01-23T10:00:00")
    old = new_ticket(w)
    w.at("2025-01-24T16:00:00")
    no, _ = populate(w)
    sup = w.as_("sup1")

    rows = audit_log(sup, ticket_no=no)
    assert [r["kind"] for r in rows] == ["dispatched", "created"]  # newest first
    created = rows[1]
    assert created["ticket_no"] == no and created["kind_label"] == "受理" and created["actor"] == "agent1"
    assert created["at"] == "2025-01-24T16:00:00+08:00" and created["payload"]["type"] == "complaint"
    assert rows[0]["kind_label"] == "派单" and rows[0]["actor"] == "disp1"

    by_agent = audit_log(sup, user="agent1")
    assert {r["kind"] for r in by_agent} == {"created"} and len(by_agent) == 3
    assert [r["id"] for r in by_agent] == sorted((r["id"] for r in by_agent), reverse=True)
    assert {r["actor"] for r in audit_log(sup, user="disp1")} == {"disp1"}

    day = audit_log(sup, since="2025-01-23", until="2025-01-23")  # a bare date is the whole day
    assert [(r["ticket_no"], r["kind"]) for r in day] == [(old, "created")]
    assert len(audit_log(sup, since="2025-01-24T16:00:00")) == 4
    assert audit_log(sup, since="2025-01-02", until="2025-01-22") == []
    seeded = audit_log(sup, until="2025-01-01T08:00:00")
    assert len(seeded) == SEEDED_EVENTS and {r["ticket_no"] for r in seeded} == {None}

    assert len(audit_log(sup, kinds=["dispatched"])) == 2
    assert len(audit_log(sup, kinds=["派单", "受理"])) == 5  # Chinese labels too
    assert len(audit_log(sup, user="agent1", ticket_no=no, kinds=["created"])) == 1
    assert len(audit_log(sup, limit=2)) == 2
    assert len(audit_log(w.as_("admin1"))) == SEEDED_EVENTS + 5


def test_audit_log_refuses_other_roles_and_bad_filters(world: World) -> None:
    no = new_ticket(world)
    for name in ("agent1", "disp1", "cb1", "cg", "kb1"):
        with pytest.raises(PermissionDenied) as exc:
            audit_log(world.as_(name), ticket_no=no)
        assert "无权查看审计日志" in exc.value.message and "督办管理" in exc.value.message
    sup = world.as_("sup1")
    with pytest.raises(NotFound):
        audit_log(sup, ticket_no="NOPE-1")
    with pytest.raises(InvalidInput):
        audit_log(sup, since="昨天")
    with pytest.raises(InvalidInput):
        audit_log(sup, since="2025-01-24", until="2025-01-01")
    with pytest.raises(InvalidInput):
        audit_log(sup, limit=0)


def test_head_row_is_chain_head(world: World) -> None:
    populate(world)
    with read_session(world.engine) as s:
        head = s.get(ChainHead, 1)
    assert head is not None and verify_chain(world.engine).head_id == head.last_id


def test_verify_streams_in_batches(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyset batches (5000 rows in production) join up: a deletion across a batch boundary is seen."""
    monkeypatch.setattr(audit, "BATCH", 4)
    populate(world)
    total = SEEDED_EVENTS + 4
    assert_clean(verify_chain(world.engine), total)
    tamper(world, "DELETE FROM event WHERE id IN (8, 9)")  # 8 ends the second batch, 9 starts the third
    (p,) = verify_chain(world.engine).problems
    assert (p.event_id, p.end_id, p.kind) == (8, 9, "deleted")


def test_last_row_deleted_and_a_forged_row_appended(world: World) -> None:
    populate(world)
    last = events(world)[-1]
    tamper(world, "DELETE FROM event WHERE id = :i", i=last.id)
    at = "'2025-01-24 16:30:00+08'" if world.backend == "pg" else "'2025-01-24 08:30:00.000000'"
    tamper(
        world,
        "INSERT INTO event (id, ticket_id, assignment_id, kind, actor_id, actor, at, payload, prev_hash, hash) "
        f"VALUES (:n, NULL, NULL, 'note', NULL, 'sup1', {at}, {json_param(world, 'p')}, :prev, :h)",
        n=(last.id or 0) + 1,
        p='{"text": "补录"}',
        prev=last.hash,
        h="f" * 64,
    )
    report = verify_chain(world.engine)
    assert {(p.event_id, p.kind) for p in report.problems} == {
        ((last.id or 0) + 1, "inserted"),
        (last.id, "deleted"),
    }
