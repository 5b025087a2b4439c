"""The callback officer's queue: orders to call back (待回访), unreached callers to try again (稍后再拨)
and the random quality sample of consults answered on the spot (质量抽查).

``enter`` opens the callback form: the matter, the unit's approved reply, the caller's name and number in
full (calling is the work; the view is audited), the script of what to ask, and the result fields, each
chosen with a digit. A first "dissatisfied" offers re-handling once, without extension (GZ 20); ``^N``
raises a new question as a new order linked to this one (TTR 20). ``^S`` records in a worker; a refusal
shows in the form and nothing typed is lost (the form is kept as a draft in the store too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Input, Select, Static, TabbedContent, TabPane, TextArea
from textual.worker import Worker, WorkerState

from hotline_tui.errors import InvalidInput
from hotline_tui.screens.feedback import notify_failure
from hotline_tui.screens.forms import DraftForm
from hotline_tui.screens.home import fit, identity, short_time
from hotline_tui.screens.intake import QuickSelect, Tick
from hotline_tui.screens.lists import TabbedListScreen
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.callback_queue import CallbackView, QueueData, QueueRow, SampleRow
    from hotline_tui.services.core import Ctx

# as services.callback_queue.TABS / TAB_LABELS (not imported: the screen module loads before the store)
TABS = ("due", "retry", "sample")
TAB_LABELS = ("待回访", "稍后再拨", "质量抽查")
# as models.SATISFACTION and services.callback.DISSATISFIED_REASONS, in the order the digits pick them
SATISFACTION_OPTIONS = (
    ("satisfied", "满意"),
    ("basically_satisfied", "基本满意"),
    ("dissatisfied", "不满意"),
)


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int


def plan_columns(tab: str, width: int) -> list[Col]:
    """Columns for ``width`` cells: time, number and attempts always; more when there is room."""
    wide = width >= 110
    if tab == "sample":
        cols = [Col("when", "答复时间", 11), Col("no", "工单号", 17), Col("state", "抽查", 10)]
        if wide:
            cols += [Col("kb", "知识库条目", 24), Col("caller", "诉求人", 18)]
    else:
        first = Col("when", "再拨时间", 11) if tab == "retry" else Col("when", "审核通过", 11)
        cols = [first, Col("no", "工单号", 17), Col("urgency", "紧急", 4), Col("attempts", "拨打", 4)]
        if wide:
            cols += [Col("type", "类型", 4), Col("units", "承办单位", 20), Col("caller", "诉求人", 18)]
    used = sum(c.width for c in cols) + 2 * (len(cols) + 1) + 2
    cols.append(Col("summary", "诉求摘要", max(12, width - used)))
    return cols


SEARCHED = ("no", "summary", "units", "type_label", "urgency_label", "caller", "kb_title", "state")


def row_matches(row: QueueRow | SampleRow, needle: str) -> bool:
    if not needle:
        return True
    parts = [str(getattr(row, name, "")) for name in SEARCHED] + list(getattr(row, "labels", ()))
    hay = " ".join(parts).casefold()
    return all(part in hay for part in needle.casefold().split())


def hm(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%m-%d %H:%M") if value else "—"


class QueueTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "回访", id="callback.table.open", tooltip="打开所选工单的回访表单"),
    ]


class CallbackQueueScreen(TabbedListScreen):
    """待回访 / 稍后再拨 / 质量抽查."""

    BINDING_GROUP_TITLE = "回访队列"
    TAB_IDS = TABS
    DEFAULT_CSS = """
    #cbq-summary { background: $boost; color: $foreground; padding: 0 1; height: auto; }
    #cbq-filter-bar { height: 1; }
    #cbq-filter { width: 1fr; padding: 0 1; }
    #cbq-count { width: auto; padding: 0 1; color: $text-muted; }
    #cbq-tabs { height: 1fr; }
    #cbq-tabs TabPane { padding: 0; }
    #cbq-tabs QueueTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_selected", "回访", id="callback.open", tooltip="打开所选工单：核实、记录满意度与诉求人意见"),
        Binding("slash", "focus_filter", "筛选", key_display="/", id="callback.filter", tooltip="按工单号、内容、承办单位筛选"),
        Binding("r", "refresh", "刷新", id="callback.refresh", tooltip="重新从数据库载入回访队列"),
        Binding("escape", "back", "返回", id="callback.back", tooltip="清除筛选，回到列表（不会退出）"),
        Binding("1", "tab('due')", "待回访", show=False, id="callback.tab1", tooltip="切换到待回访"),
        Binding("2", "tab('retry')", "稍后再拨", show=False, id="callback.tab2", tooltip="切换到稍后再拨（未联系上，等待再次拨打）"),
        Binding("3", "tab('sample')", "质量抽查", show=False, id="callback.tab3", tooltip="切换到质量抽查（随机抽取的当场答复咨询）"),
        Binding("right_square_bracket", "next_tab(1)", "下一页签", show=False, key_display="]", id="callback.next", tooltip="下一个页签"),
        Binding("left_square_bracket", "next_tab(-1)", "上一页签", show=False, key_display="[", id="callback.prev", tooltip="上一个页签"),
        Binding("j", "cursor('down')", "下一条", show=False, id="callback.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="callback.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="callback.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="callback.bottom", tooltip="跳到最后一条"),
    ]  # fmt: skip

    @dataclass
    class Loaded(Message, bubble=False):
        data: QueueData

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CallbackQueueScreen.Loaded)

    @dataclass
    class ViewLoaded(Message, bubble=False):
        view: CallbackView

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: QueueData | None = None
        self.summary = Static("正在载入……", id="cbq-summary")
        self.filter = Input(placeholder="按 / 筛选：工单号、内容、承办单位", id="cbq-filter", compact=True)
        self.count = Static("", id="cbq-count")
        self.tabs = TabbedContent(id="cbq-tabs")
        self.tables = {
            tab: QueueTable(id=f"cbq-{tab}", cursor_type="row", zebra_stripes=True) for tab in TABS
        }
        self._layout: dict[str, list[Col]] = {}
        self.opening = False

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.summary
        with Horizontal(id="cbq-filter-bar"):
            yield self.filter
            yield self.count
        with self.tabs:
            for tab, label in zip(TABS, TAB_LABELS, strict=True):
                with TabPane(label, id=tab):
                    yield self.tables[tab]
        yield StableFooter()

    def on_mount(self) -> None:
        self.show_identity()
        self.tables["due"].focus()
        self.load()
        self.set_interval(60, self.tick)

    # ------------------------------------------------------------ loading

    @work(
        thread=True, exclusive=True, group="callback-queue", exit_on_error=False, description="载入回访队列"
    )
    def load(self) -> None:
        from hotline_tui.services.callback_queue import load_queue

        self.post_message(self.Loaded(load_queue(self.ctx)))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        self.data = message.data
        if self._announce:
            self._announce = False
            self.notify(f"已刷新：待回访 {message.data.counts['due']} 件", timeout=2)
        for tab in TABS:
            self.fill(tab)
        self.show_summary()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "callback-view":
            self.opening = False
        notify_failure(self, event.worker.error)
        if self.data is None:
            self.summary.update("回访队列载入失败，按 r 重试")

    def tick(self) -> None:
        """Retry times come due with the clock: reload quietly while the queue is on screen."""
        if self.data is not None and self.is_current:
            self.load()

    # ------------------------------------------------------------ showing

    def show_identity(self) -> None:
        narrow = self.size.width < 110
        self.title = "12345热线" if narrow else "回访队列"
        pulse = getattr(self.app, "pulse_text", "")
        who = identity(self.ctx, "", with_policy=not narrow)
        self.sub_title = f"{pulse} · {who}" if pulse else who

    def show_summary(self) -> None:
        assert self.data is not None
        d = self.data
        out = Text()
        for label, tab in zip(TAB_LABELS, TABS, strict=True):
            out.append(f"{label} ")
            out.append(str(d.counts[tab]), style="bold")
            out.append("  ")
        out.append(f"每单最多拨打 {d.max_attempts} 次", style="dim")
        if self.size.width >= 100:
            out.append(f" · 抽查比例 {d.sample_percent}% · 更新于 {d.now.strftime('%H:%M:%S')}", style="dim")
        self.summary.update(out)
        for tab, label in zip(TABS, TAB_LABELS, strict=True):
            n = d.counts[tab]
            self.tabs.get_tab(tab).label = f"{label} {n}" if n else label

    def on_resize(self) -> None:
        self.show_identity()
        if self.data is not None:
            for tab in TABS:
                self.fill(tab)
            self.show_summary()

    def cells(self, row: QueueRow | SampleRow, layout: list[Col]) -> list[Text | str]:
        from hotline_tui.services.callback_queue import SampleRow

        assert self.data is not None
        theme = self.app.current_theme
        warn = theme.warning or "yellow"
        out: list[Text | str] = []
        for col in layout:
            if isinstance(row, SampleRow):
                value = {
                    "when": hm(row.answered_iso),
                    "no": row.no,
                    "state": row.state,
                    "kb": row.kb_title,
                    "caller": row.caller,
                    "summary": row.summary,
                }[col.key]
                out.append(Text(fit(value, col.width), style="dim" if row.done else ""))
                continue
            if col.key == "when":
                out.append(hm(row.retry_iso if row.tab == "retry" else row.approved_iso))
            elif col.key == "no":
                out.append(row.no)
            elif col.key == "urgency":
                style = f"bold {warn}" if row.urgency != "normal" else ""
                out.append(Text(fit(row.urgency_label, col.width), style=style))
            elif col.key == "attempts":
                out.append(f"{row.attempts}/{self.data.max_attempts}")
            elif col.key == "type":
                out.append(fit(row.type_label, col.width))
            elif col.key == "units":
                out.append(fit(row.units, col.width))
            elif col.key == "caller":
                out.append(fit(row.caller, col.width))
            else:
                marks = "［重办后回访］" if row.rehandled else ""
                labels = "".join(f"【{x}】" for x in row.labels)
                text = Text(fit(marks + labels + row.summary, col.width))
                if marks or labels:
                    text.stylize(f"bold {warn}", 0, len(marks) + len(labels))
                out.append(text)
        return out

    def fill(self, tab: str) -> None:
        assert self.data is not None
        rows = [r for r in self.data.rows[tab] if row_matches(r, self.filter.value.strip())]
        layout = plan_columns(tab, self.size.width)
        table = self.tables[tab]
        keep = self.cursor_key(tab)
        if layout != self._layout.get(tab):
            table.clear(columns=True)
            for col in layout:
                table.add_column(col.label, width=col.width, key=col.key)
            self._layout[tab] = layout
        else:
            table.clear()
        for row in rows:
            table.add_row(*self.cells(row, layout), key=row.no)
        if rows:
            index = next((i for i, r in enumerate(rows) if r.no == keep), None)
            table.move_cursor(row=index if index is not None else min(table.cursor_row, len(rows) - 1))
        if tab == self.tabs.active:
            self.show_count(tab, len(rows))

    def show_count(self, tab: str, shown: int) -> None:
        if self.data is None:
            return
        loaded = len(self.data.rows[tab])
        if not loaded:
            text = {"due": "暂无待回访工单", "retry": "暂无等待再拨的工单", "sample": "暂无抽中的工单"}[tab]
        elif shown != loaded:
            text = f"筛选 {shown}/{loaded} 件"
        else:
            text = f"共 {loaded} 件"
        self.count.update(text)

    # ------------------------------------------------------------ actions

    def action_open_selected(self) -> None:
        key = self.cursor_key(self.active_tab)
        if key:
            self.open(key)

    @on(DataTable.RowSelected)
    def open_row(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open(event.row_key.value)

    def open(self, no: str) -> None:
        if not self.opening:
            self.opening = True
            self.fetch_view(no)

    @work(thread=True, exclusive=True, group="callback-view", exit_on_error=False, description="载入回访工单")
    def fetch_view(self, no: str) -> None:
        from hotline_tui.services.callback_queue import callback_view

        self.post_message(self.ViewLoaded(callback_view(self.ctx, no)))

    @on(ViewLoaded)
    def show_form(self, message: ViewLoaded) -> None:
        self.opening = False
        self.app.push_screen(CallbackForm(self.ctx, message.view), self.form_closed)

    def form_closed(self, result: str | None) -> None:
        if result:
            self.notify(result, title="回访已记录", timeout=5, markup=False)
        self.load()

    @on(Input.Changed, "#cbq-filter")
    def apply_filter(self) -> None:
        if self.data is not None:
            for tab in TABS:
                self.fill(tab)

    @on(Input.Submitted, "#cbq-filter")
    def leave_filter(self) -> None:
        self.table.focus()


# ---------------------------------------------------------------- forms


class CallbackForm(DraftForm):
    """One callback: the order, the caller in full, the script, and the result."""

    BINDING_GROUP_TITLE = "回访表单"
    DEFAULT_CSS = """
    CallbackForm .cb-form { width: 100%; max-width: 100%; }
    CallbackForm .cb-wide { height: 1fr; max-height: 100%; }
    CallbackForm .cb-col { width: 1fr; height: 100%; }
    CallbackForm .cb-left { padding: 0 2 0 0; }
    CallbackForm .cb-row { margin: 0; }
    CallbackForm .cb-row.cb-gap { margin: 1 0 0 0; }
    CallbackForm #cb-info { height: auto; margin: 0 0 1 0; }
    CallbackForm #cb-script { height: auto; margin: 0 0 1 0; }
    CallbackForm #cb-linked { height: auto; color: $text-success; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_question", "新诉求", key_display="^N", priority=True, id="callback.form.question", tooltip="诉求人提出新问题：另立工单并关联本工单（天津交通运输委规程第二十条）"),
    ]  # fmt: skip

    def __init__(self, ctx: Ctx, view: CallbackView) -> None:
        super().__init__(ctx, view.no)
        self.view = view
        self.quality = view.kind == "quality"
        self.form_title = "质量抽查回访" if self.quality else "回访"
        self.linked: list[str] = []
        self.linked_line = Static("", id="cb-linked")

    def draft_key(self) -> str:
        return f"callback:{self.no}"

    # ------------------------------------------------------------ the order

    def info(self) -> Group:
        v = self.view
        theme = self.app.current_theme
        warn = theme.warning or "yellow"
        accent = theme.accent or "cyan"
        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=8)
        facts.add_column(ratio=1, overflow="fold")
        who = Text(f"{v.caller_name or '—'}  ")
        who.append(v.caller_phone or "（无电话）", style=f"bold {accent}")
        who.append("（回访需要，已留痕）" + ("".join(f"［{f}］" for f in v.flags)), style="dim")
        facts.add_row("诉求人", who)
        kind = Text(f"{v.type_label}  渠道 {v.channel_label}  紧急程度 ")
        kind.append(v.urgency_label, style=f"bold {warn}" if v.urgency != "normal" else "")
        kind.append(f"  受理 {short_time(v.created_iso)}")
        facts.add_row("类型", kind)
        if v.labels:
            facts.add_row("标签", Text(" ".join(f"【{x}】" for x in v.labels), style=f"bold {warn}"))
        tries = Text(f"已拨打 {v.attempts}/{v.max_attempts} 次未联系上" if v.attempts else "首次拨打")
        if v.rehandled:
            tries.append("  重新办理后回访", style=f"bold {warn}")
        facts.add_row("拨打", tries)
        for line in v.history[-3:]:
            facts.add_row("", Text(line, style="dim"))
        facts.add_row("诉求内容", Text(v.text))
        parts: list[Any] = [facts]
        if self.quality:
            parts += [Text("当场答复（知识库）", style=f"bold {accent}"), Text(f"{v.kb_title}：{v.kb_body}")]
        for r in v.replies:
            head = Text(f"{r.unit} 答复", style=f"bold {accent}")
            head.append(f"  {short_time(r.replied_iso)}", style="dim")
            parts += [head, Text(r.reply)]
        return Group(*parts)

    def script(self) -> Group:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, width=2)
        grid.add_column(ratio=1, overflow="fold")
        for i, line in enumerate(self.view.script, start=1):
            text = Text(line.text)
            if line.cite:
                text.append(f"（{line.cite}）", style="dim")
            grid.add_row(f"{i}.", text)
        return Group(Text("回访话术", style="bold"), grid)

    def compose(self) -> ComposeResult:
        """One column on a small terminal; the order beside the fields where there is room."""
        title = f"{self.form_title} · 工单 {self.no}"
        if self.app.size.width >= 140:
            with Horizontal(classes="cb-form cb-wide") as box:
                box.border_title = title
                box.border_subtitle = "^S 提交 · ^N 新诉求 · esc 取消"
                with VerticalScroll(classes="cb-col cb-left"):
                    yield from self.matter()
                with VerticalScroll(classes="cb-col"):
                    yield from self.body()
                    yield self.error
        else:
            with VerticalScroll(classes="cb-form") as box:
                box.border_title = title
                box.border_subtitle = "^S 提交 · ^N 新诉求 · esc 取消"
                yield from self.matter()
                yield from self.body()
                yield self.error
        yield StableFooter()

    def matter(self) -> ComposeResult:
        yield Static(self.info(), id="cb-info")
        yield Static(self.script(), id="cb-script", classes="form-hint")

    def body(self) -> ComposeResult:
        from hotline_tui.services.callback import DISSATISFIED_REASONS
        from hotline_tui.services.callback_queue import RETRY_CHOICES, retry_label

        p = self.ctx.policy
        yield self.row(
            "回访结果",
            QuickSelect(
                [("1 联系上", "yes"), ("2 未联系上", "no")],
                prompt="1 联系上 · 2 未联系上",
                id="cb-reached",
                compact=True,
            ),
        )
        if not self.quality:
            retry = [(f"{i} {retry_label(p, c)}", c) for i, c in enumerate(RETRY_CHOICES, start=1)]
            yield self.row(
                "再次拨打",
                QuickSelect(
                    retry, prompt=f"1 {retry_label(p, 'default')}（数字键选择）", id="cb-retry", compact=True
                ),
                id_="cb-row-retry",
            )
        yield self.row(
            "满意度",
            QuickSelect(
                [(f"{i} {label}", code) for i, (code, label) in enumerate(SATISFACTION_OPTIONS, start=1)],
                prompt="1 满意 · 2 基本满意 · 3 不满意",
                id="cb-satisfaction",
                compact=True,
            ),
            id_="cb-row-satisfaction",
        )
        yield self.row(
            "问题解决",
            QuickSelect(
                [("1 已解决", "yes"), ("2 未解决", "no")],
                prompt="1 已解决 · 2 未解决",
                id="cb-solved",
                compact=True,
            ),
            id_="cb-row-solved",
        )
        yield self.row(
            "不满意原因",
            QuickSelect(
                [
                    (f"{i} {label}", code)
                    for i, (code, label) in enumerate(DISSATISFIED_REASONS.items(), start=1)
                ],
                prompt="先核实不满意原因（数字键选择）",
                id="cb-reason",
                compact=True,
            ),
            id_="cb-row-reason",
        )
        yield Static("", id="cb-rehandle-note", classes="form-hint")
        if self.view.can_rehandle:
            yield self.row(
                "",
                Tick("退回承办单位重新办理（仅一次，不得延期）", value=True, id="cb-rehandle"),
                id_="cb-row-rehandle",
            )
        yield self.row("诉求人意见", self.area("诉求人的原话：对办理结果的评价、意见和要求", "cb-words"))
        yield Static(
            "诉求人提出新问题：^N 另立工单并关联本工单（天津交通运输委规程第二十条）", classes="form-hint"
        )
        yield self.linked_line

    def on_mount(self) -> None:
        super().on_mount()
        self.linked_line.display = False
        self.call_after_refresh(self.show_top)

    def show_top(self) -> None:
        """The order and the script first: the fields take digits while focused below the fold."""
        for scroller in self.query(VerticalScroll):
            scroller.scroll_home(animate=False)

    # ------------------------------------------------------------ fields

    def changed(self) -> None:
        reached = self.choice("cb-reached")
        sat = self.choice("cb-satisfaction")
        dissatisfied = reached == "yes" and sat == "dissatisfied"
        if not self.quality:
            self.query_one("#cb-row-retry").display = reached == "no"
        self.query_one("#cb-row-satisfaction").display = reached != "no"
        self.query_one("#cb-row-solved").display = reached != "no"
        self.query_one("#cb-row-reason").display = dissatisfied
        note = self.query_one("#cb-rehandle-note", Static)
        note.display = dissatisfied
        reason = self.choice("cb-reason")
        text = Text(self.view.rehandle_note)
        if reason in self.view.exempt_reasons and self.view.can_rehandle:
            text.append(
                f"\n此原因属于可不再回访的情形（{self.view.exempt_reasons[reason]}，天津交通运输委规程第十九条），"
                "一般不退回重办",
                style="bold",
            )
        note.update(text)
        if self.view.can_rehandle:
            self.query_one("#cb-row-rehandle").display = dissatisfied

    @on(Select.Changed, "#cb-reason")
    def reason_chosen(self, event: Select.Changed) -> None:
        """A reason TTR 19 lets go without a further callback turns the re-handling offer off (the officer
        may still turn it on)."""
        if self.restoring or not self.view.can_rehandle:
            return
        self.query_one("#cb-rehandle", Tick).value = event.value not in self.view.exempt_reasons

    def values(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reached": self.choice("cb-reached"),
            "satisfaction": self.choice("cb-satisfaction"),
            "solved": self.choice("cb-solved"),
            "reason": self.choice("cb-reason"),
            "words": self.query_one("#cb-words", TextArea).text,
        }
        if not self.quality:
            data["retry"] = self.choice("cb-retry")
        return data

    def restore(self, data: dict[str, Any]) -> None:
        from hotline_tui.services.callback import DISSATISFIED_REASONS
        from hotline_tui.services.callback_queue import RETRY_CHOICES

        self.set_choice("cb-reached", data.get("reached"), {"yes", "no"})
        self.set_choice("cb-satisfaction", data.get("satisfaction"), {c for c, _ in SATISFACTION_OPTIONS})
        self.set_choice("cb-solved", data.get("solved"), {"yes", "no"})
        self.set_choice("cb-reason", data.get("reason"), set(DISSATISFIED_REASONS))
        if not self.quality:
            self.set_choice("cb-retry", data.get("retry"), set(RETRY_CHOICES))
        if isinstance(data.get("words"), str):
            self.query_one("#cb-words", TextArea).load_text(data["words"])

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.callback_queue import record_quality_result, record_result

        v = self.values()
        if not v["reached"]:
            raise InvalidInput("请先选择回访结果：1 联系上 · 2 未联系上")
        reached = v["reached"] == "yes"
        solved = {"yes": True, "no": False}.get(v["solved"])
        rehandle: bool | None = None
        if self.view.can_rehandle and v["satisfaction"] == "dissatisfied":
            rehandle = self.query_one("#cb-rehandle", Tick).value
        elif v["satisfaction"] == "dissatisfied":
            rehandle = False
        ctx, no, version = self.ctx, self.no, self.view.version
        words, sat, reason = v["words"], v["satisfaction"] or None, v["reason"]

        if self.quality:

            def quality_job() -> str:
                return record_quality_result(
                    ctx,
                    no,
                    reached=reached,
                    satisfaction=sat,
                    solved=solved,
                    words=words,
                    reason=reason,
                    expected_version=version,
                ).text

            return quality_job
        retry = v.get("retry") or "default"

        def job() -> str:
            return record_result(
                ctx,
                no,
                reached=reached,
                satisfaction=sat,
                solved=solved,
                words=words,
                reason=reason,
                rehandle=rehandle,
                retry=retry,
                expected_version=version,
            ).text

        return job

    # ------------------------------------------------------------ a new question

    def action_new_question(self) -> None:
        def done(result: str | None) -> None:
            if result:
                self.linked.append(result)
                self.linked_line.update(f"已另立关联工单：{'、'.join(self.linked)}（待派单）")
                self.linked_line.display = True
                self.notify(f"新诉求已另立工单 {result}，关联本工单，等待派单", title="新诉求", timeout=5)

        self.app.push_screen(NewQuestionForm(self.ctx, self.view), done)


class NewQuestionForm(DraftForm):
    """A new question the caller raised on the callback: a new order linked to this one (TTR 20)."""

    form_title = "回访中的新诉求"

    def __init__(self, ctx: Ctx, view: CallbackView) -> None:
        super().__init__(ctx, view.no)
        self.view = view

    def draft_key(self) -> str:
        return f"callback-question:{self.no}"

    def body(self) -> ComposeResult:
        p = self.ctx.policy
        types = [(f"{i} {label}", code) for i, (code, label) in enumerate(p.types.items(), start=1)]
        urgencies = [(f"{i} {label}", code) for i, (code, label) in enumerate(p.urgencies.items(), start=1)]
        yield Static(
            "能当场答复的直接答复并记入诉求人意见；不能答复的另立工单，转派承办单位办理（天津交通运输委规程第二十条）。"
            f"\n新工单沿用本工单的诉求人和渠道，并关联工单 {self.no}。",
            classes="form-hint",
        )
        yield self.row(
            "诉求类型",
            QuickSelect(
                types, prompt=f"默认：{self.view.type_label}（数字键选择）", id="nq-type", compact=True
            ),
        )
        yield self.row(
            "紧急程度",
            QuickSelect(urgencies, prompt="默认：普通（数字键选择）", id="nq-urgency", compact=True),
        )
        yield self.row("诉求内容", self.area("新问题的时间、地点、具体事项", "nq-text"))

    def values(self) -> dict[str, Any]:
        return {
            "type": self.choice("nq-type"),
            "urgency": self.choice("nq-urgency"),
            "text": self.query_one("#nq-text", TextArea).text,
        }

    def restore(self, data: dict[str, Any]) -> None:
        p = self.ctx.policy
        self.set_choice("nq-type", data.get("type"), set(p.types))
        self.set_choice("nq-urgency", data.get("urgency"), set(p.urgencies))
        if isinstance(data.get("text"), str):
            self.query_one("#nq-text", TextArea).load_text(data["text"])

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.callback_queue import new_question

        v = self.values()
        if not v["text"].strip():
            raise InvalidInput("请记录新诉求的内容")
        ctx, no = self.ctx, self.no

        def job() -> str:
            return new_question(ctx, no, text=v["text"], type_=v["type"], urgency=v["urgency"] or "normal").no

        return job
