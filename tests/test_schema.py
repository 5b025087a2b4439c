"""The migrations describe exactly the models, and the core never imports the UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from hotline_tui.db import make_engine
from hotline_tui.store import SCHEMA_HEAD, current_revision, head_revision, upgrade


def test_migrations_match_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], "models changed without a migration: run alembic revision --autogenerate"
    assert current_revision(engine) == head_revision() == SCHEMA_HEAD  # store.SCHEMA_HEAD follows the scripts


def test_migrations_match_models_on_postgres(pg_database: str) -> None:
    engine = make_engine(pg_database)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    engine.dispose()


def test_core_layers_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        "import hotline_tui.models, hotline_tui.db, hotline_tui.policy, hotline_tui.workdays, hotline_tui.clock\n"
        "import hotline_tui.cli, hotline_tui.store, hotline_tui.demo\n"
        "import hotline_tui.services.core, hotline_tui.services.intake, hotline_tui.services.dispatch\n"
        "import hotline_tui.services.handling, hotline_tui.services.review, hotline_tui.services.callback\n"
        "import hotline_tui.services.appeal, hotline_tui.services.queries, hotline_tui.services.admin\n"
        "assert 'textual' not in sys.modules, 'a core module imported textual'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
