"""The unit's action forms: accept, return, extension, progress note, stop-handling, reply, appeal.

Each form shows what the rules ask for before it is filled (the reason's required content, the
deadline an extension would give, the appeal deadline and exclusions), checks what it can as it is
typed, and submits through the service in a worker. A refusal appears in the form in Chinese, citing
the article, and nothing typed is lost: the form stays open, and its fields are kept as a draft in the
store (``drafts``), offered back when the form is opened again after a crash or a dropped SSH session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Select, Static, TextArea
from textual.worker import Worker, WorkerState

from hotline_tui.errors import InvalidInput
from hotline_tui.screens.feedback import failure_text
from hotline_tui.screens.forms import DraftForm
from hotline_tui.screens.home import short_time
from hotline_tui.screens.intake import QuickSelect, Tick
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx
    from hotline_tui.services.inbox import OrderView
    from hotline_tui.services.reply_check import ReplyCheck


def draft_key(action: str, assignment_id: int) -> str:
    return f"unit-{action}:{assignment_id}"


class AcceptScreen(ModalScreen[str | None]):
    """y / enter accepts the order; the accept limit and the return window are shown first."""

    BINDING_GROUP_TITLE = "接单"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "确认接单", key_display="y", id="accept.yes", tooltip="接收该工单"),
        Binding("n,escape", "cancel", "取消", key_display="esc", id="accept.no", tooltip="不接单，返回"),
    ]

    @dataclass
    class Accepted(Message, bubble=False):
        text: str

    def __init__(self, ctx: Ctx, view: OrderView) -> None:
        super().__init__()
        self.ctx = ctx
        self.view = view
        self.error = Static("", classes="form-error", markup=False)
        self.sent = False

    def compose(self) -> ComposeResult:
        v = self.view
        mine = v.assignment
        now = self.ctx.now()
        lines = Text()
        if mine.get("accept_due_at"):
            text, tone = v.clock.show(now)
            lines.append(f"接单时限：{short_time(mine['accept_due_at'], seconds=True)}（{text}）\n")
            if tone == "error":
                lines.append("已超过接单时限，接单将记为超时接单。\n", style="bold")
        lines.append(f"办理时限：{short_time(mine['due_at'], seconds=True)}\n")
        if v.return_due:
            lines.append(f"如不属本单位职责，应在 {short_time(v.return_due, seconds=True)} 前申请退单；")
            lines.append("逾期应按规定期限办理。")
        with Vertical(classes="unit-form unit-confirm") as box:
            box.border_title = f"确认接单 · 工单 {v.detail['no']}"
            box.border_subtitle = "y/回车 确认 · n/esc 取消"
            yield Static(lines)
            yield self.error
        yield StableFooter()

    def on_mount(self) -> None:
        self.error.display = False

    def action_confirm(self) -> None:
        if not self.sent:
            self.sent = True
            self.accept()

    @work(thread=True, exclusive=True, group="unit-accept", exit_on_error=False, description="接单")
    def accept(self) -> None:
        from hotline_tui.services.handling import accept

        a = accept(self.ctx, self.view.assignment_id, expected_version=self.view.version)
        self.post_message(
            self.Accepted("已接单" + ("（超过接单时限，已记为超时接单）" if a.accepted_late else ""))
        )

    @on(Accepted)
    def accepted(self, message: Accepted) -> None:
        self.dismiss(message.text)

    @on(Worker.StateChanged)
    def failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.sent = False
            self.error.update(failure_text(event.worker.error))
            self.error.display = True

    def action_cancel(self) -> None:
        self.dismiss(None)


class ActionForm(DraftForm):
    """One of the unit's actions on one order; its draft is this user's, for this order and action."""

    action = ""

    def __init__(self, ctx: Ctx, view: OrderView) -> None:
        super().__init__(ctx, view.detail["no"])
        self.view = view

    def draft_key(self) -> str:
        return draft_key(self.action, self.view.assignment_id)


# ---------------------------------------------------------------- return


RETURN_FIELD_WIDGETS: dict[str, tuple[str, str, bool]] = {
    # field -> (label, placeholder, multi-line)
    "reason": ("退单理由", "说明为何退回", True),
    "basis": ("依据", "法律法规、三定方案等职责依据", True),
    "suggested_unit": ("建议单位", "建议承办单位名称", False),
    "items": ("核实事项", "需再次核实的全部信息，每行一项（须一次列明）", True),
    "earlier_results": ("往次结果", "往次办理情况和办理结果", True),
    "kb_entry": ("知识库条目", "引用的知识库条目编号", False),
    "document_numbers": ("文件编号", "信访、诉讼、仲裁的文书编号等佐证材料", False),
    "inspection_consent": ("督查同意", "市政府督查部门同意退回的情况（时间、同意人）", False),
    "caller_informed": ("已联系说明", "与反映人联系说明情况（时间、结果）", False),
}


class ReturnForm(ActionForm):
    action = "return"
    form_title = "申请退单"

    def body(self) -> ComposeResult:
        v = self.view
        options = [(f"{i} {label}", code) for i, (code, label, _, _) in enumerate(v.return_reasons, start=1)]
        yield Static(self.window_text(), classes="form-hint")
        yield self.row(
            "退单理由类型", QuickSelect(options, prompt="选择理由（数字键直接选）", id="return-reason")
        )
        yield Static("", id="return-cite", classes="form-hint")
        for key, (label, placeholder, multi) in RETURN_FIELD_WIDGETS.items():
            widget: Widget = (
                self.area(placeholder, f"rf-{key}") if multi else self.field(placeholder, f"rf-{key}")
            )
            yield self.row(label, widget, classes=f"rf-row rf-row-{key}")
        if v.return_complex_allowed:
            yield self.row("", Tick("疑难复杂事项（适用延长的退单时限）", id="return-complex"))

    def window_text(self) -> Text:
        v = self.view
        out = Text()
        if v.return_due:
            out.append(f"退单时限：{short_time(v.return_due, seconds=True)} 前")
            if v.return_due_complex:
                out.append(f"；疑难复杂事项 {short_time(v.return_due_complex, seconds=True)} 前")
        for name, rule, cite in v.label_return_rules:
            if rule == "consent":
                out.append(
                    f"\n【{name}】工单退回须征得市政府督查部门同意，并写明同意情况（{cite}）", style="bold"
                )
            else:
                out.append(
                    f"\n【{name}】工单不得轻易退单；确需退回的，先与反映人联系说明情况并写明（{cite}）",
                    style="bold",
                )
        return out

    def reason_code(self) -> str:
        value = self.query_one("#return-reason", Select).value
        return value if isinstance(value, str) else ""

    def needed(self) -> list[str]:
        code = self.reason_code()
        reason = next((r for r in self.view.return_reasons if r[0] == code), None)
        fields = list(reason[2]) if reason else []
        if reason and "reason" not in fields:
            fields.insert(0, "reason")
        for _, rule, _ in self.view.label_return_rules:
            fields.append("inspection_consent" if rule == "consent" else "caller_informed")
        return fields

    def changed(self) -> None:
        needed = self.needed()
        for key in RETURN_FIELD_WIDGETS:
            self.query_one(f".rf-row-{key}").display = key in needed
        code = self.reason_code()
        reason = next((r for r in self.view.return_reasons if r[0] == code), None)
        cite = self.query_one("#return-cite", Static)
        if reason is None:
            cite.update("先选择退单理由，表单会列出该理由须写明的内容。")
        else:
            from hotline_tui.policy import RETURN_FIELDS

            must = "、".join(RETURN_FIELDS.get(f, f) for f in reason[2])
            cite.update(f"须写明：{must}（{reason[3]}）")

    def values(self) -> dict[str, Any]:
        data: dict[str, Any] = {key: self.text_of(f"rf-{key}") for key in RETURN_FIELD_WIDGETS}
        data["code"] = self.reason_code()
        if self.view.return_complex_allowed:
            data["complex"] = self.query_one("#return-complex", Tick).value
        return data

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("code") in {r[0] for r in self.view.return_reasons}:
            self.query_one("#return-reason", Select).value = data["code"]
        for key in RETURN_FIELD_WIDGETS:
            if isinstance(data.get(key), str):
                self.set_text(f"rf-{key}", data[key])
        if self.view.return_complex_allowed and isinstance(data.get("complex"), bool):
            self.query_one("#return-complex", Tick).value = data["complex"]

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.handling import request_return

        code = self.reason_code()
        if not code:
            raise InvalidInput("请选择退单理由")
        fields: dict[str, Any] = {}
        for key in self.needed():
            text = self.text_of(f"rf-{key}").strip()
            if key == "items":
                fields[key] = [line.strip(" 　-·•") for line in text.splitlines() if line.strip(" 　-·•")]
            elif text:
                fields[key] = text
        complex_case = bool(self.values().get("complex"))
        ctx, aid, version = self.ctx, self.view.assignment_id, self.view.version

        def job() -> str:
            request_return(ctx, aid, code, fields, complex_case=complex_case, expected_version=version)
            return "退单申请已提交，等待中心审核"

        return job


# ---------------------------------------------------------------- extension


class ExtensionForm(ActionForm):
    action = "extend"
    form_title = "申请延期"

    def body(self) -> ComposeResult:
        v = self.view
        ext = self.ctx.policy.extension
        info = Text(f"当前办理时限：{short_time(v.assignment['due_at'], seconds=True)}  {v.extension_count}")
        if v.extension_preview:
            info.append(
                f"\n批准后办理时限：{short_time(v.extension_preview, seconds=True)}（延长一个原办理时限）"
            )
        if ext.lead is not None:
            info.append(f"\n须在到期前至少{ext.lead.label()}提出，并征得诉求人同意（{ext.cite}）")
        yield Static(info, classes="form-hint")
        yield self.row("延期原因", self.area("为何不能在时限内办结", "ext-reason"))
        yield self.row("联系时间", self.field("与诉求人联系的时间，如 2025-01-25 10:30", "ext-contacted"))
        yield self.row("", Tick("诉求人同意延期", id="ext-consent"))
        yield self.row("诉求人意见", self.field("诉求人的原话或意见", "ext-opinion"))

    def values(self) -> dict[str, Any]:
        return {
            "reason": self.text_of("ext-reason"),
            "contacted": self.text_of("ext-contacted"),
            "consent": self.query_one("#ext-consent", Tick).value,
            "opinion": self.text_of("ext-opinion"),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.set_text("ext-reason", str(data.get("reason") or ""))
        self.set_text("ext-contacted", str(data.get("contacted") or ""))
        self.query_one("#ext-consent", Tick).value = bool(data.get("consent"))
        self.set_text("ext-opinion", str(data.get("opinion") or ""))

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.screens.order import parse_when
        from hotline_tui.services.handling import request_extension

        values = self.values()
        contacted = values["contacted"].strip()
        if contacted:
            now = self.ctx.now()
            when = parse_when(contacted, now)
            if when is None:
                raise InvalidInput("联系时间请写成 2025-01-25 10:30、01-25 10:30 或 10:30（今天）")
            if when > now:
                raise InvalidInput("联系时间不能晚于现在：请先联系诉求人，再申请延期")
            contacted = when.strftime("%Y-%m-%d %H:%M")
        ctx, aid, version = self.ctx, self.view.assignment_id, self.view.version

        def job() -> str:
            request_extension(
                ctx,
                aid,
                reason=values["reason"],
                contacted_at=contacted,
                caller_consent=bool(values["consent"]),
                caller_opinion=values["opinion"],
                expected_version=version,
            )
            return "延期申请已提交，等待中心审核；审核前仍按原时限办理"

        return job


# ---------------------------------------------------------------- progress note


class NoteForm(ActionForm):
    action = "note"
    form_title = "办理进展"

    def body(self) -> ComposeResult:
        yield Static(
            "记录阶段性办理情况（长期事项应定期报告进展）。进展不是答复，不停止办理时限。",
            classes="form-hint",
        )
        yield self.row(
            "办理进展",
            self.area("如：1月25日已现场查看，联系供电公司排期维修", "note-text", "form-area tall"),
        )

    def values(self) -> dict[str, Any]:
        return {"text": self.text_of("note-text")}

    def restore(self, data: dict[str, Any]) -> None:
        self.set_text("note-text", str(data.get("text") or ""))

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.handling import add_note

        text = self.text_of("note-text")
        if not text.strip():
            raise InvalidInput("办理进展不能为空")
        ctx, aid = self.ctx, self.view.assignment_id

        def job() -> str:
            add_note(ctx, aid, text)
            return "办理进展已记录"

        return job


# ---------------------------------------------------------------- stop-handling


class StopForm(ActionForm):
    action = "stop"
    form_title = "申请终止办理"

    def body(self) -> ComposeResult:
        options = [
            (f"{i} {label}", code) for i, (code, label) in enumerate(self.view.stop_reasons.items(), start=1)
        ]
        yield Static(
            f"终止办理须提供相关材料，经热线工作机构审核（{self.ctx.policy.stop_cite}）", classes="form-hint"
        )
        yield self.row("终止理由", QuickSelect(options, prompt="选择理由（数字键直接选）", id="stop-reason"))
        yield self.row(
            "相关材料",
            self.area(
                "联系记录、告知情况、拒不配合或坚持不合理诉求的经过", "stop-materials", "form-area tall"
            ),
        )

    def reason_code(self) -> str:
        value = self.query_one("#stop-reason", Select).value
        return value if isinstance(value, str) else ""

    def values(self) -> dict[str, Any]:
        return {"code": self.reason_code(), "materials": self.text_of("stop-materials")}

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("code") in self.view.stop_reasons:
            self.query_one("#stop-reason", Select).value = data["code"]
        self.set_text("stop-materials", str(data.get("materials") or ""))

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.handling import request_stop

        code = self.reason_code()
        if not code:
            raise InvalidInput("请选择终止办理的理由")
        materials = self.text_of("stop-materials")
        ctx, aid, version = self.ctx, self.view.assignment_id, self.view.version

        def job() -> str:
            request_stop(ctx, aid, code, materials, expected_version=version)
            return "终止办理申请已提交，等待中心审核"

        return job


# ---------------------------------------------------------------- reply


class ReplyForm(ActionForm):
    """The reply, checked as it is typed against the profile's reply rules (TTR 16; GZ 19)."""

    action = "reply"
    form_title = "答复"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "insert_co", "引用协办意见", key_display="F5", id="reply.co", tooltip="把协办单位的答复插入正文，汇总后统一答复"),
    ]  # fmt: skip

    @dataclass
    class Checked(Message, bubble=False):
        result: ReplyCheck
        text: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ReplyForm.Checked)

    def __init__(self, ctx: Ctx, view: OrderView) -> None:
        super().__init__(ctx, view)
        self.checker: Callable[[str], ReplyCheck] | None = None
        self.last: ReplyCheck | None = None
        self.findings = Static("", id="reply-findings")
        self._check_timer: Any = None

    def body(self) -> ComposeResult:
        p = self.ctx.policy
        elements = "、".join(e.label for e in p.reply.elements)
        yield Static(
            f"答复须写明：{elements}；不得使用笼统、过程性、模板式表述（{p.reply.cite}）", classes="form-hint"
        )
        if self.view.co_replies:
            co = Text("协办单位意见（F5 引用到正文，汇总后统一答复）：", style="bold")
            for unit, reply in self.view.co_replies:
                co.append(f"\n{unit}：", style="bold")
                co.append(" ".join(reply.split()))
            yield Static(co, classes="form-hint", id="reply-co")
        yield self.area(
            "答复内容：联系时间、联系人及电话、办理过程、办理结果、诉求人反馈",
            "reply-text",
            "form-area reply",
        )
        yield self.findings

    def on_mount(self) -> None:
        super().on_mount()
        self.load_checker()

    @work(thread=True, exclusive=True, group="reply-checker", exit_on_error=False, description="载入答复检查")
    def load_checker(self) -> None:
        from hotline_tui.services.inbox import reply_checker

        self.checker = reply_checker(self.ctx, self.view.assignment_id)
        self.app.call_from_thread(self.changed)

    def values(self) -> dict[str, Any]:
        return {"text": self.text_of("reply-text")}

    def restore(self, data: dict[str, Any]) -> None:
        self.set_text("reply-text", str(data.get("text") or ""))

    def changed(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(0.2, self.run_check)

    def run_check(self) -> None:
        if self.checker is not None:
            self.check(self.text_of("reply-text"))

    @work(thread=True, exclusive=True, group="reply-check", exit_on_error=False, description="检查答复")
    def check(self, text: str) -> None:
        assert self.checker is not None
        self.post_message(self.Checked(self.checker(text), text))

    @on(Checked)
    def show_check(self, message: Checked) -> None:
        if message.text != self.text_of("reply-text"):
            return  # typed on since: a newer check is coming
        self.last = message.result
        out = Text()
        if not message.text.strip():
            out.append("输入答复后，这里实时列出缺少的要素和不得使用的表述。", style="dim")
        elif message.result.ok:
            out.append("✓ 答复要素齐全，未发现禁用表述，可以提交（^S）", style="bold")
        else:
            out.append(f"提交前须改正（{len(message.result.findings)}项）：", style="bold")
            for f in message.result.findings:
                out.append(f"\n·{f.message}")  # no space: a narrow form would wrap after the dot
        self.findings.update(out)

    def action_insert_co(self) -> None:
        if not self.view.co_replies:
            self.notify("该工单没有协办单位的答复", timeout=3)
            return
        area = self.query_one("#reply-text", TextArea)
        joined = "\n".join(f"{unit}：{' '.join(reply.split())}" for unit, reply in self.view.co_replies)
        area.insert(
            ("\n" if area.text and not area.text.endswith("\n") else "") + joined + "\n", area.document.end
        )
        area.focus()

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.handling import reply

        text = self.text_of("reply-text")
        if not text.strip():
            raise InvalidInput("答复内容不能为空")
        if self.checker is not None:
            result = self.checker(text)
            if not result.ok:
                lines = "；".join(f.message for f in result.findings)
                raise InvalidInput(f"答复不符合要求，未提交：{lines}")
        ctx, aid, version = self.ctx, self.view.assignment_id, self.view.version

        def job() -> str:
            reply(ctx, aid, text, expected_version=version)
            return "答复已提交，等待中心审核"

        return job


# ---------------------------------------------------------------- appeal


class AppealForm(ActionForm):
    action = "appeal"
    form_title = "不满意工单申诉"

    def body(self) -> ComposeResult:
        v = self.view
        rules = self.ctx.policy.appeal
        head = Text()
        if v.appeal_deadline:
            head.append(
                f"申诉期限：{short_time(v.appeal_deadline, seconds=True)} 前（{rules.cite_window}）\n"
            )
        head.append(f"以下情形不得申诉（{rules.cite_window}）：", style="bold")
        for label in v.appeal_exclusions.values():
            head.append(f"\n· {label}")
        yield Static(head, classes="form-hint")
        yield self.row("书面说明", self.area("本单位已依法依规履职的情况", "appeal-text"))
        yield self.row("佐证材料", self.area("通话录音编号、现场照片、文书编号等", "appeal-evidence"))
        yield self.row("", Tick("本工单不属于以上不得申诉的情形", id="appeal-confirm"))

    def values(self) -> dict[str, Any]:
        return {
            "text": self.text_of("appeal-text"),
            "evidence": self.text_of("appeal-evidence"),
            "confirm": self.query_one("#appeal-confirm", Tick).value,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.set_text("appeal-text", str(data.get("text") or ""))
        self.set_text("appeal-evidence", str(data.get("evidence") or ""))
        self.query_one("#appeal-confirm", Tick).value = bool(data.get("confirm"))

    def prepare(self) -> Callable[[], str]:
        from hotline_tui.services.appeal import appeal

        values = self.values()
        if not values["confirm"]:
            raise InvalidInput(f"请确认本工单不属于不得申诉的情形（{self.ctx.policy.appeal.cite_window}）")
        ctx, aid = self.ctx, self.view.assignment_id

        def job() -> str:
            appeal(ctx, aid, values["text"], values["evidence"])
            return "申诉已提交，等待中心审核"

        return job
