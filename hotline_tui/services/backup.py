"""Back up and restore a store, and compare two stores row by row (``hotline backup`` / ``hotline restore``).

SQLite: the online backup API copies one consistent snapshot in a single step (one read transaction on
the source, so writers in WAL mode are never blocked and a transaction is either wholly in the copy or
absent). The copy is written to a temporary file next to the target, checked with ``PRAGMA
integrity_check`` and renamed into place; it is a self-contained file (rollback-journal mode, no ``-wal``).

PostgreSQL: ``pg_dump --format=custom --no-owner`` inside an exported snapshot, so the row counts recorded
with the backup are those of the dump; ``pg_restore --clean --if-exists --no-owner --single-transaction``
restores it (all or nothing). The password goes through ``PGPASSWORD``, never the command line.

A backup of one backend cannot be restored into the other: the schemas differ (the KB search index).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError, OperationalError, SQLAlchemyError
from sqlmodel import SQLModel

import hotline_tui.models  # noqa: F401  (registers the tables in SQLModel.metadata)
from hotline_tui.db import describe_operational_error, make_engine, normalize_url, writer_queue
from hotline_tui.errors import HotlineError
from hotline_tui.store import SCHEMA_HEAD

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# Filled from Python by hotline_tui/search.py; not SQLModel models but part of the store's contents.
EXTRA_TABLES = ("kb_search_doc", "kb_search_text")
# Never shown in a difference description (personal data, secrets).
HIDDEN_COLUMNS = frozenset(
    {"caller_name", "caller_phone", "caller_address", "caller_id_number", "password_hash"}
)
MAX_DIFFS_PER_TABLE = 20
PG_TIMEOUT_S = 3600


@dataclass
class BackupResult:
    path: Path
    backend: str
    bytes: int
    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class RestoreResult:
    path: Path
    target: str  # the target URL, password hidden
    backend: str
    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    replaced: bool = False  # a non-empty store was overwritten (--force)
    needs_upgrade: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["seconds"] = round(self.seconds, 3)
        return data


# ---------------------------------------------------------------- helpers


def _countable(name: str) -> bool:
    """Tables whose rows are data: not SQLite internals, not FTS indexes (rebuilt from kb_search_text)."""
    return not name.startswith("sqlite_") and not name.startswith("kb_fts")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_facts(conn: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    """Schema revision and row counts per table of a raw SQLite connection."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
        )
    ]
    counts = {
        n: int(conn.execute(f"SELECT count(*) FROM {_quote(n)}").fetchone()[0])
        for n in names
        if _countable(n)
    }
    revision: str | None = None
    if "alembic_version" in names:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = str(row[0]) if row else None
    return revision, counts


def _sa_facts(conn: Connection) -> tuple[str | None, dict[str, int]]:
    """Schema revision and row counts per table through SQLAlchemy (PostgreSQL, or a restored store)."""
    names = sorted(n for n in inspect(conn).get_table_names() if _countable(n))
    counts = {n: int(conn.execute(text(f"SELECT count(*) FROM {_quote(n)}")).scalar_one()) for n in names}
    revision: str | None = None
    if "alembic_version" in names:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        revision = str(row[0]) if row else None
    return revision, counts


def _integrity(conn: sqlite3.Connection, what: str) -> None:
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise HotlineError(f"{what}已损坏，无法读取：{exc}") from None
    if rows != ["ok"]:
        raise HotlineError(f"{what}完整性检查未通过：{'；'.join(rows[:5])}")


def _db_error(exc: SQLAlchemyError, what: str) -> HotlineError:
    if isinstance(exc, OperationalError):
        return describe_operational_error(exc)
    detail = getattr(exc, "orig", None) or exc
    return HotlineError(f"{what}：{_pg_message(str(detail))}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)  # mode 0600: a backup holds callers' personal data
    return Path(name)


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Move a finished file into place atomically; without ``overwrite`` never replace an existing file."""
    _fsync(tmp)
    if overwrite:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # atomic "create if absent"
        except FileExistsError:
            raise HotlineError(f"文件已存在：{path}（如需覆盖请加 --force）") from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise HotlineError(f"文件已存在：{path}（如需覆盖请加 --force）") from None
            os.replace(tmp, path)
        else:
            tmp.unlink()
    _fsync_dir(path.parent)


def _check_target_dir(path: Path) -> None:
    if not path.parent.is_dir():
        raise HotlineError(f"目录不存在：{path.parent}")
    if not os.access(path.parent, os.W_OK):
        raise HotlineError(f"没有写入权限：{path.parent}")


def _sniff(path: Path) -> str:
    """``sqlite`` or ``postgresql`` from a backup file's first bytes."""
    if not path.exists():
        raise HotlineError(f"备份文件不存在：{path}")
    if not path.is_file():
        raise HotlineError(f"不是文件：{path}")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise HotlineError(f"无法读取备份文件 {path}：{exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise HotlineError(
        f"{path} 不是热线数据库的备份文件（既不是 SQLite 数据库，也不是 pg_dump 自定义格式归档）"
    )


def _backend_label(name: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(name, name)


def _parse(url: str) -> URL:
    raw = normalize_url(url)
    try:
        return make_url(raw)
    except ArgumentError:
        raise HotlineError(f"数据库地址无法识别：{raw}") from None


def _revision_warnings(revision: str | None) -> tuple[bool, list[str]]:
    if revision is None:
        return False, ["备份中没有结构版本记录（alembic_version）"]
    if revision == SCHEMA_HEAD:
        return False, []
    if revision < SCHEMA_HEAD:
        return True, [
            f"恢复的数据库结构版本为 {revision}，程序需要 {SCHEMA_HEAD}：请运行 hotline init 升级（数据不会丢失）"
        ]
    return False, [
        f"恢复的数据库结构版本 {revision} 比本程序支持的 {SCHEMA_HEAD} 更新：请使用更新版本的程序打开"
    ]


# ---------------------------------------------------------------- PostgreSQL tools


def find_pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found

    def version(p: str) -> tuple[int, ...]:
        part = Path(p).parent.parent.name
        return tuple(int(x) for x in re.findall(r"\d+", part)) or (0,)

    candidates = [p for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}") if os.access(p, os.X_OK)]
    if candidates:
        return max(candidates, key=version)
    raise HotlineError(
        f"找不到 {name}：PostgreSQL 的备份与恢复需要安装 postgresql-client 软件包"
        f"（例如 apt-get install postgresql-client），且版本不低于数据库服务器"
    )


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_pg(cmd: Sequence[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise HotlineError(f"{what}超时（{PG_TIMEOUT_S} 秒），操作未完成") from None
    except OSError as exc:
        raise HotlineError(f"无法运行 {cmd[0]}：{exc.strerror}") from None
    return done


def _pg_message(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return "；".join(lines[:4]) or "（无输出）"


# ---------------------------------------------------------------- backup


def backup(engine: Engine, path: Path, *, overwrite: bool = False) -> BackupResult:
    """Write a consistent backup of the store behind ``engine`` to ``path``."""
    path = Path(path).expanduser().absolute()
    if path.exists() and not overwrite:
        raise HotlineError(f"备份文件已存在：{path}（如需覆盖请加 --force）")
    if path.is_dir():
        raise HotlineError(f"备份路径是一个目录：{path}")
    _check_target_dir(path)
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        revision, counts = _backup_sqlite(engine, path, overwrite=overwrite)
        backend = "sqlite"
    elif engine.dialect.name == "postgresql":
        revision, counts = _backup_pg(engine, path, overwrite=overwrite)
        backend = "postgresql"
    else:
        raise HotlineError(f"不支持备份此类数据库：{engine.dialect.name}")
    return BackupResult(
        path=path,
        backend=backend,
        bytes=path.stat().st_size,
        revision=revision,
        counts=counts,
        seconds=time.perf_counter() - started,
    )


def _backup_sqlite(engine: Engine, path: Path, *, overwrite: bool) -> tuple[str | None, dict[str, int]]:
    database = engine.url.database
    if not database or database == ":memory:":
        raise HotlineError("内存数据库无法备份")
    if not Path(database).is_file():
        raise HotlineError(f"数据库文件不存在：{database}")
    if Path(database).resolve() == path.resolve():
        raise HotlineError("备份文件不能是数据库文件本身")
    tmp = _temp_beside(path)
    try:
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            _require_store(source, f"数据库 {database}")
            dst = sqlite3.connect(tmp)
            try:
                # one step (pages=-1): a single read transaction on the source, hence one consistent snapshot
                source.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained file, no -wal beside it
                _integrity(dst, "备份副本")
                revision, counts = _sqlite_facts(dst)
            finally:
                dst.close()
        finally:
            raw.close()
        _publish(tmp, path, overwrite=overwrite)
    except sqlite3.Error as exc:
        raise HotlineError(f"备份失败：{exc}") from None
    except SQLAlchemyError as exc:
        raise _db_error(exc, "备份失败") from None
    finally:
        _remove(tmp)
    return revision, counts


def _require_store(conn: sqlite3.Connection, what: str) -> None:
    try:
        names = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise HotlineError(f"{what}不是有效的 SQLite 数据库：{exc}") from None
    if "ticket" not in names or "alembic_version" not in names:
        raise HotlineError(f"{what}不是热线数据库（没有工单表或结构版本记录），请先运行 hotline init")


def _backup_pg(engine: Engine, path: Path, *, overwrite: bool) -> tuple[str | None, dict[str, int]]:
    pg_dump = find_pg_tool("pg_dump")
    target, env = _libpq(engine.url)
    tmp = _temp_beside(path)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                if "ticket" not in inspect(conn).get_table_names():
                    raise HotlineError("数据库不是热线数据库（没有工单表），请先运行 hotline init")
                # the dump and the counts see the same snapshot while this transaction stays open
                snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                revision, counts = _sa_facts(conn)
                done = _run_pg(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        f"--snapshot={snapshot}",
                        f"--file={tmp}",
                        f"--dbname={target}",
                    ],
                    env,
                    "pg_dump",
                )
        if done.returncode != 0:
            raise HotlineError(f"pg_dump 备份失败：{_pg_message(done.stderr)}")
        _publish(tmp, path, overwrite=overwrite)
    except SQLAlchemyError as exc:
        raise _db_error(exc, "备份失败") from None
    finally:
        _remove(tmp)
    return revision, counts


# ---------------------------------------------------------------- restore


def restore(path: Path, url: str, *, force: bool = False) -> RestoreResult:
    """Restore the backup at ``path`` into the store at ``url`` (new or empty, or any with ``force``)."""
    path = Path(path).expanduser().absolute()
    kind = _sniff(path)
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise HotlineError(f"不支持的数据库类型：{backend}（支持 SQLite 与 PostgreSQL）")
    if kind != backend:
        raise HotlineError(
            f"这是 {_backend_label(kind)} 的备份，不能恢复到 {_backend_label(backend)} 数据库："
            f"跨数据库类型的恢复不受支持（请恢复到同类数据库）"
        )
    started = time.perf_counter()
    if backend == "sqlite":
        replaced = _restore_sqlite(path, parsed, force=force)
    else:
        replaced = _restore_pg(path, parsed, force=force)
    engine = make_engine(parsed.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            revision, counts = _sa_facts(conn)
    except SQLAlchemyError as exc:
        raise _db_error(exc, "恢复后无法读取数据库") from None
    finally:
        engine.dispose()
    needs_upgrade, warnings = _revision_warnings(revision)
    return RestoreResult(
        path=path,
        target=parsed.render_as_string(hide_password=True),
        backend=backend,
        revision=revision,
        counts=counts,
        seconds=time.perf_counter() - started,
        replaced=replaced,
        needs_upgrade=needs_upgrade,
        warnings=warnings,
    )


def _open_backup(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HotlineError(f"无法打开备份文件 {path}：{exc}") from None
    _require_store(conn, f"备份文件 {path} ")
    _integrity(conn, f"备份文件 {path} ")
    return conn


def _sqlite_has_data(database: Path) -> bool:
    if not database.exists() or database.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True  # something that is not an empty store: never overwrite it silently
    return bool(row[0])


def _restore_sqlite(path: Path, url: URL, *, force: bool) -> bool:
    if not url.database or url.database == ":memory:":
        raise HotlineError("不能恢复到内存数据库，请指定数据库文件")
    database = Path(url.database)
    if database.exists() and database.resolve() == path.resolve():
        raise HotlineError("备份文件与目标数据库是同一个文件")
    _check_target_dir(database)
    non_empty = _sqlite_has_data(database)
    if non_empty and not force:
        raise HotlineError(
            f"目标数据库 {database} 已有数据：如确需用备份覆盖它，请加 --force（现有数据将被替换）"
        )
    source = _open_backup(path)
    try:
        if not database.exists():
            # a new store: copy beside it, verify, then move into place (never over a file created meanwhile)
            tmp = _temp_beside(database)
            try:
                dst = sqlite3.connect(tmp)
                try:
                    source.backup(dst)
                    _integrity(dst, "恢复的数据库")
                finally:
                    dst.close()
                os.chmod(tmp, 0o664 & ~_umask())
                engine = make_engine(url.render_as_string(hide_password=False))  # does not connect
                try:
                    with writer_queue(engine):
                        if (
                            not database.exists()
                        ):  # a -wal left by a deleted store would be replayed into this one
                            for stale in (Path(f"{database}-wal"), Path(f"{database}-shm")):
                                with contextlib.suppress(FileNotFoundError):
                                    stale.unlink()
                        _publish(tmp, database, overwrite=False)
                finally:
                    engine.dispose()
            finally:
                _remove(tmp)
            return False
        # an existing (empty, or --force) store: copy into it with the backup API while holding the writers'
        # lock. SQLite makes the replacement one transaction, -wal included, so open readers see either the
        # old store or the restored one, never a mixture.
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            with writer_queue(engine):
                raw = engine.raw_connection()
                try:
                    live = raw.driver_connection
                    assert isinstance(live, sqlite3.Connection)
                    source.backup(live)
                    live.execute("PRAGMA journal_mode = WAL")
                    _integrity(live, "恢复的数据库")
                finally:
                    raw.close()
        finally:
            engine.dispose()
        return non_empty
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise HotlineError("目标数据库正被其他程序使用，请关闭后重试（未恢复）") from None
        raise HotlineError(f"恢复失败：{exc}") from None
    except sqlite3.Error as exc:
        raise HotlineError(f"恢复失败：{exc}") from None
    finally:
        source.close()


def _umask() -> int:
    """The process umask, read without changing it (os.umask would briefly alter it for other threads)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _restore_pg(path: Path, url: URL, *, force: bool) -> bool:
    pg_restore = find_pg_tool("pg_restore")
    target, env = _libpq(url)
    listing = _run_pg([pg_restore, "--list", str(path)], env, "读取备份目录")
    if listing.returncode != 0:
        raise HotlineError(f"{path} 不是有效的 pg_dump 归档：{_pg_message(listing.stderr)}")
    if not re.search(r"TABLE DATA \S+ alembic_version ", listing.stdout) or not re.search(
        r"TABLE \S+ ticket ", listing.stdout
    ):
        raise HotlineError(f"{path} 不是热线数据库的备份（归档中没有工单表或结构版本记录）")
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            non_empty = bool(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise _db_error(exc, "无法读取目标数据库") from None
    finally:
        engine.dispose()
    if non_empty and not force:
        raise HotlineError("目标数据库已有数据：如确需用备份覆盖它，请加 --force（现有数据将被替换）")
    done = _run_pg(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={target}",
            str(path),
        ],
        env,
        "pg_restore",
    )
    if done.returncode != 0:
        raise HotlineError(f"pg_restore 恢复失败（目标数据库未改动）：{_pg_message(done.stderr)}")
    return non_empty


# ---------------------------------------------------------------- compare


def _tables(engine: Engine) -> dict[str, Table]:
    """Every table to compare, reflected from this store (application tables, version, KB search)."""
    names = set(inspect(engine).get_table_names())
    wanted = [t.name for t in SQLModel.metadata.sorted_tables] + ["alembic_version", *EXTRA_TABLES]
    meta = MetaData()
    out: dict[str, Table] = {}
    for name in wanted:
        if name in names and name not in out:
            with contextlib.suppress(NoSuchTableError):
                out[name] = Table(name, meta, autoload_with=engine)
    return out


def _order(table: Table) -> list[Any]:
    pk = list(table.primary_key.columns)
    return pk or list(table.columns)


def _key_of(row: Sequence[Any], idx: list[int]) -> tuple[Any, ...]:
    return tuple(row[i] for i in idx)


def _rows(engine: Engine, table: Table) -> Iterator[tuple[Any, ...]]:
    with engine.connect() as conn:
        for row in conn.execute(select(table).order_by(*_order(table))):
            yield tuple(row)


def _show(column: str, value: Any) -> str:
    if column in HIDDEN_COLUMNS:
        return "（已隐藏）"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "…"


def _sort_key(key: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, "") if v is None else (1, v) for v in key)


def _label(key: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in key)


def compare(engine_a: Engine, engine_b: Engine) -> list[str]:
    """Row-by-row differences between two stores, in Chinese (an empty list: identical)."""
    tables_a, tables_b = _tables(engine_a), _tables(engine_b)
    diffs: list[str] = []
    for name in sorted(set(tables_a) - set(tables_b)):
        diffs.append(f"表 {name} 只在 A 中存在")
    for name in sorted(set(tables_b) - set(tables_a)):
        diffs.append(f"表 {name} 只在 B 中存在")
    order = [t.name for t in SQLModel.metadata.sorted_tables] + ["alembic_version", *EXTRA_TABLES]
    for name in [n for n in order if n in tables_a and n in tables_b]:
        diffs.extend(_compare_table(engine_a, tables_a[name], engine_b, tables_b[name]))
    return diffs


def _compare_table(engine_a: Engine, ta: Table, engine_b: Engine, tb: Table) -> list[str]:
    name = ta.name
    cols_a, cols_b = [c.name for c in ta.columns], [c.name for c in tb.columns]
    if cols_a != cols_b:
        return [f"表 {name} 的字段不同：A 为 {', '.join(cols_a)}；B 为 {', '.join(cols_b)}"]
    key_cols = [c.name for c in _order(ta)]
    idx = [cols_a.index(c) for c in key_cols]
    out: list[str] = []
    more = 0

    def note(msg: str) -> None:
        nonlocal more
        if len(out) < MAX_DIFFS_PER_TABLE:
            out.append(msg)
        else:
            more += 1

    it_a, it_b = _rows(engine_a, ta), _rows(engine_b, tb)
    ra, rb = next(it_a, None), next(it_b, None)
    while ra is not None or rb is not None:
        ka = _key_of(ra, idx) if ra is not None else None
        kb = _key_of(rb, idx) if rb is not None else None
        if ra is not None and (kb is None or (ka is not None and _sort_key(ka) < _sort_key(kb))):
            note(f"表 {name}：主键 {_label(ka or ())} 的行只在 A 中")
            ra = next(it_a, None)
            continue
        if rb is not None and (ka is None or (kb is not None and _sort_key(kb) < _sort_key(ka))):
            note(f"表 {name}：主键 {_label(kb or ())} 的行只在 B 中")
            rb = next(it_b, None)
            continue
        assert ra is not None and rb is not None
        for col, va, vb in zip(cols_a, ra, rb, strict=True):
            if va != vb:
                note(
                    f"表 {name}：主键 {_label(ka or ())} 的字段 {col} 不同：A={_show(col, va)}，B={_show(col, vb)}"
                )
        ra, rb = next(it_a, None), next(it_b, None)
    if more:
        out.append(f"表 {name}：另有 {more} 处差异未列出")
    return out


def describe(result: BackupResult | RestoreResult) -> str:
    """A one-line Chinese summary for the command line."""
    total = sum(result.counts.values())
    tickets = result.counts.get("ticket", 0)
    events = result.counts.get("event", 0)
    if isinstance(result, BackupResult):
        size = result.bytes / 1024 / 1024
        return (
            f"已备份到 {result.path}（{_backend_label(result.backend)}，{size:.1f} MB，结构版本 {result.revision}，"
            f"工单 {tickets}，事件 {events}，共 {total} 行，用时 {result.seconds:.2f} 秒）"
        )
    lines = [
        f"已从 {result.path} 恢复到 {result.target}（结构版本 {result.revision}，工单 {tickets}，事件 {events}，"
        f"共 {total} 行，用时 {result.seconds:.2f} 秒）"
    ]
    lines.extend(result.warnings)
    return "\n".join(lines)


def dumps(result: BackupResult | RestoreResult) -> str:
    return json.dumps(result.to_json(), ensure_ascii=False, indent=2)
