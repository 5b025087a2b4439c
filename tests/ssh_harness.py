"""A real SSH deployment for the tests: deploy/install.sh into a cached venv, a shared store with the
right group and modes, OS accounts made by deploy/add-officer.sh, and a throwaway sshd on 127.0.0.1.

Needs root (useradd, a second sshd), /usr/sbin/sshd, tmux and a /usr/bin/python3 that can build a venv;
``skip_reason()`` says which is missing. Nothing here prints keys, passwords or caller data.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SSHD = "/usr/sbin/sshd"
SYSTEM_PYTHON = "/usr/bin/python3"
GROUP = "hotline-test"
LOCK = "/var/tmp/hotline-ssh-tests.lock"
PW = "Hotline2025a"
PASSWORD_USER = "jt"  # the officer in --auth password mode
CHAIN = ("CC", "CC-1", "CC-2", "CC-3", "CC-4")  # each unit inside the one before
CHAIN_TOML = "\n".join(
    f'[[unit]]\ncode = "{code}"\nname = "测试区第{i}级单位"\nkind = "{"district" if i == 0 else "sub_unit"}"\n'
    + (f'parent = "{CHAIN[i - 1]}"\n' if i else "")
    for i, code in enumerate(CHAIN)
)
SESSIONS = 20


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "SSH tests need root (useradd, a second sshd)"
    for path, what in ((SSHD, "openssh-server"), ("/usr/bin/ssh", "openssh-client")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {what})"
    if shutil.which("tmux") is None:
        return "tmux is not installed"
    if shutil.which("useradd") is None:
        return "useradd is missing"
    probe = (
        subprocess.run([SYSTEM_PYTHON, "-c", "import venv, ensurepip"], capture_output=True, check=False)
        if os.access(SYSTEM_PYTHON, os.X_OK)
        else None
    )
    if probe is None or probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot build a venv (apt-get install python3-venv)"
    return None


def venv_cache() -> Path:
    """The deployment venv, reused while pyproject.toml (the dependencies) is unchanged."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    return Path(f"/var/tmp/hotline-ssh-venv-{digest}")


@dataclass
class Deployment:
    base: Path
    prefix: Path
    store: Path
    conf: Path
    url: str
    seconds: float  # install.sh's wall time

    @property
    def hotline(self) -> Path:
        return self.prefix / "bin" / "hotline"


def deploy() -> Deployment:
    """Run deploy/install.sh into the cached venv with a fresh store under /var/tmp (others can read it;
    pytest's tmp_path is under a 0700 directory)."""
    base = Path(tempfile.mkdtemp(prefix="hotline-ssh-", dir="/var/tmp"))
    base.chmod(0o755)
    prefix, store, conf = venv_cache(), base / "store", base / "conf"
    started = time.monotonic()
    proc = subprocess.run(
        [
            "bash",
            str(DEPLOY / "install.sh"),
            "--prefix",
            str(prefix),
            "--store",
            str(store),
            "--conf",
            str(conf),
            "--group",
            GROUP,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"deploy/install.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Deployment(
        base, prefix, store, conf, f"sqlite:///{store / 'hotline.db'}", time.monotonic() - started
    )


@dataclass
class Officer:
    os_user: str
    hotline_user: str
    key: Path


@dataclass
class Sshd:
    """A second sshd on 127.0.0.1 with its own host key and config, including the hotline snippet."""

    dep: Deployment
    dir: Path
    port: int = 0
    officers: list[Officer] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def snippet(self) -> Path:
        return self.dir / "hotline.conf"

    @property
    def pidfile(self) -> Path:
        return self.dir / "sshd.pid"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    def prepare(self) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        _keygen(self.dir / "hostkey")
        self.port = free_port()
        self.config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.dir / 'hostkey'}",
                    f"PidFile {self.pidfile}",
                    "AuthorizedKeysFile .ssh/authorized_keys",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes yes",
                    "LogLevel VERBOSE",
                    "MaxStartups 100",  # the concurrency test opens 20 connections at once
                    "PrintMotd no",
                    "PrintLastLog no",
                    f"Include {self.snippet}",
                    "",
                ]
            )
        )

    def add_officer(self, hotline_user: str, *, auth: str = "key") -> Officer:
        """An OS account made by deploy/add-officer.sh, with a fresh key pair."""
        os_user = f"hlt{uuid.uuid4().hex[:6]}_{len(self.officers)}"
        key = self.dir / f"id_{os_user}"
        _keygen(key)
        proc = subprocess.run(
            [
                "bash",
                str(DEPLOY / "add-officer.sh"),
                os_user,
                hotline_user,
                f"{key}.pub",
                "--auth",
                auth,
                "--conf",
                str(self.dep.conf),
                "--snippet",
                str(self.snippet),
                "--sshd-config",
                str(self.config),
                "--no-reload",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        officer = Officer(os_user, hotline_user, key)
        if proc.returncode != 0:
            remove_user(os_user)
            raise RuntimeError(f"deploy/add-officer.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        self.officers.append(officer)
        return officer

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        subprocess.run([SSHD, "-f", str(self.config), "-E", str(self.log)], check=True, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on port {self.port}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def ssh(self, officer: Officer, *, tty: bool = False) -> list[str]:
        """The client command line for ``officer`` (append the remote command, if any)."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-i",
            str(officer.key),
            "-p",
            str(self.port),
            *(["-t"] if tty else ["-T"]),
            "--",  # what follows the destination is the remote command, even when it starts with -
            f"{officer.os_user}@127.0.0.1",
        ]

    def teardown(self) -> None:
        self.stop()
        for officer in self.officers:
            remove_user(officer.os_user)


def tmux_start(session: str, command: str, size: tuple[int, int] = (100, 30)) -> None:
    """A detached tmux session running ``command``. Retried: when the last session has just been killed
    the tmux server is still exiting, and a new session started then fails ("server exited unexpectedly")."""
    argv = ["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command]
    for attempt in range(5):
        if subprocess.run(argv, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1 * (attempt + 1))
    subprocess.run(argv, check=True)


def remove_user(name: str) -> None:
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True, check=False, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hotline-test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def ssh_run(sshd: Sshd, officer: Officer, command: str) -> tuple[int, str, str, float]:
    """One SSH call with ``command`` as the remote command: exit code, stdout, stderr, seconds."""
    started = time.monotonic()
    proc = subprocess.run(
        [*sshd.ssh(officer), command], capture_output=True, text=True, timeout=300, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


# ---------------------------------------------------------------- the whole deployment


@dataclass
class Env:
    dep: Deployment
    sshd: Sshd
    engine: Engine
    e2e: Officer  # key login, liaison zj of 河西区住建委
    e2e_order: str
    password: Officer  # --auth password, liaison jt
    chain: list[Officer]  # liaisons c0..c4 of the nested units CC ⊃ CC-1 ⊃ … ⊃ CC-4
    own_orders: list[str]  # one per concurrent session, dispatched to its officer's unit
    shared_order: str  # dispatched to CC-4: in every chain officer's scope


def seed_deployed_store(engine: Engine, sessions: int = SESSIONS) -> tuple[str, list[str], str]:
    """Units, users and orders through the services, on the real clock (the forced command has no
    --now): deadlines are in the future."""
    from hotline_tui.clock import SystemClock
    from hotline_tui.db import read_session
    from hotline_tui.policy import load_policy
    from hotline_tui.services.admin import add_user, import_units, parse_units, set_password
    from hotline_tui.services.core import SYSTEM, Ctx, actor_for
    from hotline_tui.services.dispatch import dispatch
    from hotline_tui.services.intake import IntakeForm, create_ticket
    from tests.conftest import seed

    seed(engine)
    admin = Ctx(engine, load_policy("tianjin"), SYSTEM, SystemClock())
    import_units(admin, parse_units(CHAIN_TOML, "ssh_harness"))
    for i, code in enumerate(CHAIN):
        add_user(admin, f"c{i}", "liaison", code, display_name=f"测试联络员{i}")
    set_password(admin, PASSWORD_USER, PW)
    with read_session(engine) as s:
        agent = Ctx(engine, admin.policy, actor_for(s, "agent1"), SystemClock())
        disp = Ctx(engine, admin.policy, actor_for(s, "disp1"), SystemClock())

    def order(unit: str, text: str) -> str:
        form = IntakeForm("complaint", "phone", text, caller_name="王先生", caller_phone="13812345678")
        no = create_ticket(agent, form).no
        dispatch(disp, no, [unit])
        return no

    e2e = order("HX-ZJ", "小区楼道灯损坏多日无人维修")
    own = [order(CHAIN[i % len(CHAIN)], f"测试路{i}号门前路灯不亮") for i in range(sessions)]
    shared = order(CHAIN[-1], "测试区主干道多处井盖缺失")
    return e2e, own, shared


@contextmanager
def deployed_env(sessions: int = SESSIONS) -> Iterator[Env]:
    """install.sh, a seeded store, officers by add-officer.sh, sshd started; all removed afterwards."""
    # One deployment at a time on this machine: two test runs would reinstall the same cached venv under
    # each other, and one's teardown would delete the group the other's officers need.
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _deployed_env(sessions) as env:
            yield env


@contextmanager
def _deployed_env(sessions: int) -> Iterator[Env]:
    from hotline_tui.db import make_engine

    dep = deploy()
    old_umask = os.umask(0o002)  # this process writes the shared store too: keep its files group-writable
    engine = make_engine(dep.url)
    sshd = Sshd(dep, dep.base / "ssh")
    try:
        e2e_order, own, shared = seed_deployed_store(engine, sessions)
        sshd.prepare()
        e2e = sshd.add_officer("zj")
        password = sshd.add_officer(PASSWORD_USER, auth="password")
        chain = [sshd.add_officer(f"c{i}") for i in range(len(CHAIN))]
        sshd.start()
        yield Env(dep, sshd, engine, e2e, e2e_order, password, chain, own, shared)
    finally:
        engine.dispose()
        sshd.teardown()
        os.umask(old_umask)
        shutil.rmtree(dep.base, ignore_errors=True)
        subprocess.run(["groupdel", GROUP], capture_output=True, check=False)
