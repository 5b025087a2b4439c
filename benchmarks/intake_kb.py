"""Live KB panel of the call screen with 100,000 KB entries: keystroke latency and time to suggestions.

    .venv/bin/python benchmarks/intake_kb.py                              # builds the store, ~3 min
    .venv/bin/python benchmarks/intake_kb.py --store /tmp/kb100k.db      # keep the store; reruns ~1.5 min
    .venv/bin/python benchmarks/intake_kb.py --cadences steady --texts 5

Targets (DESIGN.md "Quality targets"): a keystroke in live KB search never blocks input (the search runs
in a worker, stale results dropped), and suggestions <= 100 ms after typing pauses. The call screen
decides that typing has paused ``TYPING_PAUSE`` (0.15 s) after the last change, so "after typing pauses"
is measured from that moment: last key + 0.15 s. The raw time from the last key is reported too.

**Store.** ``hotline init --demo`` (users, units, tickets, 334 KB entries) in a temporary SQLite file,
then 100,000 synthetic entries from ``benchmarks/kb_search.py`` (``make_corpus``: 20 catalogue
categories of 12345 vocabulary, 10 districts, policy-style bodies, 5 % expired; ``load``), then
``search.rebuild_index``, all in a child interpreter (indexing loads pypinyin, which an agent's process
does not hold). ``--store PATH`` keeps the store and reuses it next time.

**Pure search.** ``search.search`` as ``IntakeScreen.search_kb`` calls it (a read session, the text's
first 200 characters, ``KB_LIMIT`` hits, today's date) for each call text: median of 5 after a warm-up.
The services the same pause also starts in workers (``triage``, ``similar_open``, ``suggest_units``; the
phone is empty, so no caller history) are timed the same way: they share the GIL with the search.

**The real call screen.** ``HotlineApp`` with ``open_ctx(URL, user="agent1")`` (an agent's home opens
on ``IntakeScreen``) under ``App.run_test`` at 160x48; the only change is a subclass hook that records
each frame and renders it to text as a terminal write would. alt+m focuses the matter field
(``#f-text``, a TextArea) and each call text is typed into it, one ``events.Key`` per character posted
to the driver exactly as a terminal's input thread does, on a schedule (the next key does not wait for
the previous one to be handled):

- ``steady``: one character every 0.05-0.30 s (seeded): gaps above 0.15 s start searches mid-text, so
  later keys arrive while searches and the other workers run;
- ``ime``: an input method commits a word at once: the characters of a chunk (``|`` in ``TEXTS``)
  back to back, 0.4-0.8 s between chunks, each pause starting all the workers;
- ``pilot``: ``await pilot.press(ch)`` per character, the duration of each call reported. This is
  what tests do, not a latency: ``press`` waits for the app to go idle (>= 2 x 20 ms sleeps, and busy
  worker threads count as not idle) and for the screen's message queues to drain.

A Textual message hook (``run_test(message_hook=...)``) timestamps each ``TextArea.Changed`` (at the
TextArea and at the screen) and the screen receiving ``IntakeScreen.KBFound``; ``refresh_all`` (the debounced refresh) is wrapped on
the screen instance to timestamp the pause firing and learn the sequence number of the final search.

- per key, from posting it: *in the field* (the TextArea has inserted it: its ``Changed`` is dispatched
  at the TextArea), *painted* (the first frame after that), *screen handler* (the ``Changed`` has bubbled
  to the call screen, which re-arms the debounce). Keys posted while a KB search worker was running are
  also reported on their own (key -> painted).
- *to suggestions*: last key posted -> the first frame after the screen received the ``KBFound`` of the
  final text (the panel ``#kb-hits`` then holds its hits; checked against the pure search's ids), split
  into last key -> pause fired -> ``KBFound`` received -> painted. p50 / p95 / max over the texts. Also
  the call screen's layout passes between the pause firing and that frame (count and total ms; timed by
  wrapping Textual's ``Screen._refresh_layout``): every result that changes a label, a list or a tab
  title makes Textual lay out the whole screen again.

The form is cleared between texts with ``IntakeScreen.reset`` and the draft deleted at the end.

Python's cyclic garbage collector is watched too (``gc.callbacks``): every collection of 5 ms or more
while the call screen is driven, by generation. A collection holds the GIL: the UI thread and every
worker stop for its whole duration. The objects it tracks are counted once the call screen is up and
after the last text, with the ``FooterKey`` widgets still alive (attached or not).

What-ifs (``--what-if``; the app's files are not changed, the benchmark process changes for that run):

- ``quiet-empty``: the pause starts no caller-history worker while the phone is empty and no deadline
  preview while no unit is chosen (both answer "nothing" today, and the screen still relabels a tab or
  rewrites a label on their answer, which costs a layout pass of the whole screen before the KB result
  can be painted);
- ``gc-freeze``: ``gc.collect(); gc.freeze()`` once the call screen is up, so that full collections no
  longer traverse the objects the app holds from its start (``gc.freeze``, Python >= 3.7).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kb_search import load, make_corpus  # noqa: E402
from sqlalchemy import text  # noqa: E402

from hotline_tui import search  # noqa: E402
from hotline_tui.db import make_engine  # noqa: E402

HOTLINE = ROOT / ".venv" / "bin" / "hotline"

# Call texts as an agent types them; "|" marks where an input method commits a word (cadence "ime").
TEXTS = [
    "我想问一下|住房公积金|怎么提取",
    "小区门口的|路灯|坏了|好几天了",
    "孩子上小学|需要|什么材料",
    "我们楼|已经停水|两天了|没人管",
    "公司|拖欠工资|三个月了|怎么办",
    "暖气|不热|屋里|才十五度",
    "楼下饭店|油烟|太大|影响居民生活",
    "医保卡|异地就医|怎么备案",
    "出租车|司机|拒载|还绕路",
    "网上买的东西|商家|不给退款",
    "工地|夜里|施工噪音|太大|睡不着",
    "老人的|高龄津贴|怎么申请",
    "营业执照|注销|需要|去哪里办",
    "我想咨询|一下|落户|政策",
]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def trio(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} / {pct(values, 0.95):.1f} / {max(values):.1f}"


def machine() -> str:
    import platform

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load average {load_avg}"


# ---------------------------------------------------------------- the store


def build_store(path: Path, size: int) -> str:
    url = f"sqlite:///{path}"
    if path.exists():
        engine = make_engine(url)
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM kbentry")).scalar_one()
        engine.dispose()
        if n >= size:
            print(f"store {path}: {n:,} KB entries (reused)", flush=True)
            return url
        raise SystemExit(
            f"{path} holds {n:,} KB entries, fewer than {size:,}: remove it or pick another --store"
        )
    # In a child interpreter: indexing loads pypinyin (~250,000 objects for the garbage collector), which
    # the agent's process does not hold, and which would lengthen every GC pause measured below.
    subprocess.run([sys.executable, __file__, "--build-only", str(path), "--size", str(size)], check=True)
    return url


def build_only(path: Path, size: int) -> None:
    url = f"sqlite:///{path}"
    t = time.perf_counter()
    subprocess.run([str(HOTLINE), "--db", url, "init", "--demo"], check=True, capture_output=True)
    t_demo = time.perf_counter() - t
    engine = make_engine(url)
    t = time.perf_counter()
    load(engine, make_corpus(size))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    count = search.rebuild_index(engine)
    t_index = time.perf_counter() - t
    engine.dispose()
    print(
        f"store built: demo {t_demo:.1f} s, {size:,} entries generated + loaded {t_load:.1f} s,"
        f" index rebuilt ({count:,} entries) {t_index:.1f} s",
        flush=True,
    )


# ---------------------------------------------------------------- pure service times


def median_ms(fn: Any, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def pure_times(
    ctx: Any, texts: list[str], reps: int = 5
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    from hotline_tui.screens.intake import KB_LIMIT
    from hotline_tui.services.callers import similar_open
    from hotline_tui.services.suggest import suggest_units
    from hotline_tui.services.triage import triage

    def kb(t: str) -> list[Any]:
        with ctx.read() as s:
            return search.search(s, t[:200], limit=KB_LIMIT, today=ctx.now().date())

    out: dict[str, dict[str, float]] = {}
    ids: dict[str, list[str]] = {}
    for t in texts:
        ids[t] = [h.id for h in kb(t)]
        out[t] = {
            "search": median_ms(lambda t=t: kb(t), reps),
            "triage": median_ms(lambda t=t: triage(t, ctx.policy), reps),
            "similar_open": median_ms(lambda t=t: similar_open(ctx, t), reps),
            "suggest_units": median_ms(lambda t=t: suggest_units(ctx, t), reps),
        }
    return out, ids


# ---------------------------------------------------------------- driving the call screen


@dataclass
class TextRun:
    text: str
    cadence: str
    sent: list[float] = field(default_factory=list)  # per key: when it was posted
    during_search: list[bool] = field(default_factory=list)  # a KB search worker was running then
    inserted: list[float] = field(default_factory=list)  # per key: the TextArea has inserted it (its Changed)
    painted: list[float] = field(default_factory=list)  # per key: the first frame after that
    handled: list[float] = field(default_factory=list)  # per key: the screen got the Changed (debounce armed)
    press: list[float] = field(default_factory=list)  # cadence "pilot": pilot.press durations
    fired: float = 0.0  # the pause after the last key fired (refresh_all)
    kb_found: float = 0.0  # the screen got the final KBFound
    shown: float = 0.0  # first frame after that
    hits: list[str] = field(default_factory=list)
    panel_ok: bool = False
    layouts: list[float] = field(default_factory=list)  # call-screen layout passes, pause fired -> shown (ms)


def schedule(t: str, cadence: str, rng: random.Random) -> list[tuple[str, float]]:
    """(character, seconds to wait before posting it)."""
    out: list[tuple[str, float]] = []
    if cadence == "ime":
        for i, chunk in enumerate(t.split("|")):
            for j, ch in enumerate(chunk):
                out.append((ch, rng.uniform(0.4, 0.8) if i and not j else 0.0))
    else:
        for i, ch in enumerate(t.replace("|", "")):
            out.append((ch, rng.uniform(0.05, 0.30) if i else 0.0))
    return out


@dataclass
class GCPause:
    start: float
    ms: float
    generation: int


async def drive(
    url: str,
    texts: list[str],
    cadences: list[str],
    expected: dict[str, list[str]],
    gc_pauses: list[GCPause],
    notes: list[str],
    *,
    freeze: bool = False,
) -> list[TextRun]:
    from textual import events
    from textual._compositor import CompositorUpdate
    from textual._context import active_message_pump
    from textual.screen import Screen
    from textual.widgets import OptionList, TextArea
    from textual.worker import WorkerState

    import hotline_tui.app
    from hotline_tui.app import HotlineApp
    from hotline_tui.clock import SystemClock
    from hotline_tui.screens.intake import IntakeScreen
    from hotline_tui.services.drafts import discard_draft
    from hotline_tui.store import open_ctx

    ctx = open_ctx(url, user="agent1", clock=SystemClock())
    discard_draft(ctx)  # no "restore the draft?" question at start

    class Timed(HotlineApp):
        CSS_PATH = str(Path(hotline_tui.app.__file__).parent / str(HotlineApp.CSS_PATH))
        frames: list[float] = []

        def _display(self, screen, renderable):  # type: ignore[no-untyped-def]
            if renderable is not None and not self._batch_count:
                if self.is_headless and isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(self.console)  # the work a real terminal write costs
                self.frames.append(time.perf_counter())
            super()._display(screen, renderable)

    current: TextRun | None = None
    final_seq: int | None = None
    screen: IntakeScreen | None = None

    def hook(message: object) -> None:
        if current is None or screen is None:
            return
        try:
            pump = active_message_pump.get()
        except LookupError:
            return
        if isinstance(message, TextArea.Changed) and isinstance(pump, TextArea):
            current.inserted.append(time.perf_counter())  # the TextArea posts Changed once it has the text
        if pump is not screen:
            return
        if isinstance(message, TextArea.Changed):
            current.handled.append(time.perf_counter())
        elif isinstance(message, IntakeScreen.KBFound) and final_seq is not None and message.seq >= final_seq:
            if not current.kb_found:
                current.kb_found = time.perf_counter()
                current.hits = [h.id for h in message.hits]

    passes: list[tuple[float, float]] = []  # (start, ms) of the call screen's layout passes
    original_layout = Screen._refresh_layout

    def timed_layout(self: Screen[Any], size: Any = None, scroll: bool = False) -> None:
        t = time.perf_counter()
        original_layout(self, size, scroll)
        if self is screen:
            passes.append((t, (time.perf_counter() - t) * 1000))

    Screen._refresh_layout = timed_layout  # type: ignore[method-assign]  # timing only (Textual internals)
    app = Timed(ctx)
    runs: list[TextRun] = []
    rng = random.Random(12345)
    async with app.run_test(size=(160, 48), message_hook=hook) as pilot:
        while not (isinstance(app.screen, IntakeScreen) and not app.screen.restoring):
            await asyncio.sleep(0.01)
        screen = app.screen
        original_refresh_all = screen.refresh_all

        def refresh_all() -> None:  # the debounced refresh: note when it fires and its search's seq
            nonlocal final_seq
            assert screen is not None
            if current is not None and len(current.handled) == len(current.sent) == len(
                current.text.replace("|", "")
            ):
                current.fired = time.perf_counter()
                final_seq = screen.seq + 1  # refresh_all bumps seq, then starts search_kb with it
            original_refresh_all()

        screen.refresh_all = refresh_all  # type: ignore[method-assign]
        await app.workers.wait_for_complete()
        if freeze:  # what-if: what the app holds once the call screen is up is never traversed again
            gc.collect()
            gc.freeze()
        gc_start = 0.0

        def gc_callback(phase: str, info: dict[str, int]) -> None:
            nonlocal gc_start
            if phase == "start":
                gc_start = time.perf_counter()
            elif (ms := (time.perf_counter() - gc_start) * 1000) >= 5:
                gc_pauses.append(GCPause(gc_start, ms, info["generation"]))

        gc.callbacks.append(gc_callback)
        from textual.widgets._footer import FooterKey

        gc.collect()
        tracked_start = len(gc.get_objects())
        keys_start = sum(isinstance(o, FooterKey) for o in gc.get_objects())
        await pilot.press("alt+m")
        assert app.focused is not None and app.focused.id == "f-text", app.focused

        def first_frame(after: float) -> float:
            i = bisect.bisect_right(app.frames, after)
            return app.frames[i] if i < len(app.frames) else 0.0

        def kb_running() -> bool:
            return any(w.group == "intake-kb" and w.state == WorkerState.RUNNING for w in app.workers)

        for cadence in cadences:
            for t in texts:
                screen.reset()
                screen.query_one("#f-text", TextArea).focus()
                await app.workers.wait_for_complete()
                await pilot.pause()
                await asyncio.sleep(0.2)
                final_seq = None
                current = run = TextRun(t, cadence)
                start = time.perf_counter()
                due = start
                for ch, gap in schedule(t, cadence, rng):
                    if cadence == "pilot":
                        run.during_search.append(kb_running())
                        run.sent.append(time.perf_counter())
                        await pilot.press(ch)
                        run.press.append(time.perf_counter() - run.sent[-1])
                        continue
                    due += gap
                    if (wait := due - time.perf_counter()) > 0:
                        await asyncio.sleep(wait)
                    run.during_search.append(kb_running())
                    run.sent.append(time.perf_counter())
                    assert app._driver is not None
                    app._driver.send_message(events.Key(ch, ch))  # as the terminal's input thread does
                end = time.perf_counter() + 10
                while not (run.kb_found and app.frames[-1] > run.kb_found) and time.perf_counter() < end:
                    await asyncio.sleep(0.001)
                run.shown = first_frame(run.kb_found) if run.kb_found else 0.0
                run.painted = [first_frame(h) for h in run.inserted]
                run.layouts = [ms for t0, ms in passes if run.fired <= t0 < run.shown]
                panel = screen.query_one("#kb-hits", OptionList)
                run.panel_ok = run.hits == expected.get(
                    t.replace("|", ""), run.hits
                ) and panel.option_count == len(run.hits)
                runs.append(run)
                current = None
                await app.workers.wait_for_complete()
        screen.reset()
        await app.workers.wait_for_complete()
        await pilot.pause()
        gc.collect()
        keys = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        notes.append(
            f"Heap: {tracked_start:,} objects tracked by the GC once the call screen was up, {len(gc.get_objects()):,}"
            f" after {len(runs)} call texts (after a full collection). FooterKey widgets alive: {keys_start}, then {len(keys)}, of"
            f" which {sum(not k.is_attached for k in keys)} removed from the screen (Footer.compose's data_bind"
            " keeps them: Textual issue #6666)."
        )
    gc.callbacks.remove(gc_callback)
    if freeze:
        gc.unfreeze()
    Screen._refresh_layout = original_layout  # type: ignore[method-assign]
    discard_draft(ctx)
    return runs


def quiet_empty() -> None:
    """What-if: the pause starts no caller-history worker while the phone field is empty and no deadline
    preview while no unit is chosen. Both then answer "nothing" at once, yet their results still reach
    the screen, which rewrites a label or a tab title and so makes Textual lay the screen out again."""
    from hotline_tui.screens.intake import IntakeScreen

    look_up_caller = IntakeScreen.look_up_caller
    refresh_preview = IntakeScreen.refresh_preview

    def quiet_look_up_caller(self: IntakeScreen, seq: int, phone: str, text: str) -> None:
        if phone.strip():
            look_up_caller(self, seq, phone, text)

    def quiet_refresh_preview(self: IntakeScreen) -> None:
        if self.form.units:
            refresh_preview(self)

    IntakeScreen.look_up_caller = quiet_look_up_caller  # type: ignore[assignment,method-assign]
    IntakeScreen.refresh_preview = quiet_refresh_preview  # type: ignore[method-assign]
    print("what-if quiet-empty: no caller-history worker with an empty phone, no preview without units")


# ---------------------------------------------------------------- report


def report(
    runs: list[TextRun], debounce: float, gc_pauses: list[GCPause], verbose: bool = False
) -> list[str]:
    out = [
        "\n### Keystrokes (ms: p50 / p95 / max)",
        "| cadence | keys | key -> in the field | key -> painted | key -> screen handler |"
        " keys during a KB search | their key -> painted | pilot.press |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cadence in dict.fromkeys(r.cadence for r in runs):
        rs = [r for r in runs if r.cadence == cadence]
        inserted: list[float] = []
        painted: list[float] = []
        handled: list[float] = []
        during: list[float] = []
        press: list[float] = []
        for r in rs:
            press += [p * 1000 for p in r.press]
            for sent, ins, frame, got, busy in zip(
                r.sent, r.inserted, r.painted, r.handled, r.during_search, strict=False
            ):
                inserted.append((ins - sent) * 1000)
                handled.append((got - sent) * 1000)
                if frame:
                    painted.append((frame - sent) * 1000)
                    if busy:
                        during.append((frame - sent) * 1000)
        out.append(
            f"| {cadence} | {len(inserted)} | {trio(inserted)} | {trio(painted)} | {trio(handled)} | {len(during)} |"
            f" {trio(during)} | {trio(press)} |"
        )
    out += [
        "\n### Last key -> suggestions on screen, per call text (ms: p50 / p95 / max over the texts)",
        f"| cadence | texts | raw, from last key | after the pause (raw - {debounce * 1000:.0f}) | last key -> pause fired |"
        " pause fired -> KBFound received | KBFound -> painted | layout passes in between: n, ms |"
        " panel = pure search |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cadence in dict.fromkeys(r.cadence for r in runs):
        rs = [r for r in runs if r.cadence == cadence and r.shown]
        raw = [(r.shown - r.sent[-1]) * 1000 for r in rs]
        out.append(
            f"| {cadence} | {len(rs)} | {trio(raw)} | {trio([x - debounce * 1000 for x in raw])} |"
            f" {trio([(r.fired - r.sent[-1]) * 1000 for r in rs if r.fired])} |"
            f" {trio([(r.kb_found - r.fired) * 1000 for r in rs if r.fired])} |"
            f" {trio([(r.shown - r.kb_found) * 1000 for r in rs])} |"
            f" {trio([float(len(r.layouts)) for r in rs])}, {trio([sum(r.layouts) for r in rs])} |"
            f" {sum(r.panel_ok for r in rs)}/{len(rs)} |"
        )
    full = [p.ms for p in gc_pauses if p.generation == 2]
    young = [p.ms for p in gc_pauses if p.generation < 2]
    hit = [
        r
        for r in runs
        if r.shown
        and any(r.fired - p.ms / 1000 <= p.start <= r.shown for p in gc_pauses if p.generation == 2)
    ]
    out.append(
        f"\nPython GC pauses >= 5 ms while the call screen was driven: {len(full)} full (generation 2) collections, ms p50 / p95 / max {trio(full)}; {len(young)}"
        f" younger ones, {trio(young)}. A pause stops every thread. Texts whose pause -> suggestions"
        f" window overlapped a full collection: {len(hit)} of {len([r for r in runs if r.shown])}."
    )
    if verbose:
        out.append(
            "\nper text (ms): cadence, text, last key -> pause fired -> KBFound -> painted, layout passes"
        )
        for r in runs:
            if r.shown:
                out.append(
                    f"  {r.cadence:6} {r.text.replace('|', ''):16} {(r.fired - r.sent[-1]) * 1000:6.1f}"
                    f" {(r.kb_found - r.fired) * 1000:6.1f} {(r.shown - r.kb_found) * 1000:6.1f}"
                    f"  {' '.join(f'{x:.1f}' for x in r.layouts)}"
                )
    missing = [f"{r.cadence}:{r.text}" for r in runs if not r.shown]
    if missing:
        out.append(f"no suggestions seen for: {', '.join(missing)}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000, help="synthetic KB entries (plus the demo's)")
    ap.add_argument("--store", type=Path, help="SQLite file to build once and reuse (default: a temp file)")
    ap.add_argument("--cadences", default="steady,ime,pilot", help="steady,ime,pilot (see above)")
    ap.add_argument("--texts", type=int, default=len(TEXTS), help=f"how many of the {len(TEXTS)} call texts")
    ap.add_argument(
        "--what-if",
        choices=["quiet-empty", "gc-freeze"],
        help="monkeypatch the call screen for this run only (see the module docstring)",
    )
    ap.add_argument("--verbose", action="store_true", help="also print each text's breakdown")
    ap.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build_only(args.build_only, args.size)
        return 0
    if args.what_if == "quiet-empty":
        quiet_empty()
    print(f"machine: {machine()}", flush=True)
    from hotline_tui.clock import SystemClock
    from hotline_tui.screens.intake import TYPING_PAUSE
    from hotline_tui.store import open_ctx

    texts = TEXTS[: args.texts]
    with tempfile.TemporaryDirectory(prefix="hotline-intake-kb-") as d:
        url = build_store(args.store or Path(d) / "kb.db", args.size)
        ctx = open_ctx(url, user="agent1", clock=SystemClock())
        pure, ids = pure_times(ctx, [t.replace("|", "") for t in texts])
        lines = [
            f"\n### Pure service times on this store (ms, median of 5; {args.size:,} + demo KB entries)",
            "| call text | search.search | hits | triage | similar_open | suggest_units |",
            "|---|---|---|---|---|---|",
        ]
        for t, p in pure.items():
            lines.append(
                f"| {t} | {p['search']:.1f} | {len(ids[t])} | {p['triage']:.1f} | {p['similar_open']:.1f} |"
                f" {p['suggest_units']:.1f} |"
            )
        col = {
            k: [p[k] for p in pure.values()] for k in ("search", "triage", "similar_open", "suggest_units")
        }
        lines.append(
            f"| **p50 / p95 / max** | {trio(col['search'])} | | {trio(col['triage'])} | {trio(col['similar_open'])} |"
            f" {trio(col['suggest_units'])} |"
        )
        print("\n".join(lines), flush=True)
        cadences = [c for c in args.cadences.split(",") if c]
        t = time.perf_counter()
        gc_pauses: list[GCPause] = []
        notes: list[str] = []
        runs = asyncio.run(
            drive(url, texts, cadences, ids, gc_pauses, notes, freeze=args.what_if == "gc-freeze")
        )
        print(f"\n(call screen driven for {time.perf_counter() - t:.0f} s)")
        print("\n".join([*report(runs, TYPING_PAUSE, gc_pauses, args.verbose), *notes]))
        print(f"\nmachine at the end: {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
