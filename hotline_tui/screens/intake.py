"""The seat agent's call screen (来电受理): a keyboard-only intake form with what the agent needs beside it.

While the agent types, thread workers fill in, each from its own service and never blocking a key:
the triage banner (services.triage, plus the caller-history findings: repeat call, abusive use), the
live knowledge-base panel (search.search over the matter), the caller's earlier tickets (by the phone
number), similar open tickets of other callers, the suggested handling units and the deadlines a
dispatch would set. Each result carries the sequence number of the input it answers; a result for
input that has changed since is dropped (stale).

The form is saved as a draft to the store shortly after every change and every few seconds
(services.drafts); a killed terminal finds it again at the next start. Saving the call records it and
dispatches, answers or refers it in one transaction (services.call).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import (
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from hotline_tui.screens.feedback import failure_text, notify_failure
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.search import SearchHit
    from hotline_tui.services.call import CallOutcome
    from hotline_tui.services.callers import CallerHistory, SimilarRow
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.drafts import SavedDraft
    from hotline_tui.services.suggest import DeadlineLine, UnitChoice, UnitSuggestion
    from hotline_tui.services.triage import TriageResult

NARROW = 120  # below this many columns the side panel goes under the form
DRAFT_DEBOUNCE = 0.5  # seconds after a change before the draft is written
DRAFT_EVERY = 3.0  # and at least this often while the form has unsaved changes
TYPING_PAUSE = 0.15  # seconds of no typing before the KB panel and the triage banner refresh
KB_LIMIT = 8
MAX_UNITS = 6


# ---------------------------------------------------------------- the fields: key, label, help


@dataclass(frozen=True)
class FieldSpec:
    id: str
    label: str
    key: str  # alt+<key> focuses it
    help: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "f-phone",
        "联系电话",
        "p",
        "诉求人的联系电话：11位手机号（13812345678）或带区号的固话（022-23456789），全角数字也可以。"
        "输入后右侧「来电历史」列出该号码以往的工单；与未办结或已办结工单诉求相同时，上方提示重复来电，"
        "ctrl+r 告知办理进度而不重复立单（天津办法第十三条第（五）项）。",
    ),
    FieldSpec("f-name", "姓名", "n", "诉求人姓名。鼓励实名，但不强制；匿名来电请勾选「匿名」（alt+y）。"),
    FieldSpec(
        "f-anonymous",
        "匿名",
        "y",
        "诉求人不愿留姓名时勾选（空格切换）。匿名工单不保存姓名和身份证号，回访时按匿名处理。",
    ),
    FieldSpec(
        "f-text",
        "诉求内容",
        "m",
        "诉求的具体事项：时间、地点、问题、诉求人的要求，可多行（回车换行，tab 到下一项）。"
        "边输入边在上方显示分类处理提示（紧急事项转接、法定途径等），右侧显示知识库条目和相似工单。",
    ),
    FieldSpec("f-address", "地址", "a", "事发地址或诉求人地址（街道、小区、门牌），用于派单和热点分析。"),
    FieldSpec(
        "f-district", "所属区", "d", "事发地所属区，如「和平区」。与地址一起决定派往哪个区的承办单位。"
    ),
    FieldSpec(
        "f-type",
        "诉求类型",
        "t",
        "咨询、求助、投诉、举报、建议等：直接按序号（1 咨询、3 投诉……），或回车展开后用方向键选择。类型决定办理时限；"
        "只有咨询类可以当场答复。",
    ),
    FieldSpec("f-urgency", "紧急程度", "u", "普通、急、紧急、特急：越紧急办理时限越短（见下方时限预览）。"),
    FieldSpec("f-channel", "渠道", "c", "诉求来自哪个渠道：12345电话、网站、微信等。渠道影响办理时限。"),
    FieldSpec(
        "f-confidential",
        "保密",
        "s",
        "诉求人要求对其身份或所述事项保密时勾选（天津办法第十四条「保密事项」）。"
        "保密工单的联系方式承办单位不可查看。",
    ),
    FieldSpec("f-no-reply", "无需回复", "r", "诉求人明确表示不需要答复时勾选（天津办法第十六条）。"),
    FieldSpec("f-id", "身份证号", "i", "仅在办理需要时记录（18位，末位可为X），录入时校验校验码。"),
    FieldSpec("f-labels", "标签", "l", "工单标签，多个用逗号或空格分开，如「重点关注, 群体诉求」。"),
    FieldSpec(
        "f-attach",
        "附件",
        "f",
        "诉求人提供的材料的说明或编号（如「微信照片3张」「邮件附件 合同.pdf」），多个用分号分开；"
        "这里只记录引用，不保存文件本身。",
    ),
)
FIELD_BY_ID = {f.id: f for f in FIELDS}
UNITS_HELP = (
    "承办单位：alt+g 到建议单位列表，数字键 1…5 或回车选用；ctrl+o 按名称或拼音首字母查找单位（如 sw → 水务）。"
    "第一个为主办，其余为协办；alt+x 切换为「拆分」：每个单位一张工单，各写各的诉求（天津办法第十五条）。"
    "在建议列表中按 0 清空已选单位。ctrl+s 保存时按所选单位派单，未选单位则保存为待派单。"
)

# Which field a refusal is about, by the field name the services put in their messages.
ERROR_FIELDS = (
    ("联系电话", "f-phone"),
    ("身份证", "f-id"),
    ("诉求内容", "f-text"),
    ("诉求类型", "f-type"),
    ("渠道", "f-channel"),
    ("紧急程度", "f-urgency"),
    ("姓名", "f-name"),
    ("地址", "f-address"),
    ("所属区", "f-district"),
    ("标签", "f-labels"),
    ("附件", "f-attach"),
)


# ---------------------------------------------------------------- plain data (no Textual below this line)


@dataclass
class FormData:
    """What the agent has typed; also the draft's shape (``as_draft`` / ``from_draft``)."""

    received_at: str = ""  # ISO, set when the first field is typed
    channel: str = "phone"
    phone: str = ""
    name: str = ""
    anonymous: bool = False
    text: str = ""
    address: str = ""
    district: str = ""
    type: str = ""
    urgency: str = "normal"
    confidential: bool = False
    no_reply: bool = False
    id_number: str = ""
    labels: str = ""
    attachments: str = ""
    units: list[str] = field(default_factory=list)
    unit_names: list[str] = field(default_factory=list)
    split: bool = False
    parts: list[str] = field(default_factory=list)

    def as_draft(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_draft(cls, data: dict[str, Any]) -> FormData:
        out = cls()
        for k, default in cls().__dict__.items():
            v = data.get(k, default)
            if isinstance(default, bool):
                out.__dict__[k] = bool(v)
            elif isinstance(default, list):
                out.__dict__[k] = [str(x) for x in v] if isinstance(v, list) else []
            else:
                out.__dict__[k] = str(v) if v is not None else default
        return out

    @property
    def typed(self) -> bool:
        """Anything the agent would lose by a discard."""
        return any(
            (self.phone, self.name, self.text, self.address, self.district, self.id_number, self.labels)
        ) or bool(self.attachments or self.units)

    def intake_form(self, *, type_default: str = "") -> Any:
        from hotline_tui.clock import parse_datetime
        from hotline_tui.services.intake import IntakeForm

        splitters = str.maketrans({c: "," for c in "，、;；\n"})
        labels = tuple(x.strip() for x in self.labels.translate(splitters).replace(" ", ",").split(","))
        attachments = tuple(x.strip() for x in self.attachments.replace("；", ";").split(";"))
        return IntakeForm(
            type=self.type or type_default,
            channel=self.channel,
            text=self.text,
            urgency=self.urgency or "normal",
            caller_name=self.name,
            caller_phone=self.phone,
            caller_address=self.address,
            caller_id_number=self.id_number,
            district=self.district,
            anonymous=self.anonymous,
            confidential=self.confidential,
            no_reply=self.no_reply,
            labels=tuple(x for x in labels if x),
            received_at=parse_datetime(self.received_at) if self.received_at else None,
            attachments=tuple(x for x in attachments if x),
        )


def kb_answer_note(ctx: Ctx) -> tuple[str, str]:
    """(label, cite) of the profile's return reason "the KB already answers it", if it has one."""
    reason = next((r for r in ctx.policy.return_reasons if r.code == "kb_answers"), None)
    if reason is None:
        return "", ""
    return reason.label, reason.cite


def short(text: str, width: int) -> str:
    from rich.cells import cell_len

    text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    out = ""
    for ch in text:
        if cell_len(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


# ---------------------------------------------------------------- the screen

_FROZEN = [False]


def freeze_startup_heap() -> None:
    """Move what start-up allocated (modules, the policy, the widget tree) out of the collector's way,
    once per process: a full collection then walks only what calls add, and stops every thread (the
    typing included) for less time — measured 138 → 57 ms p50 per full collection (benchmarks/intake_kb)."""
    if not _FROZEN[0]:
        _FROZEN[0] = True
        gc.freeze()


def alt(key: str, action: str, description: str, bid: str, tooltip: str) -> Binding:
    """An alt+<key> binding of the call screen. Priority: a focused Input would otherwise take alt+m as
    the letter m (Textual hands it the printable character)."""
    return Binding(
        f"alt+{key}", action, description, show=False, priority=True, id=f"intake.{bid}", tooltip=tooltip
    )


class Tick(Checkbox):
    """A compact checkbox that reads as ticked or not without colour (✓ / blank), for any terminal."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button


class QuickSelect(Select[str]):
    """A Select where, while closed, the digit of an option ("3 投诉") chooses it at once: alt+t 3 sets
    the type without opening the list. Enter still opens it."""

    async def _on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit() and not self.expanded:
            codes = [code for _, code in self._options if isinstance(code, str)]  # noqa: SLF001
            n = int(event.character)
            if 1 <= n <= len(codes):
                self.value = codes[n - 1]
                event.stop()
                event.prevent_default()


class SuggestList(OptionList):
    """The suggested handling units: a digit takes that suggestion, 0 clears the chosen units."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                str(n),
                f"screen.take_suggestion({n})",
                f"选建议{n}",
                show=False,
                id=f"intake.suggest.{n}",
                tooltip=f"选用第{n}个建议承办单位",
            )
            for n in range(1, 6)
        ),
        Binding(
            "0",
            "screen.clear_units",
            "清空单位",
            show=False,
            id="intake.units.clear",
            tooltip="清空已选承办单位",
        ),
    ]


class IntakeScreen(Screen[None]):
    """New call: the form on the left, knowledge base / caller history / similar tickets on the right."""

    BINDING_GROUP_TITLE = "来电受理"
    AUTO_FOCUS = "#f-phone"
    KEEP_Q = True  # the app's q (quit) is off here: ctrl+q quits, and the draft is saved on the way out
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s",
            "save",
            "保存",
            key_display="^s",
            priority=True,
            id="intake.save",
            tooltip="受理并保存；已选承办单位时同时派单",
        ),
        Binding(
            "f4",
            "answer",
            "当场答复",
            key_display="F4",
            id="intake.answer",
            tooltip="以选中的知识库条目当场答复",
        ),
        Binding(
            "f5",
            "refer",
            "转接/告知",
            key_display="F5",
            id="intake.refer",
            tooltip="按上方分类提示记录已转接或已告知途径",
        ),
        Binding(
            "ctrl+r",
            "tell_progress",
            "告知进度",
            key_display="^r",
            priority=True,
            id="intake.progress",
            tooltip="重复来电：告知原工单办理进度，不重复立单",
        ),
        Binding(
            "ctrl+o",
            "pick_unit",
            "选单位",
            key_display="^o",
            priority=True,
            id="intake.units",
            tooltip="按名称或拼音首字母查找承办单位",
        ),
        Binding(
            "escape",
            "discard",
            "放弃",
            id="intake.discard",
            tooltip="放弃本次记录（先确认）；表单为空时打开工单列表",
        ),
        Binding(
            "f1",
            "field_help",
            "帮助",
            key_display="F1",
            id="intake.help",
            tooltip="当前输入项的说明和本界面按键",
        ),
        Binding(
            "f9",
            "app.lookup",
            "查工单",
            key_display="F9",
            id="intake.lookup",
            tooltip="按工单号、电话或内容查询工单进度",
        ),
        *(
            alt(f.key, f"focus_field('{f.id}')", f.label, f"field.{f.id[2:]}", f"跳到「{f.label}」")
            for f in FIELDS
        ),
        alt("k", "focus_panel('kb')", "知识库", "panel.kb", "跳到知识库面板"),
        alt("h", "focus_panel('history')", "来电历史", "panel.history", "查看来电历史"),
        alt("j", "focus_panel('similar')", "相似工单", "panel.similar", "查看相似工单"),
        alt(
            "g",
            "focus_field('intake-suggest')",
            "建议单位",
            "suggest",
            "跳到建议的承办单位（数字键直接选用）",
        ),
        alt("x", "toggle_split", "拆分", "split", "每个单位一张工单（各写各的诉求）"),
    ]

    # ------------------------------------------------------------ messages from workers

    @dataclass
    class KBFound(Message, bubble=False):
        seq: int
        hits: list[SearchHit]

    @dataclass
    class Triaged(Message, bubble=False):
        seq: int
        result: TriageResult

    @dataclass
    class HistoryFound(Message, bubble=False):
        seq: int
        history: CallerHistory | None

    @dataclass
    class SimilarFound(Message, bubble=False):
        seq: int
        rows: list[SimilarRow]

    @dataclass
    class Suggested(Message, bubble=False):
        seq: int
        units: list[UnitSuggestion]

    @dataclass
    class Previewed(Message, bubble=False):
        seq: int
        lines: list[DeadlineLine]
        error: str = ""

    @dataclass
    class DraftFound(Message, bubble=False):
        draft: SavedDraft | None

    @dataclass
    class DraftSaved(Message, bubble=False):
        at: datetime

    @dataclass
    class Done(Message, bubble=False):
        outcome: CallOutcome

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.form = FormData()
        self.seq = 0  # bumped by every change; each worker result carries the seq it answers
        self.shown: dict[str, int] = {}  # panel -> seq of the result on screen
        self.cleared_at = 0  # seq when the form was last cleared
        self.kb_hits: list[SearchHit] = []
        self.triage_result: TriageResult | None = None
        self.history: CallerHistory | None = None
        self.suggestions: list[UnitSuggestion] = []
        self.deadlines: list[DeadlineLine] = []
        self.preview_error = ""
        self.dirty = False
        self.draft_at: datetime | None = None
        self.restoring = True  # until the draft question is answered, changes are not autosaved
        self.busy = False
        self._typing: Timer | None = None
        self._draft_timer: Timer | None = None
        self._debounce_draft: Timer | None = None
        p = ctx.policy
        self.type_options = [(f"{i} {label}", code) for i, (code, label) in enumerate(p.types.items(), 1)]
        self.channel_options = [
            (f"{i} {label}", code) for i, (code, label) in enumerate(p.channels.items(), 1)
        ]
        self.urgency_options = [
            (f"{i} {label}", code) for i, (code, label) in enumerate(p.urgencies.items(), 1)
        ]

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield Static(id="intake-banner", markup=False)
        with Horizontal(id="intake-body"):
            with VerticalScroll(id="intake-form"):
                yield Static(id="intake-received", markup=False)
                yield from self.row(
                    "f-phone", Input(id="f-phone", compact=True, placeholder="手机或区号-固话")
                )
                yield Static(id="f-phone-msg", markup=False)
                yield from self.row("f-name", Input(id="f-name", compact=True, placeholder="可不填"))
                yield from self.row("f-anonymous", Tick("匿名来电", id="f-anonymous", compact=True))
                yield Label("诉求内容 (alt+m)", classes="intake-label-top")
                yield TextArea(id="f-text", compact=True, soft_wrap=True, tab_behavior="focus")
                yield from self.row(
                    "f-address", Input(id="f-address", compact=True, placeholder="街道、小区、门牌")
                )
                yield from self.row(
                    "f-district", Input(id="f-district", compact=True, placeholder="如 和平区")
                )
                yield from self.row(
                    "f-type",
                    QuickSelect(
                        self.type_options,
                        id="f-type",
                        compact=True,
                        prompt="请选择（按序号）",
                        type_to_search=True,
                    ),
                )
                yield from self.row(
                    "f-urgency",
                    QuickSelect(
                        self.urgency_options, id="f-urgency", compact=True, value="normal", allow_blank=False
                    ),
                )
                yield from self.row(
                    "f-channel",
                    QuickSelect(
                        self.channel_options, id="f-channel", compact=True, value="phone", allow_blank=False
                    ),
                )
                yield from self.row("f-confidential", Tick("要求保密", id="f-confidential", compact=True))
                yield from self.row("f-no-reply", Tick("不需要答复", id="f-no-reply", compact=True))
                yield from self.row("f-id", Input(id="f-id", compact=True, placeholder="办理需要时填写"))
                yield from self.row("f-labels", Input(id="f-labels", compact=True, placeholder="逗号分隔"))
                yield from self.row(
                    "f-attach", Input(id="f-attach", compact=True, placeholder="材料说明，分号分隔")
                )
                yield Label("承办单位 (alt+g 建议 · ^o 查找 · alt+x 拆分)", classes="intake-label-top")
                yield SuggestList(id="intake-suggest", compact=True)
                yield Static(id="intake-units", markup=False)
                yield Vertical(id="intake-parts")
                yield Static(id="intake-deadline", markup=False)
            with TabbedContent(id="intake-assist", initial="tab-kb"):
                with TabPane("知识库", id="tab-kb"):
                    yield OptionList(id="kb-hits", compact=True)
                    yield Static(id="kb-snippet", markup=False)
                with TabPane("来电历史", id="tab-history"):
                    with VerticalScroll(id="history-scroll"):
                        yield Static("输入联系电话后显示该号码的历史工单", id="history", markup=False)
                with TabPane("相似工单", id="tab-similar"):
                    with VerticalScroll(id="similar-scroll"):
                        yield Static("输入诉求内容后显示近期他人反映的相同问题", id="similar", markup=False)
        yield Static(id="intake-status", markup=False)
        yield StableFooter()

    def row(self, fid: str, widget: Widget) -> ComposeResult:
        spec = FIELD_BY_ID[fid]
        widget.tooltip = spec.help
        with Horizontal(classes="intake-row"):
            yield Label(f"{spec.label}", classes="intake-label")
            yield widget

    def on_mount(self) -> None:
        self.set_narrow(self.app.size.width < NARROW)
        self.query_one("#f-phone-msg", Static).display = False
        self.query_one("#f-text", TextArea).tooltip = FIELD_BY_ID["f-text"].help
        self.show_received()
        self.show_units()
        self.show_banner()
        self.show_snippet()
        self.set_status("正在检查未完成的草稿……")
        self._draft_timer = self.set_interval(DRAFT_EVERY, self.autosave)
        self.load_draft()
        self.call_after_refresh(freeze_startup_heap)

    def on_resize(self, event: events.Resize) -> None:
        self.set_narrow(event.size.width < NARROW)

    def set_narrow(self, narrow: bool) -> None:
        self.set_class(narrow, "narrow")

    # ------------------------------------------------------------ drafts

    @work(thread=True, exclusive=True, group="intake-draft-load", exit_on_error=False, description="读取草稿")
    def load_draft(self) -> None:
        from hotline_tui.services.drafts import load_draft

        self.post_message(self.DraftFound(load_draft(self.ctx)))

    @on(DraftFound)
    def offer_draft(self, message: DraftFound) -> None:
        draft = message.draft
        if draft is None or draft.empty:
            self.restoring = False
            self.set_status("")
            return
        data = FormData.from_draft(draft.data)
        if not data.typed:
            self.restoring = False
            self.set_status("")
            return
        from hotline_tui.screens.admin import ConfirmScreen

        saved = draft.updated_at.strftime("%m-%d %H:%M:%S")
        lines = [f"上次未完成的来电记录（{saved} 自动保存）："]
        if data.phone:
            lines.append(f"联系电话：{data.phone}")
        if data.text:
            lines.append(f"诉求内容：{short(data.text, 60)}")
        if data.units:
            lines.append(f"承办单位：{'、'.join(data.unit_names or data.units)}")
        lines.append("")
        lines.append("y/回车 恢复继续录入 · n/esc 丢弃")

        def answered(restore: bool | None) -> None:
            if restore:
                self.apply(data)
                self.set_status(f"已恢复 {saved} 的草稿")
                self.dirty = False
            else:
                self.discard_draft_worker()
                self.set_status("草稿已丢弃")
            self.restoring = False
            self.refresh_all()

        self.app.push_screen(ConfirmScreen("恢复草稿", "\n".join(lines)), answered)

    def snapshot(self) -> FormData:
        """The form as it is on screen now."""
        f = FormData(
            received_at=self.form.received_at,
            units=list(self.form.units),
            unit_names=list(self.form.unit_names),
            split=self.form.split,
        )
        f.phone = self.query_one("#f-phone", Input).value
        f.name = self.query_one("#f-name", Input).value
        f.anonymous = self.query_one("#f-anonymous", Checkbox).value
        f.text = self.query_one("#f-text", TextArea).text
        f.address = self.query_one("#f-address", Input).value
        f.district = self.query_one("#f-district", Input).value
        f.type = self.select_value("#f-type")
        f.urgency = self.select_value("#f-urgency") or "normal"
        f.channel = self.select_value("#f-channel") or "phone"
        f.confidential = self.query_one("#f-confidential", Checkbox).value
        f.no_reply = self.query_one("#f-no-reply", Checkbox).value
        f.id_number = self.query_one("#f-id", Input).value
        f.labels = self.query_one("#f-labels", Input).value
        f.attachments = self.query_one("#f-attach", Input).value
        f.parts = [w.value for w in self.query("#intake-parts Input").results(Input)]
        return f

    def select_value(self, selector: str) -> str:
        value = self.query_one(selector, Select).value
        return value if isinstance(value, str) else ""

    def apply(self, data: FormData) -> None:
        """Put ``data`` on screen (a restored draft, or an empty form)."""
        self.form = FormData(
            received_at=data.received_at,
            units=list(data.units),
            unit_names=list(data.unit_names),
            split=data.split,
        )
        with self.prevent(Input.Changed, TextArea.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#f-phone", Input).value = data.phone
            self.query_one("#f-name", Input).value = data.name
            self.query_one("#f-anonymous", Checkbox).value = data.anonymous
            self.query_one("#f-text", TextArea).text = data.text
            self.query_one("#f-address", Input).value = data.address
            self.query_one("#f-district", Input).value = data.district
            self.set_select("#f-type", data.type)
            self.set_select("#f-urgency", data.urgency or "normal")
            self.set_select("#f-channel", data.channel or "phone")
            self.query_one("#f-confidential", Checkbox).value = data.confidential
            self.query_one("#f-no-reply", Checkbox).value = data.no_reply
            self.query_one("#f-id", Input).value = data.id_number
            self.query_one("#f-labels", Input).value = data.labels
            self.query_one("#f-attach", Input).value = data.attachments
        self.show_received()
        self.show_units(parts=data.parts)

    def set_select(self, selector: str, value: str) -> None:
        select: Select[str] = self.query_one(selector, Select)
        codes = {code for _, code in select._options if isinstance(code, str)}  # noqa: SLF001
        if value in codes:
            select.value = value
        else:
            select.clear()

    def autosave(self) -> None:
        if self.dirty and not self.restoring and not self.busy:
            self.dirty = False
            self.save_draft_worker(self.snapshot().as_draft())

    @work(thread=True, exclusive=True, group="intake-draft", exit_on_error=False, description="保存草稿")
    def save_draft_worker(self, data: dict[str, Any]) -> None:
        from hotline_tui.services.drafts import save_draft

        self.post_message(self.DraftSaved(save_draft(self.ctx, data)))

    @work(thread=True, group="intake-draft", exit_on_error=False, description="删除草稿")
    def discard_draft_worker(self) -> None:
        from hotline_tui.services.drafts import discard_draft

        discard_draft(self.ctx)

    @on(DraftSaved)
    def draft_saved(self, message: DraftSaved) -> None:
        self.draft_at = message.at
        self.show_received()

    # ------------------------------------------------------------ reacting to typing

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def changed(self, event: Message) -> None:
        if self.restoring:
            return
        if not self.form.received_at:
            self.form.received_at = self.ctx.now().replace(microsecond=0).isoformat()
            self.show_received()
        self.dirty = True
        if self._debounce_draft is not None:
            self._debounce_draft.stop()
        self._debounce_draft = self.set_timer(DRAFT_DEBOUNCE, self.autosave)
        widget_id = getattr(getattr(event, "control", None), "id", "") or ""
        if widget_id == "f-phone":
            self.check_phone()
        if widget_id in ("f-type", "f-urgency", "f-channel"):
            self.refresh_preview()
            self.show_banner()
            return
        if widget_id in ("f-text", "f-address", "f-district", "f-phone"):
            if self._typing is not None:
                self._typing.stop()
            self._typing = self.set_timer(TYPING_PAUSE, self.refresh_all)

    def check_phone(self) -> None:
        """An inline note under the phone field as it is typed; the service gives the refusal on save."""
        from hotline_tui.privacy import normalize_phone, valid_phone
        from hotline_tui.services.intake import ascii_digits

        raw = self.query_one("#f-phone", Input).value.strip()
        msg = self.query_one("#f-phone-msg", Static)
        msg.display = bool(raw)
        if not raw:
            msg.update("")
            return
        phone = normalize_phone(ascii_digits(raw))
        digits = sum(c.isdigit() for c in phone)
        if valid_phone(phone):
            msg.update("")
            msg.display = False
        elif digits < 11:
            msg.update(Text(f"已输入{digits}位", style="dim"))
        else:
            msg.update(
                Text(
                    "号码格式不对：手机号11位（1开头），固话带区号如 022-23456789", style="bold " + self.warn
                )
            )

    @property
    def warn(self) -> str:
        return self.app.current_theme.warning or "yellow"

    def refresh_all(self) -> None:
        """After a pause in typing: everything that depends on the text, the phone or the place."""
        self.seq += 1
        f = self.snapshot()
        self.search_kb(self.seq, f.text)
        self.run_triage(self.seq, f.text)
        if f.phone.strip() or self.history is not None:
            self.look_up_caller(self.seq, f.phone, f.text)
        self.find_similar(self.seq, f.text, f.district, f.address, f.phone)
        self.suggest(self.seq, f.text, f.address, f.district)
        self.refresh_preview()

    # ------------------------------------------------------------ workers (threads; results posted back)

    @work(thread=True, exclusive=True, group="intake-kb", exit_on_error=False, description="检索知识库")
    def search_kb(self, seq: int, text: str) -> None:
        from hotline_tui.search import search

        hits: list[SearchHit] = []
        if len(text.strip()) >= 2:
            with self.ctx.read() as s:
                hits = search(s, text[:200], limit=KB_LIMIT, today=self.ctx.now().date())
        self.post_message(self.KBFound(seq, hits))

    @work(thread=True, exclusive=True, group="intake-triage", exit_on_error=False, description="分类提示")
    def run_triage(self, seq: int, text: str) -> None:
        from hotline_tui.services.triage import triage

        self.post_message(self.Triaged(seq, triage(text, self.ctx.policy)))

    @work(
        thread=True, exclusive=True, group="intake-history", exit_on_error=False, description="查询来电历史"
    )
    def look_up_caller(self, seq: int, phone: str, text: str) -> None:
        from hotline_tui.services.callers import caller_history

        history = caller_history(self.ctx, phone, text) if phone.strip() else None
        self.post_message(self.HistoryFound(seq, history))

    @work(
        thread=True, exclusive=True, group="intake-similar", exit_on_error=False, description="查询相似工单"
    )
    def find_similar(self, seq: int, text: str, district: str, address: str, phone: str) -> None:
        from hotline_tui.services.callers import similar_open

        rows = (
            similar_open(self.ctx, text, district=district, address=address, exclude_phone=phone)
            if len(text.strip()) >= 4
            else []
        )
        self.post_message(self.SimilarFound(seq, rows))

    @work(
        thread=True, exclusive=True, group="intake-suggest", exit_on_error=False, description="建议承办单位"
    )
    def suggest(self, seq: int, text: str, address: str, district: str) -> None:
        from hotline_tui.services.suggest import suggest_units

        units = (
            suggest_units(self.ctx, text, address=address, district=district)
            if len(text.strip()) >= 2
            else []
        )
        self.post_message(self.Suggested(seq, units))

    def refresh_preview(self) -> None:
        f = self.snapshot()
        if not f.units and not self.deadlines and not self.preview_error:
            return  # nothing chosen, nothing shown: no worker
        self.seq += 1
        self.preview(self.seq, f.type, f.channel, f.urgency, list(f.units))

    @work(thread=True, exclusive=True, group="intake-preview", exit_on_error=False, description="计算时限")
    def preview(self, seq: int, type_: str, channel: str, urgency: str, units: list[str]) -> None:
        from hotline_tui.errors import HotlineError
        from hotline_tui.services.suggest import preview_new

        if not units:
            self.post_message(self.Previewed(seq, []))
            return
        if not type_:
            self.post_message(self.Previewed(seq, [], "选择诉求类型后显示办理时限"))
            return
        try:
            lines = preview_new(self.ctx, type_=type_, channel=channel, urgency=urgency, unit_codes=units)
        except HotlineError as exc:
            self.post_message(self.Previewed(seq, [], exc.message))
            return
        self.post_message(self.Previewed(seq, lines))

    # ------------------------------------------------------------ showing results

    def outdated(self, panel: str, seq: int) -> bool:
        """A result is dropped when the panel already shows a newer one, or when it answers input from
        before the form was last cleared. A result for input that has changed since, but newer than
        what is shown, is kept until its successor lands: it is closer than what is there."""
        if seq < self.cleared_at or seq < self.shown.get(panel, -1):
            return True
        self.shown[panel] = seq
        return False

    @on(KBFound)
    def show_kb(self, message: KBFound) -> None:
        if self.outdated("kb", message.seq):
            return
        self.kb_hits = message.hits
        hits = self.query_one("#kb-hits", OptionList)
        highlighted = hits.highlighted
        hits.clear_options()
        width = max(10, hits.size.width - 2)
        for i, h in enumerate(message.hits):
            tag = {"upcoming": "〔即将生效〕", "expired": "〔已失效〕"}.get(h.validity, "")
            hits.add_option(Option(Text(short(f"{i + 1}. {tag}{h.title}", width)), id=h.id))
        if message.hits:
            hits.highlighted = (
                highlighted if highlighted is not None and highlighted < len(message.hits) else 0
            )
        self.show_snippet()
        self.show_banner()
        self.set_tab_label("tab-kb", f"知识库 {len(message.hits)}" if message.hits else "知识库")

    @on(OptionList.OptionHighlighted, "#kb-hits")
    def show_snippet(self) -> None:
        hit = self.current_hit()
        snippet = self.query_one("#kb-snippet", Static)
        if hit is None:
            snippet.update(Text("输入诉求内容后，这里显示可用于答复的知识库条目", style="dim"))
            return
        body = Text()
        body.append(hit.title, style="bold")
        body.append(f"  {hit.id}", style="dim")
        if hit.validity == "upcoming" and hit.valid_from:
            body.append(f"  {hit.valid_from} 起生效", style=self.warn)
        body.append("\n")
        chunks = hit.snippet.split("【")
        body.append(chunks[0])
        for chunk in chunks[1:]:
            marked, _, rest = chunk.partition("】")
            body.append(marked, style="bold reverse")
            body.append(rest)
        body.append("\n回车 查看全文 · F4 以此条当场答复", style="dim")
        snippet.update(body)

    def current_hit(self) -> SearchHit | None:
        hits = self.query_one("#kb-hits", OptionList)
        i = hits.highlighted
        if i is None or i >= len(self.kb_hits):
            return None
        return self.kb_hits[i]

    @on(OptionList.OptionSelected, "#kb-hits")
    def open_entry(self, event: OptionList.OptionSelected) -> None:
        from hotline_tui.screens.kb import KBEntryScreen

        if event.option.id:
            self.app.push_screen(KBEntryScreen(self.ctx, event.option.id))

    @on(Triaged)
    def show_triage(self, message: Triaged) -> None:
        if self.outdated("triage", message.seq):
            return
        self.triage_result = message.result
        self.show_banner()

    @on(HistoryFound)
    def show_history(self, message: HistoryFound) -> None:
        if self.outdated("history", message.seq):
            return
        self.history = h = message.history
        view = self.query_one("#history", Static)
        if h is None or not h.phone:
            view.update("输入联系电话后显示该号码的历史工单")
            self.set_tab_label("tab-history", "来电历史")
        elif not h.rows:
            view.update(f"{h.phone}：没有历史工单（首次来电）")
            self.set_tab_label("tab-history", "来电历史 0")
        else:
            entries: list[Text] = []
            for r in h.rows:
                repeat = h.repeat is not None and r.no == h.repeat.no
                entry = Text()
                entry.append(r.no, style="bold reverse" if repeat else "bold")
                entry.append(f"  {r.status_label}  {r.created_at.strftime('%m-%d %H:%M')}  {r.type_label}")
                entry.append(f"\n  {r.text}")
                if r.result:
                    entry.append(f"\n  → {r.result}", style="dim")
                entries.append(entry)
            head = Text(f"{h.phone} 共 {h.total} 件工单", style="bold")
            parts: list[Any] = [head]
            if h.abuse is not None:
                parts.append(Text(h.abuse.message, style="bold " + self.warn))
            parts.extend(entries)
            view.update(Group(*parts))
            self.set_tab_label("tab-history", f"来电历史 {h.total}")
        self.show_banner()

    @on(SimilarFound)
    def show_similar(self, message: SimilarFound) -> None:
        if self.outdated("similar", message.seq):
            return
        view = self.query_one("#similar", Static)
        if not message.rows:
            view.update(
                "近期没有他人反映的相同问题"
                if self.snapshot().text.strip()
                else "输入诉求内容后显示近期他人反映的相同问题"
            )
            self.set_tab_label("tab-similar", "相似工单")
            return
        entries = []
        for r in message.rows:
            entry = Text()
            entry.append(r.no, style="bold")
            entry.append(f"  {r.status_label}  {r.created_at.strftime('%m-%d %H:%M')}  {r.district}")
            entry.append(f"\n  {r.text}")
            if r.units:
                entry.append(f"\n  → {'、'.join(r.units)}", style="dim")
            entries.append(entry)
        note = Text(
            f"近期他人反映的相同问题 {len(message.rows)} 件（可能是热点，天津办法第二十二条）", style="bold"
        )
        view.update(Group(note, *entries))
        self.set_tab_label("tab-similar", f"相似工单 {len(message.rows)}")

    @on(Suggested)
    def show_suggestions(self, message: Suggested) -> None:
        if self.outdated("suggest", message.seq):
            return
        self.suggestions = message.units[:5]
        self.show_units()

    @on(Previewed)
    def show_preview(self, message: Previewed) -> None:
        if self.outdated("preview", message.seq):
            return
        self.deadlines = message.lines
        self.preview_error = message.error
        self.show_deadlines()

    def show_received(self) -> None:
        w = self.query_one("#intake-received", Static)
        text = Text()
        if self.form.received_at:
            text.append("来电时间 ", style="dim")
            text.append(self.form.received_at.replace("T", " ")[:19])
        else:
            text.append("来电时间：开始输入时自动记录（精确到秒）", style="dim")
        if self.draft_at is not None:
            text.append(f"  草稿已存 {self.draft_at.strftime('%H:%M:%S')}", style="dim")
        w.update(text)

    def show_units(self, parts: list[str] | None = None) -> None:
        sugg = self.query_one("#intake-suggest", SuggestList)
        keep = sugg.highlighted
        sugg.clear_options()
        if self.suggestions:
            for i, u in enumerate(self.suggestions, 1):
                chosen = u.code in self.form.units
                text = Text()
                text.append(f"{i} ", style="bold")
                text.append(u.name, style="dim" if chosen else "bold")
                if chosen:
                    text.append(" 已选", style="dim")
                if u.reasons:
                    text.append(f"  {'；'.join(u.reasons[:2])}", style="dim")
                sugg.add_option(Option(text, id=u.code))
            sugg.highlighted = keep if keep is not None and keep < len(self.suggestions) else 0
        else:
            sugg.add_option(Option(Text("输入诉求内容后显示建议的承办单位", style="dim"), disabled=True))
        units = self.query_one("#intake-units", Static)
        if not self.form.units:
            units.update(Text("已选：无（保存为待派单）", style="dim"))
        else:
            names = self.form.unit_names or self.form.units
            if self.form.split:
                units.update(Text(f"拆分为 {len(names)} 张工单：" + "、".join(names), style="bold"))
            elif len(names) == 1:
                units.update(Text(f"派往：{names[0]}", style="bold"))
            else:
                units.update(Text(f"主办：{names[0]}；协办：{'、'.join(names[1:])}", style="bold"))
        self.show_parts(parts)
        self.show_deadlines()

    def show_parts(self, parts: list[str] | None = None) -> None:
        box = self.query_one("#intake-parts", Vertical)
        old = [w.value for w in box.query(Input).results(Input)]
        values = parts if parts is not None else old
        box.remove_children()
        if not (self.form.split and len(self.form.units) >= 2):
            box.display = False
            return
        box.display = True
        names = self.form.unit_names or self.form.units
        for i, name in enumerate(names):
            value = values[i] if i < len(values) else ""
            box.mount(Label(f"交给 {name} 的诉求：", classes="intake-part-label"))
            box.mount(Input(value, id=f"part-{i}", compact=True, placeholder="这一单位负责的那一项诉求"))

    def show_deadlines(self) -> None:
        w = self.query_one("#intake-deadline", Static)
        if not self.form.units:
            w.update("")
            return
        if self.preview_error:
            w.update(Text(self.preview_error, style="dim"))
            return
        text = Text()
        for i, d in enumerate(self.deadlines):
            if len(self.deadlines) > 1:
                text.append(f"{d.unit_name}：", style="bold")
            if d.accept:
                text.append(d.accept + "；")
            text.append(d.handling)
            for warning in d.warnings:
                text.append(f"\n注意：{warning}", style=self.warn)
            if i < len(self.deadlines) - 1:
                text.append("\n")
        w.update(text)

    def banner_lines(self) -> list[Text]:
        """The findings the agent must not miss, most urgent first."""
        lines: list[Text] = []
        t = self.triage_result
        error = self.app.current_theme.error or "red"
        if t is not None and t.cls != "accept":
            line = Text()
            if t.cls == "emergency":
                line.append(f" 紧急：转接 {t.route} ", style=f"bold reverse {error}")
                line.append(f" {t.reason}")
                line.append(f"  F5 记录已转接{t.route}", style="bold")
            else:
                line.append(f" {t.label} ", style=f"bold reverse {self.warn}")
                line.append(f" {t.reason}")
                line.append("  F5 记录已告知", style="bold")
            lines.append(line)
        h = self.history
        if h is not None and h.repeat is not None:
            line = Text()
            line.append(" 重复来电 ", style=f"bold reverse {self.warn}")
            line.append(f" {h.repeat.message}")
            line.append("  ^r 告知进度", style="bold")
            lines.append(line)
        if h is not None and h.abuse is not None:
            line = Text()
            line.append(" 频繁来电 ", style=f"bold reverse {self.warn}")
            line.append(f" {h.abuse.message}")
            lines.append(line)
        f_type = self.select_value("#f-type") if self.is_mounted else ""
        current = [x for x in self.kb_hits if x.validity == "current"]
        if f_type == "consult" and current:
            label, cite = kb_answer_note(self.ctx)
            line = Text()
            line.append(" 可当场答复 ", style="bold reverse")
            line.append(f" 知识库「{current[0].title}」可答复此咨询：F4 当场答复")
            if label and self.form.units:
                line.append(f"；派单可能以「{label}」被退回（{cite}）", style=self.warn)
            lines.append(line)
        return lines

    def show_banner(self) -> None:
        banner = self.query_one("#intake-banner", Static)
        lines = self.banner_lines()
        banner.display = bool(lines)
        if lines:
            banner.update(Text("\n").join(lines))

    def set_tab_label(self, pane: str, label: str) -> None:
        """Only a changed label is set: each set lays the whole screen out again."""
        tab = self.query_one("#intake-assist", TabbedContent).get_tab(pane)
        if str(tab.label) != label:
            tab.label = label

    def set_status(self, text: str) -> None:
        self.query_one("#intake-status", Static).update(Text(text, style="dim"))

    # ------------------------------------------------------------ units

    def add_unit(self, code: str, name: str) -> None:
        if code in self.form.units:
            self.notify(f"{name} 已在所选单位中", timeout=2)
            return
        if len(self.form.units) >= MAX_UNITS:
            self.notify(f"最多选 {MAX_UNITS} 个承办单位", severity="warning")
            return
        self.form.units.append(code)
        self.form.unit_names.append(name)
        self.after_units_changed()

    def after_units_changed(self) -> None:
        self.dirty = True
        self.show_units()
        self.refresh_preview()
        self.show_banner()
        self.call_after_refresh(self.query_one("#intake-deadline").scroll_visible, animate=False)

    def action_take_suggestion(self, n: int) -> None:
        if n > len(self.suggestions):
            self.notify(f"没有第{n}个建议单位", severity="warning", timeout=2)
            return
        u = self.suggestions[n - 1]
        self.add_unit(u.code, u.name)

    @on(OptionList.OptionSelected, "#intake-suggest")
    def suggestion_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_take_suggestion(event.option_index + 1)

    def action_clear_units(self) -> None:
        self.form.units.clear()
        self.form.unit_names.clear()
        self.form.split = False
        self.after_units_changed()

    def action_toggle_split(self) -> None:
        self.form.split = not self.form.split
        if self.form.split and len(self.form.units) < 2:
            self.notify("拆分需要至少两个承办单位：先选单位（alt+g 建议列表或 ^o 查找）", timeout=4)
        self.after_units_changed()
        parts = self.query("#intake-parts Input")
        if parts:
            parts.first().focus()

    def action_pick_unit(self) -> None:
        def picked(choice: UnitChoice | None) -> None:
            if choice is not None:
                self.add_unit(choice.code, choice.name)

        self.app.push_screen(UnitPickerScreen(self.ctx), picked)

    # ------------------------------------------------------------ focus and help

    def action_focus_field(self, fid: str) -> None:
        self.query_one(f"#{fid}").focus()

    def action_focus_panel(self, which: str) -> None:
        tabs = self.query_one("#intake-assist", TabbedContent)
        tabs.active = f"tab-{which}"
        if which == "kb":
            self.query_one("#kb-hits").focus()
        else:
            self.query_one(f"#{which}-scroll").focus()

    def action_field_help(self) -> None:
        from hotline_tui.screens.home import HelpScreen

        focused = self.focused
        fid = focused.id if focused is not None else None
        spec = FIELD_BY_ID.get(fid or "")
        keys: list[tuple[str, str, str]] = []
        if spec is not None:
            keys.append((f"alt+{spec.key}", f"当前：{spec.label}", spec.help))
        elif fid and fid.startswith("part-"):
            keys.append(("alt+x", "当前：拆分诉求", UNITS_HELP))
        elif fid == "kb-hits":
            keys.append(("回车", "当前：知识库条目", "回车查看全文；F4 以高亮的条目当场答复（仅咨询类）。"))
        keys.append(("^o", "承办单位", UNITS_HELP))
        keys.extend((f"alt+{f.key}", f.label, f.help) for f in FIELDS if f is not spec)
        keys.extend(self.app.key_help())  # type: ignore[attr-defined]
        self.app.push_screen(HelpScreen("来电受理", keys))

    # ------------------------------------------------------------ outcomes

    def action_save(self) -> None:
        if self.busy:
            return
        f = self.snapshot()
        units = list(f.units)
        split: list[tuple[str, str]] | None = None
        if f.split and len(units) >= 2:
            split = list(zip(units, (f.parts + [""] * len(units))[: len(units)], strict=True))
            units = []
        elif f.split:
            self.notify("拆分需要至少两个承办单位；按 alt+x 取消拆分或再选单位", severity="warning")
            return
        self.run_outcome("record", f, units=units, split=split)

    def action_answer(self) -> None:
        hit = self.current_hit()
        if hit is None:
            self.notify("知识库面板没有可用的条目：先输入诉求内容，再用 alt+k 选择条目", severity="warning")
            return
        if hit.validity != "current":
            self.notify(f"「{hit.title}」不是现行条目，不能作为答复依据", severity="warning")
            return
        self.run_outcome("answer", self.snapshot(), kb=hit.id)

    def action_refer(self) -> None:
        t = self.triage_result
        if t is None or t.cls == "accept":
            self.notify("诉求内容没有需要转接或告知其他途径的情形（见上方提示）", severity="warning")
            return
        self.run_outcome("refer", self.snapshot(), cls=t.cls, route=t.route if t.cls == "emergency" else "")

    def action_tell_progress(self) -> None:
        h = self.history
        if h is None or h.repeat is None:
            self.notify("没有与之相同的在办或已办结工单（输入联系电话和诉求内容后判断）", severity="warning")
            return
        from hotline_tui.screens.admin import ConfirmScreen

        repeat = h.repeat
        body = f"请告知诉求人：\n\n{repeat.tell}\n\n{repeat.message}\n\ny/回车 已告知（记入原工单，不新建工单） · n/esc 返回"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_outcome("progress", self.snapshot(), no=repeat.no, tell=repeat.tell)

        self.app.push_screen(ConfirmScreen(f"重复来电：{repeat.no}", body), answered)

    def run_outcome(self, kind: str, f: FormData, **kw: Any) -> None:
        self.busy = True
        self.set_status("正在保存……")
        self.outcome_worker(kind, f, kw)

    @work(thread=True, exclusive=True, group="intake-save", exit_on_error=False, description="保存受理")
    def outcome_worker(self, kind: str, f: FormData, kw: dict[str, Any]) -> None:
        from hotline_tui.services.call import CallOutcome, answer_call, record_call, refer_call

        if kind == "record":
            outcome = record_call(self.ctx, f.intake_form(), units=kw["units"], split=kw["split"])
        elif kind == "answer":
            outcome = answer_call(self.ctx, f.intake_form(type_default="consult"), kw["kb"])
        elif kind == "refer":
            default = "help" if kw["cls"] == "emergency" else "consult"
            outcome = refer_call(self.ctx, f.intake_form(type_default=default), kw["cls"], kw["route"])
        else:
            from hotline_tui.services.callers import record_repeat_call

            record_repeat_call(self.ctx, kw["no"], channel=f.channel)  # no note: the demand may name people
            outcome = CallOutcome((kw["no"],), "", f"已在 {kw['no']} 记录本次来电并告知进度，未重复立单")
        from hotline_tui.services.drafts import discard_draft

        discard_draft(self.ctx)
        self.post_message(self.Done(outcome))

    @on(Done)
    def done(self, message: Done) -> None:
        self.busy = False
        self.notify(message.outcome.message, title="已保存", timeout=8)
        self.set_status(message.outcome.message)
        self.reset()

    def reset(self) -> None:
        """An empty form for the next call."""
        self.apply(FormData())
        self.dirty = False
        self.draft_at = None
        self.kb_hits = []
        self.history = None
        self.triage_result = None
        self.suggestions = []
        self.deadlines = []
        self.preview_error = ""
        self.seq += 1
        self.cleared_at = self.seq
        self.query_one("#kb-hits", OptionList).clear_options()
        self.show_snippet()
        self.query_one("#history", Static).update("输入联系电话后显示该号码的历史工单")
        self.query_one("#similar", Static).update("输入诉求内容后显示近期他人反映的相同问题")
        self.query_one("#f-phone-msg", Static).update("")
        self.query_one("#f-phone-msg", Static).display = False
        for pane, label in (("tab-kb", "知识库"), ("tab-history", "来电历史"), ("tab-similar", "相似工单")):
            self.set_tab_label(pane, label)
        self.show_received()
        self.show_units()
        self.show_banner()
        self.query_one("#f-phone").focus()

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "intake-save":
            self.busy = False
            message = failure_text(event.worker.error)
            self.set_status("未保存：" + message)
            field_id = next((fid for word, fid in ERROR_FIELDS if word in message), None)
            if field_id is not None:
                self.query_one(f"#{field_id}").focus()
        notify_failure(self, event.worker.error)

    def action_discard(self) -> None:
        f = self.snapshot()
        if not f.typed:
            self.app.action_ticket_list()  # type: ignore[attr-defined]
            return
        from hotline_tui.screens.admin import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.discard_draft_worker()
                self.reset()
                self.set_status("已放弃本次记录")

        self.app.push_screen(
            ConfirmScreen(
                "放弃本次记录？", "表单中已输入的内容将被清空，草稿一并删除。\n\ny/回车 放弃 · n/esc 继续录入"
            ),
            answered,
        )

    def on_unmount(self) -> None:
        if self.dirty and not self.restoring:
            from hotline_tui.services.drafts import save_draft

            try:
                save_draft(self.ctx, self.snapshot().as_draft())
            except Exception:  # noqa: BLE001 - leaving the screen must not fail; the last autosave stands
                pass


# ---------------------------------------------------------------- unit picker


class UnitPickerScreen(ModalScreen["UnitChoice | None"]):
    """Find a handling unit by Chinese name, code, keyword or pinyin initials (sw → 市水务局)."""

    BINDING_GROUP_TITLE = "选择承办单位"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "取消", id="units.cancel", tooltip="不选，回到受理表单"),
        Binding("down", "move(1)", "下一个", show=False, id="units.down", tooltip="下一个单位"),
        Binding("up", "move(-1)", "上一个", show=False, id="units.up", tooltip="上一个单位"),
    ]

    @dataclass
    class Found(Message, bubble=False):
        query: str
        choices: list[UnitChoice]

    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.choices: list[UnitChoice] = []
        self.shown_query: str | None = None  # the query whose units are listed
        self.submit_when_found = False
        self.query_input = Input(placeholder="单位名称、拼音首字母或编码，如 sw、水务", id="units-query")
        self.options = OptionList(id="units-list", compact=True)

    def compose(self) -> ComposeResult:
        with Vertical(id="units-box") as box:
            box.border_title = "选择承办单位"
            box.border_subtitle = "输入筛选 · ↑↓ 选择 · 回车 确定 · esc 取消"
            yield self.query_input
            yield self.options
        yield Footer()

    def on_mount(self) -> None:
        self.query_input.focus()
        self.find("")

    @on(Input.Changed, "#units-query")
    def typed(self, event: Input.Changed) -> None:
        self.find(event.value)

    @work(thread=True, exclusive=True, group="units-find", exit_on_error=False, description="查找单位")
    def find(self, query: str) -> None:
        from hotline_tui.services.suggest import find_units

        self.post_message(self.Found(query, find_units(self.ctx, query)))

    @on(Found)
    def show(self, message: Found) -> None:
        if message.query != self.query_input.value:
            return  # stale
        self.choices = message.choices
        self.shown_query = message.query
        self.options.clear_options()
        for c in message.choices:
            label = Text(c.name, style="bold")
            label.append(f"  {c.kind_label}", style="dim")
            if c.parent_name:
                label.append(f" · {c.parent_name}", style="dim")
            label.append(f"  {c.code}", style="dim")
            self.options.add_option(Option(label, id=c.code))
        if message.choices:
            self.options.highlighted = 0
        else:
            self.options.add_option(Option(Text("没有匹配的单位", style="dim"), disabled=True))
        if self.submit_when_found:
            self.submit_when_found = False
            self.submit()

    def action_move(self, step: int) -> None:
        if not self.choices:
            return
        current = self.options.highlighted or 0
        self.options.highlighted = max(0, min(len(self.choices) - 1, current + step))

    @on(Input.Submitted, "#units-query")
    def submit(self) -> None:
        if self.shown_query != self.query_input.value:
            self.submit_when_found = True  # enter came before the results of what was typed
            return
        i = self.options.highlighted
        if i is not None and i < len(self.choices):
            self.dismiss(self.choices[i])

    @on(OptionList.OptionSelected, "#units-list")
    def selected(self, event: OptionList.OptionSelected) -> None:
        choice = next((c for c in self.choices if c.code == event.option.id), None)
        if choice is not None:
            self.dismiss(choice)

    @on(Worker.StateChanged)
    def show_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_failure(self, event.worker.error)

    def action_cancel(self) -> None:
        self.dismiss(None)
