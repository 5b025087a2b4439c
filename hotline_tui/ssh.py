"""Handling units over SSH: liaison officers log in to a shared host and land in ``hotline`` as their
mapped hotline user.

``hotline ssh-setup`` writes the sshd ``Match User`` blocks (one per OS user) whose ``ForceCommand`` runs
``hotline ssh-session --as NAME``; that entry point logs the officer in (trusting the SSH key, or through
the login screen), or runs the whitelisted commands given as ``ssh host 'ticket accept …'``.

Every value written into sshd's configuration is validated against a safe pattern first and quoted for
the shell that runs the forced command: a name with a space, quote or newline is refused, never escaped.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline_tui.errors import HotlineError, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hotline_tui.services.core import Ctx

# useradd's default NAME_REGEX (without the trailing $ of machine accounts), at most 32 characters
OS_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# hotline user names that may stand in sshd_config and a shell command line unquoted
HOTLINE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
# an executable path, and a store URL (shell-quoted, but sshd's own parser must see no quote, backslash,
# comment sign, white space or control character in it)
SAFE_PATH_RE = re.compile(r"/[A-Za-z0-9_./+-]*")
UNSAFE_URL_CHARS = re.compile(r"[\s'\"\\#\x00-\x1f\x7f]")
AUTH_MODES = ("key", "password")
COLOR_SYSTEMS = ("standard", "256", "truecolor")
ESCDELAY_MIN_MS = 100  # shorter, and an arrow key's bytes split by the network read as esc + letters
DEFAULT_HOTLINE = "/opt/hotline/bin/hotline"
SNIPPET_PATH = "/etc/ssh/sshd_config.d/hotline.conf"

# What an officer may run as ``ssh host 'COMMAND'``: the handling unit's own work and read-only helpers.
SCRIPTABLE: dict[str, frozenset[str]] = {
    "ticket": frozenset(
        ("list", "show", "accept", "return", "extend", "note", "stop", "reply", "appeal", "lookup", "history")
    ),
    "kb": frozenset(("search",)),
    "rules": frozenset(("due", "check-reply", "triage")),
    "calendar": frozenset(("show",)),
}
# Global options that would change who acts, on which store, or when: the forced command fixes them.
FORBIDDEN_OPTIONS = ("--user", "--db", "--now", "--policy")
# Variables the program reads that the session must not take from its environment.
SCRUBBED_ENV = ("HOTLINE_USER", "HOTLINE_NOW", "HOTLINE_DEBUG")


@dataclass(frozen=True)
class Mapping:
    """One OS account on the SSH host and the hotline user it logs in as."""

    os_user: str
    hotline_user: str
    auth: str = "key"


@dataclass(frozen=True)
class SessionSettings:
    """What every forced command carries besides the user: the program, the store, the terminal."""

    hotline: str = DEFAULT_HOTLINE
    db: str = ""
    color_system: str = "256"
    escdelay_ms: int = ESCDELAY_MIN_MS


# ---------------------------------------------------------------- validation


def check_os_user(name: str) -> str:
    if not OS_USER_RE.fullmatch(name):
        raise InvalidInput(
            f"系统账户名不合规：{name!r}（只能用小写字母、数字、_ 和 -，以字母或 _ 开头，最多32个字符）"
        )
    return name


def check_hotline_name(name: str) -> str:
    if not HOTLINE_NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"热线用户名 {name!r} 不能写入 sshd 配置（只能用字母、数字和 _ . @ -，不能有空格、引号或换行）"
        )
    return name


def check_auth(mode: str) -> str:
    if mode not in AUTH_MODES:
        raise InvalidInput(
            f"未知的登录方式：{mode!r}（可选：key 密钥登录、password 密钥登录后再输入热线密码）"
        )
    return mode


def parse_map(text: str, default_auth: str) -> Mapping:
    """``OSUSER=HOTLINEUSER`` or ``OSUSER=HOTLINEUSER:key|password``."""
    os_user, sep, rest = text.partition("=")
    if not sep or not os_user or not rest:
        raise InvalidInput(f"--map 格式应为 系统账户=热线用户名[:key|password]：{text!r}")
    name, colon, auth = rest.partition(":")
    return Mapping(
        check_os_user(os_user), check_hotline_name(name), check_auth(auth if colon else default_auth)
    )


def check_settings(settings: SessionSettings) -> SessionSettings:
    hotline = settings.hotline
    if not SAFE_PATH_RE.fullmatch(hotline):
        raise InvalidInput(f"hotline 程序路径须为绝对路径，且只能含字母、数字和 _ . / + -：{hotline!r}")
    path = Path(hotline)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise InvalidInput(f"找不到可执行的 hotline 程序：{hotline}（请先运行 deploy/install.sh 部署）")
    blocked = not_world_executable(path) or not_world_executable(interpreter(path) or path)
    if blocked is not None:
        raise InvalidInput(
            f"其他系统账户无权执行 {hotline}：{blocked} 不允许其他用户访问"
            "（请部署到所有人可读的目录，如 /opt/hotline）"
        )
    if not settings.db:
        raise InvalidInput("请用 --db 指定共享数据库地址（如 sqlite:////var/lib/hotline/hotline.db）")
    check_store_url(settings.db)
    if settings.color_system not in COLOR_SYSTEMS:
        raise InvalidInput(
            f"未知的终端颜色模式：{settings.color_system!r}（可选：{'、'.join(COLOR_SYSTEMS)}）"
        )
    if not ESCDELAY_MIN_MS <= settings.escdelay_ms <= 2000:
        raise InvalidInput(
            f"ESCDELAY 应在 {ESCDELAY_MIN_MS}–2000 毫秒之间：{settings.escdelay_ms}"
            "（太短时方向键会被读成 Esc）"
        )
    return settings


def check_store_url(url: str) -> str:
    if UNSAFE_URL_CHARS.search(url):
        raise InvalidInput("数据库地址含有不能写入 sshd 配置的字符（空格、引号、反斜杠、# 或控制字符等）")
    from urllib.parse import urlsplit

    if "://" in url and urlsplit(url).password is not None:
        raise InvalidInput(
            "数据库地址不能含密码：sshd 配置文件所有人可读。"
            "PostgreSQL 请把密码放在各账户的 ~/.pgpass（权限 600）或改用本机 peer 认证"
        )
    from hotline_tui.paths import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_absolute():
        raise InvalidInput(f"SQLite 数据库须写绝对路径（sqlite:////var/lib/hotline/hotline.db）：{url}")
    return url


def not_world_executable(path: Path) -> Path | None:
    """The first of ``path`` and its directories that other users cannot traverse or run, if any."""
    for part in [*reversed(path.resolve().parents), path.resolve()]:
        mode = part.stat().st_mode
        needed = stat.S_IXOTH | (stat.S_IROTH if part.is_file() else 0)
        if mode & needed != needed:
            return part
    return None


def interpreter(script: Path) -> Path | None:
    """The interpreter a ``#!`` script names (a venv's python is often a symlink into someone's home)."""
    try:
        with script.open("rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    return Path(words[0]) if words and words[0].startswith("/") else None


def check_users(engine: Engine, mappings: Sequence[Mapping]) -> None:
    """Every hotline user exists and is active; no OS account is mapped twice."""
    from sqlmodel import col, select

    from hotline_tui.db import read_session
    from hotline_tui.models import User

    seen: set[str] = set()
    for m in mappings:
        if m.os_user in seen:
            raise InvalidInput(f"系统账户 {m.os_user} 重复映射（每个系统账户只能对应一个热线用户）")
        seen.add(m.os_user)
    names = {m.hotline_user for m in mappings}
    with read_session(engine) as s:
        rows = {u.name: u for u in s.exec(select(User).where(col(User.name).in_(names)))}
    for m in mappings:
        user = rows.get(m.hotline_user)
        if user is None:
            raise NotFound(f"热线用户不存在：{m.hotline_user}（系统账户 {m.os_user}）")
        if not user.active:
            raise InvalidInput(f"热线用户 {m.hotline_user} 已停用，不能开通 SSH 登录（系统账户 {m.os_user}）")


def mappings_from_store(engine: Engine, prefix: str, auth: str) -> list[Mapping]:
    """Every active liaison officer, as OS account ``prefix + name``."""
    from sqlmodel import col, select

    from hotline_tui.db import read_session
    from hotline_tui.models import User

    with read_session(engine) as s:
        names = list(
            s.exec(
                select(User.name)
                .where(User.role == "liaison", col(User.active).is_(True))
                .order_by(User.name)
            )
        )
    if not names:
        raise NotFound("数据库中没有在用的承办单位联络员")
    out = []
    for name in names:
        check_hotline_name(name)
        try:
            os_user = check_os_user(prefix + name)
        except InvalidInput:
            raise InvalidInput(
                f"联络员 {name} 对应的系统账户名 {prefix + name!r} 不合规"
                "（系统账户只能用小写字母、数字、_ 和 -）；请改用 --map 指定"
            ) from None
        out.append(Mapping(os_user, name, auth))
    return out


# ---------------------------------------------------------------- the sshd snippet


def force_command(m: Mapping, settings: SessionSettings) -> str:
    """The shell command sshd runs for ``m`` whatever the client asked (the request stays in
    ``$SSH_ORIGINAL_COMMAND``)."""
    env = [
        "LANG=C.UTF-8",
        "LC_ALL=C.UTF-8",
        f"TEXTUAL_COLOR_SYSTEM={settings.color_system}",  # ssh does not forward COLORTERM
        f"ESCDELAY={settings.escdelay_ms}",  # Textual waits this long before reading a lone ESC as esc
        "HOTLINE_DB=" + shlex.quote(settings.db),
    ]
    words = [shlex.quote(settings.hotline), "ssh-session", "--as", shlex.quote(m.hotline_user)]
    if m.auth == "password":
        words.append("--password")
    return " ".join(["exec", "/usr/bin/env", *env, *words])


def render_config(mappings: Sequence[Mapping], settings: SessionSettings) -> str:
    lines = [
        "# hotline-tui: SSH logins of handling units' liaison officers (generated by `hotline ssh-setup`).",
        f"# Install as {SNIPPET_PATH}, check with `sshd -t`, then `systemctl reload ssh`.",
        "# Each OS account runs only `hotline ssh-session` as its hotline user; no forwarding of any kind.",
        "",
    ]
    for m in mappings:
        how = "SSH key only" if m.auth == "key" else "SSH key, then the hotline password"
        lines += [
            f"# {m.os_user} -> hotline user {m.hotline_user} ({how})",
            f"Match User {m.os_user}",
            f"    ForceCommand {force_command(m, settings)}",
        ]
        if m.auth == "key":  # the key is the login: refuse any other way in, whatever the main config says
            lines.append("    AuthenticationMethods publickey")
        lines += [
            "    PermitTTY yes",
            "    AllowTcpForwarding no",
            "    AllowStreamLocalForwarding no",
            "    X11Forwarding no",
            "    AllowAgentForwarding no",
            "    PermitTunnel no",
            "    PermitUserRC no",
            "",
        ]
    return "\n".join(lines)


def setup_report(mappings: Sequence[Mapping], settings: SessionSettings, out: str | None) -> dict[str, Any]:
    return {
        "path": out,
        "hotline": settings.hotline,
        "db": settings.db,
        "color_system": settings.color_system,
        "escdelay_ms": settings.escdelay_ms,
        "mappings": [
            {
                "os_user": m.os_user,
                "hotline_user": m.hotline_user,
                "auth": m.auth,
                "force_command": force_command(m, settings),
            }
            for m in mappings
        ],
        "config": render_config(mappings, settings),
    }


def write_snippet(path: Path, text: str) -> None:
    """Replace ``path`` at once (sshd may read it any time), readable by all like sshd_config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HotlineError(f"无法写入 {path}：{exc.strerror}") from None


def ssh_setup(
    *,
    maps: Iterable[str],
    from_store: bool,
    prefix: str,
    auth: str,
    settings: SessionSettings,
) -> tuple[list[Mapping], SessionSettings]:
    """Validate everything and return the mappings; nothing is written here."""
    from hotline_tui.db import make_engine
    from hotline_tui.store import open_ctx

    check_auth(auth)
    maps = list(maps)
    if not maps and not from_store:
        raise InvalidInput("请用 --map 系统账户=热线用户名 指定映射，或用 --from-store 为所有联络员生成")
    settings = check_settings(settings)
    engine = make_engine(settings.db)
    try:
        open_ctx(engine=engine)  # the store exists and has the current schema
        mappings = [parse_map(text, auth) for text in maps]
        if from_store:
            taken = {m.os_user for m in mappings} | {m.hotline_user for m in mappings}
            mappings += [
                m
                for m in mappings_from_store(engine, prefix, auth)
                if m.os_user not in taken and m.hotline_user not in taken
            ]
        check_users(engine, mappings)
    finally:
        engine.dispose()
    return mappings, settings


# ---------------------------------------------------------------- the forced command


def client_address(ssh_connection: str) -> str:
    """The client's address from ``SSH_CONNECTION`` ("client port server port")."""
    first = ssh_connection.split(" ", 1)[0]
    return first if re.fullmatch(r"[0-9A-Fa-f:.%a-z]{1,64}", first) else "unknown"


MAX_SCRIPTED = 50


def split_commands(text: str) -> list[str]:
    """``SSH_ORIGINAL_COMMAND`` cut at each ``;`` or newline outside quotes, as a shell would: an officer
    runs several commands in one login (one start-up of the program instead of one each)."""
    parts: list[str] = []
    buf: list[str] = []
    quote = ""
    chars = iter(text)
    for ch in chars:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                buf.append(next(chars, ""))
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == "\\":
            buf += [ch, next(chars, "")]
        elif ch in ";\n":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    commands = [p for p in parts if p.strip()]
    if len(commands) > MAX_SCRIPTED:
        raise InvalidInput(f"一次最多执行 {MAX_SCRIPTED} 条命令（收到 {len(commands)} 条）")
    return commands


def scripted_argv(command: str) -> list[str]:
    """The ``hotline`` arguments of one command of ``SSH_ORIGINAL_COMMAND``, refused unless on the
    whitelist."""
    try:
        words = shlex.split(command)
    except ValueError:
        raise InvalidInput("无法解析要执行的命令（引号不成对）") from None
    if words and words[0] in ("hotline", "hotline-tui"):
        words = words[1:]
    head = 0
    while head < len(words) and words[head] == "--json":  # the only global option allowed up front
        head += 1
    allowed = "；".join(f"{g} {'|'.join(sorted(subs))}" for g, subs in SCRIPTABLE.items())
    if len(words) < head + 2 or words[head + 1] not in SCRIPTABLE.get(words[head], ()):
        shown = " ".join(words[head : head + 2])[:60] or "（空）"
        raise InvalidInput(f"通过 SSH 不能执行该命令：{shown}（允许：{allowed}）")
    for word in words:
        if not word.startswith("-"):
            continue
        name = "--" + word.lstrip("-").split("=", 1)[0]
        if len(name) > 2 and any(opt.startswith(name) for opt in FORBIDDEN_OPTIONS):
            raise InvalidInput(
                f"通过 SSH 不能使用 {name[:20]} 选项（操作人、数据库、时间与策略由 SSH 登录固定）"
            )
    return words


def ssh_session(name: str, *, password: bool, db: str | None) -> int:
    """The ForceCommand entry point. Returns the exit code."""
    os.umask(0o002)  # the shared store's directory is setgid: what SQLite or we create stays group-writable
    for key in SCRUBBED_ENV:
        os.environ.pop(key, None)
    connection = os.environ.get("SSH_CONNECTION", "").strip()
    if not connection:
        raise InvalidInput("ssh-session 只能作为 SSH 登录的强制命令运行（未检测到 SSH 连接）")
    check_hotline_name(name)
    original = os.environ.get("SSH_ORIGINAL_COMMAND")
    if original is not None and original.strip():
        return run_scripted(name, original, db)
    if not sys.stdin.isatty():
        raise InvalidInput("需要终端：请使用 ssh -t 登录（例如 ssh -t 账户@主机）")
    if password:
        from hotline_tui.app import run_app

        return run_app(db, user=name, policy=None, now=None, fixed_user=True)
    return run_trusted(name, db, client_address(connection))


def run_scripted(name: str, text: str, db: str | None) -> int:
    """Every command is checked before the first runs; they run in order and stop at the first that
    fails, whose exit code is returned."""
    from hotline_tui.cli import main

    commands = [scripted_argv(c) for c in split_commands(text)] or [scripted_argv("")]
    for words in commands:
        try:
            code = main(["--user", name, *(["--db", db] if db else []), *words])
        except SystemExit as exc:  # --help
            code = exc.code if isinstance(exc.code, int) else 0
        if code:
            return code
    return 0


def run_trusted(name: str, db: str | None, source: str) -> int:
    """Key login: the SSH key was the credential; open the role's home already logged in."""
    from hotline_tui.app import HotlineApp, PendingStore

    def opener() -> Ctx:
        # in a thread, while the first frame draws (DESIGN: start ≤ 1 s): loading the store takes ~0.3 s
        from hotline_tui.services.accounts import trusted_login
        from hotline_tui.store import open_ctx

        ctx = open_ctx(db)
        return ctx.as_actor(trusted_login(ctx, name, method="ssh_key", source=source))

    store = PendingStore(opener)
    app = HotlineApp(None, store=store)
    app.run()
    if isinstance(store.error, HotlineError):
        print(f"错误：{store.error.message}", file=sys.stderr)
        return store.error.exit_code
    if store.error is not None:
        print(f"错误：数据库未能打开（{type(store.error).__name__}）", file=sys.stderr)
        return 2
    return app.return_code or 0
