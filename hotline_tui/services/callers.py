"""Who is calling: the caller's earlier tickets, a repeat of the same matter, abuse of the line, other
callers' open tickets on the same matter nearby, and a repeat call recorded instead of a duplicate.

- Repeat (T24 13(5); GZ 11(4), 22; TA 13(4)): a demand of the same caller about the same matter, still in
  progress or finished, with no new facts, is answered with the progress or the result, not a new ticket.
- Abuse (T24 12 para. 3; GZ 12; TA 11, 32): calls from one number over the profile's threshold make a
  warning visible to the agent, who persuades and records; nothing is refused automatically.
- Hot spots (T24 22(3)): other callers' open tickets on the same matter in the same area.

"The same matter" is decided by ``matter_similarity`` over ``Matter`` fingerprints: place names (road,
estate) and the words of the problem, written the same way (坏了 = 不亮 = 故障; the knowledge-base synonym
groups), compared as weighted character bigrams. Pure Python, no model: fast enough to run per keystroke.

Privacy (T24 19, 27): the agent typed the caller's number, so that caller's own tickets are listed by it;
no row carries a name, number or address, and demands and replies are masked of phone and ID numbers as
everywhere for agents. Other callers' tickets (hot spots) show only the masked demand, district and units.
Events carry no personal data; nothing here logs.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from hotline_tui.clock import local
from hotline_tui.errors import InvalidInput
from hotline_tui.models import ACTIVE_ASSIGNMENT, TICKET_STATUSES, Assignment, Event, KBEntry, Ticket, Unit
from hotline_tui.policy import Policy
from hotline_tui.privacy import mask_text, normalize_phone, valid_phone
from hotline_tui.search import SYNONYMS_FILE
from hotline_tui.services.core import Ctx, clean_text, get_ticket, record_event, require_role, storable
from hotline_tui.services.deadlines import describe_time
from hotline_tui.services.intake import INTAKE_ROLES, ascii_digits, resolve_code

OPEN_STATUSES = ("new", "dispatched", "callback", "rehandling")
HISTORY_ROWS = 20  # rows shown
HISTORY_SCAN = 200  # the caller's tickets read at most (newest first) for rows and the repeat check
CANDIDATES = 400  # other tickets compared by text at most per call
SCAN_ROWS = 10000  # recent tickets a text prefilter reads at most, newest first: bounded on any store
MAX_PATTERNS = 12  # LIKE patterns in the candidate prefilter
TEXT_CHARS = 400  # characters of a demand fingerprinted (the matter is stated first)
ABUSE_SCAN = 2000
EMERGENCY_NUMBERS = ("110", "119", "120", "122")


# ================================================================ the same matter


# Street, road and estate names end in one of these (longest first when matched).
PLACE_SUFFIXES = (
    "小区", "花园", "家园", "公寓", "大厦", "广场", "新村", "社区", "大街", "大道", "胡同", "公园",
    "路", "道", "街", "巷", "里", "苑", "庄", "村",
)  # fmt: skip
# A one-character suffix followed by one of these is part of a common word (路灯, 道路, 街道), not a place.
_SUFFIX_BLOCKED_NEXT = {
    "路": "灯面边段上过线牌况费人由径程子基",
    "道": "路歉理德具别教经",
    "街": "道头坊边上",
    "里": "面边头程外",
    "庄": "稼",
    "村": "民委",
    "巷": "子",
}
# Words ending in a suffix character that are not places (checked on the last 2 and 3 characters).
_NOT_PLACES = frozenset(
    "十字路 马路 道路 公路 铁路 线路 电路 走路 修路 过路 水路 网路 小路 大路 一路 思路 套路 出路 让路 挡路 "
    "堵路 占路 知道 街道 通道 管道 楼道 车道 行道 水道 隧道 频道 一道 味道 渠道 报道 难道 地道 步道 坡道 "
    "弯道 巷道 占道 轨道 跑道 航道 赛道 这里 那里 哪里 家里 心里 夜里 公里 村里 屋里 院里 楼里 城里 区里 "
    "邻里 手里 店里 农村 乡村 山庄 饭庄 商街".split()
)
# Characters that end a place name read backwards (connectors, pronouns, particles).
_NAME_STOP = frozenset(
    "与及跟在到从的地得是近靠往对至于我你他她它们家这那个该本此其都也还就又很了吗呢吧啊呀说问请有无没把被给让为、"
)
# Words right after a place that only say where at it (路口, 交口, 附近).
_PLACE_TAIL = re.compile(
    r"(交口|路口|口|附近|旁边|周边|一带|沿线|段|两侧|对面|门口|东侧|西侧|南侧|北侧|东口|西口|南口|北口|上|内|里)"
)
_SUFFIX_RE = re.compile("|".join(re.escape(x) for x in sorted(PLACE_SUFFIXES, key=len, reverse=True)))
_NOT_TEXT = re.compile(r"[^\u4e00-\u9fff\u3400-\u4dbfa-z]+")

# Words that say nothing about the matter: fillers, time, politeness, generic spots, address details.
FILLERS = tuple(
    sorted(
        set(
            (
                "好几天 好多天 好长时间 很长时间 一段时间 这几天 几天了 几天 多天 天天 每天 每晚 晚上 白天 半夜 "
                "最近 现在 目前 今天 昨天 前天 上周 上个月 这个月 一直 总是 经常 老是 已经 还是 仍然 依然 多次 "
                "我家 我们 你们 他们 请问 麻烦 帮忙 帮助 希望 要求 尽快 赶紧 及时 处理 解决 一下 问题 情况 "
                "反映 投诉 举报 来电 市民 诉求人 先生 女士 怎么 为什么 什么时候 什么 怎么办 没人管 无人管 没人 "
                "无人 扰民 影响 严重 非常 特别 十分 家门口 门口 楼下 楼上 附近 旁边 对面 周边 院里 路边 路上 "
                "街上 小区里 小区 家里 屋里 号楼 单元 楼栋 "
                "太 很 都 也 还 又 就 了 的 得 地 着 吗 呢 吧 啊 呀 哦 嘛 与 和 及 跟 在 是 有 这 那 个 些 我 你 "
                "他 她 它 说 请 给 让 被 把 对 向 从 到 号 室 层"
            ).split()
        ),
        key=len,
        reverse=True,
    )
)
_FILLER_RE = re.compile("|".join(re.escape(f) for f in FILLERS))

# How callers say a thing is broken, blocked, leaking... (the first word of a group stands for the group).
STATE_SYNONYMS = (
    ("故障", "不亮了", "不亮", "坏了", "坏掉", "损坏", "失灵", "不好使", "不能用", "用不了", "灭了", "黑了",
     "不工作", "出故障", "没修好", "还没修", "没修", "没人修", "不修"),
    ("堵塞", "堵了", "堵住", "堵死", "不通", "反水", "冒水", "返水"),
    ("漏水", "渗水", "滴水", "跑水"),
    ("不热", "温度低", "温度太低", "不够热", "不达标", "冰凉", "冰冷"),
    ("清理", "清运", "清扫", "打扫", "收走", "拉走"),
    ("噪音", "吵闹", "很吵", "太吵", "吵得", "声音大", "声音很大", "吵"),
    ("丢失", "丢了", "被盗", "缺失", "不见了"),
    ("占道经营", "占道摆摊", "摆摊", "摆地摊", "摊贩", "小摊", "出摊", "占道"),
    ("用人单位", "单位", "公司", "老板", "企业", "厂里", "工厂", "雇主"),
    ("饭店", "餐馆", "饭馆", "餐厅", "饭庄", "烧烤店"),
)  # fmt: skip

# Characters that make a bigram weak evidence of the matter (function words, numbers, time, position).
_LIGHT = frozenset(
    "一二三四五六七八九十百千万两了的得地着过很都也还就又再才不没有是在这那个些点么吗呢吧啊呀哦嗯被把给让对向"
    "从到和与及或而但却所以因为如果多少几天年月日号时分上下里外前后左右边面次"
)
KNOWN_WEIGHT = 1.2  # a bigram of a known word (synonym table)
LIGHT_WEIGHT = 0.3


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _sub_once(text: str, table: dict[str, str]) -> str:
    pattern = re.compile("|".join(re.escape(w) for w in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda m: table[m.group()], text)


@lru_cache(maxsize=1)
def _synonyms() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern over every known word (longest first), and the word each stands for.

    Our state words (坏了 → 故障) first; a knowledge-base synonym group (``data/kb_synonyms.toml``) stands
    for its first member written in our state words, so 路灯坏了, 路灯损坏 and 路灯不亮 meet."""
    table: dict[str, str] = {}
    for group in STATE_SYNONYMS:
        for word in group:
            table.setdefault(word, group[0])
    state = dict(table)
    try:
        groups = tomllib.loads(SYNONYMS_FILE.read_text(encoding="utf-8")).get("groups", [])
    except (OSError, ValueError):
        groups = []
    for group in groups:
        if not isinstance(group, list):
            continue
        words = [w for w in (_fold(str(x)).strip() for x in group) if len(w) >= 2]
        if len(words) < 2 or any(w in FILLERS for w in words):
            continue
        canon = _sub_once(words[0], state)
        for word in words:
            table.setdefault(word, canon)
            table.setdefault(_sub_once(word, state), canon)
    words = sorted(table, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)), table


@dataclass(frozen=True)
class Matter:
    """What a demand is about, as comparable tokens: where (place names) and what (topic bigrams)."""

    places: tuple[str, ...]  # place names found, e.g. 友谊路, 阳光小区
    place_grams: frozenset[str]
    topic: tuple[tuple[str, float], ...]  # (bigram, weight)
    surface: tuple[str, ...]  # words as written, for a LIKE prefilter: place names, then the problem's

    @property
    def empty(self) -> bool:
        return not self.topic

    def with_places(self, other: Matter) -> Matter:
        """This matter with the places of ``other`` (an address) added."""
        places = tuple(dict.fromkeys((*self.places, *other.places)))
        return replace(self, places=places, place_grams=self.place_grams | other.place_grams)


def _places(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of place names in folded text: 2-4 name characters and a place suffix."""
    out: list[tuple[int, int, str]] = []
    last_end = 0
    for m in _SUFFIX_RE.finditer(text):
        i, end = m.start(), m.end()
        if i < last_end:
            continue
        suffix = m.group()
        nxt = text[end : end + 1]
        if len(suffix) == 1 and nxt and nxt in _SUFFIX_BLOCKED_NEXT.get(suffix, ""):
            continue
        start = i
        while (
            start > last_end
            and i - start < 4
            and text[start - 1] not in _NAME_STOP
            and _is_cjk(text[start - 1])
        ):
            start -= 1
        if i - start >= 2 and text[i - 1 : end] not in _NOT_PLACES and text[i - 2 : end] not in _NOT_PLACES:
            out.append((start, end, text[start:end]))
            last_end = end
    return out


def _grams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def _weight(gram: str) -> float:
    return LIGHT_WEIGHT if any(c in _LIGHT for c in gram) else 1.0


def matter(text: str) -> Matter:
    """The fingerprint of a demand: of its first ``TEXT_CHARS`` characters, where the matter is stated."""
    return _matter((text or "")[:TEXT_CHARS])


@lru_cache(maxsize=16384)
def _matter(text: str) -> Matter:  # cached: stored demands never change
    cleaned = _NOT_TEXT.sub(" ", _fold(text))
    spans = _places(cleaned)
    places = tuple(dict.fromkeys(name for _, _, name in spans))
    parts: list[str] = []
    pos = 0
    for start, end, _ in spans:
        parts.append(cleaned[pos:start])
        parts.append(" ")
        tail = _PLACE_TAIL.match(cleaned, end)
        pos = tail.end() if tail else end
    parts.append(cleaned[pos:])
    rest = "".join(parts)
    topic: dict[str, float] = {}
    surface: list[str] = list(places)

    def plain(segment: str) -> None:
        for piece in _FILLER_RE.sub(" ", segment).split():
            for g in _grams(piece):
                w = _weight(g)
                topic[g] = max(topic.get(g, 0.0), w)
                if w == 1.0 and len(g) == 2:
                    surface.append(g)

    pattern, table = _synonyms()
    pos = 0
    for m in pattern.finditer(rest):
        plain(rest[pos : m.start()])
        surface.append(m.group())
        for g in _grams(table[m.group()]):
            topic[g] = max(topic.get(g, 0.0), KNOWN_WEIGHT)
        pos = m.end()
    plain(rest[pos:])
    return Matter(
        places,
        frozenset(g for p in places for g in _grams(p)),
        tuple(topic.items()),
        tuple(dict.fromkeys(surface)),
    )


def topic_overlap(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    inter = sum(min(w, b[g]) for g, w in a.items() if g in b)
    wa, wb = sum(a.values()), sum(b.values())
    small = min(wa, wb)
    score = 0.7 * inter / small + 0.3 * 2 * inter / (wa + wb)  # containment first: callers add detail
    return score * min(1.0, small / KNOWN_WEIGHT)  # one weak word alone is not a matter


def _place_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    inter = len(a & b)
    return 0.7 * inter / min(len(a), len(b)) + 0.3 * 2 * inter / (len(a) + len(b))


def matter_similarity(a: Matter, b: Matter) -> float:
    """0..1: the same problem, at the same place when both name one (another place halves the score)."""
    topic = topic_overlap(dict(a.topic), dict(b.topic))
    if a.place_grams and b.place_grams:
        return round(topic * (0.5 + 0.5 * _place_overlap(a.place_grams, b.place_grams)), 4)
    return round(topic, 4)


def similarity(a: str, b: str) -> float:
    """How surely two demand texts are about the same matter (0..1)."""
    return matter_similarity(matter(a), matter(b))


def same_place(a: Matter, b: Matter) -> bool:
    return bool(a.place_grams and b.place_grams and _place_overlap(a.place_grams, b.place_grams) >= 0.5)


def text_prefilter(m: Matter, *, places: bool = True, most: int = MAX_PATTERNS) -> list[str]:
    """Substrings a stored demand about the same matter very likely contains (OR-ed in SQL)."""
    words = m.surface if places else tuple(w for w in m.surface if w not in m.places)
    return [p for p in words if storable(p)][:most]


def like_any(patterns: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(col(Ticket.text).contains(p, autoescape=True) for p in patterns))


def scan_since(
    s: Session, since: datetime, *, statuses: Sequence[str] = (), rows: int | None = None
) -> datetime:
    """``since``, or later: the receipt time of the ``rows``-th newest ticket since then (one index-only
    query). A text search from there reads at most ``rows`` tickets however large the store, and still
    stops at its LIMIT as soon as enough match."""
    rows = rows or SCAN_ROWS
    stmt = select(Ticket.created_at).where(col(Ticket.created_at) >= since)
    if statuses:
        stmt = stmt.where(col(Ticket.status).in_(statuses))
    edge = s.exec(stmt.order_by(col(Ticket.created_at).desc()).offset(rows - 1).limit(1)).first()
    return max(local(since), local(edge)) if edge is not None else since


# ================================================================ results


@dataclass(frozen=True)
class HistoryRow:
    no: str
    created_at: datetime  # aware, local
    status: str  # Ticket.status code
    status_label: str
    type_label: str
    text: str  # the demand, shortened
    units: tuple[str, ...]  # unit names of assignments not cancelled
    result: str  # what to tell the caller: reply excerpt, KB title, referral route or current progress
    open: bool  # still in progress (new / dispatched / callback / rehandling)


@dataclass(frozen=True)
class RepeatFinding:
    no: str  # the earlier ticket this call repeats
    open: bool
    similarity: float  # 0..1
    message: str  # for the agent, with the article
    tell: str  # the progress or result sentence the agent reads to the caller
    cite: str


@dataclass(frozen=True)
class AbuseFinding:
    calls: int  # tickets and recorded repeat calls from this number in the window
    days: int
    flagged: int  # of those tickets: referred as unlawful, or labelled as harassment (profile labels)
    message: str
    cite: str


@dataclass(frozen=True)
class CallerHistory:
    phone: str  # normalised
    rows: list[HistoryRow]  # newest first, at most HISTORY_ROWS
    total: int  # all tickets with this number
    repeat: RepeatFinding | None
    abuse: AbuseFinding | None


@dataclass(frozen=True)
class SimilarRow:
    no: str
    created_at: datetime
    status_label: str
    district: str
    text: str  # masked (mask_text), shortened
    similarity: float
    units: tuple[str, ...]


def short(text: str, width: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def normalized_phone(raw: str) -> str:
    """The number as intake stores it (full-width digits, spaces, +86 removed)."""
    return normalize_phone(ascii_digits(raw or "")).strip()


# ---------------------------------------------------------------- what to tell the caller


@dataclass(frozen=True)
class _Context:
    policy: Policy
    units: dict[int, str]
    assignments: dict[int, list[Assignment]]
    kb_titles: dict[str, str]
    now: datetime


def _load_context(ctx: Ctx, s: Session, tickets: Sequence[Ticket], now: datetime) -> _Context:
    ids = [t.id for t in tickets if t.id is not None]
    by_ticket: dict[int, list[Assignment]] = {}
    if ids:
        rows = s.exec(
            select(Assignment).where(col(Assignment.ticket_id).in_(ids)).order_by(col(Assignment.id))
        )
        for a in rows:
            by_ticket.setdefault(a.ticket_id, []).append(a)
    unit_ids = {a.unit_id for rows in by_ticket.values() for a in rows}
    units = (
        {uid: name for uid, name in s.exec(select(Unit.id, Unit.name).where(col(Unit.id).in_(unit_ids)))}
        if unit_ids
        else {}
    )
    kb_ids = {t.kb_entry_id for t in tickets if t.kb_entry_id}
    titles = (
        {
            eid: title
            for eid, title in s.exec(select(KBEntry.id, KBEntry.title).where(col(KBEntry.id).in_(kb_ids)))
        }
        if kb_ids
        else {}
    )
    return _Context(ctx.policy, {k: v for k, v in units.items() if k is not None}, by_ticket, titles, now)


_CLAUSE_END = re.compile(r"[，,。；;！!？?\n]+")
_SENTENCE_END = re.compile(r"[。；;！!？?\n]")


def result_excerpt(reply: str, policy: Policy, width: int = 60) -> str:
    """What a unit's reply says was done: from the first clause matching the profile's "result" reply
    element (已于1月27日更换线路并恢复照明) to the end of its sentence, without the caller's reaction (the
    "feedback" element), masked of phone and ID numbers. The reply's opening when no clause matches."""
    text = " ".join((reply or "").split())
    clauses: list[tuple[int, int, int]] = []  # (start, end, sentence number)
    pos = sentence = 0
    for m in _CLAUSE_END.finditer(text):
        clauses.append((pos, m.start(), sentence))
        sentence += bool(_SENTENCE_END.search(m.group()))
        pos = m.end()
    clauses.append((pos, len(text), sentence))

    def matching(code: str) -> set[int]:
        hits: set[int] = set()
        for el in policy.reply.elements:
            if el.code != code:
                continue
            for pattern in el.patterns:
                for m in pattern.finditer(text):
                    hits.update(i for i, (a, b, _) in enumerate(clauses) if a < m.end() and m.start() < b)
        return hits

    result, feedback = matching("result"), matching("feedback")
    keep: set[int] = set()
    for first in sorted(result):
        same = clauses[first][2]
        keep.update(i for i in range(first, len(clauses)) if clauses[i][2] == same and i not in feedback)
    picked = "，".join(text[a:b] for i, (a, b, _) in enumerate(clauses) if i in keep and b > a)
    return short(mask_text(picked or text), width)


def _progress(t: Ticket, c: _Context) -> str:
    """Where the matter stands, in words the agent can read to the caller."""
    rows = c.assignments.get(t.id or 0, [])

    def name(a: Assignment) -> str:
        return c.units.get(a.unit_id, "承办单位")

    if t.status == "new":
        return "已受理，待派单"
    if t.status == "answered":
        title = c.kb_titles.get(t.kb_entry_id or "", "")
        return f"已当场答复：{title}" if title else "已当场答复"
    if t.status == "referred":
        if t.route in EMERGENCY_NUMBERS:
            return f"已即时转接 {t.route}"
        return f"已告知：{short(t.route, 40)}" if t.route else "已分类处理并告知诉求人"
    if t.status == "stopped":
        return "已终止办理"
    replies = sorted(
        (a for a in rows if a.status == "approved" and a.reply_text),
        key=lambda a: local(a.replied_at or a.dispatched_at),
    )
    if t.status in ("callback", "closed") and replies:
        a = replies[-1]
        excerpt = result_excerpt(a.reply_text or "", c.policy)
        return f"{name(a)}已答复：{excerpt}" + ("（待回访）" if t.status == "callback" else "")
    if t.status == "closed":
        return "已办结"
    live = [a for a in rows if a.status in ACTIVE_ASSIGNMENT]
    parts = []
    for a in live:
        due = describe_time(a.due_at, c.now)
        if a.status == "pending":
            parts.append(f"{name(a)}待接单，办理期限 {due}")
        elif a.status == "handling":
            parts.append(f"{name(a)}{'重新办理中' if a.rehandling else '办理中'}，办理期限 {due}")
        else:
            parts.append(f"{name(a)}已答复，热线正在审核")
    return "；".join(parts) or TICKET_STATUSES.get(t.status, t.status)


def _units_of(t: Ticket, c: _Context) -> tuple[str, ...]:
    names = (c.units.get(a.unit_id, "") for a in c.assignments.get(t.id or 0, []) if a.status != "cancelled")
    return tuple(dict.fromkeys(n for n in names if n))


def _row(ctx: Ctx, t: Ticket, c: _Context) -> HistoryRow:
    return HistoryRow(
        no=t.no,
        created_at=local(t.created_at),
        status=t.status,
        status_label=TICKET_STATUSES.get(t.status, t.status),
        type_label=ctx.policy.type_label(t.type),
        text=short(mask_text(t.text)),
        units=_units_of(t, c),
        result=_progress(t, c),
        open=t.status in OPEN_STATUSES,
    )


def _day(at: datetime) -> str:
    at = local(at)
    return f"{at.month}月{at.day}日"


def _repeat(ctx: Ctx, text: str, tickets: Iterable[Ticket], c: _Context) -> RepeatFinding | None:
    q = matter(text)
    if q.empty:
        return None
    rules = ctx.policy.repeat
    since = c.now - timedelta(days=rules.window_days)
    best: tuple[float, datetime, Ticket] | None = None
    for t in tickets:
        is_open = t.status in OPEN_STATUSES
        if not is_open and local(t.created_at) < since:
            continue  # a finished matter older than the window is a new call
        score = matter_similarity(q, matter(t.text))
        if score < rules.min_similarity:
            continue
        key = (score, local(t.created_at), t)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None
    score, _, t = best
    is_open = t.status in OPEN_STATUSES
    label = TICKET_STATUSES.get(t.status, t.status)
    progress = _progress(t, c)
    if is_open:
        cite = rules.cite
        message = f"与 {t.no}（{label}）诉求相同，如无新情况、新理由，应告知办理进度，不重复立单（{cite}）"
        tell = f"您{_day(t.created_at)}反映的问题（工单号 {t.no}）目前{progress}。"
    else:
        cite = rules.cite_done
        message = f"与 {t.no}（{label}）诉求相同，如无新情况、新理由，应告知办理结果，不重复立单（{cite}）"
        tell = f"您{_day(t.created_at)}反映的问题（工单号 {t.no}）{progress}。"
    return RepeatFinding(t.no, is_open, score, message, tell, cite)


def _abuse(ctx: Ctx, s: Session, phone: str) -> AbuseFinding | None:
    rules = ctx.policy.repeat
    since = ctx.now() - timedelta(days=rules.abuse_days)
    tickets = list(
        s.exec(
            select(Ticket.status, Ticket.triage_class, Ticket.labels)
            .where(Ticket.caller_phone == phone, col(Ticket.created_at) >= since)
            .limit(ABUSE_SCAN)
        )
    )
    repeats = int(
        s.exec(
            select(func.count())
            .select_from(Event)
            .join(Ticket, col(Ticket.id) == col(Event.ticket_id))
            .where(Ticket.caller_phone == phone, Event.kind == "repeat_call", col(Event.at) >= since)
        ).one()
    )
    calls = len(tickets) + repeats
    if calls < rules.abuse_calls:
        return None
    marks = set(rules.abuse_labels)
    flagged = sum(
        1
        for status, cls, labels in tickets
        if (status == "referred" and cls == "unlawful") or marks.intersection(labels or [])
    )
    message = f"该号码近{rules.abuse_days}天来电{calls}次"
    if flagged:
        message += f"，其中{flagged}次属违法或骚扰类"
    message += (
        "。诉求人不得无正当理由反复或者长时间占用热线资源，请耐心劝导，告知相关规定和法律后果，"
        f"并如实记录（{rules.abuse_cite}）"
    )
    return AbuseFinding(calls, rules.abuse_days, flagged, message, rules.abuse_cite)


# ================================================================ services


def caller_history(ctx: Ctx, phone: str, text: str = "", *, exclude_no: str | None = None) -> CallerHistory:
    """The caller's earlier tickets (newest first) with what to tell them, a repeat of the matter in
    ``text``, and the abuse warning. A number still being typed gives an empty history, never an error."""
    require_role(ctx, *INTAKE_ROLES, what="查看来电历史")
    number = normalized_phone(phone)
    empty = CallerHistory(number, [], 0, None, None)
    if not number or not storable(number) or not valid_phone(number):
        return empty
    exclude = (exclude_no or "").strip().upper()
    now = ctx.now()
    with ctx.read() as s:
        total = int(
            s.exec(select(func.count()).select_from(Ticket).where(Ticket.caller_phone == number)).one()
        )
        if total == 0:
            return replace(empty, abuse=_abuse(ctx, s, number))
        tickets = [
            t
            for t in s.exec(
                select(Ticket)
                .where(Ticket.caller_phone == number)
                .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
                .limit(HISTORY_SCAN)
            )
            if t.no != exclude
        ]
        c = _load_context(ctx, s, tickets, now)
        rows = [_row(ctx, t, c) for t in tickets[:HISTORY_ROWS]]
        repeat = _repeat(ctx, text, tickets, c) if text.strip() else None
        abuse = _abuse(ctx, s, number)
    return CallerHistory(number, rows, total, repeat, abuse)


def _district_key(value: str) -> str:
    return re.sub(r"(新区|区|县|市)$", "", (value or "").strip())


def similar_open(
    ctx: Ctx,
    text: str,
    *,
    district: str = "",
    address: str = "",
    exclude_phone: str = "",
    limit: int = 5,
) -> list[SimilarRow]:
    """Other callers' open tickets about the same matter in the same area, in the profile's recent days
    (T24 22(3): many callers on one problem). Same area: the same district when both are known, else a
    place name shared by the demands or addresses. Demands masked; no names or numbers."""
    require_role(ctx, *INTAKE_ROLES, what="查看相似工单")
    rules = ctx.policy.repeat
    q = matter(text or "").with_places(matter(address or ""))
    patterns = text_prefilter(q)
    if q.empty or not patterns or limit <= 0:
        return []
    own = normalized_phone(exclude_phone)
    where_district = _district_key(district)
    now = ctx.now()
    with ctx.read() as s:
        since = scan_since(s, now - timedelta(days=rules.similar_days), statuses=OPEN_STATUSES)
        stmt = (
            select(Ticket)
            .where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.created_at) >= since, like_any(patterns))
            .order_by(col(Ticket.created_at).desc())
            .limit(CANDIDATES)
        )
        if own and storable(own):
            stmt = stmt.where(Ticket.caller_phone != own)
        found: list[tuple[float, Ticket]] = []
        for t in s.exec(stmt):
            mt = matter(t.text).with_places(matter(t.caller_address))
            if where_district and t.district:
                if _district_key(t.district) != where_district:
                    continue
            elif not same_place(q, mt):
                continue
            score = matter_similarity(q, mt)
            if score >= rules.min_similarity:
                found.append((score, t))
        found.sort(key=lambda x: (-x[0], -local(x[1].created_at).timestamp()))
        picked = [t for _, t in found[:limit]]
        c = _load_context(ctx, s, picked, now)
        return [
            SimilarRow(
                no=t.no,
                created_at=local(t.created_at),
                status_label=TICKET_STATUSES.get(t.status, t.status),
                district=t.district,
                text=short(mask_text(t.text)),
                similarity=score,
                units=tuple(
                    dict.fromkeys(
                        c.units.get(a.unit_id, "")
                        for a in c.assignments.get(t.id or 0, [])
                        if a.status not in ("cancelled", "returned") and a.unit_id in c.units
                    )
                ),
            )
            for score, t in found[:limit]
        ]


def record_repeat_call(ctx: Ctx, no: str, *, channel: str, note: str = "") -> None:
    """The agent told the caller the progress or result of ticket ``no`` instead of recording the same
    matter again (T24 13(5)): one ``repeat_call`` event on that ticket, no new ticket. The note is kept
    without phone or ID numbers; the caller's data is never copied into the event."""
    require_role(ctx, *INTAKE_ROLES, what="记录重复来电")
    code = resolve_code(channel, ctx.policy.channels, "渠道")
    body = mask_text(clean_text(note, field="说明", max_len=500))
    if not (no or "").strip():
        raise InvalidInput("请填写被重复反映的工单编号")
    with ctx.write() as s:
        t = get_ticket(s, no)
        record_event(
            ctx,
            s,
            "repeat_call",
            ticket=t,
            payload={
                "channel": code,
                "note": body,
                "status": t.status,
                "rule": ctx.policy.repeat.cite if t.status in OPEN_STATUSES else ctx.policy.repeat.cite_done,
            },
        )
