"""The audit viewer (审计日志): who did what to which order and when, and whether the history is intact.

For supervisors and administrators (T24 27; TA 28; GZ 25: access to caller data is itself supervised);
for anybody else the service refuses and the screen shows why. A filter bar (user, ticket, period, kind)
runs ``audit_log`` in a worker; the list pages backwards by event id; ``v`` walks the hash chain with
``verify_chain`` in a worker while the list stays usable. The screen holds only plain rows, never a
session or an ORM object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from hotline_tui.errors import PermissionDenied
from hotline_tui.screens.home import failure_text, fit, identity, notify_failure, short_time
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.audit import ChainReport
    from hotline_tui.services.core import Ctx

PAGE = 200  # events per page; "more" loads the next, older page
WIDE = 110  # from this width: one filter row, the id column, the full date
QUICK = {"pii": "个人信息", "login": "登录"}  # quick filters: group names the service knows (KIND_GROUPS)
PROBLEM_LABELS = {
    "edited": "内容被修改",
    "deleted": "记录被删除",
    "broken_link": "哈希链接断开",
    "head_mismatch": "链头不符",
    "inserted": "链外插入",
}
_SPLIT = re.compile(r"[,，、;；\s]+")


# ---------------------------------------------------------------- plain data and reads (worker threads)


@dataclass(frozen=True)
class AuditFilter:
    """The filter bar as typed; the service parses and checks it."""

    user: str = ""
    ticket_no: str = ""
    since: str = ""
    until: str = ""
    kinds: str = ""

    def kind_list(self) -> list[str] | None:
        parts = [k for k in _SPLIT.split(self.kinds.strip()) if k]
        return parts or None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str  # ISO 8601 local time
    kind: str
    kind_label: str
    actor: str
    ticket_no: str
    summary: str


@dataclass(frozen=True)
class AuditPage:
    filter: AuditFilter
    rows: list[AuditRow] = field(default_factory=list)
    has_more: bool = False
    before_id: int | None = None  # None: the first page of a query


def load_page(ctx: Ctx, flt: AuditFilter, before_id: int | None = None, size: int = PAGE) -> AuditPage:
    """One page of events, newest first, older than ``before_id`` when given (one extra row tells
    whether another page exists)."""
    from hotline_tui.services.audit import audit_log, summarize

    raw = audit_log(
        ctx,
        user=flt.user or None,
        ticket_no=flt.ticket_no or None,
        since=flt.since or None,
        until=flt.until or None,
        kinds=flt.kind_list(),
        limit=size + 1,
        before_id=before_id,
    )
    rows = [
        AuditRow(
            id=int(r["id"]),
            at=r["at"] or "",
            kind=r["kind"],
            kind_label=r["kind_label"],
            actor=r["actor"] or "",
            ticket_no=r["ticket_no"] or "",
            summary=summarize(r, ctx.policy),
        )
        for r in raw[:size]
    ]
    return AuditPage(flt, rows, len(raw) > size, before_id)


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int


def plan_columns(rows: list[AuditRow], width: int) -> list[Col]:
    """Columns for a table ``width`` cells wide: narrow terminals drop 编号 and the year, and cut 类型
    and 操作人 shorter; 摘要 takes what is left."""

    def widest(values: list[str], label: str, cap: int) -> int:
        return min(cap, max([cell_len(label), *(cell_len(v) for v in values)]))

    wide = width >= WIDE
    cols: list[Col] = []
    if wide:
        cols.append(Col("id", "编号", widest([f"#{r.id}" for r in rows], "编号", 9)))
    cols.append(Col("at", "时间", 19 if wide else 14))
    cols.append(Col("kind", "类型", widest([r.kind_label for r in rows], "类型", 16 if wide else 14)))
    cols.append(Col("actor", "操作人", widest([r.actor for r in rows], "操作人", 12 if wide else 8)))
    cols.append(Col("ticket", "工单号", widest([r.ticket_no or "—" for r in rows], "工单号", 18)))
    padding = 2 * (len(cols) + 1)
    rest = max(10, width - padding - sum(c.width for c in cols) - 2)  # 2: the vertical scrollbar
    cols.append(Col("summary", "摘要", rest))
    return cols


def short_hash(value: str) -> str:
    if not value:
        return "（链首，无前一事件）"
    return f"{value[:12]}…{value[-4:]}"


# ---------------------------------------------------------------- the viewer


class AuditTable(DataTable[Text | str]):
    """The events; ``enter`` opens one in full."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "详情", id="audit.events.open", tooltip="查看所选事件的全部内容"),
    ]


class AuditScreen(Screen[None]):
    """Filter bar on top, the verify banner when asked, then the events newest first."""

    BINDING_GROUP_TITLE = "审计日志"
    AUTO_FOCUS = "#audit-events"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "返回",
            id="audit.back",
            tooltip="离开筛选框；在列表中清除筛选，再按返回上一界面",
        ),
        Binding(
            "slash",
            "focus_filter",
            "筛选",
            key_display="/",
            id="audit.filter",
            tooltip="到筛选栏填写条件，回车查询",
        ),
        Binding("r", "query", "查询", show=False, id="audit.query", tooltip="按筛选栏的条件重新查询"),
        Binding("m", "more", "更早", id="audit.more", tooltip="载入更早的一页记录"),
        Binding(
            "v", "verify", "校验", id="audit.verify", tooltip="校验事件哈希链：发现被修改、删除或插入的记录"
        ),
        Binding(
            "p", "quick('pii')", "个人信息", id="audit.pii", tooltip="只看查看、导出诉求人个人信息的记录"
        ),
        Binding("l", "quick('login')", "登录", id="audit.login", tooltip="只看登录成功、登录失败和账户锁定"),
        Binding("j", "cursor('down')", "下一条", show=False, id="audit.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="audit.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="audit.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="audit.bottom", tooltip="跳到最后一条"),
    ]
    DEFAULT_CSS = """
    AuditScreen #audit-filters {
        layout: grid;
        grid-size: 10 1;
        grid-columns: auto 1fr auto 2fr auto 1fr auto 1fr auto 1fr;
        grid-gutter: 0 1;
        height: 1;
        background: $boost;
    }
    AuditScreen.-narrow #audit-filters {
        grid-size: 6 2;
        grid-columns: auto 1fr auto 1fr auto 1fr;
        height: 2;
    }
    AuditScreen .audit-label {
        padding: 0 0 0 1;
        color: $accent;
        text-style: bold;
    }
    AuditScreen .audit-filter {
        width: 1fr;
        background: $surface;
    }
    AuditScreen .audit-filter:focus {
        background: $primary 20%;
    }
    AuditScreen #audit-status {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $text-muted;
    }
    AuditScreen #audit-status.-error {
        color: $text-error;
        text-style: bold;
    }
    AuditScreen #audit-verify {
        display: none;
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    AuditScreen #audit-verify.-shown {
        display: block;
    }
    AuditScreen #audit-verify.-ok {
        background: $success 20%;
        color: $text-success;
    }
    AuditScreen #audit-verify.-bad {
        background: $error 20%;
        color: $text-error;
        text-style: bold;
    }
    AuditScreen #audit-events {
        height: 1fr;
    }
    AuditScreen #audit-refused {
        display: none;
        height: 1fr;
        padding: 1 2;
        color: $text-error;
    }
    AuditScreen.-refused #audit-refused {
        display: block;
    }
    AuditScreen.-refused #audit-filters, AuditScreen.-refused #audit-events, AuditScreen.-refused #audit-status {
        display: none;
    }
    """

    @dataclass
    class Loaded(Message, bubble=False):
        page: AuditPage
        generation: int

    @dataclass
    class VerifyProgress(Message, bubble=False):
        checked: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, AuditScreen.VerifyProgress)

    @dataclass
    class Verified(Message, bubble=False):
        report: ChainReport

    def __init__(self, ctx: Ctx, *, page_size: int = PAGE) -> None:
        super().__init__()
        self.ctx = ctx
        self.page_size = page_size
        self.user_input = self._input("audit-user", "用户名")
        self.ticket_input = self._input("audit-ticket", "完整工单号")
        self.kind_input = self._input("audit-kind", "如 派单、个人信息")
        self.since_input = self._input("audit-since", "如 2025-01-24")
        self.until_input = self._input("audit-until", "如 2025-01-31 18:00")
        self.status = Static("正在查询…", id="audit-status", markup=False)
        self.banner = Static("", id="audit-verify", markup=False)
        self.table = AuditTable(id="audit-events", cursor_type="row", zebra_stripes=True)
        self.refused = Static("", id="audit-refused", markup=False)
        self.rows: list[AuditRow] = []
        self.current: AuditFilter | None = None  # the filter of the rows shown
        self.has_more = False
        self.loading = False
        self.verifying = False
        self.report: ChainReport | None = None
        self._generation = 0
        self._layout: list[Col] = []

    @staticmethod
    def _input(id_: str, placeholder: str) -> Input:
        return Input(placeholder=placeholder, id=id_, classes="audit-filter", compact=True)

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        with Container(id="audit-filters"):
            yield Label("操作人", classes="audit-label")
            yield self.user_input
            yield Label("工单号", classes="audit-label")
            yield self.ticket_input
            yield Label("类型", classes="audit-label")
            yield self.kind_input
            yield Label("开始", classes="audit-label")
            yield self.since_input
            yield Label("结束", classes="audit-label")
            yield self.until_input
        yield self.status
        yield self.banner
        yield self.table
        yield self.refused
        yield StableFooter()

    def on_mount(self) -> None:
        self.apply_width()
        self.run_query()

    def on_resize(self) -> None:
        self.apply_width()
        if self.rows:
            self.fill_table()

    def apply_width(self) -> None:
        narrow = self.app.size.width < WIDE
        self.set_class(narrow, "-narrow")
        self.title = "审计日志" if narrow else f"{self.app.title} · 审计日志"
        self.sub_title = identity(self.ctx, "", with_policy=False)

    # ------------------------------------------------------------ querying

    def read_filter(self) -> AuditFilter:
        return AuditFilter(
            user=self.user_input.value.strip(),
            ticket_no=self.ticket_input.value.strip(),
            since=self.since_input.value.strip(),
            until=self.until_input.value.strip(),
            kinds=self.kind_input.value.strip(),
        )

    def run_query(self) -> None:
        """Query with what the filter bar holds now (first page)."""
        self._generation += 1
        self.loading = True
        self.show_status("正在查询…")
        self.fetch(self.read_filter(), None, self._generation)

    @work(thread=True, exclusive=True, group="audit-query", exit_on_error=False, description="查询审计日志")
    def fetch(self, flt: AuditFilter, before_id: int | None, generation: int) -> None:
        page = load_page(self.ctx, flt, before_id, self.page_size)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(page, generation))

    @on(Loaded)
    def show_page(self, message: Loaded) -> None:
        if message.generation != self._generation:
            return  # a newer query is under way
        self.loading = False
        page = message.page
        first_new = 0
        if page.before_id is None:
            self.rows = list(page.rows)
            self.current = page.filter
        else:
            first_new = len(self.rows)
            self.rows.extend(page.rows)
        self.has_more = page.has_more
        self.fill_table()
        if self.rows:
            self.table.move_cursor(row=min(first_new, len(self.rows) - 1))
        self.show_status()
        self.refresh_bindings()

    def show_status(self, text: str | None = None, *, error: bool = False) -> None:
        self.status.set_class(error, "-error")
        if text is None:
            n = len(self.rows)
            if not n:
                text = "没有符合条件的记录"
            elif self.has_more:
                text = f"已载入 {n} 条（最新在前），还有更早的记录：按 m 载入"
            else:
                text = f"共 {n} 条（最新在前，已全部载入）"
        self.status.update(text)

    def fill_table(self) -> None:
        table = self.table
        layout = plan_columns(self.rows, self.app.size.width)
        keep = table.cursor_row
        if layout != self._layout:
            table.clear(columns=True)
            for col in layout:
                table.add_column(col.label, width=col.width, key=col.key)
            self._layout = layout
        else:
            table.clear()
        wide = any(c.key == "id" for c in layout)
        for row in self.rows:
            at = short_time(row.at, seconds=True)
            values = {
                "id": f"#{row.id}",
                "at": at if wide else at[5:],
                "kind": row.kind_label,
                "actor": row.actor or "—",
                "ticket": row.ticket_no or "—",
                "summary": row.summary,
            }
            cells: list[Text | str] = []
            for col in layout:
                text = fit(values[col.key], col.width)
                cells.append(Text(text, style="dim") if col.key == "id" else text)
            table.add_row(*cells, key=str(row.id))
        if self.rows:
            table.move_cursor(row=min(max(keep, 0), len(self.rows) - 1))

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.is_cancelled:
            return
        err = event.worker.error
        if event.worker.group == "audit-verify":
            self.verifying = False
            self.show_banner(f"校验未完成：{failure_text(err)}", "-bad")
            notify_failure(self, err)
            self.refresh_bindings()
            return
        self.loading = False
        if isinstance(err, PermissionDenied):
            self.refuse(err.message)
            return
        notify_failure(self, err)
        kept = "；列表仍为上一次查询的结果" if self.rows else ""
        self.show_status(f"查询未完成：{failure_text(err)}{kept}", error=True)
        self.refresh_bindings()

    def refuse(self, message: str) -> None:
        self.add_class("-refused")
        self.refused.update(
            f"{message}\n\n审计日志记录谁在何时做了什么、查看了哪些诉求人信息，本身也受监督。\n\n按 esc 返回"
        )
        self.notify(message, title="无权查看", severity="error", timeout=8, markup=False)
        self.refresh_bindings()

    # ------------------------------------------------------------ verifying

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False, description="校验事件链")
    def verify(self) -> None:
        from hotline_tui.services.audit import verify_chain

        def progress(checked: int) -> None:
            self.post_message(self.VerifyProgress(checked))

        self.post_message(self.Verified(verify_chain(self.ctx, progress=progress)))

    @on(VerifyProgress)
    def verify_progress(self, message: VerifyProgress) -> None:
        if self.verifying:
            self.show_banner(f"正在校验…已校验 {message.checked} 条事件（可继续查看列表）", "")

    @on(Verified)
    def verified(self, message: Verified) -> None:
        self.verifying = False
        report = self.report = message.report
        if report.ok:
            text = report.summary()
            if report.head_id:
                text += f" 链头 #{report.head_id} {short_hash(report.head_hash)}"
            if report.guarded is False:
                text += " 注意：数据库的防篡改触发器未安装或已被删除（hotline init 可重新安装）。"
            self.show_banner(text, "-ok")
        else:
            first = report.problems[0] if report.problems else None
            text = report.summary()
            if first is not None:
                text += f" 第一处：{first.message}"
            self.show_banner(text, "-bad")
            self.app.push_screen(ChainReportScreen(report))
        self.refresh_bindings()

    def show_banner(self, text: str, tone: str) -> None:
        self.banner.add_class("-shown")
        for cls in ("-ok", "-bad"):
            self.banner.set_class(cls == tone, cls)
        self.banner.update(text)

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.has_class("-refused"):
            return action in ("back",)
        if action == "more":
            return True if self.has_more and not self.loading else None
        if action == "verify" and self.verifying:
            return None
        return True

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.table.focus()
        elif any(i.value for i in self.filter_inputs()):
            for i in self.filter_inputs():
                i.value = ""
            self.run_query()
        else:
            self.dismiss(None)

    def filter_inputs(self) -> list[Input]:
        return [self.user_input, self.ticket_input, self.kind_input, self.since_input, self.until_input]

    def action_focus_filter(self) -> None:
        self.user_input.focus()

    def action_query(self) -> None:
        self.run_query()

    def action_more(self) -> None:
        if not self.has_more or self.loading or not self.rows or self.current is None:
            return
        self._generation += 1
        self.loading = True
        self.show_status(f"已载入 {len(self.rows)} 条，正在载入更早的记录…")
        self.fetch(self.current, self.rows[-1].id, self._generation)

    def action_quick(self, which: str) -> None:
        name = QUICK[which]
        self.kind_input.value = "" if self.kind_input.value.strip() == name else name
        self.run_query()

    def action_verify(self) -> None:
        if self.verifying:
            return
        self.verifying = True
        self.show_banner("正在校验…（事件较多时需要一些时间，可继续查看列表）", "")
        self.refresh_bindings()
        self.verify()

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

    @on(Input.Submitted, ".audit-filter")
    def filter_submitted(self) -> None:
        self.run_query()
        self.table.focus()

    @on(DataTable.RowSelected, "#audit-events")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(AuditEventScreen(self.ctx, int(event.row_key.value)))


# ---------------------------------------------------------------- one event in full


class AuditEventScreen(ModalScreen[None]):
    """Everything stored for one event: payload pretty-printed, and its place in the hash chain."""

    BINDING_GROUP_TITLE = "审计事件"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="audit.event.back", tooltip="关闭事件详情，回到审计日志"),
        Binding(
            "f1", "app.help", "帮助", key_display="F1", id="audit.event.help", tooltip="列出本界面的按键"
        ),
    ]
    DEFAULT_CSS = """
    AuditEventScreen {
        align: center middle;
    }
    AuditEventScreen #audit-event {
        width: 90%;
        max-width: 120;
        height: auto;
        max-height: 90%;
        border: round $accent;
        border-title-color: $accent;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    """

    @dataclass
    class Loaded(Message, bubble=False):
        event: dict[str, Any]

    def __init__(self, ctx: Ctx, event_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.event_id = event_id
        self.body = Static("正在载入……", id="audit-event-body")
        self.scroller = VerticalScroll(self.body, id="audit-event")

    def compose(self) -> ComposeResult:
        self.scroller.border_title = f"审计事件 #{self.event_id}"
        self.scroller.border_subtitle = "esc 返回"
        yield self.scroller
        yield Footer()

    def on_mount(self) -> None:
        self.scroller.focus()
        self.load()

    @work(thread=True, exclusive=True, group="audit-event", exit_on_error=False, description="载入审计事件")
    def load(self) -> None:
        from hotline_tui.services.audit import audit_event

        self.post_message(self.Loaded(audit_event(self.ctx, self.event_id)))

    @on(Loaded)
    def show_event(self, message: Loaded) -> None:
        self.body.update(self.render_event(message.event))

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
            self.body.update(Text(failure_text(event.worker.error), style="bold"))

    def render_event(self, e: dict[str, Any]) -> RenderableType:
        accent = self.app.current_theme.accent or "cyan"
        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=8)
        facts.add_column(ratio=1, overflow="fold")
        facts.add_row("编号", f"#{e['id']}")
        facts.add_row("时间", short_time(e["at"], seconds=True))
        actor = e["actor"] or "—"
        facts.add_row("操作人", actor + (f"（用户 #{e['actor_id']}）" if e.get("actor_id") else ""))
        facts.add_row("类型", f"{e['kind_label']}（{e['kind']}）")
        facts.add_row("工单", e["ticket_no"] or "—")
        facts.add_row("派单", f"#{e['assignment_id']}" if e.get("assignment_id") else "—")
        if e.get("summary"):
            facts.add_row("摘要", e["summary"])
        facts.add_row("前一哈希", short_hash(e.get("prev_hash") or ""))
        facts.add_row("本条哈希", short_hash(e.get("hash") or "") if e.get("hash") else "—")
        payload = json.dumps(e.get("payload") or {}, ensure_ascii=False, indent=2, sort_keys=True)
        return Group(facts, Text("\n内容（payload）", style=f"bold {accent}"), Text(payload))

    def action_close(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------- the verify report


class ChainReportScreen(ModalScreen[None]):
    """The outcome of a chain check: each problem with the event ids where it is."""

    BINDING_GROUP_TITLE = "事件链校验"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="audit.report.back", tooltip="关闭校验报告，回到审计日志"),
        Binding(
            "f1", "app.help", "帮助", key_display="F1", id="audit.report.help", tooltip="列出本界面的按键"
        ),
    ]
    DEFAULT_CSS = """
    ChainReportScreen {
        align: center middle;
    }
    ChainReportScreen #audit-report {
        width: 90%;
        max-width: 120;
        height: auto;
        max-height: 90%;
        border: round $error;
        border-title-color: $error;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    ChainReportScreen #audit-report.-ok {
        border: round $success;
        border-title-color: $success;
    }
    """

    def __init__(self, report: ChainReport) -> None:
        super().__init__()
        self.report = report
        self.body = Static(self.render_report(), id="audit-report-body")
        self.scroller = VerticalScroll(self.body, id="audit-report", classes="-ok" if report.ok else "")

    def compose(self) -> ComposeResult:
        self.scroller.border_title = "事件链校验报告"
        self.scroller.border_subtitle = "esc 返回"
        yield self.scroller
        yield Footer()

    def on_mount(self) -> None:
        self.scroller.focus()

    def render_report(self) -> RenderableType:
        r = self.report
        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=12)
        facts.add_column(ratio=1, overflow="fold")
        facts.add_row("结论", Text(r.summary(), style="bold"))
        if r.first_id is not None:
            facts.add_row("事件范围", f"#{r.first_id}–#{r.last_id}，共 {r.checked} 条")
        if r.head_id is not None:
            facts.add_row("链头", f"#{r.head_id} {short_hash(r.head_hash)}")
        guarded = {True: "已安装", False: "未安装或已被删除（hotline init 可重新安装）", None: "—"}[r.guarded]
        facts.add_row("防篡改触发器", guarded)
        problems = Table.grid(padding=(0, 1), expand=True)
        problems.add_column(no_wrap=True, style="bold")
        problems.add_column(no_wrap=True)
        problems.add_column(ratio=1, overflow="fold")
        for p in r.problems:
            where = f"#{p.event_id}" if p.end_id in (None, p.event_id) else f"#{p.event_id}–#{p.end_id}"
            problems.add_row(where, PROBLEM_LABELS.get(p.kind, p.kind), p.message)
        parts: list[RenderableType] = [facts]
        if r.problems:
            parts += [Text("\n发现的问题", style="bold"), problems]
        if r.truncated:
            parts.append(Text(f"……另有 {r.problem_count - len(r.problems)} 处问题未列出", style="dim"))
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
