"""One order as its handling unit sees it, and every action the unit may take on it.

The service decides what is allowed (``handling.allowed_actions``); the screen shows each action with
its key, greyed out with the reason when the rules refuse it right now. Each action is a small form that
runs the service in a worker: a refusal is shown in the form in Chinese, the form stays open with
everything typed, and what is typed is kept as a draft in the store until it is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from hotline_tui.screens.feedback import failure_text, notify_failure
from hotline_tui.screens.home import short_time
from hotline_tui.screens.labels import ASSIGNMENT_ROLE_LABELS, event_label, event_note
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.inbox import OrderView

# action -> (key, label); the order they are listed in
UNIT_ACTIONS: dict[str, tuple[str, str]] = {
    "accept": ("a", "接单"),
    "return": ("t", "申请退单"),
    "extend": ("e", "申请延期"),
    "note": ("n", "办理进展"),
    "stop": ("x", "申请终止办理"),
    "reply": ("d", "答复"),
    "appeal": ("p", "申诉"),
}
ACTION_OF_KEY = {key: action for action, (key, _) in UNIT_ACTIONS.items()}
CONTACT_REASON = "联系诉求人办理工单"


class OrderScreen(Screen[None]):
    """Matter, caller, deadlines, co-units, timeline, and the unit's actions."""

    BINDING_GROUP_TITLE = "工单办理"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "act('accept')", "接单", id="order.accept", tooltip="接收该工单（接单时限内）"),
        Binding("t", "act('return')", "退单", id="order.return", tooltip="申请退回：选择理由并写明该理由要求的内容"),
        Binding("e", "act('extend')", "延期", id="order.extend", tooltip="申请延期：原因、联系诉求人的时间、诉求人同意及意见"),
        Binding("n", "act('note')", "进展", id="order.note", tooltip="记录办理进展（阶段性情况）"),
        Binding("x", "act('stop')", "终止", id="order.stop", tooltip="申请终止办理（须附材料，经中心审核）"),
        Binding("d", "act('reply')", "答复", id="order.reply", tooltip="提交办理结果；输入时实时检查答复要素与禁用表述"),
        Binding("p", "act('appeal')", "申诉", id="order.appeal", tooltip="对不满意评价申诉：书面说明与佐证材料"),
        Binding("c", "contact", "联系诉求人", id="order.contact", tooltip="显示诉求人姓名和电话以便联系（留痕）"),
        Binding("v", "reveal", "完整信息", show=False, id="order.reveal", tooltip="填写理由后查看诉求人全部信息（留痕）"),
        Binding("r", "reload", "刷新", show=False, id="order.refresh", tooltip="重新载入该工单"),
        Binding("escape", "close", "返回", id="order.back", tooltip="回到工单箱"),
    ]  # fmt: skip

    @dataclass
    class Loaded(Message, bubble=False):
        view: OrderView

    @dataclass
    class Done(Message, bubble=False):
        text: str

    @dataclass
    class Revealed(Message, bubble=False):
        fields: dict[str, str]
        text: str | None

    def __init__(self, ctx: Ctx, assignment_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.assignment_id = assignment_id
        self.view: OrderView | None = None
        self.revealed: dict[str, str] = {}
        self.revealed_text: str | None = None
        self.body = Static("正在载入……", id="order-body")
        self.scroller = VerticalScroll(self.body, id="order-scroll")
        self.actions_panel = Static("", id="order-actions")
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.scroller
        yield self.actions_panel
        yield StableFooter()

    def on_mount(self) -> None:
        self.scroller.focus()
        self.load()

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="order", exit_on_error=False, description="载入工单")
    def load(self) -> None:
        from hotline_tui.services.inbox import order_view

        self.post_message(self.Loaded(order_view(self.ctx, self.assignment_id)))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        self.view = message.view
        self.title = f"工单 {message.view.detail['no']}"
        self.render_all()
        self.refresh_bindings()

    def render_all(self) -> None:
        if self.view is None:
            return
        self.body.update(self.render_order(self.view))
        self.actions_panel.update(self.render_actions(self.view))

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.busy = False
        notify_failure(self, event.worker.error)
        if self.view is None:
            self.body.update(Text(failure_text(event.worker.error), style="bold"))
        else:
            self.load()  # the refusal may mean the order changed under us: show it as it is now

    # ------------------------------------------------------------ actions

    def refusal(self, action: str) -> str | None:
        if self.view is None:
            return "正在载入"
        return self.view.actions.get(action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters:
            return self.view is not None and self.refusal(str(parameters[0])) is None or None
        if action == "contact":
            caller = (self.view.detail["caller"] if self.view else {}) or {}
            return bool(caller.get("can_reveal") and caller.get("masked") and caller.get("phone")) or None
        if action == "reveal":
            caller = (self.view.detail["caller"] if self.view else {}) or {}
            return bool(caller.get("can_reveal") and caller.get("masked"))
        return True

    def on_key(self, event: Any) -> None:
        """A greyed-out action's key says why it is refused instead of doing nothing."""
        action = ACTION_OF_KEY.get(getattr(event, "key", ""))
        if action is None or self.view is None:
            return
        reason = self.refusal(action)
        if reason:
            event.stop()
            self.notify(
                reason, title=f"不能{UNIT_ACTIONS[action][1]}", severity="warning", timeout=6, markup=False
            )

    def action_act(self, action: str) -> None:
        if self.view is None or self.busy:
            return
        reason = self.refusal(action)
        if reason:
            self.notify(reason, title=f"不能{UNIT_ACTIONS[action][1]}", severity="warning", markup=False)
            return
        from hotline_tui.screens import unit_actions as forms

        view = self.view
        if action == "accept":
            self.app.push_screen(forms.AcceptScreen(self.ctx, view), self.action_finished)
            return
        form = {
            "return": forms.ReturnForm,
            "extend": forms.ExtensionForm,
            "note": forms.NoteForm,
            "stop": forms.StopForm,
            "reply": forms.ReplyForm,
            "appeal": forms.AppealForm,
        }[action]
        self.app.push_screen(form(self.ctx, view), self.action_finished)

    def action_finished(self, result: str | None) -> None:
        if result:
            self.notify(result, title="已提交", timeout=5, markup=False)
        self.load()

    def action_contact(self) -> None:
        """The name and number to call, without typing a reason: calling is the work (audited)."""
        self.reveal(CONTACT_REASON, ("name", "phone"))

    def action_reveal(self) -> None:
        from hotline_tui.screens.home import RevealScreen

        def asked(reason: str | None) -> None:
            if reason:
                self.reveal(reason, ("name", "phone", "address", "id_number"))

        if self.view is not None:
            self.app.push_screen(RevealScreen(self.view.detail["no"]), asked)

    @work(
        thread=True, exclusive=True, group="order-reveal", exit_on_error=False, description="查看诉求人信息"
    )
    def reveal(self, reason: str, fields: tuple[str, ...]) -> None:
        from hotline_tui.services.privacy import reveal_caller

        assert self.view is not None
        got = reveal_caller(self.ctx, self.view.detail["no"], reason, fields)
        self.post_message(self.Revealed(got["fields"], got["text"] if "address" in fields else None))

    @on(Revealed)
    def show_revealed(self, message: Revealed) -> None:
        self.revealed.update({k: v for k, v in message.fields.items() if v})
        if message.text is not None:
            self.revealed_text = message.text
        self.render_all()
        self.notify("已显示诉求人信息，本次查看已记入审计日志", title="诉求人信息", timeout=4)

    def action_reload(self) -> None:
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    # ------------------------------------------------------------ rendering

    def colours(self) -> dict[str, str]:
        theme = self.app.current_theme
        return {
            "warning": theme.warning or "yellow",
            "error": theme.error or "red",
            "accent": theme.accent or "cyan",
        }

    def render_order(self, v: OrderView) -> Group:
        d = v.detail
        mine = v.assignment
        now = self.ctx.now()
        colours = self.colours()

        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=8)
        facts.add_column(ratio=1, overflow="fold")
        status = Text(mine["status_label"], style="bold")
        role = ASSIGNMENT_ROLE_LABELS.get(mine["role"], mine["role"])
        status.append(f"  {mine['unit_name']}（{role}）")
        if mine.get("designated"):
            status.append("  指定承办", style="bold")
        if mine.get("rehandling"):
            status.append("  重新办理", style=f"bold {colours['warning']}")
        facts.add_row("本单位", status)
        kind = Text(f"{d['type_label']}  渠道 {d['channel_label']}  紧急程度 ")
        kind.append(
            d["urgency_label"], style=f"bold {colours['warning']}" if d["urgency"] != "normal" else ""
        )
        facts.add_row("类型", kind)
        if d["labels"]:
            facts.add_row(
                "标签", Text(" ".join(f"【{x}】" for x in d["labels"]), style=f"bold {colours['warning']}")
            )
        facts.add_row("派单时间", short_time(mine["dispatched_at"], seconds=True))
        clock_text, tone = v.clock.show(now)
        if v.clock.kind and v.clock.due is not None:
            line = Text(f"{v.clock.kind}时限 {short_time(v.clock.due.isoformat(), seconds=True)}  ")
            line.append(clock_text, style=f"bold {colours[tone]}" if tone else "bold")
            facts.add_row("时限", line)
        if mine["status"] == "pending" and v.clock.kind == "接单":
            facts.add_row("办理时限", short_time(mine["due_at"], seconds=True) + f"  （{mine['rule']}）")
        elif mine["status"] in ("handling", "pending"):
            facts.add_row("", Text(mine["rule"], style="dim"))
        if mine["status"] in ("pending", "handling") and v.return_due:
            ret = f"{short_time(v.return_due, seconds=True)} 前"
            if v.return_due_complex:
                ret += f"（疑难复杂 {short_time(v.return_due_complex, seconds=True)} 前）"
            facts.add_row("退单时限", ret)
        if mine["extensions"] or mine["status"] == "handling":
            facts.add_row("延期", v.extension_count)
        if mine.get("replied_at"):
            facts.add_row("答复时间", short_time(mine["replied_at"], seconds=True))
        if v.appeal_deadline:
            facts.add_row("申诉期限", short_time(v.appeal_deadline, seconds=True) + " 前")
        if d.get("satisfaction"):
            from hotline_tui.models import SATISFACTION

            facts.add_row("满意度", SATISFACTION.get(d["satisfaction"], d["satisfaction"]))

        caller = {**d["caller"], **self.revealed}
        who = "  ".join(x for x in (caller["name"], caller["phone"]) if x) or "—"
        flags = [
            f
            for f, on_ in (("匿名", d["anonymous"]), ("保密", d["confidential"]), ("不需回复", d["no_reply"]))
            if on_
        ]
        if self.revealed:
            flags.append("已显示，已留痕")
        elif caller["masked"] and caller.get("phone"):
            flags.append("已脱敏")
        facts.add_row("诉求人", who + (f"（{'、'.join(flags)}）" if flags else ""))
        if caller.get("address"):
            facts.add_row("地址", caller["address"])
        if caller.get("id_number"):
            facts.add_row("身份证号", caller["id_number"])
        if caller["masked"] and caller.get("can_reveal") and not self.revealed:
            facts.add_row("", Text("c 显示姓名电话以便联系 · v 填写理由查看全部信息（均留痕）", style="dim"))
        elif caller.get("reveal_refusal") and caller["masked"]:
            facts.add_row("", Text(caller["reveal_refusal"], style="dim"))
        facts.add_row("诉求内容", Text(self.revealed_text or d["text"]))

        others: list[Text] = []
        for a in v.others:
            role_o = ASSIGNMENT_ROLE_LABELS.get(a["role"], a["role"])
            head = Text(f"{a['unit_name'] or a['unit']}（{role_o}）  ")
            head.append(a["status_label"], style="bold")
            if a["status"] in ("pending", "handling") and a["due_at"]:
                head.append(f"  办理时限 {short_time(a['due_at'])}")
            if a.get("replied_at"):
                head.append(f"  答复 {short_time(a['replied_at'])}")
            others.append(head)
            if a.get("reply") and mine["role"] == "lead":
                others.append(Text("  " + " ".join(str(a["reply"]).split()), style="dim"))

        timeline = Table.grid(padding=(0, 1), expand=True)
        timeline.add_column(no_wrap=True, style="dim")
        timeline.add_column(no_wrap=True, style="bold")
        timeline.add_column(no_wrap=True)
        timeline.add_column(ratio=1, overflow="fold")
        for e in d["events"]:
            timeline.add_row(
                short_time(e["at"], seconds=True)[5:],
                event_label(e["kind"]),
                e["actor"] or "",
                event_note(e["kind"], e.get("payload") or {}),
            )

        def title(text: str) -> Text:
            return Text(f"\n{text}", style=f"bold {colours['accent']}")

        parts: list[Any] = [facts]
        if mine.get("reply"):
            parts += [title("本单位答复"), Text(str(mine["reply"]))]
        if others:
            parts += [title("协办单位" if mine["role"] == "lead" else "同单其他承办单位"), *others]
        parts += [title("办理记录"), timeline]
        return Group(*parts)

    def render_actions(self, v: OrderView) -> Group:
        """Every unit action with its key: allowed ones first, refused ones dim with the reason."""
        head = Text()
        allowed = [a for a in UNIT_ACTIONS if v.actions.get(a) is None]
        refused = [a for a in UNIT_ACTIONS if v.actions.get(a) is not None]
        head.append("可办理：", style="bold")
        if allowed:
            for action in allowed:
                key, label = UNIT_ACTIONS[action]
                head.append(f" {key} ", style="reverse bold")
                head.append(f" {label}  ")
        else:
            head.append(" 无（本单位在此工单上已没有待办事项）", style="dim")
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style="dim bold")
        grid.add_column(ratio=1, overflow="fold", style="dim")
        for action in refused:
            key, label = UNIT_ACTIONS[action]
            grid.add_row(f"{key} {label}", str(v.actions[action]))
        return Group(head, grid)


def parse_when(text: str, now: datetime) -> datetime | None:
    """A contact time typed as 2025-01-25 10:30, 01-25 10:30 or 10:30 (today); None when unreadable."""
    from hotline_tui.clock import local

    value = " ".join(text.replace("T", " ").replace("：", ":").split())
    for fmt, fill in (
        ("%Y-%m-%d %H:%M", ""),
        ("%Y-%m-%d %H:%M:%S", ""),
        ("%m-%d %H:%M", "y"),
        ("%H:%M", "d"),
    ):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fill == "y":
            parsed = parsed.replace(year=now.year)
        elif fill == "d":
            parsed = parsed.replace(year=now.year, month=now.month, day=now.day)
        return local(parsed.replace(tzinfo=now.tzinfo))
    return None
