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
        diff = compare_metadata(
            MigrationContext.configure(  # search index tables (kb_fts*, kb_search*) are not models
                conn,
                opts={
                    "include_name": lambda n, t, _: (
                        not (t == "table" and (n or "").startswith(("kb_fts", "kb_search")))
                    )
                },
            ),
            SQLModel.metadata,
        )
    assert diff == [], "models changed without a migration: run alembic revision --autogenerate"
    assert current_revision(engine) == head_revision() == SCHEMA_HEAD  # store.SCHEMA_HEAD follows the scripts


def test_migrations_match_models_on_postgres(pg_database: str) -> None:
    engine = make_engine(pg_database)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(  # search index tables (kb_fts*, kb_search*) are not models
                conn,
                opts={
                    "include_name": lambda n, t, _: (
                        not (t == "table" and (n or "").startswith(("kb_fts", "kb_search")))
                    )
                },
            ),
            SQLModel.metadata,
        )
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


def test_init_upgrades_an_old_store_without_losing_rows(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from hotline_tui.cli import main
    from hotline_tui.store import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:  # a store as the first release left it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO unit (code, name, kind, keywords, active) VALUES ('HX', '河西区', 'district', '[]', 1)"
            )
        )
    assert current_revision(engine) == "0001"
    assert main(["--db", url, "--user", "x", "ticket", "list"]) == 2  # an old schema is refused with advice
    assert main(["--db", url, "init"]) == 0
    assert current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM unit")).scalar_one() == "河西区"
        assert conn.execute(text("SELECT count(*) FROM kbversion")).scalar_one() == 0
