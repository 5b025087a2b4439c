"""The audit trail: verify the hash-chained event history, guard it in the database, and read it back.

Law: access to and use of caller data must be controlled over the whole process and leave a trace
(T24 27; TA 28; GZ 25). ``record_event`` appends every change and every view of personal data as an
``Event`` carrying the hash of the previous one; this module proves nobody rewrote that history:

* ``verify_chain`` walks every event in id order (in batches, inside one read snapshot), recomputes each
  hash and reports, in Chinese, every edited, deleted, inserted or re-linked row and a chain head that
  does not match the last row;
* ``install_guards`` makes ``event`` append-only inside the database (triggers), so that even SQL typed
  behind the application's back is refused unless somebody first drops the triggers;
* ``audit_log`` is the supervisor's audit viewer (by user, ticket, period, kind).

What no local check can catch: somebody who rewrites every hash from the tampered row to the end *and*
the chain head. Recording ``ChainReport.head_hash`` outside the store (a daily report, a printout)
anchors the chain against that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import col, select

from hotline_tui.clock import TZ, iso, local, parse_datetime
from hotline_tui.db import READONLY, describe_operational_error
from hotline_tui.errors import HotlineError, InvalidInput, PermissionDenied
from hotline_tui.models import ROLE_LABELS, ChainHead, Event, Ticket
from hotline_tui.services.core import Ctx, event_digest, get_ticket

ProblemKind = Literal["edited", "deleted", "broken_link", "head_mismatch", "inserted"]

AUDIT_ROLES = ("supervisor", "admin")
MAX_PROBLEMS = 100  # problems kept in a report; the rest are only counted
BATCH = 5000  # events fetched per round trip while verifying
MAX_LOG_ROWS = 5000
APPEND_ONLY = "event rows are append-only"
HEAD_FORWARD_ONLY = "the event chain head only moves forward"

# Chinese labels of every event kind the services record (the screens use this table too).
EVENT_LABELS = {
    "created": "受理",
    "answered": "当场答复",
    "referred": "转接/告知",
    "dispatched": "派单",
    "designated": "指定派单",
    "split_created": "拆分生成",
    "accepted": "接单",
    "return_requested": "申请退单",
    "return_approved": "同意退单",
    "return_rejected": "驳回退单",
    "returned": "退单",
    "extension_requested": "申请延期",
    "extension_approved": "同意延期",
    "extension_rejected": "驳回延期",
    "stop_requested": "申请终止办理",
    "stop_approved": "同意终止办理",
    "stop_rejected": "驳回终止办理",
    "note": "办理进展",
    "replied": "答复",
    "reply_approved": "答复审核通过",
    "reply_sent_back": "答复退回重办",
    "callback": "回访",
    "appeal_requested": "申诉",
    "appeal_accepted": "申诉成立",
    "appeal_rejected": "申诉驳回",
    "pii_viewed": "查看诉求人信息",
    "pii_revealed": "查看完整个人信息",
    "closed": "办结",
    "units_imported": "导入承办单位",
    "user_added": "新增用户",
    "password_changed": "修改密码",
    "calendar_added": "导入节假日安排",
    "kb_created": "新建知识库条目",
    "kb_changed": "修改知识库条目",
    "kb_withdrawn": "撤回知识库条目",
    "kb_review_approved": "知识库审核通过",
    "kb_review_rejected": "知识库审核驳回",
    "kb_confirmed": "确认知识库条目",
    "kb_imported": "导入知识库",
}


def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Problem:
    """One finding. ``event_id`` is the event concerned (the first of a deleted range, ``end_id`` the last)."""

    event_id: int
    kind: ProblemKind
    message: str
    end_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "end_id": self.end_id, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class ChainReport:
    """The outcome of ``verify_chain``. ``problems`` holds the first ``MAX_PROBLEMS``; ``problem_count`` all."""

    ok: bool
    checked: int
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    first_id: int | None = None
    last_id: int | None = None
    head_id: int | None = None
    head_hash: str = ""
    guarded: bool | None = None  # whether the append-only triggers are installed

    @property
    def truncated(self) -> bool:
        return self.problem_count > len(self.problems)

    def summary(self) -> str:
        """One Chinese line for the command's last line of output."""
        if self.ok:
            return f"事件链完整：共校验 {self.checked} 条事件，未发现修改、删除或插入。"
        more = f"（仅列出前 {len(self.problems)} 项）" if self.truncated else ""
        return f"事件链校验未通过：共校验 {self.checked} 条事件，发现 {self.problem_count} 处问题{more}。"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "problem_count": self.problem_count,
            "truncated": self.truncated,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "head": {"last_id": self.head_id, "last_hash": self.head_hash},
            "guarded": self.guarded,
            "summary": self.summary(),
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


class _Findings:
    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.count = 0

    def add(self, event_id: int, kind: ProblemKind, message: str, end_id: int | None = None) -> None:
        self.count += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(Problem(event_id, kind, message, end_id))


# ---------------------------------------------------------------- verification

_EVENT_COLUMNS = (
    col(Event.id),
    col(Event.ticket_id),
    col(Event.assignment_id),
    col(Event.kind),
    col(Event.actor_id),
    col(Event.actor),
    col(Event.at),
    col(Event.payload),
    col(Event.prev_hash),
    col(Event.hash),
)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction that sees a single consistent state while events keep being appended.

    SQLite (WAL): a deferred ``BEGIN`` keeps its snapshot from the first read to the end.
    PostgreSQL: ``REPEATABLE READ`` (READ COMMITTED would let the head run ahead of the rows read).
    """
    if engine.dialect.name == "postgresql":
        bound = engine.execution_options(isolation_level="REPEATABLE READ")
    else:
        bound = engine.execution_options(**{READONLY: True})
    try:
        with bound.connect() as conn, conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn
    except OperationalError as exc:
        raise describe_operational_error(exc) from None
    except ProgrammingError as exc:  # PostgreSQL: relation "event" does not exist
        if "does not exist" in str(exc.orig):
            raise HotlineError("数据库尚未初始化，请先运行 hotline init") from None
        raise HotlineError(f"数据库错误：{exc.orig}") from None


def _batches(conn: Connection) -> Iterator[list[Any]]:
    """Every event in id order, ``BATCH`` rows at a time (keyset pagination: each batch is an index range)."""
    after = 0
    while True:
        rows = list(
            conn.execute(
                sa_select(*_EVENT_COLUMNS).where(col(Event.id) > after).order_by(col(Event.id)).limit(BATCH)
            )
        )
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _when(at: datetime | None) -> str:
    return local(at).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def _describe(row: Any, ticket_nos: dict[int, str]) -> str:
    parts = [event_label(row.kind)]
    if row.ticket_id is not None:
        parts.append(f"工单 {ticket_nos.get(row.ticket_id, '#' + str(row.ticket_id))}")
    parts.append(_when(row.at))
    parts.append(row.actor or "（无操作人）")
    return " ".join(parts)


def _ids(first: int, last: int) -> str:
    return f"#{first}" if first == last else f"#{first}–#{last}"


def verify_chain(engine_or_ctx: Engine | Ctx) -> ChainReport:
    """Walk the whole event history and report every row that does not fit the hash chain.

    Detects: a row whose content no longer matches its hash (``edited``: payload, time, actor, kind,
    ticket or a forged hash); a row whose ``prev_hash`` is not the previous row's hash (``broken_link``:
    a row re-hashed after editing, or rows swapped); missing ids where the chain does not join up, and
    rows missing at the end according to the chain head (``deleted``); rows after the one the chain head
    records (``inserted``); and a chain head that is missing or does not match its row (``head_mismatch``).

    On SQLite ids never skip, so any gap is a deletion. On PostgreSQL a rolled-back transaction leaves a
    gap in the id sequence, so a gap counts only when the chain does not join up across it.
    With a ``Ctx`` the actor must be a supervisor or an administrator.
    """
    if isinstance(engine_or_ctx, Ctx):
        _require_audit_role(engine_or_ctx, "校验审计事件链")
        engine = engine_or_ctx.engine
    else:
        engine = engine_or_ctx
    ids_may_skip = engine.dialect.name == "postgresql"
    found = _Findings()
    # rows worth describing with their ticket number, filled after the walk (at most MAX_PROBLEMS)
    pending: list[tuple[int, ProblemKind, str, Any]] = []
    checked = 0
    first_id: int | None = None
    prev_id: int | None = None
    prev_hash = ""
    head_row_hash: str | None = None
    last_covered: int | None = None  # the last row the chain head covers (id <= head's last_id)

    with _snapshot(engine) as conn:
        head_row = conn.execute(
            sa_select(col(ChainHead.last_id), col(ChainHead.last_hash)).where(col(ChainHead.id) == 1)
        ).first()
        head_id = int(head_row.last_id) if head_row is not None else None
        head_hash = str(head_row.last_hash) if head_row is not None else ""

        for rows in _batches(conn):
            for row in rows:
                checked += 1
                rid = int(row.id)
                if first_id is None:
                    first_id = rid
                expected_id = 1 if prev_id is None else prev_id + 1
                linked = row.prev_hash == prev_hash
                beyond_head = head_id is not None and rid > head_id
                if beyond_head:
                    found.add(rid, "inserted", "")
                    _keep(pending, found, "inserted", "", row)
                elif rid != expected_id and (not linked or not ids_may_skip):
                    gap = _ids(expected_id, rid - 1)
                    after = f"#{prev_id}" if prev_id is not None else "链首"
                    found.add(
                        expected_id,
                        "deleted",
                        f"事件 {gap} 被删除（{after} 与 #{rid} 之间缺失，链条在此断开）"
                        if not linked
                        else f"事件 {gap} 被删除（编号缺失；其后的哈希链被重新计算过）",
                        rid - 1,
                    )
                elif not linked:
                    before = f"事件 #{prev_id} " if prev_id is not None else "链首"
                    found.add(rid, "broken_link", "")
                    _keep(pending, found, "broken_link", before, row)
                # a SQLAlchemy Row has every attribute event_digest reads; no ORM object per event
                if not beyond_head and row.hash != event_digest(row.prev_hash, cast(Event, row)):
                    found.add(rid, "edited", "")
                    _keep(pending, found, "edited", "", row)
                if rid == head_id:
                    head_row_hash = row.hash
                if not beyond_head:
                    last_covered = rid
                prev_id = rid
                prev_hash = row.hash

        ticket_ids = {r.ticket_id for _, _, _, r in pending if r.ticket_id is not None}
        ticket_nos: dict[int, str] = {}
        if ticket_ids:
            stmt = sa_select(col(Ticket.id), col(Ticket.no)).where(col(Ticket.id).in_(sorted(ticket_ids)))
            ticket_nos = {int(r.id): str(r.no) for r in conn.execute(stmt)}

    _fill_messages(found, pending, ticket_nos)

    last_seen = prev_id
    if head_row is None:
        if checked:
            found.add(
                last_seen or 0,
                "head_mismatch",
                f"链头记录缺失：有 {checked} 条事件，却没有记录最后一条的哈希",
            )
    elif head_id is not None and head_id > 0 and head_row_hash is None:
        # the row the head names is gone, with any before it back to the last one still there
        start = (last_covered or 0) + 1
        found.add(
            start,
            "deleted",
            f"事件 {_ids(start, head_id)} 被删除（链头记录最后一条为 #{head_id}，现存最后一条为 "
            f"{'#' + str(last_covered) if last_covered is not None else '无'}）",
            head_id,
        )
    elif head_row_hash is not None and head_row_hash != head_hash:
        found.add(
            head_id or 0,
            "head_mismatch",
            f"链头记录的哈希与事件 #{head_id} 不符：该事件或其之前的事件被改写后重新计算了哈希",
        )

    return ChainReport(
        ok=found.count == 0,
        checked=checked,
        problems=found.kept,
        problem_count=found.count,
        first_id=first_id,
        last_id=last_seen,
        head_id=head_id,
        head_hash=head_hash,
        guarded=guards_installed(engine),
    )


def _keep(
    pending: list[tuple[int, ProblemKind, str, Any]],
    found: _Findings,
    kind: ProblemKind,
    extra: str,
    row: Any,
) -> None:
    """Remember a kept row problem (its message needs the ticket number, looked up after the walk)."""
    if found.count <= MAX_PROBLEMS:
        pending.append((found.count, kind, extra, row))


def _fill_messages(
    found: _Findings, pending: list[tuple[int, ProblemKind, str, Any]], nos: dict[int, str]
) -> None:
    """Write the messages of row problems once the ticket numbers of those rows are known."""
    for number, kind, extra, row in pending:
        if number > MAX_PROBLEMS:
            break
        what = _describe(row, nos)
        if kind == "edited":
            message = f"事件 #{row.id} 的内容被修改（哈希不符）：{what}"
        elif kind == "inserted":
            message = f"事件 #{row.id} 为链外插入的记录（链头记录最后一条之后）：{what}"
        else:
            message = (
                f"事件 #{row.id} 与{extra}的哈希链接断开（前一事件被改写后重算哈希，或事件被调换）：{what}"
            )
        old = found.kept[number - 1]
        found.kept[number - 1] = Problem(old.event_id, old.kind, message, old.end_id)


# ---------------------------------------------------------------- append-only guards

_SQLITE_GUARDS = {
    "event_no_update": f"CREATE TRIGGER IF NOT EXISTS event_no_update BEFORE UPDATE ON event "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "event_no_delete": f"CREATE TRIGGER IF NOT EXISTS event_no_delete BEFORE DELETE ON event "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "chainhead_no_delete": f"CREATE TRIGGER IF NOT EXISTS chainhead_no_delete BEFORE DELETE ON chainhead "
    f"BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}'); END",
    "chainhead_forward_only": "CREATE TRIGGER IF NOT EXISTS chainhead_forward_only BEFORE UPDATE ON chainhead "
    f"WHEN NEW.last_id < OLD.last_id OR NEW.id <> OLD.id BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}'); END",
}

_PG_FUNCTIONS = (
    f"""CREATE OR REPLACE FUNCTION hotline_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation';
END
$$""",
    f"""CREATE OR REPLACE FUNCTION hotline_chainhead_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.last_id < OLD.last_id OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION '{HEAD_FORWARD_ONLY}' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$""",
)

# trigger name -> (table, timing and events, level, function)
_PG_TRIGGERS = {
    "event_no_update": ("event", "BEFORE UPDATE", "ROW", "hotline_event_append_only"),
    "event_no_delete": ("event", "BEFORE DELETE", "ROW", "hotline_event_append_only"),
    "event_no_truncate": ("event", "BEFORE TRUNCATE", "STATEMENT", "hotline_event_append_only"),
    "chainhead_forward_only": (
        "chainhead",
        "BEFORE UPDATE OR DELETE",
        "ROW",
        "hotline_chainhead_forward_only",
    ),
    "chainhead_no_truncate": ("chainhead", "BEFORE TRUNCATE", "STATEMENT", "hotline_chainhead_forward_only"),
}


def install_guards(engine: Engine) -> None:
    """Make ``event`` append-only and ``chainhead`` forward-only inside the database. Idempotent.

    Call after every schema upgrade (``hotline init``): SQLite's batch migrations rebuild a table and
    lose its triggers. An administrator with direct access can still drop the triggers; ``verify_chain``
    is what detects what they then change.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for ddl in _SQLITE_GUARDS.values():
                conn.exec_driver_sql(ddl)
        elif engine.dialect.name == "postgresql":
            for ddl in _PG_FUNCTIONS:
                conn.exec_driver_sql(ddl)
            for name, (table, timing, level, func) in _PG_TRIGGERS.items():
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH {level} EXECUTE FUNCTION {func}()"
                )


def drop_guards(engine: Engine) -> None:
    """Remove the triggers (for maintenance, and for tests that tamper like a determined administrator)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in _SQLITE_GUARDS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        elif engine.dialect.name == "postgresql":
            for name, (table, *_rest) in _PG_TRIGGERS.items():
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def guards_installed(engine: Engine) -> bool | None:
    """True when every guard trigger exists; None for a database kind without guards."""
    if engine.dialect.name == "sqlite":
        names = set(_SQLITE_GUARDS)
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    elif engine.dialect.name == "postgresql":
        names = set(_PG_TRIGGERS)
        sql = (
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid IN (to_regclass('event'), to_regclass('chainhead'))"
        )
    else:
        return None
    with engine.connect() as conn:
        present = {str(r[0]) for r in conn.execute(text(sql))}
    return names <= present


# ---------------------------------------------------------------- the audit viewer


def _require_audit_role(ctx: Ctx, what: str) -> None:
    if ctx.actor.role not in AUDIT_ROLES:
        allowed = "、".join(ROLE_LABELS[r] for r in AUDIT_ROLES)
        raise PermissionDenied(f"{ctx.actor.role_label}无权{what}（仅限{allowed}）")


def _bound(value: datetime | date | str | None, *, end: bool) -> tuple[datetime | None, bool]:
    """A period bound as an aware datetime and whether it is exclusive. A bare date as ``until`` means
    the whole of that day."""
    if value is None:
        return None, False
    if isinstance(value, str):
        raw = value.strip()
        if not raw:
            return None, False
        parsed = parse_datetime(raw)
        if end and len(raw) == 10:
            return parsed + timedelta(days=1), True
        return parsed, False
    if isinstance(value, datetime):
        return local(value), False
    start = datetime.combine(value, time(0, 0), TZ)
    return (start + timedelta(days=1), True) if end else (start, False)


def _resolve_kinds(kinds: Iterable[str]) -> list[str]:
    by_label = {label: code for code, label in EVENT_LABELS.items()}
    out = []
    for k in kinds:
        raw = k.strip()
        if raw:
            out.append(by_label.get(raw, raw))
    return out


def audit_log(
    ctx: Ctx,
    *,
    user: str | None = None,
    ticket_no: str | None = None,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    kinds: Iterable[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Events newest first for the audit viewer, filtered by actor name, ticket, period and kind.

    Supervisors and administrators only (T24 27; TA 28; GZ 25: access to caller data is itself
    supervised). ``until`` is inclusive; a bare date means up to the end of that day. ``kinds`` takes codes
    or Chinese labels.
    """
    _require_audit_role(ctx, "查看审计日志")
    if limit < 1 or limit > MAX_LOG_ROWS:
        raise InvalidInput(f"条数上限应在 1 到 {MAX_LOG_ROWS} 之间：{limit}")
    start, _ = _bound(since, end=False)
    stop, stop_exclusive = _bound(until, end=True)
    if start is not None and stop is not None and stop < start:
        raise InvalidInput("结束时间早于开始时间")
    wanted = _resolve_kinds(kinds) if kinds is not None else None
    with ctx.read() as s:
        stmt = select(Event, Ticket.no).join(Ticket, col(Ticket.id) == col(Event.ticket_id), isouter=True)
        if user is not None and user.strip():
            stmt = stmt.where(col(Event.actor) == user.strip())
        if ticket_no is not None and ticket_no.strip():
            stmt = stmt.where(col(Event.ticket_id) == get_ticket(s, ticket_no).id)
        if start is not None:
            stmt = stmt.where(col(Event.at) >= start)
        if stop is not None:
            stmt = stmt.where(col(Event.at) < stop if stop_exclusive else col(Event.at) <= stop)
        if wanted is not None:
            stmt = stmt.where(col(Event.kind).in_(wanted))
        rows = s.exec(stmt.order_by(col(Event.id).desc()).limit(limit)).all()
    return [
        {
            "id": ev.id,
            "ticket_no": no,
            "ticket_id": ev.ticket_id,
            "assignment_id": ev.assignment_id,
            "kind": ev.kind,
            "kind_label": event_label(ev.kind),
            "actor": ev.actor,
            "actor_id": ev.actor_id,
            "at": iso(ev.at),
            "payload": ev.payload,
        }
        for ev, no in rows
    ]
