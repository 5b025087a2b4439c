"""The knowledge base screen (知识库): search as you type, catalogue, entry view, editor, history, review.

Agents read; ``kb_editor`` users write; a unit editor's change waits in the review queue of the centre,
the district or a supervisor before agents see it (TA 7(3)). Every database call runs in a thread worker;
the screens hold only plain dataclasses and the dicts the services return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Label, Markdown, Static, TextArea, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState, get_current_worker

from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.screens.home import failure_text, fit, identity, notify_failure, short_time
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.kb import KBChange

EDIT_ROLES = ("kb_editor",)
REVIEW_ROLES = ("kb_editor", "supervisor")
RESULT_LIMIT = 50
BROWSE_LIMIT = 200
WIDE = 110  # from this width results and preview sit side by side
VALIDITY_MARKS = {"current": "", "upcoming": "【即将生效】", "expired": "【已失效】"}
VERSION_STATUS = {
    "published": "已发布",
    "pending": "待审核",
    "superseded": "已被取代",
    "rejected": "已退回",
    "withdrawn": "已撤回",
}
CHANGE_KINDS = {"create": "新增", "edit": "修改", "withdraw": "撤回", "import": "导入"}
_MARK_RE = re.compile(r"【[^】]*】")


# ---------------------------------------------------------------- plain data and reads (worker threads)


@dataclass(frozen=True)
class ResultRow:
    id: str
    title: str
    category: str
    unit: str | None
    validity: str  # current | upcoming | expired
    snippet: str = ""  # matched terms marked 【…】


@dataclass(frozen=True)
class SearchResult:
    query: str
    category: str
    include_expired: bool
    rows: list[ResultRow] = field(default_factory=list)


def validity_of(valid_from: date | None, valid_to: date | None, today: date) -> str:
    if valid_to is not None and valid_to < today:
        return "expired"
    if valid_from is not None and valid_from > today:
        return "upcoming"
    return "current"


def run_search(ctx: Ctx, query: str, category: str, include_expired: bool) -> SearchResult:
    """Ranked hits for ``query``; with no query but a catalogue node chosen, that node's entries by title."""
    from hotline_tui.search import search

    today = ctx.now().date()
    rows: list[ResultRow] = []
    if query.strip():
        with ctx.read() as s:
            hits = search(
                s,
                query,
                limit=RESULT_LIMIT,
                category=category or None,
                include_expired=include_expired,
                today=today,
            )
        rows = [ResultRow(h.id, h.title, h.category, h.unit, h.validity, h.snippet) for h in hits]
    elif category:
        rows = browse(ctx, category, include_expired, today)
    return SearchResult(query, category, include_expired, rows)


def browse(ctx: Ctx, category: str, include_expired: bool, today: date) -> list[ResultRow]:
    from sqlmodel import col, select

    from hotline_tui.models import KBEntry, Unit

    with ctx.read() as s:
        units = {u.id: u.code for u in s.exec(select(Unit))}
        entries = s.exec(
            select(KBEntry)
            .where(KBEntry.status == "published", col(KBEntry.category).startswith(category))
            .order_by(col(KBEntry.title))
            .limit(BROWSE_LIMIT)
        )
        rows = []
        for e in entries:
            validity = validity_of(e.valid_from, e.valid_to, today)
            if validity == "expired" and not include_expired:
                continue
            rows.append(ResultRow(e.id, e.title, e.category, units.get(e.unit_id), validity))
    order = {"current": 0, "upcoming": 1, "expired": 2}
    return sorted(rows, key=lambda r: order[r.validity])


def load_categories(ctx: Ctx) -> list[tuple[str, int]]:
    """Catalogue paths of published entries with their entry counts."""
    from sqlmodel import col, func, select

    from hotline_tui.models import KBEntry

    with ctx.read() as s:
        rows = s.exec(
            select(KBEntry.category, func.count())
            .where(KBEntry.status == "published")
            .group_by(col(KBEntry.category))
            .order_by(col(KBEntry.category))
        ).all()
    return [(str(c or ""), int(n)) for c, n in rows]


def catalogue_tree(categories: list[tuple[str, int]]) -> dict[str, Any]:
    """``{"n": count, "kids": {name: {...}}}`` from ``a/b/c`` paths; counts include descendants."""
    root: dict[str, Any] = {"n": 0, "kids": {}}
    for path, n in categories:
        node = root
        node["n"] += n
        for part in [p for p in path.split("/") if p] or ["（未分类）"]:
            node = node["kids"].setdefault(part, {"n": 0, "kids": {}})
            node["n"] += n
    return root


def marked(text: str, style: str) -> Text:
    """Text with the 【…】 marks of a snippet (or a title) shown in ``style``."""
    out = Text()
    pos = 0
    for m in _MARK_RE.finditer(text):
        out.append(text[pos : m.start()])
        out.append(m.group(0), style=style)
        pos = m.end()
    out.append(text[pos:])
    return out


def validity_text(entry: dict[str, Any]) -> str:
    return f"{entry.get('valid_from') or '不限'} 至 {entry.get('valid_to') or '长期'}"


def parse_date_field(value: str, label: str) -> date | None:
    """YYYY-MM-DD or empty; a Chinese message otherwise (checked before anything is saved)."""
    raw = value.strip()
    if not raw:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{label}“{raw}”不是有效日期，请按 YYYY-MM-DD 填写，例如 2025-03-01") from None


def change_notice(change: KBChange) -> tuple[str, str]:
    """(message, severity) for the result of a save or a review."""
    if change.status == "published":
        text = f"已发布：{change.entry_id} 第{change.version}版，坐席现在即可检索到"
    elif change.status == "pending":
        text = (
            f"已提交，待审核：{change.entry_id} 第{change.version}版。"
            "审核通过前坐席仍看到原内容（泰安办法第七条第（三）项）"
        )
    elif change.status == "unchanged":
        text = f"内容没有变化，未保存新版本：{change.entry_id}"
    elif change.status == "rejected":
        text = f"已退回：{change.entry_id} 第{change.version}版"
    else:
        text = f"{VERSION_STATUS.get(change.status, change.status)}：{change.entry_id}"
    return text, "information"


def diff_text(lines: list[str], add: str, remove: str) -> Text:
    out = Text()
    for line in lines:
        if line.startswith(("+++", "---")):
            out.append(line + "\n", style="bold dim")
        elif line.startswith("@@"):
            out.append(line + "\n", style="dim")
        elif line.startswith("+"):
            out.append(line + "\n", style=f"bold {add}")
        elif line.startswith("-"):
            out.append(line + "\n", style=f"bold {remove}")
        else:
            out.append(line + "\n")
    out.rstrip()
    return out


def entry_facts(entry: dict[str, Any], today: date) -> Table:
    facts = Table.grid(padding=(0, 1), expand=True)
    facts.add_column(no_wrap=True, style="bold", width=8)
    facts.add_column(ratio=1, overflow="fold")
    vf = date.fromisoformat(entry["valid_from"]) if entry.get("valid_from") else None
    vt = date.fromisoformat(entry["valid_to"]) if entry.get("valid_to") else None
    mark = VALIDITY_MARKS[validity_of(vf, vt, today)]
    facts.add_row("分类", entry.get("category") or "—")
    facts.add_row("归属单位", entry.get("unit") or "—")
    facts.add_row("有效期", validity_text(entry) + (f" {mark}" if mark else ""))
    if entry.get("keywords"):
        facts.add_row("关键词", "、".join(entry["keywords"]))
    if entry.get("source"):
        facts.add_row("来源", entry["source"])
    facts.add_row("版本", f"第{entry.get('version')}版  更新于 {short_time(entry.get('updated_at'))}")
    if entry.get("pending"):
        facts.add_row(
            "待审核", Text(f"有 {len(entry['pending'])} 项修改待审核，坐席仍看到本版", style="bold")
        )
    return facts


def is_editor(ctx: Ctx) -> bool:
    return ctx.actor.role in EDIT_ROLES


def is_reviewer(ctx: Ctx) -> bool:
    return ctx.actor.role in REVIEW_ROLES


# ---------------------------------------------------------------- the search screen


class ResultTable(DataTable[Text | str]):
    """Search results; ``enter`` opens the entry."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "查看", id="kb.results.open", tooltip="查看所选条目的全文"),
    ]

    class Resized(Message):
        """The table changed width: its columns are planned again."""

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())


class KBScreen(Screen[None]):
    """Search box on top; results with a preview beside them (below them when narrow); catalogue on ``c``."""

    BINDING_GROUP_TITLE = "知识库"
    AUTO_FOCUS = "#kb-query"
    DEBOUNCE = 0.15  # seconds of quiet typing before a search runs
    LOG_AFTER = 2.0  # seconds a query must stay unchanged to count as asked (the search log)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "返回", id="kb.back", tooltip="清除检索词与目录筛选；再按返回上一界面"),
        Binding(
            "ctrl+l",
            "toggle_expired",
            "含已失效",
            key_display="^L",
            id="kb.expired",
            tooltip="检索结果是否包含已失效条目",
        ),
        Binding(
            "slash", "focus_query", "检索", show=False, key_display="/", id="kb.query", tooltip="回到检索框"
        ),
        Binding("c", "catalogue", "目录", id="kb.catalogue", tooltip="显示/隐藏目录分类，按分类筛选"),
        Binding("p", "toggle_preview", "预览", show=False, id="kb.preview", tooltip="窄屏时显示/隐藏预览"),
        Binding("n", "new_entry", "新增", id="kb.new", tooltip="新增知识库条目（知识库维护人员）"),
        Binding("e", "edit_entry", "修改", id="kb.edit", tooltip="修改所选条目（知识库维护人员）"),
        Binding("h", "history", "历史", id="kb.history", tooltip="所选条目的版本历史与差异"),
        Binding(
            "v",
            "review_queue",
            "审核",
            id="kb.review",
            tooltip="待审核的知识库修改（中心、区热线机构、督办）",
        ),
        Binding("r", "refresh", "刷新", show=False, id="kb.refresh", tooltip="重新检索并刷新目录"),
        Binding("j", "cursor('down')", "下一条", show=False, id="kb.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="kb.up", tooltip="光标上移"),
        Binding("g", "cursor('top')", "第一条", show=False, id="kb.top", tooltip="跳到第一条"),
        Binding("G", "cursor('bottom')", "最后一条", show=False, id="kb.bottom", tooltip="跳到最后一条"),
    ]

    @dataclass
    class Searched(Message, bubble=False):
        result: SearchResult
        generation: int

    @dataclass
    class Previewed(Message, bubble=False):
        entry: dict[str, Any]

    @dataclass
    class CatalogueLoaded(Message, bubble=False):
        categories: list[tuple[str, int]]

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.query_input = Input(
            placeholder="输入关键词检索，如 社保、停水、gjj", id="kb-query", compact=True
        )
        self.status = Static("", id="kb-status", markup=False)
        self.catalogue: Tree[str] = Tree("全部分类", data="", id="kb-tree")
        self.results = ResultTable(id="kb-results", cursor_type="row", zebra_stripes=True)
        self.preview_head = Static("", id="kb-preview-head")
        self.preview_body = Markdown("", id="kb-preview-body")
        self.preview = VerticalScroll(self.preview_head, self.preview_body, id="kb-preview")
        self.include_expired = False
        self.category = ""
        self.result: SearchResult | None = None
        self.entry: dict[str, Any] | None = None
        self._generation = 0
        self._debounce: Timer | None = None
        self._log_timer: Timer | None = None
        self._logged: tuple[str, str] | None = None
        self._announce = False

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        with Horizontal(id="kb-searchbar"):
            yield Label("检索", id="kb-label")
            yield self.query_input
            yield self.status
        with Horizontal(id="kb-main"):
            yield self.catalogue
            with Horizontal(id="kb-split"):
                yield self.results
                yield self.preview
        yield StableFooter()

    def on_mount(self) -> None:
        self.catalogue.show_root = True
        self.catalogue.root.expand()
        self.preview.border_title = "预览"
        self.results.border_title = "检索结果"
        self.catalogue.border_title = "目录"
        self.apply_width()
        self.show_status()
        self.preview_head.update(Text("输入关键词开始检索；按 c 打开目录分类。", style="dim"))
        self.load_catalogue()

    def on_resize(self) -> None:
        self.apply_width()

    @on(ResultTable.Resized)
    def results_resized(self) -> None:
        if self.result is not None:
            self.fill_results()

    def apply_width(self) -> None:
        narrow = self.app.size.width < WIDE
        self.set_class(narrow, "-narrow")
        self.title = "知识库" if narrow else f"{self.app.title} · 知识库"
        self.sub_title = identity(self.ctx, "", with_policy=False) if narrow else None

    # ------------------------------------------------------------ search

    @on(Input.Changed, "#kb-query")
    def query_changed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(self.DEBOUNCE, self.search_now)

    @on(Input.Submitted, "#kb-query")
    def query_submitted(self) -> None:
        self.search_now()
        self.results.focus()

    def search_now(self) -> None:
        """Run the search for what is in the box now (the debounce timer lands here)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self._generation += 1
        self.do_search(self.query_input.value, self.category, self.include_expired, self._generation)

    @work(thread=True, exclusive=True, group="kb-search", exit_on_error=False, description="检索知识库")
    def do_search(self, query: str, category: str, include_expired: bool, generation: int) -> None:
        result = run_search(self.ctx, query, category, include_expired)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Searched(result, generation))

    @on(Searched)
    def show_results(self, message: Searched) -> None:
        if message.generation != self._generation:
            return  # a newer search is under way
        self.result = message.result
        self.fill_results()
        self.show_status()
        if self._announce:
            self._announce = False
            self.notify(f"已刷新：{len(message.result.rows)} 条", timeout=2)
        if self._log_timer is not None:
            self._log_timer.stop()
        self._log_timer = self.set_timer(self.LOG_AFTER, self.log_settled)
        if not message.result.rows:
            self.entry = None
            self.show_preview(None)

    def log_settled(self, opened: str | None = None) -> None:
        """Log the query once it has settled (or an entry was opened from it): not per keystroke."""
        if self._log_timer is not None:
            self._log_timer.stop()
            self._log_timer = None
        result = self.result
        if result is None or not result.query.strip():
            return
        key = (result.query.strip(), opened or "")
        if self._logged == key or (opened is None and self._logged and self._logged[0] == key[0]):
            return
        self._logged = key
        top = result.rows[0].id if result.rows else None
        self.write_log(result.query, len(result.rows), top, opened)

    @work(thread=True, group="kb-log", exit_on_error=False, description="记录检索")
    def write_log(self, query: str, hits: int, top: str | None, opened: str | None) -> None:
        from hotline_tui.services.kb import log_search

        log_search(self.ctx, query, hits, top, opened_entry=opened)

    def show_status(self) -> None:
        parts = []
        if self.result is not None and (self.result.query.strip() or self.result.category):
            parts.append(f"{len(self.result.rows)} 条" if self.result.rows else "没有找到")
        if self.category:
            parts.append(f"分类：{fit(self.category, 20)}")
        parts.append("含已失效" if self.include_expired else "仅现行")
        self.status.update(" · ".join(parts))

    def fill_results(self) -> None:
        table = self.results
        rows = self.result.rows if self.result else []
        keep = table.cursor_row
        width = table.size.width or self.app.size.width
        wide = width >= 70
        cat_w = min(24 if wide else 12, max([4, *(cell_len(r.category) for r in rows)]))
        unit_w = min(8, max([4, *(cell_len(r.unit or "—") for r in rows)])) if wide else 0
        ncols = 3 if wide else 2
        title_w = max(12, width - 2 - 2 * ncols - cat_w - unit_w)
        table.clear(columns=True)
        table.add_column("标题", width=title_w, key="title")
        table.add_column("分类", width=cat_w, key="category")
        if wide:
            table.add_column("单位", width=unit_w, key="unit")
        theme = self.app.current_theme
        tones = {"upcoming": theme.warning or "yellow", "expired": theme.error or "red"}
        for r in rows:
            mark = VALIDITY_MARKS[r.validity]
            title = Text()
            if mark:
                title.append(mark, style=f"bold {tones[r.validity]}")
            title.append(fit(r.title, max(4, title_w - cell_len(mark))))
            cells: list[Text | str] = [
                title,
                fit(r.category.split("/")[-1] if not wide else r.category, cat_w),
            ]
            if wide:
                cells.append(r.unit or "—")
            table.add_row(*cells, key=r.id)
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1) if keep >= 0 else 0)

    # ------------------------------------------------------------ preview

    @on(DataTable.RowHighlighted, "#kb-results")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.load_preview(event.row_key.value)

    @work(thread=True, exclusive=True, group="kb-preview", exit_on_error=False, description="载入条目预览")
    def load_preview(self, entry_id: str) -> None:
        from hotline_tui.services.kb import get_entry

        entry = get_entry(self.ctx, entry_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Previewed(entry))

    @on(Previewed)
    def preview_loaded(self, message: Previewed) -> None:
        if self.selected_id() != message.entry["id"]:
            return
        self.entry = message.entry
        self.show_preview(message.entry)

    def show_preview(self, entry: dict[str, Any] | None) -> None:
        if entry is None:
            text = "没有找到相关条目。换个说法、用拼音首字母，或按 ^L 包含已失效条目。"
            if self.category:
                text = f"在分类「{self.category}」中没有找到。按 esc 清除检索词和分类筛选，或在目录中选「全部分类」。"
            if not (self.result and self.result.query.strip()):
                text = "输入关键词开始检索；按 c 打开目录分类。"
            self.preview_head.update(Text(text, style="dim"))
            self.preview_body.update("")
            return
        accent = self.app.current_theme.accent or "cyan"
        parts: list[RenderableType] = [Text(entry["title"], style=f"bold {accent}")]
        parts.append(entry_facts(entry, self.ctx.now().date()))
        row = next((r for r in (self.result.rows if self.result else []) if r.id == entry["id"]), None)
        if row is not None and row.snippet:
            parts.append(marked("摘要：" + row.snippet, f"bold reverse {accent}"))
        self.preview_head.update(Group(*parts))
        self.preview_body.update(entry["body"])
        self.preview.scroll_home(animate=False)

    def selected_id(self) -> str | None:
        table = self.results
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # ------------------------------------------------------------ catalogue

    @work(thread=True, exclusive=True, group="kb-catalogue", exit_on_error=False, description="载入目录")
    def load_catalogue(self) -> None:
        self.post_message(self.CatalogueLoaded(load_categories(self.ctx)))

    @on(CatalogueLoaded)
    def fill_catalogue(self, message: CatalogueLoaded) -> None:
        tree = self.catalogue
        tree.clear()
        data = catalogue_tree(message.categories)
        tree.root.set_label(f"全部分类（{data['n']}）")
        tree.root.data = ""

        def add(node: TreeNode[str], kids: dict[str, Any], prefix: str) -> None:
            for name, sub in kids.items():
                path = f"{prefix}/{name}" if prefix else name
                if sub["kids"]:
                    child = node.add(f"{name}（{sub['n']}）", data=path)
                    add(child, sub["kids"], path)
                else:
                    node.add_leaf(f"{name}（{sub['n']}）", data=path)

        add(tree.root, data["kids"], "")
        tree.root.expand()

    @on(Tree.NodeSelected, "#kb-tree")
    def category_chosen(self, event: Tree.NodeSelected[str]) -> None:
        self.category = event.node.data or ""
        self.show_status()
        self.search_now()

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new_entry", "edit_entry"):
            if not is_editor(self.ctx):
                return False
            if action == "edit_entry" and self.selected_id() is None:
                return None
        if action == "review_queue" and not is_reviewer(self.ctx):
            return False
        if action == "history" and self.selected_id() is None:
            return None
        if action == "toggle_preview" and not self.has_class("-narrow"):
            return False
        return True

    def action_back(self) -> None:
        if self.query_input.value or self.category:
            self.category = ""
            self.catalogue.select_node(None)
            self.query_input.value = ""
            self.search_now()
            self.query_input.focus()
        elif self.focused is not self.query_input:
            self.query_input.focus()
        else:
            self.log_settled()
            self.app.pop_screen()

    def action_focus_query(self) -> None:
        self.query_input.focus()

    def action_toggle_expired(self) -> None:
        self.include_expired = not self.include_expired
        self.show_status()
        self.notify(
            "检索结果包含已失效条目" if self.include_expired else "只显示现行和即将生效的条目", timeout=2
        )
        self.search_now()

    def action_catalogue(self) -> None:
        self.toggle_class("-catalogue")
        if self.has_class("-catalogue"):
            self.catalogue.focus()
        else:
            self.results.focus()

    def action_toggle_preview(self) -> None:
        self.toggle_class("-no-preview")

    def action_refresh(self) -> None:
        self._announce = True
        self.load_catalogue()
        self.search_now()

    def action_cursor(self, where: str) -> None:
        table = self.results
        if where == "down":
            table.action_cursor_down()
        elif where == "up":
            table.action_cursor_up()
        elif where == "top":
            table.move_cursor(row=0)
        else:
            table.move_cursor(row=max(0, table.row_count - 1))

    @on(DataTable.RowSelected, "#kb-results")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_entry(event.row_key.value)

    def open_entry(self, entry_id: str) -> None:
        self.log_settled(opened=entry_id)
        self.app.push_screen(KBEntryScreen(self.ctx, entry_id), self.after_change)

    def action_new_entry(self) -> None:
        self.app.push_screen(KBEditorScreen(self.ctx, None), self.after_change)

    def action_edit_entry(self) -> None:
        entry_id = self.selected_id()
        if entry_id is None:
            return
        self.app.push_screen(KBEditorScreen(self.ctx, entry_id), self.after_change)

    def action_history(self) -> None:
        entry_id = self.selected_id()
        if entry_id is not None:
            self.app.push_screen(KBHistoryScreen(self.ctx, entry_id))

    def action_review_queue(self) -> None:
        self.app.push_screen(KBReviewScreen(self.ctx), lambda _: self.action_refresh_quiet())

    def action_refresh_quiet(self) -> None:
        self.load_catalogue()
        self.search_now()

    def after_change(self, change: KBChange | None) -> None:
        if change is not None:
            self.action_refresh_quiet()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)


# ---------------------------------------------------------------- entry view


class KBEntryScreen(ModalScreen["KBChange | None"]):
    """One entry in full, as agents see it."""

    BINDING_GROUP_TITLE = "知识库条目"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="kb.entry.back", tooltip="关闭条目，回到检索结果"),
        Binding("e", "edit", "修改", id="kb.entry.edit", tooltip="修改本条目（知识库维护人员）"),
        Binding("h", "history", "历史", id="kb.entry.history", tooltip="版本历史与差异"),
        Binding("r", "reload", "刷新", show=False, id="kb.entry.refresh", tooltip="重新载入本条目"),
        Binding("f1", "app.help", "帮助", key_display="F1", id="kb.entry.help", tooltip="列出本界面的按键"),
        Binding("f3", "app.open_kb", "知识库", key_display="F3", id="kb.entry.kb", tooltip="回到知识库检索"),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        entry: dict[str, Any]

    def __init__(self, ctx: Ctx, entry_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.entry_id = entry_id
        self.entry: dict[str, Any] | None = None
        self.head = Static("正在载入……", id="kb-entry-head")
        self.body = Markdown("", id="kb-entry-body")
        self.scroller = VerticalScroll(self.head, self.body, id="kb-entry")

    def compose(self) -> ComposeResult:
        self.scroller.border_title = f"知识库 {self.entry_id}"
        self.scroller.border_subtitle = "esc 返回"
        yield self.scroller
        yield Footer()

    def on_mount(self) -> None:
        self.scroller.focus()
        self.load()

    @work(thread=True, exclusive=True, group="kb-entry", exit_on_error=False, description="载入知识库条目")
    def load(self) -> None:
        from hotline_tui.services.kb import get_entry

        self.post_message(self.Loaded(get_entry(self.ctx, self.entry_id)))

    @on(Loaded)
    def show_entry(self, message: Loaded) -> None:
        entry = self.entry = message.entry
        accent = self.app.current_theme.accent or "cyan"
        self.head.update(
            Group(Text(entry["title"], style=f"bold {accent}"), entry_facts(entry, self.ctx.now().date()))
        )
        self.body.update(entry["body"])

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
            self.head.update(Text(failure_text(event.worker.error), style="bold"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit" and not is_editor(self.ctx):
            return False
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.load()

    def action_edit(self) -> None:
        def done(change: KBChange | None) -> None:
            if change is not None:
                self.dismiss(change)

        self.app.push_screen(KBEditorScreen(self.ctx, self.entry_id), done)

    def action_history(self) -> None:
        self.app.push_screen(KBHistoryScreen(self.ctx, self.entry_id))


# ---------------------------------------------------------------- editor


class KBEditorScreen(ModalScreen["KBChange | None"]):
    """New entry or a change to one; a unit editor's change goes to review (TA 7(3))."""

    BINDING_GROUP_TITLE = "编辑知识库条目"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s",
            "save",
            "保存",
            key_display="^S",
            priority=True,
            id="kb.editor.save",
            tooltip="保存（单位修改提交审核）",
        ),
        Binding("escape", "cancel", "取消", id="kb.editor.cancel", tooltip="放弃修改，关闭编辑"),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        entry: dict[str, Any]

    @dataclass
    class Saved(Message, bubble=False):
        change: KBChange

    def __init__(self, ctx: Ctx, entry_id: str | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.entry_id = entry_id
        self.version: int | None = None
        self.title_input = Input(
            id="kb-f-title", placeholder="标题（必填）", compact=True, select_on_focus=False
        )
        self.category_input = Input(
            id="kb-f-category", placeholder="如 社会保障/养老保险", compact=True, select_on_focus=False
        )
        self.unit_input = Input(
            id="kb-f-unit", placeholder="单位代码，空为本单位", compact=True, select_on_focus=False
        )
        self.keywords_input = Input(
            id="kb-f-keywords", placeholder="用逗号分隔", compact=True, select_on_focus=False
        )
        self.from_input = Input(id="kb-f-from", placeholder="YYYY-MM-DD", compact=True, select_on_focus=False)
        self.to_input = Input(id="kb-f-to", placeholder="YYYY-MM-DD", compact=True, select_on_focus=False)
        self.source_input = Input(
            id="kb-f-source", placeholder="文件名称与文号", compact=True, select_on_focus=False
        )
        self.body_area = TextArea(
            id="kb-f-body", language="markdown", soft_wrap=True, show_line_numbers=False
        )
        self.error = Static("", id="kb-form-error", markup=False)
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="kb-editor") as box:
            box.border_title = f"修改 {self.entry_id}" if self.entry_id else "新增知识库条目"
            box.border_subtitle = "^S 保存 · esc 取消"
            for label, widget in (
                ("标题", self.title_input),
                ("分类", self.category_input),
                ("归属单位", self.unit_input),
                ("关键词", self.keywords_input),
                ("来源", self.source_input),
            ):
                with Horizontal(classes="kb-row"):
                    yield Label(label, classes="kb-flabel")
                    yield widget
            with Horizontal(classes="kb-row"):
                yield Label("生效日期", classes="kb-flabel")
                yield self.from_input
                yield Label("失效日期", classes="kb-flabel kb-flabel2")
                yield self.to_input
            yield Label("正文（Markdown，可用 **加粗**、- 列表）", classes="kb-body-label", markup=False)
            yield self.body_area
            yield self.error
        yield Footer()

    def on_mount(self) -> None:
        self.error.display = False
        self.title_input.focus()
        if self.entry_id:
            self.title_input.disabled = True
            self.load()

    @work(thread=True, exclusive=True, group="kb-editor", exit_on_error=False, description="载入条目")
    def load(self) -> None:
        from hotline_tui.services.kb import get_entry

        assert self.entry_id is not None
        self.post_message(self.Loaded(get_entry(self.ctx, self.entry_id)))

    @on(Loaded)
    def fill(self, message: Loaded) -> None:
        e = message.entry
        self.version = e["version"]
        self.title_input.disabled = False
        self.title_input.value = e["title"]
        self.category_input.value = e.get("category") or ""
        self.unit_input.value = e.get("unit") or ""
        self.keywords_input.value = ", ".join(e.get("keywords") or [])
        self.from_input.value = e.get("valid_from") or ""
        self.to_input.value = e.get("valid_to") or ""
        self.source_input.value = e.get("source") or ""
        self.body_area.text = e.get("body") or ""
        self.title_input.focus()

    def show_error(self, text: str) -> None:
        self.error.update(text)
        self.error.display = True
        self.notify(text, title="未保存", severity="error", timeout=8, markup=False)

    def action_save(self) -> None:
        if self.saving or (self.entry_id and self.version is None):
            return
        try:
            valid_from = parse_date_field(self.from_input.value, "生效日期")
            valid_to = parse_date_field(self.to_input.value, "失效日期")
            if valid_from and valid_to and valid_to < valid_from:
                raise InvalidInput(f"失效日期 {valid_to} 早于生效日期 {valid_from}")
        except HotlineError as exc:
            self.show_error(exc.message)
            (
                self.to_input if "失效" in exc.message and "生效日期“" not in exc.message else self.from_input
            ).focus()
            return
        self.error.display = False
        fields: dict[str, Any] = {
            "title": self.title_input.value,
            "body": self.body_area.text,
            "keywords": self.keywords_input.value,
            "category": self.category_input.value,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "source": self.source_input.value,
        }
        unit = self.unit_input.value.strip()
        if unit or self.entry_id:
            fields["unit"] = unit
        self.saving = True
        self.save(fields)

    @work(thread=True, exclusive=True, group="kb-editor", exit_on_error=False, description="保存知识库条目")
    def save(self, fields: dict[str, Any]) -> None:
        from hotline_tui.services.kb import create_entry, edit_entry

        if self.entry_id is None:
            change = create_entry(self.ctx, **fields)
        else:
            change = edit_entry(self.ctx, self.entry_id, expected_version=self.version, **fields)
        self.post_message(self.Saved(change))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        change = message.change
        text, severity = change_notice(change)
        self.notify(text, title="知识库", timeout=8, markup=False)
        for warning in change.warnings:
            self.notify(warning, title="请注意", severity="warning", timeout=12, markup=False)
        self.dismiss(change)

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.saving = False
            self.show_error(failure_text(event.worker.error))

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------- history


class KBHistoryScreen(ModalScreen[None]):
    """Every version of an entry with who changed what, and the line diff to the version before."""

    BINDING_GROUP_TITLE = "版本历史"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "返回", id="kb.history.back", tooltip="关闭版本历史"),
        Binding("f1", "app.help", "帮助", key_display="F1", id="kb.history.help", tooltip="列出本界面的按键"),
        Binding(
            "f3", "app.open_kb", "知识库", key_display="F3", id="kb.history.kb", tooltip="回到知识库检索"
        ),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        versions: list[dict[str, Any]]

    def __init__(self, ctx: Ctx, entry_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.entry_id = entry_id
        self.body = Static("正在载入……", id="kb-history-body")
        self.scroller = VerticalScroll(self.body, id="kb-history")

    def compose(self) -> ComposeResult:
        self.scroller.border_title = f"版本历史 {self.entry_id}"
        self.scroller.border_subtitle = "esc 返回"
        yield self.scroller
        yield Footer()

    def on_mount(self) -> None:
        self.scroller.focus()
        self.load()

    @work(thread=True, exclusive=True, group="kb-history", exit_on_error=False, description="载入版本历史")
    def load(self) -> None:
        from hotline_tui.services.kb import history

        self.post_message(self.Loaded(history(self.ctx, self.entry_id)))

    @on(Loaded)
    def show_history(self, message: Loaded) -> None:
        theme = self.app.current_theme
        accent = theme.accent or "cyan"
        add, remove = theme.success or "green", theme.error or "red"
        parts: list[RenderableType] = []
        for v in reversed(message.versions):  # newest first
            head = Text(f"第{v['version']}版 ", style=f"bold {accent}")
            head.append(
                f"{CHANGE_KINDS.get(v['change'], v['change'])} · {VERSION_STATUS.get(v['status'], v['status'])}"
            )
            head.append(f" · {v['changed_by']} {short_time(v['changed_at'])}", style="dim")
            if v.get("reviewed_by"):
                head.append(f" · 审核 {v['reviewed_by']} {short_time(v['reviewed_at'])}", style="dim")
            parts.append(head)
            if v.get("review_note"):
                parts.append(Text(f"审核意见：{v['review_note']}", style="italic"))
            parts.append(diff_text(v["diff"], add, remove))
            parts.append(Text(""))
        self.body.update(Group(*parts) if parts else Text("没有版本记录", style="dim"))

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
            self.body.update(Text(failure_text(event.worker.error), style="bold"))

    def action_close(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------- review queue


class NoteScreen(ModalScreen[str | None]):
    """The review note a rejection needs (enter to confirm, esc to cancel)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "取消", id="kb.note.cancel", tooltip="不退回，回到审核队列"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.input = Input(placeholder="说明需要如何修改（必填）", id="kb-note-input")
        self.hint = Static("回车确认退回 · esc 取消", id="kb-note-hint", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="kb-note") as box:
            box.border_title = self.title_text
            yield self.input
            yield self.hint

    @on(Input.Submitted, "#kb-note-input")
    def confirm(self) -> None:
        note = self.input.value.strip()
        if not note:
            self.hint.update("退回知识库修改须填写审核意见（说明需要如何修改）")
            return
        self.dismiss(note)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KBReviewScreen(Screen[None]):
    """Pending changes of the units under the reviewer, oldest first, with their diff (TA 7(3))."""

    BINDING_GROUP_TITLE = "知识库审核"
    AUTO_FOCUS = "#kb-queue"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "返回", id="kb.queue.back", tooltip="回到知识库检索"),
        Binding("a", "approve", "通过", id="kb.queue.approve", tooltip="通过所选修改，坐席即可看到"),
        Binding("x", "reject", "退回", id="kb.queue.reject", tooltip="退回所选修改（须填写审核意见）"),
        Binding("r", "refresh", "刷新", id="kb.queue.refresh", tooltip="重新载入审核队列"),
        Binding("j", "cursor('down')", "下一条", show=False, id="kb.queue.down", tooltip="光标下移"),
        Binding("k", "cursor('up')", "上一条", show=False, id="kb.queue.up", tooltip="光标上移"),
    ]

    @dataclass
    class Loaded(Message, bubble=False):
        items: list[dict[str, Any]]

    @dataclass
    class Reviewed(Message, bubble=False):
        change: KBChange

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.items: list[dict[str, Any]] = []
        self.table: DataTable[str] = DataTable(id="kb-queue", cursor_type="row", zebra_stripes=True)
        self.diff = Static("正在载入……", id="kb-queue-diff")
        self.diff_box = VerticalScroll(self.diff, id="kb-queue-diffbox")

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        self.table.border_title = "待审核的修改"
        self.diff_box.border_title = "与现行版本的差异"
        yield self.table
        yield self.diff_box
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def on_resize(self) -> None:
        narrow = self.app.size.width < WIDE
        self.title = "知识库审核" if narrow else f"{self.app.title} · 知识库审核"
        self.sub_title = identity(self.ctx, "", with_policy=False) if narrow else None

    @work(thread=True, exclusive=True, group="kb-queue", exit_on_error=False, description="载入审核队列")
    def load(self) -> None:
        from hotline_tui.services.kb import review_queue

        self.post_message(self.Loaded(review_queue(self.ctx)))

    @on(Loaded)
    def fill(self, message: Loaded) -> None:
        self.items = message.items
        table = self.table
        table.clear(columns=True)
        width = table.size.width or self.app.size.width
        title_w = max(10, width - 2 - 2 * 5 - 6 - 8 - 10 - 11)
        table.add_column("类型", width=6, key="change")
        table.add_column("标题", width=title_w, key="title")
        table.add_column("单位", width=8, key="unit")
        table.add_column("提交人", width=10, key="by")
        table.add_column("提交时间", width=11, key="at")
        for item in self.items:
            kind = "新增" if item["new_entry"] else CHANGE_KINDS.get(item["change"], item["change"])
            table.add_row(
                kind,
                fit(item["title"], title_w),
                fit(item["unit"] or "—", 8),
                fit(item["changed_by"], 10),
                short_time(item["changed_at"])[5:],
                key=str(item["id"]),
            )
        if not self.items:
            self.diff.update(Text("没有待审核的修改。", style="dim"))
        else:
            table.move_cursor(row=0)
            self.show_diff()

    @on(DataTable.RowHighlighted, "#kb-queue")
    def show_diff(self) -> None:
        item = self.selected()
        if item is None:
            return
        theme = self.app.current_theme
        head = Text(f"{item['entry']} 第{item['version']}版 · {item['title']}", style="bold")
        self.diff.update(Group(head, diff_text(item["diff"], theme.success or "green", theme.error or "red")))

    def selected(self) -> dict[str, Any] | None:
        if self.table.row_count == 0 or not self.items:
            return None
        key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value
        return next((i for i in self.items if str(i["id"]) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject") and self.selected() is None:
            return None
        return True

    def action_approve(self) -> None:
        item = self.selected()
        if item is not None:
            self.review(int(item["id"]), True, "")

    def action_reject(self) -> None:
        item = self.selected()
        if item is None:
            return
        version_id = int(item["id"])

        def done(note: str | None) -> None:
            if note:
                self.review(version_id, False, note)

        self.app.push_screen(NoteScreen(f"退回 {item['entry']} 第{item['version']}版"), done)

    @work(thread=True, exclusive=True, group="kb-review", exit_on_error=False, description="审核知识库修改")
    def review(self, version_id: int, approve: bool, note: str) -> None:
        from hotline_tui.services.kb import review_change

        self.post_message(self.Reviewed(review_change(self.ctx, version_id, approve, note)))

    @on(Reviewed)
    def reviewed(self, message: Reviewed) -> None:
        text, _ = change_notice(message.change)
        if message.change.status == "published":
            text = f"已通过并发布：{message.change.entry_id} 第{message.change.version}版"
        self.notify(text, title="知识库审核", timeout=6, markup=False)
        for warning in message.change.warnings:
            self.notify(warning, title="请注意", severity="warning", timeout=12, markup=False)
        self.load()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)
            if not self.items:
                self.diff.update(Text(failure_text(event.worker.error), style="bold"))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.load()

    def action_cursor(self, where: str) -> None:
        if where == "down":
            self.table.action_cursor_down()
        else:
            self.table.action_cursor_up()
