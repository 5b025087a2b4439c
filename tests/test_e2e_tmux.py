"""The real program in a real terminal (tmux): log in, open an order, reveal the caller with a reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from hotline_tui.db import read_session
from hotline_tui.models import Event
from hotline_tui.services.admin import set_password
from hotline_tui.services.core import SYSTEM, Ctx
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from tests.conftest import World

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
PW = "Hotline2025a"


class Term:
    def __init__(self, session: str) -> None:
        self.session = session

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True, text=True, check=False
        )
        return out.stdout

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text not in self.screen():
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} is still on the screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", text], check=True)


@pytest.fixture
def term(sqlite_world: World, tmp_path: Path) -> Iterator[tuple[Term, World]]:
    w = sqlite_world
    set_password(Ctx(w.engine, w.policy, SYSTEM, w.clock), "agent1", PW)
    no = create_ticket(
        w.as_("agent1"),
        IntakeForm(
            "complaint",
            "phone",
            "友谊路与围堤道交口路灯连续三晚不亮",
            caller_name="王先生",
            caller_phone="13812345678",
        ),
    ).no
    dispatch(w.as_("disp1"), no, ["HX-CG"])
    session = f"hotline-{uuid.uuid4().hex[:8]}"
    url = w.engine.url.render_as_string(hide_password=False)
    cmd = (
        f"PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring {sys.executable} -m hotline_tui "
        f"--db {url} --user agent1 --now 2025-01-24T16:00:00; sleep 30"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd], check=True)
    try:
        yield Term(session), w
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_login_reveal_and_quit_in_a_real_terminal(term: tuple[Term, World]) -> None:
    t, w = term
    t.wait_for("登录")
    t.wait_for("没有可用的密钥环")  # an SSH-like host: said on the screen (once the check is done), no crash
    t.type("not-the-pass1")
    t.keys("Enter")
    t.wait_for("用户名或密码错误")
    t.type(PW)
    t.keys("Enter")
    t.wait_for("联系电话")  # an agent lands on the call screen
    t.keys("Escape")  # empty form: esc shows the ticket list
    t.wait_for("TJ20250124-000001")  # the list has loaded (the header comes first)
    t.keys("Enter")
    shown = t.wait_for("138****5678")
    assert "13812345678" not in shown
    t.keys("v")
    t.wait_for("查看理由")
    t.type("核实来电人身份")
    t.keys("Enter")
    t.wait_for("13812345678")
    t.keys("Escape")
    t.wait_gone("已留痕")  # back on the list (an ESC followed at once by q would read as alt+q)
    t.keys("q")
    t.wait_gone("工单号")  # the program quit (the pane stays open for `sleep`)
    deadline = time.monotonic() + 10
    kinds: list[str] = []
    while time.monotonic() < deadline:
        with read_session(w.engine) as s:
            kinds = [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]
        if "pii_revealed" in kinds:
            break
        time.sleep(0.2)
    assert ["login_failed", "login_succeeded"] == [k for k in kinds if k.startswith("login")]
    assert kinds[-1] == "pii_revealed"


def start_hotline(session: str, w: World, size: tuple[int, int] = (80, 24)) -> Term:
    url = w.engine.url.render_as_string(hide_password=False)
    cmd = (
        f"PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring {sys.executable} -m hotline_tui "
        f"--db {url} --user agent1 --now 2025-01-24T16:00:00; sleep 30"
    )
    width, height = size
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), cmd], check=True
    )
    return Term(session)


def hotline_pid(session: str) -> int:
    """The pid of the program in the pane (the shell's child running python -m hotline_tui)."""
    shell = subprocess.run(
        ["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = subprocess.run(
        ["pgrep", "-P", shell, "-f", "hotline_tui"], capture_output=True, text=True, check=False
    )
    pids = [int(p) for p in out.stdout.split()]
    assert pids, "the program is not running in the pane"
    return pids[0]


@pytest.mark.slow
def test_call_typed_in_chinese_survives_kill_9_and_is_dispatched(sqlite_world: World) -> None:
    """The real program at 80×24: type a call in Chinese, read it back, kill -9 it, start again, get
    the draft back, dispatch it; the ticket is in the store with its assignment."""
    import os
    import signal

    w = sqlite_world
    set_password(Ctx(w.engine, w.policy, SYSTEM, w.clock), "agent1", PW)
    session = f"hotline-{uuid.uuid4().hex[:8]}"
    t = start_hotline(session, w)
    try:
        t.wait_for("没有可用的密钥环")
        t.type(PW)
        t.keys("Enter")
        t.wait_for("联系电话")
        t.type("13812345678")
        time.sleep(0.3)
        t.keys("M-m")
        time.sleep(0.3)
        t.type("友谊路路灯不亮三天了")
        t.wait_for("友谊路路灯不亮三天了")  # typed Chinese, read back from the screen
        t.wait_for("草稿已存")
        time.sleep(1.0)
        os.kill(hotline_pid(session), signal.SIGKILL)
        t.wait_for("Killed")  # the shell reports the SIGKILL; the screen is left as it was
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    session = f"hotline-{uuid.uuid4().hex[:8]}"
    t = start_hotline(session, w, (160, 48))
    try:
        t.wait_for("没有可用的密钥环")
        t.type(PW)
        t.keys("Enter")
        shown = t.wait_for("恢复草稿")
        assert "友谊路路灯不亮三天了" in shown and "13812345678" in shown
        t.keys("y")
        t.wait_gone("恢复草稿")
        shown = t.wait_for("友谊路路灯不亮三天了")
        assert "13812345678" in shown
        t.keys("M-t")
        time.sleep(0.3)
        t.keys("3")  # 投诉, by its number
        t.wait_for("3 投诉")
        t.keys("C-o")
        t.wait_for("选择承办单位")
        t.type("csgl")  # 城市管理, by pinyin initials
        t.keys("Enter")  # at once: the picker takes the first unit found for "csgl", not a stale list
        t.wait_for("派往：河西区城市管理委员会")
        t.wait_for("办理时限 5个工作日")
        t.keys("C-s")
        shown = t.wait_for("已受理并派单")
        assert "TJ20250124-000001" in shown
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    with read_session(w.engine) as s:
        from hotline_tui.models import Assignment, Ticket

        [ticket] = s.exec(select(Ticket)).all()
        [a] = s.exec(select(Assignment)).all()
    assert ticket.text == "友谊路路灯不亮三天了" and ticket.caller_phone == "13812345678"
    assert a.ticket_id == ticket.id and a.status == "pending"
