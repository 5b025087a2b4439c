"""One call, one commit (services.call) and intake drafts (services.drafts), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from hotline_tui.db import read_session
from hotline_tui.errors import HotlineError, InvalidInput, PermissionDenied, RuleViolation
from hotline_tui.models import Assignment, Event, Ticket
from hotline_tui.services.admin import deactivate_unit
from hotline_tui.services.call import answer_call, record_call, refer_call
from hotline_tui.services.drafts import discard_draft, load_draft, save_draft
from hotline_tui.services.intake import IntakeForm
from hotline_tui.services.kb import create_entry
from tests.conftest import World


def form(text: str = "友谊路路灯连续三晚不亮", type_: str = "complaint", **kw: object) -> IntakeForm:
    return IntakeForm(type=type_, channel="phone", text=text, caller_phone="13812345678", **kw)  # type: ignore[arg-type]


def counts(w: World) -> tuple[int, int, int]:
    with read_session(w.engine) as s:
        return (
            len(s.exec(select(Ticket)).all()),
            len(s.exec(select(Assignment)).all()),
            len(s.exec(select(Event).where(col(Event.ticket_id).is_not(None))).all()),
        )


def test_record_and_dispatch_in_one_commit(world: World) -> None:
    out = record_call(world.as_("agent1"), form(), units=["HX-CG", "SW"])
    assert out.status == "dispatched" and len(out.nos) == 1
    assert [name for name, _ in out.due] == ["河西区城市管理委员会", "市水务集团"]
    assert "办理时限至 2月7日" in out.message  # TTR 11: 5 WD over the Spring Festival
    with read_session(world.engine) as s:
        roles = [a.role for a in s.exec(select(Assignment).order_by(col(Assignment.id)))]
        kinds = [e.kind for e in s.exec(select(Event).where(col(Event.ticket_id).is_not(None)))]
    assert roles == ["lead", "co"]  # TA 14(2); GZ 15(3)
    assert kinds == ["created", "dispatched"]


def test_refused_dispatch_leaves_no_half_saved_ticket(world: World) -> None:
    deactivate_unit(world.as_("admin1"), "SW")
    before = counts(world)
    with pytest.raises(InvalidInput, match="已停用"):
        record_call(world.as_("agent1"), form(), units=["SW"])
    with pytest.raises(HotlineError):
        record_call(world.as_("agent1"), form(), units=["NOPE"])
    assert counts(world) == before  # nothing of the call was stored


def test_without_units_the_ticket_waits_for_dispatch(world: World) -> None:
    out = record_call(world.as_("agent1"), form())
    assert out.status == "new" and "待派单" in out.message and out.due == ()


def test_split_makes_one_ticket_per_unit_and_requires_each_part(world: World) -> None:
    agent = world.as_("agent1")
    with pytest.raises(InvalidInput, match="写明交给 SW"):
        record_call(agent, form("停水；路灯不亮", type_="help"), split=[("HX-CG", "路灯不亮"), ("SW", " ")])
    with pytest.raises(InvalidInput, match="至少需要两个"):
        record_call(agent, form("小区停水两天", type_="help"), split=[("SW", "停水")])
    assert counts(world)[0] == 0
    out = record_call(
        agent, form("停水；路灯不亮", type_="help"), split=[("HX-CG", "路灯不亮"), ("SW", "停水")]
    )
    assert len(out.nos) == 2  # T24 15 第二款
    with read_session(world.engine) as s:
        child = s.exec(select(Ticket).where(Ticket.no == out.nos[1])).one()
    assert child.text == "停水" and child.caller_phone == "13812345678"


def test_trainee_records_but_does_not_dispatch(world: World) -> None:
    from hotline_tui.services.admin import add_user
    from hotline_tui.services.core import SYSTEM, Ctx

    add_user(Ctx(world.engine, world.policy, SYSTEM, world.clock), "tr1", "trainee", None)
    with pytest.raises(PermissionDenied):
        record_call(world.as_("tr1"), form(), units=["SW"])
    assert record_call(world.as_("tr1"), form()).status == "new"


def test_answer_call_needs_a_consult_and_a_current_entry(world: World) -> None:
    from hotline_tui.services.admin import add_user
    from hotline_tui.services.core import SYSTEM, Ctx

    add_user(Ctx(world.engine, world.policy, SYSTEM, world.clock), "kbc", "kb_editor", "CENTRE")
    kbc = world.at("2025-01-10T09:00:00").as_("kbc")
    current = create_entry(
        kbc, title="公积金提取材料", body="身份证和银行卡。", unit="CENTRE", valid_from="2024-01-01"
    ).entry_id
    later = create_entry(
        kbc, title="提取新规", body="线上办理。", unit="CENTRE", valid_from="2025-03-01"
    ).entry_id
    world.at("2025-01-24T16:00:00")
    agent = world.as_("agent1")
    with pytest.raises(RuleViolation, match="只有咨询类"):  # T24 15: other types are dispatched
        answer_call(agent, form("公积金提取要什么材料"), current)
    with pytest.raises(RuleViolation, match="才生效"):
        answer_call(agent, form("公积金提取要什么材料", type_="consult"), later)
    assert counts(world)[0] == 0
    out = answer_call(agent, form("公积金提取要什么材料", type_="consult"), current)
    assert out.status == "answered" and current in out.message


def test_refer_call_checks_the_emergency_number(world: World) -> None:
    agent = world.as_("agent1")
    with pytest.raises(InvalidInput, match="须转接"):  # T24 13(1)
        refer_call(agent, form("着火了", type_="help"), "emergency", "12345")
    out = refer_call(agent, form("着火了", type_="help"), "emergency", "119")  # a few words suffice
    assert out.status == "referred" and "已转接 119" in out.message
    out = refer_call(agent, form("我要起诉单位", type_="consult"), "legal_procedure")
    assert out.status == "referred" and "已告知" in out.message  # T24 13(2): the profile's route


def test_drafts_per_user_replace_and_discard(world: World) -> None:
    agent, other = world.as_("agent1"), world.as_("disp1")
    assert load_draft(agent) is None
    save_draft(agent, {"text": "第一版", "phone": "138"})
    save_draft(
        agent, {"text": "第二版\n第二行", "phone": "13812345678", "units": ["SW"], "confidential": True}
    )
    save_draft(other, {"text": "别人的"})
    d = load_draft(agent)
    assert d is not None and not d.empty
    assert d.data == {"text": "第二版\n第二行", "phone": "13812345678", "units": ["SW"], "confidential": True}
    assert d.updated_at.isoformat() == "2025-01-24T16:00:00+08:00"
    assert discard_draft(agent) is True and load_draft(agent) is None
    assert discard_draft(agent) is False
    assert load_draft(other) is not None  # one user's discard leaves the others'


def test_draft_keeps_what_the_store_can_hold(world: World) -> None:
    agent = world.as_("agent1")
    save_draft(agent, {"text": "a\x00b\ud800c\x1b[31m\u202ed", "n": 2**80, 3: "x", "obj": object()})
    d = load_draft(agent)
    assert d is not None
    assert d.data["text"] == "abc[31md"  # NUL, a lone surrogate, ESC and a bidi override dropped
    assert d.data["n"] is None and d.data["obj"] is None and 3 not in d.data
