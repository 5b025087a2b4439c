"""Demo store (placeholder until the demo data module lands)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import select

from hotline_tui.db import read_session
from hotline_tui.models import Unit


def store_is_empty(engine: Engine) -> bool:
    with read_session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Unit)).one()) == 0


def load_demo(engine: Engine, now: datetime) -> dict[str, Any]:
    return {}
