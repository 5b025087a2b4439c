"""Engine and sessions for SQLite (default, embedded) and PostgreSQL, from one URL.

SQLite is opened the way NOTES.md measured safe for many writer processes: WAL, a long busy timeout,
foreign keys on, the driver's own transaction handling off, and ``BEGIN IMMEDIATE`` for every write
transaction, so a read-modify-write never loses an update and never fails to upgrade its lock.
Read-only sessions opt out with the ``hotline_readonly`` execution option.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, OperationalError
from sqlmodel import Session, create_engine

from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.paths import default_url

READONLY = "hotline_readonly"
BUSY_TIMEOUT_MS = 15000


def normalize_url(url: str) -> str:
    """Accept a bare file path as an SQLite store; use psycopg 3 for postgresql:// URLs."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    raw = normalize_url(url or default_url())
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise HotlineError(f"数据库地址无法识别：{raw}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(raw, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(raw, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise HotlineError(f"不支持的数据库类型：{parsed.get_backend_name()}（支持 SQLite 与 PostgreSQL）")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


_held = threading.local()


def _depth() -> int:
    value = getattr(_held, "depth", 0)
    return int(value)


@contextmanager
def writer_queue(engine: Engine) -> Iterator[None]:
    """Queue SQLite writers on a kernel lock (``<db>-writers``) before ``BEGIN IMMEDIATE``.

    SQLite's busy handler polls with sleeps of up to 100 ms, so under load the write lock often sits free
    while every waiter sleeps (measured: 16 saturated writers waited up to 11 s). ``flock`` wakes the
    next waiter as soon as the lock is released. Where the file cannot be opened (another user's
    read-only directory) SQLite's own locking still guards the data. Re-entrant within a thread.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or _depth():
        _held.depth = _depth() + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    try:
        fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o664)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.depth = 1
        yield
    finally:
        _held.depth = 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction takes the write lock at once (SQLite) and commits on success."""
    with writer_queue(engine), Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only session: plain BEGIN on SQLite so readers never queue behind writers."""
    with Session(engine.execution_options(**{READONLY: True}), expire_on_commit=False) as session:
        # close() (not rollback) ends the transaction: loaded rows stay readable after the block
        yield session


def describe_operational_error(exc: OperationalError) -> HotlineError:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "locked" in text or "busy" in text:
        return HotlineError("数据库繁忙，请稍后重试（操作未生效）")
    if "no such table" in text or "does not exist" in text:
        return HotlineError("数据库尚未初始化，请先运行 hotline init")
    if "unable to open" in text or "could not connect" in text or "Connection refused" in text:
        return HotlineError(f"无法连接数据库：{text}")
    return HotlineError(f"数据库错误：{text}")


def describe_data_error(exc: DataError | UnicodeEncodeError | OverflowError) -> HotlineError:
    """Input the database cannot store, in Chinese: what is wrong and what to do."""
    if isinstance(exc, OverflowError):  # SQLite: "Python int too large to convert to SQLite INTEGER"
        return InvalidInput("输入的数字超出范围，请检查编号或数量后重试（操作未生效）")
    if isinstance(exc, UnicodeEncodeError):
        return InvalidInput("输入含有无法保存的字符（不成对的代理码位），请删除后重试（操作未生效）")
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "NUL" in text or "0x00" in text or "\\u0000" in text:
        return InvalidInput("输入含有空字符（NUL，\\x00），数据库无法保存，请删除后重试（操作未生效）")
    if "out of range" in text:
        return InvalidInput("输入的数字超出范围，请检查编号或数量后重试（操作未生效）")
    if "too long" in text:
        return InvalidInput("输入过长，超出数据库字段的长度，请缩短后重试（操作未生效）")
    return InvalidInput(
        f"数据库无法保存输入的数据（{text.splitlines()[0] if text else type(exc).__name__}），请检查后重试（操作未生效）"
    )
