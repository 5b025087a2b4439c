"""Help the agent choose the handling unit: a dispatch suggestion with its reasons, a searchable unit
picker (Chinese, code, pinyin), and the deadlines a dispatch would set for a form not yet saved.

The suggestion weighs three kinds of evidence, each shown to the agent as a reason (T24 15: "提升派单精准度"):
the units' own keywords found in the demand or address, the owner unit of the knowledge-base entries
the demand matches, and where similar recent tickets were dispatched and stayed (a unit that returned
them counts against). When the district is known, its own departments and streets come first for local
matters (T24 6: districts designate executing units; GZ 6).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlmodel import Session, col, select

from hotline_tui.clock import local
from hotline_tui.models import Assignment, Ticket, Unit
from hotline_tui.search import _lazy_pinyin, search
from hotline_tui.services.admin import UNIT_KIND_LABELS
from hotline_tui.services.callers import (
    CANDIDATES,
    like_any,
    matter,
    scan_since,
    text_prefilter,
    topic_overlap,
)
from hotline_tui.services.core import Ctx, require_role, unit_ancestry_codes
from hotline_tui.services.deadlines import (
    accept_limit,
    add_period,
    describe_time,
    handling_due,
    return_window,
)
from hotline_tui.services.dispatch import NOT_HANDLING_KINDS, _resolve_units, make_assignment
from hotline_tui.services.intake import INTAKE_ROLES, resolve_code

HISTORY_DAYS = 30
HISTORY_PATTERNS = 6
KEYWORD_SCORE = 1.0
NAME_SCORE = 1.2
KB_SCORES = (1.0, 0.6, 0.4)  # the owners of the best three knowledge-base hits
KB_MIN_OVERLAP = 0.2  # a hit must share the demand's words in its title or snippet (not only a stray bigram)
HISTORY_SCORE = 0.4  # per similar ticket that stayed with the unit
HISTORY_MAX = 5
RETURNED_PENALTY = 0.5  # per similar ticket the unit returned
DISTRICT_SCORE = 0.5  # the district government itself, when the demand names the district
LOCAL_FACTOR = 1.5  # a unit of the caller's district
FOREIGN_FACTOR = 0.4  # a unit of another district


@dataclass(frozen=True)
class UnitSuggestion:
    code: str
    name: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class UnitChoice:
    code: str
    name: str
    kind_label: str
    parent_name: str


@dataclass(frozen=True)
class DeadlineLine:
    unit_code: str
    unit_name: str
    role: str  # single | lead | co
    accept: str  # "接单时限 3小时 → 今天 19:00", or "" when the profile sets no accept limit
    handling: str  # "办理时限 5个工作日 → 2月5日(周三) 16:00（…跳过春节假期…）"
    due_at: datetime
    rule: str
    warnings: tuple[str, ...]
    accept_due_at: datetime | None = None
    accept_rule: str = ""
    returns: str = ""  # "退单时限 1个工作日 → 明天 16:00（疑难复杂 2个工作日 → …）"
    return_due_at: datetime | None = None
    return_rule: str = ""
    dispatch: str = ""  # the centre's own dispatch limit, where the profile has one (GZ 13)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


# ================================================================ the unit tree


@dataclass(frozen=True)
class _Tree:
    units: dict[int, Unit]
    order: dict[int, int]  # unit id → position in tree order (parents before children, siblings by id)
    district_of: dict[int, int | None]  # unit id → the nearest district unit above or at it

    def handling(self) -> list[Unit]:
        return sorted(
            (u for u in self.units.values() if u.active and u.kind not in NOT_HANDLING_KINDS),
            key=lambda u: self.order.get(u.id or 0, 0),
        )

    def parent_name(self, u: Unit) -> str:
        parent = self.units.get(u.parent_id) if u.parent_id is not None else None
        return parent.name if parent else ""


def _tree(s: Session) -> _Tree:
    units = {u.id: u for u in s.exec(select(Unit)) if u.id is not None}
    children: dict[int | None, list[int]] = {}
    for uid, u in sorted(units.items()):
        parent = u.parent_id if u.parent_id in units else None
        children.setdefault(parent, []).append(uid)
    order: dict[int, int] = {}
    stack = list(reversed(children.get(None, [])))
    while stack:
        uid = stack.pop()
        if uid in order:
            continue
        order[uid] = len(order)
        stack.extend(reversed(children.get(uid, [])))
    for uid in units:  # a cycle the admin service would refuse: still listed, at the end
        order.setdefault(uid, len(order))
    district_of: dict[int, int | None] = {}
    for uid in units:
        cur: int | None = uid
        seen: set[int] = set()
        found: int | None = None
        while cur is not None and cur in units and cur not in seen:
            seen.add(cur)
            if units[cur].kind == "district":
                found = cur
                break
            cur = units[cur].parent_id
        district_of[uid] = found
    return _Tree(units, order, district_of)


def _district_label(u: Unit) -> str:
    return u.name.removesuffix("人民政府").removesuffix("政府") or u.name


def _find_district(tree: _Tree, district: str, text: str) -> Unit | None:
    """The district unit the form names, or else the one the demand or address mentions."""
    districts = [u for u in tree.units.values() if u.kind == "district" and u.active]
    want = _fold(district).strip()
    if want:
        for u in districts:
            label = _fold(_district_label(u))
            if label.startswith(want) or want.startswith(label) or want in (_fold(k) for k in u.keywords):
                return u
        return None
    for u in sorted(districts, key=lambda u: -len(_district_label(u))):
        names = {_fold(_district_label(u)), *(_fold(k) for k in u.keywords if len(k) >= 2)}
        if any(n and n in text for n in names):
            return u
    return None


# ================================================================ suggestion


class _Scores:
    def __init__(self) -> None:
        self.score: dict[int, float] = {}
        self.reasons: dict[int, list[str]] = {}

    def add(self, uid: int, score: float, reason: str) -> None:
        self.score[uid] = self.score.get(uid, 0.0) + score
        self.reasons.setdefault(uid, [])
        if reason and reason not in self.reasons[uid]:
            self.reasons[uid].append(reason)


def _eligible(tree: _Tree, uid: int | None) -> bool:
    u = tree.units.get(uid) if uid is not None else None
    return u is not None and u.active and u.kind not in NOT_HANDLING_KINDS


def suggest_units(
    ctx: Ctx, text: str, *, address: str = "", district: str = "", limit: int = 5
) -> list[UnitSuggestion]:
    """Units to dispatch ``text`` to, best first, each with the reasons (never inactive units or centres)."""
    require_role(ctx, *INTAKE_ROLES, what="查看派单建议")
    folded = _fold(f"{text} {address}")
    if not folded.strip() or limit <= 0:
        return []
    now = ctx.now()
    scores = _Scores()
    with ctx.read() as s:
        tree = _tree(s)
        # 1. the units' keywords and names in the demand or the address
        for u in tree.handling():
            assert u.id is not None
            for kw in u.keywords:
                k = _fold(kw).strip()
                if len(k) >= 2 and k in folded and u.kind != "district":
                    scores.add(u.id, KEYWORD_SCORE, f"关键词“{kw.strip()}”")
            if len(u.name) >= 4 and _fold(u.name) in folded:
                scores.add(u.id, NAME_SCORE, f"诉求中提到“{u.name}”")
        # 2. the owners of the knowledge-base entries the demand matches
        _kb_owners(ctx, s, tree, text, scores)
        # 3. where similar recent tickets went, and stayed
        _history(ctx, s, tree, text, now, scores)
    # the district: its own units first for local matters
    home = _find_district(tree, district, folded)
    if home is not None and home.id is not None:
        label = _district_label(home)
        _counterparts(tree, home, scores)
        for uid in list(scores.score):
            where = tree.district_of.get(uid)
            if where == home.id and uid != home.id:
                scores.score[uid] *= LOCAL_FACTOR
                scores.add(uid, 0, f"属地：{label}")
            elif where is not None and where != home.id:
                scores.score[uid] *= FOREIGN_FACTOR
        scores.add(home.id, DISTRICT_SCORE, f"属地：诉求发生在{label}")
    ranked = sorted(
        (uid for uid, sc in scores.score.items() if sc > 0 and _eligible(tree, uid)),
        key=lambda uid: (-scores.score[uid], tree.order.get(uid, 0)),
    )
    return [
        UnitSuggestion(
            tree.units[uid].code,
            tree.units[uid].name,
            round(scores.score[uid], 3),
            tuple(scores.reasons.get(uid, ())),
        )
        for uid in ranked[:limit]
    ]


def _counterparts(tree: _Tree, home: Unit, scores: _Scores) -> None:
    """A unit of another district that matched (河西区城市管理委员会, by its keyword 井盖) stands for the
    same office in the matter's own district (南开区城市管理委员会): districts mirror each other's
    departments, and not every district's units carry every keyword. The counterpart gets the score;
    the other district's unit is then discounted as foreign."""
    home_label = _district_label(home)
    by_name = {u.name: u for u in tree.handling() if tree.district_of.get(u.id or 0) == home.id}
    for uid, score in list(scores.score.items()):
        where = tree.district_of.get(uid)
        if where is None or where == home.id or uid == where:
            continue
        other = _district_label(tree.units[where])
        name = tree.units[uid].name
        if not name.startswith(other):
            continue
        twin = by_name.get(home_label + name[len(other) :])
        if twin is None or twin.id is None or twin.id in scores.score and scores.score[twin.id] >= score:
            continue
        why = "、".join(scores.reasons.get(uid, [])[:2])
        scores.add(
            twin.id, score - scores.score.get(twin.id, 0.0), f"{home_label}的对口单位（{name}：{why}）"
        )


def _kb_owners(ctx: Ctx, s: Session, tree: _Tree, text: str, scores: _Scores) -> None:
    q = matter(text)
    if q.empty:
        return
    by_code = {u.code: u for u in tree.units.values()}
    topic = dict(q.topic)
    weights = iter(KB_SCORES)
    for hit in search(s, text, limit=8, today=ctx.now().date()):
        if hit.validity == "expired":
            continue
        about = dict(matter(f"{hit.title} {hit.snippet.replace('【', '').replace('】', '')}").topic)
        if topic_overlap(topic, about) < KB_MIN_OVERLAP:
            continue
        weight = next(weights, None)
        if weight is None:
            break
        owner = by_code.get(hit.unit or "")
        if owner is None or owner.id is None or not _eligible(tree, owner.id):
            continue
        scores.add(owner.id, weight, f"知识库条目 {hit.id}「{hit.title}」的主管单位")


def _history(ctx: Ctx, s: Session, tree: _Tree, text: str, now: datetime, scores: _Scores) -> None:
    q = matter(text)
    patterns = text_prefilter(q, places=False, most=HISTORY_PATTERNS)  # the problem, wherever it was
    if q.empty or not patterns:
        return
    topic = dict(q.topic)
    floor = ctx.policy.repeat.min_similarity
    since = scan_since(s, now - timedelta(days=HISTORY_DAYS))
    candidates = s.exec(
        select(Ticket.id, Ticket.text)
        .where(col(Ticket.created_at) >= since, like_any(patterns))
        .order_by(col(Ticket.created_at).desc())
        .limit(CANDIDATES)
    ).all()
    similar = [tid for tid, body in candidates if topic_overlap(topic, dict(matter(body).topic)) >= floor]
    if not similar:
        return
    stayed: Counter[int] = Counter()
    returned: Counter[int] = Counter()
    seen: set[tuple[int, int, str]] = set()
    for tid, uid, status in s.exec(
        select(Assignment.ticket_id, Assignment.unit_id, Assignment.status).where(
            col(Assignment.ticket_id).in_(similar)
        )
    ):
        kind = "returned" if status == "returned" else ("cancelled" if status == "cancelled" else "stayed")
        if (tid, uid, kind) in seen:
            continue
        seen.add((tid, uid, kind))
        if kind == "stayed":
            stayed[uid] += 1
        elif kind == "returned":
            returned[uid] += 1
    for uid, n in stayed.items():
        if _eligible(tree, uid):
            scores.add(
                uid,
                HISTORY_SCORE * min(n, HISTORY_MAX),
                f"近{HISTORY_DAYS}天 {n} 件相似工单派往该单位且未被退回",
            )
    for uid, n in returned.items():
        if uid in scores.score:
            scores.add(uid, -RETURNED_PENALTY * n, f"近{HISTORY_DAYS}天 {n} 件相似工单被该单位退回")


# ================================================================ unit picker


LEVEL_PREFIXES = ("市", "区", "县")


@lru_cache(maxsize=8192)
def _pinyin(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """For each syllable position of ``name``: the full pinyin from there, and the initials from there.
    Computed once per name and process (pypinyin is slow to load and to run)."""
    syllables = [p.lower() for p in _lazy_pinyin()(name) if p.isascii() and p.isalpha()]
    full = tuple("".join(syllables[i:]) for i in range(len(syllables)))
    initials = tuple("".join(p[0] for p in syllables[i:]) for i in range(len(syllables)))
    return full, initials


def _rank(u: Unit, term: str) -> int | None:
    """How well one query term matches the unit (lower is better), or None."""
    code = u.code.lower()
    name = _fold(u.name)
    if term == code:
        return 0
    if name.startswith(term) or code.startswith(term):
        return 1
    if term in name:
        return 2
    if term.isascii() and term.isalpha():
        full, initials = _pinyin(u.name)
        # a name read from its start, or after the level prefix 市/区/县 (sw → 市水务局)
        starts = 2 if u.name[:1] in LEVEL_PREFIXES else 1
        if any(f.startswith(term) for f in full[:starts]) or any(
            i.startswith(term) for i in initials[:starts]
        ):
            return 3
        if any(f.startswith(term) for f in full[starts:]) or any(
            i.startswith(term) for i in initials[starts:]
        ):
            return 4
    if term in code:
        return 5
    for kw in u.keywords:
        k = _fold(kw)
        if term in k or (len(k) >= 2 and k in term):
            return 6
    if len(term) >= 2 and not term.isascii() and _in_order(term, name):
        return 7  # an abbreviation: 城管 → 城市管理委员会
    return None


def _in_order(term: str, name: str) -> bool:
    rest = iter(name)
    return all(ch in rest for ch in term)


def find_units(ctx: Ctx, query: str, *, limit: int = 20) -> list[UnitChoice]:
    """Active handling units matching ``query``: Chinese name, code, pinyin (``sw`` → 市水务局, ``hpq`` →
    和平区, ``heping``), keywords; every word of the query must match. Empty query: all, in tree order."""
    terms = [t for t in _fold(query).split() if t]
    with ctx.read() as s:
        tree = _tree(s)
    hits: list[tuple[int, int, Unit]] = []
    for u in tree.handling():
        ranks = [_rank(u, t) for t in terms]
        if any(r is None for r in ranks):
            continue
        hits.append((max((r for r in ranks if r is not None), default=0), tree.order.get(u.id or 0, 0), u))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [
        UnitChoice(u.code, u.name, UNIT_KIND_LABELS.get(u.kind, u.kind), tree.parent_name(u))
        for _, _, u in hits[: max(0, limit)]
    ]


# ================================================================ deadlines for an unsaved form


def preview_new(
    ctx: Ctx, *, type_: str, channel: str, urgency: str, unit_codes: Iterable[str]
) -> list[DeadlineLine]:
    """The deadlines a dispatch of a ticket received now would set, unit by unit: the same computation
    as ``dispatch.preview`` (``make_assignment``) for a form not saved yet. Changes nothing."""
    require_role(ctx, *INTAKE_ROLES, what="预览办理时限")
    p = ctx.policy
    t = resolve_code(type_, p.types, "诉求类型")
    ch = resolve_code(channel, p.channels, "渠道")
    ur = resolve_code(urgency or "normal", p.urgencies, "紧急程度")
    now = ctx.now()
    draft = Ticket(id=0, no="", type=t, channel=ch, urgency=ur, text="", created_at=now, policy=p.name)
    dispatch_line = ""
    if p.dispatch_limit is not None:
        by = add_period(ctx.calendar, p, now, p.dispatch_limit).due_at
        dispatch_line = f"派单时限 {p.dispatch_limit.label()} → {describe_time(by, now)}（{p.dispatch_cite}）"
    out: list[DeadlineLine] = []
    with ctx.read() as s:
        units = _resolve_units(s, [c for c in unit_codes if c and c.strip()])
        for i, unit in enumerate(units):
            assert unit.id is not None
            role = "single" if len(units) == 1 else ("lead" if i == 0 else "co")
            due, rule = handling_due(p, ctx.calendar, type_=t, channel=ch, urgency=ur, start=now)
            a = make_assignment(ctx, s, draft, unit, role, False)
            group = p.group_for(unit_ancestry_codes(s, unit.id))
            limit, accept_cite = accept_limit(p, group)
            window, window_complex, return_cite = return_window(p, group)
            how = add_period(ctx.calendar, p, now, rule.period).explanation
            accept = ""
            if limit is not None and a.accept_due_at is not None:
                accept = f"接单时限 {limit.label()} → {describe_time(a.accept_due_at, now)}"
            returns = f"退单时限 {window.label()} → {describe_time(a.return_due_at, now)}"
            if window_complex is not None and a.return_due_complex_at is not None:
                returns += (
                    f"（疑难复杂 {window_complex.label()} → {describe_time(a.return_due_complex_at, now)}）"
                )
            out.append(
                DeadlineLine(
                    unit_code=unit.code,
                    unit_name=unit.name,
                    role=role,
                    accept=accept,
                    handling=f"办理时限 {rule.period.label()} → {describe_time(a.due_at, now)}（{how}）",
                    due_at=local(a.due_at),
                    rule=rule.cite,
                    warnings=tuple(dict.fromkeys(due.warnings)),
                    accept_due_at=local(a.accept_due_at) if a.accept_due_at else None,
                    accept_rule=accept_cite if accept else "",
                    returns=returns,
                    return_due_at=local(a.return_due_at),
                    return_rule=return_cite,
                    dispatch=dispatch_line,
                )
            )
    return out
