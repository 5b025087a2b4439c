"""KB search latency on synthetic Chinese corpora, side by side with a plain ``LIKE '%q%'`` baseline.

    .venv/bin/python benchmarks/kb_search.py                          # 10k and 100k entries, SQLite
    .venv/bin/python benchmarks/kb_search.py --sizes 10000,100000,1000000
    .venv/bin/python benchmarks/kb_search.py --sizes 10000 --backends sqlite,pg

For each size: a fresh store (Alembic ``upgrade``), N deterministic entries (titles, keywords and bodies
built from 12345-style vocabulary lists, seeded), ``search.rebuild_index`` timed, index size on disk
(SQLite: database file growth after a checkpoint; PostgreSQL: ``pg_total_relation_size``), then
p50 / p95 / max latency of ``search.search`` (a read session per query, as the screens do) for 1-, 2-,
3-, 4+-character, two-term and pinyin-initial queries, and of a ranked ``LIKE`` scan over title and body
on the same store in the same run. "found" is the share of queries with at least one hit. Start-up:
importing ``hotline_tui.search`` in a fresh interpreter, and the first pypinyin use (index time only).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text  # noqa: E402

from hotline_tui import search  # noqa: E402
from hotline_tui.db import make_engine, read_session  # noqa: E402
from hotline_tui.store import upgrade  # noqa: E402

PLACES = [
    "河西区",
    "河东区",
    "南开区",
    "和平区",
    "红桥区",
    "滨海新区",
    "西青区",
    "北辰区",
    "东丽区",
    "津南区",
]
TOPICS: dict[str, list[str]] = {
    "住房/公积金": [
        "住房公积金",
        "公积金",
        "提取",
        "贷款",
        "缴存",
        "租房",
        "购房",
        "销户",
        "异地转移",
        "贷款额度",
    ],
    "社会保障/社会保险": [
        "社会保险",
        "社保",
        "参保登记",
        "养老保险",
        "失业保险",
        "工伤认定",
        "缴费基数",
        "退休",
    ],
    "社会保障/医疗保险": ["医保", "医疗保险", "异地就医", "门诊报销", "住院结算", "医保卡", "慢特病", "备案"],
    "户籍/户口": ["户口", "落户", "户籍迁移", "身份证", "居住证", "出生登记", "集体户", "人才引进"],
    "公用事业/供水": ["停水", "供水", "水费", "水压", "自来水", "水表", "管道漏水", "二次供水"],
    "公用事业/供电": ["停电", "电费", "电表", "供电抢修", "阶梯电价", "用电报装", "充电桩"],
    "公用事业/供热": ["暖气", "供热", "采暖费", "室温不达标", "供热报修", "停暖", "热计量"],
    "公用事业/燃气": ["燃气", "天然气", "燃气表", "燃气泄漏", "燃气开户", "安全检查"],
    "交通/出租车": ["出租车", "网约车", "拒载", "绕路", "乘客投诉", "失物", "计价器"],
    "交通/驾驶证": ["驾驶证", "驾照", "换证", "补证", "违章处理", "年审", "行驶证"],
    "交通/公交地铁": ["公交", "地铁", "线路调整", "公交卡", "老年卡", "首末班车", "站点"],
    "市场监管/消费维权": ["退款", "预付卡", "假冒商品", "价格欺诈", "食品安全", "七日无理由退货", "商家"],
    "市场监管/企业登记": ["营业执照", "个体工商户", "注销", "变更登记", "经营范围", "年报"],
    "劳动/劳动争议": ["欠薪", "拖欠工资", "劳动合同", "劳动仲裁", "加班费", "经济补偿", "试用期"],
    "教育/入学": ["入学", "学区", "幼儿园", "转学", "招生", "学籍", "课后服务"],
    "城市管理/市容": ["路灯", "占道经营", "违章建筑", "垃圾清运", "井盖", "噪音", "油烟", "绿化"],
    "生态环境/污染": ["噪声", "扬尘", "污水", "异味", "秸秆焚烧", "施工噪音", "排污"],
    "民政/救助": ["低保", "特困供养", "临时救助", "高龄津贴", "残疾人补贴", "婚姻登记", "养老服务"],
    "卫生健康/医疗": ["疫苗", "预防接种", "挂号", "医疗纠纷", "出生医学证明", "健康证"],
    "政务服务/办事": ["一网通办", "网上办理", "预约", "办事指南", "材料清单", "办理时限", "窗口"],
}
TITLE_FORMS = [
    "{p}{a}{b}办理指南",
    "{a}{b}的条件和流程",
    "{a}常见问题解答",
    "如何办理{a}{b}",
    "{p}{a}政策解读",
    "{a}与{b}的区别",
    "关于{a}{b}的通知",
    "{a}{b}需要哪些材料",
]
BODY_SENTENCES = [
    "市民咨询{a}相关问题的，坐席应先核实来电人身份和所在区域。",
    "{a}可通过{p}政务服务中心窗口或网上办事大厅办理，办理时限为{n}个工作日。",
    "申请{b}需提交身份证原件、申请表及相关证明材料。",
    "对{a}有异议的，可以在收到告知之日起{n}日内向主管部门申请复核。",
    "{p}范围内的{b}事项由区相关部门负责，市级部门负责监督指导。",
    "如遇{a}紧急情况，请立即拨打服务热线，工作人员将在{n}小时内联系处理。",
    "根据现行规定，{b}的标准每年调整一次，具体以当年公告为准。",
    "来电人反映{a}问题未解决的，按工单流程派至承办单位，承办单位应在{n}个工作日内答复。",
    "办理{a}不收取任何费用，请勿相信非官方渠道的代办服务。",
    "{b}政策自发布之日起施行，原有规定同时废止。",
]


def make_corpus(n: int, seed: int = 12345) -> list[dict[str, object]]:
    rng = random.Random(seed)
    cats = list(TOPICS)
    rows: list[dict[str, object]] = []
    for i in range(n):
        cat = cats[i % len(cats)] if i < len(cats) else rng.choice(cats)
        words = TOPICS[cat]
        a, b = rng.sample(words, 2)
        p = rng.choice(PLACES)
        title = rng.choice(TITLE_FORMS).format(p=p, a=a, b=b)
        body = "".join(
            rng.choice(BODY_SENTENCES).format(
                a=rng.choice(words), b=rng.choice(words), p=p, n=rng.randint(1, 30)
            )
            for _ in range(rng.randint(4, 9))
        )
        valid_to = date(2024, 1, 1) if rng.random() < 0.05 else None
        rows.append(
            {
                "id": f"kb{i:07d}",
                "title": title,
                "body": body,
                "keywords": json.dumps(rng.sample(words, 3), ensure_ascii=False),
                "category": cat,
                "valid_to": valid_to,
            }
        )
    return rows


def make_queries(per_class: int, seed: int = 7) -> dict[str, list[str]]:
    from pypinyin import Style, lazy_pinyin

    rng = random.Random(seed)
    words = sorted({w for ws in TOPICS.values() for w in ws})
    chars = sorted({c for w in words for c in w})

    def pick(cond: Callable[[str], bool]) -> list[str]:
        pool = [w for w in words if cond(w)]
        return [rng.choice(pool) for _ in range(per_class)]

    pinyin_pool = [w for w in words if 2 <= len(w) <= 5]
    return {
        "1 char": [rng.choice(chars) for _ in range(per_class)],
        "2 chars": pick(lambda w: len(w) == 2),
        "3 chars": pick(lambda w: len(w) == 3),
        "4+ chars": pick(lambda w: len(w) >= 4),
        "two terms": [" ".join(rng.sample(TOPICS[rng.choice(list(TOPICS))], 2)) for _ in range(per_class)],
        "pinyin initials": [
            "".join(s[0] for s in lazy_pinyin(rng.choice(pinyin_pool), style=Style.NORMAL))
            for _ in range(per_class)
        ],
    }


def load(engine: Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(
                text(
                    "INSERT INTO kbentry (id, title, body, keywords, category, unit_id, valid_from, valid_to,"
                    " source, version, status, updated_at) VALUES (:id, :title, :body, :keywords, :category,"
                    " NULL, NULL, :valid_to, '', 1, 'published', :now)"
                ),
                [{**r, "now": "2025-01-01 00:00:00.000000"} for r in rows[i : i + 5000]],
            )


def like_baseline(engine: Engine, q: str) -> int:
    terms = q.split()
    cond = " AND ".join(f"(title LIKE :t{i} OR body LIKE :t{i})" for i in range(len(terms)))
    params = {f"t{i}": f"%{t}%" for i, t in enumerate(terms)}
    with read_session(engine) as s:
        rows = (
            s.connection()
            .execute(
                text(
                    f"SELECT id FROM kbentry WHERE status = 'published' AND (valid_to IS NULL OR valid_to >= :today)"
                    f" AND {cond} ORDER BY (title LIKE :t0) DESC, length(body) LIMIT 10"
                ),
                {**params, "today": "2025-01-24"},
            )
            .all()
        )
    return len(rows)


def run_search(engine: Engine, q: str) -> int:
    with read_session(engine) as s:
        return len(search.search(s, q, today=date(2025, 1, 24)))


def measure(fn: Callable[[str], int], queries: list[str]) -> tuple[float, float, float, float]:
    times: list[float] = []
    found = 0
    for q in queries:
        t = time.perf_counter()
        n = fn(q)
        times.append((time.perf_counter() - t) * 1000)
        found += n > 0
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, times[-1], found / len(queries)


def store_size(engine: Engine) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_total_relation_size('kb_search_doc')")).scalar_one())
    raw = engine.raw_connection()  # autocommit: a checkpoint cannot run inside BEGIN IMMEDIATE
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    assert engine.url.database
    return os.path.getsize(engine.url.database)


def startup() -> tuple[float, float, float]:
    code = (
        "import time;t0=time.perf_counter();import hotline_tui.models;t1=time.perf_counter();"
        "import hotline_tui.search as s;t2=time.perf_counter();s.pinyin_tokens(['住房公积金']);"
        "t3=time.perf_counter();print(t1-t0,t2-t1,t3-t2)"
    )
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        runs.append(tuple(float(x) for x in out.split()))
    return tuple(statistics.median(r[i] for r in runs) * 1000 for i in range(3))  # type: ignore[return-value]


def bench(backend: str, size: int, queries: dict[str, list[str]], tmp: Path, pg: object) -> list[str]:
    if backend == "pg":
        url = pg.create_database(f"kbbench{size}")  # type: ignore[attr-defined]
    else:
        url = f"sqlite:///{tmp / f'kb{size}.db'}"
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    rows = make_corpus(size)
    load(engine, rows)
    gen = time.perf_counter() - t
    before = store_size(engine) if backend == "sqlite" else 0
    t = time.perf_counter()
    count = search.rebuild_index(engine)
    build = time.perf_counter() - t
    size_mib = (store_size(engine) - before) / 2**20
    print(
        f"\n{backend} {size:,} entries: generated + loaded in {gen:.1f} s; index build {build:.1f} s"
        f" ({count:,} indexed), index size {size_mib:.1f} MiB",
        flush=True,
    )
    lines = [
        "| query class | search p50 / p95 / max ms | found | LIKE p50 / p95 / max ms | found |",
        "|---|---|---|---|---|",
    ]
    for name, qs in queries.items():
        run_search(engine, qs[0])  # warm the cache
        s = measure(lambda q: run_search(engine, q), qs)
        like_qs = qs if size <= 100_000 else qs[: max(5, len(qs) // 10)]
        b = measure(lambda q: like_baseline(engine, q), like_qs)
        lines.append(
            f"| {name} | {s[0]:.1f} / {s[1]:.1f} / {s[2]:.1f} | {s[3]:.2f} | {b[0]:.1f} / {b[1]:.1f} / {b[2]:.1f} | {b[3]:.2f} |"
        )
        print(lines[-1], flush=True)
    engine.dispose()
    return [f"{backend}, {size:,} entries: build {build:.1f} s, index {size_mib:.1f} MiB", *lines]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sizes", default="10000,100000", help="comma-separated corpus sizes (1000000 takes long)"
    )
    ap.add_argument("--backends", default="sqlite", help="sqlite,pg")
    ap.add_argument("--queries", type=int, default=200, help="queries per class")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    backends = [b for b in args.backends.split(",") if b]
    imp_models, imp_search, first_pinyin = startup()
    print(
        f"start-up (median of 5 fresh interpreters): import hotline_tui.models {imp_models:.0f} ms, then"
        f" hotline_tui.search +{imp_search:.0f} ms; first pypinyin use (indexing only) {first_pinyin:.0f} ms"
    )
    queries = make_queries(args.queries)
    pg = None
    if "pg" in backends:
        from tests.pg_harness import PostgresServer

        pg = PostgresServer()
        if pg.start() is None:
            print(f"PostgreSQL skipped: {pg.skip_reason}")
            backends.remove("pg")
    report: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            for backend in backends:
                for size in sizes:
                    report += ["", *bench(backend, size, queries, Path(d), pg)]
    finally:
        if pg is not None:
            pg.stop()
    print("\n".join(report))


if __name__ == "__main__":
    main()
