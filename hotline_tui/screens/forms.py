"""The one form base: labelled fields kept as a draft in the store, submitted in a worker.

A refusal shows in the form in Chinese and nothing typed is lost: the form stays open, its fields are saved
as a draft (half a second after a change) and offered back when it is opened again after a crash or a
dropped SSH session; esc asks before throwing away what was typed. The unit's action forms and the
callback forms are all of this kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea
from textual.worker import Worker, WorkerState

from hotline_tui.errors import HotlineError
from hotline_tui.screens.feedback import failure_text
from hotline_tui.screens.intake import Tick
from hotline_tui.widgets.footer import StableFooter

if TYPE_CHECKING:
    from hotline_tui.services.core import Ctx

DRAFT_DELAY = 0.5  # seconds after the last change


class DraftForm(ModalScreen[str | None]):
    """Labelled fields kept as a draft in the store. ^S submits in a worker; a refusal shows in the form;
    esc asks before throwing away what was typed."""

    BINDING_GROUP_TITLE = "表单"
    DEFAULT_CSS = """
    DraftForm { align: center middle; }
    DraftForm .cb-form {
        width: 90%; max-width: 120; height: auto; max-height: 100%;
        border: round $accent; border-title-color: $accent; border-subtitle-color: $text-muted;
        background: $surface; padding: 0 1;
    }
    DraftForm .cb-row { height: auto; margin: 0 0 1 0; }
    DraftForm .cb-row Select { width: 1fr; }
    DraftForm .cb-row Tick { width: 1fr; }
    DraftForm .cb-row .form-label { width: 12; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "提交", key_display="^S", priority=True, id="form.submit", tooltip="提交"),
        Binding("escape", "cancel", "取消", id="form.cancel", tooltip="关闭表单（已填内容会先询问）"),
    ]  # fmt: skip

    form_title = ""

    @dataclass
    class Submitted(Message, bubble=False):
        text: str

    @dataclass
    class DraftLoaded(Message, bubble=False):
        data: dict[str, Any]

    def __init__(self, ctx: Ctx, no: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.no = no
        self.error = Static("", classes="form-error", markup=False)
        self.sending = False
        self.restoring = False
        self._draft_timer: Any = None

    def draft_key(self) -> str:
        raise NotImplementedError

    def body(self) -> ComposeResult:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def restore(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def prepare(self) -> Callable[[], str]:
        raise NotImplementedError

    def changed(self) -> None:
        """A field changed: show or hide what depends on it."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="cb-form") as box:
            box.border_title = f"{self.form_title} · 工单 {self.no}"
            box.border_subtitle = "^S 提交 · esc 取消"
            yield from self.body()
            yield self.error
        yield StableFooter()

    def on_mount(self) -> None:
        self.error.display = False
        self.changed()
        first = next((w for w in self.query("Select, Input, TextArea") if w.focusable), None)
        if first is not None:
            first.focus()
        self.load_draft()

    @staticmethod
    def row(label: str, *widgets: Widget, id_: str | None = None, classes: str = "") -> Horizontal:
        return Horizontal(
            Label(label, classes="form-label"), *widgets, classes=f"cb-row {classes}".strip(), id=id_
        )

    @staticmethod
    def area(placeholder: str, id_: str, classes: str = "form-area") -> TextArea:
        area = TextArea(
            id=id_, classes=classes, soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
        )
        area.placeholder = placeholder
        return area

    @staticmethod
    def field(placeholder: str, id_: str) -> Input:
        return Input(placeholder=placeholder, id=id_, compact=True, select_on_focus=False)

    def text_of(self, id_: str) -> str:
        widget = self.query_one(f"#{id_}")
        if isinstance(widget, TextArea):
            return widget.text
        if isinstance(widget, Input):
            return widget.value
        raise TypeError(id_)

    def set_text(self, id_: str, value: str) -> None:
        widget = self.query_one(f"#{id_}")
        if isinstance(widget, TextArea):
            widget.load_text(value)
        elif isinstance(widget, Input):
            widget.value = value

    def choice(self, id_: str) -> str:
        value = self.query_one(f"#{id_}", Select).value
        return value if isinstance(value, str) else ""

    def set_choice(self, id_: str, value: object, allowed: set[str]) -> None:
        if isinstance(value, str) and value in allowed:
            self.query_one(f"#{id_}", Select).value = value

    def show_error(self, text: str) -> None:
        self.error.update(text)
        self.error.display = True
        self.error.scroll_visible()

    @work(thread=True, exclusive=True, group="form-draft-load", exit_on_error=False, description="读取草稿")
    def load_draft(self) -> None:
        from hotline_tui.services.drafts import load_draft

        saved = load_draft(self.ctx, self.draft_key())
        if saved is not None and not saved.empty:
            self.post_message(self.DraftLoaded(saved.data))

    @on(DraftLoaded)
    def draft_loaded(self, message: DraftLoaded) -> None:
        if any(v for v in self.values().values()):
            return  # typing started before the draft arrived: what is on screen wins
        self.restoring = True
        try:
            self.restore(message.data)
        finally:
            self.call_after_refresh(self._restored)
        self.notify("已恢复上次未提交的内容", title=self.form_title, timeout=3)

    def _restored(self) -> None:
        self.restoring = False
        self.changed()

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Tick.Changed)
    def field_changed(self, event: Message) -> None:
        if self.restoring or not self.is_mounted:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY, self.save_draft)
        self.changed()
        if isinstance(event, Select.Changed) and isinstance(event.value, str):
            self.call_after_refresh(self.focus_next)  # a digit chose it: on to the next field

    def save_draft(self) -> None:
        self.write_draft(self.values())

    @work(thread=True, exclusive=True, group="form-draft", exit_on_error=False, description="保存草稿")
    def write_draft(self, data: dict[str, Any]) -> None:
        from hotline_tui.services.drafts import discard_draft, save_draft

        if any(v for v in data.values()):
            save_draft(self.ctx, data, self.draft_key())
        else:
            discard_draft(self.ctx, self.draft_key())

    def action_submit(self) -> None:
        if self.sending:
            return
        try:
            job = self.prepare()
        except HotlineError as exc:
            self.show_error(exc.message)
            return
        self.error.display = False
        self.sending = True
        self.submit(job)

    @work(thread=True, exclusive=True, group="form-submit", exit_on_error=False, description="提交")
    def submit(self, job: Callable[[], str]) -> None:
        from hotline_tui.services.drafts import discard_draft

        text = job()
        try:
            discard_draft(self.ctx, self.draft_key())
        except HotlineError:
            pass  # the result is recorded; a stale draft is offered once more at worst
        self.post_message(self.Submitted(text))

    @on(Submitted)
    def submitted(self, message: Submitted) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self.dismiss(message.text)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "form-submit":
            self.sending = False
            self.show_error(failure_text(event.worker.error))
        elif event.worker.group == "form-draft":
            self.notify("草稿未能保存：" + failure_text(event.worker.error), severity="warning", timeout=4)

    def action_cancel(self) -> None:
        if not any(v for v in self.values().values()):
            self.dismiss(None)
            return
        from hotline_tui.screens.admin import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                if self._draft_timer is not None:
                    self._draft_timer.stop()
                self.write_draft({})
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen("放弃已填写的内容？", "y 放弃并关闭表单（草稿一并删除）；n 回到表单继续填写。"),
            answered,
        )
