"""The liaison officer's unit inbox: the unit's orders in tabs, nearest deadline first, with countdowns.

The rows are plain ``InboxRow`` dataclasses read in a thread worker; the countdowns are recomputed from
the clock every 30 seconds without going back to the store, and the app's polling worker (``app.py``)
asks for a reload when new orders arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from hotline_tui.screens.feedback import notify_failure
from hotline_tui.screens.home import fit, identity
from hotline_tui.screens.lists import TabbedListScreen
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.inbox import InboxData, InboxRow

# the tabs, as services.inbox.TABS / TAB_LABELS (not imported: the screen module loads before the store)
TABS = ("pending", "handling", "review", "returned", "done")
TAB_LABELS = ("待接单", "办理中", "待审核", "已退回", "已办结")
RUNNING = ("pending", "handling", "review")


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int


def plan_columns(width: int, show_unit: bool) -> list[Col]:
    """Columns for ``width`` cells: 时限 and 工单号 always; 类型, 状态 and 承办 only when there is room."""
    wide = width >= 110
    cols = [Col("clock", "时限", 19), Col("no", "工单号", 17), Col("urgency", "紧急", 4)]
    if wide:
        cols += [Col("type", "类型", 4), Col("state", "状态", 14)]
        if show_unit:
            cols.append(Col("unit", "承办", 20))
    used = sum(c.width for c in cols) + 2 * (len(cols) + 1) + 2
    cols.append(Col("summary", "诉求摘要", max(12, width - used)))
    return cols


def clock_cell(row: InboxRow, now: datetime) -> tuple[str, str]:
    """The time cell: the running clock (接单 剩45分 / 办理 超时2小时) or when the unit's part ended."""
    if row.clock_kind and row.due_iso:
        text, tone = row.clock().show(now)
        return f"{row.clock_kind} {text}", tone
    if row.ended_iso:
        verb = "答复" if row.status == "replied" else "结束"
        return f"{verb} {datetime.fromisoformat(row.ended_iso).strftime('%m-%d %H:%M')}", ""
    return "—", ""


def row_matches(row: InboxRow, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join(
        (row.no, row.summary, row.unit_name, row.status_label, row.type_label, row.urgency_label)
        + row.labels
        + row.markers
    ).casefold()
    return all(part in hay for part in needle.casefold().split())


class InboxTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "打开", id="inbox.table.open", tooltip="打开所选工单"),
    ]


class UnitInboxScreen(TabbedListScreen):
    """The unit's orders: 待接单 / 办理中 / 待审核 / 已退回 / 已办结."""

    BINDING_GROUP_TITLE = "工单箱"
    TAB_IDS = TABS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_order", "打开", id="inbox.open", tooltip="打开所选工单，办理、退单、延期、答复"),
        Binding("slash", "focus_filter", "筛选", key_display="/", id="inbox.filter", tooltip="按工单号、内容、标签筛选"),
        Binding("r", "refresh", "刷新", id="inbox.refresh", tooltip="重新从数据库载入工单"),
        Binding("escape", "back", "返回", id="inbox.back", tooltip="清除筛选，回到列表（不会退出）"),
        Binding("1", "tab('pending')", "待接单", show=False, id="inbox.tab1", tooltip="切换到待接单"),
        Binding("2", "tab('handling')", "办理中", show=False, id="inbox.tab2", tooltip="切换到办理中"),
        Binding("3", "tab('review')", "待审核", show=False, id="inbox.tab3", tooltip="切换到待审核（等待中心审核）"),
        Binding("4", "tab('returned')", "已退回", show=False, id="inbox.tab4", tooltip="切换到已退回"),
        Binding("5", "tab('done')", "已办结", show=False, id="inbox.tab5", tooltip="切换到已办结"),
        Binding("right_square_bracket", "next_tab(1)", "下一页签", show=False, key_display="]", id="inbox.next", tooltip="下一个页签"),
        Binding("left_square_bracket", "next_tab(-1)", "上一页签", show=False, key_display="[", id="inbox.prev", tooltip="上一个页签"),
        Binding("j", "cursor('down')", "下一条", show=False, id="inbox.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="inbox.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="inbox.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="inbox.bottom", tooltip="跳到最后一条"),
    ]  # fmt: skip

    @dataclass
    class Loaded(Message, bubble=False):
        data: InboxData

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, UnitInboxScreen.Loaded)

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: InboxData | None = None
        self.summary = Static("正在载入……", id="inbox-summary")
        self.filter = Input(placeholder="按 / 筛选：工单号、内容、标签", id="inbox-filter", compact=True)
        self.count = Static("", id="inbox-count")
        self.tabs = TabbedContent(id="inbox-tabs")
        self.tables = {
            tab: InboxTable(id=f"inbox-{tab}", cursor_type="row", zebra_stripes=True) for tab in TABS
        }
        self._layout: dict[str, list[Col]] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.summary
        with Horizontal(id="inbox-filter-bar"):
            yield self.filter
            yield self.count
        with self.tabs:
            for tab, label in zip(TABS, TAB_LABELS, strict=True):
                with TabPane(label, id=tab):
                    yield self.tables[tab]
        yield StableFooter()

    def on_mount(self) -> None:
        self.show_identity()
        self.tables["pending"].focus()
        self.load()
        self.set_interval(30, self.tick)

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="inbox", exit_on_error=False, description="载入工单箱")
    def load(self) -> None:
        from hotline_tui.services.inbox import load_inbox

        self.post_message(self.Loaded(load_inbox(self.ctx)))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        first = self.data is None
        self.data = message.data
        self.show_identity()
        if self._announce:
            self._announce = False
            total = sum(message.data.counts.values())
            self.notify(f"已刷新：共 {total} 件", timeout=2)
        for tab in TABS:
            self.fill(tab)
        self.show_summary()
        if first and not message.data.counts["pending"]:
            # nothing to accept: open where the work is
            for tab in ("handling", "review"):
                if message.data.counts[tab]:
                    self.action_tab(tab)
                    break

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        notify_failure(self, event.worker.error)
        if self.data is None:
            self.summary.update("工单载入失败，按 r 重试")

    def tick(self) -> None:
        """Countdowns move with the clock; the rows stay as loaded."""
        if self.data is not None and self.is_current:
            for tab in RUNNING:
                self.fill(tab)
            self.show_summary()

    # ------------------------------------------------------------ showing

    def show_identity(self) -> None:
        unit = self.data.unit_name if self.data else ""
        narrow = self.size.width < 110
        self.title = "12345热线" if narrow else None
        pulse = getattr(self.app, "pulse_text", "")
        who = identity(self.ctx, unit, with_policy=not narrow)
        self.sub_title = f"{pulse} · {who}" if pulse else who

    def show_summary(self) -> None:
        assert self.data is not None
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        now = self.ctx.now()
        soon = late = 0
        for tab in RUNNING:
            for row in self.data.rows[tab]:
                _, tone = clock_cell(row, now)
                soon += tone == "warning"
                late += tone == "error"
        out = Text()
        for label, tab in zip(TAB_LABELS[:3], TABS[:3], strict=True):
            out.append(f"{label} ")
            out.append(str(self.data.counts[tab]), style="bold")
            out.append("  ")
        out.append("即将超时 ")
        out.append(str(soon), style=f"bold {colours['warning']}" if soon else "bold")
        out.append("  已超时 ")
        out.append(str(late), style=f"bold {colours['error']}" if late else "bold")
        if self.size.width >= 100:
            out.append(f"  · 更新于 {self.data.now.strftime('%H:%M:%S')}", style="dim")
        self.summary.update(out)
        for tab, label in zip(TABS, TAB_LABELS, strict=True):
            n = self.count_text(tab)
            self.tabs.get_tab(tab).label = f"{label} {n}" if self.data.counts[tab] else label

    def on_resize(self) -> None:
        self.show_identity()
        if self.data is not None:
            for tab in TABS:
                self.fill(tab)
            self.show_summary()

    def fill(self, tab: str) -> None:
        assert self.data is not None
        rows = [r for r in self.data.rows[tab] if row_matches(r, self.filter.value.strip())]
        show_unit = len(self.ctx.actor.unit_ids) > 1
        layout = plan_columns(self.size.width, show_unit)
        table = self.tables[tab]
        keep_key = self.cursor_key(tab)
        if layout != self._layout.get(tab):
            table.clear(columns=True)
            for col in layout:
                table.add_column(col.label, width=col.width, key=col.key)
            self._layout[tab] = layout
        else:
            table.clear()
        now = self.ctx.now()
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        wide = any(c.key == "state" for c in layout)
        for row in rows:
            clock, tone = clock_cell(row, now)
            marks = "".join(f"［{m}］" for m in row.markers)
            labels = "".join(f"【{x}】" for x in row.labels)
            state = row.status_label if not row.markers else row.markers[0]
            role = "" if row.role_label == "承办" else f"（{row.role_label}）"
            cells: list[Text | str] = []
            for col in layout:
                if col.key == "clock":
                    cells.append(Text(fit(clock, col.width), style=f"bold {colours[tone]}" if tone else ""))
                elif col.key == "no":
                    cells.append(row.no)
                elif col.key == "urgency":
                    style = f"bold {colours['warning']}" if row.urgency != "normal" else ""
                    cells.append(Text(fit(row.urgency_label, col.width), style=style))
                elif col.key == "type":
                    cells.append(fit(row.type_label, col.width))
                elif col.key == "state":
                    cells.append(fit(state + role, col.width))
                elif col.key == "unit":
                    cells.append(fit(row.unit_name, col.width))
                else:
                    lead = labels + ("" if wide else marks + role)
                    text = Text(fit(lead + row.summary, col.width))
                    if labels:
                        text.stylize(f"bold {colours['warning']}", 0, len(labels))
                    cells.append(text)
            table.add_row(*cells, key=str(row.assignment_id))
        if rows:
            index = next((i for i, r in enumerate(rows) if str(r.assignment_id) == keep_key), None)
            table.move_cursor(row=index if index is not None else min(table.cursor_row, len(rows) - 1))
        if tab == self.tabs.active:
            self.show_count(tab, len(rows))

    def show_count(self, tab: str, shown: int) -> None:
        if self.data is None:
            return
        loaded = len(self.data.rows[tab])
        total = self.data.counts[tab]
        if not total:
            text = "暂无工单"
        elif shown != loaded:
            text = f"筛选 {shown}/{loaded} 件"
        elif loaded < total:
            text = f"显示最近 {loaded}/{self.count_text(tab)} 件"
        else:
            text = f"共 {total} 件"
        self.count.update(text)

    def count_text(self, tab: str) -> str:
        """A tab's count: finished tabs are counted up to a cap (1000+)."""
        assert self.data is not None
        n = self.data.counts[tab]
        return f"{n}+" if tab in self.data.capped else str(n)

    # ------------------------------------------------------------ actions

    def action_open_order(self) -> None:
        key = self.cursor_key(self.active_tab)
        if key:
            self.open_order(int(key))

    @on(DataTable.RowSelected)
    def open_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_order(int(event.row_key.value))

    def open_order(self, assignment_id: int) -> None:
        from hotline_tui.screens.order import OrderScreen

        self.app.push_screen(OrderScreen(self.ctx, assignment_id), self.order_closed)

    def order_closed(self, _: None) -> None:
        self.load()

    @on(Input.Changed, "#inbox-filter")
    def apply_filter(self) -> None:
        if self.data is not None:
            for tab in TABS:
                self.fill(tab)

    @on(Input.Submitted, "#inbox-filter")
    def leave_filter(self) -> None:
        self.table.focus()
