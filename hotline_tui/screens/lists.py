"""What the tabbed list screens share (unit inbox, centre queues, callback queue): one table per tab, a
filter, the keyboard grammar of list screens (digits and ``[`` ``]`` switch tabs, ``j/k/g/G`` move, ``/``
filters, ``r`` reloads, ``esc`` clears, never quits), and the count line under the filter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.screen import Screen
from textual.widgets import DataTable, Input, TabbedContent


class TabbedListScreen(Screen[None]):
    """Subclasses set ``TAB_IDS`` and, in ``__init__``, ``tabs``, ``tables``, ``filter`` and ``data``; they
    provide ``load`` (a worker that reads the rows) and ``show_count``."""

    TAB_IDS: ClassVar[tuple[str, ...]] = ()

    tabs: TabbedContent
    tables: Mapping[str, DataTable[Text | str]]
    filter: Input
    data: Any
    _announce: bool = False  # the next load says "已刷新"

    def load(self) -> Any:
        raise NotImplementedError

    def show_count(self, tab: str, shown: int) -> None:
        raise NotImplementedError

    @property
    def active_tab(self) -> str:
        return self.tabs.active or self.TAB_IDS[0]

    @property
    def table(self) -> DataTable[Text | str]:
        return self.tables[self.active_tab]

    def cursor_key(self, tab: str) -> str | None:
        """The key of the row under the cursor of ``tab``'s table, if it has rows."""
        table = self.tables[tab]
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an emptied table has no cursor cell
            return None

    def action_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self.tables[tab].focus()
        if self.data is not None:
            self.show_count(tab, self.tables[tab].row_count)

    def action_next_tab(self, step: int) -> None:
        index = self.TAB_IDS.index(self.active_tab)
        self.action_tab(self.TAB_IDS[(index + step) % len(self.TAB_IDS)])

    @on(TabbedContent.TabActivated)
    def tab_shown(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        if self.data is not None and tab in self.tables:
            self.show_count(tab, self.tables[tab].row_count)

    def action_refresh(self) -> None:
        self._announce = True
        self.load()

    def action_focus_filter(self) -> None:
        self.filter.focus()

    def action_back(self) -> None:
        if self.filter.value:
            self.filter.value = ""
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
