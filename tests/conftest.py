"""Fixtures: a real SQLite file per test, and a real PostgreSQL server for the session."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hotline_tui.clock import FixedClock, parse_datetime
from hotline_tui.db import make_engine
from hotline_tui.policy import load_policy
from hotline_tui.services.admin import add_user, import_units, parse_units
from hotline_tui.services.core import SYSTEM, Ctx, actor_for
from hotline_tui.store import upgrade
from tests.pg_harness import PostgresServer

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

UNITS_TOML = """
[[unit]]
code = "CENTRE"
name = "市便民专线服务中心"
kind = "centre"

[[unit]]
code = "HX"
name = "河西区人民政府"
kind = "district"

[[unit]]
code = "HX-CG"
name = "河西区城市管理委员会"
kind = "department"
parent = "HX"
keywords = ["路灯", "占道", "垃圾"]

[[unit]]
code = "HX-CG-ZM"
name = "河西区城管委照明所"
kind = "sub_unit"
parent = "HX-CG"

[[unit]]
code = "HX-ZJ"
name = "河西区住房和建设委员会"
kind = "department"
parent = "HX"

[[unit]]
code = "JTW"
name = "市交通运输委员会"
kind = "department"

[[unit]]
code = "JTW-YS"
name = "市道路运输局"
kind = "sub_unit"
parent = "JTW"

[[unit]]
code = "SW"
name = "市水务集团"
kind = "utility"
"""

USERS = [
    ("agent1", "agent", None),
    ("disp1", "dispatcher", None),
    ("cb1", "callback", None),
    ("sup1", "supervisor", None),
    ("admin1", "admin", None),
    ("kb1", "kb_editor", "HX-CG"),
    ("cg", "liaison", "HX-CG"),
    ("zm", "liaison", "HX-CG-ZM"),
    ("zj", "liaison", "HX-ZJ"),
    ("jt", "liaison", "JTW"),
    ("ys", "liaison", "JTW-YS"),
    ("sw", "liaison", "SW"),
]

_pg = PostgresServer()
_pg_url: str | None = None
_pg_started = False
_db_counter = itertools.count()


def pg_base() -> str | None:
    global _pg_started, _pg_url
    if not _pg_started:
        _pg_started = True
        _pg_url = _pg.start()
    return _pg_url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _pg.stop()


def seed(engine: Engine, policy: str = "tianjin") -> None:
    upgrade(engine)
    ctx = Ctx(engine, load_policy(policy), SYSTEM, FixedClock(parse_datetime("2025-01-01T08:00:00")))
    import_units(ctx, parse_units(UNITS_TOML, "conftest"))
    for name, role, unit in USERS:
        add_user(ctx, name, role, unit, display_name=name)


class World:
    """A seeded store with a movable clock; ``as_(name)`` gives that user's context."""

    def __init__(self, engine: Engine, policy: str, backend: str) -> None:
        self.engine = engine
        self.backend = backend
        self.policy = load_policy(policy)
        self.clock = FixedClock(parse_datetime("2025-01-24T16:00:00"))

    def at(self, when: str | datetime) -> World:
        self.clock.set(parse_datetime(when) if isinstance(when, str) else when)
        return self

    def as_(self, name: str) -> Ctx:
        from hotline_tui.db import read_session

        with read_session(self.engine) as s:
            actor = actor_for(s, name)
        return Ctx(self.engine, self.policy, actor, self.clock)


def _sqlite_engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'store.db'}")


def _pg_engine() -> Engine:
    base = pg_base()
    if base is None:
        pytest.skip(f"PostgreSQL unavailable: {_pg.skip_reason}")
    return make_engine(_pg.create_database(f"t{os.getpid()}_{next(_db_counter)}"))


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_world(backend: str, tmp_path: Path) -> Iterator[Callable[[str], World]]:
    """Build a seeded store on the parametrised backend for a given policy profile."""
    engines: list[Engine] = []

    def build(policy: str = "tianjin") -> World:
        engine = _sqlite_engine(tmp_path / f"w{len(engines)}") if backend == "sqlite" else _pg_engine()
        engines.append(engine)
        seed(engine, policy)
        return World(engine, policy, backend)

    yield build
    for engine in engines:
        engine.dispose()


@pytest.fixture
def world(make_world: Callable[[str], World]) -> World:
    return make_world("tianjin")


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    engine = _sqlite_engine(tmp_path)
    seed(engine)
    yield World(engine, "tianjin", "sqlite")
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    base = pg_base()
    if base is None:
        pytest.skip(f"PostgreSQL unavailable: {_pg.skip_reason}")
    return base


@pytest.fixture
def pg_database() -> str:
    """A fresh, empty PostgreSQL database URL (skips when the server is unavailable)."""
    if pg_base() is None:
        pytest.skip(f"PostgreSQL unavailable: {_pg.skip_reason}")
    return _pg.create_database(f"t{os.getpid()}_{next(_db_counter)}")
