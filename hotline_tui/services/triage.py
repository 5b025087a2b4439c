"""Triage of a call text (分类处理): which class of T24 13 / GZ 11 / TA 13 / T15 8 it falls in, and why.

Pure functions over a policy profile; no store (repeat detection needs the store and lives elsewhere).

The scheme, per ``[[triage]]`` table of the profile:

- ``keywords`` count on their own (``着火``, ``起诉``);
- ``topics`` count only when a ``context`` cue stands in the same clause or a neighbouring one
  (``烟味`` + ``越来越浓``; ``社保`` + ``河北``);
- ``negations`` cancel a hit in its own clause (``火灾隐患``, ``法院旁边``, ``去年``, ``想咨询``);
- ``excludes`` cancel every hit of the table when they stand anywhere in the text (``火已经灭了``: the
  emergency is over; ``天津`` for out-of-city: a matter tied to this city is not another city's);
- a negator right before the word (``没有着火``, ``防止火灾``) cancels it too.

Classes are tried in the order of ``PRIORITY``: life and property first. Among the tables of one class
(110, 119, 120, 122) the one hit first in the text wins: callers lead with the main event.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from hotline_tui.policy import Policy, TriageClass

PRIORITY = (
    "emergency",
    "legal_procedure",
    "secret",
    "unlawful",
    "other_body",
    "civil_dispute",
    "out_of_city",
    "regional",
)
ACCEPT_ROUTE = "受理"
DEFAULT_INTAKE_CITE = "天津办法第十四条"

# Language, not policy: a word right after one of these is denied or hypothetical.
PREFIX_NEGATORS = (
    "没有",
    "没",
    "并未",
    "尚未",
    "未曾",
    "不是",
    "并非",
    "防止",
    "预防",
    "避免",
    "以防",
    "万一",
    "如果",
    "假如",
    "要是",
    "不会",
    "担心",
    "害怕",
    "怕",
    "打不",
    "点不",
)
PREFIX_WINDOW = 4  # characters before the word in which a negator counts ("没有发生火灾")

# Language, not policy: a place name directly followed by one of these names a street or a landmark of
# this city (鞍山西道, 福州道, 北京路, 四川菜馆), not a matter happening in that place.
PLACE_SUFFIXES = (
    "道", "路", "街", "大街", "里", "巷", "胡同", "桥", "小区", "花园", "公寓", "大厦", "广场", "商场",
    "饭店", "菜", "馆", "酒店", "宾馆", "中学", "小学", "大学", "医院",
)  # fmt: skip
PLACE_CLASSES = ("out_of_city", "regional")

_CLAUSE_SPLIT = re.compile(r"[，,。．；;！!？?\n\r:：…~～]+|\s+")


@dataclass(frozen=True)
class Hit:
    """One occurrence of a keyword or topic in one clause, counted or cancelled."""

    word: str
    clause: str
    position: tuple[int, int]  # clause index, offset in the clause
    cue: str = ""  # the context cue a topic needed
    cancelled_by: str = ""  # the negation or resolution that cancelled it

    @property
    def counted(self) -> bool:
        return not self.cancelled_by


@dataclass(frozen=True)
class TriageResult:
    cls: str
    route: str
    reason: str
    rule: str
    label: str
    matched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, str]:
        return {"class": self.cls, "route": self.route, "reason": self.reason, "rule": self.rule}


def clauses(text: str) -> list[str]:
    """The text split into clauses at punctuation and white space (empty pieces dropped)."""
    normal = unicodedata.normalize("NFKC", text)
    return [c for c in _CLAUSE_SPLIT.split(normal) if c]


def _negated_before(clause: str, start: int) -> str:
    before = clause[max(0, start - PREFIX_WINDOW) : start]
    return next((n for n in PREFIX_NEGATORS if n in before), "")


def _cancel(tc: TriageClass, parts: list[str], i: int, start: int, word: str = "") -> str:
    clause = parts[i]
    negator = _negated_before(clause, start)
    if negator:
        return negator
    if word and tc.code in PLACE_CLASSES:
        after = clause[start + len(word) : start + len(word) + 2]
        suffix = next((x for x in PLACE_SUFFIXES if after.startswith(x)), "")
        if suffix:
            return word + suffix
    negation = next((n for n in tc.negations if n in clause), "")
    if negation:
        return negation
    return next((x for x in tc.excludes if any(x in part for part in parts)), "")


def _occurrences(clause: str, word: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(word), clause)]


def hits(tc: TriageClass, parts: list[str]) -> list[Hit]:
    """Every keyword and topic occurrence of one triage table in the clauses, counted or cancelled."""
    out: list[Hit] = []
    for i, clause in enumerate(parts):
        for word in tc.keywords:
            for start in _occurrences(clause, word):
                out.append(Hit(word, clause, (i, start), cancelled_by=_cancel(tc, parts, i, start, word)))
        if not tc.topics:
            continue
        window = "".join(parts[max(0, i - 1) : i + 2])
        for word in tc.topics:
            for start in _occurrences(clause, word):
                cue = next((c for c in tc.context if c in window.replace(word, "", 1)), "")
                if cue:
                    out.append(Hit(word, clause, (i, start), cue, _cancel(tc, parts, i, start, word)))
    return sorted(out, key=lambda h: h.position)


def _describe(hit: Hit) -> str:
    cue = f"，且有情境词“{hit.cue}”" if hit.cue else ""
    return f"“{hit.clause}”中出现“{hit.word}”{cue}"


def _intake(policy: Policy) -> tuple[str, str]:
    table = policy.extra.get("intake")
    if isinstance(table, dict):
        cite = table.get("cite")
        route = table.get("route", ACCEPT_ROUTE)
        if isinstance(cite, str) and cite and isinstance(route, str) and route:
            return route, cite
    return ACCEPT_ROUTE, DEFAULT_INTAKE_CITE


def triage(text: str, policy: Policy) -> TriageResult:
    """Classify a call text by the profile's ``[[triage]]`` tables; ``accept`` when none applies."""
    parts = clauses(text)
    cancelled: list[Hit] = []
    for code in PRIORITY:
        candidates: list[tuple[TriageClass, list[Hit]]] = []
        for tc in (c for c in policy.triage if c.code == code):
            found = hits(tc, parts)
            cancelled.extend(h for h in found if not h.counted)
            counted = [h for h in found if h.counted]
            if counted:
                candidates.append((tc, counted))
        if candidates:
            tc, counted = min(candidates, key=lambda c: c[1][0].position)
            shown = "；".join(_describe(h) for h in counted[:3])
            if code == "emergency":
                action = f"应即时转接{tc.number}并告知诉求人"
            else:
                action = tc.route
            reason = f"{shown}：属“{tc.label}”情形，{action}（{tc.cite}）"
            matched = list(dict.fromkeys(h.word for h in counted))
            route = tc.number if code == "emergency" else tc.route
            return TriageResult(code, route, reason, tc.cite, tc.label, matched)
    route, cite = _intake(policy)
    reason = "未发现需分类处理的情形，按一般诉求受理"
    if cancelled:
        ignored = "；".join(f"“{h.word}”（因“{h.cancelled_by}”）" for h in cancelled[:4])
        reason += f"；不计：{ignored}"
    return TriageResult("accept", route, f"{reason}（{cite}）", cite, "受理", [])
