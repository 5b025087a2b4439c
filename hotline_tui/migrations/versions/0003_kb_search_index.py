"""knowledge base search index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00

The tables hotline_tui/search.py fills from Python (no registered SQL function, no custom tokenizer, so
any writer can open the store). They are not SQLModel models: env.py and tests/test_schema.py skip names
starting with ``kb_fts`` / ``kb_search`` when comparing the migrations with the models.

SQLite: ``kb_search_doc`` (filter columns), ``kb_search_text`` (pre-tokenized text) and three
external-content FTS5 tables reading from it. PostgreSQL: ``kb_search_doc`` with three GIN-indexed
tsvector columns built from the same tokens. After upgrading a store that already holds entries, run
``search.rebuild_index`` (``hotline init`` / ``hotline kb import`` do).
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """CREATE TABLE kb_search_doc (
        id INTEGER PRIMARY KEY,
        entry_id TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL DEFAULT '',
        unit_id INTEGER,
        valid_from TEXT,
        valid_to TEXT
    )""",
    """CREATE TABLE kb_search_text (
        id INTEGER PRIMARY KEY,
        title_tok TEXT NOT NULL DEFAULT '',
        kw_tok TEXT NOT NULL DEFAULT '',
        body_tok TEXT NOT NULL DEFAULT '',
        py_tok TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE VIRTUAL TABLE kb_fts_title USING fts5(title_tok, kw_tok, content='kb_search_text',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE kb_fts_all USING fts5(title_tok, kw_tok, body_tok, content='kb_search_text',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE kb_fts_pinyin USING fts5(py_tok, content='kb_search_text',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
]
SQLITE_DOWN = ["kb_fts_pinyin", "kb_fts_all", "kb_fts_title", "kb_search_text", "kb_search_doc"]

PG_UP = [
    """CREATE TABLE kb_search_doc (
        entry_id VARCHAR(64) PRIMARY KEY,
        category VARCHAR(255) NOT NULL DEFAULT '',
        unit_id INTEGER,
        valid_from DATE,
        valid_to DATE,
        tsv_title TSVECTOR NOT NULL,
        tsv_all TSVECTOR NOT NULL,
        tsv_pinyin TSVECTOR NOT NULL
    )""",
    "CREATE INDEX kb_search_doc_title_gin ON kb_search_doc USING gin (tsv_title)",
    "CREATE INDEX kb_search_doc_all_gin ON kb_search_doc USING gin (tsv_all)",
    "CREATE INDEX kb_search_doc_pinyin_gin ON kb_search_doc USING gin (tsv_pinyin)",
]


def upgrade() -> None:
    statements = PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS kb_search_doc")
        return
    for table in SQLITE_DOWN:
        op.execute(f"DROP TABLE IF EXISTS {table}")
