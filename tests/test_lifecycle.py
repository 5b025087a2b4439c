"""The work-order lifecycle through the services, each rule with its article, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from hotline_tui.clock import iso
from hotline_tui.db import read_session
from hotline_tui.errors import ConcurrentUpdate, HotlineError, InvalidInput, PermissionDenied, RuleViolation
from hotline_tui.models import Assignment, Event, KBEntry, Ticket, UnitRequest
from hotline_tui.services import appeal as ap
from hotline_tui.services import callback as cb
from hotline_tui.services import dispatch as dp
from hotline_tui.services import handling as hd
from hotline_tui.services import intake
from hotline_tui.services import review as rv
from hotline_tui.services.privacy import reveal_caller
from hotline_tui.services.queries import ticket_detail
from tests.conftest import World

GOOD_REPLY = (
    "1月27日9时，区城管委照明所工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)
NOT_DUTY = {"reason": "该路段属于市政道路", "basis": "《天津市城市道路管理条例》", "suggested_unit": "JTW"}


def snapshot(w: World) -> tuple[Any, ...]:
    """Every row a refused action must leave untouched, and the event count."""
    with read_session(w.engine) as s:
        tickets = [tuple(t.model_dump().values()) for t in s.exec(select(Ticket).order_by(col(Ticket.id)))]
        asg = [
            tuple(a.model_dump().values()) for a in s.exec(select(Assignment).order_by(col(Assignment.id)))
        ]
        reqs = [
            tuple(r.model_dump().values()) for r in s.exec(select(UnitRequest).order_by(col(UnitRequest.id)))
        ]
        events = len(s.exec(select(Event.id)).all())
    return tuple(map(str, tickets)), tuple(map(str, asg)), tuple(map(str, reqs)), events


def refused(
    w: World, call: Callable[[], Any], fragment: str, kind: type[HotlineError] = RuleViolation
) -> str:
    """The call raises a domain error whose Chinese message contains ``fragment`` and changes nothing."""
    before = snapshot(w)
    with pytest.raises(kind) as exc:
        call()
    assert fragment in exc.value.message, exc.value.message
    assert snapshot(w) == before
    return exc.value.message


def events_of(w: World, no: str) -> list[str]:
    with read_session(w.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.no == no)).one()
        return [e.kind for e in s.exec(select(Event).where(Event.ticket_id == t.id).order_by(col(Event.id)))]


def new_ticket(w: World, **kw: Any) -> str:
    form = intake.IntakeForm(
        type=kw.pop("type", "complaint"),
        channel=kw.pop("channel", "phone"),
        text=kw.pop("text", "河西区友谊路与围堤道交口路灯坏了一周，晚上行人看不清路，希望尽快修复"),
        caller_phone=kw.pop("phone", "13812345678"),
        caller_name=kw.pop("name", "张三"),
        **kw,
    )
    return intake.create_ticket(w.as_("agent1"), form).no


def assignment(w: World, no: str, unit: str | None = None) -> Assignment:
    with read_session(w.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.no == no)).one()
        rows = list(
            s.exec(select(Assignment).where(Assignment.ticket_id == t.id).order_by(col(Assignment.id)))
        )
    if unit is None:
        return rows[-1]
    from hotline_tui.models import Unit

    with read_session(w.engine) as s:
        uid = s.exec(select(Unit.id).where(Unit.code == unit)).one()
    return [a for a in rows if a.unit_id == uid][-1]


def ticket(w: World, no: str) -> Ticket:
    with read_session(w.engine) as s:
        return s.exec(select(Ticket).where(Ticket.no == no)).one()


def dispatched(w: World, unit: str = "HX-CG", **kw: Any) -> tuple[str, int]:
    no = new_ticket(w, **kw)
    a = dp.dispatch(w.as_("agent1"), no, [unit])[0]
    assert a.id is not None
    return no, a.id


def accepted(w: World, unit: str = "HX-CG", officer: str = "cg", **kw: Any) -> tuple[str, int]:
    no, aid = dispatched(w, unit, **kw)
    hd.accept(w.as_(officer), aid)
    return no, aid


# ---------------------------------------------------------------- intake and triage


def test_full_lifecycle_one_event_per_change(world: World) -> None:
    w = world
    no, aid = dispatched(w)
    assert iso(assignment(w, no).due_at) == "2025-02-07T16:00:00+08:00"  # TTR 11(1): complaint 5 WD
    w.at("2025-01-24T17:00:00")
    hd.accept(w.as_("cg"), aid)
    w.at("2025-01-27T10:00:00")
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    assert ticket(w, no).status == "callback"
    cb.record_callback(w.as_("cb1"), no, reached=True, satisfaction="satisfied", solved=True)
    t = ticket(w, no)
    assert t.status == "closed" and t.satisfaction == "satisfied"
    assert events_of(w, no) == ["created", "dispatched", "accepted", "replied", "reply_approved", "callback"]


def test_phone_number_is_validated_with_a_clear_message(world: World) -> None:
    msg = refused(world, lambda: new_ticket(world, phone="12345"), "联系电话格式不正确", InvalidInput)
    assert "13812345678" in msg  # the message shows what a valid number looks like
    new_ticket(world, phone="022-23456789")  # a landline with area code is fine


def test_intake_records_triage_without_acting_on_it(world: World) -> None:
    # T24 13(1): the finding is stored; the agent decides (and records the transfer with refer)
    no = new_ticket(world, text="楼下饭店厨房着火了，浓烟很大，已经有人被困", urgency="critical")
    assert ticket(world, no).triage_class == "emergency"
    refused(
        world,
        lambda: intake.refer(world.as_("agent1"), no, "emergency", "114"),
        "110/119/120/122",
        InvalidInput,
    )
    intake.refer(world.as_("agent1"), no, "emergency", "119")
    t = ticket(world, no)
    assert (t.status, t.route) == ("referred", "119")
    refused(world, lambda: dp.dispatch(world.as_("agent1"), no, ["HX-CG"]), "只有待派单的工单可以派单")


def _kb(w: World, entry_id: str, valid_from: str | None = None, valid_to: str | None = None) -> None:
    from datetime import date

    from hotline_tui.db import write_session

    with write_session(w.engine) as s:
        s.add(
            KBEntry(
                id=entry_id,
                title="城乡居民医保缴费标准",
                body="2025年度城乡居民医保个人缴费标准为每人每年380元。",
                updated_at=w.clock.now(),
                valid_from=date.fromisoformat(valid_from) if valid_from else None,
                valid_to=date.fromisoformat(valid_to) if valid_to else None,
            )
        )


def test_answer_on_the_spot_only_for_consults_with_a_current_entry(world: World) -> None:
    w = world
    _kb(w, "YB-001")
    _kb(w, "YB-OLD", valid_to="2024-12-31")
    _kb(w, "YB-NEW", valid_from="2025-02-01")
    complaint = new_ticket(w)
    refused(
        w, lambda: intake.answer_on_spot(w.as_("agent1"), complaint, "YB-001"), "只有咨询类诉求可以当场答复"
    )  # T24 15
    consult = new_ticket(w, type="consult", text="想问一下今年城乡居民医保每人交多少钱")
    refused(w, lambda: intake.answer_on_spot(w.as_("agent1"), consult, "YB-OLD"), "已于 2024-12-31 失效")
    refused(w, lambda: intake.answer_on_spot(w.as_("agent1"), consult, "YB-NEW"), "即将生效")
    refused(w, lambda: intake.answer_on_spot(w.as_("agent1"), consult, "NOPE"), "不存在", InvalidInput)
    intake.answer_on_spot(w.as_("agent1"), consult, "YB-001")
    t = ticket(w, consult)
    assert (t.status, t.kb_entry_id) == ("answered", "YB-001")


# ---------------------------------------------------------------- dispatch


def test_lead_and_co_units_and_combined_reply(world: World) -> None:
    w = world
    no = new_ticket(w, text="小区门口道路塌陷，井盖松动，路灯也不亮，请城管和住建一起处理")
    lead, co = dp.dispatch(w.as_("disp1"), no, ["HX-CG", "HX-ZJ"])
    assert (lead.role, co.role) == ("lead", "co")
    assert lead.id is not None and co.id is not None
    hd.accept(w.as_("cg"), lead.id)
    hd.accept(w.as_("zj"), co.id)
    # TTR 9: the lead gives one combined answer after the co-units have reported
    refused(
        w, lambda: hd.reply(w.as_("cg"), lead.id or 0, GOOD_REPLY), "协办单位河西区住房和建设委员会尚未反馈"
    )
    hd.reply(w.as_("zj"), co.id, GOOD_REPLY.replace("照明所", "住建委"))
    hd.reply(w.as_("cg"), lead.id, GOOD_REPLY)
    refused(w, lambda: rv.review_reply(w.as_("disp1"), co.id or 0, approve=True), "由牵头单位汇总答复")
    rv.review_reply(w.as_("disp1"), lead.id, approve=True)
    assert {a.status for a in (assignment(w, no, "HX-CG"), assignment(w, no, "HX-ZJ"))} == {"approved"}
    assert ticket(w, no).status == "callback"


def test_split_dispatch_makes_one_ticket_per_unit(world: World) -> None:
    # T24 15 第二款: demands for different units are dispatched separately
    w = world
    no = new_ticket(w, text="一是小区路灯不亮，二是楼下自来水管漏水一直没人修")
    nos = dp.split_dispatch(
        w.as_("disp1"), no, [("HX-CG", "小区路灯不亮"), ("SW", "楼下自来水管漏水一直没人修")]
    )
    assert nos[0] == no and len(nos) == 2
    child = ticket(w, nos[1])
    assert child.parent_id == ticket(w, no).id and child.caller_phone == "13812345678"
    assert assignment(w, nos[1]).unit_id != assignment(w, no).unit_id
    assert events_of(w, nos[1]) == ["split_created"]


def test_centre_is_not_a_handling_unit_and_units_must_exist(world: World) -> None:
    no = new_ticket(world)
    refused(world, lambda: dp.dispatch(world.as_("agent1"), no, ["CENTRE"]), "不能作为承办单位", InvalidInput)
    refused(world, lambda: dp.dispatch(world.as_("agent1"), no, ["NOPE"]), "承办单位不存在", HotlineError)
    refused(world, lambda: dp.dispatch(world.as_("agent1"), no, ["HX-CG", "HX-CG"]), "重复", InvalidInput)


def test_roles_are_checked_in_services(world: World) -> None:
    no, aid = dispatched(world)
    refused(world, lambda: hd.accept(world.as_("agent1"), aid), "仅限承办单位联络员", PermissionDenied)
    refused(world, lambda: hd.accept(world.as_("zj"), aid), "未派给您所在单位", PermissionDenied)
    refused(
        world,
        lambda: intake.create_ticket(world.as_("cg"), intake.IntakeForm("consult", "phone", "问一下社保")),
        "无权受理诉求",
        PermissionDenied,
    )
    refused(world, lambda: dp.dispatch(world.as_("cb1"), no, ["HX-CG"]), "无权派单", PermissionDenied)
    # a parent unit's officer acts for its sub-unit
    no2, aid2 = dispatched(world, "HX-CG-ZM")
    hd.accept(world.as_("cg"), aid2)


def test_liaison_sees_masked_caller_and_only_their_orders(world: World) -> None:
    no, _ = dispatched(world)
    detail = ticket_detail(world.as_("cg"), no)
    assert detail["caller"]["phone"] == "138****5678" and detail["caller"]["name"] == "张*"
    refused(world, lambda: ticket_detail(world.as_("zj"), no), "无权查看", PermissionDenied)
    secret = new_ticket(world, confidential=True)
    dp.dispatch(world.as_("agent1"), secret, ["HX-CG"])
    assert ticket_detail(world.as_("cg"), secret)["caller"]["phone"] == "（保密）"
    # the centre sees it masked too until it reveals it with a reason (T24 27), which is audited
    assert ticket_detail(world.as_("disp1"), secret)["caller"]["phone"] == "138****5678"
    assert "pii_revealed" not in events_of(world, secret)
    assert reveal_caller(world.as_("disp1"), secret, "核实诉求人身份")["fields"]["phone"] == "13812345678"
    assert "pii_revealed" in events_of(world, secret)


# ---------------------------------------------------------------- acceptance


def test_late_accept_is_recorded(world: World) -> None:
    # TTR 8(1): accept within 3 hours of dispatch; later accepts are recorded for supervision
    no, aid = dispatched(world)
    world.at("2025-01-24T19:00:01")
    a = hd.accept(world.as_("cg"), aid)
    assert a.accepted_late
    refused(world, lambda: hd.accept(world.as_("cg"), aid), "不能重复接单")


# ---------------------------------------------------------------- returns


def test_return_window_one_working_day_or_two_when_complex(world: World) -> None:
    # T24 17: within 1 WD of receipt, 2 WD for complex matters; after that the unit must handle it
    w = world
    no, aid = dispatched(w)
    w.at("2025-01-26T16:00:01")  # WD1 is Sunday 01-26 (调休); one second past the window
    msg = refused(w, lambda: hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY), "已超过退单时限")
    assert "天津办法第十七条" in msg and "疑难复杂" in msg
    req = hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY, complex_case=True)
    assert req.payload["complex"] is True
    w.at("2025-01-27T16:00:01")
    no2, aid2 = dispatched(w)
    w.at("2025-01-30T10:00:00")  # Spring Festival: the window of 1 WD ends 02-05 16:00
    hd.request_return(w.as_("cg"), aid2, "not_our_duty", NOT_DUTY)


def test_transport_units_have_a_24_hour_return_window(world: World) -> None:
    # TTR 8(3)1: the transport commission's units return within 24 hours (unit group override)
    w = world
    no, aid = dispatched(w, "JTW-YS")
    a = assignment(w, no)
    assert iso(a.return_due_at) == "2025-01-25T16:00:00+08:00"
    w.at("2025-01-25T16:00:01")
    refused(
        w, lambda: hd.request_return(w.as_("ys"), aid, "not_our_duty", NOT_DUTY), "天津交通运输委规程第八条"
    )


def test_return_reasons_require_their_fields(world: World) -> None:
    # TTR 8(3): each reason with its required content
    w = world
    no, aid = dispatched(w)
    msg = refused(
        w,
        lambda: hd.request_return(w.as_("cg"), aid, "not_our_duty", {"reason": "不归我们管"}),
        "依据、建议承办单位",
        InvalidInput,
    )
    assert "第八条第（三）项第1目" in msg
    refused(
        w, lambda: hd.request_return(w.as_("cg"), aid, "because", {}), "退单理由不在允许范围内", InvalidInput
    )
    refused(
        w,
        lambda: hd.request_return(w.as_("cg"), aid, "kb_answers", {"kb_entry": "NOPE"}),
        "知识库条目不存在",
        InvalidInput,
    )
    refused(w, lambda: hd.request_return(w.as_("cg"), aid, "legal_procedure", {}), "文件编号", InvalidInput)


def test_info_missing_returns_only_once(world: World) -> None:
    # TTR 8(3)2: list all items to re-check at once; no repeated returns for re-checks
    w = world
    no, aid = dispatched(w)
    req = hd.request_return(w.as_("cg"), aid, "info_missing", {"items": ["具体门牌号", "路灯编号"]})
    assert req.id is not None
    rv.review_return(w.as_("disp1"), req.id, approve=True, redispatch_to=["HX-CG"])
    aid2 = assignment(w, no).id or 0
    refused(
        w,
        lambda: hd.request_return(w.as_("cg"), aid2, "info_missing", {"items": ["楼号"]}),
        "不得以同一理由反复退单",
    )


def test_one_open_return_per_assignment_and_no_reply_meanwhile(world: World) -> None:
    w = world
    no, aid = accepted(w)
    hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY)
    refused(w, lambda: hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY), "不能重复申请")
    refused(w, lambda: hd.reply(w.as_("cg"), aid, GOOD_REPLY), "退单申请审核中")


def test_special_labels_restrict_returns(world: World) -> None:
    # TTR 13: 【互联网+督查】 needs the inspection office's consent; other labels: contact the caller first
    w = world
    no, aid = dispatched(w, labels=("互联网+督查",))
    refused(w, lambda: hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY), "督查部门同意")
    hd.request_return(
        w.as_("cg"), aid, "not_our_duty", {**NOT_DUTY, "inspection_consent": "市政府督查室1月24日同意"}
    )
    no2, aid2 = dispatched(w, labels=("【中国政府网留言】",))
    refused(w, lambda: hd.request_return(w.as_("cg"), aid2, "not_our_duty", NOT_DUTY), "不得轻易退单")


def test_return_review_approve_restarts_reject_does_not(world: World) -> None:
    w = world
    no, aid = dispatched(w)
    old_due = assignment(w, no).due_at
    req = hd.request_return(w.as_("cg"), aid, "not_our_duty", NOT_DUTY)
    w.at("2025-01-24T18:00:00")
    refused(
        w, lambda: rv.review_return(w.as_("disp1"), req.id or 0, approve=False), "须说明理由", InvalidInput
    )
    rv.review_return(w.as_("disp1"), req.id or 0, approve=False, note="路灯属区城管委职责")
    assert assignment(w, no).due_at == old_due  # GZ 15(2): deadline does not restart
    req2 = hd.request_return(w.as_("cg"), aid, "not_our_duty", {**NOT_DUTY, "reason": "补充理由"})
    w.at("2025-01-26T09:00:00")
    rv.review_return(w.as_("disp1"), req2.id or 0, approve=True, redispatch_to=["JTW"])
    a = assignment(w, no)
    assert a.unit_id != assignment(w, no, "HX-CG").unit_id
    # GZ 15(1): restarts from the re-dispatch on Sunday 01-26 (调休); 02-08 is a 调休 Saturday too
    assert iso(a.due_at) == "2025-02-08T09:00:00+08:00"
    assert ticket(w, no).returns == 1
    assert events_of(w, no)[-1] == "return_approved"


def test_designation_after_three_returns_and_no_return_by_designated_unit(world: World) -> None:
    # T24 17 第三款; GZ 16: returned 3 times → the authority designates; the designated unit cannot return
    w = world
    no, aid = dispatched(w)
    returns = [("cg", "HX-ZJ"), ("zj", "SW"), ("sw", None)]
    for officer, nxt in returns:
        req = hd.request_return(w.as_(officer), aid, "not_our_duty", NOT_DUTY)
        rv.review_return(w.as_("disp1"), req.id or 0, approve=True, redispatch_to=[nxt] if nxt else None)
        if nxt:
            aid = assignment(w, no).id or 0
    assert ticket(w, no).returns == 3 and ticket(w, no).status == "new"
    refused(w, lambda: dp.dispatch(w.as_("disp1"), no, ["HX-CG"]), "应征求相关部门意见后指定承办单位")
    refused(
        w, lambda: dp.dispatch(w.as_("disp1"), no, ["HX-CG"], designate=True), "征求意见的部门", InvalidInput
    )
    a = dp.dispatch(w.as_("disp1"), no, ["HX-CG"], designate=True, consulted="市委编办")[0]
    assert a.designated
    refused(w, lambda: hd.request_return(w.as_("cg"), a.id or 0, "not_our_duty", NOT_DUTY), "不得退回")
    assert events_of(w, no)[-1] == "designated"


# ---------------------------------------------------------------- extensions


def _ext(w: World, aid: int, officer: str = "cg", consent: bool = True) -> UnitRequest:
    return hd.request_extension(
        w.as_(officer),
        aid,
        reason="需协调供电公司更换电缆",
        contacted_at="1月27日9时",
        caller_consent=consent,
        caller_opinion="同意延期",
    )


def test_extension_limits(world: World) -> None:
    w = world
    no, aid = accepted(w)
    refused(w, lambda: _ext(w, aid, consent=False), "征得反映人同意")  # TTR 14
    w.at("2025-02-06T16:00:01")  # less than one day before the 02-07 16:00 deadline
    refused(w, lambda: _ext(w, aid), "到期前至少1日")  # TTR 14
    w.at("2025-02-06T16:00:00")
    req = _ext(w, aid)
    refused(w, lambda: _ext(w, aid), "已有延期申请正在审核")
    rv.review_extension(w.as_("disp1"), req.id or 0, approve=True)
    # GZ 18: each extension as long as the original period, counted from the current deadline
    assert iso(assignment(w, no).due_at) == "2025-02-13T16:00:00+08:00"  # 02-08 (Sat) is a 调休 working day
    req2 = _ext(w, aid)
    rv.review_extension(w.as_("disp1"), req2.id or 0, approve=True)
    assert iso(assignment(w, no).due_at) == "2025-02-20T16:00:00+08:00"
    msg = refused(w, lambda: _ext(w, aid), "已延期2次，不得再次延期")
    assert "天津交通运输委规程第十四条" in msg


def test_extension_reject_keeps_the_deadline(world: World) -> None:
    w = world
    no, aid = accepted(w)
    due = assignment(w, no).due_at
    req = _ext(w, aid)
    rv.review_extension(w.as_("disp1"), req.id or 0, approve=False, note="理由不充分")
    assert assignment(w, no).due_at == due


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"type": "consult"}, "咨询类工单不得申请延期"),  # TTR 14(2)
        ({"urgency": "urgent"}, "“急”的工单不得申请延期"),  # TTR 14(2)
        ({"urgency": "very_urgent"}, "“紧急”的工单不得申请延期"),  # TTR 14(2)
        ({"labels": ("重大舆情",)}, "【重大舆情】标签的工单不得申请延期"),  # TTR 14(1)
    ],
)
def test_extension_forbidden_kinds(world: World, kw: dict[str, Any], fragment: str) -> None:
    no, aid = accepted(world, **kw)
    refused(world, lambda: _ext(world, aid), fragment)


def test_extension_needs_acceptance_first(world: World) -> None:
    no, aid = dispatched(world)
    refused(world, lambda: _ext(world, aid), "只有已接单、办理中的派单可以申请延期")


# ---------------------------------------------------------------- stop handling


def test_stop_handling_after_review(world: World) -> None:
    # TA 15(5)(6): with materials, after the centre's review
    w = world
    no, aid = accepted(w)
    refused(w, lambda: hd.request_stop(w.as_("cg"), aid, "refuses_cooperation", ""), "相关材料", InvalidInput)
    refused(w, lambda: hd.request_stop(w.as_("cg"), aid, "bored", "x"), "不在允许范围内", InvalidInput)
    req = hd.request_stop(w.as_("cg"), aid, "refuses_cooperation", "三次电话联系均拒绝提供具体地址，录音备查")
    rv.review_stop(w.as_("disp1"), req.id or 0, approve=True)
    assert ticket(w, no).status == "stopped" and assignment(w, no).status == "stopped"


# ---------------------------------------------------------------- reply and review


def test_reply_checker_blocks_bad_replies(world: World) -> None:
    # TTR 16: required elements; no vague, process-only or template answers
    w = world
    no, aid = accepted(w)
    msg = refused(w, lambda: hd.reply(w.as_("cg"), aid, "已解决"), "答复不符合要求")
    assert "第十六条" in msg
    refused(
        w,
        lambda: hd.reply(w.as_("cg"), aid, "您反映的问题已转供电公司处理，目前正在办理中。"),
        "答复不符合要求",
    )


def test_sent_back_reply_keeps_the_deadline(world: World) -> None:
    # GZ 19: a reply sent back is handled further; the deadline does not restart
    w = world
    no, aid = accepted(w)
    due = assignment(w, no).due_at
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    refused(w, lambda: rv.review_reply(w.as_("disp1"), aid, approve=False), "需补充或改正", InvalidInput)
    w.at("2025-01-28T10:00:00")
    rv.review_reply(w.as_("disp1"), aid, approve=False, note="请写明更换线路的具体位置")
    a = assignment(w, no)
    assert (a.status, a.due_at) == ("handling", due)
    assert ticket(w, no).status == "dispatched"


def test_overdue_reply_is_marked(world: World) -> None:
    w = world
    no, aid = accepted(w)
    w.at("2025-02-07T16:00:01")
    a = hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    assert a.overdue_at_close


# ---------------------------------------------------------------- callback, re-handling, appeal


def _to_callback(w: World, **kw: Any) -> tuple[str, int]:
    no, aid = accepted(w, **kw)
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    return no, aid


def test_anonymous_and_no_reply_orders_skip_the_callback(world: World) -> None:
    # TTR 19(3): anonymous; T24 16: the caller asked for no reply
    no, _ = _to_callback(world, anonymous=True)
    assert ticket(world, no).status == "closed"
    assert events_of(world, no)[-1] == "reply_approved"
    no2, _ = _to_callback(world, no_reply=True)
    assert ticket(world, no2).status == "closed"


def test_first_dissatisfied_rehandles_once_without_extension(world: World) -> None:
    # T24 18 第二款; GZ 20: first dissatisfied → re-handling once, same requirements, no extension
    w = world
    no, aid = _to_callback(w)
    w.at("2025-02-05T10:00:00")
    cb.record_callback(
        w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", solved=False, reason="unsolved"
    )
    a = assignment(w, no)
    assert (ticket(w, no).status, a.status, a.rehandling) == ("rehandling", "handling", True)
    assert iso(a.due_at) == "2025-02-11T10:00:00+08:00"  # a fresh original period from the re-dispatch
    refused(w, lambda: _ext(w, aid), "重新办理的工单不得延期")
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    refused(
        w,
        lambda: cb.record_callback(
            w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", rehandle=True
        ),
        "不能再次退回重办",
    )
    cb.record_callback(w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", reason="unsolved")
    t = ticket(w, no)
    assert (t.status, t.satisfaction, t.dissatisfied_count) == ("closed", "dissatisfied", 2)


def test_callback_attempts_close_after_the_limit(world: World) -> None:
    no, _ = _to_callback(world)
    for _ in range(2):
        cb.record_callback(world.as_("cb1"), no, reached=False)
        assert ticket(world, no).status == "callback"
    cb.record_callback(world.as_("cb1"), no, reached=False)
    assert ticket(world, no).status == "closed"


def _dissatisfied(w: World, reason: str = "unreasonable") -> tuple[str, int]:
    no, aid = _to_callback(w)
    cb.record_callback(
        w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", reason=reason, rehandle=False
    )
    return no, aid


def test_appeal_window_and_exclusions(world: World) -> None:
    # T24 23 第二款: written explanation and evidence; TTR 28: by the 6th of next month, exclusions
    w = world
    no, aid = _dissatisfied(w)
    refused(w, lambda: ap.appeal(w.as_("cg"), aid, "已依法解释", ""), "佐证材料", InvalidInput)
    refused(w, lambda: ap.appeal(w.as_("cg"), aid, "已解释", "录音", ["staff_attitude"]), "不得申诉")
    w.at("2025-02-06T23:59:59")  # rated in January: window ends 02-06 (a working day)
    req = ap.appeal(w.as_("cg"), aid, "已多次解释政策，诉求人要求超出规定", "通话录音2段")
    refused(w, lambda: ap.appeal(w.as_("cg"), aid, "再次申诉", "录音"), "不能重复申诉")
    ap.review_appeal(w.as_("sup1"), req.id or 0, accept=True, note="确已尽责")
    no2, aid2 = _dissatisfied(w)
    w.at("2025-03-07T00:00:00")  # rated 02-06 → window ends 03-06
    refused(w, lambda: ap.appeal(w.as_("cg"), aid2, "已解释", "录音"), "已超过申诉期限")
    w.at("2025-03-01T10:00:00")
    no3, aid3 = _dissatisfied(w, reason="staff_attitude")
    refused(w, lambda: ap.appeal(w.as_("cg"), aid3, "已解释", "录音"), "工作人员态度问题")


# ---------------------------------------------------------------- concurrency


def test_two_officers_on_the_same_order(world: World) -> None:
    w = world
    no, aid = dispatched(w)
    version = assignment(w, no).version
    hd.accept(w.as_("cg"), aid, expected_version=version)
    with pytest.raises(
        ConcurrentUpdate
    ) as exc:  # the same unit's second screen, still showing the old version
        hd.accept(w.as_("cg"), aid, expected_version=version)
    assert "已被他人修改" in exc.value.message
    assert events_of(w, no).count("accepted") == 1


def test_other_profiles_run_the_same_lifecycle(make_world: Callable[[str], World]) -> None:
    for name in ("guangzhou", "taian", "tianjin-2015"):
        w = make_world(name)
        no, aid = accepted(w)
        assert ticket(w, no).no.startswith(w.policy.ticket_prefix)
        good = GOOD_REPLY
        hd.reply(w.as_("cg"), aid, good)
        rv.review_reply(w.as_("disp1"), aid, approve=True)
        assert ticket(w, no).status in ("callback", "closed")


def test_a_parent_units_officer_sees_each_ticket_once(world: World) -> None:
    # the officer of HX-CG sees its sub-unit's orders too; a ticket with two of their assignments is one row
    from hotline_tui.services.queries import visible_tickets

    no = new_ticket(world)
    dp.dispatch(world.as_("disp1"), no, ["HX-CG", "HX-CG-ZM"])
    rows = visible_tickets(world.as_("cg"))
    assert [r.no for r in rows] == [no]


def test_a_reply_withdraws_open_requests_and_rehandling_cannot_be_extended(world: World) -> None:
    # GZ 20: a re-handling cannot be extended, not even by an extension requested before the reply
    w = world
    no, aid = accepted(w)
    req = _ext(w, aid)
    hd.reply(w.as_("cg"), aid, GOOD_REPLY)
    with read_session(w.engine) as s:
        assert s.get(UnitRequest, req.id).status == "withdrawn"  # type: ignore[union-attr]
    refused(w, lambda: rv.review_extension(w.as_("disp1"), req.id or 0, approve=True), "不能重复审核")
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    w.at("2025-02-05T10:00:00")
    cb.record_callback(w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", reason="unsolved")
    assert assignment(w, no).rehandling
    refused(w, lambda: _ext(w, aid), "重新办理的工单不得延期")


def test_guangzhou_has_no_stop_handling(make_world: Callable[[str], World]) -> None:
    # GZ has no 终止办理 article: the refusal says so instead of listing an empty set of reasons
    w = make_world("guangzhou")
    no, aid = accepted(w)
    msg = refused(
        w, lambda: hd.request_stop(w.as_("cg"), aid, "refuses_cooperation", "三次联系均拒绝"), "未设终止办理"
    )
    assert "广州" in msg
