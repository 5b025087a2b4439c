"""Handling units over SSH: ``hotline ssh-setup``, ``hotline ssh-session``, key logins, and the real
thing — deploy/install.sh, deploy/add-officer.sh, a throwaway sshd, ``ssh -t`` in tmux to accept an order
on the unit inbox, and 20 concurrent SSH sessions on one SQLite store.

The first part runs anywhere; the SSH part needs root, sshd, tmux and /usr/bin/python3 with venv
(``tests/ssh_harness.py``) and skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from hotline_tui.cli import main
from hotline_tui.clock import SystemClock
from hotline_tui.db import make_engine, read_session, write_session
from hotline_tui.errors import InvalidInput
from hotline_tui.models import Assignment, Event, Ticket, User
from hotline_tui.policy import load_policy
from hotline_tui.services.accounts import (
    INACTIVE,
    AccountLocked,
    LoginFailed,
    authenticate,
    locked_message,
    trusted_login,
)
from hotline_tui.services.admin import deactivate_user, set_password
from hotline_tui.services.core import SYSTEM, Ctx
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from hotline_tui.ssh import (
    FORBIDDEN_OPTIONS,
    Mapping,
    SessionSettings,
    force_command,
    scripted_argv,
    split_commands,
)
from tests import ssh_harness as harness
from tests.conftest import World, seed
from tests.test_e2e_tmux import Term

PW = harness.PW
TRUE = "/usr/bin/true"  # a world-executable file standing in for the deployed hotline in pure tests


@pytest.fixture
def keep_umask() -> Iterator[None]:
    """ssh-session sets the process umask (as it should in its own process): put ours back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def events(engine: Engine, kind: str) -> list[Event]:
    with read_session(engine) as s:
        return list(s.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def order_for(w: World, unit: str, text: str = "友谊路与围堤道交口路灯连续三晚不亮") -> str:
    no = create_ticket(
        w.as_("agent1"),
        IntakeForm("complaint", "phone", text, caller_name="王先生", caller_phone="13812345678"),
    ).no
    dispatch(w.as_("disp1"), no, [unit])
    return no


# ---------------------------------------------------------------- trusted_login


def test_trusted_login_records_the_key_and_the_client_address(sqlite_world: World) -> None:
    w = sqlite_world
    actor = trusted_login(w.as_("cg"), "cg", method="ssh_key", source="192.0.2.7")
    assert (actor.name, actor.role) == ("cg", "liaison") and actor.unit_ids
    [ev] = events(w.engine, "login_succeeded")
    assert ev.actor == "cg" and ev.payload == {"user": "cg", "method": "ssh_key", "source": "192.0.2.7"}


def test_trusted_login_refuses_locked_and_inactive_accounts_as_a_password_login_does(
    sqlite_world: World,
) -> None:
    w = sqlite_world
    admin = Ctx(w.engine, w.policy, SYSTEM, w.clock)
    set_password(admin, "cg", PW)
    until = SystemClock().now() + timedelta(minutes=10)  # both logins below read the real clock
    with write_session(w.engine) as s:
        user = s.exec(select(User).where(User.name == "cg")).one()
        user.locked_until = until
        s.add(user)
    with pytest.raises(AccountLocked) as by_key:
        trusted_login(w.engine, "cg", method="ssh_key", source="127.0.0.1")
    with pytest.raises(AccountLocked) as by_password:
        authenticate(w.engine, "cg", PW)
    assert by_key.value.message == by_password.value.message == locked_message(until)
    refused = events(w.engine, "login_failed")
    assert [e.payload["reason"] for e in refused] == ["locked", "locked"]
    assert refused[0].payload["method"] == "ssh_key"

    set_password(admin, "zj", PW)
    deactivate_user(admin, "zj")
    with pytest.raises(LoginFailed) as inactive_by_key:
        trusted_login(w.engine, "zj", method="ssh_key", source="127.0.0.1")
    with pytest.raises(LoginFailed) as inactive_by_password:
        authenticate(w.engine, "zj", PW)
    assert inactive_by_key.value.message == inactive_by_password.value.message == INACTIVE
    assert [e.payload["reason"] for e in events(w.engine, "login_failed")][-2:] == ["inactive", "inactive"]
    with pytest.raises(LoginFailed):
        trusted_login(w.engine, "nobody", method="ssh_key", source="127.0.0.1")
    assert not events(w.engine, "login_succeeded")


# ---------------------------------------------------------------- ssh-setup


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One seeded store for the ssh-setup tests (they only read it); sw is deactivated."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ssh_setup') / 'store.db'}")
    seed(engine)
    deactivate_user(Ctx(engine, load_policy("tianjin"), SYSTEM, SystemClock()), "sw")
    yield str(engine.url)
    engine.dispose()


def setup_args(url: str, *more: str) -> list[str]:
    return ["ssh-setup", "--db", url, "--hotline", TRUE, *more]


def test_setup_writes_one_match_block_per_account_with_everything_fixed(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(setup_args(store_url, "--map", "hl_cg=cg", "--map", "hl_zm=zm:password", "--escdelay", "150"))
        == 0
    )
    out = capsys.readouterr().out
    blocks = out.split("Match User ")[1:]
    assert [b.split("\n", 1)[0] for b in blocks] == ["hl_cg", "hl_zm"]
    for block, name in zip(blocks, ("cg", "zm"), strict=True):
        force = next(line for line in block.splitlines() if "ForceCommand" in line)
        argv = shlex.split(force.split("ForceCommand", 1)[1])
        assert argv[:2] == ["exec", "/usr/bin/env"]
        assert {
            "LANG=C.UTF-8",
            "LC_ALL=C.UTF-8",
            "TEXTUAL_COLOR_SYSTEM=256",
            "ESCDELAY=150",
            f"HOTLINE_DB={store_url}",
        } <= set(argv)
        assert argv[argv.index(TRUE) :][:4] == [TRUE, "ssh-session", "--as", name]
        for directive in (
            "PermitTTY yes",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "PermitTunnel no",
            "PermitUserRC no",
        ):
            assert f"    {directive}\n" in block
    assert "AuthenticationMethods publickey" in blocks[0] and "--password" not in blocks[0]
    assert "AuthenticationMethods" not in blocks[1] and force.endswith("--as zm --password")


def test_force_command_quotes_the_store_url_for_the_shell() -> None:
    url = "postgresql+psycopg://hotline@/hotline?host=/var/run/postgresql&sslmode=disable"
    command = force_command(Mapping("hl_hx", "hx"), SessionSettings(TRUE, url))
    assert f"HOTLINE_DB={url}" in shlex.split(command)
    assert "'" in command  # the & would end the command in a shell


def test_setup_from_store_maps_every_active_liaison(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup_args(store_url, "--from-store", "--prefix", "hl_", "--json")) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    pairs = [(m["os_user"], m["hotline_user"], m["auth"]) for m in report["mappings"]]
    assert pairs == [(f"hl_{n}", n, "key") for n in ("cg", "jt", "ys", "zj", "zm")]
    assert "Match User hl_cg\n" in report["config"]


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        (["--map", "hl_cg=c g"], "不能写入 sshd 配置"),
        (["--map", "hl_cg=cg'; rm -rf /"], "不能写入 sshd 配置"),
        (["--map", "hl_cg=cg\nMatch all"], "不能写入 sshd 配置"),
        (["--map", "HL CG=cg"], "系统账户名不合规"),
        (["--map", "hl_cg"], "--map 格式"),
        (["--map", "hl_cg=cg:token"], "未知的登录方式"),
        (["--map", "hl_x=nobody"], "热线用户不存在：nobody"),
        (["--map", "hl_x=sw"], "已停用"),
        (["--map", "a=cg", "--map", "a=zm"], "重复映射"),
        (["--map", "a=cg", "--color-system", "rgb"], "未知的终端颜色模式"),
        (["--map", "a=cg", "--escdelay", "25"], "ESCDELAY"),
        ([], "请用 --map"),
        (["--from-store", "--prefix", "HL-"], "不合规"),
    ],
)
def test_setup_refuses_and_writes_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], more: list[str], expected: str
) -> None:
    out = tmp_path / "hotline.conf"
    assert main(setup_args(store_url, *more, "--out", str(out))) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and not captured.out
    assert not out.exists()


@pytest.mark.parametrize(
    ("db", "hotline", "expected"),
    [
        ("postgresql://hotline:secret@db/hotline", TRUE, "不能含密码"),
        ("sqlite:///relative/hotline.db", TRUE, "绝对路径"),
        ("sqlite:////var/lib/hot line.db", TRUE, "不能写入 sshd 配置的字符"),
        ("{db}", "relative/hotline", "绝对路径"),
        ("{db}", "/nonexistent/bin/hotline", "找不到可执行的 hotline"),
    ],
)
def test_setup_refuses_unsafe_store_urls_and_programs(
    store_url: str, capsys: pytest.CaptureFixture[str], db: str, hotline: str, expected: str
) -> None:
    url = db.format(db=store_url)
    assert main(["ssh-setup", "--db", url, "--hotline", hotline, "--map", "hl_cg=cg"]) == 2
    assert expected in capsys.readouterr().err


def test_setup_refuses_a_program_other_accounts_cannot_run(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    program = private / "hotline"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert main(["ssh-setup", "--db", store_url, "--hotline", str(program), "--map", "a=cg"]) == 2
    assert "其他系统账户无权执行" in capsys.readouterr().err


# ---------------------------------------------------------------- ssh-session (in this process)


def test_scripted_commands_whitelist() -> None:
    assert scripted_argv("ticket accept TJ1") == ["ticket", "accept", "TJ1"]
    assert scripted_argv("hotline --json ticket note TJ1 --text '已到现场'") == [
        "--json",
        "ticket",
        "note",
        "TJ1",
        "--text",
        "已到现场",
    ]
    for command in (
        "init",
        "backup /tmp/x",
        "ticket dispatch TJ1 --unit HX",
        "user passwd cg",
        "audit log",
        "--user disp1 ticket accept TJ1",
        "ticket",
        "",
        "ticket note TJ1 --text '未闭合",
    ):
        with pytest.raises(InvalidInput):
            scripted_argv(command)
    for option in FORBIDDEN_OPTIONS:
        for spelling in (f"{option} x", f"{option}=x", f"{option[:4]} x", f"-{option[2:]} x"):
            with pytest.raises(InvalidInput, match="不能使用"):
                scripted_argv(f"ticket accept TJ1 {spelling}")


def test_several_commands_split_like_a_shell_outside_quotes() -> None:
    assert split_commands("ticket accept A; ticket note A --text 'x;y'\nkb search 社保;;") == [
        "ticket accept A",
        " ticket note A --text 'x;y'",
        "kb search 社保",
    ]
    assert split_commands('ticket note A --text "a\\"; b"; ticket show A') == [
        'ticket note A --text "a\\"; b"',
        " ticket show A",
    ]
    with pytest.raises(InvalidInput, match="最多"):
        split_commands("ticket list;" * 51)


def test_session_outside_ssh_is_refused(
    monkeypatch: pytest.MonkeyPatch, keep_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "ticket list")
    assert main(["ssh-session", "--as", "cg"]) == 2
    assert "只能作为 SSH 登录的强制命令运行" in capsys.readouterr().err


def test_session_runs_whitelisted_commands_as_the_mapped_user_only(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, keep_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    w = sqlite_world.at(SystemClock().now())
    no = order_for(w, "HX-CG")
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50000 127.0.0.1 22")
    monkeypatch.setenv("HOTLINE_DB", str(w.engine.url))
    monkeypatch.setenv("HOTLINE_NOW", "2020-01-01T00:00:00")  # the session drops it: the clock is real
    before = len(events(w.engine, "accepted"))
    for command in (
        f"--user disp1 ticket accept {no}",
        f"ticket accept {no} --user=zm",
        "init",
        "backup x",
        f"ticket accept {no}; init",  # every command is checked before the first runs
    ):
        monkeypatch.setenv("SSH_ORIGINAL_COMMAND", command)
        assert main(["ssh-session", "--as", "cg"]) == 2
        assert "通过 SSH 不能" in capsys.readouterr().err
    monkeypatch.delenv("SSH_ORIGINAL_COMMAND")
    assert main(["ssh-session", "--as", "cg"]) == 2  # no terminal under pytest
    assert "ssh -t" in capsys.readouterr().err
    assert len(events(w.engine, "accepted")) == before
    monkeypatch.setenv(
        "SSH_ORIGINAL_COMMAND", f"ticket accept {no}\nticket note {no} --text '已到现场；核实中'"
    )
    assert main(["ssh-session", "--as", "cg"]) == 0
    assert "已接单" in capsys.readouterr().out
    [ev] = events(w.engine, "accepted")[before:]
    assert ev.actor == "cg"
    assert [e.payload["text"] for e in events(w.engine, "note")] == ["已到现场；核实中"]
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", f"ticket accept {no}; ticket note {no} --text 不会记录")
    assert main(["ssh-session", "--as", "cg"]) == 2  # the first fails: the rest does not run
    assert "不能重复接单" in capsys.readouterr().err
    assert len(events(w.engine, "note")) == 1
    assert os.umask(0o022) == 0o002  # what the session set for the files it creates


# ---------------------------------------------------------------- the real deployment over SSH

PASSWORD_USER = harness.PASSWORD_USER
CHAIN = harness.CHAIN
SESSIONS = harness.SESSIONS
Env = harness.Env


@pytest.fixture(scope="module")
def ssh_env() -> Iterator[Env]:
    reason = harness.skip_reason()
    if reason:
        pytest.skip(reason)
    with harness.deployed_env() as env:
        yield env


def wait_lines(t: Term, found: Callable[[str], bool], timeout: float = 15.0) -> str:
    """Wait until some line of the screen satisfies ``found``; return the screen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        shown = t.screen()
        if any(found(line) for line in shown.splitlines()):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"no such line appeared; the screen was:\n{t.screen()}")


def ssh_run(env: Env, officer: harness.Officer, command: str) -> tuple[int, str, str, float]:
    return harness.ssh_run(env.sshd, officer, command)


@pytest.mark.slow
def test_deployed_snippet_passes_sshd_check(ssh_env: Env) -> None:
    env = ssh_env
    snippet = env.sshd.snippet.read_text()
    for officer in (env.e2e, env.password, *env.chain):
        assert f"Match User {officer.os_user}\n" in snippet
    check = subprocess.run(
        [harness.SSHD, "-t", "-f", str(env.sshd.config)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr

    def effective(officer: harness.Officer) -> dict[str, str]:
        """sshd's own reading of its configuration for this account (``sshd -T -C``)."""
        out = subprocess.run(
            [
                harness.SSHD,
                "-T",
                "-f",
                str(env.sshd.config),
                "-C",
                f"user={officer.os_user},host=x,addr=127.0.0.1",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    key, password = effective(env.e2e), effective(env.password)
    assert shlex.split(key["forcecommand"])[-4:] == [str(env.dep.hotline), "ssh-session", "--as", "zj"]
    assert f"HOTLINE_DB={env.dep.url}" in shlex.split(key["forcecommand"])
    assert "ESCDELAY=100" in key["forcecommand"] and "TEXTUAL_COLOR_SYSTEM=256" in key["forcecommand"]
    assert key["authenticationmethods"] == "publickey" and password["authenticationmethods"] == "any"
    assert password["forcecommand"].endswith(f"--as {harness.PASSWORD_USER} --password")
    for conf in (key, password):
        assert (conf["permittty"], conf["x11forwarding"], conf["allowagentforwarding"]) == ("yes", "no", "no")
        assert (conf["allowtcpforwarding"], conf["permittunnel"], conf["permituserrc"]) == ("no", "no", "no")
    mode = env.dep.store.stat().st_mode
    assert mode & 0o2775 == 0o2775  # setgid, group-writable
    for name in ("hotline.db", "hotline.db-writers"):
        st = (env.dep.store / name).stat()
        assert st.st_mode & 0o777 == 0o664


@pytest.mark.slow
def test_session_refusals_over_ssh(ssh_env: Env) -> None:
    env = ssh_env
    officer = env.chain[0]
    no = env.own_orders[0]
    commands = {
        f"--user disp1 ticket accept {no}": "通过 SSH 不能执行该命令",
        f"ticket accept {no} --user disp1": "不能使用 --user",
        f"ticket list --db {env.dep.url}": "不能使用 --db",
        "ticket list --now 2025-01-01T00:00:00": "不能使用 --now",
        "init": "通过 SSH 不能执行该命令",
        "backup /tmp/x": "通过 SSH 不能执行该命令",
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        results = dict(zip(commands, pool.map(lambda c: ssh_run(env, officer, c), commands), strict=True))
    for command, expected in commands.items():
        rc, _out, err, _ = results[command]
        assert rc == 2 and expected in err, (command, err)
    rc, _out, err, _ = ssh_run(env, officer, "")  # no command and no terminal
    assert rc == 2 and "ssh -t" in err
    with read_session(env.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.no == no)).one()
        assert s.exec(select(Assignment.status).where(Assignment.ticket_id == ticket.id)).all() == ["pending"]


@pytest.mark.slow
def test_liaison_accepts_an_order_on_the_unit_inbox_through_ssh(ssh_env: Env) -> None:
    """ssh -t with a key, in tmux: straight onto the unit inbox, open the order, accept it."""
    env = ssh_env
    no = env.e2e_order
    session = f"hotline-ssh-{uuid.uuid4().hex[:8]}"
    cmd = shlex.join(env.sshd.ssh(env.e2e, tty=True)) + "; sleep 30"
    started = time.monotonic()
    harness.tmux_start(session, cmd)
    t = Term(session)
    try:
        shown = t.wait_for(no, timeout=20)
        first_frame = time.monotonic() - started
        assert "待接单" in shown
        t.keys("Enter")
        t.wait_for(f"工单 {no}")
        t.keys("a")
        t.wait_for("确认接单")
        t.keys("y")
        t.wait_gone("确认接单")
        shown = wait_lines(t, lambda line: line.lstrip().startswith("本单位") and "办理中" in line)
        # the toast (the order's action list also says "只有已接单…" about other actions)
        shown = wait_lines(t, lambda line: "已接单" in line and "只有已接单" not in line)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    print(f"\nssh -t to the unit inbox with the order listed: {first_frame * 1000:.0f} ms")
    with read_session(env.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.no == no)).one()
        [a] = s.exec(select(Assignment).where(Assignment.ticket_id == ticket.id)).all()
        accepted = s.exec(select(Event).where(Event.kind == "accepted", Event.ticket_id == ticket.id)).all()
        logins = s.exec(select(Event).where(Event.kind == "login_succeeded", Event.actor == "zj")).all()
    assert a.status == "handling"
    assert [e.actor for e in accepted] == ["zj"]
    assert logins and all(e.payload["method"] == "ssh_key" for e in logins)
    assert logins[-1].payload["source"] == "127.0.0.1"


@pytest.mark.slow
def test_password_mode_asks_for_the_hotline_password(ssh_env: Env) -> None:
    env = ssh_env
    session = f"hotline-ssh-{uuid.uuid4().hex[:8]}"
    cmd = shlex.join(env.sshd.ssh(env.password, tty=True)) + "; sleep 30"
    harness.tmux_start(session, cmd)
    t = Term(session)
    try:
        t.wait_for("没有可用的密钥环", timeout=20)  # the login screen, name prefilled, no keyring on the host
        assert PASSWORD_USER in t.screen()
        t.type(PW)
        t.keys("Enter")
        t.wait_for("待接单")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    with read_session(env.engine) as s:
        logins = s.exec(
            select(Event).where(Event.kind == "login_succeeded", Event.actor == PASSWORD_USER)
        ).all()
    assert len(logins) == 1 and "method" not in logins[0].payload  # a password login


@pytest.mark.slow
def test_twenty_concurrent_ssh_sessions_on_one_sqlite_store(ssh_env: Env) -> None:
    """5 officers of nested units × 4 sessions each, all at once, each one SSH login running three
    commands: accept one's own order, note it, note the shared order. No lock error, nothing applied
    twice, no note lost, the audit chain intact."""
    env = ssh_env
    writers = env.dep.store / "hotline.db-writers"
    writers.unlink()  # the first officer to write creates it again: it must come out group-writable

    def session(i: int) -> tuple[int, str, str, float]:
        own = env.own_orders[i]
        script = "; ".join(
            (
                f"ticket accept {own}",
                f"ticket note {own} --text '第{i}号会话：已到现场核实'",
                f"ticket note {env.shared_order} --text '第{i}号会话：协同处理井盖'",
            )
        )
        return ssh_run(env, env.chain[i % len(env.chain)], script)

    started = time.monotonic()
    with ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(session, range(SESSIONS)))
    wall = time.monotonic() - started
    for rc, out, err, _ in results:
        assert rc == 0, err
        assert "locked" not in err and "繁忙" not in err
        assert out.count("已接单") == 1 and out.count("已记录办理进展") == 2
    took = sorted(r[3] for r in results)
    print(
        f"\n{SESSIONS} concurrent SSH sessions x 3 commands: wall {wall:.1f} s, per session "
        f"p50 {statistics.median(took) * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms"
    )

    with read_session(env.engine) as s:
        by_no = {t.no: t.id or 0 for t in s.exec(select(Ticket))}
        accepted = s.exec(select(Event).where(Event.kind == "accepted")).all()
        notes = s.exec(select(Event).where(Event.kind == "note")).all()
        own_ids = {by_no[no] for no in env.own_orders}
        statuses = s.exec(select(Assignment.status).where(col(Assignment.ticket_id).in_(own_ids))).all()
    assert sorted(e.ticket_id or 0 for e in accepted if e.ticket_id in own_ids) == sorted(own_ids)
    assert statuses == ["handling"] * SESSIONS
    shared_notes = [e for e in notes if e.ticket_id == by_no[env.shared_order]]
    own_notes = [e for e in notes if e.ticket_id in own_ids]
    assert len(shared_notes) == SESSIONS and len(own_notes) == SESSIONS
    assert {e.payload["text"] for e in shared_notes} == {
        f"第{i}号会话：协同处理井盖" for i in range(SESSIONS)
    }
    assert {e.actor for e in shared_notes} == {f"c{i}" for i in range(len(CHAIN))}

    st = writers.stat()
    assert st.st_mode & 0o777 == 0o664 and st.st_uid != 0  # made by an officer under umask 002
    verify = subprocess.run(
        [str(env.dep.hotline), "audit", "verify"],
        env={**os.environ, "HOTLINE_DB": env.dep.url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
