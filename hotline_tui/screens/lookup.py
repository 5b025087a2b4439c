"""Ticket lookup for progress calls (查询工单): by number, phone or words of the demand (T24 14: the caller
may ask for progress and result). Enter opens the ticket with its timeline of events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import Worker, WorkerState

from hotline_tui.screens.home import TicketDetailScreen, TicketTable, fit, notify_failure, plan_columns
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.queries import TicketRow

PAUSE = 0.25


class LookupScreen(Screen[None]):
    """One box: a ticket number (or its last digits), a phone number, or words of the demand."""

    BINDING_GROUP_TITLE = "查询工单"
    AUTO_FOCUS = "#lookup-query"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "返回", id="lookup.back", tooltip="回到上一界面"),
        Binding("down", "to_table", "结果", show=False, id="lookup.down", tooltip="到查询结果"),
        Binding("slash", "focus_query", "查询", key_display="/", id="lookup.query", tooltip="回到查询框"),
    ]

    @dataclass
    class Found(Message, bubble=False):
        query: str
        rows: list[TicketRow]

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.rows: list[TicketRow] = []
        self.box = Input(
            placeholder="工单号（或末几位）、联系电话、诉求内容中的词", id="lookup-query", compact=True
        )
        self.count = Static("", id="lookup-count", markup=False)
        self.table = TicketTable(id="lookup-table", cursor_type="row", zebra_stripes=True)
        self._timer: Timer | None = None
        self.shown_query = ""  # the query whose results are on screen
        self.open_when_found = False  # enter was pressed before the results came

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield Static("查询工单：按工单号、电话或内容，回车查看办理经过", id="lookup-title", markup=False)
        yield self.box
        yield self.count
        yield self.table
        yield StableFooter()

    @on(Input.Changed, "#lookup-query")
    def typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PAUSE, self.run_query)

    @on(Input.Submitted, "#lookup-query")
    def submitted(self) -> None:
        """Enter: one ticket found opens at once (the caller is waiting), several go to the list."""
        query = self.box.value.strip()
        if query and query == self.shown_query:
            self.go_to_results()
            return
        self.open_when_found = True
        self.run_query()

    def go_to_results(self) -> None:
        self.open_when_found = False
        if len(self.rows) == 1:
            self.app.push_screen(TicketDetailScreen(self.ctx, self.rows[0].no))
        elif self.rows:
            self.table.focus()

    def run_query(self) -> None:
        query = self.box.value.strip()
        if not query:
            self.rows = []
            self.shown_query = ""
            self.fill()
            self.count.update("")
            return
        self.count.update("正在查询……")
        self.find(query)

    @work(thread=True, exclusive=True, group="lookup", exit_on_error=False, description="查询工单")
    def find(self, query: str) -> None:
        from hotline_tui.services.lookup import lookup_tickets

        self.post_message(self.Found(query, lookup_tickets(self.ctx, query)))

    @on(Found)
    def show(self, message: Found) -> None:
        if message.query != self.box.value.strip():
            return  # stale
        self.rows = message.rows
        self.shown_query = message.query
        self.fill()
        if self.open_when_found:
            self.go_to_results()
        n = len(message.rows)
        self.count.update(f"找到 {n} 件工单" if n else "没有找到工单：核对工单号或电话，或换几个词")

    def fill(self) -> None:
        table = self.table
        table.clear(columns=True)
        layout = plan_columns(self.rows, self.size.width)
        for col in layout:
            table.add_column(col.label, width=col.width, key=col.key)
        for row in self.rows:
            values = {
                "no": row.no,
                "status": row.status,
                "type": row.type,
                "urgency": row.urgency,
                "created": row.created_at,
                "units": row.units or "—",
                "due": row.due_at or "—",
                "summary": row.summary,
            }
            cells: list[Text | str] = [fit(values[c.key], c.width) for c in layout]
            table.add_row(*cells, key=row.no)

    def on_resize(self) -> None:
        if self.rows:
            self.fill()

    @on(DataTable.RowSelected, "#lookup-table")
    def open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(TicketDetailScreen(self.ctx, event.row_key.value))

    def action_to_table(self) -> None:
        if self.table.row_count:
            self.table.focus()

    def action_focus_query(self) -> None:
        self.box.focus()

    def action_back(self) -> None:
        if self.focused is self.table:
            self.box.focus()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
