"""The centre's queues: each queue's content and order, each decision and its refusals, bulk decisions
with their summary, and snapshots at 80×24 and 160×48."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select
from textual.pilot import Pilot
from textual.widgets import Input, Select

from hotline_tui.app import HotlineApp
from hotline_tui.db import read_session
from hotline_tui.models import Assignment, Ticket, UnitRequest
from hotline_tui.screens.admin import ConfirmScreen
from hotline_tui.screens.queues import BulkScreen, CentreQueueScreen, DecisionScreen
from hotline_tui.services import appeal as ap
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


def ticket(w: World, text: str, *, at: str, urgency: str = "normal", type_: str = "complaint") -> str:
    form = IntakeForm(type=type_, channel="phone", text=text, urgency=urgency, caller_phone="13812345678")
    return create_ticket(w.at(at).as_("agent1"), form).no


def dispatched(
    w: World, text: str, unit: str = "HX-CG", *, at: str = "2025-01-24T16:00:00"
) -> tuple[str, int]:
    no = ticket(w, text, at=at)
    [a] = dispatch(w.at(at).as_("disp1"), no, [unit])
    assert a.id is not None
    return no, a.id


def accepted(w: World, text: str, unit: str = "HX-CG", user: str = "cg") -> tuple[str, int]:
    no, aid = dispatched(w, text, unit)
    hd.accept(w.at("2025-01-24T16:30:00").as_(user), aid)
    return no, aid


def assignment(w: World, aid: int) -> Assignment:
    with read_session(w.engine) as s:
        a = s.get(Assignment, aid)
        assert a is not None
        return a


def request_of(w: World, rid: int) -> UnitRequest:
    with read_session(w.engine) as s:
        r = s.get(UnitRequest, rid)
        assert r is not None
        return r


def assignments_of(w: World, no: str) -> list[Assignment]:
    with read_session(w.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.no == no)).one()
        return list(s.exec(select(Assignment).where(Assignment.ticket_id == t.id)))


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def queues(app: HotlineApp) -> CentreQueueScreen:
    return next(s for s in app.screen_stack if isinstance(s, CentreQueueScreen))


def rows(app: HotlineApp, queue: str) -> list[str]:
    table = queues(app).tables[queue]
    return [str(table.get_row(k)[2]) for k in table.rows]


def notes(app: HotlineApp) -> str:
    return "\n".join(f"{n.title} {n.message}" for n in app._notifications)  # noqa: SLF001


async def open_row(app: HotlineApp, pilot: Pilot[Any], queue: str, no: str) -> DecisionScreen:
    screen = queues(app)
    row = next(r for r in (screen.data.rows[queue] if screen.data else []) if r.no == no)
    screen.open_item(queue, row.key)
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, DecisionScreen) and form.item is not None
    return form


async def decide(pilot: Pilot[Any], form: DecisionScreen, choice: str, note: str = "") -> None:
    form.query_one("#decide-choice", Select).value = choice
    if note:
        form.query_one("#decide-note", Input).value = note
    await pilot.press("ctrl+s")
    await settle(form.app, pilot)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the queues


async def test_every_queue_sorted_by_urgency_then_age(sqlite_world: World) -> None:
    w = sqlite_world
    old = ticket(w, "围堤道占道经营", at="2025-01-24T09:00:00")
    urgent = ticket(w, "供水管爆裂，路面积水结冰", at="2025-01-24T15:00:00", urgency="very_urgent")
    new = ticket(w, "咨询公积金提取", at="2025-01-24T15:30:00", type_="consult")
    ret_no, ret_aid = dispatched(w, "小区电梯停运")
    hd.request_return(w.at("2025-01-24T17:00:00").as_("cg"), ret_aid, "info_missing", {"items": ["具体楼号"]})
    ext_no, ext_aid = accepted(w, "路面塌陷")
    hd.request_extension(
        w.at("2025-01-27T10:00:00").as_("cg"), ext_aid, reason="需联合施工", contacted_at="2025-01-27 09:30",
        caller_consent=True, caller_opinion="同意",
    )  # fmt: skip
    rep_no, rep_aid = accepted(w, "友谊路路灯不亮")
    hd.reply(w.at("2025-01-27T11:00:00").as_("cg"), rep_aid, GOOD_REPLY)
    co_no = ticket(w, "路灯不亮，井盖松动", at="2025-01-24T16:00:00")
    lead, co = dispatch(w.as_("disp1"), co_no, ["HX-CG", "SW"])
    hd.accept(w.as_("sw"), co.id or 0)
    hd.reply(w.as_("sw"), co.id or 0, GOOD_REPLY)  # the co-unit's answer waits for the lead's (TTR 9)
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, CentreQueueScreen)  # the dispatcher's home
        assert rows(app, "dispatch") == [urgent, old, new]  # 紧急 first, then the oldest
        assert rows(app, "returns") == [ret_no] and rows(app, "extensions") == [ext_no]
        assert rows(app, "replies") == [rep_no]  # not the co-unit's reply while the lead handles
        screen = queues(app)
        assert "工单信息要素不全或有误" in str(screen.tables["returns"].get_row_at(0)[5])
        summary = text_of(screen.summary)
        assert "待派单 3" in summary and "退单申请 1" in summary and "答复审核 1" in summary


async def test_dispatch_with_the_suggested_unit_and_the_deadline_shown(sqlite_world: World) -> None:
    w = sqlite_world
    no = ticket(w, "友谊路路灯不亮三晚，夜里过马路很危险", at="2025-01-24T15:00:00")
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        row = queues(app).tables["dispatch"].get_row_at(0)
        assert "建议 河西区城市管理委员会（HX-CG）" in str(row[4])  # the call screen's suggestion, on the row
        form = await open_row(app, pilot, "dispatch", no)
        field = form.query_one("#decide-units", Input)
        assert field.value == "HX-CG"  # the unit the call screen would suggest (keyword 路灯)
        assert "河西区城市管理委员会" in text_of(form.body)
        preview = text_of(form.preview)
        assert "办理时限 2025-02-07 16:00:00" in preview  # 5 WD over Spring Festival (01-26 调休)
        field.value = ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "请选择承办单位" in str(form.error.content) and assignments_of(w, no) == []
        field.value = "HX-CG, SW"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CentreQueueScreen) and "已派单" in notes(app)
        assert rows(app, "dispatch") == []
    assert sorted((a.role, a.status) for a in assignments_of(w, no)) == [
        ("co", "pending"),
        ("lead", "pending"),
    ]


async def test_return_rejected_keeps_the_deadline_and_approved_redispatches(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = dispatched(w, "小区电梯停运一周")
    req = hd.request_return(
        w.at("2025-01-24T17:00:00").as_("cg"), aid, "not_our_duty",
        {"reason": "电梯属特种设备", "basis": "《特种设备安全法》", "suggested_unit": "市场监管局"},
    )  # fmt: skip
    due = assignment(w, aid).due_at
    app = HotlineApp(w.at("2025-01-25T10:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        form = await open_row(app, pilot, "returns", no)
        body = text_of(form.body)
        assert "《特种设备安全法》" in body and "电梯属特种设备" in body and "小区电梯停运一周" in body
        await decide(pilot, form, "no")
        assert "不同意退回须说明理由" in str(form.error.content)  # T24 17
        await decide(pilot, form, "no", "属物业管理范畴，请督促物业维修")
        assert isinstance(app.screen, CentreQueueScreen) and "办理时限不重新计算" in notes(app)
    assert request_of(w, req.id or 0).status == "rejected"
    a = assignment(w, aid)
    assert a.status == "pending" and a.due_at == due  # GZ 15(2)

    req2 = hd.request_return(
        w.at("2025-01-25T11:00:00").as_("cg"), aid, "not_our_duty",
        {"reason": "电梯属特种设备", "basis": "《特种设备安全法》第五条", "suggested_unit": "市场监管局"},
    )  # fmt: skip
    app = HotlineApp(w.at("2025-01-25T12:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        form = await open_row(app, pilot, "returns", no)
        form.query_one("#decide-units", Input).value = "HX-ZJ"
        await settle(app, pilot)
        assert "河西区住房和建设委员会（承办）办理时限" in text_of(form.preview)
        await decide(pilot, form, "yes")
        assert isinstance(app.screen, CentreQueueScreen) and "已重新派往 HX-ZJ" in notes(app)
    assert request_of(w, req2.id or 0).status == "approved"
    new = [a for a in assignments_of(w, no) if a.id != aid]
    assert len(new) == 1 and new[0].status == "pending" and new[0].due_at > due  # GZ 15(1): restarts


async def test_designation_after_three_returns_records_whom_was_consulted(sqlite_world: World) -> None:
    # GZ 16; T24 17 第三款: returned the profile's number of times → designated after consulting
    w = sqlite_world
    no = ticket(w, "两个小区之间的围墙倒塌，谁都不管", at="2025-01-24T09:00:00")
    for i, (unit, user) in enumerate((("HX-CG", "cg"), ("HX-ZJ", "zj"), ("SW", "sw"))):
        [a] = dispatch(w.at(f"2025-01-24T1{i}:00:00").as_("disp1"), no, [unit])
        req = hd.request_return(
            w.at(f"2025-01-24T1{i}:10:00").as_(user), a.id or 0, "not_our_duty",
            {"reason": "非本单位职责", "basis": "三定方案", "suggested_unit": "另一单位"},
        )  # fmt: skip
        rv.review_return(w.at(f"2025-01-24T1{i}:20:00").as_("disp1"), req.id or 0, approve=True)
    app = HotlineApp(w.at("2025-01-24T15:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert rows(app, "designation") == [no] and rows(app, "dispatch") == []
        form = await open_row(app, pilot, "designation", no)
        assert "已退回3次" in text_of(form.body)
        form.query_one("#decide-units", Input).value = "HX-CG"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "征求意见" in str(form.error.content) and "第十七条第三款" in str(form.error.content)
        form.query_one("#decide-consulted", Input).value = "区委编办、区司法局"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CentreQueueScreen) and "已指定" in notes(app)
        await pilot.press("A")  # designation is never done in bulk
        await pilot.pause()
    live = [a for a in assignments_of(w, no) if a.status == "pending"]
    assert len(live) == 1 and live[0].designated


async def test_extension_stop_reply_and_appeal_decisions(sqlite_world: World) -> None:
    w = sqlite_world
    ext_no, ext_aid = accepted(w, "路面塌陷")
    ext = hd.request_extension(
        w.at("2025-01-27T10:00:00").as_("cg"), ext_aid, reason="需联合施工", contacted_at="2025-01-27 09:30",
        caller_consent=True, caller_opinion="同意",
    )  # fmt: skip
    stop_no, stop_aid = accepted(w, "要求拆除邻居摄像头")
    stop = hd.request_stop(
        w.at("2025-01-27T10:00:00").as_("cg"), stop_aid, "refuses_cooperation", "三次上门均拒绝"
    )
    rep_no, rep_aid = accepted(w, "友谊路路灯不亮")
    hd.reply(w.at("2025-01-27T11:00:00").as_("cg"), rep_aid, GOOD_REPLY)
    app_no, app_aid = accepted(w, "要求免除物业费")
    hd.reply(w.at("2025-01-27T11:00:00").as_("cg"), app_aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), app_aid, approve=True)
    cb.record_callback(
        w.as_("cb1"), app_no, reached=True, satisfaction="dissatisfied", reason="unreasonable", rehandle=False
    )
    appeal = ap.appeal(w.at("2025-01-28T10:00:00").as_("cg"), app_aid, "已按政策解释", "通话录音2段")
    old_due = assignment(w, ext_aid).due_at
    app = HotlineApp(w.at("2025-01-28T11:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        form = await open_row(app, pilot, "extensions", ext_no)
        assert "批准后" in text_of(form.body) and "已延期" in text_of(form.body)
        await decide(pilot, form, "yes")
        assert isinstance(app.screen, CentreQueueScreen) and "已同意延期" in notes(app)

        form = await open_row(app, pilot, "stops", stop_no)
        assert "三次上门均拒绝" in text_of(form.body)
        await decide(pilot, form, "no")
        assert "不同意终止办理须说明理由" in str(form.error.content)
        await decide(pilot, form, "yes", "材料齐全")

        form = await open_row(app, pilot, "replies", rep_no)
        assert "要素齐全" in text_of(form.body)
        await decide(pilot, form, "no")
        assert "退回答复须写明需补充或改正的内容" in str(form.error.content)  # GZ 19
        await decide(pilot, form, "no", "请写明井盖更换的具体位置")
        assert "时限不重新计算" in notes(app)

        form = await open_row(app, pilot, "appeals", app_no)
        assert "通话录音2段" in text_of(form.body) and "诉求不合理未得到满足" in text_of(form.body)
        await decide(pilot, form, "yes", "确已尽责")
        assert "申诉成立" in notes(app)
        for queue in ("extensions", "stops", "replies", "appeals"):
            assert rows(app, queue) == []
    a = assignment(w, ext_aid)
    assert a.extensions == 1 and a.due_at > old_due and request_of(w, ext.id or 0).status == "approved"
    assert assignment(w, stop_aid).status == "stopped" and request_of(w, stop.id or 0).status == "approved"
    assert assignment(w, rep_aid).status == "handling"
    assert request_of(w, appeal.id or 0).status == "approved"


# ---------------------------------------------------------------- bulk


async def test_bulk_approve_checks_each_and_says_what_was_refused(sqlite_world: World) -> None:
    w = sqlite_world
    nos = []
    for text in ("路面塌陷", "井盖缺失", "树木倒伏"):
        no, aid = accepted(w, text)
        hd.request_extension(
            w.at("2025-01-27T10:00:00").as_("cg"), aid, reason="需联合施工", contacted_at="2025-01-27 09:30",
            caller_consent=True, caller_opinion="同意",
        )  # fmt: skip
        nos.append((no, aid))
    hd.reply(w.at("2025-01-27T11:00:00").as_("cg"), nos[1][1], GOOD_REPLY)  # its request is now moot
    app = HotlineApp(w.at("2025-01-27T12:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert len(rows(app, "extensions")) == 2  # the replied order's request was withdrawn with the reply
        await pilot.press("3", "space", "space")
        assert len(queues(app).selected["extensions"]) == 2
        await pilot.press("R")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, BulkScreen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "批量驳回须写明理由" in str(form.error.content)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        result = app.screen
        assert isinstance(result, ConfirmScreen) and "已办理 2 件" in str(result.body.content)
    assert assignment(w, nos[0][1]).extensions == 1 and assignment(w, nos[2][1]).extensions == 1


async def test_bulk_dispatch_to_one_unit_reports_refusals(sqlite_world: World) -> None:
    w = sqlite_world
    a = ticket(w, "友谊路路灯不亮", at="2025-01-24T10:00:00")
    b = ticket(w, "围堤道路灯闪烁", at="2025-01-24T11:00:00")
    app = HotlineApp(w.at("2025-01-24T16:00:00").as_("disp1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("space", "space")
        # meanwhile another dispatcher sends B elsewhere: the bulk run must refuse it, not send it twice
        dispatch(w.as_("disp1"), b, ["SW"])
        await pilot.press("A")
        await settle(app, pilot)
        assert isinstance(app.screen, BulkScreen)
        app.screen.query_one("#bulk-units", Input).value = "HX-CG"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        result = app.screen
        assert isinstance(result, ConfirmScreen)
        body = str(result.body.content)
        assert "已办理 1 件" in body and a in body and "未通过 1 件" in body and b in body
    assert [x.unit_id for x in assignments_of(w, b)] != [] and len(assignments_of(w, b)) == 1


async def test_queues_are_for_centre_staff(sqlite_world: World) -> None:
    from hotline_tui.errors import PermissionDenied
    from hotline_tui.services.queues import load_queues

    with pytest.raises(PermissionDenied, match="无权查看中心审核队列"):
        load_queues(sqlite_world.as_("cg"))
    app = HotlineApp(sqlite_world.as_("cg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.check_action("open_queues", ())


# ---------------------------------------------------------------- snapshots


@pytest.fixture
def centre_work(sqlite_world: World) -> World:
    w = sqlite_world
    ticket(w, "围堤道占道经营，摊贩堵住盲道", at="2025-01-24T09:00:00")
    ticket(w, "供水管爆裂，路面积水结冰", at="2025-01-24T15:00:00", urgency="very_urgent")
    no, aid = dispatched(w, "小区电梯停运一周")
    hd.request_return(
        w.at("2025-01-24T17:00:00").as_("cg"), aid, "not_our_duty",
        {"reason": "电梯属特种设备", "basis": "《特种设备安全法》第五条", "suggested_unit": "区市场监管局"},
    )  # fmt: skip
    rep_no, rep_aid = accepted(w, "友谊路路灯不亮")
    hd.reply(w.at("2025-01-27T11:00:00").as_("cg"), rep_aid, GOOD_REPLY)
    w.at("2025-01-27T12:00:00")
    return w


async def _queues_ready(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)  # type: ignore[arg-type]


async def _decision_ready(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)  # type: ignore[arg-type]
    await pilot.press("2", "enter")
    await settle(pilot.app, pilot)  # type: ignore[arg-type]
    await pilot.wait_for_scheduled_animations()  # focusing the first field scrolls the form
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_queues(
    snap_compare: Callable[..., bool], centre_work: World, size: tuple[int, int]
) -> None:
    assert snap_compare(HotlineApp(centre_work.as_("disp1")), terminal_size=size, run_before=_queues_ready)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_return_decision(
    snap_compare: Callable[..., bool], centre_work: World, size: tuple[int, int]
) -> None:
    assert snap_compare(HotlineApp(centre_work.as_("disp1")), terminal_size=size, run_before=_decision_ready)


async def test_a_supervisor_reaches_the_queues_and_the_callback_queue(sqlite_world: World) -> None:
    from hotline_tui.screens.callback import CallbackQueueScreen

    w = sqlite_world
    ticket(w, "围堤道占道经营", at="2025-01-24T09:00:00")
    app = HotlineApp(w.at("2025-01-24T10:00:00").as_("sup1"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("f10")
        await settle(app, pilot)
        assert isinstance(app.screen, CentreQueueScreen) and len(rows(app, "dispatch")) == 1
        assert app.check_action("open_callbacks", ())
        app.action_open_callbacks()
        await settle(app, pilot)
        assert isinstance(app.screen, CallbackQueueScreen)
