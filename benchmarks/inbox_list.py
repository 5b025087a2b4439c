"""Unit inbox and its pulse at scale: load_inbox and inbox_pulse over a store of a million tickets.

DESIGN target: "unit inbox / overdue list, 1M tickets, p95 ≤ 50 ms". What one size does:

1. **Store** (cached under ``--cache-dir``, keyed by size, seed and schema head, so reruns skip it): the
   schema through ``store.upgrade``, a Tianjin-like unit tree through ``admin.import_units`` (16 districts ×
   10 departments × 3 sub-units, 12 city departments × 4 sub-units, 4 utilities), then N tickets over the
   365 days before a fixed "now" and their assignments (1–3 per ticket, Zipf-skewed over the units, so a
   few units hold tens of thousands of orders) and some unit requests, bulk-inserted with SQLAlchemy Core
   ``insert()`` executemany in batches of ``--batch``. The services are bypassed: **no events** are written
   (the inbox does not read them), deadlines are calendar approximations of working days, and statuses
   follow each order's age (recent ones pending / handling, older ones mostly approved, a few stuck
   overdue). Liaison officers are then added for three scopes: the department with the most orders in its
   subtree, a small sub-unit, and the district government with the most orders in its subtree.
2. **Timing**, per scope and with a fresh engine: ``load_inbox(ctx, limit=300)`` and a steady
   ``inbox_pulse(ctx, last, warned)`` (the poll after a first one: nothing new), ``--warmup`` discarded
   calls then ``--runs`` timed ones, warm OS page cache. Each call's SQL is recorded through the engine's
   cursor events: the "SQL ms" column is the time in ``cursor.execute`` (SQLite runs a sort before the
   first row comes back; a plan without a sort scans during the fetch instead, which is not counted
   there), the rest is fetching, ORM rows and the service's own Python.
3. **Diagnosis** (``--explain``): each statement's median time and EXPLAIN QUERY PLAN for the big
   department; ``--what-if`` repeats the timing on a scratch copy of the store with candidate indexes.

Output is Markdown. Example::

    .venv/bin/python benchmarks/inbox_list.py                       # 1M tickets (first run builds ~5 min)
    .venv/bin/python benchmarks/inbox_list.py --sizes 100000 --runs 50
    .venv/bin/python benchmarks/inbox_list.py --explain --what-if
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event, func, insert  # noqa: E402
from sqlmodel import select  # noqa: E402

from hotline_tui.clock import TZ, FixedClock  # noqa: E402
from hotline_tui.db import make_engine, read_session  # noqa: E402
from hotline_tui.models import Assignment, Ticket, TicketCounter, Unit, UnitRequest  # noqa: E402
from hotline_tui.policy import load_policy  # noqa: E402
from hotline_tui.services import inbox  # noqa: E402
from hotline_tui.services.admin import add_user, import_units, parse_units  # noqa: E402
from hotline_tui.services.core import SYSTEM, Ctx, actor_for  # noqa: E402
from hotline_tui.store import head_revision, upgrade  # noqa: E402

BUILD_VERSION = 1  # bump when the generated data changes
POLICY = "tianjin"
NOW = datetime(2025, 6, 18, 10, 0, tzinfo=TZ)  # a Wednesday morning
SPAN = timedelta(days=365)
ZIPF_S = 0.8
TARGET_MS = 50.0
SCOPES = (("big", "bench_big", "big department (subtree)"), ("small", "bench_small", "small sub-unit"))
SCOPES += (("district", "bench_district", "district government (subtree)"),)

DISTRICTS = [
    ("HP", "和平区"),
    ("HD", "河东区"),
    ("HX", "河西区"),
    ("NK", "南开区"),
    ("HB", "河北区"),
    ("HQ", "红桥区"),
    ("DL", "东丽区"),
    ("XQ", "西青区"),
    ("JN", "津南区"),
    ("BC", "北辰区"),
    ("WQ", "武清区"),
    ("BD", "宝坻区"),
    ("NH", "宁河区"),
    ("JH", "静海区"),
    ("JZ", "蓟州区"),
    ("BH", "滨海新区"),
]
DEPTS = [
    ("CG", "城市管理委员会", ("市容环卫所", "照明所", "综合执法大队")),
    ("ZJ", "住房和建设委员会", ("物业管理科", "房屋安全所", "建设工程质量站")),
    ("SJ", "市场监督管理局", ("第一市场监管所", "第二市场监管所", "消费者权益保护科")),
    ("HJ", "生态环境局", ("大气环境科", "噪声管理科", "环境执法支队")),
    ("JT", "交通运输局", ("公交管理科", "道路养护所", "出租车管理科")),
    ("GA", "公安分局", ("交警支队", "治安科", "户政科")),
    ("JY", "教育局", ("基础教育科", "学前教育科", "校外培训科")),
    ("WJ", "卫生健康委员会", ("医政科", "疾控中心", "卫生监督所")),
    ("RS", "人力资源和社会保障局", ("劳动监察大队", "社保中心", "就业服务中心")),
    ("MZ", "民政局", ("社会救助科", "养老服务科", "婚姻登记处")),
]
CITY_DEPTS = [
    ("SZJ", "市住房和城乡建设委员会"),
    ("SJW", "市交通运输委员会"),
    ("SSC", "市市场监督管理委员会"),
    ("SRS", "市人力资源和社会保障局"),
    ("SGA", "市公安局"),
    ("SJY", "市教育委员会"),
    ("SWJ", "市卫生健康委员会"),
    ("SHJ", "市生态环境局"),
    ("SGT", "市规划和自然资源局"),
    ("SYB", "市医疗保障局"),
    ("SSW", "市商务局"),
    ("SNY", "市农业农村委员会"),
]
UTILITIES = [
    ("GY-SW", "市水务集团"),
    ("GY-DL", "国网天津市电力公司"),
    ("GY-RQ", "天津能源集团燃气公司"),
    ("GY-RL", "市供热办"),
]

PLACES = [
    "友谊路",
    "卫津路",
    "南京路",
    "黄河道",
    "中山路",
    "津塘路",
    "红旗路",
    "复康路",
    "解放南路",
    "胜利路",
]
ISSUES = [
    "路灯成片不亮，夜间出行不便",
    "小区楼道漏水，物业长期不予维修",
    "早市占道经营，垃圾无人清理",
    "施工工地夜间噪声扰民",
    "饭店油烟直排，影响居民生活",
    "公交车到站不停，班次间隔过长",
    "用人单位拖欠工资三个月",
    "商家拒不退还预付卡余额",
    "供暖温度不达标，室温不足十六度",
    "自来水水质浑浊，有异味",
    "小区电梯频繁故障，存在安全隐患",
    "校外培训机构停业后拒不退费",
]
DETAILS = [
    "已多次向社区反映未果",
    "请尽快派人核实处理",
    "希望相关部门加强监管",
    "来电人情绪激动",
    "要求书面答复",
    "该问题已持续一周以上",
]
TYPES = (("complaint", 45), ("help", 25), ("consult", 15), ("report", 8), ("suggestion", 5), ("feedback", 2))
CHANNELS = (("phone", 80), ("web", 8), ("wechat", 7), ("miniprogram", 4), ("email", 1))
URGENCY = (("normal", 950), ("urgent", 40), ("very_urgent", 9), ("critical", 1))
PERIODS_WD = (1, 2, 3, 5, 5, 5, 5, 5, 10, 15)


# ---------------------------------------------------------------- the unit tree


@dataclass(frozen=True)
class UnitDef:
    code: str
    name: str
    kind: str
    parent: str | None


def unit_defs() -> list[UnitDef]:
    out = [UnitDef("CENTRE", "天津市12345政务服务便民热线中心", "centre", None)]
    for dcode, dname in DISTRICTS:
        out.append(UnitDef(dcode, f"{dname}人民政府", "district", None))
        for code, name, subs in DEPTS:
            out.append(UnitDef(f"{dcode}-{code}", f"{dname}{name}", "department", dcode))
            for k, sub in enumerate(subs, 1):
                out.append(
                    UnitDef(f"{dcode}-{code}-{k}", f"{dname}{name}{sub}", "sub_unit", f"{dcode}-{code}")
                )
    for code, name in CITY_DEPTS:
        out.append(UnitDef(code, name, "department", None))
        for k in range(1, 5):
            out.append(UnitDef(f"{code}-{k}", f"{name}第{k}业务处", "sub_unit", code))
    out.extend(UnitDef(code, name, "utility", None) for code, name in UTILITIES)
    return out


def units_toml(defs: list[UnitDef]) -> str:
    parts = []
    for u in defs:
        parent = f'parent = "{u.parent}"\n' if u.parent else ""
        parts.append(f'[[unit]]\ncode = "{u.code}"\nname = "{u.name}"\nkind = "{u.kind}"\n{parent}')
    return "\n".join(parts)


# ---------------------------------------------------------------- generated rows


def pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    keys, cum = _PICK.get(id(table)) or _PICK.setdefault(id(table), _cumulative(table))
    return rng.choices(keys, cum_weights=cum)[0]


def _cumulative(table: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    keys, cum, acc = [], [], 0
    for k, w in table:
        acc += w
        keys.append(k)
        cum.append(acc)
    return keys, cum


_PICK: dict[int, tuple[list[str], list[int]]] = {}


def ticket_text(rng: random.Random, district: str) -> str:
    parts = [f"来电人反映{district}{rng.choice(PLACES)}{rng.randint(1, 300)}号附近{rng.choice(ISSUES)}"]
    parts.append(rng.choice(DETAILS))
    if rng.random() < 0.3:
        parts.append(f"联系电话13{rng.randint(100000000, 999999999)}")
    if rng.random() < 0.5:
        parts.append(rng.choice(DETAILS))
    return "，".join(parts) + "。"


def assignment_state(rng: random.Random, d: datetime, period_wd: int) -> dict[str, Any]:
    """Status and times of one assignment dispatched at ``d``, by its age at NOW."""
    due = d + timedelta(days=period_wd * 1.4)
    age = NOW - d
    r = rng.random()
    if age < timedelta(hours=3):
        status = "pending" if r < 0.6 else "handling"
    elif NOW < due:
        status = _cut(r, (("pending", 0.02), ("handling", 0.80), ("replied", 0.08), ("approved", 0.08)))
        status = status or ("returned" if r < 0.995 else "cancelled")
    elif age < (due - d) + timedelta(days=10):
        status = _cut(r, (("handling", 0.06), ("replied", 0.04), ("approved", 0.85), ("returned", 0.03)))
        status = status or ("cancelled" if r < 0.99 else "stopped")
    else:
        status = _cut(r, (("approved", 0.958), ("stopped", 0.02), ("returned", 0.012), ("handling", 0.002)))
        status = status or "cancelled"
    extensions = 1 if status in ("handling", "approved") and rng.random() < 0.03 else 0
    if extensions:
        due += timedelta(days=7)
    accepted = accepted_late = None
    if status != "pending":
        late = rng.random() < 0.05
        accepted = d + timedelta(minutes=rng.uniform(180, 480) if late else rng.uniform(5, 170))
        if accepted > NOW - timedelta(minutes=1):
            accepted = d + (NOW - d) * rng.uniform(0.1, 0.9)
        accepted_late = accepted > d + timedelta(hours=3)
    replied = closed = None
    if status in ("replied", "approved"):
        assert accepted is not None
        replied = min(accepted + (due - d) * rng.uniform(0.2, 1.1), NOW - timedelta(minutes=1))
    if status == "approved":
        assert replied is not None
        closed = min(replied + timedelta(hours=rng.uniform(1, 48)), NOW)
    elif status in ("stopped", "returned", "cancelled"):
        closed = min((accepted or d) + timedelta(hours=rng.uniform(1, 72)), NOW)
    return {
        "status": status,
        "accept_due_at": d + timedelta(hours=3),
        "accepted_at": accepted,
        "accepted_late": bool(accepted_late),
        "return_due_at": d + timedelta(days=1.4),
        "return_due_complex_at": d + timedelta(days=4.2),
        "due_at": due,
        "period_amount": period_wd,
        "extensions": extensions,
        "rehandling": status == "handling" and rng.random() < 0.01,
        "reply_text": "经核查，已安排人员处理完毕，并与来电人沟通。" if replied else None,
        "replied_at": replied,
        "closed_at": closed,
        "overdue_at_close": bool(replied and replied > due),
    }


def _cut(r: float, table: tuple[tuple[str, float], ...]) -> str | None:
    acc = 0.0
    for name, p in table:
        acc += p
        if r < acc:
            return name
    return None


@dataclass
class Generated:
    tickets: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


class Generator:
    """Deterministic rows for tickets ``[start, stop)`` (ids from 1, in time order)."""

    def __init__(self, n: int, seed: int, unit_ids: dict[str, int], defs: list[UnitDef]) -> None:
        self.n = n
        self.seed = seed
        targets = [u for u in defs if u.kind != "centre"]
        random.Random(seed).shuffle(targets)
        self.target_ids = [unit_ids[u.code] for u in targets]
        self.district_of = {unit_ids[u.code]: self._district(u, defs) for u in targets}
        weights = [1.0 / (k**ZIPF_S) for k in range(1, len(targets) + 1)]
        total = 0.0
        self.cum: list[float] = []
        for w in weights:
            total += w
            self.cum.append(total)
        self.next_assignment = 1
        self.next_request = 1
        self.day_seq: Counter[str] = Counter()
        self.days: dict[int, str] = {}

    @staticmethod
    def _district(u: UnitDef, defs: list[UnitDef]) -> str:
        names = dict(DISTRICTS)
        top = u.code.split("-")[0]
        return names.get(top, "")

    def batch(self, start: int, stop: int) -> Generated:
        rng = random.Random(self.seed * 1_000_003 + start)
        out = Generated()
        first = NOW - SPAN
        for i in range(start, stop):
            created = first + SPAN * ((i + rng.random()) / self.n)
            created = created.replace(microsecond=0)
            k = rng.random()
            count = 1 if k < 0.88 else 2 if k < 0.97 else 3
            units = rng.choices(self.target_ids, cum_weights=self.cum, k=count)
            district = self.district_of[units[0]] or rng.choice(DISTRICTS)[1]
            ordinal = created.toordinal()
            day = self.days.get(ordinal) or self.days.setdefault(ordinal, created.strftime("%Y%m%d"))
            self.day_seq[day] += 1
            tid = i + 1
            d = created + timedelta(minutes=rng.uniform(3, 90))
            d = min(d, NOW - timedelta(minutes=1)).replace(microsecond=0)
            period = rng.choice(PERIODS_WD)
            statuses, closed = [], []
            for j, unit_id in enumerate(units):
                role = "single" if count == 1 else "lead" if j == 0 else "co"
                state = assignment_state(rng, d, period)
                statuses.append(state["status"])
                closed.append(state["closed_at"] or d)
                aid = self.next_assignment
                self.next_assignment += 1
                out.assignments.append(
                    {
                        "id": aid,
                        "ticket_id": tid,
                        "unit_id": unit_id,
                        "role": role,
                        "designated": rng.random() < 0.02,
                        "dispatched_at": d,
                        "period_unit": "wd",
                        "period_start": "next_day",
                        "period_rule": "津热线〔2023〕办理时限",
                        "rehandles": 0,
                        "version": 1,
                        **state,
                    }
                )
                self._requests(rng, out, aid, tid, state)
            live = [s for s in statuses if s in ("pending", "handling", "replied")]
            if live:
                status = "dispatched"
            elif "approved" in statuses:
                status = "closed"
            elif "stopped" in statuses:
                status = "stopped"
            else:
                status = "new"
            out.tickets.append(
                {
                    "id": tid,
                    "no": f"TJ{day}-{self.day_seq[day]:06d}",
                    "type": pick(rng, TYPES),
                    "channel": pick(rng, CHANNELS),
                    "urgency": pick(rng, URGENCY),
                    "status": status,
                    "text": ticket_text(rng, district),
                    "caller_name": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("先生", "女士")),
                    "caller_phone": f"13{rng.randint(100000000, 999999999)}",
                    "caller_address": f"{district}{rng.choice(PLACES)}{rng.randint(1, 300)}号",
                    "district": district,
                    "labels": [],
                    "created_at": created,
                    "closed_at": max(closed) if status in ("closed", "stopped") else None,
                    "policy": POLICY,
                    "version": 1,
                }
            )
        return out

    def _requests(
        self, rng: random.Random, out: Generated, aid: int, tid: int, state: dict[str, Any]
    ) -> None:
        status = state["status"]
        if status == "handling" and rng.random() < 0.04:
            kind = _cut(rng.random(), (("extension", 0.5), ("return", 0.3))) or "stop"
            made, decided = state["accepted_at"] + timedelta(hours=1), None
            r_status = "pending"
        elif status in ("approved", "returned", "stopped") and rng.random() < 0.03:
            kind = {"returned": "return", "stopped": "stop"}.get(status, "extension")
            made = (state["accepted_at"] or NOW) + timedelta(hours=1)
            decided, r_status = made + timedelta(hours=4), "approved" if rng.random() < 0.7 else "rejected"
        else:
            return
        out.requests.append(
            {
                "id": self.next_request,
                "assignment_id": aid,
                "ticket_id": tid,
                "kind": kind,
                "status": r_status,
                "reason_code": "not_ours" if kind == "return" else "",
                "payload": {"reason": "经核实不属于本单位职责范围"} if kind == "return" else {},
                "created_at": min(made, NOW),
                "decided_at": decided and min(decided, NOW),
                "decision_note": "",
            }
        )
        self.next_request += 1


# ---------------------------------------------------------------- building the store (cached)


def store_path(cache_dir: Path, n: int, seed: int) -> Path:
    return cache_dir / f"hotline-bench-inbox-n{n}-s{seed}-v{BUILD_VERSION}-{head_revision()}.db"


def build_sqlite(path: Path, n: int, seed: int, batch: int) -> dict[str, Any]:
    """Build the store at ``path`` (via a temporary name, so an interrupted build is never reused)."""
    tmp = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm", "-writers"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    engine = make_engine(f"sqlite:///{tmp}")
    upgrade(engine)
    engine.dispose()
    # bulk load on a plain connection: no WAL, no fsync, a 2 GB page cache
    bulk = create_engine(f"sqlite:///{tmp}")

    @event.listens_for(bulk, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -2000000"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    meta = load_rows(bulk, n, seed, batch, lambda: None)
    bulk.dispose()
    engine = make_engine(f"sqlite:///{tmp}")  # back to WAL, as the application opens it
    meta.update(add_liaisons(engine))
    engine.dispose()
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    meta["build_s"] = round(time.perf_counter() - t0, 1)
    meta["built"] = datetime.now().isoformat(timespec="seconds")
    tmp.rename(path)
    for suffix in ("-wal", "-shm", "-writers"):  # -writers: the application's writer lock file
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return meta


def load_rows(engine: Engine, n: int, seed: int, batch: int, after: Callable[[], None]) -> dict[str, Any]:
    """Units through the admin service, then tickets, assignments and requests through Core inserts."""
    defs = unit_defs()
    admin = Ctx(make_engine_like(engine), load_policy(POLICY), SYSTEM, FixedClock(NOW))
    import_units(admin, parse_units(units_toml(defs), "benchmark"))
    admin.engine.dispose()
    with read_session(engine) as s:
        unit_ids = {code: uid for code, uid in s.exec(select(Unit.code, Unit.id)) if uid is not None}
    gen = Generator(n, seed, unit_ids, defs)
    counts: Counter[str] = Counter()
    t_tables = (Ticket.__table__, Assignment.__table__, UnitRequest.__table__)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        rows = gen.batch(start, min(n, start + batch))
        with engine.begin() as conn:
            for table, part in zip(t_tables, (rows.tickets, rows.assignments, rows.requests), strict=True):
                if part:
                    conn.execute(insert(table), part)
        counts.update(a["status"] for a in rows.assignments)
        counts["requests"] += len(rows.requests)
        done = min(n, start + batch)
        rate = done / (time.perf_counter() - t0)
        print(f"  {done:>9,} tickets, {rate:,.0f}/s", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    with engine.begin() as conn:
        conn.execute(
            insert(TicketCounter.__table__),  # type: ignore[attr-defined]
            [{"prefix": "TJ", "day": day, "last": last} for day, last in sorted(gen.day_seq.items())],
        )
    after()
    return {
        "tickets": n,
        "assignments": gen.next_assignment - 1,
        "requests": counts.pop("requests", 0),
        "units": len(defs),
        "assignment_statuses": dict(counts.most_common()),
        "insert_s": round(time.perf_counter() - t0, 1),
    }


def make_engine_like(engine: Engine) -> Engine:
    """The application's engine for the same database (the services expect its session set-up)."""
    return make_engine(engine.url.render_as_string(hide_password=False))


def add_liaisons(engine: Engine) -> dict[str, Any]:
    """Liaison officers for the biggest department, a small sub-unit and the biggest district subtree."""
    admin = Ctx(engine, load_policy(POLICY), SYSTEM, FixedClock(NOW))
    with read_session(engine) as s:
        units = {u.id: u for u in s.exec(select(Unit))}
        direct = dict(s.exec(select(Assignment.unit_id, func.count()).group_by(Assignment.unit_id)).all())
    children: dict[int | None, list[int]] = defaultdict(list)
    for u in units.values():
        assert u.id is not None
        children[u.parent_id].append(u.id)

    def subtree(uid: int) -> int:
        return direct.get(uid, 0) + sum(subtree(c) for c in children.get(uid, []))

    def best(kind: str) -> Unit:
        return max((u for u in units.values() if u.kind == kind), key=lambda u: subtree(u.id or 0))

    subs = sorted((u for u in units.values() if u.kind == "sub_unit"), key=lambda u: direct.get(u.id or 0, 0))
    small = subs[len(subs) // 4]  # the lower quartile of sub-units by orders
    chosen = {"big": best("department"), "small": small, "district": best("district")}
    out: dict[str, Any] = {"scopes": {}}
    for key, user, _ in SCOPES:
        u = chosen[key]
        add_user(admin, user, "liaison", u.code, display_name=f"{u.name}联络员")
        out["scopes"][key] = {"unit": u.code, "name": u.name, "orders": subtree(u.id or 0)}
    return out


# ---------------------------------------------------------------- timing


@dataclass
class SqlLog:
    """Statements run through the engine, with the time spent in cursor.execute."""

    on: bool = False
    items: list[tuple[str, Any, float]] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if self.on:
                self.items.append((statement, params, time.perf_counter() - conn.info.pop("bench_t0")))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any, float]]]:
        self.items = []
        self.on = True
        try:
            yield self.items
        finally:
            self.on = False


@dataclass
class Series:
    total: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    first: float = math.nan
    statements: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    params: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def time_calls(call: Callable[[], Any], log: SqlLog, warmup: int, runs: int) -> Series:
    out = Series()
    t0 = time.perf_counter()
    call()
    out.first = (time.perf_counter() - t0) * 1000
    for _ in range(max(0, warmup - 1)):
        call()
    for _ in range(runs):
        with log.capture() as items:
            t0 = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - t0) * 1000
        out.total.append(elapsed)
        out.sql.append(sum(t for _, _, t in items) * 1000)
        for statement, params, t in items:
            out.statements[statement].append(t * 1000)
            out.params[statement] = params
    return out


@dataclass
class Result:
    scope: str
    label: str
    unit: str
    orders: int
    unit_ids: int
    live: int
    inbox: Series
    pulse: Series


def measure(
    url: str, meta: dict[str, Any], warmup: int, runs: int, limit: int, service: Any = None
) -> list[Result]:
    service = service or inbox
    engine = make_engine(url)
    log = SqlLog()
    log.attach(engine)
    policy = load_policy(POLICY)
    results = []
    try:
        for key, user, label in SCOPES:
            with read_session(engine) as s:
                actor = actor_for(s, user)
            ctx = Ctx(engine, policy, actor, FixedClock(NOW))
            first = service.inbox_pulse(ctx, None)
            loads = time_calls(lambda ctx=ctx: service.load_inbox(ctx, limit=limit), log, warmup, runs)
            pulse = time_calls(
                lambda ctx=ctx, first=first: service.inbox_pulse(ctx, first.last_assignment_id, first.warned),
                log,
                warmup,
                runs,
            )
            data = service.load_inbox(ctx, limit=limit)
            scope = meta["scopes"][key]
            live = data.counts["pending"] + data.counts["handling"] + data.counts["review"]
            results.append(
                Result(key, label, scope["unit"], scope["orders"], len(actor.unit_ids), live, loads, pulse)
            )
    finally:
        engine.dispose()
    return results


# ---------------------------------------------------------------- diagnosis


def short_sql(statement: str) -> str:
    flat = " ".join(statement.split())
    if flat.startswith("SELECT assignment.id, assignment.ticket_id"):
        flat = "SELECT assignment.*, ticket.*" + flat[flat.index(" FROM ") :]
    elif flat.startswith("SELECT assignment.id"):
        flat = "SELECT assignment.*, …" + flat[flat.index(" FROM ") :]
    flat = flat.replace("assignment.", "a.").replace("unitrequest.", "r.").replace("ticket.", "t.")
    while "?, ?" in flat:
        flat = flat.replace("?, ?", "?")
    return flat if len(flat) < 200 else flat[:197] + "…"


def explain(path: Path, series: Series) -> list[tuple[str, float, list[str]]]:
    out = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for statement, times in series.statements.items():
            params = series.params[statement]
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
            out.append((statement, statistics.median(times), plan))
    finally:
        conn.close()
    return out


# The proposal: sort the finished tabs on an index alone (a covering (unit_id, status, closed_at) index
# and the ids picked in a subquery), then read the 300 rows; the fetch below replaces load_inbox's.
FETCH_NOW = """            stmt = (
                select(Assignment, Ticket)
                .join(Ticket, col(Ticket.id) == col(Assignment.ticket_id))
                .where(col(Assignment.unit_id).in_(scope), col(Assignment.status).in_(statuses))
                .order_by(order, col(Assignment.id))
                .limit(limit)
            )
"""
FETCH_DEFERRED = """            picked = (
                select(col(Assignment.id).label("aid"))
                .where(col(Assignment.unit_id).in_(scope), col(Assignment.status).in_(statuses))
                .order_by(order, col(Assignment.id))
                .limit(limit)
                .subquery()
            )
            stmt = (
                select(Assignment, Ticket)
                .join(picked, picked.c.aid == col(Assignment.id))
                .join(Ticket, col(Ticket.id) == col(Assignment.ticket_id))
                .order_by(order, col(Assignment.id))
            )
"""
# The pulse's newest id: the highest of the live rows it reads anyway (never below the last poll's),
# instead of max(id) over every order the unit ever had.
PULSE_MAX_NOW = """        newest = s.exec(select(func.max(Assignment.id)).where(col(Assignment.unit_id).in_(scope))).one()
    last = int(newest or 0)
"""
PULSE_MAX_LIVE = """    last = max([after_assignment_id or 0] + [a.id or 0 for a, *_ in live])
"""
INDEX_CLOSED = "CREATE INDEX bench_assignment_unit_status_closed ON assignment (unit_id, status, closed_at)"


def variant(name: str, replacements: list[tuple[str, str]]) -> ModuleType | None:
    """A copy of hotline_tui.services.inbox with text replaced (None when the source no longer matches)."""
    source = Path(inbox.__file__).read_text()
    for old, new in replacements:
        if old not in source:
            return None
        source = source.replace(old, new)
    module = ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def what_if(path: Path, meta: dict[str, Any], warmup: int, runs: int, limit: int) -> None:
    scratch = path.with_name(path.name + ".scratch")
    deferred = variant("inbox_deferred", [(FETCH_NOW, FETCH_DEFERRED)])
    both = variant("inbox_deferred_pulse", [(FETCH_NOW, FETCH_DEFERRED), (PULSE_MAX_NOW, PULSE_MAX_LIVE)])
    steps: list[tuple[str, str | None, ModuleType | None, int]] = [
        ("+ index (unit_id, status, closed_at)", INDEX_CLOSED, inbox, limit),
        ("+ index, fetch through an id subquery", None, deferred, limit),
        ("+ index, id subquery, pulse's max(id) from its live rows", None, both, limit),
        ("… and limit 50 instead of 300", None, both, 50),
        ("… limit 300 again, after ANALYZE", "ANALYZE", both, limit),
    ]
    print("\n### What-if (a scratch copy of the store; code changes in a copy of the module)\n")
    if deferred is None or both is None:
        print("(inbox.py no longer has the code these proposals replace: their rows are skipped)\n")
    print("| change | scope | inbox p50 | inbox p95 | inbox SQL p50 | pulse p50 | pulse p95 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    try:
        shutil.copyfile(path, scratch)
        for name, sql, module, step_limit in steps:
            if sql:
                conn = sqlite3.connect(scratch)
                t0 = time.perf_counter()
                conn.execute(sql)
                conn.commit()
                conn.close()
                name += f" ({time.perf_counter() - t0:.0f} s)"
            if module is None:
                continue
            for r in measure(f"sqlite:///{scratch}", meta, warmup, runs, step_limit, module):
                i, p = r.inbox.total, r.pulse.total
                print(
                    f"| {name} | {r.label} | {percentile(i, 50):.1f} | {percentile(i, 95):.1f} | "
                    f"{statistics.median(r.inbox.sql):.1f} | {percentile(p, 50):.1f} | {percentile(p, 95):.1f} |"
                )
            sys.stdout.flush()
    finally:
        for suffix in ("", "-wal", "-shm", "-writers"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------- report


def report(n: int, path: Path, meta: dict[str, Any], results: list[Result], built_now: bool) -> None:
    size = path.stat().st_size / 2**20
    how = "built now" if built_now else f"cached, built {meta['built']}"
    print(f"\n## {n:,} tickets — SQLite\n")
    print(
        f"Store `{path}` ({how}): {meta['tickets']:,} tickets, {meta['assignments']:,} assignments, "
        f"{meta['requests']:,} unit requests, {meta['units']} units, no events; "
        f"{size:,.0f} MiB; build {meta['build_s']:.0f} s (inserts {meta['insert_s']:.0f} s)."
    )
    statuses = ", ".join(f"{k} {v:,}" for k, v in meta["assignment_statuses"].items())
    print(f"Assignments by status: {statuses}.\n")
    print(
        "| scope | unit | orders | units in scope | live orders | call | first ms | p50 ms | p95 ms | "
        "max ms | SQL p50 ms |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        for name, s in (("load_inbox", r.inbox), ("inbox_pulse", r.pulse)):
            p95 = percentile(s.total, 95)
            mark = " ✗" if p95 > TARGET_MS else ""
            print(
                f"| {r.label} | {r.unit} | {r.orders:,} | {r.unit_ids} | {r.live:,} | {name} | {s.first:.1f} | "
                f"{percentile(s.total, 50):.1f} | **{p95:.1f}**{mark} | {max(s.total):.1f} | "
                f"{statistics.median(s.sql):.1f} |"
            )


def print_explain(path: Path, results: list[Result]) -> None:
    for r in results:
        if r.scope == "small":
            continue
        for name, s in (("load_inbox", r.inbox), ("inbox_pulse", r.pulse)):
            print(f"\n### {name}, {r.label} ({r.unit}): statements, median ms, EXPLAIN QUERY PLAN\n")
            for statement, ms, plan in explain(path, s):
                print(f"- {ms:.1f} ms — `{short_sql(statement)}`")
                for line in plan:
                    print(f"  - {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000000", help="comma-separated ticket counts")
    parser.add_argument("--runs", type=int, default=100, help="timed calls per scope and call")
    parser.add_argument("--warmup", type=int, default=10, help="discarded calls first")
    parser.add_argument("--limit", type=int, default=300, help="load_inbox's limit per tab")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--batch", type=int, default=20000, help="tickets per insert batch")
    parser.add_argument("--cache-dir", type=Path, default=Path("/var/tmp"))
    parser.add_argument("--rebuild", action="store_true", help="build the store even if cached")
    parser.add_argument("--explain", action="store_true", help="per-statement times and query plans")
    parser.add_argument("--what-if", action="store_true", help="time candidate indexes on a scratch copy")
    args = parser.parse_args(argv)
    sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]

    print(f"# inbox_list benchmark — {datetime.now().isoformat(timespec='seconds')}")
    print(
        f"\n{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {args.runs} runs after {args.warmup} warm-up, limit {args.limit}, "
        f"now = {NOW.isoformat()}; target p95 ≤ {TARGET_MS:g} ms; load average {load_average()}",
        flush=True,
    )
    missed = False
    for n in sizes:
        path = store_path(args.cache_dir, n, args.seed)
        built_now = args.rebuild or not path.exists() or not path.with_suffix(".json").exists()
        if built_now:
            print(f"building {path} …", file=sys.stderr, flush=True)
            path.unlink(missing_ok=True)
            meta = build_sqlite(path, n, args.seed, args.batch)
        else:
            meta = json.loads(path.with_suffix(".json").read_text())
        gc.collect()
        results = measure(f"sqlite:///{path}", meta, args.warmup, args.runs, args.limit)
        report(n, path, meta, results, built_now)
        missed |= any(percentile(s.total, 95) > TARGET_MS for r in results for s in (r.inbox, r.pulse))
        if args.explain:
            print_explain(path, results)
        if args.what_if:
            what_if(path, meta, args.warmup, args.runs, args.limit)
    print(f"\nLoad average at the end: {load_average()}.")
    return 1 if missed else 0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
