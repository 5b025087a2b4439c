"""Start to the agent's call screen in a real terminal (tmux), and where the start-up time goes.

    .venv/bin/python benchmarks/intake_start.py                      # 7 runs x 2 sizes x 2 modes, ~2 min
    .venv/bin/python benchmarks/intake_start.py --runs 15 --sizes 160x48 --bytecode cached
    .venv/bin/python benchmarks/intake_start.py --no-profile --no-baseline

Target (DESIGN.md "Quality targets"): start to interactive intake screen <= 1.0 s on a 2-core machine.

**In tmux.** A demo store is built in a temporary directory (``hotline init --demo``). Each run starts
``hotline --db URL --user agent1`` in a fresh detached tmux session of the given size and polls
``tmux capture-pane -p`` every 20 ms:

- *launch -> login*: from just before ``tmux new-session`` until the login form is on screen
  ("Enter 登录"; the password field has the focus because the name is prefilled).
- The password is typed with ``send-keys -l``; the script waits for its 11 bullets (not timed: that is
  the agent typing).
- *Enter -> call screen*: from just before ``send-keys Enter`` until the call screen shows the phone
  field's label "联系电话". The phone field has the focus from the first frame, so this is when typing
  reaches the form. *Enter -> footer*: until the footer's "^s 保存" is on screen too (Textual fills the
  footer one or two frames later, after the screen's bindings are published).
- *sum* = launch -> login + Enter -> (call screen | footer), per run: start to an interactive call screen
  without the typing. *draft checked*: Enter until the "正在检查未完成的草稿" status has gone as well.

min / median / max over ``--runs`` runs per size and mode, after one discarded warm-up run per mode.
Two bytecode modes (``--bytecode``): ``cached`` runs the app with a bytecode cache
(``PYTHONPYCACHEPREFIX`` in the temp dir, ``PYTHONDONTWRITEBYTECODE`` removed), as an installed
package runs; ``source`` keeps the environment as it is: where ``PYTHONDONTWRITEBYTECODE=1`` is set (it
is in this dev VM, tmux's global environment included) and the package is an editable checkout, every
start compiles hotline_tui's modules from source. ``--baseline`` times a minimal Textual app (label,
password input, footer with one key) the same way: the floor of Python + Textual in this terminal.

**Where the time goes** (``--profile``, on by default; cached bytecode). The same flow runs headless
(``App.run_test`` with the same ``HotlineApp``, ``LoginOptions``, password and Enter key) in child
interpreters, each frame rendered to text as a terminal write would be:

1. phase wall times (median of ``--profile-runs``), with a message hook marking the password check done,
   the home screen and the call screen mounted, the first frame of the call screen and of its footer;
2. ``python -X importtime``: import cost per phase, per top-level package, slowest top-level imports;
3. cProfile (main thread only; workers are threads): our functions by cumulative time, hottest functions;
4. ``services.accounts.authenticate`` alone (scrypt + an audit event), median of 5;
5. what-if runs, alternating with unchanged runs: the child monkeypatches one thing (the app's files are
   not changed) — ``no-home``: an agent's login pushes only the call screen, not the ticket list under
   it; ``no-keyring``: the login screen's keyring check (``prepare_login``) returns at once.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
PYTHON = ROOT / ".venv" / "bin" / "python"
LOGIN_READY = ("Enter 登录",)
CALL_SHOWN = ("联系电话",)
CALL_READY = ("联系电话", "^s 保存")
DRAFT_PENDING = "正在检查未完成的草稿"
POLL = 0.02  # capture-pane forks a tmux client: polling faster steals CPU from the app on 2 cores
BASELINE_APP = """\
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Input, Label


class Baseline(App):
    BINDINGS = [Binding("ctrl+s", "bell", "保存", key_display="^s")]

    def compose(self):
        yield Label("基线就绪")
        yield Input(placeholder="密码", password=True)
        yield Footer()


Baseline().run()
"""


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load average {load}"


def app_env(mode: str, pyc: Path) -> dict[str, str]:
    env = dict(os.environ)
    if mode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pyc)
    return env


def env_prefix(mode: str, pyc: Path) -> str:
    """The same as ``app_env`` for a tmux session (which takes tmux's global environment, not ours)."""
    if mode == "cached":
        return f"env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX={pyc} "
    return ""


# ---------------------------------------------------------------- tmux


def tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", *args], capture_output=True, text=True)


def pane(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_for(
    session: str, ready: tuple[str, ...], timeout: float = 20.0, absent: str = "", text: str = ""
) -> float | None:
    """perf_counter() of the first capture showing every string of ``ready`` (and not ``absent``);
    ``text``, a capture already taken, is looked at first."""
    end = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        shown = text or pane(session)
        text = ""
        if all(r in shown for r in ready) and not (absent and absent in shown):
            return now
        if now > end:
            return None
        time.sleep(POLL)


def run_once(
    db: str, size: str, user: str, password: str, session: str, prefix: str, typing: float = 0.0
) -> list[float] | None:
    """[launch -> login, Enter -> call screen, Enter -> footer, Enter -> draft checked] in seconds."""
    width, height = size.split("x")
    start = time.perf_counter()
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        width,
        "-y",
        height,
        f"{prefix}{HOTLINE} --db {db} --user {user}",
    )
    try:
        login_at = wait_for(session, LOGIN_READY)
        login = None if login_at is None else login_at - start
        if login is None or login_at is None:
            print(f"  login screen never appeared:\n{pane(session)}", file=sys.stderr)
            return None
        tmux("send-keys", "-t", session, "-l", password)
        if wait_for(session, ("•" * len(password),), timeout=10) is None:
            print(f"  the password never showed:\n{pane(session)}", file=sys.stderr)
            return None
        # --typing: Enter no sooner than this long after the form appeared (a person typing the
        # password; the store opens meanwhile). 0 = Enter as soon as the bullets are on screen.
        time.sleep(max(0.0, start + login + typing - time.perf_counter()) if typing else 0.0)
        enter = time.perf_counter()
        tmux("send-keys", "-t", session, "Enter")
        shown = wait_for(session, CALL_SHOWN)
        ready = shown and wait_for(session, CALL_READY)
        if shown is None or not ready:
            print(f"  call screen never appeared:\n{pane(session)}", file=sys.stderr)
            return None
        settled = wait_for(session, CALL_READY, timeout=10, absent=DRAFT_PENDING) or ready
        return [login, shown - enter, ready - enter, settled - enter]
    finally:
        tmux("kill-session", "-t", session)


def run_baseline(script: Path, size: str, session: str, prefix: str) -> float | None:
    width, height = size.split("x")
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", width, "-y", height, f"{prefix}{PYTHON} {script}")
    try:
        ready = wait_for(session, ("基线就绪", "^s 保存"))
        return None if ready is None else ready - start
    finally:
        tmux("kill-session", "-t", session)


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{min(ms):.0f} / {statistics.median(ms):.0f} / {max(ms):.0f}"


# ---------------------------------------------------------------- the headless flow (child interpreter)


def mark(name: str, t: float | None = None) -> float:
    t = time.perf_counter() if t is None else t
    print(f"@@ {name} {t:.6f}", file=sys.stderr, flush=True)
    return t


def flow(db: str, user: str, password: str, size: str, cprofile_dir: str, what_if: str) -> None:
    """The TUI's start as ``hotline --db DB --user USER`` makes it (``cli.run_app``), under ``run_test``:
    login, Enter, call screen. Prints phase marks on stderr, between ``-X importtime`` lines if that is on."""
    import asyncio
    import cProfile

    prof = cProfile.Profile() if cprofile_dir else None
    mark("start")
    if prof is not None:
        prof.enable()
    import hotline_tui.cli  # noqa: F401 - the entry point's own import, as the `hotline` script does
    from hotline_tui.app import HotlineApp, LoginOptions
    from hotline_tui.clock import SystemClock
    from hotline_tui.store import open_ctx

    mark("imported")
    ctx = open_ctx(db, clock=SystemClock())  # as run_app does
    mark("store opened")
    if what_if == "no-home":  # an agent gets the call screen only; the ticket list is not built under it

        def open_home(self: HotlineApp) -> None:
            from hotline_tui.screens.intake import IntakeScreen

            self.push_screen(IntakeScreen(self.ctx))

        HotlineApp.open_home = open_home  # type: ignore[method-assign]
    elif what_if == "no-keyring":  # the login screen's keyring check answers at once
        from hotline_tui.screens import login

        login.prepare_login = lambda ctx, user, url: login.LoginPrep(False, "", None, False)

    seen: dict[str, float] = {}

    class Timed(HotlineApp):
        """Records frames (time, screen, footer filled); renders each update to text as a terminal would."""

        CSS_PATH = str(
            Path(sys.modules[HotlineApp.__module__].__file__ or "").parent / str(HotlineApp.CSS_PATH)
        )
        frames: list[tuple[float, str, bool]] = []

        def _display(self, screen, renderable):  # type: ignore[no-untyped-def]
            from textual._compositor import CompositorUpdate

            if renderable is not None and not self._batch_count:
                if self.is_headless and isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(self.console)  # the work a real terminal write costs
                try:
                    footer = bool(screen.query_one("Footer").children)
                except Exception:
                    footer = False
                self.frames.append((time.perf_counter(), type(screen).__name__, footer))
            super()._display(screen, renderable)

    def hook(message: object) -> None:
        from textual._context import active_message_pump

        name = type(message).__name__
        if name in ("LoggedIn", "Mount", "DraftFound"):
            try:
                where = type(active_message_pump.get()).__name__
            except LookupError:
                return
            seen.setdefault(f"{name}@{where}", time.perf_counter())

    width, height = (int(x) for x in size.split("x"))
    url = ctx.engine.url
    label = str(url.database) if url.get_backend_name() == "sqlite" else url.render_as_string()
    app = Timed(ctx, LoginOptions(user=user, store_url=db, store_label=label))

    async def until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
        end = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > end:
                raise TimeoutError(f"still waiting; screen {type(app.screen).__name__}")
            await asyncio.sleep(0.002)

    def frame(screen_name: str, after: float, footer: bool = False) -> float | None:
        return next(
            (t for t, n, f in app.frames if t > after and n == screen_name and (f or not footer)), None
        )

    async def run() -> None:
        from textual import events

        nonlocal prof
        t0 = time.perf_counter()
        async with app.run_test(size=(width, height), message_hook=hook) as pilot:
            await until(lambda: frame("LoginScreen", t0) is not None and app.focused is not None)
            mark("login painted", frame("LoginScreen", t0))
            if prof is not None:
                prof.disable()
                prof.dump_stats(os.path.join(cprofile_dir, "login.prof"))
            await app.workers.wait_for_complete()  # the keyring check, while the agent types
            for ch in password:
                await pilot.press(ch)
            await pilot.pause()
            if prof is not None:
                prof = cProfile.Profile()
                prof.enable()
            t1 = mark("enter")
            assert app._driver is not None
            app._driver.send_message(events.Key("enter", "\r"))  # as the terminal's Enter
            await until(lambda: frame("IntakeScreen", t1, footer=True) is not None)
            if prof is not None:
                prof.disable()
                prof.dump_stats(os.path.join(cprofile_dir, "intake.prof"))
            mark("call screen painted", frame("IntakeScreen", t1))
            mark("footer painted", frame("IntakeScreen", t1, footer=True))
            await app.workers.wait_for_complete()
            await pilot.pause()
            for key, name in (
                ("LoggedIn@LoginScreen", "password checked"),
                ("Mount@HomeScreen", "home mounted"),
                ("Mount@IntakeScreen", "call screen mounted"),
                ("DraftFound@IntakeScreen", "draft checked"),
            ):
                if key in seen:
                    mark(name, seen[key])

    asyncio.run(run())


def run_flow(
    db: str,
    args: argparse.Namespace,
    env: dict[str, str],
    *,
    importtime: bool = False,
    cprofile_dir: str = "",
    what_if: str = "",
) -> str:
    cmd = [str(PYTHON)]
    if importtime:
        cmd += ["-X", "importtime"]
    cmd += [
        __file__,
        "--flow",
        db,
        "--user",
        args.user,
        "--password",
        args.password,
        "--flow-size",
        args.sizes.split(",")[0],
    ]
    if cprofile_dir:
        cmd += ["--cprofile-dir", cprofile_dir]
    if what_if:
        cmd += ["--flow-what-if", what_if]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"flow failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stderr


# ---------------------------------------------------------------- reading the profiles


def phases(stderr: str) -> dict[str, float]:
    return {
        " ".join(parts[1:-1]): float(parts[-1])
        for parts in (line.split() for line in stderr.splitlines() if line.startswith("@@ "))
    }


SPANS = (
    ("start", "imported", "imports (hotline_tui.cli, .app, .store)"),
    ("imported", "store opened", "store.open_ctx"),
    ("store opened", "login painted", "app start -> login painted"),
    ("start", "login painted", "= launch -> login (in-process)"),
    ("enter", "password checked", "Enter -> password checked (worker)"),
    ("password checked", "home mounted", "  -> home screen mounted"),
    ("password checked", "call screen mounted", "  -> call screen mounted"),
    ("call screen mounted", "call screen painted", "  call screen mounted -> painted"),
    ("call screen painted", "footer painted", "  call screen painted -> footer painted"),
    ("enter", "call screen painted", "= Enter -> call screen painted"),
    ("enter", "footer painted", "= Enter -> footer painted"),
    ("enter", "draft checked", "Enter -> draft checked"),
)


def span_table(runs: list[dict[str, float]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for p in runs:
        for a, b, name in SPANS:
            if a in p and b in p:
                out.setdefault(name, []).append(p[b] - p[a])
    return out


def import_report(stderr: str) -> list[str]:
    """Per phase: import time, by top-level package (self times summed), slowest top-level imports.
    Imports done in worker threads are timed in wall clock and include waiting for the GIL."""
    names = {
        "login painted": "login painted -> Enter (login screen idle; keyring check worker)",
        "enter": "Enter -> footer painted",
        "footer painted": "after the call screen (its workers)",
    }
    phase = "launch -> login painted"
    per: dict[str, list[tuple[int, int, str, int]]] = {}  # phase -> (self us, cumulative us, name, depth)
    for line in stderr.splitlines():
        if line.startswith("@@ "):
            phase = names.get(" ".join(line.split()[1:-1]), phase)
            continue
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|", 2)
        name = name[1:]  # one space, then two more per level of nesting
        depth = (len(name) - len(name.lstrip(" "))) // 2
        per.setdefault(phase, []).append((int(self_us), int(cum_us), name.strip(), depth))
    out: list[str] = []
    for ph, rows in per.items():
        total = sum(r[1] for r in rows if r[3] == 0)
        by_pkg: dict[str, int] = {}
        for self_us, _, name, _ in rows:
            root = name.split(".")[0]
            key = name if root == "hotline_tui" else root
            by_pkg[key] = by_pkg.get(key, 0) + self_us
        top_pkgs = sorted(by_pkg.items(), key=lambda kv: -kv[1])[:14]
        top_imports = sorted((r for r in rows if r[3] == 0), key=lambda r: -r[1])[:10]
        out.append(f"\nimports, {ph}: {len(rows)} modules, {total / 1000:.0f} ms")
        out.append("  by package (self ms): " + ", ".join(f"{k} {v / 1000:.0f}" for k, v in top_pkgs))
        out.append("  slowest top-level imports (cumulative ms): " + ", ".join(
            f"{name} {cum / 1000:.0f}" for _, cum, name, _ in top_imports
        ))  # fmt: skip
    return out


def cprofile_report(path: str, title: str, top: int = 14) -> list[str]:
    import pstats

    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _), (_, _, _, ct, _) in stats.items())
    pkg = str(ROOT / "hotline_tui")

    def where(fn: str, line: int, func: str) -> str:
        short = fn.replace(str(ROOT) + "/", "").split("site-packages/")[-1].split("lib/python3.11/")[-1]
        return f"{short}:{line} {func}"

    ours = sorted(
        (
            (ct, nc, where(fn, ln, func))
            for (fn, ln, func), (_, nc, _, ct, _) in stats.items()
            if fn.startswith(pkg)
        ),
        reverse=True,
    )[:top]
    hot = sorted(
        (
            (tt, nc, where(fn, ln, func))
            for (fn, ln, func), (_, nc, tt, _, _) in stats.items()
            if "select.epoll" not in func and "time.sleep" not in func
        ),
        reverse=True,
    )[:top]
    out = [f"\ncProfile, {title} (main thread; {total * 1000:.0f} ms profiled, profiler overhead included)"]
    out.append("  our code by cumulative ms (<module> = its import):")
    out += [f"    {ct * 1000:7.1f}  x{nc:<5} {name}" for ct, nc, name in ours]
    out.append("  hottest functions by own ms (own time includes waiting for the GIL held by workers):")
    out += [f"    {tt * 1000:7.1f}  x{nc:<6} {name}" for tt, nc, name in hot]
    return out


def time_authenticate(db: str, user: str, password: str, env: dict[str, str], n: int = 5) -> float:
    code = (
        "import sys,time;from hotline_tui.store import open_ctx;from hotline_tui.services.accounts import"
        " authenticate;ctx=open_ctx(sys.argv[1]);authenticate(ctx,sys.argv[2],sys.argv[3]);ts=[]\n"
        f"for _ in range({n}):\n t=time.perf_counter();authenticate(ctx,sys.argv[2],sys.argv[3]);"
        "ts.append(time.perf_counter()-t)\nprint(sorted(ts)[len(ts)//2])"
    )
    done = subprocess.run(
        [str(PYTHON), "-c", code, db, user, password], capture_output=True, text=True, env=env
    )
    return float(done.stdout.strip()) if done.returncode == 0 else float("nan")


def profile(db: str, args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    size = args.sizes.split(",")[0]
    out = [
        f"\n## Where the time goes (headless run_test flow at {size}, cached bytecode, child interpreters)"
    ]
    run_flow(db, args, env)  # warm
    runs = [phases(run_flow(db, args, env)) for _ in range(args.profile_runs)]
    out.append(
        f"phase wall times, ms min / median / max over {args.profile_runs} runs (interpreter start not included):"
    )
    out += [f"  {name:42} {fmt(v)}" for name, v in span_table(runs).items()]
    auth = time_authenticate(db, args.user, args.password, env)
    out.append(
        f"  services.accounts.authenticate alone (scrypt + audit event), median of 5: {auth * 1000:.0f} ms"
    )
    if args.what_if:
        out.append(
            f"\nwhat-if (monkeypatched in the child; {args.profile_runs} runs each, alternating), ms median:"
        )
        keys = (
            "= launch -> login (in-process)",
            "= Enter -> call screen painted",
            "= Enter -> footer painted",
        )
        out.append("  | variant | " + " | ".join(k.lstrip("= ") for k in keys) + " |")
        results: dict[str, list[dict[str, float]]] = {"unchanged": [], "no-home": [], "no-keyring": []}
        for _ in range(args.profile_runs):
            for variant in results:
                results[variant].append(
                    phases(run_flow(db, args, env, what_if="" if variant == "unchanged" else variant))
                )
        for variant, rs in results.items():
            table = span_table(rs)
            out.append(
                f"  | {variant} | "
                + " | ".join(f"{statistics.median(table[k]) * 1000:.0f}" for k in keys)
                + " |"
            )
    out += import_report(run_flow(db, args, env, importtime=True))
    with tempfile.TemporaryDirectory() as d:
        run_flow(db, args, env, cprofile_dir=d)
        out += cprofile_report(os.path.join(d, "login.prof"), "launch -> login painted")
        out += cprofile_report(os.path.join(d, "intake.prof"), "Enter -> footer painted")
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per size and bytecode mode")
    parser.add_argument(
        "--typing",
        type=float,
        default=0.0,
        help="seconds from the login form to Enter, as a person types the password (default 0: at once)",
    )
    parser.add_argument("--sizes", default="160x48,80x24", help="terminal sizes; the first is profiled")
    parser.add_argument("--bytecode", default="cached,source", help="cached,source (see above)")
    parser.add_argument("--user", default="agent1")
    parser.add_argument("--password", default="hotline2025")
    parser.add_argument("--db", help="an existing store (default: a fresh demo store in a temp dir)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--what-if", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--profile-runs", type=int, default=5, help="headless runs for phase times and what-ifs"
    )
    parser.add_argument("--flow", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--flow-size", default="160x48", help=argparse.SUPPRESS)
    parser.add_argument("--cprofile-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--flow-what-if", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flow:
        flow(args.flow, args.user, args.password, args.flow_size, args.cprofile_dir, args.flow_what_if)
        return 0
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    print(f"machine: {machine()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-intake-start-"))
    pyc = tmp / "pycache"
    try:
        db = args.db
        if db is None:
            db = f"sqlite:///{tmp / 'demo.db'}"
            t = time.perf_counter()
            subprocess.run([str(HOTLINE), "--db", db, "init", "--demo"], check=True, capture_output=True)
            print(f"demo store built in {time.perf_counter() - t:.1f} s", flush=True)
        sizes = [s for s in args.sizes.split(",") if s]
        modes = [m for m in args.bytecode.split(",") if m]
        tag = f"hl-bench-{os.getpid()}"
        report = [
            f"\n## Start to the call screen in tmux ({args.runs} runs each; ms min / median / max)",
            "| size | bytecode | launch -> login | Enter -> call screen | Enter -> footer |"
            " sum to call screen | sum to footer | Enter -> draft checked |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for mode in modes:
            prefix = env_prefix(mode, pyc)
            run_once(db, sizes[0], args.user, args.password, f"{tag}-warm", prefix, args.typing)  # warm-up
            for size in sizes:
                rows: list[list[float]] = []
                for i in range(args.runs):
                    r = run_once(db, size, args.user, args.password, f"{tag}-{i}", prefix, args.typing)
                    if r is not None:
                        rows.append(r)
                        print(
                            f"  {size} {mode} run {i + 1}: " + ", ".join(f"{x * 1000:.0f}" for x in r),
                            flush=True,
                        )
                if not rows:
                    report.append(f"| {size} | {mode} | failed | | | | | |")
                    continue
                col = [[r[i] for r in rows] for i in range(4)]
                report.append(
                    f"| {size} | {mode} | {fmt(col[0])} | {fmt(col[1])} | {fmt(col[2])} |"
                    f" {fmt([r[0] + r[1] for r in rows])} | {fmt([r[0] + r[2] for r in rows])} | {fmt(col[3])} |"
                )
        if args.baseline:
            script = tmp / "baseline_app.py"
            script.write_text(BASELINE_APP, encoding="utf-8")
            prefix = env_prefix(modes[0], pyc)
            for size in sizes:
                run_baseline(script, size, f"{tag}-base-warm", prefix)
                times = [
                    t
                    for i in range(args.runs)
                    if (t := run_baseline(script, size, f"{tag}-base-{i}", prefix))
                ]
                if times:
                    report.append(
                        f"| {size} | {modes[0]} | minimal Textual app, launch -> label + footer: {fmt(times)} | | | | | |"
                    )
        print("\n".join(report), flush=True)
        if args.profile:
            print("\n".join(profile(db, args, app_env("cached", pyc))), flush=True)
        print(f"\nmachine at the end: {machine()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
