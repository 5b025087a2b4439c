"""Alembic environment: run against the connection ``hotline init`` hands us (or a URL for the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import hotline_tui.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata

INDEX_PREFIXES = ("kb_fts", "kb_search")  # search.py's index tables (migration 0003), not models


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave the search index tables (and the FTS5 shadow tables) out of autogenerate comparisons."""
    return not (type_ == "table" and name is not None and name.startswith(INDEX_PREFIXES))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
