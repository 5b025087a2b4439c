"""The Textual application. It is handed a ready ``Ctx``: no engine is created at import time."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from hotline_tui.errors import HotlineError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hotline_tui.services.core import Actor, Ctx
    from hotline_tui.services.inbox import Pulse

TITLE = "12345 政务服务便民热线"
CALL_ROLES = ("agent", "trainee")  # whose home opens on the call screen
INTAKE_SCREEN_ROLES = (
    "agent",
    "dispatcher",
    "supervisor",
    "trainee",
    "trainer",
)  # services.intake.INTAKE_ROLES
PULSE_SECONDS = 20.0  # how often a unit's session looks for new orders and deadlines running out
LOOKUP_ROLES = ("agent", "dispatcher", "callback", "supervisor", "liaison", "trainee", "trainer")


@dataclass
class Pulsed(Message, bubble=False):
    """The polling worker's reading; a newer one replaces one not yet handled (coalesced)."""

    pulse: Pulse

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Pulsed)


@dataclass
class PulseFailed(Message, bubble=False):
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PulseFailed)


class HotlineApp(App[int]):
    """One user's session: the role decides the home screen (later: intake, inbox, queues...)."""

    CSS_PATH = "app.tcss"
    TITLE = TITLE
    BINDING_GROUP_TITLE = "全局"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "退出", id="app.quit", tooltip="退出程序"),
        Binding("ctrl+q", "quit", "退出", show=False, priority=True, id="app.quit_ctrl", tooltip="退出程序"),
        Binding(
            "ctrl+p",
            "command_palette",
            "命令",
            show=False,
            priority=True,
            id="app.palette",
            tooltip="打开命令面板",
        ),
        Binding("f1", "help", "帮助", key_display="F1", id="app.help", tooltip="列出当前界面的按键"),
        Binding(
            "f2",
            "new_call",
            "新来电",
            key_display="F2",
            priority=True,
            id="app.new_call",
            tooltip="打开来电受理表单（未完成的记录会保留）",
        ),
        Binding("f3", "open_kb", "知识库", key_display="F3", id="app.kb", tooltip="知识库"),
        Binding(
            "f9",
            "lookup",
            "查工单",
            key_display="F9",
            id="app.lookup",
            tooltip="按工单号、电话或内容查询工单进度",
        ),
        Binding(
            "f10",
            "open_queues",
            "审核队列",
            key_display="F10",
            id="app.queues",
            tooltip="待派单、退单、延期、终止、答复审核、指定承办、申诉（派单审核、督办管理）",
        ),
        Binding(
            "f6",
            "change_password",
            "修改密码",
            show=False,
            key_display="F6",
            id="app.passwd",
            tooltip="修改本人密码",
        ),
        Binding(
            "f7",
            "open_audit",
            "审计日志",
            key_display="F7",
            id="app.audit",
            tooltip="按用户、工单、时间查看操作与个人信息查看记录（督办管理、系统管理员）",
        ),
        Binding(
            "f8",
            "open_admin",
            "系统管理",
            key_display="F8",
            id="app.admin",
            tooltip="用户、单位与策略配置（系统管理员）",
        ),
        Binding(
            "question_mark",
            "help",
            "帮助",
            show=False,
            key_display="?",
            id="app.help_q",
            tooltip="列出当前界面的按键",
        ),
    ]

    def __init__(
        self, ctx: Ctx | None, login: LoginOptions | None = None, *, store: PendingStore | None = None
    ) -> None:
        """``ctx`` of a logged-in user opens their home screen; with ``login`` the login screen comes
        first. Without ``ctx``, ``store`` opens it in a thread once the login screen is on screen."""
        super().__init__()
        if ctx is None and store is None:
            raise ValueError("HotlineApp needs a ctx or a store to open")
        self._ctx = ctx
        self.store = store
        self.login = login
        self.pulse_text = ""
        self.pulse_seconds = PULSE_SECONDS
        self._pulse_timer: Timer | None = None
        self._pulse_last: int | None = None
        self._pulse_warned: frozenset[int] = frozenset()
        self._pulse_failing = False
        if login is None and ctx is not None:
            self.set_identity()

    @property
    def ctx(self) -> Ctx:
        if self._ctx is None:
            assert self.store is not None
            self._ctx = self.store.get()
        return self._ctx

    @ctx.setter
    def ctx(self, value: Ctx) -> None:
        self._ctx = value

    def store_ctx(self) -> Ctx:
        """The store's context for the login screen's workers (waits while the store is opening)."""
        return self.ctx if self._ctx is not None or self.store is None else self.store.get()

    def store_failed(self, exc: BaseException) -> None:
        """From the opening thread: the store cannot be used; run_app prints why after the exit."""
        code = exc.exit_code if isinstance(exc, HotlineError) else 2
        self.call_from_thread(self.exit, None, code)

    def set_identity(self) -> None:
        actor = self.ctx.actor
        who = f"{actor.display_name or actor.name}（{actor.role_label}）· {self.ctx.policy.title}"
        self.sub_title = f"{self.pulse_text} · {who}" if self.pulse_text else who

    @property
    def logged_in(self) -> bool:
        return self._ctx is not None and self._ctx.actor.id is not None

    def on_mount(self) -> None:
        if self.login is None and self._ctx is None:
            # already authenticated (an SSH key): the store opens, and the login is recorded, behind the
            # first frame instead of before it
            assert self.store is not None
            self.sub_title = "正在打开……"
            self.call_after_refresh(self.store.start, self.store_failed)
            self.wait_for_store()
            return
        if self.login is None:
            self.open_home()
            return
        from hotline_tui.screens.login import LoginScreen

        self.sub_title = "请登录"
        opts = self.login
        self.push_screen(
            LoginScreen(
                self.store_ctx,
                user=opts.user,
                store_url=opts.store_url,
                store_label=opts.store_label,
                fixed_user=opts.fixed_user,
            ),
            self.after_login,
        )
        if self.store is not None:
            self.call_after_refresh(self.store.start, self.store_failed)

    @work(thread=True, exclusive=True, group="open-store", exit_on_error=False, description="打开数据库")
    def wait_for_store(self) -> None:
        assert self.store is not None
        self.store.get()  # a failure is reported by store_failed, which ends the app
        self.call_from_thread(self.store_opened)

    def store_opened(self) -> None:
        self.set_identity()
        self.refresh_bindings()
        self.open_home()

    def after_login(self, actor: Actor | None) -> None:
        if actor is None:
            self.exit(0)
            return
        self.ctx = self.ctx.as_actor(actor)
        self.set_identity()
        self.refresh_bindings()
        self.open_home()

    def open_home(self) -> None:
        """The role's home: the administrator's is the admin screen, everyone else's the ticket list."""
        if self.ctx.actor.role == "admin":
            from hotline_tui.screens.admin import AdminScreen

            self.push_screen(AdminScreen(self.ctx))
            return
        if self.ctx.actor.role in CALL_ROLES:  # a seat starts ready for the next call (DESIGN: ≤ 1 s)
            from hotline_tui.screens.intake import IntakeScreen

            self.push_screen(IntakeScreen(self.ctx))  # the ticket list is built when asked for (esc)
            return
        if self.ctx.actor.role == "callback":
            from hotline_tui.screens.callback import CallbackQueueScreen

            self.push_screen(CallbackQueueScreen(self.ctx))
            return
        if self.ctx.actor.role == "dispatcher":
            from hotline_tui.screens.queues import CentreQueueScreen

            self.push_screen(CentreQueueScreen(self.ctx))
            return
        if self.ctx.actor.role == "liaison":
            from hotline_tui.screens.inbox import UnitInboxScreen

            self.push_screen(UnitInboxScreen(self.ctx))
            self.start_pulse()
            return
        from hotline_tui.screens.home import HomeScreen

        self.push_screen(HomeScreen(self.ctx))

    # ------------------------------------------------------------ the unit's pulse (notifications)

    def start_pulse(self) -> None:
        """Poll the unit's orders: new ones and ones about to run out become a toast and a header count."""
        if self._pulse_timer is None:
            self._pulse_timer = self.set_interval(self.pulse_seconds, self.poll_pulse)
            self.poll_pulse()

    @work(thread=True, exclusive=True, group="pulse", exit_on_error=False, description="检查新工单")
    def poll_pulse(self) -> None:
        from hotline_tui.services.inbox import inbox_pulse

        try:
            pulse = inbox_pulse(self.ctx, self._pulse_last, self._pulse_warned)
        except HotlineError as exc:
            self.post_message(PulseFailed(exc.message))
            return
        self.post_message(Pulsed(pulse))

    @on(Pulsed)
    def show_pulse(self, message: Pulsed) -> None:
        p = message.pulse
        first = self._pulse_last is None
        self._pulse_last = p.last_assignment_id
        self._pulse_warned = p.warned
        self._pulse_failing = False
        parts = [f"待接单{p.pending}"]
        if p.due_soon:
            parts.append(f"将超时{p.due_soon}")
        if p.overdue:
            parts.append(f"超时{p.overdue}")
        text = " ".join(parts)
        changed = text != self.pulse_text
        self.pulse_text = text
        self.set_identity()  # every screen's header carries the count
        if p.new_orders:
            lines = "\n".join(f"{a.no} {a.text}" for a in p.new_orders[:5])
            more = f"\n……共 {len(p.new_orders)} 件" if len(p.new_orders) > 5 else ""
            self.notify(lines + more, title=f"新工单 {len(p.new_orders)} 件", timeout=10, markup=False)
        if p.running_out and not first:
            lines = "\n".join(f"{a.no} {a.text}" for a in p.running_out[:5])
            more = f"\n……共 {len(p.running_out)} 件" if len(p.running_out) > 5 else ""
            self.notify(lines + more, title="时限提醒", severity="warning", timeout=10, markup=False)
        from hotline_tui.screens.inbox import UnitInboxScreen

        for screen in self.screen_stack:
            if isinstance(screen, UnitInboxScreen):
                screen.show_identity()
                if p.new_orders or (changed and not first):
                    screen.load()

    @on(PulseFailed)
    def pulse_failed(self, message: PulseFailed) -> None:
        if not self._pulse_failing:  # said once, not every poll
            self._pulse_failing = True
            self.notify(f"新工单检查失败：{message.text}", severity="warning", timeout=6, markup=False)

    def action_ticket_list(self) -> None:
        from hotline_tui.screens.home import HomeScreen

        self.switch_to(HomeScreen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in (
            "open_kb",
            "change_password",
            "open_audit",
            "open_admin",
            "new_call",
            "lookup",
            "open_queues",
            "open_callbacks",
        ):
            if not self.logged_in:
                return False
        role = self.ctx.actor.role if self._ctx is not None else ""
        if action == "quit" and getattr(self.screen, "KEEP_Q", False):
            return False  # a plain q on the call screen is a letter or a slip, never "quit" (ctrl+q still is)
        if action == "new_call":
            return role in INTAKE_SCREEN_ROLES
        if action == "lookup":
            return role in LOOKUP_ROLES
        if action == "open_audit":
            return role in ("supervisor", "admin")
        if action == "open_queues":
            return role in ("dispatcher", "supervisor")
        if action == "open_callbacks":
            return role in ("callback", "supervisor")
        if action == "open_admin":
            return role == "admin"
        return True

    def action_change_password(self) -> None:
        from hotline_tui.screens.login import PasswordScreen

        if isinstance(self.screen, PasswordScreen):
            return
        self.push_screen(PasswordScreen(self.ctx, self.login.store_url if self.login else None))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): our commands in Chinese and English, then Textual's own."""
        ours = (
            ("new_call", "新来电 · New call", "打开来电受理表单（F2）", self.action_new_call),
            (
                "lookup",
                "查询工单 · Look up a ticket",
                "按工单号、电话或内容查询进度（F9）",
                self.action_lookup,
            ),
            ("open_kb", "知识库 · Knowledge base", "检索知识库（F3）", self.action_open_kb),
            (
                "open_callbacks",
                "回访队列 · Callback queue (hfdl)",
                "待回访、稍后再拨、质量抽查（回访员、督办管理）",
                self.action_open_callbacks,
            ),
            (
                "open_queues",
                "审核队列 · Centre queues (shdl)",
                "待派单、退单、延期、终止、答复审核、指定承办、申诉（F10）",
                self.action_open_queues,
            ),
            ("open_audit", "审计日志 · Audit log", "操作与个人信息查看记录（F7）", self.action_open_audit),
            ("open_admin", "系统管理 · Administration", "用户、单位与策略配置（F8）", self.action_open_admin),
            (
                "change_password",
                "修改密码 · Change password",
                "修改本人密码（F6）",
                self.action_change_password,
            ),
            ("help", "帮助 · Help", "当前界面的按键（F1）", self.action_help),
        )
        for action, title, help_text, callback in ours:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, callback)
        yield from super().get_system_commands(screen)

    def action_new_call(self) -> None:
        """F2 from anywhere: back to the call screen if it is open (the half-typed call is kept)."""
        from hotline_tui.screens.intake import IntakeScreen

        self.switch_to(IntakeScreen)

    def action_lookup(self) -> None:
        from hotline_tui.screens.lookup import LookupScreen

        self.switch_to(LookupScreen)

    def action_open_queues(self) -> None:
        from hotline_tui.screens.queues import CentreQueueScreen

        self.switch_to(CentreQueueScreen)

    def action_open_callbacks(self) -> None:
        from hotline_tui.screens.callback import CallbackQueueScreen

        self.switch_to(CallbackQueueScreen)

    def action_open_audit(self) -> None:
        from hotline_tui.screens.audit import AuditScreen

        self.switch_to(AuditScreen)

    def action_open_admin(self) -> None:
        from hotline_tui.screens.admin import AdminScreen

        self.switch_to(AdminScreen)

    def switch_to(self, kind: Callable[[Ctx], Screen[Any]]) -> None:
        """Back to an open screen of that kind, else open one on top."""
        assert isinstance(kind, type)
        found = next((s for s in reversed(self.screen_stack) if isinstance(s, kind)), None)
        if found is None:
            self.push_screen(kind(self.ctx))
            return
        while self.screen is not found:
            self.pop_screen()

    def action_help(self) -> None:
        from hotline_tui.screens.home import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen_title(), self.key_help()))

    def action_open_kb(self) -> None:
        """F3 from anywhere: back to the knowledge base if it is open underneath, else open it."""
        from hotline_tui.screens.kb import KBScreen

        self.switch_to(KBScreen)
        if isinstance(self.screen, KBScreen):
            self.screen.action_focus_query()

    def screen_title(self) -> str:
        return str(getattr(self.screen, "BINDING_GROUP_TITLE", None) or "首页")

    def key_help(self) -> list[tuple[str, str, str]]:
        """(key, what, why) for the bindings of the current screen, then the app's own."""
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for source in (type(self.screen).BINDINGS, type(self).BINDINGS):
            for b in source:
                if not isinstance(b, Binding) or b.key in seen:
                    continue
                seen.add(b.key)
                out.append((b.key_display or self.get_key_display(b), b.description, b.tooltip))
        return out

    @on(Worker.StateChanged)
    def report_worker_error(self, event: Worker.StateChanged) -> None:
        """App-level workers; screens report their own through the same ``notify_failure``."""
        if event.state == WorkerState.ERROR:
            from hotline_tui.screens.home import notify_failure

            notify_failure(self, event.worker.error)


@dataclass(frozen=True)
class LoginOptions:
    user: str = ""  # prefilled user name (--user / HOTLINE_USER)
    store_url: str | None = None  # names the keyring entry
    store_label: str = ""  # shown on the login screen
    fixed_user: bool = False  # the name cannot be changed (an SSH account logs in as its mapped user)


class PendingStore:
    """The store, opened in a thread once the first frame is on screen (DESIGN: start ≤ 1 s).

    Opening it loads SQLAlchemy, SQLModel and the models (about 0.3 s) and checks the schema: done
    before the first frame, that was most of the wait for the login screen. Now the agent sees the
    login form at once and types while the store opens; a worker that needs it waits in ``get``.
    """

    def __init__(self, opener: Callable[[], Ctx]) -> None:
        self._opener = opener
        self._done = threading.Event()
        self._ctx: Ctx | None = None
        self.error: BaseException | None = None
        self._started = False

    def start(self, on_error: Callable[[BaseException], None]) -> None:
        if self._started:
            return
        self._started = True

        def run() -> None:
            try:
                self._ctx = self._opener()
            except BaseException as exc:  # noqa: BLE001 - reported to the app, which exits with it
                self.error = exc
                on_error(exc)
            finally:
                self._done.set()

        threading.Thread(target=run, name="open-store", daemon=True).start()

    def get(self) -> Ctx:
        """The opened store (blocks until it is; call from a worker thread)."""
        self._done.wait()
        if self._ctx is None:
            raise self.error or HotlineError("数据库未能打开")
        return self._ctx


def run_app(
    db: str | None, user: str | None, policy: str | None, now: str | None, *, fixed_user: bool = False
) -> int:
    """Run the TUI, starting at the login screen (``user`` prefills the name); the store opens while
    the first frame draws.

    A store that is missing or needs upgrading prints a Chinese message and returns 2.
    """
    from hotline_tui.clock import FixedClock, SystemClock, parse_datetime
    from hotline_tui.paths import default_url, sqlite_file, store_label

    try:
        clock = FixedClock(parse_datetime(now)) if now else SystemClock()
    except HotlineError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return exc.exit_code
    url = db or default_url()
    path = sqlite_file(url)
    if path is not None and not path.exists():  # said before any screen, as the store would say it
        print("错误：数据库尚未初始化，请先运行 hotline init（或 hotline init --demo）", file=sys.stderr)
        return 2

    def opener() -> Ctx:
        from hotline_tui.store import open_ctx

        return open_ctx(db, policy=policy, clock=clock)

    store = PendingStore(opener)
    app = HotlineApp(
        None,
        LoginOptions(
            user=(user or "").strip(), store_url=url, store_label=store_label(url), fixed_user=fixed_user
        ),
        store=store,
    )
    app.run()
    if isinstance(store.error, HotlineError):
        print(f"错误：{store.error.message}", file=sys.stderr)
        return store.error.exit_code
    if store.error is not None:
        print(f"错误：数据库未能打开（{type(store.error).__name__}）", file=sys.stderr)
        return 2
    return app.return_code or 0
