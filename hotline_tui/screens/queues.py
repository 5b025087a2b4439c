"""The centre's queues for dispatchers and supervisors: one tab per queue, most urgent and oldest first.

``enter`` opens the decision on one row; ``space`` selects rows and ``A`` / ``R`` decide them all at once
(each still checked by the rules; a summary says what was refused and why). Rows are plain
``QueueRow`` dataclasses read in a worker; the decisions run the services in workers.
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
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Header, Input, Label, Select, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.screens.feedback import failure_text, notify_failure
from hotline_tui.screens.home import fit, identity, short_time
from hotline_tui.screens.intake import QuickSelect
from hotline_tui.screens.lists import TabbedListScreen
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.queues import QueueItem, QueueRow, QueuesData

# as services.queues.QUEUES / QUEUE_LABELS (not imported: screens load before the store)
QUEUES = ("dispatch", "returns", "extensions", "stops", "replies", "designation", "appeals")
QUEUE_LABELS = ("待派单", "退单申请", "延期申请", "终止申请", "答复审核", "指定承办", "申诉")
DECISIONS = {
    "returns": ("同意退回", "不同意退回（原单位继续办理）"),
    "extensions": ("同意延期", "不同意延期"),
    "stops": ("同意终止办理", "不同意终止办理"),
    "replies": ("答复通过", "退回补充（时限不重新计算）"),
    "appeals": ("申诉成立（不扣分）", "驳回申诉"),
}
SUGGEST_ROWS = 60  # the unit suggestion is computed for the first rows of 待派单 (about 12 ms each)
SINCE_LABEL = {
    "dispatch": "受理",
    "designation": "受理",
    "returns": "申请",
    "extensions": "申请",
    "stops": "申请",
    "replies": "答复",
    "appeals": "申诉",
}


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int


def plan_columns(queue: str, width: int) -> list[Col]:
    wide = width >= 110
    cols = [Col("mark", "", 1), Col("age", "等待", 10), Col("no", "工单号", 17), Col("urgency", "紧急", 4)]
    if queue not in ("dispatch", "designation"):
        cols.append(Col("unit", "承办单位", 20 if wide else 12))
    if wide:
        cols.append(Col("what", "事由", 36))
    used = sum(c.width for c in cols) + 2 * (len(cols) + 1) + 2
    cols.append(Col("summary", "诉求摘要" if wide else "事由 · 诉求", max(12, width - used)))
    return cols


def age_text(since: str, now: datetime) -> str:
    from hotline_tui.services.inbox import span

    return span(now - datetime.fromisoformat(since)) if since else "—"


def row_matches(row: QueueRow, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join((row.no, row.summary, row.unit, row.what, row.type_label, row.urgency_label) + row.labels)
    return all(part in hay.casefold() for part in needle.casefold().split())


class QueueTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "审核", id="queues.table.open", tooltip="打开所选事项并作出决定"),
    ]


class CentreQueueScreen(TabbedListScreen):
    """Dispatch, returns, extensions, stop-handling, replies, designation and appeals, one tab each."""

    BINDING_GROUP_TITLE = "中心审核队列"
    TAB_IDS = QUEUES
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_item", "审核", id="queues.open", tooltip="打开所选事项并作出决定"),
        Binding("space", "toggle_row", "选择", id="queues.select", tooltip="选中或取消选中当前行（批量办理）"),
        Binding("A", "bulk(True)", "批量同意", key_display="A", id="queues.bulk_yes", tooltip="对选中的事项逐件同意（待派单：派往同一单位），每件仍按规则检查"),
        Binding("R", "bulk(False)", "批量驳回", key_display="R", id="queues.bulk_no", tooltip="对选中的事项逐件驳回，须写明理由"),
        Binding("slash", "focus_filter", "筛选", key_display="/", id="queues.filter", tooltip="按工单号、单位、内容筛选"),
        Binding("r", "refresh", "刷新", id="queues.refresh", tooltip="重新载入队列"),
        Binding("escape", "back", "返回", id="queues.back", tooltip="清除筛选与选择（不会退出）"),
        *(
            Binding(str(i), f"tab('{q}')", label, show=False, id=f"queues.tab{i}", tooltip=f"切换到{label}")
            for i, (q, label) in enumerate(zip(QUEUES, QUEUE_LABELS, strict=True), start=1)
        ),
        Binding("j", "cursor('down')", "下一条", show=False, id="queues.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="queues.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="queues.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="queues.bottom", tooltip="跳到最后一条"),
    ]  # fmt: skip

    @dataclass
    class Loaded(Message, bubble=False):
        data: QueuesData

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CentreQueueScreen.Loaded)

    @dataclass
    class Suggested(Message, bubble=False):
        units: dict[str, str]

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: QueuesData | None = None
        self.selected: dict[str, set[str]] = {q: set() for q in QUEUES}
        self.summary = Static("正在载入……", id="queues-summary")
        self.filter = Input(placeholder="按 / 筛选：工单号、单位、内容", id="queues-filter", compact=True)
        self.count = Static("", id="queues-count")
        self.tabs = TabbedContent(id="queues-tabs")
        self.tables = {q: QueueTable(id=f"queue-{q}", cursor_type="row", zebra_stripes=True) for q in QUEUES}
        self._layout: dict[str, list[Col]] = {}
        self.suggested: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.summary
        with Horizontal(id="queues-filter-bar"):
            yield self.filter
            yield self.count
        with self.tabs:
            for q, label in zip(QUEUES, QUEUE_LABELS, strict=True):
                with TabPane(label, id=q):
                    yield self.tables[q]
        yield StableFooter()

    def on_mount(self) -> None:
        self.sub_title = identity(self.ctx, "", with_policy=self.size.width >= 110)
        self.tables["dispatch"].focus()
        self.load()

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="queues", exit_on_error=False, description="载入审核队列")
    def load(self) -> None:
        from hotline_tui.services.queues import load_queues

        self.post_message(self.Loaded(load_queues(self.ctx)))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        first = self.data is None
        self.data = message.data
        for q in QUEUES:
            keys = {r.key for r in message.data.rows[q]}
            self.selected[q] &= keys  # decided rows leave the selection
            self.fill(q)
        self.show_summary()
        if self._announce:
            self._announce = False
            self.notify(f"已刷新：共 {sum(message.data.counts.values())} 件待办", timeout=2)
        missing = [r.no for r in message.data.rows["dispatch"][:SUGGEST_ROWS] if r.no not in self.suggested]
        if missing:
            self.suggest(missing)
        if first and not message.data.counts["dispatch"]:
            busy = next((q for q in QUEUES if message.data.counts[q]), None)
            if busy:
                self.action_tab(busy)

    @work(thread=True, exclusive=True, group="queues-suggest", exit_on_error=False, description="派单建议")
    def suggest(self, nos: list[str]) -> None:
        from hotline_tui.services.queues import dispatch_suggestions

        self.post_message(self.Suggested(dispatch_suggestions(self.ctx, nos)))

    @on(Suggested)
    def show_suggested(self, message: Suggested) -> None:
        self.suggested.update(message.units)
        if self.data is not None:
            self.fill("dispatch")

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "queues-suggest":
            return  # a suggestion is a help, not the work: the decision view computes it again
        notify_failure(self, event.worker.error)
        if self.data is None:
            self.summary.update("队列载入失败，按 r 重试")

    def show_summary(self) -> None:
        assert self.data is not None
        out = Text()
        for q, label in zip(QUEUES, QUEUE_LABELS, strict=True):
            n = self.data.counts[q]
            out.append(f"{label} ")
            out.append(str(n), style="bold")
            out.append("  ")
            self.tabs.get_tab(q).label = f"{label} {n}" if n else label
        chosen = sum(len(v) for v in self.selected.values())
        if chosen:
            out.append(f"· 已选 {chosen} 件（A 批量同意，R 批量驳回）", style="bold")
        self.summary.update(out)

    def on_resize(self) -> None:
        if self.data is not None:
            for q in QUEUES:
                self.fill(q)

    def fill(self, queue: str) -> None:
        assert self.data is not None
        rows = [r for r in self.data.rows[queue] if row_matches(r, self.filter.value.strip())]
        layout = plan_columns(queue, self.size.width)
        table = self.tables[queue]
        keep = self.cursor_key(queue)
        if layout != self._layout.get(queue):
            table.clear(columns=True)
            for col in layout:
                table.add_column(col.label, width=col.width, key=col.key)
            self._layout[queue] = layout
        else:
            table.clear()
        theme = self.app.current_theme
        colours = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        wide = any(c.key == "what" for c in layout)
        for row in rows:
            cells: list[Text | str] = []
            for col in layout:
                if col.key == "mark":
                    cells.append(Text("✓", style="bold") if row.key in self.selected[queue] else "")
                elif col.key == "age":
                    cells.append(fit(age_text(row.since, self.data.now), col.width))
                elif col.key == "no":
                    cells.append(row.no)
                elif col.key == "urgency":
                    style = f"bold {colours['warning']}" if row.urgency != "normal" else ""
                    cells.append(Text(fit(row.urgency_label, col.width), style=style))
                elif col.key == "unit":
                    cells.append(fit(row.unit, col.width))
                elif col.key == "what":
                    style = f"bold {colours[row.flag]}" if row.flag else ""
                    cells.append(Text(fit(self.what_of(row), col.width), style=style))
                else:
                    labels = "".join(f"【{x}】" for x in row.labels)
                    what = self.what_of(row)
                    lead = labels + ("" if wide or not what else f"{what}｜")
                    cells.append(Text(fit(lead + row.summary, col.width)))
            table.add_row(*cells, key=row.key)
        if rows:
            index = next((i for i, r in enumerate(rows) if r.key == keep), None)
            table.move_cursor(row=index if index is not None else min(table.cursor_row, len(rows) - 1))
        if queue == self.tabs.active:
            self.show_count(queue, len(rows))

    def what_of(self, row: QueueRow) -> str:
        if row.queue == "dispatch" and row.no in self.suggested:
            return f"建议 {self.suggested[row.no]}" + (
                f"；{row.what}" if row.what.startswith("已退回") else ""
            )
        return row.what

    def show_count(self, queue: str, shown: int) -> None:
        if self.data is None:
            return
        total = self.data.counts[queue]
        loaded = len(self.data.rows[queue])
        if not total:
            text = "暂无待办"
        elif shown != loaded:
            text = f"筛选 {shown}/{loaded} 件"
        elif loaded < total:
            text = f"显示最早 {loaded}/{total} 件"
        else:
            text = f"共 {total} 件"
        self.count.update(text)

    @property
    def queue(self) -> str:
        return self.active_tab

    def row_of(self, queue: str, key: str) -> QueueRow | None:
        if self.data is None:
            return None
        return next((r for r in self.data.rows[queue] if r.key == key), None)

    # ------------------------------------------------------------ actions

    def action_back(self) -> None:
        if self.filter.value:
            self.filter.value = ""
        elif any(self.selected.values()):
            for q in QUEUES:
                self.selected[q].clear()
                self.fill(q)
            self.show_summary()
        self.tables[self.queue].focus()

    def action_toggle_row(self) -> None:
        queue = self.queue
        key = self.cursor_key(queue)
        if key is None:
            return
        chosen = self.selected[queue]
        chosen.symmetric_difference_update({key})
        self.fill(queue)
        self.show_summary()
        self.tables[queue].action_cursor_down()

    def action_open_item(self) -> None:
        key = self.cursor_key(self.queue)
        if key:
            self.open_item(self.queue, key)

    @on(DataTable.RowSelected)
    def open_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_item(self.queue, event.row_key.value)

    def open_item(self, queue: str, key: str) -> None:
        row = self.row_of(queue, key)
        if row is not None:
            self.app.push_screen(DecisionScreen(self.ctx, row), self.decided)

    def decided(self, result: str | None) -> None:
        if result:
            self.notify(result, title="已办理", timeout=5, markup=False)
        self.load()

    def action_bulk(self, approve: bool) -> None:
        queue = self.queue
        rows = [r for r in (self.data.rows[queue] if self.data else []) if r.key in self.selected[queue]]
        if not rows:
            self.notify("先用空格选中要批量办理的事项", timeout=4)
            return
        if queue == "designation":
            self.notify(
                "指定承办须逐件研究并记录征求意见情况，不能批量办理（广州办法第十六条）", severity="warning"
            )
            return
        if queue == "dispatch" and not approve:
            self.notify("待派单没有“驳回”：请逐件派单或转为其他处理", severity="warning")
            return
        self.app.push_screen(BulkScreen(self.ctx, queue, rows, approve), self.bulk_done)

    def bulk_done(self, result: str | None) -> None:
        if result:
            from hotline_tui.screens.admin import ConfirmScreen

            self.app.push_screen(ConfirmScreen("批量办理结果", result + "\n\n按 y 或 esc 关闭"))
        self.load()

    @on(Input.Changed, "#queues-filter")
    def apply_filter(self) -> None:
        if self.data is not None:
            for q in QUEUES:
                self.fill(q)

    @on(Input.Submitted, "#queues-filter")
    def leave_filter(self) -> None:
        self.tables[self.queue].focus()


# ---------------------------------------------------------------- one decision


class DecisionScreen(ModalScreen[str | None]):
    """The matter and what the decision rests on, then the decision. ^S decides; esc goes back."""

    BINDING_GROUP_TITLE = "审核"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "提交", key_display="^S", priority=True, id="decide.submit", tooltip="提交决定"),
        Binding("ctrl+o", "pick_unit", "选择单位", key_display="^O", priority=True, id="decide.pick", tooltip="按名称、拼音首字母或编码查找承办单位"),
        Binding("escape", "cancel", "返回", id="decide.cancel", tooltip="不作决定，回到队列"),
    ]  # fmt: skip

    @dataclass
    class Loaded(Message, bubble=False):
        item: QueueItem

    @dataclass
    class Decided(Message, bubble=False):
        text: str

    @dataclass
    class Previewed(Message, bubble=False):
        units: str
        text: str

    def __init__(self, ctx: Ctx, row: QueueRow) -> None:
        super().__init__()
        self.ctx = ctx
        self.row = row
        self.item: QueueItem | None = None
        self.body = Static("正在载入……", id="decide-body")
        self.error = Static("", classes="form-error", markup=False)
        self.preview = Static("", id="decide-preview", classes="form-hint")
        self.sending = False

    def compose(self) -> ComposeResult:
        queue = self.row.queue
        label = QUEUE_LABELS[QUEUES.index(queue)]
        # the matter scrolls; the decision stays in view under it, at 80×24 too
        with Vertical(classes="unit-form decide-form decide-split") as box:
            box.border_title = f"{label} · 工单 {self.row.no}"
            box.border_subtitle = "^S 提交 · esc 返回"
            yield VerticalScroll(self.body, id="decide-scroll")
            with Vertical(id="decide-fields"):
                if queue in DECISIONS:
                    yes, no = DECISIONS[queue]
                    yield Horizontal(
                        Label("决定", classes="form-label"),
                        QuickSelect(
                            [(f"1 {yes}", "yes"), (f"2 {no}", "no")],
                            prompt="选择（数字键）",
                            id="decide-choice",
                        ),
                        classes="form-row",
                    )
                    yield Horizontal(
                        Label("意见", classes="form-label"),
                        Input(placeholder="审核意见（不同意、退回时必填）", id="decide-note", compact=True),
                        classes="form-row",
                    )
                if queue in ("dispatch", "designation", "returns"):
                    hint = (
                        "重新派往（可空：工单回到待派单）"
                        if queue == "returns"
                        else "承办单位编码，多个用逗号分隔，第一个为主办"
                    )
                    yield Horizontal(
                        Label("承办单位", classes="form-label"),
                        Input(placeholder=f"{hint}；^O 查找", id="decide-units", compact=True),
                        classes="form-row decide-units",
                    )
                    yield self.preview
                if queue in ("designation", "returns"):
                    yield Horizontal(
                        Label("征求意见", classes="form-label"),
                        Input(
                            placeholder="指定前征求了哪个部门的意见（如 区委编办、司法局）",
                            id="decide-consulted",
                            compact=True,
                        ),
                        classes="form-row decide-consulted",
                    )
                yield self.error
        yield StableFooter()

    def on_mount(self) -> None:
        self.error.display = False
        self.preview.display = False
        self.load()

    @work(thread=True, exclusive=True, group="decide-load", exit_on_error=False, description="载入事项")
    def load(self) -> None:
        from hotline_tui.services.queues import queue_item

        self.post_message(self.Loaded(queue_item(self.ctx, self.row.queue, self.row.key)))

    @on(Loaded)
    def show_item(self, message: Loaded) -> None:
        item = self.item = message.item
        self.body.update(self.render_item(item))
        queue = self.row.queue
        if queue in ("designation", "returns"):
            self.query_one(".decide-consulted").display = item.designation_needed
        if queue in ("dispatch", "designation") and item.suggestions:
            field = self.query_one("#decide-units", Input)
            if not field.value:
                field.value = item.suggestions[0][0]
        first = next((w for w in self.query("Select, Input") if w.focusable), None)
        if first is not None:
            first.focus()

    def render_item(self, item: QueueItem) -> Group:
        d = item.detail
        theme = self.app.current_theme
        accent = theme.accent or "cyan"
        warn = theme.warning or "yellow"
        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=10)
        facts.add_column(ratio=1, overflow="fold")
        kind = Text(f"{d['type_label']}  渠道 {d['channel_label']}  紧急程度 ")
        kind.append(d["urgency_label"], style=f"bold {warn}" if d["urgency"] != "normal" else "")
        facts.add_row("类型", kind)
        if d["labels"]:
            facts.add_row("标签", Text(" ".join(f"【{x}】" for x in d["labels"]), style=f"bold {warn}"))
        facts.add_row("受理时间", short_time(d["created_at"], seconds=True))
        if d["district"]:
            facts.add_row("区域", d["district"])
        facts.add_row("诉求内容", Text(d["text"]))
        parts: list[Any] = [facts]

        def title(text: str) -> Text:
            return Text(f"\n{text}", style=f"bold {accent}")

        a = item.assignment
        if a is not None:
            head = Text(
                f"{a['unit_name']}（{a['status_label']}）  办理时限 {short_time(a['due_at'], seconds=True)}"
            )
            if a.get("extensions"):
                head.append(f"  已延期{a['extensions']}次")
            parts += [title("承办单位"), head]
        if item.facts:
            grid = Table.grid(padding=(0, 1), expand=True)
            grid.add_column(no_wrap=True, style="bold", width=14)
            grid.add_column(ratio=1, overflow="fold")
            for label, value in item.facts:
                grid.add_row(label, value)
            heading = "申请内容" if item.request else "依据"
            if self.app.size.width >= 120:  # the unit's case beside the matter it is about
                both = Table.grid(padding=(0, 2), expand=True)
                both.add_column(ratio=1)
                both.add_column(ratio=1)
                both.add_row(
                    Group(Text("诉求", style=f"bold {accent}"), facts),
                    Group(Text(heading, style=f"bold {accent}"), grid),
                )
                parts[0] = both
            else:
                parts += [title(heading), grid]
        if a is not None and item.queue == "replies":
            parts += [title("答复"), Text(str(a.get("reply") or ""))]
            if item.findings:
                lines = Text(f"答复检查发现{len(item.findings)}项问题：", style=f"bold {warn}")
                for f in item.findings:
                    lines.append(f"\n· {f}")
                parts.append(lines)
            else:
                parts.append(Text("答复检查：要素齐全，未发现禁用表述", style="bold"))
        if item.exclusions:
            lines = Text("不得申诉的情形：", style=f"bold {warn}")
            for x in item.exclusions:
                lines.append(f"\n· {x}")
            parts += [title("申诉范围"), lines]
        if item.designation_needed:
            parts.append(
                Text(
                    f"\n已退回{d['returns']}次：批准后须经研究指定承办单位，并记录征求意见情况（{self.ctx.policy.designation_cite}）",
                    style=f"bold {warn}",
                )
            )
        if item.suggestions:
            sug = Text()
            for code, name, why in item.suggestions:
                sug.append(f"{code} ", style="bold")
                sug.append(f"{name}  ")
                sug.append(f"{why}\n", style="dim")
            parts += [title("建议承办单位"), sug]
        return Group(*parts)

    # ------------------------------------------------------------ units and deadlines

    def units(self) -> list[str]:
        if not self.query("#decide-units"):
            return []
        raw = self.query_one("#decide-units", Input).value
        return [u.strip() for u in raw.replace("，", ",").replace("、", ",").split(",") if u.strip()]

    def action_pick_unit(self) -> None:
        if not self.query("#decide-units"):
            return
        from hotline_tui.screens.intake import UnitPickerScreen

        def picked(choice: Any) -> None:
            if choice is None:
                return
            field = self.query_one("#decide-units", Input)
            codes = self.units()
            if choice.code not in codes:
                codes.append(choice.code)
            field.value = ", ".join(codes)
            field.focus()

        self.app.push_screen(UnitPickerScreen(self.ctx), picked)

    @on(Input.Changed, "#decide-units")
    def units_changed(self) -> None:
        self.run_preview(", ".join(self.units()))

    @work(thread=True, exclusive=True, group="decide-preview", exit_on_error=False, description="计算时限")
    def run_preview(self, units: str) -> None:
        from hotline_tui.services.dispatch import preview

        codes = [u for u in units.split(", ") if u]
        if not codes:
            self.post_message(self.Previewed(units, ""))
            return
        try:
            lines = preview(self.ctx, self.row.no, codes)
        except HotlineError as exc:
            self.post_message(self.Previewed(units, exc.message))
            return
        text = "\n".join(
            f"{x.unit_name}（{ {'single': '承办', 'lead': '主办', 'co': '协办'}[x.role] }）办理时限 "
            f"{short_time(x.due_at, seconds=True)}（{x.rule}）"
            for x in lines
        )
        self.post_message(self.Previewed(units, text))

    @on(Previewed)
    def show_preview(self, message: Previewed) -> None:
        if message.units == ", ".join(self.units()):
            self.preview.update(message.text)
            self.preview.display = bool(message.text)

    # ------------------------------------------------------------ deciding

    def choice(self) -> bool | None:
        if not self.query("#decide-choice"):
            return True
        value = self.query_one("#decide-choice", Select).value
        return {"yes": True, "no": False}.get(value if isinstance(value, str) else "")

    def action_submit(self) -> None:
        if self.sending or self.item is None:
            return
        approve = self.choice()
        if approve is None:
            self.show_error("请先选择决定（1 同意 / 2 不同意）")
            return
        note = self.query_one("#decide-note", Input).value if self.query("#decide-note") else ""
        consulted = (
            self.query_one("#decide-consulted", Input).value if self.query("#decide-consulted") else ""
        )
        units = self.units()
        queue = self.row.queue
        try:
            if queue == "designation" and self.item.consult_required and not consulted.strip():
                raise InvalidInput(
                    f"指定承办单位前应征求意见，请写明征求了谁的意见（{self.ctx.policy.designation_cite}）"
                )
        except HotlineError as exc:
            self.show_error(exc.message)
            return
        self.error.display = False
        self.sending = True
        self.decide(approve, note, units, consulted, self.item.designation_needed)

    def show_error(self, text: str) -> None:
        self.error.update(text)
        self.error.display = True

    @work(thread=True, exclusive=True, group="decide", exit_on_error=False, description="提交决定")
    def decide(self, approve: bool, note: str, units: list[str], consulted: str, designate: bool) -> None:
        from hotline_tui.services.queues import decide

        version = self.row.version if self.row.queue in ("replies", "dispatch", "designation") else None
        if self.row.queue in ("dispatch", "designation"):
            version = None  # the ticket's version is checked by the dispatch itself
        text = decide(
            self.ctx, self.row.queue, self.row.key, approve=approve, note=note, units=units,
            consulted=consulted, designate=designate, version=version,
        )  # fmt: skip
        self.post_message(self.Decided(text))

    @on(Decided)
    def decided(self, message: Decided) -> None:
        self.dismiss(message.text)

    @on(Worker.StateChanged)
    def failed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "decide":
            self.sending = False
            self.show_error(failure_text(event.worker.error))
        elif event.worker.group == "decide-load":
            self.body.update(Text(failure_text(event.worker.error), style="bold"))

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------- many decisions


class BulkScreen(ModalScreen[str | None]):
    """The same decision for the selected rows: one note (and one unit, for dispatch), then each row
    goes through the rules on its own; the summary lists what was refused and why."""

    BINDING_GROUP_TITLE = "批量办理"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "提交", key_display="^S", priority=True, id="bulk.submit", tooltip="逐件办理"),
        Binding("ctrl+o", "pick_unit", "选择单位", key_display="^O", priority=True, id="bulk.pick", tooltip="查找承办单位"),
        Binding("escape", "cancel", "取消", id="bulk.cancel", tooltip="不办理，回到队列"),
    ]  # fmt: skip

    @dataclass
    class Done(Message, bubble=False):
        text: str

    def __init__(self, ctx: Ctx, queue: str, rows: list[QueueRow], approve: bool) -> None:
        super().__init__()
        self.ctx = ctx
        self.queue = queue
        self.rows = rows
        self.approve = approve
        self.error = Static("", classes="form-error", markup=False)
        self.progress = Static("", classes="form-hint")
        self.sending = False

    def compose(self) -> ComposeResult:
        label = QUEUE_LABELS[QUEUES.index(self.queue)]
        verb = ("派往同一单位" if self.queue == "dispatch" else "同意") if self.approve else "驳回"
        with VerticalScroll(classes="unit-form decide-form") as box:
            box.border_title = f"批量{verb} · {label} {len(self.rows)} 件"
            box.border_subtitle = "^S 逐件办理 · esc 取消"
            listed = Text()
            for r in self.rows[:12]:
                listed.append(f"{r.no}  ", style="bold")
                listed.append(f"{fit(r.summary, 50)}\n")
            if len(self.rows) > 12:
                listed.append(f"……共 {len(self.rows)} 件\n")
            listed.append("每件仍按规则逐一检查；不符合规则的不办理，并在结果中说明原因。", style="dim")
            yield Static(listed)
            if self.queue == "dispatch":
                yield Horizontal(
                    Label("承办单位", classes="form-label"),
                    Input(placeholder="单位编码；^O 查找", id="bulk-units", compact=True),
                    classes="form-row",
                )
            else:
                yield Horizontal(
                    Label("意见", classes="form-label"),
                    Input(placeholder="审核意见（驳回、退回时必填）", id="bulk-note", compact=True),
                    classes="form-row",
                )
            yield self.progress
            yield self.error
        yield StableFooter()

    def on_mount(self) -> None:
        self.error.display = False
        self.query_one(Input).focus()

    def action_pick_unit(self) -> None:
        if self.queue != "dispatch":
            return
        from hotline_tui.screens.intake import UnitPickerScreen

        def picked(choice: Any) -> None:
            if choice is not None:
                self.query_one("#bulk-units", Input).value = choice.code

        self.app.push_screen(UnitPickerScreen(self.ctx), picked)

    def action_submit(self) -> None:
        if self.sending:
            return
        units: list[str] = []
        note = ""
        if self.queue == "dispatch":
            units = [u.strip() for u in self.query_one("#bulk-units", Input).value.split(",") if u.strip()]
            if not units:
                self.error.update("请选择承办单位（^O 查找）")
                self.error.display = True
                return
        else:
            note = self.query_one("#bulk-note", Input).value
            if not self.approve and not note.strip():
                self.error.update("批量驳回须写明理由")
                self.error.display = True
                return
        self.sending = True
        self.error.display = False
        self.run(note, units)

    @work(thread=True, exclusive=True, group="bulk", exit_on_error=False, description="批量办理")
    def run(self, note: str, units: list[str]) -> None:
        from hotline_tui.services.queues import bulk

        total = len(self.rows)

        def step(n: int) -> None:
            self.app.call_from_thread(self.progress.update, f"已处理 {n}/{total} 件……")

        result = bulk(
            self.ctx, self.queue, self.rows, approve=self.approve, note=note, units=units, on_each=step
        )
        self.post_message(self.Done(result.summary()))

    @on(Done)
    def done(self, message: Done) -> None:
        self.dismiss(message.text)

    @on(Worker.StateChanged)
    def failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.sending = False
            self.error.update(failure_text(event.worker.error))
            self.error.display = True

    def action_cancel(self) -> None:
        if not self.sending:
            self.dismiss(None)
