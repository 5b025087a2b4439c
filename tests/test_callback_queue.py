"""The callback queue's services: the queue and its order, retries and the attempt limit, re-handling once
without extension, a new question as a linked order, the reproducible quality sample (TTR 17-21; T24 18;
GZ 20), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import col, select

from hotline_tui.clock import iso
from hotline_tui.db import read_session, write_session
from hotline_tui.errors import InvalidInput, PermissionDenied
from hotline_tui.models import Event, KBEntry, Ticket
from hotline_tui.services import callback_queue as cq
from hotline_tui.services import handling as hd
from hotline_tui.services import review as rv
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, answer_on_spot, create_ticket
from tests.conftest import World
from tests.test_lifecycle import GOOD_REPLY, assignment, events_of, refused, ticket


def to_callback(
    w: World,
    text: str = "友谊路路灯不亮三晚，晚上过马路看不见",
    *,
    at: str = "2025-01-24T09:00:00",
    approve_at: str = "2025-01-24T15:00:00",
    urgency: str = "normal",
    type_: str = "complaint",
    **kw: Any,
) -> tuple[str, int]:
    """An order through intake, dispatch, accept, reply and approval: waiting for its callback."""
    no = create_ticket(
        w.at(at).as_("agent1"),
        IntakeForm(
            type=type_,
            channel="phone",
            text=text,
            urgency=urgency,
            caller_name=kw.pop("name", "王先生"),
            caller_phone=kw.pop("phone", "13812345678"),
            **kw,
        ),
    ).no
    a = dispatch(w.as_("disp1"), no, ["HX-CG"])[0]
    assert a.id is not None
    hd.accept(w.as_("cg"), a.id)
    hd.reply(w.at(approve_at).as_("cg"), a.id, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), a.id, approve=True)
    return no, a.id


def add_kb(w: World, entry_id: str = "YB-001") -> None:
    with write_session(w.engine) as s:
        s.add(
            KBEntry(
                id=entry_id,
                title="城乡居民医保缴费标准",
                body="2025年度城乡居民医保个人缴费标准为每人每年380元。",
                updated_at=w.clock.now(),
            )
        )


def answered(w: World, n: int, *, at: str = "2025-01-23T10:00:00") -> list[str]:
    """``n`` consults answered on the spot from the KB at ``at``."""
    out = []
    for i in range(n):
        no = create_ticket(
            w.at(at).as_("agent1"),
            IntakeForm(
                type="consult",
                channel="phone",
                text=f"咨询城乡居民医保缴费标准（第{i + 1}位）",
                caller_name="李女士",
                caller_phone=f"1391234{i:04d}",
            ),
        ).no
        answer_on_spot(w.as_("agent1"), no, "YB-001")
        out.append(no)
    return out


def nos(data: cq.QueueData, tab: str) -> list[str]:
    return [r.no for r in data.rows[tab]]


# ---------------------------------------------------------------- the queue


def test_queue_holds_approved_orders_urgent_first_then_oldest_approval(world: World) -> None:
    w = world
    late, _ = to_callback(w, "垃圾清运不及时，小区门口堆了三天", approve_at="2025-01-24T15:30:00")
    early, _ = to_callback(w, "围堤道占道经营，摊贩堵住盲道", approve_at="2025-01-24T14:00:00")
    urgent, _ = to_callback(
        w, "井盖丢失，有行人摔伤的危险", approve_at="2025-01-24T15:40:00", urgency="urgent"
    )
    anon, _ = to_callback(w, "公园厕所无人打扫，气味很大", anonymous=True)  # TTR 19(3)
    quiet, _ = to_callback(w, "楼下饭店油烟扰民，晚上排风很吵", no_reply=True)  # T24 16
    assert ticket(w, anon).status == ticket(w, quiet).status == "closed"
    data = cq.load_queue(w.at("2025-01-24T16:00:00").as_("cb1"))
    assert nos(data, "due") == [urgent, early, late]
    assert nos(data, "retry") == [] and data.counts["due"] == 3
    row = data.rows["due"][1]
    assert isinstance(row, cq.QueueRow)
    assert row.caller == "王** 138****5678" and "13812345678" not in repr(data)
    assert row.units == "河西区城市管理委员会" and row.approved_iso == "2025-01-24T14:00:00+08:00"
    assert (row.attempts, row.retry_iso, row.rehandled) == (0, None, False)
    refused(w, lambda: cq.load_queue(w.as_("cg")), "无权查看回访队列", PermissionDenied)
    refused(w, lambda: cq.load_queue(w.as_("agent1")), "仅限回访员、督办管理", PermissionDenied)
    assert nos(cq.load_queue(w.as_("sup1")), "due") == [urgent, early, late]


def test_satisfied_closes_the_order(world: World) -> None:
    w = world
    no, _ = to_callback(w)
    out = cq.record_result(
        w.at("2025-01-24T16:00:00").as_("cb1"),
        no,
        reached=True,
        satisfaction="satisfied",
        solved=True,
        words="路灯已经修好了，谢谢",
    )
    t = ticket(w, no)
    assert (out.status, t.status, t.satisfaction, t.solved) == ("closed", "closed", "satisfied", True)
    assert "满意" in out.text and events_of(w, no)[-1] == "callback"
    assert no not in nos(cq.load_queue(w.as_("cb1")), "due")
    refused(
        w,
        lambda: cq.record_result(w.as_("cb1"), no, reached=True, satisfaction="satisfied", solved=True),
        "不在待回访状态",
    )


def test_the_form_needs_solved_and_the_reason_of_dissatisfaction(world: World) -> None:
    w = world
    no, _ = to_callback(w)
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    refused(w, lambda: cq.record_result(ctx, no, reached=True), "请选择满意度", InvalidInput)
    refused(
        w, lambda: cq.record_result(ctx, no, reached=True, satisfaction="satisfied"), "是否解决", InvalidInput
    )
    refused(
        w,
        lambda: cq.record_result(ctx, no, reached=True, satisfaction="dissatisfied", solved=False),
        "第二十条",
        InvalidInput,
    )
    refused(
        w,
        lambda: cq.record_result(w.as_("agent1"), no, reached=False),
        "无权记录回访",
        PermissionDenied,
    )


def test_not_reached_waits_for_the_retry_and_closes_after_the_limit(world: World) -> None:
    w = world
    no, _ = to_callback(w)
    out = cq.record_result(w.at("2025-01-24T16:00:00").as_("cb1"), no, reached=False)
    assert "第1次" in out.text and "16:30" in out.text
    data = cq.load_queue(w.at("2025-01-24T16:10:00").as_("cb1"))
    assert nos(data, "due") == [] and nos(data, "retry") == [no]
    row = data.rows["retry"][0]
    assert isinstance(row, cq.QueueRow)
    assert (row.attempts, row.retry_iso) == (1, "2025-01-24T16:30:00+08:00")
    assert row.last_attempt_iso == "2025-01-24T16:00:00+08:00"
    data = cq.load_queue(w.at("2025-01-24T16:30:00").as_("cb1"))
    assert nos(data, "due") == [no]  # the retry time has come: back in the work list
    cq.record_result(w.as_("cb1"), no, reached=False, retry="tomorrow")
    row = cq.load_queue(w.as_("cb1")).rows["retry"][0]
    assert isinstance(row, cq.QueueRow) and (row.attempts, row.retry_iso) == (2, "2025-01-25T09:00:00+08:00")
    refused(w, lambda: cq.record_result(w.as_("cb1"), no, reached=False, retry="never"), "未知", InvalidInput)
    out = cq.record_result(w.at("2025-01-25T09:05:00").as_("cb1"), no, reached=False)
    t = ticket(w, no)
    assert (t.status, t.satisfaction, t.callback_attempts) == ("closed", None, 3)
    assert "3次未联系上" in out.text


def test_first_dissatisfied_rehandles_once_without_extension_then_closes(world: World) -> None:
    w = world
    no, aid = to_callback(w)
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    cq.record_result(ctx, no, reached=False)
    cq.record_result(w.at("2025-01-24T17:00:00").as_("cb1"), no, reached=False)
    view = cq.callback_view(w.as_("cb1"), no)
    assert view.can_rehandle and "不得延期" in view.rehandle_note and view.attempts == 2
    assert view.exempt_reasons == {"policy": "对政策不满且已耐心解释", "unreasonable": "不合理诉求未得到满足"}
    out = cq.record_result(
        w.as_("cb1"),
        no,
        reached=True,
        satisfaction="dissatisfied",
        solved=False,
        reason="unsolved",
        rehandle=True,
        words="路灯还是不亮",
    )
    a = assignment(w, no)
    assert (out.status, a.status, a.rehandling, a.rehandles) == ("rehandling", "handling", True, 1)
    assert "重新办理" in out.text
    assert hd.allowed_actions(w.as_("cg"), aid)["extend"] is not None  # GZ 20: no extension
    hd.reply(w.at("2025-01-27T10:00:00").as_("cg"), aid, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), aid, approve=True)
    data = cq.load_queue(w.as_("cb1"))
    row = data.rows["due"][0]
    assert isinstance(row, cq.QueueRow) and row.no == no
    assert (row.rehandled, row.attempts, row.approved_iso) == (True, 0, "2025-01-27T10:00:00+08:00")
    # a new round counts its own attempts: two unreached do not close it
    cq.record_result(w.as_("cb1"), no, reached=False)
    cq.record_result(w.at("2025-01-27T11:00:00").as_("cb1"), no, reached=False)
    assert ticket(w, no).status == "callback"
    view = cq.callback_view(w.at("2025-01-27T12:00:00").as_("cb1"), no)
    assert not view.can_rehandle and "直接办结" in view.rehandle_note and view.rehandled
    refused(
        w,
        lambda: cq.record_result(
            w.as_("cb1"),
            no,
            reached=True,
            satisfaction="dissatisfied",
            solved=False,
            reason="unsolved",
            rehandle=True,
        ),
        "不能再次退回重办",
    )
    cq.record_result(
        w.as_("cb1"), no, reached=True, satisfaction="dissatisfied", solved=False, reason="unsolved"
    )
    t = ticket(w, no)
    assert (t.status, t.dissatisfied_count) == ("closed", 2)


def test_dissatisfied_without_rehandling_closes(world: World) -> None:
    w = world
    no, _ = to_callback(w)
    cq.record_result(
        w.at("2025-01-24T16:00:00").as_("cb1"),
        no,
        reached=True,
        satisfaction="dissatisfied",
        solved=False,
        reason="policy",
        rehandle=False,
    )
    t = ticket(w, no)
    assert (t.status, t.dissatisfied_reason) == ("closed", "policy")


def test_the_view_shows_the_caller_in_full_and_audits_it(world: World) -> None:
    w = world
    no, _ = to_callback(w)
    view = cq.callback_view(w.at("2025-01-24T16:00:00").as_("cb1"), no)
    assert (view.caller_name, view.caller_phone, view.kind) == ("王先生", "13812345678", "callback")
    assert view.replies and view.replies[0].reply == GOOD_REPLY
    assert [x.text for x in view.script][1].startswith("承办单位是否与您联系过")
    assert events_of(w, no)[-1] == "pii_viewed"
    sup = cq.callback_view(w.as_("sup1"), no)  # a supervisor's view is a reveal with the reason
    assert sup.caller_phone == "13812345678" and events_of(w, no)[-1] == "pii_revealed"
    refused(w, lambda: cq.callback_view(w.as_("cg"), no), "无权回访", PermissionDenied)


# ---------------------------------------------------------------- a new question (TTR 20)


def test_a_new_question_becomes_a_linked_order(world: World) -> None:
    w = world
    no, _ = to_callback(w, confidential=True)
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    child = cq.new_question(ctx, no, text="另外小区门口的井盖松动，踩上去会响", type_="help")
    with read_session(w.engine) as s:
        parent = s.exec(select(Ticket).where(Ticket.no == no)).one()
        t = s.exec(select(Ticket).where(Ticket.no == child.no)).one()
        ev = list(s.exec(select(Event).where(Event.ticket_id == t.id).order_by(col(Event.id))))
    assert (t.parent_id, t.status, t.type, t.caller_phone, t.confidential) == (
        parent.id,
        "new",
        "help",
        "13812345678",
        True,
    )
    assert [e.kind for e in ev] == ["created", "new_question"] and ev[1].payload["parent"] == no
    assert events_of(w, no)[-1] == "new_question"
    assert cq.linked_orders(ctx, no) == [child.no]
    assert ticket(w, no).status == "callback"  # the callback itself is still to be recorded
    refused(w, lambda: cq.new_question(ctx, no, text="短"), "过短", InvalidInput)
    refused(
        w, lambda: cq.new_question(w.as_("agent1"), no, text="井盖松动踩上去会响"), "无权", PermissionDenied
    )
    fresh = create_ticket(
        w.as_("agent1"), IntakeForm(type="help", channel="phone", text="楼道灯坏了一个月")
    ).no
    refused(w, lambda: cq.new_question(ctx, fresh, text="井盖松动踩上去会响"), "尚未办结回访")


# ---------------------------------------------------------------- the quality sample (TTR 17)


def test_the_sample_is_ten_percent_and_reproducible(world: World) -> None:
    w = world
    add_kb(w)
    day = answered(w, 12, at="2025-01-23T10:00:00")
    other = answered(w, 1, at="2025-01-24T11:00:00")
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    first = cq.sample_answered(ctx, date(2025, 1, 23))
    assert len(first) == 2 and set(first) <= set(day)  # ⌈12 × 10%⌉
    assert cq.sample_answered(ctx, date(2025, 1, 23)) == first
    assert cq.pick_sample(list(reversed(day)), date(2025, 1, 23), 10) == first  # order-free
    assert cq.sample_answered(ctx, date(2025, 1, 23), seed="另一个种子") != first or len(day) < 3
    assert cq.sample_answered(ctx, date(2025, 1, 24)) == other  # a day of one consult still gets one
    assert cq.sample_answered(ctx, date(2025, 1, 23), percent=100) == cq.pick_sample(
        day, date(2025, 1, 23), 100
    )
    refused(w, lambda: cq.sample_answered(ctx, date(2025, 1, 23), percent=101), "0 至 100", InvalidInput)
    refused(w, lambda: cq.sample_answered(w.as_("cg"), date(2025, 1, 23)), "无权", PermissionDenied)
    data = cq.load_queue(ctx)
    assert sorted(nos(data, "sample")) == sorted(first + other) and data.counts["sample"] == 3


def test_a_quality_callback_is_recorded_once_on_a_sampled_consult(world: World) -> None:
    w = world
    add_kb(w)
    day = answered(w, 12, at="2025-01-23T10:00:00")
    ctx = w.at("2025-01-24T16:00:00").as_("cb1")
    picked = cq.sample_answered(ctx, date(2025, 1, 23))
    no, no2 = picked
    outside = next(x for x in day if x not in picked)
    view = cq.callback_view(ctx, no)
    assert (view.kind, view.caller_phone, view.kb_title) == (
        "quality",
        ticket(w, no).caller_phone,
        "城乡居民医保缴费标准",
    )
    assert events_of(w, no)[-1] == "pii_revealed" and not view.can_rehandle
    refused(w, lambda: cq.callback_view(ctx, outside), "未被随机抽中")
    refused(w, lambda: cq.record_quality_result(ctx, outside, reached=False), "未被随机抽中")
    cq.record_quality_result(
        ctx, no, reached=True, satisfaction="basically_satisfied", solved=True, words="说得清楚"
    )
    t = ticket(w, no)
    assert (t.status, t.satisfaction, t.solved, iso(t.rated_at)) == (
        "answered",
        "basically_satisfied",
        True,
        "2025-01-24T16:00:00+08:00",
    )
    assert events_of(w, no)[-1] == "quality_callback"
    refused(w, lambda: cq.record_quality_result(ctx, no, reached=False), "已完成")
    for _ in range(3):
        cq.record_quality_result(ctx, no2, reached=False)
    refused(w, lambda: cq.record_quality_result(ctx, no2, reached=False), "已完成")
    rows = {r.no: r for r in cq.load_queue(ctx).rows["sample"] if isinstance(r, cq.SampleRow)}
    assert (rows[no].state, rows[no].done) == ("基本满意", True)
    assert (rows[no2].state, rows[no2].done) == ("3次未联系上", True)
    refused(
        w,
        lambda: cq.record_quality_result(w.as_("agent1"), no, reached=False),
        "无权",
        PermissionDenied,
    )


@pytest.mark.parametrize("policy", ["guangzhou", "taian", "tianjin-2015"])
def test_every_profile_has_a_queue(make_world: Any, policy: str) -> None:
    w = make_world(policy)
    no, _ = to_callback(w)
    data = cq.load_queue(w.at("2025-01-27T16:00:00").as_("cb1"))
    assert nos(data, "due") == [no] and data.sample_percent == 10 and data.max_attempts == 3
    view = cq.callback_view(w.as_("cb1"), no)
    assert view.script and view.can_rehandle
