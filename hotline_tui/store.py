"""Create or upgrade a store (Alembic), and open one for a user: ``hotline init`` and every command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlmodel import select

from hotline_tui.clock import Clock, SystemClock, local
from hotline_tui.db import make_engine, read_session, write_session
from hotline_tui.errors import HotlineError, PermissionDenied
from hotline_tui.models import Setting, User
from hotline_tui.policy import DEFAULT_POLICY, Policy, load_policy
from hotline_tui.services.core import SYSTEM, Actor, Ctx, actor_for

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. Opening a store compares against this constant instead of importing Alembic
# (≈0.5 s of start-up); tests/test_schema.py keeps it equal to the migration scripts' head.
SCHEMA_HEAD = "0005"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The head as the migration scripts say (imports Alembic; for init and tests)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, read without Alembic."""
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision, keeping every row. Returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, head_revision()


def is_initialised(engine: Engine) -> bool:
    return "ticket" in inspect(engine).get_table_names()


def active_policy_name(engine: Engine) -> str:
    try:
        with read_session(engine) as s:
            row = s.get(Setting, "policy")
    except Exception:
        return DEFAULT_POLICY
    return row.value if row and row.value else DEFAULT_POLICY


def set_active_policy(engine: Engine, name: str) -> Policy:
    policy = load_policy(name)
    with write_session(engine) as s:
        row = s.get(Setting, "policy") or Setting(key="policy")
        row.value = name
        s.add(row)
    return policy


def open_ctx(
    db: str | None = None,
    *,
    user: str | None = None,
    policy: str | None = None,
    clock: Clock | None = None,
    engine: Engine | None = None,
) -> Ctx:
    """A context for ``user`` on the store at ``db`` (role and unit scope as at login)."""
    engine = engine or make_engine(db)
    if not is_initialised(engine):
        raise HotlineError("数据库尚未初始化，请先运行 hotline init（或 hotline init --demo）")
    rev = current_revision(engine)
    if rev != SCHEMA_HEAD:
        raise HotlineError(
            f"数据库结构版本为 {rev}，程序需要 {SCHEMA_HEAD}：请运行 hotline init 升级（数据不会丢失）"
        )
    prof = load_policy(policy or active_policy_name(engine))
    actor: Actor = SYSTEM
    clock = clock or SystemClock()
    if user:
        with read_session(engine) as s:
            actor = actor_for(s, user)
            locked = s.exec(select(User.locked_until).where(User.name == user)).first()
        if locked is not None and local(locked) > local(clock.now()):
            # checked like a login: an account locked after repeated wrong passwords cannot act by script
            from hotline_tui.services.accounts import locked_message

            raise PermissionDenied(locked_message(local(locked)))
    return Ctx(engine=engine, policy=prof, actor=actor, clock=clock)
