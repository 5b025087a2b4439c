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


# ---------------------------------------------------------------- paging, labels and summaries


def test_audit_log_pages_backwards_with_before_id(world: World) -> None:
    populate(world)
    sup = world.as_("sup1")
    everything = [r["id"] for r in audit_log(sup)]
    assert everything == sorted(everything, reverse=True) and len(everything) == SEEDED_EVENTS + 4
    pages: list[list[int]] = []
    before: int | None = None
    for _ in range(10):  # bounded: a before_id that did nothing would never run out
        page = [r["id"] for r in audit_log(sup, limit=5, before_id=before)]
        if not page:
            break
        pages.append(page)
        before = page[-1]
    assert [len(p) for p in pages] == [5, 5, 5, 2]
    assert [i for p in pages for i in p] == everything  # each event once, newest first
    assert [r["id"] for r in audit_log(sup, before_id=everything[0] + 1)] == everything
    assert audit_log(sup, before_id=1) == []
    # paging combines with the filters
    by_agent = [r["id"] for r in audit_log(sup, user="agent1")]
    assert [r["id"] for r in audit_log(sup, user="agent1", before_id=by_agent[0])] == by_agent[1:]
    assert [r["id"] for r in audit_log(sup, kinds=["dispatched"], limit=1, before_id=by_agent[0])] == [
        by_agent[0] - 1
    ]


def test_audit_log_refuses_an_unknown_user_or_kind_but_not_the_system_actor(world: World) -> None:
    sup = world.as_("sup1")
    with pytest.raises(NotFound) as exc:
        audit_log(sup, user="nobody")
    assert exc.value.message == "用户不存在：nobody"
    assert audit_log(sup, user="cg") == []  # an account that has done nothing: no error
    assert len(audit_log(sup, user="system")) == SEEDED_EVENTS  # an actor without an account
    with pytest.raises(InvalidInput) as bad:
        audit_log(sup, kinds=["乱填"])
    assert "未知的事件类型：乱填" in bad.value.message
    assert audit_log(sup, kinds=["not_recorded_yet"]) == []  # a code without a label passes through


def test_kind_groups_and_labels(world: World) -> None:
    no = new_ticket(world)
    sup = world.as_("sup1")
    with sup.write() as s:
        ticket = s.exec(select(Ticket).where(Ticket.no == no)).one()
        for kind in ("pii_viewed", "pii_revealed", "pii_exported", "login_failed", "note"):
            record_event(sup, s, kind, ticket=ticket, payload={"fields": ["phone"]})
    assert [r["kind"] for r in audit_log(sup, kinds=["个人信息"])] == [
        "pii_exported",
        "pii_revealed",
        "pii_viewed",
    ]
    assert [r["kind"] for r in audit_log(sup, kinds=["登录"])] == ["login_failed"]
    assert [r["kind_label"] for r in audit_log(sup, kinds=["导出个人信息", "查看完整个人信息"])] == [
        "导出个人信息",
        "查看完整个人信息",
    ]
    assert audit.resolve_kinds(["个人信息", "pii_viewed", " 派单 "]) == [
        "pii_viewed",
        "pii_revealed",
        "pii_exported",
        "dispatched",
    ]


def test_event_labels_are_complete_and_unambiguous() -> None:
    expected = {
        "user_changed": "修改用户",
        "user_deactivated": "停用用户",
        "user_reactivated": "启用用户",
        "password_reset": "重置密码",
        "account_unlocked": "解锁账户",
        "unit_added": "新增单位",
        "unit_changed": "修改单位",
        "unit_moved": "调整上级单位",
        "unit_deactivated": "停用单位",
        "unit_reactivated": "启用单位",
        "policy_changed": "切换策略配置",
        "pii_revealed": "查看完整个人信息",
        "pii_exported": "导出个人信息",
        "pii_viewed": "查看诉求人信息",
        "login_succeeded": "登录成功",
        "login_failed": "登录失败",
        "account_locked": "账户锁定",
    }
    assert {k: audit.EVENT_LABELS.get(k) for k in expected} == expected
    labels = list(audit.EVENT_LABELS.values())
    assert len(labels) == len(set(labels))  # a Chinese label names exactly one kind in a filter
    assert not set(audit.KIND_GROUPS) & set(labels)
    for codes in audit.KIND_GROUPS.values():
        assert set(codes) <= set(audit.EVENT_LABELS)


def test_summaries_say_what_happened_without_free_text(world: World) -> None:
    no, _ = populate(world)
    sup = world.as_("sup1")
    with sup.write() as s:
        ticket = s.exec(select(Ticket).where(Ticket.no == no)).one()
        record_event(sup, s, "note", ticket=ticket, payload={"text": "已联系张三 13812345678"})
        record_event(
            sup,
            s,
            "callback",
            ticket=ticket,
            payload={
                "reached": True,
                "satisfaction": "dissatisfied",
                "solved": False,
                "words": "张三说没修好",
            },
        )
        record_event(
            sup,
            s,
            "pii_revealed",
            ticket=ticket,
            payload={"fields": ["name", "phone"], "reason": "13812345678"},
        )
        record_event(
            sup, s, "login_failed", payload={"user": "agent1", "reason": "bad_password", "failures": 2}
        )
        record_event(sup, s, "user_changed", payload={"user": "cg", "fields": {"display_name": ["甲", "乙"]}})
    rows = {r["kind"]: r for r in audit_log(sup, ticket_no=no)}
    assert audit.summarize(rows["created"], world.policy) == "投诉，12345电话"
    assert audit.summarize(rows["dispatched"]) == "HX-CG（承办）"
    assert audit.summarize(rows["note"]) == ""
    assert audit.summarize(rows["callback"]) == "不满意，未解决"
    assert audit.summarize(rows["pii_revealed"]) == "姓名、联系电话"
    logins = audit_log(sup, kinds=["login_failed", "user_changed"])
    assert [audit.summarize(r) for r in logins] == [
        "用户 cg，修改 显示名",
        "用户 agent1，密码错误，连续失败2次",
    ]
    every = " ".join(audit.summarize(r) for r in audit_log(sup))
    assert "13812345678" not in every and "张三" not in every and "甲" not in every
    with read_session(world.engine) as s:  # an Event row works as well as an audit_log row
        ev = s.exec(select(Event).where(Event.kind == "dispatched")).first()
    assert ev is not None and audit.summarize(ev) == "HX-CG（承办）"


def test_audit_event_gives_one_event_with_its_hashes(world: World) -> None:
    no, _ = populate(world)
    eid = event_id(world, no, "created")
    sup = world.as_("sup1")
    ev = audit.audit_event(sup, eid)
    stored = next(e for e in events(world) if e.id == eid)
    assert (ev["id"], ev["ticket_no"], ev["kind_label"], ev["actor"]) == (eid, no, "受理", "agent1")
    assert ev["hash"] == stored.hash and ev["prev_hash"] == stored.prev_hash
    assert ev["summary"] == "投诉，12345电话" and ev["payload"]["type"] == "complaint"
    with pytest.raises(NotFound):
        audit.audit_event(sup, 10_000)
    with pytest.raises(PermissionDenied):
        audit.audit_event(world.as_("agent1"), eid)


def test_verify_reports_progress_per_batch(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "BATCH", 4)
    populate(world)
    seen: list[int] = []
    report = verify_chain(world.as_("admin1"), progress=seen.append)
    assert report.ok and seen == [4, 8, 12, 16, 17] and seen[-1] == report.checked
