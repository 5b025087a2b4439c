"""Time from launching ``hotline`` to its first screen with data, in a real terminal (tmux).

Run: ``python benchmarks/startup.py [--runs 7] [--user agent1]``. Builds a demo store in a temp dir,
then starts the app in a detached tmux session per run and polls ``capture-pane`` until the ticket
table's header is on screen. Prints min / median / max. Not part of the test suite (DESIGN.md target:
start to interactive screen <= 1.0 s on a 2-core machine).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
READY = "工单号"  # the ticket table's first column header


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--user", default="agent1")
    parser.add_argument("--size", default="160x48")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    width, height = args.size.split("x")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-start-"))
    db = f"sqlite:///{tmp / 'demo.db'}"
    subprocess.run([str(HOTLINE), "--db", db, "init", "--demo"], check=True, capture_output=True)
    times: list[float] = []
    for i in range(args.runs):
        session = f"hotline-start-{i}"
        start = time.perf_counter()
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", width, "-y", height,
             f"{HOTLINE} --db {db} --user {args.user}"],
            check=True,
        )  # fmt: skip
        try:
            while time.perf_counter() - start < 20:
                pane = subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
                )
                if READY in pane.stdout:
                    times.append(time.perf_counter() - start)
                    break
                time.sleep(0.02)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if not times:
        print("the screen never appeared", file=sys.stderr)
        return 1
    print(f"start to first screen with tickets ({args.size}, {len(times)} runs): "
          f"min {min(times):.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
