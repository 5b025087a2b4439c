"""The liaison officer's inbox and order view: tabs, countdowns, every action and every refusal path,
the combined reply, notifications and drafts, and snapshots at 80×24 and 160×48."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.text import Text
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import TextArea

from hotline_tui.app import HotlineApp
from hotline_tui.db import read_session
from hotline_tui.models import Assignment, Event, UnitRequest
from hotline_tui.screens.inbox import UnitInboxScreen
from hotline_tui.screens.order import OrderScreen
from hotline_tui.screens.unit_actions import (
    AcceptScreen,
    AppealForm,
    ExtensionForm,
    NoteForm,
    ReplyForm,
    ReturnForm,
    StopForm,
)
from hotline_tui.services import callback as cb
from hotline_tui.services import handling as hd
from hotline_tui.services import review as rv
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from tests.conftest import World
from tests.test_app_home import text_of

GOOD_REPLY = (
    "1月27日9时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)
CO_REPLY = (
    "1月27日10时，水务集团工作人员李强（电话022-87654321）与诉求人电话联系，到现场查看，"
    "经核查为井盖松动，已于1月27日更换井盖，诉求人表示认可。"
)


def order(
    w: World,
    text: str,
    units: list[str],
    *,
    at: str,
    type_: str = "complaint",
    urgency: str = "normal",
    labels: tuple[str, ...] = (),
    designate: bool = False,
) -> tuple[str, int]:
    no = create_ticket(
        w.at(at).as_("agent1"),
        IntakeForm(
            type=type_,
            channel="phone",
            text=text,
            urgency=urgency,
            labels=labels,
            caller_name="王先生",
            caller_phone="13812345678",
        ),
    ).no
    rows = dispatch(
        w.at(at).as_("disp1"), no, units, designate=designate, consulted="区委编办" if designate else ""
    )
    assert rows[0].id is not None
    return no, rows[0].id


def state(w: World, aid: int) -> Assignment:
    with read_session(w.engine) as s:
        a = s.get(Assignment, aid)
        assert a is not None
        return a


def kinds(w: World) -> list[str]:
    with read_session(w.engine) as s:
        return [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]


def requests(w: World, aid: int) -> list[UnitRequest]:
    with read_session(w.engine) as s:
        return list(s.exec(select(UnitRequest).where(UnitRequest.assignment_id == aid)))


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def inbox(app: HotlineApp) -> UnitInboxScreen:
    found = next(s for s in app.screen_stack if isinstance(s, UnitInboxScreen))
    return found


def tab_rows(app: HotlineApp, tab: str) -> list[str]:
    table = inbox(app).tables[tab]
    return [str(table.get_row(k)[1]) for k in table.rows]


def notes(app: HotlineApp) -> str:
    return "\n".join(f"{n.title} {n.message}" for n in app._notifications)  # noqa: SLF001


async def open_order(app: HotlineApp, pilot: Pilot[Any], aid: int) -> OrderScreen:
    inbox(app).open_order(aid)
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, OrderScreen) and screen.view is not None
    return screen


def refused(screen: OrderScreen, action: str, reason: str) -> bool:
    """The actions panel shows ``action`` greyed out with ``reason`` on its line."""
    lines = [" ".join(line.split()) for line in text_of(screen.actions_panel).splitlines()]
    return any(line.startswith(action) and reason in line for line in lines)


async def type_area(pilot: Pilot[Any], area: TextArea, text: str) -> None:
    area.focus()
    area.insert(text)
    await pilot.pause()


# ---------------------------------------------------------------- the inbox


async def test_tabs_nearest_deadline_first_with_amber_and_red_countdowns(sqlite_world: World) -> None:
    w = sqlite_world
    late, late_id = order(w, "围堤道占道经营，摊贩堵住盲道", ["HX-CG"], at="2025-01-24T12:00:00")
    soon, soon_id = order(
        w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00", labels=("互联网+督查",)
    )
    sub, _ = order(
        w, "照明所负责的景观灯夜里一直亮着", ["HX-CG-ZM"], at="2025-01-24T16:30:00", urgency="urgent"
    )
    other, _ = order(w, "小区电梯坏了", ["HX-ZJ"], at="2025-01-24T16:00:00")  # another unit's
    busy, busy_id = order(w, "垃圾清运不及时", ["HX-CG"], at="2025-01-24T09:00:00")
    hd.accept(w.at("2025-01-24T09:30:00").as_("cg"), busy_id)
    w.at("2025-01-24T18:20:00")  # 'soon' has 40 minutes to accept (amber), 'late' ran out at 15:00 (red)
    app = HotlineApp(w.as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = inbox(app)
        assert tab_rows(app, "pending") == [late, soon, sub]  # the parent unit sees its sub-unit's order
        assert other not in tab_rows(app, "pending") and tab_rows(app, "handling") == [busy]
        table = screen.tables["pending"]
        keys = list(table.rows)
        theme = app.current_theme
        red, amber, plain = (table.get_row(k)[0] for k in keys)
        assert (
            isinstance(red, Text) and "接单 超时3小时20分" in red.plain and str(theme.error) in str(red.style)
        )
        assert isinstance(amber, Text) and "剩40分" in amber.plain and str(theme.warning) in str(amber.style)
        assert isinstance(plain, Text) and "剩1小时10分" in plain.plain and not str(plain.style)
        row = [str(c) for c in table.get_row(keys[1])]
        assert any("【互联网+督查】" in c for c in row)
        assert any("急" == c for c in [str(x) for x in table.get_row(keys[2])])
        assert any("河西区城管委照明所" in c for c in [str(x) for x in table.get_row(keys[2])])
        summary = text_of(screen.summary)
        assert "待接单 3" in summary and "即将超时 1" in summary and "已超时 1" in summary
        assert str(screen.tabs.get_tab("pending").label) == "待接单 3"

        await pilot.press("slash")
        await pilot.press(*"督查")
        await pilot.pause()
        assert tab_rows(app, "pending") == [soon]
        await pilot.press("escape")
        await pilot.pause()
        assert len(tab_rows(app, "pending")) == 3  # the cursor stays on the order found

        await pilot.press("2")
        assert screen.tabs.active == "handling"
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen) and app.screen.assignment_id == soon_id
        await pilot.press("escape", "g", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen) and app.screen.assignment_id == late_id


async def test_order_view_masks_the_caller_and_explains_every_refusal(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    app = HotlineApp(w.at("2025-01-24T16:10:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, aid)
        body = text_of(screen.body)
        assert "138****5678" in body and "13812345678" not in body and "王*" in body
        panel = text_of(screen.actions_panel)
        assert "a  接单" in panel and "t  申请退单" in panel
        assert refused(screen, "d 答复", "只有已接单、办理中的派单可以答复（待接单的请先接单）")
        assert screen.check_action("act", ("reply",)) is None  # greyed out in the footer
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen and "不能答复" in notes(app)  # the key says why, no form opens

        await pilot.press("c")  # calling the caller is the work: name and number, audited
        await settle(app, pilot)
        body = text_of(screen.body)
        assert "13812345678" in body and "王先生" in body and "已留痕" in body
        assert kinds(w)[-1] == "pii_revealed"


async def test_accept_through_the_screen(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    app = HotlineApp(w.at("2025-01-24T20:00:00").as_("cg"))  # after the 3-hour accept limit
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AcceptScreen)
        assert "将记为超时接单" in text_of(app.screen.query_one("Static"))  # TTR 8(1)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen) and "已接单" in notes(app)
        a = state(w, aid)
        assert a.status == "handling" and a.accepted_late
        assert "办理中" in text_of(app.screen.body)
        await pilot.press("escape")
        await settle(app, pilot)
        assert tab_rows(app, "handling") == [no] and tab_rows(app, "pending") == []


async def test_return_with_the_reasons_required_fields(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "小区电梯停运一周", ["HX-CG"], at="2025-01-24T16:00:00")
    app = HotlineApp(w.at("2025-01-24T17:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await open_order(app, pilot, aid)
        await pilot.press("t")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ReturnForm)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "请选择退单理由" in str(form.error.content)
        form.query_one("#return-reason").focus()
        await pilot.press("1")  # 非本单位职责: reasons, legal basis and the suggested unit (TTR 8(3)1)
        await pilot.pause()
        assert form.query_one(".rf-row-basis").display and form.query_one(".rf-row-suggested_unit").display
        assert not form.query_one(".rf-row-items").display
        await type_area(pilot, form.query_one("#rf-reason", TextArea), "电梯属特种设备，由市场监管部门监管")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ReturnForm)  # refused: the form stays with what was typed
        assert "须写明：依据、建议承办单位" in str(form.error.content)
        assert form.query_one("#rf-reason", TextArea).text.startswith("电梯属特种设备")
        assert requests(w, aid) == []
        await type_area(pilot, form.query_one("#rf-basis", TextArea), "《特种设备安全法》第五条")
        form.query_one("#rf-suggested_unit").value = "河西区市场监督管理局"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen)
        [req] = requests(w, aid)
        assert req.kind == "return" and req.payload["basis"] == "《特种设备安全法》第五条"
        assert isinstance(app.screen, OrderScreen)
        assert refused(app.screen, "t 申请退单", "已有退单申请正在审核")
        await pilot.press("escape")
        await settle(app, pilot)
        assert tab_rows(app, "review") == [no] and tab_rows(app, "pending") == []  # waiting on the centre
        assert inbox(app).data is not None and inbox(app).data.counts["review"] == 1
        assert any("退单审核中" in str(c) for c in inbox(app).tables["review"].get_row(str(aid)))


async def test_return_refused_after_the_window_and_for_a_designated_unit(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "小区电梯停运一周", ["HX-CG"], at="2025-01-24T16:00:00")
    no2, aid2 = order(w, "围挡倒塌", ["HX-CG"], at="2025-01-24T16:00:00", designate=True)
    # T24 17: 1 WD to ask (Sun 01-26 is a 调休 working day); 2 WD when complex
    app = HotlineApp(w.at("2025-01-27T17:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, aid)
        assert "已超过退单时限" in text_of(screen.actions_panel) and "天津办法第十七条" in text_of(
            screen.actions_panel
        )
        await pilot.press("t")
        await pilot.pause()
        assert app.screen is screen and "已超过退单时限" in notes(app)
        await pilot.press("escape")
        await settle(app, pilot)
        screen = await open_order(app, pilot, aid2)
        assert "经研究确定或直接指定的承办单位不得退回（天津办法第十七条第三款）" in text_of(
            screen.actions_panel
        )
    assert requests(w, aid) == [] and requests(w, aid2) == []


async def test_extension_form_and_its_refusals(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "小区路面塌陷", ["HX-CG"], at="2025-01-24T16:00:00")
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), aid)
    urgent, uaid = order(
        w, "燃气管道维修后路面未恢复", ["HX-CG"], at="2025-01-24T16:00:00", urgency="very_urgent"
    )
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), uaid)
    app = HotlineApp(w.at("2025-01-27T10:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, uaid)
        assert "标注为“紧急”的工单不得申请延期" in text_of(screen.actions_panel)  # TTR 14(2)
        await pilot.press("escape")
        await settle(app, pilot)
        screen = await open_order(app, pilot, aid)
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ExtensionForm)
        hint = text_of(form.query_one(".form-hint"))
        assert "批准后办理时限" in hint and "已延期0次，最多2次" in hint
        await type_area(pilot, form.query_one("#ext-reason", TextArea), "需协调燃气公司联合施工")
        form.query_one("#ext-contacted").value = "2025-01-27 09:30"  # type: ignore[attr-defined]
        form.query_one("#ext-opinion").value = "同意延期，希望尽快修好"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ExtensionForm) and "应先征得反映人同意" in str(
            form.error.content
        )  # TTR 14
        form.query_one("#ext-contacted").value = "2025-01-27 11:30"  # type: ignore[attr-defined]
        form.query_one("#ext-consent").value = True  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "不能晚于现在" in str(form.error.content)
        form.query_one("#ext-contacted").value = "09:30"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen)
        [req] = requests(w, aid)
        assert req.kind == "extension" and req.payload["contacted_at"] == "2025-01-27 09:30"

    # two extensions granted: a third is refused (GZ 18; TTR 14)
    rv.review_extension(w.as_("disp1"), req.id or 0, approve=True)
    second = hd.request_extension(
        w.as_("cg"),
        aid,
        reason="仍需施工",
        contacted_at="2025-01-27",
        caller_consent=True,
        caller_opinion="同意",
    )
    rv.review_extension(w.as_("disp1"), second.id or 0, approve=True)
    app = HotlineApp(w.as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, aid)
        assert "已延期2次，不得再次延期（天津交通运输委规程第十四条）" in text_of(screen.actions_panel)


async def test_reply_checked_live_refused_with_forbidden_phrases_then_submitted(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), aid)
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await open_order(app, pilot, aid)
        await pilot.press("d")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ReplyForm)
        await type_area(pilot, form.query_one("#reply-text", TextArea), "已联系，已转区住建委处理")
        await pilot.pause(0.35)
        await settle(app, pilot)
        findings = text_of(form.findings)
        assert "提交前须改正" in findings and "已转" in findings and "第十六条" in findings  # TTR 16(5)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ReplyForm) and "答复不符合要求，未提交" in str(form.error.content)
        assert state(w, aid).status == "handling"
        area = form.query_one("#reply-text", TextArea)
        area.load_text(GOOD_REPLY)
        await pilot.pause(0.35)
        await settle(app, pilot)
        assert "可以提交" in text_of(form.findings)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen) and "答复已提交" in notes(app)
    a = state(w, aid)
    assert a.status == "replied" and a.reply_text == GOOD_REPLY


async def test_note_and_stop_handling(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "邻居长期占用公共走廊堆物", ["HX-CG"], at="2025-01-24T16:00:00")
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), aid)
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_order(app, pilot, aid)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, NoteForm)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "办理进展不能为空" in str(app.screen.error.content)
        await type_area(
            pilot, app.screen.query_one("#note-text", TextArea), "1月27日上门，当事人不在家，已留联系卡"
        )
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen) and kinds(w)[-1] == "note"
        await pilot.press("x")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, StopForm) and "泰安办法第十五条" in text_of(form.query_one(".form-hint"))
        form.query_one("#stop-reason").focus()
        await pilot.press("1")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "须提供相关材料" in str(form.error.content)  # TA 15(5)(6)
        await type_area(pilot, form.query_one("#stop-materials", TextArea), "三次上门均拒绝开门，电话录音3段")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen)
    assert [r.kind for r in requests(w, aid)] == ["stop"]


async def test_combined_reply_of_lead_and_co_unit(sqlite_world: World) -> None:
    # TTR 9: the lead unit gathers the co-units' answers and gives one reply
    w = sqlite_world
    no, lead = order(w, "路灯不亮，旁边井盖也松了", ["HX-CG", "SW"], at="2025-01-24T16:00:00")
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), lead)
    co = next(x["id"] for x in hd_detail(w, no) if x["unit"] == "SW")
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, lead)
        assert "协办单位市水务集团尚未反馈" in text_of(screen.actions_panel)
        assert "市水务集团（协办）" in text_of(screen.body)
    hd.accept(w.as_("sw"), co)
    hd.reply(w.as_("sw"), co, CO_REPLY)
    app = HotlineApp(w.as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, lead)
        assert "更换井盖" in text_of(screen.body)  # the lead sees the co-unit's reply
        await pilot.press("d")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ReplyForm) and "更换井盖" in text_of(form.query_one("#reply-co"))
        form.query_one("#reply-text", TextArea).load_text(GOOD_REPLY)
        await pilot.press("f5")
        await pilot.pause()
        text = form.query_one("#reply-text", TextArea).text
        assert text.startswith(GOOD_REPLY) and "市水务集团：" in text and "更换井盖" in text
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen)
    assert state(w, lead).status == "replied" and "更换井盖" in (state(w, lead).reply_text or "")


def hd_detail(w: World, no: str) -> list[dict[str, Any]]:
    from hotline_tui.services.queries import ticket_detail

    return list(ticket_detail(w.as_("sup1"), no, audit=False)["assignments"])


async def test_appeal_within_its_window_and_the_exclusions(sqlite_world: World) -> None:
    # T24 23: written explanation and evidence; TTR 28: by the 6th of next month, exclusions
    w = sqlite_world
    refusals = {}
    for reason in ("unreasonable", "staff_attitude"):
        no, aid = order(w, "要求免除物业费", ["HX-CG"], at="2025-01-24T16:00:00")
        hd.accept(w.as_("cg"), aid)
        hd.reply(w.at("2025-01-27T10:00:00").as_("cg"), aid, GOOD_REPLY)
        rv.review_reply(w.as_("disp1"), aid, approve=True)
        cb.record_callback(
            w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", reason=reason, rehandle=False
        )
        refusals[reason] = aid
    app = HotlineApp(w.at("2025-02-05T10:00:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        screen = await open_order(app, pilot, refusals["staff_attitude"])
        assert "工作人员态度问题的不满意工单不得申诉" in text_of(screen.actions_panel)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("5")
        screen = await open_order(app, pilot, refusals["unreasonable"])
        assert "申诉期限" in text_of(screen.body)
        await pilot.press("p")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, AppealForm) and "2025-02-06" in text_of(form.query_one(".form-hint"))
        await type_area(pilot, form.query_one("#appeal-text", TextArea), "已按政策解释，诉求超出规定")
        await type_area(pilot, form.query_one("#appeal-evidence", TextArea), "通话录音2段")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "请确认本工单不属于不得申诉的情形" in str(form.error.content)
        form.query_one("#appeal-confirm").value = True  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, OrderScreen)
        assert refused(app.screen, "p 申诉", "该工单已提交过申诉")
    assert [r.kind for r in requests(w, refusals["unreasonable"])] == ["appeal"]
    w.at("2025-02-07T00:00:00")  # the window closed on the 6th
    with pytest.raises(Exception, match="已超过申诉期限"):
        from hotline_tui.services.appeal import appeal

        appeal(w.as_("cg"), refusals["unreasonable"], "说明", "材料")


# ---------------------------------------------------------------- notifications and drafts


async def test_new_orders_toast_and_count_without_disturbing_typing(sqlite_world: World) -> None:
    w = sqlite_world
    order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    app = HotlineApp(w.at("2025-01-24T16:05:00").as_("cg"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert "待接单1" in str(inbox(app).sub_title)
        await pilot.press("slash", *"路灯")
        no, _ = order(w, "路灯杆倾斜快倒了", ["HX-CG-ZM"], at="2025-01-24T16:06:00", urgency="urgent")
        app.poll_pulse()
        await settle(app, pilot)
        assert f"新工单 1 件 {no} 【急】路灯杆倾斜快倒了" in notes(app)
        screen = inbox(app)
        assert "待接单2" in str(screen.sub_title) and "待接单2" in app.sub_title  # every screen's header
        assert screen.filter.value == "路灯" and app.focused is screen.filter  # typing was not disturbed
        assert len(tab_rows(app, "pending")) == 2
        await pilot.press(*"杆")
        assert screen.filter.value == "路灯杆" and tab_rows(app, "pending") == [no]


async def test_running_out_warned_once(sqlite_world: World) -> None:
    w = sqlite_world
    no, _ = order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    app = HotlineApp(w.at("2025-01-24T16:05:00").as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        w.at("2025-01-24T18:30:00")  # 30 minutes left to accept
        app.poll_pulse()
        await settle(app, pilot)
        assert f"时限提醒 {no} 接单剩30分" in notes(app)
        app.clear_notifications()
        app.poll_pulse()
        await settle(app, pilot)
        assert "时限提醒" not in notes(app)  # said once
        assert "将超时1" in str(inbox(app).sub_title)


async def test_a_half_typed_reply_survives_the_session(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")
    hd.accept(w.at("2025-01-24T16:30:00").as_("cg"), aid)
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_order(app, pilot, aid)
        await pilot.press("d")
        await settle(app, pilot)
        await type_area(pilot, app.screen.query_one("#reply-text", TextArea), "1月27日9时，工作人员王明")
        await pilot.pause(0.7)
        await settle(app, pilot)
    # the session dropped without submitting: the next one offers the text back
    app = HotlineApp(w.as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_order(app, pilot, aid)
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.pause()
        assert app.screen.query_one("#reply-text", TextArea).text == "1月27日9时，工作人员王明"
        assert "已恢复上次未提交的内容" in notes(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # throw it away: the draft goes too
        await settle(app, pilot)
    from hotline_tui.services.drafts import load_draft

    assert load_draft(w.as_("cg"), f"unit-reply:{aid}") is None


# ---------------------------------------------------------------- snapshots


@pytest.fixture
def unit_orders(sqlite_world: World) -> World:
    w = sqlite_world
    order(w, "围堤道占道经营，摊贩堵住盲道", ["HX-CG"], at="2025-01-24T12:00:00")
    order(
        w,
        "友谊路路灯不亮三晚，晚上过马路看不见",
        ["HX-CG"],
        at="2025-01-24T16:00:00",
        labels=("互联网+督查",),
    )
    order(w, "照明所负责的景观灯夜里一直亮着", ["HX-CG-ZM"], at="2025-01-24T16:30:00", urgency="urgent")
    no, aid = order(w, "垃圾清运不及时，小区门口堆了三天", ["HX-CG"], at="2025-01-24T09:00:00")
    hd.accept(w.at("2025-01-24T09:30:00").as_("cg"), aid)
    w.at("2025-01-24T18:20:00")
    return w


async def _inbox_ready(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)  # type: ignore[arg-type]


async def _order_ready(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)  # type: ignore[arg-type]
    await pilot.press("enter")
    await settle(pilot.app, pilot)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_inbox(snap_compare: Callable[..., bool], unit_orders: World, size: tuple[int, int]) -> None:
    assert snap_compare(HotlineApp(unit_orders.as_("cg")), terminal_size=size, run_before=_inbox_ready)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_order_view(
    snap_compare: Callable[..., bool], unit_orders: World, size: tuple[int, int]
) -> None:
    assert snap_compare(HotlineApp(unit_orders.as_("cg")), terminal_size=size, run_before=_order_ready)


async def test_a_trusted_login_opens_the_store_behind_the_first_frame(sqlite_world: World) -> None:
    """An SSH key login: the store opens and the login is recorded in a thread, then the inbox shows;
    an account that may not log in ends the program with the reason (printed by ssh-session)."""
    from hotline_tui.app import PendingStore
    from hotline_tui.services.accounts import trusted_login
    from hotline_tui.services.admin import deactivate_user
    from hotline_tui.services.core import SYSTEM, Ctx

    w = sqlite_world
    order(w, "友谊路路灯不亮三晚", ["HX-CG"], at="2025-01-24T16:00:00")

    def opener(name: str) -> Callable[[], Ctx]:
        def run() -> Ctx:
            ctx = Ctx(w.engine, w.policy, SYSTEM, w.clock)
            return ctx.as_actor(trusted_login(ctx, name, method="ssh_key", source="127.0.0.1"))

        return run

    store = PendingStore(opener("cg"))
    app = HotlineApp(None, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, UnitInboxScreen) and app.ctx.actor.name == "cg"
        assert len(tab_rows(app, "pending")) == 1
    assert kinds(w)[-1] == "login_succeeded"

    deactivate_user(Ctx(w.engine, w.policy, SYSTEM, w.clock), "zj")
    store = PendingStore(opener("zj"))
    app = HotlineApp(None, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(20):  # the app ends itself: its workers are cancelled, nothing to wait for
            await pilot.pause(0.05)
    assert store.error is not None and "停用" in getattr(store.error, "message", "")
    assert app.return_code == 2
