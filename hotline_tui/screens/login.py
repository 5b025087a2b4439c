"""Logging in and changing one's password.

The login screen is the first thing the TUI shows. It checks the password with
``services.accounts.authenticate`` (scrypt, lockout after repeated failures, one audit event per attempt),
offers to remember the password in the workstation's keyring, and on a host without a usable keyring
(an SSH server, say) says so once and simply asks every time. Nothing here ever writes a password
anywhere but the keyring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from hotline_tui.screens.feedback import failure_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotline_tui.services.core import Actor, Ctx


# ---------------------------------------------------------------- plain data (no Textual below this line)


@dataclass(frozen=True)
class LoginPrep:
    """What the screen learns before the first keystroke matters (read in a worker: keyring may be slow)."""

    keyring_ok: bool
    keyring_note: str
    remembered: str | None  # the remembered password of the prefilled user, if any
    demo: bool


def prepare_login(ctx: Ctx, user: str, store_url: str | None) -> LoginPrep:
    from hotline_tui.credentials import keyring_status, remembered_password
    from hotline_tui.models import Setting

    ok, note = keyring_status()
    remembered = remembered_password(user, store_url) if ok and user else None
    try:
        with ctx.read() as s:
            demo = s.get(Setting, "demo") is not None
    except Exception:  # an old store without settings: not a demo
        demo = False
    return LoginPrep(ok, note, remembered, demo)


def log_in(ctx: Ctx, user: str, password: str, store_url: str | None, remember: bool | None) -> Actor:
    """Authenticate; then remember or forget the password as asked (``None``: leave the keyring alone)."""
    from hotline_tui.credentials import forget_password, remember_password
    from hotline_tui.services.accounts import authenticate

    actor = authenticate(ctx, user, password)
    if remember is True:
        remember_password(actor.name, password, store_url)
    elif remember is False:
        forget_password(actor.name, store_url)
    return actor


# ---------------------------------------------------------------- screens


PRELOAD = (
    "hotline_tui.services.accounts",
    "hotline_tui.screens.home",
    "hotline_tui.screens.intake",
    "hotline_tui.services.drafts",
    "hotline_tui.services.triage",
    "hotline_tui.search",
    "hotline_tui.services.callers",
    "hotline_tui.services.suggest",
    "hotline_tui.services.call",
    "textual.widgets._tabbed_content",
    "textual.widgets._text_area",
    "textual.widgets._select",
    "textual.widgets._option_list",
)


class LoginScreen(Screen["Actor"]):
    """User name and password; Enter logs in. Dismissed with the logged-in actor."""

    BINDING_GROUP_TITLE = "登录"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", "退出", priority=True, id="login.quit", tooltip="退出程序"),
        Binding("f1", "app.help", "帮助", key_display="F1", id="login.help", tooltip="列出本界面的按键"),
    ]

    @dataclass
    class Prepared(Message, bubble=False):
        prep: LoginPrep

    @dataclass
    class LoggedIn(Message, bubble=False):
        actor: Actor
        remembered: bool

    def __init__(
        self,
        ctx: Ctx | Callable[[], Ctx],
        *,
        user: str = "",
        store_url: str | None = None,
        store_label: str = "",
        fixed_user: bool = False,
    ) -> None:
        """``ctx``: the store's context, or a function that returns it once the store is open (called
        only in worker threads: it may wait). ``fixed_user``: the name cannot be changed (an SSH account
        mapped to one hotline user logs in as that user only)."""
        super().__init__()
        self.ctx_source: Callable[[], Ctx] = ctx if callable(ctx) else (lambda: ctx)
        self.user_hint = user
        self.fixed_user = fixed_user and bool(user)
        self.store_url = store_url
        self.store_label = store_label
        self.prep: LoginPrep | None = None
        self.busy = False
        self.from_keyring = False

    def compose(self) -> ComposeResult:
        with Vertical(id="login") as box:
            box.border_title = "12345 政务服务便民热线 · 登录"
            if self.store_label:
                yield Static(Text(f"数据库：{self.store_label}", style="dim"), id="login-store")
            yield Label("用户名")
            yield Input(value=self.user_hint, placeholder="用户名", id="login-user", max_length=64)
            yield Label("密码")
            yield Input(placeholder="密码", password=True, id="login-password", max_length=128)
            yield Checkbox("在本机密钥环记住密码", id="login-remember", disabled=True)
            yield Static("", id="login-keyring")
            yield Static("", id="login-message")
            yield Static(Text("Enter 登录 · Tab 切换 · Ctrl+Q 退出", style="dim"), id="login-keys")
        yield Footer()

    def on_mount(self) -> None:
        if self.fixed_user:
            self.user.disabled = True
        (self.password if self.user_hint else self.user).focus()
        self.prepare()
        self.call_after_refresh(self.preload)

    @work(thread=True, group="login-preload", exit_on_error=False, description="预先载入")
    def preload(self) -> None:
        """While the password is typed, import what the first screen after login needs (about 0.1 s of
        module loading that would otherwise come between Enter and the call screen)."""
        import importlib

        for name in PRELOAD:
            importlib.import_module(name)

    @property
    def user(self) -> Input:
        return self.query_one("#login-user", Input)

    @property
    def password(self) -> Input:
        return self.query_one("#login-password", Input)

    @property
    def remember(self) -> Checkbox:
        return self.query_one("#login-remember", Checkbox)

    def say(self, text: str, style: str = "bold") -> None:
        self.query_one("#login-message", Static).update(Text(text, style=style))

    @work(thread=True, exclusive=True, group="login-prep", exit_on_error=False, description="检查密钥环")
    def prepare(self) -> None:
        self.post_message(self.Prepared(prepare_login(self.ctx_source(), self.user_hint, self.store_url)))

    @on(Prepared)
    def show_prepared(self, message: Prepared) -> None:
        prep = self.prep = message.prep
        self.remember.disabled = not prep.keyring_ok
        self.remember.display = prep.keyring_ok  # no keyring: the note below says so, no dead checkbox
        notes = [] if prep.keyring_ok else [prep.keyring_note]
        if prep.demo:
            from hotline_tui.demo import DEMO_PASSWORD

            notes.append(f"演示库：agent1、hx、disp1、sup1、admin1 等账号密码均为 {DEMO_PASSWORD}")
        self.query_one("#login-keyring", Static).update(Text("\n".join(notes), style="dim"))
        if prep.remembered and self.user.value.strip() == self.user_hint and not self.password.value:
            self.remember.value = True
            self.say("正在使用已记住的密码登录……", style="")
            self.attempt(self.user_hint, prep.remembered, None, from_keyring=True)

    @on(Input.Submitted, "#login-user")
    def user_entered(self) -> None:
        if not self.user.value.strip():
            self.say("请输入用户名")
            return
        self.say("", style="")
        self.password.focus()

    @on(Input.Submitted, "#login-password")
    def submit(self) -> None:
        if self.busy:
            return
        name = self.user_hint if self.fixed_user else self.user.value.strip()
        if not name:
            self.say("请输入用户名")
            self.user.focus()
            return
        if not self.password.value:
            self.say("请输入密码")
            return
        remember = self.remember.value if (self.prep and self.prep.keyring_ok) else None
        self.say("正在登录……", style="")
        self.attempt(name, self.password.value, remember, from_keyring=False)

    def attempt(self, name: str, password: str, remember: bool | None, *, from_keyring: bool) -> None:
        self.busy = True
        self.from_keyring = from_keyring
        self.user.disabled = self.password.disabled = True
        self.run_login(name, password, remember, from_keyring)

    @work(thread=True, exclusive=True, group="login", exit_on_error=False, description="登录")
    def run_login(self, name: str, password: str, remember: bool | None, from_keyring: bool) -> None:
        try:
            actor = log_in(self.ctx_source(), name, password, self.store_url, remember)
        except Exception:
            if from_keyring:  # a remembered password that no longer works is forgotten
                from hotline_tui.credentials import forget_password

                forget_password(name, self.store_url)
            raise
        self.post_message(self.LoggedIn(actor, bool(remember)))

    @on(LoggedIn)
    def logged_in(self, message: LoggedIn) -> None:
        self.dismiss(message.actor)

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "login-prep":  # no keyring, no settings: ask as usual
            self.query_one("#login-keyring", Static).update(
                Text(failure_text(event.worker.error), style="dim")
            )
            return
        self.busy = False
        self.user.disabled = self.fixed_user
        self.password.disabled = False
        text = failure_text(event.worker.error)
        if self.from_keyring:
            text = f"记住的密码已失效（{text}），请重新输入"
            self.from_keyring = False
        self.say(text)
        self.password.value = ""
        self.password.focus()


class PasswordScreen(ModalScreen[bool]):
    """The logged-in user changes their own password: old, new, new again."""

    BINDING_GROUP_TITLE = "修改密码"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "取消", id="passwd.cancel", tooltip="不修改密码"),
    ]

    @dataclass
    class Changed(Message, bubble=False):
        remembered: bool

    def __init__(self, ctx: Ctx, store_url: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.store_url = store_url

    def compose(self) -> ComposeResult:
        with Vertical(id="passwd") as box:
            box.border_title = f"修改密码 · {self.ctx.actor.name}"
            box.border_subtitle = "Enter 下一项/确认 · esc 取消"
            yield Label("原密码")
            yield Input(password=True, id="passwd-old", max_length=128)
            yield Label("新密码（至少8位，须含字母和数字）")
            yield Input(password=True, id="passwd-new", max_length=128)
            yield Label("再次输入新密码")
            yield Input(password=True, id="passwd-again", max_length=128)
            yield Static("", id="passwd-message")

    def on_mount(self) -> None:
        self.query_one("#passwd-old", Input).focus()

    def say(self, text: str) -> None:
        self.query_one("#passwd-message", Static).update(Text(text, style="bold"))

    @on(Input.Submitted, "#passwd-old")
    def old_entered(self) -> None:
        self.query_one("#passwd-new", Input).focus()

    @on(Input.Submitted, "#passwd-new")
    def new_entered(self) -> None:
        self.query_one("#passwd-again", Input).focus()

    @on(Input.Submitted, "#passwd-again")
    def submit(self) -> None:
        old = self.query_one("#passwd-old", Input).value
        new = self.query_one("#passwd-new", Input).value
        again = self.query_one("#passwd-again", Input).value
        if new != again:
            self.say("两次输入的新密码不一致")
            self.query_one("#passwd-again", Input).value = ""
            self.query_one("#passwd-again", Input).focus()
            return
        self.say("正在修改……")
        self.change(old, new)

    @work(thread=True, exclusive=True, group="passwd", exit_on_error=False, description="修改密码")
    def change(self, old: str, new: str) -> None:
        from hotline_tui.credentials import remember_password, remembered_password
        from hotline_tui.services.accounts import change_password

        change_password(self.ctx, old, new)
        had = remembered_password(self.ctx.actor.name, self.store_url) is not None
        if had:  # keep the keyring in step, or the next start would log in with the old one
            remember_password(self.ctx.actor.name, new, self.store_url)
        self.post_message(self.Changed(had))

    @on(Changed)
    def changed(self, message: Changed) -> None:
        note = "，密钥环中记住的密码已同步更新" if message.remembered else ""
        self.app.notify(f"密码已修改{note}", title="修改密码")
        self.dismiss(True)

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.say(failure_text(event.worker.error))

    def action_cancel(self) -> None:
        self.dismiss(False)
