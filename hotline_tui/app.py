"""The Textual application. It is handed a ready ``Ctx``: no engine is created at import time."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from hotline_tui.errors import HotlineError

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx

TITLE = "12345 政务服务便民热线"


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
        Binding("f3", "open_kb", "知识库", key_display="F3", id="app.kb", tooltip="知识库"),
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

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.sub_title = (
            f"{ctx.actor.display_name or ctx.actor.name}（{ctx.actor.role_label}）· {ctx.policy.title}"
        )

    def on_mount(self) -> None:
        from hotline_tui.screens.home import HomeScreen

        self.push_screen(HomeScreen(self.ctx))

    def action_help(self) -> None:
        from hotline_tui.screens.home import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen_title(), self.key_help()))

    def action_open_kb(self) -> None:
        """F3 from anywhere: back to the knowledge base if it is open underneath, else open it."""
        from hotline_tui.screens.kb import KBScreen

        kb = next((s for s in reversed(self.screen_stack) if isinstance(s, KBScreen)), None)
        if kb is None:
            self.push_screen(KBScreen(self.ctx))
            return
        while self.screen is not kb:
            self.pop_screen()
        kb.action_focus_query()

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


def run_app(db: str | None, user: str | None, policy: str | None, now: str | None) -> int:
    """Open the store as ``user`` and run the TUI; a refusal prints a Chinese message and returns 2."""
    from hotline_tui.clock import FixedClock, SystemClock, parse_datetime
    from hotline_tui.store import open_ctx

    try:
        if not user:
            raise HotlineError("请用 --user 指定登录用户（或设置 HOTLINE_USER），例如：hotline --user agent1")
        clock = FixedClock(parse_datetime(now)) if now else SystemClock()
        ctx = open_ctx(db, user=user, policy=policy, clock=clock)
    except HotlineError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return exc.exit_code
    app = HotlineApp(ctx)
    app.run()
    return app.return_code or 0
