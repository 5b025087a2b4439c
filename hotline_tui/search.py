"""Chinese full-text search over the knowledge base.

Contract used by services/kb.py and the screens:
- ``index_entry(session, entry)`` — (re)index one published entry inside the caller's transaction;
- ``remove_entry(session, entry_id)`` — drop it from the index;
- ``rebuild_index(engine)`` — rebuild everything (after ``hotline init`` / bulk import);
- ``search(session, query, ...)`` — ranked hits, best first; never raises on any user input.

Design (measured first, NOTES.md "Chinese full-text search"; numbers in benchmarks/README.md):

- **Tokens are made here, in Python, at index time** and stored as text: NFKC + lower case; every run of
  CJK characters becomes its character bigrams (in order) followed by its unigrams, so a 1-character
  query matches a unigram and a longer one matches a phrase of adjacent bigrams (= the exact substring);
  letter/digit runs become one word each. The database never needs a custom tokenizer or a registered
  SQL function, so any other writer (the CLI, another process, psql) can open the store.
- **Pinyin** (pypinyin, imported lazily: only indexing pays its ≈0.2 s) over title and keywords: for each
  position of a CJK run, the full pinyin of the rest of the run (``gongjijin``) and its initials
  (``gjj``), capped in length; an ASCII query term is then a *prefix* query, which is a substring search.
- **SQLite**: ``kb_search_doc`` (filter columns: category, owner unit, validity) and ``kb_search_text``
  (the token strings) are plain tables; three external-content FTS5 tables (unicode61) read the tokens
  from ``kb_search_text``: ``kb_fts_title`` (title, keywords), ``kb_fts_all`` (title, keywords, body —
  so an AND of terms may be split across title and body) and ``kb_fts_pinyin``. They are kept in step
  from Python (FTS5 ``'delete'`` with the stored old tokens, then insert), in the caller's transaction.
- **PostgreSQL**: one table ``kb_search_doc`` with three ``tsvector`` columns (GIN-indexed) built from
  the *same* tokens through the tsvector input syntax — no text-search parser or dictionary is involved,
  so the result does not depend on the cluster's locale: title and keywords weigh A, body B.
  ``ts_rank_cd`` ranks.
- **Queries** never reach the match syntax raw: split into terms on anything that is not CJK, letter or
  digit (at most 8 terms, 120 characters), each term expanded by the synonym file
  (``data/kb_synonyms.toml``) into alternatives, each alternative made of double-quoted phrases built from
  our own tokens, the whole bound as one parameter.
- **Tiers**, best first, each run only while there are fewer hits than asked for: AND of all terms in
  the small title table, then in the pinyin table, then in title+keywords+body; then the same with long
  terms loosened to "all bigrams anywhere"; then OR of the terms. Title hits therefore rank above
  body-only hits, and AND hits above OR hits.
- **Validity** (T24 20; TTR 29: interpretations go in a day ahead, so an entry may be visible before its
  ``valid_from``): expired entries (``valid_to`` < today) are never returned unless
  ``include_expired``; entries not yet valid are returned as ``"upcoming"`` (即将生效). Current entries
  rank first, then upcoming, then expired.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from hotline_tui.models import KBEntry

SYNONYMS_FILE = Path(__file__).parent / "data" / "kb_synonyms.toml"
MAX_QUERY_CHARS = 120
MAX_TERMS = 8
MAX_ALTERNATIVES = 6
MAX_WORD = 60  # letters/digits kept of one word (longer words are cut, on both sides alike)
MAX_BODY_CHARS = 20000  # body characters indexed (PostgreSQL caps a tsvector at 1 MB)
PINYIN_SYLLABLES = 8  # full-pinyin suffix tokens cover this many syllables
PINYIN_INITIALS = 10
# Ranking is the cost of a common term (bm25 per matching row: ≈3 µs). A tier ranks at most this many
# matches, taken in row order — and rebuild_index numbers rows by ascending title + keywords length, the
# order bm25 itself prefers for a short query, so the cap rarely drops a hit that would have ranked.
RANK_CAP = 2000
MAX_LIMIT = 1000  # hits returned at most, whatever limit is asked for
SNIPPET_WIDTH = 80  # display columns (a CJK character is 2)
_TZ = ZoneInfo("Asia/Shanghai")
_VALIDITY_ORDER = {"current": 0, "upcoming": 1, "expired": 2}


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str
    score: float
    snippet: str  # with the matched terms marked 【…】
    category: str
    unit: str | None  # owner unit code
    validity: str  # "current" | "upcoming" (即将生效) | "expired"
    valid_from: date | None
    valid_to: date | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "score": round(self.score, 4), "snippet": self.snippet}


# --------------------------------------------------------------------------------------------- tokens


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x3FFFF
        or 0xF900 <= o <= 0xFAFF
        or 0x3040 <= o <= 0x30FF  # kana
        or 0xAC00 <= o <= 0xD7AF  # hangul
        or o == 0x3007  # 〇
    )


def _fold(s: str) -> str:
    """NFKC, then lower case (per character, where that keeps one character)."""
    s = unicodedata.normalize("NFKC", s)
    return "".join(c if len(low := c.lower()) != 1 else low for c in s)


def _runs(s: str) -> list[tuple[bool, str]]:
    """Split folded text into (is_cjk, run) pieces; everything not CJK/letter/digit separates."""
    out: list[tuple[bool, str]] = []
    buf: list[str] = []
    kind: bool | None = None
    for ch in s:
        if _is_cjk(ch):
            k: bool | None = True
        elif ch.isalnum() and ch.isprintable():
            k = False
        else:
            k = None
        if k != kind and buf:
            assert kind is not None
            out.append((kind, "".join(buf)))
            buf = []
        kind = k
        if k is not None:
            buf.append(ch)
    if buf and kind is not None:
        out.append((kind, "".join(buf)))
    return out


def _run_tokens(is_cjk: bool, run: str) -> list[str]:
    if not is_cjk:
        return [run[:MAX_WORD]]
    return [run[i : i + 2] for i in range(len(run) - 1)] + list(run)


def tokenize(s: str) -> list[str]:
    """Index tokens of a text: bigrams then unigrams of each CJK run; words otherwise."""
    out: list[str] = []
    for is_cjk, run in _runs(_fold(s)):
        out.extend(_run_tokens(is_cjk, run))
    return out


_pinyin_fn: Callable[[str], list[str]] | None = None


def _lazy_pinyin() -> Callable[[str], list[str]]:
    global _pinyin_fn
    if _pinyin_fn is None:
        from pypinyin import Style, lazy_pinyin  # ≈0.2 s and 60 MiB: paid by indexing, never by start-up

        def fn(run: str) -> list[str]:
            return list(lazy_pinyin(run, style=Style.NORMAL, errors=lambda x: "-"))

        _pinyin_fn = fn
    return _pinyin_fn


@lru_cache(maxsize=65536)
def _pinyin_run_tokens(run: str) -> tuple[str, ...]:
    syllables = _lazy_pinyin()(run)
    out: list[str] = []
    # break the run where a character has no (ASCII) pinyin
    parts: list[list[str]] = [[]]
    for syl in syllables:
        if syl.isascii() and syl.isalpha():
            parts[-1].append(syl.lower())
        elif parts[-1]:
            parts.append([])
    for part in parts:
        for i in range(len(part)):
            full = "".join(part[i : i + PINYIN_SYLLABLES])
            initials = "".join(p[0] for p in part[i : i + PINYIN_INITIALS])
            out.append(full)
            if len(initials) >= 2:
                out.append(initials)
    return tuple(out)


def pinyin_tokens(texts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for t in texts:
        for is_cjk, run in _runs(_fold(t)):
            if is_cjk:
                out.extend(_pinyin_run_tokens(run))
    return out


@dataclass(frozen=True)
class _Tokens:
    title: list[str]
    keywords: list[str]
    body: list[str]
    pinyin: list[str]


def _entry_keywords(entry: KBEntry) -> list[str]:
    kw = entry.keywords
    if isinstance(kw, str):  # a raw JSON string from a bulk path
        try:
            kw = json.loads(kw)
        except ValueError:
            kw = [kw]
    return [str(k) for k in (kw or []) if str(k).strip()]


def _entry_tokens(entry: KBEntry) -> _Tokens:
    keywords = _entry_keywords(entry)
    kw_tokens: list[str] = []
    for k in keywords:
        kw_tokens.extend(tokenize(k))
    return _Tokens(
        title=tokenize(entry.title or ""),
        keywords=kw_tokens,
        body=tokenize((entry.body or "")[:MAX_BODY_CHARS]),
        pinyin=pinyin_tokens([entry.title or "", *keywords]),
    )


# ------------------------------------------------------------------------------------ store writes


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _tsvector(columns: Sequence[tuple[list[str], str]]) -> str:
    """A tsvector in its input syntax: positions continue across columns, each column its weight."""
    positions: dict[str, list[str]] = {}
    pos = 0
    for tokens, weight in columns:
        for tok in tokens:
            pos += 1
            if pos > 16383:
                break
            positions.setdefault(tok, []).append(f"{pos}{weight}")
        pos += 1  # no phrase across columns
    parts = []
    for tok, plist in positions.items():
        lexeme = tok[:500].replace("\\", "\\\\").replace("'", "''")
        parts.append(f"'{lexeme}':{','.join(plist[:256])}")
    return " ".join(parts)


def _write(conn: Connection, entry: KBEntry, tokens: _Tokens) -> None:
    meta = {
        "e": entry.id,
        "c": entry.category or "",
        "u": entry.unit_id,
    }
    if _is_pg(conn):
        conn.execute(
            text(
                "INSERT INTO kb_search_doc (entry_id, category, unit_id, valid_from, valid_to,"
                " tsv_title, tsv_all, tsv_pinyin) VALUES (:e, :c, :u, :vf, :vt,"
                " CAST(:tt AS tsvector), CAST(:ta AS tsvector), CAST(:tp AS tsvector))"
                " ON CONFLICT (entry_id) DO UPDATE SET category = excluded.category,"
                " unit_id = excluded.unit_id, valid_from = excluded.valid_from, valid_to = excluded.valid_to,"
                " tsv_title = excluded.tsv_title, tsv_all = excluded.tsv_all, tsv_pinyin = excluded.tsv_pinyin"
            ),
            {
                **meta,
                "vf": entry.valid_from,
                "vt": entry.valid_to,
                "tt": _tsvector([(tokens.title, "A"), (tokens.keywords, "A")]),
                "ta": _tsvector([(tokens.title, "A"), (tokens.keywords, "A"), (tokens.body, "B")]),
                "tp": _tsvector([(tokens.pinyin, "A")]),
            },
        )
        return
    _sqlite_delete(conn, entry.id)
    doc_id = conn.execute(
        text(
            "INSERT INTO kb_search_doc (entry_id, category, unit_id, valid_from, valid_to)"
            " VALUES (:e, :c, :u, :vf, :vt) RETURNING id"
        ),
        {**meta, "vf": _iso(entry.valid_from), "vt": _iso(entry.valid_to)},
    ).scalar_one()
    row = {
        "id": doc_id,
        "t": " ".join(tokens.title),
        "k": " ".join(tokens.keywords),
        "b": " ".join(tokens.body),
        "p": " ".join(tokens.pinyin),
    }
    conn.execute(
        text(
            "INSERT INTO kb_search_text (id, title_tok, kw_tok, body_tok, py_tok) VALUES (:id, :t, :k, :b, :p)"
        ),
        row,
    )
    conn.execute(text("INSERT INTO kb_fts_title (rowid, title_tok, kw_tok) VALUES (:id, :t, :k)"), row)
    conn.execute(
        text("INSERT INTO kb_fts_all (rowid, title_tok, kw_tok, body_tok) VALUES (:id, :t, :k, :b)"), row
    )
    conn.execute(text("INSERT INTO kb_fts_pinyin (rowid, py_tok) VALUES (:id, :p)"), row)


def _sqlite_delete(conn: Connection, entry_id: str) -> None:
    old = conn.execute(
        text(
            "SELECT d.id, t.title_tok, t.kw_tok, t.body_tok, t.py_tok FROM kb_search_doc d"
            " LEFT JOIN kb_search_text t ON t.id = d.id WHERE d.entry_id = :e"
        ),
        {"e": entry_id},
    ).first()
    if old is None:
        return
    row = {"id": old[0], "t": old[1] or "", "k": old[2] or "", "b": old[3] or "", "p": old[4] or ""}
    if old[1] is not None:  # external content: FTS5 needs the very tokens it indexed to forget them
        conn.execute(
            text(
                "INSERT INTO kb_fts_title (kb_fts_title, rowid, title_tok, kw_tok) VALUES ('delete', :id, :t, :k)"
            ),
            row,
        )
        conn.execute(
            text(
                "INSERT INTO kb_fts_all (kb_fts_all, rowid, title_tok, kw_tok, body_tok)"
                " VALUES ('delete', :id, :t, :k, :b)"
            ),
            row,
        )
        conn.execute(
            text("INSERT INTO kb_fts_pinyin (kb_fts_pinyin, rowid, py_tok) VALUES ('delete', :id, :p)"), row
        )
    conn.execute(text("DELETE FROM kb_search_text WHERE id = :id"), row)
    conn.execute(text("DELETE FROM kb_search_doc WHERE id = :id"), row)


def _remove(conn: Connection, entry_id: str) -> None:
    if _is_pg(conn):
        conn.execute(text("DELETE FROM kb_search_doc WHERE entry_id = :e"), {"e": entry_id})
    else:
        _sqlite_delete(conn, entry_id)


def index_entry(session: Session, entry: KBEntry) -> None:
    """(Re)index ``entry`` in the caller's transaction; an entry that is not published is removed."""
    conn = session.connection()
    if entry.status != "published":
        _remove(conn, entry.id)
        return
    _write(conn, entry, _entry_tokens(entry))


def remove_entry(session: Session, entry_id: str) -> None:
    _remove(session.connection(), entry_id)


def rebuild_index(engine: Engine) -> int:
    """Reindex every published entry in one write transaction; returns how many were indexed."""
    from hotline_tui.db import write_session

    count = 0
    with write_session(engine) as session:
        conn = session.connection()
        pg = _is_pg(conn)
        if pg:
            conn.execute(text("DELETE FROM kb_search_doc"))
        else:
            for table in ("kb_fts_title", "kb_fts_all", "kb_fts_pinyin"):
                conn.execute(text(f"INSERT INTO {table} ({table}) VALUES ('delete-all')"))
            conn.execute(text("DELETE FROM kb_search_text"))
            conn.execute(text("DELETE FROM kb_search_doc"))
        result = conn.execute(
            text(
                "SELECT id, title, body, keywords, category, unit_id, valid_from, valid_to"
                " FROM kbentry WHERE status = 'published'"
                " ORDER BY length(title) + length(CAST(keywords AS TEXT)), id"
            )
        )
        batch_doc: list[dict[str, Any]] = []
        batch_text: list[dict[str, Any]] = []
        for r in result.yield_per(2000) if pg else result:
            entry = KBEntry(
                id=r[0],
                title=r[1] or "",
                body=r[2] or "",
                keywords=r[3] if isinstance(r[3], list) else json.loads(r[3] or "[]"),
                category=r[4] or "",
                unit_id=r[5],
                valid_from=_as_date(r[6]),
                valid_to=_as_date(r[7]),
                status="published",
                updated_at=datetime.now(_TZ),
            )
            tokens = _entry_tokens(entry)
            count += 1
            if pg:
                _write(conn, entry, tokens)
                continue
            batch_doc.append(
                {
                    "id": count,
                    "e": entry.id,
                    "c": entry.category,
                    "u": entry.unit_id,
                    "vf": _iso(entry.valid_from),
                    "vt": _iso(entry.valid_to),
                }
            )
            batch_text.append(
                {
                    "id": count,
                    "t": " ".join(tokens.title),
                    "k": " ".join(tokens.keywords),
                    "b": " ".join(tokens.body),
                    "p": " ".join(tokens.pinyin),
                }
            )
        if not pg:
            if batch_doc:
                conn.execute(
                    text(
                        "INSERT INTO kb_search_doc (id, entry_id, category, unit_id, valid_from, valid_to)"
                        " VALUES (:id, :e, :c, :u, :vf, :vt)"
                    ),
                    batch_doc,
                )
                conn.execute(
                    text(
                        "INSERT INTO kb_search_text (id, title_tok, kw_tok, body_tok, py_tok)"
                        " VALUES (:id, :t, :k, :b, :p)"
                    ),
                    batch_text,
                )
            for table in ("kb_fts_title", "kb_fts_all", "kb_fts_pinyin"):
                conn.execute(text(f"INSERT INTO {table} ({table}) VALUES ('rebuild')"))
    return count


def _as_date(v: object) -> date | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


# --------------------------------------------------------------------------------------- queries


@lru_cache(maxsize=1)
def _synonym_index() -> dict[str, tuple[str, ...]]:
    """member → its group (folded); a bad or missing file means no synonyms, never a failed search."""
    try:
        data = tomllib.loads(SYNONYMS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    index: dict[str, tuple[str, ...]] = {}
    for group in data.get("groups", []):
        if not isinstance(group, list):
            continue
        members = tuple(dict.fromkeys(_fold(str(m)).strip() for m in group if str(m).strip()))
        for m in members:
            index[m] = tuple(dict.fromkeys((*index.get(m, ()), *members)))
    return index


def _alternatives(term: str) -> list[str]:
    syn = _synonym_index()
    if term in syn:
        alts = [term, *syn[term]]
    else:
        alts = [term]
        best = max((m for m in syn if len(m) >= 2 and m in term), key=len, default=None)
        if best is not None:
            alts += [term.replace(best, other) for other in syn[best]]
    return list(dict.fromkeys(alts))[:MAX_ALTERNATIVES]


@dataclass(frozen=True)
class _Term:
    text: str
    alts: tuple[tuple[tuple[bool, str], ...], ...]  # alternatives → their (is_cjk, run) segments
    pinyin: str | None  # an ASCII-letter term, also searched as pinyin


def parse_query(query: str) -> list[_Term]:
    q = _fold(str(query)[: MAX_QUERY_CHARS * 4])[:MAX_QUERY_CHARS]
    terms: list[_Term] = []
    seen: set[str] = set()
    raw_terms = [t for t in re.split(r"[^\w]+|_", q) if t]
    for raw in raw_terms:
        runs = _runs(raw)
        if not runs:
            continue
        term = "".join(r for _, r in runs) if len(runs) == 1 else raw
        if term in seen:
            continue
        seen.add(term)
        alts: list[tuple[tuple[bool, str], ...]] = []
        for alt in _alternatives(term):
            segs = tuple((c, r if c else r[:MAX_WORD]) for c, r in _runs(alt))
            if segs and segs not in alts:
                alts.append(segs)
        if not alts:
            continue
        py = term if term.isascii() and term.isalpha() and len(term) >= 2 else None
        terms.append(_Term(term, tuple(alts), py))
        if len(terms) >= MAX_TERMS:
            break
    return terms


# An expression tree, rendered for FTS5 or tsquery: ("and"|"or", [children]) | ("phrase", [tokens]) |
# ("prefix", token)
_Expr = tuple[str, Any]


def _seg_expr(is_cjk: bool, run: str, loose: bool) -> _Expr:
    tokens = _run_tokens(is_cjk, run)
    if is_cjk and len(run) >= 2:
        bigrams = tokens[: len(run) - 1]
        if loose and len(bigrams) > 1:
            return ("and", [("phrase", [b]) for b in bigrams])
        return ("phrase", bigrams)
    return ("phrase", tokens[:1])


def _term_expr(term: _Term, loose: bool) -> _Expr:
    alts: list[_Expr] = []
    for segs in term.alts:
        parts = [_seg_expr(c, r, loose) for c, r in segs]
        alts.append(parts[0] if len(parts) == 1 else ("and", parts))
    return alts[0] if len(alts) == 1 else ("or", alts)


def _fts5(e: _Expr) -> str:
    kind, val = e
    if kind == "phrase":
        return '"' + " ".join(t.replace('"', '""') for t in val) + '"'
    if kind == "prefix":
        return '"' + str(val).replace('"', '""') + '" *'
    op = " AND " if kind == "and" else " OR "
    return "(" + op.join(_fts5(c) for c in val) + ")"


def _tsq_lexeme(tok: str) -> str:
    return "'" + tok.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsquery(e: _Expr) -> str:
    kind, val = e
    if kind == "phrase":
        return "(" + " <-> ".join(_tsq_lexeme(t) for t in val) + ")"
    if kind == "prefix":
        return _tsq_lexeme(str(val)) + ":*"
    op = " & " if kind == "and" else " | "
    return "(" + op.join(_tsquery(c) for c in val) + ")"


@dataclass(frozen=True)
class _Tier:
    table: str  # title | all | pinyin
    expr: _Expr
    also_all: _Expr | None = None  # pinyin tier: the non-pinyin terms must match title+keywords+body
    partial: bool = False  # last resort: runs only when every stricter tier found nothing


def _tiers(terms: list[_Term]) -> list[_Tier]:
    def combine(op: str, parts: list[_Expr]) -> _Expr:
        return parts[0] if len(parts) == 1 else (op, parts)

    tiers: list[_Tier] = []
    strict = [_term_expr(t, loose=False) for t in terms]
    loose = [_term_expr(t, loose=True) for t in terms]
    py_terms = [t for t in terms if t.pinyin]
    tiers.append(_Tier("title", combine("and", strict)))
    if py_terms:
        py_expr = combine("and", [("prefix", t.pinyin) for t in py_terms])
        rest = [_term_expr(t, loose=False) for t in terms if not t.pinyin]
        tiers.append(_Tier("pinyin", py_expr, combine("and", rest) if rest else None))
    tiers.append(_Tier("all", combine("and", strict)))
    if loose != strict:
        tiers.append(_Tier("title", combine("and", loose)))
        tiers.append(_Tier("all", combine("and", loose)))
    if len(terms) > 1:
        tiers.append(_Tier("title", combine("or", loose)))
        if py_terms:
            tiers.append(_Tier("pinyin", combine("or", [("prefix", t.pinyin) for t in py_terms])))
        tiers.append(_Tier("all", combine("or", loose)))
    partial = _partial_expr(terms)
    if partial is not None:  # last resort: any pair of the caller's words, rarer pairs weighing more
        tiers.append(_Tier("title", partial, partial=True))
        tiers.append(_Tier("all", partial, partial=True))
    unique: list[_Tier] = []
    for t in tiers:
        if t not in unique:
            unique.append(t)
    return unique


# Question and filler pairs that say nothing about the matter ("家里没水了怎么办" → 没水, 家里 ...).
STOP_BIGRAMS = frozenset(
    "怎么 么办 什么 么样 怎样 哪里 哪儿 多少 可以 一下 是不 不是 能不 不能 有没 有什 我们 你们 他们 我家 "
    "的话 了吗 吗？ 请问 想问 问一 一个 这个 那个 现在 还是 就是 已经 应该 需要 要求 怎么办 为什".split()
)


def _partial_expr(terms: list[_Term]) -> _Expr | None:
    """OR of the content bigrams of the query's longer Chinese runs (colloquial queries typed in one run)."""
    bigrams: list[str] = []
    long_run = False
    for term in terms:
        for segs in term.alts[:1]:
            for is_cjk, run in segs:
                if not is_cjk or len(run) < 2:
                    continue
                long_run = long_run or len(run) >= 3
                for i in range(len(run) - 1):
                    pair = run[i : i + 2]
                    if pair not in STOP_BIGRAMS and pair not in bigrams:
                        bigrams.append(pair)
    if not long_run and len(terms) < 2 or len(bigrams) < 2:
        return None
    return ("or", [("phrase", _run_tokens(True, b)[:1]) for b in bigrams[:16]])


_SQLITE_RANK = {
    "title": "bm25(kb_fts_title, 3.0, 2.0)",
    "all": "bm25(kb_fts_all, 6.0, 4.0, 1.0)",
    "pinyin": "bm25(kb_fts_pinyin)",
}
_FTS_TABLE = {"title": "kb_fts_title", "all": "kb_fts_all", "pinyin": "kb_fts_pinyin"}
_PG_COLUMN = {"title": "tsv_title", "all": "tsv_all", "pinyin": "tsv_pinyin"}


@dataclass(frozen=True)
class _Filters:
    today: date
    category: str | None
    unit_id: int | None
    include_expired: bool


def _run_tier(
    conn: Connection, tier: _Tier, f: _Filters, limit: int, skip: set[str]
) -> list[tuple[str, float]]:
    """(entry id, relevance: higher is better) of one tier, filters applied in SQL."""
    pg = _is_pg(conn)
    params: dict[str, Any] = {"lim": limit + len(skip), "cap": RANK_CAP}
    where: list[str] = []
    if f.category:
        where.append("substr(d.category, 1, :clen) = :cat")
        params["cat"] = f.category
        params["clen"] = len(f.category)
    if f.unit_id is not None:
        where.append("d.unit_id = :uid")
        params["uid"] = f.unit_id
    if not f.include_expired:
        where.append("(d.valid_to IS NULL OR d.valid_to >= :today)")
        params["today"] = f.today if pg else f.today.isoformat()
    if pg:
        col = _PG_COLUMN[tier.table]
        params["q"] = _tsquery(tier.expr)
        cond = [f"d.{col} @@ CAST(:q AS tsquery)", *where]
        if tier.also_all is not None:
            cond.append("d.tsv_all @@ CAST(:q2 AS tsquery)")
            params["q2"] = _tsquery(tier.also_all)
        sql = (
            "SELECT eid, r FROM ("
            f"SELECT d.entry_id AS eid, ts_rank_cd(d.{col}, CAST(:q AS tsquery), 1) AS r FROM kb_search_doc d"
            f" WHERE {' AND '.join(cond)} LIMIT :cap) x ORDER BY r DESC, eid LIMIT :lim"
        )
        rows = conn.execute(text(sql), params).all()
        return [(str(r[0]), float(r[1])) for r in rows]
    table = _FTS_TABLE[tier.table]
    params["q"] = _fts5(tier.expr)
    cond = [f"{table} MATCH :q", *where]
    if tier.also_all is not None:
        cond.append("d.id IN (SELECT rowid FROM kb_fts_all WHERE kb_fts_all MATCH :q2)")
        params["q2"] = _fts5(tier.also_all)
    sql = (
        "SELECT eid, r FROM ("
        f"SELECT d.entry_id AS eid, {_SQLITE_RANK[tier.table]} AS r FROM {table}"
        f" JOIN kb_search_doc d ON d.id = {table}.rowid"
        f" WHERE {' AND '.join(cond)} ORDER BY {table}.rowid LIMIT :cap) ORDER BY r, eid LIMIT :lim"
    )
    rows = conn.execute(text(sql), params).all()
    return [(str(r[0]), -float(r[1])) for r in rows]


def _storable(value: str) -> bool:
    """PostgreSQL refuses NUL in a parameter, SQLite's driver a lone surrogate: such a filter matches nothing."""
    return "\x00" not in value and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


def _validity(valid_from: date | None, valid_to: date | None, today: date) -> str:
    if valid_to is not None and valid_to < today:
        return "expired"
    if valid_from is not None and valid_from > today:
        return "upcoming"
    return "current"


def search(
    session: Session,
    query: str,
    *,
    limit: int = 10,
    category: str | None = None,
    unit: str | None = None,
    include_expired: bool = False,
    today: date | None = None,
) -> list[SearchHit]:
    """Ranked hits, best first (current, then upcoming 即将生效, then — only if asked — expired)."""
    try:
        terms = parse_query(query if isinstance(query, str) else "")
    except Exception:  # pragma: no cover - parse is pure Python over a bounded string
        return []
    if not terms or limit <= 0:
        return []
    limit = min(limit, MAX_LIMIT)
    if not (_storable(category or "") and _storable(unit or "")):  # no entry or unit holds such text
        return []
    today = today or datetime.now(_TZ).date()
    conn = session.connection()
    unit_id: int | None = None
    if unit:
        found = conn.execute(text("SELECT id FROM unit WHERE code = :c"), {"c": unit}).first()
        if found is None:
            return []
        unit_id = int(found[0])
    filters = _Filters(today, category or None, unit_id, include_expired)
    found_hits: dict[str, tuple[int, float]] = {}
    tiers = _tiers(terms)
    for n, tier in enumerate(tiers):
        if len(found_hits) >= limit or (tier.partial and found_hits):
            break
        for entry_id, rel in _run_tier(conn, tier, filters, limit, set(found_hits)):
            found_hits.setdefault(entry_id, (n, rel))
    if not found_hits:
        return []
    return _hits(conn, terms, found_hits, filters, limit, len(tiers))


def _hits(
    conn: Connection,
    terms: list[_Term],
    found: dict[str, tuple[int, float]],
    f: _Filters,
    limit: int,
    ntiers: int,
) -> list[SearchHit]:
    ids = list(found)
    params = {f"i{n}": v for n, v in enumerate(ids)}
    rows = conn.execute(
        text(
            "SELECT e.id, e.title, e.body, e.category, u.code, e.valid_from, e.valid_to, e.status, e.unit_id"
            " FROM kbentry e LEFT JOIN unit u ON u.id = e.unit_id"
            f" WHERE e.id IN ({', '.join(':' + k for k in params)})"
        ),
        params,
    ).all()
    hits: list[tuple[tuple[int, int, float, str], SearchHit]] = []
    for r in rows:
        if r[7] != "published":  # withdrawn since it was indexed
            continue
        category = r[3] or ""
        if f.category and not category.startswith(f.category):
            continue
        if f.unit_id is not None and r[8] != f.unit_id:
            continue
        vf, vt = _as_date(r[5]), _as_date(r[6])
        validity = _validity(vf, vt, f.today)
        if validity == "expired" and not f.include_expired:
            continue
        tier, rel = found[r[0]]
        score = (ntiers - tier) + rel / (1.0 + abs(rel))
        hit = SearchHit(
            id=str(r[0]),
            title=r[1] or "",
            score=score,
            snippet=make_snippet(r[1] or "", r[2] or "", terms),
            category=category,
            unit=r[4],
            validity=validity,
            valid_from=vf,
            valid_to=vt,
        )
        hits.append(((_VALIDITY_ORDER[validity], tier, -rel, hit.id), hit))
    hits.sort(key=lambda h: h[0])
    return [h for _, h in hits[:limit]]


# -------------------------------------------------------------------------------------- snippets


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _clean(s: str) -> str:
    s = re.sub(r"[*`#>|]+", "", s)  # Markdown marks
    s = "".join(c if c.isprintable() else " " for c in s)
    return re.sub(r"\s+", " ", s).strip()


def _surfaces(terms: list[_Term]) -> tuple[list[str], list[str]]:
    """Strings to mark: whole segments first; bigrams/characters of long segments as a fallback."""
    primary: list[str] = []
    fallback: list[str] = []
    for t in terms:
        for segs in t.alts:
            for is_cjk, run in segs:
                primary.append(run)
                if is_cjk and len(run) > 2:
                    fallback.extend(run[i : i + 2] for i in range(len(run) - 1))
    key = len
    return sorted(set(primary), key=key, reverse=True), sorted(set(fallback), key=key, reverse=True)


def _fold_in_place(s: str) -> str:
    """Fold each character on its own where that keeps it one character: offsets match the display text."""
    out = []
    for c in s:
        f = unicodedata.normalize("NFKC", c).lower()
        out.append(f if len(f) == 1 else c)
    return "".join(out)


def _matches(folded: str, surfaces: list[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, surface) matches, longest surfaces first."""
    if not surfaces:
        return []
    pattern = re.compile("|".join(re.escape(s) for s in surfaces))
    return [(m.start(), m.end(), m.group()) for m in pattern.finditer(folded)]


def _render(s: str, start: int, spans: list[tuple[int, int, str]], width: int) -> str:
    out: list[str] = ["…"] if start > 0 else []
    used = 1 if start > 0 else 0
    marks = {a: b for a, b, _ in spans}
    i = start
    while i < len(s):
        if i in marks:
            end = marks[i]
            seg = s[i:end]
            w = sum(_width(c) for c in seg) + 4
            if used + w > width:
                break
            out.append(f"【{seg}】")
            used += w
            i = end
            continue
        w = _width(s[i])
        if used + w > width - 1:
            break
        out.append(s[i])
        used += w
        i += 1
    if i < len(s):
        out.append("…")
    return "".join(out)


def make_snippet(title: str, body: str, terms: list[_Term], width: int = SNIPPET_WIDTH) -> str:
    """A width-bounded piece of the body around its best match, the matched terms marked 【…】."""
    clean = _clean(body)
    folded = _fold_in_place(clean)
    primary, fallback = _surfaces(terms)
    spans = _matches(folded, primary) or _matches(folded, fallback)
    if not spans:
        ctitle = _clean(title)
        ftitle = _fold_in_place(ctitle)
        tspans = _matches(ftitle, primary) or _matches(ftitle, fallback)
        if tspans:
            head = _render(ctitle, 0, tspans, width)
            rest = width - sum(_width(c) for c in head) - 2
            return head + ("：" + _render(clean, 0, [], rest) if rest > 8 and clean else "")
        return _render(clean, 0, [], width)
    # the window (about the given width in characters, from a little before a match) with the most
    # distinct surfaces, earliest first
    best_start, best_count = 0, -1
    for a, _, _ in spans:
        start = max(0, a - 6)
        budget, end = 0, start
        while end < len(clean) and budget < width:
            budget += _width(clean[end])
            end += 1
        count = len({s for x, y, s in spans if x >= start and y <= end})
        if count > best_count:
            best_start, best_count = start, count
    if best_start <= 6:
        best_start = 0
    inside = [sp for sp in spans if sp[0] >= best_start]
    return _render(clean, best_start, inside, width)
