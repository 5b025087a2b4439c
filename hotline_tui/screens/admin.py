"""The administrator's screen (系统管理): users, the unit tree and the policy profile, in three tabs.

Every change goes through a form or a confirmation and runs in a thread worker; the screens hold only
the plain dicts the services return. A refused form stays open with what was typed and shows the
service's Chinese message: nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tree,
)
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState

from hotline_tui.errors import HotlineError, InvalidInput
from hotline_tui.models import ROLE_LABELS, ROLES
from hotline_tui.screens.home import Col, failure_text, fit, identity, notify_failure, short_time
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx

WIDE = 110  # from this width the unit tree and the policy list have their detail beside them
TABS = ("tab-users", "tab-units", "tab-policy")
MOVE_NOTE = "联络员的单位范围在其下次登录时按新的单位层级生效"
PASSWORD_HINT = "至少8位，须同时包含字母和数字"


# ---------------------------------------------------------------- plain data (no Textual below this line)


@dataclass(frozen=True)
class AdminData:
    users: list[dict[str, Any]]
    units: list[dict[str, Any]]
    policies: list[dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """What a finished change tells the user; ``select`` is the user or unit to put the cursor on."""

    message: str
    select: str | None = None
    note: str = ""


def load_admin(ctx: Ctx) -> AdminData:
    """Users, units (with their live orders and users) and the profiles, read in one go (worker thread)."""
    from hotline_tui.services.admin import list_policies, list_units, list_users

    return AdminData(list_users(ctx), list_units(ctx, with_counts=True), list_policies(ctx))


def login_state(user: dict[str, Any], wide: bool) -> tuple[str, str]:
    """(text, tone) for the 登录 column: locked, wrong passwords so far, no password, or nothing."""
    if user.get("locked_until"):
        at = short_time(user["locked_until"])
        return (f"锁定至 {at[5:]}" if wide else f"锁定{at[11:]}"), "error"
    if user.get("failed_logins"):
        return f"输错{user['failed_logins']}次", "warning"
    if not user.get("has_password", True):
        return "未设密码", ""
    return "—", ""


def user_columns(width: int) -> list[Col]:
    """用户名 姓名 角色 单位 状态 登录, for a table ``width`` cells wide; 单位 takes what is left."""
    wide = width >= WIDE
    fixed = [
        Col("name", "用户名", 14 if wide else 10),
        Col("display", "姓名", 10 if wide else 8),
        Col("role", "角色", 14),
        Col("active", "状态", 4),
        Col("login", "登录", 18 if wide else 9),
    ]
    padding = 2 * (len(fixed) + 1) + 2  # cell padding of six columns and the vertical scrollbar
    unit_w = max(8, min(60, width - padding - sum(c.width for c in fixed)))
    return [*fixed[:3], Col("unit", "单位", unit_w), *fixed[3:]]


def unit_text(user: dict[str, Any], wide: bool) -> str:
    if not user.get("unit"):
        return "—"
    return f"{user['unit']} {user.get('unit_name') or ''}".strip() if wide else str(user["unit"])


def children_of(units: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for u in sorted(units, key=lambda u: u["code"]):
        out.setdefault(u["parent"], []).append(u)
    return out


def subtree_codes(units: list[dict[str, Any]], code: str) -> set[str]:
    kids = children_of(units)
    out, stack = {code}, [code]
    while stack:
        for child in kids.get(stack.pop(), []):
            if child["code"] not in out:
                out.add(child["code"])
                stack.append(child["code"])
    return out


def change_text(before: dict[str, Any], after: dict[str, Any], names: dict[str, str]) -> str:
    """``角色 坐席→督办管理；单位 无→HX-CG`` for the notice after a change."""

    def show(key: str, value: Any) -> str:
        if key == "role":
            return ROLE_LABELS.get(str(value), str(value))
        if key == "kind":
            from hotline_tui.services.admin import UNIT_KIND_LABELS

            return UNIT_KIND_LABELS.get(str(value), str(value))
        if isinstance(value, list):
            return "、".join(str(v) for v in value) or "无"
        return str(value) if value not in (None, "") else "无"

    return "；".join(f"{names.get(k, k)} {show(k, before[k])}→{show(k, after[k])}" for k in after)


def policy_view(p: dict[str, Any], accent: str, wide: bool) -> Group:
    """A profile's key numbers: the same data as ``hotline policy show``."""
    if p.get("error"):
        return Group(Text(p["title"], style=f"bold {accent}"), Text(p["error"], style="bold"))
    facts = Table.grid(padding=(0, 1), expand=True)
    facts.add_column(no_wrap=True, style="bold", width=10)
    facts.add_column(ratio=1, overflow="fold")
    facts.add_row("配置名", p["name"] + ("（当前启用）" if p.get("active") else ""))
    facts.add_row("依据", p["regulation"])
    facts.add_row("工作日起算", p["wd_start_label"])
    facts.add_row("接单时限", p["accept_limit"] or "未规定")
    back = p["return_window"]
    if p.get("return_window_complex"):
        back += f"（情况复杂的 {p['return_window_complex']}）"
    facts.add_row("退单时限", back)
    facts.add_row("指定承办", f"同一工单退单 {p['designation_after']} 次后由热线中心指定承办单位")
    if p["extension_enabled"]:
        ext = f"最多 {p['extension_max']} 次"
        if p.get("extension_lead"):
            ext += f"，须在到期前至少 {p['extension_lead']} 提出"
    else:
        ext = "不允许延期"
    facts.add_row("延期", ext)
    facts.add_row("重新办理", f"不满意后最多 {p['rehandle_max']} 次")
    for g in p.get("unit_groups") or []:
        parts = []
        if g.get("accept_limit"):
            parts.append(f"接单 {g['accept_limit']}")
        if g.get("return_window"):
            parts.append(f"退单 {g['return_window']}")
        facts.add_row("单位组", f"{g['name']}（{'、'.join(g['units'])}）：{'，'.join(parts)}")

    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
    table.add_column("渠道", ratio=3, overflow="fold")
    table.add_column("类型", ratio=3, overflow="fold")
    table.add_column("紧急程度", ratio=2, overflow="fold", min_width=8)
    table.add_column("办理时限", no_wrap=True)
    if wide:
        table.add_column("依据", ratio=5, overflow="fold", style="dim")
    for d in p["deadlines"]:
        cells = [d["channels_label"], d["types_label"], d["urgencies_label"], d["period"]]
        table.add_row(*cells, *([d["cite"]] if wide else []))
    title = Text(p["title"], style=f"bold {accent}")
    return Group(title, facts, Text("\n办理时限（按顺序取第一条适用的规则）", style=f"bold {accent}"), table)


# ---------------------------------------------------------------- the screen


class UserTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "查看/修改", id="admin.users.open", tooltip="查看并修改所选用户"),
    ]


class UnitTree(Tree[str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "展开/收起",
            show=False,  # the footer is short at 80 columns; the tree's enter is what everyone expects
            id="admin.units.open",
            tooltip="展开或收起所选单位",
        ),
    ]


class PolicyTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "启用", id="admin.policy.use", tooltip="启用所选策略配置（需确认）"
        ),
    ]


class AdminScreen(Screen[None]):
    """The admin's home: 用户 / 单位 / 策略配置."""

    BINDING_GROUP_TITLE = "系统管理"
    AUTO_FOCUS = "#admin-users"
    DEFAULT_CSS = """
    AdminScreen #admin-tabs { height: 1fr; }
    AdminScreen #admin-tabs > ContentSwitcher { height: 1fr; }
    AdminScreen TabPane { height: 1fr; padding: 0; }
    AdminScreen .admin-status { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    AdminScreen #admin-users { height: 1fr; }
    AdminScreen .admin-split { height: 1fr; }
    AdminScreen #admin-units { width: 1fr; height: 1fr; }
    AdminScreen #admin-policies { width: 74; height: 1fr; }
    AdminScreen .admin-detail { width: 1fr; height: 1fr; border-left: vkey $panel; padding: 0 1; }
    AdminScreen #admin-policy-box { width: 1fr; }
    AdminScreen.-narrow .admin-split { layout: vertical; }
    AdminScreen.-narrow #admin-units { width: 1fr; height: 1fr; }
    AdminScreen.-narrow #admin-unit-box { width: 1fr; height: 8; border-left: none; border-top: hkey $panel; }
    AdminScreen.-narrow #admin-policies { width: 1fr; height: 7; }
    AdminScreen.-narrow #admin-policy-box { width: 1fr; height: 1fr; border-left: none; border-top: hkey $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "新增", id="admin.add", tooltip="新增用户；在「单位」页签为所选单位新增下级单位"),
        Binding(
            "e",
            "edit",
            "修改",
            id="admin.edit",
            tooltip="修改所选用户的姓名、角色、单位，或所选单位的名称、类型",
        ),
        Binding(
            "d",
            "toggle_active",
            "停用/启用",
            id="admin.toggle",
            tooltip="停用或重新启用所选用户或单位（需确认）",
        ),
        Binding(
            "p", "password", "重置密码", id="admin.password", tooltip="为所选用户设置新密码（同时解除锁定）"
        ),
        Binding("u", "unlock", "解锁", id="admin.unlock", tooltip="解除所选用户因连续输错密码造成的锁定"),
        Binding("k", "keywords", "关键词", id="admin.keywords", tooltip="修改所选单位的派单关键词"),
        Binding(
            "m", "move", "移动", id="admin.move", tooltip="把所选单位（连同下级单位）移到另一个上级单位之下"
        ),
        Binding("r", "refresh", "刷新", show=False, id="admin.refresh", tooltip="重新从数据库载入"),
        Binding(
            "1", "show_tab('tab-users')", "用户", show=False, id="admin.tab1", tooltip="切换到「用户」页签"
        ),
        Binding(
            "2", "show_tab('tab-units')", "单位", show=False, id="admin.tab2", tooltip="切换到「单位」页签"
        ),
        Binding(
            "3",
            "show_tab('tab-policy')",
            "策略配置",
            show=False,
            id="admin.tab3",
            tooltip="切换到「策略配置」页签",
        ),
        Binding("escape", "back", "返回", show=False, id="admin.back", tooltip="回到当前页签的列表"),
    ]

    # what each action needs: the tabs it belongs to, and whether it needs a selected row
    ACTION_TABS: ClassVar[dict[str, tuple[tuple[str, ...], bool]]] = {
        "add": (("tab-users", "tab-units"), False),
        "edit": (("tab-users", "tab-units"), True),
        "toggle_active": (("tab-users", "tab-units"), True),
        "password": (("tab-users",), True),
        "unlock": (("tab-users",), True),
        "keywords": (("tab-units",), True),
        "move": (("tab-units",), True),
    }

    @dataclass
    class Loaded(Message, bubble=False):
        data: AdminData
        select: str | None

    @dataclass
    class Done(Message, bubble=False):
        outcome: Outcome

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.data: AdminData | None = None
        self.tabs = TabbedContent(initial="tab-users", id="admin-tabs")
        self.users = UserTable(id="admin-users", cursor_type="row", zebra_stripes=True)
        self.users_status = Static("正在载入……", classes="admin-status", markup=False)
        self.unit_tree = UnitTree("全部单位", data="", id="admin-units")
        self.units_status = Static("", classes="admin-status", markup=False)
        self.unit_detail = Static("", id="admin-unit-detail")
        self.unit_box = VerticalScroll(self.unit_detail, id="admin-unit-box", classes="admin-detail")
        self.policies = PolicyTable(id="admin-policies", cursor_type="row")
        self.policy_status = Static("", classes="admin-status", markup=False)
        self.policy_detail = Static("", id="admin-policy-detail")
        self.policy_box = VerticalScroll(self.policy_detail, id="admin-policy-box", classes="admin-detail")
        self._user_layout: list[Col] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        with self.tabs:
            with TabPane("用户", id="tab-users"):
                yield self.users_status
                yield self.users
            with TabPane("单位", id="tab-units"):
                yield self.units_status
                with Horizontal(classes="admin-split"):
                    yield self.unit_tree
                    yield self.unit_box
            with TabPane("策略配置", id="tab-policy"):
                yield self.policy_status
                with Horizontal(classes="admin-split"):
                    yield self.policies
                    yield self.policy_box
        yield StableFooter()

    def on_mount(self) -> None:
        self.unit_tree.show_root = True
        self.unit_tree.guide_depth = 3
        self.unit_tree.root.expand()
        self.apply_width()
        self.load()

    def on_resize(self) -> None:
        self.apply_width()
        if self.data is not None:
            self.fill_users()
            self.fill_tree(self.selected_code())
            self.show_policy()

    def apply_width(self) -> None:
        narrow = self.app.size.width < WIDE
        self.set_class(narrow, "-narrow")
        self.title = "系统管理" if narrow else f"{self.app.title} · 系统管理"
        self.sub_title = identity(self.ctx, "", with_policy=not narrow)

    @property
    def wide(self) -> bool:
        return not self.has_class("-narrow")

    # ------------------------------------------------------------ loading

    @work(
        thread=True, exclusive=True, group="admin-load", exit_on_error=False, description="载入系统管理数据"
    )
    def load(self, select: str | None = None) -> None:
        self.post_message(self.Loaded(load_admin(self.ctx), select))

    @on(Loaded)
    def show_loaded(self, message: Loaded) -> None:
        self.data = message.data
        tab = self.tabs.active
        self.fill_users(message.select if tab == "tab-users" else None)
        self.fill_tree(message.select if tab == "tab-units" else self.selected_code())
        self.fill_policies()
        self.refresh_bindings()

    @work(
        thread=True, exclusive=True, group="admin-change", exit_on_error=False, description="保存系统管理修改"
    )
    def run_change(self, job: Callable[[], Outcome]) -> None:
        self.post_message(self.Done(job()))

    @on(Done)
    def change_done(self, message: Done) -> None:
        self.after_change(message.outcome)

    def after_change(self, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        self.notify(outcome.message, title="系统管理", timeout=6, markup=False)
        if outcome.note:
            self.notify(outcome.note, title="请注意", severity="warning", timeout=10, markup=False)
        self.app.sub_title = identity(self.ctx, "")  # the policy may have changed
        self.apply_width()
        self.load(outcome.select)

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        notify_failure(self, event.worker.error)
        if self.data is None:
            self.users_status.update(f"载入失败：{failure_text(event.worker.error)}（按 r 重试）")

    # ------------------------------------------------------------ users

    def fill_users(self, select: str | None = None) -> None:
        assert self.data is not None
        table = self.users
        keep = select or self.selected_user_name()
        layout = user_columns(table.size.width or self.app.size.width)
        if layout != self._user_layout:
            table.clear(columns=True)
            for c in layout:
                table.add_column(c.label, width=c.width, key=c.key)
            self._user_layout = layout
        else:
            table.clear()
        theme = self.app.current_theme
        tones = {"warning": theme.warning or "yellow", "error": theme.error or "red"}
        wide = self.wide
        for u in self.data.users:
            login, tone = login_state(u, wide)
            values = {
                "name": u["name"],
                "display": u["display_name"] or "",
                "role": u["role_label"],
                "unit": unit_text(u, wide),
                "active": "启用" if u["active"] else "停用",
                "login": login,
            }
            cells: list[Text | str] = []
            for c in layout:
                text = fit(values[c.key], c.width)
                if not u["active"]:
                    cells.append(Text(text, style="dim"))
                elif c.key == "login" and tone:
                    cells.append(Text(text, style=f"bold {tones[tone]}"))
                else:
                    cells.append(text)
            table.add_row(*cells, key=u["name"])
        names = [u["name"] for u in self.data.users]
        if keep in names:
            table.move_cursor(row=names.index(keep))
        users = self.data.users
        inactive = sum(1 for u in users if not u["active"])
        locked = sum(1 for u in users if u.get("locked_until"))
        parts = [f"共 {len(users)} 个用户", f"停用 {inactive}"]
        if locked:
            parts.append(f"锁定 {locked}")
        self.users_status.update(" · ".join(parts) + "    1/2/3 切换页签 · F1 全部按键")

    def selected_user_name(self) -> str | None:
        table = self.users
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key else None

    def selected_user(self) -> dict[str, Any] | None:
        name = self.selected_user_name()
        if self.data is None or name is None:
            return None
        return next((u for u in self.data.users if u["name"] == name), None)

    @on(DataTable.RowHighlighted, "#admin-users")
    def user_highlighted(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#admin-users")
    def user_selected(self) -> None:
        self.action_edit()

    # ------------------------------------------------------------ units

    def unit_label(self, u: dict[str, Any]) -> Text:
        label = Text(u["name"], style="" if u["active"] else "dim strike")
        label.append(f" {u['code']}", style="dim")
        if self.wide:
            label.append(f"  {u['kind_label']}", style="italic dim")
        if not u["active"]:
            label.append(" 【已停用】", style="bold")
        return label

    def fill_tree(self, select: str | None = None) -> None:
        if self.data is None:
            return
        tree = self.unit_tree
        expanded = {n.data for n in self._tree_nodes(tree.root) if n.is_expanded and n.data}
        tree.clear()
        units = self.data.units
        inactive = sum(1 for u in units if not u["active"])
        tree.root.set_label(Text(f"全部单位（{len(units)}）", style="bold"))
        kids = children_of(units)
        nodes: dict[str, TreeNode[str]] = {}

        def add(node: TreeNode[str], parent: str | None) -> None:
            for u in kids.get(parent, []):
                code = u["code"]
                if kids.get(code):
                    child = node.add(self.unit_label(u), data=code, expand=code in expanded)
                    add(child, code)
                else:
                    child = node.add_leaf(self.unit_label(u), data=code)
                nodes[code] = child

        add(tree.root, None)
        tree.root.expand()
        target = nodes.get(select or "")
        if target is not None:
            up = target.parent
            while up is not None:
                up.expand()
                up = up.parent
        _ = tree.last_line  # lay out the new lines so the cursor can be put on a node
        tree.move_cursor(target or tree.root)
        self.units_status.update(
            f"共 {len(units)} 个单位 · 停用 {inactive}"
            + ("    a 在所选单位下新增 · m 移动" if self.wide else "")
        )
        self.show_unit()

    def _tree_nodes(self, node: TreeNode[str]) -> list[TreeNode[str]]:
        out = [node]
        for child in node.children:
            out.extend(self._tree_nodes(child))
        return out

    def selected_code(self) -> str | None:
        node = self.unit_tree.cursor_node
        return node.data if node is not None and node.data else None

    def selected_unit(self) -> dict[str, Any] | None:
        code = self.selected_code()
        if self.data is None or code is None:
            return None
        return next((u for u in self.data.units if u["code"] == code), None)

    def unit_named(self, code: str | None) -> str:
        if not code:
            return "无（顶级单位）"
        u = next((x for x in (self.data.units if self.data else []) if x["code"] == code), None)
        return f"{u['name']}（{code}）" if u else code

    @on(Tree.NodeHighlighted, "#admin-units")
    def unit_highlighted(self) -> None:
        self.show_unit()
        self.refresh_bindings()

    def show_unit(self) -> None:
        u = self.selected_unit()
        accent = self.app.current_theme.accent or "cyan"
        if u is None:
            units = self.data.units if self.data else []
            self.unit_detail.update(
                Group(
                    Text("全部单位", style=f"bold {accent}"),
                    Text(f"{len(units)} 个单位，其中停用 {sum(1 for x in units if not x['active'])} 个。"),
                    Text("按 a 新增顶级单位；选中某个单位后按 a 在其下新增下级单位。", style="dim"),
                )
            )
            return
        facts = Table.grid(padding=(0, 1), expand=True)
        facts.add_column(no_wrap=True, style="bold", width=10)
        facts.add_column(ratio=1, overflow="fold")
        facts.add_row("单位", Text(f"{u['name']}（{u['code']}）", style=f"bold {accent}"))
        facts.add_row("类型", f"{u['kind_label']}（{u['kind']}）")
        facts.add_row("上级单位", self.unit_named(u["parent"]))
        status = Text("启用" if u["active"] else "已停用", style="" if u["active"] else "bold")
        status.append(f"   未办结派单 {u.get('live', 0)} 条 · 启用用户 {u.get('users', 0)} 个")
        facts.add_row("状态", status)
        facts.add_row("关键词", "、".join(u["keywords"]) or Text("（无，按 k 添加）", style="dim"))
        self.unit_detail.update(facts)

    # ------------------------------------------------------------ policy

    def fill_policies(self) -> None:
        assert self.data is not None
        table = self.policies
        keep = self.selected_policy_name()
        table.clear(columns=True)
        width = table.size.width or (74 if self.wide else self.app.size.width)
        table.add_column("当前", width=4, key="active")
        table.add_column("配置名", width=12, key="name")
        title_w = max(12, width - 4 - 12 - 2 * 3 - 2)
        table.add_column("名称", width=title_w, key="title")
        names = []
        for p in self.data.policies:
            mark = Text("●", style="bold") if p.get("active") else ""
            table.add_row(mark, fit(p["name"], 12), fit(p["title"], title_w), key=p["name"])
            names.append(p["name"])
        active = next((p for p in self.data.policies if p.get("active")), None)
        keep = keep or (active["name"] if active else None)
        if keep in names:
            table.move_cursor(row=names.index(keep))
        if active is not None:
            self.policy_status.update(f"当前启用：{active['title']}（{active['name']}）")
        self.show_policy()

    def selected_policy_name(self) -> str | None:
        table = self.policies
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key else None

    @on(DataTable.RowHighlighted, "#admin-policies")
    def show_policy(self) -> None:
        name = self.selected_policy_name()
        p = next((x for x in (self.data.policies if self.data else []) if x["name"] == name), None)
        if p is None:
            return
        accent = self.app.current_theme.accent or "cyan"
        self.policy_detail.update(policy_view(p, accent, self.wide))

    @on(DataTable.RowSelected, "#admin-policies")
    def policy_selected(self) -> None:
        name = self.selected_policy_name()
        p = next((x for x in (self.data.policies if self.data else []) if x["name"] == name), None)
        if p is None:
            return
        if p.get("active"):
            self.notify(f"「{p['title']}」已是当前的策略配置", timeout=4, markup=False)
            return
        chosen = str(p["name"])
        body = (
            f"将启用「{p['title']}」\n{p['regulation']}\n\n"
            "此后新受理和新派出的工单按新配置计算时限、退单和延期；已派出工单的办理时限不变。"
            "本会话立即生效，其他已登录的用户重新登录后生效。"
        )

        def switch() -> Outcome:
            from hotline_tui.services.admin import set_policy

            policy = set_policy(self.ctx, chosen)
            return Outcome(f"已启用策略配置：{policy.title}（{policy.name}）", select=policy.name)

        self.confirm("切换策略配置", body, switch)

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        rule = self.ACTION_TABS.get(action)
        if rule is None:
            return True
        tabs, needs_row = rule
        tab = self.tabs.active
        if tab not in tabs:
            return False
        if self.data is None:
            return None
        if tab == "tab-users":
            user = self.selected_user()
            if needs_row and user is None:
                return None
            if action == "unlock" and user is not None and not user.get("locked_until"):
                return False  # shown only for a locked account: the footer is short at 80 columns
        elif needs_row and self.selected_unit() is None:
            return None
        return True

    @on(TabbedContent.TabActivated, "#admin-tabs")
    def tab_changed(self) -> None:
        if self.data is not None:  # a hidden table has no width of its own: lay it out now
            {"tab-users": self.fill_users, "tab-policy": self.fill_policies}.get(
                self.tabs.active, lambda: None
            )()
        self.focus_main()
        self.refresh_bindings()

    def focus_main(self) -> None:
        widget = {"tab-users": self.users, "tab-units": self.unit_tree, "tab-policy": self.policies}.get(
            self.tabs.active
        )
        if widget is not None:
            widget.focus()

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.tabs.active = tab
            self.focus_main()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2 and self.focused in (self.users, self.unit_tree, self.policies):
            self.app.pop_screen()  # opened on top of another screen: go back to it
        else:
            self.focus_main()

    def action_refresh(self) -> None:
        self.load()

    def active_unit_codes(self) -> list[tuple[str, str]]:
        return [(u["code"], u["name"]) for u in (self.data.units if self.data else []) if u["active"]]

    def action_add(self) -> None:
        if self.tabs.active == "tab-users":
            self.app.push_screen(UserForm(self.ctx, self.active_unit_codes(), None), self.after_change)
        else:
            self.app.push_screen(UnitForm(self.ctx, self.selected_unit(), None), self.after_change)

    def action_edit(self) -> None:
        if self.tabs.active == "tab-users":
            user = self.selected_user()
            if user is not None:
                self.app.push_screen(UserForm(self.ctx, self.active_unit_codes(), user), self.after_change)
        else:
            unit = self.selected_unit()
            if unit is not None:
                self.app.push_screen(UnitForm(self.ctx, None, unit), self.after_change)

    def action_password(self) -> None:
        user = self.selected_user()
        if user is not None:
            self.app.push_screen(PasswordForm(self.ctx, user), self.after_change)

    def action_unlock(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        name = user["name"]

        def unlock() -> Outcome:
            from hotline_tui.services.admin import unlock_account

            unlock_account(self.ctx, name)
            return Outcome(f"已解锁账户 {name}，可以重新登录", select=name)

        self.run_change(unlock)

    def action_keywords(self) -> None:
        unit = self.selected_unit()
        if unit is not None:
            self.app.push_screen(KeywordsForm(self.ctx, unit), self.after_change)

    def action_move(self) -> None:
        unit = self.selected_unit()
        if unit is None or self.data is None:
            return
        inside = subtree_codes(self.data.units, unit["code"])
        targets = [(c, n) for c, n in self.active_unit_codes() if c not in inside]
        current = self.unit_named(unit["parent"])
        self.app.push_screen(MoveForm(self.ctx, unit, current, targets), self.after_change)

    def action_toggle_active(self) -> None:
        if self.tabs.active == "tab-users":
            self.toggle_user()
        else:
            self.toggle_unit()

    def toggle_user(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        name = user["name"]
        who = f"{name}（{user['display_name'] or name}，{user['role_label']}）"
        if user["active"]:

            def deactivate() -> Outcome:
                from hotline_tui.services.admin import deactivate_user

                deactivate_user(self.ctx, name)
                return Outcome(f"已停用用户 {name}", select=name)

            body = f"停用用户 {who}？\n\n停用后该用户不能再登录；其办理记录和审计记录保留。可随时重新启用。"
            self.confirm("停用用户", body, deactivate)
        else:

            def reactivate() -> Outcome:
                from hotline_tui.services.admin import reactivate_user

                reactivate_user(self.ctx, name)
                return Outcome(f"已重新启用用户 {name}", select=name)

            self.confirm("启用用户", f"重新启用用户 {who}？\n\n启用后该用户可以用原密码登录。", reactivate)

    def toggle_unit(self) -> None:
        unit = self.selected_unit()
        if unit is None:
            return
        code = unit["code"]
        what = f"{unit['name']}（{code}）"
        if unit["active"]:

            def deactivate() -> Outcome:
                from hotline_tui.services.admin import deactivate_unit

                result = deactivate_unit(self.ctx, code)
                note = ""
                if result["users"]:
                    note = f"该单位仍有 {result['users']} 个启用的用户账户，可在「用户」页签停用或更换其单位"
                return Outcome(f"已停用单位 {code}", select=code, note=note)

            body = (
                f"停用单位 {what}？\n\n停用后不能再向其派单，也不能为其新增用户。"
                "有未办结派单或启用的下级单位时不能停用。"
            )
            self.confirm("停用单位", body, deactivate)
        else:

            def reactivate() -> Outcome:
                from hotline_tui.services.admin import reactivate_unit

                reactivate_unit(self.ctx, code)
                return Outcome(f"已重新启用单位 {code}", select=code)

            self.confirm("启用单位", f"重新启用单位 {what}？\n\n启用后可以再向其派单。", reactivate)

    def confirm(self, title: str, body: str, job: Callable[[], Outcome]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_change(job)

        self.app.push_screen(ConfirmScreen(title, body), answered)


# ---------------------------------------------------------------- confirmation


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one change (y / enter confirms, n / esc cancels)."""

    BINDING_GROUP_TITLE = "确认"
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #admin-confirm {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; border-title-color: $warning; border-subtitle-color: $text-muted;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "确认", key_display="y", id="admin.confirm.yes", tooltip="确认并执行"),
        Binding(
            "n,escape", "cancel", "取消", key_display="esc", id="admin.confirm.no", tooltip="不执行，返回"
        ),
    ]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = Static(body, id="admin-confirm-body", markup=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-confirm") as box:
            box.border_title = self.title_text
            box.border_subtitle = "y/回车 确认 · n/esc 取消"
            yield self.body
        yield Footer()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


# ---------------------------------------------------------------- forms


class AdminForm(ModalScreen[Outcome | None]):
    """Labelled fields, one per row. ^S (or enter on the last field) saves in a worker; a refusal is
    shown in the form, which stays open with everything typed; esc cancels."""

    BINDING_GROUP_TITLE = "表单"
    DEFAULT_CSS = """
    AdminForm { align: center middle; }
    AdminForm .admin-form {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; border-title-color: $accent; border-subtitle-color: $text-muted;
        background: $surface; padding: 0 1;
    }
    AdminForm .admin-row { height: 1; margin: 0 0 1 0; }
    AdminForm .admin-flabel { width: 10; color: $text-muted; }
    AdminForm .admin-row Input { width: 1fr; background: $boost; }
    AdminForm .admin-row Input:focus { background: $primary 20%; }
    AdminForm .admin-row Select { width: 1fr; }
    AdminForm .admin-row .admin-value { width: 1fr; }
    AdminForm .admin-row .admin-short { width: 18; }
    AdminForm .admin-row .admin-aside { width: 1fr; padding: 0 1; color: $text-muted; }
    AdminForm .admin-hint { height: auto; color: $text-muted; }
    AdminForm .admin-form-error { height: auto; color: $text-error; text-style: bold; margin: 1 0 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s", "save", "保存", key_display="^S", priority=True, id="admin.form.save", tooltip="保存"
        ),
        Binding("escape", "cancel", "取消", id="admin.form.cancel", tooltip="放弃修改，关闭表单"),
    ]

    @dataclass
    class Saved(Message, bubble=False):
        outcome: Outcome

    form_title = ""
    hint_text = ""

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.error = Static("", classes="admin-form-error", markup=False)
        self.hint = Static(self.hint_text, classes="admin-hint", markup=False)
        self.saving = False

    def rows(self) -> list[tuple[str, list[Widget]]]:
        raise NotImplementedError

    def extras(self) -> list[Widget]:
        """Widgets between the fields and the hint (a live count, say)."""
        return []

    def setup(self) -> None:
        """Called once the form is mounted (subclasses: instead of their own ``on_mount``)."""

    def prepare(self) -> Callable[[], Outcome]:
        """Read the fields (raising ``HotlineError`` for what can be checked here) and return the job."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="admin-form") as box:
            box.border_title = self.form_title
            box.border_subtitle = "^S 保存 · esc 取消"
            for label, widgets in self.rows():
                with Horizontal(classes="admin-row"):
                    yield Label(label, classes="admin-flabel")
                    yield from widgets
            yield from self.extras()
            yield self.hint
            yield self.error
        yield Footer()

    def on_mount(self) -> None:
        self.error.display = False
        self.hint.display = bool(self.hint_text)
        first = next((w for w in self.query("Input, Select") if w.focusable), None)
        if first is not None:
            first.focus()
        self.setup()

    @staticmethod
    def field(placeholder: str, value: str = "", **kw: Any) -> Input:
        return Input(value=value, placeholder=placeholder, compact=True, select_on_focus=False, **kw)

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        inputs = [w for w in self.query(Input) if w.focusable]
        if inputs and event.input is inputs[-1]:
            self.action_save()
        else:
            self.focus_next()

    def show_error(self, text: str) -> None:
        self.error.update(text)
        self.error.display = True

    def action_save(self) -> None:
        if self.saving:
            return
        try:
            job = self.prepare()
        except HotlineError as exc:
            self.show_error(exc.message)
            return
        self.error.display = False
        self.saving = True
        self.save(job)

    @work(thread=True, exclusive=True, group="admin-form", exit_on_error=False, description="保存")
    def save(self, job: Callable[[], Outcome]) -> None:
        self.post_message(self.Saved(job()))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.dismiss(message.outcome)

    @on(Worker.StateChanged)
    def save_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.saving = False
            self.show_error(failure_text(event.worker.error))

    def action_cancel(self) -> None:
        self.dismiss(None)


def select_value(select: Select[str], missing: str) -> str:
    value = select.value
    if not isinstance(value, str) or not value:
        raise InvalidInput(missing)
    return value


def unit_hint(code: str, units: dict[str, str]) -> str:
    code = code.strip()
    if not code:
        return ""
    return units.get(code) or "（不是启用单位的代码）"


class UserForm(AdminForm):
    """A new user, or the display name, role and unit of one."""

    hint_text = "单位：联络员必填；知识库维护可不填（即热线中心）；其他角色一般不填。"

    def __init__(self, ctx: Ctx, units: list[tuple[str, str]], user: dict[str, Any] | None) -> None:
        self.user = user
        self.units = dict(units)
        self.form_title = f"修改用户 {user['name']}" if user else "新增用户"
        super().__init__(ctx)
        self.name_input = self.field("登录名：字母、数字，不含空格", id="uf-name")
        self.display_input = self.field("中文姓名", user["display_name"] if user else "", id="uf-display")
        self.role_select: Select[str] = Select(
            [(ROLE_LABELS[r], r) for r in ROLES],
            prompt="请选择角色",
            value=user["role"] if user else Select.NULL,
            compact=True,
            id="uf-role",
        )
        self.unit_input = self.field(
            "单位代码，如 HX-CG",
            (user.get("unit") or "") if user else "",
            id="uf-unit",
            suggester=SuggestFromList(self.units, case_sensitive=False),
            classes="admin-short",
        )
        self.unit_name = Static(
            unit_hint(self.unit_input.value, self.units), classes="admin-aside", markup=False
        )
        self.password_input = self.field(PASSWORD_HINT, id="uf-password", password=True)
        self.confirm_input = self.field("再输入一次", id="uf-confirm", password=True)
        self.self_edit = user is not None and user["name"] == ctx.actor.name

    def rows(self) -> list[tuple[str, list[Widget]]]:
        if self.user is None:
            name: list[Widget] = [self.name_input]
        else:
            name = [Static(self.user["name"], classes="admin-value", markup=False)]
        rows: list[tuple[str, list[Widget]]] = [
            ("用户名", name),
            ("姓名", [self.display_input]),
            ("角色", [self.role_select]),
            ("单位", [self.unit_input, self.unit_name]),
        ]
        if self.user is None:
            rows += [("初始密码", [self.password_input]), ("确认密码", [self.confirm_input])]
        return rows

    def setup(self) -> None:
        if self.self_edit:
            self.role_select.disabled = True
            self.hint.update("这是您自己的账户：角色不能自己修改，请由其他系统管理员操作。")
            self.hint.display = True

    @on(Input.Changed, "#uf-unit")
    def unit_changed(self) -> None:
        self.unit_name.update(unit_hint(self.unit_input.value, self.units))

    def prepare(self) -> Callable[[], Outcome]:
        role = select_value(self.role_select, "请选择角色")
        display = self.display_input.value
        unit = self.unit_input.value.strip()
        if self.user is None:
            name = self.name_input.value.strip()
            if not name:
                raise InvalidInput("请填写用户名")
            password = self.password_input.value
            if not password:
                raise InvalidInput(f"请设置初始密码（{PASSWORD_HINT}）")
            if password != self.confirm_input.value:
                raise InvalidInput("两次输入的密码不一致")

            def add() -> Outcome:
                from hotline_tui.services.admin import add_user

                user = add_user(self.ctx, name, role, unit or None, password, display_name=display)
                return Outcome(f"已新增用户 {user.name}（{ROLE_LABELS.get(role, role)}）", select=user.name)

            return add
        user_name = str(self.user["name"])

        def change() -> Outcome:
            from hotline_tui.services.admin import change_user

            result = change_user(
                self.ctx,
                user_name,
                role=None if self.self_edit else role,
                unit_code=unit,
                display_name=display,
            )
            names = {"role": "角色", "unit": "单位", "display_name": "姓名"}
            text = change_text(result["before"], result["after"], names)
            note = "新的角色和单位在该用户下次登录时生效" if result["after"].keys() & {"role", "unit"} else ""
            return Outcome(f"已修改用户 {user_name}：{text}", select=user_name, note=note)

        return change


class PasswordForm(AdminForm):
    """The admin sets a new password for a user (which also lifts a lock)."""

    hint_text = "新密码请通过安全渠道告知本人，并提醒其登录后自行修改。"

    def __init__(self, ctx: Ctx, user: dict[str, Any]) -> None:
        self.user = user
        self.form_title = f"重置密码 {user['name']}"
        super().__init__(ctx)
        self.password_input = self.field(PASSWORD_HINT, id="pf-password", password=True)
        self.confirm_input = self.field("再输入一次", id="pf-confirm", password=True)

    def rows(self) -> list[tuple[str, list[Widget]]]:
        who = f"{self.user['name']}（{self.user['display_name'] or self.user['name']}，{self.user['role_label']}）"
        return [
            ("用户", [Static(who, classes="admin-value", markup=False)]),
            ("新密码", [self.password_input]),
            ("确认密码", [self.confirm_input]),
        ]

    def prepare(self) -> Callable[[], Outcome]:
        password = self.password_input.value
        if not password:
            raise InvalidInput(f"请输入新密码（{PASSWORD_HINT}）")
        if password != self.confirm_input.value:
            raise InvalidInput("两次输入的密码不一致")
        name = str(self.user["name"])
        was_locked = bool(self.user.get("locked_until"))

        def reset() -> Outcome:
            from hotline_tui.services.admin import reset_password

            reset_password(self.ctx, name, password)
            return Outcome(f"已重置 {name} 的密码" + ("，并解除了锁定" if was_locked else ""), select=name)

        return reset


def kind_options() -> list[tuple[str, str]]:
    from hotline_tui.policy import UNIT_KINDS
    from hotline_tui.services.admin import UNIT_KIND_LABELS

    return [(UNIT_KIND_LABELS.get(k, k), k) for k in UNIT_KINDS]


class UnitForm(AdminForm):
    """A new unit under ``parent`` (None: top level), or the name and kind of ``unit``."""

    def __init__(self, ctx: Ctx, parent: dict[str, Any] | None, unit: dict[str, Any] | None) -> None:
        self.parent_unit = parent
        self.unit = unit
        self.form_title = f"修改单位 {unit['code']}" if unit else "新增单位"
        if unit is None:
            self.hint_text = "关键词用于派单建议：用逗号、空格或顿号分隔，每个1–20字，最多50个。"
        super().__init__(ctx)
        self.code_input = self.field("字母、数字和 - _ .，如 HX-CG-ZM", id="unf-code")
        self.name_input = self.field("单位全称", unit["name"] if unit else "", id="unf-name")
        self.kind_select: Select[str] = Select(
            kind_options(),
            prompt="请选择单位类型",
            value=unit["kind"] if unit else Select.NULL,
            compact=True,
            id="unf-kind",
        )
        self.keywords_input = self.field("如 路灯、占道经营、垃圾", id="unf-keywords")

    def rows(self) -> list[tuple[str, list[Widget]]]:
        if self.unit is not None:
            code = Static(self.unit["code"], classes="admin-value", markup=False)
            return [("代码", [code]), ("名称", [self.name_input]), ("类型", [self.kind_select])]
        up = self.parent_unit
        where = f"{up['name']}（{up['code']}）" if up else "无（新增为顶级单位）"
        return [
            ("上级单位", [Static(where, classes="admin-value", markup=False)]),
            ("代码", [self.code_input]),
            ("名称", [self.name_input]),
            ("类型", [self.kind_select]),
            ("关键词", [self.keywords_input]),
        ]

    def prepare(self) -> Callable[[], Outcome]:
        kind = select_value(self.kind_select, "请选择单位类型")
        name = self.name_input.value
        if self.unit is None:
            code = self.code_input.value.strip()
            parent = self.parent_unit["code"] if self.parent_unit else None
            keywords = self.keywords_input.value

            def add() -> Outcome:
                from hotline_tui.services.admin import add_unit

                row = add_unit(self.ctx, code, name, kind, parent, keywords)
                return Outcome(f"已新增单位 {row['code']}（{row['name']}）", select=row["code"])

            return add
        code = str(self.unit["code"])

        def change() -> Outcome:
            from hotline_tui.services.admin import change_unit

            result = change_unit(self.ctx, code, name=name, kind=kind)
            text = change_text(result["before"], result["after"], {"name": "名称", "kind": "类型"})
            return Outcome(f"已修改单位 {code}：{text}", select=code)

        return change


class KeywordsForm(AdminForm):
    """The words dispatch suggestion matches against a caller's demand, for one unit."""

    hint_text = "用逗号、空格或顿号分隔，自动去重；每个1–20字，最多50个；留空即清除。"

    def __init__(self, ctx: Ctx, unit: dict[str, Any]) -> None:
        self.unit = unit
        self.form_title = f"派单关键词 {unit['code']}"
        super().__init__(ctx)
        self.keywords_input = self.field(
            "如 路灯、占道经营、垃圾", "、".join(unit["keywords"]), id="kwf-keywords"
        )
        self.count = Static("", classes="admin-hint", markup=False)

    def rows(self) -> list[tuple[str, list[Widget]]]:
        return [
            (
                "单位",
                [Static(f"{self.unit['name']}（{self.unit['code']}）", classes="admin-value", markup=False)],
            ),
            ("关键词", [self.keywords_input]),
        ]

    def extras(self) -> list[Widget]:
        return [self.count]

    def setup(self) -> None:
        self.count_words()

    @on(Input.Changed, "#kwf-keywords")
    def count_words(self) -> None:
        from hotline_tui.services.admin import parse_keywords

        try:
            words = parse_keywords(self.keywords_input.value)
        except HotlineError as exc:
            self.count.update(exc.message)
            return
        self.count.update(f"共 {len(words)} 个：{'、'.join(words)}" if words else "没有关键词")

    def prepare(self) -> Callable[[], Outcome]:
        code = str(self.unit["code"])
        value = self.keywords_input.value

        def change() -> Outcome:
            from hotline_tui.services.admin import change_unit

            result = change_unit(self.ctx, code, keywords=value)
            return Outcome(
                f"已更新单位 {code} 的关键词（{len(result['after']['keywords'])} 个）", select=code
            )

        return change


class MoveForm(AdminForm):
    """Put a unit (with its sub-units) under another parent."""

    hint_text = "留空则移为顶级单位。联络员的单位范围在其下次登录时生效。"

    def __init__(self, ctx: Ctx, unit: dict[str, Any], current: str, targets: list[tuple[str, str]]) -> None:
        self.unit = unit
        self.current = current
        self.targets = dict(targets)
        self.form_title = f"移动单位 {unit['code']}"
        super().__init__(ctx)
        self.parent_input = self.field(
            "上级单位代码",
            id="mvf-parent",
            suggester=SuggestFromList(self.targets, case_sensitive=False),
            classes="admin-short",
        )
        self.parent_name = Static("", classes="admin-aside", markup=False)

    def rows(self) -> list[tuple[str, list[Widget]]]:
        return [
            (
                "单位",
                [Static(f"{self.unit['name']}（{self.unit['code']}）", classes="admin-value", markup=False)],
            ),
            ("现上级", [Static(self.current, classes="admin-value", markup=False)]),
            ("新上级", [self.parent_input, self.parent_name]),
        ]

    @on(Input.Changed, "#mvf-parent")
    def parent_changed(self) -> None:
        self.parent_name.update(unit_hint(self.parent_input.value, self.targets) or "（顶级单位）")

    def prepare(self) -> Callable[[], Outcome]:
        code = str(self.unit["code"])
        parent = self.parent_input.value.strip()

        def move() -> Outcome:
            from hotline_tui.services.admin import move_unit

            move_unit(self.ctx, code, parent or None)
            where = f"{parent} 之下" if parent else "顶级"
            return Outcome(f"已将单位 {code} 移到{where}", select=code, note=MOVE_NOTE)

        return move
