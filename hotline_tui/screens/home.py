"""The home screen: who is logged in, what their role can see, and the ticket list with its detail view.

Loading happens in thread workers (the store may be PostgreSQL over a network); the screens only hold
plain dataclasses and dicts returned by the services, never a session or an ORM row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from hotline_tui.models import ASSIGNMENT_STATUSES
from hotline_tui.screens.feedback import failure_text, notify_failure
from hotline_tui.screens.labels import ASSIGNMENT_ROLE_LABELS, COMING_SCREENS, event_label, event_note
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.queries import TicketRow

SOON = timedelta(hours=4)
CENTRE_ROLES = ("agent", "dispatcher", "callback", "supervisor")
# Assignment statuses whose deadline still runs, as labels (a liaison's TicketRow carries the label).
RUNNING_LABELS = (ASSIGNMENT_STATUSES["pending"], ASSIGNMENT_STATUSES["handling"])


# ---------------------------------------------------------------- plain data (no Textual below this line)


@dataclass(frozen=True)
class SummaryItem:
    label: str
    count: int
    tone: str = ""  # "" | "warning" | "error"


@dataclass(frozen=True)
class HomeData:
    unit_name: str
    rows: list[TicketRow]
    summary: list[SummaryItem] = field(default_factory=list)


def load_home(ctx: Ctx) -> HomeData:
    """Everything the home screen shows, read in one go (runs in a worker thread)."""
    from hotline_tui.models import TICKET_STATUSES, Unit
    from hotline_tui.services.queries import status_counts, visible_tickets

    role = ctx.actor.role
    unit_name = ""
    if ctx.actor.unit_id is not None:
        with ctx.read() as s:
            unit = s.get(Unit, ctx.actor.unit_id)
            unit_name = unit.name if unit else ""
    rows = visible_tickets(ctx)
    summary: list[SummaryItem] = []
    if role in CENTRE_ROLES:
        counts = status_counts(ctx)
        summary = [SummaryItem(label, counts.get(code, 0)) for code, label in TICKET_STATUSES.items()]
    elif role == "liaison":
        summary = _unit_summary(ctx)
    return HomeData(unit_name, rows, summary)


def _unit_summary(ctx: Ctx) -> list[SummaryItem]:
    """待接单 / 办理中 / 即将超时 / 已超时 over all running assignments of the liaison's units."""
    from hotline_tui.services.queries import unit_counts

    counts = unit_counts(ctx, int(SOON.total_seconds() // 3600))
    return [
        SummaryItem("待接单", counts["pending"]),
        SummaryItem("办理中", counts["handling"]),
        SummaryItem("即将超时", counts["due_soon"], "warning"),
        SummaryItem("已超时", counts["overdue"], "error"),
    ]


def due_tone(due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    if due < now:
        return "error"
    if due < now + SOON:
        return "warning"
    return ""


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells (CJK characters are two), ending in an ellipsis."""
    if cell_len(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def short_time(value: str | None, seconds: bool = False) -> str:
    if not value:
        return "—"
    dt = datetime.fromisoformat(value)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def matches(row: TicketRow, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join((row.no, row.summary, row.units, row.status, row.type, row.labels)).casefold()
    return all(part in hay for part in needle.casefold().split())


# ---------------------------------------------------------------- table layout


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int


def plan_columns(rows: list[TicketRow], width: int) -> list[Col]:
    """Column widths for a table ``width`` cells wide: narrow terminals drop 受理时间 and 类型, and
    承办单位 / 诉求摘要 share what is left."""

    def widest(values: list[str], label: str, cap: int) -> int:
        return min(cap, max([cell_len(label), *(cell_len(v) for v in values)]))

    wide = width >= 110
    fixed = [
        Col("no", "工单号", widest([r.no for r in rows], "工单号", 20)),
        Col("status", "状态", widest([r.status for r in rows], "状态", 12 if wide else 8)),
    ]
    if wide:
        fixed.append(Col("type", "类型", widest([r.type for r in rows], "类型", 8)))
    fixed.append(Col("urgency", "紧急", widest([r.urgency for r in rows], "紧急", 4)))
    if wide:
        fixed.append(Col("created", "受理时间", 11))
    fixed.append(Col("due", "办理时限", 11))
    padding = 2 * (len(fixed) + 2)
    rest = max(16, width - padding - sum(c.width for c in fixed) - 2)  # 2: the vertical scrollbar
    units_need = max(6, widest([r.units or "—" for r in rows], "承办单位", 40))
    summary_need = max(8, widest([r.labels + r.summary for r in rows], "诉求摘要", 100))
    if units_need + summary_need <= rest:
        units_w = units_need
    else:  # too narrow for both: 承办单位 keeps at least two fifths, or what 诉求摘要 leaves over
        units_w = max(6, min(units_need, max(rest * 2 // 5, rest - summary_need)))
    summary_w = max(8, rest - units_w)
    cols = fixed[:-1] + [Col("units", "承办单位", units_w), fixed[-1], Col("summary", "诉求摘要", summary_w)]
    return cols


# ---------------------------------------------------------------- screens


class TicketTable(DataTable[Text | str]):
    """The ticket list; ``enter`` opens the ticket (shown in the footer, unlike DataTable's own)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "详情", id="tickets.open", tooltip="查看所选工单的详情与办理记录"),
    ]


class HomeScreen(Screen[None]):
    """Role home: identity and counts on top, the visible tickets below."""

    BINDING_GROUP_TITLE = "首页"
    AUTO_FOCUS = "#tickets"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_ticket", "详情", id="home.open", tooltip="查看所选工单的详情与办理记录"),
        Binding(
            "slash",
            "focus_filter",
            "筛选",
            key_display="/",
            id="home.filter",
            tooltip="按工单号、内容或单位筛选",
        ),
        Binding("r", "refresh", "刷新", id="home.refresh", tooltip="重新从数据库载入工单"),
        Binding("escape", "back", "返回", id="home.back", tooltip="清除筛选，回到列表（不会退出）"),
        Binding("j", "cursor('down')", "下一条", show=False, id="home.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="home.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="home.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="home.bottom", tooltip="跳到最后一条"),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        data: HomeData

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, HomeScreen.Loaded)

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: HomeData | None = None
        self.sees_tickets = ctx.actor.role in CENTRE_ROLES or ctx.actor.role == "liaison"
        self.warning = Static(id="calendar-warning", markup=False)
        self.summary = Static("正在载入……", id="summary")
        self.filter = Input(placeholder="按 / 筛选：工单号、内容、单位", id="filter", compact=True)
        self.count = Static("", id="count")
        self.table = TicketTable(id="tickets", cursor_type="row", zebra_stripes=True)
        self.empty = Static(id="empty", markup=False)
        self._layout: list[Col] = []
        self._announce = False

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.warning
        yield self.summary
        if self.sees_tickets:
            with Horizontal(id="filter-bar"):
                yield self.filter
                yield self.count
            yield self.table
        else:
            yield self.empty
        yield StableFooter()

    def on_mount(self) -> None:
        now = self.ctx.now()
        years = [y for y in (now.year, now.year + 1) if self.ctx.calendar.warning_for(y)]
        if years:
            if self.app.size.width < 120:  # one line at 80 columns; the full text is in F1 help and the CLI
                listed = "、".join(str(y) for y in years)
                text = f"{listed}年节假日未录入，时限暂按周一至周五计算（hotline calendar add）"
            else:
                text = self.ctx.calendar.warning_for(years[0]) or ""
                if len(years) > 1:
                    text += f"（{years[1]}年同样尚未录入）"
            self.warning.update("注意：" + text)
        self.warning.display = bool(years)
        self.summary.display = self.sees_tickets
        if not self.sees_tickets:
            role = self.ctx.actor.role_label
            coming = COMING_SCREENS.get(self.ctx.actor.role, "相应的工作界面")
            if self.ctx.actor.role == "kb_editor":
                self.empty.update(
                    f"您的角色是「{role}」，首页不列工单。\n\n"
                    "按 F3 打开知识库：检索、新增和修改条目、查看版本历史、审核队列。\n\n"
                    "过期条目与月度知识库报告暂用命令行：hotline kb --help"
                )
            else:
                self.empty.update(
                    f"您的角色是「{role}」，首页不列工单。\n\n"
                    f"即将提供的界面：{coming}。\n\n"
                    "在此之前，可用命令行完成相应工作：hotline --help"
                )
        else:
            self.table.focus()
        self.load()

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="home", exit_on_error=False, description="载入首页工单")
    def load(self) -> None:
        self.post_message(self.Loaded(load_home(self.ctx)))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        self.data = message.data
        self.show_identity()
        self.summary.update(self.render_summary(message.data.summary))
        if self._announce:
            self._announce = False
            self.notify(f"已刷新：{len(message.data.rows)} 条工单", timeout=2)
        if self.sees_tickets:
            self.fill_table()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        notify_failure(self, event.worker.error)
        if self.data is None:
            self.summary.update("工单载入失败，按 r 重试")

    def render_summary(self, items: list[SummaryItem]) -> Text:
        """``label count`` pairs, wrapped between pairs (never between a label and its count)."""
        if not self.sees_tickets:
            return Text("")
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        width = max(20, self.size.width - 2)
        out = Text()
        used = 0
        for item in items:
            piece = cell_len(f"{item.label} {item.count}")
            if used and used + 2 + piece > width:
                out.append("\n")
                used = 0
            elif used:
                out.append("  ")
                used += 2
            style = f"bold {colours[item.tone]}" if item.tone and item.count else "bold"
            out.append(f"{item.label} ")
            out.append(str(item.count), style=style)
            used += piece
        return out

    def show_identity(self) -> None:
        """The app's sub-title names user, role, unit and policy; narrow terminals drop the policy."""
        unit = self.data.unit_name if self.data else ""
        self.app.sub_title = identity(self.ctx, unit)
        narrow = self.size.width < 110
        self.title = "12345热线" if narrow else None
        self.sub_title = identity(self.ctx, unit, with_policy=False) if narrow else None

    # ------------------------------------------------------------ table

    def on_resize(self) -> None:
        self.show_identity()
        if self.data is not None:
            self.summary.update(self.render_summary(self.data.summary))
            if self.sees_tickets:
                self.fill_table()

    def fill_table(self, *, force_columns: bool = False) -> None:
        assert self.data is not None
        needle = self.filter.value.strip()
        rows = [r for r in self.data.rows if matches(r, needle)]
        layout = plan_columns(self.data.rows, self.size.width)
        table = self.table
        keep = table.cursor_row
        if layout != self._layout or force_columns:
            table.clear(columns=True)
            for col in layout:
                table.add_column(col.label, width=col.width, key=col.key)
            self._layout = layout
        else:
            table.clear()
        now = self.ctx.now()
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        for row in rows:
            due = datetime.fromisoformat(row.due_iso) if row.due_iso else None
            running = self.ctx.actor.role != "liaison" or row.status in RUNNING_LABELS
            tone = due_tone(due, now) if running else ""
            cells: list[Text | str] = []
            for col in layout:
                value = {
                    "no": row.no,
                    "status": row.status,
                    "type": row.type,
                    "urgency": row.urgency,
                    "created": row.created_at,
                    "units": row.units or "—",
                    "due": row.due_at or "—",
                    "summary": (row.labels + row.summary) if row.labels else row.summary,
                }[col.key]
                text = fit(value, col.width)
                if col.key == "due" and tone:
                    cells.append(Text(text, style=f"bold {colours[tone]}"))
                elif col.key == "urgency" and row.urgency not in ("普通", ""):
                    cells.append(Text(text, style=f"bold {colours['warning']}"))
                else:
                    cells.append(text)
            table.add_row(*cells, key=row.no)
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        total = len(self.data.rows)
        self.count.update(f"共 {total} 条" if len(rows) == total else f"筛选 {len(rows)}/{total} 条")
        if not rows:
            self.count.update("没有符合条件的工单" if total else "暂无工单")

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_ticket", "focus_filter", "cursor") and not self.sees_tickets:
            return None
        if action == "open_ticket" and self.table.row_count == 0:
            return None
        return True

    def action_refresh(self) -> None:
        self._announce = True
        self.load()

    def action_focus_filter(self) -> None:
        self.filter.focus()

    def action_back(self) -> None:
        if self.filter.value:
            self.filter.value = ""
        if self.sees_tickets:
            self.table.focus()

    def action_cursor(self, where: str) -> None:
        table = self.table
        if where == "down":
            table.action_cursor_down()
        elif where == "up":
            table.action_cursor_up()
        elif where == "top":
            table.move_cursor(row=0)
        else:
            table.move_cursor(row=max(0, table.row_count - 1))

    def action_open_ticket(self) -> None:
        if self.table.row_count == 0:
            return
        key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value
        if key:
            self.app.push_screen(TicketDetailScreen(self.ctx, key))

    @on(DataTable.RowSelected, "#tickets")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(TicketDetailScreen(self.ctx, event.row_key.value))

    @on(Input.Changed, "#filter")
    def apply_filter(self) -> None:
        if self.data is not None:
            self.fill_table()

    @on(Input.Submitted, "#filter")
    def leave_filter(self) -> None:
        self.table.focus()


def identity(ctx: Ctx, unit_name: str, *, with_policy: bool = True) -> str:
    who = ctx.actor.display_name or ctx.actor.name
    parts = [f"{who}（{ctx.actor.role_label}）"]
    if unit_name:
        parts.append(unit_name)
    if with_policy:
        parts.append(ctx.policy.title)
    return " · ".join(parts)


class TicketDetailScreen(ModalScreen[None]):
    """One ticket as its viewer may see it: caller data is already masked by the service for units."""

    BINDING_GROUP_TITLE = "工单详情"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="detail.back", tooltip="关闭详情，回到工单列表"),
        Binding("r", "reload", "刷新", id="detail.refresh", tooltip="重新载入该工单（个人信息重新脱敏）"),
        Binding(
            "v",
            "reveal",
            "查看完整信息",
            id="detail.reveal",
            tooltip="填写理由后查看诉求人完整个人信息；每次查看都记入审计日志",
        ),
        Binding("f1", "app.help", "帮助", key_display="F1", id="detail.help", tooltip="列出本界面的按键"),
        Binding(
            "question_mark", "app.help", "帮助", show=False, id="detail.help_q", tooltip="列出本界面的按键"
        ),
        Binding("q", "app.quit", "退出", id="detail.quit", tooltip="退出程序"),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        detail: dict[str, Any]

    @dataclass
    class Revealed(Message, bubble=False):
        revealed: dict[str, Any]

    def __init__(self, ctx: Ctx, no: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.no = no
        self.detail: dict[str, Any] | None = None
        self.body = Static("正在载入……", id="detail-body")
        self.scroller = VerticalScroll(self.body, id="detail")

    def compose(self) -> ComposeResult:
        self.scroller.border_title = f"工单 {self.no}"
        self.scroller.border_subtitle = "esc 返回"
        yield self.scroller
        yield Footer()

    def on_mount(self) -> None:
        self.scroller.focus()
        self.load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False, description="载入工单详情")
    def load(self) -> None:
        from hotline_tui.services.queries import ticket_detail

        self.post_message(self.Loaded(ticket_detail(self.ctx, self.no)))

    @on(Loaded)
    def show_detail(self, message: Loaded) -> None:
        self.detail = message.detail
        self.body.update(self.render_detail(message.detail))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reveal":
            caller = (self.detail or {}).get("caller") or {}
            return bool(caller.get("can_reveal")) and bool(caller.get("masked"))
        return True

    def action_reveal(self) -> None:
        def asked(reason: str | None) -> None:
            if reason:
                self.reveal(reason)

        self.app.push_screen(RevealScreen(self.no), asked)

    @work(thread=True, exclusive=True, group="reveal", exit_on_error=False, description="查看完整信息")
    def reveal(self, reason: str) -> None:
        from hotline_tui.services.privacy import reveal_caller

        self.post_message(self.Revealed(reveal_caller(self.ctx, self.no, reason)))

    @on(Revealed)
    def show_revealed(self, message: Revealed) -> None:
        if self.detail is None:
            return
        full = message.revealed
        caller = {**self.detail["caller"], **full["fields"], "masked": False, "access": "revealed"}
        self.detail = {**self.detail, "caller": caller, "text": full["text"]}
        self.body.update(self.render_detail(self.detail))
        self.refresh_bindings()
        self.notify("已显示完整信息，本次查看已记入审计日志", title="查看完整信息")

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
            if event.worker.group != "reveal":  # a refused reveal leaves the masked detail on screen
                self.body.update(Text(failure_text(event.worker.error), style="bold"))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.load()

    def render_detail(self, d: dict[str, Any]) -> Group:
        now = self.ctx.now()
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        accent = theme.accent or "cyan"

        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=8)
        facts.add_column(ratio=1, overflow="fold")
        facts.add_row("状态", Text(d["status_label"], style="bold"))
        facts.add_row("类型", f"{d['type_label']}  渠道 {d['channel_label']}  紧急程度 {d['urgency_label']}")
        if d["labels"]:
            facts.add_row("标签", " ".join(f"【{x}】" for x in d["labels"]))
        facts.add_row("受理时间", short_time(d["created_at"], seconds=True))
        if d.get("closed_at"):
            facts.add_row("办结时间", short_time(d["closed_at"], seconds=True))
        caller = d["caller"]
        flags = [f for f, on_ in (("匿名", d["anonymous"]), ("保密", d["confidential"])) if on_]
        if caller.get("access") == "revealed":
            flags.append("完整信息，已留痕")
        elif caller["masked"]:
            flags.append("已脱敏")
        who = "  ".join(x for x in (caller["name"], caller["phone"]) if x) or "—"
        facts.add_row("诉求人", who + (f"（{'、'.join(flags)}）" if flags else ""))
        if caller["address"]:
            facts.add_row("地址", caller["address"])
        if caller.get("id_number"):
            facts.add_row("身份证号", caller["id_number"])
        if caller["masked"] and caller.get("can_reveal"):
            facts.add_row("", Text("按 v 填写理由后查看完整信息（留痕）", style="dim"))
        facts.add_row("诉求内容", Text(d["text"]))

        units: list[Text] = []
        for a in d["assignments"]:
            due = datetime.fromisoformat(a["due_at"]) if a["due_at"] else None
            tone = due_tone(due, now) if a["status"] in ("pending", "handling") else ""
            head = Text(
                f"{a['unit_name'] or a['unit']}（{ASSIGNMENT_ROLE_LABELS.get(a['role'], a['role'])}）"
            )
            head.append(f"  {a['status_label']}", style="bold")
            line = Text("  办理时限 ")
            line.append(short_time(a["due_at"]), style=f"bold {colours[tone]}" if tone else "")
            if tone:
                line.append(" 已超时" if tone == "error" else " 即将超时", style=f"bold {colours[tone]}")
            if a["accepted_at"]:
                line.append(f"  接单 {short_time(a['accepted_at'])}")
            if a["returns"] or a["extensions"]:
                line.append(f"  退单{a['returns']}次 延期{a['extensions']}次")
            units += [head, line]
        if not units:
            units.append(Text("尚未派单", style="dim"))

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
            return Text(f"\n{text}", style=f"bold {accent}")

        return Group(facts, title("承办单位"), *units, title("办理记录"), timeline)


class RevealScreen(ModalScreen[str | None]):
    """Asks why the full caller data is needed; the reason goes into the audit trail (T24 27)."""

    BINDING_GROUP_TITLE = "查看完整信息"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "取消", id="reveal.cancel", tooltip="不查看，回到工单详情"),
    ]

    def __init__(self, no: str) -> None:
        super().__init__()
        self.no = no

    def compose(self) -> ComposeResult:
        from textual.containers import Vertical

        with Vertical(id="reveal") as box:
            box.border_title = f"查看工单 {self.no} 诉求人完整信息"
            box.border_subtitle = "Enter 确认 · esc 取消"
            yield Static("查看理由将与您的账号、时间一起记入审计日志，请据实填写。")
            yield Input(placeholder="查看理由，如：联系诉求人核实地址", id="reveal-reason", max_length=200)
            yield Static("", id="reveal-error")

    def on_mount(self) -> None:
        self.query_one("#reveal-reason", Input).focus()

    @on(Input.Submitted, "#reveal-reason")
    def submit(self, event: Input.Submitted) -> None:
        from hotline_tui.services.privacy import REASON_MIN

        reason = event.value.strip()
        if len(reason) < REASON_MIN:
            self.query_one("#reveal-error", Static).update(
                Text(f"请写明查看理由（至少{REASON_MIN}个字）", style="bold")
            )
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath and of the whole app, with what they do."""

    BINDING_GROUP_TITLE = "帮助"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="help.back", tooltip="关闭帮助"),
        Binding("f1", "close", "关闭帮助", show=False, id="help.close_f1", tooltip="关闭帮助"),
        Binding("question_mark", "close", "关闭帮助", show=False, id="help.close_q", tooltip="关闭帮助"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold", expand=True)
        table.add_column("按键", no_wrap=True)
        table.add_column("功能", no_wrap=True)
        table.add_column("说明")
        for key, what, why in self.keys:
            table.add_row(Text(key, style="bold"), what, why)
        with VerticalScroll(id="help") as box:
            box.border_title = f"帮助 · {self.title_text}"
            box.border_subtitle = "esc 关闭"
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
