"""SQLModel tables. Rows hold the current state for fast queries; ``Event`` rows hold the history.

Times are stored timezone-aware (UTC in the database) and converted to Asia/Shanghai at the edges.
Tickets and assignments carry a version column: SQLAlchemy refuses a stale UPDATE, so two officers
acting on the same order cannot silently overwrite each other.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

ROLES = (
    "agent",
    "dispatcher",
    "liaison",
    "callback",
    "supervisor",
    "kb_editor",
    "trainer",
    "trainee",
    "admin",
)
ROLE_LABELS = {
    "agent": "坐席",
    "dispatcher": "派单审核",
    "liaison": "承办单位联络员",
    "callback": "回访员",
    "supervisor": "督办管理",
    "kb_editor": "知识库维护",
    "trainer": "培训师",
    "trainee": "学员",
    "admin": "系统管理员",
}

# Ticket.status
TICKET_STATUSES = {
    "new": "待派单",
    "answered": "已直接答复",
    "referred": "已转接/告知",
    "dispatched": "办理中",
    "callback": "待回访",
    "rehandling": "重新办理",
    "closed": "已办结",
    "stopped": "已终止办理",
}
# Assignment.status
ASSIGNMENT_STATUSES = {
    "pending": "待接单",
    "handling": "办理中",
    "replied": "已答复待审核",
    "approved": "答复已通过",
    "returned": "已退回",
    "stopped": "已终止办理",
    "cancelled": "已撤销",
}
ACTIVE_ASSIGNMENT = ("pending", "handling", "replied")
REQUEST_KINDS = {"return": "退单申请", "extension": "延期申请", "stop": "终止办理申请", "appeal": "申诉"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}

_ticket_version = Column("version", Integer, nullable=False, default=1)
_assignment_version = Column("version", Integer, nullable=False, default=1)


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(default="", max_length=64)
    role: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    password_hash: str = Field(default="", max_length=255)
    failed_logins: int = 0
    locked_until: datetime | None = None
    active: bool = True
    created_at: datetime


class Ticket(SQLModel, table=True):
    __table_args__ = (Index("ix_ticket_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    no: str = Field(index=True, unique=True, max_length=40)
    type: str = Field(max_length=20)
    channel: str = Field(max_length=20)
    urgency: str = Field(default="normal", max_length=20)
    status: str = Field(default="new", max_length=20, index=True)
    text: str
    caller_name: str = Field(default="", max_length=64)
    caller_phone: str = Field(default="", max_length=32, index=True)
    caller_address: str = Field(default="", max_length=255)
    caller_id_number: str = Field(default="", max_length=18)
    district: str = Field(default="", max_length=64)
    anonymous: bool = False
    confidential: bool = False
    no_reply: bool = False
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    triage_class: str = Field(default="accept", max_length=20)
    route: str = Field(default="", max_length=255)
    kb_entry_id: str | None = Field(default=None, max_length=64)
    parent_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(index=True)
    closed_at: datetime | None = None
    returns: int = 0
    satisfaction: str | None = Field(default=None, max_length=24)
    solved: bool | None = None
    dissatisfied_count: int = 0
    dissatisfied_reason: str = Field(default="", max_length=40)
    callback_attempts: int = 0
    rated_at: datetime | None = None
    policy: str = Field(default="tianjin", max_length=40)
    version: int = Field(default=1, sa_column=_ticket_version)

    __mapper_args__ = {"version_id_col": _ticket_version}


class Assignment(SQLModel, table=True):
    __table_args__ = (
        Index("ix_assignment_unit_status_due", "unit_id", "status", "due_at"),
        Index("ix_assignment_unit_status_closed", "unit_id", "status", "closed_at"),
        Index("ix_assignment_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    role: str = Field(default="single", max_length=10)  # single | lead | co
    status: str = Field(default="pending", max_length=20)
    designated: bool = False
    dispatched_at: datetime
    accept_due_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_late: bool = False
    return_due_at: datetime
    return_due_complex_at: datetime | None = None
    due_at: datetime
    period_amount: int
    period_unit: str = Field(max_length=8)
    period_start: str = Field(max_length=12)
    period_rule: str = Field(default="", max_length=255)
    extensions: int = 0
    rehandles: int = 0
    rehandling: bool = False
    reply_text: str | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    overdue_at_close: bool = False
    version: int = Field(default=1, sa_column=_assignment_version)

    __mapper_args__ = {"version_id_col": _assignment_version}


class UnitRequest(SQLModel, table=True):
    """A unit's request the centre decides on: return, extension, stop-handling, appeal."""

    __table_args__ = (Index("ix_request_kind_status", "kind", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=12)
    status: str = Field(default="pending", max_length=12)  # pending | approved | rejected
    reason_code: str = Field(default="", max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    created_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decision_note: str = ""


class Event(SQLModel, table=True):
    """Append-only history; each row carries the hash of the previous one (tamper evidence)."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    kind: str = Field(max_length=32, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str = Field(default="", max_length=64)
    at: datetime = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class ChainHead(SQLModel, table=True):
    """One row: the last event's hash. Locking it serialises event appends on PostgreSQL."""

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str = Field(default="", max_length=64)


class TicketCounter(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("prefix", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=8)
    day: str = Field(max_length=8)
    last: int = 0


class Draft(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    key: str = Field(default="intake", max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class KBEntry(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=255)
    body: str
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    category: str = Field(default="", max_length=255, index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = Field(default="", max_length=255)
    version: int = 1
    status: str = Field(default="published", max_length=16)
    updated_at: datetime
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = None


class KBVersion(SQLModel, table=True):
    """Every version of a KB entry: who changed what, and whether the centre has approved it (TA 7(3)).

    The ``KBEntry`` row holds what agents see (the last approved version); a unit's change waits here
    as ``pending`` until a reviewer approves it.
    """

    __table_args__ = (UniqueConstraint("entry_id", "version"), Index("ix_kbversion_status", "status"))

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="kbentry.id", max_length=64, index=True)
    version: int
    title: str = Field(max_length=255)
    body: str
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    category: str = Field(default="", max_length=255)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = Field(default="", max_length=255)
    status: str = Field(default="published", max_length=16)  # published | pending | rejected | superseded
    change: str = Field(default="edit", max_length=16)  # create | edit | import | withdraw
    changed_at: datetime
    changed_by: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = None
    reviewed_by: int | None = Field(default=None, foreign_key="user.id")
    review_note: str = ""


class KBSearchLog(SQLModel, table=True):
    """Searches agents ran: which found nothing is what the KB should learn next."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    query: str = Field(max_length=200)
    hits: int = 0
    top_entry: str | None = Field(default=None, max_length=64)
    opened_entry: str | None = Field(default=None, max_length=64)


class CalendarDay(SQLModel, table=True):
    """A holiday override an admin added to the store (``hotline calendar add``)."""

    day: date = Field(primary_key=True)
    year: int = Field(index=True)
    is_workday: bool
    source: str = Field(default="", max_length=255)


class CalendarYear(SQLModel, table=True):
    year: int = Field(primary_key=True)
    source: str = Field(default="", max_length=255)
    added_at: datetime


class Setting(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    value: str = ""
