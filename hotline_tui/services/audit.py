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
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from hotline_tui.errors import HotlineError, InvalidInput, NotFound, PermissionDenied
from hotline_tui.models import ROLE_LABELS, ChainHead, Event, Ticket, User
from hotline_tui.policy import Policy
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
    "quality_callback": "质量抽查回访",
    "new_question": "回访新诉求",
    "appeal_requested": "申诉",
    "appeal_accepted": "申诉成立",
    "appeal_rejected": "申诉驳回",
    "pii_viewed": "查看诉求人信息",
    "pii_revealed": "查看完整个人信息",
    "closed": "办结",
    "repeat_call": "重复来电（告知进度或结果）",
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
    "login_succeeded": "登录成功",
    "login_failed": "登录失败",
    "account_locked": "账户锁定",
    "password_change_refused": "修改密码未通过",
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
    "pii_exported": "导出个人信息",
    "tickets_exported": "脱敏导出工单",
}

# Names for groups of kinds, usable wherever kinds are filtered (the viewer's quick filters, the CLI).
KIND_GROUPS = {
    "个人信息": ("pii_viewed", "pii_revealed", "pii_exported"),
    "登录": ("login_succeeded", "login_failed", "account_locked"),
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


def verify_chain(
    engine_or_ctx: Engine | Ctx, *, progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Walk the whole event history and report every row that does not fit the hash chain.

    Detects: a row whose content no longer matches its hash (``edited``: payload, time, actor, kind,
    ticket or a forged hash); a row whose ``prev_hash`` is not the previous row's hash (``broken_link``:
    a row re-hashed after editing, or rows swapped); missing ids where the chain does not join up, and
    rows missing at the end according to the chain head (``deleted``); rows after the one the chain head
    records (``inserted``); and a chain head that is missing or does not match its row (``head_mismatch``).

    On SQLite ids never skip, so any gap is a deletion. On PostgreSQL a rolled-back transaction leaves a
    gap in the id sequence, so a gap counts only when the chain does not join up across it.
    With a ``Ctx`` the actor must be a supervisor or an administrator. ``progress``, when given, is
    called with the number of events checked so far after each batch (from the calling thread).
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
            if progress is not None:
                progress(checked)

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

_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


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


def resolve_kinds(kinds: Iterable[str]) -> list[str]:
    """Event kind codes for codes, Chinese labels and group names (``KIND_GROUPS``).

    A lower-case code without a label is passed through (a kind the store may hold before it has a
    label); any other unknown name is refused, so a typo never reads as "no such events".
    """
    by_label = {label: code for code, label in EVENT_LABELS.items()}
    out: list[str] = []
    for k in kinds:
        raw = k.strip()
        if not raw:
            continue
        if raw in KIND_GROUPS:
            codes: tuple[str, ...] = KIND_GROUPS[raw]
        elif raw in by_label:
            codes = (by_label[raw],)
        elif raw in EVENT_LABELS or _CODE_RE.fullmatch(raw):
            codes = (raw,)
        else:
            groups = "、".join(KIND_GROUPS)
            raise InvalidInput(f"未知的事件类型：{raw}（可填类型代码或中文名称，如 受理、派单，或 {groups}）")
        out.extend(c for c in codes if c not in out)
    return out


def _row(ev: Event, no: str | None) -> dict[str, Any]:
    return {
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


def audit_log(
    ctx: Ctx,
    *,
    user: str | None = None,
    ticket_no: str | None = None,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    kinds: Iterable[str] | None = None,
    limit: int = 500,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Events newest first for the audit viewer, filtered by actor name, ticket, period and kind.

    Supervisors and administrators only (T24 27; TA 28; GZ 25: access to caller data is itself
    supervised). ``until`` is inclusive; a bare date means up to the end of that day. ``kinds`` takes codes,
    Chinese labels or group names (``KIND_GROUPS``). A user name that is neither an account nor the actor
    of any event is refused (a typo would otherwise look like "did nothing"). ``before_id`` pages: only
    events with a smaller id, so passing the last id of one page gives the next, older one.
    """
    _require_audit_role(ctx, "查看审计日志")
    if limit < 1 or limit > MAX_LOG_ROWS:
        raise InvalidInput(f"条数上限应在 1 到 {MAX_LOG_ROWS} 之间：{limit}")
    start, _ = _bound(since, end=False)
    stop, stop_exclusive = _bound(until, end=True)
    if start is not None and stop is not None and stop < start:
        raise InvalidInput("结束时间早于开始时间")
    wanted = resolve_kinds(kinds) if kinds is not None else None
    with ctx.read() as s:
        stmt = select(Event, Ticket.no).join(Ticket, col(Ticket.id) == col(Event.ticket_id), isouter=True)
        if user is not None and user.strip():
            name = user.strip()
            if (
                s.exec(select(User.id).where(User.name == name)).first() is None
                and s.exec(select(Event.id).where(Event.actor == name).limit(1)).first() is None
            ):
                raise NotFound(f"用户不存在：{name}")
            stmt = stmt.where(col(Event.actor) == name)
        if ticket_no is not None and ticket_no.strip():
            stmt = stmt.where(col(Event.ticket_id) == get_ticket(s, ticket_no).id)
        if start is not None:
            stmt = stmt.where(col(Event.at) >= start)
        if stop is not None:
            stmt = stmt.where(col(Event.at) < stop if stop_exclusive else col(Event.at) <= stop)
        if wanted is not None:
            stmt = stmt.where(col(Event.kind).in_(wanted))
        if before_id is not None:
            stmt = stmt.where(col(Event.id) < before_id)
        rows = s.exec(stmt.order_by(col(Event.id).desc()).limit(limit)).all()
    return [_row(ev, no) for ev, no in rows]


def audit_event(ctx: Ctx, event_id: int) -> dict[str, Any]:
    """One event in full for the viewer's detail: the ``audit_log`` row plus its hashes and summary."""
    _require_audit_role(ctx, "查看审计日志")
    with ctx.read() as s:
        stmt = (
            select(Event, Ticket.no)
            .join(Ticket, col(Ticket.id) == col(Event.ticket_id), isouter=True)
            .where(col(Event.id) == event_id)
        )
        found = s.exec(stmt).first()
        if found is None:
            raise NotFound(f"事件不存在：#{event_id}")
        ev, no = found
        out = _row(ev, no)
        out.update(prev_hash=ev.prev_hash, hash=ev.hash, summary=summarize(ev, ctx.policy))
    return out


# ---------------------------------------------------------------- one-line summaries

_ASSIGNMENT_ROLES = {"single": "承办", "lead": "主办", "co": "协办"}
_PII_FIELDS = {"name": "姓名", "phone": "联系电话", "address": "地址", "id_number": "身份证号"}
_FIELD_NAMES = {
    **_PII_FIELDS,
    "title": "标题",
    "body": "正文",
    "keywords": "关键词",
    "category": "分类",
    "valid_from": "生效日期",
    "valid_to": "失效日期",
    "source": "来源",
    "display_name": "显示名",
    "role": "角色",
    "unit": "单位",
    "parent": "上级单位",
    "kind": "单位类型",
    "active": "启用状态",
    "password": "密码",
}
_CODE_LABELS = {
    # login and password refusals
    "bad_password": "密码错误",
    "inactive": "账户已停用",
    "too_many_failures": "连续登录失败",
    "bad_old": "原密码错误",
    "unknown_user": "用户名不存在",
    "no_password": "未设置密码",
    "locked": "账户已锁定",
    "self": "本人",
    # KB versions
    "published": "已发布",
    "pending": "待审核",
    "superseded": "已被取代",
    "rejected": "已退回",
    "withdrawn": "已撤回",
    "create": "新增",
    "edit": "修改",
    "withdraw": "撤回",
    "import": "导入",
}
_TYPES = {
    "consult": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "handle": "办理",
    "feedback": "反馈",
}
_CHANNELS = {
    "phone": "12345电话",
    "web": "网站",
    "wechat": "微信",
    "email": "邮箱",
    "miniprogram": "小程序",
    "12328": "12328",
    "zmlj": "政民零距离",
}
_URGENCIES = {"normal": "普通", "urgent": "急", "very_urgent": "紧急", "critical": "特急"}
_SAFE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,39}")


def _code(value: Any) -> str:
    """A code (unit, user name, status) as it is, or its label; anything that may be free text: nothing."""
    if isinstance(value, bool) or value is None:
        return ""
    text_ = str(value).strip()
    if text_ in _CODE_LABELS:
        return _CODE_LABELS[text_]
    return text_ if _SAFE_CODE.fullmatch(text_) else ""


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple):
        return len(value)
    return None


def _short_at(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return local(datetime.fromisoformat(value)).strftime("%m-%d %H:%M")
    except ValueError:
        return ""


def _names(values: Any, table: Mapping[str, str]) -> str:
    if isinstance(values, dict):
        values = list(values)
    if not isinstance(values, list | tuple):
        return ""
    return "、".join(table.get(str(v), _code(v)) for v in values if table.get(str(v)) or _code(v))


def summarize(event: Event | Mapping[str, Any], policy: Policy | None = None) -> str:
    """A one-line Chinese gist of an event's payload, for the audit viewer and ``hotline audit log``.

    Only fields known to be safe are shown (codes, counts, flags, times, staff account names): free text
    a payload may carry (notes, a caller's words at callback, materials) and field values are left out.
    ``event`` is an ``Event`` or a row of ``audit_log``. With a ``policy`` its labels name types and reasons.
    """
    raw_payload: Any
    if isinstance(event, Event):
        kind, raw_payload = event.kind, event.payload
    else:
        kind, raw_payload = str(event.get("kind") or ""), event.get("payload")
    if not isinstance(raw_payload, Mapping):
        return ""
    p: Mapping[str, Any] = raw_payload
    parts: list[str] = []

    def add(text_: str) -> None:
        if text_ and text_ not in parts:
            parts.append(text_)

    def label(table: Mapping[str, str], key: str) -> str:
        raw = p.get(key)
        return table.get(str(raw), _code(raw)) if raw is not None else ""

    if _code(p.get("user")):  # account events: whose account first
        add(f"用户 {_code(p['user'])}")
    # the ticket: type, channel, urgency, labels
    types = dict(_TYPES, **(policy.types if policy else {}))
    add(label(types, "type"))
    add(label(dict(_CHANNELS, **(policy.channels if policy else {})), "channel"))
    if p.get("urgency") not in (None, "normal"):
        add(label(dict(_URGENCIES, **(policy.urgencies if policy else {})), "urgency"))
    if isinstance(p.get("labels"), list):
        add("".join(f"【{_code(x) or x}】" for x in p["labels"] if isinstance(x, str) and len(x) <= 12))
    if p.get("triage") not in (None, "", "accept"):
        add(f"分诊 {_triage(policy, p['triage'])}")
    if "class" in p:
        route = str(p.get("route") or "")
        add(f"{_triage(policy, p['class'])}" + (f" 转{route}" if route.isdigit() else ""))
    # dispatch
    units = p.get("units")
    if isinstance(units, list):
        add(_units(units, designated=bool(p.get("designated"))))
    redispatched = p.get("redispatched")
    if isinstance(redispatched, Mapping) and isinstance(redispatched.get("units"), list):
        add("重新派单 " + _units(redispatched["units"], designated=bool(redispatched.get("designated"))))
    if p.get("dispatch_late") is True:
        add("超时派单")
    if _count(p.get("split_into")):
        add(f"拆出 {_count(p['split_into'])} 件")
    if _code(p.get("split_from")):
        add(f"拆自 {_code(p['split_from'])}")
    # handling and review
    if "late" in p and isinstance(p["late"], bool):
        add("超时接单" if p["late"] else "按时接单")
    if _count(p.get("request")) is not None:
        add(f"申请 #{p['request']}")
    if "reason" in p and not kind.startswith("pii_") and kind != "callback":  # a reveal's is free text
        add(_reason(kind, p.get("reason"), policy))
    if p.get("complex") is True:
        add("复杂事项")
    if kind.startswith("extension") and _count(p.get("count")):
        add(f"第{p['count']}次延期")
    if _short_at(p.get("old_due_at")) and _short_at(p.get("new_due_at")):
        add(f"时限 {_short_at(p['old_due_at'])} → {_short_at(p['new_due_at'])}")
    elif _short_at(p.get("due_at")):
        add(f"时限 {_short_at(p['due_at'])}")
    if p.get("overdue") is True:
        add("超期答复")
    if _count(p.get("returns")):
        add(f"累计退单{p['returns']}次")
    if p.get("designation_required"):
        add("须指定派单")
    if p.get("ticket_status"):
        from hotline_tui.models import TICKET_STATUSES

        add("工单" + TICKET_STATUSES.get(str(p["ticket_status"]), _code(p["ticket_status"])))
    if p.get("callback_exempt"):
        add("免回访")
    # callback
    if p.get("reached") is False:
        add("未联系上")
    if _count(p.get("attempt")):
        add(f"第{p['attempt']}次回访")
    if p.get("satisfaction"):
        from hotline_tui.models import SATISFACTION

        add(SATISFACTION.get(str(p["satisfaction"]), _code(p["satisfaction"])))
    if "solved" in p and isinstance(p["solved"], bool):
        add("已解决" if p["solved"] else "未解决")
    if kind == "callback" and p.get("reason"):
        add(_reason(kind, p["reason"], policy))
    if p.get("rehandle") is True:
        add("重新办理")
    if p.get("closed"):
        add("按未回访办结")
    # answers and KB
    if _code(p.get("kb_entry")):
        add(f"知识库 {_code(p['kb_entry'])}")
    if _code(p.get("entry")):
        version = f" 第{p['version']}版" if _count(p.get("version")) else ""
        add(f"条目 {_code(p['entry'])}{version}")
    if kind.startswith("kb_") and p.get("status"):
        add(_code(p["status"]))
    # personal data
    if kind.startswith("pii_") or kind.endswith("_exported"):
        fields = _names(p.get("fields"), _PII_FIELDS)
        add(fields)
        n = _count(p.get("tickets")) or _count(p.get("count"))
        if n is not None:
            add(f"{n} 件工单")
        if _short_at(p.get("since")) or _short_at(p.get("until")):
            add(f"受理时间 {_short_at(p.get('since')) or '不限'} 至 {_short_at(p.get('until')) or '不限'}")
    elif "fields" in p or "changes" in p:
        changed = _names(p.get("fields", p.get("changes")), _FIELD_NAMES)
        if changed:
            add(f"修改 {changed}")
    # accounts, units, settings
    if p.get("role") is not None:
        role = str(p["role"])
        add(ROLE_LABELS.get(role) or _ASSIGNMENT_ROLES.get(role) or _code(role))
    for key, what in (("unit", "单位"), ("code", "单位"), ("parent", "上级"), ("old_parent", "原上级")):
        if _code(p.get(key)):
            add(f"{what} {_code(p[key])}")
    if _code(p.get("new_parent")):
        add(f"新上级 {_code(p['new_parent'])}")
    if p.get("by") is not None:
        add(f"由{_code(p['by'])}修改" if _code(p["by"]) else "")
    if _count(p.get("failures")):
        add(f"连续失败{p['failures']}次")
    if _short_at(p.get("locked_until")):
        add(f"锁定至 {_short_at(p['locked_until'])}")
    if _code(p.get("from")) and _code(p.get("to")):
        add(f"{_code(p['from'])} → {_code(p['to'])}")
    elif _code(p.get("policy")):
        add(f"策略 {_code(p['policy'])}")
    # imports and calendars
    if _count(p.get("year")):
        add(
            f"{p['year']}年 放假{_count(p.get('holidays')) or 0}天 调休上班{_count(p.get('workdays')) or 0}天"
        )
    elif kind.endswith("_imported") or "unchanged" in p:
        counts = [(k, _count(p.get(k))) for k in ("created", "updated", "unchanged")]
        names = {"created": "新增", "updated": "更新", "unchanged": "未变"}
        add(" ".join(f"{names[k]}{n}" for k, n in counts if n is not None))
    return "，".join(parts)


def _units(units: list[Any], *, designated: bool) -> str:
    named = [
        f"{_code(u.get('unit'))}（{_ASSIGNMENT_ROLES.get(str(u.get('role')), _code(u.get('role')))}）"
        for u in units
        if isinstance(u, Mapping) and _code(u.get("unit"))
    ]
    return ("指定 " if designated else "") + "、".join(named)


def _triage(policy: Policy | None, code: Any) -> str:
    found = policy.triage_class(str(code)) if policy is not None else None
    return found.label if found is not None else _code(code)


def _reason(kind: str, code: Any, policy: Policy | None) -> str:
    """A reason code's label: return and stop reasons from the policy, callback and login codes here."""
    raw = str(code or "")
    if not raw:
        return ""
    if kind == "return_requested" and policy is not None:
        found = policy.return_reason(raw)
        if found is not None:
            return found.label
    if kind == "stop_requested" and policy is not None and raw in policy.stop_reasons:
        return policy.stop_reasons[raw]
    if kind == "callback":
        from hotline_tui.services.callback import DISSATISFIED_REASONS

        if raw in DISSATISFIED_REASONS:
            return DISSATISFIED_REASONS[raw]
    return _code(raw)
