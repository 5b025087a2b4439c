"""Liaison officers over SSH: first frame of the unit inbox through ``ssh -t``, and many scripted SSH
sessions on one SQLite store at once. Needs root, sshd, tmux and python3-venv, like tests/test_ssh.py.

    .venv/bin/python benchmarks/ssh_sessions.py                       # ~1.5 min with a warm venv cache
    .venv/bin/python benchmarks/ssh_sessions.py --runs 7 --sessions 20 --spread 10

The same deployment as the tests (``tests/ssh_harness.deployed_env``): deploy/install.sh into the cached
venv, a fresh store seeded through the services on the real clock, officers made by deploy/add-officer.sh,
a throwaway sshd on 127.0.0.1. Then:

1. *first frame*: ``ssh -t`` (key login) in a fresh 100x30 tmux session per run, polling
   ``tmux capture-pane`` every 20 ms: until the inbox's tab "待接单" is on screen, and until its row (the
   order number) is. One discarded warm-up run.
2. *one command, idle*: ``ssh host 'ticket show NO'`` one after another, and ``ssh host 'init'`` (refused
   before the store is opened: ssh plus the program's start, the floor); and the CPU time (user + sys)
   of the forced command run directly as the officer (``runuser``), which sets how many logins the
   host's cores serve at once.
3. *concurrent sessions*: ``--sessions`` officers' sessions (5 OS accounts of nested units) started
   together, or spread evenly over ``--spread`` seconds. Mode *one login*: each session is one SSH login
   running ``ticket accept OWN; ticket note OWN …; ticket note SHARED …``. Mode *three logins*: the same
   three commands as three SSH logins in a row. Wall time, per login p50 / max, exit codes and lock errors.

ms, min / median / max. The machine's other load shows in every number: note it with the results.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import ssh_harness as harness  # noqa: E402


def ms(values: list[float]) -> str:
    v = sorted(values)
    return f"{v[0] * 1000:.0f} / {statistics.median(v) * 1000:.0f} / {v[-1] * 1000:.0f}"


def screen(session: str) -> str:
    out = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    )
    return out.stdout


def first_frame(env: harness.Env) -> tuple[float, float]:
    session = f"hotline-bench-{uuid.uuid4().hex[:8]}"
    cmd = shlex.join(env.sshd.ssh(env.e2e, tty=True)) + "; sleep 30"
    started = time.monotonic()
    harness.tmux_start(session, cmd)
    tab = row = 0.0
    try:
        deadline = started + 30
        while time.monotonic() < deadline and not row:
            shown = screen(session)
            now = time.monotonic() - started
            if not tab and "待接单" in shown:
                tab = now
            if env.e2e_order in shown:
                row = now
                tab = tab or now
            time.sleep(0.02)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    if not row:
        raise SystemExit("the inbox never showed the order through ssh -t")
    return tab, row


def forced_command_cpu(env: harness.Env, command: str) -> float:
    """CPU seconds (user + sys) of what sshd runs for a scripted login, run directly as the officer."""
    officer = env.chain[0]
    argv = [
        "runuser",
        "-u",
        officer.os_user,
        "--",
        "/usr/bin/env",
        "SSH_CONNECTION=127.0.0.1 50000 127.0.0.1 22",
        f"SSH_ORIGINAL_COMMAND={command}",
        "LANG=C.UTF-8",
        "LC_ALL=C.UTF-8",
        f"HOTLINE_DB={env.dep.url}",
        str(env.dep.hotline),
        "ssh-session",
        "--as",
        officer.hotline_user,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"the forced command failed: {proc.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def concurrent(
    env: harness.Env, orders: list[str], *, one_login: bool, spread: float
) -> tuple[float, list[float], int, int]:
    n = len(orders)

    def session(i: int) -> list[tuple[int, str, str, float]]:
        time.sleep(spread * i / n)
        officer = env.chain[i % len(env.chain)]
        commands = [
            f"ticket accept {orders[i]}",
            f"ticket note {orders[i]} --text '第{i}号会话：已到现场核实'",
            f"ticket note {env.shared_order} --text '第{i}号会话：协同处理'",
        ]
        if one_login:
            return [harness.ssh_run(env.sshd, officer, "; ".join(commands))]
        return [harness.ssh_run(env.sshd, officer, c) for c in commands]

    started = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = [r for rs in pool.map(session, range(n)) for r in rs]
    wall = time.monotonic() - started
    failed = sum(1 for r in results if r[0] != 0)
    locked = sum(1 for r in results if "locked" in r[2] or "繁忙" in r[2])
    return wall, [r[3] for r in results], failed, locked


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="first-frame and idle-command runs")
    ap.add_argument("--sessions", type=int, default=20, help="concurrent sessions (a multiple of 5)")
    ap.add_argument("--spread", type=float, default=0.0, help="start the sessions over this many seconds")
    args = ap.parse_args()
    reason = harness.skip_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    n = args.sessions - args.sessions % len(harness.CHAIN) or len(harness.CHAIN)
    print(f"# SSH sessions — {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}\n")
    with harness.deployed_env(sessions=2 * n) as env:
        print(
            f"deploy/install.sh (venv cached, project reinstalled, store created): {env.dep.seconds:.1f} s\n"
        )
        first_frame(env)  # warm-up: page cache, sshd
        frames = [first_frame(env) for _ in range(args.runs)]
        print("| `ssh -t` to the unit inbox (100x30, key login) | ms, min / median / max |\n|---|---|")
        print(f"| tab 待接单 on screen | {ms([f[0] for f in frames])} |")
        print(f"| the order's row on screen | {ms([f[1] for f in frames])} |\n")

        cpu = [forced_command_cpu(env, f"ticket show {env.shared_order}") for _ in range(args.runs)]
        cpu3 = [
            forced_command_cpu(env, f"ticket show {env.shared_order}; ticket list; kb search 路灯")
            for _ in range(args.runs)
        ]
        show = [
            harness.ssh_run(env.sshd, env.chain[0], f"ticket show {env.shared_order}")
            for _ in range(args.runs)
        ]
        refused = [harness.ssh_run(env.sshd, env.chain[0], "init") for _ in range(args.runs)]
        assert all(r[0] == 0 for r in show) and all(r[0] == 2 for r in refused)
        print("| one SSH command, nothing else running | ms, min / median / max |\n|---|---|")
        print(f"| `ticket show NO` | {ms([r[3] for r in show])} |")
        print(f"| `init` (refused before the store opens) | {ms([r[3] for r in refused])} |")
        print(f"| CPU of the forced command alone, `ticket show NO` (user + sys) | {ms(cpu)} |")
        print(f"| CPU of the forced command alone, three commands in one login | {ms(cpu3)} |\n")

        print(
            f"| {n} sessions, started over {args.spread:g} s | wall s | logins | per login p50 / max ms "
            "| failed | lock errors |\n|---|---:|---:|---|---:|---:|"
        )
        for one_login, orders in ((True, env.own_orders[:n]), (False, env.own_orders[n:])):
            wall, took, failed, locked = concurrent(env, orders, one_login=one_login, spread=args.spread)
            took.sort()
            mode = "one login, 3 commands" if one_login else "3 logins, 1 command each"
            print(
                f"| {mode} | {wall:.1f} | {len(took)} | {statistics.median(took) * 1000:.0f} / "
                f"{took[-1] * 1000:.0f} | {failed} | {locked} |"
            )
        verify = subprocess.run(
            [str(env.dep.hotline), "audit", "verify"],
            env={**os.environ, "HOTLINE_DB": env.dep.url},
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"\n`hotline audit verify`: exit {verify.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
