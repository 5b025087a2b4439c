"""``hotline backup`` / ``hotline restore``: back up, restore, and compare the copy row by row.

SQLite: a backup taken while another thread keeps writing must be one consistent snapshot (integrity ok,
hash chain intact, every transaction wholly present or wholly absent). PostgreSQL: pg_dump / pg_restore
round trip against the session's throwaway server (skipped with the reason when unavailable).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, col, select

from hotline_tui.db import make_engine, read_session
from hotline_tui.errors import HotlineError
from hotline_tui.models import Assignment, ChainHead, Event, Ticket
from hotline_tui.services import backup as bk
from hotline_tui.services.backup import backup, compare, restore
from hotline_tui.services.core import Ctx, event_digest
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from hotline_tui.store import SCHEMA_HEAD, alembic_config
from tests.conftest import World, _pg_engine, seed

UNIT = "HX-CG"


def _form(text_: str) -> IntakeForm:
    return IntakeForm(
        type="complaint",
        channel="phone",
        text=text_,
        caller_name="张先生",
        caller_phone="13812345678",
        caller_address="河西区友谊路1号",
        district="河西区",
    )


def _fill(ctx: Ctx, n: int, tag: str = "") -> list[str]:
    nos = []
    for i in range(n):
        ticket = create_ticket(ctx, _form(f"{tag}第{i}件：友谊路路灯不亮，夜间出行不便"))
        if i % 2 == 0:
            dispatch(ctx, ticket.no, [UNIT])
        nos.append(ticket.no)
    return nos


def _readonly(path: Path) -> Engine:
    """Open a backup file without touching it (make_engine would switch it to WAL)."""
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def store(sqlite_world: World) -> World:
    _fill(sqlite_world.as_("agent1"), 6, "种子")
    return sqlite_world


def _events(engine: Engine) -> list[Event]:
    with read_session(engine) as s:
        return list(s.exec(select(Event).order_by(col(Event.id))).all())


def _assert_chain(engine: Engine) -> None:
    events = _events(engine)
    assert events, "no events"
    prev = ""
    for ev in events:
        assert ev.prev_hash == prev, f"event {ev.id}: chain broken"
        assert ev.hash == event_digest(prev, ev), f"event {ev.id}: hash does not match its content"
        prev = ev.hash
    with Session(engine) as s:
        head = s.get(ChainHead, 1)
    assert head is not None and head.last_id == events[-1].id and head.last_hash == events[-1].hash


def _assert_whole_transactions(engine: Engine) -> None:
    """Every ticket has its 'created' event and every dispatched ticket its assignment, and vice versa."""
    with Session(engine) as s:
        tickets = {t.id for t in s.exec(select(Ticket)).all()}
        assigned = {a.ticket_id for a in s.exec(select(Assignment)).all()}
        events = list(s.exec(select(Event)).all())
    created = {e.ticket_id for e in events if e.kind == "created"}
    dispatched = {e.ticket_id for e in events if e.kind == "dispatched"}
    assert tickets == created
    assert assigned == dispatched


# ---------------------------------------------------------------- SQLite


def test_backup_while_writing_is_one_consistent_snapshot(store: World, tmp_path: Path) -> None:
    ctx = store.as_("agent1")
    stop = threading.Event()
    written: list[str] = []
    errors: list[BaseException] = []
    enough_before = threading.Event()

    def writer() -> None:
        try:
            i = 0
            while not stop.is_set():
                ticket = create_ticket(ctx, _form(f"并发写入第{i}件：小区门口占道经营"))
                dispatch(ctx, ticket.no, [UNIT])
                written.append(ticket.no)
                i += 1
                if i >= 5:
                    enough_before.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            enough_before.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert enough_before.wait(60)
        copy = tmp_path / "copy.db"
        result = backup(store.engine, copy)
        after_backup = len(written)
        deadline = threading.Event()
        while len(written) < after_backup + 5 and not errors:  # keep writing past the snapshot
            deadline.wait(0.01)
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors

    assert result.backend == "sqlite" and result.revision == SCHEMA_HEAD
    assert result.bytes == copy.stat().st_size > 0
    assert result.counts["ticket"] >= 6 + 5 and result.counts["event"] > 0
    assert not Path(f"{copy}-wal").exists(), "a backup is one self-contained file"
    with sqlite3.connect(copy) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    restored = tmp_path / "restored.db"
    Path(f"{restored}-wal").write_bytes(b"left over by a deleted store")
    rr = restore(copy, _sqlite_url(restored))
    assert (
        not Path(f"{restored}-wal").exists()
        or Path(f"{restored}-wal").read_bytes() != b"left over by a deleted store"
    )
    assert rr.counts == result.counts and rr.revision == SCHEMA_HEAD and not rr.needs_upgrade
    assert not rr.replaced and rr.warnings == []

    target = make_engine(_sqlite_url(restored))
    snapshot = _readonly(copy)
    try:
        assert compare(snapshot, target) == []
        _assert_chain(target)
        _assert_whole_transactions(target)
        # the source went on: writes after the snapshot are absent from the copy, the rest is identical
        with read_session(store.engine) as s:
            total = len(s.exec(select(Ticket)).all())
        assert total > result.counts["ticket"]
        source_events = _events(store.engine)
        copied_events = _events(target)
        assert [e.model_dump() for e in copied_events] == [
            e.model_dump() for e in source_events[: len(copied_events)]
        ]
        diffs = compare(store.engine, target)
        assert diffs and not any("只在 B 中" in d for d in diffs)
        # (compare lists 20 differences a table, then counts the rest: a loaded machine writes more)
        assert not any(
            d.startswith("表 event：") and "只在 A 中" not in d and "处差异未列出" not in d for d in diffs
        ), diffs
    finally:
        target.dispose()
        snapshot.dispose()

    # quiescent now: a second backup (over the first, with overwrite) restores to an identical store
    again = backup(store.engine, copy, overwrite=True)
    assert again.counts["ticket"] == total
    second = tmp_path / "second.db"
    restore(copy, _sqlite_url(second))
    target = make_engine(_sqlite_url(second))
    try:
        assert compare(store.engine, target) == []
        _assert_chain(target)
    finally:
        target.dispose()


def test_backup_refuses_to_overwrite(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(b"keep me")
    with pytest.raises(HotlineError, match="已存在"):
        backup(store.engine, copy)
    assert copy.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".copy.db")] == []
    backup(store.engine, copy, overwrite=True)
    assert copy.read_bytes().startswith(b"SQLite format 3")


def test_backup_refusals(tmp_path: Path, store: World) -> None:
    with pytest.raises(HotlineError, match="目录不存在"):
        backup(store.engine, tmp_path / "nope" / "copy.db")
    with pytest.raises(HotlineError, match="数据库文件本身"):
        backup(store.engine, Path(str(store.engine.url.database)), overwrite=True)
    missing = make_engine(_sqlite_url(tmp_path / "missing.db"))
    with pytest.raises(HotlineError, match="数据库文件不存在"):
        backup(missing, tmp_path / "x.db")
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(HotlineError, match="hotline init"):
        backup(make_engine(_sqlite_url(empty)), tmp_path / "y.db")
    assert not (tmp_path / "y.db").exists()


def test_restore_refuses_non_empty_store_without_force(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    backup(store.engine, copy)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = make_engine(_sqlite_url(other_dir / "store.db"))
    seed(other)
    before = compare(other, store.engine)
    assert before, "the other store differs (no tickets)"
    with pytest.raises(HotlineError, match="--force"):
        restore(copy, _sqlite_url(other_dir / "store.db"))
    assert compare(other, store.engine) == before, "refused: nothing changed"

    # with force, even while a reader holds a connection open, the store becomes the backup
    reader = other.connect()
    try:
        rr = restore(copy, _sqlite_url(other_dir / "store.db"), force=True)
        assert rr.replaced
        assert reader.execute(text("SELECT count(*) FROM ticket")).scalar_one() == rr.counts["ticket"]
    finally:
        reader.close()
    assert compare(other, store.engine) == []
    with sqlite3.connect(other_dir / "store.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.dispose()


def test_restore_into_existing_empty_file(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    backup(store.engine, copy)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    rr = restore(copy, _sqlite_url(empty))
    assert not rr.replaced
    target = make_engine(_sqlite_url(empty))
    assert compare(store.engine, target) == []
    target.dispose()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "不是热线数据库的备份文件"),
        (b"hello, not a backup\n" * 100, "不是热线数据库的备份文件"),
        (b"SQLite format 3\x00" + b"\xff" * 5000, "SQLite|损坏|不是"),
    ],
)
def test_restore_rejects_garbage(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.bak"
    bad.write_bytes(content)
    with pytest.raises(HotlineError, match=message) as info:
        restore(bad, _sqlite_url(tmp_path / "target.db"))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))
    assert not (tmp_path / "target.db").exists()


def test_restore_rejects_truncated_and_foreign_files(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    backup(store.engine, copy)
    data = copy.read_bytes()
    cut = tmp_path / "cut.db"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(HotlineError, match="损坏|完整性|不是"):
        restore(cut, _sqlite_url(tmp_path / "t1.db"))
    assert not (tmp_path / "t1.db").exists()

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(HotlineError, match="不是热线数据库"):
        restore(foreign, _sqlite_url(tmp_path / "t2.db"))

    with pytest.raises(HotlineError, match="备份文件不存在"):
        restore(tmp_path / "absent.db", _sqlite_url(tmp_path / "t3.db"))
    with pytest.raises(HotlineError, match="同一个文件"):
        restore(copy, _sqlite_url(copy), force=True)


def test_cross_backend_restore_is_refused(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    backup(store.engine, copy)
    with pytest.raises(HotlineError, match="跨数据库类型"):
        restore(copy, "postgresql://hotline@127.0.0.1:1/none")
    dump = tmp_path / "fake.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    with pytest.raises(HotlineError, match="PostgreSQL 的备份，不能恢复到 SQLite"):
        restore(dump, _sqlite_url(tmp_path / "t.db"))


def test_restore_of_older_revision_says_to_upgrade(tmp_path: Path) -> None:
    from alembic import command

    old = make_engine(_sqlite_url(tmp_path / "old.db"))
    cfg = alembic_config()
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    copy = tmp_path / "old.bak"
    assert backup(old, copy).revision == "0002"
    rr = restore(copy, _sqlite_url(tmp_path / "new.db"))
    assert rr.needs_upgrade and rr.revision == "0002"
    assert any("hotline init" in w for w in rr.warnings)
    old.dispose()


def test_compare_reports_differences_without_personal_data(store: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    backup(store.engine, copy)
    restore(copy, _sqlite_url(tmp_path / "r.db"))
    target = make_engine(_sqlite_url(tmp_path / "r.db"))
    with target.begin() as conn:
        conn.execute(text("UPDATE ticket SET caller_phone = '13900000000', status = 'closed' WHERE id = 1"))
        conn.execute(text("DELETE FROM kb_search_text"))
    diffs = compare(store.engine, target)
    assert any("ticket" in d and "caller_phone" in d and "已隐藏" in d for d in diffs)
    assert any("ticket" in d and "status" in d for d in diffs)
    assert not any("13900000000" in d or "13812345678" in d for d in diffs)
    target.dispose()


def test_backup_result_to_json(store: World, tmp_path: Path) -> None:
    result = backup(store.engine, tmp_path / "copy.db")
    data = result.to_json()
    assert data["path"] == str(tmp_path / "copy.db") and data["backend"] == "sqlite"
    assert data["counts"]["ticket"] == 6 and isinstance(data["seconds"], float)
    assert "已备份" in bk.describe(result)


# ---------------------------------------------------------------- PostgreSQL tools


def test_missing_pg_dump_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bk.shutil, "which", lambda _name: None)
    monkeypatch.setattr(bk.glob, "glob", lambda _pattern: [])
    with pytest.raises(HotlineError, match="postgresql-client"):
        bk.find_pg_tool("pg_dump")


def test_pg_password_goes_through_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(cmd: list[str], env: dict[str, str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append((cmd, env))
        return subprocess.CompletedProcess(cmd, 1, "", "pg_restore: error: input file is too short")

    monkeypatch.setattr(bk, "find_pg_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(bk.subprocess, "run", fake_run)
    dump = tmp_path / "x.dump"
    dump.write_bytes(b"PGDMP")
    with pytest.raises(HotlineError, match="不是有效的 pg_dump 归档"):
        restore(dump, "postgresql://hotline:s3cret@db.example:5432/hotline")
    assert calls
    for cmd, env in calls:
        assert not any("s3cret" in arg for arg in cmd)
        assert env["PGPASSWORD"] == "s3cret"


# ---------------------------------------------------------------- PostgreSQL


def _need_pg_tools() -> None:
    for tool in ("pg_dump", "pg_restore"):
        try:
            bk.find_pg_tool(tool)
        except HotlineError as exc:
            pytest.skip(f"{tool} unavailable: {exc}")


@pytest.fixture
def pg_store() -> Iterator[Engine]:
    """A seeded PostgreSQL store with a few tickets (its own database; ``pg_database`` is the target)."""
    _need_pg_tools()
    engine = _pg_engine()
    seed(engine)
    from hotline_tui.clock import FixedClock, parse_datetime
    from hotline_tui.policy import load_policy
    from hotline_tui.services.core import actor_for

    with read_session(engine) as s:
        actor = actor_for(s, "agent1")
    _fill(Ctx(engine, load_policy("tianjin"), actor, FixedClock(parse_datetime("2025-01-24T16:00:00"))), 6)
    yield engine
    engine.dispose()


@pytest.mark.pg
def test_pg_backup_and_restore_round_trip(pg_store: Engine, pg_database: str, tmp_path: Path) -> None:
    dump = tmp_path / "hotline.dump"
    result = backup(pg_store, dump)
    assert result.backend == "postgresql" and result.revision == SCHEMA_HEAD
    assert dump.read_bytes().startswith(b"PGDMP")
    assert result.counts["ticket"] == 6 and result.counts["kb_search_doc"] == 0
    with pytest.raises(HotlineError, match="已存在"):
        backup(pg_store, dump)

    # pg_database gives a second, fresh database for the target
    rr = restore(dump, pg_database)
    assert rr.counts == result.counts and not rr.replaced and rr.warnings == []
    target = make_engine(pg_database)
    try:
        assert compare(pg_store, target) == []
        _assert_chain(target)
        # non-empty now: refused without force, replaced with force
        with pytest.raises(HotlineError, match="--force"):
            restore(dump, pg_database)
        with target.begin() as conn:
            conn.execute(text("UPDATE ticket SET status = 'closed' WHERE id = 1"))
        assert compare(pg_store, target) != []
        target.dispose()
        assert restore(dump, pg_database, force=True).replaced
        assert compare(pg_store, target) == []
    finally:
        target.dispose()
    with pytest.raises(HotlineError, match="PostgreSQL 的备份，不能恢复到 SQLite"):
        restore(dump, _sqlite_url(tmp_path / "t.db"))


@pytest.mark.pg
def test_pg_restore_rejects_garbage_archive(pg_database: str, tmp_path: Path) -> None:
    _need_pg_tools()
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP" + b"\x00" * 64)
    with pytest.raises(HotlineError, match="不是有效的 pg_dump 归档"):
        restore(bad, pg_database)
    engine = make_engine(pg_database)
    try:
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
            )
    finally:
        engine.dispose()


def test_pg_tools_present_or_skip_reason() -> None:
    """Documents which tool the PostgreSQL tests use (or why they skip)."""
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not on PATH (postgresql-client)")
    assert Path(bk.find_pg_tool("pg_dump")).name == "pg_dump"
